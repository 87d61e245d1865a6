/* The L3 tiles and the two-level schedule of dory/l3.h: pure C, no HAL calls, linked into every generated
 * application (runtime/executor/l3_executor.c drives it with the HAL) and into the compiler (the static schedule
 * checker drives it with recording ops). */
#include "dory/l3.h"

#include <stddef.h>

static int32_t ceil_div32(int32_t a, int32_t b) { return (a + b - 1) / b; }
static int32_t min32(int32_t a, int32_t b) { return a < b ? a : b; }
static int32_t max32(int32_t a, int32_t b) { return a > b ? a : b; }

dory_l3_counts dory_l3_tile_counts(const dory_l3_layer *L) {
  dory_l3_counts n;
  n.n_bands = ceil_div32(L->h_out, L->tile_h);
  n.n_blocks = ceil_div32(L->c_out, L->tile_c_out);
  return n;
}

int32_t dory_l3_tile_total(const dory_l3_layer *L) {
  const dory_l3_counts n = dory_l3_tile_counts(L);
  return n.n_bands * n.n_blocks;
}

void dory_l3_tile_extent(const dory_l3_layer *L, int32_t t, dory_l3_extent *e) {
  const dory_l3_counts n = dory_l3_tile_counts(L);
  int32_t first, last;
  e->index = t;
  e->band = t / n.n_blocks;
  e->block = t % n.n_blocks;
  e->h0 = e->band * L->tile_h;
  e->h = min32(L->h_out - e->h0, L->tile_h);
  e->c0 = e->block * L->tile_c_out;
  e->c = min32(L->c_out - e->c0, L->tile_c_out);
  /* tiler/tile.h axis_window along the rows (the plans never make a band whose input box is empty) */
  first = e->h0 * L->stride_h - L->pad_top;
  last = (e->h0 + e->h - 1) * L->stride_h - L->pad_top + L->kh;
  e->in_h0 = max32(0, first);
  e->in_h = min32(L->h_in, last) - e->in_h0;
  if (e->in_h < 0) e->in_h = 0;
  e->pad_top = max32(0, -first);
  e->pad_bottom = max32(0, last - L->h_in);
}

static const dory_l2_stage *stage_of(const dory_l3_layer *L, uint8_t role, int operand) {
  switch (role) {
    case DORY_STAGE_INPUT: return &L->stage_in[operand];
    case DORY_STAGE_WEIGHTS: return &L->stage_weights;
    case DORY_STAGE_BIAS: return &L->stage_bias;
    case DORY_STAGE_REQUANT: return &L->stage_requant;
    default: return &L->stage_out;
  }
}

/* The copy of a staging buffer tile t uses: inputs and the output alternate per band, the constants per block
 * (a single copy when loaded once). */
static uint8_t copy_of(const dory_l3_layer *L, uint8_t role, int operand, const dory_l3_extent *e) {
  const dory_l2_stage *s = stage_of(L, role, operand);
  if (s->copies < 2) return 0;
  if (role == DORY_STAGE_INPUT || role == DORY_STAGE_OUTPUT) return (uint8_t)(e->band & 1);
  return (uint8_t)(e->index & 1);
}

static int32_t template_of(const dory_l3_layer *L, const dory_l3_counts *n, const dory_l3_extent *e) {
  const int32_t band_cls = L->band_class[e->band];
  const int32_t block_cls = (L->n_block_classes > 1 && e->block == n->n_blocks - 1) ? 1 : 0;
  return band_cls * L->n_block_classes + block_cls;
}

int32_t dory_l3_sub_template(const dory_l3_layer *L, int32_t t) {
  const dory_l3_counts n = dory_l3_tile_counts(L);
  dory_l3_extent e;
  dory_l3_tile_extent(L, t, &e);
  return template_of(L, &n, &e);
}

/* Where tile t's sub-layer reads and writes: its template and the L2 offsets the template's descriptor gets. The
 * schedule computes the next tile's while the current sub-layer runs (the fabric controller's tile arithmetic,
 * ~1,500 cycles a tile from L2-resident code, then hides under the cluster's work). */
typedef struct {
  int32_t tmpl;
  uint32_t in[DORY_LAYER_MAX_INPUTS], out, weights, bias, requant;
} sub_place;

static void sub_place_of(const dory_l3_layer *L, int32_t t, sub_place *p) {
  const dory_l3_counts n = dory_l3_tile_counts(L);
  dory_l3_extent e;
  int k;
  dory_l3_tile_extent(L, t, &e);
  p->tmpl = template_of(L, &n, &e);
  for (k = 0; k < L->n_inputs; ++k) {
    const uint32_t eb = L->in_elem_bytes[k];
    if (L->in_where[k] == DORY_IN_L3) {
      /* the band's input rows, dense, all channels (a tied layer in L3 has one block) */
      p->in[k] = L->stage_in[k].offset[copy_of(L, DORY_STAGE_INPUT, k, &e)];
    } else {
      const uint32_t px = (uint32_t)e.in_h0 * (uint32_t)L->w_in * (uint32_t)L->in_pixel_stride[k];
      p->in[k] = L->in_offset[k] + (px + (L->channels_tied ? (uint32_t)e.c0 : 0u)) * eb;
    }
  }
  if (L->out_where == DORY_IN_L3) {
    p->out = L->stage_out.offset[copy_of(L, DORY_STAGE_OUTPUT, 0, &e)] + (uint32_t)e.c0 * L->out_elem_bytes;
  } else {
    const uint32_t px = (uint32_t)e.h0 * (uint32_t)L->w_out * (uint32_t)L->out_pixel_stride;
    p->out = L->out_offset + (px + (uint32_t)e.c0) * L->out_elem_bytes;
  }
  if (L->weights_where == DORY_IN_L3) {
    const uint8_t c = copy_of(L, DORY_STAGE_WEIGHTS, 0, &e);
    p->weights = L->stage_weights.copies ? L->stage_weights.offset[c] : 0u;
    p->bias = L->stage_bias.copies ? L->stage_bias.offset[c] : 0u;
    p->requant = L->stage_requant.copies ? L->stage_requant.offset[c] : 0u;
  } else {
    p->weights = L->weights + (uint32_t)e.c0 * L->weight_bytes_per_cout;
    p->bias = L->bias + (uint32_t)e.c0 * L->bias_bytes_per_cout;
    p->requant = L->requant + (uint32_t)e.c0 * L->rq_bytes_per_cout;
  }
}

/* The sub-layer of placement p into *out, which holds the sub-layer of template *held (-1: none yet): the template
 * is copied only when p's is another one (the fabric controller copying the ~780 B template for every tile took
 * ~1,200 cycles a tile), then the L2 offsets are set. */
static void sub_apply(const dory_l3_layer *L, const sub_place *p, dory_layer *out, int32_t *held) {
  int k;
  if (*held != p->tmpl) {
    *out = L->subs[p->tmpl];
    *held = p->tmpl;
  }
  for (k = 0; k < L->n_inputs; ++k) out->in[k].l2_offset = p->in[k];
  out->out.l2_offset = p->out;
  out->weights_l2 = p->weights;
  out->bias_l2 = p->bias;
  out->requant_l2 = p->requant;
}

void dory_l3_sub_layer(const dory_l3_layer *L, int32_t t, dory_layer *out) {
  sub_place p;
  int32_t held = -1;
  sub_place_of(L, t, &p);
  sub_apply(L, &p, out, &held);
}

static dory_l3_transfer l3_transfer(uint8_t role, int operand, uint8_t dir, uint8_t copy, int32_t tile,
                                    uint32_t l2_offset, uint32_t l3_offset, uint32_t bytes) {
  dory_l3_transfer x;
  x.role = role;
  x.operand = (uint8_t)operand;
  x.dir = dir;
  x.copy = copy;
  x.tile = tile;
  x.l2_offset = l2_offset;
  x.l3_offset = l3_offset;
  x.bytes = bytes;
  return x;
}

int dory_l3_tile_loads(const dory_l3_layer *L, int32_t t, dory_l3_transfer out[DORY_L3_MAX_LOADS]) {
  const dory_l3_counts n = dory_l3_tile_counts(L);
  dory_l3_extent e;
  int k, count = 0;
  dory_l3_tile_extent(L, t, &e);
  if (e.block == 0)
    for (k = 0; k < L->n_inputs; ++k)
      if (L->in_where[k] == DORY_IN_L3 && e.in_h > 0) {
        const uint32_t row = (uint32_t)L->w_in * (uint32_t)L->in_pixel_stride[k] * L->in_elem_bytes[k];
        const uint8_t c = copy_of(L, DORY_STAGE_INPUT, k, &e);
        out[count++] = l3_transfer(DORY_STAGE_INPUT, k, DORY_L3_TO_L2, c, t, L->stage_in[k].offset[c],
                                   L->in_offset[k] + (uint32_t)e.in_h0 * row, (uint32_t)e.in_h * row);
      }
  if (L->weights_where == DORY_IN_L3 && (t == 0 || n.n_blocks > 1)) {
    const uint8_t c = copy_of(L, DORY_STAGE_WEIGHTS, 0, &e);
    if (L->weight_bytes_per_cout > 0)
      out[count++] = l3_transfer(DORY_STAGE_WEIGHTS, 0, DORY_L3_TO_L2, c, t, L->stage_weights.offset[c],
                                 L->weights + (uint32_t)e.c0 * L->weight_bytes_per_cout,
                                 (uint32_t)e.c * L->weight_bytes_per_cout);
    if (L->bias_bytes_per_cout > 0)
      out[count++] = l3_transfer(DORY_STAGE_BIAS, 0, DORY_L3_TO_L2, c, t, L->stage_bias.offset[c],
                                 L->bias + (uint32_t)e.c0 * L->bias_bytes_per_cout,
                                 (uint32_t)e.c * L->bias_bytes_per_cout);
    if (L->rq_bytes_per_cout > 0)
      out[count++] = l3_transfer(DORY_STAGE_REQUANT, 0, DORY_L3_TO_L2, c, t, L->stage_requant.offset[c],
                                 L->requant + (uint32_t)e.c0 * L->rq_bytes_per_cout,
                                 (uint32_t)e.c * L->rq_bytes_per_cout);
  }
  return count;
}

int dory_l3_tile_store(const dory_l3_layer *L, int32_t t, dory_l3_transfer *out) {
  const dory_l3_counts n = dory_l3_tile_counts(L);
  dory_l3_extent e;
  uint32_t row;
  uint8_t c;
  if (L->out_where != DORY_IN_L3) return 0;
  dory_l3_tile_extent(L, t, &e);
  if (e.block != n.n_blocks - 1) return 0;
  row = (uint32_t)L->w_out * (uint32_t)L->out_pixel_stride * L->out_elem_bytes;
  c = copy_of(L, DORY_STAGE_OUTPUT, 0, &e);
  *out = l3_transfer(DORY_STAGE_OUTPUT, 0, DORY_L2_TO_L3, c, t, L->stage_out.offset[c],
                     L->out_offset + (uint32_t)e.h0 * row, (uint32_t)e.h * row);
  return 1;
}

int dory_l3_prefetched(const dory_l3_layer *L, const dory_l3_transfer *x) {
  return L->prefetch_weights && x->tile == 0 && x->role != DORY_STAGE_INPUT && x->dir == DORY_L3_TO_L2;
}

/* ---- the schedule ----------------------------------------------------------------------------------------- */

typedef struct {
  const dory_l3_layer *L;
  const dory_l3_ops *ops;
  uint8_t *l2;
  dory_dma_job jobs[DORY_L3_MAX_LOADS + 1 + 3];
  int n_jobs;
} l3_sched;

static dory_dma_job issue_one(const dory_l3_layer *L, uint8_t *l2, const dory_l3_ops *ops,
                              const dory_l3_transfer *x) {
  dory_l3_desc d;
  (void)L;
  d.l2 = l2 + x->l2_offset;
  d.l3 = x->l3_offset;
  d.bytes = x->bytes;
  d.dir = x->dir;
  return ops->l3_start(ops->ctx, &d, x);
}

static void issue(l3_sched *s, const dory_l3_transfer *x) { s->jobs[s->n_jobs++] = issue_one(s->L, s->l2, s->ops, x); }

static void wait_all(l3_sched *s) {
  int k;
  for (k = 0; k < s->n_jobs; ++k) s->ops->l3_wait(s->ops->ctx, s->jobs[k]);
  s->n_jobs = 0;
}

void dory_l3_prefetch_issue(const dory_l3_layer *L, uint8_t *l2, const dory_l3_ops *ops, dory_l3_prefetch *pf) {
  dory_l3_transfer loads[DORY_L3_MAX_LOADS];
  int k, n;
  pf->n = 0;
  if (!L->prefetch_weights) return;
  n = dory_l3_tile_loads(L, 0, loads);
  for (k = 0; k < n; ++k)
    if (dory_l3_prefetched(L, &loads[k]) && pf->n < 3) pf->jobs[pf->n++] = issue_one(L, l2, ops, &loads[k]);
}

void dory_l3_schedule(const dory_l3_layer *L, uint8_t *l2, const dory_l3_ops *ops, const dory_l3_prefetch *pf,
                      const dory_layer *first) {
  l3_sched s;
  dory_l3_transfer loads[DORY_L3_MAX_LOADS], store;
  /* the sub-layers alternate between two descriptors: tile t+1's is made ready in the other one while tile t runs
   * (first, when given, is tile 0's, made ready by the caller while the previous layer ran) */
  dory_layer subs[2];
  int32_t held[2] = {-1, -1}; /* the template each holds (sub_apply) */
  const dory_layer *cur = first ? first : &subs[0];
  int32_t cur_tmpl, prev_tmpl = -1; /* the templates of the tile to run and of the one that ran */
  sub_place place;
  const int32_t total = dory_l3_tile_total(L);
  int32_t t;
  int k, n;
  s.L = L;
  s.ops = ops;
  s.l2 = l2;
  s.n_jobs = 0;

  /* prologue: LD3_0, the prefetched parts already in flight; tile 0's descriptor while they fly */
  n = dory_l3_tile_loads(L, 0, loads);
  for (k = 0; k < n; ++k)
    if (!(pf && dory_l3_prefetched(L, &loads[k]))) issue(&s, &loads[k]);
  if (pf)
    for (k = 0; k < pf->n; ++k) s.jobs[s.n_jobs++] = pf->jobs[k];
  if (!first) {
    sub_place_of(L, 0, &place);
    sub_apply(L, &place, &subs[0], &held[0]);
  }
  cur_tmpl = first ? -1 : place.tmpl;
  wait_all(&s);

  for (t = 0; t < total; ++t) {
    dory_layer *next = &subs[(t + 1) & 1]; /* never cur: cur is subs[t & 1] or first */
    int32_t next_tmpl = -1;
    /* kept: the cores' copy of the previous tile's descriptor is of this template; only the L2 offsets change */
    ops->start_sub(ops->ctx, L, t, cur, t > 0 && cur_tmpl == prev_tmpl);
    /* beside the sub-layer: its staging copies are not the ones these transfers touch (copy_of alternates them) */
    if (t > 0 && dory_l3_tile_store(L, t - 1, &store)) issue(&s, &store);
    /* a first descriptor made ahead: its template (for tile 1's kept test) computed here, beside sub-layer 0 */
    if (t == 0 && first) cur_tmpl = dory_l3_sub_template(L, 0);
    if (t + 1 < total) {
      n = dory_l3_tile_loads(L, t + 1, loads);
      for (k = 0; k < n; ++k) issue(&s, &loads[k]);
      sub_place_of(L, t + 1, &place);
      sub_apply(L, &place, next, &held[(t + 1) & 1]);
      next_tmpl = place.tmpl;
    } else if (ops->after_last_load) {
      ops->after_last_load(ops->ctx);
    }
    ops->join_sub(ops->ctx);
    wait_all(&s);
    prev_tmpl = cur_tmpl;
    cur_tmpl = next_tmpl;
    cur = next;
  }

  /* epilogue */
  if (total > 0 && dory_l3_tile_store(L, total - 1, &store)) {
    issue(&s, &store);
    wait_all(&s);
  }
}
