/*
 * Bug checks (fatal contract violations) and reports (non-fatal findings).
 *
 * A bug check prints code, parameters, message, the driver callback in progress and the
 * last trace records, remembers itself for wdfdma_machine_last_bugcheck, then calls the
 * host's handler. A handler may longjmp out (tests trap bug checks that way); if it
 * returns, or there is none, the process aborts: a bug check never returns to its caller.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "machine/machine_priv.h"

#define REPORT_RECORDS 16

void wdfdma_machine_set_bugcheck_handler(wdfdma_machine *m, wdfdma_bugcheck_handler h, void *ctx)
{
    if (!m)
        return;
    m->bc_handler = h;
    m->bc_ctx = ctx;
}

void wdfdma_machine_set_bugcheck_quiet(wdfdma_machine *m, bool quiet)
{
    if (m)
        m->quiet = quiet;
}

const wdfdma_bugcheck *wdfdma_machine_last_bugcheck(wdfdma_machine *m)
{
    return m && m->has_bc ? &m->last_bc : NULL;
}

static void print_report(wdfdma_machine *m, const wdfdma_bugcheck *bc)
{
    fprintf(stderr,
            "\n*** wdfdma BUG CHECK 0x%08X (0x%llx, 0x%llx, 0x%llx, 0x%llx)\n"
            "*** %s\n*** callback in progress: %s\n",
            bc->code, (unsigned long long)bc->p[0], (unsigned long long)bc->p[1],
            (unsigned long long)bc->p[2], (unsigned long long)bc->p[3], bc->message,
            bc->callback[0] ? bc->callback : "(none)");
    if (!m)
        return;
    wdfdma_trace_record recs[REPORT_RECORDS];
    size_t n = wdfdma_trace_recent(m, recs, REPORT_RECORDS);
    fprintf(stderr, "*** last %zu trace records:\n", n);
    for (size_t i = 0; i < n; i++) {
        char line[256];
        wdfdma_trace_format(&recs[i], line, sizeof(line));
        fprintf(stderr, "    %s\n", line);
    }
}

_Noreturn void mach_bugcheck(uint32_t code, uint64_t p1, uint64_t p2, uint64_t p3, uint64_t p4,
                             const char *fmt, ...)
{
    wdfdma_machine *m = mach_current();
    static _Thread_local char msg[256], cb[64];
    wdfdma_bugcheck local;
    wdfdma_bugcheck *bc = m ? &m->last_bc : &local;
    char *mbuf = m ? m->bc_message : msg;
    char *cbuf = m ? m->bc_callback : cb;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(mbuf, sizeof(msg), fmt, ap);
    va_end(ap);
    snprintf(cbuf, sizeof(cb), "%s", mach_callback_current());
    *bc = (wdfdma_bugcheck){ .code = code, .p = { p1, p2, p3, p4 }, .message = mbuf,
                             .callback = cbuf };
    if (m) {
        m->has_bc = true;
        mach_trace(m, WDFDMA_TR_BUGCHECK, 0, NULL, code, p1);
    }
    if (!m || !m->quiet)
        print_report(m, bc);
    if (m && m->bc_handler)
        m->bc_handler(m->bc_ctx, bc);
    fflush(stderr);
    abort();
}

void mach_report(wdfdma_machine *m, const char *rule, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (m)
        atomic_fetch_add_explicit(&m->findings, 1, memory_order_relaxed);
    if (!m || !m->quiet)
        fprintf(stderr, "wdfdma: [%s] %s\n", rule ? rule : "report", msg);
}

uint64_t mach_findings(wdfdma_machine *m)
{
    return m ? atomic_load_explicit(&m->findings, memory_order_relaxed) : 0;
}
