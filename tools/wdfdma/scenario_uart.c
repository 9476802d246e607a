/*
 * The uart scenario: the uart sample KMDF driver (drivers/uart, system-mode DMA) on
 * --devices uart models sharing ONE sdmac controller with 8 channels.
 *
 * Wiring. Device k's TX request line goes to controller channel (2k) mod 8 and its RX
 * line to (2k + 1) mod 8, so up to 4 uarts have channels of their own and more share
 * them. Every uart loops its TX line back to its RX line (loopback=1).
 *
 * Sharing without deadlock. A channel is granted to one transfer at a time, in request
 * order, and held until that transfer ends. In loopback a write whose bytes fill the RX
 * FIFO waits for its read to drain them; if that read waits for a channel held by another
 * device's blocked write, neither ends (a real circular wait, not a model artefact). So
 * when uarts share channels their FIFOs hold a whole request: a write then always ends,
 * its channel always comes back, and every read gets its turn. --size is limited to the
 * largest FIFO (4 KiB) in that case.
 *
 * Workload. Each device runs --count rounds; a round posts a read of --size bytes and
 * then a write of the same size (the read first: the RX FIFO holds only --fifo bytes, so
 * the receiver must be draining when the bytes come back). All devices run their rounds
 * at the same time, on the sim engine event by event.
 *
 * Verification. Every byte encodes the device, the round and its offset; the read must
 * return exactly the bytes written, in order, and nothing past its end (guard bytes).
 * Under --faults a request that fails or comes back short counts in failed_requests;
 * only the guard bytes of a failed read are checked, and the rounds go on. The line is a
 * byte stream: once a fault cut a round short, the bytes it left behind arrive in later
 * rounds, so from then on that device's data is not compared either (guards still are).
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

#include "devices/uart/uart.h"
#include "machine/internal.h"
#include "run.h"
#include "session.h"
#include "wdfdma/dma.h"
#include "wdfdma/framework.h"
#include "wdfdma/host.h"
#include "wdfdma/io.h"
#include "wdfdma/machine.h"

#define UART_CONTROLLER_CHANNELS 8u
#define UART_DEFAULT_SIZE 256u
#define UART_DEFAULT_COUNT 4u
#define UART_DEFAULT_BAUD 115200u
#define UART_CLOCK_HZ 921600u      /* the uart model's clock: baud = clock / divisor */
#define UART_MAX_DEVICES 32u       /* 64 request lines, two per uart */
#define UART_MAX_SIZE (1u << 20)
#define UART_FIFO 16u
#define UART_GUARD 64u

typedef struct uart_io {
    struct uart_run *run;
    wdfdma_io *op;                 /* valid until done */
    unsigned device;
    int32_t status;
    size_t information;
    bool done;
} uart_io;

typedef struct uart_slot {
    wdfdma_dev *dev;
    wdfdma_file *f;
    uint8_t *tx, *rx;
    uart_io rd, wr;
    bool desync;                   /* a fault broke the stream: later rounds are shifted */
} uart_slot;

typedef struct uart_run {
    /* Completions run on processor threads on the threads engine: they and the issuing
     * thread share pending and each request's result under this lock. Recursive: a
     * cancel can complete a request on the calling thread. */
    pthread_mutex_t lock;
    const cli_run_options *o;
    cli_result *res;
    wdfdma_machine *m;
    unsigned ndev;
    size_t size;
    uart_slot *slots;
    unsigned pending;
    unsigned reports;
    bool faults;                   /* a fault plan is in force: failures are expected */
} uart_run;

/* ---- options ------------------------------------------------------------------------- */

int cli_check_uart(const cli_run_options *o, char *err, size_t err_len)
{
    uint64_t baud = o->baud ? o->baud : UART_DEFAULT_BAUD;
    if (baud == 0 || baud > UART_CLOCK_HZ || UART_CLOCK_HZ % baud != 0) {
        snprintf(err, err_len, "--baud %" PRIu64 ": the uart model takes %u/n for a whole "
                 "divisor n (921600, 460800, 230400, 115200, 57600, ...)", baud, UART_CLOCK_HZ);
        return CLI_USAGE;
    }
    if (o->devices > UART_MAX_DEVICES) {
        snprintf(err, err_len, "--devices %" PRIu64 ": at most %u uarts (two request lines "
                 "each, 64 lines)", o->devices, UART_MAX_DEVICES);
        return CLI_USAGE;
    }
    if (o->size > UART_MAX_SIZE) {
        snprintf(err, err_len, "--size %" PRIu64 ": the uart scenario takes at most 1 MiB",
                 o->size);
        return CLI_USAGE;
    }
    if (o->devices > UART_CONTROLLER_CHANNELS / 2 && o->size > UART_MAX_FIFO) {
        snprintf(err, err_len, "--size %" PRIu64 " with %" PRIu64 " uarts: uarts that share "
                 "controller channels need a FIFO that holds a whole request (at most %u B)",
                 o->size, o->devices, UART_MAX_FIFO);
        return CLI_USAGE;
    }
    return 0;
}

/* The RX/TX FIFO depth: the model's default, or a whole request when channels are shared
 * (see "Sharing without deadlock" above). */
static unsigned fifo_depth(const uart_run *r)
{
    bool shared = r->ndev > UART_CONTROLLER_CHANNELS / 2;
    return shared && r->size > UART_FIFO ? (unsigned)r->size : UART_FIFO;
}

/* ---- bytes ----------------------------------------------------------------------------- */

static uint8_t uart_byte(unsigned device, uint64_t round, size_t offset)
{
    uint64_t x = (device + 1) * 0x9E3779B1u + (round + 1) * 0x85EBCA77u + offset * 0xC2B2AE3Du;
    return (uint8_t)((x >> 13) ^ (x >> 5) ^ offset);
}

static void report(uart_run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void report(uart_run *r, const char *fmt, ...)
{
    if (r->reports++ >= 8)
        return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "wdfdma: uart: ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

/* ---- the machine ----------------------------------------------------------------------- */

static int start_machine(uart_run *r, uint64_t baud)
{
    wdfdma_driver *drv;
    if (cli_system_machine(r->o, "uart", &r->m, &drv) != 0)
        return -1;
    for (unsigned k = 0; k < r->ndev; k++) {
        char name[32], opts[160];
        snprintf(name, sizeof(name), "uart%u", k);
        snprintf(opts, sizeof(opts), "baud=%" PRIu64 ",fifo=%u,loopback=1,tx_channel=%u,"
                 "rx_channel=%u", baud, fifo_depth(r), (2 * k) % UART_CONTROLLER_CHANNELS,
                 (2 * k + 1) % UART_CONTROLLER_CHANNELS);
        if (wdfdma_machine_add_device(r->m, "uart", name, opts, &r->slots[k].dev) != 0 ||
            wdfdma_device_bind(r->slots[k].dev, drv) != 0 ||
            wdfdma_open(r->m, name, &r->slots[k].f) != 0)
            goto err;
    }
    return cli_machine_started(r->m, r->o, NULL, NULL);
err:
    fprintf(stderr, "wdfdma: uart: %s\n", wdfdma_last_error());
    return -1;
}

/* ---- one round on every device ------------------------------------------------------------ */

static void on_done(void *ctx, int32_t status, size_t information)
{
    uart_io *io = ctx;
    uart_run *r = io->run;
    pthread_mutex_lock(&r->lock);
    io->status = status;
    io->information = information;
    io->done = true;
    r->pending--;
    pthread_mutex_unlock(&r->lock);
}

static unsigned pending_requests(uart_run *r)
{
    return cli_locked_unsigned(&r->lock, &r->pending);
}

static void add_pending(uart_run *r, int n)
{
    pthread_mutex_lock(&r->lock);
    r->pending = (unsigned)((int)r->pending + n);
    pthread_mutex_unlock(&r->lock);
}

/* A request the I/O manager refused: a fault's doing under a plan, else an error. */
static void refused(uart_run *r, unsigned k, const char *what)
{
    if (r->faults) {
        r->res->failed_requests++;
        return;
    }
    report(r, "uart%u: %s could not be issued: %s", k, what, wdfdma_last_error());
    r->res->errors++;
}

static void issue(uart_run *r, unsigned k, uint64_t round)
{
    uart_slot *s = &r->slots[k];
    for (size_t i = 0; i < r->size; i++)
        s->tx[i] = uart_byte(k, round, i);
    memset(s->rx, 0xEE, r->size + UART_GUARD);
    s->rd = (uart_io){.run = r, .device = k};
    s->wr = (uart_io){.run = r, .device = k};
    add_pending(r, 2);
    if (wdfdma_read_async(s->f, s->rx, r->size, 0, on_done, &s->rd, &s->rd.op) != 0) {
        add_pending(r, -2);
        refused(r, k, "read");
        return;
    }
    if (wdfdma_write_async(s->f, s->tx, r->size, 0, on_done, &s->wr, &s->wr.op) != 0) {
        add_pending(r, -1);
        refused(r, k, "write");
    }
}

static void verify(uart_run *r, unsigned k, uint64_t round)
{
    uart_slot *s = &r->slots[k];
    const uart_io *ios[2] = {&s->wr, &s->rd};
    for (unsigned i = 0; i < 2; i++) {
        if (!ios[i]->done)
            continue;
        r->res->requests++;
        r->res->bytes += ios[i]->information;
        if (i == 0)
            r->res->writes++;
        else
            r->res->reads++;
        if (ios[i]->status < 0 || ios[i]->information != r->size) {
            if (r->faults) {
                r->res->failed_requests++;
                continue;
            }
            report(r, "uart%u round %" PRIu64 ": %s ended with status %#x after %zu of %zu "
                   "bytes", k, round, i ? "read" : "write", (unsigned)ios[i]->status,
                   ios[i]->information, r->size);
            r->res->errors++;
        }
    }
    /* The data of a round that faults broke is not checked; its guard bytes are. */
    bool data_ok = s->rd.done && s->wr.done && s->rd.status >= 0 && s->wr.status >= 0 &&
                   s->rd.information == r->size && s->wr.information == r->size;
    if (r->faults && !data_ok)
        s->desync = true;
    uint64_t bad = 0;
    size_t first = 0;
    for (size_t i = s->desync ? r->size : 0; i < r->size + UART_GUARD; i++) {
        uint8_t want = i < r->size ? uart_byte(k, round, i) : 0xEE;
        if (s->rx[i] != want && bad++ == 0)
            first = i;
    }
    if (bad) {
        report(r, "uart%u round %" PRIu64 ": %" PRIu64 " bytes read back wrong, first at %zu",
               k, round, bad, first);
        r->res->data_mismatches += bad;
    }
}

/* Under faults a read can wait for bytes a failed write never sent, as a serial read
 * waits forever on a silent line: when the machine has nothing left to do, cancel what
 * is outstanding, as an application's timeout would. The requests must then complete
 * (cancelled); one that does not is a hang. */
static void cancel_round(uart_run *r)
{
    /* Under the lock: a request seen not done cannot complete (and its op go) before
     * it is cancelled. */
    pthread_mutex_lock(&r->lock);
    for (unsigned k = 0; k < r->ndev; k++) {
        uart_slot *s = &r->slots[k];
        if (s->rd.op && !s->rd.done)
            (void)wdfdma_cancel(s->rd.op);
        if (s->wr.op && !s->wr.done)
            (void)wdfdma_cancel(s->wr.op);
    }
    pthread_mutex_unlock(&r->lock);
}

/* Run the machine until every request of the round completed. */
static int wait_round(uart_run *r)
{
    bool cancelled = false;
    if (r->o->engine == CLI_ENGINE_SIM) {
        while (pending_requests(r) > 0) {
            if (wdfdma_machine_step(r->m))
                continue;
            if (!r->faults || cancelled)
                return -1;
            cancel_round(r);
            cancelled = true;
        }
        return 0;
    }
    /* Threads: the same rule. wdfdma_machine_run returns once nothing is in flight in
     * the machine (no event, interrupt, DPC or work item), which for a read waiting on a
     * silent line is soon; then cancel, once. */
    for (unsigned waited = 0; pending_requests(r) > 0; waited++) {
        if (waited > 60000)
            return -1;
        if (r->faults && !cancelled && waited > 0 && waited % 100 == 0) {
            (void)wdfdma_machine_run(r->m);
            if (pending_requests(r) > 0) {
                cancel_round(r);
                cancelled = true;
            }
            continue;
        }
        usleep(1000);
    }
    return 0;
}

static int run_rounds(uart_run *r, uint64_t count)
{
    for (uint64_t round = 0; round < count; round++) {
        for (unsigned k = 0; k < r->ndev; k++)
            issue(r, k, round);
        if (wait_round(r) != 0) {
            report(r, "%u requests never completed", pending_requests(r));
            r->res->errors++;
            return -1;
        }
        for (unsigned k = 0; k < r->ndev; k++)
            verify(r, k, round);
        cli_progress(round + 1, count);
    }
    return 0;
}

/* ---- the scenario -------------------------------------------------------------------------- */

static uint64_t wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void collect(uart_run *r, uint64_t wall0, uint64_t now0, const wdfdma_machine_stats *ms0,
                    const wdfdma_fx_dma_stats *fx0)
{
    wdfdma_machine_stats ms;
    wdfdma_fx_dma_stats fx = {0};
    wdfdma_dma_stats dma = {0};
    wdfdma_machine_get_stats(r->m, &ms);
    (void)wdfdma_fx_dma_get_stats(r->m, &fx);
    (void)wdfdma_dma_get_stats(r->m, &dma);
    r->res->wall_ns = wall_ns() - wall0;
    r->res->virtual_ns = wdfdma_machine_now(r->m) - now0;
    r->res->interrupts = ms.interrupts - ms0->interrupts;
    r->res->dpcs = ms.dpcs - ms0->dpcs;
    r->res->transactions = fx.transactions - fx0->transactions;
    r->res->transfers = fx.transfers - fx0->transfers;
    r->res->sg_elements_total = fx.sg_elements_total - fx0->sg_elements_total;
    r->res->sg_elements_max = fx.sg_elements_max;
    r->res->bounced_bytes = dma.bounced_bytes;
    r->res->map_registers_peak = dma.map_registers_peak;
    for (unsigned k = 0; k < r->ndev; k++)
        r->res->busy_ns += wdfdma_dev_busy_ns(r->slots[k].dev);
    if (r->ndev)
        r->res->busy_ns /= r->ndev;
}

static void stop_machine(uart_run *r)
{
    if (r->m)
        cli_machine_finishing(r->m, r->res);
    /* A device a fault pulled out may refuse the close: that is the fault's doing. */
    for (unsigned k = 0; k < r->ndev; k++)
        if (r->slots[k].f && wdfdma_close(r->slots[k].f) != 0 && !r->faults)
            r->res->errors++;
    if (r->m)
        wdfdma_machine_destroy(r->m);
}

int cli_run_uart(const cli_run_options *o, cli_result *res, char *err, size_t err_len)
{
    if (cli_check_uart(o, err, err_len) != 0)
        return CLI_USAGE;
    uart_run r = {.o = o, .res = res, .faults = cli_faults_on(o)};
    cli_run_lock_init(&r.lock);
    memset(res, 0, sizeof(*res));
    res->scenario = "uart";
    res->opt = *o;
    r.ndev = o->devices ? (unsigned)o->devices : 1;
    r.size = o->size ? (size_t)o->size : UART_DEFAULT_SIZE;
    res->opt.baud = o->baud ? o->baud : UART_DEFAULT_BAUD;
    res->opt.devices = r.ndev;
    res->size_min = res->size_max = r.size;
    res->sizes = 1;
    r.slots = calloc(r.ndev, sizeof(*r.slots));
    for (unsigned k = 0; r.slots && k < r.ndev; k++) {
        r.slots[k].tx = malloc(r.size);
        r.slots[k].rx = malloc(r.size + UART_GUARD);
        if (!r.slots[k].tx || !r.slots[k].rx)
            r.ndev = k;
    }
    if (!r.slots || r.ndev == 0) {
        res->errors++;
    } else if (start_machine(&r, res->opt.baud) != 0) {
        res->errors++;
    } else {
        wdfdma_machine_stats ms0;
        wdfdma_fx_dma_stats fx0 = {0};
        wdfdma_machine_get_stats(r.m, &ms0);
        (void)wdfdma_fx_dma_get_stats(r.m, &fx0);
        uint64_t wall0 = wall_ns(), now0 = wdfdma_machine_now(r.m);
        (void)run_rounds(&r, o->count ? o->count : UART_DEFAULT_COUNT);
        collect(&r, wall0, now0, &ms0, &fx0);
    }
    stop_machine(&r);
    for (unsigned k = 0; r.slots && k < r.ndev; k++) {
        free(r.slots[k].tx);
        free(r.slots[k].rx);
    }
    free(r.slots);
    pthread_mutex_destroy(&r.lock);
    return 0;
}
