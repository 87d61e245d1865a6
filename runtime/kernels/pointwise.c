/* dory_pointwise_{u8s8,s8s8,any}_4x2__c: 1x1 convolution without padding (any stride) on one L1 tile.
 *
 * The receptive field of a pixel is its c_in contiguous input elements, so the matmul reads the input tile
 * directly (no im2col): 4 output channels x 2 pixels per step over the core's rows (or channels). */
#include "matmul.h"

DORY_ALWAYS_INLINE const unsigned char *pointwise_pixel(const dory_conv_args *a, int IT, int32_t p) {
  const int32_t oh = p / a->out.w, ow = p % a->out.w;
  return (const unsigned char *)a->in.data +
         (((size_t)oh * a->stride_h * a->in.w + (size_t)ow * a->stride_w) * a->in.c) * dory_dtype_bytes((uint8_t)IT);
}

DORY_ALWAYS_INLINE void pointwise_body(const dory_conv_args *a, int IT, int32_t zp) {
  const int32_t K = a->in.c;
  const dory_work wk = dory_core_work(a->split, a->out.h, a->out.c);
  const int32_t p_end = wk.r1 * a->out.w;
  int32_t p;
  const dory_mm_out o =
      dory_mm_out_make(a->bias, a->psum, &a->rq, &a->out, a->first, a->last, a->has_requant);
  if (wk.c0 >= wk.c1) return;
  for (p = wk.r0 * a->out.w; p + 1 < p_end; p += 2)
    dory_mm_2px(pointwise_pixel(a, IT, p), pointwise_pixel(a, IT, p + 1), IT, zp, a->weights, K, wk.c0, wk.c1, &o,
                p, p + 1);
  if (p < p_end) dory_mm_1px(pointwise_pixel(a, IT, p), IT, zp, a->weights, K, wk.c0, wk.c1, &o, p);
}

static void pointwise_check(const dory_conv_args *a) {
  DORY_KCHECK(dory_window_valid(&a->in, &a->out, &a->pad, a->kh, a->kw, a->stride_h, a->stride_w),
              "pointwise: inconsistent tile geometry");
  DORY_KCHECK(a->kh == 1 && a->kw == 1 && a->pad.top == 0 && a->pad.left == 0,
              "pointwise: needs a 1x1 kernel without padding (use a conv kernel)");
  DORY_KCHECK(a->weights != 0, "pointwise: missing weights");
  DORY_KCHECK(dory_mm_args_valid(a->bias, a->psum, a->first, a->last, a->has_requant, &a->rq, a->out.type),
              "pointwise: inconsistent accumulation arguments");
}

#define PW_IN_TYPE(a) ((a)->in.type)
#define PW_ZP(a) ((a)->input_zero_point)
DORY_KERNEL_8BIT(dory_pointwise_u8s8_4x2__c, dory_conv_args, pointwise_check, pointwise_body, DORY_UINT8, PW_IN_TYPE,
                 PW_ZP)
DORY_KERNEL_8BIT(dory_pointwise_s8s8_4x2__c, dory_conv_args, pointwise_check, pointwise_body, DORY_INT8, PW_IN_TYPE,
                 PW_ZP)
DORY_KERNEL_ANY(dory_pointwise_any_4x2__c, dory_conv_args, pointwise_check, pointwise_body, PW_IN_TYPE, PW_ZP)

/* The portable twin of dory_pointwise_u8s8_4x4__xpulpv2 (no scratch used). */
DORY_KERNEL_8BIT(dory_pointwise_u8s8_4x4__c, dory_conv_args, pointwise_check, pointwise_body, DORY_UINT8, PW_IN_TYPE,
                 PW_ZP)
