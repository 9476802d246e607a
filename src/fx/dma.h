/*
 * The framework's DMA objects: enabler, common buffer, transaction (src/fx/dma*.c).
 *
 * KMDF builds DMA on the HAL's DMA adapters (src/wdm/dma*.c): the framework never bounces
 * data or walks physical pages itself; it asks the adapter for scatter/gather lists or
 * map-register mappings and hands them to the driver's EvtProgramDma.
 */
#ifndef WDFDMA_FX_DMA_H
#define WDFDMA_FX_DMA_H

#include "fx/device.h"
#include "fx/internal.h"

/* One adapter per direction on duplex profiles, one shared adapter otherwise. */
typedef struct fx_dma_description {
    PDMA_ADAPTER adapter;
    DEVICE_DESCRIPTION description;
    ULONG map_registers;           /* NumberOfMapRegisters granted by IoGetDmaAdapter */
    size_t max_fragment;           /* min(MaximumLength, (map_registers - 1) * PAGE_SIZE) */
    size_t sglist_size;            /* bytes of a worst-case SG list for one transfer */
} fx_dma_description;

typedef struct fx_dma_enabler {
    fx_object obj;
    fx_device *device;
    WDF_DMA_PROFILE profile;
    bool bus_master, scatter_gather, duplex;
    bool require_single_transfer;  /* WDF_DMA_ENABLER_CONFIG_REQUIRE_SINGLE_TRANSFER */
    bool sglist_preallocated;      /* SG profiles without NO_SGLIST_PREALLOCATION; system */
    bool configured;               /* every direction has an adapter */
    size_t maximum_length;
    ULONG max_sg_elements;         /* WDF_DMA_ENABLER_UNLIMITED_FRAGMENTS by default */
    ULONG common_buffer_alignment; /* alignment mask for WdfCommonBufferCreate */
    fx_dma_description adapters[2];/* [direction] when duplex, [0] otherwise */
    size_t sglist_size;            /* per-transaction SG buffer (SG) / shared list (system) */
    PSCATTER_GATHER_LIST system_sglist; /* system profiles: one list per enabler */
    WDF_DMA_ENABLER_CONFIG config; /* the six power callbacks */
    bool fill_failed, enable_failed, smio_start_failed;
    fx_power_participant power;
    bool power_registered;
} fx_dma_enabler;

static inline fx_dma_description *fx_dma_enabler_description(fx_dma_enabler *e,
                                                             WDF_DMA_DIRECTION dir)
{
    return e->duplex ? &e->adapters[dir == WdfDmaDirectionWriteToDevice] : &e->adapters[0];
}
static inline bool fx_dma_enabler_v3(const fx_dma_enabler *e)
{
    return e->adapters[0].description.Version == DEVICE_DESCRIPTION_VERSION3;
}
/* v2 packet enablers cannot take MDL chains (one MapTransfer per transfer, no offset form). */
static inline bool fx_dma_enabler_supports_chains(const fx_dma_enabler *e)
{
    return fx_dma_enabler_v3(e) || !e->bus_master || e->scatter_gather;
}
static inline bool fx_dma_enabler_is_system(const fx_dma_enabler *e)
{
    return e->profile == WdfDmaProfileSystem || e->profile == WdfDmaProfileSystemDuplex;
}
static inline bool fx_dma_enabler_is_packet(const fx_dma_enabler *e)
{
    return e->profile == WdfDmaProfilePacket || e->profile == WdfDmaProfilePacket64;
}
fx_dma_enabler *fx_dma_enabler_from_handle(WDFDMAENABLER h, const char *ddi);

typedef struct fx_common_buffer {
    fx_object obj;
    fx_dma_enabler *enabler;
    size_t length, raw_length;
    ULONG alignment;               /* mask */
    PVOID raw_va, aligned_va;
    PHYSICAL_ADDRESS raw_la, aligned_la;
} fx_common_buffer;

/* ---- transactions --------------------------------------------------------------------- */
typedef enum fx_dma_state {
    FX_DMA_INVALID = 0,
    FX_DMA_CREATED = 1,
    FX_DMA_RESERVED = 2,
    FX_DMA_INITIALIZED = 3,
    FX_DMA_TRANSFER = 4,
    FX_DMA_TRANSFER_COMPLETED = 5,
    FX_DMA_TRANSFER_FAILED = 6,
    FX_DMA_RELEASED = 7,
    FX_DMA_DELETED = 8,
} fx_dma_state;
const char *fx_dma_state_name(fx_dma_state s);

typedef enum fx_dma_completion { FX_DMA_FULL, FX_DMA_PARTIAL, FX_DMA_ABORT } fx_dma_completion;

struct fx_dma_transaction;
/* The flavour's operations (KMDF's virtual methods), one const table per flavour. */
typedef struct fx_dma_transaction_ops {
    const char *name;
    NTSTATUS (*initialize_resources)(struct fx_dma_transaction *t);
    void (*release_resources)(struct fx_dma_transaction *t, bool force);
    NTSTATUS (*start_transfer)(struct fx_dma_transaction *t);
    NTSTATUS (*stage_transfer)(struct fx_dma_transaction *t);
    NTSTATUS (*transfer_completed)(struct fx_dma_transaction *t);
    void (*dispose)(struct fx_dma_transaction *t);
} fx_dma_transaction_ops;
extern const fx_dma_transaction_ops fx_dma_sg_ops, fx_dma_packet_ops, fx_dma_system_ops;

#define FX_DMA_STATE_HISTORY 8

typedef struct fx_dma_transaction {
    fx_object obj;
    fx_dma_enabler *enabler;
    const fx_dma_transaction_ops *ops;
    fx_dma_state state;
    uint8_t history[FX_DMA_STATE_HISTORY];   /* last states, newest at history_pos - 1 */
    unsigned history_pos;
    fx_dma_description *adapter_info;        /* set by Initialize / AllocateResources */
    WDF_DMA_DIRECTION direction;
    size_t max_fragment;
    size_t transaction_length, remaining, transferred;
    PMDL start_mdl, cur_mdl;
    size_t start_offset, cur_offset, cur_length;
    bool require_single_transfer;
    ULONG flags;                             /* DMA_SYNCHRONOUS_CALLBACK */
    PFN_WDF_PROGRAM_DMA program_dma;
    PFN_WDF_RESERVE_DMA reserve_dma;
    PVOID acquired_context;
    /* the request of InitializeUsingRequest; referenced from Execute to the end */
    WDFREQUEST request;
    bool request_referenced;
    /* scatter/gather flavour */
    PSCATTER_GATHER_LIST sglist;             /* the live list of the current transfer */
    PVOID sglist_buffer;
    ULONG sglist_buffer_size;
    PDMA_ADAPTER sg_adapter;                 /* where the awaited list was asked for */
    bool sg_pending;                         /* a list is asked for and not yet granted */
    /* packet and system flavours */
    PVOID map_register_base;
    bool map_register_base_set;
    ULONG map_registers_needed, map_registers_reserved;
    bool cancelled;                          /* StopSystemTransfer */
    bool channel_pending;                    /* the channel allocation waits in the HAL */
    bool device_acquired;                    /* v2 packet: the device's one slot */
    KSPIN_LOCK transfer_state_lock;
    const void *staging_thread;              /* who is inside stage_transfer */
    bool rerun_staging, rerun_completion;
    DMA_COMPLETION_STATUS completion_status;
    bool completion_status_set;
    ULONG device_address_offset;
    /* system flavour */
    PFN_WDF_DMA_TRANSACTION_CONFIGURE_DMA_CHANNEL configure_channel;
    PVOID configure_context;
    PFN_WDF_DMA_TRANSACTION_DMA_TRANSFER_COMPLETE transfer_complete;
    PVOID transfer_complete_context;
    /* DMA v3 transfer context (DMA_TRANSFER_CONTEXT_SIZE_V1), owned by the HAL */
    __attribute__((aligned(16))) UCHAR transfer_context[DMA_TRANSFER_CONTEXT_SIZE_V1];
} fx_dma_transaction;

/* Shared by the flavours (dmatransaction.c) */
void fx_dma_set_state(fx_dma_transaction *t, fx_dma_state s);
_Noreturn void fx_dma_fatal(fx_dma_transaction *t, const char *what);
PVOID fx_dma_transfer_context(fx_dma_transaction *t);
/* KMDF's _ComputeNextTransferAddress: advance (mdl, offset) by `transferred` bytes. */
void fx_dma_next_address(PMDL mdl, size_t offset, size_t transferred, PMDL *next_mdl,
                         size_t *next_offset);
/* KMDF's _CalculateRequiredMapRegisters: map registers (pages spanned) for `length` bytes
 * from (mdl, offset) across the chain, and how much fits in `available` registers. */
NTSTATUS fx_dma_required_map_registers(PMDL mdl, size_t offset, ULONG length, ULONG available,
                                       ULONG *possible_length, ULONG *required);
/* Call the driver's EvtProgramDma for the current transfer. */
void fx_dma_program(fx_dma_transaction *t, PSCATTER_GATHER_LIST sg);
/* Packet/system: the transfer-complete callback through the deferral rule. */
void fx_dma_call_transfer_complete(fx_dma_transaction *t, DMA_COMPLETION_STATUS status);

/* Verifier hooks (verifier.c). A DmaCompleted* call: check the guard bands of the
 * enabler's common buffers. The transaction ended (its resources released): map
 * registers its work was granted must be free, except a reservation (`adapter` is the
 * one it used). */
void fx_verifier_dma_completed(fx_dma_transaction *t);
void fx_verifier_transaction_end(fx_dma_transaction *t, PDMA_ADAPTER adapter);

/* Host statistics (dma stats shown by `wdfdma run`). */
typedef struct fx_dma_stats {
    _Atomic uint64_t transactions, transfers, sg_elements_total, sg_elements_max;
} fx_dma_stats;
void fx_dma_stats_get(wdfdma_machine *m, fx_dma_stats *out);
void fx_dma_stats_count_transfer(fx_dma_transaction *t, PSCATTER_GATHER_LIST sg);
void fx_dma_stats_count_transaction(void);

#endif
