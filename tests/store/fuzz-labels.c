/* fuzz-labels.c — fuzz target: the label file parsers (csv, FMAE-IAT JSON
 * lines, BP4D, DISFA). The first byte picks the format; the rest is the
 * file. A parser must refuse junk with an error, never crash or leak. */
#include "config.h"

#include <math.h>
#include <string.h>

#include "store/facet-store.h"

int LLVMFuzzerTestOneInput (const guint8 *data, size_t size);

int
LLVMFuzzerTestOneInput (const guint8 *data,
                        size_t        size)
{
  static const char *names[] = { "x.labels.csv", "labels.json", "F001_T1.csv", "SN001_au12.txt" };
  g_autoptr (FacetLabelFile) file = NULL;
  g_autoptr (GError) error = NULL;
  FacetLabelImportOptions opt = { 0 };

  if (size < 1)
    return 0;
  opt.format = (FacetLabelFormat) (data[0] % 4);
  file = facet_label_file_parse ((const char *) data + 1, size - 1, names[opt.format], &opt, &error);
  /* Either labels or an error that says where, never both, never neither. */
  g_assert ((file == NULL) != (error == NULL));
  if (error != NULL)
    g_assert (g_utf8_validate (error->message, -1, NULL));
  for (guint i = 0; file != NULL && i < file->labels->len; i++)
    {
      FacetParsedLabel *l = &g_array_index (file->labels, FacetParsedLabel, i);
      g_assert (l->frame >= 0 && l->au >= 1 && l->au <= 99);
      g_assert (l->state >= FACET_LABEL_PRESENT && l->state <= FACET_LABEL_NOT_CODABLE);
      g_assert (isnan (l->intensity) || (l->intensity >= 0.0f && l->intensity <= 1.0f));
      /* A content hash is 64 lower-case hex digits, and only with a file name. */
      g_assert (l->video_sha256 == NULL || (strlen (l->video_sha256) == 64 && l->video_key != NULL
                                            && file->key_kind == FACET_LABEL_KEY_FILE));
    }
  return 0;
}
