/*
 * The PnP/power state machine (src/fx/devicepnp.c), asserted from the device's callback
 * log: start, D0 -> D3 -> D0, orderly removal, surprise removal, and KMDF's behaviour when
 * a start or power-up callback fails. Every sequence test runs on both engines.
 * Order: bad arguments, then the sequences, then wrong-state requests.
 */
#include "fx_testutil.h"

static wdfdma_engine sim = WDFDMA_ENGINE_SIM, threads = WDFDMA_ENGINE_THREADS;

static wdfdma_engine engine_of(void **state)
{
    return *(wdfdma_engine *)*state;
}

/* ---- bad arguments ------------------------------------------------------------------- */
static void test_host_bad_arguments(void **state)
{
    (void)state;
    fxtu t;
    fxtu_start(&t, WDFDMA_ENGINE_SIM, false);
    assert_int_equal(wdfdma_device_bind(NULL, NULL), -EINVAL);
    assert_int_equal(wdfdma_device_set_power(NULL, WDFDMA_D3), -EINVAL);
    assert_int_equal(wdfdma_device_remove(NULL), -EINVAL);
    assert_int_equal(wdfdma_device_surprise_remove(NULL), -EINVAL);
    wdfdma_dev *toy = fxtu_toy(&t, "toy0", NULL);
    assert_int_equal(wdfdma_device_bind(toy, NULL), -ENOENT); /* no driver serves it */
    assert_non_null(strstr(wdfdma_last_error(), "PCI\\VEN_1234&DEV_0070"));
    assert_int_equal(wdfdma_device_set_power(toy, WDFDMA_D0), -ENODEV);
    assert_int_equal(wdfdma_device_set_power(toy, (wdfdma_power)2), -EINVAL);
    assert_string_equal(wdfdma_device_state(toy), "unbound");
    fxtu_finish(&t);
}

/* ---- sequences ----------------------------------------------------------------------- */
static wdfdma_dev *bound_toy(fxtu *t, void **state)
{
    fxtu_start(t, engine_of(state), false);
    fxtu_driver(t);
    fxt.create_interrupt = 1;
    wdfdma_dev *toy = fxtu_toy(t, "toy0", NULL);
    assert_int_equal(wdfdma_device_bind(toy, NULL), 0);
    return toy;
}

static void test_start_sequence(void **state)
{
    fxtu t;
    wdfdma_dev *toy = bound_toy(&t, state);
    assert_string_equal(wdfdma_device_state(toy), "started");
    fxtu_log_is(toy, "EvtDriverDeviceAdd", "EvtDevicePrepareHardware",
                "EvtDeviceD0Entry(D3Final)", "EvtInterruptEnable",
                "EvtDeviceD0EntryPostInterruptsEnabled(D3Final)", "EvtDeviceSelfManagedIoInit",
                NULL);
    assert_int_equal(fxt.stats[0].memory_resources, 1);
    assert_int_equal(fxt.stats[0].interrupt_resources, 1);
    assert_true(fxt.stats[0].context_magic_ok);
    fxtu_finish(&t); /* teardown removes the device and unloads the driver */
    assert_int_equal(fxt.stats[0].cleanup_calls, 1);
    assert_int_equal(fxt.unload_calls, 1);
}

static void test_power_d3_d0(void **state)
{
    fxtu t;
    wdfdma_dev *toy = bound_toy(&t, state);
    wdfdma_device_callback_log_clear(toy);
    assert_int_equal(wdfdma_device_set_power(toy, WDFDMA_D3), 0);
    assert_string_equal(wdfdma_device_state(toy), "d3");
    fxtu_log_is(toy, "EvtDeviceSelfManagedIoSuspend", "EvtDeviceD0ExitPreInterruptsDisabled(D3)",
                "EvtInterruptDisable", "EvtDeviceD0Exit(D3)", NULL);
    wdfdma_device_callback_log_clear(toy);
    assert_int_equal(wdfdma_device_set_power(toy, WDFDMA_D3), 0); /* already there */
    fxtu_log_is(toy, NULL);
    assert_int_equal(wdfdma_device_set_power(toy, WDFDMA_D0), 0);
    assert_string_equal(wdfdma_device_state(toy), "started");
    fxtu_log_is(toy, "EvtDeviceD0Entry(D3)", "EvtInterruptEnable",
                "EvtDeviceD0EntryPostInterruptsEnabled(D3)", "EvtDeviceSelfManagedIoRestart",
                NULL);
    fxtu_finish(&t);
}

static void test_remove_sequence(void **state)
{
    fxtu t;
    wdfdma_dev *toy = bound_toy(&t, state);
    wdfdma_device_callback_log_clear(toy);
    assert_int_equal(wdfdma_device_remove(toy), 0);
    assert_string_equal(wdfdma_device_state(toy), "removed");
    /* KMDF: ReleaseHardware, then the purge and SelfManagedIoFlush, then Cleanup. */
    fxtu_log_is(toy, "EvtDeviceSelfManagedIoSuspend",
                "EvtDeviceD0ExitPreInterruptsDisabled(D3Final)", "EvtInterruptDisable",
                "EvtDeviceD0Exit(D3Final)", "EvtDeviceReleaseHardware",
                "EvtDeviceSelfManagedIoFlush", "EvtDeviceSelfManagedIoCleanup", NULL);
    assert_int_equal(fxt.stats[0].cleanup_calls, 1);
    assert_int_equal(fx_object_live_count_on(t.m, FX_TYPE_INTERRUPT), 0);
    assert_int_equal(fx_object_live_count_on(t.m, FX_TYPE_CMRESLIST), 0);
    fxtu_finish(&t);
}

static void test_remove_from_d3(void **state)
{
    fxtu t;
    wdfdma_dev *toy = bound_toy(&t, state);
    assert_int_equal(wdfdma_device_set_power(toy, WDFDMA_D3), 0);
    wdfdma_device_callback_log_clear(toy);
    assert_int_equal(wdfdma_device_remove(toy), 0);
    fxtu_log_is(toy, "EvtDeviceReleaseHardware", "EvtDeviceSelfManagedIoFlush",
                "EvtDeviceSelfManagedIoCleanup", NULL);
    fxtu_finish(&t);
}

static void test_surprise_removal(void **state)
{
    fxtu t;
    wdfdma_dev *toy = bound_toy(&t, state);
    wdfdma_device_callback_log_clear(toy);
    assert_int_equal(wdfdma_device_surprise_remove(toy), 0);
    assert_string_equal(wdfdma_device_state(toy), "surprise-removed");
    fxtu_log_is(toy, "EvtDeviceSurpriseRemoval", "EvtDeviceSelfManagedIoSuspend",
                "EvtDeviceD0ExitPreInterruptsDisabled(D3Final)", "EvtInterruptDisable",
                "EvtDeviceD0Exit(D3Final)", "EvtDeviceReleaseHardware",
                "EvtDeviceSelfManagedIoFlush", NULL);
    wdfdma_device_callback_log_clear(toy);
    assert_int_equal(wdfdma_device_remove(toy), 0);
    fxtu_log_is(toy, "EvtDeviceSelfManagedIoCleanup", NULL);
    assert_string_equal(wdfdma_device_state(toy), "removed");
    fxtu_finish(&t);
}

/* Binds with fxt.fail[which] = STATUS_UNSUCCESSFUL; the bind fails with -EIO. */
static wdfdma_dev *failing_bind(fxtu *t, void **state, enum fxt_cb which)
{
    fxtu_start(t, engine_of(state), false);
    fxtu_driver(t);
    fxt.create_interrupt = 1;
    fxt.fail[which] = (int32_t)STATUS_UNSUCCESSFUL;
    wdfdma_dev *toy = fxtu_toy(t, "toy0", NULL);
    assert_int_equal(wdfdma_device_bind(toy, NULL), -EIO);
    assert_non_null(strstr(wdfdma_last_error(), "0xC0000001"));
    assert_string_equal(wdfdma_device_state(toy), "failed");
    assert_int_equal(fxt.stats[0].cleanup_calls, 1); /* PnP removed the failed device */
    return toy;
}

/* KMDF calls EvtDeviceReleaseHardware even when EvtDevicePrepareHardware failed. */
static void test_prepare_hardware_fails(void **state)
{
    fxtu t;
    wdfdma_dev *toy = failing_bind(&t, state, FXT_PREPARE);
    fxtu_log_is(toy, "EvtDriverDeviceAdd", "EvtDevicePrepareHardware",
                "EvtDeviceReleaseHardware", NULL);
    fxtu_finish(&t);
}

/* A failed D0Entry gets no D0Exit; hardware is released. */
static void test_d0_entry_fails(void **state)
{
    fxtu t;
    wdfdma_dev *toy = failing_bind(&t, state, FXT_D0ENTRY);
    fxtu_log_is(toy, "EvtDriverDeviceAdd", "EvtDevicePrepareHardware",
                "EvtDeviceD0Entry(D3Final)", "EvtDeviceReleaseHardware", NULL);
    fxtu_finish(&t);
}

/* Interrupts are disabled and disconnected, then D0Exit(D3Final). */
static void test_d0_entry_post_fails(void **state)
{
    fxtu t;
    wdfdma_dev *toy = failing_bind(&t, state, FXT_D0ENTRY_POST);
    fxtu_log_is(toy, "EvtDriverDeviceAdd", "EvtDevicePrepareHardware",
                "EvtDeviceD0Entry(D3Final)", "EvtInterruptEnable",
                "EvtDeviceD0EntryPostInterruptsEnabled(D3Final)", "EvtInterruptDisable",
                "EvtDeviceD0Exit(D3Final)", "EvtDeviceReleaseHardware", NULL);
    fxtu_finish(&t);
}

static void test_interrupt_enable_fails(void **state)
{
    fxtu t;
    wdfdma_dev *toy = failing_bind(&t, state, FXT_INT_ENABLE);
    fxtu_log_is(toy, "EvtDriverDeviceAdd", "EvtDevicePrepareHardware",
                "EvtDeviceD0Entry(D3Final)", "EvtInterruptEnable", "EvtInterruptDisable",
                "EvtDeviceD0Exit(D3Final)", "EvtDeviceReleaseHardware", NULL);
    fxtu_finish(&t);
}

/* A failed SelfManagedIoInit unwinds the whole power-up; Flush and Cleanup still run. */
static void test_self_managed_io_init_fails(void **state)
{
    fxtu t;
    wdfdma_dev *toy = failing_bind(&t, state, FXT_SMIO_INIT);
    fxtu_log_is(toy, "EvtDriverDeviceAdd", "EvtDevicePrepareHardware",
                "EvtDeviceD0Entry(D3Final)", "EvtInterruptEnable",
                "EvtDeviceD0EntryPostInterruptsEnabled(D3Final)", "EvtDeviceSelfManagedIoInit",
                "EvtDeviceD0ExitPreInterruptsDisabled(D3Final)", "EvtInterruptDisable",
                "EvtDeviceD0Exit(D3Final)", "EvtDeviceReleaseHardware",
                "EvtDeviceSelfManagedIoFlush", "EvtDeviceSelfManagedIoCleanup", NULL);
    fxtu_finish(&t);
}

static void test_power_up_from_d3_fails(void **state)
{
    fxtu t;
    wdfdma_dev *toy = bound_toy(&t, state);
    assert_int_equal(wdfdma_device_set_power(toy, WDFDMA_D3), 0);
    wdfdma_device_callback_log_clear(toy);
    fxt.fail[FXT_D0ENTRY] = (int32_t)STATUS_DEVICE_POWER_FAILURE;
    assert_int_equal(wdfdma_device_set_power(toy, WDFDMA_D0), -EIO);
    assert_string_equal(wdfdma_device_state(toy), "failed");
    fxtu_log_is(toy, "EvtDeviceD0Entry(D3)", "EvtDeviceReleaseHardware",
                "EvtDeviceSelfManagedIoFlush", "EvtDeviceSelfManagedIoCleanup", NULL);
    fxtu_finish(&t);
}

/* A device that failed can be bound again: a new WDFDEVICE, a new start. */
static void test_rebind_after_failure(void **state)
{
    fxtu t;
    wdfdma_dev *toy = failing_bind(&t, state, FXT_PREPARE);
    fxt.fail[FXT_PREPARE] = 0;
    assert_int_equal(wdfdma_device_bind(toy, NULL), 0);
    assert_string_equal(wdfdma_device_state(toy), "started");
    assert_int_equal(fx_object_live_count_on(t.m, FX_TYPE_DEVICE), 1);
    fxtu_finish(&t);
}

/* ---- wrong state --------------------------------------------------------------------- */
static void test_wrong_state_requests(void **state)
{
    fxtu t;
    wdfdma_dev *toy = bound_toy(&t, state);
    assert_int_equal(wdfdma_device_bind(toy, NULL), -EBUSY);
    assert_int_equal(wdfdma_device_surprise_remove(toy), 0);
    assert_int_equal(wdfdma_device_set_power(toy, WDFDMA_D0), -EINVAL);
    assert_non_null(strstr(wdfdma_last_error(), "surprise-removed"));
    assert_int_equal(wdfdma_device_surprise_remove(toy), -EINVAL);
    assert_int_equal(wdfdma_device_remove(toy), 0);
    assert_int_equal(wdfdma_device_remove(toy), -ENODEV);
    assert_int_equal(wdfdma_device_set_power(toy, WDFDMA_D3), -ENODEV);
    fxtu_finish(&t);
}

#define BOTH(fn)                                                                           \
    cmocka_unit_test_prestate(fn, &sim), cmocka_unit_test_prestate(fn, &threads)

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_host_bad_arguments),
        BOTH(test_start_sequence),
        BOTH(test_power_d3_d0),
        BOTH(test_remove_sequence),
        BOTH(test_remove_from_d3),
        BOTH(test_surprise_removal),
        BOTH(test_prepare_hardware_fails),
        BOTH(test_d0_entry_fails),
        BOTH(test_d0_entry_post_fails),
        BOTH(test_interrupt_enable_fails),
        BOTH(test_self_managed_io_init_fails),
        BOTH(test_power_up_from_d3_fails),
        BOTH(test_rebind_after_failure),
        BOTH(test_wrong_state_requests),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
