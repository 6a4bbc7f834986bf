/* core-util.h — small helpers shared by every module */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

int      facet_natural_compare   (const char  *a,
                                  const char  *b);
double   facet_now               (void);
char    *facet_file_sha256       (const char  *path,
                                  GError     **error);
gboolean facet_parse_int_list    (const char  *text,
                                  GArray     **out,
                                  GError     **error);
char    *facet_format_int_list   (const int   *values,
                                  guint        n);
gboolean facet_write_file_atomic (const char  *path,
                                  const void  *data,
                                  gsize        length,
                                  GError     **error);

G_END_DECLS
