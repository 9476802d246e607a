/*
 * Physically contiguous memory (MmAllocateContiguousMemory*): the machine allocates
 * zeroed host memory backed by consecutive frames. The free calls carry no size, so each
 * allocation is remembered in the machine's kernel state.
 */
#include <stdlib.h>

#include "wdm/wdm_internal.h"
#include "wdm/wdm_state.h"

static PVOID contig_alloc(SIZE_T bytes, ULONGLONG highest, const char *ddi)
{
    wdfdma_machine *m = wdm_machine(ddi);
    wdm_check_irql_max(DISPATCH_LEVEL, ddi);
    if (bytes == 0)
        return NULL;
    wdm_contig *rec = malloc(sizeof(*rec));
    if (rec == NULL || wdm_pool_should_fail())
        goto err_free_rec;
    void *va = NULL;
    uint64_t pa = 0;
    uint64_t limit = highest == ~0ull ? 0 : highest + 1;
    if (mach_mem_alloc_contig(m, bytes, limit, PAGE_SIZE, &va, &pa) != 0)
        goto err_free_rec;
    wdm_machine_state *s = wdm_state(m);
    rec->va = va;
    rec->bytes = bytes;
    pthread_mutex_lock(&s->contig_lock);
    rec->next = s->contig;
    s->contig = rec;
    pthread_mutex_unlock(&s->contig_lock);
    return va;

err_free_rec:
    free(rec);
    return NULL;
}

PVOID MmAllocateContiguousMemory(SIZE_T NumberOfBytes, PHYSICAL_ADDRESS HighestAcceptableAddress)
{
    return contig_alloc(NumberOfBytes, (ULONGLONG)HighestAcceptableAddress.QuadPart,
                        "MmAllocateContiguousMemory");
}

PVOID MmAllocateContiguousMemorySpecifyCache(SIZE_T NumberOfBytes,
                                             PHYSICAL_ADDRESS LowestAcceptableAddress,
                                             PHYSICAL_ADDRESS HighestAcceptableAddress,
                                             PHYSICAL_ADDRESS BoundaryAddressMultiple,
                                             MEMORY_CACHING_TYPE CacheType)
{
    (void)LowestAcceptableAddress;
    (void)BoundaryAddressMultiple;
    (void)CacheType;
    return contig_alloc(NumberOfBytes, (ULONGLONG)HighestAcceptableAddress.QuadPart,
                        "MmAllocateContiguousMemorySpecifyCache");
}

VOID MmFreeContiguousMemory(PVOID BaseAddress)
{
    wdfdma_machine *m = wdm_machine("MmFreeContiguousMemory");
    wdm_check_irql_max(APC_LEVEL, "MmFreeContiguousMemory");
    wdm_machine_state *s = wdm_state(m);
    wdm_contig *found = NULL;
    pthread_mutex_lock(&s->contig_lock);
    for (wdm_contig **pp = &s->contig; *pp != NULL; pp = &(*pp)->next) {
        if ((*pp)->va == BaseAddress) {
            found = *pp;
            *pp = found->next;
            break;
        }
    }
    pthread_mutex_unlock(&s->contig_lock);
    if (found == NULL)
        mach_bugcheck(BAD_POOL_CALLER, 0x46, (uint64_t)(uintptr_t)BaseAddress, 0, 0,
                      "MmFreeContiguousMemory: %p is not a contiguous allocation", BaseAddress);
    mach_mem_free_contig(m, found->va, found->bytes);
    free(found);
}

VOID MmFreeContiguousMemorySpecifyCache(PVOID BaseAddress, SIZE_T NumberOfBytes,
                                        MEMORY_CACHING_TYPE CacheType)
{
    (void)NumberOfBytes;
    (void)CacheType;
    MmFreeContiguousMemory(BaseAddress);
}
