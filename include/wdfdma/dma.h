/*
 * wdfdma host API: the kernel's DMA adapters (the HAL side of WDM DMA).
 *
 * Hosts (tests, benchmarks, the wdfdma command) tune and observe the DMA adapters that
 * IoGetDmaAdapter hands to drivers: how many map registers an adapter may get and what
 * the adapters did (bounce traffic, map-register pressure, scatter/gather lists, queued
 * allocations). Every function that can fail returns 0 or a negative errno value and
 * leaves a one-line message in wdfdma_last_error().
 */
#ifndef WDFDMA_DMA_H
#define WDFDMA_DMA_H

#include <stdint.h>
#include "wdfdma/machine.h"

#ifdef __cplusplus
extern "C" {
#endif

#define WDFDMA_MAP_REGISTER_LIMIT_DEFAULT 256u
#define WDFDMA_MAP_REGISTER_LIMIT_MIN 2u       /* KMDF needs at least two per adapter */
#define WDFDMA_MAP_REGISTER_LIMIT_MAX 65536u

/* The most map registers one adapter may be granted: IoGetDmaAdapter gives
 * min(BYTES_TO_PAGES(MaximumLength) + 1, limit). Applies to adapters created afterwards.
 * -EINVAL (with a message) if `m` is NULL or `n` is outside MIN..MAX. */
int wdfdma_machine_set_map_register_limit(wdfdma_machine *m, unsigned n);
unsigned wdfdma_machine_map_register_limit(wdfdma_machine *m);

/* Counters for all the machine's adapters since the machine was created. */
typedef struct wdfdma_dma_stats {
    uint64_t adapters;              /* adapters live now */
    uint64_t bounced_bytes;         /* copied through map registers, both directions */
    uint64_t map_registers_in_use;  /* granted and not yet freed, all adapters */
    uint64_t map_registers_peak;
    uint64_t sg_lists_built;        /* Get* and Build* lists handed to drivers */
    uint64_t sg_lists_allocated;    /* of those, Get* lists the HAL allocated */
    uint64_t sg_lists_live;         /* built and not yet put */
    uint64_t sg_elements_max;       /* most elements in one list */
    uint64_t sg_elements_total;
    uint64_t allocations_queued;    /* channel / map-register / SG requests that waited */
    uint64_t channel_grants;        /* adapter-channel callbacks run (DRIVER_CONTROL) */
    uint64_t common_buffers_live;
    uint64_t system_transfers;      /* system-DMA transfers started on a controller */
} wdfdma_dma_stats;

/* -EINVAL if `m` or `out` is NULL. */
int wdfdma_dma_get_stats(wdfdma_machine *m, wdfdma_dma_stats *out);

#ifdef __cplusplus
}
#endif
#endif
