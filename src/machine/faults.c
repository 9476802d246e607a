/*
 * Fault plans: the parser of the fault-spec language (docs/faults.md) and the decision
 * engine the machine's fault points ask.
 *
 * Fault points (who asks, with which kind):
 *   device models, through wdfdma_dev_fault      dma-error short lost-irq spurious-irq
 *                                                dup-irq late-irq (the model decides
 *                                                what the fault means for its hardware)
 *   the same device decision points, here        surprise-remove power-down cancel
 *   the HAL, through mach_fault_fire             map-exhaust (allocation of map
 *                                                registers), cb-fail (common buffers)
 *   the pool, through mach_fault_fire            pool-fail (ExAllocatePool*, MDLs, IRPs)
 *
 * A decision, per clause of the asked kind whose device filter matches:
 *
 *   asked++ ──asked <= after──> no
 *           ──count reached────> no
 *           ──trigger(n = asked - after)──> p: draw < p;  every: n % N == 0;  nth: n == N
 *
 * The kind fires when any of its clauses fires. Every clause is evaluated on every ask
 * (none short-circuits another), so the draws from the plan's PRNG, and with them the
 * whole run, depend only on the seed and the sequence of asks.
 *
 * The PRNG is the machine's generator (xoshiro256**) in a stream of its own, seeded from
 * the machine's seed when the plan is installed: adding a "cb-fail" clause does not move
 * the event tie-breaks and preemption points of the rest of the run.
 *
 * Actions. dma-error ... late-irq, map-exhaust, pool-fail and cb-fail are answers: the
 * asker acts on "true". surprise-remove, power-down and cancel are carried out here:
 * surprise-remove pulls the hardware at once (the model's next access already sees an
 * absent device); telling PnP, the D3/D0 cycle and the cancellation need the framework
 * at PASSIVE_LEVEL, so they go to a work item that calls the handler the upper layer
 * registered (mach_fault_set_action_handler, wdfdma_machine_set_cancel_hook). Work items
 * not yet run when the machine goes are freed with the fault state, after the engine
 * has stopped.
 *
 * Locking: one mutex per machine (threads engine), a leaf: nothing else is taken while
 * it is held; trace records and work items are made after it is released.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "machine/machine_priv.h"
#include "wdfdma/faults.h"

#define FAULT_MAX_CLAUSES 32u
#define FAULT_DEVICE_MAX 63u                 /* as device names (device.c) */
#define FAULT_SPEC_MAX 4096u
#define FAULT_PPB 1000000000ull              /* probabilities in parts per billion */
#define FAULT_PROB_DIGITS 9u
#define FAULT_SEED_SALT 0x6661756C74706C6Eull /* "faultpln": the plan's own PRNG stream */

typedef enum fault_trigger { TRIG_P = 1, TRIG_EVERY, TRIG_NTH } fault_trigger;

typedef struct fault_clause {
    wdfdma_fault_kind kind;
    fault_trigger trigger;
    uint64_t value;                 /* p: parts per billion; every / nth: N >= 1 */
    uint64_t after;                 /* asks skipped before the trigger counts */
    uint64_t count;                 /* most firings; 0 = no limit */
    char device[FAULT_DEVICE_MAX + 1]; /* "" = every device */
    /* runtime, in the machine's copy only */
    uint64_t asked, fired;
} fault_clause;

struct wdfdma_fault_plan {
    unsigned n;
    fault_clause c[FAULT_MAX_CLAUSES];
};

/* A deferred action: on a PASSIVE_LEVEL work item, and on the pending list until it ran. */
typedef struct fault_action {
    mach_work work;                 /* first: the work callback gets this pointer */
    wdfdma_machine *m;
    wdfdma_dev *dev;
    wdfdma_fault_kind kind;
    uint64_t random;
    struct fault_action *next;
} fault_action;

struct mach_faults {
    pthread_mutex_t lock;
    wdfdma_fault_plan *plan;        /* the machine's copy, NULL = none */
    bool device_actions;            /* the plan has surprise-remove/power-down/cancel */
    mach_rng rng;
    uint64_t asked[WDFDMA_FAULT_KINDS], fired[WDFDMA_FAULT_KINDS];
    mach_fault_action_fn action_fn;
    void *action_ctx;
    wdfdma_fault_cancel_hook cancel_fn;
    void *cancel_ctx;
    fault_action *pending;
};

static const char *const kind_names[WDFDMA_FAULT_KINDS] = {
    [WDFDMA_FAULT_DMA_ERROR] = "dma-error",
    [WDFDMA_FAULT_SHORT] = "short",
    [WDFDMA_FAULT_LOST_IRQ] = "lost-irq",
    [WDFDMA_FAULT_SPURIOUS_IRQ] = "spurious-irq",
    [WDFDMA_FAULT_DUP_IRQ] = "dup-irq",
    [WDFDMA_FAULT_LATE_IRQ] = "late-irq",
    [WDFDMA_FAULT_MAP_EXHAUST] = "map-exhaust",
    [WDFDMA_FAULT_POOL_FAIL] = "pool-fail",
    [WDFDMA_FAULT_CB_FAIL] = "cb-fail",
    [WDFDMA_FAULT_SURPRISE_REMOVE] = "surprise-remove",
    [WDFDMA_FAULT_POWER_DOWN] = "power-down",
    [WDFDMA_FAULT_CANCEL] = "cancel",
};

/* Trace record names: string literals, because the trace keeps the pointer. */
static const char *const trace_names[WDFDMA_FAULT_KINDS] = {
    [WDFDMA_FAULT_DMA_ERROR] = "fault:dma-error",
    [WDFDMA_FAULT_SHORT] = "fault:short",
    [WDFDMA_FAULT_LOST_IRQ] = "fault:lost-irq",
    [WDFDMA_FAULT_SPURIOUS_IRQ] = "fault:spurious-irq",
    [WDFDMA_FAULT_DUP_IRQ] = "fault:dup-irq",
    [WDFDMA_FAULT_LATE_IRQ] = "fault:late-irq",
    [WDFDMA_FAULT_MAP_EXHAUST] = "fault:map-exhaust",
    [WDFDMA_FAULT_POOL_FAIL] = "fault:pool-fail",
    [WDFDMA_FAULT_CB_FAIL] = "fault:cb-fail",
    [WDFDMA_FAULT_SURPRISE_REMOVE] = "fault:surprise-remove",
    [WDFDMA_FAULT_POWER_DOWN] = "fault:power-down",
    [WDFDMA_FAULT_CANCEL] = "fault:cancel",
};

const char *wdfdma_fault_kind_name(wdfdma_fault_kind kind)
{
    return (unsigned)kind < WDFDMA_FAULT_KINDS ? kind_names[kind] : NULL;
}

int wdfdma_fault_kind_from_name(const char *name)
{
    if (name == NULL)
        return -1;
    for (unsigned k = 0; k < WDFDMA_FAULT_KINDS; k++)
        if (strcmp(kind_names[k], name) == 0)
            return (int)k;
    return -1;
}

/* Kinds that act at a device decision point, not answer a question. */
static bool is_device_action(wdfdma_fault_kind k)
{
    return k == WDFDMA_FAULT_SURPRISE_REMOVE || k == WDFDMA_FAULT_POWER_DOWN ||
           k == WDFDMA_FAULT_CANCEL;
}

/* ---- parser ------------------------------------------------------------------------- */
/* A token is [p, p+len) of the spec; messages quote it so the user sees what was wrong.
 * Quoted text is cut at 80 bytes and control or non-ASCII bytes become \xNN, so the
 * message stays one printable line whatever the input. */
static const char *quote(const char *tok, size_t len, char *buf, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < len && i < 80 && o + 5 < cap; i++) {
        unsigned char c = (unsigned char)tok[i];
        if (c >= 0x20 && c < 0x7F)
            buf[o++] = (char)c;
        else
            o += (size_t)snprintf(buf + o, cap - o, "\\x%02X", c);
    }
    buf[o] = 0;
    return buf;
}

static int spec_error(const char *what, const char *tok, size_t len)
{
    char q[400];
    return mach_error(EINVAL, "fault spec: %s '%s'", what, quote(tok, len, q, sizeof(q)));
}

static bool token_is(const char *tok, size_t len, const char *word)
{
    return strlen(word) == len && memcmp(tok, word, len) == 0;
}

/* Decimal digits only, no sign, no overflow, at least one digit. */
static bool parse_u64(const char *s, size_t len, uint64_t *out)
{
    if (len == 0)
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

/* PROB := digits [ "." 1..9 digits ], 0 <= PROB <= 1, kept in parts per billion. */
static bool parse_prob(const char *s, size_t len, uint64_t *ppb)
{
    const char *dot = memchr(s, '.', len);
    size_t ilen = dot ? (size_t)(dot - s) : len;
    uint64_t ip;
    if (!parse_u64(s, ilen, &ip) || ilen > 10 || ip > 1)
        return false;
    uint64_t frac = 0;
    if (dot) {
        size_t flen = len - ilen - 1;
        if (flen == 0 || flen > FAULT_PROB_DIGITS || !parse_u64(dot + 1, flen, &frac))
            return false;
        for (size_t i = flen; i < FAULT_PROB_DIGITS; i++)
            frac *= 10;
    }
    uint64_t v = ip * FAULT_PPB + frac;
    if (v > FAULT_PPB)
        return false;
    *ppb = v;
    return true;
}

static bool valid_device_name(const char *s, size_t len)
{
    if (len == 0 || len > FAULT_DEVICE_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '.'))
            return false;
    }
    return true;
}

static void list_kinds(char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = 0;
    for (unsigned k = 0; k < WDFDMA_FAULT_KINDS && used < len; k++)
        used += (size_t)snprintf(buf + used, len - used, "%s%s", k ? " " : "", kind_names[k]);
}

/* option := name "=" value; `seen` has one bit per option name. */
static int parse_option(fault_clause *c, const char *tok, size_t len, unsigned *seen)
{
    const char *eq = memchr(tok, '=', len);
    if (eq == NULL)
        return spec_error("option is not name=value:", tok, len);
    size_t nlen = (size_t)(eq - tok);
    const char *val = eq + 1;
    size_t vlen = len - nlen - 1;
    static const char *const names[] = {"p", "every", "nth", "after", "count", "device"};
    unsigned which = 0;
    while (which < 6 && !token_is(tok, nlen, names[which]))
        which++;
    if (which == 6)
        return spec_error("unknown option (known: p every nth after count device):", tok, len);
    if (*seen & (1u << which))
        return spec_error("option given twice:", tok, len);
    *seen |= 1u << which;
    if (which <= 2 && c->trigger != 0)
        return spec_error("a clause takes one of p=, every=, nth=; second trigger", tok, len);
    switch (which) {
    case 0:
        if (!parse_prob(val, vlen, &c->value))
            return spec_error("probability must be 0..1 with at most 9 decimals:", tok, len);
        c->trigger = TRIG_P;
        return 0;
    case 1:
    case 2:
        if (!parse_u64(val, vlen, &c->value) || c->value == 0)
            return spec_error("count must be a decimal integer >= 1:", tok, len);
        c->trigger = which == 1 ? TRIG_EVERY : TRIG_NTH;
        return 0;
    case 3:
        if (!parse_u64(val, vlen, &c->after))
            return spec_error("after must be a decimal integer >= 0:", tok, len);
        return 0;
    case 4:
        if (!parse_u64(val, vlen, &c->count) || c->count == 0)
            return spec_error("count must be a decimal integer >= 1:", tok, len);
        return 0;
    default:
        if (!valid_device_name(val, vlen))
            return spec_error("device must be a device name (1..63 of A-Z a-z 0-9 _ . -):",
                              tok, len);
        if (c->kind == WDFDMA_FAULT_POOL_FAIL)
            return spec_error("pool-fail has no device (pool allocations are machine-wide):",
                              tok, len);
        memcpy(c->device, val, vlen);
        c->device[vlen] = 0;
        return 0;
    }
}

static int parse_clause(fault_clause *c, const char *tok, size_t len)
{
    memset(c, 0, sizeof(*c));
    const char *colon = memchr(tok, ':', len);
    size_t klen = colon ? (size_t)(colon - tok) : len;
    int k = -1;
    for (unsigned i = 0; i < WDFDMA_FAULT_KINDS && k < 0; i++)
        if (token_is(tok, klen, kind_names[i]))
            k = (int)i;
    if (k < 0) {
        char known[256];
        list_kinds(known, sizeof(known));
        char q[400];
        return mach_error(EINVAL, "fault spec: unknown fault kind '%s' (known: %s)",
                          quote(tok, klen, q, sizeof(q)), known);
    }
    c->kind = (wdfdma_fault_kind)k;
    unsigned seen = 0;
    const char *p = colon ? colon + 1 : tok + len, *end = tok + len;
    if (colon && p == end)
        return spec_error("empty option after", tok, len);
    while (colon && p <= end) {
        const char *next = memchr(p, ':', (size_t)(end - p));
        size_t olen = next ? (size_t)(next - p) : (size_t)(end - p);
        if (olen == 0)
            return spec_error("empty option in", tok, len);
        int rc = parse_option(c, p, olen, &seen);
        if (rc)
            return rc;
        if (!next)
            break;
        p = next + 1;
        if (p == end)
            return spec_error("empty option in", tok, len);
    }
    if (c->trigger == 0)
        return spec_error("clause needs a trigger (p=, every= or nth=):", tok, len);
    return 0;
}

int wdfdma_fault_plan_parse(const char *spec, wdfdma_fault_plan **out)
{
    if (out == NULL)
        return mach_error(EINVAL, "fault spec: out is NULL");
    *out = NULL;
    if (spec == NULL)
        return mach_error(EINVAL, "fault spec: spec is NULL");
    size_t total = strnlen(spec, FAULT_SPEC_MAX + 1);
    if (total == 0)
        return mach_error(EINVAL, "fault spec: empty (use \"none\" for no faults)");
    if (total > FAULT_SPEC_MAX)
        return mach_error(EINVAL, "fault spec: longer than %u characters", FAULT_SPEC_MAX);
    wdfdma_fault_plan *plan = calloc(1, sizeof(*plan));
    if (plan == NULL)
        return mach_error(ENOMEM, "fault spec: out of memory");
    if (strcmp(spec, "none") == 0) {
        *out = plan;
        return 0;
    }
    const char *p = spec, *end = spec + total;
    int rc = 0;
    for (;;) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        size_t clen = comma ? (size_t)(comma - p) : (size_t)(end - p);
        char q[400];
        if (clen == 0) {
            rc = mach_error(EINVAL, "fault spec: empty clause at offset %zu of '%s'",
                            (size_t)(p - spec), quote(spec, total, q, sizeof(q)));
            break;
        }
        if (plan->n == FAULT_MAX_CLAUSES) {
            rc = mach_error(EINVAL, "fault spec: more than %u clauses at '%s'",
                            FAULT_MAX_CLAUSES, quote(p, clen, q, sizeof(q)));
            break;
        }
        rc = parse_clause(&plan->c[plan->n], p, clen);
        if (rc)
            break;
        plan->n++;
        if (!comma)
            break;
        p = comma + 1;
    }
    if (rc) {
        free(plan);
        return rc;
    }
    *out = plan;
    return 0;
}

void wdfdma_fault_plan_free(wdfdma_fault_plan *plan)
{
    free(plan);
}

unsigned wdfdma_fault_plan_clauses(const wdfdma_fault_plan *plan)
{
    return plan ? plan->n : 0;
}

/* snprintf that keeps counting past the end of the buffer. */
static void put(char *buf, size_t len, size_t *used, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void put(char *buf, size_t len, size_t *used, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(*used < len ? buf + *used : NULL, *used < len ? len - *used : 0, fmt, ap);
    va_end(ap);
    if (n > 0)
        *used += (size_t)n;
}

int wdfdma_fault_plan_format(const wdfdma_fault_plan *plan, char *buf, size_t len)
{
    if (plan == NULL)
        return mach_error(EINVAL, "fault plan format: plan is NULL");
    if (buf == NULL && len != 0)
        return mach_error(EINVAL, "fault plan format: buffer is NULL");
    if (len)
        buf[0] = 0;
    size_t used = 0;
    if (plan->n == 0)
        put(buf, len, &used, "none");
    for (unsigned i = 0; i < plan->n; i++) {
        const fault_clause *c = &plan->c[i];
        put(buf, len, &used, "%s%s", i ? "," : "", kind_names[c->kind]);
        if (c->trigger == TRIG_P) {
            /* The shortest decimal: 0.010000000 -> 0.01, 1.000000000 -> 1. */
            char frac[FAULT_PROB_DIGITS + 1];
            snprintf(frac, sizeof(frac), "%09llu", (unsigned long long)(c->value % FAULT_PPB));
            size_t fl = FAULT_PROB_DIGITS;
            while (fl > 0 && frac[fl - 1] == '0')
                frac[--fl] = 0;
            put(buf, len, &used, ":p=%llu%s%s", (unsigned long long)(c->value / FAULT_PPB),
                fl ? "." : "", frac);
        } else {
            put(buf, len, &used, ":%s=%llu", c->trigger == TRIG_EVERY ? "every" : "nth",
                (unsigned long long)c->value);
        }
        if (c->after)
            put(buf, len, &used, ":after=%llu", (unsigned long long)c->after);
        if (c->count)
            put(buf, len, &used, ":count=%llu", (unsigned long long)c->count);
        if (c->device[0])
            put(buf, len, &used, ":device=%s", c->device);
    }
    if (used > INT32_MAX)
        return mach_error(EOVERFLOW, "fault plan format: text too long");
    return (int)used;
}

/* ---- the machine's state -------------------------------------------------------------- */
static struct mach_faults *faults_of(wdfdma_machine *m)
{
    return __atomic_load_n(&m->faults, __ATOMIC_ACQUIRE);
}

/* The state, created on first use (host threads may race to create it). */
static struct mach_faults *faults_get(wdfdma_machine *m)
{
    static pthread_mutex_t create_lock = PTHREAD_MUTEX_INITIALIZER;
    struct mach_faults *f = faults_of(m);
    if (f != NULL)
        return f;
    pthread_mutex_lock(&create_lock);
    f = faults_of(m);
    if (f == NULL && (f = calloc(1, sizeof(*f))) != NULL) {
        pthread_mutex_init(&f->lock, NULL);
        __atomic_store_n(&m->faults, f, __ATOMIC_RELEASE);
    }
    pthread_mutex_unlock(&create_lock);
    return f;
}

int wdfdma_machine_set_fault_plan(wdfdma_machine *m, const wdfdma_fault_plan *plan)
{
    if (m == NULL)
        return mach_error(EINVAL, "set_fault_plan: machine is NULL");
    struct mach_faults *f = faults_get(m);
    if (f == NULL)
        return mach_error(ENOMEM, "set_fault_plan: out of memory");
    wdfdma_fault_plan *copy = NULL;
    if (plan != NULL) {
        copy = malloc(sizeof(*copy));
        if (copy == NULL)
            return mach_error(ENOMEM, "set_fault_plan: out of memory");
        *copy = *plan;
        for (unsigned i = 0; i < copy->n; i++)
            copy->c[i].asked = copy->c[i].fired = 0;
    }
    bool actions = false;
    for (unsigned i = 0; copy != NULL && i < copy->n; i++)
        actions |= is_device_action(copy->c[i].kind);
    pthread_mutex_lock(&f->lock);
    wdfdma_fault_plan *old = f->plan;
    /* Atomic stores: the fast paths peek at these without the lock. */
    __atomic_store_n(&f->plan, copy, __ATOMIC_RELEASE);
    __atomic_store_n(&f->device_actions, actions, __ATOMIC_RELEASE);
    mach_rng_seed(&f->rng, m->cfg.seed ^ FAULT_SEED_SALT);
    memset(f->asked, 0, sizeof(f->asked));
    memset(f->fired, 0, sizeof(f->fired));
    pthread_mutex_unlock(&f->lock);
    free(old);
    return 0;
}

int wdfdma_machine_get_fault_stats(wdfdma_machine *m, wdfdma_fault_stats *out)
{
    if (m == NULL)
        return mach_error(EINVAL, "get_fault_stats: machine is NULL");
    if (out == NULL)
        return mach_error(EINVAL, "get_fault_stats: out is NULL");
    memset(out, 0, sizeof(*out));
    struct mach_faults *f = faults_of(m);
    if (f == NULL)
        return 0;
    pthread_mutex_lock(&f->lock);
    memcpy(out->asked, f->asked, sizeof(out->asked));
    memcpy(out->fired, f->fired, sizeof(out->fired));
    pthread_mutex_unlock(&f->lock);
    return 0;
}

void wdfdma_machine_set_cancel_hook(wdfdma_machine *m, wdfdma_fault_cancel_hook hook, void *ctx)
{
    struct mach_faults *f = m ? faults_get(m) : NULL;
    if (f == NULL)
        return;
    pthread_mutex_lock(&f->lock);
    f->cancel_fn = hook;
    f->cancel_ctx = ctx;
    pthread_mutex_unlock(&f->lock);
}

void mach_fault_set_action_handler(wdfdma_machine *m, mach_fault_action_fn fn, void *ctx)
{
    struct mach_faults *f = m ? faults_get(m) : NULL;
    if (f == NULL)
        return;
    pthread_mutex_lock(&f->lock);
    f->action_fn = fn;
    f->action_ctx = ctx;
    pthread_mutex_unlock(&f->lock);
}

/* ---- decisions ------------------------------------------------------------------------ */
static bool clause_fires(struct mach_faults *f, fault_clause *c, const wdfdma_dev *dev)
{
    if (c->device[0] && (dev == NULL || strcmp(dev->name, c->device) != 0))
        return false;
    c->asked++;
    if (c->asked <= c->after)
        return false;
    if (c->count != 0 && c->fired >= c->count)
        return false;
    uint64_t n = c->asked - c->after;
    bool hit;
    switch (c->trigger) {
    case TRIG_P:
        hit = mach_rng_next(&f->rng) % FAULT_PPB < c->value;
        break;
    case TRIG_EVERY:
        hit = n % c->value == 0;
        break;
    default:
        hit = n == c->value;
        break;
    }
    if (hit)
        c->fired++;
    return hit;
}

/* Decide `kind` for `dev`; *random gets a fresh draw for the actions that need one. */
static bool decide(wdfdma_machine *m, struct mach_faults *f, wdfdma_fault_kind kind,
                   wdfdma_dev *dev, uint64_t *random)
{
    bool fired = false;
    uint64_t total = 0;
    pthread_mutex_lock(&f->lock);
    if (f->plan == NULL) {
        pthread_mutex_unlock(&f->lock);
        return false;
    }
    f->asked[kind]++;
    for (unsigned i = 0; i < f->plan->n; i++)
        if (f->plan->c[i].kind == kind && clause_fires(f, &f->plan->c[i], dev))
            fired = true;
    if (fired) {
        total = ++f->fired[kind];
        if (random != NULL)
            *random = mach_rng_next(&f->rng);
    }
    pthread_mutex_unlock(&f->lock);
    if (fired)
        mach_trace(m, WDFDMA_TR_NOTE, dev ? dev->id : 0, trace_names[kind], kind, total);
    return fired;
}

bool mach_fault_fire(wdfdma_machine *m, const char *kind, wdfdma_dev *dev)
{
    struct mach_faults *f = m ? faults_of(m) : NULL;
    if (f == NULL || __atomic_load_n(&f->plan, __ATOMIC_RELAXED) == NULL || kind == NULL)
        return false;
    int k = wdfdma_fault_kind_from_name(kind);
    if (k < 0)
        return false;
    return decide(m, f, (wdfdma_fault_kind)k, dev, NULL);
}

/* ---- device-level actions --------------------------------------------------------------- */
static void action_unlink(struct mach_faults *f, fault_action *a)
{
    for (fault_action **p = &f->pending; *p != NULL; p = &(*p)->next) {
        if (*p == a) {
            *p = a->next;
            return;
        }
    }
}

/* PASSIVE_LEVEL, on a work item: hand the action to whoever registered for it. */
static void action_run(mach_work *w)
{
    fault_action *a = (fault_action *)(void *)w;
    wdfdma_machine *m = a->m;
    struct mach_faults *f = faults_of(m);
    pthread_mutex_lock(&f->lock);
    action_unlink(f, a);
    mach_fault_action_fn act = f->action_fn;
    void *act_ctx = f->action_ctx;
    wdfdma_fault_cancel_hook cancel = f->cancel_fn;
    void *cancel_ctx = f->cancel_ctx;
    pthread_mutex_unlock(&f->lock);
    bool delivered = false;
    switch (a->kind) {
    case WDFDMA_FAULT_SURPRISE_REMOVE:
        if (act != NULL) {
            act(act_ctx, a->dev, MACH_FAULT_ACT_SURPRISE_REMOVE);
            delivered = true;
        }
        break;
    case WDFDMA_FAULT_POWER_DOWN:
        if (act != NULL) {
            act(act_ctx, a->dev, MACH_FAULT_ACT_POWER_DOWN);
            delivered = true;
        }
        break;
    default:
        delivered = cancel != NULL && cancel(cancel_ctx, a->dev, a->random);
        break;
    }
    /* The trace says whether anyone acted: a cancel with nothing outstanding is a no-op. */
    mach_trace(m, WDFDMA_TR_NOTE, a->dev->id, delivered ? "fault:action-done" : "fault:action-none",
               a->kind, 0);
    free(a);
}

static void action_queue(wdfdma_machine *m, struct mach_faults *f, wdfdma_dev *dev,
                         wdfdma_fault_kind kind, uint64_t random)
{
    fault_action *a = calloc(1, sizeof(*a));
    if (a == NULL) {
        mach_report(m, "fault", "out of host memory queueing fault '%s' for device '%s'",
                    kind_names[kind], dev->name);
        return;
    }
    a->work.fn = action_run;
    a->m = m;
    a->dev = dev;
    a->kind = kind;
    a->random = random;
    pthread_mutex_lock(&f->lock);
    a->next = f->pending;
    f->pending = a;
    pthread_mutex_unlock(&f->lock);
    mach_work_queue(m, &a->work);
}

bool mach_faults_device_ask(wdfdma_dev *dev, const char *kind)
{
    wdfdma_machine *m = dev->m;
    struct mach_faults *f = faults_of(m);
    if (f == NULL || __atomic_load_n(&f->plan, __ATOMIC_RELAXED) == NULL)
        return false;
    int k = wdfdma_fault_kind_from_name(kind);
    bool fired = k >= 0 && !is_device_action((wdfdma_fault_kind)k) &&
                 decide(m, f, (wdfdma_fault_kind)k, dev, NULL);
    /* Hardware that is gone has no decision points left. */
    if (!__atomic_load_n(&f->device_actions, __ATOMIC_RELAXED) || !mach_device_present(dev))
        return fired;
    uint64_t random = 0;
    if (decide(m, f, WDFDMA_FAULT_SURPRISE_REMOVE, dev, &random)) {
        mach_device_set_present(dev, false);
        action_queue(m, f, dev, WDFDMA_FAULT_SURPRISE_REMOVE, random);
        return fired;
    }
    if (decide(m, f, WDFDMA_FAULT_POWER_DOWN, dev, &random))
        action_queue(m, f, dev, WDFDMA_FAULT_POWER_DOWN, random);
    if (decide(m, f, WDFDMA_FAULT_CANCEL, dev, &random))
        action_queue(m, f, dev, WDFDMA_FAULT_CANCEL, random);
    return fired;
}

void mach_faults_destroy(wdfdma_machine *m)
{
    struct mach_faults *f = faults_of(m);
    if (f == NULL)
        return;
    /* The engine has stopped: a work item still queued will never run. */
    while (f->pending != NULL) {
        fault_action *next = f->pending->next;
        free(f->pending);
        f->pending = next;
    }
    free(f->plan);
    pthread_mutex_destroy(&f->lock);
    free(f);
    m->faults = NULL;
}
