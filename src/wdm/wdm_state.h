/*
 * The kernel's per-machine state. Private to src/wdm (other layers use wdm_internal.h).
 */
#ifndef WDFDMA_WDM_STATE_H
#define WDFDMA_WDM_STATE_H

#include <pthread.h>
#include <stdatomic.h>

#include "wdm/wdm_internal.h"

/* A contiguous allocation (MmAllocateContiguousMemory): the free call has no size. */
typedef struct wdm_contig {
    struct wdm_contig *next;
    void *va;
    size_t bytes;
} wdm_contig;

struct wdm_machine_state {
    atomic_long dpcs_pending;      /* queued or running DPCs (KeFlushQueuedDpcs) */
    pthread_mutex_t contig_lock;   /* host lock: guards `contig` */
    wdm_contig *contig;
};

#endif
