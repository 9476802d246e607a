/*
 * Pool: zeroing rules, tags, counting, the fail-Nth fault-injection hook (walked the way
 * libuv's loop-oom test walks allocations), and the BAD_POOL_CALLER bug checks.
 */
#include "wdm_testutil.h"

#define TAG_A 0x41414141u
#define TAG_B 0x42424242u

static void test_bad_arguments(void **state)
{
    (void)state;
    wdfdma_machine *m = wt_machine(WDFDMA_ENGINE_SIM);
    /* ExAllocatePool2 needs exactly one pool kind. */
    assert_null(ExAllocatePool2(0, 16, TAG_A));
    assert_null(ExAllocatePool2(POOL_FLAG_PAGED | POOL_FLAG_NON_PAGED, 16, TAG_A));
    assert_null(ExAllocatePoolWithTag(NonPagedPoolNx, SIZE_MAX - 8, TAG_A));
    wdfdma_machine_destroy(m);
}

static void test_zeroing_and_counting(void **state)
{
    (void)state;
    wdm_pool_stats before, mid;
    wdm_pool_get_stats(&before);
    wdfdma_machine *m = wt_machine(WDFDMA_ENGINE_SIM);
    UCHAR *z = ExAllocatePool2(POOL_FLAG_NON_PAGED, 100, TAG_A);
    UCHAR *u = ExAllocatePool2(POOL_FLAG_NON_PAGED | POOL_FLAG_UNINITIALIZED, 100, TAG_A);
    UCHAR *w = ExAllocatePoolWithTag(PagedPool, 100, TAG_B);
    UCHAR *x = ExAllocatePoolZero(NonPagedPoolNx, 100, TAG_B);
    assert_non_null(z);
    assert_non_null(u);
    assert_non_null(w);
    assert_non_null(x);
    assert_int_equal((uintptr_t)z % 64, 0);
    for (int i = 0; i < 100; i++) {
        assert_int_equal(z[i], 0);
        assert_int_equal(x[i], 0);
        assert_int_not_equal(u[i], 0);   /* uninitialised pool is visibly filled */
    }
    wdm_pool_get_stats(&mid);
    assert_int_equal(mid.outstanding - before.outstanding, 4);
    assert_int_equal(mid.bytes_outstanding - before.bytes_outstanding, 400);
    ExFreePoolWithTag(z, TAG_A);
    ExFreePoolWithTag(u, TAG_A);
    ExFreePool(w);
    ExFreePoolWithTag(x, TAG_B);
    wt_finish(m, &before);
}

/* Builds a little structure from several allocations and unwinds cleanly on failure. */
static NTSTATUS build_three(PVOID out[3])
{
    for (int i = 0; i < 3; i++) {
        out[i] = ExAllocatePool2(POOL_FLAG_NON_PAGED, 32u << i, TAG_A);
        if (out[i] == NULL) {
            while (i-- > 0)
                ExFreePoolWithTag(out[i], TAG_A);
            return STATUS_INSUFFICIENT_RESOURCES;
        }
    }
    return STATUS_SUCCESS;
}

static void test_fail_nth(void **state)
{
    (void)state;
    wdm_pool_stats before, after;
    wdm_pool_get_stats(&before);
    wdfdma_machine *m = wt_machine(WDFDMA_ENGINE_SIM);
    PVOID p[3];
    uint64_t n;
    for (n = 1;; n++) {
        wdm_pool_fail_nth(n);
        NTSTATUS st = build_three(p);
        wdm_pool_get_stats(&after);
        assert_int_equal(after.outstanding, before.outstanding + (NT_SUCCESS(st) ? 3 : 0));
        if (NT_SUCCESS(st))
            break;
        assert_int_equal(st, STATUS_INSUFFICIENT_RESOURCES);
    }
    assert_int_equal(n, 4);   /* three allocations, each failed once */
    wdm_pool_fail_nth(0);
    for (int i = 0; i < 3; i++)
        ExFreePoolWithTag(p[i], TAG_A);
    wdm_pool_get_stats(&after);
    assert_true(after.failures >= before.failures + 3);
    wt_finish(m, &before);
}

static void test_misuse_bugchecks(void **state)
{
    (void)state;
    wdfdma_machine *m = wt_machine(WDFDMA_ENGINE_SIM);
    wt_trap trap;
    wt_trap_install(m, &trap);
    KIRQL old;

    KeRaiseIrql(DISPATCH_LEVEL, &old);
    WT_EXPECT_BUGCHECK(&trap, ExAllocatePool2(POOL_FLAG_PAGED, 8, TAG_A));
    assert_int_equal(trap.bc.code, BAD_POOL_CALLER);
    assert_int_equal(trap.bc.p[0], 0x08);
    assert_int_equal(trap.bc.p[1], DISPATCH_LEVEL);
    PVOID ok = ExAllocatePool2(POOL_FLAG_NON_PAGED, 8, TAG_A);   /* fine at DISPATCH */
    assert_non_null(ok);
    KeRaiseIrql(HIGH_LEVEL, &old);
    WT_EXPECT_BUGCHECK(&trap, ExAllocatePool2(POOL_FLAG_NON_PAGED, 8, TAG_A));
    assert_int_equal(trap.bc.p[0], 0x08);
    WT_EXPECT_BUGCHECK(&trap, ExFreePool(ok));
    assert_int_equal(trap.bc.p[0], 0x09);
    wt_reset_irql();

    WT_EXPECT_BUGCHECK(&trap, ExFreePoolWithTag(ok, TAG_B));
    assert_int_equal(trap.bc.p[0], 0x0A);
    assert_int_equal(trap.bc.p[2], TAG_A);
    ExFreePoolWithTag(ok, TAG_A);
    WT_EXPECT_BUGCHECK(&trap, ExFreePool(ok));
    assert_int_equal(trap.bc.code, BAD_POOL_CALLER);
    assert_int_equal(trap.bc.p[0], 0x07);
    wdfdma_machine_destroy(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_zeroing_and_counting),
        cmocka_unit_test(test_fail_nth),
        cmocka_unit_test(test_misuse_bugchecks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
