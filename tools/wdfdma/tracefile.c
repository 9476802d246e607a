/*
 * Chrome / Perfetto trace-event JSON from the machine's trace sink (see tracefile.h for
 * the layout).
 *
 * Viewer rules this writer keeps:
 *   - B and E events of one tid must nest. Each track keeps its stack of open spans; an
 *     end closes the spans opened after the one it ends (a driver that never returned
 *     from a callback cannot break the file) and an end without a begin is dropped. A
 *     machine's end closes what is still open.
 *   - Flow steps bind to the slice that encloses them on their tid. Each step therefore
 *     gets a zero-length slice of its own, written B, step, E at one timestamp (viewers
 *     keep file order among equal timestamps).
 *   - All steps of a flow share category and name ("flow", "request") and an id no other
 *     flow uses (request objects are recycled, so ids are this writer's serials).
 *   - ts is in microseconds; printed as integer.fraction with three decimals it keeps
 *     nanoseconds exactly.
 * The sink runs under the machine's trace lock (one record at a time, on the threads
 * engine from several threads), so the writer needs no lock of its own.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "machine/internal.h"
#include "tracefile.h"
#include "wdfdma/devmodel.h"
#include "wdfdma/trace.h"

#define TID_HARDWARE 999
#define TID_DEVICE_BASE 1000
#define DEV_TIDS 16                 /* a device's track, then up to 15 channels */
#define MAX_TRACKS 1024
#define MAX_DEVICES 128
#define MAX_ADAPTERS 128
#define MAX_THREADS 256
#define STACK_MAX 32
#define MAP_CAP 4096u               /* live requests and transactions (power of two) */
#define CPU_HW 0xFFu                /* the trace's "processor" of hardware context */

typedef struct span {
    const char *name;
} span;

typedef struct track {
    int tid;
    unsigned depth;
    unsigned dropped;               /* begins past STACK_MAX: their ends are dropped too */
    span stack[STACK_MAX];
} track;

/* id -> flow id, open addressing; key 0 = empty, a tombstone keeps probing going. */
typedef struct idmap_slot {
    uint32_t key;
    bool tomb;
    uint64_t value;
} idmap_slot;

typedef struct idmap {
    idmap_slot slot[MAP_CAP];
    unsigned used;                  /* live + tombstones */
} idmap;

typedef struct adapter_count {
    uint32_t id;
    uint64_t regs;
} adapter_count;

struct cli_trace {
    FILE *f;
    char path[256];
    bool first;                     /* no event written yet */
    bool write_failed;
    unsigned pid;
    wdfdma_machine *m;
    bool threaded;
    unsigned generation;            /* per machine: thread tids restart */
    uint64_t last_ns;
    unsigned ntracks;
    track tracks[MAX_TRACKS];
    unsigned ndevs;
    uint32_t dev_id[MAX_DEVICES];
    char dev_name[MAX_DEVICES][32];
    unsigned nthreads;
    unsigned nadapters;
    adapter_count adapters[MAX_ADAPTERS];
    uint64_t regs_total, mapped_bytes;
    uint64_t next_flow;
    idmap requests, transactions;
};

/* ---- output ---------------------------------------------------------------------------- */

static void put_escaped(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p < 0x20)
            fprintf(f, "\\u%04x", *p);
        else
            fputc(*p, f);
    }
    fputc('"', f);
}

/* {"ph":"X","pid":P,"tid":T,"ts":U.NNN — the caller adds the rest and the closing brace. */
static void head(cli_trace *t, char ph, int tid, uint64_t ns)
{
    fputs(t->first ? "\n" : ",\n", t->f);
    t->first = false;
    fprintf(t->f, "{\"ph\":\"%c\",\"pid\":%u,\"tid\":%d,\"ts\":%" PRIu64 ".%03u", ph, t->pid,
            tid, ns / 1000, (unsigned)(ns % 1000));
}

static void named(cli_trace *t, const char *key, const char *value)
{
    fprintf(t->f, ",\"%s\":", key);
    put_escaped(t->f, value);
}

static void metadata(cli_trace *t, int tid, const char *what, const char *name, int sort)
{
    head(t, 'M', tid, 0);
    named(t, "name", what);
    fputs(",\"args\":{\"name\":", t->f);
    put_escaped(t->f, name);
    fputs("}}", t->f);
    if (sort >= 0) {
        head(t, 'M', tid, 0);
        fprintf(t->f, ",\"name\":\"%s_sort_index\",\"args\":{\"sort_index\":%d}}",
                strncmp(what, "process", 7) == 0 ? "process" : "thread", sort);
    }
}

/* ---- tracks ---------------------------------------------------------------------------- */

static int dev_slot(cli_trace *t, uint32_t id)
{
    for (unsigned i = 0; i < t->ndevs; i++)
        if (t->dev_id[i] == id)
            return (int)i;
    if (t->ndevs == MAX_DEVICES)
        return -1;
    t->dev_id[t->ndevs] = id;
    snprintf(t->dev_name[t->ndevs], sizeof(t->dev_name[0]), "device %u", (unsigned)id);
    return (int)t->ndevs++;
}

static void track_name(cli_trace *t, int tid, char *buf, size_t len)
{
    if (tid == TID_HARDWARE) {
        snprintf(buf, len, "hardware context");
    } else if (tid >= TID_DEVICE_BASE) {
        unsigned slot = (unsigned)(tid - TID_DEVICE_BASE) / DEV_TIDS;
        unsigned ch = (unsigned)(tid - TID_DEVICE_BASE) % DEV_TIDS;
        const char *dev = slot < t->ndevs ? t->dev_name[slot] : "device";
        if (ch == 0)
            snprintf(buf, len, "%s", dev);
        else
            snprintf(buf, len, "%s DMA channel %u", dev, ch - 1);
    } else if (t->threaded) {
        snprintf(buf, len, "thread %d", tid);
    } else {
        snprintf(buf, len, "cpu%d", tid - 1);
    }
}

static track *track_of(cli_trace *t, int tid)
{
    for (unsigned i = 0; i < t->ntracks; i++)
        if (t->tracks[i].tid == tid)
            return &t->tracks[i];
    if (t->ntracks == MAX_TRACKS)
        return NULL;
    track *k = &t->tracks[t->ntracks++];
    memset(k, 0, sizeof(*k));
    k->tid = tid;
    char name[64];
    track_name(t, tid, name, sizeof(name));
    metadata(t, tid, "thread_name", name, tid);
    return k;
}

/* The processor track of a record: on the threads engine, the OS thread that made it. */
static int cpu_tid(cli_trace *t, const wdfdma_trace_record *r)
{
    if (r->cpu == CPU_HW)
        return TID_HARDWARE;
    if (!t->threaded)
        return 1 + r->cpu;
    static _Thread_local const cli_trace *owner;
    static _Thread_local unsigned generation;
    static _Thread_local int tid;
    if (owner != t || generation != t->generation) {
        owner = t;
        generation = t->generation;
        tid = t->nthreads < MAX_THREADS ? (int)++t->nthreads : MAX_THREADS;
    }
    return tid;
}

static int device_tid(cli_trace *t, uint32_t dev, int channel)
{
    int slot = dev_slot(t, dev);
    if (slot < 0)
        return TID_HARDWARE;
    return TID_DEVICE_BASE + slot * DEV_TIDS + (channel >= 0 && channel < DEV_TIDS - 1
                                                    ? 1 + channel : 0);
}

/* ---- spans ----------------------------------------------------------------------------- */

static void span_begin(cli_trace *t, int tid, uint64_t ns, const char *name, const char *cat,
                       const char *args)
{
    track *k = track_of(t, tid);
    if (!k)
        return;
    if (k->depth == STACK_MAX) {
        k->dropped++;
        return;
    }
    k->stack[k->depth++].name = name;
    head(t, 'B', tid, ns);
    named(t, "name", name);
    named(t, "cat", cat);
    if (args)
        fprintf(t->f, ",\"args\":{%s}", args);
    fputc('}', t->f);
}

static void end_top(cli_trace *t, track *k, uint64_t ns)
{
    k->depth--;
    head(t, 'E', k->tid, ns);
    fputc('}', t->f);
}

static void span_end(cli_trace *t, int tid, uint64_t ns, const char *name)
{
    track *k = track_of(t, tid);
    if (!k)
        return;
    if (k->dropped) {
        k->dropped--;
        return;
    }
    unsigned at = k->depth;
    while (at > 0 && strcmp(k->stack[at - 1].name, name) != 0)
        at--;
    if (at == 0)
        return;                     /* never begun here: nothing to end */
    while (k->depth >= at)
        end_top(t, k, ns);
}

static bool span_open(cli_trace *t, int tid, const char *name)
{
    track *k = track_of(t, tid);
    for (unsigned i = 0; k && i < k->depth; i++)
        if (strcmp(k->stack[i].name, name) == 0)
            return true;
    return false;
}

static void instant(cli_trace *t, int tid, uint64_t ns, char scope, const char *name,
                    const char *cat, const char *args)
{
    if (!track_of(t, tid))
        return;
    head(t, 'i', tid, ns);
    fprintf(t->f, ",\"s\":\"%c\"", scope);
    named(t, "name", name);
    named(t, "cat", cat);
    if (args)
        fprintf(t->f, ",\"args\":{%s}", args);
    fputc('}', t->f);
}

static void counter(cli_trace *t, uint64_t ns, const char *name, const char *series,
                    uint64_t value)
{
    head(t, 'C', 0, ns);
    named(t, "name", name);
    fputs(",\"args\":{", t->f);
    put_escaped(t->f, series);
    fprintf(t->f, ":%" PRIu64 "}}", value);
}

/* ---- flows ----------------------------------------------------------------------------- */

static unsigned map_find(const idmap *map, uint32_t key)
{
    unsigned i = (key * 2654435761u) & (MAP_CAP - 1);
    for (unsigned n = 0; n < MAP_CAP; n++, i = (i + 1) & (MAP_CAP - 1))
        if (map->slot[i].key == key || (map->slot[i].key == 0 && !map->slot[i].tomb))
            return i;
    return MAP_CAP;
}

static bool map_get(const idmap *map, uint32_t key, uint64_t *value)
{
    unsigned i = map_find(map, key);
    if (i == MAP_CAP || map->slot[i].key != key)
        return false;
    *value = map->slot[i].value;
    return true;
}

static void map_del(idmap *map, uint32_t key)
{
    unsigned i = map_find(map, key);
    if (i != MAP_CAP && map->slot[i].key == key) {
        map->slot[i].key = 0;
        map->slot[i].tomb = true;
    }
}

/* Tombstones fill the table over a long run: rebuild it from the live entries. */
static void map_rebuild(idmap *map)
{
    static idmap_slot live[MAP_CAP];
    unsigned n = 0;
    for (unsigned i = 0; i < MAP_CAP; i++)
        if (map->slot[i].key != 0)
            live[n++] = map->slot[i];
    memset(map, 0, sizeof(*map));
    for (unsigned i = 0; i < n; i++) {
        unsigned at = map_find(map, live[i].key);
        map->slot[at] = live[i];
        map->used++;
    }
}

static void map_put(idmap *map, uint32_t key, uint64_t value)
{
    if (key == 0)
        return;
    map_del(map, key);
    if (map->used >= MAP_CAP * 3 / 4)
        map_rebuild(map);
    if (map->used >= MAP_CAP * 3 / 4)
        return;                     /* that many live requests: drop this flow */
    unsigned i = map_find(map, key);
    if (i == MAP_CAP)
        return;
    if (map->slot[i].key == 0)
        map->used++;
    map->slot[i] = (idmap_slot){.key = key, .value = value};
}

static void on_flow_hal(cli_trace *t, const wdfdma_trace_record *r);

/* A flow step inside a zero-length slice named `what` on the record's track. */
static void flow_step(cli_trace *t, const wdfdma_trace_record *r, char ph, uint64_t id,
                      const char *what, const char *args)
{
    int tid = cpu_tid(t, r);
    span_begin(t, tid, r->time_ns, what, "dma", args);
    head(t, ph, tid, r->time_ns);
    fprintf(t->f, ",\"name\":\"request\",\"cat\":\"flow\",\"id\":%" PRIu64 "%s}", id,
            ph == 'f' ? ",\"bp\":\"e\"" : "");
    span_end(t, tid, r->time_ns, what);
}

static void on_flow(cli_trace *t, const wdfdma_trace_record *r)
{
    char args[96];
    uint64_t id;
    const char *n = r->name ? r->name : "";
    if (strcmp(n, "request") == 0) {
        map_put(&t->requests, (uint32_t)r->a, ++t->next_flow);
        snprintf(args, sizeof(args), "\"request\":%" PRIu64, r->a);
        flow_step(t, r, 's', t->next_flow, "request", args);
    } else if (strcmp(n, "transaction-request") == 0) {
        if (map_get(&t->requests, (uint32_t)r->a, &id))
            map_put(&t->transactions, r->obj, id);
    } else if (strcmp(n, "transaction") == 0) {
        snprintf(args, sizeof(args), "\"transaction\":%" PRIu32 ",\"length\":%" PRIu64, r->obj,
                 r->b);
        if (map_get(&t->transactions, r->obj, &id)) {
            flow_step(t, r, 't', id, "Execute", args);
        } else {
            /* No request behind it (or it came before the trace): a flow of its own. */
            map_put(&t->transactions, r->obj, ++t->next_flow | 1ull << 62);
            flow_step(t, r, 's', t->next_flow | 1ull << 62, "Execute", args);
        }
    } else if (strcmp(n, "transfer") == 0 && map_get(&t->transactions, r->obj, &id)) {
        snprintf(args, sizeof(args), "\"transaction\":%" PRIu32 ",\"length\":%" PRIu64, r->obj,
                 r->b);
        flow_step(t, r, 't', id, "transfer", args);
    } else if (strcmp(n, "transaction-done") == 0 && map_get(&t->transactions, r->obj, &id)) {
        snprintf(args, sizeof(args), "\"transaction\":%" PRIu32 ",\"transferred\":%" PRIu64,
                 r->obj, r->b);
        /* A transaction without a request ends its own flow here. */
        flow_step(t, r, id >> 62 ? 'f' : 't', id, "transaction done", args);
        map_del(&t->transactions, r->obj);
    } else {
        on_flow_hal(t, r);
    }
}

/* ---- the HAL: mappings and map registers -------------------------------------------------- */

static adapter_count *adapter(cli_trace *t, uint32_t id)
{
    for (unsigned i = 0; i < t->nadapters; i++)
        if (t->adapters[i].id == id)
            return &t->adapters[i];
    if (t->nadapters == MAX_ADAPTERS)
        return NULL;
    t->adapters[t->nadapters] = (adapter_count){.id = id};
    return &t->adapters[t->nadapters++];
}

static void mapped(cli_trace *t, uint64_t ns, uint64_t add, uint64_t sub)
{
    t->mapped_bytes += add;
    t->mapped_bytes -= sub < t->mapped_bytes ? sub : t->mapped_bytes;
    counter(t, ns, "DMA bytes mapped", "bytes", t->mapped_bytes);
}

static void on_flow_hal(cli_trace *t, const wdfdma_trace_record *r)
{
    const char *n = r->name ? r->name : "";
    if (strcmp(n, "hal.map") == 0 || strcmp(n, "hal.sg.build") == 0)
        mapped(t, r->time_ns, strcmp(n, "hal.map") == 0 ? r->b : r->a, 0);
    else if (strcmp(n, "hal.flush") == 0 || strcmp(n, "hal.sg.put") == 0)
        mapped(t, r->time_ns, 0, r->a);
    else if (strncmp(n, "hal.", 4) == 0) {
        char args[96];
        snprintf(args, sizeof(args), "\"adapter\":%" PRIu32 ",\"a\":%" PRIu64 ",\"b\":%" PRIu64,
                 r->obj, r->a, r->b);
        instant(t, cpu_tid(t, r), r->time_ns, 't', n, "hal", args);
    }
}

static void on_counter(cli_trace *t, const wdfdma_trace_record *r)
{
    const char *n = r->name ? r->name : "counter";
    char series[48];
    if (strcmp(n, "hal.map_registers") == 0) {
        adapter_count *c = adapter(t, r->obj);
        if (c) {
            t->regs_total = t->regs_total - c->regs + r->a;
            c->regs = r->a;
        }
        snprintf(series, sizeof(series), "adapter %" PRIu32, r->obj);
        counter(t, r->time_ns, "map registers in use", series, r->a);
        counter(t, r->time_ns, "map registers in use (all adapters)", "registers",
                t->regs_total);
        return;
    }
    snprintf(series, sizeof(series), "object %" PRIu32, r->obj);
    counter(t, r->time_ns, n, series, r->a);
}

/* ---- processors: ISRs, DPCs, work items, driver callbacks ---------------------------------- */

static const char *irql_name(unsigned irql)
{
    return irql == 0 ? "PASSIVE" : irql == 1 ? "APC" : irql == 2 ? "DISPATCH" : "DIRQL";
}

static void on_cpu(cli_trace *t, const wdfdma_trace_record *r, bool begin, const char *name)
{
    int tid = cpu_tid(t, r);
    if (!begin) {
        span_end(t, tid, r->time_ns, name);
        return;
    }
    char args[96];
    snprintf(args, sizeof(args), "\"irql\":%u,\"object\":%" PRIu32 ",\"a\":%" PRIu64, r->irql,
             r->obj, r->a);
    span_begin(t, tid, r->time_ns, name, irql_name(r->irql), args);
}

static void on_fx(cli_trace *t, const wdfdma_trace_record *r)
{
    const char *n = r->name ? r->name : "fx";
    uint64_t id;
    if (strcmp(n, "request-complete") == 0) {
        if (!map_get(&t->requests, r->obj, &id))
            return;
        char args[96];
        snprintf(args, sizeof(args), "\"status\":\"0x%08" PRIx64 "\",\"information\":%" PRIu64,
                 r->a, r->b);
        flow_step(t, r, 'f', id, "request complete", args);
        map_del(&t->requests, r->obj);
        return;
    }
    char args[96];
    snprintf(args, sizeof(args), "\"object\":%" PRIu32 ",\"a\":%" PRIu64 ",\"b\":%" PRIu64,
             r->obj, r->a, r->b);
    instant(t, cpu_tid(t, r), r->time_ns, 't', n, "fx", args);
}

/* ---- devices ---------------------------------------------------------------------------- */

/* sgdma names its channel events "chN what"; sdmac passes the channel in `a`. */
static void on_device(cli_trace *t, const wdfdma_trace_record *r)
{
    const char *n = r->name ? r->name : "device";
    char args[96];
    snprintf(args, sizeof(args), "\"a\":%" PRIu64 ",\"b\":%" PRIu64, r->a, r->b);
    if (strcmp(n, "added") == 0) {
        int slot = dev_slot(t, r->obj);
        wdfdma_dev *dev = mach_device_at(t->m, (unsigned)r->a);
        if (slot >= 0 && dev)
            snprintf(t->dev_name[slot], sizeof(t->dev_name[0]), "%s", wdfdma_dev_name(dev));
        return;
    }
    if (n[0] == 'c' && n[1] == 'h' && n[2] >= '0' && n[2] <= '9' && n[3] == ' ') {
        int tid = device_tid(t, r->obj, n[2] - '0');
        const char *what = n + 4;
        if (strcmp(what, "doorbell") == 0) {
            if (span_open(t, tid, "descriptor chain"))
                span_end(t, tid, r->time_ns, "descriptor chain");
            span_begin(t, tid, r->time_ns, "descriptor chain", "device", args);
        } else if (strcmp(what, "chain-done") == 0 || strcmp(what, "error") == 0 ||
                   strcmp(what, "abort") == 0) {
            if (strcmp(what, "chain-done") != 0)
                instant(t, tid, r->time_ns, 't', what, "device", args);
            span_end(t, tid, r->time_ns, "descriptor chain");
        } else {
            instant(t, tid, r->time_ns, 't', what, "device", args);
        }
        return;
    }
    if (strncmp(n, "sdmac.", 6) == 0 && strcmp(n, "sdmac.state") != 0) {
        int tid = device_tid(t, r->obj, (int)r->a);
        if (strcmp(n, "sdmac.start") == 0) {
            if (span_open(t, tid, "transfer"))
                span_end(t, tid, r->time_ns, "transfer");
            span_begin(t, tid, r->time_ns, "transfer", "device", args);
        } else if (strcmp(n, "sdmac.done") == 0) {
            span_end(t, tid, r->time_ns, "transfer");
        } else {
            instant(t, tid, r->time_ns, 't', n + 6, "device", args);
        }
        return;
    }
    if (strcmp(n, "sdmac.state") != 0)
        instant(t, device_tid(t, r->obj, -1), r->time_ns, 't', n, "device", args);
}

/* ---- the sink ------------------------------------------------------------------------------ */

static void sink(void *ctx, const wdfdma_trace_record *r)
{
    cli_trace *t = ctx;
    char args[96];
    if (r->time_ns > t->last_ns)
        t->last_ns = r->time_ns;
    snprintf(args, sizeof(args), "\"a\":%" PRIu64 ",\"b\":%" PRIu64, r->a, r->b);
    switch (r->type) {
    case WDFDMA_TR_ISR_BEGIN:
    case WDFDMA_TR_ISR_END:
        on_cpu(t, r, r->type == WDFDMA_TR_ISR_BEGIN, "ISR");
        break;
    case WDFDMA_TR_DPC_BEGIN:
    case WDFDMA_TR_DPC_END:
        on_cpu(t, r, r->type == WDFDMA_TR_DPC_BEGIN, "DPC");
        break;
    case WDFDMA_TR_WORK_BEGIN:
    case WDFDMA_TR_WORK_END:
        on_cpu(t, r, r->type == WDFDMA_TR_WORK_BEGIN, "work item");
        break;
    case WDFDMA_TR_CALLBACK_BEGIN:
    case WDFDMA_TR_CALLBACK_END:
        on_cpu(t, r, r->type == WDFDMA_TR_CALLBACK_BEGIN, r->name ? r->name : "callback");
        break;
    case WDFDMA_TR_FLOW:
        on_flow(t, r);
        break;
    case WDFDMA_TR_FX:
        on_fx(t, r);
        break;
    case WDFDMA_TR_COUNTER:
        on_counter(t, r);
        break;
    case WDFDMA_TR_DEVICE:
        on_device(t, r);
        break;
    case WDFDMA_TR_IRQ_ASSERT:
        instant(t, device_tid(t, r->obj, -1), r->time_ns, 't', "interrupt", "irq", args);
        break;
    case WDFDMA_TR_DMA_FAULT:
        instant(t, device_tid(t, r->obj, -1), r->time_ns, 't', "DMA fault", "fault", args);
        break;
    case WDFDMA_TR_IRQ_SPURIOUS:
    case WDFDMA_TR_MMIO_FAULT:
        instant(t, cpu_tid(t, r), r->time_ns, 't', wdfdma_trace_type_name(r->type), "fault",
                args);
        break;
    case WDFDMA_TR_BUGCHECK:
        instant(t, cpu_tid(t, r), r->time_ns, 'g', "bug check", "bugcheck", args);
        break;
    case WDFDMA_TR_NOTE:
        instant(t, cpu_tid(t, r), r->time_ns, 'p', r->name ? r->name : "note", "note", args);
        break;
    default:
        /* MMIO accesses, device DMA reads and writes, line deasserts: too many to draw,
         * and the spans above already show what they add up to. */
        break;
    }
}

/* ---- public --------------------------------------------------------------------------------- */

cli_trace *cli_trace_open(const char *path, char *err, size_t err_len)
{
    cli_trace *t = calloc(1, sizeof(*t));
    if (!t) {
        snprintf(err, err_len, "--trace %s: out of memory", path);
        return NULL;
    }
    t->f = fopen(path, "w");
    if (!t->f) {
        snprintf(err, err_len, "--trace %s: %s", path, strerror(errno));
        free(t);
        return NULL;
    }
    snprintf(t->path, sizeof(t->path), "%s", path);
    t->first = true;
    fputs("{\"displayTimeUnit\":\"ns\",\"otherData\":{\"generator\":\"wdfdma\"},"
          "\"traceEvents\":[", t->f);
    return t;
}

static void reset_machine_state(cli_trace *t)
{
    t->ntracks = t->ndevs = t->nthreads = t->nadapters = 0;
    t->regs_total = t->mapped_bytes = 0;
    t->last_ns = 0;
    memset(&t->requests, 0, sizeof(t->requests));
    memset(&t->transactions, 0, sizeof(t->transactions));
}

void cli_trace_machine_begin(cli_trace *t, wdfdma_machine *m, const char *label)
{
    t->pid++;
    t->generation++;
    t->m = m;
    t->threaded = wdfdma_machine_engine(m) == WDFDMA_ENGINE_THREADS;
    reset_machine_state(t);
    char name[128];
    snprintf(name, sizeof(name), "machine %u: %s", t->pid, label);
    metadata(t, 0, "process_name", name, (int)t->pid);
    wdfdma_trace_set_sink(m, sink, t);
}

static void close_all(cli_trace *t)
{
    for (unsigned i = 0; i < t->ntracks; i++) {
        track *k = &t->tracks[i];
        k->dropped = 0;
        while (k->depth > 0)
            end_top(t, k, t->last_ns);
    }
}

void cli_trace_machine_end(cli_trace *t, wdfdma_machine *m)
{
    wdfdma_trace_set_sink(m, NULL, NULL);
    close_all(t);
    t->m = NULL;
}

int cli_trace_close(cli_trace *t, char *err, size_t err_len)
{
    fputs("\n]}\n", t->f);
    bool failed = ferror(t->f) != 0;
    if (fclose(t->f) != 0)
        failed = true;
    if (failed)
        snprintf(err, err_len, "--trace %s: writing failed: %s", t->path, strerror(errno));
    free(t);
    return failed ? -1 : 0;
}

void cli_trace_abandon(cli_trace *t)
{
    close_all(t);
    fputs("\n]}\n", t->f);
    fflush(t->f);
}
