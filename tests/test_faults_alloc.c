/*
 * Allocation failures, the libuv test-loop-oom way: for a full cycle (driver load, bind,
 * open, I/O, close, remove, machine destroy) of the sgdma sample (build/drivers/sgdma.so)
 * and of the echo sample, fail allocation N = 1, 2, 3, ... ("pool-fail:nth=N": pool,
 * MDL and IRP allocations; "cb-fail:nth=N": common buffers; "map-exhaust:nth=N": map
 * registers) until a run completes with no failure injected. At every N the failure
 * must be clean:
 *   - no bug check, no hang (bounded: the sim engine runs until nothing is pending);
 *   - every request that was issued completes exactly once, with a status;
 *   - the failure shows: a host call returns an error with a message, or a request
 *     completes with an error status, or (absorbed) every byte still arrives intact;
 *   - a request that reports success moved exactly its bytes, nothing around them;
 *   - nothing leaks: IRPs, frames, DMA objects before destroy; pool and MDLs after.
 * The run with no failure injected must succeed completely.
 */
#include "faults_testutil.h"

#define MAX_N 4000u      /* a cycle makes far fewer allocations; bounds a runaway loop */

typedef struct outcome {
    unsigned errors;      /* host calls that failed + requests with an error status */
    unsigned ok_requests; /* requests that completed with success, data verified */
    char first[200];      /* the first error, for the log */
} outcome;

static void note(outcome *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(outcome *o, const char *fmt, ...)
{
    if (o->errors++ == 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(o->first, sizeof(o->first), fmt, ap);
        va_end(ap);
    }
}

/* A host call failed: it must say why, in one line. */
static void host_error(outcome *o, const char *what, int rc, const char *label)
{
    const char *msg = wdfdma_last_error();
    if (msg[0] == 0 || strchr(msg, '\n') != NULL)
        fail_msg("%s: %s failed (%d) without a one-line message", label, what, rc);
    note(o, "%s: %d %s", what, rc, msg);
}

/* Issue one asynchronous request and run the machine until nothing is pending; it must
 * have completed exactly once. Returns true if it completed with success. A successful
 * request moved all its bytes, except an echo read after a failed write, which returns
 * what the device has (`partial_ok`). */
static bool one_request_ex(wdfdma_machine *m, wdfdma_file *f, bool write, void *buf, size_t len,
                           uint64_t off, bool partial_ok, outcome *o, const char *label)
{
    ft_req r = {0};
    int rc = write ? wdfdma_write_async(f, buf, len, off, ft_on_done, &r, &r.op)
                   : wdfdma_read_async(f, buf, len, off, ft_on_done, &r, &r.op);
    if (rc != 0) {
        host_error(o, write ? "write_async" : "read_async", rc, label);
        assert_int_equal(wdfdma_machine_run(m), 0);
        assert_int_equal(r.calls, 0);                 /* a failed call never calls back */
        return false;
    }
    assert_int_equal(wdfdma_machine_run(m), 0);
    if (r.calls != 1)
        fail_msg("%s: %s request completed %d times (a hang if 0)", label,
                 write ? "write" : "read", r.calls);
    if (r.status != 0) {
        note(o, "%s completed with status %#x", write ? "write" : "read", (unsigned)r.status);
        return false;
    }
    if (partial_ok && r.info < len) {
        note(o, "read returned %zu of %zu bytes", r.info, len);
        return false;
    }
    if (r.info != len)
        fail_msg("%s: %s succeeded with %zu of %zu bytes", label, write ? "write" : "read",
                 r.info, len);
    return true;
}

static bool one_request(wdfdma_machine *m, wdfdma_file *f, bool write, void *buf, size_t len,
                        uint64_t off, outcome *o, const char *label)
{
    return one_request_ex(m, f, write, buf, len, off, false, o, label);
}

/* ---- sgdma -------------------------------------------------------------------------------- */
enum { SG_REQS = 2 };
static const size_t sg_len[SG_REQS] = {12345, 3 * 4096 + 17};
static const uint64_t sg_off[SG_REQS] = {4096, 40960};

static void sgdma_io(wdfdma_machine *m, wdfdma_dev *hw, wdfdma_file *f, outcome *o,
                     const char *label)
{
    size_t devlen;
    uint8_t *dm = sgdma_debug_memory(hw, &devlen);
    assert_non_null(dm);
    for (unsigned i = 0; i < SG_REQS; i++) {
        size_t len = sg_len[i];
        uint64_t off = sg_off[i];
        memset(dm + off - FT_DEV_GUARD, FT_DEV_CANARY, len + 2 * FT_DEV_GUARD);
        uint8_t *w = ft_guarded(len), *r = ft_guarded(len);
        ft_fill(ft_data(w), len, i + 1);
        if (one_request(m, f, true, ft_data(w), len, off, o, label)) {
            if (ft_pattern_diff(dm + off, len, i + 1) != len)
                fail_msg("%s: write %u succeeded but device byte %zu is wrong", label, i,
                         ft_pattern_diff(dm + off, len, i + 1));
            o->ok_requests++;
        }
        /* whatever happened, nothing outside the request's range moved */
        if (ft_bytes_diff(dm + off - FT_DEV_GUARD, FT_DEV_GUARD, FT_DEV_CANARY) != FT_DEV_GUARD ||
            ft_bytes_diff(dm + off + len, FT_DEV_GUARD, FT_DEV_CANARY) != FT_DEV_GUARD)
            fail_msg("%s: write %u touched device memory outside its range", label, i);
        bool wrote = ft_pattern_diff(dm + off, len, i + 1) == len;
        if (one_request(m, f, false, ft_data(r), len, off, o, label)) {
            if (wrote && ft_pattern_diff(ft_data(r), len, i + 1) != len)
                fail_msg("%s: read %u succeeded but byte %zu is wrong", label, i,
                         ft_pattern_diff(ft_data(r), len, i + 1));
            o->ok_requests++;
        }
        if (!ft_guards_intact(r, len) || !ft_guards_intact(w, len))
            fail_msg("%s: request %u wrote outside its host buffer", label, i);
        free(w);
        free(r);
    }
}

/* One cycle of sgdma under `spec`; returns how often `kind` fired. */
static uint64_t sgdma_cycle(const char *spec, wdfdma_fault_kind kind, outcome *o)
{
    char label[96], why[160];
    snprintf(label, sizeof(label), "sgdma [%s]", spec);
    memset(o, 0, sizeof(*o));
    ft_leaks leaks;
    ft_leaks_before(&leaks);
    wdfdma_machine *m = ft_machine(77, spec, label);
    wdfdma_dev *hw;
    assert_int_equal(wdfdma_machine_add_device(m, "sgdma", "sgdma0", "addr_bits=64,mem=256K", &hw),
                     0);
    wdfdma_driver *drv = NULL;
    wdfdma_file *f = NULL;
    bool bound = false;
    int rc = wdfdma_driver_load(m, WDFDMA_BUILD_DRIVER_DIR "/sgdma.so", &drv);
    if (rc != 0) {
        host_error(o, "driver_load", rc, label);
        goto teardown;
    }
    rc = wdfdma_device_bind(hw, NULL);
    if (rc != 0) {
        host_error(o, "bind", rc, label);
        goto teardown;
    }
    bound = true;
    rc = wdfdma_open(m, "sgdma0", &f);
    if (rc != 0) {
        host_error(o, "open", rc, label);
        goto remove;
    }
    sgdma_io(m, hw, f, o, label);
    assert_int_equal(wdfdma_outstanding(f), 0);
    rc = wdfdma_close(f);
    if (rc != 0)
        host_error(o, "close", rc, label);
remove:
    rc = wdfdma_device_remove(hw);
    if (rc != 0)
        host_error(o, "remove", rc, label);
teardown:
    (void)bound;
    assert_int_equal(wdfdma_machine_run(m), 0);
    ft_machine_clean(m, why, sizeof(why));
    if (why[0])
        fail_msg("%s: not clean after remove: %s", label, why);
    uint64_t fired = ft_fired(m, kind);
    wdfdma_machine_destroy(m);
    ft_leaks_after(&leaks, why, sizeof(why));
    if (why[0])
        fail_msg("%s: %s", label, why);
    return fired;
}

/* ---- echo --------------------------------------------------------------------------------- */
#define ECHO_GUID "{5f1c1a3e-9b52-4c1e-a7de-3f7a6f0e0c01}"

static uint64_t echo_cycle(const char *spec, wdfdma_fault_kind kind, outcome *o)
{
    char label[96], why[160];
    snprintf(label, sizeof(label), "echo [%s]", spec);
    memset(o, 0, sizeof(*o));
    ft_leaks leaks;
    ft_leaks_before(&leaks);
    wdfdma_machine *m = ft_machine(78, spec, label);
    wdfdma_dev *hw;
    assert_int_equal(wdfdma_machine_add_device(m, "echo", "echo0", "delay=3000", &hw), 0);
    wdfdma_driver *drv = NULL;
    wdfdma_file *f = NULL;
    int rc = wdfdma_driver_load(m, WDFDMA_BUILD_DRIVER_DIR "/echo.so", &drv);
    if (rc != 0) {
        host_error(o, "driver_load", rc, label);
        goto teardown;
    }
    rc = wdfdma_device_bind(hw, NULL);
    if (rc != 0) {
        host_error(o, "bind", rc, label);
        goto teardown;
    }
    rc = wdfdma_open(m, ECHO_GUID, &f);
    if (rc != 0) {
        host_error(o, "open", rc, label);
        goto remove;
    }
    for (unsigned i = 0; i < 2; i++) {
        size_t len = 300 + 100 * i;
        uint8_t *w = ft_guarded(len), *r = ft_guarded(len);
        ft_fill(ft_data(w), len, 10 + i);
        bool wrote = one_request(m, f, true, ft_data(w), len, 0, o, label);
        o->ok_requests += wrote;
        if (one_request_ex(m, f, false, ft_data(r), len, 0, !wrote, o, label)) {
            if (wrote && ft_pattern_diff(ft_data(r), len, 10 + i) != len)
                fail_msg("%s: echo %u came back wrong at byte %zu", label, i,
                         ft_pattern_diff(ft_data(r), len, 10 + i));
            o->ok_requests++;
        }
        if (!ft_guards_intact(r, len) || !ft_guards_intact(w, len))
            fail_msg("%s: request %u wrote outside its host buffer", label, i);
        free(w);
        free(r);
    }
    assert_int_equal(wdfdma_outstanding(f), 0);
    rc = wdfdma_close(f);
    if (rc != 0)
        host_error(o, "close", rc, label);
remove:
    rc = wdfdma_device_remove(hw);
    if (rc != 0)
        host_error(o, "remove", rc, label);
teardown:
    assert_int_equal(wdfdma_machine_run(m), 0);
    ft_machine_clean(m, why, sizeof(why));
    if (why[0])
        fail_msg("%s: not clean after remove: %s", label, why);
    uint64_t fired = ft_fired(m, kind);
    wdfdma_machine_destroy(m);
    ft_leaks_after(&leaks, why, sizeof(why));
    if (why[0])
        fail_msg("%s: %s", label, why);
    return fired;
}

typedef uint64_t (*cycle_fn)(const char *spec, wdfdma_fault_kind kind, outcome *o);

/* Raise N until a run injects nothing; every run before must be clean. Returns the N
 * that succeeded (the number of allocation points + 1). */
static unsigned walk(cycle_fn cycle, const char *kind_name, wdfdma_fault_kind kind,
                     unsigned full_requests)
{
    outcome base;
    assert_int_equal(cycle("none", kind, &base), 0);
    if (base.errors != 0 || base.ok_requests != full_requests)
        fail_msg("%s: the cycle fails without faults: %s", kind_name, base.first);
    unsigned shown = 0;
    for (unsigned n = 1; n <= MAX_N; n++) {
        char spec[64];
        snprintf(spec, sizeof(spec), "%s:nth=%u", kind_name, n);
        outcome o;
        uint64_t fired = cycle(spec, kind, &o);
        if (fired == 0) {
            if (o.errors != 0 || o.ok_requests != full_requests)
                fail_msg("%s: nothing injected but the cycle failed: %s", spec, o.first);
            print_message("%s: %u point(s) failed cleanly\n", kind_name, n - 1);
            return n;
        }
        assert_int_equal(fired, 1);
        /* The failure showed (an error) or was absorbed (all data arrived intact). */
        if (o.errors == 0 && o.ok_requests != full_requests)
            fail_msg("%s: a failure neither reported nor absorbed", spec);
        if (o.errors != 0 && shown++ < 3)
            print_message("  %s -> %s\n", spec, o.first);
    }
    fail_msg("%s: still failing allocations at N = %u", kind_name, MAX_N);
    return 0;
}

static void test_sgdma_pool(void **state)
{
    (void)state;
    assert_true(walk(sgdma_cycle, "pool-fail", WDFDMA_FAULT_POOL_FAIL, 2 * SG_REQS) > 1);
}

static void test_sgdma_common_buffer(void **state)
{
    (void)state;
    assert_true(walk(sgdma_cycle, "cb-fail", WDFDMA_FAULT_CB_FAIL, 2 * SG_REQS) > 1);
}

static void test_sgdma_map_registers(void **state)
{
    (void)state;
    assert_true(walk(sgdma_cycle, "map-exhaust", WDFDMA_FAULT_MAP_EXHAUST, 2 * SG_REQS) > 1);
}

static void test_echo_pool(void **state)
{
    (void)state;
    assert_true(walk(echo_cycle, "pool-fail", WDFDMA_FAULT_POOL_FAIL, 4) > 1);
}

/* The legacy process-wide switch and the plan agree: both fail the same allocation. */
static void test_pool_fail_nth_unified(void **state)
{
    (void)state;
    wdfdma_machine *m = ft_machine(1, "pool-fail:nth=2", "unified");
    mach_enter(m);
    void *a = ExAllocatePool2(POOL_FLAG_NON_PAGED, 16, 'tsTF');
    void *b = ExAllocatePool2(POOL_FLAG_NON_PAGED, 16, 'tsTF');
    assert_non_null(a);
    assert_null(b);                                       /* the plan's 2nd */
    wdm_pool_fail_nth(1);
    void *c = ExAllocatePool2(POOL_FLAG_NON_PAGED, 16, 'tsTF');
    assert_null(c);                                       /* the switch's 1st */
    void *d = ExAllocatePool2(POOL_FLAG_NON_PAGED, 16, 'tsTF');
    assert_non_null(d);
    ExFreePool(a);
    ExFreePool(d);
    assert_int_equal(ft_fired(m, WDFDMA_FAULT_POOL_FAIL), 1);
    wdfdma_machine_destroy(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pool_fail_nth_unified),
        cmocka_unit_test(test_echo_pool),
        cmocka_unit_test(test_sgdma_common_buffer),
        cmocka_unit_test(test_sgdma_map_registers),
        cmocka_unit_test(test_sgdma_pool),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
