/*
 * ring: an audio-like stream peripheral meant for a looped (auto-initialize) system DMA
 * transfer.
 *
 * Model name "ring", hardware ID "ACPI\\WDFD0003".
 *
 * Options ("key=value,..."):
 *   dir=playback     playback: consumes frames from its FIFO; capture: produces them
 *   rate=48000       frames per second, 1..1000000
 *   frame=4          bytes per frame, 1..64
 *   fifo=256         FIFO bytes, frame..RING_MAX_FIFO
 *   thresh=frame     request asserted while room (playback) / level (capture) >= thresh
 *   record=65536     bytes of the stream kept for ring_recorded(), 0..RING_MAX_RECORD
 *   controller=NAME  system DMA controller (default: the first)
 *   channel=0        controller channel of the DMA resource
 *   line=N           request line number, 0..63 (default: the lowest free line)
 *
 * Resources, in order: MMIO region 0 (4 KiB), interrupt 0 (level), DMA 0.
 *
 * Register map (region 0; DATA accepts widths 1/2/4/8, the rest are 32-bit):
 *   0x00 DATA       playback: write pushes `width` bytes into the FIFO (bytes that find it
 *                   full are dropped and set OVERFLOW); capture: read pops `width` bytes
 *                   (missing bytes read as 0 and set UNDERFLOW)
 *   0x04 STATUS     [0] RUNNING  [1] XRUN* (playback: a frame was due and the FIFO held
 *                   less than a frame; capture: a frame was produced with the FIFO full)
 *                   [2] OVERFLOW*  [3] UNDERFLOW*  [4] request line level
 *                   (* sticky: write 1 to clear; the interrupt is asserted while XRUN
 *                   and IE_XRUN)
 *   0x08 CONTROL    [0] RUN  [1] DMA (request enabled)  [2] IE_XRUN
 *   0x0C LEVEL      FIFO bytes (RO)
 *   0x10 THRESH     1..fifo
 *   0x14 RATE (RO)  0x18 FRAME (RO)
 *   0x1C FRAMES     frames consumed / produced since RUN was last set (RO, low 32 bits)
 *   0x20 XRUNS      frames lost to xruns since reset (RO)
 *
 * Timing: while RUN is set, one frame is due every 1e9 / rate ns (frame k at
 * start + k * 1e9 / rate, no drift). Playback takes a whole frame from the FIFO when one
 * is due (if fewer than `frame` bytes are there, nothing is taken and XRUN counts it);
 * capture pushes the frame of stream bytes k * frame .. k * frame + frame - 1, with byte i
 * of the stream = ring_capture_byte(i) (if it does not fit, it is lost and XRUN counts it).
 *
 * Recording: playback records every byte taken from the FIFO; capture records every byte
 * pushed into it — in stream order, the first `record` bytes.
 */
#ifndef WDFDMA_DEVICES_RING_H
#define WDFDMA_DEVICES_RING_H

#include <stddef.h>
#include <stdint.h>
#include "wdfdma/machine.h"

#define RING_HARDWARE_ID "ACPI\\WDFD0003"
#define RING_MAX_FIFO 4096u
#define RING_MAX_RECORD (16u << 20)

#define RING_REG_DATA 0x00u
#define RING_REG_STATUS 0x04u
#define RING_REG_CONTROL 0x08u
#define RING_REG_LEVEL 0x0Cu
#define RING_REG_THRESH 0x10u
#define RING_REG_RATE 0x14u
#define RING_REG_FRAME 0x18u
#define RING_REG_FRAMES 0x1Cu
#define RING_REG_XRUNS 0x20u
#define RING_MMIO_SIZE 4096u

#define RING_ST_RUNNING 0x01u
#define RING_ST_XRUN 0x02u
#define RING_ST_OVERFLOW 0x04u
#define RING_ST_UNDERFLOW 0x08u
#define RING_ST_REQ 0x10u
#define RING_ST_STICKY (RING_ST_XRUN | RING_ST_OVERFLOW | RING_ST_UNDERFLOW)

#define RING_CTL_RUN 0x01u
#define RING_CTL_DMA 0x02u
#define RING_CTL_IE_XRUN 0x04u

/* Byte `i` of the capture stream: position-encoded so misplaced or repeated data shows. */
static inline uint8_t ring_capture_byte(uint64_t i)
{
    return (uint8_t)((i * 31u) ^ (i >> 8) ^ 0x5Au);
}

/* Copy up to `max` recorded bytes starting at stream offset `from` into `buf`; returns
 * how many, or -EINVAL if `dev` is not a ring. Host thread or hardware context. */
long ring_recorded(wdfdma_dev *dev, uint64_t from, void *buf, size_t max);
/* Stream bytes consumed (playback) or produced (capture) so far, recorded or not. */
uint64_t ring_stream_bytes(wdfdma_dev *dev);
/* Frames lost to xruns since reset. */
uint64_t ring_xruns(wdfdma_dev *dev);
/* The request line of the ring's DMA resource (UINT32_MAX if not a ring). */
uint32_t ring_request_line(wdfdma_dev *dev);

#endif
