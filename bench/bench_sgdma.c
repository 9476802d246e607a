/*
 * bench_sgdma: the sgdma sample KMDF driver on the sgdma model, end to end, sim engine,
 * device timing model off (timing=0: the device copies as fast as the CPU can).
 *
 *   bus-master throughput   64 KiB reads and writes through the whole stack, as a ratio
 *                           to glibc memcpy of the same bytes over the same working set
 *   bounce path             the same with a 32-bit profile and every buffer above 4 GiB
 *                           (each byte is copied twice: device <-> map register <-> buffer)
 *   small requests          512 B reads, one processor: requests/s
 *   heap allocations        counted by an interposed malloc (bench_alloc.h) over the
 *                           steady-state loops above: per request
 *   scaling                 cost per byte from 4 KiB to 16 MiB requests; cost per request
 *                           from 1 to 10,000 outstanding requests; heap per outstanding one
 *
 * Each subject alternates with its baseline for several rounds; the medians are compared.
 * Prints a table; `--json FILE` writes the same rows. No figure is asserted.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_alloc.h"
#include "bench_util.h"
#include "wdfdma/dma.h"
#include "wdfdma/host.h"
#include "wdfdma/io.h"
#include "wdfdma/machine.h"
#include "wdfdma/registry.h"

#define KIB ((size_t)1024)
#define MIB (KIB * KIB)
#define ROUNDS 7

/* WDF_DMA_PROFILE values (wdfdmaenabler.h) the sample reads from its registry key. */
#define PROFILE_SG_DUPLEX 5u           /* WdfDmaProfileScatterGatherDuplex: 32-bit */
#define PROFILE_SG64_DUPLEX 6u         /* WdfDmaProfileScatterGather64Duplex */

typedef struct rig {
    wdfdma_machine *m;
    wdfdma_dev *dev;
    wdfdma_file *f;
} rig;

typedef struct rig_config {
    unsigned cpus;
    wdfdma_mem_policy memory;
    unsigned profile;
    unsigned addr_bits;
    size_t devmem;
    uint32_t max_transfer;             /* 0: the driver's default (64 KiB) */
    bool no_preempt;                   /* no seeded preemption at DDI boundaries */
} rig_config;

static void rig_up(rig *r, const rig_config *rc)
{
    wdfdma_machine_config c;
    wdfdma_machine_config_init(&c);
    c.engine = WDFDMA_ENGINE_SIM;
    c.cpus = rc->cpus;
    c.memory = rc->memory;
    if (rc->no_preempt)
        c.preempt_percent = 0;
    if (wdfdma_machine_create(&c, &r->m) != 0)
        bench_die("machine", wdfdma_last_error());
    char opts[128], path[PATH_MAX + 32];
    snprintf(opts, sizeof(opts), "addr_bits=%u,mem=%zu,timing=0", rc->addr_bits, rc->devmem);
    wdfdma_driver *drv;
    if (wdfdma_machine_add_device(r->m, "sgdma", "sgdma0", opts, &r->dev) != 0 ||
        wdfdma_registry_set_ulong(r->m, "sgdma0", "device", "DmaProfile", rc->profile) != 0)
        bench_die("sgdma device", wdfdma_last_error());
    if (rc->max_transfer &&
        wdfdma_registry_set_ulong(r->m, "sgdma0", "device", "MaximumTransferLength",
                                  rc->max_transfer) != 0)
        bench_die("registry", wdfdma_last_error());
    if (bench_driver_path("sgdma", path, sizeof(path)) != 0)
        bench_die("sgdma driver", "BUILD/drivers/sgdma.so not found next to BUILD/bench");
    if (wdfdma_driver_load(r->m, path, &drv) != 0 || wdfdma_device_bind(r->dev, drv) != 0 ||
        wdfdma_open(r->m, "sgdma0", &r->f) != 0)
        bench_die("sgdma driver", wdfdma_last_error());
}

static void rig_down(rig *r)
{
    if (wdfdma_close(r->f) != 0)
        bench_die("close", wdfdma_last_error());
    wdfdma_machine_destroy(r->m);
}

static void io_sync(rig *r, bool write, void *buf, size_t len, uint64_t offset)
{
    int32_t status;
    size_t info;
    int rc = write ? wdfdma_write(r->f, buf, len, offset, &status, &info)
                   : wdfdma_read(r->f, buf, len, offset, &status, &info);
    if (rc != 0 || status != 0 || info != len) {
        fprintf(stderr, "bench_sgdma: %s of %zu bytes at %#llx: rc %d status %#x info %zu (%s)\n",
                write ? "write" : "read", len, (unsigned long long)offset, rc,
                (unsigned)status, info, wdfdma_last_error());
        exit(1);
    }
}

/* ---- throughput: chunked requests over a working set vs memcpy ------------------------ */
typedef struct tput {
    double memcpy_ns, read_ns, write_ns;   /* medians, per chunk */
    double allocs_per_req;
} tput;

/* `set` bytes of host buffer and `set` bytes of device memory, walked in `chunk` steps;
 * memcpy does the same walk between two host arrays of the same sizes. */
static tput measure_tput(const rig_config *rc, size_t chunk, size_t set, uint64_t per_round)
{
    rig r;
    rig_up(&r, rc);
    uint8_t *host = aligned_alloc(4096, set), *src = aligned_alloc(4096, set);
    uint8_t *dst = aligned_alloc(4096, set);
    if (!host || !src || !dst)
        bench_die("memory", "out of memory");
    memset(host, 0x3C, set);
    memset(src, 0x5A, set);
    memset(dst, 0xA5, set);
    size_t chunks = set / chunk;
    /* BENCH_TPUT_N: requests per round, for callgrind (instructions per request). */
    const char *env_n = getenv("BENCH_TPUT_N");
    if (env_n && atoi(env_n) > 0)
        per_round = (uint64_t)atoi(env_n);
    uint64_t n = per_round < chunks ? chunks : per_round;
    double tm[ROUNDS], tr[ROUNDS], tw[ROUNDS];
    volatile uint8_t sink = 0;
    uint64_t allocs = 0, reqs = 0;
    /* Warm-up: every buffer page and device slot once, and the framework's lookasides. */
    for (size_t i = 0; i < chunks; i++) {
        io_sync(&r, true, host + i * chunk, chunk, i * chunk);
        io_sync(&r, false, host + i * chunk, chunk, i * chunk);
    }
    for (unsigned k = 0; k < ROUNDS; k++) {
        uint64_t t0 = bench_ns();
        for (uint64_t i = 0; i < n; i++) {
            size_t off = (i % chunks) * chunk;
            memcpy(dst + off, src + off, chunk);
            sink ^= dst[off + (i & 63)];
        }
        tm[k] = (double)(bench_ns() - t0) / (double)n;
        bench_alloc_start();
        t0 = bench_ns();
        for (uint64_t i = 0; i < n; i++) {
            size_t off = (i % chunks) * chunk;
            io_sync(&r, false, host + off, chunk, off);
        }
        tr[k] = (double)(bench_ns() - t0) / (double)n;
        t0 = bench_ns();
        for (uint64_t i = 0; i < n; i++) {
            size_t off = (i % chunks) * chunk;
            io_sync(&r, true, host + off, chunk, off);
        }
        tw[k] = (double)(bench_ns() - t0) / (double)n;
        bench_alloc_stop();
        allocs += bench_alloc_count();
        reqs += 2 * n;
    }
    (void)sink;
    tput t = { bench_median(tm, ROUNDS), bench_median(tr, ROUNDS), bench_median(tw, ROUNDS),
               (double)allocs / (double)reqs };
    free(host);
    free(src);
    free(dst);
    rig_down(&r);
    return t;
}

/* ---- small requests ------------------------------------------------------------------- */
typedef struct small {
    double req_ns, anchor_ns, allocs_per_req;
    double batch_ns;                   /* per request, 32 in flight */
} small;

static void on_done(void *ctx, int32_t status, size_t information);
typedef struct outst {
    uint64_t completed;
} outst;

enum { SMALL_SLOTS = 64 };

/* BENCH_SMALL_N: fewer requests per round, for callgrind (instructions per request). */
static unsigned small_n(void)
{
    const char *env_n = getenv("BENCH_SMALL_N");
    return env_n && atoi(env_n) > 0 ? (unsigned)atoi(env_n) : 100000;
}

/* 512 B reads issued 32 at a time, then the machine runs until they complete: the
 * pipelined figure, beside DPDK's batch of 32 (the one-at-a-time figure is the target's).
 * Its own rig without seeded preemption: with it, a submission lets the machine run and
 * complete the reads already issued, and most of a "batch" ran one at a time. */
static small measure_batch32(void)
{
    enum { BATCH = 32 };
    rig_config rc = { 1, WDFDMA_MEM_SCATTERED, PROFILE_SG64_DUPLEX, 64, MIB, 0, true };
    rig r;
    rig_up(&r, &rc);
    static uint8_t buf[SMALL_SLOTS][512] __attribute__((aligned(64)));
    const unsigned n = small_n() / BATCH * BATCH;
    double t[ROUNDS], ta[ROUNDS];
    outst o = { 0 };
    for (unsigned k = 0; k < ROUNDS; k++) {
        ta[k] = bench_anchor_512();
        uint64_t t0 = bench_ns();
        for (unsigned b = 0; b < n / BATCH; b++) {
            for (unsigned i = 0; i < BATCH; i++) {
                wdfdma_io *op;
                if (wdfdma_read_async(r.f, buf[i], 512, i * 512, on_done, &o, &op) != 0)
                    bench_die("read_async", wdfdma_last_error());
            }
            wdfdma_machine_run(r.m);
        }
        t[k] = (double)(bench_ns() - t0) / (double)n;
    }
    if (o.completed != (uint64_t)ROUNDS * n)
        bench_die("batch of 32", "lost completions");
    rig_down(&r);
    return (small){ .batch_ns = bench_median(t, ROUNDS), .anchor_ns = bench_median(ta, ROUNDS) };
}

/* 512 B reads, one processor. The anchor is a 512 B in-cache memcpy: it says how fast
 * this machine is right now, so ns per request / anchor is comparable across runs. */
static small measure_small(void)
{
    rig_config rc = { 1, WDFDMA_MEM_SCATTERED, PROFILE_SG64_DUPLEX, 64, MIB, 0, false };
    rig r;
    rig_up(&r, &rc);
    enum { SLOTS = SMALL_SLOTS };
    const unsigned N = small_n();
    static uint8_t buf[SLOTS][512] __attribute__((aligned(64)));
    double tq[ROUNDS], ta[ROUNDS];
    uint64_t allocs = 0;
    for (unsigned i = 0; i < 1000; i++)
        io_sync(&r, false, buf[i % SLOTS], 512, (i % SLOTS) * 512);
    for (unsigned k = 0; k < ROUNDS; k++) {
        ta[k] = bench_anchor_512();
        bench_alloc_start();
        uint64_t t0 = bench_ns();
        for (unsigned i = 0; i < N; i++)
            io_sync(&r, false, buf[i % SLOTS], 512, (i % SLOTS) * 512);
        tq[k] = (double)(bench_ns() - t0) / N;
        bench_alloc_stop();
        allocs += bench_alloc_count();
    }
    small s = { bench_median(tq, ROUNDS), bench_median(ta, ROUNDS),
                (double)allocs / (double)(ROUNDS * (uint64_t)N), 0 };
    rig_down(&r);
    return s;
}

/* ---- scaling with outstanding requests ------------------------------------------------- */

static void on_done(void *ctx, int32_t status, size_t information)
{
    outst *o = ctx;
    if (status != 0 || information != 512) {
        fprintf(stderr, "bench_sgdma: async read completed with %#x, %zu bytes\n",
                (unsigned)status, information);
        exit(1);
    }
    o->completed++;
}

typedef struct depth_result {
    unsigned depth;
    double req_ns;
    double heap_per_req;
} depth_result;

static depth_result measure_depth(rig *r, uint8_t *bufs, unsigned depth)
{
    const uint64_t total = 200000;
    uint64_t batches = total / depth ? total / depth : 1;
    double t[ROUNDS];
    double heap = 0;
    outst o = { 0 };
    for (unsigned k = 0; k < ROUNDS; k++) {
        uint64_t t0 = bench_ns();
        for (uint64_t b = 0; b < batches; b++) {
            bool first = k == 0 && b == 0;
            if (first)
                bench_alloc_start();
            for (unsigned i = 0; i < depth; i++) {
                wdfdma_io *op;
                if (wdfdma_read_async(r->f, bufs + (size_t)i * 512, 512, (i % 1024) * 512,
                                      on_done, &o, &op) != 0)
                    bench_die("read_async", wdfdma_last_error());
            }
            if (first) {
                heap = (double)bench_alloc_in_use() / depth;
                bench_alloc_stop();
            }
            wdfdma_machine_run(r->m);
        }
        t[k] = (double)(bench_ns() - t0) / (double)(batches * depth);
    }
    if (o.completed != ROUNDS * batches * depth)
        bench_die("outstanding", "lost completions");
    return (depth_result){ depth, bench_median(t, ROUNDS), heap };
}

/* Heap per outstanding request in a fresh machine (no free list warm yet): what 10,000
 * queued reads really take. Returns bytes per request; *allocs gets allocations each.
 * Without preemption: a seeded preemption point inside a submission lets the machine run
 * and complete earlier requests, and then far fewer than `depth` would be outstanding. */
static double measure_fresh_heap(uint8_t *bufs, unsigned depth, double *allocs)
{
    rig_config rc = { 1, WDFDMA_MEM_SCATTERED, PROFILE_SG64_DUPLEX, 64, MIB, 0, true };
    rig r;
    rig_up(&r, &rc);
    outst o = { 0 };
    bench_alloc_start();
    for (unsigned i = 0; i < depth; i++) {
        wdfdma_io *op;
        if (wdfdma_read_async(r.f, bufs + (size_t)i * 512, 512, (i % 1024) * 512, on_done, &o,
                              &op) != 0)
            bench_die("read_async", wdfdma_last_error());
    }
    double heap = (double)bench_alloc_in_use() / depth;
    *allocs = (double)bench_alloc_count() / depth;
    bench_alloc_stop();
    wdfdma_machine_run(r.m);
    if (o.completed != depth)
        bench_die("outstanding", "lost completions");
    rig_down(&r);
    return heap;
}

/* One throughput measurement of 64 KiB requests over a working set of `set` bytes, and
 * its rows: the memcpy baseline, then read and write as ratios to it (against the 0.9
 * target when `target`). */
static tput tput_rows(bench_out *out, const rig_config *rc, size_t set, const char *placement,
                      bool target)
{
    tput t = measure_tput(rc, 64 * KIB, set, 4000);
    double rr = t.memcpy_ns / t.read_ns, wr = t.memcpy_ns / t.write_ns;
    char what[96];
    snprintf(what, sizeof(what), "memcpy 64 KiB, %zu MiB set (%s run)", set / MIB, placement);
    bench_row(out, what, 64.0 * KIB / t.memcpy_ns, "GB/s", NULL, 0, NULL, -1);
    snprintf(what, sizeof(what), "sgdma read 64 KiB, %zu MiB set, %s", set / MIB, placement);
    bench_row(out, what, 64.0 * KIB / t.read_ns, "GB/s", "memcpy", rr, target ? ">= 0.9" : NULL,
              target ? rr >= 0.9 : -1);
    snprintf(what, sizeof(what), "sgdma write 64 KiB, %zu MiB set, %s", set / MIB, placement);
    bench_row(out, what, 64.0 * KIB / t.write_ns, "GB/s", "memcpy", wr, target ? ">= 0.9" : NULL,
              target ? wr >= 0.9 : -1);
    return t;
}

int main(int argc, char **argv)
{
    const char *only;
    const char *json = bench_json_arg(argc, argv, "bench_sgdma", &only);
    bench_out out;
    bench_open(&out, json, "sgdma");

    /* 7c first of all: lookasides (IRPs, MDLs, operations) are per process, so only the
     * first machine of the process shows what queued requests really cost in memory. */
    double fresh_heap = 0, fresh_allocs = 0;
    uint8_t *fresh_bufs = NULL;
    if (bench_part(only, "depth") && BENCH_ALLOC_COUNTS) {
        fresh_bufs = aligned_alloc(4096, 10000 * 512);
        if (!fresh_bufs)
            bench_die("memory", "out of memory");
        memset(fresh_bufs, 0, 10000 * 512);
        fresh_heap = measure_fresh_heap(fresh_bufs, 10000, &fresh_allocs);
        free(fresh_bufs);
    }

    /* 1. Bus-master throughput, 64-bit profile, scattered frames (the target's figure);
     * 1f. the same with contiguous placement, where each request's pages are consecutive
     * frames, so its SG list is one element, one descriptor and one bus copy. Reported
     * beside the target's figure, not instead of it. */
    rig_config bm = { 2, WDFDMA_MEM_SCATTERED, PROFILE_SG64_DUPLEX, 64, 8 * MIB, 0, false };
    rig_config bc = bm;
    bc.memory = WDFDMA_MEM_CONTIGUOUS;
    size_t sets[2] = { MIB, 8 * MIB };
    double allocs_64k = 0;
    for (int i = 0; i < 2 && bench_part(only, "tput"); i++)
        allocs_64k += tput_rows(&out, &bm, sets[i], "scattered", true).allocs_per_req / 2;
    for (int i = 0; i < 2 && bench_part(only, "tput"); i++)
        (void)tput_rows(&out, &bc, sets[i], "contiguous", false);

    /* 2. Bounce path: 32-bit duplex profile, every buffer frame above 4 GiB. */
    rig_config bb = { 2, WDFDMA_MEM_ABOVE4G, PROFILE_SG_DUPLEX, 32, 8 * MIB, 0, false };
    tput tb = { 1, 1, 1, 0 };
    if (bench_part(only, "bounce")) {
        tb = measure_tput(&bb, 64 * KIB, MIB, 2000);
        double rr = tb.memcpy_ns / tb.read_ns, wr = tb.memcpy_ns / tb.write_ns;
        bench_row(&out, "memcpy 64 KiB, 1 MiB working set (bounce run)", 64.0 * KIB / tb.memcpy_ns,
                  "GB/s", NULL, 0, NULL, -1);
        bench_row(&out, "bounce read 64 KiB (32-bit, above4g)", 64.0 * KIB / tb.read_ns, "GB/s",
                  "memcpy", rr, ">= 0.45", rr >= 0.45);
        bench_row(&out, "bounce write 64 KiB (32-bit, above4g)", 64.0 * KIB / tb.write_ns, "GB/s",
                  "memcpy", wr, ">= 0.45", wr >= 0.45);
    }

    /* 3. Small requests. */
    small s = { 1, 1, 0, 1 };
    if (bench_part(only, "small")) {
        s = measure_small();
        bench_row(&out, "512 B in-cache memcpy (anchor)", s.anchor_ns, "ns", NULL, 0, NULL, -1);
        bench_row(&out, "512 B reads end to end, sim, 1 cpu", 1e9 / s.req_ns, "req/s", "anchor",
                  s.req_ns / s.anchor_ns, ">= 2e6 req/s", 1e9 / s.req_ns >= 2e6);
    }
    if (bench_part(only, "batch")) {
        small b = measure_batch32();
        bench_row(&out, "512 B reads end to end, 32 in flight, sim, 1 cpu", 1e9 / b.batch_ns,
                  "req/s", "anchor", b.batch_ns / b.anchor_ns, NULL, -1);
    }

    /* 4. Heap allocations per request in steady state. */
    if (!BENCH_ALLOC_COUNTS)
        printf("heap allocations: not counted (a sanitizer owns malloc in this build)\n");
    else if (!only) {
        bench_row(&out, "heap allocations per 512 B read", s.allocs_per_req, "allocs", NULL, 0,
                  "0", s.allocs_per_req == 0);
        bench_row(&out, "heap allocations per 64 KiB request", allocs_64k / 2, "allocs", NULL,
                  0, "0", allocs_64k == 0);
        bench_row(&out, "heap allocations per bounced 64 KiB request", tb.allocs_per_req,
                  "allocs", NULL, 0, "0", tb.allocs_per_req == 0);
    }

    /* 7a. Cost per byte from 4 KiB to 16 MiB (one request's bytes = its working set). */
    rig_config big = { 2, WDFDMA_MEM_SCATTERED, PROFILE_SG64_DUPLEX, 64, 32 * MIB, 0, false };
    static const size_t sizes[] = { 4 * KIB, 64 * KIB, MIB, 16 * MIB };
    double per_byte[4], ratio[4];
    for (int i = 0; i < 4 && bench_part(only, "size"); i++) {
        tput t = measure_tput(&big, sizes[i], sizes[i], (uint64_t)(256 * MIB / sizes[i]) / ROUNDS);
        per_byte[i] = t.read_ns / (double)sizes[i];
        ratio[i] = t.memcpy_ns / t.read_ns;
    }
    for (int i = 0; i < 4 && bench_part(only, "size"); i++) {
        char what[96];
        snprintf(what, sizeof(what), "read cost per byte, %zu KiB requests", sizes[i] / KIB);
        bench_row(&out, what, per_byte[i] * 1000, "ps/B", "memcpy", ratio[i], NULL, -1);
    }
    if (bench_part(only, "size")) {
        double lo = per_byte[1], hi = per_byte[1];
        for (int i = 1; i < 4; i++) {
            lo = per_byte[i] < lo ? per_byte[i] : lo;
            hi = per_byte[i] > hi ? per_byte[i] : hi;
        }
        bench_row(&out, "cost per byte spread, 64 KiB..16 MiB (max/min)", hi / lo, "x", NULL, 0,
                  "<= 1.2 (flat +-20%)", hi / lo <= 1.2);
        bench_row(&out, "cost per byte, 4 KiB / 64 KiB requests", per_byte[0] / per_byte[1], "x",
                  NULL, 0, NULL, -1);
    }

    /* 7b. Cost per request from 1 to 10,000 outstanding; heap per outstanding request. */
    if (bench_part(only, "depth")) {
        /* No seeded preemption: with it, a submission lets the machine run and complete
         * earlier requests, so "10,000 outstanding" would not be. */
        rig_config rc = { 1, WDFDMA_MEM_SCATTERED, PROFILE_SG64_DUPLEX, 64, MIB, 0, true };
        rig r;
        rig_up(&r, &rc);
        uint8_t *bufs = aligned_alloc(4096, 10000 * 512);
        memset(bufs, 0, 10000 * 512);
        static const unsigned depths[] = { 1, 10, 100, 1000, 10000 };
        depth_result d[5];
        for (int i = 0; i < 5; i++)
            d[i] = measure_depth(&r, bufs, depths[i]);
        double lo = d[0].req_ns, hi = d[0].req_ns;
        for (int i = 0; i < 5; i++) {
            char what[96];
            snprintf(what, sizeof(what), "512 B read cost, %u outstanding", d[i].depth);
            bench_row(&out, what, d[i].req_ns, "ns/req", "1 outstanding",
                      d[i].req_ns / d[0].req_ns, NULL, -1);
            lo = d[i].req_ns < lo ? d[i].req_ns : lo;
            hi = d[i].req_ns > hi ? d[i].req_ns : hi;
        }
        bench_row(&out, "cost per request spread, 1..10000 outstanding", hi / lo, "x", NULL, 0,
                  "<= 1.2 (flat +-20%)", hi / lo <= 1.2);
        bench_row(&out, "heap per outstanding request (10000 queued, warm machine)",
                  d[4].heap_per_req, "bytes", NULL, 0, NULL, -1);
        if (BENCH_ALLOC_COUNTS) {
            bench_row(&out, "heap per outstanding request (10000 queued, fresh process)",
                      fresh_heap, "bytes", NULL, 0, NULL, -1);
            bench_row(&out, "allocations per outstanding request (fresh process)",
                      fresh_allocs, "allocs", NULL, 0, NULL, -1);
        }
        free(bufs);
        rig_down(&r);
    }
    bench_close(&out);
    return 0;
}
