/* dory/layer.h - one tiled layer as data (dory_layer), its tile geometry, and THE double-buffered schedule.
 *
 * The code generator (src/codegen) writes one `const dory_layer` per layer: shapes, where every tensor lives in
 * L2, the tile sizes the tiler chose, the L1 offset of every buffer copy (tiler/l1_layout.h, the very layout the
 * tiler checked), the buffering, and the kernel's constant arguments. Nothing about a layer is code: the same
 * executor runs every layer, and the compiler's static checker (src/codegen/schedule_check.h) links this very
 * file to enumerate the schedule it proves safe, so what is checked is what runs.
 *
 * Tiles (the loop nest of tiler/tile.h, mirrored here in C and cross-checked by tests/codegen): for each output-
 * channel tile (outer), output-row tile, output-column tile, input-channel tile (inner); tile i has index
 * (co, h, w, ci) with i = ((co*n_h + h)*n_w + w)*n_ci + ci. dory_layer_tile_extent gives a tile's output box,
 * the clipped input box and the padding applied at that tile; dory_layer_tile_loads / _store give its DMA
 * transfers exactly as tiler/transfers.h's tile_loads / tile_stores (the cost model prices these transfers):
 *   loads of tile i  input boxes (every operand) when i = 0 or the input changes at every step,
 *                    the weight slice when i = 0 or (co, ci) changed, bias and requant records when co changed;
 *   store of tile i  the output box, when ci is the last input-channel tile.
 *
 * Schedule (dory_layer_schedule; docs/cost-model.md prices it slot by slot):
 *   prologue   core 0 issues LD_0 into copy 0 of every buffer and waits; barrier
 *   slot i     core 0 issues O_i = [ST_{i-1} if the output is double buffered]
 *                                 ++ [the loads of LD_{i+1} into double-buffered buffers: the copy not in use]
 *              every core computes tile i on the copies in use;                                     barrier
 *              core 0 waits O_i, then issues and waits Z_i = [loads of LD_{i+1} into single buffers]
 *                                                          ++ [ST_i if the output is single buffered]; barrier
 *              a buffer that received LD_{i+1} switches to that copy; the output switches after each store
 *   epilogue   core 0 issues and waits ST_{n-1} if the output is double buffered
 * So a load never targets a copy that a computation reads, a store never reads a copy being computed, and every
 * computation reads only data that core 0 waited for before a barrier. src/codegen/schedule_check.cpp proves
 * these properties for every generated layer from the event stream this function emits.
 *
 * C99, no allocation, no HAL calls (the ops do the work): usable on every platform and inside the compiler.
 */
#ifndef DORY_LAYER_H
#define DORY_LAYER_H

#include <stdint.h>

#include "dory/hal.h"
#include "dory/kernels.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What a layer computes (selects the kernel). */
typedef enum {
  DORY_LAYER_CONV = 0,
  DORY_LAYER_POINTWISE = 1,
  DORY_LAYER_DEPTHWISE = 2,
  DORY_LAYER_FC = 3,
  DORY_LAYER_MAXPOOL = 4,
  DORY_LAYER_AVGPOOL = 5,
  DORY_LAYER_ADD = 6,
  DORY_LAYER_REQUANTIZE = 7
} dory_layer_kind;

/* Roles of the L1 buffers (tiler/l1_layout.h BufferRole, same order). */
typedef enum {
  DORY_BUF_INPUT = 0,
  DORY_BUF_WEIGHTS = 1,
  DORY_BUF_BIAS = 2,
  DORY_BUF_REQUANT = 3,
  DORY_BUF_OUTPUT = 4,
  DORY_BUF_PSUM = 5,
  DORY_BUF_SCRATCH = 6           /* the kernel's own scratch (registry "scratch"), one copy */
} dory_buffer_role;

/* One L1 buffer: `copies` (0 = absent, 1, or 2 when double buffered) copies of `bytes` each, at offsets from
 * dory_l1_base(). */
typedef struct {
  uint32_t offset[2];
  uint32_t bytes;
  uint8_t copies;
} dory_l1_buffer;

/* A feature map in L2 in HWC order: element (h, w, c) of the map is at
 *   l2_offset + ((h * map_w + w) * pixel_stride + c) * elem bytes   from dory_l2_base()
 * where pixel_stride >= the map's channels (larger when the map is a channel slice of a concatenation, whose
 * first channel l2_offset then points at). */
typedef struct {
  uint32_t l2_offset;
  int32_t pixel_stride;
  uint8_t type; /* dory_dtype */
} dory_l2_map;

#define DORY_LAYER_MAX_INPUTS DORY_ADD_MAX_OPERANDS

typedef struct {
  const char *name;
  uint8_t kind;            /* dory_layer_kind */
  /* shape (fc: c_in input features, c_out outputs, h = w = 1; element-wise layers on flat tensors: c = all) */
  int32_t c_in, h_in, w_in, c_out, h_out, w_out;
  int32_t kh, kw, stride_h, stride_w;
  dory_pad pad;            /* the layer's padding (top, left, bottom, right) */
  uint8_t channels_tied;   /* depthwise, pool, add, requantize: a tile reads the channels it writes */

  /* L2 */
  int32_t n_inputs;
  dory_l2_map in[DORY_LAYER_MAX_INPUTS];
  dory_l2_map out;
  uint32_t weights_l2;     /* [c_out][kh][kw][c_in] int8 (depthwise [c_out][kh][kw]); unused without weights */
  uint32_t bias_l2;        /* [c_out] int32 */
  uint32_t requant_l2;     /* [c_out][k] records (kernels.h), rq_bytes_per_cout each */
  uint32_t weight_bytes_per_cout;  /* per output channel for the full input: kh*kw*c_in (depthwise kh*kw), 0 */
  uint32_t bias_bytes_per_cout;    /* 4 for MAC layers, else 0 */
  uint32_t rq_bytes_per_cout;      /* 0 when the requantization is per tensor */

  /* tiling: body tile sizes (the last tile of a dimension takes the rest) and buffering */
  int32_t tile_c_out, tile_h, tile_w, tile_c_in;
  uint8_t db_input, db_weights, db_output;  /* bias and requant records follow the weights */
  dory_l1_buffer l1_in[DORY_LAYER_MAX_INPUTS], l1_weights, l1_bias, l1_requant, l1_out, l1_psum, l1_scratch;

  /* kernel constants */
  int32_t input_zero_point;
  uint8_t has_requant;           /* MAC layers: 0 writes raw int32 accumulators */
  dory_requant_args rq;          /* channel_params is set per tile to the L1 records */
  uint8_t has_pad_value;         /* max pool */
  int32_t pad_value;             /* max pool, average pool */
  uint8_t count_include_pad;     /* average pool */
  const dory_requant_divisor *count_div;  /* average pool: see dory_avgpool_args */
  int32_t count_div_first, count_div_len;
  dory_add_operand add_op[DORY_ADD_MAX_OPERANDS];  /* add: the operands' constants (in is set per tile) */
  uint8_t split;                 /* DORY_SPLIT_ROWS, DORY_SPLIT_CHANNELS or DORY_SPLIT_AUTO */
  dory_kernel_fn kernel;         /* the registry kernel that computes every tile (the member of the layer's kind:
                                    .conv for conv/pointwise/depthwise); NULL in the compiler's own copies */

  /* L2-direct execution (dory_layer_run_l2_direct: the paper's "L2 fetching", no tiles and no DMA): the scratch
   * the kernel then needs at the start of L1 (its scratch function for the whole layer; 0 when it needs none) */
  uint32_t l2_direct_scratch_bytes;

  /* A layer that streams from L3 (dory/l3.h): its two-level description, run by dory_l3_layer_run (the generated
   * network.c does; dory_layer_run refuses it, so that only applications with L3 layers link the L3 runtime). The
   * fields above then describe the whole layer for reports and checks (shape, output type,
   * name, modeled cycles; the tile sizes are its L3 tiles': output channel block and row band) and its L1 fields
   * are unused: each L3 tile runs as a sub-layer of its own. NULL for every other layer. */
  const struct dory_l3_layer_s *l3;

  /* what the cost model predicts (printed next to what was measured): tiled, and L2-direct (eval/eval.h) */
  uint64_t modeled_cycles;
  uint64_t l2_direct_modeled_cycles;
  uint64_t macs;
} dory_layer;

/* ---- tiles -------------------------------------------------------------------------------------------------- */

typedef struct {
  int32_t n_co, n_h, n_w, n_ci;
} dory_tile_counts;

/* Half-open boxes: [c_out0, c_out0 + c_out) and so on. */
typedef struct {
  int32_t index;                 /* linear index */
  int32_t co, h, w, ci;          /* tile coordinates */
  int32_t c_out0, c_out, h_out0, h_out, w_out0, w_out;  /* output box */
  int32_t c_in0, c_in, h_in0, h_in, w_in0, w_in;        /* input box actually read (clipped) */
  dory_pad pad;                  /* padding applied at this tile */
  uint8_t first, last;           /* first / last input-channel tile of its output tile */
} dory_tile_extent;

dory_tile_counts dory_layer_tile_counts(const dory_layer *L);
int32_t dory_layer_tile_total(const dory_layer *L);
void dory_layer_tile_extent(const dory_layer *L, int32_t i, dory_tile_extent *e);
/* The tile that computes output element (h, w, c) (its last input-channel tile: where the value is final). */
int32_t dory_layer_tile_of(const dory_layer *L, int32_t h, int32_t w, int32_t c);

/* One transfer between an L1 buffer copy (dense) and L2: `l2_offset` from dory_l2_base(), the L2 side strided
 * as `planes` planes of `rows` rows of `row_bytes` (tiler/transfers.h TileTransfer; offsets here are absolute). */
typedef struct {
  uint8_t role;                  /* dory_buffer_role */
  uint8_t operand;               /* input operand (DORY_BUF_INPUT) */
  uint8_t dir;                   /* DORY_DMA_L2_TO_L1 or DORY_DMA_L1_TO_L2 */
  uint32_t l2_offset;
  uint32_t row_bytes, rows, row_stride, planes, plane_stride;
} dory_transfer;

#define DORY_LAYER_MAX_LOADS (DORY_LAYER_MAX_INPUTS + 3)

/* The loads of tile i in issue order (inputs by operand, weights, bias, requant); returns their number. */
int dory_layer_tile_loads(const dory_layer *L, int32_t i, dory_transfer out[DORY_LAYER_MAX_LOADS]);
/* The store of tile i; returns 1, or 0 when the tile is not the last input-channel tile. */
int dory_layer_tile_store(const dory_layer *L, int32_t i, dory_transfer *out);

/* The L1 buffer of a role (operand for inputs), or NULL when the layer has none. */
const dory_l1_buffer *dory_layer_l1_buffer(const dory_layer *L, uint8_t role, int operand);

/* ---- the schedule ------------------------------------------------------------------------------------------- */

/* The copies of every buffer a computation uses. */
typedef struct {
  uint8_t in[DORY_LAYER_MAX_INPUTS];
  uint8_t weights, bias, requant; /* each switches only when it is reloaded (bias and records per c_out tile) */
  uint8_t out;
} dory_tile_copies;

/* What a transfer is for (the static checker and the trace use it). */
typedef struct {
  dory_transfer t;
  int32_t tile;                  /* the tile it loads for / stores from */
  uint8_t copy;                  /* the L1 buffer copy */
} dory_scheduled_transfer;

typedef struct {
  void *ctx;
  /* core 0 only: start a transfer (the descriptor is ready to issue), wait for one */
  dory_dma_job (*dma_start)(void *ctx, const dory_dma_desc *desc, const dory_scheduled_transfer *x);
  void (*dma_wait)(void *ctx, dory_dma_job job);
  /* every core: compute tile e on the given copies; synchronize */
  void (*compute)(void *ctx, const dory_layer *L, const dory_tile_extent *e, const dory_tile_copies *c);
  void (*barrier)(void *ctx);
  /* fault injection for tests: skip the wait with this 0-based index in the layer (-1: none) */
  int32_t skip_wait;
} dory_schedule_ops;

/* Runs the schedule of L as core `core` (every core of the cluster calls it with the same ops). l1 and l2 are the
 * bases the descriptors' offsets are added to. */
void dory_layer_schedule(const dory_layer *L, int core, uint8_t *l1, uint8_t *l2, const dory_schedule_ops *ops);

/* ---- execution on a platform (runtime/executor/executor.c; needs the HAL and the kernels) ------------------ */

/* Runs L on the cluster: fork, the schedule with the HAL's DMA and barrier and the kernels, join. L->l3 must be
 * NULL (a layer that streams from L3 runs with dory_l3_layer_run). */
void dory_layer_run(const dory_layer *L);

/* dory_layer_run in two halves (dory_cluster_start / dory_cluster_join): the main program may issue L3 transfers
 * between them (the next L3 tile's loads, the next layer's prefetch) while the cluster computes; L must stay
 * unchanged until the join. */
void dory_layer_start(const dory_layer *L);
/* dory_layer_start of L when L is a copy of the previous run's descriptor changed only in its L2 offsets
 * (in[k].l2_offset, out.l2_offset, weights_l2, bias_l2, requant_l2): the next sub-layer of an L3 layer of the same
 * template (dory/l3.h; the caller knows). The main program stores those into the cores' copy of the descriptor
 * instead of the cores taking all of it; an L of another kernel than the previous starts as dory_layer_start. */
void dory_layer_start_moved(const dory_layer *L);
void dory_layer_join(void);

/* One computation of the schedule: builds the kernel's arguments for tile e on copies c and calls the kernel
 * (every core calls it; each computes its share). */
void dory_layer_compute(const dory_layer *L, const dory_tile_extent *e, const dory_tile_copies *c, uint8_t *l1);

/* Fault injection (tests only): the next dory_layer_run skips the wait with this index (-1: none). */
void dory_layer_inject_skip_wait(int32_t wait_index);

/* ---- the executor's own cycle split (compiled in with -DDORY_CYCLE_SPLIT) ------------------------------------
 *
 * Every core splits its time in a dory_layer_run by what it was doing, reading dory_cycles() (PULP-open: the
 * core's cluster cycle counter) at every boundary of the schedule's operations: each read (a "lap") charges the
 * cycles since the previous read to the operation that just ended, so every cycle from the core's first read (at
 * the start of its task) to its last (at the end) is charged exactly once:
 *   compute    inside the kernel call of a tile (dory_layer_compute)
 *   dma_wait   core 0: inside dory_dma_wait (the engine not done yet; pushing the job's remaining commands)
 *   dma_issue  core 0: inside dory_dma_start (validating the descriptor, pushing its first commands)
 *   barrier    inside dory_barrier: waiting for the other cores (load imbalance; the other cores wait here while
 *              core 0 waits for the DMA)
 *   other      the rest: the schedule's bookkeeping (tile extents, transfers, buffer copies) and the laps' reads
 * The sum over the categories is the core's task time minus the few instructions before the first and after the
 * last read. A lap costs one dory_cycles() call and a few instructions (measured: docs/results.md); without
 * DORY_CYCLE_SPLIT there is none and dory_layer_last_split returns 0. */
enum {
  DORY_SPLIT_COMPUTE = 0,
  DORY_SPLIT_DMA_WAIT = 1,
  DORY_SPLIT_DMA_ISSUE = 2,
  DORY_SPLIT_BARRIER = 3,
  DORY_SPLIT_OTHER = 4,
  DORY_SPLIT_CATEGORIES = 5
};
#define DORY_SPLIT_MAX_CORES 16 /* cores beyond it are not recorded */

typedef struct {
  uint32_t cores; /* cores recorded: min(dory_core_count(), DORY_SPLIT_MAX_CORES) */
  uint32_t cycles[DORY_SPLIT_MAX_CORES][DORY_SPLIT_CATEGORIES]; /* dory_cycles() units, per core and category */
} dory_cycle_split;

/* The split of the last dory_layer_run into *out: returns 1, or 0 when the runtime was compiled without
 * DORY_CYCLE_SPLIT (then *out is zeroed). */
int dory_layer_last_split(dory_cycle_split *out);

/* ---- L1-resident execution (the other baseline of the DORY paper's evaluation: "L1 fetching") ----------------
 *
 * Runs L's schedule on the cluster with every transfer synchronous (core 0 starts and waits for each one when the
 * schedule issues it) and each tile's computation timed apart from everything else: a barrier, core 0 reads
 * dory_cycles(), every core computes, a barrier, core 0 reads again. No transfer is in flight while a tile
 * computes, and the returned number is the sum of those computation phases (dory_cycles() units): the kernels on
 * operands already in L1, without DMA. When L is one tile (a layer that fits L1 whole, deployed as one
 * single-buffered tile), that is the whole layer's L1-resident time; otherwise it is the compute-only time of its
 * tiles. Each phase includes one barrier's exit latency. Bit-exact with dory_layer_run (the same kernels on the
 * same values; the outputs are stored to L2 as usual). */
uint64_t dory_layer_run_l1_resident(const dory_layer *L);

/* ---- L2-direct execution (the baseline of the DORY paper's evaluation: "L2 fetching") ------------------------- */

/* Whether L can run with its operands in L2: every map it reads and writes is dense (pixel_stride == channels; a
 * channel slice of a concatenation is not, and the kernels take dense tensors) and the kernel's scratch fits
 * an L1 of l1_bytes. Returns 1, or 0 with *why (if not NULL) set to a static explanation. */
int dory_layer_l2_direct_supported(const dory_layer *L, uint32_t l1_bytes, const char **why);

/* The whole layer as one tile: the extent dory_layer_tile_extent gives tile 0 of L with every tile size set to
 * the layer's (first = last = 1, the layer's padding). */
void dory_layer_whole_extent(const dory_layer *L, dory_tile_extent *e);

/* Runs L once on the cluster with every kernel operand where it lives in L2 (inputs, weights, bias, requant
 * records, output: the kernels read and write L2 directly, no DMA) and the kernel's scratch at the start of
 * L1. The kernel call is dory_layer_whole_extent's with the input box widened to the whole map (the L2 rows'
 * pitch; a stride may leave trailing rows or columns no window reads out of the clipped box). Needs dory_layer_l2_direct_supported(L, dory_l1_size()); panics otherwise. Bit-exact with dory_layer_run
 * (the same kernels on the same values). */
void dory_layer_run_l2_direct(const dory_layer *L);

#ifdef __cplusplus
}
#endif

#endif /* DORY_LAYER_H */
