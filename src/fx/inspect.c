/*
 * wdfdma_inspect_print: the framework's DMA objects as WinDbg's !wdfdmaenabler and
 * !wdfdmatransaction show them (include/wdfdma/inspect.h).
 *
 * The objects are collected under the handle table's lock (fx_object_for_each_live) and
 * printed after it is released, oldest first, so printing never holds the lock a driver
 * thread may need. Fields are read without the objects' own locks, as a debugger does:
 * the machine is expected to be idle or stopped by a bug check.
 */
#include <dlfcn.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>

#include "fx/dma.h"
#include "fx/internal.h"
#include "wdfdma/inspect.h"

typedef struct inspect_list {
    fx_object **objs;
    size_t n, cap;
    bool out_of_memory;
} inspect_list;

static void collect(fx_object *o, void *ctx)
{
    inspect_list *l = ctx;
    fx_type t = o->ops->type;
    if (t != FX_TYPE_DMA_ENABLER && t != FX_TYPE_DMA_TRANSACTION && t != FX_TYPE_COMMON_BUFFER)
        return;
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 64;
        fx_object **objs = realloc(l->objs, cap * sizeof(*objs));
        if (objs == NULL) {
            l->out_of_memory = true;
            return;
        }
        l->objs = objs;
        l->cap = cap;
    }
    l->objs[l->n++] = o;
}

static int by_id(const void *a, const void *b)
{
    uint32_t x = (*(fx_object *const *)a)->id, y = (*(fx_object *const *)b)->id;
    return x < y ? -1 : x > y;
}

static const char *profile_name(WDF_DMA_PROFILE p)
{
    static const char *const names[] = {
        [WdfDmaProfilePacket] = "packet",
        [WdfDmaProfileScatterGather] = "sg",
        [WdfDmaProfilePacket64] = "packet64",
        [WdfDmaProfileScatterGather64] = "sg64",
        [WdfDmaProfileScatterGatherDuplex] = "sg-duplex",
        [WdfDmaProfileScatterGather64Duplex] = "sg64-duplex",
        [WdfDmaProfileSystem] = "system",
        [WdfDmaProfileSystemDuplex] = "system-duplex",
    };
    return (unsigned)p < sizeof(names) / sizeof(names[0]) && names[p] ? names[p] : "invalid";
}

/* A driver callback by its symbol name when the module exports one, else its address. */
static void callback_name(const void *fn, char *buf, size_t len)
{
    Dl_info info;
    if (fn == NULL)
        snprintf(buf, len, "(none)");
    else if (dladdr(fn, &info) != 0 && info.dli_sname != NULL && info.dli_saddr == fn)
        snprintf(buf, len, "%s", info.dli_sname);
    else
        snprintf(buf, len, "%p", fn);
}

static uint64_t handle_of(const fx_object *o)
{
    return (uint64_t)(uintptr_t)fx_handle(o);
}

static void print_enabler(FILE *out, fx_dma_enabler *e)
{
    fprintf(out, "!wdfdmaenabler 0x%016" PRIx64 "  (object %" PRIu32 ", device %s)\n",
            handle_of(&e->obj), e->obj.id, e->device ? e->device->instance : "?");
    fprintf(out, "  profile          %s%s%s%s\n", profile_name(e->profile),
            e->require_single_transfer ? ", require single transfer" : "",
            e->sglist_preallocated ? ", SG lists preallocated" : "",
            e->configured ? "" : ", not configured");
    fprintf(out, "  max length       %zu bytes\n", e->maximum_length);
    if (e->max_sg_elements == WDF_DMA_ENABLER_UNLIMITED_FRAGMENTS)
        fprintf(out, "  SG element limit unlimited\n");
    else
        fprintf(out, "  SG element limit %lu\n", (unsigned long)e->max_sg_elements);
    fprintf(out, "  CB alignment     %lu bytes\n", (unsigned long)e->common_buffer_alignment + 1);
    unsigned nadapters = e->duplex ? 2 : 1;
    for (unsigned i = 0; i < nadapters; i++) {
        const fx_dma_description *d = &e->adapters[i];
        const char *dir = !e->duplex ? "both directions"
                          : i == 1   ? "write to device"
                                     : "read from device";
        fprintf(out, "  adapter %u        %p (%s): %lu map registers, max fragment %zu bytes, "
                "SG list %zu bytes\n", i, (void *)d->adapter, dir,
                (unsigned long)d->map_registers, d->max_fragment, d->sglist_size);
    }
    char fill[96], enable[96];
    callback_name((const void *)e->config.EvtDmaEnablerFill, fill, sizeof(fill));
    callback_name((const void *)e->config.EvtDmaEnablerEnable, enable, sizeof(enable));
    fprintf(out, "  power callbacks  fill %s, enable %s\n", fill, enable);
}

static void print_history(FILE *out, const fx_dma_transaction *t)
{
    unsigned count = t->history_pos < FX_DMA_STATE_HISTORY ? t->history_pos
                                                           : FX_DMA_STATE_HISTORY;
    fprintf(out, "  history          ");
    for (unsigned i = count; i > 0; i--) {
        uint8_t s = t->history[(t->history_pos - i) % FX_DMA_STATE_HISTORY];
        fprintf(out, "%s%s", fx_dma_state_name((fx_dma_state)s), i > 1 ? " -> " : "");
    }
    fprintf(out, "%s\n", count ? " (newest last)" : "(none)");
}

static void print_transaction(FILE *out, fx_dma_transaction *t)
{
    fprintf(out, "!wdfdmatransaction 0x%016" PRIx64 "  (object %" PRIu32 ", %s)\n",
            handle_of(&t->obj), t->obj.id, t->ops ? t->ops->name : "?");
    fprintf(out, "  enabler          0x%016" PRIx64 "\n",
            t->enabler ? handle_of(&t->enabler->obj) : 0);
    fprintf(out, "  state            %s\n", fx_dma_state_name(t->state));
    print_history(out, t);
    fprintf(out, "  direction        %s\n", t->direction == WdfDmaDirectionWriteToDevice
                                                ? "write to device" : "read from device");
    fprintf(out, "  length           %zu bytes, transferred %zu, remaining %zu, current "
            "transfer %zu\n", t->transaction_length, t->transferred, t->remaining,
            t->cur_length);
    fprintf(out, "  max fragment     %zu bytes\n", t->max_fragment);
    fprintf(out, "  MDL              start %p + %zu, current %p + %zu\n", (void *)t->start_mdl,
            t->start_offset, (void *)t->cur_mdl, t->cur_offset);
    fprintf(out, "  request          0x%016" PRIx64 "\n", (uint64_t)(uintptr_t)t->request);
    fprintf(out, "  map registers    %lu needed, %lu reserved\n",
            (unsigned long)t->map_registers_needed, (unsigned long)t->map_registers_reserved);
    char program[96], reserve[96], complete[96];
    callback_name((const void *)t->program_dma, program, sizeof(program));
    callback_name((const void *)t->reserve_dma, reserve, sizeof(reserve));
    callback_name((const void *)t->transfer_complete, complete, sizeof(complete));
    fprintf(out, "  callbacks        EvtProgramDma %s, EvtReserveDma %s, "
            "EvtDmaTransactionDmaTransferComplete %s\n", program, reserve, complete);
}

static void print_common_buffer(FILE *out, fx_common_buffer *b)
{
    fprintf(out, "common buffer 0x%016" PRIx64 "  (object %" PRIu32 ")\n", handle_of(&b->obj),
            b->obj.id);
    fprintf(out, "  enabler          0x%016" PRIx64 "\n",
            b->enabler ? handle_of(&b->enabler->obj) : 0);
    fprintf(out, "  length           %zu bytes (%zu allocated, alignment %lu)\n", b->length,
            b->raw_length, (unsigned long)b->alignment + 1);
    fprintf(out, "  logical address  0x%016" PRIx64 " (raw 0x%016" PRIx64 ")\n",
            (uint64_t)b->aligned_la.QuadPart, (uint64_t)b->raw_la.QuadPart);
}

static void print_object(FILE *out, fx_object *o, wdfdma_inspect_counts *c)
{
    switch (o->ops->type) {
    case FX_TYPE_DMA_ENABLER:
        print_enabler(out, (fx_dma_enabler *)o);
        c->enablers++;
        break;
    case FX_TYPE_DMA_TRANSACTION:
        print_transaction(out, (fx_dma_transaction *)o);
        c->transactions++;
        break;
    default:
        print_common_buffer(out, (fx_common_buffer *)o);
        c->common_buffers++;
        break;
    }
}

int wdfdma_inspect_print(wdfdma_machine *m, FILE *out, wdfdma_inspect_counts *counts)
{
    if (m == NULL || out == NULL)
        return mach_error(EINVAL, "wdfdma_inspect_print: %s is NULL",
                          m == NULL ? "machine" : "out");
    inspect_list l = {0};
    fx_object_for_each_live(m, collect, &l);
    if (l.n > 1)
        qsort(l.objs, l.n, sizeof(*l.objs), by_id);
    wdfdma_inspect_counts c = {0};
    for (size_t i = 0; i < l.n; i++)
        print_object(out, l.objs[i], &c);
    if (l.out_of_memory)
        fprintf(out, "(out of memory: some objects are not shown)\n");
    fprintf(out, "%u DMA enabler%s, %u DMA transaction%s, %u common buffer%s\n", c.enablers,
            c.enablers == 1 ? "" : "s", c.transactions, c.transactions == 1 ? "" : "s",
            c.common_buffers, c.common_buffers == 1 ? "" : "s");
    free(l.objs);
    if (counts != NULL)
        *counts = c;
    return 0;
}

static void oldest_enabler(fx_object *o, void *ctx)
{
    fx_dma_enabler **best = ctx;
    if (o->ops->type == FX_TYPE_DMA_ENABLER && (*best == NULL || o->id < (*best)->obj.id))
        *best = (fx_dma_enabler *)o;
}

const char *wdfdma_inspect_dma_profile(wdfdma_machine *m)
{
    if (m == NULL)
        return NULL;
    fx_dma_enabler *e = NULL;
    fx_object_for_each_live(m, oldest_enabler, &e);
    return e ? profile_name(e->profile) : NULL;
}
