/*
 * Kernel state per machine (the machine's MACH_SLOT_WDM) and the calling thread's machine.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "wdm/wdm_internal.h"
#include "wdm/wdm_state.h"

wdfdma_machine *wdm_machine(const char *ddi)
{
    wdfdma_machine *m = mach_current();
    if (m == NULL) {
        fprintf(stderr, "wdfdma: %s called on a thread that runs no machine\n", ddi);
        abort();
    }
    return m;
}

static void state_destroy(void *p)
{
    wdm_machine_state *s = p;
    /* The machine frees its own memory; only our records of it remain. */
    while (s->contig != NULL) {
        wdm_contig *next = s->contig->next;
        free(s->contig);
        s->contig = next;
    }
    pthread_mutex_destroy(&s->contig_lock);
    free(s);
}

/* Created on first use. Creation is rare, so one process-wide mutex makes the lazy
 * creation safe on the threads engine without costing anything afterwards. */
wdm_machine_state *wdm_state(wdfdma_machine *m)
{
    static pthread_mutex_t create_lock = PTHREAD_MUTEX_INITIALIZER;
    wdm_machine_state *s = mach_slot(m, MACH_SLOT_WDM);
    if (s != NULL)
        return s;
    pthread_mutex_lock(&create_lock);
    s = mach_slot(m, MACH_SLOT_WDM);
    if (s == NULL) {
        s = calloc(1, sizeof(*s));
        if (s == NULL) {
            pthread_mutex_unlock(&create_lock);
            mach_bugcheck(KMODE_EXCEPTION_NOT_HANDLED, (uint64_t)(ULONG)STATUS_NO_MEMORY, 0, 0, 0,
                          "out of host memory creating the kernel state");
        }
        pthread_mutex_init(&s->contig_lock, NULL);
        mach_set_slot(m, MACH_SLOT_WDM, s, state_destroy);
    }
    pthread_mutex_unlock(&create_lock);
    return s;
}
