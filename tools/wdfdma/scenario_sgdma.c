/*
 * The sgdma scenario: the sgdma sample KMDF driver on the sgdma device model, driven the
 * way Linux dmatest drives a DMA engine.
 *
 * Workload. The device's memory is cut into slots, one request per slot at a time. A
 * write copies a host buffer into its slot; the read that follows copies the slot back
 * into another host buffer. With --direction both, writes and read-backs are pipelined
 * (a slot is read back as soon as its write completes, reads first), so both channels of
 * a duplex profile are busy at once. With --direction write, batches of writes are
 * measured and their read-backs are not; with --direction read, the preloading writes are
 * not measured and the reads are. --queue-depth requests are kept outstanding.
 *
 * Verification. Every byte encodes its request id and offset (bits 6:0) and whether the
 * host or the device wrote it (bit 7: set only in the poison a read buffer starts with),
 * so a byte the device never wrote, a byte from another request or offset and a byte
 * written outside the buffer all show. Each host buffer starts at a varying misalignment
 * inside guard bands that are checked after every request, and a write's source buffer
 * must come back unchanged.
 *
 * Faults (--faults). Requests that fail or come back short are what faults do: they
 * count in failed_requests, not errors, their data is not checked (their guard bands
 * are) and the workload goes on. What a fault may never cause stays an error: a request
 * that never completes or completes twice, a wrong byte in a request that succeeded, a
 * byte written outside a buffer.
 *
 * --driver: the same workload with the user's driver on the sgdma model; the sample
 * driver's registry settings (profile, limits) are not set.
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

#include "machine/internal.h"
#include "run.h"
#include "session.h"
#include "wdfdma/devmodel.h"
#include "wdfdma/dma.h"
#include "wdfdma/framework.h"
#include "wdfdma/host.h"
#include "wdfdma/io.h"
#include "wdfdma/machine.h"
#include "wdfdma/registry.h"

#define KIB ((uint64_t)1024)
#define MIB (KIB * KIB)
#define GIB (MIB * KIB)

#define DEVICE_NAME "sgdma0"
#define DEVMEM_MIN MIB           /* the model's default: never give it less */
#define DEVMEM_MAX GIB           /* the model's largest device memory */
#define SLOT_BUDGET (64 * MIB)   /* device memory worth spreading one size's slots over */
#define SLOT_ALIGN 64u           /* slots start on 64-byte device-memory boundaries */
#define GUARD 256u               /* guard band before and after each host buffer */
#define MISALIGN_MAX 256u        /* host buffers start 0..255 bytes past their guard */
#define AUTO_BUDGET (32 * MIB)   /* default count: about this many bytes per size */
#define AUTO_COUNT_MIN 2u
#define AUTO_COUNT_MAX 32u
#define THREADS_TIMEOUT_S 60     /* threads engine: no completion for this long = stuck */
#define REPORT_MAX 8             /* detailed mismatch/error lines per scenario */
#define MAX_SIZES 16
/* What the sgdma sample driver accepts in its registry settings (drivers/sgdma/sgdma.h);
 * it would replace anything else by its default, so reject it here instead. */
#define DRV_MIN_TRANSFER 4096u
#define DRV_MAX_TRANSFER 0x00FFFFFFu
#define DRV_MAX_SG 4096u

/* With no --size: these sizes, 1 B to 16 MiB, around the page and SG boundaries. */
static const uint64_t size_ladder[] = {
    1, 7, 512, 4095, 4096, 4097, 64 * KIB + 3, MIB, 16 * MIB,
};

/* ---- the plan: sizes, counts, slots, device memory (no machine needed) ---------------- */

typedef struct sg_size_plan {
    uint64_t size;
    uint64_t count;      /* requests per direction */
    uint64_t stride;     /* slot size in device memory */
    uint64_t slots;
} sg_size_plan;

typedef struct sg_plan {
    unsigned nsizes;
    sg_size_plan s[MAX_SIZES];
    uint64_t max_size;
    uint64_t mem;        /* device memory for the largest size's slots */
    unsigned addr_bits;
} sg_plan;

static uint64_t round_up(uint64_t v, uint64_t a)
{
    return (v + a - 1) / a * a;
}

static uint64_t auto_count(uint64_t size)
{
    uint64_t n = AUTO_BUDGET / size;
    return n < AUTO_COUNT_MIN ? AUTO_COUNT_MIN : n > AUTO_COUNT_MAX ? AUTO_COUNT_MAX : n;
}

/* Slots for one size: at least the queue depth (every outstanding request has its own),
 * more when the budget allows so batches are long, never more than requests. */
static uint64_t slots_for(uint64_t count, uint64_t stride, uint64_t queue_depth)
{
    uint64_t want = SLOT_BUDGET / stride;
    if (want < queue_depth)
        want = queue_depth;
    return want < count ? want : count;
}

static void human_size(char *buf, size_t len, uint64_t bytes)
{
    if (bytes >= GIB && bytes % GIB == 0)
        snprintf(buf, len, "%" PRIu64 " GiB", bytes / GIB);
    else if (bytes >= MIB && bytes % MIB == 0)
        snprintf(buf, len, "%" PRIu64 " MiB", bytes / MIB);
    else if (bytes >= KIB && bytes % KIB == 0)
        snprintf(buf, len, "%" PRIu64 " KiB", bytes / KIB);
    else
        snprintf(buf, len, "%" PRIu64 " B", bytes);
}

static int plan_sizes(const cli_run_options *o, sg_plan *p, char *err, size_t err_len)
{
    const uint64_t *sizes = o->size ? &o->size : size_ladder;
    unsigned n = o->size ? 1 : (unsigned)(sizeof(size_ladder) / sizeof(size_ladder[0]));
    uint64_t mem = DEVMEM_MIN;
    p->nsizes = n;
    p->max_size = 0;
    for (unsigned i = 0; i < n; i++) {
        sg_size_plan *s = &p->s[i];
        s->size = sizes[i];
        s->count = o->count ? o->count : auto_count(s->size);
        s->stride = round_up(s->size, SLOT_ALIGN);
        s->slots = slots_for(s->count, s->stride, o->queue_depth);
        if (s->slots * s->stride > DEVMEM_MAX) {
            char sz[32];
            human_size(sz, sizeof(sz), s->size);
            /* Past the budget a size gets one slot per request in flight. */
            snprintf(err, err_len, "--size %s with %" PRIu64 " requests in flight needs %"
                     PRIu64 " MiB of device memory; the sgdma model has at most 1024 MiB",
                     sz, s->slots, round_up(s->slots * s->stride, MIB) / MIB);
            return CLI_USAGE;
        }
        if (s->slots * s->stride > mem)
            mem = s->slots * s->stride;
        if (s->size > p->max_size)
            p->max_size = s->size;
    }
    p->mem = round_up(mem, 4 * KIB);
    return 0;
}

/* --addr-bits is the device model's DMA address width. The sgdma model has 32 and 64.
 * A 32-bit profile may drive a 64-bit device (the HAL keeps its addresses below 4 GiB);
 * a 64-bit profile on a 32-bit device would hand it addresses it cannot emit. */
static int plan_addr_bits(const cli_run_options *o, sg_plan *p, char *err, size_t err_len)
{
    unsigned profile_bits = cli_profile_addr_bits(o->profile);
    p->addr_bits = o->addr_bits ? (unsigned)o->addr_bits : profile_bits;
    if (p->addr_bits != 32 && p->addr_bits != 64) {
        snprintf(err, err_len, "--addr-bits %u: the sgdma model supports 32 or 64",
                 p->addr_bits);
        return CLI_USAGE;
    }
    if (p->addr_bits < profile_bits && !o->driver) {
        snprintf(err, err_len, "--addr-bits %u cannot drive --profile %s (a 64-bit profile "
                 "needs a 64-bit device)", p->addr_bits, cli_profile_name(o->profile));
        return CLI_USAGE;
    }
    return 0;
}

static int check_driver_settings(const cli_run_options *o, char *err, size_t err_len)
{
    if ((o->given & CLI_OPT_MAX_TRANSFER) &&
        (o->max_transfer < DRV_MIN_TRANSFER || o->max_transfer > DRV_MAX_TRANSFER)) {
        snprintf(err, err_len, "--max-transfer %" PRIu64 ": the sgdma driver takes %u..%u "
                 "bytes", o->max_transfer, DRV_MIN_TRANSFER, DRV_MAX_TRANSFER);
        return CLI_USAGE;
    }
    if ((o->given & CLI_OPT_MAX_SG) && o->max_sg > DRV_MAX_SG) {
        snprintf(err, err_len, "--max-sg %" PRIu64 ": the sgdma driver takes 1..%u", o->max_sg,
                 DRV_MAX_SG);
        return CLI_USAGE;
    }
    return 0;
}

static int make_plan(const cli_run_options *o, sg_plan *p, char *err, size_t err_len)
{
    if (check_driver_settings(o, err, err_len) != 0)
        return CLI_USAGE;
    if ((o->given & CLI_OPT_MAX_SG) &&
        (o->profile == CLI_PROFILE_PACKET || o->profile == CLI_PROFILE_PACKET64)) {
        snprintf(err, err_len, "--max-sg applies to scatter/gather profiles, not --profile %s",
                 cli_profile_name(o->profile));
        return CLI_USAGE;
    }
    if (plan_addr_bits(o, p, err, err_len) != 0)
        return CLI_USAGE;
    return plan_sizes(o, p, err, err_len);
}

int cli_check_sgdma(const cli_run_options *opt, char *err, size_t err_len)
{
    sg_plan p;
    return make_plan(opt, &p, err, err_len);
}

/* ---- byte patterns -------------------------------------------------------------------- */

#define POISON 0x80u             /* bit 7: written by the host, never by the device */

/* Bytes come in 128-byte blocks: a block constant from (id, block) plus the offset's low
 * seven bits, so a shifted copy differs in every byte and another request's data differs
 * block by block. */
static uint8_t block_const(uint64_t id, uint64_t block)
{
    uint64_t x = (id + 1) * 0x9E3779B97F4A7C15ull ^ (block + 1) * 0xC2B2AE3D27D4EB4Full;
    x ^= x >> 29;
    x *= 0xBF58476D1CE4E5B9ull;
    return (uint8_t)(x >> 56);
}

static void fill_pattern(uint8_t *p, size_t n, uint64_t id, uint8_t top)
{
    for (size_t off = 0; off < n; off += 128) {
        uint8_t c = block_const(id, off >> 7);
        size_t end = n - off < 128 ? n - off : 128;
        for (size_t j = 0; j < end; j++)
            p[off + j] = (uint8_t)(((c + j) & 0x7F) | top);
    }
}

/* Bytes that differ from the pattern; *first gets the first one's offset. */
static uint64_t check_pattern(const uint8_t *p, size_t n, uint64_t id, uint8_t top,
                              size_t *first)
{
    uint64_t bad = 0;
    for (size_t off = 0; off < n; off += 128) {
        uint8_t c = block_const(id, off >> 7);
        size_t end = n - off < 128 ? n - off : 128;
        for (size_t j = 0; j < end; j++)
            if (p[off + j] != (uint8_t)(((c + j) & 0x7F) | top) && bad++ == 0)
                *first = off + j;
    }
    return bad;
}

static uint8_t expected_byte(uint64_t id, size_t off, uint8_t top)
{
    return (uint8_t)(((block_const(id, off >> 7) + (off & 127)) & 0x7F) | top);
}

static uint8_t guard_byte(size_t i)
{
    return (uint8_t)(0xA5 ^ (i * 13));
}

/* ---- the run's state ------------------------------------------------------------------ */

enum slot_state { SLOT_FREE = 0, SLOT_BUSY, SLOT_WRITTEN };

typedef struct sg_slot {
    enum slot_state state;
    uint64_t writer;             /* id of the write whose data the slot holds */
} sg_slot;

struct sg_run;

/* One outstanding request and the host buffer it owns. */
typedef struct sg_req {
    struct sg_run *run;
    unsigned index;
    bool busy;
    bool write;
    uint64_t id;
    uint64_t slot;
    uint64_t offset;             /* in device memory */
    size_t size;
    uint8_t *base;               /* guard | misalignment | data | guard */
    uint8_t *data;
    size_t alloc;
    wdfdma_io *op;
    bool completed;              /* the completion ran (a second one is an error) */
    bool cancellable;            /* issued and not completed: under run->lock (cancel_one) */
    int32_t status;              /* filled by the completion */
    size_t information;
} sg_req;

typedef struct sg_snap {
    uint64_t wall, now, interrupts, dpcs, transactions, transfers, sg_total, bounced, busy;
} sg_snap;

typedef struct sg_run {
    const cli_run_options *o;
    const sg_plan *plan;
    cli_result *res;
    wdfdma_machine *m;
    wdfdma_dev *dev;
    wdfdma_file *f;
    bool sim;
    sg_req *reqs;                /* queue_depth of them */
    unsigned nreqs;
    unsigned outstanding;
    sg_slot *slots;
    uint64_t *free_slots, nfree; /* stack */
    uint64_t *written, wr_head, wr_count; /* FIFO of slots to read back */
    uint64_t nslots;
    uint64_t next_id;
    bool measuring;
    bool stuck;                  /* requests never completed: their buffers must live on */
    unsigned reports;
    bool faults;                 /* a fault plan is in force: failures are expected */
    uint64_t finished, total;    /* requests done / planned, for the progress bar */
    uint64_t double_completions;
    /* The completion list, written by completions. Recursive: the "cancel" fault's hook
     * holds it while cancelling, and a cancel may complete the request on the spot. */
    pthread_mutex_t lock;
    pthread_cond_t cond;
    unsigned *done, ndone;
} sg_run;

static uint64_t wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* One line to stderr for the first REPORT_MAX problems of the scenario. */
static void report(sg_run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void report(sg_run *r, const char *fmt, ...)
{
    if (r->reports++ >= REPORT_MAX)
        return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "wdfdma: sgdma (%s): ",
            r->o->driver ? r->o->driver : cli_profile_name(r->o->profile));
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

/* ---- statistics snapshots ------------------------------------------------------------- */

static void snap(sg_run *r, sg_snap *s)
{
    wdfdma_machine_stats ms;
    wdfdma_fx_dma_stats fx = {0};
    wdfdma_dma_stats dma = {0};
    wdfdma_machine_get_stats(r->m, &ms);
    (void)wdfdma_fx_dma_get_stats(r->m, &fx);
    (void)wdfdma_dma_get_stats(r->m, &dma);
    s->wall = wall_ns();
    s->now = wdfdma_machine_now(r->m);
    s->interrupts = ms.interrupts;
    s->dpcs = ms.dpcs;
    s->transactions = fx.transactions;
    s->transfers = fx.transfers;
    s->sg_total = fx.sg_elements_total;
    s->bounced = dma.bounced_bytes;
    s->busy = wdfdma_dev_busy_ns(r->dev);
}

static void add_delta(cli_result *res, const sg_snap *a, const sg_snap *b)
{
    res->wall_ns += b->wall - a->wall;
    res->virtual_ns += b->now - a->now;
    res->interrupts += b->interrupts - a->interrupts;
    res->dpcs += b->dpcs - a->dpcs;
    res->transactions += b->transactions - a->transactions;
    res->transfers += b->transfers - a->transfers;
    res->sg_elements_total += b->sg_total - a->sg_total;
    res->bounced_bytes += b->bounced - a->bounced;
    res->busy_ns += b->busy - a->busy;
}

/* ---- host buffers --------------------------------------------------------------------- */

static int alloc_requests(sg_run *r)
{
    r->nreqs = (unsigned)r->o->queue_depth;
    r->reqs = calloc(r->nreqs, sizeof(*r->reqs));
    r->done = calloc(r->nreqs, sizeof(*r->done));
    if (!r->reqs || !r->done)
        return -1;
    size_t alloc = (size_t)round_up(GUARD + MISALIGN_MAX + r->plan->max_size + GUARD, 4096);
    for (unsigned i = 0; i < r->nreqs; i++) {
        sg_req *q = &r->reqs[i];
        q->run = r;
        q->index = i;
        q->alloc = alloc;
        q->base = aligned_alloc(4096, alloc);
        if (!q->base)
            return -1;
    }
    return 0;
}

static void free_requests(sg_run *r)
{
    for (unsigned i = 0; r->reqs && i < r->nreqs; i++)
        free(r->reqs[i].base);
    free(r->reqs);
    free(r->done);
}

/* Lay out the buffer for request `id`: guard, misalignment (also guard), data, guard. */
static void place_buffer(sg_req *q, size_t size)
{
    size_t lead = GUARD + (size_t)((q->id * 67) % MISALIGN_MAX);
    q->size = size;
    q->data = q->base + lead;
    for (size_t i = 0; i < lead; i++)
        q->base[i] = guard_byte(i);
    for (size_t i = 0; i < GUARD; i++)
        q->data[size + i] = guard_byte(lead + i);
}

static uint64_t check_guards(sg_req *q)
{
    size_t lead = (size_t)(q->data - q->base);
    uint64_t bad = 0;
    for (size_t i = 0; i < lead; i++)
        bad += q->base[i] != guard_byte(i);
    if (bad)
        report(q->run, "%s %" PRIu64 ": %" PRIu64 " bytes before the buffer were overwritten",
               q->write ? "write" : "read", q->id, bad);
    uint64_t after = 0;
    for (size_t i = 0; i < GUARD; i++)
        after += q->data[q->size + i] != guard_byte(lead + i);
    if (after)
        report(q->run, "%s %" PRIu64 ": %" PRIu64 " bytes after the buffer were overwritten",
               q->write ? "write" : "read", q->id, after);
    return bad + after;
}

/* ---- completions ---------------------------------------------------------------------- */

/* Runs in whatever context completed the request (a DPC thread on the threads engine):
 * only record it; the submitting thread verifies. */
static void on_done(void *ctx, int32_t status, size_t information)
{
    sg_req *q = ctx;
    sg_run *r = q->run;
    pthread_mutex_lock(&r->lock);
    if (q->completed) {
        r->double_completions++;
        pthread_mutex_unlock(&r->lock);
        return;
    }
    q->completed = true;
    q->cancellable = false;
    q->status = status;
    q->information = information;
    r->done[r->ndone++] = q->index;
    pthread_cond_signal(&r->cond);
    pthread_mutex_unlock(&r->lock);
}

/* Take every completion recorded so far (into `out`); 0 if none. */
static unsigned take_done(sg_run *r, unsigned *out)
{
    pthread_mutex_lock(&r->lock);
    unsigned n = r->ndone;
    memcpy(out, r->done, n * sizeof(*out));
    r->ndone = 0;
    pthread_mutex_unlock(&r->lock);
    return n;
}

/* Wait for at least one completion. Sim: run the machine event by event on this thread.
 * Threads: sleep on the condition the completions signal. False if nothing can come. */
static bool wait_some(sg_run *r, int timeout_s)
{
    if (r->sim) {
        for (;;) {
            pthread_mutex_lock(&r->lock);
            unsigned n = r->ndone;
            pthread_mutex_unlock(&r->lock);
            if (n)
                return true;
            if (!wdfdma_machine_step(r->m))
                return false;
        }
    }
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += timeout_s;
    pthread_mutex_lock(&r->lock);
    int rc = 0;
    while (r->ndone == 0 && rc != ETIMEDOUT)
        rc = pthread_cond_timedwait(&r->cond, &r->lock, &deadline);
    bool any = r->ndone != 0;
    pthread_mutex_unlock(&r->lock);
    return any;
}

/* ---- issuing and finishing requests --------------------------------------------------- */

static sg_req *idle_request(sg_run *r)
{
    for (unsigned i = 0; i < r->nreqs; i++)
        if (!r->reqs[i].busy)
            return &r->reqs[i];
    return NULL;
}

static int issue(sg_run *r, sg_req *q, bool write, uint64_t slot, const sg_size_plan *s)
{
    q->write = write;
    q->id = r->next_id++;
    q->slot = slot;
    place_buffer(q, (size_t)s->size);
    /* A write's source holds its data; a read's buffer starts as poison (bit 7 set). */
    fill_pattern(q->data, q->size, q->id, write ? 0 : POISON);
    uint64_t offset = slot * s->stride;
    q->offset = offset;
    q->busy = true;
    q->completed = false;
    r->slots[slot].state = SLOT_BUSY;
    int rc = write ? wdfdma_write_async(r->f, q->data, q->size, offset, on_done, q, &q->op)
                   : wdfdma_read_async(r->f, q->data, q->size, offset, on_done, q, &q->op);
    if (rc != 0 && r->faults) {
        /* An allocation the plan failed: the request was refused, the slot stays free. */
        q->busy = false;
        r->slots[slot].state = SLOT_FREE;
        r->free_slots[r->nfree++] = slot;
        r->res->failed_requests++;
        r->finished++;
        return 0;
    }
    if (rc != 0) {
        q->busy = false;
        report(r, "%s of %zu bytes at device offset %#" PRIx64 " could not be issued: %s",
               write ? "write" : "read", q->size, offset, wdfdma_last_error());
        r->res->errors++;
        return -1;
    }
    /* Published under the lock, so the cancel fault (a worker thread on the threads
     * engine) sees the op that submit wrote, and never one that already completed. */
    pthread_mutex_lock(&r->lock);
    q->cancellable = !q->completed;
    pthread_mutex_unlock(&r->lock);
    r->outstanding++;
    return 0;
}

/* The data a finished request must show: a write's source unchanged, a read's buffer
 * holding what the slot's writer wrote. */
static void verify_data(sg_run *r, sg_req *q)
{
    uint64_t id = q->write ? q->id : r->slots[q->slot].writer;
    size_t first = 0;
    uint64_t bad = check_pattern(q->data, q->size, id, 0, &first);
    if (!bad)
        return;
    r->res->data_mismatches += bad;
    uint8_t got = q->data[first];
    report(r, "%s %" PRIu64 " (%zu B, device offset %#" PRIx64 "): %" PRIu64 " bytes wrong, "
           "first at byte %zu: %#04x, expected %#04x (%s)", q->write ? "write" : "read", q->id,
           q->size, q->offset, bad, first, got,
           expected_byte(id, first, 0),
           q->write ? "the device changed its source" :
           (got & POISON) ? "never written by the device" : "wrong or misplaced data");
}

static void finish(sg_run *r, sg_req *q)
{
    q->busy = false;
    r->outstanding--;
    sg_slot *slot = &r->slots[q->slot];
    bool ok = q->status >= 0 && q->information == q->size;
    if (!ok && r->faults) {
        r->res->failed_requests++;
    } else if (!ok) {
        report(r, "%s %" PRIu64 " of %zu B completed with status %#x, %zu bytes",
               q->write ? "write" : "read", q->id, q->size, (unsigned)q->status,
               q->information);
        r->res->errors++;
    }
    cli_progress(++r->finished, r->total);
    r->res->data_mismatches += check_guards(q);
    if (ok)
        verify_data(r, q);
    if (r->measuring) {
        r->res->requests++;
        r->res->bytes += q->information;
        if (q->write)
            r->res->writes++;
        else
            r->res->reads++;
    }
    if (q->write && ok) {
        slot->state = SLOT_WRITTEN;
        slot->writer = q->id;
        r->written[(r->wr_head + r->wr_count++) % r->nslots] = q->slot;
    } else {
        /* A read-back, or a failed write whose slot holds nothing worth reading. */
        slot->state = SLOT_FREE;
        r->free_slots[r->nfree++] = q->slot;
    }
}

/* ---- passes --------------------------------------------------------------------------- */

static void reset_slots(sg_run *r, uint64_t nslots)
{
    r->nslots = nslots;
    r->nfree = 0;
    r->wr_head = r->wr_count = 0;
    for (uint64_t i = nslots; i-- > 0;) {
        r->slots[i].state = SLOT_FREE;
        r->free_slots[r->nfree++] = i;
    }
}

/* Keep the queue full: read-backs first (they free slots), then new writes. */
static void fill_queue(sg_run *r, const sg_size_plan *s, bool reads, uint64_t *writes_left,
                       bool *failed)
{
    while (!*failed && r->outstanding < r->nreqs) {
        sg_req *q = idle_request(r);
        if (reads && r->wr_count) {
            uint64_t slot = r->written[r->wr_head];
            r->wr_head = (r->wr_head + 1) % r->nslots;
            r->wr_count--;
            *failed = issue(r, q, false, slot, s) != 0;
        } else if (*writes_left && r->nfree) {
            (*writes_left)--;
            *failed = issue(r, q, true, r->free_slots[--r->nfree], s) != 0;
        } else {
            return;
        }
    }
}

/* Give up on stuck requests: ask to cancel them, then wait once more. */
static void cancel_stuck(sg_run *r)
{
    report(r, "%u requests did not complete%s", r->outstanding,
           r->sim ? ": the machine has nothing left to run" : " within the timeout");
    r->res->errors++;
    for (unsigned i = 0; i < r->nreqs; i++)
        if (r->reqs[i].busy)
            (void)wdfdma_cancel(r->reqs[i].op);
}

/* Writes (up to `writes` of them, each into a free slot) and/or read-backs of written
 * slots, until neither is left. Returns -1 if the run must stop. */
static int run_pass(sg_run *r, const sg_size_plan *s, uint64_t writes, bool reads)
{
    bool failed = false, cancelled = false;
    unsigned done[CLI_QDEPTH_MAX];
    for (;;) {
        fill_queue(r, s, reads, &writes, &failed);
        if (r->outstanding == 0)
            break;
        if (!wait_some(r, THREADS_TIMEOUT_S)) {
            if (cancelled) {
                r->stuck = true;
                return -1;
            }
            cancel_stuck(r);
            cancelled = failed = true;
            continue;
        }
        unsigned n = take_done(r, done);
        for (unsigned i = 0; i < n; i++)
            finish(r, &r->reqs[done[i]]);
    }
    return failed ? -1 : 0;
}

static int run_measured(sg_run *r, const sg_size_plan *s, uint64_t writes, bool reads)
{
    sg_snap a, b;
    r->measuring = true;
    snap(r, &a);
    int rc = run_pass(r, s, writes, reads);
    snap(r, &b);
    r->measuring = false;
    add_delta(r->res, &a, &b);
    return rc;
}

/* One size, in the direction asked for. */
static int run_size(sg_run *r, const sg_size_plan *s)
{
    reset_slots(r, s->slots);
    if (r->o->direction == CLI_DIR_BOTH)
        return run_measured(r, s, s->count, true);
    for (uint64_t done = 0; done < s->count; done += s->slots) {
        uint64_t batch = s->count - done < s->slots ? s->count - done : s->slots;
        bool write_measured = r->o->direction == CLI_DIR_WRITE;
        int rc = write_measured ? run_measured(r, s, batch, false) : run_pass(r, s, batch, false);
        if (rc == 0)
            rc = write_measured ? run_pass(r, s, 0, true) : run_measured(r, s, 0, true);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* ---- the machine ---------------------------------------------------------------------- */

static int set_registry(sg_run *r)
{
    const cli_run_options *o = r->o;
    if (o->driver)
        return 0;   /* a user's driver: the sample driver's settings mean nothing to it */
    if (wdfdma_registry_set_ulong(r->m, DEVICE_NAME, "device", "DmaProfile",
                                  (uint32_t)o->profile) != 0)
        return -1;
    if ((o->given & CLI_OPT_MAX_TRANSFER) &&
        wdfdma_registry_set_ulong(r->m, DEVICE_NAME, "device", "MaximumTransferLength",
                                  (uint32_t)o->max_transfer) != 0)
        return -1;
    if ((o->given & CLI_OPT_MAX_SG) &&
        wdfdma_registry_set_ulong(r->m, DEVICE_NAME, "device", "MaximumSgElements",
                                  (uint32_t)o->max_sg) != 0)
        return -1;
    return 0;
}

/* The "cancel" fault: cancel one of the outstanding requests (`random` picks which). The
 * lock keeps the request's op valid: its completion cannot be recorded meanwhile. */
static bool cancel_one(void *ctx, wdfdma_dev *dev, uint64_t random)
{
    (void)dev;
    sg_run *r = ctx;
    bool cancelled = false;
    pthread_mutex_lock(&r->lock);
    unsigned live = 0;
    for (unsigned i = 0; i < r->nreqs; i++)
        live += r->reqs[i].cancellable;
    if (live > 0) {
        unsigned pick = (unsigned)(random % live);
        for (unsigned i = 0; i < r->nreqs; i++) {
            sg_req *q = &r->reqs[i];
            if (q->cancellable && pick-- == 0) {
                cancelled = wdfdma_cancel(q->op) == 0;
                break;
            }
        }
    }
    pthread_mutex_unlock(&r->lock);
    return cancelled;
}

static int start_machine(sg_run *r)
{
    wdfdma_machine_config c;
    cli_machine_config(r->o, &c);
    char opts[96], path[PATH_MAX + 64];
    snprintf(opts, sizeof(opts), "addr_bits=%u,mem=%" PRIu64 ",timing=1", r->plan->addr_bits,
             r->plan->mem);
    wdfdma_driver *drv = NULL;
    if (wdfdma_machine_create(&c, &r->m) != 0)
        goto err_machine;
    cli_machine_created(r->m, "sgdma", r->o);
    if (wdfdma_machine_add_device(r->m, "sgdma", DEVICE_NAME, opts, &r->dev) != 0 ||
        set_registry(r) != 0)
        goto err_machine;
    if (cli_driver_path(r->o, "sgdma", path, sizeof(path)) != 0)
        return -1;
    if (wdfdma_driver_load(r->m, path, &drv) != 0 || wdfdma_device_bind(r->dev, drv) != 0 ||
        wdfdma_open(r->m, DEVICE_NAME, &r->f) != 0)
        goto err_machine;
    return cli_machine_started(r->m, r->o, cancel_one, r);

err_machine:
    fprintf(stderr, "wdfdma: sgdma: %s\n", wdfdma_last_error());
    return -1;
}

static int alloc_slots(sg_run *r)
{
    uint64_t most = 0;
    for (unsigned i = 0; i < r->plan->nsizes; i++)
        if (r->plan->s[i].slots > most)
            most = r->plan->s[i].slots;
    r->slots = calloc(most, sizeof(*r->slots));
    r->free_slots = calloc(most, sizeof(*r->free_slots));
    r->written = calloc(most, sizeof(*r->written));
    return r->slots && r->free_slots && r->written ? 0 : -1;
}

/* Count what the machine reported, close, destroy. */
static void stop_machine(sg_run *r)
{
    if (r->double_completions) {
        report(r, "%" PRIu64 " requests completed more than once", r->double_completions);
        r->res->errors += r->double_completions;
    }
    if (r->m)
        cli_machine_finishing(r->m, r->res);
    /* A device a fault pulled out may refuse the close: that is the fault's doing. */
    if (r->f && !r->stuck && wdfdma_close(r->f) != 0 && !r->faults) {
        report(r, "close: %s", wdfdma_last_error());
        r->res->errors++;
    }
    if (!r->m)
        return;
    wdfdma_fx_dma_stats fx = {0};
    wdfdma_dma_stats dma = {0};
    (void)wdfdma_fx_dma_get_stats(r->m, &fx);
    (void)wdfdma_dma_get_stats(r->m, &dma);
    r->res->sg_elements_max = fx.sg_elements_max;
    r->res->map_registers_peak = dma.map_registers_peak;
    wdfdma_machine_destroy(r->m);
}

static void fill_result_header(const cli_run_options *o, const sg_plan *p, cli_result *res)
{
    memset(res, 0, sizeof(*res));
    res->scenario = "sgdma";
    res->opt = *o;
    res->opt.addr_bits = p->addr_bits;
    res->sizes = p->nsizes;
    res->size_min = UINT64_MAX;
    for (unsigned i = 0; i < p->nsizes; i++) {
        if (p->s[i].size < res->size_min)
            res->size_min = p->s[i].size;
        if (p->s[i].size > res->size_max)
            res->size_max = p->s[i].size;
    }
    res->mem_bytes = p->mem;
}

static int run_workload(sg_run *r)
{
    for (unsigned i = 0; i < r->plan->nsizes; i++)
        if (run_size(r, &r->plan->s[i]) != 0)
            return -1;
    return 0;
}

int cli_run_sgdma(const cli_run_options *o, cli_result *res, char *err, size_t err_len)
{
    sg_plan plan;
    if (make_plan(o, &plan, err, err_len) != 0)
        return CLI_USAGE;
    fill_result_header(o, &plan, res);
    sg_run *r = calloc(1, sizeof(*r));
    if (!r) {
        fprintf(stderr, "wdfdma: sgdma: out of memory\n");
        res->errors++;
        return 0;
    }
    *r = (sg_run){.o = o, .plan = &plan, .res = res, .sim = o->engine == CLI_ENGINE_SIM,
                  .faults = cli_faults_on(o)};
    for (unsigned i = 0; i < plan.nsizes; i++)
        r->total += 2 * plan.s[i].count;
    cli_run_lock_init(&r->lock);
    pthread_cond_init(&r->cond, NULL);
    if (alloc_requests(r) != 0 || alloc_slots(r) != 0) {
        fprintf(stderr, "wdfdma: sgdma: out of memory for %u buffers of %" PRIu64 " bytes\n",
                r->nreqs, plan.max_size);
        res->errors++;
    } else if (start_machine(r) != 0) {
        res->errors++;
    } else {
        (void)run_workload(r);
    }
    stop_machine(r);
    /* Requests that never completed may still own their buffers: leave them allocated. */
    if (!r->stuck) {
        free_requests(r);
        free(r->slots);
        free(r->free_slots);
        free(r->written);
        pthread_mutex_destroy(&r->lock);
        pthread_cond_destroy(&r->cond);
        free(r);
    }
    return 0;
}
