/*
 * toy: a minimal memory-to-memory DMA engine, used to test the machine itself (engines,
 * bus, interrupt controller) without any kernel or framework layer.
 *
 * Registers (region 0, 256 bytes, little endian):
 *   0x00 ID        RO  0x544F5901
 *   0x08 SRC       RW  source logical address (8 bytes, or two 4-byte halves)
 *   0x10 DST       RW  destination logical address
 *   0x18 LEN       RW  bytes to copy (1..max_len)
 *   0x1C DOORBELL  WO  write 1: start the copy
 *   0x20 STATUS    RO  bit 0 BUSY, bit 1 DONE, bit 2 ERROR
 *   0x24 ACK       W1C clear DONE/ERROR; the level line drops when neither remains
 *   0x28 COUNT     RO  completed copies (including failed ones)
 *   0x2C IRQ_EN    RW  bit 0: raise the interrupt on completion (reset value 1)
 *
 * Command state machine:
 *
 *   IDLE --doorbell--> BUSY --(latency + len / bandwidth)--> IDLE with DONE or ERROR
 *                        \--doorbell while busy: ERROR set, the copy in flight continues
 *
 * Options: latency=ns (2000), bandwidth=bytes/s (1G), max_len=bytes (1M),
 *          irq=level|edge|msi (level), shared=0|1 (0).
 * Faults (wdfdma_dev_fault): "dma-error" ends the copy with ERROR, "lost-irq" skips the
 * completion interrupt.
 */
#include <string.h>
#include "wdfdma/devmodel.h"

#define TOY_ID 0x544F5901u
#define REG_ID 0x00
#define REG_SRC 0x08
#define REG_DST 0x10
#define REG_LEN 0x18
#define REG_DOORBELL 0x1C
#define REG_STATUS 0x20
#define REG_ACK 0x24
#define REG_COUNT 0x28
#define REG_IRQ_EN 0x2C
#define ST_BUSY 1u
#define ST_DONE 2u
#define ST_ERROR 4u
#define CHUNK 65536u

typedef struct toy_state {
    uint64_t src, dst;
    uint32_t len, status, count, irq_en;
    uint64_t latency_ns, bandwidth, max_len;
    uint32_t irq_flags;
    uint64_t busy_src, busy_dst;      /* latched at the doorbell */
    uint32_t busy_len;
    uint8_t buf[CHUNK];
} toy_state;

static const char *const toy_options[] = { "latency", "bandwidth", "max_len", "irq", "shared",
                                           NULL };

static int toy_init(wdfdma_dev *dev, const char *options)
{
    toy_state *s = wdfdma_dev_state(dev);
    if (wdfdma_dev_opt_check(dev, options, toy_options))
        return -1;
    s->latency_ns = 2000;
    s->bandwidth = 1ull << 30;
    s->max_len = 1ull << 20;
    uint64_t shared = 0;
    char irq[8] = "level";
    if (wdfdma_dev_opt_u64(dev, options, "latency", &s->latency_ns) < 0 ||
        wdfdma_dev_opt_u64(dev, options, "bandwidth", &s->bandwidth) < 0 ||
        wdfdma_dev_opt_u64(dev, options, "max_len", &s->max_len) < 0 ||
        wdfdma_dev_opt_u64(dev, options, "shared", &shared) < 0 ||
        wdfdma_dev_opt_str(dev, options, "irq", irq, sizeof(irq)) < 0)
        return -1;
    if (s->bandwidth == 0) {
        wdfdma_dev_error(dev, "option 'bandwidth' must be above 0");
        return -1;
    }
    if (s->max_len == 0 || s->max_len > 0xFFFFFFFFu) {
        wdfdma_dev_error(dev, "option 'max_len' out of range 1..4G-1");
        return -1;
    }
    if (shared > 1) {
        wdfdma_dev_error(dev, "option 'shared' must be 0 or 1");
        return -1;
    }
    if (strcmp(irq, "level") == 0)
        s->irq_flags = WDFDMA_IRQ_LEVEL;
    else if (strcmp(irq, "edge") == 0)
        s->irq_flags = WDFDMA_IRQ_EDGE;
    else if (strcmp(irq, "msi") == 0)
        s->irq_flags = WDFDMA_IRQ_MSI;
    else {
        wdfdma_dev_error(dev, "option 'irq': '%s' is not level, edge or msi", irq);
        return -1;
    }
    if (shared && s->irq_flags == WDFDMA_IRQ_MSI) {
        wdfdma_dev_error(dev, "an MSI interrupt cannot be shared");
        return -1;
    }
    if (shared)
        s->irq_flags |= WDFDMA_IRQ_SHARED;
    if (wdfdma_dev_declare_mmio(dev, 256) < 0)
        return -1;
    if (wdfdma_dev_declare_irq(dev, s->irq_flags, s->irq_flags & WDFDMA_IRQ_MSI ? 1 : 0) < 0)
        return -1;
    return 0;
}

static void toy_reset(wdfdma_dev *dev)
{
    toy_state *s = wdfdma_dev_state(dev);
    s->src = s->dst = 0;
    s->len = s->status = s->count = 0;
    s->irq_en = 1;
}

static void raise_irq(wdfdma_dev *dev, toy_state *s)
{
    if (!(s->irq_en & 1) || wdfdma_dev_fault(dev, "lost-irq"))
        return;
    if (s->irq_flags & WDFDMA_IRQ_MSI)
        wdfdma_dev_msi_send(dev, 0, 0);
    else
        wdfdma_dev_irq_assert(dev, 0);
}

static void toy_complete(wdfdma_dev *dev, void *arg)
{
    (void)arg;
    toy_state *s = wdfdma_dev_state(dev);
    bool ok = !wdfdma_dev_fault(dev, "dma-error");
    for (uint32_t off = 0; ok && off < s->busy_len; off += CHUNK) {
        uint32_t n = s->busy_len - off < CHUNK ? s->busy_len - off : CHUNK;
        ok = wdfdma_dev_dma_read(dev, s->busy_src + off, s->buf, n) == WDFDMA_DMA_OK &&
             wdfdma_dev_dma_write(dev, s->busy_dst + off, s->buf, n) == WDFDMA_DMA_OK;
    }
    s->status = (s->status & ~ST_BUSY) | (ok ? ST_DONE : ST_ERROR);
    s->count++;
    wdfdma_dev_trace(dev, "toy-done", s->busy_len, ok);
    raise_irq(dev, s);
}

static void doorbell(wdfdma_dev *dev, toy_state *s)
{
    if (s->status & ST_BUSY) {
        s->status |= ST_ERROR;
        wdfdma_dev_trace(dev, "toy-doorbell-busy", s->len, 0);
        return;
    }
    if (s->len == 0 || s->len > s->max_len) {
        s->status |= ST_ERROR;
        s->count++;
        wdfdma_dev_trace(dev, "toy-bad-length", s->len, 0);
        raise_irq(dev, s);
        return;
    }
    s->busy_src = s->src;
    s->busy_dst = s->dst;
    s->busy_len = s->len;
    s->status |= ST_BUSY;
    uint64_t delay = s->latency_ns + (uint64_t)s->len * 1000000000ull / s->bandwidth;
    wdfdma_dev_trace(dev, "toy-start", s->len, delay);
    wdfdma_dev_after(dev, delay, toy_complete, NULL);
}

static uint64_t half(uint64_t reg, uint64_t offset, unsigned width)
{
    if (width == 8)
        return reg;
    return offset & 4 ? reg >> 32 : reg & 0xFFFFFFFFu;
}

static uint64_t toy_read(wdfdma_dev *dev, unsigned region, uint64_t offset, unsigned width)
{
    (void)region;
    toy_state *s = wdfdma_dev_state(dev);
    switch (offset & ~7ull) {
    case REG_SRC: return half(s->src, offset, width);
    case REG_DST: return half(s->dst, offset, width);
    default: break;
    }
    switch (offset) {
    case REG_ID: return TOY_ID;
    case REG_LEN: return s->len;
    case REG_STATUS: return s->status;
    case REG_COUNT: return s->count;
    case REG_IRQ_EN: return s->irq_en;
    default: return 0;
    }
}

static void set_half(uint64_t *reg, uint64_t offset, unsigned width, uint64_t v)
{
    if (width == 8)
        *reg = v;
    else if (offset & 4)
        *reg = (*reg & 0xFFFFFFFFu) | (v << 32);
    else
        *reg = (*reg & ~0xFFFFFFFFull) | (v & 0xFFFFFFFFu);
}

static void toy_write(wdfdma_dev *dev, unsigned region, uint64_t offset, unsigned width,
                      uint64_t v)
{
    (void)region;
    toy_state *s = wdfdma_dev_state(dev);
    switch (offset & ~7ull) {
    case REG_SRC: set_half(&s->src, offset, width, v); return;
    case REG_DST: set_half(&s->dst, offset, width, v); return;
    default: break;
    }
    switch (offset) {
    case REG_LEN: s->len = (uint32_t)v; break;
    case REG_DOORBELL:
        if (v & 1)
            doorbell(dev, s);
        break;
    case REG_ACK:
        s->status &= ~((uint32_t)v & (ST_DONE | ST_ERROR));
        if (!(s->status & (ST_DONE | ST_ERROR)) && !(s->irq_flags & WDFDMA_IRQ_MSI))
            wdfdma_dev_irq_deassert(dev, 0);
        break;
    case REG_IRQ_EN: s->irq_en = (uint32_t)v & 1; break;
    default: break;
    }
}

static const wdfdma_device_model toy_model = {
    .name = "toy",
    .summary = "memory-to-memory DMA copier for machine tests",
    .hardware_id = "PCI\\VEN_1234&DEV_0070",
    .state_size = sizeof(toy_state),
    .init = toy_init,
    .reset = toy_reset,
    .mmio_read = toy_read,
    .mmio_write = toy_write,
};
WDFDMA_DEVICE_MODEL(toy_model)
