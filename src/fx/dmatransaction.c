/*
 * WDFDMATRANSACTION: the state machine, the completion arithmetic and the DDIs.
 *
 * The flavour (scatter/gather, packet, system) supplies the resource operations through a
 * const ops table (dmatransaction_sg.c, dmatransaction_packet.c); everything else is here.
 *
 *                 AllocateResources                 Execute
 *   Create ──► CREATED ───────────► RESERVED ──┐   ┌──────────► TRANSFER ◄─┐ DmaCompleted*
 *                 │        (EvtReserveDma)      │   │                │  │   │ (more to do:
 *                 │ Initialize*                 ▼   │                │  └───┘ next transfer
 *                 └─────────────────────► INITIALIZED                │        staged inside)
 *                 ▲    failed Initialize ──► RELEASED                │ last transfer / Final
 *                 │                              ▲                   ▼ / error / Cancel
 *                 │ Initialize*                  │ Release /    TRANSFER_COMPLETED
 *                 └──────────────────────────────┤ FreeResources TRANSFER_FAILED
 *                                                └───────────────────┘
 *   Delete (any state but TRANSFER; TRANSFER only without the verifier) ──► DELETED
 *
 * Invariants:
 *  - CREATED / RELEASED: no MDL, no request, no adapter resources except reserved map
 *    registers (which survive Release; FreeResources or Delete free them).
 *  - INITIALIZED: adapter_info set, remaining == transaction_length, transferred == 0.
 *  - TRANSFER: transferred + cur_length + remaining == transaction_length; the request (if
 *    any) is referenced and completing it is a bug check.
 *  - TRANSFER_COMPLETED / FAILED: cur_length == 0, transfer resources released, request
 *    reference dropped (the request pointer is kept until Release for GetRequest).
 *
 * Wrong-state calls are bug check 0x10D, P1 = WDF_DMA_FATAL_ERROR (8), P2 = transaction
 * handle, P3 = state — unconditionally, as KMDF does (reference §3).
 *
 * Where KMDF's docs and source disagree we follow the source (docs/kmdf-choices.md):
 *  - DmaCompletedWithLength/Final with a length above the current transfer: the source
 *    returns TRUE (transaction finished, STATUS_INVALID_PARAMETER, TRANSFER_FAILED); the
 *    DDI page says FALSE.
 *  - Release does not clear the system-profile callbacks (configure channel, transfer
 *    complete); the DDI pages say it does.
 */
#include "fx/dma.h"
#include "wdm/dma_internal.h"

#include <stdio.h>
#include <string.h>

static const char *const state_names[] = {
    "Invalid", "Created", "Reserved", "Initialized", "Transfer",
    "TransferCompleted", "TransferFailed", "Released", "Deleted",
};

const char *fx_dma_state_name(fx_dma_state s)
{
    return (unsigned)s < sizeof state_names / sizeof state_names[0] ? state_names[s] : "?";
}

void fx_dma_set_state(fx_dma_transaction *t, fx_dma_state s)
{
    t->state = s;
    t->history[t->history_pos++ % FX_DMA_STATE_HISTORY] = (uint8_t)s;
    mach_trace(mach_current(), WDFDMA_TR_FX, t->obj.id, fx_dma_state_name(s), s, 0);
}

static WDFDMATRANSACTION handle_of(fx_dma_transaction *t)
{
    return (WDFDMATRANSACTION)fx_handle(&t->obj);
}

_Noreturn void fx_dma_fatal(fx_dma_transaction *t, const char *what)
{
    char hist[96] = "";
    size_t n = 0;
    unsigned count = t->history_pos < FX_DMA_STATE_HISTORY ? t->history_pos : FX_DMA_STATE_HISTORY;
    for (unsigned i = count; i > 0 && n < sizeof hist; i--) {
        uint8_t s = t->history[(t->history_pos - i) % FX_DMA_STATE_HISTORY];
        n += (size_t)snprintf(hist + n, sizeof hist - n, "%s%s", i == count ? "" : ",",
                              fx_dma_state_name((fx_dma_state)s));
    }
    fx_bugcheck_object(&t->obj, hist, WDF_DMA_FATAL_ERROR, (ULONG_PTR)handle_of(t),
                       (ULONG_PTR)t->state, 0, "%s: WDFDMATRANSACTION %p is in state %s "
                       "(history %s)", what, (void *)handle_of(t), fx_dma_state_name(t->state),
                       hist);
}

PVOID fx_dma_transfer_context(fx_dma_transaction *t)
{
    return fx_dma_enabler_v3(t->enabler) ? t->transfer_context : NULL;
}

static fx_dma_transaction *transaction_from(WDFDMATRANSACTION h, const char *ddi)
{
    return (fx_dma_transaction *)fx_resolve((WDFOBJECT)h, FX_TYPE_DMA_TRANSACTION, ddi);
}

/* ---- MDL arithmetic (KMDF's _ComputeNextTransferAddress / _CalculateRequiredMapRegisters) */

void fx_dma_next_address(PMDL mdl, size_t offset, size_t transferred, PMDL *next_mdl,
                         size_t *next_offset)
{
    size_t left = MmGetMdlByteCount(mdl) - offset;
    if (transferred < left) {
        *next_mdl = mdl;
        *next_offset = offset + transferred;
        return;
    }
    transferred -= left;
    mdl = mdl->Next;
    while (mdl != NULL && transferred >= MmGetMdlByteCount(mdl)) {
        transferred -= MmGetMdlByteCount(mdl);
        mdl = mdl->Next;
    }
    *next_mdl = mdl;
    *next_offset = transferred;
}

static ULONG pages_spanned(size_t page_offset, size_t length)
{
    return (ULONG)((page_offset + length + PAGE_SIZE - 1) >> PAGE_SHIFT);
}

/* KMDF's _CalculateRequiredMapRegisters. Walks the chain from (mdl, offset) for `length`
 * bytes counting the pages each MDL piece spans (a piece starting mid-page pays for the
 * partial page). `possible_length` is the prefix that `available` registers can map, in
 * whole MDL pieces — KMDF never cuts inside a piece here, because a single piece of at
 * most the fragment length always fits. */
NTSTATUS fx_dma_required_map_registers(PMDL mdl, size_t offset, ULONG length, ULONG available,
                                       ULONG *possible_length, ULONG *required)
{
    size_t piece = MmGetMdlByteCount(mdl) - offset;
    size_t covered = piece;
    size_t page_offset = BYTE_OFFSET((PUCHAR)MmGetMdlVirtualAddress(mdl) + offset);
    size_t possible = 0;
    ULONG needed = 0;

    while (covered < length && mdl->Next != NULL) {
        needed += pages_spanned(page_offset, piece);
        if (needed <= available)
            possible = covered;
        mdl = mdl->Next;
        page_offset = MmGetMdlByteOffset(mdl);
        piece = MmGetMdlByteCount(mdl);
        covered += piece;
    }
    if (covered < length)
        return STATUS_BUFFER_TOO_SMALL;   /* the chain is shorter than the transfer */
    size_t last = length - (covered - piece);
    needed += pages_spanned(page_offset, last);
    if (needed <= available)
        possible += last;
    if (possible_length != NULL)
        *possible_length = (ULONG)possible;
    *required = needed;
    return STATUS_SUCCESS;
}

/* ---- the request coupling ------------------------------------------------------------- */

static void request_complete_check(struct fx_request *req, void *ctx)
{
    fx_dma_transaction *t = ctx;
    if (t->state == FX_DMA_TRANSFER)
        fx_bugcheck_object(&t->obj, NULL, WDF_VERIFIER_FATAL_ERROR,
                           (ULONG_PTR)fx_handle((fx_object *)req), (ULONG_PTR)handle_of(t),
                           (ULONG_PTR)t->state,
                    "WDFREQUEST %p completed while its WDFDMATRANSACTION %p is in Transfer",
                    (void *)fx_handle((fx_object *)req), (void *)handle_of(t));
}

static struct fx_request *request_object(fx_dma_transaction *t)
{
    return (struct fx_request *)fx_lookup((WDFOBJECT)t->request, FX_TYPE_REQUEST);
}

/* Execute: hold the request until the transaction ends. */
static void reference_request(fx_dma_transaction *t)
{
    struct fx_request *req = request_object(t);
    if (req == NULL)
        return;
    fx_object_reference((fx_object *)req);
    fx_request_set_complete_check(req, request_complete_check, t);
    t->request_referenced = true;
}

/* End of the transaction: drop the reference but remember the request for GetRequest. */
static void release_request_reference(fx_dma_transaction *t)
{
    if (!t->request_referenced)
        return;
    struct fx_request *req = request_object(t);
    t->request_referenced = false;
    if (req != NULL) {
        fx_request_set_complete_check(req, NULL, NULL);
        fx_object_dereference((fx_object *)req);
    }
}

static void clear_request(fx_dma_transaction *t)
{
    release_request_reference(t);
    t->request = NULL;
}

/* ---- reset, release, dispose ---------------------------------------------------------- */

/* The §6 reset set. Reserved map registers and system callbacks are not touched. */
static void reset_fields(fx_dma_transaction *t)
{
    t->max_fragment = 0;
    t->transaction_length = t->remaining = t->transferred = 0;
    t->direction = WdfDmaDirectionReadFromDevice;
    t->start_mdl = t->cur_mdl = NULL;
    t->start_offset = t->cur_offset = t->cur_length = 0;
    t->require_single_transfer = t->enabler->require_single_transfer;
    t->flags = 0;
    t->acquired_context = NULL;
    t->program_dma = NULL;
    t->reserve_dma = NULL;
}

static void release_now(fx_dma_transaction *t, bool force)
{
    fx_dma_set_state(t, FX_DMA_RELEASED);
    t->ops->release_resources(t, force);
    reset_fields(t);
    clear_request(t);
}

static void release_for_reuse(fx_dma_transaction *t, bool force)
{
    if (!force) {
        if (t->state == FX_DMA_RELEASED) {
            fx_verifier_break("WdfDmaTransactionRelease",
                              "WDFDMATRANSACTION %p is already released",
                              (void *)handle_of(t));
            return;
        }
        if (t->state == FX_DMA_TRANSFER && fx_verifier_on())
            fx_dma_fatal(t, "WdfDmaTransactionRelease");
    }
    release_now(t, force);
}

static void transaction_dispose(fx_object *o)
{
    fx_dma_transaction *t = (fx_dma_transaction *)o;
    if (t->state == FX_DMA_TRANSFER && fx_verifier_on())
        fx_dma_fatal(t, "WdfObjectDelete");
    fx_dma_set_state(t, FX_DMA_DELETED);
    t->ops->release_resources(t, true);
    clear_request(t);
    if (t->ops->dispose != NULL)
        t->ops->dispose(t);
}

static const fx_object_ops transaction_object_ops = {
    .type = FX_TYPE_DMA_TRANSACTION,
    .name = "WDFDMATRANSACTION",
    .dispose = transaction_dispose,
    .driver_deletable = true,
};

/* ---- create --------------------------------------------------------------------------- */

static NTSTATUS transaction_create(fx_dma_enabler *e, PWDF_OBJECT_ATTRIBUTES attributes,
                                   WDFDMATRANSACTION *out)
{
    fx_object *o;
    if (attributes != NULL && attributes->ParentObject != NULL)
        return STATUS_WDF_PARENT_ASSIGNMENT_NOT_ALLOWED;  /* parent is always the enabler */
    NTSTATUS status = fx_object_create(&transaction_object_ops, sizeof(fx_dma_transaction),
                                       attributes, &e->obj, false, &o);
    if (!NT_SUCCESS(status))
        return status;
    fx_dma_transaction *t = (fx_dma_transaction *)o;
    t->enabler = e;
    t->ops = fx_dma_enabler_is_system(e) ? &fx_dma_system_ops
             : e->scatter_gather       ? &fx_dma_sg_ops
                                       : &fx_dma_packet_ops;
    KeInitializeSpinLock(&t->transfer_state_lock);
    reset_fields(t);
    fx_dma_set_state(t, FX_DMA_CREATED);
    /* SG profiles preallocate their SG-list buffer (reference §1). */
    if (e->scatter_gather && e->sglist_preallocated) {
        t->sglist_buffer = ExAllocatePool2(POOL_FLAG_NON_PAGED, e->sglist_size, 'TDxF');
        if (t->sglist_buffer == NULL) {
            fx_object_delete(o);
            return STATUS_INSUFFICIENT_RESOURCES;
        }
        t->sglist_buffer_size = (ULONG)e->sglist_size;
    }
    *out = handle_of(t);
    return STATUS_SUCCESS;
}

/* ---- initialize ----------------------------------------------------------------------- */

static ULONG available_map_registers(fx_dma_transaction *t)
{
    return t->map_registers_reserved > 0 ? t->map_registers_reserved
                                         : t->adapter_info->map_registers;
}

/* KMDF's PrepareForSingleTransfer: one transfer must cover the whole transaction. */
static NTSTATUS prepare_single_transfer(fx_dma_transaction *t)
{
    if (t->transaction_length > t->max_fragment)
        return STATUS_WDF_TOO_MANY_TRANSFERS;
    DMA_TRANSFER_INFO info;
    RtlZeroMemory(&info, sizeof info);
    info.Version = DMA_TRANSFER_INFO_VERSION1;
    PDMA_ADAPTER a = t->adapter_info->adapter;
    NTSTATUS status = a->DmaOperations->GetDmaTransferInfo(
        a, t->start_mdl, t->start_offset, (ULONG)t->transaction_length,
        t->direction == WdfDmaDirectionWriteToDevice, &info);
    if (!NT_SUCCESS(status))
        return status;
    if (info.V1.MapRegisterCount > available_map_registers(t))
        return STATUS_WDF_NOT_ENOUGH_MAP_REGISTERS;
    if (info.V1.ScatterGatherElementCount > t->enabler->max_sg_elements)
        return STATUS_WDF_TOO_FRAGMENTED;
    if (fx_dma_enabler_is_packet(t->enabler) && info.V1.ScatterGatherElementCount > 1)
        return STATUS_WDF_TOO_FRAGMENTED;
    if (t->enabler->scatter_gather && t->enabler->sglist_preallocated &&
        info.V1.ScatterGatherListSize > t->sglist_buffer_size) {
        PVOID buffer = ExAllocatePool2(POOL_FLAG_NON_PAGED, info.V1.ScatterGatherListSize,
                                       'TDxF');
        if (buffer == NULL)
            return STATUS_INSUFFICIENT_RESOURCES;
        ExFreePool(t->sglist_buffer);
        t->sglist_buffer = buffer;
        t->sglist_buffer_size = info.V1.ScatterGatherListSize;
    }
    return STATUS_SUCCESS;
}

/* The MDL chain from `offset` in its first MDL holds at least `length` bytes. A shorter
 * chain would send every later walk (staging, map-register counts) off its end; found by
 * fuzz_ddi (a length past the single MDL of a scatter/gather transaction). */
static bool chain_covers(PMDL mdl, size_t offset, size_t length)
{
    size_t have = MmGetMdlByteCount(mdl) - offset;
    for (PMDL m = mdl->Next; have < length && m != NULL; m = m->Next)
        have += MmGetMdlByteCount(m);
    return have >= length;
}

static NTSTATUS transaction_initialize(fx_dma_transaction *t, PFN_WDF_PROGRAM_DMA program,
                                       WDF_DMA_DIRECTION dir, PMDL mdl, size_t offset,
                                       size_t length)
{
    if (t->state != FX_DMA_CREATED && t->state != FX_DMA_RESERVED &&
        t->state != FX_DMA_RELEASED)
        fx_dma_fatal(t, "WdfDmaTransactionInitialize");
    t->adapter_info = fx_dma_enabler_description(t->enabler, dir);
    if (t->adapter_info->adapter == NULL) {
        /* A system-profile enabler whose direction was never configured. */
        fx_verifier_break("WdfDmaTransactionInitialize",
                          "WDFDMAENABLER %p has no adapter for this direction: call "
                          "WdfDmaEnablerConfigureSystemProfile first",
                          (void *)fx_handle(&t->enabler->obj));
        return STATUS_INVALID_DEVICE_REQUEST;
    }
    t->max_fragment = t->adapter_info->max_fragment;
    t->direction = dir;
    t->start_mdl = t->cur_mdl = mdl;
    t->start_offset = t->cur_offset = offset;
    t->remaining = t->transaction_length = length;
    t->program_dma = program;
    if (fx_dma_enabler_v3(t->enabler)) {
        PDMA_ADAPTER a = t->adapter_info->adapter;
        a->DmaOperations->InitializeDmaTransferContext(a, t->transfer_context);
    }
    /* A failed Initialize leaves the transaction Released, a short chain included. */
    NTSTATUS status = chain_covers(mdl, offset, length) ? STATUS_SUCCESS
                                                        : STATUS_INVALID_PARAMETER;
    if (NT_SUCCESS(status) && t->require_single_transfer) {
        if (t->max_fragment < t->enabler->maximum_length)
            t->max_fragment = t->enabler->maximum_length;
        status = prepare_single_transfer(t);
    }
    if (NT_SUCCESS(status))
        status = t->ops->initialize_resources(t);
    if (NT_SUCCESS(status)) {
        fx_dma_set_state(t, FX_DMA_INITIALIZED);
    } else {
        release_now(t, false);   /* a failed Initialize leaves the transaction Released */
    }
    return status;
}

/* What InitializeUsingRequest takes from a request: MDL and length by major function. */
static NTSTATUS request_buffer(WDFREQUEST request, WDF_DMA_DIRECTION dir, PMDL *mdl,
                               ULONG *length)
{
    PIRP irp = WdfRequestWdmGetIrp(request);
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(irp);
    bool write = dir == WdfDmaDirectionWriteToDevice;
    bool use_output;

    switch (stack->MajorFunction) {
    case IRP_MJ_READ:
        if (write)
            return STATUS_INVALID_DEVICE_REQUEST;
        *length = stack->Parameters.Read.Length;
        use_output = true;
        break;
    case IRP_MJ_WRITE:
        if (!write)
            return STATUS_INVALID_DEVICE_REQUEST;
        *length = stack->Parameters.Write.Length;
        use_output = false;
        break;
    case IRP_MJ_DEVICE_CONTROL:
    case IRP_MJ_INTERNAL_DEVICE_CONTROL:
        switch (METHOD_FROM_CTL_CODE(stack->Parameters.DeviceIoControl.IoControlCode)) {
        case METHOD_BUFFERED:
            *length = write ? stack->Parameters.DeviceIoControl.InputBufferLength
                            : stack->Parameters.DeviceIoControl.OutputBufferLength;
            use_output = !write;
            break;
        case METHOD_IN_DIRECT:   /* the "output" buffer is the data going to the device */
            if (!write)
                return STATUS_INVALID_DEVICE_REQUEST;
            *length = stack->Parameters.DeviceIoControl.OutputBufferLength;
            use_output = true;
            break;
        case METHOD_OUT_DIRECT:
            if (write)
                return STATUS_INVALID_DEVICE_REQUEST;
            *length = stack->Parameters.DeviceIoControl.OutputBufferLength;
            use_output = true;
            break;
        default:                 /* METHOD_NEITHER: no MDL the framework could use */
            fx_verifier_break("WdfDmaTransactionInitializeUsingRequest",
                              "METHOD_NEITHER requests cannot be used for DMA");
            return STATUS_INVALID_DEVICE_REQUEST;
        }
        break;
    default:
        return STATUS_INVALID_DEVICE_REQUEST;
    }
    if (*length == 0)
        return STATUS_INVALID_DEVICE_REQUEST;
    return use_output ? WdfRequestRetrieveOutputWdmMdl(request, mdl)
                      : WdfRequestRetrieveInputWdmMdl(request, mdl);
}

/* ---- execute and completion ----------------------------------------------------------- */

static NTSTATUS transaction_execute(fx_dma_transaction *t, WDFCONTEXT context)
{
    if (t->state != FX_DMA_INITIALIZED)
        fx_dma_fatal(t, "WdfDmaTransactionExecute");
    if (t->request != NULL)
        reference_request(t);
    fx_dma_set_state(t, FX_DMA_TRANSFER);
    t->acquired_context = context;
    fx_dma_stats_count_transaction();
    /* Link the transaction to its request for trace viewers (`wdfdma run --trace` draws
     * request -> transaction -> transfers -> completion): a = the request's object id.
     * It comes just before "transaction" so a reader knows the request at that point. */
    if (t->request != NULL) {
        fx_object *req = fx_lookup((WDFOBJECT)t->request, FX_TYPE_REQUEST);
        if (req != NULL)
            mach_trace(mach_current(), WDFDMA_TR_FLOW, t->obj.id, "transaction-request",
                       req->id, 0);
    }
    mach_trace(mach_current(), WDFDMA_TR_FLOW, t->obj.id, "transaction", t->obj.id,
               t->transaction_length);
    /* EvtProgramDma may run inside start_transfer, complete the request and even delete
     * the transaction: hold a reference so `t` stays valid until we return. */
    fx_object_reference(&t->obj);
    uint32_t owner = wdm_dma_set_owner(t->obj.id);   /* the verifier's grant tag */
    NTSTATUS status = t->ops->start_transfer(t);
    wdm_dma_set_owner(owner);
    if (!NT_SUCCESS(status)) {
        fx_dma_set_state(t, FX_DMA_TRANSFER_FAILED);
        t->acquired_context = NULL;
        /* The failed first transfer never ran: no current transfer (GetCurrentDma-
         * TransferLength is 0 once the transaction has ended; KMDF leaves the staged
         * length behind here — docs/kmdf-choices.md). */
        t->cur_length = 0;
        release_request_reference(t);
    }
    fx_object_dereference(&t->obj);
    return status;
}

/* KMDF's DmaCompleted: account the finished transfer, then either finish the transaction
 * (TRUE + final status) or stage the next transfer before returning (FALSE +
 * STATUS_MORE_PROCESSING_REQUIRED) — EvtProgramDma may run nested inside this call. */
static BOOLEAN transaction_completed(fx_dma_transaction *t, size_t length, NTSTATUS *out,
                                     fx_dma_completion type)
{
    NTSTATUS status;
    if (t->state != FX_DMA_TRANSFER)
        fx_dma_fatal(t, "WdfDmaTransactionDmaCompleted");
    fx_object_reference(&t->obj);
    fx_verifier_dma_completed(t);
    PDMA_ADAPTER adapter = t->adapter_info->adapter;   /* release_resources clears it */
    uint32_t owner = wdm_dma_set_owner(t->obj.id);
    if (type != FX_DMA_ABORT && (t->sg_pending || t->channel_pending)) {
        /* The current transfer has not started: its SG list or adapter channel still
         * waits for map registers, so EvtProgramDma never ran and the device moved
         * nothing. Staging the next transfer here would leave two requests in the HAL
         * sharing one preallocated SG buffer (found by fuzz_ddi), so the transaction ends
         * (TRUE, STATUS_INVALID_DEVICE_STATE) and release_resources withdraws the waiting
         * request. DmaCompletedFinal there is how a watchdog gives up on a transfer that
         * never got its registers: it takes the normal path (transfer_completed maps
         * nothing back for a transfer that never started). */
        fx_verifier_break("WdfDmaTransactionDmaCompleted",
                          "WDFDMATRANSACTION %p: the current transfer has not started (its "
                          "%s still waits for map registers, EvtProgramDma has not run)",
                          (void *)fx_handle(&t->obj),
                          t->sg_pending ? "SG list" : "adapter channel");
        status = STATUS_INVALID_DEVICE_STATE;
        goto end;
    }
    if (type != FX_DMA_FULL && length > t->cur_length) {
        fx_verifier_break("WdfDmaTransactionDmaCompletedWithLength",
                          "transferred length %zu exceeds the current transfer (%zu)",
                          length, t->cur_length);
        status = STATUS_INVALID_PARAMETER;
        /* The transaction ends here: end the transfer's mapping before its resources go,
         * as nothing the device did can be trusted — a 0-byte flush (nothing bounced back).
         * KMDF releases without flushing, which Driver Verifier flags; we do not. */
        t->cur_length = 0;
        (void)t->ops->transfer_completed(t);
        goto end;
    }
    if (type == FX_DMA_FULL) {
        t->transferred += t->cur_length;
    } else {
        t->transferred += length;
        t->remaining += t->cur_length - length;
        t->cur_length = length;
    }
    status = t->ops->transfer_completed(t);
    if (!NT_SUCCESS(status))
        goto end;
    if (t->require_single_transfer && t->remaining > 0) {
        status = STATUS_WDF_TOO_MANY_TRANSFERS;
        goto end;
    }
    if (t->remaining == 0 || type == FX_DMA_ABORT) {
        status = STATUS_SUCCESS;
        goto end;
    }
    status = t->ops->stage_transfer(t);
    if (NT_SUCCESS(status))
        status = STATUS_MORE_PROCESSING_REQUIRED;
end:
    wdm_dma_set_owner(owner);
    BOOLEAN finished = status != STATUS_MORE_PROCESSING_REQUIRED;
    if (finished) {
        fx_dma_set_state(t, NT_SUCCESS(status) ? FX_DMA_TRANSFER_COMPLETED
                                               : FX_DMA_TRANSFER_FAILED);
        t->ops->release_resources(t, false);
        fx_verifier_transaction_end(t, adapter);
        release_request_reference(t);
        t->cur_length = 0;
        mach_trace(mach_current(), WDFDMA_TR_FLOW, t->obj.id, "transaction-done", t->obj.id,
                   t->transferred);
    }
    *out = status;
    fx_object_dereference(&t->obj);
    return finished;
}

void fx_dma_program(fx_dma_transaction *t, PSCATTER_GATHER_LIST sg)
{
    fx_dma_stats_count_transfer(t, sg);
    mach_trace(mach_current(), WDFDMA_TR_FLOW, t->obj.id, "transfer", t->obj.id,
               t->cur_length);
    fx_device *dev = t->enabler->device;
    uint32_t owner = wdm_dma_set_owner(t->obj.id);   /* grants the driver asks for here */
    mach_callback_enter("EvtProgramDma", t->obj.id);
    (void)t->program_dma(handle_of(t), (WDFDEVICE)fx_handle(&dev->obj), t->acquired_context,
                         t->direction, sg);
    mach_callback_exit("EvtProgramDma", t->obj.id);
    wdm_dma_set_owner(owner);
}

/* ---- DDIs ------------------------------------------------------------------------------ */

NTSTATUS WdfDmaTransactionCreate(WDFDMAENABLER DmaEnabler, PWDF_OBJECT_ATTRIBUTES Attributes,
                                 WDFDMATRANSACTION *DmaTransaction)
{
    fx_dma_enabler *e = fx_dma_enabler_from_handle(DmaEnabler, "WdfDmaTransactionCreate");
    fx_check_required(DmaTransaction, "WdfDmaTransactionCreate", "DmaTransaction");
    *DmaTransaction = NULL;
    if (!fx_check_irql(DISPATCH_LEVEL, "WdfDmaTransactionCreate"))
        return STATUS_INVALID_DEVICE_REQUEST;
    return transaction_create(e, Attributes, DmaTransaction);
}

static bool valid_direction(WDF_DMA_DIRECTION dir)
{
    return dir == WdfDmaDirectionReadFromDevice || dir == WdfDmaDirectionWriteToDevice;
}

NTSTATUS WdfDmaTransactionInitializeUsingRequest(WDFDMATRANSACTION DmaTransaction,
                                                 WDFREQUEST Request,
                                                 PFN_WDF_PROGRAM_DMA EvtProgramDmaFunction,
                                                 WDF_DMA_DIRECTION DmaDirection)
{
    static const char ddi[] = "WdfDmaTransactionInitializeUsingRequest";
    fx_dma_transaction *t = transaction_from(DmaTransaction, ddi);
    fx_check_required(EvtProgramDmaFunction, ddi, "EvtProgramDmaFunction");
    if (!fx_check_irql(DISPATCH_LEVEL, ddi))
        return STATUS_INVALID_DEVICE_REQUEST;
    if (!valid_direction(DmaDirection))
        return STATUS_INVALID_PARAMETER;
    (void)fx_resolve((WDFOBJECT)Request, FX_TYPE_REQUEST, ddi);
    PMDL mdl = NULL;
    ULONG length = 0;
    NTSTATUS status = request_buffer(Request, DmaDirection, &mdl, &length);
    if (!NT_SUCCESS(status))
        return status;
    if (!fx_dma_enabler_supports_chains(t->enabler) && length > MmGetMdlByteCount(mdl))
        return STATUS_INVALID_PARAMETER;
    status = transaction_initialize(t, EvtProgramDmaFunction, DmaDirection, mdl, 0, length);
    if (NT_SUCCESS(status))
        t->request = Request;
    return status;
}

NTSTATUS WdfDmaTransactionInitialize(WDFDMATRANSACTION DmaTransaction,
                                     PFN_WDF_PROGRAM_DMA EvtProgramDmaFunction,
                                     WDF_DMA_DIRECTION DmaDirection, PMDL Mdl,
                                     PVOID VirtualAddress, size_t Length)
{
    static const char ddi[] = "WdfDmaTransactionInitialize";
    fx_dma_transaction *t = transaction_from(DmaTransaction, ddi);
    fx_check_required(EvtProgramDmaFunction, ddi, "EvtProgramDmaFunction");
    fx_check_required(Mdl, ddi, "Mdl");
    if (!fx_check_irql(DISPATCH_LEVEL, ddi))
        return STATUS_INVALID_DEVICE_REQUEST;
    if (Length == 0 || !valid_direction(DmaDirection))
        return STATUS_INVALID_PARAMETER;
    PUCHAR start = (PUCHAR)MmGetMdlVirtualAddress(Mdl);
    ULONG mdl_length = MmGetMdlByteCount(Mdl);
    PUCHAR va = (PUCHAR)VirtualAddress;
    if (va < start || va >= start + mdl_length)
        return STATUS_INVALID_PARAMETER;   /* VA must lie inside the first MDL */
    if (!fx_dma_enabler_supports_chains(t->enabler) && va + Length > start + mdl_length)
        return STATUS_INVALID_PARAMETER;
    return transaction_initialize(t, EvtProgramDmaFunction, DmaDirection, Mdl,
                                  (size_t)(va - start), Length);
}

NTSTATUS WdfDmaTransactionInitializeUsingOffset(WDFDMATRANSACTION DmaTransaction,
                                                PFN_WDF_PROGRAM_DMA EvtProgramDmaFunction,
                                                WDF_DMA_DIRECTION DmaDirection, PMDL Mdl,
                                                size_t Offset, size_t Length)
{
    fx_check_required(Mdl, "WdfDmaTransactionInitializeUsingOffset", "Mdl");
    return WdfDmaTransactionInitialize(DmaTransaction, EvtProgramDmaFunction, DmaDirection,
                                       Mdl, (PUCHAR)MmGetMdlVirtualAddress(Mdl) + Offset,
                                       Length);
}

NTSTATUS WdfDmaTransactionExecute(WDFDMATRANSACTION DmaTransaction, WDFCONTEXT Context)
{
    fx_dma_transaction *t = transaction_from(DmaTransaction, "WdfDmaTransactionExecute");
    if (!fx_check_irql(DISPATCH_LEVEL, "WdfDmaTransactionExecute"))
        return STATUS_INVALID_DEVICE_REQUEST;
    mach_preempt_point();
    return transaction_execute(t, Context);
}

NTSTATUS WdfDmaTransactionRelease(WDFDMATRANSACTION DmaTransaction)
{
    fx_dma_transaction *t = transaction_from(DmaTransaction, "WdfDmaTransactionRelease");
    if (fx_check_irql(DISPATCH_LEVEL, "WdfDmaTransactionRelease"))
        release_for_reuse(t, false);
    return STATUS_SUCCESS;
}

static BOOLEAN completed_ddi(WDFDMATRANSACTION h, size_t length, NTSTATUS *status,
                             fx_dma_completion type, const char *ddi)
{
    fx_dma_transaction *t = transaction_from(h, ddi);
    fx_check_required(status, ddi, "Status");
    (void)fx_check_irql(DISPATCH_LEVEL, ddi);   /* verifier: report only */
    mach_preempt_point();
    return transaction_completed(t, length, status, type);
}

BOOLEAN WdfDmaTransactionDmaCompleted(WDFDMATRANSACTION DmaTransaction, NTSTATUS *Status)
{
    return completed_ddi(DmaTransaction, 0, Status, FX_DMA_FULL,
                         "WdfDmaTransactionDmaCompleted");
}

BOOLEAN WdfDmaTransactionDmaCompletedWithLength(WDFDMATRANSACTION DmaTransaction,
                                                size_t TransferredLength, NTSTATUS *Status)
{
    return completed_ddi(DmaTransaction, TransferredLength, Status, FX_DMA_PARTIAL,
                         "WdfDmaTransactionDmaCompletedWithLength");
}

BOOLEAN WdfDmaTransactionDmaCompletedFinal(WDFDMATRANSACTION DmaTransaction,
                                           size_t FinalTransferredLength, NTSTATUS *Status)
{
    return completed_ddi(DmaTransaction, FinalTransferredLength, Status, FX_DMA_ABORT,
                         "WdfDmaTransactionDmaCompletedFinal");
}

size_t WdfDmaTransactionGetBytesTransferred(WDFDMATRANSACTION DmaTransaction)
{
    (void)fx_check_irql(DISPATCH_LEVEL, "WdfDmaTransactionGetBytesTransferred");   /* verifier: report only */
    return transaction_from(DmaTransaction, "WdfDmaTransactionGetBytesTransferred")->transferred;
}

VOID WdfDmaTransactionSetMaximumLength(WDFDMATRANSACTION DmaTransaction, size_t MaximumLength)
{
    (void)fx_check_irql(DISPATCH_LEVEL, "WdfDmaTransactionSetMaximumLength");   /* verifier: report only */
    fx_dma_transaction *t = transaction_from(DmaTransaction, "WdfDmaTransactionSetMaximumLength");
    if (t->adapter_info == NULL) {
        /* KMDF dereferences the adapter set by Initialize; before it there is none. */
        fx_verifier_break("WdfDmaTransactionSetMaximumLength",
                          "call it after WdfDmaTransactionInitialize* (state %s)",
                          fx_dma_state_name(t->state));
        return;
    }
    if (MaximumLength < t->adapter_info->max_fragment)   /* only ever lowers the limit */
        t->max_fragment = MaximumLength;
}

VOID WdfDmaTransactionSetSingleTransferRequirement(WDFDMATRANSACTION DmaTransaction,
                                                   BOOLEAN RequireSingleTransfer)
{
    static const char ddi[] = "WdfDmaTransactionSetSingleTransferRequirement";
    fx_dma_transaction *t = transaction_from(DmaTransaction, ddi);
    if (!fx_check_irql(DISPATCH_LEVEL, ddi))
        return;
    if (!fx_dma_enabler_v3(t->enabler)) {
        fx_verifier_break(ddi, "the WDFDMAENABLER does not use DMA version 3");
        return;
    }
    if (t->state != FX_DMA_CREATED && t->state != FX_DMA_RELEASED &&
        t->state != FX_DMA_RESERVED) {
        fx_verifier_break(ddi, "already initialized (state %s)", fx_dma_state_name(t->state));
        return;
    }
    t->require_single_transfer = RequireSingleTransfer != FALSE;
}

WDFREQUEST WdfDmaTransactionGetRequest(WDFDMATRANSACTION DmaTransaction)
{
    (void)fx_check_irql(DISPATCH_LEVEL, "WdfDmaTransactionGetRequest");   /* verifier: report only */
    return transaction_from(DmaTransaction, "WdfDmaTransactionGetRequest")->request;
}

size_t WdfDmaTransactionGetCurrentDmaTransferLength(WDFDMATRANSACTION DmaTransaction)
{
    (void)fx_check_irql(DISPATCH_LEVEL, "WdfDmaTransactionGetCurrentDmaTransferLength");   /* verifier: report only */
    return transaction_from(DmaTransaction, "WdfDmaTransactionGetCurrentDmaTransferLength")
        ->cur_length;
}

WDFDEVICE WdfDmaTransactionGetDevice(WDFDMATRANSACTION DmaTransaction)
{
    (void)fx_check_irql(DISPATCH_LEVEL, "WdfDmaTransactionGetDevice");   /* verifier: report only */
    fx_dma_transaction *t = transaction_from(DmaTransaction, "WdfDmaTransactionGetDevice");
    return (WDFDEVICE)fx_handle(&t->enabler->device->obj);
}

/* v2: the worst case, pages spanned by each MDL piece. */
static ULONG pages_of_chain(fx_dma_transaction *t)
{
    size_t offset = t->start_offset, length = t->transaction_length;
    ULONG pages = 0;
    for (PMDL mdl = t->start_mdl; mdl != NULL && length != 0; mdl = mdl->Next) {
        size_t count = MmGetMdlByteCount(mdl);
        if (count <= offset) {
            offset -= count;
            continue;
        }
        PUCHAR va = (PUCHAR)MmGetMdlVirtualAddress(mdl) + offset;
        size_t take = count - offset < length ? count - offset : length;
        pages += (ULONG)ADDRESS_AND_SIZE_TO_SPAN_PAGES(va, take);
        length -= take;
        offset = 0;
    }
    return pages;
}

VOID WdfDmaTransactionGetTransferInfo(WDFDMATRANSACTION DmaTransaction, ULONG *MapRegisterCount,
                                      ULONG *ScatterGatherElementCount)
{
    (void)fx_check_irql(DISPATCH_LEVEL, "WdfDmaTransactionGetTransferInfo");   /* verifier: report only */
    fx_dma_transaction *t = transaction_from(DmaTransaction, "WdfDmaTransactionGetTransferInfo");
    if (t->state != FX_DMA_INITIALIZED)
        fx_dma_fatal(t, "WdfDmaTransactionGetTransferInfo");
    DMA_TRANSFER_INFO info;
    RtlZeroMemory(&info, sizeof info);
    info.Version = DMA_TRANSFER_INFO_VERSION1;
    if (fx_dma_enabler_v3(t->enabler)) {
        PDMA_ADAPTER a = t->adapter_info->adapter;
        (void)a->DmaOperations->GetDmaTransferInfo(
            a, t->start_mdl, t->start_offset, (ULONG)t->transaction_length,
            t->direction == WdfDmaDirectionWriteToDevice, &info);
    } else {
        info.V1.MapRegisterCount = pages_of_chain(t);
        info.V1.ScatterGatherElementCount = info.V1.MapRegisterCount;
    }
    if (MapRegisterCount != NULL)
        *MapRegisterCount = info.V1.MapRegisterCount;
    if (ScatterGatherElementCount != NULL)
        *ScatterGatherElementCount = info.V1.ScatterGatherElementCount;
}

VOID WdfDmaTransactionSetImmediateExecution(WDFDMATRANSACTION DmaTransaction,
                                            BOOLEAN UseImmediateExecution)
{
    (void)fx_check_irql(DISPATCH_LEVEL, "WdfDmaTransactionSetImmediateExecution");   /* verifier: report only */
    static const char ddi[] = "WdfDmaTransactionSetImmediateExecution";
    fx_dma_transaction *t = transaction_from(DmaTransaction, ddi);
    if (!fx_dma_enabler_v3(t->enabler)) {
        fx_verifier_break(ddi, "the WDFDMAENABLER does not use DMA version 3");
        return;
    }
    if (t->state != FX_DMA_CREATED && t->state != FX_DMA_INITIALIZED &&
        t->state != FX_DMA_RELEASED)
        fx_verifier_break(ddi, "set it before AllocateResources or Execute (state %s)",
                          fx_dma_state_name(t->state));
    if (UseImmediateExecution)
        t->flags |= DMA_SYNCHRONOUS_CALLBACK;
    else
        t->flags &= ~(ULONG)DMA_SYNCHRONOUS_CALLBACK;
}

PVOID WdfDmaTransactionWdmGetTransferContext(WDFDMATRANSACTION DmaTransaction)
{
    (void)fx_check_irql(DISPATCH_LEVEL, "WdfDmaTransactionWdmGetTransferContext");   /* verifier: report only */
    static const char ddi[] = "WdfDmaTransactionWdmGetTransferContext";
    fx_dma_transaction *t = transaction_from(DmaTransaction, ddi);
    if (!fx_dma_enabler_v3(t->enabler)) {
        fx_verifier_break(ddi, "the WDFDMAENABLER does not use DMA version 3");
        return NULL;
    }
    if (t->state == FX_DMA_INVALID || t->state == FX_DMA_CREATED ||
        t->state == FX_DMA_RELEASED || t->state == FX_DMA_DELETED) {
        fx_verifier_break(ddi, "the transaction is not initialized (state %s)",
                          fx_dma_state_name(t->state));
        return NULL;
    }
    return t->transfer_context;
}

BOOLEAN WdfDmaTransactionCancel(WDFDMATRANSACTION DmaTransaction)
{
    (void)fx_check_irql(DISPATCH_LEVEL, "WdfDmaTransactionCancel");   /* verifier: report only */
    fx_dma_transaction *t = transaction_from(DmaTransaction, "WdfDmaTransactionCancel");
    if (!fx_dma_enabler_v3(t->enabler)) {
        fx_verifier_break("WdfDmaTransactionCancel",
                          "the WDFDMAENABLER does not use DMA version 3");
        return FALSE;
    }
    if (t->state == FX_DMA_CREATED || t->state == FX_DMA_RELEASED ||
        t->state == FX_DMA_DELETED)
        fx_dma_fatal(t, "WdfDmaTransactionCancel");
    if (t->adapter_info == NULL)
        return FALSE;   /* resources already released: nothing can still be queued */
    PDMA_ADAPTER a = t->adapter_info->adapter;
    fx_device *dev = t->enabler->device;
    BOOLEAN cancelled = a->DmaOperations->CancelAdapterChannel(a, dev->wdm, t->transfer_context);
    if (cancelled) {
        /* The allocation was still queued: EvtProgramDma/EvtReserveDma never run. */
        t->channel_pending = false;
        t->sg_pending = false;
        if (t->device_acquired) {
            InterlockedExchange(&dev->packet_dma_busy, 0);
            t->device_acquired = false;
        }
        fx_dma_set_state(t, FX_DMA_TRANSFER_FAILED);
        release_request_reference(t);
        t->cur_length = 0;   /* ended without a transfer (as a failed Execute; fuzz_ddi) */
    }
    return cancelled;
}

/* ---- system-profile DDIs (the setters live here; the behaviour in the system flavour) */

static fx_dma_transaction *system_transaction(WDFDMATRANSACTION h, const char *ddi)
{
    fx_dma_transaction *t = transaction_from(h, ddi);
    (void)fx_check_irql(DISPATCH_LEVEL, ddi);   /* verifier: report only */
    if (!fx_dma_enabler_is_system(t->enabler)) {
        fx_verifier_break(ddi, "WDFDMATRANSACTION %p does not have a system profile",
                          (void *)h);
        return NULL;
    }
    return t;
}

VOID WdfDmaTransactionSetChannelConfigurationCallback(
    WDFDMATRANSACTION DmaTransaction, PFN_WDF_DMA_TRANSACTION_CONFIGURE_DMA_CHANNEL ConfigureRoutine,
    PVOID ConfigureContext)
{
    fx_dma_transaction *t =
        system_transaction(DmaTransaction, "WdfDmaTransactionSetChannelConfigurationCallback");
    if (t == NULL)
        return;
    t->configure_channel = ConfigureRoutine;
    t->configure_context = ConfigureContext;
}

VOID WdfDmaTransactionSetTransferCompleteCallback(
    WDFDMATRANSACTION DmaTransaction,
    PFN_WDF_DMA_TRANSACTION_DMA_TRANSFER_COMPLETE DmaCompletionRoutine,
    PVOID DmaCompletionContext)
{
    fx_dma_transaction *t =
        system_transaction(DmaTransaction, "WdfDmaTransactionSetTransferCompleteCallback");
    if (t == NULL)
        return;
    t->transfer_complete = DmaCompletionRoutine;
    t->transfer_complete_context = DmaCompletionContext;
}

VOID WdfDmaTransactionSetDeviceAddressOffset(WDFDMATRANSACTION DmaTransaction, ULONG Offset)
{
    fx_dma_transaction *t =
        system_transaction(DmaTransaction, "WdfDmaTransactionSetDeviceAddressOffset");
    if (t != NULL)
        t->device_address_offset = Offset;
}
