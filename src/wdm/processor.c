/*
 * Processors: numbers and counts. One processor group (group 0) of up to 64 processors.
 */
#include "wdm/wdm_internal.h"

ULONG KeGetCurrentProcessorNumber(VOID)
{
    return mach_cpu_current();
}

ULONG KeGetCurrentProcessorNumberEx(PPROCESSOR_NUMBER ProcNumber)
{
    ULONG cpu = mach_cpu_current();
    if (ProcNumber != NULL) {
        ProcNumber->Group = 0;
        ProcNumber->Number = (UCHAR)cpu;
        ProcNumber->Reserved = 0;
    }
    return cpu;
}

static KAFFINITY all_processors(ULONG count)
{
    return count >= 64 ? ~(KAFFINITY)0 : (((KAFFINITY)1 << count) - 1);
}

ULONG KeQueryActiveProcessorCount(PKAFFINITY ActiveProcessors)
{
    ULONG count = mach_cpu_count(wdm_machine("KeQueryActiveProcessorCount"));
    if (ActiveProcessors != NULL)
        *ActiveProcessors = all_processors(count);
    return count;
}

ULONG KeQueryActiveProcessorCountEx(USHORT GroupNumber)
{
    if (GroupNumber != 0 && GroupNumber != ALL_PROCESSOR_GROUPS)
        return 0;
    return mach_cpu_count(wdm_machine("KeQueryActiveProcessorCountEx"));
}

ULONG KeQueryMaximumProcessorCount(VOID)
{
    return mach_cpu_count(wdm_machine("KeQueryMaximumProcessorCount"));
}

KAFFINITY KeQueryActiveProcessors(VOID)
{
    return all_processors(mach_cpu_count(wdm_machine("KeQueryActiveProcessors")));
}
