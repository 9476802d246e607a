/*
 * Fault plans, host API (include/wdfdma/faults.h): the parser and its messages, the
 * canonical text, installing a plan on a machine, the decision engine's modes (p, every,
 * nth, after, count, device) through the device-model hook, reproducibility by seed,
 * per-kind counters, trace records, hardware presence. DPDK order: bad arguments, then
 * success, then misuse.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "wdfdma/devmodel.h"
#include "wdfdma/faults.h"
#include "wdfdma/machine.h"
#include "wdfdma/trace.h"

static wdfdma_machine *new_machine(uint64_t seed)
{
    wdfdma_machine_config c;
    wdfdma_machine_config_init(&c);
    c.seed = seed;
    wdfdma_machine *m = NULL;
    assert_int_equal(wdfdma_machine_create(&c, &m), 0);
    return m;
}

/* Parsing must fail with -EINVAL and a message that quotes `token`. */
static void expect_bad(const char *spec, const char *token)
{
    wdfdma_fault_plan *p = (wdfdma_fault_plan *)1;
    int rc = wdfdma_fault_plan_parse(spec, &p);
    if (rc != -22)
        fail_msg("'%s' parsed (rc %d), expected -EINVAL", spec, rc);
    assert_null(p);
    const char *msg = wdfdma_last_error();
    if (strstr(msg, token) == NULL)
        fail_msg("'%s': message \"%s\" does not name '%s'", spec, msg, token);
    assert_null(strchr(msg, '\n'));
}

/* Parse, format, compare with the expected canonical text, and re-parse it. */
static void expect_canonical(const char *spec, const char *canonical)
{
    wdfdma_fault_plan *p = NULL;
    if (wdfdma_fault_plan_parse(spec, &p) != 0)
        fail_msg("'%s' did not parse: %s", spec, wdfdma_last_error());
    char buf[512];
    int n = wdfdma_fault_plan_format(p, buf, sizeof(buf));
    assert_int_equal(n, (int)strlen(canonical));
    assert_string_equal(buf, canonical);
    wdfdma_fault_plan *q = NULL;
    assert_int_equal(wdfdma_fault_plan_parse(buf, &q), 0);
    char again[512];
    assert_int_equal(wdfdma_fault_plan_format(q, again, sizeof(again)), n);
    assert_string_equal(again, canonical);
    wdfdma_fault_plan_free(p);
    wdfdma_fault_plan_free(q);
}

/* ---- bad arguments ------------------------------------------------------------------ */
static void test_bad_arguments(void **state)
{
    (void)state;
    wdfdma_fault_plan *p = NULL;
    assert_int_equal(wdfdma_fault_plan_parse(NULL, &p), -22);
    assert_non_null(strstr(wdfdma_last_error(), "NULL"));
    assert_int_equal(wdfdma_fault_plan_parse("dma-error:p=1", NULL), -22);
    assert_int_equal(wdfdma_fault_plan_format(NULL, NULL, 0), -22);
    assert_int_equal(wdfdma_machine_set_fault_plan(NULL, NULL), -22);
    wdfdma_fault_stats st;
    assert_int_equal(wdfdma_machine_get_fault_stats(NULL, &st), -22);
    wdfdma_machine *m = new_machine(1);
    assert_int_equal(wdfdma_machine_get_fault_stats(m, NULL), -22);
    wdfdma_machine_set_cancel_hook(NULL, NULL, NULL);      /* ignored, no crash */
    wdfdma_dev_set_present(NULL, false);
    assert_false(wdfdma_dev_present(NULL));
    assert_null(wdfdma_fault_kind_name(WDFDMA_FAULT_KINDS));
    assert_int_equal(wdfdma_fault_kind_from_name("nope"), -1);
    assert_int_equal(wdfdma_fault_kind_from_name(NULL), -1);
    wdfdma_machine_destroy(m);
}

static void test_bad_specs(void **state)
{
    (void)state;
    expect_bad("", "empty");
    expect_bad("dma-eror:p=0.1", "dma-eror");
    expect_bad("dma-error", "dma-error");                    /* no trigger */
    expect_bad("dma-error:", "dma-error:");
    expect_bad("dma-error:p=0.1:", "dma-error:p=0.1:");
    expect_bad("dma-error::p=0.1", "dma-error::p=0.1");
    expect_bad("dma-error:p=1.5", "p=1.5");
    expect_bad("dma-error:p=0.0000000001", "p=0.0000000001"); /* 10 decimals */
    expect_bad("dma-error:p=.5", "p=.5");
    expect_bad("dma-error:p=-0.5", "p=-0.5");
    expect_bad("dma-error:p=0.5x", "p=0.5x");
    expect_bad("lost-irq:every=0", "every=0");
    expect_bad("lost-irq:every=", "every=");
    expect_bad("lost-irq:every=+3", "every=+3");
    expect_bad("lost-irq:every=99999999999999999999", "every=99999999999999999999");
    expect_bad("lost-irq:nth=1:every=2", "every=2");         /* two triggers */
    expect_bad("lost-irq:nth=1:count=0", "count=0");
    expect_bad("lost-irq:nth=1:after=1:after=2", "after=2");  /* repeated */
    expect_bad("lost-irq:nth=1:colour=red", "colour=red");
    expect_bad("lost-irq:nth=1:device", "device");
    expect_bad("lost-irq:nth=1:device=bad name", "device=bad name");
    expect_bad("pool-fail:nth=1:device=sgdma0", "pool-fail has no device");
    expect_bad("dma-error:p=0.1,,short:p=1", "offset 16");
    expect_bad("dma-error:p=0.1,", "offset 16");
    expect_bad(",dma-error:p=0.1", "offset 0");
    expect_bad("none,dma-error:p=1", "none");
    char big[5000];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = 0;
    expect_bad(big, "longer than");
    /* 33 clauses: one too many */
    char many[33 * 16] = "";
    for (int i = 0; i < 33; i++)
        strcat(many, i ? ",short:nth=1" : "short:nth=1");
    expect_bad(many, "more than 32 clauses");
}

/* ---- success -------------------------------------------------------------------------- */
static void test_canonical_text(void **state)
{
    (void)state;
    expect_canonical("none", "none");
    expect_canonical("dma-error:p=0.01,lost-irq:every=97", "dma-error:p=0.01,lost-irq:every=97");
    expect_canonical("dma-error:p=0.010000000", "dma-error:p=0.01");
    expect_canonical("dma-error:p=1.0", "dma-error:p=1");
    expect_canonical("dma-error:p=0", "dma-error:p=0");
    expect_canonical("short:p=0.000000001", "short:p=0.000000001");
    /* options come out in a fixed order, defaults left out */
    expect_canonical("late-irq:device=sgdma0:count=2:after=0:nth=3",
                     "late-irq:nth=3:count=2:device=sgdma0");
    expect_canonical("cancel:after=5:every=2", "cancel:every=2:after=5");
    for (unsigned k = 0; k < WDFDMA_FAULT_KINDS; k++) {
        char spec[64];
        snprintf(spec, sizeof(spec), "%s:nth=1", wdfdma_fault_kind_name(k));
        expect_canonical(spec, spec);
        assert_int_equal(wdfdma_fault_kind_from_name(wdfdma_fault_kind_name(k)), (int)k);
    }
    /* a short buffer: snprintf semantics, terminated */
    wdfdma_fault_plan *p = NULL;
    assert_int_equal(wdfdma_fault_plan_parse("dma-error:p=0.5,short:nth=4", &p), 0);
    assert_int_equal(wdfdma_fault_plan_clauses(p), 2);
    char small[8];
    assert_int_equal(wdfdma_fault_plan_format(p, small, sizeof(small)), 27);
    assert_string_equal(small, "dma-err");
    assert_int_equal(wdfdma_fault_plan_format(p, NULL, 0), 27);
    wdfdma_fault_plan_free(p);
    wdfdma_fault_plan_free(NULL);
}

/* A device that does nothing but lets the test ask the plan through the device SDK. */
static int probe_init(wdfdma_dev *dev, const char *options)
{
    (void)options;
    return wdfdma_dev_declare_irq(dev, WDFDMA_IRQ_LEVEL, 0) < 0 ? -1 : 0;
}
static const wdfdma_device_model probe_model = {
    .name = "faultprobe", .summary = "test: asks the fault plan", .state_size = 8,
    .init = probe_init,
};
WDFDMA_DEVICE_MODEL(probe_model)

static unsigned ask_n(wdfdma_dev *d, const char *kind, unsigned n, char *pattern)
{
    unsigned fired = 0;
    for (unsigned i = 0; i < n; i++) {
        bool f = wdfdma_dev_fault(d, kind);
        if (pattern)
            pattern[i] = f ? 'x' : '.';
        fired += f;
    }
    if (pattern)
        pattern[n] = 0;
    return fired;
}

static void install(wdfdma_machine *m, const char *spec)
{
    wdfdma_fault_plan *p = NULL;
    if (wdfdma_fault_plan_parse(spec, &p) != 0)
        fail_msg("%s: %s", spec, wdfdma_last_error());
    assert_int_equal(wdfdma_machine_set_fault_plan(m, p), 0);
    wdfdma_fault_plan_free(p);   /* the machine keeps its own copy */
}

static void test_modes(void **state)
{
    (void)state;
    wdfdma_machine *m = new_machine(7);
    wdfdma_dev *a, *b;
    assert_int_equal(wdfdma_machine_add_device(m, "faultprobe", "a0", NULL, &a), 0);
    assert_int_equal(wdfdma_machine_add_device(m, "faultprobe", "b0", NULL, &b), 0);
    char pat[64];
    assert_int_equal(ask_n(a, "dma-error", 10, pat), 0);   /* no plan: nothing */

    install(m, "dma-error:every=3");
    ask_n(a, "dma-error", 10, pat);
    assert_string_equal(pat, "..x..x..x.");
    assert_int_equal(ask_n(a, "short", 10, NULL), 0);      /* other kinds unaffected */

    install(m, "dma-error:every=3:after=2:count=2");
    ask_n(a, "dma-error", 12, pat);
    assert_string_equal(pat, "....x..x....");

    install(m, "lost-irq:nth=4");
    ask_n(a, "lost-irq", 8, pat);
    assert_string_equal(pat, "...x....");

    install(m, "lost-irq:nth=2:after=3");
    ask_n(a, "lost-irq", 8, pat);
    assert_string_equal(pat, "....x...");

    /* device filter: b's asks do not count for a's clause */
    install(m, "short:nth=2:device=a0");
    ask_n(b, "short", 5, pat);
    assert_string_equal(pat, ".....");
    ask_n(a, "short", 3, pat);
    assert_string_equal(pat, ".x.");

    /* p=1 always, p=0 never; two clauses of one kind: either fires */
    install(m, "dup-irq:p=1,spurious-irq:p=0,late-irq:nth=1,late-irq:nth=3");
    assert_int_equal(ask_n(a, "dup-irq", 20, NULL), 20);
    assert_int_equal(ask_n(a, "spurious-irq", 20, NULL), 0);
    ask_n(a, "late-irq", 4, pat);
    assert_string_equal(pat, "x.x.");

    /* counters: asked and fired per kind since the plan went in */
    wdfdma_fault_stats st;
    assert_int_equal(wdfdma_machine_get_fault_stats(m, &st), 0);
    assert_int_equal(st.asked[WDFDMA_FAULT_DUP_IRQ], 20);
    assert_int_equal(st.fired[WDFDMA_FAULT_DUP_IRQ], 20);
    assert_int_equal(st.asked[WDFDMA_FAULT_SPURIOUS_IRQ], 20);
    assert_int_equal(st.fired[WDFDMA_FAULT_SPURIOUS_IRQ], 0);
    assert_int_equal(st.fired[WDFDMA_FAULT_LATE_IRQ], 2);

    /* every firing is a trace record naming the kind */
    wdfdma_trace_record rec[8];
    size_t n = wdfdma_trace_recent(m, rec, 8);
    assert_true(n >= 1);
    assert_int_equal(rec[n - 1].type, WDFDMA_TR_NOTE);
    assert_string_equal(rec[n - 1].name, "fault:late-irq");
    assert_int_equal(rec[n - 1].a, WDFDMA_FAULT_LATE_IRQ);
    assert_int_equal(rec[n - 1].b, 2);

    /* removing the plan stops everything */
    assert_int_equal(wdfdma_machine_set_fault_plan(m, NULL), 0);
    assert_int_equal(ask_n(a, "dup-irq", 5, NULL), 0);
    assert_int_equal(wdfdma_machine_get_fault_stats(m, &st), 0);
    assert_int_equal(st.asked[WDFDMA_FAULT_DUP_IRQ], 0);
    wdfdma_machine_destroy(m);
}

/* p= is reproducible by seed and roughly honest. */
static void test_probability_by_seed(void **state)
{
    (void)state;
    char first[2001], again[2001], other[2001];
    uint64_t seeds[3] = {42, 42, 43};
    char *out[3] = {first, again, other};
    unsigned fired[3];
    for (int i = 0; i < 3; i++) {
        wdfdma_machine *m = new_machine(seeds[i]);
        wdfdma_dev *d;
        assert_int_equal(wdfdma_machine_add_device(m, "faultprobe", "d0", NULL, &d), 0);
        install(m, "dma-error:p=0.25");
        fired[i] = ask_n(d, "dma-error", 2000, out[i]);
        wdfdma_machine_destroy(m);
    }
    assert_string_equal(first, again);
    assert_string_not_equal(first, other);
    assert_in_range(fired[0], 400, 600);
}

/* ---- presence ---------------------------------------------------------------------------- */
static void test_presence(void **state)
{
    (void)state;
    wdfdma_machine *m = new_machine(3);
    wdfdma_dev *d;
    assert_int_equal(wdfdma_machine_add_device(m, "faultprobe", "d0", NULL, &d), 0);
    assert_true(wdfdma_dev_present(d));
    wdfdma_dev_irq_assert(d, 0);
    wdfdma_dev_set_present(d, false);
    assert_false(wdfdma_dev_present(d));
    /* an absent device's DMA faults */
    uint8_t b[4];
    assert_int_equal(wdfdma_dev_dma_read(d, 0x1000, b, sizeof(b)), WDFDMA_DMA_FAULT);
    wdfdma_dev_irq_assert(d, 0);                            /* dropped, no crash */
    wdfdma_dev_set_present(d, true);
    assert_true(wdfdma_dev_present(d));
    wdfdma_machine_stats ms;
    wdfdma_machine_get_stats(m, &ms);
    assert_int_equal(ms.dma_faults, 0);                     /* absence is not a finding */
    wdfdma_machine_destroy(m);
}

/* surprise-remove at the chosen decision point: the device is gone from then on, and no
 * decision points are asked for it afterwards. Without a framework, nobody is told. */
static void test_surprise_remove_point(void **state)
{
    (void)state;
    wdfdma_machine *m = new_machine(9);
    wdfdma_dev *d;
    assert_int_equal(wdfdma_machine_add_device(m, "faultprobe", "d0", NULL, &d), 0);
    install(m, "surprise-remove:nth=3:device=d0");
    ask_n(d, "dma-error", 2, NULL);
    assert_true(wdfdma_dev_present(d));
    ask_n(d, "dma-error", 1, NULL);
    assert_false(wdfdma_dev_present(d));
    ask_n(d, "dma-error", 5, NULL);
    wdfdma_fault_stats st;
    assert_int_equal(wdfdma_machine_get_fault_stats(m, &st), 0);
    assert_int_equal(st.asked[WDFDMA_FAULT_SURPRISE_REMOVE], 3);
    assert_int_equal(st.fired[WDFDMA_FAULT_SURPRISE_REMOVE], 1);
    assert_int_equal(wdfdma_machine_run(m), 0);             /* the queued action runs */
    wdfdma_machine_destroy(m);
}

/* cancel: the registered hook runs later, at PASSIVE_LEVEL, with the device. */
typedef struct cancel_probe {
    unsigned calls;
    wdfdma_dev *dev;
} cancel_probe;

static bool on_cancel(void *ctx, wdfdma_dev *dev, uint64_t random)
{
    (void)random;
    cancel_probe *c = ctx;
    c->calls++;
    c->dev = dev;
    return true;
}

static void test_cancel_hook(void **state)
{
    (void)state;
    wdfdma_machine *m = new_machine(11);
    wdfdma_dev *d;
    assert_int_equal(wdfdma_machine_add_device(m, "faultprobe", "d0", NULL, &d), 0);
    cancel_probe cp = {0};
    wdfdma_machine_set_cancel_hook(m, on_cancel, &cp);
    install(m, "cancel:every=2:count=2");
    ask_n(d, "short", 10, NULL);
    assert_int_equal(cp.calls, 0);                          /* not inside the model */
    assert_int_equal(wdfdma_machine_run(m), 0);
    assert_int_equal(cp.calls, 2);
    assert_ptr_equal(cp.dev, d);
    /* a plan without a hook: counted, cancels nothing */
    wdfdma_machine_set_cancel_hook(m, NULL, NULL);
    install(m, "cancel:nth=1");
    ask_n(d, "short", 1, NULL);
    assert_int_equal(wdfdma_machine_run(m), 0);
    assert_int_equal(cp.calls, 2);
    /* a queued action that never ran is freed with the machine */
    install(m, "cancel:nth=1");
    ask_n(d, "short", 1, NULL);
    wdfdma_machine_destroy(m);
}

/* ---- misuse ----------------------------------------------------------------------------- */
/* The host's own fault hook keeps working next to a plan; a model asking a kind the plan
 * does not know (or an action kind) gets false. */
static bool always(void *ctx, wdfdma_dev *dev, const char *kind)
{
    (void)dev;
    (void)kind;
    ++*(unsigned *)ctx;
    return true;
}

static void test_hook_and_plan(void **state)
{
    (void)state;
    wdfdma_machine *m = new_machine(5);
    wdfdma_dev *d;
    assert_int_equal(wdfdma_machine_add_device(m, "faultprobe", "d0", NULL, &d), 0);
    install(m, "short:nth=1");
    assert_false(wdfdma_dev_fault(d, "made-up"));
    assert_false(wdfdma_dev_fault(d, "cancel"));           /* actions are not answers */
    assert_false(wdfdma_dev_fault(d, NULL));
    assert_false(wdfdma_dev_fault(NULL, "short"));
    unsigned calls = 0;
    wdfdma_machine_set_fault_hook(m, always, &calls);
    assert_true(wdfdma_dev_fault(d, "short"));             /* both fire */
    assert_true(wdfdma_dev_fault(d, "short"));             /* the hook alone */
    assert_int_equal(calls, 2);
    wdfdma_fault_stats st;
    assert_int_equal(wdfdma_machine_get_fault_stats(m, &st), 0);
    assert_int_equal(st.fired[WDFDMA_FAULT_SHORT], 1);     /* the plan counts its own */
    wdfdma_machine_destroy(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_bad_specs),
        cmocka_unit_test(test_canonical_text),
        cmocka_unit_test(test_modes),
        cmocka_unit_test(test_probability_by_seed),
        cmocka_unit_test(test_presence),
        cmocka_unit_test(test_surprise_remove_point),
        cmocka_unit_test(test_cancel_hook),
        cmocka_unit_test(test_hook_and_plan),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
