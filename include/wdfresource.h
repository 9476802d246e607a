/*
 * wdfresource.h - the hardware resource lists handed to EvtDevicePrepareHardware.
 * Raw descriptors are bus-relative; translated ones are what the driver maps and
 * connects (MmMapIoSpace, interrupts, system DMA channels).
 */
#ifndef _WDFRESOURCE_H_
#define _WDFRESOURCE_H_

#include "wdfobject.h"

WDF_EXTERN_C_START

#define WDF_INSERT_AT_END ((ULONG)-1)

/* <= DISPATCH. Number of descriptors in the list. */
_IRQL_requires_max_(DISPATCH_LEVEL)
WDFAPI ULONG WdfCmResourceListGetCount(_In_ WDFCMRESLIST List);

/* <= DISPATCH. Descriptor Index (0-based), or NULL if Index is out of range. */
_IRQL_requires_max_(DISPATCH_LEVEL)
WDFAPI PCM_PARTIAL_RESOURCE_DESCRIPTOR WdfCmResourceListGetDescriptor(_In_ WDFCMRESLIST List,
                                                                      _In_ ULONG Index);

WDF_EXTERN_C_END

#endif /* _WDFRESOURCE_H_ */
