/*
 * Host API of the machine: configuration, creation, devices, option parsing, errors.
 * Order: bad arguments, then success, then wrong-state misuse.
 */
#include <errno.h>
#include <stdio.h>
#include <unistd.h>

#include "mach_testutil.h"

/* A model that records its parsed options, to test the option helpers through init. */
typedef struct opt_state {
    uint64_t size, count;
    char mode[16];
    int size_rc, count_rc, mode_rc;
} opt_state;

static const char *const opt_known[] = { "size", "count", "mode", NULL };

static int opt_init(wdfdma_dev *dev, const char *options)
{
    opt_state *s = wdfdma_dev_state(dev);
    if (wdfdma_dev_opt_check(dev, options, opt_known))
        return -1;
    s->size_rc = wdfdma_dev_opt_u64(dev, options, "size", &s->size);
    s->count_rc = wdfdma_dev_opt_u64(dev, options, "count", &s->count);
    s->mode_rc = wdfdma_dev_opt_str(dev, options, "mode", s->mode, sizeof(s->mode));
    if (s->size_rc < 0 || s->count_rc < 0 || s->mode_rc < 0)
        return -1;
    return 0;
}

static const wdfdma_device_model opt_model = {
    .name = "opttest",
    .summary = "option parsing test model",
    .state_size = sizeof(opt_state),
    .init = opt_init,
};
WDFDMA_DEVICE_MODEL(opt_model)

/* ---- bad arguments ---------------------------------------------------------------------- */
static void expect_create_error(wdfdma_machine_config *c, int err, const char *needle)
{
    wdfdma_machine *m = (wdfdma_machine *)&m;
    assert_int_equal(wdfdma_machine_create(c, &m), -err);
    assert_null(m);
    assert_non_null(strstr(wdfdma_last_error(), needle));
}

static void test_create_bad_arguments(void **state)
{
    (void)state;
    wdfdma_machine_config c;
    wdfdma_machine_config_init(NULL);          /* no crash */
    wdfdma_machine_config_init(&c);
    assert_int_equal(wdfdma_machine_create(&c, NULL), -EINVAL);
    assert_non_null(strstr(wdfdma_last_error(), "out is NULL"));
    expect_create_error(NULL, EINVAL, "config is NULL");
    c.size = 3;
    expect_create_error(&c, EINVAL, "size 3");
    wdfdma_machine_config_init(&c);
    c.cpus = 0;
    expect_create_error(&c, EINVAL, "cpus 0");
    c.cpus = 65;
    expect_create_error(&c, EINVAL, "cpus 65");
    wdfdma_machine_config_init(&c);
    c.phys_addr_bits = 32;
    expect_create_error(&c, EINVAL, "phys_addr_bits 32");
    c.phys_addr_bits = 53;
    expect_create_error(&c, EINVAL, "phys_addr_bits 53");
    wdfdma_machine_config_init(&c);
    c.engine = (wdfdma_engine)7;
    expect_create_error(&c, EINVAL, "engine 7");
    wdfdma_machine_config_init(&c);
    c.memory = (wdfdma_mem_policy)9;
    expect_create_error(&c, EINVAL, "memory policy 9");
    wdfdma_machine_config_init(&c);
    c.preempt_percent = 101;
    expect_create_error(&c, EINVAL, "preempt_percent 101");
    wdfdma_machine_config_init(&c);
    c.trace_ring = 1000;
    expect_create_error(&c, EINVAL, "power of two");
    c.trace_ring = 0;
    expect_create_error(&c, EINVAL, "power of two");
    wdfdma_machine_config_init(&c);
    c.trace_file = "/nonexistent-dir/trace.txt";
    expect_create_error(&c, ENOENT, "/nonexistent-dir/trace.txt");
}

static void test_add_device_bad_arguments(void **state)
{
    (void)state;
    wdfdma_machine *m = tu_machine(WDFDMA_ENGINE_SIM, 1);
    wdfdma_dev *d = (wdfdma_dev *)&d;
    assert_int_equal(wdfdma_machine_add_device(NULL, "toy", "t", NULL, &d), -EINVAL);
    assert_null(d);
    assert_int_equal(wdfdma_machine_add_device(m, NULL, "t", NULL, &d), -EINVAL);
    assert_non_null(strstr(wdfdma_last_error(), "model is NULL"));
    assert_int_equal(wdfdma_machine_add_device(m, "toy", NULL, NULL, &d), -EINVAL);
    assert_int_equal(wdfdma_machine_add_device(m, "toy", "", NULL, &d), -EINVAL);
    assert_int_equal(wdfdma_machine_add_device(m, "toy", "bad name", NULL, &d), -EINVAL);
    assert_non_null(strstr(wdfdma_last_error(), "bad device name 'bad name'"));
    assert_int_equal(wdfdma_machine_add_device(m, "nosuchmodel", "x", NULL, &d), -ENOENT);
    assert_non_null(strstr(wdfdma_last_error(), "unknown device model 'nosuchmodel'"));
    assert_non_null(strstr(wdfdma_last_error(), "toy"));
    /* bad options: unknown key, malformed values, bad enumerations */
    assert_int_equal(wdfdma_machine_add_device(m, "toy", "t", "colour=blue", &d), -EINVAL);
    assert_non_null(strstr(wdfdma_last_error(), "unknown option 'colour'"));
    assert_int_equal(wdfdma_machine_add_device(m, "toy", "t", "latency", &d), -EINVAL);
    assert_non_null(strstr(wdfdma_last_error(), "not key=value"));
    assert_int_equal(wdfdma_machine_add_device(m, "toy", "t", "latency=12q", &d), -EINVAL);
    assert_non_null(strstr(wdfdma_last_error(), "bad number '12q'"));
    assert_int_equal(wdfdma_machine_add_device(m, "toy", "t", "latency=-5", &d), -EINVAL);
    assert_int_equal(wdfdma_machine_add_device(m, "toy", "t", "latency=", &d), -EINVAL);
    assert_int_equal(wdfdma_machine_add_device(m, "toy", "t", "irq=pulse", &d), -EINVAL);
    assert_non_null(strstr(wdfdma_last_error(), "'pulse'"));
    assert_int_equal(wdfdma_machine_add_device(m, "toy", "t", "irq=msi,shared=1", &d), -EINVAL);
    assert_int_equal(wdfdma_machine_add_device(m, "toy", "t", "bandwidth=0", &d), -EINVAL);
    assert_int_equal(wdfdma_machine_add_device(m, "opttest", "o", "size=99999999999999999999G",
                                               &d), -EINVAL);
    assert_int_equal(wdfdma_machine_add_device(m, "opttest", "o", "mode=waytoolongforthebuffer",
                                               &d), -EINVAL);
    assert_non_null(strstr(wdfdma_last_error(), "longer than 15"));
    /* nothing was added by the failures */
    assert_int_equal(mach_device_count(m), 0);
    assert_null(wdfdma_machine_find_device(m, "t"));
    wdfdma_machine_destroy(m);
    wdfdma_machine_destroy(NULL);              /* no crash */
}

/* ---- success ------------------------------------------------------------------------------- */
static void test_create_defaults_both_engines(void **state)
{
    (void)state;
    wdfdma_machine_config c;
    wdfdma_machine_config_init(&c);
    assert_int_equal(c.size, sizeof(c));
    assert_int_equal(c.cpus, 2);
    assert_int_equal(c.phys_addr_bits, 40);
    assert_int_equal(c.preempt_percent, 25);
    assert_int_equal(c.trace_ring, 4096);
    for (int e = 0; e < 2; e++) {
        wdfdma_machine *m = tu_machine((wdfdma_engine)e, 77);
        assert_int_equal(wdfdma_machine_engine(m), (wdfdma_engine)e);
        assert_int_equal(wdfdma_machine_seed(m), 77);
        assert_false(wdfdma_machine_verifier(m));
        assert_int_equal(mach_cpu_count(m), 2);
        assert_int_equal(mach_is_sim(m), e == 0);
        assert_int_equal(wdfdma_machine_run(m), 0);
        wdfdma_machine_destroy(m);
    }
    /* extreme but valid configurations */
    c.cpus = 64;
    c.phys_addr_bits = 52;
    wdfdma_machine *m = NULL;
    assert_int_equal(wdfdma_machine_create(&c, &m), 0);
    wdfdma_machine_destroy(m);
    c.cpus = 1;
    c.phys_addr_bits = 33;
    assert_int_equal(wdfdma_machine_create(&c, &m), 0);
    wdfdma_machine_destroy(m);
}

static void test_add_device_and_resources(void **state)
{
    (void)state;
    wdfdma_machine *m = tu_machine(WDFDMA_ENGINE_SIM, 1);
    wdfdma_dev *a = NULL, *b = NULL;
    assert_int_equal(wdfdma_machine_add_device(m, "toy", "toy0", NULL, &a), 0);
    assert_int_equal(wdfdma_machine_add_device(m, "toy", "toy1", "irq=msi,latency=5K", &b), 0);
    assert_ptr_equal(wdfdma_machine_find_device(m, "toy1"), b);
    assert_string_equal(wdfdma_dev_name(a), "toy0");
    assert_string_equal(wdfdma_dev_model_name(a), "toy");
    assert_ptr_equal(wdfdma_dev_machine(a), m);
    assert_int_not_equal(wdfdma_dev_id(a), wdfdma_dev_id(b));
    assert_int_equal(mach_device_count(m), 2);
    assert_ptr_equal(mach_device_at(m, 1), b);
    assert_null(mach_device_at(m, 2));
    assert_int_equal(wdfdma_dev_resource_count(a), 2);
    const wdfdma_resource *ra = wdfdma_dev_resource(a, 0), *rb = wdfdma_dev_resource(b, 0);
    assert_int_equal(ra->type, WDFDMA_RES_MMIO);
    assert_true(ra->start >= 0xF0000000ull && ra->start < 0x100000000ull);
    assert_int_equal(ra->start % 4096, 0);
    assert_int_equal(ra->length, 256);
    assert_true(rb->start >= ra->start + 4096);
    const wdfdma_resource *ia = wdfdma_dev_resource(a, 1), *ib = wdfdma_dev_resource(b, 1);
    assert_int_equal(ia->type, WDFDMA_RES_IRQ);
    assert_true(ia->level >= MACH_DIRQL_MIN && ia->level <= MACH_DIRQL_MAX);
    assert_int_not_equal(ia->vector, ib->vector);
    assert_int_equal(ib->flags, WDFDMA_IRQ_MSI);
    assert_int_equal(ib->count, 1);
    assert_ptr_equal(mach_irq_owner(m, ia->vector), a);
    assert_null(wdfdma_dev_resource(a, 2));
    /* model registry lists toy and the test model */
    bool toy = false, opt = false;
    for (unsigned i = 0; wdfdma_device_model_at(i); i++) {
        toy |= strcmp(wdfdma_device_model_at(i)->name, "toy") == 0;
        opt |= strcmp(wdfdma_device_model_at(i)->name, "opttest") == 0;
    }
    assert_true(toy && opt);
    /* duplicate name is refused, the original survives */
    assert_int_equal(wdfdma_machine_add_device(m, "toy", "toy0", NULL, NULL), -EEXIST);
    assert_non_null(strstr(wdfdma_last_error(), "'toy0' already exists"));
    assert_int_equal(mach_device_count(m), 2);
    /* binding slot and upper-layer slots */
    mach_device_set_binding(a, &a);
    assert_ptr_equal(mach_device_binding(a), &a);
    wdfdma_machine_destroy(m);
}

static void test_option_helpers(void **state)
{
    (void)state;
    wdfdma_machine *m = tu_machine(WDFDMA_ENGINE_SIM, 1);
    wdfdma_dev *d;
    assert_int_equal(wdfdma_machine_add_device(m, "opttest", "o1", "size=4K,count=0x10,mode=fast",
                                               &d), 0);
    opt_state *s = wdfdma_dev_state(d);
    assert_int_equal(s->size, 4096);
    assert_int_equal(s->count, 16);
    assert_string_equal(s->mode, "fast");
    assert_int_equal(wdfdma_machine_add_device(m, "opttest", "o2", "size=3M,count=2G", &d), 0);
    s = wdfdma_dev_state(d);
    assert_int_equal(s->size, 3ull << 20);
    assert_int_equal(s->count, 2ull << 30);
    assert_int_equal(s->mode_rc, 1);            /* absent: untouched */
    assert_string_equal(s->mode, "");
    assert_int_equal(wdfdma_machine_add_device(m, "opttest", "o3", NULL, &d), 0);
    s = wdfdma_dev_state(d);
    assert_int_equal(s->size_rc, 1);
    assert_int_equal(s->size, 0);
    wdfdma_machine_destroy(m);
}

static int slot_destroyed;
static void slot_destroy(void *p)
{
    slot_destroyed = *(int *)p;
}

static void test_slots_ids_and_stats(void **state)
{
    (void)state;
    wdfdma_machine *m = tu_machine(WDFDMA_ENGINE_SIM, 1);
    static int wdm = 1, fx = 2;
    assert_null(mach_slot(m, MACH_SLOT_WDM));
    mach_set_slot(m, MACH_SLOT_WDM, &wdm, slot_destroy);
    mach_set_slot(m, MACH_SLOT_FX, &fx, NULL);
    mach_set_slot(m, 99, &fx, NULL);            /* ignored */
    assert_null(mach_slot(m, 99));
    assert_ptr_equal(mach_slot(m, MACH_SLOT_FX), &fx);
    uint32_t a = mach_next_object_id(m), b = mach_next_object_id(m);
    assert_true(a != 0 && b == a + 1);
    wdfdma_machine_stats st;
    wdfdma_machine_get_stats(m, &st);
    assert_int_equal(st.events, 0);
    wdfdma_machine_get_stats(m, NULL);          /* no crash */
    slot_destroyed = 0;
    wdfdma_machine_destroy(m);
    assert_int_equal(slot_destroyed, 1);
}

/* ---- wrong state ------------------------------------------------------------------------------ */
static void test_declare_outside_init(void **state)
{
    (void)state;
    wdfdma_machine *m = tu_machine(WDFDMA_ENGINE_SIM, 1);
    wdfdma_machine_set_bugcheck_quiet(m, true);
    wdfdma_dev *d;
    assert_int_equal(wdfdma_machine_add_device(m, "toy", "t", NULL, &d), 0);
    uint64_t before = mach_findings(m);
    assert_int_equal(wdfdma_dev_declare_mmio(d, 4096), -1);
    assert_int_equal(wdfdma_dev_declare_irq(d, 0, 0), -1);
    assert_int_equal(wdfdma_dev_resource_count(d), 2);
    assert_true(mach_findings(m) >= before + 2);
    /* run from a non-PASSIVE IRQL is refused with a message */
    mach_irql_raise(MACH_DISPATCH_LEVEL);
    assert_int_equal(wdfdma_machine_run(m), -EPERM);
    assert_non_null(strstr(wdfdma_last_error(), "PASSIVE_LEVEL"));
    mach_irql_lower(MACH_PASSIVE_LEVEL);
    assert_int_equal(wdfdma_machine_run(NULL), -EINVAL);
    assert_int_equal(wdfdma_machine_run_until(NULL, 5), -EINVAL);
    assert_false(wdfdma_machine_step(NULL));
    wdfdma_machine_destroy(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_bad_arguments),
        cmocka_unit_test(test_add_device_bad_arguments),
        cmocka_unit_test(test_create_defaults_both_engines),
        cmocka_unit_test(test_add_device_and_resources),
        cmocka_unit_test(test_option_helpers),
        cmocka_unit_test(test_slots_ids_and_stats),
        cmocka_unit_test(test_declare_outside_init),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
