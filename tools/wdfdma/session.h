/*
 * What every scenario's machine gets from the command line, in one place: the machine
 * configuration (engine, seed, memory, verifier), the fault plan (--faults), the trace
 * file (--trace), the inspection (`wdfdma inspect`), the bug-check handler, the driver
 * module (--driver or the sample) and the progress bar.
 *
 * A command opens a session (cli_session_begin), runs its scenarios, and closes it
 * (cli_session_end). A scenario calls, in order:
 *   cli_machine_config   fill a wdfdma_machine_config
 *   cli_machine_created  right after wdfdma_machine_create (bug-check handler, trace)
 *   cli_machine_started  once its devices are started and open (the fault plan goes in
 *                        here, so faults hit the I/O path, not the setup)
 *   cli_machine_finishing  just before wdfdma_machine_destroy (inspection, counts)
 */
#ifndef WDFDMA_CLI_SESSION_H
#define WDFDMA_CLI_SESSION_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "options.h"
#include "run.h"
#include "wdfdma/faults.h"
#include "wdfdma/host.h"
#include "wdfdma/machine.h"

/* Open the session for `runs` scenario runs: the trace file, the progress bar (stderr is
 * a terminal and no --json), the inspection. Returns 0, or CLI_USAGE with a message. */
int cli_session_begin(const cli_run_options *cmd, bool inspect, size_t runs, char *err,
                      size_t err_len);
/* Close the trace file; 0, or 1 (message printed) when it could not be written. */
int cli_session_end(void);
/* The next scenario run starts (for the progress bar): its index and label. */
void cli_session_next_run(size_t index, const char *label);

void cli_machine_config(const cli_run_options *o, wdfdma_machine_config *c);
void cli_machine_created(wdfdma_machine *m, const char *scenario, const cli_run_options *o);
/* Install the fault plan of --faults (and the scenario's cancel hook for the "cancel"
 * kind). 0, or -1 with the reason printed. */
int cli_machine_started(wdfdma_machine *m, const cli_run_options *o,
                        wdfdma_fault_cancel_hook cancel, void *cancel_ctx);
/* Print the inspection (inspect), count findings and faults into `res`, end the trace. */
void cli_machine_finishing(wdfdma_machine *m, cli_result *res);

/* Is a fault plan in force? Then failed requests are expected (see docs/cli.md). */
bool cli_faults_on(const cli_run_options *o);

/* The driver module a scenario loads: --driver, or the sample driver `sample` found next
 * to the executable, in the build tree or under the install prefix. 0, or -1 with the
 * places looked in printed. */
int cli_driver_path(const cli_run_options *o, const char *sample, char *path, size_t len);
/* A system-DMA machine: the machine (cli_machine_config/created), one sdmac controller
 * "dma0" with 8 channels, and the sample driver `sample` (or --driver) loaded. 0, or -1
 * with the error printed ("wdfdma: SAMPLE: ..."); *m may be set either way. */
int cli_system_machine(const cli_run_options *o, const char *sample, wdfdma_machine **m,
                       wdfdma_driver **drv);
/* The sample driver lookup alone, quiet: 0, or -1 with the places looked in `dirs_text`
 * (may be NULL). */
int cli_driver_find(const char *sample, char *path, size_t len, char *dirs_text,
                    size_t dirs_len);

/* Progress of the current run: `done` of `total` units (requests, rounds). Cheap: the bar
 * is redrawn at most ten times a second, and only once the command ran for a second. */
void cli_progress(uint64_t done, uint64_t total);

/* The scenarios' run lock: completions run on processor threads on the threads engine,
 * and a cancel or a submission can complete a request on the calling thread, so it is
 * recursive. */
void cli_run_lock_init(pthread_mutex_t *lock);
/* *value read under `lock`. */
unsigned cli_locked_unsigned(pthread_mutex_t *lock, const unsigned *value);

#endif
