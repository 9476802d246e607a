/*
 * Controller channels shared by system adapters (see dma_channel in dma_internal.h).
 *
 * A channel's life: FREE --take--> HELD(adapter) --release--> FREE, with a FIFO of waiting
 * requests (one entry per queued request, naming its adapter). A new request takes a free
 * channel only when nobody waits; a queued one only when it is the oldest waiter. Release
 * names the adapter first in line so its dispatcher can grant it.
 */
#include <stdlib.h>

#include "wdm/dma_internal.h"

NTSTATUS wdm_dma_channel_bind(dma_adapter *a)
{
    dma_machine *dm = a->dm;
    pthread_mutex_lock(&dm->lock);
    dma_channel *ch = dm->channels;
    while (ch != NULL && (ch->ctrl != a->sys.ctrl || ch->number != a->sys.channel))
        ch = ch->next;
    if (ch == NULL && (ch = calloc(1, sizeof(*ch))) != NULL) {
        ch->ctrl = a->sys.ctrl;
        ch->number = a->sys.channel;
        KeInitializeSpinLock(&ch->lock);
        ch->next = dm->channels;
        dm->channels = ch;
    }
    if (ch != NULL)
        ch->users++;
    pthread_mutex_unlock(&dm->lock);
    a->sys.chan = ch;
    return ch != NULL ? STATUS_SUCCESS : STATUS_INSUFFICIENT_RESOURCES;
}

void wdm_dma_channel_unbind(dma_adapter *a)
{
    dma_channel *ch = a->sys.chan;
    if (ch == NULL)
        return;
    /* An adapter that goes leaves no entry behind (PutDmaAdapter with requests queued). */
    KIRQL old;
    KeAcquireSpinLock(&ch->lock, &old);
    unsigned kept = 0;
    for (unsigned i = 0; i < ch->nwaiting; i++)
        if (ch->waiting[i] != a)
            ch->waiting[kept++] = ch->waiting[i];
    ch->nwaiting = kept;
    if (ch->holder == a)
        ch->holder = NULL;
    KeReleaseSpinLock(&ch->lock, old);
    dma_machine *dm = a->dm;
    pthread_mutex_lock(&dm->lock);
    if (--ch->users == 0) {
        dma_channel **pp = &dm->channels;
        while (*pp != ch)
            pp = &(*pp)->next;
        *pp = ch->next;
        free(ch->waiting);
        free(ch);
    }
    pthread_mutex_unlock(&dm->lock);
    a->sys.chan = NULL;
}

bool wdm_dma_channel_take(dma_adapter *a, bool queued)
{
    wdm_dma_assert_locked(a);
    dma_channel *ch = a->sys.chan;
    KIRQL old;
    KeAcquireSpinLock(&ch->lock, &old);
    bool ok = ch->holder == NULL &&
              (queued ? ch->nwaiting > 0 && ch->waiting[0] == a : ch->nwaiting == 0);
    if (ok) {
        ch->holder = a;
        if (queued) {
            ch->nwaiting--;
            for (unsigned i = 0; i < ch->nwaiting; i++)
                ch->waiting[i] = ch->waiting[i + 1];
        }
    }
    KeReleaseSpinLock(&ch->lock, old);
    return ok;
}

bool wdm_dma_channel_wait(dma_adapter *a)
{
    wdm_dma_assert_locked(a);
    dma_channel *ch = a->sys.chan;
    KIRQL old;
    KeAcquireSpinLock(&ch->lock, &old);
    if (ch->nwaiting == ch->cap) {
        /* Rare and bounded by the requests in flight: not on the per-transfer path. */
        unsigned cap = ch->cap ? ch->cap * 2 : 8;
        dma_adapter **grown = realloc(ch->waiting, cap * sizeof(*grown));
        if (grown == NULL) {
            KeReleaseSpinLock(&ch->lock, old);
            return false;
        }
        ch->waiting = grown;
        ch->cap = cap;
    }
    ch->waiting[ch->nwaiting++] = a;
    KeReleaseSpinLock(&ch->lock, old);
    return true;
}

static dma_adapter *first_in_line_locked(dma_channel *ch)
{
    return ch->holder == NULL && ch->nwaiting > 0 ? ch->waiting[0] : NULL;
}

dma_adapter *wdm_dma_channel_unwait(dma_adapter *a, unsigned nth)
{
    wdm_dma_assert_locked(a);
    dma_channel *ch = a->sys.chan;
    KIRQL old;
    KeAcquireSpinLock(&ch->lock, &old);
    for (unsigned i = 0, seen = 0; i < ch->nwaiting; i++) {
        if (ch->waiting[i] != a || seen++ != nth)
            continue;
        ch->nwaiting--;
        for (unsigned j = i; j < ch->nwaiting; j++)
            ch->waiting[j] = ch->waiting[j + 1];
        break;
    }
    dma_adapter *next = first_in_line_locked(ch);
    KeReleaseSpinLock(&ch->lock, old);
    return next;
}

dma_adapter *wdm_dma_channel_release(dma_adapter *a)
{
    wdm_dma_assert_locked(a);
    dma_channel *ch = a->sys.chan;
    KIRQL old;
    KeAcquireSpinLock(&ch->lock, &old);
    if (ch->holder == a)
        ch->holder = NULL;
    dma_adapter *next = first_in_line_locked(ch);
    KeReleaseSpinLock(&ch->lock, old);
    return next;
}
