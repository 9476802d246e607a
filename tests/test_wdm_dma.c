/*
 * The HAL's DMA adapters (src/wdm/dma*.c), driven the way KMDF drives them, against the
 * device models: sgdma (bus master) and sdmac with uart / ring peripherals (system DMA).
 *
 * Order: bad arguments, then success (adapters, SG lists, bouncing through the sgdma
 * engine on both engines, the allocation queue, common buffers, system DMA), then
 * wrong-state misuse (bug checks). Data is position-encoded and followed by canaries, so
 * misplaced, missing and out-of-bounds bytes fail, not only wrong values. Every test ends
 * with no adapter, SG list, map register, common buffer or frame left, and the machine's
 * findings equal to what the test provoked on purpose.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "wdm/dma_internal.h"
#include "wdfdma/dma.h"
#include "devices/sgdma/sgdma.h"
#include "devices/sdmac/sdmac.h"
#include "devices/uart/uart.h"
#include "devices/ring/ring.h"

#define CANARY 0xEEu
#define GUARD 64u
#define FOUR_G (1ull << 32)

/* ---- fixture ------------------------------------------------------------------------ */
typedef struct rig {
    wdfdma_machine *m;
    uint64_t findings_expected;
    jmp_buf jb;
    volatile bool armed;                /* a TRAP() expects a bug check now */
    wdfdma_bugcheck bc;
    int bugchecks;
} rig;

/* An expected bug check returns to its TRAP(); any other one is printed and (by
 * returning) aborts the test program. */
static void on_bugcheck(void *ctx, const wdfdma_bugcheck *bc)
{
    rig *r = ctx;
    if (!r->armed) {
        fprintf(stderr, "unexpected bug check %#x (%#llx): %s\n", bc->code,
                (unsigned long long)bc->p[0], bc->message);
        return;
    }
    r->bc = *bc;
    r->bugchecks++;
    r->armed = false;
    longjmp(r->jb, 1);
}

#define TRAP(r, stmt)                                                                      \
    do {                                                                                   \
        (r)->armed = true;                                                                 \
        if (setjmp((r)->jb) == 0) {                                                        \
            stmt;                                                                          \
        }                                                                                  \
        (r)->armed = false;                                                                \
    } while (0)

static void rig_open(rig *r, wdfdma_engine engine, wdfdma_mem_policy memory, bool verifier)
{
    wdfdma_machine_config cfg;
    memset(r, 0, sizeof(*r));
    wdfdma_machine_config_init(&cfg);
    cfg.engine = engine;
    cfg.seed = 11;
    cfg.memory = memory;
    cfg.verifier = verifier;
    if (wdfdma_machine_create(&cfg, &r->m) < 0)
        fail_msg("machine: %s", wdfdma_last_error());
    mach_enter(r->m);
    wdfdma_machine_set_bugcheck_handler(r->m, on_bugcheck, r);
    wdfdma_machine_set_bugcheck_quiet(r->m, true);
}

static void rig_close(rig *r)
{
    wdfdma_dma_stats s;
    assert_int_equal(wdfdma_dma_get_stats(r->m, &s), 0);
    assert_int_equal(s.adapters, 0);
    assert_int_equal(s.sg_lists_live, 0);
    assert_int_equal(s.map_registers_in_use, 0);
    assert_int_equal(s.common_buffers_live, 0);
    wdfdma_machine_stats ms;
    wdfdma_machine_get_stats(r->m, &ms);
    assert_int_equal(ms.frames_in_use, 0);
    assert_int_equal(mach_findings(r->m), r->findings_expected);
    wdfdma_machine_destroy(r->m);
}

static wdfdma_dev *add_device(rig *r, const char *model, const char *name, const char *opts)
{
    wdfdma_dev *d = NULL;
    if (wdfdma_machine_add_device(r->m, model, name, opts, &d) < 0)
        fail_msg("%s: %s", model, wdfdma_last_error());
    return d;
}

static const wdfdma_resource *resource(wdfdma_dev *d, wdfdma_res_type type, unsigned nth)
{
    for (unsigned i = 0; i < wdfdma_dev_resource_count(d); i++) {
        const wdfdma_resource *res = wdfdma_dev_resource(d, i);
        if (res->type == type && nth-- == 0)
            return res;
    }
    fail_msg("device has no such resource");
    return NULL;
}

static DEVICE_DESCRIPTION bus_master(unsigned width, ULONG max_length)
{
    DEVICE_DESCRIPTION d;
    memset(&d, 0, sizeof(d));
    d.Version = DEVICE_DESCRIPTION_VERSION3;
    d.Master = TRUE;
    d.ScatterGather = TRUE;
    d.Dma32BitAddresses = TRUE;
    d.Dma64BitAddresses = width == 64;
    d.DmaAddressWidth = width;
    d.InterfaceType = PCIBus;
    d.MaximumLength = max_length;
    return d;
}

static PDMA_ADAPTER get_adapter(wdfdma_dev *hw, DEVICE_DESCRIPTION d, ULONG *nregs)
{
    ULONG n = 0;
    PDMA_ADAPTER a = IoGetDmaAdapter(wdm_pdo_for(hw), &d, &n);
    assert_non_null(a);
    if (nregs != NULL)
        *nregs = n;
    return a;
}

static void put_adapter(PDMA_ADAPTER a)
{
    a->DmaOperations->PutDmaAdapter(a);
}

/* ---- buffers and MDLs ------------------------------------------------------------------ */
typedef struct hbuf {
    uint8_t *base;                      /* page-aligned allocation */
    size_t bytes;
    uint8_t *va;                        /* base + offset */
    size_t len;
} hbuf;

static hbuf hbuf_new(size_t offset, size_t len)
{
    hbuf b = {.bytes = (offset + len + GUARD + PAGE_SIZE - 1) & ~(size_t)(PAGE_SIZE - 1)};
    b.base = aligned_alloc(PAGE_SIZE, b.bytes);
    assert_non_null(b.base);
    memset(b.base, CANARY, b.bytes);
    b.va = b.base + offset;
    b.len = len;
    return b;
}

static void hbuf_free(hbuf *b)
{
    free(b->base);
}

static PMDL mdl_new(void *va, ULONG len)
{
    PMDL mdl = IoAllocateMdl(va, len, FALSE, FALSE, NULL);
    assert_non_null(mdl);
    MmProbeAndLockPages(mdl, KernelMode, IoModifyAccess);
    return mdl;
}

static void mdl_free(PMDL mdl)
{
    while (mdl != NULL) {
        PMDL next = mdl->Next;
        MmUnlockPages(mdl);
        IoFreeMdl(mdl);
        mdl = next;
    }
}

static uint8_t enc(uint64_t i, unsigned salt)
{
    return (uint8_t)(i * 167u + (i >> 8) * 13u + salt * 71u + 1u);
}

static void fill(uint8_t *p, size_t n, unsigned salt)
{
    for (size_t i = 0; i < n; i++)
        p[i] = enc(i, salt);
}

static void check_pattern(const uint8_t *p, size_t n, unsigned salt)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != enc(i, salt))
            fail_msg("byte %zu: got %02x want %02x", i, p[i], enc(i, salt));
}

static void check_guard(const hbuf *b)
{
    for (const uint8_t *p = b->va + b->len; p < b->base + b->bytes; p++)
        if (*p != CANARY)
            fail_msg("guard byte %td after the buffer overwritten (%02x)", p - (b->va + b->len),
                     *p);
}

/* The list a HAL must build for a chain the device reaches directly: one element per run
 * of physically contiguous pieces. */
static ULONG expected_list(PMDL mdl, ULONG offset, ULONG length, SCATTER_GATHER_ELEMENT *out)
{
    ULONG n = 0;
    while (length > 0) {
        if (offset >= mdl->ByteCount) {
            offset -= mdl->ByteCount;
            mdl = mdl->Next;
            continue;
        }
        ULONG pos = mdl->ByteOffset + offset;
        ULONG piece = PAGE_SIZE - (pos & (PAGE_SIZE - 1));
        if (piece > mdl->ByteCount - offset)
            piece = mdl->ByteCount - offset;
        if (piece > length)
            piece = length;
        uint64_t pa = ((uint64_t)MmGetMdlPfnArray(mdl)[pos >> PAGE_SHIFT] << PAGE_SHIFT) +
                      (pos & (PAGE_SIZE - 1));
        if (n > 0 && (uint64_t)out[n - 1].Address.QuadPart + out[n - 1].Length == pa) {
            out[n - 1].Length += piece;
        } else {
            out[n].Address.QuadPart = (LONGLONG)pa;
            out[n].Length = piece;
            n++;
        }
        offset += piece;
        length -= piece;
    }
    return n;
}

/* ---- callbacks that record what the HAL did ------------------------------------------- */
typedef struct grant_log {
    int order[16];
    int n;
    PVOID base[16];
    PSCATTER_GATHER_LIST list[16];
    KIRQL irql[16];
    IO_ALLOCATION_ACTION action;
} grant_log;

typedef struct grant_ctx {
    grant_log *log;
    int id;
} grant_ctx;

static IO_ALLOCATION_ACTION on_channel(PDEVICE_OBJECT dev, PIRP irp, PVOID base, PVOID context)
{
    grant_ctx *g = context;
    (void)dev;
    (void)irp;
    g->log->base[g->id] = base;
    g->log->irql[g->id] = mach_irql();
    g->log->order[g->log->n++] = g->id;
    return g->log->action;
}

static VOID on_list(PDEVICE_OBJECT dev, PIRP irp, PSCATTER_GATHER_LIST list, PVOID context)
{
    grant_ctx *g = context;
    (void)dev;
    (void)irp;
    g->log->list[g->id] = list;
    g->log->irql[g->id] = mach_irql();
    g->log->order[g->log->n++] = g->id;
}

/* ======================================================================================
 * Bad arguments
 * ==================================================================================== */
static void test_bad_arguments(void **state)
{
    (void)state;
    rig r;
    rig_open(&r, WDFDMA_ENGINE_SIM, WDFDMA_MEM_SCATTERED, false);
    wdfdma_dev *hw = add_device(&r, "sgdma", "sg0", NULL);
    PDEVICE_OBJECT pdo = wdm_pdo_for(hw);
    DEVICE_DESCRIPTION d = bus_master(64, 65536);
    ULONG n = 0;

    /* IoGetDmaAdapter: no adapter, a report each, never a crash. */
    DEVICE_OBJECT fake;
    memset(&fake, 0, sizeof(fake));
    assert_null(IoGetDmaAdapter(NULL, &d, &n));
    assert_null(IoGetDmaAdapter(&fake, &d, &n));
    assert_null(IoGetDmaAdapter(pdo, NULL, &n));
    assert_null(IoGetDmaAdapter(pdo, &d, NULL));
    DEVICE_DESCRIPTION bad = d;
    bad.Version = 4;
    assert_null(IoGetDmaAdapter(pdo, &bad, &n));
    bad = d;
    bad.Reserved1 = TRUE;
    assert_null(IoGetDmaAdapter(pdo, &bad, &n));
    bad = d;
    bad.DmaAddressWidth = 12;
    assert_null(IoGetDmaAdapter(pdo, &bad, &n));
    bad = d;
    bad.Master = FALSE;
    bad.Version = DEVICE_DESCRIPTION_VERSION2;
    assert_null(IoGetDmaAdapter(pdo, &bad, &n));
    bad.Version = DEVICE_DESCRIPTION_VERSION3;   /* sgdma has no DMA request line */
    assert_null(IoGetDmaAdapter(pdo, &bad, &n));
    r.findings_expected += 9;
    assert_null(wdm_pdo_for(NULL));
    assert_null(wdm_pdo_hardware(&fake));
    assert_null(wdm_pdo_hardware(NULL));

    /* Host API. */
    assert_int_equal(wdfdma_machine_set_map_register_limit(NULL, 16), -EINVAL);
    assert_int_equal(wdfdma_machine_set_map_register_limit(r.m, 1), -EINVAL);
    assert_non_null(strstr(wdfdma_last_error(), "outside"));
    assert_int_equal(wdfdma_machine_set_map_register_limit(r.m, 70000), -EINVAL);
    assert_int_equal(wdfdma_dma_get_stats(r.m, NULL), -EINVAL);
    assert_int_equal(wdfdma_machine_map_register_limit(r.m), WDFDMA_MAP_REGISTER_LIMIT_DEFAULT);

    /* The operations. */
    PDMA_ADAPTER a = get_adapter(hw, d, &n);
    PDMA_OPERATIONS ops = a->DmaOperations;
    hbuf b = hbuf_new(0, 3 * PAGE_SIZE);
    PMDL mdl = mdl_new(b.va, (ULONG)b.len);
    grant_log log = {.action = DeallocateObjectKeepRegisters};
    grant_ctx g = {&log, 0};
    UCHAR xfer[DMA_TRANSFER_CONTEXT_SIZE_V1];
    memset(xfer, 0, sizeof(xfer));
    ULONG size = 0, regs = 0;

    assert_int_equal(ops->GetScatterGatherList(a, pdo, mdl, b.va, (ULONG)b.len, NULL, &g, TRUE),
                     STATUS_INVALID_PARAMETER);
    assert_int_equal(ops->GetScatterGatherList(a, pdo, mdl, b.va, 0, on_list, &g, TRUE),
                     STATUS_INVALID_PARAMETER);
    assert_int_equal(ops->GetScatterGatherList(a, pdo, mdl, b.va, (ULONG)b.len + 1, on_list, &g,
                                               TRUE), STATUS_INVALID_PARAMETER);
    assert_int_equal(ops->GetScatterGatherList(a, pdo, mdl, b.va - 1, 16, on_list, &g, TRUE),
                     STATUS_INVALID_PARAMETER);
    assert_int_equal(ops->CalculateScatterGatherList(a, mdl, b.va, (ULONG)b.len, &size, &regs),
                     STATUS_SUCCESS);
    static UCHAR sgbuf[4096] __attribute__((aligned(16)));
    assert_int_equal(ops->BuildScatterGatherList(a, pdo, mdl, b.va, (ULONG)b.len, on_list, &g,
                                                 TRUE, sgbuf, size - 1), STATUS_BUFFER_TOO_SMALL);
    assert_int_equal(ops->BuildScatterGatherList(a, pdo, mdl, b.va, (ULONG)b.len, on_list, &g,
                                                 TRUE, NULL, size), STATUS_INVALID_PARAMETER);
    assert_int_equal(ops->CalculateScatterGatherList(a, mdl, b.va, (ULONG)b.len, NULL, &regs),
                     STATUS_INVALID_PARAMETER);
    DMA_TRANSFER_INFO info = {.Version = 7};
    assert_int_equal(ops->GetDmaTransferInfo(a, mdl, 0, (ULONG)b.len, FALSE, &info),
                     STATUS_NOT_SUPPORTED);
    info.Version = DMA_TRANSFER_INFO_VERSION1;
    assert_int_equal(ops->GetDmaTransferInfo(a, NULL, 0, (ULONG)b.len, FALSE, &info),
                     STATUS_INVALID_PARAMETER);
    DMA_ADAPTER_INFO ai = {.Version = 2};
    assert_int_equal(ops->GetDmaAdapterInfo(a, &ai), STATUS_NOT_SUPPORTED);
    assert_int_equal(ops->GetDmaAdapterInfo(a, NULL), STATUS_INVALID_PARAMETER);
    /* An uninitialized transfer context; no routine without DMA_SYNCHRONOUS_CALLBACK. */
    assert_int_equal(ops->AllocateAdapterChannelEx(a, pdo, xfer, 1, 0, on_channel, &g, NULL),
                     STATUS_INVALID_PARAMETER);
    assert_int_equal(ops->InitializeDmaTransferContext(a, NULL), STATUS_INVALID_PARAMETER);
    assert_int_equal(ops->InitializeDmaTransferContext(a, xfer), STATUS_SUCCESS);
    assert_int_equal(ops->AllocateAdapterChannelEx(a, pdo, xfer, 1, 0, NULL, &g, NULL),
                     STATUS_INVALID_PARAMETER);
    assert_int_equal(ops->AllocateAdapterChannelEx(a, pdo, xfer, 1, 0x80, on_channel, &g, NULL),
                     STATUS_INVALID_PARAMETER);
    assert_int_equal(ops->AllocateAdapterChannelEx(a, pdo, xfer, 1, DMA_SYNCHRONOUS_CALLBACK,
                                                   NULL, &g, NULL), STATUS_INVALID_PARAMETER);
    assert_int_equal(ops->AllocateAdapterChannel(a, NULL, 1, on_channel, &g),
                     STATUS_INVALID_PARAMETER);
    /* System-only operations on a bus master. */
    ULONG arg = 2;
    assert_int_equal(ops->ConfigureAdapterChannel(a, SDMAC_FN_PRIORITY, &arg),
                     STATUS_NOT_SUPPORTED);
    assert_int_equal(ops->CancelMappedTransfer(a, xfer), STATUS_NOT_SUPPORTED);
    assert_int_equal(ops->ReadDmaCounter(a), 0);
    assert_int_equal(log.n, 0);   /* no failed call ever called back */

    /* IoGetDmaAdapter and AllocateCommonBuffer are PASSIVE_LEVEL only: bug check 0xA. */
    KIRQL old = mach_irql_raise(DISPATCH_LEVEL);
    TRAP(&r, IoGetDmaAdapter(pdo, &d, &n));
    assert_int_equal(r.bugchecks, 1);
    assert_int_equal(r.bc.code, IRQL_NOT_LESS_OR_EQUAL);
    PHYSICAL_ADDRESS la;
    TRAP(&r, ops->AllocateCommonBuffer(a, PAGE_SIZE, &la, FALSE));
    assert_int_equal(r.bugchecks, 2);
    assert_int_equal(r.bc.code, IRQL_NOT_LESS_OR_EQUAL);
    mach_irql_lower(old);

    mdl_free(mdl);
    hbuf_free(&b);
    put_adapter(a);
    rig_close(&r);
}

/* ======================================================================================
 * Adapters
 * ==================================================================================== */
static void test_adapter_basics(void **state)
{
    (void)state;
    rig r;
    rig_open(&r, WDFDMA_ENGINE_SIM, WDFDMA_MEM_SCATTERED, false);
    wdfdma_dev *hw = add_device(&r, "sgdma", "sg0", NULL);
    wdfdma_dev *hw2 = add_device(&r, "sgdma", "sg1", NULL);

    /* One PDO per hardware, naming it. */
    PDEVICE_OBJECT pdo = wdm_pdo_for(hw);
    assert_ptr_equal(wdm_pdo_for(hw), pdo);
    assert_ptr_not_equal(wdm_pdo_for(hw2), pdo);
    assert_ptr_equal(wdm_pdo_hardware(pdo), hw);
    assert_ptr_equal(wdm_pdo_hardware(wdm_pdo_for(hw2)), hw2);

    /* NumberOfMapRegisters = BYTES_TO_PAGES(MaximumLength) + 1, capped by the limit. */
    ULONG n = 0;
    PDMA_ADAPTER a = get_adapter(hw, bus_master(64, 8192), &n);
    assert_int_equal(n, 3);
    PDMA_ADAPTER b = get_adapter(hw, bus_master(32, 8193), &n);
    assert_int_equal(n, 4);
    PDMA_ADAPTER c = get_adapter(hw, bus_master(32, 0), &n);
    assert_int_equal(n, 17);   /* MaximumLength 0: 64 KiB */
    PDMA_ADAPTER big = get_adapter(hw, bus_master(64, 16u << 20), &n);
    assert_int_equal(n, WDFDMA_MAP_REGISTER_LIMIT_DEFAULT);
    assert_int_equal(wdfdma_machine_set_map_register_limit(r.m, 8), 0);
    PDMA_ADAPTER capped = get_adapter(hw, bus_master(64, 1u << 20), &n);
    assert_int_equal(n, 8);

    /* Adapter information. */
    assert_int_equal(a->DmaOperations->GetDmaAlignment(a), 1);
    assert_int_equal(a->Version, 3);
    DMA_ADAPTER_INFO ai = {.Version = DMA_ADAPTER_INFO_VERSION1};
    assert_int_equal(b->DmaOperations->GetDmaAdapterInfo(b, &ai), STATUS_SUCCESS);
    assert_int_equal(ai.V1.DmaAddressWidth, 32);
    assert_int_equal(ai.V1.ReadDmaCounterAvailable, FALSE);
    assert_int_equal(ai.V1.ScatterGatherLimit, 4);
    assert_true(ai.V1.Flags & ADAPTER_INFO_SYNCHRONOUS_CALLBACK);

    /* A v2 description: widths from the flags. */
    DEVICE_DESCRIPTION v2 = bus_master(0, 4096);
    v2.Version = DEVICE_DESCRIPTION_VERSION2;
    v2.Dma64BitAddresses = FALSE;
    PDMA_ADAPTER old = get_adapter(hw, v2, &n);
    assert_int_equal(old->Version, 2);
    assert_int_equal(old->DmaOperations->GetDmaAdapterInfo(old, &ai), STATUS_SUCCESS);
    assert_int_equal(ai.V1.DmaAddressWidth, 32);

    wdfdma_dma_stats s;
    wdfdma_dma_get_stats(r.m, &s);
    assert_int_equal(s.adapters, 6);
    put_adapter(a);
    put_adapter(b);
    put_adapter(c);
    put_adapter(big);
    put_adapter(capped);
    put_adapter(old);
    rig_close(&r);
}

/* ======================================================================================
 * SG lists for scattered MDL chains (a 64-bit device: no bouncing, elements = frames)
 * ==================================================================================== */
typedef struct chain {
    hbuf buf[3];
    PMDL mdl;
    ULONG total;
} chain;

/* Three MDLs with odd offsets and lengths, chained. */
static chain chain_new(void)
{
    static const size_t offs[3] = {0x123, 0, 0xFF0};
    static const size_t lens[3] = {3 * PAGE_SIZE + 77, 2 * PAGE_SIZE, 0x30};
    chain c;
    memset(&c, 0, sizeof(c));
    PMDL prev = NULL;
    for (int i = 0; i < 3; i++) {
        c.buf[i] = hbuf_new(offs[i], lens[i]);
        fill(c.buf[i].va, lens[i], (unsigned)i);
        PMDL m = mdl_new(c.buf[i].va, (ULONG)lens[i]);
        if (prev != NULL)
            prev->Next = m;
        else
            c.mdl = m;
        prev = m;
        c.total += (ULONG)lens[i];
    }
    return c;
}

static void chain_free(chain *c)
{
    mdl_free(c->mdl);
    for (int i = 0; i < 3; i++)
        hbuf_free(&c->buf[i]);
}

static void check_list(PSCATTER_GATHER_LIST list, PMDL mdl, ULONG offset, ULONG length)
{
    SCATTER_GATHER_ELEMENT want[64];
    ULONG n = expected_list(mdl, offset, length, want);
    assert_int_equal(list->NumberOfElements, n);
    ULONG total = 0;
    for (ULONG i = 0; i < n; i++) {
        assert_int_equal(list->Elements[i].Address.QuadPart, want[i].Address.QuadPart);
        assert_int_equal(list->Elements[i].Length, want[i].Length);
        total += list->Elements[i].Length;
    }
    assert_int_equal(total, length);
}

static void test_sg_scattered_chain(void **state)
{
    (void)state;
    rig r;
    rig_open(&r, WDFDMA_ENGINE_SIM, WDFDMA_MEM_SCATTERED, true);
    wdfdma_dev *hw = add_device(&r, "sgdma", "sg0", NULL);
    PDEVICE_OBJECT pdo = wdm_pdo_for(hw);
    PDMA_ADAPTER a = get_adapter(hw, bus_master(64, 64 * 1024), NULL);
    PDMA_OPERATIONS ops = a->DmaOperations;
    chain c = chain_new();
    grant_log log = {0};
    grant_ctx g = {&log, 0};

    /* Get: the whole chain from an offset inside the first MDL. */
    const ULONG skip = 0x456;
    char *va = (char *)MmGetMdlVirtualAddress(c.mdl) + skip;
    assert_int_equal(ops->GetScatterGatherList(a, pdo, c.mdl, va, c.total - skip, on_list, &g,
                                               TRUE), STATUS_SUCCESS);
    assert_int_equal(log.n, 1);                        /* synchronous: registers were free */
    assert_int_equal(log.irql[0], DISPATCH_LEVEL);
    PSCATTER_GATHER_LIST list = log.list[0];
    check_list(list, c.mdl, skip, c.total - skip);
    /* Scattered frames: the frames of the pages themselves (byte offsets kept). */
    assert_int_equal(list->Elements[0].Address.QuadPart & (PAGE_SIZE - 1),
                     (0x123 + skip) & (PAGE_SIZE - 1));
    /* The device may touch exactly the list (the verifier's check). */
    uint8_t tmp[64];
    assert_int_equal(wdfdma_dev_dma_read(hw, (uint64_t)list->Elements[0].Address.QuadPart, tmp,
                                         sizeof(tmp)), WDFDMA_DMA_OK);
    for (size_t i = 0; i < sizeof(tmp); i++)   /* the list starts at byte `skip` */
        assert_int_equal(tmp[i], enc(skip + i, 0));
    ops->PutScatterGatherList(a, list, TRUE);

    /* Build(Ex) into the caller's buffer, from an offset in the second MDL. */
    UCHAR xfer[DMA_TRANSFER_CONTEXT_SIZE_V1];
    assert_int_equal(ops->InitializeDmaTransferContext(a, xfer), STATUS_SUCCESS);
    static UCHAR sgbuf[8192] __attribute__((aligned(16)));
    ULONG off2 = (ULONG)(3 * PAGE_SIZE + 77 + 100);
    g.id = 1;
    assert_int_equal(ops->BuildScatterGatherListEx(a, pdo, xfer, c.mdl, off2, c.total - off2, 0,
                                                   on_list, &g, FALSE, sgbuf, sizeof(sgbuf),
                                                   NULL, NULL, NULL), STATUS_SUCCESS);
    assert_int_equal(log.n, 2);
    assert_true((UCHAR *)log.list[1] > sgbuf && (UCHAR *)log.list[1] < sgbuf + sizeof(sgbuf));
    check_list(log.list[1], c.mdl, off2, c.total - off2);
    ops->PutScatterGatherList(a, log.list[1], FALSE);

    /* After the put the mapping is gone: the same access is a DMA fault (reported). */
    assert_int_equal(wdfdma_dev_dma_read(hw, (uint64_t)log.list[1]->Elements[0].Address.QuadPart,
                                         tmp, 16), WDFDMA_DMA_FAULT);
    r.findings_expected++;

    /* Physically contiguous frames coalesce into one element. */
    wdfdma_dma_stats s;
    wdfdma_dma_get_stats(r.m, &s);
    assert_int_equal(s.sg_lists_built, 2);
    assert_int_equal(s.sg_lists_allocated, 1);
    chain_free(&c);
    put_adapter(a);
    rig_close(&r);

    rig_open(&r, WDFDMA_ENGINE_SIM, WDFDMA_MEM_CONTIGUOUS, false);
    hw = add_device(&r, "sgdma", "sg0", NULL);
    a = get_adapter(hw, bus_master(64, 64 * 1024), NULL);
    hbuf b = hbuf_new(0x80, 5 * PAGE_SIZE);
    PMDL mdl = mdl_new(b.va, (ULONG)b.len);
    log.n = 0;
    g.id = 0;
    assert_int_equal(a->DmaOperations->GetScatterGatherList(a, wdm_pdo_for(hw), mdl, b.va,
                                                            (ULONG)b.len, on_list, &g, TRUE),
                     STATUS_SUCCESS);
    assert_int_equal(log.list[0]->NumberOfElements, 1);
    assert_int_equal(log.list[0]->Elements[0].Length, b.len);
    assert_int_equal(log.list[0]->Elements[0].Address.QuadPart,
                     (MmGetMdlPfnArray(mdl)[0] << PAGE_SHIFT) + 0x80);
    a->DmaOperations->PutScatterGatherList(a, log.list[0], TRUE);
    mdl_free(mdl);
    hbuf_free(&b);
    put_adapter(a);
    rig_close(&r);
}

/* ======================================================================================
 * Bouncing: a 32-bit sgdma, memory above 4 GiB, the device moving the data
 * ==================================================================================== */
typedef struct sgdev {
    wdfdma_dev *hw;
    volatile uint8_t *regs;
    PDMA_ADAPTER a;
    sgdma_desc64 *desc;                 /* common buffer */
    PHYSICAL_ADDRESS desc_la;
    rig *r;
} sgdev;

static void sg_wr(sgdev *s, unsigned off, uint32_t v)
{
    mach_mmio_write(s->regs + off, 4, v);
}

static uint32_t sg_rd(sgdev *s, unsigned off)
{
    return (uint32_t)mach_mmio_read(s->regs + off, 4);
}

typedef struct chan_wait {
    sgdev *s;
    unsigned ch;
} chan_wait;

static bool chain_ended(void *ctx)
{
    chan_wait *w = ctx;
    return (sg_rd(w->s, SGDMA_CH_BASE(w->ch) + SGDMA_CH_STATUS) & SGDMA_STATUS_BUSY) == 0;
}

/* Describe the SG list in the descriptor ring and run it on channel `ch` to the end. */
static void sg_run(sgdev *s, unsigned ch, PSCATTER_GATHER_LIST list)
{
    uint32_t dev_off = 0;
    for (ULONG i = 0; i < list->NumberOfElements; i++) {
        sgdma_desc64 *d = &s->desc[i];
        d->host_addr = (uint64_t)list->Elements[i].Address.QuadPart;
        d->next = (uint64_t)s->desc_la.QuadPart + (i + 1) * sizeof(sgdma_desc64);
        d->length = list->Elements[i].Length;
        d->dev_offset = dev_off;
        d->flags = (i + 1 == list->NumberOfElements ? SGDMA_DESC_LAST : 0) |
                   (ch == SGDMA_CH_FROM_DEVICE ? SGDMA_DESC_FROM_DEVICE : 0);
        d->status = 0;
        dev_off += list->Elements[i].Length;
    }
    unsigned base = SGDMA_CH_BASE(ch);
    sg_wr(s, base + SGDMA_CH_DESC_LO, (uint32_t)s->desc_la.QuadPart);
    sg_wr(s, base + SGDMA_CH_DESC_HI, (uint32_t)((uint64_t)s->desc_la.QuadPart >> 32));
    sg_wr(s, base + SGDMA_CH_CTRL, SGDMA_CTRL_START | SGDMA_CTRL_DESC64);
    chan_wait w = {s, ch};
    int64_t timeout = mach_is_sim(s->r->m) ? -1 : 5000000000ll;
    assert_true(mach_wait(s->r->m, chain_ended, &w, timeout));
    uint32_t st = sg_rd(s, base + SGDMA_CH_STATUS);
    if ((st & SGDMA_STATUS_DONE) == 0 || (st & SGDMA_STATUS_ERRORS) != 0)
        fail_msg("sgdma channel %u status %#x", ch, st);
}

static void sgdev_open(sgdev *s, rig *r, const char *opts)
{
    memset(s, 0, sizeof(*s));
    s->r = r;
    s->hw = add_device(r, "sgdma", "sg0", opts);
    const wdfdma_resource *mmio = resource(s->hw, WDFDMA_RES_MMIO, 0);
    s->regs = mach_mmio_map(r->m, mmio->start, SGDMA_BAR0_SIZE);
    assert_non_null(s->regs);
    s->a = get_adapter(s->hw, bus_master(32, 64 * 1024), NULL);
    s->desc = s->a->DmaOperations->AllocateCommonBuffer(s->a, PAGE_SIZE, &s->desc_la, TRUE);
    assert_non_null(s->desc);
    assert_true((uint64_t)s->desc_la.QuadPart + PAGE_SIZE <= FOUR_G);
}

static void sgdev_close(sgdev *s)
{
    s->a->DmaOperations->FreeCommonBuffer(s->a, PAGE_SIZE, s->desc_la, s->desc, TRUE);
    put_adapter(s->a);
    mach_mmio_unmap(s->r->m, (void *)s->regs, SGDMA_BAR0_SIZE);
}

static void bounce_through_sgdma(wdfdma_engine engine)
{
    rig r;
    rig_open(&r, engine, WDFDMA_MEM_ABOVE4G, true);
    sgdev s;
    sgdev_open(&s, &r, "addr_bits=32,mem=64K");
    PDMA_OPERATIONS ops = s.a->DmaOperations;
    PDEVICE_OBJECT pdo = wdm_pdo_for(s.hw);
    size_t devlen = 0;
    uint8_t *devmem = sgdma_debug_memory(s.hw, &devlen);
    assert_non_null(devmem);
    const ULONG len = 5 * PAGE_SIZE + 301;
    hbuf b = hbuf_new(0x2A1, len);
    PMDL mdl = mdl_new(b.va, len);
    for (ULONG i = 0; i < ADDRESS_AND_SIZE_TO_SPAN_PAGES(b.va, len); i++)
        assert_true(((uint64_t)MmGetMdlPfnArray(mdl)[i] << PAGE_SHIFT) >= FOUR_G);
    grant_log log = {0};
    grant_ctx g = {&log, 0};

    /* Write: the bounce pages get the data when the list is built. */
    fill(b.va, len, 1);
    assert_int_equal(ops->GetScatterGatherList(s.a, pdo, mdl, b.va, len, on_list, &g, TRUE),
                     STATUS_SUCCESS);
    PSCATTER_GATHER_LIST list = log.list[0];
    ULONG total = 0;
    uint8_t *seen = malloc(len);
    for (ULONG i = 0; i < list->NumberOfElements; i++) {
        uint64_t la = (uint64_t)list->Elements[i].Address.QuadPart;
        assert_true(la + list->Elements[i].Length <= FOUR_G);
        assert_int_equal(mach_phys_read(r.m, la, seen + total, list->Elements[i].Length), 0);
        total += list->Elements[i].Length;
    }
    assert_int_equal(total, len);
    check_pattern(seen, len, 1);
    /* Consecutive map registers: the bounced buffer is one element. */
    assert_int_equal(list->NumberOfElements, 1);
    sg_run(&s, SGDMA_CH_TO_DEVICE, list);
    check_pattern(devmem, len, 1);
    ops->PutScatterGatherList(s.a, list, TRUE);

    /* Read: the device writes the bounce pages; the buffer gets them at the put. */
    fill(devmem, len, 2);
    memset(b.va, 0, len);
    g.id = 1;
    assert_int_equal(ops->GetScatterGatherList(s.a, pdo, mdl, b.va, len, on_list, &g, FALSE),
                     STATUS_SUCCESS);
    list = log.list[1];
    sg_run(&s, SGDMA_CH_FROM_DEVICE, list);
    for (ULONG i = 0; i < len; i++)
        if (b.va[i] != 0)
            fail_msg("byte %lu reached the buffer before the flush", (unsigned long)i);
    ops->PutScatterGatherList(s.a, list, FALSE);
    check_pattern(b.va, len, 2);
    check_guard(&b);

    wdfdma_dma_stats st;
    wdfdma_dma_get_stats(r.m, &st);
    assert_int_equal(st.bounced_bytes, 2ull * len);
    assert_int_equal(st.map_registers_peak, ADDRESS_AND_SIZE_TO_SPAN_PAGES(b.va, len));
    free(seen);
    mdl_free(mdl);
    hbuf_free(&b);
    sgdev_close(&s);
    rig_close(&r);
}

static void test_bounce_sim(void **state)
{
    (void)state;
    bounce_through_sgdma(WDFDMA_ENGINE_SIM);
}

static void test_bounce_threads(void **state)
{
    (void)state;
    bounce_through_sgdma(WDFDMA_ENGINE_THREADS);
}

/* Packet style: MapTransferEx / FlushAdapterBuffersEx through a channel grant; a mix of
 * reachable and bounced pages maps only up to where logical contiguity breaks. */
static void test_map_transfer_bounce(void **state)
{
    (void)state;
    rig r;
    rig_open(&r, WDFDMA_ENGINE_SIM, WDFDMA_MEM_ABOVE4G, false);
    wdfdma_dev *hw = add_device(&r, "sgdma", "sg0", NULL);
    PDEVICE_OBJECT pdo = wdm_pdo_for(hw);
    ULONG nregs = 0;
    PDMA_ADAPTER a = get_adapter(hw, bus_master(32, 4 * PAGE_SIZE), &nregs);
    PDMA_OPERATIONS ops = a->DmaOperations;
    const ULONG len = 3 * PAGE_SIZE;
    hbuf b = hbuf_new(0x10, len);
    PMDL mdl = mdl_new(b.va, len);
    UCHAR xfer[DMA_TRANSFER_CONTEXT_SIZE_V1];
    ops->InitializeDmaTransferContext(a, xfer);
    grant_log log = {.action = DeallocateObjectKeepRegisters};
    grant_ctx g = {&log, 0};
    PVOID base = NULL;
    assert_int_equal(ops->AllocateAdapterChannelEx(a, pdo, xfer, nregs, 0, on_channel, &g,
                                                   &base), STATUS_SUCCESS);
    assert_int_equal(log.n, 1);
    assert_ptr_equal(base, log.base[0]);

    /* Write, all pages bounced: one contiguous element for the whole length. */
    fill(b.va, len, 3);
    ULONG got = len;
    UCHAR one[sizeof(SCATTER_GATHER_LIST) + sizeof(SCATTER_GATHER_ELEMENT)]
        __attribute__((aligned(16)));
    PSCATTER_GATHER_LIST sg = (PSCATTER_GATHER_LIST)(void *)one;
    assert_int_equal(ops->MapTransferEx(a, mdl, base, 0, 0, &got, TRUE, sg, sizeof(one), NULL,
                                        NULL), STATUS_SUCCESS);
    assert_int_equal(got, len);
    assert_int_equal(sg->NumberOfElements, 1);
    uint8_t *seen = malloc(len);
    assert_int_equal(mach_phys_read(r.m, (uint64_t)sg->Elements[0].Address.QuadPart, seen, len),
                     0);
    check_pattern(seen, len, 3);
    assert_int_equal(ops->FlushAdapterBuffersEx(a, mdl, base, 0, len, TRUE), STATUS_SUCCESS);

    /* Read via the legacy pair: device data lands in the bounce pages, flush copies. */
    memset(b.va, 0, len);
    got = len;
    PHYSICAL_ADDRESS la = ops->MapTransfer(a, mdl, base, b.va, &got, FALSE);
    assert_int_equal(got, len);
    assert_true((uint64_t)la.QuadPart < FOUR_G);
    fill(seen, len, 4);
    assert_int_equal(wdfdma_dev_dma_write(hw, (uint64_t)la.QuadPart, seen, len), WDFDMA_DMA_OK);
    assert_int_equal(b.va[0], 0);
    assert_true(ops->FlushAdapterBuffers(a, mdl, base, b.va, len, FALSE));
    check_pattern(b.va, len, 4);
    check_guard(&b);
    ops->FreeMapRegisters(a, base, nregs);
    free(seen);
    mdl_free(mdl);
    hbuf_free(&b);
    put_adapter(a);
    rig_close(&r);
}

/* ======================================================================================
 * The allocation queue
 * ==================================================================================== */
static void test_map_register_fifo(void **state)
{
    (void)state;
    rig r;
    rig_open(&r, WDFDMA_ENGINE_SIM, WDFDMA_MEM_ABOVE4G, false);
    wdfdma_dev *hw = add_device(&r, "sgdma", "sg0", NULL);
    PDEVICE_OBJECT pdo = wdm_pdo_for(hw);
    ULONG nregs = 0;
    PDMA_ADAPTER a = get_adapter(hw, bus_master(32, 3 * PAGE_SIZE), &nregs);
    PDMA_OPERATIONS ops = a->DmaOperations;
    assert_int_equal(nregs, 4);
    enum { A, B, C, D, E, F };
    UCHAR xfer[6][DMA_TRANSFER_CONTEXT_SIZE_V1];
    for (int i = 0; i < 6; i++)
        ops->InitializeDmaTransferContext(a, xfer[i]);
    grant_log log = {.action = DeallocateObjectKeepRegisters};
    grant_ctx g[6];
    for (int i = 0; i < 6; i++)
        g[i] = (grant_ctx){&log, i};

    /* A takes 3 of 4; B (2) waits; C (1) would fit but waits behind B (FIFO). */
    assert_int_equal(ops->AllocateAdapterChannelEx(a, pdo, xfer[A], 3, 0, on_channel, &g[A],
                                                   NULL), STATUS_SUCCESS);
    assert_int_equal(ops->AllocateAdapterChannelEx(a, pdo, xfer[B], 2, 0, on_channel, &g[B],
                                                   NULL), STATUS_SUCCESS);
    assert_int_equal(ops->AllocateAdapterChannelEx(a, pdo, xfer[C], 1, 0, on_channel, &g[C],
                                                   NULL), STATUS_SUCCESS);
    assert_int_equal(log.n, 1);
    /* DMA_SYNCHRONOUS_CALLBACK: fails at once, its routine is never called. */
    assert_int_equal(ops->AllocateAdapterChannelEx(a, pdo, xfer[D], 1, DMA_SYNCHRONOUS_CALLBACK,
                                                   on_channel, &g[D], NULL),
                     STATUS_INSUFFICIENT_RESOURCES);
    assert_false(ops->CancelAdapterChannel(a, pdo, xfer[D]));   /* never queued */
    /* An SG list queues behind them too (3 pages spanned). */
    hbuf b = hbuf_new(0x100, 2 * PAGE_SIZE);
    PMDL mdl = mdl_new(b.va, (ULONG)b.len);
    assert_int_equal(ops->GetScatterGatherListEx(a, pdo, xfer[E], mdl, 0, (ULONG)b.len, 0,
                                                 on_list, &g[E], TRUE, NULL, NULL, NULL),
                     STATUS_SUCCESS);
    /* F queues and is cancelled while queued: TRUE, never called. */
    assert_int_equal(ops->AllocateAdapterChannelEx(a, pdo, xfer[F], 1, 0, on_channel, &g[F],
                                                   NULL), STATUS_SUCCESS);
    assert_true(ops->CancelAdapterChannel(a, pdo, xfer[F]));
    assert_false(ops->CancelAdapterChannel(a, pdo, xfer[F]));
    assert_false(ops->CancelAdapterChannel(a, pdo, xfer[A]));   /* granted already */
    wdfdma_dma_stats st;
    wdfdma_dma_get_stats(r.m, &st);
    assert_int_equal(st.allocations_queued, 4);
    assert_int_equal(st.map_registers_in_use, 3);
    assert_int_equal(log.n, 1);

    /* Free A: B (2) and C (1) are granted, in order, from the free path; E (3) waits. */
    ops->FreeMapRegisters(a, log.base[A], 3);
    assert_int_equal(log.n, 3);
    assert_int_equal(log.order[1], B);
    assert_int_equal(log.order[2], C);
    assert_int_equal(log.irql[B], DISPATCH_LEVEL);
    assert_false(ops->CancelAdapterChannel(a, pdo, xfer[B]));
    ops->FreeMapRegisters(a, log.base[B], 2);
    assert_int_equal(log.n, 3);
    ops->FreeMapRegisters(a, log.base[C], 1);
    assert_int_equal(log.n, 4);
    assert_int_equal(log.order[3], E);
    /* The bounced list of the queued request is complete and correct. */
    PSCATTER_GATHER_LIST list = log.list[E];
    assert_int_equal(list->NumberOfElements, 1);
    assert_int_equal(list->Elements[0].Length, b.len);
    ops->PutScatterGatherList(a, list, TRUE);
    wdfdma_dma_get_stats(r.m, &st);
    assert_int_equal(st.map_registers_peak, 3);   /* A, then B + C */
    assert_int_equal(st.channel_grants, 3);
    mdl_free(mdl);
    hbuf_free(&b);
    put_adapter(a);
    rig_close(&r);
}

/* DMA_SYNCHRONOUS_CALLBACK without a routine; KeepObject and FreeAdapterChannel; the
 * legacy AllocateAdapterChannel queueing in the device object's Wcb. */
static void test_sync_and_keep(void **state)
{
    (void)state;
    rig r;
    rig_open(&r, WDFDMA_ENGINE_SIM, WDFDMA_MEM_SCATTERED, false);
    wdfdma_dev *hw = add_device(&r, "sgdma", "sg0", NULL);
    PDEVICE_OBJECT pdo = wdm_pdo_for(hw);
    ULONG nregs = 0;
    PDMA_ADAPTER a = get_adapter(hw, bus_master(64, 2 * PAGE_SIZE), &nregs);
    PDMA_OPERATIONS ops = a->DmaOperations;
    assert_int_equal(nregs, 3);
    UCHAR x1[DMA_TRANSFER_CONTEXT_SIZE_V1], x2[DMA_TRANSFER_CONTEXT_SIZE_V1];
    ops->InitializeDmaTransferContext(a, x1);
    ops->InitializeDmaTransferContext(a, x2);

    /* No routine: the base comes back, the grant is kept until FreeAdapterObject. */
    PVOID base = NULL;
    assert_int_equal(ops->AllocateAdapterChannelEx(a, pdo, x1, 3, DMA_SYNCHRONOUS_CALLBACK, NULL,
                                                   NULL, &base), STATUS_SUCCESS);
    assert_non_null(base);
    PVOID base2 = NULL;
    assert_int_equal(ops->AllocateAdapterChannelEx(a, pdo, x2, 1, DMA_SYNCHRONOUS_CALLBACK, NULL,
                                                   NULL, &base2),
                     STATUS_INSUFFICIENT_RESOURCES);
    assert_null(base2);
    ops->FreeAdapterObject(a, DeallocateObjectKeepRegisters);   /* registers stay */
    wdfdma_dma_stats st;
    wdfdma_dma_get_stats(r.m, &st);
    assert_int_equal(st.map_registers_in_use, 3);
    ops->FreeMapRegisters(a, base, 3);

    /* GetScatterGatherListEx with DMA_SYNCHRONOUS_CALLBACK and no routine returns the list. */
    hbuf b = hbuf_new(0, PAGE_SIZE);
    PMDL mdl = mdl_new(b.va, PAGE_SIZE);
    PSCATTER_GATHER_LIST list = NULL;
    assert_int_equal(ops->GetScatterGatherListEx(a, pdo, x1, mdl, 0, PAGE_SIZE,
                                                 DMA_SYNCHRONOUS_CALLBACK, NULL, NULL, TRUE,
                                                 NULL, NULL, &list), STATUS_SUCCESS);
    assert_non_null(list);
    assert_int_equal(list->Elements[0].Address.QuadPart, MmGetMdlPfnArray(mdl)[0] << PAGE_SHIFT);
    ops->PutScatterGatherList(a, list, TRUE);

    /* KeepObject: held until FreeAdapterChannel, which frees the registers too. */
    grant_log log = {.action = KeepObject};
    grant_ctx g0 = {&log, 0}, g1 = {&log, 1};
    assert_int_equal(ops->AllocateAdapterChannelEx(a, pdo, x1, 2, 0, on_channel, &g0, NULL),
                     STATUS_SUCCESS);
    wdfdma_dma_get_stats(r.m, &st);
    assert_int_equal(st.map_registers_in_use, 2);
    /* Legacy: waits in the device object's Wcb. */
    DEVICE_OBJECT *fdo = aligned_alloc(16, sizeof(DEVICE_OBJECT));
    memset(fdo, 0, sizeof(*fdo));
    log.action = DeallocateObject;
    assert_int_equal(ops->AllocateAdapterChannel(a, fdo, 2, on_channel, &g1), STATUS_SUCCESS);
    assert_int_equal(log.n, 1);
    ops->FreeAdapterChannel(a);
    assert_int_equal(log.n, 2);
    assert_int_equal(log.order[1], 1);
    wdfdma_dma_get_stats(r.m, &st);
    assert_int_equal(st.map_registers_in_use, 0);   /* DeallocateObject freed them */
    free(fdo);
    mdl_free(mdl);
    hbuf_free(&b);
    put_adapter(a);
    rig_close(&r);
}

/* ======================================================================================
 * CalculateScatterGatherList / GetDmaTransferInfo
 * ==================================================================================== */
static void test_transfer_counts(void **state)
{
    (void)state;
    rig r;
    rig_open(&r, WDFDMA_ENGINE_SIM, WDFDMA_MEM_SCATTERED, false);
    wdfdma_dev *hw = add_device(&r, "sgdma", "sg0", NULL);
    PDEVICE_OBJECT pdo = wdm_pdo_for(hw);
    ULONG nregs = 0;
    PDMA_ADAPTER a = get_adapter(hw, bus_master(64, 64 * 1024), &nregs);
    PDMA_OPERATIONS ops = a->DmaOperations;
    ULONG size = 0, regs = 0;

    /* No MDL: what KMDF asks at enabler creation must come back equal. */
    assert_int_equal(ops->CalculateScatterGatherList(a, NULL, NULL, nregs * PAGE_SIZE, &size,
                                                     &regs), STATUS_SUCCESS);
    assert_int_equal(regs, nregs);
    assert_int_equal(size, sizeof(dma_sg) + sizeof(SCATTER_GATHER_LIST) +
                               nregs * sizeof(SCATTER_GATHER_ELEMENT));
    assert_int_equal(ops->CalculateScatterGatherList(a, NULL, (PVOID)(uintptr_t)0x10,
                                                     2 * PAGE_SIZE, &size, &regs),
                     STATUS_SUCCESS);
    assert_int_equal(regs, 3);

    chain c = chain_new();
    ULONG pages = 4 + 2 + 2;   /* 0x123+3p+77 spans 4, 2 pages, 0xFF0+0x30 spans 2 */
    char *va = MmGetMdlVirtualAddress(c.mdl);
    assert_int_equal(ops->CalculateScatterGatherList(a, c.mdl, va, c.total, &size, &regs),
                     STATUS_SUCCESS);
    assert_int_equal(regs, pages);
    assert_int_equal(size, dma_sg_buffer_size(pages));

    DMA_TRANSFER_INFO info = {.Version = DMA_TRANSFER_INFO_VERSION1};
    assert_int_equal(ops->GetDmaTransferInfo(a, c.mdl, 0, c.total, FALSE, &info),
                     STATUS_SUCCESS);
    assert_int_equal(info.V1.MapRegisterCount, pages);
    assert_int_equal(info.V1.ScatterGatherListSize, size);
    grant_log log = {0};
    grant_ctx g = {&log, 0};
    assert_int_equal(ops->GetScatterGatherList(a, pdo, c.mdl, va, c.total, on_list, &g, TRUE),
                     STATUS_SUCCESS);
    assert_int_equal(info.V1.ScatterGatherElementCount, log.list[0]->NumberOfElements);
    ops->PutScatterGatherList(a, log.list[0], TRUE);
    info.Version = DMA_TRANSFER_INFO_VERSION2;
    assert_int_equal(ops->GetDmaTransferInfo(a, c.mdl, 5000, 2800, TRUE, &info), STATUS_SUCCESS);
    assert_int_equal(info.V2.LogicalPageCount, 1);   /* bytes 0x123 + 5000.. in page 1 */
    assert_int_equal(info.V2.MapRegisterCount, 1);
    assert_int_equal(ops->GetDmaTransferInfo(a, c.mdl, 0, c.total + 1, TRUE, &info),
                     STATUS_INVALID_PARAMETER);
    /* More pages than the adapter has map registers: Get fails, nothing called. */
    PDMA_ADAPTER small = get_adapter(hw, bus_master(64, PAGE_SIZE), NULL);
    assert_int_equal(small->DmaOperations->GetScatterGatherList(small, pdo, c.mdl, va, c.total,
                                                                on_list, &g, TRUE),
                     STATUS_INSUFFICIENT_RESOURCES);
    assert_int_equal(log.n, 1);
    put_adapter(small);
    chain_free(&c);
    put_adapter(a);

    /* Bounced: the counts still equal what a build produces. */
    rig_close(&r);
    rig_open(&r, WDFDMA_ENGINE_SIM, WDFDMA_MEM_ABOVE4G, false);
    hw = add_device(&r, "sgdma", "sg0", NULL);
    a = get_adapter(hw, bus_master(32, 64 * 1024), NULL);
    c = chain_new();
    va = MmGetMdlVirtualAddress(c.mdl);
    info.Version = DMA_TRANSFER_INFO_VERSION1;
    assert_int_equal(a->DmaOperations->GetDmaTransferInfo(a, c.mdl, 0, c.total, FALSE, &info),
                     STATUS_SUCCESS);
    log.n = 0;
    assert_int_equal(a->DmaOperations->GetScatterGatherList(a, wdm_pdo_for(hw), c.mdl, va,
                                                            c.total, on_list, &g, TRUE),
                     STATUS_SUCCESS);
    assert_int_equal(info.V1.ScatterGatherElementCount, log.list[0]->NumberOfElements);
    assert_int_equal(log.list[0]->NumberOfElements, 3);   /* one per MDL: offsets break runs */
    a->DmaOperations->PutScatterGatherList(a, log.list[0], TRUE);
    chain_free(&c);
    put_adapter(a);
    rig_close(&r);
}

/* ======================================================================================
 * Common buffers
 * ==================================================================================== */
static void check_contiguous(rig *r, const void *va, PHYSICAL_ADDRESS la, ULONG len)
{
    assert_int_equal(la.QuadPart & (PAGE_SIZE - 1), 0);
    for (ULONG off = 0; off < len; off += PAGE_SIZE)
        assert_ptr_equal(mach_mem_host(r->m, (uint64_t)la.QuadPart + off), (const char *)va + off);
    for (ULONG i = 0; i < len; i++)
        assert_int_equal(((const uint8_t *)va)[i], 0);
}

static void test_common_buffers(void **state)
{
    (void)state;
    rig r;
    rig_open(&r, WDFDMA_ENGINE_SIM, WDFDMA_MEM_ABOVE4G, true);
    wdfdma_dev *hw = add_device(&r, "sgdma", "sg0", NULL);
    PDMA_ADAPTER a32 = get_adapter(hw, bus_master(32, 8192), NULL);
    PDMA_ADAPTER a24 = get_adapter(hw, bus_master(24, 8192), NULL);
    PDMA_OPERATIONS ops = a32->DmaOperations;
    PHYSICAL_ADDRESS la1, la2, la3, max;

    assert_null(ops->AllocateCommonBuffer(a32, 0, &la1, TRUE));
    void *b1 = ops->AllocateCommonBuffer(a32, 5 * PAGE_SIZE + 1, &la1, TRUE);
    assert_non_null(b1);
    assert_true((uint64_t)la1.QuadPart + 6 * PAGE_SIZE <= FOUR_G);
    check_contiguous(&r, b1, la1, 5 * PAGE_SIZE + 1);
    void *b2 = a24->DmaOperations->AllocateCommonBuffer(a24, 3 * PAGE_SIZE, &la2, FALSE);
    assert_non_null(b2);
    assert_true((uint64_t)la2.QuadPart + 3 * PAGE_SIZE <= (1ull << 24));
    max.QuadPart = (32ll << 20) - 1;
    void *b3 = ops->AllocateCommonBufferEx(a32, &max, 2 * PAGE_SIZE, &la3, TRUE, 0);
    assert_non_null(b3);
    assert_true((uint64_t)la3.QuadPart + 2 * PAGE_SIZE <= (32ull << 20));
    check_contiguous(&r, b3, la3, 2 * PAGE_SIZE);
    /* The device reaches its common buffers; a byte past one is a fault (verifier on). */
    uint8_t v = 0x5A;
    assert_int_equal(wdfdma_dev_dma_write(hw, (uint64_t)la1.QuadPart + 5 * PAGE_SIZE, &v, 1),
                     WDFDMA_DMA_OK);
    assert_int_equal(((uint8_t *)b1)[5 * PAGE_SIZE], 0x5A);
    /* Just past a buffer (the buffers may be neighbours: pick an end nobody covers). */
    const uint64_t starts[3] = {(uint64_t)la1.QuadPart, (uint64_t)la2.QuadPart,
                                (uint64_t)la3.QuadPart};
    const uint64_t ends[3] = {starts[0] + 5 * PAGE_SIZE + 1, starts[1] + 3 * PAGE_SIZE,
                              starts[2] + 2 * PAGE_SIZE};
    uint64_t outside = 0;
    for (int i = 0; i < 3 && outside == 0; i++) {
        bool covered = false;
        for (int k = 0; k < 3; k++)
            covered |= ends[i] >= starts[k] && ends[i] < ends[k];
        if (!covered)
            outside = ends[i];
    }
    assert_int_not_equal(outside, 0);
    assert_int_equal(wdfdma_dev_dma_write(hw, outside, &v, 1), WDFDMA_DMA_FAULT);
    r.findings_expected++;
    wdfdma_dma_stats st;
    wdfdma_dma_get_stats(r.m, &st);
    assert_int_equal(st.common_buffers_live, 3);

    ops->FreeCommonBuffer(a32, 5 * PAGE_SIZE + 1, la1, b1, TRUE);
    ops->FreeCommonBuffer(a32, 2 * PAGE_SIZE, la3, b3, TRUE);
    /* Freed twice: bug check 0xE6 / 0x03. */
    TRAP(&r, ops->FreeCommonBuffer(a32, 2 * PAGE_SIZE, la3, b3, TRUE));
    assert_int_equal(r.bugchecks, 1);
    assert_int_equal(r.bc.code, DRIVER_VERIFIER_DMA_VIOLATION);
    assert_int_equal(r.bc.p[0], DMA_BC_COMMON_BUFFER_FREE);
    /* PutDmaAdapter with a buffer outstanding, verifier on: 0xE6 / 0x07. */
    TRAP(&r, put_adapter(a24));
    assert_int_equal(r.bugchecks, 2);
    assert_int_equal(r.bc.p[0], DMA_BC_PUT_COMMON_BUFFERS);
    a24->DmaOperations->FreeCommonBuffer(a24, 3 * PAGE_SIZE, la2, b2, FALSE);
    put_adapter(a24);
    put_adapter(a32);
    rig_close(&r);
}

/* ======================================================================================
 * System DMA: sdmac + uart / ring
 * ==================================================================================== */
typedef struct done_log {
    _Atomic int complete, error, cancelled;
    KIRQL irql;
} done_log;

static VOID on_dma_done(PDMA_ADAPTER adapter, PDEVICE_OBJECT dev, PVOID context,
                        DMA_COMPLETION_STATUS status)
{
    done_log *d = context;
    (void)adapter;
    (void)dev;
    d->irql = mach_irql();
    if (status == DmaComplete)
        atomic_fetch_add(&d->complete, 1);
    else if (status == DmaError)
        atomic_fetch_add(&d->error, 1);
    else if (status == DmaCancelled)
        atomic_fetch_add(&d->cancelled, 1);
}

typedef struct sysdev {
    wdfdma_dev *ctrl, *periph;
    volatile uint8_t *regs;             /* the peripheral's registers */
    uint64_t mmio;
} sysdev;

static DEVICE_DESCRIPTION system_desc(const wdfdma_resource *res, uint64_t device_address,
                                      DMA_WIDTH width, bool demand, bool looped, unsigned bits)
{
    DEVICE_DESCRIPTION d;
    memset(&d, 0, sizeof(d));
    d.Version = DEVICE_DESCRIPTION_VERSION3;
    d.Master = FALSE;
    d.DemandMode = demand;
    d.AutoInitialize = looped;
    d.DmaChannel = res->dma_channel;
    d.DmaRequestLine = res->dma_request_line;
    d.DmaWidth = width;
    d.DeviceAddress.QuadPart = (LONGLONG)device_address;
    d.MaximumLength = 16 * PAGE_SIZE;
    d.DmaAddressWidth = bits;
    d.InterfaceType = Internal;
    return d;
}

static void sysdev_open(sysdev *s, rig *r, const char *model, const char *opts)
{
    s->ctrl = add_device(r, "sdmac", "dma0", NULL);
    s->periph = add_device(r, model, "p0", opts);
    s->mmio = resource(s->periph, WDFDMA_RES_MMIO, 0)->start;
    s->regs = mach_mmio_map(r->m, s->mmio, 4096);
    assert_non_null(s->regs);
}

static void sysdev_close(sysdev *s, rig *r)
{
    mach_mmio_unmap(r->m, (void *)s->regs, 4096);
}

typedef struct sys_chan {
    PDMA_ADAPTER a;
    UCHAR xfer[DMA_TRANSFER_CONTEXT_SIZE_V1];
    PVOID base;
    ULONG nregs;
} sys_chan;

static void sys_chan_open(sys_chan *c, wdfdma_dev *periph, DEVICE_DESCRIPTION d)
{
    memset(c, 0, sizeof(*c));
    c->a = get_adapter(periph, d, &c->nregs);
    PDMA_OPERATIONS ops = c->a->DmaOperations;
    ops->InitializeDmaTransferContext(c->a, c->xfer);
    grant_log log = {.action = KeepObject};
    grant_ctx g = {&log, 0};
    assert_int_equal(ops->AllocateAdapterChannelEx(c->a, wdm_pdo_for(periph), c->xfer, c->nregs,
                                                   0, on_channel, &g, NULL), STATUS_SUCCESS);
    assert_int_equal(log.n, 1);
    c->base = log.base[0];
}

static void sys_chan_close(sys_chan *c)
{
    c->a->DmaOperations->FreeAdapterChannel(c->a);
    put_adapter(c->a);
}

static bool all_done(void *ctx)
{
    done_log **d = ctx;
    return atomic_load(&d[0]->complete) + atomic_load(&d[0]->error) +
               atomic_load(&d[0]->cancelled) > 0 &&
           atomic_load(&d[1]->complete) + atomic_load(&d[1]->error) +
               atomic_load(&d[1]->cancelled) > 0;
}

/* A uart in loopback: TX from one buffer, RX into another, demand mode, both through
 * system adapters; on above-4G memory with a 32-bit controller both directions bounce. */
static void uart_loopback(wdfdma_mem_policy memory, bool expect_bounce)
{
    rig r;
    rig_open(&r, WDFDMA_ENGINE_SIM, memory, true);
    sysdev s;
    sysdev_open(&s, &r, "uart", "fifo=16,baud=921600");
    const wdfdma_resource *tx = resource(s.periph, WDFDMA_RES_DMA, UART_DMA_TX);
    const wdfdma_resource *rx = resource(s.periph, WDFDMA_RES_DMA, UART_DMA_RX);
    uint64_t data = s.mmio + UART_REG_DATA;
    sys_chan ct, cr;
    sys_chan_open(&ct, s.periph, system_desc(tx, data, Width8Bits, true, false, 32));
    sys_chan_open(&cr, s.periph, system_desc(rx, data, Width8Bits, true, false, 32));
    const ULONG len = 3000;
    hbuf src = hbuf_new(0x55, len), dst = hbuf_new(0x200, len);
    fill(src.va, len, 7);
    memset(dst.va, 0, len);
    PMDL msrc = mdl_new(src.va, len), mdst = mdl_new(dst.va, len);
    done_log dt = {0}, dr = {0};

    UCHAR one[sizeof(SCATTER_GATHER_LIST) + sizeof(SCATTER_GATHER_ELEMENT)]
        __attribute__((aligned(16)));
    PSCATTER_GATHER_LIST sg = (PSCATTER_GATHER_LIST)(void *)one;
    ULONG got = len;
    assert_int_equal(cr.a->DmaOperations->MapTransferEx(cr.a, mdst, cr.base, 0, 0, &got, FALSE,
                                                        sg, sizeof(one), on_dma_done, &dr),
                     STATUS_SUCCESS);
    assert_int_equal(got, len);   /* bounced (consecutive registers) or contiguous */
    assert_int_equal(((uint64_t)sg->Elements[0].Address.QuadPart < FOUR_G), true);
    got = len;
    assert_int_equal(ct.a->DmaOperations->MapTransferEx(ct.a, msrc, ct.base, 0, 0, &got, TRUE,
                                                        NULL, 0, on_dma_done, &dt),
                     STATUS_SUCCESS);
    assert_int_equal(got, len);
    /* Demand mode: nothing moves until the peripheral asks. */
    assert_int_equal(ct.a->DmaOperations->ReadDmaCounter(ct.a), len);
    mach_mmio_write(s.regs + UART_REG_CONTROL, 4,
                    mach_mmio_read(s.regs + UART_REG_CONTROL, 4) | UART_CTL_TX_DMA |
                        UART_CTL_RX_DMA);
    /* Part way: a residue strictly between 0 and the length. */
    wdfdma_machine_run_until(r.m, wdfdma_machine_now(r.m) + 10000000ull);
    ULONG residue = cr.a->DmaOperations->ReadDmaCounter(cr.a);
    assert_true(residue > 0 && residue < len);
    done_log *both[2] = {&dt, &dr};
    assert_true(mach_wait(r.m, all_done, both, -1));
    assert_int_equal(dt.complete, 1);
    assert_int_equal(dr.complete, 1);
    assert_int_equal(dr.irql, DISPATCH_LEVEL);
    assert_int_equal(cr.a->DmaOperations->ReadDmaCounter(cr.a), 0);
    /* Reads reach the buffer at the flush when bounced. */
    assert_int_equal(dst.va[0] == enc(0, 7), !expect_bounce);
    assert_int_equal(cr.a->DmaOperations->FlushAdapterBuffersEx(cr.a, mdst, cr.base, 0, len,
                                                                FALSE), STATUS_SUCCESS);
    assert_int_equal(ct.a->DmaOperations->FlushAdapterBuffersEx(ct.a, msrc, ct.base, 0, len,
                                                                TRUE), STATUS_SUCCESS);
    check_pattern(dst.va, len, 7);
    check_guard(&dst);
    wdfdma_dma_stats st;
    wdfdma_dma_get_stats(r.m, &st);
    assert_int_equal(st.bounced_bytes, expect_bounce ? 2ull * len : 0);
    assert_int_equal(st.system_transfers, 2);

    mdl_free(msrc);
    mdl_free(mdst);
    hbuf_free(&src);
    hbuf_free(&dst);
    sys_chan_close(&ct);
    sys_chan_close(&cr);
    sysdev_close(&s, &r);
    rig_close(&r);
}

static void test_system_loopback(void **state)
{
    (void)state;
    uart_loopback(WDFDMA_MEM_ABOVE4G, true);
    uart_loopback(WDFDMA_MEM_BELOW4G, false);
}

/* One channel per adapter; cancel; configure; shortened mappings. */
static void test_system_channel(void **state)
{
    (void)state;
    rig r;
    rig_open(&r, WDFDMA_ENGINE_SIM, WDFDMA_MEM_SCATTERED, false);
    sysdev s;
    sysdev_open(&s, &r, "uart", "fifo=16,baud=9600");
    const wdfdma_resource *rx = resource(s.periph, WDFDMA_RES_DMA, UART_DMA_RX);
    PDEVICE_OBJECT pdo = wdm_pdo_for(s.periph);
    sys_chan c;
    sys_chan_open(&c, s.periph,
                  system_desc(rx, s.mmio + UART_REG_DATA, Width8Bits, true, false, 64));
    PDMA_OPERATIONS ops = c.a->DmaOperations;
    DMA_ADAPTER_INFO ai = {.Version = DMA_ADAPTER_INFO_VERSION1};
    assert_int_equal(ops->GetDmaAdapterInfo(c.a, &ai), STATUS_SUCCESS);
    assert_int_equal(ai.V1.ReadDmaCounterAvailable, TRUE);
    assert_int_equal(ai.V1.ScatterGatherLimit, 1);

    /* A second allocation waits for the one channel; cancellable only while it waits. */
    UCHAR x2[DMA_TRANSFER_CONTEXT_SIZE_V1], x3[DMA_TRANSFER_CONTEXT_SIZE_V1];
    ops->InitializeDmaTransferContext(c.a, x2);
    ops->InitializeDmaTransferContext(c.a, x3);
    grant_log log = {.action = KeepObject};
    grant_ctx g2 = {&log, 2}, g3 = {&log, 3};
    assert_int_equal(ops->AllocateAdapterChannelEx(c.a, pdo, x2, 1, 0, on_channel, &g2, NULL),
                     STATUS_SUCCESS);
    assert_int_equal(ops->AllocateAdapterChannelEx(c.a, pdo, x3, 0, DMA_SYNCHRONOUS_CALLBACK,
                                                   on_channel, &g3, NULL),
                     STATUS_INSUFFICIENT_RESOURCES);
    assert_int_equal(log.n, 0);
    assert_false(ops->CancelAdapterChannel(c.a, pdo, c.xfer));

    /* Configure forwards to the controller; unknown functions are not supported. */
    ULONG prio = 3, burst = 0;
    assert_int_equal(ops->ConfigureAdapterChannel(c.a, SDMAC_FN_PRIORITY, &prio), STATUS_SUCCESS);
    uint32_t state_reg = (uint32_t)wdfdma_dev_peer_read(
        s.ctrl, 0, SDMAC_REG_CHAN_BASE + rx->dma_channel * SDMAC_REG_CHAN_STRIDE + SDMAC_CH_STATE,
        4);
    assert_int_equal((state_reg >> 12) & 3u, 3);
    assert_int_equal(ops->ConfigureAdapterChannel(c.a, 99, NULL), STATUS_NOT_SUPPORTED);
    assert_int_equal(ops->ConfigureAdapterChannel(c.a, SDMAC_FN_BURST, &burst),
                     STATUS_INVALID_PARAMETER);

    /* Scattered frames a 64-bit controller reaches directly: the mapping stops at the
     * first discontinuity and reports the shorter length. */
    const ULONG len = 3 * PAGE_SIZE;
    hbuf b = hbuf_new(0, len);
    PMDL mdl = mdl_new(b.va, len);
    PFN_NUMBER *pfn = MmGetMdlPfnArray(mdl);
    ULONG run = PAGE_SIZE;
    while (run < len && pfn[run / PAGE_SIZE] == pfn[run / PAGE_SIZE - 1] + 1)
        run += PAGE_SIZE;
    done_log d = {0};
    ULONG got = len;
    assert_int_equal(ops->MapTransferEx(c.a, mdl, c.base, 0, 0, &got, FALSE, NULL, 0,
                                        on_dma_done, &d), STATUS_SUCCESS);
    assert_int_equal(got, run);
    /* Nothing arrives (RX requests are off): cancel → DmaCancelled, residue kept. */
    wdfdma_machine_run_until(r.m, wdfdma_machine_now(r.m) + 1000000ull);
    assert_int_equal(ops->ReadDmaCounter(c.a), got);
    /* Only the channel's holder may cancel; twice before a flush is refused. */
    assert_int_equal(ops->CancelMappedTransfer(c.a, x2), STATUS_INVALID_PARAMETER);
    assert_int_equal(ops->CancelMappedTransfer(c.a, c.xfer), STATUS_SUCCESS);
    assert_int_equal(ops->CancelMappedTransfer(c.a, c.xfer), STATUS_UNSUCCESSFUL);
    assert_int_equal(d.cancelled, 0);   /* delivered later, from a DPC */
    wdfdma_machine_run(r.m);
    assert_int_equal(d.cancelled, 1);
    assert_int_equal(d.complete, 0);
    assert_int_equal(ops->ReadDmaCounter(c.a), got);
    /* Cancelled and not yet flushed: no new transfer. */
    ULONG again = len;
    assert_int_equal(ops->MapTransferEx(c.a, mdl, c.base, 0, 0, &again, FALSE, NULL, 0,
                                        on_dma_done, &d), STATUS_CANCELLED);
    assert_int_equal(ops->FlushAdapterBuffersEx(c.a, mdl, c.base, 0, got, FALSE), STATUS_SUCCESS);

    /* Freeing the channel grants the waiter. */
    ops->FreeAdapterChannel(c.a);
    assert_int_equal(log.n, 1);
    assert_int_equal(log.order[0], 2);
    mdl_free(mdl);
    hbuf_free(&b);
    ops->FreeAdapterChannel(c.a);   /* x2's KeepObject grant */
    put_adapter(c.a);
    sysdev_close(&s, &r);
    rig_close(&r);
}

/* Looped (auto-initialize) playback: one DmaComplete per wrap until cancelled. */
static void test_system_looped(void **state)
{
    (void)state;
    rig r;
    rig_open(&r, WDFDMA_ENGINE_SIM, WDFDMA_MEM_ABOVE4G, true);
    sysdev s;
    sysdev_open(&s, &r, "ring", "dir=playback,rate=48000,frame=4,fifo=64,thresh=16");
    const wdfdma_resource *res = resource(s.periph, WDFDMA_RES_DMA, 0);
    sys_chan c;
    sys_chan_open(&c, s.periph,
                  system_desc(res, s.mmio + RING_REG_DATA, Width32Bits, true, true, 32));
    PDMA_OPERATIONS ops = c.a->DmaOperations;
    ULONG burst = 4;
    assert_int_equal(ops->ConfigureAdapterChannel(c.a, SDMAC_FN_BURST, &burst), STATUS_SUCCESS);
    const ULONG len = 1024;
    PHYSICAL_ADDRESS la;
    uint8_t *ringbuf = ops->AllocateCommonBuffer(c.a, len, &la, TRUE);
    assert_non_null(ringbuf);
    fill(ringbuf, len, 5);
    PMDL mdl = IoAllocateMdl(ringbuf, len, FALSE, FALSE, NULL);
    MmBuildMdlForNonPagedPool(mdl);
    done_log d = {0};
    ULONG got = len;
    assert_int_equal(ops->MapTransferEx(c.a, mdl, c.base, 0, 0, &got, TRUE, NULL, 0, on_dma_done,
                                        &d), STATUS_SUCCESS);
    assert_int_equal(got, len);
    mach_mmio_write(s.regs + RING_REG_CONTROL, 4, RING_CTL_RUN | RING_CTL_DMA);
    wdfdma_machine_run_until(r.m, wdfdma_machine_now(r.m) + 100000000ull);   /* 100 ms */
    uint32_t wraps = (uint32_t)wdfdma_dev_peer_read(
        s.ctrl, 0, SDMAC_REG_CHAN_BASE + res->dma_channel * SDMAC_REG_CHAN_STRIDE + SDMAC_CH_WRAPS,
        4);
    assert_true(wraps >= 18);   /* 4800 frames x 4 bytes / 1024 */
    assert_int_equal(d.complete, (int)wraps);
    assert_int_equal(d.cancelled, 0);
    uint8_t rec[4096];
    long n = ring_recorded(s.periph, 0, rec, sizeof(rec));
    assert_true(n > (long)len);
    for (long i = 0; i < n; i++)
        assert_int_equal(rec[i], enc((uint64_t)i % len, 5));
    assert_int_equal(ops->CancelMappedTransfer(c.a, c.xfer), STATUS_SUCCESS);
    mach_mmio_write(s.regs + RING_REG_CONTROL, 4, 0);
    wdfdma_machine_run(r.m);
    assert_int_equal(d.cancelled, 1);
    assert_int_equal(d.complete, (int)wraps);   /* nothing after the stop */
    assert_int_equal(ops->FlushAdapterBuffersEx(c.a, mdl, c.base, 0, len, TRUE), STATUS_SUCCESS);
    IoFreeMdl(mdl);
    ops->FreeCommonBuffer(c.a, len, la, ringbuf, TRUE);
    sys_chan_close(&c);
    sysdev_close(&s, &r);
    rig_close(&r);
}

/* ======================================================================================
 * Wrong-state misuse: bug checks 0xE6
 * ==================================================================================== */
static void expect_e6(rig *r, int before, uint64_t p1)
{
    assert_int_equal(r->bugchecks, before + 1);
    assert_int_equal(r->bc.code, DRIVER_VERIFIER_DMA_VIOLATION);
    assert_int_equal(r->bc.p[0], p1);
}

static void test_misuse(void **state)
{
    (void)state;
    rig r;
    rig_open(&r, WDFDMA_ENGINE_SIM, WDFDMA_MEM_SCATTERED, true);
    wdfdma_dev *hw = add_device(&r, "sgdma", "sg0", NULL);
    PDEVICE_OBJECT pdo = wdm_pdo_for(hw);
    ULONG nregs = 0;
    PDMA_ADAPTER a = get_adapter(hw, bus_master(64, 4 * PAGE_SIZE), &nregs);
    PDMA_OPERATIONS ops = a->DmaOperations;
    hbuf b = hbuf_new(0, PAGE_SIZE);
    PMDL mdl = mdl_new(b.va, PAGE_SIZE);
    grant_log log = {.action = DeallocateObjectKeepRegisters};
    grant_ctx g = {&log, 0};
    int n = 0;

    /* An SG list put twice. */
    assert_int_equal(ops->GetScatterGatherList(a, pdo, mdl, b.va, PAGE_SIZE, on_list, &g, TRUE),
                     STATUS_SUCCESS);
    PSCATTER_GATHER_LIST list = log.list[0];
    ops->PutScatterGatherList(a, list, TRUE);
    static UCHAR sgbuf[1024] __attribute__((aligned(16)));
    assert_int_equal(ops->BuildScatterGatherList(a, pdo, mdl, b.va, PAGE_SIZE, on_list, &g, TRUE,
                                                 sgbuf, sizeof(sgbuf)), STATUS_SUCCESS);
    list = log.list[0];
    ops->PutScatterGatherList(a, list, TRUE);
    TRAP(&r, ops->PutScatterGatherList(a, list, TRUE));
    expect_e6(&r, n++, DMA_BC_SG_LIST_FREE);

    /* Map registers freed twice / a base that was never granted. */
    UCHAR x[DMA_TRANSFER_CONTEXT_SIZE_V1];
    ops->InitializeDmaTransferContext(a, x);
    assert_int_equal(ops->AllocateAdapterChannelEx(a, pdo, x, 2, 0, on_channel, &g, NULL),
                     STATUS_SUCCESS);
    PVOID volatile base = log.base[0];   /* reassigned between setjmp calls */
    ops->FreeMapRegisters(a, base, 2);
    TRAP(&r, ops->FreeMapRegisters(a, base, 2));
    expect_e6(&r, n++, DMA_BC_MAP_REGISTER_FREE);
    TRAP(&r, ops->FreeMapRegisters(a, &log, 2));
    expect_e6(&r, n++, DMA_BC_MAP_REGISTER_FREE);

    /* A channel freed that was never kept. */
    TRAP(&r, ops->FreeAdapterChannel(a));
    expect_e6(&r, n++, DMA_BC_CHANNEL_FREE);

    /* More map registers than the adapter was granted. */
    TRAP(&r, ops->AllocateAdapterChannelEx(a, pdo, x, nregs + 1, 0, on_channel, &g, NULL));
    expect_e6(&r, n++, DMA_BC_TOO_MANY_MAP_REGISTERS);

    /* Registers freed while still mapped (verifier on): not flushed. */
    assert_int_equal(ops->AllocateAdapterChannelEx(a, pdo, x, 1, 0, on_channel, &g, NULL),
                     STATUS_SUCCESS);
    base = log.base[0];
    ULONG got = PAGE_SIZE;
    ops->MapTransfer(a, mdl, base, b.va, &got, TRUE);
    assert_int_equal(got, PAGE_SIZE);
    TRAP(&r, ops->FreeMapRegisters(a, base, 1));
    expect_e6(&r, n++, DMA_BC_NOT_FLUSHED);
    /* Mapping again without a flush: the grant's one register is used up. */
    got = PAGE_SIZE;
    TRAP(&r, ops->MapTransfer(a, mdl, base, b.va, &got, TRUE));
    expect_e6(&r, n++, DMA_BC_MISC);
    assert_int_equal(r.bc.p[1], DMA_BC_MISC_OUT_OF_REGISTERS);
    assert_true(ops->FlushAdapterBuffers(a, mdl, base, b.va, PAGE_SIZE, TRUE));
    ops->FreeMapRegisters(a, base, 1);

    /* An MDL whose pages are not locked. */
    PMDL loose = IoAllocateMdl(b.va, PAGE_SIZE, FALSE, FALSE, NULL);
    TRAP(&r, ops->GetScatterGatherList(a, pdo, loose, b.va, PAGE_SIZE, on_list, &g, TRUE));
    expect_e6(&r, n++, DMA_BC_MISC);
    assert_int_equal(r.bc.p[1], DMA_BC_MISC_MDL_NOT_LOCKED);
    IoFreeMdl(loose);

    /* Not an adapter at all. */
    DMA_ADAPTER fake = {.DmaOperations = ops};
    TRAP(&r, ops->GetDmaAlignment(&fake));
    expect_e6(&r, n++, DMA_BC_BAD_ADAPTER);

    /* PutDmaAdapter with a list outstanding: 0x0A. */
    assert_int_equal(ops->GetScatterGatherList(a, pdo, mdl, b.va, PAGE_SIZE, on_list, &g, TRUE),
                     STATUS_SUCCESS);
    list = log.list[0];
    TRAP(&r, put_adapter(a));
    expect_e6(&r, n++, DMA_BC_PUT_SG_LISTS);
    ops->PutScatterGatherList(a, list, TRUE);
    mdl_free(mdl);
    hbuf_free(&b);
    put_adapter(a);
    rig_close(&r);

    /* Without the verifier a put with resources outstanding is a report and a cleanup. */
    rig_open(&r, WDFDMA_ENGINE_SIM, WDFDMA_MEM_SCATTERED, false);
    hw = add_device(&r, "sgdma", "sg0", NULL);
    a = get_adapter(hw, bus_master(32, 4 * PAGE_SIZE), NULL);
    PHYSICAL_ADDRESS la;
    assert_non_null(a->DmaOperations->AllocateCommonBuffer(a, PAGE_SIZE, &la, TRUE));
    put_adapter(a);
    r.findings_expected = 1;
    rig_close(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_adapter_basics),
        cmocka_unit_test(test_sg_scattered_chain),
        cmocka_unit_test(test_bounce_sim),
        cmocka_unit_test(test_bounce_threads),
        cmocka_unit_test(test_map_transfer_bounce),
        cmocka_unit_test(test_map_register_fifo),
        cmocka_unit_test(test_sync_and_keep),
        cmocka_unit_test(test_transfer_counts),
        cmocka_unit_test(test_common_buffers),
        cmocka_unit_test(test_system_loopback),
        cmocka_unit_test(test_system_channel),
        cmocka_unit_test(test_system_looped),
        cmocka_unit_test(test_misuse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
