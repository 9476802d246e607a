/*
 * Loading a driver module (wdfdma_driver_load).
 *
 * The module is a shared object built from KMDF source; it must export DriverEntry
 * (a module without one fails with -ENOEXEC). Its INF is PATH.inf (PATH with its ".so"
 * suffix replaced by ".inf", or ".inf" appended), read when it exists: the hardware IDs
 * of its [Models] lines are recorded before DriverEntry runs, and binding a device later
 * applies the INF's AddReg values as Windows' installer does (src/fx/inf.c reads INFs).
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fx/registry.h"
#include "host/host_internal.h"

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
    int rc = fx_inf_hardware_ids(inf_path, &ids, &nids);
    if (rc != 0 && rc != -ENOENT) {
        dlclose(dl);
        return rc;
    }
    mach_enter(m);
    wdfdma_driver_entry entry;
    memcpy(&entry, &sym, sizeof(entry)); /* object pointer to function pointer, POSIX-style */
    return host_driver_add(m, name, entry, dl, rc == 0 ? inf_path : NULL, ids, nids, out);
}
