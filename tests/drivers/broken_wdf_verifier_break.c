/* WDF-VERIFIER-BREAK: WdfDmaTransactionSetDeviceAddressOffset is for system-profile
 * transactions only; this driver calls it on its scatter/gather transaction. Fix: drop the
 * call (bus masters put the device offset in their descriptors). */
#define BRK_DEVICE_ADD_END(ext) \
    WdfDmaTransactionSetDeviceAddressOffset((ext)->Channel[0].Transaction, 0x100)
#include "broken_base.h"
