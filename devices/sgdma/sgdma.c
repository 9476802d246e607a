/*
 * sgdma: a PCI bus-master scatter/gather DMA engine with on-device memory (PLX-9656 class).
 * The register map, descriptor layouts and timing model are documented in sgdma.h.
 *
 * Channel state machine (one per channel). Events are register writes (doorbell, abort,
 * reset) and the channel's own scheduled hardware events (step, transfer):
 *
 *                  CTRL.START: latch DESC and DESC64,
 *     +--------+   schedule `step` after desc_ns              +---------+
 *     |  IDLE  | -------------------------------------------> |  FETCH  | <------------+
 *     +--------+                                              +---------+              |
 *      ^   ^   ^                                                   |                   |
 *      |   |   |   step: fetch fault / bad descriptor (ERR_*)      | step: descriptor  |
 *      |   |   +---------------------------------------------------+ fetched and valid |
 *      |   |                                                       v                   |
 *      |   |   transfer: DMA fault, write-back fault (ERR_*)  +---------+              |
 *      |   +--------------------------------------------------|  XFER   |              |
 *      |                                                      +---------+              |
 *      |   transfer: completed with LAST, or short (DONE)       |      | transfer: not |
 *      +--------------------------------------------------------+      | LAST, no      |
 *                                                                      | residue:      |
 *                                                                      | schedule step |
 *     ABORT, channel RESET, device RESET: any state -> IDLE            +---------------+
 *     (the channel's scheduled events are cancelled)
 *
 * Invariants (ch_assert_state): IDLE <=> STATUS.BUSY clear <=> no step/transfer event
 * scheduled. FETCH: `cur` is the descriptor to fetch. XFER: `d` holds the fetched, valid
 * descriptor at `cur`; its data has not moved yet (it moves when `transfer` runs, at the
 * end of its modelled transfer time).
 *
 * Why data moves at the end of the transfer time: a driver must never see a descriptor's
 * status or data before the hardware could have produced them, and a doorbell write
 * returns before anything moves, exactly as on a real bus master.
 *
 * Stale events: on the threads engine a cancelled event may already be on its way to the
 * device lock, so every scheduled event carries a sequence number and runs only if it is
 * still the one its slot expects.
 */
#include "sgdma.h"

#include <assert.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include "wdfdma/devmodel.h"

#define SGDMA_MODEL_NAME "sgdma"
#define SGDMA_MEM_MIN 4096u
#define SGDMA_MEM_MAX (1024u * 1024u * 1024u)
#define SGDMA_BW_MAX (1ull << 40)                 /* 1 TiB/s: beyond that the model is moot */
#define SGDMA_DELAY_MAX 1000000000ull             /* 1 s per descriptor or interrupt */
#define SGDMA_LATE_IRQ_NS 100000ull               /* "late-irq": 100 us extra */
#define SGDMA_GLITCH_NS 1000ull                   /* a spurious pulse on the line */
#define SGDMA_4G (1ull << 32)
#define NS_PER_S 1000000000ull

typedef enum ch_state { CH_IDLE = 0, CH_FETCH, CH_XFER } ch_state;

/* A fetched descriptor, decoded from either layout. */
typedef struct sgdma_xdesc {
    uint64_t host;
    uint64_t next;
    uint32_t length;
    uint32_t dev_offset;
    uint32_t flags;
} sgdma_xdesc;

typedef struct sgdma_chan {
    unsigned index;
    ch_state state;
    uint32_t ctrl;            /* sticky CTRL bits: DESC64, IE */
    uint32_t status;          /* STATUS register */
    uint64_t desc_ptr;        /* DESC_HI:DESC_LO as written */
    bool desc64;              /* layout latched at START */
    uint64_t cur;             /* CUR: descriptor being processed */
    uint32_t count, residue, bytes;
    sgdma_xdesc d;            /* valid in XFER */
    uint64_t step_seq;        /* sequence of the live step/transfer event, 0 = none */
    bool step_inline;         /* timing=0: the next fetch runs in the current event */
    wdfdma_timer_id step_timer;
    uint64_t irq_seq;         /* sequence of the live interrupt-latency event, 0 = none */
    wdfdma_timer_id irq_timer;
    uint32_t irq_pending;     /* INT_STATUS bits waiting out the latency */
} sgdma_chan;

typedef struct sgdma {
    wdfdma_dev *dev;
    uint8_t *mem;
    uint64_t mem_size;
    unsigned addr_bits;
    bool msi;
    bool timing;
    uint64_t bw;              /* bytes per second */
    uint64_t desc_cost;       /* ns per descriptor, 0 with timing=0 */
    uint64_t irq_cost;        /* ns interrupt latency, 0 with timing=0 */
    unsigned irq;             /* interrupt resource index */
    uint32_t int_status, int_mask;
    bool line;                /* level line currently asserted */
    bool glitch;              /* a spurious pulse holds the line */
    uint64_t glitch_seq;
    wdfdma_timer_id glitch_timer;
    uint64_t dup_seq;         /* a duplicate signal waiting to go out, 0 = none */
    wdfdma_timer_id dup_timer;
    uint64_t next_seq;
    sgdma_chan ch[SGDMA_CHANNELS];
} sgdma;

/* Trace names: string literals, one per channel so the trace shows which channel. */
static const char *const TR_DOORBELL[SGDMA_CHANNELS] = {"ch0 doorbell", "ch1 doorbell"};
static const char *const TR_BUSY[SGDMA_CHANNELS] = {"ch0 doorbell-busy", "ch1 doorbell-busy"};
static const char *const TR_FETCH[SGDMA_CHANNELS] = {"ch0 desc-fetch", "ch1 desc-fetch"};
static const char *const TR_DESC_DONE[SGDMA_CHANNELS] = {"ch0 desc-done", "ch1 desc-done"};
static const char *const TR_CHAIN_DONE[SGDMA_CHANNELS] = {"ch0 chain-done", "ch1 chain-done"};
static const char *const TR_ERROR[SGDMA_CHANNELS] = {"ch0 error", "ch1 error"};
static const char *const TR_ABORT[SGDMA_CHANNELS] = {"ch0 abort", "ch1 abort"};
static const char *const TR_IRQ[SGDMA_CHANNELS] = {"ch0 irq", "ch1 irq"};
static const char *const TR_IRQ_LOST[SGDMA_CHANNELS] = {"ch0 irq-lost", "ch1 irq-lost"};

/* ---- small helpers ------------------------------------------------------------------ */

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const uint8_t *p)
{
    return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

static void put_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static sgdma *state_of(wdfdma_dev *dev)
{
    return wdfdma_dev_state(dev);
}

/* Can the device put [addr, addr+len) on the bus? A 32-bit device has no upper address
 * lines: it cannot emit an address at or above 4 GiB at all. */
static bool reachable(const sgdma *st, uint64_t addr, uint64_t len)
{
    if (len != 0 && addr > UINT64_MAX - (len - 1))
        return false;
    if (st->addr_bits == 64)
        return true;
    return addr < SGDMA_4G && len <= SGDMA_4G - addr;
}

static uint64_t transfer_ns(const sgdma *st, uint32_t length)
{
    if (!st->timing)
        return 0;
    return ((uint64_t)length * NS_PER_S + st->bw - 1) / st->bw;
}

static void ch_assert_state(const sgdma_chan *c)
{
    bool busy = (c->status & SGDMA_STATUS_BUSY) != 0;
    (void)busy;
    assert(c->state == CH_IDLE || c->state == CH_FETCH || c->state == CH_XFER);
    assert((c->state == CH_IDLE) == !busy);
    assert((c->state == CH_IDLE) == (c->step_seq == 0));
}

/* ---- scheduled events: sequence-tagged so stale ones are ignored -------------------- */

static void *event_arg(uint64_t seq, unsigned ch)
{
    return (void *)(uintptr_t)((seq << 1) | ch);
}

static uint64_t event_seq(void *arg)
{
    return (uint64_t)(uintptr_t)arg >> 1;
}

static unsigned event_ch(void *arg)
{
    return (unsigned)((uintptr_t)arg & 1u);
}

static void ch_schedule_step(sgdma *st, sgdma_chan *c, uint64_t delay,
                             void (*fn)(wdfdma_dev *, void *))
{
    c->step_seq = st->next_seq++;
    c->step_timer = wdfdma_dev_after(st->dev, delay, fn, event_arg(c->step_seq, c->index));
}

/* The channel an event belongs to, or NULL if the event is stale. Consumes the slot. */
static sgdma_chan *ch_take_step(sgdma *st, void *arg)
{
    sgdma_chan *c = &st->ch[event_ch(arg)];
    if (c->step_seq != event_seq(arg))
        return NULL;
    c->step_seq = 0;
    c->step_timer = 0;
    return c;
}

static void ch_cancel_events(sgdma *st, sgdma_chan *c)
{
    if (c->step_seq != 0)
        wdfdma_dev_cancel(st->dev, c->step_timer);
    if (c->irq_seq != 0)
        wdfdma_dev_cancel(st->dev, c->irq_timer);
    c->step_seq = 0;
    c->step_timer = 0;
    c->irq_seq = 0;
    c->irq_timer = 0;
    c->irq_pending = 0;
}

/* ---- interrupts --------------------------------------------------------------------- */

/* Level line: asserted while an unmasked status bit is set or a glitch pulse is on. */
static void irq_update_line(sgdma *st)
{
    if (st->msi)
        return;
    bool want = (st->int_status & ~st->int_mask & SGDMA_INT_ALL) != 0 || st->glitch;
    if (want == st->line)
        return;
    st->line = want;
    if (want)
        wdfdma_dev_irq_assert(st->dev, st->irq);
    else
        wdfdma_dev_irq_deassert(st->dev, st->irq);
}

static void ev_glitch_end(wdfdma_dev *dev, void *arg)
{
    sgdma *st = state_of(dev);
    if (st->glitch_seq != event_seq(arg))
        return;
    st->glitch_seq = 0;
    st->glitch = false;
    irq_update_line(st);
}

/* An interrupt signal with nothing behind it ("spurious-irq", "dup-irq"): an MSI message,
 * or a pulse on the line that ends after SGDMA_GLITCH_NS or when INT_STATUS is read (the
 * ISR looking at the device), whichever comes first. */
static void irq_glitch(sgdma *st, unsigned ch)
{
    if (st->msi) {
        wdfdma_dev_msi_send(st->dev, st->irq, ch);
        return;
    }
    if (st->glitch_seq != 0)
        wdfdma_dev_cancel(st->dev, st->glitch_timer);
    st->glitch = true;
    st->glitch_seq = st->next_seq++;
    st->glitch_timer = wdfdma_dev_after(st->dev, SGDMA_GLITCH_NS, ev_glitch_end,
                                        event_arg(st->glitch_seq, ch));
    irq_update_line(st);
}

/* "dup-irq": the same event is signalled a second time, SGDMA_GLITCH_NS after the first
 * (late enough that the ISR has already serviced the real one). */
static void ev_dup(wdfdma_dev *dev, void *arg)
{
    sgdma *st = state_of(dev);
    if (st->dup_seq != event_seq(arg))
        return;
    st->dup_seq = 0;
    irq_glitch(st, event_ch(arg));
}

static void irq_dup_later(sgdma *st, unsigned ch)
{
    if (st->dup_seq != 0)
        return;
    st->dup_seq = st->next_seq++;
    st->dup_timer = wdfdma_dev_after(st->dev, SGDMA_GLITCH_NS, ev_dup, event_arg(st->dup_seq, ch));
}

static void irq_glitch_clear(sgdma *st)
{
    if (!st->glitch)
        return;
    wdfdma_dev_cancel(st->dev, st->glitch_timer);
    st->glitch_seq = 0;
    st->glitch = false;
    irq_update_line(st);
}

/* Set INT_STATUS bits of channel `ch` and signal them. */
static void irq_post(sgdma *st, unsigned ch, uint32_t bits)
{
    uint32_t fresh = bits & ~st->int_status;
    st->int_status |= bits;
    wdfdma_dev_trace(st->dev, TR_IRQ[ch], bits, st->int_status);
    if (st->msi) {
        if (fresh & ~st->int_mask)
            wdfdma_dev_msi_send(st->dev, st->irq, ch);
        return;
    }
    irq_update_line(st);
}

static void ev_irq(wdfdma_dev *dev, void *arg)
{
    sgdma *st = state_of(dev);
    sgdma_chan *c = &st->ch[event_ch(arg)];
    if (c->irq_seq != event_seq(arg))
        return;
    c->irq_seq = 0;
    c->irq_timer = 0;
    uint32_t bits = c->irq_pending;
    c->irq_pending = 0;
    if (wdfdma_dev_fault(dev, "lost-irq")) {
        wdfdma_dev_trace(dev, TR_IRQ_LOST[c->index], bits, 0);
        return;
    }
    irq_post(st, c->index, bits);
    if (wdfdma_dev_fault(dev, "dup-irq"))
        irq_dup_later(st, c->index);
}

/* A channel event that interrupts (if CTRL.IE): the status bits appear after the
 * interrupt latency; events inside one latency window share one update. */
static void irq_raise(sgdma *st, sgdma_chan *c, uint32_t bits)
{
    if (!(c->ctrl & SGDMA_CTRL_IE))
        return;
    c->irq_pending |= bits;
    if (c->irq_seq != 0)
        return;
    uint64_t delay = st->irq_cost;
    if (wdfdma_dev_fault(st->dev, "late-irq"))
        delay += SGDMA_LATE_IRQ_NS;
    c->irq_seq = st->next_seq++;
    c->irq_timer = wdfdma_dev_after(st->dev, delay, ev_irq, event_arg(c->irq_seq, c->index));
}

/* ---- chain end ---------------------------------------------------------------------- */

/* IDLE <- FETCH/XFER on an error: stop, report, interrupt. */
static void ch_fail(sgdma *st, sgdma_chan *c, uint32_t status_bit)
{
    c->status = (c->status & ~SGDMA_STATUS_BUSY) | status_bit;
    c->state = CH_IDLE;
    wdfdma_dev_trace(st->dev, TR_ERROR[c->index], status_bit, c->cur);
    irq_raise(st, c, SGDMA_INT_ERROR(c->index));
    ch_assert_state(c);
}

/* IDLE <- XFER: the chain ended normally (LAST, or a short transfer). */
static void ch_finish(sgdma *st, sgdma_chan *c)
{
    c->status = (c->status & ~SGDMA_STATUS_BUSY) | SGDMA_STATUS_DONE;
    c->state = CH_IDLE;
    wdfdma_dev_trace(st->dev, TR_CHAIN_DONE[c->index], c->count, c->bytes);
    irq_raise(st, c, SGDMA_INT_DONE(c->index));
    ch_assert_state(c);
}

/* ---- descriptors -------------------------------------------------------------------- */

static int desc_write_status(sgdma *st, sgdma_chan *c, uint32_t status)
{
    uint8_t b[4];
    put_le32(b, status);
    uint64_t at = c->cur + (c->desc64 ? SGDMA_DESC64_STATUS_OFFSET : SGDMA_DESC32_STATUS_OFFSET);
    return wdfdma_dev_dma_write(st->dev, at, b, sizeof b);
}

/* A fetched descriptor failed: write its status back (best effort: the chain stops with
 * the original error either way) and stop the chain. */
static void desc_fail(sgdma *st, sgdma_chan *c, uint32_t code, uint32_t status_bit)
{
    uint32_t length = c->d.length & SGDMA_DS_RESIDUE_MASK;
    (void)desc_write_status(st, c, SGDMA_DS_DONE | SGDMA_DS_ERROR |
                                       (code << SGDMA_DS_CODE_SHIFT) | length);
    c->residue = length;
    ch_fail(st, c, status_bit);
}

/* Decode a raw descriptor; returns false if the 32-bit count word is not armed. */
static bool desc_decode(const sgdma_chan *c, const uint8_t *b, sgdma_xdesc *d)
{
    if (c->desc64) {
        d->host = le64(b);
        d->next = le64(b + 8);
        d->length = le32(b + 16);
        d->dev_offset = le32(b + 20);
        d->flags = le32(b + 24);
        return true;
    }
    uint32_t next_flags = le32(b + 4);
    uint32_t count = le32(b + 12);
    d->host = le32(b);
    d->next = next_flags & ~SGDMA_DESC32_FLAGS_MASK;
    d->flags = next_flags & SGDMA_DESC32_FLAGS_MASK;
    d->dev_offset = le32(b + 8);
    d->length = count & SGDMA_DS_RESIDUE_MASK;
    return (count & ~SGDMA_DS_RESIDUE_MASK) == 0;
}

/* SGDMA_DSERR_* for a decoded descriptor. */
static uint32_t desc_check(const sgdma *st, const sgdma_chan *c, const sgdma_xdesc *d)
{
    uint32_t dir = c->index == SGDMA_CH_FROM_DEVICE ? SGDMA_DESC_FROM_DEVICE : 0;
    if (d->flags & ~SGDMA_DESC_FLAGS)
        return SGDMA_DSERR_DESC;
    if ((d->flags & SGDMA_DESC_FROM_DEVICE) != dir)
        return SGDMA_DSERR_DESC;
    if (d->length == 0 || d->length > SGDMA_DESC_MAX_LEN)
        return SGDMA_DSERR_DESC;
    if (!(d->flags & SGDMA_DESC_LAST) && d->next % SGDMA_DESC_ALIGN != 0)
        return SGDMA_DSERR_DESC;
    if ((uint64_t)d->dev_offset + d->length > st->mem_size)
        return SGDMA_DSERR_RANGE;
    return SGDMA_DSERR_NONE;
}

static uint32_t dserr_status_bit(uint32_t code)
{
    switch (code) {
    case SGDMA_DSERR_DMA: return SGDMA_STATUS_ERR_DMA;
    case SGDMA_DSERR_RANGE: return SGDMA_STATUS_ERR_RANGE;
    default: return SGDMA_STATUS_ERR_DESC;
    }
}

static void ev_step(wdfdma_dev *dev, void *arg);

/* XFER -> FETCH (next descriptor), or XFER -> IDLE (LAST / short). */
static void desc_complete(sgdma *st, sgdma_chan *c, uint32_t residue)
{
    if (desc_write_status(st, c, SGDMA_DS_DONE | residue) != WDFDMA_DMA_OK) {
        ch_fail(st, c, SGDMA_STATUS_ERR_DMA);
        return;
    }
    c->count++;
    c->residue = residue;
    c->bytes += c->d.length - residue;
    wdfdma_dev_trace(st->dev, TR_DESC_DONE[c->index], c->d.length, residue);
    if (wdfdma_dev_fault(st->dev, "spurious-irq"))
        irq_glitch(st, c->index);
    if (residue != 0 || (c->d.flags & SGDMA_DESC_LAST)) {
        ch_finish(st, c);
        return;
    }
    if (c->d.flags & SGDMA_DESC_INTERRUPT)
        irq_raise(st, c, SGDMA_INT_DONE(c->index));
    c->cur = c->d.next;
    c->state = CH_FETCH;
    if (!st->timing) {
        /* No modelled time passes between descriptors, so the next fetch runs inside the
         * current event (ev_step loops) instead of a zero-delay event of its own: a
         * 64 KiB request over scattered pages is 16 descriptors, and an event each was
         * a heap push, a pop and a seeded tie per descriptor. The step slot stays
         * claimed (FETCH <=> step_seq != 0) with no timer behind it. */
        c->step_seq = st->next_seq++;
        c->step_timer = 0;
        c->step_inline = true;
        ch_assert_state(c);
        return;
    }
    ch_schedule_step(st, c, st->desc_cost, ev_step);
    ch_assert_state(c);
}

/* XFER: the transfer time has elapsed; move the data in one bus access straight between
 * host memory and device memory (no staging copy: this is the hot path). */
static void ch_transfer(sgdma *st, sgdma_chan *c)
{
    const sgdma_xdesc *d = &c->d;
    assert(c->state == CH_XFER);
    if (wdfdma_dev_fault(st->dev, "dma-error") || !reachable(st, d->host, d->length)) {
        desc_fail(st, c, SGDMA_DSERR_DMA, SGDMA_STATUS_ERR_DMA);
        return;
    }
    uint8_t *local = st->mem + d->dev_offset;
    uint32_t moved = d->length;
    int rc;
    if (c->index == SGDMA_CH_TO_DEVICE) {
        rc = wdfdma_dev_dma_read(st->dev, d->host, local, moved);
    } else {
        /* A short read: the device had only part of the data; the chain ends here. */
        if (wdfdma_dev_fault(st->dev, "short"))
            moved = d->length / 2;
        rc = moved == 0 ? WDFDMA_DMA_OK : wdfdma_dev_dma_write(st->dev, d->host, local, moved);
    }
    if (rc != WDFDMA_DMA_OK) {
        desc_fail(st, c, SGDMA_DSERR_DMA, SGDMA_STATUS_ERR_DMA);
        return;
    }
    desc_complete(st, c, d->length - moved);
}

static void ev_transfer(wdfdma_dev *dev, void *arg)
{
    sgdma *st = state_of(dev);
    sgdma_chan *c = ch_take_step(st, arg);
    if (c == NULL)
        return;
    ch_transfer(st, c);
}

/* FETCH -> XFER, or FETCH -> IDLE on a fetch fault or bad descriptor. */
static void ch_fetch(sgdma *st, sgdma_chan *c)
{
    wdfdma_dev *dev = st->dev;
    assert(c->state == CH_FETCH);
    size_t size = c->desc64 ? sizeof(sgdma_desc64) : sizeof(sgdma_desc32);
    uint8_t raw[sizeof(sgdma_desc64)];
    memset(&c->d, 0, sizeof c->d);
    wdfdma_dev_trace(dev, TR_FETCH[c->index], c->cur, size);
    if (c->cur % SGDMA_DESC_ALIGN != 0) {
        ch_fail(st, c, SGDMA_STATUS_ERR_DESC);
        return;
    }
    if (!reachable(st, c->cur, size) ||
        wdfdma_dev_dma_read(dev, c->cur, raw, size) != WDFDMA_DMA_OK) {
        ch_fail(st, c, SGDMA_STATUS_ERR_DMA);
        return;
    }
    bool armed = desc_decode(c, raw, &c->d);
    uint32_t code = armed ? desc_check(st, c, &c->d) : SGDMA_DSERR_DESC;
    if (code != SGDMA_DSERR_NONE) {
        desc_fail(st, c, code, dserr_status_bit(code));
        return;
    }
    c->state = CH_XFER;
    uint64_t ns = transfer_ns(st, c->d.length);
    /* Utilisation: the descriptor's fetch cost plus its data time. */
    wdfdma_dev_account_busy(dev, st->desc_cost + ns);
    if (ns == 0) {
        /* Zero transfer time: finish inside this event (still not inside the doorbell). */
        ch_transfer(st, c);
        return;
    }
    ch_schedule_step(st, c, ns, ev_transfer);
}

/* The step event; with timing=0 it walks the whole chain (desc_complete asks for the next
 * fetch inline). Only events run this: never the doorbell, so nothing moves before the
 * doorbell write returns. */
static void ev_step(wdfdma_dev *dev, void *arg)
{
    sgdma *st = state_of(dev);
    sgdma_chan *c = ch_take_step(st, arg);
    while (c != NULL) {
        c->step_inline = false;
        ch_fetch(st, c);
        if (!c->step_inline)
            break;
        c->step_seq = 0;              /* consume the inline step, as ch_take_step does */
        c->step_timer = 0;
    }
}

/* ---- channel control ---------------------------------------------------------------- */

/* IDLE -> FETCH. The doorbell only schedules: nothing moves before it returns. */
static void ch_doorbell(sgdma *st, sgdma_chan *c)
{
    if (c->state != CH_IDLE) {
        wdfdma_dev_trace(st->dev, TR_BUSY[c->index], c->cur, 0);
        return;
    }
    c->desc64 = (c->ctrl & SGDMA_CTRL_DESC64) != 0;
    c->cur = c->desc_ptr;
    c->count = 0;
    c->residue = 0;
    c->bytes = 0;
    c->status = SGDMA_STATUS_BUSY;
    c->state = CH_FETCH;
    wdfdma_dev_trace(st->dev, TR_DOORBELL[c->index], c->cur, c->desc64);
    ch_schedule_step(st, c, st->desc_cost, ev_step);
    ch_assert_state(c);
}

/* any -> IDLE, STATUS.ABORTED; the descriptor in progress is dropped, no interrupt. */
static void ch_abort(sgdma *st, sgdma_chan *c)
{
    bool was_busy = c->state != CH_IDLE;
    ch_cancel_events(st, c);
    c->state = CH_IDLE;
    c->status &= ~SGDMA_STATUS_BUSY;
    if (was_busy)
        c->status |= SGDMA_STATUS_ABORTED;
    wdfdma_dev_trace(st->dev, TR_ABORT[c->index], c->cur, was_busy);
    ch_assert_state(c);
}

/* any -> IDLE with every channel register at its reset value. */
static void ch_reset(sgdma *st, sgdma_chan *c)
{
    ch_cancel_events(st, c);
    unsigned index = c->index;
    memset(c, 0, sizeof *c);
    c->index = index;
    c->state = CH_IDLE;
    ch_assert_state(c);
}

static void device_reset(sgdma *st)
{
    for (unsigned i = 0; i < SGDMA_CHANNELS; i++)
        ch_reset(st, &st->ch[i]);
    st->int_status = 0;
    st->int_mask = 0;
    if (st->glitch_seq != 0)
        wdfdma_dev_cancel(st->dev, st->glitch_timer);
    if (st->dup_seq != 0)
        wdfdma_dev_cancel(st->dev, st->dup_timer);
    st->glitch_seq = 0;
    st->dup_seq = 0;
    st->glitch = false;
    irq_update_line(st);
}

/* ---- registers ---------------------------------------------------------------------- */

static uint32_t caps_value(const sgdma *st)
{
    return st->addr_bits | (SGDMA_CHANNELS << SGDMA_CAPS_CHANNELS_SHIFT) |
           (st->msi ? SGDMA_CAPS_MSI : 0);
}

static uint32_t ch_reg_read(const sgdma_chan *c, uint32_t reg)
{
    switch (reg) {
    case SGDMA_CH_DESC_LO: return (uint32_t)c->desc_ptr;
    case SGDMA_CH_DESC_HI: return (uint32_t)(c->desc_ptr >> 32);
    case SGDMA_CH_CTRL: return c->ctrl;
    case SGDMA_CH_STATUS: return c->status;
    case SGDMA_CH_COUNT: return c->count;
    case SGDMA_CH_RESIDUE: return c->residue;
    case SGDMA_CH_CUR_LO: return (uint32_t)c->cur;
    case SGDMA_CH_CUR_HI: return (uint32_t)(c->cur >> 32);
    case SGDMA_CH_BYTES: return c->bytes;
    default: return 0;
    }
}

static void ch_reg_write(sgdma *st, sgdma_chan *c, uint32_t reg, uint32_t v)
{
    switch (reg) {
    case SGDMA_CH_DESC_LO:
        c->desc_ptr = (c->desc_ptr & 0xFFFFFFFF00000000ull) | v;
        break;
    case SGDMA_CH_DESC_HI:
        c->desc_ptr = (c->desc_ptr & 0xFFFFFFFFull) | (uint64_t)v << 32;
        break;
    case SGDMA_CH_CTRL:
        c->ctrl = v & SGDMA_CTRL_STICKY;
        if (v & SGDMA_CTRL_RESET)
            ch_reset(st, c);
        else if (v & SGDMA_CTRL_ABORT)
            ch_abort(st, c);
        else if (v & SGDMA_CTRL_START)
            ch_doorbell(st, c);
        break;
    case SGDMA_CH_STATUS:
        c->status &= ~(v & SGDMA_STATUS_W1C);
        break;
    default:
        break;
    }
}

/* Which channel a register offset belongs to, or NULL for a global one. */
static sgdma_chan *reg_channel(sgdma *st, uint32_t off, uint32_t *reg)
{
    if (off < SGDMA_CH_BASE(0) || off >= SGDMA_CH_BASE(SGDMA_CHANNELS))
        return NULL;
    *reg = (off - SGDMA_CH_BASE(0)) % 0x40u;
    return &st->ch[(off - SGDMA_CH_BASE(0)) / 0x40u];
}

static uint32_t reg_read(sgdma *st, uint32_t off)
{
    uint32_t reg;
    sgdma_chan *c = reg_channel(st, off, &reg);
    if (c != NULL)
        return ch_reg_read(c, reg);
    switch (off) {
    case SGDMA_REG_ID: return SGDMA_ID_VALUE;
    case SGDMA_REG_VERSION: return SGDMA_VERSION_VALUE;
    case SGDMA_REG_CAPS: return caps_value(st);
    case SGDMA_REG_DEVMEM_SIZE: return (uint32_t)st->mem_size;
    case SGDMA_REG_INT_STATUS:
        /* The ISR is looking at the device: a spurious pulse ends here. */
        irq_glitch_clear(st);
        return st->int_status;
    case SGDMA_REG_INT_MASK: return st->int_mask;
    default: return 0;
    }
}

/* MSI: bits that were waiting behind the mask are signalled when unmasked. */
static void int_mask_write(sgdma *st, uint32_t v)
{
    uint32_t unmasked = st->int_mask & ~v & st->int_status;
    st->int_mask = v & SGDMA_INT_ALL;
    if (!st->msi) {
        irq_update_line(st);
        return;
    }
    for (unsigned ch = 0; ch < SGDMA_CHANNELS; ch++)
        if (unmasked & SGDMA_INT_CHANNEL(ch))
            wdfdma_dev_msi_send(st->dev, st->irq, ch);
}

static void reg_write(sgdma *st, uint32_t off, uint32_t v)
{
    uint32_t reg;
    sgdma_chan *c = reg_channel(st, off, &reg);
    if (c != NULL) {
        ch_reg_write(st, c, reg, v);
        return;
    }
    switch (off) {
    case SGDMA_REG_INT_STATUS:
        st->int_status &= ~(v & SGDMA_INT_ALL);
        irq_update_line(st);
        break;
    case SGDMA_REG_INT_MASK:
        int_mask_write(st, v);
        break;
    case SGDMA_REG_RESET:
        if (v == SGDMA_RESET_KEY) {
            wdfdma_dev_trace(st->dev, "reset", 0, 0);
            device_reset(st);
        }
        break;
    default:
        break;
    }
}

static uint64_t sgdma_mmio_read(wdfdma_dev *dev, unsigned region, uint64_t offset, unsigned width)
{
    sgdma *st = state_of(dev);
    (void)region;
    if (offset >= SGDMA_BAR0_SIZE || width > SGDMA_BAR0_SIZE - offset)
        return 0;
    uint32_t off = (uint32_t)offset;
    if (width == 8 && off % 8 == 0)
        return reg_read(st, off) | (uint64_t)reg_read(st, off + 4) << 32;
    if (width == 4 && off % 4 == 0)
        return reg_read(st, off);
    if ((width == 1 || width == 2) && (off % 4) + width <= 4) {
        uint32_t v = reg_read(st, off & ~3u) >> ((off % 4) * 8);
        return width == 1 ? (v & 0xFFu) : (v & 0xFFFFu);
    }
    return 0;
}

static void sgdma_mmio_write(wdfdma_dev *dev, unsigned region, uint64_t offset, unsigned width,
                             uint64_t value)
{
    sgdma *st = state_of(dev);
    (void)region;
    if (offset >= SGDMA_BAR0_SIZE || width > SGDMA_BAR0_SIZE - offset)
        return;
    uint32_t off = (uint32_t)offset;
    if (width == 8 && off % 8 == 0) {
        reg_write(st, off, (uint32_t)value);
        reg_write(st, off + 4, (uint32_t)(value >> 32));
    } else if (width == 4 && off % 4 == 0) {
        reg_write(st, off, (uint32_t)value);
    } else {
        /* Registers are written whole; a narrow or unaligned write changes nothing. */
        wdfdma_dev_trace(dev, "ignored-write", offset, width);
    }
}

/* ---- options and life cycle --------------------------------------------------------- */

static const char *const sgdma_option_keys[] = {
    "mem", "addr_bits", "bw", "desc_ns", "irq_ns", "timing", "msi", NULL,
};

/* One numeric option within [lo, hi]; absent leaves *out alone. */
static int opt_range(wdfdma_dev *dev, const char *options, const char *key, uint64_t lo,
                     uint64_t hi, uint64_t *out)
{
    uint64_t v;
    int rc = wdfdma_dev_opt_u64(dev, options, key, &v);
    if (rc < 0)
        return -1;
    if (rc > 0)
        return 0;
    if (v < lo || v > hi) {
        wdfdma_dev_error(dev, "sgdma: %s=%" PRIu64 " is out of range (%" PRIu64 "..%" PRIu64 ")",
                         key, v, lo, hi);
        return -1;
    }
    *out = v;
    return 0;
}

static int parse_options(sgdma *st, const char *options)
{
    wdfdma_dev *dev = st->dev;
    uint64_t mem = 1024 * 1024, addr_bits = 64, bw = 4 * NS_PER_S, desc_ns = 200,
             irq_ns = 1000, timing = 1, msi = 0;
    if (wdfdma_dev_opt_check(dev, options, sgdma_option_keys) != 0)
        return -1;
    if (opt_range(dev, options, "mem", SGDMA_MEM_MIN, SGDMA_MEM_MAX, &mem) != 0 ||
        opt_range(dev, options, "addr_bits", 32, 64, &addr_bits) != 0 ||
        opt_range(dev, options, "bw", 1, SGDMA_BW_MAX, &bw) != 0 ||
        opt_range(dev, options, "desc_ns", 0, SGDMA_DELAY_MAX, &desc_ns) != 0 ||
        opt_range(dev, options, "irq_ns", 0, SGDMA_DELAY_MAX, &irq_ns) != 0 ||
        opt_range(dev, options, "timing", 0, 1, &timing) != 0 ||
        opt_range(dev, options, "msi", 0, 1, &msi) != 0)
        return -1;
    if (addr_bits != 32 && addr_bits != 64) {
        wdfdma_dev_error(dev, "sgdma: addr_bits=%" PRIu64 " must be 32 or 64", addr_bits);
        return -1;
    }
    st->mem_size = mem;
    st->addr_bits = (unsigned)addr_bits;
    st->bw = bw;
    st->timing = timing != 0;
    st->desc_cost = st->timing ? desc_ns : 0;
    st->irq_cost = st->timing ? irq_ns : 0;
    st->msi = msi != 0;
    return 0;
}

static int sgdma_init(wdfdma_dev *dev, const char *options)
{
    sgdma *st = state_of(dev);
    st->dev = dev;
    st->next_seq = 1;
    for (unsigned i = 0; i < SGDMA_CHANNELS; i++)
        st->ch[i].index = i;
    if (parse_options(st, options) != 0)
        return -1;
    if (wdfdma_dev_declare_mmio(dev, SGDMA_BAR0_SIZE) < 0) {
        wdfdma_dev_error(dev, "sgdma: cannot declare BAR0");
        return -1;
    }
    int irq = st->msi ? wdfdma_dev_declare_irq(dev, WDFDMA_IRQ_MSI, SGDMA_CHANNELS)
                      : wdfdma_dev_declare_irq(dev, WDFDMA_IRQ_LEVEL | WDFDMA_IRQ_SHARED, 0);
    if (irq < 0) {
        wdfdma_dev_error(dev, "sgdma: cannot declare the interrupt");
        return -1;
    }
    st->irq = (unsigned)irq;
    st->mem = calloc(1, st->mem_size);
    if (st->mem == NULL) {
        wdfdma_dev_error(dev, "sgdma: cannot allocate %" PRIu64 " bytes of device memory",
                         st->mem_size);
        return -1;
    }
    device_reset(st);
    return 0;
}

static void sgdma_fini(wdfdma_dev *dev)
{
    sgdma *st = state_of(dev);
    free(st->mem);
    st->mem = NULL;
}

static void sgdma_reset(wdfdma_dev *dev)
{
    device_reset(state_of(dev));
}

static const wdfdma_device_model sgdma_model = {
    .name = SGDMA_MODEL_NAME,
    .summary = "PCI bus-master scatter/gather DMA engine, 2 channels, on-device memory",
    .hardware_id = SGDMA_HARDWARE_ID,
    .state_size = sizeof(sgdma),
    .init = sgdma_init,
    .fini = sgdma_fini,
    .reset = sgdma_reset,
    .mmio_read = sgdma_mmio_read,
    .mmio_write = sgdma_mmio_write,
};
WDFDMA_DEVICE_MODEL(sgdma_model)

uint8_t *sgdma_debug_memory(wdfdma_dev *dev, size_t *len)
{
    if (dev == NULL || strcmp(wdfdma_dev_model_name(dev), SGDMA_MODEL_NAME) != 0)
        return NULL;
    sgdma *st = state_of(dev);
    if (len != NULL)
        *len = (size_t)st->mem_size;
    return st->mem;
}
