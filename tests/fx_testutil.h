/*
 * Helpers shared by the tests/test_fx_*.c programs: machines on either engine, bug-check
 * traps, the toy-device test driver (tests/drivers/fxtest_driver.c) and callback-log
 * comparison. Every test ends with fxtu_finish(), which destroys the machine and checks
 * that no pool allocation outlived it.
 */
#ifndef WDFDMA_FX_TESTUTIL_H
#define WDFDMA_FX_TESTUTIL_H

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "fx/device.h"
#include "fx/internal.h"
#include "wait_count.h"
#include "wdm/wdm_internal.h"
#include "wdfdma/host.h"
#include "drivers/fxtest_driver.h"

#define TOY_HWID "PCI\\VEN_1234&DEV_0070"

typedef struct fxtu {
    wdfdma_machine *m;
    wdm_pool_stats pool_before;
    jmp_buf jb;
    wdfdma_bugcheck bc;
    int traps;
    wdfdma_driver *drv;
} fxtu;

static inline void fxtu_trap_handler(void *ctx, const wdfdma_bugcheck *bc)
{
    fxtu *t = ctx;
    t->bc = *bc;
    t->traps++;
    longjmp(t->jb, 1);
}

static inline void fxtu_start(fxtu *t, wdfdma_engine engine, bool verifier)
{
    memset(t, 0, sizeof(*t));
    wdm_pool_get_stats(&t->pool_before);
    wdfdma_machine_config c;
    wdfdma_machine_config_init(&c);
    c.engine = engine;
    c.seed = 7;
    c.verifier = verifier;
    assert_int_equal(wdfdma_machine_create(&c, &t->m), 0);
    fxt_reset();
}

/* Trap bug checks (sim engine: the handler longjmps back into the test). */
static inline void fxtu_trap(fxtu *t)
{
    wdfdma_machine_set_bugcheck_handler(t->m, fxtu_trap_handler, t);
    wdfdma_machine_set_bugcheck_quiet(t->m, true);
}

static inline void fxtu_finish(fxtu *t)
{
    wdfdma_machine_destroy(t->m);
    wdm_pool_stats after;
    wdm_pool_get_stats(&after);
    assert_int_equal(after.outstanding, t->pool_before.outstanding);
}

static inline void fxtu_driver(fxtu *t)
{
    assert_int_equal(wdfdma_driver_register(t->m, "fxtest", fxt_driver_entry, &t->drv), 0);
    assert_int_equal(wdfdma_driver_add_id(t->drv, TOY_HWID), 0);
}

static inline wdfdma_dev *fxtu_toy(fxtu *t, const char *name, const char *options)
{
    wdfdma_dev *d = NULL;
    assert_int_equal(wdfdma_machine_add_device(t->m, "toy", name, options, &d), 0);
    return d;
}

/* Assert the device's callback log is exactly the NULL-terminated list. */
static inline void fxtu_log_is(wdfdma_dev *dev, ...)
{
    const char *got[256];
    size_t n = wdfdma_device_callback_log(dev, got, 256);
    va_list ap;
    va_start(ap, dev);
    size_t i = 0;
    for (const char *want = va_arg(ap, const char *); want; want = va_arg(ap, const char *), i++) {
        if (i >= n)
            fail_msg("log entry %zu: wanted '%s', the log has only %zu entries", i, want, n);
        if (strcmp(got[i], want) != 0) {
            for (size_t k = 0; k < n; k++)
                fprintf(stderr, "  log[%zu] = %s\n", k, got[k]);
            fail_msg("log entry %zu: wanted '%s', got '%s'", i, want, got[i]);
        }
    }
    va_end(ap);
    if (i != n) {
        for (size_t k = 0; k < n; k++)
            fprintf(stderr, "  log[%zu] = %s\n", k, got[k]);
        fail_msg("the log has %zu entries, expected %zu", n, i);
    }
}

/* Wait (PASSIVE) for a counter the driver bumps; 5 s on threads, until idle on sim. The
 * counters are uint32_t; LONG is their signed twin (same size, may alias). */
static inline bool fxtu_wait(fxtu *t, volatile uint32_t *value, uint32_t target)
{
    return wait_count(t->m, (volatile LONG *)value, (LONG)target, 5000000000ll);
}

#endif
