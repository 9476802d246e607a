/*
 * The framework's IRP dispatch routine (KMDF FxPkgIo / FxPkgGeneral): an IRP becomes a
 * WDFREQUEST and goes to the queue configured for its type, or to the default queue.
 *
 *  - IRP_MJ_CREATE goes to a queue only if the driver routed it there with
 *    WdfDeviceConfigureRequestDispatching; otherwise the framework succeeds it, as it
 *    does IRP_MJ_CLEANUP and IRP_MJ_CLOSE (no file-object callbacks in this model).
 *  - No queue for the type: STATUS_INVALID_DEVICE_REQUEST.
 *  - Zero-length reads and writes are completed with STATUS_SUCCESS unless the queue set
 *    AllowZeroLengthRequests.
 *  - A queue that does not accept requests (drained, purged, device removed):
 *    STATUS_INVALID_DEVICE_STATE.
 * Every queued IRP is marked pending and STATUS_PENDING returned, even when the driver
 * completes it before this routine returns.
 */
#include "fx/io.h"

static NTSTATUS complete_irp(PIRP irp, NTSTATUS status, ULONG_PTR information)
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

NTSTATUS fx_io_dispatch(PDEVICE_OBJECT device, PIRP irp)
{
    fx_device *dev = fx_device_from_wdm(device);
    if (dev == NULL)
        return complete_irp(irp, STATUS_INVALID_DEVICE_REQUEST, 0);
    PIO_STACK_LOCATION sl = IoGetCurrentIrpStackLocation(irp);
    UCHAR major = sl->MajorFunction;
    KIRQL irql = fx_io_lock(dev);
    fx_queue *q = major <= IRP_MJ_MAXIMUM_FUNCTION ? dev->dispatch[major] : NULL;
    fx_io_unlock(dev, irql);
    if (q == NULL) {
        if (major == IRP_MJ_CREATE || major == IRP_MJ_CLOSE || major == IRP_MJ_CLEANUP)
            return complete_irp(irp, STATUS_SUCCESS, 0);
        return complete_irp(irp, STATUS_INVALID_DEVICE_REQUEST, 0);
    }
    if (zero_length(sl) && !q->config.AllowZeroLengthRequests)
        return complete_irp(irp, STATUS_SUCCESS, 0);
    fx_request *r = fx_request_get(dev, irp);
    if (r == NULL)
        return complete_irp(irp, STATUS_INSUFFICIENT_RESOURCES, 0);
    IoMarkIrpPending(irp);
    irql = fx_io_lock(dev);
    dev->outstanding_io++;
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
