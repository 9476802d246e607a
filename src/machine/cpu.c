/*
 * Processors: the per-thread context (current machine, processor number, IRQL), IRQL
 * rules, spin locks, DDI-boundary preemption, and the engine-neutral entry points for
 * DPCs, work items, hardware events, waiting and time.
 *
 * IRQL per thread:
 *
 *        raise (>= current)               lower (<= current)
 *   PASSIVE ─────────────> DISPATCH ... DIRQL ─────────────> ...
 *      raise below current: bug check 0x9   lower above current: bug check 0xA
 *
 * On the sim engine lowering is where masked work becomes deliverable, so the engine is
 * told (pending interrupts above the new IRQL, then DPCs below DISPATCH_LEVEL).
 */
#include <errno.h>
#include <sched.h>
#include <string.h>

#include "machine/machine_priv.h"

_Thread_local mach_tls mach_ctx MACH_TLS_FAST;
static _Atomic uintptr_t next_thread_tag = 1;

wdfdma_machine *mach_current(void)
{
    return mach_ctx.m;
}

void mach_enter(wdfdma_machine *m)
{
    if (mach_ctx.m == m)
        return;
    /* A thread that changes machine starts as processor 0's thread context at PASSIVE. */
    mach_ctx.m = m;
    mach_ctx.cpu = 0;
    mach_ctx.irql = MACH_PASSIVE_LEVEL;
    mach_ctx.cb_depth = 0;
    memset(&mach_ctx.mmio, 0, sizeof(mach_ctx.mmio));
}

unsigned mach_cpu_current(void)
{
    return mach_ctx.cpu;
}

uint8_t mach_irql(void)
{
    return mach_ctx.irql;
}

uint8_t mach_irql_raise(uint8_t irql)
{
    uint8_t old = mach_ctx.irql;
    if (irql < old)
        mach_bugcheck(MACH_BC_IRQL_NOT_GREATER_OR_EQUAL, old, irql, 0, 0,
                      "IRQL_NOT_GREATER_OR_EQUAL: raise from IRQL %u to lower IRQL %u", old,
                      irql);
    if (irql > MACH_HIGH_LEVEL)
        mach_bugcheck(MACH_BC_IRQL_NOT_GREATER_OR_EQUAL, old, irql, 1, 0,
                      "raise to invalid IRQL %u (above HIGH_LEVEL)", irql);
    mach_ctx.irql = irql;
    return old;
}

void mach_irql_lower(uint8_t irql)
{
    uint8_t old = mach_ctx.irql;
    if (irql > old)
        mach_bugcheck(MACH_BC_IRQL_NOT_LESS_OR_EQUAL, old, irql, 0, 0,
                      "IRQL_NOT_LESS_OR_EQUAL: lower from IRQL %u to higher IRQL %u", old, irql);
    mach_ctx.irql = irql;
    wdfdma_machine *m = mach_ctx.m;
    if (m && irql < old)
        m->eng->irql_lowered(m);
}

void mach_preempt_point(void)
{
    wdfdma_machine *m = mach_ctx.m;
    if (m)
        m->eng->preempt(m);
}

/* ---- spin locks ---------------------------------------------------------------------- */
/* Owner tag: sim, 1 + processor (one OS thread plays every processor); threads, 1 + a
 * per-thread number (bit 63 set so it never equals a sim tag). */
static uintptr_t my_tag(void)
{
    wdfdma_machine *m = mach_ctx.m;
    if (!m || !m->threaded)
        return 1u + mach_ctx.cpu;
    if (!mach_ctx.tag)
        mach_ctx.tag = ((uintptr_t)1 << (sizeof(uintptr_t) * 8 - 1)) |
                       atomic_fetch_add(&next_thread_tag, 1);
    return mach_ctx.tag;
}

/* One OS thread runs every processor on sim: any held lock is held "by us" and would spin
 * forever; on threads, only the holder itself would. */
__attribute__((noreturn, cold)) static void spin_already_owned(volatile uintptr_t *lock,
                                                              uintptr_t owner, uintptr_t me)
{
    mach_bugcheck(MACH_BC_SPIN_LOCK_ALREADY_OWNED, (uint64_t)(uintptr_t)lock, owner, me, 0,
                  "SPIN_LOCK_ALREADY_OWNED: lock %p acquired again by its holder (owner tag "
                  "%#llx)", (void *)lock, (unsigned long long)owner);
}

void mach_spin_acquire(volatile uintptr_t *lock)
{
    wdfdma_machine *m = mach_ctx.m;
    if (m && !m->threaded) {
        /* sim: one OS thread runs every processor of the machine, so no other thread
         * races for the word and a plain load and store does what a locked
         * compare-exchange does (which costs ~20 cycles, several times per request). */
        uintptr_t cur = __atomic_load_n(lock, __ATOMIC_RELAXED);
        if (cur)
            spin_already_owned(lock, cur, 1u + mach_ctx.cpu);
        __atomic_store_n(lock, 1u + mach_ctx.cpu, __ATOMIC_RELAXED);
        return;
    }
    uintptr_t me = my_tag();
    for (unsigned spins = 0;; spins++) {
        uintptr_t expect = 0;
        if (__atomic_compare_exchange_n(lock, &expect, me, false, __ATOMIC_ACQUIRE,
                                        __ATOMIC_RELAXED))
            return;
        if (expect == me || !m)
            spin_already_owned(lock, expect, me);
        if (spins > 64)
            sched_yield();
    }
}

bool mach_spin_try(volatile uintptr_t *lock)
{
    uintptr_t expect = 0;
    return __atomic_compare_exchange_n(lock, &expect, my_tag(), false, __ATOMIC_ACQUIRE,
                                       __ATOMIC_RELAXED);
}

void mach_spin_release(volatile uintptr_t *lock)
{
    uintptr_t me = my_tag();
    uintptr_t cur = __atomic_load_n(lock, __ATOMIC_RELAXED);
    if (cur != me)
        mach_bugcheck(MACH_BC_SPIN_LOCK_NOT_OWNED, (uint64_t)(uintptr_t)lock, cur, me, 0,
                      "SPIN_LOCK_NOT_OWNED: release of lock %p %s", (void *)lock,
                      cur ? "held by another owner" : "that is not held");
    __atomic_store_n(lock, 0, __ATOMIC_RELEASE);
}

bool mach_spin_held_by_me(const volatile uintptr_t *lock)
{
    return __atomic_load_n(lock, __ATOMIC_RELAXED) == my_tag();
}

/* ---- deferred work, time, waiting: engine-neutral entry points ------------------------ */
bool mach_dpc_queue(wdfdma_machine *m, unsigned cpu, mach_work *w)
{
    if (!m || !w || !w->fn)
        return false;
    if (cpu >= m->cfg.cpus)
        cpu = cpu % m->cfg.cpus;
    return m->eng->dpc_queue(m, cpu, w);
}

bool mach_dpc_remove(wdfdma_machine *m, mach_work *w)
{
    if (!m || !w)
        return false;
    return m->eng->dpc_remove(m, w);
}

void mach_work_queue(wdfdma_machine *m, mach_work *w)
{
    if (!m || !w || !w->fn)
        return;
    m->eng->work_queue(m, w);
}

uint64_t mach_now(wdfdma_machine *m)
{
    return m->eng->now(m);
}

mach_event_id mach_after(wdfdma_machine *m, uint64_t delay_ns, void (*fn)(void *ctx), void *ctx)
{
    if (!m || !fn)
        return 0;
    mach_event e = { .fn = fn, .ctx = ctx };
    return m->eng->after(m, delay_ns, &e);
}

bool mach_cancel(wdfdma_machine *m, mach_event_id id)
{
    if (!m || !id)
        return false;
    return m->eng->cancel(m, id);
}

void mach_stall(wdfdma_machine *m, uint64_t ns)
{
    if (m)
        m->eng->stall(m, ns);
}

bool mach_wait(wdfdma_machine *m, bool (*done)(void *ctx), void *ctx, int64_t timeout_ns)
{
    if (!m || !done)
        return false;
    if (mach_ctx.m != m)
        mach_enter(m);
    if (mach_ctx.irql != MACH_PASSIVE_LEVEL && !done(ctx))
        mach_bugcheck(MACH_BC_IRQL_NOT_LESS_OR_EQUAL, mach_ctx.irql, MACH_PASSIVE_LEVEL, 1, 0,
                      "wait at IRQL %u: waiting is allowed only at PASSIVE_LEVEL",
                      mach_ctx.irql);
    return m->eng->wait(m, done, ctx, timeout_ns);
}

void mach_signal(wdfdma_machine *m)
{
    if (m)
        m->eng->signal(m);
}

/* ---- driver callback in progress ------------------------------------------------------ */
void mach_callback_enter(const char *name, uint32_t obj)
{
    if (mach_ctx.cb_depth < MACH_CALLBACK_DEPTH)
        mach_ctx.cb_name[mach_ctx.cb_depth] = name;
    mach_ctx.cb_depth++;
    if (mach_ctx.m)
        mach_trace(mach_ctx.m, WDFDMA_TR_CALLBACK_BEGIN, obj, name, 0, 0);
}

void mach_callback_exit(const char *name, uint32_t obj)
{
    if (mach_ctx.cb_depth > 0)
        mach_ctx.cb_depth--;
    if (mach_ctx.m)
        mach_trace(mach_ctx.m, WDFDMA_TR_CALLBACK_END, obj, name, 0, 0);
}

const char *mach_callback_current(void)
{
    unsigned d = mach_ctx.cb_depth;
    if (d == 0)
        return "";
    if (d > MACH_CALLBACK_DEPTH)
        d = MACH_CALLBACK_DEPTH;
    const char *n = mach_ctx.cb_name[d - 1];
    return n ? n : "";
}
