/*
 * Events and waits: notification vs synchronization, polls, timeouts in virtual time, a
 * wait satisfied by a DPC, and the IRQL rules. Sim and threads.
 */
#include "wdm_testutil.h"

#define MS(n) ((LONGLONG)(n) * -10000)   /* relative timeout of n milliseconds */

static void test_bad_irql(void **state)
{
    (void)state;
    wdfdma_machine *m = wt_machine(WDFDMA_ENGINE_SIM);
    wt_trap trap;
    wt_trap_install(m, &trap);
    KEVENT ev;
    KIRQL old;
    LARGE_INTEGER t = { .QuadPart = MS(1) };
    KeInitializeEvent(&ev, NotificationEvent, FALSE);
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    WT_EXPECT_BUGCHECK(&trap, KeWaitForSingleObject(&ev, Executive, KernelMode, FALSE, &t));
    assert_int_equal(trap.bc.code, IRQL_NOT_LESS_OR_EQUAL);
    assert_int_equal(trap.bc.p[1], DISPATCH_LEVEL);
    WT_EXPECT_BUGCHECK(&trap, KeWaitForSingleObject(&ev, Executive, KernelMode, FALSE, NULL));
    assert_int_equal(trap.bc.code, IRQL_NOT_LESS_OR_EQUAL);
    /* A zero timeout is a poll and is allowed at DISPATCH_LEVEL. */
    t.QuadPart = 0;
    assert_int_equal(KeWaitForSingleObject(&ev, Executive, KernelMode, FALSE, &t),
                     STATUS_TIMEOUT);
    KeRaiseIrql(HIGH_LEVEL, &old);
    WT_EXPECT_BUGCHECK(&trap, KeSetEvent(&ev, IO_NO_INCREMENT, FALSE));
    assert_int_equal(trap.bc.code, IRQL_NOT_LESS_OR_EQUAL);
    wt_reset_irql();
    wdfdma_machine_destroy(m);
}

static void test_notification_and_synchronization(void **state)
{
    (void)state;
    wdm_pool_stats before;
    wdm_pool_get_stats(&before);
    wdfdma_machine *m = wt_machine(WDFDMA_ENGINE_SIM);
    KEVENT n, s;
    LARGE_INTEGER poll = { .QuadPart = 0 };
    KeInitializeEvent(&n, NotificationEvent, FALSE);
    KeInitializeEvent(&s, SynchronizationEvent, TRUE);
    assert_int_equal(KeReadStateEvent(&n), 0);
    assert_int_equal(KeSetEvent(&n, IO_NO_INCREMENT, FALSE), 0);
    assert_int_equal(KeSetEvent(&n, IO_NO_INCREMENT, FALSE), 1);
    /* Notification: every wait is satisfied until reset. */
    assert_int_equal(KeWaitForSingleObject(&n, Executive, KernelMode, FALSE, &poll), STATUS_SUCCESS);
    assert_int_equal(KeWaitForSingleObject(&n, Executive, KernelMode, FALSE, NULL), STATUS_SUCCESS);
    assert_int_equal(KeResetEvent(&n), 1);
    assert_int_equal(KeWaitForSingleObject(&n, Executive, KernelMode, FALSE, &poll), STATUS_TIMEOUT);
    /* Synchronization: one satisfied wait consumes the signal. */
    assert_int_equal(KeWaitForSingleObject(&s, Executive, KernelMode, FALSE, &poll), STATUS_SUCCESS);
    assert_int_equal(KeReadStateEvent(&s), 0);
    assert_int_equal(KeWaitForSingleObject(&s, Executive, KernelMode, FALSE, &poll), STATUS_TIMEOUT);
    KeSetEvent(&s, IO_NO_INCREMENT, FALSE);
    KeClearEvent(&s);
    assert_int_equal(KeReadStateEvent(&s), 0);
    wt_finish(m, &before);
}

static void test_timeout_advances_virtual_time(void **state)
{
    (void)state;
    wdfdma_machine *m = wt_machine(WDFDMA_ENGINE_SIM);
    KEVENT ev;
    LARGE_INTEGER t = { .QuadPart = MS(5) };
    KeInitializeEvent(&ev, NotificationEvent, FALSE);
    ULONGLONG t0 = KeQueryInterruptTime();
    assert_int_equal(KeWaitForSingleObject(&ev, Executive, KernelMode, FALSE, &t), STATUS_TIMEOUT);
    ULONGLONG waited = KeQueryInterruptTime() - t0;
    assert_true(waited >= 50000);            /* 5 ms in 100 ns units */
    assert_true(waited < 50000 + 10000);
    wdfdma_machine_destroy(m);
}

typedef struct setter {
    KEVENT *ev;
    volatile int ran;
} setter;

static VOID set_from_dpc(PKDPC Dpc, PVOID Context, PVOID A1, PVOID A2)
{
    (void)Dpc;
    (void)A1;
    (void)A2;
    setter *s = Context;
    s->ran = 1;
    KeSetEvent(s->ev, IO_NO_INCREMENT, FALSE);
}

static void run_wait_for_timer_dpc(wdfdma_engine engine)
{
    wdfdma_machine *m = wt_machine(engine);
    KEVENT ev;
    KTIMER timer;
    KDPC dpc;
    setter s = { .ev = &ev };
    LARGE_INTEGER due = { .QuadPart = MS(2) };
    LARGE_INTEGER limit = { .QuadPart = MS(2000) };
    KeInitializeEvent(&ev, SynchronizationEvent, FALSE);
    KeInitializeDpc(&dpc, set_from_dpc, &s);
    KeInitializeTimer(&timer);
    KeSetTimer(&timer, due, &dpc);
    assert_int_equal(KeWaitForSingleObject(&ev, Executive, KernelMode, FALSE, &limit),
                     STATUS_SUCCESS);
    assert_int_equal(s.ran, 1);
    assert_int_equal(KeReadStateEvent(&ev), 0);  /* consumed by the wait */
    KeFlushQueuedDpcs();
    wdfdma_machine_destroy(m);
}

static void test_wait_for_timer_dpc_sim(void **state)
{
    (void)state;
    run_wait_for_timer_dpc(WDFDMA_ENGINE_SIM);
}

static void test_wait_for_timer_dpc_threads(void **state)
{
    (void)state;
    run_wait_for_timer_dpc(WDFDMA_ENGINE_THREADS);
}

static void test_timeout_threads(void **state)
{
    (void)state;
    wdfdma_machine *m = wt_machine(WDFDMA_ENGINE_THREADS);
    KEVENT ev;
    LARGE_INTEGER t = { .QuadPart = MS(3) };
    KeInitializeEvent(&ev, NotificationEvent, FALSE);
    ULONGLONG t0 = KeQueryInterruptTime();
    assert_int_equal(KeWaitForSingleObject(&ev, Executive, KernelMode, FALSE, &t), STATUS_TIMEOUT);
    assert_true(KeQueryInterruptTime() - t0 >= 30000);
    wdfdma_machine_destroy(m);
}

static void test_wait_at_apc_level(void **state)
{
    (void)state;
    wdfdma_machine *m = wt_machine(WDFDMA_ENGINE_SIM);
    KEVENT ev;
    KIRQL old;
    LARGE_INTEGER t = { .QuadPart = MS(1) };
    KeInitializeEvent(&ev, NotificationEvent, FALSE);
    KeRaiseIrql(APC_LEVEL, &old);
    assert_int_equal(KeWaitForSingleObject(&ev, Executive, KernelMode, FALSE, &t), STATUS_TIMEOUT);
    assert_int_equal(KeGetCurrentIrql(), APC_LEVEL);
    assert_int_equal(KeDelayExecutionThread(KernelMode, FALSE, &t), STATUS_SUCCESS);
    KeLowerIrql(old);
    wdfdma_machine_destroy(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_irql),
        cmocka_unit_test(test_notification_and_synchronization),
        cmocka_unit_test(test_timeout_advances_virtual_time),
        cmocka_unit_test(test_wait_for_timer_dpc_sim),
        cmocka_unit_test(test_wait_for_timer_dpc_threads),
        cmocka_unit_test(test_timeout_threads),
        cmocka_unit_test(test_wait_at_apc_level),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
