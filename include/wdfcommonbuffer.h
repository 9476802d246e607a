/*
 * wdfcommonbuffer.h - common buffers: memory both the driver (virtual address) and the
 * device (logical address) access for the buffer's whole life, typically descriptor
 * rings. Allocated within the enabler's address width.
 */
#ifndef _WDFCOMMONBUFFER_H_
#define _WDFCOMMONBUFFER_H_

#include "wdfobject.h"
#include "wdfdmaenabler.h"

WDF_EXTERN_C_START

typedef struct _WDF_COMMON_BUFFER_CONFIG {
    ULONG Size;
    /*
     * Alignment as a mask: alignment - 1 (e.g. FILE_OCTA_ALIGNMENT = 15 for 16 bytes).
     * When it exceeds PAGE_SIZE - 1 the logical address is the one aligned, and the
     * virtual address is offset by the same amount.
     */
    ULONG AlignmentRequirement;
} WDF_COMMON_BUFFER_CONFIG, *PWDF_COMMON_BUFFER_CONFIG;

FORCEINLINE VOID WDF_COMMON_BUFFER_CONFIG_INIT(_Out_ PWDF_COMMON_BUFFER_CONFIG Config,
                                               _In_ ULONG AlignmentRequirement)
{
    RtlZeroMemory(Config, sizeof(WDF_COMMON_BUFFER_CONFIG));
    Config->Size = WDF_STRUCTURE_SIZE(WDF_COMMON_BUFFER_CONFIG);
    Config->AlignmentRequirement = AlignmentRequirement;
}

/*
 * PASSIVE (1.0). Length nonzero (else STATUS_INVALID_PARAMETER). Parent: the enabler.
 * Aligned to the enabler's default (the device alignment requirement, at least the
 * adapter's).
 */
_Must_inspect_result_ _IRQL_requires_max_(PASSIVE_LEVEL)
WDFAPI NTSTATUS WdfCommonBufferCreate(_In_ WDFDMAENABLER DmaEnabler, _In_ size_t Length,
                                      _In_opt_ PWDF_OBJECT_ATTRIBUTES Attributes,
                                      _Out_ WDFCOMMONBUFFER *CommonBuffer);

/* PASSIVE (1.1). As WdfCommonBufferCreate with Config->AlignmentRequirement. */
_Must_inspect_result_ _IRQL_requires_max_(PASSIVE_LEVEL)
WDFAPI NTSTATUS WdfCommonBufferCreateWithConfig(_In_ WDFDMAENABLER DmaEnabler, _In_ size_t Length,
                                                _In_ PWDF_COMMON_BUFFER_CONFIG Config,
                                                _In_opt_ PWDF_OBJECT_ATTRIBUTES Attributes,
                                                _Out_ WDFCOMMONBUFFER *CommonBuffer);

_IRQL_requires_max_(DISPATCH_LEVEL)
WDFAPI PVOID WdfCommonBufferGetAlignedVirtualAddress(_In_ WDFCOMMONBUFFER CommonBuffer);

_IRQL_requires_max_(DISPATCH_LEVEL)
WDFAPI PHYSICAL_ADDRESS WdfCommonBufferGetAlignedLogicalAddress(_In_ WDFCOMMONBUFFER CommonBuffer);

/* <= DISPATCH. The length requested at creation. */
_IRQL_requires_max_(DISPATCH_LEVEL)
WDFAPI size_t WdfCommonBufferGetLength(_In_ WDFCOMMONBUFFER CommonBuffer);

WDF_EXTERN_C_END

#endif /* _WDFCOMMONBUFFER_H_ */
