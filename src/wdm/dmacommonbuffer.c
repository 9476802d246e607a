/*
 * Common buffers: physically contiguous, page-aligned, zeroed memory the device reaches
 * without map registers (logical = physical, below the adapter's address limit and the
 * Ex form's MaximumAddress). Each adapter keeps the list of its live buffers: FreeCommon-
 * Buffer finds the record there, and the verifier's access check lets the device touch
 * exactly these ranges.
 *
 *   AllocateCommonBuffer(Ex) ──> LIVE (on a->commons) ──FreeCommonBuffer──> gone
 *
 * Guard bands (verifier). As Driver Verifier pads common buffers, each buffer gets a page
 * of guard bytes (DMA_GUARD_FILL, DV's padding pattern) before and after it. The device
 * cannot reach them (the access check allows only the buffer itself), so a modified guard
 * byte means the driver's CPU wrote outside its buffer: checked at FreeCommonBuffer and
 * whenever the framework completes a DMA transfer on the same adapter; bug check 0xE6
 * with DV's code 0x0F (P2 0x04 before / 0x05 after, P3 the buffer, P4 the first bad byte).
 */
#include <stdlib.h>
#include <string.h>

#include "wdm/dma_internal.h"

#define DMA_GUARD_BYTES PAGE_SIZE         /* whole pages keep the buffer page aligned */
#define DMA_GUARD_FILL 0x0Fu

/* The first guard byte that lost its pattern, or NULL. */
static const uint8_t *guard_damage(const uint8_t *p, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (p[i] != DMA_GUARD_FILL)
            return p + i;
    return NULL;
}

/* Check one buffer's guards; bug check after releasing the lock (`old` valid when
 * `locked`). */
static void check_guards(dma_adapter *a, const dma_common *c, bool locked, KIRQL old,
                         const char *when)
{
    if (c->guard == 0)
        return;
    const uint8_t *va = c->va;
    const uint8_t *before = guard_damage(va - c->guard, c->guard);
    const uint8_t *after = before ? NULL : guard_damage(va + c->length, c->guard);
    if (before == NULL && after == NULL)
        return;
    if (locked)
        wdm_dma_unlock(a, old);
    const uint8_t *bad = before ? before : after;
    mach_bugcheck_rule("DMA-COMMON-BUFFER-OVERRUN", a->id, NULL, DRIVER_VERIFIER_DMA_VIOLATION,
                       DMA_BC_BUFFER_OVERRUN,
                       before ? DMA_BC_OVERRUN_PAD_BEFORE : DMA_BC_OVERRUN_PAD_AFTER,
                       (uint64_t)(uintptr_t)va, (uint64_t)(uintptr_t)bad,
                       "DRIVER_VERIFIER_DMA_VIOLATION: %s: common buffer %p (logical %#llx, "
                       "%lu bytes) of adapter %u: the driver wrote %s it (guard byte at "
                       "offset %lld is %#x, not %#x)", when, (const void *)va,
                       (unsigned long long)c->logical, (unsigned long)c->length, a->id,
                       before ? "before" : "past the end of", (long long)(bad - va),
                       (unsigned)*bad, DMA_GUARD_FILL);
}

void wdm_dma_common_check_guards(dma_adapter *a, const char *when)
{
    KIRQL old = wdm_dma_lock(a);
    for (const dma_common *c = a->commons; c != NULL; c = c->next)
        check_guards(a, c, true, old, when);
    wdm_dma_unlock(a, old);
}

/* Host memory of a buffer record with its guard bands. */
static void common_release(dma_adapter *a, dma_common *c)
{
    mach_mem_free_contig(a->m, (uint8_t *)c->va - c->guard, c->length + 2 * c->guard);
}

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
    /* Fault plans: "pool-fail" (the record) and "cb-fail" (no contiguous memory). */
    if (c == NULL || wdm_pool_should_fail() || mach_fault_fire(a->m, "cb-fail", a->hw))
        goto err_free_record;
    uint64_t pa = 0;
    c->guard = a->verify ? DMA_GUARD_BYTES : 0;
    void *raw = NULL;
    if (mach_mem_alloc_contig(a->m, length + 2 * c->guard, limit, PAGE_SIZE, &raw, &pa) != 0)
        goto err_free_record;
    c->va = (uint8_t *)raw + c->guard;
    pa += c->guard;
    if (c->guard != 0) {
        memset(raw, DMA_GUARD_FILL, c->guard);
        memset((uint8_t *)c->va + length, DMA_GUARD_FILL, c->guard);
    }
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
    if (a->verify) {
        check_guards(a, found, false, 0, "FreeCommonBuffer");
        old = wdm_dma_lock(a);
        wdm_dma_stale_add(a, found->logical, found->length, DMA_STALE_COMMON_BUFFER);
        wdm_dma_unlock(a, old);
    }
    common_release(a, found);
    atomic_fetch_sub(&a->dm->common_live, 1);
    free(found);
}

void wdm_dma_common_free_all(dma_adapter *a)
{
    while (a->commons != NULL) {
        dma_common *c = a->commons;
        a->commons = c->next;
        common_release(a, c);
        atomic_fetch_sub(&a->dm->common_live, 1);
        free(c);
    }
}
