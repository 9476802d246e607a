/*
 * Hardware resource lists (wdfresource.h): the raw and translated CM_RESOURCE_LISTs handed
 * to EvtDevicePrepareHardware, built from the device model's declared resources in
 * declaration order, and the WDFCMRESLIST objects that wrap them.
 *
 * Model resource          raw descriptor                       translated descriptor
 * ---------------------   ----------------------------------   ------------------------------
 * MMIO region             Memory {Start, Length}               the same (no bus translation)
 * line interrupt          Interrupt {Level = Vector = vector}  Interrupt {Level = DIRQL,
 *                         Flags LEVEL_SENSITIVE or LATCHED     Vector = vector}
 * MSI, N messages         N x Interrupt, Flags LATCHED|MESSAGE N x MessageInterrupt.Translated
 *                         MessageInterrupt.Raw {MessageCount    {Level = DIRQL,
 *                         = N, Vector = vector + i}             Vector = vector + i}
 * system DMA request line Dma {Channel, Port = request line}   the same
 *
 * Shared lines are CmResourceShareShared, everything else DeviceExclusive. Affinity is
 * every processor of the machine. One full descriptor (bus type PCIBus, bus 0) holds all.
 */
#include <string.h>

#include "fx/device.h"
#include "fx/internal.h"

#define RES_POOL_TAG 'seRF'

typedef struct fx_cmreslist {
    fx_object obj;
    CM_PARTIAL_RESOURCE_LIST *list;    /* inside the device's CM_RESOURCE_LIST */
} fx_cmreslist;

static const fx_object_ops cmreslist_ops = {
    .type = FX_TYPE_CMRESLIST,
    .name = "WDFCMRESLIST",
    .driver_deletable = false,
};

static unsigned descriptor_count(wdfdma_dev *hw)
{
    unsigned n = 0;
    for (unsigned i = 0; i < wdfdma_dev_resource_count(hw); i++) {
        const wdfdma_resource *r = wdfdma_dev_resource(hw, i);
        n += r->type == WDFDMA_RES_IRQ && (r->flags & WDFDMA_IRQ_MSI) ? r->count : 1;
    }
    return n;
}

static KAFFINITY all_processors(void)
{
    unsigned n = mach_cpu_count(mach_current());
    return n >= 64 ? ~(KAFFINITY)0 : ((KAFFINITY)1 << n) - 1;
}

static void fill_irq(const wdfdma_resource *r, unsigned message, bool translated,
                     CM_PARTIAL_RESOURCE_DESCRIPTOR *d)
{
    bool msi = r->flags & WDFDMA_IRQ_MSI;
    d->Type = CmResourceTypeInterrupt;
    d->ShareDisposition = (r->flags & WDFDMA_IRQ_SHARED) ? CmResourceShareShared
                                                         : CmResourceShareDeviceExclusive;
    if (msi)
        d->Flags = CM_RESOURCE_INTERRUPT_LATCHED | CM_RESOURCE_INTERRUPT_MESSAGE;
    else
        d->Flags = (r->flags & WDFDMA_IRQ_EDGE) ? CM_RESOURCE_INTERRUPT_LATCHED
                                                : CM_RESOURCE_INTERRUPT_LEVEL_SENSITIVE;
    uint32_t vector = r->vector + message;
    if (msi && !translated) {
        d->u.MessageInterrupt.Raw.MessageCount = (USHORT)r->count;
        d->u.MessageInterrupt.Raw.Vector = vector;
        d->u.MessageInterrupt.Raw.Affinity = all_processors();
        return;
    }
    d->u.Interrupt.Level = (USHORT)(translated ? r->level : vector);
    d->u.Interrupt.Vector = vector;
    d->u.Interrupt.Affinity = all_processors();
}

static void fill_other(const wdfdma_resource *r, CM_PARTIAL_RESOURCE_DESCRIPTOR *d)
{
    d->ShareDisposition = CmResourceShareDeviceExclusive;
    if (r->type == WDFDMA_RES_MMIO) {
        d->Type = CmResourceTypeMemory;
        d->Flags = CM_RESOURCE_MEMORY_READ_WRITE;
        d->u.Memory.Start.QuadPart = (LONGLONG)r->start;
        d->u.Memory.Length = (ULONG)r->length;
    } else {
        d->Type = CmResourceTypeDma;
        d->Flags = CM_RESOURCE_DMA_32;
        d->u.Dma.Channel = r->dma_channel;
        d->u.Dma.Port = r->dma_request_line;
    }
}

static CM_RESOURCE_LIST *build_list(wdfdma_dev *hw, bool translated)
{
    unsigned n = descriptor_count(hw);
    size_t bytes = sizeof(CM_RESOURCE_LIST) +
                   (n ? n - 1 : 0) * sizeof(CM_PARTIAL_RESOURCE_DESCRIPTOR);
    CM_RESOURCE_LIST *l = ExAllocatePool2(POOL_FLAG_NON_PAGED, bytes, RES_POOL_TAG);
    if (l == NULL)
        return NULL;
    l->Count = 1;
    l->List[0].InterfaceType = PCIBus;
    l->List[0].BusNumber = 0;
    l->List[0].PartialResourceList.Version = 1;
    l->List[0].PartialResourceList.Revision = 1;
    l->List[0].PartialResourceList.Count = n;
    CM_PARTIAL_RESOURCE_DESCRIPTOR *d = l->List[0].PartialResourceList.PartialDescriptors;
    for (unsigned i = 0; i < wdfdma_dev_resource_count(hw); i++) {
        const wdfdma_resource *r = wdfdma_dev_resource(hw, i);
        if (r->type == WDFDMA_RES_IRQ) {
            unsigned messages = (r->flags & WDFDMA_IRQ_MSI) ? r->count : 1;
            for (unsigned m = 0; m < messages; m++)
                fill_irq(r, (r->flags & WDFDMA_IRQ_MSI) ? m : 0, translated, d++);
        } else {
            fill_other(r, d++);
        }
    }
    return l;
}

static NTSTATUS wrap(fx_device *dev, CM_RESOURCE_LIST *l, WDFCMRESLIST *out)
{
    fx_object *o;
    NTSTATUS status = fx_object_create(&cmreslist_ops, sizeof(fx_cmreslist), NULL, &dev->obj,
                                       false, &o);
    if (!NT_SUCCESS(status))
        return status;
    FX_FROM_OBJ(o, fx_cmreslist)->list = &l->List[0].PartialResourceList;
    *out = (WDFCMRESLIST)fx_handle(o);
    return STATUS_SUCCESS;
}

NTSTATUS fx_resources_build(fx_device *dev)
{
    if (dev->raw_handle != NULL)
        return STATUS_SUCCESS;
    dev->raw = build_list(dev->hardware, false);
    dev->translated = build_list(dev->hardware, true);
    if (dev->raw == NULL || dev->translated == NULL)
        return STATUS_INSUFFICIENT_RESOURCES; /* device_destroy frees what was built */
    NTSTATUS status = wrap(dev, dev->raw, &dev->raw_handle);
    if (NT_SUCCESS(status))
        status = wrap(dev, dev->translated, &dev->translated_handle);
    if (!NT_SUCCESS(status) && dev->raw_handle != NULL) {
        fx_object_delete(fx_lookup(dev->raw_handle, FX_TYPE_CMRESLIST));
        dev->raw_handle = NULL;
    }
    return status;
}

void fx_resources_free(fx_device *dev)
{
    if (dev->raw)
        ExFreePoolWithTag(dev->raw, RES_POOL_TAG);
    if (dev->translated)
        ExFreePoolWithTag(dev->translated, RES_POOL_TAG);
    dev->raw = dev->translated = NULL;
}

const wdfdma_resource *fx_resources_irq_for_vector(fx_device *dev, uint32_t vector,
                                                   ULONG *message)
{
    for (unsigned i = 0; i < wdfdma_dev_resource_count(dev->hardware); i++) {
        const wdfdma_resource *r = wdfdma_dev_resource(dev->hardware, i);
        if (r->type != WDFDMA_RES_IRQ || vector < r->vector || vector - r->vector >= r->count)
            continue;
        *message = (r->flags & WDFDMA_IRQ_MSI) ? vector - r->vector : 0;
        return r;
    }
    return NULL;
}

/* ---- DDIs ---------------------------------------------------------------------------- */
ULONG WdfCmResourceListGetCount(WDFCMRESLIST List)
{
    fx_cmreslist *l = FX_FROM_OBJ(fx_resolve(List, FX_TYPE_CMRESLIST, "WdfCmResourceListGetCount"),
                                  fx_cmreslist);
    return l->list->Count;
}

PCM_PARTIAL_RESOURCE_DESCRIPTOR WdfCmResourceListGetDescriptor(WDFCMRESLIST List, ULONG Index)
{
    fx_cmreslist *l = FX_FROM_OBJ(
        fx_resolve(List, FX_TYPE_CMRESLIST, "WdfCmResourceListGetDescriptor"), fx_cmreslist);
    return Index < l->list->Count ? &l->list->PartialDescriptors[Index] : NULL;
}
