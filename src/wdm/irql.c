/*
 * IRQL: KeGetCurrentIrql, KeRaiseIrql, KeLowerIrql. The machine owns the per-processor
 * IRQL and enforces direction (raising below the current IRQL is bug check 0x9, lowering
 * above it 0xA); lowering is where masked interrupts and DPCs get delivered.
 */
#include "wdm/wdm_internal.h"

KIRQL KeGetCurrentIrql(VOID)
{
    return mach_irql();
}

KIRQL KfRaiseIrql(KIRQL NewIrql)
{
    return mach_irql_raise(NewIrql);
}

VOID KeLowerIrql(KIRQL NewIrql)
{
    mach_irql_lower(NewIrql);
}

KIRQL KeRaiseIrqlToDpcLevel(VOID)
{
    return mach_irql_raise(DISPATCH_LEVEL);
}

KIRQL KeRaiseIrqlToSynchLevel(VOID)
{
    return mach_irql_raise(SYNCH_LEVEL);
}
