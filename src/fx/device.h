/*
 * The framework device (WDFDEVICE) as the framework's modules see it.
 *
 * Ownership of the code: device.c / devicepnp.c (creation, PnP and power state machine,
 * resources, interfaces) and queue.c / request.c / iodispatch.c (I/O) both use this
 * struct; each field says who writes it.
 */
#ifndef WDFDMA_FX_DEVICE_H
#define WDFDMA_FX_DEVICE_H

#include "fx/internal.h"

struct fx_driver;
struct fx_queue;
struct fx_devnode;

/* ---- drivers (driver.c, src/host) ----------------------------------------------------- */
/* A driver image known to a machine: loaded from a shared object or registered statically
 * (include/wdfdma/host.h's wdfdma_driver). The host owns the record; DriverEntry gets its
 * DRIVER_OBJECT and WdfDriverCreate attaches the framework driver to it. */
struct wdfdma_driver {
    struct wdfdma_driver *next;
    wdfdma_machine *machine;
    char name[64];
    void *dl;                            /* dlopen handle; NULL when registered */
    NTSTATUS (*entry)(PDRIVER_OBJECT, PUNICODE_STRING);
    DRIVER_OBJECT object;
    DRIVER_EXTENSION extension;
    UNICODE_STRING registry_path;
    WCHAR registry_buffer[128];
    struct fx_driver *fx;                /* set by WdfDriverCreate */
    char (*ids)[128];                    /* hardware IDs it serves (INF [Models] lines) */
    unsigned nids;
    char *inf;                           /* its INF (AddReg applied at bind), or NULL */
};

typedef struct fx_driver {
    fx_object obj;
    struct wdfdma_driver *image;
    WDF_DRIVER_CONFIG config;
} fx_driver;

fx_driver *fx_driver_from_handle(WDFDRIVER handle, const char *ddi);

/* The framework's per-machine state (the machine's MACH_SLOT_FX; binding.c). */
typedef struct fx_machine_state {
    wdfdma_machine *machine;
    struct wdfdma_driver *drivers;       /* newest first */
    struct fx_devnode *nodes;            /* bound device nodes, newest first */
    KSPIN_LOCK lock;                     /* guards both lists */
} fx_machine_state;
fx_machine_state *fx_state(wdfdma_machine *m);

/* A device node: a hardware instance bound to a driver (binding.c). It keeps a reference
 * on the WDFDEVICE so its callback log stays readable after removal. */
typedef struct fx_devnode {
    struct fx_devnode *next;
    wdfdma_dev *hardware;
    struct wdfdma_driver *driver;
    struct fx_device *device;            /* referenced; NULL if DeviceAdd created none */
    DEVICE_OBJECT pdo;                   /* the bus's device object: DeviceExtension = hardware */
    bool start_failed;                   /* the last bind's start (or D0) failed */
    mach_work failed_work;               /* WdfDeviceSetFailed teardown (PASSIVE) */
    volatile LONG failed_queued;
    WDF_DEVICE_FAILED_ACTION failed_action;
    /* The WDFDEVICE_INIT while EvtDriverDeviceAdd runs. Kept here, not only on the stack,
     * so a bug check that unwinds out of the callback leaves it owned by the node. */
    struct WDFDEVICE_INIT *add_init;
    /* PnP/power events run one at a time (src/host/binding.c, node_event): the thread
     * running one, and work raised meanwhile that must wait for it (fault-plan actions,
     * WdfDeviceSetFailed), run by deferred_work once the node is idle. */
    pthread_mutex_t pnp_lock;
    pthread_cond_t pnp_idle;
    const void *pnp_owner;
    uint8_t deferred[8];
    unsigned ndeferred;
    mach_work deferred_work;
    volatile LONG deferred_queued;
} fx_devnode;

/* The PnP/power states a device node goes through (see devicepnp.c for the diagram). */
typedef enum fx_pnp_state {
    FX_PNP_ADDED = 0,        /* WdfDeviceCreate succeeded, not started */
    FX_PNP_STARTING,         /* start sequence running */
    FX_PNP_STARTED_D0,       /* started, powered */
    FX_PNP_STARTED_DX,       /* started, in a low-power state (queues held) */
    FX_PNP_SURPRISE_REMOVED, /* hardware gone, not yet removed */
    FX_PNP_REMOVED,          /* removal finished, object deleted */
    FX_PNP_FAILED,           /* a start/power callback failed */
} fx_pnp_state;

/* WDFDEVICE_INIT as the framework fills it during EvtDriverDeviceAdd. */
typedef struct WDFDEVICE_INIT {
    struct fx_driver *driver;
    wdfdma_dev *hardware;
    WDF_PNPPOWER_EVENT_CALLBACKS pnp;
    bool pnp_set;
    WDF_DEVICE_IO_TYPE io_type;
    WDF_OBJECT_ATTRIBUTES request_attributes;
    bool request_attributes_set;
    bool exclusive;
    DEVICE_TYPE device_type;
    bool power_policy_owner;
    UNICODE_STRING name;
    WCHAR name_buffer[128];
    bool used;               /* WdfDeviceCreate consumed it */
    /* read by the I/O side (file objects, in-caller-context) */
    WDF_FILEOBJECT_CONFIG file_config;
    bool file_config_set;
    WDF_OBJECT_ATTRIBUTES file_attributes;
    bool file_attributes_set;
    PFN_WDF_IO_IN_CALLER_CONTEXT io_in_caller_context;
    ULONG characteristics;
    bool power_pageable;
    WDF_RELEASE_HARDWARE_ORDER_ON_FAILURE release_order;
} WDFDEVICE_INIT;

typedef struct fx_device {
    fx_object obj;
    struct fx_driver *driver;            /* device.c */
    wdfdma_dev *hardware;                /* device.c: the device model instance */
    DEVICE_OBJECT *wdm;                  /* device.c: its WDM device object (FDO) */
    WDF_PNPPOWER_EVENT_CALLBACKS pnp;    /* device.c */
    WDF_DEVICE_IO_TYPE io_type;          /* device.c; read by iodispatch.c */
    WDF_OBJECT_ATTRIBUTES request_attributes; /* device.c; read by request.c */
    bool has_request_attributes;
    ULONG alignment;                     /* WdfDeviceSetAlignmentRequirement */
    fx_pnp_state pnp_state;              /* devicepnp.c */
    WDF_POWER_DEVICE_STATE power_state;  /* devicepnp.c: WdfPowerDeviceD0, D3, ... */
    /* queue.c: the default queue and the per-request-type dispatch targets */
    struct fx_queue *default_queue;
    struct fx_queue *dispatch[IRP_MJ_MAXIMUM_FUNCTION + 1];
    LIST_ENTRY queues;                   /* queue.c: every queue of the device */
    LIST_ENTRY interrupts;               /* interrupt.c: creation order */
    LIST_ENTRY power_participants;       /* device.c: DMA enablers, creation order */
    KSPIN_LOCK lock;                     /* protects the lists above */
    /* resources (devicepnp.c): raw and translated, built from the model's resources */
    CM_RESOURCE_LIST *raw, *translated;
    WDFCMRESLIST raw_handle, translated_handle;
    /* device interfaces and names a host can open (device.c) */
    struct fx_interface *interfaces;
    /* v2 packet DMA: one packet transaction at a time per device (dmatransaction.c) */
    volatile LONG packet_dma_busy;
    /* callback log for tests (device.c): a ring of static strings */
    const char *log[256];
    unsigned log_head, log_count;
    LONG outstanding_io;                 /* iodispatch.c: IRPs in the framework */
    /* device.c */
    struct fx_devnode *node;
    char instance[64];                   /* the hardware instance name (host opens it) */
    char symlink[64];                    /* WdfDeviceCreateSymbolicLink, without prefix */
    UNICODE_STRING name;                 /* WdfDeviceInitAssignName, or empty */
    WCHAR name_buffer[128];
    WDF_FILEOBJECT_CONFIG file_config;   /* from WDFDEVICE_INIT; read by the I/O side */
    bool has_file_config;
    WDF_OBJECT_ATTRIBUTES file_attributes;
    bool has_file_attributes;
    /* fileobject.c: set by fx_file_device_init (WdfDeviceCreate), then read-only */
    WDF_FILEOBJECT_CLASS file_class;     /* WdfFileObjectNotRequired: no WDFFILEOBJECTs */
    WDF_SYNCHRONIZATION_SCOPE file_scope; /* resolved: None or Device */
    fx_sync_lock *file_lock;             /* serialises the file callbacks, or NULL */
    struct fx_queue *create_queue;       /* holds creates presented to EvtDeviceFileCreate */
    LIST_ENTRY files;                    /* fileobject.c: every WDFFILEOBJECT (dev->lock) */
    PFN_WDF_IO_IN_CALLER_CONTEXT io_in_caller_context;
    fx_sync_lock sync;                   /* device-scope callback lock */
    volatile uintptr_t log_lock;         /* machine spin lock word: guards the log ring */
    unsigned interface_count;
    /* devicepnp.c: state history (the last 8 states, for reports) and what is owed */
    uint8_t pnp_history[8];
    unsigned pnp_history_next;
    bool hardware_prepared;              /* PrepareHardware called: ReleaseHardware owed */
    bool smio_started;                   /* SelfManagedIoInit called: Flush/Cleanup owed */
    bool smio_failed;                    /* SelfManagedIoInit/Restart failed */
    bool hardware_gone;                  /* surprise removed */
    bool in_prepare_hardware;            /* WdfInterruptCreate with descriptors allowed */
    bool set_failed;                     /* WdfDeviceSetFailed was called */
    WDF_DEVICE_FAILED_ACTION failed_action;
    LONG idle_refs;                      /* WdfDeviceStopIdle references */
    /* queue.c / request.c / iodispatch.c (fx/io.h); zero until the first I/O use */
    KSPIN_LOCK io_lock;                  /* every queue's and request's state */
    struct fx_request *request_free_head, *request_free_tail; /* FIFO free list */
    ULONG requests_allocated;            /* request objects ever created for the device */
    bool io_powered;                     /* power-managed queues may dispatch (D0, started) */
    bool io_removed;                     /* fx_io_purge ran: no queue accepts again */
    volatile LONG io_generation;         /* bumped by every dispatch-loop exit (waiters) */
} fx_device;

/* The device-scope callback lock of `dev`, or NULL when its synchronization scope is not
 * Device (then AutomaticSerialization serialises nothing, as in KMDF). */
fx_sync_lock *fx_device_sync_lock(fx_device *dev);

/* Host name lookup for wdfdma_open (device.c): the hardware instance name ("sgdma0"),
 * the WdfDeviceInitAssignName name without its "\\Device\\" prefix, "{GUID}" (the
 * first started device with that interface, in binding order) or "{GUID}#N" (the N-th,
 * from 0). Only started devices (D0 or Dx) are found; NULL otherwise. */
fx_device *fx_device_open_by_name(wdfdma_machine *m, const char *name);

typedef struct fx_interface {
    struct fx_interface *next;
    GUID guid;
    char reference[64];
} fx_interface;

fx_device *fx_device_from_handle(WDFDEVICE handle, const char *ddi);
/* DRIVER_EXTENSION.AddDevice's work (device.c): build a WDFDEVICE_INIT for the hardware
 * behind `pdo` and call the driver's EvtDriverDeviceAdd. A DeviceAdd that fails deletes
 * the device it created; one that succeeds without creating a device is
 * STATUS_INVALID_DEVICE_STATE. */
NTSTATUS fx_device_add(struct fx_driver *drv, PDEVICE_OBJECT pdo);
/* Driver callback bracket (device.c): records `entry` in the callback log (NULL: not
 * logged), marks the callback in progress (trace, bug-check reports) and makes the
 * device's driver current. Returns what fx_device_callback_end restores. */
struct fx_driver *fx_device_callback_begin(fx_device *dev, const char *name, const char *entry);
void fx_device_callback_end(fx_device *dev, const char *name, struct fx_driver *prev);
fx_device *fx_device_from_hardware(wdfdma_dev *hw);
fx_device *fx_device_from_wdm(PDEVICE_OBJECT wdm);

/* ---- PnP and power (devicepnp.c), driven by the host API (binding.c) ---------------- */
typedef enum fx_pnp_event {
    FX_PNP_EV_START = 0,      /* IRP_MN_START_DEVICE */
    FX_PNP_EV_SET_D0,         /* device set-power D0 */
    FX_PNP_EV_SET_D3,         /* device set-power D3 */
    FX_PNP_EV_REMOVE,         /* IRP_MN_REMOVE_DEVICE */
    FX_PNP_EV_SURPRISE,       /* IRP_MN_SURPRISE_REMOVAL */
    FX_PNP_EV_COUNT
} fx_pnp_event;
/* Run one event through the device's state machine at PASSIVE_LEVEL. Returns the status
 * of the transition (a failing driver callback's status, or STATUS_INVALID_DEVICE_STATE
 * when the event is not valid in the current state: nothing is called then). */
NTSTATUS fx_pnp_event_run(fx_device *dev, fx_pnp_event ev);
const char *fx_pnp_state_name(fx_pnp_state s);
/* WdfDeviceSetFailed / SetDeviceState(Failed): PnP tears the device down (surprise-removal
 * path, then removal) from a PASSIVE work item; AttemptRestart adds and starts it again. */
void fx_device_report_failed(fx_device *dev, WDF_DEVICE_FAILED_ACTION action);

/* ---- resources (resources.c) ---------------------------------------------------------- */
/* Build the device's raw and translated CM_RESOURCE_LISTs and their WDFCMRESLIST objects
 * from the model's declared resources (once; later starts reuse them). */
NTSTATUS fx_resources_build(fx_device *dev);
/* Free the lists (the device's destroy; the WDFCMRESLISTs, its children, are gone). */
void fx_resources_free(fx_device *dev);
/* The model resource (interrupt) whose vectors include `vector`, and the MSI message
 * number of `vector` within it; NULL if none. */
const wdfdma_resource *fx_resources_irq_for_vector(fx_device *dev, uint32_t vector,
                                                   ULONG *message);

/* ---- I/O side, implemented by queue.c / iodispatch.c, called by devicepnp.c ---------- */
/* Power-managed queues start dispatching (D0 entry) / stop and wait for the driver to
 * acknowledge in-flight requests (D0 exit); purge completes everything with
 * STATUS_CANCELLED or the driver's EvtIoStop handling (remove, surprise removal). */
void fx_io_power_up(fx_device *dev);
void fx_io_power_down(fx_device *dev);
void fx_io_purge(fx_device *dev);
/* The IRP_MJ_* dispatch routine the framework installs in the driver object. */
NTSTATUS fx_io_dispatch(PDEVICE_OBJECT device, PIRP irp);

/* ---- file objects (fileobject.c; KMDF FxPkgGeneral and FxFileObject) ----------------- */
/* WdfDeviceCreate: resolve the file callbacks' constraints from WDFDEVICE_INIT's file
 * object configuration and create what the create path needs. A failure fails
 * WdfDeviceCreate (STATUS_INVALID_DEVICE_REQUEST for a synchronization scope the file
 * callbacks cannot use, as KMDF's ConfigureConstraints). */
NTSTATUS fx_file_device_init(fx_device *dev);
/* fx_io_dispatch's handling of IRP_MJ_CREATE, IRP_MJ_CLEANUP and IRP_MJ_CLOSE at
 * PASSIVE_LEVEL. `create_queue` is the driver's queue for creates
 * (WdfDeviceConfigureRequestDispatching), or NULL. Completes the IRP or returns
 * STATUS_PENDING after handing it to the driver. */
NTSTATUS fx_file_dispatch(fx_device *dev, struct fx_queue *create_queue, PIRP irp);
/* A create request is being completed with `status` (request.c): a failed create deletes
 * the WDFFILEOBJECT, since no cleanup or close will follow. */
void fx_file_create_completed(fx_device *dev, PIRP irp, NTSTATUS status);
/* The WDFFILEOBJECT of the IRP's FILE_OBJECT, or NULL (none configured, none in the IRP,
 * or already deleted). Any IRQL <= DISPATCH_LEVEL. */
WDFFILEOBJECT fx_file_of_irp(fx_device *dev, PIRP irp);

/* ---- interrupts, implemented by interrupt.c, called by devicepnp.c ------------------ */
/* Connect every interrupt of the device and call EvtInterruptEnable (D0 entry);
 * EvtInterruptDisable then disconnect (D0 exit). */
NTSTATUS fx_interrupts_connect(fx_device *dev);
void fx_interrupts_disconnect(fx_device *dev);
/* Start: give interrupts created in EvtDriverDeviceAdd the device's interrupt resources
 * in resource order (KMDF's PnpMatchResources). After EvtDeviceReleaseHardware: forget
 * those assignments and delete the interrupts created in EvtDevicePrepareHardware. */
NTSTATUS fx_interrupts_assign(fx_device *dev);
void fx_interrupts_release(fx_device *dev);

#endif
