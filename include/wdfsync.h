/*
 * wdfsync.h - framework locks: the object presentation lock, wait locks (PASSIVE, may
 * block) and spin locks (raise to DISPATCH_LEVEL).
 */
#ifndef _WDFSYNC_H_
#define _WDFSYNC_H_

#include "wdfobject.h"

WDF_EXTERN_C_START

/*
 * <= DISPATCH. Acquire/release the lock the framework uses for an object's callbacks
 * (device or queue synchronization scope). Passive-level objects take a wait lock.
 */
_IRQL_requires_max_(DISPATCH_LEVEL)
WDFAPI VOID WdfObjectAcquireLock(_In_ WDFOBJECT Object);

_IRQL_requires_max_(DISPATCH_LEVEL)
WDFAPI VOID WdfObjectReleaseLock(_In_ WDFOBJECT Object);

/* <= DISPATCH. Parent defaults to the driver. */
_Must_inspect_result_ _IRQL_requires_max_(DISPATCH_LEVEL)
WDFAPI NTSTATUS WdfWaitLockCreate(_In_opt_ PWDF_OBJECT_ATTRIBUTES LockAttributes,
                                  _Out_ WDFWAITLOCK *Lock);

/*
 * Timeout NULL: wait forever (PASSIVE only), always STATUS_SUCCESS.
 * *Timeout == 0: try once (<= DISPATCH); STATUS_TIMEOUT if the lock is held.
 * Otherwise a WDF timeout (negative = relative, 100 ns units; PASSIVE only).
 */
_IRQL_requires_max_(DISPATCH_LEVEL)
WDFAPI NTSTATUS WdfWaitLockAcquire(_In_ WDFWAITLOCK Lock, _In_opt_ PLONGLONG Timeout);

_IRQL_requires_max_(DISPATCH_LEVEL)
WDFAPI VOID WdfWaitLockRelease(_In_ WDFWAITLOCK Lock);

/* <= DISPATCH. Parent defaults to the driver. */
_Must_inspect_result_ _IRQL_requires_max_(DISPATCH_LEVEL)
WDFAPI NTSTATUS WdfSpinLockCreate(_In_opt_ PWDF_OBJECT_ATTRIBUTES SpinLockAttributes,
                                  _Out_ WDFSPINLOCK *SpinLock);

/* <= DISPATCH; raises to DISPATCH_LEVEL, and Release restores the saved IRQL. */
_IRQL_requires_max_(DISPATCH_LEVEL)
WDFAPI VOID WdfSpinLockAcquire(_In_ WDFSPINLOCK SpinLock);

_IRQL_requires_min_(DISPATCH_LEVEL) _IRQL_requires_max_(DISPATCH_LEVEL)
WDFAPI VOID WdfSpinLockRelease(_In_ WDFSPINLOCK SpinLock);

WDF_EXTERN_C_END

#endif /* _WDFSYNC_H_ */
