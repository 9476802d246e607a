/*
 * `wdfdma run`: what a scenario reports and how the command calls it.
 *
 * A scenario runner builds its own machine from the options, runs its workload, verifies
 * every byte and fills a cli_result. It returns 0 when it ran, clean or not (a machine
 * that could not be set up counts in `errors`, its reason printed), or CLI_USAGE when the
 * options make an impossible combination (a one-line message in err, nothing run).
 */
#ifndef WDFDMA_CLI_RUN_H
#define WDFDMA_CLI_RUN_H

#include <stddef.h>
#include <stdint.h>

#include "options.h"

typedef struct cli_result {
    const char *scenario;            /* "sgdma" */
    cli_run_options opt;             /* the options the scenario ran with, defaults filled */
    uint64_t size_min, size_max;     /* request sizes run */
    unsigned sizes;                  /* how many different sizes */
    uint64_t requests, reads, writes;
    uint64_t bytes;                  /* bytes the measured requests moved */
    uint64_t transactions, transfers;
    uint64_t interrupts, dpcs;
    uint64_t bounced_bytes;
    uint64_t sg_elements_total, sg_elements_max;
    uint64_t trace_hash;         /* the machine's trace hash: same seed, same hash (sim) */
    uint64_t programs;           /* EvtProgramDma calls, when not one per transfer (ring) */
    uint64_t map_registers_peak;
    uint64_t errors;                 /* failed or short requests, setup/teardown failures
                                        (with --faults: only lost, doubly completed or
                                        unissuable requests and setup failures) */
    uint64_t failed_requests;        /* with --faults: requests that completed with an
                                        error status or short, as faults may make them */
    uint64_t faults_fired;           /* faults the plan injected */
    const char *driver_profile;      /* --driver: the profile its DMA enabler chose */
    uint64_t data_mismatches;        /* bytes that differ from what they must hold */
    uint64_t verifier_findings;      /* machine reports: verifier, DMA faults, MMIO misses */
    uint64_t wall_ns;                /* host time of the measured requests */
    uint64_t virtual_ns;             /* machine time of the measured requests */
    uint64_t busy_ns;                /* device busy time of the measured requests */
    uint64_t mem_bytes;              /* on-device memory the model was given */
} cli_result;

typedef int (*cli_scenario_fn)(const cli_run_options *opt, cli_result *res, char *err,
                               size_t err_len);

/* Scenario runners (one file each). */
int cli_run_sgdma(const cli_run_options *opt, cli_result *res, char *err, size_t err_len);
/* Check the options alone (no machine): 0 or CLI_USAGE with a message. */
int cli_check_sgdma(const cli_run_options *opt, char *err, size_t err_len);

/* `wdfdma run ...` (the words after "run"); returns the exit status. */
int cli_run(int argc, char **argv);
/* `wdfdma inspect ...`: run, then print the framework's DMA objects. */
int cli_inspect(int argc, char **argv);
/* `wdfdma list`, `wdfdma soak`, `wdfdma trace` (list.c, soak.c, tracesvg.c). */
int cli_list(int argc, char **argv);
int cli_soak(int argc, char **argv);
int cli_trace_command(int argc, char **argv);

/* Derived figures. */
double cli_result_sg_mean(const cli_result *r);
double cli_result_throughput(const cli_result *r);        /* bytes / wall second */
double cli_result_device_throughput(const cli_result *r); /* bytes / virtual second */
double cli_result_utilization(const cli_result *r);       /* busy / virtual time */
int cli_result_exit_status(const cli_result *r);          /* 0 clean, 1 otherwise */

#endif
