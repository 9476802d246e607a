/*
 * A host program for the out-of-tree driver, built only against an installed wdfdma
 * (pkg-config --cflags --libs wdfdma): machine -> sgdma device -> load and bind
 * pktdma.so -> open -> write a pattern to device memory -> read it back -> compare.
 *
 * usage: host DRIVER.so [SEED]      exit 0 when every byte came back, 1 otherwise
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <wdfdma/host.h>
#include <wdfdma/io.h>
#include <wdfdma/machine.h>

static int fail(const char *what)
{
    fprintf(stderr, "host: %s failed: %s\n", what, wdfdma_last_error());
    return 1;
}

/* Every byte encodes its offset and the pass, so misplaced bytes are caught too. */
static unsigned char pattern(size_t i, unsigned pass)
{
    return (unsigned char)(i * 31u + (i >> 8) + pass * 7u + 1u);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: host DRIVER.so [SEED]\n");
        return 2;
    }
    wdfdma_machine_config cfg;
    wdfdma_machine_config_init(&cfg);
    cfg.seed = argc > 2 ? strtoull(argv[2], NULL, 0) : 1;
    cfg.verifier = true;
    cfg.memory = WDFDMA_MEM_SCATTERED;

    wdfdma_machine *m;
    if (wdfdma_machine_create(&cfg, &m) < 0)
        return fail("wdfdma_machine_create");
    int rc = 1;
    wdfdma_dev *dev;
    wdfdma_driver *drv;
    wdfdma_file *f = NULL;
    if (wdfdma_machine_add_device(m, "sgdma", "sgdma0", "mem=1M", &dev) < 0) {
        rc = fail("wdfdma_machine_add_device");
        goto out;
    }
    if (wdfdma_driver_load(m, argv[1], &drv) < 0) {
        rc = fail("wdfdma_driver_load");
        goto out;
    }
    if (wdfdma_device_bind(dev, drv) < 0) {
        rc = fail("wdfdma_device_bind");
        goto out;
    }
    printf("host: driver %s bound to %s, state %s\n", wdfdma_driver_name(drv),
           wdfdma_dev_name(dev), wdfdma_device_state(dev));
    if (wdfdma_open(m, "sgdma0", &f) < 0) {
        rc = fail("wdfdma_open");
        goto out;
    }

    static const size_t sizes[] = {1, 511, 4096, 4097, 65536 + 3, 300000};
    static unsigned char out_buf[300000], in_buf[300000];
    for (unsigned pass = 0; pass < sizeof(sizes) / sizeof(sizes[0]); pass++) {
        size_t len = sizes[pass];
        uint64_t offset = (uint64_t)pass * 4093u;
        for (size_t i = 0; i < len; i++)
            out_buf[i] = pattern(i, pass);
        memset(in_buf, 0, len);
        int32_t st;
        size_t info;
        if (wdfdma_write(f, out_buf, len, offset, &st, &info) < 0) {
            rc = fail("wdfdma_write");
            goto out;
        }
        if (st != 0 || info != len) {
            fprintf(stderr, "host: write of %zu bytes: status 0x%08x, %zu bytes\n", len,
                    (unsigned)st, info);
            goto out;
        }
        if (wdfdma_read(f, in_buf, len, offset, &st, &info) < 0) {
            rc = fail("wdfdma_read");
            goto out;
        }
        if (st != 0 || info != len) {
            fprintf(stderr, "host: read of %zu bytes: status 0x%08x, %zu bytes\n", len,
                    (unsigned)st, info);
            goto out;
        }
        for (size_t i = 0; i < len; i++) {
            if (in_buf[i] != out_buf[i]) {
                fprintf(stderr, "host: %zu bytes at offset %llu: byte %zu is 0x%02x, "
                        "expected 0x%02x\n", len, (unsigned long long)offset, i,
                        in_buf[i], out_buf[i]);
                goto out;
            }
        }
        printf("host: %zu bytes written and read back at offset %llu\n", len,
               (unsigned long long)offset);
    }

    wdfdma_machine_stats stats;
    wdfdma_machine_get_stats(m, &stats);
    if (stats.dma_faults != 0 || stats.interrupts == 0) {
        fprintf(stderr, "host: %llu DMA faults, %llu interrupts\n",
                (unsigned long long)stats.dma_faults, (unsigned long long)stats.interrupts);
        goto out;
    }
    printf("host: ok: %llu interrupts, %llu DMA bytes, trace hash %016llx\n",
           (unsigned long long)stats.interrupts,
           (unsigned long long)(stats.dma_read_bytes + stats.dma_write_bytes),
           (unsigned long long)wdfdma_machine_trace_hash(m));
    rc = 0;
out:
    if (f != NULL && wdfdma_close(f) < 0 && rc == 0)
        rc = fail("wdfdma_close");
    if (rc == 0 && wdfdma_device_remove(dev) < 0)
        rc = fail("wdfdma_device_remove");
    wdfdma_machine_destroy(m);
    return rc;
}
