// Tiler solve time per layer: plan_layer (geometry, exact search, L1 layout, cost model: everything `dory tile`
// does for one layer) over every layer of MobileNetV1-1.0-224, MobileNetV2-1.0-224 (src/testnets, seed 1) and
// the example network models/fmnist/fmnist_int.onnx, on gap8, at L1 budgets of 16, 32, 64 and 128 kB, for each
// objective. Each layer is solved --reps times (default 5) and its time is the median of those; the table gives
// per network, budget and objective the median and the maximum over layers, the slowest layer, and the search's
// node count there. Wall-clock time (steady_clock) on one thread. Measured numbers, not a test: the table goes
// to docs/results.md ("Tiler solve time") with the command line printed above it.
//
//   tiler_bench [--reps N] [--objective model|dory|fill|all] [--network mobilenet_v1|mobilenet_v2|fmnist|all]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "onnx/frontend.h"
#include "testnets/testnets.h"
#include "tiler/plan.h"

namespace {

using namespace dory;
using Clock = std::chrono::steady_clock;

struct Network {
  std::string name;
  Graph graph;
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int usage(const char* argv0) {
  std::fprintf(
      stderr,
      "usage: %s [--reps N] [--objective model|dory|fill|all] [--network mobilenet_v1|mobilenet_v2|fmnist|all]\n",
      argv0);
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  int reps = 5;
  std::string objective_arg = "all", network_arg = "all";
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--reps") && i + 1 < argc)
      reps = std::max(1, std::atoi(argv[++i]));
    else if (!std::strcmp(argv[i], "--objective") && i + 1 < argc)
      objective_arg = argv[++i];
    else if (!std::strcmp(argv[i], "--network") && i + 1 < argc)
      network_arg = argv[++i];
    else
      return usage(argv[0]);
  }
  std::vector<Objective> objectives;
  if (objective_arg == "all")
    objectives = {Objective::Model, Objective::Dory, Objective::Fill};
  else if (auto o = parse_objective(objective_arg))
    objectives = {*o};
  else
    return usage(argv[0]);

  Expected<Target> target = find_target("gap8");
  if (!target) {
    std::fprintf(stderr, "%s\n", target.error().str().c_str());
    return 1;
  }
  std::vector<Network> nets;
  auto add = [&](const std::string& name, Expected<Graph> g) {
    if (!g) {
      std::fprintf(stderr, "%s: %s\n", name.c_str(), g.error().str().c_str());
      std::exit(1);
    }
    nets.push_back({name, std::move(*g)});
  };
  if (network_arg == "all" || network_arg == "mobilenet_v1")
    add("MobileNetV1-1.0-224", import_onnx_bytes(make_mobilenet_v1_onnx(), "mobilenet_v1.onnx"));
  if (network_arg == "all" || network_arg == "mobilenet_v2")
    add("MobileNetV2-1.0-224", import_onnx_bytes(make_mobilenet_v2_onnx(), "mobilenet_v2.onnx"));
  if (network_arg == "all" || network_arg == "fmnist")
    add("fmnist_int.onnx", import_onnx(std::string(DORY_SOURCE_DIR) + "/models/fmnist/fmnist_int.onnx"));
  if (nets.empty()) return usage(argv[0]);

  std::string cmd;
  for (int i = 0; i < argc; ++i) cmd += (i ? " " : "") + std::string(i ? argv[i] : "build/bench/tiler_bench");
  std::printf("`%s` (gap8; per layer the median of %d solve(s))\n\n", cmd.c_str(), reps);
  std::printf(
      "| network | L1 | objective | layers | median ms | max ms | slowest layer | its search nodes | "
      "infeasible |\n");
  std::printf("|---|--:|---|--:|--:|--:|---|--:|--:|\n");
  std::fflush(stdout);

  double worst = 0;
  std::string worst_where;
  for (const Network& net : nets) {
    for (int64_t kib : {16, 32, 64, 128}) {
      for (Objective o : objectives) {
        std::vector<double> per_layer;
        double max_ms = 0;
        std::string max_layer;
        int64_t max_nodes = 0;
        int infeasible = 0;
        for (const Layer& l : net.graph.layers) {
          if (!needs_l1_plan(l)) continue;
          std::vector<double> times;
          int64_t nodes = 0;
          bool failed = false;
          for (int r = 0; r < reps; ++r) {
            const auto t0 = Clock::now();
            Expected<TilePlan> p = plan_layer(net.graph, l, *target, kib * 1024, o);
            const auto t1 = Clock::now();
            times.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
            if (p)
              nodes = p->stats.nodes;
            else
              failed = true;
          }
          infeasible += failed ? 1 : 0;
          const double ms = median(times);
          per_layer.push_back(ms);
          if (ms > max_ms) {
            max_ms = ms;
            max_layer = l.name;
            max_nodes = nodes;
          }
        }
        std::printf("| %s | %lldk | %s | %zu | %.3f | %.3f | %s | %lld | %d |\n", net.name.c_str(),
                    static_cast<long long>(kib), objective_name(o), per_layer.size(), median(per_layer), max_ms,
                    max_layer.c_str(), static_cast<long long>(max_nodes), infeasible);
        std::fflush(stdout);
        if (max_ms > worst) {
          worst = max_ms;
          worst_where = net.name + " at " + std::to_string(kib) + "k, " + objective_name(o) + ", layer " + max_layer;
        }
      }
    }
  }
  std::printf("\nslowest layer overall: %.3f ms (%s)\n", worst, worst_where.c_str());
  return 0;
}
