/*
 * wdfdma host API: what the framework's DMA objects did, for reports (`wdfdma run`).
 * The HAL side (bounce traffic, map registers, SG lists) is in wdfdma/dma.h.
 */
#ifndef WDFDMA_FRAMEWORK_H
#define WDFDMA_FRAMEWORK_H

#include <stdint.h>
#include "wdfdma/machine.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct wdfdma_fx_dma_stats {
    uint64_t transactions;        /* WdfDmaTransactionExecute calls */
    uint64_t transfers;           /* EvtProgramDma calls */
    uint64_t sg_elements_total;   /* elements handed to EvtProgramDma */
    uint64_t sg_elements_max;     /* most elements in one transfer */
} wdfdma_fx_dma_stats;

/* -EINVAL (with a message) if `m` or `out` is NULL. */
int wdfdma_fx_dma_get_stats(wdfdma_machine *m, wdfdma_fx_dma_stats *out);

#ifdef __cplusplus
}
#endif
#endif
