/*
 * The interrupt controller: vectors, lines (level / edge, shareable), MSI messages,
 * connections (ISRs) with per-connection masks, and delivery.
 *
 * A vector needs service when
 *     level line:   some device drives it (asserted > 0) and it is not storm-suppressed
 *     edge / MSI:   an edge is latched (coalesced: several edges before service are one)
 * and at least one connection is unmasked. Such vectors have their bit in m->irq_pending;
 * the engine is kicked when a bit appears (sim polls the set; threads routes the vector
 * to processor vector % cpus).
 *
 * Service of one vector:
 *
 *   consume latch ─> ISRs in connection order, each at its DIRQL holding its lock,
 *                    until one claims
 *        claimed ───> interrupts++; a level line still asserted is delivered again
 *                     (after 64 claimed re-deliveries without a deassert: storm report,
 *                      suppressed until the line is deasserted)
 *        unclaimed ─> spurious++ + trace; a level line is suppressed until deasserted
 *
 * Threads engine: irq_lock guards lines and connections; ISRs run without it. A
 * disconnect waits for in-flight services of its vector (in_service) before freeing.
 */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>

#include "machine/machine_priv.h"

#define STORM_LIMIT 64
#define MAX_SNAPSHOT 16



static uint8_t dirql_for(uint32_t vector)
{
    uint32_t l = vector >> 4;
    if (l < MACH_DIRQL_MIN)
        l = MACH_DIRQL_MIN;
    if (l > MACH_DIRQL_MAX)
        l = MACH_DIRQL_MAX;
    return (uint8_t)l;
}

static bool needs_service(const mach_irq_line *l)
{
    if (l->flags & (WDFDMA_IRQ_EDGE | WDFDMA_IRQ_MSI))
        return l->latched > 0;
    return l->asserted > 0 && !l->suppressed;
}

static bool has_unmasked(const mach_irq_line *l)
{
    for (const mach_irq_conn *c = l->conns; c; c = c->next)
        if (!c->masked)
            return true;
    return false;
}

/* Recompute the vector's pending bit; kick the engine when it appears. Holds irq_lock. */
static bool update_pending(wdfdma_machine *m, uint32_t v, bool kick)
{
    mach_irq_line *l = &m->lines[v];
    bool want = needs_service(l) && has_unmasked(l);
    uint64_t bit = 1ull << (v % 64);
    bool had = m->irq_pending[v / 64] & bit;
    if (want)
        m->irq_pending[v / 64] |= bit;
    else
        m->irq_pending[v / 64] &= ~bit;
    if (want && !had && kick)
        m->eng->irq_kick(m, v);
    return want;
}

/* ---- allocation (the bus, at device init) ------------------------------------------- */
static int take_vectors(wdfdma_machine *m, uint32_t count, uint32_t *vector)
{
    if (m->next_vector + count - 1 > MACH_VECTOR_LAST)
        return mach_error(ENOSPC, "interrupt vectors exhausted (0x%x..0x%x)",
                          MACH_VECTOR_FIRST, MACH_VECTOR_LAST);
    *vector = m->next_vector;
    m->next_vector += count;
    return 0;
}

int mach_irqctl_alloc(wdfdma_machine *m, wdfdma_dev *dev, uint32_t flags, uint32_t count,
                      uint32_t *vector, uint8_t *dirql)
{
    int rc = 0;
    mach_lock(m, &m->irq_lock);
    if (flags & WDFDMA_IRQ_MSI) {
        if ((rc = take_vectors(m, count, vector)))
            goto out;
        for (uint32_t i = 0; i < count; i++) {
            mach_irq_line *l = &m->lines[*vector + i];
            l->owner = dev;
            l->flags = flags;
            l->message = i;
            l->dirql = dirql_for(*vector + i);
        }
    } else {
        /* Shared lines of one trigger mode all land on one vector, like PCI INTx. */
        int *shared = (flags & WDFDMA_IRQ_EDGE) ? &m->shared_edge_vector : &m->shared_level_vector;
        if ((flags & WDFDMA_IRQ_SHARED) && *shared >= 0) {
            *vector = (uint32_t)*shared;
        } else {
            if ((rc = take_vectors(m, 1, vector)))
                goto out;
            mach_irq_line *l = &m->lines[*vector];
            l->owner = dev;
            l->flags = flags;
            l->dirql = dirql_for(*vector);
            if (flags & WDFDMA_IRQ_SHARED)
                *shared = (int)*vector;
        }
    }
    *dirql = m->lines[*vector].dirql;
out:
    mach_unlock(m, &m->irq_lock);
    return rc;
}

void mach_irqctl_destroy(wdfdma_machine *m)
{
    unsigned left = 0;
    for (unsigned v = 0; v < MACH_VECTORS; v++) {
        mach_irq_conn *c = m->lines[v].conns;
        while (c) {
            mach_irq_conn *next = c->next;
            free(c);
            left++;
            c = next;
        }
        m->lines[v].conns = NULL;
    }
    if (left)
        mach_report(m, "leak", "%u interrupt connection(s) still connected at machine "
                    "destroy", left);
}

/* ---- device side ------------------------------------------------------------------- */
static mach_dev_irq *dev_irq(wdfdma_dev *dev, unsigned irq, const char *what)
{
    if (!dev)
        return NULL;
    if (irq >= dev->nirqs) {
        mach_report(dev->m, "device", "device '%s': %s of undeclared interrupt %u", dev->name,
                    what, irq);
        return NULL;
    }
    return &dev->irq[irq];
}

void wdfdma_dev_irq_assert(wdfdma_dev *dev, unsigned irq)
{
    mach_dev_irq *di = dev_irq(dev, irq, "assert");
    if (!di || atomic_load(&dev->absent))   /* pulled out: it signals nothing */
        return;
    wdfdma_machine *m = dev->m;
    if (di->flags & WDFDMA_IRQ_MSI) {
        wdfdma_dev_msi_send(dev, irq, 0);
        return;
    }
    mach_lock(m, &m->irq_lock);
    mach_irq_line *l = &m->lines[di->vector];
    if (di->flags & WDFDMA_IRQ_EDGE) {
        l->latched++;
        di->asserted = true;
    } else if (!di->asserted) {
        di->asserted = true;
        l->asserted++;
    }
    mach_trace(m, WDFDMA_TR_IRQ_ASSERT, dev->id, NULL, di->vector, 0);
    update_pending(m, di->vector, true);
    mach_unlock(m, &m->irq_lock);
}

void wdfdma_dev_irq_deassert(wdfdma_dev *dev, unsigned irq)
{
    mach_dev_irq *di = dev_irq(dev, irq, "deassert");
    if (!di || (di->flags & WDFDMA_IRQ_MSI))
        return;
    wdfdma_machine *m = dev->m;
    mach_lock(m, &m->irq_lock);
    mach_irq_line *l = &m->lines[di->vector];
    if (di->asserted) {
        di->asserted = false;
        if (!(di->flags & WDFDMA_IRQ_EDGE) && --l->asserted == 0) {
            l->suppressed = false;
            l->storm = 0;
        }
        mach_trace(m, WDFDMA_TR_IRQ_DEASSERT, dev->id, NULL, di->vector, 0);
    }
    update_pending(m, di->vector, true);
    mach_unlock(m, &m->irq_lock);
}

void wdfdma_dev_msi_send(wdfdma_dev *dev, unsigned irq, unsigned message)
{
    mach_dev_irq *di = dev_irq(dev, irq, "MSI send");
    if (!di || atomic_load(&dev->absent))   /* pulled out: it signals nothing */
        return;
    wdfdma_machine *m = dev->m;
    if (!(di->flags & WDFDMA_IRQ_MSI) || message >= di->count) {
        mach_report(m, "device", "device '%s': MSI message %u on interrupt %u that has %u "
                    "message(s)%s", dev->name, message, irq,
                    (di->flags & WDFDMA_IRQ_MSI) ? di->count : 0,
                    (di->flags & WDFDMA_IRQ_MSI) ? "" : " (a line, not MSI)");
        return;
    }
    uint32_t v = di->vector + message;
    mach_lock(m, &m->irq_lock);
    m->lines[v].latched++;
    mach_trace(m, WDFDMA_TR_IRQ_ASSERT, dev->id, NULL, v, message);
    update_pending(m, v, true);
    mach_unlock(m, &m->irq_lock);
}

/* ---- kernel side: connections -------------------------------------------------------- */
int mach_irq_connect(wdfdma_machine *m, uint32_t vector, uint8_t dirql,
                     bool (*isr)(void *ctx, uint32_t message), void *ctx,
                     volatile uintptr_t *lock, mach_irq_conn **out)
{
    if (!m || !isr || !out)
        return mach_error(EINVAL, "mach_irq_connect: %s is NULL",
                          !m ? "machine" : !isr ? "isr" : "out");
    *out = NULL;
    if (vector >= MACH_VECTORS || !m->lines[vector].owner)
        return mach_error(EINVAL, "mach_irq_connect: vector 0x%x belongs to no device", vector);
    if (dirql < MACH_DIRQL_MIN || dirql > MACH_HIGH_LEVEL)
        return mach_error(EINVAL, "mach_irq_connect: DIRQL %u out of range %u..%u", dirql,
                          MACH_DIRQL_MIN, MACH_HIGH_LEVEL);
    mach_irq_conn *c = calloc(1, sizeof(*c));
    if (!c)
        return mach_error(ENOMEM, "out of memory connecting vector 0x%x", vector);
    *c = (mach_irq_conn){ .m = m, .vector = vector, .dirql = dirql, .isr = isr, .ctx = ctx,
                          .lock = lock };
    mach_lock(m, &m->irq_lock);
    mach_irq_line *l = &m->lines[vector];
    if (l->conns && !(l->flags & WDFDMA_IRQ_SHARED)) {
        mach_unlock(m, &m->irq_lock);
        free(c);
        return mach_error(EBUSY, "mach_irq_connect: vector 0x%x is not shareable and already "
                          "connected", vector);
    }
    mach_irq_conn **tail = &l->conns;
    while (*tail)
        tail = &(*tail)->next;
    *tail = c;
    update_pending(m, vector, true);
    mach_unlock(m, &m->irq_lock);
    *out = c;
    return 0;
}

void mach_irq_disconnect(mach_irq_conn *c)
{
    if (!c)
        return;
    wdfdma_machine *m = c->m;
    mach_lock(m, &m->irq_lock);
    for (mach_irq_conn **p = &m->lines[c->vector].conns; *p; p = &(*p)->next) {
        if (*p == c) {
            *p = c->next;
            break;
        }
    }
    /* An ISR of this vector may still be running on a processor thread with our ctx. */
    while (m->threaded && m->irq_in_service[c->vector]) {
        mach_unlock(m, &m->irq_lock);
        sched_yield();
        mach_lock(m, &m->irq_lock);
    }
    update_pending(m, c->vector, false);
    mach_unlock(m, &m->irq_lock);
    free(c);
}

void mach_irq_mask(mach_irq_conn *c, bool masked)
{
    if (!c)
        return;
    wdfdma_machine *m = c->m;
    mach_lock(m, &m->irq_lock);
    c->masked = masked;
    update_pending(m, c->vector, true);
    mach_unlock(m, &m->irq_lock);
}

wdfdma_dev *mach_irq_owner(wdfdma_machine *m, uint32_t vector)
{
    if (!m || vector >= MACH_VECTORS)
        return NULL;
    return m->lines[vector].owner;
}

/* ---- delivery ------------------------------------------------------------------------- */
_Static_assert(MACH_VECTORS / 64 == 4, "mach_irqctl_next's early out reads four words");

int mach_irqctl_next(wdfdma_machine *m, uint8_t irql)
{
    /* Asked at every IRQL lowering and loop step; almost always nothing is pending. */
    if ((m->irq_pending[0] | m->irq_pending[1] | m->irq_pending[2] | m->irq_pending[3]) == 0)
        return -1;
    int best = -1;
    uint8_t best_irql = 0;
    for (unsigned w = 0; w < MACH_VECTORS / 64; w++) {
        for (uint64_t bits = m->irq_pending[w]; bits; bits &= bits - 1) {
            unsigned v = w * 64 + (unsigned)__builtin_ctzll(bits);
            uint8_t d = m->lines[v].dirql;
            if (d > irql && d > best_irql) {
                best = (int)v;
                best_irql = d;
            }
        }
    }
    return best;
}

typedef struct isr_call {
    bool (*isr)(void *ctx, uint32_t message);
    void *ctx;
    volatile uintptr_t *lock;
    uint8_t dirql;
} isr_call;

static bool call_isrs(wdfdma_machine *m, uint32_t v, const isr_call *calls, unsigned n,
                      uint32_t message)
{
    const char *owner = m->lines[v].owner ? m->lines[v].owner->name : NULL;
    for (unsigned i = 0; i < n; i++) {
        uint8_t saved = mach_ctx.irql;
        mach_ctx.irql = calls[i].dirql;
        if (calls[i].lock)
            mach_spin_acquire(calls[i].lock);
        mach_trace(m, WDFDMA_TR_ISR_BEGIN, 0, owner, v, 0);
        bool claimed = calls[i].isr(calls[i].ctx, message);
        mach_trace(m, WDFDMA_TR_ISR_END, 0, owner, v, claimed);
        if (calls[i].lock)
            mach_spin_release(calls[i].lock);
        mach_ctx.irql = saved;
        if (claimed)
            return true;
    }
    return false;
}

bool mach_irqctl_service(wdfdma_machine *m, uint32_t v)
{
    mach_lock(m, &m->irq_lock);
    mach_irq_line *l = &m->lines[v];
    if (!needs_service(l) || !has_unmasked(l)) {
        update_pending(m, v, false);
        mach_unlock(m, &m->irq_lock);
        return false;
    }
    l->latched = 0;
    isr_call calls[MAX_SNAPSHOT];
    unsigned n = 0;
    for (const mach_irq_conn *c = l->conns; c && n < MAX_SNAPSHOT; c = c->next)
        if (!c->masked)
            calls[n++] = (isr_call){ c->isr, c->ctx, c->lock, c->dirql };
    uint32_t message = l->message;
    m->irq_in_service[v]++;
    mach_unlock(m, &m->irq_lock);

    bool claimed = call_isrs(m, v, calls, n, message);

    mach_lock(m, &m->irq_lock);
    m->irq_in_service[v]--;
    bool level = !(l->flags & (WDFDMA_IRQ_EDGE | WDFDMA_IRQ_MSI));
    if (claimed) {
        MACH_STAT_ADD(m, interrupts, 1);
        if (level && l->asserted && ++l->storm > STORM_LIMIT) {
            l->suppressed = true;
            mach_report(m, "interrupt", "interrupt storm on vector 0x%x: the ISR claims but "
                        "the device keeps the line asserted; suppressed until deasserted", v);
        }
    } else {
        MACH_STAT_ADD(m, spurious_interrupts, 1);
        mach_trace(m, WDFDMA_TR_IRQ_SPURIOUS, 0, NULL, v, 0);
        if (level && l->asserted)
            l->suppressed = true;
    }
    bool again = update_pending(m, v, false);
    mach_unlock(m, &m->irq_lock);
    return again;
}
