/*
 * plx_dpc.c - interrupt handling of a PLX 9x5x-style driver: the ISR reads and
 * acknowledges the status and queues the DPC; the DPC completes transfers
 * (DmaCompleted for writes, DmaCompletedWithLength with the residue for reads,
 * DmaCompletedFinal on errors) and then the transaction and its request.
 * Compile test only.
 */
#include "plx.h"

BOOLEAN PLxEvtInterruptIsr(_In_ WDFINTERRUPT Interrupt, _In_ ULONG MessageID)
{
    PDEVICE_EXTENSION devExt = PLxGetDeviceContext(WdfInterruptGetDevice(Interrupt));
    ULONG intCsr;

    UNREFERENCED_PARAMETER(MessageID);

    intCsr = READ_REGISTER_ULONG(&devExt->Regs->IntCsr);
    if ((intCsr & (PLX_INTCSR_DMA0_ACTIVE | PLX_INTCSR_DMA1_ACTIVE)) == 0) {
        return FALSE; /* not ours: shared line */
    }

    /* Save the status for the DPC (under the interrupt lock) and acknowledge. */
    devExt->IntCsr |= intCsr;
    WRITE_REGISTER_ULONG(&devExt->Regs->DmaCommandStatus, PLX_DMA_CLEAR_INTERRUPT);
    (VOID)WdfInterruptQueueDpcForIsr(Interrupt);
    return TRUE;
}

NTSTATUS PLxEvtInterruptEnable(_In_ WDFINTERRUPT Interrupt, _In_ WDFDEVICE AssociatedDevice)
{
    PDEVICE_EXTENSION devExt = PLxGetDeviceContext(AssociatedDevice);

    UNREFERENCED_PARAMETER(Interrupt);
    WRITE_REGISTER_ULONG(&devExt->Regs->IntCsr, PLX_INTCSR_DMA0_ACTIVE | PLX_INTCSR_DMA1_ACTIVE);
    return STATUS_SUCCESS;
}

NTSTATUS PLxEvtInterruptDisable(_In_ WDFINTERRUPT Interrupt, _In_ WDFDEVICE AssociatedDevice)
{
    PDEVICE_EXTENSION devExt = PLxGetDeviceContext(AssociatedDevice);

    UNREFERENCED_PARAMETER(Interrupt);
    WRITE_REGISTER_ULONG(&devExt->Regs->IntCsr, 0);
    return STATUS_SUCCESS;
}

VOID PLxCompleteTransaction(_In_ PDEVICE_EXTENSION DevExt, _In_ WDFDMATRANSACTION Transaction,
                            _In_ NTSTATUS Status)
{
    WDFREQUEST request = WdfDmaTransactionGetRequest(Transaction);
    size_t bytes = WdfDmaTransactionGetBytesTransferred(Transaction);

    UNREFERENCED_PARAMETER(DevExt);

    /* Release first: completing a request whose transaction is transferring is fatal. */
    (VOID)WdfDmaTransactionRelease(Transaction);
    if (request != NULL) {
        WdfRequestCompleteWithInformation(request, Status, NT_SUCCESS(Status) ? bytes : 0);
    }
}

static BOOLEAN PLxSyncReadAndClearStatus(_In_ WDFINTERRUPT Interrupt, _In_ WDFCONTEXT Context)
{
    PDEVICE_EXTENSION devExt = PLxGetDeviceContext(WdfInterruptGetDevice(Interrupt));
    PULONG status = (PULONG)Context;

    *status = devExt->IntCsr;
    devExt->IntCsr = 0;
    return TRUE;
}

VOID PLxEvtInterruptDpc(_In_ WDFINTERRUPT Interrupt, _In_ WDFOBJECT Device)
{
    PDEVICE_EXTENSION devExt = PLxGetDeviceContext(Device);
    ULONG intCsr = 0;
    NTSTATUS status;
    BOOLEAN transactionComplete;

    (VOID)WdfInterruptSynchronize(Interrupt, PLxSyncReadAndClearStatus, &intCsr);

    if (intCsr & PLX_INTCSR_DMA0_ACTIVE) {
        /* Write: the whole transfer went out. */
        transactionComplete = WdfDmaTransactionDmaCompleted(devExt->WriteDmaTransaction, &status);
        if (transactionComplete) {
            PLxCompleteTransaction(devExt, devExt->WriteDmaTransaction, status);
        }
        /* Otherwise the next transfer is already programmed: status is MORE_PROCESSING. */
    }

    if (intCsr & PLX_INTCSR_DMA1_ACTIVE) {
        WDFDMATRANSACTION transaction = devExt->ReadDmaTransaction;
        size_t current = WdfDmaTransactionGetCurrentDmaTransferLength(transaction);
        ULONG residue = READ_REGISTER_ULONG(&devExt->Regs->DmaResidue[1]);

        if (residue > current) {
            /* Device error: end the transaction with what it moved so far. */
            (VOID)WdfDmaTransactionDmaCompletedFinal(transaction, 0, &status);
            PLxCompleteTransaction(devExt, transaction, STATUS_DEVICE_DATA_ERROR);
            return;
        }

        /* Read: the device reports how much it did not move. */
        transactionComplete =
            WdfDmaTransactionDmaCompletedWithLength(transaction, current - residue, &status);
        if (transactionComplete) {
            PLxCompleteTransaction(devExt, transaction, status);
        }
    }
}

VOID PLxEvtRequestCancel(_In_ WDFREQUEST Request)
{
    PDEVICE_EXTENSION devExt =
        PLxGetDeviceContext(WdfIoQueueGetDevice(WdfRequestGetIoQueue(Request)));
    PREQUEST_CONTEXT reqContext = WdfObjectGet_REQUEST_CONTEXT(Request);
    WDFDMATRANSACTION transaction = devExt->ReadDmaTransaction;

    reqContext->Cancelled = TRUE;
    if (WdfDmaTransactionGetRequest(devExt->WriteDmaTransaction) == Request) {
        transaction = devExt->WriteDmaTransaction;
    }

    /* TRUE: still waiting for map registers; EvtProgramDma will never run. */
    if (WdfDmaTransactionCancel(transaction)) {
        (VOID)WdfDmaTransactionRelease(transaction);
        WdfRequestComplete(Request, STATUS_CANCELLED);
    }
    /* FALSE: EvtProgramDma sees STATUS_CANCELLED from WdfRequestUnmarkCancelable. */
}
