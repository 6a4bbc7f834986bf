/* bench/gemm-bf16 — the bf16 product on the ViT-B/16 shapes against fp32
 * OpenBLAS (split over the same worker pool), next to the processor's bf16
 * peak measured in the same run (a loop of independent vdpbf16ps on
 * registers, on every thread). Median of interleaved repetitions. */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <time.h>

#include "core/core-pool.h"
#include "core/facet-core.h"
#include "engine/cpu/cpu-backend.h"
#include "engine/cpu/cpu-gemm-bf16.h"

/* CPU seconds of the whole process (all threads): on a machine shared with
 * other work, GFLOP per CPU-second is what the code does when it runs. */
static double
cpu_now (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int
compare_double (gconstpointer a,
                gconstpointer b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return (x > y) - (x < y);
}

static double
median (double *v,
        int     n)
{
  qsort (v, (gsize) n, sizeof (double), (int (*) (const void *, const void *)) compare_double);
  return v[n / 2];
}

/* The two products of a training step's backward at batch 8, bf16 only:
 * dx = dy w (the weight packed transposed) and dw += dy^T x. */
static void
train_products (double core_peak,
                int    reps)
{
  static const struct { const char *name; int n, k; } shapes[] = {
    { "qkv", 2304, 768 }, { "proj", 768, 768 }, { "fc1", 3072, 768 }, { "fc2", 768, 3072 },
  };
  int m = 197 * 8;

  printf ("\nbackward products at batch 8 (bf16): dx = dy w, dw += dy^T x\n");
  printf ("%-5s %6s %6s %10s %9s %8s %10s %9s %8s\n", "op", "n", "k", "dx GF/s", "dx/core",
          "of peak", "dw GF/s", "dw/core", "of peak");
  for (guint s = 0; s < G_N_ELEMENTS (shapes); s++)
    {
      int n = shapes[s].n, k = shapes[s].k;
      g_autofree float *x = g_new (float, (gsize) m * k);
      g_autofree float *w = g_new (float, (gsize) n * k);
      g_autofree float *dy = g_new (float, (gsize) m * n);
      g_autofree float *dx = g_new (float, (gsize) m * k);
      g_autofree float *dw = g_new0 (float, (gsize) n * k);
      g_autoptr (FacetBf16Weight) wt = NULL;
      double tx[16], cx[16], tw[16], cw[16], flops = 2.0 * m * n * k;
      FacetRng rng;

      facet_rng_init (&rng, 2);
      for (gsize i = 0; i < (gsize) m * k; i++)
        x[i] = (float) facet_rng_normal (&rng);
      for (gsize i = 0; i < (gsize) m * n; i++)
        dy[i] = (float) facet_rng_normal (&rng);
      for (gsize i = 0; i < (gsize) n * k; i++)
        w[i] = (float) facet_rng_normal (&rng) * 0.03f;
      wt = facet_bf16_weight_new_transposed (w, n, k);
      facet_cpu_linear_bf16 (dy, wt, NULL, dx, m, 0);
      facet_cpu_weight_grad_bf16 (dy, x, m, n, k, dw, NULL);
      for (int r = 0; r < reps; r++)
        {
          double t0 = facet_now (), c0 = cpu_now ();
          facet_cpu_linear_bf16 (dy, wt, NULL, dx, m, 0);
          tx[r] = facet_now () - t0;
          cx[r] = cpu_now () - c0;
          t0 = facet_now ();
          c0 = cpu_now ();
          facet_cpu_weight_grad_bf16 (dy, x, m, n, k, dw, NULL);
          tw[r] = facet_now () - t0;
          cw[r] = cpu_now () - c0;
        }
      {
        double gx = flops / median (tx, reps) / 1e9, gw = flops / median (tw, reps) / 1e9;
        double core_x = flops / median (cx, reps) / 1e9, core_w = flops / median (cw, reps) / 1e9;
        printf ("%-5s %6d %6d %10.1f %9.1f %7.0f%% %10.1f %9.1f %7.0f%%\n", shapes[s].name, n, k,
                gx, core_x, 100.0 * core_x / core_peak, gw, core_w, 100.0 * core_w / core_peak);
      }
    }
}

int
main (void)
{
  static const struct { const char *name; int n, k; } shapes[] = {
    { "qkv", 2304, 768 }, { "proj", 768, 768 }, { "fc1", 3072, 768 }, { "fc2", 768, 3072 },
  };
  static const int batches[] = { 1, 8 };
  int reps = 7;
  guint threads = facet_parallel_get_threads ();
  double peak;

  if (!facet_cpu_bf16_available ())
    {
      printf ("gemm-bf16: this processor has no AVX512-BF16; nothing to measure\n");
      return 77;
    }
  peak = facet_cpu_bf16_peak_gflops (threads);
  printf ("bf16 products vs fp32 OpenBLAS, %u threads; measured vdpbf16ps peak %.0f GFLOP/s "
          "(%.0f a core), median of %d interleaved runs.\nGF/s: wall clock; /core: per CPU-second "
          "(what the code does while it runs, on a shared machine); of peak: /core against the "
          "core's peak\n", threads, peak, peak / threads, reps);
  printf ("%-5s %5s %6s %6s %10s %10s %7s %9s %9s %8s %9s\n", "op", "batch", "n", "k",
          "bf16 GF/s", "fp32 GF/s", "ratio", "bf16/core", "fp32/core", "of peak", "max |err|");
  for (guint bi = 0; bi < G_N_ELEMENTS (batches); bi++)
    for (guint s = 0; s < G_N_ELEMENTS (shapes); s++)
      {
        int m = 197 * batches[bi], n = shapes[s].n, k = shapes[s].k;
        g_autofree float *x = g_new (float, (gsize) m * k);
        g_autofree float *w = g_new (float, (gsize) n * k);
        g_autofree float *bias = g_new0 (float, n);
        g_autofree float *y = g_new (float, (gsize) m * n);
        g_autofree float *y32 = g_new (float, (gsize) m * n);
        g_autoptr (FacetBf16Weight) packed = NULL;
        double err = 0.0;
        double tb[16], tf[16], cb[16], cf[16], flops = 2.0 * m * n * k;
        FacetRng rng;

        facet_rng_init (&rng, 1);
        for (gsize i = 0; i < (gsize) m * k; i++)
          x[i] = (float) facet_rng_normal (&rng);
        for (gsize i = 0; i < (gsize) n * k; i++)
          w[i] = (float) facet_rng_normal (&rng) * 0.03f;
        packed = facet_bf16_weight_new (w, n, k);
        facet_cpu_linear_bf16 (x, packed, bias, y, m, FACET_BF16_BIAS);
        facet_cpu_linear (x, w, bias, y32, m, n, k, FALSE);
        for (gsize i = 0; i < (gsize) m * n; i++)
          err = MAX (err, fabs (y[i] - y32[i]));
        for (int r = 0; r < reps; r++)
          {
            double t0 = facet_now (), c0 = cpu_now ();
            facet_cpu_linear_bf16 (x, packed, bias, y, m, FACET_BF16_BIAS);
            tb[r] = facet_now () - t0;
            cb[r] = cpu_now () - c0;
            t0 = facet_now ();
            c0 = cpu_now ();
            facet_cpu_linear (x, w, bias, y, m, n, k, FALSE);
            tf[r] = facet_now () - t0;
            cf[r] = cpu_now () - c0;
          }
        {
          double gb = flops / median (tb, reps) / 1e9, gf = flops / median (tf, reps) / 1e9;
          double core_b = flops / median (cb, reps) / 1e9, core_f = flops / median (cf, reps) / 1e9;
          printf ("%-5s %5d %6d %6d %10.1f %10.1f %6.2fx %9.1f %9.1f %7.0f%% %9.4f\n",
                  shapes[s].name, batches[bi], n, k, gb, gf, gb / gf, core_b, core_f,
                  100.0 * core_b / (peak / threads), err);
        }
      }
  train_products (peak / threads, reps);
  return 0;
}
