/*
 * Common buffers: physically contiguous, page-aligned, zeroed memory the device reaches
 * without map registers (logical = physical, below the adapter's address limit and the
 * Ex form's MaximumAddress). Each adapter keeps the list of its live buffers: FreeCommon-
 * Buffer finds the record there, and the verifier's access check lets the device touch
 * exactly these ranges.
 *
 *   AllocateCommonBuffer(Ex) ──> LIVE (on a->commons) ──FreeCommonBuffer──> gone
 */
#include <stdlib.h>

#include "wdm/dma_internal.h"

uint64_t wdm_dma_common_covers(dma_adapter *a, uint64_t logical)
{
    for (const dma_common *c = a->commons; c != NULL; c = c->next)
        if (logical >= c->logical && logical - c->logical < c->length)
            return c->logical + c->length;
    return 0;
}

static PVOID common_allocate(dma_adapter *a, uint64_t limit, ULONG length,
                             PPHYSICAL_ADDRESS logical, const char *ddi)
{
    wdm_check_irql_max(PASSIVE_LEVEL, ddi);
    if (length == 0 || logical == NULL)
        return NULL;
    dma_common *c = malloc(sizeof(*c));
    if (c == NULL || wdm_pool_should_fail())
        goto err_free_record;
    uint64_t pa = 0;
    if (mach_mem_alloc_contig(a->m, length, limit, PAGE_SIZE, &c->va, &pa) != 0)
        goto err_free_record;
    c->logical = pa;
    c->length = length;
    KIRQL old = wdm_dma_lock(a);
    c->next = a->commons;
    a->commons = c;
    wdm_dma_unlock(a, old);
    atomic_fetch_add(&a->dm->common_live, 1);
    mach_trace(a->m, WDFDMA_TR_FLOW, a->id, "hal.common.alloc", pa, length);
    logical->QuadPart = (LONGLONG)pa;
    return c->va;

err_free_record:
    free(c);
    return NULL;
}

PVOID wdm_dma_allocate_common_buffer(PDMA_ADAPTER DmaAdapter, ULONG Length,
                                     PPHYSICAL_ADDRESS LogicalAddress, BOOLEAN CacheEnabled)
{
    dma_adapter *a = wdm_dma_adapter(DmaAdapter, "AllocateCommonBuffer");
    (void)CacheEnabled;   /* memory is coherent in this model */
    return common_allocate(a, a->limit, Length, LogicalAddress, "AllocateCommonBuffer");
}

PVOID wdm_dma_allocate_common_buffer_ex(PDMA_ADAPTER DmaAdapter,
                                        PPHYSICAL_ADDRESS MaximumAddress, ULONG Length,
                                        PPHYSICAL_ADDRESS LogicalAddress, BOOLEAN CacheEnabled,
                                        NODE_REQUIREMENT PreferredNode)
{
    dma_adapter *a = wdm_dma_adapter(DmaAdapter, "AllocateCommonBufferEx");
    (void)CacheEnabled;
    (void)PreferredNode;   /* one memory node */
    uint64_t limit = a->limit;
    if (MaximumAddress != NULL && MaximumAddress->QuadPart >= 0) {
        /* MaximumAddress is the highest byte allowed, inclusive. */
        uint64_t max = (uint64_t)MaximumAddress->QuadPart + 1;
        if (max != 0 && (limit == 0 || max < limit))
            limit = max;
    }
    return common_allocate(a, limit, Length, LogicalAddress, "AllocateCommonBufferEx");
}

VOID wdm_dma_free_common_buffer(PDMA_ADAPTER DmaAdapter, ULONG Length,
                                PHYSICAL_ADDRESS LogicalAddress, PVOID VirtualAddress,
                                BOOLEAN CacheEnabled)
{
    dma_adapter *a = wdm_dma_adapter(DmaAdapter, "FreeCommonBuffer");
    wdm_check_irql_max(PASSIVE_LEVEL, "FreeCommonBuffer");
    (void)CacheEnabled;
    dma_common *found = NULL;
    KIRQL old = wdm_dma_lock(a);
    for (dma_common **pp = &a->commons; *pp != NULL; pp = &(*pp)->next) {
        if ((*pp)->va == VirtualAddress) {
            found = *pp;
            *pp = found->next;
            break;
        }
    }
    wdm_dma_unlock(a, old);
    if (found == NULL)
        wdm_dma_bugcheck(DMA_BC_COMMON_BUFFER_FREE, 1, (uint64_t)(uintptr_t)VirtualAddress,
                         a->id, "FreeCommonBuffer: %p is not a live common buffer of adapter "
                         "%u (freed twice?)", VirtualAddress, a->id);
    if (found->length != Length || found->logical != (uint64_t)LogicalAddress.QuadPart)
        mach_report(a->m, "FreeCommonBuffer", "adapter %u: buffer %p freed with length %lu / "
                    "logical %#llx, allocated as %lu / %#llx", a->id, VirtualAddress,
                    (unsigned long)Length, (unsigned long long)LogicalAddress.QuadPart,
                    (unsigned long)found->length, (unsigned long long)found->logical);
    mach_trace(a->m, WDFDMA_TR_FLOW, a->id, "hal.common.free", found->logical, found->length);
    mach_mem_free_contig(a->m, found->va, found->length);
    atomic_fetch_sub(&a->dm->common_live, 1);
    free(found);
}

void wdm_dma_common_free_all(dma_adapter *a)
{
    while (a->commons != NULL) {
        dma_common *c = a->commons;
        a->commons = c->next;
        mach_mem_free_contig(a->m, c->va, c->length);
        atomic_fetch_sub(&a->dm->common_live, 1);
        free(c);
    }
}
