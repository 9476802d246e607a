/*
 * echo.c - a KMDF sample driver for the register-echo device (devices/echo).
 *
 * Writes copy the caller's bytes into the device's data window and ring its doorbell; the
 * device echoes them after a delay and interrupts; the ISR acknowledges and queues the
 * DPC, which completes the pending write. Reads return the echoed bytes. Two IOCTLs:
 * IOCTL_ECHO_GET_STATUS (METHOD_BUFFERED) and IOCTL_ECHO_READ_DIRECT (METHOD_OUT_DIRECT,
 * the echoed bytes through the output MDL).
 *
 * One sequential default queue: at most one request is in the driver at a time, so the
 * device context holds the single in-flight write.
 */
#include <ntddk.h>
#include <wdf.h>

/* {5f1c1a3e-9b52-4c1e-a7de-3f7a6f0e0c01} */
DEFINE_GUID(GUID_DEVINTERFACE_ECHO, 0x5f1c1a3e, 0x9b52, 0x4c1e, 0xa7, 0xde, 0x3f, 0x7a, 0x6f,
            0x0e, 0x0c, 0x01);

#define FILE_DEVICE_ECHO 0x8000
#define IOCTL_ECHO_GET_STATUS CTL_CODE(FILE_DEVICE_ECHO, 0x800, METHOD_BUFFERED, FILE_ANY_ACCESS)
#define IOCTL_ECHO_READ_DIRECT \
    CTL_CODE(FILE_DEVICE_ECHO, 0x801, METHOD_OUT_DIRECT, FILE_READ_ACCESS)

/* Register layout */
#define ECHO_REG_ID 0x00
#define ECHO_REG_LENGTH 0x04
#define ECHO_REG_DOORBELL 0x08
#define ECHO_REG_STATUS 0x0C
#define ECHO_REG_ACK 0x10
#define ECHO_REG_IRQ_EN 0x14
#define ECHO_REG_ECHOED 0x18
#define ECHO_WINDOW 0x800
#define ECHO_WINDOW_SIZE 0x800
#define ECHO_ST_DONE 0x2
#define ECHO_ST_ERROR 0x4
#define ECHO_ID 0xEC40EC40

typedef struct _ECHO_STATUS {
    ULONG Status;       /* last interrupt status */
    ULONG Echoed;       /* bytes readable */
} ECHO_STATUS, *PECHO_STATUS;

typedef struct _DEVICE_CONTEXT {
    PUCHAR Registers;
    SIZE_T RegistersLength;
    WDFINTERRUPT Interrupt;
    WDFQUEUE Queue;
    WDFREQUEST CurrentWrite;    /* written to the device, waiting for its interrupt */
    ULONG CurrentLength;
    ULONG LastStatus;           /* saved by the ISR for the DPC */
    ULONG Echoed;
} DEVICE_CONTEXT, *PDEVICE_CONTEXT;
WDF_DECLARE_CONTEXT_TYPE_WITH_NAME(DEVICE_CONTEXT, EchoGetContext);

DRIVER_INITIALIZE DriverEntry;
EVT_WDF_DRIVER_DEVICE_ADD EchoEvtDeviceAdd;
EVT_WDF_DEVICE_PREPARE_HARDWARE EchoEvtPrepareHardware;
EVT_WDF_DEVICE_RELEASE_HARDWARE EchoEvtReleaseHardware;
EVT_WDF_DEVICE_D0_ENTRY EchoEvtD0Entry;
EVT_WDF_DEVICE_D0_EXIT EchoEvtD0Exit;
EVT_WDF_IO_QUEUE_IO_WRITE EchoEvtIoWrite;
EVT_WDF_IO_QUEUE_IO_READ EchoEvtIoRead;
EVT_WDF_IO_QUEUE_IO_DEVICE_CONTROL EchoEvtIoDeviceControl;
EVT_WDF_IO_QUEUE_IO_STOP EchoEvtIoStop;
EVT_WDF_INTERRUPT_ISR EchoEvtInterruptIsr;
EVT_WDF_INTERRUPT_DPC EchoEvtInterruptDpc;

static ULONG EchoRead32(PDEVICE_CONTEXT Ctx, ULONG Offset)
{
    return READ_REGISTER_ULONG((volatile ULONG *)(Ctx->Registers + Offset));
}

static VOID EchoWrite32(PDEVICE_CONTEXT Ctx, ULONG Offset, ULONG Value)
{
    WRITE_REGISTER_ULONG((volatile ULONG *)(Ctx->Registers + Offset), Value);
}

/* The data window is memory-like: one register per byte offset (the *_BUFFER_* register
 * routines would hit a single FIFO register instead). */
static VOID EchoWindowWrite(PDEVICE_CONTEXT Ctx, PUCHAR Data, ULONG Length)
{
    ULONG i;
    for (i = 0; i < Length; i++)
        WRITE_REGISTER_UCHAR((volatile UCHAR *)(Ctx->Registers + ECHO_WINDOW + i), Data[i]);
}

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    WDF_DRIVER_CONFIG config;
    WDF_DRIVER_CONFIG_INIT(&config, EchoEvtDeviceAdd);
    return WdfDriverCreate(DriverObject, RegistryPath, WDF_NO_OBJECT_ATTRIBUTES, &config,
                           WDF_NO_HANDLE);
}

NTSTATUS EchoEvtDeviceAdd(WDFDRIVER Driver, PWDFDEVICE_INIT DeviceInit)
{
    WDF_PNPPOWER_EVENT_CALLBACKS pnp;
    WDF_OBJECT_ATTRIBUTES attributes;
    WDF_IO_QUEUE_CONFIG queueConfig;
    WDF_INTERRUPT_CONFIG interruptConfig;
    WDFDEVICE device;
    PDEVICE_CONTEXT ctx;
    NTSTATUS status;

    UNREFERENCED_PARAMETER(Driver);

    WDF_PNPPOWER_EVENT_CALLBACKS_INIT(&pnp);
    pnp.EvtDevicePrepareHardware = EchoEvtPrepareHardware;
    pnp.EvtDeviceReleaseHardware = EchoEvtReleaseHardware;
    pnp.EvtDeviceD0Entry = EchoEvtD0Entry;
    pnp.EvtDeviceD0Exit = EchoEvtD0Exit;
    WdfDeviceInitSetPnpPowerEventCallbacks(DeviceInit, &pnp);
    WdfDeviceInitSetIoType(DeviceInit, WdfDeviceIoDirect);

    WDF_OBJECT_ATTRIBUTES_INIT_CONTEXT_TYPE(&attributes, DEVICE_CONTEXT);
    status = WdfDeviceCreate(&DeviceInit, &attributes, &device);
    if (!NT_SUCCESS(status))
        return status;
    ctx = EchoGetContext(device);

    status = WdfDeviceCreateDeviceInterface(device, &GUID_DEVINTERFACE_ECHO, NULL);
    if (!NT_SUCCESS(status))
        return status;

    WDF_IO_QUEUE_CONFIG_INIT_DEFAULT_QUEUE(&queueConfig, WdfIoQueueDispatchSequential);
    queueConfig.EvtIoWrite = EchoEvtIoWrite;
    queueConfig.EvtIoRead = EchoEvtIoRead;
    queueConfig.EvtIoDeviceControl = EchoEvtIoDeviceControl;
    queueConfig.EvtIoStop = EchoEvtIoStop;
    status = WdfIoQueueCreate(device, &queueConfig, WDF_NO_OBJECT_ATTRIBUTES, &ctx->Queue);
    if (!NT_SUCCESS(status))
        return status;

    WDF_INTERRUPT_CONFIG_INIT(&interruptConfig, EchoEvtInterruptIsr, EchoEvtInterruptDpc);
    return WdfInterruptCreate(device, &interruptConfig, WDF_NO_OBJECT_ATTRIBUTES,
                              &ctx->Interrupt);
}

NTSTATUS EchoEvtPrepareHardware(WDFDEVICE Device, WDFCMRESLIST ResourcesRaw,
                                WDFCMRESLIST ResourcesTranslated)
{
    PDEVICE_CONTEXT ctx = EchoGetContext(Device);
    ULONG i;

    UNREFERENCED_PARAMETER(ResourcesRaw);
    for (i = 0; i < WdfCmResourceListGetCount(ResourcesTranslated); i++) {
        PCM_PARTIAL_RESOURCE_DESCRIPTOR d = WdfCmResourceListGetDescriptor(ResourcesTranslated, i);
        if (d->Type == CmResourceTypeMemory && ctx->Registers == NULL) {
            ctx->Registers = (PUCHAR)MmMapIoSpace(d->u.Memory.Start, d->u.Memory.Length,
                                                  MmNonCached);
            if (ctx->Registers == NULL)
                return STATUS_INSUFFICIENT_RESOURCES;
            ctx->RegistersLength = d->u.Memory.Length;
        }
    }
    if (ctx->Registers == NULL)
        return STATUS_DEVICE_CONFIGURATION_ERROR;
    if (EchoRead32(ctx, ECHO_REG_ID) != ECHO_ID)
        return STATUS_DEVICE_CONFIGURATION_ERROR;
    return STATUS_SUCCESS;
}

NTSTATUS EchoEvtReleaseHardware(WDFDEVICE Device, WDFCMRESLIST ResourcesTranslated)
{
    PDEVICE_CONTEXT ctx = EchoGetContext(Device);

    UNREFERENCED_PARAMETER(ResourcesTranslated);
    if (ctx->Registers != NULL) {
        MmUnmapIoSpace(ctx->Registers, ctx->RegistersLength);
        ctx->Registers = NULL;
    }
    return STATUS_SUCCESS;
}

NTSTATUS EchoEvtD0Entry(WDFDEVICE Device, WDF_POWER_DEVICE_STATE PreviousState)
{
    PDEVICE_CONTEXT ctx = EchoGetContext(Device);

    UNREFERENCED_PARAMETER(PreviousState);
    EchoWrite32(ctx, ECHO_REG_ACK, ECHO_ST_DONE | ECHO_ST_ERROR);
    EchoWrite32(ctx, ECHO_REG_IRQ_EN, 1);
    return STATUS_SUCCESS;
}

NTSTATUS EchoEvtD0Exit(WDFDEVICE Device, WDF_POWER_DEVICE_STATE TargetState)
{
    PDEVICE_CONTEXT ctx = EchoGetContext(Device);

    UNREFERENCED_PARAMETER(TargetState);
    EchoWrite32(ctx, ECHO_REG_IRQ_EN, 0);
    return STATUS_SUCCESS;
}

VOID EchoEvtIoWrite(WDFQUEUE Queue, WDFREQUEST Request, size_t Length)
{
    PDEVICE_CONTEXT ctx = EchoGetContext(WdfIoQueueGetDevice(Queue));
    PVOID buffer;
    size_t available;
    NTSTATUS status;

    if (Length > ECHO_WINDOW_SIZE) {
        WdfRequestComplete(Request, STATUS_INVALID_BUFFER_SIZE);
        return;
    }
    status = WdfRequestRetrieveInputBuffer(Request, Length, &buffer, &available);
    if (!NT_SUCCESS(status)) {
        WdfRequestComplete(Request, status);
        return;
    }
    /* The interrupt's DPC completes the write; the ISR must see CurrentWrite. */
    WdfInterruptAcquireLock(ctx->Interrupt);
    ctx->CurrentWrite = Request;
    ctx->CurrentLength = (ULONG)Length;
    EchoWindowWrite(ctx, (PUCHAR)buffer, (ULONG)Length);
    EchoWrite32(ctx, ECHO_REG_LENGTH, (ULONG)Length);
    EchoWrite32(ctx, ECHO_REG_DOORBELL, 1);
    WdfInterruptReleaseLock(ctx->Interrupt);
}

/* Copy the echoed bytes into `buffer`; returns the byte count. */
static ULONG EchoCopyOut(PDEVICE_CONTEXT ctx, PUCHAR buffer, size_t length)
{
    ULONG n = ctx->Echoed < length ? ctx->Echoed : (ULONG)length;
    ULONG i;
    for (i = 0; i < n; i++)
        buffer[i] = READ_REGISTER_UCHAR((volatile UCHAR *)(ctx->Registers + ECHO_WINDOW + i));
    return n;
}

VOID EchoEvtIoRead(WDFQUEUE Queue, WDFREQUEST Request, size_t Length)
{
    PDEVICE_CONTEXT ctx = EchoGetContext(WdfIoQueueGetDevice(Queue));
    PVOID buffer;
    NTSTATUS status;

    status = WdfRequestRetrieveOutputBuffer(Request, Length, &buffer, NULL);
    if (!NT_SUCCESS(status)) {
        WdfRequestComplete(Request, status);
        return;
    }
    WdfRequestCompleteWithInformation(Request, STATUS_SUCCESS,
                                      EchoCopyOut(ctx, (PUCHAR)buffer, Length));
}

VOID EchoEvtIoDeviceControl(WDFQUEUE Queue, WDFREQUEST Request, size_t OutputBufferLength,
                            size_t InputBufferLength, ULONG IoControlCode)
{
    PDEVICE_CONTEXT ctx = EchoGetContext(WdfIoQueueGetDevice(Queue));
    NTSTATUS status;
    PMDL mdl;
    PVOID buffer;

    UNREFERENCED_PARAMETER(InputBufferLength);
    switch (IoControlCode) {
    case IOCTL_ECHO_GET_STATUS: {
        PECHO_STATUS st;
        status = WdfRequestRetrieveOutputBuffer(Request, sizeof(ECHO_STATUS), &buffer, NULL);
        if (!NT_SUCCESS(status))
            break;
        st = (PECHO_STATUS)buffer;
        st->Status = ctx->LastStatus;
        st->Echoed = ctx->Echoed;
        WdfRequestCompleteWithInformation(Request, STATUS_SUCCESS, sizeof(ECHO_STATUS));
        return;
    }
    case IOCTL_ECHO_READ_DIRECT:
        status = WdfRequestRetrieveOutputWdmMdl(Request, &mdl);
        if (!NT_SUCCESS(status))
            break;
        buffer = MmGetSystemAddressForMdlSafe(mdl, NormalPagePriority | MdlMappingNoExecute);
        if (buffer == NULL) {
            status = STATUS_INSUFFICIENT_RESOURCES;
            break;
        }
        WdfRequestCompleteWithInformation(Request, STATUS_SUCCESS,
                                          EchoCopyOut(ctx, (PUCHAR)buffer, OutputBufferLength));
        return;
    default:
        status = STATUS_INVALID_DEVICE_REQUEST;
        break;
    }
    WdfRequestComplete(Request, status);
}

/* The device finishes a write within its delay, so a write in the hardware is left to the
 * DPC: the framework waits for its completion before the device leaves D0. Any other
 * request (none today: reads and IOCTLs complete in their handlers) goes back to the
 * queue to be presented again after power-up. */
VOID EchoEvtIoStop(WDFQUEUE Queue, WDFREQUEST Request, ULONG ActionFlags)
{
    PDEVICE_CONTEXT ctx = EchoGetContext(WdfIoQueueGetDevice(Queue));
    BOOLEAN inHardware;

    UNREFERENCED_PARAMETER(ActionFlags);
    WdfInterruptAcquireLock(ctx->Interrupt);
    inHardware = ctx->CurrentWrite == Request;
    WdfInterruptReleaseLock(ctx->Interrupt);
    if (!inHardware)
        WdfRequestStopAcknowledge(Request, TRUE);
}

BOOLEAN EchoEvtInterruptIsr(WDFINTERRUPT Interrupt, ULONG MessageID)
{
    PDEVICE_CONTEXT ctx = EchoGetContext(WdfInterruptGetDevice(Interrupt));
    ULONG status;

    UNREFERENCED_PARAMETER(MessageID);
    status = EchoRead32(ctx, ECHO_REG_STATUS) & (ECHO_ST_DONE | ECHO_ST_ERROR);
    if (status == 0)
        return FALSE;
    EchoWrite32(ctx, ECHO_REG_ACK, status);
    ctx->LastStatus = status;
    ctx->Echoed = EchoRead32(ctx, ECHO_REG_ECHOED);
    WdfInterruptQueueDpcForIsr(Interrupt);
    return TRUE;
}

VOID EchoEvtInterruptDpc(WDFINTERRUPT Interrupt, WDFOBJECT AssociatedObject)
{
    PDEVICE_CONTEXT ctx = EchoGetContext(WdfInterruptGetDevice(Interrupt));
    WDFREQUEST request;
    ULONG length;
    ULONG status;

    UNREFERENCED_PARAMETER(AssociatedObject);
    WdfInterruptAcquireLock(Interrupt);
    request = ctx->CurrentWrite;
    length = ctx->CurrentLength;
    status = ctx->LastStatus;
    ctx->CurrentWrite = NULL;
    WdfInterruptReleaseLock(Interrupt);
    if (request == NULL)
        return;
    if (status & ECHO_ST_ERROR)
        WdfRequestComplete(request, STATUS_DEVICE_DATA_ERROR);
    else
        WdfRequestCompleteWithInformation(request, STATUS_SUCCESS, length);
}
