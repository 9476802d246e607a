/*
 * The checks every DDI makes (declared in fx/internal.h), in KMDF's two tiers:
 *
 *   contract violation (bad handle, NULL required parameter)  -> bug check 0x10D WDF_VIOLATION
 *   recoverable misuse (wrong IRQL for a PASSIVE-only DDI, a soft error)
 *       verifier on  -> a report (a machine finding) and, for IRQL, a failure status
 *       verifier off -> nothing: KMDF only checks these under its verifier
 *
 * Parameters follow KMDF's FxVerifierBugCheck / FxVerifierNullBugCheck: a NULL required
 * parameter is P1 0x4 with P2 0 and P3 the caller's address; a bad handle is P1 0x5 with
 * P2 the handle and P3 the expected type (fx_resolve in object.c raises that one).
 *
 * Every one of them is a verifier finding of a rule of the table (verifier_rules.c): a
 * bug check's rule follows from its first parameter (rule_of), reports name theirs.
 * The object a finding is about is the one the DDI got, where the check knows it.
 */
#include <stdarg.h>
#include <stdio.h>

#include "fx/device.h"
#include "fx/dma.h"
#include "fx/io.h"
#include "wdm/dma_internal.h"

bool fx_verifier_on(void)
{
    return wdfdma_machine_verifier(mach_current());
}

static const char *rule_of(ULONG p1)
{
    switch (p1) {
    case WDF_REQUIRED_PARAMETER_IS_NULL:
        return FX_RULE_NULL_PARAMETER;
    case WDF_INVALID_HANDLE:
        return FX_RULE_INVALID_HANDLE;
    case WDF_DMA_FATAL_ERROR:
        return FX_RULE_DMA_STATE;
    case WDF_VERIFIER_FATAL_ERROR:
        return FX_RULE_REQUEST_IN_TRANSFER;
    default:
        return FX_RULE_WDF_VIOLATION;
    }
}

static _Noreturn void vbugcheck(uint32_t obj, const char *history, ULONG p1, ULONG_PTR p2,
                                ULONG_PTR p3, ULONG_PTR p4, const char *fmt, va_list ap)
{
    char msg[224];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    mach_bugcheck_rule(rule_of(p1), obj, history, WDF_VIOLATION, p1, p2, p3, p4,
                       "WDF_VIOLATION: %s", msg);
}

_Noreturn void fx_bugcheck(ULONG p1, ULONG_PTR p2, ULONG_PTR p3, ULONG_PTR p4, const char *fmt,
                           ...)
{
    va_list ap;
    va_start(ap, fmt);
    vbugcheck(0, NULL, p1, p2, p3, p4, fmt, ap);
}

_Noreturn void fx_bugcheck_object(const fx_object *o, const char *history, ULONG p1,
                                  ULONG_PTR p2, ULONG_PTR p3, ULONG_PTR p4, const char *fmt,
                                  ...)
{
    va_list ap;
    va_start(ap, fmt);
    vbugcheck(o != NULL ? o->id : 0, history, p1, p2, p3, p4, fmt, ap);
}

/* noinline: the caller's return address is the DDI's, which KMDF reports in P3. */
__attribute__((noinline)) void fx_check_required(const void *p, const char *ddi,
                                                 const char *param)
{
    if (p != NULL)
        return;
    fx_bugcheck(WDF_REQUIRED_PARAMETER_IS_NULL, 0,
                (ULONG_PTR)__builtin_extract_return_addr(__builtin_return_address(0)), 0,
                "%s: required parameter %s is NULL", ddi, param);
}

bool fx_check_irql(KIRQL max, const char *ddi)
{
    uint8_t irql = mach_irql();
    if (irql <= max || !fx_verifier_on())
        return true;
    mach_finding(mach_current(), FX_RULE_IRQL, 0, NULL, "%s called at IRQL %u; its maximum is %u",
                 ddi, irql, max);
    return false;
}

void fx_verifier_break(const char *ddi, const char *fmt, ...)
{
    wdfdma_machine *m = mach_current();
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    mach_trace(m, WDFDMA_TR_NOTE, 0, "verifier-break", 0, 0);
    if (fx_verifier_on())
        mach_finding(m, FX_RULE_VERIFIER_BREAK, 0, NULL, "%s: %s", ddi, msg);
}

/* ---- leaks at removal ------------------------------------------------------------------- */
typedef struct removal_scan {
    fx_device *dev;
    fx_object *found[64];               /* reported after the table lock is dropped */
    unsigned n;
    uint64_t more;
} removal_scan;

/* Requests, transactions, common buffers and enablers belong to a device through their
 * parent chain; a live object keeps its parents alive, so the walk is safe. */
static void removal_visit(fx_object *o, void *ctx)
{
    removal_scan *sc = ctx;
    fx_type t = o->ops->type;
    if (t != FX_TYPE_REQUEST && t != FX_TYPE_DMA_TRANSACTION && t != FX_TYPE_COMMON_BUFFER &&
        t != FX_TYPE_DMA_ENABLER)
        return;
    fx_object *owner = t == FX_TYPE_REQUEST ? &((fx_request *)o)->dev->obj
                                            : fx_object_ancestor(o, FX_TYPE_DEVICE);
    if (owner != &sc->dev->obj)
        return;
    if (sc->n < sizeof sc->found / sizeof sc->found[0]) {
        fx_object_reference(o);
        sc->found[sc->n++] = o;
    } else {
        sc->more++;
    }
}

static void history_of(fx_object *o, char *buf, size_t len)
{
    buf[0] = '\0';
    if (o->ops->type != FX_TYPE_DMA_TRANSACTION)
        return;
    fx_dma_transaction *t = (fx_dma_transaction *)o;
    unsigned count = t->history_pos < FX_DMA_STATE_HISTORY ? t->history_pos : FX_DMA_STATE_HISTORY;
    size_t n = 0;
    for (unsigned i = count; i > 0 && n < len; i--)
        n += (size_t)snprintf(buf + n, len - n, "%s%s", i == count ? "" : ",",
                              fx_dma_state_name((fx_dma_state)t->history[
                                  (t->history_pos - i) % FX_DMA_STATE_HISTORY]));
}

void fx_verifier_check_removal(fx_device *dev)
{
    wdfdma_machine *m = dev->obj.machine;
    if (!wdfdma_machine_verifier(m))
        return;
    removal_scan sc = { .dev = dev };
    fx_object_for_each_live(m, removal_visit, &sc);
    for (unsigned i = 0; i < sc.n; i++) {
        fx_object *o = sc.found[i];
        char hist[128];
        history_of(o, hist, sizeof hist);
        mach_finding(m, FX_RULE_LEAK_AT_REMOVAL, o->id, hist,
                     "%s %p (object %u) of WDFDEVICE %p is still alive after the device was "
                     "removed (%s, %d reference(s) besides the check's): a "
                     "WdfObjectReference without WdfObjectDereference, or a request never "
                     "completed", o->ops->name, (void *)fx_handle(o), o->id,
                     (void *)fx_handle(&dev->obj),
                     o->state == FX_OBJ_LIVE ? "never deleted" : "deleted", (int)o->refs - 1);
        fx_object_dereference(o);
    }
    if (sc.more != 0)
        mach_finding(m, FX_RULE_LEAK_AT_REMOVAL, dev->obj.id, NULL,
                     "and %llu more object(s) of WDFDEVICE %p", (unsigned long long)sc.more,
                     (void *)fx_handle(&dev->obj));
}

/* ---- DMA transactions -------------------------------------------------------------------- */
void fx_verifier_dma_completed(fx_dma_transaction *t)
{
    if (!fx_verifier_on())
        return;
    /* Common buffers live on the enabler's read adapter (commonbuffer.c). */
    PDMA_ADAPTER a = fx_dma_enabler_description(t->enabler, WdfDmaDirectionReadFromDevice)->adapter;
    wdm_dma_verify_guards(a, "WdfDmaTransactionDmaCompleted");
}

void fx_verifier_transaction_end(fx_dma_transaction *t, PDMA_ADAPTER adapter)
{
    if (!fx_verifier_on() || adapter == NULL)
        return;
    PVOID kept = t->map_registers_reserved > 0 ? t->map_register_base : NULL;
    ULONG held = wdm_dma_registers_owned(adapter, t->obj.id, kept);
    if (held == 0)
        return;
    char hist[128];
    history_of(&t->obj, hist, sizeof hist);
    mach_finding(mach_current(), "DMA-MAPREG-HELD-AT-END", t->obj.id, hist,
                 "WDFDMATRANSACTION %p ended (%s) with %lu map register(s) of DMA adapter %p "
                 "still granted for its work: an SG list or adapter channel the driver "
                 "took in EvtProgramDma was not put / freed before the transfer completed",
                 (void *)fx_handle(&t->obj), fx_dma_state_name(t->state), (unsigned long)held,
                 (void *)adapter);
}
