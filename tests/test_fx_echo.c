/*
 * The echo sample driver (drivers/echo, genuine KMDF source) loaded as a shared object on
 * the register-echo device model, on both engines: open by interface GUID, writes echoed
 * byte-exact through MMIO + interrupt + DPC, reads, both IOCTL methods, a D3/D0 cycle with
 * a write in the hardware, and a clean removal.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "wdm/io_internal.h"
#include "wdfdma/host.h"
#include "wdfdma/io.h"

#define ECHO_GUID "{5F1C1A3E-9B52-4C1E-A7DE-3F7A6F0E0C01}"
#define IOCTL_ECHO_GET_STATUS CTL_CODE(0x8000, 0x800, METHOD_BUFFERED, FILE_ANY_ACCESS)
#define IOCTL_ECHO_READ_DIRECT CTL_CODE(0x8000, 0x801, METHOD_OUT_DIRECT, FILE_READ_ACCESS)
#define WINDOW 2048

typedef struct env {
    wdfdma_machine *m;
    wdfdma_dev *hw;
    wdfdma_file *f;
} env;

static void env_up(env *e, wdfdma_engine engine)
{
    wdfdma_machine_config c;
    wdfdma_machine_config_init(&c);
    c.engine = engine;
    c.seed = 11;
    c.verifier = true;
    assert_int_equal(wdfdma_machine_create(&c, &e->m), 0);
    assert_int_equal(wdfdma_machine_add_device(e->m, "echo", "echo0", "delay=3000", &e->hw), 0);
    wdfdma_driver *drv;
    assert_int_equal(wdfdma_driver_load(e->m, WDFDMA_BUILD_DRIVER_DIR "/echo.so", &drv), 0);
    assert_int_equal(wdfdma_device_bind(e->hw, NULL), 0);     /* matched by the INF */
    assert_string_equal(wdfdma_device_state(e->hw), "started");
    assert_int_equal(wdfdma_open(e->m, ECHO_GUID, &e->f), 0);
}

static void env_down(env *e)
{
    assert_int_equal(wdfdma_outstanding(e->f), 0);
    assert_int_equal(wdfdma_close(e->f), 0);
    assert_int_equal(wdfdma_device_remove(e->hw), 0);
    assert_int_equal(wdm_io_irps_outstanding(e->m), 0);
    wdfdma_machine_destroy(e->m);
}

static void fill(unsigned char *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (unsigned char)((i * 151u + seed * 29u + (i >> 7)) & 0xFF);
}

static void echo_roundtrips(wdfdma_engine engine)
{
    env e;
    env_up(&e, engine);
    static unsigned char wbuf[WINDOW], rbuf[WINDOW + 32];
    int32_t st;
    size_t info;
    for (unsigned round = 0; round < 8; round++) {
        size_t n = 1 + (round * 397u) % WINDOW;
        fill(wbuf, n, round);
        assert_int_equal(wdfdma_write(e.f, wbuf, n, 0, &st, &info), 0);
        assert_int_equal(st, STATUS_SUCCESS);
        assert_int_equal(info, n);
        memset(rbuf, 0xEE, sizeof(rbuf));
        assert_int_equal(wdfdma_read(e.f, rbuf, WINDOW, 0, &st, &info), 0);
        assert_int_equal(st, STATUS_SUCCESS);
        assert_int_equal(info, n);
        assert_memory_equal(rbuf, wbuf, n);
        assert_int_equal(rbuf[n], 0xEE);                       /* nothing beyond */
        /* OUT_DIRECT ioctl: the same bytes through the output MDL. */
        memset(rbuf, 0xEE, sizeof(rbuf));
        assert_int_equal(wdfdma_ioctl(e.f, IOCTL_ECHO_READ_DIRECT, NULL, 0, rbuf, n, &st, &info),
                         0);
        assert_int_equal(st, STATUS_SUCCESS);
        assert_int_equal(info, n);
        assert_memory_equal(rbuf, wbuf, n);
        /* METHOD_BUFFERED status ioctl. */
        uint32_t status[2] = {0, 0};
        assert_int_equal(wdfdma_ioctl(e.f, IOCTL_ECHO_GET_STATUS, NULL, 0, status,
                                      sizeof(status), &st, &info), 0);
        assert_int_equal(st, STATUS_SUCCESS);
        assert_int_equal(info, sizeof(status));
        assert_int_equal(status[0], 0x2);                      /* DONE */
        assert_int_equal(status[1], n);
        /* Too small an output buffer for the status: the driver's status comes back. */
        assert_int_equal(wdfdma_ioctl(e.f, IOCTL_ECHO_GET_STATUS, NULL, 0, status, 4, &st,
                                      &info), 0);
        assert_int_equal(st, STATUS_BUFFER_TOO_SMALL);
    }
    /* Too long for the device window. */
    static unsigned char big[WINDOW + 1];
    assert_int_equal(wdfdma_write(e.f, big, sizeof(big), 0, &st, &info), 0);
    assert_int_equal(st, STATUS_INVALID_BUFFER_SIZE);
    env_down(&e);
}

static void test_echo_sim(void **state)
{
    (void)state;
    echo_roundtrips(WDFDMA_ENGINE_SIM);
}

static void test_echo_threads(void **state)
{
    (void)state;
    echo_roundtrips(WDFDMA_ENGINE_THREADS);
}

typedef struct result {
    int calls;
    int32_t status;
    size_t info;
} result;

static void on_done(void *ctx, int32_t status, size_t information)
{
    result *r = ctx;
    r->calls++;
    r->status = status;
    r->info = information;
}

/* A write in the hardware when the device leaves D0: the framework waits for the DPC to
 * complete it; a write sent in D3 waits in the power-managed queue until D0. */
static void test_echo_power_cycle(void **state)
{
    (void)state;
    env e;
    env_up(&e, WDFDMA_ENGINE_SIM);
    static unsigned char a[64], b[64], rbuf[64];
    fill(a, sizeof(a), 1);
    fill(b, sizeof(b), 2);
    result ra = {0}, rb = {0};
    assert_int_equal(wdfdma_write_async(e.f, a, sizeof(a), 0, on_done, &ra, NULL), 0);
    assert_int_equal(ra.calls, 0);                             /* in the device */
    assert_int_equal(wdfdma_device_set_power(e.hw, WDFDMA_D3), 0);
    assert_int_equal(ra.calls, 1);
    assert_int_equal(ra.status, STATUS_SUCCESS);
    assert_int_equal(wdfdma_write_async(e.f, b, sizeof(b), 0, on_done, &rb, NULL), 0);
    wdfdma_machine_run(e.m);
    assert_int_equal(rb.calls, 0);                             /* held in D3 */
    assert_int_equal(wdfdma_outstanding(e.f), 1);
    assert_int_equal(wdfdma_device_set_power(e.hw, WDFDMA_D0), 0);
    wdfdma_machine_run(e.m);
    assert_int_equal(rb.calls, 1);
    assert_int_equal(rb.status, STATUS_SUCCESS);
    int32_t st;
    size_t info;
    assert_int_equal(wdfdma_read(e.f, rbuf, sizeof(rbuf), 0, &st, &info), 0);
    assert_int_equal(info, sizeof(b));
    assert_memory_equal(rbuf, b, sizeof(b));
    env_down(&e);
}

static void test_echo_open_names(void **state)
{
    (void)state;
    env e;
    env_up(&e, WDFDMA_ENGINE_SIM);
    wdfdma_file *f2 = NULL, *f3 = NULL, *f4 = (wdfdma_file *)1;
    assert_int_equal(wdfdma_open(e.m, ECHO_GUID "#0", &f2), 0);
    assert_int_equal(wdfdma_open(e.m, "echo0", &f3), 0);
    assert_int_equal(wdfdma_open(e.m, ECHO_GUID "#1", &f4), -ENOENT);
    assert_null(f4);
    assert_int_equal(wdfdma_close(f2), 0);
    assert_int_equal(wdfdma_close(f3), 0);
    env_down(&e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_echo_sim),
        cmocka_unit_test(test_echo_threads),
        cmocka_unit_test(test_echo_power_cycle),
        cmocka_unit_test(test_echo_open_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
