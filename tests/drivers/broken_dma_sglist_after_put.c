/* DMA-SGLIST-AFTER-PUT: the driver believes the engine is synchronous and reports the
 * transfer done right after ringing the doorbell: the framework puts the SG list while the
 * device still has to move the data. Fix: call DmaCompleted from the DPC, after the
 * device's interrupt says the chain is done. */
#define BRK_AFTER_DOORBELL(ext, ch, transaction, direction)                                \
    do {                                                                                   \
        NTSTATUS st_;                                                                      \
        if (WdfDmaTransactionDmaCompleted((transaction), &st_)) {                          \
            WDFREQUEST rq_ = WdfDmaTransactionGetRequest(transaction);                     \
            size_t n_ = WdfDmaTransactionGetBytesTransferred(transaction);                 \
            (ch)->Busy = FALSE;                                                            \
            WdfDmaTransactionRelease(transaction);                                         \
            WdfRequestCompleteWithInformation(rq_, st_, n_);                               \
        }                                                                                  \
    } while (0)
#include "broken_base.h"
