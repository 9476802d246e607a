/*
 * bench_system: system-mode DMA cost per transfer. The uart sample driver (drivers/uart)
 * on uart models sharing one 8-channel sdmac controller, sim engine, in this process (the
 * setup of `wdfdma run uart`: loopback, each device a TX and an RX channel).
 *
 * What is measured. Every round issues one read and one write on every device and runs
 * the machine until all of them completed; a transfer is one request (one DMA transfer
 * of the whole buffer through a system-DMA channel). Wall time per transfer counts the
 * framework, the driver, the host I/O path and the two device models; the models run
 * at their fastest (uart at its full 921600 baud clock, sdmac at 1 TB/s with no beat
 * time), and virtual time costs nothing on the sim engine, so the uart's byte pacing is
 * no longer wall time. What remains of the models is their per-byte work (one event per
 * byte moved through the uart FIFO) and their per-transfer register work. So two sizes
 * are run, 1 B and 16 B, and the per-transfer cost is split into
 *
 *   fixed cost per transfer   extrapolated to 0 bytes: framework + driver + I/O manager
 *                             + the controller model's per-transfer register work (an
 *                             upper bound on the framework's own cost)
 *   per byte                  the models' byte-by-byte work (not the framework's)
 *
 * The fixed cost is compared across 1 to 16 devices sharing the 8 channels (baseline: one
 * device): it should stay flat.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "wdfdma/host.h"
#include "wdfdma/io.h"
#include "wdfdma/machine.h"

#define MAX_DEVS 16
#define ROUNDS 5
#define CHANNELS 8

typedef struct sys_io {
    int32_t status;
    size_t information;
    unsigned *pending;
} sys_io;

typedef struct sys_rig {
    wdfdma_machine *m;
    unsigned ndev;
    wdfdma_file *f[MAX_DEVS];
    uint8_t tx[MAX_DEVS][64], rx[MAX_DEVS][64];
    sys_io rd[MAX_DEVS], wr[MAX_DEVS];
    unsigned pending;
} sys_rig;

static void on_done(void *ctx, int32_t status, size_t information)
{
    sys_io *io = ctx;
    io->status = status;
    io->information = information;
    (*io->pending)--;
}

static void rig_up(sys_rig *r, unsigned ndev)
{
    memset(r, 0, sizeof(*r));
    r->ndev = ndev;
    wdfdma_machine_config c;
    wdfdma_machine_config_init(&c);
    c.engine = WDFDMA_ENGINE_SIM;
    wdfdma_dev *ctrl;
    wdfdma_driver *drv;
    char path[PATH_MAX + 32];
    if (wdfdma_machine_create(&c, &r->m) != 0 ||
        wdfdma_machine_add_device(r->m, "sdmac", "dma0",
                                  "channels=8,bw=1000000000000,beat_ns=0", &ctrl) != 0)
        bench_die("machine", wdfdma_last_error());
    if (bench_driver_path("uart", path, sizeof(path)) != 0)
        bench_die("uart driver", "BUILD/drivers/uart.so not found next to BUILD/bench");
    if (wdfdma_driver_load(r->m, path, &drv) != 0)
        bench_die("uart driver", wdfdma_last_error());
    for (unsigned k = 0; k < ndev; k++) {
        char name[32], opts[160];
        wdfdma_dev *dev;
        snprintf(name, sizeof(name), "uart%u", k);
        /* The same device at every count, so the counts compare: with more devices than
         * channel pairs the driver shares channels and needs a whole transfer in the FIFO,
         * and the 16-byte FIFO holds the largest (16 B), as `wdfdma run uart` decides. */
        snprintf(opts, sizeof(opts), "baud=921600,fifo=16,loopback=1,tx_channel=%u,"
                 "rx_channel=%u", (2 * k) % CHANNELS, (2 * k + 1) % CHANNELS);
        if (wdfdma_machine_add_device(r->m, "uart", name, opts, &dev) != 0 ||
            wdfdma_device_bind(dev, drv) != 0 || wdfdma_open(r->m, name, &r->f[k]) != 0)
            bench_die(name, wdfdma_last_error());
    }
}

static void rig_down(sys_rig *r)
{
    for (unsigned k = 0; k < r->ndev; k++)
        wdfdma_close(r->f[k]);
    wdfdma_machine_destroy(r->m);
}

/* `rounds` rounds of one read and one write of `size` bytes per device; returns wall ns. */
static double run_rounds(sys_rig *r, size_t size, unsigned rounds)
{
    uint64_t t0 = bench_ns();
    for (unsigned n = 0; n < rounds; n++) {
        for (unsigned k = 0; k < r->ndev; k++) {
            for (size_t i = 0; i < size; i++)
                r->tx[k][i] = (uint8_t)(k * 31 + n * 7 + i);
            r->rd[k] = (sys_io){ .pending = &r->pending };
            r->wr[k] = (sys_io){ .pending = &r->pending };
            wdfdma_io *op;
            r->pending += 2;
            if (wdfdma_read_async(r->f[k], r->rx[k], size, 0, on_done, &r->rd[k], &op) != 0 ||
                wdfdma_write_async(r->f[k], r->tx[k], size, 0, on_done, &r->wr[k], &op) != 0)
                bench_die("uart request", wdfdma_last_error());
        }
        while (r->pending > 0)
            if (!wdfdma_machine_step(r->m))
                bench_die("uart", "requests never completed");
        for (unsigned k = 0; k < r->ndev; k++) {
            if (r->rd[k].status != 0 || r->wr[k].status != 0 || r->rd[k].information != size ||
                r->wr[k].information != size || memcmp(r->rx[k], r->tx[k], size) != 0)
                bench_die("uart", "a transfer failed or read back wrong data");
        }
    }
    return (double)(bench_ns() - t0);
}

typedef struct sys_cost {
    double fixed_ns, per_byte_ns, at16_ns;
} sys_cost;

/* Alternate 1 B and 16 B rounds; medians of ns per transfer; fit a line through them. */
static sys_cost measure(unsigned ndev)
{
    sys_rig *r = calloc(1, sizeof(*r));
    if (!r)
        bench_die("memory", "out of memory");
    rig_up(r, ndev);
    unsigned rounds = 4000 / ndev;
    run_rounds(r, 16, rounds / 4 + 1);            /* warm-up: lookasides, frames */
    run_rounds(r, 1, rounds / 4 + 1);
    double t1[ROUNDS], t16[ROUNDS];
    for (unsigned k = 0; k < ROUNDS; k++) {
        t1[k] = run_rounds(r, 1, rounds) / (2.0 * ndev * rounds);
        t16[k] = run_rounds(r, 16, rounds) / (2.0 * ndev * rounds);
    }
    rig_down(r);
    free(r);
    double c1 = bench_median(t1, ROUNDS), c16 = bench_median(t16, ROUNDS);
    double per_byte = (c16 - c1) / 15.0;
    return (sys_cost){ c1 - per_byte, per_byte, c16 };
}

int main(int argc, char **argv)
{
    const char *only;
    const char *json = bench_json_arg(argc, argv, "bench_system", &only);
    (void)only;
    bench_out out;
    bench_open(&out, json, "system");
    static const unsigned devs[] = { 1, 2, 4, 8, 16 };
    double base = 0, lo = 0, hi = 0;
    for (unsigned i = 0; i < sizeof(devs) / sizeof(devs[0]); i++) {
        sys_cost c = measure(devs[i]);
        char what[96];
        snprintf(what, sizeof(what), "uart 16 B transfer, all costs, %u device(s)", devs[i]);
        bench_row(&out, what, c.at16_ns / 1000, "us", NULL, 0, NULL, -1);
        snprintf(what, sizeof(what), "uart models' cost per byte, %u device(s)", devs[i]);
        bench_row(&out, what, c.per_byte_ns, "ns/B", NULL, 0, NULL, -1);
        if (i == 0)
            base = lo = hi = c.fixed_ns;
        lo = c.fixed_ns < lo ? c.fixed_ns : lo;
        hi = c.fixed_ns > hi ? c.fixed_ns : hi;
        snprintf(what, sizeof(what), "framework cost per uart transfer, %u device(s)", devs[i]);
        bench_row(&out, what, c.fixed_ns / 1000, "us", "1 device", c.fixed_ns / base,
                  "<= 1 us", c.fixed_ns <= 1000);
    }
    bench_row(&out, "framework cost per transfer spread, 1..16 devices (max/min)", hi / lo, "x",
              NULL, 0, "<= 1.2 (flat +-20%)", hi / lo <= 1.2);
    bench_close(&out);
    return 0;
}
