/* cli-media.c — facet-cli probe and frame: what a video holds, and one of
 * its frames exactly as decoded */
#define G_LOG_DOMAIN "facet-cli"

#include "config.h"

#include <stdio.h>

#include "cli.h"
#include "media/facet-media.h"

static void
print_probe_json (FacetMediaSource *source)
{
  const FacetMediaInfo *info = facet_media_source_get_info (source);
  GString *out = g_string_new (NULL);

  g_string_append_printf (out, "{\"frames\": %" G_GINT64_FORMAT ", \"fps\": ", info->n_frames);
  facet_cli_json_float (out, info->fps);
  g_string_append_printf (out, ", \"width\": %d, \"height\": %d, \"duration\": ", info->width,
                          info->height);
  facet_cli_json_float (out, info->duration);
  g_string_append (out, ", \"codec\": ");
  facet_cli_json_string (out, info->codec);
  g_string_append (out, ", \"container\": ");
  facet_cli_json_string (out, info->container);
  g_string_append_printf (out, ", \"rotation\": %d, \"vfr\": %s, \"start_time\": ", info->rotation,
                          info->variable_frame_rate ? "true" : "false");
  facet_cli_json_float (out, info->start_time);
  g_string_append (out, ", \"path\": ");
  facet_cli_json_string (out, facet_media_source_get_path (source));
  g_string_append_c (out, '}');
  puts (out->str);
  g_string_free (out, TRUE);
}

static void
print_probe_text (FacetMediaSource *source)
{
  const FacetMediaInfo *info = facet_media_source_get_info (source);

  printf ("file:        %s\n", facet_media_source_get_path (source));
  printf ("container:   %s\n", info->container);
  printf ("codec:       %s\n", info->codec);
  if (info->rotation != 0)
    printf ("size:        %dx%d (shown rotated by %d° clockwise)\n", info->width, info->height,
            info->rotation);
  else
    printf ("size:        %dx%d\n", info->width, info->height);
  printf ("frames:      %" G_GINT64_FORMAT "\n", info->n_frames);
  printf ("frame rate:  %.3f fps%s\n", info->fps,
          info->variable_frame_rate ? " on average (variable)" : "");
  printf ("duration:    %.3f s", info->duration);
  if (info->start_time != 0.0)
    printf (" (the first frame is at %.3f s)", info->start_time);
  printf ("\n");
}

int
facet_cli_probe (int    argc,
                 char **argv)
{
  g_autoptr (GOptionContext) ctx = g_option_context_new ("VIDEO|FOLDER — describe a video or an "
                                                         "image folder");
  g_autoptr (FacetMediaSource) source = NULL;
  g_autoptr (GError) error = NULL;
  gboolean json = FALSE;
  double fps = 0.0;
  GOptionEntry entries[] = {
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, "Print one JSON object", NULL },
    { "fps", 0, 0, G_OPTION_ARG_DOUBLE, &fps, "Frame rate of an image folder (default 30)", "F" },
    { NULL }
  };

  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!facet_cli_parse (ctx, &argc, &argv))
    return 1;
  if (argc != 2)
    return facet_cli_failf ("probe needs one video or folder (see --help)");

  source = facet_media_source_open (argv[1], fps, &error);
  if (source == NULL)
    return facet_cli_fail (g_steal_pointer (&error));
  if (json)
    print_probe_json (source);
  else
    print_probe_text (source);
  return 0;
}

int
facet_cli_frame (int    argc,
                 char **argv)
{
  g_autoptr (GOptionContext) ctx = g_option_context_new ("VIDEO|FOLDER N — write frame N (from 0) "
                                                         "as a PNG, exactly as decoded");
  g_autoptr (FacetMediaSource) source = NULL;
  g_autoptr (FacetImage) image = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *out = NULL;
  double fps = 0.0;
  gint64 index;
  GOptionEntry entries[] = {
    { "out", 'o', 0, G_OPTION_ARG_FILENAME, &out, "The PNG file to write", "FILE.png" },
    { "fps", 0, 0, G_OPTION_ARG_DOUBLE, &fps, "Frame rate of an image folder (default 30)", "F" },
    { NULL }
  };

  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!facet_cli_parse (ctx, &argc, &argv))
    return 1;
  if (argc != 3)
    return facet_cli_failf ("frame needs a video or folder and a frame number (see --help)");
  if (out == NULL)
    return facet_cli_failf ("frame needs --out FILE.png");
  if (!g_ascii_string_to_signed (argv[2], 10, 0, G_MAXINT64, &index, &error))
    return facet_cli_failf ("“%s” is not a frame number (frames count from 0)", argv[2]);

  source = facet_media_source_open (argv[1], fps, &error);
  if (source == NULL)
    return facet_cli_fail (g_steal_pointer (&error));
  /* One frame: no point caching what was decoded on the way. */
  facet_media_source_set_cache_size (source, 0);
  image = facet_media_source_get_frame (source, index, &error);
  if (image == NULL)
    return facet_cli_fail (g_steal_pointer (&error));
  if (!facet_image_save_png (image, out, &error))
    return facet_cli_fail (g_steal_pointer (&error));
  return 0;
}
