/*++

Module Name:

    ring.c

Abstract:

    A KMDF driver for an audio-like stream peripheral on a shared system-DMA controller,
    using ONE looped (auto-initialize) system DMA transfer over a ring in a common buffer,
    the way audio and other streaming SoC drivers use system-mode DMA. ring.h states the
    wrap/notification contract this driver relies on.

    The steps of "Supporting system-mode DMA", as this driver takes them:

    STEP 1    EvtDriverDeviceAdd creates the enabler with the (simplex) System profile.
    STEP 2    EvtDevicePrepareHardware calls WdfDmaEnablerConfigureSystemProfile once, with
              LoopedTransfer = TRUE (AutoInitialize) and DemandMode = TRUE, for the stream's
              direction; then creates the ring as a common buffer of that enabler.
    NOTIFY    IOCTL_RING_START registers EvtDmaTransactionDmaTransferComplete
              (WdfDmaTransactionSetTransferCompleteCallback) and executes the transaction.
              The framework calls the callback once per wrap (DmaComplete) and once after
              IOCTL_RING_STOP's WdfDmaTransactionStopSystemTransfer (DmaCancelled).
    This driver does not configure the channel (the optional channel-configuration steps
    are shown by the UART sample).

Environment:

    Kernel mode

--*/

#include <ntddk.h>
#include <wdf.h>

#include "ring.h"

#ifdef ALLOC_PRAGMA
#pragma alloc_text(INIT, DriverEntry)
#pragma alloc_text(PAGE, RingEvtDeviceAdd)
#pragma alloc_text(PAGE, RingEvtDevicePrepareHardware)
#pragma alloc_text(PAGE, RingEvtDeviceReleaseHardware)
#endif

static NTSTATUS RingCreatePollTimer(_In_ PDEVICE_EXTENSION DevExt);

static ULONG
RingReadRegister(
    _In_ PDEVICE_EXTENSION DevExt,
    _In_ ULONG Offset
    )
{
    return READ_REGISTER_ULONG((volatile ULONG *)(DevExt->Registers + Offset));
}

static VOID
RingWriteRegister(
    _In_ PDEVICE_EXTENSION DevExt,
    _In_ ULONG Offset,
    _In_ ULONG Value
    )
{
    WRITE_REGISTER_ULONG((volatile ULONG *)(DevExt->Registers + Offset), Value);
}

_Use_decl_annotations_
NTSTATUS
DriverEntry(
    PDRIVER_OBJECT DriverObject,
    PUNICODE_STRING RegistryPath
    )
{
    WDF_DRIVER_CONFIG config;

    WDF_DRIVER_CONFIG_INIT(&config, RingEvtDeviceAdd);
    return WdfDriverCreate(DriverObject, RegistryPath, WDF_NO_OBJECT_ATTRIBUTES, &config,
                           WDF_NO_HANDLE);
}

//
// ==== STEP 1: EvtDriverDeviceAdd ==============================================================
//

//
// Hardware-key settings (the INF's AddReg): Playback (0 capture, 1 playback) and
// RingBytes. Missing values take the defaults.
//
static VOID
RingReadSettings(
    _In_ PDEVICE_EXTENSION DevExt
    )
{
    DECLARE_CONST_UNICODE_STRING(playbackName, L"Playback");
    DECLARE_CONST_UNICODE_STRING(ringBytesName, L"RingBytes");
    WDFKEY key;
    ULONG playback = 0, ringBytes = RING_DEFAULT_BYTES;

    PAGED_CODE();

    if (NT_SUCCESS(WdfDeviceOpenRegistryKey(DevExt->Device, PLUGPLAY_REGKEY_DEVICE, KEY_READ,
                                            WDF_NO_OBJECT_ATTRIBUTES, &key))) {
        if (!NT_SUCCESS(WdfRegistryQueryULong(key, &playbackName, &playback))) {
            playback = 0;
        }
        if (!NT_SUCCESS(WdfRegistryQueryULong(key, &ringBytesName, &ringBytes))) {
            ringBytes = RING_DEFAULT_BYTES;
        }
        WdfRegistryClose(key);
    }
    if (ringBytes < PAGE_SIZE / 4 || ringBytes > RING_MAX_BYTES) {
        KdPrint(("RING: RingBytes %u is out of range\n", ringBytes));
        ringBytes = RING_DEFAULT_BYTES;
    }
    DevExt->Playback = playback != 0;
    DevExt->Direction = DevExt->Playback ? WdfDmaDirectionWriteToDevice
                                         : WdfDmaDirectionReadFromDevice;
    DevExt->RingBytes = ringBytes;
}

//
// Queues: IOCTLs on the default queue; reads (capture) or writes (playback) pass through
// a sequential queue into a manual queue, where they wait for ring data / room.
//
static NTSTATUS
RingCreateQueues(
    _In_ PDEVICE_EXTENSION DevExt
    )
{
    WDF_IO_QUEUE_CONFIG queueConfig;
    WDFQUEUE dataQueue;
    NTSTATUS status;

    PAGED_CODE();

    WDF_IO_QUEUE_CONFIG_INIT_DEFAULT_QUEUE(&queueConfig, WdfIoQueueDispatchParallel);
    queueConfig.EvtIoDeviceControl = RingEvtIoDeviceControl;
    status = WdfIoQueueCreate(DevExt->Device, &queueConfig, WDF_NO_OBJECT_ATTRIBUTES,
                              WDF_NO_HANDLE);
    if (!NT_SUCCESS(status)) {
        return status;
    }
    WDF_IO_QUEUE_CONFIG_INIT(&queueConfig, WdfIoQueueDispatchSequential);
    queueConfig.EvtIoRead = RingEvtIoRead;
    queueConfig.EvtIoWrite = RingEvtIoWrite;
    status = WdfIoQueueCreate(DevExt->Device, &queueConfig, WDF_NO_OBJECT_ATTRIBUTES, &dataQueue);
    if (!NT_SUCCESS(status)) {
        return status;
    }
    status = WdfDeviceConfigureRequestDispatching(DevExt->Device, dataQueue,
                                                  DevExt->Playback ? WdfRequestTypeWrite
                                                                   : WdfRequestTypeRead);
    if (!NT_SUCCESS(status)) {
        return status;
    }
    WDF_IO_QUEUE_CONFIG_INIT(&queueConfig, WdfIoQueueDispatchManual);
    return WdfIoQueueCreate(DevExt->Device, &queueConfig, WDF_NO_OBJECT_ATTRIBUTES,
                            &DevExt->PendingQueue);
}

_Use_decl_annotations_
NTSTATUS
RingEvtDeviceAdd(
    WDFDRIVER Driver,
    PWDFDEVICE_INIT DeviceInit
    )
{
    WDF_PNPPOWER_EVENT_CALLBACKS pnpPowerCallbacks;
    WDF_OBJECT_ATTRIBUTES attributes;
    WDF_DMA_ENABLER_CONFIG dmaConfig;
    PDEVICE_EXTENSION devExt;
    WDFDEVICE device;
    NTSTATUS status;

    UNREFERENCED_PARAMETER(Driver);
    PAGED_CODE();

    WdfDeviceInitSetIoType(DeviceInit, WdfDeviceIoDirect);
    WDF_PNPPOWER_EVENT_CALLBACKS_INIT(&pnpPowerCallbacks);
    pnpPowerCallbacks.EvtDevicePrepareHardware = RingEvtDevicePrepareHardware;
    pnpPowerCallbacks.EvtDeviceReleaseHardware = RingEvtDeviceReleaseHardware;
    pnpPowerCallbacks.EvtDeviceD0Entry = RingEvtDeviceD0Entry;
    pnpPowerCallbacks.EvtDeviceD0Exit = RingEvtDeviceD0Exit;
    WdfDeviceInitSetPnpPowerEventCallbacks(DeviceInit, &pnpPowerCallbacks);

    WDF_OBJECT_ATTRIBUTES_INIT_CONTEXT_TYPE(&attributes, DEVICE_EXTENSION);
    attributes.EvtCleanupCallback = RingEvtDeviceCleanup;
    status = WdfDeviceCreate(&DeviceInit, &attributes, &device);
    if (!NT_SUCCESS(status)) {
        return status;
    }
    devExt = RingGetDeviceContext(device);
    devExt->Device = device;
    KeInitializeEvent(&devExt->Stopped, NotificationEvent, TRUE);
    RingReadSettings(devExt);

    status = WdfDeviceCreateDeviceInterface(device, &GUID_DEVINTERFACE_RINGDMA, NULL);
    if (NT_SUCCESS(status)) {
        status = WdfSpinLockCreate(WDF_NO_OBJECT_ATTRIBUTES, &devExt->Lock);
    }
    if (NT_SUCCESS(status)) {
        status = RingCreateQueues(devExt);
    }
    if (NT_SUCCESS(status)) {
        status = RingCreatePollTimer(devExt);
    }
    if (!NT_SUCCESS(status)) {
        return status;
    }

    //
    // STEP 1: the first half of the two-step creation. A simplex System profile: one
    // controller channel, one direction. Its adapter comes in EvtDevicePrepareHardware.
    //
    WDF_DMA_ENABLER_CONFIG_INIT(&dmaConfig, WdfDmaProfileSystem, RING_MAX_BYTES);
    status = WdfDmaEnablerCreate(device, &dmaConfig, WDF_NO_OBJECT_ATTRIBUTES,
                                 &devExt->DmaEnabler);
    if (!NT_SUCCESS(status)) {
        return status;
    }
    return WdfDmaTransactionCreate(devExt->DmaEnabler, WDF_NO_OBJECT_ATTRIBUTES,
                                   &devExt->Transaction);
}

_Use_decl_annotations_
VOID
RingEvtDeviceCleanup(
    WDFOBJECT Object
    )
{
    UNREFERENCED_PARAMETER(Object);
}

//
// The ring's MDL describes the common buffer: it goes before the buffer does.
//
_Use_decl_annotations_
VOID
RingEvtRingCleanup(
    WDFOBJECT Object
    )
{
    PRING_BUFFER_CONTEXT ring = RingGetBufferContext((WDFCOMMONBUFFER)Object);

    if (ring->Mdl != NULL) {
        IoFreeMdl(ring->Mdl);
        ring->Mdl = NULL;
    }
}

//
// ==== STEP 2: EvtDevicePrepareHardware ========================================================
//

//
// The widest element the frame is made of: the controller moves whole elements, and a
// frame split across two beats is still whole in the ring.
//
static DMA_WIDTH
RingElementWidth(
    _In_ ULONG Frame
    )
{
    if (Frame % 4 == 0) {
        return Width32Bits;
    }
    return (Frame % 2 == 0) ? Width16Bits : Width8Bits;
}

//
// STEP 2, the second half of the creation: DATA register, element width, the DMA
// descriptor, DemandMode (the stream paces the controller) and LoopedTransfer (the
// controller wraps around the ring until stopped). Then the ring itself, a common buffer
// in memory the controller reaches, described by an MDL for the transaction.
//
static NTSTATUS
RingConfigureDma(
    _In_ PDEVICE_EXTENSION DevExt,
    _In_ PCM_PARTIAL_RESOURCE_DESCRIPTOR DmaDescriptor
    )
{
    WDF_DMA_SYSTEM_PROFILE_CONFIG systemConfig;
    WDF_OBJECT_ATTRIBUTES attributes;
    PHYSICAL_ADDRESS dataRegister;
    ULONG frame = RingReadRegister(DevExt, RING_REG_FRAME);
    ULONG rate;
    NTSTATUS status;

    PAGED_CODE();

    if (frame == 0 || frame > DevExt->RingBytes) {
        return STATUS_DEVICE_CONFIGURATION_ERROR;
    }
    DevExt->FrameBytes = frame;
    DevExt->RingBytes -= DevExt->RingBytes % frame;
    DevExt->Guard = DevExt->RingBytes / 4;
    rate = RingReadRegister(DevExt, RING_REG_RATE);
    DevExt->PollMs = (rate == 0) ? 1
                                 : (ULONG)((ULONG64)DevExt->RingBytes * 1000 / 8 / frame / rate);
    if (DevExt->PollMs == 0) {
        DevExt->PollMs = 1;
    }
    dataRegister.QuadPart = DevExt->RegistersPhysical.QuadPart + RING_REG_DATA;
    WDF_DMA_SYSTEM_PROFILE_CONFIG_INIT(&systemConfig, dataRegister, RingElementWidth(frame),
                                       DmaDescriptor);
    systemConfig.DemandMode = TRUE;
    systemConfig.LoopedTransfer = TRUE;
    status = WdfDmaEnablerConfigureSystemProfile(DevExt->DmaEnabler, &systemConfig,
                                                 DevExt->Direction);
    if (!NT_SUCCESS(status)) {
        KdPrint(("RING: ConfigureSystemProfile failed 0x%x\n", status));
        return status;
    }
    WDF_OBJECT_ATTRIBUTES_INIT_CONTEXT_TYPE(&attributes, RING_BUFFER_CONTEXT);
    attributes.EvtCleanupCallback = RingEvtRingCleanup;
    status = WdfCommonBufferCreate(DevExt->DmaEnabler, DevExt->RingBytes, &attributes,
                                   &DevExt->RingBuffer);
    if (!NT_SUCCESS(status)) {
        return status;
    }
    DevExt->RingVa = WdfCommonBufferGetAlignedVirtualAddress(DevExt->RingBuffer);
    RtlZeroMemory(DevExt->RingVa, DevExt->RingBytes);
    DevExt->RingMdl = IoAllocateMdl(DevExt->RingVa, DevExt->RingBytes, FALSE, FALSE, NULL);
    if (DevExt->RingMdl == NULL) {
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    MmBuildMdlForNonPagedPool(DevExt->RingMdl);
    RingGetBufferContext(DevExt->RingBuffer)->Mdl = DevExt->RingMdl;
    return STATUS_SUCCESS;
}

_Use_decl_annotations_
NTSTATUS
RingEvtDevicePrepareHardware(
    WDFDEVICE Device,
    WDFCMRESLIST ResourcesRaw,
    WDFCMRESLIST ResourcesTranslated
    )
{
    PDEVICE_EXTENSION devExt = RingGetDeviceContext(Device);
    PCM_PARTIAL_RESOURCE_DESCRIPTOR descriptor, dma = NULL;
    ULONG count, i;

    UNREFERENCED_PARAMETER(ResourcesRaw);
    PAGED_CODE();

    count = WdfCmResourceListGetCount(ResourcesTranslated);
    for (i = 0; i < count; i++) {
        descriptor = WdfCmResourceListGetDescriptor(ResourcesTranslated, i);
        if (descriptor == NULL) {
            continue;
        }
        if (descriptor->Type == CmResourceTypeMemory && devExt->Registers == NULL &&
            descriptor->u.Memory.Length >= RING_REGISTERS_LENGTH) {
            devExt->Registers = MmMapIoSpaceEx(descriptor->u.Memory.Start,
                                               descriptor->u.Memory.Length,
                                               PAGE_READWRITE | PAGE_NOCACHE);
            if (devExt->Registers == NULL) {
                return STATUS_INSUFFICIENT_RESOURCES;
            }
            devExt->RegistersLength = descriptor->u.Memory.Length;
            devExt->RegistersPhysical = descriptor->u.Memory.Start;
        } else if (descriptor->Type == CmResourceTypeDma && dma == NULL) {
            dma = descriptor;
        }
    }
    if (devExt->Registers == NULL || dma == NULL) {
        return STATUS_DEVICE_CONFIGURATION_ERROR;
    }
    if (devExt->RingBuffer != NULL) {
        return STATUS_SUCCESS;          // configured on the first start
    }
    return RingConfigureDma(devExt, dma);
}

_Use_decl_annotations_
NTSTATUS
RingEvtDeviceReleaseHardware(
    WDFDEVICE Device,
    WDFCMRESLIST ResourcesTranslated
    )
{
    PDEVICE_EXTENSION devExt = RingGetDeviceContext(Device);

    UNREFERENCED_PARAMETER(ResourcesTranslated);
    PAGED_CODE();

    if (devExt->Registers != NULL) {
        MmUnmapIoSpace(devExt->Registers, devExt->RegistersLength);
        devExt->Registers = NULL;
    }
    return STATUS_SUCCESS;
}

//
// ==== The stream position and the pending requests ===========================================
//

//
// Advance HwStream to the controller's position (caller holds the lock; see ring.h).
//
static VOID
RingPollPositionLocked(
    _In_ PDEVICE_EXTENSION DevExt
    )
{
    PDMA_ADAPTER adapter = WdfDmaEnablerWdmGetDmaAdapter(DevExt->DmaEnabler, DevExt->Direction);
    ULONG residue = adapter->DmaOperations->ReadDmaCounter(adapter);
    ULONG pos = (residue >= DevExt->RingBytes) ? 0 : DevExt->RingBytes - residue;
    ULONG64 stream = DevExt->Wraps * DevExt->RingBytes + pos;

    if (stream < DevExt->HwStream) {
        stream += DevExt->RingBytes;    // wrapped, notification still on its way
    }
    if (stream > DevExt->HwStream) {
        DevExt->HwStream = stream;
    }
}

//
// Move bytes between the ring and a request buffer at stream offset `Stream`, in at most
// two pieces (the ring's end wraps to its start).
//
static VOID
RingCopy(
    _In_ PDEVICE_EXTENSION DevExt,
    _In_ PUCHAR Buffer,
    _In_ ULONG64 Stream,
    _In_ size_t Length
    )
{
    size_t done = 0;

    while (done < Length) {
        ULONG at = (ULONG)((Stream + done) % DevExt->RingBytes);
        size_t piece = DevExt->RingBytes - at;
        if (piece > Length - done) {
            piece = Length - done;
        }
        if (DevExt->Playback) {
            RtlCopyMemory(DevExt->RingVa + at, Buffer + done, piece);
        } else {
            RtlCopyMemory(Buffer + done, DevExt->RingVa + at, piece);
        }
        done += piece;
    }
}

//
// Bytes the driver may move now at DriverStream (caller holds the lock). Capture: what the
// controller wrote and has not overwritten (skipping an overrun). Playback: room ahead of
// the controller (skipping an underrun).
//
static size_t
RingAvailableLocked(
    _In_ PDEVICE_EXTENSION DevExt
    )
{
    ULONG64 oldest, limit;

    if (DevExt->Playback) {
        if (DevExt->Running && DevExt->DriverStream < DevExt->HwStream) {
            DevExt->LostBytes += DevExt->HwStream - DevExt->DriverStream;
            DevExt->DriverStream = DevExt->HwStream;
        }
        limit = DevExt->HwStream + DevExt->RingBytes - DevExt->Guard;
        return (limit > DevExt->DriverStream) ? (size_t)(limit - DevExt->DriverStream) : 0;
    }
    oldest = (DevExt->HwStream > DevExt->RingBytes - DevExt->Guard)
                 ? DevExt->HwStream - (DevExt->RingBytes - DevExt->Guard)
                 : 0;
    if (DevExt->DriverStream < oldest) {
        DevExt->LostBytes += oldest - DevExt->DriverStream;
        DevExt->DriverStream = oldest;
    }
    return (size_t)(DevExt->HwStream - DevExt->DriverStream);
}

//
// Serve the pending requests in order (caller holds the lock): fill (capture) or drain
// (playback) the current one as far as the ring allows. A request taken from the manual
// queue is marked cancelable while the driver holds it. A finished one is returned, with
// its status and byte count, for the caller to complete after dropping the lock; NULL
// when nothing more can be served now.
//
static WDFREQUEST
RingServeOneLocked(
    _In_ PDEVICE_EXTENSION DevExt,
    _Out_ NTSTATUS *Status,
    _Out_ size_t *Bytes
    )
{
    PVOID buffer;
    size_t length, piece;
    WDFREQUEST done;

    *Status = STATUS_SUCCESS;
    *Bytes = 0;
    if (DevExt->Current == NULL) {
        if (!NT_SUCCESS(WdfIoQueueRetrieveNextRequest(DevExt->PendingQueue, &DevExt->Current))) {
            return NULL;
        }
        DevExt->CurrentDone = 0;
        DevExt->CurrentCancelOwned = FALSE;
        if (!NT_SUCCESS(WdfRequestMarkCancelableEx(DevExt->Current, RingEvtRequestCancel))) {
            //
            // Cancelled on its way out of the queue: it is still ours to complete.
            //
            done = DevExt->Current;
            DevExt->Current = NULL;
            *Status = STATUS_CANCELLED;
            return done;
        }
    }
    if (DevExt->CurrentCancelOwned) {
        return NULL;                    // EvtRequestCancel completes it, then serves on
    }
    if (DevExt->Playback) {
        (VOID)WdfRequestRetrieveInputBuffer(DevExt->Current, 1, &buffer, &length);
    } else {
        (VOID)WdfRequestRetrieveOutputBuffer(DevExt->Current, 1, &buffer, &length);
    }
    piece = RingAvailableLocked(DevExt);
    if (piece > length - DevExt->CurrentDone) {
        piece = length - DevExt->CurrentDone;
    }
    RingCopy(DevExt, (PUCHAR)buffer + DevExt->CurrentDone, DevExt->DriverStream, piece);
    DevExt->DriverStream += piece;
    DevExt->CurrentDone += piece;
    DevExt->ServedBytes += piece;
    if (DevExt->CurrentDone < length) {
        return NULL;
    }
    if (WdfRequestUnmarkCancelable(DevExt->Current) == STATUS_CANCELLED) {
        DevExt->CurrentCancelOwned = TRUE;
        return NULL;                    // EvtRequestCancel owns it now
    }
    done = DevExt->Current;
    *Bytes = DevExt->CurrentDone;
    DevExt->Current = NULL;
    return done;
}

static VOID
RingServe(
    _In_ PDEVICE_EXTENSION DevExt
    )
{
    WDFREQUEST done;
    NTSTATUS status;
    size_t bytes;

    for (;;) {
        WdfSpinLockAcquire(DevExt->Lock);
        if (DevExt->Running) {
            RingPollPositionLocked(DevExt);
        }
        done = RingServeOneLocked(DevExt, &status, &bytes);
        WdfSpinLockRelease(DevExt->Lock);
        if (done == NULL) {
            return;
        }
        WdfRequestCompleteWithInformation(done, status, bytes);
    }
}

//
// The stream is not running and nothing will fill or drain the ring until the next
// IOCTL_RING_START: complete every waiting request (after RingServe served what the ring
// still holds). The current one completes with what it got (STATUS_SUCCESS and a short
// count if it got anything), the others with `Status`. A Current whose cancel routine is
// on its way is left to it.
//
static VOID
RingFailPending(
    _In_ PDEVICE_EXTENSION DevExt,
    _In_ NTSTATUS Status
    )
{
    WDFREQUEST request = NULL;
    size_t bytes = 0;

    WdfSpinLockAcquire(DevExt->Lock);
    if (DevExt->Current != NULL && !DevExt->CurrentCancelOwned) {
        if (WdfRequestUnmarkCancelable(DevExt->Current) == STATUS_CANCELLED) {
            DevExt->CurrentCancelOwned = TRUE;
        } else {
            request = DevExt->Current;
            bytes = DevExt->CurrentDone;
            DevExt->Current = NULL;
        }
    }
    WdfSpinLockRelease(DevExt->Lock);
    if (request != NULL) {
        WdfRequestCompleteWithInformation(request, (bytes != 0) ? STATUS_SUCCESS : Status, bytes);
    }
    while (NT_SUCCESS(WdfIoQueueRetrieveNextRequest(DevExt->PendingQueue, &request))) {
        WdfRequestComplete(request, Status);
    }
}

//
// The request the driver was filling / draining was cancelled: complete it with the bytes
// it got (as a serial driver completes a cancelled read), then go on with the next one.
//
_Use_decl_annotations_
VOID
RingEvtRequestCancel(
    WDFREQUEST Request
    )
{
    WDFQUEUE queue = WdfRequestGetIoQueue(Request);
    PDEVICE_EXTENSION devExt = RingGetDeviceContext(WdfIoQueueGetDevice(queue));
    size_t bytes;

    WdfSpinLockAcquire(devExt->Lock);
    NT_ASSERT(devExt->Current == Request);
    bytes = devExt->CurrentDone;
    devExt->Current = NULL;
    devExt->CurrentCancelOwned = FALSE;
    WdfSpinLockRelease(devExt->Lock);
    WdfRequestCompleteWithInformation(Request, STATUS_CANCELLED, bytes);
    RingServe(devExt);
}

//
// Reads (capture) or writes (playback) wait in the manual queue behind older ones, then
// take what the ring holds now. A capture read on a stopped stream gets what the ring
// still holds and no more: nothing will arrive until IOCTL_RING_START. (Playback writes
// may fill the ring before the start.)
//
static VOID
RingQueueData(
    _In_ PDEVICE_EXTENSION DevExt,
    _In_ WDFREQUEST Request
    )
{
    NTSTATUS status = WdfRequestForwardToIoQueue(Request, DevExt->PendingQueue);
    BOOLEAN stopped;

    if (!NT_SUCCESS(status)) {
        WdfRequestComplete(Request, status);
        return;
    }
    RingServe(DevExt);
    WdfSpinLockAcquire(DevExt->Lock);
    stopped = !DevExt->Playback && !DevExt->Running && !DevExt->ResumeAtD0;
    WdfSpinLockRelease(DevExt->Lock);
    if (stopped) {
        RingFailPending(DevExt, STATUS_DEVICE_NOT_READY);
    }
}

_Use_decl_annotations_
VOID
RingEvtIoRead(
    WDFQUEUE Queue,
    WDFREQUEST Request,
    size_t Length
    )
{
    UNREFERENCED_PARAMETER(Length);
    RingQueueData(RingGetDeviceContext(WdfIoQueueGetDevice(Queue)), Request);
}

_Use_decl_annotations_
VOID
RingEvtIoWrite(
    WDFQUEUE Queue,
    WDFREQUEST Request,
    size_t Length
    )
{
    UNREFERENCED_PARAMETER(Length);
    RingQueueData(RingGetDeviceContext(WdfIoQueueGetDevice(Queue)), Request);
}

//
// Wrap notifications come once per pass, but a capture must copy the ring before the
// controller overwrites it: the position is also polled a few times per pass.
//
_Use_decl_annotations_
VOID
RingEvtPollTimer(
    WDFTIMER Timer
    )
{
    RingServe(RingGetDeviceContext(WdfTimerGetParentObject(Timer)));
}

static NTSTATUS
RingCreatePollTimer(
    _In_ PDEVICE_EXTENSION DevExt
    )
{
    WDF_TIMER_CONFIG timerConfig;
    WDF_OBJECT_ATTRIBUTES attributes;

    WDF_TIMER_CONFIG_INIT_PERIODIC(&timerConfig, RingEvtPollTimer, 1);
    WDF_OBJECT_ATTRIBUTES_INIT(&attributes);
    attributes.ParentObject = DevExt->Device;
    return WdfTimerCreate(&timerConfig, &attributes, &DevExt->PollTimer);
}

//
// ==== Start and stop the looped transaction ===================================================
//
static NTSTATUS
RingStart(
    _In_ PDEVICE_EXTENSION DevExt
    )
{
    WDFDMATRANSACTION transaction = DevExt->Transaction;
    NTSTATUS status;

    if (DevExt->Running) {
        return STATUS_SUCCESS;
    }
    status = WdfDmaTransactionInitialize(transaction, RingEvtProgramDma, DevExt->Direction,
                                         DevExt->RingMdl, DevExt->RingVa, DevExt->RingBytes);
    if (!NT_SUCCESS(status)) {
        return status;
    }
    //
    // NOTIFY: wraps and the final stop arrive through this callback.
    //
    WdfDmaTransactionSetTransferCompleteCallback(transaction, RingEvtDmaTransferComplete,
                                                 DevExt);
    WdfSpinLockAcquire(DevExt->Lock);
    DevExt->Running = TRUE;
    DevExt->StopIssued = FALSE;
    DevExt->Wraps = 0;
    DevExt->HwStream = 0;
    if (!DevExt->Playback) {
        DevExt->DriverStream = 0;
    }
    KeClearEvent(&DevExt->Stopped);
    WdfSpinLockRelease(DevExt->Lock);

    status = WdfDmaTransactionExecute(transaction, DevExt);
    if (NT_SUCCESS(status)) {
        WdfTimerStart(DevExt->PollTimer, WDF_REL_TIMEOUT_IN_MS(DevExt->PollMs));
    } else {
        WdfDmaTransactionRelease(transaction);
        WdfSpinLockAcquire(DevExt->Lock);
        DevExt->Running = FALSE;
        KeSetEvent(&DevExt->Stopped, IO_NO_INCREMENT, FALSE);
        WdfSpinLockRelease(DevExt->Lock);
    }
    return status;
}

//
// Ask the controller to stop (the only way to end a looped transfer). DmaCancelled
// follows; the transaction ends there. Returns FALSE if nothing runs.
//
static BOOLEAN
RingStop(
    _In_ PDEVICE_EXTENSION DevExt
    )
{
    BOOLEAN stop;

    WdfSpinLockAcquire(DevExt->Lock);
    stop = DevExt->Running && !DevExt->StopIssued;
    if (stop) {
        DevExt->StopIssued = TRUE;
        WdfDmaTransactionStopSystemTransfer(DevExt->Transaction);
    }
    WdfSpinLockRelease(DevExt->Lock);
    return stop || DevExt->Running;
}

_Use_decl_annotations_
VOID
RingEvtIoDeviceControl(
    WDFQUEUE Queue,
    WDFREQUEST Request,
    size_t OutputBufferLength,
    size_t InputBufferLength,
    ULONG IoControlCode
    )
{
    PDEVICE_EXTENSION devExt = RingGetDeviceContext(WdfIoQueueGetDevice(Queue));
    PRING_STATS stats;
    NTSTATUS status;

    UNREFERENCED_PARAMETER(OutputBufferLength);
    UNREFERENCED_PARAMETER(InputBufferLength);

    switch (IoControlCode) {
    case IOCTL_RING_START:
        WdfRequestComplete(Request, RingStart(devExt));
        return;
    case IOCTL_RING_STOP:
        //
        // Completed by the DmaCancelled notification, once the transaction is released.
        //
        WdfSpinLockAcquire(devExt->Lock);
        status = (devExt->StopRequest != NULL) ? STATUS_DEVICE_BUSY : STATUS_SUCCESS;
        if (NT_SUCCESS(status) && devExt->Running) {
            devExt->StopRequest = Request;
        }
        WdfSpinLockRelease(devExt->Lock);
        if (!NT_SUCCESS(status) || !RingStop(devExt)) {
            WdfRequestComplete(Request, status);
        }
        return;
    case IOCTL_RING_GET_STATS:
        status = WdfRequestRetrieveOutputBuffer(Request, sizeof(RING_STATS), (PVOID *)&stats,
                                                NULL);
        if (NT_SUCCESS(status)) {
            WdfSpinLockAcquire(devExt->Lock);
            stats->Wraps = devExt->Wraps;
            stats->StreamBytes = devExt->HwStream;
            stats->ServedBytes = devExt->ServedBytes;
            stats->LostBytes = devExt->LostBytes;
            stats->RingBytes = devExt->RingBytes;
            stats->Running = devExt->Running;
            WdfSpinLockRelease(devExt->Lock);
        }
        WdfRequestCompleteWithInformation(Request, status,
                                          NT_SUCCESS(status) ? sizeof(RING_STATS) : 0);
        return;
    default:
        WdfRequestComplete(Request, STATUS_INVALID_DEVICE_REQUEST);
        return;
    }
}

//
// Leaving D0 stops the stream (it resumes at D0 entry): wait for the controller to report
// the stop, so the ring is idle before the device powers down.
//
_Use_decl_annotations_
NTSTATUS
RingEvtDeviceD0Exit(
    WDFDEVICE Device,
    WDF_POWER_DEVICE_STATE TargetState
    )
{
    PDEVICE_EXTENSION devExt = RingGetDeviceContext(Device);

    ULONG level;

    devExt->ResumeAtD0 = devExt->Running && TargetState != WdfPowerDeviceD3Final;
    if (RingStop(devExt)) {
        (VOID)KeWaitForSingleObject(&devExt->Stopped, Executive, KernelMode, FALSE, NULL);
    }
    RingWriteRegister(devExt, RING_REG_CONTROL, 0);

    //
    // What the peripheral's FIFO still holds is lost when it powers down (capture: bytes
    // produced the controller never took; playback: bytes it will never play).
    //
    level = RingReadRegister(devExt, RING_REG_LEVEL);
    if (level != 0xFFFFFFFF) {
        WdfSpinLockAcquire(devExt->Lock);
        devExt->LostBytes += level;
        WdfSpinLockRelease(devExt->Lock);
    }
    return STATUS_SUCCESS;
}

_Use_decl_annotations_
NTSTATUS
RingEvtDeviceD0Entry(
    WDFDEVICE Device,
    WDF_POWER_DEVICE_STATE PreviousState
    )
{
    PDEVICE_EXTENSION devExt = RingGetDeviceContext(Device);

    UNREFERENCED_PARAMETER(PreviousState);

    RingWriteRegister(devExt, RING_REG_CONTROL, 0);
    RingWriteRegister(devExt, RING_REG_STATUS, RING_STATUS_STICKY);
    if (devExt->ResumeAtD0) {
        devExt->ResumeAtD0 = FALSE;
        return RingStart(devExt);
    }
    return STATUS_SUCCESS;
}

//
// The controller channel is armed with the looped ring: start the stream and open its
// request line. From now on the stream never stops by itself, unless a fault ends it.
// The peripheral's FIFO level and xrun count are taken first, with the request line still
// closed, as the base of RingControllerMoved.
//
_Use_decl_annotations_
BOOLEAN
RingEvtProgramDma(
    WDFDMATRANSACTION Transaction,
    WDFDEVICE Device,
    WDFCONTEXT Context,
    WDF_DMA_DIRECTION Direction,
    PSCATTER_GATHER_LIST SgList
    )
{
    PDEVICE_EXTENSION devExt = RingGetDeviceContext(Device);

    UNREFERENCED_PARAMETER(Transaction);
    UNREFERENCED_PARAMETER(Context);
    UNREFERENCED_PARAMETER(Direction);
    UNREFERENCED_PARAMETER(SgList);

    WdfSpinLockAcquire(devExt->Lock);
    devExt->FifoLevel0 = RingReadRegister(devExt, RING_REG_LEVEL);
    devExt->Xruns0 = RingReadRegister(devExt, RING_REG_XRUNS);
    devExt->Frames = 0;                 // RUN starts FRAMES from zero
    WdfSpinLockRelease(devExt->Lock);
    RingWriteRegister(devExt, RING_REG_CONTROL, RING_CONTROL_RUN | RING_CONTROL_DMA);
    return TRUE;
}

//
// The bytes the controller has moved since the stream started, as the PERIPHERAL counts
// them (caller holds the lock): capture, bytes produced into the FIFO (frames due minus
// frames lost to overruns) plus the FIFO's level at the start minus its level now;
// playback, bytes the FIFO holds beyond its level at the start plus frames consumed.
// The registers are read in an order that can only overstate the count while the
// peripheral runs (LEVEL, then XRUNS, then FRAMES). FALSE if the peripheral is gone
// (its registers read all ones).
//
static BOOLEAN
RingControllerMovedLocked(
    _In_ PDEVICE_EXTENSION DevExt,
    _Out_ ULONG64 *Moved
    )
{
    ULONG level = RingReadRegister(DevExt, RING_REG_LEVEL);
    ULONG xruns = RingReadRegister(DevExt, RING_REG_XRUNS);
    ULONG frames = RingReadRegister(DevExt, RING_REG_FRAMES);
    ULONG64 streamed;

    if (level == 0xFFFFFFFF) {
        *Moved = 0;
        return FALSE;
    }
    //
    // FRAMES is the low 32 bits of the count: it wraps after 2^32 frames (~25 hours at
    // 48 kHz). It is read at least once per pass of the ring, far more often, so the
    // difference from the last reading extends it.
    //
    DevExt->Frames += (ULONG)(frames - (ULONG)DevExt->Frames);
    streamed = (DevExt->Frames - (ULONG)(xruns - DevExt->Xruns0)) * DevExt->FrameBytes;
    if (DevExt->Playback) {
        *Moved = streamed + level - DevExt->FifoLevel0;
    } else {
        *Moved = streamed + DevExt->FifoLevel0 - level;
    }
    return TRUE;
}

//
// A DmaComplete is a wrap only if the controller really passed the end of the ring once
// more: the peripheral must account for Wraps + 1 whole rings (caller holds the lock).
// Otherwise the looped transfer ended by itself (a short transfer) or the peripheral is
// gone: either way the stream is over.
//
static BOOLEAN
RingWrapConfirmedLocked(
    _In_ PDEVICE_EXTENSION DevExt
    )
{
    ULONG64 moved;

    if (!RingControllerMovedLocked(DevExt, &moved)) {
        return FALSE;
    }
    return moved >= (DevExt->Wraps + 1) * DevExt->RingBytes;
}

//
// The looped transaction has ended (DmaCancelled, DmaError, or a DmaComplete that was no
// wrap): record the last pass, release the transaction, stop the stream, finish what
// waited for the stop, and (unless the stop was for a sleep) every waiting request.
//
static VOID
RingEnded(
    _In_ PDEVICE_EXTENSION DevExt,
    _In_ WDFDMATRANSACTION Transaction,
    _In_ NTSTATUS EndStatus
    )
{
    size_t length = WdfDmaTransactionGetCurrentDmaTransferLength(Transaction);
    WDFREQUEST stopRequest;
    BOOLEAN sleeping;
    NTSTATUS status;
    ULONG64 pass;

    RingWriteRegister(DevExt, RING_REG_CONTROL, 0);
    WdfTimerStop(DevExt->PollTimer, FALSE);

    //
    // The final position, while the adapter still reports the last residue: the stream
    // holds exactly the bytes the controller moved, no more.
    //
    WdfSpinLockAcquire(DevExt->Lock);
    RingPollPositionLocked(DevExt);
    pass = DevExt->HwStream - DevExt->Wraps * DevExt->RingBytes;
    WdfSpinLockRelease(DevExt->Lock);

    //
    // A looped transfer that wrapped has used every byte of its buffer, whatever pass it
    // stopped in: the whole ring is reported. One that ended in its first pass moved only
    // what it reached (the stream position is kept by the driver).
    //
    (VOID)WdfDmaTransactionDmaCompletedFinal(Transaction,
                                             (DevExt->Wraps != 0 || pass > length) ? length
                                                                                   : (size_t)pass,
                                             &status);
    WdfDmaTransactionRelease(Transaction);

    WdfSpinLockAcquire(DevExt->Lock);
    DevExt->Running = FALSE;
    sleeping = DevExt->ResumeAtD0 && DevExt->StopIssued;
    stopRequest = DevExt->StopRequest;
    DevExt->StopRequest = NULL;
    WdfSpinLockRelease(DevExt->Lock);

    RingServe(DevExt);                  // capture: the last bytes of the stream
    WdfSpinLockAcquire(DevExt->Lock);
    if (DevExt->Playback && DevExt->DriverStream > DevExt->HwStream) {
        //
        // Playback: bytes written into the ring that the controller never played are
        // lost; the next start plays the ring from its beginning.
        //
        DevExt->LostBytes += DevExt->DriverStream - DevExt->HwStream;
    }
    if (DevExt->Playback) {
        DevExt->DriverStream = 0;
        DevExt->HwStream = 0;
    }
    KeSetEvent(&DevExt->Stopped, IO_NO_INCREMENT, FALSE);
    WdfSpinLockRelease(DevExt->Lock);

    if (!sleeping) {
        RingFailPending(DevExt, NT_SUCCESS(EndStatus) ? STATUS_DEVICE_NOT_READY : EndStatus);
    }
    if (stopRequest != NULL) {
        WdfRequestComplete(stopRequest, STATUS_SUCCESS);
    }
}

//
// NOTIFY: once per wrap (DmaComplete: a pass of the ring finished, the transfer goes on;
// no DmaCompleted here), then once at the end (DmaCancelled after StopSystemTransfer, or
// DmaError). A DmaComplete the peripheral cannot account for is the end of a transfer
// cut short, not a wrap (ring.h).
//
_Use_decl_annotations_
VOID
RingEvtDmaTransferComplete(
    WDFDMATRANSACTION Transaction,
    WDFDEVICE Device,
    WDFCONTEXT Context,
    WDF_DMA_DIRECTION Direction,
    DMA_COMPLETION_STATUS Status
    )
{
    PDEVICE_EXTENSION devExt = (PDEVICE_EXTENSION)Context;
    BOOLEAN wrap;

    UNREFERENCED_PARAMETER(Device);
    UNREFERENCED_PARAMETER(Direction);

    switch (Status) {
    case DmaComplete:
        WdfSpinLockAcquire(devExt->Lock);
        wrap = RingWrapConfirmedLocked(devExt);
        if (wrap) {
            devExt->Wraps++;
        }
        WdfSpinLockRelease(devExt->Lock);
        if (wrap) {
            RingServe(devExt);
            return;
        }
        KdPrint(("RING: the looped transfer ended early; the stream stops\n"));
        RingEnded(devExt, Transaction, STATUS_DEVICE_DATA_ERROR);
        return;
    case DmaCancelled:
        RingEnded(devExt, Transaction, STATUS_SUCCESS);
        return;
    default:
        KdPrint(("RING: the controller reported an error; the stream stops\n"));
        RingEnded(devExt, Transaction, STATUS_DEVICE_DATA_ERROR);
        return;
    }
}
