/*
 * plx_program_dma.c - request handlers and EvtProgramDma of a PLX 9x5x-style driver:
 * initialize the reused transaction from the request, execute it, and turn each SG list
 * into a chain of hardware descriptors in the common buffer. Compile test only.
 */
#include "plx.h"

static VOID PLxStartRequest(_In_ PDEVICE_EXTENSION DevExt, _In_ WDFDMATRANSACTION Transaction,
                            _In_ WDFREQUEST Request, _In_ PFN_WDF_PROGRAM_DMA ProgramDma,
                            _In_ WDF_DMA_DIRECTION Direction)
{
    NTSTATUS status;

    status = WdfDmaTransactionInitializeUsingRequest(Transaction, Request, ProgramDma, Direction);
    if (!NT_SUCCESS(status)) {
        goto err_complete;
    }
    /* Initialize resets the per-transfer limit, so lower it afterwards. */
    WdfDmaTransactionSetMaximumLength(Transaction, DevExt->MaximumTransferLength);
    PLxGetTransactionContext(Transaction)->Request = Request;

    status = WdfRequestMarkCancelableEx(Request, PLxEvtRequestCancel);
    if (!NT_SUCCESS(status)) {
        goto err_release;
    }

    /*
     * EvtProgramDma may run before Execute returns. On failure it has not run; the
     * transaction is ours to release.
     */
    status = WdfDmaTransactionExecute(Transaction, DevExt);
    if (!NT_SUCCESS(status)) {
        if (WdfRequestUnmarkCancelable(Request) == STATUS_CANCELLED) {
            /* EvtRequestCancel owns completion now. */
            (VOID)WdfDmaTransactionRelease(Transaction);
            return;
        }
        goto err_release;
    }
    return;

err_release:
    (VOID)WdfDmaTransactionRelease(Transaction);
err_complete:
    WdfRequestCompleteWithInformation(Request, status, 0);
}

VOID PLxEvtIoRead(_In_ WDFQUEUE Queue, _In_ WDFREQUEST Request, _In_ size_t Length)
{
    PDEVICE_EXTENSION devExt = PLxGetDeviceContext(WdfIoQueueGetDevice(Queue));

    if (Length == 0) {
        WdfRequestComplete(Request, STATUS_INVALID_PARAMETER);
        return;
    }
    PLxStartRequest(devExt, devExt->ReadDmaTransaction, Request, PLxEvtProgramReadDma,
                    WdfDmaDirectionReadFromDevice);
}

VOID PLxEvtIoWrite(_In_ WDFQUEUE Queue, _In_ WDFREQUEST Request, _In_ size_t Length)
{
    PDEVICE_EXTENSION devExt = PLxGetDeviceContext(WdfIoQueueGetDevice(Queue));
    PMDL mdl;
    NTSTATUS status;

    /* The same transfer initialized from the MDL directly (Initialize, not UsingRequest). */
    if (Length > devExt->MaximumTransferLength * PLX_MAX_DESCRIPTORS) {
        status = WdfRequestRetrieveInputWdmMdl(Request, &mdl);
        if (NT_SUCCESS(status)) {
            status = WdfDmaTransactionInitialize(devExt->WriteDmaTransaction, PLxEvtProgramWriteDma,
                                                 WdfDmaDirectionWriteToDevice, mdl,
                                                 MmGetMdlVirtualAddress(mdl), Length);
        }
        if (NT_SUCCESS(status)) {
            status = WdfDmaTransactionExecute(devExt->WriteDmaTransaction, devExt);
            if (NT_SUCCESS(status)) {
                return;
            }
            (VOID)WdfDmaTransactionRelease(devExt->WriteDmaTransaction);
        }
        WdfRequestComplete(Request, status);
        return;
    }
    PLxStartRequest(devExt, devExt->WriteDmaTransaction, Request, PLxEvtProgramWriteDma,
                    WdfDmaDirectionWriteToDevice);
}

/*
 * Builds the descriptor chain for one transfer. The device-memory offset of this transfer
 * is the number of bytes the transaction has already moved.
 */
static VOID PLxBuildChain(_In_ PDMA_TRANSFER_ELEMENT Ring, _In_ PHYSICAL_ADDRESS RingLA,
                          _In_ PSCATTER_GATHER_LIST SgList, _In_ size_t DeviceOffset)
{
    ULONG i;
    ULONG localAddress = (ULONG)DeviceOffset;

    for (i = 0; i < SgList->NumberOfElements && i < PLX_MAX_DESCRIPTORS; i++) {
        Ring[i].PciAddressLow = SgList->Elements[i].Address.LowPart;
        Ring[i].PciAddressHigh = (ULONG)SgList->Elements[i].Address.HighPart;
        Ring[i].LocalAddress = localAddress;
        Ring[i].TransferSize = SgList->Elements[i].Length;
        Ring[i].DescPtr = (i + 1 == SgList->NumberOfElements)
                              ? 0x2 /* end of chain */
                              : RingLA.LowPart + (ULONG)((i + 1) * sizeof(DMA_TRANSFER_ELEMENT));
        localAddress += SgList->Elements[i].Length;
    }
}

static BOOLEAN PLxProgramDma(_In_ WDFDMATRANSACTION Transaction, _In_ WDFDEVICE Device,
                             _In_ WDF_DMA_DIRECTION Direction, _In_ PSCATTER_GATHER_LIST SgList)
{
    PDEVICE_EXTENSION devExt = PLxGetDeviceContext(Device);
    ULONG channel = (Direction == WdfDmaDirectionWriteToDevice) ? 0 : 1;
    size_t offset = WdfDmaTransactionGetBytesTransferred(Transaction);
    WDFREQUEST request = WdfDmaTransactionGetRequest(Transaction);
    NTSTATUS status;

    if (request != NULL && offset == 0) {
        /* The request may already be cancelled: then the cancel routine completes it. */
        status = WdfRequestUnmarkCancelable(request);
        if (status == STATUS_CANCELLED) {
            (VOID)WdfDmaTransactionDmaCompletedFinal(Transaction, 0, &status);
            return FALSE;
        }
    }

    if (Direction == WdfDmaDirectionWriteToDevice) {
        PLxBuildChain(devExt->WriteDesc, devExt->WriteDescLA, SgList, offset);
    } else {
        PLxBuildChain(devExt->ReadDesc, devExt->ReadDescLA, SgList, offset);
    }

    /* Registers are shared with the ISR: program them under the interrupt lock. */
    WdfInterruptAcquireLock(devExt->Interrupt);
    WRITE_REGISTER_ULONG(&devExt->Regs->DmaDescPtr[channel],
                         (Direction == WdfDmaDirectionWriteToDevice ? devExt->WriteDescLA
                                                                    : devExt->ReadDescLA)
                             .LowPart);
    WRITE_REGISTER_ULONG(&devExt->Regs->DmaCommandStatus, PLX_DMA_START << (channel * 8));
    WdfInterruptReleaseLock(devExt->Interrupt);

    /* The return value of EvtProgramDma is ignored by the framework. */
    return TRUE;
}

BOOLEAN PLxEvtProgramReadDma(_In_ WDFDMATRANSACTION Transaction, _In_ WDFDEVICE Device,
                             _In_ WDFCONTEXT Context, _In_ WDF_DMA_DIRECTION Direction,
                             _In_ PSCATTER_GATHER_LIST SgList)
{
    UNREFERENCED_PARAMETER(Context);
    return PLxProgramDma(Transaction, Device, Direction, SgList);
}

BOOLEAN PLxEvtProgramWriteDma(_In_ WDFDMATRANSACTION Transaction, _In_ WDFDEVICE Device,
                              _In_ WDFCONTEXT Context, _In_ WDF_DMA_DIRECTION Direction,
                              _In_ PSCATTER_GATHER_LIST SgList)
{
    PDEVICE_EXTENSION devExt = (PDEVICE_EXTENSION)Context;

    if (devExt != PLxGetDeviceContext(Device)) {
        return FALSE;
    }
    return PLxProgramDma(Transaction, Device, Direction, SgList);
}
