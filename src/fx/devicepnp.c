/*
 * The device's PnP/power state machine: which driver callbacks run, in which order, for
 * start, D0 <-> D3, orderly removal, surprise removal, and failures. Facts from KMDF's
 * pnpstatemachine.cpp, powerstatemachine.cpp and selfmanagediostatemachine.cpp.
 *
 *               START ok                        SET_D3
 *   ADDED ──────────────────> STARTED_D0 ──────────────────> STARTED_DX
 *     │  \                       │   ^ │      SET_D0 ok           │  │
 *     │   \ START fails          │   │ └────────────────────────── │  │
 *     │    └──────> FAILED <─────┼───┼── SET_D0 fails ─────────────┘  │
 *     │               │          │   │                                │
 *     │ REMOVE        │ REMOVE   │   └ (SET_D0 in D0: nothing)        │
 *     │               │          │ SURPRISE                  SURPRISE │
 *     │               │          ▼                                    ▼
 *     │               │      SURPRISE_REMOVED <───────────────────────┘
 *     │               │          │ REMOVE
 *     ▼               ▼          ▼
 *   REMOVED <──────────────────────── REMOVE from STARTED_D0 / STARTED_DX
 *
 *   (STARTING is held while a start or power-up runs, so a wait on D0 can tell.)
 *
 * Sequences (each callback only if the driver registered it):
 *  start:       resources built, interrupts matched to resources, EvtDevicePrepareHardware,
 *               then power-up from D3Final
 *  power-up:    EvtDeviceD0Entry(previous) → interrupts connected + EvtInterruptEnable →
 *               EvtDeviceD0EntryPostInterruptsEnabled(previous) → power participants'
 *               power_up in creation order (DMA enablers: Fill, Enable, SelfManagedIoStart)
 *               → power-managed queues started → EvtDeviceSelfManagedIoInit (first time)
 *               or EvtDeviceSelfManagedIoRestart
 *  power-down:  EvtDeviceSelfManagedIoSuspend → queues stopped → participants' power_down
 *               → EvtDeviceD0ExitPreInterruptsDisabled(target) → EvtInterruptDisable +
 *               disconnect → EvtDeviceD0Exit(target)
 *  remove:      power-down to D3Final (if in D0) → EvtDeviceReleaseHardware → queues
 *               purged → EvtDeviceSelfManagedIoFlush → EvtDeviceSelfManagedIoCleanup →
 *               WDFDEVICE deleted (cleanup callbacks, children first)
 *  surprise:    EvtDeviceSurpriseRemoval → power-down to D3Final (if in D0; the hardware is
 *               gone) → EvtDeviceReleaseHardware → queues purged → EvtDeviceSelfManagedIoFlush;
 *               the later REMOVE runs EvtDeviceSelfManagedIoCleanup and deletes the device
 *
 * KMDF's order on removal is ReleaseHardware before the queue purge and Flush:
 * PnpEventRemovingDisableInterfaces calls PnpReleaseHardware, then PnpCleanupForRemove
 * (purge, SelfManagedIo Flush); FailedOwnHardware → Failed does the same on the surprise
 * and failure paths. Flush and Cleanup run only if EvtDeviceSelfManagedIoInit was called
 * (the self-managed-I/O machine ignores Flush/Cleanup in its Created state).
 *
 * Failures while starting or powering up (KMDF's "initial power-up failed" paths): the
 * device fails to start, the framework undoes exactly what succeeded, then PnP removes it:
 *  - PrepareHardware fails: EvtDeviceReleaseHardware is still called (FailedOwnHardware:
 *    "EvtDevicePrepareHardware is what failed, goto a state where we undo that call").
 *  - D0Entry fails: no D0Exit (PowerD0Starting → InitialPowerUpFailedDerefParent), then
 *    EvtDeviceReleaseHardware.
 *  - Interrupt connect/enable or D0EntryPostInterruptsEnabled fails: interrupts disabled
 *    and disconnected, EvtDeviceD0Exit(D3Final) (PowerConnectInterruptFailed), then
 *    EvtDeviceReleaseHardware.
 *  - A power participant (DMA enabler) fails: participants powered down,
 *    EvtDeviceD0ExitPreInterruptsDisabled(D3Final), interrupts off, EvtDeviceD0Exit(D3Final)
 *    (InitialDmaEnableFailed → InitialConnectInterruptFailed), then ReleaseHardware.
 *  - SelfManagedIoInit/Restart fails: queues stopped, then as a participant failure; Flush
 *    and Cleanup still follow (InitFailed state accepts Flush).
 * After any of these the device is FAILED; the host's bind then removes it (Cleanup if
 * owed, WDFDEVICE deleted) as the PnP manager does after a failed start.
 */
#include "fx/device.h"
#include "fx/internal.h"

/* ---- names --------------------------------------------------------------------------- */
static const char *const state_names[] = {
    [FX_PNP_ADDED] = "added",       [FX_PNP_STARTING] = "starting",
    [FX_PNP_STARTED_D0] = "started", [FX_PNP_STARTED_DX] = "d3",
    [FX_PNP_SURPRISE_REMOVED] = "surprise-removed", [FX_PNP_REMOVED] = "removed",
    [FX_PNP_FAILED] = "failed",
};

const char *fx_pnp_state_name(fx_pnp_state s)
{
    return (unsigned)s < sizeof(state_names) / sizeof(state_names[0]) ? state_names[s] : "?";
}

/* Log entries are static strings: one per callback and power-state argument. */
#define POWER_ENTRIES(cb)                                                                  \
    {                                                                                      \
        cb "(Invalid)", cb "(D0)", cb "(D1)", cb "(D2)", cb "(D3)", cb "(D3Final)",         \
            cb "(PrepareForHibernation)"                                                   \
    }
static const char *const d0entry_log[] = POWER_ENTRIES("EvtDeviceD0Entry");
static const char *const d0entry_post_log[] = POWER_ENTRIES("EvtDeviceD0EntryPostInterruptsEnabled");
static const char *const d0exit_log[] = POWER_ENTRIES("EvtDeviceD0Exit");
static const char *const d0exit_pre_log[] = POWER_ENTRIES("EvtDeviceD0ExitPreInterruptsDisabled");

static const char *power_entry(const char *const table[], WDF_POWER_DEVICE_STATE s)
{
    return table[(unsigned)s < WdfPowerDeviceMaximum ? (unsigned)s : 0];
}

/* ---- state bookkeeping --------------------------------------------------------------- */
static void set_state(fx_device *dev, fx_pnp_state s)
{
    __atomic_store_n(&dev->pnp_state, s, __ATOMIC_RELEASE);
    dev->pnp_history[dev->pnp_history_next++ % 8] = (uint8_t)s;
    mach_trace(dev->obj.machine, WDFDMA_TR_FX, dev->obj.id, fx_pnp_state_name(s), s, 0);
    mach_signal(dev->obj.machine);
}

/* The invariants of each state; a violation is a framework bug, reported as
 * WDF_PNP_FATAL_ERROR with the recent state history in P3/P4. */
static void assert_pnp_state(fx_device *dev)
{
    bool ok;
    switch (dev->pnp_state) {
    case FX_PNP_ADDED:
        ok = !dev->hardware_prepared && dev->power_state == WdfPowerDeviceD3Final;
        break;
    case FX_PNP_STARTED_D0:
        ok = dev->hardware_prepared && dev->power_state == WdfPowerDeviceD0;
        break;
    case FX_PNP_STARTED_DX:
        ok = dev->hardware_prepared && dev->power_state == WdfPowerDeviceD3;
        break;
    case FX_PNP_SURPRISE_REMOVED:
    case FX_PNP_FAILED:
    case FX_PNP_REMOVED:
        ok = !dev->hardware_prepared && dev->power_state != WdfPowerDeviceD0;
        break;
    default:
        ok = true;
        break;
    }
    if (!ok) {
        uint64_t h = 0;
        for (unsigned i = 0; i < 8; i++)
            h = h << 8 | dev->pnp_history[(dev->pnp_history_next + i) % 8];
        fx_bugcheck(WDF_PNP_FATAL_ERROR, (ULONG_PTR)fx_handle(&dev->obj), (ULONG_PTR)h,
                    dev->pnp_state, "device %s: invariants of state '%s' do not hold",
                    dev->instance, fx_pnp_state_name(dev->pnp_state));
    }
}

/* ---- driver callbacks ---------------------------------------------------------------- */
#define DEVICE_HANDLE(dev) ((WDFDEVICE)fx_handle(&(dev)->obj))

static NTSTATUS call_power(fx_device *dev, PFN_WDF_DEVICE_D0_ENTRY fn, const char *name,
                           const char *entry, WDF_POWER_DEVICE_STATE s)
{
    if (fn == NULL)
        return STATUS_SUCCESS;
    fx_driver *prev = fx_device_callback_begin(dev, name, entry);
    NTSTATUS status = fn(DEVICE_HANDLE(dev), s);
    fx_device_callback_end(dev, name, prev);
    return status;
}

static NTSTATUS call_status(fx_device *dev, NTSTATUS (*fn)(WDFDEVICE), const char *name)
{
    if (fn == NULL)
        return STATUS_SUCCESS;
    fx_driver *prev = fx_device_callback_begin(dev, name, name);
    NTSTATUS status = fn(DEVICE_HANDLE(dev));
    fx_device_callback_end(dev, name, prev);
    return status;
}

static void call_void(fx_device *dev, VOID (*fn)(WDFDEVICE), const char *name)
{
    if (fn == NULL)
        return;
    fx_driver *prev = fx_device_callback_begin(dev, name, name);
    fn(DEVICE_HANDLE(dev));
    fx_device_callback_end(dev, name, prev);
}

static NTSTATUS d0_entry(fx_device *dev, WDF_POWER_DEVICE_STATE from)
{
    return call_power(dev, dev->pnp.EvtDeviceD0Entry, "EvtDeviceD0Entry",
                      power_entry(d0entry_log, from), from);
}

static NTSTATUS d0_entry_post(fx_device *dev, WDF_POWER_DEVICE_STATE from)
{
    return call_power(dev, dev->pnp.EvtDeviceD0EntryPostInterruptsEnabled,
                      "EvtDeviceD0EntryPostInterruptsEnabled",
                      power_entry(d0entry_post_log, from), from);
}

static NTSTATUS d0_exit_pre(fx_device *dev, WDF_POWER_DEVICE_STATE to)
{
    return call_power(dev, dev->pnp.EvtDeviceD0ExitPreInterruptsDisabled,
                      "EvtDeviceD0ExitPreInterruptsDisabled", power_entry(d0exit_pre_log, to),
                      to);
}

static NTSTATUS d0_exit(fx_device *dev, WDF_POWER_DEVICE_STATE to)
{
    NTSTATUS status = call_power(dev, dev->pnp.EvtDeviceD0Exit, "EvtDeviceD0Exit",
                                 power_entry(d0exit_log, to), to);
    dev->power_state = to;
    return status;
}

static NTSTATUS prepare_hardware(fx_device *dev)
{
    dev->hardware_prepared = true;
    if (dev->pnp.EvtDevicePrepareHardware == NULL)
        return STATUS_SUCCESS;
    dev->in_prepare_hardware = true;
    fx_driver *prev = fx_device_callback_begin(dev, "EvtDevicePrepareHardware",
                                               "EvtDevicePrepareHardware");
    NTSTATUS status = dev->pnp.EvtDevicePrepareHardware(DEVICE_HANDLE(dev), dev->raw_handle,
                                                        dev->translated_handle);
    fx_device_callback_end(dev, "EvtDevicePrepareHardware", prev);
    dev->in_prepare_hardware = false;
    return status;
}

/* EvtDeviceReleaseHardware is owed once PrepareHardware was called, even if it failed;
 * interrupts created in PrepareHardware go right after it (they belonged to this start). */
static void release_hardware(fx_device *dev)
{
    if (!dev->hardware_prepared)
        return;
    dev->hardware_prepared = false;
    if (dev->pnp.EvtDeviceReleaseHardware != NULL) {
        fx_driver *prev = fx_device_callback_begin(dev, "EvtDeviceReleaseHardware",
                                                   "EvtDeviceReleaseHardware");
        dev->pnp.EvtDeviceReleaseHardware(DEVICE_HANDLE(dev), dev->translated_handle);
        fx_device_callback_end(dev, "EvtDeviceReleaseHardware", prev);
    }
    fx_interrupts_release(dev);
}

/* ---- power participants -------------------------------------------------------------- */
/* The participants in creation order, snapshotted so their callbacks run unlocked. */
static unsigned participants(fx_device *dev, fx_power_participant **out, unsigned max)
{
    unsigned n = 0;
    KIRQL old;
    KeAcquireSpinLock(&dev->lock, &old);
    for (LIST_ENTRY *e = dev->power_participants.Flink;
         e != &dev->power_participants && n < max; e = e->Flink)
        out[n++] = CONTAINING_RECORD(e, fx_power_participant, link);
    KeReleaseSpinLock(&dev->lock, old);
    return n;
}

#define MAX_PARTICIPANTS 64

/* Power up in order; on the first failure return it with *done = how many were (at least
 * partly) powered up, the failing one included: it undoes its own partial steps. */
static NTSTATUS participants_up(fx_device *dev, unsigned *done)
{
    fx_power_participant *p[MAX_PARTICIPANTS];
    unsigned n = participants(dev, p, MAX_PARTICIPANTS);
    for (unsigned i = 0; i < n; i++) {
        NTSTATUS status = p[i]->power_up ? p[i]->power_up(p[i]) : STATUS_SUCCESS;
        if (!NT_SUCCESS(status)) {
            *done = i + 1;
            return status;
        }
    }
    *done = n;
    return STATUS_SUCCESS;
}

/* Every participant runs even if one fails; the first failure is returned. */
static NTSTATUS participants_down(fx_device *dev, unsigned limit)
{
    fx_power_participant *p[MAX_PARTICIPANTS];
    unsigned n = participants(dev, p, MAX_PARTICIPANTS);
    NTSTATUS first = STATUS_SUCCESS;
    for (unsigned i = 0; i < n && i < limit; i++) {
        NTSTATUS status = p[i]->power_down ? p[i]->power_down(p[i]) : STATUS_SUCCESS;
        if (!NT_SUCCESS(status) && NT_SUCCESS(first))
            first = status;
    }
    return first;
}

/* ---- self-managed I/O ---------------------------------------------------------------- */
static NTSTATUS smio_start(fx_device *dev)
{
    if (!dev->smio_started) {
        dev->smio_started = true;
        NTSTATUS status = call_status(dev, dev->pnp.EvtDeviceSelfManagedIoInit,
                                      "EvtDeviceSelfManagedIoInit");
        dev->smio_failed = !NT_SUCCESS(status);
        return status;
    }
    NTSTATUS status = call_status(dev, dev->pnp.EvtDeviceSelfManagedIoRestart,
                                  "EvtDeviceSelfManagedIoRestart");
    dev->smio_failed = !NT_SUCCESS(status);
    return status;
}

static void smio_suspend(fx_device *dev)
{
    if (dev->smio_started && !dev->smio_failed)
        (void)call_status(dev, dev->pnp.EvtDeviceSelfManagedIoSuspend,
                          "EvtDeviceSelfManagedIoSuspend");
}

static void smio_flush(fx_device *dev)
{
    if (dev->smio_started)
        call_void(dev, dev->pnp.EvtDeviceSelfManagedIoFlush, "EvtDeviceSelfManagedIoFlush");
}

static void smio_cleanup(fx_device *dev)
{
    if (dev->smio_started)
        call_void(dev, dev->pnp.EvtDeviceSelfManagedIoCleanup, "EvtDeviceSelfManagedIoCleanup");
    dev->smio_started = false;
}

/* ---- power-up and power-down --------------------------------------------------------- */
/* Undo a power-up that got as far as the participants: participants down,
 * PreInterruptsDisabled, interrupts off, D0Exit (KMDF's InitialDmaEnableFailed path). */
static void undo_from_participants(fx_device *dev, unsigned powered)
{
    (void)participants_down(dev, powered);
    (void)d0_exit_pre(dev, WdfPowerDeviceD3Final);
    fx_interrupts_disconnect(dev);
    (void)d0_exit(dev, WdfPowerDeviceD3Final);
}

static NTSTATUS power_up(fx_device *dev)
{
    WDF_POWER_DEVICE_STATE from = dev->power_state;
    NTSTATUS status = d0_entry(dev, from);
    if (!NT_SUCCESS(status))
        return status; /* KMDF: no D0Exit for a failed D0Entry */
    dev->power_state = WdfPowerDeviceD0;
    status = fx_interrupts_connect(dev);
    if (NT_SUCCESS(status))
        status = d0_entry_post(dev, from);
    if (!NT_SUCCESS(status)) {
        fx_interrupts_disconnect(dev);
        (void)d0_exit(dev, WdfPowerDeviceD3Final);
        return status;
    }
    unsigned powered;
    status = participants_up(dev, &powered);
    if (!NT_SUCCESS(status)) {
        undo_from_participants(dev, powered);
        return status;
    }
    fx_io_power_up(dev);
    status = smio_start(dev);
    if (!NT_SUCCESS(status)) {
        fx_io_power_down(dev);
        undo_from_participants(dev, powered);
        return status;
    }
    return STATUS_SUCCESS;
}

/* Errors while powering down are recorded by the callbacks' traces and do not stop the
 * sequence (KMDF runs every step and only remembers that something failed). */
static void power_down(fx_device *dev, WDF_POWER_DEVICE_STATE to)
{
    smio_suspend(dev);
    fx_io_power_down(dev);
    (void)participants_down(dev, MAX_PARTICIPANTS);
    (void)d0_exit_pre(dev, to);
    fx_interrupts_disconnect(dev);
    (void)d0_exit(dev, to);
}

/* What a failed start or power-up leaves to undo before PnP removes the device. */
static void fail_device(fx_device *dev)
{
    release_hardware(dev);
    fx_io_purge(dev);
    smio_flush(dev);
    if (dev->power_state == WdfPowerDeviceD0)
        dev->power_state = WdfPowerDeviceD3Final;
}

/* ---- transitions --------------------------------------------------------------------- */
static NTSTATUS do_start(fx_device *dev)
{
    NTSTATUS status = fx_resources_build(dev);
    if (NT_SUCCESS(status))
        status = fx_interrupts_assign(dev);
    if (!NT_SUCCESS(status))
        return status; /* nothing of the driver's ran: KMDF's FailedInit */
    status = prepare_hardware(dev);
    if (NT_SUCCESS(status))
        status = power_up(dev);
    if (!NT_SUCCESS(status))
        fail_device(dev);
    return status;
}

static NTSTATUS do_set_d3(fx_device *dev)
{
    power_down(dev, WdfPowerDeviceD3);
    return STATUS_SUCCESS;
}

static NTSTATUS do_set_d0(fx_device *dev)
{
    NTSTATUS status = power_up(dev);
    if (!NT_SUCCESS(status))
        fail_device(dev);
    return status;
}

static NTSTATUS do_nothing(fx_device *dev)
{
    (void)dev;
    return STATUS_SUCCESS;
}

static void delete_device(fx_device *dev)
{
    smio_cleanup(dev);
    fx_object_delete(&dev->obj);
}

static NTSTATUS do_remove_d0(fx_device *dev)
{
    power_down(dev, WdfPowerDeviceD3Final);
    release_hardware(dev);
    fx_io_purge(dev);
    smio_flush(dev);
    delete_device(dev);
    return STATUS_SUCCESS;
}

static NTSTATUS do_remove_dx(fx_device *dev)
{
    dev->power_state = WdfPowerDeviceD3Final;
    release_hardware(dev);
    fx_io_purge(dev);
    smio_flush(dev);
    delete_device(dev);
    return STATUS_SUCCESS;
}

static NTSTATUS do_remove_unstarted(fx_device *dev)
{
    fx_io_purge(dev);
    delete_device(dev);
    return STATUS_SUCCESS;
}

static NTSTATUS do_remove_after_failure(fx_device *dev)
{
    delete_device(dev);
    return STATUS_SUCCESS;
}

static void surprise_callback(fx_device *dev)
{
    dev->hardware_gone = true;
    call_void(dev, dev->pnp.EvtDeviceSurpriseRemoval, "EvtDeviceSurpriseRemoval");
}

static NTSTATUS do_surprise_d0(fx_device *dev)
{
    surprise_callback(dev);
    power_down(dev, WdfPowerDeviceD3Final);
    release_hardware(dev);
    fx_io_purge(dev);
    smio_flush(dev);
    return STATUS_SUCCESS;
}

static NTSTATUS do_surprise_dx(fx_device *dev)
{
    surprise_callback(dev);
    dev->power_state = WdfPowerDeviceD3Final;
    release_hardware(dev);
    fx_io_purge(dev);
    smio_flush(dev);
    return STATUS_SUCCESS;
}

static NTSTATUS do_surprise_unstarted(fx_device *dev)
{
    dev->hardware_gone = true;
    return STATUS_SUCCESS;
}

/* state → {event → action, next state on success, next state on failure} */
typedef struct pnp_transition {
    NTSTATUS (*action)(fx_device *dev);
    fx_pnp_state next, on_failure;
} pnp_transition;

#define T(fn, ok, fail) { fn, FX_PNP_##ok, FX_PNP_##fail }
static const pnp_transition table[FX_PNP_FAILED + 1][FX_PNP_EV_COUNT] = {
    [FX_PNP_ADDED] = {
        [FX_PNP_EV_START] = T(do_start, STARTED_D0, FAILED),
        [FX_PNP_EV_REMOVE] = T(do_remove_unstarted, REMOVED, REMOVED),
        [FX_PNP_EV_SURPRISE] = T(do_surprise_unstarted, SURPRISE_REMOVED, SURPRISE_REMOVED),
    },
    [FX_PNP_STARTED_D0] = {
        [FX_PNP_EV_SET_D0] = T(do_nothing, STARTED_D0, STARTED_D0),
        [FX_PNP_EV_SET_D3] = T(do_set_d3, STARTED_DX, STARTED_DX),
        [FX_PNP_EV_REMOVE] = T(do_remove_d0, REMOVED, REMOVED),
        [FX_PNP_EV_SURPRISE] = T(do_surprise_d0, SURPRISE_REMOVED, SURPRISE_REMOVED),
    },
    [FX_PNP_STARTED_DX] = {
        [FX_PNP_EV_SET_D0] = T(do_set_d0, STARTED_D0, FAILED),
        [FX_PNP_EV_SET_D3] = T(do_nothing, STARTED_DX, STARTED_DX),
        [FX_PNP_EV_REMOVE] = T(do_remove_dx, REMOVED, REMOVED),
        [FX_PNP_EV_SURPRISE] = T(do_surprise_dx, SURPRISE_REMOVED, SURPRISE_REMOVED),
    },
    [FX_PNP_SURPRISE_REMOVED] = {
        [FX_PNP_EV_REMOVE] = T(do_remove_after_failure, REMOVED, REMOVED),
    },
    [FX_PNP_FAILED] = {
        [FX_PNP_EV_REMOVE] = T(do_remove_after_failure, REMOVED, REMOVED),
        [FX_PNP_EV_SURPRISE] = T(do_nothing, FAILED, FAILED),
    },
};
#undef T

NTSTATUS fx_pnp_event_run(fx_device *dev, fx_pnp_event ev)
{
    fx_pnp_state from = dev->pnp_state;
    if ((unsigned)from > FX_PNP_FAILED || (unsigned)ev >= FX_PNP_EV_COUNT ||
        table[from][ev].action == NULL)
        return STATUS_INVALID_DEVICE_STATE;
    const pnp_transition *t = &table[from][ev];
    fx_object_reference(&dev->obj); /* removal deletes it; keep it readable to the end */
    if (ev == FX_PNP_EV_START || (ev == FX_PNP_EV_SET_D0 && t->action != do_nothing))
        set_state(dev, FX_PNP_STARTING);
    NTSTATUS status = t->action(dev);
    set_state(dev, NT_SUCCESS(status) ? t->next : t->on_failure);
    assert_pnp_state(dev);
    fx_object_dereference(&dev->obj);
    return status;
}
