/*
 * Helpers shared by the tests/test_mach_*.c programs: machines, bug-check traps, and a
 * minimal "driver" for the toy device built directly on the platform contract
 * (mach_irq_connect + mach_dpc_queue, no kernel layer).
 */
#ifndef WDFDMA_MACH_TESTUTIL_H
#define WDFDMA_MACH_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "machine/internal.h"

#define TOY_REG_ID 0x00
#define TOY_REG_SRC 0x08
#define TOY_REG_DST 0x10
#define TOY_REG_LEN 0x18
#define TOY_REG_DOORBELL 0x1C
#define TOY_REG_STATUS 0x20
#define TOY_REG_ACK 0x24
#define TOY_REG_COUNT 0x28
#define TOY_REG_IRQ_EN 0x2C
#define TOY_ST_BUSY 1u
#define TOY_ST_DONE 2u
#define TOY_ST_ERROR 4u

static inline wdfdma_machine *tu_machine(wdfdma_engine engine, uint64_t seed)
{
    wdfdma_machine_config c;
    wdfdma_machine_config_init(&c);
    c.engine = engine;
    c.seed = seed;
    wdfdma_machine *m = NULL;
    assert_int_equal(wdfdma_machine_create(&c, &m), 0);
    assert_non_null(m);
    return m;
}

/* ---- bug-check trap -------------------------------------------------------------------- */
typedef struct tu_trap {
    jmp_buf jb;
    wdfdma_bugcheck bc;
    int hits;
} tu_trap;

static inline void tu_trap_handler(void *ctx, const wdfdma_bugcheck *bc)
{
    tu_trap *t = ctx;
    t->bc = *bc;
    t->hits++;
    longjmp(t->jb, 1);
}

static inline void tu_trap_install(wdfdma_machine *m, tu_trap *t)
{
    memset(t, 0, sizeof(*t));
    wdfdma_machine_set_bugcheck_handler(m, tu_trap_handler, t);
    wdfdma_machine_set_bugcheck_quiet(m, true);
}

/* ---- a toy "driver" on the platform contract ------------------------------------------- */
typedef struct tu_toy {
    wdfdma_machine *m;
    wdfdma_dev *dev;
    volatile uint8_t *regs;
    mach_irq_conn *conn;
    volatile uintptr_t lock;
    mach_work dpc;
    uint32_t vector;
    uint8_t dirql;
    _Atomic uint32_t isr_calls, claimed, dpc_runs, completions, errors;
    _Atomic uint32_t last_isr_irql, last_dpc_irql, last_message;
    _Atomic uint32_t target;
} tu_toy;

static inline uint32_t tu_rd(tu_toy *t, unsigned reg)
{
    return (uint32_t)mach_mmio_read(t->regs + reg, 4);
}

/* A register write is a DDI boundary (WRITE_REGISTER_*): on sim the seed may let
 * hardware and pending interrupts run here. */
static inline void tu_wr(tu_toy *t, unsigned reg, uint64_t v, unsigned width)
{
    mach_preempt_point();
    mach_mmio_write(t->regs + reg, width, v);
}

static inline bool tu_toy_isr(void *ctx, uint32_t message)
{
    tu_toy *t = ctx;
    atomic_fetch_add(&t->isr_calls, 1);
    atomic_store(&t->last_isr_irql, mach_irql());
    atomic_store(&t->last_message, message);
    uint32_t st = tu_rd(t, TOY_REG_STATUS);
    if (!(st & (TOY_ST_DONE | TOY_ST_ERROR)))
        return false;
    tu_wr(t, TOY_REG_ACK, st & (TOY_ST_DONE | TOY_ST_ERROR), 4);
    if (st & TOY_ST_ERROR)
        atomic_fetch_add(&t->errors, 1);
    atomic_fetch_add(&t->claimed, 1);
    mach_dpc_queue(t->m, mach_cpu_current(), &t->dpc);
    return true;
}

static inline void tu_toy_dpc(mach_work *w)
{
    tu_toy *t = (tu_toy *)((char *)w - offsetof(tu_toy, dpc));
    atomic_store(&t->last_dpc_irql, mach_irql());
    atomic_fetch_add(&t->dpc_runs, 1);
    /* A DPC may cover several ISRs (queued at most once): count what the ISRs claimed. */
    atomic_store(&t->completions, atomic_load(&t->claimed));
    mach_signal(t->m);
}

static inline void tu_toy_attach(tu_toy *t, wdfdma_machine *m, const char *name,
                                 const char *options)
{
    memset(t, 0, sizeof(*t));
    t->m = m;
    assert_int_equal(wdfdma_machine_add_device(m, "toy", name, options, &t->dev), 0);
    const wdfdma_resource *mmio = NULL, *irq = NULL;
    for (unsigned i = 0; i < wdfdma_dev_resource_count(t->dev); i++) {
        const wdfdma_resource *r = wdfdma_dev_resource(t->dev, i);
        if (r->type == WDFDMA_RES_MMIO && !mmio)
            mmio = r;
        if (r->type == WDFDMA_RES_IRQ && !irq)
            irq = r;
    }
    assert_non_null(mmio);
    assert_non_null(irq);
    t->regs = mach_mmio_map(m, mmio->start, mmio->length);
    assert_non_null(t->regs);
    t->vector = irq->vector;
    t->dirql = (uint8_t)irq->level;
    t->dpc.fn = tu_toy_dpc;
    assert_int_equal(mach_irq_connect(m, t->vector, t->dirql, tu_toy_isr, t, &t->lock,
                                      &t->conn), 0);
}

static inline void tu_toy_detach(tu_toy *t)
{
    mach_irq_disconnect(t->conn);
    mach_mmio_unmap(t->m, (void *)t->regs, 256);
}

static inline void tu_toy_start(tu_toy *t, uint64_t src, uint64_t dst, uint32_t len)
{
    tu_wr(t, TOY_REG_SRC, src, 8);
    tu_wr(t, TOY_REG_DST, dst, 8);
    tu_wr(t, TOY_REG_LEN, len, 4);
    tu_wr(t, TOY_REG_DOORBELL, 1, 4);
}

static inline bool tu_toy_reached(void *ctx)
{
    tu_toy *t = ctx;
    return atomic_load(&t->completions) >= atomic_load(&t->target);
}

/* Wait for `n` completions in total; 1 s timeout on threads, none on sim. */
static inline bool tu_toy_wait(tu_toy *t, uint32_t n)
{
    atomic_store(&t->target, n);
    int64_t timeout = mach_is_sim(t->m) ? -1 : 5000000000ll;
    return mach_wait(t->m, tu_toy_reached, t, timeout);
}

/* dmatest-style pattern: every byte encodes its index and the buffer's seed. */
static inline uint8_t tu_pat(uint64_t seed, size_t i)
{
    uint64_t x = (seed + 1) * 0x9E3779B97F4A7C15ull ^ (uint64_t)i * 0xBF58476D1CE4E5B9ull;
    return (uint8_t)(x >> 56 ^ x >> 17 ^ i);
}

static inline void tu_fill(uint8_t *p, size_t n, uint64_t seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = tu_pat(seed, i);
}

/* Index of the first byte not matching the pattern, or n. */
static inline size_t tu_check(const uint8_t *p, size_t n, uint64_t seed)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != tu_pat(seed, i))
            return i;
    return n;
}

#endif
