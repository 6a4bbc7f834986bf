/* media-synth-regions.c — where each AU acts, frame by frame: the regions
 * of the face the generator moves for each AU (facet_synth_au_regions),
 * as boxes in the frame after the head's motion, written beside the labels
 * as OUT.regions.csv. They are the ground truth for the evidence maps: a
 * map that points at the AU should put its mass inside the AU's boxes.
 */
#define G_LOG_DOMAIN "facet-media"

#include "config.h"

#include <string.h>

#include "facet-media.h"
#include "media-synth.h"

/* Column names of the boxes, in facet_synth_region_boxes () order. */
static const char *const box_names[FACET_SYNTH_N_REGION_BOXES] = {
  "brows", "eye_left", "eye_right", "cheek_left", "cheek_right", "nose", "mouth", "chin",
};

#define ALL_REGIONS                                                                            \
  (FACET_SYNTH_REGION_BROWS | FACET_SYNTH_REGION_EYES | FACET_SYNTH_REGION_CHEEKS              \
   | FACET_SYNTH_REGION_NOSE | FACET_SYNTH_REGION_MOUTH | FACET_SYNTH_REGION_CHIN)

char *
facet_synth_regions_path (const char *video_path)
{
  g_autofree char *labels = NULL;

  g_return_val_if_fail (video_path != NULL, NULL);

  labels = facet_synth_labels_path (video_path);
  /* "OUT.labels.csv" -> "OUT.regions.csv" */
  labels[strlen (labels) - strlen (".labels.csv")] = '\0';
  return g_strconcat (labels, ".regions.csv", NULL);
}

/**
 * facet_synth_timeline_regions:
 *
 * The regions file: a comment line per AU naming its boxes, the header
 * "frame,brows_x0,brows_y0,brows_x1,brows_y1,eye_left_x0,...", then one row
 * per frame with every box (fractions of the frame side, four decimals).
 */
char *
facet_synth_timeline_regions (const FacetSynthSubject  *subject,
                              const FacetSynthTimeline *timeline)
{
  GString *text = g_string_new (NULL);
  gint64 n_frames;
  int n_aus;
  const int *aus = facet_synth_aus (&n_aus);
  char number[G_ASCII_DTOSTR_BUF_SIZE];

  g_return_val_if_fail (subject != NULL && timeline != NULL, NULL);

  for (int k = 0; k < n_aus; k++)
    {
      float boxes[FACET_SYNTH_N_REGION_BOXES][4];
      guint kinds[FACET_SYNTH_N_REGION_BOXES];
      guint regions = facet_synth_au_regions (aus[k]);
      int n = facet_synth_region_boxes (subject, NULL, ALL_REGIONS, boxes, kinds);

      g_string_append_printf (text, "# AU%02d:", aus[k]);
      for (int i = 0; i < n; i++)
        if (kinds[i] & regions)
          g_string_append_printf (text, " %s", box_names[i]);
      g_string_append_c (text, '\n');
    }
  g_string_append (text, "frame");
  for (int i = 0; i < FACET_SYNTH_N_REGION_BOXES; i++)
    g_string_append_printf (text, ",%s_x0,%s_y0,%s_x1,%s_y1", box_names[i], box_names[i],
                            box_names[i], box_names[i]);
  g_string_append_c (text, '\n');

  n_frames = facet_synth_timeline_get_n_frames (timeline);
  for (gint64 f = 0; f < n_frames; f++)
    {
      float au[FACET_SYNTH_N_AUS], boxes[FACET_SYNTH_N_REGION_BOXES][4];
      FacetSynthPose pose;
      int n;

      facet_synth_timeline_get (timeline, f, au, &pose);
      n = facet_synth_region_boxes (subject, &pose, ALL_REGIONS, boxes, NULL);
      g_string_append_printf (text, "%" G_GINT64_FORMAT, f);
      for (int i = 0; i < n; i++)
        for (int c = 0; c < 4; c++)
          g_string_append_printf (text, ",%s",
                                  g_ascii_formatd (number, sizeof number, "%.4f", boxes[i][c]));
      g_string_append_c (text, '\n');
    }
  return g_string_free (text, FALSE);
}

gboolean
facet_synth_write_regions (const FacetSynthSubject  *subject,
                           const FacetSynthTimeline *timeline,
                           const char               *path,
                           GError                  **error)
{
  g_autofree char *text = NULL;
  g_autoptr (GError) local = NULL;

  g_return_val_if_fail (subject != NULL && timeline != NULL && path != NULL, FALSE);

  text = facet_synth_timeline_regions (subject, timeline);
  if (!g_file_set_contents (path, text, -1, &local))
    {
      g_set_error (error, FACET_MEDIA_ERROR, FACET_MEDIA_ERROR_IO,
                   "%s: cannot write the AU regions: %s", path, local->message);
      return FALSE;
    }
  return TRUE;
}
