/*
 * DPCs. A KDPC embeds the machine's work node (in its private tail); the machine runs it
 * at DISPATCH_LEVEL on the target processor.
 *
 *   idle ──KeInsertQueueDpc──> queued ──machine runs it──> idle (routine called)
 *     ^                          │
 *     └────KeRemoveQueueDpc──────┘
 *
 * "Queued" is DpcData != NULL, as in Windows; DpcData holds the machine that will run it.
 * It is claimed with one compare-exchange, so a DPC is queued at most once even when two
 * processors insert it at the same time, and its arguments are those of the insert that
 * won. DpcData is cleared before the routine runs, so the routine may queue itself again.
 */
#include <stdatomic.h>

#include "wdm/wdm_internal.h"
#include "wdm/wdm_state.h"

#define DPC_OBJECT 19          /* KOBJECTS: DpcObject */
#define THREADED_DPC_OBJECT 24 /* KOBJECTS: ThreadedDpcObject */

_Static_assert(sizeof(mach_work) <= sizeof(WDFDMA_KOBJECT_PRIVATE),
               "the KDPC private tail must hold the machine's work node");

static mach_work *dpc_work(PKDPC dpc)
{
    return (mach_work *)(void *)&dpc->WdfdmaPrivate;
}

static void dpc_run(mach_work *w)
{
    PKDPC dpc = CONTAINING_RECORD((WDFDMA_KOBJECT_PRIVATE *)(void *)w, KDPC, WdfdmaPrivate);
    wdfdma_machine *m = __atomic_load_n(&dpc->DpcData, __ATOMIC_ACQUIRE);
    PVOID arg1 = dpc->SystemArgument1;
    PVOID arg2 = dpc->SystemArgument2;

    __atomic_store_n(&dpc->DpcData, NULL, __ATOMIC_RELEASE);
    dpc->DeferredRoutine(dpc, dpc->DeferredContext, arg1, arg2);
    if (mach_irql() != DISPATCH_LEVEL)
        mach_bugcheck(0xC8, ((uint64_t)mach_irql() << 16) | (DISPATCH_LEVEL << 8),
                      (uint64_t)(uintptr_t)dpc->DeferredRoutine, (uint64_t)(uintptr_t)dpc, 0,
                      "IRQL_UNEXPECTED_VALUE: DPC routine returned at IRQL %u", mach_irql());
    if (m != NULL) {
        atomic_fetch_sub(&wdm_state(m)->dpcs_pending, 1);
        mach_signal(m);
    }
}

static void dpc_init(PRKDPC Dpc, UCHAR type, PKDEFERRED_ROUTINE routine, PVOID context)
{
    memset(Dpc, 0, sizeof(*Dpc));
    Dpc->Type = type;
    Dpc->Importance = MediumImportance;
    Dpc->DeferredRoutine = routine;
    Dpc->DeferredContext = context;
    dpc_work(Dpc)->fn = dpc_run;
}

VOID KeInitializeDpc(PRKDPC Dpc, PKDEFERRED_ROUTINE DeferredRoutine, PVOID DeferredContext)
{
    dpc_init(Dpc, DPC_OBJECT, DeferredRoutine, DeferredContext);
}

/* Threaded DPCs run at DISPATCH_LEVEL here, which Windows also does when threaded DPCs
 * are disabled; a correct threaded DPC routine works either way. */
VOID KeInitializeThreadedDpc(PRKDPC Dpc, PKDEFERRED_ROUTINE DeferredRoutine,
                             PVOID DeferredContext)
{
    dpc_init(Dpc, THREADED_DPC_OBJECT, DeferredRoutine, DeferredContext);
}

BOOLEAN wdm_dpc_insert(wdfdma_machine *m, PKDPC dpc, unsigned cpu, PVOID arg1, PVOID arg2)
{
    PVOID expect = NULL;
    if (!__atomic_compare_exchange_n(&dpc->DpcData, &expect, (PVOID)m, false,
                                     __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
        return FALSE;
    dpc->SystemArgument1 = arg1;
    dpc->SystemArgument2 = arg2;
    if (dpc->Number >= MAXIMUM_PROCESSORS)
        cpu = dpc->Number - MAXIMUM_PROCESSORS;
    atomic_fetch_add(&wdm_state(m)->dpcs_pending, 1);
    if (!mach_dpc_queue(m, cpu, dpc_work(dpc))) {
        /* The machine still holds the node from an earlier insert whose routine has not
         * returned to it yet; the DPC counts as queued. */
        atomic_fetch_sub(&wdm_state(m)->dpcs_pending, 1);
        __atomic_store_n(&dpc->DpcData, NULL, __ATOMIC_RELEASE);
        return FALSE;
    }
    return TRUE;
}

BOOLEAN KeInsertQueueDpc(PRKDPC Dpc, PVOID SystemArgument1, PVOID SystemArgument2)
{
    wdfdma_machine *m = wdm_machine("KeInsertQueueDpc");
    return wdm_dpc_insert(m, Dpc, mach_cpu_current(), SystemArgument1, SystemArgument2);
}

BOOLEAN KeRemoveQueueDpc(PRKDPC Dpc)
{
    wdfdma_machine *m = __atomic_load_n(&Dpc->DpcData, __ATOMIC_ACQUIRE);
    if (m == NULL || !mach_dpc_remove(m, dpc_work(Dpc)))
        return FALSE;
    __atomic_store_n(&Dpc->DpcData, NULL, __ATOMIC_RELEASE);
    atomic_fetch_sub(&wdm_state(m)->dpcs_pending, 1);
    mach_signal(m);
    return TRUE;
}

VOID KeSetTargetProcessorDpc(PRKDPC Dpc, CCHAR Number)
{
    Dpc->Number = (USHORT)(MAXIMUM_PROCESSORS + (UCHAR)Number);
}

NTSTATUS KeSetTargetProcessorDpcEx(PKDPC Dpc, PPROCESSOR_NUMBER ProcNumber)
{
    if (ProcNumber == NULL || ProcNumber->Group != 0 || ProcNumber->Number >= MAXIMUM_PROCESSORS)
        return STATUS_INVALID_PARAMETER;
    KeSetTargetProcessorDpc(Dpc, (CCHAR)ProcNumber->Number);
    return STATUS_SUCCESS;
}

VOID KeSetImportanceDpc(PRKDPC Dpc, KDPC_IMPORTANCE Importance)
{
    Dpc->Importance = (UCHAR)Importance;
}

long wdm_dpcs_pending(wdfdma_machine *m)
{
    return atomic_load(&wdm_state(m)->dpcs_pending);
}

static bool no_dpcs_pending(void *ctx)
{
    return wdm_dpcs_pending(ctx) == 0;
}

/* Returns once every DPC queued before the call has run (PASSIVE_LEVEL only). */
VOID KeFlushQueuedDpcs(VOID)
{
    wdfdma_machine *m = wdm_machine("KeFlushQueuedDpcs");
    wdm_check_irql_max(PASSIVE_LEVEL, "KeFlushQueuedDpcs");
    wdm_wait(m, no_dpcs_pending, m, -1);
}
