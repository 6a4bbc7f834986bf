/* media-folder.c — a folder of JPEG/PNG files as a video
 *
 * The layout of BP4D and of many lab pipelines: one image per frame, named so
 * that a person sorts them right (frame_2 before frame_10). Frames are files
 * whose names end in .jpg, .jpeg or .png (any case); everything else in the
 * folder (CSV files, notes, hidden files such as macOS "._frame.jpg"
 * resource forks) is ignored. The pixels are decoded by content through
 * libjpeg-turbo or libpng (facet_image_load).
 */
#define G_LOG_DOMAIN "facet-media"

#include "config.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "media-private.h"

#define DEFAULT_FOLDER_FPS 30.0

typedef struct
{
  char      *path;
  GPtrArray *files;  /* full paths in natural order */
  double     fps;
  int        width;  /* of the first frame; every frame must match */
  int        height;
  guint64    decoded;
} Folder;

static gboolean
is_frame_name (const char *name)
{
  const char *dot;
  g_autofree char *ext = NULL;

  if (name[0] == '.')
    return FALSE;
  dot = strrchr (name, '.');
  if (dot == NULL)
    return FALSE;
  ext = g_ascii_strdown (dot + 1, -1);
  return g_str_equal (ext, "jpg") || g_str_equal (ext, "jpeg") || g_str_equal (ext, "png");
}

static int
compare_names (gconstpointer a,
               gconstpointer b)
{
  const char *pa = *(const char * const *) a;
  const char *pb = *(const char * const *) b;

  return facet_natural_compare (pa, pb);
}

static void
folder_free (gpointer data)
{
  Folder *folder = data;

  g_ptr_array_unref (folder->files);
  g_free (folder->path);
  g_free (folder);
}

/* Loads one frame; any problem with this one file is a FRAME error naming it,
 * since the other frames of the folder may well be fine. */
static FacetImage *
load_frame (Folder  *folder,
            gint64   index,
            GError **error)
{
  const char *file = g_ptr_array_index (folder->files, (guint) index);
  g_autoptr (GError) local = NULL;
  g_autoptr (FacetImage) image = NULL;

  image = facet_image_load (file, &local);
  if (image == NULL)
    {
      g_set_error (error, FACET_MEDIA_ERROR, FACET_MEDIA_ERROR_FRAME,
                   "frame %" G_GINT64_FORMAT " is damaged: %s", index, local->message);
      return NULL;
    }
  if (folder->width != 0 && (image->width != folder->width || image->height != folder->height))
    {
      g_set_error (error, FACET_MEDIA_ERROR, FACET_MEDIA_ERROR_FRAME,
                   "%s: frame %" G_GINT64_FORMAT " is %dx%d but the folder's first frame is %dx%d",
                   file, index, image->width, image->height, folder->width, folder->height);
      return NULL;
    }
  return g_steal_pointer (&image);
}

static FacetImage *
folder_get_frame (gpointer  backend,
                  gint64    index,
                  GError  **error)
{
  Folder *folder = backend;

  /* Counted under the source's lock, like the video decoder's counters. */
  folder->decoded++;
  return load_frame (folder, index, error);
}

/* Files are independent and the folder is read-only after opening, so a
 * cursor only needs to point at it (and is not counted). */
static gpointer
folder_cursor_new (gpointer  backend,
                   GError  **error)
{
  return backend;
}

static FacetImage *
folder_cursor_get (gpointer  cursor,
                   gint64    index,
                   GError  **error)
{
  return load_frame (cursor, index, error);
}

static void
folder_cursor_free (gpointer cursor)
{
}

static double
folder_frame_time (gpointer backend,
                   gint64   index)
{
  Folder *folder = backend;

  return (double) index / folder->fps;
}

static void
folder_get_stats (gpointer         backend,
                  FacetMediaStats *stats)
{
  Folder *folder = backend;

  stats->decoded += folder->decoded;
}

static const FacetMediaBackendClass folder_class = {
  .name = "image-folder",
  .get_frame = folder_get_frame,
  .cursor_new = folder_cursor_new,
  .cursor_get = folder_cursor_get,
  .cursor_free = folder_cursor_free,
  .frame_time = folder_frame_time,
  .get_stats = folder_get_stats,
  .free = folder_free,
};

/* The codec name of a frame file, by content like the decoder. */
static const char *
sniff_codec (const char *file)
{
  static const guint8 png_sig[4] = { 0x89, 'P', 'N', 'G' };
  guint8 head[4] = { 0 };
  FILE *f = fopen (file, "rb");
  gsize n = 0;

  if (f != NULL)
    {
      n = fread (head, 1, sizeof head, f);
      fclose (f);
    }
  if (n == 4 && memcmp (head, png_sig, 4) == 0)
    return "png";
  if (n >= 3 && head[0] == 0xff && head[1] == 0xd8 && head[2] == 0xff)
    return "jpeg";
  return NULL;
}

gpointer
facet_media_folder_open (const char                    *path,
                         double                         fps,
                         FacetMediaInfo                *info,
                         const FacetMediaBackendClass **klass,
                         GError                       **error)
{
  g_autoptr (GDir) dir = NULL;
  g_autoptr (GError) local = NULL;
  g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (FacetImage) first = NULL;
  gboolean has_jpeg = FALSE, has_png = FALSE;
  const char *name;
  Folder *folder;

  dir = g_dir_open (path, 0, &local);
  if (dir == NULL)
    {
      g_set_error (error, FACET_MEDIA_ERROR, FACET_MEDIA_ERROR_IO, "%s: cannot read the folder (%s)",
                   path, local->message);
      return NULL;
    }
  while ((name = g_dir_read_name (dir)) != NULL)
    if (is_frame_name (name))
      g_ptr_array_add (names, g_strdup (name));
  if (names->len == 0)
    {
      g_set_error (error, FACET_MEDIA_ERROR, FACET_MEDIA_ERROR_EMPTY,
                   "%s: the folder holds no JPEG or PNG images", path);
      return NULL;
    }
  g_ptr_array_sort (names, compare_names);

  folder = g_new0 (Folder, 1);
  folder->path = g_strdup (path);
  folder->fps = fps > 0.0 && isfinite (fps) ? fps : DEFAULT_FOLDER_FPS;
  folder->files = g_ptr_array_new_full (names->len, g_free);
  for (guint i = 0; i < names->len; i++)
    {
      char *file = g_build_filename (path, g_ptr_array_index (names, i), NULL);
      const char *codec = sniff_codec (file);

      has_jpeg |= g_strcmp0 (codec, "jpeg") == 0;
      has_png |= g_strcmp0 (codec, "png") == 0;
      g_ptr_array_add (folder->files, file);
    }

  /* The first frame sets the size; if it is unreadable the folder is. */
  first = load_frame (folder, 0, &local);
  if (first == NULL)
    {
      g_set_error (error, FACET_MEDIA_ERROR, FACET_MEDIA_ERROR_FORMAT, "%s: %s", path,
                   local->message);
      folder_free (folder);
      return NULL;
    }
  folder->width = first->width;
  folder->height = first->height;

  info->n_frames = folder->files->len;
  info->fps = folder->fps;
  info->duration = (double) info->n_frames / folder->fps;
  info->width = folder->width;
  info->height = folder->height;
  info->rotation = 0;
  info->variable_frame_rate = FALSE;
  info->start_time = 0.0;
  info->codec = g_strdup (has_jpeg && has_png ? "jpeg+png" : has_png ? "png" : "jpeg");
  info->container = g_strdup ("image-folder");
  *klass = &folder_class;
  return folder;
}
