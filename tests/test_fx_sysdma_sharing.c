/*
 * More transactions than controller channels (reference §4: a system transaction holds
 * its adapter channel for its whole life; controller channels shared across adapters
 * are granted in request order): FIFO grants across devices and within one adapter, no
 * starvation when two devices keep re-requesting one channel, 16 uarts on 8 channels
 * with byte-exact loopback data, 16 rings on 8 channels with looped runs in turns.
 */
#include "fx_sysdma_testutil.h"

/* Device index of the n-th EvtProgramDma record of slot `slot` (any device). */
static int prog_dev(unsigned n, ULONG slot)
{
    for (LONG i = 0; i < sdrv.nlog; i++) {
        const sdrv_rec *r = &sdrv.log[i];
        if (r->kind == SDRV_EV_PROG && r->slot == slot && n-- == 0)
            return (int)r->dev;
    }
    return -1;
}

/* Three uarts whose TX share channel 0: grants follow the order of the Execute calls,
 * not the device order; a second transaction of the first adapter queues behind. */
static void test_fifo_across_devices(void **state)
{
    (void)state;
    sdu t;
    sdu_cfg_reset();
    for (int i = 0; i < 3; i++)
        sdrv.cfg[i].block_mode = true;
    sdu_up_simple(&t, WDFDMA_ENGINE_SIM, true);
    sdu_add(&t, "uart", "tx_channel=0,rx_channel=1,fifo=4096");
    sdu_add(&t, "uart", "tx_channel=0,rx_channel=2,fifo=4096");
    sdu_add(&t, "uart", "tx_channel=0,rx_channel=3,fifo=4096");
    sdrv_xact *x0 = &sdrv.dev[0].x[1], *x1 = &sdrv.dev[1].x[1], *x2 = &sdrv.dev[2].x[1];
    sdrv_xact *x0b = sdu_extra(&sdrv.dev[0], 2, WdfDmaDirectionWriteToDevice);
    sdrv_xact *order[] = {x0, x2, x1, x0b};
    sdu_buf b = sdu_buf_new(0, 512);
    for (unsigned i = 0; i < 4; i++) {
        order[i]->mode = SDRV_AUTO;
        assert_int_equal(sdu_init(order[i], b.mdl, b.va, b.len), STATUS_SUCCESS);
        assert_int_equal(sdu_exec(&t, order[i]), STATUS_SUCCESS);
    }
    /* only the first runs; the others wait */
    assert_int_equal(x1->program_calls + x2->program_calls + x0b->program_calls, 0);
    for (unsigned i = 0; i < 4; i++)
        assert_true(sdu_wait(&t, &order[i]->finished, 1));
    char seq[64];
    size_t n = 0;
    for (LONG i = 0; i < sdrv.nlog; i++) {
        const sdrv_rec *r = &sdrv.log[i];
        if (r->kind == SDRV_EV_PROG)
            n += (size_t)snprintf(seq + n, sizeof seq - n, "%u.%u ", r->dev, r->slot);
    }
    assert_string_equal(seq, "0.1 2.1 1.1 0.2 ");
    /* each held the channel from its first configure to its last completion */
    const char *expect[] = {"CPD", "CPD", "CPD", "CPD"};
    for (unsigned i = 0; i < 4; i++) {
        char o[16];
        assert_string_equal(sdu_order(order[i], o, sizeof o), expect[i]);
        assert_int_equal(order[i]->final_bytes, 512);
        assert_int_equal(WdfDmaTransactionRelease(order[i]->tr), STATUS_SUCCESS);
    }
    assert_int_equal(sdu_stats(&t).channel_grants, 4);
    sdu_buf_free(&b);
    sdu_down(&t);
}

/* Two devices re-request the shared channel from their transfer-complete callbacks: the
 * waiting one is always served first (strict alternation), both finish every round. */
static void run_no_starvation(wdfdma_engine engine)
{
    enum { ROUNDS = 6 };
    sdu t;
    sdu_cfg_reset();
    sdrv.cfg[0].block_mode = sdrv.cfg[1].block_mode = true;
    sdu_up_simple(&t, engine, true);
    sdu_add(&t, "uart", "tx_channel=0,rx_channel=1,fifo=4096");
    sdu_add(&t, "uart", "tx_channel=0,rx_channel=2,fifo=4096");
    sdu_buf b = sdu_buf_new(0, 2048);
    sdrv_xact *x[2] = {&sdrv.dev[0].x[1], &sdrv.dev[1].x[1]};
    for (int i = 0; i < 2; i++) {
        x[i]->mode = SDRV_AUTO;
        x[i]->repeat = ROUNDS - 1;
        assert_int_equal(sdu_init(x[i], b.mdl, b.va, b.len), STATUS_SUCCESS);
    }
    /* the second request is queued while the first holds the channel (sim: no time
     * passes between the two Executes) */
    assert_int_equal(sdu_exec(&t, x[0]), STATUS_SUCCESS);
    assert_int_equal(sdu_exec(&t, x[1]), STATUS_SUCCESS);
    for (int i = 0; i < 2; i++)
        assert_true(sdu_wait(&t, &x[i]->finished, ROUNDS));
    for (int i = 0; i < 2; i++) {
        assert_int_equal(x[i]->program_calls, ROUNDS);
        assert_int_equal(x[i]->final_bytes, 2048);
        assert_int_equal(WdfDmaTransactionRelease(x[i]->tr), STATUS_SUCCESS);
    }
    if (engine == WDFDMA_ENGINE_SIM)
        for (unsigned n = 0; n < 2 * ROUNDS; n++)
            assert_int_equal(prog_dev(n, 1), (int)(n % 2));
    sdu_buf_free(&b);
    sdu_down(&t);
}

static void test_no_starvation_sim(void **state)
{
    (void)state;
    run_no_starvation(WDFDMA_ENGINE_SIM);
}

static void test_no_starvation_threads(void **state)
{
    (void)state;
    run_no_starvation(WDFDMA_ENGINE_THREADS);
}

/* 16 uarts on 8 channels, loopback, every device reads back what it wrote.
 *
 * Deadlock-free by design: the TX resources use channels 0-3 and the RX resources 4-7,
 * so a TX transaction only ever waits behind other TX transactions, which always finish
 * (the line drains the TX FIFO at the baud rate whatever the receiver does). An RX
 * transaction holding its channel waits only for its own TX. If TX and RX of different
 * uarts shared channels, RX transactions holding channels while their TX queue behind
 * other holders could close a cycle. And the RX FIFO (fifo=) is at least the request
 * size: while a device's RX waits for its channel, everything its TX sends stays in the
 * FIFO instead of overrunning it. Each device posts its read before its write. */
static void run_16_uarts(wdfdma_engine engine)
{
    enum { N = 16, LEN = 200 };
    sdu t;
    sdu_cfg_reset();
    sdu_up_simple(&t, engine, true);
    sdu_buf tx[N], rx[N];
    for (unsigned i = 0; i < N; i++) {
        char o[96];
        snprintf(o, sizeof o, "tx_channel=%u,rx_channel=%u,fifo=256,baud=921600", i % 4,
                 4 + i % 4);
        sdu_add(&t, "uart", o);
        tx[i] = sdu_buf_new(16 * i, LEN);
        rx[i] = sdu_buf_new(8 * i, LEN);
        sdu_fill(tx[i].va, LEN, i);
        memset(rx[i].va, 0, LEN);
    }
    for (unsigned i = 0; i < N; i++) {
        sdrv_dev *d = &sdrv.dev[i];
        for (int s = 0; s < 2; s++) {
            d->x[s].mode = SDRV_AUTO;
            d->x[s].set_burst = true;
        }
        assert_int_equal(sdu_init(&d->x[0], rx[i].mdl, rx[i].va, LEN), STATUS_SUCCESS);
        WdfDmaTransactionSetMaximumLength(d->x[0].tr, 128);
        assert_int_equal(sdu_exec(&t, &d->x[0]), STATUS_SUCCESS);
        assert_int_equal(sdu_init(&d->x[1], tx[i].mdl, tx[i].va, LEN), STATUS_SUCCESS);
        assert_int_equal(sdu_exec(&t, &d->x[1]), STATUS_SUCCESS);
    }
    for (unsigned i = 0; i < N; i++)
        for (int s = 0; s < 2; s++)
            if (!sdu_wait(&t, &sdrv.dev[i].x[s].finished, 1))
                fail_msg("uart %u slot %d did not finish", i, s);
    for (unsigned i = 0; i < N; i++) {
        sdrv_dev *d = &sdrv.dev[i];
        assert_int_equal(d->x[0].final_status, STATUS_SUCCESS);
        assert_int_equal(d->x[0].final_bytes, LEN);
        assert_int_equal(d->x[1].final_bytes, LEN);
        assert_int_equal(d->x[0].nested_done + d->x[1].nested_done, 0);
        sdu_assert_pattern(rx[i].va, LEN, i);
        sdu_assert_pattern(tx[i].va, LEN, i);
        sdu_buf_guards_ok(&rx[i]);
        sdu_buf_guards_ok(&tx[i]);
        uint32_t st = (uint32_t)wdfdma_dev_peer_read(t.hw[i], 0, UART_REG_STATUS, 4);
        assert_int_equal(st & (UART_ST_RX_OVERRUN | UART_ST_RX_UNDERRUN | UART_ST_TX_OVERFLOW), 0);
        assert_int_equal(WdfDmaTransactionRelease(d->x[0].tr), STATUS_SUCCESS);
        assert_int_equal(WdfDmaTransactionRelease(d->x[1].tr), STATUS_SUCCESS);
    }
    /* per channel, first grants in request order: devices c, c+4, c+8, c+12 */
    for (int s = 0; s < 2; s++)
        for (unsigned c = 0; c < 4; c++) {
            int last = -1;
            for (LONG i = 0; i < sdrv.nlog; i++) {
                const sdrv_rec *r = &sdrv.log[i];
                if (r->kind != SDRV_EV_CFG || r->slot != (ULONG)s || r->dev % 4 != c)
                    continue;
                if ((int)r->dev != last) {
                    assert_true((int)r->dev > last);   /* never back to an earlier device */
                    last = (int)r->dev;
                }
            }
            assert_int_equal(last, (int)(12 + c));
        }
    for (unsigned i = 0; i < N; i++) {
        sdu_buf_free(&tx[i]);
        sdu_buf_free(&rx[i]);
    }
    sdu_down(&t);
}

static void test_16_uarts_sim(void **state)
{
    (void)state;
    run_16_uarts(WDFDMA_ENGINE_SIM);
}

static void test_16_uarts_threads(void **state)
{
    (void)state;
    run_16_uarts(WDFDMA_ENGINE_THREADS);
}

/* 16 playback rings on 8 channels, looped runs: 8 run, 8 wait; each running ring is
 * stopped after two wraps, which hands its channel to the waiting ring. */
static void run_16_rings(wdfdma_engine engine)
{
    enum { N = 16, RING = 1024 };
    sdu t;
    sdu_cfg_reset();
    for (unsigned i = 0; i < N; i++) {
        sdrv.cfg[i].looped = true;
        sdrv.cfg[i].width = Width32Bits;
        sdrv.cfg[i].simplex_dir = WdfDmaDirectionWriteToDevice;
    }
    sdu_up_simple(&t, engine, true);
    WDFCOMMONBUFFER cb[N];
    PMDL mdl[N];
    for (unsigned i = 0; i < N; i++) {
        char o[96];
        snprintf(o, sizeof o, "dir=playback,rate=250000,frame=4,fifo=64,channel=%u", i % 8);
        sdrv_dev *d = sdu_add(&t, "ring", o);
        assert_int_equal(WdfCommonBufferCreate(d->enabler, RING, WDF_NO_OBJECT_ATTRIBUTES, &cb[i]),
                         STATUS_SUCCESS);
        PUCHAR va = WdfCommonBufferGetAlignedVirtualAddress(cb[i]);
        sdu_fill(va, RING, i);
        mdl[i] = IoAllocateMdl(va, RING, FALSE, FALSE, NULL);
        assert_non_null(mdl[i]);
        MmBuildMdlForNonPagedPool(mdl[i]);
        sdrv_xact *x = &d->x[1];
        x->mode = SDRV_AUTO;
        assert_int_equal(sdu_init(x, mdl[i], va, RING), STATUS_SUCCESS);
        assert_int_equal(sdu_exec(&t, x), STATUS_SUCCESS);
    }
    for (unsigned turn = 0; turn < 2; turn++)
        for (unsigned c = 0; c < 8; c++) {
            unsigned i = c + 8 * turn;
            sdrv_xact *x = &sdrv.dev[i].x[1];
            assert_true(sdu_wait(&t, &x->wraps, 2));
            if (turn == 0)
                assert_int_equal(sdrv.dev[i + 8].x[1].program_calls, 0);   /* still waiting */
            WdfDmaTransactionStopSystemTransfer(x->tr);
            assert_true(sdu_wait(&t, &x->finished, 1));
            assert_int_equal(x->last_status, DmaCancelled);
            assert_int_equal(WdfDmaTransactionRelease(x->tr), STATUS_SUCCESS);
        }
    for (unsigned i = 0; i < N; i++) {
        sdrv_xact *x = &sdrv.dev[i].x[1];
        assert_int_equal(x->program_calls, 1);
        assert_int_equal(x->finished, 1);
        /* the stream is the ring, repeated, byte for byte */
        uint8_t got[3 * RING];
        long n = ring_recorded(t.hw[i], 0, got, sizeof got);
        assert_true(n >= 2 * RING - 64);   /* two wraps, less what waits in the FIFO */
        for (long k = 0; k < n; k++)
            if (got[k] != sdu_enc(i, (size_t)k % RING))
                fail_msg("ring %u stream byte %ld is %#x, expected %#x", i, k, got[k],
                         sdu_enc(i, (size_t)k % RING));
        IoFreeMdl(mdl[i]);
    }
    sdu_down(&t);
}

static void test_16_rings_sim(void **state)
{
    (void)state;
    run_16_rings(WDFDMA_ENGINE_SIM);
}

static void test_16_rings_threads(void **state)
{
    (void)state;
    run_16_rings(WDFDMA_ENGINE_THREADS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fifo_across_devices),
        cmocka_unit_test(test_no_starvation_sim),
        cmocka_unit_test(test_no_starvation_threads),
        cmocka_unit_test(test_16_uarts_sim),
        cmocka_unit_test(test_16_uarts_threads),
        cmocka_unit_test(test_16_rings_sim),
        cmocka_unit_test(test_16_rings_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
