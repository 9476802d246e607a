/*
 * `wdfdma run` / `wdfdma selftest`: build a machine on each engine, drive the toy device
 * through a few thousand verified DMA copies with an ISR and a DPC on the platform
 * contract (no kernel layer), and print a short summary per engine.
 *
 * Options: --copies N (default 3000), --seed S (default 1).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "machine/internal.h"

int wdfdma_selftest(int argc, char **argv);

#define REG_SRC 0x08
#define REG_DST 0x10
#define REG_LEN 0x18
#define REG_DOORBELL 0x1C
#define REG_STATUS 0x20
#define REG_ACK 0x24
#define ST_DONE 2u
#define ST_ERROR 4u
#define BUF 65536u

typedef struct st_toy {
    wdfdma_machine *m;
    volatile uint8_t *regs;
    volatile uintptr_t lock;
    mach_work dpc;
    _Atomic uint32_t claimed, done, errors, target;
} st_toy;

static bool st_isr(void *ctx, uint32_t message)
{
    (void)message;
    st_toy *t = ctx;
    uint32_t st = (uint32_t)mach_mmio_read(t->regs + REG_STATUS, 4);
    if (!(st & (ST_DONE | ST_ERROR)))
        return false;
    mach_mmio_write(t->regs + REG_ACK, 4, st & (ST_DONE | ST_ERROR));
    if (st & ST_ERROR)
        atomic_fetch_add(&t->errors, 1);
    atomic_fetch_add(&t->claimed, 1);
    mach_dpc_queue(t->m, mach_cpu_current(), &t->dpc);
    return true;
}

static void st_dpc(mach_work *w)
{
    st_toy *t = (st_toy *)((char *)w - offsetof(st_toy, dpc));
    atomic_store(&t->done, atomic_load(&t->claimed));
    mach_signal(t->m);
}

static bool st_reached(void *ctx)
{
    st_toy *t = ctx;
    return atomic_load(&t->done) >= atomic_load(&t->target);
}

/* A register write is a DDI boundary: on sim the seed may let hardware run here. */
static void wr(st_toy *t, unsigned reg, unsigned width, uint64_t v)
{
    mach_preempt_point();
    mach_mmio_write(t->regs + reg, width, v);
}

static uint8_t pattern(uint32_t copy, size_t i)
{
    return (uint8_t)(copy * 131u + i * 7u + (i >> 8));
}

/* One engine's run; returns 0 on PASS. */
static int run_engine(wdfdma_engine engine, uint64_t seed, unsigned copies)
{
    const char *name = engine == WDFDMA_ENGINE_SIM ? "sim" : "threads";
    wdfdma_machine_config c;
    wdfdma_machine_config_init(&c);
    c.engine = engine;
    c.seed = seed;
    wdfdma_machine *m = NULL;
    if (wdfdma_machine_create(&c, &m)) {
        fprintf(stderr, "wdfdma: %s\n", wdfdma_last_error());
        return 1;
    }
    int failures = 0;
    wdfdma_dev *dev;
    if (wdfdma_machine_add_device(m, "toy", "toy0", "latency=2000", &dev)) {
        fprintf(stderr, "wdfdma: %s\n", wdfdma_last_error());
        wdfdma_machine_destroy(m);
        return 1;
    }
    st_toy t = { .m = m, .dpc.fn = st_dpc };
    const wdfdma_resource *mmio = wdfdma_dev_resource(dev, 0), *irq = wdfdma_dev_resource(dev, 1);
    t.regs = mach_mmio_map(m, mmio->start, mmio->length);
    mach_irq_conn *conn = NULL;
    void *src = NULL, *dst = NULL;
    uint64_t ps = 0, pd = 0;
    if (!t.regs || mach_irq_connect(m, irq->vector, (uint8_t)irq->level, st_isr, &t, &t.lock,
                                    &conn) ||
        mach_mem_alloc_contig(m, BUF, 0, 0, &src, &ps) ||
        mach_mem_alloc_contig(m, BUF, 1ull << 32, 0, &dst, &pd)) {
        fprintf(stderr, "wdfdma: %s: machine setup failed\n", name);
        failures++;
        goto out;
    }
    uint64_t bytes = 0;
    for (unsigned i = 0; i < copies && !failures; i++) {
        uint32_t len = 1 + (uint32_t)((i * 2654435761u) % BUF);
        uint32_t off = (uint32_t)((i * 40503u) % (BUF - len + 1));
        uint8_t *s = (uint8_t *)src + off, *d = (uint8_t *)dst + off;
        for (uint32_t k = 0; k < len; k++)
            s[k] = pattern(i, k);
        memset(dst, 0xEE, BUF);
        wr(&t, REG_SRC, 8, ps + off);
        wr(&t, REG_DST, 8, pd + off);
        wr(&t, REG_LEN, 4, len);
        wr(&t, REG_DOORBELL, 4, 1);
        atomic_store(&t.target, i + 1);
        if (!mach_wait(m, st_reached, &t, engine == WDFDMA_ENGINE_SIM ? -1 : 5000000000ll)) {
            fprintf(stderr, "wdfdma: %s: copy %u did not complete\n", name, i);
            failures++;
            break;
        }
        for (uint32_t k = 0; k < len; k++)
            if (d[k] != pattern(i, k)) {
                fprintf(stderr, "wdfdma: %s: copy %u byte %u wrong\n", name, i, k);
                failures++;
                break;
            }
        for (uint32_t k = 0; k < off && !failures; k++)
            if (((uint8_t *)dst)[k] != 0xEE) {
                fprintf(stderr, "wdfdma: %s: copy %u wrote before its range\n", name, i);
                failures++;
            }
        for (uint32_t k = off + len; k < BUF && !failures; k++)
            if (((uint8_t *)dst)[k] != 0xEE) {
                fprintf(stderr, "wdfdma: %s: copy %u wrote past its range\n", name, i);
                failures++;
            }
        bytes += len;
    }
    wdfdma_machine_run(m);
    if (atomic_load(&t.errors))
        failures++;
    wdfdma_machine_stats st;
    wdfdma_machine_get_stats(m, &st);
    printf("%-8s copies=%u events=%" PRIu64 " interrupts=%" PRIu64 " dpcs=%" PRIu64
           " time=%" PRIu64 "ns bytes=%" PRIu64 " hash=%016" PRIx64 " %s\n",
           name, copies, st.events, st.interrupts, st.dpcs, wdfdma_machine_now(m), bytes,
           wdfdma_machine_trace_hash(m), failures ? "FAIL" : "PASS");
out:
    if (conn)
        mach_irq_disconnect(conn);
    if (t.regs)
        mach_mmio_unmap(m, (void *)t.regs, mmio->length);
    if (src)
        mach_mem_free_contig(m, src, BUF);
    if (dst)
        mach_mem_free_contig(m, dst, BUF);
    wdfdma_machine_destroy(m);
    return failures ? 1 : 0;
}

static int parse_u64(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 0);
    if (errno || end == s || *end || s[0] == '-')
        return -1;
    *out = v;
    return 0;
}

int wdfdma_selftest(int argc, char **argv)
{
    uint64_t copies = 3000, seed = 1;
    for (int i = 0; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf("usage: wdfdma selftest [--copies N] [--seed S]\n\n"
                   "The machine's own self-test, no framework: a toy device, an ISR and a\n"
                   "DPC on the platform contract, N copies (1..1000000, default 3000) on the\n"
                   "sim engine and on the threads engine. Exit status 0 when both pass.\n");
            return 0;
        }
    for (int i = 0; i < argc; i += 2) {
        uint64_t *target = strcmp(argv[i], "--copies") == 0 ? &copies
                           : strcmp(argv[i], "--seed") == 0 ? &seed : NULL;
        if (!target || i + 1 >= argc || parse_u64(argv[i + 1], target) ||
            (target == &copies && (copies == 0 || copies > 1000000))) {
            fprintf(stderr, "wdfdma: bad selftest argument '%s' (use --copies 1..1000000, "
                    "--seed N)\n", argv[i]);
            return 2;
        }
    }
    int rc = run_engine(WDFDMA_ENGINE_SIM, seed, (unsigned)copies);
    rc |= run_engine(WDFDMA_ENGINE_THREADS, seed, (unsigned)copies);
    printf("selftest: %s\n", rc ? "FAIL" : "PASS");
    return rc;
}
