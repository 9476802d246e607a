/*
 * wdfdma host API: the framework's DMA objects as a debugger shows them.
 *
 * wdfdma_inspect_print writes the state of every live DMA enabler, DMA transaction and
 * common buffer of a machine, the way WinDbg's !wdfdmaenabler and !wdfdmatransaction
 * extensions show them: handle, profile, adapters and map registers, maximum length,
 * fragment length and scatter/gather limit of an enabler; state and state history,
 * lengths, bytes transferred, MDL and offset, request and callbacks of a transaction;
 * length and addresses of a common buffer.
 *
 * Call it when the machine is idle (after a run, before wdfdma_machine_destroy) or from a
 * bug-check handler: it reads the objects without taking their locks, as a debugger does,
 * so on a running threads-engine machine a value may be caught mid-update.
 */
#ifndef WDFDMA_INSPECT_H
#define WDFDMA_INSPECT_H

#include <stdio.h>
#include "wdfdma/machine.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Counts of the live objects wdfdma_inspect_print shows. */
typedef struct wdfdma_inspect_counts {
    unsigned enablers;
    unsigned transactions;
    unsigned common_buffers;
} wdfdma_inspect_counts;

/* Print the DMA objects of `m` to `out`; fills *counts when not NULL. Returns 0, or
 * -EINVAL (with a message) when `m` or `out` is NULL. */
int wdfdma_inspect_print(wdfdma_machine *m, FILE *out, wdfdma_inspect_counts *counts);

/* The WDF_DMA_PROFILE of the oldest live DMA enabler of `m`, as a short name ("packet",
 * "sg64", "sg64-duplex", "system", ...), or NULL when there is none. For reports about a
 * driver whose profile the host did not choose. */
const char *wdfdma_inspect_dma_profile(wdfdma_machine *m);

#ifdef __cplusplus
}
#endif
#endif
