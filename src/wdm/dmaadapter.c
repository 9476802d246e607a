/*
 * DMA adapters: IoGetDmaAdapter and PutDmaAdapter, the per-machine DMA state, PDOs, the
 * DMA_OPERATIONS table, adapter information, transfer contexts and the verifier's access
 * check. See dma_internal.h for the model (map registers, queue, system DMA).
 *
 * Adapter lifetime:
 *
 *   IoGetDmaAdapter ──> LIVE ──PutDmaAdapter──> gone
 *                        │
 *   LIVE invariants: registered in dm->adapters (the check sees it); holds one reference
 *   on the machine's DMA state; owns its map registers and bounce block. PutDmaAdapter
 *   requires no common buffer, channel, map register or SG list outstanding (bug check
 *   0xE6 0x07..0x0A with the verifier; a report and a forced cleanup without it).
 *
 * The per-machine state lives in the machine's free slot and is reference counted: the
 * slot holds one reference and every adapter one, because the framework (whose slot is
 * destroyed after ours) may put its adapters while the machine is being destroyed.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wdm/dma_internal.h"

#define DEFAULT_MAXIMUM_LENGTH (64u * 1024u)   /* MaximumLength 0 */
#define PDO_MAGIC 0x50444F21u                  /* 'PDO!' */
#define IO_TYPE_DEVICE 3

typedef struct dma_pdo {
    DEVICE_OBJECT obj;                  /* first: what the framework holds */
    uint32_t magic;
    wdfdma_dev *hw;
    struct dma_pdo *next;
} dma_pdo;

/* ---- bug checks and locks -------------------------------------------------------------- */
/* The verifier rule (src/fx/verifier_rules.c) of a 0xE6 first parameter. */
static const char *dma_rule_of(uint64_t p1)
{
    switch (p1) {
    case DMA_BC_COMMON_BUFFER_FREE:
    case DMA_BC_CHANNEL_FREE:
    case DMA_BC_MAP_REGISTER_FREE:
    case DMA_BC_SG_LIST_FREE:
        return "DMA-FREED-TWICE";
    case DMA_BC_PUT_COMMON_BUFFERS:
    case DMA_BC_PUT_CHANNELS:
    case DMA_BC_PUT_MAP_REGISTERS:
    case DMA_BC_PUT_SG_LISTS:
        return "DMA-PUT-ADAPTER-OUTSTANDING";
    case DMA_BC_NOT_FLUSHED:
        return "DMA-NOT-FLUSHED";
    case DMA_BC_TOO_MANY_MAP_REGISTERS:
        return "DMA-TOO-MANY-MAP-REGISTERS";
    default:
        return "DMA-VIOLATION";
    }
}

void wdm_dma_bugcheck(uint64_t p1, uint64_t p2, uint64_t p3, uint64_t p4, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    mach_bugcheck_rule(dma_rule_of(p1), 0, NULL, DRIVER_VERIFIER_DMA_VIOLATION, p1, p2, p3, p4,
                       "DRIVER_VERIFIER_DMA_VIOLATION: %s", msg);
}

dma_adapter *wdm_dma_adapter(PDMA_ADAPTER pub, const char *ddi)
{
    dma_adapter *a = (dma_adapter *)pub;
    if (a == NULL || a->magic != DMA_ADAPTER_MAGIC)
        wdm_dma_bugcheck(DMA_BC_BAD_ADAPTER, (uint64_t)(uintptr_t)pub, 0, 0,
                         "%s: %p is not a DMA adapter from IoGetDmaAdapter", ddi, (void *)pub);
    return a;
}

KIRQL wdm_dma_lock(dma_adapter *a)
{
    KIRQL old = mach_irql();
    if (old < DISPATCH_LEVEL)
        mach_irql_raise(DISPATCH_LEVEL);
    mach_spin_acquire(&a->lock);
    return old;
}

void wdm_dma_unlock(dma_adapter *a, KIRQL old)
{
    mach_spin_release(&a->lock);
    if (old < DISPATCH_LEVEL)
        mach_irql_lower(old);
}

void wdm_dma_stat_max(_Atomic uint64_t *stat, uint64_t value)
{
    uint64_t cur = atomic_load(stat);
    while (cur < value && !atomic_compare_exchange_weak(stat, &cur, value))
        ;
}

/* ---- the verifier's access check ------------------------------------------------------- */
/* The end of the live mapping of `a` that contains `logical`, or 0. Runs in hardware
 * context: the lock is taken without touching IRQL. */
static uint64_t adapter_covers(dma_adapter *a, uint64_t logical)
{
    uint64_t end = 0;
    mach_spin_acquire(&a->lock);
    end = wdm_dma_common_covers(a, logical);
    for (ULONG i = 0; end == 0 && i < a->nregs; i++) {
        const dma_mapreg *r = &a->regs[i];
        if (r->mapped && logical >= r->logical && logical - r->logical < r->length)
            end = r->logical + r->length;
    }
    mach_spin_release(&a->lock);
    return end;
}

static const char *const stale_kind_names[] = {
    [DMA_STALE_MAP_REGISTER] = "map register", [DMA_STALE_SG_LIST] = "SG list",
    [DMA_STALE_COMMON_BUFFER] = "common buffer",
};

/* Distance from `logical` to a stale range (0 inside it). */
static uint64_t stale_distance(const dma_stale *st, uint64_t logical)
{
    if (logical < st->logical)
        return st->logical - logical;
    return logical - st->logical < st->length ? 0 : logical - (st->logical + st->length) + 1;
}

/* The rule a refused access breaks, from the nearest recently unmapped range of the
 * device's adapters: inside a put SG list or a freed common buffer, those rules; else
 * the access is simply unmapped. Explains it to the bus (mach_dma_refusal). Caller holds
 * dm->lock; runs in hardware context (adapter locks taken without touching IRQL). */
static void explain_refusal(dma_machine *dm, wdfdma_dev *dev, uint64_t logical)
{
    dma_stale best = {0};
    uint32_t best_adapter = 0;
    uint64_t best_distance = UINT64_MAX;
    uint64_t now = mach_now(dm->m);
    for (dma_adapter *a = dm->adapters; a != NULL; a = a->next) {
        if (a->dma_dev != dev)
            continue;
        mach_spin_acquire(&a->lock);
        for (unsigned i = 0; i < DMA_STALE_RING; i++) {
            const dma_stale *st = &a->stale[i];
            uint64_t d = st->kind != 0 ? stale_distance(st, logical) : UINT64_MAX;
            /* Prefer the newest of equally near ranges: reused addresses. */
            if (d < best_distance || (d == best_distance && d != UINT64_MAX &&
                                      st->when_ns >= best.when_ns)) {
                best = *st;
                best_distance = d;
                best_adapter = a->id;
            }
        }
        mach_spin_release(&a->lock);
    }
    if (best.kind == 0) {
        mach_dma_refusal("DMA-ACCESS-UNMAPPED", 0, "no live mapping covers %#llx (no "
                         "recently unmapped range of this device to compare)",
                         (unsigned long long)logical);
        return;
    }
    const char *rule = "DMA-ACCESS-UNMAPPED";
    if (best_distance == 0 && best.kind == DMA_STALE_SG_LIST)
        rule = "DMA-SGLIST-AFTER-PUT";
    else if (best_distance == 0 && best.kind == DMA_STALE_COMMON_BUFFER)
        rule = "DMA-COMMON-BUFFER-FREED";
    mach_dma_refusal(rule, 0, "no live mapping covers %#llx; nearest stale mapping: %s "
                     "[%#llx, +%llu) of adapter %u, unmapped %llu ns ago%s",
                     (unsigned long long)logical, stale_kind_names[best.kind],
                     (unsigned long long)best.logical, (unsigned long long)best.length,
                     best_adapter, (unsigned long long)(now - best.when_ns),
                     best_distance == 0 ? " (the address is inside it)" : "");
}

/* wdfdma_dma_check: a device may touch only what is mapped for it now (its adapters'
 * common buffers and mapped map registers, which include every SG list). A range may be
 * covered by several adjacent mappings. A refusal is explained to the bus, which records
 * it as a finding of the rule explain_refusal picked. */
static bool dma_check(void *ctx, wdfdma_dev *dev, uint64_t logical, size_t len, bool write)
{
    dma_machine *dm = ctx;
    uint64_t cur = logical;
    uint64_t end = logical + len;
    (void)write;
    pthread_mutex_lock(&dm->lock);
    while (cur < end) {
        uint64_t reach = 0;
        for (dma_adapter *a = dm->adapters; a != NULL && reach == 0; a = a->next)
            if (a->dma_dev == dev)
                reach = adapter_covers(a, cur);
        if (reach == 0)
            break;
        cur = reach;
    }
    if (cur < end)
        explain_refusal(dm, dev, cur);
    pthread_mutex_unlock(&dm->lock);
    return cur >= end;
}

/* ---- the verifier's bookkeeping -------------------------------------------------------- */
void wdm_dma_stale_add(dma_adapter *a, uint64_t logical, uint64_t length, uint8_t kind)
{
    wdm_dma_assert_locked(a);
    dma_stale *last = &a->stale[(a->stale_pos + DMA_STALE_RING - 1) % DMA_STALE_RING];
    uint64_t now = mach_now(a->m);
    if (last->kind == kind && last->logical + last->length == logical) {
        last->length += length;   /* the next page of the same list or mapping */
        last->when_ns = now;
        return;
    }
    a->stale[a->stale_pos++ % DMA_STALE_RING] =
        (dma_stale){ .logical = logical, .length = length, .when_ns = now, .kind = kind };
}

static _Thread_local uint32_t owner_tag MACH_TLS_FAST;

uint32_t wdm_dma_set_owner(uint32_t owner)
{
    uint32_t old = owner_tag;
    owner_tag = owner;
    return old;
}

uint32_t wdm_dma_owner(void)
{
    return owner_tag;
}

ULONG wdm_dma_registers_owned(PDMA_ADAPTER adapter, uint32_t owner, PVOID except)
{
    dma_adapter *a = wdm_dma_adapter(adapter, "wdm_dma_registers_owned");
    if (!a->verify || owner == 0)
        return 0;
    ULONG held = 0;
    KIRQL old = wdm_dma_lock(a);
    for (ULONG i = 0; i < a->nregs; i++) {
        const dma_mapreg *r = &a->regs[i];
        if (r->allocated && r->run != 0 && r->owner == owner && (PVOID)r != except)
            held += r->run;
    }
    wdm_dma_unlock(a, old);
    return held;
}

void wdm_dma_verify_guards(PDMA_ADAPTER adapter, const char *when)
{
    if (adapter == NULL)
        return;
    dma_adapter *a = wdm_dma_adapter(adapter, "wdm_dma_verify_guards");
    if (a->verify)
        wdm_dma_common_check_guards(a, when);
}

uint64_t wdm_dma_checksum(const void *p, size_t len)
{
    const unsigned char *b = p;
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < len; i++)
        h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}

/* ---- per-machine state ----------------------------------------------------------------- */
static void dma_machine_free(dma_machine *dm)
{
    if (wdfdma_machine_verifier(dm->m))
        wdfdma_machine_set_dma_check(dm->m, NULL, NULL);
    while (dm->pdos != NULL) {
        dma_pdo *next = dm->pdos->next;
        free(dm->pdos);
        dm->pdos = next;
    }
    pthread_mutex_destroy(&dm->lock);
    free(dm);
}

void wdm_dma_machine_put(dma_machine *dm)
{
    if (atomic_fetch_sub(&dm->refs, 1) == 1)
        dma_machine_free(dm);
}

static void dma_slot_destroy(void *p)
{
    wdm_dma_machine_put(p);
}

/* Created on first use; creation is rare, so one process-wide mutex serialises it. */
dma_machine *wdm_dma_machine(wdfdma_machine *m)
{
    static pthread_mutex_t create_lock = PTHREAD_MUTEX_INITIALIZER;
    dma_machine *dm = mach_slot(m, WDM_DMA_SLOT);
    if (dm != NULL)
        return dm;
    pthread_mutex_lock(&create_lock);
    dm = mach_slot(m, WDM_DMA_SLOT);
    if (dm == NULL) {
        dm = calloc(1, sizeof(*dm));
        if (dm == NULL) {
            pthread_mutex_unlock(&create_lock);
            mach_bugcheck(KMODE_EXCEPTION_NOT_HANDLED, (uint64_t)(ULONG)STATUS_NO_MEMORY, 0, 0,
                          0, "out of host memory creating the DMA adapters' state");
        }
        dm->m = m;
        pthread_mutex_init(&dm->lock, NULL);
        atomic_init(&dm->refs, 1);
        dm->map_register_limit = WDFDMA_MAP_REGISTER_LIMIT_DEFAULT;
        if (wdfdma_machine_verifier(m))
            wdfdma_machine_set_dma_check(m, dma_check, dm);
        mach_set_slot(m, WDM_DMA_SLOT, dm, dma_slot_destroy);
    }
    pthread_mutex_unlock(&create_lock);
    return dm;
}

/* ---- host API -------------------------------------------------------------------------- */
int wdfdma_machine_set_map_register_limit(wdfdma_machine *m, unsigned n)
{
    if (m == NULL)
        return mach_error(EINVAL, "wdfdma_machine_set_map_register_limit: machine is NULL");
    if (n < WDFDMA_MAP_REGISTER_LIMIT_MIN || n > WDFDMA_MAP_REGISTER_LIMIT_MAX)
        return mach_error(EINVAL, "wdfdma_machine_set_map_register_limit: %u map registers "
                          "is outside %u..%u", n, WDFDMA_MAP_REGISTER_LIMIT_MIN,
                          WDFDMA_MAP_REGISTER_LIMIT_MAX);
    dma_machine *dm = wdm_dma_machine(m);
    pthread_mutex_lock(&dm->lock);
    dm->map_register_limit = n;
    pthread_mutex_unlock(&dm->lock);
    return 0;
}

unsigned wdfdma_machine_map_register_limit(wdfdma_machine *m)
{
    if (m == NULL)
        return 0;
    dma_machine *dm = wdm_dma_machine(m);
    pthread_mutex_lock(&dm->lock);
    unsigned n = dm->map_register_limit;
    pthread_mutex_unlock(&dm->lock);
    return n;
}

int wdfdma_dma_get_stats(wdfdma_machine *m, wdfdma_dma_stats *out)
{
    if (m == NULL || out == NULL)
        return mach_error(EINVAL, "wdfdma_dma_get_stats: %s is NULL",
                          m == NULL ? "machine" : "out");
    dma_machine *dm = wdm_dma_machine(m);
    memset(out, 0, sizeof(*out));
    out->adapters = atomic_load(&dm->adapters_live);
    out->bounced_bytes = atomic_load(&dm->bounced_bytes);
    out->map_registers_in_use = atomic_load(&dm->regs_in_use);
    out->map_registers_peak = atomic_load(&dm->regs_peak);
    out->sg_lists_built = atomic_load(&dm->sg_built);
    out->sg_lists_allocated = atomic_load(&dm->sg_allocated);
    out->sg_lists_live = atomic_load(&dm->sg_live);
    out->sg_elements_max = atomic_load(&dm->sg_elements_max);
    out->sg_elements_total = atomic_load(&dm->sg_elements_total);
    out->allocations_queued = atomic_load(&dm->queued);
    out->channel_grants = atomic_load(&dm->channel_grants);
    out->common_buffers_live = atomic_load(&dm->common_live);
    out->system_transfers = atomic_load(&dm->system_transfers);
    return 0;
}

/* ---- PDOs ------------------------------------------------------------------------------ */
PDEVICE_OBJECT wdm_pdo_for(wdfdma_dev *hw)
{
    if (hw == NULL)
        return NULL;
    dma_machine *dm = wdm_dma_machine(wdfdma_dev_machine(hw));
    dma_pdo *found = NULL;
    pthread_mutex_lock(&dm->lock);
    for (dma_pdo *p = dm->pdos; p != NULL && found == NULL; p = p->next)
        if (p->hw == hw)
            found = p;
    if (found == NULL) {
        size_t bytes = (sizeof(dma_pdo) + 15u) & ~(size_t)15u;   /* DEVICE_OBJECT: 16 */
        found = aligned_alloc(16, bytes);
        if (found != NULL) {
            memset(found, 0, bytes);
            found->obj.Type = IO_TYPE_DEVICE;
            found->obj.Size = (USHORT)sizeof(DEVICE_OBJECT);
            found->obj.ReferenceCount = 1;
            found->obj.Flags = DO_BUS_ENUMERATED_DEVICE;
            found->obj.DeviceType = FILE_DEVICE_BUS_EXTENDER;
            found->obj.StackSize = 1;
            /* Points at itself: how wdm_pdo_hardware recognises one of ours. */
            found->obj.DeviceObjectExtension = found;
            found->magic = PDO_MAGIC;
            found->hw = hw;
            found->next = dm->pdos;
            dm->pdos = found;
        }
    }
    pthread_mutex_unlock(&dm->lock);
    return found != NULL ? &found->obj : NULL;
}

wdfdma_dev *wdm_pdo_hardware(PDEVICE_OBJECT pdo)
{
    if (pdo == NULL || pdo->DeviceObjectExtension != (PVOID)pdo)
        return NULL;
    dma_pdo *p = (dma_pdo *)pdo;
    return p->magic == PDO_MAGIC ? p->hw : NULL;
}

/* ---- the operations -------------------------------------------------------------------- */
static ULONG wdm_dma_get_alignment(PDMA_ADAPTER DmaAdapter)
{
    (void)wdm_dma_adapter(DmaAdapter, "GetDmaAlignment");
    /* Byte alignment: the description has no alignment field, so no device asks more. */
    return 1;
}

static NTSTATUS wdm_dma_get_adapter_info(PDMA_ADAPTER DmaAdapter, PDMA_ADAPTER_INFO AdapterInfo)
{
    dma_adapter *a = wdm_dma_adapter(DmaAdapter, "GetDmaAdapterInfo");
    wdm_check_irql_max(DISPATCH_LEVEL, "GetDmaAdapterInfo");
    if (AdapterInfo == NULL)
        return STATUS_INVALID_PARAMETER;
    if (AdapterInfo->Version != DMA_ADAPTER_INFO_VERSION1)
        return STATUS_NOT_SUPPORTED;
    DMA_ADAPTER_INFO_V1 *v1 = &AdapterInfo->V1;
    memset(v1, 0, sizeof(*v1));
    v1->ReadDmaCounterAvailable = a->master ? FALSE : TRUE;
    /* A system controller takes one contiguous range per transfer. */
    v1->ScatterGatherLimit = a->master && a->scatter_gather ? a->nregs : 1;
    v1->DmaAddressWidth = a->width;
    v1->Flags = ADAPTER_INFO_SYNCHRONOUS_CALLBACK;
    v1->MinimumTransferUnit = a->master ? 1 : a->sys.width_bytes;
    return STATUS_SUCCESS;
}

static NTSTATUS wdm_dma_initialize_transfer_context(PDMA_ADAPTER DmaAdapter,
                                                    PVOID DmaTransferContext)
{
    dma_adapter *a = wdm_dma_adapter(DmaAdapter, "InitializeDmaTransferContext");
    wdm_check_irql_max(DISPATCH_LEVEL, "InitializeDmaTransferContext");
    if (DmaTransferContext == NULL)
        return STATUS_INVALID_PARAMETER;
    dma_xfer *x = DmaTransferContext;
    if (x->magic == DMA_XFER_MAGIC && wdm_dma_is_queued(a, x->pending))
        wdm_dma_bugcheck(DMA_BC_MISC, DMA_BC_MISC_BAD_CONTEXT, (uint64_t)(uintptr_t)x, 0,
                         "InitializeDmaTransferContext: context %p still has a queued "
                         "allocation request", DmaTransferContext);
    memset(DmaTransferContext, 0, DMA_TRANSFER_CONTEXT_SIZE_V1);
    x->magic = DMA_XFER_MAGIC;
    x->adapter = a;
    return STATUS_SUCCESS;
}

/* Drivers hold a non-const pointer (the WDK's type); the table itself is read-only, so a
 * driver that writes to it faults at once instead of corrupting every adapter. */
static const DMA_OPERATIONS dma_operations = {
    .Size = sizeof(DMA_OPERATIONS),
    .PutDmaAdapter = wdm_dma_put_adapter,
    .AllocateCommonBuffer = wdm_dma_allocate_common_buffer,
    .FreeCommonBuffer = wdm_dma_free_common_buffer,
    .AllocateAdapterChannel = wdm_dma_allocate_adapter_channel,
    .FlushAdapterBuffers = wdm_dma_flush_adapter_buffers,
    .FreeAdapterChannel = wdm_dma_free_adapter_channel,
    .FreeMapRegisters = wdm_dma_free_map_registers,
    .MapTransfer = wdm_dma_map_transfer,
    .GetDmaAlignment = wdm_dma_get_alignment,
    .ReadDmaCounter = wdm_dma_read_dma_counter,
    .GetScatterGatherList = wdm_dma_get_scatter_gather_list,
    .PutScatterGatherList = wdm_dma_put_scatter_gather_list,
    .CalculateScatterGatherList = wdm_dma_calculate_scatter_gather_list,
    .BuildScatterGatherList = wdm_dma_build_scatter_gather_list,
    .GetDmaAdapterInfo = wdm_dma_get_adapter_info,
    .GetDmaTransferInfo = wdm_dma_get_dma_transfer_info,
    .InitializeDmaTransferContext = wdm_dma_initialize_transfer_context,
    .AllocateCommonBufferEx = wdm_dma_allocate_common_buffer_ex,
    .AllocateAdapterChannelEx = wdm_dma_allocate_adapter_channel_ex,
    .ConfigureAdapterChannel = wdm_dma_configure_adapter_channel,
    .CancelAdapterChannel = wdm_dma_cancel_adapter_channel,
    .MapTransferEx = wdm_dma_map_transfer_ex,
    .GetScatterGatherListEx = wdm_dma_get_scatter_gather_list_ex,
    .BuildScatterGatherListEx = wdm_dma_build_scatter_gather_list_ex,
    .FlushAdapterBuffersEx = wdm_dma_flush_adapter_buffers_ex,
    .FreeAdapterObject = wdm_dma_free_adapter_object,
    .CancelMappedTransfer = wdm_dma_cancel_mapped_transfer,
};

/* ---- IoGetDmaAdapter ------------------------------------------------------------------- */
/* The address width a description asks for, or 0 if it is malformed. Without an explicit
 * width a device without Dma64BitAddresses reaches 32 bits: PCI bus masters, and the SoC
 * system-DMA controller (ISA's 24-bit DMA is not modelled). */
static unsigned description_width(const DEVICE_DESCRIPTION *d)
{
    if (d->Version >= DEVICE_DESCRIPTION_VERSION3 && d->DmaAddressWidth != 0)
        return d->DmaAddressWidth >= 24 && d->DmaAddressWidth <= 64 ? d->DmaAddressWidth : 0;
    return d->Dma64BitAddresses ? 64 : 32;
}

static bool description_ok(wdfdma_machine *m, const DEVICE_DESCRIPTION *d)
{
    const char *why = NULL;
    if (d->Version > DEVICE_DESCRIPTION_VERSION3)
        why = "unknown DEVICE_DESCRIPTION version";
    else if (d->Reserved1)
        why = "Reserved1 must be FALSE";
    else if (description_width(d) == 0)
        why = "DmaAddressWidth must be 24..64";
    else if (!d->Master && d->Version < DEVICE_DESCRIPTION_VERSION3)
        why = "system DMA needs a version 3 description (DmaRequestLine, DeviceAddress)";
    else if (!d->Master && d->DmaWidth > Width64Bits)
        why = "system DMA needs DmaWidth Width8Bits..Width64Bits";
    if (why != NULL)
        mach_report(m, "IoGetDmaAdapter", "%s: no adapter", why);
    return why == NULL;
}

static ULONG map_register_count(dma_machine *dm, const DEVICE_DESCRIPTION *d)
{
    ULONG length = d->MaximumLength != 0 ? d->MaximumLength : DEFAULT_MAXIMUM_LENGTH;
    uint64_t n = (uint64_t)BYTES_TO_PAGES(length) + 1;
    pthread_mutex_lock(&dm->lock);
    unsigned limit = dm->map_register_limit;
    pthread_mutex_unlock(&dm->lock);
    return (ULONG)(n < limit ? n : limit);
}

static bool adapter_registers_init(dma_adapter *a)
{
    a->regs = calloc(a->nregs, sizeof(*a->regs));
    if (a->regs == NULL)
        return false;
    for (ULONG i = 0; i < a->nregs; i++) {
        a->regs[i].magic = DMA_MAPREG_MAGIC;
        a->regs[i].index = i;
        a->regs[i].adapter = a;
        a->regs[i].next_kept = -1;
    }
    a->regs_free = a->nregs;
    a->kept_head = a->kept_tail = -1;
    if (a->limit == 0 && !a->force_bounce)
        return true;   /* a 64-bit adapter never bounces (unless the verifier forces it) */
    void *va = NULL;
    if (mach_mem_alloc_contig(a->m, (size_t)a->nregs * PAGE_SIZE, a->limit, PAGE_SIZE, &va,
                              &a->bounce_pa) != 0)
        return false;
    a->bounce_va = va;
    return true;
}

static void adapter_free(dma_adapter *a)
{
    if (!a->master)
        wdm_dma_channel_unbind(a);
    if (a->bounce_va != NULL)
        mach_mem_free_contig(a->m, a->bounce_va, (size_t)a->nregs * PAGE_SIZE);
    free(a->regs);
    a->magic = 0;
    free(a);
}

PDMA_ADAPTER IoGetDmaAdapter(PDEVICE_OBJECT PhysicalDeviceObject,
                             PDEVICE_DESCRIPTION DeviceDescription,
                             PULONG NumberOfMapRegisters)
{
    wdfdma_machine *m = wdm_machine("IoGetDmaAdapter");
    wdm_check_irql_max(PASSIVE_LEVEL, "IoGetDmaAdapter");
    wdfdma_dev *hw = wdm_pdo_hardware(PhysicalDeviceObject);
    if (hw == NULL || DeviceDescription == NULL || NumberOfMapRegisters == NULL) {
        mach_report(m, "IoGetDmaAdapter", "%s: no adapter",
                    hw == NULL ? "the device object is not a PDO" : "a required pointer is NULL");
        return NULL;
    }
    if (!description_ok(m, DeviceDescription))
        return NULL;
    dma_machine *dm = wdm_dma_machine(m);
    dma_adapter *a = calloc(1, sizeof(*a));
    if (a == NULL)
        return NULL;
    a->magic = DMA_ADAPTER_MAGIC;
    a->id = mach_next_object_id(m);
    a->dm = dm;
    a->m = m;
    a->hw = hw;
    a->dma_dev = hw;
    a->desc = *DeviceDescription;
    a->master = DeviceDescription->Master != FALSE;
    a->scatter_gather = DeviceDescription->ScatterGather != FALSE;
    a->width = description_width(DeviceDescription);
    a->limit = a->width >= 64 ? 0 : 1ull << a->width;
    a->nregs = map_register_count(dm, DeviceDescription);
    a->verify = wdfdma_machine_verifier(m);
    /* Driver Verifier's double buffering applies to bus masters; a system controller's
     * looped transfers must see the buffer itself (dma_internal.h). */
    a->force_bounce = a->master && wdfdma_machine_verifier_double_buffer(m);
    a->pub.Version = DeviceDescription->Version >= DEVICE_DESCRIPTION_VERSION3 ? 3 : 2;
    a->pub.Size = (USHORT)sizeof(DMA_ADAPTER);
    a->pub.DmaOperations = (PDMA_OPERATIONS)&dma_operations;
    atomic_init(&a->sys.final_status, -1);
    if (!adapter_registers_init(a) || (!a->master && !NT_SUCCESS(wdm_dma_sys_bind(a)))) {
        adapter_free(a);
        return NULL;
    }
    atomic_fetch_add(&dm->refs, 1);
    pthread_mutex_lock(&dm->lock);
    a->next = dm->adapters;
    dm->adapters = a;
    pthread_mutex_unlock(&dm->lock);
    atomic_fetch_add(&dm->adapters_live, 1);
    mach_trace(m, WDFDMA_TR_FLOW, a->id, "hal.adapter.create", a->nregs, a->width);
    *NumberOfMapRegisters = a->nregs;
    return &a->pub;
}

/* ---- PutDmaAdapter --------------------------------------------------------------------- */
/* What is still outstanding, as the Windows verifier's first parameter (0 = nothing). */
static uint64_t outstanding(dma_adapter *a, uint64_t *count)
{
    ULONG commons = 0;
    for (dma_common *c = a->commons; c != NULL; c = c->next)
        commons++;
    *count = commons;
    if (commons != 0)
        return DMA_BC_PUT_COMMON_BUFFERS;
    *count = a->channels_kept + (a->channel_busy ? 1u : 0u) + (a->head != NULL ? 1u : 0u);
    if (*count != 0)
        return DMA_BC_PUT_CHANNELS;
    *count = a->sg_live;
    if (*count != 0)
        return DMA_BC_PUT_SG_LISTS;
    *count = a->nregs - a->regs_free;
    if (*count != 0)
        return DMA_BC_PUT_MAP_REGISTERS;
    return 0;
}

VOID wdm_dma_put_adapter(PDMA_ADAPTER DmaAdapter)
{
    dma_adapter *a = wdm_dma_adapter(DmaAdapter, "PutDmaAdapter");
    wdm_check_irql_max(PASSIVE_LEVEL, "PutDmaAdapter");
    if (!a->master)
        wdm_dma_sys_teardown(a);
    uint64_t count = 0;
    KIRQL old = wdm_dma_lock(a);
    uint64_t what = outstanding(a, &count);
    wdm_dma_unlock(a, old);
    if (what != 0) {
        if (wdfdma_machine_verifier(a->m))
            wdm_dma_bugcheck(what, (uint64_t)(uintptr_t)a, count, 0,
                             "PutDmaAdapter: adapter %u still has %llu %s outstanding", a->id,
                             (unsigned long long)count,
                             what == DMA_BC_PUT_COMMON_BUFFERS ? "common buffer(s)"
                             : what == DMA_BC_PUT_CHANNELS    ? "adapter channel(s)"
                             : what == DMA_BC_PUT_SG_LISTS    ? "SG list(s)"
                                                              : "map register(s)");
        mach_report(a->m, "PutDmaAdapter", "adapter %u put with resources outstanding "
                    "(verifier code %#llx, %llu); freeing them", a->id,
                    (unsigned long long)what, (unsigned long long)count);
        atomic_fetch_sub(&a->dm->regs_in_use, a->nregs - a->regs_free);
        atomic_fetch_sub(&a->dm->sg_live, a->sg_live);
    }
    wdm_dma_common_free_all(a);

    dma_machine *dm = a->dm;
    pthread_mutex_lock(&dm->lock);
    for (dma_adapter **pp = &dm->adapters; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == a) {
            *pp = a->next;
            break;
        }
    }
    pthread_mutex_unlock(&dm->lock);
    atomic_fetch_sub(&dm->adapters_live, 1);
    mach_trace(a->m, WDFDMA_TR_FLOW, a->id, "hal.adapter.put", 0, 0);
    adapter_free(a);
    wdm_dma_machine_put(dm);
}
