/*
 * wdfobject.h - the generic WDF object: attributes, context types, references, deletion.
 *
 * Every framework object is created with an optional WDF_OBJECT_ATTRIBUTES that names
 * its parent, its cleanup/destroy callbacks, its execution level and synchronization
 * scope, and the type of the driver context allocated with it.
 */
#ifndef _WDFOBJECT_H_
#define _WDFOBJECT_H_

#include "wdftypes.h"

WDF_EXTERN_C_START

typedef enum _WDF_EXECUTION_LEVEL {
    WdfExecutionLevelInvalid = 0x00,
    WdfExecutionLevelInheritFromParent,
    WdfExecutionLevelPassive,
    WdfExecutionLevelDispatch,
} WDF_EXECUTION_LEVEL;

typedef enum _WDF_SYNCHRONIZATION_SCOPE {
    WdfSynchronizationScopeInvalid = 0x00,
    WdfSynchronizationScopeInheritFromParent,
    WdfSynchronizationScopeDevice,
    WdfSynchronizationScopeQueue,
    WdfSynchronizationScopeNone,
} WDF_SYNCHRONIZATION_SCOPE;

/*
 * Cleanup runs when the object is deleted (or its parent is): release references and
 * anything that could keep the object alive. Destroy runs once the last reference is
 * gone, right before the memory (and the context) is freed.
 */
typedef _Function_class_(EVT_WDF_OBJECT_CONTEXT_CLEANUP) _IRQL_requires_same_
    _IRQL_requires_max_(DISPATCH_LEVEL)
VOID NTAPI EVT_WDF_OBJECT_CONTEXT_CLEANUP(_In_ WDFOBJECT Object);
typedef EVT_WDF_OBJECT_CONTEXT_CLEANUP *PFN_WDF_OBJECT_CONTEXT_CLEANUP;

typedef _Function_class_(EVT_WDF_OBJECT_CONTEXT_DESTROY) _IRQL_requires_same_
    _IRQL_requires_max_(DISPATCH_LEVEL)
VOID NTAPI EVT_WDF_OBJECT_CONTEXT_DESTROY(_In_ WDFOBJECT Object);
typedef EVT_WDF_OBJECT_CONTEXT_DESTROY *PFN_WDF_OBJECT_CONTEXT_DESTROY;

typedef const struct _WDF_OBJECT_CONTEXT_TYPE_INFO *PCWDF_OBJECT_CONTEXT_TYPE_INFO;

typedef struct _WDF_OBJECT_ATTRIBUTES {
    ULONG Size;
    PFN_WDF_OBJECT_CONTEXT_CLEANUP EvtCleanupCallback;
    PFN_WDF_OBJECT_CONTEXT_DESTROY EvtDestroyCallback;
    WDF_EXECUTION_LEVEL ExecutionLevel;
    WDF_SYNCHRONIZATION_SCOPE SynchronizationScope;
    /* NULL: the framework picks the default parent (the driver, for most objects). */
    WDFOBJECT ParentObject;
    /* When nonzero and larger than the type's size, the context gets this many bytes. */
    size_t ContextSizeOverride;
    PCWDF_OBJECT_CONTEXT_TYPE_INFO ContextTypeInfo;
} WDF_OBJECT_ATTRIBUTES, *PWDF_OBJECT_ATTRIBUTES;

FORCEINLINE VOID WDF_OBJECT_ATTRIBUTES_INIT(_Out_ PWDF_OBJECT_ATTRIBUTES Attributes)
{
    RtlZeroMemory(Attributes, sizeof(WDF_OBJECT_ATTRIBUTES));
    Attributes->Size = WDF_STRUCTURE_SIZE(WDF_OBJECT_ATTRIBUTES);
    Attributes->ExecutionLevel = WdfExecutionLevelInheritFromParent;
    Attributes->SynchronizationScope = WdfSynchronizationScopeInheritFromParent;
}

/* Records the context type; the framework always uses the type's UniqueType record. */
#define WDF_OBJECT_ATTRIBUTES_SET_CONTEXT_TYPE(_attributes, _contexttype) \
    (_attributes)->ContextTypeInfo = WDF_GET_CONTEXT_TYPE_INFO(_contexttype)->UniqueType

/*
 * Two statements, not wrapped in do { } while (0): that is how the WDK defines it, and a
 * driver that builds here must build there (so it cannot be the sole body of an if).
 */
#define WDF_OBJECT_ATTRIBUTES_INIT_CONTEXT_TYPE(_attributes, _contexttype) \
    WDF_OBJECT_ATTRIBUTES_INIT(_attributes);                               \
    WDF_OBJECT_ATTRIBUTES_SET_CONTEXT_TYPE(_attributes, _contexttype)

typedef PCWDF_OBJECT_CONTEXT_TYPE_INFO (*PFN_GET_UNIQUE_CONTEXT_TYPE)(VOID);

/*
 * One record per context type. UniqueType points at the record that identifies the type
 * (normally the record itself); the framework finds a context by comparing that pointer,
 * so every translation unit of a driver must see the very same record.
 */
typedef struct _WDF_OBJECT_CONTEXT_TYPE_INFO {
    ULONG Size;
    LPCSTR ContextName;
    size_t ContextSize;
    PCWDF_OBJECT_CONTEXT_TYPE_INFO UniqueType;
    PFN_GET_UNIQUE_CONTEXT_TYPE EvtDriverGetUniqueContextType;
} WDF_OBJECT_CONTEXT_TYPE_INFO, *PWDF_OBJECT_CONTEXT_TYPE_INFO;

#define WDF_TYPE_NAME_TO_TYPE_INFO(_contexttype) _WDF_##_contexttype##_TYPE_INFO
#define WDF_TYPE_NAME_TO_EXTERNAL_INIT(_contexttype) _WDF_##_contexttype##_EXTERNAL_INIT
#define WDF_TYPE_NAME_TO_EXTERNAL_INIT_FUNCTION(_contexttype) _contexttype##_EXTERNAL_INIT_FUNCTION
#define WDF_GET_CONTEXT_TYPE_INFO(_contexttype) (&WDF_TYPE_NAME_TO_TYPE_INFO(_contexttype))
#define WDF_TYPE_NAME_POINTER_TYPE(_contexttype) WDF_POINTER_TYPE_##_contexttype

/*
 * The type record is a definition placed in every translation unit that declares the
 * context type (usually through a shared header). The WDK merges the copies with
 * __declspec(selectany); here a weak definition does the same within one driver image.
 * It is hidden so that two drivers loaded into one process, each with its own
 * DEVICE_CONTEXT, never share a record through symbol interposition.
 */
/* Accepted for WDK compatibility; the record's section does not matter here. */
#ifndef WDF_TYPE_DEFAULT_SECTION_NAME
#define WDF_TYPE_DEFAULT_SECTION_NAME ".data"
#endif
#if defined(__GNUC__) || defined(__clang__)
#define WDF_CONTEXT_TYPE_INFO_STORAGE __attribute__((weak, visibility("hidden")))
#else
#define WDF_CONTEXT_TYPE_INFO_STORAGE __declspec(selectany)
#endif

#define WDF_DECLARE_TYPE_AND_GLOBALS(_contexttype, _UniqueType, _GetUniqueType, _section) \
    typedef _contexttype *WDF_TYPE_NAME_POINTER_TYPE(_contexttype);                        \
    WDF_EXTERN_C WDF_CONTEXT_TYPE_INFO_STORAGE const WDF_OBJECT_CONTEXT_TYPE_INFO          \
        WDF_TYPE_NAME_TO_TYPE_INFO(_contexttype) = {                                       \
            sizeof(WDF_OBJECT_CONTEXT_TYPE_INFO),                                          \
            #_contexttype,                                                                 \
            sizeof(_contexttype),                                                          \
            _UniqueType,                                                                   \
            _GetUniqueType,                                                                \
        };

/*
 * The accessor. The trailing redeclaration of the record has no semicolon so that the
 * driver's own ';' after the macro ends it (no stray ';' at file scope).
 */
#define WDF_DECLARE_CASTING_FUNCTION(_contexttype, _castingfunction)                      \
    FORCEINLINE WDF_TYPE_NAME_POINTER_TYPE(_contexttype) _castingfunction(                 \
        _In_ WDFOBJECT Handle)                                                             \
    {                                                                                      \
        return (WDF_TYPE_NAME_POINTER_TYPE(_contexttype))WdfObjectGetTypedContextWorker(  \
            Handle, WDF_GET_CONTEXT_TYPE_INFO(_contexttype)->UniqueType);                  \
    }

/* Declares _contexttype as a context type with accessor _castingfunction(handle). It ends
 * with the accessor's body, as the WDK's does, so drivers may write it with or without a
 * trailing semicolon. */
#define WDF_DECLARE_CONTEXT_TYPE_WITH_NAME(_contexttype, _castingfunction)                \
    WDF_DECLARE_TYPE_AND_GLOBALS(_contexttype, WDF_GET_CONTEXT_TYPE_INFO(_contexttype),    \
                                 NULL, WDF_TYPE_DEFAULT_SECTION_NAME)                      \
    WDF_DECLARE_CASTING_FUNCTION(_contexttype, _castingfunction)

/* Same, with the accessor named WdfObjectGet_<type>. */
#define WDF_DECLARE_CONTEXT_TYPE(_contexttype) \
    WDF_DECLARE_CONTEXT_TYPE_WITH_NAME(_contexttype, WdfObjectGet_##_contexttype)

/* The context of type `type` on `handle`, or NULL if the object has none of that type. */
#define WdfObjectGetTypedContext(handle, type) \
    (type *)WdfObjectGetTypedContextWorker((WDFOBJECT)handle, WDF_GET_CONTEXT_TYPE_INFO(type)->UniqueType)

/* ---- Custom types: a tag (with one ULONG_PTR of data) attached to any object --------- */
#define WDF_CUSTOM_TYPE_CONTEXT_NAME(_type) WdfCustomType_##_type
#define WDF_GET_CUSTOM_TYPE_FUNCTION_NAME(_type) WdfObjectGetCustomType_##_type
#define WDF_ADD_CUSTOM_TYPE_FUNCTION_NAME(_type) WdfObjectAddCustomType_##_type

typedef struct _WDF_CUSTOM_TYPE_CONTEXT {
    ULONG Size;
    ULONG_PTR Data;
} WDF_CUSTOM_TYPE_CONTEXT, *PWDF_CUSTOM_TYPE_CONTEXT;

#define WDF_DECLARE_CUSTOM_TYPE(_type)                                                    \
    typedef WDF_CUSTOM_TYPE_CONTEXT WDF_CUSTOM_TYPE_CONTEXT_NAME(_type);                   \
    WDF_DECLARE_CONTEXT_TYPE_WITH_NAME(WDF_CUSTOM_TYPE_CONTEXT_NAME(_type),                \
                                       WDF_GET_CUSTOM_TYPE_FUNCTION_NAME(_type));          \
    FORCEINLINE NTSTATUS WDF_ADD_CUSTOM_TYPE_FUNCTION_NAME(_type)(                         \
        _In_ WDFOBJECT Handle, _In_opt_ ULONG_PTR Data,                                    \
        _In_opt_ PFN_WDF_OBJECT_CONTEXT_CLEANUP EvtCleanupCallback,                        \
        _In_opt_ PFN_WDF_OBJECT_CONTEXT_DESTROY EvtDestroyCallback)                        \
    {                                                                                      \
        NTSTATUS status_;                                                                  \
        WDF_OBJECT_ATTRIBUTES attributes_;                                                 \
        WDF_CUSTOM_TYPE_CONTEXT_NAME(_type) *typeInfo_;                                    \
        WDF_OBJECT_ATTRIBUTES_INIT_CONTEXT_TYPE(&attributes_,                              \
                                                WDF_CUSTOM_TYPE_CONTEXT_NAME(_type));      \
        attributes_.EvtCleanupCallback = EvtCleanupCallback;                               \
        attributes_.EvtDestroyCallback = EvtDestroyCallback;                               \
        status_ = WdfObjectAllocateContext(Handle, &attributes_, (PVOID *)&typeInfo_);     \
        if (NT_SUCCESS(status_)) {                                                         \
            typeInfo_->Size = sizeof(WDF_CUSTOM_TYPE_CONTEXT_NAME(_type));                 \
            typeInfo_->Data = Data;                                                        \
        }                                                                                  \
        return status_;                                                                    \
    }                                                                                      \
    WDF_EXTERN_C extern const WDF_OBJECT_CONTEXT_TYPE_INFO                                 \
        WDF_TYPE_NAME_TO_TYPE_INFO(WDF_CUSTOM_TYPE_CONTEXT_NAME(_type))

#define WdfObjectIsCustomType(_handle, _type) \
    (WdfObjectGetTypedContext(_handle, WDF_CUSTOM_TYPE_CONTEXT_NAME(_type)) == NULL ? FALSE : TRUE)
#define WdfObjectAddCustomTypeWithData(_handle, _type, _data, _cleanup, _destroy) \
    WDF_ADD_CUSTOM_TYPE_FUNCTION_NAME(_type)(_handle, _data, _cleanup, _destroy)
#define WdfObjectAddCustomType(_handle, _type) \
    WdfObjectAddCustomTypeWithData(_handle, _type, 0, NULL, NULL)
#define WdfObjectGetCustomTypeData(_handle, _type) \
    (WDF_GET_CUSTOM_TYPE_FUNCTION_NAME(_type)(_handle)->Data)

/* ---- DDIs --------------------------------------------------------------------------- */

/* Any IRQL. The context of TypeInfo's type on Handle, or NULL. */
_IRQL_requires_max_(HIGH_LEVEL)
WDFAPI PVOID WdfObjectGetTypedContextWorker(_In_ WDFOBJECT Handle,
                                            _In_ PCWDF_OBJECT_CONTEXT_TYPE_INFO TypeInfo);

/*
 * <= DISPATCH. Adds a context (ContextAttributes->ContextTypeInfo, with its own cleanup
 * and destroy callbacks) to an existing object. STATUS_OBJECT_NAME_EXISTS if the object
 * already has that type (Context then receives the existing one).
 */
_Must_inspect_result_ _IRQL_requires_max_(DISPATCH_LEVEL)
WDFAPI NTSTATUS WdfObjectAllocateContext(_In_ WDFOBJECT Handle,
                                         _In_ PWDF_OBJECT_ATTRIBUTES ContextAttributes,
                                         _Outptr_opt_ PVOID *Context);

/* Any IRQL. The object that owns a context pointer. */
_IRQL_requires_max_(HIGH_LEVEL)
WDFAPI WDFOBJECT WdfObjectContextGetObject(_In_ PVOID ContextPointer);

/* <= DISPATCH. Reference counting; Tag/Line/File identify the holder for diagnostics. */
_IRQL_requires_max_(DISPATCH_LEVEL)
WDFAPI VOID WdfObjectReferenceActual(_In_ WDFOBJECT Handle, _In_opt_ PVOID Tag,
                                     _In_ LONG Line, _In_z_ PCCH File);

_IRQL_requires_max_(DISPATCH_LEVEL)
WDFAPI VOID WdfObjectDereferenceActual(_In_ WDFOBJECT Handle, _In_opt_ PVOID Tag,
                                       _In_ LONG Line, _In_z_ PCCH File);

/* <= DISPATCH. A general-purpose object (useful as a parent or to carry a context). */
_Must_inspect_result_ _IRQL_requires_max_(DISPATCH_LEVEL)
WDFAPI NTSTATUS WdfObjectCreate(_In_opt_ PWDF_OBJECT_ATTRIBUTES Attributes,
                                _Out_ WDFOBJECT *Object);

/*
 * <= DISPATCH. Deletes the object and its children (cleanup callbacks run children
 * first); the memory goes when the last reference does. Objects whose lifetime the
 * framework owns (requests delivered by a queue, the device, ...) must not be deleted.
 */
_IRQL_requires_max_(DISPATCH_LEVEL)
WDFAPI VOID WdfObjectDelete(_In_ WDFOBJECT Object);

#define WdfObjectReference(Handle) WdfObjectReferenceWithTag(Handle, NULL)
#define WdfObjectReferenceWithTag(Handle, Tag) \
    WdfObjectReferenceActual(Handle, Tag, __LINE__, __FILE__)
#define WdfObjectDereference(Handle) WdfObjectDereferenceWithTag(Handle, NULL)
#define WdfObjectDereferenceWithTag(Handle, Tag) \
    WdfObjectDereferenceActual(Handle, Tag, __LINE__, __FILE__)

WDF_EXTERN_C_END

#endif /* _WDFOBJECT_H_ */
