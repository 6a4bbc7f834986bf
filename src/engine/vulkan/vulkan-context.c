/* vulkan-context.c — instance, device, memory, pipelines and submission
 *
 * Everything here is model-agnostic: vulkan-backend.c describes the work.
 * Conventions that the shaders rely on: a descriptor always covers a whole
 * block (a buffer no larger than the device's storage-buffer range), and a
 * tensor is a (block, byte offset) pair whose offset reaches the shader as an
 * element index in push constants. Descriptor sets are allocated per
 * recording from pools that are reset with the command buffer.
 */
#define G_LOG_DOMAIN "facet-vulkan"

#include "config.h"

#include <string.h>

#include <gio/gio.h>

#include "engine/engine-error.h"
#include "engine/engine-tensor.h"
#include "vulkan-private.h"
#include "vulkan-shaders.h"

#define BLOCK_ALIGN        256
#define BLOCK_LIMIT_MAX    ((VkDeviceSize) 1 << 30)
#define MAX_TIMED          2048
#define POOL_SETS          128
#define POOL_DESCRIPTORS   (POOL_SETS * 8)
#define SHADER_PREFIX      "/io/github/facet/vulkan/"

static gint validation_errors;

static FacetVkBlock *block_new  (FacetVkContext *ctx,
                                 FacetVkMemKind  kind,
                                 VkDeviceSize    size,
                                 GError        **error);
static void          block_free (FacetVkContext *ctx,
                                 FacetVkBlock   *block);

/**
 * facet_vulkan_get_validation_errors:
 *
 * Errors reported by the validation layers (when enabled, e.g. through
 * VK_INSTANCE_LAYERS=VK_LAYER_KHRONOS_validation) since the program started.
 */
guint
facet_vulkan_get_validation_errors (void)
{
  return (guint) g_atomic_int_get (&validation_errors);
}

static const char *
result_to_string (VkResult result)
{
  switch (result)
    {
    case VK_SUCCESS: return "VK_SUCCESS";
    case VK_NOT_READY: return "VK_NOT_READY";
    case VK_TIMEOUT: return "VK_TIMEOUT";
    case VK_INCOMPLETE: return "VK_INCOMPLETE";
    case VK_ERROR_OUT_OF_HOST_MEMORY: return "VK_ERROR_OUT_OF_HOST_MEMORY";
    case VK_ERROR_OUT_OF_DEVICE_MEMORY: return "VK_ERROR_OUT_OF_DEVICE_MEMORY";
    case VK_ERROR_INITIALIZATION_FAILED: return "VK_ERROR_INITIALIZATION_FAILED";
    case VK_ERROR_DEVICE_LOST: return "VK_ERROR_DEVICE_LOST";
    case VK_ERROR_MEMORY_MAP_FAILED: return "VK_ERROR_MEMORY_MAP_FAILED";
    case VK_ERROR_LAYER_NOT_PRESENT: return "VK_ERROR_LAYER_NOT_PRESENT";
    case VK_ERROR_EXTENSION_NOT_PRESENT: return "VK_ERROR_EXTENSION_NOT_PRESENT";
    case VK_ERROR_FEATURE_NOT_PRESENT: return "VK_ERROR_FEATURE_NOT_PRESENT";
    case VK_ERROR_INCOMPATIBLE_DRIVER: return "VK_ERROR_INCOMPATIBLE_DRIVER";
    case VK_ERROR_TOO_MANY_OBJECTS: return "VK_ERROR_TOO_MANY_OBJECTS";
    case VK_ERROR_FORMAT_NOT_SUPPORTED: return "VK_ERROR_FORMAT_NOT_SUPPORTED";
    case VK_ERROR_FRAGMENTED_POOL: return "VK_ERROR_FRAGMENTED_POOL";
    case VK_ERROR_OUT_OF_POOL_MEMORY: return "VK_ERROR_OUT_OF_POOL_MEMORY";
    case VK_ERROR_INVALID_SHADER_NV: return "VK_ERROR_INVALID_SHADER_NV";
    default: return "VkResult";
    }
}

/**
 * facet_vk_check:
 *
 * Turns a failed VkResult into a GError the user can act on: out of memory,
 * device lost (the context is then marked for rebuilding), or a backend
 * failure. Returns TRUE on success.
 */
gboolean
facet_vk_check (FacetVkContext *ctx,
                VkResult        result,
                const char     *what,
                GError        **error)
{
  int code;

  if (result >= 0)
    return TRUE;
  switch (result)
    {
    case VK_ERROR_OUT_OF_HOST_MEMORY:
    case VK_ERROR_OUT_OF_DEVICE_MEMORY:
    case VK_ERROR_OUT_OF_POOL_MEMORY:
      code = FACET_ENGINE_ERROR_OUT_OF_MEMORY;
      break;
    case VK_ERROR_DEVICE_LOST:
      code = FACET_ENGINE_ERROR_DEVICE_LOST;
      if (ctx != NULL)
        ctx->lost = TRUE;
      break;
    default:
      code = FACET_ENGINE_ERROR_BACKEND;
      break;
    }
  if (code == FACET_ENGINE_ERROR_OUT_OF_MEMORY)
    g_set_error (error, FACET_ENGINE_ERROR, code, "Vulkan device %s is out of memory (%s: %s)",
                 ctx != NULL ? ctx->props.deviceName : "", what, result_to_string (result));
  else if (code == FACET_ENGINE_ERROR_DEVICE_LOST)
    g_set_error (error, FACET_ENGINE_ERROR, code, "Vulkan device %s was lost (%s: %s); it is "
                 "set up again on the next use", ctx != NULL ? ctx->props.deviceName : "", what,
                 result_to_string (result));
  else
    g_set_error (error, FACET_ENGINE_ERROR, code, "Vulkan: %s failed (%s%s%s)", what,
                 result_to_string (result), ctx != NULL ? " on " : "",
                 ctx != NULL ? ctx->props.deviceName : "");
  return FALSE;
}

static VKAPI_ATTR VkBool32 VKAPI_CALL
debug_callback (VkDebugUtilsMessageSeverityFlagBitsEXT      severity,
                VkDebugUtilsMessageTypeFlagsEXT             types,
                const VkDebugUtilsMessengerCallbackDataEXT *data,
                void                                       *user_data)
{
  /* stderr, never stdout: facet-cli writes its results there. The loader's
   * own messages (no driver found, layers enabled by the environment) are
   * debug output: a missing driver reaches the user as a GError. */
  if (!(types & VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT))
    g_debug ("%s", data->pMessage);
  else if (severity & VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT)
    {
      g_atomic_int_inc (&validation_errors);
      g_printerr ("facet-vulkan: validation error: %s\n", data->pMessage);
    }
  else
    g_printerr ("facet-vulkan: validation warning: %s\n", data->pMessage);
  return VK_FALSE;
}

static gboolean
env_flag (const char *name)
{
  const char *v = g_getenv (name);
  return v != NULL && *v != '\0' && g_strcmp0 (v, "0") != 0;
}

static gboolean
has_instance_extension (const char *name)
{
  guint32 n = 0;
  g_autofree VkExtensionProperties *exts = NULL;

  if (vkEnumerateInstanceExtensionProperties (NULL, &n, NULL) != VK_SUCCESS)
    return FALSE;
  exts = g_new0 (VkExtensionProperties, MAX (n, 1));
  if (vkEnumerateInstanceExtensionProperties (NULL, &n, exts) < 0)
    return FALSE;
  for (guint32 i = 0; i < n; i++)
    if (g_str_equal (exts[i].extensionName, name))
      return TRUE;
  return FALSE;
}

static gboolean
has_layer (const char *name)
{
  guint32 n = 0;
  g_autofree VkLayerProperties *layers = NULL;

  if (vkEnumerateInstanceLayerProperties (&n, NULL) != VK_SUCCESS)
    return FALSE;
  layers = g_new0 (VkLayerProperties, MAX (n, 1));
  if (vkEnumerateInstanceLayerProperties (&n, layers) < 0)
    return FALSE;
  for (guint32 i = 0; i < n; i++)
    if (g_str_equal (layers[i].layerName, name))
      return TRUE;
  return FALSE;
}

/* An instance of Vulkan 1.1 with the debug messenger installed where the
 * loader offers VK_EXT_debug_utils (validation layers report through it). */
static VkInstance
create_instance (gboolean                  with_messenger,
                 VkDebugUtilsMessengerEXT *messenger,
                 GError                  **error)
{
  VkApplicationInfo app = {
    .sType = VK_STRUCTURE_TYPE_APPLICATION_INFO,
    .pApplicationName = "Facet",
    .applicationVersion = VK_MAKE_VERSION (0, 1, 0),
    .pEngineName = "facet-engine",
    .engineVersion = VK_MAKE_VERSION (0, 1, 0),
    .apiVersion = VK_API_VERSION_1_1,
  };
  VkDebugUtilsMessengerCreateInfoEXT dbg = {
    .sType = VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT,
    .messageSeverity = VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT
                       | VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT,
    .messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT
                   | VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT,
    .pfnUserCallback = debug_callback,
  };
  const char *exts[1];
  const char *layers[1];
  guint32 api = VK_API_VERSION_1_0;
  VkInstanceCreateInfo info = {
    .sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO,
    .pApplicationInfo = &app,
    .ppEnabledExtensionNames = exts,
    .ppEnabledLayerNames = layers,
  };
  VkInstance instance = VK_NULL_HANDLE;
  VkResult res;

  if (vkEnumerateInstanceVersion (&api) != VK_SUCCESS || api < VK_API_VERSION_1_1)
    {
      g_set_error (error, FACET_ENGINE_ERROR, FACET_ENGINE_ERROR_BACKEND,
                   "the Vulkan loader is older than Vulkan 1.1");
      return VK_NULL_HANDLE;
    }
  with_messenger = with_messenger && has_instance_extension (VK_EXT_DEBUG_UTILS_EXTENSION_NAME);
  if (with_messenger)
    {
      exts[info.enabledExtensionCount++] = VK_EXT_DEBUG_UTILS_EXTENSION_NAME;
      info.pNext = &dbg;
    }
  /* FACET_VK_VALIDATION=1 is the user's switch; VK_INSTANCE_LAYERS works too. */
  if (env_flag ("FACET_VK_VALIDATION") && has_layer ("VK_LAYER_KHRONOS_validation"))
    layers[info.enabledLayerCount++] = "VK_LAYER_KHRONOS_validation";

  res = vkCreateInstance (&info, NULL, &instance);
  if (res != VK_SUCCESS)
    {
      g_set_error (error, FACET_ENGINE_ERROR, FACET_ENGINE_ERROR_BACKEND,
                   "no usable Vulkan driver (vkCreateInstance: %s)", result_to_string (res));
      return VK_NULL_HANDLE;
    }
  if (with_messenger && messenger != NULL)
    {
      PFN_vkCreateDebugUtilsMessengerEXT create = (PFN_vkCreateDebugUtilsMessengerEXT)
        vkGetInstanceProcAddr (instance, "vkCreateDebugUtilsMessengerEXT");
      if (create == NULL || create (instance, &dbg, NULL, messenger) != VK_SUCCESS)
        *messenger = VK_NULL_HANDLE;
    }
  return instance;
}

/* One instance for the whole process, created on first use and kept: it
 * makes backends and device listings cheap after the first (the loader
 * scans its drivers once), and it keeps the driver loaded until exit, so
 * that its own one-time allocations stay attributable to it. */
static VkInstance               shared_instance;
static VkDebugUtilsMessengerEXT shared_messenger;
G_LOCK_DEFINE_STATIC (shared_instance);

static VkInstance
get_instance (GError **error)
{
  VkInstance instance;

  G_LOCK (shared_instance);
  if (shared_instance == VK_NULL_HANDLE)
    shared_instance = create_instance (TRUE, &shared_messenger, error);
  instance = shared_instance;
  G_UNLOCK (shared_instance);
  return instance;
}

FacetDeviceType
facet_vk_device_type (VkPhysicalDeviceType type)
{
  switch (type)
    {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU:
      return FACET_DEVICE_DISCRETE_GPU;
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU:
      return FACET_DEVICE_INTEGRATED_GPU;
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU:
      return FACET_DEVICE_VIRTUAL_GPU;
    case VK_PHYSICAL_DEVICE_TYPE_CPU:
      return FACET_DEVICE_CPU;
    case VK_PHYSICAL_DEVICE_TYPE_OTHER:
    default:
      return FACET_DEVICE_OTHER;
    }
}

/* Preference order: discrete, integrated, virtual, CPU, other. */
static int
type_rank (FacetDeviceType type)
{
  switch (type)
    {
    case FACET_DEVICE_DISCRETE_GPU:
      return 0;
    case FACET_DEVICE_INTEGRATED_GPU:
      return 1;
    case FACET_DEVICE_VIRTUAL_GPU:
      return 2;
    case FACET_DEVICE_CPU:
      return 3;
    case FACET_DEVICE_OTHER:
    default:
      return 4;
    }
}

static int
compute_queue_family (VkPhysicalDevice physical)
{
  guint32 n = 0;
  g_autofree VkQueueFamilyProperties *fams = NULL;
  int best = -1, best_score = -1;

  vkGetPhysicalDeviceQueueFamilyProperties (physical, &n, NULL);
  fams = g_new0 (VkQueueFamilyProperties, MAX (n, 1));
  vkGetPhysicalDeviceQueueFamilyProperties (physical, &n, fams);
  for (guint32 i = 0; i < n; i++)
    {
      int score;
      if (!(fams[i].queueFlags & VK_QUEUE_COMPUTE_BIT) || fams[i].queueCount == 0)
        continue;
      /* A queue with timestamps, and one without graphics (nothing else is
       * queued there) when the device has it. */
      score = (fams[i].timestampValidBits > 0 ? 2 : 0)
              + (!(fams[i].queueFlags & VK_QUEUE_GRAPHICS_BIT) ? 1 : 0);
      if (score > best_score)
        {
          best = (int) i;
          best_score = score;
        }
    }
  return best;
}

static FacetDeviceInfo *
device_info (VkPhysicalDevice physical,
             int              index)
{
  FacetDeviceInfo *info = g_new0 (FacetDeviceInfo, 1);
  VkPhysicalDeviceProperties props;
  VkPhysicalDeviceMemoryProperties mem;
  VkPhysicalDeviceDriverProperties drv = { .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_DRIVER_PROPERTIES };
  VkPhysicalDeviceProperties2 props2 = { .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2 };
  VkPhysicalDevice16BitStorageFeatures s16 = {
    .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_16BIT_STORAGE_FEATURES,
  };
  VkPhysicalDeviceFeatures2 feats = { .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2 };

  vkGetPhysicalDeviceProperties (physical, &props);
  vkGetPhysicalDeviceMemoryProperties (physical, &mem);
  info->index = index;
  info->name = g_strdup (props.deviceName);
  info->type = facet_vk_device_type (props.deviceType);
  for (guint32 h = 0; h < mem.memoryHeapCount; h++)
    if (mem.memoryHeaps[h].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT)
      info->memory += mem.memoryHeaps[h].size;
  info->api_version = g_strdup_printf ("%u.%u.%u", VK_API_VERSION_MAJOR (props.apiVersion),
                                       VK_API_VERSION_MINOR (props.apiVersion),
                                       VK_API_VERSION_PATCH (props.apiVersion));
  info->usable = props.apiVersion >= VK_API_VERSION_1_1 && compute_queue_family (physical) >= 0;
  if (props.apiVersion >= VK_API_VERSION_1_2)
    {
      props2.pNext = &drv;
      vkGetPhysicalDeviceProperties2 (physical, &props2);
      info->driver = g_strdup_printf ("%s %s", drv.driverName, drv.driverInfo);
    }
  else
    info->driver = g_strdup_printf ("driver 0x%x", props.driverVersion);
  if (props.apiVersion >= VK_API_VERSION_1_1)
    {
      feats.pNext = &s16;
      vkGetPhysicalDeviceFeatures2 (physical, &feats);
      info->fp16 = s16.storageBuffer16BitAccess;
    }
  return info;
}

/**
 * facet_vulkan_list_devices:
 *
 * See facet_backend_list_devices().
 */
GPtrArray *
facet_vulkan_list_devices (GError **error)
{
  GPtrArray *list = g_ptr_array_new_with_free_func ((GDestroyNotify) facet_device_info_free);
  g_autoptr (GError) local = NULL;
  VkInstance instance = get_instance (&local);
  guint32 n = 0;
  g_autofree VkPhysicalDevice *devs = NULL;

  if (instance == VK_NULL_HANDLE)
    {
      /* No driver at all is an empty list, not a failure. */
      if (g_error_matches (local, FACET_ENGINE_ERROR, FACET_ENGINE_ERROR_BACKEND)
          && strstr (local->message, "vkCreateInstance") != NULL)
        return list;
      g_propagate_error (error, g_steal_pointer (&local));
      g_ptr_array_unref (list);
      return NULL;
    }
  if (vkEnumeratePhysicalDevices (instance, &n, NULL) == VK_SUCCESS && n > 0)
    {
      devs = g_new0 (VkPhysicalDevice, n);
      if (vkEnumeratePhysicalDevices (instance, &n, devs) >= 0)
        for (guint32 i = 0; i < n; i++)
          g_ptr_array_add (list, device_info (devs[i], (int) i));
    }
  return list;
}

/* The device FACET_VK_DEVICE (or @wanted) names, else the best usable one. */
static int
choose_device (VkPhysicalDevice *devs,
               guint32           n,
               const char       *wanted,
               GError          **error)
{
  g_autoptr (GPtrArray) infos = g_ptr_array_new_with_free_func ((GDestroyNotify) facet_device_info_free);
  int best = -1;

  for (guint32 i = 0; i < n; i++)
    g_ptr_array_add (infos, device_info (devs[i], (int) i));

  if (wanted != NULL && *wanted != '\0')
    {
      guint64 index;
      g_autofree char *needle = g_utf8_casefold (wanted, -1);

      if (g_ascii_string_to_unsigned (wanted, 10, 0, G_MAXINT, &index, NULL))
        {
          if (index >= n)
            {
              g_set_error (error, FACET_ENGINE_ERROR, FACET_ENGINE_ERROR_BACKEND,
                           "FACET_VK_DEVICE=%s: there are only %u Vulkan devices", wanted, n);
              return -1;
            }
          best = (int) index;
        }
      else
        for (guint32 i = 0; i < n && best < 0; i++)
          {
            FacetDeviceInfo *d = g_ptr_array_index (infos, i);
            g_autofree char *hay = g_utf8_casefold (d->name, -1);
            if (strstr (hay, needle) != NULL)
              best = (int) i;
          }
      if (best < 0)
        {
          g_autoptr (GString) names = g_string_new (NULL);
          for (guint32 i = 0; i < n; i++)
            g_string_append_printf (names, "%s%u: %s", i ? ", " : "", i,
                                    ((FacetDeviceInfo *) g_ptr_array_index (infos, i))->name);
          g_set_error (error, FACET_ENGINE_ERROR, FACET_ENGINE_ERROR_BACKEND,
                       "no Vulkan device matches FACET_VK_DEVICE=“%s” (devices: %s)", wanted,
                       n ? names->str : "none");
          return -1;
        }
      if (!((FacetDeviceInfo *) g_ptr_array_index (infos, best))->usable)
        {
          g_set_error (error, FACET_ENGINE_ERROR, FACET_ENGINE_ERROR_BACKEND,
                       "Vulkan device %d (%s) lacks Vulkan 1.1 or a compute queue", best,
                       ((FacetDeviceInfo *) g_ptr_array_index (infos, best))->name);
          return -1;
        }
      return best;
    }

  for (guint32 i = 0; i < n; i++)
    {
      FacetDeviceInfo *d = g_ptr_array_index (infos, i), *b;
      if (!d->usable)
        continue;
      if (best < 0)
        {
          best = (int) i;
          continue;
        }
      b = g_ptr_array_index (infos, best);
      if (type_rank (d->type) < type_rank (b->type)
          || (type_rank (d->type) == type_rank (b->type) && d->memory > b->memory))
        best = (int) i;
    }
  if (best < 0)
    g_set_error (error, FACET_ENGINE_ERROR, FACET_ENGINE_ERROR_BACKEND,
                 n == 0 ? "no Vulkan device found"
                        : "no Vulkan device with Vulkan 1.1 and a compute queue");
  return best;
}

static int
find_memory_type (FacetVkContext        *ctx,
                  guint32                bits,
                  VkMemoryPropertyFlags  required,
                  VkMemoryPropertyFlags  preferred)
{
  for (int pass = 0; pass < 2; pass++)
    {
      VkMemoryPropertyFlags want = pass == 0 ? required | preferred : required;
      for (guint32 i = 0; i < ctx->mem_props.memoryTypeCount; i++)
        if ((bits & (1u << i)) && (ctx->mem_props.memoryTypes[i].propertyFlags & want) == want)
          return (int) i;
    }
  return -1;
}

/* Device memory that the host can map and the device uses at full speed:
 * integrated GPUs and CPU drivers, where a staging copy would only cost. */
static gboolean
detect_uma (FacetVkContext *ctx)
{
  VkMemoryPropertyFlags all = VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT | VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT
                              | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;

  if (ctx->props.deviceType != VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU
      && ctx->props.deviceType != VK_PHYSICAL_DEVICE_TYPE_CPU)
    return FALSE;
  return find_memory_type (ctx, ~0u, all, 0) >= 0;
}

static char *
cache_path_for (FacetVkContext *ctx)
{
  GString *uuid = g_string_new (NULL);
  char *name, *path;

  for (guint i = 0; i < VK_UUID_SIZE; i++)
    g_string_append_printf (uuid, "%02x", ctx->props.pipelineCacheUUID[i]);
  name = g_strdup_printf ("vulkan-pipelines-%04x-%04x-%s.bin", ctx->props.vendorID,
                          ctx->props.deviceID, uuid->str);
  path = g_build_filename (g_get_user_cache_dir (), "facet", name, NULL);
  g_free (name);
  g_string_free (uuid, TRUE);
  return path;
}

/* Loads the pipeline cache saved by an earlier run, when its header says it
 * was written by this driver for this device (some drivers do not check). */
static void
create_pipeline_cache (FacetVkContext *ctx)
{
  g_autofree char *data = NULL;
  gsize len = 0;
  VkPipelineCacheCreateInfo info = { .sType = VK_STRUCTURE_TYPE_PIPELINE_CACHE_CREATE_INFO };

  ctx->cache_path = cache_path_for (ctx);
  if (g_file_get_contents (ctx->cache_path, &data, &len, NULL) && len >= 32)
    {
      guint32 header[4];
      memcpy (header, data, sizeof header);
      if (header[0] >= 32 && header[1] == VK_PIPELINE_CACHE_HEADER_VERSION_ONE
          && header[2] == ctx->props.vendorID && header[3] == ctx->props.deviceID
          && memcmp (data + 16, ctx->props.pipelineCacheUUID, VK_UUID_SIZE) == 0)
        {
          info.initialDataSize = len;
          info.pInitialData = data;
        }
    }
  if (vkCreatePipelineCache (ctx->device, &info, NULL, &ctx->cache) != VK_SUCCESS)
    {
      info.initialDataSize = 0;
      info.pInitialData = NULL;
      if (vkCreatePipelineCache (ctx->device, &info, NULL, &ctx->cache) != VK_SUCCESS)
        ctx->cache = VK_NULL_HANDLE;
    }
}

/**
 * facet_vk_pipeline_cache_save:
 *
 * Writes the pipeline cache under $XDG_CACHE_HOME/facet/ when pipelines were
 * created since it was loaded. A failure only costs compile time next run.
 */
void
facet_vk_pipeline_cache_save (FacetVkContext *ctx)
{
  g_autofree char *data = NULL;
  g_autofree char *dir = NULL;
  g_autoptr (GError) error = NULL;
  size_t len = 0;

  if (ctx->cache == VK_NULL_HANDLE || !ctx->cache_dirty || ctx->lost)
    return;
  if (vkGetPipelineCacheData (ctx->device, ctx->cache, &len, NULL) != VK_SUCCESS || len == 0)
    return;
  data = g_malloc (len);
  if (vkGetPipelineCacheData (ctx->device, ctx->cache, &len, data) != VK_SUCCESS)
    return;
  dir = g_path_get_dirname (ctx->cache_path);
  if (g_mkdir_with_parents (dir, 0700) != 0
      || !g_file_set_contents (ctx->cache_path, data, (gssize) len, &error))
    g_debug ("cannot save the pipeline cache %s: %s", ctx->cache_path,
             error ? error->message : g_strerror (errno));
  else
    ctx->cache_dirty = FALSE;
}

static void
pipeline_free (gpointer data)
{
  (void) data; /* destroyed by facet_vk_context_free, which has the device */
}

/**
 * facet_vk_context_new:
 * @device: (nullable): index or name substring; NULL: $FACET_VK_DEVICE
 * @want_fp16: enable 16-bit storage when the device has it (and
 *   $FACET_VK_DISABLE_F16 is not set)
 * @staging: copy through staging buffers even where device memory could be
 *   mapped (the path of discrete GPUs, for tests on other devices)
 *
 * Creates the instance and a logical device with one compute queue.
 */
FacetVkContext *
facet_vk_context_new (const char *device,
                      gboolean    want_fp16,
                      gboolean    staging,
                      GError    **error)
{
  FacetVkContext *ctx = g_new0 (FacetVkContext, 1);
  guint32 n = 0;
  g_autofree VkPhysicalDevice *devs = NULL;
  int chosen, family;
  float priority = 1.0f;
  VkPhysicalDevice16BitStorageFeatures s16 = {
    .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_16BIT_STORAGE_FEATURES,
  };
  VkPhysicalDeviceFeatures2 feats = {
    .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2,
    .pNext = &s16,
  };
  VkPhysicalDeviceMaintenance3Properties m3 = {
    .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MAINTENANCE_3_PROPERTIES,
  };
  VkPhysicalDeviceProperties2 props2 = {
    .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2,
    .pNext = &m3,
  };
  VkDeviceQueueCreateInfo qinfo = {
    .sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO,
    .queueCount = 1,
    .pQueuePriorities = &priority,
  };
  VkPhysicalDevice16BitStorageFeatures s16_on = {
    .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_16BIT_STORAGE_FEATURES,
  };
  VkPhysicalDeviceFeatures2 feats_on = {
    .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2,
    .pNext = &s16_on,
  };
  VkDeviceCreateInfo dinfo = {
    .sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO,
    .pNext = &feats_on,
    .queueCreateInfoCount = 1,
    .pQueueCreateInfos = &qinfo,
  };
  VkCommandPoolCreateInfo pinfo = {
    .sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO,
    .flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT,
  };
  g_autoptr (FacetDeviceInfo) info = NULL;
  VkResult res;
  guint32 ts_bits = 0;
  const char *gemm;

  ctx->pipelines = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, pipeline_free);
  ctx->instance = get_instance (error);
  if (ctx->instance == VK_NULL_HANDLE)
    goto fail;

  res = vkEnumeratePhysicalDevices (ctx->instance, &n, NULL);
  if (!facet_vk_check (NULL, res, "vkEnumeratePhysicalDevices", error))
    goto fail;
  devs = g_new0 (VkPhysicalDevice, MAX (n, 1));
  if (n > 0 && !facet_vk_check (NULL, vkEnumeratePhysicalDevices (ctx->instance, &n, devs),
                                "vkEnumeratePhysicalDevices", error))
    goto fail;
  chosen = choose_device (devs, n, device != NULL ? device : g_getenv ("FACET_VK_DEVICE"), error);
  if (chosen < 0)
    goto fail;
  ctx->physical = devs[chosen];
  ctx->device_index = chosen;
  vkGetPhysicalDeviceProperties (ctx->physical, &ctx->props);
  vkGetPhysicalDeviceMemoryProperties (ctx->physical, &ctx->mem_props);
  vkGetPhysicalDeviceProperties2 (ctx->physical, &props2);
  vkGetPhysicalDeviceFeatures2 (ctx->physical, &feats);
  info = device_info (ctx->physical, chosen);
  ctx->driver = g_strdup (info->driver);
  ctx->device_memory = info->memory;

  family = compute_queue_family (ctx->physical);
  ctx->queue_family = (guint32) family;
  {
    guint32 nf = 0;
    g_autofree VkQueueFamilyProperties *fams = NULL;
    vkGetPhysicalDeviceQueueFamilyProperties (ctx->physical, &nf, NULL);
    fams = g_new0 (VkQueueFamilyProperties, MAX (nf, 1));
    vkGetPhysicalDeviceQueueFamilyProperties (ctx->physical, &nf, fams);
    ts_bits = fams[family].timestampValidBits;
  }
  ctx->timestamps = ts_bits > 0 && ctx->props.limits.timestampPeriod > 0.0f;
  ctx->timestamp_period = ctx->props.limits.timestampPeriod;

  ctx->fp16 = want_fp16 && s16.storageBuffer16BitAccess && !env_flag ("FACET_VK_DISABLE_F16");
  s16_on.storageBuffer16BitAccess = ctx->fp16;
  qinfo.queueFamilyIndex = ctx->queue_family;
  res = vkCreateDevice (ctx->physical, &dinfo, NULL, &ctx->device);
  if (!facet_vk_check (ctx, res, "vkCreateDevice", error))
    {
      ctx->device = VK_NULL_HANDLE;
      goto fail;
    }
  vkGetDeviceQueue (ctx->device, ctx->queue_family, 0, &ctx->queue);
  pinfo.queueFamilyIndex = ctx->queue_family;
  res = vkCreateCommandPool (ctx->device, &pinfo, NULL, &ctx->cmd_pool);
  if (!facet_vk_check (ctx, res, "vkCreateCommandPool", error))
    goto fail;

  /* Blocks: as large as one descriptor may cover and one allocation may be,
   * at most 1 GiB (element offsets are 32-bit in the shaders). */
  ctx->block_limit = MIN (ctx->props.limits.maxStorageBufferRange, m3.maxMemoryAllocationSize);
  ctx->block_limit = MIN (ctx->block_limit, BLOCK_LIMIT_MAX);
  ctx->block_limit -= ctx->block_limit % BLOCK_ALIGN;
  for (int i = 0; i < 3; i++)
    ctx->max_groups[i] = ctx->props.limits.maxComputeWorkGroupCount[i];
  ctx->uma = detect_uma (ctx) && !staging && !env_flag ("FACET_VK_STAGING");
  /* The product kernel: 128 x 128 tiles on discrete GPUs, 64 x 64 on other
   * GPUs, and on CPU drivers the direct kernel without shared memory. */
  if (ctx->props.deviceType == VK_PHYSICAL_DEVICE_TYPE_CPU)
    ctx->gemm_tile = 0;
  else
    ctx->gemm_tile = ctx->props.deviceType == VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU ? 8 : 4;
  gemm = g_getenv ("FACET_VK_GEMM");
  if (g_strcmp0 (gemm, "direct") == 0)
    ctx->gemm_tile = 0;
  else if (g_strcmp0 (gemm, "tiled") == 0)
    ctx->gemm_tile = 4;
  else if (g_strcmp0 (gemm, "tiled128") == 0)
    ctx->gemm_tile = 8;
  if (ctx->props.limits.maxComputeWorkGroupInvocations < 256
      || ctx->props.limits.maxComputeSharedMemorySize < 16384)
    {
      g_set_error (error, FACET_ENGINE_ERROR, FACET_ENGINE_ERROR_BACKEND,
                   "Vulkan device %s allows too small workgroups (%u invocations, %u bytes "
                   "of shared memory)", ctx->props.deviceName,
                   ctx->props.limits.maxComputeWorkGroupInvocations,
                   ctx->props.limits.maxComputeSharedMemorySize);
      goto fail;
    }
  create_pipeline_cache (ctx);
  ctx->perf = env_flag ("FACET_VK_PERF");
  ctx->dummy_read = block_new (ctx, FACET_VK_MEM_DEVICE, BLOCK_ALIGN, error);
  if (ctx->dummy_read == NULL)
    goto fail;
  ctx->dummy_write = block_new (ctx, FACET_VK_MEM_DEVICE, BLOCK_ALIGN, error);
  if (ctx->dummy_write == NULL)
    goto fail;
  return ctx;

fail:
  facet_vk_context_free (ctx);
  return NULL;
}

void
facet_vk_context_free (FacetVkContext *ctx)
{
  if (ctx == NULL)
    return;
  if (ctx->device != VK_NULL_HANDLE)
    {
      GHashTableIter iter;
      gpointer value;

      /* A lost device may fail to idle; the objects are destroyed anyway. */
      vkDeviceWaitIdle (ctx->device);
      facet_vk_pipeline_cache_save (ctx);
      g_hash_table_iter_init (&iter, ctx->pipelines);
      while (g_hash_table_iter_next (&iter, NULL, &value))
        {
          FacetVkPipeline *p = value;
          vkDestroyPipeline (ctx->device, p->pipeline, NULL);
          vkDestroyPipelineLayout (ctx->device, p->layout, NULL);
          vkDestroyDescriptorSetLayout (ctx->device, p->set_layout, NULL);
          vkDestroyShaderModule (ctx->device, p->module, NULL);
          g_free (p);
        }
      if (ctx->cache != VK_NULL_HANDLE)
        vkDestroyPipelineCache (ctx->device, ctx->cache, NULL);
      block_free (ctx, ctx->dummy_read);
      block_free (ctx, ctx->dummy_write);
      if (ctx->cmd_pool != VK_NULL_HANDLE)
        vkDestroyCommandPool (ctx->device, ctx->cmd_pool, NULL);
      vkDestroyDevice (ctx->device, NULL);
    }
  g_hash_table_unref (ctx->pipelines);
  g_free (ctx->cache_path);
  g_free (ctx->driver);
  g_free (ctx);
}

/* Memory -------------------------------------------------------------------- */

static void
block_free (FacetVkContext *ctx,
            FacetVkBlock   *block)
{
  if (block == NULL)
    return;
  if (block->mapped != NULL)
    vkUnmapMemory (ctx->device, block->memory);
  if (block->buffer != VK_NULL_HANDLE)
    vkDestroyBuffer (ctx->device, block->buffer, NULL);
  if (block->memory != VK_NULL_HANDLE)
    vkFreeMemory (ctx->device, block->memory, NULL);
  g_free (block);
}

static FacetVkBlock *
block_new (FacetVkContext *ctx,
           FacetVkMemKind  kind,
           VkDeviceSize    size,
           GError        **error)
{
  FacetVkBlock *block = g_new0 (FacetVkBlock, 1);
  VkBufferCreateInfo binfo = {
    .sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO,
    .size = size,
    .usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_SRC_BIT
             | VK_BUFFER_USAGE_TRANSFER_DST_BIT,
    .sharingMode = VK_SHARING_MODE_EXCLUSIVE,
  };
  VkMemoryRequirements req;
  VkMemoryAllocateInfo ainfo = { .sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO };
  VkMemoryPropertyFlags required, preferred = 0;
  int type;
  VkResult res;

  block->size = size;
  res = vkCreateBuffer (ctx->device, &binfo, NULL, &block->buffer);
  if (!facet_vk_check (ctx, res, "vkCreateBuffer", error))
    goto fail;
  vkGetBufferMemoryRequirements (ctx->device, block->buffer, &req);
  if (kind == FACET_VK_MEM_DEVICE)
    required = ctx->uma ? VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT | VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT
                            | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT
                        : VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT;
  else
    {
      required = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
      preferred = VK_MEMORY_PROPERTY_HOST_CACHED_BIT;
    }
  type = find_memory_type (ctx, req.memoryTypeBits, required, preferred);
  if (type < 0)
    {
      g_set_error (error, FACET_ENGINE_ERROR, FACET_ENGINE_ERROR_BACKEND,
                   "Vulkan device %s has no suitable memory type for storage buffers",
                   ctx->props.deviceName);
      goto fail;
    }
  ainfo.allocationSize = req.size;
  ainfo.memoryTypeIndex = (guint32) type;
  if (ctx->fault_alloc > 0 && --ctx->fault_alloc == 0)
    res = VK_ERROR_OUT_OF_DEVICE_MEMORY; /* injected by a test */
  else
    res = vkAllocateMemory (ctx->device, &ainfo, NULL, &block->memory);
  if (res != VK_SUCCESS)
    {
      g_autofree char *what = g_strdup_printf ("allocating %.1f MiB of %s memory",
                                               (double) size / (1 << 20),
                                               kind == FACET_VK_MEM_DEVICE ? "device" : "host-visible");
      block->memory = VK_NULL_HANDLE;
      facet_vk_check (ctx, res, what, error);
      goto fail;
    }
  res = vkBindBufferMemory (ctx->device, block->buffer, block->memory, 0);
  if (!facet_vk_check (ctx, res, "vkBindBufferMemory", error))
    goto fail;
  if (ctx->mem_props.memoryTypes[type].propertyFlags & VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT)
    {
      void *p = NULL;
      res = vkMapMemory (ctx->device, block->memory, 0, VK_WHOLE_SIZE, 0, &p);
      if (!facet_vk_check (ctx, res, "vkMapMemory", error))
        goto fail;
      block->mapped = p;
    }
  return block;

fail:
  block_free (ctx, block);
  return NULL;
}

void
facet_vk_arena_init (FacetVkArena   *arena,
                     FacetVkContext *ctx,
                     FacetVkMemKind  kind)
{
  arena->kind = kind;
  arena->limit = ctx->block_limit;
  arena->plan = g_array_new (FALSE, TRUE, sizeof (VkDeviceSize));
  arena->blocks = g_ptr_array_new ();
}

static gsize
dtype_size (FacetVkDtype dtype)
{
  return dtype == FACET_VK_F16 ? 2 : 4;
}

/**
 * facet_vk_arena_reserve:
 *
 * Plans room for @n elements in the first block that has it. A tensor never
 * spans blocks; one larger than the device's storage-buffer range is refused.
 */
gboolean
facet_vk_arena_reserve (FacetVkArena  *arena,
                        FacetVkTensor *tensor,
                        gsize          n,
                        FacetVkDtype   dtype,
                        GError       **error)
{
  VkDeviceSize bytes = (VkDeviceSize) MAX (n, 1) * dtype_size (dtype);
  VkDeviceSize padded = (bytes + BLOCK_ALIGN - 1) / BLOCK_ALIGN * BLOCK_ALIGN;
  guint i;

  g_assert (arena->blocks->len == 0);
  if (padded > arena->limit)
    {
      g_set_error (error, FACET_ENGINE_ERROR, FACET_ENGINE_ERROR_OUT_OF_MEMORY,
                   "a tensor of %.1f MiB exceeds the largest Vulkan storage buffer of this "
                   "device (%.1f MiB)", (double) bytes / (1 << 20),
                   (double) arena->limit / (1 << 20));
      return FALSE;
    }
  for (i = 0; i < arena->plan->len; i++)
    if (g_array_index (arena->plan, VkDeviceSize, i) + padded <= arena->limit)
      break;
  if (i == arena->plan->len)
    {
      VkDeviceSize zero = 0;
      g_array_append_val (arena->plan, zero);
    }
  tensor->arena = arena;
  tensor->block = i;
  tensor->offset = g_array_index (arena->plan, VkDeviceSize, i);
  tensor->size = bytes;
  tensor->dtype = dtype;
  tensor->n = n;
  g_array_index (arena->plan, VkDeviceSize, i) += padded;
  return TRUE;
}

/* Allocates the planned blocks; on failure none stays allocated. */
gboolean
facet_vk_arena_commit (FacetVkContext *ctx,
                       FacetVkArena   *arena,
                       GError        **error)
{
  g_assert (arena->blocks->len == 0);
  for (guint i = 0; i < arena->plan->len; i++)
    {
      FacetVkBlock *block = block_new (ctx, arena->kind, g_array_index (arena->plan, VkDeviceSize, i),
                                       error);
      if (block == NULL)
        {
          for (guint j = 0; j < arena->blocks->len; j++)
            block_free (ctx, g_ptr_array_index (arena->blocks, j));
          g_ptr_array_set_size (arena->blocks, 0);
          return FALSE;
        }
      g_ptr_array_add (arena->blocks, block);
    }
  return TRUE;
}

/* Frees the blocks and forgets the plan; the arena can be planned again. */
void
facet_vk_arena_clear (FacetVkContext *ctx,
                      FacetVkArena   *arena)
{
  if (arena->plan == NULL)
    return;
  for (guint j = 0; j < arena->blocks->len; j++)
    block_free (ctx, g_ptr_array_index (arena->blocks, j));
  g_ptr_array_set_size (arena->blocks, 0);
  g_array_set_size (arena->plan, 0);
}

VkDeviceSize
facet_vk_arena_bytes (FacetVkArena *arena)
{
  VkDeviceSize total = 0;

  for (guint i = 0; arena->plan != NULL && i < arena->plan->len; i++)
    total += g_array_index (arena->plan, VkDeviceSize, i);
  return total;
}

static FacetVkBlock *
tensor_block (const FacetVkTensor *tensor)
{
  g_assert (tensor->arena != NULL && tensor->block < tensor->arena->blocks->len);
  return g_ptr_array_index (tensor->arena->blocks, tensor->block);
}

/* A descriptor covering the tensor and nothing else. */
FacetVkBinding
facet_vk_tensor_binding (const FacetVkTensor *tensor)
{
  FacetVkBinding b = { tensor_block (tensor)->buffer, tensor->offset,
                       MAX (tensor->size, (VkDeviceSize) 16) };

  return b;
}

/* For bindings a dispatch does not use: never one of its real tensors. */
FacetVkBinding
facet_vk_dummy (FacetVkContext *ctx,
                gboolean        written)
{
  FacetVkBlock *block = written ? ctx->dummy_write : ctx->dummy_read;
  FacetVkBinding b = { block->buffer, 0, block->size };

  return b;
}

void *
facet_vk_tensor_map (const FacetVkTensor *tensor)
{
  FacetVkBlock *block = tensor_block (tensor);

  return block->mapped != NULL ? block->mapped + tensor->offset : NULL;
}

/* Host writes into a mapped tensor, converting to its type. */
void
facet_vk_tensor_write (const FacetVkTensor *tensor,
                       const float         *data,
                       gsize                n)
{
  void *dst = facet_vk_tensor_map (tensor);

  g_assert (dst != NULL && n <= MAX (tensor->n, 1));
  if (tensor->dtype == FACET_VK_F32)
    memcpy (dst, data, n * sizeof (float));
  else
    {
      guint16 *h = dst;
      for (gsize i = 0; i < n; i++)
        h[i] = facet_float_to_half (data[i]);
    }
}

void
facet_vk_tensor_read (const FacetVkTensor *tensor,
                      float               *data,
                      gsize                n)
{
  const void *src = facet_vk_tensor_map (tensor);

  g_assert (src != NULL && n <= MAX (tensor->n, 1));
  if (tensor->dtype == FACET_VK_F32)
    memcpy (data, src, n * sizeof (float));
  else
    {
      const guint16 *h = src;
      for (gsize i = 0; i < n; i++)
        data[i] = facet_half_to_float (h[i]);
    }
}

/* Pipelines ------------------------------------------------------------------ */

FacetVkPipeline *
facet_vk_pipeline_get (FacetVkContext *ctx,
                       const char     *variant,
                       guint           n_bindings,
                       guint           push_size,
                       const guint32  *spec,
                       guint           n_spec,
                       GError        **error)
{
  GString *key = g_string_new (variant);
  FacetVkPipeline *p;
  g_autofree char *path = NULL;
  g_autoptr (GBytes) bytes = NULL;
  g_autofree guint32 *code = NULL;
  gsize size = 0;
  VkDescriptorSetLayoutBinding bindings[8];
  VkSpecializationMapEntry entries[4];
  VkResult res;

  g_assert (n_bindings <= G_N_ELEMENTS (bindings) && n_spec <= G_N_ELEMENTS (entries));
  for (guint i = 0; i < n_spec; i++)
    g_string_append_printf (key, ":%u", spec[i]);
  p = g_hash_table_lookup (ctx->pipelines, key->str);
  if (p != NULL)
    {
      g_string_free (key, TRUE);
      return p;
    }

  path = g_strconcat (SHADER_PREFIX, variant, ".spv", NULL);
  bytes = g_resource_lookup_data (facet_vulkan_shaders_get_resource (), path,
                                  G_RESOURCE_LOOKUP_FLAGS_NONE, error);
  if (bytes == NULL)
    {
      g_string_free (key, TRUE);
      return NULL;
    }
  /* SPIR-V words must be 4-byte aligned; resource data need not be. */
  size = g_bytes_get_size (bytes);
  code = g_memdup2 (g_bytes_get_data (bytes, NULL), size);

  p = g_new0 (FacetVkPipeline, 1);
  p->n_bindings = n_bindings;
  p->push_size = push_size;
  {
    VkShaderModuleCreateInfo info = {
      .sType = VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO,
      .codeSize = size,
      .pCode = code,
    };
    res = vkCreateShaderModule (ctx->device, &info, NULL, &p->module);
    if (!facet_vk_check (ctx, res, "vkCreateShaderModule", error))
      goto fail;
  }
  for (guint i = 0; i < n_bindings; i++)
    bindings[i] = (VkDescriptorSetLayoutBinding) {
      .binding = i,
      .descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
      .descriptorCount = 1,
      .stageFlags = VK_SHADER_STAGE_COMPUTE_BIT,
    };
  {
    VkDescriptorSetLayoutCreateInfo info = {
      .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO,
      .bindingCount = n_bindings,
      .pBindings = bindings,
    };
    res = vkCreateDescriptorSetLayout (ctx->device, &info, NULL, &p->set_layout);
    if (!facet_vk_check (ctx, res, "vkCreateDescriptorSetLayout", error))
      goto fail;
  }
  {
    VkPushConstantRange range = {
      .stageFlags = VK_SHADER_STAGE_COMPUTE_BIT,
      .offset = 0,
      .size = push_size,
    };
    VkPipelineLayoutCreateInfo info = {
      .sType = VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO,
      .setLayoutCount = 1,
      .pSetLayouts = &p->set_layout,
      .pushConstantRangeCount = 1,
      .pPushConstantRanges = &range,
    };
    res = vkCreatePipelineLayout (ctx->device, &info, NULL, &p->layout);
    if (!facet_vk_check (ctx, res, "vkCreatePipelineLayout", error))
      goto fail;
  }
  for (guint i = 0; i < n_spec; i++)
    entries[i] = (VkSpecializationMapEntry) { .constantID = i, .offset = 4 * i, .size = 4 };
  {
    VkSpecializationInfo spec_info = {
      .mapEntryCount = n_spec,
      .pMapEntries = entries,
      .dataSize = 4 * n_spec,
      .pData = spec,
    };
    VkComputePipelineCreateInfo info = {
      .sType = VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO,
      .stage = {
        .sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO,
        .stage = VK_SHADER_STAGE_COMPUTE_BIT,
        .module = p->module,
        .pName = "main",
        .pSpecializationInfo = n_spec > 0 ? &spec_info : NULL,
      },
      .layout = p->layout,
    };
    res = vkCreateComputePipelines (ctx->device, ctx->cache, 1, &info, NULL, &p->pipeline);
    if (!facet_vk_check (ctx, res, "vkCreateComputePipelines", error))
      goto fail;
  }
  ctx->cache_dirty = TRUE;
  g_hash_table_insert (ctx->pipelines, g_string_free (key, FALSE), p);
  return p;

fail:
  if (p->pipeline != VK_NULL_HANDLE)
    vkDestroyPipeline (ctx->device, p->pipeline, NULL);
  if (p->layout != VK_NULL_HANDLE)
    vkDestroyPipelineLayout (ctx->device, p->layout, NULL);
  if (p->set_layout != VK_NULL_HANDLE)
    vkDestroyDescriptorSetLayout (ctx->device, p->set_layout, NULL);
  if (p->module != VK_NULL_HANDLE)
    vkDestroyShaderModule (ctx->device, p->module, NULL);
  g_free (p);
  g_string_free (key, TRUE);
  return NULL;
}

/* Recording ----------------------------------------------------------------- */

gboolean
facet_vk_frame_init (FacetVkContext *ctx,
                     FacetVkFrame   *frame,
                     GError        **error)
{
  VkCommandBufferAllocateInfo ainfo = {
    .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
    .commandPool = ctx->cmd_pool,
    .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY,
    .commandBufferCount = 1,
  };
  VkFenceCreateInfo finfo = { .sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO };
  VkResult res;

  memset (frame, 0, sizeof *frame);
  frame->pools = g_array_new (FALSE, TRUE, sizeof (VkDescriptorPool));
  frame->timed = g_array_new (FALSE, TRUE, sizeof (FacetVkTimedOp));
  res = vkAllocateCommandBuffers (ctx->device, &ainfo, &frame->cmd);
  if (!facet_vk_check (ctx, res, "vkAllocateCommandBuffers", error))
    return FALSE;
  res = vkCreateFence (ctx->device, &finfo, NULL, &frame->fence);
  if (!facet_vk_check (ctx, res, "vkCreateFence", error))
    return FALSE;
  if (ctx->timestamps)
    {
      VkQueryPoolCreateInfo qinfo = {
        .sType = VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO,
        .queryType = VK_QUERY_TYPE_TIMESTAMP,
        .queryCount = 2 * MAX_TIMED,
      };
      res = vkCreateQueryPool (ctx->device, &qinfo, NULL, &frame->queries);
      if (!facet_vk_check (ctx, res, "vkCreateQueryPool", error))
        return FALSE;
    }
  return TRUE;
}

void
facet_vk_frame_clear (FacetVkContext *ctx,
                      FacetVkFrame   *frame)
{
  if (frame->pools == NULL)
    return;
  for (guint i = 0; i < frame->pools->len; i++)
    vkDestroyDescriptorPool (ctx->device, g_array_index (frame->pools, VkDescriptorPool, i), NULL);
  g_array_unref (frame->pools);
  g_array_unref (frame->timed);
  if (frame->queries != VK_NULL_HANDLE)
    vkDestroyQueryPool (ctx->device, frame->queries, NULL);
  if (frame->fence != VK_NULL_HANDLE)
    vkDestroyFence (ctx->device, frame->fence, NULL);
  if (frame->cmd != VK_NULL_HANDLE)
    vkFreeCommandBuffers (ctx->device, ctx->cmd_pool, 1, &frame->cmd);
  memset (frame, 0, sizeof *frame);
}

gboolean
facet_vk_frame_begin (FacetVkContext *ctx,
                      FacetVkFrame   *frame,
                      GError        **error)
{
  VkCommandBufferBeginInfo binfo = {
    .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO,
    .flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT,
  };
  VkResult res;

  g_assert (!frame->pending);
  for (guint i = 0; i < frame->pools->len; i++)
    vkResetDescriptorPool (ctx->device, g_array_index (frame->pools, VkDescriptorPool, i), 0);
  frame->pool_index = 0;
  frame->n_queries = 0;
  g_array_set_size (frame->timed, 0);
  res = vkResetCommandBuffer (frame->cmd, 0);
  if (!facet_vk_check (ctx, res, "vkResetCommandBuffer", error))
    return FALSE;
  res = vkBeginCommandBuffer (frame->cmd, &binfo);
  if (!facet_vk_check (ctx, res, "vkBeginCommandBuffer", error))
    return FALSE;
  if (ctx->perf && frame->queries != VK_NULL_HANDLE)
    vkCmdResetQueryPool (frame->cmd, frame->queries, 0, 2 * MAX_TIMED);
  return TRUE;
}

static gboolean
allocate_set (FacetVkContext  *ctx,
              FacetVkFrame    *frame,
              FacetVkPipeline *pipeline,
              VkDescriptorSet *set,
              GError         **error)
{
  for (;;)
    {
      VkDescriptorSetAllocateInfo info = {
        .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO,
        .descriptorSetCount = 1,
        .pSetLayouts = &pipeline->set_layout,
      };
      VkResult res;

      if (frame->pool_index == frame->pools->len)
        {
          VkDescriptorPoolSize size = {
            .type = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
            .descriptorCount = POOL_DESCRIPTORS,
          };
          VkDescriptorPoolCreateInfo pinfo = {
            .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO,
            .maxSets = POOL_SETS,
            .poolSizeCount = 1,
            .pPoolSizes = &size,
          };
          VkDescriptorPool pool;
          res = vkCreateDescriptorPool (ctx->device, &pinfo, NULL, &pool);
          if (!facet_vk_check (ctx, res, "vkCreateDescriptorPool", error))
            return FALSE;
          g_array_append_val (frame->pools, pool);
        }
      info.descriptorPool = g_array_index (frame->pools, VkDescriptorPool, frame->pool_index);
      res = vkAllocateDescriptorSets (ctx->device, &info, set);
      if (res == VK_SUCCESS)
        return TRUE;
      if (res != VK_ERROR_OUT_OF_POOL_MEMORY && res != VK_ERROR_FRAGMENTED_POOL)
        return facet_vk_check (ctx, res, "vkAllocateDescriptorSets", error);
      frame->pool_index++;
    }
}

/**
 * facet_vk_dispatch:
 * @bindings: one per binding of @pipeline
 * @push: @pipeline->push_size bytes
 * @kind: the FacetOpKind the GPU time counts towards (FACET_VK_PERF)
 * @flops: the work, for GFLOP/s figures
 */
gboolean
facet_vk_dispatch (FacetVkContext  *ctx,
                   FacetVkFrame    *frame,
                   FacetVkPipeline *pipeline,
                   const FacetVkBinding *bindings,
                   const void      *push,
                   guint32          gx,
                   guint32          gy,
                   guint32          gz,
                   int              kind,
                   double           flops,
                   GError         **error)
{
  VkDescriptorSet set;
  VkDescriptorBufferInfo infos[8];
  VkWriteDescriptorSet writes[8];
  gboolean timed;

  if (gx == 0 || gy == 0 || gz == 0)
    return TRUE;
  if (gx > ctx->max_groups[0] || gy > ctx->max_groups[1] || gz > ctx->max_groups[2])
    {
      g_set_error (error, FACET_ENGINE_ERROR, FACET_ENGINE_ERROR_INVALID,
                   "Vulkan: %u x %u x %u workgroups exceed the device's limits", gx, gy, gz);
      return FALSE;
    }
  if (!allocate_set (ctx, frame, pipeline, &set, error))
    return FALSE;
  for (guint i = 0; i < pipeline->n_bindings; i++)
    {
      infos[i] = (VkDescriptorBufferInfo) { bindings[i].buffer, bindings[i].offset,
                                            bindings[i].range };
      writes[i] = (VkWriteDescriptorSet) {
        .sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET,
        .dstSet = set,
        .dstBinding = i,
        .descriptorCount = 1,
        .descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
        .pBufferInfo = &infos[i],
      };
    }
  vkUpdateDescriptorSets (ctx->device, pipeline->n_bindings, writes, 0, NULL);
  vkCmdBindPipeline (frame->cmd, VK_PIPELINE_BIND_POINT_COMPUTE, pipeline->pipeline);
  vkCmdBindDescriptorSets (frame->cmd, VK_PIPELINE_BIND_POINT_COMPUTE, pipeline->layout, 0, 1, &set,
                           0, NULL);
  vkCmdPushConstants (frame->cmd, pipeline->layout, VK_SHADER_STAGE_COMPUTE_BIT, 0,
                      pipeline->push_size, push);
  timed = ctx->perf && frame->queries != VK_NULL_HANDLE && frame->n_queries + 2 <= 2 * MAX_TIMED;
  if (timed)
    vkCmdWriteTimestamp (frame->cmd, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, frame->queries,
                         frame->n_queries);
  vkCmdDispatch (frame->cmd, gx, gy, gz);
  if (timed)
    {
      FacetVkTimedOp op = { kind, flops };
      vkCmdWriteTimestamp (frame->cmd, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, frame->queries,
                           frame->n_queries + 1);
      frame->n_queries += 2;
      g_array_append_val (frame->timed, op);
    }
  return TRUE;
}

static void
memory_barrier (FacetVkFrame        *frame,
                VkPipelineStageFlags src_stage,
                VkAccessFlags        src_access,
                VkPipelineStageFlags dst_stage,
                VkAccessFlags        dst_access)
{
  VkMemoryBarrier barrier = {
    .sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
    .srcAccessMask = src_access,
    .dstAccessMask = dst_access,
  };

  vkCmdPipelineBarrier (frame->cmd, src_stage, dst_stage, 0, 1, &barrier, 0, NULL, 0, NULL);
}

/* Between dependent dispatches (and against the previous submission, which
 * used the same scratch buffers). */
void
facet_vk_barrier (FacetVkFrame *frame)
{
  memory_barrier (frame, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT,
                  VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT,
                  VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT,
                  VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT
                    | VK_ACCESS_TRANSFER_READ_BIT | VK_ACCESS_TRANSFER_WRITE_BIT);
}

void
facet_vk_barrier_transfer_to_compute (FacetVkFrame *frame)
{
  memory_barrier (frame, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_ACCESS_TRANSFER_WRITE_BIT,
                  VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT,
                  VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT);
}

void
facet_vk_barrier_compute_to_transfer (FacetVkFrame *frame)
{
  memory_barrier (frame, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_ACCESS_SHADER_WRITE_BIT,
                  VK_PIPELINE_STAGE_TRANSFER_BIT, VK_ACCESS_TRANSFER_READ_BIT);
}

/* Before the host reads what shaders or copies wrote. */
void
facet_vk_barrier_to_host (FacetVkFrame *frame)
{
  memory_barrier (frame, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT,
                  VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT,
                  VK_PIPELINE_STAGE_HOST_BIT, VK_ACCESS_HOST_READ_BIT);
}

/* Copies @bytes (0: all that fits) from @src to @dst. */
void
facet_vk_copy (FacetVkFrame        *frame,
               const FacetVkTensor *src,
               const FacetVkTensor *dst,
               VkDeviceSize         bytes)
{
  VkBufferCopy region = {
    .srcOffset = src->offset,
    .dstOffset = dst->offset,
    .size = bytes > 0 ? MIN (bytes, MIN (src->size, dst->size)) : MIN (src->size, dst->size),
  };

  vkCmdCopyBuffer (frame->cmd, tensor_block (src)->buffer, tensor_block (dst)->buffer, 1, &region);
}

gboolean
facet_vk_frame_submit (FacetVkContext *ctx,
                       FacetVkFrame   *frame,
                       GError        **error)
{
  VkSubmitInfo info = {
    .sType = VK_STRUCTURE_TYPE_SUBMIT_INFO,
    .commandBufferCount = 1,
    .pCommandBuffers = &frame->cmd,
  };
  VkResult res;

  res = vkEndCommandBuffer (frame->cmd);
  if (!facet_vk_check (ctx, res, "vkEndCommandBuffer", error))
    return FALSE;
  if (ctx->fault_submit > 0 && --ctx->fault_submit == 0)
    res = VK_ERROR_DEVICE_LOST; /* injected by a test: nothing reaches the queue */
  else
    res = vkQueueSubmit (ctx->queue, 1, &info, frame->fence);
  if (!facet_vk_check (ctx, res, "vkQueueSubmit", error))
    return FALSE;
  frame->pending = TRUE;
  return TRUE;
}

/* Waits for the frame's submission; with @perf, adds its timestamps there. */
gboolean
facet_vk_frame_wait (FacetVkContext  *ctx,
                     FacetVkFrame    *frame,
                     FacetVulkanPerf *perf,
                     GError         **error)
{
  VkResult res;

  if (!frame->pending)
    return TRUE;
  res = vkWaitForFences (ctx->device, 1, &frame->fence, VK_TRUE, G_MAXUINT64);
  frame->pending = FALSE;
  if (!facet_vk_check (ctx, res, "vkWaitForFences", error))
    return FALSE;
  res = vkResetFences (ctx->device, 1, &frame->fence);
  if (!facet_vk_check (ctx, res, "vkResetFences", error))
    return FALSE;
  if (perf != NULL && frame->n_queries > 0)
    {
      g_autofree guint64 *ticks = g_new (guint64, frame->n_queries);
      res = vkGetQueryPoolResults (ctx->device, frame->queries, 0, frame->n_queries,
                                   sizeof (guint64) * frame->n_queries, ticks, sizeof (guint64),
                                   VK_QUERY_RESULT_64_BIT | VK_QUERY_RESULT_WAIT_BIT);
      if (res == VK_SUCCESS)
        for (guint i = 0; i < frame->timed->len; i++)
          {
            FacetVkTimedOp *op = &g_array_index (frame->timed, FacetVkTimedOp, i);
            guint64 t0 = ticks[2 * i], t1 = ticks[2 * i + 1];
            perf->count[op->kind]++;
            perf->seconds[op->kind] += t1 > t0 ? (double) (t1 - t0) * ctx->timestamp_period * 1e-9 : 0.0;
            perf->flops[op->kind] += op->flops;
          }
    }
  return TRUE;
}

void
facet_vk_row_grid (FacetVkContext *ctx,
                   guint32         rows,
                   guint32        *gx,
                   guint32        *gy)
{
  guint32 limit = MIN (ctx->max_groups[0], 65535u);

  *gx = MIN (rows, limit);
  *gy = *gx > 0 ? (rows + *gx - 1) / *gx : 0;
}
