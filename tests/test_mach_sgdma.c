/*
 * The sgdma device model, driven directly through the machine's internal contract: MMIO
 * for registers, contiguous machine memory for descriptor rings and data buffers, an ISR
 * connected to its vector, and the engine run to advance time. No kernel or framework.
 *
 * Data checks follow Linux dmatest: every byte encodes its offset and a buffer tag, every
 * host buffer and every device-memory range has guard bytes around it, so misplaced,
 * missing and out-of-bounds writes are all caught.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "devices/sgdma/sgdma.h"
#include "machine/internal.h"

#define GUARD 64u            /* guard bytes before and after every host buffer */
#define GUARD_TAG 0xEEu
#define RING_BYTES 4096u
#define NO_LIMIT 0ull
#define LIMIT_4G (1ull << 32)

/* ---- data encoding ------------------------------------------------------------------- */

static uint8_t pat(unsigned tag, size_t off)
{
    return (uint8_t)(tag * 0x3Du + off + (off >> 8) * 0x11u + (off >> 16) * 0x65u);
}

static void fill(uint8_t *p, size_t len, unsigned tag, size_t base)
{
    for (size_t i = 0; i < len; i++)
        p[i] = pat(tag, base + i);
}

/* Index of the first byte of p[0..len) that is not pat(tag, base + i), or len. */
static size_t first_bad(const uint8_t *p, size_t len, unsigned tag, size_t base)
{
    for (size_t i = 0; i < len; i++)
        if (p[i] != pat(tag, base + i))
            return i;
    return len;
}

static size_t first_nonzero(const uint8_t *p, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (p[i] != 0)
            return i;
    return len;
}

/* ---- the rig: machine + one sgdma + ISR ------------------------------------------------ */

#define MAX_IRQ_RECORDS 16

typedef struct rig {
    wdfdma_machine *m;
    wdfdma_dev *dev;
    uint8_t *bar;
    size_t bar_len;
    mach_irq_conn *conn[SGDMA_CHANNELS];
    unsigned nconn;
    volatile uintptr_t lock;
    bool ack;                       /* the ISR acknowledges what it sees */
    bool mask_in_isr;               /* the ISR masks instead (acknowledged later) */
    _Atomic unsigned isr_calls;     /* ISR invocations */
    _Atomic unsigned claimed;       /* ... that found a status bit */
    _Atomic uint32_t seen;          /* INT_STATUS bits seen, accumulated */
    _Atomic unsigned msi_msgs[SGDMA_CHANNELS];
    uint64_t irq_time[MAX_IRQ_RECORDS];
    /* fault hook: fire `fault_kind` `fault_count` times, after `fault_skip` asks */
    const char *fault_kind;
    int fault_skip, fault_count;
    _Atomic unsigned fault_fired;
} rig;

static uint32_t rd(rig *r, uint32_t off)
{
    return (uint32_t)mach_mmio_read(r->bar + off, 4);
}

static void wr(rig *r, uint32_t off, uint32_t v)
{
    mach_mmio_write(r->bar + off, 4, v);
}

static uint32_t chrd(rig *r, unsigned ch, uint32_t reg)
{
    return rd(r, SGDMA_CH_BASE(ch) + reg);
}

static void chwr(rig *r, unsigned ch, uint32_t reg, uint32_t v)
{
    wr(r, SGDMA_CH_BASE(ch) + reg, v);
}

static bool rig_isr(void *ctx, uint32_t message)
{
    rig *r = ctx;
    unsigned n = atomic_fetch_add(&r->isr_calls, 1);
    if (message < SGDMA_CHANNELS)
        atomic_fetch_add(&r->msi_msgs[message], 1);
    uint32_t st = rd(r, SGDMA_REG_INT_STATUS);
    if (st == 0)
        return false;
    if (n < MAX_IRQ_RECORDS)
        r->irq_time[n] = mach_now(r->m);
    atomic_fetch_or(&r->seen, st);
    atomic_fetch_add(&r->claimed, 1);
    if (r->mask_in_isr)
        wr(r, SGDMA_REG_INT_MASK, SGDMA_INT_ALL);
    else if (r->ack)
        wr(r, SGDMA_REG_INT_STATUS, st);
    mach_signal(r->m);
    return true;
}

static bool rig_fault(void *ctx, wdfdma_dev *dev, const char *kind)
{
    rig *r = ctx;
    (void)dev;
    if (r->fault_kind == NULL || strcmp(kind, r->fault_kind) != 0)
        return false;
    if (r->fault_skip > 0) {
        r->fault_skip--;
        return false;
    }
    if (r->fault_count <= 0)
        return false;
    r->fault_count--;
    atomic_fetch_add(&r->fault_fired, 1);
    return true;
}

static const wdfdma_resource *find_res(wdfdma_dev *dev, wdfdma_res_type type)
{
    for (unsigned i = 0; i < wdfdma_dev_resource_count(dev); i++) {
        const wdfdma_resource *res = wdfdma_dev_resource(dev, i);
        if (res->type == type)
            return res;
    }
    return NULL;
}

static void rig_open_engine(rig *r, wdfdma_engine engine, const char *options)
{
    memset(r, 0, sizeof *r);
    r->ack = true;
    wdfdma_machine_config cfg;
    wdfdma_machine_config_init(&cfg);
    cfg.engine = engine;
    cfg.seed = 7;
    assert_int_equal(wdfdma_machine_create(&cfg, &r->m), 0);
    mach_enter(r->m);
    int rc = wdfdma_machine_add_device(r->m, "sgdma", "sg0", options, &r->dev);
    if (rc != 0)
        fail_msg("add sgdma(%s): %s", options ? options : "", wdfdma_last_error());
    const wdfdma_resource *mmio = find_res(r->dev, WDFDMA_RES_MMIO);
    assert_non_null(mmio);
    assert_int_equal(mmio->length, SGDMA_BAR0_SIZE);
    r->bar_len = (size_t)mmio->length;
    r->bar = mach_mmio_map(r->m, mmio->start, r->bar_len);
    assert_non_null(r->bar);
    const wdfdma_resource *irq = find_res(r->dev, WDFDMA_RES_IRQ);
    assert_non_null(irq);
    bool msi = (irq->flags & WDFDMA_IRQ_MSI) != 0;
    r->nconn = msi ? irq->count : 1;
    assert_true(r->nconn >= 1 && r->nconn <= SGDMA_CHANNELS);
    for (unsigned i = 0; i < r->nconn; i++)
        assert_int_equal(mach_irq_connect(r->m, irq->vector + i, (uint8_t)irq->level, rig_isr, r,
                                          &r->lock, &r->conn[i]),
                         0);
    wdfdma_machine_set_fault_hook(r->m, rig_fault, r);
}

static void rig_open(rig *r, const char *options)
{
    rig_open_engine(r, WDFDMA_ENGINE_SIM, options);
}

/* Tear down and check that nothing leaked: no frames left, no bug check. */
static void rig_close(rig *r)
{
    assert_int_equal(wdfdma_machine_run(r->m), 0);
    for (unsigned i = 0; i < r->nconn; i++)
        mach_irq_disconnect(r->conn[i]);
    mach_mmio_unmap(r->m, r->bar, r->bar_len);
    wdfdma_machine_stats s;
    wdfdma_machine_get_stats(r->m, &s);
    assert_int_equal(s.frames_in_use, 0);
    assert_null(wdfdma_machine_last_bugcheck(r->m));
    wdfdma_machine_destroy(r->m);
}

static void run(rig *r)
{
    assert_int_equal(wdfdma_machine_run(r->m), 0);
}

static uint8_t *devmem(rig *r, size_t *len)
{
    uint8_t *p = sgdma_debug_memory(r->dev, len);
    assert_non_null(p);
    return p;
}

/* ---- host buffers with guards -------------------------------------------------------- */

typedef struct hbuf {
    uint8_t *raw;        /* allocation: GUARD | data | GUARD */
    uint8_t *data;
    size_t len;
    uint64_t pa;         /* logical address of data (identity translation) */
} hbuf;

static void hbuf_alloc(rig *r, hbuf *b, size_t len, uint64_t limit)
{
    void *va;
    uint64_t pa;
    assert_int_equal(mach_mem_alloc_contig(r->m, len + 2 * GUARD, limit, MACH_PAGE_SIZE, &va, &pa), 0);
    b->raw = va;
    b->data = b->raw + GUARD;
    b->len = len;
    b->pa = pa + GUARD;
    memset(b->raw, GUARD_TAG, len + 2 * GUARD);
}

static void hbuf_free(rig *r, hbuf *b)
{
    mach_mem_free_contig(r->m, b->raw, b->len + 2 * GUARD);
}

static void assert_guards(const hbuf *b)
{
    for (size_t i = 0; i < GUARD; i++) {
        if (b->raw[i] != GUARD_TAG || b->data[b->len + i] != GUARD_TAG)
            fail_msg("guard byte %zu around a %zu-byte buffer overwritten", i, b->len);
    }
}

/* ---- descriptor chains --------------------------------------------------------------- */

typedef struct seg {
    uint64_t host;
    uint32_t len;
    uint32_t dev_offset;
    uint32_t flags;      /* extra flags (INTERRUPT); LAST and direction are added */
} seg;

typedef struct ring {
    hbuf b;              /* the "common buffer" */
} ring;

static sgdma_desc64 *ring64(ring *rg)
{
    return (sgdma_desc64 *)(void *)rg->b.data;
}

static sgdma_desc32 *ring32(ring *rg)
{
    return (sgdma_desc32 *)(void *)rg->b.data;
}

static void ring_alloc(rig *r, ring *rg, uint64_t limit)
{
    hbuf_alloc(r, &rg->b, RING_BYTES, limit);
    memset(rg->b.data, 0, RING_BYTES);
}

static uint32_t dir_flag(unsigned ch)
{
    return ch == SGDMA_CH_FROM_DEVICE ? SGDMA_DESC_FROM_DEVICE : 0;
}

static void build64(ring *rg, unsigned ch, const seg *s, unsigned n)
{
    sgdma_desc64 *d = ring64(rg);
    for (unsigned i = 0; i < n; i++) {
        d[i].host_addr = s[i].host;
        d[i].length = s[i].len;
        d[i].dev_offset = s[i].dev_offset;
        d[i].flags = s[i].flags | dir_flag(ch) | (i + 1 == n ? SGDMA_DESC_LAST : 0);
        d[i].next = i + 1 == n ? 0 : rg->b.pa + (i + 1) * sizeof *d;
        d[i].status = 0;
    }
}

static void build32(ring *rg, unsigned ch, const seg *s, unsigned n)
{
    sgdma_desc32 *d = ring32(rg);
    for (unsigned i = 0; i < n; i++) {
        uint32_t next = i + 1 == n ? 0 : (uint32_t)(rg->b.pa + (i + 1) * sizeof *d);
        uint32_t flags = s[i].flags | dir_flag(ch) | (i + 1 == n ? SGDMA_DESC_LAST : 0);
        d[i].host_addr = (uint32_t)s[i].host;
        d[i].next_flags = next | flags;
        d[i].dev_offset = s[i].dev_offset;
        d[i].count_status = s[i].len;
    }
}

static void start(rig *r, unsigned ch, uint64_t desc, uint32_t ctrl)
{
    chwr(r, ch, SGDMA_CH_DESC_LO, (uint32_t)desc);
    chwr(r, ch, SGDMA_CH_DESC_HI, (uint32_t)(desc >> 32));
    chwr(r, ch, SGDMA_CH_CTRL, ctrl | SGDMA_CTRL_START);
}

#define CTRL64 (SGDMA_CTRL_DESC64 | SGDMA_CTRL_IE)

/* Run a 64-bit chain on a channel to completion; expect it to end in DONE. */
static void run_chain64(rig *r, ring *rg, unsigned ch, const seg *s, unsigned n)
{
    build64(rg, ch, s, n);
    start(r, ch, rg->b.pa, CTRL64);
    run(r);
    assert_int_equal(chrd(r, ch, SGDMA_CH_STATUS), SGDMA_STATUS_DONE);
    assert_int_equal(chrd(r, ch, SGDMA_CH_COUNT), n);
}

/* ---- tests: options and registers ---------------------------------------------------- */

static void test_bad_options(void **state)
{
    (void)state;
    static const struct { const char *opts, *needle; } bad[] = {
        {"bogus=1", "bogus"},        {"mem=0", "mem"},          {"mem=2G", "mem"},
        {"mem=1x", "mem"},           {"addr_bits=48", "addr_bits"}, {"addr_bits=16", "addr_bits"},
        {"bw=0", "bw"},              {"timing=2", "timing"},    {"msi=3", "msi"},
        {"irq_ns=5000000000", "irq_ns"}, {"desc_ns=abc", "desc_ns"}, {"mem=1M,speed=9", "speed"},
    };
    wdfdma_machine_config cfg;
    wdfdma_machine_config_init(&cfg);
    wdfdma_machine *m;
    assert_int_equal(wdfdma_machine_create(&cfg, &m), 0);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        wdfdma_dev *dev = NULL;
        int rc = wdfdma_machine_add_device(m, "sgdma", "bad", bad[i].opts, &dev);
        if (rc >= 0)
            fail_msg("options \"%s\" accepted", bad[i].opts);
        const char *msg = wdfdma_last_error();
        if (msg == NULL || strstr(msg, bad[i].needle) == NULL)
            fail_msg("options \"%s\": message \"%s\" does not name \"%s\"", bad[i].opts,
                     msg ? msg : "(null)", bad[i].needle);
    }
    wdfdma_machine_destroy(m);
}

static void test_good_options(void **state)
{
    (void)state;
    rig r;
    rig_open(&r, "mem=64K,addr_bits=32,bw=1G,desc_ns=0,irq_ns=0,timing=0,msi=1");
    assert_int_equal(rd(&r, SGDMA_REG_DEVMEM_SIZE), 65536);
    assert_int_equal(rd(&r, SGDMA_REG_CAPS), 32u | (2u << SGDMA_CAPS_CHANNELS_SHIFT) | SGDMA_CAPS_MSI);
    size_t len;
    devmem(&r, &len);
    assert_int_equal(len, 65536);
    assert_int_equal(r.nconn, 2);
    assert_null(sgdma_debug_memory(NULL, &len));
    rig_close(&r);
}

static void assert_reset_values(rig *r)
{
    assert_int_equal(rd(r, SGDMA_REG_ID), 0x965610B5u);
    assert_int_equal(rd(r, SGDMA_REG_VERSION), SGDMA_VERSION_VALUE);
    assert_int_equal(rd(r, SGDMA_REG_CAPS), 64u | (2u << SGDMA_CAPS_CHANNELS_SHIFT));
    assert_int_equal(rd(r, SGDMA_REG_DEVMEM_SIZE), 1024 * 1024);
    assert_int_equal(rd(r, SGDMA_REG_INT_STATUS), 0);
    assert_int_equal(rd(r, SGDMA_REG_INT_MASK), 0);
    assert_int_equal(rd(r, SGDMA_REG_RESET), 0);
    for (unsigned ch = 0; ch < SGDMA_CHANNELS; ch++)
        for (uint32_t reg = 0; reg <= SGDMA_CH_BYTES; reg += 4)
            if (chrd(r, ch, reg) != 0)
                fail_msg("channel %u register 0x%x = 0x%x after reset", ch, reg, chrd(r, ch, reg));
}

static void test_register_reset_values(void **state)
{
    (void)state;
    rig r;
    rig_open(&r, NULL);
    assert_reset_values(&r);
    /* narrow and wide reads */
    assert_int_equal(mach_mmio_read(r.bar + SGDMA_REG_ID, 2), 0x10B5);
    assert_int_equal(mach_mmio_read(r.bar + SGDMA_REG_ID + 2, 2), 0x9656);
    assert_int_equal(mach_mmio_read(r.bar + SGDMA_REG_ID + 3, 1), 0x96);
    /* writable registers hold their values; an 8-byte write covers DESC_LO/HI */
    mach_mmio_write(r.bar + SGDMA_CH_BASE(1) + SGDMA_CH_DESC_LO, 8, 0x0000001234567890ull);
    assert_int_equal(chrd(&r, 1, SGDMA_CH_DESC_LO), 0x34567890u);
    assert_int_equal(chrd(&r, 1, SGDMA_CH_DESC_HI), 0x12u);
    assert_int_equal(mach_mmio_read(r.bar + SGDMA_CH_BASE(1) + SGDMA_CH_DESC_LO, 8), 0x1234567890ull);
    chwr(&r, 0, SGDMA_CH_CTRL, SGDMA_CTRL_DESC64 | SGDMA_CTRL_IE);
    assert_int_equal(chrd(&r, 0, SGDMA_CH_CTRL), SGDMA_CTRL_DESC64 | SGDMA_CTRL_IE);
    wr(&r, SGDMA_REG_INT_MASK, 0xFFFFFFFFu);
    assert_int_equal(rd(&r, SGDMA_REG_INT_MASK), SGDMA_INT_ALL);
    /* read-only registers ignore writes; a narrow write changes nothing */
    wr(&r, SGDMA_REG_ID, 0);
    wr(&r, SGDMA_REG_DEVMEM_SIZE, 5);
    chwr(&r, 0, SGDMA_CH_COUNT, 7);
    mach_mmio_write(r.bar + SGDMA_REG_INT_MASK, 1, 0);
    assert_int_equal(rd(&r, SGDMA_REG_ID), SGDMA_ID_VALUE);
    assert_int_equal(rd(&r, SGDMA_REG_DEVMEM_SIZE), 1024 * 1024);
    assert_int_equal(chrd(&r, 0, SGDMA_CH_COUNT), 0);
    assert_int_equal(rd(&r, SGDMA_REG_INT_MASK), SGDMA_INT_ALL);
    /* only the key resets */
    wr(&r, SGDMA_REG_RESET, 2);
    assert_int_equal(rd(&r, SGDMA_REG_INT_MASK), SGDMA_INT_ALL);
    wr(&r, SGDMA_REG_RESET, SGDMA_RESET_KEY);
    assert_reset_values(&r);
    /* a bus reset (the model's reset op) as well */
    chwr(&r, 0, SGDMA_CH_CTRL, SGDMA_CTRL_IE);
    mach_device_reset(r.dev);
    assert_reset_values(&r);
    /* a channel reset touches only its channel */
    chwr(&r, 0, SGDMA_CH_DESC_LO, 0x1000);
    chwr(&r, 1, SGDMA_CH_DESC_LO, 0x2000);
    chwr(&r, 1, SGDMA_CH_CTRL, SGDMA_CTRL_RESET);
    assert_int_equal(chrd(&r, 0, SGDMA_CH_DESC_LO), 0x1000);
    assert_int_equal(chrd(&r, 1, SGDMA_CH_DESC_LO), 0);
    rig_close(&r);
}

/* ---- tests: data movement ------------------------------------------------------------ */

/* Host -> device (channel 0) of `len` bytes at device offset `off`, then device -> host
 * (channel 1) into a second buffer; both byte-exact, guards intact. */
static void single_copy(wdfdma_engine engine)
{
    const size_t len = 5003, off = 4097;
    rig r;
    rig_open_engine(&r, engine, NULL);
    ring rg;
    hbuf src, dst;
    ring_alloc(&r, &rg, NO_LIMIT);
    hbuf_alloc(&r, &src, len, NO_LIMIT);
    hbuf_alloc(&r, &dst, len, NO_LIMIT);
    fill(src.data, len, 1, 0);
    fill(dst.data, len, 2, 0);

    seg w = {src.pa, (uint32_t)len, (uint32_t)off, 0};
    run_chain64(&r, &rg, SGDMA_CH_TO_DEVICE, &w, 1);
    assert_int_equal(ring64(&rg)[0].status, SGDMA_DS_DONE);
    assert_int_equal(chrd(&r, 0, SGDMA_CH_RESIDUE), 0);
    assert_int_equal(chrd(&r, 0, SGDMA_CH_BYTES), len);
    size_t mlen;
    uint8_t *mem = devmem(&r, &mlen);
    assert_int_equal(first_nonzero(mem, off), off);
    assert_int_equal(first_bad(mem + off, len, 1, 0), len);
    assert_int_equal(first_nonzero(mem + off + len, mlen - off - len), mlen - off - len);

    seg rd1 = {dst.pa, (uint32_t)len, (uint32_t)off, 0};
    run_chain64(&r, &rg, SGDMA_CH_FROM_DEVICE, &rd1, 1);
    assert_int_equal(ring64(&rg)[0].status, SGDMA_DS_DONE);
    assert_int_equal(first_bad(dst.data, len, 1, 0), len);
    assert_guards(&src);
    assert_guards(&dst);
    assert_int_equal(first_bad(src.data, len, 1, 0), len);   /* source untouched */

    assert_true(atomic_load(&r.claimed) >= 1);
    assert_int_equal(atomic_load(&r.seen), SGDMA_INT_DONE(0) | SGDMA_INT_DONE(1));
    assert_int_equal(rd(&r, SGDMA_REG_INT_STATUS), 0);
    hbuf_free(&r, &src);
    hbuf_free(&r, &dst);
    hbuf_free(&r, &rg.b);
    rig_close(&r);
}

static void test_single_copy_sim(void **state)
{
    (void)state;
    single_copy(WDFDMA_ENGINE_SIM);
}

static void test_single_copy_threads(void **state)
{
    (void)state;
    single_copy(WDFDMA_ENGINE_THREADS);
}

/* Scatter one source buffer to five device ranges out of order, then gather them back in
 * a different segmentation; sizes from 1 byte to 64 KiB. */
static void chain(bool desc64)
{
    static const struct { uint32_t src_off, len, dev_off; } parts[] = {
        {0, 1, 300000}, {1, 3, 17}, {4, 4096, 65536}, {4100, 777, 1000}, {4877, 65536, 131072},
    };
    enum { N = sizeof parts / sizeof parts[0] };
    const size_t total = 4877 + 65536;
    uint64_t limit = desc64 ? NO_LIMIT : LIMIT_4G;
    rig r;
    rig_open(&r, NULL);
    ring rg;
    hbuf src, dst;
    ring_alloc(&r, &rg, limit);
    hbuf_alloc(&r, &src, total, limit);
    hbuf_alloc(&r, &dst, total, limit);
    fill(src.data, total, 3, 0);
    fill(dst.data, total, 4, 0);

    seg w[N];
    for (unsigned i = 0; i < N; i++)
        w[i] = (seg){src.pa + parts[i].src_off, parts[i].len, parts[i].dev_off,
                     i == 1 ? SGDMA_DESC_INTERRUPT : 0};
    uint32_t ctrl = SGDMA_CTRL_IE | (desc64 ? SGDMA_CTRL_DESC64 : 0);
    if (desc64)
        build64(&rg, 0, w, N);
    else
        build32(&rg, 0, w, N);
    start(&r, 0, rg.b.pa, ctrl);
    run(&r);
    assert_int_equal(chrd(&r, 0, SGDMA_CH_STATUS), SGDMA_STATUS_DONE);
    assert_int_equal(chrd(&r, 0, SGDMA_CH_COUNT), N);
    assert_int_equal(chrd(&r, 0, SGDMA_CH_BYTES), total);
    for (unsigned i = 0; i < N; i++) {
        uint32_t st = desc64 ? ring64(&rg)[i].status : ring32(&rg)[i].count_status;
        assert_int_equal(st, SGDMA_DS_DONE);
    }
    size_t mlen;
    uint8_t *mem = devmem(&r, &mlen);
    for (unsigned i = 0; i < N; i++) {
        const uint8_t *p = mem + parts[i].dev_off;
        assert_int_equal(first_bad(p, parts[i].len, 3, parts[i].src_off), parts[i].len);
        /* the byte after each range is still zero (ranges are not adjacent) */
        assert_int_equal(p[parts[i].len], 0);
        if (parts[i].dev_off > 0)
            assert_int_equal(p[-1], 0);
    }

    /* gather back: the 64 KiB part in two halves, the small ones as they are */
    seg g[N + 1];
    unsigned n = 0;
    for (unsigned i = 0; i < N; i++) {
        uint32_t len = parts[i].len, half = len > 4096 ? len / 2 : len;
        g[n++] = (seg){dst.pa + parts[i].src_off, half, parts[i].dev_off, 0};
        if (half != len)
            g[n++] = (seg){dst.pa + parts[i].src_off + half, len - half, parts[i].dev_off + half, 0};
    }
    if (desc64)
        build64(&rg, 1, g, n);
    else
        build32(&rg, 1, g, n);
    start(&r, 1, rg.b.pa, ctrl);
    run(&r);
    assert_int_equal(chrd(&r, 1, SGDMA_CH_STATUS), SGDMA_STATUS_DONE);
    assert_int_equal(chrd(&r, 1, SGDMA_CH_COUNT), n);
    assert_int_equal(first_bad(dst.data, total, 3, 0), total);
    assert_guards(&src);
    assert_guards(&dst);
    assert_guards(&rg.b);
    assert_int_equal(atomic_load(&r.seen), SGDMA_INT_DONE(0) | SGDMA_INT_DONE(1));
    hbuf_free(&r, &src);
    hbuf_free(&r, &dst);
    hbuf_free(&r, &rg.b);
    rig_close(&r);
}

static void test_chain_desc64(void **state)
{
    (void)state;
    chain(true);
}

static void test_chain_desc32(void **state)
{
    (void)state;
    chain(false);
}

/* A 32-bit descriptor whose count word still holds a written-back status is refused:
 * the ring was not re-armed. */
static void test_desc32_unarmed(void **state)
{
    (void)state;
    rig r;
    rig_open(&r, NULL);
    ring rg;
    hbuf src;
    ring_alloc(&r, &rg, LIMIT_4G);
    hbuf_alloc(&r, &src, 256, LIMIT_4G);
    seg s = {src.pa, 256, 0, 0};
    build32(&rg, 0, &s, 1);
    start(&r, 0, rg.b.pa, SGDMA_CTRL_IE);
    run(&r);
    assert_int_equal(ring32(&rg)[0].count_status, SGDMA_DS_DONE);
    start(&r, 0, rg.b.pa, SGDMA_CTRL_IE);        /* not re-armed */
    run(&r);
    assert_int_equal(chrd(&r, 0, SGDMA_CH_STATUS), SGDMA_STATUS_ERR_DESC);
    assert_int_equal(ring32(&rg)[0].count_status,
                     SGDMA_DS_DONE | SGDMA_DS_ERROR | (SGDMA_DSERR_DESC << SGDMA_DS_CODE_SHIFT));
    assert_true(atomic_load(&r.seen) & SGDMA_INT_ERROR(0));
    /* a nonzero length under stale status bits is refused too, and moves nothing */
    fill(src.data, 256, 15, 0);
    ring32(&rg)[0].count_status = SGDMA_DS_ERROR | 256;
    start(&r, 0, rg.b.pa, SGDMA_CTRL_IE);
    run(&r);
    assert_int_equal(chrd(&r, 0, SGDMA_CH_STATUS), SGDMA_STATUS_ERR_DESC);
    size_t mlen;
    const uint8_t *mem = devmem(&r, &mlen);
    for (size_t i = 0; i < 256; i++)
        assert_int_equal(mem[i], GUARD_TAG);      /* still the first copy's bytes */
    hbuf_free(&r, &src);
    hbuf_free(&r, &rg.b);
    rig_close(&r);
}

/* ---- tests: errors -------------------------------------------------------------------- */

/* A page of host memory at or above 4 GiB, locked to a frame there. */
typedef struct high_page {
    void *va;
    mach_pfn pfn;
    uint64_t pa;
} high_page;

static void high_page_get(rig *r, high_page *h)
{
    h->va = aligned_alloc(MACH_PAGE_SIZE, MACH_PAGE_SIZE);
    assert_non_null(h->va);
    memset(h->va, 0x5A, MACH_PAGE_SIZE);
    assert_int_equal(mach_mem_lock(r->m, h->va, MACH_PAGE_SIZE, WDFDMA_MEM_ABOVE4G, &h->pfn), 0);
    h->pa = (uint64_t)h->pfn << MACH_PAGE_SHIFT;
    assert_true(h->pa >= LIMIT_4G);
}

static void high_page_put(rig *r, high_page *h)
{
    mach_mem_unlock(r->m, &h->pfn, 1);
    free(h->va);
}

/* The same descriptor pointing above 4 GiB works on a 64-bit device and is a DMA fault
 * (error bit + interrupt, nothing moved) on a 32-bit one. */
static void addr_bits_case(const char *options, bool expect_fault)
{
    rig r;
    rig_open(&r, options);
    ring rg;
    high_page h;
    ring_alloc(&r, &rg, LIMIT_4G);
    high_page_get(&r, &h);
    seg s = {h.pa + 16, 100, 8, 0};
    build64(&rg, 0, &s, 1);
    start(&r, 0, rg.b.pa, CTRL64);
    run(&r);
    size_t mlen;
    uint8_t *mem = devmem(&r, &mlen);
    if (expect_fault) {
        assert_int_equal(chrd(&r, 0, SGDMA_CH_STATUS), SGDMA_STATUS_ERR_DMA);
        assert_int_equal(ring64(&rg)[0].status, SGDMA_DS_DONE | SGDMA_DS_ERROR |
                                                    (SGDMA_DSERR_DMA << SGDMA_DS_CODE_SHIFT) | 100);
        assert_int_equal(chrd(&r, 0, SGDMA_CH_RESIDUE), 100);
        assert_int_equal(atomic_load(&r.seen), SGDMA_INT_ERROR(0));
        assert_int_equal(first_nonzero(mem, 200), 200);
        /* a descriptor chain that itself lives above 4 GiB cannot even be fetched */
        start(&r, 0, h.pa, CTRL64);
        run(&r);
        assert_int_equal(chrd(&r, 0, SGDMA_CH_STATUS), SGDMA_STATUS_ERR_DMA);
        assert_int_equal(chrd(&r, 0, SGDMA_CH_CUR_HI), h.pa >> 32);
    } else {
        assert_int_equal(chrd(&r, 0, SGDMA_CH_STATUS), SGDMA_STATUS_DONE);
        assert_int_equal(ring64(&rg)[0].status, SGDMA_DS_DONE);
        for (size_t i = 0; i < 100; i++)
            assert_int_equal(mem[8 + i], 0x5A);
        assert_int_equal(mem[7], 0);
        assert_int_equal(mem[108], 0);
    }
    assert_int_equal(rd(&r, SGDMA_REG_INT_STATUS), 0);
    high_page_put(&r, &h);
    hbuf_free(&r, &rg.b);
    rig_close(&r);
}

static void test_addr_bits_32_faults_high_address(void **state)
{
    (void)state;
    addr_bits_case("addr_bits=32", true);
    addr_bits_case("addr_bits=64", false);
}

/* dev_offset + length beyond device memory: range error at that descriptor, earlier
 * descriptors complete, later ones are never touched. */
static void test_device_memory_range_error(void **state)
{
    (void)state;
    rig r;
    rig_open(&r, "mem=64K");
    ring rg;
    hbuf src;
    ring_alloc(&r, &rg, NO_LIMIT);
    hbuf_alloc(&r, &src, 8192, NO_LIMIT);
    fill(src.data, 8192, 5, 0);
    seg s[3] = {{src.pa, 4096, 0, 0}, {src.pa + 4096, 4096, 65536 - 4095, 0}, {src.pa, 16, 0, 0}};
    build64(&rg, 0, s, 3);
    start(&r, 0, rg.b.pa, CTRL64);
    run(&r);
    assert_int_equal(chrd(&r, 0, SGDMA_CH_STATUS), SGDMA_STATUS_ERR_RANGE);
    assert_int_equal(chrd(&r, 0, SGDMA_CH_COUNT), 1);
    assert_int_equal(chrd(&r, 0, SGDMA_CH_RESIDUE), 4096);
    assert_int_equal(chrd(&r, 0, SGDMA_CH_CUR_LO), (uint32_t)(rg.b.pa + 32));
    assert_int_equal(ring64(&rg)[0].status, SGDMA_DS_DONE);
    assert_int_equal(ring64(&rg)[1].status, SGDMA_DS_DONE | SGDMA_DS_ERROR |
                                                (SGDMA_DSERR_RANGE << SGDMA_DS_CODE_SHIFT) | 4096);
    assert_int_equal(ring64(&rg)[2].status, 0);
    size_t mlen;
    uint8_t *mem = devmem(&r, &mlen);
    assert_int_equal(first_bad(mem, 4096, 5, 0), 4096);
    assert_int_equal(first_nonzero(mem + 4096, mlen - 4096), mlen - 4096);
    assert_int_equal(atomic_load(&r.seen), SGDMA_INT_ERROR(0));
    /* the error bits are write-1-to-clear */
    chwr(&r, 0, SGDMA_CH_STATUS, SGDMA_STATUS_ERR_DMA);
    assert_int_equal(chrd(&r, 0, SGDMA_CH_STATUS), SGDMA_STATUS_ERR_RANGE);
    chwr(&r, 0, SGDMA_CH_STATUS, SGDMA_STATUS_ERR_RANGE);
    assert_int_equal(chrd(&r, 0, SGDMA_CH_STATUS), 0);
    hbuf_free(&r, &src);
    hbuf_free(&r, &rg.b);
    rig_close(&r);
}

/* Malformed descriptors: each is a descriptor error, with no data moved. */
static void test_descriptor_errors(void **state)
{
    (void)state;
    rig r;
    rig_open(&r, NULL);
    ring rg;
    hbuf src;
    ring_alloc(&r, &rg, NO_LIMIT);
    hbuf_alloc(&r, &src, 64, NO_LIMIT);
    fill(src.data, 64, 6, 0);
    const struct { uint32_t len, flags; } cases[] = {
        {0, 0},                                  /* zero length */
        {SGDMA_DESC_MAX_LEN + 1, 0},             /* too long */
        {64, SGDMA_DESC_FROM_DEVICE},            /* wrong direction for channel 0 */
        {64, 0x80},                              /* reserved flag */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        seg s = {src.pa, cases[i].len, 0, cases[i].flags};
        build64(&rg, 0, &s, 1);
        start(&r, 0, rg.b.pa, CTRL64);
        run(&r);
        if (chrd(&r, 0, SGDMA_CH_STATUS) != SGDMA_STATUS_ERR_DESC)
            fail_msg("case %zu: status 0x%x", i, chrd(&r, 0, SGDMA_CH_STATUS));
        assert_true(ring64(&rg)[0].status & SGDMA_DS_ERROR);
        assert_int_equal((ring64(&rg)[0].status & SGDMA_DS_CODE_MASK) >> SGDMA_DS_CODE_SHIFT,
                         SGDMA_DSERR_DESC);
    }
    /* a misaligned chain pointer: refused before any fetch */
    start(&r, 0, rg.b.pa + 8, CTRL64);
    run(&r);
    assert_int_equal(chrd(&r, 0, SGDMA_CH_STATUS), SGDMA_STATUS_ERR_DESC);
    /* an unmapped descriptor address: a DMA fault (the bus's report is expected) */
    wdfdma_machine_set_bugcheck_quiet(r.m, true);
    start(&r, 0, 0x7FFFFFF000ull, CTRL64);
    run(&r);
    assert_int_equal(chrd(&r, 0, SGDMA_CH_STATUS), SGDMA_STATUS_ERR_DMA);
    size_t mlen;
    uint8_t *mem = devmem(&r, &mlen);
    assert_int_equal(first_nonzero(mem, mlen), mlen);
    hbuf_free(&r, &src);
    hbuf_free(&r, &rg.b);
    rig_close(&r);
}

/* ---- tests: faults -------------------------------------------------------------------- */

/* Put `len` bytes of pattern `tag` into device memory at 0 via channel 0. */
static void load_device(rig *r, ring *rg, size_t len, unsigned tag)
{
    hbuf src;
    hbuf_alloc(r, &src, len, NO_LIMIT);
    fill(src.data, len, tag, 0);
    seg s = {src.pa, (uint32_t)len, 0, 0};
    run_chain64(r, rg, 0, &s, 1);
    hbuf_free(r, &src);
}

static void test_short_read_residue(void **state)
{
    (void)state;
    rig r;
    rig_open(&r, NULL);
    ring rg;
    hbuf dst;
    ring_alloc(&r, &rg, NO_LIMIT);
    load_device(&r, &rg, 3000, 7);
    hbuf_alloc(&r, &dst, 3000, NO_LIMIT);
    fill(dst.data, 3000, 8, 0);
    r.fault_kind = "short";
    r.fault_skip = 1;               /* the second descriptor comes up short */
    r.fault_count = 1;
    seg s[3] = {{dst.pa, 1000, 0, 0}, {dst.pa + 1000, 1001, 1000, 0}, {dst.pa + 2001, 999, 2001, 0}};
    build64(&rg, 1, s, 3);
    atomic_store(&r.seen, 0);
    start(&r, 1, rg.b.pa, CTRL64);
    run(&r);
    assert_int_equal(atomic_load(&r.fault_fired), 1);
    /* a short transfer ends the chain normally, with the residue reported */
    assert_int_equal(chrd(&r, 1, SGDMA_CH_STATUS), SGDMA_STATUS_DONE);
    assert_int_equal(chrd(&r, 1, SGDMA_CH_COUNT), 2);
    assert_int_equal(chrd(&r, 1, SGDMA_CH_RESIDUE), 501);
    assert_int_equal(chrd(&r, 1, SGDMA_CH_BYTES), 1500);
    assert_int_equal(ring64(&rg)[0].status, SGDMA_DS_DONE);
    assert_int_equal(ring64(&rg)[1].status, SGDMA_DS_DONE | 501);
    assert_int_equal(ring64(&rg)[2].status, 0);
    assert_int_equal(first_bad(dst.data, 1500, 7, 0), 1500);
    assert_int_equal(first_bad(dst.data + 1500, 1500, 8, 1500), 1500);
    assert_guards(&dst);
    assert_int_equal(atomic_load(&r.seen), SGDMA_INT_DONE(1));
    hbuf_free(&r, &dst);
    hbuf_free(&r, &rg.b);
    rig_close(&r);
}

static void test_dma_error_fault(void **state)
{
    (void)state;
    rig r;
    rig_open(&r, NULL);
    ring rg;
    hbuf src;
    ring_alloc(&r, &rg, NO_LIMIT);
    hbuf_alloc(&r, &src, 512, NO_LIMIT);
    fill(src.data, 512, 9, 0);
    r.fault_kind = "dma-error";
    r.fault_count = 1;
    seg s[2] = {{src.pa, 256, 0, 0}, {src.pa + 256, 256, 256, 0}};
    build64(&rg, 0, s, 2);
    start(&r, 0, rg.b.pa, CTRL64);
    run(&r);
    assert_int_equal(chrd(&r, 0, SGDMA_CH_STATUS), SGDMA_STATUS_ERR_DMA);
    assert_int_equal(chrd(&r, 0, SGDMA_CH_COUNT), 0);
    assert_int_equal(ring64(&rg)[0].status, SGDMA_DS_DONE | SGDMA_DS_ERROR |
                                                (SGDMA_DSERR_DMA << SGDMA_DS_CODE_SHIFT) | 256);
    assert_int_equal(ring64(&rg)[1].status, 0);
    size_t mlen;
    assert_int_equal(first_nonzero(devmem(&r, &mlen), 512), 512);
    assert_int_equal(atomic_load(&r.seen), SGDMA_INT_ERROR(0));
    /* without the fault the same chain goes through */
    build64(&rg, 0, s, 2);
    start(&r, 0, rg.b.pa, CTRL64);
    run(&r);
    assert_int_equal(chrd(&r, 0, SGDMA_CH_STATUS), SGDMA_STATUS_DONE);
    hbuf_free(&r, &src);
    hbuf_free(&r, &rg.b);
    rig_close(&r);
}

/* One 64-byte copy on channel 0 with the given fault armed; returns the doorbell time. */
static uint64_t small_copy(rig *r, ring *rg, hbuf *src, const char *fault)
{
    r->fault_kind = fault;
    r->fault_count = 1;
    seg s = {src->pa, 64, 0, 0};
    build64(rg, 0, &s, 1);
    uint64_t t0 = mach_now(r->m);
    start(r, 0, rg->b.pa, CTRL64);
    run(r);
    assert_int_equal(atomic_load(&r->fault_fired), 1);
    assert_int_equal(chrd(r, 0, SGDMA_CH_STATUS), SGDMA_STATUS_DONE);
    return t0;
}

static void irq_fault_case(const char *fault)
{
    rig r;
    rig_open(&r, NULL);
    ring rg;
    hbuf src;
    ring_alloc(&r, &rg, NO_LIMIT);
    hbuf_alloc(&r, &src, 64, NO_LIMIT);
    uint64_t t0 = small_copy(&r, &rg, &src, fault);
    uint64_t expect = t0 + 200 + 16 + 1000;   /* 64 B at 4 GB/s = 16 ns */
    if (strcmp(fault, "lost-irq") == 0) {
        /* the completion is there, the interrupt is not */
        assert_int_equal(atomic_load(&r.isr_calls), 0);
        assert_int_equal(rd(&r, SGDMA_REG_INT_STATUS), 0);
    } else if (strcmp(fault, "late-irq") == 0) {
        assert_int_equal(atomic_load(&r.claimed), 1);
        assert_int_equal(r.irq_time[0], expect + 100000);
    } else {
        /* dup / spurious: one real interrupt plus one with nothing behind it */
        assert_int_equal(atomic_load(&r.claimed), 1);
        assert_int_equal(atomic_load(&r.isr_calls), 2);
    }
    hbuf_free(&r, &src);
    hbuf_free(&r, &rg.b);
    rig_close(&r);
}

static void test_fault_lost_irq(void **state)
{
    (void)state;
    irq_fault_case("lost-irq");
}

static void test_fault_late_irq(void **state)
{
    (void)state;
    irq_fault_case("late-irq");
}

static void test_fault_dup_irq(void **state)
{
    (void)state;
    irq_fault_case("dup-irq");
}

static void test_fault_spurious_irq(void **state)
{
    (void)state;
    irq_fault_case("spurious-irq");
}

/* ---- tests: interrupts and timing ------------------------------------------------------ */

/* The ISR masks instead of acknowledging (deferring to a "DPC"); the line must stay quiet
 * until the status is acknowledged, and acknowledging deasserts it for good. */
static void test_irq_assert_ack_deassert(void **state)
{
    (void)state;
    rig r;
    rig_open(&r, NULL);
    ring rg;
    hbuf src;
    ring_alloc(&r, &rg, NO_LIMIT);
    hbuf_alloc(&r, &src, 128, NO_LIMIT);

    /* IE clear: status but no interrupt */
    seg s = {src.pa, 128, 0, 0};
    build64(&rg, 0, &s, 1);
    start(&r, 0, rg.b.pa, SGDMA_CTRL_DESC64);
    run(&r);
    assert_int_equal(chrd(&r, 0, SGDMA_CH_STATUS), SGDMA_STATUS_DONE);
    assert_int_equal(rd(&r, SGDMA_REG_INT_STATUS), 0);
    assert_int_equal(atomic_load(&r.isr_calls), 0);

    /* masked: status bit set, no interrupt until unmasked */
    wr(&r, SGDMA_REG_INT_MASK, SGDMA_INT_ALL);
    build64(&rg, 0, &s, 1);
    start(&r, 0, rg.b.pa, CTRL64);
    run(&r);
    assert_int_equal(rd(&r, SGDMA_REG_INT_STATUS), SGDMA_INT_DONE(0));
    assert_int_equal(atomic_load(&r.isr_calls), 0);

    /* unmask: the ISR runs once and masks; the bit stays set */
    r.mask_in_isr = true;
    wr(&r, SGDMA_REG_INT_MASK, 0);
    run(&r);
    assert_int_equal(atomic_load(&r.claimed), 1);
    assert_int_equal(rd(&r, SGDMA_REG_INT_STATUS), SGDMA_INT_DONE(0));

    /* acknowledge, then unmask: no further interrupt (the line was deasserted) */
    wr(&r, SGDMA_REG_INT_STATUS, SGDMA_INT_DONE(0));
    assert_int_equal(rd(&r, SGDMA_REG_INT_STATUS), 0);
    wr(&r, SGDMA_REG_INT_MASK, 0);
    run(&r);
    assert_int_equal(atomic_load(&r.isr_calls), 1);

    /* W1C clears only the bits written */
    r.mask_in_isr = false;
    r.ack = false;
    wr(&r, SGDMA_REG_INT_MASK, SGDMA_INT_ALL);
    build64(&rg, 0, &s, 1);
    start(&r, 0, rg.b.pa, CTRL64);
    run(&r);
    wr(&r, SGDMA_REG_INT_STATUS, SGDMA_INT_ERROR(0) | SGDMA_INT_DONE(1));
    assert_int_equal(rd(&r, SGDMA_REG_INT_STATUS), SGDMA_INT_DONE(0));
    wr(&r, SGDMA_REG_INT_STATUS, SGDMA_INT_ALL);
    assert_int_equal(rd(&r, SGDMA_REG_INT_STATUS), 0);
    wr(&r, SGDMA_REG_INT_MASK, 0);
    run(&r);
    assert_int_equal(atomic_load(&r.isr_calls), 1);
    hbuf_free(&r, &src);
    hbuf_free(&r, &rg.b);
    rig_close(&r);
}

/* Doorbell -> interrupt = sum(desc_ns + ceil(len / bw)) + irq_ns; data and status appear
 * exactly when the descriptor's time is up, never before. */
static void test_irq_timing(void **state)
{
    (void)state;
    rig r;
    rig_open(&r, NULL);                       /* 4 GB/s, 200 ns, 1 us */
    ring rg;
    hbuf src;
    ring_alloc(&r, &rg, NO_LIMIT);
    hbuf_alloc(&r, &src, 65536, NO_LIMIT);
    fill(src.data, 65536, 10, 0);
    seg s = {src.pa, 65536, 0, 0};
    build64(&rg, 0, &s, 1);
    uint64_t t0 = mach_now(r.m);
    start(&r, 0, rg.b.pa, CTRL64);
    uint64_t done_at = t0 + 200 + 16384;
    assert_int_equal(wdfdma_machine_run_until(r.m, done_at - 1), 0);
    size_t mlen;
    uint8_t *mem = devmem(&r, &mlen);
    assert_int_equal(ring64(&rg)[0].status, 0);
    assert_int_equal(chrd(&r, 0, SGDMA_CH_STATUS), SGDMA_STATUS_BUSY);
    assert_int_equal(first_nonzero(mem, 65536), 65536);
    assert_int_equal(wdfdma_machine_run_until(r.m, done_at), 0);
    assert_int_equal(ring64(&rg)[0].status, SGDMA_DS_DONE);
    assert_int_equal(first_bad(mem, 65536, 10, 0), 65536);
    assert_int_equal(rd(&r, SGDMA_REG_INT_STATUS), 0);   /* latency not yet over */
    run(&r);
    assert_int_equal(atomic_load(&r.claimed), 1);
    assert_int_equal(r.irq_time[0], done_at + 1000);
    hbuf_free(&r, &src);
    hbuf_free(&r, &rg.b);
    rig_close(&r);
}

static void test_irq_timing_chain(void **state)
{
    (void)state;
    rig r;
    rig_open(&r, "bw=1000000000,desc_ns=500,irq_ns=2000");
    ring rg;
    hbuf src;
    ring_alloc(&r, &rg, NO_LIMIT);
    hbuf_alloc(&r, &src, 8192, NO_LIMIT);
    seg s[3] = {{src.pa, 4096, 0, 0}, {src.pa + 4096, 1000, 8192, 0}, {src.pa + 5096, 3, 9999, 0}};
    build64(&rg, 0, s, 3);
    uint64_t t0 = mach_now(r.m);
    start(&r, 0, rg.b.pa, CTRL64);
    run(&r);
    assert_int_equal(atomic_load(&r.claimed), 1);
    assert_int_equal(r.irq_time[0], t0 + (500 + 4096) + (500 + 1000) + (500 + 3) + 2000);
    /* bw with a remainder rounds each descriptor's time up */
    hbuf_free(&r, &src);
    hbuf_free(&r, &rg.b);
    rig_close(&r);

    rig_open(&r, "bw=3000000000,desc_ns=0,irq_ns=0");
    ring_alloc(&r, &rg, NO_LIMIT);
    hbuf_alloc(&r, &src, 100, NO_LIMIT);
    seg one = {src.pa, 100, 0, 0};                 /* 100 B / 3 GB/s = 33.3 ns -> 34 */
    build64(&rg, 0, &one, 1);
    t0 = mach_now(r.m);
    start(&r, 0, rg.b.pa, CTRL64);
    run(&r);
    assert_int_equal(r.irq_time[0], t0 + 34);
    hbuf_free(&r, &src);
    hbuf_free(&r, &rg.b);
    rig_close(&r);
}

/* timing=0: zero delay, but the doorbell write returns before anything moves. */
static void test_timing_off_is_async(void **state)
{
    (void)state;
    rig r;
    rig_open(&r, "timing=0");
    ring rg;
    hbuf src;
    ring_alloc(&r, &rg, NO_LIMIT);
    hbuf_alloc(&r, &src, 4096, NO_LIMIT);
    fill(src.data, 4096, 11, 0);
    seg s[2] = {{src.pa, 2048, 0, SGDMA_DESC_INTERRUPT}, {src.pa + 2048, 2048, 2048, 0}};
    build64(&rg, 0, s, 2);
    uint64_t t0 = mach_now(r.m);
    start(&r, 0, rg.b.pa, CTRL64);
    size_t mlen;
    uint8_t *mem = devmem(&r, &mlen);
    assert_int_equal(chrd(&r, 0, SGDMA_CH_STATUS), SGDMA_STATUS_BUSY);
    assert_int_equal(ring64(&rg)[0].status, 0);
    assert_int_equal(first_nonzero(mem, 4096), 4096);
    assert_int_equal(atomic_load(&r.isr_calls), 0);
    /* a second doorbell while busy is ignored */
    start(&r, 0, rg.b.pa, CTRL64);
    run(&r);
    assert_int_equal(mach_now(r.m), t0);
    assert_int_equal(chrd(&r, 0, SGDMA_CH_STATUS), SGDMA_STATUS_DONE);
    assert_int_equal(chrd(&r, 0, SGDMA_CH_COUNT), 2);
    assert_int_equal(first_bad(mem, 4096, 11, 0), 4096);
    assert_true(atomic_load(&r.claimed) >= 1);
    hbuf_free(&r, &src);
    hbuf_free(&r, &rg.b);
    rig_close(&r);
}

static void test_msi_per_channel(void **state)
{
    (void)state;
    rig r;
    rig_open(&r, "msi=1");
    assert_int_equal(r.nconn, 2);
    ring rg;
    ring_alloc(&r, &rg, NO_LIMIT);
    load_device(&r, &rg, 256, 12);
    assert_int_equal(atomic_load(&r.msi_msgs[0]), 1);
    assert_int_equal(atomic_load(&r.msi_msgs[1]), 0);
    hbuf dst;
    hbuf_alloc(&r, &dst, 256, NO_LIMIT);
    seg s = {dst.pa, 256, 0, 0};
    run_chain64(&r, &rg, 1, &s, 1);
    assert_int_equal(atomic_load(&r.msi_msgs[1]), 1);
    assert_int_equal(first_bad(dst.data, 256, 12, 0), 256);
    /* masked: the message waits for the unmask */
    wr(&r, SGDMA_REG_INT_MASK, SGDMA_INT_ALL);
    build64(&rg, 1, &s, 1);
    start(&r, 1, rg.b.pa, CTRL64);
    run(&r);
    assert_int_equal(atomic_load(&r.msi_msgs[1]), 1);
    wr(&r, SGDMA_REG_INT_MASK, 0);
    run(&r);
    assert_int_equal(atomic_load(&r.msi_msgs[1]), 2);
    assert_guards(&dst);
    hbuf_free(&r, &dst);
    hbuf_free(&r, &rg.b);
    rig_close(&r);
}

/* ---- tests: abort and reset ------------------------------------------------------------ */

static void test_abort_and_reset_mid_chain(void **state)
{
    (void)state;
    rig r;
    rig_open(&r, "bw=1000000000");               /* 1 byte per ns */
    ring rg;
    hbuf src;
    ring_alloc(&r, &rg, NO_LIMIT);
    hbuf_alloc(&r, &src, 8192, NO_LIMIT);
    fill(src.data, 8192, 13, 0);
    seg s[2] = {{src.pa, 4096, 0, 0}, {src.pa + 4096, 4096, 4096, 0}};
    build64(&rg, 0, s, 2);
    uint64_t t0 = mach_now(r.m);
    start(&r, 0, rg.b.pa, CTRL64);
    /* first descriptor done at +4296, second would be at +8592: abort in between */
    assert_int_equal(wdfdma_machine_run_until(r.m, t0 + 6000), 0);
    assert_int_equal(chrd(&r, 0, SGDMA_CH_COUNT), 1);
    chwr(&r, 0, SGDMA_CH_CTRL, CTRL64 | SGDMA_CTRL_ABORT);
    run(&r);
    assert_int_equal(chrd(&r, 0, SGDMA_CH_STATUS), SGDMA_STATUS_ABORTED);
    assert_int_equal(ring64(&rg)[1].status, 0);
    size_t mlen;
    uint8_t *mem = devmem(&r, &mlen);
    assert_int_equal(first_bad(mem, 4096, 13, 0), 4096);
    assert_int_equal(first_nonzero(mem + 4096, 4096), 4096);
    assert_int_equal(atomic_load(&r.isr_calls), 0);

    /* restart: works, and START clears ABORTED */
    build64(&rg, 0, s, 2);
    start(&r, 0, rg.b.pa, CTRL64);
    run(&r);
    assert_int_equal(chrd(&r, 0, SGDMA_CH_STATUS), SGDMA_STATUS_DONE);
    assert_int_equal(first_bad(mem, 8192, 13, 0), 8192);

    /* a device reset mid-chain stops the channel and clears everything */
    assert_int_equal(atomic_load(&r.claimed), 1);
    memset(mem, 0, 8192);
    build64(&rg, 0, s, 2);
    t0 = mach_now(r.m);
    start(&r, 0, rg.b.pa, CTRL64);
    assert_int_equal(wdfdma_machine_run_until(r.m, t0 + 100), 0);
    wr(&r, SGDMA_REG_RESET, SGDMA_RESET_KEY);
    run(&r);
    assert_reset_values(&r);
    assert_int_equal(first_nonzero(mem, 8192), 8192);
    assert_int_equal(ring64(&rg)[0].status, 0);
    assert_int_equal(atomic_load(&r.isr_calls), 1);
    hbuf_free(&r, &src);
    hbuf_free(&r, &rg.b);
    rig_close(&r);
}

/* Same seed, same program => the same trace, and the model's events are in it. */
static uint64_t traced_copy(void)
{
    rig r;
    rig_open(&r, NULL);
    ring rg;
    ring_alloc(&r, &rg, NO_LIMIT);
    load_device(&r, &rg, 1000, 14);
    uint64_t h = wdfdma_machine_trace_hash(r.m);
    wdfdma_trace_record rec[512];
    size_t n = wdfdma_trace_recent(r.m, rec, 512);
    bool doorbell = false, fetch = false, desc_done = false, chain_done = false;
    for (size_t i = 0; i < n; i++) {
        if (rec[i].type != WDFDMA_TR_DEVICE || rec[i].name == NULL)
            continue;
        doorbell |= strcmp(rec[i].name, "ch0 doorbell") == 0;
        fetch |= strcmp(rec[i].name, "ch0 desc-fetch") == 0;
        chain_done |= strcmp(rec[i].name, "ch0 chain-done") == 0;
        if (strcmp(rec[i].name, "ch0 desc-done") == 0) {
            desc_done = true;
            assert_int_equal(rec[i].a, 1000);
            assert_int_equal(rec[i].b, 0);
        }
    }
    assert_true(doorbell && fetch && desc_done && chain_done);
    hbuf_free(&r, &rg.b);
    rig_close(&r);
    return h;
}

static void test_trace_deterministic(void **state)
{
    (void)state;
    assert_int_equal(traced_copy(), traced_copy());
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_options),
        cmocka_unit_test(test_good_options),
        cmocka_unit_test(test_register_reset_values),
        cmocka_unit_test(test_single_copy_sim),
        cmocka_unit_test(test_single_copy_threads),
        cmocka_unit_test(test_chain_desc64),
        cmocka_unit_test(test_chain_desc32),
        cmocka_unit_test(test_desc32_unarmed),
        cmocka_unit_test(test_addr_bits_32_faults_high_address),
        cmocka_unit_test(test_device_memory_range_error),
        cmocka_unit_test(test_descriptor_errors),
        cmocka_unit_test(test_short_read_residue),
        cmocka_unit_test(test_dma_error_fault),
        cmocka_unit_test(test_fault_lost_irq),
        cmocka_unit_test(test_fault_late_irq),
        cmocka_unit_test(test_fault_dup_irq),
        cmocka_unit_test(test_fault_spurious_irq),
        cmocka_unit_test(test_irq_assert_ack_deassert),
        cmocka_unit_test(test_irq_timing),
        cmocka_unit_test(test_irq_timing_chain),
        cmocka_unit_test(test_timing_off_is_async),
        cmocka_unit_test(test_msi_per_channel),
        cmocka_unit_test(test_abort_and_reset_mid_chain),
        cmocka_unit_test(test_trace_deterministic),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
