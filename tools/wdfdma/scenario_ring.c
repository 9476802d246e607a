/*
 * The ring scenario: the ring sample KMDF driver (drivers/ring, one looped system DMA
 * transfer over a common-buffer ring) on --devices capture streams sharing ONE sdmac
 * controller with 8 channels (device k on channel k mod 8).
 *
 * Workload. Each device's stream is started (IOCTL_RING_START), read in reads of half a
 * ring (two outstanding) until --count wraps' worth of bytes arrived, then stopped
 * (IOCTL_RING_STOP completes once the controller reported the stop). A looped transfer
 * holds its channel until it stops, so with more devices than channels the streams run
 * in waves of one stream per channel.
 *
 * Verification. Capture byte i of the stream is ring_capture_byte(i): every byte read must
 * be exactly that (nothing lost, repeated or misplaced), and equal to what the device
 * recorded it produced (ring_recorded). The driver's statistics must show the wraps and
 * no lost bytes. Under --faults a read that fails or comes back short counts in
 * failed_requests and its bytes are not checked; the driver's wrap and loss figures are
 * not held to account either (a fault may stop the stream); every byte that did arrive
 * in a successful read must still be the stream's — until a read of that device fails or
 * is refused: the bytes it would have taken go to the next read, so from then on the
 * device's stream offsets are unknown and its data is not compared.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "devices/ring/ring.h"
#include "machine/internal.h"
#include "run.h"
#include "session.h"
#include "wdfdma/dma.h"
#include "wdfdma/framework.h"
#include "wdfdma/host.h"
#include "wdfdma/io.h"
#include "wdfdma/machine.h"
#include "wdfdma/registry.h"

#define RING_CONTROLLER_CHANNELS 8u
#define RING_DEFAULT_BYTES 4096u
#define RING_DEFAULT_WRAPS 8u
#define RING_MIN_BYTES 1024u       /* the driver's range (drivers/ring/ring.c) */
#define RING_MAX_BYTES 65536u
#define RING_OUTSTANDING 2u
#define RING_BYTES_PER_S (48000u * 4u) /* the capture stream: 48 kHz, 4-byte frames */
#define RING_MARGIN_NS 100000000ull    /* 100 ms of machine time */

/* The driver's I/O controls (drivers/ring/ring.h): CTL_CODE(0x8001, fn, BUFFERED, ANY). */
#define RING_CTL(fn) ((0x8001u << 16) | ((fn) << 2))
#define IOCTL_RING_START RING_CTL(0x800u)
#define IOCTL_RING_STOP RING_CTL(0x801u)
#define IOCTL_RING_GET_STATS RING_CTL(0x802u)

typedef struct ring_stats {         /* RING_STATS */
    uint64_t wraps, stream_bytes, served_bytes, lost_bytes;
    uint32_t ring_bytes, running;
} ring_stats;

struct ring_run;

typedef struct ring_read {
    struct ring_run *run;
    unsigned device;
    uint64_t stream;                /* stream offset of its first byte */
    uint8_t *buf;
    bool busy;
    bool cancellable;               /* op published and not completed (under run->lock) */
    wdfdma_io *op;                  /* valid while busy */
} ring_read;

typedef struct ring_slot {
    wdfdma_dev *dev;
    wdfdma_file *f;
    uint64_t issued;                /* stream bytes asked for */
    uint64_t received;
    ring_read rd[RING_OUTSTANDING];
    bool desync;                    /* a fault lost a read: stream offsets no longer match */
    /* Wrong bytes in reads, held until check_device: bytes the driver reports lost to an
     * overrun shift the stream too (the threads engine's device runs in real time and a
     * loaded host can fall behind it), and a fault plan tolerates that. */
    uint64_t mismatches;
    uint64_t first_bad_stream;      /* stream offset of the first wrong byte */
} ring_slot;

typedef struct ring_run {
    /* Completions run on processor threads on the threads engine (several at once, one
     * per device's DPC): they and the issuing thread share the reads, counters and
     * results under this lock. Recursive: a cancel or a submission can complete a read
     * on the calling thread. */
    pthread_mutex_t lock;
    const cli_run_options *o;
    cli_result *res;
    wdfdma_machine *m;
    unsigned ndev;
    uint32_t ring_bytes, chunk;
    uint64_t total;                 /* stream bytes per device */
    ring_slot *slots;
    unsigned pending;
    unsigned reports;
    bool faults;                    /* a fault plan is in force: failures are expected */
    uint64_t done_bytes;            /* for the progress bar */
} ring_run;

int cli_check_ring(const cli_run_options *o, char *err, size_t err_len)
{
    if (o->size && (o->size < RING_MIN_BYTES || o->size > RING_MAX_BYTES || o->size % 8)) {
        snprintf(err, err_len, "--size %" PRIu64 ": the ring takes %u..%u bytes, a multiple "
                 "of 8", o->size, RING_MIN_BYTES, RING_MAX_BYTES);
        return CLI_USAGE;
    }
    return 0;
}

static void report(ring_run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void report(ring_run *r, const char *fmt, ...)
{
    if (r->reports++ >= 8)
        return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "wdfdma: ring: ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

/* ---- the machine ----------------------------------------------------------------------- */

static int add_ring(ring_run *r, wdfdma_driver *drv, unsigned k)
{
    char name[32], opts[96];
    snprintf(name, sizeof(name), "ring%u", k);
    snprintf(opts, sizeof(opts), "dir=capture,rate=48000,frame=4,channel=%u",
             k % RING_CONTROLLER_CHANNELS);
    if (wdfdma_machine_add_device(r->m, "ring", name, opts, &r->slots[k].dev) != 0 ||
        wdfdma_registry_set_ulong(r->m, name, "device", "Playback", 0) != 0 ||
        wdfdma_registry_set_ulong(r->m, name, "device", "RingBytes", r->ring_bytes) != 0 ||
        wdfdma_device_bind(r->slots[k].dev, drv) != 0 ||
        wdfdma_open(r->m, name, &r->slots[k].f) != 0)
        return -1;
    return 0;
}

static int start_machine(ring_run *r)
{
    wdfdma_driver *drv;
    if (cli_system_machine(r->o, "ring", &r->m, &drv) != 0)
        return -1;
    for (unsigned k = 0; k < r->ndev; k++)
        if (add_ring(r, drv, k) != 0)
            goto err;
    return cli_machine_started(r->m, r->o, NULL, NULL);
err:
    fprintf(stderr, "wdfdma: ring: %s\n", wdfdma_last_error());
    return -1;
}

/* ---- reading the streams ----------------------------------------------------------------- */

static void verify_read(ring_run *r, ring_read *rd, size_t got)
{
    uint64_t bad = 0;
    size_t first = 0;
    for (size_t i = 0; i < got; i++)
        if (rd->buf[i] != ring_capture_byte(rd->stream + i) && bad++ == 0)
            first = i;
    ring_slot *s = &r->slots[rd->device];
    if (bad && s->mismatches == 0)
        s->first_bad_stream = rd->stream + first;
    s->mismatches += bad;
}

static void on_read(void *ctx, int32_t status, size_t information)
{
    ring_read *rd = ctx;
    ring_run *r = rd->run;
    pthread_mutex_lock(&r->lock);
    r->res->requests++;
    r->res->reads++;
    r->res->bytes += information;
    bool ok = status >= 0 && information == r->chunk;
    if (!ok && r->faults) {
        r->res->failed_requests++;
        r->slots[rd->device].desync = true;
    } else if (!ok) {
        report(r, "ring%u: read at %" PRIu64 " ended with status %#x, %zu bytes", rd->device,
               rd->stream, (unsigned)status, information);
        r->res->errors++;
    }
    if (!r->slots[rd->device].desync)
        verify_read(r, rd, information);
    r->done_bytes += r->chunk;
    cli_progress(r->done_bytes, r->total * r->ndev);
    r->slots[rd->device].received += information;
    rd->busy = false;
    rd->cancellable = false;
    r->pending--;
    pthread_mutex_unlock(&r->lock);
}

/* The lock is not held across a submission: the driver may complete another read on a
 * processor thread meanwhile, inside its own locks. */
static void issue_reads(ring_run *r, unsigned k)
{
    ring_slot *s = &r->slots[k];
    pthread_mutex_lock(&r->lock);
    for (unsigned i = 0; i < RING_OUTSTANDING && s->issued < r->total; i++) {
        ring_read *rd = &s->rd[i];
        if (rd->busy)
            continue;
        *rd = (ring_read){.run = r, .device = k, .stream = s->issued, .buf = rd->buf,
                          .busy = true};
        s->issued += r->chunk;
        r->pending++;
        pthread_mutex_unlock(&r->lock);
        wdfdma_io *op = NULL;
        int rc = wdfdma_read_async(s->f, rd->buf, r->chunk, 0, on_read, rd, &op);
        pthread_mutex_lock(&r->lock);
        if (rc == 0) {
            rd->op = op;
            rd->cancellable = rd->busy;   /* not if it completed already */
        } else {
            if (r->faults) {
                r->res->failed_requests++;
                s->desync = true;
            } else {
                report(r, "ring%u: read could not be issued: %s", k, wdfdma_last_error());
                r->res->errors++;
            }
            rd->busy = false;
            r->pending--;
            s->issued = r->total;
        }
    }
    pthread_mutex_unlock(&r->lock);
}

static int ioctl_range(ring_run *r, unsigned lo, unsigned hi, uint32_t code)
{
    for (unsigned k = lo; k < hi; k++) {
        int32_t st;
        size_t info;
        if (wdfdma_ioctl(r->slots[k].f, code, NULL, 0, NULL, 0, &st, &info) != 0 || st < 0) {
            if (r->faults) {
                r->res->failed_requests++;
                continue;
            }
            report(r, "ring%u: ioctl %#x failed (status %#x)", k, code, (unsigned)st);
            r->res->errors++;
            return -1;
        }
    }
    return 0;
}

/* Under the lock, so a read cannot complete (and its op be reused) while it is picked. */
static void cancel_reads(ring_run *r)
{
    pthread_mutex_lock(&r->lock);
    for (unsigned k = 0; k < r->ndev; k++) {
        r->slots[k].issued = r->total;      /* no new reads after a stall */
        for (unsigned i = 0; i < RING_OUTSTANDING; i++)
            if (r->slots[k].rd[i].cancellable)
                (void)wdfdma_cancel(r->slots[k].rd[i].op);
    }
    pthread_mutex_unlock(&r->lock);
}

static unsigned pending_reads(ring_run *r)
{
    return cli_locked_unsigned(&r->lock, &r->pending);
}

/* One wave: streams lo..hi-1 run together from start to stop. */
static int run_wave(ring_run *r, unsigned lo, unsigned hi)
{
    if (ioctl_range(r, lo, hi, IOCTL_RING_START) != 0)
        return -1;
    /* The stream never stops by itself, so a read that cannot be served does not leave
     * the machine idle: bound the run by machine time, ten times the stream's own length
     * plus a margin. */
    uint64_t stream_ns = r->total * 1000000000ull / RING_BYTES_PER_S;
    uint64_t budget = 10 * stream_ns + RING_MARGIN_NS;
    uint64_t deadline = wdfdma_machine_now(r->m) + budget;
    bool cancelled = false;
    for (;;) {
        for (unsigned k = lo; k < hi; k++)
            issue_reads(r, k);
        if (pending_reads(r) == 0)
            break;
        if (wdfdma_machine_now(r->m) < deadline && wdfdma_machine_step(r->m))
            continue;
        if (r->faults && !cancelled) {
            /* A fault stopped a stream: its reads wait for bytes that will not come.
             * Cancel them, as an application's timeout would; they must then complete. */
            cancel_reads(r);
            cancelled = true;
            deadline = wdfdma_machine_now(r->m) + budget;
            continue;
        }
        report(r, "%u reads never completed", pending_reads(r));
        r->res->errors++;
        return -1;
    }
    return ioctl_range(r, lo, hi, IOCTL_RING_STOP);
}

/* A looped transfer holds its controller channel until it is stopped, so with more
 * streams than channels the streams take turns: waves of at most one stream per channel
 * (a stream queued behind a looped one would wait for ever). */
static int run_streams(ring_run *r)
{
    for (unsigned lo = 0; lo < r->ndev; lo += RING_CONTROLLER_CHANNELS) {
        unsigned hi = lo + RING_CONTROLLER_CHANNELS < r->ndev ? lo + RING_CONTROLLER_CHANNELS
                                                             : r->ndev;
        if (run_wave(r, lo, hi) != 0)
            return -1;
    }
    return 0;
}

/* The driver's view (wraps, lost bytes) and the device's (what it produced). */
static void check_device(ring_run *r, unsigned k, uint8_t *scratch)
{
    ring_slot *s = &r->slots[k];
    ring_stats st = {0};
    int32_t status;
    size_t info;
    if (wdfdma_ioctl(s->f, IOCTL_RING_GET_STATS, NULL, 0, &st, sizeof(st), &status, &info) != 0 ||
        status < 0 || info != sizeof(st)) {
        if (r->faults) {
            r->res->failed_requests++;
            return;
        }
        report(r, "ring%u: statistics unavailable", k);
        r->res->errors++;
        return;
    }
    r->res->transfers += st.wraps;
    if (s->mismatches && !(r->faults && st.lost_bytes)) {
        report(r, "ring%u: %" PRIu64 " bytes wrong in its reads, the first at stream offset "
               "%" PRIu64, k, s->mismatches, s->first_bad_stream);
        r->res->data_mismatches += s->mismatches;
    }
    if (!r->faults && (st.lost_bytes || st.running || st.wraps + 1 < r->total / r->ring_bytes)) {
        report(r, "ring%u: %" PRIu64 " wraps, %" PRIu64 " bytes lost, running %u", k, st.wraps,
               st.lost_bytes, st.running);
        r->res->errors++;
    }
    long n = ring_recorded(s->dev, 0, scratch, (size_t)r->total);
    for (long i = 0; i < n; i++)
        if (scratch[i] != ring_capture_byte((uint64_t)i)) {
            report(r, "ring%u: the device recorded a wrong byte at %ld", k, i);
            r->res->data_mismatches++;
            break;
        }
}

/* ---- the scenario -------------------------------------------------------------------------- */

static uint64_t wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void measure(ring_run *r)
{
    wdfdma_machine_stats a, b;
    wdfdma_fx_dma_stats fx0 = {0}, fx1 = {0};
    wdfdma_machine_get_stats(r->m, &a);
    (void)wdfdma_fx_dma_get_stats(r->m, &fx0);
    uint64_t wall0 = wall_ns(), now0 = wdfdma_machine_now(r->m);
    (void)run_streams(r);
    r->res->wall_ns = wall_ns() - wall0;
    r->res->virtual_ns = wdfdma_machine_now(r->m) - now0;
    wdfdma_machine_get_stats(r->m, &b);
    (void)wdfdma_fx_dma_get_stats(r->m, &fx1);
    r->res->interrupts = b.interrupts - a.interrupts;
    r->res->dpcs = b.dpcs - a.dpcs;
    r->res->transactions = fx1.transactions - fx0.transactions;
    r->res->programs = fx1.transfers - fx0.transfers;
    r->res->sg_elements_total = fx1.sg_elements_total - fx0.sg_elements_total;
    r->res->sg_elements_max = fx1.sg_elements_max;
    uint8_t *scratch = malloc((size_t)r->total);
    for (unsigned k = 0; scratch && k < r->ndev; k++) {
        check_device(r, k, scratch);
        r->res->busy_ns += wdfdma_dev_busy_ns(r->slots[k].dev);
    }
    if (r->ndev)
        r->res->busy_ns /= r->ndev;
    free(scratch);
}

static void stop_machine(ring_run *r)
{
    if (r->m)
        cli_machine_finishing(r->m, r->res);
    /* A device a fault pulled out may refuse the close: that is the fault's doing. */
    for (unsigned k = 0; k < r->ndev; k++)
        if (r->slots[k].f && wdfdma_close(r->slots[k].f) != 0 && !r->faults)
            r->res->errors++;
    if (r->m) {
        wdfdma_dma_stats dma = {0};
        (void)wdfdma_dma_get_stats(r->m, &dma);
        r->res->bounced_bytes = dma.bounced_bytes;
        r->res->map_registers_peak = dma.map_registers_peak;
        wdfdma_machine_destroy(r->m);
    }
}

static int alloc_slots(ring_run *r)
{
    r->slots = calloc(r->ndev, sizeof(*r->slots));
    if (!r->slots)
        return -1;
    for (unsigned k = 0; k < r->ndev; k++)
        for (unsigned i = 0; i < RING_OUTSTANDING; i++)
            if (!(r->slots[k].rd[i].buf = malloc(r->chunk)))
                return -1;
    return 0;
}

static void free_slots(ring_run *r)
{
    for (unsigned k = 0; r->slots && k < r->ndev; k++)
        for (unsigned i = 0; i < RING_OUTSTANDING; i++)
            free(r->slots[k].rd[i].buf);
    free(r->slots);
}

int cli_run_ring(const cli_run_options *o, cli_result *res, char *err, size_t err_len)
{
    if (cli_check_ring(o, err, err_len) != 0)
        return CLI_USAGE;
    ring_run r = {.o = o, .res = res, .faults = cli_faults_on(o)};
    cli_run_lock_init(&r.lock);
    memset(res, 0, sizeof(*res));
    res->scenario = "ring";
    res->opt = *o;
    r.ndev = o->devices ? (unsigned)o->devices : 1;
    res->opt.devices = r.ndev;
    r.ring_bytes = o->size ? (uint32_t)o->size : RING_DEFAULT_BYTES;
    r.chunk = r.ring_bytes / 2;
    r.total = (uint64_t)r.ring_bytes * (o->count ? o->count : RING_DEFAULT_WRAPS);
    res->size_min = res->size_max = r.chunk;
    res->sizes = 1;
    res->mem_bytes = r.ring_bytes;
    if (alloc_slots(&r) != 0 || start_machine(&r) != 0)
        res->errors++;
    else
        measure(&r);
    stop_machine(&r);
    free_slots(&r);
    pthread_mutex_destroy(&r.lock);
    return 0;
}
