/*
 * Framework file objects (wdffileobject.h; KMDF FxPkgGeneral and FxFileObject): a
 * WDFFILEOBJECT per WDM FILE_OBJECT that opens the device, and the driver's
 * EvtDeviceFileCreate / EvtFileCleanup / EvtFileClose.
 *
 * A device has file objects only when WdfDeviceInitSetFileObjectConfig chose a class other
 * than WdfFileObjectNotRequired (the default without that call); with NotRequired the
 * callbacks still run, with a NULL WDFFILEOBJECT. The class also says where the framework
 * finds the object again: FILE_OBJECT->FsContext, ->FsContext2, or (CannotUseFsContexts)
 * the device's list. Every WDFFILEOBJECT is on that list either way, so removal and leak
 * reports see it.
 *
 *   IRP_MJ_CREATE ──► CREATING: the object exists (child of the device, the attributes'
 *        │            context); the create request goes to the driver's create queue, or
 *        │            to EvtDeviceFileCreate (held by an internal manual queue, so the
 *        │            driver may complete it later or forward it), or is succeeded
 *        │            ├── completed with a failure ──► deleted (no cleanup or close: the
 *        ▼ success    │                               I/O manager sends none)
 *      OPEN ──IRP_MJ_CLEANUP: EvtFileCleanup──► CLEANED_UP
 *                                                  │ IRP_MJ_CLOSE: EvtFileClose, then
 *                                                  ▼ deleted
 *   deleted: EvtCleanupCallback, unlinked (FsContext cleared), EvtDestroyCallback when the
 *   last reference goes (KMDF's order: EvtFileClose → cleanup → destroy).
 *
 * Requests keep their file object until they are completed: the I/O manager sends
 * IRP_MJ_CLOSE only after every IRP of the FILE_OBJECT is done (the host's wdfdma_close
 * refuses while requests are outstanding). KMDF also cancels, after EvtFileCleanup,
 * requests of the file still waiting in a queue (FlushAllQueuesByFileObject); with the host
 * refusing to close a file with outstanding requests there are none here.
 *
 * Removal with files open (Windows sends IRP_MN_REMOVE_DEVICE only after the last handle
 * closed; the host may remove first): the WDFFILEOBJECTs are deleted with their device
 * (object cleanup and destroy callbacks, no EvtFileCleanup/EvtFileClose, since the device
 * is gone), and the host's later cleanup and close succeed without calling the driver.
 *
 * AutoForwardCleanupClose is validated and kept: forwarding would send the IRPs to the
 * bus's device object, which succeeds them, so it is the same as completing them here.
 */
#include <unistd.h>

#include "fx/io.h"

typedef enum fx_file_state {
    FX_FILE_CREATING = 1,
    FX_FILE_OPEN,
    FX_FILE_CLEANED_UP,
} fx_file_state;

typedef struct fx_fileobject {
    fx_object obj;
    fx_device *dev;
    PFILE_OBJECT wdm;                /* the I/O manager's; outlives this object */
    LIST_ENTRY link;                 /* dev->files, under dev->lock */
    fx_file_state state;             /* written by the create/cleanup/close path only */
} fx_fileobject;

static void file_unlink(fx_fileobject *fo);

static void file_dispose(fx_object *o)
{
    file_unlink((fx_fileobject *)o);
}

static const fx_object_ops file_ops = {
    .type = FX_TYPE_FILEOBJECT,
    .name = "WDFFILEOBJECT",
    .dispose = file_dispose,
    .driver_deletable = false,       /* the I/O manager's close deletes it (KMDF NoDeleteDDI) */
    .sync_scope_allowed = true,      /* the file callbacks run under the device's lock */
};

static WDF_FILEOBJECT_CLASS normalized(WDF_FILEOBJECT_CLASS c)
{
    return (WDF_FILEOBJECT_CLASS)((ULONG)c & ~(ULONG)WdfFileObjectCanBeOptional);
}

static void assert_file_state(const fx_fileobject *fo, fx_file_state want, const char *event)
{
    if (fo->state != want)
        fx_bugcheck_object(&fo->obj, NULL, WDF_OBJECT_ERROR, (ULONG_PTR)fx_handle(&fo->obj),
                           fo->state, want, "WDFFILEOBJECT %p: %s in state %d, expected %d",
                           (void *)fx_handle(&fo->obj), event, fo->state, want);
}

/* ---- constraints (WdfDeviceCreate) ----------------------------------------------------- */

/* KMDF ConfigureConstraints (1.11 and later): the file callbacks run at PASSIVE_LEVEL; their
 * synchronization scope is None unless the attributes say otherwise (InheritFromParent:
 * the device's). Queue scope is refused; Device scope uses the device's callback lock,
 * which must then be a passive one. The internal create queue is KMDF's
 * m_DefaultQueueForCreates: manual and not power-managed. */
NTSTATUS fx_file_device_init(fx_device *dev)
{
    dev->file_class = dev->has_file_config ? dev->file_config.FileObjectClass
                                           : WdfFileObjectNotRequired;
    dev->file_scope = WdfSynchronizationScopeNone;
    if (!dev->has_file_config)
        return STATUS_SUCCESS;
    if (dev->has_file_attributes) {
        WDF_SYNCHRONIZATION_SCOPE s = dev->file_attributes.SynchronizationScope;
        dev->file_scope = s == WdfSynchronizationScopeInheritFromParent
                              ? dev->obj.synchronization_scope : s;
    }
    if (dev->file_scope == WdfSynchronizationScopeQueue) {
        fx_verifier_break("WdfDeviceCreate", "file objects cannot use "
                          "WdfSynchronizationScopeQueue");
        return STATUS_INVALID_DEVICE_REQUEST;
    }
    if (dev->file_scope == WdfSynchronizationScopeDevice) {
        if (dev->obj.execution_level != WdfExecutionLevelPassive) {
            fx_verifier_break("WdfDeviceCreate", "file objects with synchronization scope "
                              "Device need a device with WdfExecutionLevelPassive");
            return STATUS_INVALID_DEVICE_REQUEST;
        }
        dev->file_lock = &dev->sync;
    }
    if (dev->file_config.EvtDeviceFileCreate == NULL)
        return STATUS_SUCCESS;
    WDF_IO_QUEUE_CONFIG qc;
    WDF_IO_QUEUE_CONFIG_INIT(&qc, WdfIoQueueDispatchManual);
    qc.PowerManaged = WdfFalse;      /* opening a file does not power the device up */
    WDF_OBJECT_ATTRIBUTES qa;
    WDF_OBJECT_ATTRIBUTES_INIT(&qa);
    qa.SynchronizationScope = WdfSynchronizationScopeNone;
    WDFQUEUE queue;
    NTSTATUS status = WdfIoQueueCreate((WDFDEVICE)fx_handle(&dev->obj), &qc, &qa, &queue);
    if (NT_SUCCESS(status))
        dev->create_queue = fx_queue_from_handle(queue, "WdfDeviceCreate");
    return status;
}

/* ---- the object and its lookup --------------------------------------------------------- */

/* A WDFFILEOBJECT for `wdm` (NULL *out when the class needs none). */
static NTSTATUS file_create(fx_device *dev, PFILE_OBJECT wdm, fx_fileobject **out)
{
    *out = NULL;
    WDF_FILEOBJECT_CLASS cls = normalized(dev->file_class);
    if (cls == WdfFileObjectNotRequired)
        return STATUS_SUCCESS;
    if (wdm == NULL) {
        fx_verifier_break("IRP_MJ_CREATE", "the device needs file objects but the create "
                          "IRP has no FILE_OBJECT");
        return STATUS_DEVICE_CONFIGURATION_ERROR;
    }
    WDF_OBJECT_ATTRIBUTES a;
    if (dev->has_file_attributes)
        a = dev->file_attributes;
    else
        WDF_OBJECT_ATTRIBUTES_INIT(&a);
    a.ExecutionLevel = WdfExecutionLevelPassive;
    a.SynchronizationScope = dev->file_scope;
    fx_object *o;
    NTSTATUS status = fx_object_create(&file_ops, sizeof(fx_fileobject), &a, &dev->obj, false,
                                       &o);
    if (!NT_SUCCESS(status))
        return status;
    fx_fileobject *fo = (fx_fileobject *)o;
    fo->dev = dev;
    fo->wdm = wdm;
    fo->state = FX_FILE_CREATING;
    KIRQL irql;
    KeAcquireSpinLock(&dev->lock, &irql);
    InsertHeadList(&dev->files, &fo->link);
    if (cls == WdfFileObjectWdfCanUseFsContext)
        wdm->FsContext = fo;
    else if (cls == WdfFileObjectWdfCanUseFsContext2)
        wdm->FsContext2 = fo;
    KeReleaseSpinLock(&dev->lock, irql);
    *out = fo;
    return STATUS_SUCCESS;
}

/* Deleted (close, failed create, the device deleted): no lookup finds it any more. */
static void file_unlink(fx_fileobject *fo)
{
    fx_device *dev = fo->dev;
    KIRQL irql;
    KeAcquireSpinLock(&dev->lock, &irql);
    RemoveEntryList(&fo->link);
    InitializeListHead(&fo->link);
    if (fo->wdm->FsContext == fo)
        fo->wdm->FsContext = NULL;
    if (fo->wdm->FsContext2 == fo)
        fo->wdm->FsContext2 = NULL;
    KeReleaseSpinLock(&dev->lock, irql);
}

/* The object of `wdm`, referenced (the caller drops it), or NULL. Caller holds dev->lock:
 * a linked object is not disposed yet, so it still has its creation reference. */
static fx_fileobject *lookup_locked(fx_device *dev, PFILE_OBJECT wdm)
{
    WDF_FILEOBJECT_CLASS cls = normalized(dev->file_class);
    if (cls == WdfFileObjectNotRequired || wdm == NULL)
        return NULL;
    fx_fileobject *fo = NULL;
    if (cls == WdfFileObjectWdfCanUseFsContext) {
        fo = wdm->FsContext;
    } else if (cls == WdfFileObjectWdfCanUseFsContext2) {
        fo = wdm->FsContext2;
    } else {
        for (PLIST_ENTRY e = dev->files.Flink; e != &dev->files; e = e->Flink) {
            fx_fileobject *f = CONTAINING_RECORD(e, fx_fileobject, link);
            if (f->wdm == wdm) {
                fo = f;
                break;
            }
        }
    }
    /* The class gives the FsContext fields to the framework; anything else there is not
     * ours (a driver that wrote them anyway). */
    if (fo != NULL && (fo->obj.magic != FX_OBJECT_MAGIC || fo->obj.ops != &file_ops))
        return NULL;
    if (fo != NULL)
        fx_object_reference(&fo->obj);
    return fo;
}

static fx_fileobject *file_lookup(fx_device *dev, PFILE_OBJECT wdm)
{
    KIRQL irql;
    KeAcquireSpinLock(&dev->lock, &irql);
    fx_fileobject *fo = lookup_locked(dev, wdm);
    KeReleaseSpinLock(&dev->lock, irql);
    return fo;
}

WDFFILEOBJECT fx_file_of_irp(fx_device *dev, PIRP irp)
{
    PFILE_OBJECT wdm = IoGetCurrentIrpStackLocation(irp)->FileObject;
    KIRQL irql;
    KeAcquireSpinLock(&dev->lock, &irql);
    fx_fileobject *fo = lookup_locked(dev, wdm);
    WDFFILEOBJECT h = fo != NULL ? (WDFFILEOBJECT)fx_handle(&fo->obj) : NULL;
    KeReleaseSpinLock(&dev->lock, irql);
    if (fo != NULL)
        fx_object_dereference(&fo->obj);
    return h;
}

static WDFFILEOBJECT file_handle(fx_fileobject *fo)
{
    return fo != NULL ? (WDFFILEOBJECT)fx_handle(&fo->obj) : NULL;
}

/* ---- IRP_MJ_CREATE / CLEANUP / CLOSE ------------------------------------------------------ */

/* A file callback: PASSIVE_LEVEL, under the device's lock for synchronization scope
 * Device, recorded in the device's callback log. */
static void call_file_event(fx_device *dev, const char *name, PFN_WDF_FILE_CLEANUP fn,
                            fx_fileobject *fo)
{
    if (fn == NULL)
        return;
    if (dev->file_lock != NULL)
        fx_sync_lock_acquire(dev->file_lock);
    fx_driver *prev = fx_device_callback_begin(dev, name, name);
    fn(file_handle(fo));
    fx_device_callback_end(dev, name, prev);
    if (dev->file_lock != NULL)
        fx_sync_lock_release(dev->file_lock);
}

void fx_file_create_completed(fx_device *dev, PIRP irp, NTSTATUS status)
{
    fx_fileobject *fo = file_lookup(dev, IoGetCurrentIrpStackLocation(irp)->FileObject);
    if (fo == NULL)
        return;
    assert_file_state(fo, FX_FILE_CREATING, "create completed");
    if (NT_SUCCESS(status))
        fo->state = FX_FILE_OPEN;
    else
        fx_object_delete(&fo->obj);
    fx_object_dereference(&fo->obj);
}

/* The create request, ours to finish: completing it runs fx_file_create_completed. */
static void fail_request(fx_device *dev, fx_request *r, KIRQL irql, NTSTATUS status)
{
    fx_request_set_state(r, FX_REQ_CANCELING);   /* on no list: ours to complete */
    fx_io_unlock(dev, irql);
    fx_request_finish(r, status, 0);
}

static NTSTATUS on_create(fx_device *dev, fx_queue *create_queue, PIRP irp)
{
    PFN_WDF_DEVICE_FILE_CREATE evt = dev->file_config.EvtDeviceFileCreate;
    if (!fx_object_is_live(&dev->obj))          /* removed: its queues are gone */
        return fx_complete_irp(irp, STATUS_DELETE_PENDING, 0);
    fx_fileobject *fo;
    NTSTATUS status = file_create(dev, IoGetCurrentIrpStackLocation(irp)->FileObject, &fo);
    if (!NT_SUCCESS(status))
        return fx_complete_irp(irp, status, 0);
    if (create_queue == NULL && evt == NULL) {
        if (fo != NULL)
            fo->state = FX_FILE_OPEN;
        return fx_complete_irp(irp, STATUS_SUCCESS, 0);
    }
    /* KMDF refuses to call passive file callbacks from DISPATCH_LEVEL. */
    if (create_queue == NULL && KeGetCurrentIrql() >= DISPATCH_LEVEL)
        status = STATUS_INVALID_DEVICE_REQUEST;
    fx_request *r = NT_SUCCESS(status) ? fx_request_get(dev, irp) : NULL;
    if (r == NULL) {
        if (fo != NULL)
            fx_object_delete(&fo->obj);
        return fx_complete_irp(irp, NT_SUCCESS(status) ? STATUS_INSUFFICIENT_RESOURCES : status,
                               0);
    }
    IoMarkIrpPending(irp);
    KIRQL irql = fx_io_lock(dev);
    dev->outstanding_io++;
    if (create_queue != NULL) {
        status = fx_queue_insert_locked(create_queue, r, false);
        if (!NT_SUCCESS(status))
            fail_request(dev, r, irql, status);
        else
            fx_queue_run(create_queue, irql);
        return STATUS_PENDING;
    }
    fx_queue *q = dev->create_queue;
    if (!q->accepting) {                         /* the device is being removed */
        fail_request(dev, r, irql, STATUS_INVALID_DEVICE_STATE);
        return STATUS_PENDING;
    }
    /* Owned on behalf of the internal queue, as KMDF retrieves it from there: the driver
     * completes it now or later, or forwards it to one of its queues. */
    fx_queue_own_locked(q, r);
    r->presented = true;
    fx_io_unlock(dev, irql);
    WDFREQUEST request = fx_request_handle(r);
    if (dev->file_lock != NULL)
        fx_sync_lock_acquire(dev->file_lock);
    fx_driver *prev = fx_device_callback_begin(dev, "EvtDeviceFileCreate", "EvtDeviceFileCreate");
    evt((WDFDEVICE)fx_handle(&dev->obj), request, file_handle(fo));
    fx_device_callback_end(dev, "EvtDeviceFileCreate", prev);
    if (dev->file_lock != NULL)
        fx_sync_lock_release(dev->file_lock);
    return STATUS_PENDING;
}

/* Cleanup and close. After the device was deleted (removed with the file open) nothing of
 * the driver's runs; a class with file objects calls back only for a file it knows. */
static NTSTATUS on_cleanup_close(fx_device *dev, PIRP irp, bool close)
{
    if (!fx_object_is_live(&dev->obj))
        return fx_complete_irp(irp, STATUS_SUCCESS, 0);
    fx_fileobject *fo = file_lookup(dev, IoGetCurrentIrpStackLocation(irp)->FileObject);
    bool known = fo != NULL || normalized(dev->file_class) == WdfFileObjectNotRequired;
    if (fo != NULL && !fx_object_is_live(&fo->obj))
        known = false;                           /* deleted with its device meanwhile */
    if (known && !close) {
        if (fo != NULL) {
            assert_file_state(fo, FX_FILE_OPEN, "IRP_MJ_CLEANUP");
            fo->state = FX_FILE_CLEANED_UP;
        }
        call_file_event(dev, "EvtFileCleanup", dev->file_config.EvtFileCleanup, fo);
    } else if (known) {
        if (fo != NULL)
            assert_file_state(fo, FX_FILE_CLEANED_UP, "IRP_MJ_CLOSE");
        call_file_event(dev, "EvtFileClose", dev->file_config.EvtFileClose, fo);
    }
    if (fo != NULL) {
        if (close)
            fx_object_delete(&fo->obj);
        fx_object_dereference(&fo->obj);
    }
    return fx_complete_irp(irp, STATUS_SUCCESS, 0);
}

NTSTATUS fx_file_dispatch(fx_device *dev, fx_queue *create_queue, PIRP irp)
{
    switch (IoGetCurrentIrpStackLocation(irp)->MajorFunction) {
    case IRP_MJ_CREATE:
        return on_create(dev, create_queue, irp);
    case IRP_MJ_CLEANUP:
        return on_cleanup_close(dev, irp, false);
    default:
        return on_cleanup_close(dev, irp, true);
    }
}

/* ---- DDIs ---------------------------------------------------------------------------------- */

static fx_fileobject *file_from_handle(WDFFILEOBJECT handle, const char *ddi)
{
    return (fx_fileobject *)fx_resolve((WDFOBJECT)handle, FX_TYPE_FILEOBJECT, ddi);
}

PUNICODE_STRING WdfFileObjectGetFileName(WDFFILEOBJECT FileObject)
{
    fx_fileobject *fo = file_from_handle(FileObject, "WdfFileObjectGetFileName");
    if (!fx_check_irql(PASSIVE_LEVEL, "WdfFileObjectGetFileName"))
        return NULL;
    return &fo->wdm->FileName;
}

ULONG WdfFileObjectGetFlags(WDFFILEOBJECT FileObject)
{
    fx_fileobject *fo = file_from_handle(FileObject, "WdfFileObjectGetFlags");
    fx_check_irql(DISPATCH_LEVEL, "WdfFileObjectGetFlags");
    return fo->wdm->Flags;
}

WDFDEVICE WdfFileObjectGetDevice(WDFFILEOBJECT FileObject)
{
    fx_fileobject *fo = file_from_handle(FileObject, "WdfFileObjectGetDevice");
    fx_check_irql(DISPATCH_LEVEL, "WdfFileObjectGetDevice");
    return (WDFDEVICE)fx_handle(&fo->dev->obj);
}

/* KMDF: the process IoGetInitiatorProcess names for the FILE_OBJECT. Every file here is
 * opened by the host program, so that is its process. */
ULONG WdfFileObjectGetInitiatorProcessId(WDFFILEOBJECT FileObject)
{
    (void)file_from_handle(FileObject, "WdfFileObjectGetInitiatorProcessId");
    fx_check_irql(DISPATCH_LEVEL, "WdfFileObjectGetInitiatorProcessId");
    return (ULONG)getpid();
}

PFILE_OBJECT WdfFileObjectWdmGetFileObject(WDFFILEOBJECT FileObject)
{
    fx_fileobject *fo = file_from_handle(FileObject, "WdfFileObjectWdmGetFileObject");
    fx_check_irql(DISPATCH_LEVEL, "WdfFileObjectWdmGetFileObject");
    return fo->wdm;
}
