/*
 * WDFTIMER (wdftimer.h) on a kernel KTIMER and KDPC.
 *
 *   idle ──WdfTimerStart──> armed ──expiry: KDPC──> EvtTimerFunc at DISPATCH (or, for a
 *    ^                        │                     passive-level timer, from a PASSIVE
 *    └─────WdfTimerStop───────┘                     work item) ──periodic──> armed
 *
 * A timer needs a parent that is (or descends from) a device or a queue, like KMDF's
 * _SearchForDevice (else STATUS_INVALID_DEVICE_REQUEST). A passive-level timer is one whose
 * attributes say WdfExecutionLevelPassive explicitly; it cannot be periodic
 * (STATUS_NOT_SUPPORTED). AutomaticSerialization takes the device's callback lock when the
 * device's synchronization scope is Device or Queue.
 *
 * WdfTimerStop(Wait = TRUE) returns after a running EvtTimerFunc has finished. Calling it
 * from the timer's own callback would wait for itself: the verifier reports it and the
 * call does not wait.
 */
#include "fx/device.h"
#include "fx/internal.h"

#define NS_PER_MS 1000000ll

typedef struct fx_timer {
    fx_object obj;
    KTIMER timer;
    KDPC dpc;
    WDF_TIMER_CONFIG config;
    bool passive;
    fx_sync_lock *callback_lock;
    mach_work work;                /* passive-level timers */
    volatile LONG work_pending;
    volatile LONG running;         /* EvtTimerFunc in progress */
} fx_timer;

static _Thread_local fx_timer *current_timer MACH_TLS_FAST; /* the timer whose callback runs here */

static fx_timer *from_handle(WDFTIMER h, const char *ddi)
{
    return FX_FROM_OBJ(fx_resolve(h, FX_TYPE_TIMER, ddi), fx_timer);
}

static fx_device *device_of(fx_object *o)
{
    fx_object *d = fx_object_ancestor(o, FX_TYPE_DEVICE);
    return d ? FX_FROM_OBJ(d, fx_device) : NULL;
}

static void run_callback(fx_timer *t)
{
    fx_device *dev = device_of(&t->obj);
    __atomic_store_n(&t->running, 1, __ATOMIC_RELEASE);
    if (t->callback_lock)
        fx_sync_lock_acquire(t->callback_lock);
    fx_timer *outer = current_timer;
    current_timer = t;
    fx_driver *prev = fx_device_callback_begin(dev, "EvtTimerFunc", NULL);
    t->config.EvtTimerFunc((WDFTIMER)fx_handle(&t->obj));
    fx_device_callback_end(dev, "EvtTimerFunc", prev);
    current_timer = outer;
    if (t->callback_lock)
        fx_sync_lock_release(t->callback_lock);
    __atomic_store_n(&t->running, 0, __ATOMIC_RELEASE);
    mach_signal(t->obj.machine);
}

static void work_routine(mach_work *w)
{
    fx_timer *t = CONTAINING_RECORD(w, fx_timer, work);
    run_callback(t);
    __atomic_store_n(&t->work_pending, 0, __ATOMIC_RELEASE);
    mach_signal(t->obj.machine);
}

static VOID dpc_routine(PKDPC dpc, PVOID context, PVOID a1, PVOID a2)
{
    (void)dpc;
    (void)a1;
    (void)a2;
    fx_timer *t = context;
    if (!t->passive) {
        run_callback(t);
        return;
    }
    LONG expect = 0;
    if (__atomic_compare_exchange_n(&t->work_pending, &expect, 1, false, __ATOMIC_ACQ_REL,
                                    __ATOMIC_ACQUIRE))
        mach_work_queue(t->obj.machine, &t->work);
}

static bool quiet(void *ctx)
{
    fx_timer *t = ctx;
    return __atomic_load_n(&t->running, __ATOMIC_ACQUIRE) == 0 &&
           __atomic_load_n(&t->work_pending, __ATOMIC_ACQUIRE) == 0;
}

/* Cancel, then (at PASSIVE, not from its own callback) wait for callbacks in flight. */
static BOOLEAN timer_stop(fx_timer *t, bool wait)
{
    BOOLEAN was_queued = KeCancelTimer(&t->timer);
    if (KeRemoveQueueDpc(&t->dpc))
        was_queued = TRUE;
    if (wait && current_timer != t && mach_irql() == PASSIVE_LEVEL) {
        KeFlushQueuedDpcs();
        mach_wait(t->obj.machine, quiet, t, -1);
    }
    return was_queued;
}

static void timer_dispose(fx_object *o)
{
    fx_timer *t = FX_FROM_OBJ(o, fx_timer);
    (void)timer_stop(t, true);
}

static const fx_object_ops timer_ops = {
    .type = FX_TYPE_TIMER,
    .name = "WDFTIMER",
    .dispose = timer_dispose,
    .driver_deletable = true,
};

static NTSTATUS validate(PWDF_TIMER_CONFIG c, PWDF_OBJECT_ATTRIBUTES a)
{
    if (a == NULL || a->ParentObject == NULL)
        return STATUS_WDF_PARENT_NOT_SPECIFIED;
    if (c->Size != sizeof(WDF_TIMER_CONFIG))
        return STATUS_INFO_LENGTH_MISMATCH;
    if (c->Period > 0x7FFFFFFFu || (c->TolerableDelay > 0 && c->UseHighResolutionTimer))
        return STATUS_INVALID_PARAMETER;
    if (c->EvtTimerFunc == NULL)
        return STATUS_INVALID_PARAMETER;
    if (c->Period > 0 && a->ExecutionLevel == WdfExecutionLevelPassive)
        return STATUS_NOT_SUPPORTED;
    return STATUS_SUCCESS;
}

static NTSTATUS pick_lock(fx_timer *t, fx_device *dev)
{
    fx_sync_lock *l = t->config.AutomaticSerialization ? fx_device_sync_lock(dev) : NULL;
    if (l == NULL)
        return STATUS_SUCCESS;
    if (l->passive != t->passive) {
        fx_verifier_break("WdfTimerCreate", "AutomaticSerialization with a %s-level parent "
                          "and a %s-level timer", l->passive ? "passive" : "dispatch",
                          t->passive ? "passive" : "dispatch");
        return STATUS_WDF_INCOMPATIBLE_EXECUTION_LEVEL;
    }
    t->callback_lock = l;
    return STATUS_SUCCESS;
}

NTSTATUS WdfTimerCreate(PWDF_TIMER_CONFIG Config, PWDF_OBJECT_ATTRIBUTES Attributes,
                        WDFTIMER *Timer)
{
    fx_check_required(Config, "WdfTimerCreate", "Config");
    fx_check_required(Timer, "WdfTimerCreate", "Timer");
    if (!fx_check_irql(DISPATCH_LEVEL, "WdfTimerCreate"))
        return STATUS_INVALID_DEVICE_REQUEST;
    *Timer = NULL;
    NTSTATUS status = validate(Config, Attributes);
    if (!NT_SUCCESS(status))
        return status;
    fx_object *parent = fx_resolve(Attributes->ParentObject, FX_TYPE_NONE, "WdfTimerCreate");
    fx_device *dev = device_of(parent);
    if (dev == NULL)
        return STATUS_INVALID_DEVICE_REQUEST;
    fx_object *o;
    status = fx_object_create(&timer_ops, sizeof(fx_timer), Attributes, NULL, true, &o);
    if (!NT_SUCCESS(status))
        return status;
    fx_timer *t = FX_FROM_OBJ(o, fx_timer);
    t->config = *Config;
    t->passive = Attributes->ExecutionLevel == WdfExecutionLevelPassive;
    KeInitializeTimerEx(&t->timer, NotificationTimer);
    KeInitializeDpc(&t->dpc, dpc_routine, t);
    t->work.fn = work_routine;
    status = pick_lock(t, dev);
    if (!NT_SUCCESS(status)) {
        fx_object_delete(o);
        return status;
    }
    *Timer = (WDFTIMER)fx_handle(o);
    return STATUS_SUCCESS;
}

BOOLEAN WdfTimerStart(WDFTIMER Timer, LONGLONG DueTime)
{
    fx_timer *t = from_handle(Timer, "WdfTimerStart");
    if (!fx_check_irql(DISPATCH_LEVEL, "WdfTimerStart"))
        return FALSE;
    if (!fx_object_is_live(&t->obj))
        return FALSE;
    LARGE_INTEGER due = { .QuadPart = DueTime };
    return KeSetTimerEx(&t->timer, due, (LONG)t->config.Period, &t->dpc);
}

BOOLEAN WdfTimerStop(WDFTIMER Timer, BOOLEAN Wait)
{
    fx_timer *t = from_handle(Timer, "WdfTimerStop");
    if (!fx_check_irql(Wait ? PASSIVE_LEVEL : DISPATCH_LEVEL, "WdfTimerStop"))
        return FALSE;
    if (Wait && current_timer == t)
        fx_verifier_break("WdfTimerStop", "Wait = TRUE from the timer's own EvtTimerFunc "
                          "would wait for itself; not waiting");
    return timer_stop(t, Wait != FALSE);
}

WDFOBJECT WdfTimerGetParentObject(WDFTIMER Timer)
{
    fx_timer *t = from_handle(Timer, "WdfTimerGetParentObject");
    return fx_handle(t->obj.parent);
}
