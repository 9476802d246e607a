/* DMA-FREED-TWICE: the driver allocates a scratch common buffer through the enabler's WDM
 * adapter, frees it on an error path, then frees it again in its common cleanup. Fix: free
 * each buffer once (clear the pointer after FreeCommonBuffer), or let WdfCommonBufferCreate
 * own it. */
#include <ntddk.h>
#include <wdf.h>

struct _BRK_DEVICE;
static VOID BrkScratch(struct _BRK_DEVICE *ext);
#define BRK_DEVICE_ADD_END(ext) BrkScratch(ext)
#include "broken_base.h"

static VOID BrkScratch(PBRK_DEVICE ext)
{
    PDMA_ADAPTER adapter = WdfDmaEnablerWdmGetDmaAdapter(ext->Enabler,
                                                         WdfDmaDirectionWriteToDevice);
    PHYSICAL_ADDRESS logical;
    PVOID va = adapter->DmaOperations->AllocateCommonBuffer(adapter, PAGE_SIZE, &logical, FALSE);
    if (va == NULL)
        return;
    adapter->DmaOperations->FreeCommonBuffer(adapter, PAGE_SIZE, logical, va, FALSE);
    adapter->DmaOperations->FreeCommonBuffer(adapter, PAGE_SIZE, logical, va, FALSE);
}
