/* common.glsl — definitions shared by Facet's compute shaders
 *
 * Storage types are chosen per variant at build time (-D defines, see
 * src/engine/vulkan/meson.build): A16/B16/D16 (or F16 for the single-type
 * shaders) store that operand as float16_t. Only storage is 16-bit; all
 * arithmetic is fp32, so the shaders need storageBuffer16BitAccess and
 * nothing more. Each descriptor covers exactly one tensor (so that the
 * synchronisation validation sees what each dispatch touches); offsets in
 * push constants are element offsets inside it (a row, an image).
 */
#if defined(F16) || defined(A16) || defined(B16) || defined(D16)
#extension GL_EXT_shader_16bit_storage : require
#endif

/* erfc(x) by the Chebyshev-fitted form t * exp(-z^2 + P(t)), t = 1/(1 + z/2),
 * fractional error below 1.2e-7: the same form as the CPU kernels use. */
float
facet_erfc (float x)
{
  float z = abs (x);
  float t = 1.0 / (1.0 + 0.5 * z);
  float poly = -1.26551223
               + t * (1.00002368
               + t * (0.37409196
               + t * (0.09678418
               + t * (-0.18628806
               + t * (0.27886807
               + t * (-1.13520398
               + t * (1.48851587
               + t * (-0.82215223
               + t * 0.17087277))))))));
  float ans = t * exp (-z * z + poly);
  return x >= 0.0 ? ans : 2.0 - ans;
}

/* GELU, exact erf form: 0.5 x erfc(-x / sqrt 2). */
float
facet_gelu (float x)
{
  return 0.5 * x * facet_erfc (-0.70710678118654752 * x);
}

/* Sigmoid written so that neither branch overflows. */
float
facet_sigmoid (float x)
{
  float e = exp (-abs (x));
  float s = 1.0 / (1.0 + e);
  return x >= 0.0 ? s : e * s;
}

/* Row index of a workgroup in a 2-D grid of row workgroups: the host splits
 * more than 65535 rows over y. */
uint
facet_row_group (void)
{
  return gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x;
}
