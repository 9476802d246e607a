/* DMA-BUFFER-TOUCHED-DURING-DMA: for a read, the driver stamps a header into the caller's
 * buffer after starting the device, while the device owns that memory. Fix: write the
 * buffer only after the transfer completed (or before mapping it). */
#define BRK_AFTER_DOORBELL(ext, ch, transaction, direction)                               \
    do {                                                                                  \
        PVOID va_;                                                                        \
        size_t len_;                                                                      \
        if ((direction) == WdfDmaDirectionReadFromDevice &&                               \
            NT_SUCCESS(WdfRequestRetrieveOutputBuffer(                                    \
                WdfDmaTransactionGetRequest(transaction), 16, &va_, &len_)))              \
            RtlFillMemory(va_, 16, 0xAB);                                                 \
    } while (0)
#include "broken_base.h"
