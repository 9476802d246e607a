/*
 * WDFMEMORY basics (wdfmemory.h): a buffer with a handle and a lifetime.
 *
 *   WdfMemoryCreate             the object owns a pool buffer, freed when the object goes
 *   WdfMemoryCreatePreallocated the object wraps the caller's buffer and never frees it;
 *                               WdfMemoryAssignBuffer may point it elsewhere
 *
 * Copies are bounds-checked against the object's buffer: an offset + count beyond it is
 * STATUS_BUFFER_TOO_SMALL (KMDF additionally bug-checks under its verifier; the status is
 * what a driver can observe either way).
 */
#include <string.h>

#include "fx/device.h"
#include "fx/internal.h"

#define MEM_POOL_TAG 'meMF'

typedef struct fx_memory {
    fx_object obj;
    void *buffer;
    size_t size;
    bool owned;                /* WdfMemoryCreate: the object frees the buffer */
    POOL_TYPE pool;
    ULONG tag;
} fx_memory;

static void memory_destroy(fx_object *o)
{
    fx_memory *m = FX_FROM_OBJ(o, fx_memory);
    if (m->owned && m->buffer)
        ExFreePoolWithTag(m->buffer, m->tag);
}

static const fx_object_ops memory_ops = {
    .type = FX_TYPE_MEMORY,
    .name = "WDFMEMORY",
    .destroy = memory_destroy,
    .driver_deletable = true,
};

static fx_memory *from_handle(WDFMEMORY h, const char *ddi)
{
    return FX_FROM_OBJ(fx_resolve(h, FX_TYPE_MEMORY, ddi), fx_memory);
}

static NTSTATUS memory_create(PWDF_OBJECT_ATTRIBUTES a, fx_memory **out)
{
    fx_driver *drv = fx_driver_current();
    fx_object *o;
    NTSTATUS status = fx_object_create(&memory_ops, sizeof(fx_memory), a,
                                       drv ? &drv->obj : NULL, true, &o);
    if (NT_SUCCESS(status))
        *out = FX_FROM_OBJ(o, fx_memory);
    return status;
}

static bool paged(POOL_TYPE t)
{
    return (t & 1) != 0; /* PagedPool and its variants are the odd POOL_TYPE values */
}

NTSTATUS WdfMemoryCreate(PWDF_OBJECT_ATTRIBUTES Attributes, POOL_TYPE PoolType, ULONG PoolTag,
                         size_t BufferSize, WDFMEMORY *Memory, PVOID *Buffer)
{
    fx_check_required(Memory, "WdfMemoryCreate", "Memory");
    *Memory = NULL;
    if (Buffer)
        *Buffer = NULL;
    if (!fx_check_irql(paged(PoolType) ? APC_LEVEL : DISPATCH_LEVEL, "WdfMemoryCreate"))
        return STATUS_INVALID_DEVICE_REQUEST;
    if (BufferSize == 0)
        return STATUS_INVALID_PARAMETER;
    fx_memory *m;
    NTSTATUS status = memory_create(Attributes, &m);
    if (!NT_SUCCESS(status))
        return status;
    m->tag = PoolTag ? PoolTag : MEM_POOL_TAG;
    m->pool = PoolType;
    m->buffer = ExAllocatePool2(paged(PoolType) ? POOL_FLAG_PAGED : POOL_FLAG_NON_PAGED,
                                BufferSize, m->tag);
    if (m->buffer == NULL) {
        fx_object_delete(&m->obj);
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    m->size = BufferSize;
    m->owned = true;
    *Memory = (WDFMEMORY)fx_handle(&m->obj);
    if (Buffer)
        *Buffer = m->buffer;
    return STATUS_SUCCESS;
}

NTSTATUS WdfMemoryCreatePreallocated(PWDF_OBJECT_ATTRIBUTES Attributes, PVOID Buffer,
                                     size_t BufferSize, WDFMEMORY *Memory)
{
    fx_check_required(Buffer, "WdfMemoryCreatePreallocated", "Buffer");
    fx_check_required(Memory, "WdfMemoryCreatePreallocated", "Memory");
    *Memory = NULL;
    if (!fx_check_irql(DISPATCH_LEVEL, "WdfMemoryCreatePreallocated"))
        return STATUS_INVALID_DEVICE_REQUEST;
    if (BufferSize == 0)
        return STATUS_INVALID_PARAMETER;
    fx_memory *m;
    NTSTATUS status = memory_create(Attributes, &m);
    if (!NT_SUCCESS(status))
        return status;
    m->buffer = Buffer;
    m->size = BufferSize;
    *Memory = (WDFMEMORY)fx_handle(&m->obj);
    return STATUS_SUCCESS;
}

NTSTATUS WdfMemoryAssignBuffer(WDFMEMORY Memory, PVOID Buffer, size_t BufferSize)
{
    fx_memory *m = from_handle(Memory, "WdfMemoryAssignBuffer");
    fx_check_required(Buffer, "WdfMemoryAssignBuffer", "Buffer");
    if (!fx_check_irql(DISPATCH_LEVEL, "WdfMemoryAssignBuffer"))
        return STATUS_INVALID_DEVICE_REQUEST;
    if (BufferSize == 0)
        return STATUS_INVALID_PARAMETER;
    if (m->owned)
        return STATUS_INVALID_DEVICE_REQUEST; /* only preallocated memory can be re-pointed */
    m->buffer = Buffer;
    m->size = BufferSize;
    return STATUS_SUCCESS;
}

PVOID WdfMemoryGetBuffer(WDFMEMORY Memory, size_t *BufferSize)
{
    fx_memory *m = from_handle(Memory, "WdfMemoryGetBuffer");
    if (BufferSize)
        *BufferSize = m->size;
    return m->buffer;
}

static bool in_bounds(const fx_memory *m, size_t offset, size_t count)
{
    return offset <= m->size && count <= m->size - offset;
}

NTSTATUS WdfMemoryCopyToBuffer(WDFMEMORY SourceMemory, size_t SourceOffset, PVOID Buffer,
                               size_t NumBytesToCopyTo)
{
    fx_memory *m = from_handle(SourceMemory, "WdfMemoryCopyToBuffer");
    fx_check_required(Buffer, "WdfMemoryCopyToBuffer", "Buffer");
    if (!fx_check_irql(DISPATCH_LEVEL, "WdfMemoryCopyToBuffer"))
        return STATUS_INVALID_DEVICE_REQUEST;
    if (!in_bounds(m, SourceOffset, NumBytesToCopyTo))
        return STATUS_BUFFER_TOO_SMALL;
    memmove(Buffer, (char *)m->buffer + SourceOffset, NumBytesToCopyTo);
    return STATUS_SUCCESS;
}

NTSTATUS WdfMemoryCopyFromBuffer(WDFMEMORY DestinationMemory, size_t DestinationOffset,
                                 PVOID Buffer, size_t NumBytesToCopyFrom)
{
    fx_memory *m = from_handle(DestinationMemory, "WdfMemoryCopyFromBuffer");
    fx_check_required(Buffer, "WdfMemoryCopyFromBuffer", "Buffer");
    if (!fx_check_irql(DISPATCH_LEVEL, "WdfMemoryCopyFromBuffer"))
        return STATUS_INVALID_DEVICE_REQUEST;
    if (!in_bounds(m, DestinationOffset, NumBytesToCopyFrom))
        return STATUS_BUFFER_TOO_SMALL;
    memmove((char *)m->buffer + DestinationOffset, Buffer, NumBytesToCopyFrom);
    return STATUS_SUCCESS;
}
