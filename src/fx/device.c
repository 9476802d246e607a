/*
 * The framework device (wdfdevice.h): WDFDEVICE_INIT during EvtDriverDeviceAdd,
 * WdfDeviceCreate, device-wide settings, device interfaces and the names a host opens,
 * the WDM views, and the callback log tests read.
 *
 *   AddDevice ──> WDFDEVICE_INIT (framework-owned) ──EvtDriverDeviceAdd──┐
 *                                                                        │ WdfDeviceCreate
 *                                                                        ▼
 *                         WDFDEVICE (parent: the driver) + its DEVICE_OBJECT, in state
 *                         FX_PNP_ADDED; devicepnp.c takes it from there
 *
 * The device node (binding.c) keeps one reference on the WDFDEVICE, so after removal the
 * deleted device's callback log is still readable until the node goes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fx/device.h"
#include "fx/internal.h"

#define DEV_POOL_TAG 'veDF'

/* ---- callback log and callback bracket ----------------------------------------------- */
void fx_device_log(fx_device *dev, const char *entry)
{
    mach_spin_acquire(&dev->log_lock);
    unsigned cap = (unsigned)(sizeof(dev->log) / sizeof(dev->log[0]));
    dev->log[(dev->log_head + dev->log_count) % cap] = entry;
    if (dev->log_count < cap)
        dev->log_count++;
    else
        dev->log_head = (dev->log_head + 1) % cap;
    mach_spin_release(&dev->log_lock);
}

fx_driver *fx_device_callback_begin(fx_device *dev, const char *name, const char *entry)
{
    if (entry != NULL)
        fx_device_log(dev, entry);
    FX_CALLBACK_BEGIN(name, &dev->obj);
    return fx_driver_swap_current(dev->driver);
}

void fx_device_callback_end(fx_device *dev, const char *name, fx_driver *prev)
{
    FX_CALLBACK_END(name, &dev->obj);
    fx_driver_swap_current(prev);
}

/* ---- the object ---------------------------------------------------------------------- */
static void device_lock(fx_object *o)
{
    fx_sync_lock_acquire(&FX_FROM_OBJ(o, fx_device)->sync);
}

static void device_unlock(fx_object *o)
{
    fx_sync_lock_release(&FX_FROM_OBJ(o, fx_device)->sync);
}

static void device_destroy(fx_object *o)
{
    fx_device *dev = FX_FROM_OBJ(o, fx_device);
    while (dev->interfaces != NULL) {
        fx_interface *next = dev->interfaces->next;
        ExFreePoolWithTag(dev->interfaces, DEV_POOL_TAG);
        dev->interfaces = next;
    }
    fx_resources_free(dev);
    if (dev->wdm)
        ExFreePoolWithTag(dev->wdm, DEV_POOL_TAG);
}

static const fx_object_ops device_ops = {
    .type = FX_TYPE_DEVICE,
    .name = "WDFDEVICE",
    .destroy = device_destroy,
    .driver_deletable = false,   /* a PnP device goes with removal, never WdfObjectDelete */
    .sync_scope_allowed = true,
    .lock = device_lock,
    .unlock = device_unlock,
};

fx_device *fx_device_from_handle(WDFDEVICE handle, const char *ddi)
{
    return FX_FROM_OBJ(fx_resolve(handle, FX_TYPE_DEVICE, ddi), fx_device);
}

fx_device *fx_device_from_hardware(wdfdma_dev *hw)
{
    fx_devnode *node = hw ? mach_device_binding(hw) : NULL;
    return node ? node->device : NULL;
}

fx_device *fx_device_from_wdm(PDEVICE_OBJECT wdm)
{
    if (wdm == NULL || wdm->DeviceExtension == NULL)
        return NULL;
    fx_device *dev = wdm->DeviceExtension;
    return dev->obj.magic == FX_OBJECT_MAGIC && dev->wdm == wdm ? dev : NULL;
}

fx_sync_lock *fx_device_sync_lock(fx_device *dev)
{
    WDF_SYNCHRONIZATION_SCOPE s = dev->obj.synchronization_scope;
    return s == WdfSynchronizationScopeDevice || s == WdfSynchronizationScopeQueue ? &dev->sync
                                                                                   : NULL;
}

void fx_device_add_power_participant(fx_device *dev, fx_power_participant *p)
{
    KIRQL old;
    KeAcquireSpinLock(&dev->lock, &old);
    InsertTailList(&dev->power_participants, &p->link);
    KeReleaseSpinLock(&dev->lock, old);
}

void fx_device_remove_power_participant(fx_device *dev, fx_power_participant *p)
{
    KIRQL old;
    KeAcquireSpinLock(&dev->lock, &old);
    RemoveEntryList(&p->link);
    InitializeListHead(&p->link);
    KeReleaseSpinLock(&dev->lock, old);
}

/* ---- EvtDriverDeviceAdd -------------------------------------------------------------- */
NTSTATUS fx_device_add(fx_driver *drv, PDEVICE_OBJECT pdo)
{
    fx_devnode *node = CONTAINING_RECORD(pdo, fx_devnode, pdo);
    WDFDEVICE_INIT *init = ExAllocatePool2(POOL_FLAG_NON_PAGED, sizeof(*init), DEV_POOL_TAG);
    if (init == NULL)
        return STATUS_INSUFFICIENT_RESOURCES;
    init->driver = drv;
    init->hardware = node->hardware;
    init->io_type = WdfDeviceIoBuffered;
    init->device_type = FILE_DEVICE_UNKNOWN;
    init->power_policy_owner = true;
    init->power_pageable = true;
    NTSTATUS status = STATUS_INVALID_DEVICE_STATE;
    node->add_init = init;
    if (drv->config.EvtDriverDeviceAdd != NULL) {
        fx_driver *prev = fx_driver_swap_current(drv);
        FX_CALLBACK_BEGIN("EvtDriverDeviceAdd", &drv->obj);
        status = drv->config.EvtDriverDeviceAdd((WDFDRIVER)fx_handle(&drv->obj), init);
        FX_CALLBACK_END("EvtDriverDeviceAdd", &drv->obj);
        fx_driver_swap_current(prev);
    }
    node->add_init = NULL;
    ExFreePoolWithTag(init, DEV_POOL_TAG);
    if (NT_SUCCESS(status) && node->device == NULL)
        status = STATUS_INVALID_DEVICE_STATE;
    if (!NT_SUCCESS(status) && node->device != NULL) {
        /* KMDF deletes a device whose EvtDriverDeviceAdd failed after WdfDeviceCreate. */
        node->device->pnp_state = FX_PNP_REMOVED;
        fx_object_delete(&node->device->obj);
    }
    return status;
}

/* ---- WDFDEVICE_INIT setters ---------------------------------------------------------- */
/* The init is framework-owned and dies with WdfDeviceCreate; using it afterwards is a
 * driver bug KMDF reports through its verifier. */
static bool init_usable(PWDFDEVICE_INIT init, const char *ddi)
{
    fx_check_required(init, ddi, "DeviceInit");
    if (init->used) {
        fx_verifier_break(ddi, "WDFDEVICE_INIT was already consumed by WdfDeviceCreate");
        return false;
    }
    return fx_check_irql(DISPATCH_LEVEL, ddi);
}

VOID WdfDeviceInitSetPnpPowerEventCallbacks(PWDFDEVICE_INIT DeviceInit,
                                            PWDF_PNPPOWER_EVENT_CALLBACKS PnpPowerEventCallbacks)
{
    fx_check_required(PnpPowerEventCallbacks, "WdfDeviceInitSetPnpPowerEventCallbacks",
                      "PnpPowerEventCallbacks");
    if (!init_usable(DeviceInit, "WdfDeviceInitSetPnpPowerEventCallbacks"))
        return;
    if (PnpPowerEventCallbacks->Size != sizeof(WDF_PNPPOWER_EVENT_CALLBACKS)) {
        fx_verifier_break("WdfDeviceInitSetPnpPowerEventCallbacks",
                          "Size %u, expected %zu; callbacks ignored",
                          PnpPowerEventCallbacks->Size, sizeof(WDF_PNPPOWER_EVENT_CALLBACKS));
        return;
    }
    DeviceInit->pnp = *PnpPowerEventCallbacks;
    DeviceInit->pnp_set = true;
}

VOID WdfDeviceInitSetPowerPolicyOwnership(PWDFDEVICE_INIT DeviceInit, BOOLEAN IsPowerPolicyOwner)
{
    if (init_usable(DeviceInit, "WdfDeviceInitSetPowerPolicyOwnership"))
        DeviceInit->power_policy_owner = IsPowerPolicyOwner != FALSE;
}

VOID WdfDeviceInitSetExclusive(PWDFDEVICE_INIT DeviceInit, BOOLEAN IsExclusive)
{
    if (init_usable(DeviceInit, "WdfDeviceInitSetExclusive"))
        DeviceInit->exclusive = IsExclusive != FALSE;
}

VOID WdfDeviceInitSetIoType(PWDFDEVICE_INIT DeviceInit, WDF_DEVICE_IO_TYPE IoType)
{
    if (!init_usable(DeviceInit, "WdfDeviceInitSetIoType"))
        return;
    if (IoType <= WdfDeviceIoUndefined || IoType >= WdfDeviceIoMaximum) {
        fx_verifier_break("WdfDeviceInitSetIoType", "IoType %d out of range; ignored",
                          (int)IoType);
        return;
    }
    DeviceInit->io_type = IoType;
}

VOID WdfDeviceInitSetPowerNotPageable(PWDFDEVICE_INIT DeviceInit)
{
    if (init_usable(DeviceInit, "WdfDeviceInitSetPowerNotPageable"))
        DeviceInit->power_pageable = false;
}

VOID WdfDeviceInitSetPowerPageable(PWDFDEVICE_INIT DeviceInit)
{
    if (init_usable(DeviceInit, "WdfDeviceInitSetPowerPageable"))
        DeviceInit->power_pageable = true;
}

VOID WdfDeviceInitSetDeviceType(PWDFDEVICE_INIT DeviceInit, DEVICE_TYPE DeviceType)
{
    if (init_usable(DeviceInit, "WdfDeviceInitSetDeviceType"))
        DeviceInit->device_type = DeviceType;
}

VOID WdfDeviceInitSetCharacteristics(PWDFDEVICE_INIT DeviceInit, ULONG DeviceCharacteristics,
                                     BOOLEAN OrInValues)
{
    if (!init_usable(DeviceInit, "WdfDeviceInitSetCharacteristics"))
        return;
    DeviceInit->characteristics =
        OrInValues ? DeviceInit->characteristics | DeviceCharacteristics : DeviceCharacteristics;
}

NTSTATUS WdfDeviceInitAssignName(PWDFDEVICE_INIT DeviceInit, PCUNICODE_STRING DeviceName)
{
    fx_check_required(DeviceInit, "WdfDeviceInitAssignName", "DeviceInit");
    if (!fx_check_irql(PASSIVE_LEVEL, "WdfDeviceInitAssignName"))
        return STATUS_INVALID_DEVICE_REQUEST;
    if (DeviceName == NULL) {
        DeviceInit->name.Length = 0;
        return STATUS_SUCCESS;
    }
    if (DeviceName->Length > DeviceName->MaximumLength || (DeviceName->Length & 1) ||
        (DeviceName->Length && DeviceName->Buffer == NULL))
        return STATUS_INVALID_PARAMETER;
    if (DeviceName->Length > sizeof(DeviceInit->name_buffer))
        return STATUS_INSUFFICIENT_RESOURCES;
    memcpy(DeviceInit->name_buffer, DeviceName->Buffer, DeviceName->Length);
    DeviceInit->name.Buffer = DeviceInit->name_buffer;
    DeviceInit->name.Length = DeviceName->Length;
    DeviceInit->name.MaximumLength = sizeof(DeviceInit->name_buffer);
    return STATUS_SUCCESS;
}

/* KMDF (fxdeviceinitapi.cpp) validates the Size, the attributes (no parent), the
 * AutoForwardCleanupClose tri-state and the class (CanBeOptional only with a class that
 * creates file objects); a bad configuration is a verifier break and is ignored whole. */
static const char *file_config_error(const WDF_FILEOBJECT_CONFIG *c,
                                     const WDF_OBJECT_ATTRIBUTES *a)
{
    if (c->Size != sizeof(WDF_FILEOBJECT_CONFIG))
        return "FileObjectConfig->Size is not sizeof(WDF_FILEOBJECT_CONFIG)";
    if (a != NULL && a->Size != sizeof(WDF_OBJECT_ATTRIBUTES))
        return "FileObjectAttributes->Size is not sizeof(WDF_OBJECT_ATTRIBUTES)";
    if (a != NULL && a->ParentObject != NULL)
        return "FileObjectAttributes->ParentObject must be NULL (the device is the parent)";
    if (c->AutoForwardCleanupClose != WdfFalse && c->AutoForwardCleanupClose != WdfTrue &&
        c->AutoForwardCleanupClose != WdfUseDefault)
        return "AutoForwardCleanupClose is not a WDF_TRI_STATE";
    ULONG cls = (ULONG)c->FileObjectClass & ~(ULONG)WdfFileObjectCanBeOptional;
    if (cls == WdfFileObjectInvalid || cls > WdfFileObjectWdfCannotUseFsContexts)
        return "FileObjectClass is out of range";
    if (cls == WdfFileObjectNotRequired &&
        ((ULONG)c->FileObjectClass & (ULONG)WdfFileObjectCanBeOptional) != 0)
        return "WdfFileObjectCanBeOptional needs a class that creates file objects";
    return NULL;
}

VOID WdfDeviceInitSetFileObjectConfig(PWDFDEVICE_INIT DeviceInit,
                                      PWDF_FILEOBJECT_CONFIG FileObjectConfig,
                                      PWDF_OBJECT_ATTRIBUTES FileObjectAttributes)
{
    fx_check_required(FileObjectConfig, "WdfDeviceInitSetFileObjectConfig", "FileObjectConfig");
    if (!init_usable(DeviceInit, "WdfDeviceInitSetFileObjectConfig"))
        return;
    const char *error = file_config_error(FileObjectConfig, FileObjectAttributes);
    if (error != NULL) {
        fx_verifier_break("WdfDeviceInitSetFileObjectConfig", "%s; ignored", error);
        return;
    }
    DeviceInit->file_config = *FileObjectConfig;
    DeviceInit->file_config_set = true;
    if (FileObjectAttributes != NULL) {
        DeviceInit->file_attributes = *FileObjectAttributes;
        DeviceInit->file_attributes_set = true;
    }
}

VOID WdfDeviceInitSetRequestAttributes(PWDFDEVICE_INIT DeviceInit,
                                       PWDF_OBJECT_ATTRIBUTES RequestAttributes)
{
    fx_check_required(RequestAttributes, "WdfDeviceInitSetRequestAttributes", "RequestAttributes");
    if (!init_usable(DeviceInit, "WdfDeviceInitSetRequestAttributes"))
        return;
    if (RequestAttributes->Size != sizeof(WDF_OBJECT_ATTRIBUTES) ||
        RequestAttributes->ParentObject != NULL) {
        fx_verifier_break("WdfDeviceInitSetRequestAttributes",
                          "bad Size or a ParentObject set; attributes ignored");
        return;
    }
    DeviceInit->request_attributes = *RequestAttributes;
    DeviceInit->request_attributes_set = true;
}

VOID WdfDeviceInitSetIoInCallerContextCallback(PWDFDEVICE_INIT DeviceInit,
                                               PFN_WDF_IO_IN_CALLER_CONTEXT EvtIoInCallerContext)
{
    fx_check_required((const void *)EvtIoInCallerContext,
                      "WdfDeviceInitSetIoInCallerContextCallback", "EvtIoInCallerContext");
    if (init_usable(DeviceInit, "WdfDeviceInitSetIoInCallerContextCallback"))
        DeviceInit->io_in_caller_context = EvtIoInCallerContext;
}

VOID WdfDeviceInitSetReleaseHardwareOrderOnFailure(
    PWDFDEVICE_INIT DeviceInit, WDF_RELEASE_HARDWARE_ORDER_ON_FAILURE ReleaseHardwareOrderOnFailure)
{
    if (init_usable(DeviceInit, "WdfDeviceInitSetReleaseHardwareOrderOnFailure"))
        DeviceInit->release_order = ReleaseHardwareOrderOnFailure;
}

/* Only WDFDEVICE_INITs a driver allocates itself (control devices) may be freed; this
 * framework hands out only framework-owned ones, which KMDF refuses to free. */
VOID WdfDeviceInitFree(PWDFDEVICE_INIT DeviceInit)
{
    fx_check_required(DeviceInit, "WdfDeviceInitFree", "DeviceInit");
    fx_verifier_break("WdfDeviceInitFree", "this WDFDEVICE_INIT belongs to the framework "
                      "(it came from EvtDriverDeviceAdd); the call is ignored");
}

/* ---- WdfDeviceCreate ----------------------------------------------------------------- */
static void copy_init(fx_device *dev, const WDFDEVICE_INIT *init)
{
    dev->driver = init->driver;
    dev->hardware = init->hardware;
    if (init->pnp_set)
        dev->pnp = init->pnp;
    dev->io_type = init->io_type;
    dev->request_attributes = init->request_attributes;
    dev->has_request_attributes = init->request_attributes_set;
    dev->file_config = init->file_config;
    dev->has_file_config = init->file_config_set;
    dev->file_attributes = init->file_attributes;
    dev->has_file_attributes = init->file_attributes_set;
    dev->io_in_caller_context = init->io_in_caller_context;
    memcpy(dev->name_buffer, init->name_buffer, init->name.Length);
    dev->name.Buffer = dev->name_buffer;
    dev->name.Length = init->name.Length;
    dev->name.MaximumLength = sizeof(dev->name_buffer);
    snprintf(dev->instance, sizeof(dev->instance), "%s", wdfdma_dev_name(init->hardware));
}

static NTSTATUS make_wdm_device(fx_device *dev, const WDFDEVICE_INIT *init)
{
    DEVICE_OBJECT *d = ExAllocatePool2(POOL_FLAG_NON_PAGED, sizeof(*d), DEV_POOL_TAG);
    if (d == NULL)
        return STATUS_INSUFFICIENT_RESOURCES;
    d->Type = 3; /* IO_TYPE_DEVICE */
    d->Size = (USHORT)sizeof(*d);
    d->ReferenceCount = 0;
    d->DriverObject = &dev->driver->image->object;
    d->DeviceExtension = dev;
    d->DeviceType = init->device_type;
    d->Characteristics = init->characteristics;
    d->StackSize = 2; /* ours above the bus's */
    d->AlignmentRequirement = FILE_BYTE_ALIGNMENT;
    if (init->io_type == WdfDeviceIoBuffered)
        d->Flags |= DO_BUFFERED_IO;
    else if (init->io_type == WdfDeviceIoDirect)
        d->Flags |= DO_DIRECT_IO;
    dev->wdm = d;
    return STATUS_SUCCESS;
}

NTSTATUS WdfDeviceCreate(PWDFDEVICE_INIT *DeviceInit, PWDF_OBJECT_ATTRIBUTES DeviceAttributes,
                         WDFDEVICE *Device)
{
    fx_check_required(DeviceInit, "WdfDeviceCreate", "DeviceInit");
    fx_check_required(*DeviceInit, "WdfDeviceCreate", "*DeviceInit");
    fx_check_required(Device, "WdfDeviceCreate", "Device");
    if (!fx_check_irql(PASSIVE_LEVEL, "WdfDeviceCreate"))
        return STATUS_INVALID_DEVICE_REQUEST;
    WDFDEVICE_INIT *init = *DeviceInit;
    *Device = NULL;
    fx_devnode *node = mach_device_binding(init->hardware);
    if (init->used || node == NULL || node->device != NULL)
        return STATUS_INVALID_DEVICE_STATE;
    fx_object *o;
    NTSTATUS status = fx_object_create(&device_ops, sizeof(fx_device), DeviceAttributes,
                                       &init->driver->obj, false, &o);
    if (!NT_SUCCESS(status))
        return status;
    fx_device *dev = FX_FROM_OBJ(o, fx_device);
    copy_init(dev, init);
    dev->node = node;
    status = make_wdm_device(dev, init);
    if (!NT_SUCCESS(status)) {
        fx_object_delete(o);
        return status;
    }
    KeInitializeSpinLock(&dev->lock);
    InitializeListHead(&dev->queues);
    InitializeListHead(&dev->interrupts);
    InitializeListHead(&dev->power_participants);
    InitializeListHead(&dev->files);
    fx_sync_lock_init(&dev->sync, o->execution_level == WdfExecutionLevelPassive);
    status = fx_file_device_init(dev);
    if (!NT_SUCCESS(status)) {
        fx_object_delete(o);
        return status;
    }
    dev->pnp_state = FX_PNP_ADDED;
    /* KMDF's initial device power state: the first D0Entry reports D3Final. */
    dev->power_state = WdfPowerDeviceD3Final;
    fx_object_reference(o); /* the node's reference (binding.c drops it) */
    node->device = dev;
    fx_device_log(dev, "EvtDriverDeviceAdd");
    init->used = true;
    *DeviceInit = NULL;
    *Device = (WDFDEVICE)fx_handle(o);
    return STATUS_SUCCESS;
}

/* ---- device-wide settings ------------------------------------------------------------ */
ULONG WdfDeviceGetAlignmentRequirement(WDFDEVICE Device)
{
    return fx_device_from_handle(Device, "WdfDeviceGetAlignmentRequirement")->alignment;
}

VOID WdfDeviceSetAlignmentRequirement(WDFDEVICE Device, ULONG AlignmentRequirement)
{
    fx_device *dev = fx_device_from_handle(Device, "WdfDeviceSetAlignmentRequirement");
    if (!fx_check_irql(DISPATCH_LEVEL, "WdfDeviceSetAlignmentRequirement"))
        return;
    if ((AlignmentRequirement & (AlignmentRequirement + 1)) != 0)
        fx_verifier_break("WdfDeviceSetAlignmentRequirement",
                          "0x%x is not an alignment mask (2^n - 1)", AlignmentRequirement);
    dev->alignment = AlignmentRequirement;
    dev->wdm->AlignmentRequirement = AlignmentRequirement;
}

/* ---- interfaces, links and host names ------------------------------------------------ */
static void narrow(char *out, size_t cap, const WCHAR *w, size_t chars)
{
    size_t n = 0;
    for (; n < chars && n + 1 < cap; n++)
        out[n] = w[n] < 0x80 ? (char)w[n] : '?';
    out[n] = '\0';
}

NTSTATUS WdfDeviceCreateDeviceInterface(WDFDEVICE Device, CONST GUID *InterfaceClassGUID,
                                        PCUNICODE_STRING ReferenceString)
{
    fx_device *dev = fx_device_from_handle(Device, "WdfDeviceCreateDeviceInterface");
    fx_check_required(InterfaceClassGUID, "WdfDeviceCreateDeviceInterface", "InterfaceClassGUID");
    if (!fx_check_irql(PASSIVE_LEVEL, "WdfDeviceCreateDeviceInterface"))
        return STATUS_INVALID_DEVICE_REQUEST;
    char ref[64] = "";
    if (ReferenceString != NULL) {
        if (ReferenceString->Length > ReferenceString->MaximumLength ||
            (ReferenceString->Length && ReferenceString->Buffer == NULL))
            return STATUS_INVALID_PARAMETER;
        narrow(ref, sizeof(ref), ReferenceString->Buffer, ReferenceString->Length / sizeof(WCHAR));
    }
    if (!fx_object_is_live(&dev->obj) || dev->pnp_state == FX_PNP_REMOVED)
        return STATUS_INVALID_DEVICE_STATE;
    fx_interface **tail = &dev->interfaces;
    for (; *tail != NULL; tail = &(*tail)->next)
        if (memcmp(&(*tail)->guid, InterfaceClassGUID, sizeof(GUID)) == 0 &&
            strcmp((*tail)->reference, ref) == 0)
            return STATUS_OBJECT_NAME_COLLISION;
    fx_interface *i = ExAllocatePool2(POOL_FLAG_NON_PAGED, sizeof(*i), DEV_POOL_TAG);
    if (i == NULL)
        return STATUS_INSUFFICIENT_RESOURCES;
    i->guid = *InterfaceClassGUID;
    snprintf(i->reference, sizeof(i->reference), "%s", ref);
    *tail = i;
    dev->interface_count++;
    return STATUS_SUCCESS;
}

static const char *after_last_backslash(const char *s)
{
    const char *p = strrchr(s, '\\');
    return p ? p + 1 : s;
}

NTSTATUS WdfDeviceCreateSymbolicLink(WDFDEVICE Device, PCUNICODE_STRING SymbolicLinkName)
{
    fx_device *dev = fx_device_from_handle(Device, "WdfDeviceCreateSymbolicLink");
    fx_check_required(SymbolicLinkName, "WdfDeviceCreateSymbolicLink", "SymbolicLinkName");
    if (!fx_check_irql(PASSIVE_LEVEL, "WdfDeviceCreateSymbolicLink"))
        return STATUS_INVALID_DEVICE_REQUEST;
    if (SymbolicLinkName->Length == 0 || SymbolicLinkName->Buffer == NULL ||
        SymbolicLinkName->Length > SymbolicLinkName->MaximumLength)
        return STATUS_INVALID_PARAMETER;
    char full[128];
    narrow(full, sizeof(full), SymbolicLinkName->Buffer, SymbolicLinkName->Length / sizeof(WCHAR));
    if (dev->symlink[0] != '\0')
        return STATUS_OBJECT_NAME_COLLISION;
    const char *name = after_last_backslash(full);
    size_t len = strlen(name);
    if (len >= sizeof(dev->symlink))
        return STATUS_NAME_TOO_LONG;   /* never truncate a name a host will open by */
    memcpy(dev->symlink, name, len + 1);
    return STATUS_SUCCESS;
}

static void guid_text(const GUID *g, char out[40])
{
    snprintf(out, 40, "{%08X-%04X-%04X-%02X%02X-%02X%02X%02X%02X%02X%02X}", g->Data1, g->Data2,
             g->Data3, g->Data4[0], g->Data4[1], g->Data4[2], g->Data4[3], g->Data4[4],
             g->Data4[5], g->Data4[6], g->Data4[7]);
}

static bool started(const fx_device *dev)
{
    return dev->pnp_state == FX_PNP_STARTED_D0 || dev->pnp_state == FX_PNP_STARTED_DX;
}

static bool has_interface(const fx_device *dev, const char *guid)
{
    for (const fx_interface *i = dev->interfaces; i != NULL; i = i->next) {
        char text[40];
        guid_text(&i->guid, text);
        if (strcasecmp(text, guid) == 0)
            return true;
    }
    return false;
}

static bool name_matches(const fx_device *dev, const char *name)
{
    char assigned[128];
    narrow(assigned, sizeof(assigned), dev->name.Buffer ? dev->name.Buffer : L"",
           dev->name.Length / sizeof(WCHAR));
    return strcmp(dev->instance, name) == 0 ||
           (assigned[0] && strcmp(after_last_backslash(assigned), name) == 0) ||
           (dev->symlink[0] && strcmp(dev->symlink, name) == 0);
}

/* Nodes are kept newest first; interface instances are numbered in binding order, so the
 * walk counts from the oldest node. */
fx_device *fx_device_open_by_name(wdfdma_machine *m, const char *name)
{
    if (m == NULL || name == NULL || name[0] == '\0')
        return NULL;
    fx_machine_state *st = fx_state(m);
    char guid[40] = "";
    long want = -1;
    if (name[0] == '{') {
        const char *close = strchr(name, '}');
        if (close == NULL || close - name + 1 >= (long)sizeof(guid))
            return NULL;
        memcpy(guid, name, (size_t)(close - name + 1));
        want = 0;
        if (close[1] == '#') {
            char *end;
            want = strtol(close + 2, &end, 10);
            if (end == close + 2 || *end != '\0' || want < 0)
                return NULL;
        } else if (close[1] != '\0') {
            return NULL;
        }
    }
    fx_device *found = NULL;
    long seen = 0;
    mach_spin_acquire(&st->lock);
    fx_devnode *order[256];
    unsigned n = 0;
    for (fx_devnode *node = st->nodes; node != NULL && n < 256; node = node->next)
        order[n++] = node;
    for (unsigned k = n; k-- > 0 && found == NULL;) {
        fx_device *dev = order[k]->device;
        if (dev == NULL || !started(dev))
            continue;
        if (guid[0] ? has_interface(dev, guid) && seen++ == want : name_matches(dev, name))
            found = dev;
    }
    mach_spin_release(&st->lock);
    return found;
}

/* ---- WDM views ----------------------------------------------------------------------- */
PDEVICE_OBJECT WdfDeviceWdmGetDeviceObject(WDFDEVICE Device)
{
    return fx_device_from_handle(Device, "WdfDeviceWdmGetDeviceObject")->wdm;
}

PDEVICE_OBJECT WdfDeviceWdmGetAttachedDevice(WDFDEVICE Device)
{
    fx_device *dev = fx_device_from_handle(Device, "WdfDeviceWdmGetAttachedDevice");
    return dev->node ? &dev->node->pdo : NULL;
}

PDEVICE_OBJECT WdfDeviceWdmGetPhysicalDevice(WDFDEVICE Device)
{
    fx_device *dev = fx_device_from_handle(Device, "WdfDeviceWdmGetPhysicalDevice");
    return dev->node ? &dev->node->pdo : NULL;
}

WDFDEVICE WdfWdmDeviceGetWdfDeviceHandle(PDEVICE_OBJECT DeviceObject)
{
    fx_check_required(DeviceObject, "WdfWdmDeviceGetWdfDeviceHandle", "DeviceObject");
    fx_device *dev = fx_device_from_wdm(DeviceObject);
    return dev ? (WDFDEVICE)fx_handle(&dev->obj) : NULL;
}

WDFDRIVER WdfDeviceGetDriver(WDFDEVICE Device)
{
    fx_device *dev = fx_device_from_handle(Device, "WdfDeviceGetDriver");
    return (WDFDRIVER)fx_handle(&dev->driver->obj);
}

/* ---- device state -------------------------------------------------------------------- */
VOID WdfDeviceSetFailed(WDFDEVICE Device, WDF_DEVICE_FAILED_ACTION FailedAction)
{
    fx_device *dev = fx_device_from_handle(Device, "WdfDeviceSetFailed");
    if (!fx_check_irql(DISPATCH_LEVEL, "WdfDeviceSetFailed"))
        return;
    if (FailedAction != WdfDeviceFailedAttemptRestart && FailedAction != WdfDeviceFailedNoRestart) {
        fx_verifier_break("WdfDeviceSetFailed", "FailedAction %d is not valid; ignored",
                          (int)FailedAction);
        return;
    }
    fx_device_report_failed(dev, FailedAction);
}

VOID WdfDeviceGetDeviceState(WDFDEVICE Device, PWDF_DEVICE_STATE DeviceState)
{
    fx_device *dev = fx_device_from_handle(Device, "WdfDeviceGetDeviceState");
    fx_check_required(DeviceState, "WdfDeviceGetDeviceState", "DeviceState");
    if (DeviceState->Size != sizeof(WDF_DEVICE_STATE)) {
        fx_verifier_break("WdfDeviceGetDeviceState", "Size %u, expected %zu",
                          DeviceState->Size, sizeof(WDF_DEVICE_STATE));
        return;
    }
    WDF_DEVICE_STATE_INIT(DeviceState);
    DeviceState->Failed = dev->set_failed ? WdfTrue : WdfUseDefault;
    DeviceState->Removed = dev->hardware_gone ? WdfTrue : WdfUseDefault;
}

VOID WdfDeviceSetDeviceState(WDFDEVICE Device, PWDF_DEVICE_STATE DeviceState)
{
    fx_device *dev = fx_device_from_handle(Device, "WdfDeviceSetDeviceState");
    fx_check_required(DeviceState, "WdfDeviceSetDeviceState", "DeviceState");
    if (DeviceState->Size != sizeof(WDF_DEVICE_STATE)) {
        fx_verifier_break("WdfDeviceSetDeviceState", "Size %u, expected %zu",
                          DeviceState->Size, sizeof(WDF_DEVICE_STATE));
        return;
    }
    /* Failed = TRUE is reported to PnP, which then removes the device: as SetFailed. */
    if (DeviceState->Failed == WdfTrue)
        fx_device_report_failed(dev, WdfDeviceFailedNoRestart);
}

VOID WdfDeviceSetPnpCapabilities(WDFDEVICE Device, PWDF_DEVICE_PNP_CAPABILITIES PnpCapabilities)
{
    fx_device_from_handle(Device, "WdfDeviceSetPnpCapabilities");
    fx_check_required(PnpCapabilities, "WdfDeviceSetPnpCapabilities", "PnpCapabilities");
    if (PnpCapabilities->Size != sizeof(WDF_DEVICE_PNP_CAPABILITIES))
        fx_verifier_break("WdfDeviceSetPnpCapabilities", "Size %u, expected %zu",
                          PnpCapabilities->Size, sizeof(WDF_DEVICE_PNP_CAPABILITIES));
    /* The simulated bus has no capability queries: the values have no observer. */
}

/* ---- idle power references ----------------------------------------------------------- */
/* This machine has no idle power-down (no power policy timer): the host moves devices
 * between D0 and D3. A power reference therefore only has to wait for D0. */
static bool in_d0_or_gone(void *ctx)
{
    fx_device *dev = ctx;
    fx_pnp_state s = __atomic_load_n(&dev->pnp_state, __ATOMIC_ACQUIRE);
    return s == FX_PNP_STARTED_D0 || (s != FX_PNP_STARTED_DX && s != FX_PNP_STARTING);
}

static NTSTATUS stop_idle(fx_device *dev, BOOLEAN WaitForD0, const char *ddi)
{
    if (!fx_check_irql(WaitForD0 ? PASSIVE_LEVEL : DISPATCH_LEVEL, ddi))
        return STATUS_INVALID_DEVICE_REQUEST;
    fx_pnp_state s = __atomic_load_n(&dev->pnp_state, __ATOMIC_ACQUIRE);
    if (s != FX_PNP_STARTED_D0 && s != FX_PNP_STARTED_DX && s != FX_PNP_STARTING)
        return STATUS_INVALID_DEVICE_STATE;
    __atomic_fetch_add(&dev->idle_refs, 1, __ATOMIC_ACQ_REL);
    if (s == FX_PNP_STARTED_D0)
        return STATUS_SUCCESS;
    if (!WaitForD0)
        return STATUS_PENDING;
    mach_wait(dev->obj.machine, in_d0_or_gone, dev, -1);
    if (__atomic_load_n(&dev->pnp_state, __ATOMIC_ACQUIRE) == FX_PNP_STARTED_D0)
        return STATUS_SUCCESS;
    __atomic_fetch_sub(&dev->idle_refs, 1, __ATOMIC_ACQ_REL);
    return STATUS_INVALID_DEVICE_STATE;
}

static void resume_idle(fx_device *dev, const char *ddi)
{
    if (__atomic_fetch_sub(&dev->idle_refs, 1, __ATOMIC_ACQ_REL) <= 0) {
        __atomic_fetch_add(&dev->idle_refs, 1, __ATOMIC_ACQ_REL);
        fx_bugcheck(WDF_VERIFIER_FATAL_ERROR,
                    (ULONG_PTR)fx_handle(&dev->obj), 0, 0,
                    "%s without a matching WdfDeviceStopIdle", ddi);
    }
}

NTSTATUS WdfDeviceStopIdleNoTrack(WDFDEVICE Device, BOOLEAN WaitForD0)
{
    fx_device *dev = fx_device_from_handle(Device, "WdfDeviceStopIdleNoTrack");
    return stop_idle(dev, WaitForD0, "WdfDeviceStopIdleNoTrack");
}

VOID WdfDeviceResumeIdleNoTrack(WDFDEVICE Device)
{
    resume_idle(fx_device_from_handle(Device, "WdfDeviceResumeIdleNoTrack"),
                "WdfDeviceResumeIdleNoTrack");
}

NTSTATUS WdfDeviceStopIdleActual(WDFDEVICE Device, BOOLEAN WaitForD0, PVOID Tag, LONG Line,
                                 PCCH File)
{
    (void)Tag;
    (void)Line;
    (void)File;
    fx_device *dev = fx_device_from_handle(Device, "WdfDeviceStopIdle");
    return stop_idle(dev, WaitForD0, "WdfDeviceStopIdle");
}

VOID WdfDeviceResumeIdleActual(WDFDEVICE Device, PVOID Tag, LONG Line, PCCH File)
{
    (void)Tag;
    (void)Line;
    (void)File;
    resume_idle(fx_device_from_handle(Device, "WdfDeviceResumeIdle"), "WdfDeviceResumeIdle");
}
