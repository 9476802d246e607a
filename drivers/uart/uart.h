/*++

Module Name:

    uart.h

Abstract:

    Driver-private definitions for the UART sample: a KMDF driver for a SoC serial port
    (ACPI\WDFD0002) whose TX and RX FIFOs are served by two channels of a shared
    system-DMA controller. It is the system-mode counterpart of the SGDMA bus-master
    sample: the controller, not the UART, moves the data, and it reports finished
    transfers to the framework without any UART interrupt.

    The register map and the controller's custom channel function numbers come from the
    two data sheets (the UART's and the DMA controller's); nothing here comes from a
    framework header other than the WDK types.

Environment:

    Kernel mode

--*/

#ifndef _UART_DRIVER_H_
#define _UART_DRIVER_H_

//
// The device interface applications open: {8C2E51A4-36F0-4B7D-9E15-C4A0B3D2E6F1}
//
DEFINE_GUID(GUID_DEVINTERFACE_UARTDMA,
            0x8c2e51a4, 0x36f0, 0x4b7d, 0x9e, 0x15, 0xc4, 0xa0, 0xb3, 0xd2, 0xe6, 0xf1);

//
// ---- Hardware: UART registers (MMIO region 0, 4 KiB) -------------------------------------
//
#define UART_REGISTERS_LENGTH       0x1000

#define UART_REG_DATA               0x00    // TX FIFO on write, RX FIFO on read
#define UART_REG_STATUS             0x04
#define UART_REG_CONTROL            0x10
#define UART_REG_TX_THRESH          0x18    // TX request while FIFO room >= threshold
#define UART_REG_RX_THRESH          0x1C    // RX request while FIFO level >= threshold
#define UART_REG_FIFO_DEPTH         0x20

#define UART_STATUS_STICKY          0xF0    // overrun, underrun, overflow, timeout (W1C)

#define UART_CONTROL_TX_EN          0x01
#define UART_CONTROL_RX_EN          0x02
#define UART_CONTROL_TX_DMA         0x04    // assert the TX request line when there is room
#define UART_CONTROL_RX_DMA         0x08    // assert the RX request line when data waits
#define UART_CONTROL_LOOPBACK       0x10

//
// The UART declares its DMA request lines in this order: the first DMA resource feeds the
// TX FIFO, the second drains the RX FIFO.
//
#define UART_DMA_RESOURCE_TX        0
#define UART_DMA_RESOURCE_RX        1

//
// ---- Hardware: the system-DMA controller's custom channel functions ---------------------
//
// ConfigureAdapterChannel(Adapter, FunctionNumber, Context) reaches them. Only the burst
// length is used: the number of elements moved per request-line handshake.
//
#define SDMAC_FUNCTION_BURST        1       // Context: PULONG burst length 1..16
#define SDMAC_MAX_BURST             16

//
// ---- Driver state ----------------------------------------------------------------------
//
// The largest system-DMA transfer: the controller takes one contiguous run per transfer
// and the framework splits longer requests.
//
#define UART_MAX_TRANSFER           (8 * 1024)

//
// One direction: its reused transaction, the request it is serving, and the flags that
// decide who ends the transaction and who completes the request when cancellation,
// EvtIoStop and the controller race (uart.c, "Ending a request: who completes it").
// Everything below Request is guarded by DEVICE_EXTENSION.Lock.
//
typedef struct _UART_CHANNEL {
    WDF_DMA_DIRECTION Direction;
    ULONG RequestBit;                   // UART_CONTROL_TX_DMA or UART_CONTROL_RX_DMA
    WDFDMATRANSACTION Transaction;      // created once in EvtDriverDeviceAdd, reused
    WDFQUEUE Queue;                     // sequential: one request per channel at a time
    struct _DEVICE_EXTENSION *DevExt;

    WDFREQUEST Request;                 // the request the transaction serves, or NULL
    BOOLEAN Programmed;                 // EvtProgramDma ran; the transfer not yet reported
    BOOLEAN CancelRequested;            // EvtRequestCancel or EvtIoStop asked for a stop
    BOOLEAN StopIssued;                 // StopSystemTransfer called for this transaction
    BOOLEAN Ending;                     // one path claimed the end of the transaction: no
                                        // other may Cancel, Stop or Release it any more
    BOOLEAN CancelRoutineRan;           // EvtRequestCancel ran and left completion to us:
                                        // the request is no longer cancelable, never unmark
    BOOLEAN Finished;                   // UnmarkCancelable said STATUS_CANCELLED: the
                                        // coming EvtRequestCancel completes the request
    NTSTATUS FinalStatus;               // ... with this status
    size_t FinalBytes;                  // ... and byte count
} UART_CHANNEL, *PUART_CHANNEL;

typedef struct _DEVICE_EXTENSION {
    WDFDEVICE Device;
    PUCHAR Registers;
    SIZE_T RegistersLength;
    PHYSICAL_ADDRESS RegistersPhysical;
    ULONG FifoDepth;
    WDFDMAENABLER DmaEnabler;
    WDFSPINLOCK Lock;                   // CONTROL read-modify-write and channel state
    UART_CHANNEL Tx;
    UART_CHANNEL Rx;
} DEVICE_EXTENSION, *PDEVICE_EXTENSION;

WDF_DECLARE_CONTEXT_TYPE_WITH_NAME(DEVICE_EXTENSION, UartGetDeviceContext);

//
// ---- Callbacks -----------------------------------------------------------------------------
//
DRIVER_INITIALIZE DriverEntry;
EVT_WDF_DRIVER_DEVICE_ADD UartEvtDeviceAdd;
EVT_WDF_DEVICE_PREPARE_HARDWARE UartEvtDevicePrepareHardware;
EVT_WDF_DEVICE_RELEASE_HARDWARE UartEvtDeviceReleaseHardware;
EVT_WDF_DEVICE_D0_ENTRY UartEvtDeviceD0Entry;
EVT_WDF_DEVICE_D0_EXIT UartEvtDeviceD0Exit;
EVT_WDF_IO_QUEUE_IO_READ UartEvtIoRead;
EVT_WDF_IO_QUEUE_IO_WRITE UartEvtIoWrite;
EVT_WDF_IO_QUEUE_IO_STOP UartEvtIoStop;
EVT_WDF_REQUEST_CANCEL UartEvtRequestCancel;
EVT_WDF_PROGRAM_DMA UartEvtProgramDma;
EVT_WDF_DMA_TRANSACTION_CONFIGURE_DMA_CHANNEL UartEvtConfigureDmaChannel;
EVT_WDF_DMA_TRANSACTION_DMA_TRANSFER_COMPLETE UartEvtDmaTransferComplete;

#endif // _UART_DRIVER_H_
