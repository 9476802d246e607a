/*
 * A small streaming JSON writer for the command's --json output. It tracks nesting so
 * commas and keys come out right, escapes strings (quote, backslash, control characters)
 * and never emits NaN or infinity, which JSON cannot represent (they become null).
 */
#ifndef WDFDMA_CLI_JSON_H
#define WDFDMA_CLI_JSON_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define JSON_MAX_DEPTH 16

typedef struct json_writer {
    FILE *f;
    unsigned depth;
    bool first[JSON_MAX_DEPTH];   /* no member written yet at this depth */
    bool after_key;               /* a key was written; its value comes next */
    bool overflow;                /* nesting went past JSON_MAX_DEPTH: output is invalid */
} json_writer;

void json_init(json_writer *w, FILE *f);
void json_begin_object(json_writer *w);
void json_end_object(json_writer *w);
void json_begin_array(json_writer *w);
void json_end_array(json_writer *w);
/* The key of the next object member. */
void json_key(json_writer *w, const char *key);
void json_string(json_writer *w, const char *s);
void json_u64(json_writer *w, uint64_t v);
void json_double(json_writer *w, double v);
void json_bool(json_writer *w, bool v);
/* Shorthands for a member: key then value. */
void json_member_string(json_writer *w, const char *key, const char *s);
void json_member_u64(json_writer *w, const char *key, uint64_t v);
void json_member_double(json_writer *w, const char *key, double v);
void json_member_bool(json_writer *w, const char *key, bool v);
/* True when everything opened was closed and nothing overflowed. */
bool json_done(const json_writer *w);

#endif
