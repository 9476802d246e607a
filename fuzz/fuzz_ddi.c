/*
 * libFuzzer target: WDF DMA DDI call sequences against the framework.
 *
 * A minimal KMDF driver (WDK names and DDIs only, between DRIVER BEGIN and DRIVER END)
 * is compiled in and bound to an sgdma device on a sim-engine machine. The input decodes
 * into a machine setup (profile, maximum length, DMA version, verifier, a fault plan)
 * and then a sequence of DDI calls on a small table of live handles: transactions,
 * common buffers, MDL chains over host buffers. Handles go stale (deleted), are passed
 * as the wrong type, states are visited in any order, lengths and offsets are arbitrary
 * and calls may be made at DISPATCH_LEVEL.
 *
 * The only acceptable outcomes of each call are a return value or a bug check with a
 * documented code: 0x10D WDF_VIOLATION with a documented parameter 1, 0xE6 (DMA
 * verifier), 0x0A (IRQL), 0xC2 (pool caller at the wrong IRQL). A bug check is trapped
 * with the machine's handler and longjmp, and the sequence ends there, as the machine
 * would have stopped. Afterwards the machine must come down cleanly: live transactions
 * finished and deleted, the device removed, no adapter, map register, SG list, common
 * buffer, frame or pool block left. Anything else aborts (a finding).
 *
 * Decoding: byte 0..3 set the machine up; then each operation is one opcode byte and
 * its argument bytes (missing bytes read as zero). Slots are chosen modulo the table
 * size, so short inputs reach deep states (create, initialize, execute, complete ...).
 */
#include <setjmp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wdm/wdm_internal.h"
#include <wdf.h>
#include "wdfdma/dma.h"
#include "wdfdma/faults.h"
#include "wdfdma/host.h"
#include "wdfdma/machine.h"
#include "devices/sgdma/sgdma.h"

/* ======================= DRIVER BEGIN (WDK names and DDIs only) ======================= */
static struct {
    WDF_DMA_PROFILE profile;
    size_t max_length;
    UCHAR version;
    WDFDEVICE device;
    WDFDMAENABLER enabler;
    ULONG programmed;          /* EvtProgramDma calls */
    ULONG reserved;            /* EvtReserveDma calls */
} fdrv;

static BOOLEAN FdrvProgramDma(WDFDMATRANSACTION Transaction, WDFDEVICE Device, WDFCONTEXT Context,
                              WDF_DMA_DIRECTION Direction, PSCATTER_GATHER_LIST SgList)
{
    UNREFERENCED_PARAMETER(Transaction);
    UNREFERENCED_PARAMETER(Device);
    UNREFERENCED_PARAMETER(Context);
    UNREFERENCED_PARAMETER(Direction);
    UNREFERENCED_PARAMETER(SgList);
    fdrv.programmed++;         /* the harness completes transfers itself */
    return TRUE;
}

static VOID FdrvReserveDma(WDFDMATRANSACTION Transaction, WDFCONTEXT Context)
{
    UNREFERENCED_PARAMETER(Transaction);
    UNREFERENCED_PARAMETER(Context);
    fdrv.reserved++;
}

static NTSTATUS FdrvDeviceAdd(WDFDRIVER Driver, PWDFDEVICE_INIT DeviceInit)
{
    UNREFERENCED_PARAMETER(Driver);
    PWDFDEVICE_INIT init = DeviceInit;
    NTSTATUS status = WdfDeviceCreate(&init, WDF_NO_OBJECT_ATTRIBUTES, &fdrv.device);
    if (!NT_SUCCESS(status))
        return status;
    WDF_DMA_ENABLER_CONFIG cfg;
    WDF_DMA_ENABLER_CONFIG_INIT(&cfg, fdrv.profile, fdrv.max_length);
    cfg.WdmDmaVersionOverride = fdrv.version;
    status = WdfDmaEnablerCreate(fdrv.device, &cfg, WDF_NO_OBJECT_ATTRIBUTES, &fdrv.enabler);
    if (!NT_SUCCESS(status))
        fdrv.enabler = NULL;   /* a refused configuration is an outcome, not a failure */
    return STATUS_SUCCESS;
}

static int32_t fdrv_driver_entry(void *driver_object, void *registry_path)
{
    WDF_DRIVER_CONFIG config;
    WDF_DRIVER_CONFIG_INIT(&config, FdrvDeviceAdd);
    return WdfDriverCreate((PDRIVER_OBJECT)driver_object, (PUNICODE_STRING)registry_path,
                           WDF_NO_OBJECT_ATTRIBUTES, &config, WDF_NO_HANDLE);
}
/* ======================= DRIVER END ==================================================== */

#define SLOTS 4
#define BUF_BYTES (96 * 1024)

typedef struct input {
    const uint8_t *p;
    size_t n, at;
} input;

static uint8_t u8(input *in)
{
    return in->at < in->n ? in->p[in->at++] : 0;
}
static uint32_t u16(input *in)
{
    uint32_t v = u8(in);
    return v | (uint32_t)u8(in) << 8;
}
static uint32_t u24(input *in)
{
    return u16(in) | (uint32_t)u8(in) << 16;
}

static struct {
    wdfdma_machine *m;
    jmp_buf jb;
    bool armed;
    wdfdma_bugcheck bc;
} rig;

static uint8_t host_buf[3][BUF_BYTES] __attribute__((aligned(4096)));

static void on_bugcheck(void *ctx, const wdfdma_bugcheck *bc)
{
    (void)ctx;
    if (!rig.armed) {          /* outside a trapped call: a finding; returning aborts */
        fprintf(stderr, "fuzz_ddi: bug check %#x (%#llx, %#llx, %#llx, %#llx) outside the "
                "DDI sequence: %s\n", bc->code, (unsigned long long)bc->p[0],
                (unsigned long long)bc->p[1], (unsigned long long)bc->p[2],
                (unsigned long long)bc->p[3], bc->message);
        return;
    }
    rig.bc = *bc;
    rig.armed = false;
    longjmp(rig.jb, 1);
}

/* Documented bug checks only. */
static void check_bugcheck(const wdfdma_bugcheck *bc)
{
    switch (bc->code) {
    case 0x10D:
        switch (bc->p[0]) {
        case 0x3: case 0x4: case 0x5: case 0x6: case 0x7: case 0x8: case 0xE: case 0x10:
            return;
        default:
            break;
        }
        break;
    case 0xE6:
    case 0x0A:
        return;
    case 0xC2:
        if (bc->p[0] == 0x08 || bc->p[0] == 0x09)
            return;
        break;
    default:
        break;
    }
    fprintf(stderr, "fuzz_ddi: undocumented bug check %#x (%#llx, %#llx, %#llx, %#llx): %s\n",
            bc->code, (unsigned long long)bc->p[0], (unsigned long long)bc->p[1],
            (unsigned long long)bc->p[2], (unsigned long long)bc->p[3], bc->message);
    abort();
}

/* Run `stmt`; true if it bug checked (the report is in rig.bc and was checked). */
#define TRAP(stmt)                                                                         \
    ({                                                                                     \
        bool trapped_ = false;                                                             \
        rig.armed = true;                                                                  \
        if (setjmp(rig.jb) == 0) {                                                         \
            stmt;                                                                          \
            rig.armed = false;                                                             \
        } else {                                                                           \
            trapped_ = true;                                                               \
            check_bugcheck(&rig.bc);                                                       \
            if (mach_irql() != PASSIVE_LEVEL)                                              \
                mach_irql_lower(PASSIVE_LEVEL);                                            \
        }                                                                                  \
        trapped_;                                                                          \
    })

static WDFDMATRANSACTION tr[SLOTS];
static bool tr_stale[SLOTS];
static WDFCOMMONBUFFER cb[SLOTS];
static PMDL mdl[SLOTS];

static PMDL build_mdl(input *in)
{
    unsigned b = u8(in) % 3;
    uint32_t off = u16(in) % BUF_BYTES;
    uint32_t len = 1 + u24(in) % (BUF_BYTES - off);
    PMDL m = IoAllocateMdl(host_buf[b] + off, len, FALSE, FALSE, NULL);
    if (m != NULL)
        MmBuildMdlForNonPagedPool(m);
    return m;
}

static void free_mdl_chain(PMDL m)
{
    while (m != NULL) {
        PMDL next = m->Next;
        IoFreeMdl(m);
        m = next;
    }
}

/* A handle for a transaction DDI: usually the slot's, sometimes stale or another type. */
static WDFDMATRANSACTION pick_tr(input *in)
{
    uint8_t s = u8(in);
    unsigned i = s % SLOTS;
    switch (s >> 6) {
    case 3:
        if (s & 0x20)
            return (WDFDMATRANSACTION)(void *)cb[i];      /* wrong type (or NULL) */
        return (WDFDMATRANSACTION)(void *)fdrv.enabler;
    default:
        return tr[i];
    }
}

/* FUZZ_DDI_TRACE=1 prints each decoded operation: how a reproducer is read. */
static bool trace_ops(void)
{
    static int on = -1;
    if (on < 0)
        on = getenv("FUZZ_DDI_TRACE") != NULL;
    return on;
}

static void op(input *in)
{
    uint8_t code = u8(in);
    if (trace_ops())
        fprintf(stderr, "fuzz_ddi: op %u\n", code % 24);
    WDFDMATRANSACTION t;
    NTSTATUS st;
    switch (code % 24) {
    case 0: {
        unsigned i = u8(in) % SLOTS;
        if (tr[i] != NULL && !tr_stale[i])
            return;
        WDFDMATRANSACTION h = NULL;
        if (NT_SUCCESS(WdfDmaTransactionCreate(fdrv.enabler, WDF_NO_OBJECT_ATTRIBUTES, &h))) {
            tr[i] = h;
            tr_stale[i] = false;
        }
        return;
    }
    case 1:
    case 2: {
        t = pick_tr(in);
        unsigned i = u8(in) % SLOTS;
        WDF_DMA_DIRECTION dir = (WDF_DMA_DIRECTION)(u8(in) & 1);
        uint32_t off = u24(in), len = u24(in);
        if (mdl[i] == NULL)
            return;
        if (code % 24 == 1)
            (void)WdfDmaTransactionInitialize(t, FdrvProgramDma, dir, mdl[i],
                                              (char *)MmGetMdlVirtualAddress(mdl[i]) +
                                                  off % (MmGetMdlByteCount(mdl[i]) + 1),
                                              len);
        else
            (void)WdfDmaTransactionInitializeUsingOffset(t, FdrvProgramDma, dir, mdl[i], off, len);
        return;
    }
    case 3:
        t = pick_tr(in);
        (void)WdfDmaTransactionExecute(t, NULL);
        return;
    case 4:
        t = pick_tr(in);
        (void)WdfDmaTransactionDmaCompleted(t, &st);
        return;
    case 5:
        t = pick_tr(in);
        (void)WdfDmaTransactionDmaCompletedWithLength(t, u24(in), &st);
        return;
    case 6:
        t = pick_tr(in);
        (void)WdfDmaTransactionDmaCompletedFinal(t, u24(in), &st);
        return;
    case 7:
        t = pick_tr(in);
        (void)WdfDmaTransactionRelease(t);
        return;
    case 8: {
        unsigned i = u8(in) % SLOTS;
        if (tr[i] == NULL || tr_stale[i])
            return;
        tr_stale[i] = true;    /* even if the delete bug checks: never use it again */
        WdfObjectDelete(tr[i]);
        return;
    }
    case 9:
        t = pick_tr(in);
        WdfDmaTransactionSetMaximumLength(t, u24(in));
        return;
    case 10:
        t = pick_tr(in);
        (void)WdfDmaTransactionGetBytesTransferred(t);
        (void)WdfDmaTransactionGetCurrentDmaTransferLength(t);
        (void)WdfDmaTransactionGetRequest(t);
        (void)WdfDmaTransactionGetDevice(t);
        return;
    case 11: {
        unsigned i = u8(in) % SLOTS;
        size_t len = u24(in);
        if (cb[i] != NULL)
            return;
        WDFCOMMONBUFFER h = NULL;
        if (u8(in) & 1) {
            WDF_COMMON_BUFFER_CONFIG c;
            WDF_COMMON_BUFFER_CONFIG_INIT(&c, (1u << (u8(in) % 14)) - 1);
            st = WdfCommonBufferCreateWithConfig(fdrv.enabler, len, &c, WDF_NO_OBJECT_ATTRIBUTES, &h);
        } else {
            st = WdfCommonBufferCreate(fdrv.enabler, len, WDF_NO_OBJECT_ATTRIBUTES, &h);
        }
        if (NT_SUCCESS(st)) {
            cb[i] = h;
            (void)WdfCommonBufferGetAlignedVirtualAddress(h);
            (void)WdfCommonBufferGetAlignedLogicalAddress(h);
            (void)WdfCommonBufferGetLength(h);
        }
        return;
    }
    case 12: {
        unsigned i = u8(in) % SLOTS;
        if (cb[i] == NULL)
            return;
        WDFCOMMONBUFFER h = cb[i];
        cb[i] = NULL;
        WdfObjectDelete(h);
        return;
    }
    case 13: {
        t = pick_tr(in);
        ULONG mr = 0, sg = 0;
        WdfDmaTransactionGetTransferInfo(t, &mr, &sg);
        return;
    }
    case 14:
        t = pick_tr(in);
        (void)WdfDmaTransactionAllocateResources(t, (WDF_DMA_DIRECTION)(u8(in) & 1), u8(in) % 40,
                                                 FdrvReserveDma, NULL);
        return;
    case 15:
        t = pick_tr(in);
        WdfDmaTransactionFreeResources(t);
        return;
    case 16:
        t = pick_tr(in);
        (void)WdfDmaTransactionCancel(t);
        return;
    case 17:
        t = pick_tr(in);
        WdfDmaTransactionSetImmediateExecution(t, u8(in) & 1);
        return;
    case 18:
        t = pick_tr(in);
        WdfDmaTransactionSetSingleTransferRequirement(t, u8(in) & 1);
        return;
    case 19: {
        /* a new MDL, or one chained behind an existing one */
        unsigned i = u8(in) % SLOTS;
        PMDL m = build_mdl(in);
        if (m == NULL)
            return;
        if (mdl[i] == NULL) {
            mdl[i] = m;
            return;
        }
        PMDL tail = mdl[i];
        unsigned depth = 0;
        while (tail->Next != NULL && depth++ < 8)
            tail = tail->Next;
        if (tail->Next == NULL && depth < 8)
            tail->Next = m;
        else
            IoFreeMdl(m);
        return;
    }
    case 20: {
        /* the next call runs at DISPATCH_LEVEL; a bug check in it ends the sequence and
         * the trap that catches it brings the IRQL back down */
        KIRQL old;
        KeRaiseIrql(DISPATCH_LEVEL, &old);
        op(in);
        KeLowerIrql(old);
        return;
    }
    case 21:
        (void)WdfDmaEnablerGetMaximumLength(fdrv.enabler);
        (void)WdfDmaEnablerGetMaximumScatterGatherElements(fdrv.enabler);
        (void)WdfDmaEnablerGetFragmentLength(fdrv.enabler, (WDF_DMA_DIRECTION)(u8(in) % 3));
        (void)WdfDmaEnablerWdmGetDmaAdapter(fdrv.enabler, (WDF_DMA_DIRECTION)(u8(in) % 3));
        return;
    case 22:
        WdfDmaEnablerSetMaximumScatterGatherElements(fdrv.enabler, u16(in));
        return;
    default:
        (void)wdfdma_machine_run(rig.m);
        return;
    }
}

/* A bug check where the harness's own teardown expects none: report it, then abort. */
static _Noreturn void teardown_failed(const char *what, unsigned slot)
{
    fprintf(stderr, "fuzz_ddi: teardown %s of slot %u bug checked %#x (%#llx, %#llx, %#llx): "
            "%s\n", what, slot, rig.bc.code, (unsigned long long)rig.bc.p[0],
            (unsigned long long)rig.bc.p[1], (unsigned long long)rig.bc.p[2], rig.bc.message);
    abort();
}

/* Bring every transaction out of its transfer and delete it, so removal is clean. */
static void finish_all(void)
{
    for (unsigned i = 0; i < SLOTS; i++) {
        if (tr[i] == NULL || tr_stale[i])
            continue;
        NTSTATUS st;
        if (TRAP(if (WdfDmaTransactionGetCurrentDmaTransferLength(tr[i]) != 0)
                     (void)WdfDmaTransactionDmaCompletedFinal(tr[i], 0, &st)))
            teardown_failed("DmaCompletedFinal", i);   /* a current transfer is in Transfer */
        (void)wdfdma_machine_run(rig.m);
        if (TRAP((void)WdfDmaTransactionCancel(tr[i])))
            (void)0;           /* Cancel in Created/Released bug checks by design */
        if (TRAP(WdfDmaTransactionFreeResources(tr[i])))
            (void)0;           /* FreeResources in Created bug checks by design */
        if (TRAP((void)WdfDmaTransactionRelease(tr[i])))
            teardown_failed("Release", i);
        if (TRAP(WdfObjectDelete(tr[i])))
            teardown_failed("Delete", i);
        tr_stale[i] = true;
    }
}

static const WDF_DMA_PROFILE profiles[] = {
    WdfDmaProfilePacket, WdfDmaProfileScatterGather, WdfDmaProfilePacket64,
    WdfDmaProfileScatterGather64, WdfDmaProfileScatterGatherDuplex,
    WdfDmaProfileScatterGather64Duplex,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    input in = {data, size, 0};
    uint8_t setup = u8(&in);
    memset(&fdrv, 0, sizeof(fdrv));
    memset(tr, 0, sizeof(tr));
    memset(tr_stale, 0, sizeof(tr_stale));
    memset(cb, 0, sizeof(cb));
    memset(mdl, 0, sizeof(mdl));
    fdrv.profile = profiles[setup % 6];
    fdrv.max_length = ((size_t)u8(&in) + 1) * 512;
    fdrv.version = (setup & 0x40) ? 3 : 0;
    uint8_t faults = u8(&in);

    wdm_pool_stats before;
    wdm_pool_get_stats(&before);
    uint64_t mdls_before = wdm_mdl_outstanding();
    wdfdma_machine_config c;
    wdfdma_machine_config_init(&c);
    c.seed = setup;
    c.verifier = (setup & 0x80) != 0;
    c.memory = (wdfdma_mem_policy)(u8(&in) % 4);
    if (wdfdma_machine_create(&c, &rig.m) != 0)
        abort();
    wdfdma_machine_set_bugcheck_handler(rig.m, on_bugcheck, NULL);
    wdfdma_machine_set_bugcheck_quiet(rig.m, true);
    wdfdma_dev *hw;
    wdfdma_driver *drv;
    if (wdfdma_machine_add_device(rig.m, "sgdma", "sgdma0", "addr_bits=64", &hw) != 0 ||
        wdfdma_driver_register(rig.m, "fdrv", fdrv_driver_entry, &drv) != 0 ||
        wdfdma_driver_add_id(drv, SGDMA_HARDWARE_ID) != 0 || wdfdma_device_bind(hw, drv) != 0)
        abort();
    mach_enter(rig.m);
    /* Faults in the HAL and the pool reach the framework's failure paths. */
    static const char *const plans[] = {NULL, "map-exhaust:p=0.2", "pool-fail:p=0.02",
                                        "cb-fail:p=0.5"};
    if (plans[faults % 4] != NULL) {
        wdfdma_fault_plan *p = NULL;
        if (wdfdma_fault_plan_parse(plans[faults % 4], &p) != 0 ||
            wdfdma_machine_set_fault_plan(rig.m, p) != 0)
            abort();
        wdfdma_fault_plan_free(p);
    }
    bool bugchecked = false;
    if (fdrv.enabler != NULL) {
        for (unsigned steps = 0; in.at < in.n && steps < 256 && !bugchecked; steps++)
            bugchecked = TRAP(op(&in));   /* a bug check stops the machine's story here */
    }
    /* Teardown: no faults, every object finished, the device removed, nothing left. */
    (void)wdfdma_machine_set_fault_plan(rig.m, NULL);
    if (mach_irql() != PASSIVE_LEVEL)
        mach_irql_lower(PASSIVE_LEVEL);
    if (bugchecked) {
        /* After a bug check the machine is dead, as on Windows: what the bug check
         * interrupted (an object half deleted, a transfer half staged) keeps what it held,
         * and tearing it down may bug check again (the verifier finds those resources).
         * Tear it down best-effort; if that bug checks too, the dead machine is abandoned
         * (the smoke run turns leak detection off for this reason). */
        /* The MDLs go after the device: removing it disposes of its transactions, and
         * putting one's SG list can grant another's request still queued in the HAL,
         * which walks that transaction's MDL chain (freed first, that walk read freed
         * memory: a harness bug, found by a longer run). They go before the machine,
         * whose frames they hold. */
        bool removed = !TRAP((void)wdfdma_device_remove(hw));
        for (unsigned i = 0; i < SLOTS; i++)
            (void)TRAP(free_mdl_chain(mdl[i]));
        if (removed)
            (void)TRAP(wdfdma_machine_destroy(rig.m));
        rig.m = NULL;
        return 0;
    }
    finish_all();
    for (unsigned i = 0; i < SLOTS; i++)
        if (cb[i] != NULL && TRAP(WdfObjectDelete(cb[i])))
            teardown_failed("common buffer Delete", i);
    (void)wdfdma_machine_run(rig.m);
    rig.armed = false;
    if (wdfdma_device_remove(hw) != 0)
        abort();
    for (unsigned i = 0; i < SLOTS; i++)
        free_mdl_chain(mdl[i]);
    wdfdma_dma_stats ds;
    wdfdma_machine_stats ms;
    if (wdfdma_dma_get_stats(rig.m, &ds) != 0)
        abort();
    wdfdma_machine_get_stats(rig.m, &ms);
    if ((ds.adapters || ds.map_registers_in_use || ds.sg_lists_live || ds.common_buffers_live ||
        ms.frames_in_use)) {
        fprintf(stderr, "fuzz_ddi: not clean after remove: adapters %llu, map registers %llu, "
                "SG lists %llu, common buffers %llu, frames %llu\n",
                (unsigned long long)ds.adapters, (unsigned long long)ds.map_registers_in_use,
                (unsigned long long)ds.sg_lists_live,
                (unsigned long long)ds.common_buffers_live, (unsigned long long)ms.frames_in_use);
        abort();
    }
    wdfdma_machine_destroy(rig.m);
    rig.m = NULL;
    wdm_pool_stats after;
    wdm_pool_get_stats(&after);
    if (after.outstanding != before.outstanding || wdm_mdl_outstanding() != mdls_before) {
        fprintf(stderr, "fuzz_ddi: leak: pool %lld, MDLs %lld\n",
                (long long)(after.outstanding - before.outstanding),
                (long long)(wdm_mdl_outstanding() - mdls_before));
        abort();
    }
    return 0;
}
