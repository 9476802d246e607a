/*
 * The command's JSON writer (tools/wdfdma/json.c, compiled into this test): commas and
 * nesting, string escaping, numbers JSON cannot hold, and the "done" check.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include "tools/wdfdma/json.h"

typedef struct capture {
    char *text;
    size_t len;
    FILE *f;
    json_writer w;
} capture;

static void cap_open(capture *c)
{
    c->text = NULL;
    c->len = 0;
    c->f = open_memstream(&c->text, &c->len);
    assert_non_null(c->f);
    json_init(&c->w, c->f);
}

static void cap_expect(capture *c, const char *expected)
{
    fclose(c->f);
    assert_string_equal(c->text, expected);
    free(c->text);
}

static void test_empty_containers(void **state)
{
    (void)state;
    capture c;
    cap_open(&c);
    json_begin_array(&c.w);
    json_begin_object(&c.w);
    json_end_object(&c.w);
    json_begin_array(&c.w);
    json_end_array(&c.w);
    json_end_array(&c.w);
    assert_true(json_done(&c.w));
    cap_expect(&c, "[{},[]]\n");
}

static void test_members_and_commas(void **state)
{
    (void)state;
    capture c;
    cap_open(&c);
    json_begin_array(&c.w);
    for (int i = 0; i < 2; i++) {
        json_begin_object(&c.w);
        json_member_string(&c.w, "scenario", "sgdma");
        json_member_u64(&c.w, "requests", (uint64_t)i);
        json_member_u64(&c.w, "max", UINT64_MAX);
        json_member_double(&c.w, "ratio", 0.5);
        json_member_bool(&c.w, "passed", i == 0);
        json_key(&c.w, "list");
        json_begin_array(&c.w);
        json_u64(&c.w, 1);
        json_string(&c.w, NULL);
        json_end_array(&c.w);
        json_end_object(&c.w);
    }
    json_end_array(&c.w);
    assert_true(json_done(&c.w));
    cap_expect(&c, "[{\"scenario\":\"sgdma\",\"requests\":0,\"max\":18446744073709551615,"
                   "\"ratio\":0.5,\"passed\":true,\"list\":[1,null]},"
                   "{\"scenario\":\"sgdma\",\"requests\":1,\"max\":18446744073709551615,"
                   "\"ratio\":0.5,\"passed\":false,\"list\":[1,null]}]\n");
}

static void test_escaping(void **state)
{
    (void)state;
    capture c;
    cap_open(&c);
    json_begin_object(&c.w);
    json_member_string(&c.w, "q\"k", "a\"b\\c/d\n\r\t\b\f\x01\x1f\x7f é");
    json_end_object(&c.w);
    cap_expect(&c, "{\"q\\\"k\":\"a\\\"b\\\\c/d\\n\\r\\t\\b\\f\\u0001\\u001f\x7f é\"}");
}

static void test_numbers_json_cannot_hold(void **state)
{
    (void)state;
    capture c;
    cap_open(&c);
    json_begin_array(&c.w);
    json_double(&c.w, NAN);
    json_double(&c.w, INFINITY);
    json_double(&c.w, -INFINITY);
    json_double(&c.w, 1e300);
    json_double(&c.w, 0.0);
    json_double(&c.w, 12345678901.0);
    json_end_array(&c.w);
    cap_expect(&c, "[null,null,null,1e+300,0,12345678901]\n");
}

static void test_not_done(void **state)
{
    (void)state;
    capture c;
    cap_open(&c);
    json_begin_array(&c.w);
    assert_false(json_done(&c.w));
    json_begin_object(&c.w);
    json_key(&c.w, "dangling");
    assert_false(json_done(&c.w));
    json_u64(&c.w, 1);
    json_end_object(&c.w);
    json_end_array(&c.w);
    assert_true(json_done(&c.w));
    /* Closing more than was opened is flagged, not written past. */
    json_end_array(&c.w);
    assert_false(json_done(&c.w));
    cap_expect(&c, "[{\"dangling\":1}]\n");
}

static void test_depth_overflow(void **state)
{
    (void)state;
    capture c;
    cap_open(&c);
    for (int i = 0; i < JSON_MAX_DEPTH + 2; i++)
        json_begin_array(&c.w);
    assert_false(json_done(&c.w));
    fclose(c.f);
    free(c.text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_containers),
        cmocka_unit_test(test_members_and_commas),
        cmocka_unit_test(test_escaping),
        cmocka_unit_test(test_numbers_json_cannot_hold),
        cmocka_unit_test(test_not_done),
        cmocka_unit_test(test_depth_overflow),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
