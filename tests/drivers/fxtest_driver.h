/*
 * Control block of the test KMDF driver (fxtest_driver.c), shared with the fx tests.
 * Plain C types only: the driver side includes nothing but <ntddk.h> and <wdf.h>.
 */
#ifndef FXTEST_DRIVER_H
#define FXTEST_DRIVER_H

#include <stdint.h>

enum fxt_cb {
    FXT_PREPARE = 0, FXT_D0ENTRY, FXT_D0ENTRY_POST, FXT_SMIO_INIT, FXT_SMIO_RESTART,
    FXT_INT_ENABLE, FXT_COUNT
};

typedef struct fxt_device_stats {
    volatile uint32_t isr_calls, isr_claimed, dpc_calls, last_isr_irql, last_dpc_irql;
    volatile uint32_t last_message, resources, memory_resources, interrupt_resources;
    volatile uint32_t context_magic_ok, cleanup_calls;
} fxt_device_stats;

typedef struct fxt_control {
    int32_t fail[FXT_COUNT];        /* NTSTATUS each callback returns (0 = success) */
    int32_t driver_entry_status;    /* returned by DriverEntry after WdfDriverCreate */
    int create_interrupt;           /* EvtDriverDeviceAdd creates a WDFINTERRUPT */
    int interrupt_in_prepare;       /* ... from EvtDevicePrepareHardware instead */
    int automatic_serialization;
    int sync_scope_device;          /* device attributes: WdfSynchronizationScopeDevice */
    int second_create;              /* EvtDriverDeviceAdd calls WdfDeviceCreate twice */
    int use_spinlock;               /* the interrupt uses a WDFSPINLOCK (fxt.last_spinlock) */
    void *last_spinlock;
    /* Called from the ISR (DIRQL) with the WDFINTERRUPT, before it looks at the device. */
    void (*isr_hook)(void *interrupt);
    int32_t second_create_status;
    int unload_calls;
    void *last_device;              /* WDFDEVICE of the last DeviceAdd */
    void *last_interrupt;           /* WDFINTERRUPT of the last device */
    fxt_device_stats stats[4];      /* per device, in DeviceAdd order */
    unsigned devices;
} fxt_control;

extern fxt_control fxt;
void fxt_reset(void);
/* The toy device's registers: trigger a completion interrupt (LEN 0 + DOORBELL = error
 * completion) on the last-created device number `i`. */
void fxt_trigger(unsigned i);
int32_t fxt_driver_entry(void *driver_object, void *registry_path);

#endif
