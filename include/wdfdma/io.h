/*
 * wdfdma host API: I/O to devices, the way an application uses ReadFile / WriteFile /
 * DeviceIoControl.
 *
 * Open a device by instance name ("sgdma0"), by device interface GUID string
 * ("{xxxxxxxx-...}" = first instance, "{...}#N" = N-th) or by a name the driver assigned.
 * Buffers are any host memory: the I/O manager locks them into MDLs (direct I/O) or
 * double-buffers them (buffered I/O) as the device's I/O type says.
 *
 * Synchronous calls run at PASSIVE_LEVEL and wait for completion (the sim engine runs the
 * machine until then). Asynchronous calls return at once; `done` runs exactly once, with
 * the NTSTATUS and the information (bytes), in the context that completed the request
 * (possibly inside the submitting call if the driver completed it there). If an
 * asynchronous call fails (negative return), `done` is never called.
 */
#ifndef WDFDMA_IO_H
#define WDFDMA_IO_H

#include <stddef.h>
#include <stdint.h>
#include "wdfdma/machine.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct wdfdma_file wdfdma_file;
typedef struct wdfdma_io wdfdma_io;

int wdfdma_open(wdfdma_machine *m, const char *name, wdfdma_file **out);
int wdfdma_close(wdfdma_file *f);

/* Synchronous: return 0 when the request completed (whatever its status), filling
 * *status (NTSTATUS) and *information; negative errno if it could not be issued. */
int wdfdma_read(wdfdma_file *f, void *buf, size_t len, uint64_t offset, int32_t *status,
                size_t *information);
int wdfdma_write(wdfdma_file *f, const void *buf, size_t len, uint64_t offset,
                 int32_t *status, size_t *information);
int wdfdma_ioctl(wdfdma_file *f, uint32_t code, const void *in, size_t in_len, void *out,
                 size_t out_len, int32_t *status, size_t *information);

typedef void (*wdfdma_io_done)(void *ctx, int32_t status, size_t information);
int wdfdma_read_async(wdfdma_file *f, void *buf, size_t len, uint64_t offset,
                      wdfdma_io_done done, void *ctx, wdfdma_io **op);
int wdfdma_write_async(wdfdma_file *f, const void *buf, size_t len, uint64_t offset,
                       wdfdma_io_done done, void *ctx, wdfdma_io **op);
int wdfdma_ioctl_async(wdfdma_file *f, uint32_t code, const void *in, size_t in_len,
                       void *out, size_t out_len, wdfdma_io_done done, void *ctx,
                       wdfdma_io **op);
/* Ask for cancellation (IoCancelIrp). The request still completes exactly once through
 * `done`, with STATUS_CANCELLED or whatever the driver completes it with. `op` is valid
 * until `done` has run. */
int wdfdma_cancel(wdfdma_io *op);
/* Requests issued on this file and not yet completed. */
size_t wdfdma_outstanding(wdfdma_file *f);

#ifdef __cplusplus
}
#endif
#endif
