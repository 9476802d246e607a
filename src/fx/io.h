/*
 * The framework's I/O objects (queue.c, request.c, iodispatch.c): WDFQUEUE and WDFREQUEST.
 *
 * One lock per device, fx_io_lock(dev) (a spin lock at DISPATCH_LEVEL), protects every
 * queue list, every request's state and the device's request free list. Lock order:
 * presentation (callback) lock → I/O lock; the IRP cancel spin lock is always released
 * before the I/O lock is taken. Never held while calling the driver, IoCompleteRequest or
 * IoCancelIrp.
 */
#ifndef WDFDMA_FX_IO_H
#define WDFDMA_FX_IO_H

#include "fx/device.h"
#include "wdm/io_internal.h"

/* Request states (diagram in request.c). */
typedef enum fx_request_state {
    FX_REQ_FREE = 1,       /* on the device's free list; the handle is stale */
    FX_REQ_QUEUED,         /* waiting in a queue (IRP cancel routine armed) */
    FX_REQ_CANCELING,      /* taken off a queue by a cancel that is still running */
    FX_REQ_OWNED,          /* the driver owns it (presented, retrieved, cancel-notified) */
    FX_REQ_COMPLETING,     /* completion deferred to a running IRP cancel routine */
} fx_request_state;

typedef enum fx_stop_state {
    FX_STOP_NONE = 0,
    FX_STOP_NOTIFIED,      /* EvtIoStop called, waiting for complete/acknowledge */
    FX_STOP_ACKED,         /* WdfRequestStopAcknowledge(FALSE): held by the driver */
} fx_stop_state;

typedef struct fx_request {
    fx_object obj;
    fx_device *dev;
    struct fx_request *next_free;
    LIST_ENTRY link;                 /* queue pending / owned / cancel list */
    struct fx_queue *queue;          /* the queue it waits in or was presented by */
    PIRP irp;
    fx_request_state state;
    uint32_t history;                /* last eight states, 4 bits each (reports) */
    NTSTATUS status;                 /* STATUS_PENDING until completed */
    ULONG_PTR information;
    bool presented;                  /* reached the driver through a callback */
    bool in_caller_context;          /* presented by EvtIoInCallerContext, not yet queued */
    bool cancel_armed;               /* an IRP cancel routine of ours is installed */
    bool cancel_fired;               /* the IRP cancel routine ran (IsCanceled) */
    bool on_cancel_list;             /* waiting for EvtRequestCancel / CanceledOnQueue */
    bool driver_cancelable;          /* MarkCancelable in effect */
    bool cancel_called;              /* EvtRequestCancel called (or about to be) since the
                                        last MarkCancelable: Unmark says STATUS_CANCELLED */
    PFN_WDF_REQUEST_CANCEL evt_cancel;
    fx_stop_state stop;
    CCHAR boost;
    /* built on demand, released at completion */
    PMDL input_mdl, output_mdl;      /* MDLs built over the system buffer */
    WDFMEMORY input_memory, output_memory;
    fx_request_complete_check check;
    void *check_ctx;
    PFN_WDF_OBJECT_CONTEXT_CLEANUP evt_cleanup;   /* request attributes, per request */
    PFN_WDF_OBJECT_CONTEXT_DESTROY evt_destroy;
} fx_request;

typedef struct fx_queue {
    fx_object obj;
    fx_device *dev;
    LIST_ENTRY dev_link;             /* dev->queues */
    WDF_IO_QUEUE_CONFIG config;
    bool power_managed;
    ULONG max_presented;             /* 1 sequential, N parallel, 0 manual */
    fx_sync_lock *presentation;      /* NULL: synchronization scope None */
    fx_sync_lock own_lock;           /* scope Queue */
    /* state (fx_io_lock) */
    bool accepting;                  /* WdfIoQueueStart / Drain / Purge */
    bool dispatching;                /* WdfIoQueueStart / Stop */
    bool powered;                    /* PnP: D0 and started (power-managed queues) */
    bool power_stopping;             /* fx_io_power_down waits for acknowledgements */
    bool power_purging;              /* fx_io_purge: EvtIoStop(Purge), wait for completion */
    bool resume_pending;             /* fx_io_power_up: EvtIoResume for acknowledged requests */
    bool cancel_dispatched;          /* purging: requeued/cancelable requests are cancelled */
    bool deleted;
    bool in_dispatch;                /* a thread runs the dispatch loop */
    bool rerun;                      /* state changed while the loop ran */
    LIST_ENTRY pending;              /* FX_REQ_QUEUED, FIFO */
    LIST_ENTRY owned;                /* FX_REQ_OWNED attributed to this queue */
    LIST_ENTRY cancelled;            /* owned requests waiting for EvtRequestCancel */
    LIST_ENTRY cancelled_on_queue;   /* waiting for EvtIoCanceledOnQueue */
    LIST_ENTRY complete_cancelled;   /* to complete with STATUS_CANCELLED */
    ULONG pending_count, owned_count;
    ULONG presenting;                /* callbacks running right now */
    PFN_WDF_IO_QUEUE_STATE stop_cb, purge_cb, drain_cb, ready_cb;
    WDFCONTEXT stop_ctx, purge_ctx, drain_ctx, ready_ctx;
    bool ready_armed;                /* manual queue went empty: notify on the next insert */
} fx_queue;

/* ---- shared between queue.c, request.c and iodispatch.c --------------------------------- */
KIRQL fx_io_lock(fx_device *dev);
void fx_io_unlock(fx_device *dev, KIRQL irql);

fx_queue *fx_queue_from_handle(WDFQUEUE handle, const char *ddi);
fx_request *fx_request_from_handle(WDFREQUEST handle, const char *ddi);
static inline WDFREQUEST fx_request_handle(fx_request *r) { return (WDFREQUEST)fx_handle(&r->obj); }
static inline WDFQUEUE fx_queue_handle(fx_queue *q) { return (WDFQUEUE)fx_handle(&q->obj); }

/* request.c */
/* A request for `irp` from the device's free list (allocated when empty). NULL: out of
 * memory. Caller holds nothing. */
fx_request *fx_request_get(fx_device *dev, PIRP irp);
/* Complete an IRP the framework answers itself (no request object); returns `status`. */
NTSTATUS fx_complete_irp(PIRP irp, NTSTATUS status, ULONG_PTR information);
void fx_request_set_state(fx_request *r, fx_request_state s);
/* Complete with the lock not held; the request goes back to the free list. */
void fx_request_finish(fx_request *r, NTSTATUS status, ULONG_PTR information);
/* Arm / disarm the IRP cancel routine (I/O lock held). disarm returns false when IoCancelIrp
 * already took the routine: it will run and owns the cancellation. */
void fx_request_arm_cancel(fx_request *r);
bool fx_request_disarm_cancel(fx_request *r);

/* queue.c */
/* Insert a new, forwarded or requeued (at_head) request (I/O lock held). STATUS_SUCCESS, or
 * STATUS_INVALID_DEVICE_STATE when the queue does not accept new requests (at_head ignores
 * that): the caller then completes it. An already cancelled IRP, or a requeue into a
 * purging queue, is cancelled by the queue's loop (the caller still gets success). */
NTSTATUS fx_queue_insert_locked(fx_queue *q, fx_request *r, bool at_head);
/* The driver owns `r` on behalf of `q` (EvtIoInCallerContext, before q presents it). */
void fx_queue_own_locked(fx_queue *q, fx_request *r);
/* Run the queue's dispatch loop; called with the I/O lock held, returns with it released. */
void fx_queue_run(fx_queue *q, KIRQL irql);
/* A request attributed to q left the driver (completed, forwarded): I/O lock held. */
void fx_queue_request_done_locked(fx_queue *q, fx_request *r);
/* An IRP cancel routine fired for r (I/O lock held; returns with it released). */
void fx_queue_cancel_fired(fx_request *r, KIRQL irql);
/* Invoke a driver callback under q's presentation lock (no I/O lock held). */
void fx_queue_present_lock(fx_queue *q);
void fx_queue_present_unlock(fx_queue *q);

#endif
