/*
 * dma_buf.h - a host buffer for the DMA test rigs (tdu in fx_dma_testutil.h, sdu in
 * fx_sysdma_testutil.h): `len` bytes at a chosen offset into its first page, guard bands
 * of DMA_BUF_CANARY either side, locked into an MDL. A transfer that touches a byte
 * outside va..va+len shows in dma_buf_guards_ok.
 */
#ifndef WDFDMA_TESTS_DMA_BUF_H
#define WDFDMA_TESTS_DMA_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <ntddk.h>

#define DMA_BUF_CANARY 0xEEu
#define DMA_BUF_GUARD 256u

typedef struct dma_buf {
    uint8_t *base;                  /* page-aligned, guard bands either side of va..va+len */
    size_t bytes;
    uint8_t *va;
    size_t len;
    PMDL mdl;
} dma_buf;

static inline void dma_buf_assert_bytes(const uint8_t *p, size_t n, uint8_t v)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != v)
            fail_msg("byte %zu of %zu is %#x, expected %#x", i, n, p[i], v);
}

static inline dma_buf dma_buf_new(size_t page_offset, size_t len)
{
    dma_buf b;
    b.bytes = (DMA_BUF_GUARD + page_offset + len + DMA_BUF_GUARD + 2 * PAGE_SIZE) &
              ~(size_t)(PAGE_SIZE - 1);
    b.base = aligned_alloc(PAGE_SIZE, b.bytes);
    assert_non_null(b.base);
    memset(b.base, DMA_BUF_CANARY, b.bytes);
    /* va: one page in (the leading guard band lives in the first page) */
    b.va = b.base + PAGE_SIZE + page_offset;
    b.len = len;
    b.mdl = IoAllocateMdl(b.va, (ULONG)len, FALSE, FALSE, NULL);
    assert_non_null(b.mdl);
    MmProbeAndLockPages(b.mdl, KernelMode, IoModifyAccess);
    return b;
}

static inline void dma_buf_guards_ok(const dma_buf *b)
{
    dma_buf_assert_bytes(b->base, (size_t)(b->va - b->base), DMA_BUF_CANARY);
    dma_buf_assert_bytes(b->va + b->len, b->bytes - (size_t)(b->va - b->base) - b->len,
                         DMA_BUF_CANARY);
}

static inline void dma_buf_free(dma_buf *b)
{
    if (b->mdl != NULL) {
        MmUnlockPages(b->mdl);
        IoFreeMdl(b->mdl);
    }
    free(b->base);
    memset(b, 0, sizeof *b);
}

#endif
