/*
 * The hardware event queue: a binary min-heap ordered by (time, tie, seq).
 *
 * `tie` is drawn from the seeded PRNG when the event is scheduled, so events due at the
 * same time run in an order the seed chooses (races between devices are explored
 * reproducibly); `seq` makes the order total. Events live in a slot array that grows
 * geometrically; the heap holds slot indices and every slot knows its heap position, so
 * cancellation is O(log n). An id is (generation << 32 | slot + 1): a stale id (the event
 * ran or was cancelled and the slot reused) never cancels someone else's event.
 *
 * Not thread-safe: the engine holds its lock around every call.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "machine/machine_priv.h"

#define NONE UINT32_MAX

int mach_evq_init(mach_evq *q)
{
    memset(q, 0, sizeof(*q));
    q->free_head = NONE;
    q->cap = 64;
    q->slots = calloc(q->cap, sizeof(*q->slots));
    q->heap = calloc(q->cap, sizeof(*q->heap));
    if (!q->slots || !q->heap) {
        mach_evq_fini(q);
        return -ENOMEM;
    }
    return 0;
}

void mach_evq_fini(mach_evq *q)
{
    free(q->slots);
    free(q->heap);
    q->slots = NULL;
    q->heap = NULL;
    q->nheap = q->nslots = q->cap = 0;
}

static inline bool before(const mach_evq *q, uint32_t a, uint32_t b)
{
    const mach_event *x = &q->slots[a], *y = &q->slots[b];
    if (x->time != y->time)
        return x->time < y->time;
    if (x->tie != y->tie)
        return x->tie < y->tie;
    return x->seq < y->seq;
}

static inline void place(mach_evq *q, uint32_t pos, uint32_t slot)
{
    q->heap[pos] = slot;
    q->slots[slot].heap_pos = pos;
}

static void sift_up(mach_evq *q, uint32_t pos)
{
    uint32_t slot = q->heap[pos];
    while (pos > 0) {
        uint32_t parent = (pos - 1) / 2;
        if (!before(q, slot, q->heap[parent]))
            break;
        place(q, pos, q->heap[parent]);
        pos = parent;
    }
    place(q, pos, slot);
}

static void sift_down(mach_evq *q, uint32_t pos)
{
    uint32_t slot = q->heap[pos];
    for (;;) {
        uint32_t child = 2 * pos + 1;
        if (child >= q->nheap)
            break;
        if (child + 1 < q->nheap && before(q, q->heap[child + 1], q->heap[child]))
            child++;
        if (!before(q, q->heap[child], slot))
            break;
        place(q, pos, q->heap[child]);
        pos = child;
    }
    place(q, pos, slot);
}

static int grow(mach_evq *q)
{
    uint32_t cap = q->cap * 2;
    mach_event *slots = realloc(q->slots, cap * sizeof(*slots));
    if (!slots)
        return -ENOMEM;
    q->slots = slots;
    uint32_t *heap = realloc(q->heap, cap * sizeof(*heap));
    if (!heap)
        return -ENOMEM;
    q->heap = heap;
    q->cap = cap;
    return 0;
}

static uint32_t take_slot(mach_evq *q)
{
    if (q->free_head != NONE) {
        uint32_t s = q->free_head;
        q->free_head = q->slots[s].heap_pos;
        return s;
    }
    if (q->nslots == q->cap && grow(q))
        return NONE;
    q->slots[q->nslots].gen = 0;
    return q->nslots++;
}

static void release_slot(mach_evq *q, uint32_t s)
{
    q->slots[s].gen++;
    q->slots[s].heap_pos = q->free_head;
    q->free_head = s;
}

mach_event_id mach_evq_push(mach_evq *q, const mach_event *e)
{
    uint32_t s = take_slot(q);
    if (s == NONE)
        return 0;
    uint32_t gen = q->slots[s].gen;
    q->slots[s] = *e;
    q->slots[s].gen = gen;
    q->slots[s].seq = q->seq++;
    place(q, q->nheap++, s);
    sift_up(q, q->nheap - 1);
    return ((uint64_t)gen << 32) | (s + 1);
}

const mach_event *mach_evq_peek(const mach_evq *q)
{
    return q->nheap ? &q->slots[q->heap[0]] : NULL;
}

static void remove_at(mach_evq *q, uint32_t pos)
{
    uint32_t s = q->heap[pos];
    q->nheap--;
    if (pos != q->nheap) {
        place(q, pos, q->heap[q->nheap]);
        if (pos > 0 && before(q, q->heap[pos], q->heap[(pos - 1) / 2]))
            sift_up(q, pos);
        else
            sift_down(q, pos);
    }
    release_slot(q, s);
}

bool mach_evq_pop(mach_evq *q, mach_event *out)
{
    if (!q->nheap)
        return false;
    *out = q->slots[q->heap[0]];
    remove_at(q, 0);
    return true;
}

bool mach_evq_cancel(mach_evq *q, mach_event_id id)
{
    uint32_t s = (uint32_t)(id & 0xFFFFFFFFu);
    if (s == 0 || s > q->nslots)
        return false;
    s--;
    mach_event *e = &q->slots[s];
    if (e->gen != (uint32_t)(id >> 32) || e->heap_pos >= q->nheap || q->heap[e->heap_pos] != s)
        return false;
    remove_at(q, e->heap_pos);
    return true;
}

/* Run a popped event in hardware context: no processor (cpu 0xFF in the trace), above
 * every IRQL, under the device's serialisation for device events. */
void mach_event_run(wdfdma_machine *m, const mach_event *e)
{
    uint8_t saved_cpu = mach_ctx.cpu, saved_irql = mach_ctx.irql;
    mach_ctx_set(MACH_CPU_HW, MACH_HIGH_LEVEL);
    MACH_STAT_ADD(m, events, 1);
    if (e->dev) {
        mach_device_enter(e->dev);
        e->devfn(e->dev, e->ctx);
        mach_device_leave(e->dev);
    } else {
        if (!m->threaded)
            m->in_hw++;
        e->fn(e->ctx);
        if (!m->threaded)
            m->in_hw--;
    }
    mach_ctx_set(saved_cpu, saved_irql);
}
