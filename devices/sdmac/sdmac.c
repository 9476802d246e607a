/*
 * sdmac: SoC system DMA controller model (see sdmac.h for modes, timing, register map and
 * the function numbers reachable through ConfigureAdapterChannel).
 *
 * Channel state machine (each transition is performed by the function named):
 *
 *            sdmac_start                         sdmac_finish (done 0 / 1)
 *   IDLE ------------------> ACTIVE ------------------------------------> IDLE
 *    ^                        |   ^  \
 *    |                        |   +---+ sdmac_wrap (looped: done 0, wrap=true)
 *    |   sdmac_cancel_done    v sdmac_cancel / sdmac_reset
 *    +--------------------- CANCELLING
 *
 * Invariants (checked by assert_chan_state):
 *   IDLE        pos == 0 (x holds the last transfer, unused).
 *   ACTIVE      done != NULL, pos <= stop_at <= length, pos a multiple of the width.
 *   CANCELLING  done != NULL, a sdmac_cancel_done event is scheduled.
 *
 * The engine: at most one beat is in flight (s->cur >= 0). sdmac_kick grants the next
 * beat by arbitration and schedules sdmac_beat_end after the beat's cost; the beat's data
 * moves in sdmac_beat_end, then the engine re-arbitrates. A beat whose channel was
 * cancelled meanwhile (generation changed) is discarded: no data moves.
 *
 * A demand channel whose request line is low is skipped by arbitration; the engine then
 * sleeps (no event pending) until the machine reports a line change (request_changed,
 * delivered as a hardware event), which re-runs arbitration. Lines are sampled at every
 * arbitration, so a change while a beat is in flight is seen when it ends.
 */
#include <assert.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "wdfdma/devmodel.h"
#include "devices/sdmac/sdmac.h"

#define SDMAC_DEFAULT_CHANNELS 8u
#define SDMAC_DEFAULT_BW 100000000ull
#define SDMAC_DEFAULT_BEAT_NS 20ull

struct sdmac;

typedef struct sdmac_chan {
    struct sdmac *s;              /* back pointer: event callbacks get the channel */
    uint32_t index;
    uint32_t state;               /* SDMAC_STATE_* */
    uint32_t gen;                 /* bumped when a transfer stops: stale beats are dropped */
    wdfdma_sysdma_xfer x;         /* the programmed transfer (copied at start) */
    wdfdma_dev *peer;             /* device owning x.device_address */
    unsigned peer_region;
    uint64_t peer_offset;
    uint32_t pos;                 /* bytes of the current pass already moved */
    uint32_t stop_at;             /* where the pass ends: length, or a fault's midpoint */
    int stop_status;              /* status at stop_at when it is a fault: 0 short, 1 error */
    uint32_t cancel_residue;      /* CANCELLING: residue reported with done(2) */
    uint32_t burst;               /* elements per beat */
    uint32_t priority;            /* 0..3, 3 highest */
    uint64_t wraps;
} sdmac_chan;

typedef struct sdmac {
    wdfdma_dev *dev;
    uint32_t nchan;
    uint64_t bw;                  /* bytes per second */
    uint64_t beat_ns;
    uint32_t reset_burst;
    unsigned irq;
    uint32_t error_bits;
    uint64_t beats;
    int cur;                      /* channel owning the beat in flight, -1 none */
    uint32_t cur_gen;
    uint32_t cur_bytes;
    uint32_t last_served;         /* round-robin position */
    uint8_t buf[SDMAC_MAX_BURST * 8u];   /* one beat of data: no allocation per beat */
    sdmac_chan ch[SDMAC_MAX_CHANNELS];
} sdmac;

static void sdmac_kick(sdmac *s);

/* ---- channel state ------------------------------------------------------------------ */

static void assert_chan_state(const sdmac_chan *c)
{
    switch (c->state) {
    case SDMAC_STATE_IDLE:
        assert(c->pos == 0);
        break;
    case SDMAC_STATE_ACTIVE:
        assert(c->x.done != NULL);
        assert(c->pos <= c->stop_at && c->stop_at <= c->x.length);
        assert(c->pos % c->x.width_bytes == 0);
        break;
    case SDMAC_STATE_CANCELLING:
        assert(c->x.done != NULL);
        break;
    default:
        assert(!"bad sdmac channel state");
    }
}

/* Every transition is a trace record, so a bug-check report's trace tail shows the last
 * states of the channels involved. */
static void chan_set_state(sdmac_chan *c, uint32_t state)
{
    c->state = state;
    wdfdma_dev_trace(c->s->dev, "sdmac.state", c->index, state);
}

static uint32_t chan_residue(const sdmac_chan *c)
{
    switch (c->state) {
    case SDMAC_STATE_ACTIVE:
        return c->x.length - c->pos;
    case SDMAC_STATE_CANCELLING:
        return c->cancel_residue;
    default:
        return 0;
    }
}

static void sdmac_update_irq(sdmac *s)
{
    if (s->error_bits != 0)
        wdfdma_dev_irq_assert(s->dev, s->irq);
    else
        wdfdma_dev_irq_deassert(s->dev, s->irq);
}

/* ACTIVE -> IDLE. Calls done last, with the channel idle, so the callback may start the
 * next transfer on this channel. */
static void sdmac_finish(sdmac *s, sdmac_chan *c, int status)
{
    wdfdma_sysdma_xfer x = c->x;
    uint32_t residue = c->x.length - c->pos;

    if (status == 1) {
        s->error_bits |= 1u << c->index;
        sdmac_update_irq(s);
    }
    c->gen++;
    c->pos = 0;
    chan_set_state(c, SDMAC_STATE_IDLE);
    wdfdma_dev_trace(s->dev, "sdmac.done", c->index, ((uint64_t)(unsigned)status << 32) | residue);
    x.done(x.ctx, status, residue, false);
}

/* ACTIVE -> ACTIVE at the end of a looped pass. */
static void sdmac_wrap(sdmac *s, sdmac_chan *c)
{
    c->pos = 0;
    c->stop_at = c->x.length;
    c->wraps++;
    wdfdma_dev_trace(s->dev, "sdmac.wrap", c->index, c->wraps);
    c->x.done(c->x.ctx, 0, 0, true);
}

/* CANCELLING -> IDLE, in hardware context after cancel() returned. */
static void sdmac_cancel_done(wdfdma_dev *dev, void *arg)
{
    sdmac_chan *c = arg;
    wdfdma_sysdma_xfer x = c->x;
    uint32_t residue = c->cancel_residue;

    (void)dev;
    assert_chan_state(c);
    assert(c->state == SDMAC_STATE_CANCELLING);
    c->cancel_residue = 0;
    chan_set_state(c, SDMAC_STATE_IDLE);
    wdfdma_dev_trace(c->s->dev, "sdmac.done", c->index, (2ull << 32) | residue);
    x.done(x.ctx, 2, residue, false);
}

/* ACTIVE -> CANCELLING: stop moving at once (a beat in flight is dropped) and schedule
 * the cancelled notification. Returns the residue it will report. */
static uint32_t sdmac_stop(sdmac *s, sdmac_chan *c)
{
    c->cancel_residue = c->x.length - c->pos;
    c->gen++;
    c->pos = 0;
    chan_set_state(c, SDMAC_STATE_CANCELLING);
    wdfdma_dev_after(s->dev, 0, sdmac_cancel_done, c);
    return c->cancel_residue;
}

/* ---- data movement ------------------------------------------------------------------ */

static uint64_t load_le(const uint8_t *p, uint32_t width)
{
    uint64_t v = 0;
    for (uint32_t i = 0; i < width; i++)
        v |= (uint64_t)p[i] << (8u * i);
    return v;
}

static void store_le(uint8_t *p, uint32_t width, uint64_t v)
{
    for (uint32_t i = 0; i < width; i++)
        p[i] = (uint8_t)(v >> (8u * i));
}

/* Move `bytes` at the channel's position. Returns 0, or -1 on a memory-side fault. */
static int sdmac_move(sdmac *s, sdmac_chan *c, uint32_t bytes)
{
    const uint32_t w = c->x.width_bytes;
    const uint64_t logical = c->x.logical + c->pos;

    if (bytes == 0)
        return 0;
    if (c->x.to_device) {
        if (wdfdma_dev_dma_read(s->dev, logical, s->buf, bytes) != WDFDMA_DMA_OK)
            return -1;
        for (uint32_t i = 0; i < bytes; i += w)
            wdfdma_dev_peer_write(c->peer, c->peer_region, c->peer_offset, w,
                                  load_le(s->buf + i, w));
    } else {
        for (uint32_t i = 0; i < bytes; i += w)
            store_le(s->buf + i, w, wdfdma_dev_peer_read(c->peer, c->peer_region, c->peer_offset, w));
        if (wdfdma_dev_dma_write(s->dev, logical, s->buf, bytes) != WDFDMA_DMA_OK)
            return -1;
    }
    c->pos += bytes;
    return 0;
}

/* ---- the engine --------------------------------------------------------------------- */

static bool chan_ready(sdmac *s, const sdmac_chan *c)
{
    if (c->state != SDMAC_STATE_ACTIVE)
        return false;
    if (!c->x.demand_mode)
        return true;
    return wdfdma_machine_dma_request_asserted(wdfdma_dev_machine(s->dev), c->x.request_line);
}

/* Highest priority first; among equals, the first after the channel served last. */
static int sdmac_arbitrate(sdmac *s)
{
    int best = -1;
    for (uint32_t k = 1; k <= s->nchan; k++) {
        uint32_t i = (s->last_served + k) % s->nchan;
        const sdmac_chan *c = &s->ch[i];
        if (!chan_ready(s, c))
            continue;
        if (best < 0 || c->priority > s->ch[best].priority)
            best = (int)i;
    }
    return best;
}

static uint64_t beat_cost_ns(const sdmac *s, uint32_t bytes)
{
    return s->beat_ns + ((uint64_t)bytes * 1000000000ull + s->bw - 1) / s->bw;
}

static void sdmac_beat_end(wdfdma_dev *dev, void *arg)
{
    sdmac *s = arg;
    sdmac_chan *c = &s->ch[s->cur];
    int outcome = -1;   /* -1 continue, 0/1 finish with that status, 2 wrap */

    (void)dev;
    if (c->state == SDMAC_STATE_ACTIVE && c->gen == s->cur_gen) {
        s->beats++;
        if (sdmac_move(s, c, s->cur_bytes) < 0)
            outcome = 1;
        else if (c->pos == c->stop_at && c->stop_at < c->x.length)
            outcome = c->stop_status;
        else if (c->pos == c->x.length)
            outcome = c->x.looped ? 2 : 0;
    }
    /* Release the engine before any callback: done() may start a transfer (and kick). */
    s->cur = -1;
    if (outcome == 0 || outcome == 1)
        sdmac_finish(s, c, outcome);
    else if (outcome == 2)
        sdmac_wrap(s, c);
    sdmac_kick(s);
}

/* Grant the next beat if the engine is free. Idempotent: safe from any hook. */
static void sdmac_kick(sdmac *s)
{
    if (s->cur >= 0)
        return;
    int i = sdmac_arbitrate(s);
    if (i < 0)
        return;   /* idle until a start or a request line change */
    sdmac_chan *c = &s->ch[i];
    uint32_t bytes = c->burst * c->x.width_bytes;
    if (bytes > c->stop_at - c->pos)
        bytes = c->stop_at - c->pos;
    s->cur = i;
    s->cur_gen = c->gen;
    s->cur_bytes = bytes;
    s->last_served = (uint32_t)i;
    wdfdma_dev_after(s->dev, beat_cost_ns(s, bytes), sdmac_beat_end, s);
}

/* ---- sysdma ops --------------------------------------------------------------------- */

static sdmac *ctrl_state(wdfdma_dev *ctrl)
{
    return wdfdma_dev_state(ctrl);
}

static int check_xfer(sdmac *s, const wdfdma_sysdma_xfer *x)
{
    const uint32_t w = x->width_bytes;
    if (w != 1 && w != 2 && w != 4 && w != 8)
        return -EINVAL;
    if (x->length == 0 || x->length % w != 0 || x->logical % w != 0 || x->done == NULL)
        return -EINVAL;
    if (x->demand_mode &&
        wdfdma_machine_request_line_owner(wdfdma_dev_machine(s->dev), x->request_line) == NULL)
        return -EINVAL;
    return 0;
}

/* IDLE -> ACTIVE. */
static int sdmac_start(wdfdma_dev *ctrl, uint32_t channel, const wdfdma_sysdma_xfer *x)
{
    sdmac *s = ctrl_state(ctrl);
    if (x == NULL || channel >= s->nchan)
        return -EINVAL;
    int rc = check_xfer(s, x);
    if (rc < 0)
        return rc;
    sdmac_chan *c = &s->ch[channel];
    if (c->state != SDMAC_STATE_IDLE)
        return -EBUSY;
    unsigned region;
    uint64_t offset;
    wdfdma_dev *peer = wdfdma_machine_device_at(wdfdma_dev_machine(ctrl), x->device_address,
                                                &region, &offset);
    if (peer == NULL)
        return -ENXIO;

    assert_chan_state(c);
    c->x = *x;
    c->peer = peer;
    c->peer_region = region;
    c->peer_offset = offset;
    c->pos = 0;
    c->wraps = 0;
    c->stop_at = x->length;
    c->stop_status = 0;
    /* Faults are decided once per transfer and strike at its midpoint. */
    uint32_t mid = (x->length / 2u) / x->width_bytes * x->width_bytes;
    if (wdfdma_dev_fault(ctrl, "dma-error")) {
        c->stop_at = mid;
        c->stop_status = 1;
    } else if (wdfdma_dev_fault(ctrl, "short")) {
        c->stop_at = mid;
        c->stop_status = 0;
    }
    chan_set_state(c, SDMAC_STATE_ACTIVE);
    wdfdma_dev_trace(ctrl, "sdmac.start", channel, x->length);
    /* Tell a demand peripheral its channel is armed (DACK-style; optional for it). */
    if (x->demand_mode)
        wdfdma_dev_dma_request_ack(ctrl, x->request_line);
    sdmac_kick(s);
    return 0;
}

static uint32_t sdmac_cancel(wdfdma_dev *ctrl, uint32_t channel)
{
    sdmac *s = ctrl_state(ctrl);
    if (channel >= s->nchan)
        return 0;
    sdmac_chan *c = &s->ch[channel];
    assert_chan_state(c);
    if (c->state != SDMAC_STATE_ACTIVE)
        return chan_residue(c);
    return sdmac_stop(s, c);
}

static uint32_t sdmac_residue(wdfdma_dev *ctrl, uint32_t channel)
{
    sdmac *s = ctrl_state(ctrl);
    if (channel >= s->nchan)
        return 0;
    return chan_residue(&s->ch[channel]);
}

static int sdmac_configure(wdfdma_dev *ctrl, uint32_t channel, uint32_t function, void *context)
{
    sdmac *s = ctrl_state(ctrl);
    if (channel >= s->nchan)
        return -EINVAL;
    sdmac_chan *c = &s->ch[channel];
    const uint32_t *arg = context;

    switch (function) {
    case SDMAC_FN_BURST:
        if (arg == NULL || *arg == 0 || *arg > SDMAC_MAX_BURST)
            return -EINVAL;
        c->burst = *arg;
        return 0;
    case SDMAC_FN_PRIORITY:
        if (arg == NULL || *arg > 3)
            return -EINVAL;
        c->priority = *arg;
        return 0;
    case SDMAC_FN_RESET:
        if (c->state != SDMAC_STATE_IDLE)
            return -EBUSY;
        c->burst = s->reset_burst;
        c->priority = 0;
        c->wraps = 0;
        s->error_bits &= ~(1u << channel);
        sdmac_update_irq(s);
        return 0;
    default:
        return -ENOTSUP;
    }
}

/* A peripheral's request line changed (hardware event from the machine). */
static void sdmac_request_changed(wdfdma_dev *ctrl, uint32_t request_line, bool asserted)
{
    (void)request_line;
    if (asserted)
        sdmac_kick(ctrl_state(ctrl));
}

/* `channels` is the model's maximum (what a peripheral may declare); an instance has
 * channels=N of them (CHANNELS register) and start() fails with -EINVAL above that. */
static const wdfdma_sysdma_ops sdmac_sysdma_ops = {
    .channels = SDMAC_MAX_CHANNELS,
    .start = sdmac_start,
    .cancel = sdmac_cancel,
    .residue = sdmac_residue,
    .configure = sdmac_configure,
    .request_changed = sdmac_request_changed,
};

/* ---- registers ---------------------------------------------------------------------- */

static uint32_t chan_state_reg(const sdmac_chan *c)
{
    uint32_t config = (c->priority & 3u) << 12 | (c->burst & 0xFFu) << 16;
    if (c->state == SDMAC_STATE_IDLE)
        return config;
    return config | c->state | (uint32_t)c->x.demand_mode << 2 | (uint32_t)c->x.looped << 3 |
           (uint32_t)c->x.to_device << 4 | (c->x.width_bytes & 0xFu) << 8;
}

static uint32_t sdmac_reg_read(sdmac *s, uint64_t reg)
{
    switch (reg) {
    case SDMAC_REG_ID:
        return SDMAC_ID_VALUE;
    case SDMAC_REG_CHANNELS:
        return s->nchan;
    case SDMAC_REG_BUSY: {
        uint32_t busy = 0;
        for (uint32_t i = 0; i < s->nchan; i++)
            if (s->ch[i].state != SDMAC_STATE_IDLE)
                busy |= 1u << i;
        return busy;
    }
    case SDMAC_REG_ERROR:
        return s->error_bits;
    case SDMAC_REG_BEATS:
        return (uint32_t)s->beats;
    default:
        break;
    }
    if (reg < SDMAC_REG_CHAN_BASE)
        return 0;
    uint64_t i = (reg - SDMAC_REG_CHAN_BASE) / SDMAC_REG_CHAN_STRIDE;
    if (i >= s->nchan)
        return 0;
    const sdmac_chan *c = &s->ch[i];
    switch ((reg - SDMAC_REG_CHAN_BASE) % SDMAC_REG_CHAN_STRIDE) {
    case SDMAC_CH_RESIDUE:
        return chan_residue(c);
    case SDMAC_CH_STATE:
        return chan_state_reg(c);
    case SDMAC_CH_WRAPS:
        return (uint32_t)c->wraps;
    default:
        return c->state == SDMAC_STATE_IDLE ? 0 : c->x.request_line;
    }
}

/* Sub-word reads return the addressed bytes of the 32-bit register. */
static uint64_t sdmac_mmio_read(wdfdma_dev *dev, unsigned region, uint64_t offset, unsigned width)
{
    sdmac *s = wdfdma_dev_state(dev);
    (void)region;
    uint64_t v = sdmac_reg_read(s, offset & ~3ull) >> (8u * (offset & 3u));
    if (width == 8)
        v |= (uint64_t)sdmac_reg_read(s, (offset & ~3ull) + 4) << 32;
    return width >= 8 ? v : v & ((1ull << (8u * width)) - 1);
}

static void sdmac_mmio_write(wdfdma_dev *dev, unsigned region, uint64_t offset, unsigned width,
                             uint64_t value)
{
    sdmac *s = wdfdma_dev_state(dev);
    (void)region;
    (void)width;
    if (offset == SDMAC_REG_ERROR) {
        s->error_bits &= ~(uint32_t)value;
        sdmac_update_irq(s);
    }
}

/* ---- lifetime ----------------------------------------------------------------------- */

static void sdmac_reset(wdfdma_dev *dev)
{
    sdmac *s = wdfdma_dev_state(dev);
    for (uint32_t i = 0; i < s->nchan; i++) {
        sdmac_chan *c = &s->ch[i];
        if (c->state == SDMAC_STATE_ACTIVE)
            sdmac_stop(s, c);
        c->burst = s->reset_burst;
        c->priority = 0;
    }
    s->error_bits = 0;
    s->beats = 0;
    sdmac_update_irq(s);
}

static int sdmac_opt_range(wdfdma_dev *dev, const char *options, const char *key,
                           uint64_t lo, uint64_t hi, uint64_t *out)
{
    int rc = wdfdma_dev_opt_u64(dev, options, key, out);
    if (rc < 0)
        return -1;
    if (*out < lo || *out > hi) {
        wdfdma_dev_error(dev, "sdmac: %s=%llu is out of range %llu..%llu", key,
                         (unsigned long long)*out, (unsigned long long)lo, (unsigned long long)hi);
        return -1;
    }
    return 0;
}

static int sdmac_init(wdfdma_dev *dev, const char *options)
{
    static const char *const known[] = {"channels", "bw", "beat_ns", "burst", NULL};
    sdmac *s = wdfdma_dev_state(dev);
    uint64_t channels = SDMAC_DEFAULT_CHANNELS, bw = SDMAC_DEFAULT_BW;
    uint64_t beat_ns = SDMAC_DEFAULT_BEAT_NS, burst = 1;

    if (wdfdma_dev_opt_check(dev, options, known) < 0)
        return -1;
    if (sdmac_opt_range(dev, options, "channels", 1, SDMAC_MAX_CHANNELS, &channels) < 0 ||
        sdmac_opt_range(dev, options, "bw", 1000, 1000000000000ull, &bw) < 0 ||
        sdmac_opt_range(dev, options, "beat_ns", 0, 1000000000ull, &beat_ns) < 0 ||
        sdmac_opt_range(dev, options, "burst", 1, SDMAC_MAX_BURST, &burst) < 0)
        return -1;
    s->dev = dev;
    s->nchan = (uint32_t)channels;
    s->bw = bw;
    s->beat_ns = beat_ns;
    s->reset_burst = (uint32_t)burst;
    s->cur = -1;
    s->last_served = s->nchan - 1;   /* channel 0 is served first */
    for (uint32_t i = 0; i < SDMAC_MAX_CHANNELS; i++) {
        s->ch[i].s = s;
        s->ch[i].index = i;
        s->ch[i].burst = s->reset_burst;
    }
    if (wdfdma_dev_declare_mmio(dev, SDMAC_MMIO_SIZE) < 0)
        return -1;
    int irq = wdfdma_dev_declare_irq(dev, WDFDMA_IRQ_LEVEL, 0);
    if (irq < 0)
        return -1;
    s->irq = (unsigned)irq;
    return 0;
}

static const wdfdma_device_model sdmac_model = {
    .name = "sdmac",
    .summary = "SoC system DMA controller: channels, request lines, demand/block/looped",
    .hardware_id = SDMAC_HARDWARE_ID,
    .state_size = sizeof(sdmac),
    .init = sdmac_init,
    .reset = sdmac_reset,
    .mmio_read = sdmac_mmio_read,
    .mmio_write = sdmac_mmio_write,
    .sysdma = &sdmac_sysdma_ops,
};
WDFDMA_DEVICE_MODEL(sdmac_model)
