/* store-videos.c — videos by relative path, size and content hash, so a
 * moved project still finds its media and a changed file is noticed */
#define G_LOG_DOMAIN "facet-store"

#include "config.h"

#include <string.h>

#include <glib/gstdio.h>

#include "core/facet-core.h"
#include "store-private.h"

void
facet_store_video_free (FacetStoreVideo *video)
{
  if (video == NULL)
    return;
  g_free (video->subject);
  g_free (video->path);
  g_free (video->abs_path);
  g_free (video->sha256);
  g_free (video);
}

const char *
facet_video_status_to_string (FacetVideoStatus status)
{
  switch (status)
    {
    case FACET_VIDEO_OK:
      return "ok";
    case FACET_VIDEO_MOVED:
      return "moved";
    case FACET_VIDEO_CHANGED:
      return "changed";
    case FACET_VIDEO_MISSING:
    default:
      return "missing";
    }
}

/* "3-interview" for file names of per-video exports. */
char *
store_video_display_name (const FacetStoreVideo *video)
{
  g_autofree char *base = g_path_get_basename (video->path);
  char *dot = strrchr (base, '.');

  if (dot != NULL && dot != base)
    *dot = '\0';
  /* Only characters that are safe in a file name on every system. */
  for (char *p = base; *p; p++)
    if (!g_ascii_isalnum (*p) && *p != '-' && *p != '_' && *p != '.')
      *p = '_';
  return g_strdup_printf ("%" G_GINT64_FORMAT "-%s", video->id, base);
}

/* A path relative to @folder ("../media/a.mp4" when beside it). Both are
 * canonical absolute paths. */
static char *
relative_path (const char *folder,
               const char *target)
{
  g_auto (GStrv) a = g_strsplit (folder, G_DIR_SEPARATOR_S, -1);
  g_auto (GStrv) b = g_strsplit (target, G_DIR_SEPARATOR_S, -1);
  GString *out = g_string_new (NULL);
  guint i = 0, na = g_strv_length (a), nb = g_strv_length (b);

  while (i < na && i + 1 < nb && g_str_equal (a[i], b[i]))
    i++;
  for (guint j = i; j < na; j++)
    if (*a[j] != '\0')
      g_string_append (out, ".." G_DIR_SEPARATOR_S);
  for (guint j = i; j < nb; j++)
    {
      if (*b[j] == '\0')
        continue;
      g_string_append (out, b[j]);
      if (j + 1 < nb)
        g_string_append_c (out, G_DIR_SEPARATOR);
    }
  return g_string_free (out, FALSE);
}

static gboolean
is_image_name (const char *name)
{
  return g_str_has_suffix (name, ".jpg") || g_str_has_suffix (name, ".jpeg")
         || g_str_has_suffix (name, ".png") || g_str_has_suffix (name, ".JPG")
         || g_str_has_suffix (name, ".JPEG") || g_str_has_suffix (name, ".PNG");
}

static int
natural_compare_cb (gconstpointer a,
                    gconstpointer b)
{
  return facet_natural_compare (*(const char * const *) a, *(const char * const *) b);
}

/* Size and content hash of a video file, or of the images of a folder in
 * natural order (the order the media module plays them). */
static gboolean
hash_media (const char *path,
            gint64     *size,
            char      **sha256,
            GError    **error)
{
  GStatBuf sb;

  if (g_stat (path, &sb) != 0)
    {
      g_set_error (error, FACET_STORE_ERROR, FACET_STORE_ERROR_NOT_FOUND, "%s: no such file",
                   path);
      return FALSE;
    }
  if (S_ISDIR (sb.st_mode))
    {
      g_autoptr (GDir) dir = g_dir_open (path, 0, error);
      g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
      g_autoptr (GChecksum) sum = g_checksum_new (G_CHECKSUM_SHA256);
      const char *name;

      if (dir == NULL)
        return FALSE;
      while ((name = g_dir_read_name (dir)) != NULL)
        if (is_image_name (name))
          g_ptr_array_add (names, g_strdup (name));
      g_ptr_array_sort (names, natural_compare_cb);
      *size = 0;
      for (guint i = 0; i < names->len; i++)
        {
          g_autofree char *file = g_build_filename (path, names->pdata[i], NULL);
          g_autofree char *one = facet_file_sha256 (file, error);
          GStatBuf fs;
          if (one == NULL || g_stat (file, &fs) != 0)
            {
              if (one != NULL)
                g_set_error (error, FACET_STORE_ERROR, FACET_STORE_ERROR_IO, "%s: cannot read",
                             file);
              return FALSE;
            }
          *size += fs.st_size;
          g_checksum_update (sum, (const guchar *) names->pdata[i], (gssize) strlen (names->pdata[i]) + 1);
          g_checksum_update (sum, (const guchar *) one, (gssize) strlen (one));
        }
      *sha256 = g_strdup (g_checksum_get_string (sum));
      return TRUE;
    }
  *size = sb.st_size;
  *sha256 = facet_file_sha256 (path, error);
  return *sha256 != NULL;
}

static gint64
media_size (const char *path)
{
  GStatBuf sb;

  if (g_stat (path, &sb) != 0)
    return -1;
  if (S_ISDIR (sb.st_mode))
    {
      g_autoptr (GDir) dir = g_dir_open (path, 0, NULL);
      const char *name;
      gint64 total = 0;

      if (dir == NULL)
        return -1;
      while ((name = g_dir_read_name (dir)) != NULL)
        if (is_image_name (name))
          {
            g_autofree char *file = g_build_filename (path, name, NULL);
            GStatBuf fs;
            if (g_stat (file, &fs) == 0)
              total += fs.st_size;
          }
      return total;
    }
  return sb.st_size;
}

gint64
facet_store_add_video (FacetStore                *store,
                       const FacetStoreVideoInfo *info,
                       GError                   **error)
{
  g_autofree char *abs = NULL, *rel = NULL, *sha = NULL;
  gint64 size = 0, id = 0, subject, n;

  g_return_val_if_fail (store != NULL && info != NULL && info->path != NULL, 0);

  if (info->subject == NULL || *info->subject == '\0' || strlen (info->subject) > 4096
      || !g_utf8_validate (info->subject, -1, NULL))
    {
      g_set_error (error, FACET_STORE_ERROR, FACET_STORE_ERROR_INVALID,
                   "%s: the subject must be UTF-8 text of 1 to 4096 bytes", info->path);
      return 0;
    }
  if (info->n_frames < 1 || !(info->fps > 0.0) || info->fps > 10000.0 || info->width < 1
      || info->height < 1)
    {
      g_set_error (error, FACET_STORE_ERROR, FACET_STORE_ERROR_INVALID,
                   "%s: a video needs frames, a frame rate and a size (got %" G_GINT64_FORMAT
                   " frames at %g fps, %dx%d)", info->path, info->n_frames, info->fps,
                   info->width, info->height);
      return 0;
    }
  abs = g_canonicalize_filename (info->path, NULL);
  if (!g_utf8_validate (abs, -1, NULL))
    {
      g_set_error (error, FACET_STORE_ERROR, FACET_STORE_ERROR_INVALID,
                   "%s: the path is not valid UTF-8; rename the file", info->path);
      return 0;
    }
  /* Hash before taking the lock: a long video must not block others. */
  if (!hash_media (abs, &size, &sha, error))
    return 0;
  rel = relative_path (store->folder, abs);

  store_lock (store);
  if (!store_begin (store, error))
    goto out;
  n = store_query (store, "SELECT id FROM videos WHERE sha256 = ?", store_row_int64, &id, error,
                   STORE_TEXT (sha));
  if (n > 0)
    g_set_error (error, FACET_STORE_ERROR, FACET_STORE_ERROR_EXISTS,
                 "%s is already in the project as video %" G_GINT64_FORMAT " (same content)",
                 info->path, id);
  if (n != 0)
    goto fail;
  subject = store_subject_id (store, info->subject, error);
  if (subject == 0)
    goto fail;
  if (!store_query_run (store,
                        "INSERT INTO videos (subject_id, path, abs_path, size, sha256, n_frames, "
                        "fps, width, height, crop, added) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        error, STORE_INT (subject), STORE_TEXT (rel), STORE_TEXT (abs),
                        STORE_INT (size), STORE_TEXT (sha), STORE_INT (info->n_frames),
                        STORE_REAL (info->fps), STORE_INT (info->width), STORE_INT (info->height),
                        STORE_TEXT (facet_crop_kind_to_string (info->crop)),
                        STORE_REAL (store_time_now ())))
    goto fail;
  id = sqlite3_last_insert_rowid (store->db);
  if (!store_note_change (store, FACET_STORE_CHANGE_VIDEOS, id, 0, -1, error))
    goto fail;
  if (!store_commit (store, error))
    id = 0;
  goto out;

fail:
  id = 0;
  store_rollback (store);
out:
  store_unlock_and_notify (store);
  return id;
}

#define VIDEO_COLUMNS \
  "v.id, v.subject_id, s.name, v.path, v.abs_path, v.size, v.sha256, v.n_frames, v.fps, " \
  "v.width, v.height, v.crop, v.added FROM videos v JOIN subjects s ON s.id = v.subject_id"

static FacetStoreVideo *
video_from_row (sqlite3_stmt *st)
{
  FacetStoreVideo *v = g_new0 (FacetStoreVideo, 1);

  v->id = sqlite3_column_int64 (st, 0);
  v->subject_id = sqlite3_column_int64 (st, 1);
  v->subject = g_strdup (store_column_text (st, 2));
  v->path = g_strdup (store_column_text (st, 3));
  v->abs_path = g_strdup (store_column_text (st, 4));
  v->size = sqlite3_column_int64 (st, 5);
  v->sha256 = g_strdup (store_column_text (st, 6));
  v->n_frames = sqlite3_column_int64 (st, 7);
  v->fps = sqlite3_column_double (st, 8);
  v->width = sqlite3_column_int (st, 9);
  v->height = sqlite3_column_int (st, 10);
  if (!facet_crop_kind_from_string (store_column_text (st, 11), &v->crop))
    v->crop = FACET_CROP_NONE;
  v->added = sqlite3_column_double (st, 12);
  return v;
}

static gboolean
video_row (sqlite3_stmt *row,
           gpointer      data,
           GError      **error)
{
  g_ptr_array_add (data, video_from_row (row));
  return TRUE;
}

FacetStoreVideo *
facet_store_get_video (FacetStore *store,
                       gint64      video_id,
                       GError    **error)
{
  g_return_val_if_fail (store != NULL, NULL);

  return store_get_by_id (store, "SELECT " VIDEO_COLUMNS " WHERE v.id = ?", video_id, "video",
                          (gpointer (*) (sqlite3_stmt *)) video_from_row, error);
}

GPtrArray *
facet_store_list_videos (FacetStore *store,
                         GError    **error)
{
  g_autoptr (GPtrArray) out = g_ptr_array_new_with_free_func ((GDestroyNotify) facet_store_video_free);

  g_return_val_if_fail (store != NULL, NULL);

  if (store_query (store, "SELECT " VIDEO_COLUMNS " ORDER BY v.id", video_row, out, error) < 0)
    return NULL;
  return g_steal_pointer (&out);
}

/* The relative path made absolute and canonical: "../" is resolved, so the
 * caller sees where it really points. */
static char *
relative_candidate (FacetStore            *store,
                    const FacetStoreVideo *v)
{
  if (*v->path == '\0')
    return NULL;
  return g_canonicalize_filename (v->path, store->folder);
}

FacetVideoStatus
facet_store_check_video (FacetStore *store,
                         gint64      video_id,
                         gboolean    full_hash,
                         char      **resolved,
                         GError    **error)
{
  g_autoptr (FacetStoreVideo) v = NULL;
  g_autofree char *rel = NULL;
  const char *candidates[2];
  GError *local = NULL;

  g_return_val_if_fail (store != NULL, FACET_VIDEO_MISSING);

  if (resolved != NULL)
    *resolved = NULL;
  v = facet_store_get_video (store, video_id, &local);
  if (v == NULL)
    {
      g_propagate_error (error, local);
      return FACET_VIDEO_MISSING;
    }
  rel = relative_candidate (store, v);
  candidates[0] = rel;
  candidates[1] = v->abs_path;
  for (guint i = 0; i < G_N_ELEMENTS (candidates); i++)
    {
      gint64 size;
      if (candidates[i] == NULL || *candidates[i] == '\0'
          || !g_file_test (candidates[i], G_FILE_TEST_EXISTS))
        continue;
      if (resolved != NULL)
        *resolved = g_strdup (candidates[i]);
      size = media_size (candidates[i]);
      if (size != v->size)
        return FACET_VIDEO_CHANGED;
      if (full_hash)
        {
          g_autofree char *sha = NULL;
          gint64 hashed_size;
          if (!hash_media (candidates[i], &hashed_size, &sha, NULL) || g_strcmp0 (sha, v->sha256) != 0)
            return FACET_VIDEO_CHANGED;
        }
      return i == 0 ? FACET_VIDEO_OK : FACET_VIDEO_MOVED;
    }
  return FACET_VIDEO_MISSING;
}

char *
facet_store_resolve_video (FacetStore *store,
                           gint64      video_id,
                           GError    **error)
{
  g_autoptr (FacetStoreVideo) v = NULL;
  g_autofree char *rel = NULL;

  g_return_val_if_fail (store != NULL, NULL);

  v = facet_store_get_video (store, video_id, error);
  if (v == NULL)
    return NULL;
  rel = relative_candidate (store, v);
  if (rel != NULL && g_file_test (rel, G_FILE_TEST_EXISTS))
    return g_steal_pointer (&rel);
  if (*v->abs_path != '\0' && g_file_test (v->abs_path, G_FILE_TEST_EXISTS))
    return g_strdup (v->abs_path);
  g_set_error (error, FACET_STORE_ERROR, FACET_STORE_ERROR_NOT_FOUND,
               "video %" G_GINT64_FORMAT " is missing: neither %s nor %s exists", video_id,
               rel != NULL ? rel : v->path, v->abs_path);
  return NULL;
}

gboolean
facet_store_relocate_video (FacetStore *store,
                            gint64      video_id,
                            const char *new_path,
                            GError    **error)
{
  g_autoptr (FacetStoreVideo) v = NULL;
  g_autofree char *abs = NULL, *sha = NULL, *rel = NULL;
  gint64 size;
  gboolean ok = FALSE;

  g_return_val_if_fail (store != NULL && new_path != NULL, FALSE);

  v = facet_store_get_video (store, video_id, error);
  if (v == NULL)
    return FALSE;
  abs = g_canonicalize_filename (new_path, NULL);
  if (!hash_media (abs, &size, &sha, error))
    return FALSE;
  if (g_strcmp0 (sha, v->sha256) != 0)
    {
      g_set_error (error, FACET_STORE_ERROR, FACET_STORE_ERROR_MISMATCH,
                   "%s is not video %" G_GINT64_FORMAT " (its content differs from %s)",
                   new_path, video_id, v->path);
      return FALSE;
    }
  rel = relative_path (store->folder, abs);

  store_lock (store);
  if (!store_begin (store, error))
    goto out;
  ok = store_query_run (store, "UPDATE videos SET path = ?, abs_path = ? WHERE id = ?", error,
                        STORE_TEXT (rel), STORE_TEXT (abs), STORE_INT (video_id))
       && store_note_change (store, FACET_STORE_CHANGE_VIDEOS, video_id, 0, -1, error);
  if (ok)
    ok = store_commit (store, error);
  else
    store_rollback (store);
out:
  store_unlock_and_notify (store);
  return ok;
}
