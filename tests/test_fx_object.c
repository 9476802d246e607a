/*
 * The object model (src/fx/object.c, verifier.c): handles, contexts, references, the
 * parent/child tree and KMDF's disposal order. Bad handles are trapped bug checks on the
 * sim engine. Order: bad arguments, then success, then wrong-state misuse.
 */
#include "fx_testutil.h"

typedef struct OBJ_CONTEXT {
    int value;
    char name[8];
} OBJ_CONTEXT;
WDF_DECLARE_CONTEXT_TYPE_WITH_NAME(OBJ_CONTEXT, GetObjContext);

typedef struct EXTRA_CONTEXT {
    uint64_t words[4];
} EXTRA_CONTEXT;
WDF_DECLARE_CONTEXT_TYPE(EXTRA_CONTEXT);

/* ---- the disposal recorder ----------------------------------------------------------- */
static char order[256];

static void record(const char *what, WDFOBJECT o)
{
    OBJ_CONTEXT *c = GetObjContext(o);
    char item[32];
    snprintf(item, sizeof(item), "%s%s%s", order[0] ? " " : "", what, c ? c->name : "?");
    strncat(order, item, sizeof(order) - strlen(order) - 1);
}

static VOID on_cleanup(WDFOBJECT o)
{
    record("c:", o);
}

static VOID on_destroy(WDFOBJECT o)
{
    record("d:", o);
}

static WDFOBJECT make(const char *name, WDFOBJECT parent)
{
    WDF_OBJECT_ATTRIBUTES a;
    WDF_OBJECT_ATTRIBUTES_INIT_CONTEXT_TYPE(&a, OBJ_CONTEXT);
    a.ParentObject = parent;
    a.EvtCleanupCallback = on_cleanup;
    a.EvtDestroyCallback = on_destroy;
    WDFOBJECT o = NULL;
    assert_int_equal(WdfObjectCreate(&a, &o), STATUS_SUCCESS);
    snprintf(GetObjContext(o)->name, sizeof(GetObjContext(o)->name), "%s", name);
    return o;
}

/* ---- bad arguments ------------------------------------------------------------------- */
static void test_create_bad_arguments(void **state)
{
    (void)state;
    fxtu t;
    fxtu_start(&t, WDFDMA_ENGINE_SIM, false);
    fxtu_trap(&t);
    if (setjmp(t.jb) == 0)
        (void)WdfObjectCreate(NULL, NULL);
    assert_int_equal(t.traps, 1);
    assert_int_equal(t.bc.code, WDF_VIOLATION);
    assert_int_equal(t.bc.p[0], WDF_REQUIRED_PARAMETER_IS_NULL);

    WDF_OBJECT_ATTRIBUTES a;
    WDFOBJECT o = (WDFOBJECT)1;
    WDF_OBJECT_ATTRIBUTES_INIT(&a);
    a.Size = 8;
    assert_int_equal(WdfObjectCreate(&a, &o), STATUS_INFO_LENGTH_MISMATCH);
    assert_null(o);
    WDF_OBJECT_ATTRIBUTES_INIT(&a);
    a.ContextSizeOverride = 64; /* no type to override */
    assert_int_equal(WdfObjectCreate(&a, &o), STATUS_WDF_OBJECT_ATTRIBUTES_INVALID);
    WDF_OBJECT_ATTRIBUTES_INIT_CONTEXT_TYPE(&a, OBJ_CONTEXT);
    a.ContextSizeOverride = 1; /* smaller than the type */
    assert_int_equal(WdfObjectCreate(&a, &o), STATUS_WDF_OBJECT_ATTRIBUTES_INVALID);
    WDF_OBJECT_ATTRIBUTES_INIT(&a);
    a.SynchronizationScope = WdfSynchronizationScopeDevice; /* not for a plain object */
    assert_int_equal(WdfObjectCreate(&a, &o), STATUS_WDF_SYNCHRONIZATION_SCOPE_INVALID);
    WDF_OBJECT_ATTRIBUTES_INIT(&a);
    a.ExecutionLevel = (WDF_EXECUTION_LEVEL)9;
    assert_int_equal(WdfObjectCreate(&a, &o), STATUS_WDF_OBJECT_ATTRIBUTES_INVALID);
    assert_int_equal(fx_object_live_count_on(t.m, FX_TYPE_NONE), 0);
    fxtu_finish(&t);
}

/* Stale, forged, NULL and wrong-type handles: 0x10D, P1 = 5, P2 = the handle. */
static void test_bad_handles(void **state)
{
    (void)state;
    fxtu t;
    fxtu_start(&t, WDFDMA_ENGINE_SIM, false);
    fxtu_trap(&t);
    WDFOBJECT o = make("x", NULL);
    WdfObjectDelete(o);
    WDFOBJECT reused = make("y", NULL); /* very likely the same slot, next generation */

    WDFOBJECT bad[] = { o, (WDFOBJECT)(uintptr_t)0x1234, (WDFOBJECT)(uintptr_t)0xFD00000000000000ull,
                        NULL };
    for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int before = t.traps;
        if (setjmp(t.jb) == 0)
            WdfObjectReferenceActual(bad[i], NULL, __LINE__, __FILE__);
        assert_int_equal(t.traps, before + 1);
        assert_int_equal(t.bc.code, WDF_VIOLATION);
        assert_int_equal(t.bc.p[0], WDF_INVALID_HANDLE);
        assert_int_equal(t.bc.p[1], (uint64_t)(uintptr_t)bad[i]);
    }
    /* Right handle, wrong type: P3 names the type the DDI wanted. */
    if (setjmp(t.jb) == 0)
        (void)WdfTimerStart((WDFTIMER)reused, 0);
    assert_int_equal(t.bc.p[0], WDF_INVALID_HANDLE);
    assert_int_equal(t.bc.p[1], (uint64_t)(uintptr_t)reused);
    assert_int_equal(t.bc.p[2], FX_TYPE_TIMER);
    WdfObjectDelete(reused);
    fxtu_finish(&t);
}

/* ---- success ------------------------------------------------------------------------- */
static void test_contexts(void **state)
{
    (void)state;
    fxtu t;
    fxtu_start(&t, WDFDMA_ENGINE_SIM, false);
    WDF_OBJECT_ATTRIBUTES a;
    WDF_OBJECT_ATTRIBUTES_INIT_CONTEXT_TYPE(&a, OBJ_CONTEXT);
    a.ContextSizeOverride = 4096;
    WDFOBJECT o;
    assert_int_equal(WdfObjectCreate(&a, &o), STATUS_SUCCESS);
    OBJ_CONTEXT *c = GetObjContext(o);
    assert_non_null(c);
    assert_int_equal(((uintptr_t)c) % 16, 0);
    memset(c, 0xA5, 4096); /* the override's bytes are there (ASan checks the bound) */
    assert_ptr_equal(WdfObjectContextGetObject(c), o);
    assert_null(WdfObjectGet_EXTRA_CONTEXT(o));

    WDF_OBJECT_ATTRIBUTES_INIT_CONTEXT_TYPE(&a, EXTRA_CONTEXT);
    PVOID extra = NULL, again = NULL;
    assert_int_equal(WdfObjectAllocateContext(o, &a, &extra), STATUS_SUCCESS);
    assert_ptr_equal(extra, WdfObjectGet_EXTRA_CONTEXT(o));
    assert_ptr_equal(WdfObjectContextGetObject(extra), o);
    assert_int_equal(WdfObjectAllocateContext(o, &a, &again), STATUS_OBJECT_NAME_EXISTS);
    assert_ptr_equal(again, extra);
    WDF_OBJECT_ATTRIBUTES_INIT(&a);
    assert_int_equal(WdfObjectAllocateContext(o, &a, &again), STATUS_OBJECT_NAME_INVALID);
    WdfObjectDelete(o);
    fxtu_finish(&t);
}

static void test_references_and_destroy(void **state)
{
    (void)state;
    fxtu t;
    fxtu_start(&t, WDFDMA_ENGINE_SIM, false);
    order[0] = '\0';
    WDFOBJECT o = make("o", NULL);
    WdfObjectReference(o);
    WdfObjectDelete(o);
    assert_string_equal(order, "c:o"); /* cleanup now, destroy waits for the reference */
    assert_int_equal(fx_object_live_count_on(t.m, FX_TYPE_OBJECT), 1);
    assert_non_null(GetObjContext(o)); /* still resolvable while referenced */
    WdfObjectDereference(o);
    assert_string_equal(order, "c:o d:o");
    assert_int_equal(fx_object_live_count_on(t.m, FX_TYPE_OBJECT), 0);
    fxtu_finish(&t);
}

/* Children's cleanup before the parent's; a child's destroy before the parent's. */
static void test_disposal_order(void **state)
{
    (void)state;
    fxtu t;
    fxtu_start(&t, WDFDMA_ENGINE_SIM, false);
    order[0] = '\0';
    WDFOBJECT p = make("P", NULL);
    WDFOBJECT a = make("A", p);
    (void)make("A1", a);
    WDFOBJECT b = make("B", p);
    WdfObjectReference(b); /* B outlives its deletion until dereferenced */
    WdfObjectDelete(p);
    assert_string_equal(order, "c:A1 d:A1 c:A d:A c:B c:P");
    WdfObjectDereference(b);
    assert_string_equal(order, "c:A1 d:A1 c:A d:A c:B c:P d:B d:P");
    assert_int_equal(fx_object_live_count_on(t.m, FX_TYPE_NONE), 0);
    fxtu_finish(&t);
}

static void test_spinlock_and_waitlock(void **state)
{
    (void)state;
    fxtu t;
    fxtu_start(&t, WDFDMA_ENGINE_SIM, false);
    WDFSPINLOCK s;
    WDFWAITLOCK w;
    assert_int_equal(WdfSpinLockCreate(WDF_NO_OBJECT_ATTRIBUTES, &s), STATUS_SUCCESS);
    assert_int_equal(WdfWaitLockCreate(WDF_NO_OBJECT_ATTRIBUTES, &w), STATUS_SUCCESS);
    WdfSpinLockAcquire(s);
    assert_int_equal(KeGetCurrentIrql(), DISPATCH_LEVEL);
    WdfSpinLockRelease(s);
    assert_int_equal(KeGetCurrentIrql(), PASSIVE_LEVEL);
    assert_int_equal(WdfWaitLockAcquire(w, NULL), STATUS_SUCCESS);
    LONGLONG zero = 0;
    assert_int_equal(WdfWaitLockAcquire(w, &zero), STATUS_TIMEOUT);
    WdfWaitLockRelease(w);
    assert_int_equal(WdfWaitLockAcquire(w, &zero), STATUS_SUCCESS);
    WdfWaitLockRelease(w);
    WdfObjectDelete(s);
    WdfObjectDelete(w);
    fxtu_finish(&t);
}

static void test_memory(void **state)
{
    (void)state;
    fxtu t;
    fxtu_start(&t, WDFDMA_ENGINE_SIM, false);
    WDFMEMORY mem;
    PVOID buf;
    assert_int_equal(WdfMemoryCreate(WDF_NO_OBJECT_ATTRIBUTES, NonPagedPoolNx, 'tseT', 0, &mem,
                                     &buf),
                     STATUS_INVALID_PARAMETER);
    assert_int_equal(WdfMemoryCreate(WDF_NO_OBJECT_ATTRIBUTES, NonPagedPoolNx, 'tseT', 64, &mem,
                                     &buf),
                     STATUS_SUCCESS);
    size_t size = 0;
    assert_ptr_equal(WdfMemoryGetBuffer(mem, &size), buf);
    assert_int_equal(size, 64);
    char in[16] = "0123456789abcde", out[16] = { 0 };
    assert_int_equal(WdfMemoryCopyFromBuffer(mem, 48, in, 16), STATUS_SUCCESS);
    assert_int_equal(WdfMemoryCopyFromBuffer(mem, 49, in, 16), STATUS_BUFFER_TOO_SMALL);
    assert_int_equal(WdfMemoryCopyToBuffer(mem, 48, out, 16), STATUS_SUCCESS);
    assert_memory_equal(in, out, 16);
    assert_int_equal(WdfMemoryCopyToBuffer(mem, (size_t)-1, out, 2), STATUS_BUFFER_TOO_SMALL);
    char mine[8];
    WDFMEMORY pre;
    assert_int_equal(WdfMemoryCreatePreallocated(WDF_NO_OBJECT_ATTRIBUTES, mine, sizeof(mine), &pre),
                     STATUS_SUCCESS);
    assert_ptr_equal(WdfMemoryGetBuffer(pre, NULL), mine);
    assert_int_equal(WdfMemoryAssignBuffer(mem, mine, 8), STATUS_INVALID_DEVICE_REQUEST);
    WdfObjectDelete(pre);
    WdfObjectDelete(mem);
    fxtu_finish(&t);
}

/* ---- wrong state --------------------------------------------------------------------- */
static void test_deleted_object_misuse(void **state)
{
    (void)state;
    fxtu t;
    fxtu_start(&t, WDFDMA_ENGINE_SIM, false);
    fxtu_trap(&t);
    order[0] = '\0';
    WDFOBJECT o = make("o", NULL);
    WdfObjectReference(o);
    WdfObjectDelete(o);
    WdfObjectDelete(o); /* deleting twice while referenced is harmless */
    assert_string_equal(order, "c:o");
    WDF_OBJECT_ATTRIBUTES a;
    WDF_OBJECT_ATTRIBUTES_INIT_CONTEXT_TYPE(&a, EXTRA_CONTEXT);
    PVOID ctx;
    assert_int_equal(WdfObjectAllocateContext(o, &a, &ctx), STATUS_DELETE_PENDING);
    WDF_OBJECT_ATTRIBUTES_INIT(&a);
    a.ParentObject = o;
    WDFOBJECT child;
    assert_int_equal(WdfObjectCreate(&a, &child), STATUS_DELETE_PENDING);
    WdfObjectDereference(o);

    /* One dereference too many on a live object: WDF_OBJECT_ERROR. */
    WDFOBJECT p = make("p", NULL);
    if (setjmp(t.jb) == 0)
        WdfObjectDereference(p);
    assert_int_equal(t.traps, 1);
    assert_int_equal(t.bc.p[0], WDF_OBJECT_ERROR);
    assert_int_equal(t.bc.p[1], (uint64_t)(uintptr_t)p);
    assert_int_equal(fx_lookup(p, FX_TYPE_OBJECT)->refs, 1); /* left as it was */
    WdfObjectDelete(p);
    fxtu_finish(&t);
}

/* Spin lock taken twice, released when not held: 0x10D with P1 2 / 0xB. */
static void test_lock_misuse(void **state)
{
    (void)state;
    fxtu t;
    fxtu_start(&t, WDFDMA_ENGINE_SIM, false);
    fxtu_trap(&t);
    WDFSPINLOCK s;
    assert_int_equal(WdfSpinLockCreate(WDF_NO_OBJECT_ATTRIBUTES, &s), STATUS_SUCCESS);
    if (setjmp(t.jb) == 0)
        WdfSpinLockRelease(s);
    assert_int_equal(t.bc.p[0], WDF_INVALID_LOCK_OPERATION);
    WdfSpinLockAcquire(s);
    if (setjmp(t.jb) == 0)
        WdfSpinLockAcquire(s);
    assert_int_equal(t.bc.p[0], WDF_RECURSIVE_LOCK);
    WdfSpinLockRelease(s);
    WdfObjectDelete(s);
    fxtu_finish(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_bad_arguments),
        cmocka_unit_test(test_bad_handles),
        cmocka_unit_test(test_contexts),
        cmocka_unit_test(test_references_and_destroy),
        cmocka_unit_test(test_disposal_order),
        cmocka_unit_test(test_spinlock_and_waitlock),
        cmocka_unit_test(test_memory),
        cmocka_unit_test(test_deleted_object_misuse),
        cmocka_unit_test(test_lock_misuse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
