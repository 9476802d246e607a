/*
 * The JSON writer (see json.h). Output goes straight to the FILE; the writer only keeps
 * one "first member" flag per nesting level to place commas.
 */
#include "json.h"

#include <math.h>

void json_init(json_writer *w, FILE *f)
{
    w->f = f;
    w->depth = 0;
    w->first[0] = true;
    w->after_key = false;
    w->overflow = false;
}

/* Before any value or key: a comma unless it is the first at this level or follows a
 * key. */
static void separate(json_writer *w)
{
    if (w->after_key) {
        w->after_key = false;
        return;
    }
    if (!w->first[w->depth])
        fputc(',', w->f);
    w->first[w->depth] = false;
}

static void open_level(json_writer *w, char c)
{
    separate(w);
    fputc(c, w->f);
    if (w->depth + 1 >= JSON_MAX_DEPTH) {
        w->overflow = true;
        return;
    }
    w->depth++;
    w->first[w->depth] = true;
}

/* False (and the writer marked broken) when nothing is open. */
static bool close_level(json_writer *w, char c)
{
    if (w->depth == 0) {
        w->overflow = true;
        return false;
    }
    w->depth--;
    fputc(c, w->f);
    return true;
}

void json_begin_object(json_writer *w) { open_level(w, '{'); }
void json_end_object(json_writer *w) { (void)close_level(w, '}'); }
void json_begin_array(json_writer *w) { open_level(w, '['); }

void json_end_array(json_writer *w)
{
    /* The outermost array ends the document: end its line too. */
    if (close_level(w, ']') && w->depth == 0)
        fputc('\n', w->f);
}

static void write_escaped(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"': fputs("\\\"", f); break;
        case '\\': fputs("\\\\", f); break;
        case '\n': fputs("\\n", f); break;
        case '\r': fputs("\\r", f); break;
        case '\t': fputs("\\t", f); break;
        case '\b': fputs("\\b", f); break;
        case '\f': fputs("\\f", f); break;
        default:
            /* Other control characters have no short form; bytes >= 0x80 are UTF-8 and
             * pass through (JSON text is UTF-8). */
            if (*p < 0x20)
                fprintf(f, "\\u%04x", *p);
            else
                fputc(*p, f);
        }
    }
    fputc('"', f);
}

void json_key(json_writer *w, const char *key)
{
    separate(w);
    write_escaped(w->f, key);
    fputc(':', w->f);
    w->after_key = true;
}

void json_string(json_writer *w, const char *s)
{
    separate(w);
    if (s)
        write_escaped(w->f, s);
    else
        fputs("null", w->f);
}

void json_u64(json_writer *w, uint64_t v)
{
    separate(w);
    fprintf(w->f, "%llu", (unsigned long long)v);
}

void json_double(json_writer *w, double v)
{
    separate(w);
    if (isfinite(v))
        fprintf(w->f, "%.15g", v);
    else
        fputs("null", w->f);
}

void json_bool(json_writer *w, bool v)
{
    separate(w);
    fputs(v ? "true" : "false", w->f);
}

void json_member_string(json_writer *w, const char *key, const char *s)
{
    json_key(w, key);
    json_string(w, s);
}

void json_member_u64(json_writer *w, const char *key, uint64_t v)
{
    json_key(w, key);
    json_u64(w, v);
}

void json_member_double(json_writer *w, const char *key, double v)
{
    json_key(w, key);
    json_double(w, v);
}

void json_member_bool(json_writer *w, const char *key, bool v)
{
    json_key(w, key);
    json_bool(w, v);
}

bool json_done(const json_writer *w)
{
    return w->depth == 0 && !w->overflow && !w->after_key;
}
