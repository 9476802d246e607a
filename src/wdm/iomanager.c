/*
 * The I/O manager: IRPs (allocated from a per-machine lookaside list), IoCallDriver,
 * IoCompleteRequest with the buffered/direct I/O post-processing, the cancel spin lock
 * and IoCancelIrp, and the builder that turns an application's read/write/ioctl into an
 * IRP exactly as Windows lays it out.
 *
 * IRP states (see io_internal.h): ALLOCATED → IN_DRIVER → COMPLETED → freed. The state
 * lives in the block around the IRP, so a second IoCompleteRequest is detected even when
 * the stack pointer arithmetic would not catch it.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "wdm/io_internal.h"

/* The machine's slot for the I/O manager: the last one, unused by the layers. */
#define WDM_IO_SLOT MACH_SLOT_WDM_IO
/* Freed lookaside IRPs are kept up to the machine's peak in flight (wdm_lookaside_depth),
 * at least IRP_LOOKASIDE_DEPTH and at most IRP_LOOKASIDE_DEPTH_MAX. */
#define IRP_LOOKASIDE_DEPTH 256u
#define IRP_LOOKASIDE_DEPTH_MAX 16384u
#define IRP_BLOCK_MAGIC 0x49725062u         /* "IrPb" */

enum irp_state { IRP_ALLOCATED = 1, IRP_IN_DRIVER, IRP_COMPLETED };

/* An IRP, its stack locations, and what the I/O manager keeps per IRP. */
typedef struct irp_block {
    IRP irp;                                /* first: PIRP <-> block */
    struct irp_block *next_free;
    uint32_t magic;
    enum irp_state state;
    CCHAR stack_size;
    bool from_lookaside;                    /* WDM_IRP_LOOKASIDE_STACK locations */
    uint32_t trace_id;                      /* stable per allocation: never a host pointer */
    wdm_irp_done done;
    void *done_ctx;
    /* Buffered I/O: the system buffer stays with the block, so steady-state requests
     * allocate nothing; it only grows. */
    void *sysbuf;
    size_t sysbuf_cap;
    size_t user_out_len;                    /* bytes the caller's output buffer holds */
    IO_STACK_LOCATION stack[];
} irp_block;

typedef struct io_state {
    pthread_mutex_t lock;                   /* host lock: the lookaside */
    irp_block *free;
    unsigned depth;
    volatile LONG64 outstanding;
    wdm_lookaside_depth cap;                /* the lookaside's depth follows the peak */
    KSPIN_LOCK cancel_lock;                 /* IoAcquireCancelSpinLock */
} io_state;

static void io_state_destroy(void *p)
{
    io_state *s = p;
    while (s->free != NULL) {
        irp_block *b = s->free;
        s->free = b->next_free;
        free(b->sysbuf);
        free(b);
    }
    pthread_mutex_destroy(&s->lock);
    free(s);
}

static io_state *io_state_of(wdfdma_machine *m)
{
    static pthread_mutex_t create_lock = PTHREAD_MUTEX_INITIALIZER;
    io_state *s = mach_slot(m, WDM_IO_SLOT);
    if (s != NULL)
        return s;
    pthread_mutex_lock(&create_lock);
    s = mach_slot(m, WDM_IO_SLOT);
    if (s == NULL) {
        s = calloc(1, sizeof(*s));
        if (s == NULL) {
            pthread_mutex_unlock(&create_lock);
            mach_bugcheck(KMODE_EXCEPTION_NOT_HANDLED, (uint64_t)(ULONG)STATUS_NO_MEMORY, 0, 0,
                          0, "out of host memory creating the I/O manager state");
        }
        pthread_mutex_init(&s->lock, NULL);
        mach_set_slot(m, WDM_IO_SLOT, s, io_state_destroy);
    }
    pthread_mutex_unlock(&create_lock);
    return s;
}

static irp_block *block_of(PIRP irp, const char *ddi)
{
    irp_block *b = (irp_block *)irp;
    if (irp == NULL || b->magic != IRP_BLOCK_MAGIC)
        mach_bugcheck(MULTIPLE_IRP_COMPLETE_REQUESTS, (uint64_t)(uintptr_t)irp, 0, 0, 0,
                      "%s: %p is not an IRP the I/O manager allocated (or it was freed)",
                      ddi, (void *)irp);
    return b;
}

bool wdm_irp_completed(PIRP irp)
{
    return block_of(irp, "wdm_irp_completed")->state == IRP_COMPLETED;
}

uint64_t wdm_io_irps_outstanding(wdfdma_machine *m)
{
    return (uint64_t)io_state_of(m)->outstanding;
}

/* ---- allocation --------------------------------------------------------------------- */

USHORT IoSizeOfIrp(CCHAR StackSize)
{
    return (USHORT)(sizeof(IRP) + (size_t)(UCHAR)StackSize * sizeof(IO_STACK_LOCATION));
}

static void irp_init(irp_block *b, CCHAR stack_size)
{
    void *sysbuf = b->sysbuf;
    size_t cap = b->sysbuf_cap;
    bool from_lookaside = b->from_lookaside;
    memset(b, 0, sizeof(*b) + (size_t)(UCHAR)stack_size * sizeof(IO_STACK_LOCATION));
    b->magic = IRP_BLOCK_MAGIC;
    b->sysbuf = sysbuf;
    b->sysbuf_cap = cap;
    b->from_lookaside = from_lookaside;
    b->stack_size = stack_size;
    b->state = IRP_ALLOCATED;
    /* The trace hash must not depend on where the host put the IRP (address space
     * randomisation): records name the IRP by a machine-assigned id. */
    b->trace_id = mach_next_object_id(mach_current());
    PIRP irp = &b->irp;
    irp->Type = IO_TYPE_IRP;
    irp->Size = IoSizeOfIrp(stack_size);
    irp->StackCount = stack_size;
    irp->CurrentLocation = (CHAR)(stack_size + 1);
    irp->Tail.Overlay.CurrentStackLocation = &b->stack[(UCHAR)stack_size];
    InitializeListHead(&irp->ThreadListHead);
}

PIRP IoAllocateIrp(CCHAR StackSize, BOOLEAN ChargeQuota)
{
    (void)ChargeQuota;
    wdfdma_machine *m = wdm_machine("IoAllocateIrp");
    wdm_check_irql_max(DISPATCH_LEVEL, "IoAllocateIrp");
    if (StackSize < 1)
        return NULL;
    io_state *s = io_state_of(m);
    irp_block *b = NULL;
    bool small = StackSize <= WDM_IRP_LOOKASIDE_STACK;
    if (small) {
        mach_own_lock(m, &s->lock);
        b = s->free;
        if (b != NULL) {
            s->free = b->next_free;
            s->depth--;
        }
        mach_own_unlock(m, &s->lock);
    }
    if (b == NULL) {
        if (wdm_pool_should_fail())
            return NULL;
        CCHAR size = small ? WDM_IRP_LOOKASIDE_STACK : StackSize;
        b = calloc(1, sizeof(*b) + (size_t)(UCHAR)size * sizeof(IO_STACK_LOCATION));
        if (b == NULL)
            return NULL;
        b->from_lookaside = small;
    }
    irp_init(b, StackSize);
    wdm_lookaside_in_flight(&s->cap, (uint64_t)InterlockedIncrement64(&s->outstanding));
    return &b->irp;
}

VOID IoFreeIrp(PIRP Irp)
{
    wdfdma_machine *m = wdm_machine("IoFreeIrp");
    wdm_check_irql_max(DISPATCH_LEVEL, "IoFreeIrp");
    irp_block *b = block_of(Irp, "IoFreeIrp");
    if (b->state == IRP_IN_DRIVER)
        mach_report(m, "IoFreeIrp", "IRP %p freed while a driver still owns it", (void *)Irp);
    io_state *s = io_state_of(m);
    InterlockedDecrement64(&s->outstanding);
    b->magic = 0;
    if (b->from_lookaside) {
        mach_own_lock(m, &s->lock);
        bool kept = wdm_lookaside_keeps(&s->cap, s->depth, IRP_LOOKASIDE_DEPTH,
                                        IRP_LOOKASIDE_DEPTH_MAX);
        if (kept) {
            b->next_free = s->free;
            s->free = b;
            s->depth++;
        }
        mach_own_unlock(m, &s->lock);
        if (kept)
            return;
    }
    free(b->sysbuf);
    free(b);
}

/* ---- sending and completing ------------------------------------------------------------ */

NTSTATUS IoCallDriver(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    wdm_check_irql_max(DISPATCH_LEVEL, "IoCallDriver");
    irp_block *b = block_of(Irp, "IoCallDriver");
    Irp->CurrentLocation--;
    if (Irp->CurrentLocation <= 0)
        mach_bugcheck(NO_MORE_IRP_STACK_LOCATIONS, (uint64_t)(uintptr_t)Irp, 0, 0, 0,
                      "NO_MORE_IRP_STACK_LOCATIONS: IoCallDriver(%p) with no stack "
                      "location left", (void *)Irp);
    Irp->Tail.Overlay.CurrentStackLocation--;
    PIO_STACK_LOCATION sl = IoGetCurrentIrpStackLocation(Irp);
    sl->DeviceObject = DeviceObject;
    b->state = IRP_IN_DRIVER;
    PDRIVER_DISPATCH fn = DeviceObject->DriverObject->MajorFunction[sl->MajorFunction];
    mach_trace(mach_current(), WDFDMA_TR_FX, b->trace_id, "IoCallDriver", sl->MajorFunction,
               0);
    return fn(DeviceObject, Irp);
}

/* Walk the stack upwards calling completion routines as their SL_INVOKE_* flags say.
 * Returns false if a routine returned STATUS_MORE_PROCESSING_REQUIRED (it owns the IRP). */
static bool run_completion_routines(PIRP irp)
{
    while (irp->CurrentLocation <= irp->StackCount) {
        PIO_STACK_LOCATION sl = IoGetCurrentIrpStackLocation(irp);
        irp->PendingReturned = (sl->Control & SL_PENDING_RETURNED) != 0;
        irp->CurrentLocation++;
        irp->Tail.Overlay.CurrentStackLocation++;
        PDEVICE_OBJECT dev = irp->CurrentLocation <= irp->StackCount
                                 ? IoGetCurrentIrpStackLocation(irp)->DeviceObject
                                 : NULL;
        bool invoke = sl->CompletionRoutine != NULL &&
                      ((NT_SUCCESS(irp->IoStatus.Status) && (sl->Control & SL_INVOKE_ON_SUCCESS)) ||
                       (NT_ERROR(irp->IoStatus.Status) && (sl->Control & SL_INVOKE_ON_ERROR)) ||
                       (wdm_irp_cancel_flag(irp) && (sl->Control & SL_INVOKE_ON_CANCEL)));
        if (invoke &&
            sl->CompletionRoutine(dev, irp, sl->Context) == STATUS_MORE_PROCESSING_REQUIRED)
            return false;
        if (!invoke && irp->PendingReturned && irp->CurrentLocation <= irp->StackCount)
            IoMarkIrpPending(irp);
    }
    return true;
}

/* Direct I/O: unlock and free every MDL the I/O manager built for the IRP. */
static void free_mdl_chain(PIRP irp)
{
    PMDL mdl = irp->MdlAddress;
    while (mdl != NULL) {
        PMDL next = mdl->Next;
        if ((mdl->MdlFlags & MDL_PAGES_LOCKED) != 0)
            MmUnlockPages(mdl);
        IoFreeMdl(mdl);
        mdl = next;
    }
    irp->MdlAddress = NULL;
}


/* What the Windows I/O manager does in the requesting thread's completion APC. */
static void finish_io(wdfdma_machine *m, irp_block *b)
{
    PIRP irp = &b->irp;
    if ((irp->Flags & IRP_BUFFERED_IO) != 0 && (irp->Flags & IRP_INPUT_OPERATION) != 0 &&
        !NT_ERROR(irp->IoStatus.Status) && irp->UserBuffer != NULL) {
        size_t n = irp->IoStatus.Information;
        if (n > b->user_out_len) {
            mach_report(m, "IoCompleteRequest", "IRP %p: Information %zu exceeds the %zu-byte "
                        "output buffer; copying %zu bytes", (void *)irp, n, b->user_out_len,
                        b->user_out_len);
            n = b->user_out_len;
        }
        if (n > 0)
            memcpy(irp->UserBuffer, irp->AssociatedIrp.SystemBuffer, n);
    }
    if ((irp->Flags & IRP_DEALLOCATE_BUFFER) != 0)
        irp->AssociatedIrp.SystemBuffer = NULL;   /* the buffer stays with the block */
    free_mdl_chain(irp);
}

VOID IoCompleteRequest(PIRP Irp, CCHAR PriorityBoost)
{
    (void)PriorityBoost;
    wdm_check_irql_max(DISPATCH_LEVEL, "IoCompleteRequest");
    wdfdma_machine *m = wdm_machine("IoCompleteRequest");
    irp_block *b = block_of(Irp, "IoCompleteRequest");
    if (b->state != IRP_IN_DRIVER || Irp->CurrentLocation > Irp->StackCount + 1)
        mach_bugcheck(MULTIPLE_IRP_COMPLETE_REQUESTS, (uint64_t)(uintptr_t)Irp, 0, 0, 0,
                      "MULTIPLE_IRP_COMPLETE_REQUESTS: IRP %p completed %s", (void *)Irp,
                      b->state == IRP_COMPLETED ? "twice" : "before it was sent");
    if (Irp->IoStatus.Status == STATUS_PENDING)
        mach_bugcheck(MULTIPLE_IRP_COMPLETE_REQUESTS, (uint64_t)(uintptr_t)Irp, 1, 0, 0,
                      "IoCompleteRequest: IRP %p completed with STATUS_PENDING", (void *)Irp);
    /* An atomic load: IoCancelIrp on another processor may exchange the field right now
     * (a cancel racing the completion; it then finds NULL and does nothing). */
    if (__atomic_load_n(&Irp->CancelRoutine, __ATOMIC_ACQUIRE) != NULL) {
        mach_report(m, "IoCompleteRequest", "IRP %p completed with its cancel routine still "
                    "set; clearing it", (void *)Irp);
        IoSetCancelRoutine(Irp, NULL);
    }
    mach_trace(m, WDFDMA_TR_FX, 0, "IoCompleteRequest",
               (uint64_t)(ULONG)Irp->IoStatus.Status, Irp->IoStatus.Information);
    if (!run_completion_routines(Irp))
        return;
    b->state = IRP_COMPLETED;
    finish_io(m, b);
    if (b->done != NULL)
        b->done(Irp, b->done_ctx);
}

/* ---- cancellation --------------------------------------------------------------------- */

VOID IoAcquireCancelSpinLock(PKIRQL Irql)
{
    io_state *s = io_state_of(wdm_machine("IoAcquireCancelSpinLock"));
    *Irql = KeAcquireSpinLockRaiseToDpc(&s->cancel_lock);
}

VOID IoReleaseCancelSpinLock(KIRQL Irql)
{
    io_state *s = io_state_of(wdm_machine("IoReleaseCancelSpinLock"));
    KeReleaseSpinLock(&s->cancel_lock, Irql);
}

PDRIVER_CANCEL IoSetCancelRoutine(PIRP Irp, PDRIVER_CANCEL CancelRoutine)
{
    return (PDRIVER_CANCEL)InterlockedExchangePointer((PVOID volatile *)&Irp->CancelRoutine,
                                                      (PVOID)CancelRoutine);
}

BOOLEAN IoCancelIrp(PIRP Irp)
{
    wdm_check_irql_max(DISPATCH_LEVEL, "IoCancelIrp");
    block_of(Irp, "IoCancelIrp");
    KIRQL irql;
    IoAcquireCancelSpinLock(&irql);
    __atomic_store_n(&Irp->Cancel, TRUE, __ATOMIC_RELEASE);
    PDRIVER_CANCEL routine = IoSetCancelRoutine(Irp, NULL);
    if (routine == NULL) {
        IoReleaseCancelSpinLock(irql);
        return FALSE;
    }
    /* The routine releases the cancel spin lock itself, at Irp->CancelIrql. */
    Irp->CancelIrql = irql;
    PDEVICE_OBJECT dev = Irp->CurrentLocation <= Irp->StackCount
                             ? IoGetCurrentIrpStackLocation(Irp)->DeviceObject
                             : NULL;
    routine(dev, Irp);
    return TRUE;
}

/* ---- building requests the way the Windows I/O manager does ---------------------------- */

static NTSTATUS system_buffer(irp_block *b, size_t len)
{
    if (len > b->sysbuf_cap) {
        if (wdm_pool_should_fail())
            return STATUS_INSUFFICIENT_RESOURCES;
        void *p = malloc(len);
        if (p == NULL)
            return STATUS_INSUFFICIENT_RESOURCES;
        free(b->sysbuf);
        b->sysbuf = p;
        b->sysbuf_cap = len;
    }
    b->irp.AssociatedIrp.SystemBuffer = b->sysbuf;
    b->irp.Flags |= IRP_BUFFERED_IO | IRP_DEALLOCATE_BUFFER;
    return STATUS_SUCCESS;
}

/* Direct I/O: an MDL over the caller's buffer with its pages locked (frames by the
 * machine's placement policy). */
static NTSTATUS lock_user_buffer(PIRP irp, void *buf, size_t len, LOCK_OPERATION op)
{
    PMDL mdl = IoAllocateMdl(buf, (ULONG)len, FALSE, FALSE, irp);
    if (mdl == NULL)
        return STATUS_INSUFFICIENT_RESOURCES;
    NTSTATUS status = wdm_mdl_lock(mdl, op);
    if (!NT_SUCCESS(status)) {
        irp->MdlAddress = NULL;
        IoFreeMdl(mdl);
    }
    return status;
}

static NTSTATUS build_read_write(irp_block *b, ULONG do_flags, const wdm_io_params *p)
{
    PIRP irp = &b->irp;
    bool read = p->major == IRP_MJ_READ;
    void *buf = read ? p->out : (void *)(uintptr_t)p->in;
    size_t len = read ? p->out_len : p->in_len;
    PIO_STACK_LOCATION sl = IoGetNextIrpStackLocation(irp);
    sl->Parameters.Read.Length = (ULONG)len;      /* Read and Write share the layout */
    sl->Parameters.Read.ByteOffset.QuadPart = (LONGLONG)p->offset;
    irp->UserBuffer = buf;
    irp->Flags |= read ? IRP_READ_OPERATION : IRP_WRITE_OPERATION;
    if (len == 0)
        return STATUS_SUCCESS;
    if ((do_flags & DO_BUFFERED_IO) != 0) {
        NTSTATUS status = system_buffer(b, len);
        if (!NT_SUCCESS(status))
            return status;
        if (read)
            irp->Flags |= IRP_INPUT_OPERATION;
        else
            memcpy(irp->AssociatedIrp.SystemBuffer, buf, len);
        return STATUS_SUCCESS;
    }
    if ((do_flags & DO_DIRECT_IO) != 0)
        return lock_user_buffer(irp, buf, len, read ? IoWriteAccess : IoReadAccess);
    return STATUS_SUCCESS;                         /* neither: the driver gets UserBuffer */
}

static NTSTATUS build_ioctl(irp_block *b, const wdm_io_params *p)
{
    PIRP irp = &b->irp;
    PIO_STACK_LOCATION sl = IoGetNextIrpStackLocation(irp);
    sl->Parameters.DeviceIoControl.IoControlCode = p->ioctl;
    sl->Parameters.DeviceIoControl.InputBufferLength = (ULONG)p->in_len;
    sl->Parameters.DeviceIoControl.OutputBufferLength = (ULONG)p->out_len;
    irp->UserBuffer = p->out;
    NTSTATUS status = STATUS_SUCCESS;
    switch (METHOD_FROM_CTL_CODE(p->ioctl)) {
    case METHOD_BUFFERED: {
        /* One system buffer, the larger of the two: input copied in, output copied back. */
        size_t len = p->in_len > p->out_len ? p->in_len : p->out_len;
        if (len == 0)
            break;
        status = system_buffer(b, len);
        if (!NT_SUCCESS(status))
            break;
        if (p->in_len > 0)
            memcpy(irp->AssociatedIrp.SystemBuffer, p->in, p->in_len);
        if (p->out_len > 0)
            irp->Flags |= IRP_INPUT_OPERATION;
        break;
    }
    case METHOD_IN_DIRECT:
    case METHOD_OUT_DIRECT:
        /* Input buffered; the output buffer locked into Irp->MdlAddress (IN_DIRECT: the
         * device reads it, OUT_DIRECT: the device writes it). */
        if (p->in_len > 0) {
            status = system_buffer(b, p->in_len);
            if (!NT_SUCCESS(status))
                break;
            memcpy(irp->AssociatedIrp.SystemBuffer, p->in, p->in_len);
            irp->Flags &= ~(ULONG)IRP_INPUT_OPERATION;
        }
        if (p->out_len > 0)
            status = lock_user_buffer(irp, p->out, p->out_len,
                                      METHOD_FROM_CTL_CODE(p->ioctl) == METHOD_IN_DIRECT
                                          ? IoReadAccess
                                          : IoWriteAccess);
        break;
    default: /* METHOD_NEITHER: raw caller addresses */
        sl->Parameters.DeviceIoControl.Type3InputBuffer = (PVOID)(uintptr_t)p->in;
        break;
    }
    return status;
}

NTSTATUS wdm_io_build_irp(PDEVICE_OBJECT device, ULONG do_flags, const wdm_io_params *p,
                          PIRP *out)
{
    *out = NULL;
    if (p->in_len > 0xFFFFFFFFu || p->out_len > 0xFFFFFFFFu)
        return STATUS_INVALID_PARAMETER;
    CCHAR stack = device->StackSize > 0 ? device->StackSize : 1;
    PIRP irp = IoAllocateIrp(stack, FALSE);
    if (irp == NULL)
        return STATUS_INSUFFICIENT_RESOURCES;
    irp_block *b = (irp_block *)irp;
    irp->RequestorMode = UserMode;
    irp->Tail.Overlay.OriginalFileObject = p->file;
    b->done = p->done;
    b->done_ctx = p->ctx;
    b->user_out_len = p->major == IRP_MJ_WRITE ? 0 : p->out_len;
    PIO_STACK_LOCATION sl = IoGetNextIrpStackLocation(irp);
    sl->MajorFunction = p->major;
    sl->FileObject = p->file;
    NTSTATUS status = STATUS_SUCCESS;
    switch (p->major) {
    case IRP_MJ_READ:
    case IRP_MJ_WRITE:
        status = build_read_write(b, do_flags, p);
        break;
    case IRP_MJ_DEVICE_CONTROL:
    case IRP_MJ_INTERNAL_DEVICE_CONTROL:
        status = build_ioctl(b, p);
        break;
    case IRP_MJ_CREATE:
        irp->Flags |= IRP_CREATE_OPERATION | IRP_SYNCHRONOUS_API;
        break;
    case IRP_MJ_CLOSE:
        irp->Flags |= IRP_CLOSE_OPERATION | IRP_SYNCHRONOUS_API;
        break;
    default:
        break;
    }
    if (!NT_SUCCESS(status)) {
        free_mdl_chain(irp);
        IoFreeIrp(irp);
        return status;
    }
    *out = irp;
    return STATUS_SUCCESS;
}
