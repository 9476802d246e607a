/*
 * The machine object: configuration, creation and destruction, host API errors, the
 * seeded PRNG, upper-layer slots, object ids and statistics.
 *
 * Lifetime:
 *
 *   wdfdma_machine_create ──> RUNNING ──(wdfdma_machine_destroy)──> slots destroyed
 *        (engine started:             (fx, then wdm: they may still cancel timers and
 *         threads spawned)             disconnect interrupts) ──> engine stopped (threads
 *                                      joined) ──> devices fini ──> leak check ──> freed
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "machine/machine_priv.h"

static _Thread_local char last_error[256];

const char *wdfdma_last_error(void)
{
    return last_error;
}

int mach_error(int err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof(last_error), fmt, ap);
    va_end(ap);
    return -err;
}

/* ---- PRNG ---------------------------------------------------------------------------- */
static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void mach_rng_seed(mach_rng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&seed);
}

uint64_t mach_random(wdfdma_machine *m)
{
    mach_lock(m, &m->rng_lock);
    uint64_t v = mach_rng_next(&m->rng);
    mach_unlock(m, &m->rng_lock);
    return v;
}

uint64_t mach_monotonic_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- configuration ------------------------------------------------------------------- */
void wdfdma_machine_config_init(wdfdma_machine_config *config)
{
    if (!config)
        return;
    memset(config, 0, sizeof(*config));
    config->size = sizeof(*config);
    config->engine = WDFDMA_ENGINE_SIM;
    config->seed = 1;
    config->cpus = 2;
    config->memory = WDFDMA_MEM_SCATTERED;
    config->phys_addr_bits = 40;
    config->preempt_percent = 25;
    config->ddi_cost_ns = 50;
    config->trace_ring = 4096;
}

static int check_config(const wdfdma_machine_config *c)
{
    if (!c)
        return mach_error(EINVAL, "machine config is NULL");
    if (c->size != sizeof(*c))
        return mach_error(EINVAL, "machine config size %u does not match %zu "
                          "(call wdfdma_machine_config_init)", c->size, sizeof(*c));
    if (c->engine != WDFDMA_ENGINE_SIM && c->engine != WDFDMA_ENGINE_THREADS)
        return mach_error(EINVAL, "unknown engine %d (0 sim, 1 threads)", (int)c->engine);
    if (c->cpus < 1 || c->cpus > MACH_MAX_CPUS)
        return mach_error(EINVAL, "cpus %u out of range 1..%u", c->cpus, MACH_MAX_CPUS);
    if ((unsigned)c->memory > WDFDMA_MEM_ABOVE4G)
        return mach_error(EINVAL, "unknown memory policy %d", (int)c->memory);
    if (c->phys_addr_bits < 33 || c->phys_addr_bits > 52)
        return mach_error(EINVAL, "phys_addr_bits %u out of range 33..52", c->phys_addr_bits);
    if (c->preempt_percent > 100)
        return mach_error(EINVAL, "preempt_percent %u out of range 0..100", c->preempt_percent);
    if (c->trace_ring == 0 || (c->trace_ring & (c->trace_ring - 1)) != 0)
        return mach_error(EINVAL, "trace_ring %zu is not a power of two", c->trace_ring);
    if (c->trace_ring > ((size_t)1 << 26))
        return mach_error(EINVAL, "trace_ring %zu exceeds 2^26 entries", c->trace_ring);
    return 0;
}

static void init_locks(wdfdma_machine *m)
{
    /* Timed waits measure machine time, which is CLOCK_MONOTONIC based. */
    pthread_condattr_t mono;
    pthread_condattr_init(&mono);
    pthread_condattr_setclock(&mono, CLOCK_MONOTONIC);
    pthread_mutex_init(&m->rng_lock, NULL);
    pthread_mutex_init(&m->evq_lock, NULL);
    pthread_cond_init(&m->evq_cond, &mono);
    pthread_mutex_init(&m->work_lock, NULL);
    pthread_cond_init(&m->work_cond, &mono);
    pthread_mutex_init(&m->wait_lock, NULL);
    pthread_cond_init(&m->wait_cond, &mono);
    pthread_mutex_init(&m->bus_lock, NULL);
    pthread_mutex_init(&m->irq_lock, NULL);
    pthread_mutex_init(&m->mem_lock, NULL);
    pthread_mutex_init(&m->trace_lock, NULL);
    for (unsigned i = 0; i < MACH_MAX_CPUS; i++) {
        pthread_mutex_init(&m->cpu[i].lock, NULL);
        pthread_cond_init(&m->cpu[i].cond, &mono);
        m->cpu[i].index = i;
        m->cpu[i].m = m;
    }
    pthread_condattr_destroy(&mono);
}

static void destroy_locks(wdfdma_machine *m)
{
    pthread_mutex_destroy(&m->rng_lock);
    pthread_mutex_destroy(&m->evq_lock);
    pthread_cond_destroy(&m->evq_cond);
    pthread_mutex_destroy(&m->work_lock);
    pthread_cond_destroy(&m->work_cond);
    pthread_mutex_destroy(&m->wait_lock);
    pthread_cond_destroy(&m->wait_cond);
    pthread_mutex_destroy(&m->bus_lock);
    pthread_mutex_destroy(&m->irq_lock);
    pthread_mutex_destroy(&m->mem_lock);
    pthread_mutex_destroy(&m->trace_lock);
    for (unsigned i = 0; i < MACH_MAX_CPUS; i++) {
        pthread_mutex_destroy(&m->cpu[i].lock);
        pthread_cond_destroy(&m->cpu[i].cond);
    }
}

int wdfdma_machine_create(const wdfdma_machine_config *config, wdfdma_machine **out)
{
    if (!out)
        return mach_error(EINVAL, "wdfdma_machine_create: out is NULL");
    *out = NULL;
    int rc = check_config(config);
    if (rc)
        return rc;
    wdfdma_machine *m = calloc(1, sizeof(*m));
    if (!m)
        return mach_error(ENOMEM, "out of memory creating the machine");
    m->cfg = *config;
    m->cfg.trace_file = NULL;
    m->eng = config->engine == WDFDMA_ENGINE_THREADS ? &mach_threads_engine : &mach_sim_engine;
    m->threaded = config->engine == WDFDMA_ENGINE_THREADS;
    mach_rng_seed(&m->rng, config->seed);
    m->mmio_next = MACH_MMIO_BASE;
    m->next_vector = MACH_VECTOR_FIRST;
    m->shared_level_vector = -1;
    m->shared_edge_vector = -1;
    init_locks(m);
    rc = mach_trace_open(m, config->trace_ring, config->trace_file);
    if (rc)
        goto err_locks;
    if (mach_evq_init(&m->evq)) {
        rc = mach_error(ENOMEM, "out of memory for the event queue");
        goto err_trace;
    }
    rc = mach_physmem_create(m);
    if (rc)
        goto err_evq;
    mach_enter(m);
    rc = m->eng->start(m);
    if (rc)
        goto err_physmem;
    *out = m;
    return 0;

err_physmem:
    mach_physmem_destroy(m);
err_evq:
    mach_evq_fini(&m->evq);
err_trace:
    mach_trace_close(m);
err_locks:
    destroy_locks(m);
    if (mach_ctx.m == m)
        mach_ctx.m = NULL;
    free(m);
    return rc;
}

void wdfdma_machine_destroy(wdfdma_machine *m)
{
    if (!m)
        return;
    mach_enter(m);
    for (int s = MACH_SLOT_COUNT - 1; s >= 0; s--) {
        if (m->slots[s] && m->slot_destroy[s])
            m->slot_destroy[s](m->slots[s]);
        m->slots[s] = NULL;
    }
    m->eng->stop(m);
    if (m->nmaps)
        mach_report(m, "leak", "%u MMIO mapping(s) still mapped at machine destroy", m->nmaps);
    while (m->nmaps)
        mach_mmio_unmap(m, (void *)m->maps[m->nmaps - 1].va, m->maps[m->nmaps - 1].len);
    mach_devices_destroy(m);
    mach_irqctl_destroy(m);
    mach_physmem_destroy(m);
    mach_evq_fini(&m->evq);
    mach_findings_free(m);
    mach_trace_close(m);
    destroy_locks(m);
    if (mach_ctx.m == m)
        mach_ctx.m = NULL;
    free(m);
}

/* ---- accessors ----------------------------------------------------------------------- */
bool mach_is_sim(const wdfdma_machine *m)
{
    return m && !m->threaded;
}

unsigned mach_cpu_count(const wdfdma_machine *m)
{
    return m->cfg.cpus;
}

wdfdma_engine wdfdma_machine_engine(const wdfdma_machine *m)
{
    return m ? m->cfg.engine : WDFDMA_ENGINE_SIM;
}

uint64_t wdfdma_machine_seed(const wdfdma_machine *m)
{
    return m ? m->cfg.seed : 0;
}

bool wdfdma_machine_verifier(const wdfdma_machine *m)
{
    return m && m->cfg.verifier;
}

uint32_t mach_next_object_id(wdfdma_machine *m)
{
    return atomic_fetch_add_explicit(&m->next_id, 1, memory_order_relaxed) + 1;
}

void *mach_slot(wdfdma_machine *m, unsigned slot)
{
    if (!m || slot >= MACH_SLOT_COUNT)
        return NULL;
    return m->slots[slot];
}

void mach_set_slot(wdfdma_machine *m, unsigned slot, void *p, void (*destroy)(void *p))
{
    if (!m || slot >= MACH_SLOT_COUNT)
        return;
    m->slots[slot] = p;
    m->slot_destroy[slot] = destroy;
}

/* ---- running ------------------------------------------------------------------------- */
uint64_t wdfdma_machine_now(wdfdma_machine *m)
{
    return m ? m->eng->now(m) : 0;
}

int wdfdma_machine_run(wdfdma_machine *m)
{
    if (!m)
        return mach_error(EINVAL, "wdfdma_machine_run: machine is NULL");
    mach_enter(m);
    if (mach_ctx.irql != MACH_PASSIVE_LEVEL)
        return mach_error(EPERM, "wdfdma_machine_run: called at IRQL %u (needs PASSIVE_LEVEL)",
                          mach_ctx.irql);
    return m->eng->run(m);
}

int wdfdma_machine_run_until(wdfdma_machine *m, uint64_t t_ns)
{
    if (!m)
        return mach_error(EINVAL, "wdfdma_machine_run_until: machine is NULL");
    mach_enter(m);
    if (mach_ctx.irql != MACH_PASSIVE_LEVEL)
        return mach_error(EPERM, "wdfdma_machine_run_until: called at IRQL %u (needs "
                          "PASSIVE_LEVEL)", mach_ctx.irql);
    return m->eng->run_until(m, t_ns);
}

bool wdfdma_machine_step(wdfdma_machine *m)
{
    if (!m)
        return false;
    mach_enter(m);
    return m->eng->step(m);
}

void wdfdma_machine_get_stats(wdfdma_machine *m, wdfdma_machine_stats *o)
{
    if (!m || !o)
        return;
#define LD(f) o->f = atomic_load_explicit(&m->stats.f, memory_order_relaxed)
    LD(events);
    LD(interrupts);
    LD(spurious_interrupts);
    LD(dpcs);
    LD(work_items);
    LD(preemptions);
    LD(mmio_reads);
    LD(mmio_writes);
    LD(mmio_faults);
    LD(dma_reads);
    LD(dma_writes);
    LD(dma_read_bytes);
    LD(dma_write_bytes);
    LD(dma_faults);
    LD(frames_in_use);
    LD(frames_peak);
#undef LD
}
