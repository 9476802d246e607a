/*
 * WDFREQUEST: the framework's view of an IRP.
 *
 * Request objects are created once per device and recycled through a FIFO free list, so
 * the steady state allocates nothing per request. The handle stays the same across lives;
 * a handle used after completion finds the object FREE, which is what KMDF's handle check
 * reports for a completed (freed) request: bug check 0x10D, P1 = WDF_INVALID_HANDLE (0x5),
 * P2 = the handle. (KMDF has no "already completed" sub-code: the request is gone.) FIFO
 * reuse keeps a just-completed handle FREE as long as possible.
 *
 *             fx_io_dispatch              present / retrieve
 *   FREE ─────────────────► QUEUED ─────────────────────────► OWNED ──Complete──► FREE
 *    ▲                       │  ▲ ◄──forward / requeue / stop-ack(TRUE)─┘  │
 *    │      IoCancelIrp      │  │                                         │ Complete while
 *    │   (or purge) ─────────▼  │                                         │ the IRP cancel
 *    └──STATUS_CANCELLED── CANCELING ──EvtIoCanceledOnQueue──► OWNED      ▼ routine runs
 *    └─────────────────────────────────────────────────────────────── COMPLETING
 *
 * Invariants: FREE: no IRP, on the free list. QUEUED: on queue->pending, IRP cancel routine
 * armed. CANCELING: off the driver's hands and finished by whoever took it there (the IRP
 * cancel routine, a purge, the dispatch loop, or a completion already under way); it may
 * sit on a queue's cancel lists while waiting for the loop. OWNED:
 * on queue->owned (or queue->cancelled / cancelled_on_queue while the driver is being told).
 * COMPLETING: on no list; the running cancel routine completes it.
 */
#include <string.h>

#include "fx/io.h"

static const char *const state_names[] = {"?", "FREE", "QUEUED", "CANCELING", "OWNED",
                                          "COMPLETING"};

static void request_dispose(fx_object *o)
{
    fx_request *r = (fx_request *)o;
    /* Only FREE requests are deleted (with their device): nothing is held. */
    if (r->state != FX_REQ_FREE)
        mach_report(mach_current(), "WDFREQUEST", "request %p deleted in state %s",
                    (void *)fx_handle(o), state_names[r->state]);
}

static const fx_object_ops request_ops = {
    .type = FX_TYPE_REQUEST,
    .name = "WDFREQUEST",
    .dispose = request_dispose,
    .destroy = NULL,
    .driver_deletable = false,
};

KIRQL fx_io_lock(fx_device *dev)
{
    return KeAcquireSpinLockRaiseToDpc(&dev->io_lock);
}

void fx_io_unlock(fx_device *dev, KIRQL irql)
{
    KeReleaseSpinLock(&dev->io_lock, irql);
}

static void assert_request_state(const fx_request *r)
{
    bool ok;
    switch (r->state) {
    case FX_REQ_FREE:
        ok = r->irp == NULL && r->queue == NULL;
        break;
    case FX_REQ_QUEUED:
    case FX_REQ_OWNED:
        ok = r->irp != NULL && r->queue != NULL;
        break;
    case FX_REQ_CANCELING:
    case FX_REQ_COMPLETING:
        ok = r->irp != NULL;
        break;
    default:
        ok = false;
    }
    if (!ok)
        fx_bugcheck(WDF_REQUEST_FATAL_ERROR, (ULONG_PTR)fx_handle(&r->obj), r->state,
                    r->history, "WDFREQUEST %p: inconsistent state %d (history %#x)",
                    (void *)fx_handle(&r->obj), r->state, r->history);
}

void fx_request_set_state(fx_request *r, fx_request_state s)
{
    r->state = s;
    r->history = (r->history << 4) | (uint32_t)s;
    assert_request_state(r);
}

/* Resolve a handle the driver passes in. A FREE request is a completed one. */
fx_request *fx_request_from_handle(WDFREQUEST handle, const char *ddi)
{
    fx_request *r = (fx_request *)fx_resolve((WDFOBJECT)handle, FX_TYPE_REQUEST, ddi);
    if (r->state == FX_REQ_FREE || r->state == FX_REQ_COMPLETING)
        fx_bugcheck(WDF_INVALID_HANDLE, (ULONG_PTR)handle, FX_TYPE_REQUEST, 0,
                    "%s: WDFREQUEST %p was already completed (its handle is no longer valid)",
                    ddi, (void *)handle);
    return r;
}

PIRP fx_request_irp(struct fx_request *req)
{
    return req->irp;
}

void fx_request_set_complete_check(struct fx_request *req, fx_request_complete_check fn,
                                   void *ctx)
{
    req->check = fn;
    req->check_ctx = ctx;
}

/* ---- the free list -------------------------------------------------------------------- */

static void reset_contexts(fx_request *r)
{
    for (fx_context *c = r->obj.contexts; c != NULL; c = c->next)
        memset(c->data, 0, c->size);
}

static fx_request *request_create(fx_device *dev)
{
    fx_object *o;
    PWDF_OBJECT_ATTRIBUTES attrs = dev->has_request_attributes ? &dev->request_attributes : NULL;
    if (!NT_SUCCESS(fx_object_create(&request_ops, sizeof(fx_request), attrs, &dev->obj, false,
                                     &o)))
        return NULL;
    fx_request *r = (fx_request *)o;
    r->dev = dev;
    /* A request's cleanup/destroy callbacks run once per request (at completion), not
     * once per object: keep them here so the object model does not run them again. */
    r->evt_cleanup = o->cleanup;
    r->evt_destroy = o->destroy;
    o->cleanup = NULL;
    o->destroy = NULL;
    r->state = FX_REQ_FREE;
    InitializeListHead(&r->link);
    KIRQL irql = fx_io_lock(dev);
    dev->requests_allocated++;
    fx_io_unlock(dev, irql);
    return r;
}

fx_request *fx_request_get(fx_device *dev, PIRP irp)
{
    KIRQL irql = fx_io_lock(dev);
    fx_request *r = dev->request_free_head;
    if (r != NULL) {
        dev->request_free_head = r->next_free;
        if (dev->request_free_head == NULL)
            dev->request_free_tail = NULL;
        r->next_free = NULL;
    }
    fx_io_unlock(dev, irql);
    if (r == NULL) {
        r = request_create(dev);
        if (r == NULL)
            return NULL;
    } else {
        reset_contexts(r);
    }
    r->irp = irp;
    r->status = STATUS_PENDING;
    r->information = 0;
    r->presented = r->cancel_armed = r->cancel_fired = r->on_cancel_list = false;
    r->in_caller_context = false;
    r->driver_cancelable = r->cancel_called = false;
    r->evt_cancel = NULL;
    r->stop = FX_STOP_NONE;
    r->boost = IO_NO_INCREMENT;
    r->check = NULL;
    r->queue = NULL;
    irp->Tail.Overlay.DriverContext[0] = r;
    /* A request object is recycled across IRPs: this record marks where one request's
     * life starts, so a trace viewer can draw request -> transaction -> completion
     * (`wdfdma run --trace`). a = the request's object id. */
    mach_trace(dev->obj.machine, WDFDMA_TR_FLOW, r->obj.id, "request", r->obj.id, 0);
    return r;
}

static void put_free(fx_request *r)
{
    fx_device *dev = r->dev;
    KIRQL irql = fx_io_lock(dev);
    r->irp = NULL;
    r->queue = NULL;
    fx_request_set_state(r, FX_REQ_FREE);
    r->next_free = NULL;
    if (dev->request_free_tail != NULL)
        dev->request_free_tail->next_free = r;
    else
        dev->request_free_head = r;
    dev->request_free_tail = r;
    dev->outstanding_io--;
    fx_io_unlock(dev, irql);
}

static void release_buffers(fx_request *r)
{
    PMDL mdls[2] = {r->input_mdl, r->output_mdl};
    r->input_mdl = r->output_mdl = NULL;
    for (int i = 0; i < 2; i++)
        if (mdls[i] != NULL)
            IoFreeMdl(mdls[i]);
    WDFMEMORY mems[2] = {r->input_memory, r->output_memory};
    r->input_memory = r->output_memory = NULL;
    for (int i = 0; i < 2; i++) {
        fx_object *m = mems[i] != NULL ? fx_lookup((WDFOBJECT)mems[i], FX_TYPE_MEMORY) : NULL;
        if (m != NULL)
            fx_object_delete(m);
    }
}

/* The end of a request's life: the lock is not held and the request is on no list. */
void fx_request_finish(fx_request *r, NTSTATUS status, ULONG_PTR information)
{
    PIRP irp = r->irp;
    WDFREQUEST h = fx_request_handle(r);
    if (r->presented && r->evt_cleanup != NULL) {
        FX_CALLBACK_BEGIN("EvtCleanupCallback", &r->obj);
        r->evt_cleanup((WDFOBJECT)h);
        FX_CALLBACK_END("EvtCleanupCallback", &r->obj);
    }
    if (r->presented && r->evt_destroy != NULL) {
        FX_CALLBACK_BEGIN("EvtDestroyCallback", &r->obj);
        r->evt_destroy((WDFOBJECT)h);
        FX_CALLBACK_END("EvtDestroyCallback", &r->obj);
    }
    release_buffers(r);
    /* Before IoCompleteRequest: the FILE_OBJECT of a failed create is freed after it. */
    if (IoGetCurrentIrpStackLocation(irp)->MajorFunction == IRP_MJ_CREATE)
        fx_file_create_completed(r->dev, irp, status);
    CCHAR boost = r->boost;
    irp->IoStatus.Status = status;
    irp->IoStatus.Information = information;
    irp->Tail.Overlay.DriverContext[0] = NULL;
    mach_trace(mach_current(), WDFDMA_TR_FX, r->obj.id, "request-complete", (ULONG)status,
               information);
    put_free(r);
    IoCompleteRequest(irp, boost);
}

/* ---- IRP cancel routine ------------------------------------------------------------------ */

static VOID irp_cancel_routine(PDEVICE_OBJECT device, PIRP irp)
{
    (void)device;
    IoReleaseCancelSpinLock(irp->CancelIrql);
    fx_request *r = irp->Tail.Overlay.DriverContext[0];
    KIRQL irql = fx_io_lock(r->dev);
    r->cancel_armed = false;
    r->cancel_fired = true;
    fx_queue_cancel_fired(r, irql);
}

void fx_request_arm_cancel(fx_request *r)
{
    r->cancel_armed = true;
    IoSetCancelRoutine(r->irp, irp_cancel_routine);
}

bool fx_request_disarm_cancel(fx_request *r)
{
    if (!r->cancel_armed)
        return true;
    r->cancel_armed = false;
    return IoSetCancelRoutine(r->irp, NULL) != NULL;
}

/* ---- completion -------------------------------------------------------------------------- */

static void complete_request(fx_request *r, NTSTATUS status, ULONG_PTR information,
                             CCHAR boost, const char *ddi)
{
    if (status == STATUS_PENDING)
        fx_bugcheck(WDF_REQUEST_FATAL_ERROR, (ULONG_PTR)fx_request_handle(r), 0, 0,
                    "%s: a request cannot be completed with STATUS_PENDING", ddi);
    /* The DMA coupling: a transaction still transferring this request's buffer is fatal. */
    if (r->check != NULL)
        r->check(r, r->check_ctx);
    fx_device *dev = r->dev;
    KIRQL irql = fx_io_lock(dev);
    if (r->state != FX_REQ_OWNED) {
        fx_io_unlock(dev, irql);
        fx_bugcheck(WDF_REQUEST_FATAL_ERROR, (ULONG_PTR)fx_request_handle(r),
                    WDF_REQUEST_FATAL_ERROR_REQUEST_NOT_IN_QUEUE, r->state,
                    "%s: WDFREQUEST %p is not owned by the driver (state %s)", ddi,
                    (void *)fx_request_handle(r), state_names[r->state]);
    }
    r->boost = boost;
    fx_queue *q = r->queue;
    if (r->driver_cancelable) {
        fx_verifier_break(ddi, "WDFREQUEST %p completed while still cancelable (call "
                          "WdfRequestUnmarkCancelable first)", (void *)fx_request_handle(r));
        r->driver_cancelable = false;
        if (!fx_request_disarm_cancel(r)) {
            /* IoCancelIrp is running our routine: it finishes this completion. */
            if (r->on_cancel_list)
                RemoveEntryList(&r->link);
            r->on_cancel_list = false;
            fx_queue_request_done_locked(q, r);
            r->status = status;
            r->information = information;
            fx_request_set_state(r, FX_REQ_COMPLETING);
            fx_queue_run(q, irql);
            return;
        }
    }
    fx_queue_request_done_locked(q, r);
    fx_request_set_state(r, FX_REQ_CANCELING);   /* off every list, ours to finish */
    fx_io_unlock(dev, irql);
    fx_request_finish(r, status, information);
    fx_queue_run(q, fx_io_lock(dev));
}

VOID WdfRequestComplete(WDFREQUEST Request, NTSTATUS Status)
{
    fx_check_irql(DISPATCH_LEVEL, "WdfRequestComplete");
    fx_request *r = fx_request_from_handle(Request, "WdfRequestComplete");
    complete_request(r, Status, r->information, IO_NO_INCREMENT, "WdfRequestComplete");
}

VOID WdfRequestCompleteWithPriorityBoost(WDFREQUEST Request, NTSTATUS Status,
                                         CCHAR PriorityBoost)
{
    static const char ddi[] = "WdfRequestCompleteWithPriorityBoost";
    fx_check_irql(DISPATCH_LEVEL, ddi);
    fx_request *r = fx_request_from_handle(Request, ddi);
    complete_request(r, Status, r->information, PriorityBoost, ddi);
}

VOID WdfRequestCompleteWithInformation(WDFREQUEST Request, NTSTATUS Status,
                                       ULONG_PTR Information)
{
    static const char ddi[] = "WdfRequestCompleteWithInformation";
    fx_check_irql(DISPATCH_LEVEL, ddi);
    fx_request *r = fx_request_from_handle(Request, ddi);
    complete_request(r, Status, Information, IO_NO_INCREMENT, ddi);
}

VOID WdfRequestSetInformation(WDFREQUEST Request, ULONG_PTR Information)
{
    fx_check_irql(DISPATCH_LEVEL, "WdfRequestSetInformation");
    fx_request_from_handle(Request, "WdfRequestSetInformation")->information = Information;
}

ULONG_PTR WdfRequestGetInformation(WDFREQUEST Request)
{
    fx_check_irql(DISPATCH_LEVEL, "WdfRequestGetInformation");
    return fx_request_from_handle(Request, "WdfRequestGetInformation")->information;
}

NTSTATUS WdfRequestGetStatus(WDFREQUEST Request)
{
    fx_check_irql(DISPATCH_LEVEL, "WdfRequestGetStatus");
    return fx_request_from_handle(Request, "WdfRequestGetStatus")->status;
}

/* ---- parameters and buffers ---------------------------------------------------------------- */

VOID WdfRequestGetParameters(WDFREQUEST Request, PWDF_REQUEST_PARAMETERS Parameters)
{
    static const char ddi[] = "WdfRequestGetParameters";
    fx_check_irql(DISPATCH_LEVEL, ddi);
    fx_request *r = fx_request_from_handle(Request, ddi);
    fx_check_required(Parameters, ddi, "Parameters");
    if (Parameters->Size != sizeof(WDF_REQUEST_PARAMETERS)) {
        fx_verifier_break(ddi, "Parameters->Size %u, expected %zu (use "
                          "WDF_REQUEST_PARAMETERS_INIT)", Parameters->Size,
                          sizeof(WDF_REQUEST_PARAMETERS));
        return;
    }
    PIO_STACK_LOCATION sl = IoGetCurrentIrpStackLocation(r->irp);
    USHORT size = Parameters->Size;
    memset(Parameters, 0, sizeof(*Parameters));
    Parameters->Size = size;
    Parameters->Type = (WDF_REQUEST_TYPE)sl->MajorFunction;
    Parameters->MinorFunction = sl->MinorFunction;
    switch (sl->MajorFunction) {
    case IRP_MJ_READ:
    case IRP_MJ_WRITE:
        Parameters->Parameters.Read.Length = sl->Parameters.Read.Length;
        Parameters->Parameters.Read.Key = sl->Parameters.Read.Key;
        Parameters->Parameters.Read.DeviceOffset = sl->Parameters.Read.ByteOffset.QuadPart;
        break;
    case IRP_MJ_DEVICE_CONTROL:
    case IRP_MJ_INTERNAL_DEVICE_CONTROL:
        Parameters->Parameters.DeviceIoControl.OutputBufferLength =
            sl->Parameters.DeviceIoControl.OutputBufferLength;
        Parameters->Parameters.DeviceIoControl.InputBufferLength =
            sl->Parameters.DeviceIoControl.InputBufferLength;
        Parameters->Parameters.DeviceIoControl.IoControlCode =
            sl->Parameters.DeviceIoControl.IoControlCode;
        Parameters->Parameters.DeviceIoControl.Type3InputBuffer =
            sl->Parameters.DeviceIoControl.Type3InputBuffer;
        break;
    case IRP_MJ_CREATE:
        Parameters->Parameters.Create.SecurityContext = sl->Parameters.Create.SecurityContext;
        Parameters->Parameters.Create.Options = sl->Parameters.Create.Options;
        Parameters->Parameters.Create.FileAttributes = sl->Parameters.Create.FileAttributes;
        Parameters->Parameters.Create.ShareAccess = sl->Parameters.Create.ShareAccess;
        Parameters->Parameters.Create.EaLength = sl->Parameters.Create.EaLength;
        break;
    default:
        Parameters->Parameters.Others.Arg1 = sl->Parameters.Others.Argument1;
        Parameters->Parameters.Others.Arg2 = sl->Parameters.Others.Argument2;
        Parameters->Parameters.Others.IoControlCode =
            (ULONG)(uintptr_t)sl->Parameters.Others.Argument3;
        Parameters->Parameters.Others.Arg4 = sl->Parameters.Others.Argument4;
        break;
    }
}

/* Where a request's data lives, by major function, IOCTL method and I/O type. */
typedef enum buf_kind { BUF_NONE, BUF_SYSTEM, BUF_MDL } buf_kind;

static buf_kind locate(fx_request *r, bool output, size_t *len)
{
    PIRP irp = r->irp;
    PIO_STACK_LOCATION sl = IoGetCurrentIrpStackLocation(irp);
    switch (sl->MajorFunction) {
    case IRP_MJ_READ:
    case IRP_MJ_WRITE:
        if (output != (sl->MajorFunction == IRP_MJ_READ))
            return BUF_NONE;
        *len = sl->Parameters.Read.Length;
        if ((irp->Flags & IRP_BUFFERED_IO) != 0)
            return BUF_SYSTEM;
        if (irp->MdlAddress != NULL || *len == 0)
            return BUF_MDL;
        return BUF_NONE;                            /* neither I/O */
    case IRP_MJ_DEVICE_CONTROL:
    case IRP_MJ_INTERNAL_DEVICE_CONTROL: {
        ULONG method = METHOD_FROM_CTL_CODE(sl->Parameters.DeviceIoControl.IoControlCode);
        if (method == METHOD_NEITHER)
            return BUF_NONE;
        if (!output) {
            *len = sl->Parameters.DeviceIoControl.InputBufferLength;
            return BUF_SYSTEM;
        }
        *len = sl->Parameters.DeviceIoControl.OutputBufferLength;
        return method == METHOD_BUFFERED ? BUF_SYSTEM : BUF_MDL;
    }
    default:
        return BUF_NONE;
    }
}

static NTSTATUS retrieve_buffer(WDFREQUEST Request, bool output, size_t min, PVOID *Buffer,
                                size_t *Length, const char *ddi)
{
    fx_check_irql(DISPATCH_LEVEL, ddi);
    fx_request *r = fx_request_from_handle(Request, ddi);
    fx_check_required(Buffer, ddi, "Buffer");
    *Buffer = NULL;
    if (Length != NULL)
        *Length = 0;
    size_t len = 0;
    buf_kind kind = locate(r, output, &len);
    if (kind == BUF_NONE)
        return STATUS_INVALID_DEVICE_REQUEST;
    if (len == 0 || len < min)
        return STATUS_BUFFER_TOO_SMALL;
    PVOID p = kind == BUF_SYSTEM ? r->irp->AssociatedIrp.SystemBuffer
                                 : MmGetSystemAddressForMdlSafe(r->irp->MdlAddress,
                                                                NormalPagePriority);
    if (p == NULL)
        return STATUS_INSUFFICIENT_RESOURCES;
    *Buffer = p;
    if (Length != NULL)
        *Length = len;
    return STATUS_SUCCESS;
}

NTSTATUS WdfRequestRetrieveInputBuffer(WDFREQUEST Request, size_t MinimumRequiredLength,
                                       PVOID *Buffer, size_t *Length)
{
    return retrieve_buffer(Request, false, MinimumRequiredLength, Buffer, Length,
                           "WdfRequestRetrieveInputBuffer");
}

NTSTATUS WdfRequestRetrieveOutputBuffer(WDFREQUEST Request, size_t MinimumRequiredSize,
                                        PVOID *Buffer, size_t *Length)
{
    return retrieve_buffer(Request, true, MinimumRequiredSize, Buffer, Length,
                           "WdfRequestRetrieveOutputBuffer");
}

/* KMDF builds an MDL over the system buffer for buffered requests (kept until completion). */
static NTSTATUS retrieve_mdl(WDFREQUEST Request, bool output, PMDL *Mdl, const char *ddi)
{
    fx_check_irql(DISPATCH_LEVEL, ddi);
    fx_request *r = fx_request_from_handle(Request, ddi);
    fx_check_required(Mdl, ddi, "Mdl");
    *Mdl = NULL;
    size_t len = 0;
    buf_kind kind = locate(r, output, &len);
    if (kind == BUF_NONE)
        return STATUS_INVALID_DEVICE_REQUEST;
    if (len == 0)
        return STATUS_BUFFER_TOO_SMALL;
    if (kind == BUF_MDL) {
        *Mdl = r->irp->MdlAddress;
        return STATUS_SUCCESS;
    }
    PMDL *slot = output ? &r->output_mdl : &r->input_mdl;
    if (*slot == NULL) {
        PMDL mdl = IoAllocateMdl(r->irp->AssociatedIrp.SystemBuffer, (ULONG)len, FALSE, FALSE,
                                 NULL);
        if (mdl == NULL)
            return STATUS_INSUFFICIENT_RESOURCES;
        MmBuildMdlForNonPagedPool(mdl);
        *slot = mdl;
    }
    *Mdl = *slot;
    return STATUS_SUCCESS;
}

NTSTATUS WdfRequestRetrieveInputWdmMdl(WDFREQUEST Request, PMDL *Mdl)
{
    return retrieve_mdl(Request, false, Mdl, "WdfRequestRetrieveInputWdmMdl");
}

NTSTATUS WdfRequestRetrieveOutputWdmMdl(WDFREQUEST Request, PMDL *Mdl)
{
    return retrieve_mdl(Request, true, Mdl, "WdfRequestRetrieveOutputWdmMdl");
}

static NTSTATUS retrieve_memory(WDFREQUEST Request, bool output, WDFMEMORY *Memory,
                                const char *ddi)
{
    fx_check_required(Memory, ddi, "Memory");
    *Memory = NULL;
    PVOID buf;
    size_t len;
    NTSTATUS status = retrieve_buffer(Request, output, 0, &buf, &len, ddi);
    if (!NT_SUCCESS(status))
        return status;
    fx_request *r = fx_request_from_handle(Request, ddi);
    WDFMEMORY *slot = output ? &r->output_memory : &r->input_memory;
    if (*slot == NULL) {
        WDF_OBJECT_ATTRIBUTES attrs;
        WDF_OBJECT_ATTRIBUTES_INIT(&attrs);
        attrs.ParentObject = (WDFOBJECT)Request;
        status = WdfMemoryCreatePreallocated(&attrs, buf, len, slot);
        if (!NT_SUCCESS(status))
            return status;
    }
    *Memory = *slot;
    return STATUS_SUCCESS;
}

NTSTATUS WdfRequestRetrieveInputMemory(WDFREQUEST Request, WDFMEMORY *Memory)
{
    return retrieve_memory(Request, false, Memory, "WdfRequestRetrieveInputMemory");
}

NTSTATUS WdfRequestRetrieveOutputMemory(WDFREQUEST Request, WDFMEMORY *Memory)
{
    return retrieve_memory(Request, true, Memory, "WdfRequestRetrieveOutputMemory");
}

KPROCESSOR_MODE WdfRequestGetRequestorMode(WDFREQUEST Request)
{
    fx_check_irql(DISPATCH_LEVEL, "WdfRequestGetRequestorMode");
    return fx_request_from_handle(Request, "WdfRequestGetRequestorMode")->irp->RequestorMode;
}

/* NULL when the device has no file objects (WdfFileObjectNotRequired, the default) or the
 * IRP carries no FILE_OBJECT. A request keeps its file object until it is completed: the
 * I/O manager sends IRP_MJ_CLOSE only after every request of the file is done. */
WDFFILEOBJECT WdfRequestGetFileObject(WDFREQUEST Request)
{
    fx_check_irql(DISPATCH_LEVEL, "WdfRequestGetFileObject");
    fx_request *r = fx_request_from_handle(Request, "WdfRequestGetFileObject");
    return fx_file_of_irp(r->dev, r->irp);
}

PIRP WdfRequestWdmGetIrp(WDFREQUEST Request)
{
    fx_check_irql(DISPATCH_LEVEL, "WdfRequestWdmGetIrp");
    return fx_request_from_handle(Request, "WdfRequestWdmGetIrp")->irp;
}

/* ---- cancellation ---------------------------------------------------------------------- */
/*
 * KMDF's rules (fxioqueue.cpp RequestCancelable, CancelForDriver):
 *  - MarkCancelable on an already cancelled request calls EvtRequestCancel from the queue's
 *    event loop: at once if no callback of the queue is running on this thread, else right
 *    after the running callback returns; MarkCancelableEx instead returns STATUS_CANCELLED
 *    and leaves the request with the caller.
 *  - While the queue is being purged (WdfIoQueuePurge), marking cancelable cancels.
 *  - UnmarkCancelable returns STATUS_CANCELLED once the cancel routine has won the race:
 *    EvtRequestCancel has been or will be called and owns completion. That includes the
 *    window in which the framework has taken the request off its cancelable list and is
 *    calling EvtRequestCancel, which may be waiting for a lock the caller of Unmark holds
 *    (the pattern of Microsoft's own samples). KMDF's verifier keeps the request flagged
 *    cancelable until Unmark succeeds, so Unmark there is no finding either.
 *  - EvtRequestCancel runs under the queue's presentation lock.
 */
static NTSTATUS mark_cancelable(WDFREQUEST Request, PFN_WDF_REQUEST_CANCEL evt, bool fail,
                                const char *ddi)
{
    fx_check_irql(DISPATCH_LEVEL, ddi);
    fx_request *r = fx_request_from_handle(Request, ddi);
    fx_check_required((const void *)(uintptr_t)evt, ddi, "EvtRequestCancel");
    fx_device *dev = r->dev;
    KIRQL irql = fx_io_lock(dev);
    if (r->state != FX_REQ_OWNED || r->driver_cancelable || r->on_cancel_list) {
        fx_io_unlock(dev, irql);
        fx_verifier_break(ddi, "WDFREQUEST %p is not driver-owned or is already cancelable",
                          (void *)Request);
        return STATUS_INVALID_DEVICE_REQUEST;
    }
    fx_queue *q = r->queue;
    r->evt_cancel = evt;
    r->driver_cancelable = true;
    r->cancel_called = false;
    bool cancelled = q->cancel_dispatched;
    if (!cancelled) {
        fx_request_arm_cancel(r);
        /* IoCancelIrp before we armed: take the routine back; if it is already gone the
         * routine is running and will queue the cancel itself. */
        if (wdm_irp_cancel_flag(r->irp) && fx_request_disarm_cancel(r))
            cancelled = true;
    }
    if (!cancelled) {
        fx_io_unlock(dev, irql);
        return STATUS_SUCCESS;
    }
    if (fail) {
        r->driver_cancelable = false;
        r->evt_cancel = NULL;
        fx_io_unlock(dev, irql);
        return STATUS_CANCELLED;
    }
    r->cancel_fired = true;
    fx_queue_cancel_fired(r, irql);
    return STATUS_SUCCESS;
}

VOID WdfRequestMarkCancelable(WDFREQUEST Request, PFN_WDF_REQUEST_CANCEL EvtRequestCancel)
{
    (void)mark_cancelable(Request, EvtRequestCancel, false, "WdfRequestMarkCancelable");
}

NTSTATUS WdfRequestMarkCancelableEx(WDFREQUEST Request, PFN_WDF_REQUEST_CANCEL EvtRequestCancel)
{
    return mark_cancelable(Request, EvtRequestCancel, true, "WdfRequestMarkCancelableEx");
}

NTSTATUS WdfRequestUnmarkCancelable(WDFREQUEST Request)
{
    static const char ddi[] = "WdfRequestUnmarkCancelable";
    fx_check_irql(DISPATCH_LEVEL, ddi);
    fx_request *r = fx_request_from_handle(Request, ddi);
    fx_device *dev = r->dev;
    KIRQL irql = fx_io_lock(dev);
    if (r->state == FX_REQ_OWNED && r->cancel_called) {
        fx_io_unlock(dev, irql);
        return STATUS_CANCELLED;
    }
    if (r->state != FX_REQ_OWNED || !r->driver_cancelable) {
        fx_io_unlock(dev, irql);
        fx_verifier_break(ddi, "WDFREQUEST %p is not marked cancelable", (void *)Request);
        return STATUS_INVALID_DEVICE_REQUEST;
    }
    if (r->on_cancel_list || !fx_request_disarm_cancel(r)) {
        fx_io_unlock(dev, irql);
        return STATUS_CANCELLED;
    }
    r->driver_cancelable = false;
    r->evt_cancel = NULL;
    fx_io_unlock(dev, irql);
    return STATUS_SUCCESS;
}

BOOLEAN WdfRequestIsCanceled(WDFREQUEST Request)
{
    fx_check_irql(DISPATCH_LEVEL, "WdfRequestIsCanceled");
    fx_request *r = fx_request_from_handle(Request, "WdfRequestIsCanceled");
    return wdm_irp_cancel_flag(r->irp) || r->cancel_fired;
}

/* ---- moving requests between queues ------------------------------------------------------ */

NTSTATUS WdfRequestForwardToIoQueue(WDFREQUEST Request, WDFQUEUE DestinationQueue)
{
    static const char ddi[] = "WdfRequestForwardToIoQueue";
    fx_check_irql(DISPATCH_LEVEL, ddi);
    fx_request *r = fx_request_from_handle(Request, ddi);
    fx_queue *dest = fx_queue_from_handle(DestinationQueue, ddi);
    fx_device *dev = r->dev;
    if (dest->dev != dev) {
        fx_verifier_break(ddi, "WDFQUEUE %p belongs to another device", (void *)DestinationQueue);
        return STATUS_INVALID_DEVICE_REQUEST;
    }
    KIRQL irql = fx_io_lock(dev);
    fx_queue *src = r->queue;
    NTSTATUS status = STATUS_SUCCESS;
    if (r->state != FX_REQ_OWNED || r->driver_cancelable || r->on_cancel_list || dest == src)
        status = STATUS_INVALID_DEVICE_REQUEST;
    else if (!dest->accepting)
        status = STATUS_WDF_BUSY;
    if (!NT_SUCCESS(status)) {
        fx_io_unlock(dev, irql);
        if (status == STATUS_INVALID_DEVICE_REQUEST)
            fx_verifier_break(ddi, "WDFREQUEST %p cannot be forwarded (not driver-owned, "
                              "cancelable, or already in that queue)", (void *)Request);
        return status;
    }
    fx_queue_request_done_locked(src, r);
    r->queue = NULL;
    status = fx_queue_insert_locked(dest, r, false);
    fx_queue_run(dest, irql);
    if (NT_SUCCESS(status))
        fx_queue_run(src, fx_io_lock(dev));
    return status;
}

NTSTATUS WdfRequestRequeue(WDFREQUEST Request)
{
    static const char ddi[] = "WdfRequestRequeue";
    fx_check_irql(DISPATCH_LEVEL, ddi);
    fx_request *r = fx_request_from_handle(Request, ddi);
    fx_device *dev = r->dev;
    KIRQL irql = fx_io_lock(dev);
    fx_queue *q = r->queue;
    if (r->state != FX_REQ_OWNED || r->driver_cancelable || r->on_cancel_list ||
        q->config.DispatchType != WdfIoQueueDispatchManual) {
        fx_io_unlock(dev, irql);
        fx_verifier_break(ddi, "WDFREQUEST %p: only a driver-owned, non-cancelable request "
                          "from a manual queue can be requeued", (void *)Request);
        return STATUS_INVALID_DEVICE_REQUEST;
    }
    fx_queue_request_done_locked(q, r);
    NTSTATUS status = fx_queue_insert_locked(q, r, true);
    fx_queue_run(q, irql);
    return status == STATUS_CANCELLED ? STATUS_SUCCESS : status;
}

WDFQUEUE WdfRequestGetIoQueue(WDFREQUEST Request)
{
    fx_check_irql(DISPATCH_LEVEL, "WdfRequestGetIoQueue");
    fx_request *r = fx_request_from_handle(Request, "WdfRequestGetIoQueue");
    return r->queue != NULL ? fx_queue_handle(r->queue) : NULL;
}

/* From EvtIoStop: Requeue TRUE puts the request back at the head of its queue (presented
 * again after power-up); FALSE keeps it with the driver (EvtIoResume after power-up). */
VOID WdfRequestStopAcknowledge(WDFREQUEST Request, BOOLEAN Requeue)
{
    static const char ddi[] = "WdfRequestStopAcknowledge";
    fx_check_irql(DISPATCH_LEVEL, ddi);
    fx_request *r = fx_request_from_handle(Request, ddi);
    fx_device *dev = r->dev;
    KIRQL irql = fx_io_lock(dev);
    fx_queue *q = r->queue;
    if (r->state != FX_REQ_OWNED || r->stop != FX_STOP_NOTIFIED) {
        fx_io_unlock(dev, irql);
        fx_verifier_break(ddi, "WDFREQUEST %p: valid only after EvtIoStop for it",
                          (void *)Request);
        return;
    }
    if (Requeue) {
        if (r->driver_cancelable) {
            r->driver_cancelable = false;
            if (!fx_request_disarm_cancel(r)) {
                /* The cancel routine owns it now; it will call EvtRequestCancel. */
                r->stop = FX_STOP_NONE;
                fx_queue_run(q, irql);
                return;
            }
        }
        fx_queue_request_done_locked(q, r);
        (void)fx_queue_insert_locked(q, r, true);
    } else {
        r->stop = FX_STOP_ACKED;
    }
    fx_queue_run(q, irql);
}
