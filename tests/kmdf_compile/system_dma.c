/*
 * system_dma.c - a UART-like peripheral served by a shared SoC DMA controller
 * (system-mode DMA, KMDF 1.11+): a SystemDuplex enabler created in EvtDriverDeviceAdd and
 * configured per direction in EvtDevicePrepareHardware, a channel-configuration callback,
 * transfer-complete notification instead of an interrupt, looped receive stopped with
 * StopSystemTransfer, and reserved resources. Compile test only.
 */
#include <ntddk.h>
#include <wdf.h>

#define UART_FIFO_REGISTER_OFFSET 0x40
#define UART_MAX_TRANSFER (64 * 1024)

typedef struct _UART_CONTEXT {
    WDFDEVICE Device;
    WDFDMAENABLER DmaEnabler;
    WDFDMATRANSACTION TxTransaction;
    WDFDMATRANSACTION RxTransaction;
    PHYSICAL_ADDRESS FifoAddress;
    WDFSPINLOCK Lock;
    WDFWORKITEM RecoveryWorkItem;
    BOOLEAN RxLooping;
    ULONG ChannelFunction;
} UART_CONTEXT, *PUART_CONTEXT;

WDF_DECLARE_CONTEXT_TYPE_WITH_NAME(UART_CONTEXT, UartGetContext);

DRIVER_INITIALIZE DriverEntry;
static EVT_WDF_DRIVER_DEVICE_ADD UartEvtDeviceAdd;
static EVT_WDF_DEVICE_PREPARE_HARDWARE UartEvtPrepareHardware;
static EVT_WDF_IO_QUEUE_IO_WRITE UartEvtIoWrite;
static EVT_WDF_IO_QUEUE_IO_READ UartEvtIoRead;
static EVT_WDF_PROGRAM_DMA UartEvtProgramDma;
static EVT_WDF_DMA_TRANSACTION_CONFIGURE_DMA_CHANNEL UartEvtConfigureChannel;
static EVT_WDF_DMA_TRANSACTION_DMA_TRANSFER_COMPLETE UartEvtTransferComplete;
static EVT_WDF_RESERVE_DMA UartEvtReserveDma;
static EVT_WDF_WORKITEM UartEvtRecovery;

NTSTATUS DriverEntry(_In_ PDRIVER_OBJECT DriverObject, _In_ PUNICODE_STRING RegistryPath)
{
    WDF_DRIVER_CONFIG config;

    WDF_DRIVER_CONFIG_INIT(&config, UartEvtDeviceAdd);
    return WdfDriverCreate(DriverObject, RegistryPath, WDF_NO_OBJECT_ATTRIBUTES, &config,
                           WDF_NO_HANDLE);
}

static NTSTATUS UartEvtDeviceAdd(_In_ WDFDRIVER Driver, _Inout_ PWDFDEVICE_INIT DeviceInit)
{
    NTSTATUS status;
    WDF_PNPPOWER_EVENT_CALLBACKS pnp;
    WDF_OBJECT_ATTRIBUTES attributes;
    WDF_DMA_ENABLER_CONFIG dmaConfig;
    WDF_IO_QUEUE_CONFIG queueConfig;
    WDF_WORKITEM_CONFIG workItemConfig;
    WDFDEVICE device;
    PUART_CONTEXT ctx;

    UNREFERENCED_PARAMETER(Driver);

    WDF_PNPPOWER_EVENT_CALLBACKS_INIT(&pnp);
    pnp.EvtDevicePrepareHardware = UartEvtPrepareHardware;
    WdfDeviceInitSetPnpPowerEventCallbacks(DeviceInit, &pnp);

    WDF_OBJECT_ATTRIBUTES_INIT_CONTEXT_TYPE(&attributes, UART_CONTEXT);
    status = WdfDeviceCreate(&DeviceInit, &attributes, &device);
    if (!NT_SUCCESS(status)) {
        return status;
    }
    ctx = UartGetContext(device);
    ctx->Device = device;

    /* Step 1 of system-mode DMA: the enabler. Its adapters come in PrepareHardware. */
    WDF_DMA_ENABLER_CONFIG_INIT(&dmaConfig, WdfDmaProfileSystemDuplex, UART_MAX_TRANSFER);
    status = WdfDmaEnablerCreate(device, &dmaConfig, WDF_NO_OBJECT_ATTRIBUTES, &ctx->DmaEnabler);
    if (!NT_SUCCESS(status)) {
        return status;
    }

    status = WdfDmaTransactionCreate(ctx->DmaEnabler, WDF_NO_OBJECT_ATTRIBUTES, &ctx->TxTransaction);
    if (!NT_SUCCESS(status)) {
        return status;
    }
    status = WdfDmaTransactionCreate(ctx->DmaEnabler, WDF_NO_OBJECT_ATTRIBUTES, &ctx->RxTransaction);
    if (!NT_SUCCESS(status)) {
        return status;
    }

    WDF_OBJECT_ATTRIBUTES_INIT(&attributes);
    attributes.ParentObject = device;
    status = WdfSpinLockCreate(&attributes, &ctx->Lock);
    if (!NT_SUCCESS(status)) {
        return status;
    }

    WDF_WORKITEM_CONFIG_INIT(&workItemConfig, UartEvtRecovery);
    status = WdfWorkItemCreate(&workItemConfig, &attributes, &ctx->RecoveryWorkItem);
    if (!NT_SUCCESS(status)) {
        return status;
    }

    WDF_IO_QUEUE_CONFIG_INIT_DEFAULT_QUEUE(&queueConfig, WdfIoQueueDispatchSequential);
    queueConfig.EvtIoWrite = UartEvtIoWrite;
    queueConfig.EvtIoRead = UartEvtIoRead;
    return WdfIoQueueCreate(device, &queueConfig, WDF_NO_OBJECT_ATTRIBUTES, WDF_NO_HANDLE);
}

static NTSTATUS UartEvtPrepareHardware(_In_ WDFDEVICE Device, _In_ WDFCMRESLIST ResourcesRaw,
                                       _In_ WDFCMRESLIST ResourcesTranslated)
{
    PUART_CONTEXT ctx = UartGetContext(Device);
    PCM_PARTIAL_RESOURCE_DESCRIPTOR dma[2] = { NULL, NULL };
    ULONG count = WdfCmResourceListGetCount(ResourcesTranslated);
    ULONG i, found = 0;
    NTSTATUS status;
    WDF_DMA_SYSTEM_PROFILE_CONFIG profile;

    UNREFERENCED_PARAMETER(ResourcesRaw);

    for (i = 0; i < count; i++) {
        PCM_PARTIAL_RESOURCE_DESCRIPTOR desc = WdfCmResourceListGetDescriptor(ResourcesTranslated, i);
        if (desc->Type == CmResourceTypeMemory) {
            ctx->FifoAddress.QuadPart = desc->u.Memory.Start.QuadPart + UART_FIFO_REGISTER_OFFSET;
        } else if (desc->Type == CmResourceTypeDma && found < 2) {
            dma[found++] = desc;
        }
    }
    if (found != 2) {
        return STATUS_DEVICE_CONFIGURATION_ERROR;
    }

    /* Step 2: one adapter per direction, paced by the UART's request lines. */
    WDF_DMA_SYSTEM_PROFILE_CONFIG_INIT(&profile, ctx->FifoAddress, Width8Bits, dma[0]);
    profile.DemandMode = TRUE;
    status = WdfDmaEnablerConfigureSystemProfile(ctx->DmaEnabler, &profile,
                                                 WdfDmaDirectionWriteToDevice);
    if (!NT_SUCCESS(status)) {
        return status;
    }

    WDF_DMA_SYSTEM_PROFILE_CONFIG_INIT(&profile, ctx->FifoAddress, Width8Bits, dma[1]);
    profile.DemandMode = TRUE;
    profile.LoopedTransfer = TRUE;
    return WdfDmaEnablerConfigureSystemProfile(ctx->DmaEnabler, &profile,
                                               WdfDmaDirectionReadFromDevice);
}

static BOOLEAN UartEvtConfigureChannel(_In_ WDFDMATRANSACTION DmaTransaction,
                                       _In_ WDFDEVICE Device, _In_ PVOID Context,
                                       _In_opt_ PMDL Mdl, _In_ size_t Offset, _In_ size_t Length)
{
    PUART_CONTEXT ctx = (PUART_CONTEXT)Context;
    PDMA_ADAPTER adapter;
    NTSTATUS status;

    UNREFERENCED_PARAMETER(DmaTransaction);
    UNREFERENCED_PARAMETER(Mdl);
    UNREFERENCED_PARAMETER(Offset);
    UNREFERENCED_PARAMETER(Length);

    if (ctx != UartGetContext(Device)) {
        return FALSE;
    }
    adapter = WdfDmaEnablerWdmGetDmaAdapter(ctx->DmaEnabler, WdfDmaDirectionWriteToDevice);
    status = adapter->DmaOperations->ConfigureAdapterChannel(adapter, ctx->ChannelFunction, NULL);
    return NT_SUCCESS(status) ? TRUE : FALSE;
}

static BOOLEAN UartEvtProgramDma(_In_ WDFDMATRANSACTION Transaction, _In_ WDFDEVICE Device,
                                 _In_ WDFCONTEXT Context, _In_ WDF_DMA_DIRECTION Direction,
                                 _In_ PSCATTER_GATHER_LIST SgList)
{
    UNREFERENCED_PARAMETER(Device);
    UNREFERENCED_PARAMETER(Context);
    UNREFERENCED_PARAMETER(Direction);

    /* The controller is already programmed by the HAL; only the device side is left. */
    if (SgList->NumberOfElements == 0 || WdfDmaTransactionWdmGetTransferContext(Transaction) == NULL) {
        return FALSE;
    }
    return TRUE;
}

/* Called once per transfer, instead of a device interrupt. */
static VOID UartEvtTransferComplete(_In_ WDFDMATRANSACTION Transaction, _In_ WDFDEVICE Device,
                                    _In_ WDFCONTEXT Context, _In_ WDF_DMA_DIRECTION Direction,
                                    _In_ DMA_COMPLETION_STATUS Status)
{
    PUART_CONTEXT ctx = UartGetContext(Device);
    WDFREQUEST request = WdfDmaTransactionGetRequest(Transaction);
    NTSTATUS status;
    BOOLEAN done;

    UNREFERENCED_PARAMETER(Context);
    UNREFERENCED_PARAMETER(Direction);

    switch (Status) {
    case DmaComplete:
        done = WdfDmaTransactionDmaCompleted(Transaction, &status);
        break;
    case DmaCancelled:
        /* After StopSystemTransfer: end the transaction with what was moved. */
        done = WdfDmaTransactionDmaCompletedFinal(
            Transaction, WdfDmaTransactionGetCurrentDmaTransferLength(Transaction), &status);
        status = STATUS_CANCELLED;
        break;
    case DmaError:
    default:
        done = WdfDmaTransactionDmaCompletedFinal(Transaction, 0, &status);
        status = STATUS_DEVICE_DATA_ERROR;
        WdfWorkItemEnqueue(ctx->RecoveryWorkItem);
        break;
    }

    if (done) {
        size_t bytes = WdfDmaTransactionGetBytesTransferred(Transaction);
        (VOID)WdfDmaTransactionRelease(Transaction);
        if (request != NULL) {
            WdfRequestCompleteWithInformation(request, status, bytes);
        }
    }
}

static VOID UartStartSystemTransfer(_In_ PUART_CONTEXT Ctx, _In_ WDFDMATRANSACTION Transaction,
                                    _In_ WDFREQUEST Request, _In_ WDF_DMA_DIRECTION Direction)
{
    NTSTATUS status;
    ULONG mapRegisters = 0, sgElements = 0;

    status = WdfDmaTransactionInitializeUsingRequest(Transaction, Request, UartEvtProgramDma,
                                                     Direction);
    if (!NT_SUCCESS(status)) {
        WdfRequestComplete(Request, status);
        return;
    }

    /* These three are reset by Initialize, so they are set after it. */
    WdfDmaTransactionSetDeviceAddressOffset(Transaction, 0);
    WdfDmaTransactionSetChannelConfigurationCallback(Transaction, UartEvtConfigureChannel, Ctx);
    WdfDmaTransactionSetTransferCompleteCallback(Transaction, UartEvtTransferComplete, Ctx);
    WdfDmaTransactionSetImmediateExecution(Transaction, FALSE);
    WdfDmaTransactionGetTransferInfo(Transaction, &mapRegisters, &sgElements);

    status = WdfDmaTransactionExecute(Transaction, Ctx);
    if (!NT_SUCCESS(status)) {
        (VOID)WdfDmaTransactionRelease(Transaction);
        WdfRequestComplete(Request, status);
    }
}

static VOID UartEvtIoWrite(_In_ WDFQUEUE Queue, _In_ WDFREQUEST Request, _In_ size_t Length)
{
    PUART_CONTEXT ctx = UartGetContext(WdfIoQueueGetDevice(Queue));

    UNREFERENCED_PARAMETER(Length);
    UartStartSystemTransfer(ctx, ctx->TxTransaction, Request, WdfDmaDirectionWriteToDevice);
}

static VOID UartEvtIoRead(_In_ WDFQUEUE Queue, _In_ WDFREQUEST Request, _In_ size_t Length)
{
    PUART_CONTEXT ctx = UartGetContext(WdfIoQueueGetDevice(Queue));

    UNREFERENCED_PARAMETER(Length);

    WdfSpinLockAcquire(ctx->Lock);
    if (ctx->RxLooping) {
        /* A looped receive runs until stopped; stopping it completes the old request. */
        WdfDmaTransactionStopSystemTransfer(ctx->RxTransaction);
        ctx->RxLooping = FALSE;
    } else {
        ctx->RxLooping = TRUE;
    }
    WdfSpinLockRelease(ctx->Lock);

    UartStartSystemTransfer(ctx, ctx->RxTransaction, Request, WdfDmaDirectionReadFromDevice);
}

static VOID UartEvtReserveDma(_In_ WDFDMATRANSACTION DmaTransaction, _In_ PVOID Context)
{
    UNREFERENCED_PARAMETER(Context);
    /* The channel is ours until FreeResources: later Executes start immediately. */
    WdfDmaTransactionFreeResources(DmaTransaction);
}

static VOID UartEvtRecovery(_In_ WDFWORKITEM WorkItem)
{
    PUART_CONTEXT ctx = UartGetContext(WdfWorkItemGetParentObject(WorkItem));
    NTSTATUS status;

    /* Re-reserve the transmit channel after an error (packet/system profiles only). */
    status = WdfDmaTransactionAllocateResources(ctx->TxTransaction, WdfDmaDirectionWriteToDevice,
                                                0, UartEvtReserveDma, ctx);
    if (!NT_SUCCESS(status)) {
        WdfDeviceSetFailed(ctx->Device, WdfDeviceFailedAttemptRestart);
    }
}
