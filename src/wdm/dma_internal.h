/*
 * The HAL's DMA adapters (IoGetDmaAdapter and the DMA_OPERATIONS behind it): what the
 * dma*.c modules share, and the two PDO helpers the framework and the I/O manager use.
 *
 * Modules:
 *   dmaadapter.c       per-machine DMA state, PDOs, IoGetDmaAdapter / PutDmaAdapter, the
 *                      ops table, adapter info, transfer contexts, the verifier's check
 *   dmamapregisters.c  map registers (bounce pages), the allocation queue, adapter
 *                      channels, MapTransfer(Ex) / FlushAdapterBuffers(Ex)
 *   dmasglist.c        scatter/gather lists and the transfer-size questions
 *   dmacommonbuffer.c  common buffers
 *   dmasystem.c        system (slave) DMA through a controller model (sdmac)
 *
 * Addresses. There is no IOMMU: a logical address is the physical address, except for
 * bytes bounced through a map register, whose logical address is in the adapter's bounce
 * block. A page whose frame lies at or above the adapter's address limit is bounced.
 *
 * Map registers. Every adapter owns a pool of N map registers, N = the count
 * IoGetDmaAdapter reports. Each register is one page of a bounce block allocated below
 * the adapter's address limit when the adapter is created (64-bit adapters never bounce
 * and get no block; their registers are bookkeeping only). A grant is a run of
 * consecutive registers; MapRegisterBase is the run's first register. Every page a
 * mapping covers uses one register of its run (bounced or not), so the registers are
 * also the record of what is mapped: the verifier's access check reads them. Consecutive
 * registers are consecutive bounce pages, so bounced pages of one mapping stay
 * contiguous in logical space.
 *
 * Coalescing. Pieces (a page's share of the transfer) whose logical addresses follow
 * each other become one SG element: physically contiguous frames the device reaches,
 * and runs of bounced pages. A reachable page next to a bounced one starts a new element.
 *
 * The allocation queue (one per adapter, strict FIFO). A request wants a run of map
 * registers and, on a system adapter, the adapter's one channel:
 *
 *            allocate: queue empty and resources free
 *     IDLE ------------------------------------------------> GRANTED (callback runs
 *       |                                                      ^      at DISPATCH_LEVEL,
 *       | allocate: otherwise (DMA_SYNCHRONOUS_CALLBACK:       |      synchronously)
 *       |            fail STATUS_INSUFFICIENT_RESOURCES,        | head of the queue fits
 *       v            no callback)                              | after a free
 *     QUEUED ----------------------------------------------------+ (dispatcher, FIFO)
 *       |
 *       | CancelAdapterChannel (TRUE only here)
 *       v
 *     CANCELLED (callback never runs)
 *
 * After a DRIVER_CONTROL callback the adapter honours its IO_ALLOCATION_ACTION:
 *   KeepObject                     channel and registers held until FreeAdapterChannel
 *                                  (or FreeAdapterObject(DeallocateObject[KeepRegisters]))
 *   DeallocateObject               channel and registers released now
 *   DeallocateObjectKeepRegisters  channel released; registers until FreeMapRegisters
 * A bus-master adapter's channel is never exclusive (only registers queue); a system
 * adapter has one channel, so a second allocation queues until the first is freed.
 * Callbacks always run with the adapter lock released; one dispatcher at a time drains
 * the queue, so queued grants run in FIFO order even when frees race.
 *
 * Looped (AutoInitialize) system transfers: MapTransferEx starts the controller with
 * wrap-around; every completed pass of the buffer calls the DMA_COMPLETION_ROUTINE with
 * DmaComplete (from a DPC, once per wrap, in order) and the transfer keeps running until
 * CancelMappedTransfer, after which one DmaCancelled follows. Bounced looped transfers
 * see the buffer as it was at MapTransferEx (writes) and copy back only at
 * FlushAdapterBuffersEx (reads): looped buffers belong in memory the controller reaches
 * (common buffers).
 */
#ifndef WDFDMA_WDM_DMA_INTERNAL_H
#define WDFDMA_WDM_DMA_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "wdm/wdm_internal.h"
#include "wdfdma/dma.h"

/* ---- PDOs ------------------------------------------------------------------------------ */
/* The physical device object naming a piece of hardware: created on first use, one per
 * hardware, freed with the machine's DMA state. Returns NULL if out of host memory. */
PDEVICE_OBJECT wdm_pdo_for(wdfdma_dev *hw);
/* The hardware a PDO names; NULL if `pdo` is not one of ours. */
wdfdma_dev *wdm_pdo_hardware(PDEVICE_OBJECT pdo);

/* ---- the verifier's hooks for the framework (dmaadapter.c) ----------------------------- */
/* Tag the map-register grants this thread asks for from now on with `owner` (a trace
 * object id: the framework passes the DMA transaction whose work runs); returns the
 * previous tag to restore. Costs nothing but a thread-local store. */
uint32_t wdm_dma_set_owner(uint32_t owner);
/* Map registers of `adapter` granted to `owner` and not yet freed, not counting the run
 * at `except` (a reservation the owner may keep). 0 without the verifier. */
ULONG wdm_dma_registers_owned(PDMA_ADAPTER adapter, uint32_t owner, PVOID except);
/* Check the guard bands of every common buffer of `adapter` (verifier only): bug check
 * 0xE6 0x0F (DMA-COMMON-BUFFER-OVERRUN) if the driver wrote outside one. */
void wdm_dma_verify_guards(PDMA_ADAPTER adapter, const char *when);

/* ---- everything below is private to src/wdm/dma*.c ------------------------------------- */

/* The adapters' machine slot: below the framework's, whose teardown still puts adapters.
 * The state is also reference counted (the slot and every live adapter hold one). */
#define WDM_DMA_SLOT MACH_SLOT_WDM_DMA

#define WDM_DMA_POOL_TAG 0x20414D44u     /* 'DMA ' */
#define WDM_DMA_MAX_CHANNELS 1u          /* per system adapter */

/* Bug check 0xE6 first parameters (Windows' DRIVER_VERIFIER_DMA_VIOLATION codes). */
#define DMA_BC_MISC 0x00u               /* P2: DMA_BC_MISC_* */
#define DMA_BC_MISC_OUT_OF_REGISTERS 0x2u
#define DMA_BC_MISC_MDL_NOT_LOCKED 0x10u /* ours: an MDL whose pages are not locked */
#define DMA_BC_MISC_BAD_CONTEXT 0x11u    /* ours: a transfer context misused */
#define DMA_BC_COMMON_BUFFER_FREE 0x03u
#define DMA_BC_CHANNEL_FREE 0x04u
#define DMA_BC_MAP_REGISTER_FREE 0x05u
#define DMA_BC_SG_LIST_FREE 0x06u
#define DMA_BC_PUT_COMMON_BUFFERS 0x07u
#define DMA_BC_PUT_CHANNELS 0x08u
#define DMA_BC_PUT_MAP_REGISTERS 0x09u
#define DMA_BC_PUT_SG_LISTS 0x0Au
#define DMA_BC_TOO_MANY_MAP_REGISTERS 0x0Cu
#define DMA_BC_NOT_FLUSHED 0x0Du
#define DMA_BC_BUFFER_OVERRUN 0x0Fu      /* P2: DMA_BC_OVERRUN_* */
#define DMA_BC_OVERRUN_PAD_BEFORE 0x04u  /* P3 buffer start, P4 corruption address */
#define DMA_BC_OVERRUN_PAD_AFTER 0x05u
#define DMA_BC_BAD_ADAPTER 0x20u         /* ours: not an adapter IoGetDmaAdapter made */

typedef struct dma_machine dma_machine;
typedef struct dma_adapter dma_adapter;

/* ---- per-machine state ----------------------------------------------------------------- */
struct dma_machine {
    wdfdma_machine *m;
    pthread_mutex_t lock;               /* host lock: adapters and pdos lists */
    atomic_int refs;                    /* the machine slot + one per live adapter */
    unsigned map_register_limit;
    struct dma_pdo *pdos;
    dma_adapter *adapters;
    struct dma_channel *channels;       /* controller channels system adapters use */
    _Atomic uint64_t adapters_live, bounced_bytes, regs_in_use, regs_peak, sg_built,
        sg_allocated, sg_live, sg_elements_max, sg_elements_total, queued, channel_grants,
        common_live, system_transfers;
};

dma_machine *wdm_dma_machine(wdfdma_machine *m);

/* Add to a dma_machine counter (mach_stat_add: no locked add on the sim engine). */
static inline uint64_t wdm_dma_count(const dma_machine *dm, _Atomic uint64_t *counter,
                                     uint64_t n)
{
    return mach_stat_add(counter, n, !mach_is_sim(dm->m));
}
void wdm_dma_machine_put(dma_machine *dm);
void wdm_dma_stat_max(_Atomic uint64_t *stat, uint64_t value);

/* ---- one map register ------------------------------------------------------------------ */
#define DMA_MAPREG_MAGIC 0x4D524547u    /* 'MREG' */
typedef struct dma_mapreg {
    uint32_t magic;
    uint32_t index;
    dma_adapter *adapter;
    bool allocated;                     /* part of a granted run */
    /* on a run's first register (the MapRegisterBase) */
    uint32_t run;                       /* registers in the run; 0 on the others */
    bool sg;                            /* granted for an SG list (not a channel) */
    uint32_t owner;                     /* verifier: trace id of the requester's owner
                                           (wdm_dma_set_owner), 0 = none */
    uint32_t cursor;                    /* next register MapTransfer uses */
    int32_t next_kept;                  /* KeepObject FIFO (index, -1 = end) */
    /* while the register maps bytes */
    bool mapped;
    bool bounced;
    ULONG length;
    uint64_t logical;                   /* what the device uses */
    uint64_t phys;                      /* where the bytes really are */
    const char *va;                     /* their host address (flush finds them by it) */
    uint64_t sum;                       /* verifier double buffering: checksum of the
                                           driver's bytes at map time */
} dma_mapreg;

/* ---- a queued allocation request ------------------------------------------------------- */
enum dma_wait_kind { DMA_WAIT_CHANNEL = 1, DMA_WAIT_SGLIST = 2 };
enum dma_req_state { DMA_REQ_IDLE = 0, DMA_REQ_QUEUED, DMA_REQ_GRANTED, DMA_REQ_CANCELLED };

typedef struct dma_wait {
    struct dma_wait *next;
    uint8_t kind;                       /* dma_wait_kind */
    uint8_t state;                      /* dma_req_state */
    bool needs_channel;
    bool legacy;                        /* AllocateAdapterChannel: lives in the device's Wcb */
    ULONG count;                        /* map registers */
    PDEVICE_OBJECT device;
    PDRIVER_CONTROL routine;            /* channel requests */
    PVOID context;
    struct dma_xfer *xfer;              /* transfer context that queued it, or NULL */
    uint32_t owner;                     /* verifier: wdm_dma_set_owner at request time */
} dma_wait;

/* A legacy AllocateAdapterChannel queues in DeviceObject->Queue.Wcb, as Windows does:
 * one outstanding allocation per device object. */
_Static_assert(sizeof(dma_wait) <= sizeof(WAIT_CONTEXT_BLOCK),
               "a queued legacy allocation lives in the device object's Wcb");

/* ---- the DMA transfer context (caller-owned, DMA_TRANSFER_CONTEXT_SIZE_V1 bytes) ----- */
#define DMA_XFER_MAGIC 0x58464552u      /* 'XFER' */
typedef struct dma_xfer {
    uint32_t magic;
    dma_adapter *adapter;               /* of the last request made with it */
    dma_wait *pending;                  /* that request while it may still be queued */
    dma_wait wait;                      /* storage for a channel request */
} dma_xfer;
_Static_assert(sizeof(dma_xfer) <= DMA_TRANSFER_CONTEXT_SIZE_V1,
               "the HAL's part of a transfer context fits the caller's buffer");

/* ---- an SG list's private header (in front of the SCATTER_GATHER_LIST) ---------------- */
#define DMA_SG_MAGIC 0x53474C53u        /* 'SGLS' */
typedef struct dma_sg {
    uint32_t magic;
    bool allocated;                     /* Get*: the HAL's pool; Build*: the caller's */
    bool write;                         /* WriteToDevice */
    dma_adapter *adapter;
    PMDL mdl;                           /* normalised: offset falls inside it */
    ULONG offset;
    ULONG length;
    PDRIVER_LIST_CONTROL routine;
    PSCATTER_GATHER_LIST *out;          /* Ex: also hand the list back here */
    dma_mapreg *base;                   /* its run (NULL until granted) */
    ULONG pages;                        /* registers = pages spanned */
    dma_wait wait;
} dma_sg;

static inline PSCATTER_GATHER_LIST dma_sg_list(dma_sg *sg)
{
    return (PSCATTER_GATHER_LIST)(void *)(sg + 1);
}

static inline ULONG dma_sg_buffer_size(ULONG pages)
{
    return (ULONG)(sizeof(dma_sg) + sizeof(SCATTER_GATHER_LIST) +
                   (size_t)pages * sizeof(SCATTER_GATHER_ELEMENT));
}

/* ---- a common buffer ------------------------------------------------------------------- */
typedef struct dma_common {
    struct dma_common *next;
    void *va;
    uint64_t logical;
    ULONG length;
    size_t guard;                       /* verifier: guard-band bytes before and after */
} dma_common;

/* ---- the verifier's record of recently unmapped ranges (per adapter) ------------------ */
enum dma_stale_kind { DMA_STALE_MAP_REGISTER = 1, DMA_STALE_SG_LIST, DMA_STALE_COMMON_BUFFER };
#define DMA_STALE_RING 16u
typedef struct dma_stale {
    uint64_t logical, length;
    uint64_t when_ns;                   /* machine time of the unmap */
    uint8_t kind;                       /* dma_stale_kind; 0 = empty slot */
} dma_stale;

/* The framework withdraws a queued request — an SG list or an adapter channel still waiting
 * for map registers or the channel — found by its callback context, when the transaction
 * that asked for it ended or goes away (no DDI does this for the v2 routines). Returns
 * false if none is queued; otherwise its callback is never called. */
bool wdm_dma_withdraw_request(PDMA_ADAPTER adapter, PVOID context);

/* ---- controller channels shared by system adapters -------------------------------------- */
/* Several devices may have their request lines routed to one controller channel (more
 * peripherals than channels). Their adapters then share the channel: one holder at a time,
 * granted in request order across the adapters — a FIFO with one entry per queued
 * channel request, naming its adapter — so no device starves another. Lock order: an
 * adapter's lock, then the channel's. */
typedef struct dma_channel {
    struct dma_channel *next;           /* dm->channels (dm->lock) */
    wdfdma_dev *ctrl;
    uint32_t number;
    unsigned users;                     /* adapters bound to it (dm->lock) */
    KSPIN_LOCK lock;                    /* guards what follows */
    dma_adapter *holder;                /* NULL = free */
    dma_adapter **waiting;              /* one entry per queued request, oldest first */
    unsigned nwaiting, cap;
} dma_channel;

/* Bind a system adapter to its controller channel (IoGetDmaAdapter, PASSIVE_LEVEL);
 * STATUS_INSUFFICIENT_RESOURCES if out of host memory. Unbind when the adapter goes. */
NTSTATUS wdm_dma_channel_bind(dma_adapter *a);
void wdm_dma_channel_unbind(dma_adapter *a);
/* Caller holds a's lock. Take the channel for a request that is `queued` (then it must be
 * the oldest waiter, and its entry is consumed) or new (then nobody may be waiting). */
bool wdm_dma_channel_take(dma_adapter *a, bool queued);
/* Caller holds a's lock. A request of `a` queues for the channel; false if out of memory. */
bool wdm_dma_channel_wait(dma_adapter *a);
/* Caller holds a's lock. The `nth` (0-based) queued channel request of `a` was cancelled.
 * Returns the adapter now first in line if the channel is free (to dispatch), else NULL. */
dma_adapter *wdm_dma_channel_unwait(dma_adapter *a, unsigned nth);
/* Caller holds a's lock and `a` holds the channel: free it. Returns the adapter first in
 * line for it (dispatch it once the lock is dropped), or NULL. */
dma_adapter *wdm_dma_channel_release(dma_adapter *a);

/* ---- system DMA (Master = FALSE) ------------------------------------------------------- */
typedef struct dma_sys {
    wdfdma_dev *ctrl;                   /* the controller model */
    dma_channel *chan;                  /* its channel, shared with other adapters */
    const wdfdma_sysdma_ops *ops;
    uint32_t channel, request_line, width_bytes;
    uint64_t device_address;
    bool demand, looped;
    /* under the adapter lock */
    void *owner;                        /* transfer context holding the channel (or NULL) */
    bool cancelled;                     /* CancelMappedTransfer .. FlushAdapterBuffersEx */
    bool mapped;                        /* MapTransfer(Ex) .. FlushAdapterBuffers(Ex) */
    dma_mapreg *map_base;
    PDMA_COMPLETION_ROUTINE routine;
    PVOID routine_context;
    PDEVICE_OBJECT device;
    /* written in hardware context: atomics, no lock (the controller's device lock is held
     * there, and the HAL calls into the controller without the adapter lock) */
    atomic_uint started, finished, abandoned;   /* transfer sequence numbers */
    atomic_uint wraps_pending;
    atomic_int final_status;            /* -1 none pending, else the controller's status */
    atomic_uint last_residue;
    atomic_bool active;
    KDPC dpc;                           /* delivers completions at DISPATCH_LEVEL */
} dma_sys;

/* ---- the adapter ----------------------------------------------------------------------- */
#define DMA_ADAPTER_MAGIC 0x41444150u   /* 'ADAP' */
struct dma_adapter {
    DMA_ADAPTER pub;                    /* first: what drivers hold */
    uint32_t magic;
    uint32_t id;                        /* trace object id */
    dma_machine *dm;
    wdfdma_machine *m;
    dma_adapter *next;                  /* dm->adapters */
    wdfdma_dev *hw;                     /* the PDO's hardware */
    wdfdma_dev *dma_dev;                /* who moves the data: hw, or the controller */
    DEVICE_DESCRIPTION desc;
    bool master;
    bool scatter_gather;
    unsigned width;                     /* address bits */
    uint64_t limit;                     /* first unreachable address; 0 = none */
    KSPIN_LOCK lock;                    /* guards everything below */
    ULONG nregs;
    ULONG regs_free;
    dma_mapreg *regs;
    uint8_t *bounce_va;                 /* nregs pages below `limit`; NULL when 64-bit */
    uint64_t bounce_pa;
    dma_wait *head, *tail;              /* the FIFO */
    bool dispatching;
    bool channel_busy;                  /* system adapters: this adapter holds its channel */
    /* system adapters: a channel grant's routine is running; a FreeAdapterChannel from
     * inside it gives back that grant (KMDF's error path can do this) */
    bool granting, grant_freed;
    dma_mapreg *granting_run;
    ULONG channels_kept;                /* KeepObject grants not yet freed */
    int32_t kept_head, kept_tail;       /* their register runs */
    ULONG sg_live;
    dma_common *commons;
    dma_sys sys;
    /* verifier (fixed at creation; off: none of these cost anything) */
    bool verify;                        /* the machine's verifier was on */
    bool force_bounce;                  /* verifier_double_buffer: every page bounces */
    dma_stale stale[DMA_STALE_RING];    /* under the lock; newest at stale_pos - 1 */
    unsigned stale_pos;
};

/* The adapter behind a driver's pointer; bug check 0xE6 if it is not one. */
dma_adapter *wdm_dma_adapter(PDMA_ADAPTER pub, const char *ddi);

/* Adapter lock: raises to DISPATCH_LEVEL if below; returns the IRQL to restore. */
KIRQL wdm_dma_lock(dma_adapter *a);
void wdm_dma_unlock(dma_adapter *a, KIRQL old);
static inline void wdm_dma_assert_locked(dma_adapter *a)
{
    if (!mach_spin_held_by_me(&a->lock))
        mach_bugcheck(MACH_BC_SPIN_LOCK_NOT_OWNED, (uint64_t)(uintptr_t)&a->lock, 0, 0, 0,
                      "DMA adapter %u: caller must hold the adapter lock", a->id);
}

_Noreturn void wdm_dma_bugcheck(uint64_t p1, uint64_t p2, uint64_t p3, uint64_t p4,
                                const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* ---- walking an MDL chain in pieces (one page's share each) --------------------------- */
typedef struct dma_walk {
    PMDL mdl;
    ULONG offset;                       /* from the MDL's virtual address */
    ULONG left;                         /* bytes still to walk */
} dma_walk;

typedef struct dma_piece {
    const char *va;
    uint64_t phys;
    ULONG length;
} dma_piece;

/* Start at (mdl, offset) for `length` bytes, moving to the chain's next MDLs while the
 * offset is beyond one. STATUS_INVALID_PARAMETER if the chain is shorter than that;
 * bug check 0xE6 if an MDL's pages are not locked. */
NTSTATUS wdm_dma_walk_init(dma_walk *w, PMDL mdl, ULONGLONG offset, ULONG length);
/* The same for a flush, which may be of 0 bytes (KMDF flushes what the device moved:
 * nothing, after DmaCompletedFinal(0)); a 0-byte walk yields no piece. */
NTSTATUS wdm_dma_flush_walk_init(dma_walk *w, PMDL mdl, ULONGLONG offset, ULONG length);
bool wdm_dma_walk_next(dma_walk *w, dma_piece *p);
/* Pages spanned by the walk (one per piece) — the map registers it needs. */
ULONG wdm_dma_walk_pages(dma_walk w);
static inline bool wdm_dma_needs_bounce(const dma_adapter *a, uint64_t phys, ULONG length)
{
    return a->force_bounce || (a->limit != 0 && phys + length > a->limit);
}

/* ---- verifier helpers (dmaadapter.c) --------------------------------------------------- */
/* Remember an unmapped range so a later fault can name it (caller holds the lock; merges
 * with the newest entry when it continues it). Only called with a->verify. */
void wdm_dma_stale_add(dma_adapter *a, uint64_t logical, uint64_t length, uint8_t kind);
/* The owner tag grants made on this thread are recorded with (wdm_dma_set_owner). */
uint32_t wdm_dma_owner(void);
/* Check every common buffer's guard bands (caller holds no lock); bug check 0xE6 0x0F on
 * a modified one. */
void wdm_dma_common_check_guards(dma_adapter *a, const char *when);
/* FNV-1a of `len` bytes: the double-buffering check's fingerprint of a driver buffer. */
uint64_t wdm_dma_checksum(const void *p, size_t len);

/* ---- map registers (dmamapregisters.c) ------------------------------------------------- */
/* The run a MapRegisterBase names, or NULL if it is not a granted run of `a` (the
 * caller releases its lock and bug checks). Caller holds the lock. */
dma_mapreg *wdm_dma_run(dma_adapter *a, PVOID base);
/* Map one piece through the run's next register (caller holds the lock). Returns false
 * when the run has no register left. */
bool wdm_dma_map_piece(dma_adapter *a, dma_mapreg *run, const dma_piece *p, bool write,
                       uint64_t *logical);
/* Unmap every register of `run` (copying bounced reads back when !write); with
 * `only`, just those mapping host bytes inside the walk. Caller holds the lock. */
void wdm_dma_unmap_run(dma_adapter *a, dma_mapreg *run, bool write, const dma_walk *only);
/* Release a granted run (caller holds the lock). */
void wdm_dma_free_run(dma_adapter *a, dma_mapreg *run);
/* Is `w` waiting in the adapter's queue? Compares pointers only, so a stale pointer
 * (an uninitialised transfer context) is never followed. Takes the lock. */
bool wdm_dma_is_queued(dma_adapter *a, const dma_wait *w);
/* Grant waiters that now fit, in FIFO order (caller holds no lock). */
void wdm_dma_dispatch(dma_adapter *a);
/* Queue or grant a request: the shared front half of the allocate routines. Returns
 * STATUS_SUCCESS (granted or queued) or STATUS_INSUFFICIENT_RESOURCES (sync, no grant). */
NTSTATUS wdm_dma_request(dma_adapter *a, dma_wait *w, bool synchronous, PVOID *base_out);
/* Map one contiguous logical run from (mdl, offset) through `run` (lock held). Returns
 * the bytes mapped (0 if the first page cannot be mapped). */
ULONG wdm_dma_map_run(dma_adapter *a, dma_mapreg *run, dma_walk *w, bool write,
                      uint64_t *logical);

/* ---- SG lists (dmasglist.c) ------------------------------------------------------------ */
/* A granted SG request: build its list and call the driver (no lock held). */
void wdm_dma_sg_granted(dma_adapter *a, dma_sg *sg);
void wdm_dma_sg_cancelled(dma_adapter *a, dma_sg *sg);

/* ---- common buffers (dmacommonbuffer.c) ------------------------------------------------ */
/* Is [logical, logical+len) inside one of the adapter's common buffers? Returns the end
 * of the covering buffer or 0. Caller holds the lock. */
uint64_t wdm_dma_common_covers(dma_adapter *a, uint64_t logical);
void wdm_dma_common_free_all(dma_adapter *a);

/* ---- system DMA (dmasystem.c) ---------------------------------------------------------- */
/* Bind a new system adapter to its controller channel; STATUS_* on a bad description. */
NTSTATUS wdm_dma_sys_bind(dma_adapter *a);
NTSTATUS wdm_dma_sys_map(dma_adapter *a, PMDL mdl, PVOID base, ULONGLONG offset,
                         ULONG device_offset, PULONG length, bool write,
                         PSCATTER_GATHER_LIST sg, ULONG sg_size,
                         PDMA_COMPLETION_ROUTINE routine, PVOID context, uint64_t *logical);
NTSTATUS wdm_dma_sys_flush(dma_adapter *a, PMDL mdl, PVOID base, ULONGLONG offset,
                           ULONG length, bool write);
/* PutDmaAdapter: a system adapter must be idle; drops its queued DPC. */
void wdm_dma_sys_teardown(dma_adapter *a);

/* ---- the DMA_OPERATIONS (defined across the modules) ----------------------------------- */
VOID wdm_dma_put_adapter(PDMA_ADAPTER DmaAdapter);
PVOID wdm_dma_allocate_common_buffer(PDMA_ADAPTER DmaAdapter, ULONG Length,
                                     PPHYSICAL_ADDRESS LogicalAddress, BOOLEAN CacheEnabled);
PVOID wdm_dma_allocate_common_buffer_ex(PDMA_ADAPTER DmaAdapter,
                                        PPHYSICAL_ADDRESS MaximumAddress, ULONG Length,
                                        PPHYSICAL_ADDRESS LogicalAddress, BOOLEAN CacheEnabled,
                                        NODE_REQUIREMENT PreferredNode);
VOID wdm_dma_free_common_buffer(PDMA_ADAPTER DmaAdapter, ULONG Length,
                                PHYSICAL_ADDRESS LogicalAddress, PVOID VirtualAddress,
                                BOOLEAN CacheEnabled);
NTSTATUS wdm_dma_allocate_adapter_channel(PDMA_ADAPTER DmaAdapter, PDEVICE_OBJECT DeviceObject,
                                          ULONG NumberOfMapRegisters,
                                          PDRIVER_CONTROL ExecutionRoutine, PVOID Context);
NTSTATUS wdm_dma_allocate_adapter_channel_ex(PDMA_ADAPTER DmaAdapter,
                                             PDEVICE_OBJECT DeviceObject,
                                             PVOID DmaTransferContext,
                                             ULONG NumberOfMapRegisters, ULONG Flags,
                                             PDRIVER_CONTROL ExecutionRoutine,
                                             PVOID ExecutionContext, PVOID *MapRegisterBase);
VOID wdm_dma_free_adapter_channel(PDMA_ADAPTER DmaAdapter);
VOID wdm_dma_free_adapter_object(PDMA_ADAPTER DmaAdapter, IO_ALLOCATION_ACTION AllocationAction);
VOID wdm_dma_free_map_registers(PDMA_ADAPTER DmaAdapter, PVOID MapRegisterBase,
                                ULONG NumberOfMapRegisters);
BOOLEAN wdm_dma_cancel_adapter_channel(PDMA_ADAPTER DmaAdapter, PDEVICE_OBJECT DeviceObject,
                                       PVOID DmaTransferContext);
PHYSICAL_ADDRESS wdm_dma_map_transfer(PDMA_ADAPTER DmaAdapter, PMDL Mdl, PVOID MapRegisterBase,
                                      PVOID CurrentVa, PULONG Length, BOOLEAN WriteToDevice);
NTSTATUS wdm_dma_map_transfer_ex(PDMA_ADAPTER DmaAdapter, PMDL Mdl, PVOID MapRegisterBase,
                                 ULONGLONG Offset, ULONG DeviceOffset, PULONG Length,
                                 BOOLEAN WriteToDevice, PSCATTER_GATHER_LIST ScatterGatherBuffer,
                                 ULONG ScatterGatherBufferLength,
                                 PDMA_COMPLETION_ROUTINE DmaCompletionRoutine,
                                 PVOID CompletionContext);
BOOLEAN wdm_dma_flush_adapter_buffers(PDMA_ADAPTER DmaAdapter, PMDL Mdl, PVOID MapRegisterBase,
                                      PVOID CurrentVa, ULONG Length, BOOLEAN WriteToDevice);
NTSTATUS wdm_dma_flush_adapter_buffers_ex(PDMA_ADAPTER DmaAdapter, PMDL Mdl,
                                          PVOID MapRegisterBase, ULONGLONG Offset, ULONG Length,
                                          BOOLEAN WriteToDevice);
NTSTATUS wdm_dma_get_scatter_gather_list(PDMA_ADAPTER DmaAdapter, PDEVICE_OBJECT DeviceObject,
                                         PMDL Mdl, PVOID CurrentVa, ULONG Length,
                                         PDRIVER_LIST_CONTROL ExecutionRoutine, PVOID Context,
                                         BOOLEAN WriteToDevice);
NTSTATUS wdm_dma_get_scatter_gather_list_ex(
    PDMA_ADAPTER DmaAdapter, PDEVICE_OBJECT DeviceObject, PVOID DmaTransferContext, PMDL Mdl,
    ULONGLONG Offset, ULONG Length, ULONG Flags, PDRIVER_LIST_CONTROL ExecutionRoutine,
    PVOID Context, BOOLEAN WriteToDevice, PDMA_COMPLETION_ROUTINE DmaCompletionRoutine,
    PVOID CompletionContext, PSCATTER_GATHER_LIST *ScatterGatherList);
NTSTATUS wdm_dma_build_scatter_gather_list(PDMA_ADAPTER DmaAdapter, PDEVICE_OBJECT DeviceObject,
                                           PMDL Mdl, PVOID CurrentVa, ULONG Length,
                                           PDRIVER_LIST_CONTROL ExecutionRoutine, PVOID Context,
                                           BOOLEAN WriteToDevice, PVOID ScatterGatherBuffer,
                                           ULONG ScatterGatherLength);
NTSTATUS wdm_dma_build_scatter_gather_list_ex(
    PDMA_ADAPTER DmaAdapter, PDEVICE_OBJECT DeviceObject, PVOID DmaTransferContext, PMDL Mdl,
    ULONGLONG Offset, ULONG Length, ULONG Flags, PDRIVER_LIST_CONTROL ExecutionRoutine,
    PVOID Context, BOOLEAN WriteToDevice, PVOID ScatterGatherBuffer, ULONG ScatterGatherLength,
    PDMA_COMPLETION_ROUTINE DmaCompletionRoutine, PVOID CompletionContext,
    PVOID ScatterGatherList);
VOID wdm_dma_put_scatter_gather_list(PDMA_ADAPTER DmaAdapter, PSCATTER_GATHER_LIST ScatterGather,
                                     BOOLEAN WriteToDevice);
NTSTATUS wdm_dma_calculate_scatter_gather_list(PDMA_ADAPTER DmaAdapter, PMDL Mdl,
                                               PVOID CurrentVa, ULONG Length,
                                               PULONG ScatterGatherListSize,
                                               PULONG pNumberOfMapRegisters);
NTSTATUS wdm_dma_get_dma_transfer_info(PDMA_ADAPTER DmaAdapter, PMDL Mdl, ULONGLONG Offset,
                                       ULONG Length, BOOLEAN WriteOnly,
                                       PDMA_TRANSFER_INFO TransferInfo);
ULONG wdm_dma_read_dma_counter(PDMA_ADAPTER DmaAdapter);
NTSTATUS wdm_dma_configure_adapter_channel(PDMA_ADAPTER DmaAdapter, ULONG FunctionNumber,
                                           PVOID Context);
NTSTATUS wdm_dma_cancel_mapped_transfer(PDMA_ADAPTER DmaAdapter, PVOID DmaTransferContext);

#endif
