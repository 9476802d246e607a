/*
 * The registry part of an INF (wdfdma_inf_load_registry): what Windows' device
 * installation writes with AddReg before the driver first sees the device.
 *
 *   [Manufacturer]  %Mfg% = Models[,NTamd64...]     -> [Models] / [Models.NTamd64]
 *   [Models]        %Desc% = Install, <hardware ID> -> the device's install section
 *   [Install.NT]    AddReg = X                      -> [X] HKR lines: software key ("driver")
 *   [Install.NT.HW] AddReg = Y                      -> [Y] HKR lines: hardware key ("device")
 *   [Install.NT.Services] AddService = svc,,Svc     -> [Svc] AddReg = Z
 *                                                   -> [Z] HKR,Parameters,...: "parameters"
 *
 * fx_inf_hardware_ids reads the other thing a driver's INF says: which hardware it serves
 * (every ID after the install section on the lines of the [Models] sections that
 * [Manufacturer] names, decorated ones included; [Models] when there is no
 * [Manufacturer]).
 *
 * INF syntax handled: sections and keys compare case-insensitively; ';' starts a comment
 * outside quotes; a trailing '\' continues a line; fields are comma-separated, may be
 * quoted, and %token% is replaced from [Strings]. Only the sections reached from the
 * device's [Models] line are interpreted; everything else in the file is ignored, as the
 * installer ignores sections nobody references.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fx/internal.h"
#include "fx/registry.h"
#include "wdfdma/registry.h"

#define INF_FIELDS 16
#define INF_FIELD_MAX 256

#define FLG_ADDREG_BINVALUETYPE 0x00000001u
#define FLG_ADDREG_NOCLOBBER 0x00000002u
#define FLG_ADDREG_TYPE_SZ 0x00000000u
#define FLG_ADDREG_TYPE_EXPAND_SZ 0x00020000u
#define FLG_ADDREG_TYPE_DWORD 0x00010001u

typedef struct inf_line {
    char *text;          /* comment stripped, trimmed, continuation joined */
    int lineno;          /* first physical line */
    int section;         /* index into sections, -1 before the first header */
} inf_line;

typedef struct inf_file {
    const char *path;
    char *buf;
    inf_line *lines;
    int nlines;
    char **sections;     /* names, in file order */
    int nsections;
} inf_file;

/* One parsed entry "key = f0, f1, ..." (key empty when there is no '='). */
typedef struct inf_entry {
    char key[INF_FIELD_MAX];
    char field[INF_FIELDS][INF_FIELD_MAX];
    int nfields;
    int lineno;
} inf_entry;

/* ---- reading ---------------------------------------------------------------------------- */
static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    char *e = s + strlen(s);
    while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' || e[-1] == '\n'))
        *--e = '\0';
    return s;
}

static void strip_comment(char *s)
{
    bool quoted = false;
    for (; *s; s++) {
        if (*s == '"')
            quoted = !quoted;
        else if (*s == ';' && !quoted) {
            *s = '\0';
            return;
        }
    }
}

static int add_section(inf_file *f, const char *name)
{
    char **grown = realloc(f->sections, (size_t)(f->nsections + 1) * sizeof(*grown));
    if (grown == NULL)
        return -ENOMEM;
    f->sections = grown;
    f->sections[f->nsections] = (char *)name;
    return f->nsections++;
}

static int add_line(inf_file *f, char *text, int lineno, int section)
{
    inf_line *grown = realloc(f->lines, (size_t)(f->nlines + 1) * sizeof(*grown));
    if (grown == NULL)
        return -ENOMEM;
    f->lines = grown;
    f->lines[f->nlines++] = (inf_line){text, lineno, section};
    return 0;
}

/* Join a line ending in '\' with the next one, in place (the buffer only shrinks). */
static char *next_physical(char **cursor, int *lineno)
{
    char *start = *cursor;
    if (*start == '\0')
        return NULL;
    char *nl = strchr(start, '\n');
    *cursor = nl ? nl + 1 : start + strlen(start);
    if (nl)
        *nl = '\0';
    (*lineno)++;
    return start;
}

static int inf_parse(inf_file *f)
{
    char *cursor = f->buf;
    int lineno = 0, section = -1;
    char *line;
    while ((line = next_physical(&cursor, &lineno)) != NULL) {
        int first = lineno;
        strip_comment(line);
        char *text = trim(line);
        /* Continuations: "a, \" + "b" -> "a, b" (shifted down over the gap). */
        while (text[0] && text[strlen(text) - 1] == '\\') {
            text[strlen(text) - 1] = '\0';
            char *more = next_physical(&cursor, &lineno);
            if (more == NULL)
                break;
            strip_comment(more);
            memmove(text + strlen(text), trim(more), strlen(trim(more)) + 1);
        }
        text = trim(text);
        if (text[0] == '\0')
            continue;
        if (text[0] == '[') {
            char *end = strchr(text, ']');
            if (end == NULL)
                return mach_error(EINVAL, "%s:%d: section header without ']'", f->path, first);
            *end = '\0';
            section = add_section(f, trim(text + 1));
            if (section < 0)
                return mach_error(ENOMEM, "%s: out of memory", f->path);
            continue;
        }
        if (add_line(f, text, first, section) < 0)
            return mach_error(ENOMEM, "%s: out of memory", f->path);
    }
    return 0;
}

static int section_index(const inf_file *f, const char *name)
{
    for (int i = 0; i < f->nsections; i++)
        if (strcasecmp(f->sections[i], name) == 0)
            return i;
    return -1;
}

/* ---- entries ---------------------------------------------------------------------------- */
/* Replace %token% from [Strings] (a missing token stays as written, as setupapi does). */
static void substitute(const inf_file *f, const char *in, char *out, size_t cap)
{
    int strings = section_index(f, "Strings");
    size_t o = 0;
    while (*in && o + 1 < cap) {
        const char *end = in[0] == '%' ? strchr(in + 1, '%') : NULL;
        const char *value = NULL;
        size_t vlen = 0;
        if (end != NULL && strings >= 0) {
            size_t tlen = (size_t)(end - in - 1);
            for (int i = 0; i < f->nlines && value == NULL; i++) {
                const char *t = f->lines[i].text;
                if (f->lines[i].section != strings || strncasecmp(t, in + 1, tlen) != 0)
                    continue;
                const char *eq = t + tlen;
                while (*eq == ' ' || *eq == '\t')
                    eq++;
                if (*eq != '=')
                    continue;
                value = eq + 1;
                while (*value == ' ' || *value == '\t')
                    value++;
                vlen = strlen(value);
                if (vlen >= 2 && value[0] == '"' && value[vlen - 1] == '"') {
                    value++;
                    vlen -= 2;
                }
            }
        }
        if (value != NULL) {
            size_t n = vlen < cap - 1 - o ? vlen : cap - 1 - o;
            memcpy(out + o, value, n);
            o += n;
            in = end + 1;
        } else {
            out[o++] = *in++;
        }
    }
    out[o] = '\0';
}

static void field_store(const inf_file *f, char *raw, char *out)
{
    char *t = trim(raw);
    size_t n = strlen(t);
    if (n >= 2 && t[0] == '"' && t[n - 1] == '"') {
        t[n - 1] = '\0';
        t++;
    }
    substitute(f, t, out, INF_FIELD_MAX);
}

static int entry_parse(const inf_file *f, const inf_line *l, inf_entry *e)
{
    char work[4096];
    if (strlen(l->text) >= sizeof(work))
        return mach_error(EINVAL, "%s:%d: line too long", f->path, l->lineno);
    strcpy(work, l->text);
    memset(e, 0, sizeof(*e));
    e->lineno = l->lineno;
    char *rest = work;
    char *eq = strchr(work, '=');
    if (eq != NULL && (strchr(work, '"') == NULL || strchr(work, '"') > eq)) {
        *eq = '\0';
        field_store(f, work, e->key);
        rest = eq + 1;
    }
    bool quoted = false;
    char *start = rest;
    for (char *p = rest;; p++) {
        if (*p == '"')
            quoted = !quoted;
        if ((*p == ',' && !quoted) || *p == '\0') {
            if (e->nfields == INF_FIELDS)
                return mach_error(EINVAL, "%s:%d: more than %d fields", f->path, l->lineno,
                                  INF_FIELDS);
            bool last = *p == '\0';
            *p = '\0';
            field_store(f, start, e->field[e->nfields++]);
            if (last)
                break;
            start = p + 1;
        }
    }
    return 0;
}

/* Call fn for every entry of `section` whose key is `key` (NULL: every entry). */
typedef int (*entry_fn)(const inf_file *f, const inf_entry *e, void *ctx);
static int for_each_entry(const inf_file *f, const char *section, const char *key, entry_fn fn,
                          void *ctx)
{
    int s = section_index(f, section);
    if (s < 0)
        return 0;
    for (int i = 0; i < f->nlines; i++) {
        if (f->lines[i].section != s)
            continue;
        inf_entry e;
        int rc = entry_parse(f, &f->lines[i], &e);
        if (rc == 0 && key != NULL && strcasecmp(e.key, key) != 0)
            continue;
        if (rc == 0)
            rc = fn(f, &e, ctx);
        if (rc)
            return rc;
    }
    return 0;
}

/* ---- AddReg ----------------------------------------------------------------------------- */
typedef struct addreg_ctx {
    wdfdma_machine *m;
    fx_reg_kind kind;
    const char *owner;
    const char *subkey;      /* the only subkey written: "" or "Parameters" */
} addreg_ctx;

static bool parse_number(const char *text, unsigned long *out)
{
    char *end;
    errno = 0;
    *out = strtoul(text, &end, 0);
    return text[0] != '\0' && *end == '\0' && errno == 0 && *out <= 0xFFFFFFFFul;
}

static int addreg_store(const inf_file *f, const inf_entry *e, addreg_ctx *c, unsigned long flags)
{
    WCHAR name_buf[FX_REG_NAME_MAX];
    UNICODE_STRING name;
    if (!fx_registry_ascii(e->field[2], name_buf, FX_REG_NAME_MAX, &name))
        return mach_error(EINVAL, "%s:%d: value name must be ASCII", f->path, e->lineno);
    /* Every line keeps an existing value: settings the host made before binding win
     * over the INF's defaults, and loading the same INF twice changes nothing. */
    bool no_clobber = true;
    unsigned long type_flags = flags & ~(unsigned long)FLG_ADDREG_NOCLOBBER;
    const char *value = e->nfields > 4 ? e->field[4] : "";
    NTSTATUS status;
    if (type_flags == FLG_ADDREG_TYPE_DWORD) {
        unsigned long number;
        if (!parse_number(value, &number))
            return mach_error(EINVAL, "%s:%d: '%s' is not a 32-bit number", f->path, e->lineno,
                              value);
        ULONG data = (ULONG)number;
        status = fx_registry_set(c->m, c->kind, c->owner, &name, REG_DWORD, &data, sizeof(data),
                                 no_clobber);
    } else if (type_flags == FLG_ADDREG_TYPE_SZ || type_flags == FLG_ADDREG_TYPE_EXPAND_SZ) {
        WCHAR text[INF_FIELD_MAX + 1];
        UNICODE_STRING ignored;
        if (!fx_registry_ascii(value, text, INF_FIELD_MAX, &ignored))
            return mach_error(EINVAL, "%s:%d: string value must be ASCII", f->path, e->lineno);
        size_t n = strlen(value);
        text[n] = 0;
        ULONG type = type_flags == FLG_ADDREG_TYPE_SZ ? REG_SZ : REG_EXPAND_SZ;
        status = fx_registry_set(c->m, c->kind, c->owner, &name, type, text,
                                 (ULONG)((n + 1) * sizeof(WCHAR)), no_clobber);
    } else {
        return mach_error(EINVAL, "%s:%d: AddReg flags 0x%08lx are not supported", f->path,
                          e->lineno, flags);
    }
    if (!NT_SUCCESS(status))
        return mach_error(ENOMEM, "%s:%d: out of memory", f->path, e->lineno);
    return 0;
}

static int addreg_line(const inf_file *f, const inf_entry *e, void *ctx)
{
    addreg_ctx *c = ctx;
    if (e->key[0] != '\0' || e->nfields < 3)
        return mach_error(EINVAL, "%s:%d: expected 'HKR, subkey, name, flags, value'", f->path,
                          e->lineno);
    if (strcasecmp(e->field[0], "HKR") != 0)
        return mach_error(EINVAL, "%s:%d: only HKR is supported, not '%s'", f->path, e->lineno,
                          e->field[0]);
    /* The service key itself (ImagePath, Start, ...) is not modelled: only Parameters. */
    if (c->kind == FX_REG_PARAMETERS && strcasecmp(e->field[1], c->subkey) != 0)
        return 0;
    if (strcasecmp(e->field[1], c->subkey) != 0)
        return mach_error(EINVAL, "%s:%d: subkey '%s' is not modelled (device keys have none)",
                          f->path, e->lineno, e->field[1]);
    unsigned long flags = 0;
    if (e->nfields > 3 && e->field[3][0] != '\0' && !parse_number(e->field[3], &flags))
        return mach_error(EINVAL, "%s:%d: bad AddReg flags '%s'", f->path, e->lineno,
                          e->field[3]);
    return addreg_store(f, e, c, flags);
}

/* "AddReg = A, B": apply each named section. */
static int addreg_directive(const inf_file *f, const inf_entry *e, void *ctx)
{
    for (int i = 0; i < e->nfields; i++) {
        if (e->field[i][0] == '\0')
            continue;
        int rc = for_each_entry(f, e->field[i], NULL, addreg_line, ctx);
        if (rc)
            return rc;
    }
    return 0;
}

static int apply_addreg(const inf_file *f, const char *section, addreg_ctx *c)
{
    return for_each_entry(f, section, "AddReg", addreg_directive, c);
}

/* "AddService = name, flags, service-install-section": its AddReg, Parameters only. */
static int addservice(const inf_file *f, const inf_entry *e, void *ctx)
{
    wdfdma_machine *m = ctx;
    if (e->nfields < 3 || e->field[0][0] == '\0' || e->field[2][0] == '\0')
        return 0;
    if (strlen(e->field[0]) >= FX_REG_OWNER_MAX)
        return mach_error(EINVAL, "%s:%d: service name too long", f->path, e->lineno);
    addreg_ctx c = {m, FX_REG_PARAMETERS, e->field[0], "Parameters"};
    return apply_addreg(f, e->field[2], &c);
}

/* ---- models ----------------------------------------------------------------------------- */
typedef struct model_match {
    const char *hardware_id;
    char install[INF_FIELD_MAX];
} model_match;

static int model_line(const inf_file *f, const inf_entry *e, void *ctx)
{
    (void)f;
    model_match *mm = ctx;
    for (int i = 1; i < e->nfields && mm->install[0] == '\0'; i++)
        if (strcasecmp(e->field[i], mm->hardware_id) == 0)
            snprintf(mm->install, sizeof(mm->install), "%s", e->field[0]);
    return 0;
}

/* "%Mfg% = Models, NTamd64": look in [Models.NTamd64] first, then [Models]. */
static int manufacturer_line(const inf_file *f, const inf_entry *e, void *ctx)
{
    model_match *mm = ctx;
    char name[2 * INF_FIELD_MAX + 2];
    for (int i = 1; i < e->nfields && mm->install[0] == '\0'; i++) {
        snprintf(name, sizeof(name), "%s.%s", e->field[0], e->field[i]);
        int rc = for_each_entry(f, name, NULL, model_line, mm);
        if (rc)
            return rc;
    }
    if (mm->install[0] == '\0')
        return for_each_entry(f, e->field[0], NULL, model_line, mm);
    return 0;
}

/* The decorated install section Windows picks: .NTamd64, then .NT, then undecorated. */
static bool pick_install(const inf_file *f, const char *base, char *out, size_t cap)
{
    static const char *const decorations[] = {".NTamd64", ".NT", ""};
    for (unsigned i = 0; i < 3; i++) {
        snprintf(out, cap, "%s%s", base, decorations[i]);
        if (section_index(f, out) >= 0)
            return true;
    }
    return false;
}

static int apply_install(const inf_file *f, wdfdma_machine *m, const char *device_name,
                         const char *install)
{
    char section[INF_FIELD_MAX + 16];
    if (!pick_install(f, install, section, sizeof(section) - 10))
        return mach_error(EINVAL, "%s: install section [%s] not found", f->path, install);
    addreg_ctx software = {m, FX_REG_DRIVER, device_name, ""};
    int rc = apply_addreg(f, section, &software);
    size_t len = strlen(section);
    if (rc == 0) {
        addreg_ctx hardware = {m, FX_REG_DEVICE, device_name, ""};
        snprintf(section + len, sizeof(section) - len, ".HW");
        rc = apply_addreg(f, section, &hardware);
    }
    if (rc == 0) {
        snprintf(section + len, sizeof(section) - len, ".Services");
        rc = for_each_entry(f, section, "AddService", addservice, m);
    }
    return rc;
}

static int inf_read(inf_file *f, const char *path)
{
    memset(f, 0, sizeof(*f));
    f->path = path;
    FILE *fp = fopen(path, "rb");
    if (fp == NULL)
        return mach_error(ENOENT, "cannot open INF '%s'", path);
    size_t cap = 4096, n = 0;
    f->buf = malloc(cap);
    while (f->buf != NULL) {
        n += fread(f->buf + n, 1, cap - 1 - n, fp);
        if (n < cap - 1)
            break;
        char *grown = realloc(f->buf, cap * 2);
        if (grown == NULL)
            free(f->buf);
        f->buf = grown;
        cap *= 2;
    }
    bool failed = ferror(fp) != 0;
    fclose(fp);
    if (f->buf == NULL)
        return mach_error(ENOMEM, "%s: out of memory", path);
    f->buf[n] = '\0';
    if (failed)
        return mach_error(EIO, "%s: read error", path);
    return inf_parse(f);
}

static void inf_free(inf_file *f)
{
    free(f->lines);
    free(f->sections);
    free(f->buf);
}

/* ---- hardware IDs ------------------------------------------------------------------------- */
typedef struct id_list {
    const char *path;
    char (*ids)[128];
    unsigned n;
} id_list;

static int id_line(const inf_file *f, const inf_entry *e, void *ctx)
{
    id_list *l = ctx;
    if (e->nfields < 2)
        return mach_error(EINVAL, "%s:%d: a models line needs 'InstallSection, HardwareID'",
                          f->path, e->lineno);
    char(*grown)[128] = realloc(l->ids, (l->n + (unsigned)e->nfields - 1) * sizeof(*grown));
    if (grown == NULL)
        return mach_error(ENOMEM, "out of memory reading %s", f->path);
    l->ids = grown;
    for (int i = 1; i < e->nfields; i++) {
        /* A hardware ID that does not fit is refused, not cut: a truncated ID could
         * match a device the INF never named. */
        size_t len = strlen(e->field[i]);
        if (len >= sizeof(l->ids[0]))
            return mach_error(EINVAL, "%s:%d: hardware ID '%.40s...' is longer than %zu bytes",
                              f->path, e->lineno, e->field[i], sizeof(l->ids[0]) - 1);
        memcpy(l->ids[l->n++], e->field[i], len + 1);
    }
    return 0;
}

/* "%Mfg% = Models, NTamd64": IDs of [Models] and of [Models.NTamd64]. */
static int id_manufacturer(const inf_file *f, const inf_entry *e, void *ctx)
{
    char name[2 * INF_FIELD_MAX + 2];
    int rc = for_each_entry(f, e->field[0], NULL, id_line, ctx);
    for (int i = 1; i < e->nfields && rc == 0; i++) {
        snprintf(name, sizeof(name), "%s.%s", e->field[0], e->field[i]);
        rc = for_each_entry(f, name, NULL, id_line, ctx);
    }
    return rc;
}

int fx_inf_hardware_ids(const char *path, char (**ids)[128], unsigned *count)
{
    *ids = NULL;
    *count = 0;
    FILE *probe = fopen(path, "rb");
    if (probe == NULL)
        return -ENOENT;   /* no INF: the driver serves what the host adds by hand */
    fclose(probe);
    inf_file f;
    id_list l = {path, NULL, 0};
    int rc = inf_read(&f, path);
    if (rc == 0)
        rc = section_index(&f, "Manufacturer") >= 0
                 ? for_each_entry(&f, "Manufacturer", NULL, id_manufacturer, &l)
                 : for_each_entry(&f, "Models", NULL, id_line, &l);
    inf_free(&f);
    if (rc != 0) {
        free(l.ids);
        return rc;
    }
    *ids = l.ids;
    *count = l.n;
    return 0;
}

int wdfdma_inf_load_registry(wdfdma_machine *m, const char *inf_path, const char *device_name)
{
    if (m == NULL || inf_path == NULL || device_name == NULL)
        return mach_error(EINVAL, "wdfdma_inf_load_registry: NULL argument");
    if (strlen(device_name) >= FX_REG_OWNER_MAX)
        return mach_error(EINVAL, "wdfdma_inf_load_registry: device name too long");
    wdfdma_dev *dev = wdfdma_machine_find_device(m, device_name);
    if (dev == NULL)
        return mach_error(ENOENT, "wdfdma_inf_load_registry: no device '%s'", device_name);
    model_match mm = {mach_device_model(dev)->hardware_id, ""};
    inf_file f;
    int rc = inf_read(&f, inf_path);
    if (rc == 0)
        rc = for_each_entry(&f, "Manufacturer", NULL, manufacturer_line, &mm);
    if (rc == 0 && mm.install[0] == '\0')
        rc = mach_error(ENOENT, "%s: no [Models] line for '%s' (hardware ID %s)", inf_path,
                        device_name, mm.hardware_id);
    if (rc == 0)
        rc = apply_install(&f, m, device_name, mm.install);
    inf_free(&f);
    return rc;
}
