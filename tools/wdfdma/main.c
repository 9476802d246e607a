/*
 * The wdfdma command. Subcommands dispatch to their own files; usage errors print one
 * line naming what was wrong and exit 2.
 *
 *   wdfdma run [SCENARIO] [OPTIONS]   run.c: scenarios (sgdma) with verified DMA
 *   wdfdma selftest [--copies N] [--seed S]   selftest.c: the machine on both engines
 */
#include <stdio.h>
#include <string.h>

#include "options.h"
#include "run.h"

int wdfdma_selftest(int argc, char **argv);

static void print_usage(FILE *f)
{
    fprintf(f,
        "usage: wdfdma run [SCENARIO] [OPTIONS]     run scenarios (see 'wdfdma run --help')\n"
        "       wdfdma selftest [--copies N] [--seed S]\n"
        "                                          the machine's self-test on both engines\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "wdfdma: missing command (run or selftest; see 'wdfdma --help')\n");
        return CLI_USAGE;
    }
    if (strcmp(argv[1], "run") == 0)
        return cli_run(argc - 2, argv + 2);
    if (strcmp(argv[1], "selftest") == 0)
        return wdfdma_selftest(argc - 2, argv + 2);
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        print_usage(stdout);
        return 0;
    }
    fprintf(stderr, "wdfdma: unknown command '%s' (run or selftest; see 'wdfdma --help')\n",
            argv[1]);
    return CLI_USAGE;
}
