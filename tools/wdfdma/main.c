/*
 * The wdfdma command. Subcommands dispatch to their own files; usage errors print one line
 * and exit 2.
 */
#include <stdio.h>
#include <string.h>

int wdfdma_selftest(int argc, char **argv);

static int usage(const char *why)
{
    fprintf(stderr, "wdfdma: %s (usage: wdfdma run|selftest [--copies N] [--seed S])\n", why);
    return 2;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return usage("missing command");
    if (strcmp(argv[1], "run") == 0 || strcmp(argv[1], "selftest") == 0)
        return wdfdma_selftest(argc - 2, argv + 2);
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "help") == 0) {
        printf("usage: wdfdma run|selftest [--copies N] [--seed S]\n");
        return 0;
    }
    char why[128];
    snprintf(why, sizeof(why), "unknown command '%s'", argv[1]);
    return usage(why);
}
