/*
 * The trace: every record goes into a ring (the last N, for bug-check reports), a running
 * FNV-1a-64 hash, an optional text file and an optional sink.
 *
 * The hash covers time, type, processor, IRQL, object id, both arguments and the name's
 * text, serialised little-endian field by field (never a host pointer, never struct
 * padding), so the same seed and program give the same hash on the sim engine.
 * Threads engine: trace_lock serialises records (ring, hash, file and sink together).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "machine/machine_priv.h"

#define FNV_OFFSET 0xCBF29CE484222325ull
#define FNV_PRIME 0x100000001B3ull

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

static inline uint64_t fnv_u64(uint64_t h, uint64_t v, unsigned bytes)
{
    for (unsigned i = 0; i < bytes; i++) {
        h ^= (v >> (8 * i)) & 0xFF;
        h *= FNV_PRIME;
    }
    return h;
}

static uint64_t hash_record(uint64_t h, const wdfdma_trace_record *r)
{
    h = fnv_u64(h, r->time_ns, 8);
    h = fnv_u64(h, r->type, 2);
    h = fnv_u64(h, r->cpu, 1);
    h = fnv_u64(h, r->irql, 1);
    h = fnv_u64(h, r->obj, 4);
    h = fnv_u64(h, r->a, 8);
    h = fnv_u64(h, r->b, 8);
    for (const char *p = r->name; p && *p; p++) {
        h ^= (unsigned char)*p;
        h *= FNV_PRIME;
    }
    return fnv_u64(h, 0, 1);           /* name terminator: "ab"+"c" != "a"+"bc" */
}

void mach_trace(wdfdma_machine *m, uint16_t type, uint32_t obj, const char *name, uint64_t a,
                uint64_t b)
{
    if (!m)
        return;
    wdfdma_trace_record r = {
        .time_ns = m->eng->now(m),
        .type = type,
        .cpu = mach_ctx.m == m ? mach_ctx.cpu : 0,
        .irql = mach_ctx.m == m ? mach_ctx.irql : 0,
        .obj = obj,
        .name = name,
        .a = a,
        .b = b,
    };
    mach_lock(m, &m->trace_lock);
    m->tr.ring[m->tr.count & m->tr.mask] = r;
    m->tr.count++;
    m->tr.hash = hash_record(m->tr.hash, &r);
    if (m->tr.file) {
        char line[256];
        wdfdma_trace_format(&r, line, sizeof(line));
        fputs(line, m->tr.file);
        fputc('\n', m->tr.file);
    }
    if (m->tr.sink)
        m->tr.sink(m->tr.sink_ctx, &r);
    mach_unlock(m, &m->trace_lock);
}

uint64_t wdfdma_machine_trace_hash(wdfdma_machine *m)
{
    if (!m)
        return 0;
    mach_lock(m, &m->trace_lock);
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
