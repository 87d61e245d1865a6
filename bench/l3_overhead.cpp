// What streaming from L3 costs, executed on GVSoC (issue 15): for each layer of a network that streams from L3,
// its cycles in the network against its cycles alone with every operand in L2 (eval/l3_overhead.h; the L2-resident
// runs use GVSoC's 1.6 MB model L2, a measuring configuration only). Measured numbers, not a test: the table goes
// to docs/results.md with the command printed above it. Every layer of every run is checked bit for bit.
//
//   l3_overhead [--network mobilenet_v1_1.0_128|NAME|FILE.onnx]... [--l1 B] [--work-dir DIR]
// A NAME is a dory netgen network (mobilenet_v1_1.0_128, mobilenet_v1_0.25_128, mobilenet_v2_0.35_96, ...).
// Defaults: those three, pulp-open, the target's L1. Needs GVSOC_INSTALL and the RISC-V toolchain
// (scripts/install-deps.sh --riscv --gvsoc).
#include <fmt/format.h>

#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "eval/l3_overhead.h"
#include "onnx/frontend.h"
#include "report/l3_report.h"
#include "target/target.h"
#include "testnets/testnets.h"
#include "util/byte_size.h"

namespace {

using namespace dory;

Expected<Graph> load(const std::string& name) {
  if (std::filesystem::exists(name)) return import_onnx(name, {});
  DORY_TRY(std::string bytes, make_test_network(name));
  return import_onnx_bytes(bytes, name + ".onnx");
}

int fail(const Diagnostic& d) {
  std::fprintf(stderr, "%s\n", d.str().c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> networks;
  std::string l1, work_dir;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--network" && i + 1 < argc) {
      networks.push_back(argv[++i]);
    } else if (a == "--l1" && i + 1 < argc) {
      l1 = argv[++i];
    } else if (a == "--work-dir" && i + 1 < argc) {
      work_dir = argv[++i];
    } else {
      std::fprintf(stderr, "usage: l3_overhead [--network NAME|FILE.onnx]... [--l1 BYTES] [--work-dir DIR]\n");
      return 2;
    }
  }
  if (networks.empty()) networks = {"mobilenet_v1_1.0_128", "mobilenet_v1_0.25_128", "mobilenet_v2_0.35_96"};
  Expected<Target> target = find_target("pulp-open");
  if (!target.ok()) return fail(target.error());
  L3OverheadOptions o;
  if (!l1.empty()) {
    Expected<int64_t> b = parse_byte_size(l1, "--l1");
    if (!b.ok()) return fail(b.error());
    o.l1_budget_bytes = *b;
  }
  o.progress = [](const std::string& s) { std::fprintf(stderr, "  %s\n", s.c_str()); };
  for (const std::string& name : networks) {
    Expected<Graph> g = load(name);
    if (!g.ok()) return fail(g.error());
    if (!work_dir.empty()) o.work_dir = (std::filesystem::path(work_dir) / std::filesystem::path(name).stem()).string();
    std::fprintf(stderr, "%s:\n", name.c_str());
    Expected<L3OverheadResult> r = measure_l3_overhead(*g, *target, o);
    if (!r.ok()) return fail(r.error());
    std::printf("### %s (`build/bench/l3_overhead --network %s%s`)\n\n%s\n", name.c_str(), name.c_str(),
                l1.empty() ? "" : (" --l1 " + l1).c_str(), render_l3_overhead(*r).c_str());
    std::fflush(stdout);
  }
  return 0;
}
