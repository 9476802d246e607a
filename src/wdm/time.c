/*
 * Time: the machine clock (virtual on sim, monotonic since start on threads) seen through
 * the kernel's clocks. Interrupt time and the performance counter count from machine
 * start; system time starts at a fixed date so sim runs are reproducible.
 */
#include "wdm/wdm_internal.h"

#define PERF_FREQUENCY 10000000ll     /* 10 MHz, as on current Windows */
#define TIME_INCREMENT 156250u         /* 15.625 ms clock tick, in 100 ns units */
/* 2024-01-01 00:00:00 UTC in 100 ns units since 1601-01-01. */
#define SYSTEM_TIME_AT_START 133485408000000000ll

LONGLONG wdm_system_time_at(uint64_t ns)
{
    return SYSTEM_TIME_AT_START + (LONGLONG)(ns / 100);
}

static uint64_t now_ns(const char *ddi)
{
    return mach_now(wdm_machine(ddi));
}

/* Busy-waits: time passes (and, on sim, due hardware events and unmasked interrupts run)
 * but the processor does nothing else at its IRQL. */
VOID KeStallExecutionProcessor(ULONG MicroSeconds)
{
    mach_stall(wdm_machine("KeStallExecutionProcessor"), (uint64_t)MicroSeconds * 1000);
}

LARGE_INTEGER KeQueryPerformanceCounter(PLARGE_INTEGER PerformanceFrequency)
{
    LARGE_INTEGER count = { .QuadPart = (LONGLONG)(now_ns("KeQueryPerformanceCounter") / 100) };
    if (PerformanceFrequency != NULL)
        PerformanceFrequency->QuadPart = PERF_FREQUENCY;
    return count;
}

VOID KeQuerySystemTime(PLARGE_INTEGER CurrentTime)
{
    CurrentTime->QuadPart = wdm_system_time_at(now_ns("KeQuerySystemTime"));
}

VOID KeQuerySystemTimePrecise(PLARGE_INTEGER CurrentTime)
{
    CurrentTime->QuadPart = wdm_system_time_at(now_ns("KeQuerySystemTimePrecise"));
}

ULONGLONG KeQueryInterruptTime(VOID)
{
    return now_ns("KeQueryInterruptTime") / 100;
}

ULONGLONG KeQueryInterruptTimePrecise(PULONG64 QpcTimeStamp)
{
    ULONGLONG t = now_ns("KeQueryInterruptTimePrecise") / 100;
    if (QpcTimeStamp != NULL)
        *QpcTimeStamp = t;
    return t;
}

ULONGLONG KeQueryUnbiasedInterruptTime(VOID)
{
    return now_ns("KeQueryUnbiasedInterruptTime") / 100;
}

VOID KeQueryTickCount(PLARGE_INTEGER CurrentCount)
{
    CurrentCount->QuadPart = (LONGLONG)(now_ns("KeQueryTickCount") / 100 / TIME_INCREMENT);
}

ULONG KeQueryTimeIncrement(VOID)
{
    return TIME_INCREMENT;
}

static bool never(void *ctx)
{
    (void)ctx;
    return false;
}

/* Sleeps for the interval (negative: relative 100 ns units; positive: absolute system
 * time). PASSIVE or APC level only. */
NTSTATUS KeDelayExecutionThread(KPROCESSOR_MODE WaitMode, BOOLEAN Alertable,
                                PLARGE_INTEGER Interval)
{
    (void)WaitMode;
    (void)Alertable;
    wdfdma_machine *m = wdm_machine("KeDelayExecutionThread");
    wdm_check_irql_max(APC_LEVEL, "KeDelayExecutionThread");
    int64_t ns = wdm_timeout_ns(m, Interval);
    if (ns > 0)
        wdm_wait(m, never, NULL, ns);
    return STATUS_SUCCESS;
}
