/*
 * Loading a driver module (wdfdma_driver_load) and reading its INF.
 *
 * The module is a shared object built from KMDF source; it must export DriverEntry
 * (a module without one fails with -ENOEXEC). Before DriverEntry runs, the hardware IDs of
 * PATH.inf (PATH with its ".so" suffix replaced by ".inf", or ".inf" appended) are
 * recorded, when that file exists.
 *
 * The INF subset read here — enough to say which hardware a driver serves, nothing more:
 *  - lines are "key = value"; ';' starts a comment outside double quotes; blank lines and
 *    lines without '=' outside the sections below are ignored; [Section] names are
 *    case-insensitive.
 *  - [Manufacturer]: each line "%Mfg% = Models[, Decoration...]" names a models section;
 *    the decorated sections "Models.Decoration" count too (e.g. Models.NTamd64).
 *  - the models sections: each line "%Desc% = InstallSection, HardwareID[, CompatibleID...]"
 *    adds every ID after the install section. Without a [Manufacturer] section, a section
 *    named [Models] is used.
 *  - [Strings]: "%token%" in an ID is replaced by the token's value; quotes are removed.
 * Install sections, AddReg, services and everything else are not read.
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "host/host_internal.h"

#define MAX_SECTIONS 16
#define LINE_MAX_LEN 1024

typedef struct inf_line {
    char section[128];
    char key[128];
    char value[LINE_MAX_LEN];
    unsigned number;
} inf_line;

typedef struct inf {
    inf_line *lines;
    unsigned n;
} inf;

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
        s[--n] = '\0';
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

static int inf_parse(FILE *f, const char *path, inf *out)
{
    char buf[LINE_MAX_LEN], section[128] = "";
    unsigned number = 0, cap = 0;
    out->lines = NULL;
    out->n = 0;
    while (fgets(buf, sizeof(buf), f) != NULL) {
        number++;
        strip_comment(buf);
        char *s = trim(buf);
        if (*s == '\0')
            continue;
        if (*s == '[') {
            char *close = strchr(s, ']');
            if (close == NULL || close - s - 1 >= (long)sizeof(section))
                return mach_error(EINVAL, "%s:%u: bad section header", path, number);
            *close = '\0';
            snprintf(section, sizeof(section), "%s", trim(s + 1));
            continue;
        }
        char *eq = strchr(s, '=');
        if (eq == NULL)
            continue;
        if (out->n == cap) {
            cap = cap ? cap * 2 : 32;
            inf_line *l = realloc(out->lines, cap * sizeof(*l));
            if (l == NULL)
                return mach_error(ENOMEM, "out of memory reading %s", path);
            out->lines = l;
        }
        *eq = '\0';
        inf_line *l = &out->lines[out->n++];
        snprintf(l->section, sizeof(l->section), "%s", section);
        snprintf(l->key, sizeof(l->key), "%s", trim(s));
        snprintf(l->value, sizeof(l->value), "%s", trim(eq + 1));
        l->number = number;
    }
    return 0;
}

/* The value of %token% from [Strings], unquoted; the token itself if undefined. */
static void expand(const inf *in, const char *field, char *out, size_t cap)
{
    size_t n = strlen(field);
    if (n >= 2 && field[0] == '%' && field[n - 1] == '%') {
        for (unsigned i = 0; i < in->n; i++) {
            const inf_line *l = &in->lines[i];
            if (strcasecmp(l->section, "Strings") == 0 && strlen(l->key) == n - 2 &&
                strncasecmp(l->key, field + 1, n - 2) == 0) {
                field = l->value;
                break;
            }
        }
    }
    size_t k = 0;
    for (const char *p = field; *p && k + 1 < cap; p++)
        if (*p != '"')
            out[k++] = *p;
    out[k] = '\0';
}

/* Split "a, b, c" into trimmed fields (in place); returns the count. */
static unsigned split(char *s, char **fields, unsigned max)
{
    unsigned n = 0;
    char *save = NULL;
    for (char *t = strtok_r(s, ",", &save); t && n < max; t = strtok_r(NULL, ",", &save))
        fields[n++] = trim(t);
    return n;
}

static unsigned models_sections(const inf *in, char names[MAX_SECTIONS][128])
{
    unsigned n = 0;
    for (unsigned i = 0; i < in->n; i++) {
        if (strcasecmp(in->lines[i].section, "Manufacturer") != 0)
            continue;
        char value[LINE_MAX_LEN], *f[MAX_SECTIONS];
        snprintf(value, sizeof(value), "%s", in->lines[i].value);
        unsigned k = split(value, f, MAX_SECTIONS);
        for (unsigned j = 0; j < k && n < MAX_SECTIONS; j++) {
            if (j == 0)
                snprintf(names[n++], 128, "%s", f[0]);
            else
                snprintf(names[n++], 128, "%.60s.%.60s", f[0], f[j]);
        }
    }
    if (n == 0)
        snprintf(names[n++], 128, "Models");
    return n;
}

static bool is_models(const char *section, char names[MAX_SECTIONS][128], unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        if (strcasecmp(section, names[i]) == 0)
            return true;
    return false;
}

static int collect_ids(const inf *in, const char *path, char (**ids)[128], unsigned *count)
{
    char names[MAX_SECTIONS][128];
    unsigned nsec = models_sections(in, names), n = 0;
    char(*v)[128] = NULL;
    for (unsigned i = 0; i < in->n; i++) {
        const inf_line *l = &in->lines[i];
        if (!is_models(l->section, names, nsec))
            continue;
        char value[LINE_MAX_LEN], *f[MAX_SECTIONS];
        snprintf(value, sizeof(value), "%s", l->value);
        unsigned k = split(value, f, MAX_SECTIONS);
        if (k < 2) {
            free(v);
            return mach_error(EINVAL, "%s:%u: a models line needs 'InstallSection, "
                              "HardwareID'", path, l->number);
        }
        char(*grown)[128] = realloc(v, (n + k - 1) * sizeof(*v));
        if (grown == NULL) {
            free(v);
            return mach_error(ENOMEM, "out of memory reading %s", path);
        }
        v = grown;
        for (unsigned j = 1; j < k; j++)
            expand(in, f[j], v[n++], sizeof(v[0]));
    }
    *ids = v;
    *count = n;
    return 0;
}

int host_inf_read(const char *path, char (**ids)[128], unsigned *n)
{
    *ids = NULL;
    *n = 0;
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return errno == ENOENT ? -ENOENT
                               : mach_error(errno, "cannot read %s: %s", path, strerror(errno));
    inf in;
    int rc = inf_parse(f, path, &in);
    fclose(f);
    if (rc == 0)
        rc = collect_ids(&in, path, ids, n);
    free(in.lines);
    return rc;
}

/* ---- loading ------------------------------------------------------------------------- */
static void inf_path_of(const char *path, char *out, size_t cap)
{
    size_t n = strlen(path);
    if (n > 3 && strcmp(path + n - 3, ".so") == 0)
        snprintf(out, cap, "%.*s.inf", (int)(n - 3), path);
    else
        snprintf(out, cap, "%s.inf", path);
}

static void name_of(const char *path, char *out, size_t cap)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    if (strncmp(base, "lib", 3) == 0 && base[3] != '\0')
        base += 3;
    size_t n = strcspn(base, ".");
    snprintf(out, cap, "%.*s", (int)(n < cap ? n : cap - 1), base);
}

int wdfdma_driver_load(wdfdma_machine *m, const char *path, wdfdma_driver **out)
{
    if (out)
        *out = NULL;
    if (m == NULL)
        return mach_error(EINVAL, "wdfdma_driver_load: machine is NULL");
    if (path == NULL || path[0] == '\0')
        return mach_error(EINVAL, "wdfdma_driver_load: path is empty");
    struct stat sb;
    if (stat(path, &sb) != 0)
        return mach_error(ENOENT, "driver module '%s': %s", path, strerror(errno));
    void *dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (dl == NULL)
        return mach_error(ENOEXEC, "driver module '%s' cannot be loaded: %s", path, dlerror());
    void *sym = dlsym(dl, "DriverEntry");
    if (sym == NULL) {
        dlclose(dl);
        return mach_error(ENOEXEC, "driver module '%s' does not export DriverEntry: it is "
                          "not a driver", path);
    }
    char inf_path[4096], name[64];
    inf_path_of(path, inf_path, sizeof(inf_path));
    name_of(path, name, sizeof(name));
    char(*ids)[128] = NULL;
    unsigned nids = 0;
    int rc = host_inf_read(inf_path, &ids, &nids);
    if (rc != 0 && rc != -ENOENT) {
        dlclose(dl);
        return rc;
    }
    mach_enter(m);
    wdfdma_driver_entry entry;
    memcpy(&entry, &sym, sizeof(entry)); /* object pointer to function pointer, POSIX-style */
    return host_driver_add(m, name, entry, dl, ids, nids, out);
}
