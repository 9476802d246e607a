/*
 * The I/O manager (iomanager.c): IRPs, the cancel spin lock, and the request builder the
 * host I/O API uses. Shared by src/wdm, src/fx and src/host.
 *
 * IRP life (every IRP, whoever allocated it):
 *
 *   IoAllocateIrp ──► ALLOCATED ──IoCallDriver──► IN_DRIVER ──IoCompleteRequest──► COMPLETED
 *        ▲                                                                          │
 *        └──────────────────────── IoFreeIrp (back to the lookaside) ◄──────────────┘
 *
 * IoCompleteRequest on a COMPLETED (or never sent) IRP is bug check 0x44
 * MULTIPLE_IRP_COMPLETE_REQUESTS, as on Windows.
 *
 * The WDK names below (IoAllocateIrp, IoCallDriver, IoSetCancelRoutine, ...) are declared
 * here because include/wdm.h does not declare them yet; the signatures are the WDK's so a
 * later declaration in wdm.h is compatible.
 */
#ifndef WDFDMA_WDM_IO_INTERNAL_H
#define WDFDMA_WDM_IO_INTERNAL_H

#include "wdm/wdm_internal.h"

#ifndef MULTIPLE_IRP_COMPLETE_REQUESTS
#define MULTIPLE_IRP_COMPLETE_REQUESTS 0x44u
#endif
#ifndef NO_MORE_IRP_STACK_LOCATIONS
#define NO_MORE_IRP_STACK_LOCATIONS 0x35u
#endif
#ifndef IO_TYPE_IRP
#define IO_TYPE_IRP 6
#endif

/* ---- WDK services ---------------------------------------------------------------------- */
/* <= DISPATCH. An IRP with StackSize stack locations; NULL when out of memory. IRPs of up
 * to WDM_IRP_LOOKASIDE_STACK locations come from the machine's lookaside list. */
PIRP IoAllocateIrp(CCHAR StackSize, BOOLEAN ChargeQuota);
VOID IoFreeIrp(PIRP Irp);
USHORT IoSizeOfIrp(CCHAR StackSize);
/* <= DISPATCH. Pushes one stack location and calls the driver's MajorFunction routine. */
NTSTATUS IoCallDriver(PDEVICE_OBJECT DeviceObject, PIRP Irp);
/* Atomically installs Routine (or NULL) and returns the previous routine. */
PDRIVER_CANCEL IoSetCancelRoutine(PIRP Irp, PDRIVER_CANCEL CancelRoutine);
/* Irp->Cancel as IoCancelIrp sets it from any thread: drivers read the flag without the
 * cancel spin lock (as on Windows), so both sides use atomic accesses. */
static inline BOOLEAN wdm_irp_cancel_flag(PIRP irp)
{
    return __atomic_load_n(&irp->Cancel, __ATOMIC_ACQUIRE);
}

/* <= DISPATCH. Sets Irp->Cancel; if a cancel routine is set, clears it and calls it with
 * the cancel spin lock held (the routine releases it with IoReleaseCancelSpinLock(
 * Irp->CancelIrql)). Returns TRUE if a cancel routine was called. */
BOOLEAN IoCancelIrp(PIRP Irp);
VOID IoAcquireCancelSpinLock(PKIRQL Irql);
VOID IoReleaseCancelSpinLock(KIRQL Irql);

/* ---- what the I/O manager adds for its own callers ------------------------------------- */
#define WDM_IRP_LOOKASIDE_STACK 4

/* Called once, from IoCompleteRequest, after the I/O manager finished the IRP (buffered
 * data copied back, MDLs unlocked and freed). The originator then frees the IRP. */
typedef void (*wdm_irp_done)(PIRP irp, void *ctx);

/* A request as an application issues it (ReadFile / WriteFile / DeviceIoControl). */
typedef struct wdm_io_params {
    UCHAR major;                  /* IRP_MJ_READ, _WRITE, _DEVICE_CONTROL, _CREATE, _CLOSE */
    ULONG ioctl;                  /* IRP_MJ_DEVICE_CONTROL */
    const void *in;               /* write data / IOCTL input */
    size_t in_len;
    void *out;                    /* read data / IOCTL output */
    size_t out_len;
    uint64_t offset;              /* reads and writes */
    PFILE_OBJECT file;
    wdm_irp_done done;
    void *ctx;
} wdm_io_params;

/* Build an IRP for `device`, the way the Windows I/O manager does for user-mode calls:
 * buffering by the device's DO_BUFFERED_IO / DO_DIRECT_IO flags (`do_flags`) and the
 * IOCTL's method; the next stack location filled. Returns STATUS_SUCCESS,
 * STATUS_INSUFFICIENT_RESOURCES, or STATUS_INVALID_PARAMETER (a length above 4 GiB or a
 * buffer that cannot be locked). On failure nothing is left allocated. */
NTSTATUS wdm_io_build_irp(PDEVICE_OBJECT device, ULONG do_flags, const wdm_io_params *p,
                          PIRP *out);
/* IRPs allocated and not yet freed on this machine (leak checks). */
uint64_t wdm_io_irps_outstanding(wdfdma_machine *m);
/* Has IoCompleteRequest run for this IRP? */
bool wdm_irp_completed(PIRP irp);

#endif
