/*
 * ntddk.h - what a KMDF DMA driver includes: wdm.h plus the few ntddk-only services.
 *
 * Part of wdfdma's WDK-named headers (our own text; names, values and signatures are the
 * WDK's). See wdm.h for the conventions and the places where we differ from Windows.
 */
#ifndef _NTDDK_
#define _NTDDK_

#include <wdm.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The physical (here: machine frame) address of a locked host address; zero if the page
 * has no frame (it was never locked into an MDL). */
PHYSICAL_ADDRESS MmGetPhysicalAddress(PVOID BaseAddress);

/* Physically contiguous non-paged memory (the HAL's common-buffer allocator uses the
 * same machine service). Returns NULL when no run of frames below HighestAcceptableAddress
 * is free. */
PVOID MmAllocateContiguousMemory(SIZE_T NumberOfBytes, PHYSICAL_ADDRESS HighestAcceptableAddress);
PVOID MmAllocateContiguousMemorySpecifyCache(SIZE_T NumberOfBytes,
                                             PHYSICAL_ADDRESS LowestAcceptableAddress,
                                             PHYSICAL_ADDRESS HighestAcceptableAddress,
                                             PHYSICAL_ADDRESS BoundaryAddressMultiple,
                                             MEMORY_CACHING_TYPE CacheType);
VOID MmFreeContiguousMemory(PVOID BaseAddress);
VOID MmFreeContiguousMemorySpecifyCache(PVOID BaseAddress, SIZE_T NumberOfBytes,
                                        MEMORY_CACHING_TYPE CacheType);

#ifdef __cplusplus
}
#endif
#endif /* _NTDDK_ */
