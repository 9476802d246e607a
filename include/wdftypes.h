/*
 * wdftypes.h - basic KMDF types: handle types, WDF_TRI_STATE, the "no handle / no
 * attributes" constants and the declaration conventions shared by every wdf*.h header.
 *
 * Part of wdfdma's WDK-named headers (KMDF 1.33 names and layouts, our own text).
 *
 * Every DDI in these headers is a plain exported C function with the documented
 * signature. The WDK instead routes each DDI through an inline wrapper that passes
 * WdfDriverGlobals into a function table; source that calls the DDIs cannot tell the
 * difference, so driver code written against these headers is also WDK source.
 */
#ifndef _WDFTYPES_H_
#define _WDFTYPES_H_

#include <ntddk.h>

/* ---- C/C++ linkage ------------------------------------------------------------------ */
#ifndef WDF_EXTERN_C
#ifdef __cplusplus
#define WDF_EXTERN_C extern "C"
#define WDF_EXTERN_C_START extern "C" {
#define WDF_EXTERN_C_END }
#else
#define WDF_EXTERN_C
#define WDF_EXTERN_C_START
#define WDF_EXTERN_C_END
#endif
#endif

/*
 * ---- Fallbacks for kernel-header conventions -------------------------------------------
 * ntddk.h normally supplies all of these. Each one is defined here only when it is
 * missing, so the WDF headers keep compiling whatever subset the kernel headers provide.
 * SAL annotations are documentation only: they expand to nothing.
 */
#ifndef FORCEINLINE
#define FORCEINLINE static inline __attribute__((always_inline))
#endif
#ifndef NTAPI
#define NTAPI
#endif
#ifndef DECLSPEC_ALIGN
#define DECLSPEC_ALIGN(x) __attribute__((aligned(x)))
#endif
/* Win64 aligns these IRP-parameter fields to pointer size; LP64 Linux does the same. */
#ifndef POINTER_ALIGNMENT
#if defined(__LP64__) || defined(_WIN64)
#define POINTER_ALIGNMENT DECLSPEC_ALIGN(8)
#else
#define POINTER_ALIGNMENT
#endif
#endif
#ifndef DECLARE_HANDLE
#define DECLARE_HANDLE(name) struct name##__ { int unused; }; typedef struct name##__ *name
#endif
#ifndef _In_
#define _In_
#endif
#ifndef _In_opt_
#define _In_opt_
#endif
#ifndef _In_z_
#define _In_z_
#endif
#ifndef _Inout_
#define _Inout_
#endif
#ifndef _Out_
#define _Out_
#endif
#ifndef _Out_opt_
#define _Out_opt_
#endif
#ifndef _Outptr_
#define _Outptr_
#endif
#ifndef _Outptr_opt_
#define _Outptr_opt_
#endif
#ifndef _Outptr_result_bytebuffer_
#define _Outptr_result_bytebuffer_(size)
#endif
#ifndef _Outptr_opt_result_bytebuffer_
#define _Outptr_opt_result_bytebuffer_(size)
#endif
#ifndef _Out_writes_bytes_
#define _Out_writes_bytes_(size)
#endif
#ifndef _In_reads_bytes_
#define _In_reads_bytes_(size)
#endif
#ifndef _Must_inspect_result_
#define _Must_inspect_result_
#endif
#ifndef _Function_class_
#define _Function_class_(name)
#endif
#ifndef _IRQL_requires_
#define _IRQL_requires_(irql)
#endif
#ifndef _IRQL_requires_max_
#define _IRQL_requires_max_(irql)
#endif
#ifndef _IRQL_requires_min_
#define _IRQL_requires_min_(irql)
#endif
#ifndef _IRQL_requires_same_
#define _IRQL_requires_same_
#endif

WDF_EXTERN_C_START

/*
 * WDFAPI marks a framework DDI. In the WDK it is empty (the real entry points sit behind
 * the function table); here each DDI is an ordinary symbol exported by libwdfdma.
 */
#ifndef WDFAPI
#if defined(__GNUC__) || defined(__clang__)
#define WDFAPI __attribute__((visibility("default")))
#else
#define WDFAPI
#endif
#endif

/*
 * Structure sizes. The WDK can report an older size when a driver built for a newer KMDF
 * runs on an older framework; this framework always implements 1.33, so a structure's
 * size is simply its sizeof.
 */
#define WDF_STRUCTURE_SIZE(StructName) ((ULONG)sizeof(StructName))

/* Every 1.33 DDI and structure is present in this framework. */
#define WDF_IS_FUNCTION_AVAILABLE(FunctionName) TRUE
#define WDF_IS_STRUCTURE_AVAILABLE(StructName) TRUE
#define WDF_IS_FIELD_AVAILABLE(StructName, FieldName) TRUE

#ifndef __WDF_BYTE_DEFINED__
#define __WDF_BYTE_DEFINED__
typedef UCHAR BYTE;
#endif

/*
 * WdfFalse/WdfTrue keep the values of FALSE/TRUE on purpose, so a driver that passes
 * FALSE or TRUE where a WDF_TRI_STATE is expected still means what it says.
 */
typedef enum _WDF_TRI_STATE {
    WdfFalse = FALSE,
    WdfTrue = TRUE,
    WdfUseDefault = 2,
} WDF_TRI_STATE, *PWDF_TRI_STATE;

typedef size_t *WDF_STRUCT_INFO;
typedef PVOID WDFCONTEXT;

#define WDF_NULL_POINTER NULL

/* Structures used before the header that defines them. */
typedef struct WDFDEVICE_INIT *PWDFDEVICE_INIT;
typedef struct WDFCXDEVICE_INIT *PWDFCXDEVICE_INIT;
typedef struct _WDF_OBJECT_ATTRIBUTES *PWDF_OBJECT_ATTRIBUTES;

#undef WDF_NO_OBJECT_ATTRIBUTES
#undef WDF_NO_EVENT_CALLBACK
#undef WDF_NO_HANDLE
#undef WDF_NO_CONTEXT
#undef WDF_NO_SEND_OPTIONS
#define WDF_NO_OBJECT_ATTRIBUTES WDF_NULL_POINTER
#define WDF_NO_EVENT_CALLBACK WDF_NULL_POINTER
#define WDF_NO_HANDLE WDF_NULL_POINTER
#define WDF_NO_CONTEXT WDF_NULL_POINTER
#define WDF_NO_SEND_OPTIONS WDF_NULL_POINTER

/*
 * Handles. WDFOBJECT is untyped (any handle converts to it implicitly); every other
 * handle is a pointer to its own incomplete struct, so passing a WDFQUEUE where a
 * WDFDEVICE is expected is a compile-time error, as with the WDK.
 */
typedef HANDLE WDFOBJECT, *PWDFOBJECT;

DECLARE_HANDLE(WDFDRIVER);
DECLARE_HANDLE(WDFDEVICE);
DECLARE_HANDLE(WDFWMIPROVIDER);
DECLARE_HANDLE(WDFWMIINSTANCE);
DECLARE_HANDLE(WDFQUEUE);
DECLARE_HANDLE(WDFREQUEST);
DECLARE_HANDLE(WDFFILEOBJECT);
DECLARE_HANDLE(WDFDPC);
DECLARE_HANDLE(WDFTIMER);
DECLARE_HANDLE(WDFWORKITEM);
DECLARE_HANDLE(WDFINTERRUPT);

DECLARE_HANDLE(WDFWAITLOCK);
DECLARE_HANDLE(WDFSPINLOCK);
DECLARE_HANDLE(WDFMEMORY);
DECLARE_HANDLE(WDFLOOKASIDE);

DECLARE_HANDLE(WDFIOTARGET);
DECLARE_HANDLE(WDFUSBDEVICE);
DECLARE_HANDLE(WDFUSBINTERFACE);
DECLARE_HANDLE(WDFUSBPIPE);

DECLARE_HANDLE(WDFDMAENABLER);
DECLARE_HANDLE(WDFDMATRANSACTION);
DECLARE_HANDLE(WDFCOMMONBUFFER);

DECLARE_HANDLE(WDFKEY);
DECLARE_HANDLE(WDFSTRING);
DECLARE_HANDLE(WDFCOLLECTION);
DECLARE_HANDLE(WDFCHILDLIST);
DECLARE_HANDLE(WDFIORESREQLIST);
DECLARE_HANDLE(WDFIORESLIST);
DECLARE_HANDLE(WDFCMRESLIST);

DECLARE_HANDLE(WDFCOMPANIONTARGET);

WDF_EXTERN_C_END

#endif /* _WDFTYPES_H_ */
