/*
 * WDFDMATRANSACTION: the state machine (reference §3, behaviour 1), completion arithmetic
 * (§2, behaviour 3), staging inside Execute and DmaCompleted (behaviour 4), request
 * coupling (behaviour 7), the Release reset set (behaviour 8, §6), the single-transfer
 * requirement and the v2 packet one-transaction rule (behaviour 6).
 *
 * The test driver (fx_dma_testutil.h) is bound to an sgdma device; the test calls the DDIs
 * directly. In manual mode EvtProgramDma only records and the test reports completion; in
 * hardware mode the device moves the data and the driver's DPC reports it.
 * Order: bad arguments, then success, then wrong-state misuse.
 */
#include "fx_dma_testutil.h"

#define KB 1024u
#define RD WdfDmaDirectionReadFromDevice
#define WR WdfDmaDirectionWriteToDevice

static void up(tdu *t, WDF_DMA_PROFILE profile, size_t max_length, bool verifier)
{
    tdu_cfg_default();
    tdrv.cfg.profile = profile;
    tdrv.cfg.max_length = max_length;
    tdu_up_simple(t, WDFDMA_ENGINE_SIM, verifier);
    assert_int_equal(tdrv.enabler_status, STATUS_SUCCESS);
}

static WDFDMATRANSACTION new_tr(void)
{
    WDFDMATRANSACTION tr;
    assert_int_equal(WdfDmaTransactionCreate(tdrv.enabler, WDF_NO_OBJECT_ATTRIBUTES, &tr),
                     STATUS_SUCCESS);
    return tr;
}

/* ==== bad arguments ===================================================================== */

static void test_create_bad_arguments(void **state)
{
    (void)state;
    tdu t;
    up(&t, WdfDmaProfileScatterGather64, 16 * KB, true);
    WDFDMATRANSACTION tr;
    WDF_OBJECT_ATTRIBUTES a;
    WDF_OBJECT_ATTRIBUTES_INIT(&a);
    a.ParentObject = tdrv.device;   /* the parent is always the enabler */
    assert_int_equal(WdfDmaTransactionCreate(tdrv.enabler, &a, &tr),
                     STATUS_WDF_PARENT_ASSIGNMENT_NOT_ALLOWED);
    TDU_TRAP(&t, (void)WdfDmaTransactionCreate(tdrv.enabler, WDF_NO_OBJECT_ATTRIBUTES, NULL));
    assert_int_equal(t.bc.code, 0x10D);
    assert_int_equal(t.bc.p[0], WDF_REQUIRED_PARAMETER_IS_NULL);
    /* a handle of the wrong type */
    TDU_TRAP(&t, (void)WdfDmaTransactionCreate((WDFDMAENABLER)tdrv.device,
                                               WDF_NO_OBJECT_ATTRIBUTES, &tr));
    assert_int_equal(t.bc.code, 0x10D);
    assert_int_equal(t.bc.p[0], WDF_INVALID_HANDLE);
    TDU_TRAP(&t, (void)WdfDmaTransactionExecute((WDFDMATRANSACTION)tdrv.enabler, NULL));
    assert_int_equal(t.bc.p[0], WDF_INVALID_HANDLE);
    tdu_down(&t);
}

static void test_initialize_bad_arguments(void **state)
{
    (void)state;
    tdu t;
    up(&t, WdfDmaProfileScatterGather64, 16 * KB, true);
    WDFDMATRANSACTION tr = tdrv.tr[RD];
    tdu_buf b = tdu_buf_new(100, 3 * PAGE_SIZE);
    /* Length 0 and bad directions */
    assert_int_equal(WdfDmaTransactionInitialize(tr, TdrvEvtProgramDma, RD, b.mdl, b.va, 0),
                     STATUS_INVALID_PARAMETER);
    assert_int_equal(tdu_state(tr), FX_DMA_CREATED);
    assert_int_equal(WdfDmaTransactionInitialize(tr, TdrvEvtProgramDma, (WDF_DMA_DIRECTION)2,
                                                 b.mdl, b.va, 16),
                     STATUS_INVALID_PARAMETER);
    /* VA outside the first MDL, before and after */
    assert_int_equal(WdfDmaTransactionInitialize(tr, TdrvEvtProgramDma, RD, b.mdl, b.va - 1, 16),
                     STATUS_INVALID_PARAMETER);
    assert_int_equal(WdfDmaTransactionInitialize(tr, TdrvEvtProgramDma, RD, b.mdl,
                                                 b.va + b.len, 16),
                     STATUS_INVALID_PARAMETER);
    assert_int_equal(WdfDmaTransactionInitializeUsingOffset(tr, TdrvEvtProgramDma, RD, b.mdl,
                                                            b.len, 16),
                     STATUS_INVALID_PARAMETER);
    assert_int_equal(tdu_state(tr), FX_DMA_CREATED);
    /* NULL required pointers: 0x10D / WDF_REQUIRED_PARAMETER_IS_NULL */
    TDU_TRAP(&t, (void)WdfDmaTransactionInitialize(tr, NULL, RD, b.mdl, b.va, 16));
    assert_int_equal(t.bc.p[0], WDF_REQUIRED_PARAMETER_IS_NULL);
    TDU_TRAP(&t, (void)WdfDmaTransactionInitialize(tr, TdrvEvtProgramDma, RD, NULL, b.va, 16));
    assert_int_equal(t.bc.p[0], WDF_REQUIRED_PARAMETER_IS_NULL);
    /* A chain shorter than Length fails cleanly and leaves the transaction Released. */
    NTSTATUS st = WdfDmaTransactionInitialize(tr, TdrvEvtProgramDma, RD, b.mdl, b.va, b.len + 1);
    assert_int_equal(st, STATUS_INVALID_PARAMETER);
    assert_int_equal(tdu_state(tr), FX_DMA_RELEASED);
    /* ... also when the MDL ends exactly on a fragment boundary, so only a later fragment
     * would find the chain's end (fuzz_ddi: that walk went off the chain, through NULL) */
    tdu_buf f = tdu_buf_new(0, 16 * KB);
    assert_int_equal(WdfDmaTransactionInitialize(tr, TdrvEvtProgramDma, RD, f.mdl, f.va,
                                                 f.len + 1), STATUS_INVALID_PARAMETER);
    assert_int_equal(tdu_state(tr), FX_DMA_RELEASED);
    tdu_buf_free(&f);
    /* InitializeUsingOffset = Initialize at MdlVA + Offset */
    assert_int_equal(WdfDmaTransactionInitializeUsingOffset(tr, TdrvEvtProgramDma, RD, b.mdl,
                                                            b.len - 10, 10),
                     STATUS_SUCCESS);
    assert_int_equal(tdu_execute(tr, NULL), STATUS_SUCCESS);
    assert_int_equal(tdrv.program_calls, 1);
    assert_int_equal(tdrv.rec[0].length, 10);
    assert_int_equal(tdrv.rec[0].sg_bytes, 10);
    assert_int_equal(tdu_drain(tr, &st), 1);
    assert_int_equal(st, STATUS_SUCCESS);
    assert_int_equal(WdfDmaTransactionRelease(tr), STATUS_SUCCESS);
    /* DmaCompleted with a NULL status pointer */
    assert_int_equal(WdfDmaTransactionInitialize(tr, TdrvEvtProgramDma, RD, b.mdl, b.va, 64),
                     STATUS_SUCCESS);
    assert_int_equal(tdu_execute(tr, NULL), STATUS_SUCCESS);
    TDU_TRAP(&t, (void)WdfDmaTransactionDmaCompleted(tr, NULL));
    assert_int_equal(t.bc.p[0], WDF_REQUIRED_PARAMETER_IS_NULL);
    assert_int_equal(tdu_drain(tr, &st), 1);
    WdfDmaTransactionRelease(tr);
    tdu_buf_free(&b);
    tdu_down(&t);
}

/* ==== success: transfers, completion arithmetic, nesting =============================== */

/* GetBytesTransferred inside EvtProgramDma is the offset of this transfer; DmaCompleted
 * stages the next transfer before it returns (EvtProgramDma nested inside it, and the
 * first one nested inside Execute). */
static void test_full_completion_and_nesting(void **state)
{
    (void)state;
    tdu t;
    up(&t, WdfDmaProfileScatterGather64Duplex, 16 * KB, true);
    WDFDMATRANSACTION tr = tdrv.tr[WR];
    size_t len = 40 * KB + 123;
    tdu_buf b = tdu_buf_new(300, len);
    assert_int_equal(WdfDmaTransactionInitialize(tr, TdrvEvtProgramDma, WR, b.mdl, b.va, len),
                     STATUS_SUCCESS);
    assert_int_equal(tdu_state(tr), FX_DMA_INITIALIZED);
    assert_int_equal(WdfDmaTransactionGetBytesTransferred(tr), 0);
    assert_ptr_equal(WdfDmaTransactionGetDevice(tr), tdrv.device);
    assert_null(WdfDmaTransactionGetRequest(tr));
    int ctx_token;
    assert_int_equal(tdu_execute(tr, &ctx_token), STATUS_SUCCESS);
    assert_int_equal(tdu_state(tr), FX_DMA_TRANSFER);
    assert_int_equal(tdrv.program_calls, 1);
    assert_int_equal(tdrv.rec[0].in_execute, 1);        /* nested inside Execute */
    assert_int_equal(tdrv.rec[0].in_completed, 0);
    assert_int_equal(tdrv.rec[0].irql, DISPATCH_LEVEL);
    size_t expect[] = {16 * KB, 16 * KB, 8 * KB + 123};
    NTSTATUS st;
    for (unsigned i = 0; i < 3; i++) {
        tdrv_record *r = &tdrv.rec[i];
        assert_int_equal(r->offset, i * 16 * KB);
        assert_int_equal(r->length, expect[i]);
        assert_int_equal(r->sg_bytes, expect[i]);
        assert_int_equal(r->direction, WR);
        assert_int_equal(WdfDmaTransactionGetCurrentDmaTransferLength(tr), expect[i]);
        BOOLEAN done = tdu_completed(tr, &st);
        if (i < 2) {
            assert_false(done);
            assert_int_equal(st, STATUS_MORE_PROCESSING_REQUIRED);
            /* the next transfer was programmed before DmaCompleted returned */
            assert_int_equal(tdrv.program_calls, i + 2);
            assert_int_equal(tdrv.rec[i + 1].in_completed, 1);
            assert_int_equal(tdrv.rec[i + 1].in_execute, 0);
            assert_int_equal(WdfDmaTransactionGetBytesTransferred(tr), (i + 1) * 16 * KB);
        } else {
            assert_true(done);
            assert_int_equal(st, STATUS_SUCCESS);
        }
    }
    assert_int_equal(tdrv.program_calls, 3);
    assert_int_equal(tdu_state(tr), FX_DMA_TRANSFER_COMPLETED);
    assert_int_equal(WdfDmaTransactionGetCurrentDmaTransferLength(tr), 0);
    assert_int_equal(WdfDmaTransactionGetBytesTransferred(tr), len);
    tdu_assert_idle(&t);
    assert_int_equal(WdfDmaTransactionRelease(tr), STATUS_SUCCESS);
    assert_int_equal(tdu_state(tr), FX_DMA_RELEASED);
    assert_int_equal(WdfDmaTransactionGetBytesTransferred(tr), 0);
    /* reuse */
    assert_int_equal(WdfDmaTransactionInitialize(tr, TdrvEvtProgramDma, RD, b.mdl, b.va, 100),
                     STATUS_SUCCESS);
    assert_int_equal(tdu_execute(tr, NULL), STATUS_SUCCESS);
    assert_int_equal(tdrv.rec[3].direction, RD);
    assert_int_equal(tdrv.rec[3].offset, 0);
    assert_int_equal(tdu_drain(tr, &st), 1);
    assert_int_equal(st, STATUS_SUCCESS);
    WdfDmaTransactionRelease(tr);
    tdu_buf_free(&b);
    tdu_down(&t);
}

/* Partial completion: WithLength moves the next transfer's start back by the residue;
 * length 0 retries the same transfer; Final ends the transaction with what it records. */
static void test_partial_and_retry(void **state)
{
    (void)state;
    tdu t;
    up(&t, WdfDmaProfileScatterGather64Duplex, 16 * KB, true);
    WDFDMATRANSACTION tr = tdrv.tr[RD];
    size_t len = 40 * KB;
    tdu_buf b = tdu_buf_new(0, len);
    assert_int_equal(WdfDmaTransactionInitialize(tr, TdrvEvtProgramDma, RD, b.mdl, b.va, len),
                     STATUS_SUCCESS);
    assert_int_equal(tdu_execute(tr, NULL), STATUS_SUCCESS);
    NTSTATUS st;
    /* transfer 0: 16K, 1000 bytes arrive */
    assert_false(tdu_completed_len(tr, 1000, &st));
    assert_int_equal(st, STATUS_MORE_PROCESSING_REQUIRED);
    assert_int_equal(tdrv.program_calls, 2);
    assert_int_equal(tdrv.rec[1].offset, 1000);
    assert_int_equal(tdrv.rec[1].length, 16 * KB);
    assert_int_equal(tdrv.rec[1].in_completed, 1);
    assert_int_equal(WdfDmaTransactionGetBytesTransferred(tr), 1000);
    /* length 0: the same transfer again */
    assert_false(tdu_completed_len(tr, 0, &st));
    assert_int_equal(st, STATUS_MORE_PROCESSING_REQUIRED);
    assert_int_equal(tdrv.program_calls, 3);
    assert_int_equal(tdrv.rec[2].offset, 1000);
    assert_int_equal(tdrv.rec[2].length, 16 * KB);
    assert_int_equal(tdrv.rec[2].sg_bytes, 16 * KB);
    /* the whole transfer by WithLength(current) = DmaCompleted */
    assert_false(tdu_completed_len(tr, 16 * KB, &st));
    assert_int_equal(tdrv.rec[3].offset, 1000 + 16 * KB);
    assert_int_equal(tdrv.rec[3].length, 16 * KB);
    assert_false(tdu_completed(tr, &st));
    assert_int_equal(tdrv.rec[4].offset, 1000 + 32 * KB);
    assert_int_equal(tdrv.rec[4].length, len - 1000 - 32 * KB);
    assert_true(tdu_completed(tr, &st));
    assert_int_equal(st, STATUS_SUCCESS);
    assert_int_equal(WdfDmaTransactionGetBytesTransferred(tr), len);
    assert_int_equal(tdrv.program_calls, 5);
    WdfDmaTransactionRelease(tr);

    /* Final: records its length and ends at once, even with bytes remaining. */
    assert_int_equal(WdfDmaTransactionInitialize(tr, TdrvEvtProgramDma, RD, b.mdl, b.va, len),
                     STATUS_SUCCESS);
    assert_int_equal(tdu_execute(tr, NULL), STATUS_SUCCESS);
    assert_false(tdu_completed(tr, &st));
    assert_true(tdu_completed_final(tr, 77, &st));
    assert_int_equal(st, STATUS_SUCCESS);
    assert_int_equal(tdu_state(tr), FX_DMA_TRANSFER_COMPLETED);
    assert_int_equal(WdfDmaTransactionGetBytesTransferred(tr), 16 * KB + 77);
    assert_int_equal(WdfDmaTransactionGetCurrentDmaTransferLength(tr), 0);
    assert_int_equal(tdrv.program_calls, 7);
    tdu_assert_idle(&t);
    WdfDmaTransactionRelease(tr);

    /* Length above the current transfer: STATUS_INVALID_PARAMETER, TRUE, TransferFailed
     * (the source's behaviour, docs/kmdf-choices.md). */
    for (int final = 0; final < 2; final++) {
        assert_int_equal(WdfDmaTransactionInitialize(tr, TdrvEvtProgramDma, RD, b.mdl, b.va,
                                                     len),
                         STATUS_SUCCESS);
        assert_int_equal(tdu_execute(tr, NULL), STATUS_SUCCESS);
        BOOLEAN r = final ? tdu_completed_final(tr, 16 * KB + 1, &st)
                          : tdu_completed_len(tr, 16 * KB + 1, &st);
        assert_true(r);
        assert_int_equal(st, STATUS_INVALID_PARAMETER);
        assert_int_equal(tdu_state(tr), FX_DMA_TRANSFER_FAILED);
        assert_int_equal(WdfDmaTransactionGetCurrentDmaTransferLength(tr), 0);
        tdu_assert_idle(&t);
        WdfDmaTransactionRelease(tr);
    }
    tdu_buf_free(&b);
    tdu_down(&t);
}

/* SetMaximumLength only lowers the limit and Initialize resets it. */
static void test_set_maximum_length(void **state)
{
    (void)state;
    tdu t;
    up(&t, WdfDmaProfileScatterGather64, 16 * KB, true);
    WDFDMATRANSACTION tr = tdrv.tr[WR];
    tdu_buf b = tdu_buf_new(0, 20 * KB);
    NTSTATUS st;
    assert_int_equal(WdfDmaTransactionInitialize(tr, TdrvEvtProgramDma, WR, b.mdl, b.va, b.len),
                     STATUS_SUCCESS);
    WdfDmaTransactionSetMaximumLength(tr, 64 * KB);       /* higher: ignored */
    assert_int_equal(tdu_execute(tr, NULL), STATUS_SUCCESS);
    assert_int_equal(tdrv.rec[0].length, 16 * KB);
    assert_int_equal(tdu_drain(tr, &st), 2);
    WdfDmaTransactionRelease(tr);
    assert_int_equal(WdfDmaTransactionInitialize(tr, TdrvEvtProgramDma, WR, b.mdl, b.va, b.len),
                     STATUS_SUCCESS);
    WdfDmaTransactionSetMaximumLength(tr, 3 * KB);
    assert_int_equal(tdu_execute(tr, NULL), STATUS_SUCCESS);
    assert_int_equal(tdrv.rec[2].length, 3 * KB);
    assert_int_equal(tdu_drain(tr, &st), 7);              /* 6 x 3K + 2K */
    assert_int_equal(tdrv.rec[8].offset, 18 * KB);
    assert_int_equal(tdrv.rec[8].length, 2 * KB);
    WdfDmaTransactionRelease(tr);
    /* Initialize resets it */
    assert_int_equal(WdfDmaTransactionInitialize(tr, TdrvEvtProgramDma, WR, b.mdl, b.va, b.len),
                     STATUS_SUCCESS);
    assert_int_equal(tdu_execute(tr, NULL), STATUS_SUCCESS);
    assert_int_equal(tdrv.rec[9].length, 16 * KB);
    assert_int_equal(tdu_drain(tr, &st), 2);
    WdfDmaTransactionRelease(tr);
    tdu_buf_free(&b);
    tdu_down(&t);
}

/* The Release reset set (§6) and GetRequest after Release. */
static void test_release_reset_set(void **state)
{
    (void)state;
    tdu t;
    up(&t, WdfDmaProfileScatterGather64, 16 * KB, true);
    WDFDMATRANSACTION tr = tdrv.tr[WR];
    tdu_buf b = tdu_buf_new(0, 20 * KB);
    NTSTATUS st;
    assert_int_equal(WdfDmaTransactionInitialize(tr, TdrvEvtProgramDma, WR, b.mdl, b.va, b.len),
                     STATUS_SUCCESS);
    WdfDmaTransactionSetMaximumLength(tr, 4 * KB);
    assert_int_equal(tdu_execute(tr, &b), STATUS_SUCCESS);
    assert_false(tdu_completed(tr, &st));
    assert_int_equal(WdfDmaTransactionGetBytesTransferred(tr), 4 * KB);
    assert_true(tdu_completed_final(tr, 0, &st));
    assert_int_equal(WdfDmaTransactionGetBytesTransferred(tr), 4 * KB);   /* valid until Release */
    WdfDmaTransactionRelease(tr);
    fx_dma_transaction *x = (fx_dma_transaction *)fx_lookup((WDFOBJECT)tr, FX_TYPE_DMA_TRANSACTION);
    assert_int_equal(x->transferred, 0);
    assert_int_equal(x->remaining, 0);
    assert_int_equal(x->transaction_length, 0);
    assert_int_equal(x->cur_length, 0);
    assert_null(x->start_mdl);
    assert_null(x->program_dma);
    assert_null(x->acquired_context);
    assert_null(x->request);
    assert_int_equal(x->flags, 0);
    /* Release twice: a warning, no bug check, still Released */
    uint64_t f = mach_findings(t.m);
    assert_int_equal(WdfDmaTransactionRelease(tr), STATUS_SUCCESS);
    assert_int_equal(tdu_state(tr), FX_DMA_RELEASED);
    assert_int_equal(mach_findings(t.m), f + 1);
    tdu_buf_free(&b);
    tdu_down(&t);
}

/* MDL chains are walked across transfers (SG), refused on v2 packet enablers. */
static void test_mdl_chains(void **state)
{
    (void)state;
    tdu t;
    up(&t, WdfDmaProfileScatterGather64, 8 * KB, true);
    WDFDMATRANSACTION tr = tdrv.tr[WR];
    tdu_buf b = tdu_buf_new(0, 30 * KB);
    size_t cuts[] = {5000, 5100, 19000};
    PMDL chain = tdu_chain(b.va, b.len, cuts, 3);
    NTSTATUS st;
    assert_int_equal(WdfDmaTransactionInitialize(tr, TdrvEvtProgramDma, WR, chain, b.va + 10,
                                                 b.len - 10),
                     STATUS_SUCCESS);
    assert_int_equal(tdu_execute(tr, NULL), STATUS_SUCCESS);
    unsigned n = tdu_drain(tr, &st);
    assert_int_equal(st, STATUS_SUCCESS);
    size_t total = 0;
    for (unsigned i = 0; i < n; i++) {
        assert_int_equal(tdrv.rec[i].offset, total);
        assert_int_equal(tdrv.rec[i].sg_bytes, tdrv.rec[i].length);
        assert_true(tdrv.rec[i].length <= 8 * KB);
        total += tdrv.rec[i].length;
    }
    assert_int_equal(total, b.len - 10);
    WdfDmaTransactionRelease(tr);
    tdu_chain_free(chain);
    tdu_buf_free(&b);
    tdu_down(&t);

    /* v2 packet: a length past the first MDL is refused */
    up(&t, WdfDmaProfilePacket64, 8 * KB, true);
    b = tdu_buf_new(0, 12 * KB);
    chain = tdu_chain(b.va, b.len, cuts, 1);
    assert_int_equal(WdfDmaTransactionInitialize(tdrv.tr[WR], TdrvEvtProgramDma, WR, chain, b.va,
                                                 b.len),
                     STATUS_INVALID_PARAMETER);
    assert_int_equal(WdfDmaTransactionInitialize(tdrv.tr[WR], TdrvEvtProgramDma, WR, chain, b.va,
                                                 5000),
                     STATUS_SUCCESS);
    WdfDmaTransactionRelease(tdrv.tr[WR]);
    tdu_chain_free(chain);
    tdu_buf_free(&b);
    tdu_down(&t);
}

/* Data through the device, byte-exact, on both engines, with a chain and page offsets. */
static void hw_roundtrip(wdfdma_engine engine, WDF_DMA_PROFILE profile)
{
    tdu t;
    tdu_cfg_default();
    tdrv.cfg.profile = profile;
    tdrv.cfg.max_length = 12 * KB;
    tdrv.cfg.hw = true;
    tdu_opts o = {.engine = engine, .verifier = true};
    tdu_up(&t, &o);
    size_t len = 45 * KB + 7;
    tdu_buf w = tdu_buf_new(1234, len), r = tdu_buf_new(77, len);
    tdu_fill(w.va, len, 1, 0);
    size_t devlen;
    uint8_t *dm = tdu_devmem(&t, &devlen);
    memset(dm, 0xA5, 128 * KB);
    tdrv_chan *c = tdu_run_hw(&t, tdrv.tr[WR], WR, w.mdl, w.va, len, 1000);
    assert_int_equal(c->final_status, STATUS_SUCCESS);
    assert_int_equal(c->final_bytes, len);
    tdu_assert_pattern(dm + 1000, len, 1, 0);
    tdu_assert_bytes(dm, 1000, 0xA5);
    tdu_assert_bytes(dm + 1000 + len, 4096, 0xA5);
    WdfDmaTransactionRelease(tdrv.tr[WR]);
    c = tdu_run_hw(&t, tdrv.tr[RD], RD, r.mdl, r.va, len, 1000);
    assert_int_equal(c->final_status, STATUS_SUCCESS);
    assert_int_equal(c->final_bytes, len);
    tdu_assert_pattern(r.va, len, 1, 0);
    tdu_buf_guards_ok(&r);
    tdu_buf_guards_ok(&w);
    WdfDmaTransactionRelease(tdrv.tr[RD]);
    tdu_assert_idle(&t);
    tdu_buf_free(&w);
    tdu_buf_free(&r);
    tdu_down(&t);
}

static void test_hw_roundtrip_sim(void **state)
{
    (void)state;
    hw_roundtrip(WDFDMA_ENGINE_SIM, WdfDmaProfileScatterGather64Duplex);
    hw_roundtrip(WDFDMA_ENGINE_SIM, WdfDmaProfilePacket64);
}

static void test_hw_roundtrip_threads(void **state)
{
    (void)state;
    hw_roundtrip(WDFDMA_ENGINE_THREADS, WdfDmaProfileScatterGather64Duplex);
    hw_roundtrip(WDFDMA_ENGINE_THREADS, WdfDmaProfilePacket64);
}

/* GetTransferInfo in Initialized: v2 = pages spanned (worst case). */
static void test_get_transfer_info(void **state)
{
    (void)state;
    tdu t;
    up(&t, WdfDmaProfileScatterGather64, 16 * KB, true);
    WDFDMATRANSACTION tr = tdrv.tr[WR];
    tdu_buf b = tdu_buf_new(PAGE_SIZE - 8, 3 * PAGE_SIZE);
    assert_int_equal(WdfDmaTransactionInitialize(tr, TdrvEvtProgramDma, WR, b.mdl, b.va, b.len),
                     STATUS_SUCCESS);
    ULONG mr = 0, sg = 0;
    WdfDmaTransactionGetTransferInfo(tr, &mr, &sg);
    assert_int_equal(mr, 4);
    assert_int_equal(sg, 4);
    WdfDmaTransactionRelease(tr);
    tdu_buf_free(&b);
    tdu_down(&t);
}

/* ==== single-transfer requirement, v2 packet exclusivity ================================ */

static void test_single_transfer(void **state)
{
    (void)state;
    tdu t;
    tdu_cfg_default();
    tdrv.cfg.profile = WdfDmaProfileScatterGather64;
    tdrv.cfg.max_length = 16 * KB;
    tdrv.cfg.version = 3;
    tdrv.cfg.flags = WDF_DMA_ENABLER_CONFIG_REQUIRE_SINGLE_TRANSFER;
    tdrv.cfg.max_sg = 2;
    tdu_opts o = {.engine = WDFDMA_ENGINE_SIM, .verifier = true, .map_register_limit = 4};
    tdu_up(&t, &o);
    assert_int_equal(tdrv.enabler_status, STATUS_SUCCESS);
    WDFDMATRANSACTION tr = tdrv.tr[WR];
    tdu_buf b = tdu_buf_new(0, 40 * KB);
    NTSTATUS st;
    /* longer than MaximumLength */
    assert_int_equal(WdfDmaTransactionInitialize(tr, TdrvEvtProgramDma, WR, b.mdl, b.va,
                                                 16 * KB + 1),
                     STATUS_WDF_TOO_MANY_TRANSFERS);
    assert_int_equal(tdu_state(tr), FX_DMA_RELEASED);
    /* more map registers than the adapter has (4; 16K at offset 100 spans 5 pages) */
    assert_int_equal(WdfDmaTransactionInitialize(tr, TdrvEvtProgramDma, WR, b.mdl, b.va + 100,
                                                 16 * KB),
                     STATUS_WDF_NOT_ENOUGH_MAP_REGISTERS);
    assert_int_equal(tdu_state(tr), FX_DMA_RELEASED);
    /* more elements than allowed (2; three pages) */
    assert_int_equal(WdfDmaTransactionInitialize(tr, TdrvEvtProgramDma, WR, b.mdl, b.va,
                                                 3 * PAGE_SIZE),
                     STATUS_WDF_TOO_FRAGMENTED);
    assert_int_equal(tdu_state(tr), FX_DMA_RELEASED);
    /* fits: one transfer covers it */
    assert_int_equal(WdfDmaTransactionInitialize(tr, TdrvEvtProgramDma, WR, b.mdl, b.va,
                                                 2 * PAGE_SIZE),
                     STATUS_SUCCESS);
    assert_int_equal(tdu_execute(tr, NULL), STATUS_SUCCESS);
    assert_int_equal(tdrv.rec[0].length, 2 * PAGE_SIZE);
    /* a partial completion of a single-transfer transaction: TOO_MANY_TRANSFERS */
    assert_true(tdu_completed_len(tr, 100, &st));
    assert_int_equal(st, STATUS_WDF_TOO_MANY_TRANSFERS);
    assert_int_equal(tdu_state(tr), FX_DMA_TRANSFER_FAILED);
    WdfDmaTransactionRelease(tr);
    tdu_assert_idle(&t);
    WdfDmaEnablerSetMaximumScatterGatherElements(tdrv.enabler, 8);
    /* per transaction: off, then Release restores the enabler's default (on) */
    WdfDmaTransactionSetSingleTransferRequirement(tr, FALSE);
    assert_int_equal(WdfDmaTransactionInitialize(tr, TdrvEvtProgramDma, WR, b.mdl, b.va,
                                                 16 * KB + 1),
                     STATUS_SUCCESS);
    assert_int_equal(tdu_execute(tr, NULL), STATUS_SUCCESS);
    assert_int_equal(tdu_drain(tr, &st), 2);
    WdfDmaTransactionRelease(tr);
    assert_int_equal(WdfDmaTransactionInitialize(tr, TdrvEvtProgramDma, WR, b.mdl, b.va,
                                                 16 * KB + 1),
                     STATUS_WDF_TOO_MANY_TRANSFERS);
    tdu_buf_free(&b);
    tdu_down(&t);
}

static void test_v2_packet_busy(void **state)
{
    (void)state;
    tdu t;
    up(&t, WdfDmaProfilePacket64, 16 * KB, false);
    tdu_buf b = tdu_buf_new(0, 8 * KB);
    NTSTATUS st;
    WDFDMATRANSACTION a = tdrv.tr[WR], c = tdrv.tr[RD];
    assert_int_equal(WdfDmaTransactionInitialize(a, TdrvEvtProgramDma, WR, b.mdl, b.va, 4 * KB),
                     STATUS_SUCCESS);
    assert_int_equal(tdu_execute(a, NULL), STATUS_SUCCESS);
    assert_int_equal(WdfDmaTransactionInitialize(c, TdrvEvtProgramDma, RD, b.mdl, b.va + 4 * KB,
                                                 4 * KB),
                     STATUS_SUCCESS);
    assert_int_equal(tdu_execute(c, NULL), STATUS_WDF_BUSY);
    assert_int_equal(tdu_state(c), FX_DMA_TRANSFER_FAILED);
    assert_int_equal(tdrv.program_calls, 1);
    WdfDmaTransactionRelease(c);
    assert_int_equal(tdu_drain(a, &st), 1);
    WdfDmaTransactionRelease(a);
    /* once the first is over, the second runs */
    assert_int_equal(WdfDmaTransactionInitialize(c, TdrvEvtProgramDma, RD, b.mdl, b.va, 4 * KB),
                     STATUS_SUCCESS);
    assert_int_equal(tdu_execute(c, NULL), STATUS_SUCCESS);
    assert_int_equal(tdu_drain(c, &st), 1);
    assert_int_equal(st, STATUS_SUCCESS);
    WdfDmaTransactionRelease(c);
    tdu_assert_idle(&t);
    tdu_buf_free(&b);
    tdu_down(&t);
}

/* ==== requests: InitializeUsingRequest, coupling ======================================== */

static volatile LONG io_done;
static int32_t io_status;
static size_t io_info;
static void on_io(void *ctx, int32_t status, size_t information)
{
    (void)ctx;
    io_status = status;
    io_info = information;
    __atomic_fetch_add(&io_done, 1, __ATOMIC_ACQ_REL);
}

static WDFREQUEST next_request(tdu *t)
{
    WDFREQUEST r = NULL;
    mach_enter(t->m);
    if (!NT_SUCCESS(WdfIoQueueRetrieveNextRequest(tdrv.queue, &r))) {
        (void)wdfdma_machine_run(t->m);
        mach_enter(t->m);
        assert_int_equal(WdfIoQueueRetrieveNextRequest(tdrv.queue, &r), STATUS_SUCCESS);
    }
    return r;
}

static void complete_and_wait(tdu *t, WDFREQUEST r, NTSTATUS st, LONG want_done)
{
    WdfRequestComplete(r, st);
    assert_true(tdu_wait(t, &io_done, want_done));
}

#define IOCTL_DMA(method) CTL_CODE(0x8000, 0x900 + (method), method, FILE_ANY_ACCESS)

static void test_initialize_using_request(void **state)
{
    (void)state;
    tdu t;
    up(&t, WdfDmaProfileScatterGather64Duplex, 16 * KB, true);
    io_done = 0;
    wdfdma_file *f;
    assert_int_equal(wdfdma_open(t.m, "sgdma0", &f), 0);
    static uint8_t buf[24 * KB], in[64];
    WDFDMATRANSACTION tr = tdrv.tr[RD];
    wdfdma_io *op;
    LONG n = 0;
    NTSTATUS st;

    /* READ: ReadFromDevice only */
    assert_int_equal(wdfdma_read_async(f, buf, sizeof buf, 0, on_io, NULL, &op), 0);
    WDFREQUEST r = next_request(&t);
    assert_int_equal(WdfDmaTransactionInitializeUsingRequest(tr, r, TdrvEvtProgramDma, WR),
                     STATUS_INVALID_DEVICE_REQUEST);
    assert_int_equal(WdfDmaTransactionInitializeUsingRequest(tr, r, TdrvEvtProgramDma, RD),
                     STATUS_SUCCESS);
    assert_ptr_equal(WdfDmaTransactionGetRequest(tr), r);
    assert_int_equal(tdu_execute(tr, NULL), STATUS_SUCCESS);
    assert_int_equal(tdrv.rec[0].length, 16 * KB);
    /* completing the request while its transaction is in Transfer: 0x10D, P1 = 3 */
    TDU_TRAP(&t, WdfRequestComplete(r, STATUS_SUCCESS));
    assert_int_equal(t.bc.code, 0x10D);
    assert_int_equal(t.bc.p[0], WDF_VERIFIER_FATAL_ERROR);
    assert_int_equal(t.bc.p[1], (uint64_t)(uintptr_t)r);
    assert_int_equal(t.bc.p[2], (uint64_t)(uintptr_t)tr);
    assert_int_equal(tdu_drain(tr, &st), 2);
    assert_ptr_equal(WdfDmaTransactionGetRequest(tr), r);   /* until Release */
    WdfDmaTransactionRelease(tr);
    assert_null(WdfDmaTransactionGetRequest(tr));
    complete_and_wait(&t, r, STATUS_SUCCESS, ++n);

    /* WRITE: WriteToDevice only */
    assert_int_equal(wdfdma_write_async(f, buf, 5000, 0, on_io, NULL, &op), 0);
    r = next_request(&t);
    assert_int_equal(WdfDmaTransactionInitializeUsingRequest(tr, r, TdrvEvtProgramDma, RD),
                     STATUS_INVALID_DEVICE_REQUEST);
    assert_int_equal(WdfDmaTransactionInitializeUsingRequest(tr, r, TdrvEvtProgramDma, WR),
                     STATUS_SUCCESS);
    WdfDmaTransactionRelease(tr);
    complete_and_wait(&t, r, STATUS_SUCCESS, ++n);

    /* IOCTLs: (method, direction, expected) */
    struct { ULONG method; WDF_DMA_DIRECTION dir; NTSTATUS want; size_t want_len; } cases[] = {
        {METHOD_IN_DIRECT, WR, STATUS_SUCCESS, 3000},
        {METHOD_IN_DIRECT, RD, STATUS_INVALID_DEVICE_REQUEST, 0},
        {METHOD_OUT_DIRECT, RD, STATUS_SUCCESS, 3000},
        {METHOD_OUT_DIRECT, WR, STATUS_INVALID_DEVICE_REQUEST, 0},
        {METHOD_NEITHER, RD, STATUS_INVALID_DEVICE_REQUEST, 0},
        {METHOD_NEITHER, WR, STATUS_INVALID_DEVICE_REQUEST, 0},
        {METHOD_BUFFERED, WR, STATUS_SUCCESS, sizeof in},   /* input length for writes */
        {METHOD_BUFFERED, RD, STATUS_SUCCESS, 3000},        /* output length for reads */
    };
    for (unsigned i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_int_equal(wdfdma_ioctl_async(f, IOCTL_DMA(cases[i].method), in, sizeof in, buf,
                                            3000, on_io, NULL, &op),
                         0);
        r = next_request(&t);
        st = WdfDmaTransactionInitializeUsingRequest(tr, r, TdrvEvtProgramDma, cases[i].dir);
        if (st != cases[i].want)
            fail_msg("ioctl case %u: %#x, expected %#x", i, (unsigned)st,
                     (unsigned)cases[i].want);
        if (NT_SUCCESS(st)) {
            assert_int_equal(tdu_execute(tr, NULL), STATUS_SUCCESS);
            tdrv_record *rec = &tdrv.rec[tdrv.program_calls - 1];
            assert_int_equal(rec->length, cases[i].want_len);
            assert_int_equal(tdu_drain(tr, &st), 1);
            assert_int_equal(WdfDmaTransactionGetBytesTransferred(tr), cases[i].want_len);
            WdfDmaTransactionRelease(tr);
        } else {
            assert_int_equal(tdu_state(tr), FX_DMA_RELEASED);
        }
        complete_and_wait(&t, r, STATUS_SUCCESS, ++n);
    }
    /* zero length */
    assert_int_equal(wdfdma_ioctl_async(f, IOCTL_DMA(METHOD_OUT_DIRECT), in, sizeof in, buf, 0,
                                        on_io, NULL, &op),
                     0);
    r = next_request(&t);
    assert_int_equal(WdfDmaTransactionInitializeUsingRequest(tr, r, TdrvEvtProgramDma, RD),
                     STATUS_INVALID_DEVICE_REQUEST);
    complete_and_wait(&t, r, STATUS_SUCCESS, ++n);
    assert_int_equal(io_done, n);
    assert_int_equal(wdfdma_outstanding(f), 0);
    assert_int_equal(wdfdma_close(f), 0);
    tdu_down(&t);
}

/* A request through the hardware: the DPC releases the transaction then completes the
 * request, exactly once, with the data in place. */
static void test_request_through_hardware(void **state)
{
    (void)state;
    tdu t;
    tdu_cfg_default();
    tdrv.cfg.max_length = 8 * KB;
    tdrv.cfg.hw = true;
    tdu_up_simple(&t, WDFDMA_ENGINE_SIM, true);
    io_done = 0;
    wdfdma_file *f;
    assert_int_equal(wdfdma_open(t.m, "sgdma0", &f), 0);
    size_t len = 21 * KB + 5, devlen;
    uint8_t *dm = tdu_devmem(&t, &devlen);
    tdu_fill(dm + 4096, len, 9, 0);
    static uint8_t buf[32 * KB];
    memset(buf, TDU_CANARY, sizeof buf);
    wdfdma_io *op;
    assert_int_equal(wdfdma_read_async(f, buf + 64, len, 0, on_io, NULL, &op), 0);
    WDFREQUEST r = next_request(&t);
    tdrv_chan *c = &tdrv.chan[SGDMA_CH_FROM_DEVICE];
    c->dev_base = 4096;
    c->request = r;
    assert_int_equal(WdfDmaTransactionInitializeUsingRequest(tdrv.tr[RD], r, TdrvEvtProgramDma,
                                                             RD),
                     STATUS_SUCCESS);
    assert_int_equal(tdu_execute(tdrv.tr[RD], c), STATUS_SUCCESS);
    assert_true(tdu_wait(&t, &io_done, 1));
    assert_int_equal(io_status, STATUS_SUCCESS);
    assert_int_equal(io_info, len);
    tdu_assert_pattern(buf + 64, len, 9, 0);
    tdu_assert_bytes(buf, 64, TDU_CANARY);
    tdu_assert_bytes(buf + 64 + len, sizeof buf - 64 - len, TDU_CANARY);
    assert_int_equal(tdrv.program_calls, 3);
    assert_int_equal(c->finished, 1);
    (void)wdfdma_machine_run(t.m);
    assert_int_equal(io_done, 1);
    assert_int_equal(wdfdma_close(f), 0);
    tdu_down(&t);
}

/* ==== wrong state: the §3 table ========================================================= */

enum { S_CR, S_RS, S_IN, S_TR, S_TC, S_TF, S_RL, S_COUNT };
static const fx_dma_state state_of[S_COUNT] = {
    FX_DMA_CREATED, FX_DMA_RESERVED, FX_DMA_INITIALIZED, FX_DMA_TRANSFER,
    FX_DMA_TRANSFER_COMPLETED, FX_DMA_TRANSFER_FAILED, FX_DMA_RELEASED,
};

static tdu_buf sm_buf;

static void sm_init(WDFDMATRANSACTION tr)
{
    assert_int_equal(WdfDmaTransactionInitialize(tr, TdrvEvtProgramDma, WR, sm_buf.mdl,
                                                 sm_buf.va, 2048),
                     STATUS_SUCCESS);
}

/* A new transaction brought to state s. */
static WDFDMATRANSACTION sm_make(int s)
{
    WDFDMATRANSACTION tr = new_tr();
    NTSTATUS st;
    switch (s) {
    case S_CR:
        break;
    case S_RS:
        assert_int_equal(WdfDmaTransactionAllocateResources(tr, WR, 2, TdrvEvtReserveDma, NULL),
                         STATUS_SUCCESS);
        break;
    case S_IN:
        sm_init(tr);
        break;
    case S_TR:
        sm_init(tr);
        assert_int_equal(tdu_execute(tr, NULL), STATUS_SUCCESS);
        break;
    case S_TC:
        sm_init(tr);
        assert_int_equal(tdu_execute(tr, NULL), STATUS_SUCCESS);
        assert_true(tdu_completed(tr, &st));
        break;
    case S_TF:
        sm_init(tr);
        assert_int_equal(tdu_execute(tr, NULL), STATUS_SUCCESS);
        assert_true(tdu_completed_len(tr, 4096, &st));
        assert_int_equal(st, STATUS_INVALID_PARAMETER);
        break;
    case S_RL:
        sm_init(tr);
        WdfDmaTransactionRelease(tr);
        break;
    }
    assert_int_equal(tdu_state(tr), state_of[s]);
    return tr;
}

/* End any transfer and delete the transaction. */
static void sm_drop(WDFDMATRANSACTION tr)
{
    NTSTATUS st;
    if (tdu_state(tr) == FX_DMA_TRANSFER)
        assert_true(tdu_completed_final(tr, 0, &st));
    WdfObjectDelete(tr);
}

typedef enum { C_INIT, C_EXEC, C_DONE, C_DONE_LEN, C_DONE_FINAL, C_INFO, C_ALLOC, C_FREE,
               C_CANCEL, C_COUNT } call_kind;
static const char *const call_names[] = {"Initialize", "Execute", "DmaCompleted",
                                         "DmaCompletedWithLength", "DmaCompletedFinal",
                                         "GetTransferInfo", "AllocateResources",
                                         "FreeResources", "Cancel"};

static void sm_call(call_kind c, WDFDMATRANSACTION tr)
{
    NTSTATUS st;
    ULONG a, b;
    switch (c) {
    case C_INIT: sm_init(tr); break;
    case C_EXEC: (void)WdfDmaTransactionExecute(tr, NULL); break;
    case C_DONE: (void)WdfDmaTransactionDmaCompleted(tr, &st); break;
    case C_DONE_LEN: (void)WdfDmaTransactionDmaCompletedWithLength(tr, 0, &st); break;
    case C_DONE_FINAL: (void)WdfDmaTransactionDmaCompletedFinal(tr, 0, &st); break;
    case C_INFO: WdfDmaTransactionGetTransferInfo(tr, &a, &b); break;
    case C_ALLOC:
        (void)WdfDmaTransactionAllocateResources(tr, WR, 2, TdrvEvtReserveDma, NULL);
        break;
    case C_FREE: WdfDmaTransactionFreeResources(tr); break;
    case C_CANCEL: (void)WdfDmaTransactionCancel(tr); break;
    default: break;
    }
}

/*           Cr Rs In Tr TC TF Rl   (1 = bug check) */
static const char table[C_COUNT][S_COUNT] = {
    [C_INIT] = {0, 0, 1, 1, 1, 1, 0},
    [C_EXEC] = {1, 1, 0, 1, 1, 1, 1},
    [C_DONE] = {1, 1, 1, 0, 1, 1, 1},
    [C_DONE_LEN] = {1, 1, 1, 0, 1, 1, 1},
    [C_DONE_FINAL] = {1, 1, 1, 0, 1, 1, 1},
    [C_INFO] = {1, 1, 0, 1, 1, 1, 1},
    [C_ALLOC] = {0, 1, 0, 1, 1, 1, 0},
    [C_FREE] = {1, 0, 0, 1, 0, 0, 0},
    [C_CANCEL] = {1, 0, 0, 0, 0, 0, 1},
};

static void state_table(WDF_DMA_PROFILE profile, bool v3_rows)
{
    tdu t;
    tdu_cfg_default();
    tdrv.cfg.profile = profile;
    tdrv.cfg.max_length = 16 * KB;
    tdrv.cfg.version = v3_rows ? 3 : 0;
    tdu_up_simple(&t, WDFDMA_ENGINE_SIM, false);   /* BC cells are not verifier-gated */
    assert_int_equal(tdrv.enabler_status, STATUS_SUCCESS);
    sm_buf = tdu_buf_new(0, 4096);
    for (int c = 0; c < C_COUNT; c++) {
        bool v3_only = c == C_ALLOC || c == C_FREE || c == C_CANCEL;
        if (v3_only && !v3_rows)
            continue;
        for (int s = 0; s < S_COUNT; s++) {
            if (s == S_RS && !v3_rows)
                continue;
            WDFDMATRANSACTION tr = sm_make(s);
            if (table[c][s]) {
                int before = t.traps;
                t.armed = true;
                if (setjmp(t.jb) == 0)
                    sm_call((call_kind)c, tr);
                t.armed = false;
                if (t.traps != before + 1)
                    fail_msg("%s in state %s: no bug check", call_names[c],
                             fx_dma_state_name(state_of[s]));
                if (t.bc.code != 0x10D || t.bc.p[0] != WDF_DMA_FATAL_ERROR ||
                    t.bc.p[1] != (uint64_t)(uintptr_t)tr || t.bc.p[2] != (uint64_t)state_of[s])
                    fail_msg("%s in state %s: bug check %#x (%#llx, %#llx, %#llx)",
                             call_names[c], fx_dma_state_name(state_of[s]), t.bc.code,
                             (unsigned long long)t.bc.p[0], (unsigned long long)t.bc.p[1],
                             (unsigned long long)t.bc.p[2]);
                assert_int_equal(tdu_state(tr), state_of[s]);   /* untouched */
            } else {
                sm_call((call_kind)c, tr);   /* allowed: no bug check */
            }
            sm_drop(tr);
        }
    }
    if (v3_rows)
        assert_true(tdrv.reserve_calls > 0);   /* EvtReserveDma ran for Reserved */
    tdu_buf_free(&sm_buf);
    tdu_down(&t);
}

static void test_state_table_sg(void **state)
{
    (void)state;
    state_table(WdfDmaProfileScatterGather64, false);
}

static void test_state_table_packet_v3(void **state)
{
    (void)state;
    state_table(WdfDmaProfilePacket64, true);
}

/* Release in Transfer: a bug check with the verifier, allowed without. */
static void test_release_in_transfer(void **state)
{
    (void)state;
    tdu t;
    up(&t, WdfDmaProfileScatterGather64, 16 * KB, true);
    tdu_buf b = tdu_buf_new(0, 4096);
    WDFDMATRANSACTION tr = tdrv.tr[WR];
    NTSTATUS st;
    assert_int_equal(WdfDmaTransactionInitialize(tr, TdrvEvtProgramDma, WR, b.mdl, b.va, 4096),
                     STATUS_SUCCESS);
    assert_int_equal(tdu_execute(tr, NULL), STATUS_SUCCESS);
    TDU_EXPECT_DMA_FATAL(&t, tr, FX_DMA_TRANSFER, WdfDmaTransactionRelease(tr));
    assert_int_equal(tdu_state(tr), FX_DMA_TRANSFER);
    assert_true(tdu_completed(tr, &st));
    WdfDmaTransactionRelease(tr);
    tdu_buf_free(&b);
    tdu_down(&t);

    up(&t, WdfDmaProfileScatterGather64, 16 * KB, false);
    b = tdu_buf_new(0, 4096);
    tr = tdrv.tr[WR];
    assert_int_equal(WdfDmaTransactionInitialize(tr, TdrvEvtProgramDma, WR, b.mdl, b.va, 4096),
                     STATUS_SUCCESS);
    assert_int_equal(tdu_execute(tr, NULL), STATUS_SUCCESS);
    assert_int_equal(WdfDmaTransactionRelease(tr), STATUS_SUCCESS);
    assert_int_equal(tdu_state(tr), FX_DMA_RELEASED);
    tdu_assert_idle(&t);
    tdu_buf_free(&b);
    tdu_down(&t);
}

/* Delete in Transfer without the verifier releases everything. */
static void test_delete_in_transfer_no_verifier(void **state)
{
    (void)state;
    tdu t;
    up(&t, WdfDmaProfileScatterGather64, 16 * KB, false);
    tdu_buf b = tdu_buf_new(0, 8192);
    WDFDMATRANSACTION tr = new_tr();
    assert_int_equal(WdfDmaTransactionInitialize(tr, TdrvEvtProgramDma, WR, b.mdl, b.va, 8192),
                     STATUS_SUCCESS);
    assert_int_equal(tdu_execute(tr, NULL), STATUS_SUCCESS);
    WdfObjectDelete(tr);
    tdu_assert_idle(&t);
    tdu_buf_free(&b);
    tdu_down(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_bad_arguments),
        cmocka_unit_test(test_initialize_bad_arguments),
        cmocka_unit_test(test_full_completion_and_nesting),
        cmocka_unit_test(test_partial_and_retry),
        cmocka_unit_test(test_set_maximum_length),
        cmocka_unit_test(test_release_reset_set),
        cmocka_unit_test(test_mdl_chains),
        cmocka_unit_test(test_hw_roundtrip_sim),
        cmocka_unit_test(test_hw_roundtrip_threads),
        cmocka_unit_test(test_get_transfer_info),
        cmocka_unit_test(test_single_transfer),
        cmocka_unit_test(test_v2_packet_busy),
        cmocka_unit_test(test_initialize_using_request),
        cmocka_unit_test(test_request_through_hardware),
        cmocka_unit_test(test_state_table_sg),
        cmocka_unit_test(test_state_table_packet_v3),
        cmocka_unit_test(test_release_in_transfer),
        cmocka_unit_test(test_delete_in_transfer_no_verifier),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
