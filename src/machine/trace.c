/*
 * The trace: every record goes into a ring (the last N, for bug-check reports), a running
 * hash, an optional text file and an optional sink.
 *
 * The hash covers time, type, processor, IRQL, object id, both arguments and the name's
 * text (never a host pointer, never struct padding), so the same seed and program give the
 * same hash on the sim engine. It starts at the FNV-1a offset basis; each record folds in
 * one digest of its fixed fields and its name (length, then text eight bytes at a time).
 * A 512-byte read makes ~46 records, so the trace was the largest single cost of small
 * I/O: byte-wise FNV over the fields and the name cost ~40 ns a record, this ~5 ns. The
 * name's digest comes from a small cache keyed by the name's pointer (names are static
 * strings), so strlen and the text loop run once per distinct name, not per record.
 * Records are folded into the hash in batches of MACH_TRACE_FOLD_BATCH from the ring (see
 * fold_pending), so making a record is a leaf of stores; the hash is identical.
 * Threads engine: trace_lock serialises records (ring, hash, file and sink together).
 */
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "machine/machine_priv.h"

#define FNV_OFFSET 0xCBF29CE484222325ull

static const char *const type_names[] = {
    [WDFDMA_TR_MMIO_READ] = "mmio-read",     [WDFDMA_TR_MMIO_WRITE] = "mmio-write",
    [WDFDMA_TR_MMIO_FAULT] = "mmio-fault",   [WDFDMA_TR_DMA_READ] = "dma-read",
    [WDFDMA_TR_DMA_WRITE] = "dma-write",     [WDFDMA_TR_DMA_FAULT] = "dma-fault",
    [WDFDMA_TR_IRQ_ASSERT] = "irq-assert",   [WDFDMA_TR_IRQ_DEASSERT] = "irq-deassert",
    [WDFDMA_TR_IRQ_SPURIOUS] = "irq-spurious", [WDFDMA_TR_ISR_BEGIN] = "isr-begin",
    [WDFDMA_TR_ISR_END] = "isr-end",         [WDFDMA_TR_DPC_BEGIN] = "dpc-begin",
    [WDFDMA_TR_DPC_END] = "dpc-end",         [WDFDMA_TR_WORK_BEGIN] = "work-begin",
    [WDFDMA_TR_WORK_END] = "work-end",       [WDFDMA_TR_CALLBACK_BEGIN] = "callback-begin",
    [WDFDMA_TR_CALLBACK_END] = "callback-end", [WDFDMA_TR_DEVICE] = "device",
    [WDFDMA_TR_FX] = "fx",                   [WDFDMA_TR_COUNTER] = "counter",
    [WDFDMA_TR_FLOW] = "flow",               [WDFDMA_TR_BUGCHECK] = "bugcheck",
    [WDFDMA_TR_NOTE] = "note",
};

const char *wdfdma_trace_type_name(uint16_t type)
{
    if (type < sizeof(type_names) / sizeof(type_names[0]) && type_names[type])
        return type_names[type];
    return "unknown";
}

int mach_trace_open(wdfdma_machine *m, size_t ring, const char *file)
{
    m->tr.ring = calloc(ring, sizeof(*m->tr.ring));
    if (!m->tr.ring)
        return mach_error(ENOMEM, "out of memory for a trace ring of %zu records", ring);
    m->tr.mask = ring - 1;
    m->tr.fold_batch = ring < MACH_TRACE_FOLD_BATCH ? ring : MACH_TRACE_FOLD_BATCH;
    m->tr.hash = FNV_OFFSET;
    if (file) {
        m->tr.file = fopen(file, "w");
        if (!m->tr.file) {
            int err = errno;
            free(m->tr.ring);
            m->tr.ring = NULL;
            return mach_error(err, "trace_file '%s': %s", file, strerror(err));
        }
    }
    return 0;
}

void mach_trace_close(wdfdma_machine *m)
{
    if (m->tr.file)
        fclose(m->tr.file);
    m->tr.file = NULL;
    free(m->tr.ring);
    m->tr.ring = NULL;
}

static inline uint64_t fold(uint64_t h, uint64_t v)
{
    h = (h ^ v) * 0x9E3779B97F4A7C15ull;
    return h ^ (h >> 29);
}

/* Eight bytes of text as a little-endian word. */
static inline uint64_t load_le(const char *p)
{
    uint64_t w;
    memcpy(&w, p, 8);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    w = __builtin_bswap64(w);
#endif
    return w;
}

/* The name's length, then its text in little-endian 8-byte words, the last one zero
 * padded ("ab" + "c" and "a" + "bc" differ by their lengths). A tail of a string of 8 or
 * more bytes is read as the last eight bytes shifted down: never past the terminator. */
static inline uint64_t name_digest(const char *name)
{
    if (!name)
        return 0x5BD1E9955BD1E995ull;
    size_t len = strlen(name), i = 0;
    uint64_t h = fold(0x27D4EB2F165667C5ull, len);
    for (; i + 8 <= len; i += 8)
        h = fold(h, load_le(name + i));
    if (i < len) {
        uint64_t w = 0;
        if (len >= 8) {
            w = load_le(name + len - 8) >> (8 * (8 - (len - i)));
        } else {
            for (size_t k = 0; k < len; k++)
                w |= (uint64_t)(unsigned char)name[k] << (8 * k);
        }
        h = fold(h, w);
    }
    return h;
}

/* The digest of a name's text, through the per-machine cache keyed by pointer. A hit is
 * a load and a compare; a miss (first use of a name, or two names on one line) hashes
 * the text. The hash never sees the pointer, so it stays the same across processes. */
static inline uint64_t name_digest_cached(mach_trace_state *tr, const char *name)
{
    if (!name)
        return name_digest(NULL);
    uintptr_t p = (uintptr_t)name;
    unsigned i = (unsigned)((p >> 3) ^ (p >> 12)) & (MACH_TRACE_NAME_CACHE - 1);
    if (tr->names[i].name != name) {
        tr->names[i].name = name;
        tr->names[i].digest = name_digest(name);
    }
    return tr->names[i].digest;
}

/* One record into the running hash. Each field goes through its own odd multiplier (a
 * bijection, so a change in any one field changes the digest) and the products are
 * independent, so they overlap in the pipeline; only the final fold is serial. */
static inline uint64_t hash_record(uint64_t h, uint64_t t, uint64_t packed, uint64_t a,
                                   uint64_t b, uint64_t name_d)
{
    uint64_t d = (t * 0x9E3779B97F4A7C15ull ^ mach_rng_rotl(packed * 0xC2B2AE3D27D4EB4Full, 17)) +
                 (a * 0x165667B19E3779F9ull ^ mach_rng_rotl(b * 0xD6E8FEB86659FD93ull, 31));
    return fold(h, d ^ name_d);
}

/* type, cpu, irql and obj are eight adjacent bytes of a record, in the order of the hash's
 * packed word (type | cpu << 16 | irql << 24 | obj << 32): on a little-endian host one
 * 8-byte load or store moves all four. */
_Static_assert(offsetof(wdfdma_trace_record, type) == 8 &&
                   offsetof(wdfdma_trace_record, cpu) == 10 &&
                   offsetof(wdfdma_trace_record, irql) == 11 &&
                   offsetof(wdfdma_trace_record, obj) == 12,
               "the packed fields of a trace record are one 8-byte word");
#define PACKED_AT(r) ((char *)(r) + offsetof(wdfdma_trace_record, type))

static inline uint64_t packed_fields(uint16_t type, uint8_t cpu, uint8_t irql, uint32_t obj)
{
    return (uint64_t)type | (uint64_t)cpu << 16 | (uint64_t)irql << 24 | (uint64_t)obj << 32;
}

static inline uint64_t packed_load(const wdfdma_trace_record *r)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    uint64_t w;
    memcpy(&w, PACKED_AT(r), sizeof(w));
    return w;
#else
    return packed_fields(r->type, r->cpu, r->irql, r->obj);
#endif
}

static inline void packed_store(wdfdma_trace_record *r, uint64_t w)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    memcpy(PACKED_AT(r), &w, sizeof(w));
#else
    r->type = (uint16_t)w;
    r->cpu = (uint8_t)(w >> 16);
    r->irql = (uint8_t)(w >> 24);
    r->obj = (uint32_t)(w >> 32);
#endif
}

/* A text file or a sink is attached: out of line, so the common case (nobody reads the
 * trace but the hash and the ring) has no 256-byte line buffer in its frame. */
__attribute__((noinline)) static void trace_consumers(wdfdma_machine *m,
                                                      const wdfdma_trace_record *r)
{
    if (m->tr.file) {
        char line[256];
        wdfdma_trace_format(r, line, sizeof(line));
        fputs(line, m->tr.file);
        fputc('\n', m->tr.file);
    }
    if (m->tr.sink)
        m->tr.sink(m->tr.sink_ctx, r);
}

/* Fold the records made since the last fold into the running hash, in order. They are
 * still in the ring: a fold runs before a record could be overwritten (every
 * MACH_TRACE_FOLD_BATCH records, and before the hash is read or a name is freed). In a
 * loop the multiplies of one record overlap the next record's loads, and the record path
 * itself stays a leaf of stores. The same records fold to the same hash as folding each
 * as it is made. Caller holds trace_lock on the threads engine. */
static void fold_pending(mach_trace_state *tr)
{
    uint64_t h = tr->hash;
    for (uint64_t i = tr->hashed; i != tr->count; i++) {
        const wdfdma_trace_record *r = &tr->ring[i & tr->mask];
        h = hash_record(h, r->time_ns, packed_load(r), r->a, r->b,
                        name_digest_cached(tr, r->name));
    }
    tr->hash = h;
    tr->hashed = tr->count;
}

/* The rare part of a record: consumers, and a fold once a batch is pending (so at most
 * fold_batch <= ring size records are ever unfolded). */
__attribute__((noinline)) static void trace_after(wdfdma_machine *m, const wdfdma_trace_record *r)
{
    if (m->tr.file != NULL || m->tr.sink != NULL)
        trace_consumers(m, r);
    if (m->tr.count - m->tr.hashed >= m->tr.fold_batch)
        fold_pending(&m->tr);
}

void mach_trace_fold(wdfdma_machine *m)
{
    fold_pending(&m->tr);
}

/* Fill the ring slot in place: a record built on the stack and copied out was read back
 * wider than it was written, a store-forwarding stall on every record. */
static inline void trace_put(wdfdma_machine *m, uint64_t t, uint16_t type, uint32_t obj,
                             const char *name, uint64_t a, uint64_t b)
{
    mach_trace_state *tr = &m->tr;
    wdfdma_trace_record *r = &tr->ring[tr->count & tr->mask];
    tr->count++;
    r->time_ns = t;
    bool mine = mach_ctx.m == m;
    packed_store(r, packed_fields(type, mine ? mach_ctx.cpu : 0, mine ? mach_ctx.irql : 0, obj));
    r->name = name;
    r->a = a;
    r->b = b;
    /* One test, then a tail call: the common path saves no registers. */
    if (__builtin_expect(tr->count - tr->hashed >= tr->fold_batch || tr->file != NULL ||
                         tr->sink != NULL, 0))
        trace_after(m, r);
}

/* Threads engine: the clock is a call and trace_lock serialises records. */
__attribute__((noinline)) static void trace_threaded(wdfdma_machine *m, uint16_t type,
                                                     uint32_t obj, const char *name, uint64_t a,
                                                     uint64_t b)
{
    uint64_t t = m->eng->now(m);
    pthread_mutex_lock(&m->trace_lock);
    trace_put(m, t, type, obj, name, a, b);
    pthread_mutex_unlock(&m->trace_lock);
}

void mach_trace(wdfdma_machine *m, uint16_t type, uint32_t obj, const char *name, uint64_t a,
                uint64_t b)
{
    if (!m)
        return;
    if (m->threaded) {
        trace_threaded(m, type, obj, name, a, b);
        return;
    }
    /* Sim: time is a field and no lock is needed; no call on this path. */
    trace_put(m, m->now, type, obj, name, a, b);
}

uint64_t wdfdma_machine_trace_hash(wdfdma_machine *m)
{
    if (!m)
        return 0;
    mach_lock(m, &m->trace_lock);
    fold_pending(&m->tr);
    uint64_t h = m->tr.hash;
    mach_unlock(m, &m->trace_lock);
    return h;
}

size_t wdfdma_trace_recent(wdfdma_machine *m, wdfdma_trace_record *out, size_t max)
{
    if (!m || !out)
        return 0;
    mach_lock(m, &m->trace_lock);
    uint64_t n = m->tr.count;
    uint64_t avail = n < m->tr.mask + 1 ? n : m->tr.mask + 1;
    if (max > avail)
        max = (size_t)avail;
    for (size_t i = 0; i < max; i++)
        out[i] = m->tr.ring[(n - max + i) & m->tr.mask];
    mach_unlock(m, &m->trace_lock);
    return max;
}

void wdfdma_trace_set_sink(wdfdma_machine *m, wdfdma_trace_sink sink, void *ctx)
{
    if (!m)
        return;
    mach_lock(m, &m->trace_lock);
    m->tr.sink = sink;
    m->tr.sink_ctx = ctx;
    mach_unlock(m, &m->trace_lock);
}

int wdfdma_trace_format(const wdfdma_trace_record *r, char *buf, size_t len)
{
    if (!r || !buf || !len)
        return -EINVAL;
    char cpu[8];
    if (r->cpu == MACH_CPU_HW)
        snprintf(cpu, sizeof(cpu), "hw");
    else
        snprintf(cpu, sizeof(cpu), "%u", r->cpu);
    return snprintf(buf, len, "%14" PRIu64 " cpu=%-2s irql=%-2u %-14s obj=%-4" PRIu32
                    " a=%#" PRIx64 " b=%#" PRIx64 "%s%s", r->time_ns, cpu, r->irql,
                    wdfdma_trace_type_name(r->type), r->obj, r->a, r->b, r->name ? " " : "",
                    r->name ? r->name : "");
}
