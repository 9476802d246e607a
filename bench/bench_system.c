/*
 * bench_system: system-mode DMA cost per transfer, the uart sample (drivers/uart) on uart
 * models sharing one 8-channel sdmac, sim engine, through `wdfdma run uart` (the scenario
 * the CLI ships: it binds the drivers, moves the data and verifies every byte).
 *
 * The figure is wall time per transfer. It includes the uart model's byte pacing and the
 * scenario's verification, so it is an upper bound on the framework's own cost. The
 * baseline is the same figure with one device: cost per transfer should stay flat as 1 to
 * 16 devices share the 8 channels.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"

#define COUNT 2000

/* Runs the scenario; returns wall ns per transfer, or a negative value if it failed. */
static double run_uart(const char *cli, unsigned devices)
{
    char cmd[PATH_MAX + 128];
    snprintf(cmd, sizeof(cmd), "%s run uart --json --devices %u --size 16 --count %u 2>/dev/null",
             cli, devices, COUNT);
    FILE *p = popen(cmd, "r");
    if (!p)
        return -1;
    char buf[8192];
    size_t n = fread(buf, 1, sizeof(buf) - 1, p);
    buf[n] = '\0';
    int rc = pclose(p);
    const char *w = strstr(buf, "\"wall_ns\":"), *t = strstr(buf, "\"transfers\":");
    if (rc != 0 || !w || !t || !strstr(buf, "\"passed\":true"))
        return -1;
    double wall = strtod(w + 10, NULL), transfers = strtod(t + 12, NULL);
    return transfers > 0 ? wall / transfers : -1;
}

int main(int argc, char **argv)
{
    const char *only;
    const char *json = bench_json_arg(argc, argv, "bench_system", &only);
    (void)only;
    char cli[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", cli, sizeof(cli) - 16);
    if (len <= 0)
        bench_die("bench_system", "cannot find the executable's directory");
    cli[len] = '\0';
    *strrchr(cli, '/') = '\0';
    strcat(cli, "/../wdfdma");
    bench_out out;
    bench_open(&out, json, "system");
    static const unsigned devs[] = { 1, 2, 4, 8, 16 };
    double base = -1, lo = 0, hi = 0;
    bool all = true;
    for (unsigned i = 0; i < sizeof(devs) / sizeof(devs[0]); i++) {
        double v[3];
        bool ok = true;
        for (int k = 0; k < 3 && ok; k++)
            ok = (v[k] = run_uart(cli, devs[i])) > 0;
        char what[96];
        snprintf(what, sizeof(what), "uart transfer (16 B), %u device(s), 8 channels", devs[i]);
        if (!ok) {
            printf("%-58s %14s %10s  the scenario failed (see `wdfdma run uart --devices %u`)\n",
                   what, "-", "", devs[i]);
            all = false;
            continue;
        }
        double c = bench_median(v, 3);
        if (base < 0)
            base = lo = hi = c;
        lo = c < lo ? c : lo;
        hi = c > hi ? c : hi;
        bench_row(&out, what, c / 1000, "us", "1 device", c / base, "<= 1 us", c <= 1000);
    }
    if (base > 0)
        bench_row(&out, "cost per transfer spread over device counts (max/min)", hi / lo, "x",
                  NULL, 0, "<= 1.2 with every count", all && hi / lo <= 1.2);
    bench_close(&out);
    return 0;
}
