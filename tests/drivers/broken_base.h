/*
 * The skeleton of the deliberately broken drivers (tests/drivers/broken_<rule>.c): a
 * small, correct KMDF driver for the sgdma device (devices/sgdma/sgdma.h is its data
 * sheet), written with WDK names and DDIs only. Writes go to channel 0 (to the device),
 * reads come from channel 1, each through one reused WDFDMATRANSACTION (ScatterGather64),
 * descriptors in a per-channel common-buffer ring, completion by interrupt + DPC.
 *
 * A broken driver defines some of the BRK_* hooks below before including this file; each
 * hook is one deliberate mistake. Undefined hooks do the right thing, so the file alone
 * is a clean driver (test_verifier runs it as the control).
 */
#ifndef BROKEN_BASE_H
#define BROKEN_BASE_H

#include <ntddk.h>
#include <wdf.h>

#define BRK_BAR0_LENGTH 0x1000u
#define BRK_REG_INT_STATUS 0x010u
#define BRK_REG_INT_MASK 0x014u
#define BRK_CH_BASE(ch) (0x100u + (ch) * 0x40u)
#define BRK_CH_DESC_LO 0x00u
#define BRK_CH_DESC_HI 0x04u
#define BRK_CH_CTRL 0x08u
#define BRK_CTRL_START 0x01u
#define BRK_CTRL_DESC64 0x04u
#define BRK_CTRL_IE 0x08u
#define BRK_INT_DONE(ch) (1u << (ch))
#define BRK_INT_ERROR(ch) (1u << (8u + (ch)))
#define BRK_INT_ALL 0x303u
#define BRK_DESC_LAST 0x1u
#define BRK_DESC_INTERRUPT 0x2u
#define BRK_DESC_FROM_DEVICE 0x4u
#define BRK_MAX_TRANSFER (64u * 1024u)
#ifndef BRK_RING_BYTES
#define BRK_RING_BYTES 4096u
#endif

typedef struct _BRK_DESC64 {
    ULONG64 HostAddress;
    ULONG64 Next;
    ULONG Length;
    ULONG DeviceOffset;
    ULONG Flags;
    ULONG Status;
} BRK_DESC64, *PBRK_DESC64;

typedef struct _BRK_CHANNEL {
    ULONG Index;
    WDFDMATRANSACTION Transaction;
    WDFCOMMONBUFFER Ring;
    PBRK_DESC64 RingVa;
    PHYSICAL_ADDRESS RingLa;
    BOOLEAN Busy;
} BRK_CHANNEL, *PBRK_CHANNEL;

typedef struct _BRK_DEVICE {
    WDFDEVICE Device;
    PUCHAR Registers;
    ULONG RegistersLength;
    WDFINTERRUPT Interrupt;
    WDFDMAENABLER Enabler;
    BRK_CHANNEL Channel[2];
    ULONG SavedIntStatus;
    PSCATTER_GATHER_LIST HeldList;          /* scratch for the broken variants */
} BRK_DEVICE, *PBRK_DEVICE;

WDF_DECLARE_CONTEXT_TYPE_WITH_NAME(BRK_DEVICE, BrkGetDevice);

/* ---- the hooks: each broken driver defines the one it breaks ---------------------------- */
#ifndef BRK_DEVICE_ADD_END                  /* end of EvtDriverDeviceAdd (PASSIVE) */
#define BRK_DEVICE_ADD_END(ext) ((void)(ext))
#endif
#ifndef BRK_DESC_ADDRESS                    /* the host address a descriptor gets */
#define BRK_DESC_ADDRESS(ext, element) ((ULONG64)(element)->Address.QuadPart)
#endif
#ifndef BRK_AFTER_DOORBELL                  /* EvtProgramDma, after START (DISPATCH) */
#define BRK_AFTER_DOORBELL(ext, ch, transaction, direction) ((void)(ext))
#endif
#ifndef BRK_AFTER_EXECUTE                   /* EvtIoRead/Write after a good Execute */
#define BRK_AFTER_EXECUTE(ext, ch, request) ((void)(ext))
#endif
#ifndef BRK_ISR                             /* EvtInterruptIsr, our interrupt (DIRQL) */
#define BRK_ISR(ext, ch) ((void)(ext))
#endif
#ifndef BRK_COMPLETED                       /* how the DPC reports a finished transfer */
#define BRK_COMPLETED(ext, ch, status) WdfDmaTransactionDmaCompleted((ch)->Transaction, (status))
#endif
#ifndef BRK_AFTER_FINISH                    /* DPC: transaction ended, request not yet done */
#define BRK_AFTER_FINISH(ext, ch, request) ((void)(ext))
#endif

static ULONG BrkRead(PBRK_DEVICE ext, ULONG offset)
{
    return READ_REGISTER_ULONG((volatile ULONG *)(ext->Registers + offset));
}

static VOID BrkWrite(PBRK_DEVICE ext, ULONG offset, ULONG value)
{
    WRITE_REGISTER_ULONG((volatile ULONG *)(ext->Registers + offset), value);
}

/* ---- DMA ----------------------------------------------------------------------------- */
static BOOLEAN BrkEvtProgramDma(WDFDMATRANSACTION Transaction, WDFDEVICE Device,
                                WDFCONTEXT Context, WDF_DMA_DIRECTION Direction,
                                PSCATTER_GATHER_LIST SgList)
{
    PBRK_CHANNEL ch = (PBRK_CHANNEL)Context;
    PBRK_DEVICE ext = BrkGetDevice(Device);
    ULONG offset = (ULONG)WdfDmaTransactionGetBytesTransferred(Transaction);
    ULONG i;

    for (i = 0; i < SgList->NumberOfElements; i++) {
        PSCATTER_GATHER_ELEMENT element = &SgList->Elements[i];
        PBRK_DESC64 d = &ch->RingVa[i];
        d->HostAddress = BRK_DESC_ADDRESS(ext, element);
        d->Next = (ULONG64)ch->RingLa.QuadPart + (i + 1) * sizeof(BRK_DESC64);
        d->Length = element->Length;
        d->DeviceOffset = offset;
        d->Flags = Direction == WdfDmaDirectionReadFromDevice ? BRK_DESC_FROM_DEVICE : 0;
        if (i == SgList->NumberOfElements - 1)
            d->Flags |= BRK_DESC_LAST | BRK_DESC_INTERRUPT;
        d->Status = 0;
        offset += element->Length;
    }
    KeMemoryBarrier();
    WdfInterruptAcquireLock(ext->Interrupt);
    ch->Busy = TRUE;
    BrkWrite(ext, BRK_CH_BASE(ch->Index) + BRK_CH_DESC_LO, ch->RingLa.LowPart);
    BrkWrite(ext, BRK_CH_BASE(ch->Index) + BRK_CH_DESC_HI, (ULONG)ch->RingLa.HighPart);
    BrkWrite(ext, BRK_CH_BASE(ch->Index) + BRK_CH_CTRL,
             BRK_CTRL_START | BRK_CTRL_DESC64 | BRK_CTRL_IE);
    WdfInterruptReleaseLock(ext->Interrupt);
    BRK_AFTER_DOORBELL(ext, ch, Transaction, Direction);
    return TRUE;
}

static VOID BrkStart(PBRK_DEVICE ext, PBRK_CHANNEL ch, WDFREQUEST Request,
                     WDF_DMA_DIRECTION direction)
{
    UNREFERENCED_PARAMETER(ext);   /* used by some hooks only */
    NTSTATUS status = WdfDmaTransactionInitializeUsingRequest(ch->Transaction, Request,
                                                              BrkEvtProgramDma, direction);
    if (!NT_SUCCESS(status)) {
        WdfRequestComplete(Request, status);
        return;
    }
    status = WdfDmaTransactionExecute(ch->Transaction, ch);
    if (!NT_SUCCESS(status)) {
        WdfDmaTransactionRelease(ch->Transaction);
        WdfRequestComplete(Request, status);
        return;
    }
    BRK_AFTER_EXECUTE(ext, ch, Request);
}

static VOID BrkEvtIoWrite(WDFQUEUE Queue, WDFREQUEST Request, size_t Length)
{
    PBRK_DEVICE ext = BrkGetDevice(WdfIoQueueGetDevice(Queue));
    UNREFERENCED_PARAMETER(Length);
    BrkStart(ext, &ext->Channel[0], Request, WdfDmaDirectionWriteToDevice);
}

static VOID BrkEvtIoRead(WDFQUEUE Queue, WDFREQUEST Request, size_t Length)
{
    PBRK_DEVICE ext = BrkGetDevice(WdfIoQueueGetDevice(Queue));
    UNREFERENCED_PARAMETER(Length);
    BrkStart(ext, &ext->Channel[1], Request, WdfDmaDirectionReadFromDevice);
}

/* ---- interrupt ----------------------------------------------------------------------- */
static BOOLEAN BrkEvtIsr(WDFINTERRUPT Interrupt, ULONG MessageID)
{
    PBRK_DEVICE ext = BrkGetDevice(WdfInterruptGetDevice(Interrupt));
    ULONG status = BrkRead(ext, BRK_REG_INT_STATUS) & BRK_INT_ALL;
    UNREFERENCED_PARAMETER(MessageID);
    if (status == 0)
        return FALSE;
    BrkWrite(ext, BRK_REG_INT_STATUS, status);
    ext->SavedIntStatus |= status;
    BRK_ISR(ext, &ext->Channel[(status & BRK_INT_DONE(1)) ? 1 : 0]);
    WdfInterruptQueueDpcForIsr(Interrupt);
    return TRUE;
}

static VOID BrkChannelDone(PBRK_DEVICE ext, PBRK_CHANNEL ch, BOOLEAN error)
{
    NTSTATUS status;
    BOOLEAN finished;
    UNREFERENCED_PARAMETER(ext);   /* used by some hooks only */
    if (error)
        finished = WdfDmaTransactionDmaCompletedFinal(ch->Transaction, 0, &status);
    else
        finished = BRK_COMPLETED(ext, ch, &status);
    if (!finished)
        return;
    if (error)
        status = STATUS_DEVICE_DATA_ERROR;
    WDFREQUEST request = WdfDmaTransactionGetRequest(ch->Transaction);
    size_t bytes = WdfDmaTransactionGetBytesTransferred(ch->Transaction);
    WdfDmaTransactionRelease(ch->Transaction);
    BRK_AFTER_FINISH(ext, ch, request);
    WdfRequestCompleteWithInformation(request, status, bytes);
}

static VOID BrkEvtDpc(WDFINTERRUPT Interrupt, WDFOBJECT AssociatedObject)
{
    PBRK_DEVICE ext = BrkGetDevice(WdfInterruptGetDevice(Interrupt));
    ULONG i;
    UNREFERENCED_PARAMETER(AssociatedObject);
    for (i = 0; i < 2; i++) {
        PBRK_CHANNEL ch = &ext->Channel[i];
        WdfInterruptAcquireLock(Interrupt);
        ULONG saved = ext->SavedIntStatus & (BRK_INT_DONE(i) | BRK_INT_ERROR(i));
        ext->SavedIntStatus &= ~saved;
        BOOLEAN running = ch->Busy && saved != 0;
        if (running)
            ch->Busy = FALSE;
        WdfInterruptReleaseLock(Interrupt);
        if (running)
            BrkChannelDone(ext, ch, (saved & BRK_INT_ERROR(i)) ? TRUE : FALSE);
    }
}

static NTSTATUS BrkEvtIntEnable(WDFINTERRUPT Interrupt, WDFDEVICE Device)
{
    UNREFERENCED_PARAMETER(Interrupt);
    BrkWrite(BrkGetDevice(Device), BRK_REG_INT_MASK, 0);
    return STATUS_SUCCESS;
}

static NTSTATUS BrkEvtIntDisable(WDFINTERRUPT Interrupt, WDFDEVICE Device)
{
    UNREFERENCED_PARAMETER(Interrupt);
    BrkWrite(BrkGetDevice(Device), BRK_REG_INT_MASK, BRK_INT_ALL);
    return STATUS_SUCCESS;
}

/* ---- PnP ----------------------------------------------------------------------------- */
static NTSTATUS BrkEvtPrepareHardware(WDFDEVICE Device, WDFCMRESLIST Raw, WDFCMRESLIST Translated)
{
    PBRK_DEVICE ext = BrkGetDevice(Device);
    ULONG i;
    UNREFERENCED_PARAMETER(Raw);
    for (i = 0; i < WdfCmResourceListGetCount(Translated) && ext->Registers == NULL; i++) {
        PCM_PARTIAL_RESOURCE_DESCRIPTOR d = WdfCmResourceListGetDescriptor(Translated, i);
        if (d == NULL || d->Type != CmResourceTypeMemory || d->u.Memory.Length < BRK_BAR0_LENGTH)
            continue;
        ext->Registers = MmMapIoSpaceEx(d->u.Memory.Start, d->u.Memory.Length,
                                        PAGE_READWRITE | PAGE_NOCACHE);
        ext->RegistersLength = d->u.Memory.Length;
    }
    return ext->Registers != NULL ? STATUS_SUCCESS : STATUS_DEVICE_CONFIGURATION_ERROR;
}

static NTSTATUS BrkEvtReleaseHardware(WDFDEVICE Device, WDFCMRESLIST Translated)
{
    PBRK_DEVICE ext = BrkGetDevice(Device);
    UNREFERENCED_PARAMETER(Translated);
    if (ext->Registers != NULL) {
        MmUnmapIoSpace(ext->Registers, ext->RegistersLength);
        ext->Registers = NULL;
    }
    return STATUS_SUCCESS;
}

static NTSTATUS BrkCreateChannel(PBRK_DEVICE ext, ULONG index)
{
    PBRK_CHANNEL ch = &ext->Channel[index];
    WDF_COMMON_BUFFER_CONFIG config;
    NTSTATUS status;
    ch->Index = index;
    status = WdfDmaTransactionCreate(ext->Enabler, WDF_NO_OBJECT_ATTRIBUTES, &ch->Transaction);
    if (!NT_SUCCESS(status))
        return status;
    WDF_COMMON_BUFFER_CONFIG_INIT(&config, 15);
    status = WdfCommonBufferCreateWithConfig(ext->Enabler, BRK_RING_BYTES, &config,
                                             WDF_NO_OBJECT_ATTRIBUTES, &ch->Ring);
    if (!NT_SUCCESS(status))
        return status;
    ch->RingVa = (PBRK_DESC64)WdfCommonBufferGetAlignedVirtualAddress(ch->Ring);
    ch->RingLa = WdfCommonBufferGetAlignedLogicalAddress(ch->Ring);
    RtlZeroMemory(ch->RingVa, BRK_RING_BYTES);
    return STATUS_SUCCESS;
}

static NTSTATUS BrkEvtDeviceAdd(WDFDRIVER Driver, PWDFDEVICE_INIT DeviceInit)
{
    WDF_PNPPOWER_EVENT_CALLBACKS pnp;
    WDF_OBJECT_ATTRIBUTES attributes;
    WDF_IO_QUEUE_CONFIG queueConfig;
    WDF_INTERRUPT_CONFIG interruptConfig;
    WDF_DMA_ENABLER_CONFIG dmaConfig;
    WDFDEVICE device;
    NTSTATUS status;
    UNREFERENCED_PARAMETER(Driver);

    WdfDeviceInitSetIoType(DeviceInit, WdfDeviceIoDirect);
    WDF_PNPPOWER_EVENT_CALLBACKS_INIT(&pnp);
    pnp.EvtDevicePrepareHardware = BrkEvtPrepareHardware;
    pnp.EvtDeviceReleaseHardware = BrkEvtReleaseHardware;
    WdfDeviceInitSetPnpPowerEventCallbacks(DeviceInit, &pnp);
    WDF_OBJECT_ATTRIBUTES_INIT_CONTEXT_TYPE(&attributes, BRK_DEVICE);
    status = WdfDeviceCreate(&DeviceInit, &attributes, &device);
    if (!NT_SUCCESS(status))
        return status;
    PBRK_DEVICE ext = BrkGetDevice(device);
    ext->Device = device;

    WDF_IO_QUEUE_CONFIG_INIT_DEFAULT_QUEUE(&queueConfig, WdfIoQueueDispatchSequential);
    queueConfig.EvtIoWrite = BrkEvtIoWrite;
    queueConfig.EvtIoRead = BrkEvtIoRead;
    status = WdfIoQueueCreate(device, &queueConfig, WDF_NO_OBJECT_ATTRIBUTES, WDF_NO_HANDLE);
    if (!NT_SUCCESS(status))
        return status;

    WDF_INTERRUPT_CONFIG_INIT(&interruptConfig, BrkEvtIsr, BrkEvtDpc);
    interruptConfig.EvtInterruptEnable = BrkEvtIntEnable;
    interruptConfig.EvtInterruptDisable = BrkEvtIntDisable;
    status = WdfInterruptCreate(device, &interruptConfig, WDF_NO_OBJECT_ATTRIBUTES,
                                &ext->Interrupt);
    if (!NT_SUCCESS(status))
        return status;

    WdfDeviceSetAlignmentRequirement(device, FILE_OCTA_ALIGNMENT);
    WDF_DMA_ENABLER_CONFIG_INIT(&dmaConfig, WdfDmaProfileScatterGather64, BRK_MAX_TRANSFER);
    status = WdfDmaEnablerCreate(device, &dmaConfig, WDF_NO_OBJECT_ATTRIBUTES, &ext->Enabler);
    if (!NT_SUCCESS(status))
        return status;
    status = BrkCreateChannel(ext, 0);
    if (NT_SUCCESS(status))
        status = BrkCreateChannel(ext, 1);
    if (!NT_SUCCESS(status))
        return status;
    BRK_DEVICE_ADD_END(ext);
    return STATUS_SUCCESS;
}

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    WDF_DRIVER_CONFIG config;
    WDF_DRIVER_CONFIG_INIT(&config, BrkEvtDeviceAdd);
    return WdfDriverCreate(DriverObject, RegistryPath, WDF_NO_OBJECT_ATTRIBUTES, &config,
                           WDF_NO_HANDLE);
}

#endif
