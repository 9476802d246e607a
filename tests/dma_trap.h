/*
 * dma_trap.h - catching an expected bug check in the DMA test rigs.
 *
 * A rig (tdu in fx_dma_testutil.h, sdu in fx_sysdma_testutil.h) has the fields
 *     jmp_buf jb; volatile bool armed; wdfdma_bugcheck bc; int traps;
 * and installs a handler that calls dma_trap_fire. DMA_TRAP runs a statement that must bug
 * check: the handler records the report and jumps back. A bug check while not armed is a
 * test failure: the handler returns and the machine aborts, as a real bug check would.
 */
#ifndef WDFDMA_TESTS_DMA_TRAP_H
#define WDFDMA_TESTS_DMA_TRAP_H

#include <setjmp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include "wdfdma/machine.h"

static inline void dma_trap_fire(jmp_buf jb, volatile bool *armed, wdfdma_bugcheck *dst,
                                 int *traps, const wdfdma_bugcheck *bc)
{
    if (!*armed) {
        fprintf(stderr, "unexpected bug check %#x (%#llx, %#llx, %#llx): %s\n", bc->code,
                (unsigned long long)bc->p[0], (unsigned long long)bc->p[1],
                (unsigned long long)bc->p[2], bc->message);
        return;   /* aborts */
    }
    *dst = *bc;
    (*traps)++;
    *armed = false;
    longjmp(jb, 1);
}

/* Run `stmt`, which must bug check; afterwards t->bc holds the report. */
#define DMA_TRAP(t, stmt)                                                                  \
    do {                                                                                   \
        int traps_before_ = (t)->traps;                                                    \
        (t)->armed = true;                                                                 \
        if (setjmp((t)->jb) == 0) {                                                        \
            stmt;                                                                          \
        }                                                                                  \
        (t)->armed = false;                                                                \
        if ((t)->traps != traps_before_ + 1)                                               \
            fail_msg("no bug check from: %s", #stmt);                                      \
    } while (0)

/* A DMA fatal error: 0x10D, P1 = WDF_DMA_FATAL_ERROR, P2 = transaction, P3 = state. */
#define DMA_EXPECT_FATAL(t, tr, state, stmt)                                               \
    do {                                                                                   \
        DMA_TRAP(t, stmt);                                                                 \
        assert_int_equal((t)->bc.code, 0x10D);                                             \
        assert_int_equal((t)->bc.p[0], WDF_DMA_FATAL_ERROR);                               \
        assert_int_equal((t)->bc.p[1], (uint64_t)(uintptr_t)(tr));                         \
        assert_int_equal((t)->bc.p[2], (uint64_t)(state));                                 \
    } while (0)

#endif
