/*
 * `wdfdma soak --seeds N [--minutes M] [--engine sim|threads]`: the sample scenarios under
 * random fault plans, one seed each.
 *
 * Seed S picks a sample (they take turns) and a fault plan of one to three clauses, both
 * from S alone, and runs `wdfdma run SAMPLE ... --seed S --faults PLAN --verifier` as a
 * child process: a bug check, a hang or a crash in one seed cannot take the soak down,
 * and the command that failed is exactly the one to run again. On the sim engine (the
 * default) the same command replays the same run. `--engine threads` runs every seed on
 * real processor threads instead: the same plan, but the interleaving is the OS
 * scheduler's, so a failing command reproduces a race only now and then (run it under
 * TSan: `make test-tsan` builds such a binary).
 *
 * A seed fails when its run exits non-zero (a lost or doubly completed request, a wrong
 * byte in a request that succeeded, a byte written outside a buffer, a verifier finding,
 * a bug check) or runs past the per-seed limit. Requests the faults failed are expected.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "options.h"
#include "run.h"

#define SOAK_SEEDS_MAX 1000000ull
#define SOAK_MINUTES_MAX 10080ull      /* a week */
#define SEED_TIMEOUT_S 120             /* one seed's run; the samples take well under 1 s */
#define PLAN_LEN 256
#define MAX_ARGS 24

/* The samples a soak runs: small sizes so a seed takes milliseconds. */
typedef struct soak_sample {
    const char *scenario;
    const char *args[6];               /* extra words, NULL-terminated */
    const char *const *kinds;          /* fault kinds its driver recovers from */
} soak_sample;

/* The kinds each sample driver recovers from: every kind its hardware can meet.
 *   sgdma  a per-channel watchdog recovers lost interrupts; surprise removal ends the
 *          transfer in flight from EvtIoStop (drivers/sgdma/sgdma.c, "RECOVERY");
 *   uart   ends a request's transaction exactly once (DMA path, EvtRequestCancel or
 *          EvtIoStop) and reports only the bytes that moved;
 *   ring   confirms every wrap with the peripheral, completes or fails every waiting
 *          read when the stream ends, and can be started again.
 * --all-kinds stays for scripts written when some kinds were left out; it now changes
 * nothing. */
static const char *const sgdma_kinds[] = {
    "dma-error", "short", "lost-irq", "spurious-irq", "dup-irq", "late-irq",
    "map-exhaust", "pool-fail", "cancel", "surprise-remove", "power-down", NULL,
};
/* The system-DMA samples (uart, ring): no bus-master interrupt kinds. */
static const char *const sysdma_kinds[] = {
    "dma-error", "short", "pool-fail", "map-exhaust", "surprise-remove", "power-down", NULL,
};
static const soak_sample soak_samples[] = {
    {"sgdma", {"--profile", "packet", "--size", "16K", "--count", "8"}, sgdma_kinds},
    {"sgdma", {"--profile", "sg", "--size", "16K", "--count", "8"}, sgdma_kinds},
    {"sgdma", {"--profile", "packet64", "--size", "16K", "--count", "8"}, sgdma_kinds},
    {"sgdma", {"--profile", "sg64", "--size", "64K", "--count", "8"}, sgdma_kinds},
    {"sgdma", {"--profile", "sg-duplex", "--size", "16K", "--count", "8"}, sgdma_kinds},
    {"sgdma", {"--profile", "sg64-duplex", "--size", "16K", "--count", "8"}, sgdma_kinds},
    {"uart", {"--size", "64", "--count", "4", NULL}, sysdma_kinds},
    {"ring", {"--count", "4", NULL}, sysdma_kinds},
};
#define NSOAK (sizeof(soak_samples) / sizeof(soak_samples[0]))

/* splitmix64: a seed's own stream of choices. */
static uint64_t next_random(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* One to three clauses. Kinds that end the device's life (surprise-remove, power-down)
 * fire once at a chosen point; the others at a rate or a period. */
static void make_plan(uint64_t seed, const char *const *kinds, char *plan, size_t len)
{
    uint64_t rng = seed * 0xD1B54A32D192ED03ull + 7;
    unsigned nkinds = 0;
    while (kinds[nkinds])
        nkinds++;
    unsigned clauses = 1 + (unsigned)(next_random(&rng) % 3);
    size_t at = 0;
    plan[0] = '\0';
    for (unsigned c = 0; c < clauses; c++) {
        const char *kind = kinds[next_random(&rng) % nkinds];
        char clause[64];
        bool once = strcmp(kind, "surprise-remove") == 0 || strcmp(kind, "power-down") == 0;
        unsigned pick = (unsigned)(next_random(&rng) % 3);
        if (once)
            snprintf(clause, sizeof(clause), "%s:nth=%u", kind,
                     1 + (unsigned)(next_random(&rng) % 40));
        else if (pick == 0)
            snprintf(clause, sizeof(clause), "%s:p=0.%02u", kind,
                     1 + (unsigned)(next_random(&rng) % 15));
        else if (pick == 1)
            snprintf(clause, sizeof(clause), "%s:every=%u", kind,
                     3 + (unsigned)(next_random(&rng) % 40));
        else
            snprintf(clause, sizeof(clause), "%s:nth=%u", kind,
                     1 + (unsigned)(next_random(&rng) % 30));
        at += (size_t)snprintf(plan + at, len - at, "%s%s", c ? "," : "", clause);
        if (at >= len)
            break;
    }
}

static int build_argv(const char *exe, const soak_sample *s, uint64_t seed, const char *plan,
                      bool threads, char *seed_text, size_t seed_len, char **argv)
{
    int n = 0;
    argv[n++] = (char *)exe;
    argv[n++] = (char *)"run";
    argv[n++] = (char *)s->scenario;
    for (unsigned i = 0; i < 6 && s->args[i]; i++)
        argv[n++] = (char *)s->args[i];
    snprintf(seed_text, seed_len, "%" PRIu64, seed);
    argv[n++] = (char *)"--seed";
    argv[n++] = seed_text;
    argv[n++] = (char *)"--faults";
    argv[n++] = (char *)plan;
    argv[n++] = (char *)"--verifier";
    if (threads) {
        argv[n++] = (char *)"--engine";
        argv[n++] = (char *)"threads";
    }
    argv[n] = NULL;
    return n;
}

static void print_command(FILE *f, char **argv)
{
    for (int i = 0; argv[i]; i++) {
        bool quote = strchr(argv[i], ',') || strchr(argv[i], ':') || strchr(argv[i], '=');
        fprintf(f, "%s%s%s%s", i ? " " : "", quote ? "'" : "", argv[i], quote ? "'" : "");
    }
    fputc('\n', f);
}

/* Run argv with stdout and stderr into `log`; the exit status, 128 + signal, or -1 when
 * it ran past the limit (then it is killed). */
static int run_child(char **argv, FILE *log)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        return -2;
    if (pid == 0) {
        int fd = fileno(log);
        dup2(fd, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
        execv(argv[0], argv);
        _exit(127);
    }
    for (unsigned waited_ms = 0;; waited_ms += 10) {
        int st;
        pid_t got = waitpid(pid, &st, WNOHANG);
        if (got == pid)
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        if (got < 0 && errno != EINTR)
            return -2;
        if (waited_ms >= SEED_TIMEOUT_S * 1000u) {
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
            return -1;
        }
        usleep(10000);
    }
}

/* The last lines of a failed seed's output, to show what went wrong. */
static void print_tail(FILE *log)
{
    char lines[8][256];
    unsigned n = 0;
    rewind(log);
    while (fgets(lines[n % 8], sizeof(lines[0]), log))
        n++;
    for (unsigned i = n > 8 ? n - 8 : 0; i < n; i++)
        fprintf(stderr, "    | %s", lines[i % 8]);
}

/* A flag option (no value): set it, refusing it twice. */
static int flag(const char *arg, const char *name, bool *value, bool *matched)
{
    *matched = strcmp(arg, name) == 0;
    if (*matched && *value) {
        fprintf(stderr, "wdfdma: %s given twice\n", name);
        return CLI_USAGE;
    }
    *value |= *matched;
    return 0;
}

/* --engine sim|threads, once (the words of `wdfdma run --engine`). */
static int engine_arg(const char *value, bool *threads, bool *seen)
{
    cli_engine e;
    if (*seen) {
        fprintf(stderr, "wdfdma: --engine given twice\n");
        return CLI_USAGE;
    }
    *seen = true;
    if (cli_parse_engine(value, &e) != 0) {
        fprintf(stderr, "wdfdma: unknown --engine '%s' (use sim or threads)\n", value);
        return CLI_USAGE;
    }
    *threads = e == CLI_ENGINE_THREADS;
    return 0;
}

static int parse_args(int argc, char **argv, uint64_t *seeds, uint64_t *minutes, bool *all,
                      bool *print, bool *threads)
{
    bool engine_seen = false;
    bool have_seeds = false;
    for (int i = 0; i < argc; i += 2) {
        bool matched_all, matched_print;
        if (flag(argv[i], "--all-kinds", all, &matched_all) != 0 ||
            flag(argv[i], "--print-commands", print, &matched_print) != 0)
            return CLI_USAGE;
        if (matched_all || matched_print) {
            i--;                       /* a flag: no value follows */
            continue;
        }
        bool is_seeds = strcmp(argv[i], "--seeds") == 0;
        bool is_minutes = strcmp(argv[i], "--minutes") == 0;
        bool is_engine = strcmp(argv[i], "--engine") == 0;
        if (is_engine) {
            if (i + 1 >= argc) {
                fprintf(stderr, "wdfdma: --engine needs a value\n");
                return CLI_USAGE;
            }
            if (engine_arg(argv[i + 1], threads, &engine_seen) != 0)
                return CLI_USAGE;
            continue;
        }
        if (!is_seeds && !is_minutes) {
            fprintf(stderr, "wdfdma: unknown option '%s' for 'wdfdma soak'\n", argv[i]);
            return CLI_USAGE;
        }
        uint64_t v;
        uint64_t max = is_seeds ? SOAK_SEEDS_MAX : SOAK_MINUTES_MAX;
        if (i + 1 >= argc) {
            fprintf(stderr, "wdfdma: %s needs a value\n", argv[i]);
            return CLI_USAGE;
        }
        if (cli_parse_u64(argv[i + 1], &v) != 0 || v < 1 || v > max) {
            fprintf(stderr, "wdfdma: %s %s is out of range (valid 1..%" PRIu64 ")\n", argv[i],
                    argv[i + 1], max);
            return CLI_USAGE;
        }
        if ((is_seeds && have_seeds) || (is_minutes && *minutes)) {
            fprintf(stderr, "wdfdma: %s given twice\n", argv[i]);
            return CLI_USAGE;
        }
        *(is_seeds ? seeds : minutes) = v;
        have_seeds |= is_seeds;
    }
    if (!have_seeds) {
        fprintf(stderr, "wdfdma: soak needs --seeds N\n");
        return CLI_USAGE;
    }
    return 0;
}

int cli_soak(int argc, char **argv)
{
    for (int i = 0; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf("usage: wdfdma soak --seeds N [--minutes M] [--engine sim|threads]\n"
                   "                   [--print-commands] [--all-kinds]\n\n"
                   "Runs seeds 1..N (at most M minutes): seed S runs one sample scenario\n"
                   "(they take turns) with --seed S, --verifier and a fault plan drawn from\n"
                   "S over every fault kind the sample's hardware can meet. A failing seed\n"
                   "prints the command that reproduces it exactly; --print-commands prints\n"
                   "every seed's command before it runs. --engine threads runs every seed on\n"
                   "real processor threads (default sim): a failing command then reproduces\n"
                   "a race only sometimes. --all-kinds is accepted for old scripts and\n"
                   "changes nothing.\n"
                   "Exit status: 0 every seed clean, 1 a seed failed, 2 bad usage.\n");
            return 0;
        }
    uint64_t seeds = 0, minutes = 0;
    bool all = false, print = false, threads = false;
    if (parse_args(argc, argv, &seeds, &minutes, &all, &print, &threads) != 0)
        return CLI_USAGE;
    char exe[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (len <= 0) {
        fprintf(stderr, "wdfdma: soak: cannot find its own executable\n");
        return 1;
    }
    exe[len] = '\0';
    time_t start = time(NULL);
    uint64_t failures = 0, ran = 0;
    for (uint64_t seed = 1; seed <= seeds; seed++) {
        if (minutes && (uint64_t)(time(NULL) - start) >= minutes * 60)
            break;
        const soak_sample *s = &soak_samples[(seed - 1) % NSOAK];
        char plan[PLAN_LEN], seed_text[24];
        char *args[MAX_ARGS];
        make_plan(seed, s->kinds, plan, sizeof(plan));
        build_argv(exe, s, seed, plan, threads, seed_text, sizeof(seed_text), args);
        if (print) {
            printf("soak: seed %" PRIu64 ": ", seed);
            print_command(stdout, args);
            fflush(stdout);
        }
        FILE *log = tmpfile();
        if (!log) {
            fprintf(stderr, "wdfdma: soak: no temporary file: %s\n", strerror(errno));
            return 1;
        }
        int rc = run_child(args, log);
        ran++;
        if (rc != 0) {
            failures++;
            fprintf(stderr, "soak: seed %" PRIu64 " FAILED (%s %d); reproduce with:\n  ", seed,
                    rc == -1 ? "timed out after" : rc >= 128 ? "signal" : "exit",
                    rc == -1 ? SEED_TIMEOUT_S : rc >= 128 ? rc - 128 : rc);
            print_command(stderr, args);
            print_tail(log);
        }
        fclose(log);
    }
    printf("soak: %" PRIu64 " seed%s, %" PRIu64 " failed%s\n", ran, ran == 1 ? "" : "s",
           failures, ran < seeds ? " (time limit reached)" : "");
    return failures ? 1 : 0;
}
