/*
 * `--trace FILE`: the machine's trace records as Chrome / Perfetto trace-event JSON, for
 * ui.perfetto.dev and chrome://tracing.
 *
 * Layout. Each machine (one per scenario run) is a process ("pid" 1, 2, ...) named after
 * the scenario. Its threads ("tid") are tracks:
 *   1 + N       processor N (sim engine): ISR, DPC, work-item and driver-callback spans,
 *               with their IRQL as category and argument;
 *   1 + K       on the threads engine, the K-th OS thread that made records (wall time);
 *   999         hardware context (device-model callbacks on the event loop);
 *   1000 + 16D  device D (by name): interrupts, DMA faults, model events;
 *   1001 + 16D + C  channel C of device D: a span per transfer / descriptor chain.
 * Flows (ph s/t/f, category "flow", name "request", one id per request) link a request's
 * arrival, its transaction's Execute, each transfer, the transaction's end and the
 * request's completion; each step sits in a zero-length slice of its own so it binds on
 * every viewer. Counters (ph C): map registers in use per adapter and in total, and DMA
 * bytes mapped (SG lists and map-register mappings live). Timestamps are microseconds
 * with nanosecond decimals: virtual time on the sim engine, wall time on threads.
 *
 * Records are written as they come (the machine's trace sink): nothing is kept but the
 * open spans of each track, the flows of live requests and the counters' last values.
 */
#ifndef WDFDMA_CLI_TRACEFILE_H
#define WDFDMA_CLI_TRACEFILE_H

#include <stdbool.h>

#include "wdfdma/machine.h"

typedef struct cli_trace cli_trace;

/* Create FILE and write the document's head. NULL with a one-line reason in `err`. */
cli_trace *cli_trace_open(const char *path, char *err, size_t err_len);
/* A new machine: a new process named `label`; installs the machine's trace sink. */
void cli_trace_machine_begin(cli_trace *t, wdfdma_machine *m, const char *label);
/* Remove the sink and close every span still open (at the last time seen). */
void cli_trace_machine_end(cli_trace *t, wdfdma_machine *m);
/* Finish the document and close the file; 0, or -1 when writing failed (reason in err). */
int cli_trace_close(cli_trace *t, char *err, size_t err_len);
/* From a bug-check handler: close the open spans and the document without touching the
 * machine, so the file stays valid JSON when the process stops. */
void cli_trace_abandon(cli_trace *t);

#endif
