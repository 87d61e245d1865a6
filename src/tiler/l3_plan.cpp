#include "tiler/l3_plan.h"

#include <fmt/format.h>

#include <algorithm>
#include <limits>
#include <map>
#include <tuple>

namespace dory {

namespace {

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
int64_t align_up(int64_t v, int64_t a) { return (v + a - 1) / a * a; }

}  // namespace

bool L3Residency::any() const {
  return weights_in_l3 || maps_in_l3();
}

bool L3Residency::maps_in_l3() const {
  return output_in_l3 || std::any_of(input_in_l3.begin(), input_in_l3.end(), [](bool b) { return b; });
}

L3Counts l3_counts(const LayerGeometry& g, const L3Shape& s) {
  return {ceil_div(g.h_out, s.h_out), ceil_div(g.c_out, s.c_out)};
}

L3Extent l3_extent(const LayerGeometry& g, const L3Shape& s, int64_t t) {
  const L3Counts n = l3_counts(g, s);
  L3Extent e;
  e.index = t;
  e.band = t / n.blocks;
  e.block = t % n.blocks;
  e.h_out = {e.band * s.h_out, std::min(g.h_out, (e.band + 1) * s.h_out)};
  e.c_out = {e.block * s.c_out, std::min(g.c_out, (e.block + 1) * s.c_out)};
  const AxisWindow w = axis_window(e.h_out.begin, e.h_out.end, g.stride_h, g.kh, g.pad.top, g.h_in);
  e.h_in = w.in;
  e.pad_top = w.pad_before;
  e.pad_bottom = w.pad_after;
  return e;
}

bool valid_l3_shape(const LayerGeometry& g, const L3Residency& r, const L3Shape& s) {
  if (s.c_out < 1 || s.c_out > g.c_out || s.h_out < 1 || s.h_out > g.h_out) return false;
  if (!r.weights_in_l3 && s.c_out != g.c_out) return false;       // blocks only to stream the weights
  if (!r.maps_in_l3() && s.h_out != g.h_out) return false;        // bands only to stream a map
  if (g.channels_tied && r.maps_in_l3() && s.c_out != g.c_out) return false;  // an L3 map moves in whole rows
  const L3Counts n = l3_counts(g, s);
  for (int64_t b = 0; b < n.bands; ++b)
    if (l3_extent(g, s, b * n.blocks).h_in.size() <= 0) return false;  // a band of padding only
  return true;
}

LayerGeometry l3_sub_geometry(const LayerGeometry& g, const L3Residency& r, const L3Extent& e) {
  LayerGeometry s = g;
  s.layer = fmt::format("{}[rows {}..{}, ch {}..{}]", g.layer, e.h_out.begin, e.h_out.end, e.c_out.begin,
                        e.c_out.end);
  s.c_out = e.c_out.size();
  s.h_out = e.h_out.size();
  s.h_in = e.h_in.size();
  s.pad.top = static_cast<int32_t>(e.pad_top);
  s.pad.bottom = static_cast<int32_t>(e.pad_bottom);
  if (g.channels_tied) s.c_in = s.c_out;
  const int n = g.num_inputs();
  s.in_pixel_channels.assign(static_cast<size_t>(n), 0);
  s.in_channel_offset.assign(static_cast<size_t>(n), 0);
  for (int k = 0; k < n; ++k) {
    const bool l3 = k < static_cast<int>(r.input_in_l3.size()) && r.input_in_l3[static_cast<size_t>(k)];
    s.in_pixel_channels[static_cast<size_t>(k)] = l3 ? g.c_in : g.in_stride(k);
  }
  s.out_pixel_channels = r.output_in_l3 ? g.c_out : g.out_stride();
  s.out_channel_offset = 0;
  return s;
}

// ---- staging ----

const char* l3_staging_role_name(L3StagingRole r) {
  switch (r) {
    case L3StagingRole::Input: return "input";
    case L3StagingRole::Weights: return "weights";
    case L3StagingRole::Bias: return "bias";
    case L3StagingRole::RequantParams: return "requant";
    case L3StagingRole::Output: return "output";
  }
  return "?";
}

const L3StagingBuffer* L2StagingLayout::find(L3StagingRole role, int operand) const {
  for (const L3StagingBuffer& b : buffers)
    if (b.role == role && b.operand == operand) return &b;
  return nullptr;
}

L2StagingLayout plan_l2_staging(const LayerGeometry& g, const L3Residency& r, const L3Shape& s, int64_t alignment) {
  const int64_t align = std::max<int64_t>(8, alignment);
  const L3Counts n = l3_counts(g, s);
  L2StagingLayout lay;
  int64_t max_in_rows = 0, max_out_rows = 0;
  for (int64_t b = 0; b < n.bands; ++b) {
    const L3Extent e = l3_extent(g, s, b * n.blocks);
    max_in_rows = std::max(max_in_rows, e.h_in.size());
    max_out_rows = std::max(max_out_rows, e.h_out.size());
  }
  auto add = [&](L3StagingRole role, int operand, int64_t bytes, int copies, bool prefetchable) {
    if (bytes <= 0) return;
    L3StagingBuffer b;
    b.role = role;
    b.operand = operand;
    b.bytes_per_copy = bytes;
    b.reserved_per_copy = align_up(bytes, 4);
    for (int c = 0; c < copies; ++c) {
      L3StagingCopy copy;
      copy.part = prefetchable && c == 0 ? 0 : 1;
      copy.offset = align_up(lay.part_bytes[copy.part], align);
      lay.part_bytes[copy.part] = copy.offset + b.reserved_per_copy;
      b.copies.push_back(copy);
    }
    lay.buffers.push_back(b);
  };
  for (int k = 0; k < g.num_inputs(); ++k)
    if (k < static_cast<int>(r.input_in_l3.size()) && r.input_in_l3[static_cast<size_t>(k)])
      add(L3StagingRole::Input, k, max_in_rows * g.w_in * g.c_in * g.in_elem_bytes[static_cast<size_t>(k)],
          n.bands > 1 ? 2 : 1, false);
  if (r.weights_in_l3) {
    const int copies = n.blocks > 1 ? 2 : 1;
    add(L3StagingRole::Weights, 0, s.c_out * g.weight_bytes_per_cout(g.c_in), copies, true);
    add(L3StagingRole::Bias, 0, s.c_out * g.bias_bytes_per_cout, copies, true);
    add(L3StagingRole::RequantParams, 0, s.c_out * g.requant_bytes_per_cout, copies, true);
  }
  if (r.output_in_l3)
    add(L3StagingRole::Output, 0, max_out_rows * g.w_out * g.c_out * g.out_elem_bytes, n.bands > 1 ? 2 : 1, false);
  return lay;
}

int64_t minimal_l2_staging_bytes(const LayerGeometry& g, const L3Residency& r, int64_t alignment) {
  // Staging grows with both sizes, except that one band (block) needs one copy where two need two: the minimum is
  // at the smallest shape or at the whole extent of either dimension.
  int64_t best = std::numeric_limits<int64_t>::max();
  const int64_t c_lo = r.weights_in_l3 ? 1 : g.c_out;
  const int64_t h_lo = r.maps_in_l3() ? 1 : g.h_out;
  for (int64_t c : {c_lo, g.c_out})
    for (int64_t h = h_lo; h <= g.h_out; ++h) {
      const L3Shape s{c, h};
      if (!valid_l3_shape(g, r, s)) continue;
      best = std::min(best, plan_l2_staging(g, r, s, alignment).total_bytes());
      if (h > h_lo + 2 && h < g.h_out) h = g.h_out - 1;  // the rows in between only grow
    }
  return best;
}

// ---- cost ----

const DmaEngine* l2_l3_engine(const Target& target) {
  return target.has(MemLevel::L3) ? target.dma_between(MemLevel::L2, MemLevel::L3) : nullptr;
}

int L3Plan::sub_index(int64_t t) const {
  const int64_t band = t / counts.blocks, block = t % counts.blocks;
  const int block_cls = (block_classes > 1 && block == counts.blocks - 1) ? 1 : 0;
  return band_class[static_cast<size_t>(band)] * block_classes + block_cls;
}

namespace {

// The L3 transfers of tile t (dory_l3_tile_loads / _store) as 1-D patterns: bytes per load, in issue order.
struct L3TileTransfers {
  std::vector<int64_t> loads;     // inputs in L3 (band start), then weights, bias, requant (block change)
  std::vector<bool> prefetchable;  // per load
  int64_t store = 0;               // 0: none
};

L3TileTransfers l3_tile_transfers(const LayerGeometry& g, const L3Residency& r, const L3Shape& s, int64_t t) {
  const L3Counts n = l3_counts(g, s);
  const L3Extent e = l3_extent(g, s, t);
  L3TileTransfers x;
  if (e.block == 0)
    for (int k = 0; k < g.num_inputs(); ++k)
      if (k < static_cast<int>(r.input_in_l3.size()) && r.input_in_l3[static_cast<size_t>(k)] && e.h_in.size() > 0) {
        x.loads.push_back(e.h_in.size() * g.w_in * g.c_in * g.in_elem_bytes[static_cast<size_t>(k)]);
        x.prefetchable.push_back(false);
      }
  if (r.weights_in_l3 && (t == 0 || n.blocks > 1)) {
    for (int64_t per : {g.weight_bytes_per_cout(g.c_in), g.bias_bytes_per_cout, g.requant_bytes_per_cout})
      if (per > 0) {
        x.loads.push_back(e.c_out.size() * per);
        x.prefetchable.push_back(t == 0);
      }
  }
  if (r.output_in_l3 && e.block == n.blocks - 1) x.store = e.h_out.size() * g.w_out * g.c_out * g.out_elem_bytes;
  return x;
}

DmaTransferCost one_d(const DmaEngine& e, DmaDirection d, int64_t bytes) {
  DmaPattern p;
  p.row_bytes = bytes;
  return dma_transfer_cost(e, d, p);
}

}  // namespace

L3Cost model_l3(const Target& target, const L3Plan& plan) {
  const LayerGeometry& g = plan.geometry;
  const DmaEngine* eng = l2_l3_engine(target);
  DORY_CHECK(eng != nullptr, fmt::format("layer '{}': an L3 plan on target '{}', which has no L2-L3 engine", g.layer,
                                         target.name));
  L3Cost c;
  const int64_t total = plan.counts.total();
  c.tiles = total;
  std::vector<L3TileTransfers> xs;
  xs.reserve(static_cast<size_t>(total));
  for (int64_t t = 0; t < total; ++t) xs.push_back(l3_tile_transfers(g, plan.residency, plan.shape, t));
  auto account = [&](const DmaTransferCost& k) {
    c.l3_bytes += k.bytes;
    c.l3_commands += k.commands;
    c.l3_busy_cycles += k.busy_cycles;
    const DmaTransferCost* one[] = {&k};
    c.l3_transfer_cycles += dma_batch_time(*eng, one).done_cycles;
  };
  // prologue
  {
    std::vector<DmaTransferCost> ks, pf;
    for (size_t k = 0; k < xs[0].loads.size(); ++k) {
      ks.push_back(one_d(*eng, DmaDirection::Load, xs[0].loads[k]));
      if (xs[0].prefetchable[k]) pf.push_back(ks.back());
      account(ks.back());
    }
    std::vector<const DmaTransferCost*> ptr, pptr;
    for (const auto& k : ks) ptr.push_back(&k);
    for (const auto& k : pf) pptr.push_back(&k);
    const DmaBatchTime bt = dma_batch_time(*eng, ptr);
    c.prologue_cycles = bt.done_cycles;
    c.issue_cycles += bt.core_cycles;
    c.prefetchable_cycles = dma_batch_time(*eng, pptr).done_cycles;
  }
  double slots = 0;
  for (int64_t t = 0; t < total; ++t) {
    std::vector<DmaTransferCost> ks;
    if (t > 0 && xs[static_cast<size_t>(t - 1)].store > 0)
      ks.push_back(one_d(*eng, DmaDirection::Store, xs[static_cast<size_t>(t - 1)].store));
    if (t + 1 < total)
      for (int64_t bytes : xs[static_cast<size_t>(t + 1)].loads) ks.push_back(one_d(*eng, DmaDirection::Load, bytes));
    std::vector<const DmaTransferCost*> ptr;
    for (const auto& k : ks) {
      ptr.push_back(&k);
      account(k);
    }
    const DmaBatchTime bt = dma_batch_time(*eng, ptr);
    const double sub = plan.subs[static_cast<size_t>(plan.sub_index(t))].cost.total_cycles;
    c.sub_cycles += sub;
    c.issue_cycles += bt.core_cycles;
    // the main program pushes O3_t while the sub-layer computes (dory_l3_schedule issues after start_sub)
    slots += std::max(sub, bt.done_cycles);
  }
  if (xs.back().store > 0) {
    const DmaTransferCost k = one_d(*eng, DmaDirection::Store, xs.back().store);
    account(k);
    const DmaTransferCost* one[] = {&k};
    const DmaBatchTime bt = dma_batch_time(*eng, one);
    c.epilogue_cycles = bt.done_cycles;
    c.issue_cycles += bt.core_cycles;
  }
  c.total_cycles = c.prologue_cycles + slots + c.epilogue_cycles;
  return c;
}

// ---- plans and search ----

namespace {

// The sub-plans of a layer, memoized by sub-geometry (rows, input rows, padding, channels).
class SubPlanner {
 public:
  SubPlanner(const LayerGeometry& g, const L3Residency& r, const Target& t, int64_t l1, Objective o)
      : g_(g), r_(r), target_(t), l1_(l1), objective_(o) {}

  // The plan of tile e's sub-geometry, or nullptr when it cannot be tiled (the diagnostic is kept).
  const TilePlan* get(const L3Extent& e) {
    const Key k{e.c_out.size(), e.h_out.size(), e.h_in.size(), e.pad_top, e.pad_bottom};
    auto it = memo_.find(k);
    if (it == memo_.end()) {
      ++stats.nodes;
      const LayerGeometry sg = l3_sub_geometry(g_, r_, e);
      Expected<TilePlan> p = plan_geometry(sg, fmt::format("layer '{}' (an L3 tile)", g_.layer), target_, l1_, objective_);
      if (!p.ok()) {
        if (!error) error = p.error();
        it = memo_.emplace(k, std::nullopt).first;
      } else {
        it = memo_.emplace(k, std::move(*p)).first;
      }
    }
    return it->second ? &*it->second : nullptr;
  }

  SearchStats stats;
  std::optional<Diagnostic> error;

 private:
  using Key = std::tuple<int64_t, int64_t, int64_t, int64_t, int64_t>;
  const LayerGeometry& g_;
  const L3Residency& r_;
  const Target& target_;
  int64_t l1_;
  Objective objective_;
  std::map<Key, std::optional<TilePlan>> memo_;
};

// The plan of shape s with the sub-plans from sp; false when a sub-layer cannot be tiled.
bool build_plan(const LayerGeometry& g, const L3Residency& r, const L3Shape& s, const Target& target,
                SubPlanner& sp, L3Plan& out) {
  L3Plan p;
  p.geometry = g;
  p.residency = r;
  p.shape = s;
  p.counts = l3_counts(g, s);
  const int64_t last_c = g.c_out - (p.counts.blocks - 1) * s.c_out;
  p.block_classes = last_c != s.c_out ? 2 : 1;
  // band classes: bands with equal rows, input rows and padding share a sub-geometry
  std::vector<std::tuple<int64_t, int64_t, int64_t, int64_t>> classes;
  for (int64_t b = 0; b < p.counts.bands; ++b) {
    const L3Extent e = l3_extent(g, s, b * p.counts.blocks);
    p.bands.push_back(e);
    const auto key = std::make_tuple(e.h_out.size(), e.h_in.size(), e.pad_top, e.pad_bottom);
    auto it = std::find(classes.begin(), classes.end(), key);
    if (it == classes.end()) {
      classes.push_back(key);
      it = classes.end() - 1;
      for (int bc = 0; bc < p.block_classes; ++bc) {
        const int64_t block = bc == 0 ? 0 : p.counts.blocks - 1;
        const TilePlan* tp = sp.get(l3_extent(g, s, b * p.counts.blocks + block));
        if (!tp) return false;
        p.subs.push_back(*tp);
        p.subs.back().geometry = l3_sub_geometry(g, r, l3_extent(g, s, b * p.counts.blocks + block));
        p.subs.back().layer = p.subs.back().geometry.layer;
      }
    }
    p.band_class.push_back(static_cast<int>(it - classes.begin()));
  }
  p.staging = plan_l2_staging(g, r, s, target.l2.alignment_bytes);
  p.cost = model_l3(target, p);
  out = std::move(p);
  return true;
}

bool better_l3(const L3Plan& a, const L3Plan& b, double prefetch_cap) {
  const double ta = a.cost.total_cycles - l3_prefetch_hidden(a, prefetch_cap),
               tb = b.cost.total_cycles - l3_prefetch_hidden(b, prefetch_cap);
  if (ta != tb) return ta < tb;
  if (a.staging.total_bytes() != b.staging.total_bytes()) return a.staging.total_bytes() < b.staging.total_bytes();
  if (a.counts.total() != b.counts.total()) return a.counts.total() < b.counts.total();
  if (a.shape.c_out != b.shape.c_out) return a.shape.c_out > b.shape.c_out;
  return a.shape.h_out > b.shape.h_out;
}

}  // namespace

double l3_prefetch_hidden(const L3Plan& plan, double cap_cycles) {
  if (!plan.residency.weights_in_l3 || cap_cycles <= 0) return 0;
  return std::min(plan.cost.prefetchable_cycles, cap_cycles);
}

Expected<L3Plan> plan_l3_shape(const LayerGeometry& g, const L3Residency& r, const L3Shape& s, const Target& target,
                               int64_t l1_budget_bytes, Objective objective) {
  DORY_CHECK(valid_l3_shape(g, r, s), fmt::format("layer '{}': L3 shape {}x{} is not in the space", g.layer,
                                                  s.c_out, s.h_out));
  SubPlanner sp(g, r, target, l1_budget_bytes, objective);
  L3Plan p;
  if (!build_plan(g, r, s, target, sp, p)) return *sp.error;
  p.stats = sp.stats;
  return p;
}

Expected<L3Plan> solve_l3_tiling(const LayerGeometry& g, const L3Residency& r, const Target& target,
                                 int64_t l1_budget_bytes, int64_t staging_budget_bytes, Objective objective,
                                 double prefetch_cap_cycles) {
  DORY_CHECK(r.any(), fmt::format("layer '{}': an L3 tiling of a layer with nothing in L3", g.layer));
  DORY_CHECK(static_cast<int>(r.input_in_l3.size()) == g.num_inputs(),
             fmt::format("layer '{}': residency of {} inputs for {}", g.layer, r.input_in_l3.size(), g.num_inputs()));
  SubPlanner sp(g, r, target, l1_budget_bytes, objective);
  std::optional<L3Plan> best;
  int64_t evaluated = 0;
  const int64_t c_lo = r.weights_in_l3 && !(g.channels_tied && r.maps_in_l3()) ? 1 : g.c_out;
  const int64_t h_lo = r.maps_in_l3() ? 1 : g.h_out;
  const int64_t align = target.l2.alignment_bytes;
  // Larger shapes first: the staging grows with both sizes, so for each h the feasible c form a prefix that a
  // binary search finds, and nothing past it is visited.
  for (int64_t h = g.h_out; h >= h_lo; --h) {
    int64_t lo = c_lo, hi = g.c_out, c_max = c_lo - 1;
    while (lo <= hi) {
      const int64_t mid = lo + (hi - lo) / 2;
      if (valid_l3_shape(g, r, {mid, h}) &&
          plan_l2_staging(g, r, {mid, h}, align).total_bytes() <= staging_budget_bytes) {
        c_max = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    // (one block needs one copy of the constants where two blocks need two: c = C_out may fit when C_out - 1
    // does not)
    const bool whole_fits = valid_l3_shape(g, r, {g.c_out, h}) &&
                            plan_l2_staging(g, r, {g.c_out, h}, align).total_bytes() <= staging_budget_bytes;
    for (int64_t c = c_lo; c <= g.c_out; ++c) {
      if (c > c_max && !(c == g.c_out && whole_fits)) continue;
      const L3Shape s{c, h};
      if (!valid_l3_shape(g, r, s)) continue;
      if (plan_l2_staging(g, r, s, align).total_bytes() > staging_budget_bytes) continue;
      L3Plan p;
      ++evaluated;
      if (!build_plan(g, r, s, target, sp, p)) continue;
      if (!best || better_l3(p, *best, prefetch_cap_cycles)) best = std::move(p);
    }
  }
  if (!best) {
    if (sp.error) return *sp.error;
    const int64_t need = minimal_l2_staging_bytes(g, r, align);
    Diagnostic d = make_error(
        "l3-infeasible", fmt::format("layer '{}'", g.layer),
        fmt::format("no L3 tiling of '{}' fits L2: its smallest staging needs {} B ({}), and {} B are left for it",
                    g.layer, format_bytes_grouped(need),
                    r.maps_in_l3() ? "one output row band's input rows and output" : "one output channel's constants",
                    format_bytes_grouped(std::max<int64_t>(0, staging_budget_bytes))),
        "a target with a larger L2, or fewer live activations around this layer (a smaller input resolution or "
        "fewer channels)");
    d.severity = Severity::Infeasible;
    return d;
  }
  best->stats = sp.stats;
  best->stats.evaluations = evaluated;
  return std::move(*best);
}

}  // namespace dory
