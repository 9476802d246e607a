/*
 * IRQL: raise and lower, the bug checks for going the wrong way, PAGED_CODE, and the
 * processor queries.
 */
/* ASSERT is checked only in checked (DBG) builds, as in the WDK. */
#define DBG 1
#include "wdm_testutil.h"

static void test_raise_lower(void **state)
{
    (void)state;
    wdm_pool_stats before;
    wdm_pool_get_stats(&before);
    wdfdma_machine *m = wt_machine(WDFDMA_ENGINE_SIM);
    KIRQL old;
    assert_int_equal(KeGetCurrentIrql(), PASSIVE_LEVEL);
    KeRaiseIrql(APC_LEVEL, &old);
    assert_int_equal(old, PASSIVE_LEVEL);
    assert_int_equal(KeGetCurrentIrql(), APC_LEVEL);
    old = KeRaiseIrqlToDpcLevel();
    assert_int_equal(old, APC_LEVEL);
    assert_int_equal(KeGetCurrentIrql(), DISPATCH_LEVEL);
    KeLowerIrql(APC_LEVEL);
    KeLowerIrql(PASSIVE_LEVEL);
    PAGED_CODE();
    wt_finish(m, &before);
}

static void test_wrong_direction_bugchecks(void **state)
{
    (void)state;
    wdfdma_machine *m = wt_machine(WDFDMA_ENGINE_SIM);
    wt_trap trap;
    wt_trap_install(m, &trap);
    KIRQL old;

    KeRaiseIrql(DISPATCH_LEVEL, &old);
    WT_EXPECT_BUGCHECK(&trap, KeRaiseIrql(APC_LEVEL, &old));
    assert_int_equal(trap.bc.code, IRQL_NOT_GREATER_OR_EQUAL);
    wt_reset_irql();

    WT_EXPECT_BUGCHECK(&trap, KeLowerIrql(DISPATCH_LEVEL));
    assert_int_equal(trap.bc.code, IRQL_NOT_LESS_OR_EQUAL);
    wt_reset_irql();
    wdfdma_machine_destroy(m);
}

static void test_paged_code_at_dispatch(void **state)
{
    (void)state;
    wdfdma_machine *m = wt_machine(WDFDMA_ENGINE_SIM);
    wt_trap trap;
    wt_trap_install(m, &trap);
    KIRQL old;
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    WT_EXPECT_BUGCHECK(&trap, PAGED_CODE());
    assert_int_equal(trap.bc.code, IRQL_NOT_LESS_OR_EQUAL);
    assert_int_equal(trap.bc.p[1], DISPATCH_LEVEL);
    wt_reset_irql();
    wdfdma_machine_destroy(m);
}

static void test_assert_bugchecks(void **state)
{
    (void)state;
    wdfdma_machine *m = wt_machine(WDFDMA_ENGINE_SIM);
    wt_trap trap;
    wt_trap_install(m, &trap);
    int x = 1;
    WT_EXPECT_BUGCHECK(&trap, ASSERT(x == 2));
    assert_int_equal(trap.bc.code, KMODE_EXCEPTION_NOT_HANDLED);
    assert_int_equal(trap.bc.p[0], (ULONG)STATUS_BREAKPOINT);
    assert_non_null(strstr(trap.bc.message, "x == 2"));
    WT_EXPECT_BUGCHECK(&trap, KeBugCheckEx(0x1234, 1, 2, 3, 4));
    assert_int_equal(trap.bc.code, 0x1234);
    assert_int_equal(trap.bc.p[3], 4);
    wdfdma_machine_destroy(m);
}

static void test_processors(void **state)
{
    (void)state;
    wdfdma_machine *m = wt_machine(WDFDMA_ENGINE_SIM);
    KAFFINITY aff = 0;
    ULONG n = KeQueryActiveProcessorCount(&aff);
    assert_true(n >= 1);
    assert_int_equal(aff, (n >= 64) ? ~(KAFFINITY)0 : (((KAFFINITY)1 << n) - 1));
    assert_int_equal(KeQueryActiveProcessorCountEx(ALL_PROCESSOR_GROUPS), n);
    PROCESSOR_NUMBER pn;
    assert_int_equal(KeGetCurrentProcessorNumberEx(&pn), KeGetCurrentProcessorNumber());
    assert_int_equal(pn.Group, 0);
    wdfdma_machine_destroy(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_raise_lower),
        cmocka_unit_test(test_wrong_direction_bugchecks),
        cmocka_unit_test(test_paged_code_at_dispatch),
        cmocka_unit_test(test_assert_bugchecks),
        cmocka_unit_test(test_processors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
