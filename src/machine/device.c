/*
 * Device models and instances: the model registry, adding devices to a machine, option
 * parsing, resource declaration, timers, faults, trace and system-DMA request lines.
 *
 * Instance lifetime:
 *
 *   add_device: allocate (zeroed state) ─> INIT (model->init: options, resources;
 *   declare_* only here) ─> reset ─> LIVE (registers, events, DMA) ─> machine destroy:
 *   model->fini ─> freed.   A failed init releases its vectors and request lines.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "machine/machine_priv.h"
#include "wdfdma/faults.h"

#define MAX_MODELS 64
#define NAME_MAX_LEN 63

static const wdfdma_device_model *models[MAX_MODELS];
static unsigned nmodels;

void wdfdma_register_device_model(const wdfdma_device_model *model)
{
    if (!model || !model->name || !model->init) {
        fprintf(stderr, "wdfdma: device model without a name or init ignored\n");
        return;
    }
    for (unsigned i = 0; i < nmodels; i++) {
        if (strcmp(models[i]->name, model->name) == 0) {
            fprintf(stderr, "wdfdma: device model '%s' registered twice; keeping the first\n",
                    model->name);
            return;
        }
    }
    if (nmodels == MAX_MODELS) {
        fprintf(stderr, "wdfdma: too many device models; '%s' ignored\n", model->name);
        return;
    }
    models[nmodels++] = model;
}

const wdfdma_device_model *wdfdma_device_model_at(unsigned index)
{
    return index < nmodels ? models[index] : NULL;
}

static const wdfdma_device_model *find_model(const char *name)
{
    for (unsigned i = 0; i < nmodels; i++)
        if (strcmp(models[i]->name, name) == 0)
            return models[i];
    return NULL;
}

/* ---- serialisation ------------------------------------------------------------------ */
void mach_device_enter(wdfdma_dev *dev)
{
    if (dev->m->threaded)
        pthread_mutex_lock(&dev->lock);
    else
        dev->m->in_hw++;
}

void mach_device_leave(wdfdma_dev *dev)
{
    if (dev->m->threaded)
        pthread_mutex_unlock(&dev->lock);
    else
        dev->m->in_hw--;
}

/* ---- instances ------------------------------------------------------------------------- */
static bool valid_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > NAME_MAX_LEN)
        return false;
    for (; *s; s++) {
        char c = *s;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '.'))
            return false;
    }
    return true;
}

static void free_dev(wdfdma_dev *dev)
{
    /* The device's name is a trace name (ISR records); the trace caches name digests by
     * pointer, and a later device may get the same address with other text. */
    if (dev->m) {
        mach_lock(dev->m, &dev->m->trace_lock);
        mach_trace_fold(dev->m);
        memset(dev->m->tr.names, 0, sizeof(dev->m->tr.names));
        mach_unlock(dev->m, &dev->m->trace_lock);
    }
    pthread_mutex_destroy(&dev->lock);
    free(dev->state);
    free(dev->name);
    free(dev);
}

/* Undo what a failed init claimed: vectors and request lines point at the device. */
static void release_claims(wdfdma_machine *m, wdfdma_dev *dev)
{
    mach_lock(m, &m->irq_lock);
    for (unsigned v = 0; v < MACH_VECTORS; v++)
        if (m->lines[v].owner == dev)
            m->lines[v].owner = NULL;
    mach_unlock(m, &m->irq_lock);
    for (unsigned r = 0; r < MACH_MAX_REQUEST_LINES; r++)
        if (m->reqlines[r].owner == dev)
            m->reqlines[r].owner = NULL;
}

static int list_models(char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = 0;
    for (unsigned i = 0; i < nmodels && used < len; i++)
        used += (size_t)snprintf(buf + used, len - used, "%s%s", i ? ", " : "", models[i]->name);
    return 0;
}

int wdfdma_machine_add_device(wdfdma_machine *m, const char *model, const char *name,
                              const char *options, wdfdma_dev **out)
{
    if (out)
        *out = NULL;
    if (!m)
        return mach_error(EINVAL, "add_device: machine is NULL");
    if (!model)
        return mach_error(EINVAL, "add_device: model is NULL");
    if (!name)
        return mach_error(EINVAL, "add_device: name is NULL");
    if (!valid_name(name))
        return mach_error(EINVAL, "add_device: bad device name '%s' (1..%d of [A-Za-z0-9_.-])",
                          name, NAME_MAX_LEN);
    mach_enter(m);
    const wdfdma_device_model *dm = find_model(model);
    if (!dm) {
        char known[512];
        list_models(known, sizeof(known));
        return mach_error(ENOENT, "add_device: unknown device model '%s' (known: %s)", model,
                          known[0] ? known : "none");
    }
    if (wdfdma_machine_find_device(m, name))
        return mach_error(EEXIST, "add_device: a device named '%s' already exists", name);
    unsigned n = atomic_load(&m->ndevs);
    if (n == MACH_MAX_DEVICES)
        return mach_error(ENOSPC, "add_device: the machine already has %u devices",
                          MACH_MAX_DEVICES);
    wdfdma_dev *dev = calloc(1, sizeof(*dev));
    if (!dev)
        return mach_error(ENOMEM, "add_device: out of memory");
    pthread_mutex_init(&dev->lock, NULL);
    dev->m = m;
    dev->model = dm;
    dev->name = strdup(name);
    dev->state = calloc(1, dm->state_size ? dm->state_size : 1);
    dev->id = mach_next_object_id(m);
    if (!dev->name || !dev->state) {
        free_dev(dev);
        return mach_error(ENOMEM, "add_device: out of memory");
    }
    dev->in_init = true;
    int rc = dm->init(dev, options);
    dev->in_init = false;
    if (rc) {
        int err = mach_error(EINVAL, "device '%s' (%s): %s", name, model,
                             dev->error[0] ? dev->error : "init failed");
        if (dm->fini)
            dm->fini(dev);
        release_claims(m, dev);
        free_dev(dev);
        return err;
    }
    if (dm->reset)
        mach_device_reset(dev);
    mach_lock(m, &m->bus_lock);
    m->devs[n] = dev;
    atomic_store(&m->ndevs, n + 1);
    mach_unlock(m, &m->bus_lock);
    mach_trace(m, WDFDMA_TR_DEVICE, dev->id, "added", n, 0);
    if (out)
        *out = dev;
    return 0;
}

void mach_devices_destroy(wdfdma_machine *m)
{
    /* Fault actions still queued name devices: they go first (the engine has stopped). */
    mach_faults_destroy(m);
    unsigned n = atomic_load(&m->ndevs);
    for (unsigned i = n; i-- > 0;) {
        wdfdma_dev *dev = m->devs[i];
        if (dev->model->fini) {
            mach_device_enter(dev);
            dev->model->fini(dev);
            mach_device_leave(dev);
        }
        for (unsigned r = 0; r < MACH_MAX_RESOURCES; r++)
            free(dev->controller_names[r]);
        free_dev(dev);
        m->devs[i] = NULL;
    }
    atomic_store(&m->ndevs, 0);
}

wdfdma_dev *wdfdma_machine_find_device(wdfdma_machine *m, const char *name)
{
    if (!m || !name)
        return NULL;
    unsigned n = atomic_load(&m->ndevs);
    for (unsigned i = 0; i < n; i++)
        if (strcmp(m->devs[i]->name, name) == 0)
            return m->devs[i];
    return NULL;
}

const char *wdfdma_dev_name(const wdfdma_dev *dev)
{
    return dev ? dev->name : "";
}

const char *wdfdma_dev_model_name(const wdfdma_dev *dev)
{
    return dev ? dev->model->name : "";
}

unsigned mach_device_count(wdfdma_machine *m)
{
    return m ? atomic_load(&m->ndevs) : 0;
}

wdfdma_dev *mach_device_at(wdfdma_machine *m, unsigned index)
{
    return m && index < atomic_load(&m->ndevs) ? m->devs[index] : NULL;
}

const wdfdma_device_model *mach_device_model(const wdfdma_dev *dev)
{
    return dev ? dev->model : NULL;
}

void mach_device_reset(wdfdma_dev *dev)
{
    if (!dev || !dev->model->reset)
        return;
    mach_device_enter(dev);
    dev->model->reset(dev);
    mach_device_leave(dev);
}

void *mach_device_binding(const wdfdma_dev *dev)
{
    return dev ? dev->binding : NULL;
}

void mach_device_set_binding(wdfdma_dev *dev, void *binding)
{
    if (dev)
        dev->binding = binding;
}

void *wdfdma_dev_state(wdfdma_dev *dev)
{
    return dev ? dev->state : NULL;
}

wdfdma_machine *wdfdma_dev_machine(wdfdma_dev *dev)
{
    return dev ? dev->m : NULL;
}

uint32_t wdfdma_dev_id(const wdfdma_dev *dev)
{
    return dev ? dev->id : 0;
}

void wdfdma_dev_error(wdfdma_dev *dev, const char *fmt, ...)
{
    if (!dev)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(dev->error, sizeof(dev->error), fmt, ap);
    va_end(ap);
}

/* ---- options: "key=value,key=value" ------------------------------------------------------ */
/* Find `key`; returns 1 if absent, 0 with the value and its length set. */
static int find_opt(const char *options, const char *key, const char **val, size_t *vlen)
{
    size_t klen = strlen(key);
    for (const char *p = options; p && *p;) {
        const char *end = strchr(p, ',');
        size_t tlen = end ? (size_t)(end - p) : strlen(p);
        const char *eq = memchr(p, '=', tlen);
        size_t nlen = eq ? (size_t)(eq - p) : tlen;
        if (nlen == klen && strncmp(p, key, klen) == 0) {
            *val = eq ? eq + 1 : p + tlen;
            *vlen = eq ? tlen - nlen - 1 : 0;
            return 0;
        }
        p = end ? end + 1 : p + tlen;
    }
    return 1;
}

int wdfdma_dev_opt_u64(wdfdma_dev *dev, const char *options, const char *key, uint64_t *out)
{
    const char *val;
    size_t vlen;
    if (!key || !out || find_opt(options, key, &val, &vlen))
        return 1;
    char buf[32];
    if (vlen == 0 || vlen >= sizeof(buf))
        goto bad;
    memcpy(buf, val, vlen);
    buf[vlen] = 0;
    if (buf[0] == '-' || buf[0] == '+' || buf[0] == ' ')
        goto bad;
    char *end;
    errno = 0;
    uint64_t v = strtoull(buf, &end, 0);
    if (errno || end == buf)
        goto bad;
    unsigned shift = 0;
    switch (*end) {
    case 0: break;
    case 'k': case 'K': shift = 10; end++; break;
    case 'm': case 'M': shift = 20; end++; break;
    case 'g': case 'G': shift = 30; end++; break;
    default: goto bad;
    }
    if (*end || (shift && v > (UINT64_MAX >> shift)))
        goto bad;
    *out = v << shift;
    return 0;
bad:
    wdfdma_dev_error(dev, "option '%s': bad number '%.*s' (decimal or 0x hex, optional "
                     "K/M/G suffix)", key, (int)vlen, val);
    return -1;
}

int wdfdma_dev_opt_str(wdfdma_dev *dev, const char *options, const char *key, char *out,
                       size_t len)
{
    const char *val;
    size_t vlen;
    if (!key || !out || !len || find_opt(options, key, &val, &vlen))
        return 1;
    if (vlen >= len) {
        wdfdma_dev_error(dev, "option '%s': value '%.*s' longer than %zu characters", key,
                         (int)vlen, val, len - 1);
        return -1;
    }
    memcpy(out, val, vlen);
    out[vlen] = 0;
    return 0;
}

int wdfdma_dev_opt_check(wdfdma_dev *dev, const char *options, const char *const *known)
{
    for (const char *p = options; p && *p;) {
        const char *end = strchr(p, ',');
        size_t tlen = end ? (size_t)(end - p) : strlen(p);
        const char *eq = memchr(p, '=', tlen);
        size_t nlen = eq ? (size_t)(eq - p) : tlen;
        if (!eq || nlen == 0) {
            wdfdma_dev_error(dev, "option '%.*s' is not key=value", (int)tlen, p);
            return -1;
        }
        bool ok = false;
        for (unsigned i = 0; known && known[i]; i++)
            if (strlen(known[i]) == nlen && strncmp(known[i], p, nlen) == 0)
                ok = true;
        if (!ok) {
            char list[256] = "";
            size_t used = 0;
            for (unsigned i = 0; known && known[i] && used < sizeof(list); i++)
                used += (size_t)snprintf(list + used, sizeof(list) - used, "%s%s",
                                         i ? ", " : "", known[i]);
            wdfdma_dev_error(dev, "unknown option '%.*s' (known: %s)", (int)nlen, p,
                             list[0] ? list : "none");
            return -1;
        }
        p = end ? end + 1 : p + tlen;
    }
    return 0;
}

/* ---- resources --------------------------------------------------------------------------- */
static wdfdma_resource *new_resource(wdfdma_dev *dev, const char *what)
{
    if (!dev->in_init) {
        mach_report(dev->m, "device", "device '%s': %s declared outside init", dev->name, what);
        wdfdma_dev_error(dev, "%s declared outside init", what);
        return NULL;
    }
    if (dev->nres == MACH_MAX_RESOURCES) {
        wdfdma_dev_error(dev, "too many resources (max %u)", MACH_MAX_RESOURCES);
        return NULL;
    }
    wdfdma_resource *r = &dev->res[dev->nres];
    memset(r, 0, sizeof(*r));
    return r;
}

int wdfdma_dev_declare_mmio(wdfdma_dev *dev, uint64_t size)
{
    if (!dev)
        return -1;
    wdfdma_resource *r = new_resource(dev, "MMIO region");
    if (!r)
        return -1;
    if (dev->nregions == MACH_MAX_REGIONS) {
        wdfdma_dev_error(dev, "too many MMIO regions (max %u)", MACH_MAX_REGIONS);
        return -1;
    }
    if (size == 0 || size > (64ull << 20)) {
        wdfdma_dev_error(dev, "MMIO region size %llu out of range 1..64M",
                         (unsigned long long)size);
        return -1;
    }
    wdfdma_machine *m = dev->m;
    uint64_t bytes = (size + MACH_PAGE_SIZE - 1) & ~(uint64_t)(MACH_PAGE_SIZE - 1);
    mach_lock(m, &m->bus_lock);
    uint64_t pa = m->mmio_next;
    bool fits = pa + bytes <= MACH_MMIO_END;
    if (fits)
        m->mmio_next = pa + bytes;
    mach_unlock(m, &m->bus_lock);
    if (!fits) {
        wdfdma_dev_error(dev, "MMIO space 0x%llx..0x%llx exhausted",
                         (unsigned long long)MACH_MMIO_BASE, (unsigned long long)MACH_MMIO_END);
        return -1;
    }
    r->type = WDFDMA_RES_MMIO;
    r->start = pa;
    r->length = size;
    dev->region[dev->nregions] = (mach_region){ .pa = pa, .size = size };
    dev->nres++;
    return (int)dev->nregions++;
}

int wdfdma_dev_declare_irq(wdfdma_dev *dev, uint32_t flags, uint32_t msi_count)
{
    if (!dev)
        return -1;
    wdfdma_resource *r = new_resource(dev, "interrupt");
    if (!r)
        return -1;
    if (flags & ~(WDFDMA_IRQ_EDGE | WDFDMA_IRQ_SHARED | WDFDMA_IRQ_MSI)) {
        wdfdma_dev_error(dev, "unknown interrupt flags 0x%x", flags);
        return -1;
    }
    bool msi = flags & WDFDMA_IRQ_MSI;
    if (msi && (msi_count < 1 || msi_count > 32)) {
        wdfdma_dev_error(dev, "MSI message count %u out of range 1..32", msi_count);
        return -1;
    }
    if (msi && (flags & WDFDMA_IRQ_SHARED)) {
        wdfdma_dev_error(dev, "MSI messages cannot be shared");
        return -1;
    }
    if (!msi && msi_count > 1) {
        wdfdma_dev_error(dev, "a line interrupt has one vector (msi_count %u)", msi_count);
        return -1;
    }
    if (dev->nirqs == MACH_MAX_IRQS) {
        wdfdma_dev_error(dev, "too many interrupts (max %u)", MACH_MAX_IRQS);
        return -1;
    }
    uint32_t count = msi ? msi_count : 1, vector;
    uint8_t dirql;
    if (mach_irqctl_alloc(dev->m, dev, flags, count, &vector, &dirql)) {
        wdfdma_dev_error(dev, "%s", wdfdma_last_error());
        return -1;
    }
    r->type = WDFDMA_RES_IRQ;
    r->vector = vector;
    r->level = dirql;
    r->flags = flags;
    r->count = count;
    dev->irq[dev->nirqs] = (mach_dev_irq){ .vector = vector, .count = count, .flags = flags };
    dev->nres++;
    return (int)dev->nirqs++;
}

static wdfdma_dev *find_controller(wdfdma_machine *m, const char *name)
{
    unsigned n = atomic_load(&m->ndevs);
    for (unsigned i = 0; i < n; i++) {
        wdfdma_dev *d = m->devs[i];
        if (d->model->sysdma && (!name || strcmp(d->name, name) == 0))
            return d;
    }
    return NULL;
}

int wdfdma_dev_declare_dma(wdfdma_dev *dev, const char *controller, uint32_t channel,
                           uint32_t request_line)
{
    if (!dev)
        return -1;
    wdfdma_resource *r = new_resource(dev, "DMA request line");
    if (!r)
        return -1;
    wdfdma_machine *m = dev->m;
    if (request_line >= MACH_MAX_REQUEST_LINES) {
        wdfdma_dev_error(dev, "request line %u out of range 0..%u", request_line,
                         MACH_MAX_REQUEST_LINES - 1);
        return -1;
    }
    if (m->reqlines[request_line].owner) {
        wdfdma_dev_error(dev, "request line %u already routed to device '%s'", request_line,
                         m->reqlines[request_line].owner->name);
        return -1;
    }
    wdfdma_dev *ctrl = find_controller(m, controller);
    if (!ctrl && controller) {
        wdfdma_dev_error(dev, "no system-DMA controller named '%s' (add the controller "
                         "before its peripherals)", controller);
        return -1;
    }
    if (!ctrl) {
        wdfdma_dev_error(dev, "no system-DMA controller in the machine (add the controller "
                         "before its peripherals)");
        return -1;
    }
    if (channel >= ctrl->model->sysdma->channels) {
        wdfdma_dev_error(dev, "controller '%s' has %u channels; channel %u does not exist",
                         ctrl->name, ctrl->model->sysdma->channels, channel);
        return -1;
    }
    m->reqlines[request_line].owner = dev;
    m->reqlines[request_line].controller = ctrl;
    m->reqlines[request_line].channel = channel;
    atomic_store(&m->reqlines[request_line].asserted, false);
    r->type = WDFDMA_RES_DMA;
    r->dma_channel = channel;
    r->dma_request_line = request_line;
    r->controller = ctrl->name;
    return (int)dev->nres++;
}

unsigned wdfdma_dev_resource_count(const wdfdma_dev *dev)
{
    return dev ? dev->nres : 0;
}

const wdfdma_resource *wdfdma_dev_resource(const wdfdma_dev *dev, unsigned index)
{
    return dev && index < dev->nres ? &dev->res[index] : NULL;
}

/* ---- time, randomness, faults, trace ---------------------------------------------------- */
uint64_t wdfdma_dev_now(wdfdma_dev *dev)
{
    return dev ? mach_now(dev->m) : 0;
}

wdfdma_timer_id wdfdma_dev_after(wdfdma_dev *dev, uint64_t delay_ns,
                                 void (*fn)(wdfdma_dev *dev, void *arg), void *arg)
{
    if (!dev || !fn)
        return 0;
    mach_event e = { .dev = dev, .devfn = fn, .ctx = arg };
    return dev->m->eng->after(dev->m, delay_ns, &e);
}

bool wdfdma_dev_cancel(wdfdma_dev *dev, wdfdma_timer_id id)
{
    return dev && id && mach_cancel(dev->m, id);
}

uint64_t wdfdma_dev_random(wdfdma_dev *dev)
{
    return dev ? mach_random(dev->m) : 0;
}

/* The machine's fault plan first (the ask is also the decision point of the plan's
 * device-level actions: surprise-remove, power-down, cancel), then a host's own hook;
 * either may fire. Both are asked every time so the plan's counters do not depend on
 * whether a hook is set. */
bool wdfdma_dev_fault(wdfdma_dev *dev, const char *kind)
{
    if (!dev || !kind)
        return false;
    bool fired = mach_faults_device_ask(dev, kind);
    if (dev->m->fault_hook && dev->m->fault_hook(dev->m->fault_ctx, dev, kind))
        fired = true;
    return fired;
}

/* Pulling the hardware: mark it absent first, so an interrupt the model raises from now
 * on is dropped (irqctl.c), then release the lines it drives; the bus reads all ones and
 * drops writes and DMA (bus.c). */
void mach_device_set_present(wdfdma_dev *dev, bool present)
{
    if (!dev)
        return;
    bool was_absent = atomic_exchange(&dev->absent, !present);
    if (was_absent == !present)
        return;
    if (!present) {
        for (unsigned i = 0; i < dev->nirqs; i++)
            if (!(dev->irq[i].flags & WDFDMA_IRQ_MSI))
                wdfdma_dev_irq_deassert(dev, i);
    }
    mach_trace(dev->m, WDFDMA_TR_DEVICE, dev->id, present ? "present" : "absent", 0, 0);
}

bool mach_device_present(const wdfdma_dev *dev)
{
    return dev && !atomic_load(&dev->absent);
}

void wdfdma_dev_set_present(wdfdma_dev *dev, bool present)
{
    mach_device_set_present(dev, present);
}

bool wdfdma_dev_present(const wdfdma_dev *dev)
{
    return mach_device_present(dev);
}

void wdfdma_machine_set_fault_hook(wdfdma_machine *m, wdfdma_fault_hook hook, void *ctx)
{
    if (!m)
        return;
    m->fault_hook = hook;
    m->fault_ctx = ctx;
}

void wdfdma_dev_account_busy(wdfdma_dev *dev, uint64_t ns)
{
    if (!dev)
        return;
    (void)mach_stat_add(&dev->busy_ns, ns, dev->m->threaded);   /* per descriptor */
}

uint64_t wdfdma_dev_busy_ns(const wdfdma_dev *dev)
{
    return dev ? atomic_load_explicit(&dev->busy_ns, memory_order_relaxed) : 0;
}

void wdfdma_dev_trace(wdfdma_dev *dev, const char *what, uint64_t a, uint64_t b)
{
    if (dev)
        mach_trace(dev->m, WDFDMA_TR_DEVICE, dev->id, what, a, b);
}

void wdfdma_dev_log(wdfdma_dev *dev, const char *fmt, ...)
{
    if (!dev || dev->m->quiet)
        return;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    fprintf(stderr, "wdfdma: [%llu ns] %s: %s\n", (unsigned long long)mach_now(dev->m),
            dev->name, msg);
}

/* ---- system-DMA request lines ------------------------------------------------------------ */
/* arg = request line << 1 | asserted: delivered to the controller as a hardware event so a
 * peripheral never calls into its controller while inside its own handler. */
static void notify_controller(wdfdma_dev *ctrl, void *arg)
{
    uintptr_t v = (uintptr_t)arg;
    ctrl->model->sysdma->request_changed(ctrl, (uint32_t)(v >> 1), v & 1);
}

void wdfdma_dev_dma_request(wdfdma_dev *dev, uint32_t request_line, bool asserted)
{
    if (!dev)
        return;
    wdfdma_machine *m = dev->m;
    if (request_line >= MACH_MAX_REQUEST_LINES || m->reqlines[request_line].owner != dev) {
        mach_report(m, "device", "device '%s' drives request line %u that is not routed to it",
                    dev->name, request_line);
        return;
    }
    mach_reqline *rl = &m->reqlines[request_line];
    if (atomic_exchange(&rl->asserted, asserted) == asserted)
        return;
    mach_trace(m, WDFDMA_TR_DEVICE, dev->id, "dma-request", request_line, asserted);
    wdfdma_dev *ctrl = rl->controller;
    if (ctrl->model->sysdma->request_changed)
        wdfdma_dev_after(ctrl, 0, notify_controller,
                         (void *)(((uintptr_t)request_line << 1) | asserted));
}

bool wdfdma_machine_dma_request_asserted(wdfdma_machine *m, uint32_t request_line)
{
    if (!m || request_line >= MACH_MAX_REQUEST_LINES)
        return false;
    return atomic_load(&m->reqlines[request_line].asserted);
}

wdfdma_dev *wdfdma_machine_request_line_owner(wdfdma_machine *m, uint32_t request_line)
{
    if (!m || request_line >= MACH_MAX_REQUEST_LINES)
        return NULL;
    return m->reqlines[request_line].owner;
}

void wdfdma_dev_dma_request_ack(wdfdma_dev *ctrl, uint32_t request_line)
{
    if (!ctrl)
        return;
    wdfdma_dev *peer = wdfdma_machine_request_line_owner(ctrl->m, request_line);
    if (!peer) {
        mach_report(ctrl->m, "device", "controller '%s' acknowledges request line %u that "
                    "no peripheral owns", ctrl->name, request_line);
        return;
    }
    if (!peer->model->dma_request_ack)
        return;
    mach_device_enter(peer);
    peer->model->dma_request_ack(peer, request_line);
    mach_device_leave(peer);
}
