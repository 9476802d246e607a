/*
 * System (slave) DMA: a Master = FALSE adapter drives one channel of a system-DMA
 * controller model (sdmac) through its wdfdma_sysdma_ops. The peripheral's DMA resource
 * (channel + request line, as the v3 description carries them) names the controller.
 *
 * The adapter's one transfer:
 *
 *              MapTransfer(Ex): map one contiguous logical run, start the channel
 *    UNMAPPED ------------------------------------------------------------> RUNNING
 *       ^                                                                     |
 *       |                                        controller done (hardware    |
 *       |  FlushAdapterBuffers(Ex): bounced       context): record it, queue  |
 *       |  reads copied back, cancel flag         the DPC; the DPC calls the  v
 *       +--- cleared ------------------------------------------------------ ENDED
 *
 *   RUNNING  sys.active; wraps of a looped transfer are counted and delivered as
 *            DmaComplete, once each, by the DPC. CancelMappedTransfer stops the channel
 *            (DmaCancelled follows) and marks the channel cancelled: MapTransferEx fails
 *            with STATUS_CANCELLED until the flush.
 *   ENDED    the controller is idle; ReadDmaCounter reports the final residue.
 *   A flush while RUNNING stops the channel and abandons the transfer: its completion
 *   is not delivered (the driver said it is done with it).
 *
 * Hardware context (the controller's done callback) never takes the adapter lock: the
 * controller's device lock is held there, and the HAL calls into the controller with
 * the adapter lock released, so lock order cannot invert. It uses atomics and the DPC.
 */
#include <errno.h>

#include "wdm/dma_internal.h"

static const wdfdma_resource *dma_resource(wdfdma_dev *hw, const DEVICE_DESCRIPTION *d)
{
    for (unsigned i = 0; i < wdfdma_dev_resource_count(hw); i++) {
        const wdfdma_resource *r = wdfdma_dev_resource(hw, i);
        if (r->type == WDFDMA_RES_DMA && r->dma_channel == d->DmaChannel &&
            r->dma_request_line == d->DmaRequestLine)
            return r;
    }
    return NULL;
}

static void sys_dpc(PKDPC dpc, PVOID context, PVOID arg1, PVOID arg2);

NTSTATUS wdm_dma_sys_bind(dma_adapter *a)
{
    static const uint32_t width_bytes[] = {1, 2, 4, 8};   /* Width8Bits .. Width64Bits */
    const DEVICE_DESCRIPTION *d = &a->desc;
    const wdfdma_resource *r = dma_resource(a->hw, d);
    wdfdma_dev *ctrl = r != NULL ? wdfdma_machine_find_device(a->m, r->controller) : NULL;
    const wdfdma_device_model *model = ctrl != NULL ? mach_device_model(ctrl) : NULL;
    if (model == NULL || model->sysdma == NULL) {
        mach_report(a->m, "IoGetDmaAdapter", "device '%s' has no DMA resource for channel %lu, "
                    "request line %lu on a system-DMA controller: no adapter",
                    wdfdma_dev_name(a->hw), (unsigned long)d->DmaChannel,
                    (unsigned long)d->DmaRequestLine);
        return STATUS_INVALID_PARAMETER;
    }
    dma_sys *s = &a->sys;
    s->ctrl = ctrl;
    s->ops = model->sysdma;
    s->channel = d->DmaChannel;
    s->request_line = d->DmaRequestLine;
    s->width_bytes = width_bytes[d->DmaWidth];
    s->device_address = (uint64_t)d->DeviceAddress.QuadPart;
    s->demand = d->DemandMode != FALSE;
    s->looped = d->AutoInitialize != FALSE;
    atomic_init(&s->final_status, -1);
    KeInitializeDpc(&s->dpc, sys_dpc, a);
    /* The controller moves the data: the access check and the mappings belong to it. */
    a->dma_dev = ctrl;
    return wdm_dma_channel_bind(a);
}

/* ---- completion: hardware context, then the DPC ---------------------------------------- */
static void sys_done(void *ctx, int status, uint32_t residue, bool wrap)
{
    dma_adapter *a = ctx;
    dma_sys *s = &a->sys;
    if (wrap) {
        atomic_fetch_add(&s->wraps_pending, 1);
    } else {
        unsigned seq = atomic_fetch_add(&s->finished, 1) + 1;
        if ((int)(seq - atomic_load(&s->abandoned)) <= 0)
            return;   /* flushed while it ran: nobody waits for it */
        atomic_store(&s->last_residue, residue);
        atomic_store(&s->active, false);
        atomic_store(&s->final_status, status);
    }
    /* Processor 0 takes the controller's completions, like an interrupt's affinity. */
    wdm_dpc_insert(a->m, &s->dpc, 0, NULL, NULL);
}

static DMA_COMPLETION_STATUS completion_status(int status)
{
    return status == 0 ? DmaComplete : status == 1 ? DmaError : DmaCancelled;
}

static void call_routine(dma_adapter *a, PDMA_COMPLETION_ROUTINE routine, PDEVICE_OBJECT dev,
                         PVOID context, DMA_COMPLETION_STATUS status)
{
    mach_trace(a->m, WDFDMA_TR_FLOW, a->id, "hal.system.complete", (uint64_t)status, 0);
    mach_callback_enter("DmaCompletionRoutine", a->id);
    routine(&a->pub, dev, context, status);
    mach_callback_exit("DmaCompletionRoutine", a->id);
}

/* Wraps first (they happened before the end), then the final status. */
static void sys_dpc(PKDPC dpc, PVOID context, PVOID arg1, PVOID arg2)
{
    dma_adapter *a = context;
    (void)dpc;
    (void)arg1;
    (void)arg2;
    KIRQL old = wdm_dma_lock(a);
    PDMA_COMPLETION_ROUTINE routine = a->sys.routine;
    PVOID routine_context = a->sys.routine_context;
    PDEVICE_OBJECT device = a->sys.device;
    wdm_dma_unlock(a, old);
    unsigned wraps = atomic_exchange(&a->sys.wraps_pending, 0);
    int final = atomic_exchange(&a->sys.final_status, -1);
    if (routine == NULL)
        return;   /* the driver watches the transfer itself (ReadDmaCounter, interrupts) */
    for (unsigned i = 0; i < wraps; i++)
        call_routine(a, routine, device, routine_context, DmaComplete);
    if (final >= 0)
        call_routine(a, routine, device, routine_context, completion_status(final));
}

/* ---- mapping and starting -------------------------------------------------------------- */
static NTSTATUS start_status(int rc)
{
    switch (rc) {
    case 0:
        return STATUS_SUCCESS;
    case -EBUSY:
        return STATUS_DEVICE_BUSY;
    case -ENXIO:
        return STATUS_INVALID_DEVICE_REQUEST;
    default:
        return STATUS_INVALID_PARAMETER;
    }
}

/* Checks before mapping; lock held. Returns a bug-check reason or NULL. */
static const char *map_refused(dma_adapter *a, dma_mapreg *run)
{
    if (run == NULL)
        return "no map registers granted to map through";
    if (!a->channel_busy)
        return "the adapter channel is not allocated";
    if (a->sys.mapped)
        return "the previous transfer was not flushed (FlushAdapterBuffersEx first)";
    return NULL;
}

NTSTATUS wdm_dma_sys_map(dma_adapter *a, PMDL mdl, PVOID base, ULONGLONG offset,
                         ULONG device_offset, PULONG length, bool write,
                         PSCATTER_GATHER_LIST sg, ULONG sg_size,
                         PDMA_COMPLETION_ROUTINE routine, PVOID context, uint64_t *logical)
{
    dma_sys *s = &a->sys;
    dma_walk w;
    if (sg != NULL && sg_size < sizeof(SCATTER_GATHER_LIST) + sizeof(SCATTER_GATHER_ELEMENT))
        return STATUS_BUFFER_TOO_SMALL;
    NTSTATUS status = wdm_dma_walk_init(&w, mdl, offset, *length);
    if (!NT_SUCCESS(status))
        return status;
    KIRQL old = wdm_dma_lock(a);
    /* CancelMappedTransfer marked the channel: no new transfer until the flush. */
    if (s->cancelled) {
        wdm_dma_unlock(a, old);
        return STATUS_CANCELLED;
    }
    dma_mapreg *run = wdm_dma_run(a, base);
    const char *refused = map_refused(a, run);
    if (refused != NULL) {
        wdm_dma_unlock(a, old);
        wdm_dma_bugcheck(DMA_BC_MISC, 0x15, a->id, (uint64_t)(uintptr_t)base,
                         "MapTransferEx on system adapter %u: %s", a->id, refused);
    }
    /* The controller takes one contiguous logical range: map one run, maybe shorter. */
    ULONG got = wdm_dma_map_run(a, run, &w, write, logical);
    if (got == 0) {
        wdm_dma_unlock(a, old);
        wdm_dma_bugcheck(DMA_BC_MISC, DMA_BC_MISC_OUT_OF_REGISTERS, 1, 0,
                         "MapTransferEx on system adapter %u: map registers used up", a->id);
    }
    s->mapped = true;
    s->map_base = run;
    s->routine = routine;
    s->routine_context = context;
    atomic_fetch_add(&s->started, 1);
    atomic_store(&s->active, true);
    wdm_dma_unlock(a, old);

    wdfdma_sysdma_xfer x = {
        .logical = *logical, .length = got, .device_address = s->device_address + device_offset,
        .to_device = write, .demand_mode = s->demand, .looped = s->looped,
        .width_bytes = s->width_bytes, .request_line = s->request_line,
        .done = sys_done, .ctx = a,
    };
    mach_device_enter(s->ctrl);
    int rc = s->ops->start(s->ctrl, s->channel, &x);
    mach_device_leave(s->ctrl);
    if (rc != 0) {
        old = wdm_dma_lock(a);
        wdm_dma_unmap_run(a, run, true, NULL);   /* nothing moved: nothing to copy back */
        s->mapped = false;
        atomic_fetch_sub(&s->started, 1);
        atomic_store(&s->active, false);
        wdm_dma_unlock(a, old);
        return start_status(rc);
    }
    atomic_fetch_add(&a->dm->system_transfers, 1);
    mach_trace(a->m, WDFDMA_TR_FLOW, a->id, "hal.system.start", *logical, got);
    if (sg != NULL) {
        sg->NumberOfElements = 1;
        sg->Reserved = 0;
        sg->Elements[0].Address.QuadPart = (LONGLONG)*logical;
        sg->Elements[0].Length = got;
        sg->Elements[0].Reserved = 0;
    }
    *length = got;
    return STATUS_SUCCESS;
}

static void stop_channel(dma_adapter *a)
{
    mach_device_enter(a->sys.ctrl);
    a->sys.ops->cancel(a->sys.ctrl, a->sys.channel);
    mach_device_leave(a->sys.ctrl);
}

NTSTATUS wdm_dma_sys_flush(dma_adapter *a, PMDL mdl, PVOID base, ULONGLONG offset,
                           ULONG length, bool write)
{
    dma_sys *s = &a->sys;
    dma_walk w;
    NTSTATUS status = wdm_dma_flush_walk_init(&w, mdl, offset, length);
    if (!NT_SUCCESS(status))
        return status;
    KIRQL old = wdm_dma_lock(a);
    dma_mapreg *run = wdm_dma_run(a, base);
    if (run == NULL) {
        wdm_dma_unlock(a, old);
        wdm_dma_bugcheck(DMA_BC_MAP_REGISTER_FREE, (uint64_t)(uintptr_t)base, a->id, 0,
                         "FlushAdapterBuffersEx: %p is not a map-register base of system "
                         "adapter %u", base, a->id);
    }
    bool running = atomic_load(&s->active);
    if (running) {
        atomic_store(&s->abandoned, atomic_load(&s->started));
        atomic_store(&s->wraps_pending, 0);
        atomic_store(&s->active, false);
    }
    wdm_dma_unmap_run(a, run, write, &w);
    s->mapped = run->cursor != 0;
    s->cancelled = false;
    wdm_dma_unlock(a, old);
    if (running)
        stop_channel(a);
    mach_trace(a->m, WDFDMA_TR_FLOW, a->id, "hal.system.flush", length, running);
    return STATUS_SUCCESS;
}

/* ---- the system-only operations -------------------------------------------------------- */
NTSTATUS wdm_dma_cancel_mapped_transfer(PDMA_ADAPTER DmaAdapter, PVOID DmaTransferContext)
{
    dma_adapter *a = wdm_dma_adapter(DmaAdapter, "CancelMappedTransfer");
    wdm_check_irql_max(DISPATCH_LEVEL, "CancelMappedTransfer");
    if (a->master)
        return STATUS_NOT_SUPPORTED;
    KIRQL old = wdm_dma_lock(a);
    if (!a->channel_busy || a->sys.owner != DmaTransferContext) {
        wdm_dma_unlock(a, old);
        return STATUS_INVALID_PARAMETER;
    }
    if (a->sys.cancelled) {   /* stopped already and not flushed since */
        wdm_dma_unlock(a, old);
        return STATUS_UNSUCCESSFUL;
    }
    a->sys.cancelled = true;
    bool running = atomic_load(&a->sys.active);
    wdm_dma_unlock(a, old);
    mach_trace(a->m, WDFDMA_TR_FLOW, a->id, "hal.system.cancel", running, 0);
    /* Running: the controller reports the stop, and DmaCancelled follows from the DPC. */
    if (running)
        stop_channel(a);
    return STATUS_SUCCESS;
}

ULONG wdm_dma_read_dma_counter(PDMA_ADAPTER DmaAdapter)
{
    dma_adapter *a = wdm_dma_adapter(DmaAdapter, "ReadDmaCounter");
    wdm_check_irql_max(DISPATCH_LEVEL, "ReadDmaCounter");
    if (a->master)
        return 0;
    if (!atomic_load(&a->sys.active))
        return atomic_load(&a->sys.last_residue);
    mach_device_enter(a->sys.ctrl);
    uint32_t residue = a->sys.ops->residue(a->sys.ctrl, a->sys.channel);
    mach_device_leave(a->sys.ctrl);
    return residue;
}

NTSTATUS wdm_dma_configure_adapter_channel(PDMA_ADAPTER DmaAdapter, ULONG FunctionNumber,
                                           PVOID Context)
{
    dma_adapter *a = wdm_dma_adapter(DmaAdapter, "ConfigureAdapterChannel");
    wdm_check_irql_max(DISPATCH_LEVEL, "ConfigureAdapterChannel");
    if (a->master || a->sys.ops->configure == NULL)
        return STATUS_NOT_SUPPORTED;
    mach_device_enter(a->sys.ctrl);
    int rc = a->sys.ops->configure(a->sys.ctrl, a->sys.channel, FunctionNumber, Context);
    mach_device_leave(a->sys.ctrl);
    switch (rc) {
    case 0:
        return STATUS_SUCCESS;
    case -ENOTSUP:
        return STATUS_NOT_SUPPORTED;
    case -EBUSY:
        return STATUS_DEVICE_BUSY;
    default:
        return STATUS_INVALID_PARAMETER;
    }
}

void wdm_dma_sys_teardown(dma_adapter *a)
{
    if (atomic_load(&a->sys.active))
        wdm_dma_bugcheck(DMA_BC_PUT_CHANNELS, (uint64_t)(uintptr_t)a, 1, 0,
                         "PutDmaAdapter: system adapter %u still has a transfer running on "
                         "controller channel %u", a->id, a->sys.channel);
    KeRemoveQueueDpc(&a->sys.dpc);
}
