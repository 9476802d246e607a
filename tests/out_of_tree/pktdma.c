/*++

Module Name:

    pktdma.c

Abstract:

    An out-of-tree KMDF driver for the SGDMA bus-master engine (PCI 10B5:9656), built
    against an installed wdfdma with nothing but `pkg-config --cflags --libs wdfdma`.

    It is deliberately small and different from the sgdma sample: a 64-bit *packet*
    profile (the framework hands EvtProgramDma exactly one element, splitting a buffer
    into one transfer per physically contiguous run), one sequential default queue for
    reads and writes, one DMA transaction created once and reused, and a one-descriptor
    "ring" in a common buffer. Requests address device memory by byte offset.

    Phase 1  EvtDriverDeviceAdd: enabler, common buffer, transaction, interrupt.
    Phase 2  EvtIoRead / EvtIoWrite: initialize the transaction from the request, execute.
    Phase 3  EvtProgramDma: one descriptor, doorbell with the interrupt enabled.
    Phase 4  EvtInterruptIsr saves and acknowledges; EvtInterruptDpc completes the
             transfer, and the transaction and request when it is the last one.

Environment:

    Kernel mode

--*/

#include <ntddk.h>
#include <wdf.h>

//
// The device's register map and descriptor layout (from its data sheet).
//
#define PKT_REG_ID              0x000
#define PKT_REG_DEVMEM_SIZE     0x00C
#define PKT_REG_INT_STATUS      0x010
#define PKT_REG_INT_MASK        0x014
#define PKT_REG_RESET           0x018
#define PKT_CH_BASE(ch)         (0x100 + (ch) * 0x40)
#define PKT_CH_DESC_LO          0x00
#define PKT_CH_DESC_HI          0x04
#define PKT_CH_CTRL             0x08

#define PKT_ID                  0x965610B5
#define PKT_BAR_LENGTH          0x1000
#define PKT_RESET_KEY           0x1
#define PKT_CTRL_START          0x01
#define PKT_CTRL_DESC64         0x04
#define PKT_CTRL_IE             0x08
#define PKT_INT_DONE(ch)        (1u << (ch))
#define PKT_INT_ERROR(ch)       (1u << (8 + (ch)))
#define PKT_INT_ALL             0x303u

#define PKT_DESC_LAST           0x1
#define PKT_DESC_INTERRUPT      0x2
#define PKT_DESC_FROM_DEVICE    0x4
#define PKT_DS_DONE             0x80000000u
#define PKT_DS_ERROR            0x40000000u
#define PKT_DS_RESIDUE(s)       ((s) & 0x00FFFFFFu)

#define PKT_CHANNEL_WRITE       0       // host -> device memory
#define PKT_CHANNEL_READ        1       // device memory -> host
#define PKT_MAX_TRANSFER        (64 * 1024)

#pragma pack(push, 1)
typedef struct _PKT_DESCRIPTOR {
    ULONG64 HostAddress;
    ULONG64 Next;
    ULONG Length;
    ULONG DeviceOffset;
    ULONG Flags;
    ULONG Status;
} PKT_DESCRIPTOR, *PPKT_DESCRIPTOR;
#pragma pack(pop)

typedef struct _PKT_CONTEXT {
    WDFDEVICE Device;
    PUCHAR Registers;
    SIZE_T RegistersLength;
    ULONG DeviceMemorySize;
    WDFDMAENABLER Enabler;
    WDFCOMMONBUFFER DescriptorBuffer;
    volatile PKT_DESCRIPTOR *Descriptor;
    PHYSICAL_ADDRESS DescriptorLa;
    WDFDMATRANSACTION Transaction;
    WDFINTERRUPT Interrupt;
    ULONG Channel;                  // channel of the transfer in flight
    ULONG64 RequestOffset;          // device-memory offset of the request
    ULONG SavedStatus;              // INT_STATUS bits the ISR acknowledged
    BOOLEAN Busy;                   // a transfer is on the hardware
} PKT_CONTEXT, *PPKT_CONTEXT;

WDF_DECLARE_CONTEXT_TYPE_WITH_NAME(PKT_CONTEXT, PktGetContext);

DRIVER_INITIALIZE DriverEntry;
EVT_WDF_DRIVER_DEVICE_ADD PktEvtDeviceAdd;
EVT_WDF_DEVICE_PREPARE_HARDWARE PktEvtPrepareHardware;
EVT_WDF_DEVICE_RELEASE_HARDWARE PktEvtReleaseHardware;
EVT_WDF_DEVICE_D0_ENTRY PktEvtD0Entry;
EVT_WDF_IO_QUEUE_IO_READ PktEvtIoRead;
EVT_WDF_IO_QUEUE_IO_WRITE PktEvtIoWrite;
EVT_WDF_PROGRAM_DMA PktEvtProgramDma;
EVT_WDF_INTERRUPT_ISR PktEvtIsr;
EVT_WDF_INTERRUPT_DPC PktEvtDpc;
EVT_WDF_INTERRUPT_ENABLE PktEvtInterruptEnable;
EVT_WDF_INTERRUPT_DISABLE PktEvtInterruptDisable;

static ULONG PktRead(PPKT_CONTEXT Ctx, ULONG Offset)
{
    return READ_REGISTER_ULONG((volatile ULONG *)(Ctx->Registers + Offset));
}

static VOID PktWrite(PPKT_CONTEXT Ctx, ULONG Offset, ULONG Value)
{
    WRITE_REGISTER_ULONG((volatile ULONG *)(Ctx->Registers + Offset), Value);
}

NTSTATUS
DriverEntry(
    _In_ PDRIVER_OBJECT DriverObject,
    _In_ PUNICODE_STRING RegistryPath
    )
{
    WDF_DRIVER_CONFIG config;

    WDF_DRIVER_CONFIG_INIT(&config, PktEvtDeviceAdd);
    return WdfDriverCreate(DriverObject, RegistryPath, WDF_NO_OBJECT_ATTRIBUTES, &config,
                           WDF_NO_HANDLE);
}

//
// Phase 1: everything DMA needs, created once.
//
NTSTATUS
PktEvtDeviceAdd(
    _In_ WDFDRIVER Driver,
    _Inout_ PWDFDEVICE_INIT DeviceInit
    )
{
    WDF_PNPPOWER_EVENT_CALLBACKS pnp;
    WDF_OBJECT_ATTRIBUTES attributes;
    WDF_IO_QUEUE_CONFIG queueConfig;
    WDF_DMA_ENABLER_CONFIG dmaConfig;
    WDF_INTERRUPT_CONFIG interruptConfig;
    PPKT_CONTEXT ctx;
    WDFDEVICE device;
    NTSTATUS status;

    UNREFERENCED_PARAMETER(Driver);

    WdfDeviceInitSetIoType(DeviceInit, WdfDeviceIoDirect);
    WDF_PNPPOWER_EVENT_CALLBACKS_INIT(&pnp);
    pnp.EvtDevicePrepareHardware = PktEvtPrepareHardware;
    pnp.EvtDeviceReleaseHardware = PktEvtReleaseHardware;
    pnp.EvtDeviceD0Entry = PktEvtD0Entry;
    WdfDeviceInitSetPnpPowerEventCallbacks(DeviceInit, &pnp);

    WDF_OBJECT_ATTRIBUTES_INIT_CONTEXT_TYPE(&attributes, PKT_CONTEXT);
    status = WdfDeviceCreate(&DeviceInit, &attributes, &device);
    if (!NT_SUCCESS(status)) {
        return status;
    }
    ctx = PktGetContext(device);
    ctx->Device = device;

    //
    // One sequential queue: one request (so one transaction) at a time.
    //
    WDF_IO_QUEUE_CONFIG_INIT_DEFAULT_QUEUE(&queueConfig, WdfIoQueueDispatchSequential);
    queueConfig.EvtIoRead = PktEvtIoRead;
    queueConfig.EvtIoWrite = PktEvtIoWrite;
    status = WdfIoQueueCreate(device, &queueConfig, WDF_NO_OBJECT_ATTRIBUTES, WDF_NO_HANDLE);
    if (!NT_SUCCESS(status)) {
        return status;
    }

    WDF_DMA_ENABLER_CONFIG_INIT(&dmaConfig, WdfDmaProfilePacket64, PKT_MAX_TRANSFER);
    status = WdfDmaEnablerCreate(device, &dmaConfig, WDF_NO_OBJECT_ATTRIBUTES, &ctx->Enabler);
    if (!NT_SUCCESS(status)) {
        return status;
    }

    //
    // The descriptor lives in memory both sides reach: a common buffer.
    //
    status = WdfCommonBufferCreate(ctx->Enabler, sizeof(PKT_DESCRIPTOR),
                                   WDF_NO_OBJECT_ATTRIBUTES, &ctx->DescriptorBuffer);
    if (!NT_SUCCESS(status)) {
        return status;
    }
    ctx->Descriptor = WdfCommonBufferGetAlignedVirtualAddress(ctx->DescriptorBuffer);
    ctx->DescriptorLa = WdfCommonBufferGetAlignedLogicalAddress(ctx->DescriptorBuffer);

    //
    // Reused for every request, so the I/O path never allocates.
    //
    status = WdfDmaTransactionCreate(ctx->Enabler, WDF_NO_OBJECT_ATTRIBUTES,
                                     &ctx->Transaction);
    if (!NT_SUCCESS(status)) {
        return status;
    }

    WDF_INTERRUPT_CONFIG_INIT(&interruptConfig, PktEvtIsr, PktEvtDpc);
    interruptConfig.EvtInterruptEnable = PktEvtInterruptEnable;
    interruptConfig.EvtInterruptDisable = PktEvtInterruptDisable;
    return WdfInterruptCreate(device, &interruptConfig, WDF_NO_OBJECT_ATTRIBUTES,
                              &ctx->Interrupt);
}

NTSTATUS
PktEvtPrepareHardware(
    _In_ WDFDEVICE Device,
    _In_ WDFCMRESLIST ResourcesRaw,
    _In_ WDFCMRESLIST ResourcesTranslated
    )
{
    PPKT_CONTEXT ctx = PktGetContext(Device);
    PCM_PARTIAL_RESOURCE_DESCRIPTOR desc;
    ULONG i;

    UNREFERENCED_PARAMETER(ResourcesRaw);

    for (i = 0; i < WdfCmResourceListGetCount(ResourcesTranslated); i++) {
        desc = WdfCmResourceListGetDescriptor(ResourcesTranslated, i);
        if (desc != NULL && desc->Type == CmResourceTypeMemory &&
            desc->u.Memory.Length >= PKT_BAR_LENGTH && ctx->Registers == NULL) {
            ctx->Registers = MmMapIoSpaceEx(desc->u.Memory.Start, desc->u.Memory.Length,
                                            PAGE_READWRITE | PAGE_NOCACHE);
            ctx->RegistersLength = desc->u.Memory.Length;
        }
    }
    if (ctx->Registers == NULL || PktRead(ctx, PKT_REG_ID) != PKT_ID) {
        return STATUS_DEVICE_CONFIGURATION_ERROR;
    }
    ctx->DeviceMemorySize = PktRead(ctx, PKT_REG_DEVMEM_SIZE);
    return STATUS_SUCCESS;
}

NTSTATUS
PktEvtReleaseHardware(
    _In_ WDFDEVICE Device,
    _In_ WDFCMRESLIST ResourcesTranslated
    )
{
    PPKT_CONTEXT ctx = PktGetContext(Device);

    UNREFERENCED_PARAMETER(ResourcesTranslated);
    if (ctx->Registers != NULL) {
        MmUnmapIoSpace(ctx->Registers, ctx->RegistersLength);
        ctx->Registers = NULL;
    }
    return STATUS_SUCCESS;
}

NTSTATUS
PktEvtD0Entry(
    _In_ WDFDEVICE Device,
    _In_ WDF_POWER_DEVICE_STATE PreviousState
    )
{
    PPKT_CONTEXT ctx = PktGetContext(Device);

    UNREFERENCED_PARAMETER(PreviousState);
    PktWrite(ctx, PKT_REG_RESET, PKT_RESET_KEY);
    PktWrite(ctx, PKT_REG_INT_MASK, PKT_INT_ALL);
    PktWrite(ctx, PKT_REG_INT_STATUS, PKT_INT_ALL);
    return STATUS_SUCCESS;
}

//
// Phase 2: a request arrives; the transaction takes its MDL and starts.
//
static VOID
PktStart(
    _In_ WDFQUEUE Queue,
    _In_ WDFREQUEST Request,
    _In_ size_t Length,
    _In_ LONGLONG Offset,
    _In_ WDF_DMA_DIRECTION Direction
    )
{
    PPKT_CONTEXT ctx = PktGetContext(WdfIoQueueGetDevice(Queue));
    NTSTATUS status;

    if (Length == 0) {
        WdfRequestCompleteWithInformation(Request, STATUS_SUCCESS, 0);
        return;
    }
    if (Offset < 0 || (ULONGLONG)Offset + Length > ctx->DeviceMemorySize) {
        WdfRequestComplete(Request, STATUS_INVALID_PARAMETER);
        return;
    }
    ctx->RequestOffset = (ULONG64)Offset;
    ctx->Channel = (Direction == WdfDmaDirectionReadFromDevice) ? PKT_CHANNEL_READ
                                                                 : PKT_CHANNEL_WRITE;

    status = WdfDmaTransactionInitializeUsingRequest(ctx->Transaction, Request,
                                                     PktEvtProgramDma, Direction);
    if (!NT_SUCCESS(status)) {
        WdfRequestComplete(Request, status);
        return;
    }
    status = WdfDmaTransactionExecute(ctx->Transaction, ctx);
    if (!NT_SUCCESS(status)) {
        WdfDmaTransactionRelease(ctx->Transaction);
        WdfRequestComplete(Request, status);
    }
}

VOID
PktEvtIoRead(
    _In_ WDFQUEUE Queue,
    _In_ WDFREQUEST Request,
    _In_ size_t Length
    )
{
    WDF_REQUEST_PARAMETERS params;

    WDF_REQUEST_PARAMETERS_INIT(&params);
    WdfRequestGetParameters(Request, &params);
    PktStart(Queue, Request, Length, params.Parameters.Read.DeviceOffset,
             WdfDmaDirectionReadFromDevice);
}

VOID
PktEvtIoWrite(
    _In_ WDFQUEUE Queue,
    _In_ WDFREQUEST Request,
    _In_ size_t Length
    )
{
    WDF_REQUEST_PARAMETERS params;

    WDF_REQUEST_PARAMETERS_INIT(&params);
    WdfRequestGetParameters(Request, &params);
    PktStart(Queue, Request, Length, params.Parameters.Write.DeviceOffset,
             WdfDmaDirectionWriteToDevice);
}

//
// Phase 3: the packet profile gives one element per transfer: one descriptor.
//
BOOLEAN
PktEvtProgramDma(
    _In_ WDFDMATRANSACTION Transaction,
    _In_ WDFDEVICE Device,
    _In_ WDFCONTEXT Context,
    _In_ WDF_DMA_DIRECTION Direction,
    _In_ PSCATTER_GATHER_LIST SgList
    )
{
    PPKT_CONTEXT ctx = (PPKT_CONTEXT)Context;
    volatile PKT_DESCRIPTOR *d = ctx->Descriptor;
    ULONG base = PKT_CH_BASE(ctx->Channel);

    UNREFERENCED_PARAMETER(Device);

    d->HostAddress = (ULONG64)SgList->Elements[0].Address.QuadPart;
    d->Next = 0;
    d->Length = SgList->Elements[0].Length;
    d->DeviceOffset = (ULONG)(ctx->RequestOffset +
                              WdfDmaTransactionGetBytesTransferred(Transaction));
    d->Flags = PKT_DESC_LAST | PKT_DESC_INTERRUPT |
               (Direction == WdfDmaDirectionReadFromDevice ? PKT_DESC_FROM_DEVICE : 0);
    d->Status = 0;
    KeMemoryBarrier();

    ctx->Busy = TRUE;
    PktWrite(ctx, base + PKT_CH_DESC_LO, ctx->DescriptorLa.LowPart);
    PktWrite(ctx, base + PKT_CH_DESC_HI, (ULONG)ctx->DescriptorLa.HighPart);
    PktWrite(ctx, base + PKT_CH_CTRL, PKT_CTRL_START | PKT_CTRL_DESC64 | PKT_CTRL_IE);
    return TRUE;
}

//
// Phase 4: the ISR acknowledges and saves; the DPC reports the transfer.
//
BOOLEAN
PktEvtIsr(
    _In_ WDFINTERRUPT Interrupt,
    _In_ ULONG MessageID
    )
{
    PPKT_CONTEXT ctx = PktGetContext(WdfInterruptGetDevice(Interrupt));
    ULONG status;

    UNREFERENCED_PARAMETER(MessageID);

    status = PktRead(ctx, PKT_REG_INT_STATUS);
    if (status == 0xFFFFFFFF || (status & PKT_INT_ALL) == 0) {
        return FALSE;
    }
    status &= PKT_INT_ALL;
    PktWrite(ctx, PKT_REG_INT_STATUS, status);
    ctx->SavedStatus |= status;
    WdfInterruptQueueDpcForIsr(Interrupt);
    return TRUE;
}

VOID
PktEvtDpc(
    _In_ WDFINTERRUPT Interrupt,
    _In_ WDFOBJECT AssociatedObject
    )
{
    PPKT_CONTEXT ctx = PktGetContext(WdfInterruptGetDevice(Interrupt));
    WDFDMATRANSACTION transaction = ctx->Transaction;
    ULONG saved, descriptorStatus;
    NTSTATUS status = STATUS_SUCCESS;
    WDFREQUEST request;
    size_t bytes;
    BOOLEAN finished;

    UNREFERENCED_PARAMETER(AssociatedObject);

    WdfInterruptAcquireLock(Interrupt);
    saved = ctx->SavedStatus & (PKT_INT_DONE(ctx->Channel) | PKT_INT_ERROR(ctx->Channel));
    ctx->SavedStatus &= ~saved;
    WdfInterruptReleaseLock(Interrupt);
    if (saved == 0 || !ctx->Busy) {
        return;                         // not our transfer (duplicate or late interrupt)
    }
    ctx->Busy = FALSE;

    descriptorStatus = ctx->Descriptor->Status;
    if ((saved & PKT_INT_ERROR(ctx->Channel)) || !(descriptorStatus & PKT_DS_DONE) ||
        (descriptorStatus & PKT_DS_ERROR) || PKT_DS_RESIDUE(descriptorStatus) != 0) {
        (VOID)WdfDmaTransactionDmaCompletedFinal(transaction, 0, &status);
        status = STATUS_DEVICE_DATA_ERROR;
        finished = TRUE;
    } else {
        finished = WdfDmaTransactionDmaCompleted(transaction, &status);
    }
    if (finished) {
        request = WdfDmaTransactionGetRequest(transaction);
        bytes = WdfDmaTransactionGetBytesTransferred(transaction);
        WdfDmaTransactionRelease(transaction);
        WdfRequestCompleteWithInformation(request, status, bytes);
    }
}

NTSTATUS
PktEvtInterruptEnable(
    _In_ WDFINTERRUPT Interrupt,
    _In_ WDFDEVICE AssociatedDevice
    )
{
    UNREFERENCED_PARAMETER(Interrupt);
    PktWrite(PktGetContext(AssociatedDevice), PKT_REG_INT_MASK, 0);
    return STATUS_SUCCESS;
}

NTSTATUS
PktEvtInterruptDisable(
    _In_ WDFINTERRUPT Interrupt,
    _In_ WDFDEVICE AssociatedDevice
    )
{
    UNREFERENCED_PARAMETER(Interrupt);
    PktWrite(PktGetContext(AssociatedDevice), PKT_REG_INT_MASK, PKT_INT_ALL);
    return STATUS_SUCCESS;
}
