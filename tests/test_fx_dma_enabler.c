/*
 * WDFDMAENABLER and WDFCOMMONBUFFER (reference §1, §5; behaviours 2 and 10): config
 * validation, fragment length per direction, SG element limit, duplex adapters, common
 * buffers (length 0, alignment masks incl. > PAGE_SIZE - 1, below 4 GiB for 32-bit
 * profiles and AddressWidthOverride, freed with the parent) and the enabler power
 * callback order and skip rules across D0 -> D3 -> D0.
 */
#include "fx_dma_testutil.h"

#define KB 1024u
#define RD WdfDmaDirectionReadFromDevice
#define WR WdfDmaDirectionWriteToDevice

static void up(tdu *t, wdfdma_mem_policy mem)
{
    tdu_cfg_default();
    tdrv.cfg.no_enabler = true;
    tdu_opts o = {.engine = WDFDMA_ENGINE_SIM, .verifier = true, .memory = mem};
    tdu_up(t, &o);
}

static NTSTATUS create(WDF_DMA_PROFILE p, size_t max, void (*tweak)(WDF_DMA_ENABLER_CONFIG *),
                       WDFDMAENABLER *out)
{
    WDF_DMA_ENABLER_CONFIG c;
    WDF_DMA_ENABLER_CONFIG_INIT(&c, p, max);
    if (tweak)
        tweak(&c);
    return WdfDmaEnablerCreate(tdrv.device, &c, WDF_NO_OBJECT_ATTRIBUTES, out);
}

static void bad_size(WDF_DMA_ENABLER_CONFIG *c) { c->Size -= 4; }
static void aw20(WDF_DMA_ENABLER_CONFIG *c) { c->AddressWidthOverride = 20; }
static void aw33(WDF_DMA_ENABLER_CONFIG *c) { c->AddressWidthOverride = 33; }
static void aw32(WDF_DMA_ENABLER_CONFIG *c) { c->AddressWidthOverride = 32; }
static void v4(WDF_DMA_ENABLER_CONFIG *c) { c->WdmDmaVersionOverride = 4; }
static void flags_bad(WDF_DMA_ENABLER_CONFIG *c) { c->Flags = 0x4; }
static void single_v2(WDF_DMA_ENABLER_CONFIG *c) { c->Flags = WDF_DMA_ENABLER_CONFIG_REQUIRE_SINGLE_TRANSFER; }

static void test_create_bad_arguments(void **state)
{
    (void)state;
    tdu t;
    up(&t, WDFDMA_MEM_SCATTERED);
    WDFDMAENABLER e;
    assert_int_equal(create(WdfDmaProfileScatterGather64, 4096, bad_size, &e),
                     STATUS_INFO_LENGTH_MISMATCH);
    assert_int_equal(create(WdfDmaProfileInvalid, 4096, NULL, &e), STATUS_INVALID_PARAMETER);
    assert_int_equal(create((WDF_DMA_PROFILE)99, 4096, NULL, &e), STATUS_INVALID_PARAMETER);
    assert_int_equal(create(WdfDmaProfileScatterGather64, 0, NULL, &e), STATUS_INVALID_PARAMETER);
    assert_int_equal(create(WdfDmaProfileScatterGather64, 4096, aw20, &e), STATUS_INVALID_PARAMETER);
    assert_int_equal(create(WdfDmaProfileScatterGather, 4096, aw33, &e), STATUS_INVALID_PARAMETER);
    assert_int_equal(create(WdfDmaProfileScatterGather64, 4096, v4, &e), STATUS_INVALID_PARAMETER);
    assert_int_equal(create(WdfDmaProfileScatterGather64, 4096, flags_bad, &e),
                     STATUS_INVALID_PARAMETER);
    assert_int_equal(create(WdfDmaProfileScatterGather64, 4096, single_v2, &e),
                     STATUS_INVALID_PARAMETER);
    TDU_TRAP(&t, (void)WdfDmaEnablerCreate(tdrv.device, NULL, WDF_NO_OBJECT_ATTRIBUTES, &e));
    assert_int_equal(t.bc.p[0], WDF_REQUIRED_PARAMETER_IS_NULL);
    wdfdma_dma_stats s;
    assert_int_equal(wdfdma_dma_get_stats(t.m, &s), 0);
    assert_int_equal(s.adapters, 0);                 /* failures leave nothing behind */
    tdu_down(&t);
}

static void test_profiles_and_fragment_length(void **state)
{
    (void)state;
    static const WDF_DMA_PROFILE ps[] = {
        WdfDmaProfilePacket, WdfDmaProfileScatterGather, WdfDmaProfilePacket64,
        WdfDmaProfileScatterGather64, WdfDmaProfileScatterGatherDuplex,
        WdfDmaProfileScatterGather64Duplex};
    for (unsigned limit = 0; limit < 2; limit++) {
        tdu t;
        up(&t, WDFDMA_MEM_SCATTERED);
        if (limit)
            assert_int_equal(wdfdma_machine_set_map_register_limit(t.m, 3), 0);
        for (unsigned i = 0; i < 6; i++) {
            WDFDMAENABLER e;
            assert_int_equal(create(ps[i], 16 * KB, NULL, &e), STATUS_SUCCESS);
            assert_int_equal(WdfDmaEnablerGetMaximumLength(e), 16 * KB);
            assert_int_equal(WdfDmaEnablerGetMaximumScatterGatherElements(e),
                             WDF_DMA_ENABLER_UNLIMITED_FRAGMENTS);
            size_t frag = limit ? 2 * PAGE_SIZE : 16 * KB;   /* min(max, (regs-1) pages) */
            assert_int_equal(WdfDmaEnablerGetFragmentLength(e, RD), frag);
            assert_int_equal(WdfDmaEnablerGetFragmentLength(e, WR), frag);
            PDMA_ADAPTER a = WdfDmaEnablerWdmGetDmaAdapter(e, RD);
            PDMA_ADAPTER b = WdfDmaEnablerWdmGetDmaAdapter(e, WR);
            assert_non_null(a);
            assert_non_null(b);
            bool duplex = ps[i] == WdfDmaProfileScatterGatherDuplex ||
                          ps[i] == WdfDmaProfileScatterGather64Duplex;
            assert_true(duplex ? a != b : a == b);
            uint64_t f = mach_findings(t.m);
            assert_int_equal(WdfDmaEnablerGetFragmentLength(e, (WDF_DMA_DIRECTION)3), 0);
            assert_null(WdfDmaEnablerWdmGetDmaAdapter(e, (WDF_DMA_DIRECTION)3));
            WdfDmaEnablerSetMaximumScatterGatherElements(e, 0);           /* ignored */
            assert_int_equal(mach_findings(t.m), f + 3);
            assert_int_equal(WdfDmaEnablerGetMaximumScatterGatherElements(e),
                             WDF_DMA_ENABLER_UNLIMITED_FRAGMENTS);
            WdfDmaEnablerSetMaximumScatterGatherElements(e, 7);
            assert_int_equal(WdfDmaEnablerGetMaximumScatterGatherElements(e), 7);
            WdfObjectDelete(e);
        }
        tdu_down(&t);
    }
}

static void test_common_buffers(void **state)
{
    (void)state;
    tdu t;
    up(&t, WDFDMA_MEM_ABOVE4G);
    WDFDMAENABLER e32, e64, ew;
    assert_int_equal(create(WdfDmaProfileScatterGather, 16 * KB, NULL, &e32), STATUS_SUCCESS);
    assert_int_equal(create(WdfDmaProfileScatterGather64, 16 * KB, NULL, &e64), STATUS_SUCCESS);
    assert_int_equal(create(WdfDmaProfileScatterGather64, 16 * KB, aw32, &ew), STATUS_SUCCESS);
    WDFCOMMONBUFFER cb;
    assert_int_equal(WdfCommonBufferCreate(e32, 0, WDF_NO_OBJECT_ATTRIBUTES, &cb),
                     STATUS_INVALID_PARAMETER);
    WDF_COMMON_BUFFER_CONFIG cc;
    WDF_COMMON_BUFFER_CONFIG_INIT(&cc, 15);
    assert_int_equal(WdfCommonBufferCreateWithConfig(e32, 0, &cc, WDF_NO_OBJECT_ATTRIBUTES, &cb),
                     STATUS_INVALID_PARAMETER);
    cc.Size = 2;
    assert_int_equal(WdfCommonBufferCreateWithConfig(e32, 64, &cc, WDF_NO_OBJECT_ATTRIBUTES, &cb),
                     STATUS_INFO_LENGTH_MISMATCH);
    /* below 4 GiB on 32-bit profiles and with AddressWidthOverride 32 */
    WDFDMAENABLER below[] = {e32, ew};
    for (unsigned i = 0; i < 2; i++) {
        assert_int_equal(WdfCommonBufferCreate(below[i], 3 * PAGE_SIZE + 5,
                                               WDF_NO_OBJECT_ATTRIBUTES, &cb),
                         STATUS_SUCCESS);
        assert_int_equal(WdfCommonBufferGetLength(cb), 3 * PAGE_SIZE + 5);
        uint64_t la = (uint64_t)WdfCommonBufferGetAlignedLogicalAddress(cb).QuadPart;
        assert_true(la + 3 * PAGE_SIZE + 5 <= (1ull << 32));
    }
    /* alignment masks: small, and larger than a page (LA aligned; VA moved alike) */
    ULONG masks[] = {15, 0xFFF, 0x3FFF, 0xFFFF};
    for (unsigned i = 0; i < 4; i++) {
        WDF_COMMON_BUFFER_CONFIG_INIT(&cc, masks[i]);
        assert_int_equal(WdfCommonBufferCreateWithConfig(e64, 1000, &cc, WDF_NO_OBJECT_ATTRIBUTES,
                                                         &cb),
                         STATUS_SUCCESS);
        uint64_t la = (uint64_t)WdfCommonBufferGetAlignedLogicalAddress(cb).QuadPart;
        uint8_t *va = WdfCommonBufferGetAlignedVirtualAddress(cb);
        assert_int_equal(la & masks[i], 0);
        assert_int_equal(WdfCommonBufferGetLength(cb), 1000);
        /* the VA is the LA's bytes */
        memset(va, 0x5A, 1000);
        uint8_t probe[1000];
        assert_int_equal(mach_phys_read(t.m, la, probe, sizeof probe), 0);
        tdu_assert_bytes(probe, sizeof probe, 0x5A);
    }
    wdfdma_dma_stats s;
    assert_int_equal(wdfdma_dma_get_stats(t.m, &s), 0);
    assert_int_equal(s.common_buffers_live, 6);
    WdfObjectDelete(e64);                           /* freed with the parent */
    assert_int_equal(wdfdma_dma_get_stats(t.m, &s), 0);
    assert_int_equal(s.common_buffers_live, 2);
    tdu_down(&t);
}

/* ---- power -------------------------------------------------------------------------- */
static size_t dma_log(wdfdma_dev *dev, const char **out)
{
    const char *all[512];
    size_t n = wdfdma_device_callback_log(dev, all, 512), k = 0;
    for (size_t i = 0; i < n; i++)
        if (strncmp(all[i], "EvtDmaEnabler", 13) == 0)
            out[k++] = all[i] + 13;
    return k;
}

static void log_is(wdfdma_dev *dev, const char *const *want, size_t nwant)
{
    const char *got[128];
    size_t n = dma_log(dev, got);
    bool ok = n == nwant;
    for (size_t i = 0; ok && i < n; i++)
        ok = strcmp(got[i], want[i]) == 0;
    if (!ok) {
        for (size_t i = 0; i < n; i++)
            fprintf(stderr, "  got[%zu] = %s\n", i, got[i]);
        fail_msg("enabler callbacks differ (%zu, expected %zu)", n, nwant);
    }
    wdfdma_device_callback_log_clear(dev);
}

static void test_power_order_and_skips(void **state)
{
    (void)state;
    tdu t;
    tdu_cfg_default();
    tdrv.cfg.power_callbacks = true;
    tdu_up_simple(&t, WDFDMA_ENGINE_SIM, true);
    static const char *const up_seq[] = {"Fill", "Enable", "SelfManagedIoStart"};
    static const char *const down_seq[] = {"SelfManagedIoStop", "Disable", "Flush"};
    log_is(t.hw, up_seq, 3);                         /* at start */
    assert_int_equal(wdfdma_device_set_power(t.hw, WDFDMA_D3), 0);
    log_is(t.hw, down_seq, 3);
    assert_int_equal(wdfdma_device_set_power(t.hw, WDFDMA_D0), 0);
    log_is(t.hw, up_seq, 3);
    /* Enable fails: power-up stops there; power-down skips Flush */
    tdrv.cfg.fail_enable = STATUS_UNSUCCESSFUL;
    assert_int_equal(wdfdma_device_set_power(t.hw, WDFDMA_D3), 0);
    log_is(t.hw, down_seq, 3);
    (void)wdfdma_device_set_power(t.hw, WDFDMA_D0);
    const char *got[128];
    size_t n = dma_log(t.hw, got);
    assert_true(n >= 2);
    assert_string_equal(got[0], "Fill");
    assert_string_equal(got[1], "Enable");
    for (size_t i = 2; i < n; i++) {
        assert_string_not_equal(got[i], "SelfManagedIoStart");
        assert_string_not_equal(got[i], "Flush");
    }
    /* a device whose power-up failed is gone (or goes now) */
    int rc = wdfdma_device_remove(t.hw);
    assert_true(rc == 0 || rc == -ENODEV);
    t.removed = true;
    tdu_down(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_bad_arguments),
        cmocka_unit_test(test_profiles_and_fragment_length),
        cmocka_unit_test(test_common_buffers),
        cmocka_unit_test(test_power_order_and_skips),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
