#version 450
/* matmul.comp — product with a fused epilogue
 *
 *   D[z][m, n] = act (A[z][m, k] W[n, k]^T + bias[n]) + R[z][m, n]
 *
 * (or + D itself, FACET_MATMUL_ACCUMULATE: a residual connection in place; R and D
 * are never bound to the same memory, which the synchronisation validation
 * would rightly call a hazard)
 *
 * W is a Linear weight as PyTorch stores it ([out, in]), so both operands are
 * read along k. z batches independent products (the per-AU maps).
 *
 * Two kernels, chosen per device by the host:
 *  - tiled (GPUs): a 256-invocation workgroup computes a (16 TILE)^2 block
 *    of D, each invocation TILE x TILE outputs strided by 16 (coalesced
 *    stores, broadcast reads of the A tile); tiles of A and W pass through
 *    shared memory in steps of 16 along k.
 *  - DIRECT (CPU drivers such as lavapipe, where shared memory and barriers
 *    are slow and every load costs a loop over the SIMD lanes): no shared
 *    memory; each invocation keeps DM x DN outputs in registers and reads
 *    A and W as vec4 along k (FACET_MATMUL_VEC4, when k and the offsets allow),
 *    so that each load feeds as many multiply-adds as possible.
 *
 * IM2COL (the patch embedding): A is the fp32 image batch [b, 3, S, S] read as
 * patches on the fly, and with out_tokens > 0 row r = (image, patch) goes to
 * token row image * out_tokens + patch + 1 with the position embedding added
 * (R is then the position table, broadcast over images).
 */
#include "common.glsl"

#ifndef TILE
#define TILE 4
#endif
#define BM (16 * TILE)
#define BN (16 * TILE)
#define BK 16
#define DM 8
#define DN 4

#ifdef A16
#define A_T float16_t
#define A4_T f16vec4
#else
#define A_T float
#define A4_T vec4
#endif
#ifdef B16
#define B_T float16_t
#define B4_T f16vec4
#else
#define B_T float
#define B4_T vec4
#endif
#ifdef D16
#define D_T float16_t
#else
#define D_T float
#endif
#ifdef IM2COL
#define R_T B_T
#else
#define R_T D_T
#endif

#ifdef DIRECT
layout (local_size_x = 64) in;
#else
layout (local_size_x = 256) in;
#endif

layout (binding = 0) readonly buffer ABuf { A_T a[]; };
layout (binding = 1) readonly buffer BBuf { B_T w[]; };
layout (binding = 2) readonly buffer BiasBuf { B_T bias[]; };
layout (binding = 3) readonly buffer RBuf { R_T res[]; };
layout (binding = 4) buffer DBuf { D_T d[]; };
#ifdef DIRECT
/* The same buffers read four elements at a time. */
layout (binding = 0) readonly buffer A4Buf { A4_T a4[]; };
layout (binding = 1) readonly buffer B4Buf { B4_T w4[]; };
#endif

#define FACET_PUSH_MATMUL
#include "push-constants.h"

#ifndef DIRECT
shared float as[BK][BM];
shared float bs[BK][BN];
#endif

float
load_a (uint z,
        uint row,
        uint col)
{
#ifdef IM2COL
  uint np = p.grid * p.grid;
  uint img = row / np, pi = row % np;
  uint py = pi / p.grid, px = pi % p.grid;
  uint pp = p.psize * p.psize;
  uint c = col / pp, rem = col % pp;
  uint ky = rem / p.psize, kx = rem % p.psize;
  return float (a[p.a_off + ((img * 3u + c) * p.image + py * p.psize + ky) * p.image
                  + px * p.psize + kx]);
#else
  return float (a[p.a_off + z * p.a_zstride + row * p.lda + col]);
#endif
}

/* The epilogue of one output element. */
void
store (uint  z,
       uint  row,
       uint  col,
       float v)
{
  uint drow = row, rrow = row;

#ifdef IM2COL
  if (p.out_tokens > 0u)
    {
      uint np = p.grid * p.grid;
      drow = (row / np) * p.out_tokens + row % np + 1u;
      rrow = row % np + 1u;
    }
#endif
  if ((p.flags & FACET_MATMUL_BIAS) != 0u)
    v += float (bias[p.bias_off + col]);
  if ((p.flags & FACET_MATMUL_GELU) != 0u)
    v = facet_gelu (v);
  if ((p.flags & FACET_MATMUL_RESIDUAL) != 0u)
#ifdef IM2COL
    v += float (res[p.r_off + rrow * p.ldr + col]);
#else
    v += float (res[p.r_off + z * p.r_zstride + rrow * p.ldr + col]);
#endif
  /* the residual connection in place: D += ... */
  if ((p.flags & FACET_MATMUL_ACCUMULATE) != 0u)
    v += float (d[p.d_off + z * p.d_zstride + drow * p.ldd + col]);
  d[p.d_off + z * p.d_zstride + drow * p.ldd + col] = D_T (v);
}

#ifdef DIRECT

void
main ()
{
  uint lid = gl_LocalInvocationID.x;
  uint z = gl_WorkGroupID.z;
  uint row0 = gl_WorkGroupID.y * DM, col0 = gl_WorkGroupID.x * (64u * DN);
  float acc[DM][DN];
  uint wrow[DN];
  bool colok[DN];

  for (uint j = 0; j < DN; j++)
    {
      uint col = col0 + lid + 64u * j;
      colok[j] = col < p.n;
      wrow[j] = p.b_off + min (col, p.n - 1u) * p.k;
      for (uint i = 0; i < DM; i++)
        acc[i][j] = 0.0;
    }

#ifndef IM2COL
  if ((p.flags & FACET_MATMUL_VEC4) != 0u)
    {
      uint abase = (p.a_off + z * p.a_zstride) / 4u, lda4 = p.lda / 4u;
      for (uint k4 = 0; k4 < p.k / 4u; k4++)
        {
          vec4 bv[DN];
          for (uint j = 0; j < DN; j++)
            bv[j] = colok[j] ? vec4 (w4[wrow[j] / 4u + k4]) : vec4 (0.0);
          for (uint i = 0; i < DM; i++)
            {
              vec4 av = row0 + i < p.m ? vec4 (a4[abase + (row0 + i) * lda4 + k4]) : vec4 (0.0);
              for (uint j = 0; j < DN; j++)
                acc[i][j] = fma (av.w, bv[j].w, fma (av.z, bv[j].z,
                                 fma (av.y, bv[j].y, fma (av.x, bv[j].x, acc[i][j]))));
            }
        }
    }
  else
#endif
    for (uint kk = 0; kk < p.k; kk++)
      {
        float bv[DN];
        for (uint j = 0; j < DN; j++)
          bv[j] = colok[j] ? float (w[wrow[j] + kk]) : 0.0;
        for (uint i = 0; i < DM; i++)
          {
            float av = row0 + i < p.m ? load_a (z, row0 + i, kk) : 0.0;
            for (uint j = 0; j < DN; j++)
              acc[i][j] = fma (av, bv[j], acc[i][j]);
          }
      }

  for (uint i = 0; i < DM; i++)
    if (row0 + i < p.m)
      for (uint j = 0; j < DN; j++)
        if (colok[j])
          store (z, row0 + i, col0 + lid + 64u * j, acc[i][j]);
}

#else

void
main ()
{
  uint lid = gl_LocalInvocationID.x;
  uint tx = lid % 16u, ty = lid / 16u;
  uint z = gl_WorkGroupID.z;
  uint row0 = gl_WorkGroupID.y * BM, col0 = gl_WorkGroupID.x * BN;
  float acc[TILE][TILE];

  for (uint i = 0; i < TILE; i++)
    for (uint j = 0; j < TILE; j++)
      acc[i][j] = 0.0;

  for (uint k0 = 0; k0 < p.k; k0 += BK)
    {
      for (uint e = lid; e < BM * BK; e += 256u)
        {
          uint r = e / BK, kk = e % BK;
          uint gr = row0 + r, gk = k0 + kk;
          as[kk][r] = (gr < p.m && gk < p.k) ? load_a (z, gr, gk) : 0.0;
        }
      for (uint e = lid; e < BN * BK; e += 256u)
        {
          uint c = e / BK, kk = e % BK;
          uint gc = col0 + c, gk = k0 + kk;
          bs[kk][c] = (gc < p.n && gk < p.k) ? float (w[p.b_off + gc * p.k + gk]) : 0.0;
        }
      barrier ();
      for (uint kk = 0; kk < BK; kk++)
        {
          float av[TILE], bv[TILE];
          for (uint i = 0; i < TILE; i++)
            av[i] = as[kk][ty + 16u * i];
          for (uint j = 0; j < TILE; j++)
            bv[j] = bs[kk][tx + 16u * j];
          for (uint i = 0; i < TILE; i++)
            for (uint j = 0; j < TILE; j++)
              acc[i][j] = fma (av[i], bv[j], acc[i][j]);
        }
      barrier ();
    }

  for (uint i = 0; i < TILE; i++)
    {
      uint row = row0 + ty + 16u * i;
      if (row >= p.m)
        continue;
      for (uint j = 0; j < TILE; j++)
        {
          uint col = col0 + tx + 16u * j;
          if (col < p.n)
            store (z, row, col, acc[i][j]);
        }
    }
}

#endif
