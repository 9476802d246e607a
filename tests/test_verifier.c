/*
 * The verifier: one deliberately broken KMDF driver per rule (tests/drivers/broken_*.c,
 * loaded as real driver modules) runs against the sgdma model. With the verifier on, each
 * must produce exactly its rule — the rule ID, the object it names and the report's
 * content; bug checks are trapped with the handler. With the verifier off, the rules that
 * Windows checks only under its verifiers must stay silent (proving the checks are gated),
 * while the unconditional KMDF bug checks still fire. The clean skeleton and the real
 * sgdma sample (every bus-master profile, with forced double buffering) must produce no
 * finding at all. Order: the rule table, then clean runs, then each broken driver.
 *
 * A machine that bug-checked is abandoned (like a crashed system): the trap longjmps out
 * of driver code, so nothing about it may be torn down afterwards.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "fx/internal.h"
#include "machine/machine_priv.h"
#include "wdfdma/host.h"
#include "wdfdma/io.h"
#include "wdfdma/registry.h"
#include "wdfdma/verifier.h"
#include "devices/sgdma/sgdma.h"

#define IO_BYTES (8u * 1024u)

typedef struct vt {
    wdfdma_machine *m;
    wdfdma_dev *dev;
    jmp_buf jb;
    wdfdma_bugcheck bc;
    int traps;
} vt;

static void trap(void *ctx, const wdfdma_bugcheck *bc)
{
    vt *t = ctx;
    t->bc = *bc;
    t->traps++;
    longjmp(t->jb, 1);
}

static void machine(vt *t, bool verifier, bool double_buffer)
{
    memset(t, 0, sizeof(*t));
    wdfdma_machine_config c;
    wdfdma_machine_config_init(&c);
    c.seed = 11;
    c.verifier = verifier;
    c.verifier_double_buffer = double_buffer;
    assert_int_equal(wdfdma_machine_create(&c, &t->m), 0);
    wdfdma_machine_set_bugcheck_handler(t->m, trap, t);
    wdfdma_machine_set_bugcheck_quiet(t->m, true);
    assert_int_equal(wdfdma_machine_add_device(t->m, "sgdma", "sgdma0", NULL, &t->dev), 0);
}

static void load(vt *t, const char *path)
{
    wdfdma_driver *drv = NULL;
    if (wdfdma_driver_load(t->m, path, &drv) != 0)
        fail_msg("loading %s: %s", path, wdfdma_last_error());
    assert_int_equal(wdfdma_driver_add_id(drv, SGDMA_HARDWARE_ID), 0);
    assert_int_equal(wdfdma_device_bind(t->dev, drv), 0);
}

static void load_broken(vt *t, const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s.so", BROKEN_DRIVER_DIR, name);
    load(t, path);
}

/* Write IO_BYTES of a pattern and read them back; true if the data came back intact. */
static bool io(vt *t, bool read_back)
{
    static uint8_t out[IO_BYTES], in[IO_BYTES];
    for (size_t i = 0; i < IO_BYTES; i++)
        out[i] = (uint8_t)(i * 7 + 3);
    memset(in, 0, sizeof in);
    wdfdma_file *f = NULL;
    assert_int_equal(wdfdma_open(t->m, "sgdma0", &f), 0);
    int32_t status = -1;
    size_t info = 0;
    assert_int_equal(wdfdma_write(f, out, IO_BYTES, 0, &status, &info), 0);
    bool ok = status == 0 && info == IO_BYTES;
    if (read_back) {
        assert_int_equal(wdfdma_read(f, in, IO_BYTES, 0, &status, &info), 0);
        ok = ok && status == 0 && info == IO_BYTES && memcmp(in, out, IO_BYTES) == 0;
    }
    assert_int_equal(wdfdma_close(f), 0);
    return ok;
}

static void finish(vt *t)
{
    assert_int_equal(wdfdma_device_remove(t->dev), 0);
    wdfdma_machine_destroy(t->m);
}

/* The only finding is of `rule` (every finding must name a rule of the table). */
static wdfdma_verifier_finding only_finding(vt *t, const char *rule, size_t count)
{
    size_t n = wdfdma_verifier_finding_count(t->m);
    wdfdma_verifier_finding f = {0};
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(wdfdma_verifier_finding_get(t->m, i, &f), 0);
        assert_non_null(wdfdma_verifier_rule_find(f.rule));
        if (strcmp(f.rule, rule) != 0)
            fail_msg("finding %zu is %s, expected only %s: %s", i, f.rule, rule, f.report);
    }
    assert_int_equal(n, count);
    assert_int_equal(wdfdma_verifier_findings_of(t->m, rule), count);
    assert_int_equal(wdfdma_verifier_finding_get(t->m, 0, &f), 0);
    assert_non_null(strstr(f.report, "last trace events:"));
    return f;
}

static void no_findings(vt *t)
{
    size_t n = wdfdma_verifier_finding_count(t->m);
    for (size_t i = 0; i < n; i++) {
        wdfdma_verifier_finding f;
        assert_int_equal(wdfdma_verifier_finding_get(t->m, i, &f), 0);
        fprintf(stderr, "unexpected finding: %s", f.report);
    }
    assert_int_equal(n, 0);
}

static void contains(const char *text, const char *what)
{
    if (strstr(text, what) == NULL)
        fail_msg("'%s' not found in: %s", what, text);
}

/* The live framework object with trace id `id` is of `type` (0 if none). */
typedef struct by_id {
    uint32_t id;
    fx_type type;
} by_id;
static void find_id(fx_object *o, void *ctx)
{
    by_id *b = ctx;
    if (o->id == b->id)
        b->type = o->ops->type;
}
static fx_type type_of(vt *t, uint32_t id)
{
    by_id b = { .id = id };
    fx_object_for_each_live(t->m, find_id, &b);
    return b.type;
}

/* ---- the table ------------------------------------------------------------------------ */
static void test_rule_table(void **state)
{
    (void)state;
    unsigned n = 0;
    for (const wdfdma_verifier_rule *r; (r = wdfdma_verifier_rule_at(n)) != NULL; n++) {
        assert_non_null(r->id);
        assert_true(strlen(r->text) > 10);
        assert_ptr_equal(wdfdma_verifier_rule_find(r->id), r);
        assert_true((r->action == WDFDMA_VERIFIER_BUGCHECK) == (r->bugcheck != 0));
    }
    assert_true(n >= 15);
    assert_null(wdfdma_verifier_rule_find("NO-SUCH-RULE"));
    assert_null(wdfdma_verifier_rule_find(NULL));
    wdfdma_verifier_finding f;
    assert_int_equal(wdfdma_verifier_finding_get(NULL, 0, &f), -EINVAL);
    assert_int_equal(wdfdma_verifier_finding_count(NULL), 0);
}

/* ---- clean drivers -------------------------------------------------------------------- */
static void test_clean_skeleton(void **state)
{
    (void)state;
    vt t;
    machine(&t, true, true);
    if (setjmp(t.jb))
        fail_msg("bug check %#x: %s", t.bc.code, t.bc.message);
    load_broken(&t, "broken_clean");
    assert_true(io(&t, true));
    assert_true(io(&t, true));
    assert_int_equal(wdfdma_device_remove(t.dev), 0);
    no_findings(&t);
    assert_int_equal(mach_findings(t.m), 0);
    wdfdma_machine_destroy(t.m);
}

static void test_sgdma_sample_all_profiles(void **state)
{
    (void)state;
    static const unsigned profiles[] = { 1, 2, 3, 4, 5, 6 };   /* the bus-master ones */
    for (size_t i = 0; i < sizeof profiles / sizeof profiles[0]; i++) {
        for (int db = 0; db < 2; db++) {
            vt t;
            machine(&t, true, db != 0);
            if (setjmp(t.jb))
                fail_msg("profile %u: bug check %#x: %s", profiles[i], t.bc.code,
                         t.bc.message);
            assert_int_equal(wdfdma_registry_set_ulong(t.m, "sgdma0", "device", "DmaProfile",
                                                       profiles[i]), 0);
            load(&t, WDFDMA_BUILD_DRIVER_DIR "/sgdma.so");
            if (!io(&t, true))
                fail_msg("profile %u (double buffering %d): data did not come back",
                         profiles[i], db);
            assert_int_equal(wdfdma_device_remove(t.dev), 0);
            no_findings(&t);
            assert_int_equal(mach_findings(t.m), 0);
            wdfdma_machine_destroy(t.m);
        }
    }
}

/* ---- reports: verifier on finds it, verifier off stays silent ------------------------- */
static void silent_without_verifier(const char *driver, bool read_back)
{
    vt t;
    machine(&t, false, false);
    if (setjmp(t.jb))
        fail_msg("%s without the verifier: bug check %#x: %s", driver, t.bc.code,
                 t.bc.message);
    load_broken(&t, driver);
    (void)io(&t, read_back);
    assert_int_equal(wdfdma_device_remove(t.dev), 0);
    no_findings(&t);
    wdfdma_machine_destroy(t.m);
}

static void test_wdf_irql(void **state)
{
    (void)state;
    vt t;
    machine(&t, true, false);
    if (setjmp(t.jb))
        fail_msg("bug check %#x: %s", t.bc.code, t.bc.message);
    load_broken(&t, "broken_wdf_irql");
    assert_true(io(&t, false));   /* a report: the DDI still answers */
    wdfdma_verifier_finding f = only_finding(&t, "WDF-IRQL", 1);
    contains(f.message, "WdfDmaTransactionGetBytesTransferred called at IRQL");
    contains(f.message, "its maximum is 2");
    contains(f.report, "isr-begin");
    finish(&t);
    silent_without_verifier("broken_wdf_irql", false);
}

static void test_wdf_verifier_break(void **state)
{
    (void)state;
    vt t;
    machine(&t, true, false);
    if (setjmp(t.jb))
        fail_msg("bug check %#x: %s", t.bc.code, t.bc.message);
    load_broken(&t, "broken_wdf_verifier_break");
    wdfdma_verifier_finding f = only_finding(&t, "WDF-VERIFIER-BREAK", 1);
    contains(f.message, "WdfDmaTransactionSetDeviceAddressOffset");
    contains(f.message, "does not have a system profile");
    assert_true(io(&t, true));
    finish(&t);
    silent_without_verifier("broken_wdf_verifier_break", true);
}

static void test_wdf_leak_at_removal(void **state)
{
    (void)state;
    vt t;
    machine(&t, true, false);
    if (setjmp(t.jb))
        fail_msg("bug check %#x: %s", t.bc.code, t.bc.message);
    load_broken(&t, "broken_wdf_leak_at_removal");
    assert_true(io(&t, false));
    assert_int_equal(wdfdma_verifier_finding_count(t.m), 0);   /* nothing until removal */
    assert_int_equal(wdfdma_device_remove(t.dev), 0);
    only_finding(&t, "WDF-LEAK-AT-REMOVAL", 4);
    static const struct { const char *name; fx_type type; } want[] = {
        { "WDFREQUEST", FX_TYPE_REQUEST }, { "WDFDMATRANSACTION", FX_TYPE_DMA_TRANSACTION },
        { "WDFCOMMONBUFFER", FX_TYPE_COMMON_BUFFER }, { "WDFDMAENABLER", FX_TYPE_DMA_ENABLER },
    };
    for (size_t w = 0; w < 4; w++) {
        bool seen = false;
        for (size_t i = 0; i < 4; i++) {
            wdfdma_verifier_finding f;
            assert_int_equal(wdfdma_verifier_finding_get(t.m, i, &f), 0);
            if (strncmp(f.message, want[w].name, strlen(want[w].name)) != 0 ||
                f.message[strlen(want[w].name)] != ' ')
                continue;
            seen = true;
            assert_int_equal(type_of(&t, f.object), want[w].type);
            contains(f.message, "still alive after the device was removed");
            if (want[w].type == FX_TYPE_DMA_TRANSACTION)
                contains(f.report, "history: Created");
        }
        if (!seen)
            fail_msg("no leak finding names a %s", want[w].name);
    }
    wdfdma_machine_destroy(t.m);
    silent_without_verifier("broken_wdf_leak_at_removal", false);
}

static void test_dma_access_unmapped(void **state)
{
    (void)state;
    vt t;
    machine(&t, true, false);
    if (setjmp(t.jb))
        fail_msg("bug check %#x: %s", t.bc.code, t.bc.message);
    load_broken(&t, "broken_dma_access_unmapped");
    assert_false(io(&t, false));   /* the device faults; the driver fails the request */
    wdfdma_verifier_finding f = only_finding(&t, "DMA-ACCESS-UNMAPPED", 1);
    assert_int_equal(f.object, t.dev->id);
    contains(f.message, "device 'sgdma0' DMA read");
    contains(f.message, "no live mapping covers");
    contains(f.report, "dma-fault");
    finish(&t);
    silent_without_verifier("broken_dma_access_unmapped", false);
}

static void test_dma_sglist_after_put(void **state)
{
    (void)state;
    vt t;
    machine(&t, true, false);
    if (setjmp(t.jb))
        fail_msg("bug check %#x: %s", t.bc.code, t.bc.message);
    load_broken(&t, "broken_dma_sglist_after_put");
    (void)io(&t, false);
    assert_int_equal(wdfdma_machine_run(t.m), 0);   /* let the device run the chain */
    wdfdma_verifier_finding f = only_finding(&t, "DMA-SGLIST-AFTER-PUT", 1);
    assert_int_equal(f.object, t.dev->id);
    contains(f.message, "nearest stale mapping: SG list");
    contains(f.message, "(the address is inside it)");
    finish(&t);
    silent_without_verifier("broken_dma_sglist_after_put", false);
}

static void test_dma_common_buffer_freed(void **state)
{
    (void)state;
    vt t;
    machine(&t, true, false);
    if (setjmp(t.jb))
        fail_msg("bug check %#x: %s", t.bc.code, t.bc.message);
    load_broken(&t, "broken_dma_common_buffer_freed");
    assert_false(io(&t, false));
    wdfdma_verifier_finding f = only_finding(&t, "DMA-COMMON-BUFFER-FREED", 1);
    assert_int_equal(f.object, t.dev->id);
    contains(f.message, "nearest stale mapping: common buffer");
    contains(f.message, "(the address is inside it)");
    finish(&t);
    silent_without_verifier("broken_dma_common_buffer_freed", false);
}

static void test_dma_mapreg_held_at_end(void **state)
{
    (void)state;
    vt t;
    machine(&t, true, false);
    if (setjmp(t.jb))
        fail_msg("bug check %#x: %s", t.bc.code, t.bc.message);
    load_broken(&t, "broken_dma_mapreg_held_at_end");
    assert_true(io(&t, false));
    wdfdma_verifier_finding f = only_finding(&t, "DMA-MAPREG-HELD-AT-END", 1);
    assert_int_equal(type_of(&t, f.object), FX_TYPE_DMA_TRANSACTION);
    contains(f.message, "ended (TransferCompleted) with 3 map register(s)");
    contains(f.report, "history: Created,Initialized,Transfer,TransferCompleted");
    finish(&t);
    silent_without_verifier("broken_dma_mapreg_held_at_end", false);
}

static void test_dma_buffer_touched(void **state)
{
    (void)state;
    vt t;
    machine(&t, true, true);
    if (setjmp(t.jb))
        fail_msg("bug check %#x: %s", t.bc.code, t.bc.message);
    load_broken(&t, "broken_dma_buffer_touched");
    assert_true(io(&t, true));   /* the device's data wins under double buffering */
    wdfdma_verifier_finding f = only_finding(&t, "DMA-BUFFER-TOUCHED-DURING-DMA", 1);
    assert_int_equal(type_of(&t, f.object), FX_TYPE_DMA_TRANSACTION);
    contains(f.message, "ReadFromDevice");
    finish(&t);
    /* The check needs the bounce: the verifier alone cannot see it. */
    machine(&t, true, false);
    if (setjmp(t.jb))
        fail_msg("bug check %#x: %s", t.bc.code, t.bc.message);
    load_broken(&t, "broken_dma_buffer_touched");
    (void)io(&t, true);
    no_findings(&t);
    finish(&t);
    silent_without_verifier("broken_dma_buffer_touched", true);
}

/* ---- bug checks ------------------------------------------------------------------------ */
/* Run `driver` expecting a bug check with `rule`, `code` and `p1`; returns the finding. */
static wdfdma_verifier_finding expect_bugcheck(vt *t, bool verifier, const char *driver,
                                               const char *rule, uint32_t code, uint64_t p1)
{
    machine(t, verifier, false);
    if (setjmp(t->jb) == 0) {
        load_broken(t, driver);
        (void)io(t, true);
        fail_msg("%s: no bug check", driver);
    }
    assert_int_equal(t->traps, 1);
    assert_int_equal(t->bc.code, code);
    assert_int_equal(t->bc.p[0], p1);
    assert_string_equal(t->bc.rule, rule);
    const wdfdma_verifier_rule *r = wdfdma_verifier_rule_find(rule);
    assert_non_null(r);
    assert_int_equal(r->action, WDFDMA_VERIFIER_BUGCHECK);
    assert_int_equal(r->bugcheck, code);
    /* Bug checks are findings too, but not among the non-fatal ones counted. */
    assert_int_equal(mach_findings(t->m), 0);
    return only_finding(t, rule, 1);
}

static void test_wdf_null_parameter(void **state)
{
    (void)state;
    for (int v = 1; v >= 0; v--) {   /* KMDF checks this with or without its verifier */
        vt t;
        expect_bugcheck(&t, v, "broken_wdf_null_parameter", "WDF-NULL-PARAMETER", 0x10D, 0x4);
        contains(t.bc.message, "WdfDmaTransactionDmaCompleted: required parameter Status");
        contains(t.bc.callback, "EvtInterruptDpc");
    }
}

static void test_wdf_invalid_handle(void **state)
{
    (void)state;
    for (int v = 1; v >= 0; v--) {
        vt t;
        expect_bugcheck(&t, v, "broken_wdf_invalid_handle", "WDF-INVALID-HANDLE", 0x10D, 0x5);
        assert_int_equal(t.bc.p[2], FX_TYPE_DMA_TRANSACTION);
        contains(t.bc.message, "WdfDmaTransactionGetBytesTransferred");
    }
}

static void test_wdf_dma_state(void **state)
{
    (void)state;
    for (int v = 1; v >= 0; v--) {
        vt t;
        wdfdma_verifier_finding f =
            expect_bugcheck(&t, v, "broken_wdf_dma_state", "WDF-DMA-STATE", 0x10D, 0x8);
        assert_int_equal(t.bc.p[2], 4);   /* Transfer */
        assert_int_equal(type_of(&t, f.object), FX_TYPE_DMA_TRANSACTION);
        contains(f.report, "history: Created,Initialized,Transfer");
        contains(t.bc.message, "WdfDmaTransactionInitialize");
    }
}

static void test_wdf_request_in_transfer(void **state)
{
    (void)state;
    for (int v = 1; v >= 0; v--) {
        vt t;
        wdfdma_verifier_finding f = expect_bugcheck(&t, v, "broken_wdf_request_in_transfer",
                                                    "WDF-REQUEST-COMPLETED-IN-TRANSFER",
                                                    0x10D, 0x3);
        assert_int_equal(type_of(&t, f.object), FX_TYPE_DMA_TRANSACTION);
        contains(t.bc.callback, "EvtProgramDma");
    }
}

static void test_dma_common_buffer_overrun(void **state)
{
    (void)state;
    vt t;
    wdfdma_verifier_finding f = expect_bugcheck(&t, true, "broken_dma_common_buffer_overrun",
                                                "DMA-COMMON-BUFFER-OVERRUN", 0xE6, 0x0F);
    assert_int_equal(t.bc.p[1], 0x05);                   /* padding after the buffer */
    assert_int_equal(t.bc.p[3] - t.bc.p[2], 4000);       /* first bad byte: at its end */
    contains(f.message, "past the end of");
    contains(t.bc.message, "WdfDmaTransactionDmaCompleted");
    silent_without_verifier("broken_dma_common_buffer_overrun", true);
}

/* The WDM DMA_OPERATIONS a KMDF driver reaches through WdfDmaEnablerWdmGetDmaAdapter: the
 * HAL's bookkeeping bug-checks their misuse with Driver Verifier's 0xE6 codes. */
static void test_dma_freed_twice(void **state)
{
    (void)state;
    for (int v = 1; v >= 0; v--) {   /* the HAL checks this with or without the verifier */
        vt t;
        expect_bugcheck(&t, v, "broken_dma_freed_twice", "DMA-FREED-TWICE", 0xE6, 0x03);
        assert_int_equal(t.bc.p[1], 1);                  /* one common buffer */
        assert_true(t.bc.p[2] != 0);                     /* its virtual address */
        contains(t.bc.message, "FreeCommonBuffer");
        contains(t.bc.message, "freed twice");
        contains(t.bc.callback, "EvtDriverDeviceAdd");
    }
}

static void test_dma_put_adapter_outstanding(void **state)
{
    (void)state;
    vt t;
    expect_bugcheck(&t, true, "broken_dma_put_adapter_outstanding",
                    "DMA-PUT-ADAPTER-OUTSTANDING", 0xE6, 0x07);
    assert_true(t.bc.p[1] != 0);                         /* the adapter */
    assert_int_equal(t.bc.p[2], 2);                      /* both descriptor rings */
    contains(t.bc.message, "PutDmaAdapter");
    contains(t.bc.message, "2 common buffer(s) outstanding");
}

static void test_dma_not_flushed(void **state)
{
    (void)state;
    vt t;
    expect_bugcheck(&t, true, "broken_dma_not_flushed", "DMA-NOT-FLUSHED", 0xE6, 0x0D);
    assert_true(t.bc.p[1] != 0);                         /* the map register run */
    contains(t.bc.message, "FreeMapRegisters");
    contains(t.bc.message, "map registers freed before FlushAdapterBuffers");
}

static void test_dma_too_many_map_registers(void **state)
{
    (void)state;
    for (int v = 1; v >= 0; v--) {
        vt t;
        expect_bugcheck(&t, v, "broken_dma_too_many_map_registers",
                        "DMA-TOO-MANY-MAP-REGISTERS", 0xE6, 0x0C);
        assert_int_equal(t.bc.p[1], 18);                 /* asked */
        assert_int_equal(t.bc.p[2], 17);                 /* granted */
        contains(t.bc.message, "AllocateAdapterChannel: 18 map registers asked");
    }
}

static void test_wdf_violation(void **state)
{
    (void)state;
    for (int v = 1; v >= 0; v--) {   /* a KMDF contract check: with or without the verifier */
        vt t;
        expect_bugcheck(&t, v, "broken_wdf_violation", "WDF-VIOLATION", 0x10D, 0x6);
        assert_true(t.bc.p[1] != 0);                     /* the WDFREQUEST */
        assert_int_equal(t.bc.p[2], 0);
        contains(t.bc.message, "cannot be completed with STATUS_PENDING");
        contains(t.bc.callback, "EvtInterruptDpc");
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rule_table),
        cmocka_unit_test(test_clean_skeleton),
        cmocka_unit_test(test_sgdma_sample_all_profiles),
        cmocka_unit_test(test_wdf_irql),
        cmocka_unit_test(test_wdf_verifier_break),
        cmocka_unit_test(test_wdf_leak_at_removal),
        cmocka_unit_test(test_dma_access_unmapped),
        cmocka_unit_test(test_dma_sglist_after_put),
        cmocka_unit_test(test_dma_common_buffer_freed),
        cmocka_unit_test(test_dma_mapreg_held_at_end),
        cmocka_unit_test(test_dma_buffer_touched),
        cmocka_unit_test(test_wdf_null_parameter),
        cmocka_unit_test(test_wdf_invalid_handle),
        cmocka_unit_test(test_wdf_dma_state),
        cmocka_unit_test(test_wdf_request_in_transfer),
        cmocka_unit_test(test_dma_common_buffer_overrun),
        cmocka_unit_test(test_dma_freed_twice),
        cmocka_unit_test(test_dma_put_adapter_outstanding),
        cmocka_unit_test(test_dma_not_flushed),
        cmocka_unit_test(test_dma_too_many_map_registers),
        cmocka_unit_test(test_wdf_violation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
