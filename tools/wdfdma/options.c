/*
 * `wdfdma run` option parsing: one table row per option (name, kind, range, where the
 * value goes), one per scenario (name, options it accepts). Adding an option is adding a
 * row; adding a scenario is adding a row here and its runner in run.c.
 */
#include "options.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- scenarios ------------------------------------------------------------------------ */

#define SGDMA_OPTIONS                                                                      \
    (CLI_OPT_PROFILE | CLI_OPT_SIZE | CLI_OPT_COUNT | CLI_OPT_QDEPTH | CLI_OPT_DIRECTION | \
     CLI_OPT_ADDR_BITS | CLI_OPT_MAX_TRANSFER | CLI_OPT_MAX_SG | CLI_OPTS_MACHINE)

/* System-DMA scenarios: --size, --count and --devices; uart also --baud. */
#define SYSDMA_OPTIONS (CLI_OPT_SIZE | CLI_OPT_COUNT | CLI_OPT_DEVICES | CLI_OPTS_MACHINE)

static const cli_scenario_info scenarios[] = {
    {"sgdma", "bus-master scatter/gather DMA: the sgdma sample driver on the sgdma model",
     SGDMA_OPTIONS},
    {"uart", "system DMA: the uart sample driver, loopback through a shared sdmac controller",
     SYSDMA_OPTIONS | CLI_OPT_BAUD},
    {"ring", "looped system DMA: the ring sample driver capturing a stream for --count wraps",
     SYSDMA_OPTIONS},
};

const cli_scenario_info *cli_scenario_at(unsigned index)
{
    return index < sizeof(scenarios) / sizeof(scenarios[0]) ? &scenarios[index] : NULL;
}

const cli_scenario_info *cli_scenario_find(const char *name)
{
    for (unsigned i = 0; cli_scenario_at(i); i++)
        if (strcmp(scenarios[i].name, name) == 0)
            return &scenarios[i];
    return NULL;
}

/* ---- names ---------------------------------------------------------------------------- */

/* Enumerated option values: the word on the command line and the value it stands for. */
typedef struct cli_word {
    const char *word;
    int value;
} cli_word;

static const cli_word profile_words[] = {
    {"packet", CLI_PROFILE_PACKET},     {"sg", CLI_PROFILE_SG},
    {"packet64", CLI_PROFILE_PACKET64}, {"sg64", CLI_PROFILE_SG64},
    {"sg-duplex", CLI_PROFILE_SG_DUPLEX}, {"sg64-duplex", CLI_PROFILE_SG64_DUPLEX},
    {NULL, 0},
};
static const cli_word direction_words[] = {
    {"both", CLI_DIR_BOTH}, {"read", CLI_DIR_READ}, {"write", CLI_DIR_WRITE}, {NULL, 0},
};
static const cli_word memory_words[] = {
    {"scattered", CLI_MEM_SCATTERED}, {"contiguous", CLI_MEM_CONTIGUOUS},
    {"below4g", CLI_MEM_BELOW4G},     {"above4g", CLI_MEM_ABOVE4G},
    {NULL, 0},
};
static const cli_word engine_words[] = {
    {"sim", CLI_ENGINE_SIM}, {"threads", CLI_ENGINE_THREADS}, {NULL, 0},
};

static const char *word_of(const cli_word *words, int value)
{
    for (; words->word; words++)
        if (words->value == value)
            return words->word;
    return "?";
}

const char *cli_profile_name(cli_profile p) { return word_of(profile_words, (int)p); }
const char *cli_direction_name(cli_direction d) { return word_of(direction_words, (int)d); }
const char *cli_memory_name(cli_memory m) { return word_of(memory_words, (int)m); }
const char *cli_engine_name(cli_engine e) { return word_of(engine_words, (int)e); }

/* The value of `text` in `words`: 0, or -1 when it is none of them. */
static int word_value(const cli_word *words, const char *text, int *value)
{
    for (; words->word; words++)
        if (strcmp(words->word, text) == 0) {
            *value = words->value;
            return 0;
        }
    return -1;
}

int cli_parse_engine(const char *text, cli_engine *out)
{
    int v;
    if (word_value(engine_words, text, &v) != 0)
        return -1;
    *out = (cli_engine)v;
    return 0;
}

unsigned cli_profile_addr_bits(cli_profile p)
{
    switch (p) {
    case CLI_PROFILE_PACKET:
    case CLI_PROFILE_SG:
    case CLI_PROFILE_SG_DUPLEX:
        return 32;
    default:
        return 64;
    }
}

bool cli_profile_is_duplex(cli_profile p)
{
    return p == CLI_PROFILE_SG_DUPLEX || p == CLI_PROFILE_SG64_DUPLEX;
}

/* ---- numbers -------------------------------------------------------------------------- */

int cli_parse_u64(const char *text, uint64_t *out)
{
    /* strtoull accepts leading blanks and a minus sign (it negates): refuse both. */
    if (!text || !(text[0] >= '0' && text[0] <= '9'))
        return -1;
    char *end;
    errno = 0;
    bool hex = text[0] == '0' && (text[1] == 'x' || text[1] == 'X');
    unsigned long long v = strtoull(text, &end, hex ? 16 : 10);
    if (errno || end == text || *end)
        return -1;
    *out = v;
    return 0;
}

int cli_parse_size(const char *text, uint64_t *out)
{
    if (!text || !(text[0] >= '0' && text[0] <= '9'))
        return -1;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno || end == text)
        return -1;
    unsigned shift = 0;
    switch (*end) {
    case '\0': break;
    case 'k': case 'K': shift = 10; end++; break;
    case 'm': case 'M': shift = 20; end++; break;
    case 'g': case 'G': shift = 30; end++; break;
    default: return -1;
    }
    if (*end != '\0' || (shift && v > (UINT64_MAX >> shift)))
        return -1;
    *out = (uint64_t)v << shift;
    return 0;
}

/* ---- the option table ----------------------------------------------------------------- */

typedef enum opt_kind { KIND_SIZE, KIND_UINT, KIND_WORD, KIND_FLAG, KIND_TEXT } opt_kind;

typedef struct opt_def {
    const char *name;          /* "--size" */
    cli_opt_bit bit;
    opt_kind kind;
    uint64_t min, max;         /* KIND_SIZE, KIND_UINT */
    const char *range;         /* the range as the error message states it */
    const cli_word *words;     /* KIND_WORD */
    const char *choices;       /* KIND_WORD, as the error message states them */
    size_t offset;             /* where in cli_run_options */
} opt_def;

#define AT(field) offsetof(cli_run_options, field)

static const opt_def options[] = {
    {"--profile", CLI_OPT_PROFILE, KIND_WORD, 0, 0, NULL, profile_words,
     "packet, sg, packet64, sg64, sg-duplex or sg64-duplex", AT(profile)},
    {"--size", CLI_OPT_SIZE, KIND_SIZE, CLI_SIZE_MIN, CLI_SIZE_MAX, "1 B..1 GiB", NULL, NULL,
     AT(size)},
    {"--count", CLI_OPT_COUNT, KIND_UINT, CLI_COUNT_MIN, CLI_COUNT_MAX, "1..1000000", NULL,
     NULL, AT(count)},
    {"--queue-depth", CLI_OPT_QDEPTH, KIND_UINT, CLI_QDEPTH_MIN, CLI_QDEPTH_MAX, "1..256",
     NULL, NULL, AT(queue_depth)},
    {"--direction", CLI_OPT_DIRECTION, KIND_WORD, 0, 0, NULL, direction_words,
     "read, write or both", AT(direction)},
    {"--addr-bits", CLI_OPT_ADDR_BITS, KIND_UINT, CLI_ADDR_BITS_MIN, CLI_ADDR_BITS_MAX,
     "24..64", NULL, NULL, AT(addr_bits)},
    {"--memory", CLI_OPT_MEMORY, KIND_WORD, 0, 0, NULL, memory_words,
     "scattered, contiguous, below4g or above4g", AT(memory)},
    {"--max-transfer", CLI_OPT_MAX_TRANSFER, KIND_SIZE, CLI_MAX_TRANSFER_MIN,
     CLI_MAX_TRANSFER_MAX, "1 B..4294967295 B", NULL, NULL, AT(max_transfer)},
    {"--max-sg", CLI_OPT_MAX_SG, KIND_UINT, CLI_MAX_SG_MIN, CLI_MAX_SG_MAX, "1..65535", NULL,
     NULL, AT(max_sg)},
    {"--engine", CLI_OPT_ENGINE, KIND_WORD, 0, 0, NULL, engine_words, "sim or threads",
     AT(engine)},
    {"--seed", CLI_OPT_SEED, KIND_UINT, 0, UINT64_MAX, "0..2^64-1", NULL, NULL, AT(seed)},
    {"--json", CLI_OPT_JSON, KIND_FLAG, 0, 0, NULL, NULL, NULL, AT(json)},
    {"--baud", CLI_OPT_BAUD, KIND_UINT, CLI_BAUD_MIN, CLI_BAUD_MAX, "1..921600", NULL, NULL,
     AT(baud)},
    {"--devices", CLI_OPT_DEVICES, KIND_UINT, CLI_DEVICES_MIN, CLI_DEVICES_MAX, "1..64", NULL,
     NULL, AT(devices)},
    {"--driver", CLI_OPT_DRIVER, KIND_TEXT, 0, 0, NULL, NULL, NULL, AT(driver)},
    {"--device", CLI_OPT_DEVICE, KIND_TEXT, 0, 0, NULL, NULL, NULL, AT(device)},
    {"--verifier", CLI_OPT_VERIFIER, KIND_FLAG, 0, 0, NULL, NULL, NULL, AT(verifier)},
    {"--faults", CLI_OPT_FAULTS, KIND_TEXT, 0, 0, NULL, NULL, NULL, AT(faults)},
    {"--trace", CLI_OPT_TRACE, KIND_TEXT, 0, 0, NULL, NULL, NULL, AT(trace)},
};

static const opt_def *find_option(const char *name, size_t len)
{
    for (size_t i = 0; i < sizeof(options) / sizeof(options[0]); i++)
        if (strlen(options[i].name) == len && strncmp(options[i].name, name, len) == 0)
            return &options[i];
    return NULL;
}

static int fail(char *err, size_t err_len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t err_len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, err_len, fmt, ap);
    va_end(ap);
    return CLI_USAGE;
}

/* Store `v` into the field the option names: a bool (flags), an enum (words, int-sized)
 * or a uint64_t (numbers and sizes). */
_Static_assert(sizeof(cli_profile) == sizeof(int) && sizeof(cli_direction) == sizeof(int) &&
                   sizeof(cli_memory) == sizeof(int) && sizeof(cli_engine) == sizeof(int),
               "word options are stored as int");

static void store(cli_run_options *o, const opt_def *d, uint64_t v, const char *text)
{
    char *field = (char *)o + d->offset;
    if (d->kind == KIND_TEXT) {
        memcpy(field, &text, sizeof(text));
    } else if (d->kind == KIND_FLAG) {
        *(bool *)field = true;
    } else if (d->kind == KIND_WORD) {
        int e = (int)v;
        memcpy(field, &e, sizeof(e));
    } else {
        *(uint64_t *)field = v;
    }
}

static int parse_value(const opt_def *d, const char *value, uint64_t *v, char *err,
                       size_t err_len)
{
    if (d->kind == KIND_TEXT) {
        /* Paths and specs: anything but nothing (the library checks the rest). */
        if (value[0] == '\0')
            return fail(err, err_len, "%s needs a non-empty value", d->name);
        return 0;
    }
    if (d->kind == KIND_WORD) {
        int w;
        if (word_value(d->words, value, &w) != 0)
            return fail(err, err_len, "unknown %s '%s' (use %s)", d->name, value, d->choices);
        *v = (uint64_t)w;
        return 0;
    }
    if (d->kind == KIND_SIZE && cli_parse_size(value, v) != 0)
        return fail(err, err_len, "bad size '%s' for %s (digits with an optional K, M or G "
                    "suffix)", value, d->name);
    if (d->kind == KIND_UINT && cli_parse_u64(value, v) != 0)
        return fail(err, err_len, "bad number '%s' for %s", value, d->name);
    if (*v < d->min || *v > d->max)
        return fail(err, err_len, "%s %s is out of range (valid %s)", d->name, value,
                    d->range);
    return 0;
}

/* One option word (and maybe the next word as its value); *used is how many words. */
static int parse_option(const char *command, int argc, char **argv, int i, cli_run_options *o,
                        int *used, char *err, size_t err_len)
{
    const char *arg = argv[i];
    const char *eq = strchr(arg, '=');
    size_t name_len = eq ? (size_t)(eq - arg) : strlen(arg);
    const opt_def *d = find_option(arg, name_len);
    if (!d)
        return fail(err, err_len, "unknown option '%.*s' for 'wdfdma %s'", (int)name_len, arg,
                    command);
    if (o->given & d->bit)
        return fail(err, err_len, "%s given twice", d->name);
    const char *value = NULL;
    *used = 1;
    if (d->kind == KIND_FLAG) {
        if (eq)
            return fail(err, err_len, "%s takes no value", d->name);
    } else if (eq) {
        value = eq + 1;
    } else if (i + 1 < argc) {
        value = argv[i + 1];
        *used = 2;
    } else {
        return fail(err, err_len, "%s needs a value", d->name);
    }
    uint64_t v = 0;
    if (value && parse_value(d, value, &v, err, err_len) != 0)
        return CLI_USAGE;
    store(o, d, v, value);
    o->given |= d->bit;
    return 0;
}

/* ---- the command line ----------------------------------------------------------------- */

void cli_run_options_init(cli_run_options *o)
{
    memset(o, 0, sizeof(*o));
    o->profile = CLI_PROFILE_SG64;
    o->queue_depth = 4;
    o->direction = CLI_DIR_BOTH;
    o->memory = CLI_MEM_SCATTERED;
    o->engine = CLI_ENGINE_SIM;
    o->seed = 1;
}

static bool is_help(const char *arg)
{
    return strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0;
}

/* Options the chosen scenario accepts. With several (or none: the samples) an option
 * applies to every scenario where it makes sense, so any scenario's options pass. */
static unsigned accepted(const cli_run_options *o)
{
    if (o->nscenarios == 1)
        return cli_scenario_find(o->scenarios[0])->accepts;
    unsigned all = 0;
    for (unsigned i = 0; cli_scenario_at(i); i++) {
        bool named = o->nscenarios == 0;
        for (unsigned k = 0; k < o->nscenarios; k++)
            named |= strcmp(o->scenarios[k], cli_scenario_at(i)->name) == 0;
        if (named)
            all |= cli_scenario_at(i)->accepts;
    }
    return all;
}

static int check_accepted(const cli_run_options *o, char *err, size_t err_len)
{
    unsigned extra = o->given & ~accepted(o) & ~(CLI_OPT_DRIVER | CLI_OPT_DEVICE);
    for (size_t i = 0; extra && i < sizeof(options) / sizeof(options[0]); i++)
        if (extra & options[i].bit)
            return o->nscenarios == 1
                       ? fail(err, err_len, "%s is not an option of scenario '%s'",
                              options[i].name, o->scenario)
                       : fail(err, err_len, "%s is not an option of any scenario named",
                              options[i].name);
    return 0;
}

/* --driver PATH --device MODEL: the model's workload with the user's driver. The model
 * must be one with a workload (a scenario of that name); the sample driver's registry
 * options do not apply. */
static int check_driver(cli_run_options *o, char *err, size_t err_len)
{
    bool driver = o->given & CLI_OPT_DRIVER, device = o->given & CLI_OPT_DEVICE;
    if (!driver && !device)
        return 0;
    if (!device)
        return fail(err, err_len, "--driver needs --device MODEL (sgdma, uart or ring)");
    if (!driver)
        return fail(err, err_len, "--device needs --driver PATH.so (the sample scenarios "
                    "choose their own devices)");
    if (o->nscenarios)
        return fail(err, err_len, "--driver runs the workload of --device %s: do not name a "
                    "scenario ('%s')", o->device, o->scenarios[0]);
    const cli_scenario_info *s = cli_scenario_find(o->device);
    if (!s)
        return fail(err, err_len, "--device %s: wdfdma has a workload only for the sgdma, "
                    "uart and ring models", o->device);
    unsigned sample = o->given & CLI_OPTS_SAMPLE_DRIVER;
    for (size_t i = 0; sample && i < sizeof(options) / sizeof(options[0]); i++)
        if (sample & options[i].bit)
            return fail(err, err_len, "%s sets the sgdma sample driver's registry; it does "
                        "not apply with --driver", options[i].name);
    o->scenario = s->name;
    o->scenarios[0] = s->name;
    o->nscenarios = 1;
    return 0;
}

static int add_scenario(cli_run_options *o, const char *word, char *err, size_t err_len)
{
    const cli_scenario_info *s = cli_scenario_find(word);
    if (!s)
        return fail(err, err_len, "unknown scenario '%s' (see 'wdfdma list')", word);
    for (unsigned i = 0; i < o->nscenarios; i++)
        if (strcmp(o->scenarios[i], s->name) == 0)
            return fail(err, err_len, "scenario '%s' given twice", word);
    if (o->nscenarios == CLI_SCENARIOS_MAX)
        return fail(err, err_len, "more than %u scenarios", CLI_SCENARIOS_MAX);
    o->scenarios[o->nscenarios++] = s->name;
    if (!o->scenario)
        o->scenario = s->name;
    return 0;
}

int cli_parse_command(const char *command, int argc, char **argv, cli_run_options *o,
                      char *err, size_t err_len)
{
    cli_run_options_init(o);
    err[0] = '\0';
    for (int i = 0; i < argc; i++)
        if (is_help(argv[i])) {
            o->help = true;
            return 0;
        }
    int i = 0;
    while (i < argc) {
        if (argv[i][0] != '-') {
            if (add_scenario(o, argv[i], err, err_len) != 0)
                return CLI_USAGE;
            i++;
            continue;
        }
        if (argv[i][1] != '-')
            return fail(err, err_len, "unexpected argument '%s'", argv[i]);
        int used = 0;
        if (parse_option(command, argc, argv, i, o, &used, err, err_len) != 0)
            return CLI_USAGE;
        i += used;
    }
    if (check_driver(o, err, err_len) != 0)
        return CLI_USAGE;
    return check_accepted(o, err, err_len);
}

int cli_parse_run(int argc, char **argv, cli_run_options *o, char *err, size_t err_len)
{
    return cli_parse_command("run", argc, argv, o, err, err_len);
}

void cli_run_options_overlay(cli_run_options *base, const cli_run_options *over)
{
    for (size_t i = 0; i < sizeof(options) / sizeof(options[0]); i++) {
        const opt_def *d = &options[i];
        if (!(over->given & d->bit))
            continue;
        size_t width = d->kind == KIND_FLAG   ? sizeof(bool)
                       : d->kind == KIND_WORD ? sizeof(int)
                       : d->kind == KIND_TEXT ? sizeof(const char *)
                                              : sizeof(uint64_t);
        memcpy((char *)base + d->offset, (const char *)over + d->offset, width);
        base->given |= d->bit;
    }
}

/* The options both `run` and `inspect` take. */
static void print_options(FILE *f)
{
    fprintf(f,
        "Options (sizes take K, M or G suffixes, powers of 1024):\n"
        "  --profile P        packet|sg|packet64|sg64|sg-duplex|sg64-duplex (default sg64)\n"
        "  --size BYTES       bytes per request, 1..1G (default: a ladder from 1 B to 16 MiB)\n"
        "  --count N          requests per size and direction, 1..1000000 (default: by size)\n"
        "  --queue-depth N    requests kept outstanding, 1..256 (default 4)\n"
        "  --direction D      read|write|both (default both)\n"
        "  --addr-bits N      device DMA address width, 24..64; sgdma: 32 or 64\n"
        "                     (default: the profile's, 32 or 64)\n"
        "  --memory M         scattered|contiguous|below4g|above4g (default scattered)\n"
        "  --max-transfer B   the driver's MaximumTransferLength (default: the driver's)\n"
        "  --max-sg N         the driver's MaximumSgElements, 1..65535 (default: the driver's)\n"
        "  --engine E         sim|threads (default sim)\n"
        "  --seed N           machine seed (default 1)\n"
        "  --json             print one JSON array, an object per scenario\n"
        "  --baud N           uart: line rate, 921600/n (default 115200)\n"
        "  --devices N        uart, ring: devices sharing one 8-channel sdmac, 1..64\n"
        "                     (uart at most 32; default 1)\n"
        "  uart, ring: --size is bytes per request / ring bytes, --count rounds / wraps\n"
        "  --driver PATH.so   run a driver module of your own (exports DriverEntry; an INF\n"
        "                     next to it is read) instead of the sample driver ...\n"
        "  --device MODEL     ... on this device model, with its workload: sgdma, uart, ring\n"
        "                     (--profile, --max-transfer, --max-sg do not apply)\n"
        "  --verifier         the DMA and KMDF verifier: a finding fails the run\n"
        "  --faults SPEC      inject faults, e.g. 'dma-error:p=0.01,lost-irq:every=97'\n"
        "                     (docs/faults.md); requests failed by faults are not errors\n"
        "  --trace FILE       write a Chrome/Perfetto trace-event JSON timeline to FILE\n"
        "                     (open in ui.perfetto.dev; 'wdfdma trace FILE --svg OUT.svg')\n");
}

void cli_print_run_usage(FILE *f)
{
    fprintf(f,
        "usage: wdfdma run [SCENARIO...] [OPTIONS]\n"
        "       wdfdma run --driver PATH.so --device MODEL [OPTIONS]\n"
        "\n"
        "Without SCENARIO, runs the sample scenarios (options given apply to each where\n"
        "they make sense).\n"
        "Scenarios:\n");
    for (unsigned i = 0; cli_scenario_at(i); i++)
        fprintf(f, "  %-10s %s\n", cli_scenario_at(i)->name, cli_scenario_at(i)->summary);
    print_options(f);
    fprintf(f,
        "Exit status: 0 clean, 1 a data mismatch, error or verifier finding, 2 bad usage.\n");
}

void cli_print_inspect_usage(FILE *f)
{
    fprintf(f,
        "usage: wdfdma inspect [SCENARIO...] [OPTIONS]\n"
        "       wdfdma inspect --driver PATH.so --device MODEL [OPTIONS]\n"
        "\n"
        "Runs like 'wdfdma run' (same scenarios and options), then prints the framework's\n"
        "DMA enablers, transactions and common buffers as WinDbg's !wdfdmaenabler and\n"
        "!wdfdmatransaction show them: at the end of each run, before the machine is torn\n"
        "down, or at a bug check, before the process stops.\n");
    print_options(f);
    fprintf(f, "Exit status: as 'wdfdma run'.\n");
}
