/*
 * wdfdevice.h - the framework device: WDFDEVICE_INIT configuration before
 * WdfDeviceCreate, PnP/power callbacks, and device-wide settings.
 *
 * Power-up order (first start): EvtDevicePrepareHardware -> EvtDeviceD0Entry ->
 * interrupts connected and EvtInterruptEnable -> EvtDeviceD0EntryPostInterruptsEnabled ->
 * DMA enablers (Fill, Enable, SelfManagedIoStart) -> power-managed queues started ->
 * EvtDeviceSelfManagedIoInit (or ...Restart on later power-ups).
 * Power-down runs the mirror image, ending with EvtDeviceD0Exit, and on removal
 * EvtDeviceReleaseHardware.
 */
#ifndef _WDFDEVICE_H_
#define _WDFDEVICE_H_

#include "wdfobject.h"
#include "wdfrequest.h"

WDF_EXTERN_C_START

/* The device power state a D0Entry comes from or a D0Exit goes to. */
typedef enum _WDF_POWER_DEVICE_STATE {
    WdfPowerDeviceInvalid = 0,
    WdfPowerDeviceD0,
    WdfPowerDeviceD1,
    WdfPowerDeviceD2,
    WdfPowerDeviceD3,
    /* Leaving D0 for good: the device is being removed or stopped. */
    WdfPowerDeviceD3Final,
    WdfPowerDevicePrepareForHibernation,
    WdfPowerDeviceMaximum,
} WDF_POWER_DEVICE_STATE, *PWDF_POWER_DEVICE_STATE;

typedef enum _WDF_SPECIAL_FILE_TYPE {
    WdfSpecialFileUndefined = 0,
    WdfSpecialFilePaging = 1,
    WdfSpecialFileHibernation,
    WdfSpecialFileDump,
    WdfSpecialFileBoot,
    WdfSpecialFilePostDisplay,
    WdfSpecialFileGuestAssigned,
    WdfSpecialFileMax,
} WDF_SPECIAL_FILE_TYPE, *PWDF_SPECIAL_FILE_TYPE;

/* How read/write/IOCTL buffers reach the driver (DO_BUFFERED_IO vs DO_DIRECT_IO). */
typedef enum _WDF_DEVICE_IO_TYPE {
    WdfDeviceIoUndefined = 0,
    WdfDeviceIoNeither,
    WdfDeviceIoBuffered,
    WdfDeviceIoDirect,
    WdfDeviceIoBufferedOrDirect = 4,
    WdfDeviceIoMaximum,
} WDF_DEVICE_IO_TYPE, *PWDF_DEVICE_IO_TYPE;

typedef enum _WDF_FILEOBJECT_CLASS {
    WdfFileObjectInvalid = 0,
    WdfFileObjectNotRequired = 1,
    WdfFileObjectWdfCanUseFsContext = 2,
    WdfFileObjectWdfCanUseFsContext2 = 3,
    WdfFileObjectWdfCannotUseFsContexts = 4,
    /* Or'ed in. The WDK writes 0x80000000, which its compiler stores as a signed int. */
    WdfFileObjectCanBeOptional = (int)0x80000000,
} WDF_FILEOBJECT_CLASS, *PWDF_FILEOBJECT_CLASS;

typedef enum _WDF_DEVICE_FAILED_ACTION {
    WdfDeviceFailedUndefined = 0,
    WdfDeviceFailedAttemptRestart,
    WdfDeviceFailedNoRestart,
} WDF_DEVICE_FAILED_ACTION;

typedef enum _WDF_RELEASE_HARDWARE_ORDER_ON_FAILURE {
    WdfReleaseHardwareOrderOnFailureInvalid = 0,
    WdfReleaseHardwareOrderOnFailureEarly,
    WdfReleaseHardwareOrderOnFailureAfterDescendants,
} WDF_RELEASE_HARDWARE_ORDER_ON_FAILURE, *PWDF_RELEASE_HARDWARE_ORDER_ON_FAILURE;

/* ---- File object callbacks ---------------------------------------------------------- */

typedef _Function_class_(EVT_WDF_DEVICE_FILE_CREATE) _IRQL_requires_same_
    _IRQL_requires_max_(PASSIVE_LEVEL)
VOID NTAPI EVT_WDF_DEVICE_FILE_CREATE(_In_ WDFDEVICE Device, _In_ WDFREQUEST Request,
                                      _In_ WDFFILEOBJECT FileObject);
typedef EVT_WDF_DEVICE_FILE_CREATE *PFN_WDF_DEVICE_FILE_CREATE;

typedef _Function_class_(EVT_WDF_FILE_CLOSE) _IRQL_requires_same_
    _IRQL_requires_max_(PASSIVE_LEVEL)
VOID NTAPI EVT_WDF_FILE_CLOSE(_In_ WDFFILEOBJECT FileObject);
typedef EVT_WDF_FILE_CLOSE *PFN_WDF_FILE_CLOSE;

typedef _Function_class_(EVT_WDF_FILE_CLEANUP) _IRQL_requires_same_
    _IRQL_requires_max_(PASSIVE_LEVEL)
VOID NTAPI EVT_WDF_FILE_CLEANUP(_In_ WDFFILEOBJECT FileObject);
typedef EVT_WDF_FILE_CLEANUP *PFN_WDF_FILE_CLEANUP;

typedef struct _WDF_FILEOBJECT_CONFIG {
    ULONG Size;
    PFN_WDF_DEVICE_FILE_CREATE EvtDeviceFileCreate;
    PFN_WDF_FILE_CLOSE EvtFileClose;
    PFN_WDF_FILE_CLEANUP EvtFileCleanup;
    WDF_TRI_STATE AutoForwardCleanupClose;
    WDF_FILEOBJECT_CLASS FileObjectClass;
} WDF_FILEOBJECT_CONFIG, *PWDF_FILEOBJECT_CONFIG;

/* Unlike the other _INIT helpers this one does not zero the structure (nor does the WDK's). */
FORCEINLINE VOID WDF_FILEOBJECT_CONFIG_INIT(_Out_ PWDF_FILEOBJECT_CONFIG FileEventCallbacks,
                                            _In_opt_ PFN_WDF_DEVICE_FILE_CREATE EvtDeviceFileCreate,
                                            _In_opt_ PFN_WDF_FILE_CLOSE EvtFileClose,
                                            _In_opt_ PFN_WDF_FILE_CLEANUP EvtFileCleanup)
{
    FileEventCallbacks->Size = WDF_STRUCTURE_SIZE(WDF_FILEOBJECT_CONFIG);
    FileEventCallbacks->EvtDeviceFileCreate = EvtDeviceFileCreate;
    FileEventCallbacks->EvtFileClose = EvtFileClose;
    FileEventCallbacks->EvtFileCleanup = EvtFileCleanup;
    FileEventCallbacks->FileObjectClass = WdfFileObjectWdfCannotUseFsContexts;
    FileEventCallbacks->AutoForwardCleanupClose = WdfUseDefault;
}

/* ---- PnP and power callbacks -------------------------------------------------------- */

/*
 * PASSIVE (DISPATCH if the device is not power-pageable). Hardware enters D0; interrupts
 * are not connected yet. A failure status fails the power-up and the device.
 */
typedef _Function_class_(EVT_WDF_DEVICE_D0_ENTRY) _IRQL_requires_same_
    _IRQL_requires_max_(PASSIVE_LEVEL)
NTSTATUS NTAPI EVT_WDF_DEVICE_D0_ENTRY(_In_ WDFDEVICE Device,
                                       _In_ WDF_POWER_DEVICE_STATE PreviousState);
typedef EVT_WDF_DEVICE_D0_ENTRY *PFN_WDF_DEVICE_D0_ENTRY;

/* PASSIVE. D0 with interrupts connected and enabled. */
typedef _Function_class_(EVT_WDF_DEVICE_D0_ENTRY_POST_INTERRUPTS_ENABLED) _IRQL_requires_same_
    _IRQL_requires_max_(PASSIVE_LEVEL)
NTSTATUS NTAPI EVT_WDF_DEVICE_D0_ENTRY_POST_INTERRUPTS_ENABLED(
    _In_ WDFDEVICE Device, _In_ WDF_POWER_DEVICE_STATE PreviousState);
typedef EVT_WDF_DEVICE_D0_ENTRY_POST_INTERRUPTS_ENABLED
    *PFN_WDF_DEVICE_D0_ENTRY_POST_INTERRUPTS_ENABLED;

/* Class-extension variant (not part of WDF_PNPPOWER_EVENT_CALLBACKS). */
typedef _Function_class_(EVT_WDF_DEVICE_D0_ENTRY_POST_HARDWARE_ENABLED) _IRQL_requires_same_
    _IRQL_requires_max_(PASSIVE_LEVEL)
NTSTATUS NTAPI EVT_WDF_DEVICE_D0_ENTRY_POST_HARDWARE_ENABLED(
    _In_ WDFDEVICE Device, _In_ WDF_POWER_DEVICE_STATE PreviousState);
typedef EVT_WDF_DEVICE_D0_ENTRY_POST_HARDWARE_ENABLED
    *PFN_WDF_DEVICE_D0_ENTRY_POST_HARDWARE_ENABLED;

/* PASSIVE. Leaving D0; interrupts are already disconnected. */
typedef _Function_class_(EVT_WDF_DEVICE_D0_EXIT) _IRQL_requires_same_
    _IRQL_requires_max_(PASSIVE_LEVEL)
NTSTATUS NTAPI EVT_WDF_DEVICE_D0_EXIT(_In_ WDFDEVICE Device,
                                      _In_ WDF_POWER_DEVICE_STATE TargetState);
typedef EVT_WDF_DEVICE_D0_EXIT *PFN_WDF_DEVICE_D0_EXIT;

/* PASSIVE. Leaving D0, before EvtInterruptDisable and disconnection. */
typedef _Function_class_(EVT_WDF_DEVICE_D0_EXIT_PRE_INTERRUPTS_DISABLED) _IRQL_requires_same_
    _IRQL_requires_max_(PASSIVE_LEVEL)
NTSTATUS NTAPI EVT_WDF_DEVICE_D0_EXIT_PRE_INTERRUPTS_DISABLED(
    _In_ WDFDEVICE Device, _In_ WDF_POWER_DEVICE_STATE TargetState);
typedef EVT_WDF_DEVICE_D0_EXIT_PRE_INTERRUPTS_DISABLED
    *PFN_WDF_DEVICE_D0_EXIT_PRE_INTERRUPTS_DISABLED;

/* Class-extension variant (not part of WDF_PNPPOWER_EVENT_CALLBACKS). */
typedef _Function_class_(EVT_WDF_DEVICE_D0_EXIT_PRE_HARDWARE_DISABLED) _IRQL_requires_same_
    _IRQL_requires_max_(PASSIVE_LEVEL)
NTSTATUS NTAPI EVT_WDF_DEVICE_D0_EXIT_PRE_HARDWARE_DISABLED(
    _In_ WDFDEVICE Device, _In_ WDF_POWER_DEVICE_STATE TargetState);
typedef EVT_WDF_DEVICE_D0_EXIT_PRE_HARDWARE_DISABLED
    *PFN_WDF_DEVICE_D0_EXIT_PRE_HARDWARE_DISABLED;

/*
 * PASSIVE. The device has its resources: map registers (MmMapIoSpace), find the
 * interrupt and DMA descriptors, configure system-profile DMA enablers. The hardware is
 * not yet in D0.
 */
typedef _Function_class_(EVT_WDF_DEVICE_PREPARE_HARDWARE) _IRQL_requires_same_
    _IRQL_requires_max_(PASSIVE_LEVEL)
NTSTATUS NTAPI EVT_WDF_DEVICE_PREPARE_HARDWARE(_In_ WDFDEVICE Device,
                                               _In_ WDFCMRESLIST ResourcesRaw,
                                               _In_ WDFCMRESLIST ResourcesTranslated);
typedef EVT_WDF_DEVICE_PREPARE_HARDWARE *PFN_WDF_DEVICE_PREPARE_HARDWARE;

/* PASSIVE. Undo PrepareHardware (unmap registers). */
typedef _Function_class_(EVT_WDF_DEVICE_RELEASE_HARDWARE) _IRQL_requires_same_
    _IRQL_requires_max_(PASSIVE_LEVEL)
NTSTATUS NTAPI EVT_WDF_DEVICE_RELEASE_HARDWARE(_In_ WDFDEVICE Device,
                                               _In_ WDFCMRESLIST ResourcesTranslated);
typedef EVT_WDF_DEVICE_RELEASE_HARDWARE *PFN_WDF_DEVICE_RELEASE_HARDWARE;

typedef _Function_class_(EVT_WDF_DEVICE_SELF_MANAGED_IO_CLEANUP) _IRQL_requires_same_
    _IRQL_requires_max_(PASSIVE_LEVEL)
VOID NTAPI EVT_WDF_DEVICE_SELF_MANAGED_IO_CLEANUP(_In_ WDFDEVICE Device);
typedef EVT_WDF_DEVICE_SELF_MANAGED_IO_CLEANUP *PFN_WDF_DEVICE_SELF_MANAGED_IO_CLEANUP;

typedef _Function_class_(EVT_WDF_DEVICE_SELF_MANAGED_IO_FLUSH) _IRQL_requires_same_
    _IRQL_requires_max_(PASSIVE_LEVEL)
VOID NTAPI EVT_WDF_DEVICE_SELF_MANAGED_IO_FLUSH(_In_ WDFDEVICE Device);
typedef EVT_WDF_DEVICE_SELF_MANAGED_IO_FLUSH *PFN_WDF_DEVICE_SELF_MANAGED_IO_FLUSH;

typedef _Function_class_(EVT_WDF_DEVICE_SELF_MANAGED_IO_INIT) _IRQL_requires_same_
    _IRQL_requires_max_(PASSIVE_LEVEL)
NTSTATUS NTAPI EVT_WDF_DEVICE_SELF_MANAGED_IO_INIT(_In_ WDFDEVICE Device);
typedef EVT_WDF_DEVICE_SELF_MANAGED_IO_INIT *PFN_WDF_DEVICE_SELF_MANAGED_IO_INIT;

typedef _Function_class_(EVT_WDF_DEVICE_SELF_MANAGED_IO_SUSPEND) _IRQL_requires_same_
    _IRQL_requires_max_(PASSIVE_LEVEL)
NTSTATUS NTAPI EVT_WDF_DEVICE_SELF_MANAGED_IO_SUSPEND(_In_ WDFDEVICE Device);
typedef EVT_WDF_DEVICE_SELF_MANAGED_IO_SUSPEND *PFN_WDF_DEVICE_SELF_MANAGED_IO_SUSPEND;

typedef _Function_class_(EVT_WDF_DEVICE_SELF_MANAGED_IO_RESTART) _IRQL_requires_same_
    _IRQL_requires_max_(PASSIVE_LEVEL)
NTSTATUS NTAPI EVT_WDF_DEVICE_SELF_MANAGED_IO_RESTART(_In_ WDFDEVICE Device);
typedef EVT_WDF_DEVICE_SELF_MANAGED_IO_RESTART *PFN_WDF_DEVICE_SELF_MANAGED_IO_RESTART;

typedef _Function_class_(EVT_WDF_DEVICE_QUERY_STOP) _IRQL_requires_same_
    _IRQL_requires_max_(PASSIVE_LEVEL)
NTSTATUS NTAPI EVT_WDF_DEVICE_QUERY_STOP(_In_ WDFDEVICE Device);
typedef EVT_WDF_DEVICE_QUERY_STOP *PFN_WDF_DEVICE_QUERY_STOP;

typedef _Function_class_(EVT_WDF_DEVICE_QUERY_REMOVE) _IRQL_requires_same_
    _IRQL_requires_max_(PASSIVE_LEVEL)
NTSTATUS NTAPI EVT_WDF_DEVICE_QUERY_REMOVE(_In_ WDFDEVICE Device);
typedef EVT_WDF_DEVICE_QUERY_REMOVE *PFN_WDF_DEVICE_QUERY_REMOVE;

/* PASSIVE. The hardware is gone; the power-down and release callbacks still follow. */
typedef _Function_class_(EVT_WDF_DEVICE_SURPRISE_REMOVAL) _IRQL_requires_same_
    _IRQL_requires_max_(PASSIVE_LEVEL)
VOID NTAPI EVT_WDF_DEVICE_SURPRISE_REMOVAL(_In_ WDFDEVICE Device);
typedef EVT_WDF_DEVICE_SURPRISE_REMOVAL *PFN_WDF_DEVICE_SURPRISE_REMOVAL;

typedef _Function_class_(EVT_WDF_DEVICE_USAGE_NOTIFICATION) _IRQL_requires_same_
    _IRQL_requires_max_(PASSIVE_LEVEL)
VOID NTAPI EVT_WDF_DEVICE_USAGE_NOTIFICATION(_In_ WDFDEVICE Device,
                                             _In_ WDF_SPECIAL_FILE_TYPE NotificationType,
                                             _In_ BOOLEAN IsInNotificationPath);
typedef EVT_WDF_DEVICE_USAGE_NOTIFICATION *PFN_WDF_DEVICE_USAGE_NOTIFICATION;

typedef _Function_class_(EVT_WDF_DEVICE_USAGE_NOTIFICATION_EX) _IRQL_requires_same_
    _IRQL_requires_max_(PASSIVE_LEVEL)
NTSTATUS NTAPI EVT_WDF_DEVICE_USAGE_NOTIFICATION_EX(_In_ WDFDEVICE Device,
                                                   _In_ WDF_SPECIAL_FILE_TYPE NotificationType,
                                                   _In_ BOOLEAN IsInNotificationPath);
typedef EVT_WDF_DEVICE_USAGE_NOTIFICATION_EX *PFN_WDF_DEVICE_USAGE_NOTIFICATION_EX;

typedef _Function_class_(EVT_WDF_DEVICE_RELATIONS_QUERY) _IRQL_requires_same_
    _IRQL_requires_max_(PASSIVE_LEVEL)
VOID NTAPI EVT_WDF_DEVICE_RELATIONS_QUERY(_In_ WDFDEVICE Device,
                                          _In_ DEVICE_RELATION_TYPE RelationType);
typedef EVT_WDF_DEVICE_RELATIONS_QUERY *PFN_WDF_DEVICE_RELATIONS_QUERY;

typedef struct _WDF_PNPPOWER_EVENT_CALLBACKS {
    ULONG Size;
    PFN_WDF_DEVICE_D0_ENTRY EvtDeviceD0Entry;
    PFN_WDF_DEVICE_D0_ENTRY_POST_INTERRUPTS_ENABLED EvtDeviceD0EntryPostInterruptsEnabled;
    PFN_WDF_DEVICE_D0_EXIT EvtDeviceD0Exit;
    PFN_WDF_DEVICE_D0_EXIT_PRE_INTERRUPTS_DISABLED EvtDeviceD0ExitPreInterruptsDisabled;
    PFN_WDF_DEVICE_PREPARE_HARDWARE EvtDevicePrepareHardware;
    PFN_WDF_DEVICE_RELEASE_HARDWARE EvtDeviceReleaseHardware;
    PFN_WDF_DEVICE_SELF_MANAGED_IO_CLEANUP EvtDeviceSelfManagedIoCleanup;
    PFN_WDF_DEVICE_SELF_MANAGED_IO_FLUSH EvtDeviceSelfManagedIoFlush;
    PFN_WDF_DEVICE_SELF_MANAGED_IO_INIT EvtDeviceSelfManagedIoInit;
    PFN_WDF_DEVICE_SELF_MANAGED_IO_SUSPEND EvtDeviceSelfManagedIoSuspend;
    PFN_WDF_DEVICE_SELF_MANAGED_IO_RESTART EvtDeviceSelfManagedIoRestart;
    PFN_WDF_DEVICE_SURPRISE_REMOVAL EvtDeviceSurpriseRemoval;
    PFN_WDF_DEVICE_QUERY_REMOVE EvtDeviceQueryRemove;
    PFN_WDF_DEVICE_QUERY_STOP EvtDeviceQueryStop;
    PFN_WDF_DEVICE_USAGE_NOTIFICATION EvtDeviceUsageNotification;
    PFN_WDF_DEVICE_RELATIONS_QUERY EvtDeviceRelationsQuery;
    PFN_WDF_DEVICE_USAGE_NOTIFICATION_EX EvtDeviceUsageNotificationEx;
} WDF_PNPPOWER_EVENT_CALLBACKS, *PWDF_PNPPOWER_EVENT_CALLBACKS;

FORCEINLINE VOID WDF_PNPPOWER_EVENT_CALLBACKS_INIT(_Out_ PWDF_PNPPOWER_EVENT_CALLBACKS Callbacks)
{
    RtlZeroMemory(Callbacks, sizeof(WDF_PNPPOWER_EVENT_CALLBACKS));
    Callbacks->Size = WDF_STRUCTURE_SIZE(WDF_PNPPOWER_EVENT_CALLBACKS);
}

/* ---- Device state and capabilities -------------------------------------------------- */

typedef struct _WDF_DEVICE_STATE {
    ULONG Size;
    WDF_TRI_STATE Disabled;
    WDF_TRI_STATE DontDisplayInUI;
    WDF_TRI_STATE Failed;
    WDF_TRI_STATE NotDisableable;
    WDF_TRI_STATE Removed;
    WDF_TRI_STATE ResourcesChanged;
    WDF_TRI_STATE AssignedToGuest;
} WDF_DEVICE_STATE, *PWDF_DEVICE_STATE;

FORCEINLINE VOID WDF_DEVICE_STATE_INIT(_Out_ PWDF_DEVICE_STATE PnpDeviceState)
{
    RtlZeroMemory(PnpDeviceState, sizeof(WDF_DEVICE_STATE));
    PnpDeviceState->Size = WDF_STRUCTURE_SIZE(WDF_DEVICE_STATE);
    PnpDeviceState->Disabled = WdfUseDefault;
    PnpDeviceState->DontDisplayInUI = WdfUseDefault;
    PnpDeviceState->Failed = WdfUseDefault;
    PnpDeviceState->NotDisableable = WdfUseDefault;
    PnpDeviceState->Removed = WdfUseDefault;
    PnpDeviceState->ResourcesChanged = WdfUseDefault;
    PnpDeviceState->AssignedToGuest = WdfUseDefault;
}

typedef struct _WDF_DEVICE_PNP_CAPABILITIES {
    ULONG Size;
    WDF_TRI_STATE LockSupported;
    WDF_TRI_STATE EjectSupported;
    WDF_TRI_STATE Removable;
    WDF_TRI_STATE DockDevice;
    WDF_TRI_STATE UniqueID;
    WDF_TRI_STATE SilentInstall;
    WDF_TRI_STATE SurpriseRemovalOK;
    WDF_TRI_STATE HardwareDisabled;
    WDF_TRI_STATE NoDisplayInUI;
    /* (ULONG)-1 = leave the bus driver's value. */
    ULONG Address;
    ULONG UINumber;
} WDF_DEVICE_PNP_CAPABILITIES, *PWDF_DEVICE_PNP_CAPABILITIES;

FORCEINLINE VOID WDF_DEVICE_PNP_CAPABILITIES_INIT(_Out_ PWDF_DEVICE_PNP_CAPABILITIES Caps)
{
    RtlZeroMemory(Caps, sizeof(WDF_DEVICE_PNP_CAPABILITIES));
    Caps->Size = WDF_STRUCTURE_SIZE(WDF_DEVICE_PNP_CAPABILITIES);
    Caps->LockSupported = WdfUseDefault;
    Caps->EjectSupported = WdfUseDefault;
    Caps->Removable = WdfUseDefault;
    Caps->DockDevice = WdfUseDefault;
    Caps->UniqueID = WdfUseDefault;
    Caps->SilentInstall = WdfUseDefault;
    Caps->SurpriseRemovalOK = WdfUseDefault;
    Caps->HardwareDisabled = WdfUseDefault;
    Caps->NoDisplayInUI = WdfUseDefault;
    Caps->Address = (ULONG)-1;
    Caps->UINumber = (ULONG)-1;
}

/* <= DISPATCH. Runs in the caller's context, before the request is queued. */
typedef _Function_class_(EVT_WDF_IO_IN_CALLER_CONTEXT) _IRQL_requires_same_
    _IRQL_requires_max_(DISPATCH_LEVEL)
VOID NTAPI EVT_WDF_IO_IN_CALLER_CONTEXT(_In_ WDFDEVICE Device, _In_ WDFREQUEST Request);
typedef EVT_WDF_IO_IN_CALLER_CONTEXT *PFN_WDF_IO_IN_CALLER_CONTEXT;

/* ---- WDFDEVICE_INIT: only between EvtDriverDeviceAdd entry and WdfDeviceCreate ------- */

_IRQL_requires_max_(DISPATCH_LEVEL)
WDFAPI VOID WdfDeviceInitSetPnpPowerEventCallbacks(
    _In_ PWDFDEVICE_INIT DeviceInit, _In_ PWDF_PNPPOWER_EVENT_CALLBACKS PnpPowerEventCallbacks);

_IRQL_requires_max_(DISPATCH_LEVEL)
WDFAPI VOID WdfDeviceInitSetPowerPolicyOwnership(_In_ PWDFDEVICE_INIT DeviceInit,
                                                 _In_ BOOLEAN IsPowerPolicyOwner);

_IRQL_requires_max_(DISPATCH_LEVEL)
WDFAPI VOID WdfDeviceInitSetExclusive(_In_ PWDFDEVICE_INIT DeviceInit, _In_ BOOLEAN IsExclusive);

/* <= DISPATCH. Default WdfDeviceIoBuffered. */
_IRQL_requires_max_(DISPATCH_LEVEL)
WDFAPI VOID WdfDeviceInitSetIoType(_In_ PWDFDEVICE_INIT DeviceInit,
                                   _In_ WDF_DEVICE_IO_TYPE IoType);

_IRQL_requires_max_(DISPATCH_LEVEL)
WDFAPI VOID WdfDeviceInitSetPowerNotPageable(_In_ PWDFDEVICE_INIT DeviceInit);

_IRQL_requires_max_(DISPATCH_LEVEL)
WDFAPI VOID WdfDeviceInitSetPowerPageable(_In_ PWDFDEVICE_INIT DeviceInit);

_IRQL_requires_max_(DISPATCH_LEVEL)
WDFAPI VOID WdfDeviceInitSetDeviceType(_In_ PWDFDEVICE_INIT DeviceInit,
                                       _In_ DEVICE_TYPE DeviceType);

_IRQL_requires_max_(DISPATCH_LEVEL)
WDFAPI VOID WdfDeviceInitSetCharacteristics(_In_ PWDFDEVICE_INIT DeviceInit,
                                            _In_ ULONG DeviceCharacteristics,
                                            _In_ BOOLEAN OrInValues);

/* PASSIVE. DeviceName NULL clears a previously assigned name. */
_Must_inspect_result_ _IRQL_requires_max_(PASSIVE_LEVEL)
WDFAPI NTSTATUS WdfDeviceInitAssignName(_In_ PWDFDEVICE_INIT DeviceInit,
                                        _In_opt_ PCUNICODE_STRING DeviceName);

_IRQL_requires_max_(DISPATCH_LEVEL)
WDFAPI VOID WdfDeviceInitSetFileObjectConfig(_In_ PWDFDEVICE_INIT DeviceInit,
                                             _In_ PWDF_FILEOBJECT_CONFIG FileObjectConfig,
                                             _In_opt_ PWDF_OBJECT_ATTRIBUTES FileObjectAttributes);

/* <= DISPATCH. Attributes (context type, callbacks) for every request of the device. */
_IRQL_requires_max_(DISPATCH_LEVEL)
WDFAPI VOID WdfDeviceInitSetRequestAttributes(_In_ PWDFDEVICE_INIT DeviceInit,
                                              _In_ PWDF_OBJECT_ATTRIBUTES RequestAttributes);

_IRQL_requires_max_(DISPATCH_LEVEL)
WDFAPI VOID WdfDeviceInitSetIoInCallerContextCallback(
    _In_ PWDFDEVICE_INIT DeviceInit, _In_ PFN_WDF_IO_IN_CALLER_CONTEXT EvtIoInCallerContext);

_IRQL_requires_max_(DISPATCH_LEVEL)
WDFAPI VOID WdfDeviceInitSetReleaseHardwareOrderOnFailure(
    _In_ PWDFDEVICE_INIT DeviceInit,
    _In_ WDF_RELEASE_HARDWARE_ORDER_ON_FAILURE ReleaseHardwareOrderOnFailure);

/* <= DISPATCH. Only for a WDFDEVICE_INIT the driver allocated itself (control devices). */
_IRQL_requires_max_(DISPATCH_LEVEL)
WDFAPI VOID WdfDeviceInitFree(_In_ PWDFDEVICE_INIT DeviceInit);

/*
 * PASSIVE. Creates the device from *DeviceInit. On success *DeviceInit is set to NULL.
 * On failure it is left as it was: the framework frees a DeviceInit it passed to
 * EvtDriverDeviceAdd; one the driver allocated itself needs WdfDeviceInitFree.
 */
_Must_inspect_result_ _IRQL_requires_max_(PASSIVE_LEVEL)
WDFAPI NTSTATUS WdfDeviceCreate(_Inout_ PWDFDEVICE_INIT *DeviceInit,
                                _In_opt_ PWDF_OBJECT_ATTRIBUTES DeviceAttributes,
                                _Out_ WDFDEVICE *Device);

/* ---- WDFDEVICE ---------------------------------------------------------------------- */

/*
 * <= DISPATCH. The device's buffer alignment requirement, as a mask (alignment - 1,
 * e.g. FILE_OCTA_ALIGNMENT). DMA enablers and common buffers take it into account.
 */
_IRQL_requires_max_(DISPATCH_LEVEL)
WDFAPI ULONG WdfDeviceGetAlignmentRequirement(_In_ WDFDEVICE Device);

_IRQL_requires_max_(DISPATCH_LEVEL)
WDFAPI VOID WdfDeviceSetAlignmentRequirement(_In_ WDFDEVICE Device,
                                             _In_ ULONG AlignmentRequirement);

_Must_inspect_result_ _IRQL_requires_max_(PASSIVE_LEVEL)
WDFAPI NTSTATUS WdfDeviceCreateDeviceInterface(_In_ WDFDEVICE Device,
                                               _In_ CONST GUID *InterfaceClassGUID,
                                               _In_opt_ PCUNICODE_STRING ReferenceString);

_Must_inspect_result_ _IRQL_requires_max_(PASSIVE_LEVEL)
WDFAPI NTSTATUS WdfDeviceCreateSymbolicLink(_In_ WDFDEVICE Device,
                                            _In_ PCUNICODE_STRING SymbolicLinkName);

_IRQL_requires_max_(DISPATCH_LEVEL)
WDFAPI PDEVICE_OBJECT WdfDeviceWdmGetDeviceObject(_In_ WDFDEVICE Device);

_IRQL_requires_max_(DISPATCH_LEVEL)
WDFAPI PDEVICE_OBJECT WdfDeviceWdmGetAttachedDevice(_In_ WDFDEVICE Device);

_IRQL_requires_max_(DISPATCH_LEVEL)
WDFAPI PDEVICE_OBJECT WdfDeviceWdmGetPhysicalDevice(_In_ WDFDEVICE Device);

_IRQL_requires_max_(DISPATCH_LEVEL)
WDFAPI WDFDEVICE WdfWdmDeviceGetWdfDeviceHandle(_In_ PDEVICE_OBJECT DeviceObject);

_IRQL_requires_max_(DISPATCH_LEVEL)
WDFAPI WDFDRIVER WdfDeviceGetDriver(_In_ WDFDEVICE Device);

/* <= DISPATCH. NULL if the device has no default queue. */
_IRQL_requires_max_(DISPATCH_LEVEL)
WDFAPI WDFQUEUE WdfDeviceGetDefaultQueue(_In_ WDFDEVICE Device);

/*
 * <= DISPATCH. Route requests of RequestType (Create, Read, Write, DeviceControl,
 * DeviceControlInternal) to Queue instead of the default queue.
 */
_Must_inspect_result_ _IRQL_requires_max_(DISPATCH_LEVEL)
WDFAPI NTSTATUS WdfDeviceConfigureRequestDispatching(_In_ WDFDEVICE Device, _In_ WDFQUEUE Queue,
                                                     _In_ WDF_REQUEST_TYPE RequestType);

/* <= DISPATCH. From EvtIoInCallerContext: hand the request to the device's queues. */
_Must_inspect_result_ _IRQL_requires_max_(DISPATCH_LEVEL)
WDFAPI NTSTATUS WdfDeviceEnqueueRequest(_In_ WDFDEVICE Device, _In_ WDFREQUEST Request);

/* <= DISPATCH. Report an unrecoverable device error; PnP tears the device stack down. */
_IRQL_requires_max_(DISPATCH_LEVEL)
WDFAPI VOID WdfDeviceSetFailed(_In_ WDFDEVICE Device, _In_ WDF_DEVICE_FAILED_ACTION FailedAction);

_IRQL_requires_max_(DISPATCH_LEVEL)
WDFAPI VOID WdfDeviceSetPnpCapabilities(_In_ WDFDEVICE Device,
                                        _In_ PWDF_DEVICE_PNP_CAPABILITIES PnpCapabilities);

_IRQL_requires_max_(DISPATCH_LEVEL)
WDFAPI VOID WdfDeviceGetDeviceState(_In_ WDFDEVICE Device, _Out_ PWDF_DEVICE_STATE DeviceState);

_IRQL_requires_max_(DISPATCH_LEVEL)
WDFAPI VOID WdfDeviceSetDeviceState(_In_ WDFDEVICE Device, _In_ PWDF_DEVICE_STATE DeviceState);

/*
 * Power references. WaitForD0 TRUE: PASSIVE, returns once the device is in D0.
 * WaitForD0 FALSE: <= DISPATCH, STATUS_PENDING while the device is powering up.
 * Each successful StopIdle is balanced by one ResumeIdle.
 */
_Must_inspect_result_ _IRQL_requires_max_(DISPATCH_LEVEL)
WDFAPI NTSTATUS WdfDeviceStopIdleNoTrack(_In_ WDFDEVICE Device, _In_ BOOLEAN WaitForD0);

_IRQL_requires_max_(DISPATCH_LEVEL)
WDFAPI VOID WdfDeviceResumeIdleNoTrack(_In_ WDFDEVICE Device);

_Must_inspect_result_ _IRQL_requires_max_(DISPATCH_LEVEL)
WDFAPI NTSTATUS WdfDeviceStopIdleActual(_In_ WDFDEVICE Device, _In_ BOOLEAN WaitForD0,
                                        _In_opt_ PVOID Tag, _In_ LONG Line, _In_z_ PCCH File);

_IRQL_requires_max_(DISPATCH_LEVEL)
WDFAPI VOID WdfDeviceResumeIdleActual(_In_ WDFDEVICE Device, _In_opt_ PVOID Tag,
                                      _In_ LONG Line, _In_z_ PCCH File);

#define WdfDeviceStopIdle(Device, WaitForD0) WdfDeviceStopIdleWithTag(Device, WaitForD0, NULL)
#define WdfDeviceStopIdleWithTag(Device, WaitForD0, Tag) \
    WdfDeviceStopIdleActual(Device, WaitForD0, Tag, __LINE__, __FILE__)
#define WdfDeviceResumeIdle(Device) WdfDeviceResumeIdleWithTag(Device, NULL)
#define WdfDeviceResumeIdleWithTag(Device, Tag) \
    WdfDeviceResumeIdleActual(Device, Tag, __LINE__, __FILE__)

WDF_EXTERN_C_END

#endif /* _WDFDEVICE_H_ */
