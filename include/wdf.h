/*
 * wdf.h - Kernel-Mode Driver Framework, version 1.33 names and layouts.
 *
 * The one header a KMDF driver includes (after <ntddk.h>). Part of wdfdma: the KMDF DMA
 * model for Linux user space. Our own text; facts (names, types, field order, values,
 * signatures) follow the WDK's KMDF 1.33 headers so that driver source compiles
 * unchanged against both.
 *
 * Differences from the WDK that driver source cannot observe:
 *  - Each DDI is an exported function of libwdfdma with the documented signature; the
 *    WDK instead inlines a call through WdfFunctions[] passing WdfDriverGlobals.
 *  - WDF_STRUCTURE_SIZE is always sizeof: this framework implements exactly 1.33.
 *  - Context-type records are weak, hidden definitions instead of __declspec(selectany).
 * Headers for USB, WMI, child lists, I/O targets, registry, strings, collections and DPC
 * objects are not provided.
 */
#ifndef _WDF_H_
#define _WDF_H_

#include <ntddk.h>

/* Set by the WDK build from the project's KMDF version; this framework is 1.33. */
#ifndef KMDF_VERSION_MAJOR
#define KMDF_VERSION_MAJOR 1
#endif
#ifndef KMDF_VERSION_MINOR
#define KMDF_VERSION_MINOR 33
#endif

/* Basic definitions */
#include "wdftypes.h"
#include "wdfstatus.h"

/* Generic object */
#include "wdfobject.h"

/* Synchronization */
#include "wdfsync.h"
#include "wdfcore.h"
#include "wdfdriver.h"

/* Objects */
#include "wdfmemory.h"
#include "wdfrequest.h"
#include "wdfdevice.h"
#include "wdftimer.h"
#include "wdfworkitem.h"
#include "wdfinterrupt.h"
#include "wdfresource.h"

/* I/O */
#include "wdfio.h"

/* DMA */
#include "wdfdmaenabler.h"
#include "wdfdmatransaction.h"
#include "wdfcommonbuffer.h"

#include "wdfbugcodes.h"
#include "wdfroletypes.h"
#include "wdfregistry.h"
#include "wdffileobject.h"

#endif /* _WDF_H_ */
