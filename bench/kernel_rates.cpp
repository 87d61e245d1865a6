// Does a target claim kernel rates its registered kernels reach? (issue 12: "no target file claims a rate that
// the registered kernel does not reach on GVSoC by more than 10 %").
//
// Input: the output of `bench/gvsoc/run.sh bench` (a file, or - for stdin): after its table, one "call" line per
// row, the xpulpv2 kernel's call as the cost model sees it (registry kernel, split, output tile, input channels,
// window, stride, 64-bit requantization) and its executed cluster cycles on 8 cores and on 1 core (GVSoC, operands
// in L1, instruction caches warm; the fork/join handshake itself not counted).
//
// For each call the target's cost model (kernel_cycles, target/cost_model.h) gives the modeled cycles of the same
// call with the bench's split, on the target's cores and on one core. The claim is modeled rate / executed rate -
// 1 = executed cycles / modeled cycles - 1: positive when the model promises more than the kernel does. The
// check bounds it on the target's own core count (the rows on 1 core are reported: the target's fitted terms
// describe its cores working together, e.g. sharing TCDM banks and the instruction cache). A model that charges
// more than the bench's call (its call_cycles include the fork and join) is pessimistic, which the check allows.
//
//   kernel_rates [--target T] [--max-claim PCT] BENCH_OUTPUT|-
// Prints a markdown table (docs/results.md "Kernel rates: the target against the executed bench") and exits 1 when
// a row's claim on the target's cores exceeds --max-claim (default 10), 2 on bad input.
#include <fmt/format.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "bench_calls.h"
#include "target/cost_model.h"
#include "target/target.h"

namespace {

using namespace dory;
using bench::BenchCall;

double work_of(const KernelImpl& k, const BenchCall& c) {
  const double px = static_cast<double>(c.c_out * c.h_out * c.w_out), win = static_cast<double>(c.k * c.k);
  switch (kernel_op_family(k.kernel->op)) {
    case KernelFamily::Conv:
    case KernelFamily::Pointwise:
    case KernelFamily::Fc: return px * win * static_cast<double>(c.c_in);
    case KernelFamily::Depthwise:
    case KernelFamily::Pool: return px * win;
    case KernelFamily::Add: return px;
  }
  return px;
}

int run(int argc, char** argv) {
  std::string target_name = "pulp-open", input;
  double max_claim = 10;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--target" && i + 1 < argc) {
      target_name = argv[++i];
    } else if (a == "--max-claim" && i + 1 < argc) {
      char* end = nullptr;
      max_claim = std::strtod(argv[++i], &end);
      if (end == argv[i] || *end != '\0' || !(max_claim >= 0)) {
        std::fprintf(stderr, "kernel_rates: --max-claim takes a percentage >= 0, not '%s'\n", argv[i]);
        return 2;
      }
    } else if (input.empty() && (a == "-" || a[0] != '-')) {
      input = a;
    } else {
      std::fprintf(stderr, "usage: kernel_rates [--target T] [--max-claim PCT] BENCH_OUTPUT|-\n");
      return 2;
    }
  }
  if (input.empty()) {
    std::fprintf(stderr, "kernel_rates: give the output of bench/gvsoc/run.sh bench (a file, or - for stdin)\n");
    return 2;
  }
  auto target = find_target(target_name);
  if (!target.ok()) {
    std::fprintf(stderr, "%s\n", target.error().str().c_str());
    return 2;
  }
  auto read = bench::read_bench_calls(input);
  if (!read.ok()) {
    std::fprintf(stderr, "%s\n", read.error().str().c_str());
    return 2;
  }
  const std::vector<BenchCall>& calls = *read;
  Target one = *target;
  one.cores = 1;
  std::printf("Target %s (%lld cores) against the executed calls; claim = modeled rate / executed rate - 1 "
              "(bounded at %+.0f %% on %lld cores)\n\n",
              target->name.c_str(), static_cast<long long>(target->cores), max_claim,
              static_cast<long long>(target->cores));
  std::printf("| kernel call | registry kernel | split | executed %lldc | modeled | rate executed | rate modeled | "
              "claim | executed 1c | modeled 1c | claim 1c |\n",
              static_cast<long long>(target->cores));
  std::printf("|---|---|---|--:|--:|--:|--:|--:|--:|--:|--:|\n");
  int over = 0;
  double worst = -1e9;
  std::string worst_name;
  for (const BenchCall& c : calls) {
    auto kernel = c.kernel(*target);
    if (!kernel.ok()) {
      std::fprintf(stderr, "%s\n", kernel.error().str().c_str());
      return 2;
    }
    const KernelImpl& k = *kernel;
    const KernelCall call = c.call();
    const double m8 = kernel_cycles(*target, k, call), m1 = kernel_cycles(one, k, call);
    const double w = work_of(k, c);
    const double claim = c.cycles8 / m8 - 1, claim1 = c.cycles1 / m1 - 1;
    const bool bad = 100 * claim > max_claim;
    over += bad ? 1 : 0;
    if (claim > worst) worst = claim, worst_name = c.name;
    std::printf("| %s | %s | %s | %.0f | %.0f | %.2f | %.2f | %+.1f %%%s | %.0f | %.0f | %+.1f %% |\n", c.name.c_str(),
                c.impl.c_str(), c.split.c_str(), c.cycles8, m8, w / c.cycles8, w / m8, 100 * claim,
                bad ? " **over**" : "", c.cycles1, m1, 100 * claim1);
  }
  std::printf("\n%zu calls; the largest claim on %lld cores: %+.1f %% (%s); %d over the bound of %+.0f %%\n",
              calls.size(), static_cast<long long>(target->cores), 100 * worst, worst_name.c_str(), over, max_claim);
  return over > 0 ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) { return run(argc, argv); }
