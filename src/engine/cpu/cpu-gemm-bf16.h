/* cpu-gemm-bf16.h — bf16 matrix products of the CPU backend (AVX512-BF16)
 *
 * Weights are rounded to bf16 once and packed in panels the micro-kernel
 * streams; activations are rounded on the fly; every product accumulates in
 * fp32. Only used where the processor has the vdpbf16ps instruction.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* A weight [n, k] (PyTorch's Linear layout), rounded to bf16 and packed. */
typedef struct _FacetBf16Weight FacetBf16Weight;

enum
{
  FACET_BF16_BIAS       = 1 << 0,
  FACET_BF16_GELU       = 1 << 1, /* gelu(x w^T + bias) */
  FACET_BF16_ACCUMULATE = 1 << 2, /* y += ... (residual connections) */
  FACET_BF16_KEEP_PRE   = 1 << 3, /* with GELU: aux = x w^T + bias, GELU's input */
  FACET_BF16_GELU_GRAD  = 1 << 4, /* y = (x w^T) * gelu'(aux) */
};

gboolean         facet_cpu_bf16_available  (void);
double           facet_cpu_bf16_peak_gflops (guint                 threads);
guint16          facet_cpu_float_to_bf16   (float                  x);
float            facet_cpu_bf16_to_float   (guint16                x);

FacetBf16Weight *facet_bf16_weight_new     (const float           *w,
                                            int                    n,
                                            int                    k);
FacetBf16Weight *facet_bf16_weight_new_transposed (const float *w,
                                                   int          n,
                                                   int          k);
void             facet_bf16_weight_update  (FacetBf16Weight       *weight,
                                            const float           *w);
void             facet_bf16_weight_free    (FacetBf16Weight       *weight);
int              facet_bf16_weight_get_n   (const FacetBf16Weight *weight);
int              facet_bf16_weight_get_k   (const FacetBf16Weight *weight);

void             facet_cpu_linear_bf16     (const float           *x,
                                            const FacetBf16Weight *w,
                                            const float           *bias,
                                            float                 *y,
                                            int                    m,
                                            guint                  flags);

void             facet_cpu_linear_bf16_aux (const float           *x,
                                            const FacetBf16Weight *w,
                                            const float           *bias,
                                            float                 *y,
                                            float                 *aux,
                                            int                    m,
                                            guint                  flags);
void             facet_cpu_weight_grad_bf16 (const float          *dy,
                                             const float          *x,
                                             int                   m,
                                             int                   n,
                                             int                   k,
                                             float                *dw,
                                             float                *db);

void             facet_cpu_attention_head_bf16 (const float *q,
                                                const float *k,
                                                const float *v,
                                                gsize        ld,
                                                int          tokens,
                                                int          dh,
                                                float        scale,
                                                float       *s,
                                                float       *o,
                                                gsize        ldo);

void             facet_cpu_attention_head_backward_bf16 (const float *q,
                                                         const float *k,
                                                         const float *v,
                                                         gsize        ld,
                                                         const float *probs,
                                                         const float *dout,
                                                         gsize        ldo,
                                                         int          tokens,
                                                         int          dh,
                                                         float        scale,
                                                         float       *ds,
                                                         float       *dq,
                                                         float       *dk,
                                                         float       *dv);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (FacetBf16Weight, facet_bf16_weight_free)

G_END_DECLS
