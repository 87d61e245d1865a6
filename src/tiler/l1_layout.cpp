#include "tiler/l1_layout.h"

#include <algorithm>
#include <climits>

namespace dory {

const char* buffer_role_name(BufferRole r) {
  switch (r) {
    case BufferRole::Input: return "input";
    case BufferRole::Weights: return "weights";
    case BufferRole::Bias: return "bias";
    case BufferRole::RequantParams: return "requant";
    case BufferRole::Output: return "output";
    case BufferRole::PartialSums: return "psum";
    case BufferRole::Scratch: return "scratch";
  }
  return "?";
}

const L1Buffer* L1Layout::find(BufferRole role, int operand) const {
  for (const L1Buffer& b : buffers)
    if (b.role == role && b.operand == operand) return &b;
  return nullptr;
}

namespace {

// Calls emit(role, operand, copies, bytes_per_copy) for every buffer of the layout, in layout order.
template <class Emit>
void for_each_buffer(const LayerGeometry& g, const TileShape& s, const Buffering& b, const Target& target,
                     Emit&& emit) {
  const int64_t rows = input_buffer_rows(g, s), cols = input_buffer_cols(g, s);
  for (int k = 0; k < g.num_inputs(); ++k)
    emit(BufferRole::Input, k, b.input ? 2 : 1, rows * cols * s.c_in * g.in_elem_bytes[static_cast<size_t>(k)]);
  const int wcopies = b.weights ? 2 : 1;
  emit(BufferRole::Weights, 0, wcopies, s.c_out * g.weight_bytes_per_cout(s.c_in));
  emit(BufferRole::Bias, 0, wcopies, s.c_out * g.bias_bytes_per_cout);
  emit(BufferRole::RequantParams, 0, wcopies, s.c_out * g.requant_bytes_per_cout);
  const int64_t pixels = s.c_out * s.h_out * s.w_out;
  emit(BufferRole::Output, 0, b.output ? 2 : 1, pixels * g.out_elem_bytes);
  emit(BufferRole::PartialSums, 0, 1, (!g.channels_tied && s.c_in < g.c_in) ? pixels * 4 : 0);
  emit(BufferRole::Scratch, 0, 1, scratch_buffer_bytes(g, s, target));
}

int64_t align_up(int64_t x, int64_t a) { return (x + a - 1) / a * a; }

}  // namespace

dory_kernel_shape kernel_shape(const LayerGeometry& g, const TileShape& s, const Target& target) {
  dory_kernel_shape k{};
  auto i32 = [](int64_t v) { return static_cast<int32_t>(std::min<int64_t>(v, INT32_MAX)); };
  k.cores = i32(target.cores);
  k.c_in = i32(s.c_in);
  k.h_in = i32(input_buffer_rows(g, s));
  k.w_in = i32(input_buffer_cols(g, s));
  k.c_out = i32(s.c_out);
  k.h_out = i32(s.h_out);
  k.w_out = i32(s.w_out);
  k.kh = i32(g.kh);
  k.kw = i32(g.kw);
  k.stride_h = i32(g.stride_h);
  k.stride_w = i32(g.stride_w);
  k.pad = {i32(g.pad.top), i32(g.pad.left), i32(g.pad.bottom), i32(g.pad.right)};
  k.in_type = runtime_dtype(g.kernel_query.inputs.at(0));
  return k;
}

int64_t scratch_buffer_bytes(const LayerGeometry& g, const TileShape& s, const Target& target) {
  const RegistryKernel& k = *g.kernel(target).kernel;
  if (k.scratch.empty()) return 0;
  dory_kernel_shape ks = kernel_shape(g, s, target);
  int64_t bytes = k.scratch_bytes(ks);
  if (s.c_in < g.c_in) {
    // Input channels tiled: the last tile has fewer, and a kernel may need more scratch for a c_in that is not a
    // multiple of 4 (an im2col instead of reading in place). Each residue class's formula grows with c_in
    // (registry invariant, tests/kernels/registry_test.cpp), and the search needs the layout monotone in c_in.
    const int64_t grain = c_in_grain(g, target);
    const int32_t c = ks.c_in;
    if (grain % 4 == 0 && g.c_in % grain == 0 && s.c_in >= grain) {
      // Every tile the search may choose here (c_in_tile_allowed: a multiple of the grain), the last one too, is a
      // multiple of 4: the tile's own class covers them all. A c_in between two multiples (never a plan's, but the
      // search's bisection visits it) counts as the multiple below, and the tiles below the grain are included: so
      // the layout is monotone over every c_in < C_in.
      ks.c_in = static_cast<int32_t>(s.c_in - s.c_in % grain);
      bytes = k.scratch_bytes(ks);
      for (int32_t d = 1; d < grain; ++d) {
        ks.c_in = d;
        bytes = std::max<int64_t>(bytes, k.scratch_bytes(ks));
      }
    } else {
      // The last tile may have any residue: the maximum over c_in' <= c_in, which is over the four largest.
      for (int32_t d = 1; d <= 3 && c - d >= 1; ++d) {
        ks.c_in = c - d;
        bytes = std::max<int64_t>(bytes, k.scratch_bytes(ks));
      }
    }
  }
  return bytes;
}

L1Layout plan_l1_layout(const LayerGeometry& g, const TileShape& s, const Buffering& b, const Target& target) {
  DORY_CHECK(valid_shape(g, s), "plan_l1_layout: invalid tile shape");
  const int64_t align = target.l1.alignment_bytes;
  L1Layout layout;
  int64_t end = 0;
  for_each_buffer(g, s, b, target, [&](BufferRole role, int operand, int copies, int64_t bytes) {
    if (bytes == 0) return;
    L1Buffer buf;
    buf.role = role;
    buf.operand = operand;
    buf.copies = copies;
    buf.bytes_per_copy = bytes;
    for (int c = 0; c < copies; ++c) {
      const int64_t off = align_up(end, align);
      buf.offsets.push_back(off);
      end = off + bytes;
    }
    layout.buffers.push_back(std::move(buf));
  });
  layout.total_bytes = end;
  return layout;
}

int64_t l1_layout_bytes(const LayerGeometry& g, const TileShape& s, const Buffering& b, const Target& target) {
  // Straight-line version of plan_l1_layout's arithmetic (the search's hot path); the tests check equality.
  const int64_t mask = target.l1.alignment_bytes - 1;  // a power of two (validated)
  int64_t end = 0;
  auto place = [&](int copies, int64_t bytes) {
    if (bytes == 0) return;
    end = ((end + mask) & ~mask) + bytes;
    if (copies == 2) end = ((end + mask) & ~mask) + bytes;
  };
  const int64_t box = input_buffer_rows(g, s) * input_buffer_cols(g, s) * s.c_in;
  const int in_copies = b.input ? 2 : 1, w_copies = b.weights ? 2 : 1;
  for (int eb : g.in_elem_bytes) place(in_copies, box * eb);
  place(w_copies, s.c_out * g.weight_bytes_per_cout(s.c_in));
  place(w_copies, s.c_out * g.bias_bytes_per_cout);
  place(w_copies, s.c_out * g.requant_bytes_per_cout);
  const int64_t pixels = s.c_out * s.h_out * s.w_out;
  place(b.output ? 2 : 1, pixels * g.out_elem_bytes);
  if (!g.channels_tied && s.c_in < g.c_in) place(1, pixels * 4);
  place(1, scratch_buffer_bytes(g, s, target));
  return end;
}

}  // namespace dory
