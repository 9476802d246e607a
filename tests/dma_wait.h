/*
 * dma_wait.h - what the bus-master and system DMA test rigs (tdu in fx_dma_testutil.h,
 * sdu in fx_sysdma_testutil.h) both need from the machine: a transaction's framework
 * object and state, and a wait for a counter the test driver bumps.
 */
#ifndef WDFDMA_TESTS_DMA_WAIT_H
#define WDFDMA_TESTS_DMA_WAIT_H

#include <stdbool.h>
#include <stdint.h>
#include <cmocka.h>

#include "fx/dma.h"

static inline fx_dma_transaction *dma_fx_transaction(WDFDMATRANSACTION h)
{
    fx_dma_transaction *x = (fx_dma_transaction *)fx_lookup((WDFOBJECT)h, FX_TYPE_DMA_TRANSACTION);
    assert_non_null(x);
    return x;
}

static inline fx_dma_state dma_fx_state(WDFDMATRANSACTION h)
{
    return dma_fx_transaction(h)->state;
}

typedef struct dma_wait_ctx {
    volatile LONG *value;
    LONG target;
} dma_wait_ctx;

static inline bool dma_wait_reached(void *ctx)
{
    dma_wait_ctx *w = ctx;
    return __atomic_load_n(w->value, __ATOMIC_ACQUIRE) >= w->target;
}

/* Wait (PASSIVE) until *value >= target: the sim engine runs the machine until then (or
 * until nothing is left to run); the threads engine sleeps, at most threads_timeout_ns. */
static inline bool dma_wait_count(wdfdma_machine *m, volatile LONG *value, LONG target,
                                  int64_t threads_timeout_ns)
{
    dma_wait_ctx w = {value, target};
    mach_enter(m);
    return mach_wait(m, dma_wait_reached, &w, mach_is_sim(m) ? -1 : threads_timeout_ns);
}

#endif
