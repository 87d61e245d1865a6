// LayerGeometry: the tiling view of one layer of the integer IR: what the tiler, the L1 layout, the cost model
// and the code generator need to know about its shape, and nothing else.
//
// Kernel families (KernelFamily, target.h):
//   Conv2d groups 1, not 1x1-without-padding -> conv; 1x1 without padding -> pointwise (any stride);
//   Conv2d groups = C_in = C_out -> depthwise; FullyConnected -> fc (C_in = K input features in storage order,
//   C_out = N, H = W = 1, kernel 1x1); MaxPool, AveragePool, GlobalAveragePool -> pool (global: the window is
//   the whole map, so the output is 1x1 and the input box of every tile is the whole map);
//   Add -> add (one input per operand, usually 2); Requantize -> add with one input (an element-wise layer).
// Extents: H/W of input and output are those of the HWC feature maps; an element-wise layer (add, requant) on
// a non-spatial tensor ([N], [1,N], or a flattened map) is viewed as C = all elements, H = W = 1. A Requantize
// with per-channel parameters on a tensor of rank other than 2 or 4 is not tiled (layer_geometry fails with
// tiler-unsupported-layout).
// Element bytes come from the IR dtypes (uint8/int8 1, int16/uint16 2, int32 4); weights are int8 (1 byte),
// bias int32 (4 bytes per output channel, MAC families only).
// Requant parameters: per-channel vectors (mul and/or add with one entry per channel) take 8 bytes per entry
// when Requant::wide, else 4, per output channel; per-tensor constants are kernel arguments and take no L1.
// Window: kernel, strides and asymmetric padding (top/left/bottom/right) exactly as in the IR; dilation is 1.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ir/graph.h"
#include "target/target.h"
#include "util/diagnostic.h"

namespace dory {

struct LayerGeometry {
  std::string layer;  // the layer's name, for diagnostics
  KernelFamily family = KernelFamily::Conv;
  KernelQuery kernel_query;  // the runtime op and input types: a target's kernel for it is kernel(target)

  int64_t c_in = 1, h_in = 1, w_in = 1;     // input feature map (every input of an Add has this shape)
  int64_t c_out = 1, h_out = 1, w_out = 1;  // output feature map
  int64_t kh = 1, kw = 1;
  int64_t stride_h = 1, stride_w = 1;
  Padding pad;                              // asymmetric: top, left, bottom, right (input rows/cols)

  std::vector<int> in_elem_bytes{1};        // per input (size = number of inputs: Add has >= 2, others 1)
  int out_elem_bytes = 1;                   // 4 for a conv/fc without requant (raw int32 accumulators)

  bool channels_tied = false;  // depthwise, pool, add: an output tile reads the same channels (c_in == c_out)
  bool cin_tileable = false;   // conv, pointwise, fc: input channels may be tiled (int32 partial sums in L1)

  int64_t bias_bytes_per_cout = 0;     // 4 for MAC families, else 0
  int64_t requant_bytes_per_cout = 0;  // per-channel requant parameters (0 when per-tensor or none)
  bool wide_requant = false;           // a MAC layer whose requantization is 64-bit (its kernels' output cost)

  // Where the maps live in L2: channels per stored pixel (the HWC pixel stride, in elements) and the first
  // channel. Normally c_in / c_out and 0; a map that is an input of a Concat lives in its channel slice of the
  // concat output (pixel channels = the concatenation's channels, offset = the slice's first channel), so the
  // producer stores into the slice and consumers read from it. Empty / 0 mean the defaults.
  std::vector<int64_t> in_pixel_channels, in_channel_offset;  // per input
  int64_t out_pixel_channels = 0, out_channel_offset = 0;

  int num_inputs() const { return static_cast<int>(in_elem_bytes.size()); }
  int64_t in_stride(int input) const {
    return in_pixel_channels.empty() ? c_in : in_pixel_channels.at(static_cast<size_t>(input));
  }
  int64_t in_offset(int input) const {
    return in_channel_offset.empty() ? 0 : in_channel_offset.at(static_cast<size_t>(input));
  }
  int64_t out_stride() const { return out_pixel_channels > 0 ? out_pixel_channels : c_out; }
  bool is_mac() const { return is_mac_family(family); }
  // Weight bytes of an output-channel slice for an input-channel tile of `tile_cin` channels:
  // kh*kw*tile_cin (conv, pointwise, fc), kh*kw (depthwise), 0 (pool, add).
  int64_t weight_bytes_per_cout(int64_t tile_cin) const;
  // Total MACs of the layer (0 for pool and add) and element-wise work units (pool: window elements; add: outputs).
  int64_t macs() const;
  int64_t weight_bytes() const { return c_out * weight_bytes_per_cout(c_in); }
  int64_t input_bytes(int input) const { return c_in * h_in * w_in * in_elem_bytes.at(static_cast<size_t>(input)); }
  int64_t output_bytes() const { return c_out * h_out * w_out * out_elem_bytes; }
  // The registry kernel `target` runs this layer with (its blocking, scratch and rates). kernel_query must be set
  // (layer_geometry does), with an op of the layer's family.
  const KernelImpl& kernel(const Target& target) const;
};

// The c_in grain of the kernel `target` runs g with (RegistryKernel::c_in_grain; 1 when c_in is not tiled).
int64_t c_in_grain(const LayerGeometry& g, const Target& target);

// The tiling view of `layer` (which must need a plan: needs_l1_plan). Fails for layouts the tiler cannot tile.
Expected<LayerGeometry> layer_geometry(const Graph& g, const Layer& layer);

// Whether a layer runs a kernel on L1 tiles. Views alias their input's storage (no data moves, no plan). Concat
// gets no plan either: each of its inputs is produced directly into its channel slice of the concat output (the
// producer's output stores use the concat output's row stride), so the concat itself moves nothing.
bool needs_l1_plan(const Layer& layer);

}  // namespace dory
