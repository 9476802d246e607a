/*
 * wdfdma host API: fault plans.
 *
 * A fault plan says which faults the machine injects, where and how often: device DMA
 * errors, short transfers, lost / spurious / duplicate / late interrupts, map-register
 * exhaustion, pool and common-buffer allocation failures, surprise removal, power-down and
 * request cancellation. The full syntax, each kind, where it fires and what a correct
 * driver must do to recover are in docs/faults.md. In short:
 *
 *   spec   := "none" | clause { "," clause }
 *   clause := kind { ":" option }
 *   option := "p=" PROB | "every=" N | "nth=" N | "after=" N | "count=" N | "device=" NAME
 *
 *   e.g. "dma-error:p=0.01,lost-irq:every=97:device=sgdma0,pool-fail:nth=12"
 *
 * Every clause needs exactly one trigger (p, every or nth). Decisions that need chance
 * (p=) draw from a PRNG seeded by the machine's seed, so a run is reproducible by its
 * seed on the sim engine. Every fault that fires is counted and leaves a trace record
 * (WDFDMA_TR_NOTE named "fault:<kind>", obj = device id or 0, a = kind, b = how often
 * that kind has fired so far).
 *
 * All functions that can fail return 0 or a negative errno and leave a one-line message
 * naming the bad input in wdfdma_last_error().
 */
#ifndef WDFDMA_FAULTS_H
#define WDFDMA_FAULTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "wdfdma/machine.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum wdfdma_fault_kind {
    WDFDMA_FAULT_DMA_ERROR = 0,   /* "dma-error": the device's DMA access fails */
    WDFDMA_FAULT_SHORT,           /* "short": the device moves fewer bytes (residue) */
    WDFDMA_FAULT_LOST_IRQ,        /* "lost-irq": an interrupt is never signalled */
    WDFDMA_FAULT_SPURIOUS_IRQ,    /* "spurious-irq": a pulse with no status behind it */
    WDFDMA_FAULT_DUP_IRQ,         /* "dup-irq": the interrupt is signalled twice */
    WDFDMA_FAULT_LATE_IRQ,        /* "late-irq": the interrupt comes 100 us late */
    WDFDMA_FAULT_MAP_EXHAUST,     /* "map-exhaust": the HAL has no map registers */
    WDFDMA_FAULT_POOL_FAIL,       /* "pool-fail": pool / MDL / IRP allocation fails */
    WDFDMA_FAULT_CB_FAIL,         /* "cb-fail": AllocateCommonBuffer returns NULL */
    WDFDMA_FAULT_SURPRISE_REMOVE, /* "surprise-remove": the device vanishes */
    WDFDMA_FAULT_POWER_DOWN,      /* "power-down": D3 then D0 requested mid-transfer */
    WDFDMA_FAULT_CANCEL,          /* "cancel": an outstanding request is cancelled */
    WDFDMA_FAULT_KINDS
} wdfdma_fault_kind;

/* "dma-error", ...; NULL for a value outside the enum. */
const char *wdfdma_fault_kind_name(wdfdma_fault_kind kind);
/* The kind named `name`, or -1. */
int wdfdma_fault_kind_from_name(const char *name);

typedef struct wdfdma_fault_plan wdfdma_fault_plan;

/* Parse `spec` into a new plan (*out; free it with wdfdma_fault_plan_free). On error *out
 * is NULL and the message names the offending token. */
int wdfdma_fault_plan_parse(const char *spec, wdfdma_fault_plan **out);
void wdfdma_fault_plan_free(wdfdma_fault_plan *plan);
/* The canonical text of a plan (kinds and options in a fixed order, defaults left out;
 * parsing it gives the same plan). Returns the length of the full text like snprintf
 * (so a return >= len means it was cut), or a negative errno. */
int wdfdma_fault_plan_format(const wdfdma_fault_plan *plan, char *buf, size_t len);
/* Number of clauses (0 for "none"). */
unsigned wdfdma_fault_plan_clauses(const wdfdma_fault_plan *plan);

/* Install a copy of `plan` on the machine (NULL removes the plan); counters restart at 0
 * and the plan's PRNG is reseeded from the machine's seed. The caller keeps `plan`. */
int wdfdma_machine_set_fault_plan(wdfdma_machine *m, const wdfdma_fault_plan *plan);

/* How often each kind was asked (a decision point was reached while a plan was set) and
 * how often it fired, since the plan was installed. */
typedef struct wdfdma_fault_stats {
    uint64_t asked[WDFDMA_FAULT_KINDS];
    uint64_t fired[WDFDMA_FAULT_KINDS];
} wdfdma_fault_stats;
int wdfdma_machine_get_fault_stats(wdfdma_machine *m, wdfdma_fault_stats *out);

/* The "cancel" fault needs someone who knows the outstanding requests. A host that keeps
 * a registry of its asynchronous I/O (the I/O layer, a test, `wdfdma soak`) registers
 * this hook; when "cancel" fires for a device, the hook runs later at PASSIVE_LEVEL on a
 * work item with that device and a random number, picks an outstanding request (for
 * example number `random % outstanding`) and calls wdfdma_cancel on it. It returns
 * whether it cancelled something. Without a hook, "cancel" fires (and is counted) but
 * cancels nothing. NULL removes the hook. */
typedef bool (*wdfdma_fault_cancel_hook)(void *ctx, wdfdma_dev *dev, uint64_t random);
void wdfdma_machine_set_cancel_hook(wdfdma_machine *m, wdfdma_fault_cancel_hook hook, void *ctx);

/* Hardware presence. An absent device's register reads return all ones, its register
 * writes are dropped, its DMA faults and its interrupts stop (a level line it drove is
 * released). "surprise-remove" makes the device absent at the chosen point; a host can
 * also pull or re-insert the hardware itself (re-inserting does not rebind a driver). */
void wdfdma_dev_set_present(wdfdma_dev *dev, bool present);
bool wdfdma_dev_present(const wdfdma_dev *dev);

#ifdef __cplusplus
}
#endif
#endif
