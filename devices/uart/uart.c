/*
 * uart: serial port model (register map, options and timing in uart.h).
 *
 * Three independent timed activities, each at most one event in flight:
 *
 *   TX shifter    IDLE --(TX FIFO non-empty, TX_EN, divisor != 0: pop)--> SHIFTING
 *                 SHIFTING --(10 bit times: byte leaves; loopback -> receiver, else host
 *                 sink)--> IDLE
 *   host RX line  IDLE --(host source non-empty, divisor != 0)--> SHIFTING
 *                 SHIFTING --(10 bit times: byte -> receiver)--> IDLE
 *   RX timeout    armed while the RX FIFO holds data; fires 4 byte times after the last
 *                 byte arrived and sets RX_TIMEOUT.
 *
 * After every change of a FIFO level or of CONTROL/thresholds the request lines are
 * recomputed (uart_update) and driven only when their level changes.
 *
 * Host API (uart_host_inject / uart_host_collect) may run on a host thread while the device
 * runs elsewhere (threads engine): the host source and sink are single-producer /
 * single-consumer rings with atomic indices, and the host side only schedules an event to
 * make the device look at new input.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "wdfdma/devmodel.h"
#include "devices/uart/uart.h"

typedef struct uart_fifo {
    uint8_t data[UART_MAX_FIFO];
    uint32_t head;     /* next byte to pop */
    uint32_t level;
} uart_fifo;

/* Single producer, single consumer; indices only grow (wrap by masking). */
typedef struct uart_spsc {
    uint8_t data[UART_HOST_BUF];
    _Atomic uint64_t head;   /* consumer */
    _Atomic uint64_t tail;   /* producer */
} uart_spsc;

typedef struct uart {
    wdfdma_dev *dev;
    uint32_t depth;
    uint32_t opt_divisor, opt_tx_thresh, opt_rx_thresh;
    bool opt_loopback;
    uint32_t line[2];            /* request line numbers: TX, RX */
    bool line_level[2];          /* level last driven */

    /* registers */
    uint32_t status_sticky;
    uint32_t control;
    uint32_t divisor;
    uint32_t tx_thresh, rx_thresh;
    uint32_t rx_dropped;

    uart_fifo tx, rx;
    bool tx_shifting;
    uint8_t tx_byte;
    wdfdma_timer_id tx_timer;
    bool rxl_shifting;
    wdfdma_timer_id rxl_timer;
    wdfdma_timer_id to_timer;
    uint64_t last_rx_ns;
    bool irq_level;

    uart_spsc host_in, host_out;
} uart;

static void uart_update(uart *u);
static void uart_tx_kick(uart *u);
static void uart_rxl_kick(uart *u);

static uint64_t byte_time_ns(const uart *u)
{
    return (10ull * u->divisor * 1000000000ull + UART_CLOCK / 2) / UART_CLOCK;
}

/* ---- FIFOs -------------------------------------------------------------------------- */

static bool fifo_push(uart_fifo *f, uint32_t depth, uint8_t b)
{
    if (f->level == depth)
        return false;
    f->data[(f->head + f->level) % depth] = b;
    f->level++;
    return true;
}

static bool fifo_pop(uart_fifo *f, uint32_t depth, uint8_t *b)
{
    if (f->level == 0)
        return false;
    *b = f->data[f->head];
    f->head = (f->head + 1) % depth;
    f->level--;
    return true;
}

static bool spsc_put(uart_spsc *q, uint8_t b)
{
    uint64_t tail = atomic_load_explicit(&q->tail, memory_order_relaxed);
    if (tail - atomic_load_explicit(&q->head, memory_order_acquire) == UART_HOST_BUF)
        return false;
    q->data[tail % UART_HOST_BUF] = b;
    atomic_store_explicit(&q->tail, tail + 1, memory_order_release);
    return true;
}

static bool spsc_get(uart_spsc *q, uint8_t *b)
{
    uint64_t head = atomic_load_explicit(&q->head, memory_order_relaxed);
    if (head == atomic_load_explicit(&q->tail, memory_order_acquire))
        return false;
    *b = q->data[head % UART_HOST_BUF];
    atomic_store_explicit(&q->head, head + 1, memory_order_release);
    return true;
}

/* ---- lines: request lines and the interrupt ----------------------------------------- */

static bool tx_request(const uart *u)
{
    return (u->control & (UART_CTL_TX_EN | UART_CTL_TX_DMA)) == (UART_CTL_TX_EN | UART_CTL_TX_DMA) &&
           u->depth - u->tx.level >= u->tx_thresh;
}

static bool rx_request(const uart *u)
{
    return (u->control & UART_CTL_RX_DMA) != 0 && u->rx.level >= u->rx_thresh;
}

static void drive_line(uart *u, unsigned which, bool level)
{
    if (u->line_level[which] == level)
        return;
    u->line_level[which] = level;
    wdfdma_dev_dma_request(u->dev, u->line[which], level);
}

static void uart_update(uart *u)
{
    drive_line(u, UART_DMA_TX, tx_request(u));
    drive_line(u, UART_DMA_RX, rx_request(u));
    bool irq = ((u->status_sticky & UART_ST_RX_OVERRUN) && (u->control & UART_CTL_IE_OVERRUN)) ||
               ((u->status_sticky & UART_ST_RX_TIMEOUT) && (u->control & UART_CTL_IE_TIMEOUT));
    if (irq != u->irq_level) {
        u->irq_level = irq;
        if (irq)
            wdfdma_dev_irq_assert(u->dev, 0);
        else
            wdfdma_dev_irq_deassert(u->dev, 0);
    }
}

/* ---- receiver ----------------------------------------------------------------------- */

static void uart_rx_timeout(wdfdma_dev *dev, void *arg)
{
    uart *u = arg;
    uint64_t idle = wdfdma_dev_now(dev) - u->last_rx_ns;
    uint64_t limit = 4 * byte_time_ns(u);

    u->to_timer = 0;
    if (u->rx.level == 0)
        return;
    if (idle < limit) {
        u->to_timer = wdfdma_dev_after(dev, limit - idle, uart_rx_timeout, u);
        return;
    }
    u->status_sticky |= UART_ST_RX_TIMEOUT;
    uart_update(u);
}

/* A byte's last bit arrived on the RX line. */
static void uart_receive(uart *u, uint8_t b)
{
    u->last_rx_ns = wdfdma_dev_now(u->dev);
    if (!(u->control & UART_CTL_RX_EN) || !fifo_push(&u->rx, u->depth, b)) {
        u->status_sticky |= UART_ST_RX_OVERRUN;
        u->rx_dropped++;
        wdfdma_dev_trace(u->dev, "uart.overrun", u->rx_dropped, b);
    }
    if (u->to_timer == 0 && u->divisor != 0)
        u->to_timer = wdfdma_dev_after(u->dev, 4 * byte_time_ns(u), uart_rx_timeout, u);
    uart_update(u);
}

static void uart_rxl_done(wdfdma_dev *dev, void *arg)
{
    uart *u = arg;
    uint8_t b;

    (void)dev;
    u->rxl_timer = 0;
    u->rxl_shifting = false;
    if (spsc_get(&u->host_in, &b))
        uart_receive(u, b);
    uart_rxl_kick(u);
}

static void uart_rxl_kick(uart *u)
{
    if (u->rxl_shifting || u->divisor == 0)
        return;
    if (atomic_load_explicit(&u->host_in.head, memory_order_relaxed) ==
        atomic_load_explicit(&u->host_in.tail, memory_order_acquire))
        return;
    u->rxl_shifting = true;
    u->rxl_timer = wdfdma_dev_after(u->dev, byte_time_ns(u), uart_rxl_done, u);
}

/* ---- transmitter -------------------------------------------------------------------- */

static void uart_tx_done(wdfdma_dev *dev, void *arg)
{
    uart *u = arg;

    (void)dev;
    u->tx_timer = 0;
    u->tx_shifting = false;
    if (u->control & UART_CTL_LOOPBACK)
        uart_receive(u, u->tx_byte);
    else if (!spsc_put(&u->host_out, u->tx_byte))
        wdfdma_dev_trace(u->dev, "uart.sink_full", u->tx_byte, 0);
    uart_tx_kick(u);
}

static void uart_tx_kick(uart *u)
{
    if (u->tx_shifting || u->divisor == 0 || !(u->control & UART_CTL_TX_EN))
        return;
    if (!fifo_pop(&u->tx, u->depth, &u->tx_byte))
        return;
    u->tx_shifting = true;
    u->tx_timer = wdfdma_dev_after(u->dev, byte_time_ns(u), uart_tx_done, u);
    uart_update(u);
}

/* ---- registers ---------------------------------------------------------------------- */

static uint32_t uart_status(const uart *u)
{
    uint32_t st = u->status_sticky;
    if (u->tx.level == 0 && !u->tx_shifting)
        st |= UART_ST_TX_EMPTY;
    if (u->tx.level == u->depth)
        st |= UART_ST_TX_FULL;
    if (u->rx.level == 0)
        st |= UART_ST_RX_EMPTY;
    if (u->rx.level == u->depth)
        st |= UART_ST_RX_FULL;
    if (u->line_level[UART_DMA_TX])
        st |= UART_ST_TX_REQ;
    if (u->line_level[UART_DMA_RX])
        st |= UART_ST_RX_REQ;
    return st;
}

static uint64_t uart_data_read(uart *u, unsigned width)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < width; i++) {
        uint8_t b = 0;
        if (!fifo_pop(&u->rx, u->depth, &b))
            u->status_sticky |= UART_ST_RX_UNDERRUN;
        v |= (uint64_t)b << (8u * i);
    }
    uart_update(u);
    return v;
}

static void uart_data_write(uart *u, unsigned width, uint64_t v)
{
    for (unsigned i = 0; i < width; i++)
        if (!fifo_push(&u->tx, u->depth, (uint8_t)(v >> (8u * i))))
            u->status_sticky |= UART_ST_TX_OVERFLOW;
    uart_update(u);
    uart_tx_kick(u);
}

static uint64_t uart_mmio_read(wdfdma_dev *dev, unsigned region, uint64_t offset, unsigned width)
{
    uart *u = wdfdma_dev_state(dev);

    (void)region;
    switch (offset) {
    case UART_REG_DATA:
        return uart_data_read(u, width);
    case UART_REG_STATUS:
        return uart_status(u);
    case UART_REG_TX_LEVEL:
        return u->tx.level;
    case UART_REG_RX_LEVEL:
        return u->rx.level;
    case UART_REG_CONTROL:
        return u->control;
    case UART_REG_BAUD:
        return u->divisor;
    case UART_REG_TX_THRESH:
        return u->tx_thresh;
    case UART_REG_RX_THRESH:
        return u->rx_thresh;
    case UART_REG_FIFO_DEPTH:
        return u->depth;
    case UART_REG_RX_DROPPED:
        return u->rx_dropped;
    default:
        return 0;
    }
}

/* Thresholds outside 1..depth are ignored (the register keeps its value). */
static void set_thresh(uint32_t *reg, uint64_t value, uint32_t depth)
{
    if (value >= 1 && value <= depth)
        *reg = (uint32_t)value;
}

static void uart_mmio_write(wdfdma_dev *dev, unsigned region, uint64_t offset, unsigned width,
                            uint64_t value)
{
    uart *u = wdfdma_dev_state(dev);

    (void)region;
    switch (offset) {
    case UART_REG_DATA:
        uart_data_write(u, width, value);
        return;
    case UART_REG_STATUS:
        u->status_sticky &= ~((uint32_t)value & UART_ST_STICKY);
        break;
    case UART_REG_CONTROL:
        u->control = (uint32_t)value & 0x7Fu;
        break;
    case UART_REG_BAUD:
        u->divisor = (uint32_t)value;
        break;
    case UART_REG_TX_THRESH:
        set_thresh(&u->tx_thresh, value, u->depth);
        break;
    case UART_REG_RX_THRESH:
        set_thresh(&u->rx_thresh, value, u->depth);
        break;
    default:
        return;
    }
    uart_update(u);
    uart_tx_kick(u);
    uart_rxl_kick(u);
}

/* ---- host API ----------------------------------------------------------------------- */

static uart *host_uart(wdfdma_dev *dev)
{
    if (dev == NULL || strcmp(wdfdma_dev_model_name(dev), "uart") != 0)
        return NULL;
    return wdfdma_dev_state(dev);
}

static void uart_host_poke(wdfdma_dev *dev, void *arg)
{
    (void)dev;
    uart_rxl_kick(arg);
}

long uart_host_inject(wdfdma_dev *dev, const void *buf, size_t len)
{
    uart *u = host_uart(dev);
    const uint8_t *p = buf;
    size_t n = 0;

    if (u == NULL || (buf == NULL && len != 0))
        return -EINVAL;
    while (n < len && spsc_put(&u->host_in, p[n]))
        n++;
    if (n > 0)
        wdfdma_dev_after(dev, 0, uart_host_poke, u);
    return (long)n;
}

long uart_host_collect(wdfdma_dev *dev, void *buf, size_t max)
{
    uart *u = host_uart(dev);
    uint8_t *p = buf;
    size_t n = 0;

    if (u == NULL || (buf == NULL && max != 0))
        return -EINVAL;
    while (n < max && spsc_get(&u->host_out, &p[n]))
        n++;
    return (long)n;
}

uint32_t uart_request_line(wdfdma_dev *dev, unsigned which)
{
    uart *u = host_uart(dev);
    if (u == NULL || which > UART_DMA_RX)
        return UINT32_MAX;
    return u->line[which];
}

/* ---- lifetime ----------------------------------------------------------------------- */

static void uart_cancel_timer(uart *u, wdfdma_timer_id *id)
{
    if (*id != 0)
        wdfdma_dev_cancel(u->dev, *id);
    *id = 0;
}

static void uart_reset(wdfdma_dev *dev)
{
    uart *u = wdfdma_dev_state(dev);

    uart_cancel_timer(u, &u->tx_timer);
    uart_cancel_timer(u, &u->rxl_timer);
    uart_cancel_timer(u, &u->to_timer);
    u->tx_shifting = false;
    u->rxl_shifting = false;
    memset(&u->tx, 0, sizeof u->tx);
    memset(&u->rx, 0, sizeof u->rx);
    u->status_sticky = 0;
    u->rx_dropped = 0;
    u->control = UART_CTL_TX_EN | UART_CTL_RX_EN | (u->opt_loopback ? UART_CTL_LOOPBACK : 0);
    u->divisor = u->opt_divisor;
    u->tx_thresh = u->opt_tx_thresh;
    u->rx_thresh = u->opt_rx_thresh;
    uart_update(u);
    uart_rxl_kick(u);
}

static int opt_range(wdfdma_dev *dev, const char *options, const char *key, uint64_t lo,
                     uint64_t hi, uint64_t *out)
{
    if (wdfdma_dev_opt_u64(dev, options, key, out) < 0)
        return -1;
    if (*out < lo || *out > hi) {
        wdfdma_dev_error(dev, "uart: %s=%llu is out of range %llu..%llu", key,
                         (unsigned long long)*out, (unsigned long long)lo, (unsigned long long)hi);
        return -1;
    }
    return 0;
}

/* Declare one DMA resource. Without an explicit line number take the lowest free one (the
 * machine rejects a line past its last with a message). */
static int declare_line(uart *u, const char *controller, uint64_t channel, uint64_t line,
                        unsigned which)
{
    if (line == UINT32_MAX) {
        wdfdma_machine *m = wdfdma_dev_machine(u->dev);
        line = 0;
        while (line < UINT32_MAX && wdfdma_machine_request_line_owner(m, (uint32_t)line) != NULL)
            line++;
    }
    if (wdfdma_dev_declare_dma(u->dev, controller, (uint32_t)channel, (uint32_t)line) < 0)
        return -1;
    u->line[which] = (uint32_t)line;
    return 0;
}

static int uart_init(wdfdma_dev *dev, const char *options)
{
    static const char *const known[] = {"fifo", "baud", "loopback", "controller", "tx_channel",
                                        "rx_channel", "tx_line", "rx_line", "tx_thresh",
                                        "rx_thresh", NULL};
    uart *u = wdfdma_dev_state(dev);
    uint64_t fifo = 16, baud = 115200, loopback = 1, tx_ch = 0, rx_ch = 1;
    uint64_t tx_line = UINT32_MAX, rx_line = UINT32_MAX, tx_thresh = 1, rx_thresh = 1;
    char controller[64] = "";

    u->dev = dev;
    if (wdfdma_dev_opt_check(dev, options, known) < 0 ||
        opt_range(dev, options, "fifo", 1, UART_MAX_FIFO, &fifo) < 0 ||
        opt_range(dev, options, "baud", 1, UART_CLOCK, &baud) < 0 ||
        opt_range(dev, options, "loopback", 0, 1, &loopback) < 0 ||
        opt_range(dev, options, "tx_channel", 0, 1023, &tx_ch) < 0 ||
        opt_range(dev, options, "rx_channel", 0, 1023, &rx_ch) < 0 ||
        opt_range(dev, options, "tx_line", 0, UINT32_MAX, &tx_line) < 0 ||
        opt_range(dev, options, "rx_line", 0, UINT32_MAX, &rx_line) < 0 ||
        opt_range(dev, options, "tx_thresh", 1, fifo, &tx_thresh) < 0 ||
        opt_range(dev, options, "rx_thresh", 1, fifo, &rx_thresh) < 0 ||
        wdfdma_dev_opt_str(dev, options, "controller", controller, sizeof controller) < 0)
        return -1;
    if (UART_CLOCK % baud != 0) {
        wdfdma_dev_error(dev, "uart: baud=%llu is not %u/n for a whole divisor n",
                         (unsigned long long)baud, UART_CLOCK);
        return -1;
    }
    u->depth = (uint32_t)fifo;
    u->opt_divisor = (uint32_t)(UART_CLOCK / baud);
    u->opt_loopback = loopback != 0;
    u->opt_tx_thresh = (uint32_t)tx_thresh;
    u->opt_rx_thresh = (uint32_t)rx_thresh;

    if (wdfdma_dev_declare_mmio(dev, UART_MMIO_SIZE) < 0 ||
        wdfdma_dev_declare_irq(dev, WDFDMA_IRQ_LEVEL, 0) < 0)
        return -1;
    const char *ctrl = controller[0] != '\0' ? controller : NULL;
    if (declare_line(u, ctrl, tx_ch, tx_line, UART_DMA_TX) < 0 ||
        declare_line(u, ctrl, rx_ch, rx_line, UART_DMA_RX) < 0)
        return -1;
    return 0;   /* the machine calls reset next: registers get their reset values there */
}

static const wdfdma_device_model uart_model = {
    .name = "uart",
    .summary = "serial port: TX/RX FIFOs, baud timing, system-DMA request lines, loopback",
    .hardware_id = UART_HARDWARE_ID,
    .state_size = sizeof(uart),
    .init = uart_init,
    .reset = uart_reset,
    .mmio_read = uart_mmio_read,
    .mmio_write = uart_mmio_write,
};
WDFDMA_DEVICE_MODEL(uart_model)
