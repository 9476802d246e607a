/*
 * wdfdma trace records.
 *
 * Every MMIO access, device DMA access, interrupt, ISR / DPC / driver-callback entry and
 * exit, and framework DMA event is one fixed-size record. Records go into a ring (the last
 * N, for bug-check reports and `inspect`), into an optional sink (files, the Perfetto
 * exporter) and into a running 64-bit hash. The hash covers time, type, processor, IRQL,
 * object id, both arguments and the name's text (never host pointers), so the same seed
 * gives the same hash on the sim engine.
 */
#ifndef WDFDMA_TRACE_H
#define WDFDMA_TRACE_H

#include <stdint.h>
#include <stddef.h>
#include "wdfdma/machine.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum wdfdma_trace_type {
    WDFDMA_TR_MMIO_READ = 1,    /* obj=device, a=physical address, b=value */
    WDFDMA_TR_MMIO_WRITE,       /* obj=device, a=physical address, b=value */
    WDFDMA_TR_MMIO_FAULT,       /* obj=0, a=address, b=width */
    WDFDMA_TR_DMA_READ,         /* obj=device, a=logical address, b=length (device reads memory) */
    WDFDMA_TR_DMA_WRITE,        /* obj=device, a=logical address, b=length (device writes memory) */
    WDFDMA_TR_DMA_FAULT,        /* obj=device, a=logical address, b=length|write<<63 */
    WDFDMA_TR_IRQ_ASSERT,       /* obj=device, a=vector */
    WDFDMA_TR_IRQ_DEASSERT,     /* obj=device, a=vector */
    WDFDMA_TR_IRQ_SPURIOUS,     /* a=vector */
    WDFDMA_TR_ISR_BEGIN,        /* a=vector, name=ISR owner */
    WDFDMA_TR_ISR_END,          /* a=vector, b=claimed */
    WDFDMA_TR_DPC_BEGIN,        /* a=dpc id */
    WDFDMA_TR_DPC_END,
    WDFDMA_TR_WORK_BEGIN,
    WDFDMA_TR_WORK_END,
    WDFDMA_TR_CALLBACK_BEGIN,   /* name=driver callback ("EvtProgramDma"), obj=object id */
    WDFDMA_TR_CALLBACK_END,
    WDFDMA_TR_DEVICE,           /* device-model event: name=what, a, b model-defined */
    WDFDMA_TR_FX,               /* framework event: name=what (request, transaction, transfer, ...) */
    WDFDMA_TR_COUNTER,          /* name=counter, a=value */
    WDFDMA_TR_FLOW,             /* name=flow step, a=flow id */
    WDFDMA_TR_BUGCHECK,         /* a=code, b=p1 */
    WDFDMA_TR_NOTE,             /* free text in name */
} wdfdma_trace_type;

typedef struct wdfdma_trace_record {
    uint64_t time_ns;
    uint16_t type;          /* wdfdma_trace_type */
    uint8_t cpu;            /* processor, 0xFF = hardware (a device or timer event) */
    uint8_t irql;
    uint32_t obj;           /* object/device id (stable small integers, never pointers) */
    const char *name;       /* static string or NULL */
    uint64_t a, b;
} wdfdma_trace_record;

const char *wdfdma_trace_type_name(uint16_t type);

/* Copy up to `max` of the most recent records (oldest first); returns how many. */
size_t wdfdma_trace_recent(wdfdma_machine *m, wdfdma_trace_record *out, size_t max);

/* A sink sees every record as it is made (on the thread that made it; the machine
 * serialises calls). Returns the previous sink. */
typedef void (*wdfdma_trace_sink)(void *ctx, const wdfdma_trace_record *r);
void wdfdma_trace_set_sink(wdfdma_machine *m, wdfdma_trace_sink sink, void *ctx);

/* Print one record as a text line (the format the trace_file uses). */
int wdfdma_trace_format(const wdfdma_trace_record *r, char *buf, size_t len);

#ifdef __cplusplus
}
#endif
#endif
