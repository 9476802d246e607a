/*
 * libFuzzer target: the `wdfdma run` command-line parser (tools/wdfdma/options.c, linked
 * as it is). The input is split into words at NUL bytes and newlines.
 *
 * Oracle: no crash; a refusal returns CLI_USAGE with one non-empty line; an accepted
 * command has a known scenario (or none) and every numeric option inside its documented
 * range; the number parsers agree with themselves on each word.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/wdfdma/options.h"

#define MAX_WORDS 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_range(uint64_t v, uint64_t lo, uint64_t hi, unsigned given, unsigned bit)
{
    if ((given & bit) && (v < lo || v > hi))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *copy = malloc(size + 1);
    if (copy == NULL)
        return 0;
    memcpy(copy, data, size);
    copy[size] = 0;
    char *argv[MAX_WORDS + 1];
    int argc = 0;
    char *w = copy;
    for (size_t i = 0; i <= size && argc < MAX_WORDS; i++) {
        if (i == size || copy[i] == 0 || copy[i] == '\n') {
            copy[i] = 0;
            argv[argc++] = w;
            w = copy + i + 1;
        }
    }
    argv[argc] = NULL;
    for (int i = 0; i < argc; i++) {
        uint64_t a, b;
        if (cli_parse_size(argv[i], &a) == 0 && cli_parse_size(argv[i], &b) == 0 && a != b)
            abort();
        (void)cli_parse_u64(argv[i], &a);
    }
    cli_run_options o;
    cli_run_options_init(&o);
    char err[CLI_ERR_LEN];
    memset(err, 0, sizeof(err));
    int rc = cli_parse_run(argc, argv, &o, err, sizeof(err));
    if (rc != 0) {
        if (rc != CLI_USAGE || err[0] == 0 || strchr(err, '\n') != NULL ||
            strnlen(err, sizeof(err)) == sizeof(err))
            abort();
    } else {
        if (o.scenario != NULL && cli_scenario_find(o.scenario) == NULL)
            abort();
        check_range(o.size, CLI_SIZE_MIN, CLI_SIZE_MAX, o.given, CLI_OPT_SIZE);
        check_range(o.count, CLI_COUNT_MIN, CLI_COUNT_MAX, o.given, CLI_OPT_COUNT);
        check_range(o.queue_depth, CLI_QDEPTH_MIN, CLI_QDEPTH_MAX, o.given, CLI_OPT_QDEPTH);
        check_range(o.addr_bits, CLI_ADDR_BITS_MIN, CLI_ADDR_BITS_MAX, o.given, CLI_OPT_ADDR_BITS);
        check_range(o.max_sg, CLI_MAX_SG_MIN, CLI_MAX_SG_MAX, o.given, CLI_OPT_MAX_SG);
        check_range(o.baud, CLI_BAUD_MIN, CLI_BAUD_MAX, o.given, CLI_OPT_BAUD);
        check_range(o.devices, CLI_DEVICES_MIN, CLI_DEVICES_MAX, o.given, CLI_OPT_DEVICES);
        if (cli_profile_name(o.profile) == NULL || cli_memory_name(o.memory) == NULL ||
            cli_engine_name(o.engine) == NULL || cli_direction_name(o.direction) == NULL)
            abort();
        cli_run_options base;
        cli_run_options_init(&base);
        cli_run_options_overlay(&base, &o);
    }
    free(copy);
    return 0;
}
