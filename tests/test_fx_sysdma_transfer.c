/*
 * System-mode DMA transfers (reference §1 system rows, §2 packet staging as used by the
 * system flavour, §4): per transfer the channel-configuration callback, then
 * EvtProgramDma, then the transfer-complete callback; configure returning FALSE stops
 * staging; the device-address offset reaches the controller and Initialize resets it;
 * the deferral rule (a completion that arrives while EvtProgramDma runs waits for it to
 * return, and a DmaCompleted from that deferred callback does not nest the next staging);
 * multi-transfer transactions on one channel grant; AllocateResources / FreeResources and
 * immediate execution on system profiles.
 */
#include "fx_sysdma_testutil.h"

#define XFER 256u

/* A uart whose TX channel runs in block mode (no request-line pacing) into a FIFO big
 * enough for every test here: the controller finishes a transfer on its own. */
static sdrv_dev *up_block_uart(sdu *t, wdfdma_engine engine, bool verifier)
{
    sdu_cfg_reset();
    sdrv.cfg[0].block_mode = true;
    sdu_up_simple(t, engine, verifier);
    sdrv_dev *d = sdu_add(t, "uart", "fifo=4096,baud=921600");
    assert_int_equal(d->configure_status, STATUS_SUCCESS);
    return d;
}

static const sdrv_rec *nth_rec(const sdrv_xact *x, sdrv_ev kind, unsigned n)
{
    for (LONG i = 0; i < sdrv.nlog; i++) {
        const sdrv_rec *r = &sdrv.log[i];
        if (r->dev == x->index && r->slot == x->slot && r->kind == kind && n-- == 0)
            return r;
    }
    fail_msg("no record %u of kind %d", n, (int)kind);
    return NULL;
}

/* ---- per-transfer order --------------------------------------------------------------- */

static void run_order(wdfdma_engine engine)
{
    sdu t;
    sdrv_dev *d = up_block_uart(&t, engine, true);
    sdrv_xact *tx = &d->x[1];
    sdu_buf b = sdu_buf_new(100, 1000);
    sdu_fill(b.va, b.len, 1);
    tx->mode = SDRV_AUTO;
    uint64_t transfers_before = sdu_stats(&t).system_transfers;

    assert_int_equal(sdu_init(tx, b.mdl, b.va, b.len), STATUS_SUCCESS);
    WdfDmaTransactionSetMaximumLength(tx->tr, XFER);
    assert_int_equal(sdu_exec(&t, tx), STATUS_SUCCESS);
    assert_true(sdu_wait(&t, &tx->finished, 1));

    char order[64];
    assert_string_equal(sdu_order(tx, order, sizeof order), "CPDCPDCPDCPD");
    assert_int_equal(tx->final_status, STATUS_SUCCESS);
    assert_int_equal(tx->final_bytes, 1000);
    assert_int_equal(sdu_state(tx->tr), FX_DMA_TRANSFER_COMPLETED);
    assert_int_equal(tx->nested_done, 0);
    /* Without a deferral, a DmaCompleted in the transfer-complete callback stages the next
     * transfer before it returns (§2: EvtProgramDma nested in DmaCompleted). */
    if (engine == WDFDMA_ENGINE_SIM)
        assert_int_equal(tx->nested_program, 3);
    static const size_t lengths[] = {XFER, XFER, XFER, 1000 - 3 * XFER};
    for (unsigned i = 0; i < 4; i++) {
        const sdrv_rec *c = nth_rec(tx, SDRV_EV_CFG, i);
        const sdrv_rec *p = nth_rec(tx, SDRV_EV_PROG, i);
        const sdrv_rec *dn = nth_rec(tx, SDRV_EV_DONE, i);
        assert_int_equal(c->length, lengths[i]);
        assert_int_equal(c->transferred, i * XFER);
        assert_int_equal(p->length, lengths[i]);
        assert_int_equal(p->transferred, i * XFER);
        assert_int_equal(p->in_cfg, 0);
        assert_int_equal(dn->status, DmaComplete);
        assert_int_equal(dn->irql, DISPATCH_LEVEL);
        assert_int_equal(p->irql, DISPATCH_LEVEL);
        assert_int_equal(c->irql, DISPATCH_LEVEL);
    }
    /* the configure callback's (MDL, offset, length) of the last transfer */
    assert_ptr_equal(tx->cfg_mdl, b.mdl);
    assert_int_equal(tx->cfg_offset, 3 * XFER);   /* offset into the MDL */
    assert_int_equal(tx->cfg_length, 1000 - 3 * XFER);
    /* one channel grant for the whole transaction, four controller transfers */
    assert_int_equal(sdu_stats(&t).channel_grants, 1);
    assert_int_equal(sdu_stats(&t).system_transfers - transfers_before, 4);
    assert_int_equal(sdu_stats(&t).map_registers_in_use, 0);
    assert_int_equal(mach_findings(t.m), 0);

    /* Reuse: Release keeps the system callbacks (docs/kmdf-choices.md). */
    assert_int_equal(WdfDmaTransactionRelease(tx->tr), STATUS_SUCCESS);
    assert_non_null(sdu_fx(tx->tr)->transfer_complete);
    assert_non_null(sdu_fx(tx->tr)->configure_channel);
    sdu_buf_guards_ok(&b);
    sdu_buf_free(&b);
    sdu_down(&t);
}

static void test_order_sim(void **state)
{
    (void)state;
    run_order(WDFDMA_ENGINE_SIM);
}

static void test_order_threads(void **state)
{
    (void)state;
    run_order(WDFDMA_ENGINE_THREADS);
}

/* ---- configure returning FALSE ---------------------------------------------------------- */

static void test_configure_false(void **state)
{
    (void)state;
    sdu t;
    sdrv_dev *d = up_block_uart(&t, WDFDMA_ENGINE_SIM, true);
    sdrv_xact *tx = &d->x[1];
    sdu_buf b = sdu_buf_new(0, 4 * XFER);
    NTSTATUS st;
    char order[64];

    /* First transfer: nothing mapped, EvtProgramDma never runs, Execute succeeds (KMDF:
     * the driver ended the transaction itself). */
    tx->cfg_fail_at = 1;
    assert_int_equal(sdu_init(tx, b.mdl, b.va, b.len), STATUS_SUCCESS);
    WdfDmaTransactionSetMaximumLength(tx->tr, XFER);
    assert_int_equal(sdu_exec(&t, tx), STATUS_SUCCESS);
    sdu_run_for(&t, 1000000);
    assert_string_equal(sdu_order(tx, order, sizeof order), "C");
    assert_int_equal(sdu_stats(&t).system_transfers, 0);
    assert_int_equal(sdu_state(tx->tr), FX_DMA_TRANSFER);
    assert_true(sdu_completed_final(tx, 0, &st));
    assert_int_equal(st, STATUS_SUCCESS);
    assert_int_equal(WdfDmaTransactionGetBytesTransferred(tx->tr), 0);
    assert_int_equal(sdu_stats(&t).map_registers_in_use, 0);
    assert_int_equal(WdfDmaTransactionRelease(tx->tr), STATUS_SUCCESS);

    /* Second transfer: the first ran; the DmaCompleted that stages the second gets FALSE
     * from configure and nothing more is programmed. */
    sdrv.nlog = 0;
    tx->cfg_calls = 0;
    tx->cfg_fail_at = 2;
    assert_int_equal(sdu_init(tx, b.mdl, b.va, b.len), STATUS_SUCCESS);
    WdfDmaTransactionSetMaximumLength(tx->tr, XFER);
    assert_int_equal(sdu_exec(&t, tx), STATUS_SUCCESS);
    assert_true(sdu_wait(&t, &tx->done_calls, 1));
    assert_false(sdu_completed(tx, &st));
    assert_int_equal(st, STATUS_MORE_PROCESSING_REQUIRED);
    sdu_run_for(&t, 1000000);
    assert_string_equal(sdu_order(tx, order, sizeof order), "CPDC");
    assert_int_equal(sdu_stats(&t).system_transfers, 1);
    assert_true(sdu_completed_final(tx, 0, &st));
    assert_int_equal(st, STATUS_SUCCESS);
    assert_int_equal(WdfDmaTransactionGetBytesTransferred(tx->tr), XFER);
    assert_int_equal(WdfDmaTransactionRelease(tx->tr), STATUS_SUCCESS);
    sdu_buf_free(&b);
    sdu_down(&t);
}

/* ---- device-address offset --------------------------------------------------------------- */

/* RX in block mode, 32-bit elements: at offset 0x20 the controller reads the FIFO_DEPTH
 * register (64), at offset 0 the empty RX FIFO (zeros). */
static void test_device_address_offset(void **state)
{
    (void)state;
    sdu t;
    sdu_cfg_reset();
    sdrv.cfg[0].block_mode = true;
    sdrv.cfg[0].width = Width32Bits;
    sdu_up_simple(&t, WDFDMA_ENGINE_SIM, true);
    sdrv_dev *d = sdu_add(&t, "uart", "fifo=64");
    sdrv_xact *rx = &d->x[0];
    rx->mode = SDRV_AUTO;
    sdu_buf b = sdu_buf_new(0, 64);

    assert_int_equal(sdu_init(rx, b.mdl, b.va, b.len), STATUS_SUCCESS);
    WdfDmaTransactionSetDeviceAddressOffset(rx->tr, UART_REG_FIFO_DEPTH);
    assert_int_equal(sdu_exec(&t, rx), STATUS_SUCCESS);
    assert_true(sdu_wait(&t, &rx->finished, 1));
    assert_int_equal(rx->final_status, STATUS_SUCCESS);
    for (size_t i = 0; i < b.len; i += 4) {
        uint32_t v;
        memcpy(&v, b.va + i, 4);
        assert_int_equal(v, 64);
    }
    sdu_buf_guards_ok(&b);
    assert_int_equal(WdfDmaTransactionRelease(rx->tr), STATUS_SUCCESS);

    /* Initialize resets the offset, also one set before it. */
    memset(b.va, 0x77, b.len);
    WdfDmaTransactionSetDeviceAddressOffset(rx->tr, UART_REG_FIFO_DEPTH);
    assert_int_equal(sdu_init(rx, b.mdl, b.va, b.len), STATUS_SUCCESS);
    assert_int_equal(sdu_fx(rx->tr)->device_address_offset, 0);
    assert_int_equal(sdu_exec(&t, rx), STATUS_SUCCESS);
    assert_true(sdu_wait(&t, &rx->finished, 2));
    sdu_assert_bytes(b.va, b.len, 0);
    sdu_buf_guards_ok(&b);
    assert_int_equal(WdfDmaTransactionRelease(rx->tr), STATUS_SUCCESS);

    /* An offset outside the peripheral: the controller refuses the start, the first
     * transfer fails and Execute reports it. */
    assert_int_equal(sdu_init(rx, b.mdl, b.va, b.len), STATUS_SUCCESS);
    WdfDmaTransactionSetDeviceAddressOffset(rx->tr, 0x100000);
    InterlockedIncrement(&sdrv.test_depth);
    NTSTATUS st = WdfDmaTransactionExecute(rx->tr, rx);
    InterlockedDecrement(&sdrv.test_depth);
    t.grants++;    /* the channel was granted before the mapping failed */
    assert_int_equal(rx->program_calls, 2);   /* nothing programmed */
    sdu_run_for(&t, 1000000);
    /* the start failed inside the channel grant: the transfer-complete callback hears
     * DmaError and ends the transaction (auto mode: DmaCompletedFinal) */
    (void)st;
    assert_int_equal(rx->last_status, DmaError);
    assert_int_equal(sdu_state(rx->tr), FX_DMA_TRANSFER_COMPLETED);
    assert_int_equal(sdu_stats(&t).map_registers_in_use, 0);
    (void)WdfDmaTransactionRelease(rx->tr);
    sdu_buf_free(&b);
    sdu_down(&t);
}

/* ---- the deferral rule ----------------------------------------------------------------- */

static volatile LONG stall_armed, deferred_seen, stall_timeouts;

/* EvtProgramDma keeps running until the controller has finished the transfer it just
 * programmed and the HAL has reported it: the framework must hold that report back. */
static void stall_until_completion(sdrv_xact *x, PSCATTER_GATHER_LIST sg)
{
    (void)sg;
    if (!stall_armed)
        return;
    fx_dma_transaction *fx = sdu_fx(x->tr);
    LONG done_before = x->done_calls;
    for (long i = 0; i < 400000; i++) {
        if (__atomic_load_n(&fx->rerun_completion, __ATOMIC_ACQUIRE)) {
            InterlockedIncrement(&deferred_seen);
            return;
        }
        if (x->done_calls != done_before)
            return;   /* delivered nested: nested_done tells */
        KeStallExecutionProcessor(5);
    }
    InterlockedIncrement(&stall_timeouts);
}

/* Sim: the first transfer's completion is left to the test (manual), whose DmaCompleted
 * at PASSIVE stages transfer 2; its EvtProgramDma stalls, the controller finishes and the
 * DPC runs inside the stall. The transfer-complete callback must wait until EvtProgramDma
 * returns; its DmaCompleted (auto mode from now on) must not stage transfer 3 inside it —
 * the staging loop of the test's DmaCompleted does. Transfers 3 and 4 go the same way. */
static void test_deferral_sim(void **state)
{
    (void)state;
    sdu t;
    sdrv_dev *d = up_block_uart(&t, WDFDMA_ENGINE_SIM, true);
    sdrv_xact *tx = &d->x[1];
    sdu_buf b = sdu_buf_new(0, 4 * XFER);
    NTSTATUS st;
    char order[64];
    stall_armed = deferred_seen = stall_timeouts = 0;
    sdrv.program_hook = stall_until_completion;

    assert_int_equal(sdu_init(tx, b.mdl, b.va, b.len), STATUS_SUCCESS);
    WdfDmaTransactionSetMaximumLength(tx->tr, XFER);
    assert_int_equal(sdu_exec(&t, tx), STATUS_SUCCESS);
    assert_true(sdu_wait(&t, &tx->done_calls, 1));

    stall_armed = 1;
    tx->mode = SDRV_AUTO;
    BOOLEAN done = sdu_completed(tx, &st);
    stall_armed = 0;
    assert_false(done);
    assert_int_equal(st, STATUS_MORE_PROCESSING_REQUIRED);
    /* the whole rest of the transaction ran inside the test's DmaCompleted */
    assert_int_equal(tx->finished, 1);
    assert_int_equal(tx->final_status, STATUS_SUCCESS);
    assert_int_equal(tx->final_bytes, 4 * XFER);
    assert_int_equal(sdu_state(tx->tr), FX_DMA_TRANSFER_COMPLETED);
    assert_string_equal(sdu_order(tx, order, sizeof order), "CPDCPDCPDCPD");
    assert_int_equal(stall_timeouts, 0);
    assert_int_equal(deferred_seen, 3);
    assert_int_equal(tx->nested_done, 0);      /* never inside EvtProgramDma */
    assert_int_equal(tx->nested_program, 0);   /* never inside the deferred callback */
    for (unsigned i = 1; i < 4; i++) {
        const sdrv_rec *p = nth_rec(tx, SDRV_EV_PROG, i);
        const sdrv_rec *dn = nth_rec(tx, SDRV_EV_DONE, i);
        assert_int_equal(p->test_depth, 1);
        assert_int_equal(dn->test_depth, 1);
        assert_int_equal(dn->in_program, 0);
        assert_int_equal(p->in_done, 0);
    }
    sdrv.program_hook = NULL;
    assert_int_equal(WdfDmaTransactionRelease(tx->tr), STATUS_SUCCESS);
    assert_int_equal(mach_findings(t.m), 0);
    sdu_buf_free(&b);
    sdu_down(&t);
}

/* Threads: the DPC runs on its own processor thread while EvtProgramDma (inside Execute,
 * at DISPATCH_LEVEL) stalls; every completion is deferred, the whole transaction runs in
 * the staging loop of Execute. */
static void test_deferral_threads(void **state)
{
    (void)state;
    sdu t;
    sdrv_dev *d = up_block_uart(&t, WDFDMA_ENGINE_THREADS, true);
    sdrv_xact *tx = &d->x[1];
    sdu_buf b = sdu_buf_new(0, 4 * XFER);
    char order[64];
    stall_armed = 1;
    deferred_seen = stall_timeouts = 0;
    sdrv.program_hook = stall_until_completion;
    tx->mode = SDRV_AUTO;

    assert_int_equal(sdu_init(tx, b.mdl, b.va, b.len), STATUS_SUCCESS);
    WdfDmaTransactionSetMaximumLength(tx->tr, XFER);
    assert_int_equal(sdu_exec(&t, tx), STATUS_SUCCESS);
    assert_true(sdu_wait(&t, &tx->finished, 1));
    stall_armed = 0;
    sdrv.program_hook = NULL;
    assert_string_equal(sdu_order(tx, order, sizeof order), "CPDCPDCPDCPD");
    assert_int_equal(tx->final_status, STATUS_SUCCESS);
    assert_int_equal(stall_timeouts, 0);
    assert_int_equal(deferred_seen, 4);
    assert_int_equal(tx->nested_done, 0);
    assert_int_equal(tx->nested_program, 0);
    for (unsigned i = 0; i < 4; i++)
        assert_int_equal(nth_rec(tx, SDRV_EV_DONE, i)->test_depth, 1);   /* inside Execute */
    assert_int_equal(WdfDmaTransactionRelease(tx->tr), STATUS_SUCCESS);
    sdu_buf_free(&b);
    sdu_down(&t);
}

/* ---- reservation and immediate execution -------------------------------------------------- */

static void test_reserve(void **state)
{
    (void)state;
    sdu t;
    sdrv_dev *d = up_block_uart(&t, WDFDMA_ENGINE_SIM, true);
    sdrv_xact *tx = &d->x[1];
    sdrv_xact *other = sdu_extra(d, 2, WdfDmaDirectionWriteToDevice);
    sdu_buf b = sdu_buf_new(0, 2 * XFER), b2 = sdu_buf_new(0, XFER);
    char order[64];
    tx->mode = other->mode = SDRV_AUTO;

    /* bad direction */
    assert_int_equal(WdfDmaTransactionAllocateResources(tx->tr, (WDF_DMA_DIRECTION)5, 0,
                                                        SdrvEvtReserveDma, tx),
                     STATUS_INVALID_PARAMETER);
    assert_int_equal(sdu_breaks(&t), 1);

    assert_int_equal(sdu_init(tx, b.mdl, b.va, b.len), STATUS_SUCCESS);
    assert_int_equal(WdfDmaTransactionAllocateResources(tx->tr, tx->dir, 0, SdrvEvtReserveDma,
                                                        tx),
                     STATUS_SUCCESS);
    t.grants++;
    assert_string_equal(sdu_order(tx, order, sizeof order), "R");   /* channel was free */
    assert_int_equal(sdu_state(tx->tr), FX_DMA_RESERVED);
    assert_int_equal(sdu_stats(&t).channel_grants, 1);
    uint64_t regs = sdu_stats(&t).map_registers_in_use;
    assert_true(regs > 0);

    /* Execute on the reservation: EvtProgramDma at once, inside Execute. */
    assert_int_equal(sdu_init(tx, b.mdl, b.va, b.len), STATUS_SUCCESS);
    assert_int_equal(sdu_exec(&t, tx), STATUS_SUCCESS);
    assert_int_equal(nth_rec(tx, SDRV_EV_PROG, 0)->test_depth, 1);
    assert_true(sdu_wait(&t, &tx->finished, 1));
    assert_int_equal(tx->final_bytes, 2 * XFER);
    /* the channel outlives the transaction and Release */
    assert_int_equal(WdfDmaTransactionRelease(tx->tr), STATUS_SUCCESS);
    assert_int_equal(sdu_stats(&t).map_registers_in_use, regs);

    /* another transaction on the adapter waits for the reserved channel */
    assert_int_equal(sdu_init(other, b2.mdl, b2.va, b2.len), STATUS_SUCCESS);
    assert_int_equal(sdu_exec(&t, other), STATUS_SUCCESS);
    sdu_run_for(&t, 1000000);
    assert_int_equal(other->program_calls, 0);

    /* reuse of the reservation: no new grant */
    assert_int_equal(sdu_init(tx, b.mdl, b.va, b.len), STATUS_SUCCESS);
    assert_int_equal(sdu_exec(&t, tx), STATUS_SUCCESS);
    assert_true(sdu_wait(&t, &tx->finished, 2));
    assert_int_equal(sdu_stats(&t).channel_grants, 1);
    assert_int_equal(WdfDmaTransactionRelease(tx->tr), STATUS_SUCCESS);

    WdfDmaTransactionFreeResources(tx->tr);
    assert_true(sdu_wait(&t, &other->finished, 1));
    assert_int_equal(other->final_bytes, XFER);
    assert_int_equal(WdfDmaTransactionRelease(other->tr), STATUS_SUCCESS);
    assert_int_equal(sdu_stats(&t).map_registers_in_use, 0);
    assert_int_equal(sdu_stats(&t).channel_grants, 2);
    sdu_buf_free(&b);
    sdu_buf_free(&b2);
    sdu_down(&t);
}

static void test_immediate_execution(void **state)
{
    (void)state;
    sdu t;
    sdrv_dev *d = up_block_uart(&t, WDFDMA_ENGINE_SIM, true);
    sdrv_xact *a = &d->x[1];
    sdrv_xact *bx = sdu_extra(d, 2, WdfDmaDirectionWriteToDevice);
    sdu_buf b1 = sdu_buf_new(0, XFER), b2 = sdu_buf_new(0, XFER);
    NTSTATUS st;

    assert_int_equal(sdu_init(a, b1.mdl, b1.va, b1.len), STATUS_SUCCESS);
    assert_int_equal(sdu_exec(&t, a), STATUS_SUCCESS);
    assert_true(sdu_wait(&t, &a->done_calls, 1));   /* manual: a still holds the channel */

    assert_int_equal(sdu_init(bx, b2.mdl, b2.va, b2.len), STATUS_SUCCESS);
    WdfDmaTransactionSetImmediateExecution(bx->tr, TRUE);
    assert_int_equal(sdu_exec(&t, bx), STATUS_INSUFFICIENT_RESOURCES);
    assert_int_equal(sdu_state(bx->tr), FX_DMA_TRANSFER_FAILED);
    assert_int_equal(bx->cfg_calls + bx->program_calls + bx->done_calls, 0);
    assert_int_equal(WdfDmaTransactionRelease(bx->tr), STATUS_SUCCESS);
    /* AllocateResources the same way */
    WdfDmaTransactionSetImmediateExecution(bx->tr, TRUE);
    assert_int_equal(WdfDmaTransactionAllocateResources(bx->tr, bx->dir, 0 + 1,
                                                        SdrvEvtReserveDma, bx),
                     STATUS_INSUFFICIENT_RESOURCES);
    assert_int_equal(WdfDmaTransactionRelease(bx->tr), STATUS_SUCCESS);

    assert_true(sdu_completed(a, &st));
    assert_int_equal(st, STATUS_SUCCESS);
    assert_int_equal(WdfDmaTransactionRelease(a->tr), STATUS_SUCCESS);

    /* channel free: immediate execution programs at once */
    bx->mode = SDRV_AUTO;
    assert_int_equal(sdu_init(bx, b2.mdl, b2.va, b2.len), STATUS_SUCCESS);
    WdfDmaTransactionSetImmediateExecution(bx->tr, TRUE);
    assert_int_equal(sdu_exec(&t, bx), STATUS_SUCCESS);
    assert_int_equal(bx->program_calls, 1);
    assert_true(sdu_wait(&t, &bx->finished, 1));
    assert_int_equal(WdfDmaTransactionRelease(bx->tr), STATUS_SUCCESS);
    sdu_buf_free(&b1);
    sdu_buf_free(&b2);
    sdu_down(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order_sim),
        cmocka_unit_test(test_order_threads),
        cmocka_unit_test(test_configure_false),
        cmocka_unit_test(test_device_address_offset),
        cmocka_unit_test(test_deferral_sim),
        cmocka_unit_test(test_deferral_threads),
        cmocka_unit_test(test_reserve),
        cmocka_unit_test(test_immediate_execution),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
