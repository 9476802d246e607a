/*
 * Registry keys (wdfregistry.h) and the simulated registry behind them.
 *
 *   host API / INF loader ──fx_registry_set──►  store: (machine, kind, owner) ─► values
 *   WdfDeviceOpenRegistryKey / WdfDriverOpenParametersRegistryKey ──► WDFKEY naming a hive
 *   WdfRegistryQuery* / Assign* ──► the hive, under the store lock
 *
 * A WDFKEY records which hive it names and the access it was opened with; it does not
 * point into the store, so a hive needs to exist only once a value is written (opening
 * an empty key succeeds, as the hardware and software keys always exist on Windows).
 *
 * Semantics follow KMDF's FxRegKey over ZwQueryValueKey:
 *  - QueryValue with Value NULL or too small: STATUS_BUFFER_OVERFLOW, nothing copied,
 *    length and type reported;
 *  - QueryULong of a value that is not REG_DWORD: STATUS_OBJECT_TYPE_MISMATCH;
 *  - a missing value: STATUS_OBJECT_NAME_NOT_FOUND;
 *  - a key opened without KEY_QUERY_VALUE (KEY_SET_VALUE for assignments):
 *    STATUS_ACCESS_DENIED, as the kernel's access check on the key handle does.
 *
 * The store is process-wide and keyed by machine pointer; the first hive of a machine
 * claims the machine's registry slot, whose teardown (fx_registry_forget_machine) drops
 * the machine's values so a later machine at the same address inherits nothing.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fx/device.h"
#include "fx/internal.h"
#include "fx/registry.h"
#include "wdfdma/registry.h"

/* ---- the store ------------------------------------------------------------------------ */
typedef struct reg_value {
    struct reg_value *next;
    USHORT name_length;                  /* bytes, as UNICODE_STRING.Length */
    WCHAR name[FX_REG_NAME_MAX];
    ULONG type;
    ULONG length;
    unsigned char *data;
} reg_value;

typedef struct reg_hive {
    struct reg_hive *next;
    wdfdma_machine *machine;
    fx_reg_kind kind;
    char owner[FX_REG_OWNER_MAX];
    reg_value *values;
} reg_hive;

/* A host mutex: every registry DDI runs at PASSIVE_LEVEL, and the host API on host
 * threads, so blocking here is allowed. */
static pthread_mutex_t store_lock = PTHREAD_MUTEX_INITIALIZER;
static reg_hive *hives;

static reg_hive *hive_find(wdfdma_machine *m, fx_reg_kind kind, const char *owner)
{
    for (reg_hive *h = hives; h != NULL; h = h->next)
        if (h->machine == m && h->kind == kind && strcmp(h->owner, owner) == 0)
            return h;
    return NULL;
}

static void forget_slot(void *m);

static reg_hive *hive_get(wdfdma_machine *m, fx_reg_kind kind, const char *owner)
{
    reg_hive *h = hive_find(m, kind, owner);
    if (h != NULL)
        return h;
    h = calloc(1, sizeof(*h));
    if (h == NULL)
        return NULL;
    h->machine = m;
    h->kind = kind;
    snprintf(h->owner, sizeof(h->owner), "%s", owner);
    h->next = hives;
    hives = h;
    if (mach_slot(m, MACH_SLOT_FX_REGISTRY) == NULL)
        mach_set_slot(m, MACH_SLOT_FX_REGISTRY, m, forget_slot);
    return h;
}

static reg_value *value_find(reg_hive *h, PCUNICODE_STRING name)
{
    if (h == NULL)
        return NULL;
    for (reg_value *v = h->values; v != NULL; v = v->next) {
        UNICODE_STRING stored = {v->name_length, sizeof(v->name), v->name};
        if (RtlEqualUnicodeString(&stored, name, TRUE))
            return v;
    }
    return NULL;
}

static void value_free(reg_value *v)
{
    free(v->data);
    free(v);
}

NTSTATUS fx_registry_set(wdfdma_machine *m, fx_reg_kind kind, const char *owner,
                         PCUNICODE_STRING name, ULONG type, const void *data, ULONG length,
                         bool no_clobber)
{
    if (name->Length > sizeof(((reg_value *)0)->name))
        return STATUS_INVALID_PARAMETER;
    unsigned char *copy = malloc(length ? length : 1);
    if (copy == NULL)
        return STATUS_INSUFFICIENT_RESOURCES;
    if (length)
        memcpy(copy, data, length);
    /* The framework state's teardown forgets this machine's keys: make sure it exists. */
    (void)fx_state(m);
    NTSTATUS status = STATUS_SUCCESS;
    pthread_mutex_lock(&store_lock);
    reg_hive *h = hive_get(m, kind, owner);
    reg_value *v = h ? value_find(h, name) : NULL;
    if (h == NULL) {
        status = STATUS_INSUFFICIENT_RESOURCES;
    } else if (v == NULL || !no_clobber) {
        if (v == NULL && (v = calloc(1, sizeof(*v))) != NULL) {
            v->next = h->values;
            h->values = v;
        }
        if (v == NULL) {
            status = STATUS_INSUFFICIENT_RESOURCES;
        } else {
            /* The latest writer's spelling of the name is kept; lookups ignore case. */
            memcpy(v->name, name->Buffer, name->Length);
            v->name_length = name->Length;
            free(v->data);
            v->data = copy;
            v->type = type;
            v->length = length;
            copy = NULL;
        }
    }
    pthread_mutex_unlock(&store_lock);
    free(copy);
    return status;
}

NTSTATUS fx_registry_get(wdfdma_machine *m, fx_reg_kind kind, const char *owner,
                         PCUNICODE_STRING name, ULONG capacity, void *data, ULONG *length,
                         ULONG *type)
{
    NTSTATUS status = STATUS_OBJECT_NAME_NOT_FOUND;
    pthread_mutex_lock(&store_lock);
    reg_value *v = value_find(hive_find(m, kind, owner), name);
    if (v != NULL) {
        *length = v->length;
        *type = v->type;
        status = (data != NULL && capacity >= v->length) ? STATUS_SUCCESS : STATUS_BUFFER_OVERFLOW;
        if (status == STATUS_SUCCESS && v->length)
            memcpy(data, v->data, v->length);
    }
    pthread_mutex_unlock(&store_lock);
    return status;
}

NTSTATUS fx_registry_delete(wdfdma_machine *m, fx_reg_kind kind, const char *owner,
                            PCUNICODE_STRING name)
{
    NTSTATUS status = STATUS_OBJECT_NAME_NOT_FOUND;
    pthread_mutex_lock(&store_lock);
    reg_hive *h = hive_find(m, kind, owner);
    reg_value *v = value_find(h, name);
    if (v != NULL) {
        reg_value **link = &h->values;
        while (*link != v)
            link = &(*link)->next;
        *link = v->next;
        value_free(v);
        status = STATUS_SUCCESS;
    }
    pthread_mutex_unlock(&store_lock);
    return status;
}

static void forget_slot(void *m)
{
    fx_registry_forget_machine(m);
}

void fx_registry_forget_machine(wdfdma_machine *m)
{
    pthread_mutex_lock(&store_lock);
    reg_hive **link = &hives;
    while (*link != NULL) {
        reg_hive *h = *link;
        if (h->machine != m) {
            link = &h->next;
            continue;
        }
        *link = h->next;
        while (h->values != NULL) {
            reg_value *v = h->values;
            h->values = v->next;
            value_free(v);
        }
        free(h);
    }
    pthread_mutex_unlock(&store_lock);
}

bool fx_registry_kind_parse(const char *text, fx_reg_kind *out)
{
    static const char *const names[] = {"device", "driver", "parameters"};
    for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (text != NULL && strcasecmp(text, names[i]) == 0) {
            *out = (fx_reg_kind)i;
            return true;
        }
    }
    return false;
}

bool fx_registry_ascii(const char *text, WCHAR *buf, size_t cap, UNICODE_STRING *out)
{
    size_t n = strlen(text);
    if (n > cap)
        return false;
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)text[i] >= 0x80)
            return false;
        buf[i] = (WCHAR)(unsigned char)text[i];
    }
    out->Buffer = buf;
    out->Length = (USHORT)(n * sizeof(WCHAR));
    out->MaximumLength = (USHORT)(cap * sizeof(WCHAR));
    return true;
}

/* ---- WDFKEY ----------------------------------------------------------------------------- */
typedef struct fx_key {
    fx_object obj;
    wdfdma_machine *machine;
    fx_reg_kind kind;
    char owner[FX_REG_OWNER_MAX];
    ACCESS_MASK access;                  /* generic rights already mapped to KEY_* */
} fx_key;

static const fx_object_ops key_ops = {
    .type = FX_TYPE_KEY,
    .name = "WDFKEY",
    .driver_deletable = true,
};

static fx_key *key_from(WDFKEY handle, const char *ddi)
{
    return FX_FROM_OBJ(fx_resolve(handle, FX_TYPE_KEY, ddi), fx_key);
}

/* The kernel maps generic rights onto the key-specific ones at open time. */
static ACCESS_MASK map_access(ACCESS_MASK desired)
{
    ACCESS_MASK a = desired & ~(ACCESS_MASK)(GENERIC_READ | GENERIC_WRITE | GENERIC_EXECUTE |
                                             GENERIC_ALL | 0x02000000u /* MAXIMUM_ALLOWED */);
    if (desired & (GENERIC_READ | GENERIC_EXECUTE))
        a |= KEY_READ;
    if (desired & GENERIC_WRITE)
        a |= KEY_WRITE;
    if (desired & (GENERIC_ALL | 0x02000000u))
        a |= KEY_ALL_ACCESS;
    return a;
}

/* KMDF's FxValidateUnicodeString: an even length within MaximumLength and a buffer. */
static bool name_valid(PCUNICODE_STRING s)
{
    return !(s->Length & 1) && s->Length <= s->MaximumLength &&
           (s->Length == 0 || s->Buffer != NULL) &&
           s->Length <= FX_REG_NAME_MAX * sizeof(WCHAR);
}

static NTSTATUS key_open(fx_object *parent, wdfdma_machine *m, fx_reg_kind kind,
                         const char *owner, ACCESS_MASK access,
                         PWDF_OBJECT_ATTRIBUTES attributes, WDFKEY *out)
{
    fx_object *o;
    NTSTATUS status = fx_object_create(&key_ops, sizeof(fx_key), attributes, parent, true, &o);
    if (!NT_SUCCESS(status))
        return status;
    fx_key *k = FX_FROM_OBJ(o, fx_key);
    k->machine = m;
    k->kind = kind;
    k->access = map_access(access);
    snprintf(k->owner, sizeof(k->owner), "%s", owner);
    *out = (WDFKEY)fx_handle(o);
    return STATUS_SUCCESS;
}

NTSTATUS WdfDeviceOpenRegistryKey(WDFDEVICE Device, ULONG DeviceInstanceKeyType,
                                  ACCESS_MASK DesiredAccess, PWDF_OBJECT_ATTRIBUTES KeyAttributes,
                                  WDFKEY *Key)
{
    static const char ddi[] = "WdfDeviceOpenRegistryKey";
    fx_device *dev = fx_device_from_handle(Device, ddi);
    fx_check_required(Key, ddi, "Key");
    *Key = NULL;
    if (!fx_check_irql(PASSIVE_LEVEL, ddi))
        return STATUS_INVALID_DEVICE_REQUEST;
    ULONG type = DeviceInstanceKeyType & ~(ULONG)PLUGPLAY_REGKEY_CURRENT_HWPROFILE;
    if (type != PLUGPLAY_REGKEY_DEVICE && type != PLUGPLAY_REGKEY_DRIVER)
        return STATUS_INVALID_PARAMETER;
    fx_reg_kind kind = type == PLUGPLAY_REGKEY_DEVICE ? FX_REG_DEVICE : FX_REG_DRIVER;
    return key_open(&dev->obj, dev->obj.machine, kind, wdfdma_dev_name(dev->hardware),
                    DesiredAccess, KeyAttributes, Key);
}

NTSTATUS WdfDriverOpenParametersRegistryKey(WDFDRIVER Driver, ACCESS_MASK DesiredAccess,
                                            PWDF_OBJECT_ATTRIBUTES KeyAttributes, WDFKEY *Key)
{
    static const char ddi[] = "WdfDriverOpenParametersRegistryKey";
    fx_driver *drv = fx_driver_from_handle(Driver, ddi);
    fx_check_required(Key, ddi, "Key");
    *Key = NULL;
    if (!fx_check_irql(PASSIVE_LEVEL, ddi))
        return STATUS_INVALID_DEVICE_REQUEST;
    return key_open(&drv->obj, drv->image->machine, FX_REG_PARAMETERS, drv->image->name,
                    DesiredAccess, KeyAttributes, Key);
}

VOID WdfRegistryClose(WDFKEY Key)
{
    static const char ddi[] = "WdfRegistryClose";
    fx_key *k = key_from(Key, ddi);
    if (!fx_check_irql(PASSIVE_LEVEL, ddi)) {
        fx_verifier_break(ddi, "called above PASSIVE_LEVEL; the key stays open");
        return;
    }
    fx_object_delete(&k->obj);
}

NTSTATUS WdfRegistryQueryValue(WDFKEY Key, PCUNICODE_STRING ValueName, ULONG ValueLength,
                               PVOID Value, PULONG ValueLengthQueried, PULONG ValueType)
{
    static const char ddi[] = "WdfRegistryQueryValue";
    fx_key *k = key_from(Key, ddi);
    fx_check_required(ValueName, ddi, "ValueName");
    if (!fx_check_irql(PASSIVE_LEVEL, ddi))
        return STATUS_INVALID_DEVICE_REQUEST;
    if (!name_valid(ValueName))
        return STATUS_INVALID_PARAMETER;
    if (!(k->access & KEY_QUERY_VALUE))
        return STATUS_ACCESS_DENIED;
    ULONG length = 0, type = REG_NONE;
    NTSTATUS status = fx_registry_get(k->machine, k->kind, k->owner, ValueName, ValueLength,
                                      Value, &length, &type);
    if (NT_SUCCESS(status) || status == STATUS_BUFFER_OVERFLOW) {
        if (ValueLengthQueried != NULL)
            *ValueLengthQueried = length;
        if (ValueType != NULL)
            *ValueType = type;
    }
    return status;
}

NTSTATUS WdfRegistryQueryULong(WDFKEY Key, PCUNICODE_STRING ValueName, PULONG Value)
{
    static const char ddi[] = "WdfRegistryQueryULong";
    fx_key *k = key_from(Key, ddi);
    fx_check_required(ValueName, ddi, "ValueName");
    fx_check_required(Value, ddi, "Value");
    if (!fx_check_irql(PASSIVE_LEVEL, ddi))
        return STATUS_INVALID_DEVICE_REQUEST;
    if (!name_valid(ValueName))
        return STATUS_INVALID_PARAMETER;
    if (!(k->access & KEY_QUERY_VALUE))
        return STATUS_ACCESS_DENIED;
    ULONG data = 0, length = 0, type = REG_NONE;
    NTSTATUS status = fx_registry_get(k->machine, k->kind, k->owner, ValueName, sizeof(data),
                                      &data, &length, &type);
    if ((NT_SUCCESS(status) || status == STATUS_BUFFER_OVERFLOW) &&
        (type != REG_DWORD || length != sizeof(ULONG)))
        return STATUS_OBJECT_TYPE_MISMATCH;
    if (NT_SUCCESS(status))
        *Value = data;
    return status;
}

static NTSTATUS key_assign(fx_key *k, PCUNICODE_STRING name, ULONG type, const void *data,
                           ULONG length)
{
    if (!name_valid(name))
        return STATUS_INVALID_PARAMETER;
    if (!(k->access & KEY_SET_VALUE))
        return STATUS_ACCESS_DENIED;
    return fx_registry_set(k->machine, k->kind, k->owner, name, type, data, length, false);
}

NTSTATUS WdfRegistryAssignULong(WDFKEY Key, PCUNICODE_STRING ValueName, ULONG Value)
{
    static const char ddi[] = "WdfRegistryAssignULong";
    fx_key *k = key_from(Key, ddi);
    fx_check_required(ValueName, ddi, "ValueName");
    if (!fx_check_irql(PASSIVE_LEVEL, ddi))
        return STATUS_INVALID_DEVICE_REQUEST;
    return key_assign(k, ValueName, REG_DWORD, &Value, sizeof(Value));
}

NTSTATUS WdfRegistryAssignValue(WDFKEY Key, PCUNICODE_STRING ValueName, ULONG ValueType,
                                ULONG ValueLength, PVOID Value)
{
    static const char ddi[] = "WdfRegistryAssignValue";
    fx_key *k = key_from(Key, ddi);
    fx_check_required(ValueName, ddi, "ValueName");
    if (ValueLength != 0)
        fx_check_required(Value, ddi, "Value");
    if (!fx_check_irql(PASSIVE_LEVEL, ddi))
        return STATUS_INVALID_DEVICE_REQUEST;
    return key_assign(k, ValueName, ValueType, Value, ValueLength);
}

/* ---- host API ------------------------------------------------------------------------- */
typedef struct host_args {
    fx_reg_kind kind;
    UNICODE_STRING name;
    WCHAR name_buffer[FX_REG_NAME_MAX];
} host_args;

static int host_parse(wdfdma_machine *m, const char *owner, const char *key,
                      const char *value_name, host_args *a, const char *fn)
{
    if (m == NULL)
        return mach_error(EINVAL, "%s: machine is NULL", fn);
    if (owner == NULL || owner[0] == '\0' || strlen(owner) >= FX_REG_OWNER_MAX)
        return mach_error(EINVAL, "%s: device or driver name must be 1..%d characters", fn,
                          FX_REG_OWNER_MAX - 1);
    if (!fx_registry_kind_parse(key, &a->kind))
        return mach_error(EINVAL, "%s: key '%s' is not \"device\", \"driver\" or \"parameters\"",
                          fn, key ? key : "(null)");
    if (value_name == NULL ||
        !fx_registry_ascii(value_name, a->name_buffer, FX_REG_NAME_MAX, &a->name))
        return mach_error(EINVAL, "%s: value name must be ASCII, at most %d characters", fn,
                          FX_REG_NAME_MAX);
    return 0;
}

static int host_status(NTSTATUS status, const char *fn, const char *value_name)
{
    if (NT_SUCCESS(status))
        return 0;
    if (status == STATUS_OBJECT_NAME_NOT_FOUND)
        return mach_error(ENOENT, "%s: no value '%s'", fn, value_name);
    return mach_error(ENOMEM, "%s: out of memory storing '%s'", fn, value_name);
}

int wdfdma_registry_set_ulong(wdfdma_machine *m, const char *device_or_driver_name,
                              const char *key, const char *value_name, uint32_t value)
{
    static const char fn[] = "wdfdma_registry_set_ulong";
    host_args a;
    int rc = host_parse(m, device_or_driver_name, key, value_name, &a, fn);
    if (rc)
        return rc;
    ULONG data = value;
    return host_status(fx_registry_set(m, a.kind, device_or_driver_name, &a.name, REG_DWORD,
                                       &data, sizeof(data), false),
                       fn, value_name);
}

int wdfdma_registry_get_ulong(wdfdma_machine *m, const char *device_or_driver_name,
                              const char *key, const char *value_name, uint32_t *value)
{
    static const char fn[] = "wdfdma_registry_get_ulong";
    host_args a;
    int rc = host_parse(m, device_or_driver_name, key, value_name, &a, fn);
    if (rc)
        return rc;
    if (value == NULL)
        return mach_error(EINVAL, "%s: value pointer is NULL", fn);
    ULONG data = 0, length = 0, type = REG_NONE;
    NTSTATUS status = fx_registry_get(m, a.kind, device_or_driver_name, &a.name, sizeof(data),
                                      &data, &length, &type);
    if ((NT_SUCCESS(status) || status == STATUS_BUFFER_OVERFLOW) &&
        (type != REG_DWORD || length != sizeof(ULONG)))
        return mach_error(EINVAL, "%s: '%s' is not a REG_DWORD (type %u)", fn, value_name,
                          (unsigned)type);
    rc = host_status(status, fn, value_name);
    if (rc == 0)
        *value = data;
    return rc;
}

int wdfdma_registry_set_string(wdfdma_machine *m, const char *device_or_driver_name,
                               const char *key, const char *value_name, const char *text)
{
    static const char fn[] = "wdfdma_registry_set_string";
    host_args a;
    int rc = host_parse(m, device_or_driver_name, key, value_name, &a, fn);
    if (rc)
        return rc;
    if (text == NULL)
        return mach_error(EINVAL, "%s: text is NULL", fn);
    size_t n = strlen(text);
    WCHAR *wide = malloc((n + 1) * sizeof(WCHAR));
    if (wide == NULL)
        return mach_error(ENOMEM, "%s: out of memory", fn);
    UNICODE_STRING ignored;
    if (n + 1 > MAXULONG / sizeof(WCHAR) || !fx_registry_ascii(text, wide, n + 1, &ignored)) {
        free(wide);
        return mach_error(EINVAL, "%s: text must be ASCII", fn);
    }
    wide[n] = 0;
    NTSTATUS status = fx_registry_set(m, a.kind, device_or_driver_name, &a.name, REG_SZ, wide,
                                      (ULONG)((n + 1) * sizeof(WCHAR)), false);
    free(wide);
    return host_status(status, fn, value_name);
}

int wdfdma_registry_delete_value(wdfdma_machine *m, const char *device_or_driver_name,
                                 const char *key, const char *value_name)
{
    static const char fn[] = "wdfdma_registry_delete_value";
    host_args a;
    int rc = host_parse(m, device_or_driver_name, key, value_name, &a, fn);
    if (rc)
        return rc;
    return host_status(fx_registry_delete(m, a.kind, device_or_driver_name, &a.name), fn,
                       value_name);
}
