/* DMA-MAPREG-HELD-AT-END: in EvtProgramDma the driver maps the request's buffer a second
 * time through the WDM adapter (for a "mirror" it never uses) and puts that SG list only
 * after the transaction has ended. Fix: put it before completing the transfer — or do not
 * map the buffer behind the framework's back at all. */
#include <ntddk.h>
#include <wdf.h>

static VOID BrkHoldList(PDEVICE_OBJECT DeviceObject, PIRP Irp, PSCATTER_GATHER_LIST List,
                        PVOID Context);
#define BRK_AFTER_DOORBELL(ext, ch, transaction, direction) BrkMirror((ext), (transaction))
#define BRK_AFTER_FINISH(ext, ch, request) BrkPutMirror(ext)
struct _BRK_DEVICE;
static VOID BrkMirror(struct _BRK_DEVICE *ext, WDFDMATRANSACTION transaction);
static VOID BrkPutMirror(struct _BRK_DEVICE *ext);
#include "broken_base.h"

static VOID BrkHoldList(PDEVICE_OBJECT DeviceObject, PIRP Irp, PSCATTER_GATHER_LIST List,
                        PVOID Context)
{
    UNREFERENCED_PARAMETER(DeviceObject);
    UNREFERENCED_PARAMETER(Irp);
    ((PBRK_DEVICE)Context)->HeldList = List;
}

static VOID BrkMirror(PBRK_DEVICE ext, WDFDMATRANSACTION transaction)
{
    PDMA_ADAPTER adapter = WdfDmaEnablerWdmGetDmaAdapter(ext->Enabler,
                                                         WdfDmaDirectionWriteToDevice);
    PMDL mdl;
    if (ext->HeldList != NULL ||
        !NT_SUCCESS(WdfRequestRetrieveInputWdmMdl(WdfDmaTransactionGetRequest(transaction), &mdl)))
        return;
    (void)adapter->DmaOperations->GetScatterGatherList(
        adapter, WdfDeviceWdmGetDeviceObject(ext->Device), mdl, MmGetMdlVirtualAddress(mdl),
        MmGetMdlByteCount(mdl), BrkHoldList, ext, TRUE);
}

static VOID BrkPutMirror(PBRK_DEVICE ext)
{
    PDMA_ADAPTER adapter = WdfDmaEnablerWdmGetDmaAdapter(ext->Enabler,
                                                         WdfDmaDirectionWriteToDevice);
    KIRQL irql;
    if (ext->HeldList == NULL)
        return;
    KeRaiseIrql(DISPATCH_LEVEL, &irql);
    adapter->DmaOperations->PutScatterGatherList(adapter, ext->HeldList, TRUE);
    KeLowerIrql(irql);
    ext->HeldList = NULL;
}
