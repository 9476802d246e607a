/*
 * WDFDMAENABLER: a device's DMA capability, one HAL DMA adapter per direction on duplex
 * profiles (one shared adapter otherwise), and the six DMA power callbacks.
 *
 * Profiles and what they ask of the HAL (KMDF's FxDmaEnabler::Initialize):
 *
 *   profile                  Master  ScatterGather  64-bit  duplex  description version
 *   Packet                   yes     no             no      no      2 (3 with overrides)
 *   Packet64                 yes     no             yes     no      2
 *   ScatterGather            yes     yes            no      no      2
 *   ScatterGather64          yes     yes            yes     no      2
 *   ScatterGatherDuplex      yes     yes            no      yes     2
 *   ScatterGather64Duplex    yes     yes            yes     yes     2
 *   System / SystemDuplex    no      no             -       -/yes   3, adapters created
 *                                                                     by ConfigureSystemProfile
 *
 * AddressWidthOverride forces version 3 with that address width (KMDF on Windows 8+);
 * WdmDmaVersionOverride may raise the version, never lower it.
 *
 * Power (reference §5): power-up runs Fill → Enable → SelfManagedIoStart, stopping at the
 * first failure; power-down runs SelfManagedIoStop → Disable (skipped if Fill failed) →
 * Flush (skipped if Fill or Enable failed), all of them, accumulating the first error.
 */
#include "fx/dma.h"
#include "wdm/dma_internal.h"
#include "wdfdma/framework.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const char *const enabler_callbacks[] = {
    "EvtDmaEnablerFill", "EvtDmaEnablerEnable", "EvtDmaEnablerSelfManagedIoStart",
    "EvtDmaEnablerSelfManagedIoStop", "EvtDmaEnablerDisable", "EvtDmaEnablerFlush",
};
enum { CB_FILL, CB_ENABLE, CB_SMIO_START, CB_SMIO_STOP, CB_DISABLE, CB_FLUSH };

fx_dma_enabler *fx_dma_enabler_from_handle(WDFDMAENABLER h, const char *ddi)
{
    return (fx_dma_enabler *)fx_resolve((WDFOBJECT)h, FX_TYPE_DMA_ENABLER, ddi);
}

/* ---- statistics ---------------------------------------------------------------------- */

static fx_dma_stats *stats_of(wdfdma_machine *m)
{
    fx_dma_stats *s = mach_slot(m, MACH_SLOT_FXDMA);
    if (s == NULL) {
        s = calloc(1, sizeof *s);
        if (s == NULL)
            return NULL;
        mach_set_slot(m, MACH_SLOT_FXDMA, s, free);
    }
    return s;
}

void fx_dma_stats_get(wdfdma_machine *m, fx_dma_stats *out)
{
    fx_dma_stats *s = stats_of(m);
    if (s != NULL)
        *out = *s;
    else
        memset(out, 0, sizeof *out);
}

static void stat_add(wdfdma_machine *m, _Atomic uint64_t *counter, uint64_t n)
{
    (void)mach_stat_add(counter, n, !mach_is_sim(m));
}

void fx_dma_stats_count_transaction(void)
{
    wdfdma_machine *m = mach_current();
    fx_dma_stats *s = stats_of(m);
    if (s != NULL)
        stat_add(m, &s->transactions, 1);
}

int wdfdma_fx_dma_get_stats(wdfdma_machine *m, wdfdma_fx_dma_stats *out)
{
    if (m == NULL || out == NULL)
        return mach_error(EINVAL, "wdfdma_fx_dma_get_stats: %s is NULL", m ? "out" : "machine");
    fx_dma_stats s;
    fx_dma_stats_get(m, &s);
    out->transactions = s.transactions;
    out->transfers = s.transfers;
    out->sg_elements_total = s.sg_elements_total;
    out->sg_elements_max = s.sg_elements_max;
    return 0;
}

void fx_dma_stats_count_transfer(fx_dma_transaction *t, PSCATTER_GATHER_LIST sg)
{
    wdfdma_machine *m = mach_current();
    fx_dma_stats *s = stats_of(m);
    if (s == NULL)
        return;
    UNREFERENCED_PARAMETER(t);
    stat_add(m, &s->transfers, 1);
    stat_add(m, &s->sg_elements_total, sg->NumberOfElements);
    wdm_dma_stat_max(&s->sg_elements_max, sg->NumberOfElements);
}

/* ---- power callbacks ------------------------------------------------------------------- */

static NTSTATUS invoke(fx_dma_enabler *e, PFN_WDF_DMA_ENABLER_FILL fn, int which)
{
    const char *name = enabler_callbacks[which];
    fx_device_log(e->device, name);
    mach_callback_enter(name, e->obj.id);
    NTSTATUS status = fn((WDFDMAENABLER)fx_handle(&e->obj));
    mach_callback_exit(name, e->obj.id);
    return status;
}

static NTSTATUS enabler_power_up(fx_power_participant *p)
{
    fx_dma_enabler *e = CONTAINING_RECORD(p, fx_dma_enabler, power);
    const WDF_DMA_ENABLER_CONFIG *c = &e->config;
    NTSTATUS status = STATUS_SUCCESS;
    /* The skip flags describe the last power-up only. */
    e->fill_failed = e->enable_failed = e->smio_start_failed = false;
    if (c->EvtDmaEnablerFill != NULL && !NT_SUCCESS(status = invoke(e, c->EvtDmaEnablerFill, CB_FILL))) {
        e->fill_failed = true;
        return status;
    }
    if (c->EvtDmaEnablerEnable != NULL &&
        !NT_SUCCESS(status = invoke(e, c->EvtDmaEnablerEnable, CB_ENABLE))) {
        e->enable_failed = true;
        return status;
    }
    if (c->EvtDmaEnablerSelfManagedIoStart != NULL &&
        !NT_SUCCESS(status = invoke(e, c->EvtDmaEnablerSelfManagedIoStart, CB_SMIO_START))) {
        e->smio_start_failed = true;
        return status;
    }
    return STATUS_SUCCESS;
}

static void keep_first_error(NTSTATUS *status, NTSTATUS local)
{
    if (NT_SUCCESS(*status) && !NT_SUCCESS(local))
        *status = local;
}

static NTSTATUS enabler_power_down(fx_power_participant *p)
{
    fx_dma_enabler *e = CONTAINING_RECORD(p, fx_dma_enabler, power);
    const WDF_DMA_ENABLER_CONFIG *c = &e->config;
    NTSTATUS status = STATUS_SUCCESS;
    if (c->EvtDmaEnablerSelfManagedIoStop != NULL)
        keep_first_error(&status, invoke(e, c->EvtDmaEnablerSelfManagedIoStop, CB_SMIO_STOP));
    if (c->EvtDmaEnablerDisable != NULL && !e->fill_failed)
        keep_first_error(&status, invoke(e, c->EvtDmaEnablerDisable, CB_DISABLE));
    if (c->EvtDmaEnablerFlush != NULL && !e->fill_failed && !e->enable_failed)
        keep_first_error(&status, invoke(e, c->EvtDmaEnablerFlush, CB_FLUSH));
    return status;
}

/* ---- adapters ------------------------------------------------------------------------ */

static NTSTATUS configure_adapter(fx_dma_enabler *e, const DEVICE_DESCRIPTION *desc,
                                  WDF_DMA_DIRECTION dir)
{
    fx_dma_description *d = fx_dma_enabler_description(e, dir);
    d->description = *desc;
    d->adapter = IoGetDmaAdapter(wdm_pdo_for(e->device->hardware), &d->description,
                                 &d->map_registers);
    if (d->adapter == NULL)
        return STATUS_UNSUCCESSFUL;
    if (e->scatter_gather) {
        ULONG size = 0, count = 0;
        NTSTATUS status = d->adapter->DmaOperations->CalculateScatterGatherList(
            d->adapter, NULL, NULL, d->map_registers * PAGE_SIZE, &size, &count);
        if (!NT_SUCCESS(status))
            return status;
        d->sglist_size = size;
    } else if (e->bus_master) {
        d->sglist_size = sizeof(SCATTER_GATHER_LIST) + sizeof(SCATTER_GATHER_ELEMENT);
    } else {
        d->sglist_size = sizeof(SCATTER_GATHER_LIST) +
                         sizeof(SCATTER_GATHER_ELEMENT) * (size_t)d->map_registers;
    }
    size_t by_registers = d->map_registers > 0 ? (size_t)(d->map_registers - 1) << PAGE_SHIFT : 0;
    d->max_fragment = e->maximum_length < by_registers ? e->maximum_length : by_registers;
    return STATUS_SUCCESS;
}

static ULONG adapter_alignment_mask(fx_dma_description *d)
{
    ULONG alignment = d->adapter->DmaOperations->GetDmaAlignment(d->adapter);
    return alignment > 0 ? alignment - 1 : 0;   /* the HAL gives a size, we want a mask */
}

static NTSTATUS configure_bus_master(fx_dma_enabler *e, const DEVICE_DESCRIPTION *desc,
                                     ULONG flags)
{
    NTSTATUS status = configure_adapter(e, desc, WdfDmaDirectionReadFromDevice);
    if (NT_SUCCESS(status) && e->duplex)
        status = configure_adapter(e, desc, WdfDmaDirectionWriteToDevice);
    if (!NT_SUCCESS(status))
        return status;
    if (e->scatter_gather) {
        ULONG mask = adapter_alignment_mask(&e->adapters[0]);
        if (e->duplex && adapter_alignment_mask(&e->adapters[1]) > mask)
            mask = adapter_alignment_mask(&e->adapters[1]);
        ULONG device_mask = e->device->wdm->AlignmentRequirement;
        e->common_buffer_alignment = device_mask > mask ? device_mask : mask;
        e->sglist_size = e->adapters[0].sglist_size;
        if (e->duplex && e->adapters[1].sglist_size > e->sglist_size)
            e->sglist_size = e->adapters[1].sglist_size;
        e->sglist_preallocated = (flags & WDF_DMA_ENABLER_CONFIG_NO_SGLIST_PREALLOCATION) == 0;
    }
    e->configured = true;
    return STATUS_SUCCESS;
}

/* Build the description the profile asks for (see the table at the top). */
static NTSTATUS build_description(fx_dma_enabler *e, const WDF_DMA_ENABLER_CONFIG *c,
                                  DEVICE_DESCRIPTION *d)
{
    RtlZeroMemory(d, sizeof *d);
    d->Version = DEVICE_DESCRIPTION_VERSION2;
    d->Master = TRUE;
    d->Dma32BitAddresses = TRUE;
    d->InterfaceType = PCIBus;
    d->MaximumLength = (ULONG)c->MaximumLength;
    e->bus_master = true;
    switch (c->Profile) {
    case WdfDmaProfilePacket: break;
    case WdfDmaProfilePacket64: d->Dma64BitAddresses = TRUE; break;
    case WdfDmaProfileScatterGatherDuplex: e->duplex = true; /* fall through */
    case WdfDmaProfileScatterGather: d->ScatterGather = TRUE; e->scatter_gather = true; break;
    case WdfDmaProfileScatterGather64Duplex: e->duplex = true; /* fall through */
    case WdfDmaProfileScatterGather64:
        d->ScatterGather = TRUE;
        d->Dma64BitAddresses = TRUE;
        e->scatter_gather = true;
        break;
    case WdfDmaProfileSystemDuplex: e->duplex = true; /* fall through */
    case WdfDmaProfileSystem:
        d->Master = FALSE;
        d->Dma32BitAddresses = FALSE;
        d->Version = DEVICE_DESCRIPTION_VERSION3;
        e->bus_master = false;
        break;
    default:
        return STATUS_INVALID_PARAMETER;
    }
    if (c->AddressWidthOverride != 0) {
        /* Our choice (docs/kmdf-choices.md): widths outside 24..64 are refused here
         * rather than left to the HAL to reject. */
        if (!e->bus_master || c->AddressWidthOverride < 24 || c->AddressWidthOverride > 64 ||
            (!d->Dma64BitAddresses && c->AddressWidthOverride > 32)) {
            fx_verifier_break("WdfDmaEnablerCreate", "AddressWidthOverride %u is not valid for "
                              "profile %d", (unsigned)c->AddressWidthOverride, (int)c->Profile);
            return STATUS_INVALID_PARAMETER;
        }
        d->Version = DEVICE_DESCRIPTION_VERSION3;
        d->DmaAddressWidth = c->AddressWidthOverride;
    }
    if (c->WdmDmaVersionOverride != 0) {
        if (c->WdmDmaVersionOverride < d->Version || c->WdmDmaVersionOverride > 3) {
            fx_verifier_break("WdfDmaEnablerCreate",
                              "WdmDmaVersionOverride %u conflicts with required version %u",
                              (unsigned)c->WdmDmaVersionOverride, (unsigned)d->Version);
            return STATUS_INVALID_PARAMETER;
        }
        d->Version = c->WdmDmaVersionOverride;
    }
    if (d->Version >= DEVICE_DESCRIPTION_VERSION3 && d->DmaAddressWidth == 0)
        d->DmaAddressWidth = d->Dma64BitAddresses ? 64 : d->Dma32BitAddresses ? 32 : 24;
    return STATUS_SUCCESS;
}

static NTSTATUS enabler_initialize(fx_dma_enabler *e, const WDF_DMA_ENABLER_CONFIG *c)
{
    DEVICE_DESCRIPTION desc;
    e->profile = c->Profile;
    e->maximum_length = c->MaximumLength;
    e->max_sg_elements = WDF_DMA_ENABLER_UNLIMITED_FRAGMENTS;
    NTSTATUS status = build_description(e, c, &desc);
    if (!NT_SUCCESS(status))
        return status;
    if (c->Flags & ~(ULONG)(WDF_DMA_ENABLER_CONFIG_NO_SGLIST_PREALLOCATION |
                            WDF_DMA_ENABLER_CONFIG_REQUIRE_SINGLE_TRANSFER))
        return STATUS_INVALID_PARAMETER;
    if (c->Flags & WDF_DMA_ENABLER_CONFIG_REQUIRE_SINGLE_TRANSFER) {
        if (desc.Version != DEVICE_DESCRIPTION_VERSION3) {
            fx_verifier_break("WdfDmaEnablerCreate",
                              "REQUIRE_SINGLE_TRANSFER needs DMA version 3");
            return STATUS_INVALID_PARAMETER;
        }
        e->require_single_transfer = true;
    }
    /* System adapters wait for ConfigureSystemProfile; remember the version for v3 checks. */
    e->adapters[0].description = desc;
    e->adapters[1].description = desc;
    if (e->bus_master) {
        status = configure_bus_master(e, &desc, c->Flags);
        if (!NT_SUCCESS(status))
            return status;
    }
    e->config = *c;
    e->power.power_up = enabler_power_up;
    e->power.power_down = enabler_power_down;
    fx_device_add_power_participant(e->device, &e->power);
    e->power_registered = true;
    return STATUS_SUCCESS;
}

static void release_adapters(fx_dma_enabler *e)
{
    for (int i = 0; i < 2; i++) {
        fx_dma_description *d = &e->adapters[i];
        if (d->adapter != NULL && (i == 0 || e->duplex))
            d->adapter->DmaOperations->PutDmaAdapter(d->adapter);
        d->adapter = NULL;
    }
    e->configured = false;
}

static void enabler_dispose(fx_object *o)
{
    fx_dma_enabler *e = (fx_dma_enabler *)o;
    release_adapters(e);
    if (e->power_registered) {
        fx_device_remove_power_participant(e->device, &e->power);
        e->power_registered = false;
    }
    if (e->system_sglist != NULL) {
        ExFreePool(e->system_sglist);
        e->system_sglist = NULL;
    }
}

static const fx_object_ops enabler_object_ops = {
    .type = FX_TYPE_DMA_ENABLER,
    .name = "WDFDMAENABLER",
    .dispose = enabler_dispose,
    .driver_deletable = true,
};

/* ---- system profile -------------------------------------------------------------------- */

static NTSTATUS configure_system(fx_dma_enabler *e, const WDF_DMA_SYSTEM_PROFILE_CONFIG *c,
                                 WDF_DMA_DIRECTION dir)
{
    fx_dma_description *d = fx_dma_enabler_description(e, dir);
    if (d->adapter != NULL) {
        fx_verifier_break("WdfDmaEnablerConfigureSystemProfile",
                          "direction %d of WDFDMAENABLER %p is already configured", (int)dir,
                          (void *)fx_handle(&e->obj));
        return STATUS_INVALID_PARAMETER;
    }
    DEVICE_DESCRIPTION desc;
    RtlZeroMemory(&desc, sizeof desc);
    desc.Version = DEVICE_DESCRIPTION_VERSION3;
    desc.MaximumLength = (ULONG)e->maximum_length;
    desc.DemandMode = c->DemandMode;
    desc.AutoInitialize = c->LoopedTransfer;
    desc.DmaWidth = c->DmaWidth;
    desc.DeviceAddress = c->DeviceAddress;
    desc.InterfaceType = Internal;
    desc.DmaChannel = c->DmaDescriptor->u.Dma.Channel;
    desc.DmaRequestLine = c->DmaDescriptor->u.Dma.Port;
    NTSTATUS status = configure_adapter(e, &desc, dir);
    if (!NT_SUCCESS(status))
        return status;
    /* One SG list per enabler: a system adapter runs one transfer at a time. */
    size_t need = e->adapters[0].sglist_size;
    if (e->duplex && e->adapters[1].sglist_size > need)
        need = e->adapters[1].sglist_size;
    if (need > e->sglist_size) {
        PSCATTER_GATHER_LIST list = ExAllocatePool2(POOL_FLAG_NON_PAGED, need, 'LSxF');
        if (list == NULL)
            return STATUS_INSUFFICIENT_RESOURCES;
        if (e->system_sglist != NULL)
            ExFreePool(e->system_sglist);
        e->system_sglist = list;
        e->sglist_size = need;
        e->sglist_preallocated = true;
    }
    e->configured = fx_dma_enabler_description(e, WdfDmaDirectionReadFromDevice)->adapter &&
                    fx_dma_enabler_description(e, WdfDmaDirectionWriteToDevice)->adapter;
    return STATUS_SUCCESS;
}

/* ---- DDIs ------------------------------------------------------------------------------ */

/* Attributes->ParentObject must be the device or one of its descendants. */
static NTSTATUS check_parent(fx_device *dev, PWDF_OBJECT_ATTRIBUTES attributes)
{
    if (attributes == NULL || attributes->ParentObject == NULL)
        return STATUS_SUCCESS;
    fx_object *parent = fx_resolve(attributes->ParentObject, FX_TYPE_NONE, "WdfDmaEnablerCreate");
    if (fx_object_ancestor(parent, FX_TYPE_DEVICE) != &dev->obj)
        return STATUS_WDF_OBJECT_ATTRIBUTES_INVALID;
    return STATUS_SUCCESS;
}

static bool valid_profile(WDF_DMA_PROFILE p)
{
    return p >= WdfDmaProfilePacket && p <= WdfDmaProfileSystemDuplex;
}

NTSTATUS WdfDmaEnablerCreate(WDFDEVICE Device, PWDF_DMA_ENABLER_CONFIG Config,
                             PWDF_OBJECT_ATTRIBUTES Attributes, WDFDMAENABLER *DmaEnablerHandle)
{
    static const char ddi[] = "WdfDmaEnablerCreate";
    fx_device *dev = fx_device_from_handle(Device, ddi);
    if (!fx_check_irql(PASSIVE_LEVEL, ddi))
        return STATUS_INVALID_DEVICE_REQUEST;
    fx_check_required(DmaEnablerHandle, ddi, "DmaEnablerHandle");
    fx_check_required(Config, ddi, "Config");
    *DmaEnablerHandle = NULL;
    NTSTATUS status = check_parent(dev, Attributes);
    if (!NT_SUCCESS(status))
        return status;
    if (Config->Size != sizeof(WDF_DMA_ENABLER_CONFIG))
        return STATUS_INFO_LENGTH_MISMATCH;
    if (!valid_profile(Config->Profile) || Config->MaximumLength == 0 ||
        Config->MaximumLength > 0xFFFFFFFFu)
        return STATUS_INVALID_PARAMETER;

    fx_object *o;
    status = fx_object_create(&enabler_object_ops, sizeof(fx_dma_enabler), Attributes, &dev->obj,
                              true, &o);
    if (!NT_SUCCESS(status))
        return status;
    fx_dma_enabler *e = (fx_dma_enabler *)o;
    e->device = dev;
    status = enabler_initialize(e, Config);
    if (!NT_SUCCESS(status)) {
        fx_object_delete(o);
        return status;
    }
    *DmaEnablerHandle = (WDFDMAENABLER)fx_handle(o);
    return STATUS_SUCCESS;
}

NTSTATUS WdfDmaEnablerConfigureSystemProfile(WDFDMAENABLER DmaEnabler,
                                             PWDF_DMA_SYSTEM_PROFILE_CONFIG ProfileConfig,
                                             WDF_DMA_DIRECTION ConfigDirection)
{
    static const char ddi[] = "WdfDmaEnablerConfigureSystemProfile";
    fx_dma_enabler *e = fx_dma_enabler_from_handle(DmaEnabler, ddi);
    if (!fx_check_irql(PASSIVE_LEVEL, ddi))
        return STATUS_INVALID_DEVICE_REQUEST;
    if (ProfileConfig == NULL) {
        fx_verifier_break(ddi, "ProfileConfig is NULL");
        return STATUS_INVALID_PARAMETER;
    }
    if (ProfileConfig->Size != sizeof(WDF_DMA_SYSTEM_PROFILE_CONFIG))
        return STATUS_INFO_LENGTH_MISMATCH;
    if (ProfileConfig->DmaDescriptor == NULL) {
        fx_verifier_break(ddi, "ProfileConfig->DmaDescriptor is NULL");
        return STATUS_INVALID_PARAMETER;
    }
    if (ConfigDirection != WdfDmaDirectionReadFromDevice &&
        ConfigDirection != WdfDmaDirectionWriteToDevice)
        return STATUS_INVALID_PARAMETER;
    /* No profile check, as in KMDF: a bus-master enabler's adapters exist from creation,
     * so the "already configured" rule refuses it with STATUS_INVALID_PARAMETER. */
    return configure_system(e, ProfileConfig, ConfigDirection);
}

size_t WdfDmaEnablerGetMaximumLength(WDFDMAENABLER DmaEnabler)
{
    (void)fx_check_irql(DISPATCH_LEVEL, "WdfDmaEnablerGetMaximumLength");   /* verifier: report only */
    return fx_dma_enabler_from_handle(DmaEnabler, "WdfDmaEnablerGetMaximumLength")->maximum_length;
}

size_t WdfDmaEnablerGetMaximumScatterGatherElements(WDFDMAENABLER DmaEnabler)
{
    (void)fx_check_irql(DISPATCH_LEVEL, "WdfDmaEnablerGetMaximumScatterGatherElements");   /* verifier: report only */
    return fx_dma_enabler_from_handle(DmaEnabler, "WdfDmaEnablerGetMaximumScatterGatherElements")
        ->max_sg_elements;
}

VOID WdfDmaEnablerSetMaximumScatterGatherElements(WDFDMAENABLER DmaEnabler,
                                                  size_t MaximumFragments)
{
    static const char ddi[] = "WdfDmaEnablerSetMaximumScatterGatherElements";
    fx_dma_enabler *e = fx_dma_enabler_from_handle(DmaEnabler, ddi);
    if (!fx_check_irql(PASSIVE_LEVEL, ddi))
        return;
    if (MaximumFragments == 0) {
        fx_verifier_break(ddi, "MaximumFragments of zero is ignored");
        return;
    }
    if (MaximumFragments > WDF_DMA_ENABLER_UNLIMITED_FRAGMENTS)
        MaximumFragments = WDF_DMA_ENABLER_UNLIMITED_FRAGMENTS;   /* KMDF restricts, logged */
    e->max_sg_elements = (ULONG)MaximumFragments;
}

size_t WdfDmaEnablerGetFragmentLength(WDFDMAENABLER DmaEnabler, WDF_DMA_DIRECTION DmaDirection)
{
    (void)fx_check_irql(DISPATCH_LEVEL, "WdfDmaEnablerGetFragmentLength");   /* verifier: report only */
    static const char ddi[] = "WdfDmaEnablerGetFragmentLength";
    fx_dma_enabler *e = fx_dma_enabler_from_handle(DmaEnabler, ddi);
    if (DmaDirection != WdfDmaDirectionReadFromDevice &&
        DmaDirection != WdfDmaDirectionWriteToDevice) {
        fx_verifier_break(ddi, "bad direction %d", (int)DmaDirection);
        return 0;
    }
    return fx_dma_enabler_description(e, DmaDirection)->max_fragment;
}

PDMA_ADAPTER WdfDmaEnablerWdmGetDmaAdapter(WDFDMAENABLER DmaEnabler,
                                           WDF_DMA_DIRECTION DmaDirection)
{
    (void)fx_check_irql(DISPATCH_LEVEL, "WdfDmaEnablerWdmGetDmaAdapter");   /* verifier: report only */
    static const char ddi[] = "WdfDmaEnablerWdmGetDmaAdapter";
    fx_dma_enabler *e = fx_dma_enabler_from_handle(DmaEnabler, ddi);
    if (DmaDirection != WdfDmaDirectionReadFromDevice &&
        DmaDirection != WdfDmaDirectionWriteToDevice) {
        fx_verifier_break(ddi, "bad direction %d", (int)DmaDirection);
        return NULL;
    }
    return fx_dma_enabler_description(e, DmaDirection)->adapter;
}
