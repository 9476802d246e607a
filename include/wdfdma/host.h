/*
 * wdfdma host API: drivers, device nodes, PnP and power, from the host's side.
 *
 * A driver is a shared object exporting DriverEntry (genuine KMDF source built against
 * <ntddk.h>/<wdf.h>), or a DriverEntry function registered statically (tests). Each
 * driver declares the hardware IDs it serves, as an INF does: wdfdma_driver_load reads
 * PATH.inf (same path, .so replaced by .inf) when it exists, and wdfdma_driver_add_id adds
 * IDs by hand. Binding matches a device model instance's hardware ID to a driver, calls
 * the driver's EvtDriverDeviceAdd, then PnP-starts the device.
 *
 * All functions return 0 or a negative errno with a one-line wdfdma_last_error(). Calls
 * that can run driver code (bind, start, power, remove) run it on the calling thread at
 * PASSIVE_LEVEL, like the PnP manager's worker thread.
 */
#ifndef WDFDMA_HOST_H
#define WDFDMA_HOST_H

#include <stdbool.h>
#include <stdint.h>
#include "wdfdma/machine.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct wdfdma_driver wdfdma_driver;

/* dlopen `path`, resolve DriverEntry (a module without one fails: -ENOEXEC), call it. A
 * failing DriverEntry status fails the load (-EIO) with the NTSTATUS in the message. */
int wdfdma_driver_load(wdfdma_machine *m, const char *path, wdfdma_driver **out);
/* The same for a DriverEntry linked into the host. `entry` has the signature
 * NTSTATUS DriverEntry(PDRIVER_OBJECT, PUNICODE_STRING). */
typedef int32_t (*wdfdma_driver_entry)(void *driver_object, void *registry_path);
int wdfdma_driver_register(wdfdma_machine *m, const char *name, wdfdma_driver_entry entry,
                           wdfdma_driver **out);
/* Add a hardware ID this driver serves (as an INF [Models] line). */
int wdfdma_driver_add_id(wdfdma_driver *drv, const char *hardware_id);
const char *wdfdma_driver_name(const wdfdma_driver *drv);

/* Bind: find a driver for the device's hardware ID (or use `drv` if not NULL), call
 * EvtDriverDeviceAdd and start the device (PrepareHardware, D0Entry, ... as KMDF). */
int wdfdma_device_bind(wdfdma_dev *dev, wdfdma_driver *drv);
typedef enum wdfdma_power { WDFDMA_D0 = 1, WDFDMA_D3 = 4 } wdfdma_power;
int wdfdma_device_set_power(wdfdma_dev *dev, wdfdma_power state);
/* Orderly removal: queues purged, D0Exit(D3Final), ReleaseHardware, device deleted. */
int wdfdma_device_remove(wdfdma_dev *dev);
/* Surprise removal: the hardware is gone (register reads return all ones). */
int wdfdma_device_surprise_remove(wdfdma_dev *dev);
/* PnP/power state as a short string ("started", "d3", "removed", "failed", ...). */
const char *wdfdma_device_state(wdfdma_dev *dev);

/* The framework callback log: every driver callback the framework makes for this device
 * ("EvtDevicePrepareHardware", "EvtDeviceD0Entry(D3)", ...), for callback-order tests.
 * Returns the number of entries written to out (at most max), oldest first. */
size_t wdfdma_device_callback_log(wdfdma_dev *dev, const char **out, size_t max);
void wdfdma_device_callback_log_clear(wdfdma_dev *dev);

#ifdef __cplusplus
}
#endif
#endif
