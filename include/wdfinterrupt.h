/*
 * wdfinterrupt.h - framework interrupts.
 *
 * The ISR runs at the device's IRQL (DIRQL) holding the interrupt spin lock; it reads and
 * acknowledges the hardware and queues the DPC (or, for passive-level interrupts, a work
 * item). The framework connects the interrupt before EvtDeviceD0EntryPostInterruptsEnabled
 * and disconnects it after EvtDeviceD0ExitPreInterruptsDisabled; EvtInterruptEnable and
 * EvtInterruptDisable run at DIRQL with the lock held around those points.
 */
#ifndef _WDFINTERRUPT_H_
#define _WDFINTERRUPT_H_

#include "wdfobject.h"

WDF_EXTERN_C_START

typedef enum _WDF_INTERRUPT_POLARITY {
    WdfInterruptPolarityUnknown = 0,
    WdfInterruptActiveHigh,
    WdfInterruptActiveLow,
} WDF_INTERRUPT_POLARITY, *PWDF_INTERRUPT_POLARITY;

typedef enum _WDF_INTERRUPT_POLICY {
    WdfIrqPolicyMachineDefault = 0,
    WdfIrqPolicyAllCloseProcessors,
    WdfIrqPolicyOneCloseProcessor,
    WdfIrqPolicyAllProcessorsInMachine,
    WdfIrqPolicySpecifiedProcessors,
    WdfIrqPolicySpreadMessagesAcrossAllProcessors,
} WDF_INTERRUPT_POLICY, *PWDF_INTERRUPT_POLICY;

typedef enum _WDF_INTERRUPT_PRIORITY {
    WdfIrqPriorityUndefined = 0,
    WdfIrqPriorityLow,
    WdfIrqPriorityNormal,
    WdfIrqPriorityHigh,
} WDF_INTERRUPT_PRIORITY, *PWDF_INTERRUPT_PRIORITY;

/*
 * DIRQL, interrupt lock held. Return TRUE if the device was interrupting (the
 * interrupt is then acknowledged), FALSE if not (shared line, not ours).
 * MessageID is 0 for line-based interrupts.
 */
typedef _Function_class_(EVT_WDF_INTERRUPT_ISR) _IRQL_requires_same_
    _IRQL_requires_min_(DISPATCH_LEVEL + 1)
BOOLEAN NTAPI EVT_WDF_INTERRUPT_ISR(_In_ WDFINTERRUPT Interrupt, _In_ ULONG MessageID);
typedef EVT_WDF_INTERRUPT_ISR *PFN_WDF_INTERRUPT_ISR;

/* DIRQL, interrupt lock held: runs from WdfInterruptSynchronize. */
typedef _Function_class_(EVT_WDF_INTERRUPT_SYNCHRONIZE) _IRQL_requires_same_
    _IRQL_requires_min_(DISPATCH_LEVEL + 1)
BOOLEAN NTAPI EVT_WDF_INTERRUPT_SYNCHRONIZE(_In_ WDFINTERRUPT Interrupt, _In_ WDFCONTEXT Context);
typedef EVT_WDF_INTERRUPT_SYNCHRONIZE *PFN_WDF_INTERRUPT_SYNCHRONIZE;

/*
 * DISPATCH. Queued by WdfInterruptQueueDpcForIsr; several queue calls before it runs
 * give one call. AssociatedObject is the interrupt's parent (normally the device).
 */
typedef _Function_class_(EVT_WDF_INTERRUPT_DPC) _IRQL_requires_same_
    _IRQL_requires_max_(DISPATCH_LEVEL)
VOID NTAPI EVT_WDF_INTERRUPT_DPC(_In_ WDFINTERRUPT Interrupt, _In_ WDFOBJECT AssociatedObject);
typedef EVT_WDF_INTERRUPT_DPC *PFN_WDF_INTERRUPT_DPC;

/* PASSIVE. Queued by WdfInterruptQueueWorkItemForIsr. */
typedef _Function_class_(EVT_WDF_INTERRUPT_WORKITEM) _IRQL_requires_same_
    _IRQL_requires_max_(PASSIVE_LEVEL)
VOID NTAPI EVT_WDF_INTERRUPT_WORKITEM(_In_ WDFINTERRUPT Interrupt,
                                      _In_ WDFOBJECT AssociatedObject);
typedef EVT_WDF_INTERRUPT_WORKITEM *PFN_WDF_INTERRUPT_WORKITEM;

/* DIRQL, interrupt lock held. Enable / disable the device's interrupt generation. */
typedef _Function_class_(EVT_WDF_INTERRUPT_ENABLE) _IRQL_requires_same_
    _IRQL_requires_min_(DISPATCH_LEVEL + 1)
NTSTATUS NTAPI EVT_WDF_INTERRUPT_ENABLE(_In_ WDFINTERRUPT Interrupt,
                                        _In_ WDFDEVICE AssociatedDevice);
typedef EVT_WDF_INTERRUPT_ENABLE *PFN_WDF_INTERRUPT_ENABLE;

typedef _Function_class_(EVT_WDF_INTERRUPT_DISABLE) _IRQL_requires_same_
    _IRQL_requires_min_(DISPATCH_LEVEL + 1)
NTSTATUS NTAPI EVT_WDF_INTERRUPT_DISABLE(_In_ WDFINTERRUPT Interrupt,
                                         _In_ WDFDEVICE AssociatedDevice);
typedef EVT_WDF_INTERRUPT_DISABLE *PFN_WDF_INTERRUPT_DISABLE;

typedef struct _WDF_INTERRUPT_CONFIG {
    ULONG Size;
    /* Optional spin lock shared with other interrupts (NULL: the framework makes one). */
    WDFSPINLOCK SpinLock;
    WDF_TRI_STATE ShareVector;
    BOOLEAN FloatingSave;
    /* Serialize EvtInterruptDpc / WorkItem with the parent device's callbacks. */
    BOOLEAN AutomaticSerialization;
    PFN_WDF_INTERRUPT_ISR EvtInterruptIsr;
    PFN_WDF_INTERRUPT_DPC EvtInterruptDpc;
    PFN_WDF_INTERRUPT_ENABLE EvtInterruptEnable;
    PFN_WDF_INTERRUPT_DISABLE EvtInterruptDisable;
    PFN_WDF_INTERRUPT_WORKITEM EvtInterruptWorkItem;
    /*
     * Both NULL when created from EvtDriverDeviceAdd (the framework picks the device's
     * interrupt resources in order); both set when created from PrepareHardware.
     */
    PCM_PARTIAL_RESOURCE_DESCRIPTOR InterruptRaw;
    PCM_PARTIAL_RESOURCE_DESCRIPTOR InterruptTranslated;
    /* Passive-level interrupts: optional wait lock (NULL: the framework makes one). */
    WDFWAITLOCK WaitLock;
    BOOLEAN PassiveHandling;
    WDF_TRI_STATE ReportInactiveOnPowerDown;
    BOOLEAN CanWakeDevice;
} WDF_INTERRUPT_CONFIG, *PWDF_INTERRUPT_CONFIG;

FORCEINLINE VOID WDF_INTERRUPT_CONFIG_INIT(_Out_ PWDF_INTERRUPT_CONFIG Configuration,
                                           _In_ PFN_WDF_INTERRUPT_ISR EvtInterruptIsr,
                                           _In_opt_ PFN_WDF_INTERRUPT_DPC EvtInterruptDpc)
{
    RtlZeroMemory(Configuration, sizeof(WDF_INTERRUPT_CONFIG));
    Configuration->Size = WDF_STRUCTURE_SIZE(WDF_INTERRUPT_CONFIG);
    Configuration->ShareVector = WdfUseDefault;
    Configuration->EvtInterruptIsr = EvtInterruptIsr;
    Configuration->EvtInterruptDpc = EvtInterruptDpc;
    Configuration->ReportInactiveOnPowerDown = WdfUseDefault;
}

typedef struct _WDF_INTERRUPT_INFO {
    ULONG Size;
    ULONG64 Reserved1;
    KAFFINITY TargetProcessorSet;
    ULONG Reserved2;
    ULONG MessageNumber;
    ULONG Vector;
    KIRQL Irql;
    KINTERRUPT_MODE Mode;
    WDF_INTERRUPT_POLARITY Polarity;
    BOOLEAN MessageSignaled;
    /* CM_SHARE_DISPOSITION value. */
    UCHAR ShareDisposition;
    DECLSPEC_ALIGN(8) USHORT Group;
} WDF_INTERRUPT_INFO, *PWDF_INTERRUPT_INFO;

FORCEINLINE VOID WDF_INTERRUPT_INFO_INIT(_Out_ PWDF_INTERRUPT_INFO Info)
{
    RtlZeroMemory(Info, sizeof(WDF_INTERRUPT_INFO));
    Info->Size = WDF_STRUCTURE_SIZE(WDF_INTERRUPT_INFO);
}

/*
 * From EvtDriverDeviceAdd (PASSIVE) or EvtDevicePrepareHardware (with InterruptRaw and
 * InterruptTranslated set). Parent is Device; Attributes->ParentObject must be NULL.
 */
_Must_inspect_result_ _IRQL_requires_max_(DISPATCH_LEVEL)
WDFAPI NTSTATUS WdfInterruptCreate(_In_ WDFDEVICE Device,
                                   _In_ PWDF_INTERRUPT_CONFIG Configuration,
                                   _In_opt_ PWDF_OBJECT_ATTRIBUTES Attributes,
                                   _Out_ WDFINTERRUPT *Interrupt);

/* Any IRQL (normally from the ISR). FALSE if the DPC was already queued. */
_IRQL_requires_max_(HIGH_LEVEL)
WDFAPI BOOLEAN WdfInterruptQueueDpcForIsr(_In_ WDFINTERRUPT Interrupt);

_IRQL_requires_max_(HIGH_LEVEL)
WDFAPI BOOLEAN WdfInterruptQueueWorkItemForIsr(_In_ WDFINTERRUPT Interrupt);

/* <= DISPATCH. Runs Callback at DIRQL holding the interrupt lock; returns its result. */
_IRQL_requires_max_(DISPATCH_LEVEL)
WDFAPI BOOLEAN WdfInterruptSynchronize(_In_ WDFINTERRUPT Interrupt,
                                       _In_ PFN_WDF_INTERRUPT_SYNCHRONIZE Callback,
                                       _In_ WDFCONTEXT Context);

/* <= DIRQL. Raises to the interrupt's IRQL and takes its lock (not recursive). */
_IRQL_requires_max_(DISPATCH_LEVEL + 1)
WDFAPI VOID WdfInterruptAcquireLock(_In_ WDFINTERRUPT Interrupt);

_IRQL_requires_max_(DISPATCH_LEVEL + 1)
WDFAPI VOID WdfInterruptReleaseLock(_In_ WDFINTERRUPT Interrupt);

/* PASSIVE. Calls EvtInterruptEnable / EvtInterruptDisable at DIRQL. */
_IRQL_requires_max_(PASSIVE_LEVEL)
WDFAPI VOID WdfInterruptEnable(_In_ WDFINTERRUPT Interrupt);

_IRQL_requires_max_(PASSIVE_LEVEL)
WDFAPI VOID WdfInterruptDisable(_In_ WDFINTERRUPT Interrupt);

/* Any IRQL. NULL while the interrupt is not connected. */
_Must_inspect_result_ _IRQL_requires_max_(HIGH_LEVEL)
WDFAPI PKINTERRUPT WdfInterruptWdmGetInterrupt(_In_ WDFINTERRUPT Interrupt);

_IRQL_requires_max_(DISPATCH_LEVEL)
WDFAPI VOID WdfInterruptGetInfo(_In_ WDFINTERRUPT Interrupt, _Out_ PWDF_INTERRUPT_INFO Info);

_IRQL_requires_max_(HIGH_LEVEL)
WDFAPI WDFDEVICE WdfInterruptGetDevice(_In_ WDFINTERRUPT Interrupt);

/* PASSIVE, passive-level interrupts only: TRUE if the wait lock was taken without waiting. */
_Must_inspect_result_ _IRQL_requires_max_(PASSIVE_LEVEL)
WDFAPI BOOLEAN WdfInterruptTryToAcquireLock(_In_ WDFINTERRUPT Interrupt);

WDF_EXTERN_C_END

#endif /* _WDFINTERRUPT_H_ */
