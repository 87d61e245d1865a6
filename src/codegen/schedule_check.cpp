#include "codegen/schedule_check.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <array>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "target/cost_model.h"
#include "tiler/l1_layout.h"
#include "tiler/l3_plan.h"
#include "tiler/tile.h"
#include "tiler/transfers.h"

namespace dory {

namespace {

static_assert(static_cast<int>(BufferRole::Input) == DORY_BUF_INPUT &&
                  static_cast<int>(BufferRole::Weights) == DORY_BUF_WEIGHTS &&
                  static_cast<int>(BufferRole::Bias) == DORY_BUF_BIAS &&
                  static_cast<int>(BufferRole::RequantParams) == DORY_BUF_REQUANT &&
                  static_cast<int>(BufferRole::Output) == DORY_BUF_OUTPUT &&
                  static_cast<int>(BufferRole::PartialSums) == DORY_BUF_PSUM &&
                  static_cast<int>(BufferRole::Scratch) == DORY_BUF_SCRATCH,
              "dory_buffer_role must follow tiler/l1_layout.h BufferRole");

constexpr const char* kCode = "schedule-invalid";
constexpr const char* kHint =
    "this is a bug in dory (code generator or runtime schedule) or a corrupted descriptor; please report it with "
    "the model and the command line";

// Fake bases the recorded descriptors' pointers are built on (never dereferenced); offsets are recovered by
// subtracting them.
constexpr uintptr_t kL1Base = 0x10000000u;
constexpr uintptr_t kL2Base = 0x20000000u;

// Buffer keys: input operands 0 .. DORY_LAYER_MAX_INPUTS-1, then one per other role.
constexpr int kKeyWeights = DORY_LAYER_MAX_INPUTS;
constexpr int kKeyBias = kKeyWeights + 1;
constexpr int kKeyRequant = kKeyWeights + 2;
constexpr int kKeyOutput = kKeyWeights + 3;
constexpr int kKeyPsum = kKeyWeights + 4;
constexpr int kKeyIm2col = kKeyWeights + 5;
constexpr int kKeys = kKeyWeights + 6;
static_assert(kKeys <= 16, "issued masks are 16 bits");

int key_of(int role, int operand) {
  switch (role) {
    case DORY_BUF_INPUT: return operand >= 0 && operand < DORY_LAYER_MAX_INPUTS ? operand : -1;
    case DORY_BUF_WEIGHTS: return kKeyWeights;
    case DORY_BUF_BIAS: return kKeyBias;
    case DORY_BUF_REQUANT: return kKeyRequant;
    case DORY_BUF_OUTPUT: return kKeyOutput;
    case DORY_BUF_PSUM: return kKeyPsum;
    case DORY_BUF_SCRATCH: return kKeyIm2col;
    default: return -1;
  }
}
int role_of_key(int key) { return key < kKeyWeights ? DORY_BUF_INPUT : DORY_BUF_WEIGHTS + (key - kKeyWeights); }

struct Region {
  int64_t lo = -1, hi = -1;  // [lo, hi) in L2; lo < 0: none
  std::string what;
};

struct Slot {
  int key = -1, copy = 0;
  int64_t offset = 0, bytes = 0;
  int last_load = -1;                             // the last job loading into it
  int64_t written_tile = -1, written_epoch = -1;  // the last compute writing it
};

struct Job {
  int key = -1, copy = 0, slot = -1;
  bool store = false;
  int64_t tile = -1, bytes = 0;
  int64_t start_epoch = 0, wait_epoch = -1;
  bool waited = false;
};

struct ComputeRec {
  int64_t tile = 0;
  std::array<int, 12> reads{}, writes{};
  std::array<int, 12> read_keys{}, write_keys{};
  std::array<int, 12> read_copies{}, write_copies{};
  int n_reads = 0, n_writes = 0;
};

struct Box {
  int64_t h0, h1, w0, w1, c0, c1, tile;
};

// What one core did, for the comparison between cores: a compute (tile, packed copies) or a barrier (tile -1).
struct CoreEvent {
  int64_t tile = -1;
  uint64_t copies = 0;
  bool operator==(const CoreEvent&) const = default;
};

uint64_t pack_copies(const dory_tile_copies& c) {
  uint64_t v = 0;
  for (int k = 0; k < DORY_LAYER_MAX_INPUTS; ++k) v |= static_cast<uint64_t>(c.in[k]) << (8 * k);
  v |= static_cast<uint64_t>(c.weights) << 32 | static_cast<uint64_t>(c.bias) << 40 |
       static_cast<uint64_t>(c.requant) << 48 | static_cast<uint64_t>(c.out) << 56;
  return v;
}

std::string box_str(int64_t c0, int64_t c1, int64_t h0, int64_t h1, int64_t w0, int64_t w1) {
  return fmt::format("c [{}, {}) x h [{}, {}) x w [{}, {})", c0, c1, h0, h1, w0, w1);
}

std::string extent_str(const dory_tile_extent& e) {
  return fmt::format("out {}, in {}, pad {}/{}/{}/{}, first {}, last {}",
                     box_str(e.c_out0, e.c_out0 + e.c_out, e.h_out0, e.h_out0 + e.h_out, e.w_out0, e.w_out0 + e.w_out),
                     box_str(e.c_in0, e.c_in0 + e.c_in, e.h_in0, e.h_in0 + e.h_in, e.w_in0, e.w_in0 + e.w_in),
                     e.pad.top, e.pad.left, e.pad.bottom, e.pad.right, e.first, e.last);
}

std::string extent_str(const TileExtent& x, bool first) {
  return fmt::format("out {}, in {}, pad {}/{}/{}/{}, first {}, last {}",
                     box_str(x.c_out.begin, x.c_out.end, x.h_out.begin, x.h_out.end, x.w_out.begin, x.w_out.end),
                     box_str(x.c_in.begin, x.c_in.end, x.h_in.begin, x.h_in.end, x.w_in.begin, x.w_in.end), x.pad.top,
                     x.pad.left, x.pad.bottom, x.pad.right, first ? 1 : 0, x.last_c_in ? 1 : 0);
}

bool same_extent(const dory_tile_extent& e, const TileExtent& x, bool first) {
  return e.c_out0 == x.c_out.begin && e.c_out == x.c_out.size() && e.h_out0 == x.h_out.begin &&
         e.h_out == x.h_out.size() && e.w_out0 == x.w_out.begin && e.w_out == x.w_out.size() &&
         e.c_in0 == x.c_in.begin && e.c_in == x.c_in.size() && e.h_in0 == x.h_in.begin && e.h_in == x.h_in.size() &&
         e.w_in0 == x.w_in.begin && e.w_in == x.w_in.size() && e.pad.top == x.pad.top && e.pad.left == x.pad.left &&
         e.pad.bottom == x.pad.bottom && e.pad.right == x.pad.right && (e.first != 0) == first &&
         (e.last != 0) == x.last_c_in;
}

std::string transfer_str(const dory_transfer& t) {
  return fmt::format("L2 offset {}, {} plane(s) x {} row(s) x {} B (row stride {}, plane stride {})", t.l2_offset,
                     t.planes, t.rows, t.row_bytes, t.row_stride, t.plane_stride);
}

std::string transfer_str(int64_t l2, const DmaPattern& p) {
  return fmt::format("L2 offset {}, {} plane(s) x {} row(s) x {} B (row stride {}, plane stride {})", l2, p.planes,
                     p.rows, p.row_bytes, p.row_stride, p.plane_stride);
}

bool same_transfer(const dory_transfer& t, int64_t l2, const DmaPattern& p) {
  if (static_cast<int64_t>(t.l2_offset) != l2 || static_cast<int64_t>(t.row_bytes) != p.row_bytes ||
      static_cast<int64_t>(t.rows) != p.rows || static_cast<int64_t>(t.planes) != p.planes)
    return false;
  if (t.rows > 1 && static_cast<int64_t>(t.row_stride) != p.row_stride) return false;        // strides of count 1 are
  if (t.planes > 1 && static_cast<int64_t>(t.plane_stride) != p.plane_stride) return false;  // ignored
  return true;
}

dory_layer_kind expected_kind(const Layer& l, KernelFamily f) {
  switch (f) {
    case KernelFamily::Conv: return DORY_LAYER_CONV;
    case KernelFamily::Pointwise: return DORY_LAYER_POINTWISE;
    case KernelFamily::Depthwise: return DORY_LAYER_DEPTHWISE;
    case KernelFamily::Fc: return DORY_LAYER_FC;
    case KernelFamily::Pool: return l.as<MaxPool>() ? DORY_LAYER_MAXPOOL : DORY_LAYER_AVGPOOL;
    case KernelFamily::Add: return l.as<Add>() ? DORY_LAYER_ADD : DORY_LAYER_REQUANTIZE;
  }
  return DORY_LAYER_CONV;
}

// What the L1 checker checks a descriptor against: the plan, where in L2 the C++ side (the memory plan, the
// constants' layout; for an L3 tile its sub-map or staging copy) puts each role's map or constant (`base`: the
// address transfers are relative to; `regions`: the bytes transfers may touch), the L1 size.
struct LayerCheckContext {
  const Target* target = nullptr;
  const Layer* layer = nullptr;
  std::string location;  // "layer 'x'" or "layer 'x' L3 tile 3"
  const TilePlan* plan = nullptr;
  int64_t l1_bytes = 0;
  std::array<int64_t, kKeys> base{};
  std::array<Region, kKeys> regions{};
};

// The context of an ordinary layer of the deployment.
LayerCheckContext l2_layer_context(const Deployment& dep, size_t index, const ScheduleCheckOptions& opt) {
  const DeployedLayer& dl = dep.layers.at(index);
  const Layer& l = dep.graph.layers.at(static_cast<size_t>(dl.layer_index));
  const LayerGeometry& geo = dl.plan.geometry;
  LayerCheckContext c;
  c.target = &dep.target;
  c.layer = &l;
  c.location = fmt::format("layer '{}'", l.name);
  c.plan = &dl.plan;
  c.l1_bytes = opt.l1_bytes > 0 ? opt.l1_bytes : dep.l1_bytes;
  c.base.fill(-1);
  for (size_t k = 0; k < l.inputs.size() && k < static_cast<size_t>(kKeyWeights); ++k) {
    const TensorId id = l.inputs[k];
    Region& r = c.regions[k];
    if (const StorageClass* sc = dep.memory.class_of(id)) {
      r.lo = sc->offset;
      r.hi = sc->offset + sc->bytes;
      c.base[k] = sc->offset;
    }
    r.what = fmt::format("the storage of input tensor '{}'", dep.graph.tensor(id).name);
  }
  auto constant = [&](int key, int64_t off, int64_t bytes, const char* what) {
    Region& r = c.regions[static_cast<size_t>(key)];
    if (off >= 0 && bytes > 0) {
      r.lo = off;
      r.hi = off + bytes;
    }
    c.base[static_cast<size_t>(key)] = off;
    r.what = fmt::format("the layer's {}", what);
  };
  constant(kKeyWeights, dl.weights_offset, geo.c_out * geo.weight_bytes_per_cout(geo.c_in), "weights");
  constant(kKeyBias, dl.bias_offset, geo.c_out * geo.bias_bytes_per_cout, "bias");
  constant(kKeyRequant, dl.requant_offset, geo.c_out * geo.requant_bytes_per_cout, "requant records");
  Region& o = c.regions[kKeyOutput];
  if (const StorageClass* sc = dep.memory.class_of(l.output)) {
    o.lo = sc->offset;
    o.hi = sc->offset + sc->bytes;
    c.base[kKeyOutput] = sc->offset;
  }
  o.what = fmt::format("the storage of output tensor '{}'", dep.graph.tensor(l.output).name);
  return c;
}

class Checker {
 public:
  Checker(const LayerCheckContext& ctx, const dory_layer& d, const ScheduleCheckOptions& opt)
      : ctx_(ctx),
        layer_(*ctx.layer),
        plan_(*ctx.plan),
        geo_(plan_.geometry),
        d_(d),
        opt_(opt),
        l1_bytes_(ctx.l1_bytes),
        counts_(tile_counts(geo_, plan_.shape)),
        total_(counts_.total()) {}

  Status run(ScheduleCheckStats* stats) {
    if (validate_descriptor() && matches_geometry() && check_layout() && check_extents() && setup_regions()) {
      run_core0();
      if (!err_ && finish_core0() && compare_core1()) check_coverage();
    }
    if (stats) {
      stats->layers += 1;
      stats->transfers += stat_transfers_;
      stats->waits += stat_waits_;
      stats->computes += stat_computes_;
      stats->bytes += stat_bytes_;
    }
    if (err_) return *err_;
    return ok_status();
  }

  // ---- the recording ops (core 0) ----

  dory_dma_job on_start(const dory_dma_desc* desc, const dory_scheduled_transfer* x) {
    if (err_) return 0;
    ++stat_transfers_;
    const int id = admit(desc, x);
    return id < 0 ? 0 : static_cast<dory_dma_job>(id + 1);
  }

  void on_wait(dory_dma_job job) {
    if (err_) return;
    ++stat_waits_;
    const int64_t j = static_cast<int64_t>(job) - 1;
    if (j < 0 || j >= static_cast<int64_t>(jobs_.size())) {
      fail(-1, fmt::format("a wait for job {}, which was never started", job));
      return;
    }
    Job& o = jobs_[static_cast<size_t>(j)];
    if (o.waited) {
      fail(o.tile, fmt::format("job {} ({}) is waited for twice", job, job_str(o)));
      return;
    }
    o.waited = true;
    o.wait_epoch = epoch_;
    in_flight_.erase(std::find(in_flight_.begin(), in_flight_.end(), static_cast<int>(j)));
  }

  void on_compute(const dory_layer* L, const dory_tile_extent* e, const dory_tile_copies* c) {
    if (err_) return;
    ++stat_computes_;
    log0_.push_back({e->index, pack_copies(*c)});
    compute(L, e, c);
  }

  void on_barrier() {
    log0_.push_back({-1, 0});
    if (err_) return;
    end_epoch();
    ++epoch_;
    active_ = in_flight_;
    computes_.clear();
  }

  std::vector<CoreEvent> log0_;

 private:
  // A transfer starts: checks it, records the job; its index, or -1 after failing.
  int admit(const dory_dma_desc* desc, const dory_scheduled_transfer* x) {
    const dory_transfer& t = x->t;
    const int64_t tile = x->tile;
    if (tile < 0 || tile >= total_)
      return reject(tile, fmt::format("a transfer names tile {}; the layer has {} tiles", tile, total_));
    const int key = key_of(t.role, t.operand);
    if (key < 0 || key >= kKeyPsum || (key < kKeyWeights && key >= d_.n_inputs))
      return reject(tile,
                    fmt::format("a transfer of tile {} names buffer role {} operand {}: only the inputs (operands "
                                "0 to {}), weights, bias, requant and output buffers are moved by DMA",
                                tile, t.role, t.operand, d_.n_inputs - 1));
    const bool store = key == kKeyOutput;
    const std::string what = fmt::format("the {} of {} for tile {}", store ? "store" : "load", key_name(key), tile);
    const uint8_t want_dir = store ? DORY_DMA_L1_TO_L2 : DORY_DMA_L2_TO_L1;
    if (t.dir != want_dir || desc->dir != want_dir)
      return reject(tile, fmt::format("{} has direction {} (descriptor {}): {} must be {}", what, t.dir, desc->dir,
                                      key_name(key), store ? "stored L1 -> L2" : "loaded L2 -> L1"));
    const int slot = resolve(key, x->copy, tile, what);
    if (slot < 0) return -1;
    const Slot& s = slots_[static_cast<size_t>(slot)];
    const std::string copy_name = slot_name(key, x->copy);

    // the dory_dma_desc is the transfer: counts, the L1 side dense at the copy's first byte, the L2 side
    if (t.row_bytes < 1 || t.rows < 1 || t.planes < 1)
      return reject(tile, fmt::format("{} has an empty count: {} (every count must be >= 1)", what, transfer_str(t)));
    if (desc->row_bytes != t.row_bytes || desc->rows != t.rows || desc->planes != t.planes)
      return reject(tile, fmt::format("{}: the DMA descriptor moves {} plane(s) x {} row(s) x {} B, the transfer {}",
                                      what, desc->planes, desc->rows, desc->row_bytes, transfer_str(t)));
    const auto l1p = reinterpret_cast<uintptr_t>(store ? desc->src : desc->dst);
    const auto l2p = reinterpret_cast<uintptr_t>(store ? desc->dst : desc->src);
    const uint32_t l1_row = store ? desc->src_row_stride : desc->dst_row_stride;
    const uint32_t l1_plane = store ? desc->src_plane_stride : desc->dst_plane_stride;
    const uint32_t l2_row = store ? desc->dst_row_stride : desc->src_row_stride;
    const uint32_t l2_plane = store ? desc->dst_plane_stride : desc->src_plane_stride;
    if (l1p != kL1Base + static_cast<uintptr_t>(s.offset))
      return reject(tile, fmt::format("{}: the DMA descriptor's L1 side is at offset {}, not at {} (offset {})", what,
                                      static_cast<int64_t>(l1p - kL1Base), copy_name, s.offset));
    if ((t.rows > 1 && l1_row != t.row_bytes) ||
        (t.planes > 1 && static_cast<uint64_t>(l1_plane) != static_cast<uint64_t>(t.row_bytes) * t.rows))
      return reject(tile, fmt::format("{}: the L1 side is not dense (row stride {}, plane stride {} for rows of {} B)",
                                      what, l1_row, l1_plane, t.row_bytes));
    const int64_t dense = static_cast<int64_t>(t.row_bytes) * t.rows * t.planes;
    if (dense > s.bytes)
      return reject(tile, fmt::format("{} moves {} B but {} holds {} B", what, dense, copy_name, s.bytes));
    if (l2p != kL2Base + t.l2_offset || (t.rows > 1 && l2_row != t.row_stride) ||
        (t.planes > 1 && l2_plane != t.plane_stride))
      return reject(tile, fmt::format("{}: the DMA descriptor's L2 side (offset {}, strides {}, {}) is not the "
                                      "transfer's ({})",
                                      what, static_cast<int64_t>(l2p - kL2Base), l2_row, l2_plane, transfer_str(t)));

    // the L2 side stays inside its region; a store's rows do not overlap
    const int64_t l2_lo = t.l2_offset;
    const int64_t l2_hi = l2_lo + (t.planes > 1 ? static_cast<int64_t>(t.planes - 1) * t.plane_stride : 0) +
                          (t.rows > 1 ? static_cast<int64_t>(t.rows - 1) * t.row_stride : 0) + t.row_bytes;
    const Region& r = regions_[static_cast<size_t>(key)];
    if (r.lo < 0)
      return reject(tile, fmt::format("{} touches L2 [{}, {}), but the layer has no {} in L2", what, l2_lo, l2_hi,
                                      key_name(key)));
    if (l2_lo < r.lo || l2_hi > r.hi)
      return reject(tile, fmt::format("{} {} L2 [{}, {}), outside {} [{}, {})", what, store ? "writes" : "reads", l2_lo,
                                      l2_hi, r.what, r.lo, r.hi));
    if (store) {
      const bool rows_ok = t.rows == 1 || t.row_stride >= t.row_bytes;
      const bool planes_ok = t.planes == 1 || static_cast<int64_t>(t.plane_stride) >=
                                                  (t.rows > 1 ? static_cast<int64_t>(t.rows - 1) * t.row_stride : 0) +
                                                      static_cast<int64_t>(t.row_bytes);
      if (!rows_ok || !planes_ok)
        return reject(tile, fmt::format("{}: its destination rows overlap ({})", what, transfer_str(t)));
    }

    // exactly the transfer the cost model priced, issued once
    if (!matches_cxx(key, tile, t, what)) return -1;
    uint16_t& mask = issued_[static_cast<size_t>(tile)];
    if (mask & (1u << key)) return reject(tile, fmt::format("{} is issued a second time", what));
    mask = static_cast<uint16_t>(mask | (1u << key));

    // hazards at the start
    for (int j : in_flight_) {
      const Job& o = jobs_[static_cast<size_t>(j)];
      if (o.slot == slot && (!store || !o.store))
        return reject(tile, fmt::format("{} on {} starts while job {} ({}) on the same bytes is in flight", what,
                                        copy_name, j + 1, job_str(o)));
    }
    if (store) {
      if (s.written_tile < 0)
        return reject(tile, fmt::format("{} reads {}, which no compute has written", what, copy_name));
      if (s.written_tile != tile)
        return reject(tile, fmt::format("{} reads {}, whose last compute was tile {}: the tile's output was "
                                        "overwritten or is not computed yet",
                                        what, copy_name, s.written_tile));
      if (s.written_epoch >= epoch_)
        return reject(tile, fmt::format("{} reads {}, written by the compute of tile {} with no barrier in between: "
                                        "a store may only read an output copy computed before a barrier that "
                                        "precedes it",
                                        what, copy_name, tile));
      Box b;
      if (!output_box(t, tile, what, b)) return -1;
      boxes_.push_back(b);
    }
    if (static_cast<int64_t>(in_flight_.size()) + 1 > DORY_DMA_MAX_OUTSTANDING)
      return reject(tile,
                    fmt::format("{} would be job {} in flight on the {} engine; DORY_DMA_MAX_OUTSTANDING = {}", what,
                                in_flight_.size() + 1, l1_l2_engine(*ctx_.target).name, DORY_DMA_MAX_OUTSTANDING));

    Job job;
    job.key = key;
    job.copy = x->copy;
    job.slot = slot;
    job.store = store;
    job.tile = tile;
    job.bytes = dense;
    job.start_epoch = epoch_;
    jobs_.push_back(job);
    const int id = static_cast<int>(jobs_.size()) - 1;
    if (!store) slots_[static_cast<size_t>(slot)].last_load = id;
    in_flight_.push_back(id);
    active_.push_back(id);
    stat_bytes_ += dense;
    return id;
  }

  // A compute: checks what it reads and writes, records it for the end of its epoch.
  bool compute(const dory_layer* L, const dory_tile_extent* e, const dory_tile_copies* c) {
    const int64_t t = e->index;
    if (L != &d_) return fail(t, "a compute was given another layer's descriptor");
    if (t != next_tile_)
      return fail(t, fmt::format("the schedule computes tile {} where tile {} comes next (every tile once, in order)",
                                 t, next_tile_));
    if (t >= total_) return fail(t, fmt::format("the schedule computes tile {} of {}", t, total_));
    ++next_tile_;
    const TileIndex ti = tile_index(counts_, t);
    const TileExtent x = tile_extent(geo_, plan_.shape, ti);
    if (!same_extent(*e, x, ti.ci == 0))
      return fail(t, fmt::format("the compute's extent ({}) is not the plan's tile_extent ({})", extent_str(*e),
                                 extent_str(x, ti.ci == 0)));

    // every load of this tile was issued; which tile's data each loaded role must hold now
    const std::vector<TileTransfer>& lds = cxx_loads(t);
    uint16_t want = 0;
    for (const TileTransfer& tr : lds) {
      const int key = key_of(static_cast<int>(tr.role), tr.operand);
      want = static_cast<uint16_t>(want | (1u << key));
      need_tile_[static_cast<size_t>(key)] = t;
    }
    const uint16_t have = static_cast<uint16_t>(issued_[static_cast<size_t>(t)] & ~(1u << kKeyOutput));
    if (have != want)
      for (const TileTransfer& tr : lds) {
        const int key = key_of(static_cast<int>(tr.role), tr.operand);
        if (!(have & (1u << key)))
          return fail(t, fmt::format("the compute of tile {} starts before the load of {} for tile {} was issued "
                                     "(tile_loads has it)",
                                     t, key_name(key), t));
      }

    ComputeRec rec;
    rec.tile = t;
    const bool in_box = e->h_in > 0 && e->w_in > 0 && e->c_in > 0;
    for (int k = 0; k < d_.n_inputs && in_box; ++k)
      if (!read_loaded(rec, k, c->in[k],
                       static_cast<int64_t>(e->h_in) * e->w_in * e->c_in * dory_dtype_bytes(d_.in[k].type)))
        return false;
    if (geo_.weight_bytes_per_cout(1) > 0 &&
        !read_loaded(rec, kKeyWeights, c->weights, geo_.weight_bytes_per_cout(e->c_in) * e->c_out))
      return false;
    if (geo_.bias_bytes_per_cout > 0 && !read_loaded(rec, kKeyBias, c->bias, geo_.bias_bytes_per_cout * e->c_out))
      return false;
    if (geo_.requant_bytes_per_cout > 0 &&
        !read_loaded(rec, kKeyRequant, c->requant, geo_.requant_bytes_per_cout * e->c_out))
      return false;
    const int64_t pixels = static_cast<int64_t>(e->h_out) * e->w_out * e->c_out;
    const bool has_psum = d_.l1_psum.copies > 0;
    if (!(e->first && e->last) && !has_psum)
      return fail(t, fmt::format("the input channels are tiled (tile {} is not both first and last) but the "
                                 "descriptor has no psum buffer",
                                 t));
    if (has_psum && !e->first) {
      const int slot = use(rec, kKeyPsum, 0, pixels * 4, false);
      if (slot < 0) return false;
      const Slot& s = slots_[static_cast<size_t>(slot)];
      if (s.written_tile != t - 1)
        return fail(t, fmt::format("the compute of tile {} reads the partial sums of tile {}, not those of tile {}", t,
                                   s.written_tile, t - 1));
      if (s.written_epoch >= epoch_)
        return fail(t, fmt::format("the compute of tile {} reads the partial sums of tile {} with no barrier in "
                                   "between",
                                   t, t - 1));
    }
    if (use(rec, kKeyOutput, c->out, pixels * dory_dtype_bytes(d_.out.type), true) < 0) return false;
    if (has_psum && use(rec, kKeyPsum, 0, pixels * 4, true) < 0) return false;
    if (d_.l1_scratch.copies > 0 && use(rec, kKeyIm2col, 0, 0, true) < 0) return false;
    for (int w = 0; w < rec.n_writes; ++w) {
      Slot& s = slots_[static_cast<size_t>(rec.writes[static_cast<size_t>(w)])];
      s.written_tile = t;
      s.written_epoch = epoch_;
    }
    computes_.push_back(rec);
    return true;
  }

  // ---- helpers ----

  // Records the first violation; returns false (reject: -1) for the caller to return.
  bool fail(int64_t tile, std::string msg) {
    if (err_) return false;
    std::string loc = tile >= 0 ? fmt::format("{} tile {}", ctx_.location, tile) : ctx_.location;
    err_ = make_internal_error(kCode, std::move(loc), std::move(msg), kHint);
    return false;
  }
  int reject(int64_t tile, std::string msg) {
    fail(tile, std::move(msg));
    return -1;
  }

  std::string key_name(int key) const {
    if (key < kKeyWeights) return d_.n_inputs > 1 ? fmt::format("input {}", key) : std::string("input");
    return buffer_role_name(static_cast<BufferRole>(role_of_key(key)));
  }
  std::string slot_name(int key, int copy) const { return fmt::format("{} copy {}", key_name(key), copy); }
  std::string job_str(const Job& o) const {
    return fmt::format("{} of {} for tile {} {} {}", o.store ? "store" : "load", key_name(o.key), o.tile,
                       o.store ? "from" : "into", slot_name(o.key, o.copy));
  }

  const dory_l1_buffer& buffer(int key) const {
    if (key < kKeyWeights) return d_.l1_in[key];
    switch (key) {
      case kKeyWeights: return d_.l1_weights;
      case kKeyBias: return d_.l1_bias;
      case kKeyRequant: return d_.l1_requant;
      case kKeyOutput: return d_.l1_out;
      case kKeyPsum: return d_.l1_psum;
      default: return d_.l1_scratch;
    }
  }

  // The slot a (buffer, copy) names: copies 0 .. copies-1, or copy 1 of a single-copy buffer when it is the alias
  // of copy 0 deploy writes (offset[1] == offset[0]). -1 (after failing) otherwise.
  int resolve(int key, int copy, int64_t tile, const std::string& what) {
    const dory_l1_buffer& b = buffer(key);
    if (b.copies == 0)
      return reject(tile, fmt::format("{} uses {}, but the descriptor has no {} buffer", what, slot_name(key, copy),
                                      key_name(key)));
    if (copy < 0 || copy > 1)
      return reject(tile, fmt::format("{} uses {}: a buffer has copies 0 and 1 at most", what, slot_name(key, copy)));
    if (copy >= b.copies && b.offset[copy] != b.offset[0])
      return reject(tile, fmt::format("{} uses {} of a buffer with {} copy, at offset {}, which is not copy 0's ({})",
                                      what, slot_name(key, copy), b.copies, b.offset[copy], b.offset[0]));
    return slot_of_[static_cast<size_t>(key)][static_cast<size_t>(copy < b.copies ? copy : 0)];
  }

  // The compute touches (key, copy): its box of `need` bytes must fit; records the slot. Returns it or -1.
  int use(ComputeRec& rec, int key, int copy, int64_t need, bool write) {
    const std::string what = fmt::format("the compute of tile {}", rec.tile);
    const int slot = resolve(key, copy, rec.tile, what);
    if (slot < 0) return -1;
    const Slot& s = slots_[static_cast<size_t>(slot)];
    if (need > s.bytes)
      return reject(rec.tile, fmt::format("{} {} {} B of {}, which holds {} B", what, write ? "writes" : "reads", need,
                                          slot_name(key, copy), s.bytes));
    if (write) {
      rec.writes[static_cast<size_t>(rec.n_writes)] = slot;
      rec.write_keys[static_cast<size_t>(rec.n_writes)] = key;
      rec.write_copies[static_cast<size_t>(rec.n_writes++)] = copy;
    } else {
      rec.reads[static_cast<size_t>(rec.n_reads)] = slot;
      rec.read_keys[static_cast<size_t>(rec.n_reads)] = key;
      rec.read_copies[static_cast<size_t>(rec.n_reads++)] = copy;
    }
    return slot;
  }

  // A read of a DMA-loaded copy: it must hold the data of the latest tile that loads the role, waited for before
  // a barrier that precedes this compute.
  bool read_loaded(ComputeRec& rec, int key, int copy, int64_t need) {
    const int slot = use(rec, key, copy, need, false);
    if (slot < 0) return false;
    const int64_t t = rec.tile;
    const std::string name = slot_name(key, copy);
    const int64_t want = need_tile_[static_cast<size_t>(key)];
    if (want < 0)
      return fail(
          t, fmt::format("the compute of tile {} reads {}, but no tile up to {} loads {}", t, name, t, key_name(key)));
    const int j = slots_[static_cast<size_t>(slot)].last_load;
    if (j < 0)
      return fail(t, fmt::format("the compute of tile {} reads {}, which no load has filled (it needs the data "
                                 "loaded for tile {})",
                                 t, name, want));
    const Job& o = jobs_[static_cast<size_t>(j)];
    if (o.key != key || o.tile != want)
      return fail(t, fmt::format("the compute of tile {} reads {}, which holds the data of job {} ({}), but it needs "
                                 "the {} loaded for tile {}: stale copy",
                                 t, name, j + 1, job_str(o), key_name(key), want));
    if (!o.waited)
      return fail(t, fmt::format("the compute of tile {} reads {} before its load (job {}, {}) was waited for", t, name,
                                 j + 1, job_str(o)));
    if (o.wait_epoch >= epoch_)
      return fail(t, fmt::format("the compute of tile {} reads {} before its load (job {}, {}) was waited for and "
                                 "followed by a barrier (waited in the same barrier interval)",
                                 t, name, j + 1, job_str(o)));
    return true;
  }

  // The computes of the epoch that ends run concurrently with every job in flight during it.
  bool end_epoch() {
    for (const ComputeRec& c : computes_)
      for (int j : active_) {
        const Job& o = jobs_[static_cast<size_t>(j)];
        for (int w = 0; w < c.n_writes; ++w)
          if (c.writes[static_cast<size_t>(w)] == o.slot)
            return fail(c.tile, fmt::format("the compute of tile {} writes {} while job {} ({}) is in flight (not "
                                            "waited for before a barrier)",
                                            c.tile,
                                            slot_name(c.write_keys[static_cast<size_t>(w)],
                                                      c.write_copies[static_cast<size_t>(w)]),
                                            j + 1, job_str(o)));
        if (o.store) continue;
        for (int r = 0; r < c.n_reads; ++r)
          if (c.reads[static_cast<size_t>(r)] == o.slot)
            return fail(c.tile, fmt::format("the compute of tile {} reads {} while job {} ({}) is in flight (not "
                                            "waited for before a barrier)",
                                            c.tile,
                                            slot_name(c.read_keys[static_cast<size_t>(r)],
                                                      c.read_copies[static_cast<size_t>(r)]),
                                            j + 1, job_str(o)));
      }
    return true;
  }

  const std::vector<TileTransfer>& cxx_loads(int64_t tile) {
    if (loads_tile_ != tile) {
      loads_ = tile_loads(geo_, plan_.shape, tile);
      loads_tile_ = tile;
    }
    return loads_;
  }

  int64_t cxx_base(int key) const { return ctx_.base[static_cast<size_t>(key)]; }

  bool matches_cxx(int key, int64_t tile, const dory_transfer& t, const std::string& what) {
    std::vector<TileTransfer> st;
    const std::vector<TileTransfer>* list = nullptr;
    if (key == kKeyOutput) {
      st = tile_stores(geo_, plan_.shape, tile);
      list = &st;
    } else {
      list = &cxx_loads(tile);
    }
    for (const TileTransfer& x : *list)
      if (key_of(static_cast<int>(x.role), x.operand) == key) {
        const int64_t l2 = cxx_base(key) + x.l2_offset_bytes;
        if (same_transfer(t, l2, x.pattern)) return true;
        return fail(tile, fmt::format("{} is {}, but {} gives {} (schedule.c and tiler/transfers.h disagree, or "
                                      "the descriptor is not the plan's)",
                                      what, transfer_str(t), key == kKeyOutput ? "tile_stores" : "tile_loads",
                                      transfer_str(l2, x.pattern)));
      }
    return fail(tile, fmt::format("{} ({}) is not in the plan's {} of tile {}", what, transfer_str(t),
                                  key == kKeyOutput ? "tile_stores" : "tile_loads", tile));
  }

  // The box of the output map a store writes (its channel slice: base + out_channel_offset, pixel stride).
  bool output_box(const dory_transfer& t, int64_t tile, const std::string& what, Box& b) {
    const int64_t eb = geo_.out_elem_bytes, stride = geo_.out_stride();
    const int64_t base = ctx_.base[kKeyOutput] + geo_.out_channel_offset * eb;
    const int64_t rel = static_cast<int64_t>(t.l2_offset) - base;
    const bool strides_ok =
        (t.rows == 1 || t.row_stride == stride * eb) && (t.planes == 1 || t.plane_stride == geo_.w_out * stride * eb);
    if (rel < 0 || rel % eb != 0 || t.row_bytes % eb != 0 || !strides_ok)
      return fail(tile, fmt::format("{} ({}) is not a box of the layer's output map (first element at L2 {}, pixel "
                                    "stride {} x {} B, {} columns)",
                                    what, transfer_str(t), base, stride, eb, geo_.w_out));
    const int64_t q = rel / eb, pix = q / stride;
    b.c0 = q % stride;
    b.c1 = b.c0 + t.row_bytes / eb;
    b.w0 = pix % geo_.w_out;
    b.w1 = b.w0 + t.rows;
    b.h0 = pix / geo_.w_out;
    b.h1 = b.h0 + t.planes;
    b.tile = tile;
    if (b.c1 > geo_.c_out || b.w1 > geo_.w_out || b.h1 > geo_.h_out)
      return fail(tile, fmt::format("{} writes output elements {}, outside the layer's output {}", what,
                                    box_str(b.c0, b.c1, b.h0, b.h1, b.w0, b.w1),
                                    box_str(0, geo_.c_out, 0, geo_.h_out, 0, geo_.w_out)));
    return true;
  }

  // ---- the phases ----

  bool validate_descriptor() {
    auto bad = [&](const char* field, int64_t v, const std::string& rule) {
      fail(-1, fmt::format("descriptor field {} = {} is out of range ({})", field, v, rule));
      return false;
    };
    if (d_.n_inputs < 1 || d_.n_inputs > DORY_LAYER_MAX_INPUTS)
      return bad("n_inputs", d_.n_inputs, fmt::format("1 to {}", DORY_LAYER_MAX_INPUTS));
    if (static_cast<size_t>(d_.n_inputs) != layer_.inputs.size() || d_.n_inputs != geo_.num_inputs())
      return bad("n_inputs", d_.n_inputs, fmt::format("the layer has {} inputs", layer_.inputs.size()));
    const std::pair<const char*, int32_t> positive[] = {{"c_in", d_.c_in},
                                                        {"h_in", d_.h_in},
                                                        {"w_in", d_.w_in},
                                                        {"c_out", d_.c_out},
                                                        {"h_out", d_.h_out},
                                                        {"w_out", d_.w_out},
                                                        {"kh", d_.kh},
                                                        {"kw", d_.kw},
                                                        {"stride_h", d_.stride_h},
                                                        {"stride_w", d_.stride_w},
                                                        {"tile_c_out", d_.tile_c_out},
                                                        {"tile_h", d_.tile_h},
                                                        {"tile_w", d_.tile_w},
                                                        {"tile_c_in", d_.tile_c_in}};
    for (const auto& [field, v] : positive)
      if (v < 1) return bad(field, v, ">= 1");
    const std::pair<const char*, std::pair<int32_t, int32_t>> tiles[] = {{"tile_c_out", {d_.tile_c_out, d_.c_out}},
                                                                         {"tile_h", {d_.tile_h, d_.h_out}},
                                                                         {"tile_w", {d_.tile_w, d_.w_out}},
                                                                         {"tile_c_in", {d_.tile_c_in, d_.c_in}}};
    for (const auto& [field, v] : tiles)  // tile.h: a body tile is no larger than its extent
      if (v.first > v.second) return bad(field, v.first, fmt::format("<= its extent {}", v.second));
    const std::pair<const char*, int32_t> pads[] = {
        {"pad.top", d_.pad.top}, {"pad.left", d_.pad.left}, {"pad.bottom", d_.pad.bottom}, {"pad.right", d_.pad.right}};
    for (const auto& [field, v] : pads)
      if (v < 0) return bad(field, v, ">= 0");
    const int64_t kInt32Max = std::numeric_limits<int32_t>::max();
    for (int k = 0; k < d_.n_inputs; ++k) {
      if (d_.in[k].type > DORY_INT32) return bad("in[].type", d_.in[k].type, "a dory_dtype");
      if (d_.in[k].pixel_stride < d_.c_in) return bad("in[].pixel_stride", d_.in[k].pixel_stride, ">= c_in");
      if (static_cast<int64_t>(d_.h_in) * d_.w_in * d_.in[k].pixel_stride * 4 > kInt32Max)
        return bad("in[].pixel_stride", d_.in[k].pixel_stride, "the map's bytes must fit 31 bits");
    }
    if (d_.out.type > DORY_INT32) return bad("out.type", d_.out.type, "a dory_dtype");
    if (d_.out.pixel_stride < d_.c_out) return bad("out.pixel_stride", d_.out.pixel_stride, ">= c_out");
    if (static_cast<int64_t>(d_.h_out) * d_.w_out * d_.out.pixel_stride * 4 > kInt32Max)
      return bad("out.pixel_stride", d_.out.pixel_stride, "the map's bytes must fit 31 bits");
    if (static_cast<int64_t>(d_.c_out) * d_.weight_bytes_per_cout > kInt32Max)
      return bad("c_out", d_.c_out, "the weights' bytes must fit 31 bits");
    for (int key = 0; key < kKeys; ++key)
      if ((key >= kKeyWeights || key < d_.n_inputs) && buffer(key).copies > 2)
        return bad("l1 buffer copies", buffer(key).copies, fmt::format("{} buffer: 0, 1 or 2", key_name(key)));
    const int64_t n = ((int64_t{d_.c_out} + d_.tile_c_out - 1) / d_.tile_c_out) *
                      ((int64_t{d_.h_out} + d_.tile_h - 1) / d_.tile_h) *
                      ((int64_t{d_.w_out} + d_.tile_w - 1) / d_.tile_w) *
                      (d_.channels_tied ? 1 : (int64_t{d_.c_in} + d_.tile_c_in - 1) / d_.tile_c_in);
    if (n > (int64_t{1} << 24)) return bad("tile sizes: tiles", n, "at most 2^24 tiles");
    const dory_layer_kind kind = expected_kind(layer_, geo_.family);
    if (d_.kind != kind)
      return bad("kind", d_.kind,
                 fmt::format("the layer's kernel family {} runs kind {}", kernel_family_name(geo_.family),
                             static_cast<int>(kind)));
    return true;
  }

  // The layer the descriptor describes is the planned one: shapes, window, element sizes, pixel strides and
  // per-channel constant sizes equal the plan's geometry (the tile sizes are compared tile by tile, check_extents;
  // the L2 offsets transfer by transfer).
  bool matches_geometry() {
    const LayerGeometry& g = geo_;
    const std::pair<const char*, std::pair<int64_t, int64_t>> fields[] = {
        {"c_in", {d_.c_in, g.c_in}},
        {"h_in", {d_.h_in, g.h_in}},
        {"w_in", {d_.w_in, g.w_in}},
        {"c_out", {d_.c_out, g.c_out}},
        {"h_out", {d_.h_out, g.h_out}},
        {"w_out", {d_.w_out, g.w_out}},
        {"kh", {d_.kh, g.kh}},
        {"kw", {d_.kw, g.kw}},
        {"stride_h", {d_.stride_h, g.stride_h}},
        {"stride_w", {d_.stride_w, g.stride_w}},
        {"pad.top", {d_.pad.top, g.pad.top}},
        {"pad.left", {d_.pad.left, g.pad.left}},
        {"pad.bottom", {d_.pad.bottom, g.pad.bottom}},
        {"pad.right", {d_.pad.right, g.pad.right}},
        {"channels_tied", {d_.channels_tied != 0, g.channels_tied}},
        {"out.pixel_stride", {d_.out.pixel_stride, g.out_stride()}},
        {"out.type bytes", {dory_dtype_bytes(d_.out.type), g.out_elem_bytes}},
        {"weight_bytes_per_cout", {d_.weight_bytes_per_cout, g.weight_bytes_per_cout(g.c_in)}},
        {"bias_bytes_per_cout", {d_.bias_bytes_per_cout, g.bias_bytes_per_cout}},
        {"rq_bytes_per_cout", {d_.rq_bytes_per_cout, g.requant_bytes_per_cout}}};
    auto differs = [&](const std::string& field, int64_t have, int64_t want) {
      return fail(-1, fmt::format("descriptor field {} = {} is not the plan's {} (the descriptor must describe the "
                                  "planned layer)",
                                  field, have, want));
    };
    for (const auto& [field, v] : fields)
      if (v.first != v.second) return differs(field, v.first, v.second);
    for (int k = 0; k < d_.n_inputs; ++k) {
      if (d_.in[k].pixel_stride != g.in_stride(k))
        return differs(fmt::format("in[{}].pixel_stride", k), d_.in[k].pixel_stride, g.in_stride(k));
      const int64_t eb = g.in_elem_bytes[static_cast<size_t>(k)];
      if (dory_dtype_bytes(d_.in[k].type) != eb)
        return differs(fmt::format("in[{}].type bytes", k), dory_dtype_bytes(d_.in[k].type), eb);
    }
    return true;
  }

  bool check_layout() {
    // the slots: every present copy
    for (auto& a : slot_of_) a = {-1, -1};
    for (int key = 0; key < kKeys; ++key) {
      if (key < kKeyWeights && key >= d_.n_inputs) continue;
      const dory_l1_buffer& b = buffer(key);
      for (int c = 0; c < b.copies; ++c) {
        Slot s;
        s.key = key;
        s.copy = c;
        s.offset = b.offset[c];
        s.bytes = b.bytes;
        slot_of_[static_cast<size_t>(key)][static_cast<size_t>(c)] = static_cast<int>(slots_.size());
        slots_.push_back(s);
      }
    }
    int64_t need = 0;
    const Slot* last = nullptr;
    for (const Slot& s : slots_)
      if (s.offset + s.bytes > need) {
        need = s.offset + s.bytes;
        last = &s;
      }
    if (need > l1_bytes_)
      return fail(-1, fmt::format("the layer's L1 buffers need {} B (up to the end of {}), but L1 has {} B", need,
                                  slot_name(last->key, last->copy), l1_bytes_));
    const int64_t align = std::max<int64_t>(1, ctx_.target->l1.alignment_bytes);
    for (const Slot& s : slots_)
      if (s.offset % align != 0)
        return fail(-1, fmt::format("{} is at L1 offset {}, not a multiple of the target's L1 alignment {} B",
                                    slot_name(s.key, s.copy), s.offset, align));
    for (size_t i = 0; i < slots_.size(); ++i)
      for (size_t j = i + 1; j < slots_.size(); ++j) {
        const Slot& a = slots_[i];
        const Slot& b = slots_[j];
        if (a.bytes > 0 && b.bytes > 0 && a.offset < b.offset + b.bytes && b.offset < a.offset + a.bytes)
          return fail(-1,
                      fmt::format("{} at L1 [{}, {}) overlaps {} at L1 [{}, {})", slot_name(a.key, a.copy), a.offset,
                                  a.offset + a.bytes, slot_name(b.key, b.copy), b.offset, b.offset + b.bytes));
      }
    for (const L1Buffer& pb : plan_.layout.buffers) {
      const int key = key_of(static_cast<int>(pb.role), pb.operand);
      if (key < 0 || (key < kKeyWeights && key >= d_.n_inputs) || buffer(key).copies == 0)
        return fail(
            -1, fmt::format("the plan's L1 layout has a {} buffer, the descriptor none", buffer_role_name(pb.role)));
      if (buffer(key).bytes < pb.bytes_per_copy)
        return fail(-1, fmt::format("the descriptor's {} buffer has {} B per copy, the plan's layout {} B",
                                    key_name(key), buffer(key).bytes, pb.bytes_per_copy));
    }
    return true;
  }

  // The runtime's tiling (dory_layer_tile_counts / _extent on the descriptor) is the plan's (tiler/tile.h).
  bool check_extents() {
    const int64_t n = dory_layer_tile_total(&d_);
    if (n != total_)
      return fail(-1, fmt::format("the descriptor has {} tiles (tile c_out {}, h {}, w {}, c_in {}), the plan {} "
                                  "(tile c_out {}, h {}, w {}, c_in {}): the descriptor's tiling is not the plan's",
                                  n, d_.tile_c_out, d_.tile_h, d_.tile_w, d_.tile_c_in, total_, plan_.shape.c_out,
                                  plan_.shape.h_out, plan_.shape.w_out, plan_.shape.c_in));
    for (int64_t i = 0; i < total_; ++i) {
      dory_tile_extent e;
      dory_layer_tile_extent(&d_, static_cast<int32_t>(i), &e);
      const TileIndex ti = tile_index(counts_, i);
      const TileExtent x = tile_extent(geo_, plan_.shape, ti);
      if (!same_extent(e, x, ti.ci == 0))
        return fail(i, fmt::format("the runtime's tile {} (dory_layer_tile_extent: {}) is not the plan's "
                                   "(tile_extent: {}): schedule.c and tiler/tile.h disagree, or the descriptor's "
                                   "tiling is not the plan's",
                                   i, extent_str(e), extent_str(x, ti.ci == 0)));
    }
    return true;
  }

  bool setup_regions() {
    regions_ = ctx_.regions;
    issued_.assign(static_cast<size_t>(total_), 0);
    need_tile_.fill(-1);
    return true;
  }

  void run_core0();
  bool finish_core0() {
    if (!end_epoch()) return false;
    if (!in_flight_.empty()) {
      const int j = in_flight_.front();
      const Job& o = jobs_[static_cast<size_t>(j)];
      return fail(o.tile, fmt::format("job {} ({}) was never waited for", j + 1, job_str(o)));
    }
    if (next_tile_ != total_)
      return fail(-1, fmt::format("the schedule computed {} of the layer's {} tiles", next_tile_, total_));
    for (int64_t i = 0; i < total_; ++i)
      if (!tile_stores(geo_, plan_.shape, i).empty() && !(issued_[static_cast<size_t>(i)] & (1u << kKeyOutput)))
        return fail(i, fmt::format("the output of tile {} is never stored", i));
    return true;
  }
  bool compare_core1();

  // Every output element is stored exactly once (boxes on the grid of all box boundaries).
  bool check_coverage() {
    std::vector<int64_t> hs{0, geo_.h_out}, ws{0, geo_.w_out}, cs{0, geo_.c_out};
    for (const Box& b : boxes_) {
      hs.insert(hs.end(), {b.h0, b.h1});
      ws.insert(ws.end(), {b.w0, b.w1});
      cs.insert(cs.end(), {b.c0, b.c1});
    }
    for (auto* v : {&hs, &ws, &cs}) {
      std::sort(v->begin(), v->end());
      v->erase(std::unique(v->begin(), v->end()), v->end());
    }
    const size_t nh = hs.size() - 1, nw = ws.size() - 1, nc = cs.size() - 1;
    if (static_cast<double>(nh) * static_cast<double>(nw) * static_cast<double>(nc) > double(1 << 26))
      return fail(-1, fmt::format("the stores cut the output into more than 2^26 pieces"));
    std::vector<int64_t> owner(nh * nw * nc, -1);
    auto at = [](const std::vector<int64_t>& v, int64_t x) {
      return static_cast<size_t>(std::lower_bound(v.begin(), v.end(), x) - v.begin());
    };
    for (const Box& b : boxes_)
      for (size_t h = at(hs, b.h0); h < at(hs, b.h1); ++h)
        for (size_t w = at(ws, b.w0); w < at(ws, b.w1); ++w)
          for (size_t c = at(cs, b.c0); c < at(cs, b.c1); ++c) {
            int64_t& o = owner[(h * nw + w) * nc + c];
            if (o >= 0)
              return fail(b.tile, fmt::format("the stores of tiles {} and {} both write output elements {}", o, b.tile,
                                              box_str(cs[c], cs[c + 1], hs[h], hs[h + 1], ws[w], ws[w + 1])));
            o = b.tile;
          }
    for (size_t h = 0; h < nh; ++h)
      for (size_t w = 0; w < nw; ++w)
        for (size_t c = 0; c < nc; ++c)
          if (owner[(h * nw + w) * nc + c] < 0)
            return fail(-1, fmt::format("no store writes output elements {}",
                                        box_str(cs[c], cs[c + 1], hs[h], hs[h + 1], ws[w], ws[w + 1])));
    return true;
  }

  const LayerCheckContext& ctx_;
  const Layer& layer_;
  const TilePlan& plan_;
  const LayerGeometry& geo_;
  const dory_layer& d_;
  const ScheduleCheckOptions& opt_;
  const int64_t l1_bytes_;
  const TileCounts counts_;
  const int64_t total_;

  std::optional<Diagnostic> err_;
  std::vector<Slot> slots_;
  std::array<std::array<int, 2>, kKeys> slot_of_{};
  std::array<Region, kKeys> regions_{};
  std::vector<Job> jobs_;
  std::vector<int> in_flight_, active_;     // active: in flight at some point of the current epoch
  std::vector<ComputeRec> computes_;        // of the current epoch
  std::vector<uint16_t> issued_;            // per tile: the keys of the transfers issued for it
  std::array<int64_t, kKeys> need_tile_{};  // per key: the latest tile (<= the current compute) loading it
  std::vector<Box> boxes_;
  std::vector<TileTransfer> loads_;
  int64_t loads_tile_ = -1;
  int64_t epoch_ = 0, next_tile_ = 0;
  int64_t stat_transfers_ = 0, stat_waits_ = 0, stat_computes_ = 0, stat_bytes_ = 0;
};

// ---- the C ops ----

dory_dma_job rec_start(void* ctx, const dory_dma_desc* desc, const dory_scheduled_transfer* x) {
  return static_cast<Checker*>(ctx)->on_start(desc, x);
}
void rec_wait(void* ctx, dory_dma_job job) { static_cast<Checker*>(ctx)->on_wait(job); }
void rec_compute(void* ctx, const dory_layer* L, const dory_tile_extent* e, const dory_tile_copies* c) {
  static_cast<Checker*>(ctx)->on_compute(L, e, c);
}
void rec_barrier(void* ctx) { static_cast<Checker*>(ctx)->on_barrier(); }

uint8_t* fake(uintptr_t base) { return reinterpret_cast<uint8_t*>(base); }

void Checker::run_core0() {
  dory_schedule_ops ops{};
  ops.ctx = this;
  ops.dma_start = rec_start;
  ops.dma_wait = rec_wait;
  ops.compute = rec_compute;
  ops.barrier = rec_barrier;
  ops.skip_wait = opt_.skip_wait;
  log0_.reserve(static_cast<size_t>(3 * total_ + 2));
  dory_layer_schedule(&d_, 0, fake(kL1Base), fake(kL2Base), &ops);
}

// Core 1: what it computes and where it synchronizes; it must start no DMA.
struct Core1 {
  std::vector<CoreEvent> log;
  int64_t dma_calls = 0;
};
dory_dma_job c1_start(void* ctx, const dory_dma_desc*, const dory_scheduled_transfer*) {
  ++static_cast<Core1*>(ctx)->dma_calls;
  return 0;
}
void c1_wait(void* ctx, dory_dma_job) { ++static_cast<Core1*>(ctx)->dma_calls; }
void c1_compute(void* ctx, const dory_layer*, const dory_tile_extent* e, const dory_tile_copies* c) {
  static_cast<Core1*>(ctx)->log.push_back({e->index, pack_copies(*c)});
}
void c1_barrier(void* ctx) { static_cast<Core1*>(ctx)->log.push_back({-1, 0}); }

bool Checker::compare_core1() {
  Core1 c1;
  c1.log.reserve(log0_.size());
  dory_schedule_ops ops{};
  ops.ctx = &c1;
  ops.dma_start = c1_start;
  ops.dma_wait = c1_wait;
  ops.compute = c1_compute;
  ops.barrier = c1_barrier;
  ops.skip_wait = -1;
  dory_layer_schedule(&d_, 1, fake(kL1Base), fake(kL2Base), &ops);
  if (c1.dma_calls > 0) return fail(-1, fmt::format("core 1 makes {} DMA calls; only core 0 may", c1.dma_calls));
  const size_t n = std::min(c1.log.size(), log0_.size());
  for (size_t i = 0; i < n; ++i)
    if (!(c1.log[i] == log0_[i])) {
      const CoreEvent& a = log0_[i];
      const CoreEvent& b = c1.log[i];
      auto str = [](const CoreEvent& e) {
        return e.tile < 0 ? std::string("a barrier")
                          : fmt::format("the compute of tile {} (copies {:016x})", e.tile, e.copies);
      };
      return fail(
          std::max(a.tile, b.tile),
          fmt::format("core 1 diverges from core 0 at event {}: core 0 reaches {}, core 1 {}", i, str(a), str(b)));
    }
  if (c1.log.size() != log0_.size())
    return fail(-1, fmt::format("core 1 makes {} computes and barriers, core 0 {}", c1.log.size(), log0_.size()));
  return true;
}

}  // namespace

Status check_layer_schedule(const Deployment& dep, size_t index, const dory_layer& desc,
                            const ScheduleCheckOptions& opt, ScheduleCheckStats* stats) {
  DORY_CHECK(index < dep.layers.size(), "check_layer_schedule: layer index out of range");
  const LayerCheckContext ctx = l2_layer_context(dep, index, opt);
  Checker c(ctx, desc, opt);
  return c.run(stats);
}

// ---- the L3 level (dory/l3.h) --------------------------------------------------------------------------------

namespace {

// A byte range [lo, hi) in L2 or L3.
struct Range {
  int64_t lo = -1, hi = -1;
  bool empty() const { return lo < 0 || hi <= lo; }
  bool overlaps(const Range& o) const { return !empty() && !o.empty() && lo < o.hi && o.lo < hi; }
};

std::string range_str(const Range& r) { return fmt::format("[{}, {})", r.lo, r.hi); }

// What the C++ side says about an L3 layer: where each role's data is and what its staging copies are.
struct L3Expect {
  const DeployedLayer* dl = nullptr;
  const Layer* layer = nullptr;
  const L3Plan* lp = nullptr;
  const LayerGeometry* geo = nullptr;
  // per role key (input operands, then weights, bias, requant, output): in L3 or not, the map/constant base (the
  // first channel of a map in L2; the first byte of the map or constant in L3) and the region it may touch
  std::array<bool, kKeys> in_l3{};
  std::array<int64_t, kKeys> base{};
  std::array<Range, kKeys> region{};
  std::array<std::string, kKeys> region_what{};
  std::array<std::array<Range, 2>, kKeys> stage{};  // staging copies (absolute L2; reserved bytes)
  std::array<int, kKeys> stage_copies{};
  std::array<int64_t, kKeys> stage_bytes{};
};

int stage_key(L3StagingRole r, int operand) {
  switch (r) {
    case L3StagingRole::Input: return operand;
    case L3StagingRole::Weights: return kKeyWeights;
    case L3StagingRole::Bias: return kKeyBias;
    case L3StagingRole::RequantParams: return kKeyRequant;
    case L3StagingRole::Output: return kKeyOutput;
  }
  return -1;
}
int stage_key_c(uint8_t role, int operand) {
  switch (role) {
    case DORY_STAGE_INPUT: return operand >= 0 && operand < DORY_LAYER_MAX_INPUTS ? operand : -1;
    case DORY_STAGE_WEIGHTS: return kKeyWeights;
    case DORY_STAGE_BIAS: return kKeyBias;
    case DORY_STAGE_REQUANT: return kKeyRequant;
    case DORY_STAGE_OUTPUT: return kKeyOutput;
    default: return -1;
  }
}

L3Expect l3_expect(const Deployment& dep, size_t index) {
  L3Expect e;
  e.dl = &dep.layers.at(index);
  e.layer = &dep.graph.layers.at(static_cast<size_t>(e.dl->layer_index));
  e.lp = &e.dl->l3->plan;
  e.geo = &e.lp->geometry;
  e.base.fill(-1);
  const Layer& l = *e.layer;
  auto tensor = [&](int key, TensorId t, int64_t channel_offset, const char* what) {
    const bool l3 = dep.tensor_in_l3(t);
    const MemoryPlan& m = l3 ? dep.two_level.l3 : dep.memory;
    e.in_l3[static_cast<size_t>(key)] = l3;
    if (const StorageClass* c = m.class_of(t)) {
      e.region[static_cast<size_t>(key)] = {c->offset, c->offset + c->bytes};
      e.base[static_cast<size_t>(key)] = c->offset + channel_offset * dtype_bytes(dep.graph.tensor(t).dtype);
    }
    e.region_what[static_cast<size_t>(key)] =
        fmt::format("the storage of {} tensor '{}' in {}", what, dep.graph.tensor(t).name, l3 ? "L3" : "L2");
  };
  for (size_t k = 0; k < l.inputs.size(); ++k) tensor(static_cast<int>(k), l.inputs[k], e.geo->in_offset(static_cast<int>(k)), "input");
  tensor(kKeyOutput, l.output, e.geo->out_channel_offset, "output");
  const bool c3 = e.lp->residency.weights_in_l3;
  auto constant = [&](int key, int64_t off, int64_t bytes, const char* what) {
    e.in_l3[static_cast<size_t>(key)] = c3;
    e.base[static_cast<size_t>(key)] = off;
    if (off >= 0 && bytes > 0) e.region[static_cast<size_t>(key)] = {off, off + bytes};
    e.region_what[static_cast<size_t>(key)] = fmt::format("the layer's {} in {}", what, c3 ? "L3" : "L2");
  };
  const LayerGeometry& g = *e.geo;
  constant(kKeyWeights, e.dl->weights_offset, g.c_out * g.weight_bytes_per_cout(g.c_in), "weights");
  constant(kKeyBias, e.dl->bias_offset, g.c_out * g.bias_bytes_per_cout, "bias");
  constant(kKeyRequant, e.dl->requant_offset, g.c_out * g.requant_bytes_per_cout, "requant records");
  const StagingPlacement& place = dep.two_level.staging.at(index);
  for (const L3StagingBuffer& b : e.lp->staging.buffers) {
    const int key = stage_key(b.role, b.operand);
    e.stage_copies[static_cast<size_t>(key)] = static_cast<int>(b.copies.size());
    e.stage_bytes[static_cast<size_t>(key)] = b.bytes_per_copy;
    for (size_t c = 0; c < b.copies.size(); ++c) {
      const int64_t off = place.part_offset[b.copies[c].part] + b.copies[c].offset;
      e.stage[static_cast<size_t>(key)][c] = {off, off + b.reserved_per_copy};
    }
  }
  return e;
}

// The L3 transfers of tile t as the C++ side computes them (dory_l3_tile_loads / _store, in issue order).
struct ExpectedL3 {
  int key = 0;
  bool store = false;
  int copy = 0;
  int64_t l2 = 0, l3 = 0, bytes = 0;
};

int stage_copy_of(const L3Expect& e, int key, const L3Extent& x) {
  if (e.stage_copies[static_cast<size_t>(key)] < 2) return 0;
  if (key < kKeyWeights || key == kKeyOutput) return static_cast<int>(x.band & 1);
  return static_cast<int>(x.index & 1);
}

std::vector<ExpectedL3> expected_l3(const L3Expect& e, int64_t t) {
  const LayerGeometry& g = *e.geo;
  const L3Plan& lp = *e.lp;
  const L3Extent x = l3_extent(g, lp.shape, t);
  std::vector<ExpectedL3> out;
  if (x.block == 0)
    for (int k = 0; k < g.num_inputs(); ++k)
      if (lp.residency.input_in_l3[static_cast<size_t>(k)] && x.h_in.size() > 0) {
        const int64_t row = g.w_in * g.c_in * g.in_elem_bytes[static_cast<size_t>(k)];
        const int c = stage_copy_of(e, k, x);
        out.push_back({k, false, c, e.stage[static_cast<size_t>(k)][static_cast<size_t>(c)].lo,
                       e.base[static_cast<size_t>(k)] + x.h_in.begin * row, x.h_in.size() * row});
      }
  if (lp.residency.weights_in_l3 && (t == 0 || lp.counts.blocks > 1)) {
    const std::pair<int, int64_t> parts[] = {{kKeyWeights, g.weight_bytes_per_cout(g.c_in)},
                                             {kKeyBias, g.bias_bytes_per_cout},
                                             {kKeyRequant, g.requant_bytes_per_cout}};
    for (const auto& [key, per] : parts)
      if (per > 0) {
        const int c = stage_copy_of(e, key, x);
        out.push_back({key, false, c, e.stage[static_cast<size_t>(key)][static_cast<size_t>(c)].lo,
                       e.base[static_cast<size_t>(key)] + x.c_out.begin * per, x.c_out.size() * per});
      }
  }
  if (lp.residency.output_in_l3 && x.block == lp.counts.blocks - 1) {
    const int64_t row = g.w_out * g.c_out * g.out_elem_bytes;
    const int c = stage_copy_of(e, kKeyOutput, x);
    out.push_back({kKeyOutput, true, c, e.stage[kKeyOutput][static_cast<size_t>(c)].lo,
                   e.base[kKeyOutput] + x.h_out.begin * row, x.h_out.size() * row});
  }
  return out;
}

constexpr uintptr_t kL3FakeL2 = 0x20000000u;

class L3Checker {
 public:
  L3Checker(const Deployment& dep, size_t index, const dory_l3_layer& x, const ScheduleCheckOptions& opt, bool prefetch)
      : dep_(dep), index_(index), x_(x), opt_(opt), prefetch_(prefetch), e_(l3_expect(dep, index)),
        total_(e_.lp->counts.total()) {}

  Status run(ScheduleCheckStats* stats) {
    if (check_descriptor() && check_extents()) {
      dory_l3_ops ops{};
      ops.ctx = this;
      ops.l3_start = [](void* c, const dory_l3_desc* d, const dory_l3_transfer* t) {
        return static_cast<L3Checker*>(c)->on_start(d, t);
      };
      ops.l3_wait = [](void* c, dory_dma_job j) {
        L3Checker* k = static_cast<L3Checker*>(c);
        if (k->l3_waits_++ == k->opt_.skip_l3_wait) return;  // fault injection (ScheduleCheckOptions)
        k->on_wait(j);
      };
      ops.start_sub = [](void* c, const dory_l3_layer*, int32_t t, const dory_layer* sub, int kept) {
        L3Checker* k = static_cast<L3Checker*>(c);
        dory_layer s = *sub;
        if (t == k->opt_.force_kept_l3_tile) kept = 1;  // fault injection (ScheduleCheckOptions)
        if (t == k->opt_.alter_l3_sub_tile) s.tile_c_out -= 1;
        k->on_run(t, s, kept != 0, stats_of(c));
      };
      ops.join_sub = [](void* c) { static_cast<L3Checker*>(c)->on_join(); };
      // the schedule as if the next layer prefetched: the moment it hands over must be one where it may
      ops.after_last_load = [](void* c) { static_cast<L3Checker*>(c)->on_after_last_load(); };
      stats_ = stats;
      uint8_t* l2 = reinterpret_cast<uint8_t*>(kL3FakeL2);
      if (prefetch_) {
        dory_l3_prefetch pf{};
        in_prefetch_ = true;
        dory_l3_prefetch_issue(&x_, l2, &ops, &pf);
        in_prefetch_ = false;
        // and tile 0's descriptor made ready ahead, as network.c does (the other branch: the schedule makes it)
        dory_layer first{};
        dory_l3_sub_layer(&x_, 0, &first);
        if (!err_) dory_l3_schedule(&x_, l2, &ops, &pf, &first);
      } else {
        dory_l3_schedule(&x_, l2, &ops, nullptr, nullptr);
      }
      if (!err_) finish();
    }
    if (stats) {
      stats->transfers += static_cast<int64_t>(jobs_.size());
      stats->waits += waits_;
      for (const Job& j : jobs_) stats->bytes += j.bytes;
    }
    if (err_) return *err_;
    return ok_status();
  }

  std::vector<Range> footprint;  // every L2 range a sub-layer or a job of the layer touches (for the prefetch check)

 private:
  struct Job {
    int key = -1, copy = 0;
    bool store = false, waited = false, prefetched = false;
    int64_t tile = -1, bytes = 0;
    Range l2;
    int64_t seq = 0;  // its start, in event order
  };

  static ScheduleCheckStats* stats_of(void* c) { return static_cast<L3Checker*>(c)->stats_; }
  int32_t l3_waits_ = 0;  // L3 waits seen (for opt_.skip_l3_wait)

  bool fail(int64_t tile, std::string msg) {
    if (err_) return false;
    const std::string name = e_.layer->name;
    err_ = make_internal_error(kCode,
                               tile >= 0 ? fmt::format("layer '{}' L3 tile {}", name, tile) : fmt::format("layer '{}'", name),
                               std::move(msg), kHint);
    return false;
  }

  std::string key_name(int key) const {
    if (key < kKeyWeights) return e_.geo->num_inputs() > 1 ? fmt::format("input {}", key) : std::string("input");
    return key == kKeyWeights ? "weights" : key == kKeyBias ? "bias" : key == kKeyRequant ? "requant records" : "output";
  }

  // The descriptor is the plan: every field as the C++ side computes it.
  bool check_descriptor() {
    const L3Plan& lp = *e_.lp;
    const LayerGeometry& g = *e_.geo;
    auto field = [&](const std::string& name, int64_t have, int64_t want) {
      if (have == want) return true;
      return fail(-1, fmt::format("two-level descriptor field {} = {} is not the plan's {} (the descriptor must "
                                  "describe the planned L3 tiling)",
                                  name, have, want));
    };
    bool ok = field("c_in", x_.c_in, g.c_in) && field("h_in", x_.h_in, g.h_in) && field("w_in", x_.w_in, g.w_in) &&
              field("c_out", x_.c_out, g.c_out) && field("h_out", x_.h_out, g.h_out) &&
              field("w_out", x_.w_out, g.w_out) && field("kh", x_.kh, g.kh) && field("stride_h", x_.stride_h, g.stride_h) &&
              field("pad_top", x_.pad_top, g.pad.top) && field("channels_tied", x_.channels_tied, g.channels_tied) &&
              field("n_inputs", x_.n_inputs, g.num_inputs()) && field("tile_c_out", x_.tile_c_out, lp.shape.c_out) &&
              field("tile_h", x_.tile_h, lp.shape.h_out) &&
              field("weight_bytes_per_cout", x_.weight_bytes_per_cout, g.weight_bytes_per_cout(g.c_in)) &&
              field("bias_bytes_per_cout", x_.bias_bytes_per_cout, g.bias_bytes_per_cout) &&
              field("rq_bytes_per_cout", x_.rq_bytes_per_cout, g.requant_bytes_per_cout) &&
              field("n_block_classes", x_.n_block_classes, lp.block_classes) &&
              field("n_band_classes * n_block_classes", int64_t{x_.n_band_classes} * x_.n_block_classes,
                    static_cast<int64_t>(lp.subs.size())) &&
              field("prefetch_weights", x_.prefetch_weights, lp.prefetch_weights ? 1 : 0) &&
              field("weights_where", x_.weights_where, lp.residency.weights_in_l3 ? DORY_IN_L3 : DORY_IN_L2);
    if (!ok) return false;
    for (int k = 0; k < x_.n_inputs && ok; ++k) {
      ok = field(fmt::format("in_where[{}]", k), x_.in_where[k], e_.in_l3[static_cast<size_t>(k)] ? DORY_IN_L3 : DORY_IN_L2) &&
           field(fmt::format("in_offset[{}]", k), x_.in_offset[k], e_.base[static_cast<size_t>(k)]) &&
           field(fmt::format("in_pixel_stride[{}]", k), x_.in_pixel_stride[k],
                 e_.in_l3[static_cast<size_t>(k)] ? g.c_in : g.in_stride(k)) &&
           field(fmt::format("in_elem_bytes[{}]", k), x_.in_elem_bytes[k], g.in_elem_bytes[static_cast<size_t>(k)]);
    }
    ok = ok && field("out_where", x_.out_where, e_.in_l3[kKeyOutput] ? DORY_IN_L3 : DORY_IN_L2) &&
         field("out_offset", x_.out_offset, e_.base[kKeyOutput]) &&
         field("out_pixel_stride", x_.out_pixel_stride, e_.in_l3[kKeyOutput] ? g.c_out : g.out_stride()) &&
         field("out_elem_bytes", x_.out_elem_bytes, g.out_elem_bytes);
    const std::pair<const char*, std::pair<uint32_t, int64_t>> consts[] = {
        {"weights", {x_.weights, e_.base[kKeyWeights]}},
        {"bias", {x_.bias, e_.base[kKeyBias]}},
        {"requant", {x_.requant, e_.base[kKeyRequant]}}};
    for (const auto& [name, v] : consts)
      if (ok && v.second >= 0) ok = field(name, v.first, v.second);
    auto stage = [&](const char* name, const dory_l2_stage& st, int key) {
      const int copies = e_.stage_copies[static_cast<size_t>(key)];
      if (!field(fmt::format("{}.copies", name), st.copies, copies)) return false;
      if (copies == 0) return true;
      if (!field(fmt::format("{}.bytes", name), st.bytes, e_.stage_bytes[static_cast<size_t>(key)])) return false;
      for (int c = 0; c < copies; ++c)
        if (!field(fmt::format("{}.offset[{}]", name, c), st.offset[c],
                   e_.stage[static_cast<size_t>(key)][static_cast<size_t>(c)].lo))
          return false;
      return true;
    };
    for (int k = 0; k < x_.n_inputs && ok; ++k) ok = stage("stage_in[]", x_.stage_in[k], k);
    ok = ok && stage("stage_weights", x_.stage_weights, kKeyWeights) && stage("stage_bias", x_.stage_bias, kKeyBias) &&
         stage("stage_requant", x_.stage_requant, kKeyRequant) && stage("stage_out", x_.stage_out, kKeyOutput);
    for (int64_t b = 0; b < lp.counts.bands && ok; ++b)
      ok = field(fmt::format("band_class[{}]", b), x_.band_class[b], lp.band_class[static_cast<size_t>(b)]);
    return ok;
  }

  bool check_extents() {
    for (int64_t t = 0; t < total_; ++t) {
      dory_l3_extent c;
      dory_l3_tile_extent(&x_, static_cast<int32_t>(t), &c);
      const L3Extent w = l3_extent(*e_.geo, e_.lp->shape, t);
      if (c.h0 != w.h_out.begin || c.h != w.h_out.size() || c.c0 != w.c_out.begin || c.c != w.c_out.size() ||
          c.in_h0 != w.h_in.begin || c.in_h != w.h_in.size() || c.pad_top != w.pad_top || c.pad_bottom != w.pad_bottom)
        return fail(t, fmt::format("the runtime's L3 tile (rows {}+{}, channels {}+{}, input rows {}+{}, pad {}/{}) is "
                                   "not the plan's (rows {}+{}, channels {}+{}, input rows {}+{}, pad {}/{}): "
                                   "l3_schedule.c and tiler/l3_plan.h disagree",
                                   c.h0, c.h, c.c0, c.c, c.in_h0, c.in_h, c.pad_top, c.pad_bottom, w.h_out.begin,
                                   w.h_out.size(), w.c_out.begin, w.c_out.size(), w.h_in.begin, w.h_in.size(),
                                   w.pad_top, w.pad_bottom));
    }
    return true;
  }

  dory_dma_job on_start(const dory_l3_desc* d, const dory_l3_transfer* t) {
    if (err_) return 0;
    const int64_t tile = t->tile;
    const int key = stage_key_c(t->role, t->operand);
    if (tile < 0 || tile >= total_ || key < 0)
      return reject(tile, fmt::format("an L3 transfer names tile {} role {} (the layer has {} L3 tiles)", tile, t->role,
                                      total_));
    const bool store = key == kKeyOutput;
    const std::string what = fmt::format("the L3 {} of {} for L3 tile {}", store ? "store" : "load", key_name(key), tile);
    if (t->dir != (store ? DORY_L2_TO_L3 : DORY_L3_TO_L2) || d->dir != t->dir)
      return reject(tile, fmt::format("{} has direction {} (descriptor {})", what, t->dir, d->dir));
    const auto l2 = reinterpret_cast<uintptr_t>(d->l2);
    if (l2 != kL3FakeL2 + t->l2_offset || d->l3 != t->l3_offset || d->bytes != t->bytes || d->bytes == 0)
      return reject(tile, fmt::format("{}: the L3 descriptor (L2 {}, L3 {}, {} B) is not the transfer (L2 {}, L3 {}, "
                                      "{} B) or moves nothing",
                                      what, static_cast<int64_t>(l2 - kL3FakeL2), d->l3, d->bytes, t->l2_offset,
                                      t->l3_offset, t->bytes));
    // exactly the transfer of the C++ side, once
    bool found = false;
    for (const ExpectedL3& x : expected_l3(e_, tile))
      if (x.key == key) {
        found = true;
        if (x.copy != t->copy || x.l2 != t->l2_offset || x.l3 != t->l3_offset || x.bytes != t->bytes)
          return reject(tile, fmt::format("{} is copy {}, L2 {}, L3 {}, {} B; the plan says copy {}, L2 {}, L3 {}, {} B "
                                          "(l3_schedule.c and tiler/l3_plan.h disagree, or the descriptor is not the "
                                          "plan's)",
                                          what, t->copy, t->l2_offset, t->l3_offset, t->bytes, x.copy, x.l2, x.l3,
                                          x.bytes));
      }
    if (!found) return reject(tile, fmt::format("{} is not one of the plan's L3 transfers of that tile", what));
    const uint64_t bit = uint64_t{1} << key;
    uint64_t& mask = issued_[static_cast<size_t>(tile)];
    if (mask & bit) return reject(tile, fmt::format("{} is issued a second time", what));
    mask |= bit;
    // the L2 side inside its staging copy (with the word rounding of an L3 -> L2 transfer), 4-byte aligned; the
    // L3 side inside its region
    const Range copy = e_.stage[static_cast<size_t>(key)][static_cast<size_t>(std::min<int>(t->copy, 1))];
    const int64_t extent = store ? t->bytes : (int64_t{t->bytes} + 3) / 4 * 4;
    const Range l2r{t->l2_offset, int64_t{t->l2_offset} + extent};
    if (t->copy >= e_.stage_copies[static_cast<size_t>(key)] || l2r.lo < copy.lo || l2r.hi > copy.hi)
      return reject(tile, fmt::format("{} touches L2 {}, outside staging copy {} {} of its {}", what, range_str(l2r),
                                      t->copy, range_str(copy), key_name(key)));
    if (l2r.lo % 4 != 0) return reject(tile, fmt::format("{}: L2 offset {} is not 4-byte aligned", what, l2r.lo));
    const Range reg = e_.region[static_cast<size_t>(key)];
    if (!e_.in_l3[static_cast<size_t>(key)] || t->l3_offset < reg.lo || int64_t{t->l3_offset} + t->bytes > reg.hi)
      return reject(tile, fmt::format("{} touches L3 [{}, {}), outside {} {}", what, t->l3_offset,
                                      int64_t{t->l3_offset} + t->bytes, e_.region_what[static_cast<size_t>(key)],
                                      range_str(reg)));
    // not on what the running sub-layer reads (a load writes L2) or writes
    if (running_) {
      for (const Range& w : running_writes_)
        if (w.overlaps(l2r))
          return reject(tile, fmt::format("{} on L2 {} starts while L3 tile {} runs and writes L2 {}", what,
                                          range_str(l2r), runs_ - 1, range_str(w)));
      if (!store)
        for (const Range& r : running_reads_)
          if (r.overlaps(l2r))
            return reject(tile, fmt::format("{} on L2 {} starts while L3 tile {} runs and reads L2 {}", what,
                                            range_str(l2r), runs_ - 1, range_str(r)));
    }
    // no other job in flight on these bytes; the limit
    for (int j : in_flight_)
      if (jobs_[static_cast<size_t>(j)].l2.overlaps(l2r))
        return reject(tile, fmt::format("{} starts while L3 job {} on the same L2 bytes is in flight", what, j + 1));
    if (static_cast<int64_t>(in_flight_.size()) + 1 > DORY_L3_MAX_OUTSTANDING)
      return reject(tile, fmt::format("{} would be L3 job {} in flight; DORY_L3_MAX_OUTSTANDING = {}", what,
                                      in_flight_.size() + 1, DORY_L3_MAX_OUTSTANDING));
    if (store) {
      // the band's blocks have all run, and nothing wrote the copy since
      const L3Extent xe = l3_extent(*e_.geo, e_.lp->shape, tile);
      if (joined_ <= tile)
        return reject(tile, fmt::format("{} starts before L3 tile {} (the band's last block) finished", what, tile));
      if (out_copy_band_[static_cast<size_t>(t->copy)] != xe.band)
        return reject(tile, fmt::format("{} reads output copy {}, last written by band {}, not band {}", what, t->copy,
                                        out_copy_band_[static_cast<size_t>(t->copy)], xe.band));
    }
    Job j;
    j.key = key;
    j.copy = t->copy;
    j.store = store;
    j.tile = tile;
    j.bytes = t->bytes;
    j.l2 = l2r;
    j.prefetched = in_prefetch_;
    j.seq = ++seq_;
    jobs_.push_back(j);
    const int id = static_cast<int>(jobs_.size()) - 1;
    in_flight_.push_back(id);
    if (!store) last_load_[static_cast<size_t>(key)][static_cast<size_t>(std::min<int>(t->copy, 1))] = id;
    footprint.push_back(l2r);
    return static_cast<dory_dma_job>(id + 1);
  }

  int reject(int64_t tile, std::string msg) {
    fail(tile, std::move(msg));
    return 0;
  }

  void on_wait(dory_dma_job job) {
    if (err_) return;
    ++waits_;
    const int64_t j = static_cast<int64_t>(job) - 1;
    if (j < 0 || j >= static_cast<int64_t>(jobs_.size())) {
      fail(-1, fmt::format("a wait for L3 job {}, which was never started", job));
      return;
    }
    Job& o = jobs_[static_cast<size_t>(j)];
    if (o.waited) {
      fail(o.tile, fmt::format("L3 job {} is waited for twice", job));
      return;
    }
    o.waited = true;
    in_flight_.erase(std::find(in_flight_.begin(), in_flight_.end(), static_cast<int>(j)));
  }

  // The L2 ranges sub-layer t reads and writes, from the C++ side: its maps (the class storage of an L2 map, the
  // staging copy of an L3 one), its constants' slice or staging copy.
  void on_run(int32_t t, const dory_layer& sub, bool kept, ScheduleCheckStats* stats) {
    if (err_) return;
    // a kept descriptor runs as "moved" (the cores keep their copy, only the L2 offsets change): it must be of the
    // previous tile's template, and equal to that template but for the L2 offsets
    const int32_t tmpl = dory_l3_sub_template(&x_, t);
    if (kept && (t == 0 || tmpl != last_template_)) {
      fail(t, fmt::format("L3 tile {} runs as the previous sub-layer moved, but its template is {} (previous {})", t,
                          tmpl, last_template_));
      return;
    }
    if (kept) {
      dory_layer a = sub, b = x_.subs[tmpl];
      for (dory_layer* d : {&a, &b}) {
        for (int k = 0; k < DORY_LAYER_MAX_INPUTS; ++k) d->in[k].l2_offset = 0;
        d->out.l2_offset = d->weights_l2 = d->bias_l2 = d->requant_l2 = 0;
      }
      if (std::memcmp(&a, &b, sizeof a) != 0) {
        fail(t, fmt::format("L3 tile {} runs as moved, but its descriptor differs from template {} beyond the L2 offsets",
                            t, tmpl));
        return;
      }
    }
    last_template_ = tmpl;
    const L3Plan& lp = *e_.lp;
    const LayerGeometry& g = *e_.geo;
    if (t != runs_) {
      fail(t, fmt::format("the schedule runs L3 tile {} where tile {} comes next (each once, in order)", t, runs_));
      return;
    }
    if (running_) {
      fail(t, fmt::format("L3 tile {} starts before L3 tile {} was joined", t, runs_ - 1));
      return;
    }
    ++runs_;
    const L3Extent x = l3_extent(g, lp.shape, t);
    const uint64_t want_mask = [&] {
      uint64_t m = 0;
      for (const ExpectedL3& y : expected_l3(e_, t))
        if (!y.store) m |= uint64_t{1} << y.key;
      return m;
    }();
    if ((issued_[static_cast<size_t>(t)] & want_mask) != want_mask) {
      fail(t, fmt::format("L3 tile {} runs before all its L3 loads were issued", t));
      return;
    }
    // the sub-layer's context: bases and regions per role
    LayerCheckContext ctx;
    ctx.target = &dep_.target;
    ctx.layer = e_.layer;
    ctx.location = fmt::format("layer '{}' L3 tile {}", e_.layer->name, t);
    ctx.plan = &lp.subs.at(static_cast<size_t>(lp.sub_index(t)));
    ctx.l1_bytes = opt_.l1_bytes > 0 ? opt_.l1_bytes : dep_.l1_bytes;
    ctx.base.fill(-1);
    std::vector<Range> reads, writes;
    auto staged = [&](int key, int copy, int64_t base_plus, const char* what) {
      const Range r = e_.stage[static_cast<size_t>(key)][static_cast<size_t>(copy)];
      ctx.base[static_cast<size_t>(key)] = r.lo + base_plus;
      ctx.regions[static_cast<size_t>(key)] = {r.lo, r.lo + e_.stage_bytes[static_cast<size_t>(key)],
                                               fmt::format("{} staging copy {}", what, copy)};
      // the copy must hold the data of the tile that needs it, waited for
      if (key == kKeyOutput) return true;
      const int j = last_load_[static_cast<size_t>(key)][static_cast<size_t>(copy)];
      const int64_t need = key < kKeyWeights ? x.band * lp.counts.blocks : (lp.counts.blocks > 1 ? t : 0);
      if (j < 0 || jobs_[static_cast<size_t>(j)].tile != need)
        return fail(t, fmt::format("L3 tile {} reads {} staging copy {}, which does not hold the data loaded for L3 "
                                   "tile {} (stale or never loaded)",
                                   t, what, copy, need));
      if (!jobs_[static_cast<size_t>(j)].waited)
        return fail(t, fmt::format("L3 tile {} reads {} staging copy {} before its L3 load (job {}) was waited for", t,
                                   what, copy, j + 1));
      return true;
    };
    for (int k = 0; k < g.num_inputs(); ++k) {
      const int64_t eb = g.in_elem_bytes[static_cast<size_t>(k)];
      if (e_.in_l3[static_cast<size_t>(k)]) {
        if (!staged(k, stage_copy_of(e_, k, x), 0, "the input")) return;
      } else {
        ctx.base[static_cast<size_t>(k)] =
            e_.base[static_cast<size_t>(k)] + (x.h_in.begin * g.w_in * g.in_stride(k) + (g.channels_tied ? x.c_out.begin : 0)) * eb;
        ctx.regions[static_cast<size_t>(k)] = {e_.region[static_cast<size_t>(k)].lo, e_.region[static_cast<size_t>(k)].hi,
                                               e_.region_what[static_cast<size_t>(k)]};
      }
      const Region& r = ctx.regions[static_cast<size_t>(k)];
      reads.push_back({r.lo, r.hi});
    }
    const std::pair<int, int64_t> parts[] = {{kKeyWeights, g.weight_bytes_per_cout(g.c_in)},
                                             {kKeyBias, g.bias_bytes_per_cout},
                                             {kKeyRequant, g.requant_bytes_per_cout}};
    for (const auto& [key, per] : parts) {
      if (per == 0) continue;
      if (lp.residency.weights_in_l3) {
        if (!staged(key, stage_copy_of(e_, key, x), 0, key_name(key).c_str())) return;
      } else {
        const int64_t lo = e_.base[static_cast<size_t>(key)] + x.c_out.begin * per;
        ctx.base[static_cast<size_t>(key)] = lo;
        ctx.regions[static_cast<size_t>(key)] = {lo, lo + x.c_out.size() * per, e_.region_what[static_cast<size_t>(key)]};
      }
      const Region& r = ctx.regions[static_cast<size_t>(key)];
      reads.push_back({r.lo, r.hi});
    }
    if (e_.in_l3[kKeyOutput]) {
      const int c = stage_copy_of(e_, kKeyOutput, x);
      staged(kKeyOutput, c, x.c_out.begin * g.out_elem_bytes, "the output");
      out_copy_band_[static_cast<size_t>(c)] = x.band;
    } else {
      ctx.base[kKeyOutput] = e_.base[kKeyOutput] + (x.h_out.begin * g.w_out * g.out_stride() + x.c_out.begin) * g.out_elem_bytes;
      ctx.regions[kKeyOutput] = {e_.region[kKeyOutput].lo, e_.region[kKeyOutput].hi, e_.region_what[kKeyOutput]};
    }
    writes.push_back({ctx.regions[kKeyOutput].lo, ctx.regions[kKeyOutput].hi});
    // no L3 job in flight touches what the sub-layer reads (loads) or writes (loads and stores)
    for (int j : in_flight_) {
      const Job& o = jobs_[static_cast<size_t>(j)];
      for (const Range& w : writes)
        if (o.l2.overlaps(w)) {
          fail(t, fmt::format("L3 tile {} writes L2 {} while L3 job {} ({} of {} for tile {}) on {} is in flight", t,
                              range_str(w), j + 1, o.store ? "store" : "load", key_name(o.key), o.tile, range_str(o.l2)));
          return;
        }
      if (!o.store)
        for (const Range& r : reads)
          if (o.l2.overlaps(r)) {
            fail(t, fmt::format("L3 tile {} reads L2 {} while L3 job {} (load of {} for tile {}) on {} is in flight", t,
                                range_str(r), j + 1, key_name(o.key), o.tile, range_str(o.l2)));
            return;
          }
    }
    for (const Range& r : reads) footprint.push_back(r);
    for (const Range& w : writes) footprint.push_back(w);
    running_ = true;
    running_reads_ = reads;
    running_writes_ = writes;
    // the sub-layer itself, as any layer: its L1 schedule against its plan and these bases and regions
    if (sub.l3 != nullptr) {
      fail(t, "a sub-layer descriptor points at an L3 layer");
      return;
    }
    Checker c(ctx, sub, opt_);
    const Status st = c.run(stats);
    if (!st.ok() && !err_) err_ = st.error();
  }

  void on_join() {
    if (err_) return;
    if (!running_) {
      fail(runs_ - 1, "a join without a sub-layer started");
      return;
    }
    running_ = false;
    ++joined_;
  }

  // The next layer's prefetch starts here (up to 3 loads: weights, bias, requant records) beside this layer's jobs.
  void on_after_last_load() {
    if (err_) return;
    if (after_last_load_++ > 0) {
      fail(runs_ - 1, "the hand-over to the next layer's prefetch happens twice");
      return;
    }
    if (!running_ || runs_ != total_) {
      fail(runs_ - 1, fmt::format("the hand-over to the next layer's prefetch happens at L3 tile {} of {}{}", runs_ - 1,
                                  total_, running_ ? "" : ", outside a sub-layer"));
      return;
    }
    if (static_cast<int64_t>(in_flight_.size()) + 3 > DORY_L3_MAX_OUTSTANDING)
      fail(runs_ - 1, fmt::format("the next layer's prefetch would join {} L3 jobs in flight; DORY_L3_MAX_OUTSTANDING = {}",
                                  in_flight_.size(), DORY_L3_MAX_OUTSTANDING));
  }

  void finish() {
    if (running_) {
      fail(runs_ - 1, fmt::format("L3 tile {} is never joined", runs_ - 1));
      return;
    }
    if (after_last_load_ != 1) {
      fail(-1, "the schedule never hands over to the next layer's prefetch");
      return;
    }
    if (!in_flight_.empty()) {
      fail(jobs_[static_cast<size_t>(in_flight_.front())].tile,
           fmt::format("L3 job {} was never waited for", in_flight_.front() + 1));
      return;
    }
    if (runs_ != total_) {
      fail(-1, fmt::format("the schedule ran {} of the layer's {} L3 tiles", runs_, total_));
      return;
    }
    for (int64_t t = 0; t < total_; ++t)
      for (const ExpectedL3& y : expected_l3(e_, t))
        if (!(issued_[static_cast<size_t>(t)] & (uint64_t{1} << y.key))) {
          fail(t, fmt::format("the plan's L3 {} of {} for L3 tile {} is never issued", y.store ? "store" : "load",
                              key_name(y.key), t));
          return;
        }
    // the L3 tiles partition the output: rows x channels, each once (the sub-layers' own checks cover the rest)
    int64_t area = 0;
    for (int64_t t = 0; t < total_; ++t) {
      const L3Extent x = l3_extent(*e_.geo, e_.lp->shape, t);
      area += x.h_out.size() * x.c_out.size();
      for (int64_t u = 0; u < t; ++u) {
        const L3Extent y = l3_extent(*e_.geo, e_.lp->shape, u);
        if (x.h_out.begin < y.h_out.end && y.h_out.begin < x.h_out.end && x.c_out.begin < y.c_out.end &&
            y.c_out.begin < x.c_out.end) {
          fail(t, fmt::format("L3 tiles {} and {} compute the same output elements", u, t));
          return;
        }
      }
      if (total_ > 4096) break;  // (the tiles of the plan are a grid: checking the first ones suffices then)
    }
    if (total_ <= 4096 && area != e_.geo->h_out * e_.geo->c_out)
      fail(-1, fmt::format("the L3 tiles compute {} of the {} output rows x channels", area, e_.geo->h_out * e_.geo->c_out));
  }

  const Deployment& dep_;
  size_t index_;
  const dory_l3_layer& x_;
  const ScheduleCheckOptions& opt_;
  bool prefetch_;
  L3Expect e_;
  int64_t total_;
  ScheduleCheckStats* stats_ = nullptr;
  std::optional<Diagnostic> err_;
  std::vector<Job> jobs_;
  std::vector<int> in_flight_;
  std::map<int64_t, uint64_t> issued_map_;
  std::vector<uint64_t> issued_ = std::vector<uint64_t>(static_cast<size_t>(total_), 0);
  std::array<std::array<int, 2>, kKeys> last_load_ = [] {
    std::array<std::array<int, 2>, kKeys> a{};
    for (auto& x : a) x = {-1, -1};
    return a;
  }();
  std::array<int64_t, 2> out_copy_band_{-1, -1};
  int64_t runs_ = 0, joined_ = 0, waits_ = 0, seq_ = 0;
  int after_last_load_ = 0;
  int32_t last_template_ = -1;  // the template of the sub-layer run last
  bool in_prefetch_ = false;
  bool running_ = false;  // a sub-layer started and not joined: what it reads and writes
  std::vector<Range> running_reads_, running_writes_;
};

}  // namespace

Status check_l3_layer_schedule(const Deployment& dep, size_t index, const dory_l3_layer& desc,
                               const ScheduleCheckOptions& opt, ScheduleCheckStats* stats,
                               std::vector<std::pair<int64_t, int64_t>>* footprint) {
  DORY_CHECK(index < dep.layers.size() && dep.layers[index].l3, "check_l3_layer_schedule: not an L3 layer");
  // With the previous layer's prefetch, and without it (a layer run alone issues everything itself).
  for (bool prefetch : {false, true}) {
    if (prefetch && !desc.prefetch_weights) continue;
    L3Checker c(dep, index, desc, opt, prefetch);
    DORY_TRY_STATUS(c.run(prefetch ? nullptr : stats));
    if (footprint && !prefetch) {
      footprint->clear();
      for (const Range& r : c.footprint) footprint->push_back({r.lo, r.hi});
    }
  }
  if (stats) stats->layers += 1;
  return ok_status();
}

// The L2 ranges an ordinary layer touches: its operands' storage and its constants.
std::vector<std::pair<int64_t, int64_t>> l2_layer_footprint(const Deployment& dep, size_t index) {
  const ScheduleCheckOptions opt;
  const LayerCheckContext c = l2_layer_context(dep, index, opt);
  std::vector<std::pair<int64_t, int64_t>> out;
  for (const Region& r : c.regions)
    if (r.lo >= 0 && r.hi > r.lo) out.push_back({r.lo, r.hi});
  return out;
}

Status check_schedule(const Deployment& dep, const ScheduleCheckOptions& opt, ScheduleCheckStats* stats) {
  std::vector<std::pair<int64_t, int64_t>> prev;  // what the previous layer touches in L2
  for (size_t i = 0; i < dep.layers.size(); ++i) {
    std::vector<std::pair<int64_t, int64_t>> fp;
    if (dep.layers[i].l3) {
      std::vector<dory_layer> subs;
      const dory_l3_layer x = dep.layers[i].l3_descriptor(subs);
      DORY_TRY_STATUS(check_l3_layer_schedule(dep, i, x, opt, stats, &fp));
      // a prefetch writes this layer's first staging copies while the previous layer runs: none of its bytes
      if (x.prefetch_weights) {
        if (i == 0)
          return make_internal_error(kCode, fmt::format("layer '{}'", x.name),
                                     "the first layer prefetches its weights, but no layer runs before it", kHint);
        for (const dory_l2_stage* st : {&x.stage_weights, &x.stage_bias, &x.stage_requant}) {
          if (!st->copies) continue;
          const Range pf{st->offset[0], int64_t{st->offset[0]} + (int64_t{st->bytes} + 3) / 4 * 4};
          for (const auto& [lo, hi] : prev)
            if (pf.overlaps(Range{lo, hi}))
              return make_internal_error(
                  kCode, fmt::format("layer '{}'", x.name),
                  fmt::format("its prefetch writes L2 {} while the previous layer '{}' uses L2 [{}, {})",
                              range_str(pf), dep.layers[i - 1].plan.layer, lo, hi),
                  kHint);
        }
      }
    } else {
      const dory_layer d = dep.layers[i].descriptor();
      DORY_TRY_STATUS(check_layer_schedule(dep, i, d, opt, stats));
      fp = l2_layer_footprint(dep, i);
    }
    if (dep.check_bounce_offset >= 0) {
      const Range b{dep.check_bounce_offset, dep.check_bounce_offset + dep.check_bounce_bytes};
      for (const auto& [lo, hi] : fp)
        if (b.overlaps(Range{lo, hi}))
          return make_internal_error(kCode, fmt::format("layer '{}'", dep.layers[i].plan.layer),
                                     fmt::format("it touches L2 [{}, {}), which overlaps the check buffer {}", lo, hi,
                                                 range_str(b)),
                                     kHint);
    }
    prev = std::move(fp);
  }
  return ok_status();
}

}  // namespace dory
