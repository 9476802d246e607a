/*
 * Helpers shared by the benchmarks (header-only: each bench is one program).
 *
 * Every figure a benchmark reports is a ratio to a baseline measured in the same run:
 * these machines are shared and noisy, so an absolute number means little. Measurements
 * alternate with their baseline (baseline, subject, baseline, subject, ...) and each side
 * keeps its median, so a burst of noise hits both sides alike.
 */
#ifndef WDFDMA_BENCH_UTIL_H
#define WDFDMA_BENCH_UTIL_H

#include <limits.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BENCH_ROUNDS_MAX 15

static inline uint64_t bench_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int bench_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static inline double bench_median(double *v, unsigned n)
{
    qsort(v, n, sizeof(*v), bench_cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* The anchor of small-request figures: ns per 512 B memcpy between two in-cache buffers
 * (one round of 100,000). memcpy is called through a volatile pointer, so every program,
 * whatever its compiler flags, times glibc's memcpy and not an inlined copy. */
static inline double bench_anchor_512(void)
{
    static uint8_t a[512] __attribute__((aligned(64))), b[512] __attribute__((aligned(64)));
    void *(*volatile copy)(void *, const void *, size_t) = memcpy;
    enum { N = 100000 };
    uint64_t t0 = bench_ns();
    for (unsigned i = 0; i < N; i++)
        copy(a, b, sizeof(a));
    return (double)(bench_ns() - t0) / N;
}

/* The directory of the running executable (BUILD/bench); drivers are in BUILD/drivers. */
static inline int bench_driver_path(const char *name, char *out, size_t len)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n <= 0)
        return -1;
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (!slash)
        return -1;
    *slash = '\0';
    snprintf(out, len, "%s/../drivers/%s.so", exe, name);
    return access(out, R_OK) == 0 ? 0 : -1;
}

/* ---- output: a text table on stdout, the same rows as JSON ----------------------------- */
typedef struct bench_out {
    FILE *json;
    unsigned rows;
} bench_out;

static inline void bench_open(bench_out *o, const char *path, const char *bench)
{
    o->rows = 0;
    o->json = NULL;
    if (path) {
        o->json = fopen(path, "w");
        if (!o->json) {
            perror(path);
            exit(1);
        }
        fprintf(o->json, "{\n  \"bench\": \"%s\",\n  \"rows\": [\n", bench);
    }
    printf("%-58s %14s %10s  %s\n", "measure", "value", "unit", "baseline / ratio / target");
}

/* One row: what, value, unit; `ratio_to` names the baseline the ratio is against (or NULL),
 * `target` says what the issue asks for (or NULL); `met` is -1 when there is no target. */
static inline void bench_row(bench_out *o, const char *what, double value, const char *unit,
                             const char *ratio_to, double ratio, const char *target, int met)
{
    char tail[200] = "";
    if (ratio_to)
        snprintf(tail, sizeof(tail), "%.3f x %s", ratio, ratio_to);
    if (target)
        snprintf(tail + strlen(tail), sizeof(tail) - strlen(tail), "%s[target %s: %s]",
                 ratio_to ? "  " : "", target, met > 0 ? "met" : "NOT met");
    printf("%-58s %14.4g %10s  %s\n", what, value, unit, tail);
    if (o->json) {
        fprintf(o->json, "%s    {\"measure\": \"%s\", \"value\": %.6g, \"unit\": \"%s\"",
                o->rows ? ",\n" : "", what, value, unit);
        if (ratio_to)
            fprintf(o->json, ", \"baseline\": \"%s\", \"ratio\": %.4f", ratio_to, ratio);
        if (target)
            fprintf(o->json, ", \"target\": \"%s\", \"met\": %s", target, met > 0 ? "true" : "false");
        fputc('}', o->json);
    }
    o->rows++;
    fflush(stdout);
}

static inline void bench_close(bench_out *o)
{
    if (o->json) {
        fprintf(o->json, "\n  ]\n}\n");
        fclose(o->json);
    }
}

/* `--json FILE` and, for profiling one part under perf or callgrind, `--only PART`. */
static inline const char *bench_json_arg(int argc, char **argv, const char *name,
                                         const char **only)
{
    const char *json = NULL;
    *only = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0 && i + 1 < argc) {
            json = argv[++i];
        } else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc) {
            *only = argv[++i];
        } else {
            fprintf(stderr, "usage: %s [--json FILE] [--only PART]\n", name);
            exit(2);
        }
    }
    return json;
}

static inline bool bench_part(const char *only, const char *part)
{
    return !only || strcmp(only, part) == 0;
}

__attribute__((noreturn)) static inline void bench_die(const char *what, const char *msg)
{
    fprintf(stderr, "bench: %s: %s\n", what, msg);
    exit(1);
}

#endif
