/*
 * Pool: host memory with a header that records the tag, size and pool kind, so frees are
 * checked (double free, wrong tag, wrong IRQL) and outstanding allocations are counted
 * for leak checks. Allocations are 64-byte aligned (so POOL_FLAG_CACHE_ALIGNED is free).
 *
 * IRQL: non-paged allocations and all frees <= DISPATCH_LEVEL, paged allocations
 * <= APC_LEVEL; else bug check 0xC2 BAD_POOL_CALLER (P1 0x08 allocate, 0x09 free; P2 the
 * IRQL, P3 the pool type, P4 the size or address).
 *
 * Fault injection (wdm_pool_fail_nth) makes the n-th allocation from now return NULL, so
 * tests can walk every allocation failure path the way libuv's loop-oom test does; the
 * machine's fault plan ("pool-fail", docs/faults.md) is asked as well, per machine.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "wdm/wdm_internal.h"

#define POOL_HEADER 64u
#define POOL_MAGIC_LIVE 0x4C4F4F50u   /* "POOL" */
#define POOL_MAGIC_FREED 0x45455246u  /* "FREE" */
#define UNINITIALIZED_FILL 0xCD       /* makes reads of uninitialised pool visible */
#define QUARANTINE 64                 /* recent frees kept to catch double frees */
#define POOL_TAG_NONE 0x656E6F4Eu     /* 'None', the tag of untagged allocations */

typedef struct pool_header {
    uint32_t magic;
    ULONG tag;
    size_t size;
    bool paged;
} pool_header;

_Static_assert(sizeof(pool_header) <= POOL_HEADER, "pool header fits its slot");

static atomic_uint_fast64_t n_alloc, n_free, n_fail, bytes_out;
static atomic_uint_fast64_t fail_countdown;

void wdm_pool_fail_nth(uint64_t n)
{
    atomic_store(&fail_countdown, n);
}

bool wdm_pool_should_fail(void)
{
    uint_fast64_t left = atomic_load(&fail_countdown);
    while (left != 0) {
        if (atomic_compare_exchange_weak(&fail_countdown, &left, left - 1)) {
            if (left == 1)
                return true;
            break;
        }
    }
    /* The calling thread's machine's fault plan ("pool-fail") may fail it too. */
    wdfdma_machine *m = mach_current();
    return m != NULL && mach_fault_fire(m, "pool-fail", NULL);
}

void wdm_pool_get_stats(wdm_pool_stats *out)
{
    out->allocations = atomic_load(&n_alloc);
    out->frees = atomic_load(&n_free);
    out->failures = atomic_load(&n_fail);
    out->outstanding = out->allocations - out->frees;
    out->bytes_outstanding = atomic_load(&bytes_out);
}

static bool pool_type_paged(POOL_TYPE type)
{
    return (type & 1) != 0 && type != NonPagedPoolMustSucceed;
}

static void check_alloc_irql(bool paged, ULONG type, SIZE_T bytes)
{
    uint8_t irql = mach_irql();
    if (irql > (paged ? APC_LEVEL : DISPATCH_LEVEL))
        mach_bugcheck(BAD_POOL_CALLER, 0x08, irql, type, bytes,
                      "BAD_POOL_CALLER: %s pool allocation of %zu bytes at IRQL %u",
                      paged ? "paged" : "non-paged", (size_t)bytes, irql);
}

static PVOID pool_alloc(bool paged, ULONG type, SIZE_T bytes, ULONG tag, bool zero)
{
    check_alloc_irql(paged, type, bytes);
    void *base = NULL;
    if (bytes > SIZE_MAX - POOL_HEADER || wdm_pool_should_fail() ||
        posix_memalign(&base, POOL_HEADER, POOL_HEADER + (bytes ? bytes : 1)) != 0) {
        atomic_fetch_add(&n_fail, 1);
        return NULL;
    }
    pool_header *h = base;
    h->magic = POOL_MAGIC_LIVE;
    h->tag = tag;
    h->size = bytes;
    h->paged = paged;
    PVOID p = (char *)base + POOL_HEADER;
    memset(p, zero ? 0 : UNINITIALIZED_FILL, bytes);
    atomic_fetch_add(&n_alloc, 1);
    atomic_fetch_add(&bytes_out, bytes);
    return p;
}

PVOID ExAllocatePool2(POOL_FLAGS Flags, SIZE_T NumberOfBytes, ULONG Tag)
{
    bool paged = (Flags & POOL_FLAG_PAGED) != 0;
    bool nonpaged = (Flags & (POOL_FLAG_NON_PAGED | POOL_FLAG_NON_PAGED_EXECUTE)) != 0;
    if (paged == nonpaged)
        return NULL;   /* exactly one pool kind is required */
    PVOID p = pool_alloc(paged, paged ? PagedPool : NonPagedPoolNx, NumberOfBytes, Tag,
                         (Flags & POOL_FLAG_UNINITIALIZED) == 0);
    if (p == NULL && (Flags & POOL_FLAG_RAISE_ON_FAILURE) != 0)
        mach_bugcheck(KMODE_EXCEPTION_NOT_HANDLED, (uint64_t)(ULONG)STATUS_INSUFFICIENT_RESOURCES,
                      0, NumberOfBytes, Tag,
                      "ExAllocatePool2 with POOL_FLAG_RAISE_ON_FAILURE failed (%zu bytes): "
                      "the exception it raises is not handled here", (size_t)NumberOfBytes);
    return p;
}

PVOID ExAllocatePool3(POOL_FLAGS Flags, SIZE_T NumberOfBytes, ULONG Tag, PVOID ExtendedParameters,
                      ULONG ExtendedParametersCount)
{
    (void)ExtendedParameters;
    (void)ExtendedParametersCount;
    return ExAllocatePool2(Flags, NumberOfBytes, Tag);
}

PVOID ExAllocatePoolWithTag(POOL_TYPE PoolType, SIZE_T NumberOfBytes, ULONG Tag)
{
    return pool_alloc(pool_type_paged(PoolType), (ULONG)PoolType, NumberOfBytes, Tag, false);
}

PVOID ExAllocatePoolUninitialized(POOL_TYPE PoolType, SIZE_T NumberOfBytes, ULONG Tag)
{
    return pool_alloc(pool_type_paged(PoolType), (ULONG)PoolType, NumberOfBytes, Tag, false);
}

PVOID ExAllocatePoolZero(POOL_TYPE PoolType, SIZE_T NumberOfBytes, ULONG Tag)
{
    return pool_alloc(pool_type_paged(PoolType), (ULONG)PoolType, NumberOfBytes, Tag, true);
}

PVOID ExAllocatePoolWithTagPriority(POOL_TYPE PoolType, SIZE_T NumberOfBytes, ULONG Tag,
                                    EX_POOL_PRIORITY Priority)
{
    (void)Priority;
    return ExAllocatePoolWithTag(PoolType, NumberOfBytes, Tag);
}

PVOID ExAllocatePool(POOL_TYPE PoolType, SIZE_T NumberOfBytes)
{
    return ExAllocatePoolWithTag(PoolType, NumberOfBytes, POOL_TAG_NONE);
}

/* Freed blocks wait in a small ring before going back to the host allocator, so a
 * double free of a recent block still finds the FREED mark instead of reused memory. */
static void quarantine(pool_header *h)
{
    static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    static pool_header *ring[QUARANTINE];
    static unsigned next;
    pthread_mutex_lock(&lock);
    pool_header *evicted = ring[next];
    ring[next] = h;
    next = (next + 1) % QUARANTINE;
    pthread_mutex_unlock(&lock);
    free(evicted);
}

/* Checks and frees; `tag` 0 accepts any tag (ExFreePool). */
static void pool_free(PVOID P, ULONG tag)
{
    uint8_t irql = mach_irql();
    if (irql > DISPATCH_LEVEL)
        mach_bugcheck(BAD_POOL_CALLER, 0x09, irql, 0, (uint64_t)(uintptr_t)P,
                      "BAD_POOL_CALLER: pool free of %p at IRQL %u", P, irql);
    if (P == NULL || ((uintptr_t)P & (POOL_HEADER - 1)) != 0)
        mach_bugcheck(BAD_POOL_CALLER, 0x46, (uint64_t)(uintptr_t)P, 0, 0,
                      "BAD_POOL_CALLER: free of %p, which is not a pool allocation", P);
    pool_header *h = (pool_header *)(void *)((char *)P - POOL_HEADER);
    if (h->magic == POOL_MAGIC_FREED)
        mach_bugcheck(BAD_POOL_CALLER, 0x07, h->tag, (uint64_t)(uintptr_t)P, 0,
                      "BAD_POOL_CALLER: double free of pool %p", P);
    if (h->magic != POOL_MAGIC_LIVE)
        mach_bugcheck(BAD_POOL_CALLER, 0x46, (uint64_t)(uintptr_t)P, 0, 0,
                      "BAD_POOL_CALLER: free of %p, which is not a pool allocation", P);
    if (tag != 0 && tag != h->tag)
        mach_bugcheck(BAD_POOL_CALLER, 0x0A, (uint64_t)(uintptr_t)P, h->tag, tag,
                      "BAD_POOL_CALLER: pool %p freed with tag %#x, allocated with %#x", P,
                      (unsigned)tag, (unsigned)h->tag);
    h->magic = POOL_MAGIC_FREED;
    atomic_fetch_add(&n_free, 1);
    atomic_fetch_sub(&bytes_out, h->size);
    quarantine(h);
}

VOID ExFreePool(PVOID P)
{
    pool_free(P, 0);
}

VOID ExFreePoolWithTag(PVOID P, ULONG Tag)
{
    pool_free(P, Tag);
}
