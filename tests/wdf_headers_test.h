/*
 * wdf_headers_test.h - declarations shared by the two translation units of
 * test_wdf_headers (test_wdf_headers.c and wdf_headers_tu2.c), the way a driver's own
 * header is shared by its .c files.
 */
#ifndef WDF_HEADERS_TEST_H
#define WDF_HEADERS_TEST_H

#include <ntddk.h>
#include <wdf.h>

typedef struct _HDR_DEVICE_CONTEXT {
    ULONG Magic;
    UCHAR Pad[40];
} HDR_DEVICE_CONTEXT, *PHDR_DEVICE_CONTEXT;

WDF_DECLARE_CONTEXT_TYPE_WITH_NAME(HDR_DEVICE_CONTEXT, HdrGetDeviceContext);

typedef struct _HDR_QUEUE_CONTEXT {
    LONGLONG Counter;
} HDR_QUEUE_CONTEXT;

WDF_DECLARE_CONTEXT_TYPE(HDR_QUEUE_CONTEXT);

/* Implemented in wdf_headers_tu2.c: what the second translation unit sees. */
PCWDF_OBJECT_CONTEXT_TYPE_INFO hdr_tu2_device_context_info(void);
PCWDF_OBJECT_CONTEXT_TYPE_INFO hdr_tu2_queue_context_info(void);
void hdr_tu2_init_attributes(PWDF_OBJECT_ATTRIBUTES attributes);

#endif /* WDF_HEADERS_TEST_H */
