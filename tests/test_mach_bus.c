/*
 * The bus: MMIO decode into device registers and device DMA by logical address.
 * Order: bad arguments, then success, then wrong-state misuse.
 */
#include <errno.h>

#include "mach_testutil.h"

typedef struct bus_fixture {
    wdfdma_machine *m;
    wdfdma_dev *dev;
    uint64_t pa;
} bus_fixture;

static void setup(bus_fixture *f)
{
    f->m = tu_machine(WDFDMA_ENGINE_SIM, 1);
    wdfdma_machine_set_bugcheck_quiet(f->m, true);
    assert_int_equal(wdfdma_machine_add_device(f->m, "toy", "toy", NULL, &f->dev), 0);
    f->pa = wdfdma_dev_resource(f->dev, 0)->start;
}

static uint64_t stat_mmio_faults(wdfdma_machine *m)
{
    wdfdma_machine_stats st;
    wdfdma_machine_get_stats(m, &st);
    return st.mmio_faults;
}

/* ---- bad arguments ------------------------------------------------------------------------ */
static void test_map_bad_arguments(void **state)
{
    (void)state;
    bus_fixture f;
    setup(&f);
    assert_null(mach_mmio_map(NULL, f.pa, 4));
    assert_null(mach_mmio_map(f.m, f.pa, 0));
    assert_null(mach_mmio_map(f.m, 0x1000, 4));          /* RAM, not a device */
    assert_null(mach_mmio_map(f.m, f.pa, 257));          /* longer than the region */
    assert_null(mach_mmio_map(f.m, f.pa + 256, 4));      /* just past it */
    mach_mmio_unmap(f.m, &f, 4);                         /* reported, no crash */
    assert_int_equal(mach_findings(f.m), 1);
    assert_int_equal(wdfdma_dev_dma_read(NULL, 0, &f, 1), WDFDMA_DMA_FAULT);
    assert_int_equal(wdfdma_dev_dma_read(f.dev, 0, NULL, 1), WDFDMA_DMA_FAULT);
    assert_int_equal(wdfdma_dev_dma_write(f.dev, 0, &f, 0), WDFDMA_DMA_OK);
    wdfdma_machine_destroy(f.m);
}

/* ---- success ------------------------------------------------------------------------------ */
static void test_register_decode(void **state)
{
    (void)state;
    bus_fixture f;
    setup(&f);
    volatile uint8_t *r = mach_mmio_map(f.m, f.pa, 256);
    assert_non_null(r);
    assert_int_equal(mach_mmio_read(r + TOY_REG_ID, 4), 0x544F5901u);
    assert_int_equal(mach_mmio_read(r + TOY_REG_ID, 2), 0x5901u);  /* narrow read masks */
    mach_mmio_write(r + TOY_REG_SRC, 8, 0x1122334455667788ull);
    assert_int_equal(mach_mmio_read(r + TOY_REG_SRC, 8), 0x1122334455667788ull);
    mach_mmio_write(r + TOY_REG_SRC + 4, 4, 0xAABBCCDD);
    assert_int_equal(mach_mmio_read(r + TOY_REG_SRC, 4), 0x55667788u);
    assert_int_equal(mach_mmio_read(r + TOY_REG_SRC + 4, 4), 0xAABBCCDDu);
    /* a second mapping at an offset decodes to the same registers */
    volatile uint8_t *r2 = mach_mmio_map(f.m, f.pa + TOY_REG_SRC, 16);
    assert_non_null(r2);
    assert_int_equal(mach_mmio_read(r2 + 4, 4), 0xAABBCCDDu);
    /* trace: a = physical address, b = value */
    wdfdma_trace_record rec;
    assert_int_equal(wdfdma_trace_recent(f.m, &rec, 1), 1);
    assert_int_equal(rec.type, WDFDMA_TR_MMIO_READ);
    assert_int_equal(rec.a, f.pa + TOY_REG_SRC + 4);
    assert_int_equal(rec.b, 0xAABBCCDDu);
    assert_int_equal(rec.obj, wdfdma_dev_id(f.dev));
    unsigned region;
    uint64_t off;
    assert_ptr_equal(wdfdma_machine_device_at(f.m, f.pa + 0x24, &region, &off), f.dev);
    assert_int_equal(region, 0);
    assert_int_equal(off, 0x24);
    assert_null(wdfdma_machine_device_at(f.m, f.pa + 0x1000, NULL, NULL));
    /* peer access bypasses the CPU but reaches the same registers */
    assert_int_equal(wdfdma_dev_peer_read(f.dev, 0, TOY_REG_ID, 4), 0x544F5901u);
    mach_mmio_unmap(f.m, (void *)r2, 16);
    mach_mmio_unmap(f.m, (void *)r, 256);
    assert_int_equal(stat_mmio_faults(f.m), 0);
    assert_int_equal(mach_findings(f.m), 0);
    wdfdma_machine_destroy(f.m);
}

static void test_dma_identity(void **state)
{
    (void)state;
    bus_fixture f;
    setup(&f);
    void *va;
    uint64_t pa;
    assert_int_equal(mach_mem_alloc_contig(f.m, 65536 + 8192, 0, 0, &va, &pa), 0);
    static uint8_t src[65536], dst[65536];
    tu_fill(src, sizeof(src), 3);
    assert_int_equal(wdfdma_dev_dma_write(f.dev, pa + 4000, src, sizeof(src)), WDFDMA_DMA_OK);
    assert_int_equal(tu_check((uint8_t *)va + 4000, sizeof(src), 3), sizeof(src));
    assert_int_equal(((uint8_t *)va)[3999], 0);
    assert_int_equal(((uint8_t *)va)[4000 + 65536], 0);
    assert_int_equal(wdfdma_dev_dma_read(f.dev, pa + 4000, dst, sizeof(dst)), WDFDMA_DMA_OK);
    assert_int_equal(tu_check(dst, sizeof(dst), 3), sizeof(dst));
    wdfdma_machine_stats st;
    wdfdma_machine_get_stats(f.m, &st);
    assert_int_equal(st.dma_reads, 1);
    assert_int_equal(st.dma_writes, 1);
    assert_int_equal(st.dma_read_bytes, 65536);
    assert_int_equal(st.dma_write_bytes, 65536);
    /* scattered frames: the device reaches each page at its own physical address */
    uint8_t *buf = aligned_alloc(4096, 3 * 4096);
    memset(buf, 0, 3 * 4096);
    mach_pfn pfns[3];
    assert_int_equal(mach_mem_lock(f.m, buf, 3 * 4096, -1, pfns), 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(wdfdma_dev_dma_write(f.dev, pfns[i] << 12, src + i * 4096, 4096), 0);
    assert_int_equal(tu_check(buf, 3 * 4096, 3), 3 * 4096);
    mach_mem_unlock(f.m, pfns, 3);
    free(buf);
    mach_mem_free_contig(f.m, va, 65536 + 8192);
    wdfdma_machine_destroy(f.m);
}

/* An IOMMU that maps logical page L to physical page base + L. */
typedef struct iommu {
    uint64_t base;
    int calls;
} iommu;

static bool iommu_translate(void *ctx, wdfdma_dev *dev, uint64_t logical, size_t len,
                            bool write, uint64_t *physical)
{
    (void)dev;
    (void)len;
    (void)write;
    iommu *io = ctx;
    io->calls++;
    if (logical >= 0x100000)
        return false;
    *physical = io->base + logical;
    return true;
}

typedef struct checker {
    uint64_t allow_lo, allow_hi;
    int calls;
} checker;

static bool check_access(void *ctx, wdfdma_dev *dev, uint64_t logical, size_t len, bool write)
{
    (void)dev;
    (void)write;
    checker *c = ctx;
    c->calls++;
    return logical >= c->allow_lo && logical + len <= c->allow_hi;
}

static void test_dma_translation_and_check(void **state)
{
    (void)state;
    bus_fixture f;
    setup(&f);
    void *va;
    uint64_t pa;
    assert_int_equal(mach_mem_alloc_contig(f.m, 4 * 4096, 0, 0, &va, &pa), 0);
    iommu io = { .base = pa };
    wdfdma_dev_set_translation(f.dev, iommu_translate, &io);
    uint8_t src[8192];
    tu_fill(src, sizeof(src), 5);
    assert_int_equal(wdfdma_dev_dma_write(f.dev, 100, src, sizeof(src)), WDFDMA_DMA_OK);
    assert_int_equal(io.calls, 3);                 /* per page: 100..4095, 4096.., 8192.. */
    assert_int_equal(tu_check((uint8_t *)va + 100, sizeof(src), 5), sizeof(src));
    checker ck = { .allow_lo = 0, .allow_hi = 4096 };
    wdfdma_machine_set_dma_check(f.m, check_access, &ck);
    assert_int_equal(wdfdma_dev_dma_read(f.dev, 0, src, 4096), WDFDMA_DMA_OK);
    assert_int_equal(wdfdma_dev_dma_read(f.dev, 0, src, 4097), WDFDMA_DMA_FAULT);
    assert_int_equal(ck.calls, 2);
    wdfdma_machine_set_dma_check(f.m, NULL, NULL);
    wdfdma_dev_set_translation(f.dev, NULL, NULL);
    mach_mem_free_contig(f.m, va, 4 * 4096);
    wdfdma_machine_destroy(f.m);
}

/* ---- wrong state ------------------------------------------------------------------------------ */
static void test_mmio_decode_errors(void **state)
{
    (void)state;
    bus_fixture f;
    setup(&f);
    volatile uint8_t *r = mach_mmio_map(f.m, f.pa, 256);
    static uint32_t not_mmio;
    /* unmapped: all ones, fault counted and traced with the address */
    assert_int_equal(mach_mmio_read(&not_mmio, 4), 0xFFFFFFFFu);
    assert_int_equal(mach_mmio_read(&not_mmio, 8), UINT64_MAX);
    mach_mmio_write(&not_mmio, 4, 5);
    assert_int_equal(not_mmio, 0);                 /* never dereferenced */
    assert_int_equal(stat_mmio_faults(f.m), 3);
    wdfdma_trace_record rec;
    wdfdma_trace_recent(f.m, &rec, 1);
    assert_int_equal(rec.type, WDFDMA_TR_MMIO_FAULT);
    assert_int_equal(rec.a, (uint64_t)(uintptr_t)&not_mmio);
    assert_int_equal(rec.b, 4);
    /* bad width, misaligned, beyond the region inside the mapped page */
    assert_int_equal(mach_mmio_read(r, 3), 0xFFFFFFu);
    assert_int_equal(mach_mmio_read(r + 2, 4), 0xFFFFFFFFu);
    assert_int_equal(mach_mmio_read(r + 256, 4), 0xFFFFFFFFu);
    assert_int_equal(stat_mmio_faults(f.m), 6);
    /* after unmap the old address decodes to nothing (the cache is invalidated) */
    assert_int_equal(mach_mmio_read(r, 4), 0x544F5901u);
    mach_mmio_unmap(f.m, (void *)r, 256);
    assert_int_equal(mach_mmio_read(r, 4), 0xFFFFFFFFu);
    assert_int_equal(stat_mmio_faults(f.m), 7);
    /* DMA to unbacked memory: fault, traced, counted, nothing moved */
    uint8_t buf[64] = { 0 };
    assert_int_equal(wdfdma_dev_dma_write(f.dev, 0x7654321000ull, buf, 64), WDFDMA_DMA_FAULT);
    wdfdma_trace_recent(f.m, &rec, 1);
    assert_int_equal(rec.type, WDFDMA_TR_DMA_FAULT);
    assert_int_equal(rec.a, 0x7654321000ull);
    assert_int_equal(rec.b, 64 | (1ull << 63));
    wdfdma_machine_stats st;
    wdfdma_machine_get_stats(f.m, &st);
    assert_int_equal(st.dma_faults, 1);
    assert_int_equal(st.dma_writes, 0);
    /* a transfer that starts backed and runs into unbacked memory moves nothing */
    void *va;
    uint64_t pa;
    assert_int_equal(mach_mem_alloc_contig(f.m, 4096, 0, 0, &va, &pa), 0);
    memset(buf, 0xAB, sizeof(buf));
    if (!mach_mem_host(f.m, pa + 4096)) {
        assert_int_equal(wdfdma_dev_dma_write(f.dev, pa + 4096 - 32, buf, 64), WDFDMA_DMA_FAULT);
        assert_int_equal(((uint8_t *)va)[4095], 0);
    }
    mach_mem_free_contig(f.m, va, 4096);
    /* peer access outside the registers */
    assert_int_equal(wdfdma_dev_peer_read(f.dev, 1, 0, 4), 0xFFFFFFFFu);
    assert_int_equal(wdfdma_dev_peer_read(f.dev, 0, 254, 4), 0xFFFFFFFFu);
    wdfdma_machine_destroy(f.m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_map_bad_arguments),
        cmocka_unit_test(test_register_decode),
        cmocka_unit_test(test_dma_identity),
        cmocka_unit_test(test_dma_translation_and_check),
        cmocka_unit_test(test_mmio_decode_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
