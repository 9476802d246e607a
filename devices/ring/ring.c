/*
 * ring: audio-like stream peripheral (register map, options and timing in ring.h).
 *
 * Clock state machine:
 *
 *   STOPPED --(CONTROL.RUN 0->1: frames = 0, epoch = now)--> RUNNING
 *   RUNNING --(frame due: consume/produce one frame, schedule the next)--> RUNNING
 *   RUNNING --(CONTROL.RUN 1->0 or reset: cancel the frame event)--> STOPPED
 *
 * Frame k+1 is due at epoch + (k+1) * 1e9 / rate, computed from the epoch each time so
 * rounding never accumulates. The request line is recomputed after every FIFO change.
 * The record buffer is allocated once at init; ring_recorded() may run on a host thread,
 * so the recorded length is published with release/acquire.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wdfdma/devmodel.h"
#include "devices/ring/ring.h"

typedef struct ring {
    wdfdma_dev *dev;
    bool capture;
    uint32_t rate, frame, depth, opt_thresh;
    uint32_t line;
    bool line_level;
    bool irq_level;

    /* registers */
    uint32_t control;
    uint32_t sticky;
    uint32_t thresh;
    _Atomic uint64_t xruns;        /* host-visible (ring_xruns): atomic like the counters above */

    uint8_t fifo[RING_MAX_FIFO];
    uint32_t head, level;

    bool running;
    uint64_t epoch_ns;
    uint64_t frames;             /* frames due since RUN was set */
    wdfdma_timer_id timer;

    uint8_t *record;             /* record_cap bytes */
    size_t record_cap;
    _Atomic uint64_t recorded;   /* bytes written to record[] */
    _Atomic uint64_t stream;     /* stream bytes consumed / produced */
} ring;

static void ring_update(ring *r)
{
    bool req = (r->control & RING_CTL_DMA) != 0 &&
               (r->capture ? r->level >= r->thresh : r->depth - r->level >= r->thresh);
    if (req != r->line_level) {
        r->line_level = req;
        wdfdma_dev_dma_request(r->dev, r->line, req);
    }
    bool irq = (r->sticky & RING_ST_XRUN) && (r->control & RING_CTL_IE_XRUN);
    if (irq != r->irq_level) {
        r->irq_level = irq;
        if (irq)
            wdfdma_dev_irq_assert(r->dev, 0);
        else
            wdfdma_dev_irq_deassert(r->dev, 0);
    }
}

static void ring_record(ring *r, uint8_t b)
{
    uint64_t n = atomic_load_explicit(&r->recorded, memory_order_relaxed);
    if (n < r->record_cap) {
        r->record[n] = b;
        atomic_store_explicit(&r->recorded, n + 1, memory_order_release);
    }
}

static bool fifo_push(ring *r, uint8_t b)
{
    if (r->level == r->depth)
        return false;
    r->fifo[(r->head + r->level) % r->depth] = b;
    r->level++;
    return true;
}

static uint8_t fifo_pop(ring *r)
{
    uint8_t b = r->fifo[r->head];
    r->head = (r->head + 1) % r->depth;
    r->level--;
    return b;
}

/* ---- the frame clock ---------------------------------------------------------------- */

static void ring_playback_frame(ring *r)
{
    if (r->level < r->frame) {
        atomic_fetch_add_explicit(&r->xruns, 1, memory_order_relaxed);
        r->sticky |= RING_ST_XRUN;
        wdfdma_dev_trace(r->dev, "ring.underrun", r->frames, r->level);
        return;
    }
    for (uint32_t i = 0; i < r->frame; i++)
        ring_record(r, fifo_pop(r));
    atomic_fetch_add_explicit(&r->stream, r->frame, memory_order_relaxed);
}

static void ring_capture_frame(ring *r)
{
    uint64_t base = atomic_load_explicit(&r->stream, memory_order_relaxed);
    atomic_store_explicit(&r->stream, base + r->frame, memory_order_relaxed);
    if (r->depth - r->level < r->frame) {
        atomic_fetch_add_explicit(&r->xruns, 1, memory_order_relaxed);
        r->sticky |= RING_ST_XRUN;
        wdfdma_dev_trace(r->dev, "ring.overrun", r->frames, r->level);
        return;
    }
    for (uint32_t i = 0; i < r->frame; i++) {
        uint8_t b = ring_capture_byte(base + i);
        fifo_push(r, b);
        ring_record(r, b);
    }
}

static uint64_t frame_due_ns(const ring *r, uint64_t k)
{
    return r->epoch_ns + k * 1000000000ull / r->rate;
}

static void ring_tick(wdfdma_dev *dev, void *arg);

static void ring_schedule(ring *r)
{
    uint64_t due = frame_due_ns(r, r->frames + 1);
    uint64_t now = wdfdma_dev_now(r->dev);
    r->timer = wdfdma_dev_after(r->dev, due > now ? due - now : 0, ring_tick, r);
}

static void ring_tick(wdfdma_dev *dev, void *arg)
{
    ring *r = arg;

    (void)dev;
    r->timer = 0;
    r->frames++;
    if (r->capture)
        ring_capture_frame(r);
    else
        ring_playback_frame(r);
    ring_update(r);
    ring_schedule(r);
}

/* STOPPED -> RUNNING */
static void ring_run(ring *r)
{
    r->running = true;
    r->frames = 0;
    r->epoch_ns = wdfdma_dev_now(r->dev);
    ring_schedule(r);
}

/* RUNNING -> STOPPED */
static void ring_stop(ring *r)
{
    if (r->timer != 0)
        wdfdma_dev_cancel(r->dev, r->timer);
    r->timer = 0;
    r->running = false;
}

/* ---- registers ---------------------------------------------------------------------- */

static uint64_t ring_data_read(ring *r, unsigned width)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < width; i++) {
        if (!r->capture || r->level == 0) {
            r->sticky |= RING_ST_UNDERFLOW;
            continue;
        }
        v |= (uint64_t)fifo_pop(r) << (8u * i);
    }
    ring_update(r);
    return v;
}

static void ring_data_write(ring *r, unsigned width, uint64_t v)
{
    for (unsigned i = 0; i < width; i++)
        if (r->capture || !fifo_push(r, (uint8_t)(v >> (8u * i))))
            r->sticky |= RING_ST_OVERFLOW;
    ring_update(r);
}

static uint64_t ring_mmio_read(wdfdma_dev *dev, unsigned region, uint64_t offset, unsigned width)
{
    ring *r = wdfdma_dev_state(dev);

    (void)region;
    switch (offset) {
    case RING_REG_DATA:
        return ring_data_read(r, width);
    case RING_REG_STATUS:
        return r->sticky | (r->running ? RING_ST_RUNNING : 0) | (r->line_level ? RING_ST_REQ : 0);
    case RING_REG_CONTROL:
        return r->control;
    case RING_REG_LEVEL:
        return r->level;
    case RING_REG_THRESH:
        return r->thresh;
    case RING_REG_RATE:
        return r->rate;
    case RING_REG_FRAME:
        return r->frame;
    case RING_REG_FRAMES:
        return (uint32_t)r->frames;
    case RING_REG_XRUNS:
        return (uint32_t)atomic_load_explicit(&r->xruns, memory_order_relaxed);
    default:
        return 0;
    }
}

static void ring_write_control(ring *r, uint32_t value)
{
    bool run = (value & RING_CTL_RUN) != 0;
    r->control = value & (RING_CTL_RUN | RING_CTL_DMA | RING_CTL_IE_XRUN);
    if (run && !r->running)
        ring_run(r);
    else if (!run && r->running)
        ring_stop(r);
}

static void ring_mmio_write(wdfdma_dev *dev, unsigned region, uint64_t offset, unsigned width,
                            uint64_t value)
{
    ring *r = wdfdma_dev_state(dev);

    (void)region;
    switch (offset) {
    case RING_REG_DATA:
        ring_data_write(r, width, value);
        return;
    case RING_REG_STATUS:
        r->sticky &= ~((uint32_t)value & RING_ST_STICKY);
        break;
    case RING_REG_CONTROL:
        ring_write_control(r, (uint32_t)value);
        break;
    case RING_REG_THRESH:
        if (value >= 1 && value <= r->depth)   /* out of range: the register keeps its value */
            r->thresh = (uint32_t)value;
        break;
    default:
        return;
    }
    ring_update(r);
}

/* ---- host API ----------------------------------------------------------------------- */

static ring *host_ring(wdfdma_dev *dev)
{
    if (dev == NULL || strcmp(wdfdma_dev_model_name(dev), "ring") != 0)
        return NULL;
    return wdfdma_dev_state(dev);
}

long ring_recorded(wdfdma_dev *dev, uint64_t from, void *buf, size_t max)
{
    ring *r = host_ring(dev);
    if (r == NULL || (buf == NULL && max != 0))
        return -EINVAL;
    uint64_t have = atomic_load_explicit(&r->recorded, memory_order_acquire);
    if (from >= have)
        return 0;
    size_t n = have - from < max ? (size_t)(have - from) : max;
    memcpy(buf, r->record + from, n);
    return (long)n;
}

uint64_t ring_stream_bytes(wdfdma_dev *dev)
{
    ring *r = host_ring(dev);
    return r == NULL ? 0 : atomic_load_explicit(&r->stream, memory_order_relaxed);
}

uint64_t ring_xruns(wdfdma_dev *dev)
{
    ring *r = host_ring(dev);
    return r == NULL ? 0 : atomic_load_explicit(&r->xruns, memory_order_relaxed);
}

uint32_t ring_request_line(wdfdma_dev *dev)
{
    ring *r = host_ring(dev);
    return r == NULL ? UINT32_MAX : r->line;
}

/* ---- lifetime ----------------------------------------------------------------------- */

static void ring_reset(wdfdma_dev *dev)
{
    ring *r = wdfdma_dev_state(dev);

    ring_stop(r);
    r->control = 0;
    r->sticky = 0;
    r->thresh = r->opt_thresh;
    atomic_store_explicit(&r->xruns, 0, memory_order_relaxed);
    r->head = 0;
    r->level = 0;
    r->frames = 0;
    atomic_store_explicit(&r->recorded, 0, memory_order_release);
    atomic_store_explicit(&r->stream, 0, memory_order_relaxed);
    ring_update(r);
}

static int opt_range(wdfdma_dev *dev, const char *options, const char *key, uint64_t lo,
                     uint64_t hi, uint64_t *out)
{
    if (wdfdma_dev_opt_u64(dev, options, key, out) < 0)
        return -1;
    if (*out < lo || *out > hi) {
        wdfdma_dev_error(dev, "ring: %s=%llu is out of range %llu..%llu", key,
                         (unsigned long long)*out, (unsigned long long)lo, (unsigned long long)hi);
        return -1;
    }
    return 0;
}

static int ring_parse_dir(wdfdma_dev *dev, const char *options, bool *capture)
{
    char dir[16] = "playback";
    if (wdfdma_dev_opt_str(dev, options, "dir", dir, sizeof dir) < 0)
        return -1;
    if (strcmp(dir, "playback") != 0 && strcmp(dir, "capture") != 0) {
        wdfdma_dev_error(dev, "ring: dir=%s is neither playback nor capture", dir);
        return -1;
    }
    *capture = strcmp(dir, "capture") == 0;
    return 0;
}

static int ring_init(wdfdma_dev *dev, const char *options)
{
    static const char *const known[] = {"dir", "rate", "frame", "fifo", "thresh", "record",
                                        "controller", "channel", "line", NULL};
    ring *r = wdfdma_dev_state(dev);
    uint64_t rate = 48000, frame = 4, fifo = 256, thresh = 0, record = 65536, channel = 0;
    uint64_t line = UINT32_MAX;
    char controller[64] = "";

    r->dev = dev;
    if (wdfdma_dev_opt_check(dev, options, known) < 0 || ring_parse_dir(dev, options, &r->capture) < 0 ||
        opt_range(dev, options, "rate", 1, 1000000, &rate) < 0 ||
        opt_range(dev, options, "frame", 1, 64, &frame) < 0 ||
        opt_range(dev, options, "fifo", frame, RING_MAX_FIFO, &fifo) < 0 ||
        opt_range(dev, options, "record", 0, RING_MAX_RECORD, &record) < 0 ||
        opt_range(dev, options, "channel", 0, 1023, &channel) < 0 ||
        opt_range(dev, options, "line", 0, UINT32_MAX, &line) < 0 ||
        wdfdma_dev_opt_str(dev, options, "controller", controller, sizeof controller) < 0)
        return -1;
    thresh = frame;
    if (opt_range(dev, options, "thresh", 1, fifo, &thresh) < 0)
        return -1;
    r->rate = (uint32_t)rate;
    r->frame = (uint32_t)frame;
    r->depth = (uint32_t)fifo;
    r->opt_thresh = (uint32_t)thresh;
    r->record_cap = (size_t)record;
    if (record > 0) {
        r->record = malloc((size_t)record);
        if (r->record == NULL) {
            wdfdma_dev_error(dev, "ring: cannot allocate a %llu-byte record buffer",
                             (unsigned long long)record);
            return -1;
        }
    }
    if (wdfdma_dev_declare_mmio(dev, RING_MMIO_SIZE) < 0 ||
        wdfdma_dev_declare_irq(dev, WDFDMA_IRQ_LEVEL, 0) < 0)
        return -1;
    if (line == UINT32_MAX) {   /* no explicit line: the lowest free one */
        line = 0;
        while (line < UINT32_MAX &&
               wdfdma_machine_request_line_owner(wdfdma_dev_machine(dev), (uint32_t)line) != NULL)
            line++;
    }
    if (wdfdma_dev_declare_dma(dev, controller[0] != '\0' ? controller : NULL,
                               (uint32_t)channel, (uint32_t)line) < 0)
        return -1;
    r->line = (uint32_t)line;
    return 0;   /* the machine calls reset next: registers get their reset values there */
}

static void ring_fini(wdfdma_dev *dev)
{
    ring *r = wdfdma_dev_state(dev);
    free(r->record);
    r->record = NULL;
}

static const wdfdma_device_model ring_model = {
    .name = "ring",
    .summary = "audio-like stream peripheral (playback/capture) for looped system DMA",
    .hardware_id = RING_HARDWARE_ID,
    .state_size = sizeof(ring),
    .init = ring_init,
    .fini = ring_fini,
    .reset = ring_reset,
    .mmio_read = ring_mmio_read,
    .mmio_write = ring_mmio_write,
};
WDFDMA_DEVICE_MODEL(ring_model)
