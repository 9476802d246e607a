/* Context-type declarations as real drivers write them: with and without a trailing
 * semicolon (the WDK macro ends with the accessor body, so both compile). */
#include <ntddk.h>
#include <wdf.h>
typedef struct _DEVICE_CONTEXT { ULONG x; } DEVICE_CONTEXT, *PDEVICE_CONTEXT;
WDF_DECLARE_CONTEXT_TYPE_WITH_NAME(DEVICE_CONTEXT, DeviceGetContext)
typedef struct _Q { ULONG y; } QUEUE_CONTEXT;
WDF_DECLARE_CONTEXT_TYPE_WITH_NAME(QUEUE_CONTEXT, QueueGetContext);
ULONG f(WDFOBJECT o) { return DeviceGetContext(o)->x + QueueGetContext(o)->y; }
