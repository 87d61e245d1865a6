/* The tile geometry and the double-buffered schedule of dory/layer.h: pure C, no HAL calls, linked both into
 * every generated application (runtime/executor/executor.c drives it with the HAL and the kernels) and into the
 * compiler (the static schedule checker drives it with recording ops). */
#include "dory/layer.h"

#include <stddef.h>

/* One tile along a dimension is the common case: no division (slow on the cluster cores) then. */
static int32_t ceil_div32(int32_t a, int32_t b) { return a > 0 && a <= b ? 1 : (a + b - 1) / b; }
static int32_t min32(int32_t a, int32_t b) { return a < b ? a : b; }
static int32_t max32(int32_t a, int32_t b) { return a > b ? a : b; }

dory_tile_counts dory_layer_tile_counts(const dory_layer *L) {
  dory_tile_counts n;
  n.n_co = ceil_div32(L->c_out, L->tile_c_out);
  n.n_h = ceil_div32(L->h_out, L->tile_h);
  n.n_w = ceil_div32(L->w_out, L->tile_w);
  n.n_ci = L->channels_tied ? 1 : ceil_div32(L->c_in, L->tile_c_in);
  return n;
}

int32_t dory_layer_tile_total(const dory_layer *L) {
  dory_tile_counts n = dory_layer_tile_counts(L);
  return n.n_co * n.n_h * n.n_w * n.n_ci;
}

/* Input positions read by outputs [o0, o0 + n) along one axis, clipped to [0, extent), and the padding; exactly
 * tiler/tile.h's axis_window. When every window lies wholly in the padding the box is empty (in_n = 0) at the
 * border the windows lie beyond (in0 = 0 before the map, extent after it), and their whole span is padding on
 * that side. */
static void axis_window(int32_t o0, int32_t n, int32_t stride, int32_t k, int32_t pad_before, int32_t extent,
                        int32_t *in0, int32_t *in_n, int32_t *pad_lo, int32_t *pad_hi) {
  const int32_t first = o0 * stride - pad_before;
  const int32_t last = (o0 + n - 1) * stride - pad_before + k; /* one past */
  if (last <= 0 || first >= extent) {
    *in0 = first >= extent ? extent : 0;
    *in_n = 0;
    *pad_lo = first >= extent ? 0 : last - first;
    *pad_hi = first >= extent ? last - first : 0;
    return;
  }
  *in0 = max32(0, first);
  *in_n = min32(extent, last) - *in0;
  *pad_lo = max32(0, -first);
  *pad_hi = max32(0, last - extent);
}

/* The extent of the tile at coordinates (co, h, w, ci), linear index i: dory_layer_tile_extent without the
 * divisions (the schedule walks the coordinates). */
static void extent_at(const dory_layer *L, int32_t i, int32_t co, int32_t h, int32_t w, int32_t ci,
                      dory_tile_extent *e) {
  e->index = i;
  e->ci = ci;
  e->w = w;
  e->h = h;
  e->co = co;
  e->c_out0 = e->co * L->tile_c_out;
  e->c_out = min32(L->c_out - e->c_out0, L->tile_c_out);
  e->h_out0 = e->h * L->tile_h;
  e->h_out = min32(L->h_out - e->h_out0, L->tile_h);
  e->w_out0 = e->w * L->tile_w;
  e->w_out = min32(L->w_out - e->w_out0, L->tile_w);
  if (L->channels_tied) {
    e->c_in0 = e->c_out0;
    e->c_in = e->c_out;
  } else {
    e->c_in0 = e->ci * L->tile_c_in;
    e->c_in = min32(L->c_in - e->c_in0, L->tile_c_in);
  }
  axis_window(e->h_out0, e->h_out, L->stride_h, L->kh, L->pad.top, L->h_in, &e->h_in0, &e->h_in, &e->pad.top,
              &e->pad.bottom);
  axis_window(e->w_out0, e->w_out, L->stride_w, L->kw, L->pad.left, L->w_in, &e->w_in0, &e->w_in, &e->pad.left,
              &e->pad.right);
  e->first = (uint8_t)(e->ci == 0);
  e->last = (uint8_t)(L->channels_tied || e->c_in0 + e->c_in == L->c_in);
}

void dory_layer_tile_extent(const dory_layer *L, int32_t i, dory_tile_extent *e) {
  const dory_tile_counts n = dory_layer_tile_counts(L);
  int32_t r = i, ci, w, h;
  ci = r % n.n_ci;
  r /= n.n_ci;
  w = r % n.n_w;
  r /= n.n_w;
  h = r % n.n_h;
  extent_at(L, i, r / n.n_h, h, w, ci, e);
}

int32_t dory_layer_tile_of(const dory_layer *L, int32_t h, int32_t w, int32_t c) {
  const dory_tile_counts n = dory_layer_tile_counts(L);
  const int32_t co = c / L->tile_c_out, th = h / L->tile_h, tw = w / L->tile_w;
  return ((co * n.n_h + th) * n.n_w + tw) * n.n_ci + (n.n_ci - 1);
}

static const dory_l1_buffer *l1_buffer(const dory_layer *L, uint8_t role, int operand) {
  const dory_l1_buffer *b = NULL;
  switch (role) {
    case DORY_BUF_INPUT: b = (operand >= 0 && operand < L->n_inputs) ? &L->l1_in[operand] : NULL; break;
    case DORY_BUF_WEIGHTS: b = &L->l1_weights; break;
    case DORY_BUF_BIAS: b = &L->l1_bias; break;
    case DORY_BUF_REQUANT: b = &L->l1_requant; break;
    case DORY_BUF_OUTPUT: b = &L->l1_out; break;
    case DORY_BUF_PSUM: b = &L->l1_psum; break;
    case DORY_BUF_SCRATCH: b = &L->l1_scratch; break;
    default: break;
  }
  return (b && b->copies > 0) ? b : NULL;
}

const dory_l1_buffer *dory_layer_l1_buffer(const dory_layer *L, uint8_t role, int operand) {
  return l1_buffer(L, role, operand);
}

static dory_transfer box_transfer(uint8_t role, int operand, uint8_t dir, uint32_t base, int32_t h0, int32_t w0,
                                  int32_t c0, int32_t rows, int32_t cols, int32_t chans, int32_t map_w,
                                  int32_t pixel_stride, int32_t elem) {
  dory_transfer t;
  t.role = role;
  t.operand = (uint8_t)operand;
  t.dir = dir;
  t.l2_offset = base + (uint32_t)(((h0 * map_w + w0) * pixel_stride + c0) * elem);
  t.row_bytes = (uint32_t)(chans * elem);
  t.rows = (uint32_t)cols;
  t.row_stride = (uint32_t)(pixel_stride * elem);
  t.planes = (uint32_t)rows;
  t.plane_stride = (uint32_t)(map_w * pixel_stride * elem);
  return t;
}

static dory_transfer flat_transfer(uint8_t role, uint32_t l2_offset, uint32_t bytes) {
  dory_transfer t;
  t.role = role;
  t.operand = 0;
  t.dir = DORY_DMA_L2_TO_L1;
  t.l2_offset = l2_offset;
  t.row_bytes = bytes;
  t.rows = 1;
  t.row_stride = 0;
  t.planes = 1;
  t.plane_stride = 0;
  return t;
}

/* The loads of the tile of extent *ep, whose predecessor (tile index - 1) has extent *pp (NULL for tile 0). */
static int loads_of(const dory_layer *L, const dory_tile_counts *np, const dory_tile_extent *ep,
                    const dory_tile_extent *pp, dory_transfer out[DORY_LAYER_MAX_LOADS]) {
  int k, count = 0;
  uint8_t load_input = 1, load_weights = 1, load_params = 1;
  if (pp) {
    load_input =
        (uint8_t)(L->channels_tied ? (np->n_co * np->n_h * np->n_w > 1) : (np->n_h * np->n_w * np->n_ci > 1));
    load_weights = (uint8_t)(pp->co != ep->co || pp->ci != ep->ci);
    load_params = (uint8_t)(pp->co != ep->co);
  }
  if (load_input)
    for (k = 0; k < L->n_inputs; ++k) {
      const int32_t eb = dory_dtype_bytes(L->in[k].type);
      if (ep->h_in * ep->w_in * ep->c_in > 0)
        out[count++] = box_transfer(DORY_BUF_INPUT, k, DORY_DMA_L2_TO_L1, L->in[k].l2_offset, ep->h_in0, ep->w_in0,
                                    ep->c_in0, ep->h_in, ep->w_in, ep->c_in, L->w_in, L->in[k].pixel_stride, eb);
    }
  if (load_weights && L->weight_bytes_per_cout > 0) {
    if (L->kind == DORY_LAYER_DEPTHWISE) {
      out[count++] = flat_transfer(DORY_BUF_WEIGHTS, L->weights_l2 + (uint32_t)(ep->c_out0 * L->kh * L->kw),
                                   (uint32_t)(ep->c_out * L->kh * L->kw));
    } else {
      dory_transfer t = flat_transfer(DORY_BUF_WEIGHTS, L->weights_l2 + (uint32_t)(ep->c_out0 * L->kh * L->kw * L->c_in +
                                                                                  ep->c_in0),
                                      (uint32_t)ep->c_in);
      t.rows = (uint32_t)(ep->c_out * L->kh * L->kw);
      t.row_stride = (uint32_t)L->c_in;
      out[count++] = t;
    }
  }
  if (load_params) {
    if (L->bias_bytes_per_cout > 0)
      out[count++] = flat_transfer(DORY_BUF_BIAS, L->bias_l2 + (uint32_t)ep->c_out0 * L->bias_bytes_per_cout,
                                   (uint32_t)ep->c_out * L->bias_bytes_per_cout);
    if (L->rq_bytes_per_cout > 0)
      out[count++] = flat_transfer(DORY_BUF_REQUANT, L->requant_l2 + (uint32_t)ep->c_out0 * L->rq_bytes_per_cout,
                                   (uint32_t)ep->c_out * L->rq_bytes_per_cout);
  }
  return count;
}

int dory_layer_tile_loads(const dory_layer *L, int32_t i, dory_transfer out[DORY_LAYER_MAX_LOADS]) {
  const dory_tile_counts n = dory_layer_tile_counts(L);
  dory_tile_extent e, p;
  dory_layer_tile_extent(L, i, &e);
  if (i > 0) dory_layer_tile_extent(L, i - 1, &p);
  return loads_of(L, &n, &e, i > 0 ? &p : NULL, out);
}

static int store_of(const dory_layer *L, const dory_tile_extent *e, dory_transfer *out) {
  if (!e->last) return 0;
  *out = box_transfer(DORY_BUF_OUTPUT, 0, DORY_DMA_L1_TO_L2, L->out.l2_offset, e->h_out0, e->w_out0, e->c_out0,
                      e->h_out, e->w_out, e->c_out, L->w_out, L->out.pixel_stride, dory_dtype_bytes(L->out.type));
  return 1;
}

int dory_layer_tile_store(const dory_layer *L, int32_t i, dory_transfer *out) {
  dory_tile_extent e;
  dory_layer_tile_extent(L, i, &e);
  return store_of(L, &e, out);
}

/* ---- the schedule ----------------------------------------------------------------------------------------- */

typedef struct {
  const dory_layer *L;
  const dory_schedule_ops *ops;
  uint8_t *l1, *l2;
  int32_t waits; /* waits issued so far (fault injection counts them) */
  dory_dma_job jobs[2 * DORY_LAYER_MAX_LOADS + 2];
  int n_jobs;
} sched;

static uint8_t role_double_buffered(const dory_layer *L, uint8_t role) {
  switch (role) {
    case DORY_BUF_INPUT: return L->db_input;
    case DORY_BUF_WEIGHTS:
    case DORY_BUF_BIAS:
    case DORY_BUF_REQUANT: return L->db_weights;
    case DORY_BUF_OUTPUT: return L->db_output;
    default: return 0;
  }
}

static void issue(sched *s, const dory_transfer *t, int32_t tile, uint8_t copy) {
  const dory_l1_buffer *b = l1_buffer(s->L, t->role, t->operand);
  uint8_t *l1 = s->l1 + (b ? b->offset[copy] : 0u);
  uint8_t *l2 = s->l2 + t->l2_offset;
  const uint32_t dense_row = t->row_bytes, dense_plane = t->row_bytes * t->rows;
  dory_dma_desc d = t->dir == DORY_DMA_L2_TO_L1
                        ? dory_dma_3d(l1, dense_row, dense_plane, l2, t->row_stride, t->plane_stride, t->row_bytes,
                                      t->rows, t->planes, DORY_DMA_L2_TO_L1)
                        : dory_dma_3d(l2, t->row_stride, t->plane_stride, l1, dense_row, dense_plane, t->row_bytes,
                                      t->rows, t->planes, DORY_DMA_L1_TO_L2);
  dory_scheduled_transfer x;
  x.t = *t;
  x.tile = tile;
  x.copy = copy;
  s->jobs[s->n_jobs++] = s->ops->dma_start(s->ops->ctx, &d, &x);
}

static void wait_all(sched *s) {
  int k;
  for (k = 0; k < s->n_jobs; ++k) {
    if (s->waits++ == s->ops->skip_wait) continue; /* fault injection */
    s->ops->dma_wait(s->ops->ctx, s->jobs[k]);
  }
  s->n_jobs = 0;
}

static uint8_t *role_copy(dory_tile_copies *c, uint8_t role, int operand) {
  switch (role) {
    case DORY_BUF_INPUT: return &c->in[operand];
    case DORY_BUF_OUTPUT: return &c->out;
    case DORY_BUF_BIAS: return &c->bias;
    case DORY_BUF_REQUANT: return &c->requant;
    default: return &c->weights;
  }
}

void dory_layer_schedule(const dory_layer *L, int core, uint8_t *l1, uint8_t *l2, const dory_schedule_ops *ops) {
  sched s;
  dory_tile_copies cur;
  dory_transfer loads[DORY_LAYER_MAX_LOADS], store, prev_store;
  dory_tile_extent e, e_next;
  int32_t i, k, n_loads;
  /* The tile counts once, and every tile's extent once, walking its coordinates (co, h, w, ci) in the loop
   * order of dory/layer.h: what dory_layer_tile_loads / _store / _extent derive per call, derived per step. */
  const dory_tile_counts n = dory_layer_tile_counts(L);
  const int32_t total = n.n_co * n.n_h * n.n_w * n.n_ci;
  int32_t co = 0, h = 0, w = 0, ci = 0;
  int have_prev_store = 0;
  uint8_t prev_out_copy = 0;

  s.L = L;
  s.ops = ops;
  s.l1 = l1;
  s.l2 = l2;
  s.waits = 0;
  s.n_jobs = 0;
  for (k = 0; k < DORY_LAYER_MAX_INPUTS; ++k) cur.in[k] = 0;
  cur.weights = cur.bias = cur.requant = cur.out = 0;
  extent_at(L, 0, 0, 0, 0, 0, &e);

  /* prologue: LD_0 into copy 0 */
  if (core == 0) {
    n_loads = loads_of(L, &n, &e, NULL, loads);
    for (k = 0; k < n_loads; ++k) issue(&s, &loads[k], 0, 0);
    wait_all(&s);
  }
  ops->barrier(ops->ctx);

  for (i = 0; i < total; ++i) {
    dory_tile_copies next = cur;
    const int has_store = store_of(L, &e, &store);
    n_loads = 0;
    if (i + 1 < total) { /* the coordinates of tile i + 1: ci fastest, then w, h, co */
      if (++ci == n.n_ci) {
        ci = 0;
        if (++w == n.n_w) {
          w = 0;
          if (++h == n.n_h) {
            h = 0;
            ++co;
          }
        }
      }
      extent_at(L, i + 1, co, h, w, ci, &e_next);
      n_loads = loads_of(L, &n, &e_next, &e, loads);
    }

    /* O_i: the previous tile's store and the double-buffered loads of the next tile, overlapping the compute */
    if (core == 0) {
      if (L->db_output && have_prev_store) issue(&s, &prev_store, i - 1, prev_out_copy);
      for (k = 0; k < n_loads; ++k)
        if (role_double_buffered(L, loads[k].role)) {
          uint8_t *c = role_copy(&next, loads[k].role, loads[k].operand);
          *c = (uint8_t)(*role_copy(&cur, loads[k].role, loads[k].operand) ^ 1u);
          issue(&s, &loads[k], i + 1, *c);
        }
    }
    ops->compute(ops->ctx, L, &e, &cur);
    ops->barrier(ops->ctx);

    /* Z_i: after the compute, the loads into single buffers and a single-buffered output's store */
    if (core == 0) {
      wait_all(&s);
      for (k = 0; k < n_loads; ++k)
        if (!role_double_buffered(L, loads[k].role)) issue(&s, &loads[k], i + 1, 0);
      if (!L->db_output && has_store) issue(&s, &store, i, cur.out);
      wait_all(&s);
    }
    ops->barrier(ops->ctx);

    /* every core advances the same way (the copies depend only on the layer) */
    if (core != 0)
      for (k = 0; k < n_loads; ++k)
        if (role_double_buffered(L, loads[k].role))
          *role_copy(&next, loads[k].role, loads[k].operand) =
              (uint8_t)(*role_copy(&cur, loads[k].role, loads[k].operand) ^ 1u);
    have_prev_store = has_store;
    if (has_store) {
      prev_store = store;
      prev_out_copy = cur.out;
      if (L->db_output) next.out = (uint8_t)(cur.out ^ 1u);
    }
    cur = next;
    if (i + 1 < total) e = e_next;
  }

  /* epilogue: the last store of a double-buffered output */
  if (core == 0 && L->db_output && have_prev_store) {
    issue(&s, &prev_store, total - 1, prev_out_copy);
    wait_all(&s);
  }
}

/* ---- L2-direct execution: what the layer needs (the run itself is in executor.c) ----------------------------- */

static int map_dense(const dory_l2_map *m, int32_t channels) { return m->pixel_stride == channels; }

int dory_layer_l2_direct_supported(const dory_layer *L, uint32_t l1_bytes, const char **why) {
  int k;
  const char *reason = NULL;
  if (L->l3) reason = "its operands are (partly) in L3: it streams through L2 (dory/l3.h)";
  for (k = 0; k < L->n_inputs && !reason; ++k)
    if (!map_dense(&L->in[k], L->c_in))
      reason = "an input is a channel slice of a larger tensor (the kernels read dense tensors)";
  if (!reason && !map_dense(&L->out, L->c_out))
    reason = "the output is a channel slice of a concatenation (the kernels write dense tensors)";
  if (!reason && L->l2_direct_scratch_bytes > l1_bytes)
    reason = "the kernel's scratch for the whole layer does not fit L1";
  if (why) *why = reason;
  return reason == NULL;
}

void dory_layer_whole_extent(const dory_layer *L, dory_tile_extent *e) {
  dory_layer whole = *L;
  whole.tile_c_out = L->c_out;
  whole.tile_h = L->h_out;
  whole.tile_w = L->w_out;
  whole.tile_c_in = L->c_in;
  dory_layer_tile_extent(&whole, 0, e);
}
