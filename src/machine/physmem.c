/*
 * Physical memory: a sparse frame table (PFN -> host page) and the placement policies.
 *
 * Host memory stays where it is; a host page gets a frame number when it is locked
 * (mach_mem_lock, for an MDL) or allocated contiguous (common buffers). A host page that
 * already has a frame keeps it and its reference count goes up, so an MDL over a common
 * buffer sees the buffer's frames.
 *
 * Structures:
 *  - frame table: a three-level radix (top | 9-bit mid | 9-bit leaf) over the PFN; a leaf
 *    holds 512 host-page pointers, reference counts and the in-use bitmap. A leaf is
 *    created on first use and unhooked when its last frame is dropped, onto a free list
 *    it is taken from again (already all zero). Scattered placement picks frames anywhere
 *    in the physical space, so nearly every lock lands in a leaf of its own: keeping empty
 *    leaves grew the heap by a leaf per request, and allocating them cost a calloc and a
 *    page fault each. Every lookup holds mem_lock (threads), so unhooking never races.
 *  - host page -> PFN: an open-addressing hash map (linear probing, backward-shift
 *    deletion), grown by doubling: the only allocation on the lock path, amortised.
 *
 * Reserved physical space: the first 1 MiB (PA 0 never valid) and the PCI hole
 * [3 GiB, 4 GiB) where the bus puts MMIO.
 *
 * Threads engine: every entry point holds mem_lock.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "machine/machine_priv.h"

#define LEAF_BITS 9u
#define MID_BITS 9u
#define LEAF_SIZE (1u << LEAF_BITS)
#define MID_SIZE (1u << MID_BITS)
#define PFN_LOW 0x100ull              /* first usable frame: 1 MiB */
#define HOLE_START 0xC0000ull         /* 3 GiB */
#define HOLE_END 0x100000ull          /* 4 GiB */

typedef struct pm_leaf {
    void *host[LEAF_SIZE];
    uint32_t refs[LEAF_SIZE];
    uint64_t used[LEAF_SIZE / 64];
    uint32_t nused;                    /* frames in use: the leaf is unhooked at zero */
    struct pm_leaf *next_free;
} pm_leaf;

typedef struct pm_mid {
    pm_leaf *leaf[MID_SIZE];
    uint32_t nleaves;                  /* hooked leaves: the mid is unhooked at zero */
    struct pm_mid *next_free;
} pm_mid;

typedef struct pm_slot {
    uint64_t key;                      /* host page number; 0 = empty */
    uint64_t pfn;
} pm_slot;

struct mach_physmem {
    pm_mid **top;
    uint64_t top_size;
    uint64_t pfn_end;                  /* exclusive: 2^(phys_addr_bits - 12) */
    pm_slot *map;
    uint64_t map_cap, map_count;
    pm_leaf *free_leaves;              /* unhooked empty leaves, all zero */
    pm_mid *free_mids;                 /* unhooked empty mids, all zero */
};

/* ---- frame table --------------------------------------------------------------------- */
static inline pm_leaf *leaf_of(const mach_physmem *pm, uint64_t pfn)
{
    uint64_t t = pfn >> (LEAF_BITS + MID_BITS);
    if (t >= pm->top_size)
        return NULL;
    pm_mid *mid = pm->top[t];
    return mid ? mid->leaf[(pfn >> LEAF_BITS) & (MID_SIZE - 1)] : NULL;
}

/* Mids are recycled like leaves: scattered placement spreads frames over the whole
 * physical space (2^16 mids of 4 KiB with 46 address bits), so keeping every mid ever
 * touched was a calloc now and then in steady state and a heap that grew towards 256 MiB. */
static pm_leaf *leaf_make(mach_physmem *pm, uint64_t pfn)
{
    uint64_t t = pfn >> (LEAF_BITS + MID_BITS);
    if (!pm->top[t]) {
        pm_mid *mid = pm->free_mids;
        if (mid)
            pm->free_mids = mid->next_free;
        else if (!(mid = calloc(1, sizeof(pm_mid))))
            return NULL;
        mid->next_free = NULL;
        pm->top[t] = mid;
    }
    pm_mid *mid = pm->top[t];
    pm_leaf **slot = &mid->leaf[(pfn >> LEAF_BITS) & (MID_SIZE - 1)];
    if (!*slot && pm->free_leaves) {
        *slot = pm->free_leaves;
        pm->free_leaves = (*slot)->next_free;
        (*slot)->next_free = NULL;
        mid->nleaves++;
    } else if (!*slot) {
        if ((*slot = calloc(1, sizeof(pm_leaf))) != NULL)
            mid->nleaves++;
    }
    if (!*slot && mid->nleaves == 0) {
        /* Out of memory for the leaf: do not leave an empty mid hooked. */
        pm->top[t] = NULL;
        mid->next_free = pm->free_mids;
        pm->free_mids = mid;
    }
    return *slot;
}

static inline bool frame_used(const mach_physmem *pm, uint64_t pfn)
{
    const pm_leaf *l = leaf_of(pm, pfn);
    unsigned i = pfn & (LEAF_SIZE - 1);
    return l && (l->used[i / 64] >> (i % 64)) & 1;
}

static inline bool frame_reserved(uint64_t pfn)
{
    return pfn < PFN_LOW || (pfn >= HOLE_START && pfn < HOLE_END);
}

/* First used or reserved frame in [from, to); `to` if none. Skips absent leaves whole. */
static uint64_t first_unavailable(const mach_physmem *pm, uint64_t from, uint64_t to)
{
    uint64_t p = from;
    while (p < to) {
        if (frame_reserved(p))
            return p;
        uint64_t leaf_end = (p | (LEAF_SIZE - 1)) + 1;
        if (p < HOLE_START && leaf_end > HOLE_START)
            leaf_end = HOLE_START;
        const pm_leaf *l = leaf_of(pm, p);
        if (l) {
            for (uint64_t q = p; q < leaf_end && q < to; q++) {
                unsigned i = q & (LEAF_SIZE - 1);
                if ((l->used[i / 64] >> (i % 64)) & 1)
                    return q;
            }
        }
        p = leaf_end;
    }
    return to;
}

/* Back frame `pfn` with `host`, one reference. The frame is free and not reserved. */
static int frame_take(wdfdma_machine *m, uint64_t pfn, void *host)
{
    pm_leaf *l = leaf_make(m->pm, pfn);
    if (!l)
        return -ENOMEM;
    unsigned i = pfn & (LEAF_SIZE - 1);
    l->host[i] = host;
    l->refs[i] = 1;
    l->used[i / 64] |= 1ull << (i % 64);
    l->nused++;
    uint64_t n = MACH_STAT_ADD(m, frames_in_use, 1) + 1;
    if (n > atomic_load_explicit(&m->stats.frames_peak, memory_order_relaxed))
        atomic_store_explicit(&m->stats.frames_peak, n, memory_order_relaxed);
    return 0;
}

static void frame_drop(wdfdma_machine *m, pm_leaf *l, uint64_t pfn)
{
    unsigned i = pfn & (LEAF_SIZE - 1);
    l->host[i] = NULL;
    l->refs[i] = 0;
    l->used[i / 64] &= ~(1ull << (i % 64));
    MACH_STAT_ADD(m, frames_in_use, (uint64_t)-1);
    if (--l->nused)
        return;
    /* Empty: every host/refs/used entry is zero again. Unhook it for reuse, and its mid
     * too when that was the mid's last leaf. */
    mach_physmem *pm = m->pm;
    uint64_t t = pfn >> (LEAF_BITS + MID_BITS);
    pm_mid *mid = pm->top[t];
    mid->leaf[(pfn >> LEAF_BITS) & (MID_SIZE - 1)] = NULL;
    l->next_free = pm->free_leaves;
    pm->free_leaves = l;
    if (--mid->nleaves)
        return;
    pm->top[t] = NULL;
    mid->next_free = pm->free_mids;
    pm->free_mids = mid;
}

/* ---- host page -> PFN hash map ------------------------------------------------------- */
static inline uint64_t slot_of(const mach_physmem *pm, uint64_t key)
{
    return (key * 0x9E3779B97F4A7C15ull) >> 17 & (pm->map_cap - 1);
}

static pm_slot *map_find(const mach_physmem *pm, uint64_t key)
{
    for (uint64_t s = slot_of(pm, key);; s = (s + 1) & (pm->map_cap - 1)) {
        if (pm->map[s].key == key)
            return &pm->map[s];
        if (pm->map[s].key == 0)
            return NULL;
    }
}

static void map_put_nogrow(mach_physmem *pm, uint64_t key, uint64_t pfn)
{
    uint64_t s = slot_of(pm, key);
    while (pm->map[s].key)
        s = (s + 1) & (pm->map_cap - 1);
    pm->map[s].key = key;
    pm->map[s].pfn = pfn;
    pm->map_count++;
}

static int map_put(mach_physmem *pm, uint64_t key, uint64_t pfn)
{
    if ((pm->map_count + 1) * 2 > pm->map_cap) {
        pm_slot *old = pm->map;
        uint64_t old_cap = pm->map_cap;
        pm_slot *nm = calloc(old_cap * 2, sizeof(*nm));
        if (!nm)
            return -ENOMEM;
        pm->map = nm;
        pm->map_cap = old_cap * 2;
        pm->map_count = 0;
        for (uint64_t i = 0; i < old_cap; i++)
            if (old[i].key)
                map_put_nogrow(pm, old[i].key, old[i].pfn);
        free(old);
    }
    map_put_nogrow(pm, key, pfn);
    return 0;
}

static void map_del(mach_physmem *pm, pm_slot *hole)
{
    uint64_t mask = pm->map_cap - 1;
    uint64_t i = (uint64_t)(hole - pm->map);
    /* Backward-shift deletion keeps every probe chain unbroken without tombstones. */
    for (uint64_t j = (i + 1) & mask; pm->map[j].key; j = (j + 1) & mask) {
        uint64_t home = slot_of(pm, pm->map[j].key);
        bool movable = (j > i) ? (home <= i || home > j) : (home <= i && home > j);
        if (movable) {
            pm->map[i] = pm->map[j];
            i = j;
        }
    }
    pm->map[i].key = 0;
    pm->map_count--;
}

/* ---- placement ------------------------------------------------------------------------ */
static void policy_range(const mach_physmem *pm, int policy, uint64_t *lo, uint64_t *hi)
{
    *lo = PFN_LOW;
    *hi = pm->pfn_end;
    if (policy == WDFDMA_MEM_BELOW4G)
        *hi = HOLE_START;
    else if (policy == WDFDMA_MEM_ABOVE4G)
        *lo = HOLE_END;
}

/* A random free frame in [lo, hi); 0 if the range is full. */
static uint64_t pick_random(wdfdma_machine *m, uint64_t lo, uint64_t hi)
{
    for (int attempt = 0; attempt < 64; attempt++) {
        uint64_t p = lo + mach_random(m) % (hi - lo);
        if (!frame_reserved(p) && !frame_used(m->pm, p))
            return p;
    }
    /* Dense region: walk from a random point. */
    uint64_t start = lo + mach_random(m) % (hi - lo);
    for (uint64_t k = 0; k < hi - lo; k++) {
        uint64_t p = lo + (start - lo + k) % (hi - lo);
        if (!frame_reserved(p) && !frame_used(m->pm, p))
            return p;
    }
    return 0;
}

/* First run of n free frames in [lo, hi), its first frame aligned to `align` frames. */
static uint64_t find_run(const mach_physmem *pm, uint64_t n, uint64_t lo, uint64_t hi,
                         uint64_t align)
{
    uint64_t p = (lo + align - 1) & ~(align - 1);
    while (p + n <= hi && p + n > p) {
        uint64_t bad = first_unavailable(pm, p, p + n);
        if (bad == p + n)
            return p;
        if (bad >= HOLE_START && bad < HOLE_END)
            bad = HOLE_END - 1;
        p = (bad + align) & ~(align - 1);
    }
    return 0;
}

/* ---- creation ------------------------------------------------------------------------- */
int mach_physmem_create(wdfdma_machine *m)
{
    mach_physmem *pm = calloc(1, sizeof(*pm));
    if (!pm)
        return mach_error(ENOMEM, "out of memory for the frame table");
    unsigned pfn_bits = m->cfg.phys_addr_bits - MACH_PAGE_SHIFT;
    pm->pfn_end = 1ull << pfn_bits;
    pm->top_size = 1ull << (pfn_bits - LEAF_BITS - MID_BITS);
    pm->top = calloc(pm->top_size, sizeof(*pm->top));
    pm->map_cap = 1024;
    pm->map = calloc(pm->map_cap, sizeof(*pm->map));
    if (!pm->top || !pm->map) {
        free(pm->top);
        free(pm->map);
        free(pm);
        return mach_error(ENOMEM, "out of memory for the frame table");
    }
    m->pm = pm;
    return 0;
}

void mach_physmem_destroy(wdfdma_machine *m)
{
    mach_physmem *pm = m->pm;
    if (!pm)
        return;
    uint64_t in_use = atomic_load(&m->stats.frames_in_use);
    if (in_use)
        mach_report(m, "leak", "%llu physical frame(s) still locked at machine destroy",
                    (unsigned long long)in_use);
    for (uint64_t t = 0; t < pm->top_size; t++) {
        if (!pm->top[t])
            continue;
        for (unsigned i = 0; i < MID_SIZE; i++)
            free(pm->top[t]->leaf[i]);
        free(pm->top[t]);
    }
    while (pm->free_leaves) {
        pm_leaf *l = pm->free_leaves;
        pm->free_leaves = l->next_free;
        free(l);
    }
    while (pm->free_mids) {
        pm_mid *mid = pm->free_mids;
        pm->free_mids = mid->next_free;
        free(mid);
    }
    free(pm->top);
    free(pm->map);
    free(pm);
    m->pm = NULL;
}

/* ---- locking buffers ------------------------------------------------------------------ */
static void unlock_one(wdfdma_machine *m, uint64_t pfn)
{
    pm_leaf *l = leaf_of(m->pm, pfn);
    unsigned i = pfn & (LEAF_SIZE - 1);
    if (!l || !l->refs[i]) {
        mach_report(m, "memory", "unlock of frame %#llx that is not locked",
                    (unsigned long long)pfn);
        return;
    }
    if (--l->refs[i])
        return;
    pm_slot *s = map_find(m->pm, (uint64_t)(uintptr_t)l->host[i] >> MACH_PAGE_SHIFT);
    if (s)
        map_del(m->pm, s);
    frame_drop(m, l, pfn);
}

static int lock_pages(wdfdma_machine *m, uintptr_t first_page, size_t pages, int policy,
                      mach_pfn *pfns)
{
    mach_physmem *pm = m->pm;
    uint64_t lo, hi;
    policy_range(pm, policy == WDFDMA_MEM_CONTIGUOUS ? WDFDMA_MEM_SCATTERED : policy, &lo, &hi);
    /* Contiguous: one run for every page that has no frame yet. */
    uint64_t run = 0;
    if (policy == WDFDMA_MEM_CONTIGUOUS) {
        size_t need = 0;
        for (size_t i = 0; i < pages; i++)
            need += map_find(pm, first_page + i) == NULL;
        if (need && !(run = find_run(pm, need, lo, hi, 1)))
            return -ENOMEM;
    }
    for (size_t i = 0; i < pages; i++) {
        uint64_t key = first_page + i;
        pm_slot *s = map_find(pm, key);
        if (s) {
            leaf_of(pm, s->pfn)->refs[s->pfn & (LEAF_SIZE - 1)]++;
            pfns[i] = s->pfn;
            continue;
        }
        uint64_t pfn = run ? run++ : pick_random(m, lo, hi);
        if (!pfn || frame_take(m, pfn, (void *)(key << MACH_PAGE_SHIFT)))
            goto err_unlock;
        if (map_put(pm, key, pfn)) {
            frame_drop(m, leaf_of(pm, pfn), pfn);
            goto err_unlock;
        }
        pfns[i] = pfn;
        continue;
err_unlock:
        for (size_t k = 0; k < i; k++)
            unlock_one(m, pfns[k]);
        return -ENOMEM;
    }
    return 0;
}

int mach_mem_lock(wdfdma_machine *m, const void *va, size_t len, int policy, mach_pfn *pfns)
{
    if (!m || !va || !len || !pfns)
        return -EINVAL;
    if (policy < 0)
        policy = (int)m->cfg.memory;
    if (policy > WDFDMA_MEM_ABOVE4G)
        return -EINVAL;
    uintptr_t a = (uintptr_t)va;
    uintptr_t first = a >> MACH_PAGE_SHIFT;
    size_t pages = ((a + len - 1) >> MACH_PAGE_SHIFT) - first + 1;
    mach_lock(m, &m->mem_lock);
    int rc = lock_pages(m, first, pages, policy, pfns);
    mach_unlock(m, &m->mem_lock);
    return rc;
}

void mach_mem_unlock(wdfdma_machine *m, const mach_pfn *pfns, size_t count)
{
    if (!m || !pfns)
        return;
    mach_lock(m, &m->mem_lock);
    for (size_t i = 0; i < count; i++)
        unlock_one(m, pfns[i]);
    mach_unlock(m, &m->mem_lock);
}

int mach_mem_alloc_contig(wdfdma_machine *m, size_t bytes, uint64_t limit, uint64_t align,
                          void **va, uint64_t *pa)
{
    if (!m || !bytes || !va || !pa)
        return -EINVAL;
    if (align < MACH_PAGE_SIZE)
        align = MACH_PAGE_SIZE;
    if (align & (align - 1))
        return -EINVAL;
    size_t pages = (bytes + MACH_PAGE_SIZE - 1) / MACH_PAGE_SIZE;
    void *host = aligned_alloc(MACH_PAGE_SIZE, pages * MACH_PAGE_SIZE);
    if (!host)
        return -ENOMEM;
    memset(host, 0, pages * MACH_PAGE_SIZE);
    mach_lock(m, &m->mem_lock);
    mach_physmem *pm = m->pm;
    uint64_t hi = pm->pfn_end;
    if (limit && (limit >> MACH_PAGE_SHIFT) < hi)
        hi = limit >> MACH_PAGE_SHIFT;
    uint64_t run = find_run(pm, pages, PFN_LOW, hi, align >> MACH_PAGE_SHIFT);
    uint64_t first = (uintptr_t)host >> MACH_PAGE_SHIFT;
    size_t done = 0;
    if (!run)
        goto err_free;
    for (; done < pages; done++) {
        if (frame_take(m, run + done, (char *)host + done * MACH_PAGE_SIZE))
            goto err_free;
        if (map_put(pm, first + done, run + done)) {
            frame_drop(m, leaf_of(pm, run + done), run + done);
            goto err_free;
        }
    }
    mach_unlock(m, &m->mem_lock);
    *va = host;
    *pa = run << MACH_PAGE_SHIFT;
    return 0;

err_free:
    for (size_t k = 0; k < done; k++)
        unlock_one(m, run + k);
    mach_unlock(m, &m->mem_lock);
    free(host);
    return -ENOMEM;
}

void mach_mem_free_contig(wdfdma_machine *m, void *va, size_t bytes)
{
    if (!m || !va)
        return;
    size_t pages = (bytes + MACH_PAGE_SIZE - 1) / MACH_PAGE_SIZE;
    uintptr_t first = (uintptr_t)va >> MACH_PAGE_SHIFT;
    mach_lock(m, &m->mem_lock);
    for (size_t i = 0; i < pages; i++) {
        pm_slot *s = map_find(m->pm, first + i);
        if (!s) {
            mach_report(m, "memory", "free of contiguous buffer %p: page %zu has no frame",
                        va, i);
            continue;
        }
        uint64_t pfn = s->pfn;
        pm_leaf *l = leaf_of(m->pm, pfn);
        if (l->refs[pfn & (LEAF_SIZE - 1)] > 1)
            mach_report(m, "memory", "contiguous buffer %p freed while page %zu is still "
                        "locked (%u references)", va, i, l->refs[pfn & (LEAF_SIZE - 1)]);
        l->refs[pfn & (LEAF_SIZE - 1)] = 1;
        unlock_one(m, pfn);
    }
    mach_unlock(m, &m->mem_lock);
    free(va);
}

/* ---- translation ---------------------------------------------------------------------- */
void *mach_mem_host(wdfdma_machine *m, uint64_t pa)
{
    if (!m)
        return NULL;
    mach_lock(m, &m->mem_lock);
    pm_leaf *l = leaf_of(m->pm, pa >> MACH_PAGE_SHIFT);
    void *h = l ? l->host[(pa >> MACH_PAGE_SHIFT) & (LEAF_SIZE - 1)] : NULL;
    mach_unlock(m, &m->mem_lock);
    return h ? (char *)h + (pa & (MACH_PAGE_SIZE - 1)) : NULL;
}

uint64_t mach_mem_physical(wdfdma_machine *m, const void *va)
{
    if (!m || !va)
        return 0;
    uintptr_t a = (uintptr_t)va;
    mach_lock(m, &m->mem_lock);
    pm_slot *s = map_find(m->pm, a >> MACH_PAGE_SHIFT);
    uint64_t pa = s ? (s->pfn << MACH_PAGE_SHIFT) | (a & (MACH_PAGE_SIZE - 1)) : 0;
    mach_unlock(m, &m->mem_lock);
    return pa;
}

int mach_phys_copy_locked(wdfdma_machine *m, uint64_t pa, void *buf, size_t len, bool write)
{
    const mach_physmem *pm = m->pm;
    if (pa + len < pa || ((pa + len - 1) >> MACH_PAGE_SHIFT) >= pm->pfn_end)
        return -EFAULT;
    /* Validate every frame first so a fault moves no data. */
    for (uint64_t p = pa >> MACH_PAGE_SHIFT; p <= (pa + len - 1) >> MACH_PAGE_SHIFT; p++) {
        const pm_leaf *l = leaf_of(pm, p);
        if (!l || !l->host[p & (LEAF_SIZE - 1)])
            return -EFAULT;
    }
    /* Consecutive frames backed by consecutive host pages (contiguous placement, common
     * buffers, a bounce buffer) are one memcpy: glibc copies a long run faster than the
     * same bytes page by page, and the loop costs one lookup per page instead of a call. */
    char *b = buf;
    while (len) {
        uint64_t p = pa >> MACH_PAGE_SHIFT;
        size_t off = pa & (MACH_PAGE_SIZE - 1);
        size_t n = MACH_PAGE_SIZE - off < len ? MACH_PAGE_SIZE - off : len;
        char *h = (char *)leaf_of(pm, p)->host[p & (LEAF_SIZE - 1)] + off;
        while (n < len) {
            const pm_leaf *l = leaf_of(pm, ++p);
            if ((char *)l->host[p & (LEAF_SIZE - 1)] != h + n)
                break;
            n += MACH_PAGE_SIZE < len - n ? MACH_PAGE_SIZE : len - n;
        }
        if (write)
            memcpy(h, b, n);
        else
            memcpy(b, h, n);
        b += n;
        pa += n;
        len -= n;
    }
    return 0;
}

int mach_phys_read(wdfdma_machine *m, uint64_t pa, void *dst, size_t len)
{
    if (!m || (!dst && len))
        return -EINVAL;
    if (!len)
        return 0;
    mach_lock(m, &m->mem_lock);
    int rc = mach_phys_copy_locked(m, pa, dst, len, false);
    mach_unlock(m, &m->mem_lock);
    return rc;
}

int mach_phys_write(wdfdma_machine *m, uint64_t pa, const void *src, size_t len)
{
    if (!m || (!src && len))
        return -EINVAL;
    if (!len)
        return 0;
    mach_lock(m, &m->mem_lock);
    int rc = mach_phys_copy_locked(m, pa, (void *)src, len, true);
    mach_unlock(m, &m->mem_lock);
    return rc;
}
