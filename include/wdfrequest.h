/*
 * wdfrequest.h - framework requests: an I/O request (IRP) presented by a queue. The
 * driver owns a request from the moment a queue presents it until it completes,
 * requeues or forwards it; completing it ends its life.
 */
#ifndef _WDFREQUEST_H_
#define _WDFREQUEST_H_

#include "wdfobject.h"

WDF_EXTERN_C_START

/* The request's IRP major function (IRP_MJ_* values), plus framework-only kinds. */
typedef enum _WDF_REQUEST_TYPE {
    WdfRequestTypeCreate = 0x0,
    WdfRequestTypeCreateNamedPipe = 0x1,
    WdfRequestTypeClose = 0x2,
    WdfRequestTypeRead = 0x3,
    WdfRequestTypeWrite = 0x4,
    WdfRequestTypeQueryInformation = 0x5,
    WdfRequestTypeSetInformation = 0x6,
    WdfRequestTypeQueryEA = 0x7,
    WdfRequestTypeSetEA = 0x8,
    WdfRequestTypeFlushBuffers = 0x9,
    WdfRequestTypeQueryVolumeInformation = 0xa,
    WdfRequestTypeSetVolumeInformation = 0xb,
    WdfRequestTypeDirectoryControl = 0xc,
    WdfRequestTypeFileSystemControl = 0xd,
    WdfRequestTypeDeviceControl = 0xe,
    WdfRequestTypeDeviceControlInternal = 0xf,
    WdfRequestTypeShutdown = 0x10,
    WdfRequestTypeLockControl = 0x11,
    WdfRequestTypeCleanup = 0x12,
    WdfRequestTypeCreateMailSlot = 0x13,
    WdfRequestTypeQuerySecurity = 0x14,
    WdfRequestTypeSetSecurity = 0x15,
    WdfRequestTypePower = 0x16,
    WdfRequestTypeSystemControl = 0x17,
    WdfRequestTypeDeviceChange = 0x18,
    WdfRequestTypeQueryQuota = 0x19,
    WdfRequestTypeSetQuota = 0x1A,
    WdfRequestTypePnp = 0x1B,
    WdfRequestTypeOther = 0x1C,
    WdfRequestTypeUsb = 0x40,
    WdfRequestTypeNoFormat = 0xFF,
    WdfRequestTypeMax,
} WDF_REQUEST_TYPE;

/* ActionFlags of EvtIoStop. */
typedef enum _WDF_REQUEST_STOP_ACTION_FLAGS {
    WdfRequestStopActionInvalid = 0,
    /* The device is leaving D0; the request may be held and resumed (EvtIoResume). */
    WdfRequestStopActionSuspend = 0x01,
    /* The queue is being purged or the device removed: finish the request soon. */
    WdfRequestStopActionPurge = 0x2,
    /* Or'ed in when the request is currently cancelable. */
    WdfRequestStopRequestCancelable = 0x10000000,
} WDF_REQUEST_STOP_ACTION_FLAGS;

/*
 * <= DISPATCH. The request was cancelled while marked cancelable. The callback owns the
 * request (it is no longer cancelable) and must complete it, normally with
 * STATUS_CANCELLED, possibly after stopping the hardware (WdfDmaTransactionCancel).
 */
typedef _Function_class_(EVT_WDF_REQUEST_CANCEL) _IRQL_requires_same_
    _IRQL_requires_max_(DISPATCH_LEVEL)
VOID NTAPI EVT_WDF_REQUEST_CANCEL(_In_ WDFREQUEST Request);
typedef EVT_WDF_REQUEST_CANCEL *PFN_WDF_REQUEST_CANCEL;

/* The request's IRP stack-location parameters, in the framework's layout. */
typedef struct _WDF_REQUEST_PARAMETERS {
    USHORT Size;
    UCHAR MinorFunction;
    WDF_REQUEST_TYPE Type;
    union {
        struct {
            struct _IO_SECURITY_CONTEXT *SecurityContext;
            ULONG Options;
            USHORT POINTER_ALIGNMENT FileAttributes;
            USHORT ShareAccess;
            ULONG POINTER_ALIGNMENT EaLength;
        } Create;
        struct {
            size_t Length;
            ULONG POINTER_ALIGNMENT Key;
            LONGLONG DeviceOffset;
        } Read;
        struct {
            size_t Length;
            ULONG POINTER_ALIGNMENT Key;
            LONGLONG DeviceOffset;
        } Write;
        struct {
            size_t OutputBufferLength;
            size_t POINTER_ALIGNMENT InputBufferLength;
            ULONG POINTER_ALIGNMENT IoControlCode;
            PVOID Type3InputBuffer;
        } DeviceIoControl;
        struct {
            PVOID Arg1;
            PVOID Arg2;
            ULONG POINTER_ALIGNMENT IoControlCode;
            PVOID Arg4;
        } Others;
    } Parameters;
} WDF_REQUEST_PARAMETERS, *PWDF_REQUEST_PARAMETERS;

FORCEINLINE VOID WDF_REQUEST_PARAMETERS_INIT(_Out_ PWDF_REQUEST_PARAMETERS Parameters)
{
    RtlZeroMemory(Parameters, sizeof(WDF_REQUEST_PARAMETERS));
    Parameters->Size = (USHORT)WDF_STRUCTURE_SIZE(WDF_REQUEST_PARAMETERS);
}

/* ---- Completion --------------------------------------------------------------------- */

/*
 * <= DISPATCH. Completes the request; the handle is invalid afterwards. Completing a
 * request whose DMA transaction is still transferring is a fatal error (bug check).
 */
_IRQL_requires_max_(DISPATCH_LEVEL)
WDFAPI VOID WdfRequestComplete(_In_ WDFREQUEST Request, _In_ NTSTATUS Status);

_IRQL_requires_max_(DISPATCH_LEVEL)
WDFAPI VOID WdfRequestCompleteWithPriorityBoost(_In_ WDFREQUEST Request, _In_ NTSTATUS Status,
                                                _In_ CCHAR PriorityBoost);

/* <= DISPATCH. Information is the byte count for reads and writes. */
_IRQL_requires_max_(DISPATCH_LEVEL)
WDFAPI VOID WdfRequestCompleteWithInformation(_In_ WDFREQUEST Request, _In_ NTSTATUS Status,
                                              _In_ ULONG_PTR Information);

_IRQL_requires_max_(DISPATCH_LEVEL)
WDFAPI VOID WdfRequestSetInformation(_In_ WDFREQUEST Request, _In_ ULONG_PTR Information);

_IRQL_requires_max_(DISPATCH_LEVEL)
WDFAPI ULONG_PTR WdfRequestGetInformation(_In_ WDFREQUEST Request);

/* <= DISPATCH. The request's current status (STATUS_PENDING while the driver owns it). */
_Must_inspect_result_ _IRQL_requires_max_(DISPATCH_LEVEL)
WDFAPI NTSTATUS WdfRequestGetStatus(_In_ WDFREQUEST Request);

/* ---- Parameters and buffers ---------------------------------------------------------- */

/* <= DISPATCH. Parameters must have been set up with WDF_REQUEST_PARAMETERS_INIT. */
_IRQL_requires_max_(DISPATCH_LEVEL)
WDFAPI VOID WdfRequestGetParameters(_In_ WDFREQUEST Request,
                                    _Out_ PWDF_REQUEST_PARAMETERS Parameters);

_Must_inspect_result_ _IRQL_requires_max_(DISPATCH_LEVEL)
WDFAPI NTSTATUS WdfRequestRetrieveInputMemory(_In_ WDFREQUEST Request, _Out_ WDFMEMORY *Memory);

_Must_inspect_result_ _IRQL_requires_max_(DISPATCH_LEVEL)
WDFAPI NTSTATUS WdfRequestRetrieveOutputMemory(_In_ WDFREQUEST Request, _Out_ WDFMEMORY *Memory);

/*
 * <= DISPATCH. The request's input (write / IOCTL input) buffer.
 * STATUS_BUFFER_TOO_SMALL if shorter than MinimumRequiredLength;
 * STATUS_INVALID_DEVICE_REQUEST for a read or METHOD_NEITHER request.
 */
_Must_inspect_result_ _IRQL_requires_max_(DISPATCH_LEVEL)
WDFAPI NTSTATUS WdfRequestRetrieveInputBuffer(_In_ WDFREQUEST Request,
                                              _In_ size_t MinimumRequiredLength,
                                              _Outptr_result_bytebuffer_(*Length) PVOID *Buffer,
                                              _Out_opt_ size_t *Length);

/* <= DISPATCH. The request's output (read / IOCTL output) buffer. */
_Must_inspect_result_ _IRQL_requires_max_(DISPATCH_LEVEL)
WDFAPI NTSTATUS WdfRequestRetrieveOutputBuffer(_In_ WDFREQUEST Request,
                                               _In_ size_t MinimumRequiredSize,
                                               _Outptr_result_bytebuffer_(*Length) PVOID *Buffer,
                                               _Out_opt_ size_t *Length);

/* <= DISPATCH. The MDL describing the input buffer (direct I/O, or built on demand). */
_Must_inspect_result_ _IRQL_requires_max_(DISPATCH_LEVEL)
WDFAPI NTSTATUS WdfRequestRetrieveInputWdmMdl(_In_ WDFREQUEST Request, _Outptr_ PMDL *Mdl);

_Must_inspect_result_ _IRQL_requires_max_(DISPATCH_LEVEL)
WDFAPI NTSTATUS WdfRequestRetrieveOutputWdmMdl(_In_ WDFREQUEST Request, _Outptr_ PMDL *Mdl);

_IRQL_requires_max_(DISPATCH_LEVEL)
WDFAPI KPROCESSOR_MODE WdfRequestGetRequestorMode(_In_ WDFREQUEST Request);

_IRQL_requires_max_(DISPATCH_LEVEL)
WDFAPI WDFFILEOBJECT WdfRequestGetFileObject(_In_ WDFREQUEST Request);

_IRQL_requires_max_(DISPATCH_LEVEL)
WDFAPI PIRP WdfRequestWdmGetIrp(_In_ WDFREQUEST Request);

/* ---- Cancellation -------------------------------------------------------------------- */

/*
 * <= DISPATCH. Makes the request cancelable. If it has already been cancelled,
 * EvtRequestCancel is called before this returns (MarkCancelableEx instead returns
 * STATUS_CANCELLED and does not call it: the caller completes the request).
 */
_IRQL_requires_max_(DISPATCH_LEVEL)
WDFAPI VOID WdfRequestMarkCancelable(_In_ WDFREQUEST Request,
                                     _In_ PFN_WDF_REQUEST_CANCEL EvtRequestCancel);

_Must_inspect_result_ _IRQL_requires_max_(DISPATCH_LEVEL)
WDFAPI NTSTATUS WdfRequestMarkCancelableEx(_In_ WDFREQUEST Request,
                                           _In_ PFN_WDF_REQUEST_CANCEL EvtRequestCancel);

/*
 * <= DISPATCH. STATUS_CANCELLED if EvtRequestCancel has been (or is being) called: the
 * cancel routine then owns completion, and the caller must not complete the request.
 */
_Must_inspect_result_ _IRQL_requires_max_(DISPATCH_LEVEL)
WDFAPI NTSTATUS WdfRequestUnmarkCancelable(_In_ WDFREQUEST Request);

_Must_inspect_result_ _IRQL_requires_max_(DISPATCH_LEVEL)
WDFAPI BOOLEAN WdfRequestIsCanceled(_In_ WDFREQUEST Request);

/* ---- Queues --------------------------------------------------------------------------- */

/* <= DISPATCH. Moves a request the driver owns to another queue of the same device. */
_Must_inspect_result_ _IRQL_requires_max_(DISPATCH_LEVEL)
WDFAPI NTSTATUS WdfRequestForwardToIoQueue(_In_ WDFREQUEST Request,
                                           _In_ WDFQUEUE DestinationQueue);

/* <= DISPATCH. Puts the request back at the head of the queue that presented it (manual). */
_Must_inspect_result_ _IRQL_requires_max_(DISPATCH_LEVEL)
WDFAPI NTSTATUS WdfRequestRequeue(_In_ WDFREQUEST Request);

_IRQL_requires_max_(DISPATCH_LEVEL)
WDFAPI WDFQUEUE WdfRequestGetIoQueue(_In_ WDFREQUEST Request);

/*
 * <= DISPATCH. From EvtIoStop (or later): the driver has suspended the request.
 * Requeue TRUE puts it back into its queue; FALSE keeps it with the driver.
 */
_IRQL_requires_max_(DISPATCH_LEVEL)
WDFAPI VOID WdfRequestStopAcknowledge(_In_ WDFREQUEST Request, _In_ BOOLEAN Requeue);

WDF_EXTERN_C_END

#endif /* _WDFREQUEST_H_ */
