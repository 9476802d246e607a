/*
 * The framework object model: handles, the parent/child tree, typed contexts, references
 * and deletion, and the generic object DDIs (wdfobject.h).
 *
 * Object lifetime (fx_object.state):
 *
 *   fx_object_create ──> LIVE ──fx_object_delete (WdfObjectDelete, parent deleted)──┐
 *                                                                                   ▼
 *                      DELETING: every LIVE child is deleted first (recursively), then
 *                                this object's cleanup callbacks run (the attributes'
 *                                EvtCleanupCallback, then each added context's), then
 *                                ops->dispose
 *                                                                                   ▼
 *                      DISPOSED ──the creation reference is dropped; when the last
 *                                reference goes──> EvtDestroyCallback(s), ops->destroy,
 *                                unlinked from the parent, handle retired, memory freed,
 *                                the reference on the parent dropped
 *
 * Invariants:
 *  - LIVE: refs >= 1 (the creation reference); linked under its parent (if any).
 *  - A child holds one reference on its parent, so a parent's memory (and its destroy
 *    callback) outlives every child: cleanup runs child before parent, destroy too.
 *  - DISPOSED objects stay resolvable through their handle until freed (KMDF allows DDIs
 *    on a deleted but still referenced object); a freed object's handle is stale.
 *
 * Handles. A handle is not a pointer: bits 63..56 are the tag 0xFD, 55..32 the slot's
 * generation, 31..0 the slot index in a process-wide table. The table is a fixed array of
 * lazily allocated pages that never move, so lookups need no lock (they run at any IRQL,
 * ISRs included); allocation and retirement take a host mutex. A stale handle (slot
 * retired, generation moved on), a forged one (wrong tag, index out of range) or one of
 * the wrong type is bug check 0x10D with P1 WDF_INVALID_HANDLE, P2 the handle, P3 the
 * expected type.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include "fx/device.h"
#include "fx/internal.h"

#define HANDLE_TAG 0xFDull
#define PAGE_SLOTS 1024u
#define MAX_PAGES 1024u                    /* 1M live objects at most */
#define GEN_MASK 0xFFFFFFu
#define FX_POOL_TAG 'bOxF'
#define CONTEXT_LIMIT ((size_t)1 << 30)    /* a context larger than this is a mistake */

typedef struct handle_slot {
    fx_object *_Atomic obj;
    _Atomic uint32_t generation;
    uint32_t next_free;                    /* free-list link (index + 1), under table_lock */
} handle_slot;

static handle_slot *_Atomic pages[MAX_PAGES];
static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;
static uint32_t slots_used;                /* slots ever handed out (high-water mark) */
static uint32_t free_head;                 /* index + 1 of the first free slot, 0 = none */

static const char *const type_names[FX_TYPE_COUNT] = {
    [FX_TYPE_NONE] = "(any)",          [FX_TYPE_OBJECT] = "WDFOBJECT",
    [FX_TYPE_DRIVER] = "WDFDRIVER",    [FX_TYPE_DEVICE] = "WDFDEVICE",
    [FX_TYPE_QUEUE] = "WDFQUEUE",      [FX_TYPE_REQUEST] = "WDFREQUEST",
    [FX_TYPE_INTERRUPT] = "WDFINTERRUPT", [FX_TYPE_SPINLOCK] = "WDFSPINLOCK",
    [FX_TYPE_WAITLOCK] = "WDFWAITLOCK", [FX_TYPE_MEMORY] = "WDFMEMORY",
    [FX_TYPE_TIMER] = "WDFTIMER",      [FX_TYPE_WORKITEM] = "WDFWORKITEM",
    [FX_TYPE_CMRESLIST] = "WDFCMRESLIST", [FX_TYPE_FILEOBJECT] = "WDFFILEOBJECT",
    [FX_TYPE_DMA_ENABLER] = "WDFDMAENABLER", [FX_TYPE_DMA_TRANSACTION] = "WDFDMATRANSACTION",
    [FX_TYPE_COMMON_BUFFER] = "WDFCOMMONBUFFER",
};

const char *fx_type_name(fx_type type)
{
    return (unsigned)type < FX_TYPE_COUNT && type_names[type] ? type_names[type] : "(bad type)";
}

/* ---- handle table -------------------------------------------------------------------- */
static handle_slot *slot_at(uint32_t index)
{
    if (index >= PAGE_SLOTS * MAX_PAGES)
        return NULL;
    handle_slot *page = atomic_load_explicit(&pages[index / PAGE_SLOTS], memory_order_acquire);
    return page ? &page[index % PAGE_SLOTS] : NULL;
}

/* The slot of an index the table handed out (its page exists): a NULL here is a broken
 * table, not a bad handle, so it stops the process rather than walk through NULL. */
static handle_slot *slot_taken(uint32_t index)
{
    handle_slot *s = slot_at(index);
    if (s == NULL) {
        fprintf(stderr, "wdfdma: handle table corrupt: slot %u has no page\n", index);
        abort();
    }
    return s;
}

/* Give `o` a slot; false when the table is full or a page cannot be allocated. */
static bool handle_alloc(fx_object *o)
{
    uint32_t index;
    pthread_mutex_lock(&table_lock);
    if (free_head != 0) {
        index = free_head - 1;
        free_head = slot_taken(index)->next_free;
    } else {
        index = slots_used;
        if (index >= PAGE_SLOTS * MAX_PAGES) {
            pthread_mutex_unlock(&table_lock);
            return false;
        }
        if (atomic_load_explicit(&pages[index / PAGE_SLOTS], memory_order_relaxed) == NULL) {
            handle_slot *page = calloc(PAGE_SLOTS, sizeof(handle_slot));
            if (page == NULL) {
                pthread_mutex_unlock(&table_lock);
                return false;
            }
            for (unsigned i = 0; i < PAGE_SLOTS; i++)
                atomic_init(&page[i].generation, 1);
            atomic_store_explicit(&pages[index / PAGE_SLOTS], page, memory_order_release);
        }
        slots_used++;
    }
    handle_slot *s = slot_taken(index);
    o->handle_index = index;
    o->generation = atomic_load_explicit(&s->generation, memory_order_relaxed);
    atomic_store_explicit(&s->obj, o, memory_order_release);
    pthread_mutex_unlock(&table_lock);
    return true;
}

/* Retire the slot: the generation moves on, so every copy of the handle is now stale. */
static void handle_free(fx_object *o)
{
    pthread_mutex_lock(&table_lock);
    handle_slot *s = slot_taken(o->handle_index);
    atomic_store_explicit(&s->obj, NULL, memory_order_release);
    uint32_t gen = (atomic_load_explicit(&s->generation, memory_order_relaxed) + 1) & GEN_MASK;
    atomic_store_explicit(&s->generation, gen ? gen : 1, memory_order_release);
    s->next_free = free_head;
    free_head = o->handle_index + 1;
    pthread_mutex_unlock(&table_lock);
}

WDFOBJECT fx_handle(const fx_object *o)
{
    if (o == NULL)
        return NULL;
    uint64_t h = HANDLE_TAG << 56 | (uint64_t)(o->generation & GEN_MASK) << 32 | o->handle_index;
    return (WDFOBJECT)(uintptr_t)h;
}

static fx_object *handle_object(WDFOBJECT handle)
{
    uint64_t h = (uint64_t)(uintptr_t)handle;
    if (h >> 56 != HANDLE_TAG)
        return NULL;
    handle_slot *s = slot_at((uint32_t)h);
    if (s == NULL)
        return NULL;
    uint32_t gen = (uint32_t)(h >> 32) & GEN_MASK;
    if (atomic_load_explicit(&s->generation, memory_order_acquire) != gen)
        return NULL;
    fx_object *o = atomic_load_explicit(&s->obj, memory_order_acquire);
    if (o == NULL || o->magic != FX_OBJECT_MAGIC || o->generation != gen)
        return NULL;
    return o;
}

fx_object *fx_lookup(WDFOBJECT handle, fx_type type)
{
    fx_object *o = handle_object(handle);
    if (o == NULL || (type != FX_TYPE_NONE && o->ops->type != type))
        return NULL;
    return o;
}

fx_object *fx_resolve(WDFOBJECT handle, fx_type type, const char *ddi)
{
    fx_object *o = handle_object(handle);
    if (o == NULL)
        fx_bugcheck(WDF_INVALID_HANDLE, (ULONG_PTR)handle, (ULONG_PTR)type, 0,
                    "%s: %s is not a valid %s handle (NULL, stale or forged)", ddi,
                    handle ? "handle" : "NULL handle", fx_type_name(type));
    if (type != FX_TYPE_NONE && o->ops->type != type)
        fx_bugcheck(WDF_INVALID_HANDLE, (ULONG_PTR)handle, (ULONG_PTR)type, 0,
                    "%s: handle %p is a %s, not a %s", ddi, handle, o->ops->name,
                    fx_type_name(type));
    return o;
}

bool fx_object_is_live(const fx_object *o)
{
    return o != NULL && __atomic_load_n(&o->state, __ATOMIC_ACQUIRE) == FX_OBJ_LIVE;
}

fx_object *fx_object_ancestor(fx_object *o, fx_type type)
{
    for (; o != NULL; o = o->parent)
        if (o->ops->type == type)
            return o;
    return NULL;
}

/* ---- contexts ------------------------------------------------------------------------ */
static PCWDF_OBJECT_CONTEXT_TYPE_INFO unique_type(PCWDF_OBJECT_CONTEXT_TYPE_INFO t)
{
    return t->UniqueType != NULL ? t->UniqueType : t;
}

static fx_context *context_new(fx_object *o, PCWDF_OBJECT_CONTEXT_TYPE_INFO type, size_t size)
{
    fx_context *c = ExAllocatePool2(POOL_FLAG_NON_PAGED, sizeof(fx_context) + size, FX_POOL_TAG);
    if (c == NULL)
        return NULL;
    c->object = o;
    c->type = unique_type(type);
    c->size = size;
    return c;
}

static size_t context_size(const WDF_OBJECT_ATTRIBUTES *a)
{
    size_t size = a->ContextTypeInfo->ContextSize;
    return a->ContextSizeOverride > size ? a->ContextSizeOverride : size;
}

void *fx_object_context(fx_object *o, PCWDF_OBJECT_CONTEXT_TYPE_INFO type)
{
    if (o == NULL || type == NULL)
        return NULL;
    PCWDF_OBJECT_CONTEXT_TYPE_INFO want = unique_type(type);
    for (fx_context *c = o->contexts; c != NULL; c = c->next)
        if (c->type == want)
            return c->data;
    return NULL;
}

/* ---- attributes validation (KMDF's FxValidateObjectAttributes) ----------------------- */
static NTSTATUS validate_attributes(const fx_object_ops *ops, const WDF_OBJECT_ATTRIBUTES *a,
                                    bool parent_allowed)
{
    if (a == NULL)
        return STATUS_SUCCESS;
    if (a->Size != sizeof(WDF_OBJECT_ATTRIBUTES))
        return STATUS_INFO_LENGTH_MISMATCH;
    if (a->ContextTypeInfo != NULL) {
        if (a->ContextTypeInfo->Size != sizeof(WDF_OBJECT_CONTEXT_TYPE_INFO))
            return STATUS_INFO_LENGTH_MISMATCH;
        if (a->ContextTypeInfo->ContextSize > 0 && a->ContextTypeInfo->ContextName == NULL)
            return STATUS_WDF_OBJECT_ATTRIBUTES_INVALID;
    }
    if (a->ContextSizeOverride > 0 &&
        (a->ContextTypeInfo == NULL || a->ContextSizeOverride < a->ContextTypeInfo->ContextSize))
        return STATUS_WDF_OBJECT_ATTRIBUTES_INVALID;
    if (a->ContextTypeInfo != NULL && context_size(a) > CONTEXT_LIMIT)
        return STATUS_INVALID_PARAMETER;
    if (!parent_allowed && a->ParentObject != NULL)
        return STATUS_WDF_PARENT_ASSIGNMENT_NOT_ALLOWED;
    if (a->ExecutionLevel == WdfExecutionLevelInvalid || a->ExecutionLevel > WdfExecutionLevelDispatch)
        return STATUS_WDF_OBJECT_ATTRIBUTES_INVALID;
    if (a->SynchronizationScope == WdfSynchronizationScopeInvalid ||
        a->SynchronizationScope > WdfSynchronizationScopeNone)
        return STATUS_WDF_OBJECT_ATTRIBUTES_INVALID;
    if (!ops->sync_scope_allowed && a->SynchronizationScope != WdfSynchronizationScopeInheritFromParent &&
        a->SynchronizationScope != WdfSynchronizationScopeNone)
        return STATUS_WDF_SYNCHRONIZATION_SCOPE_INVALID;
    return STATUS_SUCCESS;
}

/* ---- the tree ------------------------------------------------------------------------ */
/* Link `o` as the last child of `parent`; fails if the parent is already being deleted. */
static bool link_child(fx_object *parent, fx_object *o)
{
    mach_spin_acquire(&parent->child_lock);
    if (!fx_object_is_live(parent)) {
        mach_spin_release(&parent->child_lock);
        return false;
    }
    o->parent = parent;
    o->prev_sibling = parent->last_child;
    if (parent->last_child)
        parent->last_child->next_sibling = o;
    else
        parent->first_child = o;
    parent->last_child = o;
    mach_spin_release(&parent->child_lock);
    fx_object_reference(parent);
    return true;
}

static void unlink_child(fx_object *o)
{
    fx_object *parent = o->parent;
    mach_spin_acquire(&parent->child_lock);
    if (o->prev_sibling)
        o->prev_sibling->next_sibling = o->next_sibling;
    else
        parent->first_child = o->next_sibling;
    if (o->next_sibling)
        o->next_sibling->prev_sibling = o->prev_sibling;
    else
        parent->last_child = o->prev_sibling;
    mach_spin_release(&parent->child_lock);
}

static void inherit_constraints(fx_object *o, const WDF_OBJECT_ATTRIBUTES *a)
{
    o->execution_level = a ? a->ExecutionLevel : WdfExecutionLevelInheritFromParent;
    o->synchronization_scope = a ? a->SynchronizationScope : WdfSynchronizationScopeInheritFromParent;
    if (o->execution_level == WdfExecutionLevelInheritFromParent)
        o->execution_level = o->parent ? o->parent->execution_level : WdfExecutionLevelDispatch;
    if (o->synchronization_scope == WdfSynchronizationScopeInheritFromParent)
        o->synchronization_scope =
            o->parent ? o->parent->synchronization_scope : WdfSynchronizationScopeNone;
}

NTSTATUS fx_object_create(const fx_object_ops *ops, size_t size,
                          PWDF_OBJECT_ATTRIBUTES attributes, fx_object *parent,
                          bool parent_overridable, fx_object **out)
{
    *out = NULL;
    NTSTATUS status = validate_attributes(ops, attributes, parent_overridable);
    if (!NT_SUCCESS(status))
        return status;
    if (attributes != NULL && attributes->ParentObject != NULL)
        parent = fx_resolve(attributes->ParentObject, FX_TYPE_NONE, "WDF_OBJECT_ATTRIBUTES.ParentObject");
    if (parent != NULL && !fx_object_is_live(parent))
        return STATUS_DELETE_PENDING;

    fx_object *o = ExAllocatePool2(POOL_FLAG_NON_PAGED, size, FX_POOL_TAG);
    if (o == NULL)
        return STATUS_INSUFFICIENT_RESOURCES;
    o->ops = ops;
    o->refs = 1;
    o->state = FX_OBJ_LIVE;
    o->machine = mach_current();
    o->id = o->machine ? mach_next_object_id(o->machine) : 0;
    if (attributes != NULL) {
        o->cleanup = attributes->EvtCleanupCallback;
        o->destroy = attributes->EvtDestroyCallback;
    }
    if (attributes != NULL && attributes->ContextTypeInfo != NULL) {
        o->contexts = context_new(o, attributes->ContextTypeInfo, context_size(attributes));
        if (o->contexts == NULL)
            goto err_free_object;
    }
    if (!handle_alloc(o))
        goto err_free_context;
    o->magic = FX_OBJECT_MAGIC;
    if (parent != NULL && !link_child(parent, o)) {
        status = STATUS_DELETE_PENDING;
        goto err_free_handle;
    }
    inherit_constraints(o, attributes);
    o->driver = parent ? parent->driver : fx_driver_current();
    mach_trace(o->machine, WDFDMA_TR_FX, o->id, ops->name, parent ? parent->id : 0, 0);
    *out = o;
    return STATUS_SUCCESS;

err_free_handle:
    o->magic = 0;
    handle_free(o);
    ExFreePoolWithTag(o->contexts, FX_POOL_TAG);
    ExFreePoolWithTag(o, FX_POOL_TAG);
    return status;
err_free_context:
    if (o->contexts)
        ExFreePoolWithTag(o->contexts, FX_POOL_TAG);
err_free_object:
    ExFreePoolWithTag(o, FX_POOL_TAG);
    return STATUS_INSUFFICIENT_RESOURCES;
}

void fx_object_reference(fx_object *o)
{
    LONG old = __atomic_fetch_add(&o->refs, 1, __ATOMIC_ACQ_REL);
    if (old <= 0)
        fx_bugcheck(WDF_OBJECT_ERROR, (ULONG_PTR)fx_handle(o), (ULONG_PTR)old, 0,
                    "reference taken on %s %p whose reference count is %d", o->ops->name,
                    fx_handle(o), (int)old);
}

/* Last reference: destroy callbacks, then free. Runs at <= DISPATCH_LEVEL. */
static void object_free(fx_object *o)
{
    WDFOBJECT h = fx_handle(o);
    fx_object *parent = o->parent;
    if (o->destroy) {
        FX_CALLBACK_BEGIN("EvtDestroyCallback", o);
        o->destroy(h);
        FX_CALLBACK_END("EvtDestroyCallback", o);
    }
    for (fx_context *c = o->contexts; c != NULL; c = c->next) {
        if (c->destroy) {
            FX_CALLBACK_BEGIN("EvtDestroyCallback", o);
            c->destroy(h);
            FX_CALLBACK_END("EvtDestroyCallback", o);
        }
    }
    if (o->ops->destroy)
        o->ops->destroy(o);
    if (parent != NULL)
        unlink_child(o);
    handle_free(o);
    o->magic = 0;
    while (o->contexts != NULL) {
        fx_context *next = o->contexts->next;
        ExFreePoolWithTag(o->contexts, FX_POOL_TAG);
        o->contexts = next;
    }
    ExFreePoolWithTag(o, FX_POOL_TAG);
    if (parent != NULL)
        fx_object_dereference(parent);
}

void fx_object_dereference(fx_object *o)
{
    LONG old = __atomic_fetch_sub(&o->refs, 1, __ATOMIC_ACQ_REL);
    if (old <= 0)
        fx_bugcheck(WDF_OBJECT_ERROR, (ULONG_PTR)fx_handle(o), (ULONG_PTR)old, 0,
                    "%s %p dereferenced below zero", o->ops->name, fx_handle(o));
    if (old == 1) {
        if (__atomic_load_n(&o->state, __ATOMIC_ACQUIRE) == FX_OBJ_LIVE) {
            __atomic_fetch_add(&o->refs, 1, __ATOMIC_ACQ_REL); /* leave it consistent */
            fx_bugcheck(WDF_OBJECT_ERROR, (ULONG_PTR)fx_handle(o), 0, 0,
                        "%s %p lost its creation reference before it was deleted "
                        "(one WdfObjectDereference too many)",
                        o->ops->name, fx_handle(o));
        }
        object_free(o);
    }
}

/* The first child that is still LIVE, referenced so it cannot go away under us. */
static fx_object *first_live_child(fx_object *o)
{
    fx_object *c;
    mach_spin_acquire(&o->child_lock);
    for (c = o->first_child; c != NULL; c = c->next_sibling)
        if (fx_object_is_live(c))
            break;
    if (c != NULL)
        __atomic_fetch_add(&c->refs, 1, __ATOMIC_ACQ_REL);
    mach_spin_release(&o->child_lock);
    return c;
}

static void run_cleanup(fx_object *o)
{
    WDFOBJECT h = fx_handle(o);
    if (o->cleanup) {
        FX_CALLBACK_BEGIN("EvtCleanupCallback", o);
        o->cleanup(h);
        FX_CALLBACK_END("EvtCleanupCallback", o);
    }
    for (fx_context *c = o->contexts; c != NULL; c = c->next) {
        if (c->cleanup) {
            FX_CALLBACK_BEGIN("EvtCleanupCallback", o);
            c->cleanup(h);
            FX_CALLBACK_END("EvtCleanupCallback", o);
        }
    }
}

void fx_object_delete(fx_object *o)
{
    LONG expect = FX_OBJ_LIVE;
    if (!__atomic_compare_exchange_n(&o->state, &expect, FX_OBJ_DELETING, false,
                                     __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
        return; /* already being deleted: deletion is idempotent */
    mach_trace(o->machine, WDFDMA_TR_FX, o->id, "object-delete", o->ops->type, 0);
    fx_object *c;
    while ((c = first_live_child(o)) != NULL) {
        fx_object_delete(c);
        fx_object_dereference(c);
    }
    run_cleanup(o);
    if (o->ops->dispose)
        o->ops->dispose(o);
    __atomic_store_n(&o->state, FX_OBJ_DISPOSED, __ATOMIC_RELEASE);
    fx_object_dereference(o);
}

/* ---- leak accounting ----------------------------------------------------------------- */
static uint64_t walk_live(wdfdma_machine *m, fx_type type, bool report)
{
    uint64_t n = 0;
    pthread_mutex_lock(&table_lock);
    for (uint32_t i = 0; i < slots_used; i++) {
        fx_object *o = atomic_load_explicit(&slot_taken(i)->obj, memory_order_acquire);
        if (o == NULL || o->machine != m || (type != FX_TYPE_NONE && o->ops->type != type))
            continue;
        n++;
        if (report)
            mach_report(m, "leak", "%s %p still alive (%d reference(s), %s, parent %s %p)",
                        o->ops->name, fx_handle(o), (int)o->refs,
                        o->state == FX_OBJ_LIVE ? "never deleted" : "deleted",
                        o->parent ? o->parent->ops->name : "none", fx_handle(o->parent));
    }
    pthread_mutex_unlock(&table_lock);
    return n;
}

uint64_t fx_object_live_count_on(wdfdma_machine *m, fx_type type)
{
    return walk_live(m, type, false);
}

uint64_t fx_object_live_count(fx_type type)
{
    return walk_live(mach_current(), type, false);
}

uint64_t fx_object_report_leaks(wdfdma_machine *m)
{
    return walk_live(m, FX_TYPE_NONE, true);
}

void fx_object_for_each_live(wdfdma_machine *m, void (*fn)(fx_object *o, void *ctx), void *ctx)
{
    pthread_mutex_lock(&table_lock);
    for (uint32_t i = 0; i < slots_used; i++) {
        fx_object *o = atomic_load_explicit(&slot_taken(i)->obj, memory_order_acquire);
        if (o != NULL && o->machine == m)
            fn(o, ctx);
    }
    pthread_mutex_unlock(&table_lock);
}

/* ---- WdfObjectCreate: the plain object ----------------------------------------------- */
static const fx_object_ops plain_ops = {
    .type = FX_TYPE_OBJECT,
    .name = "WDFOBJECT",
    .driver_deletable = true,
};

/* ---- DDIs ---------------------------------------------------------------------------- */
PVOID WdfObjectGetTypedContextWorker(WDFOBJECT Handle, PCWDF_OBJECT_CONTEXT_TYPE_INFO TypeInfo)
{
    fx_check_required(TypeInfo, "WdfObjectGetTypedContextWorker", "TypeInfo");
    fx_object *o = fx_resolve(Handle, FX_TYPE_NONE, "WdfObjectGetTypedContextWorker");
    return fx_object_context(o, TypeInfo);
}

static NTSTATUS allocate_context(fx_object *o, PWDF_OBJECT_ATTRIBUTES a, PVOID *context)
{
    PCWDF_OBJECT_CONTEXT_TYPE_INFO want = unique_type(a->ContextTypeInfo);
    mach_spin_acquire(&o->child_lock);
    fx_context **tail = &o->contexts;
    for (; *tail != NULL; tail = &(*tail)->next) {
        if ((*tail)->type == want) {
            if (context)
                *context = (*tail)->data;
            mach_spin_release(&o->child_lock);
            return STATUS_OBJECT_NAME_EXISTS;
        }
    }
    mach_spin_release(&o->child_lock);
    fx_context *c = context_new(o, a->ContextTypeInfo, context_size(a));
    if (c == NULL)
        return STATUS_INSUFFICIENT_RESOURCES;
    c->cleanup = a->EvtCleanupCallback;
    c->destroy = a->EvtDestroyCallback;
    /* Append under the lock; a racing add of the same type loses and frees its copy. */
    mach_spin_acquire(&o->child_lock);
    for (tail = &o->contexts; *tail != NULL; tail = &(*tail)->next) {
        if ((*tail)->type == want) {
            if (context)
                *context = (*tail)->data;
            mach_spin_release(&o->child_lock);
            ExFreePoolWithTag(c, FX_POOL_TAG);
            return STATUS_OBJECT_NAME_EXISTS;
        }
    }
    *tail = c;
    mach_spin_release(&o->child_lock);
    if (context)
        *context = c->data;
    return STATUS_SUCCESS;
}

NTSTATUS WdfObjectAllocateContext(WDFOBJECT Handle, PWDF_OBJECT_ATTRIBUTES ContextAttributes,
                                  PVOID *Context)
{
    fx_object *o = fx_resolve(Handle, FX_TYPE_NONE, "WdfObjectAllocateContext");
    fx_check_required(ContextAttributes, "WdfObjectAllocateContext", "ContextAttributes");
    if (!fx_check_irql(DISPATCH_LEVEL, "WdfObjectAllocateContext"))
        return STATUS_INVALID_DEVICE_REQUEST;
    if (Context)
        *Context = NULL;
    /* KMDF validates with "parent not allowed": the attributes only describe a context. */
    NTSTATUS status = validate_attributes(o->ops, ContextAttributes, false);
    if (!NT_SUCCESS(status))
        return status;
    if (ContextAttributes->ContextTypeInfo == NULL)
        return STATUS_OBJECT_NAME_INVALID;
    if (!fx_object_is_live(o))
        return STATUS_DELETE_PENDING;
    return allocate_context(o, ContextAttributes, Context);
}

WDFOBJECT WdfObjectContextGetObject(PVOID ContextPointer)
{
    fx_check_required(ContextPointer, "WdfObjectContextGetObject", "ContextPointer");
    fx_context *c = (fx_context *)((char *)ContextPointer - offsetof(fx_context, data));
    fx_object *o = c->object;
    if (o == NULL || o->magic != FX_OBJECT_MAGIC)
        fx_bugcheck(WDF_INVALID_HANDLE, (ULONG_PTR)ContextPointer, 0, 0,
                    "WdfObjectContextGetObject: %p is not an object context", ContextPointer);
    return fx_handle(o);
}

VOID WdfObjectReferenceActual(WDFOBJECT Handle, PVOID Tag, LONG Line, PCCH File)
{
    (void)Tag;
    (void)Line;
    (void)File;
    fx_object *o = fx_resolve(Handle, FX_TYPE_NONE, "WdfObjectReference");
    fx_object_reference(o);
}

VOID WdfObjectDereferenceActual(WDFOBJECT Handle, PVOID Tag, LONG Line, PCCH File)
{
    (void)Tag;
    (void)Line;
    (void)File;
    fx_object *o = fx_resolve(Handle, FX_TYPE_NONE, "WdfObjectDereference");
    fx_object_dereference(o);
}

NTSTATUS WdfObjectCreate(PWDF_OBJECT_ATTRIBUTES Attributes, WDFOBJECT *Object)
{
    fx_check_required(Object, "WdfObjectCreate", "Object");
    if (!fx_check_irql(DISPATCH_LEVEL, "WdfObjectCreate"))
        return STATUS_INVALID_DEVICE_REQUEST;
    *Object = NULL;
    fx_driver *drv = fx_driver_current();
    fx_object *o;
    NTSTATUS status = fx_object_create(&plain_ops, sizeof(fx_object), Attributes,
                                       drv ? &drv->obj : NULL, true, &o);
    if (NT_SUCCESS(status))
        *Object = fx_handle(o);
    return status;
}

/* KMDF: an object whose lifetime the framework owns ignores WdfObjectDelete with a trace
 * and a verifier break (fxobjectapi.cpp, IsNoDeleteDDI); it is not deleted. */
VOID WdfObjectDelete(WDFOBJECT Object)
{
    fx_object *o = fx_resolve(Object, FX_TYPE_NONE, "WdfObjectDelete");
    if (!fx_check_irql(DISPATCH_LEVEL, "WdfObjectDelete"))
        return;
    if (!o->ops->driver_deletable) {
        fx_verifier_break("WdfObjectDelete", "%s %p may not be deleted by the driver "
                          "(STATUS_CANNOT_DELETE); the call is ignored",
                          o->ops->name, Object);
        return;
    }
    fx_object_delete(o);
}
