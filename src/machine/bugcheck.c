/*
 * Bug checks (fatal contract violations), reports (non-fatal findings) and the
 * verifier's findings.
 *
 * A bug check prints code, parameters, message, the driver callback in progress and the
 * last trace records, remembers itself for wdfdma_machine_last_bugcheck, then calls the
 * host's handler. A handler may longjmp out (tests trap bug checks that way); if it
 * returns, or there is none, the process aborts: a bug check never returns to its caller.
 *
 * Verifier findings (mach_finding, mach_bugcheck_rule) are the one path every verifier
 * rule goes through, whatever layer detects it: each records the rule ID, the object and
 * a report (message, the object's state history, the last trace events) in the machine's
 * finding log, which the host reads through wdfdma/verifier.h. The log keeps the first
 * WDFDMA_VERIFIER_FINDINGS_KEPT findings and counts the rest.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "machine/machine_priv.h"
#include "wdfdma/verifier.h"

#define REPORT_RECORDS 16
#define FINDING_RECORDS 8            /* trace records in a finding's report */

typedef struct mach_vlog {
    pthread_mutex_t lock;            /* always taken: findings are rare, engines differ */
    size_t count;                    /* findings made */
    wdfdma_verifier_finding kept[WDFDMA_VERIFIER_FINDINGS_KEPT];
} mach_vlog;

/* The rule of the bug check being raised on this thread (mach_bugcheck_rule). */
static _Thread_local const char *bugcheck_rule MACH_TLS_FAST;

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
                             .callback = cbuf, .rule = bugcheck_rule ? bugcheck_rule : "" };
    bugcheck_rule = NULL;
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

bool wdfdma_machine_verifier_double_buffer(const wdfdma_machine *m)
{
    return m && m->cfg.verifier && m->cfg.verifier_double_buffer;
}

/* ---- verifier findings ------------------------------------------------------------------ */
static mach_vlog *vlog_of(wdfdma_machine *m)
{
    mach_vlog *v = atomic_load_explicit(&m->vlog, memory_order_acquire);
    if (v != NULL)
        return v;
    mach_vlog *fresh = calloc(1, sizeof(*fresh));
    if (fresh == NULL)
        return NULL;
    pthread_mutex_init(&fresh->lock, NULL);
    if (atomic_compare_exchange_strong(&m->vlog, &v, fresh))
        return fresh;
    pthread_mutex_destroy(&fresh->lock);   /* another thread created it first */
    free(fresh);
    return v;
}

/* The report: message, history, the last trace records (one per line). */
static char *finding_report(wdfdma_machine *m, const char *rule, uint32_t obj,
                            const char *history, const char *msg)
{
    size_t cap = 512 + strlen(msg) + (history ? strlen(history) : 0) + FINDING_RECORDS * 160;
    char *r = malloc(cap);
    if (r == NULL)
        return NULL;
    size_t n = (size_t)snprintf(r, cap, "verifier rule %s: %s\n  object: %u\n  history: %s\n"
                                "  last trace events:\n", rule, msg, obj,
                                history && history[0] ? history : "(none kept)");
    wdfdma_trace_record recs[FINDING_RECORDS];
    size_t k = wdfdma_trace_recent(m, recs, FINDING_RECORDS);
    for (size_t i = 0; i < k && n < cap; i++) {
        char line[160];
        wdfdma_trace_format(&recs[i], line, sizeof(line));
        n += (size_t)snprintf(r + n, cap - n, "    %s\n", line);
    }
    return r;
}

/* `fatal`: a bug check follows, which prints its own report and is not one of the
 * non-fatal findings mach_findings counts. */
static void record_finding(wdfdma_machine *m, const char *rule, uint32_t obj,
                           const char *history, const char *msg, bool fatal)
{
    if (!fatal)
        atomic_fetch_add_explicit(&m->findings, 1, memory_order_relaxed);
    mach_trace(m, WDFDMA_TR_NOTE, obj, rule, 0, 0);
    char *report = finding_report(m, rule, obj, history, msg);
    if (!m->quiet && !fatal)
        fprintf(stderr, "wdfdma: [%s] %s", rule, report ? report : msg);
    mach_vlog *v = vlog_of(m);
    char *text = strdup(msg);
    if (v == NULL || text == NULL || report == NULL) {
        free(text);
        free(report);
        return;
    }
    pthread_mutex_lock(&v->lock);
    size_t i = v->count++;
    if (i < WDFDMA_VERIFIER_FINDINGS_KEPT) {
        v->kept[i] = (wdfdma_verifier_finding){ .rule = rule, .object = obj, .message = text,
                                                .report = report };
        text = report = NULL;
    }
    pthread_mutex_unlock(&v->lock);
    free(text);
    free(report);
}

void mach_finding(wdfdma_machine *m, const char *rule, uint32_t obj, const char *history,
                  const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (m == NULL) {
        fprintf(stderr, "wdfdma: [%s] %s\n", rule, msg);
        return;
    }
    record_finding(m, rule, obj, history, msg, false);
}

_Noreturn void mach_bugcheck_rule(const char *rule, uint32_t obj, const char *history,
                                  uint32_t code, uint64_t p1, uint64_t p2, uint64_t p3,
                                  uint64_t p4, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    wdfdma_machine *m = mach_current();
    if (m != NULL)
        record_finding(m, rule, obj, history, msg, true);
    bugcheck_rule = rule;
    mach_bugcheck(code, p1, p2, p3, p4, "%s", msg);
}

void mach_findings_free(wdfdma_machine *m)
{
    mach_vlog *v = atomic_exchange(&m->vlog, NULL);
    if (v == NULL)
        return;
    size_t kept = v->count < WDFDMA_VERIFIER_FINDINGS_KEPT ? v->count
                                                           : WDFDMA_VERIFIER_FINDINGS_KEPT;
    for (size_t i = 0; i < kept; i++) {
        free((char *)v->kept[i].message);
        free((char *)v->kept[i].report);
    }
    pthread_mutex_destroy(&v->lock);
    free(v);
}

size_t wdfdma_verifier_finding_count(wdfdma_machine *m)
{
    mach_vlog *v = m ? atomic_load_explicit(&m->vlog, memory_order_acquire) : NULL;
    if (v == NULL)
        return 0;
    pthread_mutex_lock(&v->lock);
    size_t n = v->count;
    pthread_mutex_unlock(&v->lock);
    return n;
}

int wdfdma_verifier_finding_get(wdfdma_machine *m, size_t index, wdfdma_verifier_finding *out)
{
    if (m == NULL || out == NULL)
        return mach_error(EINVAL, "wdfdma_verifier_finding_get: %s is NULL",
                          m == NULL ? "machine" : "out");
    mach_vlog *v = atomic_load_explicit(&m->vlog, memory_order_acquire);
    size_t n = 0;
    if (v != NULL) {
        pthread_mutex_lock(&v->lock);
        n = v->count < WDFDMA_VERIFIER_FINDINGS_KEPT ? v->count : WDFDMA_VERIFIER_FINDINGS_KEPT;
        if (index < n)
            *out = v->kept[index];
        pthread_mutex_unlock(&v->lock);
    }
    if (index >= n)
        return mach_error(ERANGE, "wdfdma_verifier_finding_get: finding %zu of %zu kept",
                          index, n);
    return 0;
}

size_t wdfdma_verifier_findings_of(wdfdma_machine *m, const char *rule)
{
    mach_vlog *v = m ? atomic_load_explicit(&m->vlog, memory_order_acquire) : NULL;
    if (v == NULL || rule == NULL)
        return 0;
    size_t hits = 0;
    pthread_mutex_lock(&v->lock);
    size_t n = v->count < WDFDMA_VERIFIER_FINDINGS_KEPT ? v->count : WDFDMA_VERIFIER_FINDINGS_KEPT;
    for (size_t i = 0; i < n; i++)
        hits += strcmp(v->kept[i].rule, rule) == 0;
    pthread_mutex_unlock(&v->lock);
    return hits;
}
