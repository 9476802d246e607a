/*
 * echo: a register-echo device. The driver writes bytes into a data window, sets LENGTH
 * and rings the doorbell; after a modelled delay the device makes those bytes readable
 * back through the same window, sets DONE and raises its interrupt. No DMA: it is the
 * smallest device that exercises MMIO, interrupts, DPCs and the I/O path end to end.
 *
 * Registers (region 0, 4 KiB, little endian):
 *   0x00 ID        RO  0xEC40EC40
 *   0x04 LENGTH    RW  bytes to echo (0..WINDOW)
 *   0x08 DOORBELL  WO  write 1: echo LENGTH bytes of the input window
 *   0x0C STATUS    RO  bit 0 BUSY, bit 1 DONE, bit 2 ERROR
 *   0x10 ACK       W1C clear DONE/ERROR; the level line drops when neither remains
 *   0x14 IRQ_EN    RW  bit 0: interrupt on completion (reset value 0)
 *   0x18 ECHOED    RO  bytes readable in the output window (set at completion)
 *   0x1C COUNT     RO  completed commands
 *   0x800..0xFFF   data window (2 KiB): writes fill the input buffer, reads return the
 *                  output buffer (the last echoed bytes; zero beyond ECHOED)
 *
 *   IDLE --doorbell--> BUSY --delay--> IDLE with DONE (or ERROR: bad length / doorbell
 *                                      while busy); the interrupt follows DONE/ERROR
 *
 * Options: delay=ns (5000). Faults: "lost-irq" skips the completion interrupt.
 */
#include <string.h>
#include "wdfdma/devmodel.h"

#define ECHO_ID 0xEC40EC40u
#define REG_ID 0x00
#define REG_LENGTH 0x04
#define REG_DOORBELL 0x08
#define REG_STATUS 0x0C
#define REG_ACK 0x10
#define REG_IRQ_EN 0x14
#define REG_ECHOED 0x18
#define REG_COUNT 0x1C
#define WINDOW_OFF 0x800u
#define WINDOW 0x800u
#define ST_BUSY 1u
#define ST_DONE 2u
#define ST_ERROR 4u

typedef struct echo_state {
    uint32_t length, status, irq_en, echoed, count, busy_len;
    uint64_t delay_ns;
    uint8_t in[WINDOW], out[WINDOW];
} echo_state;

static const char *const echo_options[] = {"delay", NULL};

static int echo_init(wdfdma_dev *dev, const char *options)
{
    echo_state *s = wdfdma_dev_state(dev);
    if (wdfdma_dev_opt_check(dev, options, echo_options))
        return -1;
    s->delay_ns = 5000;
    if (wdfdma_dev_opt_u64(dev, options, "delay", &s->delay_ns) < 0)
        return -1;
    if (wdfdma_dev_declare_mmio(dev, 4096) < 0)
        return -1;
    if (wdfdma_dev_declare_irq(dev, WDFDMA_IRQ_LEVEL, 0) < 0)
        return -1;
    return 0;
}

static void echo_reset(wdfdma_dev *dev)
{
    echo_state *s = wdfdma_dev_state(dev);
    s->length = s->status = s->irq_en = s->echoed = s->count = s->busy_len = 0;
    memset(s->in, 0, sizeof(s->in));
    memset(s->out, 0, sizeof(s->out));
}

static void finish(wdfdma_dev *dev, echo_state *s, uint32_t bit)
{
    s->status = (s->status & ~ST_BUSY) | bit;
    s->count++;
    if ((s->irq_en & 1) && !wdfdma_dev_fault(dev, "lost-irq"))
        wdfdma_dev_irq_assert(dev, 0);
}

static void echo_done(wdfdma_dev *dev, void *arg)
{
    (void)arg;
    echo_state *s = wdfdma_dev_state(dev);
    memcpy(s->out, s->in, s->busy_len);
    memset(s->out + s->busy_len, 0, WINDOW - s->busy_len);
    s->echoed = s->busy_len;
    wdfdma_dev_trace(dev, "echo-done", s->busy_len, s->count);
    finish(dev, s, ST_DONE);
}

static void doorbell(wdfdma_dev *dev, echo_state *s)
{
    if ((s->status & ST_BUSY) || s->length > WINDOW) {
        wdfdma_dev_trace(dev, "echo-bad-doorbell", s->length, s->status);
        finish(dev, s, ST_ERROR | (s->status & ST_BUSY));
        return;
    }
    s->busy_len = s->length;
    s->status |= ST_BUSY;
    wdfdma_dev_trace(dev, "echo-start", s->length, s->delay_ns);
    wdfdma_dev_after(dev, s->delay_ns, echo_done, NULL);
}

static uint64_t window_read(echo_state *s, uint64_t off, unsigned width)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < width && off + i < WINDOW; i++)
        v |= (uint64_t)s->out[off + i] << (8 * i);
    return v;
}

static uint64_t echo_read(wdfdma_dev *dev, unsigned region, uint64_t offset, unsigned width)
{
    (void)region;
    echo_state *s = wdfdma_dev_state(dev);
    if (offset >= WINDOW_OFF)
        return window_read(s, offset - WINDOW_OFF, width);
    switch (offset) {
    case REG_ID: return ECHO_ID;
    case REG_LENGTH: return s->length;
    case REG_STATUS: return s->status;
    case REG_IRQ_EN: return s->irq_en;
    case REG_ECHOED: return s->echoed;
    case REG_COUNT: return s->count;
    default: return 0;
    }
}

static void echo_write(wdfdma_dev *dev, unsigned region, uint64_t offset, unsigned width,
                       uint64_t value)
{
    (void)region;
    echo_state *s = wdfdma_dev_state(dev);
    if (offset >= WINDOW_OFF) {
        uint64_t off = offset - WINDOW_OFF;
        for (unsigned i = 0; i < width && off + i < WINDOW; i++)
            s->in[off + i] = (uint8_t)(value >> (8 * i));
        return;
    }
    switch (offset) {
    case REG_LENGTH:
        s->length = (uint32_t)value;
        break;
    case REG_DOORBELL:
        if (value & 1)
            doorbell(dev, s);
        break;
    case REG_ACK:
        s->status &= ~((uint32_t)value & (ST_DONE | ST_ERROR));
        if (!(s->status & (ST_DONE | ST_ERROR)))
            wdfdma_dev_irq_deassert(dev, 0);
        break;
    case REG_IRQ_EN:
        s->irq_en = (uint32_t)value & 1;
        if (!s->irq_en)
            wdfdma_dev_irq_deassert(dev, 0);
        else if (s->status & (ST_DONE | ST_ERROR))
            wdfdma_dev_irq_assert(dev, 0);
        break;
    default:
        break;
    }
}

static const wdfdma_device_model echo_model = {
    .name = "echo",
    .summary = "register echo: data window + length + doorbell + status + interrupt",
    .hardware_id = "WDFDMA\\ECHO",
    .state_size = sizeof(echo_state),
    .init = echo_init,
    .reset = echo_reset,
    .mmio_read = echo_read,
    .mmio_write = echo_write,
};
WDFDMA_DEVICE_MODEL(echo_model)
