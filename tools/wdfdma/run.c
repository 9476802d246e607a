/*
 * `wdfdma run [SCENARIO...] [OPTIONS]` and `wdfdma inspect`: the scenario table, the
 * sample scenarios, the readable summary and the JSON report.
 *
 * Every scenario's options are checked before anything runs — including what needs the
 * library: the fault spec, the driver module, the trace file — so a usage error (exit 2)
 * never comes after a half-finished run.
 */
#include <dlfcn.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "json.h"
#include "options.h"
#include "run.h"
#include "session.h"
#include "wdfdma/faults.h"

/* ---- the scenario table --------------------------------------------------------------- */

typedef struct scenario_impl {
    const char *name;            /* as in options.c's table */
    cli_scenario_fn run;
    int (*check)(const cli_run_options *o, char *err, size_t err_len);
} scenario_impl;

/* System-DMA scenarios (scenario_uart.c, scenario_ring.c). */
int cli_run_uart(const cli_run_options *opt, cli_result *res, char *err, size_t err_len);
int cli_check_uart(const cli_run_options *opt, char *err, size_t err_len);
int cli_run_ring(const cli_run_options *opt, cli_result *res, char *err, size_t err_len);
int cli_check_ring(const cli_run_options *opt, char *err, size_t err_len);

static const scenario_impl impls[] = {
    {"sgdma", cli_run_sgdma, cli_check_sgdma},
    {"uart", cli_run_uart, cli_check_uart},
    {"ring", cli_run_ring, cli_check_ring},
};

static const scenario_impl *impl_find(const char *name)
{
    for (size_t i = 0; i < sizeof(impls) / sizeof(impls[0]); i++)
        if (strcmp(impls[i].name, name) == 0)
            return &impls[i];
    return NULL;
}

/* What `wdfdma run` without a scenario runs: every profile, bouncing through map
 * registers, and the threads engine. Options on the command line apply on top. */
typedef struct sample {
    const char *scenario;
    cli_profile profile;
    cli_memory memory;
    cli_engine engine;
} sample;

static const sample samples[] = {   /* soak.c keeps its own list of the sim ones */
    {"sgdma", CLI_PROFILE_PACKET, CLI_MEM_SCATTERED, CLI_ENGINE_SIM},
    {"sgdma", CLI_PROFILE_SG, CLI_MEM_SCATTERED, CLI_ENGINE_SIM},
    {"sgdma", CLI_PROFILE_PACKET64, CLI_MEM_SCATTERED, CLI_ENGINE_SIM},
    {"sgdma", CLI_PROFILE_SG64, CLI_MEM_SCATTERED, CLI_ENGINE_SIM},
    {"sgdma", CLI_PROFILE_SG_DUPLEX, CLI_MEM_SCATTERED, CLI_ENGINE_SIM},
    {"sgdma", CLI_PROFILE_SG64_DUPLEX, CLI_MEM_SCATTERED, CLI_ENGINE_SIM},
    {"sgdma", CLI_PROFILE_SG, CLI_MEM_ABOVE4G, CLI_ENGINE_SIM},
    {"sgdma", CLI_PROFILE_SG64_DUPLEX, CLI_MEM_SCATTERED, CLI_ENGINE_THREADS},
    {"uart", CLI_PROFILE_SG64, CLI_MEM_SCATTERED, CLI_ENGINE_SIM},   /* profile unused */
    {"ring", CLI_PROFILE_SG64, CLI_MEM_SCATTERED, CLI_ENGINE_SIM},
};
#define NSAMPLES (sizeof(samples) / sizeof(samples[0]))
#define MAX_RUNS (NSAMPLES > CLI_SCENARIOS_MAX ? NSAMPLES : CLI_SCENARIOS_MAX)

/* The option sets to run: the scenarios asked for (each with the command line's
 * options), or the samples with the command line's options on top. Returns how many (at
 * most MAX_RUNS). */
static size_t plan_runs(const cli_run_options *cmd, cli_run_options *runs)
{
    if (cmd->nscenarios) {
        for (unsigned i = 0; i < cmd->nscenarios; i++) {
            runs[i] = *cmd;
            runs[i].scenario = cmd->scenarios[i];
        }
        return cmd->nscenarios;
    }
    for (size_t i = 0; i < NSAMPLES; i++) {
        cli_run_options_init(&runs[i]);
        runs[i].scenario = samples[i].scenario;
        runs[i].profile = samples[i].profile;
        runs[i].memory = samples[i].memory;
        runs[i].engine = samples[i].engine;
        cli_run_options_overlay(&runs[i], cmd);
    }
    return NSAMPLES;
}

/* The DMA profile a result ran with: the system scenarios' drivers choose their own. */
static const char *result_profile(const cli_result *r)
{
    if (r->opt.driver)
        return r->driver_profile ? r->driver_profile : "none";
    if (strcmp(r->scenario, "uart") == 0)
        return "system-duplex";
    if (strcmp(r->scenario, "ring") == 0)
        return "system";
    return cli_profile_name(r->opt.profile);
}

/* ---- derived figures ------------------------------------------------------------------ */

double cli_result_sg_mean(const cli_result *r)
{
    /* Elements per SG list handed to EvtProgramDma: a looped ring programs once and then
     * counts wraps as transfers. */
    uint64_t lists = r->programs ? r->programs : r->transfers;
    return lists ? (double)r->sg_elements_total / (double)lists : 0.0;
}

double cli_result_throughput(const cli_result *r)
{
    return r->wall_ns ? (double)r->bytes * 1e9 / (double)r->wall_ns : 0.0;
}

double cli_result_device_throughput(const cli_result *r)
{
    return r->virtual_ns ? (double)r->bytes * 1e9 / (double)r->virtual_ns : 0.0;
}

double cli_result_utilization(const cli_result *r)
{
    return r->virtual_ns ? (double)r->busy_ns / (double)r->virtual_ns : 0.0;
}

/* Requests that faults failed (failed_requests) are expected under a plan: what fails a
 * run is what a fault may never cause (docs/cli.md, "Faults"). */
int cli_result_exit_status(const cli_result *r)
{
    return r->errors || r->data_mismatches || r->verifier_findings ? 1 : 0;
}

/* ---- the readable summary ------------------------------------------------------------- */

static void fmt_bytes(char *buf, size_t len, double v)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    unsigned u = 0;
    while (v >= 1024.0 && u < 4) {
        v /= 1024.0;
        u++;
    }
    /* Whole numbers stay whole ("16 MiB"); others get one decimal ("68.8 MiB"). */
    snprintf(buf, len, v == (double)(uint64_t)v ? "%.0f %s" : "%.1f %s", v, units[u]);
}

static void fmt_ns(char *buf, size_t len, uint64_t ns)
{
    if (ns >= 1000000000ull)
        snprintf(buf, len, "%.3f s", (double)ns / 1e9);
    else if (ns >= 1000000ull)
        snprintf(buf, len, "%.3f ms", (double)ns / 1e6);
    else
        snprintf(buf, len, "%.3f us", (double)ns / 1e3);
}

static void print_header(const cli_result *r)
{
    const cli_run_options *o = &r->opt;
    char lo[32], hi[32];
    fmt_bytes(lo, sizeof(lo), (double)r->size_min);
    fmt_bytes(hi, sizeof(hi), (double)r->size_max);
    printf("%s  profile=%s engine=%s memory=%s addr-bits=%" PRIu64 " direction=%s "
           "queue-depth=%" PRIu64 " seed=%" PRIu64 "%s\n", r->scenario, result_profile(r),
           cli_engine_name(o->engine), cli_memory_name(o->memory), o->addr_bits,
           cli_direction_name(o->direction), o->queue_depth, o->seed,
           o->verifier ? " verifier=on" : "");
    if (o->driver)
        printf("  driver       %s\n", o->driver);
    if (o->faults)
        printf("  faults       %s: %" PRIu64 " fired, %" PRIu64 " requests failed by them\n",
               o->faults, r->faults_fired, r->failed_requests);
    if (o->devices)
        printf("  devices      %" PRIu64 " on one 8-channel sdmac%s\n", o->devices,
               o->baud ? "" : " (looped ring)");
    if (o->baud)
        printf("  baud         %" PRIu64 "\n", o->baud);
    if (r->sizes > 1)
        printf("  sizes        %u from %s to %s\n", r->sizes, lo, hi);
    else
        printf("  size         %s\n", lo);
}

static void print_summary(const cli_result *r)
{
    char bytes[32], bounced[32], wall[32], virt[32], tput[32], dtput[32];
    fmt_bytes(bytes, sizeof(bytes), (double)r->bytes);
    fmt_bytes(bounced, sizeof(bounced), (double)r->bounced_bytes);
    fmt_ns(wall, sizeof(wall), r->wall_ns);
    fmt_ns(virt, sizeof(virt), r->virtual_ns);
    fmt_bytes(tput, sizeof(tput), cli_result_throughput(r));
    fmt_bytes(dtput, sizeof(dtput), cli_result_device_throughput(r));
    print_header(r);
    printf("  requests     %" PRIu64 " (%" PRIu64 " writes, %" PRIu64 " reads), %s\n",
           r->requests, r->writes, r->reads, bytes);
    printf("  DMA          %" PRIu64 " transactions, %" PRIu64 " transfers, %" PRIu64
           " interrupts, %" PRIu64 " DPCs\n", r->transactions, r->transfers, r->interrupts,
           r->dpcs);
    printf("  SG elements  max %" PRIu64 ", mean %.2f; bounced %s; map registers peak %" PRIu64
           "\n", r->sg_elements_max, cli_result_sg_mean(r), bounced, r->map_registers_peak);
    printf("  checks       %" PRIu64 " errors, %" PRIu64 " data mismatches, %" PRIu64
           " verifier findings\n", r->errors, r->data_mismatches, r->verifier_findings);
    printf("  wall         %s, %s/s\n", wall, tput);
    printf("  virtual      %s, device %s/s, utilisation %.1f%%\n", virt, dtput,
           100.0 * cli_result_utilization(r));
    printf("  result       %s\n\n", cli_result_exit_status(r) ? "FAIL" : "PASS");
}

/* ---- JSON ------------------------------------------------------------------------------ */

static void json_result(json_writer *w, const cli_result *r)
{
    const cli_run_options *o = &r->opt;
    json_begin_object(w);
    json_member_string(w, "scenario", r->scenario);
    json_member_string(w, "profile", result_profile(r));
    json_member_string(w, "engine", cli_engine_name(o->engine));
    json_member_string(w, "memory", cli_memory_name(o->memory));
    json_member_string(w, "direction", cli_direction_name(o->direction));
    json_member_u64(w, "addr_bits", o->addr_bits);
    json_member_u64(w, "queue_depth", o->queue_depth);
    json_member_u64(w, "seed", o->seed);
    char hash[24];
    snprintf(hash, sizeof(hash), "%016llx", (unsigned long long)r->trace_hash);
    json_member_string(w, "trace_hash", hash);
    json_member_u64(w, "size_min", r->size_min);
    json_member_u64(w, "size_max", r->size_max);
    json_member_u64(w, "sizes", r->sizes);
    json_member_u64(w, "device_memory", r->mem_bytes);
    json_member_u64(w, "requests", r->requests);
    json_member_u64(w, "writes", r->writes);
    json_member_u64(w, "reads", r->reads);
    json_member_u64(w, "bytes", r->bytes);
    json_member_u64(w, "transactions", r->transactions);
    json_member_u64(w, "transfers", r->transfers);
    json_member_u64(w, "interrupts", r->interrupts);
    json_member_u64(w, "dpcs", r->dpcs);
    json_member_u64(w, "bounced_bytes", r->bounced_bytes);
    json_member_u64(w, "sg_elements_max", r->sg_elements_max);
    json_member_double(w, "sg_elements_mean", cli_result_sg_mean(r));
    json_member_u64(w, "map_registers_peak", r->map_registers_peak);
    json_member_u64(w, "errors", r->errors);
    json_member_u64(w, "data_mismatches", r->data_mismatches);
    json_member_u64(w, "verifier_findings", r->verifier_findings);
    json_member_u64(w, "wall_ns", r->wall_ns);
    json_member_u64(w, "virtual_ns", r->virtual_ns);
    json_member_double(w, "throughput_bytes_per_s", cli_result_throughput(r));
    json_member_double(w, "device_throughput_bytes_per_s", cli_result_device_throughput(r));
    json_member_double(w, "device_utilization", cli_result_utilization(r));
    if (o->baud)
        json_member_u64(w, "baud", o->baud);
    if (o->devices)
        json_member_u64(w, "devices", o->devices);
    json_member_string(w, "driver", o->driver);
    json_member_bool(w, "verifier", o->verifier);
    json_member_string(w, "faults", o->faults);
    json_member_u64(w, "faults_fired", r->faults_fired);
    json_member_u64(w, "failed_requests", r->failed_requests);
    json_member_bool(w, "passed", cli_result_exit_status(r) == 0);
    json_end_object(w);
}

static void print_json(const cli_result *results, size_t n)
{
    json_writer w;
    json_init(&w, stdout);
    json_begin_array(&w);
    for (size_t i = 0; i < n; i++)
        json_result(&w, &results[i]);
    json_end_array(&w);
}

/* ---- the command ---------------------------------------------------------------------- */

static int usage_error(const char *msg)
{
    fprintf(stderr, "wdfdma: %s\n", msg);
    return CLI_USAGE;
}

/* The driver module must exist, load, and export DriverEntry: a usage error otherwise,
 * before any machine is built. (Loading runs its constructors; DriverEntry runs later, on
 * the machine.) */
static int check_driver_module(const char *path, char *err, size_t err_len)
{
    if (access(path, R_OK) != 0) {
        snprintf(err, err_len, "--driver %s: %s", path, strerror(errno));
        return CLI_USAGE;
    }
    void *h = dlopen(path, RTLD_LAZY | RTLD_LOCAL);
    if (!h) {
        const char *why = dlerror();
        snprintf(err, err_len, "--driver %s: cannot load: %s", path, why ? why : "unknown");
        return CLI_USAGE;
    }
    bool entry = dlsym(h, "DriverEntry") != NULL;
    dlclose(h);
    if (!entry) {
        snprintf(err, err_len, "--driver %s: no DriverEntry (not a KMDF driver module)", path);
        return CLI_USAGE;
    }
    return 0;
}

/* What only the library can check: the fault spec and the driver module. */
static int check_command(const cli_run_options *cmd, char *err, size_t err_len)
{
    if (cmd->faults) {
        wdfdma_fault_plan *plan = NULL;
        if (wdfdma_fault_plan_parse(cmd->faults, &plan) != 0) {
            snprintf(err, err_len, "--faults: %s", wdfdma_last_error());
            return CLI_USAGE;
        }
        wdfdma_fault_plan_free(plan);
    }
    if (cmd->driver)
        return check_driver_module(cmd->driver, err, err_len);
    return 0;
}

/* Check every run's options before running any. */
static int check_runs(const cli_run_options *runs, size_t n, char *err, size_t err_len)
{
    for (size_t i = 0; i < n; i++) {
        const scenario_impl *impl = impl_find(runs[i].scenario);
        if (!impl) {
            snprintf(err, err_len, "scenario '%s' has no runner in this build",
                     runs[i].scenario);
            return CLI_USAGE;
        }
        if (impl->check(&runs[i], err, err_len) != 0)
            return CLI_USAGE;
    }
    return 0;
}

/* A label for the progress bar. */
static void run_label(const cli_run_options *o, char *buf, size_t len)
{
    if (strcmp(o->scenario, "sgdma") == 0 && !o->driver)
        snprintf(buf, len, "%s %s %s %s", o->scenario, cli_profile_name(o->profile),
                 cli_memory_name(o->memory), cli_engine_name(o->engine));
    else
        snprintf(buf, len, "%s %s", o->scenario, cli_engine_name(o->engine));
}

/* Parse, check, run and report: `wdfdma run` and `wdfdma inspect`. */
static int run_command(const char *command, bool inspect, int argc, char **argv)
{
    char err[CLI_ERR_LEN];
    cli_run_options cmd, runs[MAX_RUNS];
    static cli_result results[MAX_RUNS];
    if (cli_parse_command(command, argc, argv, &cmd, err, sizeof(err)) != 0)
        return usage_error(err);
    if (cmd.help) {
        if (inspect)
            cli_print_inspect_usage(stdout);
        else
            cli_print_run_usage(stdout);
        return 0;
    }
    size_t n = plan_runs(&cmd, runs);
    if (check_command(&cmd, err, sizeof(err)) != 0 ||
        check_runs(runs, n, err, sizeof(err)) != 0 ||
        cli_session_begin(&cmd, inspect, n, err, sizeof(err)) != 0)
        return usage_error(err);
    int status = 0;
    for (size_t i = 0; i < n; i++) {
        char label[96];
        run_label(&runs[i], label, sizeof(label));
        cli_session_next_run(i, label);
        if (impl_find(runs[i].scenario)->run(&runs[i], &results[i], err, sizeof(err)) != 0) {
            (void)cli_session_end();
            return usage_error(err);
        }
        if (!cmd.json) {
            print_summary(&results[i]);
            fflush(stdout);
        }
        if (cli_result_exit_status(&results[i]))
            status = 1;
    }
    if (cli_session_end() != 0)
        status = 1;
    if (cmd.json)
        print_json(results, n);
    else
        printf("%s: %zu scenario%s, %s\n", command, n, n == 1 ? "" : "s",
               status ? "FAIL" : "PASS");
    return status;
}

int cli_run(int argc, char **argv)
{
    return run_command("run", false, argc, argv);
}

int cli_inspect(int argc, char **argv)
{
    return run_command("inspect", true, argc, argv);
}
