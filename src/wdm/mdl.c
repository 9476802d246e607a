/*
 * Memory descriptor lists. An MDL describes a virtually contiguous buffer; once locked its
 * PFN array (after the header) holds the machine frames the placement policy gave each
 * page. Host memory never moves: the "system address" of an MDL is the buffer's own host
 * address.
 *
 *   built ──MmProbeAndLockPages──> locked ──MmUnlockPages──> built ──IoFreeMdl──> gone
 *   built ──MmBuildMdlForNonPagedPool──> nonpaged (frames held until IoFreeMdl)
 *
 * Small MDLs (up to LOOKASIDE_PAGES pages) come from a lookaside list, so the I/O
 * manager's per-request MDL costs no allocation once warm. MDLs are host memory, not
 * pool, so pool statistics show only what drivers allocate; MDLs are counted on their own
 * (wdm_mdl_outstanding) and allocation failures still follow the pool's fault injection.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "wdm/wdm_internal.h"

#define LOOKASIDE_PAGES 32u
/* The lookaside keeps freed MDLs up to the peak ever outstanding (wdm_lookaside_depth),
 * at least LOOKASIDE_DEPTH and at most LOOKASIDE_DEPTH_MAX (304 bytes an MDL). */
#define LOOKASIDE_DEPTH 64u
#define LOOKASIDE_DEPTH_MAX 16384u
#define LOOKASIDE_BYTES (sizeof(MDL) + LOOKASIDE_PAGES * sizeof(PFN_NUMBER))
/* MDL_INTERNAL marks an MDL whose frames the kernel locked for MmBuildMdlForNonPagedPool. */
#define MDL_HOLDS_POOL_FRAMES MDL_INTERNAL
/* Windows 7 and later describe up to 4 GiB - PAGE_SIZE in one MDL (IoAllocateMdl's
 * documented limit); the CSHORT Size field then wraps, as it does on Windows, and nothing
 * here reads it back. */
#define MDL_MAX_LENGTH (0xFFFFFFFFu - PAGE_SIZE + 1)
#define MDL_MAX_PAGES (((SIZE_T)4 << 30) / PAGE_SIZE)

_Static_assert(sizeof(mach_pfn) == sizeof(PFN_NUMBER), "PFN arrays are shared with the machine");

static atomic_uint_fast64_t mdls_outstanding;
static wdm_lookaside_depth lookaside_cap;
static pthread_mutex_t lookaside_lock = PTHREAD_MUTEX_INITIALIZER;
static PMDL lookaside;
static unsigned lookaside_depth;

uint64_t wdm_mdl_outstanding(void)
{
    return atomic_load(&mdls_outstanding);
}

unsigned wdm_mdl_lookaside_depth(void)
{
    pthread_mutex_lock(&lookaside_lock);
    unsigned depth = lookaside_depth;
    pthread_mutex_unlock(&lookaside_lock);
    return depth;
}

static PMDL lookaside_pop(void)
{
    pthread_mutex_lock(&lookaside_lock);
    PMDL mdl = lookaside;
    if (mdl != NULL) {
        lookaside = mdl->Next;
        lookaside_depth--;
    }
    pthread_mutex_unlock(&lookaside_lock);
    return mdl;
}

static bool lookaside_push(PMDL mdl)
{
    pthread_mutex_lock(&lookaside_lock);
    bool kept = wdm_lookaside_keeps(&lookaside_cap, lookaside_depth, LOOKASIDE_DEPTH,
                                    LOOKASIDE_DEPTH_MAX);
    if (kept) {
        mdl->Next = lookaside;
        lookaside = mdl;
        lookaside_depth++;
    }
    pthread_mutex_unlock(&lookaside_lock);
    return kept;
}

SIZE_T MmSizeOfMdl(PVOID Base, SIZE_T Length)
{
    return sizeof(MDL) + sizeof(PFN_NUMBER) * ADDRESS_AND_SIZE_TO_SPAN_PAGES(Base, Length);
}

PMDL MmCreateMdl(PMDL MemoryDescriptorList, PVOID Base, SIZE_T Length)
{
    if (MemoryDescriptorList == NULL) {
        MemoryDescriptorList = ExAllocatePool2(POOL_FLAG_NON_PAGED, MmSizeOfMdl(Base, Length),
                                               0x206C644Du /* 'Mdl ' */);
        if (MemoryDescriptorList == NULL)
            return NULL;
    }
    MmInitializeMdl(MemoryDescriptorList, Base, Length);
    return MemoryDescriptorList;
}

/* Attach a new MDL to an IRP: the first buffer, or the end of its chain (secondary). */
static void attach_to_irp(PIRP irp, PMDL mdl, BOOLEAN secondary)
{
    if (!secondary || irp->MdlAddress == NULL) {
        irp->MdlAddress = mdl;
        return;
    }
    PMDL last = irp->MdlAddress;
    while (last->Next != NULL)
        last = last->Next;
    last->Next = mdl;
}

PMDL IoAllocateMdl(PVOID VirtualAddress, ULONG Length, BOOLEAN SecondaryBuffer,
                   BOOLEAN ChargeQuota, PIRP Irp)
{
    (void)ChargeQuota;
    wdm_check_irql_max(DISPATCH_LEVEL, "IoAllocateMdl");
    SIZE_T pages = ADDRESS_AND_SIZE_TO_SPAN_PAGES(VirtualAddress, Length);
    if (Length == 0 || Length > MDL_MAX_LENGTH || pages > MDL_MAX_PAGES)
        return NULL;

    if (wdm_pool_should_fail())
        return NULL;
    PMDL mdl = NULL;
    CSHORT fixed = 0;
    if (pages <= LOOKASIDE_PAGES) {
        mdl = lookaside_pop();
        if (mdl == NULL)
            mdl = malloc(LOOKASIDE_BYTES);
        fixed = MDL_ALLOCATED_FIXED_SIZE;
    } else {
        mdl = malloc(MmSizeOfMdl(VirtualAddress, Length));
    }
    if (mdl == NULL)
        return NULL;
    wdm_lookaside_in_flight(&lookaside_cap, atomic_fetch_add(&mdls_outstanding, 1) + 1);
    MmInitializeMdl(mdl, VirtualAddress, Length);
    mdl->MdlFlags = fixed;
    if (Irp != NULL)
        attach_to_irp(Irp, mdl, SecondaryBuffer);
    return mdl;
}

static void release_frames(wdfdma_machine *m, PMDL mdl)
{
    mach_mem_unlock(m, (const mach_pfn *)MmGetMdlPfnArray(mdl), wdm_mdl_pages(mdl));
}

VOID IoFreeMdl(PMDL Mdl)
{
    wdm_check_irql_max(DISPATCH_LEVEL, "IoFreeMdl");
    if ((Mdl->MdlFlags & (MDL_PAGES_LOCKED | MDL_HOLDS_POOL_FRAMES)) != 0) {
        wdfdma_machine *m = wdm_machine("IoFreeMdl");
        if ((Mdl->MdlFlags & MDL_PAGES_LOCKED) != 0)
            mach_report(m, "IoFreeMdl", "MDL %p freed with its pages still locked "
                        "(MmUnlockPages missing); unlocking them", (void *)Mdl);
        release_frames(m, Mdl);
    }
    atomic_fetch_sub(&mdls_outstanding, 1);
    if ((Mdl->MdlFlags & MDL_ALLOCATED_FIXED_SIZE) != 0 && lookaside_push(Mdl))
        return;
    free(Mdl);
}

static NTSTATUS lock_frames(wdfdma_machine *m, PMDL mdl)
{
    int rc = mach_mem_lock(m, MmGetMdlVirtualAddress(mdl), mdl->ByteCount, -1,
                           (mach_pfn *)MmGetMdlPfnArray(mdl));
    return rc == 0 ? STATUS_SUCCESS : STATUS_INSUFFICIENT_RESOURCES;
}

VOID MmBuildMdlForNonPagedPool(PMDL MemoryDescriptorList)
{
    PMDL mdl = MemoryDescriptorList;
    wdfdma_machine *m = wdm_machine("MmBuildMdlForNonPagedPool");
    wdm_check_irql_max(DISPATCH_LEVEL, "MmBuildMdlForNonPagedPool");
    if ((mdl->MdlFlags & MDL_HOLDS_POOL_FRAMES) != 0)
        release_frames(m, mdl);
    if (lock_frames(m, mdl) != STATUS_SUCCESS)
        mach_bugcheck(KMODE_EXCEPTION_NOT_HANDLED, (uint64_t)(ULONG)STATUS_INSUFFICIENT_RESOURCES,
                      (uint64_t)(uintptr_t)mdl, 0, 0,
                      "MmBuildMdlForNonPagedPool: the machine has no free frames");
    mdl->MdlFlags |= MDL_SOURCE_IS_NONPAGED_POOL | MDL_HOLDS_POOL_FRAMES;
    mdl->MappedSystemVa = MmGetMdlVirtualAddress(mdl);
}

NTSTATUS wdm_mdl_lock(PMDL mdl, LOCK_OPERATION op)
{
    wdfdma_machine *m = wdm_machine("MmProbeAndLockPages");
    wdm_check_irql_max(DISPATCH_LEVEL, "MmProbeAndLockPages");
    if ((mdl->MdlFlags & (MDL_PAGES_LOCKED | MDL_SOURCE_IS_NONPAGED_POOL | MDL_PARTIAL)) != 0)
        return STATUS_INVALID_PARAMETER;
    NTSTATUS status = lock_frames(m, mdl);
    if (!NT_SUCCESS(status))
        return status;
    mdl->MdlFlags |= MDL_PAGES_LOCKED;
    if (op != IoReadAccess)
        mdl->MdlFlags |= MDL_WRITE_OPERATION;
    return STATUS_SUCCESS;
}

/* Windows raises an exception when the pages cannot be locked and the caller's __except
 * handles it; there is no SEH here, so the failure is a bug check naming the cause. */
VOID MmProbeAndLockPages(PMDL MemoryDescriptorList, KPROCESSOR_MODE AccessMode,
                         LOCK_OPERATION Operation)
{
    (void)AccessMode;
    NTSTATUS status = wdm_mdl_lock(MemoryDescriptorList, Operation);
    if (status == STATUS_INVALID_PARAMETER)
        mach_bugcheck(KMODE_EXCEPTION_NOT_HANDLED, (uint64_t)(ULONG)STATUS_BREAKPOINT,
                      (uint64_t)(uintptr_t)MemoryDescriptorList, MemoryDescriptorList->MdlFlags,
                      0, "MmProbeAndLockPages: MDL %p is already locked, partial or built "
                      "for non-paged pool (flags %#x)", (void *)MemoryDescriptorList,
                      (unsigned)(USHORT)MemoryDescriptorList->MdlFlags);
    if (!NT_SUCCESS(status))
        mach_bugcheck(KMODE_EXCEPTION_NOT_HANDLED, (uint64_t)(ULONG)STATUS_INSUFFICIENT_RESOURCES,
                      (uint64_t)(uintptr_t)MemoryDescriptorList, 0, 0,
                      "MmProbeAndLockPages: no free frames for %u bytes (the exception "
                      "Windows raises is not handled here)", MemoryDescriptorList->ByteCount);
}

VOID MmUnlockPages(PMDL MemoryDescriptorList)
{
    PMDL mdl = MemoryDescriptorList;
    wdfdma_machine *m = wdm_machine("MmUnlockPages");
    wdm_check_irql_max(DISPATCH_LEVEL, "MmUnlockPages");
    if ((mdl->MdlFlags & MDL_PAGES_LOCKED) == 0)
        mach_bugcheck(0x4E, 0x7, MmGetMdlPfnArray(mdl)[0], 0, 0,
                      "PFN_LIST_CORRUPT: MmUnlockPages on MDL %p whose pages are not locked",
                      (void *)mdl);
    release_frames(m, mdl);
    memset(MmGetMdlPfnArray(mdl), 0, wdm_mdl_pages(mdl) * sizeof(PFN_NUMBER));
    mdl->MdlFlags &= (CSHORT)~(MDL_PAGES_LOCKED | MDL_WRITE_OPERATION | MDL_MAPPED_TO_SYSTEM_VA);
    mdl->MappedSystemVa = NULL;
}

PVOID MmMapLockedPagesSpecifyCache(PMDL MemoryDescriptorList, KPROCESSOR_MODE AccessMode,
                                   MEMORY_CACHING_TYPE CacheType, PVOID RequestedAddress,
                                   ULONG BugCheckOnFailure, ULONG Priority)
{
    (void)AccessMode;
    (void)CacheType;
    (void)RequestedAddress;
    (void)BugCheckOnFailure;
    (void)Priority;
    PMDL mdl = MemoryDescriptorList;
    mdl->MappedSystemVa = MmGetMdlVirtualAddress(mdl);
    mdl->MdlFlags |= MDL_MAPPED_TO_SYSTEM_VA;
    return mdl->MappedSystemVa;
}

PVOID MmMapLockedPages(PMDL MemoryDescriptorList, KPROCESSOR_MODE AccessMode)
{
    return MmMapLockedPagesSpecifyCache(MemoryDescriptorList, AccessMode, MmCached, NULL, TRUE,
                                        NormalPagePriority);
}

VOID MmUnmapLockedPages(PVOID BaseAddress, PMDL MemoryDescriptorList)
{
    (void)BaseAddress;
    MemoryDescriptorList->MdlFlags &= (CSHORT)~(MDL_MAPPED_TO_SYSTEM_VA |
                                                MDL_PARTIAL_HAS_BEEN_MAPPED);
    MemoryDescriptorList->MappedSystemVa = NULL;
}

/* A partial MDL shares its source's frames: it never locks or unlocks anything itself. */
VOID IoBuildPartialMdl(PMDL SourceMdl, PMDL TargetMdl, PVOID VirtualAddress, ULONG Length)
{
    PCHAR src_va = MmGetMdlVirtualAddress(SourceMdl);
    ULONG_PTR offset = (ULONG_PTR)((PCHAR)VirtualAddress - src_va);
    if ((PCHAR)VirtualAddress < src_va || offset >= SourceMdl->ByteCount)
        mach_bugcheck(KMODE_EXCEPTION_NOT_HANDLED, (uint64_t)(ULONG)STATUS_INVALID_PARAMETER,
                      (uint64_t)(uintptr_t)SourceMdl, (uint64_t)(uintptr_t)VirtualAddress, Length, "IoBuildPartialMdl: %p is outside the source MDL",
                      VirtualAddress);
    if (Length == 0)
        Length = SourceMdl->ByteCount - (ULONG)offset;
    if (offset + Length > SourceMdl->ByteCount)
        mach_bugcheck(KMODE_EXCEPTION_NOT_HANDLED, (uint64_t)(ULONG)STATUS_INVALID_PARAMETER,
                      (uint64_t)(uintptr_t)SourceMdl, (uint64_t)(uintptr_t)VirtualAddress, Length, "IoBuildPartialMdl: %u bytes at %p run past the source MDL",
                      Length, VirtualAddress);
    MmInitializeMdl(TargetMdl, VirtualAddress, Length);
    ULONG first = (ULONG)(((ULONG_PTR)PAGE_ALIGN(VirtualAddress) -
                           (ULONG_PTR)SourceMdl->StartVa) >> PAGE_SHIFT);
    memcpy(MmGetMdlPfnArray(TargetMdl), MmGetMdlPfnArray(SourceMdl) + first,
           wdm_mdl_pages(TargetMdl) * sizeof(PFN_NUMBER));
    TargetMdl->MdlFlags = (CSHORT)(MDL_PARTIAL |
                                   (SourceMdl->MdlFlags & (MDL_SOURCE_IS_NONPAGED_POOL |
                                                           MDL_WRITE_OPERATION |
                                                           MDL_IO_SPACE)));
    if ((SourceMdl->MdlFlags & (MDL_MAPPED_TO_SYSTEM_VA | MDL_SOURCE_IS_NONPAGED_POOL)) != 0)
        TargetMdl->MappedSystemVa = VirtualAddress;
}

PHYSICAL_ADDRESS MmGetPhysicalAddress(PVOID BaseAddress)
{
    PHYSICAL_ADDRESS pa;
    pa.QuadPart = (LONGLONG)mach_mem_physical(wdm_machine("MmGetPhysicalAddress"), BaseAddress);
    return pa;
}
