/* store-export.c — what psychologists take away: per-frame tables in
 * OpenFace's column names, AU events, ELAN 3.0 documents, summaries
 *
 * All four start from one decision table per video: every analysed or
 * labelled frame, and for each AU of the model the final presence (the
 * label where one exists, else the thresholded probability), the
 * probability and where the decision came from. */
#define G_LOG_DOMAIN "facet-store"

#include "config.h"

#include <math.h>
#include <string.h>

#include <glib/gstdio.h>
#include <libxml/tree.h>
#include <libxml/xmlsave.h>

#include "core/facet-core.h"
#include "store-private.h"

gboolean
facet_export_format_from_string (const char        *text,
                                 FacetExportFormat *format)
{
  static const struct { const char *name; FacetExportFormat format; } names[] = {
    { "openface", FACET_EXPORT_OPENFACE },
    { "timeseries", FACET_EXPORT_TIMESERIES },
    { "events", FACET_EXPORT_EVENTS },
    { "eaf", FACET_EXPORT_EAF },
    { "summary", FACET_EXPORT_SUMMARY },
  };

  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    if (g_strcmp0 (text, names[i].name) == 0)
      {
        *format = names[i].format;
        return TRUE;
      }
  return FALSE;
}

enum
{
  SRC_NONE,
  SRC_HUMAN,
  SRC_MODEL,
};

static const char *
src_name (int src)
{
  return src == SRC_HUMAN ? "human" : src == SRC_MODEL ? "model" : "none";
}

typedef struct
{
  gint64 frame;
  gint64 span;        /* frames the row stands for: the stride, less at the end */
  double time;
  int    success;     /* the model saw a face */
  float  confidence;  /* Facet's face quality (1 for whole frames), 0 without a face */
  int    face_status; /* FACET_STORE_FACE_*, -1 without a face row */
  gboolean coded;     /* a present/absent label of one of the AUs */
  const float *landmarks; /* 68 x, then 68 y (image pixels) in Table.landmarks, or NULL */
} Row;

typedef struct
{
  const FacetStoreVideo *video;
  int                    n_aus;
  const int             *aus;
  GArray                *rows;      /* Row */
  float                 *probs;     /* [row, au], NAN when none */
  gint8                 *decision;  /* [row, au]: -1 none, 0 absent, 1 present */
  guint8                *source;    /* [row, au]: SRC_* */
  float                 *intensity; /* [row, au]: the label's intensity 0..1, NAN when none */
  const char           **coder;     /* [row, au]: who set the label (interned), or NULL */
  gint64                 stride;    /* the usual gap between rows */
  GArray                *landmarks; /* float: 136 per face with landmarks (openface only) */
} Table;

typedef struct
{
  gint64 frame;
  int    status;
  float  quality;
  double time;
  gboolean has_time;
  guint  landmarks_at; /* index of its 136 floats in the landmarks array, or G_MAXUINT */
} FaceRow;

static void
table_free (Table *t)
{
  if (t == NULL)
    return;
  g_array_unref (t->rows);
  g_clear_pointer (&t->landmarks, g_array_unref);
  g_free (t->probs);
  g_free (t->decision);
  g_free (t->source);
  g_free (t->intensity);
  g_free (t->coder);
  g_free (t);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Table, table_free)

typedef struct
{
  GArray *out;       /* FaceRow */
  GArray *landmarks; /* float, or NULL */
} FaceRows;

static gboolean
face_row (sqlite3_stmt *row,
          gpointer      data,
          GError      **error)
{
  FaceRows *rows = data;
  GArray *landmarks = rows->landmarks;
  FaceRow f;

  f.frame = sqlite3_column_int64 (row, 0);
  f.status = sqlite3_column_int (row, 1);
  f.quality = (float) sqlite3_column_double (row, 2);
  f.has_time = sqlite3_column_type (row, 3) != SQLITE_NULL;
  f.time = sqlite3_column_double (row, 3);
  f.landmarks_at = G_MAXUINT;
  if (landmarks != NULL && sqlite3_column_bytes (row, 4) == 68 * 2 * 4)
    {
      /* Stored as 68 (x, y) float32 LE pairs. */
      const guint8 *b = sqlite3_column_blob (row, 4);
      f.landmarks_at = landmarks->len;
      g_array_set_size (landmarks, landmarks->len + 68 * 2);
      for (int i = 0; i < 68 * 2; i++)
        {
          guint32 bits = (guint32) b[4 * i] | ((guint32) b[4 * i + 1] << 8)
                         | ((guint32) b[4 * i + 2] << 16) | ((guint32) b[4 * i + 3] << 24);
          float v;
          memcpy (&v, &bits, sizeof v);
          g_array_index (landmarks, float, f.landmarks_at + (i % 2) * 68 + i / 2) = v;
        }
    }
  g_array_append_val (rows->out, f);
  return TRUE;
}

/* The faces of a video; with @landmarks, their landmarks appended there as
 * x0..x67, y0..y67 (OpenFace's order). */
static GArray *
read_faces (FacetStore *store,
            gint64      video_id,
            GArray     *landmarks,
            GError    **error)
{
  g_autoptr (GArray) out = g_array_new (FALSE, FALSE, sizeof (FaceRow));
  FaceRows rows = { out, landmarks };

  if (store_query (store,
                   "SELECT frame, status, quality, time, landmarks FROM faces "
                   "WHERE video_id = ? ORDER BY frame", face_row, &rows, error,
                   STORE_INT (video_id)) < 0)
    return NULL;
  return g_steal_pointer (&out);
}

static int
compare_gint64 (gconstpointer a,
                gconstpointer b)
{
  gint64 x = *(const gint64 *) a, y = *(const gint64 *) b;
  return x < y ? -1 : x > y;
}

/* Every analysed frame and every frame with a label of one of @aus, in order. */
static GArray *
table_frames (const FacetPredictionSet *preds,
              GArray                   *labels,
              int                       n_aus,
              const int                *aus)
{
  GArray *frames = g_array_new (FALSE, FALSE, sizeof (gint64));
  guint n = 0;

  for (gsize i = 0; preds != NULL && i < preds->n; i++)
    g_array_append_val (frames, preds->frames[i]);
  for (guint i = 0; i < labels->len; i++)
    {
      const FacetLabel *lb = &g_array_index (labels, FacetLabel, i);
      for (int a = 0; a < n_aus; a++)
        if (aus[a] == lb->au)
          {
            g_array_append_val (frames, lb->frame);
            break;
          }
    }
  g_array_sort (frames, compare_gint64);
  for (guint i = 0; i < frames->len; i++)
    if (i == 0 || g_array_index (frames, gint64, i) != g_array_index (frames, gint64, i - 1))
      g_array_index (frames, gint64, n++) = g_array_index (frames, gint64, i);
  g_array_set_size (frames, n);
  return frames;
}

/* The most common gap between rows (the analysis stride), and what each
 * row stands for: up to the next row, at most the stride, not past the
 * video's end. */
static void
table_spans (Table *t)
{
  GArray *rows = t->rows;

  t->stride = 1;
  if (rows->len > 1)
    {
      g_autoptr (GArray) gaps = g_array_sized_new (FALSE, FALSE, sizeof (gint64), rows->len);
      guint run = 0, best = 0;
      for (guint r = 1; r < rows->len; r++)
        {
          gint64 gap = g_array_index (rows, Row, r).frame - g_array_index (rows, Row, r - 1).frame;
          g_array_append_val (gaps, gap);
        }
      g_array_sort (gaps, compare_gint64);
      for (guint r = 0; r < gaps->len; r++)
        {
          run = r > 0 && g_array_index (gaps, gint64, r) == g_array_index (gaps, gint64, r - 1)
                ? run + 1 : 1;
          if (run > best)
            best = run, t->stride = g_array_index (gaps, gint64, r);
        }
    }
  for (guint r = 0; r < rows->len; r++)
    {
      Row *row = &g_array_index (rows, Row, r);
      row->span = t->stride;
      if (r + 1 < rows->len)
        row->span = MIN (row->span, g_array_index (rows, Row, r + 1).frame - row->frame);
      if (t->video->n_frames > row->frame)
        row->span = MIN (row->span, t->video->n_frames - row->frame);
      row->span = MAX (row->span, 1);
    }
}

/* A row's face: time, quality and landmarks from the faces table, success
 * from the prediction. */
static void
table_face (Row           *row,
            const FaceRow *fr,
            const float   *probs,
            int            n_probs,
            GArray        *landmarks)
{
  if (fr != NULL)
    {
      if (fr->has_time)
        row->time = fr->time;
      row->face_status = fr->status;
      row->confidence = fr->status == FACET_STORE_FACE_WHOLE ? 1.0f : fr->quality;
      if (fr->landmarks_at != G_MAXUINT)
        row->landmarks = &g_array_index (landmarks, float, fr->landmarks_at);
    }
  /* A prediction with numbers means the face was there. */
  if (probs != NULL && n_probs > 0 && !isnan (probs[0]))
    {
      row->success = 1;
      if (fr == NULL)
        row->confidence = 1.0f;
    }
  else
    row->confidence = 0.0f;
}

static Table *
build_table (FacetStore             *store,
             const FacetStoreVideo  *video,
             const FacetStoreModel  *model,
             int                     n_aus,
             const int              *aus,
             const float            *thresholds,
             gboolean                with_landmarks,
             GError                **error)
{
  g_autoptr (Table) t = g_new0 (Table, 1);
  g_autoptr (FacetPredictionSet) preds = NULL;
  g_autoptr (GArray) labels = NULL, faces = NULL, frames = NULL;
  g_autofree int *model_col = g_new (int, MAX (n_aus, 1));
  gsize p = 0, l = 0, f = 0, cells;

  t->video = video;
  t->n_aus = n_aus;
  t->aus = aus;
  t->rows = g_array_new (FALSE, FALSE, sizeof (Row));
  t->landmarks = with_landmarks ? g_array_new (FALSE, FALSE, sizeof (float)) : NULL;
  if (model != NULL)
    {
      preds = facet_store_get_predictions (store, model->id, video->id, 0, -1, error);
      if (preds == NULL)
        return NULL;
    }
  labels = facet_store_get_labels (store, video->id, 0, 0, -1, error);
  faces = read_faces (store, video->id, t->landmarks, error);
  if (labels == NULL || faces == NULL)
    return NULL;
  for (int a = 0; a < n_aus; a++)
    model_col[a] = model != NULL ? facet_store_model_find_au (model, aus[a]) : -1;
  frames = table_frames (preds, labels, n_aus, aus);

  cells = MAX ((gsize) frames->len * n_aus, 1);
  t->probs = g_new (float, cells);
  t->decision = g_new (gint8, cells);
  t->source = g_new (guint8, cells);
  t->intensity = g_new (float, cells);
  t->coder = g_new0 (const char *, cells);
  for (guint r = 0; r < frames->len; r++)
    {
      gint64 frame = g_array_index (frames, gint64, r);
      const float *probs = NULL;
      const FaceRow *fr = NULL;
      Row row = { .frame = frame, .time = (double) frame / video->fps, .face_status = -1 };

      while (preds != NULL && p < preds->n && preds->frames[p] < frame)
        p++;
      if (preds != NULL && p < preds->n && preds->frames[p] == frame)
        probs = preds->probs + p * preds->n_aus;
      while (f < faces->len && g_array_index (faces, FaceRow, f).frame < frame)
        f++;
      if (f < faces->len && g_array_index (faces, FaceRow, f).frame == frame)
        fr = &g_array_index (faces, FaceRow, f);
      table_face (&row, fr, probs, preds ? preds->n_aus : 0, t->landmarks);
      if (!row.success)
        probs = NULL;

      for (int a = 0; a < n_aus; a++)
        {
          gsize k = (gsize) r * n_aus + a;
          t->probs[k] = probs != NULL && model_col[a] >= 0 ? probs[model_col[a]] : NAN;
          t->decision[k] = -1;
          t->source[k] = SRC_NONE;
          t->intensity[k] = NAN;
          if (!isnan (t->probs[k]))
            {
              t->decision[k] = t->probs[k] >= thresholds[a];
              t->source[k] = SRC_MODEL;
            }
        }
      while (l < labels->len && g_array_index (labels, FacetLabel, l).frame < frame)
        l++;
      for (gsize m = l; m < labels->len && g_array_index (labels, FacetLabel, m).frame == frame; m++)
        {
          const FacetLabel *lb = &g_array_index (labels, FacetLabel, m);
          for (int a = 0; a < n_aus; a++)
            if (aus[a] == lb->au)
              {
                gsize k = (gsize) r * n_aus + a;
                t->decision[k] = lb->state == FACET_LABEL_PRESENT ? 1
                                 : lb->state == FACET_LABEL_ABSENT ? 0 : -1;
                t->source[k] = SRC_HUMAN;
                t->intensity[k] = lb->intensity;
                t->coder[k] = lb->coder;
                row.coded |= t->decision[k] >= 0;
              }
        }
      g_array_append_val (t->rows, row);
    }
  table_spans (t);
  return g_steal_pointer (&t);
}

/* ---- Events -------------------------------------------------------------------------- */

typedef struct
{
  int    au;
  gint64 onset, apex, offset; /* frames; offset is the last frame of the event */
  double onset_time, apex_time, offset_time; /* offset_time: end of the last frame */
  float  peak;                /* NAN when no probability */
  int    source;              /* SRC_HUMAN, SRC_MODEL, or 3 for mixed */
  int    peak_level;          /* the highest coded FACS intensity (1-5 = A-E), 0: none */
} Event;

static const char *
event_source (int src)
{
  return src == 3 ? "mixed" : src_name (src);
}

/* Runs of present rows; an undecided row, or frames no row stands for,
 * end a run. A row stands for its span (the stride), so an event ends
 * where its last row's span ends. */
static GArray *
find_events (const Table *t,
             int          a)
{
  GArray *events = g_array_new (FALSE, FALSE, sizeof (Event));
  Event e = { 0 };
  gboolean open = FALSE;

  for (guint r = 0; r <= t->rows->len; r++)
    {
      gsize k = (gsize) r * t->n_aus + a;
      gboolean present = r < t->rows->len && t->decision[k] == 1;
      const Row *row = r < t->rows->len ? &g_array_index (t->rows, Row, r) : NULL;

      if (present && open && row->frame > e.offset + 1)
        {
          g_array_append_val (events, e);
          open = FALSE;
        }
      if (present)
        {
          float p = t->probs[k];
          if (!open)
            {
              e = (Event) { .au = t->aus[a], .onset = row->frame, .apex = row->frame,
                            .onset_time = row->time, .apex_time = row->time, .peak = NAN,
                            .source = t->source[k] };
              open = TRUE;
            }
          if (!isnan (p) && (isnan (e.peak) || p > e.peak))
            {
              e.peak = p;
              e.apex = row->frame;
              e.apex_time = row->time;
            }
          if (e.source != t->source[k])
            e.source = 3;
          e.peak_level = MAX (e.peak_level, facet_intensity_to_level (t->intensity[k]));
          e.offset = row->frame + row->span - 1;
          e.offset_time = row->time + (double) row->span / t->video->fps;
        }
      else if (open)
        {
          g_array_append_val (events, e);
          open = FALSE;
        }
    }
  return events;
}

/* ---- Writers ---------------------------------------------------------------------------------- */

static void
append_double (GString *out,
               double   v,
               const char *format)
{
  char buf[G_ASCII_DTOSTR_BUF_SIZE];

  if (!isnan (v))
    g_string_append (out, g_ascii_formatd (buf, sizeof buf, format, v));
}

/* Facet's own per-frame table: frames from 0, final presence, probability
 * and source per AU of the model. */
static GString *
timeseries_csv (const Table *t)
{
  GString *out = g_string_new ("frame,face_id,timestamp,confidence,success");

  for (int a = 0; a < t->n_aus; a++)
    g_string_append_printf (out, ",AU%02d_c", t->aus[a]);
  for (int a = 0; a < t->n_aus; a++)
    g_string_append_printf (out, ",AU%02d_p", t->aus[a]);
  for (int a = 0; a < t->n_aus; a++)
    g_string_append_printf (out, ",AU%02d_src", t->aus[a]);
  /* The coded FACS intensity as 1-5 (A-E), empty when none. */
  for (int a = 0; a < t->n_aus; a++)
    g_string_append_printf (out, ",AU%02d_int", t->aus[a]);
  g_string_append_c (out, '\n');
  for (guint r = 0; r < t->rows->len; r++)
    {
      const Row *row = &g_array_index (t->rows, Row, r);
      gsize k0 = (gsize) r * t->n_aus;

      g_string_append_printf (out, "%" G_GINT64_FORMAT ",0,", row->frame);
      append_double (out, row->time, "%.6f");
      g_string_append_c (out, ',');
      append_double (out, row->confidence, "%.4f");
      g_string_append_printf (out, ",%d", row->success);
      for (int a = 0; a < t->n_aus; a++)
        {
          g_string_append_c (out, ',');
          if (t->decision[k0 + a] >= 0)
            g_string_append_c (out, t->decision[k0 + a] ? '1' : '0');
        }
      for (int a = 0; a < t->n_aus; a++)
        {
          g_string_append_c (out, ',');
          append_double (out, t->probs[k0 + a], "%.6f");
        }
      for (int a = 0; a < t->n_aus; a++)
        g_string_append_printf (out, ",%s", src_name (t->source[k0 + a]));
      for (int a = 0; a < t->n_aus; a++)
        {
          int level = t->decision[k0 + a] == 1 ? facet_intensity_to_level (t->intensity[k0 + a]) : 0;
          g_string_append_c (out, ',');
          if (level > 0)
            g_string_append_printf (out, "%d", level);
        }
      g_string_append_c (out, '\n');
    }
  return out;
}

/* OpenFace 2.2's AUs: intensities (AUxx_r, 0-5) and presence (AUxx_c), in
 * the order FeatureExtraction writes them (sorted by name). */
static const int openface_reg_aus[] = { 1, 2, 4, 5, 6, 7, 9, 10, 12, 14, 15, 17, 20, 23, 25, 26, 45 };
static const int openface_class_aus[] = { 1, 2, 4, 5, 6, 7, 9, 10, 12, 14, 15, 17, 20, 23, 25,
                                          26, 28, 45 };

static int
table_au_index (const Table *t,
                int          au)
{
  for (int a = 0; a < t->n_aus; a++)
    if (t->aus[a] == au)
      return a;
  return -1;
}

/* OpenFace's success (the face was tracked) and confidence (how sure the
 * tracker is; readers keep rows with success 1 and confidence >= 0.8):
 * a frame a coder coded counts as tracked for sure; a face Facet found maps
 * its quality 0..1 onto 0.8..1, a whole-frame crop is 1; no face is 0, 0.
 * docs/store.md states the same. */
static void
openface_confidence (const Row *row,
                     int       *success,
                     double    *confidence)
{
  *success = row->success || row->coded;
  if (row->coded || (row->success && row->face_status != FACET_STORE_FACE_FOUND))
    *confidence = 1.0;
  else if (row->success)
    *confidence = 0.8 + 0.2 * CLAMP ((double) row->confidence, 0.0, 1.0);
  else
    *confidence = 0.0;
}

static void
openface_header (GString *out)
{
  static const char *gaze_pose = "gaze_0_x,gaze_0_y,gaze_0_z,gaze_1_x,gaze_1_y,gaze_1_z,"
                                 "gaze_angle_x,gaze_angle_y,pose_Tx,pose_Ty,pose_Tz,pose_Rx,"
                                 "pose_Ry,pose_Rz";

  g_string_append_printf (out, "frame,face_id,timestamp,confidence,success,%s", gaze_pose);
  for (int i = 0; i < 68; i++)
    g_string_append_printf (out, ",x_%d", i);
  for (int i = 0; i < 68; i++)
    g_string_append_printf (out, ",y_%d", i);
  for (guint i = 0; i < G_N_ELEMENTS (openface_reg_aus); i++)
    g_string_append_printf (out, ",AU%02d_r", openface_reg_aus[i]);
  for (guint i = 0; i < G_N_ELEMENTS (openface_class_aus); i++)
    g_string_append_printf (out, ",AU%02d_c", openface_class_aus[i]);
  g_string_append_c (out, '\n');
}

/* OpenFace 2.2's FeatureExtraction layout: frames from 1, the columns
 * Facet has values for filled (2D landmarks, AUs), gaze and pose empty. */
static GString *
openface_csv (const Table *t)
{
  GString *out = g_string_new (NULL);
  int reg[G_N_ELEMENTS (openface_reg_aus)], cls[G_N_ELEMENTS (openface_class_aus)];

  for (guint i = 0; i < G_N_ELEMENTS (openface_reg_aus); i++)
    reg[i] = table_au_index (t, openface_reg_aus[i]);
  for (guint i = 0; i < G_N_ELEMENTS (openface_class_aus); i++)
    cls[i] = table_au_index (t, openface_class_aus[i]);
  openface_header (out);
  for (guint r = 0; r < t->rows->len; r++)
    {
      const Row *row = &g_array_index (t->rows, Row, r);
      gsize k0 = (gsize) r * t->n_aus;
      double confidence;
      int success;

      openface_confidence (row, &success, &confidence);
      g_string_append_printf (out, "%" G_GINT64_FORMAT ",0,", row->frame + 1);
      append_double (out, row->time, "%.6f");
      g_string_append_c (out, ',');
      append_double (out, confidence, "%.4f");
      g_string_append_printf (out, ",%d", success);
      g_string_append (out, ",,,,,,,,,,,,,,"); /* 8 gaze, 6 pose */
      for (int i = 0; i < 2 * 68; i++)
        {
          g_string_append_c (out, ',');
          if (row->landmarks != NULL)
            append_double (out, row->landmarks[i], "%.2f");
        }
      for (guint i = 0; i < G_N_ELEMENTS (reg); i++)
        {
          g_string_append_c (out, ',');
          if (reg[i] >= 0)
            append_double (out, 5.0 * t->intensity[k0 + reg[i]], "%.2f");
        }
      for (guint i = 0; i < G_N_ELEMENTS (cls); i++)
        {
          g_string_append_c (out, ',');
          if (cls[i] >= 0 && t->decision[k0 + cls[i]] >= 0)
            g_string_append_c (out, t->decision[k0 + cls[i]] ? '1' : '0');
        }
      g_string_append_c (out, '\n');
    }
  return out;
}

static void
events_csv (GString     *out,
            const Table *t)
{
  for (int a = 0; a < t->n_aus; a++)
    {
      g_autoptr (GArray) events = find_events (t, a);
      for (guint i = 0; i < events->len; i++)
        {
          const Event *e = &g_array_index (events, Event, i);
          g_string_append_printf (out, "%" G_GINT64_FORMAT ",AU%02d,%" G_GINT64_FORMAT ",",
                                  t->video->id, e->au, e->onset);
          append_double (out, e->onset_time, "%.6f");
          g_string_append_printf (out, ",%" G_GINT64_FORMAT ",", e->apex);
          append_double (out, e->apex_time, "%.6f");
          g_string_append_printf (out, ",%" G_GINT64_FORMAT ",", e->offset);
          append_double (out, e->offset_time, "%.6f");
          g_string_append_c (out, ',');
          append_double (out, e->offset_time - e->onset_time, "%.6f");
          g_string_append_c (out, ',');
          append_double (out, e->peak, "%.4f");
          g_string_append_printf (out, ",%s,", event_source (e->source));
          if (e->peak_level > 0)
            g_string_append_c (out, 'A' + e->peak_level - 1);
          g_string_append_c (out, '\n');
        }
    }
}

static void
summary_csv (GString     *out,
             const Table *t)
{
  for (int a = 0; a < t->n_aus; a++)
    {
      g_autoptr (GArray) events = find_events (t, a);
      g_autofree char *subject = g_strdup (t->video->subject);
      gint64 decided = 0, decided_span = 0, present_span = 0;
      double minutes, total = 0.0;

      for (guint r = 0; r < t->rows->len; r++)
        {
          gint8 d = t->decision[(gsize) r * t->n_aus + a];
          gint64 span = g_array_index (t->rows, Row, r).span;
          decided += d >= 0;
          decided_span += d >= 0 ? span : 0;
          present_span += d == 1 ? span : 0;
        }
      for (guint i = 0; i < events->len; i++)
        {
          const Event *e = &g_array_index (events, Event, i);
          total += e->offset_time - e->onset_time;
        }
      /* Coded time: decided rows, each standing for its span (the stride),
       * the same frames the events cover. */
      minutes = (double) decided_span / t->video->fps / 60.0;
      /* The subject is free text: quote it for CSV. */
      g_strdelimit (subject, "\"\r\n", '\'');
      g_string_append_printf (out, "%" G_GINT64_FORMAT ",\"%s\",AU%02d,%" G_GINT64_FORMAT ",",
                              t->video->id, subject, t->aus[a], decided);
      append_double (out, decided ? 100.0 * (double) present_span / (double) decided_span : NAN,
                     "%.3f");
      g_string_append_printf (out, ",%u,", events->len);
      append_double (out, minutes > 0 ? events->len / minutes : NAN, "%.4f");
      g_string_append_c (out, ',');
      append_double (out, events->len ? total / events->len : NAN, "%.4f");
      g_string_append_c (out, '\n');
    }
}

static const char *
mime_type_for (const char *path)
{
  g_autofree char *lower = g_ascii_strdown (path, -1);

  if (g_str_has_suffix (lower, ".mp4") || g_str_has_suffix (lower, ".m4v"))
    return "video/mp4";
  if (g_str_has_suffix (lower, ".mkv"))
    return "video/x-matroska";
  if (g_str_has_suffix (lower, ".avi"))
    return "video/x-msvideo";
  if (g_str_has_suffix (lower, ".mov"))
    return "video/quicktime";
  if (g_str_has_suffix (lower, ".webm"))
    return "video/webm";
  if (g_str_has_suffix (lower, ".mpg") || g_str_has_suffix (lower, ".mpeg"))
    return "video/mpeg";
  return "video/*";
}

typedef struct
{
  gint64 value; /* milliseconds */
  guint  key;
} Slot;

static int
compare_slot (gconstpointer pa,
              gconstpointer pb)
{
  const Slot *a = pa, *b = pb;

  if (a->value != b->value)
    return a->value < b->value ? -1 : 1;
  return a->key < b->key ? -1 : a->key > b->key;
}

/* RELATIVE_MEDIA_URL: from the .eaf's folder to the media, each part
 * percent-encoded as a URI path ("my clip.mp4" -> "my%20clip.mp4"). */
static char *
eaf_relative_url (const char *out_dir,
                  const char *media)
{
  g_autofree char *abs_dir = g_canonicalize_filename (out_dir, NULL);
  g_auto (GStrv) a = g_strsplit (abs_dir, "/", -1);
  g_auto (GStrv) b = g_strsplit (media, "/", -1);
  GString *r = g_string_new ("");
  guint i = 0, na = g_strv_length (a), nb = g_strv_length (b);

  while (i < na && i + 1 < nb && g_str_equal (a[i], b[i]))
    i++;
  if (i == na)
    g_string_append (r, "./");
  for (guint j = i; j < na; j++)
    if (*a[j])
      g_string_append (r, "../");
  for (guint j = i; j < nb; j++)
    if (*b[j])
      {
        g_autofree char *part = g_uri_escape_string (b[j], NULL, FALSE);
        g_string_append_printf (r, "%s%s", part, j + 1 < nb ? "/" : "");
      }
  return g_string_free (r, FALSE);
}

/* The document element with its header (media descriptor). */
static xmlNodePtr
eaf_document (xmlDocPtr   doc,
              const char *media,
              const char *path)
{
  g_autoptr (GDateTime) now = g_date_time_new_now_local ();
  g_autofree char *uri = g_filename_to_uri (media, NULL, NULL);
  g_autofree char *out_dir = g_path_get_dirname (path);
  g_autofree char *rel = eaf_relative_url (out_dir, media);
  g_autofree char *date = g_date_time_format (now, "%Y-%m-%dT%H:%M:%S%:z");
  xmlNodePtr root = xmlNewNode (NULL, BAD_CAST "ANNOTATION_DOCUMENT"), header, md;
  xmlNsPtr xsi;

  xmlDocSetRootElement (doc, root);
  xmlNewProp (root, BAD_CAST "AUTHOR", BAD_CAST "Facet");
  xmlNewProp (root, BAD_CAST "DATE", BAD_CAST date);
  xmlNewProp (root, BAD_CAST "FORMAT", BAD_CAST "3.0");
  xmlNewProp (root, BAD_CAST "VERSION", BAD_CAST "3.0");
  xsi = xmlNewNs (root, BAD_CAST "http://www.w3.org/2001/XMLSchema-instance", BAD_CAST "xsi");
  xmlNewNsProp (root, xsi, BAD_CAST "noNamespaceSchemaLocation",
                BAD_CAST "http://www.mpi.nl/tools/elan/EAFv3.0.xsd");
  header = xmlNewChild (root, NULL, BAD_CAST "HEADER", NULL);
  xmlNewProp (header, BAD_CAST "MEDIA_FILE", BAD_CAST "");
  xmlNewProp (header, BAD_CAST "TIME_UNITS", BAD_CAST "milliseconds");
  md = xmlNewChild (header, NULL, BAD_CAST "MEDIA_DESCRIPTOR", NULL);
  xmlNewProp (md, BAD_CAST "MEDIA_URL", BAD_CAST (uri ? uri : ""));
  xmlNewProp (md, BAD_CAST "MIME_TYPE", BAD_CAST mime_type_for (media));
  xmlNewProp (md, BAD_CAST "RELATIVE_MEDIA_URL", BAD_CAST rel);
  return root;
}

/* Time slots in ascending time, as ELAN writes them; returns the map from
 * an event's start (2k) and end (2k + 1) to its slot number. */
static guint *
eaf_time_order (xmlNodePtr order,
                GPtrArray *all)
{
  g_autoptr (GArray) slots = g_array_new (FALSE, FALSE, sizeof (Slot));
  guint *slot_of, k = 0;
  char buf[64];

  for (guint a = 0; a < all->len; a++)
    {
      GArray *events = all->pdata[a];
      for (guint i = 0; i < events->len; i++, k++)
        {
          const Event *e = &g_array_index (events, Event, i);
          Slot s0 = { (gint64) llround (e->onset_time * 1000.0), 2 * k };
          Slot s1 = { (gint64) llround (e->offset_time * 1000.0), 2 * k + 1 };
          if (s1.value <= s0.value)
            s1.value = s0.value + 1;
          g_array_append_val (slots, s0);
          g_array_append_val (slots, s1);
        }
    }
  g_array_sort (slots, compare_slot);
  slot_of = g_new (guint, MAX (slots->len, 1));
  for (guint i = 0; i < slots->len; i++)
    {
      Slot *s = &g_array_index (slots, Slot, i);
      xmlNodePtr node = xmlNewChild (order, NULL, BAD_CAST "TIME_SLOT", NULL);
      slot_of[s->key] = i + 1;
      g_snprintf (buf, sizeof buf, "ts%u", i + 1);
      xmlNewProp (node, BAD_CAST "TIME_SLOT_ID", BAD_CAST buf);
      g_snprintf (buf, sizeof buf, "%" G_GINT64_FORMAT, s->value);
      xmlNewProp (node, BAD_CAST "TIME_VALUE", BAD_CAST buf);
    }
  return slot_of;
}

/* Who made the AU's events: the coders of its human decisions (by first
 * appearance), then "Facet" when the model made any. */
static char *
eaf_annotators (const Table *t,
                int          a)
{
  g_autoptr (GPtrArray) names = g_ptr_array_new ();
  gboolean model = FALSE;
  GString *s = g_string_new (NULL);

  for (guint r = 0; r < t->rows->len; r++)
    {
      gsize k = (gsize) r * t->n_aus + a;
      const char *coder = t->coder[k] ? t->coder[k] : "unknown coder";
      if (t->decision[k] != 1)
        continue;
      if (t->source[k] == SRC_MODEL)
        model = TRUE;
      else if (t->source[k] == SRC_HUMAN && !g_ptr_array_find_with_equal_func (names, coder,
                                                                               g_str_equal, NULL))
        g_ptr_array_add (names, (gpointer) coder);
    }
  for (guint i = 0; i < names->len; i++)
    g_string_append_printf (s, "%s%s", i ? ", " : "", (const char *) names->pdata[i]);
  if (model)
    g_string_append_printf (s, "%sFacet", s->len ? ", " : "");
  return g_string_free (s, FALSE);
}

/* One tier: an annotation per event of the AU; its text does not follow
 * the locale ("peak 0.87" everywhere). */
static void
eaf_tier (xmlNodePtr   root,
          const Table *t,
          int          a,
          GArray      *events,
          const guint *slot_of,
          guint       *annotation)
{
  const char *name = facet_au_name (t->aus[a]);
  g_autofree char *annotators = eaf_annotators (t, a);
  xmlNodePtr tier = xmlNewChild (root, NULL, BAD_CAST "TIER", NULL);
  char buf[64];

  g_snprintf (buf, sizeof buf, "AU%02d", t->aus[a]);
  xmlNewProp (tier, BAD_CAST "TIER_ID", BAD_CAST buf);
  xmlNewProp (tier, BAD_CAST "LINGUISTIC_TYPE_REF", BAD_CAST "facet-au");
  xmlNewProp (tier, BAD_CAST "ANNOTATOR", BAD_CAST annotators);
  for (guint i = 0; i < events->len; i++)
    {
      const Event *e = &g_array_index (events, Event, i);
      xmlNodePtr ann = xmlNewChild (tier, NULL, BAD_CAST "ANNOTATION", NULL);
      xmlNodePtr al = xmlNewChild (ann, NULL, BAD_CAST "ALIGNABLE_ANNOTATION", NULL);
      g_autoptr (GString) value = g_string_new (NULL);

      g_snprintf (buf, sizeof buf, "a%u", *annotation + 1);
      xmlNewProp (al, BAD_CAST "ANNOTATION_ID", BAD_CAST buf);
      g_snprintf (buf, sizeof buf, "ts%u", slot_of[2 * *annotation]);
      xmlNewProp (al, BAD_CAST "TIME_SLOT_REF1", BAD_CAST buf);
      g_snprintf (buf, sizeof buf, "ts%u", slot_of[2 * *annotation + 1]);
      xmlNewProp (al, BAD_CAST "TIME_SLOT_REF2", BAD_CAST buf);
      (*annotation)++;
      /* "AU12 C lip corner puller (human, ...)": the FACS code first. */
      g_string_printf (value, "AU%02d", e->au);
      if (e->peak_level > 0)
        g_string_append_printf (value, " %c", 'A' + e->peak_level - 1);
      g_string_append_printf (value, "%s%s (%s", name ? " " : "", name ? name : "",
                              event_source (e->source));
      if (!isnan (e->peak))
        {
          g_string_append (value, ", peak ");
          append_double (value, e->peak, "%.2f");
        }
      g_string_append_c (value, ')');
      xmlNewTextChild (al, NULL, BAD_CAST "ANNOTATION_VALUE", BAD_CAST value->str);
    }
}

/* ELAN 3.0: HEADER with the media descriptor, TIME_ORDER, a TIER per AU
 * with events in this video (an annotation per event), then the
 * linguistic type the tiers use. */
static gboolean
write_eaf (FacetStore  *store,
           const Table *t,
           const char  *path,
           GError     **error)
{
  g_autofree char *media = g_canonicalize_filename (t->video->path, facet_store_get_folder (store));
  g_autoptr (GPtrArray) all = g_ptr_array_new_with_free_func ((GDestroyNotify) g_array_unref);
  g_autofree guint *slot_of = NULL;
  xmlDocPtr doc = xmlNewDoc (BAD_CAST "1.0");
  xmlNodePtr root = eaf_document (doc, media, path), node, prop;
  xmlChar *mem = NULL;
  guint annotation = 0;
  char buf[64];
  int size = 0;
  gboolean ok;

  for (int a = 0; a < t->n_aus; a++)
    g_ptr_array_add (all, find_events (t, a));
  slot_of = eaf_time_order (xmlNewChild (root, NULL, BAD_CAST "TIME_ORDER", NULL), all);
  for (int a = 0; a < t->n_aus; a++)
    if (((GArray *) all->pdata[a])->len > 0)
      eaf_tier (root, t, a, all->pdata[a], slot_of, &annotation);
  /* The coders' marked events and notes (store-notes.c). */
  if (!store_eaf_add_marks (store, t->video, root, &annotation, error))
    {
      xmlFreeDoc (doc);
      return FALSE;
    }
  node = xmlNewChild (root, NULL, BAD_CAST "LINGUISTIC_TYPE", NULL);
  xmlNewProp (node, BAD_CAST "GRAPHIC_REFERENCES", BAD_CAST "false");
  xmlNewProp (node, BAD_CAST "LINGUISTIC_TYPE_ID", BAD_CAST "facet-au");
  xmlNewProp (node, BAD_CAST "TIME_ALIGNABLE", BAD_CAST "true");
  /* lastUsedAnnotationId lets ELAN continue numbering. */
  g_snprintf (buf, sizeof buf, "%u", annotation);
  prop = xmlNewTextChild (xmlFirstElementChild (root), NULL, BAD_CAST "PROPERTY", BAD_CAST buf);
  xmlNewProp (prop, BAD_CAST "NAME", BAD_CAST "lastUsedAnnotationId");

  xmlDocDumpFormatMemoryEnc (doc, &mem, &size, "UTF-8", 1);
  if (mem == NULL)
    g_set_error (error, FACET_STORE_ERROR, FACET_STORE_ERROR_IO, "%s: cannot write XML", path);
  ok = mem != NULL && facet_write_file_atomic (path, mem, (gsize) size, error);
  xmlFree (mem);
  xmlFreeDoc (doc);
  return ok;
}

/* ---- The export entry point ------------------------------------------------------------------- */

static gboolean
write_text (const char *path,
            GString    *text,
            GError    **error)
{
  return facet_write_file_atomic (path, text->str, text->len, error);
}

/* The OpenFace layout has columns for OpenFace's AUs whatever the model
 * codes: those the model lacks join the table (labels may decide them). */
static void
add_openface_aus (int   **aus,
                  float **thresholds,
                  int    *n_aus)
{
  GArray *all = g_array_new (FALSE, FALSE, sizeof (int));
  GArray *t = g_array_new (FALSE, FALSE, sizeof (float));

  g_array_append_vals (all, *aus, (guint) *n_aus);
  g_array_append_vals (t, *thresholds, (guint) *n_aus);
  for (guint i = 0; i < G_N_ELEMENTS (openface_class_aus); i++)
    {
      gboolean known = FALSE;
      for (int a = 0; a < *n_aus; a++)
        known |= (*aus)[a] == openface_class_aus[i];
      if (!known)
        {
          g_array_append_val (all, openface_class_aus[i]);
          g_array_append_val (t, (float) { 0.5f });
        }
    }
  g_free (*aus);
  g_free (*thresholds);
  *n_aus = (int) all->len;
  *aus = (int *) (void *) g_array_free (all, FALSE);
  *thresholds = (float *) (void *) g_array_free (t, FALSE);
}

gboolean
facet_store_export (FacetStore               *store,
                    const FacetExportOptions *options,
                    const char               *path,
                    GError                  **error)
{
  g_autoptr (FacetStoreModel) model = NULL;
  g_autoptr (GPtrArray) videos = NULL;
  g_autoptr (GString) joint = NULL;
  g_autofree int *aus = NULL;
  g_autofree float *thresholds = NULL;
  gboolean per_video_files, folder;
  gint64 model_id = options->model_id;
  int n_aus = 0;

  g_return_val_if_fail (store != NULL && options != NULL && path != NULL, FALSE);

  if (!isnan (options->threshold) && !(options->threshold > 0.0f && options->threshold < 1.0f))
    {
      g_set_error (error, FACET_STORE_ERROR, FACET_STORE_ERROR_INVALID,
                   "threshold %g is outside (0, 1)", (double) options->threshold);
      return FALSE;
    }
  if (model_id == 0)
    {
      model_id = facet_store_latest_model (store, error);
      if (model_id < 0)
        return FALSE;
    }
  if (model_id > 0)
    {
      model = facet_store_get_model (store, model_id, error);
      if (model == NULL)
        return FALSE;
      n_aus = model->n_aus;
      aus = g_memdup2 (model->au_ids, sizeof (int) * n_aus);
      thresholds = store_model_thresholds (model, options->threshold);
      /* The lab's coding scheme may be wider than the model (store-notes.c). */
      if (!store_scheme_extend (store, &aus, &thresholds, &n_aus, error))
        return FALSE;
    }
  else
    {
      /* A project coded by hand only: the labelled AUs. */
      g_autoptr (GArray) counts = facet_store_count_labels (store, options->video_id, error);
      if (counts == NULL)
        return FALSE;
      if (counts->len == 0)
        {
          g_set_error (error, FACET_STORE_ERROR, FACET_STORE_ERROR_NOT_FOUND,
                       "%s: nothing to export: no model and no labels", store->path);
          return FALSE;
        }
      n_aus = (int) counts->len;
      aus = g_new (int, n_aus);
      thresholds = g_new (float, n_aus);
      for (int a = 0; a < n_aus; a++)
        {
          aus[a] = g_array_index (counts, FacetLabelCount, a).au;
          thresholds[a] = 0.5f;
        }
    }

  if (options->format == FACET_EXPORT_OPENFACE)
    add_openface_aus (&aus, &thresholds, &n_aus);

  if (options->video_id != 0)
    {
      FacetStoreVideo *v = facet_store_get_video (store, options->video_id, error);
      if (v == NULL)
        return FALSE;
      videos = g_ptr_array_new_with_free_func ((GDestroyNotify) facet_store_video_free);
      g_ptr_array_add (videos, v);
    }
  else if ((videos = facet_store_list_videos (store, error)) == NULL)
    return FALSE;
  if (videos->len == 0)
    {
      g_set_error (error, FACET_STORE_ERROR, FACET_STORE_ERROR_NOT_FOUND,
                   "%s: the project has no videos", store->path);
      return FALSE;
    }

  per_video_files = options->format == FACET_EXPORT_OPENFACE || options->format == FACET_EXPORT_EAF
                    || options->format == FACET_EXPORT_TIMESERIES;
  folder = per_video_files && videos->len > 1;
  if (folder && g_mkdir_with_parents (path, 0777) != 0)
    {
      g_set_error (error, FACET_STORE_ERROR, FACET_STORE_ERROR_IO,
                   "%s: cannot make the folder for one file per video", path);
      return FALSE;
    }
  if (options->format == FACET_EXPORT_EVENTS)
    joint = g_string_new ("video,au,onset_frame,onset_time,apex_frame,apex_time,offset_frame,"
                          "offset_time,duration,peak_probability,source,peak_intensity\n");
  else if (options->format == FACET_EXPORT_SUMMARY)
    joint = g_string_new ("video,subject,au,frames,presence_pct,events,events_per_minute,"
                          "mean_event_duration\n");

  for (guint i = 0; i < videos->len; i++)
    {
      FacetStoreVideo *v = videos->pdata[i];
      g_autoptr (Table) t = build_table (store, v, model, n_aus, aus, thresholds,
                                         options->format == FACET_EXPORT_OPENFACE, error);
      g_autofree char *file = NULL;

      if (t == NULL)
        return FALSE;
      if (per_video_files)
        {
          g_autofree char *name = store_video_display_name (v);
          g_autofree char *base = g_strconcat (name, options->format == FACET_EXPORT_EAF
                                               ? ".eaf" : ".csv", NULL);
          file = folder ? g_build_filename (path, base, NULL) : g_strdup (path);
        }
      switch (options->format)
        {
        case FACET_EXPORT_OPENFACE:
        case FACET_EXPORT_TIMESERIES:
          {
            g_autoptr (GString) csv = options->format == FACET_EXPORT_OPENFACE ? openface_csv (t)
                                      : timeseries_csv (t);
            if (!write_text (file, csv, error))
              return FALSE;
          }
          break;
        case FACET_EXPORT_EAF:
          if (!write_eaf (store, t, file, error))
            return FALSE;
          break;
        case FACET_EXPORT_EVENTS:
          events_csv (joint, t);
          /* The events coders marked (S, P, F), source "marked" (store-notes.c). */
          if (!store_events_csv_add_marked (store, v, joint, error))
            return FALSE;
          break;
        case FACET_EXPORT_SUMMARY:
        default:
          summary_csv (joint, t);
          break;
        }
    }
  if (joint != NULL)
    return write_text (path, joint, error);
  return TRUE;
}
