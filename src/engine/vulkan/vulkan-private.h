/* vulkan-private.h — the Vulkan context shared by the backend's files
 *
 * vulkan-context.c owns the instance, the device, memory, buffers,
 * pipelines and command submission; vulkan-backend.c builds the model's
 * forward out of those pieces. Nothing here is visible outside the module.
 */
#pragma once

#include <vulkan/vulkan.h>

#include "vulkan-backend.h"

G_BEGIN_DECLS

typedef enum
{
  FACET_VK_F32,
  FACET_VK_F16,
} FacetVkDtype;

typedef enum
{
  FACET_VK_MEM_DEVICE, /* device-local; mapped too where the device shares host memory */
  FACET_VK_MEM_HOST,   /* host-visible: staging, readback, outputs written by shaders */
} FacetVkMemKind;

/* One VkBuffer with its own memory; never larger than the device allows a
 * storage buffer descriptor to be, so one descriptor covers it whole. */
typedef struct
{
  VkBuffer       buffer;
  VkDeviceMemory memory;
  VkDeviceSize   size;
  guint8        *mapped; /* NULL unless host-visible */
} FacetVkBlock;

/* Tensors are planned first (facet_vk_arena_reserve), then the blocks they
 * need are allocated at once (facet_vk_arena_commit). */
typedef struct
{
  FacetVkMemKind kind;
  VkDeviceSize   limit;  /* the largest block */
  GArray        *plan;   /* VkDeviceSize: bytes used per planned block */
  GPtrArray     *blocks; /* FacetVkBlock *, after commit */
} FacetVkArena;

typedef struct
{
  FacetVkArena *arena;
  guint         block;
  VkDeviceSize  offset; /* bytes */
  VkDeviceSize  size;   /* bytes */
  FacetVkDtype  dtype;
  gsize         n;      /* elements */
} FacetVkTensor;

/* What one descriptor of a dispatch covers. */
typedef struct
{
  VkBuffer     buffer;
  VkDeviceSize offset;
  VkDeviceSize range;
} FacetVkBinding;

typedef struct
{
  VkShaderModule        module;
  VkDescriptorSetLayout set_layout;
  VkPipelineLayout      layout;
  VkPipeline            pipeline;
  guint                 n_bindings;
  guint                 push_size;
} FacetVkPipeline;

/* A command buffer with what recording it needs: descriptor pools that are
 * reset with it, and timestamp queries when profiling. */
typedef struct
{
  VkCommandBuffer cmd;
  VkFence         fence;
  gboolean        pending;      /* submitted, not yet waited for */
  GArray         *pools;        /* VkDescriptorPool */
  guint           pool_index;
  VkQueryPool     queries;
  guint           n_queries;
  GArray         *timed;        /* TimedOp, one per pair of timestamps */
} FacetVkFrame;

typedef struct
{
  int    kind;  /* FacetOpKind, or FACET_OP_N_KINDS for the rest */
  double flops;
} FacetVkTimedOp;

typedef struct
{
  VkInstance                       instance; /* shared by the process, never destroyed */
  VkPhysicalDevice                 physical;
  VkPhysicalDeviceProperties       props;
  VkPhysicalDeviceMemoryProperties mem_props;
  int                              device_index;
  VkDevice                         device;
  VkQueue                          queue;
  guint32                          queue_family;
  VkCommandPool                    cmd_pool;

  gboolean                         fp16;    /* 16-bit storage enabled */
  gboolean                         uma;     /* device memory is mapped and used directly */
  gboolean                         timestamps;
  double                           timestamp_period; /* ns per tick */
  guint                            gemm_tile; /* matmul.comp: 4, 8 tiled; 0 direct */
  VkDeviceSize                     block_limit;
  VkDeviceSize                     device_memory;
  guint32                          max_groups[3];
  char                            *driver;

  FacetVkBlock                    *dummy_read;  /* bound where a shader reads nothing */
  FacetVkBlock                    *dummy_write; /* ... and where it writes nothing */

  VkPipelineCache                  cache;
  char                            *cache_path;
  gboolean                         cache_dirty;
  GHashTable                      *pipelines; /* key -> FacetVkPipeline * */

  gboolean                         perf;
  gboolean                         lost;     /* VK_ERROR_DEVICE_LOST seen: rebuild before use */
  guint                            fault_alloc;  /* countdowns of injected failures; 0: none */
  guint                            fault_submit;
} FacetVkContext;

/* Context */
FacetVkContext *facet_vk_context_new       (const char       *device,
                                            gboolean          want_fp16,
                                            gboolean          staging,
                                            GError          **error);
void            facet_vk_context_free      (FacetVkContext   *ctx);
gboolean        facet_vk_check             (FacetVkContext   *ctx,
                                            VkResult          result,
                                            const char       *what,
                                            GError          **error);
FacetDeviceType facet_vk_device_type       (VkPhysicalDeviceType type);

/* Memory */
void            facet_vk_arena_init        (FacetVkArena     *arena,
                                            FacetVkContext   *ctx,
                                            FacetVkMemKind    kind);
gboolean        facet_vk_arena_reserve     (FacetVkArena     *arena,
                                            FacetVkTensor    *tensor,
                                            gsize             n,
                                            FacetVkDtype      dtype,
                                            GError          **error);
gboolean        facet_vk_arena_commit      (FacetVkContext   *ctx,
                                            FacetVkArena     *arena,
                                            GError          **error);
void            facet_vk_arena_clear       (FacetVkContext   *ctx,
                                            FacetVkArena     *arena);
VkDeviceSize    facet_vk_arena_bytes       (FacetVkArena     *arena);
FacetVkBinding  facet_vk_tensor_binding    (const FacetVkTensor *tensor);
FacetVkBinding  facet_vk_dummy             (FacetVkContext   *ctx,
                                            gboolean          written);
void           *facet_vk_tensor_map        (const FacetVkTensor *tensor);
void            facet_vk_tensor_write      (const FacetVkTensor *tensor,
                                            const float      *data,
                                            gsize             n);
void            facet_vk_tensor_read       (const FacetVkTensor *tensor,
                                            float            *data,
                                            gsize             n);

/* Pipelines: @variant names the embedded SPIR-V ("matmul-f32", ...). */
FacetVkPipeline *facet_vk_pipeline_get     (FacetVkContext   *ctx,
                                            const char       *variant,
                                            guint             n_bindings,
                                            guint             push_size,
                                            const guint32    *spec,
                                            guint             n_spec,
                                            GError          **error);
void            facet_vk_pipeline_cache_save (FacetVkContext *ctx);

/* Recording and submission */
gboolean        facet_vk_frame_init        (FacetVkContext   *ctx,
                                            FacetVkFrame     *frame,
                                            GError          **error);
void            facet_vk_frame_clear       (FacetVkContext   *ctx,
                                            FacetVkFrame     *frame);
gboolean        facet_vk_frame_begin       (FacetVkContext   *ctx,
                                            FacetVkFrame     *frame,
                                            GError          **error);
gboolean        facet_vk_dispatch          (FacetVkContext   *ctx,
                                            FacetVkFrame     *frame,
                                            FacetVkPipeline  *pipeline,
                                            const FacetVkBinding *bindings,
                                            const void       *push,
                                            guint32           gx,
                                            guint32           gy,
                                            guint32           gz,
                                            int               kind,
                                            double            flops,
                                            GError          **error);
void            facet_vk_barrier           (FacetVkFrame     *frame);
void            facet_vk_copy              (FacetVkFrame     *frame,
                                            const FacetVkTensor *src,
                                            const FacetVkTensor *dst,
                                            VkDeviceSize      bytes);
void            facet_vk_barrier_transfer_to_compute (FacetVkFrame *frame);
void            facet_vk_barrier_compute_to_transfer (FacetVkFrame *frame);
void            facet_vk_barrier_to_host   (FacetVkFrame     *frame);
gboolean        facet_vk_frame_submit      (FacetVkContext   *ctx,
                                            FacetVkFrame     *frame,
                                            GError          **error);
gboolean        facet_vk_frame_wait        (FacetVkContext   *ctx,
                                            FacetVkFrame     *frame,
                                            FacetVulkanPerf  *perf,
                                            GError          **error);

/* Rows of a row-per-workgroup shader as a 2-D grid within the limits. */
void            facet_vk_row_grid          (FacetVkContext   *ctx,
                                            guint32           rows,
                                            guint32          *gx,
                                            guint32          *gy);

G_END_DECLS
