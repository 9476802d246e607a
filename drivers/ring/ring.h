/*++

Module Name:

    ring.h

Abstract:

    Driver-private definitions for the RING sample: a KMDF driver for an audio-like stream
    peripheral (ACPI\WDFD0003) served by ONE looped (auto-initialize) system-DMA transfer
    over a ring in a common buffer.

    Looped transfers and their notifications (the contract this driver relies on):

    - The transaction is one transfer covering the whole ring (RingBytes <= the enabler's
      MaximumLength, a common buffer so the controller reaches every byte without bouncing).
      The controller wraps to the ring's start at its end and runs until
      WdfDmaTransactionStopSystemTransfer: a looped transfer never ends by itself.
    - EvtDmaTransactionDmaTransferComplete is called with DmaComplete once per wrap, in
      order, at DISPATCH_LEVEL, some time after the wrap (a DPC's latency). It is a
      notification, not the end of the transfer: the driver must NOT call
      WdfDmaTransactionDmaCompleted for it (that would end the transaction).
    - After StopSystemTransfer exactly one DmaCancelled follows (after any wraps still
      pending); the driver then calls WdfDmaTransactionDmaCompletedFinal with the bytes
      moved in the last pass and releases the transaction.

    Position. A wrap notification says "at least one more pass finished", not where the
    controller is now; the driver reads the position from the adapter's residue
    (DmaOperations->ReadDmaCounter: bytes of the current pass not yet moved) and counts
    stream bytes as wraps x RingBytes + (RingBytes - residue), correcting for a wrap that
    happened but is not yet notified. Notifications are at most one pass apart, so the
    position is polled at least once per pass and never ambiguous.

    A looped transfer that ends by itself. A fault can end the first pass early: DmaError,
    or a short transfer, which the HAL reports as DmaComplete with a residue (docs/faults.md)
    and which a wrap notification cannot be told from by the callback alone. The driver
    therefore confirms every wrap with the peripheral's own counters (FRAMES, XRUNS and
    LEVEL give the bytes the controller took from / gave to the FIFO since the start): a
    DmaComplete the peripheral cannot account for ends the stream, at the position the
    controller really reached. The stream also ends with DmaError and DmaCancelled.

    When the stream ends (except a stop for a sleep, after which it resumes at D0 entry),
    capture serves the bytes that arrived, then every waiting request completes: a partly
    served one with the bytes it got, the others with the end's status; a capture read
    that arrives while the stream is stopped gets what the ring still holds or fails with
    STATUS_DEVICE_NOT_READY. IOCTL_RING_START starts the stream again.

    Cancellation. Waiting requests sit in a manual queue, where the framework cancels them;
    the one being filled / drained (Current) is marked cancelable (MarkCancelableEx) while
    the driver holds it, and EvtRequestCancel completes it with the bytes it got.

    Capture: bytes [stream - RingBytes + guard, stream) of the ring are valid; pending reads
    are served from there at every notification (and when they arrive). Falling further
    behind is an overrun: the lost bytes are counted and skipped.
    Playback: writes are copied into the ring ahead of the controller, at most
    RingBytes - guard ahead; pending writes are served at every notification. When the
    controller catches up with the data, it plays stale ring bytes: an underrun, counted.

Environment:

    Kernel mode

--*/

#ifndef _RING_DRIVER_H_
#define _RING_DRIVER_H_

//
// The device interface applications open: {3B7F0D21-9C4E-4A86-B2D5-71E0F8A9C3B4}
//
DEFINE_GUID(GUID_DEVINTERFACE_RINGDMA,
            0x3b7f0d21, 0x9c4e, 0x4a86, 0xb2, 0xd5, 0x71, 0xe0, 0xf8, 0xa9, 0xc3, 0xb4);

#define FILE_DEVICE_RINGDMA 0x8001

//
// Start / stop the looped transfer (no buffers). STOP completes once the controller has
// reported the stop and the transaction is released.
//
#define IOCTL_RING_START     CTL_CODE(FILE_DEVICE_RINGDMA, 0x800, METHOD_BUFFERED, FILE_ANY_ACCESS)
#define IOCTL_RING_STOP      CTL_CODE(FILE_DEVICE_RINGDMA, 0x801, METHOD_BUFFERED, FILE_ANY_ACCESS)
#define IOCTL_RING_GET_STATS CTL_CODE(FILE_DEVICE_RINGDMA, 0x802, METHOD_BUFFERED, FILE_ANY_ACCESS)

typedef struct _RING_STATS {
    ULONG64 Wraps;              // DmaComplete notifications since the last start
    ULONG64 StreamBytes;        // stream position of the controller
    ULONG64 ServedBytes;        // bytes handed to reads / taken from writes
    ULONG64 LostBytes;          // capture overrun / playback underrun bytes
    ULONG RingBytes;
    ULONG Running;
} RING_STATS, *PRING_STATS;

//
// ---- Hardware: RING registers (MMIO region 0, 4 KiB) -------------------------------------
//
#define RING_REGISTERS_LENGTH   0x1000
#define RING_REG_DATA           0x00
#define RING_REG_STATUS         0x04
#define RING_REG_CONTROL        0x08
#define RING_REG_RATE           0x14
#define RING_REG_FRAME          0x18

#define RING_REG_LEVEL          0x0C    // FIFO bytes
#define RING_REG_FRAMES         0x1C    // frames due since RUN was set (low 32 bits)
#define RING_REG_XRUNS          0x20    // frames lost to overruns / underruns since reset

#define RING_STATUS_STICKY      0x0E
#define RING_CONTROL_RUN        0x01
#define RING_CONTROL_DMA        0x02

//
// ---- Driver state ----------------------------------------------------------------------
//
#define RING_DEFAULT_BYTES      4096
#define RING_MAX_BYTES          (64 * 1024)     // the enabler's MaximumLength

typedef struct _DEVICE_EXTENSION {
    WDFDEVICE Device;
    PUCHAR Registers;
    SIZE_T RegistersLength;
    PHYSICAL_ADDRESS RegistersPhysical;
    BOOLEAN Playback;                   // registry: WriteToDevice instead of ReadFromDevice
    WDF_DMA_DIRECTION Direction;
    ULONG RingBytes;                    // registry, rounded to the frame
    ULONG Guard;                        // bytes kept clear of the controller
    ULONG PollMs;                       // position poll period: an eighth of a pass
    ULONG FrameBytes;                   // the peripheral's frame
    WDFTIMER PollTimer;

    WDFDMAENABLER DmaEnabler;
    WDFDMATRANSACTION Transaction;      // the one long-running looped transaction
    WDFCOMMONBUFFER RingBuffer;
    PUCHAR RingVa;
    PMDL RingMdl;
    WDFQUEUE PendingQueue;              // manual: reads (capture) / writes (playback)
    WDFSPINLOCK Lock;                   // everything below
    KEVENT Stopped;                     // signalled when no transaction runs

    BOOLEAN Running;                    // the looped transaction is executing
    BOOLEAN StopIssued;
    BOOLEAN ResumeAtD0;                 // it ran when the device left D0
    WDFREQUEST StopRequest;             // IOCTL_RING_STOP waiting for DmaCancelled
    WDFREQUEST Current;                 // the request being filled / drained (cancelable)
    size_t CurrentDone;
    BOOLEAN CurrentCancelOwned;         // UnmarkCancelable said STATUS_CANCELLED: the
                                        // coming EvtRequestCancel completes Current
    ULONG FifoLevel0;                   // the peripheral's FIFO level and xrun count when
    ULONG Xruns0;                       // the stream started (RingControllerMoved)
    ULONG64 Frames;                     // FRAMES (32 bits) extended to 64 across its wraps
    ULONG64 Wraps;
    ULONG64 HwStream;                   // controller's stream position
    ULONG64 DriverStream;               // capture: consumed; playback: filled
    ULONG64 ServedBytes;
    ULONG64 LostBytes;
} DEVICE_EXTENSION, *PDEVICE_EXTENSION;

WDF_DECLARE_CONTEXT_TYPE_WITH_NAME(DEVICE_EXTENSION, RingGetDeviceContext);

//
// The ring's common buffer carries the MDL that describes it, freed with it.
//
typedef struct _RING_BUFFER_CONTEXT {
    PMDL Mdl;
} RING_BUFFER_CONTEXT, *PRING_BUFFER_CONTEXT;

WDF_DECLARE_CONTEXT_TYPE_WITH_NAME(RING_BUFFER_CONTEXT, RingGetBufferContext);

DRIVER_INITIALIZE DriverEntry;
EVT_WDF_DRIVER_DEVICE_ADD RingEvtDeviceAdd;
EVT_WDF_OBJECT_CONTEXT_CLEANUP RingEvtDeviceCleanup;
EVT_WDF_OBJECT_CONTEXT_CLEANUP RingEvtRingCleanup;
EVT_WDF_TIMER RingEvtPollTimer;
EVT_WDF_REQUEST_CANCEL RingEvtRequestCancel;
EVT_WDF_DEVICE_PREPARE_HARDWARE RingEvtDevicePrepareHardware;
EVT_WDF_DEVICE_RELEASE_HARDWARE RingEvtDeviceReleaseHardware;
EVT_WDF_DEVICE_D0_ENTRY RingEvtDeviceD0Entry;
EVT_WDF_DEVICE_D0_EXIT RingEvtDeviceD0Exit;
EVT_WDF_IO_QUEUE_IO_READ RingEvtIoRead;
EVT_WDF_IO_QUEUE_IO_WRITE RingEvtIoWrite;
EVT_WDF_IO_QUEUE_IO_DEVICE_CONTROL RingEvtIoDeviceControl;
EVT_WDF_PROGRAM_DMA RingEvtProgramDma;
EVT_WDF_DMA_TRANSACTION_DMA_TRANSFER_COMPLETE RingEvtDmaTransferComplete;

#endif // _RING_DRIVER_H_
