/*
 * Framework I/O: the I/O manager's IRPs, the host I/O API, queues and requests, driven by a
 * test driver (registered statically) on the echo device model. API tests go bad
 * arguments, then success, then wrong-state misuse. Every asynchronous request is counted:
 * each completes exactly once.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "fx/io.h"
#include "wdfdma/host.h"
#include "wdfdma/io.h"
#include "wdfdma/verifier.h"

#define IOCTL_T_BUFFERED CTL_CODE(0x8000, 0x900, METHOD_BUFFERED, FILE_ANY_ACCESS)
#define IOCTL_T_IN_DIRECT CTL_CODE(0x8000, 0x901, METHOD_IN_DIRECT, FILE_ANY_ACCESS)
#define IOCTL_T_OUT_DIRECT CTL_CODE(0x8000, 0x902, METHOD_OUT_DIRECT, FILE_ANY_ACCESS)
#define IOCTL_T_NEITHER CTL_CODE(0x8000, 0x903, METHOD_NEITHER, FILE_ANY_ACCESS)

typedef enum { MODE_ECHO, MODE_HOLD, MODE_CANCELABLE } t_mode;

static struct {
    /* configuration, set before binding */
    WDF_DEVICE_IO_TYPE io;
    WDF_IO_QUEUE_DISPATCH_TYPE dispatch;
    ULONG parallel;
    t_mode mode;
    bool canceled_on_queue;
    bool stop_requeue;
    bool stop_complete;     /* EvtIoStop(Suspend) completes the request */
    bool cancel_defers;              /* EvtRequestCancel leaves completion to the "DMA path" */
    /* what the driver saw */
    WDFDEVICE device;
    WDFQUEUE queue;
    WDFREQUEST held[32];
    int nheld;
    int presented, stops, resumes, cancels, canceled_on_queue_calls, errors;
    NTSTATUS unmark_in_cancel;
    LONGLONG order[32];
    int norder;
    unsigned char store[8192];
    size_t stored;
} T;

static void expect(bool ok)
{
    if (!ok)
        T.errors++;
}

/* ---- the test driver ------------------------------------------------------------------------ */

static void forget_held(WDFREQUEST Request)
{
    for (int i = 0; i < T.nheld; i++)
        if (T.held[i] == Request) {
            T.held[i] = T.held[--T.nheld];
            return;
        }
}

static VOID t_cancel(WDFREQUEST Request)
{
    T.cancels++;
    if (T.cancel_defers) {
        /* Like a driver whose cancel only asks the hardware to stop: the path that ends the
         * transfer completes the request. Unmark here says the cancel has won. */
        T.unmark_in_cancel = WdfRequestUnmarkCancelable(Request);
        return;
    }
    forget_held(Request);
    WdfRequestComplete(Request, STATUS_CANCELLED);
}

static void hold(WDFREQUEST r)
{
    if (T.mode == MODE_CANCELABLE) {
        NTSTATUS st = WdfRequestMarkCancelableEx(r, t_cancel);
        if (st == STATUS_CANCELLED) {
            WdfRequestComplete(r, STATUS_CANCELLED);
            return;
        }
        expect(st == STATUS_SUCCESS);
    }
    T.held[T.nheld++] = r;
}

static VOID t_read(WDFQUEUE Queue, WDFREQUEST Request, size_t Length)
{
    (void)Queue;
    WDF_REQUEST_PARAMETERS p;
    WDF_REQUEST_PARAMETERS_INIT(&p);
    WdfRequestGetParameters(Request, &p);
    expect(p.Type == WdfRequestTypeRead && p.Parameters.Read.Length == Length);
    T.presented++;
    T.order[T.norder++ % 32] = p.Parameters.Read.DeviceOffset;
    if (T.mode != MODE_ECHO) {
        hold(Request);
        return;
    }
    PVOID buf;
    size_t len;
    NTSTATUS st = WdfRequestRetrieveOutputBuffer(Request, 1, &buf, &len);
    if (!NT_SUCCESS(st)) {
        WdfRequestComplete(Request, st);
        return;
    }
    PVOID in;
    expect(WdfRequestRetrieveInputBuffer(Request, 0, &in, NULL) == STATUS_INVALID_DEVICE_REQUEST);
    size_t n = len < T.stored ? len : T.stored;
    memcpy(buf, T.store, n);
    WdfRequestCompleteWithInformation(Request, STATUS_SUCCESS, n);
}

static VOID t_write(WDFQUEUE Queue, WDFREQUEST Request, size_t Length)
{
    (void)Queue;
    T.presented++;
    if (T.mode != MODE_ECHO) {
        hold(Request);
        return;
    }
    PVOID buf;
    size_t len;
    NTSTATUS st = WdfRequestRetrieveInputBuffer(Request, Length, &buf, &len);
    expect(WdfRequestRetrieveInputBuffer(Request, Length + 1, &buf, &len) ==
           STATUS_BUFFER_TOO_SMALL);
    st = WdfRequestRetrieveInputBuffer(Request, Length, &buf, &len);
    if (!NT_SUCCESS(st) || len > sizeof(T.store)) {
        WdfRequestComplete(Request, NT_SUCCESS(st) ? STATUS_INVALID_BUFFER_SIZE : st);
        return;
    }
    PMDL mdl;
    expect(WdfRequestRetrieveInputWdmMdl(Request, &mdl) == STATUS_SUCCESS &&
           MmGetMdlByteCount(mdl) == len);
    memcpy(T.store, buf, len);
    T.stored = len;
    WdfRequestCompleteWithInformation(Request, STATUS_SUCCESS, len);
}

static VOID t_ioctl(WDFQUEUE Queue, WDFREQUEST Request, size_t OutLen, size_t InLen, ULONG Code)
{
    (void)Queue;
    T.presented++;
    PVOID in = NULL, out = NULL;
    size_t ilen = 0, olen = 0;
    PMDL mdl = NULL;
    switch (Code) {
    case IOCTL_T_BUFFERED:
        expect(WdfRequestRetrieveInputBuffer(Request, InLen, &in, &ilen) == STATUS_SUCCESS);
        expect(WdfRequestRetrieveOutputBuffer(Request, OutLen, &out, &olen) == STATUS_SUCCESS);
        expect(in == out);               /* one system buffer for both */
        for (size_t i = 0; i < ilen && i < olen; i++)
            ((unsigned char *)out)[i] ^= 0x5A;
        WdfRequestCompleteWithInformation(Request, STATUS_SUCCESS, ilen < olen ? ilen : olen);
        return;
    case IOCTL_T_IN_DIRECT:
    case IOCTL_T_OUT_DIRECT: {
        expect(WdfRequestRetrieveInputBuffer(Request, InLen, &in, &ilen) == STATUS_SUCCESS);
        expect(WdfRequestRetrieveOutputWdmMdl(Request, &mdl) == STATUS_SUCCESS);
        expect(WdfRequestRetrieveOutputBuffer(Request, OutLen, &out, &olen) == STATUS_SUCCESS);
        expect(mdl != NULL && MmGetMdlByteCount(mdl) == OutLen &&
               MmGetSystemAddressForMdlSafe(mdl, NormalPagePriority) == out);
        ULONG_PTR info = 0;
        if (Code == IOCTL_T_OUT_DIRECT) {
            for (size_t i = 0; i < olen; i++)
                ((unsigned char *)out)[i] = (unsigned char)(i * 13 + ((unsigned char *)in)[0]);
            info = olen;
        } else {
            for (size_t i = 0; i < olen; i++)
                info += ((unsigned char *)out)[i];
        }
        WdfRequestCompleteWithInformation(Request, STATUS_SUCCESS, info);
        return;
    }
    case IOCTL_T_NEITHER: {
        WDF_REQUEST_PARAMETERS p;
        WDF_REQUEST_PARAMETERS_INIT(&p);
        WdfRequestGetParameters(Request, &p);
        expect(p.Parameters.DeviceIoControl.Type3InputBuffer != NULL);
        expect(WdfRequestRetrieveInputBuffer(Request, 0, &in, &ilen) ==
               STATUS_INVALID_DEVICE_REQUEST);
        expect(WdfRequestRetrieveOutputWdmMdl(Request, &mdl) == STATUS_INVALID_DEVICE_REQUEST);
        WdfRequestCompleteWithInformation(Request, STATUS_SUCCESS, 1);
        return;
    }
    default:
        WdfRequestComplete(Request, STATUS_INVALID_DEVICE_REQUEST);
    }
}

static VOID t_stop(WDFQUEUE Queue, WDFREQUEST Request, ULONG ActionFlags)
{
    (void)Queue;
    T.stops++;
    bool purge = (ActionFlags & WdfRequestStopActionPurge) != 0;
    if (purge || T.stop_requeue || T.stop_complete) {
        forget_held(Request);
        if ((ActionFlags & WdfRequestStopRequestCancelable) &&
            WdfRequestUnmarkCancelable(Request) == STATUS_CANCELLED)
            return;
    }
    if (purge)
        WdfRequestComplete(Request, STATUS_CANCELLED);
    else if (T.stop_complete)
        WdfRequestCompleteWithInformation(Request, STATUS_SUCCESS, 16);   /* work done */
    else
        WdfRequestStopAcknowledge(Request, T.stop_requeue);
}

static VOID t_resume(WDFQUEUE Queue, WDFREQUEST Request)
{
    (void)Queue;
    (void)Request;
    T.resumes++;
}

static VOID t_canceled_on_queue(WDFQUEUE Queue, WDFREQUEST Request)
{
    (void)Queue;
    T.canceled_on_queue_calls++;
    WdfRequestComplete(Request, STATUS_CANCELLED);
}

static NTSTATUS t_device_add(WDFDRIVER Driver, PWDFDEVICE_INIT Init)
{
    (void)Driver;
    WdfDeviceInitSetIoType(Init, T.io);
    WDFDEVICE device;
    NTSTATUS st = WdfDeviceCreate(&Init, WDF_NO_OBJECT_ATTRIBUTES, &device);
    if (!NT_SUCCESS(st))
        return st;
    T.device = device;
    WDF_IO_QUEUE_CONFIG qc;
    WDF_IO_QUEUE_CONFIG_INIT_DEFAULT_QUEUE(&qc, T.dispatch);
    if (T.dispatch == WdfIoQueueDispatchParallel)
        qc.Settings.Parallel.NumberOfPresentedRequests = T.parallel;
    if (T.dispatch != WdfIoQueueDispatchManual) {
        qc.EvtIoRead = t_read;
        qc.EvtIoWrite = t_write;
        qc.EvtIoDeviceControl = t_ioctl;
    }
    qc.EvtIoStop = t_stop;
    qc.EvtIoResume = t_resume;
    if (T.canceled_on_queue)
        qc.EvtIoCanceledOnQueue = t_canceled_on_queue;
    return WdfIoQueueCreate(device, &qc, WDF_NO_OBJECT_ATTRIBUTES, &T.queue);
}

static int32_t t_driver_entry(void *driver_object, void *registry_path)
{
    WDF_DRIVER_CONFIG config;
    WDF_DRIVER_CONFIG_INIT(&config, t_device_add);
    return WdfDriverCreate(driver_object, registry_path, WDF_NO_OBJECT_ATTRIBUTES, &config,
                           WDF_NO_HANDLE);
}

/* ---- harness ------------------------------------------------------------------------------- */

typedef struct env {
    wdfdma_machine *m;
    wdfdma_dev *hw;
    wdfdma_file *f;
} env;

static void reset_config(void)
{
    memset(&T, 0, sizeof(T));
    T.io = WdfDeviceIoBuffered;
    T.dispatch = WdfIoQueueDispatchSequential;
}

static void env_up(env *e, wdfdma_engine engine)
{
    wdfdma_machine_config c;
    wdfdma_machine_config_init(&c);
    c.engine = engine;
    c.seed = 7;
    c.verifier = true;
    assert_int_equal(wdfdma_machine_create(&c, &e->m), 0);
    assert_int_equal(wdfdma_machine_add_device(e->m, "echo", "echo0", NULL, &e->hw), 0);
    wdfdma_driver *drv;
    assert_int_equal(wdfdma_driver_register(e->m, "fxiotest", t_driver_entry, &drv), 0);
    assert_int_equal(wdfdma_device_bind(e->hw, drv), 0);
    assert_int_equal(wdfdma_open(e->m, "echo0", &e->f), 0);
}

static void env_down(env *e)
{
    assert_int_equal(wdfdma_outstanding(e->f), 0);
    assert_int_equal(wdfdma_close(e->f), 0);
    assert_int_equal(wdfdma_device_remove(e->hw), 0);
    assert_int_equal(wdm_io_irps_outstanding(e->m), 0);
    assert_int_equal(T.errors, 0);
    wdfdma_machine_destroy(e->m);
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

static void fill(unsigned char *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (unsigned char)((i * 131u + seed * 7u + (i >> 8)) & 0xFF);
}

/* ---- host API: bad arguments ---------------------------------------------------------------- */

static void test_host_bad_arguments(void **state)
{
    (void)state;
    reset_config();
    env e;
    env_up(&e, WDFDMA_ENGINE_SIM);
    wdfdma_file *f = (wdfdma_file *)1;
    unsigned char buf[8];
    result r = {0};
    assert_int_equal(wdfdma_open(NULL, "echo0", &f), -EINVAL);
    assert_int_equal(wdfdma_open(e.m, NULL, &f), -EINVAL);
    assert_int_equal(wdfdma_open(e.m, "", &f), -EINVAL);
    assert_int_equal(wdfdma_open(e.m, "echo0", NULL), -EINVAL);
    assert_int_equal(wdfdma_open(e.m, "nosuch", &f), -ENOENT);
    assert_null(f);
    assert_true(strstr(wdfdma_last_error(), "nosuch") != NULL);
    assert_int_equal(wdfdma_read(NULL, buf, 8, 0, NULL, NULL), -EINVAL);
    assert_int_equal(wdfdma_read(e.f, NULL, 8, 0, NULL, NULL), -EINVAL);
    assert_int_equal(wdfdma_write(e.f, NULL, 8, 0, NULL, NULL), -EINVAL);
    assert_int_equal(wdfdma_write(e.f, buf, (size_t)1 << 33, 0, NULL, NULL), -EINVAL);
    assert_int_equal(wdfdma_ioctl(e.f, IOCTL_T_BUFFERED, NULL, 4, buf, 8, NULL, NULL), -EINVAL);
    assert_int_equal(wdfdma_read_async(e.f, buf, 8, 0, NULL, &r, NULL), -EINVAL);
    assert_int_equal(wdfdma_write_async(NULL, buf, 8, 0, on_done, &r, NULL), -EINVAL);
    assert_int_equal(wdfdma_ioctl_async(e.f, 0, buf, 8, NULL, 8, on_done, &r, NULL), -EINVAL);
    assert_int_equal(r.calls, 0);            /* failed async calls never call back */
    assert_int_equal(wdfdma_cancel(NULL), -EINVAL);
    assert_int_equal(wdfdma_close(NULL), -EINVAL);
    assert_int_equal(wdfdma_outstanding(NULL), 0);
    env_down(&e);
}

/* ---- data paths ------------------------------------------------------------------------------ */

static void rw_exact(WDF_DEVICE_IO_TYPE io)
{
    reset_config();
    T.io = io;
    env e;
    env_up(&e, WDFDMA_ENGINE_SIM);
    enum { N = 5000, GUARD = 64 };
    static unsigned char wbuf[N], rbuf[N + GUARD];
    fill(wbuf, N, 3);
    int32_t st = -1;
    size_t info = 0;
    assert_int_equal(wdfdma_write(e.f, wbuf, N, 0, &st, &info), 0);
    assert_int_equal(st, STATUS_SUCCESS);
    assert_int_equal(info, N);
    memset(rbuf, 0xEE, sizeof(rbuf));
    assert_int_equal(wdfdma_read(e.f, rbuf, N, 0, &st, &info), 0);
    assert_int_equal(st, STATUS_SUCCESS);
    assert_int_equal(info, N);
    assert_memory_equal(rbuf, wbuf, N);
    for (int i = 0; i < GUARD; i++)
        assert_int_equal(rbuf[N + i], 0xEE);      /* nothing written past the buffer */
    /* A short read gets exactly what fits. */
    memset(rbuf, 0xEE, sizeof(rbuf));
    assert_int_equal(wdfdma_read(e.f, rbuf, 100, 0, &st, &info), 0);
    assert_int_equal(info, 100);
    assert_memory_equal(rbuf, wbuf, 100);
    assert_int_equal(rbuf[100], 0xEE);
    /* Zero-length reads complete with success without reaching the driver. */
    int before = T.presented;
    assert_int_equal(wdfdma_read(e.f, rbuf, 0, 0, &st, &info), 0);
    assert_int_equal(st, STATUS_SUCCESS);
    assert_int_equal(info, 0);
    assert_int_equal(T.presented, before);
    env_down(&e);
}

static void test_buffered_rw(void **state)
{
    (void)state;
    rw_exact(WdfDeviceIoBuffered);
}

static void test_direct_rw(void **state)
{
    (void)state;
    rw_exact(WdfDeviceIoDirect);
}

static void test_ioctl_methods(void **state)
{
    (void)state;
    reset_config();
    env e;
    env_up(&e, WDFDMA_ENGINE_SIM);
    unsigned char in[300], out[500], ref[500];
    int32_t st;
    size_t info;
    fill(in, sizeof(in), 9);
    /* METHOD_BUFFERED: input copied in, Information bytes copied back. */
    memset(out, 0, sizeof(out));
    assert_int_equal(wdfdma_ioctl(e.f, IOCTL_T_BUFFERED, in, sizeof(in), out, sizeof(out), &st,
                                  &info), 0);
    assert_int_equal(st, STATUS_SUCCESS);
    assert_int_equal(info, sizeof(in));
    for (size_t i = 0; i < sizeof(in); i++)
        assert_int_equal(out[i], in[i] ^ 0x5A);
    assert_int_equal(out[sizeof(in)], 0);       /* only Information bytes come back */
    /* METHOD_OUT_DIRECT: the driver writes the output buffer through the MDL. */
    assert_int_equal(wdfdma_ioctl(e.f, IOCTL_T_OUT_DIRECT, in, 1, out, sizeof(out), &st, &info),
                     0);
    assert_int_equal(info, sizeof(out));
    for (size_t i = 0; i < sizeof(out); i++)
        ref[i] = (unsigned char)(i * 13 + in[0]);
    assert_memory_equal(out, ref, sizeof(out));
    /* METHOD_IN_DIRECT: the driver reads the "output" buffer. */
    size_t sum = 0;
    for (size_t i = 0; i < sizeof(out); i++)
        sum += out[i];
    assert_int_equal(wdfdma_ioctl(e.f, IOCTL_T_IN_DIRECT, in, 4, out, sizeof(out), &st, &info),
                     0);
    assert_int_equal(st, STATUS_SUCCESS);
    assert_int_equal(info, sum);
    /* METHOD_NEITHER: raw pointers only; the buffer DDIs refuse. */
    assert_int_equal(wdfdma_ioctl(e.f, IOCTL_T_NEITHER, in, 4, out, 4, &st, &info), 0);
    assert_int_equal(info, 1);
    /* Unknown code: the driver's status comes back. */
    assert_int_equal(wdfdma_ioctl(e.f, 0x12345, NULL, 0, NULL, 0, &st, &info), 0);
    assert_int_equal(st, STATUS_INVALID_DEVICE_REQUEST);
    env_down(&e);
}

/* ---- dispatch order ------------------------------------------------------------------------- */

/* n asynchronous 16-byte reads at offsets 0..n-1, each reporting into res[i]; their
 * operations into ops[i] unless ops is NULL. */
static void read_async_n(env *e, int n, unsigned char (*bufs)[16], result *res,
                         wdfdma_io **ops)
{
    for (int i = 0; i < n; i++)
        assert_int_equal(wdfdma_read_async(e->f, bufs[i], 16, (uint64_t)i, on_done, &res[i],
                                           ops ? &ops[i] : NULL), 0);
}

static void complete_held(int index, NTSTATUS status)
{
    WDFREQUEST r = T.held[index];
    T.held[index] = T.held[--T.nheld];
    if (T.mode == MODE_CANCELABLE)
        assert_int_equal(WdfRequestUnmarkCancelable(r), STATUS_SUCCESS);
    WdfRequestComplete(r, status);
}

static void test_sequential_order(void **state)
{
    (void)state;
    reset_config();
    T.mode = MODE_HOLD;
    env e;
    env_up(&e, WDFDMA_ENGINE_SIM);
    result res[4] = {0};
    unsigned char bufs[4][16];
    read_async_n(&e, 4, bufs, res, NULL);
    assert_int_equal(T.presented, 1);
    assert_int_equal(wdfdma_outstanding(e.f), 4);
    ULONG queued, owned;
    WdfIoQueueGetState(T.queue, &queued, &owned);
    assert_int_equal(queued, 3);
    assert_int_equal(owned, 1);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(T.nheld, 1);
        assert_int_equal(T.order[i], i);
        complete_held(0, STATUS_SUCCESS);
        assert_int_equal(res[i].calls, 1);
    }
    assert_int_equal(T.presented, 4);
    env_down(&e);
}

static void test_parallel_limit(void **state)
{
    (void)state;
    reset_config();
    T.mode = MODE_HOLD;
    T.dispatch = WdfIoQueueDispatchParallel;
    T.parallel = 2;
    env e;
    env_up(&e, WDFDMA_ENGINE_SIM);
    result res[5] = {0};
    unsigned char bufs[5][16];
    read_async_n(&e, 5, bufs, res, NULL);
    assert_int_equal(T.presented, 2);
    complete_held(0, STATUS_SUCCESS);
    assert_int_equal(T.presented, 3);
    while (T.nheld > 0)
        complete_held(0, STATUS_SUCCESS);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(res[i].calls, 1);
        assert_int_equal(T.order[i], i);
    }
    env_down(&e);
}

static void test_manual_retrieve(void **state)
{
    (void)state;
    reset_config();
    T.dispatch = WdfIoQueueDispatchManual;
    env e;
    env_up(&e, WDFDMA_ENGINE_SIM);
    WDFREQUEST r = NULL;
    assert_int_equal(WdfIoQueueRetrieveNextRequest(T.queue, &r), STATUS_NO_MORE_ENTRIES);
    assert_null(r);
    result res[3] = {0};
    unsigned char bufs[3][16];
    read_async_n(&e, 3, bufs, res, NULL);
    assert_int_equal(T.presented, 0);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(WdfIoQueueRetrieveNextRequest(T.queue, &r), STATUS_SUCCESS);
        WDF_REQUEST_PARAMETERS p;
        WDF_REQUEST_PARAMETERS_INIT(&p);
        WdfRequestGetParameters(r, &p);
        assert_int_equal(p.Parameters.Read.DeviceOffset, i);
        assert_ptr_equal(WdfRequestGetIoQueue(r), T.queue);
        if (i == 0) {
            /* Requeue puts it back at the head. */
            assert_int_equal(WdfRequestRequeue(r), STATUS_SUCCESS);
            assert_int_equal(WdfIoQueueRetrieveNextRequest(T.queue, &r), STATUS_SUCCESS);
            WdfRequestGetParameters(r, &p);
            assert_int_equal(p.Parameters.Read.DeviceOffset, 0);
        }
        WdfRequestCompleteWithInformation(r, STATUS_SUCCESS, 16);
        assert_int_equal(res[i].calls, 1);
        assert_int_equal(res[i].info, 16);
    }
    assert_int_equal(WdfIoQueueRetrieveNextRequest(T.queue, &r), STATUS_NO_MORE_ENTRIES);
    env_down(&e);
}

/* ---- power-managed queues -------------------------------------------------------------------- */

static void test_power_holds_requests(void **state)
{
    (void)state;
    reset_config();
    T.mode = MODE_HOLD;
    env e;
    env_up(&e, WDFDMA_ENGINE_SIM);
    result res[2] = {0};
    unsigned char bufs[2][16];
    read_async_n(&e, 1, bufs, res, NULL);
    assert_int_equal(T.nheld, 1);
    /* D3: EvtIoStop(Suspend) for the request the driver owns; it acknowledges (keeps it). */
    assert_int_equal(wdfdma_device_set_power(e.hw, WDFDMA_D3), 0);
    assert_int_equal(T.stops, 1);
    WDF_IO_QUEUE_STATE s = WdfIoQueueGetState(T.queue, NULL, NULL);
    assert_true(s & WdfIoQueuePnpHeld);
    /* A new request waits in the queue while the device is out of D0. */
    assert_int_equal(wdfdma_read_async(e.f, bufs[1], 16, 1, on_done, &res[1], NULL), 0);
    assert_int_equal(T.presented, 1);
    assert_int_equal(res[1].calls, 0);
    /* D0: EvtIoResume for the held request; the queued one follows its completion. */
    assert_int_equal(wdfdma_device_set_power(e.hw, WDFDMA_D0), 0);
    assert_int_equal(T.resumes, 1);
    assert_false(WdfIoQueueGetState(T.queue, NULL, NULL) & WdfIoQueuePnpHeld);
    complete_held(0, STATUS_SUCCESS);
    assert_int_equal(T.presented, 2);
    complete_held(0, STATUS_SUCCESS);
    assert_int_equal(res[0].calls, 1);
    assert_int_equal(res[1].calls, 1);
    env_down(&e);
}

static void test_power_stop_requeue(void **state)
{
    (void)state;
    reset_config();
    T.mode = MODE_HOLD;
    T.stop_requeue = true;
    env e;
    env_up(&e, WDFDMA_ENGINE_SIM);
    result res = {0};
    unsigned char buf[1][16];
    read_async_n(&e, 1, buf, &res, NULL);
    assert_int_equal(wdfdma_device_set_power(e.hw, WDFDMA_D3), 0);
    assert_int_equal(T.nheld, 0);                 /* acknowledged with requeue */
    ULONG queued;
    WdfIoQueueGetState(T.queue, &queued, NULL);
    assert_int_equal(queued, 1);
    assert_int_equal(wdfdma_device_set_power(e.hw, WDFDMA_D0), 0);
    assert_int_equal(T.presented, 2);             /* presented again */
    complete_held(0, STATUS_SUCCESS);
    assert_int_equal(res.calls, 1);
    env_down(&e);
}

/* A sequential queue whose request is completed inside EvtIoStop(Suspend), as a driver
 * whose transfer finishes during the stop does: the next request waits until the device
 * is back in D0. The sgdma sample relies on this (its channel forgets a completed request
 * only when the next one starts, and no request starts while the queue is stopping). */
static void test_power_stop_complete_holds_next(void **state)
{
    (void)state;
    reset_config();
    T.mode = MODE_HOLD;
    T.stop_complete = true;
    env e;
    env_up(&e, WDFDMA_ENGINE_SIM);
    result res[2] = {0};
    unsigned char bufs[2][16];
    read_async_n(&e, 2, bufs, res, NULL);
    assert_int_equal(T.presented, 1);
    assert_int_equal(wdfdma_device_set_power(e.hw, WDFDMA_D3), 0);
    assert_int_equal(T.stops, 1);
    assert_int_equal(res[0].calls, 1);
    assert_int_equal(res[0].status, STATUS_SUCCESS);
    assert_int_equal(res[0].info, 16);
    assert_int_equal(T.presented, 1);             /* not while the queue is stopped */
    ULONG queued;
    WdfIoQueueGetState(T.queue, &queued, NULL);
    assert_int_equal(queued, 1);
    assert_int_equal(wdfdma_device_set_power(e.hw, WDFDMA_D0), 0);
    assert_int_equal(T.resumes, 0);               /* nothing was held */
    assert_int_equal(T.presented, 2);
    complete_held(0, STATUS_SUCCESS);
    assert_int_equal(res[1].calls, 1);
    env_down(&e);
}


/* ---- cancellation ---------------------------------------------------------------------------- */

static void test_cancel_queued(void **state)
{
    (void)state;
    reset_config();
    T.mode = MODE_HOLD;
    env e;
    env_up(&e, WDFDMA_ENGINE_SIM);
    result res[3] = {0};
    unsigned char bufs[3][16];
    wdfdma_io *ops[3];
    read_async_n(&e, 3, bufs, res, ops);
    /* The second waits in the queue: cancelling it completes it with STATUS_CANCELLED. */
    assert_int_equal(wdfdma_cancel(ops[1]), 0);
    assert_int_equal(res[1].calls, 1);
    assert_int_equal(res[1].status, STATUS_CANCELLED);
    /* The first is driver-owned and not cancelable: cancelling changes nothing yet. */
    assert_int_equal(wdfdma_cancel(ops[0]), 0);
    assert_int_equal(res[0].calls, 0);
    assert_true(WdfRequestIsCanceled(T.held[0]));
    complete_held(0, STATUS_SUCCESS);
    assert_int_equal(res[0].calls, 1);
    assert_int_equal(res[0].status, STATUS_SUCCESS);
    complete_held(0, STATUS_SUCCESS);
    for (int i = 0; i < 3; i++)
        assert_int_equal(res[i].calls, 1);
    env_down(&e);
}

static void test_cancel_on_queue_callback(void **state)
{
    (void)state;
    reset_config();
    T.mode = MODE_HOLD;
    T.canceled_on_queue = true;
    env e;
    env_up(&e, WDFDMA_ENGINE_SIM);
    result res[2] = {0};
    unsigned char bufs[2][16];
    wdfdma_io *ops[2];
    read_async_n(&e, 2, bufs, res, ops);
    assert_int_equal(wdfdma_cancel(ops[1]), 0);
    assert_int_equal(T.canceled_on_queue_calls, 1);
    assert_int_equal(res[1].calls, 1);
    assert_int_equal(res[1].status, STATUS_CANCELLED);
    complete_held(0, STATUS_SUCCESS);
    assert_int_equal(res[0].calls, 1);
    env_down(&e);
}

static void test_cancel_driver_owned(void **state)
{
    (void)state;
    reset_config();
    T.mode = MODE_CANCELABLE;
    T.dispatch = WdfIoQueueDispatchParallel;
    T.parallel = (ULONG)-1;
    env e;
    env_up(&e, WDFDMA_ENGINE_SIM);
    result res[3] = {0};
    unsigned char bufs[3][16];
    wdfdma_io *ops[3];
    read_async_n(&e, 3, bufs, res, ops);
    assert_int_equal(T.nheld, 3);
    assert_int_equal(wdfdma_cancel(ops[2]), 0);   /* EvtRequestCancel completes it */
    assert_int_equal(T.cancels, 1);
    assert_int_equal(res[2].calls, 1);
    assert_int_equal(res[2].status, STATUS_CANCELLED);
    /* Unmark, then a late cancel: the driver completes normally. */
    WDFREQUEST r = T.held[0];
    assert_int_equal(WdfRequestUnmarkCancelable(r), STATUS_SUCCESS);
    assert_int_equal(WdfRequestUnmarkCancelable(r), STATUS_INVALID_DEVICE_REQUEST);
    T.held[0] = T.held[--T.nheld];
    assert_int_equal(wdfdma_cancel(ops[0]), 0);
    assert_int_equal(res[0].calls, 0);
    /* Already cancelled: MarkCancelableEx says so and leaves completion to the caller. */
    assert_int_equal(WdfRequestMarkCancelableEx(r, t_cancel), STATUS_CANCELLED);
    WdfRequestComplete(r, STATUS_CANCELLED);
    assert_int_equal(res[0].calls, 1);
    /* WdfIoQueuePurgeSynchronously cancels the remaining cancelable request. */
    WdfIoQueuePurgeSynchronously(T.queue);
    assert_int_equal(T.cancels, 2);
    assert_int_equal(res[1].calls, 1);
    assert_int_equal(res[1].status, STATUS_CANCELLED);
    /* A purged queue accepts nothing. */
    int32_t st;
    assert_int_equal(wdfdma_read(e.f, bufs[0], 16, 0, &st, NULL), 0);
    assert_int_equal(st, STATUS_INVALID_DEVICE_STATE);
    WdfIoQueueStart(T.queue);
    env_down(&e);
}

/* Once the framework has taken a request off its cancelable list to call EvtRequestCancel,
 * WdfRequestUnmarkCancelable returns STATUS_CANCELLED, with no verifier finding: from
 * inside the routine, and from another path after it (a DPC that holds the lock the
 * routine waits for; found on the threads engine by test_faults_guarantees'
 * test_uart_threads_mix, where Unmark in that window was a verifier break). KMDF keeps the
 * request flagged cancelable until an Unmark succeeds (fxioqueue.cpp RequestCancelable). */
static void test_unmark_after_cancel_dispatched(void **state)
{
    (void)state;
    reset_config();
    T.mode = MODE_CANCELABLE;
    T.dispatch = WdfIoQueueDispatchParallel;
    T.parallel = (ULONG)-1;
    T.cancel_defers = true;
    T.unmark_in_cancel = STATUS_PENDING;
    env e;
    env_up(&e, WDFDMA_ENGINE_SIM);
    result res[2] = {0};
    unsigned char bufs[2][16];
    wdfdma_io *ops[2];
    read_async_n(&e, 2, bufs, res, ops);
    assert_int_equal(T.nheld, 2);
    WDFREQUEST r = T.held[0];
    assert_int_equal(wdfdma_cancel(ops[0]), 0);
    assert_int_equal(T.cancels, 1);
    assert_int_equal(T.unmark_in_cancel, STATUS_CANCELLED);
    assert_int_equal(res[0].calls, 0);                  /* the routine left it to us */
    assert_int_equal(WdfRequestUnmarkCancelable(r), STATUS_CANCELLED);
    assert_int_equal(wdfdma_verifier_finding_count(e.m), 0);
    T.held[0] = T.held[--T.nheld];
    WdfRequestComplete(r, STATUS_CANCELLED);
    assert_int_equal(res[0].calls, 1);
    assert_int_equal(res[0].status, STATUS_CANCELLED);
    /* The other request was never cancelled: Unmark takes it back as usual. */
    r = T.held[0];
    assert_int_equal(WdfRequestUnmarkCancelable(r), STATUS_SUCCESS);
    assert_int_equal(WdfRequestUnmarkCancelable(r), STATUS_INVALID_DEVICE_REQUEST);
    assert_int_equal(wdfdma_verifier_finding_count(e.m), 1);   /* that second Unmark */
    T.nheld = 0;
    WdfRequestComplete(r, STATUS_SUCCESS);
    assert_int_equal(res[1].calls, 1);
    env_down(&e);
}

/* ---- misuse --------------------------------------------------------------------------------- */

typedef struct trap {
    jmp_buf jb;
    wdfdma_bugcheck bc;
    int hits;
} trap;

static void trap_handler(void *ctx, const wdfdma_bugcheck *bc)
{
    trap *t = ctx;
    t->bc = *bc;
    t->hits++;
    longjmp(t->jb, 1);
}

static void test_complete_twice_bugchecks(void **state)
{
    (void)state;
    reset_config();
    T.mode = MODE_HOLD;
    env e;
    env_up(&e, WDFDMA_ENGINE_SIM);
    result res = {0};
    unsigned char buf[1][16];
    read_async_n(&e, 1, buf, &res, NULL);
    WDFREQUEST r = T.held[0];
    T.nheld = 0;
    WdfRequestComplete(r, STATUS_SUCCESS);
    assert_int_equal(res.calls, 1);
    static trap t;
    memset(&t, 0, sizeof(t));
    wdfdma_machine_set_bugcheck_handler(e.m, trap_handler, &t);
    wdfdma_machine_set_bugcheck_quiet(e.m, true);
    if (setjmp(t.jb) == 0) {
        WdfRequestComplete(r, STATUS_SUCCESS);
        fail_msg("completing twice must bug check");
    }
    assert_int_equal(t.hits, 1);
    assert_int_equal(t.bc.code, 0x10D);
    assert_int_equal(t.bc.p[0], WDF_INVALID_HANDLE);
    assert_int_equal(t.bc.p[1], (uint64_t)(uintptr_t)r);
    assert_int_equal(res.calls, 1);               /* still exactly once */
    if (KeGetCurrentIrql() != PASSIVE_LEVEL)
        KeLowerIrql(PASSIVE_LEVEL);
    wdfdma_machine_set_bugcheck_handler(e.m, NULL, NULL);
    env_down(&e);
}

static VOID t_noop_read(WDFQUEUE q, WDFREQUEST r, size_t l)
{
    (void)q;
    (void)l;
    WdfRequestComplete(r, STATUS_SUCCESS);
}

static void test_queue_misuse(void **state)
{
    (void)state;
    reset_config();
    T.mode = MODE_HOLD;
    env e;
    env_up(&e, WDFDMA_ENGINE_SIM);
    WDF_IO_QUEUE_CONFIG qc;
    WDFQUEUE q = NULL;
    /* bad arguments */
    WDF_IO_QUEUE_CONFIG_INIT(&qc, WdfIoQueueDispatchSequential);
    qc.EvtIoRead = t_noop_read;
    qc.Size = 4;
    assert_int_equal(WdfIoQueueCreate(T.device, &qc, NULL, &q), STATUS_INFO_LENGTH_MISMATCH);
    WDF_IO_QUEUE_CONFIG_INIT(&qc, WdfIoQueueDispatchSequential);
    assert_int_equal(WdfIoQueueCreate(T.device, &qc, NULL, &q), STATUS_WDF_NO_CALLBACK);
    WDF_IO_QUEUE_CONFIG_INIT(&qc, WdfIoQueueDispatchManual);
    qc.EvtIoRead = t_noop_read;
    assert_int_equal(WdfIoQueueCreate(T.device, &qc, NULL, &q), STATUS_INVALID_PARAMETER);
    WDF_IO_QUEUE_CONFIG_INIT(&qc, WdfIoQueueDispatchParallel);
    qc.EvtIoRead = t_noop_read;
    qc.Settings.Parallel.NumberOfPresentedRequests = 0;
    assert_int_equal(WdfIoQueueCreate(T.device, &qc, NULL, &q), STATUS_INVALID_PARAMETER);
    WDF_IO_QUEUE_CONFIG_INIT_DEFAULT_QUEUE(&qc, WdfIoQueueDispatchSequential);
    qc.EvtIoRead = t_noop_read;
    assert_int_equal(WdfIoQueueCreate(T.device, &qc, NULL, &q), STATUS_INVALID_DEVICE_REQUEST);
    /* success: a second queue for writes */
    WDF_IO_QUEUE_CONFIG_INIT(&qc, WdfIoQueueDispatchParallel);
    qc.EvtIoRead = t_noop_read;
    assert_int_equal(WdfIoQueueCreate(T.device, &qc, NULL, &q), STATUS_SUCCESS);
    assert_ptr_equal(WdfIoQueueGetDevice(q), T.device);
    assert_ptr_equal(WdfDeviceGetDefaultQueue(T.device), T.queue);
    /* dispatching rules */
    assert_int_equal(WdfDeviceConfigureRequestDispatching(T.device, q, WdfRequestTypeWrite),
                     STATUS_INVALID_DEVICE_REQUEST);      /* no write handler */
    assert_int_equal(WdfDeviceConfigureRequestDispatching(T.device, T.queue, WdfRequestTypeRead),
                     STATUS_INVALID_DEVICE_REQUEST);      /* the default queue */
    assert_int_equal(WdfDeviceConfigureRequestDispatching(T.device, q, WdfRequestTypeRead),
                     STATUS_SUCCESS);
    int32_t st;
    size_t info;
    unsigned char buf[16];
    int held = T.nheld;
    assert_int_equal(wdfdma_read(e.f, buf, 16, 0, &st, &info), 0);
    assert_int_equal(st, STATUS_SUCCESS);                 /* t_noop_read, not held */
    assert_int_equal(T.nheld, held);
    /* wrong-state misuse on a driver-owned request */
    result res = {0};
    assert_int_equal(wdfdma_write_async(e.f, buf, 16, 0, on_done, &res, NULL), 0);
    assert_int_equal(T.nheld, 1);
    WDFREQUEST r = T.held[0];
    WDFREQUEST out;
    assert_int_equal(WdfIoQueueRetrieveNextRequest(q, &out), STATUS_INVALID_DEVICE_REQUEST);
    assert_int_equal(WdfRequestRequeue(r), STATUS_INVALID_DEVICE_REQUEST);  /* not manual */
    assert_int_equal(WdfRequestForwardToIoQueue(r, T.queue), STATUS_INVALID_DEVICE_REQUEST);
    assert_int_equal(WdfRequestUnmarkCancelable(r), STATUS_INVALID_DEVICE_REQUEST);
    WdfRequestStopAcknowledge(r, FALSE);                  /* not in EvtIoStop: ignored */
    assert_int_equal(WdfRequestGetStatus(r), STATUS_PENDING);
    assert_int_equal(WdfRequestGetRequestorMode(r), UserMode);
    assert_non_null(WdfRequestWdmGetIrp(r));
    WdfRequestSetInformation(r, 5);
    assert_int_equal(WdfRequestGetInformation(r), 5);
    /* forward to the other queue: it has no write handler, so it fails the request */
    assert_int_equal(WdfRequestForwardToIoQueue(r, q), STATUS_SUCCESS);
    T.nheld = 0;
    assert_int_equal(res.calls, 1);
    assert_int_equal(res.status, STATUS_INVALID_DEVICE_REQUEST);
    /* stop / start */
    WdfIoQueueStopSynchronously(q);
    WDF_IO_QUEUE_STATE s = WdfIoQueueGetState(q, NULL, NULL);
    assert_true(WDF_IO_QUEUE_STOPPED(s));
    result res2 = {0};
    assert_int_equal(wdfdma_read_async(e.f, buf, 16, 0, on_done, &res2, NULL), 0);
    assert_int_equal(res2.calls, 0);
    WdfIoQueueStart(q);
    assert_int_equal(res2.calls, 1);
    assert_true(WDF_IO_QUEUE_READY(WdfIoQueueGetState(q, NULL, NULL)));
    env_down(&e);
}

static void test_threads_engine_io(void **state)
{
    (void)state;
    reset_config();
    T.io = WdfDeviceIoDirect;
    T.dispatch = WdfIoQueueDispatchParallel;
    T.parallel = 1;
    env e;
    env_up(&e, WDFDMA_ENGINE_THREADS);
    enum { N = 3000 };
    static unsigned char wbuf[N], rbuf[N];
    for (unsigned round = 0; round < 20; round++) {
        fill(wbuf, N, round);
        int32_t st;
        size_t info;
        assert_int_equal(wdfdma_write(e.f, wbuf, N, 0, &st, &info), 0);
        assert_int_equal(st, STATUS_SUCCESS);
        memset(rbuf, 0, N);
        assert_int_equal(wdfdma_read(e.f, rbuf, N, 0, &st, &info), 0);
        assert_int_equal(info, N);
        assert_memory_equal(rbuf, wbuf, N);
    }
    env_down(&e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_host_bad_arguments),
        cmocka_unit_test(test_buffered_rw),
        cmocka_unit_test(test_direct_rw),
        cmocka_unit_test(test_ioctl_methods),
        cmocka_unit_test(test_sequential_order),
        cmocka_unit_test(test_parallel_limit),
        cmocka_unit_test(test_manual_retrieve),
        cmocka_unit_test(test_power_holds_requests),
        cmocka_unit_test(test_power_stop_requeue),
        cmocka_unit_test(test_power_stop_complete_holds_next),
        cmocka_unit_test(test_cancel_queued),
        cmocka_unit_test(test_cancel_on_queue_callback),
        cmocka_unit_test(test_cancel_driver_owned),
        cmocka_unit_test(test_unmark_after_cancel_dispatched),
        cmocka_unit_test(test_complete_twice_bugchecks),
        cmocka_unit_test(test_queue_misuse),
        cmocka_unit_test(test_threads_engine_io),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
