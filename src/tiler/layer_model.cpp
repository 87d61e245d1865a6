#include "tiler/layer_model.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <vector>

#include "tiler/core_shares.h"

namespace dory {

namespace {

bool double_buffered(const Buffering& b, BufferRole r) {
  switch (r) {
    case BufferRole::Input: return b.input;
    case BufferRole::Weights:
    case BufferRole::Bias:
    case BufferRole::RequantParams: return b.weights;
    case BufferRole::Output: return b.output;
    default: return false;
  }
}

struct BatchAcc {
  std::vector<DmaTransferCost> costs;
  DmaBatchTime time(const DmaEngine& e) const {
    std::vector<const DmaTransferCost*> ptrs;
    for (const auto& c : costs) ptrs.push_back(&c);
    return dma_batch_time(e, ptrs);
  }
};

KernelCall call_of(const LayerGeometry& g, int64_t co, int64_t h, int64_t w, int64_t ci) {
  return tile_call(g, co, h, w, ci);
}

double l1_resident(const Target& target, const LayerGeometry& g) {
  return kernel_cycles(target, g.kernel(target), call_of(g, g.c_out, g.h_out, g.w_out, g.c_in));
}

}  // namespace

namespace {

// The schedule of the header evaluated tile by tile; records the events of the first `max_tiles` slots when
// `events` is given (the timeline is this very evaluation, not a second model of it).
LayerCost evaluate_schedule(const Target& target, const LayerGeometry& g, const TileShape& s, const Buffering& b,
                            std::vector<TimelineEvent>* events, int64_t max_tiles) {
  DORY_CHECK(valid_shape(g, s), "model_layer_reference: invalid tile shape");
  const DmaEngine& eng = l1_l2_engine(target);
  const TileCounts n = tile_counts(g, s);
  const int64_t N = n.total();
  LayerCost c;
  c.tiles = N;
  c.l1_resident_cycles = l1_resident(target, g);
  auto cost_of = [&](const TileTransfer& t) { return dma_transfer_cost(eng, t.direction, t.pattern); };
  auto account = [&](const BatchAcc& a) {
    for (const auto& x : a.costs) {
      c.dma_bytes += x.bytes;
      c.dma_commands += x.commands;
      c.dma_transfers += x.commands > 0 ? 1 : 0;
      c.dma_busy_cycles += x.busy_cycles;
    }
  };
  // A batch's transfers pushed from `t0`: transfer k is in flight from its first push to the arrival of its last
  // byte (the done time of the batch's first k+1 transfers).
  struct Tagged {
    TileTransfer t;
    int64_t tile;
  };
  auto record = [&](const std::vector<Tagged>& xs, const BatchAcc& a, double t0, int64_t slot) {
    if (!events || (max_tiles >= 0 && slot >= max_tiles)) return;
    std::vector<const DmaTransferCost*> prefix;
    double pushed = 0;
    for (size_t k = 0; k < xs.size(); ++k) {
      prefix.push_back(&a.costs[k]);
      const DmaBatchTime bt = dma_batch_time(eng, prefix);
      TimelineEvent e;
      e.kind = xs[k].t.direction == DmaDirection::Load ? TimelineEvent::Load : TimelineEvent::Store;
      e.tile = xs[k].tile;
      e.role = xs[k].t.role;
      e.operand = xs[k].t.operand;
      e.bytes = a.costs[k].bytes;
      e.start_cycles = t0 + pushed;
      e.end_cycles = t0 + bt.done_cycles;
      pushed = bt.core_cycles;
      events->push_back(e);
    }
  };
  double total = 0;
  {
    BatchAcc ld0;
    std::vector<Tagged> xs;
    for (const auto& t : tile_loads(g, s, 0)) {
      ld0.costs.push_back(cost_of(t));
      xs.push_back({t, 0});
    }
    record(xs, ld0, target.executor.layer_cycles, 0);
    const DmaBatchTime t0 = ld0.time(eng);
    c.prologue_cycles = t0.done_cycles;
    c.issue_cycles += t0.core_cycles;
    account(ld0);
  }
  // The executor: its per-layer cost first, its per-tile cost on the cores beside each kernel call.
  const double XT = target.executor_tile_cycles(g.kernel(target));
  c.executor_cycles = target.executor.layer_cycles + XT * static_cast<double>(N);
  total = target.executor.layer_cycles + c.prologue_cycles;
  for (int64_t i = 0; i < N; ++i) {
    const TileExtent e = tile_extent(g, s, tile_index(n, i));
    const double K = kernel_cycles(target, g.kernel(target),
                                   call_of(g, e.c_out.size(), e.h_out.size(), e.w_out.size(), e.c_in.size()));
    c.compute_cycles += K;
    BatchAcc O, Z;
    std::vector<Tagged> ox, zx;
    if (b.output && i > 0)
      for (const auto& t : tile_stores(g, s, i - 1)) {
        O.costs.push_back(cost_of(t));
        ox.push_back({t, i - 1});
      }
    if (i + 1 < N)
      for (const auto& t : tile_loads(g, s, i + 1)) {
        const bool db = double_buffered(b, t.role);
        (db ? O : Z).costs.push_back(cost_of(t));
        (db ? ox : zx).push_back({t, i + 1});
      }
    if (!b.output)
      for (const auto& t : tile_stores(g, s, i)) {
        Z.costs.push_back(cost_of(t));
        zx.push_back({t, i});
      }
    const DmaBatchTime to = O.time(eng), tz = Z.time(eng);
    record(ox, O, total, i);
    if (events && (max_tiles < 0 || i < max_tiles)) {
      TimelineEvent ce;
      ce.kind = TimelineEvent::Compute;
      ce.tile = i;
      ce.start_cycles = total + to.core_cycles;
      ce.end_cycles = ce.start_cycles + (K + XT);
      events->push_back(ce);
    }
    const double z0 = total + std::max(to.core_cycles + (K + XT), to.done_cycles);
    record(zx, Z, z0, i);
    total = z0 + tz.done_cycles;
    c.issue_cycles += to.core_cycles + tz.core_cycles;
    account(O);
    account(Z);
  }
  if (b.output) {
    BatchAcc st;
    std::vector<Tagged> xs;
    for (const auto& t : tile_stores(g, s, N - 1)) {
      st.costs.push_back(cost_of(t));
      xs.push_back({t, N - 1});
    }
    record(xs, st, total, N - 1);
    const DmaBatchTime te = st.time(eng);
    c.epilogue_cycles = te.done_cycles;
    c.issue_cycles += te.core_cycles;
    total += te.done_cycles;
    account(st);
  }
  c.total_cycles = total;
  return c;
}

}  // namespace

LayerCost model_layer_reference(const Target& target, const LayerGeometry& g, const TileShape& s,
                                const Buffering& b) {
  return evaluate_schedule(target, g, s, b, nullptr, -1);
}

std::vector<TimelineEvent> layer_timeline(const Target& target, const LayerGeometry& g, const TileShape& s,
                                          const Buffering& b, int64_t max_tiles) {
  std::vector<TimelineEvent> events;
  evaluate_schedule(target, g, s, b, &events, max_tiles);
  return events;
}

// ---- the fast evaluation ----
//
// Tiles differ only in a few classes: along c_out, h, w, c_in the body and the last size; along h and w also the
// input rows/columns actually read (clipped at the borders). Kernel cycles and transfer costs are computed once
// per class; the slots of the tiles of one output tile (its input-channel tiles) are computed in at most four
// groups, and the DMA timing of a slot (which depends only on the classes of the transfers it contains) is
// memoized.

namespace {

struct SlotTime {
  double o_done = 0, o_core = 0, z_done = 0, z_core = 0;
  double busy = 0;
  int64_t bytes = 0, commands = 0, transfers = 0;
};

struct SlotMemo {
  static constexpr int kSize = 1024;  // power of two
  std::array<uint64_t, kSize> keys{};
  std::array<uint32_t, kSize> stamp{};
  std::array<SlotTime, kSize> val{};
  uint32_t gen = 0;
  int used = 0;
};

}  // namespace

struct ShapeModel::Impl {
  Impl(const Target& target, const LayerGeometry& g, const TileShape& s)
      : target_(target), g_(g), eng_(l1_l2_engine(target)) {
    set_output(s);
    set_cin(s.c_in);
  }

  // ---- the parts that depend on the output tile (c_out, h_out, w_out) ----
  void set_output(const TileShape& s) {
    s_ = s;
    const TileCounts n = tile_counts(g_, s);
    n_.c_out = n.c_out, n_.h = n.h, n_.w = n.w;
    size_[0][0] = s.c_out, size_[0][1] = g_.c_out - (n_.c_out - 1) * s.c_out;
    size_[1][0] = s.h_out, size_[1][1] = g_.h_out - (n_.h - 1) * s.h_out;
    size_[2][0] = s.w_out, size_[2][1] = g_.w_out - (n_.w - 1) * s.w_out;
    if (s.h_out != classified_h_) {
      classify(n_.h, s.h_out, g_.h_out, g_.stride_h, g_.kh, g_.pad.top, g_.h_in, hcls_, hrows_, hhist_);
      classified_h_ = s.h_out;
    }
    if (s.w_out != classified_w_) {
      classify(n_.w, s.w_out, g_.w_out, g_.stride_w, g_.kw, g_.pad.left, g_.w_in, wcls_, wcols_, whist_);
      classified_w_ = s.w_out;
    }
    NW_ = static_cast<int>(wcols_.size());
    DORY_CHECK(hrows_.size() * wcols_.size() * 2 < 4096, "model_layer: too many input tile classes");
    // (classes without tiles are never read: body classes of one-tile dimensions are skipped)
    for (int co = 0; co < 2; ++co) {
      if (!used(n_.c_out, co)) continue;
      DmaPattern bp;
      bp.row_bytes = size_[0][co] * g_.bias_bytes_per_cout;
      B_[co] = dma_transfer_cost(eng_, DmaDirection::Load, bp);
      bp.row_bytes = size_[0][co] * g_.requant_bytes_per_cout;
      RQ_[co] = dma_transfer_cost(eng_, DmaDirection::Load, bp);
      for (int h = 0; h < 2; ++h)
        for (int w = 0; w < 2; ++w)
          if (used(n_.h, h) && used(n_.w, w))
            ST_[co][h][w] = dma_transfer_cost(eng_, DmaDirection::Store,
                                              box_pattern(size_[1][h], size_[2][w], size_[0][co], g_.w_out,
                                                          g_.out_stride(), g_.out_elem_bytes));
    }
  }

  static bool used(int64_t count, int cls) { return cls == 1 || count > 1; }

  // ---- the parts that depend on the input-channel tile ----
  void set_cin(int64_t c_in) {
    const int64_t cin = g_.channels_tied ? s_.c_out : c_in;
    s_.c_in = cin;
    nci_ = g_.channels_tied ? 1 : ceil_div(g_.c_in, cin);
    n_.c_in = nci_;
    size_[3][0] = cin;
    size_[3][1] = g_.channels_tied ? size_[0][1] : g_.c_in - (nci_ - 1) * cin;
    const bool tied = g_.channels_tied;
    for (int co = 0; co < 2; ++co) {
      if (!used(n_.c_out, co)) continue;
      for (int h = 0; h < 2; ++h) {
        if (!used(n_.h, h)) continue;
        for (int w = 0; w < 2; ++w) {
          if (!used(n_.w, w)) continue;
          for (int ci = 0; ci < 2; ++ci) {
            if (tied && ci == 1) {
              K_[co][h][w][1] = K_[co][h][w][0];  // tied: the input channels follow c_out
              continue;
            }
            if (!tied && !used(nci_, ci)) continue;
            K_[co][h][w][ci] = kernel_cycles(
                target_, g_.kernel(target_), call_of(g_, size_[0][co], size_[1][h], size_[2][w], tied ? size_[0][co] : size_[3][ci]));
          }
        }
      }
    }
    const size_t ni = static_cast<size_t>(g_.num_inputs());
    in_.resize(hrows_.size() * wcols_.size() * 2 * ni);
    const int64_t n_cc = tied ? n_.c_out : nci_;  // the count the input's channel class follows
    for (size_t hc = 0; hc < hrows_.size(); ++hc)
      for (size_t wc = 0; wc < wcols_.size(); ++wc)
        for (int cc = 0; cc < 2; ++cc) {
          if (!used(n_cc, cc)) continue;
          for (size_t k = 0; k < ni; ++k)
            in_[((hc * wcols_.size() + wc) * 2 + static_cast<size_t>(cc)) * ni + k] = dma_transfer_cost(
                eng_, DmaDirection::Load,
                box_pattern(hrows_[hc], wcols_[wc], size_[3][cc], g_.w_in, g_.in_stride(static_cast<int>(k)),
                            g_.in_elem_bytes[k]));
        }
    for (int co = 0; co < 2; ++co)
      for (int ci = 0; ci < 2; ++ci) {
        if (!used(n_.c_out, co) || (tied ? ci == 1 : !used(nci_, ci))) continue;
        TileExtent e;
        e.c_out = {0, size_[0][co]};
        e.c_in = {0, g_.channels_tied ? size_[0][co] : size_[3][ci]};
        W_[co][ci] = g_.weight_bytes_per_cout(1) > 0
                         ? dma_transfer_cost(eng_, DmaDirection::Load, weights_transfer(g_, e).pattern)
                         : DmaTransferCost{};
      }
    input_changes_ = g_.channels_tied ? n_.total() > 1 : n_.h * n_.w * nci_ > 1;
  }

  LayerCost run(const Buffering& b) const {
    b_ = b;
    thread_local SlotMemo memo;
    memo_ = &memo;
    if (++memo.gen == 0) {
      memo.stamp.fill(0);
      memo.gen = 1;
    }
    memo.used = 0;
    LayerCost c;
    c.tiles = n_.total();
    c.l1_resident_cycles = l1_resident(target_, g_);
    // Prologue: every load of tile 0.
    {
      Batch ld;
      add_loads(ld, in_id(0, 0, 0, 0), 1 + wid(cls(0, n_.c_out), cls(0, nci_)), 1 + cls(0, n_.c_out));
      const DmaBatchTime t = dma_batch_time(eng_, ld.span());
      c.prologue_cycles = t.done_cycles;
      c.issue_cycles += t.core_cycles;
      account(c, ld);
    }
    const double XT = target_.executor_tile_cycles(g_.kernel(target_));
    c.executor_cycles = target_.executor.layer_cycles;
    double total = target_.executor.layer_cycles + c.prologue_cycles;
    const int64_t n_ot = n_.c_out * n_.h * n_.w;
    int64_t co = 0, h = 0, w = 0;
    for (int64_t ot = 0; ot < n_ot; ++ot) {
      // Next output tile.
      int64_t nco = co, nh = h, nw = w + 1;
      if (nw == n_.w) {
        nw = 0;
        if (++nh == n_.h) {
          nh = 0;
          ++nco;
        }
      }
      const bool has_next = ot + 1 < n_ot;
      const int coc = cls(co, n_.c_out), hc = cls(h, n_.h), wc = cls(w, n_.w);
      const int st_cur = 1 + (coc * 2 + hc) * 2 + wc;
      int st_prev = 0;
      if (ot > 0) {
        int64_t pco = co, ph = h, pw = w - 1;
        if (pw < 0) {
          pw = n_.w - 1;
          if (--ph < 0) {
            ph = n_.h - 1;
            --pco;
          }
        }
        st_prev = 1 + (cls(pco, n_.c_out) * 2 + cls(ph, n_.h)) * 2 + cls(pw, n_.w);
      }
      // The loads that follow the last input-channel tile of this output tile.
      int x_in = 0, x_w = 0, x_b = 0;
      if (has_next) {
        const bool co_changes = nco != co;
        const int ncoc = cls(nco, n_.c_out);
        if (input_changes_) x_in = in_id(nco, nh, nw, 0);
        if (nci_ > 1 || co_changes) x_w = 1 + wid(ncoc, cls(0, nci_));
        if (co_changes) x_b = 1 + ncoc;
      }
      auto slot = [&](int64_t ci, int next_in, int next_w, int next_b, int64_t mult) {
        const bool first = ci == 0, last = ci == nci_ - 1;
        const int st = b_.output ? (first ? st_prev : 0) : (last ? st_cur : 0);
        const SlotTime& t = slot_time(st, next_in, next_w, next_b);
        const double K = K_[coc][hc][wc][cls(ci, nci_)];
        const double m = static_cast<double>(mult);
        // (two additions, always in this order, so that equal schedules give bit-identical totals)
        total += m * std::max(t.o_core + (K + XT), t.o_done);
        total += m * t.z_done;
        c.compute_cycles += m * K;
        c.issue_cycles += m * (t.o_core + t.z_core);
        c.dma_busy_cycles += m * t.busy;
        c.dma_bytes += mult * t.bytes;
        c.dma_commands += mult * t.commands;
        c.dma_transfers += mult * t.transfers;
        c.executor_cycles += m * XT;
      };
      auto inner = [&](int64_t ci_next) {  // loads of tile (co, h, w, ci_next) within this output tile
        return std::array<int, 3>{input_changes_ ? in_id(co, h, w, ci_next) : 0, 1 + wid(coc, cls(ci_next, nci_)),
                                  0};
      };
      if (nci_ == 1) {
        slot(0, x_in, x_w, x_b, 1);
      } else {
        auto a = inner(1);
        slot(0, a[0], a[1], a[2], 1);
        if (nci_ >= 4) {
          auto m = inner(2);
          slot(1, m[0], m[1], m[2], nci_ - 3);
        }
        if (nci_ >= 3) {
          auto l = inner(nci_ - 1);
          slot(nci_ - 2, l[0], l[1], l[2], 1);
        }
        slot(nci_ - 1, x_in, x_w, x_b, 1);
      }
      co = nco, h = nh, w = nw;
    }
    if (b_.output) {
      const DmaTransferCost& st = last_store();
      Batch e;
      e.push(&st);
      const DmaBatchTime t = dma_batch_time(eng_, e.span());
      c.epilogue_cycles = t.done_cycles;
      c.issue_cycles += t.core_cycles;
      total += t.done_cycles;
      account(c, e);
    }
    c.total_cycles = total;
    return c;
  }

  // Aggregates of the transfers of one kind, for the bounds.
  struct Kind {
    int64_t commands = 0;  // commands of the transfers after tile 0's loads (loads) / of all of them (stores)
    double busy = 0;
    int64_t slots = 0;     // slots whose batch holds one of them
  };

  // Lower bounds of run(b).total_cycles for every buffering b (index: b.bits()); see docs/cost-model.md.
  std::array<double, 8> lower_bounds() const {
    const std::array<int64_t, 2> cco{n_.c_out - 1, 1}, ch{n_.h - 1, 1}, cw{n_.w - 1, 1}, cci{nci_ - 1, 1};
    double sum_k = 0;
    for (int co = 0; co < 2; ++co)
      for (int h = 0; h < 2; ++h)
        for (int w = 0; w < 2; ++w)
          for (int ci = 0; ci < 2; ++ci)
            if (const int64_t m = cco[co] * ch[h] * cw[w] * cci[ci]; m > 0)
              sum_k += static_cast<double>(m) * K_[co][h][w][ci];
    // Tile 0's loads and the last tile's store.
    const int co0 = cls(0, n_.c_out), ci0 = cls(0, nci_);
    const int in0 = in_id(0, 0, 0, 0);
    Batch ld;
    add_loads(ld, in0, 1 + wid(co0, ci0), 1 + co0);
    const DmaTransferCost& st_last = last_store();
    Batch st;
    st.push(&st_last);
    const double t_ld0 = dma_batch_time(eng_, ld.span()).done_cycles;
    const double t_st = dma_batch_time(eng_, st.span()).done_cycles;
    auto add = [](Kind& k, const DmaTransferCost& t, int64_t m) {
      k.commands += m * t.commands;
      k.busy += static_cast<double>(m) * t.busy_cycles;
    };
    const size_t ni = static_cast<size_t>(g_.num_inputs());
    // Inputs after tile 0.
    Kind in;
    if (input_changes_) {
      for (size_t hc = 0; hc < hrows_.size(); ++hc)
        for (size_t wc = 0; wc < wcols_.size(); ++wc)
          for (int cc = 0; cc < 2; ++cc) {
            const int64_t m = (g_.channels_tied ? cco[static_cast<size_t>(cc)] : cci[static_cast<size_t>(cc)] * n_.c_out) *
                              hhist_[hc] * whist_[wc];
            if (m == 0) continue;
            for (size_t k = 0; k < ni; ++k) add(in, in_[((hc * wcols_.size() + wc) * 2 + static_cast<size_t>(cc)) * ni + k], m);
          }
      for (size_t k = 0; k < ni; ++k) add(in, in_[static_cast<size_t>(in0 - 1) * ni + k], -1);
      in.slots = n_.total() - 1;
    }
    // Weights, bias and requant after tile 0.
    Kind wt;
    const bool every_step = !g_.channels_tied && nci_ > 1;
    for (int co = 0; co < 2; ++co) {
      if (cco[static_cast<size_t>(co)] == 0) continue;
      const int64_t mc = cco[static_cast<size_t>(co)];
      if (every_step) {
        for (int ci = 0; ci < 2; ++ci) add(wt, W_[co][ci], mc * cci[static_cast<size_t>(ci)] * n_.h * n_.w);
      } else {
        add(wt, W_[co][wid(co, 1) % 2], mc);
      }
      add(wt, B_[co], mc);
      add(wt, RQ_[co], mc);
    }
    add(wt, W_[co0][wid(co0, ci0) % 2], -1);
    add(wt, B_[co0], -1);
    add(wt, RQ_[co0], -1);
    wt.slots = wt.commands > 0 ? (every_step ? n_.total() - 1 : n_.c_out - 1) : 0;
    // Stores (all of them).
    Kind so;
    for (int co = 0; co < 2; ++co)
      for (int h = 0; h < 2; ++h)
        for (int w = 0; w < 2; ++w)
          if (const int64_t m = cco[static_cast<size_t>(co)] * ch[static_cast<size_t>(h)] * cw[static_cast<size_t>(w)]; m > 0)
            add(so, ST_[co][h][w], m);
    so.slots = n_.c_out * n_.h * n_.w;
    const double c = eng_.issue_cycles, su = eng_.setup_cycles;
    // Every transfer's engine time, at least.
    double busy_all = in.busy + wt.busy + so.busy;
    for (size_t k = 0; k < ld.n; ++k) busy_all += ld.v[k]->busy_cycles;
    // The executor's costs are part of every schedule (before the prologue, beside every tile's kernel).
    const double XL = target_.executor.layer_cycles;
    sum_k += XL + target_.executor_tile_cycles(g_.kernel(target_)) * static_cast<double>(n_.total());
    const double dma_bound = XL + busy_all + c + su;
    std::array<double, 8> lb{};
    for (int bits = 0; bits < 8; ++bits) {
      const Buffering b = Buffering::from_bits(bits);
      // total >= T(LD_0) + sum K + sum P(O_i) + sum T(Z_i) + epilogue, with P(O) >= c * commands and
      // T(Z) >= setup + max(c * commands, busy) for a non-empty Z.
      int64_t o_cmds = 0, z_cmds = 0, z_slots = 0;
      double z_busy = 0;
      auto place = [&](const Kind& k, bool db) {
        if (db) {
          o_cmds += k.commands;
        } else {
          z_cmds += k.commands;
          z_busy += k.busy;
          z_slots = std::max(z_slots, k.slots);
        }
      };
      place(in, b.input);
      place(wt, b.weights);
      double tail = 0;
      if (b.output) {
        o_cmds += so.commands - st_last.commands;  // the last store is the epilogue
        tail = t_st;
      } else {
        place(so, false);
      }
      const double bound = t_ld0 + sum_k + c * static_cast<double>(o_cmds) + static_cast<double>(z_slots) * su +
                           std::max(c * static_cast<double>(z_cmds), z_busy) + tail;
      lb[static_cast<size_t>(bits)] = std::max(bound, dma_bound);
    }
    return lb;
  }

  // A small list of transfers (a batch) without allocation.
  struct Batch {
    std::array<const DmaTransferCost*, 16> v{};
    size_t n = 0;
    void push(const DmaTransferCost* t) {
      DORY_CHECK(n < v.size(), "model_layer: batch too long");
      v[n++] = t;
    }
    std::span<const DmaTransferCost* const> span() const { return {v.data(), n}; }
  };

  static int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
  static int cls(int64_t index, int64_t count) { return index == count - 1 ? 1 : 0; }

  // Distinct input extents read by the tiles along one axis; cls_of[t] indexes `extents`, hist counts them.
  // Only tiles whose windows are clipped by the map's borders (and the last tile) can differ from the body
  // tiles' (size-1)*stride + k, so only those are computed one by one.
  static void classify(int64_t n, int64_t size, int64_t out_extent, int64_t stride, int64_t k, int64_t pad,
                       int64_t in_extent, std::vector<int>& cls_of, std::vector<int64_t>& extents,
                       std::vector<int64_t>& hist) {
    cls_of.resize(static_cast<size_t>(n));
    extents.clear();
    hist.clear();
    auto class_of = [&](int64_t e, int64_t count) {
      size_t c = 0;
      while (c < extents.size() && extents[c] != e) ++c;
      if (c == extents.size()) {
        extents.push_back(e);
        hist.push_back(0);
      }
      hist[c] += count;
      return static_cast<int>(c);
    };
    auto one = [&](int64_t t) {
      const int64_t o0 = t * size, o1 = std::min(o0 + size, out_extent);
      cls_of[static_cast<size_t>(t)] = class_of(axis_window(o0, o1, stride, k, pad, in_extent).in.size(), 1);
    };
    auto clipped = [&](int64_t t) {
      return t == n - 1 || t * size * stride < pad || ((t + 1) * size - 1) * stride - pad + k > in_extent;
    };
    int64_t lo = 0, hi = n - 1;
    while (lo <= hi && clipped(lo)) one(lo++);
    while (hi >= lo && clipped(hi)) one(hi--);
    if (lo <= hi) {
      const int c = class_of((size - 1) * stride + k, hi - lo + 1);
      std::fill(cls_of.begin() + lo, cls_of.begin() + hi + 1, c);
    }
  }

  int in_id(int64_t co, int64_t h, int64_t w, int64_t ci) const {
    const int cc = g_.channels_tied ? cls(co, n_.c_out) : cls(ci, nci_);
    return 1 + (hcls_[static_cast<size_t>(h)] * NW_ + wcls_[static_cast<size_t>(w)]) * 2 + cc;
  }
  int wid(int coc, int cic) const { return coc * 2 + (g_.channels_tied ? 0 : cic); }

  const DmaTransferCost& last_store() const {
    const TileIndex last = tile_index(n_, n_.total() - 1);
    return ST_[cls(last.co, n_.c_out)][cls(last.h, n_.h)][cls(last.w, n_.w)];
  }

  void add_inputs(Batch& v, int in) const {
    const size_t ni = static_cast<size_t>(g_.num_inputs());
    for (size_t k = 0; k < ni; ++k) v.push(&in_[static_cast<size_t>(in - 1) * ni + k]);
  }
  void add_loads(Batch& v, int in, int w, int b) const {
    if (in > 0) add_inputs(v, in);
    if (w > 0) v.push(&W_[(w - 1) / 2][(w - 1) % 2]);
    if (b > 0) {
      v.push(&B_[b - 1]);
      v.push(&RQ_[b - 1]);
    }
  }

  const DmaTransferCost* st_cost(int st) const {
    const int x = st - 1;
    return &ST_[x / 4][(x / 2) % 2][x % 2];
  }

  static void account(LayerCost& c, const Batch& v) {
    for (size_t k = 0; k < v.n; ++k) {
      c.dma_bytes += v.v[k]->bytes;
      c.dma_commands += v.v[k]->commands;
      c.dma_transfers += v.v[k]->commands > 0 ? 1 : 0;
      c.dma_busy_cycles += v.v[k]->busy_cycles;
    }
  }

  const SlotTime& slot_time(int st, int in, int w, int b) const {
    const uint64_t key = (((static_cast<uint64_t>(st) * 4096 + static_cast<uint64_t>(in)) * 8 +
                           static_cast<uint64_t>(w)) *
                              4 +
                          static_cast<uint64_t>(b)) +
                         1;
    SlotMemo& m = *memo_;
    const uint64_t h = key * 0x9E3779B97F4A7C15ull;
    size_t idx = static_cast<size_t>(h >> 54) & (SlotMemo::kSize - 1);
    for (;;) {
      if (m.stamp[idx] != m.gen) break;
      if (m.keys[idx] == key) return m.val[idx];
      idx = (idx + 1) & (SlotMemo::kSize - 1);
    }
    Batch O, Z;
    if (b_.output && st > 0) O.push(st_cost(st));
    // The next tile's loads, by whether their buffer is double buffered.
    if (in > 0) add_inputs(b_.input ? O : Z, in);
    if (w > 0) (b_.weights ? O : Z).push(&W_[(w - 1) / 2][(w - 1) % 2]);
    if (b > 0) {
      (b_.weights ? O : Z).push(&B_[b - 1]);
      (b_.weights ? O : Z).push(&RQ_[b - 1]);
    }
    if (!b_.output && st > 0) Z.push(st_cost(st));
    SlotTime t;
    const DmaBatchTime to = dma_batch_time(eng_, O.span()), tz = dma_batch_time(eng_, Z.span());
    t.o_done = to.done_cycles;
    t.o_core = to.core_cycles;
    t.z_done = tz.done_cycles;
    t.z_core = tz.core_cycles;
    for (const Batch* v : {&O, &Z})
      for (size_t k = 0; k < v->n; ++k) {
        t.busy += v->v[k]->busy_cycles;
        t.bytes += v->v[k]->bytes;
        t.commands += v->v[k]->commands;
        t.transfers += v->v[k]->commands > 0 ? 1 : 0;
      }
    if (++m.used > SlotMemo::kSize / 2) {  // keep the table sparse: start over (it is only a cache)
      if (++m.gen == 0) {
        m.stamp.fill(0);
        m.gen = 1;
      }
      m.used = 1;
      idx = static_cast<size_t>(h >> 54) & (SlotMemo::kSize - 1);
    }
    m.stamp[idx] = m.gen;
    m.keys[idx] = key;
    m.val[idx] = t;
    return m.val[idx];
  }

  const Target& target_;
  const LayerGeometry& g_;
  TileShape s_;
  mutable Buffering b_;
  const DmaEngine& eng_;
  TileCounts n_;
  int64_t nci_ = 1;
  int64_t size_[4][2]{};
  std::vector<int> hcls_, wcls_;
  std::vector<int64_t> hrows_, wcols_, hhist_, whist_;
  int NW_ = 1;
  int64_t classified_h_ = -1, classified_w_ = -1;
  double K_[2][2][2][2]{};
  std::vector<DmaTransferCost> in_;  // [(h class * NW + w class) * 2 + channel class][operand]
  DmaTransferCost W_[2][2]{}, B_[2]{}, RQ_[2]{}, ST_[2][2][2]{};
  bool input_changes_ = false;
  mutable SlotMemo* memo_ = nullptr;
};

ShapeModel::ShapeModel(const Target& target, const LayerGeometry& g, const TileShape& s) {
  DORY_CHECK(valid_shape(g, s), "ShapeModel: invalid tile shape");
  impl_ = std::make_unique<Impl>(target, g, s);
}
ShapeModel::~ShapeModel() = default;
LayerCost ShapeModel::run(const Buffering& b) const { return impl_->run(b); }
void ShapeModel::set_c_in(int64_t c_in) {
  TileShape s = impl_->s_;
  s.c_in = impl_->g_.channels_tied ? s.c_out : c_in;
  DORY_CHECK(valid_shape(impl_->g_, s), "ShapeModel::set_c_in: invalid tile shape");
  impl_->set_cin(c_in);
}
const TileShape& ShapeModel::shape() const { return impl_->s_; }
void ShapeModel::set_shape(const TileShape& s) {
  DORY_CHECK(valid_shape(impl_->g_, s), "ShapeModel::set_shape: invalid tile shape");
  impl_->set_output(s);
  impl_->set_cin(s.c_in);
}
std::array<double, 8> ShapeModel::lower_bounds() const { return impl_->lower_bounds(); }
const TileCounts& ShapeModel::counts() const { return impl_->n_; }

LayerCost model_layer(const Target& target, const LayerGeometry& g, const TileShape& s, const Buffering& b) {
  return ShapeModel(target, g, s).run(b);
}

}  // namespace dory
