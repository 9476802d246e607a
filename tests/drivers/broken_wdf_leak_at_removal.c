/* WDF-LEAK-AT-REMOVAL: the driver takes references it never drops — on its write
 * transaction, the write ring's common buffer and the enabler at device add, and on every
 * request it completes — so they outlive the device. Fix: WdfObjectDereference each. */
#define BRK_DEVICE_ADD_END(ext)                                                            \
    (WdfObjectReference((ext)->Channel[0].Transaction),                                    \
     WdfObjectReference((ext)->Channel[0].Ring), WdfObjectReference((ext)->Enabler))
#define BRK_AFTER_FINISH(ext, ch, request) WdfObjectReference(request)
#include "broken_base.h"
