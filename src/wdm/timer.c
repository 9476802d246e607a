/*
 * Kernel timers. A set timer is one machine event (mach_after); expiry runs in hardware
 * context, signals the timer, queues its DPC and, for a periodic timer, arms the next
 * period.
 *
 *   idle ──KeSetTimer(Ex)──> armed ──expiry──> idle (signalled, DPC queued)
 *     ^                        │  └─periodic──> armed (next period)
 *     └────KeCancelTimer───────┘
 *
 * A host mutex (not a kernel spin lock: expiry has no processor and no IRQL) serialises
 * set, cancel and expiry. On the threads engine an expiry can already be running when
 * KeSetTimer re-arms the timer (mach_cancel then fails); the stale expiry recognises
 * itself because the timer's due time is still in the future, and does nothing.
 */
#include <pthread.h>

#include "wdm/wdm_internal.h"

#define NS_PER_MS 1000000ull

typedef struct timer_priv {
    wdfdma_machine *m;
    mach_event_id event;   /* 0 while the timer is not armed */
    uint64_t due_ns;       /* machine time of the next expiry */
} timer_priv;

_Static_assert(sizeof(timer_priv) <= sizeof(WDFDMA_KOBJECT_PRIVATE),
               "the KTIMER private tail must hold the timer state");

static pthread_mutex_t timers_lock = PTHREAD_MUTEX_INITIALIZER;

static timer_priv *priv(PKTIMER t)
{
    return (timer_priv *)(void *)&t->WdfdmaPrivate;
}

/* The DPC is queued before the timer is signalled, both under the lock, so a thread
 * that wakes on the timer and then flushes DPCs always finds this expiry's DPC. */
static void timer_expired(void *ctx)
{
    PKTIMER t = ctx;
    timer_priv *p = priv(t);

    /* Atomic: KeSetTimerEx stores it under the lock this read decides to take (it only
     * ever stores the timer's one machine). */
    wdfdma_machine *m = __atomic_load_n(&p->m, __ATOMIC_RELAXED);
    mach_own_lock(m, &timers_lock);
    if (p->event == 0 || mach_now(m) < p->due_ns) {
        mach_own_unlock(m, &timers_lock);
        return;
    }
    if (t->Period != 0) {
        p->due_ns += t->Period * NS_PER_MS;
        p->event = mach_after(m, t->Period * NS_PER_MS, timer_expired, t);
    } else {
        p->event = 0;
    }
    if (t->Dpc != NULL) {
        LARGE_INTEGER now = { .QuadPart = wdm_system_time_at(mach_now(m)) };
        wdm_dpc_insert(m, t->Dpc, t->Processor, (PVOID)(ULONG_PTR)now.LowPart,
                       (PVOID)(ULONG_PTR)(ULONG)now.HighPart);
    }
    __atomic_store_n(&t->Header.SignalState, 1, __ATOMIC_RELEASE);
    mach_own_unlock(m, &timers_lock);
    mach_signal(m);
}

VOID KeInitializeTimerEx(PKTIMER Timer, TIMER_TYPE Type)
{
    memset(Timer, 0, sizeof(*Timer));
    Timer->Header.Type = Type == SynchronizationTimer ? TimerSynchronizationObject
                                                      : TimerNotificationObject;
    Timer->Header.Size = (UCHAR)(sizeof(KTIMER) / sizeof(LONG));
    InitializeListHead(&Timer->Header.WaitListHead);
    InitializeListHead(&Timer->TimerListEntry);
}

VOID KeInitializeTimer(PKTIMER Timer)
{
    KeInitializeTimerEx(Timer, NotificationTimer);
}

/* Disarm under timers_lock; returns whether the timer was armed. */
static bool disarm(timer_priv *p)
{
    if (p->event == 0)
        return false;
    mach_cancel(p->m, p->event);
    p->event = 0;
    return true;
}

BOOLEAN KeSetTimerEx(PKTIMER Timer, LARGE_INTEGER DueTime, LONG Period, PKDPC Dpc)
{
    wdfdma_machine *m = wdm_machine("KeSetTimerEx");
    wdm_check_irql_max(DISPATCH_LEVEL, "KeSetTimerEx");
    if (Period < 0)
        mach_bugcheck(KMODE_EXCEPTION_NOT_HANDLED, (uint64_t)(ULONG)STATUS_INVALID_PARAMETER, 0, (uint64_t)Period, 0,
                      "KeSetTimerEx: negative period %d ms", (int)Period);
    int64_t delay = wdm_timeout_ns(m, &DueTime);
    timer_priv *p = priv(Timer);

    mach_own_lock(m, &timers_lock);
    bool was_armed = disarm(p);
    __atomic_store_n(&p->m, m, __ATOMIC_RELAXED);
    Timer->Dpc = Dpc;
    Timer->Period = (ULONG)Period;
    Timer->Processor = mach_cpu_current();
    Timer->DueTime.QuadPart = (ULONGLONG)wdm_system_time_at(mach_now(m) + (uint64_t)delay);
    __atomic_store_n(&Timer->Header.SignalState, 0, __ATOMIC_RELEASE);
    p->due_ns = mach_now(m) + (uint64_t)delay;
    p->event = mach_after(m, (uint64_t)delay, timer_expired, Timer);
    mach_own_unlock(m, &timers_lock);
    return was_armed ? TRUE : FALSE;
}

BOOLEAN KeSetTimer(PKTIMER Timer, LARGE_INTEGER DueTime, PKDPC Dpc)
{
    return KeSetTimerEx(Timer, DueTime, 0, Dpc);
}

/* Does not remove a DPC the timer already queued (as in Windows). */
BOOLEAN KeCancelTimer(PKTIMER Timer)
{
    wdm_check_irql_max(DISPATCH_LEVEL, "KeCancelTimer");
    wdfdma_machine *m = mach_current();   /* the caller's machine is the timer's */
    mach_own_lock(m, &timers_lock);
    bool was_armed = disarm(priv(Timer));
    mach_own_unlock(m, &timers_lock);
    return was_armed ? TRUE : FALSE;
}

BOOLEAN KeReadStateTimer(PKTIMER Timer)
{
    return __atomic_load_n(&Timer->Header.SignalState, __ATOMIC_ACQUIRE) != 0 ? TRUE : FALSE;
}
