/*
 * wdfdma host API: the simulated machine.
 *
 * A host (test, benchmark, the wdfdma command) creates a machine, adds device models,
 * binds drivers (see wdfdma/host.h once the framework exists), runs it and reads its
 * statistics and trace. Every function that can fail returns 0 or a negative errno value
 * and leaves a one-line message in wdfdma_last_error(); none of them crashes on bad
 * input and none of them silently clamps a value.
 */
#ifndef WDFDMA_MACHINE_H
#define WDFDMA_MACHINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct wdfdma_machine wdfdma_machine;
typedef struct wdfdma_dev wdfdma_dev;

typedef enum wdfdma_engine {
    WDFDMA_ENGINE_SIM = 0,     /* one OS thread, virtual time, deterministic per seed */
    WDFDMA_ENGINE_THREADS = 1, /* real pthreads: processors, device thread, workers */
} wdfdma_engine;

/* Which physical frames a buffer gets when it is locked into an MDL. */
typedef enum wdfdma_mem_policy {
    WDFDMA_MEM_SCATTERED = 0,  /* random frames anywhere (default): realistic SG lists */
    WDFDMA_MEM_CONTIGUOUS = 1, /* consecutive frames */
    WDFDMA_MEM_BELOW4G = 2,    /* random frames below 4 GiB */
    WDFDMA_MEM_ABOVE4G = 3,    /* random frames at or above 4 GiB: 32-bit devices bounce */
} wdfdma_mem_policy;

typedef struct wdfdma_machine_config {
    uint32_t size;              /* sizeof(wdfdma_machine_config) */
    wdfdma_engine engine;
    uint64_t seed;              /* PRNG seed: event tie order, preemption, placement */
    unsigned cpus;              /* processors, 1..64 (default 2) */
    wdfdma_mem_policy memory;
    unsigned phys_addr_bits;    /* physical address space, 33..52 bits (default 40) */
    unsigned preempt_percent;   /* sim: chance 0..100 that a DDI boundary lets hardware
                                   run and pending interrupts/DPCs preempt (default 25) */
    uint64_t ddi_cost_ns;       /* sim: virtual CPU time a DDI boundary may consume (default 50) */
    bool verifier;              /* DMA and KMDF verifier checks */
    size_t trace_ring;          /* trace ring entries, power of two (default 4096) */
    const char *trace_file;     /* optional: every trace record appended as text lines */
    bool verifier_double_buffer;/* with `verifier`: every page of every mapping bounces through
                                   map registers (Driver Verifier's "force double
                                   buffering"), and a driver that touches a buffer while
                                   the device owns it is a finding (docs/verifier.md) */
} wdfdma_machine_config;

void wdfdma_machine_config_init(wdfdma_machine_config *config);
int wdfdma_machine_create(const wdfdma_machine_config *config, wdfdma_machine **out);
/* Stops the engine, disposes devices and checks for leaks (reported, see stats). */
void wdfdma_machine_destroy(wdfdma_machine *m);

/* The message of the last failed wdfdma_* call on this thread ("" if none). */
const char *wdfdma_last_error(void);

/* ---- devices ----------------------------------------------------------------------- */
/* Instantiate a registered device model ("sgdma", "uart", ...). `options` is the model's
 * "key=value,key=value" string or NULL. The machine assigns its MMIO addresses,
 * interrupt vectors and DMA request lines. */
int wdfdma_machine_add_device(wdfdma_machine *m, const char *model, const char *name,
                              const char *options, wdfdma_dev **out);
wdfdma_dev *wdfdma_machine_find_device(wdfdma_machine *m, const char *name);
const char *wdfdma_dev_name(const wdfdma_dev *dev);
const char *wdfdma_dev_model_name(const wdfdma_dev *dev);

/* Registered device models, for listings: returns NULL past the end. */
const struct wdfdma_device_model *wdfdma_device_model_at(unsigned index);

/* ---- running ----------------------------------------------------------------------- */
uint64_t wdfdma_machine_now(wdfdma_machine *m);          /* ns: virtual (sim) or since start */
int wdfdma_machine_run(wdfdma_machine *m);               /* until nothing is pending */
int wdfdma_machine_run_until(wdfdma_machine *m, uint64_t t_ns);
bool wdfdma_machine_step(wdfdma_machine *m);             /* sim: one event; false if idle */
wdfdma_engine wdfdma_machine_engine(const wdfdma_machine *m);
uint64_t wdfdma_machine_seed(const wdfdma_machine *m);
bool wdfdma_machine_verifier(const wdfdma_machine *m);
/* The verifier is on and forces double buffering (config.verifier_double_buffer). */
bool wdfdma_machine_verifier_double_buffer(const wdfdma_machine *m);

/* ---- statistics -------------------------------------------------------------------- */
typedef struct wdfdma_machine_stats {
    uint64_t events;             /* engine events executed */
    uint64_t interrupts;         /* interrupts claimed by an ISR */
    uint64_t spurious_interrupts;/* delivered, no ISR claimed it */
    uint64_t dpcs;               /* DPC routines run */
    uint64_t work_items;         /* PASSIVE work run */
    uint64_t preemptions;        /* sim: DDI boundaries where hardware/interrupts ran */
    uint64_t mmio_reads, mmio_writes, mmio_faults;
    uint64_t dma_reads, dma_writes;           /* device DMA operations */
    uint64_t dma_read_bytes, dma_write_bytes;
    uint64_t dma_faults;         /* device accesses that hit no mapping */
    uint64_t frames_in_use;      /* physical frames currently assigned */
    uint64_t frames_peak;
} wdfdma_machine_stats;
void wdfdma_machine_get_stats(wdfdma_machine *m, wdfdma_machine_stats *out);

/* ---- bug checks -------------------------------------------------------------------- */
typedef struct wdfdma_bugcheck {
    uint32_t code;               /* 0x10D WDF_VIOLATION, 0xE6 DRIVER_VERIFIER_DMA_VIOLATION, ... */
    uint64_t p[4];
    const char *message;         /* one line */
    const char *callback;        /* driver callback in progress, or "" */
    const char *rule;            /* the verifier rule ID (wdfdma/verifier.h), or "" */
} wdfdma_bugcheck;
/* Called after the report is printed. A handler may longjmp out (tests trap bug checks
 * this way on the sim engine); if it returns, or none is set, the process aborts. */
typedef void (*wdfdma_bugcheck_handler)(void *ctx, const wdfdma_bugcheck *bc);
void wdfdma_machine_set_bugcheck_handler(wdfdma_machine *m, wdfdma_bugcheck_handler h, void *ctx);
/* Report printing goes to stderr unless silenced (tests that expect a bug check). */
void wdfdma_machine_set_bugcheck_quiet(wdfdma_machine *m, bool quiet);
const wdfdma_bugcheck *wdfdma_machine_last_bugcheck(wdfdma_machine *m);

/* ---- trace ------------------------------------------------------------------------- */
/* A stable 64-bit hash of every trace record so far: same seed, same program (sim) =>
 * same hash. */
uint64_t wdfdma_machine_trace_hash(wdfdma_machine *m);

#ifdef __cplusplus
}
#endif
#endif
