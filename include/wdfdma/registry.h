/*
 * wdfdma host API: the simulated registry drivers read with WdfDeviceOpenRegistryKey,
 * WdfDriverOpenParametersRegistryKey and WdfRegistryQuery*.
 *
 * Each machine has its own registry. It holds three kinds of keys:
 *   "device"      a device instance's hardware key (PLUGPLAY_REGKEY_DEVICE), named by the
 *                 device instance ("sgdma0"); an INF's [<install>.NT.HW] AddReg writes it;
 *   "driver"      a device instance's software key (PLUGPLAY_REGKEY_DRIVER); the
 *                 [<install>.NT] section's AddReg writes it;
 *   "parameters"  a driver's Services\<name>\Parameters key, named by the driver
 *                 ("sgdma"); the service-install section's HKR,Parameters,... lines write it.
 * Value names compare case-insensitively, as on Windows; key kinds too. Owner names
 * (device instance, driver) compare exactly, as the host API names them. Set values
 * before binding the device: drivers normally read them in EvtDriverDeviceAdd.
 *
 * All functions return 0 or a negative errno with a one-line wdfdma_last_error().
 */
#ifndef WDFDMA_REGISTRY_H
#define WDFDMA_REGISTRY_H

#include <stdint.h>
#include "wdfdma/machine.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Create or replace a REG_DWORD value. `key` is "device", "driver" or "parameters";
 * `value_name` is ASCII (-EINVAL otherwise). */
int wdfdma_registry_set_ulong(wdfdma_machine *m, const char *device_or_driver_name,
                              const char *key, const char *value_name, uint32_t value);
/* Read a REG_DWORD value: -ENOENT if it does not exist, -EINVAL if it is not a REG_DWORD. */
int wdfdma_registry_get_ulong(wdfdma_machine *m, const char *device_or_driver_name,
                              const char *key, const char *value_name, uint32_t *value);
/* Create or replace a REG_SZ value (stored as UTF-16 with its terminating NUL, as
 * Windows stores it); `text` is ASCII. */
int wdfdma_registry_set_string(wdfdma_machine *m, const char *device_or_driver_name,
                               const char *key, const char *value_name, const char *text);
/* Remove a value: -ENOENT if it does not exist. */
int wdfdma_registry_delete_value(wdfdma_machine *m, const char *device_or_driver_name,
                                 const char *key, const char *value_name);

/*
 * Apply an INF's registry directives for one device instance, as Windows does at device
 * installation: the [Models] line whose hardware ID matches the device's, its install
 * section (the .NTamd64, .NT or undecorated variant, in that order), that section's
 * AddReg (-> "driver"), its .HW section's AddReg (-> "device"), and the AddService
 * service-install section's AddReg for HKR,Parameters (-> "parameters" of the service
 * name). Supported AddReg flags: 0x00000000 REG_SZ, 0x00020000 REG_EXPAND_SZ,
 * 0x00010001 REG_DWORD, each optionally with FLG_ADDREG_NOCLOBBER (0x2). A value that
 * already exists is always kept, NOCLOBBER or not: settings the host made before binding
 * override the INF's defaults, and loading an INF twice is harmless. Anything else in those sections
 * (another root than HKR, another flag, a malformed line) fails with -EINVAL naming the
 * file and line. -ENOENT if the file cannot be read, no such device exists or no [Models]
 * line matches its hardware ID.
 */
int wdfdma_inf_load_registry(wdfdma_machine *m, const char *inf_path, const char *device_name);

#ifdef __cplusplus
}
#endif
#endif
