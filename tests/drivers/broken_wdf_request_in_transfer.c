/* WDF-REQUEST-COMPLETED-IN-TRANSFER: the driver completes the write as soon as the device
 * is started, while its DMA transaction is still in Transfer. Fix: complete the request
 * after DmaCompleted returned TRUE (and the transaction was released). */
#define BRK_AFTER_DOORBELL(ext, ch, transaction, direction)                                \
    WdfRequestComplete(WdfDmaTransactionGetRequest(transaction), STATUS_SUCCESS)
#include "broken_base.h"
