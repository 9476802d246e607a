/*
 * What a fault plan must never break, proved on the sgdma sample (build/drivers/sgdma.so)
 * under each fault kind and a few mixes. The plan goes in after the device started, so
 * the faults hit the I/O path; then a batch of asynchronous writes and reads, each to
 * its own range of device memory, with encoded data and guard bands around every host
 * buffer and every device range. The guarantees:
 *   1. every request issued completes exactly once, with a status, within bounded
 *      virtual time (a request the driver never completes is a hang);
 *   2. a request that succeeded moved exactly its bytes (a read may be short only by the
 *      length it reports); a failed one may leave its own range partly written;
 *   3. no byte outside a request's range is touched, in host or device memory;
 *   4. with the plan removed, the device works again (unless it was surprise-removed);
 *   5. nothing leaks (IRPs, frames, DMA objects, pool, MDLs) and the machine shuts down.
 * A request lost to a lost interrupt must be recovered by the driver (a watchdog): the
 * test expects recovery, so it fails on a sample driver without one.
 */
#include "faults_testutil.h"
#include "wdfdma/registry.h"
#include "wdfdma/verifier.h"

#define NREQ 4
#define REQ_LEN (3 * 4096 + 333)
#define REQ_STRIDE (16 * 1024)
#define BOUND_NS 50000000ull          /* 50 ms of virtual time: ample for 8 requests */

typedef struct batch {
    wdfdma_machine *m;
    wdfdma_dev *hw;
    wdfdma_file *f;
    uint8_t *dm;
    ft_req req[2 * NREQ];
    uint8_t *buf[2 * NREQ];
    unsigned cancels;
} batch;

/* The host-side registry the "cancel" fault needs: pick an outstanding request. */
static bool cancel_one(void *ctx, wdfdma_dev *dev, uint64_t random)
{
    (void)dev;
    batch *b = ctx;
    unsigned live[2 * NREQ], n = 0;
    for (unsigned i = 0; i < 2 * NREQ; i++)
        if (b->req[i].issued && __atomic_load_n(&b->req[i].calls, __ATOMIC_ACQUIRE) == 0)
            live[n++] = i;
    if (n == 0)
        return false;
    b->cancels++;
    return wdfdma_cancel(b->req[live[random % n]].op) == 0;
}

static uint64_t dev_off(unsigned i)
{
    return REQ_STRIDE + (uint64_t)i * REQ_STRIDE;
}

/* Issue requests [first, first+NREQ) and run for at most BOUND_NS of virtual time. */
static void issue(batch *b, unsigned first, bool write)
{
    for (unsigned k = 0; k < NREQ; k++) {
        unsigned i = first + k;
        ft_req *r = &b->req[i];
        void *data = ft_data(b->buf[i]);
        int rc = write ? wdfdma_write_async(b->f, data, REQ_LEN, dev_off(k), ft_on_done, r, &r->op)
                       : wdfdma_read_async(b->f, data, REQ_LEN, dev_off(k), ft_on_done, r, &r->op);
        r->issued = rc == 0;
        if (rc != 0 && wdfdma_last_error()[0] == 0)
            fail_msg("request %u refused without a message", i);
    }
    (void)wdfdma_machine_run_until(b->m, wdfdma_machine_now(b->m) + BOUND_NS);
}

/* Guarantees 1-3 for requests [first, first+NREQ). */
static void check(batch *b, unsigned first, bool write, const char *spec)
{
    for (unsigned k = 0; k < NREQ; k++) {
        unsigned i = first + k;
        ft_req *r = &b->req[i];
        uint8_t *dev = b->dm + dev_off(k);
        if (r->issued && r->calls != 1)
            fail_msg("[%s] %s %u completed %d times%s", spec, write ? "write" : "read", k,
                     r->calls, r->calls == 0 ? " (never: the driver did not recover)" : "");
        if (!r->issued && r->calls != 0)
            fail_msg("[%s] a refused request was completed", spec);
        if (!ft_guards_intact(b->buf[i], REQ_LEN))
            fail_msg("[%s] %s %u wrote outside its host buffer", spec, write ? "write" : "read", k);
        if (ft_bytes_diff(dev - FT_DEV_GUARD, FT_DEV_GUARD, FT_DEV_CANARY) != FT_DEV_GUARD ||
            ft_bytes_diff(dev + REQ_LEN, FT_DEV_GUARD, FT_DEV_CANARY) != FT_DEV_GUARD)
            fail_msg("[%s] device memory outside range %u was touched", spec, k);
        if (!r->issued || r->status != 0)
            continue;
        if (write) {
            if (r->info != REQ_LEN || ft_pattern_diff(dev, REQ_LEN, 100 + k) != REQ_LEN)
                fail_msg("[%s] write %u succeeded (%zu bytes) but device memory is wrong at %zu",
                         spec, k, r->info, ft_pattern_diff(dev, REQ_LEN, 100 + k));
        } else {
            ft_req *w = &b->req[k];
            if (r->info > REQ_LEN)
                fail_msg("[%s] read %u reports %zu bytes of %u", spec, k, r->info, REQ_LEN);
            bool written = w->issued && w->status == 0;
            if (written && ft_pattern_diff(ft_data(b->buf[i]), r->info, 100 + k) != r->info)
                fail_msg("[%s] read %u succeeded but byte %zu is wrong", spec, k,
                         ft_pattern_diff(ft_data(b->buf[i]), r->info, 100 + k));
        }
    }
}

/* One run of `spec` with `seed`; `expect` is the kind that must have fired. */
static void run(const char *spec, wdfdma_fault_kind expect, uint64_t seed)
{
    char why[160];
    ft_leaks leaks;
    ft_leaks_before(&leaks);
    batch b;
    memset(&b, 0, sizeof(b));
    b.m = ft_machine(seed, NULL, spec);
    assert_int_equal(wdfdma_machine_add_device(b.m, "sgdma", "sgdma0", "addr_bits=64,mem=256K",
                                               &b.hw), 0);
    wdfdma_driver *drv;
    assert_int_equal(wdfdma_driver_load(b.m, WDFDMA_BUILD_DRIVER_DIR "/sgdma.so", &drv), 0);
    assert_int_equal(wdfdma_device_bind(b.hw, NULL), 0);
    assert_int_equal(wdfdma_open(b.m, "sgdma0", &b.f), 0);
    size_t devlen;
    b.dm = sgdma_debug_memory(b.hw, &devlen);
    assert_non_null(b.dm);
    memset(b.dm, FT_DEV_CANARY, devlen);
    for (unsigned i = 0; i < 2 * NREQ; i++) {
        b.buf[i] = ft_guarded(REQ_LEN);
        if (i < NREQ)
            ft_fill(ft_data(b.buf[i]), REQ_LEN, 100 + i);
    }
    wdfdma_machine_set_cancel_hook(b.m, cancel_one, &b);
    ft_install_plan(b.m, spec);

    issue(&b, 0, true);
    check(&b, 0, true, spec);
    issue(&b, NREQ, false);
    check(&b, NREQ, false, spec);
    if (ft_fired(b.m, expect) == 0)
        fail_msg("[%s] the fault never fired: the test proves nothing", spec);

    /* Guarantee 4: without faults the device works again. */
    ft_install_plan(b.m, NULL);
    bool gone = !wdfdma_dev_present(b.hw);
    if (!gone) {
        ft_req again = {0};
        uint8_t *w = ft_guarded(100);
        ft_fill(ft_data(w), 100, 7);
        assert_int_equal(wdfdma_write_async(b.f, ft_data(w), 100, 0, ft_on_done, &again,
                                            &again.op), 0);
        (void)wdfdma_machine_run_until(b.m, wdfdma_machine_now(b.m) + BOUND_NS);
        if (again.calls != 1 || again.status != 0)
            fail_msg("[%s] the device does not recover: a clean write completed %d times "
                     "with status %#x (state %s)", spec, again.calls, (unsigned)again.status,
                     wdfdma_device_state(b.hw));
        free(w);
    }
    wdfdma_machine_set_cancel_hook(b.m, NULL, NULL);
    assert_int_equal(wdfdma_close(b.f), 0);
    assert_int_equal(wdfdma_device_remove(b.hw), 0);
    assert_int_equal(wdfdma_machine_run(b.m), 0);
    ft_machine_clean(b.m, why, sizeof(why));
    if (why[0])
        fail_msg("[%s] not clean after remove: %s", spec, why);
    wdfdma_machine_destroy(b.m);
    for (unsigned i = 0; i < 2 * NREQ; i++)
        free(b.buf[i]);
    ft_leaks_after(&leaks, why, sizeof(why));
    if (why[0])
        fail_msg("[%s] %s", spec, why);
}

/* Several seeds per kind: the fault lands at different points of the transfers. */
static void runs(const char *spec, wdfdma_fault_kind expect)
{
    for (uint64_t seed = 1; seed <= 4; seed++)
        run(spec, expect, seed * 1000 + 7);
}

#define KIND_TEST(name, spec, kind)                                                        \
    static void name(void **state)                                                        \
    {                                                                                     \
        (void)state;                                                                      \
        runs(spec, kind);                                                                 \
    }

KIND_TEST(test_dma_error, "dma-error:p=0.3", WDFDMA_FAULT_DMA_ERROR)
KIND_TEST(test_short, "short:p=0.5", WDFDMA_FAULT_SHORT)
KIND_TEST(test_lost_irq, "lost-irq:nth=3", WDFDMA_FAULT_LOST_IRQ)
KIND_TEST(test_spurious_irq, "spurious-irq:p=0.5", WDFDMA_FAULT_SPURIOUS_IRQ)
KIND_TEST(test_dup_irq, "dup-irq:p=0.5", WDFDMA_FAULT_DUP_IRQ)
KIND_TEST(test_late_irq, "late-irq:p=0.5", WDFDMA_FAULT_LATE_IRQ)
KIND_TEST(test_map_exhaust, "map-exhaust:every=3", WDFDMA_FAULT_MAP_EXHAUST)
KIND_TEST(test_pool_fail, "pool-fail:every=7", WDFDMA_FAULT_POOL_FAIL)
KIND_TEST(test_surprise_remove, "surprise-remove:nth=4", WDFDMA_FAULT_SURPRISE_REMOVE)
KIND_TEST(test_power_down, "power-down:nth=3:count=1", WDFDMA_FAULT_POWER_DOWN)
KIND_TEST(test_cancel, "cancel:p=0.3", WDFDMA_FAULT_CANCEL)
/* A mix proves itself by a kind that every seed meets many times: spurious-irq is asked
 * at each descriptor, cancel at each device decision point. "short" is asked only at
 * read descriptors, which the other kinds often cut to a handful: it missed 9% (device
 * mix) and 21% (host mix) of 100 seeds, so checking it made any change of a driver's DDI
 * pattern (which reshuffles the seeds' draws) fail the test by chance. */
KIND_TEST(test_mix_device, "dma-error:p=0.1,short:p=0.2,late-irq:p=0.3,dup-irq:p=0.2,"
                           "spurious-irq:p=0.2", WDFDMA_FAULT_SPURIOUS_IRQ)
KIND_TEST(test_mix_host, "map-exhaust:p=0.1,pool-fail:p=0.05,cancel:p=0.1,short:p=0.2",
          WDFDMA_FAULT_CANCEL)

/* ---- the system-DMA samples: uart and ring ----------------------------------------------
 * The same guarantees for drivers/uart and drivers/ring on one 8-channel sdmac, under
 * every kind their hardware can meet. A read on a serial line or a capture stream may
 * wait for bytes that never come (a fault stopped the stream), so after the bounded run
 * the test cancels what is still outstanding, as an application's timeout would: every
 * request must then complete, exactly once. Data honesty: no request reports a byte that
 * did not arrive — nothing in a read buffer past the count it reports is written, and
 * every ring read that succeeded holds the device's capture stream, in order, never a
 * byte twice and never a stale one. On the threads engine a request may complete while
 * the test cancels it, so cancelling and completing take one (recursive) lock: the
 * operation stays valid while IoCancelIrp runs. */
#include <pthread.h>
#include "devices/ring/ring.h"

#define SYS_REQS 8
#define SYS_BOUND_NS 200000000ull      /* 200 ms: a round of either sample takes < 70 ms */
#define UART_LEN 256u
#define RING_BYTES 4096u
#define RING_CHUNK 2048u
#define RING_CTL(fn) ((0x8001u << 16) | ((fn) << 2))   /* drivers/ring/ring.h */
#define RING_START RING_CTL(0x800u)
#define RING_STOP RING_CTL(0x801u)

typedef struct sys_run {
    wdfdma_machine *m;
    wdfdma_dev *ctrl;
    wdfdma_dev *hw;
    wdfdma_file *f;
    pthread_mutex_t lock;              /* recursive: done vs cancel on the threads engine */
    ft_req req[SYS_REQS];
    uint8_t *buf[SYS_REQS];
    size_t len[SYS_REQS];
} sys_run;

static sys_run *sys_current;

/* What the host does to the peripheral in the middle of a transfer, besides the plan
 * (the controller is the only device that asks for faults, so a plan's surprise-remove
 * and power-down act on the controller; these act on the uart or ring itself). */
typedef enum sys_action { ACT_NONE, ACT_SURPRISE_REMOVE, ACT_SLEEP } sys_action;
static sys_action sys_act;

static void sys_do_action(sys_run *s)
{
    if (sys_act == ACT_SURPRISE_REMOVE)
        assert_int_equal(wdfdma_device_surprise_remove(s->hw), 0);
    else if (sys_act == ACT_SLEEP) {
        assert_int_equal(wdfdma_device_set_power(s->hw, WDFDMA_D3), 0);
        assert_int_equal(wdfdma_device_set_power(s->hw, WDFDMA_D0), 0);
    }
}

/* The device works again: controller and peripheral are there and started. */
static bool sys_usable(sys_run *s)
{
    return wdfdma_dev_present(s->ctrl) && wdfdma_dev_present(s->hw) &&
           strcmp(wdfdma_device_state(s->hw), "started") == 0;
}

static void sys_on_done(void *ctx, int32_t status, size_t info)
{
    pthread_mutex_lock(&sys_current->lock);
    ft_on_done(ctx, status, info);
    pthread_mutex_unlock(&sys_current->lock);
}

static void sys_cancel_outstanding(sys_run *s, unsigned n)
{
    pthread_mutex_lock(&s->lock);
    for (unsigned i = 0; i < n; i++)
        if (s->req[i].issued && __atomic_load_n(&s->req[i].calls, __ATOMIC_ACQUIRE) == 0)
            (void)wdfdma_cancel(s->req[i].op);
    pthread_mutex_unlock(&s->lock);
}

static bool sys_cancel_one(void *ctx, wdfdma_dev *dev, uint64_t random)
{
    (void)dev;
    sys_run *s = ctx;
    unsigned live[SYS_REQS], n = 0;
    bool done = false;
    pthread_mutex_lock(&s->lock);
    for (unsigned i = 0; i < SYS_REQS; i++)
        if (s->req[i].issued && __atomic_load_n(&s->req[i].calls, __ATOMIC_ACQUIRE) == 0)
            live[n++] = i;
    if (n != 0)
        done = wdfdma_cancel(s->req[live[random % n]].op) == 0;
    pthread_mutex_unlock(&s->lock);
    return done;
}

static void sys_wait(sys_run *s, uint64_t ns)
{
    (void)wdfdma_machine_run_until(s->m, wdfdma_machine_now(s->m) + ns);
}

/* Run, cancel what is left, run again: then every issued request [0, n) must be done. */
static void sys_settle(sys_run *s, unsigned n, const char *label)
{
    sys_wait(s, SYS_BOUND_NS);
    sys_cancel_outstanding(s, n);
    sys_wait(s, SYS_BOUND_NS);
    for (unsigned i = 0; i < n; i++) {
        ft_req *r = &s->req[i];
        if (r->issued && __atomic_load_n(&r->calls, __ATOMIC_ACQUIRE) != 1)
            fail_msg("[%s] request %u completed %d times%s", label, i, r->calls,
                     r->calls == 0 ? " (never, even when cancelled)" : "");
        if (!r->issued && r->calls != 0)
            fail_msg("[%s] a refused request was completed", label);
        if (!ft_guards_intact(s->buf[i], s->len[i]))
            fail_msg("[%s] request %u wrote outside its host buffer", label, i);
        if (r->issued && r->info > s->len[i])
            fail_msg("[%s] request %u reports %zu bytes of %zu", label, i, r->info, s->len[i]);
    }
}

/* Remove, shut down, and prove nothing leaked and the verifier found nothing. */
static void sys_finish(sys_run *s, const ft_leaks *leaks, const char *spec)
{
    char why[160];
    wdfdma_machine_set_cancel_hook(s->m, NULL, NULL);
    (void)wdfdma_close(s->f);       /* a surprise-removed device may refuse it */
    assert_int_equal(wdfdma_device_remove(s->hw), 0);
    if (wdfdma_machine_engine(s->m) == WDFDMA_ENGINE_SIM)
        assert_int_equal(wdfdma_machine_run(s->m), 0);
    else
        sys_wait(s, SYS_BOUND_NS);
    if (wdfdma_verifier_finding_count(s->m) != 0) {
        wdfdma_verifier_finding f;
        assert_int_equal(wdfdma_verifier_finding_get(s->m, 0, &f), 0);
        fail_msg("[%s] verifier: %s", spec, f.report);
    }
    ft_machine_clean(s->m, why, sizeof(why));
    if (why[0])
        fail_msg("[%s] not clean after remove: %s", spec, why);
    wdfdma_machine_destroy(s->m);
    for (unsigned i = 0; i < SYS_REQS; i++)
        free(s->buf[i]);
    pthread_mutex_destroy(&s->lock);
    sys_current = NULL;
    ft_leaks_after(leaks, why, sizeof(why));
    if (why[0])
        fail_msg("[%s] %s", spec, why);
}

/* A machine with the shared 8-channel controller (s->ctrl), the run's lock and state. */
static void sys_begin(sys_run *s, uint64_t seed, wdfdma_engine engine, const char *label)
{
    memset(s, 0, sizeof(*s));
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
    pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(&s->lock, &a);
    pthread_mutexattr_destroy(&a);
    s->m = ft_machine_on(seed, engine, NULL, label);
    assert_int_equal(wdfdma_machine_add_device(s->m, "sdmac", "dma0", "channels=8", &s->ctrl), 0);
    sys_current = s;
}

/* The uart: loopback rounds of a read and a write of UART_LEN bytes. Until a round goes
 * wrong the read must return exactly what was written; afterwards the line is a shifted
 * byte stream (the bytes a failed round left behind arrive later), and only the counts
 * and the bytes past each read's count are held to account. */
static void uart_run(const char *spec, wdfdma_fault_kind expect, uint64_t seed,
                     wdfdma_engine engine)
{
    ft_leaks leaks;
    ft_leaks_before(&leaks);
    sys_run s;
    sys_begin(&s, seed, engine, spec);
    assert_int_equal(wdfdma_machine_add_device(s.m, "uart", "uart0", "baud=921600,fifo=16,"
                                               "loopback=1,tx_channel=0,rx_channel=1", &s.hw), 0);
    wdfdma_driver *drv;
    assert_int_equal(wdfdma_driver_load(s.m, WDFDMA_BUILD_DRIVER_DIR "/uart.so", &drv), 0);
    assert_int_equal(wdfdma_device_bind(s.hw, drv), 0);
    assert_int_equal(wdfdma_open(s.m, "uart0", &s.f), 0);
    for (unsigned i = 0; i < SYS_REQS; i++) {
        s.len[i] = UART_LEN;
        s.buf[i] = ft_guarded(UART_LEN);
        if (i % 2)
            ft_fill(ft_data(s.buf[i]), UART_LEN, 200 + i);
    }
    wdfdma_machine_set_cancel_hook(s.m, sys_cancel_one, &s);
    ft_install_plan(s.m, spec);

    bool desync = false;
    for (unsigned round = 0; round < SYS_REQS / 2; round++) {
        unsigned rd = 2 * round, wr = rd + 1;
        ft_req *r = &s.req[rd], *w = &s.req[wr];
        r->issued = wdfdma_read_async(s.f, ft_data(s.buf[rd]), UART_LEN, 0, sys_on_done, r,
                                      &r->op) == 0;
        w->issued = wdfdma_write_async(s.f, ft_data(s.buf[wr]), UART_LEN, 0, sys_on_done, w,
                                       &w->op) == 0;
        if (round == 1 && sys_act != ACT_NONE) {
            sys_wait(&s, 1000000);      /* 1 ms: about a third of the round */
            sys_do_action(&s);
        }
        sys_settle(&s, wr + 1, spec);
        bool clean = r->issued && w->issued && r->status == 0 && w->status == 0 &&
                     r->info == UART_LEN && w->info == UART_LEN;
        if (r->issued && ft_bytes_diff(ft_data(s.buf[rd]) + r->info, UART_LEN - r->info,
                                       FT_CANARY) != UART_LEN - r->info)
            fail_msg("[%s] round %u: the read reports %zu bytes but more were written", spec,
                     round, r->info);
        if (clean && !desync && ft_pattern_diff(ft_data(s.buf[rd]), UART_LEN, 200 + wr) !=
                                    UART_LEN)
            fail_msg("[%s] round %u: the read succeeded but byte %zu is wrong", spec, round,
                     ft_pattern_diff(ft_data(s.buf[rd]), UART_LEN, 200 + wr));
        desync |= !clean;
    }
    if (sys_act == ACT_NONE && ft_fired(s.m, expect) == 0)
        fail_msg("[%s] the fault never fired: the test proves nothing", spec);

    /* Without faults the device works again: a write completes in full. (Its read may
     * find bytes a failed round left in the FIFO, so it is not compared.) */
    ft_install_plan(s.m, NULL);
    wdfdma_machine_set_cancel_hook(s.m, NULL, NULL);
    if (sys_usable(&s)) {
        ft_req again = {0};
        uint8_t *g = ft_guarded(16);
        ft_fill(ft_data(g), 16, 9);
        assert_int_equal(wdfdma_write_async(s.f, ft_data(g), 16, 0, ft_on_done, &again,
                                            &again.op), 0);
        sys_wait(&s, SYS_BOUND_NS);
        if (__atomic_load_n(&again.calls, __ATOMIC_ACQUIRE) != 1 || again.status != 0 ||
            again.info != 16)
            fail_msg("[%s] the uart does not recover: a clean write completed %d times with "
                     "status %#x, %zu bytes", spec, again.calls, (unsigned)again.status,
                     again.info);
        free(g);
    }
    sys_finish(&s, &leaks, spec);
}

/* Where `got` bytes sit in the device's recorded capture stream at or after `from`
 * (UINT64_MAX if nowhere): a read that succeeded must be a contiguous piece of it. */
static uint64_t ring_find(wdfdma_dev *hw, const uint8_t *got, size_t n, uint64_t from)
{
    static uint8_t rec[65536];
    long have = ring_recorded(hw, 0, rec, sizeof(rec));
    for (uint64_t at = from; have > 0 && at + n <= (uint64_t)have; at++)
        if (memcmp(rec + at, got, n) == 0)
            return at;
    return UINT64_MAX;
}

/* The ring: a capture stream, started, read in chunks, stopped. Every read that
 * reports bytes must hold stream bytes that follow the previous read's, and until a
 * read fails, exactly the next ones. */
static void ring_run(const char *spec, wdfdma_fault_kind expect, uint64_t seed,
                     wdfdma_engine engine)
{
    ft_leaks leaks;
    ft_leaks_before(&leaks);
    sys_run s;
    sys_begin(&s, seed, engine, spec);
    assert_int_equal(wdfdma_machine_add_device(s.m, "ring", "ring0", "dir=capture,rate=48000,"
                                               "frame=4,channel=0", &s.hw), 0);
    assert_int_equal(wdfdma_registry_set_ulong(s.m, "ring0", "device", "Playback", 0), 0);
    assert_int_equal(wdfdma_registry_set_ulong(s.m, "ring0", "device", "RingBytes",
                                               RING_BYTES), 0);
    wdfdma_driver *drv;
    assert_int_equal(wdfdma_driver_load(s.m, WDFDMA_BUILD_DRIVER_DIR "/ring.so", &drv), 0);
    assert_int_equal(wdfdma_device_bind(s.hw, drv), 0);
    assert_int_equal(wdfdma_open(s.m, "ring0", &s.f), 0);
    for (unsigned i = 0; i < SYS_REQS; i++) {
        s.len[i] = RING_CHUNK;
        s.buf[i] = ft_guarded(RING_CHUNK);
    }
    wdfdma_machine_set_cancel_hook(s.m, sys_cancel_one, &s);
    ft_install_plan(s.m, spec);

    int32_t st;
    size_t info;
    (void)wdfdma_ioctl(s.f, RING_START, NULL, 0, NULL, 0, &st, &info);   /* may fail */
    for (unsigned i = 0; i < SYS_REQS; i++) {
        ft_req *r = &s.req[i];
        r->issued = wdfdma_read_async(s.f, ft_data(s.buf[i]), RING_CHUNK, 0, sys_on_done, r,
                                      &r->op) == 0;
    }
    if (sys_act != ACT_NONE) {
        sys_wait(&s, 25000000);         /* 25 ms: two and a half chunks into the stream */
        sys_do_action(&s);
    }
    sys_settle(&s, SYS_REQS, spec);
    (void)wdfdma_ioctl(s.f, RING_STOP, NULL, 0, NULL, 0, &st, &info);
    if (sys_act == ACT_NONE && ft_fired(s.m, expect) == 0)
        fail_msg("[%s] the fault never fired: the test proves nothing", spec);

    /* Requests complete in order; check each against the recorded stream. */
    uint64_t next = 0;
    bool in_step = sys_act != ACT_SLEEP;   /* D3 loses what the peripheral's FIFO held */
    for (unsigned i = 0; i < SYS_REQS; i++) {
        ft_req *r = &s.req[i];
        uint8_t *d = ft_data(s.buf[i]);
        if (!r->issued)
            continue;
        if (ft_bytes_diff(d + r->info, RING_CHUNK - r->info, FT_CANARY) != RING_CHUNK - r->info)
            fail_msg("[%s] read %u reports %zu bytes but more were written", spec, i, r->info);
        if (r->info == 0)
            continue;
        uint64_t at = ring_find(s.hw, d, r->info, next);
        if (at == UINT64_MAX || (in_step && at != next))
            fail_msg("[%s] read %u (status %#x, %zu bytes) is not the stream's next bytes "
                     "(expected offset %llu, found %lld)", spec, i, (unsigned)r->status,
                     r->info, (unsigned long long)next, (long long)at);
        next = at + r->info;
        in_step &= r->status == 0 && r->info == RING_CHUNK;
    }

    /* Without faults the stream starts again and a read gets a whole chunk. */
    ft_install_plan(s.m, NULL);
    wdfdma_machine_set_cancel_hook(s.m, NULL, NULL);
    if (sys_usable(&s)) {
        ft_req again = {0};
        uint8_t *g = ft_guarded(RING_CHUNK);
        assert_int_equal(wdfdma_ioctl(s.f, RING_START, NULL, 0, NULL, 0, &st, &info), 0);
        if (st != 0)
            fail_msg("[%s] the ring does not start again: status %#x", spec, (unsigned)st);
        assert_int_equal(wdfdma_read_async(s.f, ft_data(g), RING_CHUNK, 0, ft_on_done, &again,
                                           &again.op), 0);
        sys_wait(&s, SYS_BOUND_NS);
        if (__atomic_load_n(&again.calls, __ATOMIC_ACQUIRE) != 1 || again.status != 0 ||
            again.info != RING_CHUNK)
            fail_msg("[%s] the ring does not recover: a clean read completed %d times with "
                     "status %#x, %zu bytes", spec, again.calls, (unsigned)again.status,
                     again.info);
        if (ring_find(s.hw, ft_data(g), RING_CHUNK, next) == UINT64_MAX)
            fail_msg("[%s] after recovery the read is not stream data", spec);
        assert_int_equal(wdfdma_ioctl(s.f, RING_STOP, NULL, 0, NULL, 0, &st, &info), 0);
        free(g);
    }
    sys_finish(&s, &leaks, spec);
}

static void sys_runs(void (*run_one)(const char *, wdfdma_fault_kind, uint64_t, wdfdma_engine),
                     const char *spec, wdfdma_fault_kind expect, wdfdma_engine engine)
{
    for (uint64_t seed = 1; seed <= (engine == WDFDMA_ENGINE_SIM ? 4u : 2u); seed++)
        run_one(spec, expect, seed * 1000 + 11, engine);
}

#define SYS_TEST(name, runner, spec, kind, engine, action)                                 \
    static void name(void **state)                                                        \
    {                                                                                     \
        (void)state;                                                                      \
        sys_act = action;                                                                 \
        sys_runs(runner, spec, kind, engine);                                             \
        sys_act = ACT_NONE;                                                               \
    }

/* The controller asks for faults once per transfer it starts: triggers are counted in
 * transfers (the uart starts two per round, the ring one per stream). */
#define SIM WDFDMA_ENGINE_SIM
#define THREADS WDFDMA_ENGINE_THREADS
SYS_TEST(test_uart_dma_error, uart_run, "dma-error:every=3", WDFDMA_FAULT_DMA_ERROR, SIM, ACT_NONE)
SYS_TEST(test_uart_short, uart_run, "short:every=2", WDFDMA_FAULT_SHORT, SIM, ACT_NONE)
SYS_TEST(test_uart_map_exhaust, uart_run, "map-exhaust:every=3", WDFDMA_FAULT_MAP_EXHAUST, SIM,
         ACT_NONE)
SYS_TEST(test_uart_pool_fail, uart_run, "pool-fail:every=5", WDFDMA_FAULT_POOL_FAIL, SIM,
         ACT_NONE)
SYS_TEST(test_uart_controller_removed, uart_run, "surprise-remove:nth=3",
         WDFDMA_FAULT_SURPRISE_REMOVE, SIM, ACT_NONE)
SYS_TEST(test_uart_cancel, uart_run, "cancel:every=2", WDFDMA_FAULT_CANCEL, SIM, ACT_NONE)
SYS_TEST(test_uart_mix, uart_run, "dma-error:p=0.1,short:p=0.2,map-exhaust:p=0.1,"
         "pool-fail:p=0.05,cancel:every=3", WDFDMA_FAULT_CANCEL, SIM, ACT_NONE)
SYS_TEST(test_uart_surprise_remove, uart_run, "none", WDFDMA_FAULT_SURPRISE_REMOVE, SIM,
         ACT_SURPRISE_REMOVE)
SYS_TEST(test_uart_sleep, uart_run, "none", WDFDMA_FAULT_POWER_DOWN, SIM, ACT_SLEEP)
SYS_TEST(test_ring_dma_error, ring_run, "dma-error:nth=1", WDFDMA_FAULT_DMA_ERROR, SIM, ACT_NONE)
SYS_TEST(test_ring_short, ring_run, "short:nth=1", WDFDMA_FAULT_SHORT, SIM, ACT_NONE)
SYS_TEST(test_ring_map_exhaust, ring_run, "map-exhaust:nth=1", WDFDMA_FAULT_MAP_EXHAUST, SIM,
         ACT_NONE)
SYS_TEST(test_ring_pool_fail, ring_run, "pool-fail:every=3", WDFDMA_FAULT_POOL_FAIL, SIM,
         ACT_NONE)
SYS_TEST(test_ring_controller_removed, ring_run, "surprise-remove:nth=1",
         WDFDMA_FAULT_SURPRISE_REMOVE, SIM, ACT_NONE)
SYS_TEST(test_ring_surprise_remove, ring_run, "none", WDFDMA_FAULT_SURPRISE_REMOVE, SIM,
         ACT_SURPRISE_REMOVE)
SYS_TEST(test_ring_sleep, ring_run, "none", WDFDMA_FAULT_POWER_DOWN, SIM, ACT_SLEEP)
SYS_TEST(test_uart_threads_mix, uart_run, "dma-error:p=0.2,short:p=0.2,cancel:every=2",
         WDFDMA_FAULT_CANCEL, THREADS, ACT_NONE)
SYS_TEST(test_uart_threads_surprise_remove, uart_run, "none", WDFDMA_FAULT_SURPRISE_REMOVE,
         THREADS, ACT_SURPRISE_REMOVE)
SYS_TEST(test_ring_threads_short, ring_run, "short:nth=1", WDFDMA_FAULT_SHORT, THREADS, ACT_NONE)
SYS_TEST(test_ring_threads_dma_error, ring_run, "dma-error:nth=1", WDFDMA_FAULT_DMA_ERROR,
         THREADS, ACT_NONE)

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dma_error),
        cmocka_unit_test(test_short),
        cmocka_unit_test(test_spurious_irq),
        cmocka_unit_test(test_dup_irq),
        cmocka_unit_test(test_late_irq),
        cmocka_unit_test(test_map_exhaust),
        cmocka_unit_test(test_pool_fail),
        cmocka_unit_test(test_power_down),
        cmocka_unit_test(test_cancel),
        cmocka_unit_test(test_mix_device),
        cmocka_unit_test(test_mix_host),
        cmocka_unit_test(test_surprise_remove),
        cmocka_unit_test(test_lost_irq),
        cmocka_unit_test(test_uart_dma_error),
        cmocka_unit_test(test_uart_short),
        cmocka_unit_test(test_uart_map_exhaust),
        cmocka_unit_test(test_uart_pool_fail),
        cmocka_unit_test(test_uart_controller_removed),
        cmocka_unit_test(test_uart_cancel),
        cmocka_unit_test(test_uart_mix),
        cmocka_unit_test(test_uart_surprise_remove),
        cmocka_unit_test(test_uart_sleep),
        cmocka_unit_test(test_ring_dma_error),
        cmocka_unit_test(test_ring_short),
        cmocka_unit_test(test_ring_map_exhaust),
        cmocka_unit_test(test_ring_pool_fail),
        cmocka_unit_test(test_ring_controller_removed),
        cmocka_unit_test(test_ring_surprise_remove),
        cmocka_unit_test(test_ring_sleep),
        cmocka_unit_test(test_uart_threads_mix),
        cmocka_unit_test(test_uart_threads_surprise_remove),
        cmocka_unit_test(test_ring_threads_short),
        cmocka_unit_test(test_ring_threads_dma_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
