/*
 * Reservation, immediate execution and Cancel (reference §6, §1; behaviours 6 and 8):
 * AllocateResources with explicit and computed map registers, EvtReserveDma, Execute
 * running EvtProgramDma at once on the reserved registers, transfers capped at
 * PAGE_SIZE * (reserved - 1) + (PAGE_SIZE - page offset), registers surviving Release and
 * going with FreeResources / Delete; SetImmediateExecution failing cleanly when registers
 * are exhausted; Cancel while queued; WdmGetTransferContext; packet one-element lists;
 * v3 vs v2. Order: bad arguments, then success, then wrong-state misuse.
 */
#include "fx_dma_testutil.h"

#define KB 1024u
#define RD WdfDmaDirectionReadFromDevice
#define WR WdfDmaDirectionWriteToDevice

static void up(tdu *t, WDF_DMA_PROFILE profile, ULONG version, unsigned limit)
{
    tdu_cfg_default();
    tdrv.cfg.profile = profile;
    tdrv.cfg.max_length = 64 * KB;
    tdrv.cfg.version = version;
    tdu_opts o = {.engine = WDFDMA_ENGINE_SIM, .verifier = true, .map_register_limit = limit};
    tdu_up(t, &o);
    assert_int_equal(tdrv.enabler_status, STATUS_SUCCESS);
}

static WDFDMATRANSACTION new_tr(void)
{
    WDFDMATRANSACTION tr;
    assert_int_equal(WdfDmaTransactionCreate(tdrv.enabler, WDF_NO_OBJECT_ATTRIBUTES, &tr),
                     STATUS_SUCCESS);
    return tr;
}

static void test_allocate_bad_arguments(void **state)
{
    (void)state;
    tdu t;
    up(&t, WdfDmaProfileScatterGather64, 3, 0);   /* SG: not reservable */
    assert_int_equal(WdfDmaTransactionAllocateResources(tdrv.tr[WR], WR, 2, TdrvEvtReserveDma,
                                                        NULL),
                     STATUS_INVALID_DEVICE_REQUEST);
    assert_int_equal(tdrv.reserve_calls, 0);
    tdu_down(&t);
    up(&t, WdfDmaProfilePacket64, 0, 0);          /* v2: not reservable */
    assert_int_equal(WdfDmaTransactionAllocateResources(tdrv.tr[WR], WR, 2, TdrvEvtReserveDma,
                                                        NULL),
                     STATUS_INVALID_DEVICE_REQUEST);
    uint64_t f = mach_findings(t.m);
    WdfDmaTransactionSetImmediateExecution(tdrv.tr[WR], TRUE);   /* v2: verifier break */
    assert_int_equal(mach_findings(t.m), f + 1);
    tdu_down(&t);
    up(&t, WdfDmaProfilePacket64, 3, 0);
    assert_int_equal(WdfDmaTransactionAllocateResources(tdrv.tr[WR], (WDF_DMA_DIRECTION)5, 2,
                                                        TdrvEvtReserveDma, NULL),
                     STATUS_INVALID_PARAMETER);
    TDU_TRAP(&t, (void)WdfDmaTransactionAllocateResources(tdrv.tr[WR], WR, 2, NULL, NULL));
    assert_int_equal(t.bc.p[0], WDF_REQUIRED_PARAMETER_IS_NULL);
    assert_int_equal(tdrv.reserve_calls, 0);
    assert_int_equal(tdu_regs_in_use(&t), 0);
    tdu_down(&t);
}

/* Explicit reservation: the cap, persistence across Release, freed by FreeResources. */
static void test_reserve_explicit(void **state)
{
    (void)state;
    tdu t;
    up(&t, WdfDmaProfilePacket64, 3, 0);
    WDFDMATRANSACTION tr = tdrv.tr[WR];
    int ctx;
    uint64_t base = tdu_regs_in_use(&t);
    assert_int_equal(WdfDmaTransactionAllocateResources(tr, WR, 3, TdrvEvtReserveDma, &ctx),
                     STATUS_SUCCESS);
    assert_int_equal(tdrv.reserve_calls, 1);
    assert_ptr_equal(tdrv.reserved_tr, tr);
    assert_ptr_equal(tdrv.reserve_ctx, &ctx);
    assert_int_equal(tdu_state(tr), FX_DMA_RESERVED);
    assert_int_equal(tdu_regs_in_use(&t), base + 3);
    tdu_buf b = tdu_buf_new(100, 40 * KB);   /* contiguous-looking run from page offset 100 */
    NTSTATUS st;
    for (int round = 0; round < 2; round++) {
        LONG first = tdrv.program_calls;
        assert_int_equal(WdfDmaTransactionInitialize(tr, TdrvEvtProgramDma, WR, b.mdl, b.va,
                                                     b.len),
                         STATUS_SUCCESS);
        assert_int_equal(tdu_execute(tr, NULL), STATUS_SUCCESS);
        assert_int_equal(tdrv.program_calls, first + 1);       /* at once, inside Execute */
        assert_int_equal(tdrv.rec[first].in_execute, 1);
        unsigned n = tdu_drain(tr, &st);
        assert_int_equal(st, STATUS_SUCCESS);
        size_t total = 0;
        for (unsigned i = 0; i < n; i++) {
            tdrv_record *r = &tdrv.rec[first + i];
            size_t page_offset = (100 + total) & (PAGE_SIZE - 1);
            size_t cap = PAGE_SIZE * 2 + (PAGE_SIZE - page_offset);
            assert_true(r->length <= cap);
            assert_int_equal(r->elements, 1);                  /* packet: one element */
            assert_int_equal(r->offset, total);
            total += r->length;
        }
        assert_int_equal(total, b.len);
        assert_int_equal(tdu_regs_in_use(&t), base + 3);       /* kept after the end ... */
        WdfDmaTransactionRelease(tr);
        assert_int_equal(tdu_regs_in_use(&t), base + 3);       /* ... and after Release */
    }
    WdfDmaTransactionFreeResources(tr);
    assert_int_equal(tdu_state(tr), FX_DMA_RELEASED);
    assert_int_equal(tdu_regs_in_use(&t), base);
    /* Delete frees a reservation too */
    WDFDMATRANSACTION x = new_tr();
    assert_int_equal(WdfDmaTransactionAllocateResources(x, RD, 2, TdrvEvtReserveDma, NULL),
                     STATUS_SUCCESS);
    assert_int_equal(tdu_regs_in_use(&t), base + 2);
    WdfObjectDelete(x);
    assert_int_equal(tdu_regs_in_use(&t), base);
    tdu_buf_free(&b);
    tdu_down(&t);
}

/* Computed reservation (0 = pages of the initialized MDL). */
static void test_reserve_computed(void **state)
{
    (void)state;
    tdu t;
    up(&t, WdfDmaProfilePacket64, 3, 0);
    WDFDMATRANSACTION tr = tdrv.tr[RD];
    tdu_buf b = tdu_buf_new(PAGE_SIZE - 16, 2 * PAGE_SIZE);   /* spans 3 pages */
    uint64_t base = tdu_regs_in_use(&t);
    assert_int_equal(WdfDmaTransactionInitialize(tr, TdrvEvtProgramDma, RD, b.mdl, b.va, b.len),
                     STATUS_SUCCESS);
    assert_int_equal(WdfDmaTransactionAllocateResources(tr, RD, 0, TdrvEvtReserveDma, NULL),
                     STATUS_SUCCESS);
    assert_int_equal(tdu_state(tr), FX_DMA_RESERVED);
    assert_int_equal(tdu_regs_in_use(&t), base + 3);
    assert_int_equal(WdfDmaTransactionInitialize(tr, TdrvEvtProgramDma, RD, b.mdl, b.va, b.len),
                     STATUS_SUCCESS);
    assert_int_equal(tdu_execute(tr, NULL), STATUS_SUCCESS);
    NTSTATUS st;
    tdu_drain(tr, &st);
    assert_int_equal(st, STATUS_SUCCESS);
    WdfDmaTransactionRelease(tr);
    WdfDmaTransactionFreeResources(tr);
    assert_int_equal(tdu_regs_in_use(&t), base);
    tdu_buf_free(&b);
    tdu_down(&t);
}

/* Immediate execution with exhausted registers: Execute / AllocateResources fail with
 * STATUS_INSUFFICIENT_RESOURCES and nothing is called back. Then Cancel while queued. */
static void test_immediate_and_cancel(void **state)
{
    (void)state;
    tdu t;
    up(&t, WdfDmaProfilePacket64, 3, 4);      /* 4 map registers per adapter */
    WDFDMATRANSACTION hog = tdrv.tr[RD], tr = tdrv.tr[WR];
    assert_int_equal(WdfDmaTransactionAllocateResources(hog, WR, 4, TdrvEvtReserveDma, NULL),
                     STATUS_SUCCESS);
    tdu_buf b = tdu_buf_new(0, 8 * KB);
    WdfDmaTransactionSetImmediateExecution(tr, TRUE);
    assert_int_equal(WdfDmaTransactionInitialize(tr, TdrvEvtProgramDma, WR, b.mdl, b.va, b.len),
                     STATUS_SUCCESS);
    assert_int_equal(tdu_execute(tr, NULL), STATUS_INSUFFICIENT_RESOURCES);
    assert_int_equal(tdrv.program_calls, 0);
    assert_int_equal(tdu_state(tr), FX_DMA_TRANSFER_FAILED);
    WdfDmaTransactionRelease(tr);
    /* Release cleared the flag: now the request queues behind the reservation */
    assert_null(WdfDmaTransactionWdmGetTransferContext(tr));   /* Released: NULL */
    assert_int_equal(WdfDmaTransactionInitialize(tr, TdrvEvtProgramDma, WR, b.mdl, b.va, b.len),
                     STATUS_SUCCESS);
    assert_non_null(WdfDmaTransactionWdmGetTransferContext(tr));
    assert_int_equal(tdu_execute(tr, NULL), STATUS_SUCCESS);
    assert_int_equal(tdrv.program_calls, 0);                   /* queued */
    assert_true(WdfDmaTransactionCancel(tr));
    assert_int_equal(tdu_state(tr), FX_DMA_TRANSFER_FAILED);
    assert_int_equal(WdfDmaTransactionGetCurrentDmaTransferLength(tr), 0);   /* no transfer */
    WdfDmaTransactionFreeResources(hog);                       /* registers free now */
    (void)wdfdma_machine_run(t.m);
    mach_enter(t.m);
    assert_int_equal(tdrv.program_calls, 0);                   /* never called */
    WdfDmaTransactionRelease(tr);
    /* AllocateResources with immediate execution while exhausted */
    assert_int_equal(WdfDmaTransactionAllocateResources(hog, WR, 4, TdrvEvtReserveDma, NULL),
                     STATUS_SUCCESS);
    LONG reserves = tdrv.reserve_calls;
    WdfDmaTransactionSetImmediateExecution(tr, TRUE);
    assert_int_equal(WdfDmaTransactionAllocateResources(tr, WR, 2, TdrvEvtReserveDma, NULL),
                     STATUS_INSUFFICIENT_RESOURCES);
    assert_int_equal(tdrv.reserve_calls, reserves);
    WdfDmaTransactionRelease(tr);
    WdfDmaTransactionFreeResources(hog);
    /* Cancel once granted: FALSE, the transfer runs */
    assert_int_equal(WdfDmaTransactionInitialize(tr, TdrvEvtProgramDma, WR, b.mdl, b.va, b.len),
                     STATUS_SUCCESS);
    assert_int_equal(tdu_execute(tr, NULL), STATUS_SUCCESS);
    assert_int_equal(tdrv.program_calls, 1);
    assert_false(WdfDmaTransactionCancel(tr));
    NTSTATUS st;
    tdu_drain(tr, &st);
    assert_int_equal(st, STATUS_SUCCESS);
    WdfDmaTransactionRelease(tr);
    tdu_assert_idle(&t);
    tdu_buf_free(&b);
    tdu_down(&t);
}

/* DmaCompleted* on a transfer that has not started: its SG list (or adapter channel) still
 * waits for map registers another transaction holds, so EvtProgramDma has not run. A
 * verifier finding; the transaction ends (TRUE, STATUS_INVALID_DEVICE_STATE, TransferFailed)
 * and its request is withdrawn: when the registers free up nothing is granted to it, and
 * nothing is left in the HAL. Before, the framework staged the next transfer beside the
 * waiting request, two requests shared one preallocated SG buffer, and the second put of
 * that buffer bug checked 0xE6 (fuzz_ddi). DmaCompletedFinal there ends the transaction
 * without a finding (a watchdog giving up on a transfer that never got its registers). */
static void completed_while_waiting(WDF_DMA_PROFILE profile, ULONG version, bool final)
{
    tdu t;
    up(&t, profile, version, 4);                /* 4 map registers per adapter */
    WDFDMATRANSACTION first = tdrv.tr[RD], tr = tdrv.tr[WR];
    tdu_buf a = tdu_buf_new(0, 16 * KB), b = tdu_buf_new(0, 8 * KB);
    assert_int_equal(WdfDmaTransactionInitialize(first, TdrvEvtProgramDma, WR, a.mdl, a.va,
                                                 a.len), STATUS_SUCCESS);
    assert_int_equal(tdu_execute(first, NULL), STATUS_SUCCESS);
    assert_int_equal(tdrv.program_calls, 1);
    assert_true(tdu_regs_in_use(&t) >= 3);      /* too few left for the 8 KiB one */
    assert_int_equal(WdfDmaTransactionInitialize(tr, TdrvEvtProgramDma, WR, b.mdl, b.va, b.len),
                     STATUS_SUCCESS);
    assert_int_equal(tdu_execute(tr, NULL), STATUS_SUCCESS);
    assert_int_equal(tdrv.program_calls, 1);    /* waiting for map registers */
    uint64_t findings = mach_findings(t.m);
    NTSTATUS st = STATUS_SUCCESS;
    if (final) {
        assert_true(WdfDmaTransactionDmaCompletedFinal(tr, 0, &st));
        assert_int_equal(mach_findings(t.m), findings);
    } else {
        assert_true(WdfDmaTransactionDmaCompletedWithLength(tr, 100, &st));
        assert_int_equal(st, STATUS_INVALID_DEVICE_STATE);
        assert_int_equal(tdu_state(tr), FX_DMA_TRANSFER_FAILED);
        assert_int_equal(mach_findings(t.m), findings + 1);
    }
    /* The first finishes; its registers free; nothing is granted to the withdrawn one. */
    unsigned transfers = tdu_drain(first, &st);
    assert_int_equal(st, STATUS_SUCCESS);
    (void)wdfdma_machine_run(t.m);
    mach_enter(t.m);
    assert_int_equal(tdrv.program_calls, (LONG)transfers);
    for (unsigned i = 0; i < transfers && i < TDU_MAX_RECORDS; i++)
        assert_ptr_equal(tdrv.rec[i].transaction, first);
    tdu_assert_idle(&t);
    assert_int_equal(WdfDmaTransactionRelease(first), STATUS_SUCCESS);
    assert_int_equal(WdfDmaTransactionRelease(tr), STATUS_SUCCESS);
    /* and the transaction works again */
    assert_int_equal(WdfDmaTransactionInitialize(tr, TdrvEvtProgramDma, WR, b.mdl, b.va, b.len),
                     STATUS_SUCCESS);
    assert_int_equal(tdu_execute(tr, NULL), STATUS_SUCCESS);
    assert_true(tdrv.program_calls > (LONG)transfers);
    (void)tdu_drain(tr, &st);
    assert_int_equal(st, STATUS_SUCCESS);
    assert_int_equal(WdfDmaTransactionRelease(tr), STATUS_SUCCESS);
    tdu_assert_idle(&t);
    tdu_buf_free(&a);
    tdu_buf_free(&b);
    tdu_down(&t);
}

static void test_completed_while_waiting(void **state)
{
    (void)state;
    completed_while_waiting(WdfDmaProfileScatterGather, 3, false);
    completed_while_waiting(WdfDmaProfileScatterGather, 0, false);
    completed_while_waiting(WdfDmaProfilePacket, 3, false);
    completed_while_waiting(WdfDmaProfileScatterGather, 3, true);
    completed_while_waiting(WdfDmaProfilePacket, 3, true);
}

/* Data through the device on reserved registers (v3 packet, bounce on a 32-bit device). */
static void test_reserved_hw_data(void **state)
{
    (void)state;
    tdu t;
    tdu_cfg_default();
    tdrv.cfg.profile = WdfDmaProfilePacket;
    tdrv.cfg.max_length = 16 * KB;
    tdrv.cfg.version = 3;
    tdrv.cfg.hw = true;
    tdu_opts o = {.engine = WDFDMA_ENGINE_SIM, .verifier = true, .memory = WDFDMA_MEM_ABOVE4G,
                  .device_options = "addr_bits=32"};
    tdu_up(&t, &o);
    WDFDMATRANSACTION tr = tdrv.tr[WR];
    assert_int_equal(WdfDmaTransactionAllocateResources(tr, WR, 2, TdrvEvtReserveDma, NULL),
                     STATUS_SUCCESS);
    size_t len = 13 * KB + 9, devlen;
    tdu_buf w = tdu_buf_new(333, len);
    tdu_fill(w.va, len, 3, 0);
    uint8_t *dm = tdu_devmem(&t, &devlen);
    tdrv_chan *c = tdu_run_hw(&t, tr, WR, w.mdl, w.va, len, 512);
    assert_int_equal(c->final_status, STATUS_SUCCESS);
    tdu_assert_pattern(dm + 512, len, 3, 0);
    WdfDmaTransactionRelease(tr);
    WdfDmaTransactionFreeResources(tr);
    wdfdma_dma_stats s;
    assert_int_equal(wdfdma_dma_get_stats(t.m, &s), 0);
    assert_true(s.bounced_bytes >= len);
    tdu_buf_free(&w);
    tdu_down(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_allocate_bad_arguments),
        cmocka_unit_test(test_reserve_explicit),
        cmocka_unit_test(test_reserve_computed),
        cmocka_unit_test(test_immediate_and_cancel),
        cmocka_unit_test(test_completed_while_waiting),
        cmocka_unit_test(test_reserved_hw_data),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
