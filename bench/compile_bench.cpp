// The compile-time checks of a deployment, timed: plan_memory (the static L2 plan, every placement strategy, and
// check_memory_plan on the result) and check_schedule (the static proof of every tile's DMA schedule, tiles
// counted) on the synthetic networks of src/testnets (seed 1) and the example network, deployed for gap8 at 32 kB
// of L1 with a 64 MB L2 budget (MobileNets' weights exceed gap8's L2). Each step is run --reps times (default 5);
// the table gives the median. Wall-clock time (steady_clock) on one thread. Measured numbers, not a test (the
// tests check that these steps are right, never how fast): the table goes to docs/results.md ("Compile-time
// checks") with the command line printed above it.
//
//   compile_bench [--reps N]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "codegen/deployment.h"
#include "codegen/schedule_check.h"
#include "memplan/memplan.h"
#include "onnx/frontend.h"
#include "testnets/testnets.h"

namespace {

using namespace dory;
using Clock = std::chrono::steady_clock;

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

template <class F>
double median_ms(int reps, F&& f) {
  std::vector<double> ms;
  for (int r = 0; r < reps; ++r) {
    const auto t0 = Clock::now();
    f();
    ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
  }
  return median(ms);
}

[[noreturn]] void fail(const std::string& what, const Diagnostic& d) {
  std::fprintf(stderr, "%s: %s\n", what.c_str(), d.str().c_str());
  std::exit(1);
}

}  // namespace

int main(int argc, char** argv) {
  int reps = 5;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--reps") && i + 1 < argc) {
      reps = std::max(1, std::atoi(argv[++i]));
    } else {
      std::fprintf(stderr, "usage: %s [--reps N]\n", argv[0]);
      return 1;
    }
  }
  Expected<Target> target = find_target("gap8");
  if (!target) fail("gap8", target.error());
  struct Network {
    std::string name;
    Expected<Graph> graph;
  };
  std::vector<Network> nets;
  nets.push_back({"MobileNetV1-1.0-224", import_onnx_bytes(make_mobilenet_v1_onnx(), "mobilenet_v1.onnx")});
  nets.push_back({"MobileNetV2-1.0-224", import_onnx_bytes(make_mobilenet_v2_onnx(), "mobilenet_v2.onnx")});
  nets.push_back({"ResNet-8", import_onnx_bytes(make_resnet8_onnx(), "resnet8.onnx")});
  nets.push_back({"CIFAR-10 CNN", import_onnx_bytes(make_cifar10_cnn_onnx(), "cifar10_cnn.onnx")});
  nets.push_back({"fmnist_int.onnx", import_onnx(std::string(DORY_SOURCE_DIR) + "/models/fmnist/fmnist_int.onnx")});

  std::printf("`build/bench/compile_bench --reps %d` (gap8, L1 32 kB, L2 budget 64 MB; medians of %d runs)\n\n", reps,
              reps);
  std::printf("| network | layers | storage classes | plan_memory ms | tiles | transfers | check_schedule ms |\n");
  std::printf("|---|--:|--:|--:|--:|--:|--:|\n");
  for (const Network& net : nets) {
    if (!net.graph) fail(net.name, net.graph.error());
    const Graph& g = *net.graph;
    DeployOptions o;
    o.l1_budget_bytes = 32 * 1024;
    o.l2_budget_bytes = int64_t{64} << 20;
    Expected<Deployment> dep = deploy(g, *target, o);
    if (!dep) fail(net.name, dep.error());
    MemoryPlanOptions mo;
    mo.reserved_bytes = dep->memory.reserved_bytes;
    mo.alignment = dep->memory.alignment;
    size_t classes = 0;
    const double plan_ms = median_ms(reps, [&] {
      Expected<MemoryPlan> p = plan_memory(g, mo);
      if (!p) fail(net.name, p.error());
      classes = p->classes.size();
    });
    ScheduleCheckStats st;
    const double check_ms = median_ms(reps, [&] {
      st = {};
      const Status s = check_schedule(*dep, {}, &st);
      if (!s) fail(net.name, s.error());
    });
    std::printf("| %s | %zu | %zu | %.3f | %lld | %lld | %.2f |\n", net.name.c_str(), g.layers.size(), classes,
                plan_ms, static_cast<long long>(st.computes), static_cast<long long>(st.transfers), check_ms);
    std::fflush(stdout);
  }
  return 0;
}
