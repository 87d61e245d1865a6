// L2-direct execution: the cost of one kernel call on a whole layer whose operands all stay in L2 (no DMA; the
// DORY paper's "L2 fetching" baseline). The evaluation prices its l2-direct mode with it (eval/eval.h) and the
// code generator writes its cycles and scratch size into every descriptor (codegen/deployment.h), so that the
// runtime's L2-direct execution (dory_layer_run_l2_direct) gets exactly what was priced.
//
// The model (docs/cost-model.md, "L2-direct execution") counts the loads from the kernels' register blocking
// and charges each (L2.access_cycles - L1.access_cycles) cycles. Units: cycles of the cluster clock (double),
// bytes.
#pragma once

#include <cstdint>

#include "target/target.h"
#include "tiler/geometry.h"

namespace dory {

// Where the L2-direct kernels keep their im2col workspace (targets whose conv builds one). The network's
// tensors are in L2 either way; the workspace is not a tensor of the network but the kernel's scratch, which
// PULP-NN-style kernels take as an L1 pointer. Scratch in L2 is a what-if (every matmul operand word then comes
// from L2).
enum class L2Scratch { L1, L2 };

struct L2DirectCost {
  double cycles = 0;                  // the call: max over cores of (compute + stalls), or the L2 port bound
  double busiest_compute_cycles = 0;  // kernel_cycles of the call (= L1-resident)
  double busiest_stall_cycles = 0;    // the slowest core's stalls on L2 loads
  double loads = 0;                   // 32-bit loads from L2, all cores
  double load_bytes = 0;              // 4 * loads
  double store_bytes = 0;             // bytes the cores write to L2 (outputs; posted stores, they do not stall)
  double active_core_cycles = 0;      // sum over cores of their L1-speed cycles (kernel_core_cycles)
  bool port_bound = false;            // the cluster's L2 port (taken as the L1-L2 DMA bandwidth) limits, not latency
};

// One kernel call on the whole layer `g` with every tensor in L2 (docs/cost-model.md, "L2-direct execution").
// Per core, from its share (core_shares, tiler/core_shares.h) and the kernel's register blocking (channel_block
// cb, pixel_block pb):
//   MAC kernels: blocks = ceil(c/cb)*ceil(p/pb), eff = blocks*cb*pb*macs_per_output (kernel_cycles' work);
//     weight loads   eff / (4*pb)                      (one word = 4 int8 weights, reused across the pb pixels)
//     input loads    eff * in_bytes / (4*cb)           (one word = 4 input bytes, reused across the cb channels)
//                    or, when the kernel builds im2col columns (im2col_cycles_per_byte > 0) in L1 scratch:
//                    p * kh*kw*c_in * in_bytes / 4     (building the columns; the matmul reads them from L1)
//     epilogue loads blocks*cb * (bias + per-channel requant bytes per channel) / 4
//   pool: c*p*kh*kw * in_bytes / 4 (every window element once, word loads); add: sum over operands c*p*bytes/4.
//   stall = loads * (L2.access_cycles - L1.access_cycles); core time = its kernel_cycles share + stall.
// The call lasts as long as the slowest core, and at least (all cores' load and store bytes) / the L1-L2 DMA
// engine's L2->L1 bandwidth (the cluster's L2 port, shared by all cores). Outputs are posted stores: they cost
// energy (store_bytes), not stalls.
L2DirectCost l2_direct_call(const Target& target, const LayerGeometry& g, L2Scratch scratch = L2Scratch::L1);

// The L1 scratch of that call: the layer's kernel's registry scratch for the whole layer as one tile (the tiler's
// formula, scratch_buffer_bytes; 0 for kernels without one). The runtime's L2-direct execution
// (dory_layer_run_l2_direct) gets exactly this (dory_layer::l2_direct_scratch_bytes) and needs it to fit L1.
int64_t l2_direct_scratch_bytes(const Target& target, const LayerGeometry& g);

}  // namespace dory
