/*++

Module Name:

    uart.c

Abstract:

    A KMDF driver for a SoC UART whose FIFOs are fed and drained by a shared, multi-channel
    system-DMA controller ("system-mode DMA", KMDF 1.11 and later). Reads and writes are
    system DMA transactions: one reused transaction per direction, each on its own
    controller channel, paced by the UART's DMA request lines (demand mode).

    The steps of "Supporting system-mode DMA" are marked below:

    STEP 1    EvtDriverDeviceAdd creates the DMA enabler with the SystemDuplex profile
              (WDF_DMA_ENABLER_CONFIG_INIT + WdfDmaEnablerCreate): the first half of the
              two-step creation. No adapter exists yet.
    STEP 2    EvtDevicePrepareHardware finds the two CmResourceTypeDma descriptors (TX and
              RX request lines) and calls WdfDmaEnablerConfigureSystemProfile once per
              direction: the second half. Only now can transactions be initialized.
    CHANNEL   Optional channel configuration, steps 1-5:
              1. the request handler registers EvtDmaTransactionConfigureDmaChannel with
                 WdfDmaTransactionSetChannelConfigurationCallback;
              2. the callback gets the WDM DMA_ADAPTER (WdfDmaEnablerWdmGetDmaAdapter);
              3. it sets the controller's burst length through the adapter's
                 DmaOperations->ConfigureAdapterChannel;
              4. it returns TRUE when the channel is configured;
              5. the framework then maps the transfer and calls EvtProgramDma.
    NOTIFY    Transfer-completion notification: the controller does not make the UART
              interrupt, so the request handler registers
              EvtDmaTransactionDmaTransferComplete with
              WdfDmaTransactionSetTransferCompleteCallback, and the framework calls it
              once per finished transfer. That callback completes transfers, transactions
              and requests.

    Cancellation. A read waits for bytes that may never come, so requests are cancelable
    while their transaction runs. EvtRequestCancel cancels a transaction still waiting for
    its channel (WdfDmaTransactionCancel) or stops the running transfer
    (WdfDmaTransactionStopSystemTransfer); the controller then reports DmaCancelled and
    the transfer-complete callback ends the transaction with DmaCompletedFinal. Who
    completes the request is decided under the device lock (see UartFinishRequest).

Environment:

    Kernel mode

--*/

#include <ntddk.h>
#include <wdf.h>

#include "uart.h"

#ifdef ALLOC_PRAGMA
#pragma alloc_text(INIT, DriverEntry)
#pragma alloc_text(PAGE, UartEvtDeviceAdd)
#pragma alloc_text(PAGE, UartEvtDevicePrepareHardware)
#pragma alloc_text(PAGE, UartEvtDeviceReleaseHardware)
#endif

//
// ---- Register access ---------------------------------------------------------------------
//
static ULONG
UartReadRegister(
    _In_ PDEVICE_EXTENSION DevExt,
    _In_ ULONG Offset
    )
{
    return READ_REGISTER_ULONG((volatile ULONG *)(DevExt->Registers + Offset));
}

static VOID
UartWriteRegister(
    _In_ PDEVICE_EXTENSION DevExt,
    _In_ ULONG Offset,
    _In_ ULONG Value
    )
{
    WRITE_REGISTER_ULONG((volatile ULONG *)(DevExt->Registers + Offset), Value);
}

//
// Set or clear CONTROL bits. Both channels' callbacks change CONTROL, so the
// read-modify-write runs under the device lock. Caller holds the lock.
//
static VOID
UartUpdateControlLocked(
    _In_ PDEVICE_EXTENSION DevExt,
    _In_ ULONG Set,
    _In_ ULONG Clear
    )
{
    ULONG control = UartReadRegister(DevExt, UART_REG_CONTROL);
    UartWriteRegister(DevExt, UART_REG_CONTROL, (control & ~Clear) | Set);
}

//
// ---- DriverEntry -------------------------------------------------------------------------
//
_Use_decl_annotations_
NTSTATUS
DriverEntry(
    PDRIVER_OBJECT DriverObject,
    PUNICODE_STRING RegistryPath
    )
{
    WDF_DRIVER_CONFIG config;
    NTSTATUS status;

    WDF_DRIVER_CONFIG_INIT(&config, UartEvtDeviceAdd);
    status = WdfDriverCreate(DriverObject, RegistryPath, WDF_NO_OBJECT_ATTRIBUTES, &config,
                             WDF_NO_HANDLE);
    if (!NT_SUCCESS(status)) {
        KdPrint(("UART: WdfDriverCreate failed 0x%x\n", status));
    }
    return status;
}

//
// ==== STEP 1: create the system-mode DMA enabler (EvtDriverDeviceAdd) ========================
//

//
// One sequential queue per direction: at most one request owns a direction's reused
// transaction at a time.
//
static NTSTATUS
UartCreateQueue(
    _In_ PDEVICE_EXTENSION DevExt,
    _In_ PUART_CHANNEL Channel,
    _In_ WDF_REQUEST_TYPE Type
    )
{
    WDF_IO_QUEUE_CONFIG queueConfig;
    NTSTATUS status;

    PAGED_CODE();

    WDF_IO_QUEUE_CONFIG_INIT(&queueConfig, WdfIoQueueDispatchSequential);
    if (Type == WdfRequestTypeRead) {
        queueConfig.EvtIoRead = UartEvtIoRead;
    } else {
        queueConfig.EvtIoWrite = UartEvtIoWrite;
    }
    queueConfig.EvtIoStop = UartEvtIoStop;
    status = WdfIoQueueCreate(DevExt->Device, &queueConfig, WDF_NO_OBJECT_ATTRIBUTES,
                              &Channel->Queue);
    if (!NT_SUCCESS(status)) {
        return status;
    }
    return WdfDeviceConfigureRequestDispatching(DevExt->Device, Channel->Queue, Type);
}

//
// The first half of the two-step enabler creation. A system profile only records what
// the framework needs (profile, largest transfer): the DMA adapters of the two channels
// are created in EvtDevicePrepareHardware, once the DMA resources are known.
//
static NTSTATUS
UartCreateDmaEnabler(
    _In_ PDEVICE_EXTENSION DevExt
    )
{
    WDF_DMA_ENABLER_CONFIG dmaConfig;
    NTSTATUS status;

    PAGED_CODE();

    WDF_DMA_ENABLER_CONFIG_INIT(&dmaConfig, WdfDmaProfileSystemDuplex, UART_MAX_TRANSFER);
    status = WdfDmaEnablerCreate(DevExt->Device, &dmaConfig, WDF_NO_OBJECT_ATTRIBUTES,
                                 &DevExt->DmaEnabler);
    if (!NT_SUCCESS(status)) {
        KdPrint(("UART: WdfDmaEnablerCreate failed 0x%x\n", status));
    }
    return status;
}

//
// A direction's channel state and its transaction, created once so the I/O path never
// allocates.
//
static NTSTATUS
UartInitializeChannel(
    _In_ PDEVICE_EXTENSION DevExt,
    _In_ PUART_CHANNEL Channel,
    _In_ WDF_DMA_DIRECTION Direction
    )
{
    NTSTATUS status;

    PAGED_CODE();

    Channel->DevExt = DevExt;
    Channel->Direction = Direction;
    Channel->RequestBit = (Direction == WdfDmaDirectionWriteToDevice) ? UART_CONTROL_TX_DMA
                                                                      : UART_CONTROL_RX_DMA;
    status = UartCreateQueue(DevExt, Channel, (Direction == WdfDmaDirectionWriteToDevice)
                                                  ? WdfRequestTypeWrite
                                                  : WdfRequestTypeRead);
    if (!NT_SUCCESS(status)) {
        return status;
    }
    return WdfDmaTransactionCreate(DevExt->DmaEnabler, WDF_NO_OBJECT_ATTRIBUTES,
                                   &Channel->Transaction);
}

_Use_decl_annotations_
NTSTATUS
UartEvtDeviceAdd(
    WDFDRIVER Driver,
    PWDFDEVICE_INIT DeviceInit
    )
{
    WDF_PNPPOWER_EVENT_CALLBACKS pnpPowerCallbacks;
    WDF_OBJECT_ATTRIBUTES attributes;
    PDEVICE_EXTENSION devExt;
    WDFDEVICE device;
    NTSTATUS status;

    UNREFERENCED_PARAMETER(Driver);
    PAGED_CODE();

    //
    // Direct I/O: each read or write arrives with the MDL the DMA transaction maps.
    //
    WdfDeviceInitSetIoType(DeviceInit, WdfDeviceIoDirect);

    WDF_PNPPOWER_EVENT_CALLBACKS_INIT(&pnpPowerCallbacks);
    pnpPowerCallbacks.EvtDevicePrepareHardware = UartEvtDevicePrepareHardware;
    pnpPowerCallbacks.EvtDeviceReleaseHardware = UartEvtDeviceReleaseHardware;
    pnpPowerCallbacks.EvtDeviceD0Entry = UartEvtDeviceD0Entry;
    pnpPowerCallbacks.EvtDeviceD0Exit = UartEvtDeviceD0Exit;
    WdfDeviceInitSetPnpPowerEventCallbacks(DeviceInit, &pnpPowerCallbacks);

    WDF_OBJECT_ATTRIBUTES_INIT_CONTEXT_TYPE(&attributes, DEVICE_EXTENSION);
    status = WdfDeviceCreate(&DeviceInit, &attributes, &device);
    if (!NT_SUCCESS(status)) {
        KdPrint(("UART: WdfDeviceCreate failed 0x%x\n", status));
        return status;
    }
    devExt = UartGetDeviceContext(device);
    devExt->Device = device;

    status = WdfDeviceCreateDeviceInterface(device, &GUID_DEVINTERFACE_UARTDMA, NULL);
    if (!NT_SUCCESS(status)) {
        return status;
    }
    status = WdfSpinLockCreate(WDF_NO_OBJECT_ATTRIBUTES, &devExt->Lock);
    if (!NT_SUCCESS(status)) {
        return status;
    }
    status = UartCreateDmaEnabler(devExt);
    if (!NT_SUCCESS(status)) {
        return status;
    }
    status = UartInitializeChannel(devExt, &devExt->Tx, WdfDmaDirectionWriteToDevice);
    if (!NT_SUCCESS(status)) {
        return status;
    }
    return UartInitializeChannel(devExt, &devExt->Rx, WdfDmaDirectionReadFromDevice);
}

//
// ==== STEP 2: associate the enabler with the DMA resources (EvtDevicePrepareHardware) =========
//

//
// The second half of the two-step creation, for one direction: the controller channel
// and request line come from the translated CmResourceTypeDma descriptor, the device
// address is the DATA register's physical address, the UART's FIFO takes bytes
// (Width8Bits), and DemandMode lets the UART pace the controller by its request line.
//
static NTSTATUS
UartConfigureDirection(
    _In_ PDEVICE_EXTENSION DevExt,
    _In_ PCM_PARTIAL_RESOURCE_DESCRIPTOR DmaDescriptor,
    _In_ WDF_DMA_DIRECTION Direction
    )
{
    WDF_DMA_SYSTEM_PROFILE_CONFIG systemConfig;
    PHYSICAL_ADDRESS dataRegister;
    NTSTATUS status;

    PAGED_CODE();

    dataRegister.QuadPart = DevExt->RegistersPhysical.QuadPart + UART_REG_DATA;
    WDF_DMA_SYSTEM_PROFILE_CONFIG_INIT(&systemConfig, dataRegister, Width8Bits, DmaDescriptor);
    systemConfig.DemandMode = TRUE;

    status = WdfDmaEnablerConfigureSystemProfile(DevExt->DmaEnabler, &systemConfig, Direction);
    if (!NT_SUCCESS(status)) {
        KdPrint(("UART: ConfigureSystemProfile (%s) failed 0x%x\n",
                 Direction == WdfDmaDirectionWriteToDevice ? "TX" : "RX", status));
    }
    return status;
}

static NTSTATUS
UartMapRegisters(
    _In_ PDEVICE_EXTENSION DevExt,
    _In_ PCM_PARTIAL_RESOURCE_DESCRIPTOR Descriptor
    )
{
    PAGED_CODE();

    DevExt->Registers = MmMapIoSpaceEx(Descriptor->u.Memory.Start, Descriptor->u.Memory.Length,
                                       PAGE_READWRITE | PAGE_NOCACHE);
    if (DevExt->Registers == NULL) {
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    DevExt->RegistersLength = Descriptor->u.Memory.Length;
    DevExt->RegistersPhysical = Descriptor->u.Memory.Start;
    return STATUS_SUCCESS;
}

//
// Resources: the register window, then the DMA request lines in the UART's declaration
// order (TX first, RX second). The enabler can be configured only once per direction:
// a device restarted after a resource rebalance keeps the enabler it already configured.
//
_Use_decl_annotations_
NTSTATUS
UartEvtDevicePrepareHardware(
    WDFDEVICE Device,
    WDFCMRESLIST ResourcesRaw,
    WDFCMRESLIST ResourcesTranslated
    )
{
    PDEVICE_EXTENSION devExt = UartGetDeviceContext(Device);
    PCM_PARTIAL_RESOURCE_DESCRIPTOR descriptor;
    PCM_PARTIAL_RESOURCE_DESCRIPTOR dma[2] = {NULL, NULL};
    ULONG count, i, dmaCount = 0;
    NTSTATUS status;

    UNREFERENCED_PARAMETER(ResourcesRaw);
    PAGED_CODE();

    count = WdfCmResourceListGetCount(ResourcesTranslated);
    for (i = 0; i < count; i++) {
        descriptor = WdfCmResourceListGetDescriptor(ResourcesTranslated, i);
        if (descriptor == NULL) {
            continue;
        }
        if (descriptor->Type == CmResourceTypeMemory && devExt->Registers == NULL &&
            descriptor->u.Memory.Length >= UART_REGISTERS_LENGTH) {
            status = UartMapRegisters(devExt, descriptor);
            if (!NT_SUCCESS(status)) {
                return status;
            }
        } else if (descriptor->Type == CmResourceTypeDma && dmaCount < 2) {
            dma[dmaCount++] = descriptor;
        }
    }
    if (devExt->Registers == NULL || dmaCount < 2) {
        KdPrint(("UART: need a register window and two DMA resources (have %u)\n", dmaCount));
        return STATUS_DEVICE_CONFIGURATION_ERROR;
    }
    devExt->FifoDepth = UartReadRegister(devExt, UART_REG_FIFO_DEPTH);

    if (WdfDmaEnablerWdmGetDmaAdapter(devExt->DmaEnabler, WdfDmaDirectionWriteToDevice) == NULL) {
        status = UartConfigureDirection(devExt, dma[UART_DMA_RESOURCE_TX],
                                        WdfDmaDirectionWriteToDevice);
        if (!NT_SUCCESS(status)) {
            return status;
        }
        status = UartConfigureDirection(devExt, dma[UART_DMA_RESOURCE_RX],
                                        WdfDmaDirectionReadFromDevice);
        if (!NT_SUCCESS(status)) {
            return status;
        }
    }
    return STATUS_SUCCESS;
}

_Use_decl_annotations_
NTSTATUS
UartEvtDeviceReleaseHardware(
    WDFDEVICE Device,
    WDFCMRESLIST ResourcesTranslated
    )
{
    PDEVICE_EXTENSION devExt = UartGetDeviceContext(Device);

    UNREFERENCED_PARAMETER(ResourcesTranslated);
    PAGED_CODE();

    if (devExt->Registers != NULL) {
        MmUnmapIoSpace(devExt->Registers, devExt->RegistersLength);
        devExt->Registers = NULL;
    }
    return STATUS_SUCCESS;
}

//
// Entering D0: transmitter and receiver on, both request lines off (a line may rise only
// once EvtProgramDma has armed its channel), stale error bits cleared. LOOPBACK is a
// board strap the reset value carries; it is kept as found.
//
_Use_decl_annotations_
NTSTATUS
UartEvtDeviceD0Entry(
    WDFDEVICE Device,
    WDF_POWER_DEVICE_STATE PreviousState
    )
{
    PDEVICE_EXTENSION devExt = UartGetDeviceContext(Device);

    UNREFERENCED_PARAMETER(PreviousState);

    WdfSpinLockAcquire(devExt->Lock);
    UartUpdateControlLocked(devExt, UART_CONTROL_TX_EN | UART_CONTROL_RX_EN,
                            UART_CONTROL_TX_DMA | UART_CONTROL_RX_DMA);
    WdfSpinLockRelease(devExt->Lock);
    UartWriteRegister(devExt, UART_REG_STATUS, UART_STATUS_STICKY);
    return STATUS_SUCCESS;
}

_Use_decl_annotations_
NTSTATUS
UartEvtDeviceD0Exit(
    WDFDEVICE Device,
    WDF_POWER_DEVICE_STATE TargetState
    )
{
    PDEVICE_EXTENSION devExt = UartGetDeviceContext(Device);

    UNREFERENCED_PARAMETER(TargetState);

    WdfSpinLockAcquire(devExt->Lock);
    UartUpdateControlLocked(devExt, 0, UART_CONTROL_TX_DMA | UART_CONTROL_RX_DMA);
    WdfSpinLockRelease(devExt->Lock);
    return STATUS_SUCCESS;
}

//
// ==== Ending a request: who completes it ======================================================
//
// Three paths can end a request's transaction, and for each transaction exactly one does:
//   - the DMA path: the transfer-complete callback (the controller reported the end:
//     DmaComplete of the last transfer, DmaCancelled after a stop, DmaError), or a failed
//     WdfDmaTransactionExecute in UartStartDma;
//   - EvtRequestCancel, when WdfDmaTransactionCancel returns TRUE (the transaction was still
//     waiting for its controller channel: EvtProgramDma will never run, nothing moved);
//   - EvtIoStop (power-down, removal, surprise removal), in the same case.
// Whoever ends it claims it first under the device lock (Ending = TRUE); from then on no
// other path calls Cancel, StopSystemTransfer or Release on the transaction.
//
// Completing the request follows KMDF's rules for cancelable requests:
//   - the request is marked cancelable (WdfRequestMarkCancelableEx) before it can wait for
//     the controller, in UartStartDma;
//   - the path that ended the transaction calls WdfRequestUnmarkCancelable, and completes
//     the request if it returns STATUS_SUCCESS. STATUS_CANCELLED means EvtRequestCancel has
//     been or will be called and owns completion: the result is left in the channel
//     (Finished) for it;
//   - once EvtRequestCancel has run, the request is no longer cancelable and must not be
//     unmarked: if that routine left the completion to the DMA path (CancelRoutineRan, it
//     only asked for a stop), the DMA path completes without unmarking.
//
//        UartStartDma: MarkCancelableEx, Execute
//   idle ---------------------------------------> in DMA --- Ending claimed under the lock by
//    ^                                              |        the DMA path, EvtRequestCancel or
//    |                                              v        EvtIoStop (exactly one)
//    +---- the request completed, exactly once <-- ending --- Release, then complete (or
//          (by the ender or by EvtRequestCancel)              hand over: Finished)
//

static VOID
UartCompleteRequest(
    _In_ PUART_CHANNEL Channel,
    _In_ WDFREQUEST Request,
    _In_ NTSTATUS Status,
    _In_ size_t Bytes
    )
{
    PDEVICE_EXTENSION devExt = Channel->DevExt;

    //
    // The direction is idle again: its request line stays down until the next transfer.
    //
    WdfSpinLockAcquire(devExt->Lock);
    UartUpdateControlLocked(devExt, 0, Channel->RequestBit);
    WdfSpinLockRelease(devExt->Lock);
    WdfRequestCompleteWithInformation(Request, Status, Bytes);
}

//
// The transaction has ended and is released: complete the request, or hand the result to
// the EvtRequestCancel that is about to run.
//
static VOID
UartFinishRequest(
    _In_ PUART_CHANNEL Channel,
    _In_ NTSTATUS Status,
    _In_ size_t Bytes
    )
{
    PDEVICE_EXTENSION devExt = Channel->DevExt;
    WDFREQUEST request;

    WdfSpinLockAcquire(devExt->Lock);
    request = Channel->Request;
    if (!Channel->CancelRoutineRan &&
        WdfRequestUnmarkCancelable(request) == STATUS_CANCELLED) {
        Channel->Finished = TRUE;
        Channel->FinalStatus = Status;
        Channel->FinalBytes = Bytes;
        WdfSpinLockRelease(devExt->Lock);
        return;                         // EvtRequestCancel completes it
    }
    Channel->Request = NULL;
    WdfSpinLockRelease(devExt->Lock);
    UartCompleteRequest(Channel, request, Status, Bytes);
}

//
// The DMA path ends the transaction: claim it, take the byte count while the transaction
// still holds it, release it for the next request, then finish the request.
//
static VOID
UartEndTransaction(
    _In_ PUART_CHANNEL Channel,
    _In_ NTSTATUS Status
    )
{
    PDEVICE_EXTENSION devExt = Channel->DevExt;
    size_t bytes;

    WdfSpinLockAcquire(devExt->Lock);
    Channel->Ending = TRUE;
    WdfSpinLockRelease(devExt->Lock);

    bytes = WdfDmaTransactionGetBytesTransferred(Channel->Transaction);
    WdfDmaTransactionRelease(Channel->Transaction);
    UartFinishRequest(Channel, Status, bytes);
}

static PUART_CHANNEL
UartChannelOfRequest(
    _In_ WDFREQUEST Request
    )
{
    WDFQUEUE queue = WdfRequestGetIoQueue(Request);
    PDEVICE_EXTENSION devExt = UartGetDeviceContext(WdfIoQueueGetDevice(queue));

    return (queue == devExt->Tx.Queue) ? &devExt->Tx : &devExt->Rx;
}

//
// Ask the channel's transaction to stop (caller holds the lock; nobody claimed the end).
// A transaction still queued for its controller channel is cancelled outright: TRUE, and
// the caller has claimed the end (Ending) and must release the transaction and finish
// the request. A running transfer is stopped with StopSystemTransfer, once, and
// DmaCancelled follows; between transfers (or before the first) the stop is left for
// EvtProgramDma to issue. Either way the DMA path then ends the transaction.
//
static BOOLEAN
UartStopChannelLocked(
    _In_ PUART_CHANNEL Channel
    )
{
    Channel->CancelRequested = TRUE;
    if (WdfDmaTransactionCancel(Channel->Transaction)) {
        Channel->Ending = TRUE;
        return TRUE;
    }
    if (Channel->Programmed && !Channel->StopIssued) {
        Channel->StopIssued = TRUE;
        WdfDmaTransactionStopSystemTransfer(Channel->Transaction);
    }
    return FALSE;
}

_Use_decl_annotations_
VOID
UartEvtRequestCancel(
    WDFREQUEST Request
    )
{
    PUART_CHANNEL channel = UartChannelOfRequest(Request);
    PDEVICE_EXTENSION devExt = channel->DevExt;
    NTSTATUS status;
    size_t bytes;

    WdfSpinLockAcquire(devExt->Lock);
    NT_ASSERT(channel->Request == Request);
    if (channel->Finished) {
        //
        // The transaction ended while this routine was on its way, and its ender found
        // the request cancelled (UnmarkCancelable): complete with the DMA's result.
        //
        status = channel->FinalStatus;
        bytes = channel->FinalBytes;
        channel->Request = NULL;
        WdfSpinLockRelease(devExt->Lock);
        UartCompleteRequest(channel, Request, status, bytes);
        return;
    }
    //
    // From here the request is not cancelable any more; whoever ends the transaction
    // completes it without unmarking.
    //
    channel->CancelRoutineRan = TRUE;
    if (channel->Ending || channel->CancelRequested) {
        //
        // Already ending, or a stop is already on its way (EvtIoStop asked for it).
        //
        WdfSpinLockRelease(devExt->Lock);
        return;
    }
    if (UartStopChannelLocked(channel)) {
        //
        // Never got its channel: EvtProgramDma will not run, nothing moved.
        //
        WdfSpinLockRelease(devExt->Lock);
        WdfDmaTransactionRelease(channel->Transaction);
        UartFinishRequest(channel, STATUS_CANCELLED, 0);
        return;
    }
    WdfSpinLockRelease(devExt->Lock);   // DmaCancelled (or the last DmaComplete) finishes it
}

//
// Power-down, removal or surprise removal with a request in DMA. A read could wait
// forever for bytes (and after a surprise removal the UART never raises its request line
// again), so the transfer is stopped and the request completes as cancelled, by the path
// that ends the transaction. The framework calls this routine only for a request whose
// EvtRequestCancel has not been called; it is cancelable, so it is not acknowledged.
//
_Use_decl_annotations_
VOID
UartEvtIoStop(
    WDFQUEUE Queue,
    WDFREQUEST Request,
    ULONG ActionFlags
    )
{
    PDEVICE_EXTENSION devExt = UartGetDeviceContext(WdfIoQueueGetDevice(Queue));
    PUART_CHANNEL channel = (Queue == devExt->Tx.Queue) ? &devExt->Tx : &devExt->Rx;
    BOOLEAN ended = FALSE;

    WdfSpinLockAcquire(devExt->Lock);
    if (channel->Request != Request) {
        WdfSpinLockRelease(devExt->Lock);
        WdfRequestStopAcknowledge(Request, (ActionFlags & WdfRequestStopActionSuspend)
                                               ? TRUE
                                               : FALSE);
        return;
    }
    if (!channel->Ending && !channel->CancelRequested) {
        ended = UartStopChannelLocked(channel);
    }
    WdfSpinLockRelease(devExt->Lock);
    if (ended) {
        WdfDmaTransactionRelease(channel->Transaction);
        UartFinishRequest(channel, STATUS_CANCELLED, 0);
    }
}

//
// ==== The request handlers: initialize and start a system DMA transaction ======================
//
static VOID
UartStartDma(
    _In_ PUART_CHANNEL Channel,
    _In_ WDFREQUEST Request
    )
{
    PDEVICE_EXTENSION devExt = Channel->DevExt;
    WDFDMATRANSACTION transaction = Channel->Transaction;
    NTSTATUS status;

    status = WdfDmaTransactionInitializeUsingRequest(transaction, Request, UartEvtProgramDma,
                                                     Channel->Direction);
    if (!NT_SUCCESS(status)) {
        WdfRequestComplete(Request, status);
        return;
    }

    //
    // CHANNEL step 1: register the channel-configuration callback.
    // NOTIFY: register the transfer-complete callback; the controller does not interrupt.
    // Both are set for every request: the transaction is reused, and a driver must not
    // rely on Release keeping them.
    //
    WdfDmaTransactionSetChannelConfigurationCallback(transaction, UartEvtConfigureDmaChannel,
                                                     Channel);
    WdfDmaTransactionSetTransferCompleteCallback(transaction, UartEvtDmaTransferComplete,
                                                 Channel);

    //
    // The request may now wait for the controller channel and for bytes that never come:
    // make it cancelable first. MarkCancelableEx fails with STATUS_CANCELLED if the
    // request was cancelled already; it then stays ours to complete.
    //
    WdfSpinLockAcquire(devExt->Lock);
    Channel->Request = Request;
    Channel->Programmed = FALSE;
    Channel->CancelRequested = FALSE;
    Channel->StopIssued = FALSE;
    Channel->Ending = FALSE;
    Channel->CancelRoutineRan = FALSE;
    Channel->Finished = FALSE;
    status = WdfRequestMarkCancelableEx(Request, UartEvtRequestCancel);
    if (!NT_SUCCESS(status)) {
        Channel->Request = NULL;
    }
    WdfSpinLockRelease(devExt->Lock);
    if (!NT_SUCCESS(status)) {
        WdfDmaTransactionRelease(transaction);
        UartCompleteRequest(Channel, Request, status, 0);
        return;
    }

    //
    // Execute waits for the controller channel (the HAL queues it if another transaction
    // holds it), then configures the channel, maps the first transfer and calls
    // EvtProgramDma, possibly before it returns. From here the transfer-complete callback,
    // EvtRequestCancel or EvtIoStop ends the transaction (see "Ending a request").
    //
    status = WdfDmaTransactionExecute(transaction, Channel);
    if (!NT_SUCCESS(status)) {
        //
        // Nothing was started, so no other path can have claimed the end: a cancel that
        // came meanwhile only asked for a stop (WdfDmaTransactionCancel finds nothing
        // queued), and EvtProgramDma never ran.
        //
        KdPrint(("UART: WdfDmaTransactionExecute failed 0x%x\n", status));
        UartEndTransaction(Channel, status);
    }
}

_Use_decl_annotations_
VOID
UartEvtIoRead(
    WDFQUEUE Queue,
    WDFREQUEST Request,
    size_t Length
    )
{
    PDEVICE_EXTENSION devExt = UartGetDeviceContext(WdfIoQueueGetDevice(Queue));

    UNREFERENCED_PARAMETER(Length);
    UartStartDma(&devExt->Rx, Request);
}

_Use_decl_annotations_
VOID
UartEvtIoWrite(
    WDFQUEUE Queue,
    WDFREQUEST Request,
    size_t Length
    )
{
    PDEVICE_EXTENSION devExt = UartGetDeviceContext(WdfIoQueueGetDevice(Queue));

    UNREFERENCED_PARAMETER(Length);
    UartStartDma(&devExt->Tx, Request);
}

//
// ==== CHANNEL steps 2-4: configure the controller channel before each transfer ==================
//

//
// The burst: as many bytes per request-line handshake as half the FIFO holds (at most the
// controller's 16), and a divisor of the transfer's length, so the last beat of an RX
// transfer never waits for bytes the UART will not receive.
//
static ULONG
UartChooseBurst(
    _In_ PDEVICE_EXTENSION DevExt,
    _In_ size_t Length
    )
{
    ULONG burst = DevExt->FifoDepth / 2;

    if (burst > SDMAC_MAX_BURST) {
        burst = SDMAC_MAX_BURST;
    }
    if (burst == 0) {
        burst = 1;
    }
    while (burst > 1 && (Length % burst) != 0) {
        burst--;
    }
    return burst;
}

_Use_decl_annotations_
BOOLEAN
UartEvtConfigureDmaChannel(
    WDFDMATRANSACTION DmaTransaction,
    WDFDEVICE Device,
    PVOID Context,
    PMDL Mdl,
    size_t Offset,
    size_t Length
    )
{
    PUART_CHANNEL channel = (PUART_CHANNEL)Context;
    PDEVICE_EXTENSION devExt = UartGetDeviceContext(Device);
    PDMA_ADAPTER adapter;
    ULONG burst;
    NTSTATUS status;

    UNREFERENCED_PARAMETER(DmaTransaction);
    UNREFERENCED_PARAMETER(Mdl);
    UNREFERENCED_PARAMETER(Offset);

    //
    // CHANNEL step 2: the WDM adapter of this direction's system-DMA channel.
    //
    adapter = WdfDmaEnablerWdmGetDmaAdapter(devExt->DmaEnabler, channel->Direction);
    if (adapter == NULL) {
        return FALSE;
    }

    //
    // CHANNEL step 3: a controller-specific function, reachable only through the
    // adapter's DMA_OPERATIONS. The UART's FIFO threshold follows the burst: in demand
    // mode a whole beat must fit (TX) or be waiting (RX) when the line is asserted.
    //
    burst = UartChooseBurst(devExt, Length);
    status = adapter->DmaOperations->ConfigureAdapterChannel(adapter, SDMAC_FUNCTION_BURST,
                                                             &burst);
    if (!NT_SUCCESS(status)) {
        KdPrint(("UART: ConfigureAdapterChannel(burst %u) failed 0x%x\n", burst, status));
        return FALSE;                   // staging stops; nothing is mapped
    }
    UartWriteRegister(devExt, (channel->Direction == WdfDmaDirectionWriteToDevice)
                                  ? UART_REG_TX_THRESH
                                  : UART_REG_RX_THRESH,
                      burst);

    //
    // CHANNEL step 4: configured. Step 5 follows in the framework: MapTransferEx starts
    // the controller channel, then EvtProgramDma runs.
    //
    return TRUE;
}

//
// CHANNEL step 5: the controller channel is armed with this transfer; open the UART's
// request line so the controller starts moving bytes. A stop that EvtRequestCancel could
// not issue between transfers is issued here.
//
_Use_decl_annotations_
BOOLEAN
UartEvtProgramDma(
    WDFDMATRANSACTION Transaction,
    WDFDEVICE Device,
    WDFCONTEXT Context,
    WDF_DMA_DIRECTION Direction,
    PSCATTER_GATHER_LIST SgList
    )
{
    PUART_CHANNEL channel = (PUART_CHANNEL)Context;
    PDEVICE_EXTENSION devExt = UartGetDeviceContext(Device);

    UNREFERENCED_PARAMETER(Direction);
    UNREFERENCED_PARAMETER(SgList);         // the controller holds the one mapped run

    WdfSpinLockAcquire(devExt->Lock);
    channel->Programmed = TRUE;
    UartUpdateControlLocked(devExt, channel->RequestBit, 0);
    if (channel->CancelRequested && !channel->StopIssued) {
        channel->StopIssued = TRUE;
        WdfDmaTransactionStopSystemTransfer(Transaction);
    }
    WdfSpinLockRelease(devExt->Lock);
    return TRUE;
}

//
// ==== NOTIFY: the controller finished a transfer (EvtDmaTransactionDmaTransferComplete) =========
//

//
// Bytes the controller moved in the current transfer: its length minus the residue the
// adapter reports (ReadDmaCounter).
//
static size_t
UartBytesMoved(
    _In_ PUART_CHANNEL Channel
    )
{
    PDMA_ADAPTER adapter = WdfDmaEnablerWdmGetDmaAdapter(Channel->DevExt->DmaEnabler,
                                                         Channel->Direction);
    size_t length = WdfDmaTransactionGetCurrentDmaTransferLength(Channel->Transaction);
    ULONG residue = adapter->DmaOperations->ReadDmaCounter(adapter);

    return residue > length ? 0 : length - residue;
}

//
// Runs at DISPATCH_LEVEL, never nested inside EvtProgramDma (the framework defers it), and
// a DmaCompleted issued here stages the next transfer after this callback returns rather
// than inside it.
//
_Use_decl_annotations_
VOID
UartEvtDmaTransferComplete(
    WDFDMATRANSACTION Transaction,
    WDFDEVICE Device,
    WDFCONTEXT Context,
    WDF_DMA_DIRECTION Direction,
    DMA_COMPLETION_STATUS Status
    )
{
    PUART_CHANNEL channel = (PUART_CHANNEL)Context;
    PDEVICE_EXTENSION devExt = UartGetDeviceContext(Device);
    NTSTATUS status = STATUS_SUCCESS;
    size_t moved;

    UNREFERENCED_PARAMETER(Direction);

    WdfSpinLockAcquire(devExt->Lock);
    channel->Programmed = FALSE;
    WdfSpinLockRelease(devExt->Lock);

    switch (Status) {
    case DmaComplete:
        //
        // The controller ended the transfer. It may have ended it early (a short transfer:
        // the residue is not zero): only the bytes that moved are reported, and the
        // framework stages the rest as the next transfer, so a request never reports
        // bytes that did not arrive. FALSE: the framework staged the next transfer of the
        // transaction. TRUE: the transaction is over, with `status` (STATUS_CANCELLED if
        // a stop caught it between transfers, or the staging's failure).
        // A transfer that moved nothing would be staged again unchanged, and retried
        // forever: it ends the transaction instead.
        //
        moved = UartBytesMoved(channel);
        if (moved == 0) {
            (VOID)WdfDmaTransactionDmaCompletedFinal(Transaction, 0, &status);
        } else if (moved < WdfDmaTransactionGetCurrentDmaTransferLength(Transaction)) {
            if (!WdfDmaTransactionDmaCompletedWithLength(Transaction, moved, &status)) {
                return;
            }
        } else if (!WdfDmaTransactionDmaCompleted(Transaction, &status)) {
            return;
        }
        UartEndTransaction(channel, status);
        return;
    case DmaCancelled:
        //
        // StopSystemTransfer: record what moved and end the transaction.
        //
        moved = UartBytesMoved(channel);
        (VOID)WdfDmaTransactionDmaCompletedFinal(Transaction, moved, &status);
        UartEndTransaction(channel, STATUS_CANCELLED);
        return;
    default:
        moved = UartBytesMoved(channel);
        KdPrint(("UART: DMA error after %u bytes of a transfer\n", (ULONG)moved));
        (VOID)WdfDmaTransactionDmaCompletedFinal(Transaction, moved, &status);
        UartEndTransaction(channel, STATUS_DEVICE_DATA_ERROR);
        return;
    }
}
