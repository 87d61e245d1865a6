/* The executor of dory/layer.h on a platform: the schedule (schedule.c) driven by the HAL's DMA and barrier, each
 * computation a kernel call with arguments built from the layer's constants and the tile's extent and copies; and
 * the L2-direct execution, the same kernel call once on the whole layer with its operands in L2. */
#include <stddef.h>

#include <string.h>

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

/* The L1 address of a copy of buffer b, NULL when the layer has no such buffer (dory_layer_l1_buffer's rule). */
static uint8_t *buf_ptr(const dory_l1_buffer *b, uint8_t *l1, uint8_t copy) {
  return b->copies > 0 ? l1 + b->offset[copy] : NULL;
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
  const dory_pad pad = e->pad;
  int k;
  out.data = p->out;
  out.h = e->h_out;
  out.w = e->w_out;
  out.c = e->c_out;
  out.type = L->out.type;

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
      a.rq = L->rq; /* straight into the arguments (one copy), with the tile's records */
      a.rq.channel_params = p->requant;
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
      a.rq = L->rq; /* straight into the arguments (one copy), with the tile's records */
      a.rq.channel_params = p->requant;
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
      a.rq = L->rq; /* straight into the arguments (one copy), with the tile's records */
      a.rq.channel_params = p->requant;
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
      a.rq = L->rq; /* straight into the arguments (one copy), with the tile's records */
      a.rq.channel_params = p->requant;
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
      a.rq = L->rq; /* straight into the arguments (one copy), with the tile's records */
      a.rq.channel_params = p->requant;
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
  for (k = 0; k < DORY_LAYER_MAX_INPUTS; ++k) p.in[k] = k < L->n_inputs ? buf_ptr(&L->l1_in[k], l1, c->in[k]) : NULL;
  p.weights = buf_ptr(&L->l1_weights, l1, c->weights);
  p.bias = buf_ptr(&L->l1_bias, l1, c->bias);
  p.requant = buf_ptr(&L->l1_requant, l1, c->requant);
  p.out = buf_ptr(&L->l1_out, l1, c->out);
  p.psum = buf_ptr(&L->l1_psum, l1, 0);
  p.scratch = buf_ptr(&L->l1_scratch, l1, 0);
  p.scratch_bytes = L->l1_scratch.copies ? L->l1_scratch.bytes : 0u;
  compute_on(L, e, &p);
}

/* ---- the running layer's descriptor -------------------------------------------------------------------------- */

/* The descriptor of the running layer, next to the cores: the schedule and the kernels' arguments read its fields
 * at every tile (from L2 each read costs a pulp-open cluster core 16 cycles). Core 0 takes it from where the caller
 * keeps it at the start of the task (dory_copy_near: one DMA command on pulp-open), then the cores meet at a
 * barrier. The fabric controller storing it before the fork took ~3,800 cycles (~200 stores across the SoC
 * interconnect into TCDM), paid between every two sub-layers of a layer that streams from L3; the 8 cores loading a
 * share each ~1,500 (their loads queue at the cluster's port to L2). */
static dory_layer g_running DORY_CLUSTER_DATA;

static const dory_layer *take_descriptor(const dory_layer *src) {
  if (dory_core_id() == 0) dory_copy_near(&g_running, src, (uint32_t)sizeof(dory_layer));
  dory_barrier();
  return &g_running;
}

/* The main program's: the descriptor whose copy g_running holds (the source of the last take), NULL: none. */
static const dory_layer *g_taken_from;

/* ---- the HAL-driven schedule ------------------------------------------------------------------------------- */

/* Each core's clock of its task (on its own stack: TCDM on PULP-open), the ops' context. With DORY_CYCLE_SPLIT,
 * lap() charges the cycles since the previous lap to a category (dory/layer.h); without it, it compiles away. */
typedef struct {
#if defined(DORY_CYCLE_SPLIT)
  uint64_t last;
  uint32_t acc[DORY_SPLIT_CATEGORIES];
#endif
  uint8_t *l1; /* dory_l1_base(), read once per task */
} core_clock;

#if defined(DORY_CYCLE_SPLIT)
static dory_cycle_split g_split;
#endif

static void clock_start(core_clock *c) {
#if defined(DORY_CYCLE_SPLIT)
  int k;
  for (k = 0; k < DORY_SPLIT_CATEGORIES; ++k) c->acc[k] = 0;
  c->last = dory_cycles();
#endif
  c->l1 = (uint8_t *)dory_l1_base();
}

#if defined(DORY_CYCLE_SPLIT) && defined(__GNUC__)
__attribute__((noinline)) /* one copy: less code in L2 and in the instruction cache */
#endif
static void lap(void *ctx, int category) {
#if defined(DORY_CYCLE_SPLIT)
  core_clock *c = (core_clock *)ctx;
  const uint64_t now = dory_cycles();
  c->acc[category] += (uint32_t)(now - c->last);
  c->last = now;
#else
  (void)ctx;
  (void)category;
#endif
}

/* The end of a core's task: the last lap, and the core's row of the split. */
static void clock_stop(core_clock *c, int core) {
  lap(c, DORY_SPLIT_OTHER);
#if defined(DORY_CYCLE_SPLIT)
  if (core >= 0 && core < DORY_SPLIT_MAX_CORES) {
    int k;
    for (k = 0; k < DORY_SPLIT_CATEGORIES; ++k) g_split.cycles[core][k] = c->acc[k];
  }
#else
  (void)core;
#endif
}

int dory_layer_last_split(dory_cycle_split *out) {
#if defined(DORY_CYCLE_SPLIT)
  *out = g_split;
  return 1;
#else
  uint32_t *p = &out->cycles[0][0];
  uint32_t k;
  out->cores = 0;
  for (k = 0; k < DORY_SPLIT_MAX_CORES * DORY_SPLIT_CATEGORIES; ++k) p[k] = 0;
  return 0;
#endif
}

static dory_dma_job hal_start(void *ctx, const dory_dma_desc *desc, const dory_scheduled_transfer *x) {
  dory_dma_job job;
  (void)x;
  lap(ctx, DORY_SPLIT_OTHER);
  job = dory_dma_start(desc);
  lap(ctx, DORY_SPLIT_DMA_ISSUE);
  return job;
}

static void hal_wait(void *ctx, dory_dma_job job) {
  lap(ctx, DORY_SPLIT_OTHER);
  dory_dma_wait(job);
  lap(ctx, DORY_SPLIT_DMA_WAIT);
}

static void hal_compute(void *ctx, const dory_layer *L, const dory_tile_extent *e, const dory_tile_copies *c) {
  lap(ctx, DORY_SPLIT_OTHER);
  dory_layer_compute(L, e, c, ((core_clock *)ctx)->l1);
  lap(ctx, DORY_SPLIT_COMPUTE);
}

static void hal_barrier(void *ctx) {
  lap(ctx, DORY_SPLIT_OTHER);
  dory_barrier();
  lap(ctx, DORY_SPLIT_BARRIER);
}

typedef struct {
  const dory_layer *L;
  int32_t skip_wait;
  int take; /* the cores take the descriptor (0: the main program updated their copy, dory_layer_start_moved) */
} run_args;

static void layer_task(void *arg) {
  const run_args *r = (const run_args *)arg;
  const int core = dory_core_id();
  core_clock clock;
  dory_schedule_ops ops;
  const dory_layer *L;
  clock_start(&clock);
  L = r->take ? take_descriptor(r->L) : &g_running;
  lap(&clock, DORY_SPLIT_OTHER);
  ops.ctx = &clock;
  ops.dma_start = hal_start;
  ops.dma_wait = hal_wait;
  ops.compute = hal_compute;
  ops.barrier = hal_barrier;
  ops.skip_wait = r->skip_wait;
  dory_layer_schedule(L, core, clock.l1, (uint8_t *)dory_l2_base(), &ops);
  clock_stop(&clock, core);
}

/* the task's arguments live until the join (dory_layer_start ... dory_layer_join) */
static run_args g_run;

static void start_tiled(const dory_layer *L, int take) {
  run_args *r = &g_run;
  if (L->l3) dory_panic("executor: a layer that streams from L3 runs with dory_l3_layer_run (network.c does)");
  r->L = L;
  r->take = take;
  g_taken_from = L;
  r->skip_wait = g_skip_wait;
  g_skip_wait = -1;
#if defined(DORY_CYCLE_SPLIT)
  {
    const int n = dory_core_count();
    uint32_t *p = &g_split.cycles[0][0];
    uint32_t k;
    for (k = 0; k < DORY_SPLIT_MAX_CORES * DORY_SPLIT_CATEGORIES; ++k) p[k] = 0;
    g_split.cores = (uint32_t)(n < DORY_SPLIT_MAX_CORES ? n : DORY_SPLIT_MAX_CORES);
  }
#endif
  dory_cluster_start(layer_task, r);
}

void dory_layer_start(const dory_layer *L) { start_tiled(L, 1); }

void dory_layer_start_moved(const dory_layer *L) {
  int k;
  /* (the caller knows the template is the same; a descriptor of another kernel cannot be) */
  if (!g_taken_from || memcmp(&L->kernel, &g_taken_from->kernel, sizeof L->kernel) != 0 ||
      L->n_inputs != g_taken_from->n_inputs) {
    start_tiled(L, 1);
    return;
  }
  /* a few stores across the SoC interconnect instead of the cores' ~25 loads each and a barrier */
  for (k = 0; k < L->n_inputs; ++k) g_running.in[k].l2_offset = L->in[k].l2_offset;
  g_running.out.l2_offset = L->out.l2_offset;
  g_running.weights_l2 = L->weights_l2;
  g_running.bias_l2 = L->bias_l2;
  g_running.requant_l2 = L->requant_l2;
  start_tiled(L, 0);
}

void dory_layer_join(void) { dory_cluster_join(); }

void dory_layer_run(const dory_layer *L) {
  dory_layer_start(L);
  dory_layer_join();
}

/* ---- L1-resident execution ---------------------------------------------------------------------------------- */

typedef struct {
  const dory_layer *L;
  uint64_t compute_cycles; /* core 0's sum of the timed computation phases */
} l1_resident_args;

/* Core 0: the transfer is complete when the schedule's next step runs (the job id is never waited for again). */
static dory_dma_job sync_start(void *ctx, const dory_dma_desc *desc, const dory_scheduled_transfer *x) {
  (void)ctx;
  (void)x;
  dory_dma_wait(dory_dma_start(desc));
  return 0;
}

static void sync_wait(void *ctx, dory_dma_job job) {
  (void)ctx;
  (void)job;
}

/* Every core: nothing in flight (core 0 waited for every transfer before reaching the barrier), then the timed
 * kernel call of every core, closed by a barrier. */
static void timed_compute(void *ctx, const dory_layer *L, const dory_tile_extent *e, const dory_tile_copies *c) {
  l1_resident_args *a = (l1_resident_args *)ctx;
  const int core0 = dory_core_id() == 0;
  uint64_t t0 = 0;
  dory_barrier();
  if (core0) t0 = dory_cycles();
  dory_layer_compute(L, e, c, (uint8_t *)dory_l1_base());
  dory_barrier();
  if (core0) a->compute_cycles += dory_cycles() - t0;
}

static void plain_barrier(void *ctx) {
  (void)ctx;
  dory_barrier();
}

static void l1_resident_task(void *arg) {
  l1_resident_args *a = (l1_resident_args *)arg;
  dory_schedule_ops ops;
  ops.ctx = a;
  ops.dma_start = sync_start;
  ops.dma_wait = sync_wait;
  ops.compute = timed_compute;
  ops.barrier = plain_barrier;
  ops.skip_wait = -1;
  dory_layer_schedule(a->L, dory_core_id(), (uint8_t *)dory_l1_base(), (uint8_t *)dory_l2_base(), &ops);
}

uint64_t dory_layer_run_l1_resident(const dory_layer *L) {
  l1_resident_args a;
  /* The evaluation modes copy the descriptor into TCDM from the main program before the fork, outside the timed
   * computations and the task (their kernels read the same TCDM copy as the tiled run's). */
  g_running = *L;
  g_taken_from = L;
  a.L = &g_running;
  a.compute_cycles = 0;
  dory_cluster_run(l1_resident_task, &a);
  return a.compute_cycles;
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
  g_running = *L; /* as the L1-resident run: from the main program, outside the task */
  g_taken_from = L;
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
