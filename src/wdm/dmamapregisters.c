/*
 * Map registers, the allocation queue and adapter channels; MapTransfer(Ex) and
 * FlushAdapterBuffers(Ex) for bus-master adapters (system adapters: dmasystem.c).
 *
 * A map register's states (each register of an adapter's pool):
 *
 *            grant (run reserved)          MapTransfer / SG build
 *   FREE ------------------------> RESERVED --------------------------> MAPPED
 *    ^                                ^  |                                 |
 *    |      FreeMapRegisters,         |  +---- flush / PutScatterGatherList -+
 *    +----- FreeAdapterChannel, ------+        (bounced reads copied back)
 *           DeallocateObject, Put SG list
 *
 *   FREE      allocated = false, mapped = false; counted in regs_free.
 *   RESERVED  allocated = true: part of a run; the run's first register holds run (its
 *             length) and cursor (the next register to map through).
 *   MAPPED    also mapped = true: logical/phys/va/length describe live bytes; the access
 *             check allows the device exactly these.
 * assert_run() checks these invariants for a run.
 *
 * The allocation queue's state machine is drawn in dma_internal.h: a request is granted
 * synchronously when the queue is empty and it fits, else it queues (FIFO) and the
 * dispatcher grants it from the free path. Callbacks run at DISPATCH_LEVEL with the
 * adapter lock released.
 */
#include <string.h>

#include "wdm/dma_internal.h"

/* ---- walking MDL chains ---------------------------------------------------------------- */
static void check_locked(PMDL mdl)
{
    const CSHORT locked = MDL_PAGES_LOCKED | MDL_SOURCE_IS_NONPAGED_POOL | MDL_PARTIAL;
    if ((mdl->MdlFlags & locked) == 0)
        wdm_dma_bugcheck(DMA_BC_MISC, DMA_BC_MISC_MDL_NOT_LOCKED, (uint64_t)(uintptr_t)mdl,
                         (USHORT)mdl->MdlFlags,
                         "MDL %p has no locked pages (flags %#x): its frames are unknown",
                         (void *)mdl, (unsigned)(USHORT)mdl->MdlFlags);
}

NTSTATUS wdm_dma_walk_init(dma_walk *w, PMDL mdl, ULONGLONG offset, ULONG length)
{
    while (mdl != NULL && offset >= mdl->ByteCount) {
        offset -= mdl->ByteCount;
        mdl = mdl->Next;
    }
    if (mdl == NULL || length == 0)
        return STATUS_INVALID_PARAMETER;
    ULONGLONG avail = mdl->ByteCount - offset;
    for (PMDL q = mdl->Next; q != NULL && avail < length; q = q->Next)
        avail += q->ByteCount;
    if (avail < length)
        return STATUS_INVALID_PARAMETER;
    w->mdl = mdl;
    w->offset = (ULONG)offset;
    w->left = length;
    return STATUS_SUCCESS;
}

NTSTATUS wdm_dma_flush_walk_init(dma_walk *w, PMDL mdl, ULONGLONG offset, ULONG length)
{
    if (length != 0)
        return wdm_dma_walk_init(w, mdl, offset, length);
    w->mdl = mdl;   /* a transfer that moved nothing: unmap, copy nothing back */
    w->offset = 0;
    w->left = 0;
    return mdl != NULL ? STATUS_SUCCESS : STATUS_INVALID_PARAMETER;
}

bool wdm_dma_walk_next(dma_walk *w, dma_piece *p)
{
    if (w->left == 0)
        return false;
    while (w->offset >= w->mdl->ByteCount) {   /* walk_init proved the chain is long enough */
        w->mdl = w->mdl->Next;
        w->offset = 0;
    }
    check_locked(w->mdl);
    ULONG pos = w->mdl->ByteOffset + w->offset;
    ULONG in_page = pos & (PAGE_SIZE - 1);
    ULONG n = PAGE_SIZE - in_page;
    if (n > w->mdl->ByteCount - w->offset)
        n = w->mdl->ByteCount - w->offset;
    if (n > w->left)
        n = w->left;
    p->va = (const char *)MmGetMdlVirtualAddress(w->mdl) + w->offset;
    p->phys = ((uint64_t)MmGetMdlPfnArray(w->mdl)[pos >> PAGE_SHIFT] << PAGE_SHIFT) + in_page;
    p->length = n;
    w->offset += n;
    w->left -= n;
    return true;
}

ULONG wdm_dma_walk_pages(dma_walk w)
{
    dma_piece p;
    ULONG pages = 0;
    while (wdm_dma_walk_next(&w, &p))
        pages++;
    return pages;
}

/* ---- the register pool ----------------------------------------------------------------- */
static void assert_run(const dma_adapter *a, const dma_mapreg *run)
{
    for (uint32_t i = 0; i < run->run; i++) {
        const dma_mapreg *r = run + i;
        if (!r->allocated || (i > 0 && r->run != 0) || (r->mapped && i >= run->cursor))
            mach_bugcheck(DRIVER_VERIFIER_DMA_VIOLATION, DMA_BC_MISC, 0xFF, a->id, r->index,
                          "DMA adapter %u: map register %u breaks its run's invariants",
                          a->id, r->index);
    }
}

static void regs_in_use_add(dma_adapter *a, uint64_t n)
{
    uint64_t now = wdm_dma_count(a->dm, &a->dm->regs_in_use, n) + n;
    wdm_dma_stat_max(&a->dm->regs_peak, now);
    mach_trace(a->m, WDFDMA_TR_COUNTER, a->id, "hal.map_registers", a->nregs - a->regs_free, 0);
}

/* First fit: a run of `count` free registers, or NULL. Caller holds the lock. */
static dma_mapreg *reserve_run(dma_adapter *a, ULONG count)
{
    wdm_dma_assert_locked(a);
    if (count > a->regs_free)
        return NULL;
    ULONG start = 0;
    for (ULONG i = 0; i < a->nregs; i++) {
        if (a->regs[i].allocated) {
            start = i + 1;
            continue;
        }
        if (i + 1 - start < count)
            continue;
        for (ULONG k = start; k <= i; k++)
            a->regs[k].allocated = true;
        dma_mapreg *run = &a->regs[start];
        run->run = count;
        run->cursor = 0;
        run->next_kept = -1;
        a->regs_free -= count;
        regs_in_use_add(a, count);
        return run;
    }
    return NULL;
}

void wdm_dma_free_run(dma_adapter *a, dma_mapreg *run)
{
    wdm_dma_assert_locked(a);
    assert_run(a, run);
    uint32_t n = run->run;
    for (uint32_t i = 0; i < n; i++) {
        run[i].allocated = false;
        run[i].mapped = false;
    }
    run->run = 0;
    run->cursor = 0;
    run->sg = false;
    run->owner = 0;
    a->regs_free += n;
    wdm_dma_count(a->dm, &a->dm->regs_in_use, (uint64_t)0 - n);
    mach_trace(a->m, WDFDMA_TR_COUNTER, a->id, "hal.map_registers", a->nregs - a->regs_free, 0);
}

dma_mapreg *wdm_dma_run(dma_adapter *a, PVOID base)
{
    uintptr_t p = (uintptr_t)base;
    uintptr_t first = (uintptr_t)a->regs;
    if (p < first || p >= first + a->nregs * sizeof(dma_mapreg) ||
        (p - first) % sizeof(dma_mapreg) != 0)
        return NULL;
    dma_mapreg *run = base;
    return run->allocated && run->run != 0 ? run : NULL;
}

static _Noreturn void bad_base(dma_adapter *a, KIRQL old, PVOID base, const char *ddi)
{
    wdm_dma_unlock(a, old);
    wdm_dma_bugcheck(DMA_BC_MAP_REGISTER_FREE, (uint64_t)(uintptr_t)base, a->id, 0,
                     "%s: %p is not a map-register base granted by adapter %u (freed "
                     "already?)", ddi, base, a->id);
}

static void kept_push(dma_adapter *a, dma_mapreg *run)
{
    run->next_kept = -1;
    if (a->kept_tail >= 0)
        a->regs[a->kept_tail].next_kept = (int32_t)run->index;
    else
        a->kept_head = (int32_t)run->index;
    a->kept_tail = (int32_t)run->index;
}

static dma_mapreg *kept_pop(dma_adapter *a)
{
    if (a->kept_head < 0)
        return NULL;
    dma_mapreg *run = &a->regs[a->kept_head];
    a->kept_head = run->next_kept;
    if (a->kept_head < 0)
        a->kept_tail = -1;
    run->next_kept = -1;
    return run;
}

/* ---- mapping pieces -------------------------------------------------------------------- */
static uint8_t *bounce_page(const dma_adapter *a, const dma_mapreg *r)
{
    return a->bounce_va + (size_t)r->index * PAGE_SIZE;
}

/* Bounced bytes keep their offset in the page, so runs of bounced pages stay contiguous. */
static uint64_t piece_logical(const dma_adapter *a, const dma_mapreg *r, const dma_piece *p)
{
    if (!wdm_dma_needs_bounce(a, p->phys, p->length))
        return p->phys;
    return a->bounce_pa + (uint64_t)r->index * PAGE_SIZE + (p->phys & (PAGE_SIZE - 1));
}

bool wdm_dma_map_piece(dma_adapter *a, dma_mapreg *run, const dma_piece *p, bool write,
                       uint64_t *logical)
{
    wdm_dma_assert_locked(a);
    if (run->cursor >= run->run)
        return false;
    dma_mapreg *r = run + run->cursor;
    r->mapped = true;
    r->bounced = wdm_dma_needs_bounce(a, p->phys, p->length);
    r->length = p->length;
    r->phys = p->phys;
    r->va = p->va;
    r->logical = piece_logical(a, r, p);
    /* Verifier double buffering: fingerprint the driver's bytes, which nobody may touch
     * until the flush (unmap_verify compares). */
    if (a->force_bounce)
        r->sum = wdm_dma_checksum(mach_mem_host(a->m, p->phys), p->length);
    /* WriteToDevice: the device reads the bounce page, so it gets the data now. */
    if (r->bounced && write) {
        mach_phys_read(a->m, p->phys, bounce_page(a, r) + (p->phys & (PAGE_SIZE - 1)), p->length);
        wdm_dma_count(a->dm, &a->dm->bounced_bytes, p->length);
    }
    run->cursor++;
    *logical = r->logical;
    return true;
}

/* ReadFromDevice: copy the part of register r's bounce page that lies inside the flushed
 * range `only` (all of it when NULL) back into the buffer. */
static void copy_back(dma_adapter *a, const dma_mapreg *r, const dma_walk *only)
{
    const uint8_t *page = bounce_page(a, r) + (r->phys & (PAGE_SIZE - 1));
    if (only == NULL) {
        mach_phys_write(a->m, r->phys, page, r->length);
        wdm_dma_count(a->dm, &a->dm->bounced_bytes, r->length);
        return;
    }
    dma_walk w = *only;
    dma_piece p;
    while (wdm_dma_walk_next(&w, &p)) {
        const char *lo = p.va > r->va ? p.va : r->va;
        const char *hi = p.va + p.length < r->va + r->length ? p.va + p.length
                                                              : r->va + r->length;
        if (lo >= hi)
            continue;
        size_t skip = (size_t)(lo - r->va);
        mach_phys_write(a->m, r->phys + skip, page + skip, (size_t)(hi - lo));
        wdm_dma_count(a->dm, &a->dm->bounced_bytes, (uint64_t)(hi - lo));
    }
}

/* A flush ends the transfer: every register of the run is unmapped, so the next
 * MapTransfer through the same base reuses the grant from its first register (KMDF maps
 * every transfer of a packet transaction through one base and flushes in between, with the
 * length the device actually moved — shorter after a partial completion, 0 after a failed
 * one). Bounced reads get back exactly the flushed bytes: nothing the device did not
 * report moving reaches the buffer. */
/* Verifier: remember the range for fault reports and, when every page bounces, check the
 * driver left its buffer alone while the device owned it (DMA-BUFFER-TOUCHED-DURING-DMA:
 * a report — under Windows' double buffering such a write is silently lost or
 * overwritten). Runs before the copy-back. */
static void unmap_verify(dma_adapter *a, const dma_mapreg *run, const dma_mapreg *r, bool write)
{
    wdm_dma_stale_add(a, r->logical, r->length,
                      run->sg ? DMA_STALE_SG_LIST : DMA_STALE_MAP_REGISTER);
    if (!a->force_bounce || !r->bounced)
        return;
    if (wdm_dma_checksum(mach_mem_host(a->m, r->phys), r->length) == r->sum)
        return;
    mach_finding(a->m, "DMA-BUFFER-TOUCHED-DURING-DMA", run->owner ? run->owner : a->id, NULL,
                 "adapter %u: the driver changed buffer bytes at host %p (physical %#llx, "
                 "%lu bytes) between mapping them for a %s and the flush, while the device "
                 "owned them", a->id, (const void *)r->va, (unsigned long long)r->phys,
                 (unsigned long)r->length,
                 write ? "WriteToDevice (the device read the old data)"
                       : "ReadFromDevice (the device's data overwrites the change)");
}

void wdm_dma_unmap_run(dma_adapter *a, dma_mapreg *run, bool write, const dma_walk *only)
{
    wdm_dma_assert_locked(a);
    for (uint32_t i = 0; i < run->run; i++) {
        dma_mapreg *r = run + i;
        if (!r->mapped)
            continue;
        if (a->verify)
            unmap_verify(a, run, r, write);
        if (r->bounced && !write)
            copy_back(a, r, only);
        r->mapped = false;
    }
    run->cursor = 0;
}

static bool run_has_mappings(const dma_mapreg *run)
{
    for (uint32_t i = 0; i < run->run; i++)
        if (run[i].mapped)
            return true;
    return false;
}

ULONG wdm_dma_map_run(dma_adapter *a, dma_mapreg *run, dma_walk *w, bool write,
                      uint64_t *logical)
{
    ULONG mapped = 0;
    uint64_t next = 0;
    for (;;) {
        dma_walk before = *w;
        dma_piece p;
        if (!wdm_dma_walk_next(w, &p))
            break;
        bool fits = run->cursor < run->run;
        uint64_t la = fits ? piece_logical(a, run + run->cursor, &p) : 0;
        if (!fits || (mapped != 0 && la != next)) {
            *w = before;
            break;
        }
        wdm_dma_map_piece(a, run, &p, write, &la);
        if (mapped == 0)
            *logical = la;
        mapped += p.length;
        next = la + p.length;
    }
    return mapped;
}

/* ---- the queue ------------------------------------------------------------------------- */
/* Reserve what `w` needs, or nothing. Caller holds the lock. */
/* The channel for `w`: a system adapter's is shared with the other adapters routed to the
 * same controller channel, and granted in request order across them. */
static bool take_channel(dma_adapter *a, const dma_wait *w)
{
    if (a->sys.chan != NULL)
        return wdm_dma_channel_take(a, w->state == DMA_REQ_QUEUED);
    return !a->channel_busy;
}

static bool reserve(dma_adapter *a, dma_wait *w, dma_mapreg **run)
{
    *run = NULL;
    if (w->count != 0) {
        *run = reserve_run(a, w->count);
        if (*run == NULL)
            return false;
    }
    if (w->needs_channel && !take_channel(a, w)) {
        if (*run != NULL)
            wdm_dma_free_run(a, *run);
        *run = NULL;
        return false;
    }
    if (w->needs_channel) {
        a->channel_busy = true;
        a->sys.owner = w->xfer;
        a->sys.device = w->device;
    }
    w->state = DMA_REQ_GRANTED;
    if (*run != NULL) {
        (*run)->sg = w->kind == DMA_WAIT_SGLIST;
        (*run)->owner = w->owner;
    }
    if (w->xfer != NULL && w->xfer->pending == w)
        w->xfer->pending = NULL;
    if (w->kind == DMA_WAIT_SGLIST)
        CONTAINING_RECORD(w, dma_sg, wait)->base = *run;
    return true;
}

/* Caller holds a's lock and a holds its channel: give it back. Returns the adapter first in
 * line for a shared channel, to dispatch once the lock is dropped (NULL: none, or a). */
static dma_adapter *channel_release_locked(dma_adapter *a)
{
    a->channel_busy = false;
    dma_adapter *next = a->sys.chan != NULL ? wdm_dma_channel_release(a) : NULL;
    return next != a ? next : NULL;
}

/* IO_ALLOCATION_ACTION after a channel grant's callback. */
static void finish_action(dma_adapter *a, IO_ALLOCATION_ACTION action, dma_mapreg *run,
                          bool channel)
{
    KIRQL old = wdm_dma_lock(a);
    dma_adapter *next = NULL;
    if (a->grant_freed) {
        /* The routine already gave this grant back with FreeAdapterChannel. */
        a->grant_freed = false;
        wdm_dma_unlock(a, old);
        return;
    }
    switch (action) {
    case KeepObject:
        a->channels_kept++;
        if (run != NULL)
            kept_push(a, run);
        break;
    case DeallocateObject:
        if (run != NULL) {
            if (run_has_mappings(run))
                mach_report(a->m, "DeallocateObject", "adapter %u: map registers freed "
                            "with live mappings (FlushAdapterBuffers missing)", a->id);
            wdm_dma_free_run(a, run);
        }
        if (channel)
            next = channel_release_locked(a);
        break;
    case DeallocateObjectKeepRegisters:
        if (channel)
            next = channel_release_locked(a);
        break;
    default:
        wdm_dma_unlock(a, old);
        wdm_dma_bugcheck(DMA_BC_MISC, 0x12, a->id, (uint64_t)action,
                         "adapter control routine returned %d, not an IO_ALLOCATION_ACTION",
                         (int)action);
    }
    wdm_dma_unlock(a, old);
    if (action != KeepObject)
        wdm_dma_dispatch(a);
    if (next != NULL)
        wdm_dma_dispatch(next);
}

static void channel_granted(dma_adapter *a, dma_wait *w, dma_mapreg *run, PVOID *base_out)
{
    /* Copy the request out: the driver may reuse its storage once the callback runs. */
    PDRIVER_CONTROL routine = w->routine;
    PDEVICE_OBJECT device = w->device;
    PVOID context = w->context;
    bool channel = w->needs_channel;
    PIRP irp = w->legacy && device != NULL ? device->CurrentIrp : NULL;

    wdm_dma_count(a->dm, &a->dm->channel_grants, 1);
    mach_trace(a->m, WDFDMA_TR_FLOW, a->id, "hal.channel.grant", run != NULL ? run->run : 0, 0);
    if (base_out != NULL)
        *base_out = run;
    if (routine == NULL) {   /* DMA_SYNCHRONOUS_CALLBACK without a routine: kept */
        finish_action(a, KeepObject, run, channel);
        return;
    }
    KIRQL old = mach_irql();
    if (old < DISPATCH_LEVEL)
        mach_irql_raise(DISPATCH_LEVEL);
    if (channel && !a->master) {
        /* One grant at a time holds a system channel: note it, so a FreeAdapterChannel
         * inside the routine frees this grant rather than an older kept one. */
        KIRQL l = wdm_dma_lock(a);
        a->granting = true;
        a->granting_run = run;
        wdm_dma_unlock(a, l);
    }
    mach_callback_enter("AdapterControl", a->id);
    IO_ALLOCATION_ACTION action = routine(device, irp, run, context);
    mach_callback_exit("AdapterControl", a->id);
    if (channel && !a->master) {
        KIRQL l = wdm_dma_lock(a);
        a->granting = false;
        a->granting_run = NULL;
        wdm_dma_unlock(a, l);
    }
    if (old < DISPATCH_LEVEL)
        mach_irql_lower(old);
    finish_action(a, action, run, channel);
}

static void granted(dma_adapter *a, dma_wait *w, dma_mapreg *run, PVOID *base_out)
{
    if (w->kind == DMA_WAIT_SGLIST)
        wdm_dma_sg_granted(a, CONTAINING_RECORD(w, dma_sg, wait));
    else
        channel_granted(a, w, run, base_out);
}

NTSTATUS wdm_dma_request(dma_adapter *a, dma_wait *w, bool synchronous, PVOID *base_out)
{
    dma_mapreg *run = NULL;
    /* Fault plan "map-exhaust": the HAL has no map registers for this allocation, an
     * outcome AllocateAdapterChannel(Ex) and Build/GetScatterGatherList document. */
    if (w->count != 0 && mach_fault_fire(a->m, "map-exhaust", a->hw))
        return STATUS_INSUFFICIENT_RESOURCES;
    w->owner = a->verify ? wdm_dma_owner() : 0;
    KIRQL old = wdm_dma_lock(a);
    /* FIFO: nobody overtakes a queued request, even one that would fit now. */
    if (a->head == NULL && reserve(a, w, &run)) {
        wdm_dma_unlock(a, old);
        granted(a, w, run, base_out);
        return STATUS_SUCCESS;
    }
    if (synchronous) {
        wdm_dma_unlock(a, old);
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    if (w->needs_channel && a->sys.chan != NULL && !wdm_dma_channel_wait(a)) {
        wdm_dma_unlock(a, old);
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    w->next = NULL;
    w->state = DMA_REQ_QUEUED;
    if (a->tail != NULL)
        a->tail->next = w;
    else
        a->head = w;
    a->tail = w;
    wdm_dma_unlock(a, old);
    wdm_dma_count(a->dm, &a->dm->queued, 1);
    mach_trace(a->m, WDFDMA_TR_FLOW, a->id, "hal.request.queued", w->count, w->kind);
    return STATUS_SUCCESS;
}

void wdm_dma_dispatch(dma_adapter *a)
{
    KIRQL old = wdm_dma_lock(a);
    if (a->dispatching) {   /* the running dispatcher re-checks the head after each grant */
        wdm_dma_unlock(a, old);
        return;
    }
    a->dispatching = true;
    for (;;) {
        dma_wait *w = a->head;
        dma_mapreg *run = NULL;
        if (w == NULL || !reserve(a, w, &run))
            break;
        a->head = w->next;
        if (a->head == NULL)
            a->tail = NULL;
        w->next = NULL;
        wdm_dma_unlock(a, old);
        granted(a, w, run, NULL);
        old = wdm_dma_lock(a);
    }
    a->dispatching = false;
    wdm_dma_unlock(a, old);
}

/* ---- allocation DDIs ------------------------------------------------------------------- */
static void check_count(dma_adapter *a, ULONG count, const char *ddi)
{
    if (count > a->nregs)
        wdm_dma_bugcheck(DMA_BC_TOO_MANY_MAP_REGISTERS, count, a->nregs, a->id,
                         "%s: %lu map registers asked, adapter %u was granted %lu", ddi,
                         (unsigned long)count, a->id, (unsigned long)a->nregs);
}

bool wdm_dma_is_queued(dma_adapter *a, const dma_wait *w)
{
    bool found = false;
    KIRQL old = wdm_dma_lock(a);
    for (const dma_wait *q = a->head; q != NULL && !found; q = q->next)
        found = q == w;
    wdm_dma_unlock(a, old);
    return found;
}

/* A channel (and map-register) request, as both AllocateAdapterChannel forms make it. */
static void channel_wait_init(dma_adapter *a, dma_wait *w, ULONG count, PDEVICE_OBJECT device,
                              PDRIVER_CONTROL routine, PVOID context)
{
    memset(w, 0, sizeof(*w));
    w->kind = DMA_WAIT_CHANNEL;
    w->needs_channel = !a->master;
    w->count = count;
    w->device = device;
    w->routine = routine;
    w->context = context;
}

NTSTATUS wdm_dma_allocate_adapter_channel(PDMA_ADAPTER DmaAdapter, PDEVICE_OBJECT DeviceObject,
                                          ULONG NumberOfMapRegisters,
                                          PDRIVER_CONTROL ExecutionRoutine, PVOID Context)
{
    dma_adapter *a = wdm_dma_adapter(DmaAdapter, "AllocateAdapterChannel");
    wdm_check_irql_max(DISPATCH_LEVEL, "AllocateAdapterChannel");
    if (DeviceObject == NULL || ExecutionRoutine == NULL)
        return STATUS_INVALID_PARAMETER;
    check_count(a, NumberOfMapRegisters, "AllocateAdapterChannel");
    dma_wait *w = (dma_wait *)(void *)&DeviceObject->Queue.Wcb;
    if (wdm_dma_is_queued(a, w))
        wdm_dma_bugcheck(0x0B, (uint64_t)(uintptr_t)DeviceObject, a->id, 0,
                         "AllocateAdapterChannel: device object %p already waits for a "
                         "channel of adapter %u", (void *)DeviceObject, a->id);
    channel_wait_init(a, w, NumberOfMapRegisters, DeviceObject, ExecutionRoutine, Context);
    w->legacy = true;
    return wdm_dma_request(a, w, false, NULL);
}

NTSTATUS wdm_dma_allocate_adapter_channel_ex(PDMA_ADAPTER DmaAdapter,
                                             PDEVICE_OBJECT DeviceObject,
                                             PVOID DmaTransferContext,
                                             ULONG NumberOfMapRegisters, ULONG Flags,
                                             PDRIVER_CONTROL ExecutionRoutine,
                                             PVOID ExecutionContext, PVOID *MapRegisterBase)
{
    dma_adapter *a = wdm_dma_adapter(DmaAdapter, "AllocateAdapterChannelEx");
    wdm_check_irql_max(DISPATCH_LEVEL, "AllocateAdapterChannelEx");
    dma_xfer *x = DmaTransferContext;
    bool sync = (Flags & DMA_SYNCHRONOUS_CALLBACK) != 0;
    if (x == NULL || x->magic != DMA_XFER_MAGIC || (Flags & ~(ULONG)DMA_SYNCHRONOUS_CALLBACK) != 0)
        return STATUS_INVALID_PARAMETER;
    if (ExecutionRoutine == NULL && (!sync || MapRegisterBase == NULL))
        return STATUS_INVALID_PARAMETER;
    if (wdm_dma_is_queued(a, x->pending))
        wdm_dma_bugcheck(DMA_BC_MISC, DMA_BC_MISC_BAD_CONTEXT, (uint64_t)(uintptr_t)x, a->id,
                         "AllocateAdapterChannelEx: transfer context %p already has a queued "
                         "request", DmaTransferContext);
    check_count(a, NumberOfMapRegisters, "AllocateAdapterChannelEx");
    dma_wait *w = &x->wait;
    channel_wait_init(a, w, NumberOfMapRegisters, DeviceObject, ExecutionRoutine,
                      ExecutionContext);
    w->xfer = x;
    x->adapter = a;
    x->pending = w;
    NTSTATUS status = wdm_dma_request(a, w, sync, MapRegisterBase);
    if (!NT_SUCCESS(status))
        x->pending = NULL;
    return status;
}

/* Caller holds a's lock and found queued request w after prev (NULL: w is the head): take
 * it out of the queue, and out of its shared channel's line. Returns the adapter to
 * dispatch for that channel once the lock is dropped (NULL: none). */
static dma_adapter *unlink_wait_locked(dma_adapter *a, dma_wait *w, dma_wait *prev)
{
    unsigned channel_waits_before = 0;
    for (const dma_wait *q = a->head; q != w; q = q->next)
        channel_waits_before += q->needs_channel;
    if (prev != NULL)
        prev->next = w->next;
    else
        a->head = w->next;
    if (a->tail == w)
        a->tail = prev;
    w->next = NULL;
    w->state = DMA_REQ_CANCELLED;
    if (w->xfer != NULL && w->xfer->pending == w)
        w->xfer->pending = NULL;
    return w->needs_channel && a->sys.chan != NULL
               ? wdm_dma_channel_unwait(a, channel_waits_before)
               : NULL;
}

/* After unlink_wait_locked, with the lock dropped. */
static void cancelled(dma_adapter *a, dma_wait *w, dma_adapter *next)
{
    mach_trace(a->m, WDFDMA_TR_FLOW, a->id, "hal.request.cancelled", w->count, w->kind);
    if (w->kind == DMA_WAIT_SGLIST)
        wdm_dma_sg_cancelled(a, CONTAINING_RECORD(w, dma_sg, wait));
    /* The cancelled request may have been the head that blocked the others. */
    wdm_dma_dispatch(a);
    if (next != NULL && next != a)
        wdm_dma_dispatch(next);
}

BOOLEAN wdm_dma_cancel_adapter_channel(PDMA_ADAPTER DmaAdapter, PDEVICE_OBJECT DeviceObject,
                                       PVOID DmaTransferContext)
{
    dma_adapter *a = wdm_dma_adapter(DmaAdapter, "CancelAdapterChannel");
    wdm_check_irql_max(DISPATCH_LEVEL, "CancelAdapterChannel");
    (void)DeviceObject;
    dma_xfer *x = DmaTransferContext;
    if (x == NULL || x->magic != DMA_XFER_MAGIC)
        return FALSE;
    KIRQL old = wdm_dma_lock(a);
    /* Find it by pointer: only a request still in the queue is touched. */
    dma_wait *w = x->pending, *prev = NULL, *q = a->head;
    while (w != NULL && q != NULL && q != w) {
        prev = q;
        q = q->next;
    }
    if (w == NULL || q != w) {
        wdm_dma_unlock(a, old);
        return FALSE;
    }
    dma_adapter *next = unlink_wait_locked(a, w, prev);
    wdm_dma_unlock(a, old);
    cancelled(a, w, next);
    return TRUE;
}

bool wdm_dma_withdraw_request(PDMA_ADAPTER DmaAdapter, PVOID context)
{
    dma_adapter *a = wdm_dma_adapter(DmaAdapter, "wdm_dma_withdraw_request");
    KIRQL old = wdm_dma_lock(a);
    dma_wait *w = a->head, *prev = NULL;
    while (w != NULL && w->context != context) {
        prev = w;
        w = w->next;
    }
    if (w == NULL) {
        wdm_dma_unlock(a, old);
        return false;
    }
    dma_adapter *next = unlink_wait_locked(a, w, prev);
    wdm_dma_unlock(a, old);
    cancelled(a, w, next);
    return true;
}

/* ---- releasing ------------------------------------------------------------------------- */
/* Free a run the driver is done with; complain about mappings it never flushed. Lock held
 * on entry; released (the bug check is raised without it). */
static void release_run(dma_adapter *a, KIRQL old, dma_mapreg *run, const char *ddi)
{
    if (run != NULL && run_has_mappings(run)) {
        if (wdfdma_machine_verifier(a->m)) {
            wdm_dma_unlock(a, old);
            wdm_dma_bugcheck(DMA_BC_NOT_FLUSHED, (uint64_t)(uintptr_t)run, a->id, 0,
                             "%s: adapter %u map registers freed before FlushAdapterBuffers",
                             ddi, a->id);
        }
        mach_report(a->m, ddi, "adapter %u: map registers freed with live mappings "
                    "(FlushAdapterBuffers missing); bounced data is lost", a->id);
    }
    if (run != NULL)
        wdm_dma_free_run(a, run);
    wdm_dma_unlock(a, old);
}

/* FreeAdapterChannel from inside the routine of the grant in progress (before it returned
 * KeepObject): give back that grant — channel and registers — now; finish_action then
 * has nothing left to do. Called with the lock held; drops it. */
static void release_in_grant(dma_adapter *a, KIRQL old, bool keep_registers, const char *ddi)
{
    dma_mapreg *run = a->granting_run;
    a->grant_freed = true;
    a->sys.mapped = false;
    a->sys.owner = NULL;
    a->sys.cancelled = false;
    dma_adapter *next = channel_release_locked(a);
    if (keep_registers || run == NULL)
        wdm_dma_unlock(a, old);
    else
        release_run(a, old, run, ddi);
    wdm_dma_dispatch(a);
    if (next != NULL)
        wdm_dma_dispatch(next);
}

/* Give back a KeepObject grant: the channel, and its registers unless `keep_registers`. */
static void release_kept(dma_adapter *a, bool keep_registers, const char *ddi)
{
    KIRQL old = wdm_dma_lock(a);
    if (a->channels_kept == 0 && a->granting && !a->grant_freed) {
        release_in_grant(a, old, keep_registers, ddi);
        return;
    }
    if (a->channels_kept == 0) {
        wdm_dma_unlock(a, old);
        wdm_dma_bugcheck(DMA_BC_CHANNEL_FREE, 1, a->id, 0,
                         "%s: adapter %u has no adapter channel to free", ddi, a->id);
    }
    if (!a->master && a->sys.mapped) {
        if (wdfdma_machine_verifier(a->m)) {
            wdm_dma_unlock(a, old);
            wdm_dma_bugcheck(DMA_BC_NOT_FLUSHED, (uint64_t)(uintptr_t)a, a->id, 0,
                             "%s: system adapter %u channel freed before "
                             "FlushAdapterBuffersEx", ddi, a->id);
        }
        mach_report(a->m, ddi, "system adapter %u: channel freed before its transfer was "
                    "flushed", a->id);
        a->sys.mapped = false;
    }
    a->channels_kept--;
    dma_mapreg *run = kept_pop(a);
    dma_adapter *next = NULL;
    if (!a->master) {
        next = channel_release_locked(a);
        a->sys.owner = NULL;
        a->sys.cancelled = false;
    }
    if (keep_registers)
        wdm_dma_unlock(a, old);
    else
        release_run(a, old, run, ddi);
    wdm_dma_dispatch(a);
    if (next != NULL)
        wdm_dma_dispatch(next);
}

VOID wdm_dma_free_adapter_channel(PDMA_ADAPTER DmaAdapter)
{
    dma_adapter *a = wdm_dma_adapter(DmaAdapter, "FreeAdapterChannel");
    wdm_check_irql_max(DISPATCH_LEVEL, "FreeAdapterChannel");
    release_kept(a, false, "FreeAdapterChannel");
}

VOID wdm_dma_free_adapter_object(PDMA_ADAPTER DmaAdapter, IO_ALLOCATION_ACTION AllocationAction)
{
    dma_adapter *a = wdm_dma_adapter(DmaAdapter, "FreeAdapterObject");
    wdm_check_irql_max(DISPATCH_LEVEL, "FreeAdapterObject");
    switch (AllocationAction) {
    case KeepObject:
        return;
    case DeallocateObject:
        release_kept(a, false, "FreeAdapterObject");
        return;
    case DeallocateObjectKeepRegisters:
        release_kept(a, true, "FreeAdapterObject");
        return;
    default:
        wdm_dma_bugcheck(DMA_BC_MISC, 0x12, a->id, (uint64_t)AllocationAction,
                         "FreeAdapterObject: %d is not an IO_ALLOCATION_ACTION",
                         (int)AllocationAction);
    }
}

VOID wdm_dma_free_map_registers(PDMA_ADAPTER DmaAdapter, PVOID MapRegisterBase,
                                ULONG NumberOfMapRegisters)
{
    dma_adapter *a = wdm_dma_adapter(DmaAdapter, "FreeMapRegisters");
    wdm_check_irql_max(DISPATCH_LEVEL, "FreeMapRegisters");
    if (MapRegisterBase == NULL)
        return;   /* a grant of no registers */
    KIRQL old = wdm_dma_lock(a);
    dma_mapreg *run = wdm_dma_run(a, MapRegisterBase);
    if (run == NULL)
        bad_base(a, old, MapRegisterBase, "FreeMapRegisters");
    if (run->run != NumberOfMapRegisters)
        mach_report(a->m, "FreeMapRegisters", "adapter %u: freeing %lu map registers of a "
                    "grant of %lu", a->id, (unsigned long)NumberOfMapRegisters,
                    (unsigned long)run->run);
    release_run(a, old, run, "FreeMapRegisters");
    wdm_dma_dispatch(a);
}

/* ---- MapTransfer / FlushAdapterBuffers (bus master) ------------------------------------ */
/* Map from (mdl, offset) into up to `capacity` elements (sg may be NULL: one element).
 * Each element is one logically contiguous run; *length shrinks to what was mapped. */
static NTSTATUS master_map(dma_adapter *a, PMDL mdl, PVOID base, ULONGLONG offset,
                           PULONG length, bool write, PSCATTER_GATHER_LIST sg, ULONG capacity,
                           uint64_t *first, const char *ddi)
{
    dma_walk w;
    NTSTATUS status = wdm_dma_walk_init(&w, mdl, offset, *length);
    if (!NT_SUCCESS(status))
        return status;
    KIRQL old = wdm_dma_lock(a);
    dma_mapreg *run = wdm_dma_run(a, base);
    if (run == NULL) {
        wdm_dma_unlock(a, old);
        wdm_dma_bugcheck(DMA_BC_MISC, DMA_BC_MISC_OUT_OF_REGISTERS, wdm_dma_walk_pages(w), 0,
                         "%s: adapter %u: no map registers to map through (base %p)", ddi,
                         a->id, base);
    }
    ULONG total = 0;
    ULONG n = 0;
    while (n < capacity && w.left > 0) {
        uint64_t la = 0;
        ULONG got = wdm_dma_map_run(a, run, &w, write, &la);
        if (got == 0)
            break;
        if (sg != NULL) {
            sg->Elements[n].Address.QuadPart = (LONGLONG)la;
            sg->Elements[n].Length = got;
            sg->Elements[n].Reserved = 0;
        }
        if (n == 0)
            *first = la;
        n++;
        total += got;
    }
    ULONG left_regs = run->run - run->cursor;
    wdm_dma_unlock(a, old);
    if (total == 0)
        wdm_dma_bugcheck(DMA_BC_MISC, DMA_BC_MISC_OUT_OF_REGISTERS, 1, left_regs,
                         "%s: adapter %u: the grant's map registers are used up (flush "
                         "before mapping again)", ddi, a->id);
    if (sg != NULL) {
        sg->NumberOfElements = n;
        sg->Reserved = 0;
    }
    mach_trace(a->m, WDFDMA_TR_FLOW, a->id, "hal.map", *first, total);
    *length = total;
    return STATUS_SUCCESS;
}

static NTSTATUS master_flush(dma_adapter *a, PMDL mdl, PVOID base, ULONGLONG offset,
                             ULONG length, bool write, const char *ddi)
{
    dma_walk w;
    NTSTATUS status = wdm_dma_flush_walk_init(&w, mdl, offset, length);
    if (!NT_SUCCESS(status))
        return status;
    KIRQL old = wdm_dma_lock(a);
    dma_mapreg *run = wdm_dma_run(a, base);
    if (run == NULL)
        bad_base(a, old, base, ddi);
    wdm_dma_unmap_run(a, run, write, &w);
    wdm_dma_unlock(a, old);
    mach_trace(a->m, WDFDMA_TR_FLOW, a->id, "hal.flush", length, write);
    return STATUS_SUCCESS;
}

/* CurrentVa as an offset from the MDL's virtual address (legacy routines). */
static ULONGLONG va_offset(PMDL mdl, PVOID current, const char *ddi)
{
    const char *start = MmGetMdlVirtualAddress(mdl);
    if ((const char *)current < start)
        wdm_dma_bugcheck(DMA_BC_MISC, 0x13, (uint64_t)(uintptr_t)mdl, (uint64_t)(uintptr_t)current,
                         "%s: CurrentVa %p is before MDL %p's buffer", ddi, current, (void *)mdl);
    return (ULONGLONG)((const char *)current - start);
}

PHYSICAL_ADDRESS wdm_dma_map_transfer(PDMA_ADAPTER DmaAdapter, PMDL Mdl, PVOID MapRegisterBase,
                                      PVOID CurrentVa, PULONG Length, BOOLEAN WriteToDevice)
{
    dma_adapter *a = wdm_dma_adapter(DmaAdapter, "MapTransfer");
    wdm_check_irql_max(DISPATCH_LEVEL, "MapTransfer");
    PHYSICAL_ADDRESS la = {.QuadPart = 0};
    if (Mdl == NULL || Length == NULL || *Length == 0)
        wdm_dma_bugcheck(DMA_BC_MISC, 0x14, a->id, 0, "MapTransfer: no MDL or no length");
    ULONGLONG offset = va_offset(Mdl, CurrentVa, "MapTransfer");
    uint64_t first = 0;
    NTSTATUS status;
    if (a->master)
        status = master_map(a, Mdl, MapRegisterBase, offset, Length, WriteToDevice != FALSE,
                            NULL, 1, &first, "MapTransfer");
    else
        status = wdm_dma_sys_map(a, Mdl, MapRegisterBase, offset, 0, Length,
                                 WriteToDevice != FALSE, NULL, 0, NULL, NULL, &first);
    if (!NT_SUCCESS(status))
        *Length = 0;
    la.QuadPart = (LONGLONG)first;
    return la;
}

NTSTATUS wdm_dma_map_transfer_ex(PDMA_ADAPTER DmaAdapter, PMDL Mdl, PVOID MapRegisterBase,
                                 ULONGLONG Offset, ULONG DeviceOffset, PULONG Length,
                                 BOOLEAN WriteToDevice, PSCATTER_GATHER_LIST ScatterGatherBuffer,
                                 ULONG ScatterGatherBufferLength,
                                 PDMA_COMPLETION_ROUTINE DmaCompletionRoutine,
                                 PVOID CompletionContext)
{
    dma_adapter *a = wdm_dma_adapter(DmaAdapter, "MapTransferEx");
    wdm_check_irql_max(DISPATCH_LEVEL, "MapTransferEx");
    if (Mdl == NULL || Length == NULL || *Length == 0)
        return STATUS_INVALID_PARAMETER;
    ULONG capacity = 1;
    if (ScatterGatherBuffer != NULL) {
        if (ScatterGatherBufferLength <
            sizeof(SCATTER_GATHER_LIST) + sizeof(SCATTER_GATHER_ELEMENT))
            return STATUS_BUFFER_TOO_SMALL;
        capacity = (ScatterGatherBufferLength - (ULONG)sizeof(SCATTER_GATHER_LIST)) /
                   (ULONG)sizeof(SCATTER_GATHER_ELEMENT);
    }
    uint64_t first = 0;
    if (!a->master)
        return wdm_dma_sys_map(a, Mdl, MapRegisterBase, Offset, DeviceOffset, Length,
                               WriteToDevice != FALSE, ScatterGatherBuffer,
                               ScatterGatherBufferLength, DmaCompletionRoutine,
                               CompletionContext, &first);
    if (DmaCompletionRoutine != NULL)
        return STATUS_INVALID_PARAMETER;   /* completion routines are for system DMA */
    return master_map(a, Mdl, MapRegisterBase, Offset, Length, WriteToDevice != FALSE,
                      ScatterGatherBuffer, capacity, &first, "MapTransferEx");
}

BOOLEAN wdm_dma_flush_adapter_buffers(PDMA_ADAPTER DmaAdapter, PMDL Mdl, PVOID MapRegisterBase,
                                      PVOID CurrentVa, ULONG Length, BOOLEAN WriteToDevice)
{
    dma_adapter *a = wdm_dma_adapter(DmaAdapter, "FlushAdapterBuffers");
    wdm_check_irql_max(DISPATCH_LEVEL, "FlushAdapterBuffers");
    if (Mdl == NULL)
        return FALSE;
    ULONGLONG offset = va_offset(Mdl, CurrentVa, "FlushAdapterBuffers");
    NTSTATUS status;
    if (a->master)
        status = master_flush(a, Mdl, MapRegisterBase, offset, Length, WriteToDevice != FALSE,
                              "FlushAdapterBuffers");
    else
        status = wdm_dma_sys_flush(a, Mdl, MapRegisterBase, offset, Length,
                                   WriteToDevice != FALSE);
    return NT_SUCCESS(status) ? TRUE : FALSE;
}

NTSTATUS wdm_dma_flush_adapter_buffers_ex(PDMA_ADAPTER DmaAdapter, PMDL Mdl,
                                          PVOID MapRegisterBase, ULONGLONG Offset, ULONG Length,
                                          BOOLEAN WriteToDevice)
{
    dma_adapter *a = wdm_dma_adapter(DmaAdapter, "FlushAdapterBuffersEx");
    wdm_check_irql_max(DISPATCH_LEVEL, "FlushAdapterBuffersEx");
    if (Mdl == NULL)
        return STATUS_INVALID_PARAMETER;
    if (!a->master)
        return wdm_dma_sys_flush(a, Mdl, MapRegisterBase, Offset, Length, WriteToDevice != FALSE);
    return master_flush(a, Mdl, MapRegisterBase, Offset, Length, WriteToDevice != FALSE,
                        "FlushAdapterBuffersEx");
}
