/*
 * The trace: ring, running hash, sink, text file and formatting.
 * Order: bad arguments, then success, then wrong-state misuse.
 */
#include <stdio.h>
#include <unistd.h>

#include "mach_testutil.h"

static wdfdma_machine *machine_ring(size_t ring, const char *file)
{
    wdfdma_machine_config c;
    wdfdma_machine_config_init(&c);
    c.trace_ring = ring;
    c.trace_file = file;
    wdfdma_machine *m = NULL;
    assert_int_equal(wdfdma_machine_create(&c, &m), 0);
    return m;
}

/* ---- bad arguments ------------------------------------------------------------------------ */
static void test_bad_arguments(void **state)
{
    (void)state;
    wdfdma_trace_record r = { 0 };
    char buf[8];
    assert_true(wdfdma_trace_format(NULL, buf, sizeof(buf)) < 0);
    assert_true(wdfdma_trace_format(&r, NULL, 8) < 0);
    assert_true(wdfdma_trace_format(&r, buf, 0) < 0);
    assert_int_equal(wdfdma_trace_recent(NULL, &r, 1), 0);
    assert_int_equal(wdfdma_machine_trace_hash(NULL), 0);
    wdfdma_trace_set_sink(NULL, NULL, NULL);
    assert_string_equal(wdfdma_trace_type_name(0), "unknown");
    assert_string_equal(wdfdma_trace_type_name(999), "unknown");
    mach_trace(NULL, WDFDMA_TR_NOTE, 0, "x", 0, 0);
}

/* ---- success ------------------------------------------------------------------------------ */
static void test_ring_wraps_oldest_first(void **state)
{
    (void)state;
    wdfdma_machine *m = machine_ring(8, NULL);
    for (uint64_t i = 0; i < 20; i++)
        mach_trace(m, WDFDMA_TR_COUNTER, 3, "n", i, i * 2);
    wdfdma_trace_record r[16];
    assert_int_equal(wdfdma_trace_recent(m, r, 16), 8);
    for (int i = 0; i < 8; i++) {
        assert_int_equal(r[i].a, 12 + i);
        assert_int_equal(r[i].b, (12 + i) * 2);
        assert_int_equal(r[i].obj, 3);
        assert_int_equal(r[i].type, WDFDMA_TR_COUNTER);
    }
    assert_int_equal(wdfdma_trace_recent(m, r, 3), 3);
    assert_int_equal(r[0].a, 17);
    assert_int_equal(r[2].a, 19);
    wdfdma_machine_destroy(m);
}

static uint64_t hash_of(const char *name, uint64_t a)
{
    wdfdma_machine *m = machine_ring(16, NULL);
    mach_trace(m, WDFDMA_TR_NOTE, 1, name, a, 0);
    uint64_t h = wdfdma_machine_trace_hash(m);
    wdfdma_machine_destroy(m);
    return h;
}

static void test_hash_covers_fields_and_name_text(void **state)
{
    (void)state;
    wdfdma_machine *m = machine_ring(16, NULL);
    uint64_t empty = wdfdma_machine_trace_hash(m);
    assert_int_equal(empty, 0xCBF29CE484222325ull);     /* FNV-1a offset basis */
    wdfdma_machine_destroy(m);
    char copy[] = "hello";
    assert_int_equal(hash_of("hello", 1), hash_of(copy, 1));   /* text, not the pointer */
    assert_int_not_equal(hash_of("hello", 1), hash_of("hellp", 1));
    assert_int_not_equal(hash_of("hello", 1), hash_of("hello", 2));
    assert_int_not_equal(hash_of("hello", 1), hash_of(NULL, 1));
}

typedef struct sink_log {
    int n;
    uint16_t types[32];
} sink_log;

static void sink(void *ctx, const wdfdma_trace_record *r)
{
    sink_log *l = ctx;
    if (l->n < 32)
        l->types[l->n] = r->type;
    l->n++;
}

static void test_sink_and_file(void **state)
{
    (void)state;
    char path[] = "/tmp/wdfdma-trace-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    wdfdma_machine *m = machine_ring(64, path);
    sink_log log = { 0 };
    wdfdma_trace_set_sink(m, sink, &log);
    mach_trace(m, WDFDMA_TR_FX, 9, "transfer", 0x1000, 0x20);
    mach_callback_enter("EvtProgramDma", 9);
    mach_callback_exit("EvtProgramDma", 9);
    wdfdma_trace_set_sink(m, NULL, NULL);
    mach_trace(m, WDFDMA_TR_NOTE, 0, "after", 0, 0);
    assert_int_equal(log.n, 3);
    assert_int_equal(log.types[0], WDFDMA_TR_FX);
    assert_int_equal(log.types[1], WDFDMA_TR_CALLBACK_BEGIN);
    assert_int_equal(log.types[2], WDFDMA_TR_CALLBACK_END);
    wdfdma_machine_destroy(m);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char line[256];
    int lines = 0;
    bool fx = false, cb = false;
    while (fgets(line, sizeof(line), f)) {
        lines++;
        fx |= strstr(line, "fx") && strstr(line, "a=0x1000") && strstr(line, "transfer");
        cb |= strstr(line, "callback-begin") && strstr(line, "EvtProgramDma");
    }
    fclose(f);
    unlink(path);
    assert_int_equal(lines, 4);
    assert_true(fx && cb);
}

static void test_format(void **state)
{
    (void)state;
    wdfdma_trace_record r = { .time_ns = 1234, .type = WDFDMA_TR_DMA_READ, .cpu = 0xFF,
                              .irql = 15, .obj = 4, .a = 0x2000, .b = 64 };
    char buf[256];
    assert_true(wdfdma_trace_format(&r, buf, sizeof(buf)) > 0);
    assert_non_null(strstr(buf, "1234"));
    assert_non_null(strstr(buf, "cpu=hw"));
    assert_non_null(strstr(buf, "dma-read"));
    assert_non_null(strstr(buf, "a=0x2000"));
    assert_non_null(strstr(buf, "b=0x40"));
    for (uint16_t t = WDFDMA_TR_MMIO_READ; t <= WDFDMA_TR_NOTE; t++)
        assert_string_not_equal(wdfdma_trace_type_name(t), "unknown");
    /* truncation is safe */
    char tiny[10];
    assert_true(wdfdma_trace_format(&r, tiny, sizeof(tiny)) > 0);
    assert_int_equal(strlen(tiny), 9);
}

/* ---- wrong state ------------------------------------------------------------------------------ */
static void test_bugcheck_report_includes_recent_records(void **state)
{
    (void)state;
    wdfdma_machine *m = machine_ring(16, NULL);
    tu_trap t;
    tu_trap_install(m, &t);
    mach_trace(m, WDFDMA_TR_NOTE, 0, "before", 0, 0);
    if (setjmp(t.jb) == 0)
        mach_bugcheck(0x10D, 1, 2, 3, 4, "WDF_VIOLATION: test %d", 5);
    assert_int_equal(t.bc.code, 0x10D);
    assert_int_equal(t.bc.p[3], 4);
    assert_string_equal(t.bc.message, "WDF_VIOLATION: test 5");
    wdfdma_trace_record r[2];
    assert_int_equal(wdfdma_trace_recent(m, r, 2), 2);
    assert_string_equal(r[0].name, "before");
    assert_int_equal(r[1].type, WDFDMA_TR_BUGCHECK);
    assert_int_equal(r[1].a, 0x10D);
    assert_int_equal(r[1].b, 1);
    wdfdma_machine_destroy(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_ring_wraps_oldest_first),
        cmocka_unit_test(test_hash_covers_fields_and_name_text),
        cmocka_unit_test(test_sink_and_file),
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_bugcheck_report_includes_recent_records),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
