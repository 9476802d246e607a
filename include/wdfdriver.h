/*
 * wdfdriver.h - the framework driver object, created once from DriverEntry.
 */
#ifndef _WDFDRIVER_H_
#define _WDFDRIVER_H_

#include "wdfobject.h"

WDF_EXTERN_C_START

typedef enum _WDF_DRIVER_INIT_FLAGS {
    WdfDriverInitNonPnpDriver = 0x00000001,
    WdfDriverInitNoDispatchOverride = 0x00000002,
    WdfVerifyOn = 0x00000004,
    WdfVerifierOn = 0x00000008,
    WdfDriverInitCompanion = 0x00000010,
} WDF_DRIVER_INIT_FLAGS;

#define WDF_TRACE_ID ('TRAC')

/*
 * PASSIVE. Called for each device the driver is asked to drive: configure DeviceInit,
 * call WdfDeviceCreate, create queues, interrupts and DMA objects. DeviceInit is owned by
 * the framework; a failure status fails the device (the framework frees DeviceInit).
 */
typedef _Function_class_(EVT_WDF_DRIVER_DEVICE_ADD) _IRQL_requires_same_
    _IRQL_requires_max_(PASSIVE_LEVEL)
NTSTATUS NTAPI EVT_WDF_DRIVER_DEVICE_ADD(_In_ WDFDRIVER Driver,
                                         _Inout_ PWDFDEVICE_INIT DeviceInit);
typedef EVT_WDF_DRIVER_DEVICE_ADD *PFN_WDF_DRIVER_DEVICE_ADD;

/* PASSIVE. Last call before the driver image is unloaded. */
typedef _Function_class_(EVT_WDF_DRIVER_UNLOAD) _IRQL_requires_same_
    _IRQL_requires_max_(PASSIVE_LEVEL)
VOID NTAPI EVT_WDF_DRIVER_UNLOAD(_In_ WDFDRIVER Driver);
typedef EVT_WDF_DRIVER_UNLOAD *PFN_WDF_DRIVER_UNLOAD;

typedef _Function_class_(EVT_WDF_TRACE_CALLBACK) _IRQL_requires_same_
    _IRQL_requires_max_(DISPATCH_LEVEL)
NTSTATUS NTAPI EVT_WDF_TRACE_CALLBACK(_In_ UCHAR minorFunction, _In_opt_ PVOID dataPath,
                                      _In_ ULONG bufferLength, _Inout_ PVOID buffer,
                                      _In_ PVOID context, _Out_ PULONG size);
typedef EVT_WDF_TRACE_CALLBACK *PFN_WDF_TRACE_CALLBACK;

typedef struct _WDF_DRIVER_CONFIG {
    ULONG Size;
    PFN_WDF_DRIVER_DEVICE_ADD EvtDriverDeviceAdd;
    PFN_WDF_DRIVER_UNLOAD EvtDriverUnload;
    /* WDF_DRIVER_INIT_FLAGS, OR'ed. */
    ULONG DriverInitFlags;
    /* Tag for the driver's framework allocations; 0 = derived from the driver name. */
    ULONG DriverPoolTag;
} WDF_DRIVER_CONFIG, *PWDF_DRIVER_CONFIG;

FORCEINLINE VOID WDF_DRIVER_CONFIG_INIT(_Out_ PWDF_DRIVER_CONFIG Config,
                                        _In_opt_ PFN_WDF_DRIVER_DEVICE_ADD EvtDriverDeviceAdd)
{
    RtlZeroMemory(Config, sizeof(WDF_DRIVER_CONFIG));
    Config->Size = WDF_STRUCTURE_SIZE(WDF_DRIVER_CONFIG);
    Config->EvtDriverDeviceAdd = EvtDriverDeviceAdd;
}

typedef struct _WDF_DRIVER_VERSION_AVAILABLE_PARAMS {
    ULONG Size;
    ULONG MajorVersion;
    ULONG MinorVersion;
} WDF_DRIVER_VERSION_AVAILABLE_PARAMS, *PWDF_DRIVER_VERSION_AVAILABLE_PARAMS;

FORCEINLINE VOID WDF_DRIVER_VERSION_AVAILABLE_PARAMS_INIT(
    _Out_ PWDF_DRIVER_VERSION_AVAILABLE_PARAMS Params, _In_ ULONG MajorVersion,
    _In_ ULONG MinorVersion)
{
    RtlZeroMemory(Params, sizeof(WDF_DRIVER_VERSION_AVAILABLE_PARAMS));
    Params->Size = WDF_STRUCTURE_SIZE(WDF_DRIVER_VERSION_AVAILABLE_PARAMS);
    Params->MajorVersion = MajorVersion;
    Params->MinorVersion = MinorVersion;
}

/*
 * PASSIVE, from DriverEntry only. Creates the one WDFDRIVER of this driver image.
 * Driver may be WDF_NO_HANDLE.
 */
_Must_inspect_result_ _IRQL_requires_max_(PASSIVE_LEVEL)
WDFAPI NTSTATUS WdfDriverCreate(_In_ PDRIVER_OBJECT DriverObject,
                                _In_ PCUNICODE_STRING RegistryPath,
                                _In_opt_ PWDF_OBJECT_ATTRIBUTES DriverAttributes,
                                _In_ PWDF_DRIVER_CONFIG DriverConfig,
                                _Out_opt_ WDFDRIVER *Driver);

/*
 * <= DISPATCH. The calling driver's WDFDRIVER. In the WDK this reads the driver's
 * globals; here the framework resolves the calling driver image.
 */
_IRQL_requires_max_(DISPATCH_LEVEL)
WDFAPI WDFDRIVER WdfGetDriver(VOID);

_IRQL_requires_max_(PASSIVE_LEVEL)
WDFAPI PWSTR WdfDriverGetRegistryPath(_In_ WDFDRIVER Driver);

_IRQL_requires_max_(DISPATCH_LEVEL)
WDFAPI PDRIVER_OBJECT WdfDriverWdmGetDriverObject(_In_ WDFDRIVER Driver);

_IRQL_requires_max_(DISPATCH_LEVEL)
WDFAPI WDFDRIVER WdfWdmDriverGetWdfDriverHandle(_In_ PDRIVER_OBJECT DriverObject);

_Must_inspect_result_ _IRQL_requires_max_(PASSIVE_LEVEL)
WDFAPI BOOLEAN WdfDriverIsVersionAvailable(
    _In_ WDFDRIVER Driver, _In_ PWDF_DRIVER_VERSION_AVAILABLE_PARAMS VersionAvailableParams);

WDF_EXTERN_C_END

#endif /* _WDFDRIVER_H_ */
