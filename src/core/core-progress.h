/* core-progress.h — progress reporting for slow work
 *
 * Slow functions take a FacetProgressFunc and a GCancellable. The function is
 * called from the worker thread; callers that need the main context forward it
 * there themselves (g_main_context_invoke).
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* @fraction is in [0, 1], or negative when the total is unknown; @message is a
 * short, translated status line or NULL. */
typedef void (*FacetProgressFunc) (double      fraction,
                                   const char *message,
                                   gpointer    user_data);

G_END_DECLS
