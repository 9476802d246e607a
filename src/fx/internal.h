/*
 * The framework's internals (src/fx): what its modules share.
 *
 * Object model (object.c). Every WDF object starts with an fx_object header. A handle is
 * not a pointer: it encodes an index into the process-wide handle table and a generation
 * number, so a stale, forged or wrong-type handle is detected without touching freed
 * memory (bug check 0x10D, P1 = WDF_INVALID_HANDLE 0x5, P2 = handle, P3 = expected type).
 *
 *   create ──► LIVE ──WdfObjectDelete / parent deleted──► DELETING
 *                                                           │ children deleted first,
 *                                                           │ EvtCleanupCallback (child
 *                                                           ▼ before parent), ops->dispose
 *                                                        DISPOSED ──last reference──► freed
 *                                                           (EvtDestroyCallback, ops->destroy)
 *
 * Every exported DDI is thin: resolve the handle (type check), validate pointers, IRQL and
 * state, then call exactly one internal function.
 */
#ifndef WDFDMA_FX_INTERNAL_H
#define WDFDMA_FX_INTERNAL_H

#include <ntddk.h>
#include <wdf.h>
#include "machine/internal.h"

/* ---- object types -------------------------------------------------------------------- */
typedef enum fx_type {
    FX_TYPE_NONE = 0,
    FX_TYPE_OBJECT,          /* WdfObjectCreate: a plain object */
    FX_TYPE_DRIVER,
    FX_TYPE_DEVICE,
    FX_TYPE_QUEUE,
    FX_TYPE_REQUEST,
    FX_TYPE_INTERRUPT,
    FX_TYPE_SPINLOCK,
    FX_TYPE_WAITLOCK,
    FX_TYPE_MEMORY,
    FX_TYPE_TIMER,
    FX_TYPE_WORKITEM,
    FX_TYPE_CMRESLIST,
    FX_TYPE_FILEOBJECT,
    FX_TYPE_DMA_ENABLER,
    FX_TYPE_DMA_TRANSACTION,
    FX_TYPE_COMMON_BUFFER,
    FX_TYPE_KEY,             /* WDFKEY (registry.c) */
    FX_TYPE_COUNT
} fx_type;

typedef struct fx_object fx_object;
typedef struct fx_context fx_context;

typedef struct fx_object_ops {
    fx_type type;
    const char *name;                       /* "WDFDEVICE" */
    /* Release what the object holds (disconnect, free buffers) after the cleanup
     * callbacks ran; may be NULL. Runs once, at PASSIVE or DISPATCH as deletion does. */
    void (*dispose)(fx_object *o);
    /* Last reference gone, just before the memory is freed; may be NULL. */
    void (*destroy)(fx_object *o);
    /* May the driver call WdfObjectDelete on it? (requests, devices, queues: no) */
    bool driver_deletable;
    /* May its attributes set a SynchronizationScope (devices, queues, the driver)?
     * Others accept only InheritFromParent or None (STATUS_WDF_SYNCHRONIZATION_SCOPE_INVALID). */
    bool sync_scope_allowed;
    /* WdfObjectAcquireLock / WdfObjectReleaseLock on this type (NULL: not supported, a
     * verifier break). Devices and queues provide them. */
    void (*lock)(fx_object *o);
    void (*unlock)(fx_object *o);
} fx_object_ops;

enum fx_object_state { FX_OBJ_LIVE = 1, FX_OBJ_DELETING, FX_OBJ_DISPOSED };

struct fx_object {
    uint32_t magic;                         /* FX_OBJECT_MAGIC while allocated */
    uint32_t handle_index;                  /* slot in the handle table */
    uint32_t generation;
    uint32_t id;                            /* trace id (mach_next_object_id) */
    const fx_object_ops *ops;
    volatile LONG refs;                     /* 1 for the creation reference */
    volatile LONG state;                    /* enum fx_object_state */
    fx_object *parent;
    fx_object *first_child, *last_child;    /* creation order */
    fx_object *prev_sibling, *next_sibling;
    KSPIN_LOCK child_lock;                  /* protects this object's child list */
    fx_context *contexts;                   /* first = the creation attributes' context */
    PFN_WDF_OBJECT_CONTEXT_CLEANUP cleanup;
    PFN_WDF_OBJECT_CONTEXT_DESTROY destroy;
    WDF_EXECUTION_LEVEL execution_level;
    WDF_SYNCHRONIZATION_SCOPE synchronization_scope;
    struct fx_driver *driver;
    wdfdma_machine *machine;                /* the machine it was created on (leak checks) */
};
#define FX_OBJECT_MAGIC 0x46784f62u        /* "FxOb" */

/* A typed context: header immediately followed by the context bytes (16-aligned). */
struct fx_context {
    fx_context *next;
    fx_object *object;
    PCWDF_OBJECT_CONTEXT_TYPE_INFO type;
    PFN_WDF_OBJECT_CONTEXT_CLEANUP cleanup; /* per-context callbacks (AllocateContext) */
    PFN_WDF_OBJECT_CONTEXT_DESTROY destroy;
    size_t size;
    uint64_t pad;                           /* keeps the data 16-byte aligned */
    __attribute__((aligned(16))) unsigned char data[];
};

/* Create: allocate `size` bytes (the type's struct, fx_object first) plus the attributes'
 * context, register a handle, link under `parent` (attributes->ParentObject wins when
 * `parent_overridable`), set callbacks. Returns STATUS_SUCCESS or an error status
 * (STATUS_INSUFFICIENT_RESOURCES, STATUS_INVALID_PARAMETER for a bad attributes Size or a
 * context larger than the limit, STATUS_WDF_PARENT_* ...). */
NTSTATUS fx_object_create(const fx_object_ops *ops, size_t size,
                          PWDF_OBJECT_ATTRIBUTES attributes, fx_object *parent,
                          bool parent_overridable, fx_object **out);
WDFOBJECT fx_handle(const fx_object *o);
/* Resolve a handle of `type` (FX_TYPE_NONE: any type) or bug check 0x10D/0x5. `ddi`
 * names the caller for the report. */
fx_object *fx_resolve(WDFOBJECT handle, fx_type type, const char *ddi);
/* The same, returning NULL instead of bug-checking (internal lookups). */
fx_object *fx_lookup(WDFOBJECT handle, fx_type type);
void fx_object_reference(fx_object *o);
void fx_object_dereference(fx_object *o);
/* Delete: children first, cleanup callbacks child before parent, dispose, then drop the
 * creation reference. */
void fx_object_delete(fx_object *o);
void *fx_object_context(fx_object *o, PCWDF_OBJECT_CONTEXT_TYPE_INFO type);
bool fx_object_is_live(const fx_object *o);
/* Nearest ancestor (or self) of a type, NULL if none. */
fx_object *fx_object_ancestor(fx_object *o, fx_type type);
/* Objects of `type` (FX_TYPE_NONE: any) alive right now on the calling thread's machine
 * (leak checks at removal and machine teardown). An object is alive until its memory is
 * freed, i.e. until its last reference is gone. */
uint64_t fx_object_live_count(fx_type type);
uint64_t fx_object_live_count_on(wdfdma_machine *m, fx_type type);
/* Report every object still alive on `m` (one line each: type, handle, parent); returns
 * how many. Used at machine teardown. */
uint64_t fx_object_report_leaks(wdfdma_machine *m);
const char *fx_type_name(fx_type type);

#define FX_FROM_OBJ(ptr, type) ((type *)(ptr))   /* fx_object is always the first member */

/* ---- checks every DDI uses (verifier.c) ---------------------------------------------- */
/* Bug check 0x10D with WDF_REQUIRED_PARAMETER_IS_NULL (0x4) when p is NULL. */
void fx_check_required(const void *p, const char *ddi, const char *param);
/* IRQL above `max`: with the verifier on, a report (a finding, as KMDF's
 * FxVerifierCheckIrqlLevel traces and breaks into the debugger) and false, so PASSIVE-only
 * DDIs fail with STATUS_INVALID_DEVICE_REQUEST; with the verifier off, true (KMDF does not
 * check then; the kernel services underneath may still bug check). */
bool fx_check_irql(KIRQL max, const char *ddi);
/* Soft error: a verifier break (report; counted as a finding when the verifier is on). */
void fx_verifier_break(const char *ddi, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
_Noreturn void fx_bugcheck(ULONG p1, ULONG_PTR p2, ULONG_PTR p3, ULONG_PTR p4, const char *fmt,
                           ...) __attribute__((format(printf, 5, 6)));
bool fx_verifier_on(void);

/* Verifier rule IDs the framework raises (the table: verifier_rules.c). */
#define FX_RULE_IRQL "WDF-IRQL"
#define FX_RULE_VERIFIER_BREAK "WDF-VERIFIER-BREAK"
#define FX_RULE_NULL_PARAMETER "WDF-NULL-PARAMETER"
#define FX_RULE_INVALID_HANDLE "WDF-INVALID-HANDLE"
#define FX_RULE_DMA_STATE "WDF-DMA-STATE"
#define FX_RULE_REQUEST_IN_TRANSFER "WDF-REQUEST-COMPLETED-IN-TRANSFER"
#define FX_RULE_WDF_VIOLATION "WDF-VIOLATION"
#define FX_RULE_LEAK_AT_REMOVAL "WDF-LEAK-AT-REMOVAL"
/* Bug check 0x10D about object `o` (its trace id and `history`, its recent states, go
 * into the finding): fx_bugcheck with the object named. */
_Noreturn void fx_bugcheck_object(const fx_object *o, const char *history, ULONG p1,
                                  ULONG_PTR p2, ULONG_PTR p3, ULONG_PTR p4, const char *fmt,
                                  ...) __attribute__((format(printf, 7, 8)));
/* Verifier: after device `dev` was removed, one WDF-LEAK-AT-REMOVAL finding per request,
 * DMA transaction, common buffer and DMA enabler of it still alive. */
struct fx_device;
void fx_verifier_check_removal(struct fx_device *dev);
/* Calls fn(o, ctx) for every object alive on `m` (under the handle table's lock: fn must
 * not create, delete or resolve objects). */
void fx_object_for_each_live(wdfdma_machine *m, void (*fn)(fx_object *o, void *ctx), void *ctx);

/* Driver callbacks go through these so the trace, the bug-check report and the
 * device's callback log know what runs. */
#define FX_CALLBACK_BEGIN(name, obj) mach_callback_enter((name), (obj)->id)
#define FX_CALLBACK_END(name, obj) mach_callback_exit((name), (obj)->id)

/* ---- callback synchronization (AutomaticSerialization, WdfObjectAcquireLock) ---------- */
/* The lock that serialises an object's callbacks for synchronization scope Device (and
 * the device-wide part of Queue scope). Dispatch-level objects use a spin lock (raise to
 * DISPATCH_LEVEL); passive-level ones a wait lock (an event). */
typedef struct fx_sync_lock {
    bool passive;
    KSPIN_LOCK spin;
    KIRQL old_irql;                         /* valid while held (spin) */
    KEVENT event;                           /* passive: signalled = free */
} fx_sync_lock;
void fx_sync_lock_init(fx_sync_lock *l, bool passive);
void fx_sync_lock_acquire(fx_sync_lock *l);
void fx_sync_lock_release(fx_sync_lock *l);

/* WDFSPINLOCK internals for interrupts (sync.c): the lock word, and the IRQL an acquire
 * raises to (DISPATCH_LEVEL, or the highest DIRQL of the interrupts that use it). */
volatile uintptr_t *fx_spinlock_word(WDFSPINLOCK h, const char *ddi);
void fx_spinlock_raise_irql(WDFSPINLOCK h, KIRQL irql);

/* ---- drivers (driver.c) --------------------------------------------------------------- */
/* The driver whose code is running: the driver of the callback in progress on this thread,
 * else the only driver of the calling thread's machine, else NULL. */
struct fx_driver *fx_driver_current(void);
/* Make `d` the calling thread's current driver around a driver callback; returns the
 * previous one to restore. */
struct fx_driver *fx_driver_swap_current(struct fx_driver *d);

/* ---- per-device power participants (the DMA enablers register here) ---------------- */
/* D0 entry runs power_up in registration (creation) order after
 * EvtDeviceD0EntryPostInterruptsEnabled; D0 exit runs power_down in the same order,
 * before EvtDeviceD0ExitPreInterruptsDisabled. A failing power_up stops and fails the
 * power-up; power_down failures are accumulated and all participants run. */
typedef struct fx_power_participant {
    LIST_ENTRY link;
    NTSTATUS (*power_up)(struct fx_power_participant *p);
    NTSTATUS (*power_down)(struct fx_power_participant *p);
} fx_power_participant;

struct fx_device;
void fx_device_add_power_participant(struct fx_device *dev, fx_power_participant *p);
void fx_device_remove_power_participant(struct fx_device *dev, fx_power_participant *p);

/* Record a driver callback in the device's callback log (wdfdma_device_callback_log). */
void fx_device_log(struct fx_device *dev, const char *entry);

/* ---- requests and DMA coupling ------------------------------------------------------- */
/* A DMA transaction that holds a request registers a check the request runs when it is
 * completed: it bug-checks (0x10D, P1 0x3) if the transaction is still in Transfer. */
struct fx_request;
typedef void (*fx_request_complete_check)(struct fx_request *req, void *ctx);
void fx_request_set_complete_check(struct fx_request *req, fx_request_complete_check fn,
                                   void *ctx);
PIRP fx_request_irp(struct fx_request *req);

#endif
