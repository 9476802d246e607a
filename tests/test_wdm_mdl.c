/*
 * MDLs: layout of the byte offset and PFN array, frames from the placement policy
 * (matching MmGetPhysicalAddress), chains through an IRP, partial MDLs, non-paged pool,
 * the lookaside, unlock freeing frames, and the misuse bug checks.
 */
#include "wdm_testutil.h"

static uint64_t frames_in_use(wdfdma_machine *m)
{
    wdfdma_machine_stats st;
    wdfdma_machine_get_stats(m, &st);
    return st.frames_in_use;
}

static void test_bad_arguments(void **state)
{
    (void)state;
    wdfdma_machine *m = wt_machine(WDFDMA_ENGINE_SIM);
    static char buf[64];
    assert_int_equal(wdm_mdl_outstanding(), 0);
    assert_null(IoAllocateMdl(buf, 0, FALSE, FALSE, NULL));
    assert_null(IoAllocateMdl(buf, 0xFFFFF001u, FALSE, FALSE, NULL));  /* over 4 GiB - PAGE_SIZE */
    wdm_pool_fail_nth(1);
    assert_null(IoAllocateMdl(buf, 16, FALSE, FALSE, NULL));
    wdm_pool_fail_nth(0);
    wdfdma_machine_destroy(m);
}

static void test_lock_fills_pfns(void **state)
{
    (void)state;
    wdm_pool_stats before;
    wdm_pool_get_stats(&before);
    wdfdma_machine *m = wt_machine_policy(WDFDMA_ENGINE_SIM, WDFDMA_MEM_CONTIGUOUS);
    uint64_t frames0 = frames_in_use(m);
    UCHAR *host = aligned_alloc(PAGE_SIZE, 4 * PAGE_SIZE);
    UCHAR *va = host + 0x123;
    ULONG len = 2 * PAGE_SIZE + 100;              /* spans 3 pages */
    PMDL mdl = IoAllocateMdl(va, len, FALSE, FALSE, NULL);
    assert_non_null(mdl);
    assert_ptr_equal(mdl->StartVa, host);
    assert_int_equal(MmGetMdlByteOffset(mdl), 0x123);
    assert_int_equal(MmGetMdlByteCount(mdl), len);
    assert_ptr_equal(MmGetMdlVirtualAddress(mdl), va);
    assert_true(mdl->Size >= (CSHORT)(sizeof(MDL) + 3 * sizeof(PFN_NUMBER)));

    MmProbeAndLockPages(mdl, KernelMode, IoWriteAccess);
    assert_true(mdl->MdlFlags & MDL_PAGES_LOCKED);
    assert_true(mdl->MdlFlags & MDL_WRITE_OPERATION);
    assert_int_equal(frames_in_use(m), frames0 + 3);
    PPFN_NUMBER pfn = MmGetMdlPfnArray(mdl);
    for (int i = 0; i < 3; i++) {
        assert_int_not_equal(pfn[i], 0);
        PHYSICAL_ADDRESS pa = MmGetPhysicalAddress(host + i * PAGE_SIZE + 8);
        assert_int_equal(pa.QuadPart, (LONGLONG)(pfn[i] << PAGE_SHIFT) + 8);
        if (i > 0)
            assert_int_equal(pfn[i], pfn[i - 1] + 1);   /* contiguous policy */
    }
    assert_ptr_equal(MmGetSystemAddressForMdlSafe(mdl, NormalPagePriority), va);
    assert_true(mdl->MdlFlags & MDL_MAPPED_TO_SYSTEM_VA);

    MmUnlockPages(mdl);
    assert_int_equal(frames_in_use(m), frames0);
    assert_int_equal(MmGetPhysicalAddress(host).QuadPart, 0);
    IoFreeMdl(mdl);
    free(host);
    wt_finish(m, &before);
}

static void test_scattered_frames_differ(void **state)
{
    (void)state;
    wdfdma_machine *m = wt_machine_policy(WDFDMA_ENGINE_SIM, WDFDMA_MEM_SCATTERED);
    UCHAR *host = aligned_alloc(PAGE_SIZE, 8 * PAGE_SIZE);
    PMDL mdl = IoAllocateMdl(host, 8 * PAGE_SIZE, FALSE, FALSE, NULL);
    MmProbeAndLockPages(mdl, KernelMode, IoReadAccess);
    PPFN_NUMBER pfn = MmGetMdlPfnArray(mdl);
    int consecutive = 0;
    for (int i = 1; i < 8; i++) {
        assert_int_not_equal(pfn[i], pfn[i - 1]);
        consecutive += pfn[i] == pfn[i - 1] + 1;
    }
    assert_true(consecutive < 7);
    assert_false(mdl->MdlFlags & MDL_WRITE_OPERATION);
    MmUnlockPages(mdl);
    IoFreeMdl(mdl);
    free(host);
    wdfdma_machine_destroy(m);
}

static void test_chain_through_irp(void **state)
{
    (void)state;
    wdm_pool_stats before;
    wdm_pool_get_stats(&before);
    wdfdma_machine *m = wt_machine(WDFDMA_ENGINE_SIM);
    static UCHAR a[100], b[5000], c[10];
    IRP irp;
    memset(&irp, 0, sizeof(irp));
    PMDL m1 = IoAllocateMdl(a, sizeof(a), FALSE, FALSE, &irp);
    PMDL m2 = IoAllocateMdl(b, sizeof(b), TRUE, FALSE, &irp);
    PMDL m3 = IoAllocateMdl(c, sizeof(c), TRUE, FALSE, &irp);
    assert_ptr_equal(irp.MdlAddress, m1);
    assert_ptr_equal(m1->Next, m2);
    assert_ptr_equal(m2->Next, m3);
    assert_null(m3->Next);
    ULONG total = 0;
    for (PMDL p = irp.MdlAddress; p != NULL; p = p->Next) {
        MmProbeAndLockPages(p, KernelMode, IoReadAccess);
        total += MmGetMdlByteCount(p);
    }
    assert_int_equal(total, sizeof(a) + sizeof(b) + sizeof(c));
    for (PMDL p = irp.MdlAddress, next; p != NULL; p = next) {
        next = p->Next;
        MmUnlockPages(p);
        IoFreeMdl(p);
    }
    wt_finish(m, &before);
}

static void test_partial_and_nonpaged(void **state)
{
    (void)state;
    wdfdma_machine *m = wt_machine(WDFDMA_ENGINE_SIM);
    uint64_t frames0 = frames_in_use(m);
    UCHAR *pool = ExAllocatePool2(POOL_FLAG_NON_PAGED, 3 * PAGE_SIZE, 0x6C6F6F50u);
    PMDL mdl = IoAllocateMdl(pool, 3 * PAGE_SIZE, FALSE, FALSE, NULL);
    MmBuildMdlForNonPagedPool(mdl);
    assert_true(mdl->MdlFlags & MDL_SOURCE_IS_NONPAGED_POOL);
    assert_ptr_equal(MmGetSystemAddressForMdlSafe(mdl, NormalPagePriority), pool);
    assert_true(frames_in_use(m) > frames0);

    UCHAR *mid = pool + PAGE_SIZE + 16;
    PMDL part = IoAllocateMdl(mid, 100, FALSE, FALSE, NULL);
    IoBuildPartialMdl(mdl, part, mid, 100);
    assert_true(part->MdlFlags & MDL_PARTIAL);
    assert_int_equal(MmGetMdlByteOffset(part), BYTE_OFFSET(mid));
    assert_int_equal(MmGetMdlPfnArray(part)[0],
                     (PFN_NUMBER)(MmGetPhysicalAddress(mid).QuadPart >> PAGE_SHIFT));
    IoFreeMdl(part);
    IoFreeMdl(mdl);
    assert_int_equal(frames_in_use(m), frames0);
    ExFreePool(pool);
    wdfdma_machine_destroy(m);
}

static void test_lookaside_reuse(void **state)
{
    (void)state;
    wdfdma_machine *m = wt_machine(WDFDMA_ENGINE_SIM);
    static UCHAR buf[256];
    PMDL a = IoAllocateMdl(buf, sizeof(buf), FALSE, FALSE, NULL);
    IoFreeMdl(a);
    unsigned depth = wdm_mdl_lookaside_depth();
    assert_true(depth >= 1);
    PMDL b = IoAllocateMdl(buf + 8, 16, FALSE, FALSE, NULL);
    assert_ptr_equal(b, a);                            /* reused: no allocation when warm */
    assert_int_equal(wdm_mdl_lookaside_depth(), depth - 1);
    assert_int_equal(MmGetMdlByteOffset(b), BYTE_OFFSET(buf + 8));
    IoFreeMdl(b);
    wdfdma_machine_destroy(m);
}

static void test_misuse_bugchecks(void **state)
{
    (void)state;
    wdfdma_machine *m = wt_machine(WDFDMA_ENGINE_SIM);
    wt_trap trap;
    wt_trap_install(m, &trap);
    static UCHAR buf[64];
    PMDL mdl = IoAllocateMdl(buf, sizeof(buf), FALSE, FALSE, NULL);
    WT_EXPECT_BUGCHECK(&trap, MmUnlockPages(mdl));
    assert_int_equal(trap.bc.code, 0x4E);
    assert_int_equal(trap.bc.p[0], 7);
    MmProbeAndLockPages(mdl, KernelMode, IoReadAccess);
    WT_EXPECT_BUGCHECK(&trap, MmProbeAndLockPages(mdl, KernelMode, IoReadAccess));
    assert_int_equal(trap.bc.code, KMODE_EXCEPTION_NOT_HANDLED);
    assert_int_equal(wdm_mdl_lock(mdl, IoReadAccess), STATUS_INVALID_PARAMETER);
    MmUnlockPages(mdl);
    IoFreeMdl(mdl);
    wdfdma_machine_destroy(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_lock_fills_pfns),
        cmocka_unit_test(test_scattered_frames_differ),
        cmocka_unit_test(test_chain_through_irp),
        cmocka_unit_test(test_partial_and_nonpaged),
        cmocka_unit_test(test_lookaside_reuse),
        cmocka_unit_test(test_misuse_bugchecks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
