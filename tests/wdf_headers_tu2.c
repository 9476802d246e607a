/*
 * wdf_headers_tu2.c - second translation unit of test_wdf_headers: declares the same
 * context types through the shared header, so the test can check that both units see one
 * type record (the framework identifies context types by that record's address).
 */
#include "wdf_headers_test.h"

PCWDF_OBJECT_CONTEXT_TYPE_INFO hdr_tu2_device_context_info(void)
{
    return WDF_GET_CONTEXT_TYPE_INFO(HDR_DEVICE_CONTEXT);
}

PCWDF_OBJECT_CONTEXT_TYPE_INFO hdr_tu2_queue_context_info(void)
{
    return WDF_GET_CONTEXT_TYPE_INFO(HDR_QUEUE_CONTEXT);
}

void hdr_tu2_init_attributes(PWDF_OBJECT_ATTRIBUTES attributes)
{
    WDF_OBJECT_ATTRIBUTES_INIT_CONTEXT_TYPE(attributes, HDR_DEVICE_CONTEXT);
}
