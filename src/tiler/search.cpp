#include "tiler/search.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <vector>

#include "target/cost_model.h"
#include "tiler/core_shares.h"
#include "tiler/layer_model.h"

namespace dory {

namespace {

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// A box of the search space: every dimension ranges over [lo, hi] (the loops only make boxes whose ranges are a
// single value or start at 1).
struct Box {
  int64_t co_lo, co_hi, h_lo, h_hi, w_lo, w_hi, ci_lo, ci_hi;
};

// max over x in [lo, hi] of (x - 1) % m.
int64_t max_mod(int64_t lo, int64_t hi, int64_t m) {
  if (hi - lo + 1 >= m) return m - 1;
  int64_t best = 0;
  for (int64_t x = lo; x <= hi; ++x) best = std::max(best, (x - 1) % m);
  return best;
}
// max over x in [lo, hi] of (e - 1) % x, or an upper bound of it that only grows with the range.
int64_t max_rem(int64_t e, int64_t lo, int64_t hi) {
  if (lo == hi) return (e - 1) % hi;
  return std::min(hi - 1, e - 1);
}

class Search {
 public:
  Search(const LayerGeometry& g, const Target& t, int64_t budget, Objective obj, SearchStats* stats,
         const SearchOptions& opts)
      : g_(g), t_(t), budget_(budget), obj_(obj), stats_(stats), opts_(opts), eng_(l1_l2_engine(t)) {
    tied_ = g.channels_tied;
    C_ = g.c_out, H_ = g.h_out, W_ = g.w_out, Ci_ = g.c_in;
    grain_ = c_in_grain(g, t);
    if (obj_ == Objective::Model) prepare_bounds();
  }

  std::optional<Candidate> run() {
    const TileShape whole = whole_layer_shape(g_);
    const int64_t whole_bytes = l1_layout_bytes(g_, whole, Buffering::none(), t_);
    if (whole_bytes <= budget_) {
      Candidate c;
      c.shape = whole;
      c.l1_bytes = whole_bytes;
      c.tiles = 1;
      c.value = value_of(whole, Buffering::none(), whole_bytes);
      // dory, fill: a layer that fits whole is that one tile (DORY's rule). model: the one tile competes with
      // the pipelined tilings on modeled cycles, so the optimum is monotone in the budget.
      if (obj_ != Objective::Model) return c;
      offer(c);
    }
    if (obj_ == Objective::Model) {
      if (opts_.seed) seed_model();
      search_model();
    } else {
      search_max();
    }
    return best_;
  }

 private:
  // ---- shared ----
  bool allowed_ci(int64_t ci) const { return tied_ || c_in_tile_allowed(g_, ci, grain_); }
  int64_t bytes(int64_t co, int64_t h, int64_t w, int64_t ci, const Buffering& b) const {
    return l1_layout_bytes(g_, TileShape{co, h, w, tied_ ? co : ci}, b, t_);
  }
  // Some c_in fits with buffering b (c_in = 1 or c_in = C_in are the smallest layouts).
  bool fits_some_cin(int64_t co, int64_t h, int64_t w, const Buffering& b) const {
    if (tied_) return bytes(co, h, w, co, b) <= budget_;
    if (bytes(co, h, w, 1, b) <= budget_) return true;
    return Ci_ > 1 && bytes(co, h, w, Ci_, b) <= budget_;
  }
  // The largest x in [1, hi] with fits(x), for a predicate true up to some point and false after (0 if none).
  template <class Fits>
  static int64_t largest(int64_t hi, Fits&& fits) {
    if (!fits(1)) return 0;
    int64_t lo = 1;
    while (lo < hi) {
      const int64_t mid = lo + (hi - lo + 1) / 2;
      if (fits(mid)) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  // The largest c_in < C_in that fits (0 if none): the layout is monotone in c_in below C_in.
  int64_t max_partial_cin(int64_t co, int64_t h, int64_t w, const Buffering& b) const {
    int64_t lo = 0, hi = Ci_ - 1;  // invariant: lo fits (or 0), hi+1 does not (or C_in)
    if (hi < 1 || bytes(co, h, w, 1, b) > budget_) return 0;
    lo = 1;
    while (lo < hi) {
      const int64_t mid = lo + (hi - lo + 1) / 2;
      if (bytes(co, h, w, mid, b) <= budget_) lo = mid;
      else hi = mid - 1;
    }
    return lo >= grain_ ? lo - lo % grain_ : lo;  // the largest allowed one (c_in_tile_allowed)
  }
  double value_of(const TileShape& s, const Buffering& b, int64_t l1) const {
    switch (obj_) {
      case Objective::Model: return model_layer(t_, g_, s, b).total_cycles;
      case Objective::Dory: return static_cast<double>(dory_score(g_, s, l1));
      case Objective::Fill: return static_cast<double>(l1);
    }
    return 0;
  }
  void offer(const Candidate& c) {
    if (!best_ || better(obj_, c, *best_)) best_ = c;
  }
  void node() {
    if (stats_) ++stats_->nodes;
  }

  // ---- model: minimize cycles ----
  void prepare_bounds() {
    // Rows covered by at least one window (the input bytes every tiling reads at least once).
    auto covered = [](int64_t n_out, int64_t stride, int64_t k, int64_t pad, int64_t in_extent) {
      int64_t count = 0, reach = 0;  // reach: one past the last input position counted
      for (int64_t o = 0; o < n_out; ++o) {
        const int64_t a = std::max<int64_t>(std::max<int64_t>(0, o * stride - pad), reach);
        const int64_t e = std::min(in_extent, o * stride - pad + k);
        if (e > a) count += e - a;
        reach = std::max(reach, e);
      }
      return count;
    };
    const int64_t rows = covered(H_, g_.stride_h, g_.kh, g_.pad.top, g_.h_in);
    const int64_t cols = covered(W_, g_.stride_w, g_.kw, g_.pad.left, g_.w_in);
    input_read_bytes_ = 0;
    for (int eb : g_.in_elem_bytes) input_read_bytes_ += rows * cols * Ci_ * eb;
    kernel_bound_.emplace(t_, g_.kernel(t_), whole_layer_call(g_), tied_);
    bw_load_ = eng_.bandwidth(MemLevel::L2, MemLevel::L1);
    bw_store_ = eng_.bandwidth(MemLevel::L1, MemLevel::L2);
    // (a transfer's software cost precedes its first command)
    fixed_ = eng_.transfer_cycles + eng_.issue_cycles + eng_.setup_cycles;
    issue_ = eng_.issue_cycles;
    transfer_ = eng_.transfer_cycles;
  }

  // A lower bound of the modeled cycles of every shape in the box with every buffering (docs/cost-model.md).
  double box_bound(const Box& b) const {
    const int64_t n_co = ceil_div(C_, b.co_hi), n_h = ceil_div(H_, b.h_hi), n_w = ceil_div(W_, b.w_hi);
    const int64_t n_ci = tied_ ? 1 : ceil_div(Ci_, b.ci_hi);
    // Kernel cycles: the cost model's bound (target/cost_model.h), beside the formula it bounds.
    const double compute =
        kernel_bound_->min_total_cycles({b.co_lo, b.co_hi, b.h_lo, b.h_hi, b.w_lo, b.w_hi, b.ci_lo, b.ci_hi}) +
        t_.executor.layer_cycles +
        t_.executor_tile_cycles(g_.kernel(t_)) * static_cast<double>(n_co * n_h * n_w * n_ci);
    // Prologue: the first tile's loads at the box's smallest corner; epilogue: at least one byte stored.
    const int64_t rows0 = axis_window(0, std::min(b.h_lo, H_), g_.stride_h, g_.kh, g_.pad.top, g_.h_in).in.size();
    const int64_t cols0 = axis_window(0, std::min(b.w_lo, W_), g_.stride_w, g_.kw, g_.pad.left, g_.w_in).in.size();
    const int64_t ci0 = tied_ ? b.co_lo : b.ci_lo;
    int64_t first = 0;
    for (int eb : g_.in_elem_bytes) first += rows0 * cols0 * ci0 * eb;
    first += b.co_lo * (g_.weight_bytes_per_cout(ci0) + g_.bias_bytes_per_cout + g_.requant_bytes_per_cout);
    const double pipeline = compute + fixed_ + static_cast<double>(first) / bw_load_ + fixed_ +
                            static_cast<double>(g_.out_elem_bytes) / bw_store_;
    // DMA: every byte that must move, with the reloads every shape of the box has.
    const bool weights_reloaded = !tied_ && b.ci_hi < Ci_;
    const bool input_reloaded = !tied_ && (b.h_hi < H_ || b.w_hi < W_ || b.ci_hi < Ci_);
    const double loads = static_cast<double>(g_.weight_bytes()) * (weights_reloaded ? n_h * n_w : 1) +
                         static_cast<double>(C_ * (g_.bias_bytes_per_cout + g_.requant_bytes_per_cout)) +
                         static_cast<double>(input_read_bytes_) * (input_reloaded ? n_co : 1);
    const double dma =
        t_.executor.layer_cycles + fixed_ + loads / bw_load_ + static_cast<double>(g_.output_bytes()) / bw_store_;
    // Every load and store after the first tile is at least one command pushed by a core.
    const int64_t tiles = n_co * n_h * n_w * n_ci, out_tiles = n_co * n_h * n_w;
    const bool input_every_step = tied_ ? tiles > 1 : input_reloaded;
    int64_t commands = out_tiles - 1 + (input_every_step ? (tiles - 1) * g_.num_inputs() : 0);
    if (weights_reloaded) commands += tiles - 1;
    else if (g_.weight_bytes_per_cout(1) > 0) commands += n_co - 1;
    if (g_.bias_bytes_per_cout > 0) commands += n_co - 1;
    if (g_.requant_bytes_per_cout > 0) commands += n_co - 1;
    // (each counted item is a transfer of its own: its software cost and at least one command)
    return std::max(pipeline + (transfer_ + issue_) * static_cast<double>(commands), dma);
  }

  bool prune_min(double bound) const {
    if (!best_) return false;
    return bound > best_->value + 1e-9 * std::abs(best_->value) + 1e-6;
  }
  // prune_min for the part `b` of the space (bufferings in `mask`), checked when verifying.
  bool pruned(double bound, const Box& b, int mask = 0xff) const {
    const bool p = prune_min(bound);
    if (opts_.verify_prunes) verify_pruned(b, mask, bound, p);
    return p;
  }

  // The checker of SearchOptions::verify_prunes: the bound holds for every feasible candidate of the part (a
  // lower bound of the cycles, an upper bound of the score), and when the part is pruned none of them comes
  // before the incumbent.
  void verify_pruned(const Box& b, int mask, double bound, bool was_pruned) const {
    for (int64_t co = b.co_lo; co <= b.co_hi; ++co)
      for (int64_t h = b.h_lo; h <= b.h_hi; ++h)
        for (int64_t w = b.w_lo; w <= b.w_hi; ++w)
          for (int64_t ci = tied_ ? co : b.ci_lo; ci <= (tied_ ? co : b.ci_hi); ++ci) {
            const TileShape s{co, h, w, ci};
            if (!valid_shape(g_, s) || !allowed_ci(ci)) continue;
            for (int bits = 0; bits < 8; ++bits) {
              if (!(mask & (1 << bits))) continue;
              const Buffering buf = Buffering::from_bits(bits);
              if (obj_ != Objective::Model && !(buf == Buffering::all())) continue;
              const int64_t l1 = l1_layout_bytes(g_, s, buf, t_);
              if (l1 > budget_) continue;
              Candidate c;
              c.shape = s;
              c.buffering = buf;
              c.l1_bytes = l1;
              c.tiles = tile_counts(g_, s).total();
              c.value = value_of(s, buf, l1);
              const bool holds = obj_ == Objective::Model
                                     ? bound <= c.value + 1e-9 * std::abs(c.value) + 1e-6
                                     : bound >= c.value;
              DORY_CHECK(holds, "tiler search: invalid bound " + std::to_string(bound) + " for c_out " +
                                    std::to_string(co) + ", h " + std::to_string(h) + ", w " + std::to_string(w) +
                                    ", c_in " + std::to_string(ci) + ", buffering " + std::to_string(bits) +
                                    " of value " + std::to_string(c.value));
              if (!was_pruned) continue;
              DORY_CHECK(!better(obj_, c, *best_),
                         "tiler search: a bound pruned a better candidate (c_out " + std::to_string(co) + ", h " +
                             std::to_string(h) + ", w " + std::to_string(w) + ", c_in " + std::to_string(ci) +
                             ", buffering " + std::to_string(bits) + ", value " + std::to_string(c.value) +
                             " vs incumbent " + std::to_string(best_->value) + ")");
            }
          }
  }

  // Evaluates one shape with every buffering that fits (skipping double buffers that change nothing: a
  // buffer of 0 bytes, or one loaded or stored only once, whose second copy costs L1 and no cycle).
  void point_model(int64_t co, int64_t h, int64_t w, int64_t ci) {
    if (!allowed_ci(ci)) return;
    const TileShape s{co, h, w, tied_ ? co : ci};
    if (!scratch_) scratch_.emplace(t_, g_, s);
    else scratch_->set_shape(s);
    point_model(*scratch_);
  }
  void point_model(const ShapeModel& sm, const std::array<int64_t, 8>* known_l1 = nullptr) {
    node();
    const TileShape s = sm.shape();
    const TileCounts n = tile_counts(g_, s);
    const bool input_once = tied_ ? n.total() == 1 : n.h * n.w * n.c_in == 1;
    const bool weights_once =
        (tied_ ? n.c_out == 1 : n.c_out * n.c_in == 1) ||
        (g_.weight_bytes_per_cout(1) == 0 && g_.bias_bytes_per_cout == 0 && g_.requant_bytes_per_cout == 0);
    const bool output_once = n.c_out * n.h * n.w == 1;
    std::array<int64_t, 8> l1{};
    bool any = false;
    for (int bits = 0; bits < 8; ++bits) {
      const Buffering b = Buffering::from_bits(bits);
      l1[static_cast<size_t>(bits)] = -1;
      if ((b.input && input_once) || (b.weights && weights_once) || (b.output && output_once)) continue;
      const int64_t bytes = known_l1 ? (*known_l1)[static_cast<size_t>(bits)] : l1_layout_bytes(g_, s, b, t_);
      if (bytes < 0 || bytes > budget_) continue;
      l1[static_cast<size_t>(bits)] = bytes;
      any = true;
    }
    if (!any) return;
    const std::array<double, 8> lb = sm.lower_bounds();
    for (int bits = 0; bits < 8; ++bits) {
      if (l1[static_cast<size_t>(bits)] < 0) continue;
      if (pruned(lb[static_cast<size_t>(bits)], Box{s.c_out, s.c_out, s.h_out, s.h_out, s.w_out, s.w_out, s.c_in, s.c_in},
                 1 << bits))
        continue;
      if (stats_) ++stats_->evaluations;
      Candidate c;
      c.shape = s;
      c.buffering = Buffering::from_bits(bits);
      c.value = sm.run(c.buffering).total_cycles;
      c.l1_bytes = l1[static_cast<size_t>(bits)];
      c.tiles = n.total();
      offer(c);
    }
  }

  // Good incumbents first: for a few channel tile sizes, full-width row tiles as tall as fit.
  void seed_model() {
    const Buffering none = Buffering::none();
    for (int64_t co = C_;; co = ceil_div(co, 2)) {
      for (int64_t w : {W_, ceil_div(W_, 2)}) {
        int64_t h = H_;
        while (h >= 1 && !fits_some_cin(co, h, w, none)) h = h == 1 ? 0 : (h + 1) / 2;
        if (h < 1) continue;
        if (tied_) {
          point_model(co, h, w, co);
        } else {
          if (bytes(co, h, w, Ci_, none) <= budget_) point_model(co, h, w, Ci_);
          if (const int64_t ci = max_partial_cin(co, h, w, none); ci > 0) point_model(co, h, w, ci);
        }
      }
      if (co == 1) break;
    }
    // Coordinate descent from the incumbent over "balanced" sizes (ceil(E/k)) and multiples of the kernel's
    // blocks: only a source of good incumbents (which make the bounds prune early); exactness comes from the
    // search that follows.
    const int64_t cblock = g_.is_mac() ? g_.kernel(t_).mac.channel_block : 1;
    const std::array<std::vector<int64_t>, 4> values{candidate_sizes(C_, cblock), candidate_sizes(H_, t_.cores),
                                                     candidate_sizes(W_, 2), candidate_sizes(Ci_, 1)};
    for (int pass = 0; pass < 8 && best_; ++pass) {
      bool moved = false;
      for (int dim = 0; dim < (tied_ ? 3 : 4); ++dim) {
        for (int64_t v : values[static_cast<size_t>(dim)]) {
          TileShape s = best_->shape;
          int64_t* d[4] = {&s.c_out, &s.h_out, &s.w_out, &s.c_in};
          if (*d[dim] == v) continue;
          *d[dim] = v;
          if (tied_) s.c_in = s.c_out;
          if (l1_layout_bytes(g_, s, none, t_) > budget_) continue;
          const double before = best_->value;
          point_model(s.c_out, s.h_out, s.w_out, s.c_in);
          moved = moved || best_->value < before;
        }
      }
      if (!moved) break;
    }
  }

  // ceil(E / k) for every k, and the multiples of `block` up to 32 blocks, descending, without duplicates.
  static std::vector<int64_t> candidate_sizes(int64_t extent, int64_t block) {
    std::vector<int64_t> v;
    for (int64_t k = 1; k <= extent;) {
      const int64_t x = ceil_div(extent, k);
      v.push_back(x);
      // next k with a different ceil(E / k)
      k = x > 1 ? ceil_div(extent, x - 1) : extent + 1;
      while (k <= extent && ceil_div(extent, k) == x) ++k;
    }
    for (int64_t m = 1; m <= 32 && m * block <= extent; ++m) v.push_back(m * block);
    std::sort(v.begin(), v.end(), std::greater<>());
    v.erase(std::unique(v.begin(), v.end()), v.end());
    return v;
  }

  void search_model() {
    const Buffering none = Buffering::none();
    const int64_t co_max = largest(C_, [&](int64_t co) { return fits_some_cin(co, 1, 1, none); });
    for (int64_t co = co_max; co >= 1; --co) {
      node();
      if (const Box b{1, co, 1, H_, 1, W_, 1, Ci_}; pruned(box_bound(b), b)) break;
      const int64_t h_max = largest(H_, [&](int64_t h) { return fits_some_cin(co, h, 1, none); });
      for (int64_t h = h_max; h >= 1; --h) {
        node();
        if (const Box b{co, co, 1, h, 1, W_, 1, Ci_}; pruned(box_bound(b), b)) break;
        const int64_t w_max = largest(W_, [&](int64_t w) { return fits_some_cin(co, h, w, none); });
        for (int64_t w = w_max; w >= 1; --w) {
          node();
          if (const Box b{co, co, h, h, 1, w, 1, Ci_}; pruned(box_bound(b), b)) break;
          if (tied_) {
            point_model(co, h, w, co);
            continue;
          }
          search_cin(co, h, w);
        }
      }
    }
  }

  // All input-channel tiles of one output tile shape (co, h, w), grouped by n_ci = ceil(C_in / c_in): the kernel
  // cycles of the layer are A + n_ci * B (each input-channel tile repeats the call and loop overheads, the MACs
  // are the same), so groups are visited by increasing n_ci until that alone exceeds the incumbent; within a
  // group, c_in ascending, since the first tile's loads (the prologue) only grow with c_in.
  void search_cin(int64_t co, int64_t h, int64_t w) {
    const Buffering none = Buffering::none();
    // A and B: over the output tiles, the kernel cycles of a call with c_in channels are b + a * c_in
    // (kernel_cycles_in_c_in, target/cost_model.h), at least: b is the smaller of a whole call's and a
    // partial-sum call's (their outputs cost output_cycles or output_cycles_partial), so the sums are lower
    // bounds for every n_ci (exact for n_ci = 1 when partial sums cost no less).
    const TileShape probe{co, h, w, Ci_};
    const TileCounts n = tile_counts(g_, probe);
    double A = 0, B = 0;
    const double xt = t_.executor_tile_cycles(g_.kernel(t_));
    {
      const int64_t sizes[3][2] = {{co, C_ - (n.c_out - 1) * co}, {h, H_ - (n.h - 1) * h}, {w, W_ - (n.w - 1) * w}};
      const int64_t counts[3][2] = {{n.c_out - 1, 1}, {n.h - 1, 1}, {n.w - 1, 1}};
      for (int a = 0; a < 2; ++a)
        for (int b = 0; b < 2; ++b)
          for (int c = 0; c < 2; ++c) {
            const int64_t m = counts[0][a] * counts[1][b] * counts[2][c];
            if (m == 0) continue;
            KernelCall probe = tile_call(g_, sizes[0][a], sizes[1][b], sizes[2][c], 1);
            probe.partial = false;
            const CinAffine k = kernel_cycles_in_c_in(t_, g_.kernel(t_), probe);
            // a partial-sum call's outputs may also cost less (a fitted output_cycles_partial below
            // output_cycles: the fc kernel's): the smaller constant bounds both
            probe.partial = true;
            const double kb = std::min(k.b, kernel_cycles_in_c_in(t_, g_.kernel(t_), probe).b);
            A += static_cast<double>(m) * k.a * static_cast<double>(Ci_);
            B += static_cast<double>(m) * (kb + xt);  // every call: the executor's tile cost
          }
      A += t_.executor.layer_cycles;
    }
    // The last tile's store, and the commands every load and store after the first tile needs at least: with
    // n_ci >= 2 every tile loads its input boxes and weights with c_in < C_in channels, and a transfer of c
    // channels (c < C_in) takes at least as many commands as the same transfer of 1 channel.
    const TileExtent last = tile_extent(g_, probe, {n.c_out - 1, n.h - 1, n.w - 1, 0});
    auto out_box = [&](int64_t c, int64_t rows, int64_t cols) {
      return dma_transfer_cost(eng_, DmaDirection::Store,
                               DmaPattern{c * g_.out_elem_bytes, cols, g_.out_stride() * g_.out_elem_bytes, rows,
                                          W_ * g_.out_stride() * g_.out_elem_bytes});
    };
    const DmaTransferCost st = out_box(last.c_out.size(), last.h_out.size(), last.w_out.size());
    const DmaTransferCost* stp[] = {&st};
    const double t_st = dma_batch_time(eng_, stp).done_cycles;
    const int64_t n_out = n.c_out * n.h * n.w;
    const int64_t co_sz[2] = {co, C_ - (n.c_out - 1) * co}, h_sz[2] = {h, H_ - (n.h - 1) * h},
                  w_sz[2] = {w, W_ - (n.w - 1) * w};
    const int64_t co_n[2] = {n.c_out - 1, 1}, h_n[2] = {n.h - 1, 1}, w_n[2] = {n.w - 1, 1};
    int64_t store_cmds = -st.commands;
    for (int a = 0; a < 2; ++a)
      for (int b = 0; b < 2; ++b)
        for (int c = 0; c < 2; ++c)
          if (const int64_t m = co_n[a] * h_n[b] * w_n[c]; m > 0)
            store_cmds += m * out_box(co_sz[a], h_sz[b], w_sz[c]).commands;
    const int64_t channel_param_cmds =
        (n.c_out - 1) * ((g_.bias_bytes_per_cout > 0 ? 1 : 0) + (g_.requant_bytes_per_cout > 0 ? 1 : 0));
    // The bound of n_ci = 1, the smallest of all: nothing of this output tile can beat the incumbent.
    node();
    if (pruned(A + B + t_st + issue_ * static_cast<double>(store_cmds + channel_param_cmds),
               Box{co, co, h, h, w, w, 1, Ci_}))
      return;
    auto in_cmds = [&](int64_t rows, int64_t cols, int64_t c = 1) {
      int64_t k = 0;
      for (int op = 0; op < g_.num_inputs(); ++op) {
        const int64_t eb = g_.in_elem_bytes[static_cast<size_t>(op)], stride = g_.in_stride(op);
        k += dma_transfer_cost(eng_, DmaDirection::Load,
                               DmaPattern{c * eb, cols, stride * eb, rows, g_.w_in * stride * eb})
                 .commands;
      }
      return k;
    };
    axis_classes(n.h, h, H_, g_.stride_h, g_.kh, g_.pad.top, g_.h_in, rows_);
    axis_classes(n.w, w, W_, g_.stride_w, g_.kw, g_.pad.left, g_.w_in, cols_);
    int64_t in_all = 0;
    for (const auto& [r, nr] : rows_)
      for (const auto& [q, nq] : cols_) in_all += nr * nq * in_cmds(r, q);
    const int64_t in_first = in_cmds(axis_window(0, h, g_.stride_h, g_.kh, g_.pad.top, g_.h_in).in.size(),
                                     axis_window(0, w, g_.stride_w, g_.kw, g_.pad.left, g_.w_in).in.size());
    auto w_cmds = [&](int64_t c_out) {
      return dma_transfer_cost(eng_, DmaDirection::Load, DmaPattern{1, c_out * g_.kh * g_.kw, Ci_, 1, 0}).commands;
    };
    const int64_t w_all = co_n[0] * w_cmds(co_sz[0]) + co_n[1] * w_cmds(co_sz[1]);
    const int64_t w_first = w_cmds(co_sz[n.c_out == 1 ? 1 : 0]);
    // Bytes every tiling with n_ci >= 2 moves after the first tile's loads (the first tile's own share is
    // subtracted at the largest c_in of the group, so that the bound holds for every c_in of it).
    int64_t rows_sum = 0, cols_sum = 0, eb_sum = 0;
    for (const auto& [r, nr] : rows_) rows_sum += r * nr;
    for (const auto& [q, nq] : cols_) cols_sum += q * nq;
    for (int eb : g_.in_elem_bytes) eb_sum += eb;
    const int64_t in_bytes_all = n.c_out * rows_sum * cols_sum * Ci_ * eb_sum;
    const int64_t first_pixels = axis_window(0, h, g_.stride_h, g_.kh, g_.pad.top, g_.h_in).in.size() *
                                 axis_window(0, w, g_.stride_w, g_.kw, g_.pad.left, g_.w_in).in.size();
    const int64_t param_bytes = (C_ - co_sz[n.c_out == 1 ? 1 : 0]) * (g_.bias_bytes_per_cout + g_.requant_bytes_per_cout);
    const double bw_l = bw_load_, bw_s = bw_store_, su = eng_.setup_cycles;
    // The largest partial c_in that fits at all (layouts are monotone in c_in below C_in).
    const int64_t cmax = max_partial_cin(co, h, w, none);
    std::array<int64_t, 8> l1{};  // layout bytes of the c_in being visited, per buffering (-1: does not fit)
    auto layouts = [&](int64_t ci) {
      for (int bits = 0; bits < 8; ++bits) {
        const int64_t x = bytes(co, h, w, ci, Buffering::from_bits(bits));
        l1[static_cast<size_t>(bits)] = x <= budget_ ? x : -1;
      }
    };
    bool targeted = false;  // scratch_ models this output tile; re-targeted to each c_in
    auto visit = [&](int64_t ci) {
      if (!scratch_) scratch_.emplace(t_, g_, TileShape{co, h, w, ci});
      else if (!targeted) scratch_->set_shape(TileShape{co, h, w, ci});
      else scratch_->set_c_in(ci);
      targeted = true;
      point_model(*scratch_, &l1);
    };
    std::array<double, 8> lb{};
    // The schedule's bound per buffering (as ShapeModel::lower_bounds) without T(LD_0): double-buffered
    // transfers cost their pushes, the others a serialized batch per slot. Returns the smallest.
    const double st_busy = static_cast<double>(g_.output_bytes()) / bw_s;
    auto group_bounds = [&](int64_t nci, int64_t in_cmds_n, double in_busy, int64_t in_slots, int64_t w_cmds_n,
                            double w_busy, int64_t w_slots) {
      double lb_all = std::numeric_limits<double>::infinity();
      for (int bits = 0; bits < 8; ++bits) {
        const Buffering b = Buffering::from_bits(bits);
        int64_t o_cmds = 0, z_cmds = 0, z_slots = 0;
        double z_busy = 0, tail = 0;
        auto place = [&](int64_t cmds, double busy, int64_t slots, bool db) {
          if (db) {
            o_cmds += cmds;
          } else {
            z_cmds += cmds;
            z_busy += busy;
            z_slots = std::max(z_slots, slots);
          }
        };
        place(in_cmds_n, in_busy, in_slots, b.input);
        place(w_cmds_n, w_busy, w_slots, b.weights);
        if (b.output) {
          o_cmds += store_cmds;
          tail = t_st;
        } else {
          place(store_cmds + st.commands, st_busy, n_out, false);
        }
        lb[static_cast<size_t>(bits)] = A + static_cast<double>(nci) * B + issue_ * static_cast<double>(o_cmds) +
                                        tail + static_cast<double>(z_slots) * su +
                                        std::max(issue_ * static_cast<double>(z_cmds), z_busy);
        lb_all = std::min(lb_all, lb[static_cast<size_t>(bits)]);
      }
      return lb_all;
    };
    // Bufferings that fit at c_in (fewer as c_in grows), and their bound with the first tile's loads.
    auto point_bound = [&](int64_t ci) {
      layouts(ci);
      double best_lb = std::numeric_limits<double>::infinity();
      for (int bits = 0; bits < 8; ++bits)
        if (l1[static_cast<size_t>(bits)] >= 0) best_lb = std::min(best_lb, lb[static_cast<size_t>(bits)]);
      return best_lb + first_loads_cycles(co, h, w, ci);
    };
    // n_ci = 1: c_in = C_in. The input changes unless there is one row and column tile; the weights with the
    // output-channel tile.
    {
      const bool input_changes = n.h * n.w > 1;
      int64_t in_full = 0;
      if (input_changes)
        for (const auto& [r, nr] : rows_)
          for (const auto& [q, nq] : cols_) in_full += nr * nq * in_cmds(r, q, Ci_);
      const int64_t first_rows = axis_window(0, h, g_.stride_h, g_.kh, g_.pad.top, g_.h_in).in.size();
      const int64_t first_cols = axis_window(0, w, g_.stride_w, g_.kw, g_.pad.left, g_.w_in).in.size();
      const int64_t in_cmds_n = input_changes ? n.c_out * in_full - in_cmds(first_rows, first_cols, Ci_) : 0;
      const double in_busy =
          input_changes ? static_cast<double>(in_bytes_all - first_pixels * Ci_ * eb_sum) / bw_l : 0.0;
      const int64_t w_cmds_n = (n.c_out - 1) + channel_param_cmds;
      const double w_busy =
          static_cast<double>(g_.weight_bytes() - co_sz[n.c_out == 1 ? 1 : 0] * g_.weight_bytes_per_cout(Ci_) +
                              param_bytes) / bw_l;
      node();
      group_bounds(1, in_cmds_n, in_busy, input_changes ? n_out - 1 : 0, w_cmds_n, w_busy, n.c_out - 1);
      if (!pruned(point_bound(Ci_), Box{co, co, h, h, w, w, Ci_, Ci_}) && l1[0] >= 0) visit(Ci_);
    }
    for (int64_t nci = 2; nci <= Ci_; ++nci) {
      node();
      const int64_t lo = ceil_div(Ci_, nci), hi = ceil_div(Ci_, nci - 1) - 1;
      const int64_t tiles = n_out * nci;
      const int64_t in_cmds_n = n.c_out * nci * in_all - in_first;
      const int64_t w_cmds_n = n.h * n.w * nci * w_all - w_first + channel_param_cmds;
      const double in_busy = static_cast<double>(in_bytes_all - first_pixels * std::min(hi, Ci_) * eb_sum) / bw_l;
      const double w_busy =
          static_cast<double>(n.h * n.w * g_.weight_bytes() - co_sz[n.c_out == 1 ? 1 : 0] * g_.kh * g_.kw * hi +
                              param_bytes) / bw_l;
      const double lb_all = group_bounds(nci, in_cmds_n, in_busy, tiles - 1, w_cmds_n, w_busy, tiles - 1);
      if (pruned(lb_all, Box{co, co, h, h, w, w, 1, hi})) break;  // grows with n_ci for every buffering
      if (ceil_div(Ci_, lo) != nci) continue;  // no c_in gives exactly nci tiles
      for (int64_t ci = lo; ci <= hi && ci <= cmax; ++ci) {
        node();
        if (pruned(point_bound(ci), Box{co, co, h, h, w, w, ci, hi})) break;  // grows with c_in in the group
        if (allowed_ci(ci)) visit(ci);
      }
    }
  }

  // Distinct input extents read by the tiles of one axis, with their counts.
  static void axis_classes(int64_t n, int64_t size, int64_t out_extent, int64_t stride, int64_t k, int64_t pad,
                           int64_t in_extent, std::vector<std::pair<int64_t, int64_t>>& out) {
    out.clear();
    for (int64_t t = 0; t < n; ++t) {
      const int64_t e = axis_window(t * size, std::min(out_extent, (t + 1) * size), stride, k, pad, in_extent).in.size();
      auto it = std::find_if(out.begin(), out.end(), [&](const auto& p) { return p.first == e; });
      if (it == out.end()) out.push_back({e, 1});
      else ++it->second;
    }
  }

  // T(LD_0) of shape (co, h, w, ci): the first tile's input boxes, weights, bias and requant parameters.
  double first_loads_cycles(int64_t co, int64_t h, int64_t w, int64_t ci) const {
    const TileExtent e = tile_extent(g_, TileShape{co, h, w, ci}, {0, 0, 0, 0});
    std::array<DmaTransferCost, 8> c{};
    std::array<const DmaTransferCost*, 8> p{};
    size_t k = 0;
    for (int op = 0; op < g_.num_inputs() && k < 5; ++op) {
      const int64_t eb = g_.in_elem_bytes[static_cast<size_t>(op)], stride = g_.in_stride(op);
      c[k] = dma_transfer_cost(eng_, DmaDirection::Load,
                               DmaPattern{e.c_in.size() * eb, e.w_in.size(), stride * eb, e.h_in.size(),
                                          g_.w_in * stride * eb});
      p[k] = &c[k];
      ++k;
    }
    c[k] = dma_transfer_cost(eng_, DmaDirection::Load,
                             DmaPattern{e.c_in.size(), e.c_out.size() * g_.kh * g_.kw, Ci_, 1, 0});
    p[k] = &c[k];
    ++k;
    c[k] = dma_transfer_cost(eng_, DmaDirection::Load, DmaPattern{e.c_out.size() * g_.bias_bytes_per_cout, 1, 0, 1, 0});
    p[k] = &c[k];
    ++k;
    c[k] = dma_transfer_cost(eng_, DmaDirection::Load,
                             DmaPattern{e.c_out.size() * g_.requant_bytes_per_cout, 1, 0, 1, 0});
    p[k] = &c[k];
    ++k;
    return dma_batch_time(eng_, std::span<const DmaTransferCost* const>(p.data(), k)).done_cycles;
  }

  // ---- dory, fill: maximize an integer score, always double buffered ----

  // Upper bound of the layout bytes over the box (monotone in c_out, h, w, and in c_in below C_in).
  int64_t bytes_ub(const Box& b) const {
    const Buffering all = Buffering::all();
    int64_t ub = bytes(b.co_hi, b.h_hi, b.w_hi, tied_ ? b.co_hi : b.ci_hi, all);
    if (!tied_ && b.ci_hi == Ci_ && Ci_ > 1 && b.ci_lo < Ci_)
      ub = std::max(ub, bytes(b.co_hi, b.h_hi, b.w_hi, Ci_ - 1, all));
    return std::min(ub, budget_);
  }

  // Upper bound of the objective over the box: bytes_ub plus the largest value of each of DORY's terms.
  double value_ub(const Box& b) const {
    const int64_t by = bytes_ub(b);
    if (obj_ == Objective::Fill) return static_cast<double>(by);
    const int64_t Co = C_, Ho = H_, Wo = W_;
    int64_t v = 0;
    switch (g_.family) {
      case KernelFamily::Conv:
      case KernelFamily::Pointwise:
      case KernelFamily::Fc: {
        const int64_t r_co = max_rem(Co, b.co_lo, b.co_hi), r_h = max_rem(Ho, b.h_lo, b.h_hi),
                      r_w = max_rem(Wo, b.w_lo, b.w_hi);
        v = 2000000 * max_mod(b.h_lo, b.h_hi, 8) + 3000000 * max_mod(b.w_lo, b.w_hi, 2) +
            1000000 * max_mod(b.co_lo, b.co_hi, 4) + 1000000 * (b.w_hi * b.h_hi >= 16 ? 1 : 0) + by +
            100000 * b.co_hi + 10000 * r_co + 10000 * (b.co_lo == b.co_hi ? r_co % 4 : std::min<int64_t>(3, r_co)) +
            20000 * (b.h_lo == b.h_hi ? r_h % 8 : std::min<int64_t>(7, r_h)) +
            30000 * (b.w_lo == b.w_hi ? r_w % 2 : std::min<int64_t>(1, r_w));
        break;
      }
      case KernelFamily::Depthwise: {
        const int64_t r_co = max_rem(Co, b.co_lo, b.co_hi), r_h = max_rem(Ho, b.h_lo, b.h_hi),
                      r_w = max_rem(Wo, b.w_lo, b.w_hi);
        const bool h4 = b.h_hi / 4 > (b.h_lo - 1) / 4;
        v = 10000 * (b.co_hi > 7 ? 1 : 0) + 20000 * max_mod(b.co_lo, b.co_hi, 16) + 10000 * (h4 ? 1 : 0) + by +
            1000 * b.w_hi + 1000 * b.h_hi + 100 * r_h + 100 * r_w + 100 * (r_co > 7 ? 1 : 0) +
            100 * (b.h_lo == b.h_hi ? r_h % 4 : std::min<int64_t>(3, r_h));
        break;
      }
      case KernelFamily::Pool:
        v = 10000 * by + 100 * input_buffer_cols(g_, {1, 1, b.w_hi, 1}) +
            input_buffer_rows(g_, {1, b.h_hi, 1, 1}) + 1000000 * b.co_hi;
        break;
      case KernelFamily::Add: v = by; break;
    }
    return static_cast<double>(v);
  }

  // A box is pruned when even its optimistic candidate (the value bound, the fewest tiles, the largest sizes)
  // does not come strictly before the incumbent in the canonical order: each member is no better in every
  // component of the order, hence not better lexicographically.
  bool prune_max(double ub, const Box& b) const {
    const bool p = prune_max_unchecked(ub, b);
    if (opts_.verify_prunes) verify_pruned(b, 0xff, ub, p);
    return p;
  }
  bool prune_max_unchecked(double ub, const Box& b) const {
    if (!best_) return false;
    if (ub != best_->value) return ub < best_->value;
    Candidate opt;
    opt.value = ub;
    opt.shape = {b.co_hi, b.h_hi, b.w_hi, tied_ ? b.co_hi : b.ci_hi};
    opt.tiles = tile_counts(g_, opt.shape).total();
    opt.buffering = Buffering::all();
    return !better(obj_, opt, *best_);
  }

  void point_max(int64_t co, int64_t h, int64_t w) {
    node();
    const Buffering all = Buffering::all();
    int64_t ci = co, l1 = 0;
    if (tied_) {
      l1 = bytes(co, h, w, co, all);
      if (l1 > budget_) return;
    } else {
      const int64_t full = bytes(co, h, w, Ci_, all);
      const int64_t part_ci = max_partial_cin(co, h, w, all);
      const int64_t part = part_ci > 0 ? bytes(co, h, w, part_ci, all) : -1;
      if (full <= budget_ && full >= part) {
        ci = Ci_, l1 = full;
      } else if (part_ci > 0) {
        ci = part_ci, l1 = part;
      } else {
        return;
      }
    }
    const TileShape s{co, h, w, ci};
    Candidate c;
    c.shape = s;
    c.buffering = all;
    c.l1_bytes = l1;
    c.tiles = tile_counts(g_, s).total();
    c.value = value_of(s, all, l1);
    if (stats_) ++stats_->evaluations;
    offer(c);
  }

  void search_max() {
    const Buffering all = Buffering::all();
    const int64_t co_max = largest(C_, [&](int64_t co) { return fits_some_cin(co, 1, 1, all); });
    for (int64_t co = co_max; co >= 1; --co) {
      node();
      if (const Box b{1, co, 1, H_, 1, W_, 1, Ci_}; prune_max(value_ub(b), b)) break;
      const int64_t h_max = largest(H_, [&](int64_t h) { return fits_some_cin(co, h, 1, all); });
      for (int64_t h = h_max; h >= 1; --h) {
        node();
        if (const Box b{co, co, 1, h, 1, W_, 1, Ci_}; prune_max(value_ub(b), b)) break;
        const int64_t w_max = largest(W_, [&](int64_t w) { return fits_some_cin(co, h, w, all); });
        for (int64_t w = w_max; w >= 1; --w) {
          node();
          if (const Box b{co, co, h, h, 1, w, 1, Ci_}; prune_max(value_ub(b), b)) break;
          point_max(co, h, w);
        }
      }
    }
  }

  const LayerGeometry& g_;
  const Target& t_;
  int64_t budget_;
  Objective obj_;
  SearchStats* stats_;
  SearchOptions opts_;
  const DmaEngine& eng_;
  bool tied_ = false;
  int64_t grain_ = 1;  // the kernel's c_in grain (c_in_tile_allowed)
  int64_t C_ = 1, H_ = 1, W_ = 1, Ci_ = 1;
  std::optional<Candidate> best_;
  // bound data (model)
  std::optional<KernelCyclesBound> kernel_bound_;
  int64_t input_read_bytes_ = 0;
  double bw_load_ = 1, bw_store_ = 1, fixed_ = 0, issue_ = 0, transfer_ = 0;
  std::vector<std::pair<int64_t, int64_t>> rows_, cols_;  // scratch of search_cin
  std::optional<ShapeModel> scratch_;                      // the model being evaluated, reused
};

}  // namespace

std::optional<Candidate> solve_tiling(const LayerGeometry& g, const Target& target, int64_t l1_budget_bytes,
                                      Objective objective, SearchStats* stats, const SearchOptions& options) {
  Search s(g, target, l1_budget_bytes, objective, stats, options);
  return s.run();
}

std::vector<Candidate> enumerate_tilings(const LayerGeometry& g, const Target& target, int64_t l1_budget_bytes,
                                         Objective objective) {
  std::vector<Candidate> out;
  auto value = [&](const TileShape& s, const Buffering& b, int64_t l1) {
    switch (objective) {
      case Objective::Model: return model_layer(target, g, s, b).total_cycles;
      case Objective::Dory: return static_cast<double>(dory_score(g, s, l1));
      case Objective::Fill: return static_cast<double>(l1);
    }
    return 0.0;
  };
  const TileShape whole = whole_layer_shape(g);
  if (const int64_t l1 = l1_layout_bytes(g, whole, Buffering::none(), target);
      l1 <= l1_budget_bytes && objective != Objective::Model) {
    out.push_back({whole, Buffering::none(), value(whole, Buffering::none(), l1), l1, 1});
    return out;
  }
  for (int64_t co = 1; co <= g.c_out; ++co)
    for (int64_t h = 1; h <= g.h_out; ++h)
      for (int64_t w = 1; w <= g.w_out; ++w)
        for (int64_t ci = 1; ci <= g.c_in; ++ci) {
          const TileShape s{co, h, w, ci};
          if (!valid_shape(g, s) || (!g.channels_tied && !c_in_tile_allowed(g, ci, c_in_grain(g, target)))) continue;
          for (int bits = 0; bits < 8; ++bits) {
            const Buffering b = Buffering::from_bits(bits);
            if (objective != Objective::Model && !(b == Buffering::all())) continue;
            const int64_t l1 = l1_layout_bytes(g, s, b, target);
            if (l1 > l1_budget_bytes) continue;
            out.push_back({s, b, value(s, b, l1), l1, tile_counts(g, s).total()});
          }
        }
  return out;
}

MinimalLayout minimal_l1_layout(const LayerGeometry& g, const Target& target, Objective o) {
  const Buffering b = o == Objective::Model ? Buffering::none() : Buffering::all();
  std::vector<std::pair<TileShape, Buffering>> cands;
  cands.push_back({TileShape{1, 1, 1, 1}, b});
  if (!g.channels_tied && g.c_in > 1) cands.push_back({TileShape{1, 1, 1, g.c_in}, b});
  if (o != Objective::Model) cands.push_back({whole_layer_shape(g), Buffering::none()});
  MinimalLayout best;
  best.l1_bytes = -1;
  for (const auto& [s, buf] : cands) {
    if (!valid_shape(g, s)) continue;
    const int64_t l1 = l1_layout_bytes(g, s, buf, target);
    if (best.l1_bytes < 0 || l1 < best.l1_bytes) {
      best.l1_bytes = l1;
      best.shape = s;
      best.buffering = buf;
      best.counts_whole = s == whole_layer_shape(g) && buf == Buffering::none() && o != Objective::Model;
    }
  }
  best.layout = plan_l1_layout(g, best.shape, best.buffering, target);
  return best;
}

}  // namespace dory
