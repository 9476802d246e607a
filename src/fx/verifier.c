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
 */
#include <stdarg.h>
#include <stdio.h>

#include "fx/internal.h"

bool fx_verifier_on(void)
{
    return wdfdma_machine_verifier(mach_current());
}

_Noreturn void fx_bugcheck(ULONG p1, ULONG_PTR p2, ULONG_PTR p3, ULONG_PTR p4, const char *fmt,
                           ...)
{
    char msg[224];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    mach_bugcheck(WDF_VIOLATION, p1, p2, p3, p4, "WDF_VIOLATION: %s", msg);
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
    mach_report(mach_current(), "wdf-verifier", "%s called at IRQL %u; its maximum is %u", ddi,
                irql, max);
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
        mach_report(m, "wdf-verifier", "%s: %s", ddi, msg);
}
