/*
 * Shared by the tests/test_fx_dma_*.c programs: a machine with one sgdma device bound to
 * a small bus-master test driver compiled into the test, bug-check traps, encoded
 * buffers with guard bands and the leak check every test ends with.
 *
 * The test driver ("tdrv", the part between DRIVER BEGIN and DRIVER END) is written with
 * WDK names and DDIs only, as a real driver; it mirrors the sgdma data sheet
 * (devices/sgdma/sgdma.h) for registers and the 64-bit descriptor layout. It creates in
 * EvtDriverDeviceAdd: a manual default queue, an interrupt, one enabler (configured by
 * tdrv.cfg), one transaction per direction and a descriptor ring per channel. It exposes
 * all of them through the global `tdrv`, so a test (host thread, PASSIVE_LEVEL after
 * mach_enter) calls the DMA DDIs directly. EvtProgramDma records every transfer it sees
 * (offset, length, elements, and how deeply it is nested inside Execute/DmaCompleted);
 * in hardware mode it also writes the descriptors and rings the doorbell, and the DPC
 * reports the transfer with DmaCompleted / WithLength (residue) / Final (error), as the
 * sample driver does. In manual mode the test calls DmaCompleted* itself.
 */
#ifndef WDFDMA_FX_DMA_TESTUTIL_H
#define WDFDMA_FX_DMA_TESTUTIL_H

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "fx/dma.h"
#include "wdm/wdm_internal.h"
#include "wdfdma/host.h"
#include "wdfdma/io.h"
#include "wdfdma/dma.h"
#include "wdfdma/framework.h"
#include "wdfdma/registry.h"
#include "wdfdma/devmodel.h"
#include "devices/sgdma/sgdma.h"
#include "dma_buf.h"
#include "dma_trap.h"
#include "dma_wait.h"

#define TDU_CANARY DMA_BUF_CANARY
#define TDU_GUARD DMA_BUF_GUARD
#define TDU_RING_BYTES (2u * PAGE_SIZE)
#define TDU_RING_ENTRIES (TDU_RING_BYTES / sizeof(sgdma_desc64))
#define TDU_MAX_RECORDS 256u
#define TDU_MAX_ELEMS 8u

/* ======================= DRIVER BEGIN (WDK names and DDIs only) ======================= */

typedef struct tdrv_record {
    size_t offset;                  /* GetBytesTransferred inside EvtProgramDma */
    size_t length;                  /* GetCurrentDmaTransferLength */
    size_t sg_bytes;                /* sum of the element lengths */
    ULONG elements;
    WDF_DMA_DIRECTION direction;
    int in_execute, in_completed;   /* nesting depth at the time of the call */
    KIRQL irql;
    WDFDMATRANSACTION transaction;
    ULONG64 addr[TDU_MAX_ELEMS];
    ULONG len[TDU_MAX_ELEMS];
} tdrv_record;

typedef struct tdrv_chan {
    ULONG index;                    /* sgdma channel: 0 to device, 1 from device */
    WDFDMATRANSACTION active;       /* the transaction whose transfer runs on it */
    WDFREQUEST request;             /* completed by the DPC when the transaction ends */
    ULONG dev_base;                 /* device-memory offset of byte 0 of the transaction */
    WDFCOMMONBUFFER ring;
    PUCHAR ring_va;
    PHYSICAL_ADDRESS ring_la;
    ULONG in_use;                   /* descriptors of the running transfer */
    volatile LONG busy;
    /* results of the last finished transaction */
    volatile LONG finished;         /* count of transactions the DPC finished */
    volatile LONG completions;      /* DmaCompleted* calls the DPC made */
    NTSTATUS final_status;          /* the framework's status */
    size_t final_bytes;
    bool last_error;                /* the device reported an error */
} tdrv_chan;

typedef struct tdrv_cfg {
    bool no_enabler;                /* DeviceAdd creates no enabler / transactions */
    WDF_DMA_PROFILE profile;
    size_t max_length;
    ULONG flags, address_width, version;
    ULONG max_sg;                   /* 0: leave the default */
    bool power_callbacks;
    NTSTATUS fail_fill, fail_enable, fail_smio_start, fail_smio_stop, fail_disable, fail_flush;
    bool hw;                        /* EvtProgramDma programs the device */
} tdrv_cfg;

typedef struct tdrv_state {
    tdrv_cfg cfg;
    WDFDEVICE device;
    WDFQUEUE queue;
    WDFINTERRUPT interrupt;
    WDFDMAENABLER enabler;
    NTSTATUS enabler_status;
    WDFDMATRANSACTION tr[2];        /* [WDF_DMA_DIRECTION] */
    PUCHAR regs;
    SIZE_T regs_len;
    tdrv_chan chan[2];              /* [sgdma channel] */
    ULONG saved_int;
    volatile LONG in_execute, in_completed;
    volatile LONG program_calls, reserve_calls;
    tdrv_record rec[TDU_MAX_RECORDS];
    /* called at the end of EvtProgramDma (after recording) if set */
    void (*program_hook)(WDFDMATRANSACTION t, WDF_DMA_DIRECTION dir, PSCATTER_GATHER_LIST sg);
    WDFDMATRANSACTION reserved_tr;
    PVOID reserve_ctx;
} tdrv_state;

static tdrv_state tdrv;

static inline ULONG tdrv_ch(WDF_DMA_DIRECTION dir)
{
    return dir == WdfDmaDirectionReadFromDevice ? SGDMA_CH_FROM_DEVICE : SGDMA_CH_TO_DEVICE;
}

static inline void tdrv_wr(ULONG off, ULONG v)
{
    WRITE_REGISTER_ULONG((volatile ULONG *)(tdrv.regs + off), v);
}

static inline ULONG tdrv_rd(ULONG off)
{
    return READ_REGISTER_ULONG((volatile ULONG *)(tdrv.regs + off));
}

static void tdrv_program_hw(tdrv_chan *c, WDF_DMA_DIRECTION dir, size_t offset,
                            PSCATTER_GATHER_LIST sg)
{
    ULONG dev = c->dev_base + (ULONG)offset;
    assert_true(sg->NumberOfElements <= TDU_RING_ENTRIES);
    for (ULONG i = 0; i < sg->NumberOfElements; i++) {
        volatile sgdma_desc64 *d = (volatile sgdma_desc64 *)c->ring_va + i;
        d->host_addr = (ULONG64)sg->Elements[i].Address.QuadPart;
        d->next = (ULONG64)c->ring_la.QuadPart + (i + 1) * sizeof(sgdma_desc64);
        d->length = sg->Elements[i].Length;
        d->dev_offset = dev;
        d->flags = (dir == WdfDmaDirectionReadFromDevice ? SGDMA_DESC_FROM_DEVICE : 0) |
                   (i + 1 == sg->NumberOfElements ? SGDMA_DESC_LAST | SGDMA_DESC_INTERRUPT : 0);
        d->status = 0;
        dev += sg->Elements[i].Length;
    }
    c->in_use = sg->NumberOfElements;
    KeMemoryBarrier();
    WdfInterruptAcquireLock(tdrv.interrupt);
    c->busy = 1;
    tdrv_wr(SGDMA_CH_BASE(c->index) + SGDMA_CH_DESC_LO, c->ring_la.LowPart);
    tdrv_wr(SGDMA_CH_BASE(c->index) + SGDMA_CH_DESC_HI, (ULONG)c->ring_la.HighPart);
    tdrv_wr(SGDMA_CH_BASE(c->index) + SGDMA_CH_CTRL,
            SGDMA_CTRL_START | SGDMA_CTRL_IE | SGDMA_CTRL_DESC64);
    WdfInterruptReleaseLock(tdrv.interrupt);
}

static BOOLEAN TdrvEvtProgramDma(WDFDMATRANSACTION Transaction, WDFDEVICE Device,
                                 WDFCONTEXT Context, WDF_DMA_DIRECTION Direction,
                                 PSCATTER_GATHER_LIST SgList)
{
    UNREFERENCED_PARAMETER(Device);
    tdrv_chan *c = Context;
    LONG n = InterlockedIncrement(&tdrv.program_calls) - 1;
    size_t offset = WdfDmaTransactionGetBytesTransferred(Transaction);
    if ((ULONG)n < TDU_MAX_RECORDS) {
        tdrv_record *r = &tdrv.rec[n];
        r->offset = offset;
        r->length = WdfDmaTransactionGetCurrentDmaTransferLength(Transaction);
        r->elements = SgList->NumberOfElements;
        r->direction = Direction;
        /* Atomic reads: the host thread moves these while callbacks run on processors. */
        r->in_execute = InterlockedCompareExchange(&tdrv.in_execute, 0, 0);
        r->in_completed = InterlockedCompareExchange(&tdrv.in_completed, 0, 0);
        r->irql = KeGetCurrentIrql();
        r->transaction = Transaction;
        r->sg_bytes = 0;
        for (ULONG i = 0; i < SgList->NumberOfElements; i++) {
            r->sg_bytes += SgList->Elements[i].Length;
            if (i < TDU_MAX_ELEMS) {
                r->addr[i] = (ULONG64)SgList->Elements[i].Address.QuadPart;
                r->len[i] = SgList->Elements[i].Length;
            }
        }
    }
    /* The context is a channel only when the rig drives the hardware; other tests pass
     * their own context (it is the driver's to interpret). */
    if (c != NULL && tdrv.cfg.hw) {
        c->active = Transaction;
        tdrv_program_hw(c, Direction, offset, SgList);
    }
    if (tdrv.program_hook != NULL)
        tdrv.program_hook(Transaction, Direction, SgList);
    return TRUE;
}

static inline VOID TdrvEvtReserveDma(WDFDMATRANSACTION Transaction, PVOID Context)
{
    tdrv.reserved_tr = Transaction;
    tdrv.reserve_ctx = Context;
    InterlockedIncrement(&tdrv.reserve_calls);
}

static BOOLEAN TdrvEvtIsr(WDFINTERRUPT Interrupt, ULONG MessageID)
{
    UNREFERENCED_PARAMETER(MessageID);
    ULONG status = tdrv_rd(SGDMA_REG_INT_STATUS);
    if (status == 0xFFFFFFFFu)
        return FALSE;
    status &= SGDMA_INT_ALL;
    if (status == 0)
        return FALSE;
    tdrv_wr(SGDMA_REG_INT_STATUS, status);
    tdrv.saved_int |= status;
    WdfInterruptQueueDpcForIsr(Interrupt);
    return TRUE;
}

/* Bytes the device moved for the running transfer; *error if a descriptor failed. */
static size_t tdrv_moved(tdrv_chan *c, size_t length, bool *error)
{
    size_t residue = 0;
    *error = false;
    for (ULONG i = 0; i < c->in_use; i++) {
        volatile sgdma_desc64 *d = (volatile sgdma_desc64 *)c->ring_va + i;
        ULONG st = d->status;
        if (!(st & SGDMA_DS_DONE)) {
            residue += d->length;
            continue;
        }
        if (st & SGDMA_DS_ERROR)
            *error = true;
        residue += st & SGDMA_DS_RESIDUE_MASK;
    }
    return residue > length ? 0 : length - residue;
}

/* One transfer ended on channel c: report it the way the sample driver does. */
static void tdrv_channel_done(tdrv_chan *c, bool error_irq)
{
    WDFDMATRANSACTION t = c->active;
    size_t length = WdfDmaTransactionGetCurrentDmaTransferLength(t);
    bool error;
    size_t moved = tdrv_moved(c, length, &error);
    NTSTATUS status = STATUS_SUCCESS;
    BOOLEAN finished;
    InterlockedIncrement(&c->completions);
    InterlockedIncrement(&tdrv.in_completed);
    if (error || error_irq) {
        (void)WdfDmaTransactionDmaCompletedFinal(t, moved, &status);
        finished = TRUE;
    } else if (c->index == SGDMA_CH_FROM_DEVICE && moved < length) {
        finished = moved == 0 ? WdfDmaTransactionDmaCompletedFinal(t, 0, &status)
                              : WdfDmaTransactionDmaCompletedWithLength(t, moved, &status);
    } else {
        finished = WdfDmaTransactionDmaCompleted(t, &status);
    }
    InterlockedDecrement(&tdrv.in_completed);
    if (!finished)
        return;
    c->last_error = error || error_irq;
    c->final_status = c->last_error ? STATUS_DEVICE_DATA_ERROR : status;
    c->final_bytes = WdfDmaTransactionGetBytesTransferred(t);
    if (c->request != NULL) {
        WDFREQUEST r = c->request;
        c->request = NULL;
        WdfDmaTransactionRelease(t);
        WdfRequestCompleteWithInformation(r, c->final_status, c->final_bytes);
    }
    InterlockedIncrement(&c->finished);
}

static VOID TdrvEvtDpc(WDFINTERRUPT Interrupt, WDFOBJECT AssociatedObject)
{
    UNREFERENCED_PARAMETER(AssociatedObject);
    for (ULONG i = 0; i < 2; i++) {
        tdrv_chan *c = &tdrv.chan[i];
        WdfInterruptAcquireLock(Interrupt);
        ULONG saved = tdrv.saved_int & SGDMA_INT_CHANNEL(i);
        tdrv.saved_int &= ~SGDMA_INT_CHANNEL(i);
        bool run = c->busy && saved != 0;
        if (run)
            c->busy = 0;
        WdfInterruptReleaseLock(Interrupt);
        if (run)
            tdrv_channel_done(c, (saved & SGDMA_INT_ERROR(i)) != 0);
    }
}

static NTSTATUS TdrvIntEnable(WDFINTERRUPT Interrupt, WDFDEVICE Device)
{
    UNREFERENCED_PARAMETER(Interrupt);
    UNREFERENCED_PARAMETER(Device);
    tdrv_wr(SGDMA_REG_INT_MASK, 0);
    return STATUS_SUCCESS;
}

static NTSTATUS TdrvIntDisable(WDFINTERRUPT Interrupt, WDFDEVICE Device)
{
    UNREFERENCED_PARAMETER(Interrupt);
    UNREFERENCED_PARAMETER(Device);
    tdrv_wr(SGDMA_REG_INT_MASK, SGDMA_INT_ALL);
    return STATUS_SUCCESS;
}

static NTSTATUS TdrvFill(WDFDMAENABLER e) { UNREFERENCED_PARAMETER(e); return tdrv.cfg.fail_fill; }
static NTSTATUS TdrvEnable(WDFDMAENABLER e) { UNREFERENCED_PARAMETER(e); return tdrv.cfg.fail_enable; }
static NTSTATUS TdrvSmioStart(WDFDMAENABLER e) { UNREFERENCED_PARAMETER(e); return tdrv.cfg.fail_smio_start; }
static NTSTATUS TdrvSmioStop(WDFDMAENABLER e) { UNREFERENCED_PARAMETER(e); return tdrv.cfg.fail_smio_stop; }
static NTSTATUS TdrvDisable(WDFDMAENABLER e) { UNREFERENCED_PARAMETER(e); return tdrv.cfg.fail_disable; }
static NTSTATUS TdrvFlush(WDFDMAENABLER e) { UNREFERENCED_PARAMETER(e); return tdrv.cfg.fail_flush; }

static NTSTATUS TdrvPrepareHardware(WDFDEVICE Device, WDFCMRESLIST Raw, WDFCMRESLIST Translated)
{
    UNREFERENCED_PARAMETER(Device);
    UNREFERENCED_PARAMETER(Raw);
    for (ULONG i = 0; i < WdfCmResourceListGetCount(Translated); i++) {
        PCM_PARTIAL_RESOURCE_DESCRIPTOR d = WdfCmResourceListGetDescriptor(Translated, i);
        if (d->Type == CmResourceTypeMemory && tdrv.regs == NULL) {
            tdrv.regs = MmMapIoSpace(d->u.Memory.Start, d->u.Memory.Length, MmNonCached);
            tdrv.regs_len = d->u.Memory.Length;
        }
    }
    if (tdrv.regs == NULL)
        return STATUS_DEVICE_CONFIGURATION_ERROR;
    for (ULONG ch = 0; ch < 2; ch++)
        tdrv_wr(SGDMA_CH_BASE(ch) + SGDMA_CH_CTRL, SGDMA_CTRL_RESET);
    return STATUS_SUCCESS;
}

static NTSTATUS TdrvReleaseHardware(WDFDEVICE Device, WDFCMRESLIST Translated)
{
    UNREFERENCED_PARAMETER(Device);
    UNREFERENCED_PARAMETER(Translated);
    if (tdrv.regs != NULL)
        MmUnmapIoSpace(tdrv.regs, tdrv.regs_len);
    tdrv.regs = NULL;
    return STATUS_SUCCESS;
}

static NTSTATUS tdrv_create_dma(WDFDEVICE device)
{
    WDF_DMA_ENABLER_CONFIG cfg;
    WDF_DMA_ENABLER_CONFIG_INIT(&cfg, tdrv.cfg.profile, tdrv.cfg.max_length);
    cfg.Flags = tdrv.cfg.flags;
    cfg.AddressWidthOverride = tdrv.cfg.address_width;
    cfg.WdmDmaVersionOverride = tdrv.cfg.version;
    if (tdrv.cfg.power_callbacks) {
        cfg.EvtDmaEnablerFill = TdrvFill;
        cfg.EvtDmaEnablerFlush = TdrvFlush;
        cfg.EvtDmaEnablerEnable = TdrvEnable;
        cfg.EvtDmaEnablerDisable = TdrvDisable;
        cfg.EvtDmaEnablerSelfManagedIoStart = TdrvSmioStart;
        cfg.EvtDmaEnablerSelfManagedIoStop = TdrvSmioStop;
    }
    NTSTATUS status = WdfDmaEnablerCreate(device, &cfg, WDF_NO_OBJECT_ATTRIBUTES, &tdrv.enabler);
    tdrv.enabler_status = status;
    if (!NT_SUCCESS(status))
        return STATUS_SUCCESS;   /* the test looks at enabler_status */
    if (tdrv.cfg.max_sg != 0)
        WdfDmaEnablerSetMaximumScatterGatherElements(tdrv.enabler, tdrv.cfg.max_sg);
    for (int dir = 0; dir < 2; dir++) {
        status = WdfDmaTransactionCreate(tdrv.enabler, WDF_NO_OBJECT_ATTRIBUTES, &tdrv.tr[dir]);
        if (!NT_SUCCESS(status))
            return status;
    }
    for (ULONG ch = 0; ch < 2; ch++) {
        tdrv_chan *c = &tdrv.chan[ch];
        c->index = ch;
        status = WdfCommonBufferCreate(tdrv.enabler, TDU_RING_BYTES, WDF_NO_OBJECT_ATTRIBUTES,
                                       &c->ring);
        if (!NT_SUCCESS(status))
            return status;
        c->ring_va = WdfCommonBufferGetAlignedVirtualAddress(c->ring);
        c->ring_la = WdfCommonBufferGetAlignedLogicalAddress(c->ring);
    }
    return STATUS_SUCCESS;
}

static NTSTATUS TdrvDeviceAdd(WDFDRIVER Driver, PWDFDEVICE_INIT DeviceInit)
{
    UNREFERENCED_PARAMETER(Driver);
    WDF_PNPPOWER_EVENT_CALLBACKS pnp;
    WDF_PNPPOWER_EVENT_CALLBACKS_INIT(&pnp);
    pnp.EvtDevicePrepareHardware = TdrvPrepareHardware;
    pnp.EvtDeviceReleaseHardware = TdrvReleaseHardware;
    WdfDeviceInitSetPnpPowerEventCallbacks(DeviceInit, &pnp);
    WdfDeviceInitSetIoType(DeviceInit, WdfDeviceIoDirect);
    PWDFDEVICE_INIT init = DeviceInit;
    NTSTATUS status = WdfDeviceCreate(&init, WDF_NO_OBJECT_ATTRIBUTES, &tdrv.device);
    if (!NT_SUCCESS(status))
        return status;
    WDF_IO_QUEUE_CONFIG qc;
    WDF_IO_QUEUE_CONFIG_INIT_DEFAULT_QUEUE(&qc, WdfIoQueueDispatchManual);
    status = WdfIoQueueCreate(tdrv.device, &qc, WDF_NO_OBJECT_ATTRIBUTES, &tdrv.queue);
    if (!NT_SUCCESS(status))
        return status;
    WDF_INTERRUPT_CONFIG ic;
    WDF_INTERRUPT_CONFIG_INIT(&ic, TdrvEvtIsr, TdrvEvtDpc);
    ic.EvtInterruptEnable = TdrvIntEnable;
    ic.EvtInterruptDisable = TdrvIntDisable;
    status = WdfInterruptCreate(tdrv.device, &ic, WDF_NO_OBJECT_ATTRIBUTES, &tdrv.interrupt);
    if (!NT_SUCCESS(status))
        return status;
    if (tdrv.cfg.no_enabler)
        return STATUS_SUCCESS;
    return tdrv_create_dma(tdrv.device);
}

static int32_t tdrv_driver_entry(void *driver_object, void *registry_path)
{
    WDF_DRIVER_CONFIG config;
    WDF_DRIVER_CONFIG_INIT(&config, TdrvDeviceAdd);
    return WdfDriverCreate((PDRIVER_OBJECT)driver_object, (PUNICODE_STRING)registry_path,
                           WDF_NO_OBJECT_ATTRIBUTES, &config, WDF_NO_HANDLE);
}

/* ======================= DRIVER END ==================================================== */

/* ---- the rig ------------------------------------------------------------------------- */

typedef struct tdu {
    wdfdma_machine *m;
    wdfdma_dev *hw;
    wdfdma_driver *drv;
    wdm_pool_stats pool_before;
    jmp_buf jb;
    volatile bool armed;
    wdfdma_bugcheck bc;
    int traps;
    bool removed;
} tdu;

typedef struct tdu_opts {
    wdfdma_engine engine;
    wdfdma_mem_policy memory;
    bool verifier;
    unsigned map_register_limit;    /* 0: default */
    const char *device_options;     /* sgdma options, NULL: "addr_bits=64" */
    bool no_bind;
} tdu_opts;

static inline void tdu_bugcheck_handler(void *ctx, const wdfdma_bugcheck *bc)
{
    tdu *t = ctx;
    dma_trap_fire(t->jb, &t->armed, &t->bc, &t->traps, bc);
}

#define TDU_TRAP(t, stmt) DMA_TRAP(t, stmt)
#define TDU_EXPECT_DMA_FATAL(t, tr, state, stmt) DMA_EXPECT_FATAL(t, tr, state, stmt)

static inline void tdu_cfg_default(void)
{
    memset(&tdrv, 0, sizeof tdrv);
    tdrv.cfg.profile = WdfDmaProfileScatterGather64Duplex;
    tdrv.cfg.max_length = 64 * 1024;
}

/* Create the machine (tdrv.cfg must be set by the caller first), add sgdma0, register the
 * test driver and bind it. */
static inline void tdu_up(tdu *t, const tdu_opts *o)
{
    memset(t, 0, sizeof *t);
    wdm_pool_get_stats(&t->pool_before);
    wdfdma_machine_config c;
    wdfdma_machine_config_init(&c);
    c.engine = o->engine;
    c.seed = 29;
    c.memory = o->memory;
    c.verifier = o->verifier;
    if (wdfdma_machine_create(&c, &t->m) < 0)
        fail_msg("machine: %s", wdfdma_last_error());
    wdfdma_machine_set_bugcheck_handler(t->m, tdu_bugcheck_handler, t);
    wdfdma_machine_set_bugcheck_quiet(t->m, true);
    if (o->map_register_limit != 0)
        assert_int_equal(wdfdma_machine_set_map_register_limit(t->m, o->map_register_limit), 0);
    const char *opts = o->device_options ? o->device_options : "addr_bits=64";
    if (wdfdma_machine_add_device(t->m, "sgdma", "sgdma0", opts, &t->hw) < 0)
        fail_msg("sgdma: %s", wdfdma_last_error());
    assert_int_equal(wdfdma_driver_register(t->m, "tdrv", tdrv_driver_entry, &t->drv), 0);
    assert_int_equal(wdfdma_driver_add_id(t->drv, SGDMA_HARDWARE_ID), 0);
    if (!o->no_bind) {
        if (wdfdma_device_bind(t->hw, t->drv) < 0)
            fail_msg("bind: %s", wdfdma_last_error());
        assert_string_equal(wdfdma_device_state(t->hw), "started");
    }
    mach_enter(t->m);
}

static inline void tdu_up_simple(tdu *t, wdfdma_engine engine, bool verifier)
{
    tdu_opts o = {.engine = engine, .verifier = verifier};
    tdu_up(t, &o);
}

/* Remove the device (disposing enabler, transactions, buffers) and check nothing leaked:
 * no adapter, map register, SG list, common buffer, frame or pool block left. */
static inline void tdu_down(tdu *t)
{
    if (!t->removed && wdfdma_device_state(t->hw) != NULL &&
        strcmp(wdfdma_device_state(t->hw), "removed") != 0)
        assert_int_equal(wdfdma_device_remove(t->hw), 0);
    mach_enter(t->m);
    wdfdma_dma_stats s;
    assert_int_equal(wdfdma_dma_get_stats(t->m, &s), 0);
    assert_int_equal(s.adapters, 0);
    assert_int_equal(s.map_registers_in_use, 0);
    assert_int_equal(s.sg_lists_live, 0);
    assert_int_equal(s.common_buffers_live, 0);
    wdfdma_machine_stats ms;
    wdfdma_machine_get_stats(t->m, &ms);
    assert_int_equal(ms.frames_in_use, 0);
    assert_int_equal(ms.dma_faults, 0);
    wdfdma_machine_destroy(t->m);
    wdm_pool_stats after;
    wdm_pool_get_stats(&after);
    assert_int_equal(after.outstanding, t->pool_before.outstanding);
}

/* Live DMA resources right now (map registers in use, SG lists). */
static inline void tdu_assert_idle(tdu *t)
{
    wdfdma_dma_stats s;
    assert_int_equal(wdfdma_dma_get_stats(t->m, &s), 0);
    assert_int_equal(s.map_registers_in_use, 0);
    assert_int_equal(s.sg_lists_live, 0);
}

static inline uint64_t tdu_regs_in_use(tdu *t)
{
    wdfdma_dma_stats s;
    assert_int_equal(wdfdma_dma_get_stats(t->m, &s), 0);
    return s.map_registers_in_use;
}

#define tdu_state dma_fx_state

/* Wait (PASSIVE) until *value >= target (threads: at most 10 s). */
static inline bool tdu_wait(tdu *t, volatile LONG *value, LONG target)
{
    return wait_count(t->m, value, target, 10000000000ll);
}

/* ---- buffers ---------------------------------------------------------------------------- */

typedef dma_buf tdu_buf;

/* Every byte encodes (request id, offset): misplaced, missing and stray writes show. */
static inline uint8_t tdu_enc(unsigned id, size_t i)
{
    return (uint8_t)((i * 31u) ^ (i >> 8) ^ (i >> 16) ^ (id * 97u + 0x5Au));
}

static inline void tdu_fill(uint8_t *p, size_t n, unsigned id, size_t first)
{
    for (size_t i = 0; i < n; i++)
        p[i] = tdu_enc(id, first + i);
}

/* Check [p, p+n) holds the pattern; returns the first bad index or SIZE_MAX. */
static inline size_t tdu_check(const uint8_t *p, size_t n, unsigned id, size_t first)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != tdu_enc(id, first + i))
            return i;
    return SIZE_MAX;
}

static inline void tdu_assert_pattern(const uint8_t *p, size_t n, unsigned id, size_t first)
{
    size_t bad = tdu_check(p, n, id, first);
    if (bad != SIZE_MAX)
        fail_msg("byte %zu of %zu (pattern %u from %zu) is %#x, expected %#x", bad, n, id,
                 first, p[bad], tdu_enc(id, first + bad));
}

/* The guarded host buffer (dma_buf.h), shared with the other DMA rig. */
#define tdu_assert_bytes dma_buf_assert_bytes
#define tdu_buf_new dma_buf_new
#define tdu_buf_guards_ok dma_buf_guards_ok
#define tdu_buf_free dma_buf_free

/* An MDL chain over one host buffer: `cuts` split points (ascending offsets into va). */
static inline PMDL tdu_chain(uint8_t *va, size_t len, const size_t *cuts, unsigned ncuts)
{
    PMDL head = NULL, *link = &head;
    size_t start = 0;
    for (unsigned i = 0; i <= ncuts; i++) {
        size_t end = i < ncuts ? cuts[i] : len;
        PMDL m = IoAllocateMdl(va + start, (ULONG)(end - start), FALSE, FALSE, NULL);
        assert_non_null(m);
        MmProbeAndLockPages(m, KernelMode, IoModifyAccess);
        *link = m;
        link = &m->Next;
        start = end;
    }
    return head;
}

static inline void tdu_chain_free(PMDL m)
{
    while (m != NULL) {
        PMDL next = m->Next;
        MmUnlockPages(m);
        IoFreeMdl(m);
        m = next;
    }
}

static inline uint8_t *tdu_devmem(tdu *t, size_t *len)
{
    uint8_t *p = sgdma_debug_memory(t->hw, len);
    assert_non_null(p);
    return p;
}

/* ---- driving transactions from the test ----------------------------------------------- */

/* Execute with the nesting counter up, so EvtProgramDma can tell it ran inside Execute. */
static inline NTSTATUS tdu_execute(WDFDMATRANSACTION tr, PVOID ctx)
{
    InterlockedIncrement(&tdrv.in_execute);
    NTSTATUS st = WdfDmaTransactionExecute(tr, ctx);
    InterlockedDecrement(&tdrv.in_execute);
    return st;
}

static inline BOOLEAN tdu_completed(WDFDMATRANSACTION tr, NTSTATUS *st)
{
    InterlockedIncrement(&tdrv.in_completed);
    BOOLEAN r = WdfDmaTransactionDmaCompleted(tr, st);
    InterlockedDecrement(&tdrv.in_completed);
    return r;
}

static inline BOOLEAN tdu_completed_len(WDFDMATRANSACTION tr, size_t len, NTSTATUS *st)
{
    InterlockedIncrement(&tdrv.in_completed);
    BOOLEAN r = WdfDmaTransactionDmaCompletedWithLength(tr, len, st);
    InterlockedDecrement(&tdrv.in_completed);
    return r;
}

static inline BOOLEAN tdu_completed_final(WDFDMATRANSACTION tr, size_t len, NTSTATUS *st)
{
    InterlockedIncrement(&tdrv.in_completed);
    BOOLEAN r = WdfDmaTransactionDmaCompletedFinal(tr, len, st);
    InterlockedDecrement(&tdrv.in_completed);
    return r;
}

/* Manual mode: complete transfers one by one until the transaction finishes; returns the
 * number of transfers. */
static inline unsigned tdu_drain(WDFDMATRANSACTION tr, NTSTATUS *final)
{
    unsigned n = 1;
    NTSTATUS st;
    while (!tdu_completed(tr, &st)) {
        assert_int_equal(st, STATUS_MORE_PROCESSING_REQUIRED);
        n++;
        assert_true(n < 100000);
    }
    if (final)
        *final = st;
    return n;
}

/* Hardware mode: run transaction `tr` over `b` in direction `dir` at device offset
 * `dev_off`, wait for the DPC to finish it; returns the channel. */
static inline tdrv_chan *tdu_run_hw(tdu *t, WDFDMATRANSACTION tr, WDF_DMA_DIRECTION dir,
                                    PMDL mdl, void *va, size_t len, ULONG dev_off)
{
    tdrv_chan *c = &tdrv.chan[tdrv_ch(dir)];
    LONG before = c->finished;
    c->dev_base = dev_off;
    assert_int_equal(WdfDmaTransactionInitialize(tr, TdrvEvtProgramDma, dir, mdl, va, len),
                     STATUS_SUCCESS);
    assert_int_equal(tdu_execute(tr, c), STATUS_SUCCESS);
    assert_true(tdu_wait(t, &c->finished, before + 1));
    return c;
}

#endif
