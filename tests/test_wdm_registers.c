/*
 * Registers through a device model: MmMapIoSpace on the model's MMIO resource, every
 * READ/WRITE_REGISTER width, the _BUFFER_ forms (one register, many accesses), ports,
 * and misses. The model is a tiny register file defined here.
 */
#include "wdm_testutil.h"

#define REGFILE_SIZE 0x100u
#define REG_FIFO 0xF0u             /* reads count up; writes are summed */

typedef struct regfile {
    uint8_t bytes[REGFILE_SIZE];
    uint32_t fifo_next;
    uint64_t fifo_sum;
    unsigned last_width;
} regfile;

static int regfile_init(wdfdma_dev *dev, const char *options)
{
    (void)options;
    return wdfdma_dev_declare_mmio(dev, REGFILE_SIZE) < 0 ? -1 : 0;
}

static uint64_t regfile_read(wdfdma_dev *dev, unsigned region, uint64_t offset, unsigned width)
{
    (void)region;
    regfile *r = wdfdma_dev_state(dev);
    r->last_width = width;
    if (offset == REG_FIFO)
        return r->fifo_next++;
    uint64_t v = 0;
    memcpy(&v, r->bytes + offset, width);
    return v;
}

static void regfile_write(wdfdma_dev *dev, unsigned region, uint64_t offset, unsigned width,
                          uint64_t value)
{
    (void)region;
    regfile *r = wdfdma_dev_state(dev);
    r->last_width = width;
    if (offset == REG_FIFO) {
        r->fifo_sum += value;
        return;
    }
    memcpy(r->bytes + offset, &value, width);
}

static const wdfdma_device_model regfile_model = {
    .name = "wdmtest-regfile",
    .summary = "register file for the kernel register tests",
    .hardware_id = "WDFDMA\\REGFILE",
    .state_size = sizeof(regfile),
    .init = regfile_init,
    .mmio_read = regfile_read,
    .mmio_write = regfile_write,
};
WDFDMA_DEVICE_MODEL(regfile_model)

typedef struct rig {
    wdfdma_machine *m;
    wdfdma_dev *dev;
    regfile *state;
    PHYSICAL_ADDRESS base;
    PUCHAR regs;
} rig;

static void rig_up(rig *r)
{
    r->m = wt_machine(WDFDMA_ENGINE_SIM);
    assert_int_equal(wdfdma_machine_add_device(r->m, "wdmtest-regfile", "rf0", NULL, &r->dev), 0);
    r->state = wdfdma_dev_state(r->dev);
    const wdfdma_resource *res = wdfdma_dev_resource(r->dev, 0);
    assert_non_null(res);
    assert_int_equal(res->type, WDFDMA_RES_MMIO);
    r->base.QuadPart = (LONGLONG)res->start;
    r->regs = MmMapIoSpace(r->base, REGFILE_SIZE, MmNonCached);
    assert_non_null(r->regs);
}

static void rig_down(rig *r)
{
    MmUnmapIoSpace(r->regs, REGFILE_SIZE);
    wdfdma_machine_destroy(r->m);
}

static void test_bad_arguments(void **state)
{
    (void)state;
    rig r;
    rig_up(&r);
    PHYSICAL_ADDRESS nowhere = { .QuadPart = 0x10 };
    assert_null(MmMapIoSpace(r.base, 0, MmNonCached));
    assert_null(MmMapIoSpace(nowhere, 16, MmNonCached));
    assert_null(MmMapIoSpaceEx(r.base, 16, PAGE_NOACCESS));
    rig_down(&r);
}

static void test_widths(void **state)
{
    (void)state;
    rig r;
    rig_up(&r);
    WRITE_REGISTER_UCHAR(r.regs + 0x00, 0x11);
    assert_int_equal(r.state->last_width, 1);
    WRITE_REGISTER_USHORT((PUSHORT)(r.regs + 0x02), 0x2233);
    assert_int_equal(r.state->last_width, 2);
    WRITE_REGISTER_ULONG((PULONG)(r.regs + 0x04), 0x44556677);
    assert_int_equal(r.state->last_width, 4);
    WRITE_REGISTER_ULONG64((PULONG64)(r.regs + 0x08), 0x8899AABBCCDDEEFFull);
    assert_int_equal(r.state->last_width, 8);
    assert_int_equal(r.state->bytes[0], 0x11);
    assert_int_equal(READ_REGISTER_UCHAR(r.regs + 0x00), 0x11);
    assert_int_equal(READ_REGISTER_USHORT((PUSHORT)(r.regs + 0x02)), 0x2233);
    assert_int_equal(READ_REGISTER_ULONG((PULONG)(r.regs + 0x04)), 0x44556677);
    assert_int_equal(READ_REGISTER_ULONG64((PULONG64)(r.regs + 0x08)), 0x8899AABBCCDDEEFFull);
    /* Ports decode on the same bus. */
    WRITE_PORT_ULONG((PULONG)(r.regs + 0x10), 0xCAFEF00D);
    assert_int_equal(READ_PORT_ULONG((PULONG)(r.regs + 0x10)), 0xCAFEF00D);
    assert_int_equal(READ_PORT_UCHAR(r.regs + 0x10), 0x0D);
    rig_down(&r);
}

static void test_buffer_forms_hit_one_register(void **state)
{
    (void)state;
    rig r;
    rig_up(&r);
    ULONG in[5];
    ULONG out[4] = { 1, 2, 3, 4 };
    READ_REGISTER_BUFFER_ULONG((PULONG)(r.regs + REG_FIFO), in, 5);
    for (ULONG i = 0; i < 5; i++)
        assert_int_equal(in[i], i);
    WRITE_REGISTER_BUFFER_ULONG((PULONG)(r.regs + REG_FIFO), out, 4);
    assert_int_equal(r.state->fifo_sum, 10);
    UCHAR b[3];
    READ_PORT_BUFFER_UCHAR(r.regs + REG_FIFO, b, 3);
    assert_int_equal(b[2], 7);
    rig_down(&r);
}

static void test_map_at_high_irql_bugchecks(void **state)
{
    (void)state;
    rig r;
    rig_up(&r);
    wt_trap trap;
    wt_trap_install(r.m, &trap);
    KIRQL old;
    KeRaiseIrql(HIGH_LEVEL, &old);
    WT_EXPECT_BUGCHECK(&trap, MmMapIoSpace(r.base, 16, MmNonCached));
    assert_int_equal(trap.bc.code, IRQL_NOT_LESS_OR_EQUAL);
    assert_int_equal(trap.bc.p[1], HIGH_LEVEL);
    wt_reset_irql();
    rig_down(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_widths),
        cmocka_unit_test(test_buffer_forms_hit_one_register),
        cmocka_unit_test(test_map_at_high_irql_bugchecks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
