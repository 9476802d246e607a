/*
 * Spin locks: IRQL handling, the ownership bug checks, queued locks, and mutual exclusion
 * between real threads on the threads engine.
 */
#include <pthread.h>

#include "wdm_testutil.h"

static void test_bad_irql(void **state)
{
    (void)state;
    wdfdma_machine *m = wt_machine(WDFDMA_ENGINE_SIM);
    wt_trap trap;
    wt_trap_install(m, &trap);
    KSPIN_LOCK lock;
    KIRQL old;
    KeInitializeSpinLock(&lock);
    WT_EXPECT_BUGCHECK(&trap, KeAcquireSpinLockAtDpcLevel(&lock));
    assert_int_equal(trap.bc.code, IRQL_NOT_GREATER_OR_EQUAL);
    assert_int_equal(trap.bc.p[1], PASSIVE_LEVEL);
    KeRaiseIrql(HIGH_LEVEL, &old);
    WT_EXPECT_BUGCHECK(&trap, KeAcquireSpinLock(&lock, &old));
    assert_int_equal(trap.bc.code, IRQL_NOT_LESS_OR_EQUAL);
    assert_int_equal(trap.bc.p[1], HIGH_LEVEL);
    wt_reset_irql();
    wdfdma_machine_destroy(m);
}

static void test_acquire_release(void **state)
{
    (void)state;
    wdm_pool_stats before;
    wdm_pool_get_stats(&before);
    wdfdma_machine *m = wt_machine(WDFDMA_ENGINE_SIM);
    KSPIN_LOCK lock;
    KIRQL old;
    KLOCK_QUEUE_HANDLE h;
    KeInitializeSpinLock(&lock);
    assert_true(KeTestSpinLock(&lock));
    KeAcquireSpinLock(&lock, &old);
    assert_int_equal(old, PASSIVE_LEVEL);
    assert_int_equal(KeGetCurrentIrql(), DISPATCH_LEVEL);
    assert_false(KeTestSpinLock(&lock));
    KeReleaseSpinLock(&lock, old);
    assert_int_equal(KeGetCurrentIrql(), PASSIVE_LEVEL);

    KeAcquireInStackQueuedSpinLock(&lock, &h);
    assert_int_equal(KeGetCurrentIrql(), DISPATCH_LEVEL);
    KeReleaseInStackQueuedSpinLock(&h);

    old = KeRaiseIrqlToDpcLevel();
    KeAcquireSpinLockAtDpcLevel(&lock);
    KeReleaseSpinLockFromDpcLevel(&lock);
    assert_true(KeTryToAcquireSpinLockAtDpcLevel(&lock));
    KeReleaseSpinLockFromDpcLevel(&lock);
    KeLowerIrql(old);
    wt_finish(m, &before);
}

static void test_ownership_bugchecks(void **state)
{
    (void)state;
    wdfdma_machine *m = wt_machine(WDFDMA_ENGINE_SIM);
    wt_trap trap;
    wt_trap_install(m, &trap);
    KSPIN_LOCK lock;
    KIRQL old, old2;
    KeInitializeSpinLock(&lock);
    KeAcquireSpinLock(&lock, &old);
    WT_EXPECT_BUGCHECK(&trap, KeAcquireSpinLock(&lock, &old2));
    assert_int_equal(trap.bc.code, SPIN_LOCK_ALREADY_OWNED);
    assert_int_equal(trap.bc.p[0], (uint64_t)(uintptr_t)&lock);
    lock = 0;
    wt_reset_irql();

    KeRaiseIrql(DISPATCH_LEVEL, &old);
    WT_EXPECT_BUGCHECK(&trap, KeReleaseSpinLock(&lock, PASSIVE_LEVEL));
    assert_int_equal(trap.bc.code, SPIN_LOCK_NOT_OWNED);
    wt_reset_irql();
    wdfdma_machine_destroy(m);
}

typedef struct shared {
    wdfdma_machine *m;
    KSPIN_LOCK lock;
    volatile long counter;
} shared;

#define ROUNDS 20000

static void *hammer(void *arg)
{
    shared *s = arg;
    mach_enter(s->m);
    for (int i = 0; i < ROUNDS; i++) {
        KIRQL old;
        KeAcquireSpinLock(&s->lock, &old);
        long v = s->counter;   /* a non-atomic read-modify-write the lock protects */
        s->counter = v + 1;
        KeReleaseSpinLock(&s->lock, old);
    }
    return NULL;
}

static void test_threads_mutual_exclusion(void **state)
{
    (void)state;
    shared s = { .m = wt_machine(WDFDMA_ENGINE_THREADS) };
    KeInitializeSpinLock(&s.lock);
    pthread_t t[3];
    for (int i = 0; i < 3; i++)
        assert_int_equal(pthread_create(&t[i], NULL, hammer, &s), 0);
    for (int i = 0; i < 3; i++)
        pthread_join(t[i], NULL);
    assert_int_equal(s.counter, 3 * ROUNDS);
    wdfdma_machine_destroy(s.m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_irql),
        cmocka_unit_test(test_acquire_release),
        cmocka_unit_test(test_ownership_bugchecks),
        cmocka_unit_test(test_threads_mutual_exclusion),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
