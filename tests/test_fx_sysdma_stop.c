/*
 * Stopping system-mode DMA at every point (reference §1 Cancel / StopSystemTransfer rows,
 * §3 Cancel column, §4 StopSystemTransfer and cancelling): WdfDmaTransactionCancel while
 * the channel allocation is queued behind another device (TRUE, EvtProgramDma never runs,
 * TransferFailed) and after the grant (FALSE); StopSystemTransfer mid-transfer
 * (DmaCancelled, then DmaCompleted -> TRUE + STATUS_CANCELLED, or DmaCompletedFinal),
 * between transfers (the next staging is cancelled), after completion and twice (bug
 * check 0x10D / WDF_DMA_FATAL_ERROR with the verifier, a no-op without).
 */
#include "fx_sysdma_testutil.h"

#define XFER 64u

/* Two uarts whose TX resources share controller channel 0. */
static void up_shared(sdu *t, bool verifier, bool block, const char *extra)
{
    char o0[96], o1[96];
    sdu_cfg_reset();
    sdrv.cfg[0].block_mode = sdrv.cfg[1].block_mode = block;
    sdu_up_simple(t, WDFDMA_ENGINE_SIM, verifier);
    snprintf(o0, sizeof o0, "tx_channel=0,rx_channel=1,%s", extra);
    snprintf(o1, sizeof o1, "tx_channel=0,rx_channel=2,%s", extra);
    sdu_add(t, "uart", o0);
    sdu_add(t, "uart", o1);
}

static void test_cancel_queued(void **state)
{
    (void)state;
    sdu t;
    up_shared(&t, true, true, "fifo=4096,baud=921600");
    sdrv_xact *a = &sdrv.dev[0].x[1], *b = &sdrv.dev[1].x[1];
    sdu_buf ba = sdu_buf_new(0, XFER), bb = sdu_buf_new(0, XFER);
    NTSTATUS st;

    /* misuse first: Cancel in Created is fatal (§3) */
    SDU_EXPECT_DMA_FATAL(&t, b->tr, FX_DMA_CREATED, WdfDmaTransactionCancel(b->tr));
    /* Initialized: nothing queued, FALSE */
    assert_int_equal(sdu_init(b, bb.mdl, bb.va, bb.len), STATUS_SUCCESS);
    assert_false(WdfDmaTransactionCancel(b->tr));
    assert_int_equal(sdu_state(b->tr), FX_DMA_INITIALIZED);

    assert_int_equal(sdu_init(a, ba.mdl, ba.va, ba.len), STATUS_SUCCESS);
    assert_int_equal(sdu_exec(&t, a), STATUS_SUCCESS);
    assert_true(sdu_wait(&t, &a->done_calls, 1));   /* manual: a keeps the channel */
    assert_int_equal(sdu_exec(&t, b), STATUS_SUCCESS);
    sdu_run_for(&t, 1000000);
    assert_int_equal(b->cfg_calls + b->program_calls, 0);   /* queued behind a */
    assert_true(sdu_stats(&t).allocations_queued >= 1);

    assert_false(WdfDmaTransactionCancel(a->tr));   /* granted: too late */
    assert_true(WdfDmaTransactionCancel(b->tr));
    t.grants--;
    assert_int_equal(sdu_state(b->tr), FX_DMA_TRANSFER_FAILED);
    assert_false(WdfDmaTransactionCancel(b->tr));   /* nothing queued any more */
    assert_int_equal(WdfDmaTransactionRelease(b->tr), STATUS_SUCCESS);
    SDU_EXPECT_DMA_FATAL(&t, b->tr, FX_DMA_RELEASED, WdfDmaTransactionCancel(b->tr));

    /* a ends; the cancelled request never gets the channel */
    assert_true(sdu_completed(a, &st));
    assert_int_equal(st, STATUS_SUCCESS);
    sdu_run_for(&t, 1000000);
    assert_int_equal(b->cfg_calls + b->program_calls + b->done_calls, 0);
    assert_int_equal(sdu_stats(&t).channel_grants, 1);
    assert_int_equal(sdu_stats(&t).map_registers_in_use, 0);
    assert_false(WdfDmaTransactionCancel(a->tr));   /* TransferCompleted: FALSE */
    assert_int_equal(WdfDmaTransactionRelease(a->tr), STATUS_SUCCESS);

    /* b is reusable and runs */
    b->mode = SDRV_AUTO;
    assert_int_equal(sdu_init(b, bb.mdl, bb.va, bb.len), STATUS_SUCCESS);
    assert_int_equal(sdu_exec(&t, b), STATUS_SUCCESS);
    assert_true(sdu_wait(&t, &b->finished, 1));
    assert_int_equal(b->final_bytes, XFER);
    assert_int_equal(WdfDmaTransactionRelease(b->tr), STATUS_SUCCESS);
    sdu_buf_free(&ba);
    sdu_buf_free(&bb);
    sdu_down(&t);
}

/* A slow demand-mode TX (9600 baud: ~1 ms a byte), four transfers of XFER. */
static sdrv_xact *slow_tx(sdu *t, bool verifier, sdu_buf *b)
{
    sdu_cfg_reset();
    sdu_up_simple(t, WDFDMA_ENGINE_SIM, verifier);
    sdrv_dev *d = sdu_add(t, "uart", "fifo=16,baud=9600");
    sdrv_xact *tx = &d->x[1];
    tx->set_burst = true;
    *b = sdu_buf_new(0, 4 * XFER);
    sdu_fill(b->va, b->len, 3);
    assert_int_equal(sdu_init(tx, b->mdl, b->va, b->len), STATUS_SUCCESS);
    WdfDmaTransactionSetMaximumLength(tx->tr, XFER);
    return tx;
}

static void test_stop_mid_transfer_completed(void **state)
{
    (void)state;
    sdu t;
    sdu_buf b;
    sdrv_xact *tx = slow_tx(&t, true, &b);
    NTSTATUS st;
    char order[32];
    assert_int_equal(sdu_exec(&t, tx), STATUS_SUCCESS);
    sdu_run_for(&t, 30000000);   /* 30 ms into a ~70 ms transfer */
    assert_int_equal(tx->done_calls, 0);
    WdfDmaTransactionStopSystemTransfer(tx->tr);
    assert_true(sdu_wait(&t, &tx->done_calls, 1));
    assert_int_equal(tx->last_status, DmaCancelled);
    assert_true(sdu_completed(tx, &st));
    assert_int_equal(st, STATUS_CANCELLED);
    assert_int_equal(sdu_state(tx->tr), FX_DMA_TRANSFER_FAILED);
    assert_string_equal(sdu_order(tx, order, sizeof order), "CPD");
    assert_int_equal(sdu_stats(&t).map_registers_in_use, 0);
    assert_int_equal(WdfDmaTransactionRelease(tx->tr), STATUS_SUCCESS);
    sdu_buf_free(&b);
    sdu_down(&t);
}

/* The driver's way: DmaCompletedFinal(bytes moved) from the DmaCancelled callback. */
static void test_stop_mid_transfer_final(void **state)
{
    (void)state;
    sdu t;
    sdu_buf b;
    sdrv_xact *tx = slow_tx(&t, true, &b);
    tx->mode = SDRV_AUTO;
    assert_int_equal(sdu_exec(&t, tx), STATUS_SUCCESS);
    sdu_run_for(&t, 100000000);  /* into the second transfer */
    assert_int_equal(tx->done_calls, 1);
    WdfDmaTransactionStopSystemTransfer(tx->tr);
    assert_true(sdu_wait(&t, &tx->finished, 1));
    assert_int_equal(tx->last_status, DmaCancelled);
    assert_true(tx->final_result);
    assert_int_equal(tx->final_status, STATUS_SUCCESS);
    assert_true(tx->final_bytes > XFER && tx->final_bytes < 2 * XFER);
    assert_int_equal(sdu_state(tx->tr), FX_DMA_TRANSFER_COMPLETED);
    assert_int_equal(tx->program_calls, 2);
    assert_int_equal(sdu_stats(&t).map_registers_in_use, 0);
    assert_int_equal(WdfDmaTransactionRelease(tx->tr), STATUS_SUCCESS);
    /* the request line is down and the controller idle */
    assert_int_equal(sdu_ctrl_reg(&t, SDMAC_REG_BUSY), 0);
    assert_int_equal(mach_findings(t.m), 0);
    sdu_buf_free(&b);
    sdu_down(&t);
}

/* Between transfers: transfer 1 done (manual), Stop, then DmaCompleted: the next staging
 * sees the stop, nothing more is configured or programmed. Reuse afterwards is clean. */
static void test_stop_between_transfers(void **state)
{
    (void)state;
    sdu t;
    sdu_buf b;
    sdrv_xact *tx = slow_tx(&t, true, &b);
    NTSTATUS st;
    char order[32];
    assert_int_equal(sdu_exec(&t, tx), STATUS_SUCCESS);
    assert_true(sdu_wait(&t, &tx->done_calls, 1));
    assert_int_equal(tx->last_status, DmaComplete);
    WdfDmaTransactionStopSystemTransfer(tx->tr);
    assert_true(sdu_completed(tx, &st));
    assert_int_equal(st, STATUS_CANCELLED);
    assert_int_equal(sdu_state(tx->tr), FX_DMA_TRANSFER_FAILED);
    sdu_run_for(&t, 10000000);
    assert_string_equal(sdu_order(tx, order, sizeof order), "CPD");
    assert_int_equal(WdfDmaTransactionGetBytesTransferred(tx->tr), XFER);
    assert_int_equal(sdu_stats(&t).map_registers_in_use, 0);
    assert_int_equal(WdfDmaTransactionRelease(tx->tr), STATUS_SUCCESS);

    /* Initialize clears the stop */
    tx->mode = SDRV_AUTO;
    assert_int_equal(sdu_init(tx, b.mdl, b.va, XFER), STATUS_SUCCESS);
    assert_int_equal(sdu_exec(&t, tx), STATUS_SUCCESS);
    assert_true(sdu_wait(&t, &tx->finished, 1));
    assert_int_equal(tx->final_status, STATUS_SUCCESS);
    assert_int_equal(tx->final_bytes, XFER);
    assert_int_equal(WdfDmaTransactionRelease(tx->tr), STATUS_SUCCESS);
    sdu_buf_free(&b);
    sdu_down(&t);
}

static void run_stop_after_completion(bool verifier)
{
    sdu t;
    sdu_buf b;
    sdrv_xact *tx = slow_tx(&t, verifier, &b);
    tx->mode = SDRV_AUTO;
    assert_int_equal(sdu_exec(&t, tx), STATUS_SUCCESS);
    assert_true(sdu_wait(&t, &tx->finished, 1));
    assert_int_equal(sdu_state(tx->tr), FX_DMA_TRANSFER_COMPLETED);
    if (verifier) {
        SDU_EXPECT_DMA_FATAL(&t, tx->tr, FX_DMA_TRANSFER_COMPLETED,
                             WdfDmaTransactionStopSystemTransfer(tx->tr));
    } else {
        WdfDmaTransactionStopSystemTransfer(tx->tr);
        assert_int_equal(t.traps, 0);
    }
    assert_int_equal(sdu_state(tx->tr), FX_DMA_TRANSFER_COMPLETED);
    assert_int_equal(WdfDmaTransactionRelease(tx->tr), STATUS_SUCCESS);
    sdu_buf_free(&b);
    sdu_down(&t);
}

static void test_stop_after_completion_verifier(void **state)
{
    (void)state;
    run_stop_after_completion(true);
}

static void test_stop_after_completion_quiet(void **state)
{
    (void)state;
    run_stop_after_completion(false);
}

static void run_stop_twice(bool verifier)
{
    sdu t;
    sdu_buf b;
    sdrv_xact *tx = slow_tx(&t, verifier, &b);
    NTSTATUS st;
    assert_int_equal(sdu_exec(&t, tx), STATUS_SUCCESS);
    sdu_run_for(&t, 30000000);
    WdfDmaTransactionStopSystemTransfer(tx->tr);
    assert_true(sdu_wait(&t, &tx->done_calls, 1));
    assert_int_equal(tx->last_status, DmaCancelled);
    if (verifier) {
        SDU_EXPECT_DMA_FATAL(&t, tx->tr, FX_DMA_TRANSFER,
                             WdfDmaTransactionStopSystemTransfer(tx->tr));
    } else {
        WdfDmaTransactionStopSystemTransfer(tx->tr);
        assert_int_equal(t.traps, 0);
    }
    sdu_run_for(&t, 10000000);
    assert_int_equal(tx->done_calls, 1);          /* one DmaCancelled only */
    assert_true(sdu_completed_final(tx, 0, &st));
    assert_int_equal(st, STATUS_SUCCESS);
    assert_int_equal(sdu_stats(&t).map_registers_in_use, 0);
    assert_int_equal(WdfDmaTransactionRelease(tx->tr), STATUS_SUCCESS);
    sdu_buf_free(&b);
    sdu_down(&t);
}

static void test_stop_twice_verifier(void **state)
{
    (void)state;
    run_stop_twice(true);
}

static void test_stop_twice_quiet(void **state)
{
    (void)state;
    run_stop_twice(false);
}

/* Threads: a cancel racing the controller — stop a running transfer on real threads,
 * the transaction ends exactly once and nothing leaks. */
static void test_stop_threads(void **state)
{
    (void)state;
    sdu t;
    sdu_cfg_reset();
    sdu_up_simple(&t, WDFDMA_ENGINE_THREADS, true);
    sdrv_dev *d = sdu_add(&t, "uart", "fifo=16,baud=9600");
    sdrv_xact *tx = &d->x[1];
    sdu_buf b = sdu_buf_new(0, 4 * XFER);
    tx->set_burst = true;
    tx->mode = SDRV_AUTO;
    assert_int_equal(sdu_init(tx, b.mdl, b.va, b.len), STATUS_SUCCESS);
    WdfDmaTransactionSetMaximumLength(tx->tr, XFER);
    assert_int_equal(sdu_exec(&t, tx), STATUS_SUCCESS);
    sdu_run_for(&t, 20000000);
    WdfDmaTransactionStopSystemTransfer(tx->tr);
    assert_true(sdu_wait(&t, &tx->finished, 1));
    sdu_run_for(&t, 5000000);
    assert_int_equal(tx->finished, 1);
    assert_true(tx->final_bytes < 4 * XFER);
    assert_int_equal(WdfDmaTransactionRelease(tx->tr), STATUS_SUCCESS);
    sdu_buf_free(&b);
    sdu_down(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cancel_queued),
        cmocka_unit_test(test_stop_mid_transfer_completed),
        cmocka_unit_test(test_stop_mid_transfer_final),
        cmocka_unit_test(test_stop_between_transfers),
        cmocka_unit_test(test_stop_after_completion_verifier),
        cmocka_unit_test(test_stop_after_completion_quiet),
        cmocka_unit_test(test_stop_twice_verifier),
        cmocka_unit_test(test_stop_twice_quiet),
        cmocka_unit_test(test_stop_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
