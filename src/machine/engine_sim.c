/*
 * The sim engine: one OS thread, virtual time in ns, a discrete-event loop.
 *
 * The loop, at PASSIVE_LEVEL on processor 0's thread context, dispatches one thing at a
 * time in this priority:
 *
 *   pending interrupt (ISR at DIRQL) > queued DPCs (DISPATCH) > work item (PASSIVE)
 *        > next hardware event (virtual time jumps to its due time)
 *
 * Nested dispatch happens at three places: mach_preempt_point (by the seed: time moves a
 * little, due hardware events run, unmasked interrupts and DPCs preempt the caller),
 * mach_stall, and mach_irql_lower (what the old IRQL masked). A PASSIVE wait runs the
 * loop nested until its condition holds.
 *
 * Re-entry guard: while hardware code runs (an event callback, a register handler,
 * m->in_hw > 0) nothing is dispatched nested: hardware is never re-entered and an ISR
 * never runs inside a device model.
 */
#include <errno.h>
#include <stdlib.h>

#include "machine/machine_priv.h"

static uint64_t sim_now(wdfdma_machine *m)
{
    return m->now;
}

static int sim_start(wdfdma_machine *m)
{
    (void)m;
    return 0;
}

static void sim_stop(wdfdma_machine *m)
{
    (void)m;
}

static mach_event_id sim_after(wdfdma_machine *m, uint64_t delay_ns, const mach_event *proto)
{
    mach_event e = *proto;
    e.time = m->now + delay_ns < m->now ? UINT64_MAX : m->now + delay_ns;
    e.tie = mach_rng_next(&m->rng);
    mach_event_id id = mach_evq_push(&m->evq, &e);
    if (!id)
        mach_report(m, "engine", "out of memory scheduling a hardware event");
    return id;
}

static bool sim_cancel(wdfdma_machine *m, mach_event_id id)
{
    return mach_evq_cancel(&m->evq, id);
}

/* ---- DPCs ---------------------------------------------------------------------------- */
static bool sim_dpc_queue(wdfdma_machine *m, unsigned cpu, mach_work *w)
{
    if (w->queued)
        return false;
    w->queued = 1;
    w->cpu = cpu;
    w->next = NULL;
    mach_cpu *c = &m->cpu[cpu];
    if (c->tail)
        c->tail->next = w;
    else
        c->head = w;
    c->tail = w;
    return true;
}

static bool unlink_work(mach_work **head, mach_work **tail, mach_work *w)
{
    mach_work *prev = NULL;
    for (mach_work *p = *head; p; prev = p, p = p->next) {
        if (p != w)
            continue;
        if (prev)
            prev->next = p->next;
        else
            *head = p->next;
        if (*tail == p)
            *tail = prev;
        p->next = NULL;
        return true;
    }
    return false;
}

static bool sim_dpc_remove(wdfdma_machine *m, mach_work *w)
{
    if (!w->queued || w->cpu >= m->cfg.cpus)
        return false;
    mach_cpu *c = &m->cpu[w->cpu];
    if (!unlink_work(&c->head, &c->tail, w))
        return false;
    w->queued = 0;
    return true;
}

/* The processor whose DPC queue runs next: with several non-empty queues the seed picks. */
static int next_dpc_cpu(wdfdma_machine *m)
{
    unsigned n = m->cfg.cpus, ready = 0;
    int first = -1;
    for (unsigned i = 0; i < n; i++)
        if (m->cpu[i].head && ready++ == 0)
            first = (int)i;
    if (ready <= 1)
        return first;
    unsigned pick = (unsigned)(mach_rng_next(&m->rng) % ready);
    for (unsigned i = 0; i < n; i++)
        if (m->cpu[i].head && pick-- == 0)
            return (int)i;
    return first;
}

/* Drain DPC queues at DISPATCH_LEVEL. Caller: IRQL below DISPATCH, no hardware running. */
static bool sim_run_dpcs(wdfdma_machine *m)
{
    bool ran = false;
    int cpu;
    while ((cpu = next_dpc_cpu(m)) >= 0) {
        mach_cpu *c = &m->cpu[cpu];
        mach_work *w = c->head;
        c->head = w->next;
        if (!c->head)
            c->tail = NULL;
        w->next = NULL;
        w->queued = 0;
        uint8_t saved_cpu = mach_ctx.cpu, saved_irql = mach_ctx.irql;
        mach_ctx_set((uint8_t)cpu, MACH_DISPATCH_LEVEL);
        uint64_t serial = MACH_STAT_ADD(m, dpcs, 1);
        MACH_STAT_ADD(m, events, 1);
        mach_trace(m, WDFDMA_TR_DPC_BEGIN, 0, NULL, serial, 0);
        w->fn(w);
        mach_trace(m, WDFDMA_TR_DPC_END, 0, NULL, serial, 0);
        mach_ctx_set(saved_cpu, saved_irql);
        ran = true;
    }
    return ran;
}

/* ---- interrupts ------------------------------------------------------------------------ */
/* Deliver interrupts unmasked at the current IRQL: every one when nested (preemption,
 * lowering), one service per loop step. At loop level an interrupt runs on its line's
 * processor; nested it runs on the processor it preempts. */
static bool sim_deliver(wdfdma_machine *m, bool loop_level)
{
    bool ran = false;
    int v;
    while ((v = mach_irqctl_next(m, mach_ctx.irql)) >= 0) {
        uint8_t saved_cpu = mach_ctx.cpu;
        if (loop_level)
            mach_ctx.cpu = (uint8_t)((unsigned)v % m->cfg.cpus);
        MACH_STAT_ADD(m, events, 1);
        mach_irqctl_service(m, (uint32_t)v);
        mach_ctx.cpu = saved_cpu;
        ran = true;
        if (loop_level)
            break;
    }
    return ran;
}

static void sim_irql_lowered(wdfdma_machine *m)
{
    if (m->in_hw || mach_ctx.m != m)
        return;
    sim_deliver(m, false);
    if (mach_ctx.irql < MACH_DISPATCH_LEVEL)
        sim_run_dpcs(m);
}

static void sim_irq_kick(wdfdma_machine *m, uint32_t vector)
{
    /* The loop polls the controller's pending set; nothing to wake. */
    (void)m;
    (void)vector;
}

/* ---- hardware time ---------------------------------------------------------------------- */
/* Let virtual time reach `until`: run hardware events due by then in order, each followed
 * by what it made deliverable at the current IRQL. */
static void sim_advance(wdfdma_machine *m, uint64_t until)
{
    mach_event e;
    const mach_event *next;
    while ((next = mach_evq_peek(&m->evq)) && next->time <= until) {
        mach_evq_pop(&m->evq, &e);
        if (e.time > m->now)
            m->now = e.time;
        mach_event_run(m, &e);
        sim_irql_lowered(m);
    }
    if (until > m->now)
        m->now = until;
    sim_irql_lowered(m);
}

static void sim_preempt(wdfdma_machine *m)
{
    if (m->in_hw || mach_ctx.m != m || m->cfg.preempt_percent == 0)
        return;
    if (mach_rng_next(&m->rng) % 100 >= m->cfg.preempt_percent)
        return;
    uint64_t cost = m->cfg.ddi_cost_ns ? 1 + mach_rng_next(&m->rng) % m->cfg.ddi_cost_ns : 0;
    MACH_STAT_ADD(m, preemptions, 1);
    sim_advance(m, m->now + cost);
}

static void sim_stall(wdfdma_machine *m, uint64_t ns)
{
    if (m->in_hw) {
        m->now += ns;                  /* busy time inside hardware: nothing can run */
        return;
    }
    sim_advance(m, m->now + ns);
}

/* ---- work items and the loop ------------------------------------------------------------ */
static void sim_work_queue(wdfdma_machine *m, mach_work *w)
{
    if (w->queued)
        return;
    w->queued = 1;
    w->next = NULL;
    if (m->work_tail)
        m->work_tail->next = w;
    else
        m->work_head = w;
    m->work_tail = w;
}

static bool sim_run_work(wdfdma_machine *m)
{
    mach_work *w = m->work_head;
    if (!w)
        return false;
    m->work_head = w->next;
    if (!m->work_head)
        m->work_tail = NULL;
    w->next = NULL;
    w->queued = 0;
    uint64_t serial = MACH_STAT_ADD(m, work_items, 1);
    MACH_STAT_ADD(m, events, 1);
    mach_trace(m, WDFDMA_TR_WORK_BEGIN, 0, NULL, serial, 0);
    w->fn(w);
    mach_trace(m, WDFDMA_TR_WORK_END, 0, NULL, serial, 0);
    return true;
}

static bool has_dpcs(const wdfdma_machine *m)
{
    for (unsigned i = 0; i < m->cfg.cpus; i++)
        if (m->cpu[i].head)
            return true;
    return false;
}

/* Anything runnable without advancing time? */
static bool sim_ready(wdfdma_machine *m)
{
    return mach_irqctl_next(m, MACH_PASSIVE_LEVEL) >= 0 || has_dpcs(m) || m->work_head;
}

/* One loop step at PASSIVE_LEVEL; false if nothing at all is pending. */
static bool sim_dispatch(wdfdma_machine *m)
{
    if (sim_deliver(m, true))
        return true;
    if (sim_run_dpcs(m))
        return true;
    if (sim_run_work(m))
        return true;
    mach_event e;
    if (!mach_evq_pop(&m->evq, &e))
        return false;
    if (e.time > m->now)
        m->now = e.time;
    mach_event_run(m, &e);
    return true;
}

static bool loop_allowed(wdfdma_machine *m, const char *what)
{
    if (m->in_hw) {
        mach_report(m, "engine", "%s called from hardware context (a device model or "
                    "timer callback): refused", what);
        return false;
    }
    return true;
}

static int sim_run(wdfdma_machine *m)
{
    if (!loop_allowed(m, "run"))
        return mach_error(EPERM, "wdfdma_machine_run called from hardware context");
    while (sim_dispatch(m))
        ;
    return 0;
}

static int sim_run_until(wdfdma_machine *m, uint64_t t)
{
    if (!loop_allowed(m, "run_until"))
        return mach_error(EPERM, "wdfdma_machine_run_until called from hardware context");
    for (;;) {
        const mach_event *next = mach_evq_peek(&m->evq);
        if (!sim_ready(m) && (!next || next->time > t))
            break;
        sim_dispatch(m);
    }
    if (t > m->now)
        m->now = t;
    return 0;
}

static bool sim_step(wdfdma_machine *m)
{
    if (!loop_allowed(m, "step"))
        return false;
    return sim_dispatch(m);
}

static bool sim_wait(wdfdma_machine *m, bool (*done)(void *ctx), void *ctx, int64_t timeout_ns)
{
    if (!loop_allowed(m, "wait"))
        return done(ctx);
    uint64_t deadline = timeout_ns < 0 ? UINT64_MAX : m->now + (uint64_t)timeout_ns;
    for (;;) {
        if (done(ctx))
            return true;
        if (!sim_ready(m)) {
            const mach_event *next = mach_evq_peek(&m->evq);
            if (!next && deadline == UINT64_MAX) {
                mach_trace(m, WDFDMA_TR_NOTE, 0, "deadlock", 0, 0);
                mach_report(m, "deadlock", "a PASSIVE_LEVEL wait at t=%llu ns can never be "
                            "satisfied: no hardware events, interrupts, DPCs or work items "
                            "pending", (unsigned long long)m->now);
                return false;
            }
            if (!next || next->time > deadline) {
                m->now = deadline;
                return done(ctx);
            }
        }
        sim_dispatch(m);
    }
}

static void sim_signal(wdfdma_machine *m)
{
    /* The waiter re-checks its condition after every dispatch. */
    (void)m;
}

const mach_engine_ops mach_sim_engine = {
    .name = "sim",
    .start = sim_start,
    .stop = sim_stop,
    .now = sim_now,
    .after = sim_after,
    .cancel = sim_cancel,
    .dpc_queue = sim_dpc_queue,
    .dpc_remove = sim_dpc_remove,
    .work_queue = sim_work_queue,
    .wait = sim_wait,
    .signal = sim_signal,
    .stall = sim_stall,
    .preempt = sim_preempt,
    .irql_lowered = sim_irql_lowered,
    .irq_kick = sim_irq_kick,
    .run = sim_run,
    .run_until = sim_run_until,
    .step = sim_step,
};
