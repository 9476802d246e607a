/*
 * Scatter/gather transactions (the four ScatterGather profiles).
 *
 * Resources are per transfer: each transfer asks the HAL for an SG list
 * (BuildScatterGatherList into the transaction's preallocated buffer, or
 * GetScatterGatherList when the enabler has NO_SGLIST_PREALLOCATION); the HAL calls back
 * at DISPATCH_LEVEL — possibly inside the call, possibly later when map registers free
 * up — and the callback runs EvtProgramDma. PutScatterGatherList at transfer completion
 * flushes (bounced reads are copied back) and frees the map registers. Several SG
 * transactions of one enabler may run at once.
 */
#include "fx/dma.h"
#include "wdm/dma_internal.h"

/* DRIVER_LIST_CONTROL: the HAL's list for the current transfer is ready. A list that
 * arrives when no transfer waits for it (the driver ended the transaction meanwhile — a
 * driver bug KMDF does not catch) is given back at once instead of reaching the driver. */
static VOID sg_list_ready(PDEVICE_OBJECT device, PIRP irp, PSCATTER_GATHER_LIST sg, PVOID ctx)
{
    UNREFERENCED_PARAMETER(device);
    UNREFERENCED_PARAMETER(irp);
    fx_dma_transaction *t = ctx;
    if (!t->sg_pending || t->state != FX_DMA_TRANSFER) {
        fx_verifier_break("WdfDmaTransactionDmaCompleted",
                          "WDFDMATRANSACTION %p ended before its transfer's SG list was "
                          "granted; the list is put back", (void *)fx_handle(&t->obj));
        t->sg_adapter->DmaOperations->PutScatterGatherList(
            t->sg_adapter, sg, t->direction == WdfDmaDirectionWriteToDevice);
        return;
    }
    t->sg_pending = false;
    t->sglist = sg;
    fx_dma_program(t, sg);
}

/* A list still awaited when the transaction ends or goes away is withdrawn, so the HAL never
 * calls back into a transaction that no longer wants it (or no longer exists). */
static void sg_withdraw(fx_dma_transaction *t)
{
    if (!t->sg_pending)
        return;
    t->sg_pending = false;
    (void)wdm_dma_withdraw_request(t->sg_adapter, t);
}

static void sg_put_list(fx_dma_transaction *t)
{
    if (t->sglist == NULL)
        return;
    PDMA_ADAPTER a = t->adapter_info->adapter;
    KIRQL irql;
    KeRaiseIrql(DISPATCH_LEVEL, &irql);
    a->DmaOperations->PutScatterGatherList(a, t->sglist,
                                           t->direction == WdfDmaDirectionWriteToDevice);
    KeLowerIrql(irql);
    t->sglist = NULL;
}

/* Initialize: every fragment-sized chunk of the chain must fit the SG element limit,
 * counted worst case (pages spanned), or the transaction is STATUS_WDF_TOO_FRAGMENTED. */
static NTSTATUS sg_initialize_resources(fx_dma_transaction *t)
{
    if (t->require_single_transfer)
        return STATUS_SUCCESS;
    PMDL mdl = t->start_mdl;
    size_t offset = t->start_offset, remaining = t->transaction_length, chunk = 0;
    while (remaining != 0) {
        fx_dma_next_address(mdl, offset, chunk, &mdl, &offset);
        chunk = remaining < t->max_fragment ? remaining : t->max_fragment;
        ULONG required, possible;
        NTSTATUS status = fx_dma_required_map_registers(
            mdl, offset, (ULONG)chunk, t->adapter_info->map_registers, &possible, &required);
        if (!NT_SUCCESS(status))
            return status;
        if (required > t->enabler->max_sg_elements)
            return STATUS_WDF_TOO_FRAGMENTED;
        remaining -= chunk;
    }
    return STATUS_SUCCESS;
}

static NTSTATUS sg_request_list(fx_dma_transaction *t)
{
    PDMA_ADAPTER a = t->adapter_info->adapter;
    PDMA_OPERATIONS ops = a->DmaOperations;
    PDEVICE_OBJECT fdo = t->enabler->device->wdm;
    BOOLEAN write = t->direction == WdfDmaDirectionWriteToDevice;
    ULONG length = (ULONG)t->cur_length;
    NTSTATUS status;
    KIRQL irql;

    t->sg_adapter = a;
    t->sg_pending = true;          /* the list routine may run inside the call */
    KeRaiseIrql(DISPATCH_LEVEL, &irql);
    if (fx_dma_enabler_v3(t->enabler)) {
        if (t->enabler->sglist_preallocated)
            status = ops->BuildScatterGatherListEx(a, fdo, t->transfer_context, t->cur_mdl,
                                                   t->cur_offset, length, t->flags,
                                                   sg_list_ready, t, write, t->sglist_buffer,
                                                   t->sglist_buffer_size, NULL, NULL, NULL);
        else
            status = ops->GetScatterGatherListEx(a, fdo, t->transfer_context, t->cur_mdl,
                                                 t->cur_offset, length, t->flags,
                                                 sg_list_ready, t, write, NULL, NULL, NULL);
    } else {
        PVOID va = (PUCHAR)MmGetMdlVirtualAddress(t->cur_mdl) + t->cur_offset;
        if (t->enabler->sglist_preallocated)
            status = ops->BuildScatterGatherList(a, fdo, t->cur_mdl, va, length, sg_list_ready,
                                                 t, write, t->sglist_buffer,
                                                 t->sglist_buffer_size);
        else
            status = ops->GetScatterGatherList(a, fdo, t->cur_mdl, va, length, sg_list_ready, t,
                                               write);
    }
    KeLowerIrql(irql);
    if (!NT_SUCCESS(status))
        t->sg_pending = false;     /* refused: nothing will call back */
    return status;
}

/* The next transfer: advance past what the last one moved, cut to the fragment length and
 * to what the adapter's map registers can span, check the element limit, ask for a list. */
static NTSTATUS sg_stage_transfer(fx_dma_transaction *t)
{
    fx_dma_next_address(t->cur_mdl, t->cur_offset, t->cur_length, &t->cur_mdl, &t->cur_offset);
    t->cur_length = t->remaining < t->max_fragment ? t->remaining : t->max_fragment;
    if (!t->require_single_transfer) {
        ULONG required, possible;
        NTSTATUS status = fx_dma_required_map_registers(
            t->cur_mdl, t->cur_offset, (ULONG)t->cur_length, t->adapter_info->map_registers,
            &possible, &required);
        if (!NT_SUCCESS(status))
            return status;
        t->cur_length = possible;
        if (required > t->enabler->max_sg_elements)
            return STATUS_WDF_TOO_FRAGMENTED;
    }
    t->remaining -= t->cur_length;
    NTSTATUS status = sg_request_list(t);
    if (!NT_SUCCESS(status))
        t->remaining += t->cur_length;
    return status;
}

static NTSTATUS sg_start_transfer(fx_dma_transaction *t)
{
    return sg_stage_transfer(t);
}

static NTSTATUS sg_transfer_completed(fx_dma_transaction *t)
{
    sg_put_list(t);   /* none yet if the list is still awaited (release withdraws it) */
    return STATUS_SUCCESS;
}

static void sg_release_resources(fx_dma_transaction *t, bool force)
{
    UNREFERENCED_PARAMETER(force);
    sg_withdraw(t);
    sg_put_list(t);
    t->adapter_info = NULL;
}

static void sg_dispose(fx_dma_transaction *t)
{
    if (t->sglist_buffer != NULL) {
        ExFreePool(t->sglist_buffer);
        t->sglist_buffer = NULL;
        t->sglist_buffer_size = 0;
    }
}

const fx_dma_transaction_ops fx_dma_sg_ops = {
    .name = "ScatterGather",
    .initialize_resources = sg_initialize_resources,
    .release_resources = sg_release_resources,
    .start_transfer = sg_start_transfer,
    .stage_transfer = sg_stage_transfer,
    .transfer_completed = sg_transfer_completed,
    .dispose = sg_dispose,
};
