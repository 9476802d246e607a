/*
 * wait_count.h - the test rigs' wait for a counter their test driver bumps (fxtu in
 * fx_testutil.h, tdu and sdu through dma_wait.h).
 */
#ifndef WDFDMA_TESTS_WAIT_COUNT_H
#define WDFDMA_TESTS_WAIT_COUNT_H

#include <stdbool.h>
#include <stdint.h>

#include "machine/internal.h"

typedef struct wait_count_ctx {
    volatile LONG *value;
    LONG target;
} wait_count_ctx;

static inline bool wait_count_reached(void *ctx)
{
    wait_count_ctx *w = ctx;
    return __atomic_load_n(w->value, __ATOMIC_ACQUIRE) >= w->target;
}

/* Wait (PASSIVE) until *value >= target: the sim engine runs the machine until then (or
 * until nothing is left to run); the threads engine sleeps, at most threads_timeout_ns. */
static inline bool wait_count(wdfdma_machine *m, volatile LONG *value, LONG target,
                              int64_t threads_timeout_ns)
{
    wait_count_ctx w = {value, target};
    mach_enter(m);
    return mach_wait(m, wait_count_reached, &w, mach_is_sim(m) ? -1 : threads_timeout_ns);
}

#endif
