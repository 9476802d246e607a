/*
 * sdmac (system DMA controller) with uart and ring peripherals, driven directly through the
 * controller's wdfdma_sysdma_ops, as the WDM system-DMA adapter drives it.
 *
 * Order: bad arguments, then success (block, demand, looped, configure, sharing), then
 * faults and misuse. Data is position-encoded and surrounded by canaries so misplaced,
 * missing and out-of-bounds writes fail, not only wrong values. Every test destroys its
 * machine after freeing its memory and checks that no frame is left in use.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "wdfdma/devmodel.h"
#include "wdfdma/machine.h"
#include "machine/internal.h"
#include "devices/sdmac/sdmac.h"
#include "devices/uart/uart.h"
#include "devices/ring/ring.h"

#define CANARY 0xEEu
#define GUARD 64u            /* canary bytes after every buffer */
#define MAX_UARTS 16

/* ---- fixture ------------------------------------------------------------------------ */

typedef struct buf {
    uint8_t *va;
    uint64_t pa;
    size_t bytes;            /* payload + GUARD */
} buf;

typedef struct rig {
    wdfdma_machine *m;
    wdfdma_dev *dma;
    const wdfdma_sysdma_ops *ops;
    wdfdma_dev *uart[MAX_UARTS];
    unsigned nuart;
    uint64_t findings_expected;   /* verifier/bus findings the test provokes on purpose */
} rig;

typedef struct done_rec {
    wdfdma_machine *m;
    _Atomic int calls;       /* final notifications (status 0/1/2, wrap false) */
    _Atomic int wraps;       /* wrap notifications */
    int status;
    uint32_t residue;
    uint64_t t;              /* machine time of the final notification */
    uint64_t wrap_t[64];
} done_rec;

static void on_done(void *ctx, int status, uint32_t residue, bool wrap)
{
    done_rec *d = ctx;
    if (wrap) {
        int w = atomic_fetch_add(&d->wraps, 1);
        assert_int_equal(status, 0);
        if (w < 64)
            d->wrap_t[w] = wdfdma_machine_now(d->m);
        return;
    }
    d->status = status;
    d->residue = residue;
    d->t = wdfdma_machine_now(d->m);
    atomic_fetch_add(&d->calls, 1);
}

static void rig_open(rig *r, wdfdma_engine engine, const char *dma_opts)
{
    wdfdma_machine_config cfg;
    memset(r, 0, sizeof *r);
    wdfdma_machine_config_init(&cfg);
    cfg.engine = engine;
    cfg.seed = 7;
    if (wdfdma_machine_create(&cfg, &r->m) < 0)
        fail_msg("machine: %s", wdfdma_last_error());
    if (wdfdma_machine_add_device(r->m, "sdmac", "dma0", dma_opts, &r->dma) < 0)
        fail_msg("sdmac: %s", wdfdma_last_error());
    r->ops = mach_device_model(r->dma)->sysdma;
    assert_non_null(r->ops);
}

static wdfdma_dev *rig_add(rig *r, const char *model, const char *opts)
{
    char name[32];
    wdfdma_dev *d;
    snprintf(name, sizeof name, "%s%u", model, r->nuart);
    if (wdfdma_machine_add_device(r->m, model, name, opts, &d) < 0)
        fail_msg("%s: %s", model, wdfdma_last_error());
    if (strcmp(model, "uart") == 0)
        r->uart[r->nuart] = d;
    r->nuart++;
    return d;
}

static void rig_close(rig *r)
{
    wdfdma_machine_stats st;
    wdfdma_machine_get_stats(r->m, &st);
    assert_int_equal(st.frames_in_use, 0);
    assert_int_equal(mach_findings(r->m), r->findings_expected);
    wdfdma_machine_destroy(r->m);
}

static buf buf_new(rig *r, size_t len)
{
    buf b = {.bytes = len + GUARD};
    void *va;
    assert_int_equal(mach_mem_alloc_contig(r->m, b.bytes, 0, MACH_PAGE_SIZE, &va, &b.pa), 0);
    b.va = va;
    memset(b.va, CANARY, b.bytes);
    return b;
}

static void buf_free(rig *r, buf *b)
{
    mach_mem_free_contig(r->m, b->va, b->bytes);
}

static uint8_t enc(uint64_t i, unsigned salt)
{
    return (uint8_t)(i * 167u + (i >> 8) * 13u + salt * 71u + 1u);
}

static void fill(buf *b, size_t len, unsigned salt)
{
    for (size_t i = 0; i < len; i++)
        b->va[i] = enc(i, salt);
}

/* Payload [0, len) matches the pattern and the guard after it is intact. */
static void check_exact(const buf *b, size_t len, unsigned salt)
{
    for (size_t i = 0; i < len; i++)
        if (b->va[i] != enc(i, salt))
            fail_msg("byte %zu: got %02x want %02x", i, b->va[i], enc(i, salt));
    for (size_t i = len; i < b->bytes; i++)
        if (b->va[i] != CANARY)
            fail_msg("guard byte %zu overwritten (%02x)", i, b->va[i]);
}

static uint64_t mmio_base(wdfdma_dev *d)
{
    for (unsigned i = 0; i < wdfdma_dev_resource_count(d); i++) {
        const wdfdma_resource *res = wdfdma_dev_resource(d, i);
        if (res->type == WDFDMA_RES_MMIO)
            return res->start;
    }
    fail_msg("no MMIO resource");
    return 0;
}

static uint32_t reg(wdfdma_dev *d, uint64_t off)
{
    return (uint32_t)wdfdma_dev_peer_read(d, 0, off, 4);
}

static void set_reg(wdfdma_dev *d, uint64_t off, uint32_t v)
{
    wdfdma_dev_peer_write(d, 0, off, 4, v);
}

static wdfdma_sysdma_xfer xfer(const buf *b, uint32_t len, uint64_t dev_addr, bool to_device,
                               uint32_t width, done_rec *d)
{
    wdfdma_sysdma_xfer x = {
        .logical = b->pa, .length = len, .device_address = dev_addr, .to_device = to_device,
        .width_bytes = width, .done = on_done, .ctx = d,
    };
    return x;
}

/* Run the sim engine until pred() or `limit_ns` of machine time; false on timeout. */
static bool run_while(rig *r, bool (*pred)(void *), void *ctx, uint64_t limit_ns)
{
    uint64_t end = wdfdma_machine_now(r->m) + limit_ns;
    while (!pred(ctx)) {
        if (wdfdma_machine_now(r->m) > end || !wdfdma_machine_step(r->m))
            return pred(ctx);
    }
    return true;
}

static bool is_done(void *ctx)
{
    return atomic_load(&((done_rec *)ctx)->calls) > 0;
}

typedef struct level_wait {
    wdfdma_dev *uart;
    uint32_t level;
} level_wait;

static bool rx_level_reached(void *ctx)
{
    level_wait *w = ctx;
    return reg(w->uart, UART_REG_RX_LEVEL) >= w->level;
}

static uint64_t byte_ns(uint32_t baud)
{
    return (10ull * (UART_CLOCK / baud) * 1000000000ull + UART_CLOCK / 2) / UART_CLOCK;
}

/* ---- bad arguments ------------------------------------------------------------------ */

static void test_bad_starts(void **state)
{
    (void)state;
    rig r;
    rig_open(&r, WDFDMA_ENGINE_SIM, NULL);
    wdfdma_dev *u = rig_add(&r, "uart", "fifo=64");
    buf b = buf_new(&r, 256);
    done_rec d = {.m = r.m};
    uint64_t data = mmio_base(u) + UART_REG_DATA;
    wdfdma_sysdma_xfer x;

    assert_int_equal(reg(r.dma, SDMAC_REG_CHANNELS), 8);       /* channels=8 by default */
    assert_int_equal(r.ops->channels, SDMAC_MAX_CHANNELS);      /* the model's maximum */
    x = xfer(&b, 16, data, true, 1, &d);
    assert_int_equal(r.ops->start(r.dma, 8, &x), -EINVAL);      /* channel out of range */
    assert_int_equal(r.ops->start(r.dma, SDMAC_MAX_CHANNELS, &x), -EINVAL);
    assert_int_equal(r.ops->start(r.dma, 0, NULL), -EINVAL);
    x = xfer(&b, 16, data, true, 3, &d);
    assert_int_equal(r.ops->start(r.dma, 0, &x), -EINVAL);      /* width not 1/2/4/8 */
    x = xfer(&b, 16, data, true, 4, &d);
    x.logical += 2;
    assert_int_equal(r.ops->start(r.dma, 0, &x), -EINVAL);      /* address not width-aligned */
    x = xfer(&b, 18, data, true, 4, &d);
    assert_int_equal(r.ops->start(r.dma, 0, &x), -EINVAL);      /* length not a multiple */
    x = xfer(&b, 12, data, true, 8, &d);
    assert_int_equal(r.ops->start(r.dma, 0, &x), -EINVAL);
    x = xfer(&b, 0, data, true, 1, &d);
    assert_int_equal(r.ops->start(r.dma, 0, &x), -EINVAL);      /* empty */
    x = xfer(&b, 16, data, true, 1, &d);
    x.done = NULL;
    assert_int_equal(r.ops->start(r.dma, 0, &x), -EINVAL);      /* nobody to tell */
    x = xfer(&b, 16, 0x10, true, 1, &d);
    assert_int_equal(r.ops->start(r.dma, 0, &x), -ENXIO);       /* device address decodes nothing */
    x = xfer(&b, 16, data, true, 1, &d);
    x.demand_mode = true;
    x.request_line = 63;
    assert_int_equal(r.ops->start(r.dma, 0, &x), -EINVAL);      /* nobody owns that line */

    /* Busy: a second start on a running channel fails and leaves the first intact. */
    fill(&b, 16, 1);
    x = xfer(&b, 16, data, true, 1, &d);
    assert_int_equal(r.ops->start(r.dma, 0, &x), 0);
    assert_int_equal(r.ops->start(r.dma, 0, &x), -EBUSY);
    assert_int_equal(reg(r.dma, SDMAC_REG_BUSY), 1u);
    assert_int_equal(r.ops->residue(r.dma, 0), 16);
    assert_true(run_while(&r, is_done, &d, 1000000));
    assert_int_equal(d.calls, 1);                  /* failed starts never called done */
    assert_int_equal(d.status, 0);
    assert_int_equal(d.residue, 0);
    assert_int_equal(reg(r.dma, SDMAC_REG_BUSY), 0u);
    assert_int_equal(r.ops->residue(r.dma, 0), 0);
    /* Out-of-range channels are harmless for the other ops. */
    assert_int_equal(r.ops->residue(r.dma, 99), 0);
    assert_int_equal(r.ops->cancel(r.dma, 99), 0);
    assert_int_equal(r.ops->cancel(r.dma, 0), 0);  /* idle: nothing to cancel */
    wdfdma_machine_run(r.m);
    assert_int_equal(d.calls, 1);

    buf_free(&r, &b);
    rig_close(&r);
}

static void test_bad_options(void **state)
{
    (void)state;
    wdfdma_machine_config cfg;
    wdfdma_machine *m;
    wdfdma_dev *d;
    wdfdma_machine_config_init(&cfg);
    assert_int_equal(wdfdma_machine_create(&cfg, &m), 0);
    assert_true(wdfdma_machine_add_device(m, "sdmac", "a", "channels=0", &d) < 0);
    assert_non_null(strstr(wdfdma_last_error(), "channels"));
    assert_true(wdfdma_machine_add_device(m, "sdmac", "b", "channels=33", &d) < 0);
    assert_true(wdfdma_machine_add_device(m, "sdmac", "c", "burst=17", &d) < 0);
    assert_true(wdfdma_machine_add_device(m, "sdmac", "e", "colour=red", &d) < 0);
    assert_int_equal(wdfdma_machine_add_device(m, "sdmac", "ok", "channels=4,bw=50M", &d), 0);
    assert_int_equal(reg(d, SDMAC_REG_ID), SDMAC_ID_VALUE);
    assert_int_equal(reg(d, SDMAC_REG_CHANNELS), 4);
    assert_true(wdfdma_machine_add_device(m, "ring", "r", "dir=sideways", &d) < 0);
    assert_non_null(strstr(wdfdma_last_error(), "sideways"));
    assert_true(wdfdma_machine_add_device(m, "ring", "r", "frame=8,fifo=4", &d) < 0);
    wdfdma_machine_destroy(m);
}

/* ---- block mode: memory -> uart TX -> loopback -> RX -> memory ----------------------- */

/* One round: `n` (<= FIFO depth) bytes out in a block transfer, back in another once the
 * RX FIFO holds them all. Returns the virtual time the round took on the line. */
static uint64_t block_round(rig *r, wdfdma_dev *u, buf *src, buf *dst, uint32_t n,
                            uint32_t width, unsigned salt)
{
    uint64_t data = mmio_base(u) + UART_REG_DATA;
    done_rec tx = {.m = r->m}, rx = {.m = r->m};
    level_wait w = {u, n};
    wdfdma_sysdma_xfer x;

    fill(src, n, salt);
    memset(dst->va, CANARY, dst->bytes);
    uint64_t t0 = wdfdma_machine_now(r->m);
    x = xfer(src, n, data, true, width, &tx);
    assert_int_equal(r->ops->start(r->dma, 0, &x), 0);
    assert_true(run_while(r, rx_level_reached, &w, 10ull * 1000000000ull));
    uint64_t t_line = wdfdma_machine_now(r->m) - t0;
    assert_int_equal(tx.calls, 1);
    assert_int_equal(tx.status, 0);
    assert_int_equal(tx.residue, 0);
    assert_int_equal(reg(u, UART_REG_RX_LEVEL), n);

    x = xfer(dst, n, data, false, width, &rx);
    assert_int_equal(r->ops->start(r->dma, 1, &x), 0);
    assert_true(run_while(r, is_done, &rx, 1000000000ull));
    assert_int_equal(rx.status, 0);
    assert_int_equal(rx.residue, 0);
    check_exact(dst, n, salt);
    assert_int_equal(reg(u, UART_REG_RX_LEVEL), 0);
    assert_int_equal(reg(u, UART_REG_STATUS) & UART_ST_STICKY & ~UART_ST_RX_TIMEOUT, 0);
    return t_line;
}

static void test_block_loopback(void **state)
{
    static const uint32_t bauds[] = {921600, 115200, 9600};
    static const uint32_t depths[] = {1, 16, 64, 256};
    (void)state;

    for (unsigned bi = 0; bi < 3; bi++) {
        for (unsigned di = 0; di < 4; di++) {
            rig r;
            char opts[64];
            rig_open(&r, WDFDMA_ENGINE_SIM, NULL);
            snprintf(opts, sizeof opts, "fifo=%u,baud=%u", depths[di], bauds[bi]);
            wdfdma_dev *u = rig_add(&r, "uart", opts);
            buf src = buf_new(&r, 256), dst = buf_new(&r, 256);
            for (unsigned round = 0; round < 3; round++) {
                uint32_t n = depths[di];
                uint32_t width = n % 4 == 0 ? 4 : 1;
                uint64_t t = block_round(&r, u, &src, &dst, n, width, bi * 16 + di * 4 + round);
                /* n bytes on the line, back to back: n byte times, plus the DMA's beats. */
                uint64_t want = n * byte_ns(bauds[bi]);
                if (t < want || t > want + want / 100 + 10000)
                    fail_msg("baud %u fifo %u: %llu ns on the line, want ~%llu", bauds[bi],
                             n, (unsigned long long)t, (unsigned long long)want);
            }
            buf_free(&r, &src);
            buf_free(&r, &dst);
            rig_close(&r);
        }
    }
}

/* ---- demand mode: paced by the request lines ---------------------------------------- */

static void demand_loopback(wdfdma_engine engine, uint32_t baud, uint32_t n, uint32_t width)
{
    rig r;
    char opts[96];
    rig_open(&r, engine, NULL);
    snprintf(opts, sizeof opts, "fifo=16,baud=%u,tx_thresh=%u,rx_thresh=%u", baud, width, width);
    wdfdma_dev *u = rig_add(&r, "uart", opts);
    uint64_t data = mmio_base(u) + UART_REG_DATA;
    buf src = buf_new(&r, n), dst = buf_new(&r, n);
    done_rec tx = {.m = r.m}, rx = {.m = r.m};
    wdfdma_sysdma_xfer x;

    fill(&src, n, 3);
    x = xfer(&dst, n, data, false, width, &rx);
    x.demand_mode = true;
    x.request_line = uart_request_line(u, UART_DMA_RX);
    assert_int_equal(r.ops->start(r.dma, 1, &x), 0);
    x = xfer(&src, n, data, true, width, &tx);
    x.demand_mode = true;
    x.request_line = uart_request_line(u, UART_DMA_TX);
    assert_int_equal(r.ops->start(r.dma, 0, &x), 0);
    /* Nothing moves until the peripheral asks: the driver enables requests last. */
    uint64_t t0 = wdfdma_machine_now(r.m);
    wdfdma_machine_run_until(r.m, t0 + 100000);
    assert_int_equal(r.ops->residue(r.dma, 0), n);
    assert_int_equal(reg(u, UART_REG_TX_LEVEL), 0);
    t0 = wdfdma_machine_now(r.m);
    set_reg(u, UART_REG_CONTROL, reg(u, UART_REG_CONTROL) | UART_CTL_TX_DMA | UART_CTL_RX_DMA);

    uint64_t want = (uint64_t)n * byte_ns(baud);
    assert_true(run_while(&r, is_done, &rx, want * 2));
    uint64_t took = rx.t - t0;
    assert_int_equal(tx.calls, 1);
    assert_int_equal(tx.status, 0);
    assert_int_equal(rx.status, 0);
    assert_int_equal(rx.residue, 0);
    check_exact(&dst, n, 3);
    /* ~N x 10 / baud: the line, not the controller, sets the pace. */
    if (took < want || took > want + want / 100)
        fail_msg("%u bytes at %u baud took %llu ns, want ~%llu", n, baud,
                 (unsigned long long)took, (unsigned long long)want);
    /* TX finishes when its last element enters the FIFO: about a FIFO's worth earlier. */
    assert_true(tx.t < rx.t);
    assert_true(rx.t - tx.t >= (16u - width) * byte_ns(baud));
    assert_int_equal(reg(u, UART_REG_STATUS) & (UART_ST_RX_OVERRUN | UART_ST_TX_OVERFLOW |
                                                UART_ST_RX_UNDERRUN), 0);
    buf_free(&r, &src);
    buf_free(&r, &dst);
    rig_close(&r);
}

static void test_demand_pacing(void **state)
{
    (void)state;
    demand_loopback(WDFDMA_ENGINE_SIM, 115200, 1000, 1);
    demand_loopback(WDFDMA_ENGINE_SIM, 921600, 4096, 4);
    demand_loopback(WDFDMA_ENGINE_SIM, 9600, 200, 2);
}

/* ---- looped (auto-initialize) mode with the ring peripheral -------------------------- */

static void test_looped_playback(void **state)
{
    (void)state;
    const uint32_t len = 1024;
    rig r;
    rig_open(&r, WDFDMA_ENGINE_SIM, NULL);
    wdfdma_dev *ring = rig_add(&r, "ring", "dir=playback,rate=48000,frame=4,fifo=64,thresh=16");
    buf b = buf_new(&r, len);
    done_rec d = {.m = r.m};
    uint32_t burst = 4;

    fill(&b, len, 5);
    assert_int_equal(r.ops->configure(r.dma, 2, SDMAC_FN_BURST, &burst), 0);
    wdfdma_sysdma_xfer x = xfer(&b, len, mmio_base(ring) + RING_REG_DATA, true, 4, &d);
    x.demand_mode = true;
    x.looped = true;
    x.request_line = ring_request_line(ring);
    assert_int_equal(r.ops->start(r.dma, 2, &x), 0);
    set_reg(ring, RING_REG_CONTROL, RING_CTL_RUN | RING_CTL_DMA);
    uint64_t t0 = wdfdma_machine_now(r.m);
    wdfdma_machine_run_until(r.m, t0 + 100000000ull);   /* 100 ms = 4800 frames */

    uint64_t consumed = ring_stream_bytes(ring);
    uint64_t moved = consumed + reg(ring, RING_REG_LEVEL);
    assert_true(consumed >= 4799u * 4 && consumed <= 4800u * 4);
    assert_int_equal(ring_xruns(ring), 0);
    assert_int_equal(d.calls, 0);
    /* One notification per completed pass, none early. */
    assert_int_equal(d.wraps, (int)(moved / len));
    assert_int_equal(reg(r.dma, SDMAC_REG_CHAN_BASE + 2 * SDMAC_REG_CHAN_STRIDE + SDMAC_CH_WRAPS),
                     moved / len);
    for (int i = 1; i < d.wraps && i < 64; i++) {
        uint64_t gap = d.wrap_t[i] - d.wrap_t[i - 1];   /* a pass = 256 frames = 5.33 ms */
        assert_true(gap > 5300000 && gap < 5370000);
    }
    /* Every consumed byte is the ring buffer, wrapped, byte-exact. */
    static uint8_t rec[32768];
    long got = ring_recorded(ring, 0, rec, sizeof rec);
    assert_int_equal(got, (long)consumed);
    for (long i = 0; i < got; i++)
        if (rec[i] != enc((uint64_t)i % len, 5))
            fail_msg("stream byte %ld: %02x want %02x", i, rec[i], enc((uint64_t)i % len, 5));

    /* Cancel: status 2 after cancel() returns, with the residue of the current pass. */
    uint32_t res = r.ops->cancel(r.dma, 2);
    assert_int_equal(res, len - (uint32_t)(moved % len));
    assert_int_equal(r.ops->residue(r.dma, 2), res);
    assert_int_equal(d.calls, 0);
    set_reg(ring, RING_REG_CONTROL, 0);
    wdfdma_machine_run(r.m);
    assert_int_equal(d.calls, 1);
    assert_int_equal(d.status, 2);
    assert_int_equal(d.residue, res);
    assert_int_equal(d.wraps, (int)(moved / len));       /* nothing after the cancel */
    assert_int_equal(reg(r.dma, SDMAC_REG_BUSY), 0);
    assert_int_equal(r.ops->residue(r.dma, 2), 0);
    buf_free(&r, &b);
    rig_close(&r);
}

static void test_looped_capture(void **state)
{
    (void)state;
    const uint32_t len = 512;
    rig r;
    rig_open(&r, WDFDMA_ENGINE_SIM, NULL);
    wdfdma_dev *ring = rig_add(&r, "ring", "dir=capture,rate=8000,frame=2,fifo=32,thresh=2");
    buf b = buf_new(&r, len);
    done_rec d = {.m = r.m};

    wdfdma_sysdma_xfer x = xfer(&b, len, mmio_base(ring) + RING_REG_DATA, false, 2, &d);
    x.demand_mode = true;
    x.looped = true;
    x.request_line = ring_request_line(ring);
    assert_int_equal(r.ops->start(r.dma, 5, &x), 0);
    set_reg(ring, RING_REG_CONTROL, RING_CTL_RUN | RING_CTL_DMA);
    wdfdma_machine_run_until(r.m, wdfdma_machine_now(r.m) + 300000000ull);  /* 2400 frames */

    uint64_t produced = ring_stream_bytes(ring);
    uint64_t moved = produced - reg(ring, RING_REG_LEVEL);
    assert_true(produced >= 4796 && produced <= 4800);
    assert_int_equal(ring_xruns(ring), 0);
    assert_int_equal(d.wraps, (int)(moved / len));
    assert_int_equal(r.ops->residue(r.dma, 5), len - moved % len);
    /* The buffer holds the newest pass: byte k of the ring = stream byte at that slot. */
    for (uint64_t s = moved - len; s < moved; s++)
        assert_int_equal(b.va[s % len], ring_capture_byte(s));
    for (uint32_t i = len; i < b.bytes; i++)
        assert_int_equal(b.va[i], CANARY);
    uint32_t res = r.ops->cancel(r.dma, 5);
    set_reg(ring, RING_REG_CONTROL, 0);
    wdfdma_machine_run(r.m);
    assert_int_equal(d.status, 2);
    assert_int_equal(d.residue, res);
    buf_free(&r, &b);
    rig_close(&r);
}

/* ---- configure ---------------------------------------------------------------------- */

static uint64_t block_time(rig *r, wdfdma_dev *u, buf *b, uint32_t n, uint32_t channel)
{
    done_rec d = {.m = r->m};
    wdfdma_sysdma_xfer x = xfer(b, n, mmio_base(u) + UART_REG_DATA, true, 1, &d);
    uint64_t t0 = wdfdma_machine_now(r->m);
    assert_int_equal(r->ops->start(r->dma, channel, &x), 0);
    assert_true(run_while(r, is_done, &d, 1000000000ull));
    return d.t - t0;
}

static void test_configure(void **state)
{
    (void)state;
    rig r;
    rig_open(&r, WDFDMA_ENGINE_SIM, "bw=100000000,beat_ns=20");
    wdfdma_dev *u = rig_add(&r, "uart", "fifo=256,baud=921600,loopback=0");
    buf b = buf_new(&r, 256);
    uint32_t v;

    /* bad arguments */
    v = 4;
    assert_int_equal(r.ops->configure(r.dma, 8, SDMAC_FN_BURST, &v), -EINVAL);
    assert_int_equal(r.ops->configure(r.dma, 0, SDMAC_FN_BURST, NULL), -EINVAL);
    v = 0;
    assert_int_equal(r.ops->configure(r.dma, 0, SDMAC_FN_BURST, &v), -EINVAL);
    v = SDMAC_MAX_BURST + 1;
    assert_int_equal(r.ops->configure(r.dma, 0, SDMAC_FN_BURST, &v), -EINVAL);
    v = 4;
    assert_int_equal(r.ops->configure(r.dma, 0, SDMAC_FN_PRIORITY, &v), -EINVAL);
    assert_int_equal(r.ops->configure(r.dma, 0, 0, &v), -ENOTSUP);
    assert_int_equal(r.ops->configure(r.dma, 0, 4, &v), -ENOTSUP);
    assert_int_equal(r.ops->configure(r.dma, 0, 0x1000, NULL), -ENOTSUP);

    /* Burst length shapes the timing: 256 beats of 1 byte vs 16 beats of 16 bytes. */
    fill(&b, 256, 1);
    uint64_t t1 = block_time(&r, u, &b, 256, 0);
    assert_int_equal(t1, 256 * (20 + 10));
    v = 16;
    assert_int_equal(r.ops->configure(r.dma, 0, SDMAC_FN_BURST, &v), 0);
    assert_int_equal((reg(r.dma, SDMAC_REG_CHAN_BASE + SDMAC_CH_STATE) >> 16) & 0xFF, 16);
    wdfdma_machine_run(r.m);
    uint64_t t16 = block_time(&r, u, &b, 256, 0);
    assert_int_equal(t16, 16 * (20 + 160));
    v = 3;
    assert_int_equal(r.ops->configure(r.dma, 0, SDMAC_FN_PRIORITY, &v), 0);
    assert_int_equal((reg(r.dma, SDMAC_REG_CHAN_BASE + SDMAC_CH_STATE) >> 12) & 3, 3);

    /* Reset: refused while the channel runs, then restores the reset values. */
    wdfdma_machine_run(r.m);
    done_rec d = {.m = r.m};
    wdfdma_sysdma_xfer x = xfer(&b, 256, mmio_base(u) + UART_REG_DATA, true, 1, &d);
    assert_int_equal(r.ops->start(r.dma, 0, &x), 0);
    assert_int_equal(r.ops->configure(r.dma, 0, SDMAC_FN_RESET, NULL), -EBUSY);
    wdfdma_machine_run(r.m);
    assert_int_equal(r.ops->configure(r.dma, 0, SDMAC_FN_RESET, NULL), 0);
    assert_int_equal(reg(r.dma, SDMAC_REG_CHAN_BASE + SDMAC_CH_STATE), 1u << 16);
    assert_int_equal(block_time(&r, u, &b, 256, 0), t1);
    wdfdma_machine_run(r.m);
    buf_free(&r, &b);
    rig_close(&r);
}

/* ---- sharing: 16 peripherals, 8 channels -------------------------------------------- */

static void test_sharing(void **state)
{
    (void)state;
    rig r;
    rig_open(&r, WDFDMA_ENGINE_SIM, "channels=8,bw=100000000,beat_ns=20");
    buf src[MAX_UARTS];
    done_rec d[MAX_UARTS];
    wdfdma_sysdma_xfer x[MAX_UARTS];
    const uint32_t n = 128;

    for (unsigned i = 0; i < MAX_UARTS; i++) {
        char opts[96];
        snprintf(opts, sizeof opts, "fifo=256,baud=921600,loopback=0,tx_channel=%u,rx_channel=%u",
                 i % 8, i % 8);
        rig_add(&r, "uart", opts);
        src[i] = buf_new(&r, n);
        fill(&src[i], n, i);
        d[i] = (done_rec){.m = r.m};
        x[i] = xfer(&src[i], n, mmio_base(r.uart[i]) + UART_REG_DATA, true, 1, &d[i]);
    }
    /* The 16 request lines are distinct. */
    for (unsigned i = 0; i < MAX_UARTS; i++)
        for (unsigned j = 0; j < MAX_UARTS; j++)
            assert_true(i == j ||
                        uart_request_line(r.uart[i], UART_DMA_TX) != uart_request_line(r.uart[j], UART_DMA_TX));

    /* Round 1: uarts 0..7 take the channels; 8..15 find them busy. */
    uint64_t t0 = wdfdma_machine_now(r.m);
    for (unsigned i = 0; i < 8; i++)
        assert_int_equal(r.ops->start(r.dma, i, &x[i]), 0);
    for (unsigned i = 8; i < MAX_UARTS; i++)
        assert_int_equal(r.ops->start(r.dma, i % 8, &x[i]), -EBUSY);
    assert_int_equal(reg(r.dma, SDMAC_REG_BUSY), 0xFFu);
    wdfdma_machine_run(r.m);
    /* Fair round-robin: equal transfers end within one arbitration round of each other,
     * in channel order, after 8 x n beats of 30 ns. */
    const uint64_t beat = 20 + 10;
    for (unsigned i = 0; i < 8; i++) {
        assert_int_equal(d[i].calls, 1);
        assert_int_equal(d[i].status, 0);
        assert_true(d[i].t - t0 >= (8ull * n - 8) * beat && d[i].t - t0 <= 8ull * n * beat);
        if (i > 0)
            assert_true(d[i].t > d[i - 1].t);
    }
    /* Round 2: channels free again; channel 3 gets priority 3 and, once started, wins
     * every arbitration (channel 0, started first, had the engine for one beat). */
    uint32_t prio = 3;
    assert_int_equal(r.ops->configure(r.dma, 3, SDMAC_FN_PRIORITY, &prio), 0);
    t0 = wdfdma_machine_now(r.m);
    for (unsigned i = 8; i < MAX_UARTS; i++)
        assert_int_equal(r.ops->start(r.dma, i % 8, &x[i]), 0);
    wdfdma_machine_run(r.m);
    assert_int_equal(d[11].t - t0, (n + 1) * beat);
    for (unsigned i = 8; i < MAX_UARTS; i++) {
        assert_int_equal(d[i].status, 0);
        if (i != 11)
            assert_true(d[i].t - t0 > (8ull * n - 16) * beat);
    }
    /* Every uart got exactly its own bytes. */
    for (unsigned i = 0; i < MAX_UARTS; i++) {
        uint8_t out[256];
        long got = uart_host_collect(r.uart[i], out, sizeof out);
        assert_int_equal(got, n);
        for (uint32_t k = 0; k < n; k++)
            assert_int_equal(out[k], enc(k, i));
        assert_int_equal(reg(r.uart[i], UART_REG_STATUS) & UART_ST_TX_OVERFLOW, 0);
    }
    for (unsigned i = 0; i < MAX_UARTS; i++)
        buf_free(&r, &src[i]);
    rig_close(&r);
}

/* Demand channels of uarts at different rates share the engine without slowing each
 * other: each finishes at its own line rate. */
static void test_sharing_demand(void **state)
{
    (void)state;
    static const uint32_t bauds[] = {921600, 460800, 230400, 115200};
    rig r;
    rig_open(&r, WDFDMA_ENGINE_SIM, NULL);
    buf src[8];
    done_rec d[8];
    const uint32_t n = 200;

    for (unsigned i = 0; i < 8; i++) {
        char opts[96];
        snprintf(opts, sizeof opts, "fifo=8,baud=%u,loopback=0,tx_channel=%u", bauds[i % 4], i);
        wdfdma_dev *u = rig_add(&r, "uart", opts);
        src[i] = buf_new(&r, n);
        fill(&src[i], n, 40 + i);
        d[i] = (done_rec){.m = r.m};
        wdfdma_sysdma_xfer x = xfer(&src[i], n, mmio_base(u) + UART_REG_DATA, true, 1, &d[i]);
        x.demand_mode = true;
        x.request_line = uart_request_line(u, UART_DMA_TX);
        assert_int_equal(r.ops->start(r.dma, i, &x), 0);
        set_reg(u, UART_REG_CONTROL, reg(u, UART_REG_CONTROL) | UART_CTL_TX_DMA);
    }
    wdfdma_machine_run_until(r.m, 30000000ull);
    for (unsigned i = 0; i < 8; i++) {
        uint8_t out[256];
        uint64_t want = (n - 8 - 1) * byte_ns(bauds[i % 4]);   /* last byte enters the FIFO */
        assert_int_equal(d[i].calls, 1);
        assert_true(d[i].t >= want && d[i].t <= want + 2 * byte_ns(bauds[i % 4]));
        assert_int_equal(uart_host_collect(r.uart[i], out, sizeof out), n);
        for (uint32_t k = 0; k < n; k++)
            assert_int_equal(out[k], enc(k, 40 + i));
    }
    for (unsigned i = 0; i < 8; i++)
        buf_free(&r, &src[i]);
    rig_close(&r);
}

/* ---- faults ------------------------------------------------------------------------- */

typedef struct fault_plan {
    const char *kind;
    int fire;                /* fire on the next `fire` asks of `kind` */
} fault_plan;

static bool fault_hook(void *ctx, wdfdma_dev *dev, const char *kind)
{
    fault_plan *p = ctx;
    (void)dev;
    if (p->fire > 0 && strcmp(kind, p->kind) == 0) {
        p->fire--;
        return true;
    }
    return false;
}

typedef struct isr_ctx {
    wdfdma_dev *dma;
    int calls;
    uint32_t error;
} isr_ctx;

/* Like a HAL error ISR: read ERROR, acknowledge it (write 1 to clear). */
static bool sdmac_isr(void *ctx, uint32_t message)
{
    isr_ctx *c = ctx;
    (void)message;
    c->calls++;
    c->error = reg(c->dma, SDMAC_REG_ERROR);
    set_reg(c->dma, SDMAC_REG_ERROR, c->error);
    return true;
}

static void test_faults(void **state)
{
    (void)state;
    rig r;
    rig_open(&r, WDFDMA_ENGINE_SIM, NULL);
    wdfdma_dev *u = rig_add(&r, "uart", "fifo=256,baud=921600,loopback=0");
    buf b = buf_new(&r, 200);
    fault_plan plan = {"dma-error", 1};
    done_rec d = {.m = r.m};
    uint8_t out[256];

    wdfdma_machine_set_fault_hook(r.m, fault_hook, &plan);
    fill(&b, 200, 9);
    /* The error ISR is attached only for the second error: the first leaves ERROR set. */
    isr_ctx ic = {.dma = r.dma};
    volatile uintptr_t lock = 0;
    mach_irq_conn *conn = NULL;
    wdfdma_sysdma_xfer x = xfer(&b, 200, mmio_base(u) + UART_REG_DATA, true, 4, &d);
    assert_int_equal(r.ops->start(r.dma, 6, &x), 0);
    wdfdma_machine_run(r.m);
    assert_int_equal(d.calls, 1);
    assert_int_equal(d.status, 1);
    assert_int_equal(d.residue, 100);                 /* failed at the midpoint */
    assert_int_equal(reg(r.dma, SDMAC_REG_ERROR), 1u << 6);
    assert_int_equal(uart_host_collect(u, out, sizeof out), 100);
    set_reg(r.dma, SDMAC_REG_ERROR, 1u << 6);         /* write 1 to clear */
    assert_int_equal(reg(r.dma, SDMAC_REG_ERROR), 0);

    /* "short": completes early, status 0, the rest as residue. */
    plan = (fault_plan){"short", 1};
    d = (done_rec){.m = r.m};
    x = xfer(&b, 200, mmio_base(u) + UART_REG_DATA, true, 8, &d);
    assert_int_equal(r.ops->start(r.dma, 6, &x), 0);
    wdfdma_machine_run(r.m);
    assert_int_equal(d.status, 0);
    assert_int_equal(d.residue, 104);                 /* midpoint 100 rounded down to 8 */
    assert_int_equal(reg(r.dma, SDMAC_REG_ERROR), 0);
    assert_int_equal(uart_host_collect(u, out, sizeof out), 96);
    for (int i = 0; i < 96; i++)
        assert_int_equal(out[i], enc((uint64_t)i, 9));

    /* A memory-side fault: nothing backs the logical address (a bus finding, silenced).
     * This error reaches an ISR through the controller's interrupt line. */
    const wdfdma_resource *irq = NULL;
    for (unsigned i = 0; i < wdfdma_dev_resource_count(r.dma); i++)
        if (wdfdma_dev_resource(r.dma, i)->type == WDFDMA_RES_IRQ)
            irq = wdfdma_dev_resource(r.dma, i);
    assert_non_null(irq);
    assert_int_equal(mach_irq_connect(r.m, irq->vector, (uint8_t)irq->level, sdmac_isr, &ic,
                                      &lock, &conn), 0);
    wdfdma_machine_set_bugcheck_quiet(r.m, true);
    r.findings_expected = 1;
    d = (done_rec){.m = r.m};
    x = xfer(&b, 64, mmio_base(u) + UART_REG_DATA, true, 1, &d);
    x.logical = 1ull << 38;
    assert_int_equal(r.ops->start(r.dma, 7, &x), 0);
    wdfdma_machine_run(r.m);
    assert_int_equal(d.status, 1);
    assert_int_equal(d.residue, 64);
    assert_int_equal(ic.calls, 1);
    assert_int_equal(ic.error, 1u << 7);
    assert_int_equal(reg(r.dma, SDMAC_REG_ERROR), 0);      /* the ISR acknowledged it */
    wdfdma_machine_stats st;
    wdfdma_machine_get_stats(r.m, &st);
    assert_int_equal(st.dma_faults, 1);

    /* No plan, no fault. */
    plan.fire = 0;
    d = (done_rec){.m = r.m};
    x = xfer(&b, 200, mmio_base(u) + UART_REG_DATA, true, 1, &d);
    assert_int_equal(r.ops->start(r.dma, 6, &x), 0);
    wdfdma_machine_run(r.m);
    assert_int_equal(d.status, 0);
    assert_int_equal(d.residue, 0);
    assert_int_equal(ic.calls, 1);
    mach_irq_disconnect(conn);
    buf_free(&r, &b);
    rig_close(&r);
}

/* Cancel in mid-flight of a block transfer: the beat in flight is dropped, the residue
 * counts exactly what did not reach the peripheral. */
static void test_cancel_block(void **state)
{
    (void)state;
    rig r;
    rig_open(&r, WDFDMA_ENGINE_SIM, "beat_ns=20,bw=100000000");
    wdfdma_dev *u = rig_add(&r, "uart", "fifo=256,baud=921600,loopback=0");
    buf b = buf_new(&r, 200);
    done_rec d = {.m = r.m};

    fill(&b, 200, 2);
    wdfdma_sysdma_xfer x = xfer(&b, 200, mmio_base(u) + UART_REG_DATA, true, 1, &d);
    assert_int_equal(r.ops->start(r.dma, 0, &x), 0);
    wdfdma_machine_run_until(r.m, wdfdma_machine_now(r.m) + 50 * 30 + 15);
    uint32_t res = r.ops->cancel(r.dma, 0);
    assert_int_equal(res, 150);
    assert_int_equal(r.ops->start(r.dma, 0, &x), -EBUSY);   /* until the notification */
    assert_int_equal(r.ops->cancel(r.dma, 0), 150);         /* idempotent */
    wdfdma_machine_run(r.m);
    assert_int_equal(d.calls, 1);
    assert_int_equal(d.status, 2);
    assert_int_equal(d.residue, 150);
    uint8_t out[256];
    assert_int_equal(uart_host_collect(u, out, sizeof out), 50);
    buf_free(&r, &b);
    rig_close(&r);
}

/* ---- both engines ------------------------------------------------------------------- */

static void basic_transfer(wdfdma_engine engine)
{
    rig r;
    rig_open(&r, engine, NULL);
    wdfdma_dev *u = rig_add(&r, "uart", "fifo=64,baud=921600");
    uint64_t data = mmio_base(u) + UART_REG_DATA;
    buf src = buf_new(&r, 64), dst = buf_new(&r, 64);
    done_rec tx = {.m = r.m}, rx = {.m = r.m};

    fill(&src, 64, 11);
    wdfdma_sysdma_xfer x = xfer(&src, 64, data, true, 4, &tx);
    assert_int_equal(r.ops->start(r.dma, 0, &x), 0);
    assert_int_equal(wdfdma_machine_run(r.m), 0);
    assert_int_equal(atomic_load(&tx.calls), 1);
    assert_int_equal(tx.status, 0);
    assert_int_equal(reg(u, UART_REG_RX_LEVEL), 64);
    x = xfer(&dst, 64, data, false, 4, &rx);
    assert_int_equal(r.ops->start(r.dma, 1, &x), 0);
    assert_int_equal(wdfdma_machine_run(r.m), 0);
    assert_int_equal(atomic_load(&rx.calls), 1);
    assert_int_equal(rx.status, 0);
    check_exact(&dst, 64, 11);
    buf_free(&r, &src);
    buf_free(&r, &dst);
    rig_close(&r);
}

static void test_engines(void **state)
{
    (void)state;
    basic_transfer(WDFDMA_ENGINE_SIM);
    basic_transfer(WDFDMA_ENGINE_THREADS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_starts),
        cmocka_unit_test(test_bad_options),
        cmocka_unit_test(test_block_loopback),
        cmocka_unit_test(test_demand_pacing),
        cmocka_unit_test(test_looped_playback),
        cmocka_unit_test(test_looped_capture),
        cmocka_unit_test(test_configure),
        cmocka_unit_test(test_sharing),
        cmocka_unit_test(test_sharing_demand),
        cmocka_unit_test(test_faults),
        cmocka_unit_test(test_cancel_block),
        cmocka_unit_test(test_engines),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
