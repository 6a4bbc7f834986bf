/* vulkan-backend.h — the Vulkan compute backend: options, devices, and the
 * hooks that tests and benchmarks use
 *
 * The backend itself is reached through engine-backend.h
 * (facet_backend_new ("vulkan")); this header adds what only callers that
 * know they talk to Vulkan need.
 */
#pragma once

#include "engine/engine-backend.h"

G_BEGIN_DECLS

typedef struct
{
  const char     *device;    /* index or name substring; NULL: $FACET_VK_DEVICE, else the best */
  FacetPrecision  precision; /* fp16 storage falls back to fp32 where the device lacks it */
  gboolean        perf;      /* per-op timestamps (also $FACET_VK_PERF=1) */
  guint           max_chunk; /* images per submission at most; 0: from the device's limits */
  gboolean        staging;   /* copy through staging buffers even where device memory is
                              * mapped (as on discrete GPUs; also $FACET_VK_STAGING=1) */
} FacetVulkanOptions;

/* GPU time and work per op kind; index FACET_OP_N_KINDS gathers the rest
 * (the per-AU map epilogue). */
typedef struct
{
  guint  count[FACET_OP_N_KINDS + 1];
  double seconds[FACET_OP_N_KINDS + 1];
  double flops[FACET_OP_N_KINDS + 1];
} FacetVulkanPerf;

typedef enum
{
  FACET_VULKAN_FAULT_ALLOC,  /* a device memory allocation fails: out of memory */
  FACET_VULKAN_FAULT_SUBMIT, /* a queue submission fails: device lost */
} FacetVulkanFault;

FacetBackend   *facet_vulkan_backend_new_full      (const FacetVulkanOptions *options,
                                                    GError                  **error);
GPtrArray      *facet_vulkan_list_devices          (GError                  **error);

gboolean        facet_vulkan_backend_is_gpu        (FacetBackend             *backend);
FacetPrecision  facet_vulkan_backend_get_precision (FacetBackend             *backend);
guint           facet_vulkan_backend_get_chunk     (FacetBackend             *backend);
guint           facet_vulkan_backend_get_recoveries (FacetBackend            *backend);
void            facet_vulkan_backend_get_perf      (FacetBackend             *backend,
                                                    FacetVulkanPerf          *perf);
void            facet_vulkan_backend_reset_perf    (FacetBackend             *backend);
void            facet_vulkan_backend_inject_fault  (FacetBackend             *backend,
                                                    FacetVulkanFault          fault,
                                                    guint                     countdown);

guint           facet_vulkan_get_validation_errors (void);

G_END_DECLS
