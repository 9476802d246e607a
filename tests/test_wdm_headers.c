/*
 * The WDK-named headers: Windows sizes on LP64, real NTSTATUS values, CTL_CODE, list
 * helpers, structure layouts, counted strings and the DbgPrint dialect.
 */
#include "wdm_testutil.h"

static void test_sizes(void **state)
{
    (void)state;
    assert_int_equal(sizeof(ULONG), 4);
    assert_int_equal(sizeof(LONG), 4);
    assert_int_equal(sizeof(ULONG64), 8);
    assert_int_equal(sizeof(ULONGLONG), 8);
    assert_int_equal(sizeof(ULONG_PTR), 8);
    assert_int_equal(sizeof(SIZE_T), 8);
    assert_int_equal(sizeof(BOOLEAN), 1);
    assert_int_equal(sizeof(NTSTATUS), 4);
    assert_int_equal(sizeof(WCHAR), 2);
    assert_int_equal(sizeof(L"ab"), 6);
    assert_int_equal(sizeof(LARGE_INTEGER), 8);
    assert_int_equal(sizeof(KSPIN_LOCK), 8);
    assert_int_equal(sizeof(KIRQL), 1);
    assert_int_equal(sizeof(GUID), 16);
    assert_int_equal(sizeof(CM_PARTIAL_RESOURCE_DESCRIPTOR), 20);
    assert_int_equal(sizeof(SCATTER_GATHER_ELEMENT), 24);
    assert_int_equal(sizeof(MDL), 48);
    assert_int_equal(sizeof(UNICODE_STRING), 16);
}

static void test_status_values(void **state)
{
    (void)state;
    assert_int_equal((ULONG)STATUS_SUCCESS, 0);
    assert_int_equal((ULONG)STATUS_PENDING, 0x103);
    assert_int_equal((ULONG)STATUS_TIMEOUT, 0x102);
    assert_int_equal((ULONG)STATUS_MORE_PROCESSING_REQUIRED, 0xC0000016);
    assert_int_equal((ULONG)STATUS_CANCELLED, 0xC0000120);
    assert_int_equal((ULONG)STATUS_INVALID_PARAMETER, 0xC000000D);
    assert_int_equal((ULONG)STATUS_INVALID_DEVICE_REQUEST, 0xC0000010);
    assert_int_equal((ULONG)STATUS_INSUFFICIENT_RESOURCES, 0xC000009A);
    assert_int_equal((ULONG)STATUS_INFO_LENGTH_MISMATCH, 0xC0000004);
    assert_int_equal((ULONG)STATUS_DEVICE_BUSY, 0x80000011);
    assert_int_equal((ULONG)STATUS_BUFFER_OVERFLOW, 0x80000005);
    assert_int_equal((ULONG)STATUS_WDF_BUSY, 0xC0200204);
    assert_int_equal((ULONG)STATUS_WDF_TOO_FRAGMENTED, 0xC020020A);
    assert_int_equal((ULONG)STATUS_WDF_TOO_MANY_TRANSFERS, 0xC0200213);
    assert_int_equal((ULONG)STATUS_WDF_NOT_ENOUGH_MAP_REGISTERS, 0xC0200214);
    assert_true(NT_SUCCESS(STATUS_PENDING));
    assert_true(NT_SUCCESS(STATUS_WDF_QUEUED));
    assert_false(NT_SUCCESS(STATUS_BUFFER_OVERFLOW));
    assert_true(NT_WARNING(STATUS_BUFFER_OVERFLOW));
    assert_true(NT_ERROR(STATUS_WDF_BUSY));
    assert_true(NT_INFORMATION(STATUS_WDF_QUEUED));
}

static void test_ctl_code(void **state)
{
    (void)state;
    assert_int_equal(CTL_CODE(FILE_DEVICE_UNKNOWN, 0x800, METHOD_BUFFERED, FILE_ANY_ACCESS),
                     0x00222000);
    assert_int_equal(CTL_CODE(FILE_DEVICE_UNKNOWN, 0x801, METHOD_OUT_DIRECT,
                              FILE_READ_ACCESS | FILE_WRITE_ACCESS), 0x0022E006);
    assert_int_equal(METHOD_FROM_CTL_CODE(0x0022E006), METHOD_OUT_DIRECT);
    assert_int_equal(DEVICE_TYPE_FROM_CTL_CODE(0x0022E006), FILE_DEVICE_UNKNOWN);
}

static void test_page_macros(void **state)
{
    (void)state;
    void *va = (void *)(uintptr_t)0x10000ff0;
    assert_int_equal(BYTE_OFFSET(va), 0xff0);
    assert_ptr_equal(PAGE_ALIGN(va), (void *)(uintptr_t)0x10000000);
    assert_int_equal(ADDRESS_AND_SIZE_TO_SPAN_PAGES(va, 0x20), 2);
    assert_int_equal(ADDRESS_AND_SIZE_TO_SPAN_PAGES(va, 0x10), 1);
    assert_int_equal(ROUND_TO_PAGES(4097), 8192);
    assert_int_equal(BYTES_TO_PAGES(4096), 1);
    assert_int_equal(BYTES_TO_PAGES(4097), 2);
    assert_int_equal(FILE_OCTA_ALIGNMENT, 0xf);
}

typedef struct item {
    int value;
    LIST_ENTRY link;
} item;

static void test_lists(void **state)
{
    (void)state;
    LIST_ENTRY head;
    item a = { 1, { 0, 0 } }, b = { 2, { 0, 0 } }, c = { 3, { 0, 0 } };
    InitializeListHead(&head);
    assert_true(IsListEmpty(&head));
    InsertTailList(&head, &b.link);
    InsertHeadList(&head, &a.link);
    InsertTailList(&head, &c.link);
    assert_int_equal(CONTAINING_RECORD(head.Flink, item, link)->value, 1);
    assert_int_equal(CONTAINING_RECORD(RemoveTailList(&head), item, link)->value, 3);
    assert_false(RemoveEntryList(&a.link));
    assert_int_equal(CONTAINING_RECORD(RemoveHeadList(&head), item, link)->value, 2);
    assert_true(IsListEmpty(&head));

    SINGLE_LIST_ENTRY s = { NULL }, s1, s2;
    PushEntryList(&s, &s1);
    PushEntryList(&s, &s2);
    assert_ptr_equal(PopEntryList(&s), &s2);
    assert_ptr_equal(PopEntryList(&s), &s1);
    assert_null(PopEntryList(&s));
}

static void test_list_corruption_bugchecks(void **state)
{
    (void)state;
    wdfdma_machine *m = wt_machine(WDFDMA_ENGINE_SIM);
    wt_trap trap;
    wt_trap_install(m, &trap);
    LIST_ENTRY head, e;
    InitializeListHead(&head);
    InsertTailList(&head, &e);
    e.Blink = &e;   /* corrupt */
    WT_EXPECT_BUGCHECK(&trap, RemoveEntryList(&e));
    assert_int_equal(trap.bc.code, KERNEL_SECURITY_CHECK_FAILURE);
    assert_int_equal(trap.bc.p[0], 3);
    wdfdma_machine_destroy(m);
}

static void test_field_offsets(void **state)
{
    (void)state;
    assert_int_equal(FIELD_OFFSET(MDL, Next), 0);
    assert_int_equal(FIELD_OFFSET(MDL, Size), 8);
    assert_int_equal(FIELD_OFFSET(MDL, MdlFlags), 10);
    assert_int_equal(FIELD_OFFSET(MDL, MappedSystemVa), 24);
    assert_int_equal(FIELD_OFFSET(MDL, StartVa), 32);
    assert_int_equal(FIELD_OFFSET(MDL, ByteCount), 40);
    assert_int_equal(FIELD_OFFSET(MDL, ByteOffset), 44);
    assert_int_equal(FIELD_OFFSET(SCATTER_GATHER_LIST, Elements), 16);
    assert_int_equal(FIELD_OFFSET(SCATTER_GATHER_ELEMENT, Length), 8);
    assert_int_equal(FIELD_OFFSET(CM_PARTIAL_RESOURCE_DESCRIPTOR, u), 4);
    assert_int_equal(FIELD_OFFSET(CM_PARTIAL_RESOURCE_DESCRIPTOR, u.Memory.Length), 12);
    assert_int_equal(FIELD_OFFSET(CM_PARTIAL_RESOURCE_DESCRIPTOR, u.Interrupt.Affinity), 12);
    assert_int_equal(FIELD_OFFSET(CM_PARTIAL_RESOURCE_DESCRIPTOR, u.MessageInterrupt.Raw.MessageCount), 6);
    assert_int_equal(FIELD_OFFSET(CM_PARTIAL_RESOURCE_DESCRIPTOR, u.DmaV3.TransferWidth), 12);
    assert_int_equal(FIELD_OFFSET(DMA_ADAPTER, DmaOperations), 8);
    assert_int_equal(FIELD_OFFSET(DMA_OPERATIONS, PutDmaAdapter), 8);
    assert_int_equal(FIELD_OFFSET(DMA_OPERATIONS, CreateCommonBufferFromMdl), 8 + 38 * 8);
    assert_int_equal(FIELD_OFFSET(DEVICE_DESCRIPTION, BusNumber), 12);
    assert_int_equal(FIELD_OFFSET(DEVICE_DESCRIPTION, DmaPort), 36);
    assert_int_equal(FIELD_OFFSET(DEVICE_DESCRIPTION, DeviceAddress), 56);
    assert_int_equal(FIELD_OFFSET(IO_STACK_LOCATION, Parameters), 8);
    assert_int_equal(FIELD_OFFSET(IO_STACK_LOCATION, Parameters.DeviceIoControl.IoControlCode), 24);
    assert_int_equal(FIELD_OFFSET(IO_STATUS_BLOCK, Information), 8);
    assert_int_equal(FIELD_OFFSET(IRP, MdlAddress), 8);
    assert_int_equal(FIELD_OFFSET(IRP, AssociatedIrp), 24);
    assert_int_equal(FIELD_OFFSET(IRP, IoStatus), 48);
}

static void test_strings(void **state)
{
    (void)state;
    DECLARE_CONST_UNICODE_STRING(name, L"Dma0");
    UNICODE_STRING u, copy;
    DECLARE_UNICODE_STRING_SIZE(buf, 8);
    UNICODE_STRING k = RTL_CONSTANT_STRING(L"dma0");
    RtlInitUnicodeString(&u, L"Dma0");
    assert_int_equal(u.Length, 8);
    assert_int_equal(u.MaximumLength, 10);
    assert_int_equal(name.Length, 8);
    assert_true(RtlEqualUnicodeString(&u, &name, FALSE));
    assert_false(RtlEqualUnicodeString(&u, &k, FALSE));
    assert_true(RtlEqualUnicodeString(&u, &k, TRUE));
    RtlCopyUnicodeString(&buf, &u);
    assert_int_equal(buf.Length, 8);
    assert_int_equal(RtlAppendUnicodeToString(&buf, L"xyz"), STATUS_SUCCESS);
    assert_int_equal(buf.Length, 14);
    assert_int_equal(RtlAppendUnicodeToString(&buf, L"toolong"), STATUS_BUFFER_TOO_SMALL);
    copy = buf;
    assert_int_equal(copy.Buffer[4], L'x');
    assert_int_equal(RtlCompareMemory("abcd", "abxd", 4), 2);
    assert_true(RtlEqualMemory("ab", "ab", 2));
}

static int fmt(char *buf, size_t n, const char *f, ...)
{
    va_list ap;
    va_start(ap, f);
    int r = wdm_vformat(buf, n, f, ap);
    va_end(ap);
    return r;
}

static void test_dbgprint_dialect(void **state)
{
    (void)state;
    char out[128];
    UNICODE_STRING u;
    RtlInitUnicodeString(&u, L"dev");
    /* %lu is 32 bits on Windows; the 64-bit value after it must still print right. */
    fmt(out, sizeof(out), "%lu %I64x %Ix %wZ %ws %08lX %%", (ULONG)7, 0x123456789ull,
        (ULONG_PTR)0xabc, &u, L"w", (ULONG)0xbeef);
    assert_string_equal(out, "7 123456789 abc dev w 0000BEEF %");
    assert_int_equal(fmt(out, 4, "%d", 12345), 5);
    assert_string_equal(out, "123");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sizes),
        cmocka_unit_test(test_status_values),
        cmocka_unit_test(test_ctl_code),
        cmocka_unit_test(test_page_macros),
        cmocka_unit_test(test_lists),
        cmocka_unit_test(test_list_corruption_bugchecks),
        cmocka_unit_test(test_field_offsets),
        cmocka_unit_test(test_strings),
        cmocka_unit_test(test_dbgprint_dialect),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
