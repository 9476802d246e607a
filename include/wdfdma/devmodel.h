/*
 * wdfdma device-model SDK.
 *
 * A device model is hardware: registers, a DMA engine, interrupts, timing. It talks only
 * to this SDK (never to framework or kernel headers): it declares its resources, handles
 * MMIO register accesses, moves data by *logical* address through the bus, raises and
 * clears interrupts, and runs callbacks after a virtual delay.
 *
 * Execution context: register handlers run on the thread of the driver that touched the
 * register; scheduled callbacks run in "hardware context" (the event loop on the sim
 * engine, the device thread on the threads engine). The machine serialises all calls
 * into one device instance (a per-device lock on the threads engine), so a model needs no
 * locking of its own.
 */
#ifndef WDFDMA_DEVMODEL_H
#define WDFDMA_DEVMODEL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "wdfdma/machine.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- interrupt declaration flags --------------------------------------------------- */
#define WDFDMA_IRQ_LEVEL   0x0u   /* level-triggered line (default) */
#define WDFDMA_IRQ_EDGE    0x1u   /* edge-triggered (latched) line */
#define WDFDMA_IRQ_SHARED  0x2u   /* the line may be shared with other devices */
#define WDFDMA_IRQ_MSI     0x4u   /* message-signalled; `count` messages */

/* Resource kinds a model declares; the machine turns them into the device's raw and
 * translated CM_PARTIAL_RESOURCE_DESCRIPTORs (CmResourceTypeMemory / Interrupt / Dma). */
typedef enum wdfdma_res_type {
    WDFDMA_RES_MMIO = 1,
    WDFDMA_RES_IRQ = 2,
    WDFDMA_RES_DMA = 3,        /* a system-DMA channel + request line (system-mode DMA) */
} wdfdma_res_type;

typedef struct wdfdma_resource {
    wdfdma_res_type type;
    uint64_t start;            /* MMIO: physical address assigned by the bus */
    uint64_t length;           /* MMIO: bytes */
    uint32_t vector;           /* IRQ: first vector; MSI: first message's vector */
    uint32_t level;            /* IRQ: DIRQL */
    uint32_t flags;            /* IRQ: WDFDMA_IRQ_* */
    uint32_t count;            /* IRQ MSI: number of messages */
    uint32_t dma_channel;      /* DMA: controller channel the request line is routed to */
    uint32_t dma_request_line; /* DMA: request line number on the controller */
    const char *controller;    /* DMA: controller device name */
} wdfdma_resource;

/* ---- system-DMA controller interface (implemented by controller models: sdmac) ----- */
/* The WDM system-DMA adapter (HAL side) drives a controller through these. A peripheral
 * paces a demand-mode channel through its request line (wdfdma_dev_dma_request). */
typedef struct wdfdma_sysdma_xfer {
    uint64_t logical;          /* memory side: logical address of the first element */
    uint32_t length;           /* bytes */
    uint64_t device_address;   /* peripheral side: FIFO/register physical address */
    bool to_device;            /* memory -> peripheral */
    bool demand_mode;          /* paced by the request line */
    bool looped;               /* auto-initialize: wrap at the end until stopped */
    uint32_t width_bytes;      /* 1, 2, 4, 8 */
    uint32_t request_line;
    /* Called in hardware context when the transfer ends: status 0 complete, 1 error,
     * 2 cancelled; for looped transfers once per wrap with status 0 and `wrap` set. */
    void (*done)(void *ctx, int status, uint32_t residue, bool wrap);
    void *ctx;
} wdfdma_sysdma_xfer;

typedef struct wdfdma_sysdma_ops {
    uint32_t channels;
    /* Start a transfer on a channel; returns 0 or a negative errno (busy, bad width). */
    int (*start)(wdfdma_dev *ctrl, uint32_t channel, const wdfdma_sysdma_xfer *x);
    /* Stop the channel: the transfer ends with status 2 (cancelled); returns residue. */
    uint32_t (*cancel)(wdfdma_dev *ctrl, uint32_t channel);
    uint32_t (*residue)(wdfdma_dev *ctrl, uint32_t channel);
    /* Controller-specific functions reachable through ConfigureAdapterChannel:
     * returns 0, or -ENOTSUP for an unknown function number. */
    int (*configure)(wdfdma_dev *ctrl, uint32_t channel, uint32_t function, void *context);
    /* Optional: a peripheral's request line routed to this controller changed. Called in
     * hardware context (as an event at the current time, never inside the peripheral's
     * own register handler), so the controller may touch the peripheral. */
    void (*request_changed)(wdfdma_dev *ctrl, uint32_t request_line, bool asserted);
} wdfdma_sysdma_ops;

/* ---- the model descriptor ---------------------------------------------------------- */
typedef struct wdfdma_device_model {
    const char *name;          /* "sgdma" */
    const char *summary;       /* one line for `wdfdma list` */
    const char *hardware_id;   /* e.g. "PCI\\VEN_10B5&DEV_9656": what an INF matches */
    size_t state_size;         /* bytes of zeroed per-instance state */
    /* Parse options, declare resources. Return 0, or -1 after wdfdma_dev_error(). */
    int (*init)(wdfdma_dev *dev, const char *options);
    void (*fini)(wdfdma_dev *dev);
    /* Power-on / bus reset: registers to their reset values. May be NULL. */
    void (*reset)(wdfdma_dev *dev);
    /* Register access in MMIO region `region` (declaration order), width 1, 2, 4 or 8. */
    uint64_t (*mmio_read)(wdfdma_dev *dev, unsigned region, uint64_t offset, unsigned width);
    void (*mmio_write)(wdfdma_dev *dev, unsigned region, uint64_t offset, unsigned width,
                       uint64_t value);
    /* Controllers only: the system-DMA interface (NULL for other models). */
    const wdfdma_sysdma_ops *sysdma;
    /* Peripherals only: a controller channel bound to this device's request line wants
     * data (to_device) or has room (from device); may be NULL. */
    void (*dma_request_ack)(wdfdma_dev *dev, uint32_t request_line);
} wdfdma_device_model;

void wdfdma_register_device_model(const wdfdma_device_model *model);
/* Register a model from its own file at load time. */
#define WDFDMA_DEVICE_MODEL(var)                                                           \
    __attribute__((constructor)) static void wdfdma_register_##var(void)                    \
    {                                                                                      \
        wdfdma_register_device_model(&(var));                                              \
    }

/* ---- instance basics --------------------------------------------------------------- */
void *wdfdma_dev_state(wdfdma_dev *dev);
wdfdma_machine *wdfdma_dev_machine(wdfdma_dev *dev);
uint32_t wdfdma_dev_id(const wdfdma_dev *dev);          /* small stable integer */
/* Set the message returned through wdfdma_last_error() when init fails. */
void wdfdma_dev_error(wdfdma_dev *dev, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Option parsing helpers over "key=value,key=value": return 0 and fill *out, 1 if the key
 * is absent (out untouched), -1 on a malformed value (message set). Sizes take K/M/G. */
int wdfdma_dev_opt_u64(wdfdma_dev *dev, const char *options, const char *key, uint64_t *out);
int wdfdma_dev_opt_str(wdfdma_dev *dev, const char *options, const char *key, char *out, size_t len);
/* Reject keys that are not in the NULL-terminated list: 0, or -1 with a message. */
int wdfdma_dev_opt_check(wdfdma_dev *dev, const char *options, const char *const *known);

/* ---- resources (only inside init) -------------------------------------------------- */
int wdfdma_dev_declare_mmio(wdfdma_dev *dev, uint64_t size);            /* -> region index */
int wdfdma_dev_declare_irq(wdfdma_dev *dev, uint32_t flags, uint32_t msi_count); /* -> irq index */
/* Route a request line of this peripheral to a channel of controller `controller`
 * (a device name; NULL = the first controller). -> resource index. */
int wdfdma_dev_declare_dma(wdfdma_dev *dev, const char *controller, uint32_t channel,
                           uint32_t request_line);
unsigned wdfdma_dev_resource_count(const wdfdma_dev *dev);
const wdfdma_resource *wdfdma_dev_resource(const wdfdma_dev *dev, unsigned index);

/* ---- time -------------------------------------------------------------------------- */
typedef uint64_t wdfdma_timer_id;   /* 0 = none */
uint64_t wdfdma_dev_now(wdfdma_dev *dev);
/* Run fn(dev, arg) in hardware context after `delay_ns` of machine time. */
wdfdma_timer_id wdfdma_dev_after(wdfdma_dev *dev, uint64_t delay_ns,
                                 void (*fn)(wdfdma_dev *dev, void *arg), void *arg);
bool wdfdma_dev_cancel(wdfdma_dev *dev, wdfdma_timer_id id);
uint64_t wdfdma_dev_random(wdfdma_dev *dev);            /* the machine's seeded PRNG */

/* ---- DMA by logical address -------------------------------------------------------- */
#define WDFDMA_DMA_OK     0
#define WDFDMA_DMA_FAULT  (-14)   /* -EFAULT: nothing mapped there for this device */
/* Device reads host memory (memory -> device). */
int wdfdma_dev_dma_read(wdfdma_dev *dev, uint64_t logical, void *dst, size_t len);
/* Device writes host memory (device -> memory). */
int wdfdma_dev_dma_write(wdfdma_dev *dev, uint64_t logical, const void *src, size_t len);
/* Per-device translation (an IOMMU) and access check (the verifier). The translation maps
 * a logical address to a physical one or returns false (fault); the check may veto. */
typedef bool (*wdfdma_dma_translate)(void *ctx, wdfdma_dev *dev, uint64_t logical,
                                     size_t len, bool write, uint64_t *physical);
void wdfdma_dev_set_translation(wdfdma_dev *dev, wdfdma_dma_translate fn, void *ctx);
typedef bool (*wdfdma_dma_check)(void *ctx, wdfdma_dev *dev, uint64_t logical, size_t len,
                                 bool write);
void wdfdma_machine_set_dma_check(wdfdma_machine *m, wdfdma_dma_check fn, void *ctx);

/* ---- interrupts -------------------------------------------------------------------- */
void wdfdma_dev_irq_assert(wdfdma_dev *dev, unsigned irq);    /* level: held; edge: latched */
void wdfdma_dev_irq_deassert(wdfdma_dev *dev, unsigned irq);
void wdfdma_dev_msi_send(wdfdma_dev *dev, unsigned irq, unsigned message);

/* ---- system DMA, peripheral side --------------------------------------------------- */
/* Assert/deassert this peripheral's request line (demand-mode pacing). */
void wdfdma_dev_dma_request(wdfdma_dev *dev, uint32_t request_line, bool asserted);
/* Controller side: find the peripheral and its MMIO that owns a physical address (the
 * transfer's device address); returns NULL if none. */
wdfdma_dev *wdfdma_machine_device_at(wdfdma_machine *m, uint64_t physical, unsigned *region,
                                     uint64_t *offset);
/* Controller side: is a request line asserted now? */
bool wdfdma_machine_dma_request_asserted(wdfdma_machine *m, uint32_t request_line);
/* Controller side: the peripheral routed to a request line (NULL if none). */
wdfdma_dev *wdfdma_machine_request_line_owner(wdfdma_machine *m, uint32_t request_line);
/* Controller side: tell the peripheral on `request_line` that a channel bound to it is
 * ready (calls its model's dma_request_ack, serialised with its other entries). */
void wdfdma_dev_dma_request_ack(wdfdma_dev *ctrl, uint32_t request_line);
/* Register access to another device (controller -> peripheral FIFO), bypassing the CPU. */
uint64_t wdfdma_dev_peer_read(wdfdma_dev *peer, unsigned region, uint64_t offset, unsigned width);
void wdfdma_dev_peer_write(wdfdma_dev *peer, unsigned region, uint64_t offset, unsigned width,
                           uint64_t value);

/* ---- faults and trace -------------------------------------------------------------- */
/* Ask the machine's fault plan whether fault `kind` ("dma-error", "short", "lost-irq", ...)
 * fires now for this device. Returns false when no plan is set. */
bool wdfdma_dev_fault(wdfdma_dev *dev, const char *kind);
typedef bool (*wdfdma_fault_hook)(void *ctx, wdfdma_dev *dev, const char *kind);
void wdfdma_machine_set_fault_hook(wdfdma_machine *m, wdfdma_fault_hook hook, void *ctx);
/* Utilisation: a model adds the modelled time it spends working (moving data, fetching
 * descriptors); hosts read it back to report device utilisation = busy / elapsed time. */
void wdfdma_dev_account_busy(wdfdma_dev *dev, uint64_t ns);
uint64_t wdfdma_dev_busy_ns(const wdfdma_dev *dev);
/* A device-model trace event; `what` must be a string literal (kept by pointer). */
void wdfdma_dev_trace(wdfdma_dev *dev, const char *what, uint64_t a, uint64_t b);
void wdfdma_dev_log(wdfdma_dev *dev, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#ifdef __cplusplus
}
#endif
#endif
