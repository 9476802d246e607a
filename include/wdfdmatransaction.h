/*
 * wdfdmatransaction.h - DMA transactions. A transaction moves one buffer (an MDL chain,
 * usually a request's) to or from the device; the framework splits it into transfers
 * that fit the enabler's limits and calls EvtProgramDma once per transfer.
 *
 * Life cycle (reusable): Create -> [AllocateResources] -> Initialize* -> Execute ->
 * EvtProgramDma -> (device finishes) -> DmaCompleted* -> ... -> Release -> Initialize*
 * again, or Delete. Calling a DDI in a state that does not allow it is a bug check
 * (0x10D, WDF_DMA_FATAL_ERROR).
 *
 * EvtProgramDma may run synchronously inside Execute and inside DmaCompleted* (the next
 * transfer is staged before DmaCompleted* returns), and it may complete the request and
 * release or delete the transaction: do not touch either after those calls return.
 */
#ifndef _WDFDMATRANSACTION_H_
#define _WDFDMATRANSACTION_H_

#include "wdfobject.h"
#include "wdfdmaenabler.h"

WDF_EXTERN_C_START

/*
 * DISPATCH. Program the device for one transfer described by SgList (logical addresses).
 * Context is Execute's Context. The list is valid until the transfer is completed with
 * DmaCompleted*. The return value is ignored. On failure, call
 * WdfDmaTransactionDmaCompletedFinal and complete the request.
 */
typedef _Function_class_(EVT_WDF_PROGRAM_DMA) _IRQL_requires_same_
    _IRQL_requires_(DISPATCH_LEVEL)
BOOLEAN NTAPI EVT_WDF_PROGRAM_DMA(_In_ WDFDMATRANSACTION Transaction, _In_ WDFDEVICE Device,
                                  _In_ WDFCONTEXT Context, _In_ WDF_DMA_DIRECTION Direction,
                                  _In_ PSCATTER_GATHER_LIST SgList);
typedef EVT_WDF_PROGRAM_DMA *PFN_WDF_PROGRAM_DMA;

/*
 * DISPATCH (system profiles). Runs before each transfer is mapped; may configure the
 * system DMA channel (WdfDmaEnablerWdmGetDmaAdapter, then the adapter's
 * ConfigureAdapterChannel). Return FALSE to stop staging: the transfer fails.
 */
typedef _Function_class_(EVT_WDF_DMA_TRANSACTION_CONFIGURE_DMA_CHANNEL) _IRQL_requires_same_
    _IRQL_requires_(DISPATCH_LEVEL)
BOOLEAN NTAPI EVT_WDF_DMA_TRANSACTION_CONFIGURE_DMA_CHANNEL(
    _In_ WDFDMATRANSACTION DmaTransaction, _In_ WDFDEVICE Device, _In_ PVOID Context,
    _In_opt_ PMDL Mdl, _In_ size_t Offset, _In_ size_t Length);
typedef EVT_WDF_DMA_TRANSACTION_CONFIGURE_DMA_CHANNEL
    *PFN_WDF_DMA_TRANSACTION_CONFIGURE_DMA_CHANNEL;

/*
 * DISPATCH (system profiles). The system DMA controller finished a transfer with Status
 * (DmaComplete, DmaError or DmaCancelled). Called once per transfer, never while
 * EvtProgramDma for that transfer is still running (it is deferred until it returns).
 */
typedef _Function_class_(EVT_WDF_DMA_TRANSACTION_DMA_TRANSFER_COMPLETE) _IRQL_requires_same_
    _IRQL_requires_(DISPATCH_LEVEL)
VOID NTAPI EVT_WDF_DMA_TRANSACTION_DMA_TRANSFER_COMPLETE(
    _In_ WDFDMATRANSACTION Transaction, _In_ WDFDEVICE Device, _In_ WDFCONTEXT Context,
    _In_ WDF_DMA_DIRECTION Direction, _In_ DMA_COMPLETION_STATUS Status);
typedef EVT_WDF_DMA_TRANSACTION_DMA_TRANSFER_COMPLETE
    *PFN_WDF_DMA_TRANSACTION_DMA_TRANSFER_COMPLETE;

/* DISPATCH. The map registers / channel requested by AllocateResources are granted. */
typedef _Function_class_(EVT_WDF_RESERVE_DMA) _IRQL_requires_same_
    _IRQL_requires_(DISPATCH_LEVEL)
VOID NTAPI EVT_WDF_RESERVE_DMA(_In_ WDFDMATRANSACTION DmaTransaction, _In_ PVOID Context);
typedef EVT_WDF_RESERVE_DMA *PFN_WDF_RESERVE_DMA;

/*
 * <= DISPATCH (1.0). The parent is always the enabler (Attributes->ParentObject must be
 * NULL). Scatter/gather profiles preallocate the SG-list buffer here unless the enabler
 * has WDF_DMA_ENABLER_CONFIG_NO_SGLIST_PREALLOCATION.
 */
_Must_inspect_result_ _IRQL_requires_max_(DISPATCH_LEVEL)
WDFAPI NTSTATUS WdfDmaTransactionCreate(_In_ WDFDMAENABLER DmaEnabler,
                                        _In_opt_ PWDF_OBJECT_ATTRIBUTES Attributes,
                                        _Out_ WDFDMATRANSACTION *DmaTransaction);

/*
 * <= DISPATCH (1.0). Describe the buffer: VirtualAddress lies inside the first MDL of
 * the chain; Length is nonzero. STATUS_WDF_TOO_FRAGMENTED if a transfer would need more
 * SG elements than the enabler allows.
 */
_Must_inspect_result_ _IRQL_requires_max_(DISPATCH_LEVEL)
WDFAPI NTSTATUS WdfDmaTransactionInitialize(_In_ WDFDMATRANSACTION DmaTransaction,
                                            _In_ PFN_WDF_PROGRAM_DMA EvtProgramDmaFunction,
                                            _In_ WDF_DMA_DIRECTION DmaDirection, _In_ PMDL Mdl,
                                            _In_ PVOID VirtualAddress, _In_ size_t Length);

/* <= DISPATCH (1.11). As Initialize with VirtualAddress = MmGetMdlVirtualAddress(Mdl) + Offset. */
_Must_inspect_result_ _IRQL_requires_max_(DISPATCH_LEVEL)
WDFAPI NTSTATUS WdfDmaTransactionInitializeUsingOffset(
    _In_ WDFDMATRANSACTION DmaTransaction, _In_ PFN_WDF_PROGRAM_DMA EvtProgramDmaFunction,
    _In_ WDF_DMA_DIRECTION DmaDirection, _In_ PMDL Mdl, _In_ size_t Offset, _In_ size_t Length);

/*
 * <= DISPATCH (1.0). Buffer and length from a read, write or buffered/direct IOCTL
 * request; the direction must match the request (STATUS_INVALID_DEVICE_REQUEST).
 * The request is referenced from Execute until the transaction finishes.
 */
_Must_inspect_result_ _IRQL_requires_max_(DISPATCH_LEVEL)
WDFAPI NTSTATUS WdfDmaTransactionInitializeUsingRequest(
    _In_ WDFDMATRANSACTION DmaTransaction, _In_ WDFREQUEST Request,
    _In_ PFN_WDF_PROGRAM_DMA EvtProgramDmaFunction, _In_ WDF_DMA_DIRECTION DmaDirection);

/*
 * <= DISPATCH (1.0). Starts the first transfer; EvtProgramDma may run before this
 * returns. On failure EvtProgramDma is not called and the driver releases the
 * transaction and completes the request.
 */
_Must_inspect_result_ _IRQL_requires_max_(DISPATCH_LEVEL)
WDFAPI NTSTATUS WdfDmaTransactionExecute(_In_ WDFDMATRANSACTION DmaTransaction,
                                         _In_opt_ WDFCONTEXT Context);

/* <= DISPATCH (1.0). Ready the transaction for reuse. Reserved map registers are kept. */
_IRQL_requires_max_(DISPATCH_LEVEL)
WDFAPI NTSTATUS WdfDmaTransactionRelease(_In_ WDFDMATRANSACTION DmaTransaction);

/*
 * <= DISPATCH (1.0). The device finished the current transfer. Returns FALSE with
 * *Status = STATUS_MORE_PROCESSING_REQUIRED when the next transfer has been started,
 * or TRUE with the transaction's final status when it is finished.
 */
_IRQL_requires_max_(DISPATCH_LEVEL)
WDFAPI BOOLEAN WdfDmaTransactionDmaCompleted(_In_ WDFDMATRANSACTION DmaTransaction,
                                             _Out_ NTSTATUS *Status);

/* <= DISPATCH (1.0). As DmaCompleted for a partial transfer; 0 retries the transfer. */
_IRQL_requires_max_(DISPATCH_LEVEL)
WDFAPI BOOLEAN WdfDmaTransactionDmaCompletedWithLength(_In_ WDFDMATRANSACTION DmaTransaction,
                                                       _In_ size_t TransferredLength,
                                                       _Out_ NTSTATUS *Status);

/* <= DISPATCH (1.0). Ends the transaction after FinalTransferredLength bytes of this transfer. */
_IRQL_requires_max_(DISPATCH_LEVEL)
WDFAPI BOOLEAN WdfDmaTransactionDmaCompletedFinal(_In_ WDFDMATRANSACTION DmaTransaction,
                                                  _In_ size_t FinalTransferredLength,
                                                  _Out_ NTSTATUS *Status);

/*
 * <= DISPATCH (1.0). Bytes completed so far; inside EvtProgramDma this is the offset of
 * the transfer being programmed.
 */
_IRQL_requires_max_(DISPATCH_LEVEL)
WDFAPI size_t WdfDmaTransactionGetBytesTransferred(_In_ WDFDMATRANSACTION DmaTransaction);

/* <= DISPATCH (1.0). Lowers the per-transfer length; call after Initialize (which resets it). */
_IRQL_requires_max_(DISPATCH_LEVEL)
WDFAPI VOID WdfDmaTransactionSetMaximumLength(_In_ WDFDMATRANSACTION DmaTransaction,
                                              _In_ size_t MaximumLength);

/* <= DISPATCH (1.19, DMA v3). Only in the Created, Reserved or Released states. */
_IRQL_requires_max_(DISPATCH_LEVEL)
WDFAPI VOID WdfDmaTransactionSetSingleTransferRequirement(_In_ WDFDMATRANSACTION DmaTransaction,
                                                          _In_ BOOLEAN RequireSingleTransfer);

/* <= DISPATCH (1.0). NULL unless initialized with InitializeUsingRequest. */
_IRQL_requires_max_(DISPATCH_LEVEL)
WDFAPI WDFREQUEST WdfDmaTransactionGetRequest(_In_ WDFDMATRANSACTION DmaTransaction);

/* <= DISPATCH (1.0). Length of the transfer in progress; 0 once finished. */
_IRQL_requires_max_(DISPATCH_LEVEL)
WDFAPI size_t WdfDmaTransactionGetCurrentDmaTransferLength(_In_ WDFDMATRANSACTION DmaTransaction);

_IRQL_requires_max_(DISPATCH_LEVEL)
WDFAPI WDFDEVICE WdfDmaTransactionGetDevice(_In_ WDFDMATRANSACTION DmaTransaction);

/*
 * <= DISPATCH (1.11). Only in the Initialized state: map registers and SG elements the
 * transaction needs (per transfer, worst case). Either output may be NULL.
 */
_IRQL_requires_max_(DISPATCH_LEVEL)
WDFAPI VOID WdfDmaTransactionGetTransferInfo(_In_ WDFDMATRANSACTION DmaTransaction,
                                             _Out_opt_ ULONG *MapRegisterCount,
                                             _Out_opt_ ULONG *ScatterGatherElementCount);

/* <= DISPATCH (1.11). System profiles only. */
_IRQL_requires_max_(DISPATCH_LEVEL)
WDFAPI VOID WdfDmaTransactionSetChannelConfigurationCallback(
    _In_ WDFDMATRANSACTION DmaTransaction,
    _In_opt_ PFN_WDF_DMA_TRANSACTION_CONFIGURE_DMA_CHANNEL ConfigureRoutine,
    _In_opt_ PVOID ConfigureContext);

/* <= DISPATCH (1.11). System profiles only. */
_IRQL_requires_max_(DISPATCH_LEVEL)
WDFAPI VOID WdfDmaTransactionSetTransferCompleteCallback(
    _In_ WDFDMATRANSACTION DmaTransaction,
    _In_opt_ PFN_WDF_DMA_TRANSACTION_DMA_TRANSFER_COMPLETE DmaCompletionRoutine,
    _In_opt_ PVOID DmaCompletionContext);

/*
 * <= DISPATCH (1.11, DMA v3). With TRUE, Execute and AllocateResources fail with
 * STATUS_INSUFFICIENT_RESOURCES instead of waiting when resources are not free.
 */
_IRQL_requires_max_(DISPATCH_LEVEL)
WDFAPI VOID WdfDmaTransactionSetImmediateExecution(_In_ WDFDMATRANSACTION DmaTransaction,
                                                   _In_ BOOLEAN UseImmediateExecution);

/*
 * <= DISPATCH (1.11, DMA v3; packet and system profiles). Reserve RequiredMapRegisters
 * (0: computed from the initialized buffer) for repeated use; EvtReserveDmaFunction runs
 * when they are granted. STATUS_INVALID_DEVICE_REQUEST on scatter/gather profiles.
 */
_IRQL_requires_max_(DISPATCH_LEVEL)
WDFAPI NTSTATUS WdfDmaTransactionAllocateResources(_In_ WDFDMATRANSACTION DmaTransaction,
                                                   _In_ WDF_DMA_DIRECTION DmaDirection,
                                                   _In_ ULONG RequiredMapRegisters,
                                                   _In_ PFN_WDF_RESERVE_DMA EvtReserveDmaFunction,
                                                   _In_ PVOID EvtReserveDmaContext);

/* <= DISPATCH (1.11). System profiles: offset added to DeviceAddress; Initialize resets it. */
_IRQL_requires_max_(DISPATCH_LEVEL)
WDFAPI VOID WdfDmaTransactionSetDeviceAddressOffset(_In_ WDFDMATRANSACTION DmaTransaction,
                                                    _In_ ULONG Offset);

/* <= DISPATCH (1.11, DMA v3). Returns reserved resources from AllocateResources. */
_IRQL_requires_max_(DISPATCH_LEVEL)
WDFAPI VOID WdfDmaTransactionFreeResources(_In_ WDFDMATRANSACTION DmaTransaction);

/*
 * <= DISPATCH (1.11, DMA v3). TRUE only if the transaction was still waiting for its
 * adapter channel / map registers: it then fails and EvtProgramDma is never called.
 * FALSE once allocation has begun.
 */
_IRQL_requires_max_(DISPATCH_LEVEL)
WDFAPI BOOLEAN WdfDmaTransactionCancel(_In_ WDFDMATRANSACTION DmaTransaction);

/* <= DISPATCH (1.11, DMA v3). The WDM DMA transfer context; NULL when not initialized. */
_IRQL_requires_max_(DISPATCH_LEVEL)
WDFAPI PVOID WdfDmaTransactionWdmGetTransferContext(_In_ WDFDMATRANSACTION DmaTransaction);

/*
 * <= DISPATCH (1.11). System profiles: stop the transfer in progress (the only way to
 * end a looped transfer). The controller reports DmaCancelled, or the next mapping
 * fails; DmaCompleted then returns TRUE with STATUS_CANCELLED.
 */
_IRQL_requires_max_(DISPATCH_LEVEL)
WDFAPI VOID WdfDmaTransactionStopSystemTransfer(_In_ WDFDMATRANSACTION DmaTransaction);

WDF_EXTERN_C_END

#endif /* _WDFDMATRANSACTION_H_ */
