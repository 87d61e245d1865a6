/* dory/l3.h - a layer whose operands do not all fit L2: its L3 tiles (dory_l3_layer) and THE two-level schedule.
 *
 * A layer streams from L3 when its weights, or one of its feature maps, live in L3 (the memory plan decides,
 * src/memplan/l3_memplan.h). The tiler cuts it into L3 tiles (src/tiler/l3_plan.h): output-row BANDS (outer) and
 * output-channel BLOCKS (inner); tile t = band * n_blocks + block. Each L3 tile runs as an ordinary layer of its
 * own, a SUB-LAYER (a dory_layer, tiled L2 -> L1 by the runtime's double-buffered executor exactly as any other
 * layer), on operands that are either where they live in L2 or in an L2 STAGING buffer that the L3 schedule fills
 * from L3 (and empties to L3) around it:
 *   inputs   an input in L2: the band's input rows where the map is (a tied layer's block: its channel slice);
 *            an input in L3: the band's input rows (with the halo the window needs, all channels), loaded into
 *            the input staging buffer of that operand;
 *   weights  in L2: the block's slice of the constants; in L3: the block's weights, bias and requantization
 *            records loaded into the weight, bias and requant staging buffers;
 *   output   in L2: the band's rows and the block's channels where the map is; in L3: written into the output
 *            staging buffer (the whole band, all channels: the blocks of a band fill it), stored to L3 once the
 *            band's last block has run.
 * A sub-layer is a template (`subs`, one per class of band x class of block: bands differ at the borders, where
 * the padding and the clipped input rows differ; blocks in the last one's size) whose L2 offsets the schedule
 * sets for each tile. Everything here is a function of the descriptor: no tables per tile.
 *
 * Loads of tile t (LD3_t, in this order): every input in L3 when t starts a band; the weights, bias and requant
 *   records in L3 when t = 0 or the block changes (every tile when n_blocks > 1). Store of tile t (ST3_t): the
 *   output band when the output is in L3 and t is its band's last block. Copies: a staging buffer has two copies
 *   when it is loaded (stored) more than once, and alternates between them; else one.
 * Schedule (dory_l3_schedule, run by the main program: on PULP the fabric controller, while the cluster computes):
 *   prologue   issue LD3_0 (except the parts prefetched by the previous layer); wait for all of it
 *   slot t     issue O3_t = ST3_{t-1} ++ LD3_{t+1} (into the copies not in use); run sub-layer t (the cluster);
 *              wait for O3_t
 *   epilogue   issue and wait for ST3_{last}
 * so an L3 load never targets a copy a sub-layer is using, a store never reads a band still being computed, and a
 * sub-layer runs only on data waited for. docs/cost-model.md ("Two levels") prices this schedule;
 * src/codegen/schedule_check.cpp runs this very function with recording ops and proves it.
 *
 * Cross-layer prefetch: when `prefetch_weights` is set, the first weight block (LD3_0's weights, bias and
 * requant records) is issued by dory_l3_prefetch_start while the PREVIOUS layer runs (its staging copy 0 is
 * reserved for it over both layers by the memory plan), and the prologue waits for those jobs instead of
 * issuing them.
 *
 * C99, no allocation, no HAL calls in the schedule (the ops do the work): usable inside the compiler.
 */
#ifndef DORY_L3_H
#define DORY_L3_H

#include <stdint.h>

#include "dory/hal.h"
#include "dory/layer.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Roles of the L2 staging buffers (tiler/l3_plan.h L3StagingRole, same order). */
typedef enum {
  DORY_STAGE_INPUT = 0, /* one per input operand */
  DORY_STAGE_WEIGHTS = 1,
  DORY_STAGE_BIAS = 2,
  DORY_STAGE_REQUANT = 3,
  DORY_STAGE_OUTPUT = 4
} dory_stage_role;

/* One L2 staging buffer: `copies` (0 = absent, 1 or 2) copies of `bytes` each at L2 offsets (from dory_l2_base()),
 * each 8-byte aligned and reserving `bytes` rounded up to a multiple of 4 (an L3 -> L2 transfer writes whole
 * words). */
typedef struct {
  uint32_t offset[2];
  uint32_t bytes;
  uint8_t copies;
} dory_l2_stage;

/* Where a tensor or a constant lives. */
enum { DORY_IN_L2 = 0, DORY_IN_L3 = 1 };

typedef struct dory_l3_layer_s {
  const char *name;
  /* the whole layer, as tiler/geometry.h sees it (fc: h = w = 1) */
  int32_t c_in, h_in, w_in, c_out, h_out, w_out;
  int32_t kh, stride_h, pad_top;
  uint8_t channels_tied;
  int32_t n_inputs;
  /* inputs: where (DORY_IN_L2: offset from dory_l2_base() of the map's first channel, pixel stride as in
   * dory_l2_map; DORY_IN_L3: offset in L3 of a dense map), element bytes */
  uint8_t in_where[DORY_LAYER_MAX_INPUTS];
  uint32_t in_offset[DORY_LAYER_MAX_INPUTS];
  int32_t in_pixel_stride[DORY_LAYER_MAX_INPUTS];
  uint8_t in_elem_bytes[DORY_LAYER_MAX_INPUTS];
  uint8_t out_where;
  uint32_t out_offset;
  int32_t out_pixel_stride;
  uint8_t out_elem_bytes;
  /* constants: where (L2: offsets from dory_l2_base(); L3: offsets in L3), bytes per output channel */
  uint8_t weights_where;
  uint32_t weights, bias, requant;
  uint32_t weight_bytes_per_cout, bias_bytes_per_cout, rq_bytes_per_cout;
  /* the L3 tiling: body sizes (the last band / block takes the rest) */
  int32_t tile_c_out, tile_h;
  /* the L2 staging buffers */
  dory_l2_stage stage_in[DORY_LAYER_MAX_INPUTS], stage_weights, stage_bias, stage_requant, stage_out;
  /* sub-layer templates [band class][block class] and the class of every band (blocks: 0 body, 1 last when it
   * is smaller) */
  int32_t n_band_classes, n_block_classes;
  const uint8_t *band_class;
  const dory_layer *subs;
  uint8_t prefetch_weights;
  /* the cost model's prediction of the whole layer and the bytes it moves between L3 and L2 */
  uint64_t modeled_cycles;
  uint64_t l3_bytes;
} dory_l3_layer;

typedef struct {
  int32_t n_bands, n_blocks;
} dory_l3_counts;

dory_l3_counts dory_l3_tile_counts(const dory_l3_layer *L);
int32_t dory_l3_tile_total(const dory_l3_layer *L);

/* One L3 tile: band rows [h0, h0 + h) of the output, channels [c0, c0 + c), and the input rows its windows read
 * (clipped to the map) with the padding applied there (tiler/tile.h axis_window). */
typedef struct {
  int32_t index, band, block;
  int32_t h0, h, c0, c;
  int32_t in_h0, in_h;
  int32_t pad_top, pad_bottom;
} dory_l3_extent;

void dory_l3_tile_extent(const dory_l3_layer *L, int32_t t, dory_l3_extent *e);

/* The sub-layer of tile t: the template of its classes with every L2 offset set for the tile (its copies). */
void dory_l3_sub_layer(const dory_l3_layer *L, int32_t t, dory_layer *out);

/* The template (index into subs) of tile t's sub-layer: two tiles of the same template differ only in their L2
 * offsets. */
int32_t dory_l3_sub_template(const dory_l3_layer *L, int32_t t);

/* One L3 transfer and what it is for. */
typedef struct {
  uint8_t role;     /* dory_stage_role */
  uint8_t operand;  /* DORY_STAGE_INPUT */
  uint8_t dir;      /* DORY_L3_TO_L2 or DORY_L2_TO_L3 */
  uint8_t copy;     /* the staging copy */
  int32_t tile;     /* the L3 tile it loads for / stores from */
  uint32_t l2_offset, l3_offset, bytes;
} dory_l3_transfer;

#define DORY_L3_MAX_LOADS (DORY_LAYER_MAX_INPUTS + 3)

/* The loads of tile t in issue order (inputs by operand, weights, bias, requant); returns their number. */
int dory_l3_tile_loads(const dory_l3_layer *L, int32_t t, dory_l3_transfer out[DORY_L3_MAX_LOADS]);
/* The store of tile t: 1, or 0 when it stores nothing. */
int dory_l3_tile_store(const dory_l3_layer *L, int32_t t, dory_l3_transfer *out);
/* Whether a load of tile 0 is one the prefetch issues (the weights, bias and requant records). */
int dory_l3_prefetched(const dory_l3_layer *L, const dory_l3_transfer *x);

typedef struct {
  void *ctx;
  dory_dma_job (*l3_start)(void *ctx, const dory_l3_desc *desc, const dory_l3_transfer *x);
  void (*l3_wait)(void *ctx, dory_dma_job job);
  /* starts sub-layer `sub` (tile t) on the cluster; `sub` stays unchanged until the join. kept: `sub` is of the
   * previous tile's template, which the cores hold: only its L2 offsets are new (dory_layer_start_moved) */
  void (*start_sub)(void *ctx, const dory_l3_layer *L, int32_t t, const dory_layer *sub, int kept);
  /* returns when the sub-layer started last is done */
  void (*join_sub)(void *ctx);
  /* called once, while the last sub-layer runs, after the layer's last L3 load was issued: where the main program
   * does the next layer's part ahead (its prefetch, behind this layer's own loads on the L3 engine, and its first
   * descriptor; NULL: nothing to do) */
  void (*after_last_load)(void *ctx);
} dory_l3_ops;

/* The jobs of a prefetch (dory_l3_prefetch_issue), handed to the layer's schedule. */
typedef struct {
  int32_t n;
  dory_dma_job jobs[3];
} dory_l3_prefetch;

/* Issues the prefetched loads of tile 0 into *pf (nothing unless L->prefetch_weights). */
void dory_l3_prefetch_issue(const dory_l3_layer *L, uint8_t *l2, const dory_l3_ops *ops, dory_l3_prefetch *pf);

/* Runs the two-level schedule of L (the main program). pf: the prefetch's jobs, or NULL when L does not prefetch.
 * Per L3 tile t: the sub-layer starts; while it runs, the main program issues the store of tile t-1 and the loads of
 * tile t+1 (or, at the last tile, calls after_last_load) and makes tile t+1's descriptor ready; the sub-layer is
 * joined; those transfers are waited for. first: tile 0's descriptor (dory_l3_sub_layer(L, 0, ...)) made ready by
 * the caller while the previous layer ran, or NULL. */
void dory_l3_schedule(const dory_l3_layer *L, uint8_t *l2, const dory_l3_ops *ops, const dory_l3_prefetch *pf,
                      const dory_layer *first);

/* ---- on a platform (runtime/executor/l3_executor.c) ------------------------------------------------------- */

/* What the main program does for an L3 layer while the layer before it runs (dory_l3_layer_ahead): the prefetch of
 * its first weight block (when it prefetches) and its first sub-layer's descriptor. */
typedef struct {
  const dory_l3_layer *L; /* the layer it was done for */
  dory_l3_prefetch pf;
  dory_layer first;
} dory_l3_ahead;

/* Runs L with the HAL: L3 transfers by dory_l3_start/wait, every sub-layer by dory_layer_start/join. mine: what was
 * done ahead for L (NULL: nothing); next, next_ahead: the layer after L and where to do its part ahead while L's
 * last sub-layer runs (NULL: no L3 layer follows). mine and next_ahead must be different objects. */
void dory_l3_layer_run(const dory_l3_layer *L, const dory_l3_ahead *mine, const dory_l3_layer *next,
                       dory_l3_ahead *next_ahead);
/* Fault injection (dory's tests): the next dory_l3_layer_run skips its wait_index-th L3 wait (0-based, in the
 * order the schedule waits; the prefetch handed to it counts among them); -1: none. The platform must notice: stale
 * staging data, or a job still in flight at shutdown. */
void dory_l3_inject_skip_wait(int32_t wait_index);
/* L's part ahead into *a: starts the prefetch of its first weight block with the HAL (when L prefetches) and makes
 * its first sub-layer's descriptor ready. */
void dory_l3_layer_ahead(const dory_l3_layer *L, dory_l3_ahead *a);

/* Copies n bytes at offset `l3` of L3 into dst (main program; through `bounce`, an L2 buffer of bounce_bytes >= 8,
 * 4-byte aligned): how a check reads a tensor that lives in L3. */
void dory_l3_read(void *dst, uint32_t l3, uint32_t n, uint8_t *bounce, uint32_t bounce_bytes);
/* Writes n bytes of src at offset `l3` of L3 (through the bounce buffer in L2). */
void dory_l3_write(uint32_t l3, const void *src, uint32_t n, uint8_t *bounce, uint32_t bounce_bytes);

#ifdef __cplusplus
}
#endif

#endif /* DORY_L3_H */
