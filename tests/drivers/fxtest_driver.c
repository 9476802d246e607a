/*
 * A small KMDF driver for the toy device, written with WDK names only, linked into the fx
 * tests. Every PnP/power callback is registered; each can be told to fail through the
 * control block. The ISR claims the toy's DONE/ERROR completions and queues the DPC.
 */
#include <ntddk.h>
#include <wdf.h>

#include "fxtest_driver.h"

#define TOY_STATUS 0x20
#define TOY_ACK 0x24
#define TOY_LEN 0x18
#define TOY_DOORBELL 0x1C
#define TOY_DONE_OR_ERROR 6u
#define CONTEXT_MAGIC 0xC0DEF00Du

typedef struct _DEVICE_CONTEXT {
    ULONG Magic;
    ULONG Index;
    PUCHAR Registers;
    SIZE_T RegisterLength;
    WDFINTERRUPT Interrupt;
} DEVICE_CONTEXT, *PDEVICE_CONTEXT;
WDF_DECLARE_CONTEXT_TYPE_WITH_NAME(DEVICE_CONTEXT, GetDeviceContext);

fxt_control fxt;
static PUCHAR registers_of[4];

/* {5D1A1B2C-0000-4A5B-9C8D-0102030405FE} */
DEFINE_GUID(GUID_DEVINTERFACE_FXTEST, 0x5d1a1b2c, 0x0000, 0x4a5b, 0x9c, 0x8d, 0x01, 0x02, 0x03,
            0x04, 0x05, 0xfe);

void fxt_reset(void)
{
    RtlZeroMemory(&fxt, sizeof(fxt));
    RtlZeroMemory(registers_of, sizeof(registers_of));
}

void fxt_trigger(unsigned i)
{
    WRITE_REGISTER_ULONG((volatile ULONG *)(registers_of[i] + TOY_LEN), 0);
    WRITE_REGISTER_ULONG((volatile ULONG *)(registers_of[i] + TOY_DOORBELL), 1);
}

/* The tests read these counters from other threads: update them atomically. */
#define COUNT(field) InterlockedIncrement((volatile LONG *)&(field))
#define SET(field, value) InterlockedExchange((volatile LONG *)&(field), (LONG)(value))

static fxt_device_stats *stats_of(WDFDEVICE device)
{
    return &fxt.stats[GetDeviceContext(device)->Index];
}

static BOOLEAN FxtIsr(WDFINTERRUPT Interrupt, ULONG MessageID)
{
    WDFDEVICE device = WdfInterruptGetDevice(Interrupt);
    PDEVICE_CONTEXT ctx = GetDeviceContext(device);
    fxt_device_stats *st = stats_of(device);
    COUNT(st->isr_calls);
    SET(st->last_isr_irql, KeGetCurrentIrql());
    SET(st->last_message, MessageID);
    if (fxt.isr_hook)
        fxt.isr_hook(Interrupt);
    ULONG status = READ_REGISTER_ULONG((volatile ULONG *)(ctx->Registers + TOY_STATUS));
    if ((status & TOY_DONE_OR_ERROR) == 0)
        return FALSE;
    WRITE_REGISTER_ULONG((volatile ULONG *)(ctx->Registers + TOY_ACK), status & TOY_DONE_OR_ERROR);
    COUNT(st->isr_claimed);
    WdfInterruptQueueDpcForIsr(Interrupt);
    return TRUE;
}

static VOID FxtDpc(WDFINTERRUPT Interrupt, WDFOBJECT AssociatedObject)
{
    UNREFERENCED_PARAMETER(AssociatedObject);
    fxt_device_stats *st = stats_of(WdfInterruptGetDevice(Interrupt));
    SET(st->last_dpc_irql, KeGetCurrentIrql());
    COUNT(st->dpc_calls);
}

static NTSTATUS FxtInterruptEnable(WDFINTERRUPT Interrupt, WDFDEVICE Device)
{
    UNREFERENCED_PARAMETER(Interrupt);
    UNREFERENCED_PARAMETER(Device);
    return fxt.fail[FXT_INT_ENABLE];
}

static NTSTATUS FxtInterruptDisable(WDFINTERRUPT Interrupt, WDFDEVICE Device)
{
    UNREFERENCED_PARAMETER(Interrupt);
    UNREFERENCED_PARAMETER(Device);
    return STATUS_SUCCESS;
}

static NTSTATUS create_interrupt(WDFDEVICE Device, PCM_PARTIAL_RESOURCE_DESCRIPTOR Raw,
                                 PCM_PARTIAL_RESOURCE_DESCRIPTOR Translated)
{
    WDF_INTERRUPT_CONFIG config;
    WDF_INTERRUPT_CONFIG_INIT(&config, FxtIsr, FxtDpc);
    config.EvtInterruptEnable = FxtInterruptEnable;
    config.EvtInterruptDisable = FxtInterruptDisable;
    config.AutomaticSerialization = fxt.automatic_serialization ? TRUE : FALSE;
    if (fxt.use_spinlock) {
        WDF_OBJECT_ATTRIBUTES attributes;
        WDF_OBJECT_ATTRIBUTES_INIT(&attributes);
        attributes.ParentObject = Device;
        NTSTATUS status = WdfSpinLockCreate(&attributes, &config.SpinLock);
        if (!NT_SUCCESS(status))
            return status;
        fxt.last_spinlock = config.SpinLock;
    }
    config.InterruptRaw = Raw;
    config.InterruptTranslated = Translated;
    WDFINTERRUPT interrupt;
    NTSTATUS status = WdfInterruptCreate(Device, &config, WDF_NO_OBJECT_ATTRIBUTES, &interrupt);
    if (NT_SUCCESS(status)) {
        GetDeviceContext(Device)->Interrupt = interrupt;
        fxt.last_interrupt = interrupt;
    }
    return status;
}

static NTSTATUS FxtPrepareHardware(WDFDEVICE Device, WDFCMRESLIST Raw, WDFCMRESLIST Translated)
{
    PDEVICE_CONTEXT ctx = GetDeviceContext(Device);
    fxt_device_stats *st = stats_of(Device);
    NTSTATUS status = STATUS_SUCCESS;
    st->resources = WdfCmResourceListGetCount(Translated);
    for (ULONG i = 0; i < WdfCmResourceListGetCount(Translated); i++) {
        PCM_PARTIAL_RESOURCE_DESCRIPTOR d = WdfCmResourceListGetDescriptor(Translated, i);
        if (d->Type == CmResourceTypeMemory && ctx->Registers == NULL) {
            st->memory_resources++;
            ctx->Registers = MmMapIoSpace(d->u.Memory.Start, d->u.Memory.Length, MmNonCached);
            ctx->RegisterLength = d->u.Memory.Length;
            registers_of[ctx->Index] = ctx->Registers;
        } else if (d->Type == CmResourceTypeInterrupt) {
            st->interrupt_resources++;
            if (fxt.interrupt_in_prepare && ctx->Interrupt == NULL)
                status = create_interrupt(Device, WdfCmResourceListGetDescriptor(Raw, i), d);
        }
    }
    if (!NT_SUCCESS(status))
        return status;
    return ctx->Registers ? fxt.fail[FXT_PREPARE] : STATUS_DEVICE_CONFIGURATION_ERROR;
}

static NTSTATUS FxtReleaseHardware(WDFDEVICE Device, WDFCMRESLIST Translated)
{
    UNREFERENCED_PARAMETER(Translated);
    PDEVICE_CONTEXT ctx = GetDeviceContext(Device);
    if (ctx->Registers != NULL) {
        MmUnmapIoSpace(ctx->Registers, ctx->RegisterLength);
        ctx->Registers = NULL;
    }
    if (fxt.interrupt_in_prepare)
        ctx->Interrupt = NULL; /* the framework deletes interrupts made in PrepareHardware */
    return STATUS_SUCCESS;
}

static NTSTATUS FxtD0Entry(WDFDEVICE Device, WDF_POWER_DEVICE_STATE PreviousState)
{
    UNREFERENCED_PARAMETER(Device);
    UNREFERENCED_PARAMETER(PreviousState);
    return fxt.fail[FXT_D0ENTRY];
}

static NTSTATUS FxtD0EntryPost(WDFDEVICE Device, WDF_POWER_DEVICE_STATE PreviousState)
{
    UNREFERENCED_PARAMETER(Device);
    UNREFERENCED_PARAMETER(PreviousState);
    return fxt.fail[FXT_D0ENTRY_POST];
}

static NTSTATUS FxtD0Exit(WDFDEVICE Device, WDF_POWER_DEVICE_STATE TargetState)
{
    UNREFERENCED_PARAMETER(Device);
    UNREFERENCED_PARAMETER(TargetState);
    return STATUS_SUCCESS;
}

static NTSTATUS FxtD0ExitPre(WDFDEVICE Device, WDF_POWER_DEVICE_STATE TargetState)
{
    UNREFERENCED_PARAMETER(Device);
    UNREFERENCED_PARAMETER(TargetState);
    return STATUS_SUCCESS;
}

static NTSTATUS FxtSmioInit(WDFDEVICE Device)
{
    UNREFERENCED_PARAMETER(Device);
    return fxt.fail[FXT_SMIO_INIT];
}

static NTSTATUS FxtSmioRestart(WDFDEVICE Device)
{
    UNREFERENCED_PARAMETER(Device);
    return fxt.fail[FXT_SMIO_RESTART];
}

static NTSTATUS FxtSmioSuspend(WDFDEVICE Device)
{
    UNREFERENCED_PARAMETER(Device);
    return STATUS_SUCCESS;
}

static VOID FxtSmioFlush(WDFDEVICE Device)
{
    UNREFERENCED_PARAMETER(Device);
}

static VOID FxtSmioCleanup(WDFDEVICE Device)
{
    UNREFERENCED_PARAMETER(Device);
}

static VOID FxtSurpriseRemoval(WDFDEVICE Device)
{
    UNREFERENCED_PARAMETER(Device);
}

static VOID FxtDeviceCleanup(WDFOBJECT Object)
{
    fxt.stats[GetDeviceContext(Object)->Index].cleanup_calls++;
}

static NTSTATUS FxtDeviceAdd(WDFDRIVER Driver, PWDFDEVICE_INIT DeviceInit)
{
    UNREFERENCED_PARAMETER(Driver);
    WDF_PNPPOWER_EVENT_CALLBACKS pnp;
    WDF_PNPPOWER_EVENT_CALLBACKS_INIT(&pnp);
    pnp.EvtDevicePrepareHardware = FxtPrepareHardware;
    pnp.EvtDeviceReleaseHardware = FxtReleaseHardware;
    pnp.EvtDeviceD0Entry = FxtD0Entry;
    pnp.EvtDeviceD0EntryPostInterruptsEnabled = FxtD0EntryPost;
    pnp.EvtDeviceD0Exit = FxtD0Exit;
    pnp.EvtDeviceD0ExitPreInterruptsDisabled = FxtD0ExitPre;
    pnp.EvtDeviceSelfManagedIoInit = FxtSmioInit;
    pnp.EvtDeviceSelfManagedIoRestart = FxtSmioRestart;
    pnp.EvtDeviceSelfManagedIoSuspend = FxtSmioSuspend;
    pnp.EvtDeviceSelfManagedIoFlush = FxtSmioFlush;
    pnp.EvtDeviceSelfManagedIoCleanup = FxtSmioCleanup;
    pnp.EvtDeviceSurpriseRemoval = FxtSurpriseRemoval;
    WdfDeviceInitSetPnpPowerEventCallbacks(DeviceInit, &pnp);
    WdfDeviceInitSetIoType(DeviceInit, WdfDeviceIoDirect);

    WDF_OBJECT_ATTRIBUTES attributes;
    WDF_OBJECT_ATTRIBUTES_INIT_CONTEXT_TYPE(&attributes, DEVICE_CONTEXT);
    attributes.EvtCleanupCallback = FxtDeviceCleanup;
    if (fxt.sync_scope_device)
        attributes.SynchronizationScope = WdfSynchronizationScopeDevice;
    PWDFDEVICE_INIT init = DeviceInit;
    WDFDEVICE device;
    NTSTATUS status = WdfDeviceCreate(&init, &attributes, &device);
    if (!NT_SUCCESS(status))
        return status;
    if (fxt.second_create) {
        WDFDEVICE again;
        PWDFDEVICE_INIT stale = DeviceInit;
        fxt.second_create_status = WdfDeviceCreate(&stale, &attributes, &again);
    }
    PDEVICE_CONTEXT ctx = GetDeviceContext(device);
    ctx->Magic = CONTEXT_MAGIC;
    ctx->Index = fxt.devices++ % 4;
    PDEVICE_CONTEXT typed = WdfObjectGetTypedContext(device, DEVICE_CONTEXT);
    fxt.stats[ctx->Index].context_magic_ok = typed == ctx && typed->Magic == CONTEXT_MAGIC;
    fxt.last_device = device;
    status = WdfDeviceCreateDeviceInterface(device, &GUID_DEVINTERFACE_FXTEST, NULL);
    if (NT_SUCCESS(status) && fxt.create_interrupt && !fxt.interrupt_in_prepare)
        status = create_interrupt(device, NULL, NULL);
    return status;
}

static VOID FxtDriverUnload(WDFDRIVER Driver)
{
    UNREFERENCED_PARAMETER(Driver);
    fxt.unload_calls++;
}

int32_t fxt_driver_entry(void *driver_object, void *registry_path)
{
    PDRIVER_OBJECT DriverObject = driver_object;
    PUNICODE_STRING RegistryPath = registry_path;
    WDF_DRIVER_CONFIG config;
    WDF_DRIVER_CONFIG_INIT(&config, FxtDeviceAdd);
    config.EvtDriverUnload = FxtDriverUnload;
    NTSTATUS status = WdfDriverCreate(DriverObject, RegistryPath, WDF_NO_OBJECT_ATTRIBUTES,
                                      &config, WDF_NO_HANDLE);
    if (!NT_SUCCESS(status))
        return status;
    return fxt.driver_entry_status;
}
