/*
 * The command's session: machine settings, fault plan, trace file, inspection, bug-check
 * handler, driver lookup and progress bar, shared by every scenario (session.h).
 *
 * One command runs one session on one thread; the state below is that session's.
 */
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "machine/internal.h"
#include "session.h"
#include "tracefile.h"
#include "wdfdma/host.h"
#include "wdfdma/inspect.h"

#define PROGRESS_DELAY_NS 1000000000ull    /* no bar for runs shorter than a second */
#define PROGRESS_PERIOD_NS 100000000ull    /* at most ten redraws a second */
#define PROGRESS_WIDTH 30

static struct {
    bool inspect;
    cli_trace *trace;
    const char *scenario;         /* of the machine running now (bug-check reports) */
    /* the progress bar */
    bool progress;
    bool drawn;
    uint64_t start_ns, last_draw_ns;
    size_t run, runs;
    char label[96];
} session;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- progress bar ---------------------------------------------------------------------- */

static void progress_erase(void)
{
    if (session.drawn) {
        fputs("\r\033[K", stderr);
        fflush(stderr);
        session.drawn = false;
    }
}

void cli_progress(uint64_t done, uint64_t total)
{
    if (!session.progress || total == 0)
        return;
    uint64_t now = now_ns();
    if (now - session.start_ns < PROGRESS_DELAY_NS ||
        (session.drawn && now - session.last_draw_ns < PROGRESS_PERIOD_NS))
        return;
    session.last_draw_ns = now;
    unsigned filled = (unsigned)(done >= total ? PROGRESS_WIDTH : done * PROGRESS_WIDTH / total);
    char bar[PROGRESS_WIDTH + 1];
    memset(bar, '=', filled);
    memset(bar + filled, ' ', PROGRESS_WIDTH - filled);
    bar[PROGRESS_WIDTH] = '\0';
    fprintf(stderr, "\r\033[K[%s] %3u%%  run %zu/%zu  %s", bar,
            (unsigned)(done >= total ? 100 : done * 100 / total), session.run + 1,
            session.runs, session.label);
    fflush(stderr);
    session.drawn = true;
}

void cli_session_next_run(size_t index, const char *label)
{
    progress_erase();
    session.run = index;
    snprintf(session.label, sizeof(session.label), "%s", label);
}

/* ---- the session ------------------------------------------------------------------------- */

int cli_session_begin(const cli_run_options *cmd, bool inspect, size_t runs, char *err,
                      size_t err_len)
{
    memset(&session, 0, sizeof(session));
    session.inspect = inspect;
    session.runs = runs;
    session.start_ns = now_ns();
    session.progress = isatty(STDERR_FILENO) && !cmd->json;
    if (cmd->trace) {
        session.trace = cli_trace_open(cmd->trace, err, err_len);
        if (!session.trace)
            return CLI_USAGE;
    }
    return 0;
}

int cli_session_end(void)
{
    progress_erase();
    if (!session.trace)
        return 0;
    char err[CLI_ERR_LEN];
    cli_trace *t = session.trace;
    session.trace = NULL;
    if (cli_trace_close(t, err, sizeof(err)) != 0) {
        fprintf(stderr, "wdfdma: %s\n", err);
        return 1;
    }
    return 0;
}

/* ---- machines ------------------------------------------------------------------------------ */

void cli_machine_config(const cli_run_options *o, wdfdma_machine_config *c)
{
    wdfdma_machine_config_init(c);
    c->engine = (wdfdma_engine)o->engine;
    c->seed = o->seed;
    c->memory = (wdfdma_mem_policy)o->memory;
    c->verifier = o->verifier;
}

static void print_inspection(wdfdma_machine *m, const char *when)
{
    printf("inspect: %s %s\n", session.scenario ? session.scenario : "machine", when);
    (void)wdfdma_inspect_print(m, stdout, NULL);
    printf("\n");
    fflush(stdout);
}

/* A bug check ends the run: show the objects (inspect), keep the trace file valid, and
 * exit 1 (a failure, not a crash). The report itself is already on stderr. */
static void on_bugcheck(void *ctx, const wdfdma_bugcheck *bc)
{
    wdfdma_machine *m = ctx;
    progress_erase();
    fprintf(stderr, "wdfdma: %s: bug check %#x stops the run\n",
            session.scenario ? session.scenario : "run", (unsigned)bc->code);
    if (session.inspect)
        print_inspection(m, "at the bug check");
    if (session.trace)
        cli_trace_abandon(session.trace);
    fflush(NULL);
    _exit(1);
}

void cli_machine_created(wdfdma_machine *m, const char *scenario, const cli_run_options *o)
{
    session.scenario = scenario;
    wdfdma_machine_set_bugcheck_handler(m, on_bugcheck, m);
    if (session.trace) {
        char label[160];
        snprintf(label, sizeof(label), "%s engine=%s seed=%" PRIu64 "%s%s", scenario,
                 cli_engine_name(o->engine), o->seed, o->faults ? " faults=" : "",
                 o->faults ? o->faults : "");
        cli_trace_machine_begin(session.trace, m, label);
    }
}

bool cli_faults_on(const cli_run_options *o)
{
    return o->faults != NULL && strcmp(o->faults, "none") != 0;
}

int cli_machine_started(wdfdma_machine *m, const cli_run_options *o,
                        wdfdma_fault_cancel_hook cancel, void *cancel_ctx)
{
    if (!o->faults)
        return 0;
    wdfdma_fault_plan *plan = NULL;
    if (wdfdma_fault_plan_parse(o->faults, &plan) != 0 ||
        wdfdma_machine_set_fault_plan(m, plan) != 0) {
        fprintf(stderr, "wdfdma: --faults: %s\n", wdfdma_last_error());
        wdfdma_fault_plan_free(plan);
        return -1;
    }
    wdfdma_fault_plan_free(plan);
    if (cancel)
        wdfdma_machine_set_cancel_hook(m, cancel, cancel_ctx);
    return 0;
}

void cli_machine_finishing(wdfdma_machine *m, cli_result *res)
{
    progress_erase();
    if (session.inspect)
        print_inspection(m, "at the end of the run");
    wdfdma_fault_stats fs;
    if (res->opt.faults && wdfdma_machine_get_fault_stats(m, &fs) == 0) {
        /* The plan goes before teardown: removal is not part of the workload. */
        wdfdma_machine_set_cancel_hook(m, NULL, NULL);
        (void)wdfdma_machine_set_fault_plan(m, NULL);
        for (unsigned k = 0; k < WDFDMA_FAULT_KINDS; k++)
            res->faults_fired += fs.fired[k];
    }
    if (res->opt.driver)
        res->driver_profile = wdfdma_inspect_dma_profile(m);
    res->verifier_findings = mach_findings(m);
    res->trace_hash = wdfdma_machine_trace_hash(m);
    if (session.trace)
        cli_trace_machine_end(session.trace, m);
}

/* ---- drivers --------------------------------------------------------------------------------- */

int cli_driver_find(const char *sample, char *path, size_t len, char *dirs_text,
                    size_t dirs_len)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    exe[n > 0 ? n : 0] = '\0';
    char *slash = strrchr(exe, '/');
    if (slash)
        *slash = '\0';
    const char *dirs[] = {exe, exe, WDFDMA_BUILD_DRIVER_DIR};
    const char *subdirs[] = {"/drivers", "/../lib/wdfdma/drivers", ""};
    for (unsigned i = 0; i < 3; i++) {
        snprintf(path, len, "%s%s/%s.so", dirs[i], subdirs[i], sample);
        if (access(path, R_OK) == 0)
            return 0;
    }
    if (dirs_text)
        snprintf(dirs_text, dirs_len, "%s/drivers, %s and %s/../lib/wdfdma/drivers", exe,
                 WDFDMA_BUILD_DRIVER_DIR, exe);
    return -1;
}

int cli_driver_path(const cli_run_options *o, const char *sample, char *path, size_t len)
{
    if (o->driver) {
        snprintf(path, len, "%s", o->driver);
        return 0;
    }
    char dirs[3 * PATH_MAX];
    if (cli_driver_find(sample, path, len, dirs, sizeof(dirs)) == 0)
        return 0;
    fprintf(stderr, "wdfdma: %s driver not found (looked in %s)\n", sample, dirs);
    return -1;
}

int cli_system_machine(const cli_run_options *o, const char *sample, wdfdma_machine **m,
                       wdfdma_driver **drv)
{
    wdfdma_machine_config c;
    cli_machine_config(o, &c);
    wdfdma_dev *ctrl;
    char path[PATH_MAX + 64];
    *m = NULL;
    if (wdfdma_machine_create(&c, m) != 0)
        goto err;
    cli_machine_created(*m, sample, o);
    if (wdfdma_machine_add_device(*m, "sdmac", "dma0", "channels=8", &ctrl) != 0)
        goto err;
    if (cli_driver_path(o, sample, path, sizeof(path)) != 0)
        return -1;
    if (wdfdma_driver_load(*m, path, drv) != 0)
        goto err;
    return 0;
err:
    fprintf(stderr, "wdfdma: %s: %s\n", sample, wdfdma_last_error());
    return -1;
}

void cli_run_lock_init(pthread_mutex_t *lock)
{
    pthread_mutexattr_t attr;
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(lock, &attr);
    pthread_mutexattr_destroy(&attr);
}

unsigned cli_locked_unsigned(pthread_mutex_t *lock, const unsigned *value)
{
    pthread_mutex_lock(lock);
    unsigned v = *value;
    pthread_mutex_unlock(lock);
    return v;
}
