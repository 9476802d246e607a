/* WDF-INVALID-HANDLE: the DPC mixes up its handles and asks the ring's WDFCOMMONBUFFER
 * for the transaction's byte count. Fix: pass the WDFDMATRANSACTION. */
#define BRK_COMPLETED(ext, ch, status)                                                    \
    (WdfDmaTransactionGetBytesTransferred((WDFDMATRANSACTION)(ch)->Ring),                 \
     WdfDmaTransactionDmaCompleted((ch)->Transaction, (status)))
#include "broken_base.h"
