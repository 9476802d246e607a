/*
 * Drivers and devices (src/fx/driver.c, device.c, src/host/binding.c) with the test
 * driver compiled in: DriverEntry and WdfDriverCreate, EvtDriverDeviceAdd, WdfDeviceCreate
 * with a context, device interfaces and the names a host opens, WDM views, resources,
 * timers and work items parented to the device.
 * Order: bad arguments, then success, then wrong-state misuse.
 */
#include "fx_testutil.h"

/* ---- bad arguments ------------------------------------------------------------------- */
static void test_register_bad_arguments(void **state)
{
    (void)state;
    fxtu t;
    fxtu_start(&t, WDFDMA_ENGINE_SIM, false);
    wdfdma_driver *d = (wdfdma_driver *)1;
    assert_int_equal(wdfdma_driver_register(NULL, "x", fxt_driver_entry, &d), -EINVAL);
    assert_null(d);
    assert_int_equal(wdfdma_driver_register(t.m, "", fxt_driver_entry, &d), -EINVAL);
    assert_int_equal(wdfdma_driver_register(t.m, "x", NULL, &d), -EINVAL);
    assert_int_equal(wdfdma_driver_add_id(NULL, "id"), -EINVAL);
    /* A failing DriverEntry fails the registration; its WDFDRIVER goes, no unload call. */
    fxt.driver_entry_status = (int32_t)STATUS_INSUFFICIENT_RESOURCES;
    assert_int_equal(wdfdma_driver_register(t.m, "failing", fxt_driver_entry, &d), -EIO);
    assert_non_null(strstr(wdfdma_last_error(), "0xC000009A"));
    assert_int_equal(fxt.unload_calls, 0);
    assert_int_equal(fx_object_live_count_on(t.m, FX_TYPE_DRIVER), 0);
    fxt.driver_entry_status = 0;
    fxtu_finish(&t);
}

static NTSTATUS entry_bad_config(void *driver_object, void *registry_path)
{
    WDF_DRIVER_CONFIG config;
    WDF_DRIVER_CONFIG_INIT(&config, NULL);
    config.Size = 4;
    NTSTATUS status = WdfDriverCreate(driver_object, registry_path, WDF_NO_OBJECT_ATTRIBUTES,
                                      &config, WDF_NO_HANDLE);
    return status == STATUS_INFO_LENGTH_MISMATCH ? STATUS_SUCCESS : STATUS_UNSUCCESSFUL;
}

static int32_t entry_bad_config_thunk(void *a, void *b)
{
    return entry_bad_config(a, b);
}

static void test_driver_create_bad_arguments(void **state)
{
    (void)state;
    fxtu t;
    fxtu_start(&t, WDFDMA_ENGINE_SIM, false);
    wdfdma_driver *d;
    assert_int_equal(wdfdma_driver_register(t.m, "badcfg", entry_bad_config_thunk, &d), 0);
    /* No WdfDriverCreate: binding it is refused. */
    assert_int_equal(wdfdma_driver_add_id(d, TOY_HWID), 0);
    wdfdma_dev *toy = fxtu_toy(&t, "toy0", NULL);
    assert_int_equal(wdfdma_device_bind(toy, d), -EINVAL);
    fxtu_trap(&t);
    if (setjmp(t.jb) == 0)
        (void)WdfDriverCreate(NULL, NULL, NULL, NULL, NULL);
    assert_int_equal(t.bc.p[0], WDF_REQUIRED_PARAMETER_IS_NULL);
    fxtu_finish(&t);
}

/* ---- success ------------------------------------------------------------------------- */
DEFINE_GUID(GUID_FXTEST, 0x5d1a1b2c, 0x0000, 0x4a5b, 0x9c, 0x8d, 0x01, 0x02, 0x03, 0x04, 0x05,
            0xfe);

static void test_driver_and_device(void **state)
{
    (void)state;
    fxtu t;
    fxtu_start(&t, WDFDMA_ENGINE_SIM, false);
    fxtu_driver(&t);
    assert_string_equal(wdfdma_driver_name(t.drv), "fxtest");
    mach_enter(t.m);
    WDFDRIVER driver = WdfGetDriver();
    assert_non_null(driver);
    PDRIVER_OBJECT wdm = WdfDriverWdmGetDriverObject(driver);
    assert_ptr_equal(WdfWdmDriverGetWdfDriverHandle(wdm), driver);
    assert_non_null(wdm->MajorFunction[IRP_MJ_READ]);
    assert_non_null(wdm->DriverExtension->AddDevice);
    assert_non_null(wdm->DriverUnload);

    wdfdma_dev *toy = fxtu_toy(&t, "toy0", NULL);
    assert_int_equal(wdfdma_device_bind(toy, NULL), 0);
    WDFDEVICE dev = (WDFDEVICE)fxt.last_device;
    assert_true(fxt.stats[0].context_magic_ok);
    assert_ptr_equal(WdfDeviceGetDriver(dev), driver);
    PDEVICE_OBJECT devobj = WdfDeviceWdmGetDeviceObject(dev);
    assert_non_null(devobj);
    assert_ptr_equal(WdfWdmDeviceGetWdfDeviceHandle(devobj), dev);
    assert_true(devobj->Flags & DO_DIRECT_IO);
    assert_ptr_equal(devobj->DriverObject, wdm);
    assert_non_null(WdfDeviceWdmGetPhysicalDevice(dev));
    WdfDeviceSetAlignmentRequirement(dev, FILE_OCTA_ALIGNMENT);
    assert_int_equal(WdfDeviceGetAlignmentRequirement(dev), FILE_OCTA_ALIGNMENT);
    assert_int_equal(devobj->AlignmentRequirement, FILE_OCTA_ALIGNMENT);
    assert_int_equal(fxt.stats[0].resources, 2); /* MMIO + line interrupt */
    fxtu_finish(&t);
}

static void test_interfaces_and_names(void **state)
{
    (void)state;
    fxtu t;
    fxtu_start(&t, WDFDMA_ENGINE_SIM, false);
    fxtu_driver(&t);
    wdfdma_dev *a = fxtu_toy(&t, "toyA", NULL);
    wdfdma_dev *b = fxtu_toy(&t, "toyB", NULL);
    assert_int_equal(wdfdma_device_bind(a, NULL), 0);
    fx_device *da = fx_device_from_hardware(a);
    assert_int_equal(wdfdma_device_bind(b, NULL), 0);
    fx_device *db = fx_device_from_hardware(b);
    const char *g = "{5D1A1B2C-0000-4A5B-9C8D-0102030405FE}";
    char name[64];
    assert_ptr_equal(fx_device_open_by_name(t.m, "toyA"), da);
    assert_ptr_equal(fx_device_open_by_name(t.m, "toyB"), db);
    assert_ptr_equal(fx_device_open_by_name(t.m, g), da);
    snprintf(name, sizeof(name), "%s#1", g);
    assert_ptr_equal(fx_device_open_by_name(t.m, name), db);
    snprintf(name, sizeof(name), "%s#2", g);
    assert_null(fx_device_open_by_name(t.m, name));
    assert_null(fx_device_open_by_name(t.m, "{5D1A1B2C-0000-4A5B-9C8D-0102030405FF}"));
    assert_null(fx_device_open_by_name(t.m, "nothing"));
    assert_null(fx_device_open_by_name(t.m, ""));
    /* The same interface twice is a collision; another reference string is not. */
    WDFDEVICE dev = (WDFDEVICE)fx_handle(&db->obj);
    mach_enter(t.m);
    assert_int_equal(WdfDeviceCreateDeviceInterface(dev, &GUID_FXTEST, NULL),
                     STATUS_OBJECT_NAME_COLLISION);
    DECLARE_CONST_UNICODE_STRING(ref, L"second");
    assert_int_equal(WdfDeviceCreateDeviceInterface(dev, &GUID_FXTEST, &ref), STATUS_SUCCESS);
    /* Removed devices are not found any more. */
    assert_int_equal(wdfdma_device_remove(a), 0);
    assert_ptr_equal(fx_device_open_by_name(t.m, g), db);
    assert_null(fx_device_open_by_name(t.m, "toyA"));
    fxtu_finish(&t);
}

static int timer_fired;
static VOID on_timer(WDFTIMER timer)
{
    (void)timer;
    timer_fired++;
}

static int work_ran;
static VOID on_work(WDFWORKITEM item)
{
    (void)item;
    work_ran++;
}

static void test_timer_and_workitem(void **state)
{
    (void)state;
    fxtu t;
    fxtu_start(&t, WDFDMA_ENGINE_SIM, false);
    fxtu_driver(&t);
    wdfdma_dev *toy = fxtu_toy(&t, "toy0", NULL);
    assert_int_equal(wdfdma_device_bind(toy, NULL), 0);
    mach_enter(t.m);
    WDF_TIMER_CONFIG tc;
    WDF_TIMER_CONFIG_INIT_PERIODIC(&tc, on_timer, 1);
    WDF_OBJECT_ATTRIBUTES a;
    WDF_OBJECT_ATTRIBUTES_INIT(&a);
    WDFTIMER timer;
    assert_int_equal(WdfTimerCreate(&tc, NULL, &timer), STATUS_WDF_PARENT_NOT_SPECIFIED);
    assert_int_equal(WdfTimerCreate(&tc, &a, &timer), STATUS_WDF_PARENT_NOT_SPECIFIED);
    a.ParentObject = fxt.last_device;
    assert_int_equal(WdfTimerCreate(&tc, &a, &timer), STATUS_SUCCESS);
    assert_ptr_equal(WdfTimerGetParentObject(timer), fxt.last_device);
    timer_fired = 0;
    assert_false(WdfTimerStart(timer, WDF_REL_TIMEOUT_IN_MS(1)));
    assert_int_equal(wdfdma_machine_run_until(t.m, wdfdma_machine_now(t.m) + 3500000), 0);
    assert_int_equal(timer_fired, 3); /* 1 ms, then every 1 ms */
    assert_true(WdfTimerStop(timer, TRUE));
    assert_int_equal(wdfdma_machine_run_until(t.m, wdfdma_machine_now(t.m) + 3000000), 0);
    assert_int_equal(timer_fired, 3);

    WDF_WORKITEM_CONFIG wc;
    WDF_WORKITEM_CONFIG_INIT(&wc, on_work);
    wc.AutomaticSerialization = FALSE;
    WDFWORKITEM item;
    assert_int_equal(WdfWorkItemCreate(&wc, &a, &item), STATUS_SUCCESS);
    work_ran = 0;
    WdfWorkItemEnqueue(item);
    WdfWorkItemEnqueue(item); /* already queued: nothing */
    WdfWorkItemFlush(item);
    assert_int_equal(work_ran, 1);
    fxtu_finish(&t); /* both go with the device */
}

/* ---- wrong state --------------------------------------------------------------------- */
static void test_device_misuse(void **state)
{
    (void)state;
    fxtu t;
    fxtu_start(&t, WDFDMA_ENGINE_SIM, true);
    wdfdma_machine_set_bugcheck_quiet(t.m, true);
    fxtu_driver(&t);
    fxt.second_create = 1;
    wdfdma_dev *toy = fxtu_toy(&t, "toy0", NULL);
    assert_int_equal(wdfdma_device_bind(toy, NULL), 0);
    assert_int_equal(fxt.second_create_status, STATUS_INVALID_DEVICE_STATE);
    assert_int_equal(wdfdma_device_bind(toy, NULL), -EBUSY);
    mach_enter(t.m);
    /* A PnP device is never deleted by the driver: ignored, with a verifier report. */
    uint64_t findings = mach_findings(t.m);
    WdfObjectDelete(fxt.last_device);
    assert_int_equal(mach_findings(t.m), findings + 1);
    assert_string_equal(wdfdma_device_state(toy), "started");
    /* PASSIVE-only DDI at DISPATCH: STATUS_INVALID_DEVICE_REQUEST with the verifier on. */
    KIRQL old;
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    assert_int_equal(WdfDeviceCreateDeviceInterface((WDFDEVICE)fxt.last_device, &GUID_FXTEST,
                                                    NULL),
                     STATUS_INVALID_DEVICE_REQUEST);
    KeLowerIrql(old);
    /* A work item whose parent has no device is refused. */
    WDF_WORKITEM_CONFIG wc;
    WDF_WORKITEM_CONFIG_INIT(&wc, on_work);
    WDF_OBJECT_ATTRIBUTES a;
    WDF_OBJECT_ATTRIBUTES_INIT(&a);
    a.ParentObject = WdfGetDriver();
    WDFWORKITEM item;
    assert_int_equal(WdfWorkItemCreate(&wc, &a, &item), STATUS_INVALID_DEVICE_REQUEST);
    fxtu_finish(&t);
}

/* WdfDeviceSetFailed: PnP surprise-removes and removes the device from a work item. */
static void test_set_failed(void **state)
{
    (void)state;
    fxtu t;
    fxtu_start(&t, WDFDMA_ENGINE_SIM, false);
    fxtu_driver(&t);
    wdfdma_dev *toy = fxtu_toy(&t, "toy0", NULL);
    assert_int_equal(wdfdma_device_bind(toy, NULL), 0);
    mach_enter(t.m);
    WdfDeviceSetFailed((WDFDEVICE)fxt.last_device, WdfDeviceFailedNoRestart);
    assert_int_equal(wdfdma_machine_run(t.m), 0);
    assert_string_equal(wdfdma_device_state(toy), "removed");
    assert_int_equal(fxt.stats[0].cleanup_calls, 1);
    fxtu_finish(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_register_bad_arguments),
        cmocka_unit_test(test_driver_create_bad_arguments),
        cmocka_unit_test(test_driver_and_device),
        cmocka_unit_test(test_interfaces_and_names),
        cmocka_unit_test(test_timer_and_workitem),
        cmocka_unit_test(test_device_misuse),
        cmocka_unit_test(test_set_failed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
