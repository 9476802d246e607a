/*
 * Framework locks (wdfsync.h): WDFSPINLOCK, WDFWAITLOCK, WdfObjectAcquireLock, and the
 * callback lock objects use for synchronization scope Device (fx_sync_lock).
 *
 * WDFSPINLOCK: acquire raises to DISPATCH_LEVEL (or, when the lock is an interrupt's
 * WDF_INTERRUPT_CONFIG.SpinLock, to that interrupt's DIRQL, as KMDF does so the ISR cannot
 * preempt the holder) and remembers the IRQL to return to in the object. Taking it twice
 * on one thread is bug check 0x10D WDF_RECURSIVE_LOCK; releasing it when not held is
 * 0x10D WDF_INVALID_LOCK_OPERATION.
 *
 * WDFWAITLOCK: an auto-reset event that is signalled while the lock is free. A NULL
 * timeout waits forever (PASSIVE), a zero timeout polls (<= DISPATCH), other timeouts wait
 * at PASSIVE and return STATUS_TIMEOUT.
 */
#include "fx/device.h"
#include "fx/internal.h"

#define SYNC_POOL_TAG 'cySF'

typedef struct fx_spinlock {
    fx_object obj;
    KSPIN_LOCK lock;
    KIRQL old_irql;
    KIRQL irql;                /* what acquire raises to */
} fx_spinlock;

typedef struct fx_waitlock {
    fx_object obj;
    KEVENT event;              /* signalled = free */
} fx_waitlock;

/* ---- callback locks ------------------------------------------------------------------ */
void fx_sync_lock_init(fx_sync_lock *l, bool passive)
{
    l->passive = passive;
    KeInitializeSpinLock(&l->spin);
    KeInitializeEvent(&l->event, SynchronizationEvent, TRUE);
}

void fx_sync_lock_acquire(fx_sync_lock *l)
{
    if (l->passive) {
        KeWaitForSingleObject(&l->event, Executive, KernelMode, FALSE, NULL);
        return;
    }
    KIRQL old;
    KeAcquireSpinLock(&l->spin, &old);
    l->old_irql = old;
}

void fx_sync_lock_release(fx_sync_lock *l)
{
    if (l->passive) {
        KeSetEvent(&l->event, IO_NO_INCREMENT, FALSE);
        return;
    }
    KeReleaseSpinLock(&l->spin, l->old_irql);
}

/* ---- WDFSPINLOCK --------------------------------------------------------------------- */
static const fx_object_ops spinlock_ops = {
    .type = FX_TYPE_SPINLOCK,
    .name = "WDFSPINLOCK",
    .driver_deletable = true,
};

volatile uintptr_t *fx_spinlock_word(WDFSPINLOCK h, const char *ddi)
{
    fx_spinlock *s = FX_FROM_OBJ(fx_resolve(h, FX_TYPE_SPINLOCK, ddi), fx_spinlock);
    return &s->lock;
}

void fx_spinlock_raise_irql(WDFSPINLOCK h, KIRQL irql)
{
    fx_spinlock *s = FX_FROM_OBJ(fx_resolve(h, FX_TYPE_SPINLOCK, "WdfInterruptCreate"), fx_spinlock);
    if (irql > s->irql)
        s->irql = irql;
}

NTSTATUS WdfSpinLockCreate(PWDF_OBJECT_ATTRIBUTES SpinLockAttributes, WDFSPINLOCK *SpinLock)
{
    fx_check_required(SpinLock, "WdfSpinLockCreate", "SpinLock");
    if (!fx_check_irql(DISPATCH_LEVEL, "WdfSpinLockCreate"))
        return STATUS_INVALID_DEVICE_REQUEST;
    *SpinLock = NULL;
    fx_driver *drv = fx_driver_current();
    fx_object *o;
    NTSTATUS status = fx_object_create(&spinlock_ops, sizeof(fx_spinlock), SpinLockAttributes,
                                       drv ? &drv->obj : NULL, true, &o);
    if (!NT_SUCCESS(status))
        return status;
    fx_spinlock *s = FX_FROM_OBJ(o, fx_spinlock);
    KeInitializeSpinLock(&s->lock);
    s->irql = DISPATCH_LEVEL;
    *SpinLock = (WDFSPINLOCK)fx_handle(o);
    return STATUS_SUCCESS;
}

VOID WdfSpinLockAcquire(WDFSPINLOCK SpinLock)
{
    fx_spinlock *s = FX_FROM_OBJ(fx_resolve(SpinLock, FX_TYPE_SPINLOCK, "WdfSpinLockAcquire"),
                                 fx_spinlock);
    if (mach_spin_held_by_me(&s->lock))
        fx_bugcheck(WDF_RECURSIVE_LOCK, (ULONG_PTR)SpinLock, 0, 0,
                    "WdfSpinLockAcquire: WDFSPINLOCK %p is already held by this thread",
                    (void *)SpinLock);
    uint8_t irql = mach_irql();
    if (irql > s->irql)
        fx_bugcheck(WDF_VERIFIER_IRQL_MISMATCH, (ULONG_PTR)SpinLock, irql, s->irql,
                    "WdfSpinLockAcquire at IRQL %u, above the lock's IRQL %u", irql, s->irql);
    if (irql < DISPATCH_LEVEL)
        mach_preempt_point();
    KIRQL old = mach_irql_raise(s->irql);
    mach_spin_acquire(&s->lock);
    s->old_irql = old;
}

VOID WdfSpinLockRelease(WDFSPINLOCK SpinLock)
{
    fx_spinlock *s = FX_FROM_OBJ(fx_resolve(SpinLock, FX_TYPE_SPINLOCK, "WdfSpinLockRelease"),
                                 fx_spinlock);
    if (!mach_spin_held_by_me(&s->lock))
        fx_bugcheck(WDF_INVALID_LOCK_OPERATION, (ULONG_PTR)SpinLock, 0, 0,
                    "WdfSpinLockRelease: WDFSPINLOCK %p is not held by this thread",
                    (void *)SpinLock);
    KIRQL old = s->old_irql;
    mach_spin_release(&s->lock);
    mach_irql_lower(old);
}

/* ---- WDFWAITLOCK --------------------------------------------------------------------- */
static const fx_object_ops waitlock_ops = {
    .type = FX_TYPE_WAITLOCK,
    .name = "WDFWAITLOCK",
    .driver_deletable = true,
};

NTSTATUS WdfWaitLockCreate(PWDF_OBJECT_ATTRIBUTES LockAttributes, WDFWAITLOCK *Lock)
{
    fx_check_required(Lock, "WdfWaitLockCreate", "Lock");
    if (!fx_check_irql(DISPATCH_LEVEL, "WdfWaitLockCreate"))
        return STATUS_INVALID_DEVICE_REQUEST;
    *Lock = NULL;
    fx_driver *drv = fx_driver_current();
    fx_object *o;
    NTSTATUS status = fx_object_create(&waitlock_ops, sizeof(fx_waitlock), LockAttributes,
                                       drv ? &drv->obj : NULL, true, &o);
    if (!NT_SUCCESS(status))
        return status;
    KeInitializeEvent(&FX_FROM_OBJ(o, fx_waitlock)->event, SynchronizationEvent, TRUE);
    *Lock = (WDFWAITLOCK)fx_handle(o);
    return STATUS_SUCCESS;
}

NTSTATUS WdfWaitLockAcquire(WDFWAITLOCK Lock, PLONGLONG Timeout)
{
    fx_waitlock *w = FX_FROM_OBJ(fx_resolve(Lock, FX_TYPE_WAITLOCK, "WdfWaitLockAcquire"),
                                 fx_waitlock);
    bool poll = Timeout != NULL && *Timeout == 0;
    if (!fx_check_irql(poll ? DISPATCH_LEVEL : PASSIVE_LEVEL, "WdfWaitLockAcquire"))
        return STATUS_INVALID_DEVICE_REQUEST;
    LARGE_INTEGER t;
    if (Timeout != NULL)
        t.QuadPart = *Timeout;
    NTSTATUS status = KeWaitForSingleObject(&w->event, Executive, KernelMode, FALSE,
                                            Timeout ? &t : NULL);
    return status == STATUS_SUCCESS ? STATUS_SUCCESS : STATUS_TIMEOUT;
}

VOID WdfWaitLockRelease(WDFWAITLOCK Lock)
{
    fx_waitlock *w = FX_FROM_OBJ(fx_resolve(Lock, FX_TYPE_WAITLOCK, "WdfWaitLockRelease"),
                                 fx_waitlock);
    if (!fx_check_irql(DISPATCH_LEVEL, "WdfWaitLockRelease"))
        return;
    if (KeReadStateEvent(&w->event) != 0)
        fx_bugcheck(WDF_INVALID_LOCK_OPERATION, (ULONG_PTR)Lock, 0, 0,
                    "WdfWaitLockRelease: WDFWAITLOCK %p is not held", (void *)Lock);
    KeSetEvent(&w->event, IO_NO_INCREMENT, FALSE);
}

/* ---- WdfObjectAcquireLock ------------------------------------------------------------ */
VOID WdfObjectAcquireLock(WDFOBJECT Object)
{
    fx_object *o = fx_resolve(Object, FX_TYPE_NONE, "WdfObjectAcquireLock");
    if (o->ops->lock == NULL) {
        fx_verifier_break("WdfObjectAcquireLock", "%s %p has no callback lock", o->ops->name,
                          Object);
        return;
    }
    o->ops->lock(o);
}

VOID WdfObjectReleaseLock(WDFOBJECT Object)
{
    fx_object *o = fx_resolve(Object, FX_TYPE_NONE, "WdfObjectReleaseLock");
    if (o->ops->unlock == NULL) {
        fx_verifier_break("WdfObjectReleaseLock", "%s %p has no callback lock", o->ops->name,
                          Object);
        return;
    }
    o->ops->unlock(o);
}
