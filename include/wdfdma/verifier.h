/*
 * wdfdma host API: the verifier's rules and findings.
 *
 * With wdfdma_machine_config.verifier on, the framework (KMDF's verifier) and the HAL
 * (Driver Verifier's DMA verification) check drivers against a fixed table of rules. Each
 * rule has a stable ID ("DMA-ACCESS-UNMAPPED"), a one-line explanation and an action: a
 * report (a finding; the machine goes on) or a bug check (a finding, then the bug check,
 * whose wdfdma_bugcheck.rule names the rule). docs/verifier.md describes every rule, how
 * it is detected and how to fix a driver that breaks it.
 *
 * A finding carries the rule, the object it is about (the trace object id: a transaction,
 * a common buffer, a DMA adapter, a device model ...), a one-line message and a report:
 * the message, the object's recent state history where it has one, and the last trace
 * events. Findings are kept in order; the first WDFDMA_VERIFIER_FINDINGS_KEPT of a
 * machine are readable, later ones are only counted.
 */
#ifndef WDFDMA_VERIFIER_H
#define WDFDMA_VERIFIER_H

#include <stddef.h>
#include <stdint.h>
#include "wdfdma/machine.h"

#ifdef __cplusplus
extern "C" {
#endif

#define WDFDMA_VERIFIER_FINDINGS_KEPT 256u

typedef enum wdfdma_verifier_action {
    WDFDMA_VERIFIER_REPORT = 0,        /* a finding; execution continues */
    WDFDMA_VERIFIER_BUGCHECK = 1,      /* a finding, then the bug check below */
} wdfdma_verifier_action;

typedef struct wdfdma_verifier_rule {
    const char *id;                    /* "DMA-ACCESS-UNMAPPED" */
    const char *text;                  /* one line: what the driver did wrong */
    wdfdma_verifier_action action;
    uint32_t bugcheck;                 /* 0x10D, 0xE6 (BUGCHECK), else 0 */
    uint64_t p1;                       /* the bug check's first parameter */
    bool verifier_only;                /* checked only with the verifier on */
} wdfdma_verifier_rule;

/* The rule table, in document order: NULL past the end. */
const wdfdma_verifier_rule *wdfdma_verifier_rule_at(unsigned index);
/* The rule with this ID, or NULL. */
const wdfdma_verifier_rule *wdfdma_verifier_rule_find(const char *id);

typedef struct wdfdma_verifier_finding {
    const char *rule;                  /* a rule ID of the table */
    uint32_t object;                   /* trace object id (0: none) */
    const char *message;               /* one line */
    const char *report;                /* message, object history, last trace events */
} wdfdma_verifier_finding;

/* Findings recorded on `m` so far (including those no longer kept). */
size_t wdfdma_verifier_finding_count(wdfdma_machine *m);
/* The index-th finding (oldest first). The strings stay valid until the machine is
 * destroyed. -EINVAL for a NULL argument, -ERANGE past the kept findings. */
int wdfdma_verifier_finding_get(wdfdma_machine *m, size_t index, wdfdma_verifier_finding *out);
/* Findings of one rule (ID compared exactly) among the kept ones. */
size_t wdfdma_verifier_findings_of(wdfdma_machine *m, const char *rule);

#ifdef __cplusplus
}
#endif
#endif
