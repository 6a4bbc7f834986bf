/* media-writer.c — encoding RGB frames into a video file with libavcodec
 *
 * Used for the synthetic face videos, the tests and exports. The output is
 * reproducible: the same frames and settings give the same file, byte for
 * byte, on any machine — one encoder thread (x264's output depends on its
 * thread count), FFmpeg's bit-exact flags for the codec and the muxer (no
 * version strings, no random Matroska segment UID), a C integer DCT for
 * MJPEG and MPEG-4, a bit-exact RGB-to-YUV conversion, and x264 without
 * macroblock-tree rate control (which reads memory it never wrote).
 *
 * The file is written under a temporary name next to the target and renamed
 * when finished, so an interrupted run never leaves a half-written video
 * under the real name.
 */
#define G_LOG_DOMAIN "facet-media"

#include "config.h"

#include <errno.h>
#include <math.h>

#include <glib/gstdio.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/opt.h>
#include <libswscale/swscale.h>

#include "media-private.h"

struct _FacetMediaWriter
{
  char              *path;
  char              *part_path;
  AVFormatContext   *oc;
  AVStream          *stream;
  AVCodecContext    *enc;
  struct SwsContext *sws;
  AVFrame           *frame;
  AVPacket          *packet;
  int                width;
  int                height;
  gint64             n_frames;
  gboolean           header_written;
  gboolean           finished;
};

typedef struct
{
  const char    *name;
  const char    *encoder;
  int            pix_fmt;
  gboolean       even_size;
} CodecChoice;

static const CodecChoice codecs[] = {
  { "h264", "libx264", AV_PIX_FMT_YUV420P, TRUE },
  /* Lossless RGB: frames come back bit for bit. */
  { "ffv1", "ffv1", AV_PIX_FMT_0RGB32, FALSE },
  { "mjpeg", "mjpeg", AV_PIX_FMT_YUVJ420P, FALSE },
  { "mpeg4", "mpeg4", AV_PIX_FMT_YUV420P, TRUE },
};

static gboolean
fail_av (GError    **error,
         int         code,
         int         ret,
         const char *path,
         const char *what)
{
  g_autofree char *why = facet_media_av_error_string (ret);

  g_set_error (error, FACET_MEDIA_ERROR, code, "%s: %s (%s)", path, what, why);
  return FALSE;
}

static gboolean
write_packets (FacetMediaWriter *writer,
               GError          **error)
{
  for (;;)
    {
      int ret = avcodec_receive_packet (writer->enc, writer->packet);

      if (ret == AVERROR (EAGAIN) || ret == AVERROR_EOF)
        return TRUE;
      if (ret < 0)
        return fail_av (error, FACET_MEDIA_ERROR_IO, ret, writer->path, "the encoder failed");
      /* Every frame lasts one tick of the frame rate. Without a duration the
       * MP4 muxer cannot tell how long the last frame shows and drops it. */
      writer->packet->duration = 1;
      av_packet_rescale_ts (writer->packet, writer->enc->time_base, writer->stream->time_base);
      writer->packet->stream_index = writer->stream->index;
      ret = av_interleaved_write_frame (writer->oc, writer->packet);
      av_packet_unref (writer->packet);
      if (ret < 0)
        return fail_av (error, FACET_MEDIA_ERROR_IO, ret, writer->path, "cannot write");
    }
}

static const char *
default_codec (const AVOutputFormat *format)
{
  /* AVI is the container of the old MJPEG lab recordings; everything else
   * gets H.264. */
  return g_str_equal (format->name, "avi") ? "mjpeg" : "h264";
}

static gboolean
configure_encoder (FacetMediaWriter              *writer,
                   const CodecChoice             *choice,
                   AVRational                     rate,
                   const FacetMediaWriterOptions *options,
                   GError                       **error)
{
  AVCodecContext *enc = writer->enc;
  int quality = options->quality;

  enc->width = writer->width;
  enc->height = writer->height;
  enc->pix_fmt = choice->pix_fmt;
  enc->time_base = av_inv_q (rate);
  enc->framerate = rate;
  enc->gop_size = options->gop > 0 ? options->gop : 12;
  enc->thread_count = 1;
  enc->flags |= AV_CODEC_FLAG_BITEXACT;
  if (writer->oc->oformat->flags & AVFMT_GLOBALHEADER)
    enc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;

  if (g_str_equal (choice->name, "h264"))
    {
      g_autofree char *crf = g_strdup_printf ("%d", quality > 0 ? CLAMP (quality, 1, 51) : 18);

      if (options->b_frames >= 0)
        enc->max_b_frames = options->b_frames;
      /* RGB-to-YUV in swscale uses BT.601, limited range: say so. */
      enc->colorspace = AVCOL_SPC_SMPTE170M;
      enc->color_range = AVCOL_RANGE_MPEG;
      /* Macroblock-tree rate control is off: with it, Debian 12's x264
       * (0.164) reads memory it never wrote (its assembly; asm=0 does not),
       * and the same frames came out different from run to run with the
       * state of the heap (MALLOC_PERTURB_ shows it at once). */
      if (av_opt_set_int (enc->priv_data, "mbtree", 0, 0) < 0)
        {
          g_set_error (error, FACET_MEDIA_ERROR, FACET_MEDIA_ERROR_UNSUPPORTED,
                       "%s: this x264 has no “mbtree” option, so its output would not be "
                       "reproducible", writer->path);
          return FALSE;
        }
      if (av_opt_set (enc->priv_data, "preset", options->preset ? options->preset : "fast", 0) < 0
          || av_opt_set (enc->priv_data, "crf", crf, 0) < 0)
        {
          g_set_error (error, FACET_MEDIA_ERROR, FACET_MEDIA_ERROR_UNSUPPORTED,
                       "%s: the x264 preset “%s” is not known", writer->path,
                       options->preset ? options->preset : "fast");
          return FALSE;
        }
    }
  else if (g_str_equal (choice->name, "mjpeg") || g_str_equal (choice->name, "mpeg4"))
    {
      enc->flags |= AV_CODEC_FLAG_QSCALE;
      enc->global_quality = FF_QP2LAMBDA * (quality > 0 ? CLAMP (quality, 1, 31) : 3);
      /* The C integer DCT: the SIMD ones are not bit-exact across CPUs. */
      enc->dct_algo = FF_DCT_INT;
      enc->max_b_frames = g_str_equal (choice->name, "mpeg4") ? MAX (options->b_frames, 0) : 0;
      enc->colorspace = AVCOL_SPC_SMPTE170M;
      enc->color_range = g_str_equal (choice->name, "mjpeg") ? AVCOL_RANGE_JPEG
                                                              : AVCOL_RANGE_MPEG;
    }
  return TRUE;
}

/**
 * facet_media_writer_new_full:
 * @path: the output file; the extension chooses the container (.mp4, .mkv,
 *   .avi, .mov)
 * @codec: "h264" (libx264, yuv420p), "ffv1" (lossless RGB), "mjpeg"
 *   (yuvj420p) or "mpeg4"; NULL: h264, or mjpeg for .avi
 * @options: (nullable): encoder settings
 *
 * Starts a video of @width x @height pixels at @fps frames per second.
 */
FacetMediaWriter *
facet_media_writer_new_full (const char                    *path,
                             int                            width,
                             int                            height,
                             double                         fps,
                             const char                    *codec,
                             const FacetMediaWriterOptions *options,
                             GError                       **error)
{
  static const FacetMediaWriterOptions defaults = FACET_MEDIA_WRITER_OPTIONS_INIT;
  g_autoptr (FacetMediaWriter) writer = NULL;
  const CodecChoice *choice = NULL;
  const AVCodec *encoder;
  AVRational rate;
  int ret;

  g_return_val_if_fail (path != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  facet_media_init_ffmpeg ();
  if (options == NULL)
    options = &defaults;

  if (width <= 0 || height <= 0 || width > 16384 || height > 16384 || !(fps > 0.0)
      || !isfinite (fps) || fps > 1000.0)
    {
      g_set_error (error, FACET_MEDIA_ERROR, FACET_MEDIA_ERROR_RANGE,
                   "%s: cannot write a %dx%d video at %g frames per second", path, width, height,
                   fps);
      return NULL;
    }

  writer = g_new0 (FacetMediaWriter, 1);
  writer->path = g_strdup (path);
  writer->part_path = g_strdup_printf ("%s.part", path);
  writer->width = width;
  writer->height = height;

  ret = avformat_alloc_output_context2 (&writer->oc, NULL, NULL, path);
  if (ret < 0 || writer->oc == NULL)
    {
      g_set_error (error, FACET_MEDIA_ERROR, FACET_MEDIA_ERROR_UNSUPPORTED,
                   "%s: unknown video container (use .mp4, .mkv, .avi or .mov)", path);
      return NULL;
    }
  if (codec == NULL)
    codec = default_codec (writer->oc->oformat);
  for (guint i = 0; i < G_N_ELEMENTS (codecs); i++)
    if (g_str_equal (codec, codecs[i].name))
      choice = &codecs[i];
  if (choice == NULL)
    {
      g_set_error (error, FACET_MEDIA_ERROR, FACET_MEDIA_ERROR_UNSUPPORTED,
                   "%s: unknown codec “%s” (use h264, ffv1, mjpeg or mpeg4)", path, codec);
      return NULL;
    }
  encoder = avcodec_find_encoder_by_name (choice->encoder);
  if (encoder == NULL)
    {
      g_set_error (error, FACET_MEDIA_ERROR, FACET_MEDIA_ERROR_UNSUPPORTED,
                   "%s: this FFmpeg has no %s encoder", path, choice->encoder);
      return NULL;
    }
  if (avformat_query_codec (writer->oc->oformat, encoder->id, FF_COMPLIANCE_NORMAL) != 1)
    {
      g_set_error (error, FACET_MEDIA_ERROR, FACET_MEDIA_ERROR_UNSUPPORTED,
                   "%s: %s video cannot be stored in %s files (try .mkv)", path, choice->name,
                   writer->oc->oformat->name);
      return NULL;
    }
  if (choice->even_size && (width % 2 || height % 2))
    {
      g_set_error (error, FACET_MEDIA_ERROR, FACET_MEDIA_ERROR_UNSUPPORTED,
                   "%s: %s with 4:2:0 chroma needs an even width and height, not %dx%d", path,
                   choice->name, width, height);
      return NULL;
    }

  /* 29.97 becomes 30000/1001, 25 stays 25/1. */
  rate = av_d2q (fps, 1001000);
  writer->enc = avcodec_alloc_context3 (encoder);
  if (!configure_encoder (writer, choice, rate, options, error))
    return NULL;
  ret = avcodec_open2 (writer->enc, encoder, NULL);
  if (ret < 0)
    {
      fail_av (error, FACET_MEDIA_ERROR_UNSUPPORTED, ret, path, "cannot start the encoder");
      return NULL;
    }

  writer->oc->flags |= AVFMT_FLAG_BITEXACT;
  writer->stream = avformat_new_stream (writer->oc, NULL);
  avcodec_parameters_from_context (writer->stream->codecpar, writer->enc);
  writer->stream->time_base = writer->enc->time_base;
  writer->stream->avg_frame_rate = rate;

  ret = avio_open (&writer->oc->pb, writer->part_path, AVIO_FLAG_WRITE);
  if (ret < 0)
    {
      fail_av (error, FACET_MEDIA_ERROR_IO, ret, path, "cannot create the file");
      return NULL;
    }
  ret = avformat_write_header (writer->oc, NULL);
  if (ret < 0)
    {
      fail_av (error, FACET_MEDIA_ERROR_IO, ret, path, "cannot write the header");
      return NULL;
    }
  writer->header_written = TRUE;

  writer->sws = sws_getContext (width, height, AV_PIX_FMT_RGB24, width, height, choice->pix_fmt,
                                SWS_BICUBIC | SWS_ACCURATE_RND | SWS_BITEXACT, NULL, NULL, NULL);
  writer->frame = av_frame_alloc ();
  writer->frame->format = choice->pix_fmt;
  writer->frame->width = width;
  writer->frame->height = height;
  writer->frame->color_range = writer->enc->color_range;
  writer->frame->colorspace = writer->enc->colorspace;
  writer->packet = av_packet_alloc ();
  if (writer->sws == NULL || av_frame_get_buffer (writer->frame, 0) < 0)
    {
      g_set_error (error, FACET_MEDIA_ERROR, FACET_MEDIA_ERROR_UNSUPPORTED,
                   "%s: cannot convert RGB to %s", path, choice->name);
      return NULL;
    }
  return g_steal_pointer (&writer);
}

/**
 * facet_media_writer_new:
 *
 * facet_media_writer_new_full() with the default settings: H.264 at CRF 18,
 * a key frame every 12 frames, x264's B-frames; lossless FFV1; MJPEG and
 * MPEG-4 at qscale 3.
 */
FacetMediaWriter *
facet_media_writer_new (const char *path,
                        int         width,
                        int         height,
                        double      fps,
                        const char *codec,
                        GError    **error)
{
  return facet_media_writer_new_full (path, width, height, fps, codec, NULL, error);
}

gboolean
facet_media_writer_add (FacetMediaWriter *writer,
                        const FacetImage *frame,
                        GError          **error)
{
  const guint8 *src[4] = { NULL };
  int src_stride[4] = { 0 };
  int ret;

  g_return_val_if_fail (writer != NULL, FALSE);
  g_return_val_if_fail (frame != NULL, FALSE);
  g_return_val_if_fail (!writer->finished, FALSE);

  if (frame->width != writer->width || frame->height != writer->height)
    {
      g_set_error (error, FACET_MEDIA_ERROR, FACET_MEDIA_ERROR_RANGE,
                   "%s: frame %" G_GINT64_FORMAT " is %dx%d but the video is %dx%d", writer->path,
                   writer->n_frames, frame->width, frame->height, writer->width, writer->height);
      return FALSE;
    }
  /* The encoder may still hold the previous picture. */
  if (av_frame_make_writable (writer->frame) < 0)
    {
      g_set_error (error, FACET_MEDIA_ERROR, FACET_MEDIA_ERROR_IO, "%s: out of memory",
                   writer->path);
      return FALSE;
    }
  src[0] = frame->data;
  src_stride[0] = frame->stride;
  sws_scale (writer->sws, src, src_stride, 0, frame->height, writer->frame->data,
             writer->frame->linesize);
  writer->frame->pts = writer->n_frames;
  ret = avcodec_send_frame (writer->enc, writer->frame);
  if (ret < 0)
    return fail_av (error, FACET_MEDIA_ERROR_IO, ret, writer->path, "the encoder failed");
  writer->n_frames++;
  return write_packets (writer, error);
}

/* Closes the output; the partial file is removed unless @keep. */
static gboolean
close_output (FacetMediaWriter *writer,
              gboolean          keep,
              GError          **error)
{
  int ret = 0;

  if (writer->oc != NULL && writer->oc->pb != NULL)
    {
      ret = avio_closep (&writer->oc->pb);
      if (!keep || ret < 0)
        g_unlink (writer->part_path);
    }
  if (keep && ret < 0)
    return fail_av (error, FACET_MEDIA_ERROR_IO, ret, writer->path, "cannot write");
  return TRUE;
}

/**
 * facet_media_writer_finish:
 *
 * Flushes the encoder, writes the index and moves the file to its name.
 * On an error the partial file is removed.
 */
gboolean
facet_media_writer_finish (FacetMediaWriter *writer,
                           GError          **error)
{
  int ret;

  g_return_val_if_fail (writer != NULL, FALSE);
  g_return_val_if_fail (!writer->finished, FALSE);

  writer->finished = TRUE;
  if (writer->n_frames == 0)
    {
      g_set_error (error, FACET_MEDIA_ERROR, FACET_MEDIA_ERROR_EMPTY,
                   "%s: no frames were added", writer->path);
      close_output (writer, FALSE, NULL);
      return FALSE;
    }
  ret = avcodec_send_frame (writer->enc, NULL);
  if ((ret < 0 && ret != AVERROR_EOF) || !write_packets (writer, ret < 0 ? NULL : error))
    {
      if (ret < 0)
        fail_av (error, FACET_MEDIA_ERROR_IO, ret, writer->path, "the encoder failed");
      close_output (writer, FALSE, NULL);
      return FALSE;
    }
  ret = av_write_trailer (writer->oc);
  if (ret < 0)
    {
      fail_av (error, FACET_MEDIA_ERROR_IO, ret, writer->path, "cannot finish the file");
      close_output (writer, FALSE, NULL);
      return FALSE;
    }
  if (!close_output (writer, TRUE, error))
    return FALSE;
  if (g_rename (writer->part_path, writer->path) != 0)
    {
      int saved = errno;

      g_set_error (error, FACET_MEDIA_ERROR, FACET_MEDIA_ERROR_IO, "%s: cannot rename %s (%s)",
                   writer->path, writer->part_path, g_strerror (saved));
      g_unlink (writer->part_path);
      return FALSE;
    }
  return TRUE;
}

/* Freeing an unfinished writer abandons the video: nothing is left behind. */
void
facet_media_writer_free (FacetMediaWriter *writer)
{
  if (writer == NULL)
    return;
  if (!writer->finished)
    close_output (writer, FALSE, NULL);
  sws_freeContext (writer->sws);
  av_frame_free (&writer->frame);
  av_packet_free (&writer->packet);
  avcodec_free_context (&writer->enc);
  if (writer->oc != NULL)
    {
      if (writer->oc->pb != NULL)
        avio_closep (&writer->oc->pb);
      avformat_free_context (writer->oc);
    }
  g_free (writer->part_path);
  g_free (writer->path);
  g_free (writer);
}
