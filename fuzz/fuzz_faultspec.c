/*
 * libFuzzer target: the fault-spec parser (src/machine/faults.c).
 *
 * Oracle: parsing never crashes; a refusal leaves one non-empty line in
 * wdfdma_last_error(); an accepted spec formats to a canonical text that parses again
 * to the same canonical text (format is a fixed point), and the formatted length agrees
 * with what a short buffer reports.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wdfdma/faults.h"
#include "wdfdma/machine.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *spec = malloc(size + 1);
    if (spec == NULL)
        return 0;
    memcpy(spec, data, size);
    spec[size] = 0;
    wdfdma_fault_plan *p = NULL;
    int rc = wdfdma_fault_plan_parse(spec, &p);
    if (rc != 0) {
        const char *msg = wdfdma_last_error();
        if (p != NULL || msg[0] == 0 || strchr(msg, '\n') != NULL)
            abort();
        free(spec);
        return 0;
    }
    char text[8192], again[8192], tiny[7];
    int n = wdfdma_fault_plan_format(p, text, sizeof(text));
    if (n < 0 || (size_t)n >= sizeof(text) || (size_t)n != strlen(text))
        abort();
    if (wdfdma_fault_plan_format(p, tiny, sizeof(tiny)) != n || strlen(tiny) >= sizeof(tiny))
        abort();
    wdfdma_fault_plan *q = NULL;
    if (wdfdma_fault_plan_parse(text, &q) != 0)
        abort();                       /* the canonical text must parse */
    if (wdfdma_fault_plan_format(q, again, sizeof(again)) != n || strcmp(text, again) != 0)
        abort();                       /* and be a fixed point */
    if (wdfdma_fault_plan_clauses(p) != wdfdma_fault_plan_clauses(q))
        abort();
    wdfdma_fault_plan_free(p);
    wdfdma_fault_plan_free(q);
    free(spec);
    return 0;
}
