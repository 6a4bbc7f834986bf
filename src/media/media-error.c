/* media-error.c — the media module's error domain and FFmpeg's logging */
#define G_LOG_DOMAIN "facet-media"

#include "config.h"

#include <stdio.h>

#include <libavutil/error.h>
#include <libavutil/log.h>

#include "media-private.h"

G_DEFINE_QUARK (facet-media-error-quark, facet_media_error)

static void
ffmpeg_log (void       *avcl,
            int         level,
            const char *format,
            va_list     args)
{
  static int print_prefix = 1;
  char line[1024];

  if (level > av_log_get_level ())
    return;
  /* print_prefix is FFmpeg's own line-continuation state; a race on it only
   * affects the "[h264 @ 0x...]" prefix of a debug line. */
  av_log_format_line2 (avcl, level, format, args, line, sizeof line, &print_prefix);
  g_log ("facet-ffmpeg", G_LOG_LEVEL_DEBUG, "%s", g_strchomp (line));
}

void
facet_media_init_ffmpeg (void)
{
  static gsize once = 0;

  if (g_once_init_enter (&once))
    {
      const char *level = g_getenv ("FACET_FFMPEG_LOG");

      /* Encoder statistics and the like are not worth even a debug line;
       * FACET_FFMPEG_LOG=debug (or info, verbose, trace) shows them. */
      if (level == NULL || *level == '\0')
        av_log_set_level (AV_LOG_WARNING);
      else if (g_str_equal (level, "info"))
        av_log_set_level (AV_LOG_INFO);
      else if (g_str_equal (level, "verbose"))
        av_log_set_level (AV_LOG_VERBOSE);
      else if (g_str_equal (level, "debug"))
        av_log_set_level (AV_LOG_DEBUG);
      else if (g_str_equal (level, "trace"))
        av_log_set_level (AV_LOG_TRACE);
      av_log_set_callback (ffmpeg_log);
      g_once_init_leave (&once, 1);
    }
}

char *
facet_media_av_error_string (int code)
{
  char buf[AV_ERROR_MAX_STRING_SIZE] = { 0 };

  if (av_strerror (code, buf, sizeof buf) < 0)
    g_snprintf (buf, sizeof buf, "FFmpeg error %d", code);
  return g_strdup (buf);
}
