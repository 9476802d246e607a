/* WDF-IRQL: the ISR asks the transaction how far it got. WdfDmaTransactionGetBytes-
 * Transferred is callable at IRQL <= DISPATCH_LEVEL only; the ISR runs at DIRQL.
 * Fix: read it in the DPC. */
static unsigned long long BrkIsrBytes;
#define BRK_ISR(ext, ch) (BrkIsrBytes += WdfDmaTransactionGetBytesTransferred((ch)->Transaction))
#include "broken_base.h"
