/*
 * `wdfdma list`: what this build has, one line each — device models (from the machine's
 * model registry), sample drivers (and where the command finds them), DMA profiles,
 * scenarios and fault kinds.
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "options.h"
#include "run.h"
#include "session.h"
#include "wdfdma/devmodel.h"
#include "wdfdma/faults.h"
#include "wdfdma/machine.h"

typedef struct sample_driver {
    const char *name;
    const char *summary;
} sample_driver;

static const sample_driver drivers[] = {
    {"sgdma", "bus-master scatter/gather; all six bus-master profiles (registry DmaProfile)"},
    {"uart", "system-mode DMA, SystemDuplex: a UART paced by its request lines"},
    {"ring", "looped system DMA (System profile): a capture / playback ring"},
    {"echo", "a small bus-master driver for the echo model (host API tests)"},
};

typedef struct profile_line {
    const char *name;
    const char *summary;
} profile_line;

static const profile_line profiles[] = {
    {"packet", "WdfDmaProfilePacket: 32-bit, one element per transfer, bouncing"},
    {"sg", "WdfDmaProfileScatterGather: 32-bit scatter/gather lists"},
    {"packet64", "WdfDmaProfilePacket64: 64-bit, a transfer per contiguous run"},
    {"sg64", "WdfDmaProfileScatterGather64: 64-bit scatter/gather lists"},
    {"sg-duplex", "WdfDmaProfileScatterGatherDuplex: an adapter per direction, 32-bit"},
    {"sg64-duplex", "WdfDmaProfileScatterGather64Duplex: an adapter per direction, 64-bit"},
    {"system", "WdfDmaProfileSystem: a system DMA controller channel (ring)"},
    {"system-duplex", "WdfDmaProfileSystemDuplex: a channel per direction (uart)"},
};

int cli_list(int argc, char **argv)
{
    if (argc > 0) {
        if (strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0) {
            printf("usage: wdfdma list\n\nDevice models, sample drivers, DMA profiles, "
                   "scenarios and fault kinds, one line each.\n");
            return 0;
        }
        fprintf(stderr, "wdfdma: 'wdfdma list' takes no arguments ('%s')\n", argv[0]);
        return CLI_USAGE;
    }
    printf("Device models (--device MODEL):\n");
    for (unsigned i = 0; wdfdma_device_model_at(i); i++) {
        const wdfdma_device_model *dm = wdfdma_device_model_at(i);
        printf("  %-14s %s\n", dm->name, dm->summary ? dm->summary : "");
    }
    printf("Sample drivers:\n");
    for (size_t i = 0; i < sizeof(drivers) / sizeof(drivers[0]); i++) {
        char path[PATH_MAX + 64];
        bool found = cli_driver_find(drivers[i].name, path, sizeof(path), NULL, 0) == 0;
        printf("  %-14s %s (%s)\n", drivers[i].name, drivers[i].summary,
               found ? path : "not found");
    }
    printf("DMA profiles (--profile, for the sgdma sample driver):\n");
    for (size_t i = 0; i < sizeof(profiles) / sizeof(profiles[0]); i++)
        printf("  %-14s %s\n", profiles[i].name, profiles[i].summary);
    printf("Scenarios (wdfdma run SCENARIO):\n");
    for (unsigned i = 0; cli_scenario_at(i); i++)
        printf("  %-14s %s\n", cli_scenario_at(i)->name, cli_scenario_at(i)->summary);
    printf("Fault kinds (--faults KIND:p=P|every=N|nth=N[:device=NAME]):\n");
    for (int k = 0; k < WDFDMA_FAULT_KINDS; k++)
        printf("  %s\n", wdfdma_fault_kind_name((wdfdma_fault_kind)k));
    return 0;
}
