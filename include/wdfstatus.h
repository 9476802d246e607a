/*
 * wdfstatus.h - the framework's NTSTATUS values (facility 0x20, FACILITY_DRIVER_FRAMEWORK).
 *
 * The kernel headers of this project define the same codes; each one here is only a
 * fallback, defined when the kernel headers did not, so the two never conflict.
 */
#ifndef _WDFSTATUS_H_
#define _WDFSTATUS_H_

#ifndef FACILITY_DRIVER_FRAMEWORK
#define FACILITY_DRIVER_FRAMEWORK 0x20
#endif

/* Queued internally, not yet sent to its target. */
#ifndef STATUS_WDF_QUEUED
#define STATUS_WDF_QUEUED ((NTSTATUS)0x40200000L)
#endif
/* Posted to a worker thread. */
#ifndef STATUS_WDF_POSTED
#define STATUS_WDF_POSTED ((NTSTATUS)0x40200002L)
#endif
/* No package of the selected type. */
#ifndef STATUS_WDF_NO_PACKAGE
#define STATUS_WDF_NO_PACKAGE ((NTSTATUS)0xC0200200L)
#endif
/* Internal framework error. */
#ifndef STATUS_WDF_INTERNAL_ERROR
#define STATUS_WDF_INTERNAL_ERROR ((NTSTATUS)0xC0200201L)
#endif
/* The object is paused. */
#ifndef STATUS_WDF_PAUSED
#define STATUS_WDF_PAUSED ((NTSTATUS)0xC0200203L)
#endif
/* The object is busy with earlier requests (e.g. a v2 packet enabler's transaction). */
#ifndef STATUS_WDF_BUSY
#define STATUS_WDF_BUSY ((NTSTATUS)0xC0200204L)
#endif
/* Timed out before being sent to its target. */
#ifndef STATUS_WDF_IO_TIMEOUT_NOT_SENT
#define STATUS_WDF_IO_TIMEOUT_NOT_SENT ((NTSTATUS)0xC0200205L)
#endif
/* Never sent: the device was removed. */
#ifndef STATUS_WDF_DEVICE_REMOVED_NOT_SENT
#define STATUS_WDF_DEVICE_REMOVED_NOT_SENT ((NTSTATUS)0xC0200206L)
#endif
/* The request is already pending with an I/O target. */
#ifndef STATUS_WDF_REQUEST_ALREADY_PENDING
#define STATUS_WDF_REQUEST_ALREADY_PENDING ((NTSTATUS)0xC0200207L)
#endif
/* The operation is invalid in the request's state. */
#ifndef STATUS_WDF_REQUEST_INVALID_STATE
#define STATUS_WDF_REQUEST_INVALID_STATE ((NTSTATUS)0xC0200208L)
#endif
/* Invalid WDF_OBJECT_ATTRIBUTES. */
#ifndef STATUS_WDF_OBJECT_ATTRIBUTES_INVALID
#define STATUS_WDF_OBJECT_ATTRIBUTES_INVALID ((NTSTATUS)0xC0200209L)
#endif
/* A transfer needs more SG elements than the enabler allows. */
#ifndef STATUS_WDF_TOO_FRAGMENTED
#define STATUS_WDF_TOO_FRAGMENTED ((NTSTATUS)0xC020020AL)
#endif
/* A required event callback is missing. */
#ifndef STATUS_WDF_NO_CALLBACK
#define STATUS_WDF_NO_CALLBACK ((NTSTATUS)0xC020020BL)
#endif
/* The object does not support that WDF_EXECUTION_LEVEL. */
#ifndef STATUS_WDF_INCOMPATIBLE_EXECUTION_LEVEL
#define STATUS_WDF_INCOMPATIBLE_EXECUTION_LEVEL ((NTSTATUS)0xC020020CL)
#endif
/* The object already has a parent. */
#ifndef STATUS_WDF_PARENT_ALREADY_ASSIGNED
#define STATUS_WDF_PARENT_ALREADY_ASSIGNED ((NTSTATUS)0xC020020DL)
#endif
/* An object cannot be its own parent. */
#ifndef STATUS_WDF_PARENT_IS_SELF
#define STATUS_WDF_PARENT_IS_SELF ((NTSTATUS)0xC020020EL)
#endif
/* This object's parent cannot be chosen by the driver. */
#ifndef STATUS_WDF_PARENT_ASSIGNMENT_NOT_ALLOWED
#define STATUS_WDF_PARENT_ASSIGNMENT_NOT_ALLOWED ((NTSTATUS)0xC020020FL)
#endif
/* The object does not support that WDF_SYNCHRONIZATION_SCOPE. */
#ifndef STATUS_WDF_SYNCHRONIZATION_SCOPE_INVALID
#define STATUS_WDF_SYNCHRONIZATION_SCOPE_INVALID ((NTSTATUS)0xC0200210L)
#endif
/* The object does not support that WDF_EXECUTION_LEVEL. */
#ifndef STATUS_WDF_EXECUTION_LEVEL_INVALID
#define STATUS_WDF_EXECUTION_LEVEL_INVALID ((NTSTATUS)0xC0200211L)
#endif
/* A required parent was not given in the attributes. */
#ifndef STATUS_WDF_PARENT_NOT_SPECIFIED
#define STATUS_WDF_PARENT_NOT_SPECIFIED ((NTSTATUS)0xC0200212L)
#endif
/* The transaction needs more transfers than allowed (single-transfer requirement). */
#ifndef STATUS_WDF_TOO_MANY_TRANSFERS
#define STATUS_WDF_TOO_MANY_TRANSFERS ((NTSTATUS)0xC0200213L)
#endif
/* Not enough map registers for the transaction as specified. */
#ifndef STATUS_WDF_NOT_ENOUGH_MAP_REGISTERS
#define STATUS_WDF_NOT_ENOUGH_MAP_REGISTERS ((NTSTATUS)0xC0200214L)
#endif

#endif /* _WDFSTATUS_H_ */
