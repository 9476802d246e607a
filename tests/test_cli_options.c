/*
 * `wdfdma run` option parsing (tools/wdfdma/options.c, compiled into this test): numbers
 * and sizes, then every option in both spellings, then every error path with the line it
 * prints. No machine is created.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tools/wdfdma/options.h"

/* ---- helpers -------------------------------------------------------------------------- */

#define MAX_WORDS 32

/* Split `line` on spaces (no quoting needed here) and parse it. */
static int parse_line(const char *line, cli_run_options *o, char *err)
{
    static char buf[512];
    char *argv[MAX_WORDS];
    int argc = 0;
    snprintf(buf, sizeof(buf), "%s", line);
    for (char *w = strtok(buf, " "); w && argc < MAX_WORDS; w = strtok(NULL, " "))
        argv[argc++] = w;
    return cli_parse_run(argc, argv, o, err, CLI_ERR_LEN);
}

static void expect_ok(const char *line, cli_run_options *o)
{
    char err[CLI_ERR_LEN];
    int rc = parse_line(line, o, err);
    if (rc != 0)
        fail_msg("'%s' failed: %s", line, err);
    assert_string_equal(err, "");
}

/* The parse fails with exit status 2 and a single line containing `needle`. */
static void expect_usage(const char *line, const char *needle)
{
    char err[CLI_ERR_LEN];
    cli_run_options o;
    int rc = parse_line(line, &o, err);
    if (rc != CLI_USAGE)
        fail_msg("'%s' returned %d, expected %d", line, rc, CLI_USAGE);
    if (!strstr(err, needle))
        fail_msg("'%s': message '%s' does not contain '%s'", line, err, needle);
    assert_null(strchr(err, '\n'));
    assert_true(strlen(err) > 0);
}

/* ---- numbers and sizes ---------------------------------------------------------------- */

static void test_parse_size(void **state)
{
    (void)state;
    uint64_t v;
    static const struct {
        const char *text;
        uint64_t value;
    } good[] = {
        {"0", 0},           {"1", 1},           {"4096", 4096},
        {"4K", 4096},       {"4k", 4096},       {"16M", 16u << 20},
        {"16m", 16u << 20}, {"1G", 1u << 30},   {"3g", 3ull << 30},
        {"18446744073709551615", UINT64_MAX},   {"17179869183G", 17179869183ull << 30},
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        v = 12345;
        if (cli_parse_size(good[i].text, &v) != 0 || v != good[i].value)
            fail_msg("size '%s' -> %llu", good[i].text, (unsigned long long)v);
    }
    static const char *const bad[] = {
        "", "K", "-1", " 1", "+1", "1.5M", "1KB", "1T", "1 K", "0x10", "1e3",
        "18446744073709551616", "17179869184G", "99999999999999999999K", "4KK",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        v = 777;
        if (cli_parse_size(bad[i], &v) == 0)
            fail_msg("size '%s' accepted as %llu", bad[i], (unsigned long long)v);
        assert_int_equal(v, 777);
    }
    assert_int_equal(cli_parse_size(NULL, &v), -1);
}

static void test_parse_u64(void **state)
{
    (void)state;
    uint64_t v = 0;
    assert_int_equal(cli_parse_u64("42", &v), 0);
    assert_int_equal(v, 42);
    assert_int_equal(cli_parse_u64("0x2A", &v), 0);
    assert_int_equal(v, 42);
    assert_int_equal(cli_parse_u64("0", &v), 0);
    assert_int_equal(v, 0);
    assert_int_equal(cli_parse_u64("18446744073709551615", &v), 0);
    assert_true(v == UINT64_MAX);
    static const char *const bad[] = {
        "", "-1", " 1", "+1", "0x", "1e3", "4K", "12a", "18446744073709551616", "0x1G",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (cli_parse_u64(bad[i], &v) == 0)
            fail_msg("number '%s' accepted", bad[i]);
    assert_int_equal(cli_parse_u64(NULL, &v), -1);
}

/* ---- success -------------------------------------------------------------------------- */

static void test_defaults(void **state)
{
    (void)state;
    cli_run_options o;
    expect_ok("", &o);
    assert_null(o.scenario);
    assert_int_equal(o.given, 0);
    assert_false(o.help);
    assert_int_equal(o.profile, CLI_PROFILE_SG64);
    assert_int_equal(o.size, 0);
    assert_int_equal(o.count, 0);
    assert_int_equal(o.queue_depth, 4);
    assert_int_equal(o.direction, CLI_DIR_BOTH);
    assert_int_equal(o.addr_bits, 0);
    assert_int_equal(o.memory, CLI_MEM_SCATTERED);
    assert_int_equal(o.max_transfer, 0);
    assert_int_equal(o.max_sg, 0);
    assert_int_equal(o.engine, CLI_ENGINE_SIM);
    assert_int_equal(o.seed, 1);
    assert_false(o.json);
    expect_ok("sgdma", &o);
    assert_string_equal(o.scenario, "sgdma");
    assert_int_equal(o.given, 0);
}

static void test_every_option_spaced(void **state)
{
    (void)state;
    cli_run_options o;
    expect_ok("sgdma --profile packet --size 4K --count 7 --queue-depth 9 --direction read "
              "--addr-bits 32 --memory above4g --max-transfer 64K --max-sg 17 "
              "--engine threads --seed 0x10 --json", &o);
    assert_string_equal(o.scenario, "sgdma");
    assert_int_equal(o.profile, CLI_PROFILE_PACKET);
    assert_int_equal(o.size, 4096);
    assert_int_equal(o.count, 7);
    assert_int_equal(o.queue_depth, 9);
    assert_int_equal(o.direction, CLI_DIR_READ);
    assert_int_equal(o.addr_bits, 32);
    assert_int_equal(o.memory, CLI_MEM_ABOVE4G);
    assert_int_equal(o.max_transfer, 65536);
    assert_int_equal(o.max_sg, 17);
    assert_int_equal(o.engine, CLI_ENGINE_THREADS);
    assert_int_equal(o.seed, 16);
    assert_true(o.json);
    unsigned all = CLI_OPT_PROFILE | CLI_OPT_SIZE | CLI_OPT_COUNT | CLI_OPT_QDEPTH |
                   CLI_OPT_DIRECTION | CLI_OPT_ADDR_BITS | CLI_OPT_MEMORY |
                   CLI_OPT_MAX_TRANSFER | CLI_OPT_MAX_SG | CLI_OPT_ENGINE | CLI_OPT_SEED |
                   CLI_OPT_JSON;
    assert_int_equal(o.given, all);
}

static void test_every_option_equals(void **state)
{
    (void)state;
    cli_run_options o;
    expect_ok("sgdma --profile=sg64-duplex --size=16M --count=1000000 --queue-depth=256 "
              "--direction=write --addr-bits=64 --memory=contiguous --max-transfer=4294967295 "
              "--max-sg=65535 --engine=sim --seed=18446744073709551615", &o);
    assert_int_equal(o.profile, CLI_PROFILE_SG64_DUPLEX);
    assert_int_equal(o.size, 16u << 20);
    assert_int_equal(o.count, 1000000);
    assert_int_equal(o.queue_depth, 256);
    assert_int_equal(o.direction, CLI_DIR_WRITE);
    assert_int_equal(o.addr_bits, 64);
    assert_int_equal(o.memory, CLI_MEM_CONTIGUOUS);
    assert_true(o.max_transfer == 0xFFFFFFFFull);
    assert_int_equal(o.max_sg, 65535);
    assert_int_equal(o.engine, CLI_ENGINE_SIM);
    assert_true(o.seed == UINT64_MAX);
    assert_false(o.json);
    assert_int_equal(o.given & CLI_OPT_JSON, 0);
}

static void test_every_word(void **state)
{
    (void)state;
    cli_run_options o;
    static const struct {
        const char *line;
        cli_profile profile;
    } profiles[] = {
        {"--profile packet", CLI_PROFILE_PACKET},     {"--profile sg", CLI_PROFILE_SG},
        {"--profile packet64", CLI_PROFILE_PACKET64}, {"--profile sg64", CLI_PROFILE_SG64},
        {"--profile sg-duplex", CLI_PROFILE_SG_DUPLEX},
        {"--profile sg64-duplex", CLI_PROFILE_SG64_DUPLEX},
    };
    for (size_t i = 0; i < sizeof(profiles) / sizeof(profiles[0]); i++) {
        expect_ok(profiles[i].line, &o);
        assert_int_equal(o.profile, profiles[i].profile);
        assert_string_equal(cli_profile_name(o.profile), profiles[i].line + 10);
    }
    const char *mems[] = {"scattered", "contiguous", "below4g", "above4g"};
    for (int i = 0; i < 4; i++) {
        char line[64];
        snprintf(line, sizeof(line), "sgdma --memory %s", mems[i]);
        expect_ok(line, &o);
        assert_int_equal(o.memory, i);
        assert_string_equal(cli_memory_name(o.memory), mems[i]);
    }
    expect_ok("--direction both", &o);
    assert_int_equal(o.direction, CLI_DIR_BOTH);
    assert_string_equal(cli_direction_name(CLI_DIR_WRITE), "write");
    assert_string_equal(cli_engine_name(CLI_ENGINE_THREADS), "threads");
}

static void test_range_edges(void **state)
{
    (void)state;
    cli_run_options o;
    expect_ok("--size 1", &o);
    assert_int_equal(o.size, 1);
    expect_ok("--size 1G", &o);
    assert_int_equal(o.size, 1u << 30);
    expect_ok("--count 1", &o);
    expect_ok("--queue-depth 1", &o);
    expect_ok("--addr-bits 24", &o);
    assert_int_equal(o.addr_bits, 24);
    expect_ok("--max-transfer 1", &o);
    expect_ok("--max-sg 1", &o);
    expect_ok("--seed 0", &o);
    assert_int_equal(o.seed, 0);
    assert_int_equal(o.given, CLI_OPT_SEED);
}

static void test_help(void **state)
{
    (void)state;
    cli_run_options o;
    expect_ok("--help", &o);
    assert_true(o.help);
    expect_ok("sgdma --size 4K -h", &o);
    assert_true(o.help);
    /* Help wins over errors elsewhere on the line: the user asked how to fix them. */
    expect_ok("--bogus --help", &o);
    assert_true(o.help);
}

static void test_overlay(void **state)
{
    (void)state;
    cli_run_options base, over;
    cli_run_options_init(&base);
    base.profile = CLI_PROFILE_PACKET;
    base.memory = CLI_MEM_ABOVE4G;
    expect_ok("--seed 9 --memory contiguous --json --size 512", &over);
    cli_run_options_overlay(&base, &over);
    assert_int_equal(base.profile, CLI_PROFILE_PACKET);   /* not given: kept */
    assert_int_equal(base.memory, CLI_MEM_CONTIGUOUS);
    assert_int_equal(base.seed, 9);
    assert_int_equal(base.size, 512);
    assert_true(base.json);
    assert_int_equal(base.given, CLI_OPT_SEED | CLI_OPT_MEMORY | CLI_OPT_JSON | CLI_OPT_SIZE);
}

static void test_scenarios_and_profiles(void **state)
{
    (void)state;
    const cli_scenario_info *s = cli_scenario_find("sgdma");
    assert_non_null(s);
    assert_ptr_equal(cli_scenario_at(0), s);
    assert_true(strlen(s->summary) > 0);
    assert_null(cli_scenario_find("uart-not-yet"));
    assert_null(cli_scenario_find(""));
    unsigned i = 0;
    while (cli_scenario_at(i))
        i++;
    assert_true(i >= 1);
    assert_int_equal(cli_profile_addr_bits(CLI_PROFILE_PACKET), 32);
    assert_int_equal(cli_profile_addr_bits(CLI_PROFILE_SG), 32);
    assert_int_equal(cli_profile_addr_bits(CLI_PROFILE_SG_DUPLEX), 32);
    assert_int_equal(cli_profile_addr_bits(CLI_PROFILE_PACKET64), 64);
    assert_int_equal(cli_profile_addr_bits(CLI_PROFILE_SG64), 64);
    assert_int_equal(cli_profile_addr_bits(CLI_PROFILE_SG64_DUPLEX), 64);
    assert_true(cli_profile_is_duplex(CLI_PROFILE_SG_DUPLEX));
    assert_true(cli_profile_is_duplex(CLI_PROFILE_SG64_DUPLEX));
    assert_false(cli_profile_is_duplex(CLI_PROFILE_SG64));
}

static void test_usage_text(void **state)
{
    (void)state;
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    cli_print_run_usage(f);
    fclose(f);
    static const char *const names[] = {
        "--profile", "--size", "--count", "--queue-depth", "--direction", "--addr-bits",
        "--memory", "--max-transfer", "--max-sg", "--engine", "--seed", "--json", "sgdma",
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (!strstr(text, names[i]))
            fail_msg("usage does not mention %s", names[i]);
    free(text);
}

/* ---- errors --------------------------------------------------------------------------- */

static void test_unknown_words(void **state)
{
    (void)state;
    expect_usage("bogus", "unknown scenario 'bogus'");
    expect_usage("sgdma --bogus", "unknown option '--bogus'");
    expect_usage("sgdma --bogus=3", "unknown option '--bogus'");
    expect_usage("--speed 9600", "unknown option '--speed'");
    expect_usage("sgdma --baud 9600", "--baud");   /* only the uart scenario has a line rate */
    expect_usage("sgdma -x", "unexpected argument '-x'");
    expect_usage("sgdma extra", "unknown scenario 'extra'");
    expect_usage("--json bogus", "unknown scenario 'bogus'");
    expect_usage("sgdma --", "unknown option '--'");
    expect_usage("--size=4K=2", "bad size '4K=2' for --size");
}

/* Several scenarios, anywhere on the line; options apply where they make sense. */
static void test_several_scenarios(void **state)
{
    (void)state;
    cli_run_options o;
    expect_ok("sgdma uart ring", &o);
    assert_int_equal(o.nscenarios, 3);
    assert_string_equal(o.scenario, "sgdma");
    assert_string_equal(o.scenarios[1], "uart");
    assert_string_equal(o.scenarios[2], "ring");
    expect_ok("--json sgdma --size 4K uart", &o);
    assert_int_equal(o.nscenarios, 2);
    assert_true(o.json);
    assert_int_equal(o.size, 4096);
    expect_ok("sgdma uart --profile sg --baud 9600", &o);   /* each where it applies */
    expect_usage("sgdma sgdma", "scenario 'sgdma' given twice");
    expect_usage("uart ring --profile sg", "--profile is not an option of any scenario named");
    expect_usage("uart --profile sg", "--profile is not an option of scenario 'uart'");
}

/* --verifier, --faults, --trace, --driver and --device: spelled, stored, refused. */
static void test_machine_options(void **state)
{
    (void)state;
    cli_run_options o;
    expect_ok("--verifier --faults dma-error:p=0.1 --trace t.json", &o);
    assert_true(o.verifier);
    assert_string_equal(o.faults, "dma-error:p=0.1");
    assert_string_equal(o.trace, "t.json");
    assert_true(o.given & CLI_OPT_VERIFIER);
    expect_ok("ring --faults=none --trace=x.json --verifier", &o);
    assert_string_equal(o.faults, "none");
    assert_string_equal(o.trace, "x.json");
    expect_usage("--verifier=1", "--verifier takes no value");
    expect_usage("--verifier --verifier", "--verifier given twice");
    expect_usage("--faults", "--faults needs a value");
    expect_usage("--faults=", "--faults needs a non-empty value");
    expect_usage("--trace", "--trace needs a value");
    expect_usage("--trace a --trace b", "--trace given twice");
}

static void test_driver_options(void **state)
{
    (void)state;
    cli_run_options o;
    expect_ok("--driver ./my.so --device sgdma --size 4K --addr-bits 32", &o);
    assert_string_equal(o.driver, "./my.so");
    assert_string_equal(o.device, "sgdma");
    assert_string_equal(o.scenario, "sgdma");
    assert_int_equal(o.nscenarios, 1);
    expect_ok("--device=uart --driver=u.so --baud 9600", &o);
    assert_string_equal(o.scenario, "uart");
    expect_ok("--driver r.so --device ring --count 2", &o);
    expect_usage("--driver x.so", "--driver needs --device MODEL");
    expect_usage("--device sgdma", "--device needs --driver");
    expect_usage("--driver x.so --device toy", "--device toy: wdfdma has a workload only for");
    expect_usage("sgdma --driver x.so --device sgdma", "do not name a scenario ('sgdma')");
    expect_usage("--driver x.so --device sgdma --profile sg", "--profile sets the sgdma sample");
    expect_usage("--driver x.so --device sgdma --max-transfer 8K", "--max-transfer sets");
    expect_usage("--driver x.so --device sgdma --max-sg 2", "--max-sg sets");
    expect_usage("--driver x.so --device uart --queue-depth 2",
                 "--queue-depth is not an option of scenario 'uart'");
    expect_usage("--driver x.so --driver y.so --device sgdma", "--driver given twice");
    expect_usage("--driver", "--driver needs a value");
}

/* `wdfdma inspect` takes run's options and names itself in messages. */
static void test_inspect_command(void **state)
{
    (void)state;
    cli_run_options o;
    char err[CLI_ERR_LEN];
    char *argv[] = {(char *)"sgdma", (char *)"--bogus"};
    assert_int_equal(cli_parse_command("inspect", 2, argv, &o, err, sizeof(err)), CLI_USAGE);
    assert_non_null(strstr(err, "unknown option '--bogus' for 'wdfdma inspect'"));
    char *ok[] = {(char *)"uart", (char *)"--count", (char *)"2"};
    assert_int_equal(cli_parse_command("inspect", 3, ok, &o, err, sizeof(err)), 0);
    assert_string_equal(o.scenario, "uart");
    char buf[4096];
    FILE *f = fmemopen(buf, sizeof(buf), "w");
    assert_non_null(f);
    cli_print_inspect_usage(f);
    fclose(f);
    assert_non_null(strstr(buf, "!wdfdmaenabler"));
    assert_non_null(strstr(buf, "--faults SPEC"));
}

static void test_missing_and_repeated(void **state)
{
    (void)state;
    static const char *const needs[] = {
        "--profile", "--size", "--count", "--queue-depth", "--direction", "--addr-bits",
        "--memory", "--max-transfer", "--max-sg", "--engine", "--seed",
    };
    for (size_t i = 0; i < sizeof(needs) / sizeof(needs[0]); i++) {
        char line[64], msg[64];
        snprintf(line, sizeof(line), "sgdma %s", needs[i]);
        snprintf(msg, sizeof(msg), "%s needs a value", needs[i]);
        expect_usage(line, msg);
    }
    expect_usage("--size 4K --size 8K", "--size given twice");
    expect_usage("--json --json", "--json given twice");
    expect_usage("--seed=1 --seed 2", "--seed given twice");
    expect_usage("--json=1", "--json takes no value");
    expect_usage("--json=", "--json takes no value");
    expect_usage("--size=", "bad size '' for --size");
    expect_usage("--profile=", "unknown --profile ''");
}

static void test_bad_values(void **state)
{
    (void)state;
    expect_usage("--size 12Q", "bad size '12Q' for --size");
    expect_usage("--size -4K", "bad size '-4K' for --size");
    expect_usage("--size 1.5M", "bad size '1.5M'");
    expect_usage("--max-transfer 64X", "bad size '64X' for --max-transfer");
    expect_usage("--count 1K", "bad number '1K' for --count");
    expect_usage("--count ten", "bad number 'ten' for --count");
    expect_usage("--queue-depth -1", "bad number '-1' for --queue-depth");
    expect_usage("--addr-bits 3x", "bad number '3x' for --addr-bits");
    expect_usage("--max-sg 0.5", "bad number '0.5' for --max-sg");
    expect_usage("--seed 18446744073709551616", "bad number '18446744073709551616' for --seed");
    expect_usage("--seed -1", "bad number '-1' for --seed");
    expect_usage("--profile sg32", "unknown --profile 'sg32' (use packet, sg, packet64");
    expect_usage("--profile SG", "unknown --profile 'SG'");
    expect_usage("--direction sideways", "unknown --direction 'sideways' (use read, write");
    expect_usage("--memory below1g", "unknown --memory 'below1g' (use scattered");
    expect_usage("--engine fast", "unknown --engine 'fast' (use sim or threads)");
}

static void test_out_of_range(void **state)
{
    (void)state;
    expect_usage("--size 0", "--size 0 is out of range (valid 1 B..1 GiB)");
    expect_usage("--size 1025M", "--size 1025M is out of range");
    expect_usage("--size 2G", "--size 2G is out of range");
    expect_usage("--count 0", "--count 0 is out of range (valid 1..1000000)");
    expect_usage("--count 1000001", "--count 1000001 is out of range");
    expect_usage("--queue-depth 0", "--queue-depth 0 is out of range (valid 1..256)");
    expect_usage("--queue-depth 257", "--queue-depth 257 is out of range");
    expect_usage("--addr-bits 8", "--addr-bits 8 is out of range (valid 24..64)");
    expect_usage("--addr-bits 23", "--addr-bits 23 is out of range");
    expect_usage("--addr-bits 65", "--addr-bits 65 is out of range");
    expect_usage("--max-transfer 0", "--max-transfer 0 is out of range");
    expect_usage("--max-transfer 4G", "--max-transfer 4G is out of range");
    expect_usage("--max-sg 0", "--max-sg 0 is out of range (valid 1..65535)");
    expect_usage("--max-sg 65536", "--max-sg 65536 is out of range");
}

static void test_error_leaves_one_line(void **state)
{
    (void)state;
    /* A long bogus word must still give one (truncated) line, never overflow. */
    char line[400];
    memset(line, 'x', sizeof(line) - 1);
    line[0] = line[1] = '-';
    line[sizeof(line) - 1] = '\0';
    expect_usage(line, "unknown option '--xxx");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_size),
        cmocka_unit_test(test_parse_u64),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_every_option_spaced),
        cmocka_unit_test(test_every_option_equals),
        cmocka_unit_test(test_every_word),
        cmocka_unit_test(test_range_edges),
        cmocka_unit_test(test_help),
        cmocka_unit_test(test_overlay),
        cmocka_unit_test(test_scenarios_and_profiles),
        cmocka_unit_test(test_usage_text),
        cmocka_unit_test(test_unknown_words),
        cmocka_unit_test(test_several_scenarios),
        cmocka_unit_test(test_machine_options),
        cmocka_unit_test(test_driver_options),
        cmocka_unit_test(test_inspect_command),
        cmocka_unit_test(test_missing_and_repeated),
        cmocka_unit_test(test_bad_values),
        cmocka_unit_test(test_out_of_range),
        cmocka_unit_test(test_error_leaves_one_line),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
