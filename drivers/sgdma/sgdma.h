/*++

Module Name:

    sgdma.h

Abstract:

    Driver-private definitions for the SGDMA sample: a KMDF driver for a PCI bus-master
    scatter/gather DMA engine (PLX-9656 class, vendor 10B5 device 9656) with two
    channels and on-device memory.

    Like every real driver, this one carries its own copy of the hardware's register map
    and descriptor layouts, taken from the device's data sheet. Nothing here comes from a
    framework header other than the WDK types.

Environment:

    Kernel mode

--*/

#ifndef _SGDMA_DRIVER_H_
#define _SGDMA_DRIVER_H_

//
// The device interface applications open: {5F3A8C0E-7B1D-4E92-A6C4-2D9B1E07F35A}
//
DEFINE_GUID(GUID_DEVINTERFACE_SGDMA,
            0x5f3a8c0e, 0x7b1d, 0x4e92, 0xa6, 0xc4, 0x2d, 0x9b, 0x1e, 0x07, 0xf3, 0x5a);

//
// I/O controls. Both move device memory with DMA through the same path as read and
// write: the offset travels in the (buffered) input buffer, the data in the direct
// output buffer's MDL. METHOD_OUT_DIRECT means the device writes into that buffer
// (ReadFromDevice); METHOD_IN_DIRECT means the device reads from it (WriteToDevice).
//
#define FILE_DEVICE_SGDMA 0x8000

#define IOCTL_SGDMA_READ_MEMORY \
    CTL_CODE(FILE_DEVICE_SGDMA, 0x800, METHOD_OUT_DIRECT, FILE_READ_ACCESS)
#define IOCTL_SGDMA_WRITE_MEMORY \
    CTL_CODE(FILE_DEVICE_SGDMA, 0x801, METHOD_IN_DIRECT, FILE_WRITE_ACCESS)

typedef struct _SGDMA_MEMORY_ACCESS {
    ULONGLONG DeviceOffset;     // byte offset into the device's memory
} SGDMA_MEMORY_ACCESS, *PSGDMA_MEMORY_ACCESS;

//
// ---- Hardware: registers (BAR0, 32-bit little-endian) -----------------------------------
//
#define SGDMA_BAR0_LENGTH           0x1000

#define SGDMA_REG_ID                0x000   // RO: device << 16 | vendor
#define SGDMA_REG_VERSION           0x004   // RO: major << 16 | minor
#define SGDMA_REG_CAPS              0x008   // RO: address bits, channel count, MSI
#define SGDMA_REG_DEVMEM_SIZE       0x00C   // RO: bytes of on-device memory
#define SGDMA_REG_INT_STATUS        0x010   // RW1C: bit ch done, bit 8+ch error
#define SGDMA_REG_INT_MASK          0x014   // RW: 1 = masked
#define SGDMA_REG_RESET             0x018   // WO: write SGDMA_RESET_KEY

#define SGDMA_ID                    0x965610B5
#define SGDMA_VERSION_MAJOR(v)      ((v) >> 16)
#define SGDMA_SUPPORTED_MAJOR       1
#define SGDMA_CAPS_ADDRESS_BITS(c)  ((c) & 0xFF)
#define SGDMA_RESET_KEY             0x00000001

#define SGDMA_INT_DONE(ch)          (1UL << (ch))
#define SGDMA_INT_ERROR(ch)         (1UL << (8 + (ch)))
#define SGDMA_INT_CHANNEL(ch)       (SGDMA_INT_DONE(ch) | SGDMA_INT_ERROR(ch))
#define SGDMA_INT_ALL               (SGDMA_INT_CHANNEL(0) | SGDMA_INT_CHANNEL(1))

//
// Per channel, at SGDMA_CH_BASE(ch).
//
#define SGDMA_CH_BASE(ch)           (0x100 + (ch) * 0x40)
#define SGDMA_CH_DESC_LO            0x00    // first descriptor, latched at START
#define SGDMA_CH_DESC_HI            0x04
#define SGDMA_CH_CTRL               0x08
#define SGDMA_CH_STATUS             0x0C    // BUSY read-only, the rest write-1-to-clear

#define SGDMA_CTRL_START            0x01    // doorbell: run the chain at DESC
#define SGDMA_CTRL_ABORT            0x02    // stop now
#define SGDMA_CTRL_DESC64           0x04    // 64-bit descriptor layout
#define SGDMA_CTRL_IE               0x08    // raise INT_STATUS bits for this channel
#define SGDMA_CTRL_RESET            0x10    // stop and reset this channel

#define SGDMA_STATUS_BUSY           0x01    // read-only: a chain is running
#define SGDMA_STATUS_DONE           0x02    // chain ended normally (LAST or short)
#define SGDMA_STATUS_ERR_DMA        0x04
#define SGDMA_STATUS_ERR_DESC       0x08
#define SGDMA_STATUS_ERR_RANGE      0x10
#define SGDMA_STATUS_ABORTED        0x20    // stopped by SGDMA_CTRL_ABORT
#define SGDMA_STATUS_ERRORS         (SGDMA_STATUS_ERR_DMA | SGDMA_STATUS_ERR_DESC | \
                                     SGDMA_STATUS_ERR_RANGE)
#define SGDMA_STATUS_W1C            0x3E

//
// A PCI read from a device that is no longer there completes with all ones. No register
// of this device reads 0xFFFFFFFF while it is present (STATUS has reserved bits), so the
// value means "surprise-removed" wherever the driver reads it.
//
#define SGDMA_REGISTER_GONE         0xFFFFFFFF

//
// Channel 0 moves host memory to device memory, channel 1 the other way.
//
#define SGDMA_CHANNEL_TO_DEVICE     0
#define SGDMA_CHANNEL_FROM_DEVICE   1
#define SGDMA_CHANNEL_COUNT         2

//
// ---- Hardware: descriptors (host memory, 16-byte aligned) ----------------------------------
//
#define SGDMA_DESC_LAST             0x1     // end of chain
#define SGDMA_DESC_INTERRUPT        0x2     // raise DONE when this descriptor completes
#define SGDMA_DESC_FROM_DEVICE      0x4     // channel 1 descriptors only
#define SGDMA_DESC_MAX_LENGTH       0x00FFFFFF

#define SGDMA_DS_RESIDUE(s)         ((s) & 0x00FFFFFF)  // bytes not transferred
#define SGDMA_DS_ERROR              0x40000000
#define SGDMA_DS_DONE               0x80000000

//
// 64-bit layout (ScatterGather64 / Packet64 profiles). The device writes Status back.
//
typedef struct _SGDMA_DESCRIPTOR64 {
    ULONG64 HostAddress;        // logical address of the data
    ULONG64 Next;               // logical address of the next descriptor
    ULONG Length;               // 1..SGDMA_DESC_MAX_LENGTH
    ULONG DeviceOffset;         // offset into device memory
    ULONG Flags;                // SGDMA_DESC_*
    ULONG Status;               // written by the device: SGDMA_DS_*
} SGDMA_DESCRIPTOR64, *PSGDMA_DESCRIPTOR64;

//
// 32-bit layout (Packet / ScatterGather profiles): flags ride in the low bits of the
// 16-byte aligned next pointer, and the length word is overwritten by the status.
//
typedef struct _SGDMA_DESCRIPTOR32 {
    ULONG HostAddress;
    ULONG NextAndFlags;
    ULONG DeviceOffset;
    ULONG CountStatus;          // in: length (bits 23:0); out: SGDMA_DS_*
} SGDMA_DESCRIPTOR32, *PSGDMA_DESCRIPTOR32;

C_ASSERT(sizeof(SGDMA_DESCRIPTOR64) == 32);
C_ASSERT(sizeof(SGDMA_DESCRIPTOR32) == 16);

//
// ---- Driver state --------------------------------------------------------------------------
//
// Defaults of the tunables an INF or an administrator can set in the device's hardware key
// (see ReadDeviceSettings).
//
#define SGDMA_DEFAULT_PROFILE           WdfDmaProfileScatterGather64Duplex
#define SGDMA_DEFAULT_MAX_TRANSFER      (64 * 1024)
#define SGDMA_MIN_TRANSFER              PAGE_SIZE
#define SGDMA_MAX_SG_ELEMENTS_LIMIT     4096

//
// The transfer watchdog (see "Recovery" at the top of sgdma.c). A transfer is overdue
//
//   SGDMA_WATCHDOG_BASE_US + length / SGDMA_WATCHDOG_BYTES_PER_US
//                          + descriptors * SGDMA_WATCHDOG_DESCRIPTOR_US
//
// microseconds after its doorbell, unless the registry's TransferTimeoutMs (1..
// SGDMA_MAX_TRANSFER_TIMEOUT_MS) fixes the timeout instead. The data sheet's defaults are
// 4 GB/s, 200 ns per descriptor and 1 us interrupt latency: the formula assumes a device
// 250 times slower, and the base covers interrupt latency (a "late" interrupt is 100 us
// late), DPC and timer scheduling with plenty to spare. A default 64 KiB transfer of 17
// descriptors is overdue after 20 + 4.1 + 0.85 = ~25 ms; a 16 MiB one after ~1.1 s. A
// device configured to run slower than 16 MB/s needs TransferTimeoutMs.
//
#define SGDMA_WATCHDOG_BASE_US          20000
#define SGDMA_WATCHDOG_BYTES_PER_US     16
#define SGDMA_WATCHDOG_DESCRIPTOR_US    50
#define SGDMA_WATCHDOG_RETRY_US         1000    // another path holds the channel: look again
#define SGDMA_WATCHDOG_NOW_US           1       // a removal is pending: act at once
#define SGDMA_MAX_TRANSFER_TIMEOUT_MS   600000

//
// One DMA channel: the reused transaction of its direction, the descriptor ring the
// device walks and the watchdog of the transfer in flight. Sequential queues guarantee at
// most one transaction per channel at a time.
//
// The fields below "interrupt lock" decide who completes a transfer: the DPC, the
// watchdog and EvtIoStop each claim it under WdfInterruptAcquireLock, and only one can
// (see "Recovery" at the top of sgdma.c).
//
typedef struct _SGDMA_CHANNEL {
    ULONG Index;                        // SGDMA_CHANNEL_*
    WDF_DMA_DIRECTION Direction;
    WDFDMATRANSACTION Transaction;      // created once in EvtDriverDeviceAdd, reused
    WDFCOMMONBUFFER RingBuffer;
    PUCHAR RingVa;                      // driver's view of the ring
    PHYSICAL_ADDRESS RingLa;            // device's view of the ring
    ULONG RingEntries;
    ULONG DescriptorsInUse;             // of the transfer in progress
    ULONG64 RequestOffset;              // device-memory offset of the current request
    WDFTIMER Watchdog;                  // armed by each doorbell, parent: the device
    struct _DEVICE_EXTENSION *DevExt;

    // Guarded by the interrupt lock
    WDFREQUEST Request;                 // owns Transaction, from StartDma to completion
    WDFREQUEST EndingRequest;           // transaction ended, request completing or done
    BOOLEAN Busy;                       // a chain is on the hardware, nobody claimed it yet
    BOOLEAN Completing;                 // its claimer is still inside DmaCompleted* /
                                        // Release (which may start the next transfer)
    ULONG Generation;                   // counts doorbells: identifies the transfer
    ULONGLONG Deadline;                 // interrupt time (100 ns) the transfer is overdue
    NTSTATUS StopStatus;                // removal asked to end the request (else SUCCESS)
} SGDMA_CHANNEL, *PSGDMA_CHANNEL;

typedef struct _DEVICE_EXTENSION {
    WDFDEVICE Device;

    // Hardware (EvtDevicePrepareHardware)
    PUCHAR Registers;
    SIZE_T RegistersLength;
    ULONG DeviceMemorySize;
    ULONG AddressBits;

    // Settings (registry, EvtDriverDeviceAdd)
    WDF_DMA_PROFILE Profile;
    BOOLEAN Descriptor64;               // 64-bit profiles use the 64-bit layout
    size_t MaximumTransferLength;
    ULONG MaximumSgElements;            // 0: not configured
    ULONG DmaVersion;                   // 0 or 3
    ULONG TransferTimeoutMs;            // 0: computed per transfer (SGDMA_WATCHDOG_*)

    // Framework objects
    WDFQUEUE ReadQueue;
    WDFQUEUE WriteQueue;
    WDFDMAENABLER DmaEnabler;
    WDFINTERRUPT Interrupt;

    // Written by the ISR, consumed by the DPC, both under the interrupt lock
    ULONG SavedIntStatus;

    SGDMA_CHANNEL Channel[SGDMA_CHANNEL_COUNT];
} DEVICE_EXTENSION, *PDEVICE_EXTENSION;

WDF_DECLARE_CONTEXT_TYPE_WITH_NAME(DEVICE_EXTENSION, SgdmaGetDeviceContext);

//
// The DMA enabler's power callbacks receive only the enabler: its context leads back to
// the device.
//
typedef struct _ENABLER_CONTEXT {
    PDEVICE_EXTENSION DevExt;
} ENABLER_CONTEXT, *PENABLER_CONTEXT;

WDF_DECLARE_CONTEXT_TYPE_WITH_NAME(ENABLER_CONTEXT, SgdmaGetEnablerContext);

//
// Each channel's watchdog timer knows its channel.
//
typedef struct _WATCHDOG_CONTEXT {
    PSGDMA_CHANNEL Channel;
} WATCHDOG_CONTEXT, *PWATCHDOG_CONTEXT;

WDF_DECLARE_CONTEXT_TYPE_WITH_NAME(WATCHDOG_CONTEXT, SgdmaGetWatchdogContext);

//
// ---- Callbacks -------------------------------------------------------------------------------
//
DRIVER_INITIALIZE DriverEntry;

EVT_WDF_DRIVER_DEVICE_ADD SgdmaEvtDeviceAdd;

EVT_WDF_DEVICE_PREPARE_HARDWARE SgdmaEvtDevicePrepareHardware;
EVT_WDF_DEVICE_RELEASE_HARDWARE SgdmaEvtDeviceReleaseHardware;
EVT_WDF_DEVICE_D0_ENTRY SgdmaEvtDeviceD0Entry;
EVT_WDF_DEVICE_D0_EXIT SgdmaEvtDeviceD0Exit;

EVT_WDF_IO_QUEUE_IO_READ SgdmaEvtIoRead;
EVT_WDF_IO_QUEUE_IO_WRITE SgdmaEvtIoWrite;
EVT_WDF_IO_QUEUE_IO_DEVICE_CONTROL SgdmaEvtIoDeviceControl;
EVT_WDF_IO_QUEUE_IO_DEVICE_CONTROL SgdmaEvtIoDeviceControlDma;
EVT_WDF_IO_QUEUE_IO_STOP SgdmaEvtIoStop;

EVT_WDF_PROGRAM_DMA SgdmaEvtProgramDma;

EVT_WDF_INTERRUPT_ISR SgdmaEvtInterruptIsr;
EVT_WDF_INTERRUPT_DPC SgdmaEvtInterruptDpc;
EVT_WDF_INTERRUPT_ENABLE SgdmaEvtInterruptEnable;
EVT_WDF_INTERRUPT_DISABLE SgdmaEvtInterruptDisable;

EVT_WDF_TIMER SgdmaEvtWatchdogTimer;

EVT_WDF_DMA_ENABLER_FILL SgdmaEvtDmaEnablerFill;
EVT_WDF_DMA_ENABLER_FLUSH SgdmaEvtDmaEnablerFlush;
EVT_WDF_DMA_ENABLER_ENABLE SgdmaEvtDmaEnablerEnable;
EVT_WDF_DMA_ENABLER_DISABLE SgdmaEvtDmaEnablerDisable;
EVT_WDF_DMA_ENABLER_SELFMANAGED_IO_START SgdmaEvtDmaEnablerSelfManagedIoStart;
EVT_WDF_DMA_ENABLER_SELFMANAGED_IO_STOP SgdmaEvtDmaEnablerSelfManagedIoStop;

#endif // _SGDMA_DRIVER_H_
