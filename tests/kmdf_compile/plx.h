/*
 * plx.h - shared header of a PLX 9x5x-style bus-master DMA driver (compile test).
 *
 * Shaped like the WDK's general/PLX9x5x sample: a scatter/gather 64-bit duplex enabler,
 * one descriptor ring per direction in common buffers, two transactions created once and
 * reused, sequential read and write queues, an interrupt whose DPC completes transfers.
 * Every .c file of the driver includes this header, so the context types declared here
 * are seen by several translation units.
 */
#ifndef PLX_H
#define PLX_H

#include <ntddk.h>
#include <wdf.h>

#define PCI9656_MAXIMUM_TRANSFER_LENGTH (8 * 1024)
#define PCI9656_DTE_ALIGNMENT_16 FILE_OCTA_ALIGNMENT
#define PLX_MAX_DESCRIPTORS 64
#define PLX_REGISTER_SIZE 0x200

/* Hardware DMA descriptor, read by the device from the common buffer. */
typedef struct _DMA_TRANSFER_ELEMENT {
    ULONG PciAddressLow;
    ULONG PciAddressHigh;
    ULONG LocalAddress;
    ULONG TransferSize;
    ULONG DescPtr;
    ULONG Reserved[3];
} DMA_TRANSFER_ELEMENT, *PDMA_TRANSFER_ELEMENT;

typedef struct _PLX_REGS {
    ULONG IntCsr;
    ULONG DmaMode[2];
    ULONG DmaDescPtr[2];
    ULONG DmaCommandStatus;
    ULONG DmaResidue[2];
} PLX_REGS, *PPLX_REGS;

#define PLX_INTCSR_DMA0_ACTIVE 0x00200000
#define PLX_INTCSR_DMA1_ACTIVE 0x00400000
#define PLX_DMA_START 0x3
#define PLX_DMA_CLEAR_INTERRUPT 0x8

typedef struct _DEVICE_EXTENSION {
    WDFDEVICE Device;
    PPLX_REGS Regs;
    ULONG RegsLength;

    WDFQUEUE ReadQueue;
    WDFQUEUE WriteQueue;
    WDFINTERRUPT Interrupt;
    ULONG IntCsr;

    WDFDMAENABLER DmaEnabler;
    size_t MaximumTransferLength;

    WDFCOMMONBUFFER ReadCommonBuffer;
    PDMA_TRANSFER_ELEMENT ReadDesc;
    PHYSICAL_ADDRESS ReadDescLA;
    WDFCOMMONBUFFER WriteCommonBuffer;
    PDMA_TRANSFER_ELEMENT WriteDesc;
    PHYSICAL_ADDRESS WriteDescLA;

    WDFDMATRANSACTION ReadDmaTransaction;
    WDFDMATRANSACTION WriteDmaTransaction;

    WDFTIMER WatchdogTimer;
} DEVICE_EXTENSION, *PDEVICE_EXTENSION;

WDF_DECLARE_CONTEXT_TYPE_WITH_NAME(DEVICE_EXTENSION, PLxGetDeviceContext);

typedef struct _TRANSACTION_CONTEXT {
    WDFREQUEST Request;
    ULONG Retries;
} TRANSACTION_CONTEXT, *PTRANSACTION_CONTEXT;

WDF_DECLARE_CONTEXT_TYPE_WITH_NAME(TRANSACTION_CONTEXT, PLxGetTransactionContext);

typedef struct _REQUEST_CONTEXT {
    BOOLEAN Cancelled;
} REQUEST_CONTEXT, *PREQUEST_CONTEXT;

WDF_DECLARE_CONTEXT_TYPE(REQUEST_CONTEXT);

DRIVER_INITIALIZE DriverEntry;
EVT_WDF_DRIVER_DEVICE_ADD PLxEvtDeviceAdd;
EVT_WDF_OBJECT_CONTEXT_CLEANUP PLxEvtDriverContextCleanup;
EVT_WDF_DEVICE_PREPARE_HARDWARE PLxEvtDevicePrepareHardware;
EVT_WDF_DEVICE_RELEASE_HARDWARE PLxEvtDeviceReleaseHardware;
EVT_WDF_DEVICE_D0_ENTRY PLxEvtDeviceD0Entry;
EVT_WDF_DEVICE_D0_EXIT PLxEvtDeviceD0Exit;
EVT_WDF_IO_QUEUE_IO_READ PLxEvtIoRead;
EVT_WDF_IO_QUEUE_IO_WRITE PLxEvtIoWrite;
EVT_WDF_IO_QUEUE_IO_DEVICE_CONTROL PLxEvtIoDeviceControl;
EVT_WDF_IO_QUEUE_IO_STOP PLxEvtIoStop;
EVT_WDF_INTERRUPT_ISR PLxEvtInterruptIsr;
EVT_WDF_INTERRUPT_DPC PLxEvtInterruptDpc;
EVT_WDF_INTERRUPT_ENABLE PLxEvtInterruptEnable;
EVT_WDF_INTERRUPT_DISABLE PLxEvtInterruptDisable;
EVT_WDF_PROGRAM_DMA PLxEvtProgramReadDma;
EVT_WDF_PROGRAM_DMA PLxEvtProgramWriteDma;
EVT_WDF_REQUEST_CANCEL PLxEvtRequestCancel;
EVT_WDF_DMA_ENABLER_FILL PLxEvtDmaEnablerFill;
EVT_WDF_DMA_ENABLER_FLUSH PLxEvtDmaEnablerFlush;
EVT_WDF_TIMER PLxEvtWatchdogTimer;

NTSTATUS PLxInitializeDma(_In_ PDEVICE_EXTENSION DevExt);
VOID PLxCompleteTransaction(_In_ PDEVICE_EXTENSION DevExt, _In_ WDFDMATRANSACTION Transaction,
                            _In_ NTSTATUS Status);

#endif /* PLX_H */
