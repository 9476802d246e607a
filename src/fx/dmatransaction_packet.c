/*
 * Packet transactions (Packet, Packet64) and system transactions (System, SystemDuplex).
 *
 * Resources are per transaction: one adapter-channel allocation (map registers for a
 * bus master; the system-DMA channel for a system adapter) granted through the HAL's
 * DRIVER_CONTROL callback, then one MapTransfer per transfer into a one-element list
 * (bus master, valid only during EvtProgramDma) or into the enabler's system list.
 * FlushAdapterBuffers ends each transfer; the registers / channel are freed when the
 * transaction ends, unless they were reserved with AllocateResources (kept until
 * FreeResources or Delete).
 *
 * Staging and completion can race on system DMA: the controller may report a transfer
 * complete while EvtProgramDma (or the channel-configuration callback) is still running,
 * and a DmaCompleted from inside the transfer-complete callback would nest the next
 * staging. The transfer-state lock serialises them (KMDF's rule):
 *
 *   stage_transfer:  [lock] staging_thread busy? ── yes ──► rerun_staging = TRUE, return
 *                      │ no: staging_thread = me
 *                      ▼
 *                    loop: configure channel ─► MapTransfer ─► EvtProgramDma
 *                      │   [lock] rerun_completion? ─► call EvtDmaTransactionDmaTransferComplete
 *                      │   [lock] rerun_staging?    ─► loop again
 *                      ▼                              (the DmaCompleted inside it asked for it)
 *                    staging_thread = NULL
 *
 *   completion routine: [lock] staging_thread set? ── yes ──► rerun_completion = status
 *                         │ no
 *                         ▼ call EvtDmaTransactionDmaTransferComplete(status)
 *
 * So the transfer-complete callback never runs nested inside EvtProgramDma, and the
 * next transfer is never staged nested inside the transfer-complete callback.
 */
#include "fx/dma.h"
#include "wdm/dma_internal.h"

#include <string.h>

static const void *thread_token(void)
{
    static _Thread_local char token;
    return &token;
}

static bool is_system(const fx_dma_transaction *t)
{
    return t->ops == &fx_dma_system_ops;
}

static fx_dma_transaction *packet_from(WDFDMATRANSACTION h, const char *ddi)
{
    return (fx_dma_transaction *)fx_resolve((WDFOBJECT)h, FX_TYPE_DMA_TRANSACTION, ddi);
}

/* ---- v2: one packet transaction per device ------------------------------------------- */

static NTSTATUS acquire_device(fx_dma_transaction *t)
{
    if (fx_dma_enabler_v3(t->enabler))
        return STATUS_SUCCESS;   /* the v3 HAL queues packet transactions itself */
    if (InterlockedCompareExchange(&t->enabler->device->packet_dma_busy, 1, 0) != 0)
        return STATUS_WDF_BUSY;
    t->device_acquired = true;
    return STATUS_SUCCESS;
}

static void release_device(fx_dma_transaction *t)
{
    if (t->device_acquired) {
        InterlockedExchange(&t->enabler->device->packet_dma_busy, 0);
        t->device_acquired = false;
    }
}

/* ---- the HAL calls ------------------------------------------------------------------- */

static VOID system_completion(PDMA_ADAPTER adapter, PDEVICE_OBJECT device, PVOID ctx,
                              DMA_COMPLETION_STATUS status);

static NTSTATUS map_transfer(fx_dma_transaction *t, PSCATTER_GATHER_LIST sg, ULONG sg_size,
                             ULONG *mapped)
{
    PDMA_ADAPTER a = t->adapter_info->adapter;
    BOOLEAN write = t->direction == WdfDmaDirectionWriteToDevice;
    *mapped = (ULONG)t->cur_length;
    if (fx_dma_enabler_v3(t->enabler)) {
        PDMA_COMPLETION_ROUTINE done =
            is_system(t) && t->transfer_complete != NULL ? system_completion : NULL;
        return a->DmaOperations->MapTransferEx(a, t->cur_mdl, t->map_register_base,
                                               t->cur_offset, t->device_address_offset, mapped,
                                               write, sg, sg_size, done, t);
    }
    PVOID va = (PUCHAR)MmGetMdlVirtualAddress(t->cur_mdl) + t->cur_offset;
    sg->NumberOfElements = 1;
    sg->Reserved = 0;
    sg->Elements[0].Address =
        a->DmaOperations->MapTransfer(a, t->cur_mdl, t->map_register_base, va, mapped, write);
    sg->Elements[0].Length = *mapped;
    return STATUS_SUCCESS;
}

static NTSTATUS flush_buffers(fx_dma_transaction *t)
{
    PDMA_ADAPTER a = t->adapter_info->adapter;
    BOOLEAN write = t->direction == WdfDmaDirectionWriteToDevice;
    if (fx_dma_enabler_v3(t->enabler))
        return a->DmaOperations->FlushAdapterBuffersEx(a, t->cur_mdl, t->map_register_base,
                                                       t->cur_offset, (ULONG)t->cur_length,
                                                       write);
    PVOID va = (PUCHAR)MmGetMdlVirtualAddress(t->cur_mdl) + t->cur_offset;
    return a->DmaOperations->FlushAdapterBuffers(a, t->cur_mdl, t->map_register_base, va,
                                                 (ULONG)t->cur_length, write)
               ? STATUS_SUCCESS
               : STATUS_UNSUCCESSFUL;
}

static void free_map_registers_and_adapter(fx_dma_transaction *t)
{
    PDMA_ADAPTER a = t->adapter_info->adapter;
    KIRQL irql;
    KeRaiseIrql(DISPATCH_LEVEL, &irql);
    if (is_system(t))
        a->DmaOperations->FreeAdapterChannel(a);
    else if (t->map_register_base != NULL)
        a->DmaOperations->FreeMapRegisters(a, t->map_register_base,
                                           t->map_registers_reserved > 0
                                               ? t->map_registers_reserved
                                               : t->map_registers_needed);
    KeLowerIrql(irql);
}

/* ---- staging ---------------------------------------------------------------------------- */

/* System profiles: the driver's channel configuration runs before every mapping; FALSE
 * stops staging (nothing is mapped, EvtProgramDma is not called). */
static bool pre_map(fx_dma_transaction *t)
{
    if (!is_system(t) || t->configure_channel == NULL)
        return true;
    fx_device *dev = t->enabler->device;
    mach_callback_enter("EvtDmaTransactionConfigureDmaChannel", t->obj.id);
    BOOLEAN ok = t->configure_channel((WDFDMATRANSACTION)fx_handle(&t->obj),
                                      (WDFDEVICE)fx_handle(&dev->obj), t->configure_context,
                                      t->cur_mdl, t->cur_offset, t->cur_length);
    mach_callback_exit("EvtDmaTransactionConfigureDmaChannel", t->obj.id);
    return ok != FALSE;
}

/* With reserved map registers a transfer is capped at what they span from its start. */
static void cap_to_reserved(fx_dma_transaction *t)
{
    if (t->require_single_transfer || t->map_registers_reserved == 0 ||
        t->map_registers_needed <= t->map_registers_reserved)
        return;
    size_t offset = t->cur_offset;
    PMDL mdl = t->cur_mdl;
    while (mdl != NULL && MmGetMdlByteCount(mdl) < offset) {
        offset -= MmGetMdlByteCount(mdl);
        mdl = mdl->Next;
    }
    size_t page_offset = mdl != NULL ? BYTE_OFFSET(MmGetMdlByteOffset(mdl) + offset) : 0;
    size_t cap = PAGE_SIZE * (t->map_registers_reserved - 1) + (PAGE_SIZE - page_offset);
    if (t->cur_length > cap)
        t->cur_length = cap;
}

/* Map and program one transfer. Returns the status of the mapping. */
static NTSTATUS stage_one(fx_dma_transaction *t)
{
    /* A bus master's list lives only for the callback, like KMDF's stack buffer. */
    union {
        SCATTER_GATHER_LIST list;
        UCHAR bytes[sizeof(SCATTER_GATHER_LIST) + sizeof(SCATTER_GATHER_ELEMENT)];
    } local;

    t->cur_length = t->remaining < t->max_fragment ? t->remaining : t->max_fragment;
    t->cur_offset = t->start_offset + t->transferred;
    cap_to_reserved(t);
    t->remaining -= t->cur_length;
    if (t->cancelled)
        return STATUS_CANCELLED;
    if (!pre_map(t))
        return STATUS_SUCCESS;

    PSCATTER_GATHER_LIST sg = t->enabler->bus_master ? &local.list : t->enabler->system_sglist;
    ULONG sg_size = t->enabler->bus_master ? (ULONG)sizeof local : (ULONG)t->enabler->sglist_size;
    ULONG mapped;
    NTSTATUS status = map_transfer(t, sg, sg_size, &mapped);
    if (!NT_SUCCESS(status))
        return status;
    if (mapped < t->cur_length) {   /* the HAL mapped less: the rest goes back */
        t->remaining += t->cur_length - mapped;
        t->cur_length = mapped;
    }
    if (t->program_dma != NULL)
        fx_dma_program(t, sg);
    return STATUS_SUCCESS;
}

/* After a staging pass: run a deferred transfer-complete callback, and tell whether a
 * DmaCompleted issued meanwhile asked for another pass. */
static bool finish_pass(fx_dma_transaction *t)
{
    KIRQL irql;
    KeAcquireSpinLock(&t->transfer_state_lock, &irql);
    if (t->rerun_completion) {
        DMA_COMPLETION_STATUS status = t->completion_status;
        t->rerun_completion = false;
        t->completion_status_set = false;
        KeReleaseSpinLock(&t->transfer_state_lock, irql);
        fx_dma_call_transfer_complete(t, status);
        KeAcquireSpinLock(&t->transfer_state_lock, &irql);
    }
    bool again = t->rerun_staging;
    t->rerun_staging = false;
    if (!again)
        t->staging_thread = NULL;
    KeReleaseSpinLock(&t->transfer_state_lock, irql);
    return again;
}

static NTSTATUS packet_stage_transfer(fx_dma_transaction *t)
{
    KIRQL irql;
    KeAcquireSpinLock(&t->transfer_state_lock, &irql);
    if (t->staging_thread != NULL) {
        t->rerun_staging = true;     /* the thread that is staging will run it */
        KeReleaseSpinLock(&t->transfer_state_lock, irql);
        return STATUS_SUCCESS;
    }
    t->staging_thread = thread_token();
    KeReleaseSpinLock(&t->transfer_state_lock, irql);

    fx_object_reference(&t->obj);
    NTSTATUS status;
    do {
        status = stage_one(t);
    } while (finish_pass(t));
    fx_object_dereference(&t->obj);
    return status;
}

/* DRIVER_CONTROL: the channel / map registers are granted. */
static IO_ALLOCATION_ACTION adapter_control(PDEVICE_OBJECT device, PIRP irp,
                                            PVOID map_register_base, PVOID ctx)
{
    UNREFERENCED_PARAMETER(device);
    UNREFERENCED_PARAMETER(irp);
    fx_dma_transaction *t = ctx;
    t->channel_pending = false;
    IO_ALLOCATION_ACTION action = is_system(t) ? KeepObject : DeallocateObjectKeepRegisters;
    if (!t->map_register_base_set) {
        t->map_register_base = map_register_base;
        t->map_register_base_set = true;
    }
    if (t->state == FX_DMA_RESERVED) {
        PFN_WDF_RESERVE_DMA reserved = t->reserve_dma;
        t->reserve_dma = NULL;
        mach_callback_enter("EvtReserveDma", t->obj.id);
        reserved((WDFDMATRANSACTION)fx_handle(&t->obj), t->acquired_context);
        mach_callback_exit("EvtReserveDma", t->obj.id);
        return action;
    }
    NTSTATUS status = packet_stage_transfer(t);
    if (!NT_SUCCESS(status) && is_system(t))
        fx_dma_call_transfer_complete(t, status == STATUS_CANCELLED ? DmaCancelled : DmaError);
    return action;
}

static NTSTATUS allocate_channel(fx_dma_transaction *t, bool reserved)
{
    PDMA_ADAPTER a = t->adapter_info->adapter;
    PDEVICE_OBJECT fdo = t->enabler->device->wdm;
    NTSTATUS status = STATUS_SUCCESS;
    KIRQL irql;
    KeRaiseIrql(DISPATCH_LEVEL, &irql);
    t->channel_pending = !reserved;   /* the grant may run inside the call */
    if (reserved)
        (void)adapter_control(fdo, NULL, t->map_register_base, t);
    else if (fx_dma_enabler_v3(t->enabler))
        status = a->DmaOperations->AllocateAdapterChannelEx(a, fdo, t->transfer_context,
                                                            t->map_registers_needed, t->flags,
                                                            adapter_control, t, NULL);
    else
        status = a->DmaOperations->AllocateAdapterChannel(a, fdo, t->map_registers_needed,
                                                          adapter_control, t);
    KeLowerIrql(irql);
    if (!NT_SUCCESS(status))
        t->channel_pending = false;
    return status;
}

static NTSTATUS packet_start_transfer(fx_dma_transaction *t)
{
    NTSTATUS status = acquire_device(t);
    if (!NT_SUCCESS(status)) {
        fx_verifier_break("WdfDmaTransactionExecute",
                          "only one transaction at a time on a DMA v2 packet WDFDMAENABLER");
        return status;
    }
    t->cur_length = t->remaining < t->max_fragment ? t->remaining : t->max_fragment;
    t->cur_offset = t->start_offset;
    if (t->state == FX_DMA_RESERVED) {
        t->map_registers_needed = t->map_registers_reserved;
        status = allocate_channel(t, false);
    } else {
        if (!t->enabler->bus_master) {
            t->map_registers_needed = t->adapter_info->map_registers;
        } else {
            /* The first transfer's pages; a partial first transfer is costed as if it
             * started on the last byte of a page (the worst case for later ones). */
            PVOID va = t->cur_length == t->remaining
                           ? (PUCHAR)MmGetMdlVirtualAddress(t->cur_mdl) + t->cur_offset
                           : (PVOID)(ULONG_PTR)(PAGE_SIZE - 1);
            t->map_registers_needed = (ULONG)ADDRESS_AND_SIZE_TO_SPAN_PAGES(va, t->cur_length);
        }
        status = allocate_channel(t, t->map_registers_reserved > 0);
    }
    if (!NT_SUCCESS(status))
        release_device(t);
    return status;
}

static NTSTATUS packet_transfer_completed(fx_dma_transaction *t)
{
    if (t->channel_pending)
        return STATUS_SUCCESS;   /* never granted: nothing mapped, nothing to flush */
    NTSTATUS status = flush_buffers(t);
    if (!NT_SUCCESS(status))
        fx_verifier_break("WdfDmaTransactionDmaCompleted", "FlushAdapterBuffers failed: %#x",
                          (unsigned)status);
    return status;
}

static NTSTATUS packet_initialize_resources(fx_dma_transaction *t)
{
    KIRQL irql;
    t->device_address_offset = 0;
    KeAcquireSpinLock(&t->transfer_state_lock, &irql);
    t->cancelled = false;
    KeReleaseSpinLock(&t->transfer_state_lock, irql);
    return STATUS_SUCCESS;
}

static void packet_release_resources(fx_dma_transaction *t, bool force)
{
    /* The transaction ends (or goes) while its allocation still waits in the HAL: withdraw
     * it, so the grant never calls back into it. */
    if (t->channel_pending && t->adapter_info != NULL) {
        t->channel_pending = false;
        if (wdm_dma_withdraw_request(t->adapter_info->adapter, t))
            release_device(t);
    }
    if (!t->map_register_base_set)
        return;
    if (t->map_registers_reserved > 0 && !force)
        return;   /* reserved registers survive Release and transaction end */
    free_map_registers_and_adapter(t);
    t->map_register_base = NULL;
    t->map_register_base_set = false;
    release_device(t);
    t->adapter_info = NULL;
    t->map_registers_reserved = 0;
}

/* ---- system transfers: the controller's completion ----------------------------------- */

void fx_dma_call_transfer_complete(fx_dma_transaction *t, DMA_COMPLETION_STATUS status)
{
    if (t->transfer_complete == NULL)
        return;
    fx_device *dev = t->enabler->device;
    mach_callback_enter("EvtDmaTransactionDmaTransferComplete", t->obj.id);
    t->transfer_complete((WDFDMATRANSACTION)fx_handle(&t->obj), (WDFDEVICE)fx_handle(&dev->obj),
                         t->transfer_complete_context, t->direction, status);
    mach_callback_exit("EvtDmaTransactionDmaTransferComplete", t->obj.id);
}

static VOID system_completion(PDMA_ADAPTER adapter, PDEVICE_OBJECT device, PVOID ctx,
                              DMA_COMPLETION_STATUS status)
{
    UNREFERENCED_PARAMETER(adapter);
    UNREFERENCED_PARAMETER(device);
    fx_dma_transaction *t = ctx;
    KIRQL irql;
    KeAcquireSpinLock(&t->transfer_state_lock, &irql);
    bool defer = t->staging_thread != NULL;
    if (defer) {
        t->completion_status = status;
        t->completion_status_set = true;
        t->rerun_completion = true;
    }
    KeReleaseSpinLock(&t->transfer_state_lock, irql);
    mach_trace(mach_current(), WDFDMA_TR_FX, t->obj.id,
               defer ? "transfer-complete-deferred" : "transfer-complete", status, 0);
    if (!defer)
        fx_dma_call_transfer_complete(t, status);
}

const fx_dma_transaction_ops fx_dma_packet_ops = {
    .name = "Packet",
    .initialize_resources = packet_initialize_resources,
    .release_resources = packet_release_resources,
    .start_transfer = packet_start_transfer,
    .stage_transfer = packet_stage_transfer,
    .transfer_completed = packet_transfer_completed,
};

const fx_dma_transaction_ops fx_dma_system_ops = {
    .name = "System",
    .initialize_resources = packet_initialize_resources,
    .release_resources = packet_release_resources,
    .start_transfer = packet_start_transfer,
    .stage_transfer = packet_stage_transfer,
    .transfer_completed = packet_transfer_completed,
};

/* ---- reservation (AllocateResources / FreeResources) --------------------------------- */

static NTSTATUS reserve_adapter(fx_dma_transaction *t, ULONG count, WDF_DMA_DIRECTION dir,
                                PFN_WDF_RESERVE_DMA callback, PVOID context)
{
    if (count == 0) {
        if (t->state != FX_DMA_INITIALIZED)   /* 0 = compute from the initialized MDL */
            fx_dma_fatal(t, "WdfDmaTransactionAllocateResources");
    } else if (t->state != FX_DMA_CREATED && t->state != FX_DMA_INITIALIZED &&
               t->state != FX_DMA_RELEASED) {
        fx_dma_fatal(t, "WdfDmaTransactionAllocateResources");
    }
    if (t->map_registers_reserved != 0)
        fx_dma_fatal(t, "WdfDmaTransactionAllocateResources");

    t->adapter_info = fx_dma_enabler_description(t->enabler, dir);
    if (t->adapter_info->adapter == NULL)
        return STATUS_INVALID_DEVICE_REQUEST;   /* system direction not configured */
    NTSTATUS status = STATUS_SUCCESS;
    if (count != 0) {
        t->map_registers_reserved = count;
    } else if (!t->enabler->bus_master) {
        t->map_registers_reserved = t->adapter_info->map_registers;
    } else {
        status = fx_dma_required_map_registers(t->start_mdl, t->start_offset,
                                               (ULONG)t->transaction_length,
                                               t->adapter_info->map_registers, NULL,
                                               &t->map_registers_reserved);
        if (!NT_SUCCESS(status))
            goto failed;
    }
    t->direction = dir;
    t->start_mdl = t->cur_mdl = NULL;
    t->start_offset = t->cur_offset = 0;
    t->remaining = t->transaction_length = 0;
    t->reserve_dma = callback;
    t->program_dma = NULL;
    t->acquired_context = context;
    PDMA_ADAPTER a = t->adapter_info->adapter;
    a->DmaOperations->InitializeDmaTransferContext(a, t->transfer_context);
    (void)packet_initialize_resources(t);
    fx_dma_set_state(t, FX_DMA_RESERVED);
    status = packet_start_transfer(t);
    if (NT_SUCCESS(status))
        return status;
failed:
    fx_dma_set_state(t, FX_DMA_TRANSFER_FAILED);
    t->reserve_dma = NULL;
    t->acquired_context = NULL;
    t->map_registers_reserved = 0;
    return status;
}

static bool reservable(fx_dma_transaction *t, const char *ddi)
{
    if (!fx_dma_enabler_v3(t->enabler)) {
        fx_verifier_break(ddi, "the WDFDMAENABLER does not use DMA version 3");
        return false;
    }
    if (t->enabler->scatter_gather) {
        fx_verifier_break(ddi, "only packet and system profiles reserve resources");
        return false;
    }
    return true;
}

NTSTATUS WdfDmaTransactionAllocateResources(WDFDMATRANSACTION DmaTransaction,
                                            WDF_DMA_DIRECTION DmaDirection,
                                            ULONG RequiredMapRegisters,
                                            PFN_WDF_RESERVE_DMA EvtReserveDmaFunction,
                                            PVOID EvtReserveDmaContext)
{
    static const char ddi[] = "WdfDmaTransactionAllocateResources";
    fx_dma_transaction *t = packet_from(DmaTransaction, ddi);
    if (!fx_check_irql(DISPATCH_LEVEL, ddi))
        return STATUS_INVALID_DEVICE_REQUEST;
    if (!reservable(t, ddi))
        return STATUS_INVALID_DEVICE_REQUEST;
    if (DmaDirection != WdfDmaDirectionReadFromDevice &&
        DmaDirection != WdfDmaDirectionWriteToDevice) {
        fx_verifier_break(ddi, "bad direction %d", (int)DmaDirection);
        return STATUS_INVALID_PARAMETER;
    }
    fx_check_required((const void *)EvtReserveDmaFunction, ddi, "EvtReserveDmaFunction");
    return reserve_adapter(t, RequiredMapRegisters, DmaDirection, EvtReserveDmaFunction,
                           EvtReserveDmaContext);
}

VOID WdfDmaTransactionFreeResources(WDFDMATRANSACTION DmaTransaction)
{
    (void)fx_check_irql(DISPATCH_LEVEL, "WdfDmaTransactionFreeResources");   /* verifier: report only */
    static const char ddi[] = "WdfDmaTransactionFreeResources";
    fx_dma_transaction *t = packet_from(DmaTransaction, ddi);
    if (!reservable(t, ddi))
        return;
    if (t->state == FX_DMA_INVALID || t->state == FX_DMA_CREATED ||
        t->state == FX_DMA_TRANSFER || t->state == FX_DMA_DELETED)
        fx_dma_fatal(t, ddi);
    /* ReleaseForReuse(TRUE): reserved registers go too. */
    fx_dma_set_state(t, FX_DMA_RELEASED);
    packet_release_resources(t, true);
    t->max_fragment = 0;
    t->transaction_length = t->remaining = t->transferred = 0;
    t->start_mdl = t->cur_mdl = NULL;
    t->start_offset = t->cur_offset = t->cur_length = 0;
    t->require_single_transfer = t->enabler->require_single_transfer;
    t->flags = 0;
    t->acquired_context = NULL;
    t->program_dma = NULL;
    t->reserve_dma = NULL;
}

VOID WdfDmaTransactionStopSystemTransfer(WDFDMATRANSACTION DmaTransaction)
{
    (void)fx_check_irql(DISPATCH_LEVEL, "WdfDmaTransactionStopSystemTransfer");   /* verifier: report only */
    static const char ddi[] = "WdfDmaTransactionStopSystemTransfer";
    fx_dma_transaction *t = packet_from(DmaTransaction, ddi);
    if (!fx_dma_enabler_is_system(t->enabler)) {
        fx_verifier_break(ddi, "WDFDMATRANSACTION %p does not have a system profile",
                          (void *)DmaTransaction);
        return;
    }
    t->cancelled = true;
    NTSTATUS status = STATUS_UNSUCCESSFUL;
    if (t->adapter_info != NULL) {
        PDMA_ADAPTER a = t->adapter_info->adapter;
        status = a->DmaOperations->CancelMappedTransfer(a, t->transfer_context);
    }
    /* Nothing to stop (never mapped, already stopped): KMDF's verifier treats it as fatal. */
    if (!NT_SUCCESS(status) && fx_verifier_on())
        fx_dma_fatal(t, ddi);
}
