/* The executor of dory/layer.h on a platform: the schedule (schedule.c) driven by the HAL's DMA and barrier, each
 * computation a kernel call with arguments built from the layer's constants and the tile's extent and copies; and
 * the L2-direct execution, the same kernel call once on the whole layer with its operands in L2. */
#include <stddef.h>

#include "dory/hal.h"
#include "dory/kernels.h"
#include "dory/layer.h"

static int32_t g_skip_wait = -1;

void dory_layer_inject_skip_wait(int32_t wait_index) { g_skip_wait = wait_index; }

/* Where a kernel call finds its operands: L1 buffer copies (tiled) or the tensors in L2 (L2-direct). */
typedef struct {
  uint8_t *in[DORY_LAYER_MAX_INPUTS];
  uint8_t *weights, *bias, *requant, *out, *psum, *scratch;
  uint32_t scratch_bytes;
} operands;

static uint8_t *buf_ptr(const dory_layer *L, uint8_t *l1, uint8_t role, int operand, uint8_t copy) {
  const dory_l1_buffer *b = dory_layer_l1_buffer(L, role, operand);
  return b ? l1 + b->offset[copy] : NULL;
}

static dory_tile in_tile(const dory_layer *L, const dory_tile_extent *e, const operands *p, int k) {
  dory_tile t;
  t.data = p->in[k];
  t.h = e->h_in;
  t.w = e->w_in;
  t.c = e->c_in;
  t.type = L->in[k].type;
  return t;
}

/* One kernel call: tile e of L on the operands p (every core calls it; each computes its share). */
static void compute_on(const dory_layer *L, const dory_tile_extent *e, const operands *p) {
  dory_tile out;
  dory_pad pad = e->pad;
  dory_requant_args rq = L->rq;
  int k;
  out.data = p->out;
  out.h = e->h_out;
  out.w = e->w_out;
  out.c = e->c_out;
  out.type = L->out.type;
  rq.channel_params = p->requant;

  switch (L->kind) {
    case DORY_LAYER_CONV:
    case DORY_LAYER_POINTWISE:
    case DORY_LAYER_DEPTHWISE: {
      dory_conv_args a;
      a.in = in_tile(L, e, p, 0);
      a.out = out;
      a.pad = pad;
      a.kh = L->kh;
      a.kw = L->kw;
      a.stride_h = L->stride_h;
      a.stride_w = L->stride_w;
      a.weights = (const int8_t *)p->weights;
      a.bias = (const int32_t *)p->bias;
      a.input_zero_point = L->input_zero_point;
      a.has_requant = L->has_requant;
      a.rq = rq;
      a.psum = (int32_t *)p->psum;
      a.first = e->first;
      a.last = e->last;
      a.scratch = p->scratch;
      a.scratch_bytes = p->scratch_bytes;
      a.split = L->split;
      L->kernel.conv(&a);
      break;
    }
    case DORY_LAYER_FC: {
      dory_fc_args a;
      a.in = in_tile(L, e, p, 0);
      a.in.h = a.in.w = 1;
      a.out = out;
      a.weights = (const int8_t *)p->weights;
      a.bias = (const int32_t *)p->bias;
      a.input_zero_point = L->input_zero_point;
      a.has_requant = L->has_requant;
      a.rq = rq;
      a.psum = (int32_t *)p->psum;
      a.first = e->first;
      a.last = e->last;
      a.split = L->split;
      L->kernel.fc(&a);
      break;
    }
    case DORY_LAYER_MAXPOOL: {
      dory_maxpool_args a;
      a.in = in_tile(L, e, p, 0);
      a.out = out;
      a.pad = pad;
      a.kh = L->kh;
      a.kw = L->kw;
      a.stride_h = L->stride_h;
      a.stride_w = L->stride_w;
      a.has_pad_value = L->has_pad_value;
      a.pad_value = L->pad_value;
      a.split = L->split;
      L->kernel.maxpool(&a);
      break;
    }
    case DORY_LAYER_AVGPOOL: {
      dory_avgpool_args a;
      a.in = in_tile(L, e, p, 0);
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
      L->kernel.avgpool(&a);
      break;
    }
    case DORY_LAYER_ADD: {
      dory_add_args a;
      for (k = 0; k < DORY_ADD_MAX_OPERANDS; ++k) {
        a.op[k] = L->add_op[k];
        if (k < L->n_inputs) a.op[k].in = in_tile(L, e, p, k);
      }
      a.n_operands = L->n_inputs;
      a.rq = rq;
      a.out = out;
      a.split = L->split;
      L->kernel.add(&a);
      break;
    }
    case DORY_LAYER_REQUANTIZE: {
      dory_requantize_args a;
      a.in = in_tile(L, e, p, 0);
      a.out = out;
      a.input_zero_point = L->input_zero_point;
      a.rq = rq;
      a.split = L->split;
      L->kernel.requantize(&a);
      break;
    }
    default:
      dory_panic("executor: unknown layer kind");
  }
}

void dory_layer_compute(const dory_layer *L, const dory_tile_extent *e, const dory_tile_copies *c, uint8_t *l1) {
  operands p;
  int k;
  for (k = 0; k < DORY_LAYER_MAX_INPUTS; ++k)
    p.in[k] = k < L->n_inputs ? buf_ptr(L, l1, DORY_BUF_INPUT, k, c->in[k]) : NULL;
  p.weights = buf_ptr(L, l1, DORY_BUF_WEIGHTS, 0, c->weights);
  p.bias = buf_ptr(L, l1, DORY_BUF_BIAS, 0, c->bias);
  p.requant = buf_ptr(L, l1, DORY_BUF_REQUANT, 0, c->requant);
  p.out = buf_ptr(L, l1, DORY_BUF_OUTPUT, 0, c->out);
  p.psum = buf_ptr(L, l1, DORY_BUF_PSUM, 0, 0);
  p.scratch = buf_ptr(L, l1, DORY_BUF_SCRATCH, 0, 0);
  p.scratch_bytes = L->l1_scratch.copies ? L->l1_scratch.bytes : 0u;
  compute_on(L, e, &p);
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

/* The running layer's descriptor, copied next to the cores before they start it: the schedule and the kernels'
 * arguments read its fields at every tile (from L2 each read costs a pulp-open cluster core 16 cycles). */
static dory_layer g_running DORY_CLUSTER_DATA;

void dory_layer_run(const dory_layer *L) {
  run_args r;
  g_running = *L;
  r.L = &g_running;
  r.skip_wait = g_skip_wait;
  g_skip_wait = -1;
  dory_cluster_run(layer_task, &r);
}

/* ---- L2-direct execution ------------------------------------------------------------------------------------ */

typedef struct {
  const dory_layer *L;
  dory_tile_extent e;
  operands p;
} l2_direct_args;

static void l2_direct_task(void *arg) {
  const l2_direct_args *a = (const l2_direct_args *)arg;
  compute_on(a->L, &a->e, &a->p);
}

void dory_layer_run_l2_direct(const dory_layer *L) {
  l2_direct_args a;
  uint8_t *l2 = (uint8_t *)dory_l2_base();
  const char *why = NULL;
  int k;
  if (!dory_layer_l2_direct_supported(L, dory_l1_size(), &why)) dory_panic(why);
  g_running = *L;
  a.L = &g_running;
  dory_layer_whole_extent(L, &a.e);
  /* The kernels address their input as a dense box of in.h x in.w pixels. The whole layer's clipped box can stop
   * short of the map (a stride that never reaches the last rows or columns), but in L2 the rows are the map's:
   * the box is the whole map, which starts where the clipped box does (row and column 0) and only adds pixels no
   * window reads. */
  a.e.h_in = L->h_in;
  a.e.w_in = L->w_in;
  for (k = 0; k < DORY_LAYER_MAX_INPUTS; ++k) a.p.in[k] = k < L->n_inputs ? l2 + L->in[k].l2_offset : NULL;
  a.p.weights = L->weight_bytes_per_cout ? l2 + L->weights_l2 : NULL;
  a.p.bias = L->bias_bytes_per_cout ? l2 + L->bias_l2 : NULL;
  a.p.requant = L->rq_bytes_per_cout ? l2 + L->requant_l2 : NULL;
  a.p.out = l2 + L->out.l2_offset;
  a.p.psum = NULL; /* one input-channel tile: first = last = 1 */
  a.p.scratch = L->l2_direct_scratch_bytes ? (uint8_t *)dory_l1_base() : NULL;
  a.p.scratch_bytes = L->l2_direct_scratch_bytes;
  dory_cluster_run(l2_direct_task, &a);
}
