/*
 * The sgdma sample driver (drivers/sgdma, genuine KMDF source, loaded as build/drivers/
 * sgdma.so) end to end, under every bus-master profile x both engines x memory policies
 * (scattered, contiguous, above4g: a 32-bit device on the 32-bit profiles bounces through
 * map registers). Data is encoded per request id and byte offset, with guard bands in host
 * buffers and in device memory. Faults: the device's "short" read (the driver reports the
 * residue with DmaCompletedWithLength, the framework continues, the data that arrives is
 * exact) and "dma-error" (DmaCompletedFinal, the request fails, the next one works).
 * Power down/up between requests with the enabler callback order asserted. Every request
 * completes exactly once; nothing leaks.
 */
#include "fx_dma_testutil.h"

#define KB 1024u

typedef struct e2e {
    wdfdma_machine *m;
    wdfdma_dev *hw;
    wdfdma_file *f;
    wdm_pool_stats pool_before;
    const char *fault;               /* fault kind to fire ... */
    int fault_budget;                /* ... this many times */
    int fault_fired;
} e2e;

static bool fault_hook(void *ctx, wdfdma_dev *dev, const char *kind)
{
    (void)dev;
    e2e *e = ctx;
    if (e->fault == NULL || strcmp(kind, e->fault) != 0 || e->fault_budget <= 0)
        return false;
    e->fault_budget--;
    e->fault_fired++;
    return true;
}

/* A bug check on the test's own thread (sim engine) fails the running test instead of
 * aborting the program, so one implementation bug does not hide the other tests. */
static void on_bugcheck(void *ctx, const wdfdma_bugcheck *bc)
{
    (void)ctx;
    fail_msg("bug check %#x (%#llx, %#llx, %#llx): %s [callback %s]", bc->code,
             (unsigned long long)bc->p[0], (unsigned long long)bc->p[1],
             (unsigned long long)bc->p[2], bc->message, bc->callback);
}

static bool profile_is_64(WDF_DMA_PROFILE p)
{
    return p == WdfDmaProfilePacket64 || p == WdfDmaProfileScatterGather64 ||
           p == WdfDmaProfileScatterGather64Duplex;
}

static void e2e_up(e2e *e, wdfdma_engine engine, wdfdma_mem_policy mem, WDF_DMA_PROFILE profile,
                   ULONG max_transfer)
{
    memset(e, 0, sizeof *e);
    wdm_pool_get_stats(&e->pool_before);
    wdfdma_machine_config c;
    wdfdma_machine_config_init(&c);
    c.engine = engine;
    c.seed = 5 + (uint64_t)profile;
    c.memory = mem;
    c.verifier = true;
    if (wdfdma_machine_create(&c, &e->m) < 0)
        fail_msg("machine: %s", wdfdma_last_error());
    wdfdma_machine_set_fault_hook(e->m, fault_hook, e);
    if (engine == WDFDMA_ENGINE_SIM)
        wdfdma_machine_set_bugcheck_handler(e->m, on_bugcheck, e);
    const char *opts = profile_is_64(profile) ? "addr_bits=64,mem=256K" : "addr_bits=32,mem=256K";
    if (wdfdma_machine_add_device(e->m, "sgdma", "sgdma0", opts, &e->hw) < 0)
        fail_msg("sgdma: %s", wdfdma_last_error());
    wdfdma_driver *drv;
    if (wdfdma_driver_load(e->m, WDFDMA_BUILD_DRIVER_DIR "/sgdma.so", &drv) < 0)
        fail_msg("load: %s", wdfdma_last_error());
    assert_int_equal(wdfdma_registry_set_ulong(e->m, "sgdma0", "device", "DmaProfile",
                                               (uint32_t)profile), 0);
    if (max_transfer != 0)
        assert_int_equal(wdfdma_registry_set_ulong(e->m, "sgdma0", "device",
                                                   "MaximumTransferLength", max_transfer), 0);
    if (wdfdma_device_bind(e->hw, NULL) < 0)
        fail_msg("bind: %s", wdfdma_last_error());
    assert_string_equal(wdfdma_device_state(e->hw), "started");
    assert_int_equal(wdfdma_open(e->m, "sgdma0", &e->f), 0);
}

static void e2e_down(e2e *e)
{
    assert_int_equal(wdfdma_outstanding(e->f), 0);
    assert_int_equal(wdfdma_close(e->f), 0);
    assert_int_equal(wdfdma_device_remove(e->hw), 0);
    wdfdma_dma_stats s;
    assert_int_equal(wdfdma_dma_get_stats(e->m, &s), 0);
    assert_int_equal(s.adapters, 0);
    assert_int_equal(s.map_registers_in_use, 0);
    assert_int_equal(s.sg_lists_live, 0);
    assert_int_equal(s.common_buffers_live, 0);
    wdfdma_machine_stats ms;
    wdfdma_machine_get_stats(e->m, &ms);
    assert_int_equal(ms.frames_in_use, 0);
    assert_int_equal(ms.dma_faults, 0);
    wdfdma_machine_destroy(e->m);
    wdm_pool_stats after;
    wdm_pool_get_stats(&after);
    assert_int_equal(after.outstanding, e->pool_before.outstanding);
}

/* A host buffer with guard bands: [guard][data len][guard]. */
static uint8_t *guarded(size_t len, size_t lead)
{
    uint8_t *p = malloc(lead + len + TDU_GUARD);
    assert_non_null(p);
    memset(p, TDU_CANARY, lead + len + TDU_GUARD);
    return p;
}

static void check_guards(const uint8_t *p, size_t lead, size_t len)
{
    tdu_assert_bytes(p, lead, TDU_CANARY);
    tdu_assert_bytes(p + lead + len, TDU_GUARD, TDU_CANARY);
}

/* Write request `id` of len bytes to device offset off, check device memory (and its
 * neighbours), read it back into a guarded buffer at a page offset, check it. */
static void roundtrip(e2e *e, unsigned id, size_t len, uint64_t off, size_t lead)
{
    size_t devlen;
    uint8_t *dm = sgdma_debug_memory(e->hw, &devlen);
    assert_non_null(dm);
    assert_true(off + len + 64 <= devlen && off >= 64);
    memset(dm + off - 64, 0x3C, len + 128);
    uint8_t *w = guarded(len, lead), *r = guarded(len, lead + 1);
    tdu_fill(w + lead, len, id, 0);
    int32_t st;
    size_t info;
    assert_int_equal(wdfdma_write(e->f, w + lead, len, off, &st, &info), 0);
    assert_int_equal(st, STATUS_SUCCESS);
    assert_int_equal(info, len);
    tdu_assert_pattern(dm + off, len, id, 0);
    tdu_assert_bytes(dm + off - 64, 64, 0x3C);
    tdu_assert_bytes(dm + off + len, 64, 0x3C);
    assert_int_equal(wdfdma_read(e->f, r + lead + 1, len, off, &st, &info), 0);
    assert_int_equal(st, STATUS_SUCCESS);
    assert_int_equal(info, len);
    tdu_assert_pattern(r + lead + 1, len, id, 0);
    check_guards(r, lead + 1, len);
    check_guards(w, lead, len);
    free(w);
    free(r);
}

static const WDF_DMA_PROFILE profiles[] = {
    WdfDmaProfilePacket, WdfDmaProfileScatterGather, WdfDmaProfilePacket64,
    WdfDmaProfileScatterGather64, WdfDmaProfileScatterGatherDuplex,
    WdfDmaProfileScatterGather64Duplex,
};
static const wdfdma_mem_policy policies[] = {WDFDMA_MEM_SCATTERED, WDFDMA_MEM_CONTIGUOUS,
                                             WDFDMA_MEM_ABOVE4G};

static void matrix(wdfdma_engine engine)
{
    for (unsigned p = 0; p < 6; p++) {
        for (unsigned m = 0; m < 3; m++) {
            e2e e;
            e2e_up(&e, engine, policies[m], profiles[p], 16 * KB);
            unsigned id = p * 10 + m;
            size_t sizes[] = {1, 4096, 16 * KB + 77, 50 * KB + 3};
            unsigned n = engine == WDFDMA_ENGINE_SIM ? 4 : 2;
            for (unsigned i = 0; i < n; i++)
                roundtrip(&e, id + i, sizes[i] + (engine == WDFDMA_ENGINE_SIM ? 0 : 8 * KB),
                          4096 + 64 * i, (i * 1337) % PAGE_SIZE);
            wdfdma_dma_stats s;
            assert_int_equal(wdfdma_dma_get_stats(e.m, &s), 0);
            if (!profile_is_64(profiles[p]) && policies[m] == WDFDMA_MEM_ABOVE4G)
                assert_true(s.bounced_bytes > 0);        /* the bounce path was taken */
            if (profile_is_64(profiles[p]))
                assert_int_equal(s.bounced_bytes, 0);
            wdfdma_fx_dma_stats fs;
            assert_int_equal(wdfdma_fx_dma_get_stats(e.m, &fs), 0);
            assert_int_equal(fs.transactions, 2 * n);
            if (profiles[p] == WdfDmaProfilePacket || profiles[p] == WdfDmaProfilePacket64)
                assert_int_equal(fs.sg_elements_max, 1);   /* packet: one element */
            e2e_down(&e);
        }
    }
}

static void test_matrix_sim(void **state)
{
    (void)state;
    matrix(WDFDMA_ENGINE_SIM);
}

static void test_matrix_threads(void **state)
{
    (void)state;
    matrix(WDFDMA_ENGINE_THREADS);
}

/* ---- async: many requests, exactly-once completion ---------------------------------- */
typedef struct done_rec {
    volatile LONG calls;
    int32_t status;
    size_t info;
} done_rec;

static void on_done(void *ctx, int32_t status, size_t info)
{
    done_rec *d = ctx;
    d->status = status;
    d->info = info;
    __atomic_fetch_add(&d->calls, 1, __ATOMIC_ACQ_REL);
}

typedef struct all_ctx {
    done_rec *recs;
    unsigned n;
} all_ctx;

static bool all_done(void *ctx)
{
    all_ctx *a = ctx;
    for (unsigned i = 0; i < a->n; i++)
        if (__atomic_load_n(&a->recs[i].calls, __ATOMIC_ACQUIRE) == 0)
            return false;
    return true;
}

static void async_batch(wdfdma_engine engine, WDF_DMA_PROFILE profile)
{
    e2e e;
    e2e_up(&e, engine, WDFDMA_MEM_SCATTERED, profile, 8 * KB);
    enum { N = 8, LEN = 10 * KB + 11 };
    static uint8_t bufs[N][LEN], back[N][LEN];
    done_rec recs[N];
    memset(recs, 0, sizeof recs);
    wdfdma_io *op;
    for (unsigned i = 0; i < N; i++) {
        tdu_fill(bufs[i], LEN, 100 + i, 0);
        assert_int_equal(wdfdma_write_async(e.f, bufs[i], LEN, (uint64_t)i * 16 * KB, on_done,
                                            &recs[i], &op),
                         0);
    }
    all_ctx a = {recs, N};
    mach_enter(e.m);
    assert_true(mach_wait(e.m, all_done, &a, mach_is_sim(e.m) ? -1 : 10000000000ll));
    for (unsigned i = 0; i < N; i++) {
        assert_int_equal(recs[i].status, STATUS_SUCCESS);
        assert_int_equal(recs[i].info, LEN);
    }
    memset(recs, 0, sizeof recs);
    memset(back, TDU_CANARY, sizeof back);
    for (unsigned i = 0; i < N; i++)
        assert_int_equal(wdfdma_read_async(e.f, back[i], LEN, (uint64_t)i * 16 * KB, on_done,
                                           &recs[i], &op),
                         0);
    mach_enter(e.m);
    assert_true(mach_wait(e.m, all_done, &a, mach_is_sim(e.m) ? -1 : 10000000000ll));
    (void)wdfdma_machine_run(e.m);
    for (unsigned i = 0; i < N; i++) {
        assert_int_equal(recs[i].calls, 1);                 /* exactly once */
        assert_int_equal(recs[i].status, STATUS_SUCCESS);
        assert_int_equal(recs[i].info, LEN);
        tdu_assert_pattern(back[i], LEN, 100 + i, 0);
    }
    e2e_down(&e);
}

static void test_async_batch(void **state)
{
    (void)state;
    async_batch(WDFDMA_ENGINE_SIM, WdfDmaProfileScatterGather64Duplex);
    async_batch(WDFDMA_ENGINE_SIM, WdfDmaProfilePacket);
    async_batch(WDFDMA_ENGINE_THREADS, WdfDmaProfileScatterGather64Duplex);
    async_batch(WDFDMA_ENGINE_THREADS, WdfDmaProfilePacket64);
}

/* ---- faults -------------------------------------------------------------------------- */

/* "short": half of a read's transfer arrives; the driver reports the residue with
 * DmaCompletedWithLength and the framework continues from there: the whole request still
 * arrives, byte-exact, with more transfers than without the fault. */
static void short_read(wdfdma_engine engine, WDF_DMA_PROFILE profile, wdfdma_mem_policy mem)
{
    e2e e;
    e2e_up(&e, engine, mem, profile, 8 * KB);
    size_t len = 30 * KB + 5, devlen;
    uint8_t *dm = sgdma_debug_memory(e.hw, &devlen);
    tdu_fill(dm + 8192, len, 42, 0);
    uint8_t *r = guarded(len, 100);
    int32_t st;
    size_t info;
    wdfdma_fx_dma_stats s0, s1, s2;
    /* baseline: the same read without faults */
    assert_int_equal(wdfdma_fx_dma_get_stats(e.m, &s0), 0);
    assert_int_equal(wdfdma_read(e.f, r + 100, len, 8192, &st, &info), 0);
    assert_int_equal(st, STATUS_SUCCESS);
    tdu_assert_pattern(r + 100, len, 42, 0);
    memset(r, TDU_CANARY, 100 + len + TDU_GUARD);
    assert_int_equal(wdfdma_fx_dma_get_stats(e.m, &s1), 0);
    e.fault = "short";
    e.fault_budget = 2;
    assert_int_equal(wdfdma_read(e.f, r + 100, len, 8192, &st, &info), 0);
    assert_int_equal(e.fault_fired, 2);
    assert_int_equal(st, STATUS_SUCCESS);
    assert_int_equal(info, len);
    tdu_assert_pattern(r + 100, len, 42, 0);
    check_guards(r, 100, len);
    assert_int_equal(wdfdma_fx_dma_get_stats(e.m, &s2), 0);
    /* each short transfer costs at most one more transfer */
    uint64_t base = s1.transfers - s0.transfers, faulty = s2.transfers - s1.transfers;
    assert_true(faulty > base && faulty <= base + 2);
    free(r);
    e2e_down(&e);
}

static void test_short_read(void **state)
{
    (void)state;
    short_read(WDFDMA_ENGINE_SIM, WdfDmaProfileScatterGather64Duplex, WDFDMA_MEM_SCATTERED);
    short_read(WDFDMA_ENGINE_SIM, WdfDmaProfileScatterGather, WDFDMA_MEM_ABOVE4G);
    short_read(WDFDMA_ENGINE_THREADS, WdfDmaProfileScatterGather64, WDFDMA_MEM_SCATTERED);
}

/* The same on the packet profiles (one MapTransfer per transfer, one grant). */
static void test_short_read_packet(void **state)
{
    (void)state;
    short_read(WDFDMA_ENGINE_SIM, WdfDmaProfilePacket64, WDFDMA_MEM_SCATTERED);
    short_read(WDFDMA_ENGINE_SIM, WdfDmaProfilePacket, WDFDMA_MEM_ABOVE4G);
}

/* "dma-error": the driver ends the transaction with DmaCompletedFinal and fails the
 * request; the next request works. */
static void dma_error(wdfdma_engine engine, WDF_DMA_PROFILE profile)
{
    e2e e;
    e2e_up(&e, engine, WDFDMA_MEM_SCATTERED, profile, 8 * KB);
    size_t len = 20 * KB;
    uint8_t *w = guarded(len, 0);
    tdu_fill(w, len, 7, 0);
    int32_t st;
    size_t info;
    e.fault = "dma-error";
    e.fault_budget = 1;
    assert_int_equal(wdfdma_write(e.f, w, len, 4096, &st, &info), 0);
    assert_int_equal(e.fault_fired, 1);
    assert_int_equal(st, STATUS_DEVICE_DATA_ERROR);
    assert_true(info < len);
    e.fault = NULL;
    wdfdma_dma_stats s;
    assert_int_equal(wdfdma_dma_get_stats(e.m, &s), 0);
    assert_int_equal(s.sg_lists_live, 0);
    assert_int_equal(s.map_registers_in_use, 0);
    /* the next request works */
    roundtrip(&e, 8, len, 4096, 0);
    free(w);
    e2e_down(&e);
}

static void test_dma_error(void **state)
{
    (void)state;
    dma_error(WDFDMA_ENGINE_SIM, WdfDmaProfileScatterGather64Duplex);
    dma_error(WDFDMA_ENGINE_THREADS, WdfDmaProfileScatterGather);
}

static void test_dma_error_packet(void **state)
{
    (void)state;
    dma_error(WDFDMA_ENGINE_SIM, WdfDmaProfilePacket64);
}

/* ---- power ---------------------------------------------------------------------------- */

static size_t enabler_log(wdfdma_dev *dev, const char **out, size_t max)
{
    const char *all[512];
    size_t n = wdfdma_device_callback_log(dev, all, 512), k = 0;
    for (size_t i = 0; i < n && k < max; i++)
        if (strncmp(all[i], "EvtDmaEnabler", 13) == 0 || strncmp(all[i], "EvtDeviceD0", 11) == 0)
            out[k++] = all[i];
    return k;
}

static void assert_log(wdfdma_dev *dev, const char *const *want, size_t nwant)
{
    const char *got[64];
    size_t n = enabler_log(dev, got, 64);
    bool ok = n == nwant;
    for (size_t i = 0; ok && i < n; i++)
        ok = strncmp(got[i], want[i], strlen(want[i])) == 0;
    if (!ok) {
        for (size_t i = 0; i < n; i++)
            fprintf(stderr, "  got[%zu] = %s\n", i, got[i]);
        fail_msg("callback log differs (%zu entries, expected %zu)", n, nwant);
    }
}

static void power_cycle(wdfdma_engine engine)
{
    e2e e;
    e2e_up(&e, engine, WDFDMA_MEM_SCATTERED, WdfDmaProfileScatterGather64Duplex, 8 * KB);
    roundtrip(&e, 1, 9 * KB, 4096, 10);
    wdfdma_device_callback_log_clear(e.hw);
    assert_int_equal(wdfdma_device_set_power(e.hw, WDFDMA_D3), 0);
    static const char *const down[] = {
        "EvtDmaEnablerSelfManagedIoStop", "EvtDmaEnablerDisable", "EvtDmaEnablerFlush",
        "EvtDeviceD0Exit",
    };
    assert_log(e.hw, down, 4);
    wdfdma_device_callback_log_clear(e.hw);
    assert_int_equal(wdfdma_device_set_power(e.hw, WDFDMA_D0), 0);
    static const char *const up[] = {
        "EvtDeviceD0Entry", "EvtDmaEnablerFill", "EvtDmaEnablerEnable",
        "EvtDmaEnablerSelfManagedIoStart",
    };
    assert_log(e.hw, up, 4);
    roundtrip(&e, 2, 17 * KB + 3, 8192, 300);
    e2e_down(&e);
}

static void test_power_between_requests(void **state)
{
    (void)state;
    power_cycle(WDFDMA_ENGINE_SIM);
    power_cycle(WDFDMA_ENGINE_THREADS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matrix_sim),
        cmocka_unit_test(test_matrix_threads),
        cmocka_unit_test(test_async_batch),
        cmocka_unit_test(test_short_read),
        cmocka_unit_test(test_short_read_packet),
        cmocka_unit_test(test_dma_error),
        cmocka_unit_test(test_dma_error_packet),
        cmocka_unit_test(test_power_between_requests),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
