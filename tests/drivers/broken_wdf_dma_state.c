/* WDF-DMA-STATE: after Execute the driver initializes the transaction again "to prepare
 * the next request" — it is still transferring. Fix: initialize after Release. */
#define BRK_AFTER_EXECUTE(ext, ch, request)                                                \
    (void)WdfDmaTransactionInitializeUsingRequest((ch)->Transaction, (request),           \
                                                  BrkEvtProgramDma,                       \
                                                  WdfDmaDirectionWriteToDevice)
#include "broken_base.h"
