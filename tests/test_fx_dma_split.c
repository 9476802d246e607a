/*
 * Splitting a transaction into transfers (reference §2; behaviours 2 and 5): by
 * MaximumLength, by map registers (fragment = (registers - 1) pages), by the SG element
 * limit (STATUS_WDF_TOO_FRAGMENTED at Initialize; scattered memory makes elements = pages),
 * the exact (offset, length, elements) sequence EvtProgramDma sees, and a 32-bit device
 * with above-4G memory that bounces and still verifies byte-exact.
 */
#include "fx_dma_testutil.h"

#define KB 1024u
#define WR WdfDmaDirectionWriteToDevice
#define RD WdfDmaDirectionReadFromDevice

static void up(tdu *t, WDF_DMA_PROFILE p, size_t max, ULONG max_sg, wdfdma_mem_policy mem,
               unsigned limit)
{
    tdu_cfg_default();
    tdrv.cfg.profile = p;
    tdrv.cfg.max_length = max;
    tdrv.cfg.max_sg = max_sg;
    tdu_opts o = {.engine = WDFDMA_ENGINE_SIM, .verifier = true, .memory = mem,
                  .map_register_limit = limit};
    tdu_up(t, &o);
    assert_int_equal(tdrv.enabler_status, STATUS_SUCCESS);
}

static unsigned run(WDFDMATRANSACTION tr, tdu_buf *b, size_t skip, size_t len)
{
    LONG first = tdrv.program_calls;
    assert_int_equal(WdfDmaTransactionInitialize(tr, TdrvEvtProgramDma, WR, b->mdl, b->va + skip,
                                                 len),
                     STATUS_SUCCESS);
    assert_int_equal(tdu_execute(tr, NULL), STATUS_SUCCESS);
    NTSTATUS st;
    unsigned n = tdu_drain(tr, &st);
    assert_int_equal(st, STATUS_SUCCESS);
    assert_int_equal(tdrv.program_calls - first, n);
    WdfDmaTransactionRelease(tr);
    return n;
}

static void expect(unsigned first, unsigned n, const size_t (*seq)[3])
{
    for (unsigned i = 0; i < n; i++) {
        tdrv_record *r = &tdrv.rec[first + i];
        if (r->offset != seq[i][0] || r->length != seq[i][1] || r->elements != seq[i][2])
            fail_msg("transfer %u: (%zu, %zu, %u), expected (%zu, %zu, %zu)", i, r->offset,
                     r->length, r->elements, seq[i][0], seq[i][1], seq[i][2]);
        assert_int_equal(r->sg_bytes, r->length);
    }
}

/* MaximumLength on contiguous memory: one element per transfer. */
static void test_split_by_maximum_length(void **state)
{
    (void)state;
    tdu t;
    up(&t, WdfDmaProfileScatterGather64, 16 * KB, 0, WDFDMA_MEM_CONTIGUOUS, 0);
    tdu_buf b = tdu_buf_new(512, 50 * KB);
    assert_int_equal(run(tdrv.tr[WR], &b, 0, b.len), 4);
    static const size_t seq[][3] = {{0, 16 * KB, 1}, {16 * KB, 16 * KB, 1},
                                    {32 * KB, 16 * KB, 1}, {48 * KB, 2 * KB, 1}};
    expect(0, 4, seq);
    tdu_buf_free(&b);
    tdu_down(&t);
}

/* Scattered memory: elements = pages spanned; the element limit is checked worst case. */
static void test_split_by_sg_limit(void **state)
{
    (void)state;
    tdu t;
    up(&t, WdfDmaProfileScatterGather64, 8 * KB, 3, WDFDMA_MEM_SCATTERED, 0);
    assert_int_equal(WdfDmaEnablerGetMaximumScatterGatherElements(tdrv.enabler), 3);
    tdu_buf b = tdu_buf_new(0, 32 * KB);
    /* from page offset 100: each 8K chunk spans 3 pages = 3 elements */
    assert_int_equal(run(tdrv.tr[WR], &b, 100, 20 * KB), 3);
    static const size_t seq[][3] = {{0, 8 * KB, 3}, {8 * KB, 8 * KB, 3}, {16 * KB, 4 * KB, 2}};
    expect(0, 3, seq);
    WdfDmaEnablerSetMaximumScatterGatherElements(tdrv.enabler, 2);
    assert_int_equal(WdfDmaTransactionInitialize(tdrv.tr[WR], TdrvEvtProgramDma, WR, b.mdl,
                                                 b.va + 100, 20 * KB),
                     STATUS_WDF_TOO_FRAGMENTED);
    assert_int_equal(tdu_state(tdrv.tr[WR]), FX_DMA_RELEASED);
    assert_int_equal(tdrv.program_calls, 3);
    /* page aligned: 2 pages per chunk fit */
    assert_int_equal(run(tdrv.tr[WR], &b, 0, 20 * KB), 3);
    static const size_t seq2[][3] = {{0, 8 * KB, 2}, {8 * KB, 8 * KB, 2}, {16 * KB, 4 * KB, 1}};
    expect(3, 3, seq2);
    tdu_assert_idle(&t);
    tdu_buf_free(&b);
    tdu_down(&t);
}

/* Map registers: 4 per adapter => fragment 3 pages; a transfer never spans more than 4. */
static void test_split_by_map_registers(void **state)
{
    (void)state;
    tdu t;
    up(&t, WdfDmaProfileScatterGather64Duplex, 64 * KB, 0, WDFDMA_MEM_SCATTERED, 4);
    assert_int_equal(WdfDmaEnablerGetFragmentLength(tdrv.enabler, WR), 3 * PAGE_SIZE);
    assert_int_equal(WdfDmaEnablerGetFragmentLength(tdrv.enabler, RD), 3 * PAGE_SIZE);
    tdu_buf b = tdu_buf_new(0, 40 * KB);
    unsigned n = run(tdrv.tr[WR], &b, 100, 30 * KB);
    assert_int_equal(n, 3);
    static const size_t seq[][3] = {{0, 12 * KB, 4}, {12 * KB, 12 * KB, 4}, {24 * KB, 6 * KB, 2}};
    expect(0, 3, seq);
    tdu_buf_free(&b);
    tdu_down(&t);
}

/* A 32-bit profile on a 32-bit device with memory above 4 GiB: bounced, byte-exact. */
static void bounce(wdfdma_engine engine, WDF_DMA_PROFILE p)
{
    tdu t;
    tdu_cfg_default();
    tdrv.cfg.profile = p;
    tdrv.cfg.max_length = 16 * KB;
    tdrv.cfg.hw = true;
    tdu_opts o = {.engine = engine, .verifier = true, .memory = WDFDMA_MEM_ABOVE4G,
                  .device_options = "addr_bits=32"};
    tdu_up(&t, &o);
    size_t len = 37 * KB + 3, devlen;
    tdu_buf w = tdu_buf_new(777, len), r = tdu_buf_new(5, len);
    tdu_fill(w.va, len, 21, 0);
    uint8_t *dm = tdu_devmem(&t, &devlen);
    tdrv_chan *c = tdu_run_hw(&t, tdrv.tr[WR], WR, w.mdl, w.va, len, 64);
    assert_int_equal(c->final_status, STATUS_SUCCESS);
    tdu_assert_pattern(dm + 64, len, 21, 0);
    WdfDmaTransactionRelease(tdrv.tr[WR]);
    c = tdu_run_hw(&t, tdrv.tr[RD], RD, r.mdl, r.va, len, 64);
    assert_int_equal(c->final_status, STATUS_SUCCESS);
    assert_int_equal(c->final_bytes, len);
    tdu_assert_pattern(r.va, len, 21, 0);
    tdu_buf_guards_ok(&r);
    WdfDmaTransactionRelease(tdrv.tr[RD]);
    for (LONG i = 0; i < tdrv.program_calls && i < (LONG)TDU_MAX_RECORDS; i++)
        for (ULONG k = 0; k < tdrv.rec[i].elements && k < TDU_MAX_ELEMS; k++)
            assert_true(tdrv.rec[i].addr[k] + tdrv.rec[i].len[k] <= (1ull << 32));
    wdfdma_dma_stats s;
    assert_int_equal(wdfdma_dma_get_stats(t.m, &s), 0);
    assert_true(s.bounced_bytes >= 2 * len);
    tdu_buf_free(&w);
    tdu_buf_free(&r);
    tdu_down(&t);
}

static void test_bounce_above4g(void **state)
{
    (void)state;
    bounce(WDFDMA_ENGINE_SIM, WdfDmaProfileScatterGather);
    bounce(WDFDMA_ENGINE_SIM, WdfDmaProfileScatterGatherDuplex);
    bounce(WDFDMA_ENGINE_THREADS, WdfDmaProfileScatterGather);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_split_by_maximum_length),
        cmocka_unit_test(test_split_by_sg_limit),
        cmocka_unit_test(test_split_by_map_registers),
        cmocka_unit_test(test_bounce_above4g),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
