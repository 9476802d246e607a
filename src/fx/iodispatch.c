/*
 * The framework's IRP dispatch routine (KMDF FxPkgIo / FxPkgGeneral): an IRP becomes a
 * WDFREQUEST and goes to the queue configured for its type, or to the default queue.
 *
 *  - IRP_MJ_CREATE, IRP_MJ_CLEANUP and IRP_MJ_CLOSE belong to the file-object code
 *    (fileobject.c): a create goes to the queue the driver routed creates to with
 *    WdfDeviceConfigureRequestDispatching, else to EvtDeviceFileCreate, else succeeds.
 *  - No queue for the type: STATUS_INVALID_DEVICE_REQUEST.
 *  - Zero-length reads and writes are completed with STATUS_SUCCESS unless the queue set
 *    AllowZeroLengthRequests.
 *  - A queue that does not accept requests (drained, purged, device removed):
 *    STATUS_INVALID_DEVICE_STATE.
 * Every queued IRP is marked pending and STATUS_PENDING returned, even when the driver
 * completes it before this routine returns.
 */
#include "fx/io.h"

NTSTATUS fx_complete_irp(PIRP irp, NTSTATUS status, ULONG_PTR information)
{
    irp->IoStatus.Status = status;
    irp->IoStatus.Information = information;
    IoCompleteRequest(irp, IO_NO_INCREMENT);
    return status;
}

static bool zero_length(const IO_STACK_LOCATION *sl)
{
    return (sl->MajorFunction == IRP_MJ_READ || sl->MajorFunction == IRP_MJ_WRITE) &&
           sl->Parameters.Read.Length == 0;
}

/* EvtIoInCallerContext: the driver sees each request in the requester's context (to probe
 * and lock METHOD_NEITHER buffers, say) before any queue does; it then hands it to its
 * queue with WdfDeviceEnqueueRequest, or completes it. The queue for the request's type was
 * checked to exist before (KMDF fails the request without calling back otherwise). */
static void present_in_caller_context(fx_device *dev, fx_queue *q, fx_request *r, KIRQL irql)
{
    /* Owned on behalf of its queue, so completion, purge and power-down find it. */
    fx_queue_own_locked(q, r);
    r->presented = true;
    r->in_caller_context = true;
    fx_io_unlock(dev, irql);
    FX_CALLBACK_BEGIN("EvtIoInCallerContext", &r->obj);
    dev->io_in_caller_context((WDFDEVICE)fx_handle(&dev->obj), fx_request_handle(r));
    FX_CALLBACK_END("EvtIoInCallerContext", &r->obj);
}

/* WdfDeviceEnqueueRequest: the queue the device dispatches this request type to. On
 * failure the request stays the driver's, which must complete it. */
static NTSTATUS enqueue_request(fx_device *dev, fx_request *r)
{
    KIRQL irql = fx_io_lock(dev);
    if (r->state != FX_REQ_OWNED || !r->in_caller_context) {
        fx_io_unlock(dev, irql);
        fx_verifier_break("WdfDeviceEnqueueRequest", "WDFREQUEST %p is not a request the "
                          "device presented through EvtIoInCallerContext",
                          (void *)fx_request_handle(r));
        return STATUS_INVALID_DEVICE_REQUEST;
    }
    fx_queue *q = r->queue;
    fx_queue_request_done_locked(q, r);   /* no longer owned: it waits in the queue */
    NTSTATUS status = fx_queue_insert_locked(q, r, false);
    if (!NT_SUCCESS(status)) {
        fx_queue_own_locked(q, r);        /* refused: still the driver's to complete */
        fx_io_unlock(dev, irql);
        return status;
    }
    r->in_caller_context = false;
    fx_queue_run(q, irql);
    return STATUS_SUCCESS;
}

NTSTATUS WdfDeviceEnqueueRequest(WDFDEVICE Device, WDFREQUEST Request)
{
    static const char ddi[] = "WdfDeviceEnqueueRequest";
    fx_device *dev = fx_device_from_handle(Device, ddi);
    fx_request *r = fx_request_from_handle(Request, ddi);
    if (!fx_check_irql(DISPATCH_LEVEL, ddi))
        return STATUS_INVALID_DEVICE_REQUEST;
    if (r->dev != dev) {
        fx_verifier_break(ddi, "WDFREQUEST %p belongs to another device", (void *)Request);
        return STATUS_INVALID_DEVICE_REQUEST;
    }
    return enqueue_request(dev, r);
}

NTSTATUS fx_io_dispatch(PDEVICE_OBJECT device, PIRP irp)
{
    fx_device *dev = fx_device_from_wdm(device);
    if (dev == NULL)
        return fx_complete_irp(irp, STATUS_INVALID_DEVICE_REQUEST, 0);
    PIO_STACK_LOCATION sl = IoGetCurrentIrpStackLocation(irp);
    UCHAR major = sl->MajorFunction;
    KIRQL irql = fx_io_lock(dev);
    fx_queue *q = major <= IRP_MJ_MAXIMUM_FUNCTION ? dev->dispatch[major] : NULL;
    fx_io_unlock(dev, irql);
    if (major == IRP_MJ_CREATE || major == IRP_MJ_CLOSE || major == IRP_MJ_CLEANUP)
        return fx_file_dispatch(dev, major == IRP_MJ_CREATE ? q : NULL, irp);
    if (q == NULL)
        return fx_complete_irp(irp, STATUS_INVALID_DEVICE_REQUEST, 0);
    if (zero_length(sl) && !q->config.AllowZeroLengthRequests)
        return fx_complete_irp(irp, STATUS_SUCCESS, 0);
    fx_request *r = fx_request_get(dev, irp);
    if (r == NULL)
        return fx_complete_irp(irp, STATUS_INSUFFICIENT_RESOURCES, 0);
    IoMarkIrpPending(irp);
    irql = fx_io_lock(dev);
    dev->outstanding_io++;
    if (dev->io_in_caller_context != NULL) {
        present_in_caller_context(dev, q, r, irql);
        return STATUS_PENDING;
    }
    NTSTATUS status = fx_queue_insert_locked(q, r, false);
    if (!NT_SUCCESS(status)) {
        fx_request_set_state(r, FX_REQ_CANCELING);   /* on no list: ours to complete */
        fx_io_unlock(dev, irql);
        fx_request_finish(r, status, 0);
        return STATUS_PENDING;
    }
    fx_queue_run(q, irql);
    return STATUS_PENDING;
}
