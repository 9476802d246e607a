/* DMA-PUT-ADAPTER-OUTSTANDING: the driver "gives back" the enabler's WDM adapter at the end
 * of device add (PutDmaAdapter, as a WDM driver would in its cleanup), while the two
 * descriptor rings it just created are common buffers of that adapter. Fix: never put an
 * adapter the framework owns (WdfDmaEnablerWdmGetDmaAdapter lends it); a WDM driver frees
 * every common buffer, channel, map register and SG list before PutDmaAdapter. */
#define BRK_DEVICE_ADD_END(ext)                                                           \
    do {                                                                                  \
        PDMA_ADAPTER a_ = WdfDmaEnablerWdmGetDmaAdapter((ext)->Enabler,                  \
                                                        WdfDmaDirectionWriteToDevice);    \
        a_->DmaOperations->PutDmaAdapter(a_);                                             \
    } while (0)
#include "broken_base.h"
