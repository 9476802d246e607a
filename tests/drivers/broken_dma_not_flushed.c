/* DMA-NOT-FLUSHED: a WDM-style "self test" at device add maps a scratch buffer through the
 * enabler's adapter (AllocateAdapterChannel, MapTransfer), keeps the map registers, and
 * frees them with FreeMapRegisters without calling FlushAdapterBuffers first: a bounced
 * read's data would be lost. Fix: FlushAdapterBuffers for every MapTransfer, then free. */
#include <ntddk.h>
#include <wdf.h>

struct _BRK_DEVICE;
static VOID BrkSelfTest(struct _BRK_DEVICE *ext);
#define BRK_DEVICE_ADD_END(ext) BrkSelfTest(ext)
#include "broken_base.h"

#define BRK_SCRATCH 512u

typedef struct _BRK_SELFTEST {
    PDMA_ADAPTER Adapter;
    PMDL Mdl;
    PVOID MapRegisterBase;
} BRK_SELFTEST, *PBRK_SELFTEST;

static IO_ALLOCATION_ACTION BrkMapScratch(PDEVICE_OBJECT DeviceObject, PIRP Irp,
                                          PVOID MapRegisterBase, PVOID Context)
{
    PBRK_SELFTEST t = (PBRK_SELFTEST)Context;
    ULONG length = BRK_SCRATCH;
    UNREFERENCED_PARAMETER(DeviceObject);
    UNREFERENCED_PARAMETER(Irp);
    t->MapRegisterBase = MapRegisterBase;
    (void)t->Adapter->DmaOperations->MapTransfer(t->Adapter, t->Mdl, MapRegisterBase,
                                                 MmGetMdlVirtualAddress(t->Mdl), &length,
                                                 FALSE);
    return DeallocateObjectKeepRegisters;
}

static VOID BrkSelfTest(PBRK_DEVICE ext)
{
    static BRK_SELFTEST t;
    PVOID buffer = ExAllocatePool2(POOL_FLAG_NON_PAGED, BRK_SCRATCH, 'tseB');
    KIRQL irql;
    if (buffer == NULL)
        return;
    t.Adapter = WdfDmaEnablerWdmGetDmaAdapter(ext->Enabler, WdfDmaDirectionReadFromDevice);
    t.Mdl = IoAllocateMdl(buffer, BRK_SCRATCH, FALSE, FALSE, NULL);
    if (t.Mdl == NULL) {
        ExFreePoolWithTag(buffer, 'tseB');
        return;
    }
    MmBuildMdlForNonPagedPool(t.Mdl);
    KeRaiseIrql(DISPATCH_LEVEL, &irql);
    if (NT_SUCCESS(t.Adapter->DmaOperations->AllocateAdapterChannel(
            t.Adapter, WdfDeviceWdmGetDeviceObject(ext->Device), 1, BrkMapScratch, &t)) &&
        t.MapRegisterBase != NULL) {
        /* Missing: FlushAdapterBuffers(t.Adapter, t.Mdl, base, va, BRK_SCRATCH, FALSE). */
        t.Adapter->DmaOperations->FreeMapRegisters(t.Adapter, t.MapRegisterBase, 1);
    }
    KeLowerIrql(irql);
    IoFreeMdl(t.Mdl);
    ExFreePoolWithTag(buffer, 'tseB');
}
