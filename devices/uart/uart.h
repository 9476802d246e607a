/*
 * uart: a serial port with TX/RX FIFOs, baud-rate timing and system-DMA request lines.
 *
 * Model name "uart", hardware ID "ACPI\\WDFD0002".
 *
 * Options ("key=value,..."):
 *   fifo=16          depth of each FIFO in bytes, 1..UART_MAX_FIFO
 *   baud=115200      line rate; must be UART_CLOCK / n (921600, 460800, 230400, 115200,
 *                    57600, 38400, 19200, 9600, ...). A byte is 10 bits on the line.
 *   loopback=1       1: the TX line feeds the RX line; 0: TX goes to the host sink and RX
 *                    comes from uart_host_inject()
 *   controller=NAME  system DMA controller the request lines go to (default: the first)
 *   tx_channel=0     controller channel of the TX resource
 *   rx_channel=1     controller channel of the RX resource
 *   tx_line=N        request line numbers, 0..63 (default: the lowest free lines)
 *   rx_line=N
 *   tx_thresh=1      TX request asserted while TX FIFO room >= tx_thresh
 *   rx_thresh=1      RX request asserted while RX FIFO level >= rx_thresh
 *
 * Resources, in order: MMIO region 0 (4 KiB), interrupt 0 (level), DMA 0 = TX, DMA 1 = RX.
 *
 * Register map (region 0; DATA accepts widths 1/2/4/8, the rest are 32-bit):
 *   0x00 DATA       write: push `width` bytes (little-endian) into the TX FIFO; a byte
 *                   that finds it full is dropped and sets TX_OVERFLOW.
 *                   read: pop `width` bytes from the RX FIFO; a byte missing (FIFO empty)
 *                   reads as 0 and sets RX_UNDERRUN.
 *   0x04 STATUS     [0] TX_EMPTY (FIFO and shifter idle)  [1] TX_FULL  [2] RX_EMPTY
 *                   [3] RX_FULL  [4] RX_OVERRUN*  [5] RX_UNDERRUN*  [6] TX_OVERFLOW*
 *                   [7] RX_TIMEOUT*  [8] TX request line level  [9] RX request line level
 *                   (* sticky: write 1 to clear)
 *   0x08 TX_LEVEL   bytes in the TX FIFO (RO)
 *   0x0C RX_LEVEL   bytes in the RX FIFO (RO)
 *   0x10 CONTROL    [0] TX_EN  [1] RX_EN  [2] TX_DMA (TX request enabled)
 *                   [3] RX_DMA  [4] LOOPBACK  [5] IE_OVERRUN  [6] IE_TIMEOUT
 *                   reset: TX_EN | RX_EN | (LOOPBACK if loopback=1)
 *   0x14 BAUD       divisor: baud = UART_CLOCK / divisor; 0 stops the line clock
 *   0x18 TX_THRESH  1..fifo
 *   0x1C RX_THRESH  1..fifo
 *   0x20 FIFO_DEPTH (RO)
 *   0x24 RX_DROPPED bytes lost to overrun since reset (RO)
 *
 * Timing: the TX shifter takes one byte from the TX FIFO and puts it on the line after
 * 10 bit times; the RX side receives a byte when its last bit arrives. A byte arriving with
 * the RX FIFO full (or RX_EN clear) is dropped: RX_OVERRUN is set and RX_DROPPED counts it.
 * RX_TIMEOUT is set when the RX FIFO holds data and no byte arrived for 4 byte times.
 * The interrupt line is asserted while (RX_OVERRUN and IE_OVERRUN) or (RX_TIMEOUT and
 * IE_TIMEOUT).
 *
 * DMA requests: TX asserted while TX_EN, TX_DMA and room >= TX_THRESH; RX asserted while
 * RX_DMA and level >= RX_THRESH. A demand-mode beat must not exceed the threshold
 * (burst x width <= threshold) or it overflows/underruns the FIFO; a tail shorter than
 * RX_THRESH is left in the FIFO for the RX timeout to report.
 */
#ifndef WDFDMA_DEVICES_UART_H
#define WDFDMA_DEVICES_UART_H

#include <stddef.h>
#include <stdint.h>
#include "wdfdma/machine.h"

#define UART_HARDWARE_ID "ACPI\\WDFD0002"
#define UART_CLOCK 921600u           /* baud = UART_CLOCK / divisor */
#define UART_MAX_FIFO 4096u
#define UART_HOST_BUF 65536u         /* bytes the host sink / source can hold */

#define UART_REG_DATA 0x00u
#define UART_REG_STATUS 0x04u
#define UART_REG_TX_LEVEL 0x08u
#define UART_REG_RX_LEVEL 0x0Cu
#define UART_REG_CONTROL 0x10u
#define UART_REG_BAUD 0x14u
#define UART_REG_TX_THRESH 0x18u
#define UART_REG_RX_THRESH 0x1Cu
#define UART_REG_FIFO_DEPTH 0x20u
#define UART_REG_RX_DROPPED 0x24u
#define UART_MMIO_SIZE 4096u

#define UART_ST_TX_EMPTY 0x001u
#define UART_ST_TX_FULL 0x002u
#define UART_ST_RX_EMPTY 0x004u
#define UART_ST_RX_FULL 0x008u
#define UART_ST_RX_OVERRUN 0x010u
#define UART_ST_RX_UNDERRUN 0x020u
#define UART_ST_TX_OVERFLOW 0x040u
#define UART_ST_RX_TIMEOUT 0x080u
#define UART_ST_TX_REQ 0x100u
#define UART_ST_RX_REQ 0x200u
#define UART_ST_STICKY (UART_ST_RX_OVERRUN | UART_ST_RX_UNDERRUN | UART_ST_TX_OVERFLOW | \
                        UART_ST_RX_TIMEOUT)

#define UART_CTL_TX_EN 0x01u
#define UART_CTL_RX_EN 0x02u
#define UART_CTL_TX_DMA 0x04u
#define UART_CTL_RX_DMA 0x08u
#define UART_CTL_LOOPBACK 0x10u
#define UART_CTL_IE_OVERRUN 0x20u
#define UART_CTL_IE_TIMEOUT 0x40u

/* DMA resource indices among the device's DMA resources (declaration order). */
#define UART_DMA_TX 0u
#define UART_DMA_RX 1u

/* Host side of the serial line (tests, hosts). Both return -EINVAL if `dev` is not a
 * uart. uart_host_inject queues bytes on the RX line (they arrive at the baud rate, one
 * per byte time, whatever LOOPBACK says: both feed the receiver); it returns the number
 * queued, fewer than `len` if the host source is full. uart_host_collect moves up to `max`
 * bytes that left the TX line with LOOPBACK clear into `buf` and returns how many. */
long uart_host_inject(wdfdma_dev *dev, const void *buf, size_t len);
long uart_host_collect(wdfdma_dev *dev, void *buf, size_t max);
/* The request line numbers of the TX / RX resources (UINT32_MAX if not a uart). */
uint32_t uart_request_line(wdfdma_dev *dev, unsigned which);

#endif
