/* WDF-NULL-PARAMETER: the DPC does not want the final status and passes NULL for it.
 * WdfDmaTransactionDmaCompleted's Status is required. Fix: pass an NTSTATUS. */
#define BRK_COMPLETED(ext, ch, status) \
    (*(status) = STATUS_SUCCESS, WdfDmaTransactionDmaCompleted((ch)->Transaction, NULL))
#include "broken_base.h"
