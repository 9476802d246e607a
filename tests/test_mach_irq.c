/*
 * The interrupt controller: connections, level/edge/shared lines, MSI, masking,
 * spurious interrupts, level re-delivery and the storm guard.
 * Order: bad arguments, then success, then wrong-state misuse.
 */
#include <errno.h>

#include "mach_testutil.h"

typedef struct probe {
    wdfdma_machine *m;
    wdfdma_dev *dev;
    volatile uintptr_t *lock;
    int calls, claim_after;    /* claim from this call on (0 = always, -1 = never) */
    bool deassert;             /* quiet the device when claiming */
    int *order, *norder, tag;
    uint8_t irql;
    bool lock_held;
    uint32_t message;
} probe;

static bool probe_isr(void *ctx, uint32_t message)
{
    probe *p = ctx;
    p->calls++;
    p->irql = mach_irql();
    p->lock_held = p->lock && mach_spin_held_by_me(p->lock);
    p->message = message;
    if (p->order)
        p->order[(*p->norder)++] = p->tag;
    bool claim = p->claim_after >= 0 && p->calls > p->claim_after;
    if (claim && p->deassert)
        wdfdma_dev_irq_deassert(p->dev, 0);
    return claim;
}

static const wdfdma_resource *irq_of(wdfdma_dev *d)
{
    return wdfdma_dev_resource(d, 1);
}

static wdfdma_machine *quiet_machine(void)
{
    wdfdma_machine *m = tu_machine(WDFDMA_ENGINE_SIM, 1);
    wdfdma_machine_set_bugcheck_quiet(m, true);
    return m;
}

/* ---- bad arguments ------------------------------------------------------------------------ */
static void test_connect_bad_arguments(void **state)
{
    (void)state;
    wdfdma_machine *m = quiet_machine();
    wdfdma_dev *d;
    assert_int_equal(wdfdma_machine_add_device(m, "toy", "t", NULL, &d), 0);
    uint32_t v = irq_of(d)->vector;
    mach_irq_conn *c = (mach_irq_conn *)&c;
    probe p = { 0 };
    assert_int_equal(mach_irq_connect(NULL, v, 5, probe_isr, &p, NULL, &c), -EINVAL);
    assert_int_equal(mach_irq_connect(m, v, 5, NULL, &p, NULL, &c), -EINVAL);
    assert_int_equal(mach_irq_connect(m, v, 5, probe_isr, &p, NULL, NULL), -EINVAL);
    assert_int_equal(mach_irq_connect(m, 0x300, 5, probe_isr, &p, NULL, &c), -EINVAL);
    assert_int_equal(mach_irq_connect(m, v + 1, 5, probe_isr, &p, NULL, &c), -EINVAL);
    assert_non_null(strstr(wdfdma_last_error(), "belongs to no device"));
    assert_int_equal(mach_irq_connect(m, v, 2, probe_isr, &p, NULL, &c), -EINVAL);
    assert_non_null(strstr(wdfdma_last_error(), "DIRQL 2"));
    assert_null(c);
    /* device side: undeclared interrupt, MSI on a line */
    wdfdma_dev_irq_assert(d, 3);
    wdfdma_dev_msi_send(d, 0, 0);
    assert_int_equal(mach_findings(m), 2);
    mach_irq_disconnect(NULL);
    mach_irq_mask(NULL, true);
    assert_null(mach_irq_owner(m, 0x300));
    wdfdma_machine_destroy(m);
}

/* ---- success ------------------------------------------------------------------------------ */
static void test_level_line_delivery(void **state)
{
    (void)state;
    wdfdma_machine *m = quiet_machine();
    probe p = { .m = m, .deassert = true };
    assert_int_equal(wdfdma_machine_add_device(m, "toy", "t", NULL, &p.dev), 0);
    const wdfdma_resource *r = irq_of(p.dev);
    volatile uintptr_t lock = 0;
    p.lock = &lock;
    mach_irq_conn *c;
    assert_int_equal(mach_irq_connect(m, r->vector, (uint8_t)r->level, probe_isr, &p, &lock, &c),
                     0);
    wdfdma_dev_irq_assert(p.dev, 0);
    assert_int_equal(p.calls, 0);                  /* delivered by the engine, not inline */
    wdfdma_machine_run(m);
    assert_int_equal(p.calls, 1);
    assert_int_equal(p.irql, r->level);
    assert_true(p.lock_held);
    assert_int_equal(lock, 0);                     /* released after the ISR */
    assert_int_equal(mach_irql(), MACH_PASSIVE_LEVEL);
    /* masked: stays pending until unmasked */
    mach_irq_mask(c, true);
    wdfdma_dev_irq_assert(p.dev, 0);
    wdfdma_machine_run(m);
    assert_int_equal(p.calls, 1);
    mach_irq_mask(c, false);
    wdfdma_machine_run(m);
    assert_int_equal(p.calls, 2);
    wdfdma_machine_stats st;
    wdfdma_machine_get_stats(m, &st);
    assert_int_equal(st.interrupts, 2);
    assert_int_equal(st.spurious_interrupts, 0);
    mach_irq_disconnect(c);
    wdfdma_machine_destroy(m);
}

static void test_level_redelivered_while_asserted(void **state)
{
    (void)state;
    wdfdma_machine *m = quiet_machine();
    probe p = { .m = m, .deassert = false };
    assert_int_equal(wdfdma_machine_add_device(m, "toy", "t", NULL, &p.dev), 0);
    const wdfdma_resource *r = irq_of(p.dev);
    mach_irq_conn *c;
    assert_int_equal(mach_irq_connect(m, r->vector, (uint8_t)r->level, probe_isr, &p, NULL, &c),
                     0);
    /* the ISR claims but quiets the device only on its third call */
    wdfdma_dev_irq_assert(p.dev, 0);
    p.claim_after = 0;
    for (int i = 0; i < 2; i++)
        assert_true(wdfdma_machine_step(m));
    p.deassert = true;
    wdfdma_machine_run(m);
    assert_int_equal(p.calls, 3);
    /* a storm: claimed forever without deasserting is cut off and reported */
    p.deassert = false;
    p.calls = 0;
    uint64_t f = mach_findings(m);
    wdfdma_dev_irq_assert(p.dev, 0);
    wdfdma_machine_run(m);
    assert_int_equal(p.calls, 65);
    assert_int_equal(mach_findings(m), f + 1);
    wdfdma_dev_irq_deassert(p.dev, 0);
    mach_irq_disconnect(c);
    wdfdma_machine_destroy(m);
}

static void test_shared_line_connection_order(void **state)
{
    (void)state;
    wdfdma_machine *m = quiet_machine();
    int order[16], n = 0;
    probe a = { .m = m, .claim_after = -1, .order = order, .norder = &n, .tag = 1 };
    probe b = { .m = m, .claim_after = 0, .deassert = true, .order = order, .norder = &n,
                .tag = 2 };
    probe c = { .m = m, .claim_after = 0, .order = order, .norder = &n, .tag = 3 };
    assert_int_equal(wdfdma_machine_add_device(m, "toy", "a", "shared=1", &a.dev), 0);
    assert_int_equal(wdfdma_machine_add_device(m, "toy", "b", "shared=1", &b.dev), 0);
    assert_int_equal(wdfdma_machine_add_device(m, "toy", "c", "shared=1", &c.dev), 0);
    uint32_t v = irq_of(a.dev)->vector;
    assert_int_equal(irq_of(b.dev)->vector, v);
    assert_int_equal(irq_of(c.dev)->vector, v);
    mach_irq_conn *ca, *cb, *cc;
    uint8_t l = (uint8_t)irq_of(a.dev)->level;
    assert_int_equal(mach_irq_connect(m, v, l, probe_isr, &a, NULL, &ca), 0);
    assert_int_equal(mach_irq_connect(m, v, l, probe_isr, &b, NULL, &cb), 0);
    assert_int_equal(mach_irq_connect(m, v, l, probe_isr, &c, NULL, &cc), 0);
    wdfdma_dev_irq_assert(b.dev, 0);
    wdfdma_machine_run(m);
    /* a declines, b claims (and quiets its device), c is not called */
    assert_int_equal(n, 2);
    assert_int_equal(order[0], 1);
    assert_int_equal(order[1], 2);
    assert_int_equal(c.calls, 0);
    mach_irq_disconnect(ca);
    mach_irq_disconnect(cb);
    mach_irq_disconnect(cc);
    wdfdma_machine_destroy(m);
}

static void test_edge_and_msi(void **state)
{
    (void)state;
    wdfdma_machine *m = quiet_machine();
    probe e = { .m = m }, s = { .m = m };
    assert_int_equal(wdfdma_machine_add_device(m, "toy", "e", "irq=edge", &e.dev), 0);
    assert_int_equal(wdfdma_machine_add_device(m, "toy", "s", "irq=msi", &s.dev), 0);
    mach_irq_conn *ce, *cs;
    assert_int_equal(mach_irq_connect(m, irq_of(e.dev)->vector, (uint8_t)irq_of(e.dev)->level,
                                      probe_isr, &e, NULL, &ce), 0);
    assert_int_equal(mach_irq_connect(m, irq_of(s.dev)->vector, (uint8_t)irq_of(s.dev)->level,
                                      probe_isr, &s, NULL, &cs), 0);
    /* two edges before service coalesce into one delivery; the line needs no deassert */
    wdfdma_dev_irq_assert(e.dev, 0);
    wdfdma_dev_irq_assert(e.dev, 0);
    wdfdma_machine_run(m);
    assert_int_equal(e.calls, 1);
    wdfdma_dev_irq_assert(e.dev, 0);
    wdfdma_machine_run(m);
    assert_int_equal(e.calls, 2);
    wdfdma_dev_msi_send(s.dev, 0, 0);
    wdfdma_machine_run(m);
    assert_int_equal(s.calls, 1);
    assert_int_equal(s.message, 0);
    uint64_t f = mach_findings(m);
    wdfdma_dev_msi_send(s.dev, 0, 1);              /* only one message declared */
    assert_int_equal(mach_findings(m), f + 1);
    mach_irq_disconnect(ce);
    mach_irq_disconnect(cs);
    wdfdma_machine_destroy(m);
}

/* ---- wrong state ------------------------------------------------------------------------------ */
static void test_spurious_and_exclusive(void **state)
{
    (void)state;
    wdfdma_machine *m = quiet_machine();
    probe p = { .m = m, .claim_after = -1 };
    assert_int_equal(wdfdma_machine_add_device(m, "toy", "t", NULL, &p.dev), 0);
    const wdfdma_resource *r = irq_of(p.dev);
    mach_irq_conn *c, *c2;
    assert_int_equal(mach_irq_connect(m, r->vector, (uint8_t)r->level, probe_isr, &p, NULL, &c),
                     0);
    assert_int_equal(mach_irq_connect(m, r->vector, (uint8_t)r->level, probe_isr, &p, NULL, &c2),
                     -EBUSY);
    /* nobody claims a level line: spurious once, then suppressed until deasserted */
    wdfdma_dev_irq_assert(p.dev, 0);
    wdfdma_machine_run(m);
    assert_int_equal(p.calls, 1);
    wdfdma_machine_stats st;
    wdfdma_machine_get_stats(m, &st);
    assert_int_equal(st.spurious_interrupts, 1);
    wdfdma_trace_record recs[4];
    size_t n = wdfdma_trace_recent(m, recs, 4);
    bool spurious = false;
    for (size_t i = 0; i < n; i++)
        spurious |= recs[i].type == WDFDMA_TR_IRQ_SPURIOUS && recs[i].a == r->vector;
    assert_true(spurious);
    wdfdma_dev_irq_deassert(p.dev, 0);
    wdfdma_dev_irq_assert(p.dev, 0);
    wdfdma_machine_run(m);
    assert_int_equal(p.calls, 2);
    wdfdma_dev_irq_deassert(p.dev, 0);
    /* asserted with no connection: held pending, delivered once connected */
    mach_irq_disconnect(c);
    wdfdma_dev_irq_assert(p.dev, 0);
    wdfdma_machine_run(m);
    p.claim_after = 0;
    p.deassert = true;
    assert_int_equal(mach_irq_connect(m, r->vector, (uint8_t)r->level, probe_isr, &p, NULL, &c),
                     0);
    wdfdma_machine_run(m);
    assert_int_equal(p.calls, 3);
    mach_irq_disconnect(c);
    wdfdma_machine_destroy(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_connect_bad_arguments),
        cmocka_unit_test(test_level_line_delivery),
        cmocka_unit_test(test_level_redelivered_while_asserted),
        cmocka_unit_test(test_shared_line_connection_order),
        cmocka_unit_test(test_edge_and_msi),
        cmocka_unit_test(test_spurious_and_exclusive),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
