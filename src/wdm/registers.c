/*
 * Device registers and I/O space. MmMapIoSpace asks the machine for a CPU address range
 * that decodes to a device's registers; READ/WRITE_REGISTER_* on it go through the bus
 * into the owning device model. Port I/O decodes the same way (our buses have no separate
 * I/O space).
 *
 * A register write is a DDI boundary: the device may raise an interrupt in response, and
 * on the sim engine it can be delivered right there.
 */
#include "wdm/wdm_internal.h"

static uint64_t reg_read(const volatile void *reg, unsigned width)
{
    return mach_mmio_read(reg, width);
}

static void reg_write(volatile void *reg, unsigned width, uint64_t value)
{
    mach_mmio_write(reg, width, value);
    mach_preempt_point();
}

UCHAR READ_REGISTER_UCHAR(volatile UCHAR *Register)
{
    return (UCHAR)reg_read(Register, 1);
}

USHORT READ_REGISTER_USHORT(volatile USHORT *Register)
{
    return (USHORT)reg_read(Register, 2);
}

ULONG READ_REGISTER_ULONG(volatile ULONG *Register)
{
    return (ULONG)reg_read(Register, 4);
}

ULONG64 READ_REGISTER_ULONG64(volatile ULONG64 *Register)
{
    return reg_read(Register, 8);
}

VOID WRITE_REGISTER_UCHAR(volatile UCHAR *Register, UCHAR Value)
{
    reg_write(Register, 1, Value);
}

VOID WRITE_REGISTER_USHORT(volatile USHORT *Register, USHORT Value)
{
    reg_write(Register, 2, Value);
}

VOID WRITE_REGISTER_ULONG(volatile ULONG *Register, ULONG Value)
{
    reg_write(Register, 4, Value);
}

VOID WRITE_REGISTER_ULONG64(volatile ULONG64 *Register, ULONG64 Value)
{
    reg_write(Register, 8, Value);
}

/* The _BUFFER_ forms access the same register Count times (a FIFO), as in Windows. */
VOID READ_REGISTER_BUFFER_UCHAR(volatile UCHAR *Register, PUCHAR Buffer, ULONG Count)
{
    for (ULONG i = 0; i < Count; i++)
        Buffer[i] = (UCHAR)reg_read(Register, 1);
}

VOID READ_REGISTER_BUFFER_USHORT(volatile USHORT *Register, PUSHORT Buffer, ULONG Count)
{
    for (ULONG i = 0; i < Count; i++)
        Buffer[i] = (USHORT)reg_read(Register, 2);
}

VOID READ_REGISTER_BUFFER_ULONG(volatile ULONG *Register, PULONG Buffer, ULONG Count)
{
    for (ULONG i = 0; i < Count; i++)
        Buffer[i] = (ULONG)reg_read(Register, 4);
}

VOID READ_REGISTER_BUFFER_ULONG64(volatile ULONG64 *Register, PULONG64 Buffer, ULONG Count)
{
    for (ULONG i = 0; i < Count; i++)
        Buffer[i] = reg_read(Register, 8);
}

VOID WRITE_REGISTER_BUFFER_UCHAR(volatile UCHAR *Register, PUCHAR Buffer, ULONG Count)
{
    for (ULONG i = 0; i < Count; i++)
        mach_mmio_write(Register, 1, Buffer[i]);
    mach_preempt_point();
}

VOID WRITE_REGISTER_BUFFER_USHORT(volatile USHORT *Register, PUSHORT Buffer, ULONG Count)
{
    for (ULONG i = 0; i < Count; i++)
        mach_mmio_write(Register, 2, Buffer[i]);
    mach_preempt_point();
}

VOID WRITE_REGISTER_BUFFER_ULONG(volatile ULONG *Register, PULONG Buffer, ULONG Count)
{
    for (ULONG i = 0; i < Count; i++)
        mach_mmio_write(Register, 4, Buffer[i]);
    mach_preempt_point();
}

VOID WRITE_REGISTER_BUFFER_ULONG64(volatile ULONG64 *Register, PULONG64 Buffer, ULONG Count)
{
    for (ULONG i = 0; i < Count; i++)
        mach_mmio_write(Register, 8, Buffer[i]);
    mach_preempt_point();
}

UCHAR READ_PORT_UCHAR(PUCHAR Port)
{
    return READ_REGISTER_UCHAR(Port);
}

USHORT READ_PORT_USHORT(PUSHORT Port)
{
    return READ_REGISTER_USHORT(Port);
}

ULONG READ_PORT_ULONG(PULONG Port)
{
    return READ_REGISTER_ULONG(Port);
}

VOID WRITE_PORT_UCHAR(PUCHAR Port, UCHAR Value)
{
    WRITE_REGISTER_UCHAR(Port, Value);
}

VOID WRITE_PORT_USHORT(PUSHORT Port, USHORT Value)
{
    WRITE_REGISTER_USHORT(Port, Value);
}

VOID WRITE_PORT_ULONG(PULONG Port, ULONG Value)
{
    WRITE_REGISTER_ULONG(Port, Value);
}

VOID READ_PORT_BUFFER_UCHAR(PUCHAR Port, PUCHAR Buffer, ULONG Count)
{
    READ_REGISTER_BUFFER_UCHAR(Port, Buffer, Count);
}

VOID READ_PORT_BUFFER_USHORT(PUSHORT Port, PUSHORT Buffer, ULONG Count)
{
    READ_REGISTER_BUFFER_USHORT(Port, Buffer, Count);
}

VOID READ_PORT_BUFFER_ULONG(PULONG Port, PULONG Buffer, ULONG Count)
{
    READ_REGISTER_BUFFER_ULONG(Port, Buffer, Count);
}

VOID WRITE_PORT_BUFFER_UCHAR(PUCHAR Port, PUCHAR Buffer, ULONG Count)
{
    WRITE_REGISTER_BUFFER_UCHAR(Port, Buffer, Count);
}

VOID WRITE_PORT_BUFFER_USHORT(PUSHORT Port, PUSHORT Buffer, ULONG Count)
{
    WRITE_REGISTER_BUFFER_USHORT(Port, Buffer, Count);
}

VOID WRITE_PORT_BUFFER_ULONG(PULONG Port, PULONG Buffer, ULONG Count)
{
    WRITE_REGISTER_BUFFER_ULONG(Port, Buffer, Count);
}

/* Returns NULL when no device register region covers the range (the machine reports it). */
PVOID MmMapIoSpace(PHYSICAL_ADDRESS PhysicalAddress, SIZE_T NumberOfBytes,
                   MEMORY_CACHING_TYPE CacheType)
{
    (void)CacheType;
    wdfdma_machine *m = wdm_machine("MmMapIoSpace");
    wdm_check_irql_max(DISPATCH_LEVEL, "MmMapIoSpace");
    if (NumberOfBytes == 0)
        return NULL;
    return mach_mmio_map(m, (uint64_t)PhysicalAddress.QuadPart, NumberOfBytes);
}

PVOID MmMapIoSpaceEx(PHYSICAL_ADDRESS PhysicalAddress, SIZE_T NumberOfBytes, ULONG Protect)
{
    if ((Protect & (PAGE_READWRITE | PAGE_READONLY)) == 0)
        return NULL;
    return MmMapIoSpace(PhysicalAddress, NumberOfBytes,
                        (Protect & PAGE_WRITECOMBINE) ? MmWriteCombined : MmNonCached);
}

VOID MmUnmapIoSpace(PVOID BaseAddress, SIZE_T NumberOfBytes)
{
    wdfdma_machine *m = wdm_machine("MmUnmapIoSpace");
    wdm_check_irql_max(DISPATCH_LEVEL, "MmUnmapIoSpace");
    mach_mmio_unmap(m, BaseAddress, NumberOfBytes);
}
