#include "eval/eval.h"

#include <fmt/format.h>

#include <algorithm>

#include "tiler/l1_layout.h"
#include "tiler/tile.h"

namespace dory {

namespace {

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
int64_t align8(int64_t n) { return (n + 7) / 8 * 8; }

// The target with one core: kernel_cycles of a core's share on it is that core's time.
Target single_core(const Target& target) {
  Target one = target;
  one.cores = 1;
  return one;
}

// The whole layer as one kernel call.
KernelCall whole_call(const LayerGeometry& g) {
  KernelCall k;
  k.c_out = g.c_out;
  k.h_out = g.h_out;
  k.w_out = g.w_out;
  k.c_in = g.c_in;
  k.kh = g.kh;
  k.kw = g.kw;
  return k;
}

WorkSplit split_of(const KernelImpl& k) { return k.split(); }

std::vector<KernelCall> shares(int64_t cores, WorkSplit split, const KernelCall& call) {
  std::vector<KernelCall> out;
  const int64_t extent = split == WorkSplit::Rows ? call.h_out : call.c_out;
  const int64_t chunk = ceil_div(extent, cores);
  for (int64_t k = 0; k < cores; ++k) {
    const int64_t n = std::min(chunk, extent - k * chunk);
    if (n <= 0) break;
    KernelCall s = call;
    (split == WorkSplit::Rows ? s.h_out : s.c_out) = n;
    out.push_back(s);
  }
  return out;
}

double core_cycles_sum(const Target& one_core, int64_t cores, const KernelImpl& kernel, const KernelCall& call) {
  double sum = 0;
  for (const KernelCall& s : shares(cores, split_of(kernel), call)) sum += kernel_cycles(one_core, kernel, s);
  return sum;
}

// 32-bit loads from L2 and bytes stored to L2 by one core computing `s` (its share) of layer g.
struct CoreTraffic {
  double loads = 0;
  double store_bytes = 0;
};

CoreTraffic core_traffic(const Target& target, const LayerGeometry& g, const KernelCall& s, L2Scratch scratch) {
  CoreTraffic t;
  const double c = static_cast<double>(s.c_out);
  const double p = static_cast<double>(s.h_out * s.w_out);
  const double window = static_cast<double>(s.kh * s.kw);
  t.store_bytes = c * p * g.out_elem_bytes;
  const double in_bytes = g.in_elem_bytes.at(0);
  if (g.is_mac()) {
    const MacKernelParams& m = g.kernel(target).mac;
    const double cb = static_cast<double>(m.channel_block), pb = static_cast<double>(m.pixel_block);
    const double blocks = static_cast<double>(ceil_div(s.c_out, m.channel_block)) *
                          static_cast<double>(ceil_div(s.h_out * s.w_out, m.pixel_block));
    const double macs_per_output = g.family == KernelFamily::Depthwise ? window : window * s.c_in;
    const double eff = blocks * cb * pb * macs_per_output;
    const double weight_loads = eff / (4 * pb);
    const double input_loads = (m.im2col_cycles_per_byte > 0 && scratch == L2Scratch::L1)
                                   ? p * window * static_cast<double>(s.c_in) * in_bytes / 4
                                   : eff * in_bytes / (4 * cb);
    const double epilogue_loads =
        blocks * cb * static_cast<double>(g.bias_bytes_per_cout + g.requant_bytes_per_cout) / 4;
    t.loads = weight_loads + input_loads + epilogue_loads;
  } else if (g.family == KernelFamily::Pool) {
    t.loads = c * p * window * in_bytes / 4;
  } else {
    for (int b : g.in_elem_bytes) t.loads += c * p * b / 4;
  }
  return t;
}

L2DirectCost l2_direct(const Target& target, const Target& one_core, const LayerGeometry& g, L2Scratch scratch) {
  L2DirectCost r;
  const KernelCall call = whole_call(g);
  const double stall_per_load = static_cast<double>(target.l2.access_cycles - target.l1.access_cycles);
  double slowest = 0;
  const KernelImpl& kernel = g.kernel(target);
  for (const KernelCall& s : shares(target.cores, split_of(kernel), call)) {
    const double compute = kernel_cycles(one_core, kernel, s);
    const CoreTraffic t = core_traffic(target, g, s, scratch);
    const double stall = t.loads * stall_per_load;
    r.active_core_cycles += compute;
    r.loads += t.loads;
    r.store_bytes += t.store_bytes;
    if (compute + stall > slowest) {
      slowest = compute + stall;
      r.busiest_compute_cycles = compute;
      r.busiest_stall_cycles = stall;
    }
  }
  r.load_bytes = 4 * r.loads;
  const DmaEngine& port = l1_l2_engine(target);
  const double port_cycles = (r.load_bytes + r.store_bytes) / port.bandwidth(MemLevel::L2, MemLevel::L1);
  r.cycles = std::max(slowest, port_cycles);
  r.port_bound = port_cycles > slowest;
  return r;
}

double active_cycles_of_plan(const Target& one_core, int64_t cores, const TilePlan& plan) {
  const LayerGeometry& g = plan.geometry;
  const TileCounts n = tile_counts(g, plan.shape);
  double sum = 0;
  for (int64_t i = 0; i < n.total(); ++i) {
    const TileExtent e = tile_extent(g, plan.shape, tile_index(n, i));
    KernelCall k;
    k.c_out = e.c_out.size();
    k.h_out = e.h_out.size();
    k.w_out = e.w_out.size();
    k.c_in = e.c_in.size();
    k.kh = g.kh;
    k.kw = g.kw;
    sum += core_cycles_sum(one_core, cores, g.kernel(one_core), k);
  }
  return sum;
}

void finish(const Target& target, ModeCost& m) {
  m.energy = energy_of(target, {m.cycles, m.active_core_cycles, m.dma_bytes, m.core_l2_bytes});
  m.source = Provenance::Modeled;
}

void accumulate(ModeCost& total, const ModeCost& m) {
  total.cycles += m.cycles;
  total.active_core_cycles += m.active_core_cycles;
  total.dma_bytes += m.dma_bytes;
  total.core_l2_bytes += m.core_l2_bytes;
  total.stall_cycles += m.stall_cycles;
  total.tiles += m.tiles;
  total.energy.idle_pj += m.energy.idle_pj;
  total.energy.active_pj += m.energy.active_pj;
  total.energy.dma_pj += m.energy.dma_pj;
  total.energy.core_l2_pj += m.energy.core_l2_pj;
}

}  // namespace

const char* eval_mode_name(EvalMode m) {
  switch (m) {
    case EvalMode::L1Resident:
      return "l1-resident";
    case EvalMode::L2Direct:
      return "l2-direct";
    case EvalMode::Model:
      return "dory-model";
    case EvalMode::Dory:
      return "dory-dory";
    case EvalMode::Fill:
      return "dory-fill";
  }
  return "?";
}

const char* eval_mode_title(EvalMode m) {
  switch (m) {
    case EvalMode::L1Resident:
      return "L1-resident";
    case EvalMode::L2Direct:
      return "L2-direct";
    case EvalMode::Model:
      return "DORY model";
    case EvalMode::Dory:
      return "DORY dory";
    case EvalMode::Fill:
      return "DORY fill";
  }
  return "?";
}

Objective eval_mode_objective(EvalMode m) {
  switch (m) {
    case EvalMode::Model:
      return Objective::Model;
    case EvalMode::Dory:
      return Objective::Dory;
    case EvalMode::Fill:
      return Objective::Fill;
    default:
      break;
  }
  DORY_CHECK(false, fmt::format("eval mode '{}' has no tiler objective", eval_mode_name(m)));
  return Objective::Model;
}

const char* provenance_name(Provenance p) { return p == Provenance::Modeled ? "modeled" : "executed"; }

Energy energy_of(const Target& target, const EnergyInputs& in) {
  const EnergyParams& e = target.energy;
  Energy r;
  r.idle_pj = in.cycles * e.cluster_idle_pj_per_cycle;
  r.active_pj = in.active_core_cycles * e.core_active_pj_per_cycle;
  r.dma_pj = in.dma_bytes * (e.pj_per_byte(MemLevel::L2) + e.pj_per_byte(MemLevel::L1));
  r.core_l2_pj = in.core_l2_bytes * e.pj_per_byte(MemLevel::L2);
  return r;
}

std::vector<KernelCall> core_shares(const Target& target, const KernelImpl& kernel, const KernelCall& call) {
  return shares(target.cores, split_of(kernel), call);
}

double kernel_core_cycles(const Target& target, const KernelImpl& kernel, const KernelCall& call) {
  return core_cycles_sum(single_core(target), target.cores, kernel, call);
}

L2DirectCost l2_direct_call(const Target& target, const LayerGeometry& g, L2Scratch scratch) {
  return l2_direct(target, single_core(target), g, scratch);
}

int64_t l2_direct_scratch_bytes(const Target& target, const LayerGeometry& g) {
  // The kernel's scratch for the whole layer as one tile (the tiler's formula).
  return scratch_buffer_bytes(g, TileShape{g.c_out, g.h_out, g.w_out, g.c_in}, target);
}

double plan_active_core_cycles(const Target& target, const TilePlan& plan) {
  return active_cycles_of_plan(single_core(target), target.cores, plan);
}

int64_t constant_l2_bytes(const std::vector<TilePlan>& plans) {
  int64_t n = 0;
  for (const TilePlan& p : plans) {
    const LayerGeometry& g = p.geometry;
    for (int64_t part : {g.weight_bytes(), g.bias_bytes_per_cout * g.c_out, g.requant_bytes_per_cout * g.c_out})
      if (part > 0) n = align8(n) + part;
  }
  return align8(n);
}

double macs_per_cycle(int64_t macs, double cycles) { return cycles > 0 ? static_cast<double>(macs) / cycles : 0; }

double latency_ms(const NetworkEval& e, double cycles) {
  return e.clock_hz > 0 ? cycles / static_cast<double>(e.clock_hz) * 1e3 : 0;
}

double overhead_vs(double cycles, double reference_cycles) {
  return reference_cycles > 0 ? cycles / reference_cycles - 1 : 0;
}

double speedup_vs(double cycles, double reference_cycles) { return cycles > 0 ? reference_cycles / cycles : 0; }

Expected<NetworkEval> evaluate_network(const Graph& g, const Target& target, const EvalOptions& options,
                                       std::string model_label) {
  NetworkEval r;
  r.model = std::move(model_label);
  r.target = target.name;
  r.clock_hz = target.clock_hz;
  r.cores = target.cores;
  r.l1_usable_bytes = target.usable_bytes(MemLevel::L1);
  r.l1_budget_bytes = options.l1_budget_bytes > 0 ? options.l1_budget_bytes : r.l1_usable_bytes;
  r.l2_scratch = options.l2_scratch;
  r.l1_access_cycles = target.l1.access_cycles;
  r.l2_access_cycles = target.l2.access_cycles;
  const Target one_core = single_core(target);

  std::vector<const Layer*> planned;
  for (const Layer& l : g.layers) {
    if (needs_l1_plan(l))
      planned.push_back(&l);
    else
      ++r.skipped_layers;
  }
  const size_t total_steps = planned.size() * 3;
  size_t done = 0;
  for (Objective o : {Objective::Model, Objective::Dory, Objective::Fill}) {
    std::vector<TilePlan>& plans = r.plans[static_cast<size_t>(o)];
    for (const Layer* l : planned) {
      DORY_TRY(TilePlan p, plan_layer(g, *l, target, r.l1_budget_bytes, o));
      plans.push_back(std::move(p));
      if (options.progress) options.progress(++done, total_steps);
    }
  }

  for (size_t i = 0; i < planned.size(); ++i) {
    const TilePlan& mp = r.plans[0][i];
    const LayerGeometry& geo = mp.geometry;
    LayerEval le;
    le.layer_index = mp.layer_index;
    le.layer = mp.layer;
    le.kind = layer_kind_name(g, *planned[i]);
    le.family = geo.family;
    le.macs = geo.macs();
    le.whole_layer_l1_bytes = l1_layout_bytes(geo, whole_layer_shape(geo), Buffering::none(), target);
    le.fits_l1 = le.whole_layer_l1_bytes <= r.l1_budget_bytes;

    ModeCost& l1 = le.modes[mode_index(EvalMode::L1Resident)];
    l1.cycles = mp.cost.l1_resident_cycles;
    l1.active_core_cycles = core_cycles_sum(one_core, target.cores, geo.kernel(one_core), whole_call(geo));
    l1.tiles = 1;
    finish(target, l1);

    const L2DirectCost d = l2_direct(target, one_core, geo, options.l2_scratch);
    ModeCost& l2 = le.modes[mode_index(EvalMode::L2Direct)];
    l2.cycles = d.cycles;
    l2.active_core_cycles = d.active_core_cycles;
    l2.core_l2_bytes = d.load_bytes + d.store_bytes;
    l2.stall_cycles = d.cycles - d.busiest_compute_cycles;
    l2.tiles = 1;
    le.l2_port_bound = d.port_bound;
    finish(target, l2);

    for (EvalMode m : {EvalMode::Model, EvalMode::Dory, EvalMode::Fill}) {
      const TilePlan& p = r.plans[static_cast<size_t>(eval_mode_objective(m))][i];
      DORY_CHECK(p.layer_index == mp.layer_index, "evaluate_network: plans of different layers");
      ModeCost& c = le.modes[mode_index(m)];
      c.cycles = p.cost.total_cycles;
      c.active_core_cycles = active_cycles_of_plan(one_core, target.cores, p);
      c.dma_bytes = static_cast<double>(p.cost.dma_bytes);
      c.stall_cycles = p.cost.stall_cycles();
      c.tiles = p.cost.tiles;
      finish(target, c);
    }

    for (size_t m = 0; m < kNumEvalModes; ++m) accumulate(r.totals[m], le.modes[m]);
    r.total_macs += le.macs;
    if (!le.fits_l1) ++r.layers_exceeding_l1;
    r.layers.push_back(std::move(le));
  }
  for (ModeCost& t : r.totals) t.source = Provenance::Modeled;
  return r;
}

}  // namespace dory
