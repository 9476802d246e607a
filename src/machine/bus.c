/*
 * The bus: MMIO decode (CPU -> device registers) and device DMA by logical address
 * (device -> memory).
 *
 * MMIO. mach_mmio_map reserves a CPU address range (PROT_NONE: never dereferenced, so a
 * driver that bypasses READ_REGISTER_* faults at once) and records which device region it
 * decodes to. Accessors find the mapping through a per-thread cache of the last hit,
 * validated by the machine's mapping generation (bumped on every unmap), then call the
 * model's handler under the device's serialisation. An address that decodes to nothing is
 * a report naming it plus a trace record; reads return all ones. Never a crash.
 *
 * DMA. check (the verifier, whole range) -> per-device translation (IOMMU, per page; the
 * identity by default) -> frame lookup -> memcpy per page. With the identity every frame
 * is validated before any byte moves, so a fault moves nothing; a translated transfer
 * faults page by page. A fault is WDFDMA_DMA_FAULT + trace + stats + a report.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "machine/machine_priv.h"

/* ---- MMIO mapping -------------------------------------------------------------------- */
static bool find_region(wdfdma_machine *m, uint64_t pa, uint64_t len, wdfdma_dev **dev,
                        unsigned *region)
{
    unsigned n = atomic_load(&m->ndevs);
    for (unsigned i = 0; i < n; i++) {
        wdfdma_dev *d = m->devs[i];
        for (unsigned r = 0; r < d->nregions; r++) {
            const mach_region *g = &d->region[r];
            if (pa >= g->pa && pa - g->pa < g->size && len <= g->size - (pa - g->pa)) {
                *dev = d;
                *region = r;
                return true;
            }
        }
    }
    return false;
}

void *mach_mmio_map(wdfdma_machine *m, uint64_t pa, size_t len)
{
    if (!m || !len)
        return NULL;
    wdfdma_dev *dev;
    unsigned region;
    if (!find_region(m, pa, len, &dev, &region))
        return NULL;
    uint64_t page_pa = pa & ~(uint64_t)(MACH_PAGE_SIZE - 1);
    size_t bytes = (size_t)((pa - page_pa + len + MACH_PAGE_SIZE - 1) &
                            ~(uint64_t)(MACH_PAGE_SIZE - 1));
    void *va = mmap(NULL, bytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (va == MAP_FAILED)
        return NULL;
    mach_lock(m, &m->bus_lock);
    if (m->nmaps == MACH_MAX_MMIO_MAPS) {
        mach_unlock(m, &m->bus_lock);
        munmap(va, bytes);
        mach_report(m, "mmio", "more than %u MMIO mappings", MACH_MAX_MMIO_MAPS);
        return NULL;
    }
    m->maps[m->nmaps++] = (mach_mmio_mapping){ .va = (uintptr_t)va, .len = bytes, .pa = page_pa,
                                           .dev = dev, .region = region,
                                           .offset = page_pa - dev->region[region].pa };
    mach_unlock(m, &m->bus_lock);
    return (char *)va + (pa - page_pa);
}

void mach_mmio_unmap(wdfdma_machine *m, void *va, size_t len)
{
    if (!m || !va)
        return;
    uintptr_t a = (uintptr_t)va;
    mach_lock(m, &m->bus_lock);
    for (unsigned i = 0; i < m->nmaps; i++) {
        mach_mmio_mapping *mp = &m->maps[i];
        if (a < mp->va || a >= mp->va + mp->len)
            continue;
        if (len > mp->len - (a - mp->va))
            mach_report(m, "mmio", "unmap of %zu bytes at %p exceeds its mapping of %zu bytes",
                        len, va, mp->len);
        uintptr_t base = mp->va;
        size_t bytes = mp->len;
        *mp = m->maps[--m->nmaps];
        atomic_fetch_add(&m->mmio_gen, 1);
        mach_unlock(m, &m->bus_lock);
        munmap((void *)base, bytes);
        return;
    }
    mach_unlock(m, &m->bus_lock);
    mach_report(m, "mmio", "unmap of %p: not an MMIO mapping", va);
}

/* Decode `va` through the per-thread cache; false if nothing is mapped there. */
static bool decode(wdfdma_machine *m, uintptr_t va)
{
    mach_mmio_cache *c = &mach_ctx.mmio;
    uint64_t gen = atomic_load_explicit(&m->mmio_gen, memory_order_acquire);
    if (c->m == m && c->gen == gen && va >= c->va_start && va < c->va_end)
        return true;
    bool hit = false;
    mach_lock(m, &m->bus_lock);
    for (unsigned i = 0; i < m->nmaps; i++) {
        const mach_mmio_mapping *mp = &m->maps[i];
        if (va >= mp->va && va < mp->va + mp->len) {
            *c = (mach_mmio_cache){ .m = m, .gen = gen, .va_start = mp->va,
                                    .va_end = mp->va + mp->len, .dev = mp->dev,
                                    .region = mp->region, .offset = mp->offset, .pa = mp->pa };
            hit = true;
            break;
        }
    }
    mach_unlock(m, &m->bus_lock);
    return hit;
}

static uint64_t width_mask(unsigned width)
{
    return width >= 8 ? UINT64_MAX : (1ull << (8 * width)) - 1;
}

static void mmio_fault(wdfdma_machine *m, uintptr_t va, unsigned width, bool write,
                       const char *why)
{
    MACH_STAT_ADD(m, mmio_faults, 1);
    mach_trace(m, WDFDMA_TR_MMIO_FAULT, 0, write ? "write" : "read", va, width);
    mach_report(m, "mmio", "%u-byte register %s at %p: %s", width, write ? "write" : "read",
                (void *)va, why);
}

/* Common decode + checks. On success fills dev/region/offset/pa. */
static bool mmio_resolve(wdfdma_machine *m, const volatile void *va, unsigned width, bool write,
                         wdfdma_dev **dev, unsigned *region, uint64_t *offset, uint64_t *pa)
{
    uintptr_t a = (uintptr_t)va;
    if (width != 1 && width != 2 && width != 4 && width != 8) {
        mmio_fault(m, a, width, write, "width must be 1, 2, 4 or 8");
        return false;
    }
    if (!decode(m, a)) {
        mmio_fault(m, a, width, write, "no MMIO mapping decodes this address");
        return false;
    }
    const mach_mmio_cache *c = &mach_ctx.mmio;
    uint64_t off = c->offset + (a - c->va_start);
    uint64_t size = c->dev->region[c->region].size;
    if (off >= size || width > size - off) {
        mmio_fault(m, a, width, write, "beyond the end of the device's register region");
        return false;
    }
    if (a & (width - 1)) {
        mmio_fault(m, a, width, write, "misaligned register access");
        return false;
    }
    *dev = c->dev;
    *region = c->region;
    *offset = off;
    *pa = c->pa + (a - c->va_start);
    return true;
}

uint64_t mach_mmio_read(const volatile void *va, unsigned width)
{
    wdfdma_machine *m = mach_ctx.m;
    if (!m) {
        mach_report(NULL, "mmio", "register read at %p by a thread outside any machine",
                    (const void *)va);
        return width_mask(width);
    }
    wdfdma_dev *dev;
    unsigned region;
    uint64_t off, pa;
    if (!mmio_resolve(m, va, width, false, &dev, &region, &off, &pa))
        return width_mask(width);
    uint64_t v = width_mask(width);
    if (dev->model->mmio_read && !atomic_load(&dev->absent)) {   /* absent: all ones */
        mach_device_enter(dev);
        v = dev->model->mmio_read(dev, region, off, width) & width_mask(width);
        mach_device_leave(dev);
    }
    MACH_STAT_ADD(m, mmio_reads, 1);
    mach_trace(m, WDFDMA_TR_MMIO_READ, dev->id, NULL, pa, v);
    return v;
}

void mach_mmio_write(volatile void *va, unsigned width, uint64_t value)
{
    wdfdma_machine *m = mach_ctx.m;
    if (!m) {
        mach_report(NULL, "mmio", "register write at %p by a thread outside any machine",
                    (void *)va);
        return;
    }
    wdfdma_dev *dev;
    unsigned region;
    uint64_t off, pa;
    if (!mmio_resolve(m, va, width, true, &dev, &region, &off, &pa))
        return;
    value &= width_mask(width);
    MACH_STAT_ADD(m, mmio_writes, 1);
    mach_trace(m, WDFDMA_TR_MMIO_WRITE, dev->id, NULL, pa, value);
    if (dev->model->mmio_write && !atomic_load(&dev->absent)) {   /* absent: dropped */
        mach_device_enter(dev);
        dev->model->mmio_write(dev, region, off, width, value);
        mach_device_leave(dev);
    }
}

wdfdma_dev *wdfdma_machine_device_at(wdfdma_machine *m, uint64_t physical, unsigned *region,
                                     uint64_t *offset)
{
    if (!m)
        return NULL;
    wdfdma_dev *dev;
    unsigned r;
    if (!find_region(m, physical, 1, &dev, &r))
        return NULL;
    if (region)
        *region = r;
    if (offset)
        *offset = physical - dev->region[r].pa;
    return dev;
}

static bool peer_ok(wdfdma_dev *peer, unsigned region, uint64_t offset, unsigned width,
                    const char *what)
{
    if (!peer)
        return false;
    if (region >= peer->nregions || (width != 1 && width != 2 && width != 4 && width != 8) ||
        offset >= peer->region[region].size || width > peer->region[region].size - offset) {
        mach_report(peer->m, "mmio", "peer %s of device '%s' region %u offset %#llx width %u: "
                    "outside its registers", what, peer->name, region,
                    (unsigned long long)offset, width);
        return false;
    }
    return true;
}

uint64_t wdfdma_dev_peer_read(wdfdma_dev *peer, unsigned region, uint64_t offset, unsigned width)
{
    if (!peer_ok(peer, region, offset, width, "read") || !peer->model->mmio_read)
        return width_mask(width);
    mach_device_enter(peer);
    uint64_t v = peer->model->mmio_read(peer, region, offset, width) & width_mask(width);
    mach_device_leave(peer);
    mach_trace(peer->m, WDFDMA_TR_MMIO_READ, peer->id, "peer", peer->region[region].pa + offset, v);
    return v;
}

void wdfdma_dev_peer_write(wdfdma_dev *peer, unsigned region, uint64_t offset, unsigned width,
                           uint64_t value)
{
    if (!peer_ok(peer, region, offset, width, "write") || !peer->model->mmio_write)
        return;
    value &= width_mask(width);
    mach_trace(peer->m, WDFDMA_TR_MMIO_WRITE, peer->id, "peer", peer->region[region].pa + offset,
               value);
    mach_device_enter(peer);
    peer->model->mmio_write(peer, region, offset, width, value);
    mach_device_leave(peer);
}

/* ---- device DMA ------------------------------------------------------------------------ */
void wdfdma_dev_set_translation(wdfdma_dev *dev, wdfdma_dma_translate fn, void *ctx)
{
    if (!dev)
        return;
    dev->translate = fn;
    dev->translate_ctx = ctx;
}

void wdfdma_machine_set_dma_check(wdfdma_machine *m, wdfdma_dma_check fn, void *ctx)
{
    if (!m)
        return;
    m->dma_check = fn;
    m->dma_check_ctx = ctx;
}

/* The access check's explanation of the refusal it is returning (mach_dma_refusal):
 * per thread, because checks run on whichever thread runs the device. */
static _Thread_local struct {
    const char *rule;
    uint32_t obj;
    char text[384];
} refusal;

void mach_dma_refusal(const char *rule, uint32_t obj, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(refusal.text, sizeof(refusal.text), fmt, ap);
    va_end(ap);
    refusal.rule = rule;
    refusal.obj = obj;
}

static int dma_fault(wdfdma_dev *dev, uint64_t logical, size_t len, bool write, const char *why)
{
    wdfdma_machine *m = dev->m;
    MACH_STAT_ADD(m, dma_faults, 1);
    mach_trace(m, WDFDMA_TR_DMA_FAULT, dev->id, why, logical,
               (uint64_t)len | ((uint64_t)write << 63));
    if (refusal.rule != NULL) {
        /* The verifier's check explained it: a finding of its rule. */
        const char *rule = refusal.rule;
        refusal.rule = NULL;
        mach_finding(m, rule, refusal.obj ? refusal.obj : dev->id, NULL, "device '%s' DMA %s of %zu bytes at logical "
                     "%#llx: %s", dev->name, write ? "write" : "read", len,
                     (unsigned long long)logical, refusal.text);
        return WDFDMA_DMA_FAULT;
    }
    mach_report(m, "dma-fault", "device '%s' DMA %s of %zu bytes at logical %#llx: %s",
                dev->name, write ? "write" : "read", len, (unsigned long long)logical, why);
    return WDFDMA_DMA_FAULT;
}

static int copy_physical(wdfdma_machine *m, uint64_t pa, void *buf, size_t len, bool write)
{
    mach_lock(m, &m->mem_lock);
    int rc = mach_phys_copy_locked(m, pa, buf, len, write);
    mach_unlock(m, &m->mem_lock);
    return rc;
}

static int dma(wdfdma_dev *dev, uint64_t logical, void *buf, size_t len, bool write)
{
    wdfdma_machine *m = dev->m;
    /* Pulled out (surprise removal): nothing reaches memory. Not a finding: the model
     * just has not noticed yet. */
    if (atomic_load(&dev->absent)) {
        mach_trace(m, WDFDMA_TR_DMA_FAULT, dev->id, "absent", logical,
                   (uint64_t)len | ((uint64_t)write << 63));
        return WDFDMA_DMA_FAULT;
    }
    if (m->dma_check) {
        refusal.rule = NULL;
        if (!m->dma_check(m->dma_check_ctx, dev, logical, len, write))
            return dma_fault(dev, logical, len, write, "refused by the access check");
    }
    if (!dev->translate) {
        if (copy_physical(m, logical, buf, len, write))
            return dma_fault(dev, logical, len, write, "no memory at that address");
        return 0;
    }
    char *b = buf;
    for (size_t done = 0; done < len;) {
        uint64_t la = logical + done;
        size_t n = MACH_PAGE_SIZE - (la & (MACH_PAGE_SIZE - 1));
        if (n > len - done)
            n = len - done;
        uint64_t pa;
        if (!dev->translate(dev->translate_ctx, dev, la, n, write, &pa))
            return dma_fault(dev, la, n, write, "no translation for that logical address");
        if (copy_physical(m, pa, b + done, n, write))
            return dma_fault(dev, la, n, write, "translated to unbacked memory");
        done += n;
    }
    return 0;
}

int wdfdma_dev_dma_read(wdfdma_dev *dev, uint64_t logical, void *dst, size_t len)
{
    if (!dev || (!dst && len))
        return WDFDMA_DMA_FAULT;
    if (!len)
        return WDFDMA_DMA_OK;
    int rc = dma(dev, logical, dst, len, false);
    if (rc)
        return rc;
    MACH_STAT_ADD(dev->m, dma_reads, 1);
    MACH_STAT_ADD(dev->m, dma_read_bytes, len);
    mach_trace(dev->m, WDFDMA_TR_DMA_READ, dev->id, NULL, logical, len);
    return WDFDMA_DMA_OK;
}

int wdfdma_dev_dma_write(wdfdma_dev *dev, uint64_t logical, const void *src, size_t len)
{
    if (!dev || (!src && len))
        return WDFDMA_DMA_FAULT;
    if (!len)
        return WDFDMA_DMA_OK;
    int rc = dma(dev, logical, (void *)src, len, true);
    if (rc)
        return rc;
    MACH_STAT_ADD(dev->m, dma_writes, 1);
    MACH_STAT_ADD(dev->m, dma_write_bytes, len);
    mach_trace(dev->m, WDFDMA_TR_DMA_WRITE, dev->id, NULL, logical, len);
    return WDFDMA_DMA_OK;
}
