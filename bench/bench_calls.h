// The kernel calls of bench/gvsoc's benchmark mode, as the cost model sees them: `bench/gvsoc/run.sh bench` prints,
// after its table, one line per row
//   call IMPL SPLIT c_out h_out w_out c_in k s wide cycles8 cycles1 NAME...
// (the registry kernel, the split it ran with, the output tile, the input channels, the k x k window and stride,
// whether the requantization is 64-bit, the xpulpv2 kernel's executed cluster cycles on 8 and on 1 core, the
// row's name). Shared by kernel_rates (the target's claims against them) and fit_cost_model (rows of the fit).
#pragma once

#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "target/cost_model.h"
#include "target/target.h"
#include "util/diagnostic.h"

namespace dory::bench {

struct BenchCall {
  std::string impl, split, name;
  int64_t c_out = 0, h_out = 0, w_out = 0, c_in = 0, k = 0, s = 0;
  int wide = 0;
  double cycles8 = 0, cycles1 = 0;

  KernelCall call() const {
    KernelCall c;
    c.c_out = c_out, c.h_out = h_out, c.w_out = w_out, c.c_in = c_in;
    c.kh = c.kw = k;
    c.stride_h = c.stride_w = s;
    c.wide_requant = wide != 0;
    return c;
  }
  // The target's entry for the kernel, with the split the call ran with; nullptr-free: an error when the target
  // does not use the kernel.
  Expected<KernelImpl> kernel(const Target& t) const {
    const KernelImpl* found = t.kernels.find(impl);
    if (!found)
      return make_error("bench-call", name,
                        "target " + t.name + " does not use the kernel " + impl + " this bench row ran");
    KernelImpl k = *found;
    const WorkSplit ws = split == "rows" ? WorkSplit::Rows : split == "channels" ? WorkSplit::Channels : WorkSplit::Auto;
    (is_mac_family(kernel_op_family(k.kernel->op)) ? k.mac.split : k.elementwise.split) = ws;
    return k;
  }
};

// The call lines of a bench output (a file, or "-" for stdin); an error names a malformed line or an output
// without any.
inline Expected<std::vector<BenchCall>> read_bench_calls(const std::string& path) {
  std::ifstream file;
  if (path != "-") {
    file.open(path);
    if (!file) return make_error("bench-call", path, "cannot read the file");
  }
  std::istream& in = path == "-" ? std::cin : file;
  std::vector<BenchCall> calls;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("call ", 0) != 0) continue;
    std::istringstream ls(line);
    std::string tag;
    BenchCall c;
    ls >> tag >> c.impl >> c.split >> c.c_out >> c.h_out >> c.w_out >> c.c_in >> c.k >> c.s >> c.wide >> c.cycles8 >>
        c.cycles1;
    if (ls) std::getline(ls >> std::ws, c.name);
    if (!ls || c.c_out < 1 || c.h_out < 1 || c.w_out < 1 || c.c_in < 1 || c.k < 1 || c.s < 1 || c.cycles8 <= 0 ||
        c.cycles1 <= 0 || (c.split != "rows" && c.split != "channels" && c.split != "auto"))
      return make_error("bench-call", path, "malformed call line: " + line);
    calls.push_back(c);
  }
  if (calls.empty())
    return make_error("bench-call", path, "no call lines (the output of bench/gvsoc/run.sh bench has them)");
  return calls;
}

}  // namespace dory::bench
