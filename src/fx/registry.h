/*
 * The simulated registry's store (registry.c), shared by the WDFKEY DDIs, the host API
 * (include/wdfdma/registry.h) and the INF loader (inf.c).
 *
 * A hive is one key: (machine, kind, owner name). Values are (UTF-16 name, type, bytes);
 * names compare case-insensitively. The store is process-wide and keyed by machine, so
 * it lives outside the machine's slots: fx_registry_forget_machine drops a machine's
 * keys and must run when the machine goes away (see registry.c).
 */
#ifndef WDFDMA_FX_REGISTRY_H
#define WDFDMA_FX_REGISTRY_H

#include "fx/internal.h"

typedef enum fx_reg_kind {
    FX_REG_DEVICE = 0,   /* PLUGPLAY_REGKEY_DEVICE: hardware key, per device instance */
    FX_REG_DRIVER,       /* PLUGPLAY_REGKEY_DRIVER: software key, per device instance */
    FX_REG_PARAMETERS,   /* Services\<driver>\Parameters, per driver */
} fx_reg_kind;

#define FX_REG_OWNER_MAX 64      /* owner names are shorter than this */
#define FX_REG_NAME_MAX 255      /* value names: at most this many UTF-16 units */

/* Create or replace a value. `no_clobber`: keep an existing value (INF NOCLOBBER).
 * STATUS_INSUFFICIENT_RESOURCES when out of memory. */
NTSTATUS fx_registry_set(wdfdma_machine *m, fx_reg_kind kind, const char *owner,
                         PCUNICODE_STRING name, ULONG type, const void *data, ULONG length,
                         bool no_clobber);
/* Read a value with ZwQueryValueKey's KMDF contract: data copied only if it fits in
 * `capacity` (else STATUS_BUFFER_OVERFLOW); *length and *type are set whenever the value
 * exists. STATUS_OBJECT_NAME_NOT_FOUND if it does not. */
NTSTATUS fx_registry_get(wdfdma_machine *m, fx_reg_kind kind, const char *owner,
                         PCUNICODE_STRING name, ULONG capacity, void *data, ULONG *length,
                         ULONG *type);
NTSTATUS fx_registry_delete(wdfdma_machine *m, fx_reg_kind kind, const char *owner,
                            PCUNICODE_STRING name);
/* Drop every key of `m` (machine teardown). */
void fx_registry_forget_machine(wdfdma_machine *m);

/* Parse "device" / "driver" / "parameters" (case-insensitive); false if none. */
bool fx_registry_kind_parse(const char *text, fx_reg_kind *out);
/* Widen an ASCII string into buf (cap units) as a UNICODE_STRING; false if it is not
 * ASCII or does not fit. */
bool fx_registry_ascii(const char *text, WCHAR *buf, size_t cap, UNICODE_STRING *out);

/* The hardware IDs a driver's INF serves (see inf.c). 0 with *ids (malloc'd, *count
 * entries), -ENOENT without a message if the file does not exist, or a negative errno
 * with wdfdma_last_error() naming the file and line. */
int fx_inf_hardware_ids(const char *path, char (**ids)[128], unsigned *count);

#endif
