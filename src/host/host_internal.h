/*
 * What src/host's two modules share: driver registration (binding.c) and INF reading
 * (driverload.c).
 */
#ifndef WDFDMA_HOST_INTERNAL_H
#define WDFDMA_HOST_INTERNAL_H

#include "fx/device.h"
#include "wdfdma/host.h"

/* Record a driver image on `m` and run its DriverEntry at PASSIVE_LEVEL. `dl` (may be
 * NULL) is closed when the machine goes. `inf` (may be NULL) is the driver's INF, whose
 * AddReg values binding applies. `ids` (count n) are added before DriverEntry runs. Returns 0 or a negative errno with wdfdma_last_error() set; on failure the
 * record is gone (and `dl` closed). */
int host_driver_add(wdfdma_machine *m, const char *name, wdfdma_driver_entry entry, void *dl,
                    const char *inf, char (*ids)[128], unsigned n, wdfdma_driver **out);

#endif
