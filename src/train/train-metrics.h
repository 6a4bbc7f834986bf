/* train-metrics.h — F1, thresholds, ROC AUC and the identity linear probe
 *
 * Threads: plain functions of their arguments, reentrant; any thread.
 * Ownership: inputs are borrowed for the call; output arrays (@per_au:
 * [n_aus]) and scalars (@mean_f1, @chance) are the caller's, and may be
 * NULL where it says so.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* probs and targets are [n, n_aus]; targets < 0 are not labelled. */
double facet_metrics_f1          (const float *probs,
                                  const float *targets,
                                  gsize        n,
                                  int          n_aus,
                                  int          au,
                                  double       threshold);
double facet_metrics_mean_f1     (const float *probs,
                                  const float *targets,
                                  gsize        n,
                                  int          n_aus,
                                  const double *thresholds,
                                  double      *per_au);
double facet_metrics_best_common_threshold (const float *probs,
                                            const float *targets,
                                            gsize        n,
                                            int          n_aus,
                                            double      *mean_f1);
double facet_metrics_best_threshold (const float *probs,
                                     const float *targets,
                                     gsize        n,
                                     int          n_aus,
                                     int          au);
/* The same, maximising the mean over @subjects ([n]) of the AU's F1. */
double facet_metrics_best_threshold_by_subject (const float *probs,
                                                const float *targets,
                                                const int   *subjects,
                                                gsize        n,
                                                int          n_aus,
                                                int          au);
double facet_metrics_auc         (const float *probs,
                                  const float *targets,
                                  gsize        n,
                                  int          n_aus,
                                  int          au);
/* Identity linear probe: a softmax classifier on frozen features of the
 * given subjects, split in time: fitted on the first 70 % of each subject's
 * frames (in the order given, which must be time order), tested on the last
 * 30 % less a gap of 5 % (at least one frame) between the two. Subjects
 * with fewer than 4 frames are left out. Returns the test accuracy, or a
 * negative value when fewer than two subjects have enough frames; @chance
 * (may be NULL) receives the accuracy of always guessing the test frames'
 * most frequent subject. */
double facet_metrics_identity_probe (const float *features,
                                     gsize        n,
                                     int          dim,
                                     const int   *subjects,
                                     double      *chance);

G_END_DECLS
