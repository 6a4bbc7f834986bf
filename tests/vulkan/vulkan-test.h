/* vulkan-test.h — what the Vulkan test programs share: opening the device
 * (or skipping when the machine has none) and running the cases with the
 * validation layers watching.
 */
#pragma once

#include "engine/facet-engine.h"
#include "engine/vulkan/vulkan-backend.h"

/* The default Vulkan device's backend, or NULL when the machine has no
 * Vulkan device at all (the program should then exit with 77, "skipped");
 * a device that exists but cannot be opened fails the test. */
static inline FacetBackend *
vulkan_test_open_device (void)
{
  g_autoptr (GError) error = NULL;
  FacetBackend *backend = facet_vulkan_backend_new_full (NULL, &error);

  if (backend == NULL)
    {
      g_autoptr (GPtrArray) devices = facet_backend_list_devices (NULL);
      if (devices != NULL && devices->len == 0)
        {
          g_printerr ("no Vulkan device: %s\n", error->message);
          return NULL;
        }
      g_error ("a Vulkan device exists but cannot be opened: %s", error->message);
    }
  return backend;
}

/* g_test_run (), and a failure when the validation layers (when enabled)
 * reported anything along the way. */
static inline int
vulkan_test_run (void)
{
  int ret = g_test_run ();

  if (facet_vulkan_get_validation_errors () > 0)
    {
      g_printerr ("%u Vulkan validation errors\n", facet_vulkan_get_validation_errors ());
      return 1;
    }
  return ret;
}
