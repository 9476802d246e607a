/*
 * Scatter/gather lists (bus-master adapters): Get/Build(Ex), Put, and the size questions
 * CalculateScatterGatherList and GetDmaTransferInfo.
 *
 * An SG list's buffer is [dma_sg header][SCATTER_GATHER_LIST][elements...]: Build* uses
 * the caller's buffer (no allocation on the transfer path), Get* allocates one from the
 * pool (counted in the pool statistics and the DMA statistics). The header carries the
 * queued request, so a list that waits for map registers needs no other memory, and
 * SCATTER_GATHER_LIST.Reserved points back at it so PutScatterGatherList can tell a list
 * of ours from anything else.
 *
 *            map registers granted                 PutScatterGatherList
 *   QUEUED ------------------------> LIVE -------------------------------> gone
 *     |   (pages mapped, bounced         (callback ran: DISPATCH_LEVEL;     (bounced reads
 *     |    writes copied now)             the driver programs the device)   copied back,
 *     | CancelAdapterChannel (Ex)                                            registers freed)
 *     v
 *   gone (callback never runs)
 *
 * One map register per page spanned: a list needs exactly the registers its pages span,
 * so a list that spans more pages than the adapter has fails with
 * STATUS_INSUFFICIENT_RESOURCES, as Windows does.
 */
#include <string.h>

#include "wdm/dma_internal.h"

/* ---- building -------------------------------------------------------------------------- */
static void append(PSCATTER_GATHER_LIST list, uint64_t logical, ULONG length)
{
    ULONG n = list->NumberOfElements;
    if (n > 0) {
        SCATTER_GATHER_ELEMENT *last = &list->Elements[n - 1];
        uint64_t end = (uint64_t)last->Address.QuadPart + last->Length;
        if (end == logical && last->Length <= 0xFFFFFFFFu - length) {
            last->Length += length;
            return;
        }
    }
    list->Elements[n].Address.QuadPart = (LONGLONG)logical;
    list->Elements[n].Length = length;
    list->Elements[n].Reserved = 0;
    list->NumberOfElements = n + 1;
}

/* Map every page of the list through its run. Returns the number of elements. */
static ULONG build(dma_adapter *a, dma_sg *sg)
{
    PSCATTER_GATHER_LIST list = dma_sg_list(sg);
    dma_walk w = {.mdl = sg->mdl, .offset = sg->offset, .left = sg->length};
    dma_piece p;
    list->NumberOfElements = 0;
    list->Reserved = (ULONG_PTR)sg;
    KIRQL old = wdm_dma_lock(a);
    while (wdm_dma_walk_next(&w, &p)) {
        uint64_t la = 0;
        /* The run has one register per page: it cannot run out. */
        wdm_dma_map_piece(a, sg->base, &p, sg->write, &la);
        append(list, la, p.length);
    }
    a->sg_live++;
    wdm_dma_unlock(a, old);
    return list->NumberOfElements;
}

void wdm_dma_sg_granted(dma_adapter *a, dma_sg *sg)
{
    ULONG n = build(a, sg);
    dma_machine *dm = a->dm;
    wdm_dma_count(dm, &dm->sg_built, 1);
    wdm_dma_count(dm, &dm->sg_live, 1);
    wdm_dma_count(dm, &dm->sg_elements_total, n);
    wdm_dma_stat_max(&dm->sg_elements_max, n);
    mach_trace(a->m, WDFDMA_TR_FLOW, a->id, "hal.sg.build", sg->length, n);

    PSCATTER_GATHER_LIST list = dma_sg_list(sg);
    if (sg->out != NULL)
        *sg->out = list;
    if (sg->routine == NULL)   /* DMA_SYNCHRONOUS_CALLBACK without a routine */
        return;
    /* The routine may put the list (and a Get* list is freed then): read it all first. */
    PDRIVER_LIST_CONTROL routine = sg->routine;
    PDEVICE_OBJECT device = sg->wait.device;
    PVOID context = sg->wait.context;
    KIRQL old = mach_irql();
    if (old < DISPATCH_LEVEL)
        mach_irql_raise(DISPATCH_LEVEL);
    mach_callback_enter("AdapterListControl", a->id);
    routine(device, NULL, list, context);
    mach_callback_exit("AdapterListControl", a->id);
    if (old < DISPATCH_LEVEL)
        mach_irql_lower(old);
}

static void sg_release(dma_sg *sg)
{
    sg->magic = 0;
    if (sg->allocated)
        ExFreePoolWithTag(sg, WDM_DMA_POOL_TAG);
}

void wdm_dma_sg_cancelled(dma_adapter *a, dma_sg *sg)
{
    (void)a;
    sg_release(sg);
}

/* ---- the four entry points share this -------------------------------------------------- */
typedef struct sg_args {
    PDEVICE_OBJECT device;
    dma_xfer *xfer;                     /* Ex: the transfer context */
    PMDL mdl;
    ULONGLONG offset;
    ULONG length;
    ULONG flags;
    PDRIVER_LIST_CONTROL routine;
    PVOID context;
    bool write;
    PVOID buffer;                       /* Build*: the caller's buffer */
    ULONG buffer_length;
    PSCATTER_GATHER_LIST *out;
} sg_args;

static NTSTATUS check_ex(dma_adapter *a, const sg_args *g, PDMA_COMPLETION_ROUTINE completion)
{
    bool sync = (g->flags & DMA_SYNCHRONOUS_CALLBACK) != 0;
    if (g->xfer == NULL || g->xfer->magic != DMA_XFER_MAGIC || completion != NULL)
        return STATUS_INVALID_PARAMETER;
    if ((g->flags & ~(ULONG)(DMA_SYNCHRONOUS_CALLBACK | DMA_ZERO_BUFFERS)) != 0)
        return STATUS_INVALID_PARAMETER;
    if (g->routine == NULL && (!sync || g->out == NULL))
        return STATUS_INVALID_PARAMETER;
    if (wdm_dma_is_queued(a, g->xfer->pending))
        return STATUS_INVALID_PARAMETER;   /* one request per transfer context */
    return STATUS_SUCCESS;
}

static NTSTATUS sg_request(dma_adapter *a, const sg_args *g, bool allocate)
{
    if (!a->master)
        return STATUS_NOT_SUPPORTED;   /* system DMA maps with MapTransferEx */
    if (g->mdl == NULL || g->length == 0 || (g->routine == NULL && g->xfer == NULL))
        return STATUS_INVALID_PARAMETER;
    dma_walk w;
    NTSTATUS status = wdm_dma_walk_init(&w, g->mdl, g->offset, g->length);
    if (!NT_SUCCESS(status))
        return status;
    ULONG pages = wdm_dma_walk_pages(w);
    if (pages > a->nregs)
        return STATUS_INSUFFICIENT_RESOURCES;
    ULONG size = dma_sg_buffer_size(pages);
    dma_sg *sg;
    if (allocate) {
        sg = ExAllocatePool2(POOL_FLAG_NON_PAGED, size, WDM_DMA_POOL_TAG);
        if (sg == NULL)
            return STATUS_INSUFFICIENT_RESOURCES;
        wdm_dma_count(a->dm, &a->dm->sg_allocated, 1);
    } else {
        if (g->buffer == NULL || ((uintptr_t)g->buffer & (sizeof(void *) - 1)) != 0)
            return STATUS_INVALID_PARAMETER;
        if (g->buffer_length < size)
            return STATUS_BUFFER_TOO_SMALL;
        sg = g->buffer;
    }
    memset(sg, 0, sizeof(*sg));
    sg->magic = DMA_SG_MAGIC;
    sg->allocated = allocate;
    sg->write = g->write;
    sg->adapter = a;
    sg->mdl = w.mdl;
    sg->offset = w.offset;
    sg->length = g->length;
    sg->routine = g->routine;
    sg->out = g->out;
    sg->pages = pages;
    sg->wait.kind = DMA_WAIT_SGLIST;
    sg->wait.count = pages;
    sg->wait.device = g->device;
    sg->wait.context = g->context;
    sg->wait.xfer = g->xfer;
    if (g->xfer != NULL) {
        g->xfer->adapter = a;
        g->xfer->pending = &sg->wait;
    }
    bool sync = (g->flags & DMA_SYNCHRONOUS_CALLBACK) != 0;
    status = wdm_dma_request(a, &sg->wait, sync, NULL);
    if (!NT_SUCCESS(status)) {
        if (g->xfer != NULL)
            g->xfer->pending = NULL;
        sg_release(sg);
    }
    return status;
}

static NTSTATUS va_offset(PMDL mdl, PVOID current, ULONGLONG *offset)
{
    if (mdl == NULL)
        return STATUS_INVALID_PARAMETER;
    const char *start = MmGetMdlVirtualAddress(mdl);
    if ((const char *)current < start)
        return STATUS_INVALID_PARAMETER;
    *offset = (ULONGLONG)((const char *)current - start);
    return STATUS_SUCCESS;
}

NTSTATUS wdm_dma_get_scatter_gather_list(PDMA_ADAPTER DmaAdapter, PDEVICE_OBJECT DeviceObject,
                                         PMDL Mdl, PVOID CurrentVa, ULONG Length,
                                         PDRIVER_LIST_CONTROL ExecutionRoutine, PVOID Context,
                                         BOOLEAN WriteToDevice)
{
    dma_adapter *a = wdm_dma_adapter(DmaAdapter, "GetScatterGatherList");
    wdm_check_irql_max(DISPATCH_LEVEL, "GetScatterGatherList");
    sg_args g = {.device = DeviceObject, .mdl = Mdl, .length = Length,
                 .routine = ExecutionRoutine, .context = Context, .write = WriteToDevice != FALSE};
    NTSTATUS status = va_offset(Mdl, CurrentVa, &g.offset);
    if (!NT_SUCCESS(status) || ExecutionRoutine == NULL)
        return STATUS_INVALID_PARAMETER;
    return sg_request(a, &g, true);
}

NTSTATUS wdm_dma_build_scatter_gather_list(PDMA_ADAPTER DmaAdapter, PDEVICE_OBJECT DeviceObject,
                                           PMDL Mdl, PVOID CurrentVa, ULONG Length,
                                           PDRIVER_LIST_CONTROL ExecutionRoutine, PVOID Context,
                                           BOOLEAN WriteToDevice, PVOID ScatterGatherBuffer,
                                           ULONG ScatterGatherLength)
{
    dma_adapter *a = wdm_dma_adapter(DmaAdapter, "BuildScatterGatherList");
    wdm_check_irql_max(DISPATCH_LEVEL, "BuildScatterGatherList");
    sg_args g = {.device = DeviceObject, .mdl = Mdl, .length = Length,
                 .routine = ExecutionRoutine, .context = Context, .write = WriteToDevice != FALSE,
                 .buffer = ScatterGatherBuffer, .buffer_length = ScatterGatherLength};
    NTSTATUS status = va_offset(Mdl, CurrentVa, &g.offset);
    if (!NT_SUCCESS(status) || ExecutionRoutine == NULL)
        return STATUS_INVALID_PARAMETER;
    return sg_request(a, &g, false);
}

NTSTATUS wdm_dma_get_scatter_gather_list_ex(
    PDMA_ADAPTER DmaAdapter, PDEVICE_OBJECT DeviceObject, PVOID DmaTransferContext, PMDL Mdl,
    ULONGLONG Offset, ULONG Length, ULONG Flags, PDRIVER_LIST_CONTROL ExecutionRoutine,
    PVOID Context, BOOLEAN WriteToDevice, PDMA_COMPLETION_ROUTINE DmaCompletionRoutine,
    PVOID CompletionContext, PSCATTER_GATHER_LIST *ScatterGatherList)
{
    dma_adapter *a = wdm_dma_adapter(DmaAdapter, "GetScatterGatherListEx");
    wdm_check_irql_max(DISPATCH_LEVEL, "GetScatterGatherListEx");
    (void)CompletionContext;
    sg_args g = {.device = DeviceObject, .xfer = DmaTransferContext, .mdl = Mdl,
                 .offset = Offset, .length = Length, .flags = Flags,
                 .routine = ExecutionRoutine, .context = Context, .write = WriteToDevice != FALSE,
                 .out = ScatterGatherList};
    NTSTATUS status = check_ex(a, &g, DmaCompletionRoutine);
    return NT_SUCCESS(status) ? sg_request(a, &g, true) : status;
}

NTSTATUS wdm_dma_build_scatter_gather_list_ex(
    PDMA_ADAPTER DmaAdapter, PDEVICE_OBJECT DeviceObject, PVOID DmaTransferContext, PMDL Mdl,
    ULONGLONG Offset, ULONG Length, ULONG Flags, PDRIVER_LIST_CONTROL ExecutionRoutine,
    PVOID Context, BOOLEAN WriteToDevice, PVOID ScatterGatherBuffer, ULONG ScatterGatherLength,
    PDMA_COMPLETION_ROUTINE DmaCompletionRoutine, PVOID CompletionContext,
    PVOID ScatterGatherList)
{
    dma_adapter *a = wdm_dma_adapter(DmaAdapter, "BuildScatterGatherListEx");
    wdm_check_irql_max(DISPATCH_LEVEL, "BuildScatterGatherListEx");
    (void)CompletionContext;
    sg_args g = {.device = DeviceObject, .xfer = DmaTransferContext, .mdl = Mdl,
                 .offset = Offset, .length = Length, .flags = Flags,
                 .routine = ExecutionRoutine, .context = Context, .write = WriteToDevice != FALSE,
                 .buffer = ScatterGatherBuffer, .buffer_length = ScatterGatherLength,
                 .out = ScatterGatherList};
    NTSTATUS status = check_ex(a, &g, DmaCompletionRoutine);
    return NT_SUCCESS(status) ? sg_request(a, &g, false) : status;
}

/* ---- PutScatterGatherList -------------------------------------------------------------- */
static dma_sg *sg_of(dma_adapter *a, PSCATTER_GATHER_LIST list)
{
    /* Read only the list itself until it proves to have our header in front of it. */
    if (list == NULL)
        return NULL;
    dma_sg *sg = ((dma_sg *)(void *)list) - 1;
    if (list->Reserved != (ULONG_PTR)sg || sg->magic != DMA_SG_MAGIC || sg->adapter != a ||
        sg->wait.state != DMA_REQ_GRANTED)
        return NULL;
    return sg;
}

VOID wdm_dma_put_scatter_gather_list(PDMA_ADAPTER DmaAdapter, PSCATTER_GATHER_LIST ScatterGather,
                                     BOOLEAN WriteToDevice)
{
    dma_adapter *a = wdm_dma_adapter(DmaAdapter, "PutScatterGatherList");
    wdm_check_irql_max(DISPATCH_LEVEL, "PutScatterGatherList");
    KIRQL old = wdm_dma_lock(a);
    dma_sg *sg = sg_of(a, ScatterGather);
    if (sg == NULL) {
        ULONG live = a->sg_live;
        wdm_dma_unlock(a, old);
        wdm_dma_bugcheck(DMA_BC_SG_LIST_FREE, live, (uint64_t)(uintptr_t)ScatterGather, a->id,
                         "PutScatterGatherList: %p is not a live SG list of adapter %u (put "
                         "twice?)", (void *)ScatterGather, a->id);
    }
    if (sg->write != (WriteToDevice != FALSE))
        mach_report(a->m, "PutScatterGatherList", "adapter %u: list built for %s put as %s; "
                    "using the build direction", a->id, sg->write ? "write" : "read",
                    WriteToDevice ? "write" : "read");
    /* ReadFromDevice: bounced pages go back to the buffer now. */
    wdm_dma_unmap_run(a, sg->base, sg->write, NULL);
    wdm_dma_free_run(a, sg->base);
    a->sg_live--;
    sg->magic = 0;
    wdm_dma_unlock(a, old);
    wdm_dma_count(a->dm, &a->dm->sg_live, (uint64_t)0 - 1);
    mach_trace(a->m, WDFDMA_TR_FLOW, a->id, "hal.sg.put", sg->length, sg->write);
    sg_release(sg);
    wdm_dma_dispatch(a);
}

/* ---- how big, how many ----------------------------------------------------------------- */
NTSTATUS wdm_dma_calculate_scatter_gather_list(PDMA_ADAPTER DmaAdapter, PMDL Mdl,
                                               PVOID CurrentVa, ULONG Length,
                                               PULONG ScatterGatherListSize,
                                               PULONG pNumberOfMapRegisters)
{
    (void)wdm_dma_adapter(DmaAdapter, "CalculateScatterGatherList");
    wdm_check_irql_max(DISPATCH_LEVEL, "CalculateScatterGatherList");
    if (ScatterGatherListSize == NULL || Length == 0)
        return STATUS_INVALID_PARAMETER;
    ULONG pages;
    if (Mdl == NULL) {
        /* No MDL: the pages (CurrentVa, Length) spans, one element each at worst. */
        pages = (ULONG)ADDRESS_AND_SIZE_TO_SPAN_PAGES(CurrentVa, Length);
    } else {
        ULONGLONG offset;
        dma_walk w;
        NTSTATUS status = va_offset(Mdl, CurrentVa, &offset);
        if (NT_SUCCESS(status))
            status = wdm_dma_walk_init(&w, Mdl, offset, Length);
        if (!NT_SUCCESS(status))
            return status;
        pages = wdm_dma_walk_pages(w);
    }
    *ScatterGatherListSize = dma_sg_buffer_size(pages);
    if (pNumberOfMapRegisters != NULL)
        *pNumberOfMapRegisters = pages;
    return STATUS_SUCCESS;
}

/* Elements a build of this walk will produce: the same coalescing rule as append()
 * (reachable frames that follow each other; bounced pages that fill whole pages, which
 * consecutive map registers keep contiguous). */
static ULONG count_elements(const dma_adapter *a, dma_walk w)
{
    dma_piece p, prev = {0};
    bool prev_bounced = false;
    ULONG elements = 0;
    while (wdm_dma_walk_next(&w, &p)) {
        bool bounced = wdm_dma_needs_bounce(a, p.phys, p.length);
        bool joins = false;
        if (elements != 0 && bounced && prev_bounced)
            joins = ((prev.phys + prev.length) & (PAGE_SIZE - 1)) == 0 &&
                    (p.phys & (PAGE_SIZE - 1)) == 0;
        else if (elements != 0 && !bounced && !prev_bounced)
            joins = prev.phys + prev.length == p.phys;
        if (!joins)
            elements++;
        prev = p;
        prev_bounced = bounced;
    }
    return elements;
}

NTSTATUS wdm_dma_get_dma_transfer_info(PDMA_ADAPTER DmaAdapter, PMDL Mdl, ULONGLONG Offset,
                                       ULONG Length, BOOLEAN WriteOnly,
                                       PDMA_TRANSFER_INFO TransferInfo)
{
    dma_adapter *a = wdm_dma_adapter(DmaAdapter, "GetDmaTransferInfo");
    wdm_check_irql_max(DISPATCH_LEVEL, "GetDmaTransferInfo");
    (void)WriteOnly;
    if (Mdl == NULL || TransferInfo == NULL || Length == 0)
        return STATUS_INVALID_PARAMETER;
    if (TransferInfo->Version != DMA_TRANSFER_INFO_VERSION1 &&
        TransferInfo->Version != DMA_TRANSFER_INFO_VERSION2)
        return STATUS_NOT_SUPPORTED;
    dma_walk w;
    NTSTATUS status = wdm_dma_walk_init(&w, Mdl, Offset, Length);
    if (!NT_SUCCESS(status))
        return status;
    ULONG pages = wdm_dma_walk_pages(w);
    ULONG elements = count_elements(a, w);
    if (TransferInfo->Version == DMA_TRANSFER_INFO_VERSION2) {
        TransferInfo->V2.MapRegisterCount = pages;
        TransferInfo->V2.ScatterGatherElementCount = elements;
        TransferInfo->V2.ScatterGatherListSize = dma_sg_buffer_size(pages);
        TransferInfo->V2.LogicalPageCount = pages;
    } else {
        TransferInfo->V1.MapRegisterCount = pages;
        TransferInfo->V1.ScatterGatherElementCount = elements;
        TransferInfo->V1.ScatterGatherListSize = dma_sg_buffer_size(pages);
    }
    return STATUS_SUCCESS;
}
