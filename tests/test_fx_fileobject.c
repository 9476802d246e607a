/*
 * Framework file objects: WdfDeviceInitSetFileObjectConfig, EvtDeviceFileCreate /
 * EvtFileCleanup / EvtFileClose, WdfRequestGetFileObject and the WdfFileObject* DDIs.
 * A test driver (registered statically, WDK names only) on the echo device model; reads
 * go to a sequential queue (or a manual one) and return the file's context serial, so
 * the host sees which WDFFILEOBJECT a request carried. Bad arguments, success, misuse.
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

#include "fx/internal.h"
#include "wdm/wdm_internal.h"
#include "wdfdma/host.h"
#include "wdfdma/io.h"
#include "wdfdma/verifier.h"

typedef enum mode {
    MODE_FULL = 0,       /* every callback, a context, object cleanup/destroy callbacks */
    MODE_MANUAL,         /* MODE_FULL with reads parked in a manual queue */
    MODE_NO_CALLBACKS,   /* a configuration without callbacks: file objects, defaults */
    MODE_NO_CONFIG,      /* no WdfDeviceInitSetFileObjectConfig: no file objects */
    MODE_BAD_CONFIG,     /* only invalid configurations: all ignored */
    MODE_SCOPE_QUEUE,    /* file objects inheriting the device's Queue scope */
    MODE_CREATE_QUEUE,   /* MODE_FULL with creates routed to a queue of the driver's */
} mode;

typedef struct FILE_CONTEXT {
    ULONG Serial;
    ULONG Reads;
} FILE_CONTEXT, *PFILE_CONTEXT;
WDF_DECLARE_CONTEXT_TYPE_WITH_NAME(FILE_CONTEXT, GetFileContext)

static struct {
    mode mode;
    WDF_FILEOBJECT_CLASS file_class;   /* 0: WDF_FILEOBJECT_CONFIG_INIT's */
    NTSTATUS create_status;            /* what EvtDeviceFileCreate completes with */
    NTSTATUS device_create_status;
    WDFDEVICE device;
    WDFQUEUE manual;
    const char *events[64];
    ULONG serials[64];                 /* the file's serial at each event (0: none) */
    unsigned nevents;
    WDFFILEOBJECT created[8];
    unsigned ncreated;
    WDFFILEOBJECT read_file;
    ULONG serial;
    int errors;
} T;

static void event(const char *what, ULONG serial)
{
    if (T.nevents < 64) {
        T.serials[T.nevents] = serial;
        T.events[T.nevents++] = what;
    }
}

/* ---- the test driver ------------------------------------------------------------------ */

static ULONG serial_of(WDFFILEOBJECT FileObject)
{
    return FileObject != NULL ? GetFileContext(FileObject)->Serial : 0;
}

static VOID t_file_create(WDFDEVICE Device, WDFREQUEST Request, WDFFILEOBJECT FileObject)
{
    if (KeGetCurrentIrql() != PASSIVE_LEVEL || FileObject == NULL ||
        WdfRequestGetFileObject(Request) != FileObject ||
        WdfFileObjectGetDevice(FileObject) != Device)
        T.errors++;
    PFILE_OBJECT wdm = WdfFileObjectWdmGetFileObject(FileObject);
    PUNICODE_STRING name = WdfFileObjectGetFileName(FileObject);
    if (wdm == NULL || name == NULL || name->Length != 0 ||
        WdfFileObjectGetInitiatorProcessId(FileObject) == 0 ||
        WdfFileObjectGetFlags(FileObject) != wdm->Flags)
        T.errors++;
    /* The class (without the CanBeOptional flag) says where the framework keeps it. */
    ULONG cls = (ULONG)T.file_class & ~(ULONG)WdfFileObjectCanBeOptional;
    if ((cls == WdfFileObjectWdfCanUseFsContext) != (wdm->FsContext != NULL) ||
        (cls == WdfFileObjectWdfCanUseFsContext2) != (wdm->FsContext2 != NULL))
        T.errors++;
    WDF_REQUEST_PARAMETERS p;
    WDF_REQUEST_PARAMETERS_INIT(&p);
    WdfRequestGetParameters(Request, &p);
    if (p.Type != WdfRequestTypeCreate)
        T.errors++;
    PFILE_CONTEXT ctx = GetFileContext(FileObject);
    if (ctx->Serial != 0)            /* a fresh, zeroed context per file */
        T.errors++;
    ctx->Serial = ++T.serial;
    if (T.ncreated < 8)
        T.created[T.ncreated++] = FileObject;
    event("create", ctx->Serial);
    WdfRequestComplete(Request, T.create_status);
}

/* Creates routed to a queue: the file object already exists; EvtDeviceFileCreate is not
 * called (the queue wins, as in KMDF). */
static VOID t_create_default(WDFQUEUE Queue, WDFREQUEST Request)
{
    UNREFERENCED_PARAMETER(Queue);
    WDFFILEOBJECT fo = WdfRequestGetFileObject(Request);
    if (fo == NULL) {
        T.errors++;
        WdfRequestComplete(Request, STATUS_UNSUCCESSFUL);
        return;
    }
    PFILE_CONTEXT ctx = GetFileContext(fo);
    ctx->Serial = ++T.serial;
    if (T.ncreated < 8)
        T.created[T.ncreated++] = fo;
    event("queue-create", ctx->Serial);
    WdfRequestComplete(Request, T.create_status);
}

static VOID t_file_cleanup(WDFFILEOBJECT FileObject)
{
    if (KeGetCurrentIrql() != PASSIVE_LEVEL)
        T.errors++;
    event("cleanup", serial_of(FileObject));
}

static VOID t_file_close(WDFFILEOBJECT FileObject)
{
    if (KeGetCurrentIrql() != PASSIVE_LEVEL)
        T.errors++;
    event("close", serial_of(FileObject));
}

static VOID t_obj_cleanup(WDFOBJECT Object)
{
    event("obj-cleanup", GetFileContext(Object)->Serial);
}

static VOID t_obj_destroy(WDFOBJECT Object)
{
    event("obj-destroy", GetFileContext(Object)->Serial);
}

/* Reads return the serial of the request's file (0: no file object). */
static void complete_read(WDFREQUEST Request)
{
    WDFFILEOBJECT fo = WdfRequestGetFileObject(Request);
    T.read_file = fo;
    ULONG serial = 0;
    if (fo != NULL) {
        PFILE_CONTEXT ctx = GetFileContext(fo);
        ctx->Reads++;
        serial = ctx->Serial;
    }
    PVOID buf;
    NTSTATUS st = WdfRequestRetrieveOutputBuffer(Request, sizeof(ULONG), &buf, NULL);
    if (NT_SUCCESS(st))
        memcpy(buf, &serial, sizeof serial);
    WdfRequestCompleteWithInformation(Request, st, NT_SUCCESS(st) ? sizeof serial : 0);
}

static VOID t_read(WDFQUEUE Queue, WDFREQUEST Request, size_t Length)
{
    UNREFERENCED_PARAMETER(Queue);
    UNREFERENCED_PARAMETER(Length);
    complete_read(Request);
}

static void file_attributes(PWDF_OBJECT_ATTRIBUTES fa)
{
    WDF_OBJECT_ATTRIBUTES_INIT_CONTEXT_TYPE(fa, FILE_CONTEXT);
    fa->EvtCleanupCallback = t_obj_cleanup;
    fa->EvtDestroyCallback = t_obj_destroy;
}

/* Every one of these is invalid: a verifier break each, and none takes effect. */
static void bad_configs(PWDFDEVICE_INIT Init)
{
    WDF_FILEOBJECT_CONFIG fc;
    WDF_OBJECT_ATTRIBUTES fa;
    file_attributes(&fa);
    WDF_FILEOBJECT_CONFIG_INIT(&fc, t_file_create, t_file_close, t_file_cleanup);
    fc.Size -= 1;
    WdfDeviceInitSetFileObjectConfig(Init, &fc, &fa);
    WDF_FILEOBJECT_CONFIG_INIT(&fc, t_file_create, t_file_close, t_file_cleanup);
    fc.FileObjectClass = (WDF_FILEOBJECT_CLASS)7;
    WdfDeviceInitSetFileObjectConfig(Init, &fc, &fa);
    fc.FileObjectClass = (WDF_FILEOBJECT_CLASS)((ULONG)WdfFileObjectNotRequired |
                                                (ULONG)WdfFileObjectCanBeOptional);
    WdfDeviceInitSetFileObjectConfig(Init, &fc, &fa);
    WDF_FILEOBJECT_CONFIG_INIT(&fc, t_file_create, t_file_close, t_file_cleanup);
    fc.AutoForwardCleanupClose = (WDF_TRI_STATE)5;
    WdfDeviceInitSetFileObjectConfig(Init, &fc, &fa);
    WDF_FILEOBJECT_CONFIG_INIT(&fc, t_file_create, t_file_close, t_file_cleanup);
    fa.ParentObject = (WDFOBJECT)WdfGetDriver();
    WdfDeviceInitSetFileObjectConfig(Init, &fc, &fa);
    file_attributes(&fa);
    fa.Size -= 1;
    WdfDeviceInitSetFileObjectConfig(Init, &fc, &fa);
}

static NTSTATUS t_device_add(WDFDRIVER Driver, PWDFDEVICE_INIT Init)
{
    UNREFERENCED_PARAMETER(Driver);
    WDF_FILEOBJECT_CONFIG fc;
    WDF_OBJECT_ATTRIBUTES fa;
    file_attributes(&fa);
    WDF_OBJECT_ATTRIBUTES da;
    WDF_OBJECT_ATTRIBUTES_INIT(&da);
    switch (T.mode) {
    case MODE_FULL:
    case MODE_MANUAL:
    case MODE_CREATE_QUEUE:
        WDF_FILEOBJECT_CONFIG_INIT(&fc, t_file_create, t_file_close, t_file_cleanup);
        if (T.file_class != 0)
            fc.FileObjectClass = T.file_class;
        WdfDeviceInitSetFileObjectConfig(Init, &fc, &fa);
        break;
    case MODE_NO_CALLBACKS:
        WDF_FILEOBJECT_CONFIG_INIT(&fc, WDF_NO_EVENT_CALLBACK, WDF_NO_EVENT_CALLBACK,
                                   WDF_NO_EVENT_CALLBACK);
        WdfDeviceInitSetFileObjectConfig(Init, &fc, &fa);
        break;
    case MODE_NO_CONFIG:
        break;
    case MODE_BAD_CONFIG:
        bad_configs(Init);
        break;
    case MODE_SCOPE_QUEUE:
        da.SynchronizationScope = WdfSynchronizationScopeQueue;
        WDF_FILEOBJECT_CONFIG_INIT(&fc, t_file_create, t_file_close, t_file_cleanup);
        WdfDeviceInitSetFileObjectConfig(Init, &fc, &fa);
        break;
    }
    WDFDEVICE device;
    NTSTATUS st = WdfDeviceCreate(&Init, &da, &device);
    T.device_create_status = st;
    if (!NT_SUCCESS(st))
        return st;
    T.device = device;
    WDF_IO_QUEUE_CONFIG qc;
    WDF_IO_QUEUE_CONFIG_INIT(&qc, T.mode == MODE_MANUAL ? WdfIoQueueDispatchManual
                                                        : WdfIoQueueDispatchSequential);
    if (T.mode != MODE_MANUAL)
        qc.EvtIoRead = t_read;
    WDFQUEUE queue;
    st = WdfIoQueueCreate(device, &qc, WDF_NO_OBJECT_ATTRIBUTES, &queue);
    if (NT_SUCCESS(st))
        st = WdfDeviceConfigureRequestDispatching(device, queue, WdfRequestTypeRead);
    T.manual = queue;
    if (NT_SUCCESS(st) && T.mode == MODE_CREATE_QUEUE) {
        WDF_IO_QUEUE_CONFIG_INIT(&qc, WdfIoQueueDispatchSequential);
        qc.EvtIoDefault = t_create_default;
        st = WdfIoQueueCreate(device, &qc, WDF_NO_OBJECT_ATTRIBUTES, &queue);
        if (NT_SUCCESS(st))
            st = WdfDeviceConfigureRequestDispatching(device, queue, WdfRequestTypeCreate);
    }
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
    jmp_buf trap;
    wdfdma_bugcheck bc;
    wdm_pool_stats pool_before;
} env;

static void on_bugcheck(void *ctx, const wdfdma_bugcheck *bc)
{
    env *e = ctx;
    e->bc = *bc;
    longjmp(e->trap, 1);
}

/* A machine with the echo device and the test driver; returns wdfdma_device_bind's result. */
static int env_up(env *e, wdfdma_engine engine, mode m, bool verifier)
{
    WDF_FILEOBJECT_CLASS cls = T.file_class;
    memset(&T, 0, sizeof(T));
    T.mode = m;
    T.file_class = cls;
    T.create_status = STATUS_SUCCESS;
    wdm_pool_get_stats(&e->pool_before);
    wdfdma_machine_config c;
    wdfdma_machine_config_init(&c);
    c.engine = engine;
    c.verifier = verifier;
    assert_int_equal(wdfdma_machine_create(&c, &e->m), 0);
    assert_int_equal(wdfdma_machine_add_device(e->m, "echo", "echo0", NULL, &e->hw), 0);
    wdfdma_driver *drv;
    assert_int_equal(wdfdma_driver_register(e->m, "fileobj", t_driver_entry, &drv), 0);
    return wdfdma_device_bind(e->hw, drv);
}

/* Nothing leaked: no WDFFILEOBJECT left, every pool allocation returned. */
static void env_down(env *e, bool remove)
{
    if (remove)
        assert_int_equal(wdfdma_device_remove(e->hw), 0);
    assert_int_equal(fx_object_live_count_on(e->m, FX_TYPE_FILEOBJECT), 0);
    assert_int_equal(T.errors, 0);
    wdfdma_machine_destroy(e->m);
    wdm_pool_stats after;
    wdm_pool_get_stats(&after);
    assert_int_equal(after.outstanding, e->pool_before.outstanding);
    T.file_class = 0;
}

static ULONG read_serial(wdfdma_file *f)
{
    ULONG serial = 0xFFFFFFFFu;
    int32_t status;
    size_t info;
    assert_int_equal(wdfdma_read(f, &serial, sizeof serial, 0, &status, &info), 0);
    assert_int_equal(status, STATUS_SUCCESS);
    assert_int_equal(info, sizeof serial);
    return serial;
}

/* The events since `from` are exactly the list ("name", serial, ..., NULL). */
static void events_are(unsigned from, ...)
{
    va_list ap;
    va_start(ap, from);
    unsigned i = from;
    for (const char *want = va_arg(ap, const char *); want; want = va_arg(ap, const char *)) {
        ULONG serial = va_arg(ap, ULONG);
        if (i >= T.nevents)
            fail_msg("event %u: wanted %s(%u), only %u events", i, want, serial, T.nevents);
        if (strcmp(T.events[i], want) != 0 || T.serials[i] != serial)
            fail_msg("event %u: wanted %s(%u), got %s(%u)", i, want, serial, T.events[i],
                     T.serials[i]);
        i++;
    }
    va_end(ap);
    if (i != T.nevents)
        fail_msg("%u events, expected %u (next: %s)", T.nevents, i, T.events[i]);
}

#define EXPECT_BUGCHECK(e, p1, stmt)                                   \
    do {                                                               \
        if (setjmp((e)->trap) == 0) {                                  \
            stmt;                                                      \
            fail_msg("no bug check: %s", #stmt);                       \
        }                                                              \
        assert_int_equal((e)->bc.code, 0x10D);                         \
        assert_int_equal((e)->bc.p[0], (p1));                          \
    } while (0)

/* ---- bad arguments ------------------------------------------------------------------------ */

/* NULL, forged and wrong-type handles: bug check 0x10D, WDF_INVALID_HANDLE. */
static void test_bad_arguments(void **state)
{
    (void)state;
    env e;
    assert_int_equal(env_up(&e, WDFDMA_ENGINE_SIM, MODE_FULL, false), 0);
    wdfdma_machine_set_bugcheck_quiet(e.m, true);
    wdfdma_machine_set_bugcheck_handler(e.m, on_bugcheck, &e);
    WDFFILEOBJECT forged = (WDFFILEOBJECT)(uintptr_t)0x1234;
    WDFFILEOBJECT device_as_file = (WDFFILEOBJECT)T.device;
    EXPECT_BUGCHECK(&e, WDF_INVALID_HANDLE, (void)WdfFileObjectGetDevice(NULL));
    EXPECT_BUGCHECK(&e, WDF_INVALID_HANDLE, (void)WdfFileObjectGetDevice(forged));
    EXPECT_BUGCHECK(&e, WDF_INVALID_HANDLE, (void)WdfFileObjectGetDevice(device_as_file));
    assert_int_equal(e.bc.p[1], (uintptr_t)T.device);
    EXPECT_BUGCHECK(&e, WDF_INVALID_HANDLE, (void)WdfFileObjectGetFlags(forged));
    EXPECT_BUGCHECK(&e, WDF_INVALID_HANDLE, (void)WdfFileObjectGetFileName(forged));
    EXPECT_BUGCHECK(&e, WDF_INVALID_HANDLE, (void)WdfFileObjectWdmGetFileObject(forged));
    EXPECT_BUGCHECK(&e, WDF_INVALID_HANDLE, (void)WdfFileObjectGetInitiatorProcessId(forged));
    EXPECT_BUGCHECK(&e, WDF_INVALID_HANDLE,
                    (void)WdfRequestGetFileObject((WDFREQUEST)(uintptr_t)0x1234));
    wdfdma_machine_set_bugcheck_handler(e.m, NULL, NULL);
    env_down(&e, true);
}

/* Invalid configurations are verifier breaks and are ignored whole: no file objects, no
 * callbacks, WdfRequestGetFileObject NULL. */
static void test_bad_config(void **state)
{
    (void)state;
    env e;
    assert_int_equal(env_up(&e, WDFDMA_ENGINE_SIM, MODE_BAD_CONFIG, true), 0);
    assert_int_equal(wdfdma_verifier_findings_of(e.m, "WDF-VERIFIER-BREAK"), 6);
    wdfdma_file *f;
    assert_int_equal(wdfdma_open(e.m, "echo0", &f), 0);
    assert_int_equal(read_serial(f), 0);
    assert_null(T.read_file);
    assert_int_equal(wdfdma_close(f), 0);
    events_are(0, NULL);
    env_down(&e, true);
}

/* ---- success ------------------------------------------------------------------------------ */

/* create → I/O (the same WDFFILEOBJECT, its context) → cleanup → close → the object's
 * cleanup and destroy callbacks, in KMDF's order. */
static void run_lifecycle(wdfdma_engine engine, WDF_FILEOBJECT_CLASS cls)
{
    env e;
    T.file_class = cls;
    assert_int_equal(env_up(&e, engine, MODE_FULL, true), 0);
    wdfdma_file *f;
    assert_int_equal(wdfdma_open(e.m, "echo0", &f), 0);
    events_are(0, "create", 1, NULL);
    assert_int_equal(read_serial(f), 1);
    assert_ptr_equal(T.read_file, T.created[0]);
    assert_int_equal(read_serial(f), 1);
    assert_int_equal(GetFileContext(T.created[0])->Reads, 2);
    assert_int_equal(fx_object_live_count_on(e.m, FX_TYPE_FILEOBJECT), 1);
    assert_int_equal(wdfdma_close(f), 0);
    events_are(0, "create", 1, "cleanup", 1, "close", 1, "obj-cleanup", 1, "obj-destroy", 1,
               NULL);
    assert_int_equal(wdfdma_verifier_finding_count(e.m), 0);
    env_down(&e, true);
}

static void test_lifecycle_sim(void **state)
{
    (void)state;
    run_lifecycle(WDFDMA_ENGINE_SIM, 0);
}

static void test_lifecycle_threads(void **state)
{
    (void)state;
    run_lifecycle(WDFDMA_ENGINE_THREADS, 0);
}

/* Where the framework finds its object again: FsContext, FsContext2 or its own list. */
static void test_lifecycle_classes(void **state)
{
    (void)state;
    run_lifecycle(WDFDMA_ENGINE_SIM, WdfFileObjectWdfCanUseFsContext);
    run_lifecycle(WDFDMA_ENGINE_SIM, WdfFileObjectWdfCanUseFsContext2);
    run_lifecycle(WDFDMA_ENGINE_SIM, WdfFileObjectWdfCannotUseFsContexts);
    run_lifecycle(WDFDMA_ENGINE_SIM, (WDF_FILEOBJECT_CLASS)(
        (ULONG)WdfFileObjectWdfCanUseFsContext | (ULONG)WdfFileObjectCanBeOptional));
}

/* The driver fails the create: wdfdma_open fails with the status in its message, the
 * WDFFILEOBJECT is deleted, and no cleanup or close follows. The next open works. */
static void test_create_fails(void **state)
{
    (void)state;
    env e;
    assert_int_equal(env_up(&e, WDFDMA_ENGINE_SIM, MODE_FULL, false), 0);
    T.create_status = STATUS_ACCESS_DENIED;
    wdfdma_file *f = (wdfdma_file *)&e;
    assert_true(wdfdma_open(e.m, "echo0", &f) < 0);
    assert_null(f);
    assert_non_null(strstr(wdfdma_last_error(), "0xc0000022"));
    events_are(0, "create", 1, "obj-cleanup", 1, "obj-destroy", 1, NULL);
    assert_int_equal(fx_object_live_count_on(e.m, FX_TYPE_FILEOBJECT), 0);
    T.create_status = STATUS_SUCCESS;
    assert_int_equal(wdfdma_open(e.m, "echo0", &f), 0);
    assert_int_equal(read_serial(f), 2);
    assert_int_equal(wdfdma_close(f), 0);
    events_are(3, "create", 2, "cleanup", 2, "close", 2, "obj-cleanup", 2, "obj-destroy", 2,
               NULL);
    env_down(&e, true);
}

/* Creates routed to the driver's queue: the request carries its new file object there; a
 * failure there deletes it as a failed EvtDeviceFileCreate does. */
static void test_create_queue(void **state)
{
    (void)state;
    env e;
    assert_int_equal(env_up(&e, WDFDMA_ENGINE_SIM, MODE_CREATE_QUEUE, false), 0);
    wdfdma_file *f;
    assert_int_equal(wdfdma_open(e.m, "echo0", &f), 0);
    assert_int_equal(read_serial(f), 1);
    assert_ptr_equal(T.read_file, T.created[0]);
    assert_int_equal(wdfdma_close(f), 0);
    T.create_status = STATUS_INVALID_PARAMETER;
    assert_true(wdfdma_open(e.m, "echo0", &f) < 0);
    events_are(0, "queue-create", 1, "cleanup", 1, "close", 1, "obj-cleanup", 1,
               "obj-destroy", 1, "queue-create", 2, "obj-cleanup", 2, "obj-destroy", 2, NULL);
    env_down(&e, true);
}

/* A configuration without callbacks: the framework succeeds create, cleanup and close,
 * and still gives every request its file object with a zeroed context. Without a
 * configuration there are no file objects at all (KMDF's WdfFileObjectNotRequired). */
static void test_defaults(void **state)
{
    (void)state;
    env e;
    assert_int_equal(env_up(&e, WDFDMA_ENGINE_SIM, MODE_NO_CALLBACKS, false), 0);
    wdfdma_file *f;
    assert_int_equal(wdfdma_open(e.m, "echo0", &f), 0);
    events_are(0, NULL);
    assert_int_equal(read_serial(f), 0);
    assert_non_null(T.read_file);
    assert_int_equal(GetFileContext(T.read_file)->Reads, 1);
    assert_int_equal(wdfdma_close(f), 0);
    events_are(0, "obj-cleanup", 0, "obj-destroy", 0, NULL);
    env_down(&e, true);

    assert_int_equal(env_up(&e, WDFDMA_ENGINE_SIM, MODE_NO_CONFIG, false), 0);
    assert_int_equal(wdfdma_open(e.m, "echo0", &f), 0);
    assert_int_equal(read_serial(f), 0);
    assert_null(T.read_file);
    assert_int_equal(wdfdma_close(f), 0);
    events_are(0, NULL);
    env_down(&e, true);
}

/* Two files open at once: distinct WDFFILEOBJECTs and contexts; each close reaches the
 * right one. */
static void run_two_files(wdfdma_engine engine)
{
    env e;
    assert_int_equal(env_up(&e, engine, MODE_FULL, false), 0);
    wdfdma_file *a, *b;
    assert_int_equal(wdfdma_open(e.m, "echo0", &a), 0);
    assert_int_equal(wdfdma_open(e.m, "echo0", &b), 0);
    assert_ptr_not_equal(T.created[0], T.created[1]);
    assert_int_equal(read_serial(a), 1);
    assert_int_equal(read_serial(b), 2);
    assert_int_equal(read_serial(a), 1);
    assert_int_equal(GetFileContext(T.created[0])->Reads, 2);
    assert_int_equal(GetFileContext(T.created[1])->Reads, 1);
    assert_int_equal(wdfdma_close(b), 0);
    assert_int_equal(read_serial(a), 1);
    assert_int_equal(wdfdma_close(a), 0);
    events_are(0, "create", 1, "create", 2, "cleanup", 2, "close", 2, "obj-cleanup", 2,
               "obj-destroy", 2, "cleanup", 1, "close", 1, "obj-cleanup", 1, "obj-destroy", 1,
               NULL);
    env_down(&e, true);
}

static void test_two_files_sim(void **state)
{
    (void)state;
    run_two_files(WDFDMA_ENGINE_SIM);
}

static void test_two_files_threads(void **state)
{
    (void)state;
    run_two_files(WDFDMA_ENGINE_THREADS);
}

/* ---- misuse and removal ------------------------------------------------------------------ */

static void read_done(void *ctx, int32_t status, size_t information)
{
    (void)information;
    *(int32_t *)ctx = status;
}

/* A request waiting in a queue keeps its file object; the file cannot be closed under it
 * (the host refuses, as the I/O manager holds IRP_MJ_CLOSE back); once the driver has
 * completed it, the close runs the callbacks. */
static void test_pending_request_keeps_file(void **state)
{
    (void)state;
    env e;
    assert_int_equal(env_up(&e, WDFDMA_ENGINE_SIM, MODE_MANUAL, false), 0);
    wdfdma_file *f;
    assert_int_equal(wdfdma_open(e.m, "echo0", &f), 0);
    ULONG serial = 0;
    int32_t status = STATUS_PENDING;
    assert_int_equal(wdfdma_read_async(f, &serial, sizeof serial, 0, read_done, &status, NULL),
                     0);
    assert_int_equal(wdfdma_close(f), -EBUSY);
    events_are(0, "create", 1, NULL);
    WDFREQUEST request;
    assert_int_equal(WdfIoQueueRetrieveNextRequest(T.manual, &request), STATUS_SUCCESS);
    assert_ptr_equal(WdfRequestGetFileObject(request), T.created[0]);
    complete_read(request);
    assert_int_equal(wdfdma_machine_run(e.m), 0);
    assert_int_equal(status, STATUS_SUCCESS);
    assert_int_equal(serial, 1);
    assert_int_equal(wdfdma_close(f), 0);
    events_are(0, "create", 1, "cleanup", 1, "close", 1, "obj-cleanup", 1, "obj-destroy", 1,
               NULL);
    env_down(&e, true);
}

/* Removal with a file open: the WDFFILEOBJECT goes with its device (object callbacks only);
 * the host's later close succeeds without calling the removed driver. */
static void test_remove_with_open_file(void **state)
{
    (void)state;
    env e;
    assert_int_equal(env_up(&e, WDFDMA_ENGINE_SIM, MODE_FULL, true), 0);
    wdfdma_file *f;
    assert_int_equal(wdfdma_open(e.m, "echo0", &f), 0);
    assert_int_equal(wdfdma_device_remove(e.hw), 0);
    events_are(0, "create", 1, "obj-cleanup", 1, "obj-destroy", 1, NULL);
    assert_int_equal(wdfdma_close(f), 0);
    events_are(0, "create", 1, "obj-cleanup", 1, "obj-destroy", 1, NULL);
    assert_int_equal(wdfdma_verifier_finding_count(e.m), 0);
    env_down(&e, false);
}

/* The driver may not delete a file object (a verifier break, ignored); a handle used after
 * close is stale (bug check); Queue synchronization scope fails WdfDeviceCreate. */
static void test_misuse(void **state)
{
    (void)state;
    env e;
    assert_int_equal(env_up(&e, WDFDMA_ENGINE_SIM, MODE_FULL, true), 0);
    wdfdma_file *f;
    assert_int_equal(wdfdma_open(e.m, "echo0", &f), 0);
    WDFFILEOBJECT fo = T.created[0];
    WdfObjectDelete(fo);
    assert_int_equal(wdfdma_verifier_findings_of(e.m, "WDF-VERIFIER-BREAK"), 1);
    assert_int_equal(read_serial(f), 1);
    assert_int_equal(wdfdma_close(f), 0);
    events_are(0, "create", 1, "cleanup", 1, "close", 1, "obj-cleanup", 1, "obj-destroy", 1,
               NULL);
    wdfdma_machine_set_bugcheck_quiet(e.m, true);
    wdfdma_machine_set_bugcheck_handler(e.m, on_bugcheck, &e);
    EXPECT_BUGCHECK(&e, WDF_INVALID_HANDLE, (void)WdfFileObjectGetDevice(fo));
    assert_int_equal(e.bc.p[1], (uintptr_t)fo);
    wdfdma_machine_set_bugcheck_handler(e.m, NULL, NULL);
    env_down(&e, true);

    assert_true(env_up(&e, WDFDMA_ENGINE_SIM, MODE_SCOPE_QUEUE, false) < 0);
    assert_int_equal(T.device_create_status, STATUS_INVALID_DEVICE_REQUEST);
    env_down(&e, false);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_bad_config),
        cmocka_unit_test(test_lifecycle_sim),
        cmocka_unit_test(test_lifecycle_threads),
        cmocka_unit_test(test_lifecycle_classes),
        cmocka_unit_test(test_create_fails),
        cmocka_unit_test(test_create_queue),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_two_files_sim),
        cmocka_unit_test(test_two_files_threads),
        cmocka_unit_test(test_pending_request_keeps_file),
        cmocka_unit_test(test_remove_with_open_file),
        cmocka_unit_test(test_misuse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
