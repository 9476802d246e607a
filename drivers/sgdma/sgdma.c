/*++

Module Name:

    sgdma.c

Abstract:

    A KMDF driver for the SGDMA bus-master scatter/gather DMA engine, written the way the
    PLX9x5x sample drives its PLX-9656: one DMA enabler, one descriptor ring per channel
    in a common buffer, one reused DMA transaction per direction, sequential queues, and
    an interrupt whose DPC completes transfers.

    A bus-master DMA driver handles I/O in four phases. Each is marked below:

    PHASE 1  EvtDriverDeviceAdd enables DMA: it creates the DMA enabler, the common
             buffers the device shares with the driver (descriptor rings) and, because
             this driver reuses transaction objects, the DMA transactions themselves.
    PHASE 2  A request handler (EvtIoRead / EvtIoWrite / the IOCTLs) initializes the
             transaction from the request and starts it. The framework splits it into
             transfers the hardware can take and calls EvtProgramDma for each.
    PHASE 3  EvtProgramDma programs the hardware for one transfer: it turns the
             scatter/gather list into descriptors and rings the doorbell with the
             channel's interrupt enabled.
    PHASE 4  The device interrupts. EvtInterruptIsr saves and acknowledges the status
             and queues the DPC; EvtInterruptDpc tells the framework each transfer is
             done. When the last transfer of a transaction is done, the DPC completes the
             transaction and its request.

    RECOVERY Real hardware loses interrupts, hangs and disappears. A request whose
             completion waits for one interrupt would then never complete, and with it
             neither a sleep nor a removal could finish. Three paths can therefore end
             a transfer, and for each transfer exactly one does:

               - EvtInterruptDpc, when the interrupt reports that the chain ended;
               - the channel's watchdog, a WDFTIMER armed with every doorbell, once the
                 transfer is overdue: if the channel says the chain ended, only the
                 interrupt was lost, and the watchdog completes the transfer exactly as
                 the DPC would; if the chain still runs (or never started), the channel
                 is hung: the watchdog aborts and resets it and fails the request with
                 STATUS_IO_TIMEOUT; if the registers read all ones, the device is gone;
               - EvtIoStop, when the device is surprise-removed (registers read all
                 ones: STATUS_NO_SUCH_DEVICE) or its queues are purged for removal
                 (STATUS_DEVICE_REMOVED) while the request is in DMA: its interrupt will
                 never come, and the framework waits for the request.

             Each path first claims the transfer under the interrupt lock: it must find
             the channel Busy (a chain is on the hardware and nobody claimed it) and
             not Completing, and it clears Busy, so whoever comes second finds nothing
             to do. The claim lasts while the claimer is inside the framework's
             DmaCompleted* and Release (Completing): DmaCompleted may stage the next
             transfer before it returns, whose doorbell makes the channel Busy again.
             An interrupt or a removal for that next transfer arriving meanwhile is
             left for the claimer, which hands it on when it lets go.

             The watchdog is cancelled without waiting (WdfTimerStop(FALSE) from the
             DPC, at DISPATCH_LEVEL), so an expiry may still run after the transfer it
             was armed for completed, while the next one is in flight. Each doorbell
             therefore opens a new generation of the channel, with its own Deadline
             (Generation numbers them, for debug output and crash dumps), and the
             watchdog acts only on the generation in flight, when that generation is
             unclaimed and past its own deadline; a stale expiry re-arms for the rest of
             the generation in flight, or finds nothing in flight and leaves.

                      EvtProgramDma: doorbell, Generation++, Deadline, watchdog armed
                 idle ----------------------------------------------------> in flight (Busy)
                  ^                                                             |
                  |     claim under the interrupt lock (Busy = FALSE,           |
                  |     Completing = TRUE) by exactly one of: the DPC, the      |
                  |     watchdog (overdue), EvtIoStop (removal)                 v
                  +---- SgdmaReleaseClaim: the transaction ended ---------- completing
                        (or its next transfer is in flight: Busy again)

Environment:

    Kernel mode

--*/

#include <ntddk.h>
#include <wdf.h>

#include "sgdma.h"

#ifdef ALLOC_PRAGMA
#pragma alloc_text(INIT, DriverEntry)
#pragma alloc_text(PAGE, SgdmaEvtDeviceAdd)
#pragma alloc_text(PAGE, SgdmaEvtDevicePrepareHardware)
#pragma alloc_text(PAGE, SgdmaEvtDeviceReleaseHardware)
#endif

static VOID
SgdmaChannelDone(
    _In_ PSGDMA_CHANNEL Channel,
    _In_ BOOLEAN ErrorSeen
    );

static VOID
SgdmaEndTransaction(
    _In_ PSGDMA_CHANNEL Channel,
    _In_ NTSTATUS Status
    );

//
// Code that must run with the interrupt lock held says so: WdfInterruptAcquireLock
// raises to the interrupt's DIRQL, above DISPATCH_LEVEL.
//
#define SGDMA_ASSERT_INTERRUPT_LOCK_HELD() NT_ASSERT(KeGetCurrentIrql() > DISPATCH_LEVEL)

//
// ---- Register access ---------------------------------------------------------------------
//
static ULONG
SgdmaReadRegister(
    _In_ PDEVICE_EXTENSION DevExt,
    _In_ ULONG Offset
    )
{
    return READ_REGISTER_ULONG((volatile ULONG *)(DevExt->Registers + Offset));
}

static VOID
SgdmaWriteRegister(
    _In_ PDEVICE_EXTENSION DevExt,
    _In_ ULONG Offset,
    _In_ ULONG Value
    )
{
    WRITE_REGISTER_ULONG((volatile ULONG *)(DevExt->Registers + Offset), Value);
}

static ULONG
SgdmaReadChannel(
    _In_ PSGDMA_CHANNEL Channel,
    _In_ ULONG Register
    )
{
    return SgdmaReadRegister(Channel->DevExt, SGDMA_CH_BASE(Channel->Index) + Register);
}

static VOID
SgdmaWriteChannel(
    _In_ PSGDMA_CHANNEL Channel,
    _In_ ULONG Register,
    _In_ ULONG Value
    )
{
    SgdmaWriteRegister(Channel->DevExt, SGDMA_CH_BASE(Channel->Index) + Register, Value);
}

//
// A channel's STATUS, or SGDMA_REGISTER_GONE when there is no device to ask: it was
// surprise-removed (reads float high) or its registers are no longer mapped
// (EvtDeviceReleaseHardware ran). Caller holds the interrupt lock, which also orders this
// against ReleaseHardware unmapping the registers.
//
static ULONG
SgdmaReadChannelStatus(
    _In_ PSGDMA_CHANNEL Channel
    )
{
    SGDMA_ASSERT_INTERRUPT_LOCK_HELD();

    if (Channel->DevExt->Registers == NULL) {
        return SGDMA_REGISTER_GONE;
    }
    return SgdmaReadChannel(Channel, SGDMA_CH_STATUS);
}

//
// Did the chain of the last doorbell end, by the channel's own account? START clears
// STATUS, so its DONE and error bits describe that chain and no earlier one, unlike
// INT_STATUS bits, which may be left over from a transfer that was already completed.
//
static BOOLEAN
SgdmaChainEnded(
    _In_ ULONG ChannelStatus
    )
{
    return ChannelStatus != SGDMA_REGISTER_GONE &&
           (ChannelStatus & SGDMA_STATUS_BUSY) == 0 &&
           (ChannelStatus & (SGDMA_STATUS_DONE | SGDMA_STATUS_ERRORS)) != 0;
}

//
// Acknowledge the channel's interrupt status as the ISR would, and forget what the ISR
// saved for it: the transfer it reports is being completed by the caller, and a DPC must
// not take it for the next transfer's. Caller holds the interrupt lock.
//
static VOID
SgdmaAcknowledgeChannel(
    _In_ PSGDMA_CHANNEL Channel
    )
{
    PDEVICE_EXTENSION devExt = Channel->DevExt;

    SGDMA_ASSERT_INTERRUPT_LOCK_HELD();

    SgdmaWriteRegister(devExt, SGDMA_REG_INT_STATUS, SGDMA_INT_CHANNEL(Channel->Index));
    devExt->SavedIntStatus &= ~SGDMA_INT_CHANNEL(Channel->Index);
}

//
// Stop a channel now (data sheet: ABORT, then RESET). ABORT ends the chain at once: the
// descriptor in progress is neither transferred nor written back, no interrupt is raised
// and the channel's interrupt events still in their latency window are dropped, so the
// descriptors show exactly what moved. RESET returns the channel's registers to their
// reset values, so nothing of the dead chain survives into the next START. Caller holds
// the interrupt lock and has seen the device present.
//
static VOID
SgdmaStopChannel(
    _In_ PSGDMA_CHANNEL Channel
    )
{
    SGDMA_ASSERT_INTERRUPT_LOCK_HELD();

    SgdmaWriteChannel(Channel, SGDMA_CH_CTRL, SGDMA_CTRL_ABORT);
    SgdmaWriteChannel(Channel, SGDMA_CH_CTRL, SGDMA_CTRL_RESET);
    SgdmaAcknowledgeChannel(Channel);
}

//
// Claim the transfer in flight for completion, if nobody has (see "Recovery" above).
// From a successful claim until SgdmaReleaseClaim, the caller alone may complete, abort
// or end the channel's transaction. Caller holds the interrupt lock.
//
static BOOLEAN
SgdmaClaimTransfer(
    _In_ PSGDMA_CHANNEL Channel
    )
{
    SGDMA_ASSERT_INTERRUPT_LOCK_HELD();
    NT_ASSERT(!Channel->Busy || Channel->Request != NULL);

    if (!Channel->Busy || Channel->Completing) {
        return FALSE;
    }
    Channel->Busy = FALSE;
    Channel->Completing = TRUE;
    return TRUE;
}

//
// The channel's request is about to be completed (its transaction ended, or never
// started): record it as ending. EvtIoStop may already be running for it on another
// processor and find it only after it completed; it must leave it alone then too, so
// the handle stays recorded until the channel's next request (none is dispatched while
// the queue is stopping).
//
static VOID
SgdmaSetChannelEndingLocked(
    _In_ PSGDMA_CHANNEL Channel
    )
{
    SGDMA_ASSERT_INTERRUPT_LOCK_HELD();
    Channel->EndingRequest = Channel->Request;
    Channel->Request = NULL;
    Channel->StopStatus = STATUS_SUCCESS;
}

//
// The claimer is done with the transaction: either it ended (TransactionEnded: released,
// its request about to be completed) or the framework staged its next transfer, which may
// already be in flight. What arrived for that next transfer while the claim was held was
// left alone, and is handed on now: its interrupt to a new DPC, a removal's StopStatus to
// the watchdog, armed to expire at once.
//
static VOID
SgdmaReleaseClaim(
    _In_ PSGDMA_CHANNEL Channel,
    _In_ BOOLEAN TransactionEnded
    )
{
    PDEVICE_EXTENSION devExt = Channel->DevExt;
    BOOLEAN queueDpc = FALSE;
    BOOLEAN expireNow = FALSE;

    WdfInterruptAcquireLock(devExt->Interrupt);
    NT_ASSERT(Channel->Completing);
    Channel->Completing = FALSE;
    if (TransactionEnded) {
        NT_ASSERT(!Channel->Busy);
        SgdmaSetChannelEndingLocked(Channel);
    } else if (Channel->Busy) {
        queueDpc = (devExt->SavedIntStatus & SGDMA_INT_CHANNEL(Channel->Index)) != 0;
        expireNow = Channel->StopStatus != STATUS_SUCCESS;
    }
    WdfInterruptReleaseLock(devExt->Interrupt);

    if (queueDpc) {
        (VOID)WdfInterruptQueueDpcForIsr(devExt->Interrupt);
    }
    if (expireNow) {
        (VOID)WdfTimerStart(Channel->Watchdog, WDF_REL_TIMEOUT_IN_US(SGDMA_WATCHDOG_NOW_US));
    }
}

//
// Stop both channels and return the engine to its reset state. Used when the device
// enters or leaves D0, so no chain from a previous power cycle survives. Device memory
// keeps its contents across a reset.
//
static VOID
SgdmaResetEngine(
    _In_ PDEVICE_EXTENSION DevExt
    )
{
    SgdmaWriteRegister(DevExt, SGDMA_REG_RESET, SGDMA_RESET_KEY);
    SgdmaWriteRegister(DevExt, SGDMA_REG_INT_MASK, SGDMA_INT_ALL);
    SgdmaWriteRegister(DevExt, SGDMA_REG_INT_STATUS, SGDMA_INT_ALL);
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

    KdPrint(("SGDMA: DriverEntry\n"));

    WDF_DRIVER_CONFIG_INIT(&config, SgdmaEvtDeviceAdd);

    status = WdfDriverCreate(DriverObject,
                             RegistryPath,
                             WDF_NO_OBJECT_ATTRIBUTES,
                             &config,
                             WDF_NO_HANDLE);
    if (!NT_SUCCESS(status)) {
        KdPrint(("SGDMA: WdfDriverCreate failed 0x%x\n", status));
    }
    return status;
}

//
// ==== PHASE 1: enable DMA (EvtDriverDeviceAdd) ===============================================
//

//
// Read one REG_DWORD tunable. A missing value (STATUS_OBJECT_NAME_NOT_FOUND) is normal:
// the INF may not set it, and the default applies. Any other failure is reported and the
// default applies as well, so a bad registry never keeps the device from starting.
//
static ULONG
SgdmaQuerySetting(
    _In_opt_ WDFKEY Key,
    _In_ PCUNICODE_STRING Name,
    _In_ ULONG Default
    )
{
    NTSTATUS status;
    ULONG value;

    PAGED_CODE();

    if (Key == NULL) {
        return Default;
    }
    status = WdfRegistryQueryULong(Key, Name, &value);
    if (!NT_SUCCESS(status)) {
        if (status != STATUS_OBJECT_NAME_NOT_FOUND) {
            KdPrint(("SGDMA: reading %wZ failed 0x%x, using %u\n", Name, status, Default));
        }
        return Default;
    }
    return value;
}

//
// The device's hardware key holds what the INF's [SGDMA_Install.NT.HW] AddReg wrote:
//   DmaProfile             1..6 = WdfDmaProfilePacket .. WdfDmaProfileScatterGather64Duplex
//   MaximumTransferLength  bytes per DMA transfer (the enabler's MaximumLength)
//   MaximumSgElements      descriptors per transfer; 0 or absent = as many as a
//                          MaximumTransferLength transfer can span
//   DmaVersion             0 (framework's choice) or 3 (WdmDmaVersionOverride)
//   TransferTimeoutMs      the transfer watchdog's timeout in milliseconds; 0 or absent =
//                          computed from each transfer's length (SGDMA_WATCHDOG_*), which
//                          suits the device at its data-sheet speeds
// Out-of-range values are reported and replaced by the default.
//
static VOID
SgdmaReadDeviceSettings(
    _In_ PDEVICE_EXTENSION DevExt
    )
{
    DECLARE_CONST_UNICODE_STRING(profileName, L"DmaProfile");
    DECLARE_CONST_UNICODE_STRING(maxTransferName, L"MaximumTransferLength");
    DECLARE_CONST_UNICODE_STRING(maxSgName, L"MaximumSgElements");
    DECLARE_CONST_UNICODE_STRING(versionName, L"DmaVersion");
    DECLARE_CONST_UNICODE_STRING(timeoutName, L"TransferTimeoutMs");
    WDFKEY key = NULL;
    NTSTATUS status;
    ULONG profile, maxTransfer, maxSg, version, timeoutMs;

    PAGED_CODE();

    status = WdfDeviceOpenRegistryKey(DevExt->Device,
                                      PLUGPLAY_REGKEY_DEVICE,
                                      KEY_READ,
                                      WDF_NO_OBJECT_ATTRIBUTES,
                                      &key);
    if (!NT_SUCCESS(status)) {
        KdPrint(("SGDMA: cannot open the hardware key 0x%x, using defaults\n", status));
        key = NULL;
    }

    profile = SgdmaQuerySetting(key, &profileName, SGDMA_DEFAULT_PROFILE);
    maxTransfer = SgdmaQuerySetting(key, &maxTransferName, SGDMA_DEFAULT_MAX_TRANSFER);
    maxSg = SgdmaQuerySetting(key, &maxSgName, 0);
    version = SgdmaQuerySetting(key, &versionName, 0);
    timeoutMs = SgdmaQuerySetting(key, &timeoutName, 0);

    if (key != NULL) {
        WdfRegistryClose(key);
    }

    if (profile < WdfDmaProfilePacket || profile > WdfDmaProfileScatterGather64Duplex) {
        KdPrint(("SGDMA: DmaProfile %u is not a bus-master profile\n", profile));
        profile = SGDMA_DEFAULT_PROFILE;
    }
    if (maxTransfer < SGDMA_MIN_TRANSFER || maxTransfer > SGDMA_DESC_MAX_LENGTH) {
        KdPrint(("SGDMA: MaximumTransferLength %u is out of range\n", maxTransfer));
        maxTransfer = SGDMA_DEFAULT_MAX_TRANSFER;
    }
    if (maxSg > SGDMA_MAX_SG_ELEMENTS_LIMIT) {
        KdPrint(("SGDMA: MaximumSgElements %u is out of range\n", maxSg));
        maxSg = 0;
    }
    if (version != 0 && version != 3) {
        KdPrint(("SGDMA: DmaVersion %u is neither 0 nor 3\n", version));
        version = 0;
    }
    if (timeoutMs > SGDMA_MAX_TRANSFER_TIMEOUT_MS) {
        KdPrint(("SGDMA: TransferTimeoutMs %u is out of range\n", timeoutMs));
        timeoutMs = 0;
    }

    DevExt->Profile = (WDF_DMA_PROFILE)profile;
    DevExt->MaximumTransferLength = maxTransfer;
    DevExt->MaximumSgElements = maxSg;
    DevExt->DmaVersion = version;
    DevExt->TransferTimeoutMs = timeoutMs;

    //
    // The 32-bit profiles hand the driver only addresses below 4 GiB (the framework
    // bounces anything higher), so they can use the compact 32-bit descriptors.
    //
    DevExt->Descriptor64 = (profile == WdfDmaProfilePacket64 ||
                            profile == WdfDmaProfileScatterGather64 ||
                            profile == WdfDmaProfileScatterGather64Duplex);
}

//
// Packet profiles on DMA version 2 run one packet transaction per device at a time; a
// second Execute would fail with STATUS_WDF_BUSY. Such configurations therefore funnel
// reads and writes through one sequential queue.
//
static BOOLEAN
SgdmaProfileIsPacket(
    _In_ WDF_DMA_PROFILE Profile
    )
{
    return Profile == WdfDmaProfilePacket || Profile == WdfDmaProfilePacket64;
}

//
// Queues. The default queue receives everything; reads and writes are dispatched by the
// framework to one sequential queue per direction, so at most one request per direction
// owns that direction's DMA transaction at a time. That is what makes reusing one
// transaction per direction safe. IOCTLs arrive on the default queue, which forwards each
// to the queue of its direction, where it waits its turn behind reads or writes.
//
static NTSTATUS
SgdmaCreateQueues(
    _In_ PDEVICE_EXTENSION DevExt
    )
{
    WDF_IO_QUEUE_CONFIG queueConfig;
    NTSTATUS status;

    PAGED_CODE();

    WDF_IO_QUEUE_CONFIG_INIT_DEFAULT_QUEUE(&queueConfig, WdfIoQueueDispatchParallel);
    queueConfig.EvtIoDeviceControl = SgdmaEvtIoDeviceControl;

    status = WdfIoQueueCreate(DevExt->Device, &queueConfig, WDF_NO_OBJECT_ATTRIBUTES,
                              WDF_NO_HANDLE);
    if (!NT_SUCCESS(status)) {
        return status;
    }

    WDF_IO_QUEUE_CONFIG_INIT(&queueConfig, WdfIoQueueDispatchSequential);
    queueConfig.EvtIoRead = SgdmaEvtIoRead;
    queueConfig.EvtIoWrite = SgdmaEvtIoWrite;
    queueConfig.EvtIoDeviceControl = SgdmaEvtIoDeviceControlDma;
    queueConfig.EvtIoStop = SgdmaEvtIoStop;

    status = WdfIoQueueCreate(DevExt->Device, &queueConfig, WDF_NO_OBJECT_ATTRIBUTES,
                              &DevExt->ReadQueue);
    if (!NT_SUCCESS(status)) {
        return status;
    }
    status = WdfDeviceConfigureRequestDispatching(DevExt->Device, DevExt->ReadQueue,
                                                  WdfRequestTypeRead);
    if (!NT_SUCCESS(status)) {
        return status;
    }

    if (SgdmaProfileIsPacket(DevExt->Profile)) {
        DevExt->WriteQueue = DevExt->ReadQueue;
    } else {
        status = WdfIoQueueCreate(DevExt->Device, &queueConfig, WDF_NO_OBJECT_ATTRIBUTES,
                                  &DevExt->WriteQueue);
        if (!NT_SUCCESS(status)) {
            return status;
        }
    }
    return WdfDeviceConfigureRequestDispatching(DevExt->Device, DevExt->WriteQueue,
                                                WdfRequestTypeWrite);
}

//
// A descriptor ring in a common buffer: memory both the driver (virtual address) and the
// device (logical address) reach for the device's whole life. The device requires
// 16-byte aligned descriptors, hence FILE_OCTA_ALIGNMENT (an alignment mask of 15).
//
static NTSTATUS
SgdmaCreateRing(
    _In_ PDEVICE_EXTENSION DevExt,
    _In_ PSGDMA_CHANNEL Channel,
    _In_ ULONG Entries
    )
{
    WDF_COMMON_BUFFER_CONFIG bufferConfig;
    size_t descriptorSize;
    NTSTATUS status;

    PAGED_CODE();

    descriptorSize = DevExt->Descriptor64 ? sizeof(SGDMA_DESCRIPTOR64)
                                          : sizeof(SGDMA_DESCRIPTOR32);

    WDF_COMMON_BUFFER_CONFIG_INIT(&bufferConfig, FILE_OCTA_ALIGNMENT);
    status = WdfCommonBufferCreateWithConfig(DevExt->DmaEnabler,
                                             Entries * descriptorSize,
                                             &bufferConfig,
                                             WDF_NO_OBJECT_ATTRIBUTES,
                                             &Channel->RingBuffer);
    if (!NT_SUCCESS(status)) {
        KdPrint(("SGDMA: common buffer for channel %u failed 0x%x\n", Channel->Index, status));
        return status;
    }

    Channel->RingVa = WdfCommonBufferGetAlignedVirtualAddress(Channel->RingBuffer);
    Channel->RingLa = WdfCommonBufferGetAlignedLogicalAddress(Channel->RingBuffer);
    Channel->RingEntries = Entries;
    RtlZeroMemory(Channel->RingVa, WdfCommonBufferGetLength(Channel->RingBuffer));
    return STATUS_SUCCESS;
}

//
// The DMA enabler describes the device's DMA capability to the framework: its profile
// (packet or scatter/gather, 32- or 64-bit, simplex or duplex) and the largest transfer.
// Its power callbacks let the driver quiesce and restart the engine around power changes.
//
static NTSTATUS
SgdmaCreateDmaEnabler(
    _In_ PDEVICE_EXTENSION DevExt
    )
{
    WDF_DMA_ENABLER_CONFIG dmaConfig;
    WDF_OBJECT_ATTRIBUTES attributes;
    NTSTATUS status;

    PAGED_CODE();

    WDF_DMA_ENABLER_CONFIG_INIT(&dmaConfig, DevExt->Profile, DevExt->MaximumTransferLength);
    dmaConfig.WdmDmaVersionOverride = DevExt->DmaVersion;
    dmaConfig.EvtDmaEnablerFill = SgdmaEvtDmaEnablerFill;
    dmaConfig.EvtDmaEnablerFlush = SgdmaEvtDmaEnablerFlush;
    dmaConfig.EvtDmaEnablerEnable = SgdmaEvtDmaEnablerEnable;
    dmaConfig.EvtDmaEnablerDisable = SgdmaEvtDmaEnablerDisable;
    dmaConfig.EvtDmaEnablerSelfManagedIoStart = SgdmaEvtDmaEnablerSelfManagedIoStart;
    dmaConfig.EvtDmaEnablerSelfManagedIoStop = SgdmaEvtDmaEnablerSelfManagedIoStop;

    WDF_OBJECT_ATTRIBUTES_INIT_CONTEXT_TYPE(&attributes, ENABLER_CONTEXT);

    status = WdfDmaEnablerCreate(DevExt->Device, &dmaConfig, &attributes, &DevExt->DmaEnabler);
    if (!NT_SUCCESS(status)) {
        KdPrint(("SGDMA: WdfDmaEnablerCreate failed 0x%x\n", status));
        return status;
    }
    SgdmaGetEnablerContext(DevExt->DmaEnabler)->DevExt = DevExt;
    return STATUS_SUCCESS;
}

//
// Everything DMA needs, created once: the enabler, a descriptor ring per channel and a
// transaction per direction. Creating the transactions here rather than per request means
// the I/O path never allocates, so it keeps working when memory is short.
//
static NTSTATUS
SgdmaInitializeDma(
    _In_ PDEVICE_EXTENSION DevExt
    )
{
    ULONG entries;
    ULONG i;
    NTSTATUS status;

    PAGED_CODE();

    status = SgdmaCreateDmaEnabler(DevExt);
    if (!NT_SUCCESS(status)) {
        return status;
    }

    //
    // One descriptor per scatter/gather element, so the ring bounds the elements of a
    // transfer: as configured, or as many pages as the longest transfer can span.
    //
    entries = DevExt->MaximumSgElements;
    if (entries == 0) {
        entries = (ULONG)BYTES_TO_PAGES(DevExt->MaximumTransferLength) + 1;
    }
    WdfDmaEnablerSetMaximumScatterGatherElements(DevExt->DmaEnabler, entries);

    for (i = 0; i < SGDMA_CHANNEL_COUNT; i++) {
        PSGDMA_CHANNEL channel = &DevExt->Channel[i];

        channel->Index = i;
        channel->DevExt = DevExt;
        channel->Direction = (i == SGDMA_CHANNEL_TO_DEVICE) ? WdfDmaDirectionWriteToDevice
                                                            : WdfDmaDirectionReadFromDevice;
        status = SgdmaCreateRing(DevExt, channel, entries);
        if (!NT_SUCCESS(status)) {
            return status;
        }
        status = WdfDmaTransactionCreate(DevExt->DmaEnabler, WDF_NO_OBJECT_ATTRIBUTES,
                                         &channel->Transaction);
        if (!NT_SUCCESS(status)) {
            KdPrint(("SGDMA: WdfDmaTransactionCreate failed 0x%x\n", status));
            return status;
        }
    }
    return STATUS_SUCCESS;
}

//
// The interrupt. AutomaticSerialization runs the DPC under the device's synchronization
// lock, so it never overlaps the other DPC instance or other serialized callbacks.
//
static NTSTATUS
SgdmaCreateInterrupt(
    _In_ PDEVICE_EXTENSION DevExt
    )
{
    WDF_INTERRUPT_CONFIG interruptConfig;

    PAGED_CODE();

    WDF_INTERRUPT_CONFIG_INIT(&interruptConfig, SgdmaEvtInterruptIsr, SgdmaEvtInterruptDpc);
    interruptConfig.EvtInterruptEnable = SgdmaEvtInterruptEnable;
    interruptConfig.EvtInterruptDisable = SgdmaEvtInterruptDisable;
    interruptConfig.AutomaticSerialization = TRUE;

    return WdfInterruptCreate(DevExt->Device, &interruptConfig, WDF_NO_OBJECT_ATTRIBUTES,
                              &DevExt->Interrupt);
}

//
// One watchdog per channel (see "Recovery" above), a child of the device so the framework
// deletes it with the device, after waiting for a running expiry. It needs no
// AutomaticSerialization: it synchronizes with the ISR, the DPC and EvtIoStop through
// the interrupt lock, the one lock all of them can take.
//
static NTSTATUS
SgdmaCreateWatchdogs(
    _In_ PDEVICE_EXTENSION DevExt
    )
{
    WDF_TIMER_CONFIG timerConfig;
    WDF_OBJECT_ATTRIBUTES attributes;
    NTSTATUS status;
    ULONG i;

    PAGED_CODE();

    for (i = 0; i < SGDMA_CHANNEL_COUNT; i++) {
        PSGDMA_CHANNEL channel = &DevExt->Channel[i];

        WDF_TIMER_CONFIG_INIT(&timerConfig, SgdmaEvtWatchdogTimer);
        timerConfig.AutomaticSerialization = FALSE;

        WDF_OBJECT_ATTRIBUTES_INIT_CONTEXT_TYPE(&attributes, WATCHDOG_CONTEXT);
        attributes.ParentObject = DevExt->Device;

        status = WdfTimerCreate(&timerConfig, &attributes, &channel->Watchdog);
        if (!NT_SUCCESS(status)) {
            KdPrint(("SGDMA: WdfTimerCreate failed 0x%x\n", status));
            return status;
        }
        SgdmaGetWatchdogContext(channel->Watchdog)->Channel = channel;
    }
    return STATUS_SUCCESS;
}

_Use_decl_annotations_
NTSTATUS
SgdmaEvtDeviceAdd(
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
    // Direct I/O: reads and writes arrive with an MDL describing the caller's buffer,
    // which is exactly what the DMA transaction maps for the device.
    //
    WdfDeviceInitSetIoType(DeviceInit, WdfDeviceIoDirect);

    WDF_PNPPOWER_EVENT_CALLBACKS_INIT(&pnpPowerCallbacks);
    pnpPowerCallbacks.EvtDevicePrepareHardware = SgdmaEvtDevicePrepareHardware;
    pnpPowerCallbacks.EvtDeviceReleaseHardware = SgdmaEvtDeviceReleaseHardware;
    pnpPowerCallbacks.EvtDeviceD0Entry = SgdmaEvtDeviceD0Entry;
    pnpPowerCallbacks.EvtDeviceD0Exit = SgdmaEvtDeviceD0Exit;
    WdfDeviceInitSetPnpPowerEventCallbacks(DeviceInit, &pnpPowerCallbacks);

    WDF_OBJECT_ATTRIBUTES_INIT_CONTEXT_TYPE(&attributes, DEVICE_EXTENSION);
    status = WdfDeviceCreate(&DeviceInit, &attributes, &device);
    if (!NT_SUCCESS(status)) {
        KdPrint(("SGDMA: WdfDeviceCreate failed 0x%x\n", status));
        return status;
    }

    devExt = SgdmaGetDeviceContext(device);
    devExt->Device = device;

    status = WdfDeviceCreateDeviceInterface(device, &GUID_DEVINTERFACE_SGDMA, NULL);
    if (!NT_SUCCESS(status)) {
        KdPrint(("SGDMA: WdfDeviceCreateDeviceInterface failed 0x%x\n", status));
        return status;
    }

    SgdmaReadDeviceSettings(devExt);

    status = SgdmaCreateQueues(devExt);
    if (!NT_SUCCESS(status)) {
        KdPrint(("SGDMA: creating queues failed 0x%x\n", status));
        return status;
    }

    status = SgdmaInitializeDma(devExt);
    if (!NT_SUCCESS(status)) {
        return status;
    }

    status = SgdmaCreateInterrupt(devExt);
    if (!NT_SUCCESS(status)) {
        KdPrint(("SGDMA: WdfInterruptCreate failed 0x%x\n", status));
        return status;
    }

    return SgdmaCreateWatchdogs(devExt);
}

//
// ---- Hardware resources -------------------------------------------------------------------
//

//
// Map BAR0 from the translated memory resource and make sure the device behind it is the
// one this driver knows: its ID and major version, and an address width the configured
// DMA profile can live with.
//
_Use_decl_annotations_
NTSTATUS
SgdmaEvtDevicePrepareHardware(
    WDFDEVICE Device,
    WDFCMRESLIST ResourcesRaw,
    WDFCMRESLIST ResourcesTranslated
    )
{
    PDEVICE_EXTENSION devExt = SgdmaGetDeviceContext(Device);
    PCM_PARTIAL_RESOURCE_DESCRIPTOR descriptor;
    ULONG count, i;
    ULONG id, version;

    UNREFERENCED_PARAMETER(ResourcesRaw);
    PAGED_CODE();

    count = WdfCmResourceListGetCount(ResourcesTranslated);
    for (i = 0; i < count && devExt->Registers == NULL; i++) {
        descriptor = WdfCmResourceListGetDescriptor(ResourcesTranslated, i);
        if (descriptor == NULL || descriptor->Type != CmResourceTypeMemory ||
            descriptor->u.Memory.Length < SGDMA_BAR0_LENGTH) {
            continue;
        }
        devExt->Registers = MmMapIoSpaceEx(descriptor->u.Memory.Start,
                                           descriptor->u.Memory.Length,
                                           PAGE_READWRITE | PAGE_NOCACHE);
        if (devExt->Registers == NULL) {
            KdPrint(("SGDMA: MmMapIoSpaceEx failed\n"));
            return STATUS_INSUFFICIENT_RESOURCES;
        }
        devExt->RegistersLength = descriptor->u.Memory.Length;
    }
    if (devExt->Registers == NULL) {
        KdPrint(("SGDMA: no register BAR among %u resources\n", count));
        return STATUS_DEVICE_CONFIGURATION_ERROR;
    }

    id = SgdmaReadRegister(devExt, SGDMA_REG_ID);
    version = SgdmaReadRegister(devExt, SGDMA_REG_VERSION);
    if (id != SGDMA_ID || SGDMA_VERSION_MAJOR(version) != SGDMA_SUPPORTED_MAJOR) {
        KdPrint(("SGDMA: unexpected ID 0x%08x version 0x%08x\n", id, version));
        return STATUS_DEVICE_CONFIGURATION_ERROR;
    }

    devExt->DeviceMemorySize = SgdmaReadRegister(devExt, SGDMA_REG_DEVMEM_SIZE);
    devExt->AddressBits = SGDMA_CAPS_ADDRESS_BITS(SgdmaReadRegister(devExt, SGDMA_REG_CAPS));

    //
    // A 32-bit engine cannot emit a 64-bit profile's addresses: every DMA above 4 GiB
    // would fault. Refuse to start rather than corrupt or lose data later.
    //
    if (devExt->AddressBits < 64 && devExt->Descriptor64) {
        KdPrint(("SGDMA: the device addresses %u bits; configure a 32-bit DmaProfile\n",
                 devExt->AddressBits));
        return STATUS_DEVICE_CONFIGURATION_ERROR;
    }
    return STATUS_SUCCESS;
}

//
// Forget the register mapping under the interrupt lock, which every register reader that
// can still run (EvtIoStop purging after a surprise removal) holds while it reads. Not in
// the paged section: it runs at the interrupt's DIRQL. Returns the old mapping.
//
static PUCHAR
SgdmaForgetRegisters(
    _In_ PDEVICE_EXTENSION DevExt
    )
{
    PUCHAR registers;

    WdfInterruptAcquireLock(DevExt->Interrupt);
    registers = DevExt->Registers;
    DevExt->Registers = NULL;
    WdfInterruptReleaseLock(DevExt->Interrupt);
    return registers;
}

_Use_decl_annotations_
NTSTATUS
SgdmaEvtDeviceReleaseHardware(
    WDFDEVICE Device,
    WDFCMRESLIST ResourcesTranslated
    )
{
    PDEVICE_EXTENSION devExt = SgdmaGetDeviceContext(Device);

    UNREFERENCED_PARAMETER(ResourcesTranslated);
    PAGED_CODE();

    if (devExt->Registers != NULL) {
        PUCHAR registers = SgdmaForgetRegisters(devExt);

        MmUnmapIoSpace(registers, devExt->RegistersLength);
    }
    return STATUS_SUCCESS;
}

//
// Entering D0 the engine may hold anything (power-on state, a chain from before a
// sleep): reset it. Its interrupt stays masked until EvtInterruptEnable.
//
_Use_decl_annotations_
NTSTATUS
SgdmaEvtDeviceD0Entry(
    WDFDEVICE Device,
    WDF_POWER_DEVICE_STATE PreviousState
    )
{
    UNREFERENCED_PARAMETER(PreviousState);

    SgdmaResetEngine(SgdmaGetDeviceContext(Device));
    return STATUS_SUCCESS;
}

//
// Leaving D0 the queues are stopped, every DMA request has completed and the interrupt
// is disconnected: a reset leaves the engine idle and silent.
//
_Use_decl_annotations_
NTSTATUS
SgdmaEvtDeviceD0Exit(
    WDFDEVICE Device,
    WDF_POWER_DEVICE_STATE TargetState
    )
{
    UNREFERENCED_PARAMETER(TargetState);

    SgdmaResetEngine(SgdmaGetDeviceContext(Device));
    return STATUS_SUCCESS;
}

//
// ---- DMA enabler power callbacks ----------------------------------------------------------
//
// The framework calls these at PASSIVE_LEVEL after D0 entry (Fill -> Enable ->
// SelfManagedIoStart) and before D0 exit (SelfManagedIoStop -> Disable -> Flush).
//

//
// Fill: give the device its DMA resources. The rings are cleared so no status word from
// before a power cycle can be mistaken for a completion.
//
_Use_decl_annotations_
NTSTATUS
SgdmaEvtDmaEnablerFill(
    WDFDMAENABLER DmaEnabler
    )
{
    PDEVICE_EXTENSION devExt = SgdmaGetEnablerContext(DmaEnabler)->DevExt;
    ULONG i;

    for (i = 0; i < SGDMA_CHANNEL_COUNT; i++) {
        PSGDMA_CHANNEL channel = &devExt->Channel[i];

        RtlZeroMemory(channel->RingVa, WdfCommonBufferGetLength(channel->RingBuffer));
        channel->DescriptorsInUse = 0;

        WdfInterruptAcquireLock(devExt->Interrupt);
        channel->Busy = FALSE;
        channel->Completing = FALSE;
        channel->StopStatus = STATUS_SUCCESS;
        WdfInterruptReleaseLock(devExt->Interrupt);
    }
    return STATUS_SUCCESS;
}

//
// Enable: bring the channels to a known state. A channel reset clears leftover status
// bits; the descriptor layout and interrupt enable are written with every doorbell.
//
_Use_decl_annotations_
NTSTATUS
SgdmaEvtDmaEnablerEnable(
    WDFDMAENABLER DmaEnabler
    )
{
    PDEVICE_EXTENSION devExt = SgdmaGetEnablerContext(DmaEnabler)->DevExt;
    ULONG i;

    for (i = 0; i < SGDMA_CHANNEL_COUNT; i++) {
        SgdmaWriteChannel(&devExt->Channel[i], SGDMA_CH_CTRL, SGDMA_CTRL_RESET);
    }
    return STATUS_SUCCESS;
}

//
// SelfManagedIoStart: nothing runs on its own in this engine (no free-running receive
// ring), so there is nothing to start; the queues deliver the work.
//
_Use_decl_annotations_
NTSTATUS
SgdmaEvtDmaEnablerSelfManagedIoStart(
    WDFDMAENABLER DmaEnabler
    )
{
    UNREFERENCED_PARAMETER(DmaEnabler);
    return STATUS_SUCCESS;
}

//
// SelfManagedIoStop: the power-managed queues have stopped and their DMA requests have
// completed, so no chain should be running. Abort any that is, so the device never
// touches host memory after power-down begins. The watchdogs are stopped here, waiting
// for an expiry in progress: nothing can arm them again until a doorbell, and none
// rings before the next power-up, so no expiry touches the device while it is in Dx or
// after its registers are unmapped. A surprise-removed device reads all ones: there is
// nothing left to abort.
//
_Use_decl_annotations_
NTSTATUS
SgdmaEvtDmaEnablerSelfManagedIoStop(
    WDFDMAENABLER DmaEnabler
    )
{
    PDEVICE_EXTENSION devExt = SgdmaGetEnablerContext(DmaEnabler)->DevExt;
    ULONG i;

    for (i = 0; i < SGDMA_CHANNEL_COUNT; i++) {
        PSGDMA_CHANNEL channel = &devExt->Channel[i];
        ULONG status;

        (VOID)WdfTimerStop(channel->Watchdog, TRUE);

        status = SgdmaReadChannel(channel, SGDMA_CH_STATUS);
        if (status != SGDMA_REGISTER_GONE && (status & SGDMA_STATUS_BUSY)) {
            KdPrint(("SGDMA: channel %u still busy at power-down, aborting\n", i));
            SgdmaWriteChannel(channel, SGDMA_CH_CTRL, SGDMA_CTRL_ABORT);
        }
    }
    return STATUS_SUCCESS;
}

//
// Disable: stop the channels outright (a channel reset also clears their registers).
//
_Use_decl_annotations_
NTSTATUS
SgdmaEvtDmaEnablerDisable(
    WDFDMAENABLER DmaEnabler
    )
{
    return SgdmaEvtDmaEnablerEnable(DmaEnabler);
}

//
// Flush: drop interrupt status no DPC will ever consume, so the next power-up starts
// clean.
//
_Use_decl_annotations_
NTSTATUS
SgdmaEvtDmaEnablerFlush(
    WDFDMAENABLER DmaEnabler
    )
{
    PDEVICE_EXTENSION devExt = SgdmaGetEnablerContext(DmaEnabler)->DevExt;

    SgdmaWriteRegister(devExt, SGDMA_REG_INT_STATUS, SGDMA_INT_ALL);
    WdfInterruptAcquireLock(devExt->Interrupt);
    devExt->SavedIntStatus = 0;
    WdfInterruptReleaseLock(devExt->Interrupt);
    return STATUS_SUCCESS;
}

//
// ==== PHASE 2: start a DMA transaction for a request (EvtIoRead / EvtIoWrite / IOCTL) =======
//

//
// Record which request owns the channel's transaction (NULL: none), under the interrupt
// lock, where EvtIoStop looks for it.
//
static VOID
SgdmaSetChannelRequest(
    _In_ PSGDMA_CHANNEL Channel,
    _In_opt_ WDFREQUEST Request
    )
{
    WdfInterruptAcquireLock(Channel->DevExt->Interrupt);
    Channel->Request = Request;
    Channel->StopStatus = STATUS_SUCCESS;
    if (Request != NULL) {
        Channel->EndingRequest = NULL;  // the last one's completion is long over
    }
    WdfInterruptReleaseLock(Channel->DevExt->Interrupt);
}

//
// SgdmaSetChannelEndingLocked, taking the interrupt lock.
//
static VOID
SgdmaSetChannelEnding(
    _In_ PSGDMA_CHANNEL Channel
    )
{
    WdfInterruptAcquireLock(Channel->DevExt->Interrupt);
    SgdmaSetChannelEndingLocked(Channel);
    WdfInterruptReleaseLock(Channel->DevExt->Interrupt);
}

//
// Start the channel's transaction for Request at device-memory Offset. On success the
// request belongs to the transaction until the DPC, the watchdog or EvtIoStop completes
// it (the framework may even have called EvtProgramDma already); on failure the request
// is completed here.
//
static VOID
SgdmaStartDma(
    _In_ PSGDMA_CHANNEL Channel,
    _In_ WDFREQUEST Request,
    _In_ LONGLONG Offset,
    _In_ size_t Length
    )
{
    PDEVICE_EXTENSION devExt = Channel->DevExt;
    NTSTATUS status;

    //
    // The request addresses device memory by file offset: all of it must lie inside.
    //
    if (Offset < 0 || (ULONGLONG)Offset > devExt->DeviceMemorySize ||
        Length > devExt->DeviceMemorySize - (ULONGLONG)Offset) {
        WdfRequestComplete(Request, STATUS_INVALID_PARAMETER);
        return;
    }
    Channel->RequestOffset = (ULONG64)Offset;

    //
    // The reused transaction takes the request's MDL, length and direction. A failed
    // initialization leaves it released, so only the request needs completing.
    //
    status = WdfDmaTransactionInitializeUsingRequest(Channel->Transaction,
                                                     Request,
                                                     SgdmaEvtProgramDma,
                                                     Channel->Direction);
    if (!NT_SUCCESS(status)) {
        KdPrint(("SGDMA: InitializeUsingRequest failed 0x%x\n", status));
        WdfRequestComplete(Request, status);
        return;
    }

    //
    // Execute maps the first transfer and calls EvtProgramDma, possibly before it
    // returns. Once it succeeds the completion paths own the request: do not touch it
    // again here.
    //
    SgdmaSetChannelRequest(Channel, Request);
    status = WdfDmaTransactionExecute(Channel->Transaction, Channel);
    if (!NT_SUCCESS(status)) {
        KdPrint(("SGDMA: WdfDmaTransactionExecute failed 0x%x\n", status));
        WdfDmaTransactionRelease(Channel->Transaction);
        SgdmaSetChannelEnding(Channel);
        WdfRequestComplete(Request, status);
    }
}

_Use_decl_annotations_
VOID
SgdmaEvtIoRead(
    WDFQUEUE Queue,
    WDFREQUEST Request,
    size_t Length
    )
{
    PDEVICE_EXTENSION devExt = SgdmaGetDeviceContext(WdfIoQueueGetDevice(Queue));
    WDF_REQUEST_PARAMETERS params;

    WDF_REQUEST_PARAMETERS_INIT(&params);
    WdfRequestGetParameters(Request, &params);

    SgdmaStartDma(&devExt->Channel[SGDMA_CHANNEL_FROM_DEVICE], Request,
                  params.Parameters.Read.DeviceOffset, Length);
}

_Use_decl_annotations_
VOID
SgdmaEvtIoWrite(
    WDFQUEUE Queue,
    WDFREQUEST Request,
    size_t Length
    )
{
    PDEVICE_EXTENSION devExt = SgdmaGetDeviceContext(WdfIoQueueGetDevice(Queue));
    WDF_REQUEST_PARAMETERS params;

    WDF_REQUEST_PARAMETERS_INIT(&params);
    WdfRequestGetParameters(Request, &params);

    SgdmaStartDma(&devExt->Channel[SGDMA_CHANNEL_TO_DEVICE], Request,
                  params.Parameters.Write.DeviceOffset, Length);
}

//
// Default queue: forward each memory IOCTL to the sequential queue of its direction so
// it serializes with that direction's reads or writes (they share the transaction).
//
_Use_decl_annotations_
VOID
SgdmaEvtIoDeviceControl(
    WDFQUEUE Queue,
    WDFREQUEST Request,
    size_t OutputBufferLength,
    size_t InputBufferLength,
    ULONG IoControlCode
    )
{
    PDEVICE_EXTENSION devExt = SgdmaGetDeviceContext(WdfIoQueueGetDevice(Queue));
    WDFQUEUE target;
    NTSTATUS status;

    UNREFERENCED_PARAMETER(OutputBufferLength);
    UNREFERENCED_PARAMETER(InputBufferLength);

    switch (IoControlCode) {
    case IOCTL_SGDMA_READ_MEMORY:
        target = devExt->ReadQueue;
        break;
    case IOCTL_SGDMA_WRITE_MEMORY:
        target = devExt->WriteQueue;
        break;
    default:
        WdfRequestComplete(Request, STATUS_INVALID_DEVICE_REQUEST);
        return;
    }

    status = WdfRequestForwardToIoQueue(Request, target);
    if (!NT_SUCCESS(status)) {
        WdfRequestComplete(Request, status);
    }
}

//
// Direction queues: the IOCTL's input buffer (buffered) carries the device offset; the
// output buffer's MDL is the data. InitializeUsingRequest derives the direction from the
// transfer type: OUT_DIRECT reads from the device, IN_DIRECT writes to it.
//
_Use_decl_annotations_
VOID
SgdmaEvtIoDeviceControlDma(
    WDFQUEUE Queue,
    WDFREQUEST Request,
    size_t OutputBufferLength,
    size_t InputBufferLength,
    ULONG IoControlCode
    )
{
    PDEVICE_EXTENSION devExt = SgdmaGetDeviceContext(WdfIoQueueGetDevice(Queue));
    PSGDMA_MEMORY_ACCESS access;
    PSGDMA_CHANNEL channel;
    NTSTATUS status;

    UNREFERENCED_PARAMETER(InputBufferLength);

    channel = (IoControlCode == IOCTL_SGDMA_READ_MEMORY)
                  ? &devExt->Channel[SGDMA_CHANNEL_FROM_DEVICE]
                  : &devExt->Channel[SGDMA_CHANNEL_TO_DEVICE];

    status = WdfRequestRetrieveInputBuffer(Request, sizeof(SGDMA_MEMORY_ACCESS),
                                           (PVOID *)&access, NULL);
    if (!NT_SUCCESS(status)) {
        WdfRequestComplete(Request, status);
        return;
    }
    if (access->DeviceOffset > (ULONGLONG)MAXLONGLONG) {
        WdfRequestComplete(Request, STATUS_INVALID_PARAMETER);
        return;
    }
    SgdmaStartDma(channel, Request, (LONGLONG)access->DeviceOffset, OutputBufferLength);
}

//
// Power-down or removal while a request is here.
//
// A power-down (WdfRequestStopActionSuspend) with the device present: a request in DMA
// cannot be given back, as the engine owns its buffer until the transfer ends, which
// takes microseconds; the DPC (or, if its interrupt is lost, the watchdog) then
// completes it, and the framework waits for that.
//
// Surprise removal: the device is gone mid-transfer. Its registers read all ones, it
// raises no more interrupts, and its DMA goes nowhere. The framework powers it down
// (EvtIoStop with Suspend), calls EvtDeviceD0Exit and EvtDeviceReleaseHardware, and
// purges the queues (EvtIoStop with Purge); each step waits until the driver owns no
// request. A request in DMA would wait for an interrupt that never comes, so it is
// ended here at once, with the bytes its descriptors show moved and
// STATUS_NO_SUCH_DEVICE. A purge that still finds a request in DMA on a present device
// stops the channel and ends the request with STATUS_DEVICE_REMOVED: the device is going
// away, and no request may outlive it.
//
// Ending it means claiming the transfer like the DPC and the watchdog do, so the three
// never complete it twice. If it cannot be claimed now, because its claimer is still
// inside DmaCompleted* (which may be starting the next transfer) or the framework has not
// programmed a transfer yet, StopStatus asks for the end: the claimer (on letting go) or
// EvtProgramDma arms the watchdog to expire at once, and the watchdog ends it.
//
// A request not handed to the hardware is acknowledged: requeued on suspend so it runs
// after power-up, kept completing on purge (removal) where it is not requeued. A request
// whose transaction has ended, that the DPC or the watchdog is completing on another
// processor, is left alone: its completion is what the framework waits for.
//
_Use_decl_annotations_
VOID
SgdmaEvtIoStop(
    WDFQUEUE Queue,
    WDFREQUEST Request,
    ULONG ActionFlags
    )
{
    PDEVICE_EXTENSION devExt = SgdmaGetDeviceContext(WdfIoQueueGetDevice(Queue));
    PSGDMA_CHANNEL channel = NULL;
    NTSTATUS endStatus = STATUS_SUCCESS;
    BOOLEAN claimed = FALSE;
    BOOLEAN ending = FALSE;
    ULONG hwStatus;
    ULONG i;

    WdfInterruptAcquireLock(devExt->Interrupt);
    for (i = 0; i < SGDMA_CHANNEL_COUNT; i++) {
        if (devExt->Channel[i].Request == Request) {
            channel = &devExt->Channel[i];
        }
        if (devExt->Channel[i].EndingRequest == Request) {
            ending = TRUE;
        }
    }
    if (ending && channel == NULL) {
        //
        // Its transaction ended and the DPC or the watchdog completes it (or already
        // did): neither acknowledge nor end it (it would be handled twice). A channel
        // whose request is this one wins: the framework reuses request handles, so
        // another channel's EndingRequest may name the same handle from an earlier life.
        //
        WdfInterruptReleaseLock(devExt->Interrupt);
        return;
    }
    if (channel != NULL) {
        hwStatus = SgdmaReadChannelStatus(channel);
        if (hwStatus == SGDMA_REGISTER_GONE) {
            endStatus = STATUS_NO_SUCH_DEVICE;
        } else if (ActionFlags & WdfRequestStopActionPurge) {
            endStatus = STATUS_DEVICE_REMOVED;
        }
        if (!NT_SUCCESS(endStatus)) {
            claimed = SgdmaClaimTransfer(channel);
            if (!claimed) {
                channel->StopStatus = endStatus;
            } else if (hwStatus != SGDMA_REGISTER_GONE) {
                SgdmaStopChannel(channel);
            }
        }
    }
    WdfInterruptReleaseLock(devExt->Interrupt);

    if (channel == NULL) {
        WdfRequestStopAcknowledge(Request, (ActionFlags & WdfRequestStopActionSuspend)
                                               ? TRUE : FALSE);
        return;
    }
    if (claimed) {
        KdPrint(("SGDMA: channel %u: ending the request in DMA, 0x%x\n", channel->Index,
                 endStatus));
        (VOID)WdfTimerStop(channel->Watchdog, FALSE);
        SgdmaEndTransaction(channel, endStatus);
    }
}

//
// ==== PHASE 3: program the hardware for one transfer (EvtProgramDma) ===========================
//

static VOID
SgdmaFillDescriptor64(
    _In_ PSGDMA_CHANNEL Channel,
    _In_ ULONG Index,
    _In_ PSCATTER_GATHER_ELEMENT Element,
    _In_ ULONG DeviceOffset,
    _In_ ULONG Flags
    )
{
    volatile SGDMA_DESCRIPTOR64 *d = (volatile SGDMA_DESCRIPTOR64 *)Channel->RingVa + Index;

    d->HostAddress = (ULONG64)Element->Address.QuadPart;
    d->Next = (ULONG64)Channel->RingLa.QuadPart + (Index + 1) * sizeof(SGDMA_DESCRIPTOR64);
    d->Length = Element->Length;
    d->DeviceOffset = DeviceOffset;
    d->Flags = Flags;
    d->Status = 0;
}

static VOID
SgdmaFillDescriptor32(
    _In_ PSGDMA_CHANNEL Channel,
    _In_ ULONG Index,
    _In_ PSCATTER_GATHER_ELEMENT Element,
    _In_ ULONG DeviceOffset,
    _In_ ULONG Flags
    )
{
    volatile SGDMA_DESCRIPTOR32 *d = (volatile SGDMA_DESCRIPTOR32 *)Channel->RingVa + Index;
    ULONG next = Channel->RingLa.LowPart + (Index + 1) * sizeof(SGDMA_DESCRIPTOR32);

    //
    // A 32-bit profile guarantees Element->Address is below 4 GiB.
    //
    d->HostAddress = Element->Address.LowPart;
    d->NextAndFlags = next | Flags;
    d->DeviceOffset = DeviceOffset;
    d->CountStatus = Element->Length;     // also re-arms the status the device wrote
}

//
// How long the transfer may take before the watchdog steps in, in microseconds: the
// registry's TransferTimeoutMs, or the formula documented with SGDMA_WATCHDOG_* in
// sgdma.h (a base for interrupt and scheduling latency, plus the time to move Length
// bytes and Descriptors descriptors on a device 250 times slower than its data sheet).
//
static ULONGLONG
SgdmaTransferTimeoutUs(
    _In_ PDEVICE_EXTENSION DevExt,
    _In_ ULONGLONG Length,
    _In_ ULONG Descriptors
    )
{
    if (DevExt->TransferTimeoutMs != 0) {
        return (ULONGLONG)DevExt->TransferTimeoutMs * 1000;
    }
    return SGDMA_WATCHDOG_BASE_US + Length / SGDMA_WATCHDOG_BYTES_PER_US +
           (ULONGLONG)Descriptors * SGDMA_WATCHDOG_DESCRIPTOR_US;
}

//
// Turn the scatter/gather list into a descriptor chain, then ring the doorbell and arm
// the channel's watchdog. The device-memory offset of this transfer is the request's
// offset plus what earlier transfers of the transaction already moved
// (GetBytesTransferred is exactly that while EvtProgramDma runs).
//
_Use_decl_annotations_
BOOLEAN
SgdmaEvtProgramDma(
    WDFDMATRANSACTION Transaction,
    WDFDEVICE Device,
    WDFCONTEXT Context,
    WDF_DMA_DIRECTION Direction,
    PSCATTER_GATHER_LIST SgList
    )
{
    PSGDMA_CHANNEL channel = (PSGDMA_CHANNEL)Context;
    PDEVICE_EXTENSION devExt = SgdmaGetDeviceContext(Device);
    ULONG64 deviceOffset;
    ULONGLONG length = 0;
    ULONGLONG timeoutUs;
    BOOLEAN stopping;
    ULONG control;
    ULONG flags;
    ULONG i;

    deviceOffset = channel->RequestOffset + WdfDmaTransactionGetBytesTransferred(Transaction);

    for (i = 0; i < SgList->NumberOfElements; i++) {
        PSCATTER_GATHER_ELEMENT element = &SgList->Elements[i];

        flags = (Direction == WdfDmaDirectionReadFromDevice) ? SGDMA_DESC_FROM_DEVICE : 0;
        if (i == SgList->NumberOfElements - 1) {
            flags |= SGDMA_DESC_LAST | SGDMA_DESC_INTERRUPT;
        }
        if (devExt->Descriptor64) {
            SgdmaFillDescriptor64(channel, i, element, (ULONG)deviceOffset, flags);
        } else {
            SgdmaFillDescriptor32(channel, i, element, (ULONG)deviceOffset, flags);
        }
        deviceOffset += element->Length;
        length += element->Length;
    }
    channel->DescriptorsInUse = SgList->NumberOfElements;
    timeoutUs = SgdmaTransferTimeoutUs(devExt, length, SgList->NumberOfElements);

    //
    // The descriptors must be in memory before the device can fetch them.
    //
    KeMemoryBarrier();

    control = SGDMA_CTRL_START | SGDMA_CTRL_IE;
    if (devExt->Descriptor64) {
        control |= SGDMA_CTRL_DESC64;
    }

    //
    // Under the interrupt lock, so the ISR, the DPC and the watchdog see the new
    // generation, its deadline and the doorbell together. If a removal already asked
    // for the request (StopStatus), the chain is not started: the watchdog, armed to
    // expire at once, ends the transaction with nothing moved.
    //
    WdfInterruptAcquireLock(devExt->Interrupt);
    channel->Generation++;
    channel->Busy = TRUE;
    channel->Deadline = KeQueryInterruptTime() + timeoutUs * 10;
    stopping = (channel->StopStatus != STATUS_SUCCESS) ? TRUE : FALSE;
    if (!stopping) {
        SgdmaWriteChannel(channel, SGDMA_CH_DESC_LO, channel->RingLa.LowPart);
        SgdmaWriteChannel(channel, SGDMA_CH_DESC_HI, (ULONG)channel->RingLa.HighPart);
        SgdmaWriteChannel(channel, SGDMA_CH_CTRL, control);
    }
    WdfInterruptReleaseLock(devExt->Interrupt);

    //
    // Armed after the doorbell, outside the lock (WdfTimerStart runs at <= DISPATCH_LEVEL,
    // the lock holds DIRQL). The transfer may even have been completed by now; the
    // expiry then finds nothing in flight, or a later generation not yet overdue.
    //
    (VOID)WdfTimerStart(channel->Watchdog,
                        WDF_REL_TIMEOUT_IN_US(stopping ? SGDMA_WATCHDOG_NOW_US : timeoutUs));
    return TRUE;
}

//
// ==== PHASE 4: the interrupt completes transfers (EvtInterruptIsr / EvtInterruptDpc) ===========
//

//
// At DIRQL with the interrupt lock held: read what happened, acknowledge it so the line
// drops, save it for the DPC (accumulating: the DPC may not have run since the last
// interrupt), and leave the real work to the DPC. The line may be shared, so status that
// is not ours means "not my interrupt".
//
_Use_decl_annotations_
BOOLEAN
SgdmaEvtInterruptIsr(
    WDFINTERRUPT Interrupt,
    ULONG MessageID
    )
{
    PDEVICE_EXTENSION devExt = SgdmaGetDeviceContext(WdfInterruptGetDevice(Interrupt));
    ULONG status;

    UNREFERENCED_PARAMETER(MessageID);

    status = SgdmaReadRegister(devExt, SGDMA_REG_INT_STATUS);
    if (status == SGDMA_REGISTER_GONE) {
        return FALSE;               // the device is gone: reads float high
    }
    status &= SGDMA_INT_ALL;
    if (status == 0) {
        return FALSE;
    }

    SgdmaWriteRegister(devExt, SGDMA_REG_INT_STATUS, status);
    devExt->SavedIntStatus |= status;

    WdfInterruptQueueDpcForIsr(Interrupt);
    return TRUE;
}

//
// How many bytes of the current transfer the device moved: each descriptor's length minus
// the residue it wrote back; a descriptor it never finished moved nothing.
//
static size_t
SgdmaBytesMoved(
    _In_ PSGDMA_CHANNEL Channel,
    _In_ size_t TransferLength,
    _Out_ PBOOLEAN Error
    )
{
    size_t residue = 0;
    ULONG i, length, status;

    *Error = FALSE;
    for (i = 0; i < Channel->DescriptorsInUse; i++) {
        if (Channel->DevExt->Descriptor64) {
            volatile SGDMA_DESCRIPTOR64 *d =
                (volatile SGDMA_DESCRIPTOR64 *)Channel->RingVa + i;
            length = d->Length;
            status = d->Status;
        } else {
            volatile SGDMA_DESCRIPTOR32 *d =
                (volatile SGDMA_DESCRIPTOR32 *)Channel->RingVa + i;
            status = d->CountStatus;
            length = SGDMA_DS_RESIDUE(status);   // the original length until written back
        }
        if (!(status & SGDMA_DS_DONE)) {
            residue += length;
            continue;
        }
        if (status & SGDMA_DS_ERROR) {
            *Error = TRUE;
        }
        residue += SGDMA_DS_RESIDUE(status);
    }
    return residue > TransferLength ? 0 : TransferLength - residue;
}

//
// Complete the transaction in KMDF's order: take the request and the byte count while the
// transaction still holds them, release the transaction (ready for the next request), let
// go of the claim, then complete the request. Caller claimed the transfer, and the
// framework declared the transaction finished (a DmaCompleted* call returned TRUE).
//
static VOID
SgdmaCompleteTransaction(
    _In_ PSGDMA_CHANNEL Channel,
    _In_ NTSTATUS Status
    )
{
    WDFREQUEST request;
    size_t bytes;

    request = WdfDmaTransactionGetRequest(Channel->Transaction);
    bytes = WdfDmaTransactionGetBytesTransferred(Channel->Transaction);

    WdfDmaTransactionRelease(Channel->Transaction);
    SgdmaReleaseClaim(Channel, TRUE);
    WdfRequestCompleteWithInformation(request, Status, bytes);
}

//
// End the whole transaction now, whatever remains of it: a hung channel (the caller
// stopped it), a removal, a device that is gone. What the descriptors show moved is
// recorded with DmaCompletedFinal, then the request completes with Status. Caller claimed
// the transfer.
//
static VOID
SgdmaEndTransaction(
    _In_ PSGDMA_CHANNEL Channel,
    _In_ NTSTATUS Status
    )
{
    size_t length = WdfDmaTransactionGetCurrentDmaTransferLength(Channel->Transaction);
    NTSTATUS finalStatus;
    BOOLEAN descriptorError;
    size_t moved;

    moved = SgdmaBytesMoved(Channel, length, &descriptorError);
    (VOID)WdfDmaTransactionDmaCompletedFinal(Channel->Transaction, moved, &finalStatus);
    SgdmaCompleteTransaction(Channel, Status);
}

//
// One channel's chain ended. Report the transfer to the framework; it either stages the
// next transfer of the transaction (EvtProgramDma runs inside the DmaCompleted* call and
// the call returns FALSE) or declares the transaction finished (TRUE). Caller claimed the
// transfer; the claim is released here.
//
static VOID
SgdmaChannelDone(
    _In_ PSGDMA_CHANNEL Channel,
    _In_ BOOLEAN ErrorSeen
    )
{
    WDFDMATRANSACTION transaction = Channel->Transaction;
    size_t length = WdfDmaTransactionGetCurrentDmaTransferLength(transaction);
    NTSTATUS status = STATUS_SUCCESS;
    BOOLEAN descriptorError;
    BOOLEAN finished;
    size_t moved;

    moved = SgdmaBytesMoved(Channel, length, &descriptorError);

    if (ErrorSeen || descriptorError) {
        //
        // The chain stopped on an error: record what did move and end the transaction.
        //
        KdPrint(("SGDMA: channel %u DMA error after %u bytes\n", Channel->Index, (ULONG)moved));
        SgdmaEndTransaction(Channel, STATUS_DEVICE_DATA_ERROR);
        return;
    }

    if (Channel->Direction == WdfDmaDirectionReadFromDevice) {
        //
        // A read may end short: the device had fewer bytes. Tell the framework how many
        // arrived; it continues the transaction from there. A transfer that moved nothing
        // would be retried forever, so it ends the transaction instead.
        //
        if (moved == 0) {
            finished = WdfDmaTransactionDmaCompletedFinal(transaction, 0, &status);
        } else {
            finished = WdfDmaTransactionDmaCompletedWithLength(transaction, moved, &status);
        }
    } else {
        finished = WdfDmaTransactionDmaCompleted(transaction, &status);
    }

    if (finished) {
        SgdmaCompleteTransaction(Channel, status);
    } else {
        SgdmaReleaseClaim(Channel, FALSE);
    }
}

//
// At DISPATCH_LEVEL: take the status the ISR saved (under the interrupt lock, as the ISR
// may be adding to it on another processor) and finish every channel it names.
//
// The saved bits say that some chain of the channel ended, not which: a late or
// duplicate interrupt may belong to a transfer the watchdog already completed. The
// channel's own STATUS tells whether the chain in flight ended (SgdmaChainEnded); if it
// still runs, the bits are stale and dropped. Bits for a channel nobody waits on are
// dropped too. Bits for a channel whose claimer is still completing the previous transfer
// stay saved: the claimer queues the DPC again when it lets go. A device that reads all
// ones is gone: its transaction ends now, as no interrupt will follow.
//
_Use_decl_annotations_
VOID
SgdmaEvtInterruptDpc(
    WDFINTERRUPT Interrupt,
    WDFOBJECT AssociatedObject
    )
{
    PDEVICE_EXTENSION devExt = SgdmaGetDeviceContext(WdfInterruptGetDevice(Interrupt));
    ULONG i;

    UNREFERENCED_PARAMETER(AssociatedObject);

    for (i = 0; i < SGDMA_CHANNEL_COUNT; i++) {
        PSGDMA_CHANNEL channel = &devExt->Channel[i];
        NTSTATUS endStatus = STATUS_SUCCESS;
        BOOLEAN claimed = FALSE;
        ULONG hwStatus = 0;
        ULONG saved;

        WdfInterruptAcquireLock(Interrupt);
        saved = devExt->SavedIntStatus & SGDMA_INT_CHANNEL(i);
        if (saved != 0 && !(channel->Busy && channel->Completing)) {
            devExt->SavedIntStatus &= ~SGDMA_INT_CHANNEL(i);
            if (channel->Busy) {
                hwStatus = SgdmaReadChannelStatus(channel);
                if (hwStatus == SGDMA_REGISTER_GONE) {
                    endStatus = STATUS_NO_SUCH_DEVICE;
                    claimed = SgdmaClaimTransfer(channel);
                } else if (SgdmaChainEnded(hwStatus)) {
                    claimed = SgdmaClaimTransfer(channel);
                }
            }
        }
        WdfInterruptReleaseLock(Interrupt);

        if (!claimed) {
            continue;
        }

        //
        // The transfer's watchdog is no longer needed. Not waiting (DISPATCH_LEVEL): an
        // expiry already under way finds the transfer claimed and does nothing.
        //
        (VOID)WdfTimerStop(channel->Watchdog, FALSE);

        if (!NT_SUCCESS(endStatus)) {
            SgdmaEndTransaction(channel, endStatus);
        } else {
            SgdmaChannelDone(channel, ((saved & SGDMA_INT_ERROR(i)) ||
                                       (hwStatus & SGDMA_STATUS_ERRORS)) ? TRUE : FALSE);
        }
    }
}

//
// The watchdog expired, at DISPATCH_LEVEL (see "Recovery" at the top). Under the
// interrupt lock it decides whether the channel's transfer is really overdue and what
// became of it:
//
//   nothing in flight          a stale expiry: the transfer it was armed for completed
//   claimer still completing   look again shortly (a removal may be waiting for it)
//   in flight, not yet due     a stale expiry during a later generation: re-arm for the
//                              rest of that generation's time
//   registers read all ones    the device is gone: end with STATUS_NO_SUCH_DEVICE
//   removal asked (StopStatus) stop the channel, end with that status
//   chain ended (DONE/error)   only the interrupt was lost: acknowledge the status the
//                              ISR never saw and complete the transfer as the DPC would
//   chain still running        hung: stop the channel (ABORT, RESET), end the
//                              transaction with what moved, STATUS_IO_TIMEOUT
//
// The decision and the claim happen under one hold of the lock, so the DPC and EvtIoStop
// either completed the transfer before (the watchdog finds nothing) or find it claimed.
//
_Use_decl_annotations_
VOID
SgdmaEvtWatchdogTimer(
    WDFTIMER Timer
    )
{
    PSGDMA_CHANNEL channel = SgdmaGetWatchdogContext(Timer)->Channel;
    PDEVICE_EXTENSION devExt = channel->DevExt;
    NTSTATUS endStatus = STATUS_SUCCESS;
    ULONGLONG rearmUs = 0;
    ULONGLONG now;
    BOOLEAN claimed = FALSE;
    ULONG generation = 0;
    ULONG hwStatus = 0;

    WdfInterruptAcquireLock(devExt->Interrupt);
    if (channel->Busy) {
        now = KeQueryInterruptTime();
        generation = channel->Generation;
        if (channel->Completing) {
            rearmUs = SGDMA_WATCHDOG_RETRY_US;
        } else if (channel->StopStatus == STATUS_SUCCESS && now < channel->Deadline) {
            rearmUs = (channel->Deadline - now + 9) / 10;
        } else {
            hwStatus = SgdmaReadChannelStatus(channel);
            if (hwStatus == SGDMA_REGISTER_GONE) {
                endStatus = STATUS_NO_SUCH_DEVICE;
            } else if (channel->StopStatus != STATUS_SUCCESS) {
                endStatus = channel->StopStatus;
                SgdmaStopChannel(channel);
            } else if (SgdmaChainEnded(hwStatus)) {
                SgdmaAcknowledgeChannel(channel);
            } else {
                endStatus = STATUS_IO_TIMEOUT;
                SgdmaStopChannel(channel);
            }
            claimed = SgdmaClaimTransfer(channel);
            NT_ASSERT(claimed);
        }
    }
    WdfInterruptReleaseLock(devExt->Interrupt);

    DBG_UNREFERENCED_LOCAL_VARIABLE(generation);

    if (rearmUs != 0) {
        (VOID)WdfTimerStart(Timer, WDF_REL_TIMEOUT_IN_US(rearmUs));
    }
    if (!claimed) {
        return;
    }

    if (NT_SUCCESS(endStatus)) {
        KdPrint(("SGDMA: channel %u transfer %u: interrupt lost, completing it\n",
                 channel->Index, generation));
        SgdmaChannelDone(channel, (hwStatus & SGDMA_STATUS_ERRORS) ? TRUE : FALSE);
    } else {
        KdPrint(("SGDMA: channel %u transfer %u: ending it, status 0x%x (channel 0x%x)\n",
                 channel->Index, generation, endStatus, hwStatus));
        SgdmaEndTransaction(channel, endStatus);
    }
}

//
// The framework calls these at DIRQL with the interrupt lock held, after D0 entry and
// before D0 exit: unmask and mask the device's interrupt sources.
//
_Use_decl_annotations_
NTSTATUS
SgdmaEvtInterruptEnable(
    WDFINTERRUPT Interrupt,
    WDFDEVICE AssociatedDevice
    )
{
    UNREFERENCED_PARAMETER(Interrupt);

    SgdmaWriteRegister(SgdmaGetDeviceContext(AssociatedDevice), SGDMA_REG_INT_MASK, 0);
    return STATUS_SUCCESS;
}

_Use_decl_annotations_
NTSTATUS
SgdmaEvtInterruptDisable(
    WDFINTERRUPT Interrupt,
    WDFDEVICE AssociatedDevice
    )
{
    UNREFERENCED_PARAMETER(Interrupt);

    SgdmaWriteRegister(SgdmaGetDeviceContext(AssociatedDevice), SGDMA_REG_INT_MASK,
                       SGDMA_INT_ALL);
    return STATUS_SUCCESS;
}
