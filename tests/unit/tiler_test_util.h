// Helpers for the tiler's unit tests (header-only; not a test file itself): random small layer geometries of
// every kernel family, and targets (the shipped ones plus a deliberately awkward one that exercises command
// splitting, queue blocking, alignment and uneven work splits).
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "target/target.h"
#include "tiler/geometry.h"

namespace dory::test {

inline const Target& shipped_target(const std::string& name) {
  static std::vector<std::pair<std::string, Target>> cache;
  for (const auto& [n, t] : cache)
    if (n == name) return t;
  auto t = find_target(name);
  if (!t.ok()) ADD_FAILURE() << t.error().str();
  cache.emplace_back(name, t.value());
  return cache.back().second;
}

// gap8 with small DMA limits (1-D rows of at most 7 bytes ... ), 3 cores, blocks of 3, im2col everywhere, a
// 2-deep queue and 8-byte alignment.
// Applies f to every kernel a target lists for a family (tests that vary the cost parameters).
template <class F>
void for_each_kernel(Target& t, KernelFamily family, F&& f) {
  for (KernelImpl& k : t.kernels.family(family)) f(k);
}

inline void set_split(Target& t, KernelFamily family, WorkSplit s) {
  for_each_kernel(t, family, [&](KernelImpl& k) { (is_mac_family(family) ? k.mac.split : k.elementwise.split) = s; });
}

// The kernel query of a hand-made geometry: its family's op (pool: max pooling unless `avg`; add: Requantize when
// it has one input) and input types from the element bytes (1: uint8, 2: int16, 4: int32).
inline void set_kernel_query(LayerGeometry& g, bool avg = false) {
  switch (g.family) {
    case KernelFamily::Conv: g.kernel_query.op = KernelOp::Conv; break;
    case KernelFamily::Pointwise: g.kernel_query.op = KernelOp::Pointwise; break;
    case KernelFamily::Depthwise: g.kernel_query.op = KernelOp::Depthwise; break;
    case KernelFamily::Fc: g.kernel_query.op = KernelOp::Fc; break;
    case KernelFamily::Pool: g.kernel_query.op = avg ? KernelOp::AvgPool : KernelOp::MaxPool; break;
    case KernelFamily::Add: g.kernel_query.op = g.num_inputs() > 1 ? KernelOp::Add : KernelOp::Requantize; break;
  }
  g.kernel_query.inputs.clear();
  for (int b : g.in_elem_bytes) g.kernel_query.inputs.push_back(b == 1 ? DType::UInt8 : b == 2 ? DType::Int16 : DType::Int32);
}

// The kernel `t` runs for `op` on inputs of type `in`.
inline const KernelImpl& kernel_of(const Target& t, KernelOp op, DType in = DType::UInt8) {
  return t.kernel_for(KernelQuery{op, {in}});
}

inline Target awkward_target() {
  Target t = shipped_target("gap8");
  t.name = "awkward";
  t.cores = 3;
  t.l1.alignment_bytes = 8;
  DmaEngine& e = t.dma[0];
  e.max_dims = 2;
  e.max_row_bytes = 7;
  e.max_rows = 3;
  e.max_transfer_bytes = 16;
  e.max_stride_bytes = 40;
  e.max_outstanding = 2;
  e.row_cycles = 1.5;
  e.setup_cycles = 11;
  e.issue_cycles = 5;
  e.reverse_bandwidth_bytes_per_cycle = 3.0;
  for (KernelFamily f : {KernelFamily::Conv, KernelFamily::Pointwise, KernelFamily::Depthwise, KernelFamily::Fc})
    for_each_kernel(t, f, [](KernelImpl& k) {
      k.mac.channel_block = 3;
      k.mac.pixel_block = 2;
      k.mac.im2col_cycles_per_byte = 0.25;
      k.mac.pixel_cycles = 3;
      k.mac.output_cycles = 1.5;
      k.mac.output_cycles_wide = 4;
    });
  // the executor's and the transfers' software costs (every term of the model non-zero somewhere)
  t.executor.layer_cycles = 70;
  t.executor.tile_cycles = 25;
  for_each_kernel(t, KernelFamily::Conv, [](KernelImpl& k) { k.executor_tile_cycles = 41; });
  for_each_kernel(t, KernelFamily::Pool, [](KernelImpl& k) { k.executor_tile_cycles = 9; });
  e.transfer_cycles = 13;
  set_split(t, KernelFamily::Conv, WorkSplit::Channels);
  set_split(t, KernelFamily::Fc, WorkSplit::Rows);
  set_split(t, KernelFamily::Pool, WorkSplit::Channels);
  return t;
}

// gap8 with a 1-D-only engine whose strided side is L1 (every strided L2 access is one command per row).
inline Target one_d_target() {
  Target t = shipped_target("gap8");
  t.name = "one_d";
  t.dma[0].max_dims = 1;
  t.dma[0].max_rows = 1;
  t.dma[0].max_row_bytes = 64;
  t.dma[0].max_transfer_bytes = 64;
  t.l1.alignment_bytes = 1;
  return t;
}

inline std::vector<Target> test_targets() {
  return {shipped_target("gap8"), shipped_target("pulp-open"), shipped_target("gap9"), awkward_target(),
          one_d_target()};
}

// A random small layer of `family`. Extents stay small so that brute force over the whole space is cheap.
// big_pad: windowed layers may get padding up to the kernel + 2 on each side (windows of padding only).
inline LayerGeometry random_geometry(std::mt19937_64& rng, KernelFamily family, int max_extent = 6,
                                     bool big_pad = false) {
  auto uni = [&](int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); };
  LayerGeometry g;
  g.layer = std::string("rand_") + kernel_family_name(family);
  g.family = family;
  for (;;) {
    g.kh = g.kw = 1;
    g.stride_h = g.stride_w = 1;
    g.pad = {};
    if (family == KernelFamily::Conv || family == KernelFamily::Depthwise || family == KernelFamily::Pool) {
      g.kh = uni(1, 3);
      g.kw = uni(1, 3);
      g.stride_h = uni(1, family == KernelFamily::Pool ? 3 : 2);
      g.stride_w = uni(1, family == KernelFamily::Pool ? 3 : 2);
      const int64_t extra = big_pad ? 2 : -1;
      g.pad.top = static_cast<int32_t>(uni(0, g.kh + extra));
      g.pad.bottom = static_cast<int32_t>(uni(0, g.kh + extra));
      g.pad.left = static_cast<int32_t>(uni(0, g.kw + extra));
      g.pad.right = static_cast<int32_t>(uni(0, g.kw + extra));
    } else if (family == KernelFamily::Pointwise) {
      g.stride_h = g.stride_w = uni(1, 2);
    }
    if (family == KernelFamily::Fc) {
      g.h_in = g.w_in = 1;
    } else {
      g.h_in = uni(1, max_extent + 1);
      g.w_in = uni(1, max_extent + 1);
    }
    if (family == KernelFamily::Pool && uni(0, 4) == 0) {  // global pooling
      g.kh = g.h_in, g.kw = g.w_in, g.stride_h = g.stride_w = 1, g.pad = {};
    }
    g.h_out = (g.h_in + g.pad.top + g.pad.bottom - g.kh) / g.stride_h + 1;
    g.w_out = (g.w_in + g.pad.left + g.pad.right - g.kw) / g.stride_w + 1;
    if (g.h_in + g.pad.top + g.pad.bottom < g.kh || g.w_in + g.pad.left + g.pad.right < g.kw) continue;
    if (g.h_out < 1 || g.w_out < 1 || g.h_out > max_extent || g.w_out > max_extent) continue;
    break;
  }
  const bool fc = family == KernelFamily::Fc;
  g.c_in = uni(1, fc ? 12 : 5);
  g.c_out = uni(1, fc ? 12 : 6);
  g.channels_tied = family == KernelFamily::Depthwise || family == KernelFamily::Pool || family == KernelFamily::Add;
  if (g.channels_tied) g.c_out = g.c_in = uni(1, 7);
  g.cin_tileable = !g.channels_tied;
  g.in_elem_bytes = {static_cast<int>(uni(0, 3) == 0 ? 2 : 1)};
  if (family == KernelFamily::Add && uni(0, 2) > 0) g.in_elem_bytes.push_back(static_cast<int>(uni(1, 2)));
  g.out_elem_bytes = uni(0, 3) == 0 ? 4 : 1;
  g.bias_bytes_per_cout = is_mac_family(family) ? 4 : 0;
  const int64_t rq[] = {0, 4, 8, 16};
  g.requant_bytes_per_cout = family == KernelFamily::Add && g.num_inputs() > 1 ? 0 : rq[uni(0, 3)];
  g.wide_requant = is_mac_family(family) && g.requant_bytes_per_cout >= 8;  // 8 or 16: 64-bit vectors (no draw)
  // Sometimes the maps are channel slices of concatenations (strided pixels in L2).
  if (!fc && uni(0, 3) == 0) {
    g.out_pixel_channels = g.c_out + uni(1, 4);
    g.out_channel_offset = uni(0, g.out_pixel_channels - g.c_out);
  }
  if (!fc && uni(0, 3) == 0) {
    for (int k = 0; k < g.num_inputs(); ++k) {
      g.in_pixel_channels.push_back(g.c_in + uni(0, 4));
      g.in_channel_offset.push_back(uni(0, g.in_pixel_channels.back() - g.c_in));
    }
  }
  set_kernel_query(g, uni(0, 1) == 1);
  return g;
}

inline KernelFamily random_family(std::mt19937_64& rng) {
  return kAllKernelFamilies[std::uniform_int_distribution<int>(0, 5)(rng)];
}

// The seed of a randomized test: fixed, overridable with DORY_TEST_SEED, and printed for replay.
inline uint64_t test_seed(uint64_t fallback) {
  uint64_t seed = fallback;
  if (const char* s = std::getenv("DORY_TEST_SEED")) seed = std::strtoull(s, nullptr, 10);
  std::printf("seed %llu (replay with DORY_TEST_SEED=%llu)\n", static_cast<unsigned long long>(seed),
              static_cast<unsigned long long>(seed));
  return seed;
}

}  // namespace dory::test
