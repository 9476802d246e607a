/*
 * Processors: IRQL rules, spin locks, bug-check reports, DPC queues and preemption.
 * Bug checks are trapped with the handler + setjmp/longjmp.
 * Order: bad arguments, then success, then wrong-state misuse.
 */
#include <stdio.h>

#include "mach_testutil.h"

/* ---- bad arguments: IRQL values the rules refuse -------------------------------------- */
static void test_raise_below_current_is_0x9(void **state)
{
    (void)state;
    wdfdma_machine *m = tu_machine(WDFDMA_ENGINE_SIM, 1);
    tu_trap t;
    tu_trap_install(m, &t);
    assert_int_equal(mach_irql_raise(MACH_DISPATCH_LEVEL), MACH_PASSIVE_LEVEL);
    if (setjmp(t.jb) == 0) {
        mach_irql_raise(MACH_APC_LEVEL);
        fail_msg("raise below the current IRQL returned");
    }
    assert_int_equal(t.hits, 1);
    assert_int_equal(t.bc.code, MACH_BC_IRQL_NOT_GREATER_OR_EQUAL);
    assert_int_equal(t.bc.p[0], MACH_DISPATCH_LEVEL);
    assert_int_equal(t.bc.p[1], MACH_APC_LEVEL);
    assert_int_equal(mach_irql(), MACH_DISPATCH_LEVEL);   /* unchanged */
    const wdfdma_bugcheck *last = wdfdma_machine_last_bugcheck(m);
    assert_non_null(last);
    assert_int_equal(last->code, 0x9);
    assert_non_null(strstr(last->message, "IRQL_NOT_GREATER_OR_EQUAL"));
    mach_irql_lower(MACH_PASSIVE_LEVEL);
    wdfdma_machine_destroy(m);
}

static void test_lower_above_current_is_0xA(void **state)
{
    (void)state;
    wdfdma_machine *m = tu_machine(WDFDMA_ENGINE_SIM, 1);
    tu_trap t;
    tu_trap_install(m, &t);
    mach_callback_enter("EvtTestCallback", 7);
    if (setjmp(t.jb) == 0) {
        mach_irql_lower(MACH_DISPATCH_LEVEL);
        fail_msg("lower above the current IRQL returned");
    }
    assert_int_equal(t.bc.code, MACH_BC_IRQL_NOT_LESS_OR_EQUAL);
    assert_int_equal(t.bc.p[0], MACH_PASSIVE_LEVEL);
    assert_int_equal(t.bc.p[1], MACH_DISPATCH_LEVEL);
    assert_string_equal(t.bc.callback, "EvtTestCallback");
    mach_callback_exit("EvtTestCallback", 7);
    assert_string_equal(mach_callback_current(), "");
    /* the bug check is in the trace with its code */
    wdfdma_trace_record recs[8];
    size_t n = wdfdma_trace_recent(m, recs, 8);
    bool found = false;
    for (size_t i = 0; i < n; i++)
        found |= recs[i].type == WDFDMA_TR_BUGCHECK && recs[i].a == 0xA;
    assert_true(found);
    wdfdma_machine_destroy(m);
}

/* ---- success -------------------------------------------------------------------------------- */
static void test_raise_lower_nesting(void **state)
{
    (void)state;
    wdfdma_machine *m = tu_machine(WDFDMA_ENGINE_SIM, 1);
    assert_int_equal(mach_irql(), MACH_PASSIVE_LEVEL);
    assert_int_equal(mach_cpu_current(), 0);
    assert_ptr_equal(mach_current(), m);
    uint8_t a = mach_irql_raise(MACH_DISPATCH_LEVEL);
    uint8_t b = mach_irql_raise(MACH_DISPATCH_LEVEL);  /* equal is allowed */
    uint8_t c = mach_irql_raise(5);
    assert_int_equal(a, 0);
    assert_int_equal(b, 2);
    assert_int_equal(c, 2);
    assert_int_equal(mach_irql(), 5);
    mach_irql_lower(c);
    mach_irql_lower(a);
    assert_int_equal(mach_irql(), MACH_PASSIVE_LEVEL);
    wdfdma_machine_destroy(m);
}

static void test_spin_locks(void **state)
{
    (void)state;
    wdfdma_machine *m = tu_machine(WDFDMA_ENGINE_SIM, 1);
    volatile uintptr_t lock = 0;
    assert_false(mach_spin_held_by_me(&lock));
    mach_spin_acquire(&lock);
    assert_true(lock != 0);
    assert_true(mach_spin_held_by_me(&lock));
    assert_false(mach_spin_try(&lock));
    mach_spin_release(&lock);
    assert_int_equal(lock, 0);
    assert_true(mach_spin_try(&lock));
    mach_spin_release(&lock);
    wdfdma_machine_destroy(m);
}

typedef struct dpc_ctx {
    mach_work w;
    int runs;
    unsigned cpu;
    uint8_t irql;
} dpc_ctx;

static void dpc_fn(mach_work *w)
{
    dpc_ctx *d = (dpc_ctx *)w;
    d->runs++;
    d->cpu = mach_cpu_current();
    d->irql = mach_irql();
}

static void test_dpc_queued_once_and_lowering_runs_it(void **state)
{
    (void)state;
    wdfdma_machine *m = tu_machine(WDFDMA_ENGINE_SIM, 1);
    dpc_ctx d = { .w.fn = dpc_fn }, e = { .w.fn = dpc_fn };
    uint8_t old = mach_irql_raise(MACH_DISPATCH_LEVEL);
    assert_true(mach_dpc_queue(m, 1, &d.w));
    assert_false(mach_dpc_queue(m, 1, &d.w));     /* already queued */
    assert_false(mach_dpc_queue(m, 0, &d.w));     /* not even to another processor */
    assert_true(mach_dpc_queue(m, 0, &e.w));
    assert_true(mach_dpc_remove(m, &e.w));
    assert_false(mach_dpc_remove(m, &e.w));
    assert_int_equal(d.runs, 0);                  /* masked at DISPATCH_LEVEL */
    mach_irql_lower(old);                         /* lowering delivers it */
    assert_int_equal(d.runs, 1);
    assert_int_equal(d.cpu, 1);
    assert_int_equal(d.irql, MACH_DISPATCH_LEVEL);
    assert_int_equal(e.runs, 0);
    assert_int_equal(mach_cpu_current(), 0);      /* context restored */
    assert_true(mach_dpc_queue(m, 1, &d.w));      /* may be queued again after running */
    wdfdma_machine_run(m);
    assert_int_equal(d.runs, 2);
    wdfdma_machine_stats st;
    wdfdma_machine_get_stats(m, &st);
    assert_int_equal(st.dpcs, 2);
    wdfdma_machine_destroy(m);
}

/* Preemption: with preempt_percent 100 a pending interrupt preempts at a DDI boundary at
 * PASSIVE_LEVEL, but not while the IRQL masks it; the DPC waits for IRQL < DISPATCH. */
typedef struct pre_ctx {
    wdfdma_machine *m;
    wdfdma_dev *dev;
    int isr_runs, dpc_runs;
    mach_work dpc;
} pre_ctx;

static bool pre_isr(void *ctx, uint32_t msg)
{
    (void)msg;
    pre_ctx *p = ctx;
    p->isr_runs++;
    wdfdma_dev_irq_deassert(p->dev, 0);
    mach_dpc_queue(p->m, mach_cpu_current(), &p->dpc);
    return true;
}

static void pre_dpc(mach_work *w)
{
    pre_ctx *p = (pre_ctx *)((char *)w - offsetof(pre_ctx, dpc));
    p->dpc_runs++;
}

static void test_preemption_points(void **state)
{
    (void)state;
    wdfdma_machine_config c;
    wdfdma_machine_config_init(&c);
    c.preempt_percent = 100;
    wdfdma_machine *m = NULL;
    assert_int_equal(wdfdma_machine_create(&c, &m), 0);
    pre_ctx p = { .m = m, .dpc.fn = pre_dpc };
    assert_int_equal(wdfdma_machine_add_device(m, "toy", "t", NULL, &p.dev), 0);
    const wdfdma_resource *irq = wdfdma_dev_resource(p.dev, 1);
    volatile uintptr_t lock = 0;
    mach_irq_conn *conn;
    assert_int_equal(mach_irq_connect(m, irq->vector, (uint8_t)irq->level, pre_isr, &p, &lock,
                                      &conn), 0);
    uint64_t t0 = mach_now(m);
    /* masked by IRQL: a DDI boundary at DIRQL does not deliver */
    uint8_t old = mach_irql_raise((uint8_t)irq->level);
    wdfdma_dev_irq_assert(p.dev, 0);
    mach_preempt_point();
    assert_int_equal(p.isr_runs, 0);
    assert_true(mach_now(m) > t0);                /* the boundary consumed virtual time */
    assert_true(mach_now(m) - t0 <= c.ddi_cost_ns);
    /* at DISPATCH the interrupt preempts but the DPC does not run */
    mach_irql_lower(MACH_DISPATCH_LEVEL);
    assert_int_equal(p.isr_runs, 1);
    assert_int_equal(p.dpc_runs, 0);
    mach_irql_lower(old);
    assert_int_equal(p.dpc_runs, 1);
    /* at PASSIVE a preemption point delivers both */
    wdfdma_dev_irq_assert(p.dev, 0);
    mach_preempt_point();
    assert_int_equal(p.isr_runs, 2);
    assert_int_equal(p.dpc_runs, 2);
    wdfdma_machine_stats st;
    wdfdma_machine_get_stats(m, &st);
    assert_true(st.preemptions >= 2);
    mach_irq_disconnect(conn);
    wdfdma_machine_destroy(m);
}

/* ---- wrong state ----------------------------------------------------------------------------- */
static void test_spin_reacquire_is_0xF(void **state)
{
    (void)state;
    wdfdma_machine *m = tu_machine(WDFDMA_ENGINE_SIM, 1);
    tu_trap t;
    tu_trap_install(m, &t);
    volatile uintptr_t lock = 0;
    mach_spin_acquire(&lock);
    if (setjmp(t.jb) == 0) {
        mach_spin_acquire(&lock);
        fail_msg("re-acquire returned");
    }
    assert_int_equal(t.bc.code, MACH_BC_SPIN_LOCK_ALREADY_OWNED);
    assert_int_equal(t.bc.p[0], (uint64_t)(uintptr_t)&lock);
    assert_int_equal(t.bc.p[1], lock);
    mach_spin_release(&lock);
    wdfdma_machine_destroy(m);
}

static void test_spin_release_unheld_is_0x10(void **state)
{
    (void)state;
    wdfdma_machine *m = tu_machine(WDFDMA_ENGINE_SIM, 1);
    tu_trap t;
    tu_trap_install(m, &t);
    volatile uintptr_t lock = 0;
    if (setjmp(t.jb) == 0) {
        mach_spin_release(&lock);
        fail_msg("release of an unheld lock returned");
    }
    assert_int_equal(t.bc.code, MACH_BC_SPIN_LOCK_NOT_OWNED);
    assert_int_equal(t.bc.p[0], (uint64_t)(uintptr_t)&lock);
    assert_int_equal(t.bc.p[1], 0);
    assert_non_null(strstr(t.bc.message, "not held"));
    wdfdma_machine_destroy(m);
}

static bool never(void *ctx)
{
    (void)ctx;
    return false;
}

static void test_wait_above_passive_bugchecks(void **state)
{
    (void)state;
    wdfdma_machine *m = tu_machine(WDFDMA_ENGINE_SIM, 1);
    tu_trap t;
    tu_trap_install(m, &t);
    uint8_t old = mach_irql_raise(MACH_DISPATCH_LEVEL);
    if (setjmp(t.jb) == 0) {
        mach_wait(m, never, NULL, -1);
        fail_msg("wait at DISPATCH returned");
    }
    assert_int_equal(t.bc.code, MACH_BC_IRQL_NOT_LESS_OR_EQUAL);
    assert_int_equal(t.bc.p[0], MACH_DISPATCH_LEVEL);
    mach_irql_lower(old);
    wdfdma_machine_destroy(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_raise_below_current_is_0x9),
        cmocka_unit_test(test_lower_above_current_is_0xA),
        cmocka_unit_test(test_raise_lower_nesting),
        cmocka_unit_test(test_spin_locks),
        cmocka_unit_test(test_dpc_queued_once_and_lowering_runs_it),
        cmocka_unit_test(test_preemption_points),
        cmocka_unit_test(test_spin_reacquire_is_0xF),
        cmocka_unit_test(test_spin_release_unheld_is_0x10),
        cmocka_unit_test(test_wait_above_passive_bugchecks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
