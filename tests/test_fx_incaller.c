/*
 * EvtIoInCallerContext and WdfDeviceEnqueueRequest: the driver sees each request before
 * any queue does, then queues it or completes it itself. A test driver (registered
 * statically, WDK names only) on the echo device model; reads are dispatched to a
 * sequential queue, writes have no queue (so the framework fails them without calling
 * back, as KMDF does). Bad arguments, success, then wrong-state misuse.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <ntddk.h>
#include <wdf.h>

#include "wdfdma/host.h"
#include "wdfdma/io.h"

static struct {
    WDFDEVICE device;
    int in_caller, presented, errors;
    NTSTATUS enqueue_status, requeue_status;
    WDFREQUEST last_presented;
} T;

/* ---- the test driver ------------------------------------------------------------------ */

static VOID t_in_caller(WDFDEVICE Device, WDFREQUEST Request)
{
    T.in_caller++;
    if (KeGetCurrentIrql() != PASSIVE_LEVEL)   /* the requester's context: PASSIVE here */
        T.errors++;
    WDF_REQUEST_PARAMETERS p;
    WDF_REQUEST_PARAMETERS_INIT(&p);
    WdfRequestGetParameters(Request, &p);
    if (p.Type == WdfRequestTypeRead && p.Parameters.Read.Length == 3) {
        /* The driver may refuse a request here, before it reaches a queue. */
        WdfRequestComplete(Request, STATUS_INVALID_PARAMETER);
        return;
    }
    T.enqueue_status = WdfDeviceEnqueueRequest(Device, Request);
    if (!NT_SUCCESS(T.enqueue_status))
        WdfRequestComplete(Request, T.enqueue_status);
}

static VOID t_read(WDFQUEUE Queue, WDFREQUEST Request, size_t Length)
{
    T.presented++;
    T.last_presented = Request;
    /* Already queued: enqueuing it again is refused, and the request stays ours. */
    T.requeue_status = WdfDeviceEnqueueRequest(WdfIoQueueGetDevice(Queue), Request);
    WdfRequestCompleteWithInformation(Request, STATUS_SUCCESS, Length);
}

static NTSTATUS t_device_add(WDFDRIVER Driver, PWDFDEVICE_INIT Init)
{
    UNREFERENCED_PARAMETER(Driver);
    WdfDeviceInitSetIoInCallerContextCallback(Init, t_in_caller);
    WDFDEVICE device;
    NTSTATUS st = WdfDeviceCreate(&Init, WDF_NO_OBJECT_ATTRIBUTES, &device);
    if (!NT_SUCCESS(st))
        return st;
    T.device = device;
    WDF_IO_QUEUE_CONFIG qc;
    WDF_IO_QUEUE_CONFIG_INIT(&qc, WdfIoQueueDispatchSequential);
    qc.EvtIoRead = t_read;
    WDFQUEUE queue;
    st = WdfIoQueueCreate(device, &qc, WDF_NO_OBJECT_ATTRIBUTES, &queue);
    if (NT_SUCCESS(st))
        st = WdfDeviceConfigureRequestDispatching(device, queue, WdfRequestTypeRead);
    return st;
}

static int32_t t_driver_entry(void *driver_object, void *registry_path)
{
    WDF_DRIVER_CONFIG config;
    WDF_DRIVER_CONFIG_INIT(&config, t_device_add);
    return WdfDriverCreate(driver_object, registry_path, WDF_NO_OBJECT_ATTRIBUTES, &config,
                           WDF_NO_HANDLE);
}

/* ---- harness ---------------------------------------------------------------------------- */

typedef struct env {
    wdfdma_machine *m;
    wdfdma_dev *hw;
    wdfdma_file *f;
    jmp_buf trap;
    wdfdma_bugcheck bc;
} env;

static void on_bugcheck(void *ctx, const wdfdma_bugcheck *bc)
{
    env *e = ctx;
    e->bc = *bc;
    longjmp(e->trap, 1);
}

static void env_up(env *e, wdfdma_engine engine)
{
    memset(&T, 0, sizeof(T));
    wdfdma_machine_config c;
    wdfdma_machine_config_init(&c);
    c.engine = engine;
    assert_int_equal(wdfdma_machine_create(&c, &e->m), 0);
    assert_int_equal(wdfdma_machine_add_device(e->m, "echo", "echo0", NULL, &e->hw), 0);
    wdfdma_driver *drv;
    assert_int_equal(wdfdma_driver_register(e->m, "incaller", t_driver_entry, &drv), 0);
    assert_int_equal(wdfdma_device_bind(e->hw, drv), 0);
    assert_int_equal(wdfdma_open(e->m, "echo0", &e->f), 0);
}

static void env_down(env *e)
{
    assert_int_equal(wdfdma_outstanding(e->f), 0);
    assert_int_equal(wdfdma_close(e->f), 0);
    assert_int_equal(wdfdma_device_remove(e->hw), 0);
    assert_int_equal(T.errors, 0);
    wdfdma_machine_destroy(e->m);
}

/* Bad arguments: a NULL request handle is bug check 0x10D with P1 = 4 (required parameter
 * NULL) or 5 (invalid handle), as every DDI reports it. */
static void test_bad_arguments(void **state)
{
    (void)state;
    env e;
    env_up(&e, WDFDMA_ENGINE_SIM);
    wdfdma_machine_set_bugcheck_quiet(e.m, true);
    wdfdma_machine_set_bugcheck_handler(e.m, on_bugcheck, &e);
    if (setjmp(e.trap) == 0) {
        (void)WdfDeviceEnqueueRequest(T.device, (WDFREQUEST)(uintptr_t)0x1234);
        fail_msg("a forged request handle was accepted");
    }
    assert_int_equal(e.bc.code, 0x10D);
    assert_int_equal(e.bc.p[0], 0x5);
    assert_int_equal(e.bc.p[1], 0x1234);
    wdfdma_machine_set_bugcheck_handler(e.m, NULL, NULL);
    env_down(&e);
}

/* Every read reaches EvtIoInCallerContext first; enqueued ones reach EvtIoRead, refused
 * ones complete with the driver's status; a second enqueue of a queued request is refused. */
static void run_reads(wdfdma_engine engine)
{
    env e;
    env_up(&e, engine);
    char buf[16];
    int32_t status;
    size_t info;
    assert_int_equal(wdfdma_read(e.f, buf, 8, 0, &status, &info), 0);
    assert_int_equal(status, STATUS_SUCCESS);
    assert_int_equal(info, 8);
    assert_int_equal(T.enqueue_status, STATUS_SUCCESS);
    assert_int_equal(T.requeue_status, STATUS_INVALID_DEVICE_REQUEST);
    assert_int_equal(wdfdma_read(e.f, buf, 3, 0, &status, &info), 0);
    assert_int_equal(status, STATUS_INVALID_PARAMETER);
    assert_int_equal(T.in_caller, 2);
    assert_int_equal(T.presented, 1);
    env_down(&e);
}

static void test_reads_sim(void **state)
{
    (void)state;
    run_reads(WDFDMA_ENGINE_SIM);
}

static void test_reads_threads(void **state)
{
    (void)state;
    run_reads(WDFDMA_ENGINE_THREADS);
}

/* No queue takes writes: the framework fails them without calling the driver back. */
static void test_no_queue_for_type(void **state)
{
    (void)state;
    env e;
    env_up(&e, WDFDMA_ENGINE_SIM);
    char buf[8] = {0};
    int32_t status;
    size_t info;
    assert_int_equal(wdfdma_write(e.f, buf, sizeof buf, 0, &status, &info), 0);
    assert_int_equal(status, STATUS_INVALID_DEVICE_REQUEST);
    assert_int_equal(T.in_caller, 0);
    env_down(&e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_reads_sim),
        cmocka_unit_test(test_reads_threads),
        cmocka_unit_test(test_no_queue_for_type),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
