/*
 * src/wdm internals: what the kernel layer shares between its own modules and exports to
 * the framework (src/fx) and to tests. None of these are WDK names, so none of them may
 * appear in include/wdm.h or include/ntddk.h.
 *
 * Include order: the platform contract first, then the WDK-named headers.
 */
#ifndef WDFDMA_WDM_INTERNAL_H
#define WDFDMA_WDM_INTERNAL_H

#include "machine/internal.h"
#include <ntddk.h>
#include <stdatomic.h>

/* A lookaside's depth that follows the peak number of blocks ever in flight, between a
 * floor and a ceiling. Windows adjusts a lookaside's depth to its miss rate
 * (ExAdjustLookasideDepth, every second, up to 256); following the peak does the same
 * job without a timer. With 10,000 requests in flight fixed depths (64 MDLs, 256 IRPs)
 * sent nearly every IRP and MDL to malloc and free: 1.30 x the cost of one request in
 * flight (bench_sgdma). The memory kept is bounded by the peak. The peak is a hint:
 * a lost update between two threads only delays the growth. */
typedef struct wdm_lookaside_depth {
    atomic_uint_fast64_t peak;
} wdm_lookaside_depth;

static inline void wdm_lookaside_in_flight(wdm_lookaside_depth *d, uint64_t n)
{
    if (n > atomic_load_explicit(&d->peak, memory_order_relaxed))
        atomic_store_explicit(&d->peak, n, memory_order_relaxed);
}

/* May a freed block be kept by a lookaside holding `depth`? */
static inline bool wdm_lookaside_keeps(wdm_lookaside_depth *d, uint64_t depth, uint64_t floor,
                                       uint64_t ceiling)
{
    uint64_t cap = atomic_load_explicit(&d->peak, memory_order_relaxed);
    cap = cap < floor ? floor : cap > ceiling ? ceiling : cap;
    return depth < cap;
}

/* ---- machine and IRQL checks ----------------------------------------------------------- */
/* The machine of the calling thread. A kernel service called from a thread that never
 * entered a machine is a host programming error: report it and abort. */
wdfdma_machine *wdm_machine(const char *ddi);

/* Bug check 0xA (IRQL_NOT_LESS_OR_EQUAL) when the caller runs above `max`.
 * Parameters: P1 0, P2 current IRQL, P3 the DDI's maximum IRQL, P4 0. */
static inline void wdm_check_irql_max(KIRQL max, const char *ddi)
{
    uint8_t irql = mach_irql();
    if (irql > max)
        mach_bugcheck(IRQL_NOT_LESS_OR_EQUAL, 0, irql, max, 0,
                      "IRQL_NOT_LESS_OR_EQUAL: %s called at IRQL %u (maximum %u)", ddi, irql,
                      max);
}

/* Bug check 0x9 (IRQL_NOT_GREATER_OR_EQUAL) when the caller runs below `min`.
 * Parameters: P1 0, P2 current IRQL, P3 the DDI's minimum IRQL, P4 0. */
static inline void wdm_check_irql_min(KIRQL min, const char *ddi)
{
    uint8_t irql = mach_irql();
    if (irql < min)
        mach_bugcheck(IRQL_NOT_GREATER_OR_EQUAL, 0, irql, min, 0,
                      "IRQL_NOT_GREATER_OR_EQUAL: %s called at IRQL %u (minimum %u)", ddi,
                      irql, min);
}

/* ---- per-machine kernel state (the machine's MACH_SLOT_WDM) --------------------------- */
typedef struct wdm_machine_state wdm_machine_state;
wdm_machine_state *wdm_state(wdfdma_machine *m);

/* ---- DPCs ------------------------------------------------------------------------------ */
/* KeInsertQueueDpc for callers that know their machine (timer expiry runs in hardware
 * context). `cpu` is used when the DPC has no target processor. */
BOOLEAN wdm_dpc_insert(wdfdma_machine *m, PKDPC dpc, unsigned cpu, PVOID arg1, PVOID arg2);
/* DPCs queued on `m` and not yet finished (KeFlushQueuedDpcs waits for zero). */
long wdm_dpcs_pending(wdfdma_machine *m);

/* ---- waiting --------------------------------------------------------------------------- */
/* Convert a KeWaitForSingleObject-style timeout (NULL forever, negative relative 100 ns
 * units, positive absolute system time) to the machine's nanoseconds (< 0: forever). */
int64_t wdm_timeout_ns(wdfdma_machine *m, const LARGE_INTEGER *timeout);
/* mach_wait that also works at APC_LEVEL (there are no APCs in this model, so waiting at
 * APC_LEVEL is waiting at PASSIVE_LEVEL). Returns true if done() became true. */
bool wdm_wait(wdfdma_machine *m, bool (*done)(void *ctx), void *ctx, int64_t timeout_ns);

/* ---- time ------------------------------------------------------------------------------ */
/* System time (100 ns units since 1601, like KeQuerySystemTime) at machine time `ns`. */
LONGLONG wdm_system_time_at(uint64_t ns);

/* ---- pool ------------------------------------------------------------------------------ */
typedef struct wdm_pool_stats {
    uint64_t allocations;   /* successful allocations since start */
    uint64_t frees;
    uint64_t failures;      /* injected or real */
    uint64_t outstanding;   /* allocations not yet freed */
    uint64_t bytes_outstanding;
} wdm_pool_stats;
void wdm_pool_get_stats(wdm_pool_stats *out);
/* Fault injection: the n-th allocation from now fails (1 = the next one); 0 disables.
 * Counts ExAllocatePool* and IoAllocateMdl. */
void wdm_pool_fail_nth(uint64_t n);
/* True if the fault-injection hook says this allocation fails (consumes one count). */
bool wdm_pool_should_fail(void);

/* ---- MDLs ------------------------------------------------------------------------------ */
/* MmProbeAndLockPages without the bug check: STATUS_SUCCESS, STATUS_INSUFFICIENT_RESOURCES
 * (no frames) or STATUS_INVALID_PARAMETER (already locked). For the I/O manager. */
NTSTATUS wdm_mdl_lock(PMDL mdl, LOCK_OPERATION op);
/* Pages spanned by an MDL (entries in its PFN array). */
static inline ULONG wdm_mdl_pages(const MDL *mdl)
{
    return (ULONG)ADDRESS_AND_SIZE_TO_SPAN_PAGES((PCHAR)mdl->StartVa + mdl->ByteOffset,
                                                 mdl->ByteCount);
}
/* MDLs from IoAllocateMdl not yet freed, and MDLs cached in the lookaside (for leak
 * checks). */
uint64_t wdm_mdl_outstanding(void);
unsigned wdm_mdl_lookaside_depth(void);

/* ---- debug output ---------------------------------------------------------------------- */
/* Format with Windows' printf dialect (see DbgPrint in wdm.h) into buf; returns the length
 * the full output needs, like vsnprintf. */
int wdm_vformat(char *buf, size_t size, const char *fmt, va_list ap);
/* DbgPrint / KdPrint output on (default) or off; DbgPrintEx prints levels <= max_level. */
void wdm_debug_set_output(bool enabled, ULONG max_level);

#endif
