/*
 * The `wdfdma run` / `wdfdma inspect` command line: scenarios, options, their ranges and
 * defaults.
 *
 * This module is pure parsing: it never creates a machine or opens a file, so tests and
 * the command-line fuzzer compile it alone (tests/test_cli_options.c,
 * fuzz/fuzz_cmdline.c). It knows every scenario's name and which options it accepts;
 * what a scenario does with them is in its own file (scenario_sgdma.c). Checks that need
 * the library (a fault spec, a driver module, a device model) are run.c's.
 *
 * Every parse error fills a one-line message naming what was wrong and the parse returns
 * CLI_USAGE; the command prints it and exits 2. Nothing is clamped: a value outside its
 * range is an error, not a nearby value.
 */
#ifndef WDFDMA_CLI_OPTIONS_H
#define WDFDMA_CLI_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define CLI_USAGE 2                     /* exit status for bad usage */
#define CLI_ERR_LEN 256                 /* room for one error line */

/* Option ranges (inclusive). Sizes are bytes. */
#define CLI_SIZE_MIN 1ull
#define CLI_SIZE_MAX (1ull << 30)       /* the sgdma model's largest device memory */
#define CLI_COUNT_MIN 1ull
#define CLI_COUNT_MAX 1000000ull
#define CLI_QDEPTH_MIN 1ull
#define CLI_QDEPTH_MAX 256ull
#define CLI_ADDR_BITS_MIN 24ull         /* KMDF's AddressWidthOverride floor */
#define CLI_ADDR_BITS_MAX 64ull
#define CLI_MAX_TRANSFER_MIN 1ull
#define CLI_MAX_TRANSFER_MAX 0xFFFFFFFFull /* a REG_DWORD */
#define CLI_MAX_SG_MIN 1ull
#define CLI_MAX_SG_MAX 65535ull
#define CLI_BAUD_MIN 1ull
#define CLI_BAUD_MAX 921600ull       /* the uart model's clock */
#define CLI_DEVICES_MIN 1ull
#define CLI_DEVICES_MAX 64ull         /* request lines of the machine */

/* Registry DmaProfile values are WDF_DMA_PROFILE: these enumerators match it. */
typedef enum cli_profile {
    CLI_PROFILE_PACKET = 1,
    CLI_PROFILE_SG = 2,
    CLI_PROFILE_PACKET64 = 3,
    CLI_PROFILE_SG64 = 4,
    CLI_PROFILE_SG_DUPLEX = 5,
    CLI_PROFILE_SG64_DUPLEX = 6,
} cli_profile;

typedef enum cli_direction { CLI_DIR_BOTH = 0, CLI_DIR_READ, CLI_DIR_WRITE } cli_direction;

/* Same order as wdfdma_mem_policy so the value passes straight through. */
typedef enum cli_memory {
    CLI_MEM_SCATTERED = 0,
    CLI_MEM_CONTIGUOUS = 1,
    CLI_MEM_BELOW4G = 2,
    CLI_MEM_ABOVE4G = 3,
} cli_memory;

/* Same order as wdfdma_engine. */
typedef enum cli_engine { CLI_ENGINE_SIM = 0, CLI_ENGINE_THREADS = 1 } cli_engine;

/* One bit per option, for "was it given" and "does this scenario accept it". */
typedef enum cli_opt_bit {
    CLI_OPT_PROFILE = 1u << 0,
    CLI_OPT_SIZE = 1u << 1,
    CLI_OPT_COUNT = 1u << 2,
    CLI_OPT_QDEPTH = 1u << 3,
    CLI_OPT_DIRECTION = 1u << 4,
    CLI_OPT_ADDR_BITS = 1u << 5,
    CLI_OPT_MEMORY = 1u << 6,
    CLI_OPT_MAX_TRANSFER = 1u << 7,
    CLI_OPT_MAX_SG = 1u << 8,
    CLI_OPT_ENGINE = 1u << 9,
    CLI_OPT_SEED = 1u << 10,
    CLI_OPT_JSON = 1u << 11,
    CLI_OPT_BAUD = 1u << 12,
    CLI_OPT_DEVICES = 1u << 13,
    CLI_OPT_DRIVER = 1u << 14,
    CLI_OPT_DEVICE = 1u << 15,
    CLI_OPT_VERIFIER = 1u << 16,
    CLI_OPT_FAULTS = 1u << 17,
    CLI_OPT_TRACE = 1u << 18,
} cli_opt_bit;

/* Options every scenario takes (machine settings and what to record). */
#define CLI_OPTS_MACHINE                                                                   \
    (CLI_OPT_MEMORY | CLI_OPT_ENGINE | CLI_OPT_SEED | CLI_OPT_JSON | CLI_OPT_VERIFIER |     \
     CLI_OPT_FAULTS | CLI_OPT_TRACE)
/* Options that set the sgdma *sample* driver's registry: meaningless for --driver. */
#define CLI_OPTS_SAMPLE_DRIVER (CLI_OPT_PROFILE | CLI_OPT_MAX_TRANSFER | CLI_OPT_MAX_SG)

#define CLI_SCENARIOS_MAX 8           /* scenario words on one command line */

/* What `wdfdma run` was asked to do. Fields not named in `given` hold their defaults;
 * a scenario may choose a better default for those (see scenario_sgdma.c). */
typedef struct cli_run_options {
    const char *scenario;     /* the first scenario named, or the --device model with
                                 --driver; NULL: run the sample scenarios */
    const char *scenarios[CLI_SCENARIOS_MAX]; /* every scenario named, in order */
    unsigned nscenarios;
    unsigned given;           /* cli_opt_bit set for each option on the command line */
    bool help;                /* --help / -h: print usage, exit 0 */
    cli_profile profile;
    uint64_t size;            /* bytes per request; 0 = the scenario's size ladder */
    uint64_t count;           /* requests per size and direction; 0 = the scenario's */
    uint64_t queue_depth;
    cli_direction direction;
    uint64_t addr_bits;       /* 0 = what the profile implies */
    cli_memory memory;
    uint64_t max_transfer;    /* 0 = the driver's default */
    uint64_t max_sg;          /* 0 = the driver's default */
    cli_engine engine;
    uint64_t seed;
    bool json;
    uint64_t baud;            /* uart line rate; 0 = the scenario's default */
    uint64_t devices;         /* uart / ring devices on the one controller; 0 = 1 */
    const char *driver;       /* --driver PATH.so: a user's driver module, or NULL */
    const char *device;       /* --device MODEL: the model it drives (with --driver) */
    bool verifier;            /* --verifier: the machine's DMA and KMDF verifier */
    const char *faults;       /* --faults SPEC: a fault plan (faults.h syntax), or NULL */
    const char *trace;        /* --trace FILE: Chrome/Perfetto trace-event JSON, or NULL */
} cli_run_options;

/* A scenario as the parser knows it: its name, a one-line summary and its options. */
typedef struct cli_scenario_info {
    const char *name;
    const char *summary;
    unsigned accepts;         /* cli_opt_bit mask */
} cli_scenario_info;

/* Registered scenarios; returns NULL past the end. */
const cli_scenario_info *cli_scenario_at(unsigned index);
const cli_scenario_info *cli_scenario_find(const char *name);

/* Defaults for every field (scenario NULL, nothing given). */
void cli_run_options_init(cli_run_options *o);

/* Parse the words after `run`: [SCENARIO...] [--option VALUE | --option=VALUE | --flag]...
 * Scenario words may come anywhere an option may. With --driver PATH --device MODEL no
 * scenario is named: `scenario` is set to MODEL, whose workload runs. Returns 0, or
 * CLI_USAGE with a one-line message in err. */
int cli_parse_run(int argc, char **argv, cli_run_options *o, char *err, size_t err_len);
/* The same for another command taking run's options (`inspect`): `command` names it in
 * messages ("unknown option '--x' for 'wdfdma inspect'"). */
int cli_parse_command(const char *command, int argc, char **argv, cli_run_options *o,
                      char *err, size_t err_len);

/* Merge: every option given in `over` replaces the one in `base` (the sample scenarios
 * take the command line's options on top of their own). */
void cli_run_options_overlay(cli_run_options *base, const cli_run_options *over);

/* A size: decimal digits with an optional K, M or G suffix (powers of 1024, either
 * case). Returns 0, or -1 for anything else, including overflow past 2^64 - 1. */
int cli_parse_size(const char *text, uint64_t *out);
/* A plain unsigned number: decimal, or hexadecimal with 0x. Returns 0 or -1. */
int cli_parse_u64(const char *text, uint64_t *out);

/* Names for printing. */
const char *cli_profile_name(cli_profile p);
const char *cli_direction_name(cli_direction d);
const char *cli_memory_name(cli_memory m);
const char *cli_engine_name(cli_engine e);
/* "sim" or "threads": 0, or -1 for anything else. */
int cli_parse_engine(const char *text, cli_engine *out);
/* 32 for Packet, ScatterGather and ScatterGatherDuplex; 64 for the others. */
unsigned cli_profile_addr_bits(cli_profile p);
bool cli_profile_is_duplex(cli_profile p);

/* The usage text of `wdfdma run` (and of `wdfdma inspect`, which takes the same
 * options), for --help. */
void cli_print_run_usage(FILE *file);
void cli_print_inspect_usage(FILE *file);

#endif
