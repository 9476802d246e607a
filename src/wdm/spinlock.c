/*
 * Executive spin locks. The kernel raises IRQL, the machine owns the lock word
 * (mach_spin_*: acquiring a lock this thread holds is bug check 0xF, releasing one it does
 * not hold 0x10).
 *
 *   KeAcquireSpinLock      (<= DISPATCH)  raise to DISPATCH, then take the lock
 *   KeReleaseSpinLock      (== DISPATCH)  drop the lock, then lower to the saved IRQL
 *   ...AtDpcLevel / ...FromDpcLevel (>= DISPATCH) lock only, IRQL unchanged
 *
 * An acquire from below DISPATCH_LEVEL is a DDI boundary: on the sim engine pending
 * interrupts and DPCs may run there first (by the seed), which is how races are explored.
 */
#include "wdm/wdm_internal.h"

VOID KeInitializeSpinLock(PKSPIN_LOCK SpinLock)
{
    *SpinLock = 0;
}

KIRQL KeAcquireSpinLockRaiseToDpc(PKSPIN_LOCK SpinLock)
{
    wdm_check_irql_max(DISPATCH_LEVEL, "KeAcquireSpinLock");
    if (mach_irql() < DISPATCH_LEVEL)
        mach_preempt_point();
    KIRQL old = mach_irql_raise(DISPATCH_LEVEL);
    mach_spin_acquire(SpinLock);
    return old;
}

VOID KeReleaseSpinLock(PKSPIN_LOCK SpinLock, KIRQL NewIrql)
{
    wdm_check_irql_min(DISPATCH_LEVEL, "KeReleaseSpinLock");
    mach_spin_release(SpinLock);
    mach_irql_lower(NewIrql);
}

VOID KeAcquireSpinLockAtDpcLevel(PKSPIN_LOCK SpinLock)
{
    wdm_check_irql_min(DISPATCH_LEVEL, "KeAcquireSpinLockAtDpcLevel");
    mach_spin_acquire(SpinLock);
}

VOID KeReleaseSpinLockFromDpcLevel(PKSPIN_LOCK SpinLock)
{
    wdm_check_irql_min(DISPATCH_LEVEL, "KeReleaseSpinLockFromDpcLevel");
    mach_spin_release(SpinLock);
}

BOOLEAN KeTryToAcquireSpinLockAtDpcLevel(PKSPIN_LOCK SpinLock)
{
    wdm_check_irql_min(DISPATCH_LEVEL, "KeTryToAcquireSpinLockAtDpcLevel");
    return mach_spin_try(SpinLock) ? TRUE : FALSE;
}

/* TRUE if the lock looks free (a hint only: it may be taken the next instant). */
BOOLEAN KeTestSpinLock(PKSPIN_LOCK SpinLock)
{
    return __atomic_load_n(SpinLock, __ATOMIC_RELAXED) == 0 ? TRUE : FALSE;
}

KIRQL KeAcquireSpinLockForDpc(PKSPIN_LOCK SpinLock)
{
    wdm_check_irql_max(DISPATCH_LEVEL, "KeAcquireSpinLockForDpc");
    if (mach_irql() < DISPATCH_LEVEL)
        return KeAcquireSpinLockRaiseToDpc(SpinLock);
    mach_spin_acquire(SpinLock);
    return DISPATCH_LEVEL;
}

VOID KeReleaseSpinLockForDpc(PKSPIN_LOCK SpinLock, KIRQL OldIrql)
{
    KeReleaseSpinLock(SpinLock, OldIrql);
}

/* Queued spin locks: the lock handle records the lock and the IRQL to return to. The
 * machine's lock is fair enough for a model, so the queue itself is not built. */
VOID KeAcquireInStackQueuedSpinLock(PKSPIN_LOCK SpinLock, PKLOCK_QUEUE_HANDLE LockHandle)
{
    LockHandle->LockQueue.Next = NULL;
    LockHandle->LockQueue.Lock = SpinLock;
    LockHandle->OldIrql = KeAcquireSpinLockRaiseToDpc(SpinLock);
}

VOID KeReleaseInStackQueuedSpinLock(PKLOCK_QUEUE_HANDLE LockHandle)
{
    KeReleaseSpinLock(LockHandle->LockQueue.Lock, LockHandle->OldIrql);
}

VOID KeAcquireInStackQueuedSpinLockAtDpcLevel(PKSPIN_LOCK SpinLock,
                                              PKLOCK_QUEUE_HANDLE LockHandle)
{
    LockHandle->LockQueue.Next = NULL;
    LockHandle->LockQueue.Lock = SpinLock;
    LockHandle->OldIrql = DISPATCH_LEVEL;
    KeAcquireSpinLockAtDpcLevel(SpinLock);
}

VOID KeReleaseInStackQueuedSpinLockFromDpcLevel(PKLOCK_QUEUE_HANDLE LockHandle)
{
    KeReleaseSpinLockFromDpcLevel(LockHandle->LockQueue.Lock);
}
