#include "target/cost_model.h"

#include <fmt/format.h>

#include <algorithm>
#include <limits>
#include <vector>

namespace dory {

namespace {

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

}  // namespace

KernelTerms& KernelTerms::operator+=(const KernelTerms& o) {
  calls += o.calls;
  work += o.work;
  loops += o.loops;
  im2col_bytes += o.im2col_bytes;
  pixels += o.pixels;
  channels += o.channels;
  outputs += o.outputs;
  outputs_wide += o.outputs_wide;
  outputs_partial += o.outputs_partial;
  return *this;
}

bool kernel_call_row_pairs(const KernelImpl& kernel, const KernelCall& k) {
  if (!kernel.kernel || !kernel.kernel->row_pairs) return false;
  switch (kernel_op_family(kernel.kernel->op)) {
    case KernelFamily::Conv: return k.c_in % kernel.kernel->c_in_grain == 0;  // else im2col: consecutive pixels
    case KernelFamily::Pointwise: return k.stride_h != 1 || k.stride_w != 1 || k.partial || k.wide_requant;
    default: return false;
  }
}

int64_t mac_pixel_slots(const KernelImpl& kernel, const KernelCall& k, int64_t rows, int64_t pixels) {
  return kernel_call_row_pairs(kernel, k) ? rows * 2 * ceil_div(k.w_out, int64_t{2}) : pixels;
}

KernelTerms kernel_terms(const Target& target, const KernelImpl& kernel, const KernelCall& k) {
  const KernelFamily family = kernel_op_family(kernel.kernel->op);
  DORY_CHECK(k.c_out >= 1 && k.h_out >= 1 && k.w_out >= 1 && k.c_in >= 1 && k.kh >= 1 && k.kw >= 1,
             "kernel_cycles: extents must be >= 1");
  const int64_t P = target.cores;
  auto split = [&](WorkSplit s, int64_t& c_core, int64_t& p_core, int64_t& n_loop) {
    const CallSplit cs = call_split(s, P, k.h_out, k.c_out);
    if (cs.split == WorkSplit::Rows) {
      const int64_t h = cs.chunk;
      c_core = k.c_out;
      p_core = h * k.w_out;
      n_loop = h;
    } else {
      const int64_t c = std::min(cs.chunk, k.c_out);
      c_core = c;
      p_core = k.h_out * k.w_out;
      n_loop = c;
    }
  };
  KernelTerms t;
  t.calls = 1;
  int64_t c_core = 0, p_core = 0, n_loop = 0;
  if (is_mac_family(family)) {
    const MacKernelParams& m = kernel.mac;
    split(m.split, c_core, p_core, n_loop);
    // Depthwise blocks stay within an output row (the xpulpv2 kernel's 4 adjacent outputs of one row; a row's last
    // partial block is a whole one); the conv and pointwise blocks run across rows.
    // Row pairs (registry "row_pairs"): the busiest core's rows computed as 2 * ceil(W / 2) pixel slots each.
    const int64_t slots = mac_pixel_slots(kernel, k, p_core / k.w_out, p_core);
    const int64_t pixel_blocks = family == KernelFamily::Depthwise
                                     ? (p_core / k.w_out) * ceil_div(k.w_out, m.pixel_block)
                                     : ceil_div(slots, m.pixel_block);
    const int64_t blocks = ceil_div(c_core, m.channel_block) * pixel_blocks;
    const int64_t macs_per_output = family == KernelFamily::Depthwise ? k.kh * k.kw : k.kh * k.kw * k.c_in;
    t.work = static_cast<double>(blocks) * static_cast<double>(m.channel_block * m.pixel_block) *
             static_cast<double>(macs_per_output);
    t.loops = static_cast<double>(n_loop);
    if (family == KernelFamily::Conv) {
      t.im2col_bytes = static_cast<double>(p_core * k.kh * k.kw * k.c_in);
    } else if (family == KernelFamily::Depthwise) {
      const int64_t h_core = p_core / k.w_out;  // rows of the busiest core (whole rows either way)
      t.im2col_bytes = static_cast<double>(c_core * ((h_core - 1) * k.stride_h + k.kh) *
                                           ((k.w_out - 1) * k.stride_w + k.kw));
    }
    t.pixels = static_cast<double>(slots);  // a recomputed pixel is set up, requantized and stored again
    t.channels = static_cast<double>(c_core);
    double& outputs = k.partial ? t.outputs_partial : k.wide_requant ? t.outputs_wide : t.outputs;
    outputs = static_cast<double>(c_core * slots);
    return t;
  }
  split(kernel.elementwise.split, c_core, p_core, n_loop);
  t.work = static_cast<double>(family == KernelFamily::Pool ? c_core * p_core * k.kh * k.kw : c_core * p_core);
  t.loops = static_cast<double>(n_loop);
  t.outputs = static_cast<double>(c_core * p_core);
  return t;
}

double kernel_cycles_of(const KernelImpl& kernel, const KernelTerms& t) {
  if (is_mac_family(kernel_op_family(kernel.kernel->op))) {
    const MacKernelParams& m = kernel.mac;
    return m.call_cycles * t.calls + t.work / m.macs_per_cycle + m.row_cycles * t.loops +
           m.im2col_cycles_per_byte * t.im2col_bytes + m.pixel_cycles * t.pixels + m.channel_cycles * t.channels +
           m.output_cycles * t.outputs +
           m.output_cycles_wide * t.outputs_wide + m.output_cycles_partial * t.outputs_partial;
  }
  const ElementwiseKernelParams& e = kernel.elementwise;
  return e.call_cycles * t.calls + t.work / e.elements_per_cycle + e.row_cycles * t.loops +
         e.output_cycles * t.outputs;
}

double kernel_cycles(const Target& target, const KernelImpl& kernel, const KernelCall& k) {
  return kernel_cycles_of(kernel, kernel_terms(target, kernel, k));
}

const char* dma_direction_name(DmaDirection d) { return d == DmaDirection::Load ? "load" : "store"; }

DmaPattern canonical_pattern(DmaPattern p) {
  if (p.row_bytes <= 0 || p.rows <= 0 || p.planes <= 0) return DmaPattern{0, 1, 0, 1, 0};
  // Dimensions outside the row, innermost first; unit dimensions carry no stride and are dropped.
  struct Dim {
    int64_t count, stride;
  };
  Dim dims[2];
  int n = 0;
  if (p.rows > 1) dims[n++] = {p.rows, p.row_stride};
  if (p.planes > 1) dims[n++] = {p.planes, p.plane_stride};
  int64_t row = p.row_bytes;
  for (;;) {
    if (n > 0 && dims[0].stride == row) {  // rows that touch are one longer row
      row *= dims[0].count;
      dims[0] = dims[1];
      --n;
      continue;
    }
    if (n == 2 && dims[1].stride == dims[0].count * dims[0].stride) {  // planes continuing the rows' stride
      dims[0].count *= dims[1].count;
      n = 1;
      continue;
    }
    break;
  }
  DmaPattern c;
  c.row_bytes = row;
  if (n >= 1) c.rows = dims[0].count, c.row_stride = dims[0].stride;
  if (n == 2) c.planes = dims[1].count, c.plane_stride = dims[1].stride;
  return c;
}

DmaTransferCost dma_transfer_cost(const DmaEngine& engine, DmaDirection d, const DmaPattern& pattern) {
  DmaTransferCost cost;
  const DmaPattern p = canonical_pattern(pattern);
  if (p.bytes() == 0) return cost;
  // Load: from the engine's outer level to its inner one (L2 -> L1, or L3 -> L2); Store: back.
  const MemLevel outer = std::max(engine.from, engine.to), inner = std::min(engine.from, engine.to);
  const double bw = d == DmaDirection::Load ? engine.bandwidth(outer, inner) : engine.bandwidth(inner, outer);
  const int64_t kInf = std::numeric_limits<int64_t>::max();
  const int64_t max_row = engine.max_row_bytes;
  const int64_t max_rows = engine.max_rows;
  const int64_t max_transfer = engine.max_transfer_bytes > 0 ? engine.max_transfer_bytes : max_row * max_rows;
  const int64_t max_stride = engine.max_stride_bytes > 0 ? engine.max_stride_bytes : kInf;
  // The outer side (L2 of an L1-L2 engine) is the strided one; an engine whose only strided side is the inner one
  // sees contiguous commands only.
  const bool l2_strided = !engine.strided_memory.has_value() || *engine.strided_memory == outer;
  const int64_t dims = l2_strided ? engine.max_dims : 1;
  const int64_t piece = std::min(max_row, max_transfer);  // the longest 1-D command

  // Fast path (the common case): one command moves it all.
  const int64_t total_rows_1 = p.rows * p.planes;
  if (p.row_bytes <= piece &&
      (total_rows_1 == 1 || (p.planes == 1 && dims >= 2 && p.row_stride <= max_stride && p.rows <= max_rows &&
                             p.rows * p.row_bytes <= max_transfer))) {
    DmaRun& r = cost.runs[0];
    r.count = 1;
    r.rows = total_rows_1;
    r.row_bytes = p.row_bytes;
    r.busy_cycles = static_cast<double>(r.rows) * engine.row_cycles + static_cast<double>(r.rows * r.row_bytes) / bw;
    cost.n_runs = 1;
    cost.commands = 1;
    cost.bytes = r.rows * r.row_bytes;
    cost.busy_cycles = r.busy_cycles;
    return cost;
  }

  auto add_run = [&](int64_t count, int64_t rows, int64_t row_bytes) {
    if (count <= 0 || rows <= 0 || row_bytes <= 0) return;
    if (cost.n_runs > 0) {
      DmaRun& prev = cost.runs[static_cast<size_t>(cost.n_runs - 1)];
      if (prev.rows == rows && prev.row_bytes == row_bytes) {
        prev.count += count;
        return;
      }
    }
    DORY_CHECK(cost.n_runs < 2, "dma_transfer_cost: more than two command runs");
    DmaRun& r = cost.runs[static_cast<size_t>(cost.n_runs++)];
    r.count = count;
    r.rows = rows;
    r.row_bytes = row_bytes;
    r.busy_cycles = static_cast<double>(rows) * engine.row_cycles + static_cast<double>(rows * row_bytes) / bw;
  };
  // 1-D pieces of a contiguous block of n bytes, `times` times.
  auto split_1d = [&](int64_t n, int64_t times) {
    const int64_t k = ceil_div(n, piece);
    const int64_t rem = n - (k - 1) * piece;
    add_run(times * (k - 1), 1, piece);
    add_run(times, 1, rem);
  };

  const int64_t total_rows = p.rows * p.planes;
  if (total_rows == 1) {
    split_1d(p.row_bytes, 1);
  } else if (p.row_bytes > piece) {
    split_1d(p.row_bytes, total_rows);  // every row is several 1-D commands
  } else if (dims == 1 || p.row_stride > max_stride) {
    add_run(total_rows, 1, p.row_bytes);  // one 1-D command per row
  } else {
    const int64_t rows_per_cmd = std::max<int64_t>(1, std::min(max_rows, max_transfer / p.row_bytes));
    if (p.planes > 1 && dims >= 3 && p.plane_stride <= max_stride && p.rows <= rows_per_cmd) {
      const int64_t planes_per_cmd = rows_per_cmd / p.rows;
      const int64_t k = ceil_div(p.planes, planes_per_cmd);
      const int64_t rem = p.planes - (k - 1) * planes_per_cmd;
      add_run(k - 1, planes_per_cmd * p.rows, p.row_bytes);
      add_run(1, rem * p.rows, p.row_bytes);
    } else {
      const int64_t k = ceil_div(p.rows, rows_per_cmd);
      const int64_t rem = p.rows - (k - 1) * rows_per_cmd;
      add_run(p.planes * (k - 1), rows_per_cmd, p.row_bytes);
      add_run(p.planes, rem, p.row_bytes);
    }
  }
  for (int r = 0; r < cost.n_runs; ++r) {
    const DmaRun& run = cost.runs[static_cast<size_t>(r)];
    cost.commands += run.count;
    cost.bytes += run.count * run.rows * run.row_bytes;
    cost.busy_cycles += static_cast<double>(run.count) * run.busy_cycles;
  }
  DORY_CHECK(cost.bytes == p.bytes(), "dma_transfer_cost: commands do not move the pattern's bytes");
  return cost;
}

DmaBatchTime dma_batch_time(const DmaEngine& engine, std::span<const DmaTransferCost* const> transfers) {
  DmaBatchTime t;
  for (const DmaTransferCost* tr : transfers) {
    t.commands += tr->commands;
    t.transfers += tr->commands > 0 ? 1 : 0;
  }
  if (t.commands == 0) return t;
  const double c = engine.issue_cycles, s = engine.setup_cycles, x = engine.transfer_cycles;
  const int64_t M = std::max<int64_t>(1, engine.max_outstanding);
  if (t.commands <= M) {
    // No push ever blocks: the core pushes a run of m identical commands (busy b) from p0 (its first command's
    // push starts there, ends at p0 + c), and the run ends at max(e + m*b, p0 + c + s + max(m*b, (m-1)*c + b))
    // (the recurrence's max is at an endpoint).
    double e = 0, p = 0;
    for (const DmaTransferCost* tr : transfers) {
      if (tr->commands > 0) p += x;
      for (int r = 0; r < tr->n_runs; ++r) {
        const DmaRun& run = tr->runs[static_cast<size_t>(r)];
        const double m = static_cast<double>(run.count), b = run.busy_cycles;
        e = std::max(e + m * b, p + c + s + std::max(m * b, (m - 1) * c + b));
        p += m * c;
      }
    }
    t.done_cycles = e;
    t.core_cycles = p;
    return t;
  }
  // A full queue blocks the push until the oldest outstanding command completes: simulate command by command.
  std::vector<double> ring(static_cast<size_t>(M), 0.0);
  double p = 0, e = 0;
  int64_t j = 0;
  for (const DmaTransferCost* tr : transfers) {
    if (tr->commands > 0) p += x;
    for (int r = 0; r < tr->n_runs; ++r) {
      const DmaRun& run = tr->runs[static_cast<size_t>(r)];
      for (int64_t q = 0; q < run.count; ++q, ++j) {
        double& slot = ring[static_cast<size_t>(j % M)];
        const double wait = j >= M ? slot : 0.0;
        p = std::max(p, wait) + c;
        e = std::max(p + s, e) + run.busy_cycles;
        slot = e;
      }
    }
  }
  t.done_cycles = e;
  t.core_cycles = p;
  return t;
}

double dma_cycles(const DmaEngine& engine, DmaDirection d, int64_t rows, int64_t row_bytes) {
  DmaPattern p;
  p.row_bytes = row_bytes;
  p.rows = rows;
  p.row_stride = rows > 1 ? row_bytes + 1 : 0;  // strided: not contiguous
  const DmaTransferCost cost = dma_transfer_cost(engine, d, p);
  const DmaTransferCost* one[] = {&cost};
  return dma_batch_time(engine, one).done_cycles;
}

const DmaEngine& l1_l2_engine(const Target& target) {
  const DmaEngine* e = target.dma_between(MemLevel::L1, MemLevel::L2);
  DORY_CHECK(e != nullptr, fmt::format("target '{}' has no L1-L2 DMA engine", target.name));
  return *e;
}

// ---- what the tiler's exact search knows of kernel_cycles ----

CinAffine kernel_cycles_in_c_in(const Target& target, const KernelImpl& kernel, const KernelCall& call) {
  KernelCall k = call;
  k.c_in = 1;
  const double k1 = kernel_cycles(target, kernel, k);
  k.c_in = 2;
  const double k2 = kernel_cycles(target, kernel, k);
  return {k2 - k1, 2 * k1 - k2};
}

namespace {

// Sum over the tiles of a dimension of extent `extent` with body size x of f(tile size): (n-1)*f(x) + f(last).
template <class F>
double tiles_sum(int64_t extent, int64_t x, F f) {
  const int64_t n = ceil_div(extent, x);
  const int64_t last = extent - (n - 1) * x;
  return static_cast<double>(n - 1) * f(x) + f(last);
}

}  // namespace

double KernelCyclesBound::SizeTable::min_over(int64_t lo, int64_t hi) const {
  if (lo == hi) return exact[static_cast<size_t>(hi)];
  if (lo == 1) return prefix_min[static_cast<size_t>(hi)];
  double m = std::numeric_limits<double>::infinity();
  for (int64_t x = lo; x <= hi; ++x) m = std::min(m, exact[static_cast<size_t>(x)]);
  return m;
}

KernelCyclesBound::KernelCyclesBound(const Target& target, const KernelImpl& kernel, const KernelCall& layer,
                                     bool channels_tied)
    : layer_(layer), tied_(channels_tied) {
  const KernelFamily family = kernel_op_family(kernel.kernel->op);
  const int64_t P = target.cores;
  cores_ = P;
  const int64_t kk = layer.kh * layer.kw;
  auto build = [](SizeTable& t, int64_t extent, auto per_tile) {
    t.exact.assign(static_cast<size_t>(extent + 1), 0);
    t.prefix_min.assign(static_cast<size_t>(extent + 1), 0);
    double m = std::numeric_limits<double>::infinity();
    for (int64_t x = 1; x <= extent; ++x) {
      t.exact[static_cast<size_t>(x)] = tiles_sum(extent, x, per_tile);
      m = std::min(m, t.exact[static_cast<size_t>(x)]);
      t.prefix_min[static_cast<size_t>(x)] = m;
    }
  };
  const int64_t C = layer.c_out;
  if (is_mac_family(family)) {
    const MacKernelParams& m = kernel.mac;
    call_ = m.call_cycles;
    row_ = m.row_cycles;
    split_ = m.split;
    rate_ = m.macs_per_cycle;
    // the patch: conv's im2col windows (its own bound below), depthwise's planes (at least its outputs: a plane
    // has at least the output's rows and columns), none for pointwise and fc
    im2col_ = family == KernelFamily::Conv ? m.im2col_cycles_per_byte : 0;
    pixel_ = m.pixel_cycles;
    channel_ = m.channel_cycles;
    // (a call on partial sums may cost less per output: the bound takes the smaller)
    output_ = std::min(layer.wide_requant ? m.output_cycles_wide : m.output_cycles, m.output_cycles_partial) +
              (family == KernelFamily::Depthwise ? m.im2col_cycles_per_byte : 0);
    per_output_ = family == KernelFamily::Depthwise ? kk : kk * layer.c_in;
    const int64_t cb = m.channel_block;
    if (split_ == WorkSplit::Rows)
      build(channels_, C, [&](int64_t c) { return static_cast<double>(cb * ceil_div(c, cb)); });
    else if (split_ == WorkSplit::Channels)
      build(channels_, C, [&](int64_t c) { return static_cast<double>(cb * ceil_div(ceil_div(c, P), cb)); });
    else
      build(channels_, C, [&](int64_t c) { return static_cast<double>(c); });
  } else {
    const ElementwiseKernelParams& e = kernel.elementwise;
    call_ = e.call_cycles;
    row_ = e.row_cycles;
    split_ = e.split;
    rate_ = e.elements_per_cycle;
    im2col_ = 0;
    output_ = e.output_cycles;
    per_output_ = family == KernelFamily::Pool ? kk : 1;
    if (split_ == WorkSplit::Channels)
      build(channels_, C, [&](int64_t c) { return static_cast<double>(ceil_div(c, P)); });
    else
      build(channels_, C, [&](int64_t c) { return static_cast<double>(c); });
  }
  build(core_channels_, C, [&](int64_t c) { return static_cast<double>(ceil_div(c, P)); });
  build(core_rows_, layer.h_out, [&](int64_t h) { return static_cast<double>(ceil_div(h, P)); });
}

double KernelCyclesBound::min_total_cycles(const TileSizeRanges& r) const {
  const int64_t n_co = ceil_div(layer_.c_out, r.c_out_hi), n_h = ceil_div(layer_.h_out, r.h_hi),
                n_w = ceil_div(layer_.w_out, r.w_hi);
  const int64_t n_ci = tied_ ? 1 : ceil_div(layer_.c_in, r.c_in_hi);
  const double fco = channels_.min_over(r.c_out_lo, r.c_out_hi), gco = core_channels_.min_over(r.c_out_lo, r.c_out_hi);
  const double fh = core_rows_.min_over(r.h_lo, r.h_hi);
  const double H = static_cast<double>(layer_.h_out), W = static_cast<double>(layer_.w_out);
  // im2col builds kh*kw*Cin bytes per output pixel of the busiest core: every output-channel tile repeats the
  // whole input-channel reduction (untied), or the channel tiles partition C (tied: Cin = the tile's channels).
  const double cin_macs = static_cast<double>(layer_.kh * layer_.kw * layer_.c_in);
  const int64_t im2col_co = tied_ ? 1 : n_co;
  double cycles = call_ * static_cast<double>(n_co * n_h * n_w * n_ci);
  // Every call pays its pixels and outputs (of the busiest core): per input-channel tile, at least the fewest
  // calls' worth.
  const double C = static_cast<double>(layer_.c_out), calls_ci = static_cast<double>(n_ci);
  if (split_ == WorkSplit::Auto) {
    // the perfect split: every tile's (unrounded) work shared evenly; rows and im2col terms dropped
    const double P = static_cast<double>(cores_);
    cycles += fco * H * W * static_cast<double>(per_output_) / rate_ / P;
    cycles += (pixel_ * static_cast<double>(n_co) + output_ * C) * H * W * calls_ci / P;
    cycles += channel_ * C * static_cast<double>(n_h * n_w) * calls_ci / P;
  } else if (split_ == WorkSplit::Rows) {
    // busiest core: ceil(h/P) rows of all channels; blocks round channels up (pixels rounding dropped)
    cycles += fco * fh * W * static_cast<double>(per_output_) / rate_;
    cycles += row_ * static_cast<double>(n_co * n_w * n_ci) * fh;
    cycles += im2col_ * static_cast<double>(im2col_co) * fh * W * cin_macs;
    cycles += (pixel_ * static_cast<double>(n_co) + output_ * C) * fh * W * calls_ci;
    cycles += channel_ * C * static_cast<double>(n_h * n_w) * calls_ci;
  } else {
    cycles += fco * H * W * static_cast<double>(per_output_) / rate_;
    cycles += row_ * static_cast<double>(n_h * n_w * n_ci) * gco;
    cycles += im2col_ * static_cast<double>(im2col_co) * H * W * cin_macs;
    cycles += (pixel_ * static_cast<double>(n_co) + output_ * gco) * H * W * calls_ci;
    cycles += channel_ * gco * static_cast<double>(n_h * n_w) * calls_ci;
  }
  return cycles;
}

}  // namespace dory
