/*
 * wdfio.h - I/O queues. A queue receives the device's requests (all of them for the
 * default queue, or the types routed to it with WdfDeviceConfigureRequestDispatching)
 * and presents them to the driver sequentially, in parallel, or only on demand (manual).
 */
#ifndef _WDFIO_H_
#define _WDFIO_H_

#include "wdfobject.h"
#include "wdfrequest.h"

WDF_EXTERN_C_START

typedef enum _WDF_IO_QUEUE_DISPATCH_TYPE {
    WdfIoQueueDispatchInvalid = 0,
    /* One request at a time: the next is presented after the current one is completed. */
    WdfIoQueueDispatchSequential,
    /* As many at a time as Settings.Parallel.NumberOfPresentedRequests allows. */
    WdfIoQueueDispatchParallel,
    /* Never presented: the driver calls WdfIoQueueRetrieveNextRequest. */
    WdfIoQueueDispatchManual,
    WdfIoQueueDispatchMax,
} WDF_IO_QUEUE_DISPATCH_TYPE;

/* Bit flags returned by WdfIoQueueGetState. */
typedef enum _WDF_IO_QUEUE_STATE {
    WdfIoQueueAcceptRequests = 0x01,
    WdfIoQueueDispatchRequests = 0x02,
    WdfIoQueueNoRequests = 0x04,
    WdfIoQueueDriverNoRequests = 0x08,
    WdfIoQueuePnpHeld = 0x10,
} WDF_IO_QUEUE_STATE;

/* No request waits in the queue and none is owned by the driver. */
FORCEINLINE BOOLEAN WDF_IO_QUEUE_IDLE(_In_ WDF_IO_QUEUE_STATE State)
{
    return ((State & WdfIoQueueNoRequests) && (State & WdfIoQueueDriverNoRequests)) ? TRUE : FALSE;
}

/* Accepting and dispatching, and not held by PnP/power. */
FORCEINLINE BOOLEAN WDF_IO_QUEUE_READY(_In_ WDF_IO_QUEUE_STATE State)
{
    return ((State & WdfIoQueueDispatchRequests) && (State & WdfIoQueueAcceptRequests) &&
            ((State & WdfIoQueuePnpHeld) == 0))
               ? TRUE
               : FALSE;
}

/* Accepting but not dispatching, and the driver owns no request. */
FORCEINLINE BOOLEAN WDF_IO_QUEUE_STOPPED(_In_ WDF_IO_QUEUE_STATE State)
{
    return (((State & WdfIoQueueDispatchRequests) == 0) && (State & WdfIoQueueAcceptRequests) &&
            (State & WdfIoQueueDriverNoRequests))
               ? TRUE
               : FALSE;
}

/* Not accepting, still dispatching, and empty. */
FORCEINLINE BOOLEAN WDF_IO_QUEUE_DRAINED(_In_ WDF_IO_QUEUE_STATE State)
{
    return (((State & WdfIoQueueAcceptRequests) == 0) && (State & WdfIoQueueDispatchRequests) &&
            (State & WdfIoQueueNoRequests) && (State & WdfIoQueueDriverNoRequests))
               ? TRUE
               : FALSE;
}

/* Not accepting and empty. */
FORCEINLINE BOOLEAN WDF_IO_QUEUE_PURGED(_In_ WDF_IO_QUEUE_STATE State)
{
    return (((State & WdfIoQueueAcceptRequests) == 0) && (State & WdfIoQueueNoRequests) &&
            (State & WdfIoQueueDriverNoRequests))
               ? TRUE
               : FALSE;
}

/* ---- Request handlers (<= DISPATCH; PASSIVE for passive-level queues) ---------------- */

typedef _Function_class_(EVT_WDF_IO_QUEUE_IO_DEFAULT) _IRQL_requires_same_
    _IRQL_requires_max_(DISPATCH_LEVEL)
VOID NTAPI EVT_WDF_IO_QUEUE_IO_DEFAULT(_In_ WDFQUEUE Queue, _In_ WDFREQUEST Request);
typedef EVT_WDF_IO_QUEUE_IO_DEFAULT *PFN_WDF_IO_QUEUE_IO_DEFAULT;

/*
 * The device is leaving D0 or the queue is being purged while the driver owns Request
 * (ActionFlags: WDF_REQUEST_STOP_ACTION_FLAGS). Acknowledge, complete, or keep it.
 */
typedef _Function_class_(EVT_WDF_IO_QUEUE_IO_STOP) _IRQL_requires_same_
    _IRQL_requires_max_(DISPATCH_LEVEL)
VOID NTAPI EVT_WDF_IO_QUEUE_IO_STOP(_In_ WDFQUEUE Queue, _In_ WDFREQUEST Request,
                                    _In_ ULONG ActionFlags);
typedef EVT_WDF_IO_QUEUE_IO_STOP *PFN_WDF_IO_QUEUE_IO_STOP;

typedef _Function_class_(EVT_WDF_IO_QUEUE_IO_RESUME) _IRQL_requires_same_
    _IRQL_requires_max_(DISPATCH_LEVEL)
VOID NTAPI EVT_WDF_IO_QUEUE_IO_RESUME(_In_ WDFQUEUE Queue, _In_ WDFREQUEST Request);
typedef EVT_WDF_IO_QUEUE_IO_RESUME *PFN_WDF_IO_QUEUE_IO_RESUME;

typedef _Function_class_(EVT_WDF_IO_QUEUE_IO_READ) _IRQL_requires_same_
    _IRQL_requires_max_(DISPATCH_LEVEL)
VOID NTAPI EVT_WDF_IO_QUEUE_IO_READ(_In_ WDFQUEUE Queue, _In_ WDFREQUEST Request,
                                    _In_ size_t Length);
typedef EVT_WDF_IO_QUEUE_IO_READ *PFN_WDF_IO_QUEUE_IO_READ;

typedef _Function_class_(EVT_WDF_IO_QUEUE_IO_WRITE) _IRQL_requires_same_
    _IRQL_requires_max_(DISPATCH_LEVEL)
VOID NTAPI EVT_WDF_IO_QUEUE_IO_WRITE(_In_ WDFQUEUE Queue, _In_ WDFREQUEST Request,
                                     _In_ size_t Length);
typedef EVT_WDF_IO_QUEUE_IO_WRITE *PFN_WDF_IO_QUEUE_IO_WRITE;

typedef _Function_class_(EVT_WDF_IO_QUEUE_IO_DEVICE_CONTROL) _IRQL_requires_same_
    _IRQL_requires_max_(DISPATCH_LEVEL)
VOID NTAPI EVT_WDF_IO_QUEUE_IO_DEVICE_CONTROL(_In_ WDFQUEUE Queue, _In_ WDFREQUEST Request,
                                              _In_ size_t OutputBufferLength,
                                              _In_ size_t InputBufferLength,
                                              _In_ ULONG IoControlCode);
typedef EVT_WDF_IO_QUEUE_IO_DEVICE_CONTROL *PFN_WDF_IO_QUEUE_IO_DEVICE_CONTROL;

typedef _Function_class_(EVT_WDF_IO_QUEUE_IO_INTERNAL_DEVICE_CONTROL) _IRQL_requires_same_
    _IRQL_requires_max_(DISPATCH_LEVEL)
VOID NTAPI EVT_WDF_IO_QUEUE_IO_INTERNAL_DEVICE_CONTROL(_In_ WDFQUEUE Queue,
                                                       _In_ WDFREQUEST Request,
                                                       _In_ size_t OutputBufferLength,
                                                       _In_ size_t InputBufferLength,
                                                       _In_ ULONG IoControlCode);
typedef EVT_WDF_IO_QUEUE_IO_INTERNAL_DEVICE_CONTROL *PFN_WDF_IO_QUEUE_IO_INTERNAL_DEVICE_CONTROL;

/* A request still in the queue (not yet presented) was cancelled. */
typedef _Function_class_(EVT_WDF_IO_QUEUE_IO_CANCELED_ON_QUEUE) _IRQL_requires_same_
    _IRQL_requires_max_(DISPATCH_LEVEL)
VOID NTAPI EVT_WDF_IO_QUEUE_IO_CANCELED_ON_QUEUE(_In_ WDFQUEUE Queue, _In_ WDFREQUEST Request);
typedef EVT_WDF_IO_QUEUE_IO_CANCELED_ON_QUEUE *PFN_WDF_IO_QUEUE_IO_CANCELED_ON_QUEUE;

/* Completion of WdfIoQueueStop / Purge / Drain, and WdfIoQueueReadyNotify. */
typedef _Function_class_(EVT_WDF_IO_QUEUE_STATE) _IRQL_requires_same_
    _IRQL_requires_max_(DISPATCH_LEVEL)
VOID NTAPI EVT_WDF_IO_QUEUE_STATE(_In_ WDFQUEUE Queue, _In_ WDFCONTEXT Context);
typedef EVT_WDF_IO_QUEUE_STATE *PFN_WDF_IO_QUEUE_STATE;

typedef struct _WDF_IO_QUEUE_CONFIG {
    ULONG Size;
    WDF_IO_QUEUE_DISPATCH_TYPE DispatchType;
    /* WdfUseDefault: power-managed unless the driver is a filter. */
    WDF_TRI_STATE PowerManaged;
    BOOLEAN AllowZeroLengthRequests;
    BOOLEAN DefaultQueue;
    PFN_WDF_IO_QUEUE_IO_DEFAULT EvtIoDefault;
    PFN_WDF_IO_QUEUE_IO_READ EvtIoRead;
    PFN_WDF_IO_QUEUE_IO_WRITE EvtIoWrite;
    PFN_WDF_IO_QUEUE_IO_DEVICE_CONTROL EvtIoDeviceControl;
    PFN_WDF_IO_QUEUE_IO_INTERNAL_DEVICE_CONTROL EvtIoInternalDeviceControl;
    PFN_WDF_IO_QUEUE_IO_STOP EvtIoStop;
    PFN_WDF_IO_QUEUE_IO_RESUME EvtIoResume;
    PFN_WDF_IO_QUEUE_IO_CANCELED_ON_QUEUE EvtIoCanceledOnQueue;
    union {
        struct {
            /* (ULONG)-1 = unlimited. */
            ULONG NumberOfPresentedRequests;
        } Parallel;
    } Settings;
    WDFDRIVER Driver;
} WDF_IO_QUEUE_CONFIG, *PWDF_IO_QUEUE_CONFIG;

FORCEINLINE VOID WDF_IO_QUEUE_CONFIG_INIT(_Out_ PWDF_IO_QUEUE_CONFIG Config,
                                          _In_ WDF_IO_QUEUE_DISPATCH_TYPE DispatchType)
{
    RtlZeroMemory(Config, sizeof(WDF_IO_QUEUE_CONFIG));
    Config->Size = WDF_STRUCTURE_SIZE(WDF_IO_QUEUE_CONFIG);
    Config->PowerManaged = WdfUseDefault;
    Config->DispatchType = DispatchType;
    if (Config->DispatchType == WdfIoQueueDispatchParallel) {
        Config->Settings.Parallel.NumberOfPresentedRequests = (ULONG)-1;
    }
}

FORCEINLINE VOID WDF_IO_QUEUE_CONFIG_INIT_DEFAULT_QUEUE(_Out_ PWDF_IO_QUEUE_CONFIG Config,
                                                        _In_ WDF_IO_QUEUE_DISPATCH_TYPE DispatchType)
{
    RtlZeroMemory(Config, sizeof(WDF_IO_QUEUE_CONFIG));
    Config->Size = WDF_STRUCTURE_SIZE(WDF_IO_QUEUE_CONFIG);
    Config->PowerManaged = WdfUseDefault;
    Config->DefaultQueue = TRUE;
    Config->DispatchType = DispatchType;
    if (Config->DispatchType == WdfIoQueueDispatchParallel) {
        Config->Settings.Parallel.NumberOfPresentedRequests = (ULONG)-1;
    }
}

/*
 * <= DISPATCH. Creates a queue of Device (parent: the device, or a descendant given in
 * QueueAttributes). A device has at most one default queue. Queue may be WDF_NO_HANDLE.
 */
_Must_inspect_result_ _IRQL_requires_max_(DISPATCH_LEVEL)
WDFAPI NTSTATUS WdfIoQueueCreate(_In_ WDFDEVICE Device, _In_ PWDF_IO_QUEUE_CONFIG Config,
                                 _In_opt_ PWDF_OBJECT_ATTRIBUTES QueueAttributes,
                                 _Out_opt_ WDFQUEUE *Queue);

/* <= DISPATCH. State flags; the optional counts are requests queued / owned by the driver. */
_IRQL_requires_max_(DISPATCH_LEVEL)
WDFAPI WDF_IO_QUEUE_STATE WdfIoQueueGetState(_In_ WDFQUEUE Queue, _Out_opt_ PULONG QueueRequests,
                                             _Out_opt_ PULONG DriverRequests);

/* <= DISPATCH. Accept and dispatch requests again. */
_IRQL_requires_max_(DISPATCH_LEVEL)
WDFAPI VOID WdfIoQueueStart(_In_ WDFQUEUE Queue);

/*
 * <= DISPATCH. Keep accepting but stop presenting requests; StopComplete runs once the
 * driver owns none of the queue's requests.
 */
_IRQL_requires_max_(DISPATCH_LEVEL)
WDFAPI VOID WdfIoQueueStop(_In_ WDFQUEUE Queue, _In_opt_ PFN_WDF_IO_QUEUE_STATE StopComplete,
                           _In_opt_ WDFCONTEXT Context);

/* PASSIVE. WdfIoQueueStop, then wait for it. */
_IRQL_requires_max_(PASSIVE_LEVEL)
WDFAPI VOID WdfIoQueueStopSynchronously(_In_ WDFQUEUE Queue);

_IRQL_requires_max_(DISPATCH_LEVEL)
WDFAPI WDFDEVICE WdfIoQueueGetDevice(_In_ WDFQUEUE Queue);

/*
 * <= DISPATCH. Manual queues (or any queue, for requests the framework has not
 * presented): the next request, or STATUS_NO_MORE_ENTRIES when the queue is empty.
 */
_Must_inspect_result_ _IRQL_requires_max_(DISPATCH_LEVEL)
WDFAPI NTSTATUS WdfIoQueueRetrieveNextRequest(_In_ WDFQUEUE Queue, _Out_ WDFREQUEST *OutRequest);

/* <= DISPATCH. Stop accepting; let queued and driver-owned requests finish. */
_IRQL_requires_max_(DISPATCH_LEVEL)
WDFAPI VOID WdfIoQueueDrain(_In_ WDFQUEUE Queue, _In_opt_ PFN_WDF_IO_QUEUE_STATE DrainComplete,
                            _In_opt_ WDFCONTEXT Context);

_IRQL_requires_max_(PASSIVE_LEVEL)
WDFAPI VOID WdfIoQueueDrainSynchronously(_In_ WDFQUEUE Queue);

/*
 * <= DISPATCH. Stop accepting; cancel queued requests (STATUS_CANCELLED) and cancel
 * driver-owned requests that are marked cancelable; PurgeComplete runs when empty.
 */
_IRQL_requires_max_(DISPATCH_LEVEL)
WDFAPI VOID WdfIoQueuePurge(_In_ WDFQUEUE Queue, _In_opt_ PFN_WDF_IO_QUEUE_STATE PurgeComplete,
                            _In_opt_ WDFCONTEXT Context);

_IRQL_requires_max_(PASSIVE_LEVEL)
WDFAPI VOID WdfIoQueuePurgeSynchronously(_In_ WDFQUEUE Queue);

/*
 * <= DISPATCH. Manual queues: QueueReady runs each time the queue goes from empty to
 * non-empty. QueueReady NULL cancels the registration. STATUS_INVALID_DEVICE_STATE if a
 * callback is already registered.
 */
_Must_inspect_result_ _IRQL_requires_max_(DISPATCH_LEVEL)
WDFAPI NTSTATUS WdfIoQueueReadyNotify(_In_ WDFQUEUE Queue,
                                      _In_opt_ PFN_WDF_IO_QUEUE_STATE QueueReady,
                                      _In_opt_ WDFCONTEXT Context);

WDF_EXTERN_C_END

#endif /* _WDFIO_H_ */
