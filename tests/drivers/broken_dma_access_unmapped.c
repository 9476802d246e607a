/* DMA-ACCESS-UNMAPPED: the driver adds the device-memory offset to the host address
 * (mixing up two fields), so the device reads where nothing is mapped for it. Fix: the
 * descriptor's host address is the SG element's address, unchanged. */
#define BRK_DESC_ADDRESS(ext, element) ((ULONG64)(element)->Address.QuadPart + 0x40000000ull)
#include "broken_base.h"
