/*
 * plx_device_add.c - DriverEntry, EvtDriverDeviceAdd and hardware setup of a
 * PLX 9x5x-style driver: DMA enabler, common buffers, reused transactions, interrupt,
 * queues. Compile test only (-fsyntax-only); also valid WDK source.
 */
#include "plx.h"

/* {0x2E7B4F3A-ACB0-4B65-A8A1-1D3C6E0F9A21} */
static const GUID GUID_PLX_INTERFACE = {
    0x2e7b4f3a, 0xacb0, 0x4b65, { 0xa8, 0xa1, 0x1d, 0x3c, 0x6e, 0x0f, 0x9a, 0x21 } };

NTSTATUS DriverEntry(_In_ PDRIVER_OBJECT DriverObject, _In_ PUNICODE_STRING RegistryPath)
{
    NTSTATUS status;
    WDF_DRIVER_CONFIG config;
    WDF_OBJECT_ATTRIBUTES attributes;

    WDF_DRIVER_CONFIG_INIT(&config, PLxEvtDeviceAdd);
    /* 'xLP' as a number: multi-character constants trip -Wmultichar under gcc/clang. */
    config.DriverPoolTag = 0x00784C50;

    WDF_OBJECT_ATTRIBUTES_INIT(&attributes);
    attributes.EvtCleanupCallback = PLxEvtDriverContextCleanup;

    status = WdfDriverCreate(DriverObject, RegistryPath, &attributes, &config, WDF_NO_HANDLE);
    return status;
}

VOID PLxEvtDriverContextCleanup(_In_ WDFOBJECT DriverObject)
{
    UNREFERENCED_PARAMETER(DriverObject);
}

NTSTATUS PLxEvtDeviceAdd(_In_ WDFDRIVER Driver, _Inout_ PWDFDEVICE_INIT DeviceInit)
{
    NTSTATUS status;
    WDF_PNPPOWER_EVENT_CALLBACKS pnpPowerCallbacks;
    WDF_OBJECT_ATTRIBUTES attributes;
    WDF_FILEOBJECT_CONFIG fileConfig;
    WDF_IO_QUEUE_CONFIG queueConfig;
    WDF_INTERRUPT_CONFIG interruptConfig;
    WDF_TIMER_CONFIG timerConfig;
    WDFDEVICE device;
    WDFQUEUE defaultQueue;
    PDEVICE_EXTENSION devExt;

    UNREFERENCED_PARAMETER(Driver);

    WdfDeviceInitSetIoType(DeviceInit, WdfDeviceIoDirect);
    WdfDeviceInitSetExclusive(DeviceInit, FALSE);
    WdfDeviceInitSetDeviceType(DeviceInit, FILE_DEVICE_UNKNOWN);

    WDF_PNPPOWER_EVENT_CALLBACKS_INIT(&pnpPowerCallbacks);
    pnpPowerCallbacks.EvtDevicePrepareHardware = PLxEvtDevicePrepareHardware;
    pnpPowerCallbacks.EvtDeviceReleaseHardware = PLxEvtDeviceReleaseHardware;
    pnpPowerCallbacks.EvtDeviceD0Entry = PLxEvtDeviceD0Entry;
    pnpPowerCallbacks.EvtDeviceD0Exit = PLxEvtDeviceD0Exit;
    WdfDeviceInitSetPnpPowerEventCallbacks(DeviceInit, &pnpPowerCallbacks);

    WDF_FILEOBJECT_CONFIG_INIT(&fileConfig, WDF_NO_EVENT_CALLBACK, WDF_NO_EVENT_CALLBACK,
                               WDF_NO_EVENT_CALLBACK);
    WdfDeviceInitSetFileObjectConfig(DeviceInit, &fileConfig, WDF_NO_OBJECT_ATTRIBUTES);

    WDF_OBJECT_ATTRIBUTES_INIT_CONTEXT_TYPE(&attributes, REQUEST_CONTEXT);
    WdfDeviceInitSetRequestAttributes(DeviceInit, &attributes);

    WDF_OBJECT_ATTRIBUTES_INIT_CONTEXT_TYPE(&attributes, DEVICE_EXTENSION);
    attributes.SynchronizationScope = WdfSynchronizationScopeDevice;
    status = WdfDeviceCreate(&DeviceInit, &attributes, &device);
    if (!NT_SUCCESS(status)) {
        return status;
    }

    devExt = PLxGetDeviceContext(device);
    devExt->Device = device;

    status = WdfDeviceCreateDeviceInterface(device, &GUID_PLX_INTERFACE, NULL);
    if (!NT_SUCCESS(status)) {
        return status;
    }

    /* Default queue for IOCTLs; sequential queues per direction for the DMA paths. */
    WDF_IO_QUEUE_CONFIG_INIT_DEFAULT_QUEUE(&queueConfig, WdfIoQueueDispatchParallel);
    queueConfig.EvtIoDeviceControl = PLxEvtIoDeviceControl;
    status = WdfIoQueueCreate(device, &queueConfig, WDF_NO_OBJECT_ATTRIBUTES, &defaultQueue);
    if (!NT_SUCCESS(status)) {
        return status;
    }

    WDF_IO_QUEUE_CONFIG_INIT(&queueConfig, WdfIoQueueDispatchSequential);
    queueConfig.EvtIoWrite = PLxEvtIoWrite;
    queueConfig.EvtIoStop = PLxEvtIoStop;
    status = WdfIoQueueCreate(device, &queueConfig, WDF_NO_OBJECT_ATTRIBUTES, &devExt->WriteQueue);
    if (!NT_SUCCESS(status)) {
        return status;
    }
    status = WdfDeviceConfigureRequestDispatching(device, devExt->WriteQueue, WdfRequestTypeWrite);
    if (!NT_SUCCESS(status)) {
        return status;
    }

    WDF_IO_QUEUE_CONFIG_INIT(&queueConfig, WdfIoQueueDispatchSequential);
    queueConfig.EvtIoRead = PLxEvtIoRead;
    queueConfig.EvtIoStop = PLxEvtIoStop;
    status = WdfIoQueueCreate(device, &queueConfig, WDF_NO_OBJECT_ATTRIBUTES, &devExt->ReadQueue);
    if (!NT_SUCCESS(status)) {
        return status;
    }
    status = WdfDeviceConfigureRequestDispatching(device, devExt->ReadQueue, WdfRequestTypeRead);
    if (!NT_SUCCESS(status)) {
        return status;
    }

    /* The DPC is serialized with the queues' callbacks (device synchronization scope). */
    WDF_INTERRUPT_CONFIG_INIT(&interruptConfig, PLxEvtInterruptIsr, PLxEvtInterruptDpc);
    interruptConfig.EvtInterruptEnable = PLxEvtInterruptEnable;
    interruptConfig.EvtInterruptDisable = PLxEvtInterruptDisable;
    interruptConfig.AutomaticSerialization = TRUE;
    status = WdfInterruptCreate(device, &interruptConfig, WDF_NO_OBJECT_ATTRIBUTES,
                                &devExt->Interrupt);
    if (!NT_SUCCESS(status)) {
        return status;
    }

    WDF_TIMER_CONFIG_INIT(&timerConfig, PLxEvtWatchdogTimer);
    WDF_OBJECT_ATTRIBUTES_INIT(&attributes);
    attributes.ParentObject = device;
    status = WdfTimerCreate(&timerConfig, &attributes, &devExt->WatchdogTimer);
    if (!NT_SUCCESS(status)) {
        return status;
    }

    return PLxInitializeDma(devExt);
}

NTSTATUS PLxInitializeDma(_In_ PDEVICE_EXTENSION DevExt)
{
    NTSTATUS status;
    WDF_DMA_ENABLER_CONFIG dmaConfig;
    WDF_COMMON_BUFFER_CONFIG commonBufferConfig;
    WDF_OBJECT_ATTRIBUTES attributes;
    size_t ringSize = sizeof(DMA_TRANSFER_ELEMENT) * PLX_MAX_DESCRIPTORS;

    /* Descriptors must be 16-byte aligned. */
    WdfDeviceSetAlignmentRequirement(DevExt->Device, PCI9656_DTE_ALIGNMENT_16);

    DevExt->MaximumTransferLength = PCI9656_MAXIMUM_TRANSFER_LENGTH;
    WDF_DMA_ENABLER_CONFIG_INIT(&dmaConfig, WdfDmaProfileScatterGather64Duplex,
                                DevExt->MaximumTransferLength);
    dmaConfig.WdmDmaVersionOverride = 3;
    dmaConfig.EvtDmaEnablerFill = PLxEvtDmaEnablerFill;
    dmaConfig.EvtDmaEnablerFlush = PLxEvtDmaEnablerFlush;
    status = WdfDmaEnablerCreate(DevExt->Device, &dmaConfig, WDF_NO_OBJECT_ATTRIBUTES,
                                 &DevExt->DmaEnabler);
    if (!NT_SUCCESS(status)) {
        return status;
    }

    WdfDmaEnablerSetMaximumScatterGatherElements(DevExt->DmaEnabler, PLX_MAX_DESCRIPTORS);
    if (WdfDmaEnablerGetMaximumScatterGatherElements(DevExt->DmaEnabler) != PLX_MAX_DESCRIPTORS ||
        WdfDmaEnablerGetMaximumLength(DevExt->DmaEnabler) != PCI9656_MAXIMUM_TRANSFER_LENGTH ||
        WdfDmaEnablerGetFragmentLength(DevExt->DmaEnabler, WdfDmaDirectionReadFromDevice) == 0 ||
        WdfDmaEnablerWdmGetDmaAdapter(DevExt->DmaEnabler, WdfDmaDirectionWriteToDevice) == NULL) {
        return STATUS_INSUFFICIENT_RESOURCES;
    }

    /* Descriptor rings: one per direction, device-visible for the device's lifetime. */
    WDF_COMMON_BUFFER_CONFIG_INIT(&commonBufferConfig, PCI9656_DTE_ALIGNMENT_16);
    status = WdfCommonBufferCreateWithConfig(DevExt->DmaEnabler, ringSize, &commonBufferConfig,
                                             WDF_NO_OBJECT_ATTRIBUTES, &DevExt->WriteCommonBuffer);
    if (!NT_SUCCESS(status)) {
        return status;
    }
    DevExt->WriteDesc = WdfCommonBufferGetAlignedVirtualAddress(DevExt->WriteCommonBuffer);
    DevExt->WriteDescLA = WdfCommonBufferGetAlignedLogicalAddress(DevExt->WriteCommonBuffer);
    RtlZeroMemory(DevExt->WriteDesc, WdfCommonBufferGetLength(DevExt->WriteCommonBuffer));

    status = WdfCommonBufferCreate(DevExt->DmaEnabler, ringSize, WDF_NO_OBJECT_ATTRIBUTES,
                                   &DevExt->ReadCommonBuffer);
    if (!NT_SUCCESS(status)) {
        return status;
    }
    DevExt->ReadDesc = WdfCommonBufferGetAlignedVirtualAddress(DevExt->ReadCommonBuffer);
    DevExt->ReadDescLA = WdfCommonBufferGetAlignedLogicalAddress(DevExt->ReadCommonBuffer);

    /* Two transactions, created once and reused for every request. */
    WDF_OBJECT_ATTRIBUTES_INIT_CONTEXT_TYPE(&attributes, TRANSACTION_CONTEXT);
    status = WdfDmaTransactionCreate(DevExt->DmaEnabler, &attributes, &DevExt->ReadDmaTransaction);
    if (!NT_SUCCESS(status)) {
        return status;
    }
    WdfDmaTransactionSetSingleTransferRequirement(DevExt->ReadDmaTransaction, FALSE);

    WDF_OBJECT_ATTRIBUTES_INIT(&attributes);
    WDF_OBJECT_ATTRIBUTES_SET_CONTEXT_TYPE(&attributes, TRANSACTION_CONTEXT);
    status = WdfDmaTransactionCreate(DevExt->DmaEnabler, &attributes, &DevExt->WriteDmaTransaction);
    if (!NT_SUCCESS(status)) {
        return status;
    }
    PLxGetTransactionContext(DevExt->WriteDmaTransaction)->Retries = 0;
    return STATUS_SUCCESS;
}

NTSTATUS PLxEvtDevicePrepareHardware(_In_ WDFDEVICE Device, _In_ WDFCMRESLIST Resources,
                                     _In_ WDFCMRESLIST ResourcesTranslated)
{
    PDEVICE_EXTENSION devExt = PLxGetDeviceContext(Device);
    ULONG i;

    UNREFERENCED_PARAMETER(Resources);

    for (i = 0; i < WdfCmResourceListGetCount(ResourcesTranslated); i++) {
        PCM_PARTIAL_RESOURCE_DESCRIPTOR desc =
            WdfCmResourceListGetDescriptor(ResourcesTranslated, i);
        if (desc == NULL) {
            return STATUS_DEVICE_CONFIGURATION_ERROR;
        }
        switch (desc->Type) {
        case CmResourceTypeMemory:
            if (desc->u.Memory.Length >= PLX_REGISTER_SIZE && devExt->Regs == NULL) {
                devExt->Regs = (PPLX_REGS)MmMapIoSpace(desc->u.Memory.Start,
                                                       desc->u.Memory.Length, MmNonCached);
                devExt->RegsLength = desc->u.Memory.Length;
            }
            break;
        case CmResourceTypeInterrupt:
        default:
            break;
        }
    }
    return devExt->Regs != NULL ? STATUS_SUCCESS : STATUS_INSUFFICIENT_RESOURCES;
}

NTSTATUS PLxEvtDeviceReleaseHardware(_In_ WDFDEVICE Device, _In_ WDFCMRESLIST ResourcesTranslated)
{
    PDEVICE_EXTENSION devExt = PLxGetDeviceContext(Device);

    UNREFERENCED_PARAMETER(ResourcesTranslated);
    if (devExt->Regs != NULL) {
        MmUnmapIoSpace(devExt->Regs, devExt->RegsLength);
        devExt->Regs = NULL;
    }
    return STATUS_SUCCESS;
}

NTSTATUS PLxEvtDeviceD0Entry(_In_ WDFDEVICE Device, _In_ WDF_POWER_DEVICE_STATE PreviousState)
{
    PDEVICE_EXTENSION devExt = PLxGetDeviceContext(Device);

    if (PreviousState == WdfPowerDeviceD3Final) {
        WRITE_REGISTER_ULONG(&devExt->Regs->DmaCommandStatus, 0);
    }
    (VOID)WdfTimerStart(devExt->WatchdogTimer, WDF_REL_TIMEOUT_IN_MS(500));
    return STATUS_SUCCESS;
}

NTSTATUS PLxEvtDeviceD0Exit(_In_ WDFDEVICE Device, _In_ WDF_POWER_DEVICE_STATE TargetState)
{
    PDEVICE_EXTENSION devExt = PLxGetDeviceContext(Device);

    UNREFERENCED_PARAMETER(TargetState);
    (VOID)WdfTimerStop(devExt->WatchdogTimer, TRUE);
    return STATUS_SUCCESS;
}

NTSTATUS PLxEvtDmaEnablerFill(_In_ WDFDMAENABLER DmaEnabler)
{
    UNREFERENCED_PARAMETER(DmaEnabler);
    return STATUS_SUCCESS;
}

NTSTATUS PLxEvtDmaEnablerFlush(_In_ WDFDMAENABLER DmaEnabler)
{
    UNREFERENCED_PARAMETER(DmaEnabler);
    return STATUS_SUCCESS;
}

VOID PLxEvtWatchdogTimer(_In_ WDFTIMER Timer)
{
    WDFDEVICE device = (WDFDEVICE)WdfTimerGetParentObject(Timer);
    PDEVICE_EXTENSION devExt = PLxGetDeviceContext(device);

    if (WdfDmaTransactionGetCurrentDmaTransferLength(devExt->ReadDmaTransaction) != 0) {
        (VOID)WdfTimerStart(Timer, WDF_REL_TIMEOUT_IN_SEC(1));
    }
}

VOID PLxEvtIoDeviceControl(_In_ WDFQUEUE Queue, _In_ WDFREQUEST Request,
                           _In_ size_t OutputBufferLength, _In_ size_t InputBufferLength,
                           _In_ ULONG IoControlCode)
{
    NTSTATUS status = STATUS_INVALID_DEVICE_REQUEST;
    PDEVICE_EXTENSION devExt = PLxGetDeviceContext(WdfIoQueueGetDevice(Queue));
    PULONG out;
    size_t length;
    WDF_REQUEST_PARAMETERS params;

    UNREFERENCED_PARAMETER(InputBufferLength);

    WDF_REQUEST_PARAMETERS_INIT(&params);
    WdfRequestGetParameters(Request, &params);
    if (params.Type != WdfRequestTypeDeviceControl ||
        params.Parameters.DeviceIoControl.IoControlCode != IoControlCode) {
        WdfRequestComplete(Request, STATUS_INVALID_DEVICE_REQUEST);
        return;
    }

    if (IoControlCode == CTL_CODE(FILE_DEVICE_UNKNOWN, 0x800, METHOD_BUFFERED, FILE_ANY_ACCESS) &&
        OutputBufferLength >= sizeof(ULONG)) {
        status = WdfRequestRetrieveOutputBuffer(Request, sizeof(ULONG), (PVOID *)&out, &length);
        if (NT_SUCCESS(status)) {
            *out = READ_REGISTER_ULONG(&devExt->Regs->IntCsr);
            WdfRequestCompleteWithInformation(Request, STATUS_SUCCESS, sizeof(ULONG));
            return;
        }
    }
    WdfRequestComplete(Request, status);
}

VOID PLxEvtIoStop(_In_ WDFQUEUE Queue, _In_ WDFREQUEST Request, _In_ ULONG ActionFlags)
{
    UNREFERENCED_PARAMETER(Queue);
    if (ActionFlags & WdfRequestStopActionSuspend) {
        WdfRequestStopAcknowledge(Request, FALSE);
    }
}
