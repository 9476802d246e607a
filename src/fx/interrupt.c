/*
 * Framework interrupts (wdfinterrupt.h) on the machine's interrupt controller.
 *
 *   WdfInterruptCreate ──> CREATED ──start (assign resource)──> ASSIGNED
 *        (DeviceAdd: no resource yet;       (PrepareHardware: created with its
 *         PrepareHardware: ASSIGNED at once) descriptors, so already ASSIGNED)
 *   ASSIGNED ──D0 entry: mach_irq_connect, EvtInterruptEnable──> CONNECTED (+ ENABLED)
 *   CONNECTED ──D0 exit: EvtInterruptDisable, disconnect, DPCs flushed──> ASSIGNED
 *   ASSIGNED ──after EvtDeviceReleaseHardware──> CREATED (DeviceAdd interrupts; the
 *        resource is matched again at the next start) or deleted (PrepareHardware ones)
 *
 * Resources are matched the way KMDF's PnpMatchResources does: the interrupts created in
 * EvtDriverDeviceAdd get the translated interrupt descriptors in resource order (one per
 * MSI message). The ISR runs at the interrupt's synchronize IRQL holding its spin lock
 * (its own, or WDF_INTERRUPT_CONFIG.SpinLock shared with other interrupts, in which case
 * the synchronize IRQL is the highest DIRQL among them). On a shared line the machine
 * calls the connected ISRs in connection order until one returns TRUE; an interrupt no
 * ISR claims is counted as spurious by the machine.
 *
 * The DPC is a KDPC: queueing it while it is queued does nothing and returns FALSE. With
 * AutomaticSerialization the DPC (and the work item) runs holding the device's callback
 * lock when the device's synchronization scope is Device or Queue (KMDF's
 * _GetEffectiveLock); with scope None there is nothing to serialise with.
 */
#include <string.h>

#include "fx/device.h"
#include "fx/internal.h"

typedef enum intr_state { INTR_CREATED = 0, INTR_ASSIGNED, INTR_CONNECTED } intr_state;

typedef struct fx_interrupt fx_interrupt;

/* What WdfInterruptWdmGetInterrupt hands out while connected. */
struct _KINTERRUPT {
    fx_interrupt *owner;
};

struct fx_interrupt {
    fx_object obj;
    fx_device *device;
    LIST_ENTRY link;                   /* dev->interrupts, creation order */
    WDF_INTERRUPT_CONFIG config;
    bool from_prepare_hardware;
    intr_state state;
    CM_PARTIAL_RESOURCE_DESCRIPTOR raw, translated;
    uint32_t vector;
    KIRQL irql;                        /* DIRQL of its vector */
    KIRQL sync_irql;                   /* what the ISR and AcquireLock run at */
    bool msi;
    ULONG message;
    KSPIN_LOCK own_lock;
    volatile uintptr_t *lock;
    KIRQL acquired_old_irql;           /* WdfInterruptAcquireLock's saved IRQL */
    mach_irq_conn *conn;
    volatile bool enabled;
    fx_sync_lock *callback_lock;       /* AutomaticSerialization */
    KDPC dpc;
    mach_work work;
    volatile LONG work_pending;        /* queued or running */
    struct _KINTERRUPT kint;
};

/* The invariants of each state; a violation is a framework bug (WDF_INVALID_INTERRUPT). */
static void assert_interrupt_state(const fx_interrupt *i, intr_state expected)
{
    bool ok = i->state == expected;
    if (ok && expected == INTR_CONNECTED)
        ok = i->conn != NULL && i->sync_irql >= i->irql;
    if (ok && expected == INTR_ASSIGNED)
        ok = i->conn == NULL && i->irql > DISPATCH_LEVEL;
    if (!ok)
        fx_bugcheck(WDF_INVALID_INTERRUPT, (ULONG_PTR)fx_handle(&i->obj), i->state, expected,
                    "WDFINTERRUPT %p: state %d, expected %d, or its invariants do not hold",
                    (void *)fx_handle(&i->obj), (int)i->state, (int)expected);
}

static fx_interrupt *from_handle(WDFINTERRUPT h, const char *ddi)
{
    return FX_FROM_OBJ(fx_resolve(h, FX_TYPE_INTERRUPT, ddi), fx_interrupt);
}

#define INTR_HANDLE(i) ((WDFINTERRUPT)fx_handle(&(i)->obj))

/* ---- the lock ------------------------------------------------------------------------ */
static KIRQL lock_at_dirql(fx_interrupt *i)
{
    KIRQL old = mach_irql_raise(i->sync_irql);
    mach_spin_acquire(i->lock);
    return old;
}

static void unlock_from_dirql(fx_interrupt *i, KIRQL old)
{
    mach_spin_release(i->lock);
    mach_irql_lower(old);
}

/* ---- callbacks ----------------------------------------------------------------------- */
static bool isr_thunk(void *ctx, uint32_t message)
{
    fx_interrupt *i = ctx;
    fx_driver *prev = fx_device_callback_begin(i->device, "EvtInterruptIsr", NULL);
    BOOLEAN claimed = i->config.EvtInterruptIsr(INTR_HANDLE(i), message);
    fx_device_callback_end(i->device, "EvtInterruptIsr", prev);
    return claimed != FALSE;
}

static WDFOBJECT associated_object(fx_interrupt *i)
{
    return fx_handle(i->obj.parent);
}

static VOID dpc_routine(PKDPC dpc, PVOID context, PVOID a1, PVOID a2)
{
    (void)dpc;
    (void)a1;
    (void)a2;
    fx_interrupt *i = context;
    if (i->callback_lock)
        fx_sync_lock_acquire(i->callback_lock);
    fx_driver *prev = fx_device_callback_begin(i->device, "EvtInterruptDpc", NULL);
    i->config.EvtInterruptDpc(INTR_HANDLE(i), associated_object(i));
    fx_device_callback_end(i->device, "EvtInterruptDpc", prev);
    if (i->callback_lock)
        fx_sync_lock_release(i->callback_lock);
}

static void work_routine(mach_work *w)
{
    fx_interrupt *i = CONTAINING_RECORD(w, fx_interrupt, work);
    __atomic_store_n(&i->work_pending, 1, __ATOMIC_RELEASE); /* running: still pending */
    if (i->callback_lock)
        fx_sync_lock_acquire(i->callback_lock);
    fx_driver *prev = fx_device_callback_begin(i->device, "EvtInterruptWorkItem", NULL);
    i->config.EvtInterruptWorkItem(INTR_HANDLE(i), associated_object(i));
    fx_device_callback_end(i->device, "EvtInterruptWorkItem", prev);
    if (i->callback_lock)
        fx_sync_lock_release(i->callback_lock);
    __atomic_store_n(&i->work_pending, 0, __ATOMIC_RELEASE);
    mach_signal(i->obj.machine);
}

static NTSTATUS call_enable(fx_interrupt *i, bool enable)
{
    PFN_WDF_INTERRUPT_ENABLE fn = enable ? i->config.EvtInterruptEnable
                                         : i->config.EvtInterruptDisable;
    const char *name = enable ? "EvtInterruptEnable" : "EvtInterruptDisable";
    i->enabled = enable;
    if (fn == NULL)
        return STATUS_SUCCESS;
    KIRQL old = lock_at_dirql(i);
    fx_driver *prev = fx_device_callback_begin(i->device, name, name);
    NTSTATUS status = fn(INTR_HANDLE(i), (WDFDEVICE)fx_handle(&i->device->obj));
    fx_device_callback_end(i->device, name, prev);
    unlock_from_dirql(i, old);
    return status;
}

/* ---- the object ---------------------------------------------------------------------- */
static void interrupt_dispose(fx_object *o)
{
    fx_interrupt *i = FX_FROM_OBJ(o, fx_interrupt);
    if (i->state == INTR_CONNECTED) {
        mach_irq_disconnect(i->conn);
        i->state = INTR_ASSIGNED;
    }
    KeRemoveQueueDpc(&i->dpc);
    KIRQL old;
    KeAcquireSpinLock(&i->device->lock, &old);
    RemoveEntryList(&i->link);
    KeReleaseSpinLock(&i->device->lock, old);
    fx_object_dereference(&i->device->obj);
}

static const fx_object_ops interrupt_ops = {
    .type = FX_TYPE_INTERRUPT,
    .name = "WDFINTERRUPT",
    .dispose = interrupt_dispose,
    .driver_deletable = false,
};

/* Take the descriptors; the vector tells which model interrupt (and MSI message) it is. */
static NTSTATUS assign(fx_interrupt *i, const CM_PARTIAL_RESOURCE_DESCRIPTOR *raw,
                       const CM_PARTIAL_RESOURCE_DESCRIPTOR *translated)
{
    if (translated->Type != CmResourceTypeInterrupt || raw->Type != CmResourceTypeInterrupt)
        return STATUS_INVALID_PARAMETER;
    ULONG message;
    uint32_t vector = translated->u.Interrupt.Vector;
    const wdfdma_resource *r = fx_resources_irq_for_vector(i->device, vector, &message);
    if (r == NULL)
        return STATUS_INVALID_PARAMETER;
    i->raw = *raw;
    i->translated = *translated;
    i->vector = vector;
    i->irql = (KIRQL)translated->u.Interrupt.Level;
    i->msi = (translated->Flags & CM_RESOURCE_INTERRUPT_MESSAGE) != 0;
    i->message = message;
    i->sync_irql = i->irql;
    i->state = INTR_ASSIGNED;
    if (i->config.SpinLock != NULL)
        fx_spinlock_raise_irql(i->config.SpinLock, i->irql);
    return STATUS_SUCCESS;
}

static NTSTATUS validate_config(fx_device *dev, PWDF_INTERRUPT_CONFIG c)
{
    if (c->Size != sizeof(WDF_INTERRUPT_CONFIG))
        return STATUS_INFO_LENGTH_MISMATCH;
    if (c->EvtInterruptIsr == NULL)
        return STATUS_INVALID_PARAMETER;
    bool in_add = dev->pnp_state == FX_PNP_ADDED && !dev->in_prepare_hardware;
    if (!in_add && !dev->in_prepare_hardware)
        return STATUS_INVALID_DEVICE_STATE;
    if (in_add && (c->InterruptRaw != NULL || c->InterruptTranslated != NULL || c->CanWakeDevice))
        return STATUS_INVALID_PARAMETER;
    if (!in_add && (c->InterruptRaw == NULL || c->InterruptTranslated == NULL ||
                    c->ShareVector != WdfUseDefault))
        return STATUS_INVALID_DEVICE_STATE;
    if (c->EvtInterruptDpc != NULL && c->EvtInterruptWorkItem != NULL)
        return STATUS_INVALID_PARAMETER;
    if (c->CanWakeDevice || (!c->PassiveHandling && c->WaitLock != NULL))
        return STATUS_INVALID_PARAMETER;
    /* Passive-level interrupts (PassiveHandling) need a kernel that supports them, which
     * KMDF reports as STATUS_NOT_SUPPORTED; this machine's controller delivers at DIRQL. */
    if (c->PassiveHandling)
        return STATUS_NOT_SUPPORTED;
    return STATUS_SUCCESS;
}

/* KMDF: AutomaticSerialization serialises with the parent's callback lock when the
 * parent's scope is Device or Queue; the DPC runs at DISPATCH, so a passive-level lock is
 * STATUS_WDF_INCOMPATIBLE_EXECUTION_LEVEL. */
static NTSTATUS pick_callback_lock(fx_interrupt *i)
{
    if (!i->config.AutomaticSerialization)
        return STATUS_SUCCESS;
    fx_object *owner = fx_object_ancestor(i->obj.parent, FX_TYPE_DEVICE);
    fx_sync_lock *l = owner ? fx_device_sync_lock(FX_FROM_OBJ(owner, fx_device)) : NULL;
    if (l == NULL)
        return STATUS_SUCCESS;
    bool passive_callbacks = i->config.EvtInterruptWorkItem != NULL;
    if (l->passive != passive_callbacks) {
        fx_verifier_break("WdfInterruptCreate", "AutomaticSerialization with a %s-level device "
                          "lock and %s callbacks", l->passive ? "passive" : "dispatch",
                          passive_callbacks ? "work-item" : "DPC");
        return STATUS_WDF_INCOMPATIBLE_EXECUTION_LEVEL;
    }
    i->callback_lock = l;
    return STATUS_SUCCESS;
}

static NTSTATUS interrupt_create(fx_device *dev, PWDF_INTERRUPT_CONFIG config,
                                 PWDF_OBJECT_ATTRIBUTES attributes, fx_interrupt **out)
{
    fx_object *o;
    NTSTATUS status = fx_object_create(&interrupt_ops, sizeof(fx_interrupt), attributes,
                                       &dev->obj, config->AutomaticSerialization != FALSE, &o);
    if (!NT_SUCCESS(status))
        return status;
    fx_interrupt *i = FX_FROM_OBJ(o, fx_interrupt);
    i->device = dev;
    fx_object_reference(&dev->obj); /* dispose unlinks from the device's list */
    i->config = *config;
    i->config.InterruptRaw = i->config.InterruptTranslated = NULL;
    i->kint.owner = i;
    /* Until a resource is assigned the lock still excludes ISRs, from above DISPATCH. */
    i->sync_irql = DISPATCH_LEVEL + 1;
    KeInitializeSpinLock(&i->own_lock);
    i->lock = config->SpinLock ? fx_spinlock_word(config->SpinLock, "WdfInterruptCreate")
                               : &i->own_lock;
    KeInitializeDpc(&i->dpc, dpc_routine, i);
    i->work.fn = work_routine;
    KIRQL old;
    KeAcquireSpinLock(&dev->lock, &old);
    InsertTailList(&dev->interrupts, &i->link);
    KeReleaseSpinLock(&dev->lock, old);
    status = pick_callback_lock(i);
    if (NT_SUCCESS(status) && config->InterruptTranslated != NULL) {
        i->from_prepare_hardware = true;
        status = assign(i, config->InterruptRaw, config->InterruptTranslated);
    }
    if (!NT_SUCCESS(status)) {
        fx_object_delete(o);
        return status;
    }
    *out = i;
    return STATUS_SUCCESS;
}

/* ---- device hooks (devicepnp.c) ------------------------------------------------------ */
/* Snapshot of the device's interrupts in creation order, referenced. */
static unsigned list_interrupts(fx_device *dev, fx_interrupt **out, unsigned max)
{
    unsigned n = 0;
    KIRQL old;
    KeAcquireSpinLock(&dev->lock, &old);
    for (LIST_ENTRY *e = dev->interrupts.Flink; e != &dev->interrupts && n < max; e = e->Flink) {
        out[n] = CONTAINING_RECORD(e, fx_interrupt, link);
        fx_object_reference(&out[n]->obj);
        n++;
    }
    KeReleaseSpinLock(&dev->lock, old);
    return n;
}

static void unlist(fx_interrupt **v, unsigned n)
{
    for (unsigned k = 0; k < n; k++)
        fx_object_dereference(&v[k]->obj);
}

#define MAX_INTERRUPTS 64

NTSTATUS fx_interrupts_assign(fx_device *dev)
{
    fx_interrupt *v[MAX_INTERRUPTS];
    unsigned n = list_interrupts(dev, v, MAX_INTERRUPTS);
    CM_PARTIAL_RESOURCE_LIST *raw = &dev->raw->List[0].PartialResourceList;
    CM_PARTIAL_RESOURCE_LIST *tr = &dev->translated->List[0].PartialResourceList;
    ULONG next = 0;
    NTSTATUS status = STATUS_SUCCESS;
    for (unsigned k = 0; k < n && NT_SUCCESS(status); k++) {
        if (v[k]->state != INTR_CREATED)
            continue;
        while (next < tr->Count && tr->PartialDescriptors[next].Type != CmResourceTypeInterrupt)
            next++;
        if (next == tr->Count) {
            mach_report(dev->obj.machine, "wdf", "device %s: more WDFINTERRUPTs than "
                        "interrupt resources", dev->instance);
            status = STATUS_INSUFFICIENT_RESOURCES;
            break;
        }
        status = assign(v[k], &raw->PartialDescriptors[next], &tr->PartialDescriptors[next]);
        next++;
    }
    unlist(v, n);
    return status;
}

void fx_interrupts_release(fx_device *dev)
{
    fx_interrupt *v[MAX_INTERRUPTS];
    unsigned n = list_interrupts(dev, v, MAX_INTERRUPTS);
    for (unsigned k = 0; k < n; k++) {
        if (v[k]->from_prepare_hardware)
            fx_object_delete(&v[k]->obj);
        else {
            v[k]->state = INTR_CREATED;
            v[k]->sync_irql = DISPATCH_LEVEL + 1;
        }
    }
    unlist(v, n);
}

/* Interrupts sharing one spin lock synchronise at the highest DIRQL among them. */
static KIRQL sync_irql_of(fx_interrupt *i, fx_interrupt **v, unsigned n)
{
    KIRQL irql = i->irql;
    for (unsigned k = 0; k < n; k++)
        if (v[k]->lock == i->lock && v[k]->state != INTR_CREATED && v[k]->irql > irql)
            irql = v[k]->irql;
    return irql;
}

NTSTATUS fx_interrupts_connect(fx_device *dev)
{
    fx_interrupt *v[MAX_INTERRUPTS];
    unsigned n = list_interrupts(dev, v, MAX_INTERRUPTS);
    NTSTATUS status = STATUS_SUCCESS;
    for (unsigned k = 0; k < n && NT_SUCCESS(status); k++) {
        fx_interrupt *i = v[k];
        if (i->state != INTR_ASSIGNED)
            continue;
        assert_interrupt_state(i, INTR_ASSIGNED);
        i->sync_irql = sync_irql_of(i, v, n);
        if (mach_irq_connect(dev->obj.machine, i->vector, i->sync_irql, isr_thunk, i, i->lock,
                             &i->conn) != 0) {
            status = STATUS_INSUFFICIENT_RESOURCES;
            break;
        }
        i->state = INTR_CONNECTED;
        assert_interrupt_state(i, INTR_CONNECTED);
        status = call_enable(i, true);
    }
    unlist(v, n);
    return status;
}

static bool work_idle(void *ctx)
{
    return __atomic_load_n(&((fx_interrupt *)ctx)->work_pending, __ATOMIC_ACQUIRE) == 0;
}

void fx_interrupts_disconnect(fx_device *dev)
{
    fx_interrupt *v[MAX_INTERRUPTS];
    unsigned n = list_interrupts(dev, v, MAX_INTERRUPTS);
    for (unsigned k = 0; k < n; k++) {
        fx_interrupt *i = v[k];
        if (i->state != INTR_CONNECTED)
            continue;
        assert_interrupt_state(i, INTR_CONNECTED);
        if (i->enabled)
            (void)call_enable(i, false);
        mach_irq_disconnect(i->conn);
        i->conn = NULL;
        i->state = INTR_ASSIGNED;
    }
    /* KMDF flushes the interrupt DPCs on disconnect so D0Exit never races them. */
    KeFlushQueuedDpcs();
    for (unsigned k = 0; k < n; k++)
        mach_wait(dev->obj.machine, work_idle, v[k], -1);
    unlist(v, n);
}

/* ---- DDIs ---------------------------------------------------------------------------- */
NTSTATUS WdfInterruptCreate(WDFDEVICE Device, PWDF_INTERRUPT_CONFIG Configuration,
                            PWDF_OBJECT_ATTRIBUTES Attributes, WDFINTERRUPT *Interrupt)
{
    fx_device *dev = fx_device_from_handle(Device, "WdfInterruptCreate");
    fx_check_required(Configuration, "WdfInterruptCreate", "Configuration");
    fx_check_required(Interrupt, "WdfInterruptCreate", "Interrupt");
    if (!fx_check_irql(PASSIVE_LEVEL, "WdfInterruptCreate"))
        return STATUS_INVALID_DEVICE_REQUEST;
    *Interrupt = NULL;
    NTSTATUS status = validate_config(dev, Configuration);
    if (!NT_SUCCESS(status))
        return status;
    fx_interrupt *i;
    status = interrupt_create(dev, Configuration, Attributes, &i);
    if (NT_SUCCESS(status))
        *Interrupt = INTR_HANDLE(i);
    return status;
}

BOOLEAN WdfInterruptQueueDpcForIsr(WDFINTERRUPT Interrupt)
{
    fx_interrupt *i = from_handle(Interrupt, "WdfInterruptQueueDpcForIsr");
    if (i->config.EvtInterruptDpc == NULL) {
        fx_verifier_break("WdfInterruptQueueDpcForIsr", "the interrupt has no EvtInterruptDpc");
        return FALSE;
    }
    return KeInsertQueueDpc(&i->dpc, NULL, NULL);
}

BOOLEAN WdfInterruptQueueWorkItemForIsr(WDFINTERRUPT Interrupt)
{
    fx_interrupt *i = from_handle(Interrupt, "WdfInterruptQueueWorkItemForIsr");
    if (i->config.EvtInterruptWorkItem == NULL) {
        fx_verifier_break("WdfInterruptQueueWorkItemForIsr",
                          "the interrupt has no EvtInterruptWorkItem");
        return FALSE;
    }
    LONG expect = 0;
    if (!__atomic_compare_exchange_n(&i->work_pending, &expect, 2, false, __ATOMIC_ACQ_REL,
                                     __ATOMIC_ACQUIRE))
        return FALSE;
    mach_work_queue(i->obj.machine, &i->work);
    return TRUE;
}

BOOLEAN WdfInterruptSynchronize(WDFINTERRUPT Interrupt, PFN_WDF_INTERRUPT_SYNCHRONIZE Callback,
                                WDFCONTEXT Context)
{
    fx_interrupt *i = from_handle(Interrupt, "WdfInterruptSynchronize");
    fx_check_required((const void *)Callback, "WdfInterruptSynchronize", "Callback");
    if (!fx_check_irql(DISPATCH_LEVEL, "WdfInterruptSynchronize"))
        return FALSE;
    KIRQL old = lock_at_dirql(i);
    BOOLEAN result = Callback(Interrupt, Context);
    unlock_from_dirql(i, old);
    return result;
}

VOID WdfInterruptAcquireLock(WDFINTERRUPT Interrupt)
{
    fx_interrupt *i = from_handle(Interrupt, "WdfInterruptAcquireLock");
    if (mach_spin_held_by_me(i->lock))
        fx_bugcheck(WDF_RECURSIVE_LOCK, (ULONG_PTR)Interrupt, 0, 0,
                    "WdfInterruptAcquireLock: the interrupt lock of %p is already held by "
                    "this thread (from the ISR, or acquired twice)", (void *)Interrupt);
    if (mach_irql() > i->sync_irql)
        fx_bugcheck(WDF_VERIFIER_IRQL_MISMATCH, (ULONG_PTR)Interrupt, mach_irql(), i->sync_irql,
                    "WdfInterruptAcquireLock at IRQL %u, above the interrupt's %u", mach_irql(),
                    i->sync_irql);
    KIRQL old = lock_at_dirql(i);
    i->acquired_old_irql = old;
}

VOID WdfInterruptReleaseLock(WDFINTERRUPT Interrupt)
{
    fx_interrupt *i = from_handle(Interrupt, "WdfInterruptReleaseLock");
    if (!mach_spin_held_by_me(i->lock))
        fx_bugcheck(WDF_INVALID_LOCK_OPERATION, (ULONG_PTR)Interrupt, 0, 0,
                    "WdfInterruptReleaseLock: the interrupt lock of %p is not held",
                    (void *)Interrupt);
    unlock_from_dirql(i, i->acquired_old_irql);
}

VOID WdfInterruptEnable(WDFINTERRUPT Interrupt)
{
    fx_interrupt *i = from_handle(Interrupt, "WdfInterruptEnable");
    if (!fx_check_irql(PASSIVE_LEVEL, "WdfInterruptEnable") || i->state != INTR_CONNECTED)
        return;
    mach_irq_mask(i->conn, false);
    (void)call_enable(i, true);
}

VOID WdfInterruptDisable(WDFINTERRUPT Interrupt)
{
    fx_interrupt *i = from_handle(Interrupt, "WdfInterruptDisable");
    if (!fx_check_irql(PASSIVE_LEVEL, "WdfInterruptDisable") || i->state != INTR_CONNECTED)
        return;
    (void)call_enable(i, false);
    mach_irq_mask(i->conn, true);
}

PKINTERRUPT WdfInterruptWdmGetInterrupt(WDFINTERRUPT Interrupt)
{
    fx_interrupt *i = from_handle(Interrupt, "WdfInterruptWdmGetInterrupt");
    return i->state == INTR_CONNECTED ? &i->kint : NULL;
}

VOID WdfInterruptGetInfo(WDFINTERRUPT Interrupt, PWDF_INTERRUPT_INFO Info)
{
    fx_interrupt *i = from_handle(Interrupt, "WdfInterruptGetInfo");
    fx_check_required(Info, "WdfInterruptGetInfo", "Info");
    if (Info->Size != sizeof(WDF_INTERRUPT_INFO)) {
        fx_verifier_break("WdfInterruptGetInfo", "Info->Size %u, expected %zu", Info->Size,
                          sizeof(WDF_INTERRUPT_INFO));
        return;
    }
    WDF_INTERRUPT_INFO_INIT(Info);
    if (i->state == INTR_CREATED)
        return;
    Info->TargetProcessorSet = i->translated.u.Interrupt.Affinity;
    Info->MessageNumber = i->message;
    Info->Vector = i->vector;
    Info->Irql = i->irql;
    Info->Mode = (i->translated.Flags & CM_RESOURCE_INTERRUPT_LATCHED) ? Latched : LevelSensitive;
    Info->Polarity = WdfInterruptActiveHigh;
    Info->MessageSignaled = i->msi ? TRUE : FALSE;
    Info->ShareDisposition = i->translated.ShareDisposition;
    Info->Group = 0;
}

WDFDEVICE WdfInterruptGetDevice(WDFINTERRUPT Interrupt)
{
    fx_interrupt *i = from_handle(Interrupt, "WdfInterruptGetDevice");
    return (WDFDEVICE)fx_handle(&i->device->obj);
}

BOOLEAN WdfInterruptTryToAcquireLock(WDFINTERRUPT Interrupt)
{
    from_handle(Interrupt, "WdfInterruptTryToAcquireLock");
    if (!fx_check_irql(PASSIVE_LEVEL, "WdfInterruptTryToAcquireLock"))
        return FALSE;
    /* Only passive-level interrupts have a wait lock to try. */
    fx_verifier_break("WdfInterruptTryToAcquireLock", "not a passive-level interrupt");
    return FALSE;
}
