/*
 * bench_mach: the simulated machine's own costs.
 *
 *   sim events/s        self-rescheduling hardware events through the binary heap
 *                       (64 concurrent timers, as many devices would have)
 *   bus DMA bytes/s     64 KiB device reads and writes by logical address over a working
 *                       set of contiguous frames, as a ratio to glibc memcpy of the same
 *                       bytes over the same working set, measured in the same run
 *   toy round trips/s   doorbell -> event -> DMA -> interrupt -> ISR -> DPC -> wait, on the
 *                       sim and threads engines
 *
 * Prints a table; `--json FILE` also writes the figures as JSON. No timed assertions.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_util.h"
#include "machine/internal.h"

#define CHUNK 65536u

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static wdfdma_machine *machine(wdfdma_engine e)
{
    wdfdma_machine_config c;
    wdfdma_machine_config_init(&c);
    c.engine = e;
    wdfdma_machine *m = NULL;
    if (wdfdma_machine_create(&c, &m)) {
        fprintf(stderr, "bench_mach: %s\n", wdfdma_last_error());
        exit(1);
    }
    return m;
}

/* ---- events ------------------------------------------------------------------------------ */
typedef struct chain {
    wdfdma_machine *m;
    uint64_t left;
} chain;

static void chain_event(void *ctx)
{
    chain *c = ctx;
    if (--c->left)
        mach_after(c->m, 10 + (c->left & 63), chain_event, c);
}

static double bench_events(uint64_t *events_out)
{
    wdfdma_machine *m = machine(WDFDMA_ENGINE_SIM);
    enum { CHAINS = 64, PER = 40000 };
    static chain ch[CHAINS];
    for (int i = 0; i < CHAINS; i++) {
        ch[i] = (chain){ m, PER };
        mach_after(m, (uint64_t)i, chain_event, &ch[i]);
    }
    double t0 = now_s();
    wdfdma_machine_run(m);
    double dt = now_s() - t0;
    wdfdma_machine_stats st;
    wdfdma_machine_get_stats(m, &st);
    *events_out = st.events;
    wdfdma_machine_destroy(m);
    return (double)st.events / dt;
}

/* ---- bus DMA vs memcpy ------------------------------------------------------------------- */
typedef struct dma_result {
    size_t working_set;
    double memcpy_gbs, read_gbs, write_gbs;
} dma_result;

static dma_result bench_dma(size_t ws)
{
    wdfdma_machine *m = machine(WDFDMA_ENGINE_SIM);
    wdfdma_dev *dev;
    if (wdfdma_machine_add_device(m, "toy", "bench", NULL, &dev)) {
        fprintf(stderr, "bench_mach: %s\n", wdfdma_last_error());
        exit(1);
    }
    void *va;
    uint64_t pa;
    if (mach_mem_alloc_contig(m, ws, 0, 0, &va, &pa)) {
        fprintf(stderr, "bench_mach: cannot allocate %zu bytes of contiguous memory\n", ws);
        exit(1);
    }
    uint8_t *local = aligned_alloc(4096, CHUNK);
    memset(va, 0x5A, ws);
    memset(local, 0xA5, CHUNK);
    size_t chunks = ws / CHUNK;
    uint64_t total = 1ull << 33;                  /* 8 GiB moved per measurement */
    uint64_t reps = total / ws;
    volatile uint8_t sink = 0;

    double t0 = now_s();
    for (uint64_t r = 0; r < reps; r++)
        for (size_t i = 0; i < chunks; i++) {
            memcpy(local, (uint8_t *)va + i * CHUNK, CHUNK);
            sink ^= local[r & (CHUNK - 1)];
        }
    double t_memcpy = now_s() - t0;

    t0 = now_s();
    for (uint64_t r = 0; r < reps; r++)
        for (size_t i = 0; i < chunks; i++) {
            wdfdma_dev_dma_read(dev, pa + i * CHUNK, local, CHUNK);
            sink ^= local[r & (CHUNK - 1)];
        }
    double t_read = now_s() - t0;

    t0 = now_s();
    for (uint64_t r = 0; r < reps; r++)
        for (size_t i = 0; i < chunks; i++)
            wdfdma_dev_dma_write(dev, pa + i * CHUNK, local, CHUNK);
    double t_write = now_s() - t0;
    (void)sink;

    double bytes = (double)reps * (double)chunks * CHUNK;
    dma_result res = { ws, bytes / t_memcpy / 1e9, bytes / t_read / 1e9, bytes / t_write / 1e9 };
    free(local);
    mach_mem_free_contig(m, va, ws);
    wdfdma_machine_destroy(m);
    return res;
}

/* ---- toy round trips ------------------------------------------------------------------------ */
typedef struct toy {
    wdfdma_machine *m;
    volatile uint8_t *regs;
    volatile uintptr_t lock;
    mach_work dpc;
    _Atomic uint32_t claimed, done, target;
} toy;

static bool toy_isr(void *ctx, uint32_t message)
{
    (void)message;
    toy *t = ctx;
    uint32_t st = (uint32_t)mach_mmio_read(t->regs + 0x20, 4);
    if (!(st & 6))
        return false;
    mach_mmio_write(t->regs + 0x24, 4, st & 6);
    atomic_fetch_add(&t->claimed, 1);
    mach_dpc_queue(t->m, mach_cpu_current(), &t->dpc);
    return true;
}

static void toy_dpc(mach_work *w)
{
    toy *t = (toy *)((char *)w - offsetof(toy, dpc));
    atomic_store(&t->done, atomic_load(&t->claimed));
    mach_signal(t->m);
}

static bool toy_reached(void *ctx)
{
    toy *t = ctx;
    return atomic_load(&t->done) >= atomic_load(&t->target);
}

static double bench_toy(wdfdma_engine e, unsigned n, uint64_t *virt_ns)
{
    wdfdma_machine *m = machine(e);
    wdfdma_dev *dev;
    wdfdma_machine_add_device(m, "toy", "toy", "latency=1000", &dev);
    toy t = { .m = m, .dpc.fn = toy_dpc };
    const wdfdma_resource *mmio = wdfdma_dev_resource(dev, 0), *irq = wdfdma_dev_resource(dev, 1);
    t.regs = mach_mmio_map(m, mmio->start, mmio->length);
    mach_irq_conn *conn;
    mach_irq_connect(m, irq->vector, (uint8_t)irq->level, toy_isr, &t, &t.lock, &conn);
    void *va;
    uint64_t pa;
    mach_mem_alloc_contig(m, 8192, 0, 0, &va, &pa);
    double t0 = now_s();
    for (unsigned i = 0; i < n; i++) {
        mach_mmio_write(t.regs + 0x08, 8, pa);
        mach_mmio_write(t.regs + 0x10, 8, pa + 4096);
        mach_mmio_write(t.regs + 0x18, 4, 4096);
        mach_mmio_write(t.regs + 0x1C, 4, 1);
        atomic_store(&t.target, i + 1);
        mach_wait(m, toy_reached, &t, -1);
    }
    double dt = now_s() - t0;
    *virt_ns = wdfdma_machine_now(m);
    mach_irq_disconnect(conn);
    mach_mmio_unmap(m, (void *)t.regs, mmio->length);
    mach_mem_free_contig(m, va, 8192);
    wdfdma_machine_destroy(m);
    return n / dt;
}

int main(int argc, char **argv)
{
    const char *only;
    const char *json = bench_json_arg(argc, argv, "bench_mach", &only);
    (void)only;
    uint64_t events;
    double eps = bench_events(&events);
    dma_result d[2] = { bench_dma(1u << 20), bench_dma(16u << 20) };
    uint64_t vsim, vthr;
    double sim_rt = bench_toy(WDFDMA_ENGINE_SIM, 20000, &vsim);
    double thr_rt = bench_toy(WDFDMA_ENGINE_THREADS, 2000, &vthr);

    bench_out out;
    bench_open(&out, json, "mach");
    bench_row(&out, "sim events/s", eps, "events/s", NULL, 0, NULL, -1);
    for (int i = 0; i < 2; i++) {
        char label[96];
        snprintf(label, sizeof(label), "machine: memcpy 64 KiB, %zu MiB set",
                 d[i].working_set >> 20);
        bench_row(&out, label, d[i].memcpy_gbs, "GB/s", NULL, 0, NULL, -1);
        snprintf(label, sizeof(label), "machine: bus DMA read 64 KiB, %zu MiB set",
                 d[i].working_set >> 20);
        bench_row(&out, label, d[i].read_gbs, "GB/s", "memcpy", d[i].read_gbs / d[i].memcpy_gbs,
                  NULL, -1);
        snprintf(label, sizeof(label), "machine: bus DMA write 64 KiB, %zu MiB set",
                 d[i].working_set >> 20);
        bench_row(&out, label, d[i].write_gbs, "GB/s", "memcpy",
                  d[i].write_gbs / d[i].memcpy_gbs, NULL, -1);
    }
    bench_row(&out, "toy round trips/s, sim", sim_rt, "trips/s", NULL, 0, NULL, -1);
    bench_row(&out, "toy virtual ns per round trip, sim", (double)vsim / 20000, "ns", NULL, 0,
              NULL, -1);
    bench_row(&out, "toy round trips/s, threads", thr_rt, "trips/s", NULL, 0, NULL, -1);
    bench_close(&out);
    return 0;
}
