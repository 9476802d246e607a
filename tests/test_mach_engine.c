/*
 * Engines: the event queue, time, work items, waiting, determinism per seed, the hardware
 * re-entry guard, and the same toy I/O completing on the sim and threads engines.
 * Order: bad arguments, then success, then wrong-state misuse.
 */
#include <errno.h>
#include <stdio.h>

#include "mach_testutil.h"

/* ---- helpers -------------------------------------------------------------------------- */
typedef struct order_log {
    wdfdma_machine *m;
    int seq[64];
    uint64_t when[64];
    int n;
} order_log;

typedef struct order_ev {
    order_log *log;
    int tag;
} order_ev;

static void log_event(void *ctx)
{
    order_ev *e = ctx;
    order_log *l = e->log;
    l->when[l->n] = mach_now(l->m);
    l->seq[l->n++] = e->tag;
}

/* ---- bad arguments ------------------------------------------------------------------------ */
static void test_bad_arguments(void **state)
{
    (void)state;
    wdfdma_machine *m = tu_machine(WDFDMA_ENGINE_SIM, 1);
    assert_int_equal(mach_after(NULL, 10, log_event, NULL), 0);
    assert_int_equal(mach_after(m, 10, NULL, NULL), 0);
    assert_false(mach_cancel(m, 0));
    assert_false(mach_cancel(m, 0x123456789ull));
    assert_false(mach_cancel(NULL, 1));
    assert_false(mach_dpc_queue(NULL, 0, NULL));
    mach_work nofn = { 0 };
    assert_false(mach_dpc_queue(m, 0, &nofn));
    assert_false(mach_dpc_remove(m, &nofn));
    mach_work_queue(m, &nofn);                  /* ignored, no crash */
    assert_false(mach_wait(m, NULL, NULL, 0));
    assert_false(wdfdma_machine_step(m));       /* idle */
    wdfdma_machine_destroy(m);
}

/* ---- success ----------------------------------------------------------------------------- */
static void test_event_order_and_time(void **state)
{
    (void)state;
    wdfdma_machine *m = tu_machine(WDFDMA_ENGINE_SIM, 3);
    order_log log = { .m = m };
    order_ev ev[6];
    const uint64_t delays[6] = { 500, 100, 300, 200, 600, 400 };
    mach_event_id ids[6];
    for (int i = 0; i < 6; i++) {
        ev[i] = (order_ev){ &log, i };
        ids[i] = mach_after(m, delays[i], log_event, &ev[i]);
        assert_int_not_equal(ids[i], 0);
    }
    assert_true(mach_cancel(m, ids[5]));         /* the 400 ns event */
    assert_false(mach_cancel(m, ids[5]));        /* already cancelled */
    assert_int_equal(wdfdma_machine_run(m), 0);
    assert_int_equal(log.n, 5);
    const int expect[5] = { 1, 3, 2, 0, 4 };
    for (int i = 0; i < 5; i++)
        assert_int_equal(log.seq[i], expect[i]);
    assert_int_equal(log.when[0], 100);
    assert_int_equal(log.when[4], 600);
    assert_int_equal(wdfdma_machine_now(m), 600);
    assert_false(mach_cancel(m, ids[0]));        /* ran: stale id */
    /* run_until stops before later events and moves time to the bound */
    log.n = 0;
    mach_after(m, 1000, log_event, &ev[0]);
    assert_int_equal(wdfdma_machine_run_until(m, 1000), 0);
    assert_int_equal(log.n, 0);
    assert_int_equal(wdfdma_machine_now(m), 1000);
    assert_true(wdfdma_machine_step(m));
    assert_int_equal(log.n, 1);
    assert_int_equal(wdfdma_machine_now(m), 1600);
    wdfdma_machine_stats st;
    wdfdma_machine_get_stats(m, &st);
    assert_int_equal(st.events, 6);
    wdfdma_machine_destroy(m);
}

static void test_many_events_heap(void **state)
{
    (void)state;
    wdfdma_machine *m = tu_machine(WDFDMA_ENGINE_SIM, 5);
    enum { N = 5000 };
    static order_ev evs[N];
    static mach_event_id ids[N];
    order_log log = { .m = m };
    uint64_t last = 0;
    int ran = 0;
    for (int i = 0; i < N; i++) {
        evs[i] = (order_ev){ &log, i };
        ids[i] = mach_after(m, (uint64_t)(mach_random(m) % 100000), log_event, &evs[i]);
    }
    for (int i = 0; i < N; i += 3)
        assert_true(mach_cancel(m, ids[i]));
    while (wdfdma_machine_step(m)) {
        assert_true(mach_now(m) >= last);
        last = mach_now(m);
        log.n = 0;                                /* keep the small log from overflowing */
        ran++;
    }
    assert_int_equal(ran, N - (N + 2) / 3);
    wdfdma_machine_destroy(m);
}

typedef struct work_ctx {
    mach_work w;
    wdfdma_machine *m;
    _Atomic int runs;
    uint8_t irql;
} work_ctx;

static void work_fn(mach_work *w)
{
    work_ctx *c = (work_ctx *)w;
    c->runs++;
    c->irql = mach_irql();
    mach_signal(c->m);
}

static bool work_done(void *ctx)
{
    return ((work_ctx *)ctx)->runs > 0;
}

static void test_work_items_and_wait(void **state)
{
    (void)state;
    wdfdma_machine *m = tu_machine(WDFDMA_ENGINE_SIM, 1);
    work_ctx c = { .w.fn = work_fn, .m = m, .irql = 99 };
    mach_work_queue(m, &c.w);
    mach_work_queue(m, &c.w);                    /* queued once */
    assert_true(mach_wait(m, work_done, &c, -1));
    assert_int_equal(c.runs, 1);
    assert_int_equal(c.irql, MACH_PASSIVE_LEVEL);
    /* timeout: nothing will happen before it, time moves to the deadline */
    work_ctx idle = { .m = m };
    mach_after(m, 10000, log_event, &(order_ev){ &(order_log){ .m = m }, 0 });
    uint64_t t0 = mach_now(m);
    assert_false(mach_wait(m, work_done, &idle, 500));
    assert_int_equal(mach_now(m), t0 + 500);
    wdfdma_machine_run(m);
    wdfdma_machine_destroy(m);
}

/* ---- determinism ------------------------------------------------------------------------ */
/* Two toys whose copies complete at the same virtual time: which ISR and DPC runs first
 * is the seed's choice. Returns the trace hash; *first gets the device that completed
 * first. */
static uint64_t racy_run(uint64_t seed, unsigned preempt, int *first)
{
    wdfdma_machine_config c;
    wdfdma_machine_config_init(&c);
    c.seed = seed;
    c.preempt_percent = preempt;
    wdfdma_machine *m = NULL;
    assert_int_equal(wdfdma_machine_create(&c, &m), 0);
    tu_toy a, b;
    tu_toy_attach(&a, m, "a", "latency=1000");
    tu_toy_attach(&b, m, "b", "latency=1000");
    void *va[2];
    uint64_t pa[2];
    assert_int_equal(mach_mem_alloc_contig(m, 8192, 0, 0, &va[0], &pa[0]), 0);
    assert_int_equal(mach_mem_alloc_contig(m, 8192, 0, 0, &va[1], &pa[1]), 0);
    tu_fill(va[0], 4096, 1);
    tu_fill(va[1], 4096, 2);
    tu_toy_start(&a, pa[0], pa[0] + 4096, 4096);
    tu_toy_start(&b, pa[1], pa[1] + 4096, 4096);
    assert_true(tu_toy_wait(&a, 1));
    assert_true(tu_toy_wait(&b, 1));
    assert_int_equal(tu_check((uint8_t *)va[0] + 4096, 4096, 1), 4096);
    assert_int_equal(tu_check((uint8_t *)va[1] + 4096, 4096, 2), 4096);
    wdfdma_trace_record recs[256];
    size_t n = wdfdma_trace_recent(m, recs, 256);
    *first = -1;
    for (size_t i = 0; i < n && *first < 0; i++)
        if (recs[i].type == WDFDMA_TR_DEVICE && recs[i].name &&
            strcmp(recs[i].name, "toy-done") == 0)
            *first = recs[i].obj == wdfdma_dev_id(a.dev) ? 0 : 1;
    uint64_t h = wdfdma_machine_trace_hash(m);
    tu_toy_detach(&a);
    tu_toy_detach(&b);
    mach_mem_free_contig(m, va[0], 8192);
    mach_mem_free_contig(m, va[1], 8192);
    wdfdma_machine_destroy(m);
    return h;
}

static void test_determinism_same_seed(void **state)
{
    (void)state;
    int f1, f2;
    uint64_t h1 = racy_run(42, 50, &f1), h2 = racy_run(42, 50, &f2);
    assert_int_equal(h1, h2);
    assert_int_equal(f1, f2);
    assert_true(f1 == 0 || f1 == 1);
}

/* No preemption: the two completions are due at the same virtual time and only the
 * seeded tie-break decides which device's event (and ISR, and DPC) runs first. */
static void test_different_seeds_break_ties(void **state)
{
    (void)state;
    int seen[2] = { 0, 0 };
    for (uint64_t s = 1; s <= 16; s++) {
        int f;
        racy_run(s, 0, &f);
        seen[f]++;
    }
    assert_true(seen[0] > 0 && seen[1] > 0);     /* both devices won the race sometimes */
}

/* With preemption, DDI boundaries consume seeded time and let hardware run: the runs
 * differ in timing as well as order. */
static void test_different_seeds_preempt(void **state)
{
    (void)state;
    uint64_t hashes[16];
    int distinct = 0;
    for (uint64_t s = 1; s <= 16; s++) {
        int f;
        hashes[s - 1] = racy_run(s, 50, &f);
        bool fresh = true;
        for (uint64_t k = 0; k + 1 < s; k++)
            fresh &= hashes[k] != hashes[s - 1];
        distinct += fresh;
    }
    assert_true(distinct > 8);
}

/* ---- the same toy I/O on both engines ---------------------------------------------------- */
static void toy_io(wdfdma_engine engine, unsigned copies)
{
    wdfdma_machine *m = tu_machine(engine, 9);
    tu_toy t;
    tu_toy_attach(&t, m, "toy", "latency=500");
    enum { SZ = 3 * 4096 + 100 };
    void *src, *dst;
    uint64_t ps, pd;
    assert_int_equal(mach_mem_alloc_contig(m, SZ, 0, 0, &src, &ps), 0);
    assert_int_equal(mach_mem_alloc_contig(m, SZ + 64, 0, 0, &dst, &pd), 0);
    for (unsigned i = 0; i < copies; i++) {
        uint32_t len = 1 + (uint32_t)((i * 7919u) % SZ);
        tu_fill(src, SZ, i);
        memset(dst, 0xEE, SZ + 64);
        tu_toy_start(&t, ps, pd, len);
        assert_true(tu_toy_wait(&t, i + 1));
        assert_int_equal(tu_check(dst, len, i), len);
        for (size_t k = len; k < SZ + 64; k++)  /* nothing written past the end */
            assert_int_equal(((uint8_t *)dst)[k], 0xEE);
    }
    assert_int_equal(tu_rd(&t, TOY_REG_COUNT), copies);
    assert_int_equal(atomic_load(&t.errors), 0);
    assert_int_equal(atomic_load(&t.last_isr_irql), t.dirql);
    assert_int_equal(atomic_load(&t.last_dpc_irql), MACH_DISPATCH_LEVEL);
    assert_int_equal(wdfdma_machine_run(m), 0);
    wdfdma_machine_stats st;
    wdfdma_machine_get_stats(m, &st);
    assert_int_equal(st.interrupts, copies);
    assert_int_equal(st.dma_reads, copies);
    assert_int_equal(st.dma_writes, copies);
    tu_toy_detach(&t);
    mach_mem_free_contig(m, src, SZ);
    mach_mem_free_contig(m, dst, SZ + 64);
    assert_int_equal(mach_findings(m), 0);
    wdfdma_machine_destroy(m);
}

static void test_toy_io_sim(void **state)
{
    (void)state;
    toy_io(WDFDMA_ENGINE_SIM, 200);
}

static void test_toy_io_threads(void **state)
{
    (void)state;
    toy_io(WDFDMA_ENGINE_THREADS, 200);
}

/* Threads: two devices on different vectors (so different processor threads) copying at
 * once, work items in flight, the host thread waiting. */
static void test_threads_concurrent_devices(void **state)
{
    (void)state;
    wdfdma_machine *m = tu_machine(WDFDMA_ENGINE_THREADS, 4);
    tu_toy a, b;
    tu_toy_attach(&a, m, "a", "latency=20000");
    tu_toy_attach(&b, m, "b", "latency=1000,irq=msi");
    void *va;
    uint64_t pa;
    assert_int_equal(mach_mem_alloc_contig(m, 4 * 8192, 0, 0, &va, &pa), 0);
    uint8_t *p = va;
    work_ctx w = { .w.fn = work_fn, .m = m };
    for (unsigned i = 0; i < 100; i++) {
        tu_fill(p, 8192, i);
        tu_fill(p + 8192, 8192, i + 1000);
        tu_toy_start(&a, pa, pa + 16384, 8192);
        tu_toy_start(&b, pa + 8192, pa + 24576, 8192);
        mach_work_queue(m, &w.w);
        assert_true(tu_toy_wait(&a, i + 1));
        assert_true(tu_toy_wait(&b, i + 1));
        assert_int_equal(tu_check(p + 16384, 8192, i), 8192);
        assert_int_equal(tu_check(p + 24576, 8192, i + 1000), 8192);
    }
    assert_int_equal(wdfdma_machine_run(m), 0);
    assert_true(atomic_load(&w.runs) >= 1);
    assert_int_equal(atomic_load(&b.last_message), 0);
    tu_toy_detach(&a);
    tu_toy_detach(&b);
    mach_mem_free_contig(m, va, 4 * 8192);
    wdfdma_machine_destroy(m);
}

/* ---- wrong state -------------------------------------------------------------------------- */
static bool never(void *ctx)
{
    (void)ctx;
    return false;
}

static void test_wait_deadlock_reported(void **state)
{
    (void)state;
    wdfdma_machine *m = tu_machine(WDFDMA_ENGINE_SIM, 1);
    wdfdma_machine_set_bugcheck_quiet(m, true);
    uint64_t f = mach_findings(m);
    assert_false(mach_wait(m, never, NULL, -1));
    assert_int_equal(mach_findings(m), f + 1);
    wdfdma_trace_record r;
    assert_int_equal(wdfdma_trace_recent(m, &r, 1), 1);
    assert_string_equal(r.name, "deadlock");
    wdfdma_machine_destroy(m);
}

/* A hardware event that stalls or hits a preemption point must not run other hardware
 * events nested: the guard defers them to the loop. */
typedef struct reentry {
    wdfdma_machine *m;
    order_log *log;
    order_ev inner;
} reentry;

static void reentrant_event(void *ctx)
{
    reentry *r = ctx;
    mach_after(r->m, 10, log_event, &r->inner);
    mach_stall(r->m, 100);                     /* the inner event is due now */
    mach_preempt_point();
    r->log->seq[r->log->n++] = 100;            /* must be logged before the inner event */
    assert_int_equal(wdfdma_machine_run(r->m), -EPERM);
}

static void test_hardware_reentry_guard(void **state)
{
    (void)state;
    wdfdma_machine_config c;
    wdfdma_machine_config_init(&c);
    c.preempt_percent = 100;
    wdfdma_machine *m = NULL;
    assert_int_equal(wdfdma_machine_create(&c, &m), 0);
    wdfdma_machine_set_bugcheck_quiet(m, true);
    order_log log = { .m = m };
    reentry r = { .m = m, .log = &log, .inner = { &log, 7 } };
    mach_after(m, 5, reentrant_event, &r);
    assert_int_equal(wdfdma_machine_run(m), 0);
    assert_int_equal(log.n, 2);
    assert_int_equal(log.seq[0], 100);
    assert_int_equal(log.seq[1], 7);
    wdfdma_machine_destroy(m);
}

static void test_threads_timers_and_cancel(void **state)
{
    (void)state;
    wdfdma_machine *m = tu_machine(WDFDMA_ENGINE_THREADS, 1);
    work_ctx c = { .w.fn = work_fn, .m = m };
    mach_work_queue(m, &c.w);
    assert_true(mach_wait(m, work_done, &c, 2000000000));
    order_log log = { .m = m };
    order_ev e = { &log, 1 };
    mach_event_id id = mach_after(m, 1000000000ull, log_event, &e);
    assert_true(mach_cancel(m, id));
    uint64_t t0 = mach_now(m);
    assert_false(mach_wait(m, never, NULL, 2000000));  /* 2 ms */
    assert_true(mach_now(m) - t0 >= 2000000);
    assert_int_equal(wdfdma_machine_run(m), 0);
    assert_int_equal(log.n, 0);
    wdfdma_machine_destroy(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_event_order_and_time),
        cmocka_unit_test(test_many_events_heap),
        cmocka_unit_test(test_work_items_and_wait),
        cmocka_unit_test(test_determinism_same_seed),
        cmocka_unit_test(test_different_seeds_break_ties),
        cmocka_unit_test(test_different_seeds_preempt),
        cmocka_unit_test(test_toy_io_sim),
        cmocka_unit_test(test_toy_io_threads),
        cmocka_unit_test(test_threads_concurrent_devices),
        cmocka_unit_test(test_wait_deadlock_reported),
        cmocka_unit_test(test_hardware_reentry_guard),
        cmocka_unit_test(test_threads_timers_and_cancel),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
