/*
 * wdfcore.h - small helpers every KMDF driver may use: timeout conversion for
 * WdfTimerStart / WdfWaitLockAcquire / WdfRequestSend, size alignment and pointer
 * offset arithmetic.
 */
#ifndef _WDFCORE_H_
#define _WDFCORE_H_

#include "wdftypes.h"

WDF_EXTERN_C_START

/*
 * Timeouts are in 100-ns units, as for KeSetTimer: a negative value is relative to now,
 * a positive value is an absolute system time.
 */
#define WDF_TIMEOUT_TO_SEC ((LONGLONG)1 * 10 * 1000 * 1000)
#define WDF_TIMEOUT_TO_MS ((LONGLONG)1 * 10 * 1000)
#define WDF_TIMEOUT_TO_US ((LONGLONG)1 * 10)

FORCEINLINE LONGLONG WDF_REL_TIMEOUT_IN_SEC(_In_ ULONGLONG Time)
{
    return -((LONGLONG)Time * WDF_TIMEOUT_TO_SEC);
}

FORCEINLINE LONGLONG WDF_ABS_TIMEOUT_IN_SEC(_In_ ULONGLONG Time)
{
    return (LONGLONG)Time * WDF_TIMEOUT_TO_SEC;
}

FORCEINLINE LONGLONG WDF_REL_TIMEOUT_IN_MS(_In_ ULONGLONG Time)
{
    return -((LONGLONG)Time * WDF_TIMEOUT_TO_MS);
}

FORCEINLINE LONGLONG WDF_ABS_TIMEOUT_IN_MS(_In_ ULONGLONG Time)
{
    return (LONGLONG)Time * WDF_TIMEOUT_TO_MS;
}

FORCEINLINE LONGLONG WDF_REL_TIMEOUT_IN_US(_In_ ULONGLONG Time)
{
    return -((LONGLONG)Time * WDF_TIMEOUT_TO_US);
}

FORCEINLINE LONGLONG WDF_ABS_TIMEOUT_IN_US(_In_ ULONGLONG Time)
{
    return (LONGLONG)Time * WDF_TIMEOUT_TO_US;
}

/* AlignTo must be a power of two. */
FORCEINLINE size_t WDF_ALIGN_SIZE_DOWN(_In_ size_t Length, _In_ size_t AlignTo)
{
    return Length & ~(AlignTo - 1);
}

/* AlignTo must be a power of two; the result wraps to 0 if Length is within AlignTo of SIZE_MAX. */
FORCEINLINE size_t WDF_ALIGN_SIZE_UP(_In_ size_t Length, _In_ size_t AlignTo)
{
    return WDF_ALIGN_SIZE_DOWN(Length + AlignTo - 1, AlignTo);
}

#define WDF_PTR_ADD_OFFSET_TYPE(_ptr, _offset, _type) ((_type)(((PUCHAR)(_ptr)) + (_offset)))
#define WDF_PTR_ADD_OFFSET(_ptr, _offset) WDF_PTR_ADD_OFFSET_TYPE(_ptr, _offset, PVOID)
#define WDF_PTR_GET_OFFSET(_base, _addr) (size_t)(((PUCHAR)_addr) - ((PUCHAR)_base))

WDF_EXTERN_C_END

#endif /* _WDFCORE_H_ */
