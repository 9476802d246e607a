/*
 * The platform contract: what src/wdm (the kernel) uses from src/machine.
 *
 * Keep it narrow: a later VFIO platform implements the same functions against real
 * hardware (MMIO, interrupts, DMA memory with logical addresses, time).
 *
 * Threads and processors. Every thread that runs machine code has a "current machine" and
 * a per-thread processor context: the processor number it runs as and its current IRQL.
 *  - sim engine: one OS thread is every processor in turn; DPCs targeted at any processor
 *    run on it when IRQL drops below DISPATCH_LEVEL; interrupts are delivered when IRQL
 *    is below their DIRQL (at event-loop points and at preemption points).
 *  - threads engine: one pthread per processor runs that processor's interrupts and DPCs,
 *    a device thread runs hardware events in time order, workers run PASSIVE work; host
 *    (application) threads call in at PASSIVE_LEVEL as processor 0's "thread context".
 */
#ifndef WDFDMA_MACHINE_INTERNAL_H
#define WDFDMA_MACHINE_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "wdfdma/devmodel.h"
#include "wdfdma/machine.h"
#include "wdfdma/trace.h"

/* initial-exec: libwdfdma is linked by its hosts, never dlopen'ed, so its TLS is in the
 * static block and a per-thread variable is one %fs-relative load instead of a
 * __tls_get_addr call. For the small variables read on the request path (mach_ctx, the
 * current driver, the DMA owner tag ...); large buffers keep the default model. */
#define MACH_TLS_FAST __attribute__((tls_model("initial-exec")))

#define MACH_PAGE_SIZE 4096u
#define MACH_PAGE_SHIFT 12u

/* IRQLs (the same numbers as Windows x64) */
#define MACH_PASSIVE_LEVEL 0
#define MACH_APC_LEVEL 1
#define MACH_DISPATCH_LEVEL 2
#define MACH_DIRQL_MIN 3          /* device IRQLs are 3..12 */
#define MACH_DIRQL_MAX 12
#define MACH_HIGH_LEVEL 15

/* Bug check codes the machine itself raises */
#define MACH_BC_IRQL_NOT_LESS_OR_EQUAL 0x0Au
#define MACH_BC_IRQL_NOT_GREATER_OR_EQUAL 0x09u
#define MACH_BC_SPIN_LOCK_ALREADY_OWNED 0x0Fu
#define MACH_BC_SPIN_LOCK_NOT_OWNED 0x10u
#define MACH_BC_INVALID_DATA_ACCESS_TRAP 0x04u
#define MACH_BC_DRIVER_IRQL_NOT_LESS_OR_EQUAL 0xD1u

/* ---- current machine and processor ------------------------------------------------- */
wdfdma_machine *mach_current(void);
/* Host API entry points set the calling thread's machine (and PASSIVE context). */
void mach_enter(wdfdma_machine *m);
unsigned mach_cpu_count(const wdfdma_machine *m);
unsigned mach_cpu_current(void);
uint8_t mach_irql(void);
/* Raise to `irql` (must be >= current, else bug check 0x9); returns the old IRQL. */
uint8_t mach_irql_raise(uint8_t irql);
/* Lower to `irql` (must be <= current, else bug check 0xA). On the sim engine, lowering
 * delivers what is now unmasked: pending interrupts above `irql`, then, below
 * DISPATCH_LEVEL, queued DPCs. */
void mach_irql_lower(uint8_t irql);
/* A DDI boundary. Sim: by the seed, lets hardware events due within ddi_cost_ns run and
 * delivers interrupts/DPCs unmasked at the current IRQL. Threads: nothing. */
void mach_preempt_point(void);
bool mach_is_sim(const wdfdma_machine *m);
/* A host mutex over state that belongs to machine `m` alone (an IRP lookaside, a timer's
 * arming): taken on the threads engine; on sim one OS thread runs the whole machine, so
 * it is skipped (an uncontended mutex is still two locked instructions). Never for state
 * shared between machines. */
static inline void mach_own_lock(const wdfdma_machine *m, pthread_mutex_t *mu)
{
    if (m == NULL || !mach_is_sim(m))
        pthread_mutex_lock(mu);
}
static inline void mach_own_unlock(const wdfdma_machine *m, pthread_mutex_t *mu)
{
    if (m == NULL || !mach_is_sim(m))
        pthread_mutex_unlock(mu);
}

/* Add n to a statistics counter (returns the old value); every layer's counters use it.
 * The sim engine runs on one thread, so there it is a plain load and store: a locked add
 * right after a bus DMA's memcpy waited for the store buffer to drain (16 % of a 64 KiB
 * transfer; 11 % of a bounced one). The threads engine keeps the atomic add. Readers on
 * other threads still see whole values (relaxed atomic loads and stores). */
static inline uint64_t mach_stat_add(_Atomic uint64_t *field, uint64_t n, bool threaded)
{
    if (threaded)
        return atomic_fetch_add_explicit(field, n, memory_order_relaxed);
    uint64_t v = atomic_load_explicit(field, memory_order_relaxed);
    atomic_store_explicit(field, v + n, memory_order_relaxed);
    return v;
}

/* ---- spin locks -------------------------------------------------------------------- */
/* The lock word is a KSPIN_LOCK (ULONG_PTR): 0 free, else 1 + owning processor/thread
 * tag. These do not touch IRQL: the kernel raises first. Sim: acquiring a lock this
 * thread already holds is bug check 0xF (it would spin forever on real hardware). */
void mach_spin_acquire(volatile uintptr_t *lock);
bool mach_spin_try(volatile uintptr_t *lock);
void mach_spin_release(volatile uintptr_t *lock);       /* not held: bug check 0x10 */
bool mach_spin_held_by_me(const volatile uintptr_t *lock);

/* ---- deferred work ----------------------------------------------------------------- */
/* An intrusive node; the kernel embeds one in each KDPC / work item. */
typedef struct mach_work {
    struct mach_work *next;
    void (*fn)(struct mach_work *w);   /* DPC: called at DISPATCH_LEVEL; work: PASSIVE */
    uint32_t cpu;
    uint32_t queued;                   /* owned by the machine */
} mach_work;
/* Queue `w` to run at DISPATCH_LEVEL on processor `cpu`. Returns false (and does nothing)
 * if it is already queued: a DPC object is queued at most once. Callable at any IRQL and
 * from hardware context. */
bool mach_dpc_queue(wdfdma_machine *m, unsigned cpu, mach_work *w);
/* Remove a queued, not yet started DPC; false if it was not queued. */
bool mach_dpc_remove(wdfdma_machine *m, mach_work *w);
/* Queue PASSIVE_LEVEL work (work items): a worker thread, or the sim event loop. */
void mach_work_queue(wdfdma_machine *m, mach_work *w);

/* ---- time and hardware events ------------------------------------------------------ */
typedef uint64_t mach_event_id;         /* 0 = none */
uint64_t mach_now(wdfdma_machine *m);
/* fn(ctx) runs in hardware context (no processor, no IRQL: cpu 0xFF in the trace) after
 * `delay_ns`. Used for device timing and KTIMER expiry (which queues a DPC). */
mach_event_id mach_after(wdfdma_machine *m, uint64_t delay_ns, void (*fn)(void *ctx), void *ctx);
bool mach_cancel(wdfdma_machine *m, mach_event_id id);
/* KeStallExecutionProcessor: busy time. Sim: hardware events due within `ns` run and
 * interrupts above the current IRQL are delivered; time advances by `ns`. */
void mach_stall(wdfdma_machine *m, uint64_t ns);
uint64_t mach_random(wdfdma_machine *m);

/* ---- waiting (PASSIVE_LEVEL only) -------------------------------------------------- */
/* Block until done(ctx) is true or the timeout passes (timeout_ns < 0: forever).
 * Sim: runs the event loop nested until done; if nothing can ever make it true (no events,
 * no work) it returns false at once and reports a deadlock. Threads: sleeps on the
 * machine's condition and re-checks after every mach_signal(). */
bool mach_wait(wdfdma_machine *m, bool (*done)(void *ctx), void *ctx, int64_t timeout_ns);
/* Something a waiter may be waiting for changed (KeSetEvent, request completion). */
void mach_signal(wdfdma_machine *m);

/* ---- physical memory --------------------------------------------------------------- */
typedef uint64_t mach_pfn;
/* Give every page spanned by [va, va+len) a frame (by the machine's placement policy, or
 * `policy` if >= 0) and write the PFNs to pfns[] (pages-spanned entries). A host page that
 * already has a frame keeps it (reference counted). Returns 0 or -ENOMEM. */
int mach_mem_lock(wdfdma_machine *m, const void *va, size_t len, int policy, mach_pfn *pfns);
void mach_mem_unlock(wdfdma_machine *m, const mach_pfn *pfns, size_t count);
/* Allocate `bytes` of zeroed host memory with physically contiguous frames, all below
 * `limit` (exclusive; 0 = no limit), physical start aligned to `align` (power of two,
 * >= page). Returns 0 or -ENOMEM. */
int mach_mem_alloc_contig(wdfdma_machine *m, size_t bytes, uint64_t limit, uint64_t align,
                          void **va, uint64_t *pa);
void mach_mem_free_contig(wdfdma_machine *m, void *va, size_t bytes);
/* Host address for a physical address (NULL if no frame backs it). */
void *mach_mem_host(wdfdma_machine *m, uint64_t pa);
/* Physical address of a locked host address (0 if unlocked) — MmGetPhysicalAddress. */
uint64_t mach_mem_physical(wdfdma_machine *m, const void *va);
/* Copy between physical memory and a host buffer (crossing frames); -EFAULT if any frame
 * is unbacked. Used by bounce buffers and by the bus. */
int mach_phys_read(wdfdma_machine *m, uint64_t pa, void *dst, size_t len);
int mach_phys_write(wdfdma_machine *m, uint64_t pa, const void *src, size_t len);

/* ---- MMIO -------------------------------------------------------------------------- */
/* MmMapIoSpace: a CPU address range decoding to the device registers at physical `pa`.
 * Returns NULL if no device region covers [pa, pa+len). */
void *mach_mmio_map(wdfdma_machine *m, uint64_t pa, size_t len);
void mach_mmio_unmap(wdfdma_machine *m, void *va, size_t len);
/* READ/WRITE_REGISTER_*: decode through the bus into the owning model. An address that
 * decodes to nothing is reported (trace + message naming it) and reads as all ones. */
uint64_t mach_mmio_read(const volatile void *va, unsigned width);
void mach_mmio_write(volatile void *va, unsigned width, uint64_t value);

/* ---- interrupts -------------------------------------------------------------------- */
typedef struct mach_irq_conn mach_irq_conn;
/* Connect an ISR to `vector` at `dirql` with `lock` as its interrupt spin lock. The ISR
 * runs on a processor at `dirql` with `lock` held; `message` is the MSI message number
 * (0 for lines). Shared vectors call ISRs in connection order until one claims. */
int mach_irq_connect(wdfdma_machine *m, uint32_t vector, uint8_t dirql,
                     bool (*isr)(void *ctx, uint32_t message), void *ctx,
                     volatile uintptr_t *lock, mach_irq_conn **out);
void mach_irq_disconnect(mach_irq_conn *c);
/* Per-connection mask (EvtInterruptDisable / Enable bracket). */
void mach_irq_mask(mach_irq_conn *c, bool masked);
/* The device that owns a vector (for resource lists). */
wdfdma_dev *mach_irq_owner(wdfdma_machine *m, uint32_t vector);

/* ---- devices (for PnP enumeration) ------------------------------------------------- */
unsigned mach_device_count(wdfdma_machine *m);
wdfdma_dev *mach_device_at(wdfdma_machine *m, unsigned index);
const wdfdma_device_model *mach_device_model(const wdfdma_dev *dev);
void mach_device_reset(wdfdma_dev *dev);
/* Bracket a direct call into a model (a controller's sysdma ops from the HAL): serialises
 * with the model's other entries (device lock on threads) and, on sim, marks hardware
 * context so nothing is dispatched nested inside the model. */
void mach_device_enter(wdfdma_dev *dev);
void mach_device_leave(wdfdma_dev *dev);
/* The framework's per-device slot (the device node bound to this hardware). */
void *mach_device_binding(const wdfdma_dev *dev);
void mach_device_set_binding(wdfdma_dev *dev, void *binding);

/* ---- fault plans (src/machine/faults.c; host side: include/wdfdma/faults.h) ---------- */
/* Ask the machine's fault plan whether fault `kind` ("map-exhaust", "pool-fail",
 * "cb-fail", ...) fires now, for `dev` (NULL at machine-wide points such as a pool
 * allocation). Counts the ask and, when it fires, the fault, with a trace record. False
 * when no plan is set. Callable at any IRQL and in hardware context; it never calls out of
 * the machine (actions that need the framework go through the handler below). */
bool mach_fault_fire(wdfdma_machine *m, const char *kind, wdfdma_dev *dev);
/* Hardware presence (wdfdma_dev_set_present): an absent device reads all ones, drops
 * writes, faults its DMA and raises no interrupts. */
void mach_device_set_present(wdfdma_dev *dev, bool present);
bool mach_device_present(const wdfdma_dev *dev);
/* Faults the machine cannot carry out itself: the PnP layer (src/host/binding.c) registers
 * a handler; the machine calls it later on a PASSIVE_LEVEL work item, never from inside
 * the device model or the HAL path that fired the fault. NULL unregisters (teardown). */
typedef enum mach_fault_action {
    MACH_FAULT_ACT_SURPRISE_REMOVE = 1,   /* the hardware is already absent: tell PnP */
    MACH_FAULT_ACT_POWER_DOWN = 2,        /* request D3, then D0 again */
} mach_fault_action;
typedef void (*mach_fault_action_fn)(void *ctx, wdfdma_dev *dev, mach_fault_action action);
void mach_fault_set_action_handler(wdfdma_machine *m, mach_fault_action_fn fn, void *ctx);

/* ---- trace, bug checks, reports ---------------------------------------------------- */
void mach_trace(wdfdma_machine *m, uint16_t type, uint32_t obj, const char *name, uint64_t a,
                uint64_t b);
/* The driver callback in progress on this thread (for bug-check reports and the trace).
 * Enter/exit nest; they emit CALLBACK_BEGIN / CALLBACK_END. */
void mach_callback_enter(const char *name, uint32_t obj);
void mach_callback_exit(const char *name, uint32_t obj);
const char *mach_callback_current(void);
/* Report a bug check: print code, parameters, message, callback and the last trace
 * events, call the host's handler (which may longjmp), else abort. */
_Noreturn void mach_bugcheck(uint32_t code, uint64_t p1, uint64_t p2, uint64_t p3, uint64_t p4,
                             const char *fmt, ...) __attribute__((format(printf, 6, 7)));
/* A non-fatal finding (verifier soft error, MMIO decode miss): one line to stderr unless
 * quiet, counted in the machine's findings. */
void mach_report(wdfdma_machine *m, const char *rule, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
uint64_t mach_findings(wdfdma_machine *m);
/* A verifier finding of rule `rule` (an ID of the rule table, wdfdma/verifier.h) about
 * trace object `obj`: recorded for wdfdma_verifier_finding_get with a report (the
 * message, `history` — the object's recent states, or NULL — and the last trace events),
 * printed unless quiet, counted like mach_report. */
void mach_finding(wdfdma_machine *m, const char *rule, uint32_t obj, const char *history,
                  const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* A finding whose rule is a bug check: records it, then mach_bugcheck (the bug check's
 * `rule` names it). */
_Noreturn void mach_bugcheck_rule(const char *rule, uint32_t obj, const char *history,
                                  uint32_t code, uint64_t p1, uint64_t p2, uint64_t p3,
                                  uint64_t p4, const char *fmt, ...)
    __attribute__((format(printf, 9, 10)));
/* Inside a wdfdma_dma_check that refuses an access: the rule and text of the DMA-fault
 * finding the bus then records (instead of its generic report). Per thread. */
void mach_dma_refusal(const char *rule, uint32_t obj, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Free the findings at machine destroy (machine.c). */
void mach_findings_free(wdfdma_machine *m);
/* Set the thread-local last error message for the host API; returns -err. */
int mach_error(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Small stable object ids for trace records (never pointers). */
uint32_t mach_next_object_id(wdfdma_machine *m);

/* ---- layering hooks: the kernel/framework register per-machine state --------------- */
/* One opaque slot per upper layer, created lazily and destroyed with the machine from the
 * highest number down, so the numbering follows the layers: what a layer's teardown still
 * uses (the kernel, the I/O manager) must have a lower number than that layer. */
enum {
    MACH_SLOT_WDM = 0,         /* kernel state (src/wdm/state.c) */
    MACH_SLOT_WDM_IO = 1,      /* the I/O manager's IRP lookaside (src/wdm/iomanager.c) */
    MACH_SLOT_WDM_DMA = 2,     /* the HAL's DMA adapters and PDOs (src/wdm/dmaadapter.c) */
    MACH_SLOT_FXDMA = 3,       /* the framework's DMA statistics (src/fx/dmaenabler.c) */
    MACH_SLOT_FX_REGISTRY = 4, /* registry values of devices and drivers (src/fx/registry.c) */
    MACH_SLOT_FX = 5,          /* framework state: drivers and devices (src/host/binding.c) */
    MACH_SLOT_HOST = 6,
    MACH_SLOT_COUNT = 8
};
void *mach_slot(wdfdma_machine *m, unsigned slot);
void mach_set_slot(wdfdma_machine *m, unsigned slot, void *p, void (*destroy)(void *p));

#endif
