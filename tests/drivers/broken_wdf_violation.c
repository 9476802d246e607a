/* WDF-VIOLATION: when a transfer ends the DPC "marks the request pending" by completing it
 * with STATUS_PENDING before completing it for real. A request is never completed with
 * STATUS_PENDING (KMDF bug check 0x10D, WDF_REQUEST_FATAL_ERROR). Fix: complete each
 * request exactly once, with its final status. */
#define BRK_AFTER_FINISH(ext, ch, request) WdfRequestComplete((request), STATUS_PENDING)
#include "broken_base.h"
