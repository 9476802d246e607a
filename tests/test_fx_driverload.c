/*
 * Loading driver modules (src/host/driverload.c): a real shared object with DriverEntry
 * and its INF, a module without DriverEntry (-ENOEXEC), a missing file, and the INF
 * subset. Order: bad arguments, then success, then wrong-state misuse.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "fx/registry.h"
#include "host/host_internal.h"
#include "wdfdma/host.h"
#include "wdfdma/registry.h"

#define MIN_DRIVER FXTEST_MODULE_DIR "/testdrv_min.so"
#define NO_ENTRY FXTEST_MODULE_DIR "/testdrv_noentry.so"

static wdfdma_machine *machine(void)
{
    wdfdma_machine_config c;
    wdfdma_machine_config_init(&c);
    wdfdma_machine *m = NULL;
    assert_int_equal(wdfdma_machine_create(&c, &m), 0);
    return m;
}

static void test_load_bad_arguments(void **state)
{
    (void)state;
    wdfdma_machine *m = machine();
    wdfdma_driver *d = (wdfdma_driver *)1;
    assert_int_equal(wdfdma_driver_load(NULL, MIN_DRIVER, &d), -EINVAL);
    assert_null(d);
    assert_int_equal(wdfdma_driver_load(m, NULL, &d), -EINVAL);
    assert_int_equal(wdfdma_driver_load(m, FXTEST_MODULE_DIR "/absent.so", &d), -ENOENT);
    assert_non_null(strstr(wdfdma_last_error(), "absent.so"));
    assert_int_equal(wdfdma_driver_load(m, NO_ENTRY, &d), -ENOEXEC);
    assert_non_null(strstr(wdfdma_last_error(), "DriverEntry"));
    /* Not a shared object at all. */
    assert_int_equal(wdfdma_driver_load(m, FXTEST_MODULE_DIR "/testdrv_min.inf", &d), -ENOEXEC);
    wdfdma_machine_destroy(m);
}

static void test_load_and_bind(void **state)
{
    (void)state;
    wdfdma_machine *m = machine();
    wdfdma_driver *d = NULL;
    assert_int_equal(wdfdma_driver_load(m, MIN_DRIVER, &d), 0);
    assert_non_null(d);
    assert_string_equal(wdfdma_driver_name(d), "testdrv_min");
    wdfdma_dev *toy = NULL;
    assert_int_equal(wdfdma_machine_add_device(m, "toy", "toy0", NULL, &toy), 0);
    /* The INF's [Models.NTamd64] line matches the toy: no explicit driver needed. */
    assert_int_equal(wdfdma_device_bind(toy, NULL), 0);
    assert_string_equal(wdfdma_device_state(toy), "started");
    const char *log[8];
    assert_int_equal(wdfdma_device_callback_log(toy, log, 8), 1);
    assert_string_equal(log[0], "EvtDriverDeviceAdd");
    wdfdma_machine_destroy(m); /* removes the device, unloads and closes the module */
}

static void test_inf_subset(void **state)
{
    (void)state;
    char(*ids)[128] = NULL;
    unsigned n = 0;
    assert_int_equal(fx_inf_hardware_ids(FXTEST_MODULE_DIR "/testdrv_min.inf", &ids, &n), 0);
    assert_int_equal(n, 3);
    assert_string_equal(ids[0], "PCI\\VEN_1234&DEV_0070");
    assert_string_equal(ids[1], "PCI\\VEN_1234&DEV_0071"); /* %OtherId% from [Strings] */
    assert_string_equal(ids[2], "PCI\\CC_0880");
    free(ids);
    assert_int_equal(fx_inf_hardware_ids(FXTEST_MODULE_DIR "/none.inf", &ids, &n), -ENOENT);

    char path[] = "/tmp/wdfdma_inf_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fputs("[Models]\n%Desc% = OnlyASection\n", f);
    fclose(f);
    assert_int_equal(fx_inf_hardware_ids(path, &ids, &n), -EINVAL);
    assert_non_null(strstr(wdfdma_last_error(), ":2:"));
    remove(path);
}

/* Binding applies the INF's AddReg values as Windows' installer does; values the host set
 * first win (the sgdma sample's INF sets DmaProfile 6 and MaximumTransferLength 64 KiB). */
static void test_bind_applies_inf_registry(void **state)
{
    (void)state;
    wdfdma_machine *m = machine();
    wdfdma_driver *d = NULL;
    assert_int_equal(wdfdma_driver_load(m, WDFDMA_BUILD_DRIVER_DIR "/sgdma.so", &d), 0);
    wdfdma_dev *a = NULL, *b = NULL;
    assert_int_equal(wdfdma_machine_add_device(m, "sgdma", "sgdma0", NULL, &a), 0);
    assert_int_equal(wdfdma_machine_add_device(m, "sgdma", "sgdma1", NULL, &b), 0);
    assert_int_equal(wdfdma_registry_set_ulong(m, "sgdma1", "device", "DmaProfile", 2), 0);
    uint32_t v = 0;
    assert_int_not_equal(wdfdma_registry_get_ulong(m, "sgdma0", "device", "DmaProfile", &v), 0);
    assert_int_equal(wdfdma_device_bind(a, NULL), 0);
    assert_int_equal(wdfdma_device_bind(b, NULL), 0);
    assert_int_equal(wdfdma_registry_get_ulong(m, "sgdma0", "device", "DmaProfile", &v), 0);
    assert_int_equal(v, 6);
    assert_int_equal(wdfdma_registry_get_ulong(m, "sgdma0", "device", "MaximumTransferLength",
                                               &v), 0);
    assert_int_equal(v, 0x10000);
    assert_int_equal(wdfdma_registry_get_ulong(m, "sgdma1", "device", "DmaProfile", &v), 0);
    assert_int_equal(v, 2);   /* the host's value, not the INF's */
    wdfdma_machine_destroy(m);
}

/* The same driver name twice on one machine is refused. */
static void test_load_twice(void **state)
{
    (void)state;
    wdfdma_machine *m = machine();
    wdfdma_driver *d = NULL;
    assert_int_equal(wdfdma_driver_load(m, MIN_DRIVER, &d), 0);
    assert_int_equal(wdfdma_driver_load(m, MIN_DRIVER, &d), -EEXIST);
    wdfdma_machine_destroy(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_load_bad_arguments),
        cmocka_unit_test(test_load_and_bind),
        cmocka_unit_test(test_inf_subset),
        cmocka_unit_test(test_load_twice),
        cmocka_unit_test(test_bind_applies_inf_registry),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
