/*
 * Private declarations shared by the files of src/machine (not used by other layers).
 *
 * Locking (threads engine only; on the sim engine every lock below is skipped because one
 * OS thread runs everything). Order, outermost first, never taken the other way round:
 *
 *   dev->lock  ->  m->irq_lock  ->  cpu->lock / m->evq_lock / m->work_lock  ->  m->wait_lock
 *              ->  m->mem_lock, m->bus_lock, m->trace_lock, m->rng_lock (leaves)
 *
 * A controller model may take a peripheral's dev->lock while holding its own (peer register
 * access, request-line acknowledgement); a peripheral never calls into its controller
 * synchronously (request-line changes reach the controller as a hardware event).
 */
#ifndef WDFDMA_MACHINE_PRIV_H
#define WDFDMA_MACHINE_PRIV_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include "machine/internal.h"

#define MACH_MAX_CPUS 64u
#define MACH_MAX_DEVICES 64u
#define MACH_MAX_RESOURCES 16u
#define MACH_MAX_REGIONS 8u
#define MACH_MAX_IRQS 8u
#define MACH_MAX_MMIO_MAPS 256u
#define MACH_MAX_REQUEST_LINES 64u
#define MACH_VECTORS 256u
#define MACH_VECTOR_FIRST 0x30u      /* vectors below are "reserved by the CPU" */
#define MACH_VECTOR_LAST 0xCFu
#define MACH_MMIO_BASE 0xF0000000ull /* the bus hands out MMIO addresses from here */
#define MACH_MMIO_END 0x100000000ull
#define MACH_CPU_HW 0xFFu            /* "processor" of hardware context in the trace */

typedef struct wdfdma_machine wdfdma_machine;

/* ---- PRNG: xoshiro256**, seeded by splitmix64 ------------------------------------- */
typedef struct mach_rng {
    uint64_t s[4];
} mach_rng;
void mach_rng_seed(mach_rng *r, uint64_t seed);
/* xoshiro256**: inline, because the sim engine draws on every event and DDI boundary. */
static inline uint64_t mach_rng_rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static inline uint64_t mach_rng_next(mach_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = mach_rng_rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = mach_rng_rotl(s[3], 45);
    return result;
}

/* ---- per-thread context ------------------------------------------------------------ */
#define MACH_CALLBACK_DEPTH 16
typedef struct mach_mmio_cache {
    const wdfdma_machine *m;
    uint64_t gen;
    uintptr_t va_start, va_end;
    wdfdma_dev *dev;
    unsigned region;
    uint64_t offset;                   /* region offset of va_start */
    uint64_t pa;                       /* physical address of va_start */
} mach_mmio_cache;

typedef struct mach_tls {
    wdfdma_machine *m;
    uint8_t cpu;
    uint8_t irql;
    uintptr_t tag;                     /* threads: spin-lock owner tag of this thread */
    unsigned cb_depth;
    const char *cb_name[MACH_CALLBACK_DEPTH];
    mach_mmio_cache mmio;
} mach_tls;
extern _Thread_local mach_tls mach_ctx MACH_TLS_FAST;

/* Set processor/IRQL without any delivery (engines use it around ISRs, DPCs, events). */
static inline void mach_ctx_set(uint8_t cpu, uint8_t irql)
{
    mach_ctx.cpu = cpu;
    mach_ctx.irql = irql;
}

/* ---- events (eventqueue.c): a binary heap with cancellable ids --------------------- */
typedef struct mach_event {
    uint64_t time;
    uint64_t tie;                      /* seeded random tie-break for equal times */
    uint64_t seq;                      /* final tie-break: scheduling order */
    void (*fn)(void *ctx);             /* plain hardware event (kernel timers) */
    void *ctx;
    wdfdma_dev *dev;                   /* device event: devfn(dev, ctx) under the device */
    void (*devfn)(wdfdma_dev *dev, void *arg);
    uint32_t gen;                      /* slot generation, part of the id */
    uint32_t heap_pos;                 /* UINT32_MAX when not in the heap */
} mach_event;

typedef struct mach_evq {
    mach_event *slots;
    uint32_t nslots, cap;
    uint32_t *heap;                    /* slot indices */
    uint32_t nheap;
    uint32_t free_head;                /* free-slot list through heap_pos; UINT32_MAX = empty */
    uint64_t seq;
} mach_evq;
int mach_evq_init(mach_evq *q);
void mach_evq_fini(mach_evq *q);
/* Insert a copy of *e (time/tie/fn/ctx/dev/devfn); returns its id or 0 on -ENOMEM. */
mach_event_id mach_evq_push(mach_evq *q, const mach_event *e);
/* The earliest event (NULL if empty). */
const mach_event *mach_evq_peek(const mach_evq *q);
/* Remove the earliest event into *out; false if empty. */
bool mach_evq_pop(mach_evq *q, mach_event *out);
bool mach_evq_cancel(mach_evq *q, mach_event_id id);
static inline uint32_t mach_evq_size(const mach_evq *q) { return q->nheap; }
/* Run one popped event in hardware context (device lock on threads, re-entry guard). */
void mach_event_run(wdfdma_machine *m, const mach_event *e);

/* ---- engines ------------------------------------------------------------------------ */
typedef struct mach_engine_ops {
    const char *name;
    int (*start)(wdfdma_machine *m);
    void (*stop)(wdfdma_machine *m);
    uint64_t (*now)(wdfdma_machine *m);
    mach_event_id (*after)(wdfdma_machine *m, uint64_t delay_ns, const mach_event *proto);
    bool (*cancel)(wdfdma_machine *m, mach_event_id id);
    bool (*dpc_queue)(wdfdma_machine *m, unsigned cpu, mach_work *w);
    bool (*dpc_remove)(wdfdma_machine *m, mach_work *w);
    void (*work_queue)(wdfdma_machine *m, mach_work *w);
    bool (*wait)(wdfdma_machine *m, bool (*done)(void *ctx), void *ctx, int64_t timeout_ns);
    void (*signal)(wdfdma_machine *m);
    void (*stall)(wdfdma_machine *m, uint64_t ns);
    void (*preempt)(wdfdma_machine *m);
    void (*irql_lowered)(wdfdma_machine *m);
    /* The interrupt controller says `vector` needs service. Caller holds irq_lock. */
    void (*irq_kick)(wdfdma_machine *m, uint32_t vector);
    int (*run)(wdfdma_machine *m);
    int (*run_until)(wdfdma_machine *m, uint64_t t_ns);
    bool (*step)(wdfdma_machine *m);
} mach_engine_ops;
extern const mach_engine_ops mach_sim_engine;
extern const mach_engine_ops mach_threads_engine;

/* A processor's DPC queue (FIFO) and, on the threads engine, its thread. */
typedef struct mach_cpu {
    mach_work *head, *tail;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    pthread_t thread;
    bool sleeping;
    _Atomic uint64_t posts;            /* threads: bumped per interrupt/DPC posted (spinners watch it) */
    uint64_t irq_pending[MACH_VECTORS / 64];
    unsigned index;
    wdfdma_machine *m;
} mach_cpu;

/* ---- devices ------------------------------------------------------------------------ */
typedef struct mach_region {
    uint64_t pa, size;
} mach_region;

typedef struct mach_dev_irq {
    uint32_t vector, count, flags;
    bool asserted;                     /* level/edge lines: this device drives the line */
} mach_dev_irq;

struct wdfdma_dev {
    wdfdma_machine *m;
    const wdfdma_device_model *model;
    char *name;
    uint32_t id;
    void *state;
    bool in_init;
    wdfdma_resource res[MACH_MAX_RESOURCES];
    unsigned nres;
    mach_region region[MACH_MAX_REGIONS];
    unsigned nregions;
    mach_dev_irq irq[MACH_MAX_IRQS];
    unsigned nirqs;
    char *controller_names[MACH_MAX_RESOURCES];
    wdfdma_dma_translate translate;
    void *translate_ctx;
    void *binding;
    _Atomic uint64_t busy_ns;    /* modelled time the device spent working */
    _Atomic bool absent;         /* pulled out (wdfdma_dev_set_present / surprise-remove) */
    pthread_mutex_t lock;
    char error[256];
};
void mach_devices_destroy(wdfdma_machine *m);
/* Fault plans (faults.c): a device model's question (wdfdma_dev_fault), which is also the
 * decision point of the device-level actions (surprise-remove, power-down, cancel); and the
 * teardown, after the engine has stopped. */
bool mach_faults_device_ask(wdfdma_dev *dev, const char *kind);
void mach_faults_destroy(wdfdma_machine *m);

/* ---- interrupt controller ----------------------------------------------------------- */
struct mach_irq_conn {
    wdfdma_machine *m;
    uint32_t vector;
    uint8_t dirql;
    bool (*isr)(void *ctx, uint32_t message);
    void *ctx;
    volatile uintptr_t *lock;
    bool masked;
    struct mach_irq_conn *next;
};

typedef struct mach_irq_line {
    wdfdma_dev *owner;                 /* first device declaring the vector */
    uint32_t flags;                    /* WDFDMA_IRQ_* of the declaration */
    uint32_t message;                  /* MSI: message number of this vector */
    uint8_t dirql;                     /* assigned by the bus */
    unsigned asserted;                 /* level: devices currently driving the line */
    unsigned latched;                  /* edge/MSI: edges not yet serviced */
    unsigned storm;                    /* consecutive claimed re-deliveries while asserted */
    bool suppressed;                   /* storm guard: wait for a deassert */
    mach_irq_conn *conns;              /* connection order */
} mach_irq_line;

int mach_irqctl_alloc(wdfdma_machine *m, wdfdma_dev *dev, uint32_t flags, uint32_t count,
                      uint32_t *vector, uint8_t *dirql);
/* Highest-DIRQL vector that needs service and is unmasked above `irql`; -1 if none. */
int mach_irqctl_next(wdfdma_machine *m, uint8_t irql);
/* Service one vector on the calling thread as the current processor: call its ISRs at
 * their DIRQL with their locks held. Returns true if it still needs service. */
bool mach_irqctl_service(wdfdma_machine *m, uint32_t vector);
void mach_irqctl_destroy(wdfdma_machine *m);

/* ---- physical memory ---------------------------------------------------------------- */
typedef struct mach_physmem mach_physmem;
int mach_physmem_create(wdfdma_machine *m);
void mach_physmem_destroy(wdfdma_machine *m);
/* Copy to/from physical memory; the caller holds mem_lock (threads). */
int mach_phys_copy_locked(wdfdma_machine *m, uint64_t pa, void *buf, size_t len, bool write);

/* ---- trace ------------------------------------------------------------------------- */
#define MACH_TRACE_NAME_CACHE 256u     /* power of two */
typedef struct mach_trace_state {
    wdfdma_trace_record *ring;
    size_t mask;
    uint64_t count;                    /* records made */
    uint64_t hashed;                   /* records folded into hash (the rest are pending) */
    uint64_t fold_batch;               /* fold when this many are pending (<= ring size) */
    uint64_t hash;
    FILE *file;
    wdfdma_trace_sink sink;
    void *sink_ctx;
    /* Name digests by string pointer (names are static strings by contract: the ring
     * keeps them by pointer), so each distinct name's text is hashed once. */
    struct { const char *name; uint64_t digest; } names[MACH_TRACE_NAME_CACHE];
} mach_trace_state;
#define MACH_TRACE_FOLD_BATCH 64u
int mach_trace_open(wdfdma_machine *m, size_t ring, const char *file);
/* Fold pending records into the hash now (before a name they point at is freed).
 * Caller holds trace_lock on the threads engine. */
void mach_trace_fold(wdfdma_machine *m);
void mach_trace_close(wdfdma_machine *m);

/* ---- statistics (relaxed atomics: exact on both engines) ---------------------------- */
typedef struct mach_stats {
    _Atomic uint64_t events, interrupts, spurious_interrupts, dpcs, work_items, preemptions;
    _Atomic uint64_t mmio_reads, mmio_writes, mmio_faults;
    _Atomic uint64_t dma_reads, dma_writes, dma_read_bytes, dma_write_bytes, dma_faults;
    _Atomic uint64_t frames_in_use, frames_peak;
} mach_stats;
#define MACH_STAT_ADD(m, field, n) mach_stat_add(&(m)->stats.field, (n), (m)->threaded)

typedef struct mach_mmio_map {
    uintptr_t va;
    size_t len;                        /* bytes reserved at va */
    uint64_t pa;                       /* physical address of va */
    wdfdma_dev *dev;
    unsigned region;
    uint64_t offset;                   /* region offset at va */
} mach_mmio_mapping;

typedef struct mach_reqline {
    wdfdma_dev *owner;
    wdfdma_dev *controller;
    uint32_t channel;
    _Atomic bool asserted;
} mach_reqline;

struct wdfdma_machine {
    wdfdma_machine_config cfg;
    const mach_engine_ops *eng;
    bool threaded;
    _Atomic bool stopping;
    mach_rng rng;
    pthread_mutex_t rng_lock;

    /* engine state */
    uint64_t now;                      /* sim: virtual ns */
    uint64_t t0_ns;                    /* threads: CLOCK_MONOTONIC at start */
    mach_evq evq;
    pthread_mutex_t evq_lock;
    pthread_cond_t evq_cond;
    pthread_t dev_thread;
    bool dev_thread_sleeping;
    _Atomic uint64_t evq_posts;        /* threads: bumped per event scheduled (the spinning device thread watches it) */
    uint64_t dev_thread_wake_at;       /* time the device thread sleeps until (UINT64_MAX) */
    unsigned in_hw;                    /* sim: depth of hardware/device-model code */
    mach_cpu cpu[MACH_MAX_CPUS];
    mach_work *work_head, *work_tail;
    pthread_mutex_t work_lock;
    pthread_cond_t work_cond;
    pthread_t workers[2];
    unsigned nworkers;
    unsigned workers_idle;
    pthread_mutex_t wait_lock;
    pthread_cond_t wait_cond;
    unsigned waiters;
    _Atomic uint64_t outstanding;      /* threads: events + DPCs + work + interrupts pending */
    bool threads_started;

    /* devices and bus */
    wdfdma_dev *devs[MACH_MAX_DEVICES];
    _Atomic unsigned ndevs;
    uint64_t mmio_next;
    pthread_mutex_t bus_lock;
    mach_mmio_mapping maps[MACH_MAX_MMIO_MAPS];
    unsigned nmaps;
    _Atomic uint64_t mmio_gen;
    mach_reqline reqlines[MACH_MAX_REQUEST_LINES];
    wdfdma_dma_check dma_check;
    void *dma_check_ctx;
    wdfdma_fault_hook fault_hook;
    void *fault_ctx;
    struct mach_faults *faults;        /* fault plan state (faults.c), NULL until used */

    /* interrupt controller */
    pthread_mutex_t irq_lock;
    mach_irq_line lines[MACH_VECTORS];
    uint64_t irq_pending[MACH_VECTORS / 64];   /* vectors needing service (unmasked) */
    unsigned irq_in_service[MACH_VECTORS];     /* ISR calls in flight per vector */
    uint32_t next_vector;
    int shared_level_vector, shared_edge_vector;

    /* memory */
    mach_physmem *pm;
    pthread_mutex_t mem_lock;

    /* trace, reports, bug checks */
    mach_trace_state tr;
    pthread_mutex_t trace_lock;
    _Atomic uint64_t findings;
    struct mach_vlog *_Atomic vlog;    /* verifier findings (bugcheck.c), created lazily */
    _Atomic uint32_t next_id;
    bool quiet;
    wdfdma_bugcheck_handler bc_handler;
    void *bc_ctx;
    wdfdma_bugcheck last_bc;
    bool has_bc;
    char bc_message[256];
    char bc_callback[64];

    mach_stats stats;
    void *slots[MACH_SLOT_COUNT];
    void (*slot_destroy[MACH_SLOT_COUNT])(void *p);
};

static inline void mach_lock(wdfdma_machine *m, pthread_mutex_t *mu)
{
    if (m->threaded)
        pthread_mutex_lock(mu);
}
static inline void mach_unlock(wdfdma_machine *m, pthread_mutex_t *mu)
{
    if (m->threaded)
        pthread_mutex_unlock(mu);
}

/* The trace record for the calling context (cpu/irql of this thread). */
void mach_trace_ctx(wdfdma_machine *m, uint16_t type, uint32_t obj, const char *name,
                    uint64_t a, uint64_t b);
uint64_t mach_monotonic_ns(void);

#endif
