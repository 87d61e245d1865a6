#include "eval/eval.h"

#include <fmt/format.h>

#include "tiler/l1_layout.h"

namespace dory {

namespace {

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

const char* split_part_name(SplitPart p) {
  switch (p) {
    case SplitPart::Compute:
      return "compute";
    case SplitPart::DmaWait:
      return "dma_wait";
    case SplitPart::DmaIssue:
      return "dma_issue";
    case SplitPart::Barrier:
      return "barrier";
    case SplitPart::Other:
      return "other";
  }
  return "?";
}

int64_t ExecutedSplit::core_total(size_t core) const {
  int64_t t = 0;
  for (int64_t v : per_core.at(core)) t += v;
  return t;
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
    l1.active_core_cycles = kernel_core_cycles(target, geo.kernel(target), whole_layer_call(geo));
    l1.tiles = 1;
    finish(target, l1);

    const L2DirectCost d = l2_direct_call(target, geo, options.l2_scratch);
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
      c.active_core_cycles = plan_active_core_cycles(target, p);
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
