/* DMA-COMMON-BUFFER-FREED: once Execute returns, the driver thinks the device has read
 * its descriptors and deletes the write ring's common buffer; the device fetches them
 * later. Fix: keep descriptor memory until the device reports the chain done (and
 * normally for the device's whole life). */
#define BRK_AFTER_EXECUTE(ext, ch, request) WdfObjectDelete((ch)->Ring)
#include "broken_base.h"
