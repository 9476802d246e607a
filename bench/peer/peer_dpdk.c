/*
 * peer_dpdk: DPDK's dmadev with the `dma_skeleton` software device, the peer of target 3
 * (small requests). Not part of the CMake build: bench/peer/build.sh compiles it when
 * DPDK's development files are installed, and scripts/bench.sh runs it then.
 *
 * dma_skeleton copies with rte_memcpy on a worker thread that polls descriptor rings;
 * the application enqueues with rte_dma_copy, rings the doorbell with rte_dma_submit
 * (here the SUBMIT flag on the last copy of a batch) and reaps with rte_dma_completed.
 *
 *   ops/s, 512 B, batch 32    32 copies enqueued, submitted, all reaped; repeated
 *   ops/s, 512 B, batch 1     one copy at a time: enqueue, submit, poll until done
 *                             (the shape of one synchronous request)
 *
 * Baseline in the same run: a 512 B in-cache memcpy, the anchor bench_sgdma uses, so the
 * two programs' figures can be compared through it. Same JSON rows as bench_util.h.
 */
/* dmadev is "experimental" in DPDK 22.11: its functions are usable only with this. */
#define ALLOW_EXPERIMENTAL_API 1

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_dmadev.h>
#include <rte_eal.h>
#include <rte_lcore.h>
#include <rte_malloc.h>

#include "../bench_util.h"

#define SIZE 512u
#define SLOTS 64u
#define ROUNDS 7

static int16_t dev;

/* `ops` copies in batches of `batch`; returns wall ns per op. */
static double run(uint8_t *src, uint8_t *dst, unsigned batch, uint64_t ops)
{
    uint64_t t0 = bench_ns(), done = 0, issued = 0;
    while (done < ops) {
        for (unsigned i = 0; i < batch; i++, issued++) {
            unsigned s = (unsigned)(issued % SLOTS);
            uint64_t flags = i + 1 == batch ? RTE_DMA_OP_FLAG_SUBMIT : 0;
            if (rte_dma_copy(dev, 0, (rte_iova_t)(uintptr_t)(src + s * SIZE),
                             (rte_iova_t)(uintptr_t)(dst + s * SIZE), SIZE, flags) < 0)
                bench_die("rte_dma_copy", "ring full");
        }
        unsigned got = 0;
        while (got < batch) {
            uint16_t last;
            bool error = false;
            got += rte_dma_completed(dev, 0, (uint16_t)(batch - got), &last, &error);
            if (error)
                bench_die("rte_dma_completed", "a copy failed");
        }
        done += batch;
    }
    return (double)(bench_ns() - t0) / (double)ops;
}

int main(int argc, char **argv)
{
    const char *only;
    const char *json = bench_json_arg(argc, argv, "peer_dpdk", &only);
    (void)only;
    char *eal[] = { "peer_dpdk", "--no-huge", "--no-pci", "--no-telemetry", "-m", "128",
                    "--iova-mode=va", "--vdev=dma_skeleton", "--log-level=error", "-l", "0" };
    if (rte_eal_init((int)(sizeof(eal) / sizeof(eal[0])), eal) < 0)
        bench_die("rte_eal_init", "failed (is librte-dma-skeleton23 installed?)");
    dev = (int16_t)rte_dma_get_dev_id_by_name("dma_skeleton");
    if (dev < 0)
        bench_die("dma_skeleton", "no such dmadev");
    struct rte_dma_info info;
    struct rte_dma_conf conf = { .nb_vchans = 1 };
    struct rte_dma_vchan_conf vconf = { .direction = RTE_DMA_DIR_MEM_TO_MEM, .nb_desc = 1024 };
    if (rte_dma_info_get(dev, &info) != 0 || rte_dma_configure(dev, &conf) != 0)
        bench_die("dma_skeleton", "configure failed");
    if (vconf.nb_desc > info.max_desc)
        vconf.nb_desc = info.max_desc;
    if (rte_dma_vchan_setup(dev, 0, &vconf) != 0 || rte_dma_start(dev) != 0)
        bench_die("dma_skeleton", "vchan setup or start failed");
    uint8_t *src = rte_malloc(NULL, SLOTS * SIZE, 64), *dst = rte_malloc(NULL, SLOTS * SIZE, 64);
    if (!src || !dst)
        bench_die("rte_malloc", "out of memory");
    memset(src, 0x5A, SLOTS * SIZE);
    memset(dst, 0, SLOTS * SIZE);
    double ta[ROUNDS], t32[ROUNDS], t1[ROUNDS];
    run(src, dst, 32, 100000);                        /* warm-up: the worker is polling */
    for (unsigned k = 0; k < ROUNDS; k++) {
        ta[k] = bench_anchor_512();
        t32[k] = run(src, dst, 32, 320000);
        t1[k] = run(src, dst, 1, 50000);
    }
    if (memcmp(src, dst, SLOTS * SIZE) != 0)
        bench_die("dma_skeleton", "copied data differs");
    double anchor = bench_median(ta, ROUNDS), b32 = bench_median(t32, ROUNDS);
    double b1 = bench_median(t1, ROUNDS);
    bench_out out;
    bench_open(&out, json, "peer_dpdk");
    bench_row(&out, "peer: 512 B in-cache memcpy (anchor)", anchor, "ns", NULL, 0, NULL, -1);
    bench_row(&out, "peer: DPDK dma_skeleton 512 B copies, batch 32", 1e9 / b32, "ops/s",
              "anchor", b32 / anchor, NULL, -1);
    bench_row(&out, "peer: DPDK dma_skeleton 512 B copies, batch 1", 1e9 / b1, "ops/s",
              "anchor", b1 / anchor, NULL, -1);
    bench_close(&out);
    rte_dma_stop(dev);
    rte_dma_close(dev);
    rte_free(src);
    rte_free(dst);
    rte_eal_cleanup();
    return 0;
}
