/*
 * Helpers shared by the tests/test_wdm_*.c programs (kernel layer on the machine, no
 * framework): machines on either engine, a bug-check trap, and end-of-test checks.
 */
#ifndef WDFDMA_WDM_TESTUTIL_H
#define WDFDMA_WDM_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "wdm/wdm_internal.h"

static inline wdfdma_machine *wt_machine_policy(wdfdma_engine engine, wdfdma_mem_policy policy)
{
    wdfdma_machine_config c;
    wdfdma_machine_config_init(&c);
    c.engine = engine;
    c.seed = 42;
    c.memory = policy;
    wdfdma_machine *m = NULL;
    assert_int_equal(wdfdma_machine_create(&c, &m), 0);
    assert_non_null(m);
    mach_enter(m);
    return m;
}

static inline wdfdma_machine *wt_machine(wdfdma_engine engine)
{
    return wt_machine_policy(engine, WDFDMA_MEM_SCATTERED);
}

/* Ends a test: no pool or MDL leaked, the thread back at PASSIVE_LEVEL, and the machine
 * shut down. Tests that allocate MDLs start from wdm_mdl_outstanding() == 0. */
static inline void wt_finish(wdfdma_machine *m, const wdm_pool_stats *before)
{
    wdm_pool_stats now;
    wdm_pool_get_stats(&now);
    assert_int_equal(now.outstanding, before->outstanding);
    assert_int_equal(wdm_mdl_outstanding(), 0);
    assert_int_equal(KeGetCurrentIrql(), PASSIVE_LEVEL);
    wdfdma_machine_destroy(m);
}

/* ---- bug-check trap ---------------------------------------------------------------------- */
typedef struct wt_trap {
    jmp_buf jb;
    wdfdma_bugcheck bc;
    int hits;
} wt_trap;

static inline void wt_trap_handler(void *ctx, const wdfdma_bugcheck *bc)
{
    wt_trap *t = ctx;
    t->bc = *bc;
    t->hits++;
    longjmp(t->jb, 1);
}

static inline void wt_trap_install(wdfdma_machine *m, wt_trap *t)
{
    memset(t, 0, sizeof(*t));
    wdfdma_machine_set_bugcheck_handler(m, wt_trap_handler, t);
    wdfdma_machine_set_bugcheck_quiet(m, true);
}

/* Run `stmt`, which must bug check; the trap then holds the code and parameters. A bug
 * check leaves the thread at whatever IRQL it had; tests reset it with wt_reset_irql. */
#define WT_EXPECT_BUGCHECK(trap, stmt)                                                     \
    do {                                                                                   \
        if (setjmp((trap)->jb) == 0) {                                                     \
            stmt;                                                                          \
            fail_msg("expected a bug check from: %s", #stmt);                              \
        }                                                                                  \
    } while (0)

static inline void wt_reset_irql(void)
{
    if (KeGetCurrentIrql() != PASSIVE_LEVEL)
        KeLowerIrql(PASSIVE_LEVEL);
}

#endif
