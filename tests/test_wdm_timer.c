/*
 * Kernel timers: one-shot with a DPC, cancel, re-arm, periodic, waiting on the timer
 * object itself, absolute due times. Sim and threads.
 */
#include "wdm_testutil.h"

#define MS(n) ((LONGLONG)(n) * -10000)

typedef struct tick {
    volatile long runs;
    volatile KIRQL irql;
    volatile ULONGLONG when[8];
} tick;

static VOID tick_dpc(PKDPC Dpc, PVOID Context, PVOID A1, PVOID A2)
{
    (void)Dpc;
    (void)A1;
    (void)A2;
    tick *t = Context;
    long n = t->runs;
    if (n < 8)
        t->when[n] = KeQueryInterruptTime();
    t->irql = KeGetCurrentIrql();
    __atomic_store_n(&t->runs, n + 1, __ATOMIC_SEQ_CST);
}

static void sleep_ms(LONGLONG ms)
{
    LARGE_INTEGER d = { .QuadPart = MS(ms) };
    KeDelayExecutionThread(KernelMode, FALSE, &d);
}

static void test_bad_irql(void **state)
{
    (void)state;
    wdfdma_machine *m = wt_machine(WDFDMA_ENGINE_SIM);
    wt_trap trap;
    wt_trap_install(m, &trap);
    KTIMER timer;
    KIRQL old;
    LARGE_INTEGER due = { .QuadPart = MS(1) };
    KeInitializeTimer(&timer);
    KeRaiseIrql(HIGH_LEVEL, &old);
    WT_EXPECT_BUGCHECK(&trap, KeSetTimer(&timer, due, NULL));
    assert_int_equal(trap.bc.code, IRQL_NOT_LESS_OR_EQUAL);
    WT_EXPECT_BUGCHECK(&trap, KeCancelTimer(&timer));
    assert_int_equal(trap.bc.code, IRQL_NOT_LESS_OR_EQUAL);
    wt_reset_irql();
    wdfdma_machine_destroy(m);
}

static void run_one_shot(wdfdma_engine engine)
{
    wdfdma_machine *m = wt_machine(engine);
    tick t = { 0 };
    KTIMER timer;
    KDPC dpc;
    LARGE_INTEGER due = { .QuadPart = MS(3) };
    KeInitializeDpc(&dpc, tick_dpc, &t);
    KeInitializeTimer(&timer);
    ULONGLONG t0 = KeQueryInterruptTime();
    assert_false(KeSetTimer(&timer, due, &dpc));
    assert_false(KeReadStateTimer(&timer));
    assert_int_equal(KeWaitForSingleObject(&timer, Executive, KernelMode, FALSE, NULL),
                     STATUS_SUCCESS);
    assert_true(KeReadStateTimer(&timer));   /* notification timer stays signalled */
    KeFlushQueuedDpcs();
    assert_int_equal(t.runs, 1);
    assert_int_equal(t.irql, DISPATCH_LEVEL);
    assert_true(t.when[0] - t0 >= 30000);
    assert_false(KeCancelTimer(&timer));      /* already expired */
    wdfdma_machine_destroy(m);
}

static void test_one_shot_sim(void **state)
{
    (void)state;
    run_one_shot(WDFDMA_ENGINE_SIM);
}

static void test_one_shot_threads(void **state)
{
    (void)state;
    run_one_shot(WDFDMA_ENGINE_THREADS);
}

static void run_cancel_and_rearm(wdfdma_engine engine)
{
    wdfdma_machine *m = wt_machine(engine);
    tick t = { 0 };
    KTIMER timer;
    KDPC dpc;
    LARGE_INTEGER far = { .QuadPart = MS(50) };
    LARGE_INTEGER near = { .QuadPart = MS(2) };
    KeInitializeDpc(&dpc, tick_dpc, &t);
    KeInitializeTimer(&timer);
    assert_false(KeSetTimer(&timer, far, &dpc));
    assert_true(KeSetTimer(&timer, far, &dpc));   /* re-arming an armed timer */
    assert_true(KeCancelTimer(&timer));
    assert_false(KeCancelTimer(&timer));
    sleep_ms(80);
    KeFlushQueuedDpcs();
    assert_int_equal(t.runs, 0);
    assert_false(KeSetTimer(&timer, near, &dpc));
    /* Wait for the expiry itself (bounded), not a fixed time: a loaded host may run the
     * threads engine's timer late, never early. */
    for (int i = 0; i < 5000 && __atomic_load_n(&t.runs, __ATOMIC_SEQ_CST) == 0; i++)
        sleep_ms(1);
    KeFlushQueuedDpcs();
    assert_int_equal(t.runs, 1);
    wdfdma_machine_destroy(m);
}

static void test_cancel_and_rearm_sim(void **state)
{
    (void)state;
    run_cancel_and_rearm(WDFDMA_ENGINE_SIM);
}

static void test_cancel_and_rearm_threads(void **state)
{
    (void)state;
    run_cancel_and_rearm(WDFDMA_ENGINE_THREADS);
}

static void run_periodic(wdfdma_engine engine)
{
    wdfdma_machine *m = wt_machine(engine);
    tick t = { 0 };
    KTIMER timer;
    KDPC dpc;
    LARGE_INTEGER due = { .QuadPart = MS(1) };
    KeInitializeDpc(&dpc, tick_dpc, &t);
    KeInitializeTimerEx(&timer, SynchronizationTimer);
    KeSetTimerEx(&timer, due, 2, &dpc);
    for (int i = 0; i < 4; i++)
        assert_int_equal(KeWaitForSingleObject(&timer, Executive, KernelMode, FALSE, NULL),
                         STATUS_SUCCESS);
    assert_true(KeCancelTimer(&timer));
    KeFlushQueuedDpcs();
    /* Four expirations signalled the timer. Each queues the DPC, but a DPC already in the
     * queue is not queued again (KeInsertQueueDpc returns FALSE), so with real threads a
     * starved DPC thread may run it fewer times than the waits saw, but at least once. */
    assert_true(t.runs >= 1);
    if (engine == WDFDMA_ENGINE_SIM) {
        assert_int_equal(t.runs, 4);
        for (int i = 1; i < 4; i++)
            assert_int_equal(t.when[i] - t.when[i - 1], 20000);   /* 2 ms period */
    }
    wdfdma_machine_destroy(m);
}

static void test_periodic_sim(void **state)
{
    (void)state;
    run_periodic(WDFDMA_ENGINE_SIM);
}

static void test_periodic_threads(void **state)
{
    (void)state;
    run_periodic(WDFDMA_ENGINE_THREADS);
}

static void test_absolute_due_time(void **state)
{
    (void)state;
    wdfdma_machine *m = wt_machine(WDFDMA_ENGINE_SIM);
    KTIMER timer;
    LARGE_INTEGER now, due;
    KeInitializeTimer(&timer);
    KeQuerySystemTime(&now);
    due.QuadPart = now.QuadPart + 40000;      /* 4 ms from now, absolute */
    KeSetTimer(&timer, due, NULL);
    assert_int_equal(KeWaitForSingleObject(&timer, Executive, KernelMode, FALSE, NULL),
                     STATUS_SUCCESS);
    KeQuerySystemTime(&now);
    assert_true(now.QuadPart >= due.QuadPart);
    wdfdma_machine_destroy(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_irql),
        cmocka_unit_test(test_one_shot_sim),
        cmocka_unit_test(test_one_shot_threads),
        cmocka_unit_test(test_cancel_and_rearm_sim),
        cmocka_unit_test(test_cancel_and_rearm_threads),
        cmocka_unit_test(test_periodic_sim),
        cmocka_unit_test(test_periodic_threads),
        cmocka_unit_test(test_absolute_due_time),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
