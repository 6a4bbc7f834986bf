/* cpu-kernels.h — vectorised elementwise and row kernels of the CPU backend
 *
 * Compiled with -O3 in their own library and cloned for AVX-512, AVX2 and
 * the baseline, chosen at run time. Matrix products go to OpenBLAS; these
 * are the passes between them, fused where a pass over memory can be saved.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

float facet_cpu_expf        (float        x);
float facet_cpu_erfcf       (float        x);
float facet_cpu_gelu1       (float        x);

void  facet_cpu_gelu        (const float *x,
                             float       *y,
                             gsize        n);
void  facet_cpu_bias_gelu   (float       *y,
                             const float *bias,
                             gsize        m,
                             gsize        n);
void  facet_cpu_add_bias    (float       *y,
                             const float *bias,
                             gsize        m,
                             gsize        n);
void  facet_cpu_add         (const float *a,
                             const float *b,
                             float       *y,
                             gsize        n);
void  facet_cpu_sigmoid     (const float *x,
                             float       *y,
                             gsize        n);
void  facet_cpu_softmax_rows (float      *x,
                             gsize        m,
                             gsize        n,
                             gsize        stride,
                             float        alpha);
void  facet_cpu_layer_norm  (const float *x,
                             float       *y,
                             gsize        m,
                             gsize        n,
                             const float *gamma,
                             const float *beta,
                             float        eps,
                             float       *mean_out,
                             float       *rstd_out);

float facet_cpu_gelu_grad1  (float        x);
void  facet_cpu_gelu_backward (const float *pre,
                             const float *dy,
                             float       *dx,
                             gsize        n);
void  facet_cpu_layer_norm_backward_dx (const float *x,
                                        const float *dy,
                                        const float *gamma,
                                        const float *mean,
                                        const float *rstd,
                                        gsize        m,
                                        gsize        n,
                                        float       *dx);
void  facet_cpu_layer_norm_backward_params (const float *x,
                                            const float *dy,
                                            const float *mean,
                                            const float *rstd,
                                            gsize        m,
                                            gsize        n,
                                            gsize        c0,
                                            gsize        c1,
                                            float       *dgamma,
                                            float       *dbeta);
void  facet_cpu_col_sum     (const float *y,
                             gsize        m,
                             gsize        n,
                             gsize        c0,
                             gsize        c1,
                             float       *out);

G_END_DECLS
