/*
 * The threads engine: real pthreads behind the same contract as the sim engine.
 *
 *   processor thread i   interrupts routed to it (vector % cpus) at DIRQL holding the ISR's
 *                        lock, then its DPC queue at DISPATCH_LEVEL; sleeps on cpu->cond
 *   device thread        hardware events in wall-clock order; sleeps until the earliest
 *   workers (2)          PASSIVE_LEVEL work items
 *   host threads         call in at PASSIVE_LEVEL as processor 0's thread context
 *
 * Time is ns since the machine started (CLOCK_MONOTONIC). Wake-ups cost ~30 us across
 * cores here, so nobody is woken who is not asleep: a producer signals only when the
 * consumer's `sleeping` flag is set (under the consumer's lock), the device thread only
 * when a new event is earlier than the time it sleeps until, waiters only if any exist.
 *
 * Sleeping costs more than the wake-up: a timed sleep overshoots by the thread's timer
 * slack (50 us by default) and a wake-up crosses cores (~30 us). So the device thread runs
 * with a 1 ns timer slack, sleeps only until SPIN_NS before its next event and spins (with
 * its lock released, yielding the core) for the rest; a processor thread that ran
 * something spins CPU_SPIN_NS for more work before it sleeps, so back-to-back interrupts
 * and DPCs do not each pay a wake-up. Spinners watch an atomic post counter that every
 * producer bumps, so a new item ends the spin at once.
 *
 * m->outstanding counts everything in flight (events, pending interrupts, DPCs, work).
 * It goes up before an item is made visible and down after it has run, so it reaches zero
 * only when the machine is idle: wdfdma_machine_run waits for that.
 */
#include <errno.h>
#include <sched.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>

#include "machine/machine_priv.h"

#define SPIN_NS 50000ull               /* device thread: spin for events due this soon */
#define CPU_SPIN_NS 20000ull           /* processor thread: spin this long for more work */

static _Thread_local bool on_device_thread MACH_TLS_FAST;

static inline void spin_pause(unsigned *spins)
{
    /* Yield now and then so a spinner never keeps a runnable thread off its core. */
    if (++*spins % 64 == 0)
        sched_yield();
#if defined(__x86_64__) || defined(__i386__)
    else
        __builtin_ia32_pause();
#endif
}

static uint64_t thr_now(wdfdma_machine *m)
{
    return mach_monotonic_ns() - m->t0_ns;
}

static struct timespec abs_time(wdfdma_machine *m, uint64_t t)
{
    uint64_t abs = m->t0_ns + t;
    if (abs < t)
        abs = UINT64_MAX / 2;
    return (struct timespec){ .tv_sec = (time_t)(abs / 1000000000ull),
                              .tv_nsec = (long)(abs % 1000000000ull) };
}

static void outstanding_add(wdfdma_machine *m)
{
    atomic_fetch_add_explicit(&m->outstanding, 1, memory_order_relaxed);
}

static void outstanding_done(wdfdma_machine *m)
{
    if (atomic_fetch_sub_explicit(&m->outstanding, 1, memory_order_acq_rel) != 1)
        return;
    pthread_mutex_lock(&m->wait_lock);
    if (m->waiters)
        pthread_cond_broadcast(&m->wait_cond);
    pthread_mutex_unlock(&m->wait_lock);
}

/* ---- device thread: hardware events ------------------------------------------------- */
static void *device_thread(void *arg)
{
    wdfdma_machine *m = arg;
    mach_enter(m);
    mach_ctx_set(MACH_CPU_HW, MACH_HIGH_LEVEL);
    on_device_thread = true;
    /* Timed sleeps end when asked, not up to 50 us later. */
    (void)prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
    pthread_mutex_lock(&m->evq_lock);
    while (!m->stopping) {
        const mach_event *next = mach_evq_peek(&m->evq);
        uint64_t now = thr_now(m);
        if (next && next->time > now && next->time - now <= SPIN_NS) {
            /* Due soon: spin until it is due or an event is scheduled (maybe earlier). */
            uint64_t due = next->time;
            uint64_t posts = atomic_load_explicit(&m->evq_posts, memory_order_acquire);
            pthread_mutex_unlock(&m->evq_lock);
            unsigned spins = 0;
            while (thr_now(m) < due && !atomic_load_explicit(&m->stopping, memory_order_relaxed) &&
                   atomic_load_explicit(&m->evq_posts, memory_order_acquire) == posts)
                spin_pause(&spins);
            pthread_mutex_lock(&m->evq_lock);
            continue;
        }
        if (!next || next->time > now) {
            m->dev_thread_sleeping = true;
            m->dev_thread_wake_at = next ? next->time : UINT64_MAX;
            if (next) {
                struct timespec ts = abs_time(m, next->time - SPIN_NS);
                pthread_cond_timedwait(&m->evq_cond, &m->evq_lock, &ts);
            } else {
                pthread_cond_wait(&m->evq_cond, &m->evq_lock);
            }
            m->dev_thread_sleeping = false;
            continue;
        }
        mach_event e;
        mach_evq_pop(&m->evq, &e);
        pthread_mutex_unlock(&m->evq_lock);
        mach_event_run(m, &e);
        outstanding_done(m);
        pthread_mutex_lock(&m->evq_lock);
    }
    pthread_mutex_unlock(&m->evq_lock);
    return NULL;
}

static mach_event_id thr_after(wdfdma_machine *m, uint64_t delay_ns, const mach_event *proto)
{
    mach_event e = *proto;
    pthread_mutex_lock(&m->evq_lock);
    uint64_t now = thr_now(m);
    e.time = now + delay_ns < now ? UINT64_MAX : now + delay_ns;
    e.tie = 0;                         /* wall-clock order; equal times by scheduling order */
    outstanding_add(m);
    mach_event_id id = mach_evq_push(&m->evq, &e);
    if (id)
        atomic_fetch_add_explicit(&m->evq_posts, 1, memory_order_release);
    if (!id)
        outstanding_done(m);
    else if (!on_device_thread && m->dev_thread_sleeping && e.time < m->dev_thread_wake_at) {
        m->dev_thread_wake_at = e.time;
        pthread_cond_signal(&m->evq_cond);
    }
    pthread_mutex_unlock(&m->evq_lock);
    if (!id)
        mach_report(m, "engine", "out of memory scheduling a hardware event");
    return id;
}

static bool thr_cancel(wdfdma_machine *m, mach_event_id id)
{
    pthread_mutex_lock(&m->evq_lock);
    bool ok = mach_evq_cancel(&m->evq, id);
    pthread_mutex_unlock(&m->evq_lock);
    if (ok)
        outstanding_done(m);
    return ok;
}

/* ---- processor threads: interrupts and DPCs ------------------------------------------ */
static int first_pending(const mach_cpu *c)
{
    for (unsigned i = 0; i < MACH_VECTORS / 64; i++)
        if (c->irq_pending[i])
            return (int)(i * 64 + (unsigned)__builtin_ctzll(c->irq_pending[i]));
    return -1;
}

static void run_dpc(wdfdma_machine *m, mach_cpu *c, mach_work *w)
{
    mach_ctx_set((uint8_t)c->index, MACH_DISPATCH_LEVEL);
    uint64_t serial = MACH_STAT_ADD(m, dpcs, 1);
    MACH_STAT_ADD(m, events, 1);
    mach_trace(m, WDFDMA_TR_DPC_BEGIN, 0, NULL, serial, 0);
    w->fn(w);
    mach_trace(m, WDFDMA_TR_DPC_END, 0, NULL, serial, 0);
    mach_ctx_set((uint8_t)c->index, MACH_PASSIVE_LEVEL);
}

static void *cpu_thread(void *arg)
{
    mach_cpu *c = arg;
    wdfdma_machine *m = c->m;
    mach_enter(m);
    mach_ctx_set((uint8_t)c->index, MACH_PASSIVE_LEVEL);
    bool ran = false;
    pthread_mutex_lock(&c->lock);
    while (!m->stopping) {
        int v = first_pending(c);
        if (v >= 0) {
            c->irq_pending[v / 64] &= ~(1ull << (v % 64));
            pthread_mutex_unlock(&c->lock);
            MACH_STAT_ADD(m, events, 1);
            while (mach_irqctl_service(m, (uint32_t)v))
                ;
            outstanding_done(m);
            ran = true;
            pthread_mutex_lock(&c->lock);
            continue;
        }
        mach_work *w = c->head;
        if (w) {
            c->head = w->next;
            if (!c->head)
                c->tail = NULL;
            w->next = NULL;
            /* Clear before running so the DPC may queue itself again. */
            __atomic_store_n(&w->queued, 0, __ATOMIC_RELEASE);
            pthread_mutex_unlock(&c->lock);
            run_dpc(m, c, w);
            outstanding_done(m);
            ran = true;
            pthread_mutex_lock(&c->lock);
            continue;
        }
        if (ran) {
            /* Just busy: more work likely follows within a wake-up's cost. */
            ran = false;
            uint64_t posts = atomic_load_explicit(&c->posts, memory_order_acquire);
            pthread_mutex_unlock(&c->lock);
            uint64_t end = thr_now(m) + CPU_SPIN_NS;
            unsigned spins = 0;
            while (thr_now(m) < end && !atomic_load_explicit(&m->stopping, memory_order_relaxed) &&
                   atomic_load_explicit(&c->posts, memory_order_acquire) == posts)
                spin_pause(&spins);
            pthread_mutex_lock(&c->lock);
            continue;
        }
        c->sleeping = true;
        pthread_cond_wait(&c->cond, &c->lock);
        c->sleeping = false;
    }
    pthread_mutex_unlock(&c->lock);
    return NULL;
}

static void thr_irq_kick(wdfdma_machine *m, uint32_t vector)
{
    mach_cpu *c = &m->cpu[vector % m->cfg.cpus];
    pthread_mutex_lock(&c->lock);
    uint64_t bit = 1ull << (vector % 64);
    if (!(c->irq_pending[vector / 64] & bit)) {
        c->irq_pending[vector / 64] |= bit;
        outstanding_add(m);
        atomic_fetch_add_explicit(&c->posts, 1, memory_order_release);
        if (c->sleeping)
            pthread_cond_signal(&c->cond);
    }
    pthread_mutex_unlock(&c->lock);
}

static bool thr_dpc_queue(wdfdma_machine *m, unsigned cpu, mach_work *w)
{
    uint32_t expect = 0;
    if (!__atomic_compare_exchange_n(&w->queued, &expect, 1, false, __ATOMIC_ACQ_REL,
                                     __ATOMIC_RELAXED))
        return false;
    __atomic_store_n(&w->cpu, cpu, __ATOMIC_RELAXED);
    mach_cpu *c = &m->cpu[cpu];
    pthread_mutex_lock(&c->lock);
    w->next = NULL;
    if (c->tail)
        c->tail->next = w;
    else
        c->head = w;
    c->tail = w;
    outstanding_add(m);
    atomic_fetch_add_explicit(&c->posts, 1, memory_order_release);
    if (c->sleeping)
        pthread_cond_signal(&c->cond);
    pthread_mutex_unlock(&c->lock);
    return true;
}

static bool thr_dpc_remove(wdfdma_machine *m, mach_work *w)
{
    if (!__atomic_load_n(&w->queued, __ATOMIC_ACQUIRE))
        return false;
    unsigned cpu = __atomic_load_n(&w->cpu, __ATOMIC_RELAXED);
    if (cpu >= m->cfg.cpus)
        return false;
    mach_cpu *c = &m->cpu[cpu];
    bool found = false;
    pthread_mutex_lock(&c->lock);
    mach_work *prev = NULL;
    for (mach_work *p = c->head; p; prev = p, p = p->next) {
        if (p != w)
            continue;
        if (prev)
            prev->next = p->next;
        else
            c->head = p->next;
        if (c->tail == p)
            c->tail = prev;
        p->next = NULL;
        __atomic_store_n(&w->queued, 0, __ATOMIC_RELEASE);
        found = true;
        break;
    }
    pthread_mutex_unlock(&c->lock);
    if (found)
        outstanding_done(m);
    return found;
}

/* ---- workers: PASSIVE work items ------------------------------------------------------ */
static void *worker_thread(void *arg)
{
    wdfdma_machine *m = arg;
    mach_enter(m);
    pthread_mutex_lock(&m->work_lock);
    while (!m->stopping) {
        mach_work *w = m->work_head;
        if (!w) {
            m->workers_idle++;
            pthread_cond_wait(&m->work_cond, &m->work_lock);
            m->workers_idle--;
            continue;
        }
        m->work_head = w->next;
        if (!m->work_head)
            m->work_tail = NULL;
        w->next = NULL;
        __atomic_store_n(&w->queued, 0, __ATOMIC_RELEASE);
        pthread_mutex_unlock(&m->work_lock);
        mach_ctx_set((uint8_t)(__atomic_load_n(&w->cpu, __ATOMIC_RELAXED) % m->cfg.cpus),
                     MACH_PASSIVE_LEVEL);
        uint64_t serial = MACH_STAT_ADD(m, work_items, 1);
        MACH_STAT_ADD(m, events, 1);
        mach_trace(m, WDFDMA_TR_WORK_BEGIN, 0, NULL, serial, 0);
        w->fn(w);
        mach_trace(m, WDFDMA_TR_WORK_END, 0, NULL, serial, 0);
        outstanding_done(m);
        pthread_mutex_lock(&m->work_lock);
    }
    pthread_mutex_unlock(&m->work_lock);
    return NULL;
}

static void thr_work_queue(wdfdma_machine *m, mach_work *w)
{
    uint32_t expect = 0;
    if (!__atomic_compare_exchange_n(&w->queued, &expect, 1, false, __ATOMIC_ACQ_REL,
                                     __ATOMIC_RELAXED))
        return;
    pthread_mutex_lock(&m->work_lock);
    w->next = NULL;
    if (m->work_tail)
        m->work_tail->next = w;
    else
        m->work_head = w;
    m->work_tail = w;
    outstanding_add(m);
    if (m->workers_idle)
        pthread_cond_signal(&m->work_cond);
    pthread_mutex_unlock(&m->work_lock);
}

/* ---- waiting --------------------------------------------------------------------------- */
static bool thr_wait(wdfdma_machine *m, bool (*done)(void *ctx), void *ctx, int64_t timeout_ns)
{
    struct timespec ts = abs_time(m, timeout_ns < 0 ? 0 : thr_now(m) + (uint64_t)timeout_ns);
    pthread_mutex_lock(&m->wait_lock);
    m->waiters++;
    bool ok;
    while (!(ok = done(ctx))) {
        if (timeout_ns < 0) {
            pthread_cond_wait(&m->wait_cond, &m->wait_lock);
        } else if (pthread_cond_timedwait(&m->wait_cond, &m->wait_lock, &ts) == ETIMEDOUT) {
            ok = done(ctx);
            break;
        }
    }
    m->waiters--;
    pthread_mutex_unlock(&m->wait_lock);
    return ok;
}

static void thr_signal(wdfdma_machine *m)
{
    pthread_mutex_lock(&m->wait_lock);
    if (m->waiters)
        pthread_cond_broadcast(&m->wait_cond);
    pthread_mutex_unlock(&m->wait_lock);
}

static bool idle(void *ctx)
{
    wdfdma_machine *m = ctx;
    return atomic_load_explicit(&m->outstanding, memory_order_acquire) == 0;
}

static int thr_run(wdfdma_machine *m)
{
    thr_wait(m, idle, m, -1);
    return 0;
}

static int thr_run_until(wdfdma_machine *m, uint64_t t)
{
    struct timespec ts = abs_time(m, t);
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
        ;
    return 0;
}

static bool thr_step(wdfdma_machine *m)
{
    /* No single step on real threads: report whether anything is still in flight. */
    sched_yield();
    return !idle(m);
}

static void thr_stall(wdfdma_machine *m, uint64_t ns)
{
    uint64_t end = thr_now(m) + ns;
    while (thr_now(m) < end)
        ;
}

static void thr_preempt(wdfdma_machine *m)
{
    (void)m;                           /* real threads preempt by themselves */
}

static void thr_irql_lowered(wdfdma_machine *m)
{
    (void)m;                           /* interrupts and DPCs run on processor threads */
}

/* ---- start and stop ---------------------------------------------------------------------- */
static void set_stopping(wdfdma_machine *m)
{
    pthread_mutex_lock(&m->evq_lock);
    atomic_store(&m->stopping, true);
    pthread_cond_broadcast(&m->evq_cond);
    pthread_mutex_unlock(&m->evq_lock);
    for (unsigned i = 0; i < m->cfg.cpus; i++) {
        pthread_mutex_lock(&m->cpu[i].lock);
        pthread_cond_broadcast(&m->cpu[i].cond);
        pthread_mutex_unlock(&m->cpu[i].lock);
    }
    pthread_mutex_lock(&m->work_lock);
    pthread_cond_broadcast(&m->work_cond);
    pthread_mutex_unlock(&m->work_lock);
}

static void join_all(wdfdma_machine *m, unsigned cpus, bool dev, unsigned workers)
{
    set_stopping(m);
    for (unsigned i = 0; i < cpus; i++)
        pthread_join(m->cpu[i].thread, NULL);
    if (dev)
        pthread_join(m->dev_thread, NULL);
    for (unsigned i = 0; i < workers; i++)
        pthread_join(m->workers[i], NULL);
}

static int thr_start(wdfdma_machine *m)
{
    m->t0_ns = mach_monotonic_ns();
    m->dev_thread_wake_at = UINT64_MAX;
    unsigned cpus = 0, workers = 0;
    bool dev = false;
    int rc;
    for (; cpus < m->cfg.cpus; cpus++)
        if ((rc = pthread_create(&m->cpu[cpus].thread, NULL, cpu_thread, &m->cpu[cpus])))
            goto err_join;
    if ((rc = pthread_create(&m->dev_thread, NULL, device_thread, m)))
        goto err_join;
    dev = true;
    for (; workers < 2; workers++)
        if ((rc = pthread_create(&m->workers[workers], NULL, worker_thread, m)))
            goto err_join;
    m->nworkers = workers;
    m->threads_started = true;
    return 0;

err_join:
    join_all(m, cpus, dev, workers);
    return mach_error(rc, "cannot start the threads engine: %s", strerror(rc));
}

static void thr_stop(wdfdma_machine *m)
{
    if (!m->threads_started)
        return;
    join_all(m, m->cfg.cpus, true, m->nworkers);
    m->threads_started = false;
    unsigned left = mach_evq_size(&m->evq);
    if (left)
        mach_report(m, "shutdown", "%u hardware event(s) still scheduled at machine destroy "
                    "were dropped", left);
}

const mach_engine_ops mach_threads_engine = {
    .name = "threads",
    .start = thr_start,
    .stop = thr_stop,
    .now = thr_now,
    .after = thr_after,
    .cancel = thr_cancel,
    .dpc_queue = thr_dpc_queue,
    .dpc_remove = thr_dpc_remove,
    .work_queue = thr_work_queue,
    .wait = thr_wait,
    .signal = thr_signal,
    .stall = thr_stall,
    .preempt = thr_preempt,
    .irql_lowered = thr_irql_lowered,
    .irq_kick = thr_irq_kick,
    .run = thr_run,
    .run_until = thr_run_until,
    .step = thr_step,
};
