/*
 * sgdma: a PCI bus-master scatter/gather DMA engine (PLX-9656 class) with on-device memory.
 *
 * This header is the device's data sheet. A KMDF driver does not include it (drivers see
 * only WDK headers): the driver author mirrors the register map and the descriptor layouts
 * in driver-private definitions. Everything here is therefore a stable contract: offsets,
 * bit positions and reset values do not change within a major VERSION.
 *
 * ---- the device ---------------------------------------------------------------------
 * Two DMA channels, one per direction:
 *   channel 0  host memory  -> device memory   (the driver's WriteToDevice)
 *   channel 1  device memory -> host memory    (the driver's ReadFromDevice)
 * Each channel runs a chain of descriptors that lives in host memory (normally the
 * driver's common buffer). The device fetches every descriptor by DMA read at its logical
 * address, moves the data between the host logical address and the device-memory offset,
 * writes the descriptor's status word back, and follows `next` until a descriptor has
 * SGDMA_DESC_LAST, an error stops the chain, or a short transfer ends it.
 *
 * Resources: one MMIO region (BAR0, SGDMA_BAR0_SIZE bytes) and one interrupt: a
 * level-triggered shareable line (default) or, with option msi=1, two MSI messages
 * (message N belongs to channel N).
 *
 * Model options ("key=value,..."; sizes take K/M/G = powers of 1024):
 *   mem=1M          on-device memory, 4K..1G bytes
 *   addr_bits=64    32 or 64: a 32-bit device cannot emit an address >= 4 GiB; such a DMA
 *                   (descriptor or data) ends the descriptor with a DMA-fault error
 *   bw=4000000000   transfer bandwidth, bytes per second of machine time
 *   desc_ns=200     per-descriptor cost (fetch and set-up), ns
 *   irq_ns=1000     interrupt latency: event -> interrupt status/line, ns
 *   timing=1        0: every delay is zero (data moves as fast as the CPU copies), but
 *                   still in scheduled hardware events, never inside the doorbell write
 *   msi=0           1: one MSI message per channel instead of the line
 *
 * Timing of one chain (timing=1), doorbell at time T:
 *   descriptor i completes at T + sum over 0..i of (desc_ns + ceil(length * 1e9 / bw));
 *   its interrupt status is set (and the line asserted) irq_ns later.
 * Interrupt events of a channel that occur within one irq_ns window coalesce into one
 * update of SGDMA_REG_INT_STATUS (like interrupt moderation on real engines).
 *
 * Injected faults (the machine's fault plan; asked at these points):
 *   "dma-error"     at each transfer: the descriptor ends with ERR_DMA, nothing moved
 *   "short"         at each channel-1 transfer: half the bytes move, the chain ends
 *   "lost-irq"      when interrupt status would be set: it is not (status bits still are)
 *   "late-irq"      when an interrupt is scheduled: 100 us later than irq_ns
 *   "dup-irq"       after an interrupt is signalled: signalled again 1 us later
 *   "spurious-irq"  at each descriptor completion: a signal with no status bit behind it
 * A duplicate or spurious signal is an MSI message, or a pulse on the line that ends when
 * INT_STATUS is read or after 1 us. These fixed delays apply with timing=0 as well.
 *
 * ---- registers (BAR0; all 32-bit, little-endian) ------------------------------------
 * Registers are accessed 4 bytes wide and 4-byte aligned. An 8-byte aligned access
 * covers two consecutive registers, the lower offset first (so DESC_LO/HI or CUR_LO/HI
 * move as one 64-bit value). Narrower reads return the addressed bytes of the register;
 * narrower writes are ignored. Unlisted offsets read 0 and ignore writes.
 *
 * Global                      access  reset
 *   0x000 ID                    RO    0x965610B5  device 0x9656 << 16 | vendor 0x10B5
 *   0x004 VERSION               RO    0x00010000  major << 16 | minor
 *   0x008 CAPS                  RO    bits 7:0 address bits (32 or 64), bits 11:8 number
 *                                     of channels (2), bit 16 MSI mode
 *   0x00C DEVMEM_SIZE           RO    bytes of on-device memory
 *   0x010 INT_STATUS            RW1C  0           bit ch: channel done, bit 8+ch: error
 *   0x014 INT_MASK              RW    0           same bits; 1 = masked (no line / MSI)
 *   0x018 RESET                 WO    -           write SGDMA_RESET_KEY: whole-device reset
 *
 * Per channel, at SGDMA_CH_BASE(ch) = 0x100 + ch * 0x40
 *   +0x00 DESC_LO               RW    0           first descriptor's logical address,
 *   +0x04 DESC_HI               RW    0           16-byte aligned; latched at START
 *   +0x08 CTRL                  RW    0           see SGDMA_CTRL_*; START/ABORT/RESET read 0
 *   +0x0C STATUS                RO/W1C 0          see SGDMA_STATUS_*; BUSY is read-only
 *   +0x10 COUNT                 RO    0           descriptors completed since START
 *   +0x14 RESIDUE               RO    0           residue of the last completed or failed
 *                                                 descriptor (bytes NOT transferred)
 *   +0x18 CUR_LO                RO    0           logical address of the descriptor in
 *   +0x1C CUR_HI                RO    0           progress, or the last one processed
 *   +0x20 BYTES                 RO    0           bytes transferred since START (mod 2^32)
 *
 * Interrupts: a channel with CTRL.IE set raises INT_STATUS.DONE(ch) when its chain ends
 * normally (LAST completed, or a short transfer) and when a descriptor with
 * SGDMA_DESC_INTERRUPT completes; it raises INT_STATUS.ERROR(ch) when its chain stops on
 * an error. The line is asserted while (INT_STATUS & ~INT_MASK) != 0 and deasserted when
 * the driver writes those bits back to INT_STATUS (write 1 to clear). With msi=1 the
 * device sends message ch when an unmasked bit of channel ch becomes set (or is unmasked
 * while set). Channel STATUS bits are set regardless of IE; clearing them does not touch
 * INT_STATUS and vice versa.
 *
 * START clears STATUS (then sets BUSY), COUNT, RESIDUE and BYTES, latches DESC_HI:LO
 * into CUR and CTRL.DESC64 for the chain. A START while the channel is BUSY is ignored. An ABORT stops the channel at once: the
 * descriptor in progress is neither transferred nor written back, STATUS.ABORTED is set,
 * no interrupt is raised and the channel's interrupt events still inside their latency
 * window are dropped. A channel RESET (or the global RESET, or a bus reset)
 * additionally returns the channel's registers to their reset values; device memory keeps
 * its contents.
 *
 * ---- descriptors (in host memory, little-endian, 16-byte aligned) ------------------
 * CTRL.DESC64 selects the layout for the whole chain (latched at START).
 *
 * 64-bit layout, struct sgdma_desc64 (32 bytes):
 *   0x00 host_addr   u64  host logical address of the data
 *   0x08 next        u64  next descriptor's logical address (ignored with LAST)
 *   0x10 length      u32  bytes, 1..SGDMA_DESC_MAX_LEN
 *   0x14 dev_offset  u32  device-memory offset; dev_offset + length <= DEVMEM_SIZE
 *   0x18 flags       u32  SGDMA_DESC_LAST | _INTERRUPT | _FROM_DEVICE; other bits 0
 *   0x1C status      u32  written by the device (SGDMA_DS_*); its input value is ignored
 *
 * 32-bit layout, struct sgdma_desc32 (16 bytes), for 32-bit-profile drivers:
 *   0x00 host_addr   u32  host logical address of the data
 *   0x04 next_flags  u32  next descriptor's address (16-byte aligned) | flags in bits 3:0
 *   0x08 dev_offset  u32  device-memory offset
 *   0x0C count_status u32 in: length in bits 23:0, bits 31:24 zero (a descriptor that
 *                         still carries a written-back status is rejected, so a ring
 *                         must be re-armed); out: the status word (SGDMA_DS_*)
 *
 * Status word written back (both layouts):
 *   bits 23:0  residue: bytes NOT transferred (0 on success, length on error)
 *   bits 27:24 error code: SGDMA_DSERR_*
 *   bit 30     ERROR
 *   bit 31     DONE: the device has finished with this descriptor (success or error)
 *
 * Errors stop the chain at the failing descriptor (its status word is written back when
 * the descriptor itself could be fetched) and set a channel STATUS error bit:
 *   ERR_DMA    a descriptor fetch, data transfer or write-back hit no mapping, or an
 *              address the device cannot emit (>= 4 GiB on addr_bits=32)
 *   ERR_DESC   misaligned descriptor address, length 0 or > SGDMA_DESC_MAX_LEN,
 *              reserved flag bits set, or FROM_DEVICE not matching the channel
 *   ERR_RANGE  dev_offset + length beyond device memory
 * A short transfer (channel 1 only: the device had fewer bytes) ends the chain without an
 * error: the descriptor's residue is nonzero, STATUS.DONE and INT_STATUS.DONE are set.
 */
#ifndef WDFDMA_DEVICES_SGDMA_H
#define WDFDMA_DEVICES_SGDMA_H

#include <stddef.h>
#include <stdint.h>
#include "wdfdma/machine.h"

#define SGDMA_VENDOR_ID 0x10B5u
#define SGDMA_DEVICE_ID 0x9656u
#define SGDMA_HARDWARE_ID "PCI\\VEN_10B5&DEV_9656&SUBSYS_00000000"
#define SGDMA_BAR0_SIZE 0x1000u
#define SGDMA_CHANNELS 2u
#define SGDMA_CH_TO_DEVICE 0u     /* host -> device memory: WriteToDevice */
#define SGDMA_CH_FROM_DEVICE 1u   /* device memory -> host: ReadFromDevice */

/* ---- global registers ---- */
#define SGDMA_REG_ID 0x000u
#define SGDMA_REG_VERSION 0x004u
#define SGDMA_REG_CAPS 0x008u
#define SGDMA_REG_DEVMEM_SIZE 0x00Cu
#define SGDMA_REG_INT_STATUS 0x010u
#define SGDMA_REG_INT_MASK 0x014u
#define SGDMA_REG_RESET 0x018u

#define SGDMA_ID_VALUE ((SGDMA_DEVICE_ID << 16) | SGDMA_VENDOR_ID)
#define SGDMA_VERSION_VALUE 0x00010000u
#define SGDMA_CAPS_ADDR_BITS_MASK 0x000000FFu
#define SGDMA_CAPS_CHANNELS_SHIFT 8u
#define SGDMA_CAPS_CHANNELS_MASK 0x00000F00u
#define SGDMA_CAPS_MSI 0x00010000u
#define SGDMA_RESET_KEY 0x00000001u

#define SGDMA_INT_DONE(ch) (1u << (ch))
#define SGDMA_INT_ERROR(ch) (1u << (8u + (ch)))
#define SGDMA_INT_CHANNEL(ch) (SGDMA_INT_DONE(ch) | SGDMA_INT_ERROR(ch))
#define SGDMA_INT_ALL (SGDMA_INT_CHANNEL(0u) | SGDMA_INT_CHANNEL(1u))

/* ---- per-channel registers ---- */
#define SGDMA_CH_BASE(ch) (0x100u + (ch) * 0x40u)
#define SGDMA_CH_DESC_LO 0x00u
#define SGDMA_CH_DESC_HI 0x04u
#define SGDMA_CH_CTRL 0x08u
#define SGDMA_CH_STATUS 0x0Cu
#define SGDMA_CH_COUNT 0x10u
#define SGDMA_CH_RESIDUE 0x14u
#define SGDMA_CH_CUR_LO 0x18u
#define SGDMA_CH_CUR_HI 0x1Cu
#define SGDMA_CH_BYTES 0x20u

#define SGDMA_CTRL_START 0x01u    /* write 1: doorbell, latch DESC and run the chain */
#define SGDMA_CTRL_ABORT 0x02u    /* write 1: stop now, STATUS.ABORTED */
#define SGDMA_CTRL_DESC64 0x04u   /* 1: 64-bit descriptor layout, 0: 32-bit layout */
#define SGDMA_CTRL_IE 0x08u       /* 1: this channel raises INT_STATUS bits */
#define SGDMA_CTRL_RESET 0x10u    /* write 1: stop and reset this channel's registers */
#define SGDMA_CTRL_STICKY (SGDMA_CTRL_DESC64 | SGDMA_CTRL_IE)

#define SGDMA_STATUS_BUSY 0x01u       /* read-only: a chain is running */
#define SGDMA_STATUS_DONE 0x02u       /* chain ended normally (LAST or short) */
#define SGDMA_STATUS_ERR_DMA 0x04u    /* DMA fault: unmapped or unreachable address */
#define SGDMA_STATUS_ERR_DESC 0x08u   /* malformed descriptor */
#define SGDMA_STATUS_ERR_RANGE 0x10u  /* device-memory range exceeded */
#define SGDMA_STATUS_ABORTED 0x20u    /* stopped by CTRL.ABORT */
#define SGDMA_STATUS_ERRORS (SGDMA_STATUS_ERR_DMA | SGDMA_STATUS_ERR_DESC | SGDMA_STATUS_ERR_RANGE)
#define SGDMA_STATUS_W1C (SGDMA_STATUS_DONE | SGDMA_STATUS_ERRORS | SGDMA_STATUS_ABORTED)

/* ---- descriptors ---- */
#define SGDMA_DESC_ALIGN 16u
#define SGDMA_DESC_MAX_LEN 0x00FFFFFFu
#define SGDMA_DESC_LAST 0x1u          /* end of chain */
#define SGDMA_DESC_INTERRUPT 0x2u     /* raise INT_STATUS.DONE when this one completes */
#define SGDMA_DESC_FROM_DEVICE 0x4u   /* direction: set on channel 1, clear on channel 0 */
#define SGDMA_DESC_FLAGS (SGDMA_DESC_LAST | SGDMA_DESC_INTERRUPT | SGDMA_DESC_FROM_DEVICE)
#define SGDMA_DESC32_FLAGS_MASK 0xFu  /* low bits of next_flags; bit 3 reserved */

#define SGDMA_DS_RESIDUE_MASK 0x00FFFFFFu
#define SGDMA_DS_CODE_SHIFT 24u
#define SGDMA_DS_CODE_MASK 0x0F000000u
#define SGDMA_DS_ERROR 0x40000000u
#define SGDMA_DS_DONE 0x80000000u
#define SGDMA_DSERR_NONE 0u
#define SGDMA_DSERR_DMA 1u
#define SGDMA_DSERR_DESC 2u
#define SGDMA_DSERR_RANGE 3u

typedef struct sgdma_desc64 {
    uint64_t host_addr;
    uint64_t next;
    uint32_t length;
    uint32_t dev_offset;
    uint32_t flags;
    uint32_t status;
} sgdma_desc64;

typedef struct sgdma_desc32 {
    uint32_t host_addr;
    uint32_t next_flags;
    uint32_t dev_offset;
    uint32_t count_status;
} sgdma_desc32;

_Static_assert(sizeof(sgdma_desc64) == 32, "sgdma_desc64 layout");
_Static_assert(sizeof(sgdma_desc32) == 16, "sgdma_desc32 layout");
#define SGDMA_DESC64_STATUS_OFFSET 0x1Cu
#define SGDMA_DESC32_STATUS_OFFSET 0x0Cu

/* Tests only: the device memory of an sgdma instance and its size, or NULL if `dev` is
 * not an sgdma. Drivers never see device memory except through DMA. */
uint8_t *sgdma_debug_memory(wdfdma_dev *dev, size_t *len);

#endif
