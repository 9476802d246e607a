/*
 * sdmac: a SoC system DMA controller shared by several peripherals.
 *
 * Model name "sdmac", hardware ID "ACPI\\WDFD0001". The WDM system-DMA adapter drives it
 * through wdfdma_sysdma_ops (start / cancel / residue / configure); peripherals pace
 * demand-mode channels with their request lines. Completion reaches the HAL through the
 * transfer's done callback: no peripheral interrupt is needed.
 *
 * Options ("key=value,..."):
 *   channels=8      number of channels, 1..32
 *   bw=100000000    controller bandwidth in bytes per second (K/M/G suffixes allowed)
 *   beat_ns=20      fixed cost of one beat (bus arbitration + turnaround), ns
 *   burst=1         reset value of every channel's burst length, 1..SDMAC_MAX_BURST
 *
 * Data movement. One engine moves one beat at a time for all channels. A beat is
 * burst x width bytes (the last beat of a pass may be shorter) and costs
 * beat_ns + bytes / bw. The memory side is read/written by logical address through the
 * bus (the controller's own DMA); the device side is the peripheral register at the
 * transfer's device address, accessed `width` bytes at a time (one register access per
 * element, as a real controller's device port does). Data moves when the beat ends.
 *
 * Modes.
 *   block mode   a beat is granted whenever the engine is free, at full bandwidth,
 *                whatever the peripheral's FIFO state: software must know it fits.
 *   demand mode  a beat is granted only while the peripheral's request line is asserted;
 *                the peripheral asserts it while its FIFO can take (or supply) one beat.
 *   looped       (auto-initialize) at the end of the buffer the channel wraps to its
 *                start, calls done(ctx, 0, 0, wrap=true) once per wrap, and runs until
 *                cancelled.
 *
 * Arbitration: among channels that can move a beat now, the highest priority wins
 * (priority 3 highest, 0 lowest, reset 0); equal priorities are served round-robin in
 * channel order starting after the channel served last. Deterministic: no randomness.
 *
 * Completion: done(ctx, status, residue, wrap) in hardware context, with the channel
 * already idle (the callback may start the next transfer on it).
 *   status 0 complete (residue 0, or > 0 after a "short" fault)
 *   status 1 error    (a "dma-error" fault or a memory-side DMA fault; residue = bytes
 *                      not moved; the channel's ERROR bit is set and the IRQ asserted)
 *   status 2 cancelled (cancel(); residue = bytes of the current pass not moved; the
 *                      notification is delivered in hardware context after cancel()
 *                      returns, and the channel is busy until then)
 *
 * Faults (wdfdma_dev_fault, asked once when a transfer starts): "dma-error" makes the
 * transfer fail at its midpoint (status 1); "short" makes it complete at its midpoint
 * with the rest as residue (status 0). The midpoint is rounded down to the width.
 *
 * Request lines: arbitration samples wdfdma_machine_dma_request_asserted(); the sysdma
 * request_changed hook wakes an idle engine when a line rises. Starting a demand-mode
 * transfer acknowledges the line (wdfdma_dev_dma_request_ack) so the peripheral knows a
 * channel is armed.
 *
 * Channel count: the ops table's `channels` is the model maximum (SDMAC_MAX_CHANNELS), the
 * bound for a peripheral's declared channel; an instance has channels=N (CHANNELS
 * register), and start() on a channel >= N fails with -EINVAL.
 *
 * start() errors: -EINVAL bad channel, width not 1/2/4/8, length 0, logical address or
 * length not a multiple of the width, NULL done callback, demand mode on a request line
 * no peripheral owns; -ENXIO device address decodes to no device; -EBUSY channel busy.
 * A failed start never calls done.
 *
 * Channel states:
 *
 *        start() ok                     last beat / fault (done 0 or 1)
 *   IDLE -----------> ACTIVE --------------------------------------------> IDLE
 *    ^                 |  ^  \ looped: wrap (done 0, wrap=true) /
 *    |                 |  +---+
 *    |      cancel()   v
 *    +------------ CANCELLING   (done 2 delivered from a hardware event)
 *
 *   IDLE        no transfer; start() accepted; configure() accepted.
 *   ACTIVE      transfer programmed; pos < length; may own the engine's current beat.
 *   CANCELLING  transfer stopped, notification pending; start() returns -EBUSY.
 *
 * Register map (MMIO region 0, 4 KiB, 32-bit registers, read-only except ERROR):
 *   0x000 ID        0x53444D43 ("SDMC")
 *   0x004 CHANNELS  number of channels
 *   0x008 BUSY      bit n: channel n is not IDLE
 *   0x00C ERROR     bit n: channel n ended in error; write 1 to clear. The controller's
 *                   interrupt line is asserted while any bit is set.
 *   0x010 BEATS     beats moved since reset (low 32 bits)
 *   0x100 + 0x10*n  channel n:
 *         +0x0 RESIDUE  bytes of the current pass not yet moved (0 when idle)
 *         +0x4 STATE    [1:0] state (0 idle, 1 active, 2 cancelling), [2] demand,
 *                       [3] looped, [4] to_device, [7:5] reserved, [11:8] width bytes,
 *                       [13:12] priority, [23:16] burst length
 *         +0x8 WRAPS    completed wraps of a looped transfer (low 32 bits)
 *         +0xC LINE     request line of the current transfer
 */
#ifndef WDFDMA_DEVICES_SDMAC_H
#define WDFDMA_DEVICES_SDMAC_H

#include <stdint.h>

#define SDMAC_HARDWARE_ID "ACPI\\WDFD0001"
#define SDMAC_MAX_CHANNELS 32u
#define SDMAC_MAX_BURST 16u          /* beats carry at most 16 x 8 = 128 bytes */

/* Custom channel functions (ConfigureAdapterChannel's FunctionNumber). Unknown numbers
 * return -ENOTSUP; a bad context returns -EINVAL. */
#define SDMAC_FN_BURST 1u            /* context: ULONG* burst length 1..SDMAC_MAX_BURST;
                                        takes effect at the channel's next beat */
#define SDMAC_FN_PRIORITY 2u         /* context: ULONG* priority 0..3 (3 highest) */
#define SDMAC_FN_RESET 3u            /* context ignored: burst, priority and ERROR bit back
                                        to reset values; -EBUSY unless the channel is idle */

/* Registers */
#define SDMAC_REG_ID 0x000u
#define SDMAC_REG_CHANNELS 0x004u
#define SDMAC_REG_BUSY 0x008u
#define SDMAC_REG_ERROR 0x00Cu
#define SDMAC_REG_BEATS 0x010u
#define SDMAC_REG_CHAN_BASE 0x100u
#define SDMAC_REG_CHAN_STRIDE 0x10u
#define SDMAC_CH_RESIDUE 0x0u
#define SDMAC_CH_STATE 0x4u
#define SDMAC_CH_WRAPS 0x8u
#define SDMAC_CH_LINE 0xCu
#define SDMAC_ID_VALUE 0x53444D43u
#define SDMAC_MMIO_SIZE 4096u

#define SDMAC_STATE_IDLE 0u
#define SDMAC_STATE_ACTIVE 1u
#define SDMAC_STATE_CANCELLING 2u

#endif
