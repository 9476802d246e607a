/*
 * WDFCOMMONBUFFER: memory both the driver and the device use at the same time
 * (descriptor rings, status blocks), allocated through the enabler's adapter so that its
 * logical address is within the device's address width.
 *
 * Alignment (KMDF's FxCommonBuffer::AllocateCommonBuffer): the requirement is a mask
 * (alignment - 1). The HAL gives page-aligned memory, so masks up to PAGE_SIZE - 1 need
 * nothing more; a larger mask over-allocates by the mask, aligns the *logical* address and
 * moves the virtual address by the same offset. WdfCommonBufferCreate uses the enabler's
 * mask: max(WdfDeviceSetAlignmentRequirement, HAL alignment - 1) on scatter/gather
 * profiles, none (page alignment) otherwise.
 */
#include "fx/dma.h"

static fx_common_buffer *buffer_from(WDFCOMMONBUFFER h, const char *ddi)
{
    return (fx_common_buffer *)fx_resolve((WDFOBJECT)h, FX_TYPE_COMMON_BUFFER, ddi);
}

static PDMA_ADAPTER buffer_adapter(fx_dma_enabler *e)
{
    return fx_dma_enabler_description(e, WdfDmaDirectionReadFromDevice)->adapter;
}

static void buffer_dispose(fx_object *o)
{
    fx_common_buffer *b = (fx_common_buffer *)o;
    if (b->raw_va == NULL)
        return;
    PDMA_ADAPTER a = buffer_adapter(b->enabler);
    if (a != NULL)
        a->DmaOperations->FreeCommonBuffer(a, (ULONG)b->raw_length, b->raw_la, b->raw_va, TRUE);
    b->raw_va = b->aligned_va = NULL;
}

static const fx_object_ops buffer_object_ops = {
    .type = FX_TYPE_COMMON_BUFFER,
    .name = "WDFCOMMONBUFFER",
    .dispose = buffer_dispose,
    .driver_deletable = true,
};

static NTSTATUS buffer_allocate(fx_common_buffer *b, size_t length)
{
    PDMA_ADAPTER a = buffer_adapter(b->enabler);
    if (a == NULL)
        return STATUS_INVALID_DEVICE_REQUEST;   /* system enabler not configured yet */
    b->length = length;
    b->raw_length = length;
    if (b->alignment > PAGE_SIZE - 1 && __builtin_add_overflow(length, b->alignment, &b->raw_length))
        return STATUS_INTEGER_OVERFLOW;
    if (b->raw_length > 0xFFFFFFFFu)
        return STATUS_INVALID_PARAMETER;        /* the HAL takes a ULONG length */
    b->raw_va = a->DmaOperations->AllocateCommonBuffer(a, (ULONG)b->raw_length, &b->raw_la, TRUE);
    if (b->raw_va == NULL) {
        b->length = b->raw_length = 0;
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    ULONG64 mask = b->alignment;
    b->aligned_la.QuadPart = (LONGLONG)(((ULONG64)b->raw_la.QuadPart + mask) & ~mask);
    b->aligned_va = (PVOID)(((ULONG_PTR)b->raw_va + mask) & ~(ULONG_PTR)mask);
    if (mask > PAGE_SIZE - 1)
        b->aligned_va = (PUCHAR)b->raw_va + (b->aligned_la.QuadPart - b->raw_la.QuadPart);
    return STATUS_SUCCESS;
}

static NTSTATUS buffer_create(fx_dma_enabler *e, size_t length, ULONG alignment,
                              PWDF_OBJECT_ATTRIBUTES attributes, WDFCOMMONBUFFER *out)
{
    if (attributes != NULL && attributes->ParentObject != NULL)
        return STATUS_WDF_PARENT_ASSIGNMENT_NOT_ALLOWED;   /* the parent is the enabler */
    fx_object *o;
    NTSTATUS status = fx_object_create(&buffer_object_ops, sizeof(fx_common_buffer), attributes,
                                       &e->obj, false, &o);
    if (!NT_SUCCESS(status))
        return status;
    fx_common_buffer *b = (fx_common_buffer *)o;
    b->enabler = e;
    b->alignment = alignment;
    status = buffer_allocate(b, length);
    if (!NT_SUCCESS(status)) {
        fx_object_delete(o);
        return status;
    }
    mach_trace(mach_current(), WDFDMA_TR_FX, o->id, "common-buffer",
               (uint64_t)b->aligned_la.QuadPart, length);
    *out = (WDFCOMMONBUFFER)fx_handle(o);
    return STATUS_SUCCESS;
}

NTSTATUS WdfCommonBufferCreate(WDFDMAENABLER DmaEnabler, size_t Length,
                               PWDF_OBJECT_ATTRIBUTES Attributes, WDFCOMMONBUFFER *CommonBuffer)
{
    static const char ddi[] = "WdfCommonBufferCreate";
    fx_dma_enabler *e = fx_dma_enabler_from_handle(DmaEnabler, ddi);
    fx_check_required(CommonBuffer, ddi, "CommonBuffer");
    *CommonBuffer = NULL;
    if (!fx_check_irql(PASSIVE_LEVEL, ddi))
        return STATUS_INVALID_DEVICE_REQUEST;
    if (Length == 0)
        return STATUS_INVALID_PARAMETER;
    return buffer_create(e, Length, e->common_buffer_alignment, Attributes, CommonBuffer);
}

NTSTATUS WdfCommonBufferCreateWithConfig(WDFDMAENABLER DmaEnabler, size_t Length,
                                         PWDF_COMMON_BUFFER_CONFIG Config,
                                         PWDF_OBJECT_ATTRIBUTES Attributes,
                                         WDFCOMMONBUFFER *CommonBuffer)
{
    static const char ddi[] = "WdfCommonBufferCreateWithConfig";
    fx_dma_enabler *e = fx_dma_enabler_from_handle(DmaEnabler, ddi);
    fx_check_required(Config, ddi, "Config");
    fx_check_required(CommonBuffer, ddi, "CommonBuffer");
    *CommonBuffer = NULL;
    if (!fx_check_irql(PASSIVE_LEVEL, ddi))
        return STATUS_INVALID_DEVICE_REQUEST;
    if (Config->Size != sizeof(WDF_COMMON_BUFFER_CONFIG))
        return STATUS_INFO_LENGTH_MISMATCH;
    if (Length == 0)
        return STATUS_INVALID_PARAMETER;
    return buffer_create(e, Length, Config->AlignmentRequirement, Attributes, CommonBuffer);
}

PVOID WdfCommonBufferGetAlignedVirtualAddress(WDFCOMMONBUFFER CommonBuffer)
{
    (void)fx_check_irql(DISPATCH_LEVEL, "WdfCommonBufferGetAlignedVirtualAddress");   /* verifier: report only */
    return buffer_from(CommonBuffer, "WdfCommonBufferGetAlignedVirtualAddress")->aligned_va;
}

PHYSICAL_ADDRESS WdfCommonBufferGetAlignedLogicalAddress(WDFCOMMONBUFFER CommonBuffer)
{
    (void)fx_check_irql(DISPATCH_LEVEL, "WdfCommonBufferGetAlignedLogicalAddress");   /* verifier: report only */
    return buffer_from(CommonBuffer, "WdfCommonBufferGetAlignedLogicalAddress")->aligned_la;
}

size_t WdfCommonBufferGetLength(WDFCOMMONBUFFER CommonBuffer)
{
    (void)fx_check_irql(DISPATCH_LEVEL, "WdfCommonBufferGetLength");   /* verifier: report only */
    return buffer_from(CommonBuffer, "WdfCommonBufferGetLength")->length;
}
