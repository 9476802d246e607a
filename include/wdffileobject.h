/*
 * wdffileobject.h - framework file objects: the WDFFILEOBJECT the framework creates for
 * each WDM FILE_OBJECT that opens the device (IRP_MJ_CREATE) and deletes when it is
 * closed (IRP_MJ_CLOSE, after EvtFileClose).
 *
 * A device gets file objects only when its driver called WdfDeviceInitSetFileObjectConfig
 * (wdfdevice.h) with a FileObjectClass other than WdfFileObjectNotRequired; the callbacks
 * and WDF_FILEOBJECT_CONFIG live in wdfdevice.h, as in the WDK.
 */
#ifndef _WDFFILEOBJECT_H_
#define _WDFFILEOBJECT_H_

#include "wdfobject.h"

WDF_EXTERN_C_START

/* PASSIVE. The name that followed the device's name when the file was opened
 * ("\Device\Foo\rest" gives "\rest"); the host opens by device name only, so the string
 * is empty (Length 0), never NULL. NULL above PASSIVE_LEVEL with the verifier on. */
_IRQL_requires_max_(PASSIVE_LEVEL)
WDFAPI PUNICODE_STRING WdfFileObjectGetFileName(_In_ WDFFILEOBJECT FileObject);

/* <= DISPATCH. The WDM FILE_OBJECT's Flags (FO_*). */
_IRQL_requires_max_(DISPATCH_LEVEL)
WDFAPI ULONG WdfFileObjectGetFlags(_In_ WDFFILEOBJECT FileObject);

/* <= DISPATCH. The device the file was opened on. */
_IRQL_requires_max_(DISPATCH_LEVEL)
WDFAPI WDFDEVICE WdfFileObjectGetDevice(_In_ WDFFILEOBJECT FileObject);

/* <= DISPATCH. The process that opened the file: the host process. */
_IRQL_requires_max_(DISPATCH_LEVEL)
WDFAPI ULONG WdfFileObjectGetInitiatorProcessId(_In_ WDFFILEOBJECT FileObject);

/* <= DISPATCH. The WDM FILE_OBJECT behind the framework file object. */
_IRQL_requires_max_(DISPATCH_LEVEL)
WDFAPI PFILE_OBJECT WdfFileObjectWdmGetFileObject(_In_ WDFFILEOBJECT FileObject);

WDF_EXTERN_C_END

#endif /* _WDFFILEOBJECT_H_ */
