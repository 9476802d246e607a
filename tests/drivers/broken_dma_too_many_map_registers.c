/* DMA-TOO-MANY-MAP-REGISTERS: the driver sizes a WDM channel request for its largest
 * transfer plus a page of slack for a header (BRK_MAX_TRANSFER / PAGE_SIZE + 2 = 18), without
 * looking at how many map registers IoGetDmaAdapter granted the adapter (one per page of
 * the maximum transfer, plus one for an unaligned start: 17), and asks
 * AllocateAdapterChannel for more than that. Fix: ask at most NumberOfMapRegisters (split
 * the transfer), as the framework does. */
#include <ntddk.h>
#include <wdf.h>

struct _BRK_DEVICE;
static VOID BrkAskChannel(struct _BRK_DEVICE *ext);
#define BRK_DEVICE_ADD_END(ext) BrkAskChannel(ext)
#include "broken_base.h"

#define BRK_ASKED (BRK_MAX_TRANSFER / PAGE_SIZE + 2u)

static IO_ALLOCATION_ACTION BrkExecution(PDEVICE_OBJECT DeviceObject, PIRP Irp,
                                         PVOID MapRegisterBase, PVOID Context)
{
    UNREFERENCED_PARAMETER(DeviceObject);
    UNREFERENCED_PARAMETER(Irp);
    UNREFERENCED_PARAMETER(MapRegisterBase);
    UNREFERENCED_PARAMETER(Context);
    return DeallocateObject;
}

static VOID BrkAskChannel(PBRK_DEVICE ext)
{
    PDMA_ADAPTER adapter = WdfDmaEnablerWdmGetDmaAdapter(ext->Enabler,
                                                         WdfDmaDirectionWriteToDevice);
    KIRQL irql;
    KeRaiseIrql(DISPATCH_LEVEL, &irql);
    (void)adapter->DmaOperations->AllocateAdapterChannel(
        adapter, WdfDeviceWdmGetDeviceObject(ext->Device), BRK_ASKED, BrkExecution, ext);
    KeLowerIrql(irql);
}
