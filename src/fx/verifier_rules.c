/*
 * The verifier's rule table (wdfdma/verifier.h): every check the framework (KMDF's
 * verifier) and the HAL (Driver Verifier's DMA verification) make, with its ID, a one-line
 * explanation and what happens — a report or a bug check with Windows' code and first
 * parameter. Every finding, whichever layer detects it, names one of these IDs;
 * docs/verifier.md is this table with detection and fixes.
 *
 * The layers below the framework cannot see this file (dependencies point down): they
 * pass the ID as a string literal, and tests check that every finding they provoke names
 * a rule that is in this table.
 */
#include <string.h>

#include "fx/internal.h"
#include "wdfdma/verifier.h"

#define REPORT(id_, text_, gated_) \
    { .id = (id_), .text = (text_), .action = WDFDMA_VERIFIER_REPORT, .verifier_only = (gated_) }
#define BUGCHECK(id_, text_, code_, p1_, gated_)                                          \
    { .id = (id_), .text = (text_), .action = WDFDMA_VERIFIER_BUGCHECK, .bugcheck = (code_), \
      .p1 = (p1_), .verifier_only = (gated_) }

static const wdfdma_verifier_rule rules[] = {
    /* ---- KMDF (bug check 0x10D WDF_VIOLATION) ---- */
    REPORT(FX_RULE_IRQL, "a DDI was called above its maximum IRQL", true),
    REPORT(FX_RULE_VERIFIER_BREAK,
           "recoverable DDI misuse (wrong profile, DMA version, state or argument)", true),
    BUGCHECK(FX_RULE_NULL_PARAMETER, "a required DDI parameter is NULL", WDF_VIOLATION,
             WDF_REQUIRED_PARAMETER_IS_NULL, false),
    BUGCHECK(FX_RULE_INVALID_HANDLE, "a handle is stale, forged or of the wrong type",
             WDF_VIOLATION, WDF_INVALID_HANDLE, false),
    BUGCHECK(FX_RULE_DMA_STATE,
             "a WDFDMATRANSACTION DDI was called in a state that does not allow it",
             WDF_VIOLATION, WDF_DMA_FATAL_ERROR, false),
    BUGCHECK(FX_RULE_REQUEST_IN_TRANSFER,
             "a WDFREQUEST was completed while its DMA transaction is still transferring",
             WDF_VIOLATION, WDF_VERIFIER_FATAL_ERROR, false),
    BUGCHECK(FX_RULE_WDF_VIOLATION, "another KMDF contract violation (see parameter 1)",
             WDF_VIOLATION, 0, false),
    REPORT(FX_RULE_LEAK_AT_REMOVAL,
           "a request, DMA transaction, common buffer or DMA enabler outlived its device",
           true),
    /* ---- DMA verification (bug check 0xE6 DRIVER_VERIFIER_DMA_VIOLATION) ---- */
    REPORT("DMA-ACCESS-UNMAPPED",
           "the device accessed memory that no live mapping (SG list, map register, common "
           "buffer) gives it", true),
    REPORT("DMA-SGLIST-AFTER-PUT",
           "the device accessed a scatter/gather list after PutScatterGatherList "
           "(the transfer was completed before the hardware finished)", true),
    REPORT("DMA-COMMON-BUFFER-FREED", "the device accessed a common buffer after it was freed",
           true),
    REPORT("DMA-MAPREG-HELD-AT-END",
           "map registers granted during a DMA transaction were still held when it ended",
           true),
    BUGCHECK("DMA-COMMON-BUFFER-OVERRUN",
             "the driver wrote outside a common buffer (its guard bands were modified)",
             DRIVER_VERIFIER_DMA_VIOLATION, 0x0F, true),
    REPORT("DMA-BUFFER-TOUCHED-DURING-DMA",
           "the driver modified a DMA buffer between mapping and flush, while the device "
           "owned it (found by forced double buffering)", true),
    BUGCHECK("DMA-FREED-TWICE",
             "a common buffer, adapter channel, map register base or SG list was freed or "
             "put twice, or was never allocated", DRIVER_VERIFIER_DMA_VIOLATION, 0x03, false),
    BUGCHECK("DMA-PUT-ADAPTER-OUTSTANDING",
             "PutDmaAdapter with common buffers, channels, SG lists or map registers "
             "outstanding", DRIVER_VERIFIER_DMA_VIOLATION, 0x07, true),
    BUGCHECK("DMA-NOT-FLUSHED", "map registers were freed before FlushAdapterBuffers",
             DRIVER_VERIFIER_DMA_VIOLATION, 0x0D, true),
    BUGCHECK("DMA-TOO-MANY-MAP-REGISTERS",
             "more map registers were asked for than IoGetDmaAdapter granted",
             DRIVER_VERIFIER_DMA_VIOLATION, 0x0C, false),
    BUGCHECK("DMA-VIOLATION", "another DMA contract violation (see parameter 1)",
             DRIVER_VERIFIER_DMA_VIOLATION, 0, false),
};

const wdfdma_verifier_rule *wdfdma_verifier_rule_at(unsigned index)
{
    return index < sizeof rules / sizeof rules[0] ? &rules[index] : NULL;
}

const wdfdma_verifier_rule *wdfdma_verifier_rule_find(const char *id)
{
    for (unsigned i = 0; id != NULL && i < sizeof rules / sizeof rules[0]; i++)
        if (strcmp(rules[i].id, id) == 0)
            return &rules[i];
    return NULL;
}
