/*
 * Shared by tests/test_faults_*.c: a machine with a sample driver bound under a fault
 * plan, encoded data with guard bands (dmatest style), asynchronous requests counted to
 * prove exactly-once completion, and leak snapshots (pool, MDLs, IRPs, frames, DMA
 * objects) taken before the machine exists and checked after it is gone.
 */
#ifndef WDFDMA_FAULTS_TESTUTIL_H
#define WDFDMA_FAULTS_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "devices/sgdma/sgdma.h"
#include "wdfdma/dma.h"
#include "wdfdma/faults.h"
#include "wdfdma/host.h"
#include "wdfdma/io.h"
#include "wdfdma/machine.h"
#include "wdm/io_internal.h"
#include "wdm/wdm_internal.h"

#define FT_GUARD 256u          /* guard band on each side of a host buffer */
#define FT_DEV_GUARD 64u       /* guard band on each side of a range in device memory */
#define FT_CANARY 0xA5u
#define FT_DEV_CANARY 0x3Cu

/* Every byte says which request wrote it and where it belongs, so misplaced, missing and
 * out-of-range bytes show up, not only wrong values. */
static inline uint8_t ft_byte(unsigned id, size_t off)
{
    return (uint8_t)((off * 7u) ^ (off >> 8) ^ (off >> 16) ^ (id * 0x9Du) ^ 0x5Au);
}

static inline void ft_fill(uint8_t *p, size_t len, unsigned id)
{
    for (size_t i = 0; i < len; i++)
        p[i] = ft_byte(id, i);
}

/* Index of the first byte that is not the pattern, or len. */
static inline size_t ft_pattern_diff(const uint8_t *p, size_t len, unsigned id)
{
    for (size_t i = 0; i < len; i++)
        if (p[i] != ft_byte(id, i))
            return i;
    return len;
}

static inline size_t ft_bytes_diff(const uint8_t *p, size_t len, uint8_t v)
{
    for (size_t i = 0; i < len; i++)
        if (p[i] != v)
            return i;
    return len;
}

/* A host buffer [guard][len][guard], data at ft_data(). */
static inline uint8_t *ft_guarded(size_t len)
{
    uint8_t *p = malloc(len + 2 * FT_GUARD);
    assert_non_null(p);
    memset(p, FT_CANARY, len + 2 * FT_GUARD);
    return p;
}
static inline uint8_t *ft_data(uint8_t *g) { return g + FT_GUARD; }
static inline bool ft_guards_intact(const uint8_t *g, size_t len)
{
    return ft_bytes_diff(g, FT_GUARD, FT_CANARY) == FT_GUARD &&
           ft_bytes_diff(g + FT_GUARD + len, FT_GUARD, FT_CANARY) == FT_GUARD;
}

/* ---- leaks -------------------------------------------------------------------------- */
typedef struct ft_leaks {
    wdm_pool_stats pool;
    uint64_t mdls;
} ft_leaks;

static inline void ft_leaks_before(ft_leaks *l)
{
    wdm_pool_get_stats(&l->pool);
    l->mdls = wdm_mdl_outstanding();
}

/* After wdfdma_machine_destroy: "" if nothing leaked, else what did. */
static inline void ft_leaks_after(const ft_leaks *l, char *why, size_t len)
{
    wdm_pool_stats now;
    wdm_pool_get_stats(&now);
    why[0] = 0;
    if (now.outstanding != l->pool.outstanding)
        snprintf(why, len, "pool: %lld allocation(s) leaked",
                 (long long)(now.outstanding - l->pool.outstanding));
    else if (wdm_mdl_outstanding() != l->mdls)
        snprintf(why, len, "MDLs: %lld leaked", (long long)(wdm_mdl_outstanding() - l->mdls));
}

/* Before destroy, with every device removed: IRPs, frames and DMA objects are back. */
static inline void ft_machine_clean(wdfdma_machine *m, char *why, size_t len)
{
    why[0] = 0;
    wdfdma_machine_stats ms;
    wdfdma_machine_get_stats(m, &ms);
    wdfdma_dma_stats ds;
    assert_int_equal(wdfdma_dma_get_stats(m, &ds), 0);
    if (wdm_io_irps_outstanding(m) != 0)
        snprintf(why, len, "%llu IRP(s) outstanding",
                 (unsigned long long)wdm_io_irps_outstanding(m));
    else if (ms.frames_in_use != 0)
        snprintf(why, len, "%llu frame(s) still in use", (unsigned long long)ms.frames_in_use);
    else if (ds.map_registers_in_use != 0 || ds.sg_lists_live != 0 ||
             ds.common_buffers_live != 0)
        snprintf(why, len, "DMA objects live: %llu map registers, %llu SG lists, %llu "
                 "common buffers", (unsigned long long)ds.map_registers_in_use,
                 (unsigned long long)ds.sg_lists_live,
                 (unsigned long long)ds.common_buffers_live);
}

/* ---- asynchronous requests, counted ----------------------------------------------------- */
typedef struct ft_req {
    volatile int calls;
    int32_t status;
    size_t info;
    bool issued;
    wdfdma_io *op;
} ft_req;

static inline void ft_on_done(void *ctx, int32_t status, size_t info)
{
    ft_req *r = ctx;
    r->status = status;
    r->info = info;
    __atomic_fetch_add(&r->calls, 1, __ATOMIC_ACQ_REL);
}

/* ---- bug checks ------------------------------------------------------------------------ */
/* A bug check is never a clean outcome of an injected fault: fail the test with it. */
static inline void ft_on_bugcheck(void *ctx, const wdfdma_bugcheck *bc)
{
    fail_msg("%s: bug check %#x (%#llx, %#llx, %#llx, %#llx): %s [callback %s]",
             ctx ? (const char *)ctx : "", bc->code, (unsigned long long)bc->p[0],
             (unsigned long long)bc->p[1], (unsigned long long)bc->p[2],
             (unsigned long long)bc->p[3], bc->message, bc->callback);
}

/* Install the fault plan `spec` on m (NULL: clear the plan). */
static inline void ft_install_plan(wdfdma_machine *m, const char *spec)
{
    wdfdma_fault_plan *p = NULL;
    if (spec != NULL && wdfdma_fault_plan_parse(spec, &p) != 0)
        fail_msg("%s: %s", spec, wdfdma_last_error());
    assert_int_equal(wdfdma_machine_set_fault_plan(m, p), 0);
    wdfdma_fault_plan_free(p);
}

/* A verifier-on machine on `engine` whose bug checks fail the test, naming `label`; with
 * the fault plan `spec` installed unless it is NULL. */
static inline wdfdma_machine *ft_machine_on(uint64_t seed, wdfdma_engine engine,
                                            const char *spec, const char *label)
{
    wdfdma_machine_config c;
    wdfdma_machine_config_init(&c);
    c.seed = seed;
    c.engine = engine;
    c.verifier = true;
    wdfdma_machine *m = NULL;
    if (wdfdma_machine_create(&c, &m) != 0)
        fail_msg("machine: %s", wdfdma_last_error());
    wdfdma_machine_set_bugcheck_handler(m, ft_on_bugcheck, (void *)label);
    if (spec != NULL)
        ft_install_plan(m, spec);
    return m;
}

static inline wdfdma_machine *ft_machine(uint64_t seed, const char *spec, const char *label)
{
    return ft_machine_on(seed, WDFDMA_ENGINE_SIM, spec, label);
}

static inline uint64_t ft_fired(wdfdma_machine *m, wdfdma_fault_kind k)
{
    wdfdma_fault_stats st;
    assert_int_equal(wdfdma_machine_get_fault_stats(m, &st), 0);
    return st.fired[k];
}

#endif
