/*
 * test_wdf_headers.c - the WDK-named WDF headers: layouts, values and defaults.
 *
 * Layouts are checked at compile time against the WDK's x64 layout (LP64 Linux has the
 * same sizes for ULONG, pointers, size_t, enums and BOOLEAN), so a layout slip fails the
 * build. Enum and status values, _INIT defaults, helpers and context-type declarations
 * across two translation units are checked at run time. Only inline helpers are called:
 * nothing here needs the framework's DDIs.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "wdf_headers_test.h"

/* ---- Compile-time layout (x64 WDK == LP64 here) --------------------------------------- */

#define CHECK_SIZE(T, n) _Static_assert(sizeof(T) == (n), "sizeof " #T)
#define CHECK_OFF(T, f, n) _Static_assert(offsetof(T, f) == (n), "offsetof " #T "." #f)

#if defined(__LP64__)
CHECK_SIZE(WDF_OBJECT_ATTRIBUTES, 56);
CHECK_OFF(WDF_OBJECT_ATTRIBUTES, EvtCleanupCallback, 8);
CHECK_OFF(WDF_OBJECT_ATTRIBUTES, EvtDestroyCallback, 16);
CHECK_OFF(WDF_OBJECT_ATTRIBUTES, ExecutionLevel, 24);
CHECK_OFF(WDF_OBJECT_ATTRIBUTES, SynchronizationScope, 28);
CHECK_OFF(WDF_OBJECT_ATTRIBUTES, ParentObject, 32);
CHECK_OFF(WDF_OBJECT_ATTRIBUTES, ContextSizeOverride, 40);
CHECK_OFF(WDF_OBJECT_ATTRIBUTES, ContextTypeInfo, 48);

CHECK_SIZE(WDF_OBJECT_CONTEXT_TYPE_INFO, 40);
CHECK_OFF(WDF_OBJECT_CONTEXT_TYPE_INFO, ContextName, 8);
CHECK_OFF(WDF_OBJECT_CONTEXT_TYPE_INFO, ContextSize, 16);
CHECK_OFF(WDF_OBJECT_CONTEXT_TYPE_INFO, UniqueType, 24);
CHECK_OFF(WDF_OBJECT_CONTEXT_TYPE_INFO, EvtDriverGetUniqueContextType, 32);

CHECK_SIZE(WDF_DRIVER_CONFIG, 32);
CHECK_OFF(WDF_DRIVER_CONFIG, EvtDriverDeviceAdd, 8);
CHECK_OFF(WDF_DRIVER_CONFIG, EvtDriverUnload, 16);
CHECK_OFF(WDF_DRIVER_CONFIG, DriverInitFlags, 24);
CHECK_OFF(WDF_DRIVER_CONFIG, DriverPoolTag, 28);

CHECK_SIZE(WDF_PNPPOWER_EVENT_CALLBACKS, 8 + 17 * 8);
CHECK_OFF(WDF_PNPPOWER_EVENT_CALLBACKS, EvtDeviceD0Entry, 8);
CHECK_OFF(WDF_PNPPOWER_EVENT_CALLBACKS, EvtDeviceD0EntryPostInterruptsEnabled, 16);
CHECK_OFF(WDF_PNPPOWER_EVENT_CALLBACKS, EvtDeviceD0Exit, 24);
CHECK_OFF(WDF_PNPPOWER_EVENT_CALLBACKS, EvtDeviceD0ExitPreInterruptsDisabled, 32);
CHECK_OFF(WDF_PNPPOWER_EVENT_CALLBACKS, EvtDevicePrepareHardware, 40);
CHECK_OFF(WDF_PNPPOWER_EVENT_CALLBACKS, EvtDeviceReleaseHardware, 48);
CHECK_OFF(WDF_PNPPOWER_EVENT_CALLBACKS, EvtDeviceSelfManagedIoCleanup, 56);
CHECK_OFF(WDF_PNPPOWER_EVENT_CALLBACKS, EvtDeviceSelfManagedIoFlush, 64);
CHECK_OFF(WDF_PNPPOWER_EVENT_CALLBACKS, EvtDeviceSelfManagedIoInit, 72);
CHECK_OFF(WDF_PNPPOWER_EVENT_CALLBACKS, EvtDeviceSelfManagedIoSuspend, 80);
CHECK_OFF(WDF_PNPPOWER_EVENT_CALLBACKS, EvtDeviceSelfManagedIoRestart, 88);
CHECK_OFF(WDF_PNPPOWER_EVENT_CALLBACKS, EvtDeviceSurpriseRemoval, 96);
CHECK_OFF(WDF_PNPPOWER_EVENT_CALLBACKS, EvtDeviceQueryRemove, 104);
CHECK_OFF(WDF_PNPPOWER_EVENT_CALLBACKS, EvtDeviceQueryStop, 112);
CHECK_OFF(WDF_PNPPOWER_EVENT_CALLBACKS, EvtDeviceUsageNotification, 120);
CHECK_OFF(WDF_PNPPOWER_EVENT_CALLBACKS, EvtDeviceRelationsQuery, 128);
CHECK_OFF(WDF_PNPPOWER_EVENT_CALLBACKS, EvtDeviceUsageNotificationEx, 136);

CHECK_SIZE(WDF_FILEOBJECT_CONFIG, 40);
CHECK_OFF(WDF_FILEOBJECT_CONFIG, AutoForwardCleanupClose, 32);
CHECK_OFF(WDF_FILEOBJECT_CONFIG, FileObjectClass, 36);
CHECK_SIZE(WDF_DEVICE_PNP_CAPABILITIES, 48);
CHECK_OFF(WDF_DEVICE_PNP_CAPABILITIES, Address, 40);
CHECK_SIZE(WDF_DEVICE_STATE, 32);

CHECK_SIZE(WDF_IO_QUEUE_CONFIG, 96);
CHECK_OFF(WDF_IO_QUEUE_CONFIG, DispatchType, 4);
CHECK_OFF(WDF_IO_QUEUE_CONFIG, PowerManaged, 8);
CHECK_OFF(WDF_IO_QUEUE_CONFIG, AllowZeroLengthRequests, 12);
CHECK_OFF(WDF_IO_QUEUE_CONFIG, DefaultQueue, 13);
CHECK_OFF(WDF_IO_QUEUE_CONFIG, EvtIoDefault, 16);
CHECK_OFF(WDF_IO_QUEUE_CONFIG, EvtIoRead, 24);
CHECK_OFF(WDF_IO_QUEUE_CONFIG, EvtIoWrite, 32);
CHECK_OFF(WDF_IO_QUEUE_CONFIG, EvtIoDeviceControl, 40);
CHECK_OFF(WDF_IO_QUEUE_CONFIG, EvtIoInternalDeviceControl, 48);
CHECK_OFF(WDF_IO_QUEUE_CONFIG, EvtIoStop, 56);
CHECK_OFF(WDF_IO_QUEUE_CONFIG, EvtIoResume, 64);
CHECK_OFF(WDF_IO_QUEUE_CONFIG, EvtIoCanceledOnQueue, 72);
CHECK_OFF(WDF_IO_QUEUE_CONFIG, Settings.Parallel.NumberOfPresentedRequests, 80);
CHECK_OFF(WDF_IO_QUEUE_CONFIG, Driver, 88);

CHECK_SIZE(WDF_REQUEST_PARAMETERS, 40);
CHECK_OFF(WDF_REQUEST_PARAMETERS, MinorFunction, 2);
CHECK_OFF(WDF_REQUEST_PARAMETERS, Type, 4);
CHECK_OFF(WDF_REQUEST_PARAMETERS, Parameters, 8);
CHECK_OFF(WDF_REQUEST_PARAMETERS, Parameters.Read.Length, 8);
CHECK_OFF(WDF_REQUEST_PARAMETERS, Parameters.Read.Key, 16);
CHECK_OFF(WDF_REQUEST_PARAMETERS, Parameters.Read.DeviceOffset, 24);
CHECK_OFF(WDF_REQUEST_PARAMETERS, Parameters.Write.Length, 8);
CHECK_OFF(WDF_REQUEST_PARAMETERS, Parameters.DeviceIoControl.OutputBufferLength, 8);
CHECK_OFF(WDF_REQUEST_PARAMETERS, Parameters.DeviceIoControl.InputBufferLength, 16);
CHECK_OFF(WDF_REQUEST_PARAMETERS, Parameters.DeviceIoControl.IoControlCode, 24);
CHECK_OFF(WDF_REQUEST_PARAMETERS, Parameters.DeviceIoControl.Type3InputBuffer, 32);
CHECK_OFF(WDF_REQUEST_PARAMETERS, Parameters.Create.FileAttributes, 24);
CHECK_OFF(WDF_REQUEST_PARAMETERS, Parameters.Create.EaLength, 32);

CHECK_SIZE(WDF_INTERRUPT_CONFIG, 104);
CHECK_OFF(WDF_INTERRUPT_CONFIG, SpinLock, 8);
CHECK_OFF(WDF_INTERRUPT_CONFIG, ShareVector, 16);
CHECK_OFF(WDF_INTERRUPT_CONFIG, FloatingSave, 20);
CHECK_OFF(WDF_INTERRUPT_CONFIG, AutomaticSerialization, 21);
CHECK_OFF(WDF_INTERRUPT_CONFIG, EvtInterruptIsr, 24);
CHECK_OFF(WDF_INTERRUPT_CONFIG, EvtInterruptDpc, 32);
CHECK_OFF(WDF_INTERRUPT_CONFIG, EvtInterruptEnable, 40);
CHECK_OFF(WDF_INTERRUPT_CONFIG, EvtInterruptDisable, 48);
CHECK_OFF(WDF_INTERRUPT_CONFIG, EvtInterruptWorkItem, 56);
CHECK_OFF(WDF_INTERRUPT_CONFIG, InterruptRaw, 64);
CHECK_OFF(WDF_INTERRUPT_CONFIG, InterruptTranslated, 72);
CHECK_OFF(WDF_INTERRUPT_CONFIG, WaitLock, 80);
CHECK_OFF(WDF_INTERRUPT_CONFIG, PassiveHandling, 88);
CHECK_OFF(WDF_INTERRUPT_CONFIG, ReportInactiveOnPowerDown, 92);
CHECK_OFF(WDF_INTERRUPT_CONFIG, CanWakeDevice, 96);

CHECK_SIZE(WDF_INTERRUPT_INFO, 64);
CHECK_OFF(WDF_INTERRUPT_INFO, Reserved1, 8);
CHECK_OFF(WDF_INTERRUPT_INFO, TargetProcessorSet, 16);
CHECK_OFF(WDF_INTERRUPT_INFO, Reserved2, 24);
CHECK_OFF(WDF_INTERRUPT_INFO, MessageNumber, 28);
CHECK_OFF(WDF_INTERRUPT_INFO, Vector, 32);
CHECK_OFF(WDF_INTERRUPT_INFO, Irql, 36);
CHECK_OFF(WDF_INTERRUPT_INFO, Mode, 40);
CHECK_OFF(WDF_INTERRUPT_INFO, Polarity, 44);
CHECK_OFF(WDF_INTERRUPT_INFO, MessageSignaled, 48);
CHECK_OFF(WDF_INTERRUPT_INFO, ShareDisposition, 49);
CHECK_OFF(WDF_INTERRUPT_INFO, Group, 56);

CHECK_SIZE(WDF_TIMER_CONFIG, 40);
CHECK_OFF(WDF_TIMER_CONFIG, EvtTimerFunc, 8);
CHECK_OFF(WDF_TIMER_CONFIG, Period, 16);
CHECK_OFF(WDF_TIMER_CONFIG, AutomaticSerialization, 20);
CHECK_OFF(WDF_TIMER_CONFIG, TolerableDelay, 24);
CHECK_OFF(WDF_TIMER_CONFIG, UseHighResolutionTimer, 32);

CHECK_SIZE(WDF_WORKITEM_CONFIG, 24);
CHECK_OFF(WDF_WORKITEM_CONFIG, EvtWorkItemFunc, 8);
CHECK_OFF(WDF_WORKITEM_CONFIG, AutomaticSerialization, 16);

CHECK_SIZE(WDF_MEMORY_DESCRIPTOR, 24);
CHECK_OFF(WDF_MEMORY_DESCRIPTOR, u.BufferType.Buffer, 8);
CHECK_OFF(WDF_MEMORY_DESCRIPTOR, u.BufferType.Length, 16);
CHECK_OFF(WDF_MEMORY_DESCRIPTOR, u.HandleType.Offsets, 16);
CHECK_SIZE(WDFMEMORY_OFFSET, 16);

CHECK_SIZE(WDF_DMA_ENABLER_CONFIG, 80);
CHECK_OFF(WDF_DMA_ENABLER_CONFIG, Profile, 4);
CHECK_OFF(WDF_DMA_ENABLER_CONFIG, MaximumLength, 8);
CHECK_OFF(WDF_DMA_ENABLER_CONFIG, EvtDmaEnablerFill, 16);
CHECK_OFF(WDF_DMA_ENABLER_CONFIG, EvtDmaEnablerFlush, 24);
CHECK_OFF(WDF_DMA_ENABLER_CONFIG, EvtDmaEnablerDisable, 32);
CHECK_OFF(WDF_DMA_ENABLER_CONFIG, EvtDmaEnablerEnable, 40);
CHECK_OFF(WDF_DMA_ENABLER_CONFIG, EvtDmaEnablerSelfManagedIoStart, 48);
CHECK_OFF(WDF_DMA_ENABLER_CONFIG, EvtDmaEnablerSelfManagedIoStop, 56);
CHECK_OFF(WDF_DMA_ENABLER_CONFIG, AddressWidthOverride, 64);
CHECK_OFF(WDF_DMA_ENABLER_CONFIG, WdmDmaVersionOverride, 68);
CHECK_OFF(WDF_DMA_ENABLER_CONFIG, Flags, 72);

CHECK_SIZE(WDF_DMA_SYSTEM_PROFILE_CONFIG, 32);
CHECK_OFF(WDF_DMA_SYSTEM_PROFILE_CONFIG, DemandMode, 4);
CHECK_OFF(WDF_DMA_SYSTEM_PROFILE_CONFIG, LoopedTransfer, 5);
CHECK_OFF(WDF_DMA_SYSTEM_PROFILE_CONFIG, DmaWidth, 8);
CHECK_OFF(WDF_DMA_SYSTEM_PROFILE_CONFIG, DeviceAddress, 16);
CHECK_OFF(WDF_DMA_SYSTEM_PROFILE_CONFIG, DmaDescriptor, 24);

CHECK_SIZE(WDF_COMMON_BUFFER_CONFIG, 8);
CHECK_OFF(WDF_COMMON_BUFFER_CONFIG, AlignmentRequirement, 4);

CHECK_SIZE(WDF_QUEUE_FATAL_ERROR_DATA, 24);
CHECK_SIZE(WDF_REQUEST_FATAL_ERROR_INFORMATION_LENGTH_MISMATCH_DATA, 40);
#endif

/* Handles are distinct types: only WDFOBJECT accepts any of them implicitly. */
#define IS_TYPE(expr, T) _Generic((expr), T: 1, default: 0)
_Static_assert(IS_TYPE((WDFDEVICE)0, WDFDEVICE) && !IS_TYPE((WDFDEVICE)0, WDFQUEUE), "handles");
_Static_assert(!IS_TYPE((WDFDMAENABLER)0, WDFDMATRANSACTION), "handles");
_Static_assert(!IS_TYPE((WDFCOMMONBUFFER)0, WDFMEMORY), "handles");
_Static_assert(!IS_TYPE((WDFSPINLOCK)0, WDFWAITLOCK), "handles");
_Static_assert(IS_TYPE((WDFOBJECT)0, HANDLE), "WDFOBJECT is HANDLE");
_Static_assert(sizeof(WDFCMRESLIST) == sizeof(void *), "handles are pointers");

/* Role types declare functions; the PFN types point at them. */
static EVT_WDF_PROGRAM_DMA HdrProgramDma;
static EVT_WDF_DRIVER_DEVICE_ADD HdrDeviceAdd;
static EVT_WDF_INTERRUPT_ISR HdrIsr;
static EVT_WDF_DEVICE_CONTEXT_CLEANUP HdrDeviceCleanup;

static BOOLEAN HdrProgramDma(WDFDMATRANSACTION Transaction, WDFDEVICE Device, WDFCONTEXT Context,
                             WDF_DMA_DIRECTION Direction, PSCATTER_GATHER_LIST SgList)
{
    (void)Transaction, (void)Device, (void)Context, (void)SgList;
    return Direction == WdfDmaDirectionWriteToDevice;
}

static NTSTATUS HdrDeviceAdd(WDFDRIVER Driver, PWDFDEVICE_INIT DeviceInit)
{
    (void)Driver, (void)DeviceInit;
    return STATUS_SUCCESS;
}

static BOOLEAN HdrIsr(WDFINTERRUPT Interrupt, ULONG MessageID)
{
    (void)Interrupt;
    return MessageID == 7;
}

static VOID HdrDeviceCleanup(WDFOBJECT Object)
{
    (void)Object;
}

/* ---- Run-time checks -------------------------------------------------------------------- */

static void test_constants(void **state)
{
    (void)state;
    assert_int_equal(KMDF_VERSION_MAJOR, 1);
    assert_int_equal(KMDF_VERSION_MINOR, 33);
    assert_null(WDF_NO_HANDLE);
    assert_null(WDF_NO_OBJECT_ATTRIBUTES);
    assert_null(WDF_NO_EVENT_CALLBACK);
    assert_null(WDF_NO_CONTEXT);
    assert_int_equal(WdfFalse, FALSE);
    assert_int_equal(WdfTrue, TRUE);
    assert_int_equal(WdfUseDefault, 2);
    assert_int_equal(WDF_STRUCTURE_SIZE(WDF_DMA_ENABLER_CONFIG), sizeof(WDF_DMA_ENABLER_CONFIG));
    assert_int_equal(WDF_DMA_ENABLER_UNLIMITED_FRAGMENTS, 0xFFFFFFFFu);
    assert_int_equal(WDF_INSERT_AT_END, 0xFFFFFFFFu);
    assert_int_equal(TolerableDelayUnlimited, 0xFFFFFFFFu);
}

static void test_enum_values(void **state)
{
    (void)state;
    assert_int_equal(WdfExecutionLevelInvalid, 0);
    assert_int_equal(WdfExecutionLevelInheritFromParent, 1);
    assert_int_equal(WdfExecutionLevelPassive, 2);
    assert_int_equal(WdfExecutionLevelDispatch, 3);
    assert_int_equal(WdfSynchronizationScopeInvalid, 0);
    assert_int_equal(WdfSynchronizationScopeInheritFromParent, 1);
    assert_int_equal(WdfSynchronizationScopeDevice, 2);
    assert_int_equal(WdfSynchronizationScopeQueue, 3);
    assert_int_equal(WdfSynchronizationScopeNone, 4);

    assert_int_equal(WdfDmaProfileInvalid, 0);
    assert_int_equal(WdfDmaProfilePacket, 1);
    assert_int_equal(WdfDmaProfileScatterGather, 2);
    assert_int_equal(WdfDmaProfilePacket64, 3);
    assert_int_equal(WdfDmaProfileScatterGather64, 4);
    assert_int_equal(WdfDmaProfileScatterGatherDuplex, 5);
    assert_int_equal(WdfDmaProfileScatterGather64Duplex, 6);
    assert_int_equal(WdfDmaProfileSystem, 7);
    assert_int_equal(WdfDmaProfileSystemDuplex, 8);
    assert_int_equal(WdfDmaDirectionReadFromDevice, 0);
    assert_int_equal(WdfDmaDirectionWriteToDevice, 1);
    assert_int_equal(WDF_DMA_ENABLER_CONFIG_NO_SGLIST_PREALLOCATION, 0x1);
    assert_int_equal(WDF_DMA_ENABLER_CONFIG_REQUIRE_SINGLE_TRANSFER, 0x2);

    assert_int_equal(WdfIoQueueDispatchInvalid, 0);
    assert_int_equal(WdfIoQueueDispatchSequential, 1);
    assert_int_equal(WdfIoQueueDispatchParallel, 2);
    assert_int_equal(WdfIoQueueDispatchManual, 3);
    assert_int_equal(WdfIoQueueDispatchMax, 4);
    assert_int_equal(WdfIoQueueAcceptRequests, 0x01);
    assert_int_equal(WdfIoQueueDispatchRequests, 0x02);
    assert_int_equal(WdfIoQueueNoRequests, 0x04);
    assert_int_equal(WdfIoQueueDriverNoRequests, 0x08);
    assert_int_equal(WdfIoQueuePnpHeld, 0x10);

    assert_int_equal(WdfRequestTypeCreate, 0x0);
    assert_int_equal(WdfRequestTypeRead, 0x3);
    assert_int_equal(WdfRequestTypeWrite, 0x4);
    assert_int_equal(WdfRequestTypeDeviceControl, 0xe);
    assert_int_equal(WdfRequestTypeDeviceControlInternal, 0xf);
    assert_int_equal(WdfRequestTypeOther, 0x1c);
    assert_int_equal(WdfRequestTypeUsb, 0x40);
    assert_int_equal(WdfRequestTypeNoFormat, 0xff);
    assert_int_equal(WdfRequestTypeMax, 0x100);
    assert_int_equal(WdfRequestStopActionSuspend, 0x1);
    assert_int_equal(WdfRequestStopActionPurge, 0x2);
    assert_int_equal(WdfRequestStopRequestCancelable, 0x10000000);

    assert_int_equal(WdfPowerDeviceInvalid, 0);
    assert_int_equal(WdfPowerDeviceD0, 1);
    assert_int_equal(WdfPowerDeviceD3, 4);
    assert_int_equal(WdfPowerDeviceD3Final, 5);
    assert_int_equal(WdfPowerDevicePrepareForHibernation, 6);
    assert_int_equal(WdfPowerDeviceMaximum, 7);
    assert_int_equal(WdfDeviceIoNeither, 1);
    assert_int_equal(WdfDeviceIoBuffered, 2);
    assert_int_equal(WdfDeviceIoDirect, 3);
    assert_int_equal(WdfDeviceIoBufferedOrDirect, 4);
    assert_int_equal(WdfDeviceFailedAttemptRestart, 1);
    assert_int_equal(WdfDeviceFailedNoRestart, 2);
    assert_int_equal(WdfSpecialFilePaging, 1);
    assert_int_equal(WdfSpecialFileMax, 7);
    assert_int_equal(WdfFileObjectWdfCannotUseFsContexts, 4);
    assert_int_equal((ULONG)WdfFileObjectCanBeOptional, 0x80000000u);

    assert_int_equal(WdfInterruptActiveHigh, 1);
    assert_int_equal(WdfIrqPolicySpreadMessagesAcrossAllProcessors, 5);
    assert_int_equal(WdfIrqPriorityHigh, 3);
    assert_int_equal(WdfMemoryDescriptorTypeHandle, 3);
    assert_int_equal(WdfDriverInitNonPnpDriver, 0x1);
    assert_int_equal(WdfDriverInitNoDispatchOverride, 0x2);
    assert_int_equal(WdfVerifierOn, 0x8);
}

static void test_bugcheck_and_status_codes(void **state)
{
    (void)state;
    assert_int_equal(WDF_VIOLATION, 0x10D);
    assert_int_equal(WDF_POWER_ROUTINE_TIMED_OUT, 0x1);
    assert_int_equal(WDF_RECURSIVE_LOCK, 0x2);
    assert_int_equal(WDF_VERIFIER_FATAL_ERROR, 0x3);
    assert_int_equal(WDF_REQUIRED_PARAMETER_IS_NULL, 0x4);
    assert_int_equal(WDF_INVALID_HANDLE, 0x5);
    assert_int_equal(WDF_REQUEST_FATAL_ERROR, 0x6);
    assert_int_equal(WDF_OBJECT_ERROR, 0x7);
    assert_int_equal(WDF_DMA_FATAL_ERROR, 0x8);
    assert_int_equal(WDF_INVALID_INTERRUPT, 0x9);
    assert_int_equal(WDF_QUEUE_FATAL_ERROR, 0xA);
    assert_int_equal(WDF_INVALID_LOCK_OPERATION, 0xB);
    assert_int_equal(WDF_PNP_FATAL_ERROR, 0xC);
    assert_int_equal(WDF_POWER_MULTIPLE_PPO, 0xD);
    assert_int_equal(WDF_VERIFIER_IRQL_MISMATCH, 0xE);
    assert_int_equal(WDF_VERIFIER_CRITICAL_REGION_MISMATCH, 0xF);
    assert_int_equal(WDF_API_UNAVAILABLE, 0x10);
    assert_int_equal(WDF_REQUEST_FATAL_ERROR_REQUEST_NOT_IN_QUEUE, 0x5);

    assert_int_equal((ULONG)STATUS_WDF_BUSY, 0xC0200204u);
    assert_int_equal((ULONG)STATUS_WDF_TOO_FRAGMENTED, 0xC020020Au);
    assert_int_equal((ULONG)STATUS_WDF_TOO_MANY_TRANSFERS, 0xC0200213u);
    assert_int_equal((ULONG)STATUS_WDF_NOT_ENOUGH_MAP_REGISTERS, 0xC0200214u);
    assert_int_equal((ULONG)STATUS_WDF_PARENT_NOT_SPECIFIED, 0xC0200212u);
    assert_int_equal((ULONG)STATUS_WDF_QUEUED, 0x40200000u);
    assert_false(NT_SUCCESS(STATUS_WDF_TOO_FRAGMENTED));
}

/*
 * Each _INIT helper is called on a structure full of garbage and must produce exactly the
 * expected bytes, padding included (the WDK's helpers zero the whole structure first).
 */
#define POISON(x) memset(&(x), 0xA5, sizeof(x))
#define ZERO(x) memset(&(x), 0, sizeof(x))
#define assert_same_bytes(a, b) assert_memory_equal(&(a), &(b), sizeof(a))

static void test_init_object_and_driver(void **state)
{
    WDF_OBJECT_ATTRIBUTES attr, expect_attr;
    WDF_DRIVER_CONFIG drv, expect_drv;
    WDF_DRIVER_VERSION_AVAILABLE_PARAMS ver, expect_ver;

    (void)state;
    POISON(attr);
    WDF_OBJECT_ATTRIBUTES_INIT(&attr);
    ZERO(expect_attr);
    expect_attr.Size = sizeof(WDF_OBJECT_ATTRIBUTES);
    expect_attr.ExecutionLevel = WdfExecutionLevelInheritFromParent;
    expect_attr.SynchronizationScope = WdfSynchronizationScopeInheritFromParent;
    assert_same_bytes(attr, expect_attr);

    POISON(attr);
    WDF_OBJECT_ATTRIBUTES_INIT_CONTEXT_TYPE(&attr, HDR_DEVICE_CONTEXT);
    expect_attr.ContextTypeInfo = WDF_GET_CONTEXT_TYPE_INFO(HDR_DEVICE_CONTEXT);
    assert_same_bytes(attr, expect_attr);

    POISON(drv);
    WDF_DRIVER_CONFIG_INIT(&drv, HdrDeviceAdd);
    ZERO(expect_drv);
    expect_drv.Size = sizeof(WDF_DRIVER_CONFIG);
    expect_drv.EvtDriverDeviceAdd = HdrDeviceAdd;
    assert_same_bytes(drv, expect_drv);
    assert_int_equal(drv.EvtDriverDeviceAdd(NULL, NULL), STATUS_SUCCESS);

    POISON(ver);
    WDF_DRIVER_VERSION_AVAILABLE_PARAMS_INIT(&ver, 1, 33);
    ZERO(expect_ver);
    expect_ver.Size = sizeof(expect_ver);
    expect_ver.MajorVersion = 1;
    expect_ver.MinorVersion = 33;
    assert_same_bytes(ver, expect_ver);
}

static void test_init_device(void **state)
{
    WDF_PNPPOWER_EVENT_CALLBACKS pnp, expect_pnp;
    WDF_DEVICE_PNP_CAPABILITIES caps, expect_caps;
    WDF_DEVICE_STATE st, expect_st;
    WDF_FILEOBJECT_CONFIG file;

    (void)state;
    POISON(pnp);
    WDF_PNPPOWER_EVENT_CALLBACKS_INIT(&pnp);
    ZERO(expect_pnp);
    expect_pnp.Size = sizeof(WDF_PNPPOWER_EVENT_CALLBACKS);
    assert_same_bytes(pnp, expect_pnp);

    POISON(caps);
    WDF_DEVICE_PNP_CAPABILITIES_INIT(&caps);
    ZERO(expect_caps);
    expect_caps.Size = sizeof(expect_caps);
    expect_caps.LockSupported = expect_caps.EjectSupported = expect_caps.Removable = WdfUseDefault;
    expect_caps.DockDevice = expect_caps.UniqueID = expect_caps.SilentInstall = WdfUseDefault;
    expect_caps.SurpriseRemovalOK = expect_caps.HardwareDisabled = WdfUseDefault;
    expect_caps.NoDisplayInUI = WdfUseDefault;
    expect_caps.Address = (ULONG)-1;
    expect_caps.UINumber = (ULONG)-1;
    assert_same_bytes(caps, expect_caps);

    POISON(st);
    WDF_DEVICE_STATE_INIT(&st);
    ZERO(expect_st);
    expect_st.Size = sizeof(expect_st);
    expect_st.Disabled = expect_st.DontDisplayInUI = expect_st.Failed = WdfUseDefault;
    expect_st.NotDisableable = expect_st.Removed = expect_st.ResourcesChanged = WdfUseDefault;
    expect_st.AssignedToGuest = WdfUseDefault;
    assert_same_bytes(st, expect_st);

    /* The file-object helper sets fields only (it does not zero the structure). */
    POISON(file);
    WDF_FILEOBJECT_CONFIG_INIT(&file, NULL, NULL, NULL);
    assert_int_equal(file.Size, sizeof(WDF_FILEOBJECT_CONFIG));
    assert_null(file.EvtDeviceFileCreate);
    assert_null(file.EvtFileClose);
    assert_null(file.EvtFileCleanup);
    assert_int_equal(file.FileObjectClass, WdfFileObjectWdfCannotUseFsContexts);
    assert_int_equal(file.AutoForwardCleanupClose, WdfUseDefault);
}

static void test_init_queue_and_request(void **state)
{
    WDF_IO_QUEUE_CONFIG q, expect_q;
    WDF_REQUEST_PARAMETERS p, expect_p;

    (void)state;
    POISON(q);
    WDF_IO_QUEUE_CONFIG_INIT(&q, WdfIoQueueDispatchSequential);
    ZERO(expect_q);
    expect_q.Size = sizeof(WDF_IO_QUEUE_CONFIG);
    expect_q.PowerManaged = WdfUseDefault;
    expect_q.DispatchType = WdfIoQueueDispatchSequential;
    assert_same_bytes(q, expect_q);

    /* Parallel: unlimited presented requests. */
    POISON(q);
    WDF_IO_QUEUE_CONFIG_INIT(&q, WdfIoQueueDispatchParallel);
    expect_q.DispatchType = WdfIoQueueDispatchParallel;
    expect_q.Settings.Parallel.NumberOfPresentedRequests = (ULONG)-1;
    assert_same_bytes(q, expect_q);

    POISON(q);
    WDF_IO_QUEUE_CONFIG_INIT_DEFAULT_QUEUE(&q, WdfIoQueueDispatchParallel);
    expect_q.DefaultQueue = TRUE;
    assert_same_bytes(q, expect_q);

    POISON(q);
    WDF_IO_QUEUE_CONFIG_INIT_DEFAULT_QUEUE(&q, WdfIoQueueDispatchManual);
    expect_q.DispatchType = WdfIoQueueDispatchManual;
    expect_q.Settings.Parallel.NumberOfPresentedRequests = 0;
    assert_same_bytes(q, expect_q);

    POISON(p);
    WDF_REQUEST_PARAMETERS_INIT(&p);
    ZERO(expect_p);
    expect_p.Size = sizeof(WDF_REQUEST_PARAMETERS);
    assert_same_bytes(p, expect_p);
}

static void test_init_interrupt_timer_workitem(void **state)
{
    WDF_INTERRUPT_CONFIG ic, expect_ic;
    WDF_INTERRUPT_INFO ii, expect_ii;
    WDF_TIMER_CONFIG tc, expect_tc;
    WDF_WORKITEM_CONFIG wc, expect_wc;

    (void)state;
    POISON(ic);
    WDF_INTERRUPT_CONFIG_INIT(&ic, HdrIsr, NULL);
    ZERO(expect_ic);
    expect_ic.Size = sizeof(WDF_INTERRUPT_CONFIG);
    expect_ic.ShareVector = WdfUseDefault;
    expect_ic.EvtInterruptIsr = HdrIsr;
    expect_ic.ReportInactiveOnPowerDown = WdfUseDefault;
    assert_same_bytes(ic, expect_ic);
    assert_true(ic.EvtInterruptIsr(NULL, 7));

    POISON(ii);
    WDF_INTERRUPT_INFO_INIT(&ii);
    ZERO(expect_ii);
    expect_ii.Size = sizeof(WDF_INTERRUPT_INFO);
    assert_same_bytes(ii, expect_ii);

    POISON(tc);
    WDF_TIMER_CONFIG_INIT(&tc, NULL);
    ZERO(expect_tc);
    expect_tc.Size = sizeof(WDF_TIMER_CONFIG);
    expect_tc.AutomaticSerialization = TRUE;
    assert_same_bytes(tc, expect_tc);

    POISON(tc);
    WDF_TIMER_CONFIG_INIT_PERIODIC(&tc, NULL, 250);
    expect_tc.Period = 250;
    assert_same_bytes(tc, expect_tc);

    POISON(wc);
    WDF_WORKITEM_CONFIG_INIT(&wc, NULL);
    ZERO(expect_wc);
    expect_wc.Size = sizeof(WDF_WORKITEM_CONFIG);
    expect_wc.AutomaticSerialization = TRUE;
    assert_same_bytes(wc, expect_wc);
}

static void test_init_dma(void **state)
{
    WDF_DMA_ENABLER_CONFIG ec, expect_ec;
    WDF_DMA_SYSTEM_PROFILE_CONFIG sc, expect_sc;
    WDF_COMMON_BUFFER_CONFIG cc, expect_cc;
    CM_PARTIAL_RESOURCE_DESCRIPTOR desc;
    PHYSICAL_ADDRESS fifo;

    (void)state;
    POISON(ec);
    WDF_DMA_ENABLER_CONFIG_INIT(&ec, WdfDmaProfileScatterGather64Duplex, 8192);
    ZERO(expect_ec);
    expect_ec.Size = sizeof(WDF_DMA_ENABLER_CONFIG);
    expect_ec.Profile = WdfDmaProfileScatterGather64Duplex;
    expect_ec.MaximumLength = 8192;
    assert_same_bytes(ec, expect_ec);
    /* Nothing else defaults: no width override, framework's DMA version, no flags. */
    assert_int_equal(ec.AddressWidthOverride, 0);
    assert_int_equal(ec.WdmDmaVersionOverride, 0);
    assert_int_equal(ec.Flags, 0);

    memset(&desc, 0, sizeof(desc));
    fifo.QuadPart = 0x1000040;
    POISON(sc);
    WDF_DMA_SYSTEM_PROFILE_CONFIG_INIT(&sc, fifo, Width16Bits, &desc);
    ZERO(expect_sc);
    expect_sc.Size = sizeof(WDF_DMA_SYSTEM_PROFILE_CONFIG);
    expect_sc.DeviceAddress = fifo;
    expect_sc.DmaWidth = Width16Bits;
    expect_sc.DmaDescriptor = &desc;
    assert_same_bytes(sc, expect_sc);
    assert_false(sc.DemandMode);
    assert_false(sc.LoopedTransfer);

    POISON(cc);
    WDF_COMMON_BUFFER_CONFIG_INIT(&cc, FILE_OCTA_ALIGNMENT);
    ZERO(expect_cc);
    expect_cc.Size = sizeof(WDF_COMMON_BUFFER_CONFIG);
    expect_cc.AlignmentRequirement = 15;
    assert_same_bytes(cc, expect_cc);
}

static void test_init_memory_descriptors(void **state)
{
    WDF_MEMORY_DESCRIPTOR d;
    WDFMEMORY_OFFSET off = { 16, 32 };
    UCHAR buf[8];

    (void)state;
    POISON(d);
    WDF_MEMORY_DESCRIPTOR_INIT_BUFFER(&d, buf, sizeof(buf));
    assert_int_equal(d.Type, WdfMemoryDescriptorTypeBuffer);
    assert_ptr_equal(d.u.BufferType.Buffer, buf);
    assert_int_equal(d.u.BufferType.Length, sizeof(buf));

    POISON(d);
    WDF_MEMORY_DESCRIPTOR_INIT_HANDLE(&d, (WDFMEMORY)(uintptr_t)0x1234, &off);
    assert_int_equal(d.Type, WdfMemoryDescriptorTypeHandle);
    assert_ptr_equal(d.u.HandleType.Memory, (WDFMEMORY)(uintptr_t)0x1234);
    assert_ptr_equal(d.u.HandleType.Offsets, &off);

    POISON(d);
    WDF_MEMORY_DESCRIPTOR_INIT_MDL(&d, NULL, 4096);
    assert_int_equal(d.Type, WdfMemoryDescriptorTypeMdl);
    assert_null(d.u.MdlType.Mdl);
    assert_int_equal(d.u.MdlType.BufferLength, 4096);
}

static void test_core_helpers(void **state)
{
    UCHAR buf[64];

    (void)state;
    assert_int_equal(WDF_REL_TIMEOUT_IN_MS(500), -5000000LL);
    assert_int_equal(WDF_ABS_TIMEOUT_IN_MS(1), 10000LL);
    assert_int_equal(WDF_REL_TIMEOUT_IN_SEC(2), -20000000LL);
    assert_int_equal(WDF_ABS_TIMEOUT_IN_SEC(1), 10000000LL);
    assert_int_equal(WDF_REL_TIMEOUT_IN_US(3), -30LL);
    assert_int_equal(WDF_ABS_TIMEOUT_IN_US(3), 30LL);
    assert_int_equal(WDF_REL_TIMEOUT_IN_MS(0), 0);

    assert_int_equal(WDF_ALIGN_SIZE_UP(0, 16), 0);
    assert_int_equal(WDF_ALIGN_SIZE_UP(1, 16), 16);
    assert_int_equal(WDF_ALIGN_SIZE_UP(16, 16), 16);
    assert_int_equal(WDF_ALIGN_SIZE_UP(4097, 4096), 8192);
    assert_int_equal(WDF_ALIGN_SIZE_DOWN(31, 16), 16);
    assert_int_equal(WDF_ALIGN_SIZE_DOWN(15, 16), 0);

    assert_ptr_equal(WDF_PTR_ADD_OFFSET(buf, 10), &buf[10]);
    assert_ptr_equal(WDF_PTR_ADD_OFFSET_TYPE(buf, 4, PULONG), (PULONG)(void *)&buf[4]);
    assert_int_equal(WDF_PTR_GET_OFFSET(buf, &buf[33]), 33);
}

static void test_queue_state_helpers(void **state)
{
    const WDF_IO_QUEUE_STATE ready = (WDF_IO_QUEUE_STATE)(WdfIoQueueAcceptRequests |
                                                          WdfIoQueueDispatchRequests);
    const WDF_IO_QUEUE_STATE idle = (WDF_IO_QUEUE_STATE)(ready | WdfIoQueueNoRequests |
                                                         WdfIoQueueDriverNoRequests);

    (void)state;
    assert_true(WDF_IO_QUEUE_READY(ready));
    assert_false(WDF_IO_QUEUE_READY((WDF_IO_QUEUE_STATE)(ready | WdfIoQueuePnpHeld)));
    assert_true(WDF_IO_QUEUE_IDLE(idle));
    assert_false(WDF_IO_QUEUE_IDLE(ready));
    assert_true(WDF_IO_QUEUE_STOPPED(
        (WDF_IO_QUEUE_STATE)(WdfIoQueueAcceptRequests | WdfIoQueueDriverNoRequests)));
    assert_false(WDF_IO_QUEUE_STOPPED(idle));
    assert_true(WDF_IO_QUEUE_DRAINED((WDF_IO_QUEUE_STATE)(WdfIoQueueDispatchRequests |
                                                          WdfIoQueueNoRequests |
                                                          WdfIoQueueDriverNoRequests)));
    assert_true(WDF_IO_QUEUE_PURGED(
        (WDF_IO_QUEUE_STATE)(WdfIoQueueNoRequests | WdfIoQueueDriverNoRequests)));
    assert_false(WDF_IO_QUEUE_PURGED(idle));
}

/*
 * A context type declared in a header shared by two translation units has one type
 * record: both units get the same address, and it is its own UniqueType.
 */
static void test_context_type_across_units(void **state)
{
    PCWDF_OBJECT_CONTEXT_TYPE_INFO here = WDF_GET_CONTEXT_TYPE_INFO(HDR_DEVICE_CONTEXT);
    PCWDF_OBJECT_CONTEXT_TYPE_INFO queue = WDF_GET_CONTEXT_TYPE_INFO(HDR_QUEUE_CONTEXT);
    WDF_OBJECT_ATTRIBUTES a1, a2;

    (void)state;
    assert_ptr_equal(here, hdr_tu2_device_context_info());
    assert_ptr_equal(queue, hdr_tu2_queue_context_info());
    assert_ptr_not_equal(here, queue);

    assert_ptr_equal(here->UniqueType, here);
    assert_int_equal(here->Size, sizeof(WDF_OBJECT_CONTEXT_TYPE_INFO));
    assert_int_equal(here->ContextSize, sizeof(HDR_DEVICE_CONTEXT));
    assert_string_equal(here->ContextName, "HDR_DEVICE_CONTEXT");
    assert_null(here->EvtDriverGetUniqueContextType);
    assert_string_equal(queue->ContextName, "HDR_QUEUE_CONTEXT");
    assert_int_equal(queue->ContextSize, sizeof(LONGLONG));

    /* Attributes built in either unit name the same record. */
    WDF_OBJECT_ATTRIBUTES_INIT_CONTEXT_TYPE(&a1, HDR_DEVICE_CONTEXT);
    hdr_tu2_init_attributes(&a2);
    assert_memory_equal(&a1, &a2, sizeof(a1));
    assert_ptr_equal(a1.ContextTypeInfo, here);

    /* The accessor's pointer type is declared by the macro. */
    assert_int_equal(sizeof(*(WDF_POINTER_TYPE_HDR_DEVICE_CONTEXT)NULL), sizeof(HDR_DEVICE_CONTEXT));
    assert_int_equal(sizeof(*(WDF_POINTER_TYPE_HDR_QUEUE_CONTEXT)NULL), sizeof(HDR_QUEUE_CONTEXT));
}

static void test_callback_role_types(void **state)
{
    PFN_WDF_PROGRAM_DMA program = HdrProgramDma;
    EVT_WDF_DEVICE_CONTEXT_CLEANUP *cleanup = HdrDeviceCleanup;
    PFN_WDF_OBJECT_CONTEXT_CLEANUP generic = cleanup;

    (void)state;
    assert_true(program(NULL, NULL, NULL, WdfDmaDirectionWriteToDevice, NULL));
    assert_false(program(NULL, NULL, NULL, WdfDmaDirectionReadFromDevice, NULL));
    generic(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_constants),
        cmocka_unit_test(test_enum_values),
        cmocka_unit_test(test_bugcheck_and_status_codes),
        cmocka_unit_test(test_init_object_and_driver),
        cmocka_unit_test(test_init_device),
        cmocka_unit_test(test_init_queue_and_request),
        cmocka_unit_test(test_init_interrupt_timer_workitem),
        cmocka_unit_test(test_init_dma),
        cmocka_unit_test(test_init_memory_descriptors),
        cmocka_unit_test(test_core_helpers),
        cmocka_unit_test(test_queue_state_helpers),
        cmocka_unit_test(test_context_type_across_units),
        cmocka_unit_test(test_callback_role_types),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
