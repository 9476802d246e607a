/*
 * The wdfdma command. Subcommands dispatch to their own files; usage errors print one
 * line naming what was wrong and exit 2.
 *
 *   wdfdma run [SCENARIO...] [OPTIONS]       run.c: scenarios with verified DMA
 *   wdfdma inspect [SCENARIO...] [OPTIONS]   run.c: run, then show the DMA objects
 *   wdfdma trace FILE --svg OUT.svg          tracesvg.c: draw a --trace file
 *   wdfdma list                              list.c: models, drivers, profiles
 *   wdfdma soak --seeds N [OPTIONS]          soak.c: samples under random fault plans
 *   wdfdma selftest [--copies N] [--seed S]  selftest.c: the machine on both engines
 */
#include <stdio.h>
#include <string.h>

#include "options.h"
#include "run.h"

int wdfdma_selftest(int argc, char **argv);

typedef struct command {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *synopsis;
    const char *summary;
} command;

static const command commands[] = {
    {"run", cli_run, "run [SCENARIO...] [OPTIONS]",
     "run scenarios: sample drivers (or --driver yours) on simulated DMA hardware"},
    {"inspect", cli_inspect, "inspect [SCENARIO...] [OPTIONS]",
     "run, then show DMA enablers, transactions, common buffers (!wdfdmaenabler)"},
    {"trace", cli_trace_command, "trace FILE --svg OUT.svg",
     "draw a 'run --trace' file as an SVG timeline"},
    {"list", cli_list, "list", "device models, sample drivers, DMA profiles, scenarios"},
    {"soak", cli_soak, "soak --seeds N [OPTIONS]",
     "the samples under random fault plans, one seed each"},
    {"selftest", wdfdma_selftest, "selftest [--copies N] [--seed S]",
     "the machine's self-test on both engines"},
};
#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static void print_usage(FILE *f)
{
    fprintf(f, "usage: wdfdma COMMAND [ARGS]   ('wdfdma COMMAND --help' for each)\n\n");
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(f, "  wdfdma %-34s %s\n", commands[i].synopsis, commands[i].summary);
    fprintf(f, "\nExit status: 0 clean, 1 a data mismatch, error or verifier finding, "
            "2 bad usage.\nSee wdfdma(1) and docs/cli.md.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "wdfdma: missing command (run, inspect, trace, list, soak or "
                "selftest; see 'wdfdma --help')\n");
        return CLI_USAGE;
    }
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].fn(argc - 2, argv + 2);
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        print_usage(stdout);
        return 0;
    }
    fprintf(stderr, "wdfdma: unknown command '%s' (run, inspect, trace, list, soak or "
            "selftest; see 'wdfdma --help')\n", argv[1]);
    return CLI_USAGE;
}
