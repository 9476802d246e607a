/*
 * WDFQUEUE: presents a device's requests to the driver, sequentially, in parallel or on
 * demand (manual), and holds them while the device is out of D0 (power-managed queues).
 *
 * Queue state (all under the device's I/O lock):
 *
 *            WdfIoQueueStart                     WdfIoQueueStop
 *   accepting+dispatching ◄────────────────────────────────── accepting, not dispatching
 *        │  ▲                                                 (StopComplete: owned == 0)
 *        │  └── WdfIoQueueStart ──┐
 *        ▼ Drain / Purge          │
 *   not accepting ────────────────┘  (DrainComplete / PurgeComplete: pending == 0 and
 *                                     owned == 0; Purge cancels pending and cancelable)
 *
 *   PnP (power-managed queues only), independent of the above:
 *     powered ──fx_io_power_down──► stopping (EvtIoStop(Suspend) per owned request, wait
 *        ▲                          until each is completed or acknowledged) ──► held
 *        └────fx_io_power_up (EvtIoResume for requests acknowledged without requeue)──┘
 *     fx_io_purge (removal): EvtIoStop(Purge), pending cancelled, wait for completion.
 *
 * The dispatch loop (fx_queue_run) is the only place that calls the driver for a queue: one
 * thread at a time runs it (in_dispatch); a thread that changes state while another runs
 * it only sets `rerun`. That also keeps a driver that completes inside EvtIoRead from
 * recursing: the next request is presented after the callback returns. Callbacks run with
 * the I/O lock released and the queue's presentation lock held (synchronization scope
 * Queue: the queue's own lock; Device: the device's lock; None: no lock).
 */
#include <string.h>

#include "fx/io.h"

static void queue_dispose(fx_object *o)
{
    fx_queue *q = (fx_queue *)o;
    fx_device *dev = q->dev;
    KIRQL irql = fx_io_lock(dev);
    q->deleted = true;
    q->accepting = false;
    if (q->dev_link.Flink != NULL)
        RemoveEntryList(&q->dev_link);
    if (dev->default_queue == q)
        dev->default_queue = NULL;
    for (unsigned i = 0; i <= IRP_MJ_MAXIMUM_FUNCTION; i++)
        if (dev->dispatch[i] == q)
            dev->dispatch[i] = NULL;
    bool busy = q->pending_count != 0 || q->owned_count != 0;
    fx_io_unlock(dev, irql);
    if (busy)
        mach_report(mach_current(), "WDFQUEUE", "queue %p deleted with %u queued and %u "
                    "driver-owned requests", (void *)fx_handle(o), q->pending_count,
                    q->owned_count);
}

static const fx_object_ops queue_ops = {
    .type = FX_TYPE_QUEUE,
    .name = "WDFQUEUE",
    .dispose = queue_dispose,
    .destroy = NULL,
    .driver_deletable = false,
};

fx_queue *fx_queue_from_handle(WDFQUEUE handle, const char *ddi)
{
    return (fx_queue *)fx_resolve((WDFOBJECT)handle, FX_TYPE_QUEUE, ddi);
}

static bool queue_powered(const fx_queue *q)
{
    return !q->power_managed || q->powered;
}

static void assert_queue_state(const fx_queue *q)
{
    if (q->owned_count > 0x7fffffffu || q->pending_count > 0x7fffffffu ||
        (q->config.DispatchType == WdfIoQueueDispatchManual && q->max_presented != 0))
        fx_bugcheck(WDF_QUEUE_FATAL_ERROR, (ULONG_PTR)fx_handle(&q->obj), q->pending_count,
                    q->owned_count, "WDFQUEUE %p: inconsistent counts (pending %u, owned %u)",
                    (void *)fx_handle(&q->obj), q->pending_count, q->owned_count);
}

/* ---- presentation lock ----------------------------------------------------------------- */

static WDF_SYNCHRONIZATION_SCOPE resolve_scope(fx_queue *q)
{
    const fx_object *chain[3] = {&q->obj, &q->dev->obj,
                                 q->dev->driver != NULL ? &q->dev->driver->obj : NULL};
    for (int i = 0; i < 3 && chain[i] != NULL; i++) {
        WDF_SYNCHRONIZATION_SCOPE s = chain[i]->synchronization_scope;
        if (s == WdfSynchronizationScopeDevice || s == WdfSynchronizationScopeQueue ||
            s == WdfSynchronizationScopeNone)
            return s;
    }
    return WdfSynchronizationScopeNone;
}

void fx_queue_present_lock(fx_queue *q)
{
    if (q->presentation != NULL)
        fx_sync_lock_acquire(q->presentation);
}

void fx_queue_present_unlock(fx_queue *q)
{
    if (q->presentation != NULL)
        fx_sync_lock_release(q->presentation);
}

/* ---- inserting and cancelling ---------------------------------------------------------- */

/* A request cancelled while in the queue (or never inserted): EvtIoCanceledOnQueue if the
 * driver registered it, else STATUS_CANCELLED. The loop does either. */
static void cancel_on_queue_locked(fx_queue *q, fx_request *r)
{
    r->queue = q;
    fx_request_set_state(r, FX_REQ_CANCELING);
    r->on_cancel_list = true;
    if (q->config.EvtIoCanceledOnQueue != NULL && !q->cancel_dispatched)
        InsertTailList(&q->cancelled_on_queue, &r->link);
    else
        InsertTailList(&q->complete_cancelled, &r->link);
    q->rerun = true;
}

NTSTATUS fx_queue_insert_locked(fx_queue *q, fx_request *r, bool at_head)
{
    if (!at_head && !q->accepting)
        return STATUS_INVALID_DEVICE_STATE;
    if (q->cancel_dispatched || q->deleted) {
        cancel_on_queue_locked(q, r);
        return STATUS_SUCCESS;
    }
    r->queue = q;
    r->stop = FX_STOP_NONE;
    fx_request_set_state(r, FX_REQ_QUEUED);
    if (at_head)
        InsertHeadList(&q->pending, &r->link);
    else
        InsertTailList(&q->pending, &r->link);
    if (q->pending_count++ == 0)
        q->ready_armed = true;
    fx_request_arm_cancel(r);
    /* Cancelled before it was queued: take the routine back and cancel here. */
    if (wdm_irp_cancel_flag(r->irp) && fx_request_disarm_cancel(r)) {
        RemoveEntryList(&r->link);
        q->pending_count--;
        r->cancel_fired = true;
        cancel_on_queue_locked(q, r);
    }
    q->rerun = true;
    return STATUS_SUCCESS;
}

void fx_queue_request_done_locked(fx_queue *q, fx_request *r)
{
    if (r->state == FX_REQ_OWNED) {
        RemoveEntryList(&r->link);
        InitializeListHead(&r->link);
        q->owned_count--;
    }
    r->stop = FX_STOP_NONE;
    q->rerun = true;
    assert_queue_state(q);
}

static void own_locked(fx_queue *q, fx_request *r)
{
    fx_request_set_state(r, FX_REQ_OWNED);
    InsertTailList(&q->owned, &r->link);
    q->owned_count++;
}

void fx_queue_own_locked(fx_queue *q, fx_request *r)
{
    r->queue = q;
    own_locked(q, r);
}

void fx_queue_cancel_fired(fx_request *r, KIRQL irql)
{
    fx_queue *q = r->queue;
    switch (r->state) {
    case FX_REQ_QUEUED:
        RemoveEntryList(&r->link);
        q->pending_count--;
        cancel_on_queue_locked(q, r);
        break;
    case FX_REQ_CANCELING:          /* a presenter took it off the queue and lost the race */
        if (!r->on_cancel_list)
            cancel_on_queue_locked(q, r);
        break;
    case FX_REQ_OWNED:
        if (r->driver_cancelable && !r->on_cancel_list) {
            RemoveEntryList(&r->link);
            InsertTailList(&q->cancelled, &r->link);
            r->on_cancel_list = true;
            q->rerun = true;
        }
        break;
    case FX_REQ_COMPLETING: {       /* the driver completed it while we were on our way */
        fx_request_set_state(r, FX_REQ_CANCELING);
        NTSTATUS status = r->status;
        ULONG_PTR info = r->information;
        fx_io_unlock(r->dev, irql);
        fx_request_finish(r, status, info);
        irql = fx_io_lock(q->dev);
        break;
    }
    default:
        break;
    }
    fx_queue_run(q, irql);
}

/* ---- the dispatch loop ------------------------------------------------------------------- */

static bool can_present(const fx_queue *q)
{
    if (q->max_presented == 0 || !q->dispatching || !queue_powered(q) || q->power_stopping ||
        q->power_purging || q->pending_count == 0)
        return false;
    return q->max_presented == (ULONG)-1 || q->owned_count < q->max_presented;
}

/* Call the handler for the request's type. Returns false if the queue has none. */
static bool invoke_handler(fx_queue *q, fx_request *r)
{
    WDFQUEUE qh = fx_queue_handle(q);
    WDFREQUEST rh = fx_request_handle(r);
    PIO_STACK_LOCATION sl = IoGetCurrentIrpStackLocation(r->irp);
    const WDF_IO_QUEUE_CONFIG *c = &q->config;
    switch (sl->MajorFunction) {
    case IRP_MJ_READ:
        if (c->EvtIoRead != NULL) {
            FX_CALLBACK_BEGIN("EvtIoRead", &q->obj);
            c->EvtIoRead(qh, rh, sl->Parameters.Read.Length);
            FX_CALLBACK_END("EvtIoRead", &q->obj);
            return true;
        }
        break;
    case IRP_MJ_WRITE:
        if (c->EvtIoWrite != NULL) {
            FX_CALLBACK_BEGIN("EvtIoWrite", &q->obj);
            c->EvtIoWrite(qh, rh, sl->Parameters.Write.Length);
            FX_CALLBACK_END("EvtIoWrite", &q->obj);
            return true;
        }
        break;
    case IRP_MJ_DEVICE_CONTROL:
        if (c->EvtIoDeviceControl != NULL) {
            FX_CALLBACK_BEGIN("EvtIoDeviceControl", &q->obj);
            c->EvtIoDeviceControl(qh, rh, sl->Parameters.DeviceIoControl.OutputBufferLength,
                                  sl->Parameters.DeviceIoControl.InputBufferLength,
                                  sl->Parameters.DeviceIoControl.IoControlCode);
            FX_CALLBACK_END("EvtIoDeviceControl", &q->obj);
            return true;
        }
        break;
    case IRP_MJ_INTERNAL_DEVICE_CONTROL:
        if (c->EvtIoInternalDeviceControl != NULL) {
            FX_CALLBACK_BEGIN("EvtIoInternalDeviceControl", &q->obj);
            c->EvtIoInternalDeviceControl(qh, rh,
                                          sl->Parameters.DeviceIoControl.OutputBufferLength,
                                          sl->Parameters.DeviceIoControl.InputBufferLength,
                                          sl->Parameters.DeviceIoControl.IoControlCode);
            FX_CALLBACK_END("EvtIoInternalDeviceControl", &q->obj);
            return true;
        }
        break;
    default:
        break;
    }
    if (c->EvtIoDefault == NULL)
        return false;
    FX_CALLBACK_BEGIN("EvtIoDefault", &q->obj);
    c->EvtIoDefault(qh, rh);
    FX_CALLBACK_END("EvtIoDefault", &q->obj);
    return true;
}

/* Each step takes one unit of work off the queue's lists, does it with the lock released
 * and returns with the lock held again (true), or finds nothing to do (false). */

static bool step_complete_cancelled(fx_queue *q, KIRQL *irql)
{
    if (IsListEmpty(&q->complete_cancelled))
        return false;
    fx_request *r = CONTAINING_RECORD(RemoveHeadList(&q->complete_cancelled), fx_request, link);
    r->on_cancel_list = false;
    fx_io_unlock(q->dev, *irql);
    fx_request_finish(r, STATUS_CANCELLED, 0);
    *irql = fx_io_lock(q->dev);
    return true;
}

static bool step_canceled_on_queue(fx_queue *q, KIRQL *irql)
{
    if (IsListEmpty(&q->cancelled_on_queue))
        return false;
    fx_request *r = CONTAINING_RECORD(RemoveHeadList(&q->cancelled_on_queue), fx_request, link);
    r->on_cancel_list = false;
    own_locked(q, r);
    r->presented = true;
    q->presenting++;
    fx_io_unlock(q->dev, *irql);
    fx_device_log(q->dev, "EvtIoCanceledOnQueue");
    fx_queue_present_lock(q);
    FX_CALLBACK_BEGIN("EvtIoCanceledOnQueue", &q->obj);
    q->config.EvtIoCanceledOnQueue(fx_queue_handle(q), fx_request_handle(r));
    FX_CALLBACK_END("EvtIoCanceledOnQueue", &q->obj);
    fx_queue_present_unlock(q);
    *irql = fx_io_lock(q->dev);
    q->presenting--;
    return true;
}

static bool step_request_cancel(fx_queue *q, KIRQL *irql)
{
    if (IsListEmpty(&q->cancelled))
        return false;
    fx_request *r = CONTAINING_RECORD(RemoveHeadList(&q->cancelled), fx_request, link);
    r->on_cancel_list = false;
    InsertTailList(&q->owned, &r->link);     /* still owned by the driver */
    r->driver_cancelable = false;
    r->cancel_called = true;
    PFN_WDF_REQUEST_CANCEL evt = r->evt_cancel;
    r->evt_cancel = NULL;
    q->presenting++;
    fx_io_unlock(q->dev, *irql);
    fx_device_log(q->dev, "EvtRequestCancel");
    fx_queue_present_lock(q);
    FX_CALLBACK_BEGIN("EvtRequestCancel", &r->obj);
    evt(fx_request_handle(r));
    FX_CALLBACK_END("EvtRequestCancel", &r->obj);
    fx_queue_present_unlock(q);
    *irql = fx_io_lock(q->dev);
    q->presenting--;
    return true;
}

/* Power stop or purge: EvtIoStop once for every driver-owned request not yet told. */
static bool step_power_notify(fx_queue *q, KIRQL *irql)
{
    if (!q->power_stopping && !q->power_purging)
        return false;
    for (PLIST_ENTRY e = q->owned.Flink; e != &q->owned; e = e->Flink) {
        fx_request *r = CONTAINING_RECORD(e, fx_request, link);
        if (r->stop != FX_STOP_NONE)
            continue;
        r->stop = FX_STOP_NOTIFIED;
        if (q->config.EvtIoStop == NULL || r->cancel_fired)
            continue;                 /* KMDF then waits for the driver to complete it */
        ULONG flags = q->power_purging ? WdfRequestStopActionPurge : WdfRequestStopActionSuspend;
        if (r->driver_cancelable)
            flags |= WdfRequestStopRequestCancelable;
        q->presenting++;
        fx_io_unlock(q->dev, *irql);
        fx_device_log(q->dev, q->power_purging ? "EvtIoStop(Purge)" : "EvtIoStop(Suspend)");
        fx_queue_present_lock(q);
        FX_CALLBACK_BEGIN("EvtIoStop", &q->obj);
        q->config.EvtIoStop(fx_queue_handle(q), fx_request_handle(r), flags);
        FX_CALLBACK_END("EvtIoStop", &q->obj);
        fx_queue_present_unlock(q);
        *irql = fx_io_lock(q->dev);
        q->presenting--;
        return true;
    }
    return false;
}

/* Power up: EvtIoResume for every request the driver acknowledged without requeueing. */
static bool step_power_resume(fx_queue *q, KIRQL *irql)
{
    if (!q->resume_pending)
        return false;
    for (PLIST_ENTRY e = q->owned.Flink; e != &q->owned; e = e->Flink) {
        fx_request *r = CONTAINING_RECORD(e, fx_request, link);
        if (r->stop == FX_STOP_NONE)
            continue;
        r->stop = FX_STOP_NONE;
        if (q->config.EvtIoResume == NULL || r->cancel_fired)
            continue;
        q->presenting++;
        fx_io_unlock(q->dev, *irql);
        fx_device_log(q->dev, "EvtIoResume");
        fx_queue_present_lock(q);
        FX_CALLBACK_BEGIN("EvtIoResume", &q->obj);
        q->config.EvtIoResume(fx_queue_handle(q), fx_request_handle(r));
        FX_CALLBACK_END("EvtIoResume", &q->obj);
        fx_queue_present_unlock(q);
        *irql = fx_io_lock(q->dev);
        q->presenting--;
        return true;
    }
    q->resume_pending = false;
    return false;
}

static bool step_present(fx_queue *q, KIRQL *irql)
{
    if (!can_present(q))
        return false;
    fx_request *r = CONTAINING_RECORD(RemoveHeadList(&q->pending), fx_request, link);
    q->pending_count--;
    if (!fx_request_disarm_cancel(r)) {
        /* IoCancelIrp owns it: its routine finds it CANCELING and cancels it. */
        fx_request_set_state(r, FX_REQ_CANCELING);
        return true;
    }
    own_locked(q, r);
    r->presented = true;
    q->presenting++;
    fx_io_unlock(q->dev, *irql);
    fx_queue_present_lock(q);
    bool handled = invoke_handler(q, r);
    fx_queue_present_unlock(q);
    if (!handled) {
        /* No handler for this request type and no EvtIoDefault: KMDF fails it. */
        *irql = fx_io_lock(q->dev);
        fx_queue_request_done_locked(q, r);
        fx_request_set_state(r, FX_REQ_CANCELING);
        fx_io_unlock(q->dev, *irql);
        fx_request_finish(r, STATUS_INVALID_DEVICE_REQUEST, 0);
    }
    *irql = fx_io_lock(q->dev);
    q->presenting--;
    return true;
}

/* Stop / drain / purge completion and ready notification callbacks. */
static bool step_state_callbacks(fx_queue *q, KIRQL *irql)
{
    PFN_WDF_IO_QUEUE_STATE cb = NULL;
    WDFCONTEXT ctx = NULL;
    const char *name = NULL;
    bool empty = q->pending_count == 0 && q->owned_count == 0 &&
                 IsListEmpty(&q->complete_cancelled) && IsListEmpty(&q->cancelled_on_queue);
    if (empty)
        q->cancel_dispatched = false;     /* KMDF: the driver owns nothing any more */
    if (q->stop_cb != NULL && !q->dispatching && q->owned_count == 0) {
        cb = q->stop_cb, ctx = q->stop_ctx, name = "EvtIoQueueStopComplete";
        q->stop_cb = NULL;
    } else if (q->purge_cb != NULL && !q->accepting && empty) {
        cb = q->purge_cb, ctx = q->purge_ctx, name = "EvtIoQueuePurgeComplete";
        q->purge_cb = NULL;
    } else if (q->drain_cb != NULL && !q->accepting && empty) {
        cb = q->drain_cb, ctx = q->drain_ctx, name = "EvtIoQueueDrainComplete";
        q->drain_cb = NULL;
    } else if (q->ready_cb != NULL && q->ready_armed && q->pending_count > 0 &&
               q->dispatching && queue_powered(q) && !q->power_stopping) {
        cb = q->ready_cb, ctx = q->ready_ctx, name = "EvtIoQueueReadyNotify";
        q->ready_armed = false;
    }
    if (cb == NULL)
        return false;
    q->presenting++;
    fx_io_unlock(q->dev, *irql);
    fx_queue_present_lock(q);
    FX_CALLBACK_BEGIN(name, &q->obj);
    cb(fx_queue_handle(q), ctx);
    FX_CALLBACK_END(name, &q->obj);
    fx_queue_present_unlock(q);
    *irql = fx_io_lock(q->dev);
    q->presenting--;
    return true;
}

void fx_queue_run(fx_queue *q, KIRQL irql)
{
    wdfdma_machine *m = mach_current();
    if (q->in_dispatch) {
        q->rerun = true;
        fx_io_unlock(q->dev, irql);
        mach_signal(m);
        return;
    }
    q->in_dispatch = true;
    do {
        q->rerun = false;
        while (step_complete_cancelled(q, &irql) || step_canceled_on_queue(q, &irql) ||
               step_request_cancel(q, &irql) || step_power_notify(q, &irql) ||
               step_power_resume(q, &irql) || step_present(q, &irql) ||
               step_state_callbacks(q, &irql))
            ;
    } while (q->rerun);
    q->in_dispatch = false;
    InterlockedIncrement(&q->dev->io_generation);
    assert_queue_state(q);
    fx_io_unlock(q->dev, irql);
    mach_signal(m);
}

/* ---- creation ----------------------------------------------------------------------------- */

static bool handler_registered(const WDF_IO_QUEUE_CONFIG *c, WDF_REQUEST_TYPE type)
{
    if (c->DispatchType == WdfIoQueueDispatchManual || c->EvtIoDefault != NULL)
        return true;
    switch (type) {
    case WdfRequestTypeRead: return c->EvtIoRead != NULL;
    case WdfRequestTypeWrite: return c->EvtIoWrite != NULL;
    case WdfRequestTypeDeviceControl: return c->EvtIoDeviceControl != NULL;
    case WdfRequestTypeDeviceControlInternal: return c->EvtIoInternalDeviceControl != NULL;
    default: return false;
    }
}

static NTSTATUS validate_config(const WDF_IO_QUEUE_CONFIG *c)
{
    if (c->Size != sizeof(WDF_IO_QUEUE_CONFIG))
        return STATUS_INFO_LENGTH_MISMATCH;
    if (c->DispatchType <= WdfIoQueueDispatchInvalid || c->DispatchType >= WdfIoQueueDispatchMax)
        return STATUS_INVALID_PARAMETER;
    if (c->PowerManaged != WdfUseDefault && c->PowerManaged != WdfTrue &&
        c->PowerManaged != WdfFalse)
        return STATUS_INVALID_PARAMETER;
    bool any = c->EvtIoDefault != NULL || c->EvtIoRead != NULL || c->EvtIoWrite != NULL ||
               c->EvtIoDeviceControl != NULL || c->EvtIoInternalDeviceControl != NULL;
    if (c->DispatchType == WdfIoQueueDispatchManual)
        return any || c->Settings.Parallel.NumberOfPresentedRequests != 0
                   ? STATUS_INVALID_PARAMETER : STATUS_SUCCESS;
    if (!any)
        return STATUS_WDF_NO_CALLBACK;
    if (c->DispatchType == WdfIoQueueDispatchSequential &&
        c->Settings.Parallel.NumberOfPresentedRequests != 0)
        return STATUS_INVALID_PARAMETER;
    if (c->DispatchType == WdfIoQueueDispatchParallel &&
        c->Settings.Parallel.NumberOfPresentedRequests == 0)
        return STATUS_INVALID_PARAMETER;
    return STATUS_SUCCESS;
}

static void queue_init(fx_queue *q, fx_device *dev, const WDF_IO_QUEUE_CONFIG *c)
{
    q->dev = dev;
    q->config = *c;
    /* WdfUseDefault: power-managed (this model has no filter drivers). */
    q->power_managed = c->PowerManaged != WdfFalse;
    q->max_presented = c->DispatchType == WdfIoQueueDispatchSequential ? 1
                       : c->DispatchType == WdfIoQueueDispatchParallel
                           ? c->Settings.Parallel.NumberOfPresentedRequests
                           : 0;
    InitializeListHead(&q->pending);
    InitializeListHead(&q->owned);
    InitializeListHead(&q->cancelled);
    InitializeListHead(&q->cancelled_on_queue);
    InitializeListHead(&q->complete_cancelled);
    q->accepting = true;
    q->dispatching = true;
    bool passive = q->obj.execution_level == WdfExecutionLevelPassive;
    fx_sync_lock_init(&q->own_lock, passive);
    switch (resolve_scope(q)) {
    case WdfSynchronizationScopeQueue:
        q->presentation = &q->own_lock;
        break;
    case WdfSynchronizationScopeDevice: {
        fx_sync_lock *l = fx_device_sync_lock(dev);
        q->presentation = l != NULL ? l : &q->own_lock;
        break;
    }
    default:
        q->presentation = NULL;
        break;
    }
}

NTSTATUS WdfIoQueueCreate(WDFDEVICE Device, PWDF_IO_QUEUE_CONFIG Config,
                          PWDF_OBJECT_ATTRIBUTES QueueAttributes, WDFQUEUE *Queue)
{
    static const char ddi[] = "WdfIoQueueCreate";
    fx_device *dev = fx_device_from_handle(Device, ddi);
    fx_check_required(Config, ddi, "Config");
    if (!fx_check_irql(DISPATCH_LEVEL, ddi))
        return STATUS_INVALID_DEVICE_REQUEST;
    if (Queue != NULL)
        *Queue = NULL;
    NTSTATUS status = validate_config(Config);
    if (!NT_SUCCESS(status)) {
        fx_verifier_break(ddi, "invalid WDF_IO_QUEUE_CONFIG (%#x)", (unsigned)status);
        return status;
    }
    fx_object *parent = &dev->obj;
    if (QueueAttributes != NULL && QueueAttributes->ParentObject != NULL) {
        fx_object *p = fx_resolve(QueueAttributes->ParentObject, FX_TYPE_NONE, ddi);
        if (fx_object_ancestor(p, FX_TYPE_DEVICE) != &dev->obj) {
            fx_verifier_break(ddi, "ParentObject must have this WDFDEVICE as an ancestor");
            return STATUS_INVALID_DEVICE_REQUEST;
        }
        parent = p;
    }
    KIRQL irql = fx_io_lock(dev);
    bool second_default = Config->DefaultQueue && dev->default_queue != NULL;
    fx_io_unlock(dev, irql);
    if (second_default) {
        fx_verifier_break(ddi, "the device already has a default queue");
        return STATUS_INVALID_DEVICE_REQUEST;
    }
    fx_object *o;
    status = fx_object_create(&queue_ops, sizeof(fx_queue), QueueAttributes, parent, true, &o);
    if (!NT_SUCCESS(status))
        return status;
    fx_queue *q = (fx_queue *)o;
    queue_init(q, dev, Config);
    irql = fx_io_lock(dev);
    if (dev->queues.Flink == NULL)
        InitializeListHead(&dev->queues);
    InsertTailList(&dev->queues, &q->dev_link);
    q->powered = dev->io_powered;
    if (dev->io_removed)
        q->accepting = false;
    if (Config->DefaultQueue) {
        dev->default_queue = q;
        /* Create / cleanup / close belong to the framework (KMDF FxPkgGeneral) unless
         * routed explicitly; PnP and power IRPs never reach a queue. */
        for (unsigned i = 0; i <= IRP_MJ_MAXIMUM_FUNCTION; i++)
            if (dev->dispatch[i] == NULL && i != IRP_MJ_CREATE && i != IRP_MJ_CLEANUP &&
                i != IRP_MJ_CLOSE && i != IRP_MJ_PNP && i != IRP_MJ_POWER)
                dev->dispatch[i] = q;
    }
    fx_io_unlock(dev, irql);
    if (Queue != NULL)
        *Queue = fx_queue_handle(q);
    return STATUS_SUCCESS;
}

WDFQUEUE WdfDeviceGetDefaultQueue(WDFDEVICE Device)
{
    fx_device *dev = fx_device_from_handle(Device, "WdfDeviceGetDefaultQueue");
    return dev->default_queue != NULL ? fx_queue_handle(dev->default_queue) : NULL;
}

NTSTATUS WdfDeviceConfigureRequestDispatching(WDFDEVICE Device, WDFQUEUE Queue,
                                              WDF_REQUEST_TYPE RequestType)
{
    static const char ddi[] = "WdfDeviceConfigureRequestDispatching";
    fx_device *dev = fx_device_from_handle(Device, ddi);
    fx_queue *q = fx_queue_from_handle(Queue, ddi);
    if (!fx_check_irql(DISPATCH_LEVEL, ddi))
        return STATUS_INVALID_DEVICE_REQUEST;
    if (RequestType != WdfRequestTypeCreate && RequestType != WdfRequestTypeRead &&
        RequestType != WdfRequestTypeWrite && RequestType != WdfRequestTypeDeviceControl &&
        RequestType != WdfRequestTypeDeviceControlInternal) {
        fx_verifier_break(ddi, "request type %d cannot be routed to a queue", RequestType);
        return STATUS_INVALID_PARAMETER;
    }
    if (q->dev != dev) {
        fx_verifier_break(ddi, "WDFQUEUE %p belongs to another device", (void *)Queue);
        return STATUS_INVALID_DEVICE_REQUEST;
    }
    if (!handler_registered(&q->config, RequestType)) {
        fx_verifier_break(ddi, "the queue has neither EvtIoDefault nor a handler for type %d",
                          RequestType);
        return STATUS_INVALID_DEVICE_REQUEST;
    }
    KIRQL irql = fx_io_lock(dev);
    NTSTATUS status = STATUS_SUCCESS;
    if (q == dev->default_queue)
        status = STATUS_INVALID_DEVICE_REQUEST;
    else if (dev->dispatch[RequestType] != NULL && dev->dispatch[RequestType] != dev->default_queue)
        status = STATUS_WDF_BUSY;
    else
        dev->dispatch[RequestType] = q;
    fx_io_unlock(dev, irql);
    if (!NT_SUCCESS(status))
        fx_verifier_break(ddi, "cannot route type %d to WDFQUEUE %p (%#x)", RequestType,
                          (void *)Queue, (unsigned)status);
    return status;
}

/* ---- queue DDIs ----------------------------------------------------------------------------- */

WDF_IO_QUEUE_STATE WdfIoQueueGetState(WDFQUEUE Queue, PULONG QueueRequests,
                                      PULONG DriverRequests)
{
    fx_check_irql(DISPATCH_LEVEL, "WdfIoQueueGetState");
    fx_queue *q = fx_queue_from_handle(Queue, "WdfIoQueueGetState");
    KIRQL irql = fx_io_lock(q->dev);
    ULONG s = 0;
    if (q->accepting)
        s |= WdfIoQueueAcceptRequests;
    if (q->dispatching)
        s |= WdfIoQueueDispatchRequests;
    if (q->pending_count == 0)
        s |= WdfIoQueueNoRequests;
    if (q->owned_count == 0)
        s |= WdfIoQueueDriverNoRequests;
    if (!queue_powered(q))
        s |= WdfIoQueuePnpHeld;
    if (QueueRequests != NULL)
        *QueueRequests = q->pending_count;
    if (DriverRequests != NULL)
        *DriverRequests = q->owned_count;
    fx_io_unlock(q->dev, irql);
    return (WDF_IO_QUEUE_STATE)s;
}

WDFDEVICE WdfIoQueueGetDevice(WDFQUEUE Queue)
{
    fx_check_irql(DISPATCH_LEVEL, "WdfIoQueueGetDevice");
    return (WDFDEVICE)fx_handle(&fx_queue_from_handle(Queue, "WdfIoQueueGetDevice")->dev->obj);
}

VOID WdfIoQueueStart(WDFQUEUE Queue)
{
    fx_check_irql(DISPATCH_LEVEL, "WdfIoQueueStart");
    fx_queue *q = fx_queue_from_handle(Queue, "WdfIoQueueStart");
    KIRQL irql = fx_io_lock(q->dev);
    if (!q->dev->io_removed && !q->deleted) {
        q->accepting = true;
        q->dispatching = true;
        q->cancel_dispatched = false;
        if (q->pending_count > 0)
            q->ready_armed = true;
    }
    fx_queue_run(q, irql);
}

/* Register a state callback: only one of each kind may be outstanding. */
static bool set_state_cb(PFN_WDF_IO_QUEUE_STATE *slot, WDFCONTEXT *ctx_slot,
                         PFN_WDF_IO_QUEUE_STATE cb, WDFCONTEXT ctx)
{
    if (cb == NULL)
        return true;
    if (*slot != NULL)
        return false;
    *slot = cb;
    *ctx_slot = ctx;
    return true;
}

VOID WdfIoQueueStop(WDFQUEUE Queue, PFN_WDF_IO_QUEUE_STATE StopComplete, WDFCONTEXT Context)
{
    static const char ddi[] = "WdfIoQueueStop";
    fx_check_irql(DISPATCH_LEVEL, ddi);
    fx_queue *q = fx_queue_from_handle(Queue, ddi);
    KIRQL irql = fx_io_lock(q->dev);
    if (!set_state_cb(&q->stop_cb, &q->stop_ctx, StopComplete, Context)) {
        fx_io_unlock(q->dev, irql);
        fx_verifier_break(ddi, "a StopComplete callback is already pending");
        return;
    }
    q->dispatching = false;
    fx_queue_run(q, irql);
}

/* Wait conditions for the synchronous variants (PASSIVE_LEVEL, machine wait). */
typedef struct queue_wait {
    fx_queue *q;
    enum { WAIT_STOPPED, WAIT_EMPTY } what;
} queue_wait;

static bool queue_wait_check(queue_wait *w)
{
    fx_queue *q = w->q;
    return !q->in_dispatch && q->presenting == 0 && q->owned_count == 0 &&
           (w->what == WAIT_STOPPED ||
            (q->pending_count == 0 && IsListEmpty(&q->complete_cancelled) &&
             IsListEmpty(&q->cancelled_on_queue)));
}

/* Evaluate a wait condition under the I/O lock. Releasing the lock lowers IRQL, which on
 * the sim engine runs pending DPCs, which may change the answer: re-evaluate until the
 * state did not move while the lock was being released. */
static bool io_wait_eval(fx_device *dev, bool (*check)(void *), void *ctx)
{
    for (;;) {
        KIRQL irql = fx_io_lock(dev);
        bool done = check(ctx);
        LONG gen = InterlockedCompareExchange(&dev->io_generation, 0, 0);
        fx_io_unlock(dev, irql);
        if (done || InterlockedCompareExchange(&dev->io_generation, 0, 0) == gen)
            return done;
    }
}

static bool queue_wait_check_cb(void *ctx)
{
    return queue_wait_check(ctx);
}

static bool queue_wait_done(void *ctx)
{
    return io_wait_eval(((queue_wait *)ctx)->q->dev, queue_wait_check_cb, ctx);
}

static void queue_wait_for(fx_queue *q, int what, const char *ddi)
{
    queue_wait w = {q, what};
    if (!mach_wait(mach_current(), queue_wait_done, &w, -1))
        mach_report(mach_current(), ddi, "WDFQUEUE %p: gave up waiting (no event can finish "
                    "the %u driver-owned requests)", (void *)fx_queue_handle(q), q->owned_count);
}

VOID WdfIoQueueStopSynchronously(WDFQUEUE Queue)
{
    static const char ddi[] = "WdfIoQueueStopSynchronously";
    fx_queue *q = fx_queue_from_handle(Queue, ddi);
    if (!fx_check_irql(PASSIVE_LEVEL, ddi))
        return;
    KIRQL irql = fx_io_lock(q->dev);
    q->dispatching = false;
    fx_queue_run(q, irql);
    queue_wait_for(q, WAIT_STOPPED, ddi);
}

NTSTATUS WdfIoQueueRetrieveNextRequest(WDFQUEUE Queue, WDFREQUEST *OutRequest)
{
    static const char ddi[] = "WdfIoQueueRetrieveNextRequest";
    fx_check_irql(DISPATCH_LEVEL, ddi);
    fx_queue *q = fx_queue_from_handle(Queue, ddi);
    fx_check_required(OutRequest, ddi, "OutRequest");
    *OutRequest = NULL;
    if (q->config.DispatchType == WdfIoQueueDispatchParallel) {
        fx_verifier_break(ddi, "WDFQUEUE %p dispatches in parallel", (void *)Queue);
        return STATUS_INVALID_DEVICE_REQUEST;
    }
    KIRQL irql = fx_io_lock(q->dev);
    for (;;) {
        if (!queue_powered(q) || q->power_stopping || q->power_purging) {
            fx_io_unlock(q->dev, irql);
            return STATUS_WDF_PAUSED;
        }
        if (q->pending_count == 0) {
            q->ready_armed = true;
            fx_io_unlock(q->dev, irql);
            return STATUS_NO_MORE_ENTRIES;
        }
        fx_request *r = CONTAINING_RECORD(RemoveHeadList(&q->pending), fx_request, link);
        q->pending_count--;
        if (!fx_request_disarm_cancel(r)) {
            fx_request_set_state(r, FX_REQ_CANCELING);   /* its cancel routine finishes it */
            continue;
        }
        own_locked(q, r);
        r->presented = true;
        if (q->pending_count == 0)
            q->ready_armed = true;
        fx_io_unlock(q->dev, irql);
        *OutRequest = fx_request_handle(r);
        return STATUS_SUCCESS;
    }
}

static void stop_accepting(fx_queue *q, bool purge)
{
    q->accepting = false;
    if (!purge)
        return;
    q->cancel_dispatched = true;
    while (!IsListEmpty(&q->pending)) {
        fx_request *r = CONTAINING_RECORD(RemoveHeadList(&q->pending), fx_request, link);
        q->pending_count--;
        if (fx_request_disarm_cancel(r))
            cancel_on_queue_locked(q, r);
        else
            fx_request_set_state(r, FX_REQ_CANCELING);   /* its cancel routine finishes it */
    }
    /* Driver-owned cancelable requests: EvtRequestCancel (KMDF CancelForDriver). */
    PLIST_ENTRY e = q->owned.Flink;
    while (e != &q->owned) {
        fx_request *r = CONTAINING_RECORD(e, fx_request, link);
        e = e->Flink;
        if (!r->driver_cancelable || r->on_cancel_list)
            continue;
        if (!fx_request_disarm_cancel(r))
            continue;                                     /* its routine is on the way */
        r->cancel_fired = true;
        RemoveEntryList(&r->link);
        InsertTailList(&q->cancelled, &r->link);
        r->on_cancel_list = true;
    }
    q->rerun = true;
}

VOID WdfIoQueuePurge(WDFQUEUE Queue, PFN_WDF_IO_QUEUE_STATE PurgeComplete, WDFCONTEXT Context)
{
    static const char ddi[] = "WdfIoQueuePurge";
    fx_check_irql(DISPATCH_LEVEL, ddi);
    fx_queue *q = fx_queue_from_handle(Queue, ddi);
    KIRQL irql = fx_io_lock(q->dev);
    if (!set_state_cb(&q->purge_cb, &q->purge_ctx, PurgeComplete, Context)) {
        fx_io_unlock(q->dev, irql);
        fx_verifier_break(ddi, "a PurgeComplete callback is already pending");
        return;
    }
    stop_accepting(q, true);
    fx_queue_run(q, irql);
}

VOID WdfIoQueuePurgeSynchronously(WDFQUEUE Queue)
{
    static const char ddi[] = "WdfIoQueuePurgeSynchronously";
    fx_queue *q = fx_queue_from_handle(Queue, ddi);
    if (!fx_check_irql(PASSIVE_LEVEL, ddi))
        return;
    KIRQL irql = fx_io_lock(q->dev);
    stop_accepting(q, true);
    fx_queue_run(q, irql);
    queue_wait_for(q, WAIT_EMPTY, ddi);
}

VOID WdfIoQueueDrain(WDFQUEUE Queue, PFN_WDF_IO_QUEUE_STATE DrainComplete, WDFCONTEXT Context)
{
    static const char ddi[] = "WdfIoQueueDrain";
    fx_check_irql(DISPATCH_LEVEL, ddi);
    fx_queue *q = fx_queue_from_handle(Queue, ddi);
    KIRQL irql = fx_io_lock(q->dev);
    if (!set_state_cb(&q->drain_cb, &q->drain_ctx, DrainComplete, Context)) {
        fx_io_unlock(q->dev, irql);
        fx_verifier_break(ddi, "a DrainComplete callback is already pending");
        return;
    }
    stop_accepting(q, false);
    q->rerun = true;
    fx_queue_run(q, irql);
}

VOID WdfIoQueueDrainSynchronously(WDFQUEUE Queue)
{
    static const char ddi[] = "WdfIoQueueDrainSynchronously";
    fx_queue *q = fx_queue_from_handle(Queue, ddi);
    if (!fx_check_irql(PASSIVE_LEVEL, ddi))
        return;
    KIRQL irql = fx_io_lock(q->dev);
    stop_accepting(q, false);
    fx_queue_run(q, irql);
    queue_wait_for(q, WAIT_EMPTY, ddi);
}

NTSTATUS WdfIoQueueReadyNotify(WDFQUEUE Queue, PFN_WDF_IO_QUEUE_STATE QueueReady,
                               WDFCONTEXT Context)
{
    static const char ddi[] = "WdfIoQueueReadyNotify";
    fx_check_irql(DISPATCH_LEVEL, ddi);
    fx_queue *q = fx_queue_from_handle(Queue, ddi);
    if (q->config.DispatchType != WdfIoQueueDispatchManual) {
        fx_verifier_break(ddi, "WDFQUEUE %p is not a manual queue", (void *)Queue);
        return STATUS_INVALID_DEVICE_REQUEST;
    }
    KIRQL irql = fx_io_lock(q->dev);
    if (QueueReady == NULL) {
        q->ready_cb = NULL;
        q->ready_ctx = NULL;
        fx_io_unlock(q->dev, irql);
        return STATUS_SUCCESS;
    }
    if (q->ready_cb != NULL) {
        fx_io_unlock(q->dev, irql);
        return STATUS_INVALID_DEVICE_STATE;
    }
    q->ready_cb = QueueReady;
    q->ready_ctx = Context;
    q->ready_armed = q->pending_count > 0;
    fx_queue_run(q, irql);
    return STATUS_SUCCESS;
}

/* ---- PnP/power (called by devicepnp.c at PASSIVE_LEVEL) ----------------------------------- */

/* Snapshot the device's queues (they do not change while PnP runs). */
static unsigned device_queues(fx_device *dev, fx_queue **out, unsigned max)
{
    unsigned n = 0;
    KIRQL irql = fx_io_lock(dev);
    if (dev->queues.Flink == NULL)
        InitializeListHead(&dev->queues);
    for (PLIST_ENTRY e = dev->queues.Flink; e != &dev->queues && n < max; e = e->Flink)
        out[n++] = CONTAINING_RECORD(e, fx_queue, dev_link);
    fx_io_unlock(dev, irql);
    return n;
}

#define MAX_QUEUES 64

void fx_io_power_up(fx_device *dev)
{
    fx_queue *qs[MAX_QUEUES];
    unsigned n = device_queues(dev, qs, MAX_QUEUES);
    KIRQL irql = fx_io_lock(dev);
    dev->io_powered = true;
    fx_io_unlock(dev, irql);
    for (unsigned i = 0; i < n; i++) {
        fx_queue *q = qs[i];
        irql = fx_io_lock(dev);
        if (q->power_managed) {
            q->powered = true;
            q->power_stopping = false;
            q->resume_pending = true;
            if (q->pending_count > 0)
                q->ready_armed = true;
        }
        fx_queue_run(q, irql);
    }
}

typedef struct power_wait {
    fx_device *dev;
    fx_queue **qs;
    unsigned n;
    bool purge;
} power_wait;

/* Stop: every owned request completed or acknowledged; purge: every request gone. */
static bool power_wait_check(void *ctx)
{
    power_wait *w = ctx;
    for (unsigned i = 0; i < w->n; i++) {
        fx_queue *q = w->qs[i];
        if (!w->purge && !q->power_managed)
            continue;
        if (q->in_dispatch || q->presenting != 0)
            return false;
        if (w->purge) {
            if (q->owned_count != 0 || q->pending_count != 0 ||
                !IsListEmpty(&q->complete_cancelled) || !IsListEmpty(&q->cancelled_on_queue))
                return false;
            continue;
        }
        for (PLIST_ENTRY e = q->owned.Flink; e != &q->owned; e = e->Flink)
            if (CONTAINING_RECORD(e, fx_request, link)->stop != FX_STOP_ACKED)
                return false;
    }
    return true;
}

static bool power_wait_done(void *ctx)
{
    return io_wait_eval(((power_wait *)ctx)->dev, power_wait_check, ctx);
}

static void power_wait_for(fx_device *dev, fx_queue **qs, unsigned n, bool purge)
{
    power_wait w = {dev, qs, n, purge};
    if (!fx_check_irql(PASSIVE_LEVEL, purge ? "fx_io_purge" : "fx_io_power_down"))
        return;
    if (!mach_wait(mach_current(), power_wait_done, &w, -1))
        mach_report(mach_current(), "WDFQUEUE", "%s: the driver never completed or "
                    "acknowledged its in-flight requests", purge ? "purge" : "power down");
}

void fx_io_power_down(fx_device *dev)
{
    fx_queue *qs[MAX_QUEUES];
    unsigned n = device_queues(dev, qs, MAX_QUEUES);
    KIRQL irql = fx_io_lock(dev);
    dev->io_powered = false;
    fx_io_unlock(dev, irql);
    for (unsigned i = 0; i < n; i++) {
        fx_queue *q = qs[i];
        irql = fx_io_lock(dev);
        if (q->power_managed) {
            q->powered = false;
            q->power_stopping = true;
            q->resume_pending = false;
            q->rerun = true;
        }
        fx_queue_run(q, irql);
    }
    power_wait_for(dev, qs, n, false);
    irql = fx_io_lock(dev);
    for (unsigned i = 0; i < n; i++)
        qs[i]->power_stopping = false;
    fx_io_unlock(dev, irql);
}

void fx_io_purge(fx_device *dev)
{
    fx_queue *qs[MAX_QUEUES];
    unsigned n = device_queues(dev, qs, MAX_QUEUES);
    KIRQL irql = fx_io_lock(dev);
    dev->io_removed = true;
    fx_io_unlock(dev, irql);
    for (unsigned i = 0; i < n; i++) {
        fx_queue *q = qs[i];
        irql = fx_io_lock(dev);
        stop_accepting(q, true);
        /* Requests acknowledged at power-down are told again, now to finish (KMDF clears
         * the power-stop state before EvtIoStop(Purge)). */
        for (PLIST_ENTRY e = q->owned.Flink; e != &q->owned; e = e->Flink)
            CONTAINING_RECORD(e, fx_request, link)->stop = FX_STOP_NONE;
        /* Power-managed queues tell the driver with EvtIoStop(Purge); others only cancel
         * what is cancelable (KMDF FxIoStopProcessingForPowerPurge{Managed,NonManaged}). */
        q->power_purging = q->power_managed;
        fx_queue_run(q, irql);
    }
    power_wait_for(dev, qs, n, true);
    irql = fx_io_lock(dev);
    for (unsigned i = 0; i < n; i++)
        qs[i]->power_purging = false;
    fx_io_unlock(dev, irql);
}
