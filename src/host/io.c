/*
 * Host I/O API (include/wdfdma/io.h): what ReadFile / WriteFile / DeviceIoControl and
 * CancelIoEx are to an application.
 *
 * Each call builds an IRP through the I/O manager (buffered or direct by the device's I/O
 * type) and sends it with IoCallDriver at PASSIVE_LEVEL on the calling thread. An
 * operation (wdfdma_io) records who waits: a synchronous caller waits with mach_wait (the
 * sim engine runs the machine meanwhile); an asynchronous one gets its callback from
 * IoCompleteRequest, exactly once. Operations come from a per-file free list, so steady
 * state I/O allocates nothing here.
 *
 *   op: PENDING ──IoCompleteRequest──► DONE (sync: the waiter frees; async: freed after
 *        │                                   the callback)
 *        └──the sync waiter gives up (sim deadlock)──► ABANDONED (completion frees it)
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sched.h>
#include <string.h>

#include "fx/device.h"
#include "wdfdma/io.h"
#include "wdm/io_internal.h"

enum op_state { OP_PENDING = 0, OP_DONE, OP_ABANDONED };

struct wdfdma_io {
    wdfdma_io *next_free;
    wdfdma_file *file;
    PIRP irp;
    wdfdma_io_done done;          /* NULL: synchronous */
    void *ctx;
    _Atomic int state;
    int32_t status;
    size_t information;
};

struct wdfdma_file {
    wdfdma_machine *m;
    fx_device *dev;
    PDEVICE_OBJECT devobj;
    FILE_OBJECT fo;
    atomic_size_t outstanding;
    /* Completions between their `outstanding` decrement and their last touch of the file
     * (the done callback may wake a host thread that closes the file at once). */
    atomic_size_t completing;
    pthread_mutex_t lock;         /* host lock: the op free list (threads engine only) */
    wdfdma_io *free_ops;
};

/* ---- operations ------------------------------------------------------------------------ */

static wdfdma_io *op_get(wdfdma_file *f)
{
    mach_own_lock(f->m, &f->lock);
    wdfdma_io *op = f->free_ops;
    if (op != NULL)
        f->free_ops = op->next_free;
    mach_own_unlock(f->m, &f->lock);
    if (op == NULL)
        op = calloc(1, sizeof(*op));
    if (op != NULL) {
        op->file = f;
        op->irp = NULL;
        atomic_store(&op->state, OP_PENDING);
    }
    return op;
}

static void op_put(wdfdma_io *op)
{
    wdfdma_file *f = op->file;
    op->irp = NULL;
    mach_own_lock(f->m, &f->lock);
    op->next_free = f->free_ops;
    f->free_ops = op;
    mach_own_unlock(f->m, &f->lock);
}

/* IoCompleteRequest's last step: the I/O manager has finished the IRP. */
static void op_completed(PIRP irp, void *ctx)
{
    wdfdma_io *op = ctx;
    wdfdma_file *f = op->file;
    op->status = irp->IoStatus.Status;
    op->information = irp->IoStatus.Information;
    wdfdma_machine *m = f->m;
    atomic_fetch_add(&f->completing, 1);
    atomic_fetch_sub(&f->outstanding, 1);
    if (op->done != NULL) {
        op->done(op->ctx, op->status, op->information);
        IoFreeIrp(irp);
        op_put(op);
        atomic_fetch_sub(&f->completing, 1);
        return;
    }
    int expected = OP_PENDING;
    if (!atomic_compare_exchange_strong(&op->state, &expected, OP_DONE)) {
        IoFreeIrp(irp);            /* the waiter gave up: nobody else will free it */
        op_put(op);
        atomic_fetch_sub(&f->completing, 1);
        return;
    }
    /* From here the waiter may free the op and close the file. */
    atomic_fetch_sub(&f->completing, 1);
    mach_signal(m);
}

static bool op_is_done(void *ctx)
{
    return atomic_load(&((wdfdma_io *)ctx)->state) == OP_DONE;
}

/* Build and send; for a synchronous op wait for it. Returns 0 or a negative errno. */
static int submit(wdfdma_file *f, const wdm_io_params *params, wdfdma_io_done done, void *ctx,
                  wdfdma_io **op_out, int32_t *status, size_t *information)
{
    mach_enter(f->m);
    if (done == NULL && mach_irql() != PASSIVE_LEVEL)
        return mach_error(EINVAL, "synchronous I/O must be issued at PASSIVE_LEVEL (IRQL %u)",
                          mach_irql());
    wdfdma_io *op = op_get(f);
    if (op == NULL)
        return mach_error(ENOMEM, "out of memory for an I/O operation");
    op->done = done;
    op->ctx = ctx;
    wdm_io_params p = *params;
    p.file = &f->fo;
    p.done = op_completed;
    p.ctx = op;
    ULONG do_flags = f->devobj->Flags;
    PIRP irp;
    NTSTATUS st = wdm_io_build_irp(f->devobj, do_flags, &p, &irp);
    if (!NT_SUCCESS(st)) {
        op_put(op);
        return st == STATUS_INSUFFICIENT_RESOURCES
                   ? mach_error(ENOMEM, "out of memory building the request")
                   : mach_error(EINVAL, "the buffer cannot be locked for I/O (status %#x)",
                                (unsigned)st);
    }
    op->irp = irp;
    if (op_out != NULL)
        *op_out = op;
    atomic_fetch_add(&f->outstanding, 1);
    (void)IoCallDriver(f->devobj, irp);
    if (done != NULL)
        return 0;
    if (!mach_wait(f->m, op_is_done, op, -1)) {
        int expected = OP_PENDING;
        if (atomic_compare_exchange_strong(&op->state, &expected, OP_ABANDONED))
            return mach_error(EDEADLK, "the request can never complete: nothing left to run "
                              "(queue held or stopped, device not in D0?)");
    }
    if (status != NULL)
        *status = op->status;
    if (information != NULL)
        *information = op->information;
    IoFreeIrp(op->irp);
    op_put(op);
    return 0;
}

/* ---- argument checks --------------------------------------------------------------------- */

static int check_file(wdfdma_file *f)
{
    if (f == NULL)
        return mach_error(EINVAL, "file is NULL");
    return 0;
}

static int check_buffer(const void *buf, size_t len, const char *what)
{
    if (len > 0xFFFFFFFFu)
        return mach_error(EINVAL, "%s length %zu exceeds 4 GiB - 1 (ULONG)", what, len);
    if (buf == NULL && len > 0)
        return mach_error(EINVAL, "%s is NULL but its length is %zu", what, len);
    return 0;
}

static int check_async(wdfdma_io_done done)
{
    if (done == NULL)
        return mach_error(EINVAL, "completion callback is NULL");
    return 0;
}

/* ---- open / close ------------------------------------------------------------------------ */

static int simple_irp(wdfdma_file *f, UCHAR major, int32_t *status)
{
    wdm_io_params p = {.major = major};
    return submit(f, &p, NULL, NULL, NULL, status, NULL);
}

/* The file's memory: its cached ops, its lock, itself. */
static void file_free(wdfdma_file *f)
{
    while (f->free_ops != NULL) {
        wdfdma_io *op = f->free_ops;
        f->free_ops = op->next_free;
        free(op);
    }
    pthread_mutex_destroy(&f->lock);
    free(f);
}

int wdfdma_open(wdfdma_machine *m, const char *name, wdfdma_file **out)
{
    if (out == NULL)
        return mach_error(EINVAL, "out is NULL");
    *out = NULL;
    if (m == NULL)
        return mach_error(EINVAL, "machine is NULL");
    if (name == NULL || name[0] == '\0')
        return mach_error(EINVAL, "device name is NULL or empty");
    mach_enter(m);
    fx_device *dev = fx_device_open_by_name(m, name);
    if (dev == NULL || dev->wdm == NULL)
        return mach_error(ENOENT, "no started device is named \"%s\"", name);
    wdfdma_file *f = calloc(1, sizeof(*f));
    if (f == NULL)
        return mach_error(ENOMEM, "out of memory opening \"%s\"", name);
    f->m = m;
    f->dev = dev;
    f->devobj = dev->wdm;
    f->fo.Type = 5;                           /* IO_TYPE_FILE */
    f->fo.Size = sizeof(FILE_OBJECT);
    f->fo.DeviceObject = dev->wdm;
    pthread_mutex_init(&f->lock, NULL);
    fx_object_reference(&dev->obj);
    int32_t status = 0;
    int rc = simple_irp(f, IRP_MJ_CREATE, &status);
    if (rc == 0 && !NT_SUCCESS(status))
        rc = mach_error(EIO, "opening \"%s\" failed: IRP_MJ_CREATE status %#x", name,
                        (unsigned)status);
    if (rc != 0) {
        fx_object_dereference(&dev->obj);
        file_free(f);
        return rc;
    }
    *out = f;
    return 0;
}

int wdfdma_close(wdfdma_file *f)
{
    int rc = check_file(f);
    if (rc != 0)
        return rc;
    size_t n = atomic_load(&f->outstanding);
    if (n != 0)
        return mach_error(EBUSY, "%zu requests are still outstanding on this file: cancel "
                          "them or wait for their completion first", n);
    /* A completion that already counted itself out may still be returning its op. */
    while (atomic_load(&f->completing) != 0)
        sched_yield();
    int32_t status;
    rc = simple_irp(f, IRP_MJ_CLEANUP, &status);
    if (rc == 0)
        rc = simple_irp(f, IRP_MJ_CLOSE, &status);
    if (rc != 0)
        return rc;
    fx_object_dereference(&f->dev->obj);
    file_free(f);
    return 0;
}

/* ---- synchronous ------------------------------------------------------------------------- */

int wdfdma_read(wdfdma_file *f, void *buf, size_t len, uint64_t offset, int32_t *status,
                size_t *information)
{
    int rc = check_file(f);
    if (rc == 0)
        rc = check_buffer(buf, len, "read buffer");
    if (rc != 0)
        return rc;
    wdm_io_params p = {.major = IRP_MJ_READ, .out = buf, .out_len = len, .offset = offset};
    return submit(f, &p, NULL, NULL, NULL, status, information);
}

int wdfdma_write(wdfdma_file *f, const void *buf, size_t len, uint64_t offset,
                 int32_t *status, size_t *information)
{
    int rc = check_file(f);
    if (rc == 0)
        rc = check_buffer(buf, len, "write buffer");
    if (rc != 0)
        return rc;
    wdm_io_params p = {.major = IRP_MJ_WRITE, .in = buf, .in_len = len, .offset = offset};
    return submit(f, &p, NULL, NULL, NULL, status, information);
}

int wdfdma_ioctl(wdfdma_file *f, uint32_t code, const void *in, size_t in_len, void *out,
                 size_t out_len, int32_t *status, size_t *information)
{
    int rc = check_file(f);
    if (rc == 0)
        rc = check_buffer(in, in_len, "ioctl input buffer");
    if (rc == 0)
        rc = check_buffer(out, out_len, "ioctl output buffer");
    if (rc != 0)
        return rc;
    wdm_io_params p = {.major = IRP_MJ_DEVICE_CONTROL, .ioctl = code, .in = in,
                       .in_len = in_len, .out = out, .out_len = out_len};
    return submit(f, &p, NULL, NULL, NULL, status, information);
}

/* ---- asynchronous ------------------------------------------------------------------------ */

int wdfdma_read_async(wdfdma_file *f, void *buf, size_t len, uint64_t offset,
                      wdfdma_io_done done, void *ctx, wdfdma_io **op)
{
    int rc = check_file(f);
    if (rc == 0)
        rc = check_buffer(buf, len, "read buffer");
    if (rc == 0)
        rc = check_async(done);
    if (rc != 0)
        return rc;
    wdm_io_params p = {.major = IRP_MJ_READ, .out = buf, .out_len = len, .offset = offset};
    return submit(f, &p, done, ctx, op, NULL, NULL);
}

int wdfdma_write_async(wdfdma_file *f, const void *buf, size_t len, uint64_t offset,
                       wdfdma_io_done done, void *ctx, wdfdma_io **op)
{
    int rc = check_file(f);
    if (rc == 0)
        rc = check_buffer(buf, len, "write buffer");
    if (rc == 0)
        rc = check_async(done);
    if (rc != 0)
        return rc;
    wdm_io_params p = {.major = IRP_MJ_WRITE, .in = buf, .in_len = len, .offset = offset};
    return submit(f, &p, done, ctx, op, NULL, NULL);
}

int wdfdma_ioctl_async(wdfdma_file *f, uint32_t code, const void *in, size_t in_len,
                       void *out, size_t out_len, wdfdma_io_done done, void *ctx,
                       wdfdma_io **op)
{
    int rc = check_file(f);
    if (rc == 0)
        rc = check_buffer(in, in_len, "ioctl input buffer");
    if (rc == 0)
        rc = check_buffer(out, out_len, "ioctl output buffer");
    if (rc == 0)
        rc = check_async(done);
    if (rc != 0)
        return rc;
    wdm_io_params p = {.major = IRP_MJ_DEVICE_CONTROL, .ioctl = code, .in = in,
                       .in_len = in_len, .out = out, .out_len = out_len};
    return submit(f, &p, done, ctx, op, NULL, NULL);
}

int wdfdma_cancel(wdfdma_io *op)
{
    if (op == NULL)
        return mach_error(EINVAL, "operation is NULL");
    if (op->irp == NULL || op->done == NULL)
        return mach_error(EINVAL, "not an outstanding asynchronous operation");
    mach_enter(op->file->m);
    (void)IoCancelIrp(op->irp);
    return 0;
}

size_t wdfdma_outstanding(wdfdma_file *f)
{
    return f != NULL ? atomic_load(&f->outstanding) : 0;
}
