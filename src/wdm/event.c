/*
 * Events and waiting. A dispatcher object's SignalState is the whole state: a
 * notification event stays signalled until reset; a satisfied wait on a synchronization
 * event (or synchronization timer) takes it back to 0 with one compare-exchange, so only
 * one waiter wins. Waiting is the machine's (mach_wait): the sim engine runs the event
 * loop nested until the object is signalled, the threads engine sleeps and re-checks
 * after every mach_signal().
 *
 * IRQL: waits with a non-zero timeout need <= APC_LEVEL; at DISPATCH_LEVEL only a zero
 * timeout (a poll) is allowed; otherwise bug check 0xA.
 */
#include "wdm/wdm_internal.h"

static bool auto_reset(const DISPATCHER_HEADER *h)
{
    return h->Type == EventSynchronizationObject || h->Type == TimerSynchronizationObject;
}

/* Satisfy a wait on `h` if it is signalled; consumes the signal of auto-reset objects. */
static bool try_satisfy(void *ctx)
{
    DISPATCHER_HEADER *h = ctx;
    if (!auto_reset(h))
        return __atomic_load_n(&h->SignalState, __ATOMIC_ACQUIRE) != 0;
    LONG expect = 1;
    return __atomic_compare_exchange_n(&h->SignalState, &expect, 0, false, __ATOMIC_ACQ_REL,
                                       __ATOMIC_ACQUIRE);
}

VOID KeInitializeEvent(PRKEVENT Event, EVENT_TYPE Type, BOOLEAN State)
{
    Event->Header.Type = Type == SynchronizationEvent ? EventSynchronizationObject
                                                      : EventNotificationObject;
    Event->Header.Signalling = 0;
    Event->Header.Size = (UCHAR)(sizeof(KEVENT) / sizeof(LONG));
    Event->Header.Reserved1 = 0;
    Event->Header.SignalState = State ? 1 : 0;
    InitializeListHead(&Event->Header.WaitListHead);
}

LONG KeSetEvent(PRKEVENT Event, KPRIORITY Increment, BOOLEAN Wait)
{
    (void)Increment;
    (void)Wait;
    wdm_check_irql_max(DISPATCH_LEVEL, "KeSetEvent");
    LONG old = __atomic_exchange_n(&Event->Header.SignalState, 1, __ATOMIC_ACQ_REL);
    if (old == 0)
        mach_signal(wdm_machine("KeSetEvent"));
    return old;
}

LONG KeResetEvent(PRKEVENT Event)
{
    wdm_check_irql_max(DISPATCH_LEVEL, "KeResetEvent");
    return __atomic_exchange_n(&Event->Header.SignalState, 0, __ATOMIC_ACQ_REL);
}

VOID KeClearEvent(PRKEVENT Event)
{
    __atomic_store_n(&Event->Header.SignalState, 0, __ATOMIC_RELEASE);
}

LONG KeReadStateEvent(PRKEVENT Event)
{
    return __atomic_load_n(&Event->Header.SignalState, __ATOMIC_ACQUIRE);
}

int64_t wdm_timeout_ns(wdfdma_machine *m, const LARGE_INTEGER *timeout)
{
    if (timeout == NULL)
        return -1;
    if (timeout->QuadPart <= 0) {
        /* Relative; guard the negation of the most negative value. */
        if (timeout->QuadPart < -(INT64_MAX / 100))
            return INT64_MAX;
        return -timeout->QuadPart * 100;
    }
    LONGLONG now = wdm_system_time_at(mach_now(m));
    if (timeout->QuadPart <= now)
        return 0;
    LONGLONG left = timeout->QuadPart - now;
    return left > INT64_MAX / 100 ? INT64_MAX : left * 100;
}

bool wdm_wait(wdfdma_machine *m, bool (*done)(void *ctx), void *ctx, int64_t timeout_ns)
{
    if (mach_irql() != APC_LEVEL)
        return mach_wait(m, done, ctx, timeout_ns);
    mach_irql_lower(PASSIVE_LEVEL);
    bool ok = mach_wait(m, done, ctx, timeout_ns);
    mach_irql_raise(APC_LEVEL);
    return ok;
}

static void check_wait_irql(const LARGE_INTEGER *timeout, const char *ddi)
{
    uint8_t irql = mach_irql();
    bool poll = timeout != NULL && timeout->QuadPart == 0;
    if (irql > DISPATCH_LEVEL || (irql == DISPATCH_LEVEL && !poll))
        mach_bugcheck(IRQL_NOT_LESS_OR_EQUAL, 0, irql, poll ? DISPATCH_LEVEL : APC_LEVEL, 0,
                      "IRQL_NOT_LESS_OR_EQUAL: %s at IRQL %u with %s timeout", ddi, irql,
                      poll ? "a zero" : "a non-zero");
}

NTSTATUS KeWaitForSingleObject(PVOID Object, KWAIT_REASON WaitReason, KPROCESSOR_MODE WaitMode,
                               BOOLEAN Alertable, PLARGE_INTEGER Timeout)
{
    (void)WaitReason;
    (void)WaitMode;
    (void)Alertable;
    DISPATCHER_HEADER *h = Object;
    wdfdma_machine *m = wdm_machine("KeWaitForSingleObject");

    check_wait_irql(Timeout, "KeWaitForSingleObject");
    if (try_satisfy(h))
        return STATUS_SUCCESS;
    if (Timeout != NULL && Timeout->QuadPart == 0)
        return STATUS_TIMEOUT;
    return wdm_wait(m, try_satisfy, h, wdm_timeout_ns(m, Timeout)) ? STATUS_SUCCESS
                                                                   : STATUS_TIMEOUT;
}
