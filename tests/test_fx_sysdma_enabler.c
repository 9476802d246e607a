/*
 * System-mode DMA enablers (reference §1 enabler rows, §4 first bullets): the two-step
 * creation (WdfDmaEnablerCreate with a system profile, then
 * WdfDmaEnablerConfigureSystemProfile once per direction), the description the framework
 * builds from the profile config and the DMA resource, WdfDmaEnablerWdmGetDmaAdapter per
 * direction, and the system-only transaction DDIs on a bus-master enabler.
 *
 * Order: bad arguments, then success, then misuse. Every test ends with the leak check.
 */
#include "fx_sysdma_testutil.h"

/* A uart whose driver leaves ConfigureSystemProfile to the test. */
static sdrv_dev *up_unconfigured(sdu *t, wdfdma_engine engine, bool verifier,
                                 WDF_DMA_PROFILE profile)
{
    sdu_cfg_reset();
    sdrv.cfg[0].no_configure = true;
    sdrv.cfg[0].profile = profile;
    sdu_up_simple(t, engine, verifier);
    sdrv_dev *d = sdu_add(t, "uart", "fifo=64");
    assert_int_equal(d->enabler_status, STATUS_SUCCESS);
    assert_int_equal(d->ndma, 2);
    return d;
}

static WDF_DMA_SYSTEM_PROFILE_CONFIG profile_config(sdrv_dev *d, WDF_DMA_DIRECTION dir)
{
    WDF_DMA_SYSTEM_PROFILE_CONFIG c;
    PHYSICAL_ADDRESS a;
    a.QuadPart = d->regs_pa.QuadPart + UART_REG_DATA;
    WDF_DMA_SYSTEM_PROFILE_CONFIG_INIT(&c, a, Width8Bits, sdrv_desc(d, dir));
    c.DemandMode = TRUE;
    return c;
}

/* ---- bad arguments ------------------------------------------------------------------ */

static void test_configure_bad_arguments(void **state)
{
    (void)state;
    sdu t;
    sdrv_dev *d = up_unconfigured(&t, WDFDMA_ENGINE_SIM, true, WdfDmaProfileSystemDuplex);
    WDF_DMA_SYSTEM_PROFILE_CONFIG c = profile_config(d, WdfDmaDirectionWriteToDevice);
    (void)sdu_breaks(&t);

    assert_int_equal(WdfDmaEnablerConfigureSystemProfile(d->enabler, NULL,
                                                         WdfDmaDirectionWriteToDevice),
                     STATUS_INVALID_PARAMETER);
    assert_int_equal(sdu_breaks(&t), 1);
    c.Size = sizeof c - 1;
    assert_int_equal(WdfDmaEnablerConfigureSystemProfile(d->enabler, &c,
                                                         WdfDmaDirectionWriteToDevice),
                     STATUS_INFO_LENGTH_MISMATCH);
    c.Size = sizeof c + 8;
    assert_int_equal(WdfDmaEnablerConfigureSystemProfile(d->enabler, &c,
                                                         WdfDmaDirectionWriteToDevice),
                     STATUS_INFO_LENGTH_MISMATCH);
    c.Size = sizeof c;
    c.DmaDescriptor = NULL;
    assert_int_equal(WdfDmaEnablerConfigureSystemProfile(d->enabler, &c,
                                                         WdfDmaDirectionWriteToDevice),
                     STATUS_INVALID_PARAMETER);
    assert_int_equal(sdu_breaks(&t), 1);
    c = profile_config(d, WdfDmaDirectionWriteToDevice);
    assert_int_equal(WdfDmaEnablerConfigureSystemProfile(d->enabler, &c,
                                                         (WDF_DMA_DIRECTION)2),
                     STATUS_INVALID_PARAMETER);
    /* none of them made an adapter */
    assert_null(WdfDmaEnablerWdmGetDmaAdapter(d->enabler, WdfDmaDirectionWriteToDevice));
    assert_null(WdfDmaEnablerWdmGetDmaAdapter(d->enabler, WdfDmaDirectionReadFromDevice));
    assert_int_equal(sdu_stats(&t).adapters, 0);
    sdu_down(&t);
}

/* A descriptor naming a channel the peripheral has no resource for: no adapter, the
 * direction stays unconfigured and a correct call still works. */
static void test_configure_bad_descriptor(void **state)
{
    (void)state;
    sdu t;
    sdrv_dev *d = up_unconfigured(&t, WDFDMA_ENGINE_SIM, false, WdfDmaProfileSystemDuplex);
    CM_PARTIAL_RESOURCE_DESCRIPTOR bogus = *sdrv_desc(d, WdfDmaDirectionWriteToDevice);
    bogus.u.Dma.Channel += 5;
    WDF_DMA_SYSTEM_PROFILE_CONFIG c = profile_config(d, WdfDmaDirectionWriteToDevice);
    c.DmaDescriptor = &bogus;
    assert_false(NT_SUCCESS(WdfDmaEnablerConfigureSystemProfile(d->enabler, &c,
                                                                WdfDmaDirectionWriteToDevice)));
    assert_null(WdfDmaEnablerWdmGetDmaAdapter(d->enabler, WdfDmaDirectionWriteToDevice));
    assert_int_equal(sdu_stats(&t).adapters, 0);
    c = profile_config(d, WdfDmaDirectionWriteToDevice);
    assert_int_equal(WdfDmaEnablerConfigureSystemProfile(d->enabler, &c,
                                                         WdfDmaDirectionWriteToDevice),
                     STATUS_SUCCESS);
    assert_non_null(WdfDmaEnablerWdmGetDmaAdapter(d->enabler, WdfDmaDirectionWriteToDevice));
    sdu_down(&t);
}

/* WdfDmaEnablerCreate with system profiles: overrides a system profile cannot take. */
static void test_create_system_overrides(void **state)
{
    (void)state;
    sdu t;
    sdrv_dev *d = up_unconfigured(&t, WDFDMA_ENGINE_SIM, false, WdfDmaProfileSystemDuplex);
    static const WDF_DMA_PROFILE profiles[] = {WdfDmaProfileSystem, WdfDmaProfileSystemDuplex};
    for (unsigned i = 0; i < 2; i++) {
        WDF_DMA_ENABLER_CONFIG cfg;
        WDFDMAENABLER e = NULL;
        WDF_DMA_ENABLER_CONFIG_INIT(&cfg, profiles[i], 4096);
        cfg.AddressWidthOverride = 32;
        assert_int_equal(WdfDmaEnablerCreate(d->device, &cfg, WDF_NO_OBJECT_ATTRIBUTES, &e),
                         STATUS_INVALID_PARAMETER);
        assert_null(e);
        WDF_DMA_ENABLER_CONFIG_INIT(&cfg, profiles[i], 4096);
        cfg.WdmDmaVersionOverride = 2;   /* system profiles need v3 */
        assert_int_equal(WdfDmaEnablerCreate(d->device, &cfg, WDF_NO_OBJECT_ATTRIBUTES, &e),
                         STATUS_INVALID_PARAMETER);
        WDF_DMA_ENABLER_CONFIG_INIT(&cfg, profiles[i], 0);
        assert_int_equal(WdfDmaEnablerCreate(d->device, &cfg, WDF_NO_OBJECT_ATTRIBUTES, &e),
                         STATUS_INVALID_PARAMETER);
        /* success: no adapter until ConfigureSystemProfile */
        WDF_DMA_ENABLER_CONFIG_INIT(&cfg, profiles[i], 4096);
        cfg.WdmDmaVersionOverride = 3;
        assert_int_equal(WdfDmaEnablerCreate(d->device, &cfg, WDF_NO_OBJECT_ATTRIBUTES, &e),
                         STATUS_SUCCESS);
        assert_null(WdfDmaEnablerWdmGetDmaAdapter(e, WdfDmaDirectionWriteToDevice));
        assert_null(WdfDmaEnablerWdmGetDmaAdapter(e, WdfDmaDirectionReadFromDevice));
        assert_int_equal(WdfDmaEnablerGetMaximumLength(e), 4096);
        assert_int_equal(sdu_stats(&t).adapters, 0);
        WdfObjectDelete(e);
    }
    sdu_down(&t);
}

/* ---- success -------------------------------------------------------------------------- */

/* Duplex: once per direction, in any order; each direction its own adapter, built from
 * the profile config and the resource (reference §4 first bullet). Then transactions
 * initialize on both directions. */
static void run_configure_duplex(wdfdma_engine engine)
{
    sdu t;
    sdrv_dev *d = up_unconfigured(&t, engine, true, WdfDmaProfileSystemDuplex);
    sdrv_xact *rx = &d->x[0], *tx = &d->x[1];
    sdu_buf b = sdu_buf_new(0, 64);
    (void)sdu_breaks(&t);

    /* Initialize before configuration: refused (verifier break), nothing changes. */
    assert_int_equal(WdfDmaTransactionInitialize(tx->tr, SdrvEvtProgramDma, tx->dir, b.mdl,
                                                 b.va, b.len),
                     STATUS_INVALID_DEVICE_REQUEST);
    assert_int_equal(sdu_breaks(&t), 1);
    assert_int_equal(sdu_state(tx->tr), FX_DMA_CREATED);

    WDF_DMA_SYSTEM_PROFILE_CONFIG c = profile_config(d, WdfDmaDirectionWriteToDevice);
    c.DmaWidth = Width16Bits;
    c.LoopedTransfer = TRUE;
    c.DeviceAddress.QuadPart += 2;
    assert_int_equal(WdfDmaEnablerConfigureSystemProfile(d->enabler, &c,
                                                         WdfDmaDirectionWriteToDevice),
                     STATUS_SUCCESS);
    PDMA_ADAPTER wa = WdfDmaEnablerWdmGetDmaAdapter(d->enabler, WdfDmaDirectionWriteToDevice);
    assert_non_null(wa);
    assert_null(WdfDmaEnablerWdmGetDmaAdapter(d->enabler, WdfDmaDirectionReadFromDevice));
    /* the read direction is still unconfigured */
    assert_int_equal(WdfDmaTransactionInitialize(rx->tr, SdrvEvtProgramDma, rx->dir, b.mdl,
                                                 b.va, b.len),
                     STATUS_INVALID_DEVICE_REQUEST);
    assert_int_equal(sdu_state(rx->tr), FX_DMA_CREATED);
    (void)sdu_breaks(&t);

    WDF_DMA_SYSTEM_PROFILE_CONFIG rc = profile_config(d, WdfDmaDirectionReadFromDevice);
    rc.DemandMode = FALSE;
    assert_int_equal(WdfDmaEnablerConfigureSystemProfile(d->enabler, &rc,
                                                         WdfDmaDirectionReadFromDevice),
                     STATUS_SUCCESS);
    PDMA_ADAPTER ra = WdfDmaEnablerWdmGetDmaAdapter(d->enabler, WdfDmaDirectionReadFromDevice);
    assert_non_null(ra);
    assert_ptr_not_equal(ra, wa);
    assert_ptr_equal(WdfDmaEnablerWdmGetDmaAdapter(d->enabler, WdfDmaDirectionWriteToDevice), wa);
    assert_int_equal(sdu_stats(&t).adapters, 2);

    /* The descriptions (§4): v3, slave, MaximumLength from the enabler, the config's
     * DemandMode / LoopedTransfer / width / device address, the resource's channel and
     * request line. */
    fx_dma_enabler *e = fx_dma_enabler_from_handle(d->enabler, "test");
    const DEVICE_DESCRIPTION *wd = &fx_dma_enabler_description(e, WdfDmaDirectionWriteToDevice)->description;
    const DEVICE_DESCRIPTION *rd = &fx_dma_enabler_description(e, WdfDmaDirectionReadFromDevice)->description;
    assert_int_equal(wd->Version, DEVICE_DESCRIPTION_VERSION3);
    assert_false(wd->Master);
    assert_int_equal(wd->MaximumLength, 8192);
    assert_true(wd->DemandMode);
    assert_true(wd->AutoInitialize);
    assert_int_equal(wd->DmaWidth, Width16Bits);
    assert_int_equal(wd->DeviceAddress.QuadPart, d->regs_pa.QuadPart + 2);
    assert_int_equal(wd->DmaChannel, d->dma[UART_DMA_TX].u.Dma.Channel);
    assert_int_equal(wd->DmaRequestLine, d->dma[UART_DMA_TX].u.Dma.Port);
    assert_int_equal(wd->DmaRequestLine, uart_request_line(t.hw[0], UART_DMA_TX));
    assert_int_equal(rd->DmaChannel, 1);    /* uart default rx_channel */
    assert_int_equal(rd->DmaRequestLine, uart_request_line(t.hw[0], UART_DMA_RX));
    assert_false(rd->DemandMode);
    assert_false(rd->AutoInitialize);
    assert_int_equal(rd->DmaWidth, Width8Bits);

    /* fragment length per direction: min(MaximumLength, (map registers - 1) pages) */
    for (int dir = 0; dir < 2; dir++) {
        fx_dma_description *dd = fx_dma_enabler_description(e, (WDF_DMA_DIRECTION)dir);
        size_t by_regs = (size_t)(dd->map_registers - 1) * PAGE_SIZE;
        assert_int_equal(WdfDmaEnablerGetFragmentLength(d->enabler, (WDF_DMA_DIRECTION)dir),
                         by_regs < 8192 ? by_regs : 8192);
    }
    assert_int_equal(WdfDmaEnablerGetMaximumLength(d->enabler), 8192);

    /* configured: both directions initialize; Release makes them reusable */
    assert_int_equal(sdu_init(tx, b.mdl, b.va, b.len), STATUS_SUCCESS);
    assert_int_equal(sdu_init(rx, b.mdl, b.va, b.len), STATUS_SUCCESS);
    assert_int_equal(sdu_state(tx->tr), FX_DMA_INITIALIZED);
    assert_int_equal(WdfDmaTransactionRelease(tx->tr), STATUS_SUCCESS);
    assert_int_equal(WdfDmaTransactionRelease(rx->tr), STATUS_SUCCESS);

    /* misuse: twice for one direction, either one; the adapter stays */
    assert_int_equal(WdfDmaEnablerConfigureSystemProfile(d->enabler, &c,
                                                         WdfDmaDirectionWriteToDevice),
                     STATUS_INVALID_PARAMETER);
    assert_int_equal(sdu_breaks(&t), 1);
    assert_int_equal(WdfDmaEnablerConfigureSystemProfile(d->enabler, &rc,
                                                         WdfDmaDirectionReadFromDevice),
                     STATUS_INVALID_PARAMETER);
    assert_ptr_equal(WdfDmaEnablerWdmGetDmaAdapter(d->enabler, WdfDmaDirectionWriteToDevice), wa);
    assert_ptr_equal(WdfDmaEnablerWdmGetDmaAdapter(d->enabler, WdfDmaDirectionReadFromDevice), ra);
    assert_int_equal(sdu_stats(&t).adapters, 2);
    /* bad direction for the getters: NULL / 0, verifier break */
    assert_null(WdfDmaEnablerWdmGetDmaAdapter(d->enabler, (WDF_DMA_DIRECTION)7));
    assert_int_equal(WdfDmaEnablerGetFragmentLength(d->enabler, (WDF_DMA_DIRECTION)7), 0);
    sdu_buf_free(&b);
    sdu_down(&t);
}

static void test_configure_duplex_sim(void **state)
{
    (void)state;
    run_configure_duplex(WDFDMA_ENGINE_SIM);
}

static void test_configure_duplex_threads(void **state)
{
    (void)state;
    run_configure_duplex(WDFDMA_ENGINE_THREADS);
}

/* Simplex (System): one adapter serves both directions; configuring the other direction
 * is "already configured". */
static void test_configure_simplex(void **state)
{
    (void)state;
    sdu t;
    sdrv_dev *d = up_unconfigured(&t, WDFDMA_ENGINE_SIM, false, WdfDmaProfileSystem);
    WDF_DMA_SYSTEM_PROFILE_CONFIG c = profile_config(d, WdfDmaDirectionWriteToDevice);
    assert_int_equal(WdfDmaEnablerConfigureSystemProfile(d->enabler, &c,
                                                         WdfDmaDirectionWriteToDevice),
                     STATUS_SUCCESS);
    PDMA_ADAPTER a = WdfDmaEnablerWdmGetDmaAdapter(d->enabler, WdfDmaDirectionWriteToDevice);
    assert_non_null(a);
    assert_ptr_equal(WdfDmaEnablerWdmGetDmaAdapter(d->enabler, WdfDmaDirectionReadFromDevice), a);
    assert_int_equal(WdfDmaEnablerGetFragmentLength(d->enabler, WdfDmaDirectionReadFromDevice),
                     WdfDmaEnablerGetFragmentLength(d->enabler, WdfDmaDirectionWriteToDevice));
    assert_int_equal(sdu_stats(&t).adapters, 1);
    WDF_DMA_SYSTEM_PROFILE_CONFIG rc = profile_config(d, WdfDmaDirectionReadFromDevice);
    assert_int_equal(WdfDmaEnablerConfigureSystemProfile(d->enabler, &rc,
                                                         WdfDmaDirectionReadFromDevice),
                     STATUS_INVALID_PARAMETER);
    assert_ptr_equal(WdfDmaEnablerWdmGetDmaAdapter(d->enabler, WdfDmaDirectionReadFromDevice), a);
    assert_int_equal(sdu_stats(&t).adapters, 1);
    sdu_down(&t);
}

/* The driver's own two-step creation in EvtDriverDeviceAdd / EvtDevicePrepareHardware. */
static void test_driver_two_step(void **state)
{
    (void)state;
    sdu t;
    sdu_cfg_reset();
    sdu_up_simple(&t, WDFDMA_ENGINE_SIM, true);
    sdrv_dev *u = sdu_add(&t, "uart", NULL);
    sdrv.cfg[1].profile = WdfDmaProfileSystem;
    sdrv.cfg[1].simplex_dir = WdfDmaDirectionReadFromDevice;
    sdrv_dev *r = sdu_add(&t, "ring", "dir=capture");
    assert_int_equal(u->configure_status, STATUS_SUCCESS);
    assert_int_equal(r->configure_status, STATUS_SUCCESS);
    assert_int_equal(sdu_stats(&t).adapters, 3);
    assert_int_equal(mach_findings(t.m), 0);
    sdu_down(&t);
}

/* ---- misuse ------------------------------------------------------------------------- */

/* A bus-master enabler: its adapters exist from WdfDmaEnablerCreate, so KMDF's
 * ConfigureSystemAdapter finds the direction "already configured" and returns
 * STATUS_INVALID_PARAMETER (fxdmaenabler.cpp, ConfigureSystemAdapter). The system-only
 * transaction DDIs are verifier breaks and no-ops there (reference §1). */
static void test_bus_master_enabler(void **state)
{
    (void)state;
    sdu t;
    sdrv_dev *d = up_unconfigured(&t, WDFDMA_ENGINE_SIM, true, WdfDmaProfilePacket);
    sdrv_xact *tx = &d->x[1];
    PDMA_ADAPTER a = WdfDmaEnablerWdmGetDmaAdapter(d->enabler, WdfDmaDirectionWriteToDevice);
    assert_non_null(a);
    (void)sdu_breaks(&t);

    fx_dma_transaction *fx = sdu_fx(tx->tr);
    WdfDmaTransactionSetChannelConfigurationCallback(tx->tr, SdrvEvtConfigureDmaChannel, tx);
    assert_int_equal(sdu_breaks(&t), 1);
    assert_null(fx->configure_channel);
    WdfDmaTransactionSetTransferCompleteCallback(tx->tr, SdrvEvtTransferComplete, tx);
    assert_int_equal(sdu_breaks(&t), 1);
    assert_null(fx->transfer_complete);
    WdfDmaTransactionSetDeviceAddressOffset(tx->tr, 16);
    assert_int_equal(sdu_breaks(&t), 1);
    assert_int_equal(fx->device_address_offset, 0);
    WdfDmaTransactionStopSystemTransfer(tx->tr);   /* no bug check: a soft error */
    assert_int_equal(sdu_breaks(&t), 1);
    assert_false(fx->cancelled);
    assert_int_equal(sdu_state(tx->tr), FX_DMA_CREATED);

    WDF_DMA_SYSTEM_PROFILE_CONFIG c = profile_config(d, WdfDmaDirectionWriteToDevice);
    NTSTATUS st = WdfDmaEnablerConfigureSystemProfile(d->enabler, &c,
                                                      WdfDmaDirectionWriteToDevice);
    assert_ptr_equal(WdfDmaEnablerWdmGetDmaAdapter(d->enabler, WdfDmaDirectionWriteToDevice), a);
    assert_int_equal(sdu_stats(&t).adapters, 1);
    sdu_down(&t);
    assert_int_equal(st, STATUS_INVALID_PARAMETER);
}

/* ConfigureSystemProfile is PASSIVE_LEVEL only. */
static void test_configure_at_dispatch(void **state)
{
    (void)state;
    sdu t;
    sdrv_dev *d = up_unconfigured(&t, WDFDMA_ENGINE_SIM, true, WdfDmaProfileSystemDuplex);
    WDF_DMA_SYSTEM_PROFILE_CONFIG c = profile_config(d, WdfDmaDirectionWriteToDevice);
    KIRQL old;
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    NTSTATUS st = WdfDmaEnablerConfigureSystemProfile(d->enabler, &c,
                                                      WdfDmaDirectionWriteToDevice);
    KeLowerIrql(old);
    assert_int_equal(st, STATUS_INVALID_DEVICE_REQUEST);
    assert_null(WdfDmaEnablerWdmGetDmaAdapter(d->enabler, WdfDmaDirectionWriteToDevice));
    sdu_down(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_configure_bad_arguments),
        cmocka_unit_test(test_configure_bad_descriptor),
        cmocka_unit_test(test_create_system_overrides),
        cmocka_unit_test(test_configure_duplex_sim),
        cmocka_unit_test(test_configure_duplex_threads),
        cmocka_unit_test(test_configure_simplex),
        cmocka_unit_test(test_driver_two_step),
        cmocka_unit_test(test_bus_master_enabler),
        cmocka_unit_test(test_configure_at_dispatch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
