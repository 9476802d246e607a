/*
 * wdfdmaenabler.h - the DMA enabler: a device's DMA capability (profile, maximum
 * transfer length, scatter/gather limit, address width) and the WDM DMA adapter(s)
 * behind it. DMA transactions and common buffers are created from an enabler.
 *
 * Bus-master profiles get their adapter(s) at WdfDmaEnablerCreate; system profiles
 * (a shared SoC DMA controller) get one per direction from
 * WdfDmaEnablerConfigureSystemProfile, normally in EvtDevicePrepareHardware.
 */
#ifndef _WDFDMAENABLER_H_
#define _WDFDMAENABLER_H_

#include "wdfobject.h"

WDF_EXTERN_C_START

/*
 * Packet: one transfer uses a single contiguous logical range (one SG element).
 * ScatterGather: the device takes SG lists. "64" profiles address 64 bits; the others
 * 32 bits. Duplex profiles have a separate adapter per direction so reads and writes
 * run concurrently. System profiles (KMDF 1.11) use a system DMA controller.
 */
typedef enum _WDF_DMA_PROFILE {
    WdfDmaProfileInvalid = 0,
    WdfDmaProfilePacket,
    WdfDmaProfileScatterGather,
    WdfDmaProfilePacket64,
    WdfDmaProfileScatterGather64,
    WdfDmaProfileScatterGatherDuplex,
    WdfDmaProfileScatterGather64Duplex,
    WdfDmaProfileSystem,
    WdfDmaProfileSystemDuplex,
} WDF_DMA_PROFILE;

/* Numerically FALSE / TRUE, as the WDM WriteToDevice BOOLEAN arguments expect. */
typedef enum _WDF_DMA_DIRECTION {
    WdfDmaDirectionReadFromDevice = FALSE,
    WdfDmaDirectionWriteToDevice = TRUE,
} WDF_DMA_DIRECTION;

/*
 * Enabler power callbacks, all PASSIVE, all optional. Power-up runs, per enabler in
 * creation order, Fill -> Enable -> SelfManagedIoStart (the first failure fails the
 * power-up); power-down runs SelfManagedIoStop -> Disable -> Flush.
 */
typedef _Function_class_(EVT_WDF_DMA_ENABLER_FILL) _IRQL_requires_same_
    _IRQL_requires_max_(PASSIVE_LEVEL)
NTSTATUS NTAPI EVT_WDF_DMA_ENABLER_FILL(_In_ WDFDMAENABLER DmaEnabler);
typedef EVT_WDF_DMA_ENABLER_FILL *PFN_WDF_DMA_ENABLER_FILL;

typedef _Function_class_(EVT_WDF_DMA_ENABLER_FLUSH) _IRQL_requires_same_
    _IRQL_requires_max_(PASSIVE_LEVEL)
NTSTATUS NTAPI EVT_WDF_DMA_ENABLER_FLUSH(_In_ WDFDMAENABLER DmaEnabler);
typedef EVT_WDF_DMA_ENABLER_FLUSH *PFN_WDF_DMA_ENABLER_FLUSH;

typedef _Function_class_(EVT_WDF_DMA_ENABLER_ENABLE) _IRQL_requires_same_
    _IRQL_requires_max_(PASSIVE_LEVEL)
NTSTATUS NTAPI EVT_WDF_DMA_ENABLER_ENABLE(_In_ WDFDMAENABLER DmaEnabler);
typedef EVT_WDF_DMA_ENABLER_ENABLE *PFN_WDF_DMA_ENABLER_ENABLE;

typedef _Function_class_(EVT_WDF_DMA_ENABLER_DISABLE) _IRQL_requires_same_
    _IRQL_requires_max_(PASSIVE_LEVEL)
NTSTATUS NTAPI EVT_WDF_DMA_ENABLER_DISABLE(_In_ WDFDMAENABLER DmaEnabler);
typedef EVT_WDF_DMA_ENABLER_DISABLE *PFN_WDF_DMA_ENABLER_DISABLE;

typedef _Function_class_(EVT_WDF_DMA_ENABLER_SELFMANAGED_IO_START) _IRQL_requires_same_
    _IRQL_requires_max_(PASSIVE_LEVEL)
NTSTATUS NTAPI EVT_WDF_DMA_ENABLER_SELFMANAGED_IO_START(_In_ WDFDMAENABLER DmaEnabler);
typedef EVT_WDF_DMA_ENABLER_SELFMANAGED_IO_START *PFN_WDF_DMA_ENABLER_SELFMANAGED_IO_START;

typedef _Function_class_(EVT_WDF_DMA_ENABLER_SELFMANAGED_IO_STOP) _IRQL_requires_same_
    _IRQL_requires_max_(PASSIVE_LEVEL)
NTSTATUS NTAPI EVT_WDF_DMA_ENABLER_SELFMANAGED_IO_STOP(_In_ WDFDMAENABLER DmaEnabler);
typedef EVT_WDF_DMA_ENABLER_SELFMANAGED_IO_STOP *PFN_WDF_DMA_ENABLER_SELFMANAGED_IO_STOP;

/* The default scatter/gather element limit: none. */
#define WDF_DMA_ENABLER_UNLIMITED_FRAGMENTS ((ULONG)-1)

/* WDF_DMA_ENABLER_CONFIG.Flags (an enum in the WDK, so the names are enumerators). */
typedef enum _WDF_DMA_ENABLER_CONFIG_FLAGS {
    /* Do not preallocate an SG-list buffer per transaction; allocate per transfer. */
    WDF_DMA_ENABLER_CONFIG_NO_SGLIST_PREALLOCATION = 0x00000001,
    /* Every transaction must complete in one transfer (default for SetSingleTransferRequirement). */
    WDF_DMA_ENABLER_CONFIG_REQUIRE_SINGLE_TRANSFER = 0x00000002,
} WDF_DMA_ENABLER_CONFIG_FLAGS;

typedef struct _WDF_DMA_ENABLER_CONFIG {
    ULONG Size;
    WDF_DMA_PROFILE Profile;
    /* Largest transfer the device can do in one go, in bytes (nonzero). */
    size_t MaximumLength;
    PFN_WDF_DMA_ENABLER_FILL EvtDmaEnablerFill;
    PFN_WDF_DMA_ENABLER_FLUSH EvtDmaEnablerFlush;
    PFN_WDF_DMA_ENABLER_DISABLE EvtDmaEnablerDisable;
    PFN_WDF_DMA_ENABLER_ENABLE EvtDmaEnablerEnable;
    PFN_WDF_DMA_ENABLER_SELFMANAGED_IO_START EvtDmaEnablerSelfManagedIoStart;
    PFN_WDF_DMA_ENABLER_SELFMANAGED_IO_STOP EvtDmaEnablerSelfManagedIoStop;
    /*
     * 0: the profile's width (32 or 64). Otherwise 24..63 address bits (at most 32 for
     * 32-bit profiles; must be 0 for system profiles). A nonzero value forces DMA v3.
     */
    ULONG AddressWidthOverride;
    /* 0: framework's choice; 3: use the version 3 DMA operations. */
    ULONG WdmDmaVersionOverride;
    /* WDF_DMA_ENABLER_CONFIG_FLAGS. */
    ULONG Flags;
} WDF_DMA_ENABLER_CONFIG, *PWDF_DMA_ENABLER_CONFIG;

FORCEINLINE VOID WDF_DMA_ENABLER_CONFIG_INIT(_Out_ PWDF_DMA_ENABLER_CONFIG Config,
                                             _In_ WDF_DMA_PROFILE Profile,
                                             _In_ size_t MaximumLength)
{
    RtlZeroMemory(Config, sizeof(WDF_DMA_ENABLER_CONFIG));
    Config->Size = WDF_STRUCTURE_SIZE(WDF_DMA_ENABLER_CONFIG);
    Config->Profile = Profile;
    Config->MaximumLength = MaximumLength;
}

/* One direction of a system-profile enabler. */
typedef struct _WDF_DMA_SYSTEM_PROFILE_CONFIG {
    ULONG Size;
    /* The transfer is paced by the device's DMA request line. */
    BOOLEAN DemandMode;
    /* Auto-initialize: the controller wraps around the buffer until stopped. */
    BOOLEAN LoopedTransfer;
    DMA_WIDTH DmaWidth;
    /* Bus address of the device's data register (the controller's fixed end). */
    PHYSICAL_ADDRESS DeviceAddress;
    /* Translated CmResourceTypeDma descriptor: u.Dma.Channel, u.Dma.Port (request line). */
    PCM_PARTIAL_RESOURCE_DESCRIPTOR DmaDescriptor;
} WDF_DMA_SYSTEM_PROFILE_CONFIG, *PWDF_DMA_SYSTEM_PROFILE_CONFIG;

FORCEINLINE VOID WDF_DMA_SYSTEM_PROFILE_CONFIG_INIT(_Out_ PWDF_DMA_SYSTEM_PROFILE_CONFIG DmaConfig,
                                                    _In_ PHYSICAL_ADDRESS Address,
                                                    _In_ DMA_WIDTH DmaWidth,
                                                    _In_ PCM_PARTIAL_RESOURCE_DESCRIPTOR DmaDescriptor)
{
    RtlZeroMemory(DmaConfig, sizeof(WDF_DMA_SYSTEM_PROFILE_CONFIG));
    DmaConfig->Size = WDF_STRUCTURE_SIZE(WDF_DMA_SYSTEM_PROFILE_CONFIG);
    DmaConfig->DeviceAddress = Address;
    DmaConfig->DmaWidth = DmaWidth;
    DmaConfig->DmaDescriptor = DmaDescriptor;
}

/*
 * PASSIVE (KMDF 1.0). Config->Size must match (STATUS_INFO_LENGTH_MISMATCH); the profile
 * must be valid and MaximumLength nonzero (STATUS_INVALID_PARAMETER). Parent: Device
 * (or a descendant named in Attributes).
 */
_Must_inspect_result_ _IRQL_requires_max_(PASSIVE_LEVEL)
WDFAPI NTSTATUS WdfDmaEnablerCreate(_In_ WDFDEVICE Device, _In_ PWDF_DMA_ENABLER_CONFIG Config,
                                    _In_opt_ PWDF_OBJECT_ATTRIBUTES Attributes,
                                    _Out_ WDFDMAENABLER *DmaEnablerHandle);

/*
 * PASSIVE (1.11). System profiles: creates the adapter for ConfigDirection (ignored for
 * simplex System). Call before any transaction is initialized. STATUS_INVALID_PARAMETER
 * if that direction is already configured, ProfileConfig or its DmaDescriptor is NULL,
 * or the direction is invalid; wrong Size gives STATUS_INFO_LENGTH_MISMATCH.
 */
_Must_inspect_result_ _IRQL_requires_max_(PASSIVE_LEVEL)
WDFAPI NTSTATUS WdfDmaEnablerConfigureSystemProfile(
    _In_ WDFDMAENABLER DmaEnabler, _In_ PWDF_DMA_SYSTEM_PROFILE_CONFIG ProfileConfig,
    _In_ WDF_DMA_DIRECTION ConfigDirection);

/* <= DISPATCH (1.0). MaximumLength from the configuration. */
_IRQL_requires_max_(DISPATCH_LEVEL)
WDFAPI size_t WdfDmaEnablerGetMaximumLength(_In_ WDFDMAENABLER DmaEnabler);

/* <= DISPATCH (1.0). WDF_DMA_ENABLER_UNLIMITED_FRAGMENTS unless set. */
_IRQL_requires_max_(DISPATCH_LEVEL)
WDFAPI size_t WdfDmaEnablerGetMaximumScatterGatherElements(_In_ WDFDMAENABLER DmaEnabler);

/*
 * PASSIVE (1.0), from EvtDriverDeviceAdd or EvtDevicePrepareHardware only. The most SG
 * elements the device accepts per transfer; 0 is ignored.
 */
_IRQL_requires_max_(PASSIVE_LEVEL)
WDFAPI VOID WdfDmaEnablerSetMaximumScatterGatherElements(_In_ WDFDMAENABLER DmaEnabler,
                                                         _In_ size_t MaximumFragments);

/*
 * <= DISPATCH (1.1). The longest single transfer for that direction:
 * min(MaximumLength, (map registers - 1) * PAGE_SIZE). 0 for an invalid direction.
 */
_IRQL_requires_max_(DISPATCH_LEVEL)
WDFAPI size_t WdfDmaEnablerGetFragmentLength(_In_ WDFDMAENABLER DmaEnabler,
                                             _In_ WDF_DMA_DIRECTION DmaDirection);

/* <= DISPATCH (1.5). The direction's WDM adapter (the same one both ways when simplex). */
_IRQL_requires_max_(DISPATCH_LEVEL)
WDFAPI PDMA_ADAPTER WdfDmaEnablerWdmGetDmaAdapter(_In_ WDFDMAENABLER DmaEnabler,
                                                  _In_ WDF_DMA_DIRECTION DmaDirection);

WDF_EXTERN_C_END

#endif /* _WDFDMAENABLER_H_ */
