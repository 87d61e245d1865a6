#include "tiler/l2_direct.h"

#include <algorithm>

#include "target/cost_model.h"
#include "tiler/core_shares.h"
#include "tiler/l1_layout.h"

namespace dory {

namespace {

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

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
    const double blocks =
        static_cast<double>(ceil_div(s.c_out, m.channel_block)) *
        static_cast<double>(ceil_div(mac_pixel_slots(g.kernel(target), s, s.h_out, s.h_out * s.w_out), m.pixel_block));
    const double macs_per_output = g.family == KernelFamily::Depthwise ? window : window * s.c_in;
    const double eff = blocks * cb * pb * macs_per_output;
    const double weight_loads = eff / (4 * pb);
    const double input_loads = (g.family == KernelFamily::Conv && scratch == L2Scratch::L1)
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

}  // namespace

L2DirectCost l2_direct_call(const Target& target, const LayerGeometry& g, L2Scratch scratch) {
  const Target one_core = one_core_target(target);
  L2DirectCost r;
  const double stall_per_load = static_cast<double>(target.l2.access_cycles - target.l1.access_cycles);
  double slowest = 0;
  const KernelImpl& kernel = g.kernel(target);
  const KernelImpl per_core = share_kernel(target, kernel, whole_layer_call(g));
  for (const KernelCall& s : core_shares(target, kernel, whole_layer_call(g))) {
    const double compute = kernel_cycles(one_core, per_core, s);
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

int64_t l2_direct_scratch_bytes(const Target& target, const LayerGeometry& g) {
  // The kernel's scratch for the whole layer as one tile (the tiler's formula).
  return scratch_buffer_bytes(g, TileShape{g.c_out, g.h_out, g.w_out, g.c_in}, target);
}

}  // namespace dory
