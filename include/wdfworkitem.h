/*
 * wdfworkitem.h - framework work items: run a callback at PASSIVE_LEVEL on a worker.
 */
#ifndef _WDFWORKITEM_H_
#define _WDFWORKITEM_H_

#include "wdfobject.h"

WDF_EXTERN_C_START

typedef _Function_class_(EVT_WDF_WORKITEM) _IRQL_requires_same_
    _IRQL_requires_max_(PASSIVE_LEVEL)
VOID NTAPI EVT_WDF_WORKITEM(_In_ WDFWORKITEM WorkItem);
typedef EVT_WDF_WORKITEM *PFN_WDF_WORKITEM;

typedef struct _WDF_WORKITEM_CONFIG {
    ULONG Size;
    PFN_WDF_WORKITEM EvtWorkItemFunc;
    BOOLEAN AutomaticSerialization;
} WDF_WORKITEM_CONFIG, *PWDF_WORKITEM_CONFIG;

FORCEINLINE VOID WDF_WORKITEM_CONFIG_INIT(_Out_ PWDF_WORKITEM_CONFIG Config,
                                          _In_ PFN_WDF_WORKITEM EvtWorkItemFunc)
{
    RtlZeroMemory(Config, sizeof(WDF_WORKITEM_CONFIG));
    Config->Size = WDF_STRUCTURE_SIZE(WDF_WORKITEM_CONFIG);
    Config->EvtWorkItemFunc = EvtWorkItemFunc;
    Config->AutomaticSerialization = TRUE;
}

/* <= DISPATCH. Attributes->ParentObject is required (a device, queue or descendant). */
_Must_inspect_result_ _IRQL_requires_max_(DISPATCH_LEVEL)
WDFAPI NTSTATUS WdfWorkItemCreate(_In_ PWDF_WORKITEM_CONFIG Config,
                                  _In_ PWDF_OBJECT_ATTRIBUTES Attributes,
                                  _Out_ WDFWORKITEM *WorkItem);

/* <= DISPATCH. Enqueuing an item that is already queued does nothing. */
_IRQL_requires_max_(DISPATCH_LEVEL)
WDFAPI VOID WdfWorkItemEnqueue(_In_ WDFWORKITEM WorkItem);

_IRQL_requires_max_(DISPATCH_LEVEL)
WDFAPI WDFOBJECT WdfWorkItemGetParentObject(_In_ WDFWORKITEM WorkItem);

/* PASSIVE. Waits until a queued or running EvtWorkItemFunc has finished. */
_IRQL_requires_max_(PASSIVE_LEVEL)
WDFAPI VOID WdfWorkItemFlush(_In_ WDFWORKITEM WorkItem);

WDF_EXTERN_C_END

#endif /* _WDFWORKITEM_H_ */
