/*
 * The host API of include/wdfdma/host.h on the framework: drivers registered or loaded,
 * device nodes bound to them, PnP and power requests, the callback log, and the
 * framework's per-machine state with its teardown.
 *
 * A bind is what the PnP manager does for a new device: find the driver whose hardware
 * IDs include the model's, call DRIVER_EXTENSION.AddDevice (the framework's, which calls
 * EvtDriverDeviceAdd), then send IRP_MN_START_DEVICE (node_event START). A start
 * that fails is followed by removal, as the PnP manager removes a device that failed to
 * start; the node then reports "failed".
 *
 * Teardown (the machine's MACH_SLOT_FX destroy, before the engine stops): every device
 * still present is removed (surprise-removed ones get their remove), every driver is
 * unloaded (DriverUnload → EvtDriverUnload → the WDFDRIVER deleted), then any framework
 * object still alive on the machine is reported as a leak, the machine's registry
 * values are dropped (fx/registry.h) and driver modules are closed.
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <pthread.h>

#include "fx/registry.h"
#include "host/host_internal.h"
#include "wdfdma/registry.h"

/* ---- one PnP event at a time per device node ------------------------------------------ */
/* The PnP manager sends a device one PnP or power IRP at a time, and KMDF's state machine
 * queues events that arrive while it is busy. Here the sources of events are the host API
 * (bind, power, remove), machine teardown, and two kinds of PASSIVE work items: the fault
 * plan's device actions and WdfDeviceSetFailed. A work item can run while an event is in
 * progress, inside a PnP callback's wait (the sim engine runs work items there) or on a
 * worker thread; then it is deferred and runs once the event is over. A surprise removal
 * that lands in the middle of a power-down is therefore seen by the framework after the
 * power-down, as Windows would deliver it (before this, the nested removal released the
 * hardware and the power-down then finished into D3: WDF_PNP_FATAL_ERROR, soak seed 2852).
 * Host API calls from another thread wait for the running event. */
enum { DEFER_SURPRISE = 1, DEFER_POWER_DOWN, DEFER_FAILED };

static _Thread_local char pnp_thread;   /* its address names the calling thread */

static void node_idle_locked(fx_devnode *node, const void *outer)
{
    node->pnp_owner = outer;
    if (outer != NULL)
        return;
    pthread_cond_broadcast(&node->pnp_idle);
    if (node->ndeferred != 0 && node->deferred_queued == 0) {
        __atomic_store_n(&node->deferred_queued, 1, __ATOMIC_RELEASE);
        mach_work_queue(wdfdma_dev_machine(node->hardware), &node->deferred_work);
    }
}

/* Send `ev` to the node's device; waits while another thread runs one of its events. */
static NTSTATUS node_event(fx_devnode *node, fx_pnp_event ev)
{
    pthread_mutex_lock(&node->pnp_lock);
    while (node->pnp_owner != NULL && node->pnp_owner != &pnp_thread)
        pthread_cond_wait(&node->pnp_idle, &node->pnp_lock);
    const void *outer = node->pnp_owner;    /* this thread, one event up (after_failure) */
    node->pnp_owner = &pnp_thread;
    pthread_mutex_unlock(&node->pnp_lock);
    NTSTATUS status = node->device != NULL ? fx_pnp_event_run(node->device, ev)
                                           : STATUS_INVALID_DEVICE_STATE;
    pthread_mutex_lock(&node->pnp_lock);
    node_idle_locked(node, outer);
    pthread_mutex_unlock(&node->pnp_lock);
    return status;
}

/* A work item's PnP action: true if an event is in progress (here or on another thread)
 * and the action was recorded to run after it. */
static bool defer_if_busy(fx_devnode *node, uint8_t what)
{
    pthread_mutex_lock(&node->pnp_lock);
    bool busy = node->pnp_owner != NULL;
    if (busy) {
        if (node->ndeferred < sizeof(node->deferred))
            node->deferred[node->ndeferred++] = what;
        else
            mach_report(wdfdma_dev_machine(node->hardware), "pnp",
                        "device '%s': more than %zu PnP actions raised during one event; "
                        "action %u dropped", wdfdma_dev_name(node->hardware),
                        sizeof(node->deferred), what);
    }
    pthread_mutex_unlock(&node->pnp_lock);
    return busy;
}

static void node_init_events(fx_devnode *node);
static void node_destroy_events(fx_devnode *node)
{
    pthread_mutex_destroy(&node->pnp_lock);
    pthread_cond_destroy(&node->pnp_idle);
}

/* The device's PnP state. It is stored atomically by the PnP machine, which may run on a
 * worker thread (a deferred action, WdfDeviceSetFailed) while the host reads it. */
static fx_pnp_state pnp_state_of(const fx_device *dev)
{
    return __atomic_load_n(&dev->pnp_state, __ATOMIC_ACQUIRE);
}

/* ---- per-machine state --------------------------------------------------------------- */
static bool node_quiet(void *ctx)
{
    fx_devnode *node = ctx;
    return __atomic_load_n(&node->failed_queued, __ATOMIC_ACQUIRE) == 0 &&
           __atomic_load_n(&node->deferred_queued, __ATOMIC_ACQUIRE) == 0;
}

static void remove_remaining(fx_devnode *node)
{
    mach_wait(mach_current(), node_quiet, node, -1);
    fx_device *dev = node->device;
    if (dev == NULL)
        return;
    if (pnp_state_of(dev) != FX_PNP_REMOVED) {
        (void)node_event(node, FX_PNP_EV_REMOVE);
        fx_verifier_check_removal(dev);
        /* The removal's callbacks may have reported the device failed, or raised actions
         * deferred behind the event: they run on work items (and find it gone) before
         * the node, which they use, is freed. */
        mach_wait(mach_current(), node_quiet, node, -1);
    }
    node->device = NULL;
    fx_object_dereference(&dev->obj);
}

static void unload_driver(struct wdfdma_driver *d)
{
    if (d->fx == NULL)
        return;
    if (d->object.DriverUnload != NULL) {
        uint32_t id = d->fx->obj.id;
        mach_callback_enter("DriverUnload", id);
        d->object.DriverUnload(&d->object);
        mach_callback_exit("DriverUnload", id);
    }
    if (d->fx != NULL) /* a driver without DriverUnload: the framework still deletes it */
        fx_object_delete(&d->fx->obj);
}

static void state_destroy(void *p)
{
    fx_machine_state *st = p;
    wdfdma_machine *m = st->machine;
    mach_fault_set_action_handler(m, NULL, NULL); /* fault actions now reach nobody */
    for (fx_devnode *n = st->nodes; n != NULL; n = n->next)
        remove_remaining(n);
    for (struct wdfdma_driver *d = st->drivers; d != NULL; d = d->next)
        unload_driver(d);
    fx_registry_forget_machine(m);
    uint64_t leaked = fx_object_report_leaks(m);
    if (leaked)
        mach_report(m, "leak", "%llu framework object(s) alive at machine teardown",
                    (unsigned long long)leaked);
    while (st->nodes != NULL) {
        fx_devnode *next = st->nodes->next;
        mach_device_set_binding(st->nodes->hardware, NULL);
        if (st->nodes->add_init != NULL)   /* a bug check unwound EvtDriverDeviceAdd */
            ExFreePool(st->nodes->add_init);
        node_destroy_events(st->nodes);
        free(st->nodes);
        st->nodes = next;
    }
    while (st->drivers != NULL) {
        struct wdfdma_driver *next = st->drivers->next;
        if (st->drivers->dl)
            dlclose(st->drivers->dl);
        free(st->drivers->ids);
        free(st->drivers->inf);
        free(st->drivers);
        st->drivers = next;
    }
    free(st);
}

static bool present(const fx_devnode *node);
static int after_failure(fx_devnode *node, NTSTATUS status, const char *what);

/* The fault plan's device-level actions (src/machine/faults.c), on a PASSIVE_LEVEL work
 * item: "surprise-remove" has already pulled the hardware, PnP now learns of it (the
 * host's wdfdma_device_remove, or machine teardown, sends the remove that follows);
 * "power-down" is a D3 request in the middle of whatever the device was doing, followed
 * by D0, as a system sleep and resume. A failing power transition fails the device as
 * a host request would. */
static void run_fault_action(fx_devnode *node, bool surprise)
{
    if (!present(node) || defer_if_busy(node, surprise ? DEFER_SURPRISE : DEFER_POWER_DOWN))
        return;
    if (surprise) {
        (void)node_event(node, FX_PNP_EV_SURPRISE);
        return;
    }
    NTSTATUS status = node_event(node, FX_PNP_EV_SET_D3);
    if (NT_SUCCESS(status) && present(node))
        status = node_event(node, FX_PNP_EV_SET_D0);
    if (!NT_SUCCESS(status) && status != STATUS_INVALID_DEVICE_STATE && present(node))
        (void)after_failure(node, status, "power-down fault");
}

static void fault_action(void *ctx, wdfdma_dev *hw, mach_fault_action action)
{
    (void)ctx;
    run_fault_action(mach_device_binding(hw), action == MACH_FAULT_ACT_SURPRISE_REMOVE);
}

fx_machine_state *fx_state(wdfdma_machine *m)
{
    static pthread_mutex_t create_lock = PTHREAD_MUTEX_INITIALIZER;
    fx_machine_state *st = mach_slot(m, MACH_SLOT_FX);
    if (st != NULL)
        return st;
    pthread_mutex_lock(&create_lock);
    st = mach_slot(m, MACH_SLOT_FX);
    if (st == NULL) {
        st = calloc(1, sizeof(*st));
        if (st == NULL) {
            pthread_mutex_unlock(&create_lock);
            mach_bugcheck(0x1E, (uint64_t)(ULONG)STATUS_NO_MEMORY, 0, 0, 0,
                          "out of host memory creating the framework state");
        }
        st->machine = m;
        mach_set_slot(m, MACH_SLOT_FX, st, state_destroy);
        mach_fault_set_action_handler(m, fault_action, st);
    }
    pthread_mutex_unlock(&create_lock);
    return st;
}

/* ---- drivers ------------------------------------------------------------------------- */
static void widen(WCHAR *out, size_t cap, const char *a, const char *b)
{
    size_t n = 0;
    for (const char *s = a; *s && n + 1 < cap; s++)
        out[n++] = (WCHAR)(unsigned char)*s;
    for (const char *s = b; *s && n + 1 < cap; s++)
        out[n++] = (WCHAR)(unsigned char)*s;
    out[n] = 0;
}

static void init_image(struct wdfdma_driver *d, wdfdma_machine *m, const char *name,
                       wdfdma_driver_entry entry, void *dl)
{
    d->machine = m;
    snprintf(d->name, sizeof(d->name), "%s", name);
    d->dl = dl;
    d->entry = (NTSTATUS(*)(PDRIVER_OBJECT, PUNICODE_STRING))(void (*)(void))entry;
    widen(d->registry_buffer, sizeof(d->registry_buffer) / sizeof(WCHAR),
          "\\Registry\\Machine\\System\\CurrentControlSet\\Services\\", name);
    RtlInitUnicodeString(&d->registry_path, d->registry_buffer);
    d->object.Type = 4; /* IO_TYPE_DRIVER */
    d->object.Size = (CSHORT)sizeof(DRIVER_OBJECT);
    d->object.DriverExtension = &d->extension;
    d->extension.DriverObject = &d->object;
    d->object.DriverInit = d->entry;
    d->extension.ServiceKeyName = d->registry_path;
}

static void unlink_image(fx_machine_state *st, struct wdfdma_driver *d)
{
    mach_spin_acquire(&st->lock);
    for (struct wdfdma_driver **p = &st->drivers; *p != NULL; p = &(*p)->next) {
        if (*p == d) {
            *p = d->next;
            break;
        }
    }
    mach_spin_release(&st->lock);
}

static NTSTATUS run_driver_entry(struct wdfdma_driver *d)
{
    mach_callback_enter("DriverEntry", 0);
    NTSTATUS status = d->entry(&d->object, &d->registry_path);
    mach_callback_exit("DriverEntry", 0);
    return status;
}

int host_driver_add(wdfdma_machine *m, const char *name, wdfdma_driver_entry entry, void *dl,
                    const char *inf, char (*ids)[128], unsigned n, wdfdma_driver **out)
{
    fx_machine_state *st = fx_state(m);
    mach_spin_acquire(&st->lock);
    for (struct wdfdma_driver *d = st->drivers; d != NULL; d = d->next) {
        if (strcmp(d->name, name) == 0) {
            mach_spin_release(&st->lock);
            free(ids);
            if (dl)
                dlclose(dl);
            return mach_error(EEXIST, "a driver named '%s' is already on this machine", name);
        }
    }
    mach_spin_release(&st->lock);
    struct wdfdma_driver *d = calloc(1, sizeof(*d));
    if (d == NULL) {
        free(ids);
        if (dl)
            dlclose(dl);
        return mach_error(ENOMEM, "out of memory for driver '%s'", name);
    }
    init_image(d, m, name, entry, dl);
    d->ids = ids;
    d->nids = n;
    if (inf != NULL && (d->inf = strdup(inf)) == NULL) {
        free(ids);
        free(d);
        if (dl)
            dlclose(dl);
        return mach_error(ENOMEM, "out of memory for driver '%s'", name);
    }
    mach_spin_acquire(&st->lock);
    d->next = st->drivers;
    st->drivers = d;
    mach_spin_release(&st->lock);

    NTSTATUS status = run_driver_entry(d);
    if (!NT_SUCCESS(status)) {
        /* KMDF: a failing DriverEntry gets no EvtDriverUnload; its WDFDRIVER is deleted. */
        if (d->fx)
            fx_object_delete(&d->fx->obj);
        unlink_image(st, d);
        if (d->dl)
            dlclose(d->dl);
        free(d->ids);
        free(d->inf);
        free(d);
        return mach_error(EIO, "DriverEntry of '%s' failed with NTSTATUS 0x%08X", name,
                          (unsigned)status);
    }
    if (out)
        *out = d;
    return 0;
}

int wdfdma_driver_register(wdfdma_machine *m, const char *name, wdfdma_driver_entry entry,
                           wdfdma_driver **out)
{
    if (out)
        *out = NULL;
    if (m == NULL)
        return mach_error(EINVAL, "wdfdma_driver_register: machine is NULL");
    if (name == NULL || name[0] == '\0' || strlen(name) >= 64)
        return mach_error(EINVAL, "wdfdma_driver_register: name must be 1..63 characters");
    if (entry == NULL)
        return mach_error(EINVAL, "wdfdma_driver_register: driver '%s' has no DriverEntry",
                          name);
    mach_enter(m);
    return host_driver_add(m, name, entry, NULL, NULL, NULL, 0, out);
}

int wdfdma_driver_add_id(wdfdma_driver *drv, const char *hardware_id)
{
    if (drv == NULL)
        return mach_error(EINVAL, "wdfdma_driver_add_id: driver is NULL");
    if (hardware_id == NULL || hardware_id[0] == '\0' || strlen(hardware_id) >= 128)
        return mach_error(EINVAL, "wdfdma_driver_add_id: hardware ID must be 1..127 characters");
    char(*ids)[128] = realloc(drv->ids, (drv->nids + 1) * sizeof(*ids));
    if (ids == NULL)
        return mach_error(ENOMEM, "out of memory adding a hardware ID");
    snprintf(ids[drv->nids], sizeof(ids[0]), "%s", hardware_id);
    drv->ids = ids;
    drv->nids++;
    return 0;
}

const char *wdfdma_driver_name(const wdfdma_driver *drv)
{
    return drv ? drv->name : "";
}

/* ---- device nodes -------------------------------------------------------------------- */
static bool serves(const struct wdfdma_driver *d, const char *hwid)
{
    for (unsigned i = 0; i < d->nids; i++)
        if (strcasecmp(d->ids[i], hwid) == 0)
            return true;
    return false;
}

static struct wdfdma_driver *find_driver(fx_machine_state *st, const char *hwid)
{
    struct wdfdma_driver *found = NULL;
    mach_spin_acquire(&st->lock);
    for (struct wdfdma_driver *d = st->drivers; d != NULL; d = d->next)
        if (d->fx != NULL && serves(d, hwid))
            found = d; /* the list is newest first: keep the oldest match */
    mach_spin_release(&st->lock);
    return found;
}

static fx_devnode *node_for(fx_machine_state *st, wdfdma_dev *hw)
{
    fx_devnode *node = mach_device_binding(hw);
    if (node != NULL)
        return node;
    node = calloc(1, sizeof(*node));
    if (node == NULL)
        return NULL;
    node->hardware = hw;
    node->pdo.Type = 3; /* IO_TYPE_DEVICE */
    node->pdo.Size = (USHORT)sizeof(DEVICE_OBJECT);
    node->pdo.DeviceExtension = hw;
    node->pdo.StackSize = 1;
    node_init_events(node);
    mach_device_set_binding(hw, node);
    mach_spin_acquire(&st->lock);
    node->next = st->nodes;
    st->nodes = node;
    mach_spin_release(&st->lock);
    return node;
}

static bool present(const fx_devnode *node)
{
    return node != NULL && node->device != NULL && pnp_state_of(node->device) != FX_PNP_REMOVED;
}

/* A failed start or power-up: PnP removes the device, the node says "failed". */
static int after_failure(fx_devnode *node, NTSTATUS status, const char *what)
{
    node->start_failed = true;
    if (node->device != NULL && pnp_state_of(node->device) == FX_PNP_FAILED)
        (void)node_event(node, FX_PNP_EV_REMOVE);
    return mach_error(EIO, "device '%s': %s failed with NTSTATUS 0x%08X",
                      wdfdma_dev_name(node->hardware), what, (unsigned)status);
}

/* Windows' installer writes the INF's AddReg values before the driver first sees the
 * device. Values the host set already win (the INF loader never overwrites), and a device
 * bound explicitly to a driver whose INF does not list it simply gets no INF values. */
static int install_registry(fx_devnode *node, struct wdfdma_driver *drv)
{
    if (drv->inf == NULL)
        return 0;
    const char *hwid = mach_device_model(node->hardware)->hardware_id;
    bool listed = false;
    for (unsigned i = 0; i < drv->nids && !listed; i++)
        listed = hwid != NULL && strcasecmp(drv->ids[i], hwid) == 0;
    if (!listed)
        return 0;
    return wdfdma_inf_load_registry(wdfdma_dev_machine(node->hardware), drv->inf,
                                    wdfdma_dev_name(node->hardware));
}

static int add_and_start(fx_devnode *node, struct wdfdma_driver *drv)
{
    if (node->device != NULL) { /* a removed device from an earlier bind: let it go */
        fx_object_dereference(&node->device->obj);
        node->device = NULL;
    }
    node->driver = drv;
    node->start_failed = false;
    node->pdo.DriverObject = NULL;
    PDRIVER_ADD_DEVICE add = drv->object.DriverExtension->AddDevice;
    if (add == NULL)
        return mach_error(EINVAL, "driver '%s' is not a PnP driver (no AddDevice)", drv->name);
    int rc = install_registry(node, drv);
    if (rc != 0)
        return rc;
    NTSTATUS status = add(&drv->object, &node->pdo);
    if (!NT_SUCCESS(status)) {
        node->start_failed = true;
        return mach_error(EIO, "device '%s': EvtDriverDeviceAdd of '%s' failed with NTSTATUS "
                          "0x%08X", wdfdma_dev_name(node->hardware), drv->name, (unsigned)status);
    }
    status = node_event(node, FX_PNP_EV_START);
    return NT_SUCCESS(status) ? 0 : after_failure(node, status, "start");
}

int wdfdma_device_bind(wdfdma_dev *dev, wdfdma_driver *drv)
{
    if (dev == NULL)
        return mach_error(EINVAL, "wdfdma_device_bind: device is NULL");
    wdfdma_machine *m = wdfdma_dev_machine(dev);
    mach_enter(m);
    fx_machine_state *st = fx_state(m);
    if (present(mach_device_binding(dev)))
        return mach_error(EBUSY, "device '%s' is already bound", wdfdma_dev_name(dev));
    const char *hwid = mach_device_model(dev)->hardware_id;
    if (drv == NULL) {
        drv = find_driver(st, hwid ? hwid : "");
        if (drv == NULL)
            return mach_error(ENOENT, "no driver on this machine serves hardware ID '%s' "
                              "(device '%s')", hwid ? hwid : "", wdfdma_dev_name(dev));
    } else if (drv->machine != m) {
        return mach_error(EINVAL, "driver '%s' belongs to another machine", drv->name);
    }
    if (drv->fx == NULL)
        return mach_error(EINVAL, "driver '%s' did not call WdfDriverCreate", drv->name);
    fx_devnode *node = node_for(st, dev);
    if (node == NULL)
        return mach_error(ENOMEM, "out of memory for a device node");
    return add_and_start(node, drv);
}

static int pnp_request(wdfdma_dev *dev, fx_pnp_event ev, const char *what, fx_devnode **out)
{
    if (dev == NULL)
        return mach_error(EINVAL, "%s: device is NULL", what);
    mach_enter(wdfdma_dev_machine(dev));
    fx_devnode *node = mach_device_binding(dev);
    if (!present(node))
        return mach_error(ENODEV, "%s: device '%s' is not bound to a driver", what,
                          wdfdma_dev_name(dev));
    fx_pnp_state from = pnp_state_of(node->device);
    NTSTATUS status = node_event(node, ev);
    if (status == STATUS_INVALID_DEVICE_STATE && pnp_state_of(node->device) == from)
        return mach_error(EINVAL, "%s: not possible for device '%s' in state '%s'", what,
                          wdfdma_dev_name(dev), fx_pnp_state_name(from));
    if (out)
        *out = node;
    return NT_SUCCESS(status) ? 0 : after_failure(node, status, what);
}

int wdfdma_device_set_power(wdfdma_dev *dev, wdfdma_power state)
{
    if (state != WDFDMA_D0 && state != WDFDMA_D3)
        return mach_error(EINVAL, "wdfdma_device_set_power: state %d is not WDFDMA_D0 (1) or "
                          "WDFDMA_D3 (4)", (int)state);
    return pnp_request(dev, state == WDFDMA_D0 ? FX_PNP_EV_SET_D0 : FX_PNP_EV_SET_D3,
                       state == WDFDMA_D0 ? "power-up to D0" : "power-down to D3", NULL);
}

int wdfdma_device_remove(wdfdma_dev *dev)
{
    fx_devnode *node = NULL;
    int rc = pnp_request(dev, FX_PNP_EV_REMOVE, "remove", &node);
    /* The node still references the removed device, so its objects can be matched. */
    if (rc == 0 && node != NULL && node->device != NULL)
        fx_verifier_check_removal(node->device);
    return rc;
}

int wdfdma_device_surprise_remove(wdfdma_dev *dev)
{
    return pnp_request(dev, FX_PNP_EV_SURPRISE, "surprise removal", NULL);
}

const char *wdfdma_device_state(wdfdma_dev *dev)
{
    fx_devnode *node = dev ? mach_device_binding(dev) : NULL;
    if (node == NULL)
        return "unbound";
    if (node->start_failed)
        return "failed";
    if (node->device == NULL)
        return "unbound";
    return fx_pnp_state_name(pnp_state_of(node->device));
}

size_t wdfdma_device_callback_log(wdfdma_dev *dev, const char **out, size_t max)
{
    fx_devnode *node = dev ? mach_device_binding(dev) : NULL;
    if (node == NULL || node->device == NULL || out == NULL)
        return 0;
    fx_device *d = node->device;
    unsigned cap = (unsigned)(sizeof(d->log) / sizeof(d->log[0]));
    mach_spin_acquire(&d->log_lock);
    size_t n = d->log_count < max ? d->log_count : max;
    for (size_t i = 0; i < n; i++)
        out[i] = d->log[(d->log_head + i) % cap];
    mach_spin_release(&d->log_lock);
    return n;
}

void wdfdma_device_callback_log_clear(wdfdma_dev *dev)
{
    fx_devnode *node = dev ? mach_device_binding(dev) : NULL;
    if (node == NULL || node->device == NULL)
        return;
    mach_spin_acquire(&node->device->log_lock);
    node->device->log_head = node->device->log_count = 0;
    mach_spin_release(&node->device->log_lock);
}

/* ---- WdfDeviceSetFailed -------------------------------------------------------------- */
/* Windows sends a device that reports itself failed IRP_MN_SURPRISE_REMOVAL and then
 * IRP_MN_REMOVE_DEVICE; with AttemptRestart the device is enumerated and started again. */
static void run_failed(fx_devnode *node)
{
    if (present(node)) {
        if (defer_if_busy(node, DEFER_FAILED))
            return;                         /* failed_queued stays set until it runs */
        (void)node_event(node, FX_PNP_EV_SURPRISE);
        (void)node_event(node, FX_PNP_EV_REMOVE);
        if (node->failed_action == WdfDeviceFailedAttemptRestart && node->driver->fx != NULL)
            (void)add_and_start(node, node->driver);
    }
    __atomic_store_n(&node->failed_queued, 0, __ATOMIC_RELEASE);
    mach_signal(wdfdma_dev_machine(node->hardware));
}

static void failed_work(mach_work *w)
{
    run_failed(CONTAINING_RECORD(w, fx_devnode, failed_work));
}

/* The actions deferred while an event ran, in the order they were raised. One that finds
 * the node busy again (a worker thread started another event) is deferred again. */
static void deferred_work(mach_work *w)
{
    fx_devnode *node = CONTAINING_RECORD(w, fx_devnode, deferred_work);
    uint8_t todo[sizeof(node->deferred)];
    pthread_mutex_lock(&node->pnp_lock);
    unsigned n = node->ndeferred;
    memcpy(todo, node->deferred, n);
    node->ndeferred = 0;
    pthread_mutex_unlock(&node->pnp_lock);
    for (unsigned i = 0; i < n; i++) {
        if (todo[i] == DEFER_FAILED)
            run_failed(node);
        else
            run_fault_action(node, todo[i] == DEFER_SURPRISE);
    }
    pthread_mutex_lock(&node->pnp_lock);
    __atomic_store_n(&node->deferred_queued, 0, __ATOMIC_RELEASE);
    /* Deferred again meanwhile, and the node already idle: nobody else will queue it. */
    if (node->pnp_owner == NULL)
        node_idle_locked(node, NULL);
    pthread_mutex_unlock(&node->pnp_lock);
    mach_signal(wdfdma_dev_machine(node->hardware));
}

static void node_init_events(fx_devnode *node)
{
    pthread_mutex_init(&node->pnp_lock, NULL);
    pthread_cond_init(&node->pnp_idle, NULL);
    node->deferred_work.fn = deferred_work;
}

void fx_device_report_failed(fx_device *dev, WDF_DEVICE_FAILED_ACTION action)
{
    dev->set_failed = true;
    dev->failed_action = action;
    fx_devnode *node = dev->node;
    LONG expect = 0;
    if (node == NULL || !__atomic_compare_exchange_n(&node->failed_queued, &expect, 1, false,
                                                     __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
        return;
    node->failed_action = action;
    node->failed_work.fn = failed_work;
    mach_work_queue(dev->obj.machine, &node->failed_work);
}
