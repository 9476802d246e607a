/*
 * Shared by the tests/test_fx_sysdma_*.c programs: a machine with one sdmac system-DMA
 * controller and up to SDU_MAX_DEVS uart / ring peripherals, all bound to a small
 * system-mode test driver compiled into the test ("sdrv"), bug-check traps, encoded
 * buffers with guard bands, and the leak check every test ends with.
 *
 * The driver (between DRIVER BEGIN and DRIVER END) uses WDK names and DDIs only. Per
 * device it creates in EvtDriverDeviceAdd one enabler (profile from sdrv.cfg[i]) and one
 * transaction per direction; EvtDevicePrepareHardware maps the registers, keeps a copy
 * of the translated DMA descriptors and (unless the test wants to do it itself) calls
 * WdfDmaEnablerConfigureSystemProfile. Its three DMA callbacks write one shared log
 * (sdrv.log: kind, device, slot, status, IRQL and how deeply the same transaction's other
 * callbacks are nested at that moment), so a test checks the per-transfer order
 * configure -> EvtProgramDma -> transfer complete and the deferral rule. The
 * transfer-complete callback either only records (SDRV_MANUAL: the test calls
 * DmaCompleted* itself) or finishes transfers the way the uart sample does (SDRV_AUTO:
 * DmaCompleted on DmaComplete, DmaCompletedFinal(moved) on DmaCancelled / DmaError,
 * wraps counted on looped transfers), optionally re-executing the transaction to keep a
 * channel busy (the starvation test).
 *
 * Everything the driver owns is visible to the test (host thread, PASSIVE_LEVEL after
 * mach_enter), which calls the DMA DDIs directly.
 */
#ifndef WDFDMA_FX_SYSDMA_TESTUTIL_H
#define WDFDMA_FX_SYSDMA_TESTUTIL_H

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
#include "wdfdma/dma.h"
#include "wdfdma/devmodel.h"
#include "devices/sdmac/sdmac.h"
#include "devices/uart/uart.h"
#include "devices/ring/ring.h"
#include "dma_buf.h"
#include "dma_trap.h"
#include "dma_wait.h"

#define SDU_MAX_DEVS 16u
#define SDU_SLOTS 4u                 /* per device: [0] read, [1] write, [2..] extra */
#define SDU_LOG 4096u
#define SDU_CANARY DMA_BUF_CANARY
#define SDU_GUARD DMA_BUF_GUARD

/* ======================= DRIVER BEGIN (WDK names and DDIs only) ======================= */

typedef enum sdrv_kind { SDRV_UART = 0, SDRV_RING = 1 } sdrv_kind;
typedef enum sdrv_mode { SDRV_MANUAL = 0, SDRV_AUTO = 1 } sdrv_mode;
typedef enum sdrv_ev { SDRV_EV_CFG = 1, SDRV_EV_PROG, SDRV_EV_DONE, SDRV_EV_RESERVE } sdrv_ev;

typedef struct sdrv_cfg {
    sdrv_kind kind;
    WDF_DMA_PROFILE profile;         /* 0: SystemDuplex (uart) / System (ring) */
    size_t max_length;               /* 0: 8 KiB */
    ULONG address_width, version;    /* AddressWidthOverride, WdmDmaVersionOverride */
    bool no_configure;               /* PrepareHardware leaves ConfigureSystemProfile to the test */
    WDF_DMA_DIRECTION simplex_dir;   /* System profile: the direction configured */
    bool block_mode;                 /* DemandMode = FALSE */
    bool looped;                     /* LoopedTransfer */
    DMA_WIDTH width;                 /* 0 = Width8Bits */
    ULONG reg_offset;                /* DeviceAddress = registers + reg_offset (DATA = 0) */
} sdrv_cfg;

struct sdrv_dev;

/* One transaction slot: the transaction and everything its callbacks saw. */
typedef struct sdrv_xact {
    struct sdrv_dev *dev;
    ULONG index;                     /* device index */
    ULONG slot;
    WDF_DMA_DIRECTION dir;
    WDFDMATRANSACTION tr;
    sdrv_mode mode;
    BOOLEAN cfg_result;              /* what EvtConfigureDmaChannel returns */
    LONG cfg_fail_at;                /* 1-based configure call that returns FALSE; 0 never */
    bool set_burst;                  /* configure: ConfigureAdapterChannel(burst) + FIFO thresholds */
    volatile LONG in_program, in_done, in_cfg;
    volatile LONG cfg_calls, program_calls, done_calls, finished, wraps;
    volatile LONG nested_done;       /* transfer complete while EvtProgramDma of it ran */
    volatile LONG nested_program;    /* EvtProgramDma while its transfer complete ran */
    DMA_COMPLETION_STATUS last_status;
    NTSTATUS final_status;
    size_t final_bytes;
    BOOLEAN final_result;
    /* re-execute on completion (SDRV_AUTO) while repeat > 0 */
    volatile LONG repeat;
    PMDL mdl;
    PVOID va;
    size_t len;
    /* what the configure callback saw last */
    PMDL cfg_mdl;
    size_t cfg_offset, cfg_length;
    ULONG burst;
} sdrv_xact;

typedef struct sdrv_dev {
    sdrv_cfg cfg;
    WDFDEVICE device;
    WDFDMAENABLER enabler;
    NTSTATUS enabler_status, configure_status;
    PUCHAR regs;
    SIZE_T regs_len;
    PHYSICAL_ADDRESS regs_pa;
    CM_PARTIAL_RESOURCE_DESCRIPTOR dma[2];
    ULONG ndma;
    ULONG fifo;
    KSPIN_LOCK lock;                 /* CONTROL read-modify-write */
    sdrv_xact x[SDU_SLOTS];
} sdrv_dev;

typedef struct sdrv_rec {
    sdrv_ev kind;
    ULONG dev, slot;
    DMA_COMPLETION_STATUS status;
    KIRQL irql;
    LONG in_program, in_done, in_cfg;  /* depths of the same transaction's callbacks */
    LONG test_depth;                   /* sdrv.test_depth: inside a test's DDI call */
    size_t length, transferred;
} sdrv_rec;

typedef struct sdrv_state {
    sdrv_cfg cfg[SDU_MAX_DEVS];
    sdrv_dev dev[SDU_MAX_DEVS];
    volatile LONG ndev;
    volatile LONG nlog;
    sdrv_rec log[SDU_LOG];
    volatile LONG test_depth;        /* the test bumps it around DDI calls it makes */
    volatile LONG driver_execs;      /* Executes the driver made (re-execute) */
    /* test hooks, called at the end of the callback if set */
    void (*program_hook)(sdrv_xact *x, PSCATTER_GATHER_LIST sg);
    void (*done_hook)(sdrv_xact *x, DMA_COMPLETION_STATUS status);
} sdrv_state;

static sdrv_state sdrv;

static inline ULONG sdrv_rd(sdrv_dev *d, ULONG off)
{
    return READ_REGISTER_ULONG((volatile ULONG *)(d->regs + off));
}

static inline void sdrv_wr(sdrv_dev *d, ULONG off, ULONG v)
{
    WRITE_REGISTER_ULONG((volatile ULONG *)(d->regs + off), v);
}

static void sdrv_control(sdrv_dev *d, ULONG set, ULONG clear)
{
    KIRQL irql;
    ULONG reg = d->cfg.kind == SDRV_UART ? UART_REG_CONTROL : RING_REG_CONTROL;
    KeAcquireSpinLock(&d->lock, &irql);
    sdrv_wr(d, reg, (sdrv_rd(d, reg) & ~clear) | set);
    KeReleaseSpinLock(&d->lock, irql);
}

/* The request-line enable bit of a transaction's direction. */
static ULONG sdrv_request_bit(sdrv_xact *x)
{
    if (x->dev->cfg.kind == SDRV_RING)
        return RING_CTL_RUN | RING_CTL_DMA;
    return x->dir == WdfDmaDirectionWriteToDevice ? UART_CTL_TX_DMA : UART_CTL_RX_DMA;
}

static void sdrv_log(sdrv_xact *x, sdrv_ev kind, DMA_COMPLETION_STATUS status)
{
    LONG n = InterlockedIncrement(&sdrv.nlog) - 1;
    if ((ULONG)n >= SDU_LOG)
        return;
    sdrv_rec *r = &sdrv.log[n];
    r->kind = kind;
    r->dev = x->index;
    r->slot = x->slot;
    r->status = status;
    r->irql = KeGetCurrentIrql();
    r->in_program = x->in_program;
    r->in_done = x->in_done;
    r->in_cfg = x->in_cfg;
    r->test_depth = InterlockedCompareExchange(&sdrv.test_depth, 0, 0);   /* host moves it */
    r->length = WdfDmaTransactionGetCurrentDmaTransferLength(x->tr);
    r->transferred = WdfDmaTransactionGetBytesTransferred(x->tr);
}

static sdrv_dev *sdrv_dev_of(WDFDEVICE Device)
{
    for (LONG i = 0; i < sdrv.ndev; i++)
        if (sdrv.dev[i].device == Device)
            return &sdrv.dev[i];
    return NULL;
}

/* A burst that fits half the FIFO (at most the controller's 16) and divides the length,
 * so an RX transfer's last beat never waits for bytes that will not come. */
static ULONG sdrv_choose_burst(ULONG fifo, size_t length)
{
    ULONG burst = fifo / 2;
    if (burst > SDMAC_MAX_BURST)
        burst = SDMAC_MAX_BURST;
    if (burst == 0)
        burst = 1;
    while (burst > 1 && length % burst != 0)
        burst--;
    return burst;
}

static BOOLEAN SdrvEvtConfigureDmaChannel(WDFDMATRANSACTION DmaTransaction, WDFDEVICE Device,
                                          PVOID Context, PMDL Mdl, size_t Offset, size_t Length)
{
    sdrv_xact *x = Context;
    sdrv_dev *d = sdrv_dev_of(Device);
    BOOLEAN result = x->cfg_result;
    UNREFERENCED_PARAMETER(DmaTransaction);
    InterlockedIncrement(&x->in_cfg);
    LONG n = InterlockedIncrement(&x->cfg_calls);
    x->cfg_mdl = Mdl;
    x->cfg_offset = Offset;
    x->cfg_length = Length;
    sdrv_log(x, SDRV_EV_CFG, DmaComplete);
    if (x->cfg_fail_at != 0 && n == x->cfg_fail_at)
        result = FALSE;
    if (result && x->set_burst && d != NULL && d->cfg.kind == SDRV_UART) {
        PDMA_ADAPTER adapter = WdfDmaEnablerWdmGetDmaAdapter(d->enabler, x->dir);
        ULONG burst = sdrv_choose_burst(d->fifo, Length);
        if (adapter == NULL ||
            !NT_SUCCESS(adapter->DmaOperations->ConfigureAdapterChannel(adapter, SDMAC_FN_BURST,
                                                                        &burst))) {
            result = FALSE;
        } else {
            x->burst = burst;
            sdrv_wr(d, x->dir == WdfDmaDirectionWriteToDevice ? UART_REG_TX_THRESH
                                                              : UART_REG_RX_THRESH, burst);
        }
    }
    InterlockedDecrement(&x->in_cfg);
    return result;
}

static BOOLEAN SdrvEvtProgramDma(WDFDMATRANSACTION Transaction, WDFDEVICE Device,
                                 WDFCONTEXT Context, WDF_DMA_DIRECTION Direction,
                                 PSCATTER_GATHER_LIST SgList)
{
    sdrv_xact *x = Context;
    UNREFERENCED_PARAMETER(Transaction);
    UNREFERENCED_PARAMETER(Device);
    UNREFERENCED_PARAMETER(Direction);
    InterlockedIncrement(&x->in_program);
    InterlockedIncrement(&x->program_calls);
    if (x->in_done > 0)
        InterlockedIncrement(&x->nested_program);
    sdrv_log(x, SDRV_EV_PROG, DmaComplete);
    /* The channel is armed: let the peripheral pace it (demand mode) / start the stream. */
    if (!x->dev->cfg.block_mode)
        sdrv_control(x->dev, sdrv_request_bit(x), 0);
    if (sdrv.program_hook != NULL)
        sdrv.program_hook(x, SgList);
    InterlockedDecrement(&x->in_program);
    return TRUE;
}

static inline VOID SdrvEvtReserveDma(WDFDMATRANSACTION Transaction, PVOID Context)
{
    sdrv_xact *x = Context;
    UNREFERENCED_PARAMETER(Transaction);
    sdrv_log(x, SDRV_EV_RESERVE, DmaComplete);
}

/* Bytes the controller moved in the current transfer (length - residue). */
static size_t sdrv_moved(sdrv_xact *x)
{
    PDMA_ADAPTER adapter = WdfDmaEnablerWdmGetDmaAdapter(x->dev->enabler, x->dir);
    size_t length = WdfDmaTransactionGetCurrentDmaTransferLength(x->tr);
    ULONG residue = adapter->DmaOperations->ReadDmaCounter(adapter);
    return residue > length ? 0 : length - residue;
}

static void sdrv_arm(sdrv_xact *x)
{
    WdfDmaTransactionSetChannelConfigurationCallback(x->tr, SdrvEvtConfigureDmaChannel, x);
}

static VOID SdrvEvtTransferComplete(WDFDMATRANSACTION Transaction, WDFDEVICE Device,
                                    WDFCONTEXT Context, WDF_DMA_DIRECTION Direction,
                                    DMA_COMPLETION_STATUS Status)
{
    sdrv_xact *x = Context;
    NTSTATUS status = STATUS_SUCCESS;
    BOOLEAN finished = FALSE;
    UNREFERENCED_PARAMETER(Device);
    UNREFERENCED_PARAMETER(Direction);
    InterlockedIncrement(&x->in_done);
    if (x->in_program > 0)
        InterlockedIncrement(&x->nested_done);
    sdrv_log(x, SDRV_EV_DONE, Status);
    x->last_status = Status;
    if (x->mode == SDRV_AUTO) {
        if (Status == DmaComplete && x->dev->cfg.looped) {
            InterlockedIncrement(&x->wraps);
        } else if (Status == DmaComplete) {
            finished = WdfDmaTransactionDmaCompleted(Transaction, &status);
        } else {
            finished = WdfDmaTransactionDmaCompletedFinal(Transaction, sdrv_moved(x), &status);
        }
    }
    if (sdrv.done_hook != NULL)
        sdrv.done_hook(x, Status);
    InterlockedIncrement(&x->done_calls);
    if (finished) {
        x->final_status = status;
        x->final_result = finished;
        x->final_bytes = WdfDmaTransactionGetBytesTransferred(Transaction);
        if (!x->dev->cfg.block_mode)
            sdrv_control(x->dev, 0, sdrv_request_bit(x));
        if (x->repeat > 0) {
            InterlockedDecrement(&x->repeat);
            WdfDmaTransactionRelease(Transaction);
            if (NT_SUCCESS(WdfDmaTransactionInitialize(Transaction, SdrvEvtProgramDma, x->dir,
                                                       x->mdl, x->va, x->len))) {
                sdrv_arm(x);
                WdfDmaTransactionSetTransferCompleteCallback(Transaction,
                                                             SdrvEvtTransferComplete, x);
                InterlockedIncrement(&x->finished);
                if (NT_SUCCESS(WdfDmaTransactionExecute(Transaction, x)))
                    InterlockedIncrement(&sdrv.driver_execs);
                InterlockedDecrement(&x->in_done);
                return;
            }
        }
        InterlockedIncrement(&x->finished);
    }
    InterlockedDecrement(&x->in_done);
}

static NTSTATUS SdrvConfigure(sdrv_dev *d, PCM_PARTIAL_RESOURCE_DESCRIPTOR desc,
                              WDF_DMA_DIRECTION dir)
{
    WDF_DMA_SYSTEM_PROFILE_CONFIG sc;
    PHYSICAL_ADDRESS address;
    address.QuadPart = d->regs_pa.QuadPart + d->cfg.reg_offset;
    WDF_DMA_SYSTEM_PROFILE_CONFIG_INIT(&sc, address, d->cfg.width, desc);
    sc.DemandMode = d->cfg.block_mode ? FALSE : TRUE;
    sc.LoopedTransfer = d->cfg.looped ? TRUE : FALSE;
    return WdfDmaEnablerConfigureSystemProfile(d->enabler, &sc, dir);
}

/* The descriptor of a direction: uart TX = first DMA resource, RX = second; ring: first. */
static PCM_PARTIAL_RESOURCE_DESCRIPTOR sdrv_desc(sdrv_dev *d, WDF_DMA_DIRECTION dir)
{
    if (d->cfg.kind == SDRV_RING || d->ndma < 2)
        return &d->dma[0];
    return &d->dma[dir == WdfDmaDirectionWriteToDevice ? UART_DMA_TX : UART_DMA_RX];
}

static NTSTATUS SdrvPrepareHardware(WDFDEVICE Device, WDFCMRESLIST Raw, WDFCMRESLIST Translated)
{
    sdrv_dev *d = sdrv_dev_of(Device);
    UNREFERENCED_PARAMETER(Raw);
    if (d == NULL)
        return STATUS_DEVICE_CONFIGURATION_ERROR;
    for (ULONG i = 0; i < WdfCmResourceListGetCount(Translated); i++) {
        PCM_PARTIAL_RESOURCE_DESCRIPTOR r = WdfCmResourceListGetDescriptor(Translated, i);
        if (r->Type == CmResourceTypeMemory && d->regs == NULL) {
            d->regs = MmMapIoSpace(r->u.Memory.Start, r->u.Memory.Length, MmNonCached);
            d->regs_len = r->u.Memory.Length;
            d->regs_pa = r->u.Memory.Start;
        } else if (r->Type == CmResourceTypeDma && d->ndma < 2) {
            d->dma[d->ndma++] = *r;
        }
    }
    if (d->regs == NULL || d->ndma == 0)
        return STATUS_DEVICE_CONFIGURATION_ERROR;
    if (d->cfg.kind == SDRV_UART)
        d->fifo = sdrv_rd(d, UART_REG_FIFO_DEPTH);
    if (d->cfg.no_configure || !NT_SUCCESS(d->enabler_status))
        return STATUS_SUCCESS;
    if (d->cfg.profile == WdfDmaProfileSystemDuplex) {
        d->configure_status = SdrvConfigure(d, sdrv_desc(d, WdfDmaDirectionWriteToDevice),
                                            WdfDmaDirectionWriteToDevice);
        if (NT_SUCCESS(d->configure_status))
            d->configure_status = SdrvConfigure(d, sdrv_desc(d, WdfDmaDirectionReadFromDevice),
                                                WdfDmaDirectionReadFromDevice);
    } else if (d->cfg.profile == WdfDmaProfileSystem) {
        d->configure_status = SdrvConfigure(d, sdrv_desc(d, d->cfg.simplex_dir),
                                            d->cfg.simplex_dir);
    }
    return d->configure_status;
}

static NTSTATUS SdrvReleaseHardware(WDFDEVICE Device, WDFCMRESLIST Translated)
{
    sdrv_dev *d = sdrv_dev_of(Device);
    UNREFERENCED_PARAMETER(Translated);
    if (d != NULL && d->regs != NULL) {
        MmUnmapIoSpace(d->regs, d->regs_len);
        d->regs = NULL;
    }
    return STATUS_SUCCESS;
}

static NTSTATUS SdrvDeviceAdd(WDFDRIVER Driver, PWDFDEVICE_INIT DeviceInit)
{
    UNREFERENCED_PARAMETER(Driver);
    LONG index = sdrv.ndev;
    if ((ULONG)index >= SDU_MAX_DEVS)
        return STATUS_INSUFFICIENT_RESOURCES;
    sdrv_dev *d = &sdrv.dev[index];
    d->cfg = sdrv.cfg[index];
    if (d->cfg.profile == 0)
        d->cfg.profile = d->cfg.kind == SDRV_RING ? WdfDmaProfileSystem
                                                  : WdfDmaProfileSystemDuplex;
    if (d->cfg.max_length == 0)
        d->cfg.max_length = 8 * 1024;
    KeInitializeSpinLock(&d->lock);

    WDF_PNPPOWER_EVENT_CALLBACKS pnp;
    WDF_PNPPOWER_EVENT_CALLBACKS_INIT(&pnp);
    pnp.EvtDevicePrepareHardware = SdrvPrepareHardware;
    pnp.EvtDeviceReleaseHardware = SdrvReleaseHardware;
    WdfDeviceInitSetPnpPowerEventCallbacks(DeviceInit, &pnp);
    PWDFDEVICE_INIT init = DeviceInit;
    NTSTATUS status = WdfDeviceCreate(&init, WDF_NO_OBJECT_ATTRIBUTES, &d->device);
    if (!NT_SUCCESS(status))
        return status;
    sdrv.ndev = index + 1;

    WDF_DMA_ENABLER_CONFIG cfg;
    WDF_DMA_ENABLER_CONFIG_INIT(&cfg, d->cfg.profile, d->cfg.max_length);
    cfg.AddressWidthOverride = d->cfg.address_width;
    cfg.WdmDmaVersionOverride = d->cfg.version;
    d->enabler_status = WdfDmaEnablerCreate(d->device, &cfg, WDF_NO_OBJECT_ATTRIBUTES,
                                            &d->enabler);
    if (!NT_SUCCESS(d->enabler_status))
        return STATUS_SUCCESS;   /* the test looks at enabler_status */
    for (ULONG s = 0; s < 2; s++) {
        sdrv_xact *x = &d->x[s];
        x->dev = d;
        x->index = (ULONG)index;
        x->slot = s;
        x->dir = s == 0 ? WdfDmaDirectionReadFromDevice : WdfDmaDirectionWriteToDevice;
        x->cfg_result = TRUE;
        status = WdfDmaTransactionCreate(d->enabler, WDF_NO_OBJECT_ATTRIBUTES, &x->tr);
        if (!NT_SUCCESS(status))
            return status;
    }
    return STATUS_SUCCESS;
}

static int32_t sdrv_driver_entry(void *driver_object, void *registry_path)
{
    WDF_DRIVER_CONFIG config;
    WDF_DRIVER_CONFIG_INIT(&config, SdrvDeviceAdd);
    return WdfDriverCreate((PDRIVER_OBJECT)driver_object, (PUNICODE_STRING)registry_path,
                           WDF_NO_OBJECT_ATTRIBUTES, &config, WDF_NO_HANDLE);
}

/* ======================= DRIVER END ==================================================== */

/* ---- the rig ------------------------------------------------------------------------- */

typedef struct sdu {
    wdfdma_machine *m;
    wdfdma_dev *ctrl;                /* the sdmac */
    wdfdma_dev *hw[SDU_MAX_DEVS];
    unsigned ndev;
    wdfdma_driver *drv;
    wdm_pool_stats pool_before;
    uint64_t findings_before;
    jmp_buf jb;
    volatile bool armed;
    wdfdma_bugcheck bc;
    int traps;
    /* channel grants the test expects (checked at sdu_down unless grants_unchecked) */
    long grants;
    bool grants_unchecked;
} sdu;

typedef struct sdu_opts {
    wdfdma_engine engine;
    bool verifier;
    const char *sdmac_options;       /* NULL: "channels=8" */
    wdfdma_mem_policy memory;        /* 0: the machine's default (scattered) */
} sdu_opts;

static inline void sdu_bugcheck_handler(void *ctx, const wdfdma_bugcheck *bc)
{
    sdu *t = ctx;
    dma_trap_fire(t->jb, &t->armed, &t->bc, &t->traps, bc);
}

#define SDU_TRAP(t, stmt) DMA_TRAP(t, stmt)
#define SDU_EXPECT_DMA_FATAL(t, tr, state, stmt) DMA_EXPECT_FATAL(t, tr, state, stmt)

/* Verifier breaks (findings) since the last call. */
static inline uint64_t sdu_breaks(sdu *t)
{
    uint64_t now = mach_findings(t->m);
    uint64_t n = now - t->findings_before;
    t->findings_before = now;
    return n;
}

static inline void sdu_cfg_reset(void)
{
    memset(&sdrv, 0, sizeof sdrv);
}

static inline void sdu_up(sdu *t, const sdu_opts *o)
{
    memset(t, 0, sizeof *t);
    wdm_pool_get_stats(&t->pool_before);
    wdfdma_machine_config c;
    wdfdma_machine_config_init(&c);
    c.engine = o->engine;
    c.seed = 41;
    c.verifier = o->verifier;
    if (o->memory)
        c.memory = o->memory;
    if (wdfdma_machine_create(&c, &t->m) < 0)
        fail_msg("machine: %s", wdfdma_last_error());
    wdfdma_machine_set_bugcheck_handler(t->m, sdu_bugcheck_handler, t);
    wdfdma_machine_set_bugcheck_quiet(t->m, true);
    const char *opts = o->sdmac_options != NULL ? o->sdmac_options : "channels=8";
    if (wdfdma_machine_add_device(t->m, "sdmac", "dma0", opts, &t->ctrl) < 0)
        fail_msg("sdmac: %s", wdfdma_last_error());
    assert_int_equal(wdfdma_driver_register(t->m, "sdrv", sdrv_driver_entry, &t->drv), 0);
    assert_int_equal(wdfdma_driver_add_id(t->drv, UART_HARDWARE_ID), 0);
    assert_int_equal(wdfdma_driver_add_id(t->drv, RING_HARDWARE_ID), 0);
    mach_enter(t->m);
}

static inline void sdu_up_simple(sdu *t, wdfdma_engine engine, bool verifier)
{
    sdu_opts o = {.engine = engine, .verifier = verifier};
    sdu_up(t, &o);
}

/* Add a uart / ring (sdrv.cfg[index] set by the caller), bind it; returns its device. */
static inline sdrv_dev *sdu_add(sdu *t, const char *model, const char *options)
{
    char name[16];
    unsigned i = t->ndev;
    assert_true(i < SDU_MAX_DEVS);
    sdrv.cfg[i].kind = strcmp(model, "ring") == 0 ? SDRV_RING : SDRV_UART;
    snprintf(name, sizeof name, "%s%u", model, i);
    if (wdfdma_machine_add_device(t->m, model, name, options, &t->hw[i]) < 0)
        fail_msg("%s: %s", model, wdfdma_last_error());
    if (wdfdma_device_bind(t->hw[i], t->drv) < 0)
        fail_msg("bind: %s", wdfdma_last_error());
    assert_string_equal(wdfdma_device_state(t->hw[i]), "started");
    mach_enter(t->m);
    t->ndev++;
    assert_int_equal(sdrv.ndev, (LONG)t->ndev);
    return &sdrv.dev[i];
}

static inline wdfdma_dma_stats sdu_stats(sdu *t)
{
    wdfdma_dma_stats s;
    assert_int_equal(wdfdma_dma_get_stats(t->m, &s), 0);
    return s;
}

static inline uint32_t sdu_ctrl_reg(sdu *t, uint64_t off)
{
    return (uint32_t)wdfdma_dev_peer_read(t->ctrl, 0, off, 4);
}

/* Remove every device, then check nothing leaked: no adapter, map register (a system
 * adapter's registers go with its channel), SG list or common buffer, every channel
 * grant accounted for, the controller idle, no frame or pool block left. */
static inline void sdu_down(sdu *t)
{
    mach_enter(t->m);
    wdfdma_dma_stats s = sdu_stats(t);
    if (!t->grants_unchecked)
        assert_int_equal(s.channel_grants, (uint64_t)(t->grants + sdrv.driver_execs));
    assert_int_equal(sdu_ctrl_reg(t, SDMAC_REG_BUSY), 0);
    for (unsigned i = t->ndev; i-- > 0;) {
        const char *st = wdfdma_device_state(t->hw[i]);
        if (st != NULL && strcmp(st, "removed") != 0)
            assert_int_equal(wdfdma_device_remove(t->hw[i]), 0);
    }
    mach_enter(t->m);
    s = sdu_stats(t);
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

#define sdu_fx dma_fx_transaction
#define sdu_state dma_fx_state

/* Wait (PASSIVE) until *value >= target (threads: at most 20 s). */
static inline bool sdu_wait(sdu *t, volatile LONG *value, LONG target)
{
    return wait_count(t->m, value, target, 20000000000ll);
}

/* Let the machine run for `ns` (sim: virtual time; threads: sleeps). */
static inline void sdu_run_for(sdu *t, uint64_t ns)
{
    mach_enter(t->m);
    assert_int_equal(wdfdma_machine_run_until(t->m, wdfdma_machine_now(t->m) + ns), 0);
}

/* ---- buffers ---------------------------------------------------------------------------- */

typedef dma_buf sdu_buf;

/* Every byte encodes (id, offset): misplaced, missing and stray bytes show. */
static inline uint8_t sdu_enc(unsigned id, size_t i)
{
    return (uint8_t)((i * 31u) ^ (i >> 8) ^ (i >> 16) ^ (id * 97u + 0x5Au));
}

static inline void sdu_fill(uint8_t *p, size_t n, unsigned id)
{
    for (size_t i = 0; i < n; i++)
        p[i] = sdu_enc(id, i);
}

static inline void sdu_assert_pattern(const uint8_t *p, size_t n, unsigned id)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != sdu_enc(id, i))
            fail_msg("byte %zu of %zu (pattern %u) is %#x, expected %#x", i, n, id, p[i],
                     sdu_enc(id, i));
}

/* The guarded host buffer (dma_buf.h), shared with the other DMA rig. */
#define sdu_assert_bytes dma_buf_assert_bytes
#define sdu_buf_new dma_buf_new
#define sdu_buf_guards_ok dma_buf_guards_ok
#define sdu_buf_free dma_buf_free

/* ---- driving transactions from the test ----------------------------------------------- */

/* Initialize slot x over (mdl, va, len) and register both system callbacks. */
static inline NTSTATUS sdu_init(sdrv_xact *x, PMDL mdl, void *va, size_t len)
{
    x->mdl = mdl;
    x->va = va;
    x->len = len;
    NTSTATUS st = WdfDmaTransactionInitialize(x->tr, SdrvEvtProgramDma, x->dir, mdl, va, len);
    if (NT_SUCCESS(st)) {
        sdrv_arm(x);
        WdfDmaTransactionSetTransferCompleteCallback(x->tr, SdrvEvtTransferComplete, x);
    }
    return st;
}

/* Execute with the test-depth counter up; counts the channel grant it will cause. */
static inline NTSTATUS sdu_exec(sdu *t, sdrv_xact *x)
{
    bool reserved = sdu_fx(x->tr)->map_registers_reserved != 0;
    InterlockedIncrement(&sdrv.test_depth);
    NTSTATUS st = WdfDmaTransactionExecute(x->tr, x);
    InterlockedDecrement(&sdrv.test_depth);
    if (NT_SUCCESS(st) && !reserved)
        t->grants++;
    return st;
}

static inline BOOLEAN sdu_completed(sdrv_xact *x, NTSTATUS *st)
{
    InterlockedIncrement(&sdrv.test_depth);
    BOOLEAN r = WdfDmaTransactionDmaCompleted(x->tr, st);
    InterlockedDecrement(&sdrv.test_depth);
    return r;
}

static inline BOOLEAN sdu_completed_final(sdrv_xact *x, size_t len, NTSTATUS *st)
{
    InterlockedIncrement(&sdrv.test_depth);
    BOOLEAN r = WdfDmaTransactionDmaCompletedFinal(x->tr, len, st);
    InterlockedDecrement(&sdrv.test_depth);
    return r;
}

/* A new transaction in slot `slot` (>= 2) of device d, direction dir. */
static inline sdrv_xact *sdu_extra(sdrv_dev *d, ULONG slot, WDF_DMA_DIRECTION dir)
{
    assert_true(slot >= 2 && slot < SDU_SLOTS);
    sdrv_xact *x = &d->x[slot];
    x->dev = d;
    x->index = (ULONG)(d - sdrv.dev);
    x->slot = slot;
    x->dir = dir;
    x->cfg_result = TRUE;
    assert_int_equal(WdfDmaTransactionCreate(d->enabler, WDF_NO_OBJECT_ATTRIBUTES, &x->tr),
                     STATUS_SUCCESS);
    return x;
}

/* The log entries of one transaction slot, in order: "CPD" letters (configure, program,
 * done, reserve 'R'), written to out. */
static inline const char *sdu_order(const sdrv_xact *x, char *out, size_t cap)
{
    size_t n = 0;
    LONG count = sdrv.nlog < (LONG)SDU_LOG ? sdrv.nlog : (LONG)SDU_LOG;
    for (LONG i = 0; i < count && n + 1 < cap; i++) {
        const sdrv_rec *r = &sdrv.log[i];
        if (r->dev != x->index || r->slot != x->slot)
            continue;
        out[n++] = r->kind == SDRV_EV_CFG ? 'C' : r->kind == SDRV_EV_PROG ? 'P'
                   : r->kind == SDRV_EV_DONE ? 'D' : 'R';
    }
    out[n] = '\0';
    return out;
}


#endif
