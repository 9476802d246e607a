/*
 * Physical memory: frame assignment by placement policy, reference counting, contiguous
 * allocation, translation both ways, physical copies.
 * Order: bad arguments, then success, then wrong-state misuse.
 */
#include <errno.h>

#include "mach_testutil.h"

#define PAGES 64
#define G4 (1ull << 32)

static wdfdma_machine *machine_with(wdfdma_mem_policy policy, unsigned bits)
{
    wdfdma_machine_config c;
    wdfdma_machine_config_init(&c);
    c.memory = policy;
    c.phys_addr_bits = bits;
    wdfdma_machine *m = NULL;
    assert_int_equal(wdfdma_machine_create(&c, &m), 0);
    return m;
}

static void *pages(size_t n)
{
    void *p = aligned_alloc(4096, n * 4096);
    assert_non_null(p);
    memset(p, 0, n * 4096);
    return p;
}

static uint64_t frames_in_use(wdfdma_machine *m)
{
    wdfdma_machine_stats st;
    wdfdma_machine_get_stats(m, &st);
    return st.frames_in_use;
}

/* ---- bad arguments ------------------------------------------------------------------------ */
static void test_bad_arguments(void **state)
{
    (void)state;
    wdfdma_machine *m = tu_machine(WDFDMA_ENGINE_SIM, 1);
    mach_pfn pfns[2];
    char buf[16];
    void *va;
    uint64_t pa;
    assert_int_equal(mach_mem_lock(NULL, buf, 16, -1, pfns), -EINVAL);
    assert_int_equal(mach_mem_lock(m, NULL, 16, -1, pfns), -EINVAL);
    assert_int_equal(mach_mem_lock(m, buf, 0, -1, pfns), -EINVAL);
    assert_int_equal(mach_mem_lock(m, buf, 16, -1, NULL), -EINVAL);
    assert_int_equal(mach_mem_lock(m, buf, 16, 9, pfns), -EINVAL);
    assert_int_equal(mach_mem_alloc_contig(m, 0, 0, 0, &va, &pa), -EINVAL);
    assert_int_equal(mach_mem_alloc_contig(m, 4096, 0, 3 * 4096, &va, &pa), -EINVAL);
    assert_int_equal(mach_mem_alloc_contig(m, 4096, 0, 0, NULL, &pa), -EINVAL);
    /* a limit below the first usable frame cannot be met */
    assert_int_equal(mach_mem_alloc_contig(m, 4096, 0x10000, 0, &va, &pa), -ENOMEM);
    assert_null(mach_mem_host(m, 0));
    assert_null(mach_mem_host(m, 0x123456000ull));
    assert_int_equal(mach_mem_physical(m, buf), 0);
    assert_int_equal(mach_phys_read(m, 0x123456000ull, buf, 16), -EFAULT);
    assert_int_equal(mach_phys_write(m, 0x123456000ull, buf, 16), -EFAULT);
    assert_int_equal(mach_phys_read(m, (1ull << 40) - 8, buf, 16), -EFAULT);
    assert_int_equal(frames_in_use(m), 0);
    wdfdma_machine_destroy(m);
}

/* ---- success ------------------------------------------------------------------------------ */
static void test_scattered_frames(void **state)
{
    (void)state;
    wdfdma_machine *m = machine_with(WDFDMA_MEM_SCATTERED, 40);
    uint8_t *buf = pages(PAGES);
    mach_pfn pfns[PAGES];
    assert_int_equal(mach_mem_lock(m, buf, PAGES * 4096, -1, pfns), 0);
    int consecutive = 0;
    for (int i = 0; i < PAGES; i++) {
        assert_true(pfns[i] >= 0x100 && pfns[i] < (1ull << 28));
        assert_false(pfns[i] >= 0xC0000 && pfns[i] < 0x100000);   /* never the PCI hole */
        if (i && pfns[i] == pfns[i - 1] + 1)
            consecutive++;
        for (int k = 0; k < i; k++)
            assert_int_not_equal(pfns[i], pfns[k]);
    }
    assert_int_equal(consecutive, 0);
    assert_int_equal(frames_in_use(m), PAGES);
    /* translation both ways */
    for (int i = 0; i < PAGES; i++) {
        assert_ptr_equal(mach_mem_host(m, pfns[i] << 12 | 0x123), buf + i * 4096 + 0x123);
        assert_int_equal(mach_mem_physical(m, buf + i * 4096 + 7), pfns[i] << 12 | 7);
    }
    mach_mem_unlock(m, pfns, PAGES);
    assert_int_equal(frames_in_use(m), 0);
    assert_null(mach_mem_host(m, pfns[0] << 12));
    free(buf);
    wdfdma_machine_destroy(m);
}

static void test_policies_bounds(void **state)
{
    (void)state;
    wdfdma_machine *m = tu_machine(WDFDMA_ENGINE_SIM, 5);
    uint8_t *buf = pages(PAGES);
    mach_pfn pfns[PAGES];
    assert_int_equal(mach_mem_lock(m, buf, PAGES * 4096, WDFDMA_MEM_BELOW4G, pfns), 0);
    for (int i = 0; i < PAGES; i++)
        assert_true((pfns[i] << 12) < 3 * (1ull << 30));
    mach_mem_unlock(m, pfns, PAGES);
    assert_int_equal(mach_mem_lock(m, buf, PAGES * 4096, WDFDMA_MEM_ABOVE4G, pfns), 0);
    for (int i = 0; i < PAGES; i++)
        assert_true((pfns[i] << 12) >= G4 && (pfns[i] << 12) < (1ull << 40));
    mach_mem_unlock(m, pfns, PAGES);
    assert_int_equal(mach_mem_lock(m, buf, PAGES * 4096, WDFDMA_MEM_CONTIGUOUS, pfns), 0);
    for (int i = 1; i < PAGES; i++)
        assert_int_equal(pfns[i], pfns[0] + i);
    mach_mem_unlock(m, pfns, PAGES);
    assert_int_equal(frames_in_use(m), 0);
    free(buf);
    wdfdma_machine_destroy(m);
}

static void test_refcount_and_unaligned_span(void **state)
{
    (void)state;
    wdfdma_machine *m = tu_machine(WDFDMA_ENGINE_SIM, 2);
    uint8_t *buf = pages(4);
    mach_pfn a[3], b[2];
    /* 5000 bytes from offset 4000 spans pages 0, 1 and 2 */
    assert_int_equal(mach_mem_lock(m, buf + 4000, 5000, -1, a), 0);
    assert_int_equal(frames_in_use(m), 3);
    /* an overlapping lock keeps the frames of already-locked pages */
    assert_int_equal(mach_mem_lock(m, buf + 8192, 8192, -1, b), 0);
    assert_int_equal(b[0], a[2]);
    assert_int_equal(frames_in_use(m), 4);
    mach_mem_unlock(m, a, 3);
    assert_int_equal(frames_in_use(m), 2);
    assert_ptr_equal(mach_mem_host(m, b[0] << 12), buf + 8192);  /* still referenced */
    mach_mem_unlock(m, b, 2);
    assert_int_equal(frames_in_use(m), 0);
    wdfdma_machine_stats st;
    wdfdma_machine_get_stats(m, &st);
    assert_int_equal(st.frames_peak, 4);
    free(buf);
    wdfdma_machine_destroy(m);
}

static void test_contig_alloc_limit_align(void **state)
{
    (void)state;
    wdfdma_machine *m = tu_machine(WDFDMA_ENGINE_SIM, 3);
    void *va[3];
    uint64_t pa[3];
    assert_int_equal(mach_mem_alloc_contig(m, 10000, 1ull << 24, 0, &va[0], &pa[0]), 0);
    assert_true(pa[0] + 12288 <= (1ull << 24));
    assert_int_equal(mach_mem_alloc_contig(m, 65536, 1ull << 32, 65536, &va[1], &pa[1]), 0);
    assert_int_equal(pa[1] % 65536, 0);
    assert_int_equal(mach_mem_alloc_contig(m, 4096, 0, 1ull << 30, &va[2], &pa[2]), 0);
    assert_int_equal(pa[2] % (1ull << 30), 0);
    for (int i = 0; i < 16; i++) {
        assert_int_equal(((uint8_t *)va[1])[i * 4096], 0);          /* zeroed */
        assert_int_equal(mach_mem_physical(m, (uint8_t *)va[1] + i * 4096), pa[1] + i * 4096);
    }
    /* an MDL over a common buffer sees its frames */
    mach_pfn pfns[3];
    assert_int_equal(mach_mem_lock(m, va[0], 10000, WDFDMA_MEM_ABOVE4G, pfns), 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(pfns[i] << 12, pa[0] + i * 4096);
    mach_mem_unlock(m, pfns, 3);
    /* physical copies cross frames */
    uint8_t src[9000], dst[9000];
    tu_fill(src, sizeof(src), 11);
    assert_int_equal(mach_phys_write(m, pa[1] + 100, src, sizeof(src)), 0);
    assert_int_equal(tu_check((uint8_t *)va[1] + 100, sizeof(src), 11), sizeof(src));
    assert_int_equal(mach_phys_read(m, pa[1] + 100, dst, sizeof(dst)), 0);
    assert_int_equal(tu_check(dst, sizeof(dst), 11), sizeof(dst));
    for (int i = 0; i < 3; i++)
        mach_mem_free_contig(m, va[i], i == 0 ? 10000 : i == 1 ? 65536 : 4096);
    assert_int_equal(frames_in_use(m), 0);
    assert_int_equal(mach_findings(m), 0);
    wdfdma_machine_destroy(m);
}

static void test_many_locks_small_address_space(void **state)
{
    (void)state;
    /* 33-bit space: 8 GiB, of which 3 GiB below the hole and 4 GiB above it */
    wdfdma_machine *m = machine_with(WDFDMA_MEM_SCATTERED, 33);
    enum { N = 4096 };
    uint8_t *buf = pages(N);
    static mach_pfn pfns[N];
    for (int round = 0; round < 3; round++) {
        assert_int_equal(mach_mem_lock(m, buf, (size_t)N * 4096, -1, pfns), 0);
        for (int i = 0; i < N; i++)
            assert_true((pfns[i] << 12) < (1ull << 33));
        assert_int_equal(frames_in_use(m), N);
        for (int i = 0; i < N; i += 97)
            assert_ptr_equal(mach_mem_host(m, pfns[i] << 12), buf + (size_t)i * 4096);
        mach_mem_unlock(m, pfns, N);
        assert_int_equal(frames_in_use(m), 0);
    }
    free(buf);
    wdfdma_machine_destroy(m);
}

/* ---- wrong state ------------------------------------------------------------------------------ */
static void test_unlock_twice_reported(void **state)
{
    (void)state;
    wdfdma_machine *m = tu_machine(WDFDMA_ENGINE_SIM, 1);
    wdfdma_machine_set_bugcheck_quiet(m, true);
    uint8_t *buf = pages(1);
    mach_pfn pfn;
    assert_int_equal(mach_mem_lock(m, buf, 4096, -1, &pfn), 0);
    mach_mem_unlock(m, &pfn, 1);
    uint64_t f = mach_findings(m);
    mach_mem_unlock(m, &pfn, 1);
    assert_int_equal(mach_findings(m), f + 1);
    assert_int_equal(frames_in_use(m), 0);
    /* a leaked lock is reported at destroy */
    assert_int_equal(mach_mem_lock(m, buf, 4096, -1, &pfn), 0);
    f = mach_findings(m);
    wdfdma_machine_destroy(m);
    free(buf);
    (void)f;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_scattered_frames),
        cmocka_unit_test(test_policies_bounds),
        cmocka_unit_test(test_refcount_and_unaligned_span),
        cmocka_unit_test(test_contig_alloc_limit_align),
        cmocka_unit_test(test_many_locks_small_address_space),
        cmocka_unit_test(test_unlock_twice_reported),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
