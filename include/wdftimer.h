/*
 * wdftimer.h - framework timers. Due times use the WDF_REL_TIMEOUT_* / WDF_ABS_TIMEOUT_*
 * helpers of wdfcore.h.
 */
#ifndef _WDFTIMER_H_
#define _WDFTIMER_H_

#include "wdfobject.h"
#include "wdfcore.h"

WDF_EXTERN_C_START

#define TolerableDelayUnlimited ((ULONG)-1)

/* DISPATCH (or PASSIVE if the timer's execution level is passive). */
typedef _Function_class_(EVT_WDF_TIMER) _IRQL_requires_same_
    _IRQL_requires_max_(DISPATCH_LEVEL)
VOID NTAPI EVT_WDF_TIMER(_In_ WDFTIMER Timer);
typedef EVT_WDF_TIMER *PFN_WDF_TIMER;

typedef struct _WDF_TIMER_CONFIG {
    ULONG Size;
    PFN_WDF_TIMER EvtTimerFunc;
    /* Milliseconds; 0 = one-shot. */
    ULONG Period;
    /* Serialize EvtTimerFunc with the parent's callbacks (synchronization scope). */
    BOOLEAN AutomaticSerialization;
    /* Milliseconds the expiry may be deferred to coalesce timers. */
    ULONG TolerableDelay;
    DECLSPEC_ALIGN(8) BOOLEAN UseHighResolutionTimer;
} WDF_TIMER_CONFIG, *PWDF_TIMER_CONFIG;

FORCEINLINE VOID WDF_TIMER_CONFIG_INIT(_Out_ PWDF_TIMER_CONFIG Config,
                                       _In_ PFN_WDF_TIMER EvtTimerFunc)
{
    RtlZeroMemory(Config, sizeof(WDF_TIMER_CONFIG));
    Config->Size = WDF_STRUCTURE_SIZE(WDF_TIMER_CONFIG);
    Config->EvtTimerFunc = EvtTimerFunc;
    Config->Period = 0;
    Config->AutomaticSerialization = TRUE;
    Config->TolerableDelay = 0;
}

/* Period is signed in the WDK's prototype; it is stored in the ULONG field unchanged. */
FORCEINLINE VOID WDF_TIMER_CONFIG_INIT_PERIODIC(_Out_ PWDF_TIMER_CONFIG Config,
                                                _In_ PFN_WDF_TIMER EvtTimerFunc,
                                                _In_ LONG Period)
{
    RtlZeroMemory(Config, sizeof(WDF_TIMER_CONFIG));
    Config->Size = WDF_STRUCTURE_SIZE(WDF_TIMER_CONFIG);
    Config->EvtTimerFunc = EvtTimerFunc;
    Config->Period = (ULONG)Period;
    Config->AutomaticSerialization = TRUE;
    Config->TolerableDelay = 0;
}

/* <= DISPATCH. Attributes->ParentObject is required (a device, queue or descendant). */
_Must_inspect_result_ _IRQL_requires_max_(DISPATCH_LEVEL)
WDFAPI NTSTATUS WdfTimerCreate(_In_ PWDF_TIMER_CONFIG Config,
                               _In_ PWDF_OBJECT_ATTRIBUTES Attributes, _Out_ WDFTIMER *Timer);

/* <= DISPATCH. TRUE if the timer was already queued (its due time is replaced). */
_IRQL_requires_max_(DISPATCH_LEVEL)
WDFAPI BOOLEAN WdfTimerStart(_In_ WDFTIMER Timer, _In_ LONGLONG DueTime);

/*
 * Wait FALSE: <= DISPATCH. Wait TRUE: PASSIVE, returns after a running EvtTimerFunc
 * finishes. TRUE if the timer was queued and is now cancelled.
 */
_IRQL_requires_max_(DISPATCH_LEVEL)
WDFAPI BOOLEAN WdfTimerStop(_In_ WDFTIMER Timer, _In_ BOOLEAN Wait);

_IRQL_requires_max_(DISPATCH_LEVEL)
WDFAPI WDFOBJECT WdfTimerGetParentObject(_In_ WDFTIMER Timer);

WDF_EXTERN_C_END

#endif /* _WDFTIMER_H_ */
