/*
 * WDFWORKITEM (wdfworkitem.h) on the machine's PASSIVE_LEVEL work queue.
 *
 *   idle ──Enqueue──> queued ──a worker runs it──> running ──EvtWorkItemFunc returns──> idle
 *                       │ Enqueue: nothing          │ Enqueue: queued again (runs once more)
 *
 * While queued the item holds a reference on itself, so deleting it (or its parent) never
 * frees memory a worker is about to use; a deleted item that is still queued is skipped.
 * WdfWorkItemFlush waits (PASSIVE) until the item is neither queued nor running.
 * The parent must be (or descend from) a device or a queue (STATUS_INVALID_DEVICE_REQUEST
 * otherwise, like KMDF's _SearchForDevice). AutomaticSerialization takes the device's
 * callback lock, which must then be a passive-level lock
 * (STATUS_WDF_INCOMPATIBLE_EXECUTION_LEVEL otherwise, as in KMDF).
 */
#include "fx/device.h"
#include "fx/internal.h"

typedef struct fx_workitem {
    fx_object obj;
    WDF_WORKITEM_CONFIG config;
    fx_sync_lock *callback_lock;
    mach_work work;
    volatile LONG queued;
    volatile LONG running;
} fx_workitem;

static _Thread_local fx_workitem *current_item MACH_TLS_FAST;

static fx_workitem *from_handle(WDFWORKITEM h, const char *ddi)
{
    return FX_FROM_OBJ(fx_resolve(h, FX_TYPE_WORKITEM, ddi), fx_workitem);
}

static fx_device *device_of(fx_object *o)
{
    fx_object *d = fx_object_ancestor(o, FX_TYPE_DEVICE);
    return d ? FX_FROM_OBJ(d, fx_device) : NULL;
}

static void work_routine(mach_work *w)
{
    fx_workitem *wi = CONTAINING_RECORD(w, fx_workitem, work);
    __atomic_store_n(&wi->running, 1, __ATOMIC_RELEASE);
    __atomic_store_n(&wi->queued, 0, __ATOMIC_RELEASE);
    if (fx_object_is_live(&wi->obj)) {
        fx_device *dev = device_of(&wi->obj);
        if (wi->callback_lock)
            fx_sync_lock_acquire(wi->callback_lock);
        fx_workitem *outer = current_item;
        current_item = wi;
        fx_driver *prev = fx_device_callback_begin(dev, "EvtWorkItemFunc", NULL);
        wi->config.EvtWorkItemFunc((WDFWORKITEM)fx_handle(&wi->obj));
        fx_device_callback_end(dev, "EvtWorkItemFunc", prev);
        current_item = outer;
        if (wi->callback_lock)
            fx_sync_lock_release(wi->callback_lock);
    }
    wdfdma_machine *m = wi->obj.machine;
    __atomic_store_n(&wi->running, 0, __ATOMIC_RELEASE);
    mach_signal(m);
    fx_object_dereference(&wi->obj); /* the queued reference; may free the item */
}

static bool idle(void *ctx)
{
    fx_workitem *wi = ctx;
    return __atomic_load_n(&wi->queued, __ATOMIC_ACQUIRE) == 0 &&
           __atomic_load_n(&wi->running, __ATOMIC_ACQUIRE) == 0;
}

static const fx_object_ops workitem_ops = {
    .type = FX_TYPE_WORKITEM,
    .name = "WDFWORKITEM",
    .driver_deletable = true,
};

NTSTATUS WdfWorkItemCreate(PWDF_WORKITEM_CONFIG Config, PWDF_OBJECT_ATTRIBUTES Attributes,
                           WDFWORKITEM *WorkItem)
{
    fx_check_required(Config, "WdfWorkItemCreate", "Config");
    fx_check_required(WorkItem, "WdfWorkItemCreate", "WorkItem");
    if (!fx_check_irql(DISPATCH_LEVEL, "WdfWorkItemCreate"))
        return STATUS_INVALID_DEVICE_REQUEST;
    *WorkItem = NULL;
    if (Attributes == NULL || Attributes->ParentObject == NULL)
        return STATUS_WDF_PARENT_NOT_SPECIFIED;
    if (Config->Size != sizeof(WDF_WORKITEM_CONFIG))
        return STATUS_INFO_LENGTH_MISMATCH;
    if (Config->EvtWorkItemFunc == NULL)
        return STATUS_INVALID_PARAMETER;
    fx_object *parent = fx_resolve(Attributes->ParentObject, FX_TYPE_NONE, "WdfWorkItemCreate");
    fx_device *dev = device_of(parent);
    if (dev == NULL)
        return STATUS_INVALID_DEVICE_REQUEST;
    fx_sync_lock *l = Config->AutomaticSerialization ? fx_device_sync_lock(dev) : NULL;
    if (l != NULL && !l->passive) {
        fx_verifier_break("WdfWorkItemCreate", "AutomaticSerialization with a dispatch-level "
                          "parent: set AutomaticSerialization to FALSE or make the parent "
                          "passive-level");
        return STATUS_WDF_INCOMPATIBLE_EXECUTION_LEVEL;
    }
    fx_object *o;
    NTSTATUS status = fx_object_create(&workitem_ops, sizeof(fx_workitem), Attributes, NULL,
                                       true, &o);
    if (!NT_SUCCESS(status))
        return status;
    fx_workitem *wi = FX_FROM_OBJ(o, fx_workitem);
    wi->config = *Config;
    wi->callback_lock = l;
    wi->work.fn = work_routine;
    *WorkItem = (WDFWORKITEM)fx_handle(o);
    return STATUS_SUCCESS;
}

VOID WdfWorkItemEnqueue(WDFWORKITEM WorkItem)
{
    fx_workitem *wi = from_handle(WorkItem, "WdfWorkItemEnqueue");
    if (!fx_check_irql(DISPATCH_LEVEL, "WdfWorkItemEnqueue") || !fx_object_is_live(&wi->obj))
        return;
    LONG expect = 0;
    if (!__atomic_compare_exchange_n(&wi->queued, &expect, 1, false, __ATOMIC_ACQ_REL,
                                     __ATOMIC_ACQUIRE))
        return;
    fx_object_reference(&wi->obj);
    mach_work_queue(wi->obj.machine, &wi->work);
}

WDFOBJECT WdfWorkItemGetParentObject(WDFWORKITEM WorkItem)
{
    return fx_handle(from_handle(WorkItem, "WdfWorkItemGetParentObject")->obj.parent);
}

VOID WdfWorkItemFlush(WDFWORKITEM WorkItem)
{
    fx_workitem *wi = from_handle(WorkItem, "WdfWorkItemFlush");
    if (!fx_check_irql(PASSIVE_LEVEL, "WdfWorkItemFlush"))
        return;
    if (current_item == wi) {
        fx_verifier_break("WdfWorkItemFlush", "called from the item's own EvtWorkItemFunc; "
                          "it would wait for itself");
        return;
    }
    mach_wait(wi->obj.machine, idle, wi, -1);
}
