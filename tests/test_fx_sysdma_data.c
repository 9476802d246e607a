/*
 * Data through system-mode DMA, byte for byte (reference §4; STYLE.md: encoded bytes and
 * guard bands): uart loopback at several baud rates and FIFO depths, reads and writes
 * split into several transfers (the framework stages them through the same channel, the
 * driver re-configures the burst before each), and the looped ring: one notification per
 * wrap, StopSystemTransfer ends it, the stream is the ring repeated exactly.
 */
#include "fx_sysdma_testutil.h"

typedef struct loop_case {
    unsigned baud, fifo;
    size_t len, max_transfer, tx_offset, rx_offset;
    wdfdma_mem_policy memory;          /* 0: scattered */
    LONG rx_pieces, tx_pieces;         /* transfers the HAL's mappings must split into (0: any) */
} loop_case;

static void run_loopback(wdfdma_engine engine, const loop_case *c, unsigned id)
{
    sdu t;
    char o[96];
    sdu_cfg_reset();
    sdu_opts uo = {.engine = engine, .verifier = true, .memory = c->memory};
    sdu_up(&t, &uo);
    snprintf(o, sizeof o, "fifo=%u,baud=%u", c->fifo, c->baud);
    sdrv_dev *d = sdu_add(&t, "uart", o);
    sdrv_xact *rx = &d->x[0], *tx = &d->x[1];
    sdu_buf tb = sdu_buf_new(c->tx_offset, c->len), rb = sdu_buf_new(c->rx_offset, c->len);
    sdu_fill(tb.va, c->len, id);
    memset(rb.va, 0, c->len);
    rx->mode = tx->mode = SDRV_AUTO;
    rx->set_burst = tx->set_burst = true;
    /* the read first: it waits for the bytes the write sends through the loopback */
    assert_int_equal(sdu_init(rx, rb.mdl, rb.va, c->len), STATUS_SUCCESS);
    WdfDmaTransactionSetMaximumLength(rx->tr, c->max_transfer);
    assert_int_equal(sdu_exec(&t, rx), STATUS_SUCCESS);
    assert_int_equal(sdu_init(tx, tb.mdl, tb.va, c->len), STATUS_SUCCESS);
    WdfDmaTransactionSetMaximumLength(tx->tr, c->max_transfer);
    assert_int_equal(sdu_exec(&t, tx), STATUS_SUCCESS);
    assert_true(sdu_wait(&t, &tx->finished, 1));
    assert_true(sdu_wait(&t, &rx->finished, 1));
    assert_int_equal(tx->final_status, STATUS_SUCCESS);
    assert_int_equal(rx->final_status, STATUS_SUCCESS);
    assert_int_equal(tx->final_bytes, c->len);
    assert_int_equal(rx->final_bytes, c->len);
    sdu_assert_pattern(rb.va, c->len, id);
    sdu_assert_pattern(tb.va, c->len, id);
    sdu_buf_guards_ok(&rb);
    sdu_buf_guards_ok(&tb);
    unsigned transfers = (unsigned)((c->len + c->max_transfer - 1) / c->max_transfer);
    assert_true(rx->program_calls >= (LONG)transfers);
    if (c->rx_pieces)
        assert_int_equal(rx->program_calls, c->rx_pieces);
    if (c->tx_pieces)
        assert_int_equal(tx->program_calls, c->tx_pieces);
    assert_int_equal(rx->cfg_calls, rx->program_calls);
    assert_int_equal(rx->nested_done + tx->nested_done, 0);
    uint32_t st = (uint32_t)wdfdma_dev_peer_read(t.hw[0], 0, UART_REG_STATUS, 4);
    assert_int_equal(st & (UART_ST_RX_OVERRUN | UART_ST_RX_UNDERRUN | UART_ST_TX_OVERFLOW), 0);
    assert_int_equal(wdfdma_dev_peer_read(t.hw[0], 0, UART_REG_RX_LEVEL, 4), 0);
    assert_int_equal(WdfDmaTransactionRelease(rx->tr), STATUS_SUCCESS);
    assert_int_equal(WdfDmaTransactionRelease(tx->tr), STATUS_SUCCESS);
    assert_int_equal(mach_findings(t.m), 0);
    sdu_buf_free(&tb);
    sdu_buf_free(&rb);
    sdu_down(&t);
}

static void test_loopback_sim(void **state)
{
    (void)state;
    static const loop_case cases[] = {
        {921600, 16, 300, 128, 0, 0, WDFDMA_MEM_SCATTERED, 0, 0},
        {921600, 1, 100, 64, 7, 3, WDFDMA_MEM_SCATTERED, 0, 0},
        {115200, 4, 257, 100, 4000, 11, WDFDMA_MEM_SCATTERED, 0, 0},   /* TX crosses a page */
        {38400, 64, 500, 500, 1, 2, WDFDMA_MEM_SCATTERED, 0, 0},
        {9600, 32, 96, 40, 0, 100, WDFDMA_MEM_SCATTERED, 0, 0},
    };
    for (unsigned i = 0; i < sizeof cases / sizeof cases[0]; i++)
        run_loopback(WDFDMA_ENGINE_SIM, &cases[i], i + 1);
}

/* Demand mode, buffers that cross a page, memory below 4 GiB: the controller's 32-bit
 * window needs no bounce, so MapTransferEx maps only up to the first discontiguous frame
 * and the transfer is shorter than the Length EvtConfigureDmaChannel chose its burst from
 * (the first RX piece is 5 bytes under a burst of 8 chosen for 64). The framework stages
 * the rest as further transfers, the driver re-configures before each; every byte arrives
 * once, in order, and nothing waits for a beat that never comes. */
static void test_loopback_page_crossing_below4g(void **state)
{
    (void)state;
    static const loop_case cases[] = {
        {921600, 16, 64, 64, 0, 4091, WDFDMA_MEM_BELOW4G, 2, 1},         /* RX crosses */
        {921600, 16, 64, 64, 4093, 0, WDFDMA_MEM_BELOW4G, 1, 2},         /* TX crosses */
        {115200, 32, 200, 200, 4000, 4050, WDFDMA_MEM_BELOW4G, 2, 2},    /* both */
        {921600, 8, 9000, 9000, 100, 3000, WDFDMA_MEM_BELOW4G, 3, 3},    /* two each */
    };
    for (unsigned i = 0; i < sizeof cases / sizeof cases[0]; i++)
        run_loopback(WDFDMA_ENGINE_SIM, &cases[i], 20 + i);
}

static void test_loopback_threads(void **state)
{
    (void)state;
    static const loop_case cases[] = {
        {921600, 256, 400, 128, 5, 9, WDFDMA_MEM_SCATTERED, 0, 0},
        {115200, 64, 150, 64, 0, 0, WDFDMA_MEM_SCATTERED, 0, 0},
    };
    for (unsigned i = 0; i < sizeof cases / sizeof cases[0]; i++)
        run_loopback(WDFDMA_ENGINE_THREADS, &cases[i], 10 + i);
}

/* Looped playback ring: wraps notified once each, Stop ends the run with one
 * DmaCancelled, the device played the ring repeated byte for byte. */
static void run_ring(wdfdma_engine engine)
{
    enum { RING = 2048 };
    sdu t;
    sdu_cfg_reset();
    sdrv.cfg[0].looped = true;
    sdrv.cfg[0].width = Width32Bits;
    sdrv.cfg[0].simplex_dir = WdfDmaDirectionWriteToDevice;
    sdu_up_simple(&t, engine, true);
    sdrv_dev *d = sdu_add(&t, "ring", "dir=playback,rate=500000,frame=4,fifo=128");
    WDFCOMMONBUFFER cb;
    assert_int_equal(WdfCommonBufferCreate(d->enabler, RING, WDF_NO_OBJECT_ATTRIBUTES, &cb),
                     STATUS_SUCCESS);
    PUCHAR va = WdfCommonBufferGetAlignedVirtualAddress(cb);
    sdu_fill(va, RING, 77);
    PMDL mdl = IoAllocateMdl(va, RING, FALSE, FALSE, NULL);
    assert_non_null(mdl);
    MmBuildMdlForNonPagedPool(mdl);
    sdrv_xact *x = &d->x[1];
    x->mode = SDRV_AUTO;
    assert_int_equal(sdu_init(x, mdl, va, RING), STATUS_SUCCESS);
    assert_int_equal(sdu_exec(&t, x), STATUS_SUCCESS);
    assert_true(sdu_wait(&t, &x->wraps, 4));
    WdfDmaTransactionStopSystemTransfer(x->tr);
    assert_true(sdu_wait(&t, &x->finished, 1));
    assert_int_equal(x->last_status, DmaCancelled);
    assert_int_equal(x->program_calls, 1);        /* one transfer, looped */
    assert_int_equal(x->done_calls, x->wraps + 1);
    /* one notification per wrap: the controller wrapped as often as we were told */
    uint64_t moved_min = ring_stream_bytes(t.hw[0]);   /* consumed <= pushed */
    assert_true((uint64_t)x->wraps >= moved_min / RING);
    assert_true((uint64_t)x->wraps <= (moved_min + 128) / RING);
    /* Stop ended it: no more callbacks, the stream stops once the FIFO drains */
    sdu_run_for(&t, 5000000);
    uint64_t consumed = ring_stream_bytes(t.hw[0]);
    sdu_run_for(&t, 5000000);
    assert_int_equal(ring_stream_bytes(t.hw[0]), consumed);
    assert_int_equal(x->done_calls, x->wraps + 1);
    /* The model records its first 64 KiB (the "record" option's default). With real
     * threads on a loaded machine the stop can land late, so the stream may outrun it. */
    static uint8_t got[65536];
    long n = ring_recorded(t.hw[0], 0, got, sizeof got);
    assert_int_equal((uint64_t)n, consumed < sizeof got ? consumed : sizeof got);
    assert_true(n >= 3 * RING);
    for (long k = 0; k < n; k++)
        if (got[k] != sdu_enc(77, (size_t)k % RING))
            fail_msg("stream byte %ld is %#x, expected %#x", k, got[k],
                     sdu_enc(77, (size_t)k % RING));
    assert_int_equal(ring_xruns(t.hw[0]) > 0 && engine == WDFDMA_ENGINE_SIM, false);
    assert_int_equal(WdfDmaTransactionRelease(x->tr), STATUS_SUCCESS);
    IoFreeMdl(mdl);
    assert_int_equal(mach_findings(t.m), 0);
    sdu_down(&t);
}

static void test_ring_sim(void **state)
{
    (void)state;
    run_ring(WDFDMA_ENGINE_SIM);
}

static void test_ring_threads(void **state)
{
    (void)state;
    run_ring(WDFDMA_ENGINE_THREADS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_loopback_sim),
        cmocka_unit_test(test_loopback_page_crossing_below4g),
        cmocka_unit_test(test_loopback_threads),
        cmocka_unit_test(test_ring_sim),
        cmocka_unit_test(test_ring_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
