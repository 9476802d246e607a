/*
 * The framework driver (wdfdriver.h): WdfDriverCreate from DriverEntry, the DRIVER_OBJECT
 * routines the framework installs, and the calling thread's "current driver".
 *
 *   DriverEntry ──WdfDriverCreate──> WDFDRIVER (MajorFunction[] = fx_io_dispatch,
 *                                    AddDevice = fx_driver_add_device, DriverUnload)
 *   unload ──DriverUnload──> EvtDriverUnload, then the WDFDRIVER and every object parented
 *                            to it are deleted
 *
 * In the WDK every DDI receives the caller's WdfDriverGlobals; here DDIs are plain
 * functions, so "the calling driver" (WdfGetDriver, the default parent of WdfObjectCreate,
 * locks, timers...) is the driver of the callback in progress on this thread, which the
 * framework records around every driver callback it makes, else the machine's only driver.
 */
#include "fx/device.h"
#include "fx/internal.h"

static _Thread_local fx_driver *current_driver MACH_TLS_FAST;

fx_driver *fx_driver_swap_current(fx_driver *d)
{
    fx_driver *old = current_driver;
    current_driver = d;
    return old;
}

fx_driver *fx_driver_current(void)
{
    if (current_driver != NULL)
        return current_driver;
    wdfdma_machine *m = mach_current();
    if (m == NULL)
        return NULL;
    fx_machine_state *st = fx_state(m);
    fx_driver *only = NULL;
    unsigned n = 0;
    mach_spin_acquire(&st->lock);
    for (struct wdfdma_driver *d = st->drivers; d != NULL; d = d->next) {
        if (d->fx != NULL) {
            only = d->fx;
            n++;
        }
    }
    mach_spin_release(&st->lock);
    return n == 1 ? only : NULL;
}

static void driver_dispose(fx_object *o)
{
    fx_driver *drv = FX_FROM_OBJ(o, fx_driver);
    drv->image->fx = NULL;
}

static const fx_object_ops driver_ops = {
    .type = FX_TYPE_DRIVER,
    .name = "WDFDRIVER",
    .dispose = driver_dispose,
    .driver_deletable = false,
    .sync_scope_allowed = true,
};

fx_driver *fx_driver_from_handle(WDFDRIVER handle, const char *ddi)
{
    return FX_FROM_OBJ(fx_resolve(handle, FX_TYPE_DRIVER, ddi), fx_driver);
}

static struct wdfdma_driver *image_of(PDRIVER_OBJECT object)
{
    fx_machine_state *st = fx_state(mach_current());
    struct wdfdma_driver *d;
    mach_spin_acquire(&st->lock);
    for (d = st->drivers; d != NULL; d = d->next)
        if (&d->object == object)
            break;
    mach_spin_release(&st->lock);
    return d;
}

/* DRIVER_OBJECT.DriverUnload: EvtDriverUnload, then the WDFDRIVER and its children go. */
static VOID fx_driver_unload(PDRIVER_OBJECT object)
{
    struct wdfdma_driver *image = image_of(object);
    if (image == NULL || image->fx == NULL)
        return;
    fx_driver *drv = image->fx;
    fx_driver *prev = fx_driver_swap_current(drv);
    if (drv->config.EvtDriverUnload) {
        FX_CALLBACK_BEGIN("EvtDriverUnload", &drv->obj);
        drv->config.EvtDriverUnload((WDFDRIVER)fx_handle(&drv->obj));
        FX_CALLBACK_END("EvtDriverUnload", &drv->obj);
    }
    fx_object_delete(&drv->obj);
    fx_driver_swap_current(prev);
}

/* DRIVER_EXTENSION.AddDevice: the PnP manager hands over a physical device object whose
 * DeviceExtension is the hardware instance (binding.c). */
static NTSTATUS fx_driver_add_device(PDRIVER_OBJECT object, PDEVICE_OBJECT pdo)
{
    struct wdfdma_driver *image = image_of(object);
    if (image == NULL || image->fx == NULL)
        return STATUS_INVALID_DEVICE_STATE;
    return fx_device_add(image->fx, pdo);
}

static NTSTATUS validate_config(PDRIVER_OBJECT DriverObject, PCUNICODE_STRING RegistryPath,
                                PWDF_DRIVER_CONFIG config)
{
    const ULONG valid = WdfDriverInitNonPnpDriver | WdfDriverInitNoDispatchOverride |
                        WdfDriverInitCompanion;
    if (config->Size != sizeof(WDF_DRIVER_CONFIG))
        return STATUS_INFO_LENGTH_MISMATCH;
    if (config->DriverInitFlags & ~valid)
        return STATUS_INVALID_PARAMETER;
    if (!(config->DriverInitFlags & WdfDriverInitNoDispatchOverride) &&
        (config->DriverInitFlags & WdfDriverInitNonPnpDriver) && config->EvtDriverDeviceAdd)
        return STATUS_INVALID_PARAMETER;
    if (RegistryPath->Length > RegistryPath->MaximumLength || (RegistryPath->Length & 1) ||
        (RegistryPath->Length != 0 && RegistryPath->Buffer == NULL))
        return STATUS_INVALID_PARAMETER;
    (void)DriverObject;
    return STATUS_SUCCESS;
}

static void install_routines(fx_driver *drv)
{
    PDRIVER_OBJECT object = &drv->image->object;
    ULONG flags = drv->config.DriverInitFlags;
    if (flags & WdfDriverInitNoDispatchOverride)
        return;
    if (flags & WdfDriverInitNonPnpDriver) {
        object->DriverExtension->AddDevice = NULL;
        object->DriverUnload = drv->config.EvtDriverUnload ? fx_driver_unload : NULL;
    } else {
        object->DriverExtension->AddDevice = fx_driver_add_device;
        object->DriverUnload = fx_driver_unload;
    }
    for (unsigned i = 0; i <= IRP_MJ_MAXIMUM_FUNCTION; i++)
        object->MajorFunction[i] = fx_io_dispatch;
}

NTSTATUS WdfDriverCreate(PDRIVER_OBJECT DriverObject, PCUNICODE_STRING RegistryPath,
                         PWDF_OBJECT_ATTRIBUTES DriverAttributes,
                         PWDF_DRIVER_CONFIG DriverConfig, WDFDRIVER *Driver)
{
    fx_check_required(DriverObject, "WdfDriverCreate", "DriverObject");
    fx_check_required(RegistryPath, "WdfDriverCreate", "RegistryPath");
    fx_check_required(DriverConfig, "WdfDriverCreate", "DriverConfig");
    NTSTATUS status = validate_config(DriverObject, RegistryPath, DriverConfig);
    if (!NT_SUCCESS(status))
        return status;
    if (!fx_check_irql(PASSIVE_LEVEL, "WdfDriverCreate"))
        return STATUS_INVALID_DEVICE_REQUEST;
    struct wdfdma_driver *image = image_of(DriverObject);
    if (image == NULL) {
        mach_report(mach_current(), "wdf", "WdfDriverCreate: DRIVER_OBJECT %p was not "
                    "given to a DriverEntry by this machine", (void *)DriverObject);
        return STATUS_INVALID_PARAMETER;
    }
    if (image->fx != NULL)
        return STATUS_DRIVER_INTERNAL_ERROR;
    if (Driver)
        *Driver = NULL;
    fx_object *o;
    status = fx_object_create(&driver_ops, sizeof(fx_driver), DriverAttributes, NULL, false, &o);
    if (!NT_SUCCESS(status))
        return status;
    fx_driver *drv = FX_FROM_OBJ(o, fx_driver);
    o->driver = drv;
    drv->image = image;
    drv->config = *DriverConfig;
    image->fx = drv;
    install_routines(drv);
    if (Driver)
        *Driver = (WDFDRIVER)fx_handle(o);
    return STATUS_SUCCESS;
}

WDFDRIVER WdfGetDriver(VOID)
{
    fx_driver *drv = fx_driver_current();
    return drv ? (WDFDRIVER)fx_handle(&drv->obj) : NULL;
}

PWSTR WdfDriverGetRegistryPath(WDFDRIVER Driver)
{
    fx_driver *drv = fx_driver_from_handle(Driver, "WdfDriverGetRegistryPath");
    if (!fx_check_irql(PASSIVE_LEVEL, "WdfDriverGetRegistryPath"))
        return NULL;
    return drv->image->registry_buffer;
}

PDRIVER_OBJECT WdfDriverWdmGetDriverObject(WDFDRIVER Driver)
{
    fx_driver *drv = fx_driver_from_handle(Driver, "WdfDriverWdmGetDriverObject");
    return &drv->image->object;
}

WDFDRIVER WdfWdmDriverGetWdfDriverHandle(PDRIVER_OBJECT DriverObject)
{
    fx_check_required(DriverObject, "WdfWdmDriverGetWdfDriverHandle", "DriverObject");
    struct wdfdma_driver *image = image_of(DriverObject);
    return image && image->fx ? (WDFDRIVER)fx_handle(&image->fx->obj) : NULL;
}

BOOLEAN WdfDriverIsVersionAvailable(WDFDRIVER Driver,
                                    PWDF_DRIVER_VERSION_AVAILABLE_PARAMS VersionAvailableParams)
{
    fx_driver_from_handle(Driver, "WdfDriverIsVersionAvailable");
    fx_check_required(VersionAvailableParams, "WdfDriverIsVersionAvailable",
                      "VersionAvailableParams");
    if (!fx_check_irql(PASSIVE_LEVEL, "WdfDriverIsVersionAvailable"))
        return FALSE;
    if (VersionAvailableParams->Size != sizeof(WDF_DRIVER_VERSION_AVAILABLE_PARAMS))
        return FALSE;
    return VersionAvailableParams->MajorVersion == KMDF_VERSION_MAJOR &&
                   VersionAvailableParams->MinorVersion <= KMDF_VERSION_MINOR
               ? TRUE
               : FALSE;
}
