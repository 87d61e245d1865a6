#include "tiler/core_shares.h"

#include <algorithm>

namespace dory {

namespace {

WorkSplit split_of(const KernelImpl& kernel) { return kernel.split(); }

std::vector<KernelCall> shares(int64_t cores, WorkSplit split, const KernelCall& call) {
  std::vector<KernelCall> out;
  const CallSplit cs = call_split(split, cores, call.h_out, call.c_out);
  const int64_t extent = cs.split == WorkSplit::Rows ? call.h_out : call.c_out;
  const int64_t chunk = cs.chunk;
  for (int64_t k = 0; k < cores; ++k) {
    const int64_t n = std::min(chunk, extent - k * chunk);
    if (n <= 0) break;
    KernelCall s = call;
    (cs.split == WorkSplit::Rows ? s.h_out : s.c_out) = n;
    out.push_back(s);
  }
  return out;
}

KernelImpl resolved(int64_t cores, const KernelImpl& kernel, const KernelCall& call) {
  KernelImpl k = kernel;
  const WorkSplit s = call_split(kernel.split(), cores, call.h_out, call.c_out).split;
  k.mac.split = s;
  k.elementwise.split = s;
  return k;
}

// kernel_core_cycles with the one-core target made once (plans have many tiles).
double core_cycles_sum(const Target& one_core, int64_t cores, const KernelImpl& kernel, const KernelCall& call) {
  double sum = 0;
  const KernelImpl k = resolved(cores, kernel, call);
  for (const KernelCall& s : shares(cores, split_of(kernel), call)) sum += kernel_cycles(one_core, k, s);
  return sum;
}

}  // namespace

Target one_core_target(const Target& target) {
  Target one = target;
  one.cores = 1;
  return one;
}

KernelCall tile_call(const LayerGeometry& g, int64_t c_out, int64_t h_out, int64_t w_out, int64_t c_in) {
  KernelCall k = whole_layer_call(g);
  k.c_out = c_out;
  k.h_out = h_out;
  k.w_out = w_out;
  k.c_in = c_in;
  k.partial = !g.channels_tied && c_in < g.c_in;
  return k;
}

KernelCall whole_layer_call(const LayerGeometry& g) {
  KernelCall k;
  k.c_out = g.c_out;
  k.h_out = g.h_out;
  k.w_out = g.w_out;
  k.c_in = g.c_in;
  k.kh = g.kh;
  k.kw = g.kw;
  k.wide_requant = g.wide_requant;
  k.stride_h = g.stride_h;
  k.stride_w = g.stride_w;
  return k;
}

std::vector<KernelCall> core_shares(const Target& target, const KernelImpl& kernel, const KernelCall& call) {
  return shares(target.cores, split_of(kernel), call);
}

KernelImpl share_kernel(const Target& target, const KernelImpl& kernel, const KernelCall& call) {
  return resolved(target.cores, kernel, call);
}

double kernel_core_cycles(const Target& target, const KernelImpl& kernel, const KernelCall& call) {
  return core_cycles_sum(one_core_target(target), target.cores, kernel, call);
}

double plan_active_core_cycles(const Target& target, const TilePlan& plan) {
  const Target one_core = one_core_target(target);
  const LayerGeometry& g = plan.geometry;
  const TileCounts n = tile_counts(g, plan.shape);
  double sum = 0;
  for (int64_t i = 0; i < n.total(); ++i) {
    const TileExtent e = tile_extent(g, plan.shape, tile_index(n, i));
    const KernelCall k = tile_call(g, e.c_out.size(), e.h_out.size(), e.w_out.size(), e.c_in.size());
    sum += core_cycles_sum(one_core, target.cores, g.kernel(target), k);
  }
  return sum;
}

}  // namespace dory
