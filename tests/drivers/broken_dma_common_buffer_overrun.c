/* DMA-COMMON-BUFFER-OVERRUN: the driver sizes its descriptor ring as 4000 bytes but
 * clears a whole 4 KiB "page" of it, writing 96 bytes past the end of the common buffer.
 * Fix: never touch more than WdfCommonBufferGetLength bytes. */
#define BRK_RING_BYTES 4000u
#define BRK_DEVICE_ADD_END(ext) RtlZeroMemory((ext)->Channel[0].RingVa, 4096)
#include "broken_base.h"
