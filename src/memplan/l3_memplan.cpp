#include "memplan/l3_memplan.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <numeric>
#include <tuple>

#include "util/byte_size.h"

namespace dory {

namespace {

int64_t align_up(int64_t v, int64_t a) { return (v + a - 1) / a * a; }
std::string grouped(int64_t b) { return format_bytes_grouped(b); }

int64_t constant_bytes(const LayerGeometry& g) {
  return g.weight_bytes() + g.c_out * (g.bias_bytes_per_cout + g.requant_bytes_per_cout);
}

// The plans `among` sorted by their constants, largest first (stable), and the first three as "'name' N B, ...":
// what an l3-overflow diagnostic names.
std::string largest_constants(const std::vector<TilePlan>& plans, std::vector<size_t>& among) {
  std::stable_sort(among.begin(), among.end(), [&](size_t a, size_t b) {
    return constant_bytes(plans[a].geometry) > constant_bytes(plans[b].geometry);
  });
  std::string names;
  for (size_t k = 0; k < among.size() && k < 3; ++k)
    names += fmt::format("{}'{}' {} B", k ? ", " : "", plans[among[k]].layer,
                         grouped(constant_bytes(plans[among[k]].geometry)));
  return names;
}

// The storage classes of the graph (every tensor in L2), for the spill choices: members and lifetimes.
struct Classes {
  MemoryPlan plan;  // capacity 0: every class placed
  std::vector<char> spillable;  // per class index
};

Classes graph_classes(const Graph& g) {
  MemoryPlanOptions o;
  Expected<MemoryPlan> p = plan_memory(g, o);
  DORY_CHECK(p.ok(), "l3_memplan: the unlimited plan failed");
  Classes c;
  c.plan = std::move(*p);
  std::vector<char> in_concat(g.tensors.size(), 0), is_io(g.tensors.size(), 0);
  for (const Layer& l : g.layers)
    if (l.as<Concat>()) {
      in_concat[static_cast<size_t>(l.output)] = 1;
      for (TensorId t : l.inputs) in_concat[static_cast<size_t>(t)] = 1;
    }
  for (TensorId t : g.inputs) is_io[static_cast<size_t>(t)] = 1;
  for (TensorId t : g.outputs) is_io[static_cast<size_t>(t)] = 1;
  c.spillable.assign(c.plan.classes.size(), 1);
  for (size_t k = 0; k < c.plan.classes.size(); ++k)
    for (TensorId t : c.plan.classes[k].members)
      if (in_concat[static_cast<size_t>(t)] || is_io[static_cast<size_t>(t)]) c.spillable[k] = 0;
  return c;
}

struct State {
  std::vector<char> weights_l3;  // per plan
  std::vector<char> tensor_l3;   // per tensor
};

std::vector<char> not_of(const std::vector<char>& v) {
  std::vector<char> r(v.size());
  for (size_t i = 0; i < v.size(); ++i) r[i] = !v[i];
  return r;
}

// The L2 bound of a state: per step, constants + live L2 activations + the minimal staging of the layer there.
struct Bound {
  int64_t constants = 0;             // aligned L2 constants
  std::vector<int64_t> live;         // L2 activations per step
  std::vector<int64_t> min_staging;  // per plan (0 when it streams nothing)
  std::vector<int64_t> need;         // per step
  int64_t worst = 0;
  int worst_step = 0;
};

}  // namespace

Expected<TwoLevelPlan> plan_two_levels(const Graph& g, const std::vector<TilePlan>& plans, const Target& target,
                                       const TwoLevelOptions& opt) {
  const size_t np = plans.size(), nt = g.tensors.size();
  const int64_t align = std::max<int64_t>(8, opt.l2_alignment);
  const int steps = std::max<int>(1, static_cast<int>(g.layers.size()));
  TwoLevelPlan out;
  State st;
  st.weights_l3.assign(np, 0);
  st.tensor_l3.assign(nt, 0);
  const Classes classes = graph_classes(g);

  auto plan_named = [&](const std::string& name) -> int {
    for (size_t i = 0; i < np; ++i)
      if (plans[i].layer == name) return static_cast<int>(i);
    return -1;
  };
  auto spill_class = [&](size_t k) {
    for (TensorId t : classes.plan.classes[k].members) st.tensor_l3[static_cast<size_t>(t)] = 1;
  };
  for (const std::string& name : opt.force_weights_l3) {
    const int i = plan_named(name);
    if (i < 0 || constant_bytes(plans[static_cast<size_t>(i)].geometry) == 0)
      return make_error("l3-force-invalid", fmt::format("layer '{}'", name),
                        "no planned layer of that name has constants to put in L3",
                        "name a convolution or fully connected layer");
    st.weights_l3[static_cast<size_t>(i)] = 1;
  }
  for (const std::string& name : opt.force_tensors_l3) {
    TensorId t = -1;
    for (size_t k = 0; k < nt; ++k)
      if (g.tensors[k].name == name) t = static_cast<TensorId>(k);
    const StorageClass* c = t >= 0 ? classes.plan.class_of(t) : nullptr;
    if (!c)
      return make_error("l3-force-invalid", fmt::format("tensor '{}'", name), "no stored tensor of that name",
                        "name a feature map a layer writes");
    const size_t k = static_cast<size_t>(c - classes.plan.classes.data());
    if (!classes.spillable[k])
      return make_error("l3-force-invalid", fmt::format("tensor '{}'", name),
                        "a graph input or output, or part of a concatenation's storage, stays in L2",
                        "name an intermediate feature map that no Concat reads or writes");
    spill_class(k);
  }

  // 0. A necessary condition, before any two-level tiling is searched: every layer's constants live in L2 or in
  // L3, so together they cannot exceed both levels' capacities (the plan would find out only after it has tiled
  // every streaming layer: ~30 s for MobileNetV1-1.0-128 against a 1 MiB L3).
  if (target.l3) {
    int64_t all = 0;
    std::vector<size_t> largest(np);
    std::iota(largest.begin(), largest.end(), 0);
    for (size_t i = 0; i < np; ++i) all += constant_bytes(plans[i].geometry);
    const int64_t room = opt.l2_capacity_bytes + target.usable_bytes(MemLevel::L3);
    if (all > room) {
      const std::string names = largest_constants(plans, largest);
      Diagnostic d = make_error(
          "l3-overflow", fmt::format("layer '{}'", plans[largest.front()].layer),
          fmt::format("even L3 does not hold the network: its constants need {} B, more than the {} B of L2 and "
                      "the {} B of L3 together (largest: {})",
                      grouped(all), grouped(opt.l2_capacity_bytes), grouped(target.usable_bytes(MemLevel::L3)),
                      names),
          fmt::format("a target with at least {} B of L3, or a smaller network",
                      grouped(all - opt.l2_capacity_bytes)));
      d.severity = Severity::Infeasible;
      return d;
    }
  }

  auto residency = [&](size_t i) {
    const Layer& l = g.layers[static_cast<size_t>(plans[i].layer_index)];
    L3Residency r;
    for (TensorId t : l.inputs) r.input_in_l3.push_back(st.tensor_l3[static_cast<size_t>(t)] != 0);
    r.output_in_l3 = st.tensor_l3[static_cast<size_t>(l.output)] != 0;
    r.weights_in_l3 = st.weights_l3[i] != 0;
    return r;
  };
  auto l2_constants = [&] { return layout_constants(plans, not_of(st.weights_l3)); };
  auto live_l2 = [&](int64_t reserved, const std::vector<ExtraBuffer>& extras, int64_t capacity) {
    MemoryPlanOptions o;
    o.l2_capacity_bytes = capacity;
    o.reserved_bytes = reserved;
    o.alignment = align;
    o.excluded = st.tensor_l3;
    o.extras = extras;
    return plan_memory(g, o);
  };
  auto bound = [&]() {
    Bound b;
    b.constants = align_up(l2_constants().bytes, align);
    Expected<MemoryPlan> m = live_l2(b.constants, {}, 0);
    DORY_CHECK(m.ok(), "l3_memplan: the unlimited L2 plan failed");
    b.live = m->live_bytes_per_step;
    b.min_staging.assign(np, 0);
    b.need.assign(static_cast<size_t>(steps), 0);
    for (int s = 0; s < steps; ++s)
      b.need[static_cast<size_t>(s)] = b.constants + b.live[static_cast<size_t>(s)] +
                                       align_up(opt.check_bounce_bytes, align);
    for (size_t i = 0; i < np; ++i) {
      const L3Residency r = residency(i);
      if (!r.any()) continue;
      b.min_staging[i] = minimal_l2_staging_bytes(plans[i].geometry, r, target.l2.alignment_bytes);
      b.need[static_cast<size_t>(plans[i].layer_index)] += align_up(b.min_staging[i], align);
    }
    for (int s = 0; s < steps; ++s)
      if (b.need[static_cast<size_t>(s)] > b.worst) {
        b.worst = b.need[static_cast<size_t>(s)];
        b.worst_step = s;
      }
    return b;
  };

  // 1. weights, largest first
  std::vector<size_t> by_bytes(np);
  std::iota(by_bytes.begin(), by_bytes.end(), 0);
  std::stable_sort(by_bytes.begin(), by_bytes.end(), [&](size_t a, size_t b) {
    return constant_bytes(plans[a].geometry) > constant_bytes(plans[b].geometry);
  });
  Bound b = bound();
  for (size_t i : by_bytes) {
    if (b.worst <= opt.l2_capacity_bytes) break;
    if (st.weights_l3[i] || constant_bytes(plans[i].geometry) == 0) continue;
    st.weights_l3[i] = 1;
    out.notes.push_back(fmt::format("constants of '{}' ({} B) in L3", plans[i].layer,
                                    grouped(constant_bytes(plans[i].geometry))));
    b = bound();
  }
  // 2. feature maps, the largest live where the bound is worst
  while (b.worst > opt.l2_capacity_bytes) {
    int best = -1;
    for (size_t k = 0; k < classes.plan.classes.size(); ++k) {
      const StorageClass& c = classes.plan.classes[k];
      if (!classes.spillable[k] || st.tensor_l3[static_cast<size_t>(c.owner)]) continue;
      if (c.life.first > b.worst_step || c.life.last < b.worst_step) continue;
      if (best < 0 || c.bytes > classes.plan.classes[static_cast<size_t>(best)].bytes) best = static_cast<int>(k);
    }
    if (best < 0) {
      const int s = b.worst_step;
      Diagnostic d = make_error(
          "l2-overflow", s < static_cast<int>(g.layers.size()) ? fmt::format("layer '{}'", g.layers[s].name) : "graph",
          fmt::format("even with L3, L2 overflows at step {}: {} B of constants in L2, {} B of activations that must "
                      "stay in L2 (graph inputs and outputs, concatenations, the layer's own operands) and the "
                      "smallest staging of the layer there need {} B, more than the {} B of L2",
                      s, grouped(b.constants), grouped(b.live[static_cast<size_t>(s)]), grouped(b.worst),
                      grouped(opt.l2_capacity_bytes)),
          fmt::format("a target with at least {} B of L2 for the network", grouped(b.worst)));
      d.severity = Severity::Infeasible;
      return d;
    }
    spill_class(static_cast<size_t>(best));
    const StorageClass& c = classes.plan.classes[static_cast<size_t>(best)];
    out.notes.push_back(fmt::format("feature map '{}' ({} B) in L3", g.tensor(c.owner).name, grouped(c.bytes)));
    b = bound();
  }

  // solve_l3_tiling is a pure function of the layer, its residency and its budget: the builds below (the rounds,
  // the refinement's trials) ask for the same tilings again, so they are kept (the search is most of the time).
  std::map<std::tuple<size_t, std::vector<bool>, bool, bool, int64_t>, L3Plan> solved;
  auto tiling = [&](size_t i, const L3Residency& r, int64_t budget) -> Expected<L3Plan> {
    const auto key = std::make_tuple(i, r.input_in_l3, r.output_in_l3, r.weights_in_l3, budget);
    if (auto it = solved.find(key); it != solved.end()) return it->second;
    // a layer after another may get its first weight block prefetched under it (decided below, once every
    // staging is placed): the search prices that, capped by the previous layer's L2 plan
    const double cap = opt.prefetch && r.weights_in_l3 && i > 0 ? plans[i - 1].cost.total_cycles : 0;
    DORY_TRY(L3Plan lp, solve_l3_tiling(plans[i].geometry, r, target, opt.l1_budget_bytes, budget, opt.objective, cap));
    solved.emplace(key, lp);
    return lp;
  };

  // 3. tile every streaming layer, last first, and place (a function of the state: the refinement below calls it
  //    again after spilling more)
  auto build = [&](TwoLevelPlan& out) -> Status {  // NOLINT(the plan being built, not the result yet)
    out.tensor_in_l3 = st.tensor_l3;
    out.residency.resize(np);
    for (size_t i = 0; i < np; ++i) out.residency[i] = residency(i);
    out.uses_l3 = std::any_of(out.residency.begin(), out.residency.end(), [](const L3Residency& r) { return r.any(); });
    out.l2_constants = l2_constants();
    out.l3_constants = layout_constants(plans, st.weights_l3);
    out.tilings.assign(np, std::nullopt);
    out.staging.assign(np, StagingPlacement{});
    if (out.uses_l3 && !l2_l3_engine(target))
      return make_error("l3-unavailable", fmt::format("target '{}'", target.name),
                        "the deployment puts operands in L3, but the target has no L3 or no L2-L3 engine",
                        "add memories.L3 and an engine between L2 and L3 to the target, or deploy without forcing L3");

    // place; shrink the budgets on overflow
    std::vector<int64_t> shrink(np, 0);
    for (int round = 0; round < 6; ++round) {
      out.rounds = round + 1;
      std::vector<char> prefetch(np, 0);
      std::vector<int64_t> part0(np, 0);
      for (size_t ii = np; ii-- > 0;) {
        const L3Residency& r = out.residency[ii];
        if (!r.any()) continue;
        const size_t s = static_cast<size_t>(plans[ii].layer_index);
        const int64_t reserve_next = ii + 1 < np && prefetch[ii + 1] ? align_up(part0[ii + 1], align) : 0;
        int64_t budget = opt.l2_capacity_bytes - b.constants - b.live[s] - reserve_next - shrink[ii] -
                         align_up(opt.check_bounce_bytes, align);
        if (opt.staging_cap_bytes > 0) budget = std::min(budget, opt.staging_cap_bytes);
        // both parts are placed apart: each rounded up to the alignment
        budget -= 2 * (align - 1);
        DORY_TRY(L3Plan lp, tiling(ii, r, budget));
        part0[ii] = lp.staging.part_bytes[0];
        if (opt.prefetch && r.weights_in_l3 && ii > 0 && part0[ii] > 0) {
          const size_t sp = static_cast<size_t>(plans[ii - 1].layer_index);
          const int64_t slack = opt.l2_capacity_bytes - b.constants - b.live[sp] -
                                align_up(b.min_staging[ii - 1], align) - shrink[ii - 1] - align -
                                align_up(opt.check_bounce_bytes, align);
          prefetch[ii] = align_up(part0[ii], align) <= slack && (opt.staging_cap_bytes == 0 ||
                                                                part0[ii] + b.min_staging[ii - 1] <= opt.staging_cap_bytes);
        }
        lp.prefetch_weights = prefetch[ii] != 0;
        out.tilings[ii] = std::move(lp);
      }
      // the staging parts as extra buffers of the L2 plan
      std::vector<ExtraBuffer> extras;
      if (opt.check_bounce_bytes > 0) {
        out.check_bounce_extra = static_cast<int>(extras.size());
        extras.push_back({"check buffer", opt.check_bounce_bytes, Lifetime{0, steps - 1}});
      }
      for (size_t i = 0; i < np; ++i) {
        if (!out.tilings[i]) continue;
        const L3Plan& lp = *out.tilings[i];
        const int s = plans[i].layer_index;
        StagingPlacement& sp = out.staging[i];
        sp = StagingPlacement{};
        for (int part = 0; part < 2; ++part) {
          if (lp.staging.part_bytes[part] == 0) continue;
          ExtraBuffer x;
          x.bytes = lp.staging.part_bytes[part];
          x.life.first = part == 0 && lp.prefetch_weights ? plans[i - 1].layer_index : s;
          x.life.last = s;
          x.name = fmt::format("{} {}", plans[i].layer, part == 0 && lp.prefetch_weights ? "prefetch" : "staging");
          if (part == 0 && !lp.prefetch_weights) x.name += " (constants)";
          sp.extra[part] = static_cast<int>(extras.size());
          extras.push_back(x);
        }
      }
      Expected<MemoryPlan> l2 = live_l2(out.l2_constants.bytes, extras, opt.l2_capacity_bytes);
      if (l2.ok()) {
        out.l2 = std::move(*l2);
        for (size_t i = 0; i < np; ++i)
          for (int part = 0; part < 2; ++part)
            if (out.staging[i].extra[part] >= 0)
              out.staging[i].part_offset[part] = out.l2.extra_offset[static_cast<size_t>(out.staging[i].extra[part])];
        break;
      }
      if (round == 5 || l2.error().code != "l2-overflow") return l2.error();
      // shrink the staging of the streaming layers live where the plan went over, by the overflow
      Expected<MemoryPlan> unlimited = live_l2(out.l2_constants.bytes, extras, 0);
      DORY_CHECK(unlimited.ok(), "l3_memplan: the unlimited plan failed");
      const int64_t over = unlimited->total_bytes - opt.l2_capacity_bytes;
      bool shrunk = false;
      for (size_t i = 0; i < np; ++i)
        if (out.tilings[i]) {
          shrink[i] += std::max<int64_t>(over, 64);
          shrunk = true;
        }
      if (!shrunk) return l2.error();
    }
    return ok_status();
  };
  // The modeled cycles of the network under a plan: each streaming layer's two-level schedule, the others' L2 plans.
  auto modeled = [&](const TwoLevelPlan& p) {
    double c = 0;
    for (size_t i = 0; i < np; ++i) c += p.tilings[i] ? p.tilings[i]->cost.total_cycles : plans[i].cost.total_cycles;
    return c;
  };
  DORY_TRY_STATUS(build(out));  // (it leaves out.notes, steps 1-2's, as they are)
  // 3b. the bound counts each streaming layer's smallest staging: a layer left with little more can stream its
  //     weights in tiny blocks, many times slower than from L2 (a 128-channel pointwise in 64 blocks of 2
  //     channels). While a streaming layer costs more than twice its L2 plan, spill the largest spillable feature
  //     map live at its step (giving it that room) and keep the result when the network's modeled cycles drop by
  //     more than 1 %; a few rounds at most.
  for (int refine = 0; opt.refine_spills && refine < 3; ++refine) {
    int worst = -1;
    double excess = 0;
    for (size_t i = 0; i < np; ++i) {
      if (!out.tilings[i]) continue;
      const double l3 = out.tilings[i]->cost.total_cycles, l2 = plans[i].cost.total_cycles;
      if (l3 > 2 * l2 && l3 - l2 > excess) excess = l3 - l2, worst = static_cast<int>(i);
    }
    if (worst < 0) break;
    const int step = plans[static_cast<size_t>(worst)].layer_index;
    int best = -1;
    for (size_t k = 0; k < classes.plan.classes.size(); ++k) {
      const StorageClass& c = classes.plan.classes[k];
      if (!classes.spillable[k] || st.tensor_l3[static_cast<size_t>(c.owner)]) continue;
      if (c.life.first > step || c.life.last < step) continue;
      if (best < 0 || c.bytes > classes.plan.classes[static_cast<size_t>(best)].bytes) best = static_cast<int>(k);
    }
    if (best < 0) break;
    const State kept = st;
    const Bound kept_bound = b;
    spill_class(static_cast<size_t>(best));
    b = bound();
    TwoLevelPlan trial;
    const bool built = b.worst <= opt.l2_capacity_bytes && build(trial).ok();
    if (!built || modeled(trial) >= 0.99 * modeled(out)) {
      st = kept;
      b = kept_bound;
      break;
    }
    const StorageClass& c = classes.plan.classes[static_cast<size_t>(best)];
    trial.notes = std::move(out.notes);
    trial.notes.push_back(fmt::format("feature map '{}' ({} B) in L3: layer '{}' streamed its constants {:.1f}x "
                                      "slower than from L2 with the staging left",
                                      g.tensor(c.owner).name, grouped(c.bytes), plans[static_cast<size_t>(worst)].layer,
                                      out.tilings[static_cast<size_t>(worst)]->cost.total_cycles /
                                          plans[static_cast<size_t>(worst)].cost.total_cycles));
    out = std::move(trial);
  }

  // 4. L3: its constants, then its activations
  if (out.uses_l3 && out.l3_constants.bytes > target.usable_bytes(MemLevel::L3)) {
    // the constants alone: name the layers whose constants are largest
    std::vector<size_t> in3;
    for (size_t i = 0; i < np; ++i)
      if (st.weights_l3[i]) in3.push_back(i);
    const std::string largest = largest_constants(plans, in3);
    Diagnostic d = make_error(
        "l3-overflow", fmt::format("layer '{}'", plans[in3.front()].layer),
        fmt::format("even L3 does not hold the network: the constants of the {} layer(s) streamed from L3 need {} "
                    "B, more than the {} B of L3 (largest: {})",
                    in3.size(), grouped(out.l3_constants.bytes), grouped(target.usable_bytes(MemLevel::L3)), largest),
        fmt::format("a target with at least {} B of L3, or a smaller network", grouped(out.l3_constants.bytes)));
    d.severity = Severity::Infeasible;
    return d;
  }
  if (out.uses_l3) {
    MemoryPlanOptions o;
    o.l2_capacity_bytes = target.usable_bytes(MemLevel::L3);
    o.reserved_bytes = out.l3_constants.bytes;
    o.alignment = std::max<int64_t>(8, target.l3->alignment_bytes);
    o.excluded = not_of(st.tensor_l3);
    Expected<MemoryPlan> l3 = plan_memory(g, o);
    if (!l3.ok()) {
      Diagnostic d = l3.error();
      if (d.code != "l2-overflow") return d;
      d.code = "l3-overflow";
      d.message = fmt::format("even L3 does not hold the network: after its {} B of constants, the feature maps "
                              "spilled to L3 overflow it: {}",
                              grouped(out.l3_constants.bytes), d.message);
      d.severity = Severity::Infeasible;
      d.hint = fmt::format("a target with a larger L3 (it has {} B usable)",
                           grouped(target.usable_bytes(MemLevel::L3)));
      return d;
    }
    out.l3 = std::move(*l3);
  }
  DORY_TRY_STATUS(check_two_levels(g, plans, out));
  return out;
}

Status check_two_levels(const Graph& g, const std::vector<TilePlan>& plans, const TwoLevelPlan& p) {
  auto fail = [](std::string m) {
    return make_internal_error("memplan-invalid", "L2/L3 memory plan", std::move(m),
                               "this is a bug in dory (the two-level plan breaks an invariant); please report it");
  };
  const size_t np = plans.size();
  if (p.residency.size() != np || p.tilings.size() != np || p.staging.size() != np ||
      p.l2_constants.layers.size() != np || p.l3_constants.layers.size() != np)
    return fail("per-plan tables of the wrong size");
  DORY_TRY_STATUS(check_memory_plan(g, p.l2));
  if (p.uses_l3) DORY_TRY_STATUS(check_memory_plan(g, p.l3));
  for (size_t t = 0; t < g.tensors.size(); ++t) {
    const bool in3 = p.tensor_in_l3.at(t) != 0;
    if (in3 != p.l2.is_excluded(static_cast<TensorId>(t)))
      return fail(fmt::format("tensor '{}' is {} in L3 but {} in the L2 plan", g.tensors[t].name, in3 ? "" : "not",
                              in3 ? "placed" : "excluded"));
    if (in3 && p.l3.class_of(static_cast<TensorId>(t)) == nullptr && p.l3.tensor_class.size() == g.tensors.size() &&
        tensor_own_steps(g, static_cast<TensorId>(t)).first >= 0 && p.l2.tensor_class[t] >= 0)
      return fail(fmt::format("tensor '{}' is in L3 but has no L3 storage", g.tensors[t].name));
  }
  for (size_t i = 0; i < np; ++i) {
    const Layer& l = g.layers[static_cast<size_t>(plans[i].layer_index)];
    const L3Residency& r = p.residency[i];
    if (r.input_in_l3.size() != l.inputs.size()) return fail(fmt::format("layer '{}': residency of its inputs", l.name));
    for (size_t k = 0; k < l.inputs.size(); ++k)
      if (r.input_in_l3[k] != (p.tensor_in_l3[static_cast<size_t>(l.inputs[k])] != 0))
        return fail(fmt::format("layer '{}': input {} residency is not its tensor's level", l.name, k));
    if (r.output_in_l3 != (p.tensor_in_l3[static_cast<size_t>(l.output)] != 0))
      return fail(fmt::format("layer '{}': output residency is not its tensor's level", l.name));
    const LayerConstants& c2 = p.l2_constants.layers[i];
    const LayerConstants& c3 = p.l3_constants.layers[i];
    const bool has = plans[i].geometry.weight_bytes() + plans[i].geometry.bias_bytes_per_cout > 0;
    if (has && ((c2.weights.offset >= 0 || c2.bias.offset >= 0) == r.weights_in_l3 ||
                (c3.weights.offset >= 0 || c3.bias.offset >= 0) != r.weights_in_l3))
      return fail(fmt::format("layer '{}': its constants are not in exactly the level its residency says", l.name));
    if (r.any() != p.tilings[i].has_value())
      return fail(fmt::format("layer '{}': an L3 plan iff something in L3", l.name));
    if (!p.tilings[i]) continue;
    const L3Plan& lp = *p.tilings[i];
    if (!(lp.residency == r)) return fail(fmt::format("layer '{}': its L3 plan has another residency", l.name));
    for (int part = 0; part < 2; ++part) {
      const int e = p.staging[i].extra[part];
      if ((lp.staging.part_bytes[part] > 0) != (e >= 0))
        return fail(fmt::format("layer '{}': staging part {} placed iff not empty", l.name, part));
      if (e < 0) continue;
      const ExtraBuffer& x = p.l2.extras.at(static_cast<size_t>(e));
      const int first = part == 0 && lp.prefetch_weights ? plans[i - 1].layer_index : plans[i].layer_index;
      if (x.bytes != lp.staging.part_bytes[part] || x.life.first != first || x.life.last != plans[i].layer_index ||
          p.staging[i].part_offset[part] != p.l2.extra_offset.at(static_cast<size_t>(e)))
        return fail(fmt::format("layer '{}': staging part {} is not placed as its layout and steps say", l.name, part));
    }
  }
  return ok_status();
}

}  // namespace dory
