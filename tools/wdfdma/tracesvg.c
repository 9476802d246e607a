/*
 * `wdfdma trace FILE --svg OUT.svg`: draw a `wdfdma run --trace` file as an SVG timeline.
 *
 * The reader is a strict JSON parser (RFC 8259 values, nesting, escapes) that keeps only
 * what the picture needs from each trace event: phase, pid, tid, ts, name, id and, for
 * metadata and counters, one argument. The picture has a lane per track (process by
 * process, thread by thread, named as the metadata events name them): spans as boxes
 * (nested spans inset), instants as ticks, flows as lines from step to step, counters as
 * step lines. Every machine shares one time axis from 0 to the latest timestamp.
 *
 * Anything that is not a trace-event JSON document is refused with one line naming the
 * byte where reading stopped (exit 2).
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "options.h"
#include "run.h"

#define NAME_LEN 64
#define JSON_DEPTH_MAX 64
#define SVG_WIDTH 1600.0
#define LABEL_WIDTH 260.0
#define LANE_HEIGHT 22.0
#define TOP 40.0

/* ---- what is kept ------------------------------------------------------------------------- */

typedef struct tev {
    char ph;
    int64_t pid, tid;
    double ts;
    uint64_t id;
    bool has_id;
    char name[NAME_LEN];
    char arg_name[NAME_LEN];   /* args.name (metadata) */
    char arg_key[NAME_LEN];    /* the first numeric argument (counters) */
    double arg_value;
    bool has_value;
} tev;

typedef struct lane {
    int64_t pid, tid;
    bool counter;
    char name[2 * NAME_LEN + 4];
    double cmax;               /* counters: largest value */
    unsigned depth;            /* spans: open now, while reading */
} lane;

typedef struct span {
    unsigned lane;
    unsigned depth;
    double start, end;
    char name[NAME_LEN];
} span;

typedef struct point {
    unsigned lane;
    double ts;
    uint64_t id;               /* flows */
    double value;              /* counters */
    char ph;
} point;

typedef struct picture {
    lane *lanes;
    size_t nlanes, lanes_cap;
    span *spans;
    size_t nspans, spans_cap;
    point *points;             /* instants, flow steps, counter samples */
    size_t npoints, points_cap;
    char (*procs)[NAME_LEN];   /* process names by pid (pid < nprocs) */
    int64_t *proc_pids;
    size_t nprocs, procs_cap;
    double tmax;
    /* open B spans: index into spans, per lane, a stack */
    size_t *open;
    size_t nopen, open_cap;
} picture;

static bool grow(void **p, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return true;
    size_t cap2 = *cap ? *cap * 2 : 64;
    while (cap2 < need)
        cap2 *= 2;
    void *q = realloc(*p, cap2 * size);
    if (!q)
        return false;
    *p = q;
    *cap = cap2;
    return true;
}

/* ---- JSON reading ---------------------------------------------------------------------------- */

typedef struct reader {
    const char *p, *start, *end;
    char err[160];
    unsigned depth;
} reader;

static bool bad(reader *r, const char *what)
{
    if (!r->err[0])
        snprintf(r->err, sizeof(r->err), "%s at byte %zu", what, (size_t)(r->p - r->start));
    return false;
}

static void skip_ws(reader *r)
{
    while (r->p < r->end && (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r'))
        r->p++;
}

static bool literal(reader *r, const char *word)
{
    size_t n = strlen(word);
    if ((size_t)(r->end - r->p) < n || memcmp(r->p, word, n) != 0)
        return bad(r, "unexpected text");
    r->p += n;
    return true;
}

/* A string into out (cut to len - 1 bytes, \uXXXX outside ASCII as '?'); out may be NULL. */
static bool read_string(reader *r, char *out, size_t len)
{
    if (r->p >= r->end || *r->p != '"')
        return bad(r, "expected a string");
    r->p++;
    size_t n = 0;
    while (r->p < r->end && *r->p != '"') {
        char c = *r->p++;
        if ((unsigned char)c < 0x20)
            return bad(r, "control character in a string");
        if (c == '\\') {
            if (r->p >= r->end)
                return bad(r, "unterminated escape");
            char e = *r->p++;
            switch (e) {
            case '"': case '\\': case '/': c = e; break;
            case 'b': c = '\b'; break;
            case 'f': c = '\f'; break;
            case 'n': c = '\n'; break;
            case 'r': c = '\r'; break;
            case 't': c = '\t'; break;
            case 'u': {
                unsigned v = 0;
                for (int i = 0; i < 4; i++, r->p++) {
                    if (r->p >= r->end)
                        return bad(r, "short \\u escape");
                    char h = *r->p;
                    int d = h >= '0' && h <= '9' ? h - '0' : h >= 'a' && h <= 'f' ? h - 'a' + 10
                            : h >= 'A' && h <= 'F' ? h - 'A' + 10 : -1;
                    if (d < 0)
                        return bad(r, "bad \\u escape");
                    v = v * 16 + (unsigned)d;
                }
                c = v < 0x80 ? (char)v : '?';
                break;
            }
            default:
                return bad(r, "bad escape");
            }
        }
        if (out && n + 1 < len)
            out[n++] = c;
    }
    if (r->p >= r->end)
        return bad(r, "unterminated string");
    r->p++;
    if (out && len)
        out[n] = '\0';
    return true;
}

static bool read_number(reader *r, double *out)
{
    const char *s = r->p;
    if (r->p < r->end && *r->p == '-')
        r->p++;
    if (r->p >= r->end || !(*r->p >= '0' && *r->p <= '9'))
        return bad(r, "expected a number");
    if (*r->p == '0')
        r->p++;
    else
        while (r->p < r->end && *r->p >= '0' && *r->p <= '9')
            r->p++;
    if (r->p < r->end && *r->p == '.') {
        r->p++;
        if (r->p >= r->end || !(*r->p >= '0' && *r->p <= '9'))
            return bad(r, "expected digits after '.'");
        while (r->p < r->end && *r->p >= '0' && *r->p <= '9')
            r->p++;
    }
    if (r->p < r->end && (*r->p == 'e' || *r->p == 'E')) {
        r->p++;
        if (r->p < r->end && (*r->p == '+' || *r->p == '-'))
            r->p++;
        if (r->p >= r->end || !(*r->p >= '0' && *r->p <= '9'))
            return bad(r, "expected an exponent");
        while (r->p < r->end && *r->p >= '0' && *r->p <= '9')
            r->p++;
    }
    char buf[64];
    size_t n = (size_t)(r->p - s);
    if (n >= sizeof(buf))
        return bad(r, "number too long");
    memcpy(buf, s, n);
    buf[n] = '\0';
    *out = strtod(buf, NULL);
    return true;
}

static bool skip_value(reader *r);

/* Object members, calling member(r, key, ctx) for each with the reader at the value; the
 * callback reads the value (or skips it). */
typedef bool (*member_fn)(reader *r, const char *key, void *ctx);

static bool read_object(reader *r, member_fn member, void *ctx)
{
    if (++r->depth > JSON_DEPTH_MAX)
        return bad(r, "nested too deeply");
    r->p++;                     /* '{' */
    skip_ws(r);
    if (r->p < r->end && *r->p == '}') {
        r->p++;
        r->depth--;
        return true;
    }
    for (;;) {
        char key[NAME_LEN];
        skip_ws(r);
        if (!read_string(r, key, sizeof(key)))
            return false;
        skip_ws(r);
        if (r->p >= r->end || *r->p != ':')
            return bad(r, "expected ':'");
        r->p++;
        skip_ws(r);
        if (!(member ? member(r, key, ctx) : skip_value(r)))
            return false;
        skip_ws(r);
        if (r->p < r->end && *r->p == ',') {
            r->p++;
            continue;
        }
        if (r->p < r->end && *r->p == '}') {
            r->p++;
            r->depth--;
            return true;
        }
        return bad(r, "expected ',' or '}'");
    }
}

typedef bool (*element_fn)(reader *r, void *ctx);

static bool read_array(reader *r, element_fn element, void *ctx)
{
    if (++r->depth > JSON_DEPTH_MAX)
        return bad(r, "nested too deeply");
    r->p++;                     /* '[' */
    skip_ws(r);
    if (r->p < r->end && *r->p == ']') {
        r->p++;
        r->depth--;
        return true;
    }
    for (;;) {
        skip_ws(r);
        if (!(element ? element(r, ctx) : skip_value(r)))
            return false;
        skip_ws(r);
        if (r->p < r->end && *r->p == ',') {
            r->p++;
            continue;
        }
        if (r->p < r->end && *r->p == ']') {
            r->p++;
            r->depth--;
            return true;
        }
        return bad(r, "expected ',' or ']'");
    }
}

static bool skip_value(reader *r)
{
    double d;
    if (r->p >= r->end)
        return bad(r, "unexpected end");
    switch (*r->p) {
    case '{': return read_object(r, NULL, NULL);
    case '[': return read_array(r, NULL, NULL);
    case '"': return read_string(r, NULL, 0);
    case 't': return literal(r, "true");
    case 'f': return literal(r, "false");
    case 'n': return literal(r, "null");
    default: return read_number(r, &d);
    }
}

/* ---- trace events ------------------------------------------------------------------------------ */

static bool arg_member(reader *r, const char *key, void *ctx)
{
    tev *e = ctx;
    if (strcmp(key, "name") == 0 && r->p < r->end && *r->p == '"')
        return read_string(r, e->arg_name, sizeof(e->arg_name));
    if (!e->has_value && r->p < r->end && (*r->p == '-' || (*r->p >= '0' && *r->p <= '9'))) {
        snprintf(e->arg_key, sizeof(e->arg_key), "%s", key);
        e->has_value = true;
        return read_number(r, &e->arg_value);
    }
    return skip_value(r);
}

static bool event_member(reader *r, const char *key, void *ctx)
{
    tev *e = ctx;
    double d;
    if (strcmp(key, "ph") == 0) {
        char ph[8];
        if (!read_string(r, ph, sizeof(ph)))
            return false;
        e->ph = ph[0];
        return true;
    }
    if (strcmp(key, "name") == 0)
        return read_string(r, e->name, sizeof(e->name));
    if (strcmp(key, "args") == 0 && r->p < r->end && *r->p == '{')
        return read_object(r, arg_member, e);
    if (strcmp(key, "pid") == 0 || strcmp(key, "tid") == 0 || strcmp(key, "ts") == 0 ||
        strcmp(key, "id") == 0) {
        if (r->p < r->end && *r->p == '"')
            return read_string(r, NULL, 0);    /* string ids: not ours, not drawn */
        if (!read_number(r, &d))
            return false;
        if (key[0] == 'p')
            e->pid = (int64_t)d;
        else if (key[0] == 't' && key[1] == 'i')
            e->tid = (int64_t)d;
        else if (key[0] == 't')
            e->ts = d;
        else {
            e->id = (uint64_t)d;
            e->has_id = true;
        }
        return true;
    }
    return skip_value(r);
}

static long find_lane(picture *pic, int64_t pid, int64_t tid, bool counter, const char *name)
{
    for (size_t i = 0; i < pic->nlanes; i++) {
        lane *l = &pic->lanes[i];
        if (l->pid == pid && l->counter == counter &&
            (counter ? strcmp(l->name, name) == 0 : l->tid == tid))
            return (long)i;
    }
    if (!grow((void **)&pic->lanes, &pic->lanes_cap, pic->nlanes + 1, sizeof(lane)))
        return -1;
    lane *l = &pic->lanes[pic->nlanes];
    memset(l, 0, sizeof(*l));
    l->pid = pid;
    l->tid = tid;
    l->counter = counter;
    if (counter)
        snprintf(l->name, sizeof(l->name), "%s", name);
    else
        snprintf(l->name, sizeof(l->name), "thread %" PRId64, tid);
    return (long)pic->nlanes++;
}

static bool add_point(picture *pic, unsigned lane_index, const tev *e)
{
    if (!grow((void **)&pic->points, &pic->points_cap, pic->npoints + 1, sizeof(point)))
        return false;
    pic->points[pic->npoints++] = (point){.lane = lane_index, .ts = e->ts, .id = e->id,
                                          .value = e->arg_value, .ph = e->ph};
    return true;
}

static void name_process(picture *pic, const tev *e)
{
    for (size_t i = 0; i < pic->nprocs; i++)
        if (pic->proc_pids[i] == e->pid) {
            snprintf(pic->procs[i], NAME_LEN, "%s", e->arg_name);
            return;
        }
    size_t cap = pic->procs_cap;
    if (!grow((void **)&pic->procs, &pic->procs_cap, pic->nprocs + 1, NAME_LEN) ||
        !grow((void **)&pic->proc_pids, &cap, pic->nprocs + 1, sizeof(int64_t)))
        return;
    pic->proc_pids[pic->nprocs] = e->pid;
    snprintf(pic->procs[pic->nprocs++], NAME_LEN, "%s", e->arg_name);
}

/* Spans: B pushes onto its lane's stack of open spans (kept in `open` as span indices),
 * E pops the lane's innermost; X is begin and end at once. */
static bool add_span(picture *pic, long li, const tev *e)
{
    lane *l = &pic->lanes[li];
    if (e->ph == 'E') {
        for (size_t i = pic->nopen; i-- > 0;)
            if (pic->spans[pic->open[i]].lane == (unsigned)li) {
                pic->spans[pic->open[i]].end = e->ts;
                memmove(&pic->open[i], &pic->open[i + 1], (pic->nopen - i - 1) * sizeof(size_t));
                pic->nopen--;
                l->depth--;
                return true;
            }
        return true;            /* an end without a begin: nothing to draw */
    }
    if (!grow((void **)&pic->spans, &pic->spans_cap, pic->nspans + 1, sizeof(span)) ||
        !grow((void **)&pic->open, &pic->open_cap, pic->nopen + 1, sizeof(size_t)))
        return false;
    span *s = &pic->spans[pic->nspans];
    *s = (span){.lane = (unsigned)li, .depth = l->depth, .start = e->ts, .end = e->ts};
    snprintf(s->name, sizeof(s->name), "%s", e->name);
    if (e->ph == 'B') {
        pic->open[pic->nopen++] = pic->nspans;
        l->depth++;
    }
    pic->nspans++;
    return true;
}

static bool take_event(picture *pic, const tev *e)
{
    if (e->ts > pic->tmax)
        pic->tmax = e->ts;
    if (e->ph == 'M') {
        if (strcmp(e->name, "process_name") == 0)
            name_process(pic, e);
        else if (strcmp(e->name, "thread_name") == 0) {
            long li = find_lane(pic, e->pid, e->tid, false, NULL);
            if (li >= 0)
                snprintf(pic->lanes[li].name, sizeof(pic->lanes[0].name), "%s", e->arg_name);
        }
        return true;
    }
    if (e->ph == 'C') {
        char name[2 * NAME_LEN + 4];
        snprintf(name, sizeof(name), "%s %s", e->name, e->arg_key);
        long li = find_lane(pic, e->pid, 0, true, name);
        if (li < 0)
            return false;
        if (e->arg_value > pic->lanes[li].cmax)
            pic->lanes[li].cmax = e->arg_value;
        return add_point(pic, (unsigned)li, e);
    }
    long li = find_lane(pic, e->pid, e->tid, false, NULL);
    if (li < 0)
        return false;
    switch (e->ph) {
    case 'B': case 'E': case 'X':
        return add_span(pic, li, e);
    case 'i': case 'I': case 's': case 't': case 'f':
        return add_point(pic, (unsigned)li, e);
    default:
        return true;            /* other phases are not drawn */
    }
}

typedef struct event_ctx {
    picture *pic;
    bool oom;
} event_ctx;

static bool event_element(reader *r, void *ctx)
{
    event_ctx *c = ctx;
    if (r->p >= r->end || *r->p != '{')
        return bad(r, "expected a trace event object");
    tev e;
    memset(&e, 0, sizeof(e));
    if (!read_object(r, event_member, &e))
        return false;
    if (!e.ph)
        return bad(r, "a trace event without \"ph\"");
    if (!take_event(c->pic, &e)) {
        c->oom = true;
        return bad(r, "out of memory");
    }
    return true;
}

static bool top_member(reader *r, const char *key, void *ctx)
{
    if (strcmp(key, "traceEvents") == 0) {
        if (r->p >= r->end || *r->p != '[')
            return bad(r, "\"traceEvents\" is not an array");
        return read_array(r, event_element, ctx);
    }
    return skip_value(r);
}

/* Parse the whole document: an object with "traceEvents", or a bare array of events. */
static bool parse_trace(reader *r, picture *pic)
{
    event_ctx c = {.pic = pic};
    skip_ws(r);
    bool ok;
    if (r->p < r->end && *r->p == '{')
        ok = read_object(r, top_member, &c);
    else if (r->p < r->end && *r->p == '[')
        ok = read_array(r, event_element, &c);
    else
        return bad(r, "not a JSON object or array");
    if (!ok)
        return false;
    skip_ws(r);
    if (r->p != r->end)
        return bad(r, "text after the JSON document");
    return true;
}

/* ---- drawing ------------------------------------------------------------------------------------ */

static void svg_text(FILE *f, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '&': fputs("&amp;", f); break;
        case '"': fputs("&quot;", f); break;
        default:
            if ((unsigned char)*s >= 0x20 && (unsigned char)*s < 0x7F)
                fputc(*s, f);
            else
                fputc('?', f);
        }
    }
}

static int by_track(const void *a, const void *b)
{
    const lane *x = a, *y = b;
    if (x->pid != y->pid)
        return x->pid < y->pid ? -1 : 1;
    if (x->counter != y->counter)
        return x->counter ? 1 : -1;
    if (x->tid != y->tid)
        return x->tid < y->tid ? -1 : 1;
    return strcmp(x->name, y->name);
}

static const char *span_color(const char *name)
{
    if (strcmp(name, "ISR") == 0)
        return "#d9534f";
    if (strcmp(name, "DPC") == 0)
        return "#f0ad4e";
    if (strncmp(name, "Evt", 3) == 0)
        return "#5bc0de";
    if (strcmp(name, "descriptor chain") == 0 || strcmp(name, "transfer") == 0)
        return "#5cb85c";
    return "#9b8ec4";
}

/* Lanes sorted by (pid, spans before counters, tid); the spans' and points' lane indices
 * follow through `order`. */
static unsigned *sort_lanes(picture *pic)
{
    unsigned *order = malloc((pic->nlanes ? pic->nlanes : 1) * sizeof(unsigned));
    lane *sorted = malloc((pic->nlanes ? pic->nlanes : 1) * sizeof(lane));
    if (!order || !sorted) {
        free(order);
        free(sorted);
        return NULL;
    }
    memcpy(sorted, pic->lanes, pic->nlanes * sizeof(lane));
    qsort(sorted, pic->nlanes, sizeof(lane), by_track);
    for (size_t i = 0; i < pic->nlanes; i++)
        for (size_t k = 0; k < pic->nlanes; k++)
            if (sorted[k].pid == pic->lanes[i].pid && sorted[k].tid == pic->lanes[i].tid &&
                sorted[k].counter == pic->lanes[i].counter &&
                strcmp(sorted[k].name, pic->lanes[i].name) == 0) {
                order[i] = (unsigned)k;
                break;
            }
    memcpy(pic->lanes, sorted, pic->nlanes * sizeof(lane));
    free(sorted);
    return order;
}

static const char *process_name(const picture *pic, int64_t pid)
{
    for (size_t i = 0; i < pic->nprocs; i++)
        if (pic->proc_pids[i] == pid)
            return pic->procs[i];
    return "process";
}

typedef struct geometry {
    double scale;              /* px per microsecond */
    double *lane_y;
} geometry;

static double xpos(const geometry *g, double ts)
{
    return LABEL_WIDTH + ts * g->scale;
}

static void draw_lanes(FILE *f, const picture *pic, geometry *g, double *height)
{
    double y = TOP;
    int64_t pid = INT64_MIN;
    for (size_t i = 0; i < pic->nlanes; i++) {
        const lane *l = &pic->lanes[i];
        if (l->pid != pid) {
            pid = l->pid;
            y += 8;
            fprintf(f, "<text class=\"process\" x=\"4\" y=\"%.1f\">", y + 12);
            svg_text(f, process_name(pic, pid));
            fputs("</text>\n", f);
            y += 18;
        }
        g->lane_y[i] = y;
        fprintf(f, "<g class=\"lane\" data-pid=\"%" PRId64 "\" data-tid=\"%" PRId64 "\">"
                "<rect x=\"0\" y=\"%.1f\" width=\"%.0f\" height=\"%.0f\" fill=\"%s\"/>"
                "<text class=\"label\" x=\"12\" y=\"%.1f\">", l->pid, l->tid, y, SVG_WIDTH,
                LANE_HEIGHT, i % 2 ? "#f7f7f7" : "#ffffff", y + 15);
        svg_text(f, l->name);
        fputs("</text></g>\n", f);
        y += LANE_HEIGHT;
    }
    *height = y + 20;
}

static void draw_spans(FILE *f, const picture *pic, const unsigned *order, const geometry *g)
{
    for (size_t i = 0; i < pic->nspans; i++) {
        const span *s = &pic->spans[i];
        unsigned depth = s->depth < 5 ? s->depth : 5;
        double x = xpos(g, s->start), w = (s->end - s->start) * g->scale;
        double y = g->lane_y[order[s->lane]] + 2 + 2.0 * depth;
        fprintf(f, "<rect class=\"span\" x=\"%.2f\" y=\"%.1f\" width=\"%.2f\" height=\"%.1f\" "
                "fill=\"%s\"><title>", x, y, w < 0.5 ? 0.5 : w, LANE_HEIGHT - 4 - 4.0 * depth,
                span_color(s->name));
        svg_text(f, s->name);
        fprintf(f, " %.3f us</title></rect>\n", s->end - s->start);
    }
}

/* Flow steps join the previous step of the same id; instants are ticks; counters are
 * step lines scaled to their lane's largest value. */
static void draw_points(FILE *f, const picture *pic, const unsigned *order, const geometry *g)
{
    for (size_t i = 0; i < pic->npoints; i++) {
        const point *p = &pic->points[i];
        double x = xpos(g, p->ts), y = g->lane_y[order[p->lane]];
        if (p->ph == 'i' || p->ph == 'I') {
            fprintf(f, "<line class=\"instant\" x1=\"%.2f\" y1=\"%.1f\" x2=\"%.2f\" "
                    "y2=\"%.1f\" stroke=\"#555\" stroke-width=\"0.5\"/>\n", x, y + 3, x,
                    y + LANE_HEIGHT - 3);
        } else if (p->ph == 'C') {
            const lane *l = &pic->lanes[order[p->lane]];
            double h = l->cmax > 0 ? (LANE_HEIGHT - 4) * p->value / l->cmax : 0;
            fprintf(f, "<rect class=\"counter\" x=\"%.2f\" y=\"%.1f\" width=\"1\" "
                    "height=\"%.1f\" fill=\"#337ab7\"/>\n", x, y + LANE_HEIGHT - 2 - h, h);
        } else if (p->ph == 't' || p->ph == 'f') {
            for (size_t k = i; k-- > 0;) {
                const point *q = &pic->points[k];
                if ((q->ph == 's' || q->ph == 't') && q->id == p->id) {
                    fprintf(f, "<line class=\"flow\" x1=\"%.2f\" y1=\"%.1f\" x2=\"%.2f\" "
                            "y2=\"%.1f\" stroke=\"#c9302c\" stroke-width=\"0.7\"/>\n",
                            xpos(g, q->ts), g->lane_y[order[q->lane]] + LANE_HEIGHT / 2, x,
                            y + LANE_HEIGHT / 2);
                    break;
                }
            }
        }
    }
}

static int draw(FILE *f, picture *pic)
{
    unsigned *order = sort_lanes(pic);
    geometry g = {.lane_y = calloc(pic->nlanes ? pic->nlanes : 1, sizeof(double))};
    if (!order || !g.lane_y) {
        free(order);
        free(g.lane_y);
        return -1;
    }
    g.scale = (SVG_WIDTH - LABEL_WIDTH - 20) / (pic->tmax > 0 ? pic->tmax : 1);
    double height = TOP + 20 + LANE_HEIGHT * (double)pic->nlanes + 26.0 * (double)pic->nprocs;
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
            "viewBox=\"0 0 %.0f %.0f\" font-family=\"sans-serif\" font-size=\"11\">\n"
            "<style>.process{font-weight:bold;font-size:12px}.label{fill:#333}</style>\n"
            "<text x=\"4\" y=\"16\" font-size=\"14\">wdfdma trace: %zu tracks, %zu spans, "
            "0 .. %.3f us</text>\n", SVG_WIDTH, height, SVG_WIDTH, height, pic->nlanes,
            pic->nspans, pic->tmax);
    double used;
    draw_lanes(f, pic, &g, &used);
    draw_spans(f, pic, order, &g);
    draw_points(f, pic, order, &g);
    fputs("</svg>\n", f);
    free(order);
    free(g.lane_y);
    return 0;
}

/* ---- the command ------------------------------------------------------------------------------- */

static char *read_file(const char *path, size_t *len, char *err, size_t err_len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, err_len, "trace %s: %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        n += fread(buf + n, 1, cap - n, f);
        if (n < cap)
            break;
        char *more = realloc(buf, cap * 2);
        if (!more) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = more;
        cap *= 2;
    }
    bool failed = ferror(f);
    fclose(f);
    if (!buf || failed) {
        snprintf(err, err_len, "trace %s: %s", path, buf ? "read error" : "out of memory");
        free(buf);
        return NULL;
    }
    *len = n;
    return buf;
}

static void free_picture(picture *pic)
{
    free(pic->lanes);
    free(pic->spans);
    free(pic->points);
    free(pic->procs);
    free(pic->proc_pids);
    free(pic->open);
}

static int usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("wdfdma: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return CLI_USAGE;
}

int cli_trace_command(int argc, char **argv)
{
    const char *in = NULL, *out = NULL;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf("usage: wdfdma trace FILE --svg OUT.svg\n\n"
                   "Draws FILE, written by 'wdfdma run --trace FILE', as an SVG timeline: a\n"
                   "lane per processor, device, DMA channel and counter, spans as boxes,\n"
                   "flows as lines.\n");
            return 0;
        }
        if (strcmp(argv[i], "--svg") == 0) {
            if (i + 1 >= argc)
                return usage("--svg needs a value");
            if (out)
                return usage("--svg given twice");
            out = argv[++i];
        } else if (argv[i][0] == '-') {
            return usage("unknown option '%s' for 'wdfdma trace'", argv[i]);
        } else if (in) {
            return usage("unexpected argument '%s' (one trace file)", argv[i]);
        } else {
            in = argv[i];
        }
    }
    if (!in)
        return usage("trace needs a trace FILE (written by 'wdfdma run --trace FILE')");
    if (!out)
        return usage("trace needs --svg OUT.svg (the only output there is)");
    char err[CLI_ERR_LEN];
    size_t len = 0;
    char *text = read_file(in, &len, err, sizeof(err));
    if (!text)
        return usage("%s", err);
    reader r = {.p = text, .start = text, .end = text + len};
    picture pic;
    memset(&pic, 0, sizeof(pic));
    if (!parse_trace(&r, &pic)) {
        free(text);
        free_picture(&pic);
        return usage("trace %s: not a trace-event JSON file: %s", in, r.err);
    }
    free(text);
    FILE *f = fopen(out, "w");
    if (!f) {
        free_picture(&pic);
        return usage("--svg %s: %s", out, strerror(errno));
    }
    int rc = draw(f, &pic);
    if (ferror(f) || fclose(f) != 0 || rc != 0) {
        free_picture(&pic);
        fprintf(stderr, "wdfdma: --svg %s: writing failed\n", out);
        return 1;
    }
    printf("trace: %zu tracks, %zu spans, %zu points -> %s\n", pic.nlanes, pic.nspans,
           pic.npoints, out);
    free_picture(&pic);
    return 0;
}
