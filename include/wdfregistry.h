/*
 * wdfregistry.h - registry-key objects (WDFKEY): how a KMDF driver reads the settings an
 * INF or an administrator stored for it.
 *
 * Part of wdfdma's WDK-named headers (KMDF 1.33 names and signatures, our own text).
 *
 * The keys a driver normally opens:
 *  - the device's hardware key (WdfDeviceOpenRegistryKey, PLUGPLAY_REGKEY_DEVICE): the
 *    values an INF's [<install>.NT.HW] AddReg section wrote with HKR; per device instance;
 *  - the device's software ("driver") key (PLUGPLAY_REGKEY_DRIVER): the [<install>.NT]
 *    AddReg section's HKR values; per device instance;
 *  - the driver's Parameters key (WdfDriverOpenParametersRegistryKey): the service's
 *    HKR,Parameters values; one per driver.
 * Value names compare case-insensitively, as Windows does. Every DDI here is PASSIVE_LEVEL
 * only: with the verifier on, a call at a higher IRQL fails with
 * STATUS_INVALID_DEVICE_REQUEST.
 *
 * In the WDK, WdfDeviceOpenRegistryKey is declared in wdfdevice.h and
 * WdfDriverOpenParametersRegistryKey in wdfdriver.h; both reach a driver through <wdf.h>
 * either way.
 */
#ifndef _WDFREGISTRY_H_
#define _WDFREGISTRY_H_

#include "wdfobject.h"

#ifndef _Out_writes_bytes_opt_
#define _Out_writes_bytes_opt_(size)
#endif

WDF_EXTERN_C_START

/* ---- kernel definitions the registry DDIs use (wdm.h in the WDK) ------------------- */
/* DeviceInstanceKeyType of WdfDeviceOpenRegistryKey (IoOpenDeviceRegistryKey's values). */
#ifndef PLUGPLAY_REGKEY_DEVICE
#define PLUGPLAY_REGKEY_DEVICE 1
#endif
#ifndef PLUGPLAY_REGKEY_DRIVER
#define PLUGPLAY_REGKEY_DRIVER 2
#endif
#ifndef PLUGPLAY_REGKEY_CURRENT_HWPROFILE
#define PLUGPLAY_REGKEY_CURRENT_HWPROFILE 4
#endif

/* Registry access rights (ACCESS_MASK). */
#ifndef KEY_QUERY_VALUE
#define KEY_QUERY_VALUE 0x0001
#define KEY_SET_VALUE 0x0002
#define KEY_CREATE_SUB_KEY 0x0004
#define KEY_ENUMERATE_SUB_KEYS 0x0008
#define KEY_NOTIFY 0x0010
#define KEY_CREATE_LINK 0x0020
#define KEY_READ 0x20019
#define KEY_WRITE 0x20006
#define KEY_EXECUTE KEY_READ
#define KEY_ALL_ACCESS 0xF003F
#endif
#ifndef GENERIC_READ
#define GENERIC_READ 0x80000000u
#define GENERIC_WRITE 0x40000000u
#define GENERIC_EXECUTE 0x20000000u
#define GENERIC_ALL 0x10000000u
#endif

/* Registry value types (KEY_VALUE_BASIC_INFORMATION.Type). */
#ifndef REG_NONE
#define REG_NONE 0
#define REG_SZ 1
#define REG_EXPAND_SZ 2
#define REG_BINARY 3
#define REG_DWORD 4
#define REG_DWORD_LITTLE_ENDIAN 4
#define REG_DWORD_BIG_ENDIAN 5
#define REG_LINK 6
#define REG_MULTI_SZ 7
#define REG_QWORD 11
#define REG_QWORD_LITTLE_ENDIAN 11
#endif

/* ---- opening and closing keys ------------------------------------------------------- */
/*
 * PASSIVE (1.0). Opens the device's hardware key (PLUGPLAY_REGKEY_DEVICE) or software key
 * (PLUGPLAY_REGKEY_DRIVER), optionally or'ed with PLUGPLAY_REGKEY_CURRENT_HWPROFILE.
 * Another type gives STATUS_INVALID_PARAMETER. The key's parent is the device unless
 * KeyAttributes names one. Close it with WdfRegistryClose (deleting the device also
 * deletes it).
 */
_Must_inspect_result_ _IRQL_requires_max_(PASSIVE_LEVEL)
WDFAPI NTSTATUS WdfDeviceOpenRegistryKey(_In_ WDFDEVICE Device, _In_ ULONG DeviceInstanceKeyType,
                                         _In_ ACCESS_MASK DesiredAccess,
                                         _In_opt_ PWDF_OBJECT_ATTRIBUTES KeyAttributes,
                                         _Out_ WDFKEY *Key);

/* PASSIVE (1.0). The driver's Services\<name>\Parameters key; parent: the driver. */
_Must_inspect_result_ _IRQL_requires_max_(PASSIVE_LEVEL)
WDFAPI NTSTATUS WdfDriverOpenParametersRegistryKey(_In_ WDFDRIVER Driver,
                                                   _In_ ACCESS_MASK DesiredAccess,
                                                   _In_opt_ PWDF_OBJECT_ATTRIBUTES KeyAttributes,
                                                   _Out_ WDFKEY *Key);

/* PASSIVE (1.0). Closes the key and deletes the WDFKEY object. */
_IRQL_requires_max_(PASSIVE_LEVEL)
WDFAPI VOID WdfRegistryClose(_In_ WDFKEY Key);

/* ---- values ----------------------------------------------------------------------- */
/*
 * PASSIVE (1.0). Copies the value's data to Value when ValueLength is large enough.
 * Value NULL (a size query) or a buffer too small: STATUS_BUFFER_OVERFLOW, nothing copied,
 * and *ValueLengthQueried / *ValueType still report the value. No such value:
 * STATUS_OBJECT_NAME_NOT_FOUND. A key opened without KEY_QUERY_VALUE:
 * STATUS_ACCESS_DENIED. A malformed ValueName: STATUS_INVALID_PARAMETER.
 */
_Must_inspect_result_ _IRQL_requires_max_(PASSIVE_LEVEL)
WDFAPI NTSTATUS WdfRegistryQueryValue(_In_ WDFKEY Key, _In_ PCUNICODE_STRING ValueName,
                                      _In_ ULONG ValueLength,
                                      _Out_writes_bytes_opt_(ValueLength) PVOID Value,
                                      _Out_opt_ PULONG ValueLengthQueried,
                                      _Out_opt_ PULONG ValueType);

/*
 * PASSIVE (1.0). A REG_DWORD value. STATUS_OBJECT_NAME_NOT_FOUND when absent (drivers
 * fall back to a default then); STATUS_OBJECT_TYPE_MISMATCH when the value is not a
 * REG_DWORD; *Value is written only on success.
 */
_Must_inspect_result_ _IRQL_requires_max_(PASSIVE_LEVEL)
WDFAPI NTSTATUS WdfRegistryQueryULong(_In_ WDFKEY Key, _In_ PCUNICODE_STRING ValueName,
                                      _Out_ PULONG Value);

/* PASSIVE (1.0). Creates or replaces a REG_DWORD value; needs KEY_SET_VALUE. */
_Must_inspect_result_ _IRQL_requires_max_(PASSIVE_LEVEL)
WDFAPI NTSTATUS WdfRegistryAssignULong(_In_ WDFKEY Key, _In_ PCUNICODE_STRING ValueName,
                                       _In_ ULONG Value);

/* PASSIVE (1.0). Creates or replaces a value of any type; needs KEY_SET_VALUE. */
_Must_inspect_result_ _IRQL_requires_max_(PASSIVE_LEVEL)
WDFAPI NTSTATUS WdfRegistryAssignValue(_In_ WDFKEY Key, _In_ PCUNICODE_STRING ValueName,
                                       _In_ ULONG ValueType, _In_ ULONG ValueLength,
                                       _In_reads_bytes_(ValueLength) PVOID Value);

WDF_EXTERN_C_END

#endif /* _WDFREGISTRY_H_ */
