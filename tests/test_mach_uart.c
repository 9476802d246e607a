/*
 * uart model: options, registers, FIFOs, baud timing, request lines, overrun / underrun /
 * overflow / RX timeout, the interrupt line, and the host byte stream (inject / collect),
 * with the sdmac controller moving data where a test needs DMA.
 *
 * Order: bad arguments, then success, then misuse (overrun, underrun, overflow).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
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

typedef struct rig {
    wdfdma_machine *m;
    wdfdma_dev *dma;
    wdfdma_dev *u;
    const wdfdma_sysdma_ops *ops;
} rig;

static void rig_open(rig *r, const char *uart_opts)
{
    wdfdma_machine_config cfg;
    memset(r, 0, sizeof *r);
    wdfdma_machine_config_init(&cfg);
    cfg.seed = 3;
    if (wdfdma_machine_create(&cfg, &r->m) < 0)
        fail_msg("machine: %s", wdfdma_last_error());
    if (wdfdma_machine_add_device(r->m, "sdmac", "dma0", NULL, &r->dma) < 0)
        fail_msg("sdmac: %s", wdfdma_last_error());
    if (wdfdma_machine_add_device(r->m, "uart", "uart0", uart_opts, &r->u) < 0)
        fail_msg("uart: %s", wdfdma_last_error());
    r->ops = mach_device_model(r->dma)->sysdma;
}

static void rig_close(rig *r)
{
    wdfdma_machine_stats st;
    wdfdma_machine_get_stats(r->m, &st);
    assert_int_equal(st.frames_in_use, 0);
    assert_int_equal(mach_findings(r->m), 0);
    wdfdma_machine_destroy(r->m);
}

static uint32_t reg(wdfdma_dev *d, uint64_t off)
{
    return (uint32_t)wdfdma_dev_peer_read(d, 0, off, 4);
}

static void set_reg(wdfdma_dev *d, uint64_t off, uint32_t v)
{
    wdfdma_dev_peer_write(d, 0, off, 4, v);
}

static void pio_send(wdfdma_dev *u, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        wdfdma_dev_peer_write(u, 0, UART_REG_DATA, 1, p[i]);
}

static uint8_t enc(uint64_t i, unsigned salt)
{
    return (uint8_t)(i * 151u + (i >> 8) * 7u + salt * 29u + 3u);
}

static uint64_t byte_ns(uint32_t baud)
{
    return (10ull * (UART_CLOCK / baud) * 1000000000ull + UART_CLOCK / 2) / UART_CLOCK;
}

static const wdfdma_resource *resource(wdfdma_dev *d, wdfdma_res_type type, unsigned nth)
{
    for (unsigned i = 0; i < wdfdma_dev_resource_count(d); i++) {
        const wdfdma_resource *res = wdfdma_dev_resource(d, i);
        if (res->type == type && nth-- == 0)
            return res;
    }
    fail_msg("resource type %d #%u missing", (int)type, nth);
    return NULL;
}

/* ---- bad arguments ------------------------------------------------------------------ */

static void test_options(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "baud=100000", "baud=0", "baud=1843200", "fifo=0", "fifo=4097", "loopback=2",
        "tx_thresh=17", "rx_thresh=0", "parity=even", "fifo=abc",
    };
    wdfdma_machine_config cfg;
    wdfdma_machine *m;
    wdfdma_dev *d;
    wdfdma_machine_config_init(&cfg);
    assert_int_equal(wdfdma_machine_create(&cfg, &m), 0);
    assert_int_equal(wdfdma_machine_add_device(m, "sdmac", "dma0", NULL, &d), 0);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char name[16];
        snprintf(name, sizeof name, "bad%zu", i);
        if (wdfdma_machine_add_device(m, "uart", name, bad[i], &d) >= 0)
            fail_msg("uart accepted \"%s\"", bad[i]);
        assert_true(strlen(wdfdma_last_error()) > 0);
    }
    assert_int_equal(wdfdma_machine_add_device(m, "uart", "ok", "baud=9600,fifo=4096", &d), 0);
    assert_int_equal(uart_host_inject(NULL, "x", 1), -EINVAL);
    wdfdma_dev *dma = wdfdma_machine_find_device(m, "dma0");
    assert_int_equal(uart_host_inject(dma, "x", 1), -EINVAL);   /* not a uart */
    uint8_t b;
    assert_int_equal(uart_host_collect(dma, &b, 1), -EINVAL);
    assert_int_equal(uart_request_line(dma, UART_DMA_TX), UINT32_MAX);
    wdfdma_machine_destroy(m);
}

/* ---- registers and resources -------------------------------------------------------- */

static void test_registers(void **state)
{
    (void)state;
    rig r;
    rig_open(&r, "fifo=32,baud=57600,tx_thresh=8,rx_thresh=4,tx_channel=2,rx_channel=3");
    wdfdma_dev *u = r.u;

    assert_int_equal(reg(u, UART_REG_CONTROL), UART_CTL_TX_EN | UART_CTL_RX_EN | UART_CTL_LOOPBACK);
    assert_int_equal(reg(u, UART_REG_BAUD), UART_CLOCK / 57600);
    assert_int_equal(reg(u, UART_REG_FIFO_DEPTH), 32);
    assert_int_equal(reg(u, UART_REG_TX_THRESH), 8);
    assert_int_equal(reg(u, UART_REG_RX_THRESH), 4);
    assert_int_equal(reg(u, UART_REG_STATUS), UART_ST_TX_EMPTY | UART_ST_RX_EMPTY);
    set_reg(u, UART_REG_TX_THRESH, 33);                    /* out of range: ignored */
    assert_int_equal(reg(u, UART_REG_TX_THRESH), 8);
    set_reg(u, UART_REG_TX_THRESH, 0);
    assert_int_equal(reg(u, UART_REG_TX_THRESH), 8);

    /* Resources: MMIO, IRQ, then the TX and RX DMA resources on the asked channels. */
    const wdfdma_resource *tx = resource(u, WDFDMA_RES_DMA, 0);
    const wdfdma_resource *rx = resource(u, WDFDMA_RES_DMA, 1);
    assert_int_equal(tx->dma_channel, 2);
    assert_int_equal(rx->dma_channel, 3);
    assert_int_equal(tx->dma_request_line, uart_request_line(u, UART_DMA_TX));
    assert_int_equal(rx->dma_request_line, uart_request_line(u, UART_DMA_RX));
    assert_true(tx->dma_request_line != rx->dma_request_line);
    assert_ptr_equal(wdfdma_machine_request_line_owner(r.m, tx->dma_request_line), u);
    assert_ptr_equal(wdfdma_machine_request_line_owner(r.m, rx->dma_request_line), u);
    assert_int_equal(resource(u, WDFDMA_RES_MMIO, 0)->length, UART_MMIO_SIZE);

    /* The device address of DATA decodes to this uart. */
    unsigned region = 99;
    uint64_t offset = 99;
    assert_ptr_equal(wdfdma_machine_device_at(r.m, resource(u, WDFDMA_RES_MMIO, 0)->start + UART_REG_DATA,
                                              &region, &offset), u);
    assert_int_equal(region, 0);
    assert_int_equal(offset, UART_REG_DATA);
    rig_close(&r);
}

/* Request lines follow FIFO levels, thresholds and the DMA enables. */
static void test_request_lines(void **state)
{
    (void)state;
    rig r;
    rig_open(&r, "fifo=16,tx_thresh=4,rx_thresh=3");
    wdfdma_dev *u = r.u;
    uint32_t txl = uart_request_line(u, UART_DMA_TX), rxl = uart_request_line(u, UART_DMA_RX);
    uint8_t bytes[16];

    assert_false(wdfdma_machine_dma_request_asserted(r.m, txl));   /* not before enabled */
    set_reg(u, UART_REG_BAUD, 0);                                  /* hold the line clock */
    set_reg(u, UART_REG_CONTROL, reg(u, UART_REG_CONTROL) | UART_CTL_TX_DMA | UART_CTL_RX_DMA);
    assert_true(wdfdma_machine_dma_request_asserted(r.m, txl));
    assert_true(reg(u, UART_REG_STATUS) & UART_ST_TX_REQ);
    for (unsigned i = 0; i < 16; i++)
        bytes[i] = enc(i, 1);
    pio_send(u, bytes, 12);                                        /* room 4: still asks */
    assert_true(wdfdma_machine_dma_request_asserted(r.m, txl));
    pio_send(u, bytes + 12, 1);                                    /* room 3 < 4 */
    assert_false(wdfdma_machine_dma_request_asserted(r.m, txl));
    assert_false(reg(u, UART_REG_STATUS) & UART_ST_TX_REQ);
    assert_false(wdfdma_machine_dma_request_asserted(r.m, rxl));

    /* Restart the clock: bytes loop back; RX asks once 3 are there. */
    set_reg(u, UART_REG_BAUD, 1);
    wdfdma_machine_run_until(r.m, wdfdma_machine_now(r.m) + 2 * byte_ns(921600) + 100);
    assert_int_equal(reg(u, UART_REG_RX_LEVEL), 2);
    assert_false(wdfdma_machine_dma_request_asserted(r.m, rxl));
    wdfdma_machine_run_until(r.m, wdfdma_machine_now(r.m) + byte_ns(921600));
    assert_int_equal(reg(u, UART_REG_RX_LEVEL), 3);
    assert_true(wdfdma_machine_dma_request_asserted(r.m, rxl));
    assert_true(reg(u, UART_REG_STATUS) & UART_ST_RX_REQ);
    /* Disabling DMA requests drops both lines at once. */
    set_reg(u, UART_REG_CONTROL, UART_CTL_TX_EN | UART_CTL_RX_EN | UART_CTL_LOOPBACK);
    assert_false(wdfdma_machine_dma_request_asserted(r.m, txl));
    assert_false(wdfdma_machine_dma_request_asserted(r.m, rxl));
    wdfdma_machine_run(r.m);
    rig_close(&r);
}

/* ---- baud timing -------------------------------------------------------------------- */

static void test_baud_timing(void **state)
{
    (void)state;
    static const uint32_t bauds[] = {921600, 115200, 9600};
    for (unsigned k = 0; k < 3; k++) {
        rig r;
        char opts[64];
        snprintf(opts, sizeof opts, "fifo=64,baud=%u", bauds[k]);
        rig_open(&r, opts);
        uint8_t out[64], in[64];
        for (unsigned i = 0; i < 40; i++)
            out[i] = enc(i, k);
        uint64_t t0 = wdfdma_machine_now(r.m);
        pio_send(r.u, out, 40);
        /* One byte time before the 40th byte is due, 39 have arrived. */
        wdfdma_machine_run_until(r.m, t0 + 40 * byte_ns(bauds[k]) - 1);
        assert_int_equal(reg(r.u, UART_REG_RX_LEVEL), 39);
        wdfdma_machine_run_until(r.m, t0 + 40 * byte_ns(bauds[k]));
        assert_int_equal(reg(r.u, UART_REG_RX_LEVEL), 40);
        assert_true(reg(r.u, UART_REG_STATUS) & UART_ST_TX_EMPTY);
        for (unsigned i = 0; i < 40; i++)
            in[i] = (uint8_t)wdfdma_dev_peer_read(r.u, 0, UART_REG_DATA, 1);
        assert_memory_equal(in, out, 40);
        wdfdma_machine_run(r.m);
        rig_close(&r);
    }
}

/* ---- host byte stream with DMA ------------------------------------------------------ */

typedef struct done_rec {
    wdfdma_machine *m;
    int calls, status;
    uint32_t residue;
    uint64_t t;
} done_rec;

static void on_done(void *ctx, int status, uint32_t residue, bool wrap)
{
    done_rec *d = ctx;
    assert_false(wrap);
    d->calls++;
    d->status = status;
    d->residue = residue;
    d->t = wdfdma_machine_now(d->m);
}

static void test_host_stream(void **state)
{
    (void)state;
    const uint32_t n = 300;
    rig r;
    rig_open(&r, "fifo=16,baud=115200,loopback=0");
    wdfdma_dev *u = r.u;
    uint64_t data = resource(u, WDFDMA_RES_MMIO, 0)->start + UART_REG_DATA;
    void *va;
    uint64_t pa;
    uint8_t src[300], got[400];
    done_rec rx = {.m = r.m}, tx = {.m = r.m};

    assert_int_equal(mach_mem_alloc_contig(r.m, 2 * 4096, 0, 4096, &va, &pa), 0);
    uint8_t *mem = va;
    memset(mem, 0xEE, 2 * 4096);
    for (uint32_t i = 0; i < n; i++) {
        src[i] = enc(i, 7);
        mem[4096 + i] = enc(i, 8);
    }
    /* RX: host -> line -> FIFO -> demand DMA -> memory. */
    wdfdma_sysdma_xfer x = {.logical = pa, .length = n, .device_address = data, .to_device = false,
                            .demand_mode = true, .width_bytes = 1,
                            .request_line = uart_request_line(u, UART_DMA_RX), .done = on_done, .ctx = &rx};
    assert_int_equal(r.ops->start(r.dma, 1, &x), 0);
    /* TX: memory -> demand DMA -> FIFO -> line -> host, at the same time. */
    wdfdma_sysdma_xfer y = {.logical = pa + 4096, .length = n, .device_address = data, .to_device = true,
                            .demand_mode = true, .width_bytes = 1,
                            .request_line = uart_request_line(u, UART_DMA_TX), .done = on_done, .ctx = &tx};
    assert_int_equal(r.ops->start(r.dma, 0, &y), 0);
    set_reg(u, UART_REG_CONTROL, reg(u, UART_REG_CONTROL) | UART_CTL_TX_DMA | UART_CTL_RX_DMA);
    uint64_t t0 = wdfdma_machine_now(r.m);
    assert_int_equal(uart_host_inject(u, src, n), n);
    wdfdma_machine_run_until(r.m, t0 + (n + 20) * byte_ns(115200));

    assert_int_equal(rx.calls, 1);
    assert_int_equal(rx.status, 0);
    /* The last byte's stop bit ends n byte times after the first start bit. */
    assert_true(rx.t - t0 >= n * byte_ns(115200) && rx.t - t0 <= n * byte_ns(115200) + 5000);
    assert_memory_equal(mem, src, n);
    assert_int_equal(mem[n], 0xEE);
    assert_int_equal(tx.calls, 1);
    assert_int_equal(uart_host_collect(u, got, sizeof got), n);
    for (uint32_t i = 0; i < n; i++)
        assert_int_equal(got[i], enc(i, 8));
    assert_int_equal(uart_host_collect(u, got, sizeof got), 0);
    assert_int_equal(reg(u, UART_REG_STATUS) & UART_ST_STICKY & ~UART_ST_RX_TIMEOUT, 0);
    mach_mem_free_contig(r.m, va, 2 * 4096);
    wdfdma_machine_run(r.m);
    rig_close(&r);
}

/* ---- misuse: overrun, underrun, overflow, RX timeout, and the interrupt -------------- */

typedef struct isr_ctx {
    wdfdma_dev *u;
    int calls;
    uint32_t status;
} isr_ctx;

/* Acknowledge like a driver's ISR: read STATUS, clear the sticky causes. */
static bool uart_isr(void *ctx, uint32_t message)
{
    isr_ctx *c = ctx;
    (void)message;
    c->calls++;
    c->status = reg(c->u, UART_REG_STATUS);
    set_reg(c->u, UART_REG_STATUS, c->status & (UART_ST_RX_OVERRUN | UART_ST_RX_TIMEOUT));
    return true;
}

static void test_overrun(void **state)
{
    (void)state;
    rig r;
    rig_open(&r, "fifo=16,baud=921600");
    wdfdma_dev *u = r.u;
    uint8_t out[20], in[16];

    for (unsigned i = 0; i < 20; i++)
        out[i] = enc(i, 2);
    /* Byte 0 goes straight to the shifter, 1..16 fill the TX FIFO, 17..19 overflow. */
    pio_send(u, out, 20);
    assert_true(reg(u, UART_REG_STATUS) & UART_ST_TX_OVERFLOW);
    assert_true(reg(u, UART_REG_STATUS) & UART_ST_TX_FULL);
    assert_int_equal(reg(u, UART_REG_TX_LEVEL), 16);
    set_reg(u, UART_REG_STATUS, UART_ST_TX_OVERFLOW);
    assert_false(reg(u, UART_REG_STATUS) & UART_ST_TX_OVERFLOW);

    /* 17 bytes loop back into a 16-byte RX FIFO nobody drains: the 17th is dropped. */
    wdfdma_machine_run(r.m);
    assert_int_equal(reg(u, UART_REG_RX_LEVEL), 16);
    assert_true(reg(u, UART_REG_STATUS) & UART_ST_RX_OVERRUN);
    assert_true(reg(u, UART_REG_STATUS) & UART_ST_RX_FULL);
    assert_int_equal(reg(u, UART_REG_RX_DROPPED), 1);
    for (unsigned i = 0; i < 16; i++)
        in[i] = (uint8_t)wdfdma_dev_peer_read(u, 0, UART_REG_DATA, 1);
    assert_memory_equal(in, out, 16);
    /* Sticky: still set after the FIFO drained, until written with 1. */
    assert_true(reg(u, UART_REG_STATUS) & UART_ST_RX_OVERRUN);
    set_reg(u, UART_REG_STATUS, UART_ST_RX_OVERRUN);
    assert_false(reg(u, UART_REG_STATUS) & UART_ST_RX_OVERRUN);
    assert_int_equal(reg(u, UART_REG_RX_DROPPED), 1);
    wdfdma_machine_run(r.m);
    rig_close(&r);
}

static void test_overrun_irq(void **state)
{
    (void)state;
    rig r;
    rig_open(&r, "fifo=8,baud=921600,loopback=0");
    wdfdma_dev *u = r.u;
    const wdfdma_resource *irq = resource(u, WDFDMA_RES_IRQ, 0);
    isr_ctx ic = {.u = u};
    volatile uintptr_t lock = 0;
    mach_irq_conn *conn;
    uint8_t src[12], in[8];

    assert_int_equal(mach_irq_connect(r.m, irq->vector, (uint8_t)irq->level, uart_isr, &ic, &lock, &conn), 0);
    set_reg(u, UART_REG_CONTROL, reg(u, UART_REG_CONTROL) | UART_CTL_IE_OVERRUN);
    for (unsigned i = 0; i < 12; i++)
        src[i] = enc(i, 4);
    assert_int_equal(uart_host_inject(u, src, 12), 12);
    uint64_t t0 = wdfdma_machine_now(r.m);
    wdfdma_machine_run_until(r.m, t0 + 8 * byte_ns(921600) + 100);
    assert_int_equal(reg(u, UART_REG_RX_LEVEL), 8);
    assert_int_equal(ic.calls, 0);
    assert_false(reg(u, UART_REG_STATUS) & UART_ST_RX_OVERRUN);
    /* The 9th byte finds the FIFO full: dropped, sticky bit, interrupt. */
    wdfdma_machine_run_until(r.m, t0 + 9 * byte_ns(921600) + 100);
    assert_int_equal(reg(u, UART_REG_RX_DROPPED), 1);
    assert_int_equal(reg(u, UART_REG_RX_LEVEL), 8);
    assert_true(ic.calls >= 1);
    assert_true(ic.status & UART_ST_RX_OVERRUN);
    wdfdma_machine_run(r.m);
    assert_int_equal(reg(u, UART_REG_RX_DROPPED), 4);
    /* The FIFO kept the first 8 bytes, in order. */
    for (unsigned i = 0; i < 8; i++)
        in[i] = (uint8_t)wdfdma_dev_peer_read(u, 0, UART_REG_DATA, 1);
    assert_memory_equal(in, src, 8);
    /* Reading an empty FIFO: zero and RX_UNDERRUN. */
    assert_int_equal(wdfdma_dev_peer_read(u, 0, UART_REG_DATA, 1), 0);
    assert_true(reg(u, UART_REG_STATUS) & UART_ST_RX_UNDERRUN);
    set_reg(u, UART_REG_STATUS, UART_ST_STICKY);
    assert_int_equal(reg(u, UART_REG_STATUS) & UART_ST_STICKY, 0);
    mach_irq_disconnect(conn);
    rig_close(&r);
}

/* A tail shorter than RX_THRESH stays in the FIFO; the RX timeout reports it. */
static void test_rx_timeout(void **state)
{
    (void)state;
    rig r;
    rig_open(&r, "fifo=16,baud=921600,loopback=0,rx_thresh=4");
    wdfdma_dev *u = r.u;
    uint8_t src[6] = {1, 2, 3, 4, 5, 6};
    const uint64_t bt = byte_ns(921600);

    uart_host_inject(u, src, 6);
    uint64_t t0 = wdfdma_machine_now(r.m);
    wdfdma_machine_run_until(r.m, t0 + 6 * bt + 4 * bt - 200);
    assert_int_equal(reg(u, UART_REG_RX_LEVEL), 6);
    assert_false(reg(u, UART_REG_STATUS) & UART_ST_RX_TIMEOUT);
    wdfdma_machine_run_until(r.m, t0 + 6 * bt + 4 * bt + 200);
    assert_true(reg(u, UART_REG_STATUS) & UART_ST_RX_TIMEOUT);
    wdfdma_machine_run(r.m);
    rig_close(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_options),
        cmocka_unit_test(test_registers),
        cmocka_unit_test(test_request_lines),
        cmocka_unit_test(test_baud_timing),
        cmocka_unit_test(test_host_stream),
        cmocka_unit_test(test_overrun),
        cmocka_unit_test(test_overrun_irq),
        cmocka_unit_test(test_rx_timeout),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
