/* The L1 scratch of the portable kernels (registry.json "scratch"): pure C, no HAL, compiled into the runtime
 * AND into the compiler, whose L1 layout reserves exactly what these return (src/tiler/l1_layout.h), so that
 * what the tiler checked is what the kernels use. */
#include "dory/kernels.h"

uint32_t dory_conv_4x2_im2col_scratch_bytes(const dory_kernel_shape *s) {
  /* one slice per core of 2 pixels x kh x kw x c_in input elements (kernels/conv.c, CONV_PIXELS) */
  return (uint32_t)s->cores * 2u * (uint32_t)s->kh * (uint32_t)s->kw * (uint32_t)s->c_in *
         (uint32_t)dory_dtype_bytes(s->in_type);
}
