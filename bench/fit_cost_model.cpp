// The calibration of a target's cost model to GVSoC (issue 14, "Calibrated model"): a documented, reproducible
// fit of the kernel, executor and transfer terms to executed cycles, not hand tuning.
//
// What runs: every network at every L1 budget is evaluated with the target as it is (its tilings), deployed on
// PULP-open and executed under GVSoC in the L1-resident, L2-direct and DORY-model modes, the latter with the
// executor's cycle split (dory eval --platform gvsoc; every layer checked bit for bit). The budgets give every
// layer several tilings, so that the same kernel is measured on many tile shapes.
//
// What is fitted, by non-negative least squares on relative errors (each row divided by its measured cycles, so
// that the fit minimizes what the CI gate bounds: the percentage error per layer):
//   kernels     per registry kernel that ran, its MacKernelParams / ElementwiseKernelParams (call, work, loop,
//               im2col, pixel and output terms; macs_per_cycle within the registry's peak_macs_per_cycle, the
//               kernel's inner-loop bound, which the fit cannot tell from per-pixel costs) to the kernel's cycles: the L1-resident layer time (one call on
//               the whole layer, or the sum of its tiles when it does not fit L1) and core 0's computing time in
//               the tiled run (the split's "compute", summed over the plan's tiles). The rows' features are
//               kernel_terms (target/cost_model.h) of exactly the calls that ran: the terms the model computes with.
//   executor    Target::executor.layer_cycles and each kernel's executor_tile_cycles to core 0's bookkeeping and
//               barrier time of every tiled layer (the split's "other" + "barrier"), against 1 and the plan's
//               tiles of that kernel; executor.tile_cycles (for kernels that did not run tiled) from one tile
//               cost shared by all;
//   transfers   the L1-L2 engine's transfer_cycles to core 0's DMA issue time (the split's "dma_issue"), against
//               the plan's transfers, less the engine's issue_cycles (measured: bench/gvsoc/dma_probe.c) for each
//               command dory_dma_start pushes (at most the engine's queue depth per transfer).
// The L2-direct model is not fitted (it is the kernel terms plus the L2 latency of every load: a check of both).
//
// Output: the fitted parameters as the target file's JSON fields (to paste into targets/NAME.json, whose
// "sources" cite this program and its command), then the model's per-layer error with the fitted parameters on
// every run, per mode: mean absolute and worst, the numbers CI's gate (dory eval --max-model-error) checks.
//
//   fit_cost_model [--network fmnist|cifar10|resnet8|mobilenet_v1|FILE.onnx]... [--l1 B,B,...] [--target T]
//                  [--cache DIR] [--executor-only] [--bench FILE] [--write FILE]
// --bench FILE adds the calls of a `bench/gvsoc/run.sh bench` output (bench/bench_calls.h: one kernel call on
// operands in L1, without the fork and join) as rows of their kernels; --write FILE writes the fitted target as a
// target file (dory's own JSON; e.g. for `dory eval --target FILE` before pasting the fields).
// FIT_VERBOSE=1 in the environment also prints every layer's modeled and executed cycles per mode, the kernel
// rows the fit misses by more than 30 % (with their terms) and the L2-direct stall per load of each layer.
// Defaults: the four networks of issue 14, pulp-open, L1 budgets 8k, 16k, 24k and the target's usable L1 (small
// budgets make small tiles: the per-call terms). --cache DIR
// keeps each run's measurements (DIR/NETWORK-L1.json: the plans that ran and their cycles) and reuses them, so a
// refit after a change of the fitting itself needs no GVSoC; delete the directory after a runtime change. Needs
// GVSOC_INSTALL and the RISC-V toolchain (scripts/install-deps.sh --riscv --gvsoc). --executor-only keeps the
// target's kernel terms and fits the executor's and the transfers' (after a change of the runtime's executor,
// whose kernels did not change: e.g. --l1 35000 --heuristic-l1 35000 measures enough).
#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "bench_calls.h"
#include "bench_networks.h"
#include "eval/execute.h"
#include "eval/model_error.h"
#include "target/cost_model.h"
#include "tiler/core_shares.h"
#include "tiler/l2_direct.h"
#include "tiler/layer_model.h"
#include "tiler/tile.h"
#include "util/byte_size.h"

namespace {

using namespace dory;

// MCHAN's command queue per core (docs/pulp-open-facts.md: "The per-core command queue is 2 deep";
// runtime/hal/pulp-open/hal_pulp_open.c MCHAN_QUEUE_DEPTH).
constexpr double kMchanQueueDepth = 2;
using json = nlohmann::json;

// ---- non-negative least squares (Lawson & Hanson, "Solving Least Squares Problems", 1974, ch. 23) ----
// Written here rather than taken from a library: Debian's candidates (Eigen has no NNLS in its stable modules,
// GSL and SciPy are not dependencies of dory) would add a dependency for forty lines; the problems are tiny
// (at most 7 unknowns, a few hundred rows).

// Least squares on the columns in `use` (others 0), by the normal equations with partial pivoting; the columns
// are scaled to unit norm first.
std::vector<double> least_squares(const std::vector<std::vector<double>>& A, const std::vector<double>& b,
                                  const std::vector<bool>& use) {
  const size_t n = use.size();
  std::vector<size_t> cols;
  for (size_t j = 0; j < n; ++j)
    if (use[j]) cols.push_back(j);
  const size_t k = cols.size();
  std::vector<double> z(n, 0.0);
  if (k == 0) return z;
  std::vector<double> scale(k, 0.0);
  for (size_t a = 0; a < k; ++a) {
    for (const auto& row : A) scale[a] += row[cols[a]] * row[cols[a]];
    scale[a] = scale[a] > 0 ? std::sqrt(scale[a]) : 1.0;
  }
  std::vector<std::vector<double>> M(k, std::vector<double>(k + 1, 0.0));
  for (size_t r = 0; r < A.size(); ++r)
    for (size_t a = 0; a < k; ++a) {
      const double xa = A[r][cols[a]] / scale[a];
      for (size_t c = 0; c < k; ++c) M[a][c] += xa * A[r][cols[c]] / scale[c];
      M[a][k] += xa * b[r];
    }
  for (size_t a = 0; a < k; ++a) M[a][a] += 1e-12;  // a collinear pair still solves
  for (size_t p = 0; p < k; ++p) {
    size_t piv = p;
    for (size_t r = p + 1; r < k; ++r)
      if (std::abs(M[r][p]) > std::abs(M[piv][p])) piv = r;
    std::swap(M[p], M[piv]);
    for (size_t r = 0; r < k; ++r) {
      if (r == p || M[p][p] == 0) continue;
      const double f = M[r][p] / M[p][p];
      for (size_t c = p; c <= k; ++c) M[r][c] -= f * M[p][c];
    }
  }
  for (size_t a = 0; a < k; ++a) z[cols[a]] = M[a][a] != 0 ? M[a][k] / M[a][a] / scale[a] : 0.0;
  return z;
}

std::vector<double> nnls(const std::vector<std::vector<double>>& A, const std::vector<double>& b) {
  const size_t n = A.empty() ? 0 : A[0].size();
  std::vector<double> x(n, 0.0);
  std::vector<bool> passive(n, false);
  auto gradient = [&] {
    std::vector<double> w(n, 0.0);
    for (size_t r = 0; r < A.size(); ++r) {
      double res = b[r];
      for (size_t j = 0; j < n; ++j) res -= A[r][j] * x[j];
      for (size_t j = 0; j < n; ++j) w[j] += A[r][j] * res;
    }
    return w;
  };
  for (int outer = 0; outer < 100; ++outer) {
    const std::vector<double> w = gradient();
    size_t best = n;
    double wmax = 1e-12;
    for (size_t j = 0; j < n; ++j) {
      double norm = 0;
      for (const auto& row : A) norm += row[j] * row[j];
      const double wj = norm > 0 ? w[j] / std::sqrt(norm) : 0;  // scale-free: the columns differ by 10^6
      if (!passive[j] && wj > wmax) wmax = wj, best = j;
    }
    if (best == n) break;
    passive[best] = true;
    for (int inner = 0; inner < 100; ++inner) {
      const std::vector<double> z = least_squares(A, b, passive);
      bool feasible = true;
      for (size_t j = 0; j < n; ++j)
        if (passive[j] && z[j] <= 0) feasible = false;
      if (feasible) {
        x = z;
        break;
      }
      double alpha = 1;
      for (size_t j = 0; j < n; ++j)
        if (passive[j] && z[j] <= 0) alpha = std::min(alpha, x[j] / (x[j] - z[j]));
      for (size_t j = 0; j < n; ++j) {
        x[j] += alpha * (z[j] - x[j]);
        if (passive[j] && x[j] <= 1e-15 * std::max(1.0, std::abs(z[j]))) passive[j] = false, x[j] = 0;
      }
    }
  }
  return x;
}

// ---- measurements ----

struct LayerRun {
  int index = 0;  // in NetworkEval::layers
  TileShape shape;
  int buffering = 0;
  int64_t l1_cycles = -1, l2_cycles = -1, tiled_cycles = -1;
  bool l1_compute_only = false, l2_fallback = false;
  std::vector<std::array<int64_t, kNumSplitParts>> split;
};

struct Run {
  std::string network;
  int64_t l1 = 0;
  Objective objective = Objective::Model;  // whose plans ran tiled (dory and fill: tiled and split only)
  NetworkEval eval;  // evaluated with the target being fitted (its geometries)
  std::vector<LayerRun> layers;
};

json to_json(const std::vector<LayerRun>& ls) {
  json a = json::array();
  for (const LayerRun& l : ls)
    a.push_back({{"index", l.index},
                 {"shape", {l.shape.c_out, l.shape.h_out, l.shape.w_out, l.shape.c_in}},
                 {"buffering", l.buffering},
                 {"l1_cycles", l.l1_cycles},
                 {"l1_compute_only", l.l1_compute_only},
                 {"l2_cycles", l.l2_cycles},
                 {"l2_fallback", l.l2_fallback},
                 {"tiled_cycles", l.tiled_cycles},
                 {"split", l.split}});
  return a;
}

std::vector<LayerRun> from_json(const json& a) {
  std::vector<LayerRun> ls;
  for (const json& j : a) {
    LayerRun l;
    l.index = j["index"];
    const auto s = j["shape"].get<std::vector<int64_t>>();
    l.shape = TileShape{s[0], s[1], s[2], s[3]};
    l.buffering = j["buffering"];
    l.l1_cycles = j["l1_cycles"];
    l.l1_compute_only = j["l1_compute_only"];
    l.l2_cycles = j["l2_cycles"];
    l.l2_fallback = j["l2_fallback"];
    l.tiled_cycles = j["tiled_cycles"];
    l.split = j["split"].get<std::vector<std::array<int64_t, kNumSplitParts>>>();
    ls.push_back(l);
  }
  return ls;
}

// Measures `net` at budget l1: the model objective's plans in every mode the fit uses, or (objective dory or
// fill) that objective's plans tiled with the split. Returns nothing for an objective whose plans are model's.
Expected<std::optional<Run>> measure(const bench::Network& net, const Target& target, int64_t l1, Objective objective,
                                     const std::string& cache) {
  Run r;
  r.network = net.name;
  r.l1 = l1;
  r.objective = objective;
  EvalOptions eo;
  eo.l1_budget_bytes = l1;
  DORY_TRY(r.eval, evaluate_network(net.graph, target, eo, net.label));
  const std::string suffix = objective == Objective::Model ? "" : std::string("-") + objective_name(objective);
  const std::string file = cache.empty() ? "" : fmt::format("{}/{}-{}{}.json", cache, net.name, l1, suffix);
  if (!file.empty() && std::filesystem::exists(file)) {
    std::ifstream in(file);
    r.layers = from_json(json::parse(in));
    return std::optional<Run>(std::move(r));
  }
  const std::vector<TilePlan>& plans = r.eval.plans_of(objective);
  if (objective != Objective::Model) {
    bool same = true;
    for (size_t i = 0; i < plans.size(); ++i)
      same = same && same_layer_tiling(r.eval, i, objective);
    if (same) return std::optional<Run>();
  }
  ExecuteOptions xo;
  xo.modes = {};
  xo.modes[mode_index(EvalMode::Model)] = true;
  if (objective == Objective::Model) {
    xo.modes[mode_index(EvalMode::L1Resident)] = true;
    xo.modes[mode_index(EvalMode::L2Direct)] = true;
  }
  xo.tiled_objective = objective;
  xo.cycle_split = true;
  DORY_TRY(const ExecutedEval x, execute_on_gvsoc(net.graph, target, r.eval, xo));
  for (size_t i = 0; i < r.eval.layers.size(); ++i) {
    const ExecutedLayer& xl = x.layers[i];
    LayerRun l;
    l.index = static_cast<int>(i);
    l.shape = plans[i].shape;
    l.buffering = plans[i].buffering.bits();
    const ExecutedRun& res = xl.run(EvalMode::L1Resident);
    const ExecutedRun& l2 = xl.run(EvalMode::L2Direct);
    const ExecutedRun& tiled = xl.run(EvalMode::Model);
    if (res.ran) l.l1_cycles = res.cycles, l.l1_compute_only = res.compute_only;
    if (l2.ran) l.l2_cycles = l2.cycles, l.l2_fallback = l2.fallback;
    if (tiled.ran) l.tiled_cycles = tiled.cycles;
    l.split = xl.split.per_core;
    r.layers.push_back(l);
  }
  if (!file.empty()) {
    std::filesystem::create_directories(cache);
    std::ofstream(file) << to_json(r.layers).dump(1) << "\n";
  }
  return std::optional<Run>(std::move(r));
}

// ---- the rows ----

const LayerGeometry& geometry(const Run& r, const LayerRun& l) {
  return r.eval.plans_of(Objective::Model)[static_cast<size_t>(l.index)].geometry;
}

KernelTerms tiles_terms(const Target& t, const LayerGeometry& g, const TileShape& s) {
  KernelTerms sum;
  const TileCounts n = tile_counts(g, s);
  for (int64_t i = 0; i < n.total(); ++i) {
    const TileExtent e = tile_extent(g, s, tile_index(n, i));
    sum += kernel_terms(t, g.kernel(t), tile_call(g, e.c_out.size(), e.h_out.size(), e.w_out.size(), e.c_in.size()));
  }
  return sum;
}

// The fitted columns of a kernel's rows: every term of its family (add's outputs are its elements: not a column).
std::vector<double> columns(const KernelTerms& k, KernelFamily f) {
  if (is_mac_family(f))
    return {k.calls, k.work, k.loops, k.im2col_bytes, k.pixels, k.outputs, k.outputs_wide, k.channels,
            k.outputs_partial};
  if (f == KernelFamily::Pool) return {k.calls, k.work, k.loops, k.outputs};
  return {k.calls, k.work, k.loops};
}

struct KernelRows {
  KernelFamily family = KernelFamily::Conv;
  bool mac = true;
  std::vector<std::vector<double>> x;
  std::vector<double> y;
};

// Writes fitted values into the kernel's parameters (columns() order; work is 1/rate).
void assign(KernelImpl& k, const std::vector<double>& p) {
  const double rate = p[1] > 0 ? 1.0 / p[1] : 1e9;
  if (is_mac_family(kernel_op_family(k.kernel->op))) {
    k.mac.call_cycles = p[0];
    k.mac.macs_per_cycle = rate;
    k.mac.row_cycles = p[2];
    k.mac.im2col_cycles_per_byte = p[3];
    k.mac.pixel_cycles = p[4];
    k.mac.output_cycles = p[5];
    k.mac.output_cycles_wide = p[6];
    k.mac.channel_cycles = p[7];
    k.mac.output_cycles_partial = p[8];
  } else {
    k.elementwise.call_cycles = p[0];
    k.elementwise.elements_per_cycle = rate;
    k.elementwise.row_cycles = p[2];
    k.elementwise.output_cycles = p.size() > 3 ? p[3] : 0;
  }
}

struct ErrorStats {
  int n = 0;
  double sum_abs = 0, worst = 0;
  std::string worst_what;
  void add(double modeled, double executed, const std::string& what) {
    const double e = modeled / executed - 1;
    ++n;
    sum_abs += std::abs(e);
    if (std::abs(e) > std::abs(worst)) worst = e, worst_what = what;
  }
  std::string str() const {
    return n == 0 ? "-"
                  : fmt::format("mean |error| {:5.1f}%, worst {:+6.1f}% ({})", 100 * sum_abs / n, 100 * worst,
                                worst_what);
  }
};

// A comma-separated list of L1 budgets (36700, 16k, ...).
Expected<std::vector<int64_t>> parse_budgets(const std::string& list, const std::string& flag) {
  std::vector<int64_t> out;
  for (size_t p = 0; p <= list.size();) {
    const size_t q = std::min(list.find(',', p), list.size());
    DORY_TRY(const int64_t b, parse_byte_size(list.substr(p, q - p), flag));
    out.push_back(b);
    p = q + 1;
  }
  return out;
}

int run(int argc, char** argv) {
  std::vector<std::string> names;
  std::vector<int64_t> budgets;
  std::vector<int64_t> split_budgets;  // where the dory and fill plans are measured too
  std::string target_name = "pulp-open", cache, bench_file, write_file;
  bool executor_only = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--network" && i + 1 < argc) {
      names.push_back(argv[++i]);
    } else if ((a == "--l1" || a == "--heuristic-l1") && i + 1 < argc) {
      auto list = parse_budgets(argv[++i], a);
      if (!list.ok()) {
        std::fprintf(stderr, "%s\n", list.error().str().c_str());
        return 1;
      }
      (a == "--l1" ? budgets : split_budgets) = *list;
    } else if (a == "--target" && i + 1 < argc) {
      target_name = argv[++i];
    } else if (a == "--executor-only") {
      executor_only = true;
    } else if (a == "--cache" && i + 1 < argc) {
      cache = argv[++i];
    } else if (a == "--bench" && i + 1 < argc) {
      bench_file = argv[++i];
    } else if (a == "--write" && i + 1 < argc) {
      write_file = argv[++i];
    } else {
      std::fprintf(stderr,
                   "usage: fit_cost_model [--network fmnist|cifar10|resnet8|mobilenet_v1|FILE.onnx]... "
                   "[--l1 B,B,...] [--heuristic-l1 B,B,...] [--target T] [--cache DIR] [--executor-only] "
                   "[--bench FILE] [--write FILE]\n");
      return 1;
    }
  }
  if (names.empty()) names = {"fmnist", "cifar10", "resnet8", "mobilenet_v1"};
  auto target = find_target(target_name);
  if (!target.ok()) {
    std::fprintf(stderr, "%s\n", target.error().str().c_str());
    return 1;
  }
  if (budgets.empty()) budgets = {8 * 1024, 16 * 1024, 24 * 1024, target->l1.usable_bytes()};
  if (split_budgets.empty()) split_budgets = {16 * 1024, target->l1.usable_bytes()};

  std::vector<Run> runs;
  for (const std::string& name : names) {
    auto net = bench::load_network(name);
    if (!net.ok()) {
      std::fprintf(stderr, "%s\n", net.error().str().c_str());
      return 1;
    }
    for (int64_t l1 : budgets)
      for (Objective o : {Objective::Model, Objective::Dory, Objective::Fill}) {
        if (o != Objective::Model &&
            std::find(split_budgets.begin(), split_budgets.end(), l1) == split_budgets.end())
          continue;
        std::fprintf(stderr, "measuring %s at L1 %lld B on GVSoC (%s plans)...\n", name.c_str(),
                     static_cast<long long>(l1), objective_name(o));
        auto r = measure(*net, *target, l1, o, cache);
        if (!r.ok()) {
          std::fprintf(stderr, "%s\n", r.error().str().c_str());
          return 1;
        }
        if (*r) runs.push_back(std::move(**r));
      }
  }

  // Kernel rows, per registry kernel; executor and transfer rows.
  std::map<std::string, KernelRows> kernels;
  std::vector<std::vector<double>> ex_x;
  std::vector<double> ex_y;
  std::vector<std::string> ex_kernel;  // the layer's kernel, per executor row
  std::vector<double> tr_x, tr_y;  // transfers, issue time minus the commands' pushes
  const DmaEngine& eng = l1_l2_engine(*target);
  for (const Run& r : runs)
    for (const LayerRun& l : r.layers) {
      const LayerGeometry& g = geometry(r, l);
      const KernelImpl& k = g.kernel(*target);
      KernelRows& kr = kernels[k.name()];
      kr.family = kernel_op_family(k.kernel->op);
      kr.mac = is_mac_family(kr.family);
      if (l.l1_cycles > 0) {
        const KernelTerms t = l.l1_compute_only ? tiles_terms(*target, g, l.shape)
                                                : kernel_terms(*target, k, whole_layer_call(g));
        kr.x.push_back(columns(t, kr.family));
        kr.y.push_back(static_cast<double>(l.l1_cycles));
      }
      if (l.split.empty()) continue;
      const auto& c0 = l.split[0];
      const auto part = [&](SplitPart p) { return static_cast<double>(c0[static_cast<size_t>(p)]); };
      kr.x.push_back(columns(tiles_terms(*target, g, l.shape), kr.family));
      kr.y.push_back(part(SplitPart::Compute));
      const LayerCost cost = model_layer(*target, g, l.shape, Buffering::from_bits(l.buffering));
      ex_x.push_back({1.0, static_cast<double>(cost.tiles)});
      ex_y.push_back(part(SplitPart::Other) + part(SplitPart::Barrier));
      ex_kernel.push_back(k.name());
      tr_x.push_back(static_cast<double>(cost.dma_transfers));
      // dma_issue is dory_dma_start's time: the job and the commands the engine's queue takes at once (at most
      // kMchanQueueDepth per transfer); the HAL pushes a box's further commands inside dory_dma_wait, in the split's
      // dma_wait. So only the former are subtracted (subtracting all would push transfer_cycles towards 0 on
      // layers whose boxes are many commands; the model charges every command's issue_cycles to the core).
      const double pushed_at_start = std::min(static_cast<double>(cost.dma_commands),
                                              kMchanQueueDepth * static_cast<double>(cost.dma_transfers));
      tr_y.push_back(part(SplitPart::DmaIssue) - eng.issue_cycles * pushed_at_start);
    }

  // The bench's calls (operands in L1, one call, on the target's cores): rows of their kernels too.
  if (!bench_file.empty()) {
    auto calls = bench::read_bench_calls(bench_file);
    if (!calls.ok()) {
      std::fprintf(stderr, "%s\n", calls.error().str().c_str());
      return 1;
    }
    for (const bench::BenchCall& c : *calls) {
      auto k = c.kernel(*target);
      if (!k.ok()) {
        std::fprintf(stderr, "%s\n", k.error().str().c_str());
        return 1;
      }
      KernelRows& kr = kernels[c.impl];
      kr.family = kernel_op_family(k->kernel->op);
      kr.mac = is_mac_family(kr.family);
      kr.x.push_back(columns(kernel_terms(*target, *k, c.call()), kr.family));
      kr.y.push_back(c.cycles8);
    }
  }

  Target fitted = *target;
  auto relative = [](std::vector<std::vector<double>> x, std::vector<double> y) {
    for (size_t r = 0; r < y.size(); ++r) {
      for (double& v : x[r]) v /= y[r];
      y[r] = 1;
    }
    return std::make_pair(x, y);
  };
  std::printf("Fitted on %zu runs (networks x L1 budgets) of %s on GVSoC; paste into targets/%s.json.\n\n",
              runs.size(), target->name.c_str(), target->name.c_str());
  for (auto& [name, kr] : kernels) {
    if (executor_only) continue;
    std::vector<std::vector<double>> x;
    std::vector<double> y;
    for (size_t r = 0; r < kr.y.size(); ++r)
      if (kr.y[r] > 0) x.push_back(kr.x[r]), y.push_back(kr.y[r]);
    // fewer rows than terms (a kernel seen only in a few --bench calls) determines nothing: the target's terms stay
    if (x.size() <= x.front().size()) {
      std::printf("  %s: %zu rows for %zu terms, not fitted (the target's terms kept)\n", name.c_str(), x.size(),
                  x.front().size());
      continue;
    }
    KernelImpl* k = fitted.kernels.find(name);
    // Within the kernel's inner-loop bound (registry peak_macs_per_cycle): cycles per MAC = 1/peak + d, d >= 0,
    // so its known part leaves every row and the fit finds d.
    const double min_per_mac = k->kernel->peak_macs_per_cycle ? 1.0 / *k->kernel->peak_macs_per_cycle : 0;
    auto [rx, ry] = relative(x, y);
    for (size_t r = 0; r < y.size(); ++r) ry[r] -= min_per_mac * rx[r][1];
    std::vector<double> p = nnls(rx, ry);
    p[1] += min_per_mac;
    assign(*k, p);
    ErrorStats st;
    for (size_t r = 0; r < x.size(); ++r) {
      double m = 0;
      for (size_t j = 0; j < p.size(); ++j) m += x[r][j] * p[j];
      st.add(m, y[r], fmt::format("row {}", r));
      if (std::getenv("FIT_VERBOSE") && std::abs(m / y[r] - 1) > 0.3) {
        std::string terms;
        for (double v : x[r]) terms += fmt::format(" {:.0f}", v);
        std::printf("    %s row %zu: measured %.0f, fitted %.0f (%+.0f%%); terms%s\n", name.c_str(), r, y[r], m,
                    100 * (m / y[r] - 1), terms.c_str());
      }
    }
    if (kr.mac)
      std::printf("  {\"impl\": \"%s\", \"macs_per_cycle\": %.4g, \"call_cycles\": %.0f, \"row_cycles\": %.3g,\n"
                  "   \"im2col_cycles_per_byte\": %.3g, \"pixel_cycles\": %.3g, \"channel_cycles\": %.3g, "
                  "\"output_cycles\": %.3g, \"output_cycles_wide\": %.3g, \"output_cycles_partial\": %.3g}"
                  "   // %zu rows: %s\n",
                  name.c_str(), k->mac.macs_per_cycle, k->mac.call_cycles, k->mac.row_cycles,
                  k->mac.im2col_cycles_per_byte, k->mac.pixel_cycles, k->mac.channel_cycles, k->mac.output_cycles,
                  k->mac.output_cycles_wide, k->mac.output_cycles_partial, x.size(), st.str().c_str());
    else
      std::printf("  {\"impl\": \"%s\", \"elements_per_cycle\": %.4g, \"call_cycles\": %.0f, \"row_cycles\": "
                  "%.3g, \"output_cycles\": %.3g}   // %zu rows: %s\n",
                  name.c_str(), k->elementwise.elements_per_cycle, k->elementwise.call_cycles,
                  k->elementwise.row_cycles, k->elementwise.output_cycles, x.size(), st.str().c_str());
  }
  {
    // The executor: first one tile cost for every kernel (the target's executor.tile_cycles, which kernels without
    // tiled rows here keep), then, with the layer cost shared, a tile cost per kernel (its executor_tile_cycles:
    // the bookkeeping after a kernel costs more the more of the executor's code it evicted from the instruction
    // cache).
    auto [rx, ry] = relative(ex_x, ex_y);
    const std::vector<double> p = nnls(rx, ry);
    fitted.executor.tile_cycles = p[1];
    std::vector<std::string> names;
    for (const std::string& n : ex_kernel)
      if (std::find(names.begin(), names.end(), n) == names.end()) names.push_back(n);
    std::vector<std::vector<double>> kx;
    for (size_t r = 0; r < ex_y.size(); ++r) {
      std::vector<double> row(1 + names.size(), 0.0);
      row[0] = 1;
      row[1 + static_cast<size_t>(std::find(names.begin(), names.end(), ex_kernel[r]) - names.begin())] = ex_x[r][1];
      kx.push_back(row);
    }
    auto [rkx, rky] = relative(kx, ex_y);
    const std::vector<double> pk = nnls(rkx, rky);
    fitted.executor.layer_cycles = pk[0];
    ErrorStats one, per_kernel;
    for (size_t r = 0; r < ex_y.size(); ++r) {
      one.add(p[0] + p[1] * ex_x[r][1], ex_y[r], ex_kernel[r]);
      double m = 0;
      for (size_t j = 0; j < pk.size(); ++j) m += kx[r][j] * pk[j];
      per_kernel.add(m, ex_y[r], ex_kernel[r]);
    }
    std::printf("\n  \"executor\": {\"layer_cycles\": %.0f, \"tile_cycles\": %.0f}   // %zu tiled layers; "
                "one tile cost: %s; per kernel: %s\n",
                pk[0], p[1], ex_y.size(), one.str().c_str(), per_kernel.str().c_str());
    for (size_t i = 0; i < names.size(); ++i) {
      KernelImpl* k = fitted.kernels.find(names[i]);
      k->executor_tile_cycles = pk[1 + i];
      std::printf("  %s: \"executor_tile_cycles\": %.0f\n", names[i].c_str(), pk[1 + i]);
    }
    double sxy = 0, sxx = 0;  // transfer_cycles: relative least squares through the origin, >= 0
    for (size_t r = 0; r < tr_x.size(); ++r) {
      const double w = 1.0 / std::max(1.0, tr_y[r] + eng.issue_cycles * tr_x[r]);
      sxy += w * w * tr_x[r] * tr_y[r];
      sxx += w * w * tr_x[r] * tr_x[r];
    }
    const double tc = sxx > 0 ? std::max(0.0, sxy / sxx) : 0;
    for (DmaEngine& e : fitted.dma)
      if (e.name == eng.name) e.transfer_cycles = tc;
    std::printf("  %s: \"transfer_cycles\": %.0f (issue_cycles %.3g per command kept)\n", eng.name.c_str(), tc,
                eng.issue_cycles);
  }

  if (!write_file.empty()) {
    std::ofstream(write_file) << target_to_json(fitted);
    std::printf("  (the fitted target written to %s)\n", write_file.c_str());
  }

  // What L2-direct's executed cycles say of the L2 latency the model charges per load (reported, not written:
  // the target's L2 access_cycles is a measured latency; a different effective stall says the kernels' loads
  // overlap it or the model miscounts them).
  {
    double sxy = 0, sxx = 0;
    int n = 0;
    for (const Run& r : runs)
      for (const LayerRun& l : r.layers) {
        if (l.l2_cycles <= 0 || l.l2_fallback || l.l1_cycles <= 0 || l.l1_compute_only) continue;
        const LayerGeometry& g = geometry(r, l);
        const L2DirectCost c = l2_direct_call(fitted, g, r.eval.l2_scratch);
        if (c.port_bound || c.loads <= 0) continue;
        const double w = 1.0 / static_cast<double>(l.l2_cycles);
        const double stall = static_cast<double>(l.l2_cycles - l.l1_cycles);  // executed: L2 minus L1 operands
        const double loads = c.busiest_stall_cycles / std::max(1e-9, static_cast<double>(fitted.l2.access_cycles -
                                                                                         fitted.l1.access_cycles));
        if (std::getenv("FIT_VERBOSE"))
          std::printf("    %s %s: L2 - L1 %.0f cycles, %.0f modeled loads of the busiest core: %.2f per load\n",
                      r.network.c_str(), g.layer.c_str(), stall, loads, stall / loads);
        sxy += w * w * loads * stall;
        sxx += w * w * loads * loads;
        ++n;
      }
    std::printf("  L2-direct: %d layers say %.2f stall cycles per load of the busiest core (the model charges %lld)\n",
                n, sxx > 0 ? sxy / sxx : 0.0,
                static_cast<long long>(fitted.l2.access_cycles - fitted.l1.access_cycles));
  }

  // The model with the fitted parameters against every run, per mode.
  std::printf("\nThe model's error with the fitted parameters (modeled / executed - 1, per layer):\n");
  const Target& one = fitted;
  ErrorStats all_res, all_l2, all_tiled, all_heuristic;
  for (const Run& r : runs) {
    ErrorStats res, l2, tiled;
    for (const LayerRun& l : r.layers) {
      const LayerGeometry& g = geometry(r, l);
      const std::string what = fmt::format("{} {}{}", r.network, g.layer,
                                           r.objective == Objective::Model ? "" : fmt::format(" ({} plans, {} B)",
                                                                                              objective_name(r.objective), r.l1));
      if (l.l1_cycles > 0) {
        const double m = l.l1_compute_only
                             ? kernel_cycles_of(g.kernel(one), tiles_terms(one, g, l.shape))
                             : kernel_cycles(one, g.kernel(one), whole_layer_call(g));
        res.add(m, static_cast<double>(l.l1_cycles), what);
        all_res.add(m, static_cast<double>(l.l1_cycles), what);
      }
      if (l.l2_cycles > 0 && !l.l2_fallback) {
        const double m = l2_direct_call(one, g, r.eval.l2_scratch).cycles;
        if (std::getenv("FIT_VERBOSE"))
          std::printf("    %s L2-direct: modeled %.0f, executed %lld (%+.1f%%)\n", what.c_str(), m,
                      static_cast<long long>(l.l2_cycles), 100 * (m / static_cast<double>(l.l2_cycles) - 1));
        l2.add(m, static_cast<double>(l.l2_cycles), what);
        all_l2.add(m, static_cast<double>(l.l2_cycles), what);
      }
      if (l.tiled_cycles > 0) {
        const double m = model_layer(one, g, l.shape, Buffering::from_bits(l.buffering)).total_cycles;
        if (std::getenv("FIT_VERBOSE"))
          std::printf("    %s tiled (%lld tiles): modeled %.0f, executed %lld (%+.1f%%)\n", what.c_str(),
                      static_cast<long long>(tile_counts(g, l.shape).total()), m,
                      static_cast<long long>(l.tiled_cycles), 100 * (m / static_cast<double>(l.tiled_cycles) - 1));
        tiled.add(m, static_cast<double>(l.tiled_cycles), what);
        (r.objective == Objective::Model ? all_tiled : all_heuristic).add(m, static_cast<double>(l.tiled_cycles),
                                                                          what);
      }
    }
    if (r.objective == Objective::Model)
      std::printf("  %-14s L1 %6lld B\n    L1-resident  %s\n    L2-direct    %s\n    DORY tiled   %s\n",
                  r.network.c_str(), static_cast<long long>(r.l1), res.str().c_str(), l2.str().c_str(),
                  tiled.str().c_str());
    else
      std::printf("  %-14s L1 %6lld B, %s plans\n    DORY tiled   %s\n", r.network.c_str(),
                  static_cast<long long>(r.l1), objective_name(r.objective), tiled.str().c_str());
  }
  std::printf("  all runs\n    L1-resident  %s\n    L2-direct    %s\n    DORY tiled   %s\n", all_res.str().c_str(),
              all_l2.str().c_str(), all_tiled.str().c_str());
  std::printf("    DORY tiled with the dory and fill objectives' plans  %s\n", all_heuristic.str().c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) { return run(argc, argv); }
