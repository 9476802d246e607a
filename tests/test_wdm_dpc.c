/*
 * DPCs: queued at most once, run at DISPATCH_LEVEL with the arguments of the insert,
 * KeRemoveQueueDpc, KeFlushQueuedDpcs, re-queueing from the routine. Sim and threads.
 */
#include "wdm_testutil.h"

typedef struct dpc_rec {
    wdfdma_machine *m;
    volatile long runs;
    volatile KIRQL irql;
    PVOID ctx, a1, a2;
    int requeue;           /* times the routine queues itself again */
} dpc_rec;

static VOID record_dpc(PKDPC Dpc, PVOID Context, PVOID A1, PVOID A2)
{
    dpc_rec *r = Context;
    r->irql = KeGetCurrentIrql();
    r->ctx = Context;
    r->a1 = A1;
    r->a2 = A2;
    if (r->requeue > 0) {
        r->requeue--;
        assert_true(KeInsertQueueDpc(Dpc, A1, A2));
    }
    __atomic_add_fetch(&r->runs, 1, __ATOMIC_SEQ_CST);
}

static void test_queued_once_sim(void **state)
{
    (void)state;
    wdm_pool_stats before;
    wdm_pool_get_stats(&before);
    dpc_rec r = { .m = wt_machine(WDFDMA_ENGINE_SIM) };
    KDPC dpc;
    KIRQL old;
    KeInitializeDpc(&dpc, record_dpc, &r);
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    assert_true(KeInsertQueueDpc(&dpc, (PVOID)1, (PVOID)2));
    assert_false(KeInsertQueueDpc(&dpc, (PVOID)3, (PVOID)4));
    assert_int_equal(r.runs, 0);       /* masked at DISPATCH_LEVEL */
    KeLowerIrql(old);
    KeFlushQueuedDpcs();
    assert_int_equal(r.runs, 1);
    assert_int_equal(r.irql, DISPATCH_LEVEL);
    assert_ptr_equal(r.ctx, &r);
    assert_ptr_equal(r.a1, (PVOID)1);  /* the first insert's arguments */
    assert_ptr_equal(r.a2, (PVOID)2);
    assert_int_equal(wdm_dpcs_pending(r.m), 0);
    wt_finish(r.m, &before);
}

static void test_remove_sim(void **state)
{
    (void)state;
    dpc_rec r = { .m = wt_machine(WDFDMA_ENGINE_SIM) };
    KDPC dpc;
    KIRQL old;
    KeInitializeDpc(&dpc, record_dpc, &r);
    assert_false(KeRemoveQueueDpc(&dpc));          /* never queued */
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    assert_true(KeInsertQueueDpc(&dpc, NULL, NULL));
    assert_true(KeRemoveQueueDpc(&dpc));
    assert_false(KeRemoveQueueDpc(&dpc));
    KeLowerIrql(old);
    KeFlushQueuedDpcs();
    assert_int_equal(r.runs, 0);
    /* Removed DPCs can be queued again. */
    assert_true(KeInsertQueueDpc(&dpc, NULL, NULL));
    KeFlushQueuedDpcs();
    assert_int_equal(r.runs, 1);
    wdfdma_machine_destroy(r.m);
}

static void run_requeue(wdfdma_engine engine)
{
    dpc_rec r = { .m = wt_machine(engine), .requeue = 3 };
    KDPC dpc;
    KeInitializeDpc(&dpc, record_dpc, &r);
    KeSetTargetProcessorDpc(&dpc, 0);
    assert_true(KeInsertQueueDpc(&dpc, (PVOID)7, NULL));
    KeFlushQueuedDpcs();
    assert_int_equal(r.runs, 4);
    assert_int_equal(r.irql, DISPATCH_LEVEL);
    assert_ptr_equal(r.a1, (PVOID)7);
    wdfdma_machine_destroy(r.m);
}

static void test_requeue_from_routine_sim(void **state)
{
    (void)state;
    run_requeue(WDFDMA_ENGINE_SIM);
}

static void test_requeue_from_routine_threads(void **state)
{
    (void)state;
    run_requeue(WDFDMA_ENGINE_THREADS);
}

static void test_many_dpcs_threads(void **state)
{
    (void)state;
    dpc_rec r[8];
    KDPC dpc[8];
    wdfdma_machine *m = wt_machine(WDFDMA_ENGINE_THREADS);
    ULONG cpus = KeQueryActiveProcessorCount(NULL);
    for (int i = 0; i < 8; i++) {
        memset(&r[i], 0, sizeof(r[i]));
        KeInitializeDpc(&dpc[i], record_dpc, &r[i]);
        KeSetTargetProcessorDpc(&dpc[i], (CCHAR)(i % cpus));
        assert_true(KeInsertQueueDpc(&dpc[i], (PVOID)(ULONG_PTR)i, NULL));
    }
    KeFlushQueuedDpcs();
    for (int i = 0; i < 8; i++) {
        assert_int_equal(r[i].runs, 1);
        assert_int_equal(r[i].irql, DISPATCH_LEVEL);
        assert_ptr_equal(r[i].a1, (PVOID)(ULONG_PTR)i);
    }
    wdfdma_machine_destroy(m);
}

static void test_flush_at_dispatch_bugchecks(void **state)
{
    (void)state;
    wdfdma_machine *m = wt_machine(WDFDMA_ENGINE_SIM);
    wt_trap trap;
    wt_trap_install(m, &trap);
    KIRQL old;
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    WT_EXPECT_BUGCHECK(&trap, KeFlushQueuedDpcs());
    assert_int_equal(trap.bc.code, IRQL_NOT_LESS_OR_EQUAL);
    wt_reset_irql();
    wdfdma_machine_destroy(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_flush_at_dispatch_bugchecks),
        cmocka_unit_test(test_queued_once_sim),
        cmocka_unit_test(test_remove_sim),
        cmocka_unit_test(test_requeue_from_routine_sim),
        cmocka_unit_test(test_requeue_from_routine_threads),
        cmocka_unit_test(test_many_dpcs_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
