/*
 * Registry keys (wdfregistry.h), the host registry API (wdfdma/registry.h) and INF
 * AddReg loading. Order as DPDK's API tests: bad arguments, success, misuse.
 *
 * A tiny KMDF driver (WDK names only) is compiled in and bound to a "toy" device; the
 * tests then call the registry DDIs with its WDFDEVICE / WDFDRIVER at PASSIVE_LEVEL.
 */
#include <ntddk.h>
#include <wdf.h>

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "wdfdma/host.h"
#include "wdfdma/machine.h"
#include "wdfdma/registry.h"

/* ---- the tiny driver ------------------------------------------------------------------- */
static WDFDRIVER g_driver;
static WDFDEVICE g_device;

static NTSTATUS RegEvtDeviceAdd(WDFDRIVER Driver, PWDFDEVICE_INIT DeviceInit)
{
    WDFDEVICE device;
    NTSTATUS status = WdfDeviceCreate(&DeviceInit, WDF_NO_OBJECT_ATTRIBUTES, &device);
    if (NT_SUCCESS(status)) {
        g_driver = Driver;
        g_device = device;
    }
    return status;
}

static NTSTATUS RegDriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    WDF_DRIVER_CONFIG config;
    WDF_DRIVER_CONFIG_INIT(&config, RegEvtDeviceAdd);
    return WdfDriverCreate(DriverObject, RegistryPath, WDF_NO_OBJECT_ATTRIBUTES, &config,
                           WDF_NO_HANDLE);
}

static int32_t reg_entry(void *driver_object, void *registry_path)
{
    return RegDriverEntry(driver_object, registry_path);
}

/* ---- fixture ----------------------------------------------------------------------------- */
typedef struct fixture {
    wdfdma_machine *m;
    wdfdma_dev *dev;
    wdfdma_driver *drv;
} fixture;

static wdfdma_machine *machine_new(void)
{
    wdfdma_machine_config cfg;
    wdfdma_machine *m = NULL;
    wdfdma_machine_config_init(&cfg);
    cfg.verifier = true;
    assert_int_equal(wdfdma_machine_create(&cfg, &m), 0);
    return m;
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    f->m = machine_new();
    assert_int_equal(wdfdma_machine_add_device(f->m, "toy", "toy0", NULL, &f->dev), 0);
    assert_int_equal(wdfdma_driver_register(f->m, "regdrv", reg_entry, &f->drv), 0);
    assert_int_equal(wdfdma_driver_add_id(f->drv, "PCI\\VEN_1234&DEV_0070"), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    if (g_device != NULL)
        assert_int_equal(wdfdma_device_remove(f->dev), 0);
    g_device = NULL;
    g_driver = NULL;
    wdfdma_machine_destroy(f->m);
    free(f);
    return 0;
}

static void bind(fixture *f)
{
    assert_int_equal(wdfdma_device_bind(f->dev, f->drv), 0);
    assert_non_null(g_device);
}

/* ---- bug-check trap ------------------------------------------------------------------------ */
static jmp_buf trap;
static uint32_t trapped_code;
static uint64_t trapped_p1;

static void on_bugcheck(void *ctx, const wdfdma_bugcheck *bc)
{
    (void)ctx;
    trapped_code = bc->code;
    trapped_p1 = bc->p[0];
    longjmp(trap, 1);
}

#define EXPECT_BUGCHECK(m, p1, stmt)                                   \
    do {                                                               \
        wdfdma_machine_set_bugcheck_quiet((m), true);                  \
        wdfdma_machine_set_bugcheck_handler((m), on_bugcheck, NULL);   \
        trapped_code = 0;                                              \
        if (setjmp(trap) == 0) {                                       \
            stmt;                                                      \
            fail_msg("expected a bug check");                          \
        }                                                              \
        assert_int_equal(trapped_code, 0x10D);                         \
        assert_int_equal(trapped_p1, (p1));                            \
        wdfdma_machine_set_bugcheck_handler((m), NULL, NULL);          \
        wdfdma_machine_set_bugcheck_quiet((m), false);                 \
    } while (0)

/* ---- host API: bad arguments ------------------------------------------------------------ */
static void test_host_bad_arguments(void **state)
{
    fixture *f = *state;
    uint32_t v;
    assert_int_equal(wdfdma_registry_set_ulong(NULL, "toy0", "device", "X", 1), -EINVAL);
    assert_int_equal(wdfdma_registry_set_ulong(f->m, NULL, "device", "X", 1), -EINVAL);
    assert_int_equal(wdfdma_registry_set_ulong(f->m, "", "device", "X", 1), -EINVAL);
    assert_int_equal(wdfdma_registry_set_ulong(f->m, "toy0", "hardware", "X", 1), -EINVAL);
    assert_non_null(strstr(wdfdma_last_error(), "hardware"));
    assert_int_equal(wdfdma_registry_set_ulong(f->m, "toy0", NULL, "X", 1), -EINVAL);
    assert_int_equal(wdfdma_registry_set_ulong(f->m, "toy0", "device", NULL, 1), -EINVAL);
    assert_int_equal(wdfdma_registry_set_ulong(f->m, "toy0", "device", "caf\xc3\xa9", 1), -EINVAL);
    char longname[80];
    memset(longname, 'a', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    assert_int_equal(wdfdma_registry_set_ulong(f->m, longname, "device", "X", 1), -EINVAL);
    assert_int_equal(wdfdma_registry_get_ulong(f->m, "toy0", "device", "X", NULL), -EINVAL);
    assert_int_equal(wdfdma_registry_get_ulong(f->m, "toy0", "device", "Missing", &v), -ENOENT);
    assert_int_equal(wdfdma_registry_delete_value(f->m, "toy0", "device", "Missing"), -ENOENT);
    assert_int_equal(wdfdma_registry_set_string(f->m, "toy0", "device", "S", NULL), -EINVAL);
}

/* ---- host API: success ------------------------------------------------------------------- */
static void test_host_set_get(void **state)
{
    fixture *f = *state;
    uint32_t v = 0;
    assert_int_equal(wdfdma_registry_set_ulong(f->m, "toy0", "device", "DmaProfile", 4), 0);
    assert_int_equal(wdfdma_registry_get_ulong(f->m, "toy0", "DEVICE", "dmaprofile", &v), 0);
    assert_int_equal(v, 4);
    /* replace keeps one value */
    assert_int_equal(wdfdma_registry_set_ulong(f->m, "toy0", "device", "DMAPROFILE", 5), 0);
    assert_int_equal(wdfdma_registry_get_ulong(f->m, "toy0", "device", "DmaProfile", &v), 0);
    assert_int_equal(v, 5);
    /* kinds and owners are separate keys */
    assert_int_equal(wdfdma_registry_get_ulong(f->m, "toy0", "driver", "DmaProfile", &v), -ENOENT);
    assert_int_equal(wdfdma_registry_get_ulong(f->m, "toy1", "device", "DmaProfile", &v), -ENOENT);
    /* a string is not a REG_DWORD */
    assert_int_equal(wdfdma_registry_set_string(f->m, "toy0", "device", "Name", "abc"), 0);
    assert_int_equal(wdfdma_registry_get_ulong(f->m, "toy0", "device", "Name", &v), -EINVAL);
    assert_int_equal(wdfdma_registry_delete_value(f->m, "toy0", "device", "name"), 0);
    assert_int_equal(wdfdma_registry_get_ulong(f->m, "toy0", "device", "Name", &v), -ENOENT);
}

static void test_host_machines_are_separate(void **state)
{
    fixture *f = *state;
    uint32_t v;
    assert_int_equal(wdfdma_registry_set_ulong(f->m, "toy0", "device", "Only", 1), 0);
    wdfdma_machine *other = machine_new();
    assert_int_equal(wdfdma_registry_get_ulong(other, "toy0", "device", "Only", &v), -ENOENT);
    wdfdma_machine_destroy(other);
    assert_int_equal(wdfdma_registry_get_ulong(f->m, "toy0", "device", "Only", &v), 0);
}

/* ---- DDIs: bad arguments -------------------------------------------------------------------- */
static void test_ddi_bad_arguments(void **state)
{
    fixture *f = *state;
    bind(f);
    WDFKEY key = (WDFKEY)(uintptr_t)1;
    assert_int_equal(WdfDeviceOpenRegistryKey(g_device, 8, KEY_READ, WDF_NO_OBJECT_ATTRIBUTES,
                                              &key), STATUS_INVALID_PARAMETER);
    assert_null(key);
    assert_int_equal(WdfDeviceOpenRegistryKey(g_device, 0, KEY_READ, WDF_NO_OBJECT_ATTRIBUTES,
                                              &key), STATUS_INVALID_PARAMETER);

    assert_int_equal(WdfDeviceOpenRegistryKey(g_device, PLUGPLAY_REGKEY_DEVICE, KEY_READ,
                                              WDF_NO_OBJECT_ATTRIBUTES, &key), STATUS_SUCCESS);
    WCHAR odd[] = L"Abc";
    UNICODE_STRING bad = {3, sizeof(odd), odd};            /* odd length */
    ULONG v;
    assert_int_equal(WdfRegistryQueryULong(key, &bad, &v), STATUS_INVALID_PARAMETER);
    UNICODE_STRING over = {8, 4, odd};                    /* Length > MaximumLength */
    assert_int_equal(WdfRegistryQueryValue(key, &over, 0, NULL, NULL, NULL),
                     STATUS_INVALID_PARAMETER);
    UNICODE_STRING nobuf = {2, 2, NULL};
    assert_int_equal(WdfRegistryAssignULong(key, &nobuf, 1), STATUS_INVALID_PARAMETER);
    WdfRegistryClose(key);
}

/* ---- DDIs: success ------------------------------------------------------------------------ */
static void test_ddi_query(void **state)
{
    fixture *f = *state;
    assert_int_equal(wdfdma_registry_set_ulong(f->m, "toy0", "device", "DmaProfile", 3), 0);
    assert_int_equal(wdfdma_registry_set_string(f->m, "toy0", "device", "Label", "hi"), 0);
    bind(f);

    WDFKEY key;
    assert_int_equal(WdfDeviceOpenRegistryKey(g_device, PLUGPLAY_REGKEY_DEVICE, KEY_READ,
                                              WDF_NO_OBJECT_ATTRIBUTES, &key), STATUS_SUCCESS);
    DECLARE_CONST_UNICODE_STRING(profile, L"dmaPROFILE");
    DECLARE_CONST_UNICODE_STRING(label, L"Label");
    DECLARE_CONST_UNICODE_STRING(missing, L"Missing");
    ULONG v = 77, length = 0, type = 0;
    assert_int_equal(WdfRegistryQueryULong(key, &profile, &v), STATUS_SUCCESS);
    assert_int_equal(v, 3);
    v = 77;
    assert_int_equal(WdfRegistryQueryULong(key, &missing, &v), STATUS_OBJECT_NAME_NOT_FOUND);
    assert_int_equal(v, 77);
    assert_int_equal(WdfRegistryQueryULong(key, &label, &v), STATUS_OBJECT_TYPE_MISMATCH);
    assert_int_equal(v, 77);

    /* size query, too small, exact */
    assert_int_equal(WdfRegistryQueryValue(key, &label, 0, NULL, &length, &type),
                     STATUS_BUFFER_OVERFLOW);
    assert_int_equal(length, 3 * sizeof(WCHAR));
    assert_int_equal(type, REG_SZ);
    WCHAR text[8] = {0x5a5a, 0x5a5a, 0x5a5a};
    assert_int_equal(WdfRegistryQueryValue(key, &label, 2, text, &length, NULL),
                     STATUS_BUFFER_OVERFLOW);
    assert_int_equal(text[0], 0x5a5a);                    /* nothing copied */
    assert_int_equal(WdfRegistryQueryValue(key, &label, sizeof(text), text, &length, &type),
                     STATUS_SUCCESS);
    assert_int_equal(text[0], 'h');
    assert_int_equal(text[1], 'i');
    assert_int_equal(text[2], 0);
    assert_int_equal(WdfRegistryQueryValue(key, &missing, sizeof(text), text, NULL, NULL),
                     STATUS_OBJECT_NAME_NOT_FOUND);
    WdfRegistryClose(key);
}

static void test_ddi_assign_and_access(void **state)
{
    fixture *f = *state;
    bind(f);
    DECLARE_CONST_UNICODE_STRING(name, L"Counter");
    WDFKEY ro, rw;
    assert_int_equal(WdfDeviceOpenRegistryKey(g_device, PLUGPLAY_REGKEY_DRIVER, KEY_READ,
                                              WDF_NO_OBJECT_ATTRIBUTES, &ro), STATUS_SUCCESS);
    assert_int_equal(WdfRegistryAssignULong(ro, &name, 9), STATUS_ACCESS_DENIED);

    assert_int_equal(WdfDeviceOpenRegistryKey(g_device, PLUGPLAY_REGKEY_DRIVER, KEY_WRITE,
                                              WDF_NO_OBJECT_ATTRIBUTES, &rw), STATUS_SUCCESS);
    ULONG v;
    assert_int_equal(WdfRegistryQueryULong(rw, &name, &v), STATUS_ACCESS_DENIED);
    assert_int_equal(WdfRegistryAssignULong(rw, &name, 9), STATUS_SUCCESS);
    assert_int_equal(WdfRegistryQueryULong(ro, &name, &v), STATUS_SUCCESS);
    assert_int_equal(v, 9);

    UCHAR blob[3] = {1, 2, 3};
    DECLARE_CONST_UNICODE_STRING(bin, L"Blob");
    assert_int_equal(WdfRegistryAssignValue(rw, &bin, REG_BINARY, sizeof(blob), blob),
                     STATUS_SUCCESS);
    UCHAR back[3] = {0};
    ULONG type = 0;
    assert_int_equal(WdfRegistryQueryValue(ro, &bin, sizeof(back), back, NULL, &type),
                     STATUS_SUCCESS);
    assert_int_equal(type, REG_BINARY);
    assert_memory_equal(back, blob, sizeof(blob));
    WdfRegistryClose(rw);
    WdfRegistryClose(ro);

    /* what the driver wrote is in the software key, not the hardware key */
    uint32_t host = 0;
    assert_int_equal(wdfdma_registry_get_ulong(f->m, "toy0", "driver", "counter", &host), 0);
    assert_int_equal(host, 9);
    assert_int_equal(wdfdma_registry_get_ulong(f->m, "toy0", "device", "Counter", &host), -ENOENT);

    /* generic rights map onto key rights */
    WDFKEY all;
    assert_int_equal(WdfDeviceOpenRegistryKey(g_device, PLUGPLAY_REGKEY_DEVICE |
                                              PLUGPLAY_REGKEY_CURRENT_HWPROFILE, GENERIC_ALL,
                                              WDF_NO_OBJECT_ATTRIBUTES, &all), STATUS_SUCCESS);
    assert_int_equal(WdfRegistryAssignULong(all, &name, 1), STATUS_SUCCESS);
    assert_int_equal(WdfRegistryQueryULong(all, &name, &v), STATUS_SUCCESS);
    WdfRegistryClose(all);
}

static void test_ddi_parameters_key(void **state)
{
    fixture *f = *state;
    assert_int_equal(wdfdma_registry_set_ulong(f->m, "regdrv", "parameters", "Verbose", 2), 0);
    bind(f);
    WDFKEY key;
    assert_int_equal(WdfDriverOpenParametersRegistryKey(g_driver, KEY_READ,
                                                        WDF_NO_OBJECT_ATTRIBUTES, &key),
                     STATUS_SUCCESS);
    DECLARE_CONST_UNICODE_STRING(name, L"VERBOSE");
    ULONG v = 0;
    assert_int_equal(WdfRegistryQueryULong(key, &name, &v), STATUS_SUCCESS);
    assert_int_equal(v, 2);
    WdfRegistryClose(key);
}

/* A key left open is deleted with its parent: removal must not leak it. */
static void test_ddi_key_deleted_with_device(void **state)
{
    fixture *f = *state;
    bind(f);
    WDFKEY key;
    assert_int_equal(WdfDeviceOpenRegistryKey(g_device, PLUGPLAY_REGKEY_DEVICE, KEY_READ,
                                              WDF_NO_OBJECT_ATTRIBUTES, &key), STATUS_SUCCESS);
    assert_int_equal(wdfdma_device_remove(f->dev), 0);
    g_device = NULL;
}

/* ---- DDIs: misuse -------------------------------------------------------------------------- */
static void test_ddi_misuse(void **state)
{
    fixture *f = *state;
    bind(f);
    EXPECT_BUGCHECK(f->m, 0x4,
                    (void)WdfDeviceOpenRegistryKey(g_device, PLUGPLAY_REGKEY_DEVICE, KEY_READ,
                                                   WDF_NO_OBJECT_ATTRIBUTES, NULL));
    WDFKEY key;
    assert_int_equal(WdfDeviceOpenRegistryKey(g_device, PLUGPLAY_REGKEY_DEVICE, KEY_READ,
                                              WDF_NO_OBJECT_ATTRIBUTES, &key), STATUS_SUCCESS);
    DECLARE_CONST_UNICODE_STRING(name, L"X");
    EXPECT_BUGCHECK(f->m, 0x4, (void)WdfRegistryQueryULong(key, &name, NULL));
    EXPECT_BUGCHECK(f->m, 0x4, (void)WdfRegistryQueryULong(key, NULL, NULL));
    WdfRegistryClose(key);
    ULONG v;
    /* a closed key's handle is stale */
    EXPECT_BUGCHECK(f->m, 0x5, (void)WdfRegistryQueryULong(key, &name, &v));
    /* a device handle is not a key */
    EXPECT_BUGCHECK(f->m, 0x5, (void)WdfRegistryQueryULong((WDFKEY)g_device, &name, &v));
}

/* ---- INF ---------------------------------------------------------------------------------- */
static const char inf_text[] =
    "; test INF\n"
    "[Version]\n"
    "Signature = \"$WINDOWS NT$\"\n"
    "[Manufacturer]\n"
    "%Mfg% = Models, NTamd64\n"
    "[Models.NTamd64]\n"
    "%Desc% = Toy_Install, PCI\\VEN_1234&DEV_0070 ; the toy\n"
    "[Toy_Install.NT]\n"
    "AddReg = Soft_AddReg\n"
    "[Soft_AddReg]\n"
    "HKR,,SoftValue,0x00010001,0x20\n"
    "[Toy_Install.NT.HW]\n"
    "AddReg = Hw_AddReg, Hw2_AddReg\n"
    "[Hw_AddReg]\n"
    "HKR,,DmaProfile,0x00010001,6\n"
    "HKR,,Preset,0x00010003,5   ; NOCLOBBER\n"
    "HKR,,Label,,\"%Desc%\"\n"
    "[Hw2_AddReg]\n"
    "HKR,,Long, 0x00010001, \\\n"
    "   42\n"
    "[Toy_Install.NT.Services]\n"
    "AddService = toysvc, 0x00000002, Svc_Install\n"
    "[Svc_Install]\n"
    "ServiceType = 1\n"
    "AddReg = Svc_AddReg\n"
    "[Svc_AddReg]\n"
    "HKR,,Start,0x00010001,3\n"
    "HKR,Parameters,Level,0x00010001,7\n"
    "[Strings]\n"
    "Mfg = \"Toy Maker\"\n"
    "Desc = \"Toy; device\"\n";

static char *write_temp(const char *text)
{
    static char path[64];
    snprintf(path, sizeof(path), "/tmp/test_fx_registry_%d.inf", (int)getpid());
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
    return path;
}

static void test_inf_load(void **state)
{
    fixture *f = *state;
    uint32_t v = 0;
    assert_int_equal(wdfdma_registry_set_ulong(f->m, "toy0", "device", "Preset", 1), 0);
    assert_int_equal(wdfdma_registry_set_ulong(f->m, "toy0", "device", "DmaProfile", 2), 0);
    char *path = write_temp(inf_text);
    assert_int_equal(wdfdma_inf_load_registry(f->m, path, "toy0"), 0);
    assert_int_equal(wdfdma_registry_get_ulong(f->m, "toy0", "device", "Preset", &v), 0);
    assert_int_equal(v, 1);                               /* host setting kept */
    assert_int_equal(wdfdma_registry_get_ulong(f->m, "toy0", "device", "DmaProfile", &v), 0);
    assert_int_equal(v, 2);                               /* host setting kept */
    assert_int_equal(wdfdma_registry_get_ulong(f->m, "toy0", "device", "Long", &v), 0);
    assert_int_equal(v, 42);                              /* continuation line */
    assert_int_equal(wdfdma_registry_get_ulong(f->m, "toy0", "driver", "SoftValue", &v), 0);
    assert_int_equal(v, 0x20);
    assert_int_equal(wdfdma_registry_get_ulong(f->m, "toysvc", "parameters", "Level", &v), 0);
    assert_int_equal(v, 7);
    assert_int_equal(wdfdma_registry_get_ulong(f->m, "toysvc", "parameters", "Start", &v),
                     -ENOENT);                            /* the service key is not modelled */
    bind(f);
    WDFKEY key;
    assert_int_equal(WdfDeviceOpenRegistryKey(g_device, PLUGPLAY_REGKEY_DEVICE, KEY_READ,
                                              WDF_NO_OBJECT_ATTRIBUTES, &key), STATUS_SUCCESS);
    DECLARE_CONST_UNICODE_STRING(label, L"label");
    WCHAR text[32];
    ULONG length = 0;
    assert_int_equal(WdfRegistryQueryValue(key, &label, sizeof(text), text, &length, NULL),
                     STATUS_SUCCESS);
    assert_int_equal(length, sizeof(L"Toy; device"));
    assert_memory_equal(text, L"Toy; device", length);
    WdfRegistryClose(key);
    unlink(path);
}

static void test_inf_errors(void **state)
{
    fixture *f = *state;
    assert_int_equal(wdfdma_inf_load_registry(NULL, "x.inf", "toy0"), -EINVAL);
    assert_int_equal(wdfdma_inf_load_registry(f->m, "/nonexistent/x.inf", "toy0"), -ENOENT);
    char *path = write_temp(inf_text);
    assert_int_equal(wdfdma_inf_load_registry(f->m, path, "nosuchdev"), -ENOENT);
    unlink(path);

    path = write_temp("[Manufacturer]\nM = Models\n[Models]\nD = I, PCI\\VEN_FFFF\n[I]\n");
    assert_int_equal(wdfdma_inf_load_registry(f->m, path, "toy0"), -ENOENT);
    assert_non_null(strstr(wdfdma_last_error(), "no [Models] line"));

    path = write_temp("[Manufacturer]\nM = Models\n[Models]\nD = I, PCI\\VEN_1234&DEV_0070\n"
                      "[I.HW]\nAddReg = R\n[I]\n[R]\nHKLM,Software,X,0x00010001,1\n");
    assert_int_equal(wdfdma_inf_load_registry(f->m, path, "toy0"), -EINVAL);
    assert_non_null(strstr(wdfdma_last_error(), ":9:"));

    path = write_temp("[Manufacturer]\nM = Models\n[Models]\nD = I, PCI\\VEN_1234&DEV_0070\n"
                      "[I.HW]\nAddReg = R\n[I]\n[R]\nHKR,,X,0x00010001,twelve\n");
    assert_int_equal(wdfdma_inf_load_registry(f->m, path, "toy0"), -EINVAL);
    path = write_temp("[Manufacturer]\nM = Models\n[Models]\nD = I, PCI\\VEN_1234&DEV_0070\n"
                      "[I.HW]\nAddReg = R\n[I]\n[R]\nHKR,,X,0x00000001,01,02\n");
    assert_int_equal(wdfdma_inf_load_registry(f->m, path, "toy0"), -EINVAL);
    assert_non_null(strstr(wdfdma_last_error(), "not supported"));
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_host_bad_arguments, setup, teardown),
        cmocka_unit_test_setup_teardown(test_host_set_get, setup, teardown),
        cmocka_unit_test_setup_teardown(test_host_machines_are_separate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ddi_bad_arguments, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ddi_query, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ddi_assign_and_access, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ddi_parameters_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ddi_key_deleted_with_device, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ddi_misuse, setup, teardown),
        cmocka_unit_test_setup_teardown(test_inf_load, setup, teardown),
        cmocka_unit_test_setup_teardown(test_inf_errors, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
