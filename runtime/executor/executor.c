/* The executor of dory/layer.h on a platform: the schedule (schedule.c) driven by the HAL's DMA and barrier, each
 * computation a kernel call with arguments built from the layer's constants and the tile's extent and copies. */
#include <stddef.h>

#include "dory/hal.h"
#include "dory/kernels.h"
#include "dory/layer.h"

static int32_t g_skip_wait = -1;

void dory_layer_inject_skip_wait(int32_t wait_index) { g_skip_wait = wait_index; }

static uint8_t *buf_ptr(const dory_layer *L, uint8_t *l1, uint8_t role, int operand, uint8_t copy) {
  const dory_l1_buffer *b = dory_layer_l1_buffer(L, role, operand);
  return b ? l1 + b->offset[copy] : NULL;
}

static dory_tile in_tile(const dory_layer *L, const dory_tile_extent *e, uint8_t *l1, const dory_tile_copies *c,
                         int k) {
  dory_tile t;
  t.data = buf_ptr(L, l1, DORY_BUF_INPUT, k, c->in[k]);
  t.h = e->h_in;
  t.w = e->w_in;
  t.c = e->c_in;
  t.type = L->in[k].type;
  return t;
}

void dory_layer_compute(const dory_layer *L, const dory_tile_extent *e, const dory_tile_copies *c, uint8_t *l1) {
  dory_tile out;
  dory_pad pad = e->pad;
  dory_requant_args rq = L->rq;
  int k;
  out.data = buf_ptr(L, l1, DORY_BUF_OUTPUT, 0, c->out);
  out.h = e->h_out;
  out.w = e->w_out;
  out.c = e->c_out;
  out.type = L->out.type;
  rq.channel_params = buf_ptr(L, l1, DORY_BUF_REQUANT, 0, c->requant);

  switch (L->kind) {
    case DORY_LAYER_CONV:
    case DORY_LAYER_POINTWISE:
    case DORY_LAYER_DEPTHWISE: {
      dory_conv_args a;
      a.in = in_tile(L, e, l1, c, 0);
      a.out = out;
      a.pad = pad;
      a.kh = L->kh;
      a.kw = L->kw;
      a.stride_h = L->stride_h;
      a.stride_w = L->stride_w;
      a.weights = (const int8_t *)buf_ptr(L, l1, DORY_BUF_WEIGHTS, 0, c->weights);
      a.bias = (const int32_t *)buf_ptr(L, l1, DORY_BUF_BIAS, 0, c->bias);
      a.input_zero_point = L->input_zero_point;
      a.has_requant = L->has_requant;
      a.rq = rq;
      a.psum = (int32_t *)buf_ptr(L, l1, DORY_BUF_PSUM, 0, 0);
      a.first = e->first;
      a.last = e->last;
      a.im2col = buf_ptr(L, l1, DORY_BUF_IM2COL, 0, 0);
      a.im2col_bytes = L->l1_im2col.copies ? L->l1_im2col.bytes : 0u;
      a.im2col_pixels = L->pixel_block;
      a.split = L->split;
      if (L->kind == DORY_LAYER_CONV)
        dory_conv_hwc(&a);
      else if (L->kind == DORY_LAYER_POINTWISE)
        dory_pointwise_hwc(&a);
      else
        dory_depthwise_hwc(&a);
      break;
    }
    case DORY_LAYER_FC: {
      dory_fc_args a;
      a.in = in_tile(L, e, l1, c, 0);
      a.in.h = a.in.w = 1;
      a.out = out;
      a.weights = (const int8_t *)buf_ptr(L, l1, DORY_BUF_WEIGHTS, 0, c->weights);
      a.bias = (const int32_t *)buf_ptr(L, l1, DORY_BUF_BIAS, 0, c->bias);
      a.input_zero_point = L->input_zero_point;
      a.has_requant = L->has_requant;
      a.rq = rq;
      a.psum = (int32_t *)buf_ptr(L, l1, DORY_BUF_PSUM, 0, 0);
      a.first = e->first;
      a.last = e->last;
      a.split = L->split;
      dory_fc_vec(&a);
      break;
    }
    case DORY_LAYER_MAXPOOL: {
      dory_maxpool_args a;
      a.in = in_tile(L, e, l1, c, 0);
      a.out = out;
      a.pad = pad;
      a.kh = L->kh;
      a.kw = L->kw;
      a.stride_h = L->stride_h;
      a.stride_w = L->stride_w;
      a.has_pad_value = L->has_pad_value;
      a.pad_value = L->pad_value;
      a.split = L->split;
      dory_maxpool_hwc(&a);
      break;
    }
    case DORY_LAYER_AVGPOOL: {
      dory_avgpool_args a;
      a.in = in_tile(L, e, l1, c, 0);
      a.out = out;
      a.pad = pad;
      a.kh = L->kh;
      a.kw = L->kw;
      a.stride_h = L->stride_h;
      a.stride_w = L->stride_w;
      a.input_zero_point = L->input_zero_point;
      a.pad_value = L->pad_value;
      a.count_include_pad = L->count_include_pad;
      a.rq = rq;
      a.count_div = L->count_div;
      a.count_div_first = L->count_div_first;
      a.count_div_len = L->count_div_len;
      a.split = L->split;
      dory_avgpool_hwc(&a);
      break;
    }
    case DORY_LAYER_ADD: {
      dory_add_args a;
      for (k = 0; k < DORY_ADD_MAX_OPERANDS; ++k) {
        a.op[k] = L->add_op[k];
        if (k < L->n_inputs) a.op[k].in = in_tile(L, e, l1, c, k);
      }
      a.n_operands = L->n_inputs;
      a.rq = rq;
      a.out = out;
      a.split = L->split;
      dory_add_hwc(&a);
      break;
    }
    case DORY_LAYER_REQUANTIZE: {
      dory_requantize_args a;
      a.in = in_tile(L, e, l1, c, 0);
      a.out = out;
      a.input_zero_point = L->input_zero_point;
      a.rq = rq;
      a.split = L->split;
      dory_requantize_hwc(&a);
      break;
    }
    default:
      dory_panic("executor: unknown layer kind");
  }
}

/* ---- the HAL-driven schedule ------------------------------------------------------------------------------- */

static dory_dma_job hal_start(void *ctx, const dory_dma_desc *desc, const dory_scheduled_transfer *x) {
  (void)ctx;
  (void)x;
  return dory_dma_start(desc);
}

static void hal_wait(void *ctx, dory_dma_job job) {
  (void)ctx;
  dory_dma_wait(job);
}

static void hal_compute(void *ctx, const dory_layer *L, const dory_tile_extent *e, const dory_tile_copies *c) {
  (void)ctx;
  dory_layer_compute(L, e, c, (uint8_t *)dory_l1_base());
}

static void hal_barrier(void *ctx) {
  (void)ctx;
  dory_barrier();
}

typedef struct {
  const dory_layer *L;
  int32_t skip_wait;
} run_args;

static void layer_task(void *arg) {
  const run_args *r = (const run_args *)arg;
  dory_schedule_ops ops;
  ops.ctx = NULL;
  ops.dma_start = hal_start;
  ops.dma_wait = hal_wait;
  ops.compute = hal_compute;
  ops.barrier = hal_barrier;
  ops.skip_wait = r->skip_wait;
  dory_layer_schedule(r->L, dory_core_id(), (uint8_t *)dory_l1_base(), (uint8_t *)dory_l2_base(), &ops);
}

void dory_layer_run(const dory_layer *L) {
  run_args r;
  r.L = L;
  r.skip_wait = g_skip_wait;
  g_skip_wait = -1;
  dory_cluster_run(layer_task, &r);
}
