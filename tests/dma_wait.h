/*
 * dma_wait.h - what the bus-master and system DMA test rigs (tdu in fx_dma_testutil.h,
 * sdu in fx_sysdma_testutil.h) both need: a transaction's framework object and state, and
 * (wait_count.h) a wait for a counter the test driver bumps.
 */
#ifndef WDFDMA_TESTS_DMA_WAIT_H
#define WDFDMA_TESTS_DMA_WAIT_H

#include <stdbool.h>
#include <stdint.h>
#include <cmocka.h>

#include "fx/dma.h"
#include "wait_count.h"

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

#endif
