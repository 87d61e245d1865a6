#include "kernels/kernel_harness.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <map>

#include "codegen/deployment.h"
#include "dory/hal_host.h"
#include "tiler/geometry.h"
#include "tiler/l1_layout.h"
#include "tiler/transfers.h"
#include "unit/ir_test_util.h"

namespace dory::ktest {

using test::GraphBuilder;
using test::make_tensor;
using test::window;

uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

uint64_t base_seed() {
  const char* s = std::getenv("DORY_TEST_SEED");
  return s && *s ? std::strtoull(s, nullptr, 0) : 20250611ull;
}

std::optional<int> only_case() {
  const char* s = std::getenv("DORY_TEST_CASE");
  if (!s || !*s) return std::nullopt;
  return std::atoi(s);
}

int scaled_cases(int n) {
  const char* s = std::getenv("DORY_TEST_SCALE");
  const double f = s && *s ? std::atof(s) : 1.0;
  return std::max(1, static_cast<int>(std::lround(n * f)));
}

const char* family_name(Family f) {
  switch (f) {
    case Family::Conv:
      return "conv";
    case Family::Pointwise:
      return "pointwise";
    case Family::Depthwise:
      return "depthwise";
    case Family::Fc:
      return "fc";
    case Family::MaxPool:
      return "maxpool";
    case Family::AvgPool:
      return "avgpool";
    case Family::Add:
      return "add";
    case Family::Requantize:
      return "requantize";
  }
  return "?";
}

namespace {

constexpr int64_t kI32Max = std::numeric_limits<int32_t>::max();
constexpr int64_t kI32Min = std::numeric_limits<int32_t>::min();

// ---- random building blocks ---------------------------------------------------------------------------------

int64_t pick_channels(Rng& r) {
  static const std::vector<int64_t> edge{1,  2,  3,  4,   5,   7,   8,   13,  16,  17,  31, 32,
                                         61, 64, 97, 127, 128, 131, 199, 251, 256, 293, 300};
  return r.chance(0.4) ? r.pick(edge) : r.uniform(1, 300);
}

// 1 to 96 (the MAC budget of the case shrinks large maps of many channels).
int64_t pick_spatial(Rng& r) {
  static const std::vector<int64_t> edge{1, 2, 3, 4, 5, 7, 8, 11, 15, 16, 17, 31, 32, 48, 64, 96};
  if (r.chance(0.4)) return r.pick(edge);
  return r.chance(0.8) ? r.uniform(1, 32) : r.uniform(33, 96);
}

DType pick_act_dtype(Rng& r) {
  const double u = r.real(0, 1);
  if (u < 0.35) return DType::UInt8;
  if (u < 0.65) return DType::Int8;
  if (u < 0.77) return DType::UInt16;
  if (u < 0.89) return DType::Int16;
  return DType::Int32;
}

int32_t pick_zero_point(Rng& r, DType t) {
  if (r.chance(0.45)) return t == DType::UInt8 && r.chance(0.3) ? 128 : 0;
  const ValueRange tr = dtype_range(t);
  switch (t) {
    case DType::UInt8:
    case DType::Int8:
      return static_cast<int32_t>(r.uniform(tr.lo, tr.hi));
    case DType::UInt16:
      return static_cast<int32_t>(r.uniform(0, 1000));
    case DType::Int16:
      return static_cast<int32_t>(r.uniform(-1000, 1000));
    case DType::Int32:
      return static_cast<int32_t>(r.uniform(-100000, 100000));
  }
  return 0;
}

// max |x - zp| over [lo, hi].
int64_t vmax_of(ValueRange v, int32_t zp) { return std::max(std::llabs(v.lo - zp), std::llabs(v.hi - zp)); }

// A graph input of the layer under test. radius < 0: the whole type range; else the input goes through a clamp
// (an identity Requantize to [zp - radius, zp + radius]) so that the layer under test sees a narrower range, as a
// tensor of the same declared type. Returns the tensor the layer reads and its value range.
struct InputMaker {
  GraphBuilder& b;
  LayerCase& c;
  Rng& r;
  std::vector<ValueRange> gen;  // value range to draw each graph input from

  std::pair<TensorId, ValueRange> make(const std::string& name, std::vector<int64_t> shape, DType dt, int32_t zp,
                                       int64_t radius) {
    const ValueRange tr = dtype_range(dt);
    if (radius < 0 || (zp - radius <= tr.lo && zp + radius >= tr.hi)) {
      TensorId id = b.input(name, shape, dt, zp);
      gen.push_back(tr);
      return {id, tr};
    }
    const int64_t lo = std::max(tr.lo, zp - radius), hi = std::min(tr.hi, zp + radius);
    TensorId raw = b.input(name + "_raw", shape, dt, zp);
    TensorId x = b.g.add_tensor(make_tensor(name, shape, dt, zp, /*declared=*/true));
    Requantize clamp;
    clamp.requant = test::requant({1}, {0}, 1, 0, static_cast<int32_t>(lo), static_cast<int32_t>(hi));
    b.layer(name + "_clamp", clamp, {raw}, x);
    const int64_t margin = (hi - lo) / 8 + 1;
    gen.push_back({std::max(tr.lo, lo - margin), std::min(tr.hi, hi + margin)});
    return {x, {lo, hi}};
  }
};

struct OutType {
  DType dt = DType::UInt8;
  bool declared = true;
};

// A random requantization of values of typical magnitude acc_typ into a random output type. max_count > 1 for
// average pooling (the divisor is multiplied by the window count).
Requant random_requant(Rng& r, int64_t channels, double acc_typ, OutType& out, bool allow_per_channel = true,
                       int64_t max_count = 1) {
  Requant rq;
  const double u = r.real(0, 1);
  out.declared = true;
  if (u < 0.3)
    out.dt = DType::UInt8;
  else if (u < 0.6)
    out.dt = DType::Int8;
  else if (u < 0.7)
    out.dt = DType::UInt16;
  else if (u < 0.8)
    out.dt = DType::Int16;
  else if (u < 0.88)
    out.dt = DType::Int32;
  else
    out.declared = false;

  const int mbits = static_cast<int>(r.uniform(0, 31));
  auto draw_m = [&]() -> int64_t {
    const int64_t hi = mbits >= 31 ? kI32Max : (int64_t{1} << mbits);
    return r.chance(0.03) ? 0 : r.uniform(std::max<int64_t>(1, hi / 2), hi);
  };
  const bool pcm = allow_per_channel && channels > 1 && r.chance(0.5);
  const bool pca = allow_per_channel && channels > 1 && r.chance(0.3);
  rq.mul.assign(pcm ? static_cast<size_t>(channels) : 1, 0);
  for (auto& m : rq.mul) m = draw_m();
  if (!pcm && rq.mul[0] == 0) rq.mul[0] = 1;

  const double mtyp = std::ldexp(0.75, mbits);
  const double span =
      out.declared ? std::min(65536.0, static_cast<double>(dtype_range(out.dt).hi - dtype_range(out.dt).lo)) : 512.0;
  double dt = acc_typ * mtyp / (span / 4) * std::exp2(r.real(-1, 3.5));
  const double dmax = std::ldexp(1.0, 61) / static_cast<double>(max_count);
  dt = std::clamp(dt, 1.0, dmax);
  uint64_t d = static_cast<uint64_t>(dt);
  const double kind = r.real(0, 1);
  if (kind < 0.55) {
    d = uint64_t{1} << static_cast<int>(std::floor(std::log2(static_cast<double>(d))));
  } else if (kind < 0.75) {
    const int bits = static_cast<int>(std::floor(std::log2(static_cast<double>(d)))) + 1;
    d = (uint64_t{1} << bits) - 1;
  }
  rq.divisor = std::max<uint64_t>(1, d);

  const int64_t amax = static_cast<int64_t>(std::ldexp(1.0, 60) / static_cast<double>(max_count));
  auto draw_a = [&]() -> int64_t {
    const double v = r.real(0, 1);
    const int64_t dd = static_cast<int64_t>(std::min<uint64_t>(rq.divisor, static_cast<uint64_t>(amax / 4)));
    if (v < 0.4) return dd / 2;
    if (v < 0.7) return 0;
    return r.uniform(-4 * dd, 4 * dd);
  };
  rq.add.assign(pca ? static_cast<size_t>(channels) : 1, 0);
  for (auto& a : rq.add) a = draw_a();
  rq.rounding = r.chance(0.15) ? Rounding::TowardZero : Rounding::Floor;

  if (out.declared) {
    const ValueRange tr = dtype_range(out.dt);
    switch (out.dt) {
      case DType::UInt8:
      case DType::Int8:
        rq.zero_point = r.chance(0.4) ? 0 : static_cast<int32_t>(r.uniform(tr.lo, tr.hi));
        break;
      case DType::UInt16:
        rq.zero_point = static_cast<int32_t>(r.uniform(0, 1000));
        break;
      case DType::Int16:
        rq.zero_point = static_cast<int32_t>(r.uniform(-1000, 1000));
        break;
      case DType::Int32:
        rq.zero_point = static_cast<int32_t>(r.uniform(-10000, 10000));
        break;
    }
    rq.lo = static_cast<int32_t>(tr.lo);
    rq.hi = static_cast<int32_t>(tr.hi);
    const double c = r.real(0, 1);
    if (c < 0.3) {
      rq.lo = std::max(rq.lo, rq.zero_point);  // Relu
    } else if (c < 0.45) {
      const int64_t a = r.uniform(tr.lo, tr.hi), b = r.uniform(tr.lo, tr.hi);
      rq.lo = static_cast<int32_t>(std::min(a, b));
      rq.hi = static_cast<int32_t>(std::max(a, b));
    }
  } else {
    rq.zero_point = static_cast<int32_t>(r.uniform(-50, 50));
    if (r.chance(0.6)) {
      rq.lo = static_cast<int32_t>(r.uniform(-40000, 0));
      rq.hi = static_cast<int32_t>(r.uniform(0, 70000));
    }  // else no clamp: the output type is whatever the proven range needs
  }
  return rq;
}

std::string requant_desc(const Requant& rq) { return requant_summary(rq); }

std::string type_desc(const Graph& g, TensorId t) {
  const Tensor& x = g.tensor(t);
  return fmt::format("{}{}", dtype_name(x.dtype), x.zero_point ? fmt::format(" zp {}", x.zero_point) : "");
}

std::string window_desc(const Window& w) {
  return fmt::format("{}x{} s{}x{} pad(t{} l{} b{} r{})", w.kh, w.kw, w.stride_h, w.stride_w, w.pad.top, w.pad.left,
                     w.pad.bottom, w.pad.right);
}

Window random_window(Rng& r, bool allow_pad = true) {
  Window w = window(static_cast<int32_t>(r.uniform(1, 7)), static_cast<int32_t>(r.uniform(1, 7)),
                    static_cast<int32_t>(r.uniform(1, 3)), static_cast<int32_t>(r.uniform(1, 3)));
  if (r.chance(0.25)) w.kw = w.kh;
  if (allow_pad && r.chance(0.75)) {
    // Mostly smaller than the kernel; sometimes as large as it or larger (legal ONNX: windows, and whole tiles,
    // of padding only).
    const int32_t extra = r.chance(0.25) ? 3 : 0;
    w.pad.top = static_cast<int32_t>(r.uniform(0, w.kh - 1 + extra));
    w.pad.bottom = static_cast<int32_t>(r.uniform(0, w.kh - 1 + extra));
    w.pad.left = static_cast<int32_t>(r.uniform(0, w.kw - 1 + extra));
    w.pad.right = static_cast<int32_t>(r.uniform(0, w.kw - 1 + extra));
  }
  return w;
}

// Spatial input size such that the window fits (the output has at least one row/column).
void fit_spatial(int64_t& h, int64_t& w, const Window& win) {
  h = std::max<int64_t>(h, win.kh - win.pad.top - win.pad.bottom);
  w = std::max<int64_t>(w, win.kw - win.pad.left - win.pad.right);
}

// Weights and bias for a MAC layer with k weights per output channel whose inputs satisfy |x - zp| <= vmax, such
// that the accumulator is provably within int32. Returns the typical accumulator magnitude.
double mac_params(Rng& r, int64_t n_out, int64_t k, int64_t vmax, std::vector<int32_t>& weights,
                  std::vector<int32_t>& bias) {
  const int64_t budget = kI32Max;
  int64_t bmax = r.pick(std::vector<int64_t>{0, 100, 10000, 1 << 20});
  int64_t wmax = r.pick(std::vector<int64_t>{1, 3, 15, 127, r.uniform(1, 127)});
  bmax = std::min<int64_t>(bmax, budget / 4);
  const int64_t fit = (budget - bmax) / std::max<int64_t>(1, vmax * k);
  wmax = std::clamp<int64_t>(std::min(wmax, fit), 0, 127);
  weights.resize(static_cast<size_t>(n_out * k));
  for (auto& w : weights) w = r.chance(0.1) ? 0 : static_cast<int32_t>(r.uniform(-wmax, wmax));
  if (wmax >= 1 && r.chance(0.05))  // extreme weights
    for (auto& w : weights)
      w = r.chance(0.5) ? static_cast<int32_t>(-std::min<int64_t>(128, wmax)) : static_cast<int32_t>(wmax);
  bias.resize(static_cast<size_t>(n_out));
  for (auto& b : bias) b = static_cast<int32_t>(r.uniform(-bmax, bmax));
  return std::max(1.0, 0.5 * static_cast<double>(vmax) * 0.5 * static_cast<double>(std::max<int64_t>(wmax, 1)) *
                               std::sqrt(static_cast<double>(k)) +
                           0.5 * static_cast<double>(bmax));
}

// Chooses the input type, zero point and (when a wide type would overflow the accumulator) a clamp radius.
struct MacInput {
  DType dt;
  int32_t zp;
  int64_t radius;  // -1: full range
  int64_t vmax;
};
MacInput mac_input(Rng& r, int64_t k) {
  MacInput in;
  in.dt = pick_act_dtype(r);
  in.zp = pick_zero_point(r, in.dt);
  in.radius = -1;
  in.vmax = vmax_of(dtype_range(in.dt), in.zp);
  // Keep |x - zp| * k * (some weights >= 1) within int32 with room: narrow wide types when needed.
  const int64_t cap = kI32Max / 4 / std::max<int64_t>(1, k);
  if (in.vmax > cap || (in.dt != DType::UInt8 && in.dt != DType::Int8 && r.chance(0.3))) {
    in.radius =
        std::max<int64_t>(1, std::min<int64_t>(cap, r.chance(0.5) ? cap : r.uniform(1, std::max<int64_t>(1, cap))));
    const ValueRange tr = dtype_range(in.dt);
    in.vmax = vmax_of({std::max(tr.lo, in.zp - in.radius), std::min(tr.hi, in.zp + in.radius)}, in.zp);
  }
  return in;
}

// Bounds the MACs of a conv-like layer by shrinking its largest factor.
void bound_macs(Rng& r, int64_t& cin, int64_t& cout, int64_t& h, int64_t& w, const Window& win, int64_t budget) {
  for (int guard = 0; guard < 100; ++guard) {
    const int64_t ho = window_out(h, win.kh, win.stride_h, win.pad.top, win.pad.bottom);
    const int64_t wo = window_out(w, win.kw, win.stride_w, win.pad.left, win.pad.right);
    if (cin * cout * ho * wo * win.kh * win.kw <= budget) return;
    int64_t* dims[4] = {&cin, &cout, &h, &w};
    int64_t* d = dims[r.uniform(0, 3)];
    if (*d > 1) *d = std::max<int64_t>(1, *d * 2 / 3);
    fit_spatial(h, w, win);
  }
}

void finish_output(GraphBuilder& b, TensorId& out, const std::string& name, std::vector<int64_t> shape,
                   const OutType& ot) {
  out = b.g.add_tensor(make_tensor(name, std::move(shape), ot.dt, 0, ot.declared));
}

std::optional<LayerCase> try_case(Family f, Rng& r) {
  LayerCase c;
  GraphBuilder b;
  InputMaker im{b, c, r, {}};
  const int64_t budget = r.chance(0.7) ? r.uniform(1000, 300000) : r.uniform(300000, 1500000);
  std::string desc;
  TensorId out = -1;
  std::vector<TensorId> ins;
  LayerOp op;

  switch (f) {
    case Family::Conv:
    case Family::Pointwise:
    case Family::Depthwise: {
      Window w = f == Family::Pointwise
                     ? window(1, 1, static_cast<int32_t>(r.uniform(1, 3)), static_cast<int32_t>(r.uniform(1, 3)))
                     : random_window(r);
      if (f == Family::Conv && w.kh == 1 && w.kw == 1 && !w.pad.any()) w.kh = 2;  // not pointwise
      int64_t cin = pick_channels(r), cout = f == Family::Depthwise ? 1 : pick_channels(r);
      int64_t h = pick_spatial(r), wd = pick_spatial(r);
      fit_spatial(h, wd, w);
      bound_macs(r, cin, cout, h, wd, w, budget);
      if (f == Family::Depthwise) cout = cin = std::max<int64_t>(cin, 2);  // groups = C > 1
      const int64_t k = w.kh * w.kw * (f == Family::Depthwise ? 1 : cin);
      const MacInput mi = mac_input(r, k);
      auto [x, xr] = im.make("x", {1, cin, h, wd}, mi.dt, mi.zp, mi.radius);
      Conv2d conv;
      conv.win = w;
      conv.groups = f == Family::Depthwise ? static_cast<int32_t>(cin) : 1;
      conv.input_zero_point = mi.zp;
      const double acc = mac_params(r, cout, k, vmax_of(xr, mi.zp), conv.weights, conv.bias);
      OutType ot{DType::Int32, false};
      if (r.chance(0.9)) conv.requant = random_requant(r, cout, acc, ot);
      const int64_t ho = window_out(h, w.kh, w.stride_h, w.pad.top, w.pad.bottom);
      const int64_t wo = window_out(wd, w.kw, w.stride_w, w.pad.left, w.pad.right);
      finish_output(b, out, "y", {1, cout, ho, wo}, ot);
      desc = fmt::format("{} {} cin {} cout {} in {}x{} {} -> {}", family_name(f), window_desc(w), cin, cout, h, wd,
                         type_desc(b.g, x), conv.requant ? requant_desc(*conv.requant) : "raw int32");
      ins = {x};
      op = std::move(conv);
      break;
    }
    case Family::Fc: {
      int64_t k =
          r.chance(0.3) ? r.pick(std::vector<int64_t>{1, 2, 3, 7, 64, 127, 256, 1000, 2048, 4099}) : r.uniform(1, 3000);
      int64_t n = pick_channels(r);
      while (k * n > budget && (k > 1 || n > 1)) (k > n ? k : n) = std::max<int64_t>(1, (k > n ? k : n) * 2 / 3);
      const MacInput mi = mac_input(r, k);
      auto [x, xr] = im.make("x", {1, k}, mi.dt, mi.zp, mi.radius);
      FullyConnected fc;
      fc.input_zero_point = mi.zp;
      const double acc = mac_params(r, n, k, vmax_of(xr, mi.zp), fc.weights, fc.bias);
      OutType ot{DType::Int32, false};
      if (r.chance(0.85)) fc.requant = random_requant(r, n, acc, ot);
      finish_output(b, out, "y", {1, n}, ot);
      desc = fmt::format("fc k {} n {} {} -> {}", k, n, type_desc(b.g, x),
                         fc.requant ? requant_desc(*fc.requant) : "raw int32 logits");
      ins = {x};
      op = std::move(fc);
      break;
    }
    case Family::MaxPool:
    case Family::AvgPool: {
      const bool global = f == Family::AvgPool && r.chance(0.2);
      Window w = random_window(r);
      int64_t ch = pick_channels(r), h = pick_spatial(r), wd = pick_spatial(r);
      if (global) {
        w = window(static_cast<int32_t>(h), static_cast<int32_t>(wd));
      } else {
        fit_spatial(h, wd, w);
        int64_t one = 1;
        bound_macs(r, ch, one, h, wd, w, budget);
      }
      DType dt = pick_act_dtype(r);
      int32_t zp = pick_zero_point(r, dt);
      int64_t radius = -1;
      const int64_t kk = static_cast<int64_t>(w.kh) * w.kw;
      if (f == Family::AvgPool) {
        const int64_t cap = kI32Max / 2 / kk;
        if (vmax_of(dtype_range(dt), zp) > cap || (dt != DType::UInt8 && dt != DType::Int8 && r.chance(0.3)))
          radius = r.uniform(1, cap);
      }
      auto [x, xr] = im.make("x", {1, ch, h, wd}, dt, zp, radius);
      const int64_t ho = window_out(h, w.kh, w.stride_h, w.pad.top, w.pad.bottom);
      const int64_t wo = window_out(wd, w.kw, w.stride_w, w.pad.left, w.pad.right);
      if (f == Family::MaxPool) {
        MaxPool mp;
        mp.win = w;
        // A window of padding only needs a pad value (without one its maximum is undefined: ir-empty-window).
        if (w.pad.any() && (r.chance(0.4) || has_padding_only_window(w, h, wd)))
          mp.pad_value = static_cast<int32_t>(r.uniform(xr.lo, xr.hi));
        out = b.tensor("y", {1, ch, ho, wo});
        desc = fmt::format("maxpool {} ch {} in {}x{} {}{}", window_desc(w), ch, h, wd, type_desc(b.g, x),
                           mp.pad_value ? fmt::format(" pad value {}", *mp.pad_value) : "");
        op = mp;
      } else {
        AveragePool ap;
        ap.win = w;
        ap.global = global;
        ap.input_zero_point = zp;
        // A window of padding only must count its padded slots (else 0/0: ir-empty-window).
        ap.count_include_pad = r.chance(0.5) || has_padding_only_window(w, h, wd);
        ap.pad_value = r.chance(0.8) ? zp : static_cast<int32_t>(r.uniform(xr.lo, xr.hi));
        OutType ot;
        ap.requant = random_requant(r, ch, std::max<double>(1, vmax_of(xr, zp) / 2.0), ot, true, kk);
        finish_output(b, out, "y", {1, ch, ho, wo}, ot);
        desc =
            fmt::format("avgpool{} {} ch {} in {}x{} {} {} pad value {} -> {}", global ? " global" : "", window_desc(w),
                        ch, h, wd, type_desc(b.g, x), ap.count_include_pad ? "count_include_pad" : "in-bounds counts",
                        ap.pad_value, requant_desc(ap.requant));
        op = ap;
      }
      ins = {x};
      break;
    }
    case Family::Add:
    case Family::Requantize: {
      const bool flat = r.chance(0.25);
      int64_t ch = pick_channels(r), h = pick_spatial(r), wd = pick_spatial(r);
      int64_t one = 1;
      bound_macs(r, ch, one, h, wd, window(1, 1), budget / 4);
      std::vector<int64_t> shape = flat ? std::vector<int64_t>{1, ch * h * wd} : std::vector<int64_t>{1, ch, h, wd};
      const int64_t channels = flat ? ch * h * wd : ch;
      if (f == Family::Requantize) {
        DType dt = pick_act_dtype(r);
        int32_t zp = dt == DType::Int32 && r.chance(0.5) ? 0 : pick_zero_point(r, dt);
        int64_t radius = -1;
        if (dt == DType::Int32 && (zp != 0 || r.chance(0.5))) radius = r.uniform(1, int64_t{1} << 30);
        auto [x, xr] = im.make("x", shape, dt, zp, radius);
        Requantize rqz;
        rqz.input_zero_point = zp;
        OutType ot;
        rqz.requant = random_requant(r, channels, std::max<double>(1, vmax_of(xr, zp) / 2.0), ot);
        finish_output(b, out, "y", shape, ot);
        desc = fmt::format("requantize {} {} -> {}", shape_str(shape), type_desc(b.g, x), requant_desc(rqz.requant));
        ins = {x};
        op = rqz;
      } else {
        const int n_ops = r.chance(0.8) ? 2 : (r.chance(0.7) ? 3 : 4);
        Add add;
        double sum_typ = 0;
        desc = fmt::format("add {} of", shape_str(shape));
        for (int k = 0; k < n_ops; ++k) {
          DType dt = pick_act_dtype(r);
          int32_t zp = pick_zero_point(r, dt);
          int64_t radius = -1;
          if (dt == DType::Int32) radius = r.uniform(1, int64_t{1} << 24);
          auto [x, xr] = im.make(fmt::format("x{}", k), shape, dt, zp, radius);
          const int64_t vmax = std::max<int64_t>(1, vmax_of(xr, zp));
          AddOperand o;
          o.zero_point = zp;
          const double form = r.real(0, 1);
          // |t| <= vmax * mul / divisor must leave the sum of n_ops terms within int32.
          const int64_t mul_cap = std::max<int64_t>(1, (kI32Max / 2 / n_ops) / vmax);
          if (form < 0.4) {  // NEMO: mul only
            o.mul = r.uniform(1, std::min<int64_t>(mul_cap, int64_t{1} << r.uniform(0, 20)));
          } else if (form < 0.8) {  // QuantLab: (x*m + a) >> s
            const int s = static_cast<int>(r.uniform(0, 24));
            o.divisor = uint64_t{1} << s;
            o.mul = r.uniform(1, std::min<int64_t>(mul_cap << std::min(s, 20), int64_t{1} << 30));
            o.add = r.chance(0.5) ? static_cast<int64_t>(o.divisor / 2)
                                  : r.uniform(-static_cast<int64_t>(o.divisor), static_cast<int64_t>(o.divisor));
          } else {  // any divisor, either rounding
            o.divisor = static_cast<uint64_t>(r.uniform(1, 100000));
            o.mul = r.uniform(1, std::min<int64_t>(mul_cap * static_cast<int64_t>(o.divisor), int64_t{1} << 30));
            o.add = r.uniform(-static_cast<int64_t>(o.divisor), static_cast<int64_t>(o.divisor));
            o.rounding = r.chance(0.5) ? Rounding::TowardZero : Rounding::Floor;
          }
          sum_typ += static_cast<double>(vmax) / 2 * static_cast<double>(o.mul) / static_cast<double>(o.divisor);
          add.operands.push_back(o);
          desc += fmt::format(" [{} *{} +{} /{}]", type_desc(b.g, x), o.mul, o.add, o.divisor);
          ins.push_back(x);
        }
        OutType ot;
        add.requant = random_requant(r, 1, std::max(1.0, sum_typ), ot, false);
        finish_output(b, out, "y", shape, ot);
        desc += " -> " + requant_desc(add.requant);
        op = add;
      }
      break;
    }
  }
  b.layer("under_test", std::move(op), ins, out);
  b.output(out);
  c.g = std::move(b.g);
  c.layer = "under_test";
  Status st = check_graph(c.g);
  if (!st.ok()) return std::nullopt;
  // Regenerate the requant description now that `wide` is known.
  const Layer* l = nullptr;
  for (const Layer& x : c.g.layers)
    if (x.name == c.layer) l = &x;
  const Tensor& yt = c.g.tensor(l->output);
  c.desc = desc + fmt::format(" => {}", dtype_name(yt.dtype));
  if (const auto* cv = l->as<Conv2d>(); cv && cv->requant) c.desc += cv->requant->wide ? " (64-bit)" : " (32-bit)";
  if (const auto* fc = l->as<FullyConnected>(); fc && fc->requant)
    c.desc += fc->requant->wide ? " (64-bit)" : " (32-bit)";
  if (const auto* ap = l->as<AveragePool>()) c.desc += ap->requant.wide ? " (64-bit)" : " (32-bit)";
  if (const auto* ad = l->as<Add>()) c.desc += ad->requant.wide ? " (64-bit)" : " (32-bit)";
  if (const auto* rz = l->as<Requantize>()) c.desc += rz->requant.wide ? " (64-bit)" : " (32-bit)";
  // Graph inputs.
  for (size_t i = 0; i < c.g.inputs.size(); ++i) {
    const Tensor& t = c.g.tensor(c.g.inputs[i]);
    const ValueRange vr = im.gen[i];
    std::vector<int32_t> v(static_cast<size_t>(t.elements()));
    const double shape_pick = r.real(0, 1);
    for (auto& x : v) {
      if (shape_pick < 0.1 && r.chance(0.5))
        x = static_cast<int32_t>(r.chance(0.5) ? vr.lo : vr.hi);  // extremes
      else
        x = static_cast<int32_t>(r.uniform(vr.lo, vr.hi));
    }
    c.inputs.push_back(std::move(v));
  }
  return c;
}

}  // namespace

LayerCase random_case(Family f, Rng& r) {
  for (int attempt = 0; attempt < 200; ++attempt)
    if (auto c = try_case(f, r)) return std::move(*c);
  ADD_FAILURE() << "could not generate a valid " << family_name(f) << " layer in 200 attempts";
  return {};
}

// ---- configurations -----------------------------------------------------------------------------------------

std::string RunConfig::str() const {
  return fmt::format("kernel {} cores {} split {} dma {} tile c_out {} h {} w {} c_in {}", kernel, cores,
                     split == DORY_SPLIT_ROWS ? "rows" : split == DORY_SPLIT_CHANNELS ? "channels" : "auto",
                     dma_until_wait ? "until-wait" : "async", shape.c_out, shape.h_out, shape.w_out, shape.c_in);
}

RunConfig random_config(Rng& r, const LayerGeometry& g, int cores) {
  RunConfig c;
  c.cores = cores;
  const std::vector<const RegistryKernel*> kernels = portable_kernels_for(g);
  c.kernel = kernels.empty() ? std::string() : r.pick(kernels)->name;
  c.split = r.chance(0.4) ? DORY_SPLIT_ROWS : r.chance(0.6) ? DORY_SPLIT_CHANNELS : DORY_SPLIT_AUTO;
  c.dma_until_wait = r.chance(0.3);
  if (r.chance(0.1)) {
    c.shape = whole_layer_shape(g);
    return c;
  }
  auto dim = [&](int64_t extent) -> int64_t {
    const double u = r.real(0, 1);
    if (u < 0.2) return extent;
    if (u < 0.35) return r.uniform(1, extent);
    const int64_t n = r.uniform(1, std::min<int64_t>(extent, 5));
    return (extent + n - 1) / n;
  };
  c.shape.c_out = dim(g.c_out);
  c.shape.h_out = dim(g.h_out);
  c.shape.w_out = dim(g.w_out);
  c.shape.c_in = g.channels_tied ? c.shape.c_out : (g.cin_tileable ? dim(g.c_in) : g.c_in);
  for (int guard = 0; guard < 64 && tile_counts(g, c.shape).total() > 64; ++guard) {
    const TileCounts n = tile_counts(g, c.shape);
    if (n.c_out >= std::max({n.h, n.w, n.c_in}))
      c.shape.c_out = std::min(g.c_out, c.shape.c_out * 2);
    else if (n.h >= std::max(n.w, n.c_in))
      c.shape.h_out = std::min(g.h_out, c.shape.h_out * 2);
    else if (n.w >= n.c_in)
      c.shape.w_out = std::min(g.w_out, c.shape.w_out * 2);
    else
      c.shape.c_in = std::min(g.c_in, c.shape.c_in * 2);
    if (g.channels_tied) c.shape.c_in = c.shape.c_out;
  }
  return c;
}

// ---- running ------------------------------------------------------------------------------------------------

namespace {

// The code generator's own conversions (src/codegen/deployment.h): the harness lays out L2 exactly as the
// generated applications do.
uint8_t to_dory(DType t) { return runtime_dtype(t); }
std::vector<uint8_t> pack(const std::vector<int32_t>& v, DType t) { return pack_values(v, t); }
int32_t unpack(const uint8_t* p, DType t, size_t i) { return unpack_value(p, t, i); }
dory_requant_divisor rq_divisor(const Requant& rq, uint64_t count) { return requant_divisor(rq, count); }
dory_requant_args rq_args(const Requant& rq, const void* l1_records) {
  dory_requant_args a = requant_args(rq);
  a.channel_params = (a.mul_per_channel || a.add_per_channel) ? l1_records : nullptr;
  return a;
}


struct Blob {
  size_t off = 0;
  std::vector<uint8_t> bytes;
};

size_t align8(size_t x) { return (x + 7) & ~size_t{7}; }

constexpr size_t kCanaryBytes = 16;
uint8_t canary(size_t i) { return static_cast<uint8_t>(0x5C ^ (i * 7)); }

template <class Args>
void run_on_cluster(void (*kernel)(const Args*), const Args& a) {
  struct Call {
    void (*k)(const Args*);
    const Args* a;
  } call{kernel, &a};
  dory_cluster_run(
      [](void* p) {
        auto* c = static_cast<Call*>(p);
        c->k(c->a);
      },
      &call);
}

}  // namespace

std::vector<const RegistryKernel*> portable_kernels_for(const LayerGeometry& g) {
  std::vector<const RegistryKernel*> out;
  for (const RegistryKernel& k : runtime_registry().kernels) {
    if (k.isa != "c" || k.op != g.kernel_query.op) continue;
    if (std::all_of(g.kernel_query.inputs.begin(), g.kernel_query.inputs.end(), [&](DType t) { return k.takes(t); }))
      out.push_back(&k);
  }
  return out;
}

Target with_kernel(const Target& base, const RegistryKernel& kernel) {
  Target t = base;
  auto& list = t.kernels.family(kernel_op_family(kernel.op));
  KernelImpl k = list.front();
  k.kernel = &kernel;
  k.mac.channel_block = kernel.channel_block;
  k.mac.pixel_block = kernel.pixel_block;
  list.insert(list.begin(), k);
  return t;
}

extern "C" {
typedef struct {
  const char* name;
  dory_kernel_fn fn;
} dory_kernel_entry;
extern const dory_kernel_entry dory_kernel_table[];
extern const int dory_kernel_table_size;
}

dory_kernel_fn portable_kernel(const std::string& name) {
  for (int i = 0; i < dory_kernel_table_size; ++i)
    if (name == dory_kernel_table[i].name) return dory_kernel_table[i].fn;
  return dory_kernel_fn{};
}

std::string run_tiled(const LayerCase& c, const ReferenceResult& ref, const Target& base_target, const RunConfig& cfg,
                      RunStats* stats) {
  const Graph& g = c.g;
  const Layer* lp = nullptr;
  for (const Layer& x : g.layers)
    if (x.name == c.layer) lp = &x;
  if (!lp) return "no layer under test";
  const Layer& l = *lp;
  auto geo_or = layer_geometry(g, l);
  if (!geo_or.ok()) return "layer_geometry failed: " + geo_or.error().str();
  const LayerGeometry& geo = *geo_or;
  if (!valid_shape(geo, cfg.shape)) return "invalid tile shape " + cfg.str();
  const RegistryKernel* kernel = runtime_registry().find(cfg.kernel);
  if (!kernel || kernel->isa != "c" || kernel->op != geo.kernel_query.op) return "no portable kernel '" + cfg.kernel + "' for this layer";
  const dory_kernel_fn fn = portable_kernel(kernel->name);
  if (!fn.conv) return "kernel '" + cfg.kernel + "' is not in the host runtime's kernel table";
  Target t = with_kernel(base_target, *kernel);
  t.cores = cfg.cores;
  if (geo.kernel(t).kernel != kernel) return "kernel '" + cfg.kernel + "' does not take this layer's types";
  const L1Layout lay = plan_l1_layout(geo, cfg.shape, Buffering::none(), t);

  // L1: the layout's buffers (sizes as the tiler reserves them), with canaries between and around them.
  std::map<std::pair<BufferRole, int>, size_t> l1_off;
  std::vector<std::pair<size_t, size_t>> regions;
  size_t l1_total = kCanaryBytes;
  for (const L1Buffer& buf : lay.buffers) {
    const size_t off = align8(l1_total);
    l1_off[{buf.role, buf.operand}] = off;
    regions.emplace_back(off, static_cast<size_t>(buf.bytes_per_copy));
    l1_total = off + static_cast<size_t>(buf.bytes_per_copy) + kCanaryBytes;
  }

  // L2: the inputs, weights, bias, requantization records and the output.
  size_t l2_total = 0;
  auto place = [&](std::vector<uint8_t> bytes) {
    Blob b;
    b.off = align8(l2_total);
    b.bytes = std::move(bytes);
    l2_total = b.off + std::max<size_t>(b.bytes.size(), 1);
    return b;
  };
  std::vector<Blob> in_blobs;
  for (TensorId tid : l.inputs) in_blobs.push_back(place(pack(ref.values[tid], g.tensor(tid).dtype)));
  Blob w_blob, b_blob;
  if (const auto* cv = l.as<Conv2d>()) {
    w_blob = place(pack(cv->weights, DType::Int8));
    b_blob = place(pack(cv->bias, DType::Int32));
  } else if (const auto* fc = l.as<FullyConnected>()) {
    w_blob = place(pack(fc->weights, DType::Int8));
    b_blob = place(pack(fc->bias, DType::Int32));
  }
  const Requant* lrq = layer_requant(l);
  Blob rq_blob = place(lrq ? requant_records(*lrq, geo.c_out) : std::vector<uint8_t>{});
  const Tensor& yt = g.tensor(l.output);
  const size_t out_bytes = static_cast<size_t>(yt.elements() * dtype_bytes(yt.dtype));
  Blob out_blob = place(std::vector<uint8_t>{});
  l2_total = out_blob.off + out_bytes;

  dory_host_init(static_cast<uint32_t>(l1_total), static_cast<uint32_t>(l2_total), cfg.cores);
  if (cfg.dma_until_wait) dory_host_set_dma_delay_us(DORY_HOST_DMA_UNTIL_WAIT);
  uint8_t* l1 = static_cast<uint8_t*>(dory_l1_base());
  uint8_t* l2 = static_cast<uint8_t*>(dory_l2_base());
  for (const Blob* b : {&w_blob, &b_blob, &rq_blob})
    if (!b->bytes.empty()) std::memcpy(l2 + b->off, b->bytes.data(), b->bytes.size());
  for (const Blob& b : in_blobs) std::memcpy(l2 + b.off, b.bytes.data(), b.bytes.size());
  std::vector<std::pair<size_t, size_t>> gaps;  // [begin, end) of the bytes outside every buffer
  size_t at = 0;
  for (auto [off, n] : regions) {
    gaps.emplace_back(at, off);
    at = off + n;
  }
  gaps.emplace_back(at, l1_total);
  for (auto [b, e] : gaps)
    for (size_t i = b; i < e; ++i) l1[i] = canary(i);

  auto l1p = [&](BufferRole role, int operand = 0) -> uint8_t* {
    auto it = l1_off.find({role, operand});
    return it == l1_off.end() ? nullptr : l1 + it->second;
  };
  // One transfer: the L2 side strided as the pattern says, the L1 side dense (the buffer's first copy).
  auto start_transfer = [&](const TileTransfer& tr) {
    size_t l2_base = 0;
    switch (tr.role) {
      case BufferRole::Input:
        l2_base = in_blobs.at(static_cast<size_t>(tr.operand)).off;
        break;
      case BufferRole::Weights:
        l2_base = w_blob.off;
        break;
      case BufferRole::Bias:
        l2_base = b_blob.off;
        break;
      case BufferRole::RequantParams:
        l2_base = rq_blob.off;
        break;
      case BufferRole::Output:
        l2_base = out_blob.off;
        break;
      default:
        ADD_FAILURE() << "unexpected transfer of " << buffer_role_name(tr.role);
    }
    const DmaPattern& p = tr.pattern;
    uint8_t* l1b = l1p(tr.role, tr.operand);
    uint8_t* l2b = l2 + l2_base + tr.l2_offset_bytes;
    const auto u = [](int64_t v) { return static_cast<uint32_t>(v); };
    const uint32_t dense_row = u(p.row_bytes), dense_plane = u(p.row_bytes * p.rows);
    dory_dma_desc d = tr.direction == DmaDirection::Load
                          ? dory_dma_3d(l1b, dense_row, dense_plane, l2b, u(p.row_stride), u(p.plane_stride),
                                        u(p.row_bytes), u(p.rows), u(p.planes), DORY_DMA_L2_TO_L1)
                          : dory_dma_3d(l2b, u(p.row_stride), u(p.plane_stride), l1b, dense_row, dense_plane,
                                        u(p.row_bytes), u(p.rows), u(p.planes), DORY_DMA_L1_TO_L2);
    return dory_dma_start(&d);
  };
  const TileCounts counts = tile_counts(geo, cfg.shape);
  const uint8_t out_t = to_dory(yt.dtype);
  std::vector<dory_requant_divisor> count_div;  // average pooling
  int32_t count_first = 1;
  if (const auto* ap = l.as<AveragePool>()) {
    const int64_t kk = static_cast<int64_t>(ap->win.kh) * ap->win.kw;
    count_first = (ap->count_include_pad || !ap->win.pad.any()) ? static_cast<int32_t>(kk) : 1;
    for (int64_t cnt = count_first; cnt <= kk; ++cnt)
      count_div.push_back(rq_divisor(ap->requant, static_cast<uint64_t>(cnt)));
  }
  std::vector<dory_divisor> op_div;  // add operands
  if (const auto* ad = l.as<Add>())
    for (const AddOperand& o : ad->operands) {
      dory_divisor d{};
      dory_divisor_make(o.divisor, o.rounding == Rounding::Floor ? DORY_ROUND_FLOOR : DORY_ROUND_TOWARD_ZERO, &d);
      op_div.push_back(d);
    }

  std::string failure;
  for (int64_t i = 0; i < counts.total() && failure.empty(); ++i) {
    const TileIndex ti = tile_index(counts, i);
    const TileExtent e = tile_extent(geo, cfg.shape, ti);
    if (stats) {
      stats->tiles++;
      if (e.pad.any()) stats->padded_tiles++;
      if (e.h_in.size() == 0 || e.w_in.size() == 0) stats->padding_only_tiles++;
      if (counts.c_in > 1) stats->partial_tiles++;
    }
    // The tiler's transfers of this tile (tiler/transfers.h): exactly what the generated code will issue, so
    // the kernels are tested on the buffers as the schedule fills them (an unchanged input, weight slice or
    // channel parameters stay in their single L1 buffer from an earlier tile).
    std::vector<dory_dma_job> jobs;
    for (const TileTransfer& tr : tile_loads(geo, cfg.shape, i)) jobs.push_back(start_transfer(tr));
    for (auto it = jobs.rbegin(); it != jobs.rend(); ++it) dory_dma_wait(*it);

    const dory_tile out_tile{l1p(BufferRole::Output), static_cast<int32_t>(e.h_out.size()),
                             static_cast<int32_t>(e.w_out.size()), static_cast<int32_t>(e.c_out.size()), out_t};
    auto in_tile = [&](int k) {
      return dory_tile{l1p(BufferRole::Input, k), static_cast<int32_t>(e.h_in.size()),
                       static_cast<int32_t>(e.w_in.size()), static_cast<int32_t>(e.c_in.size()),
                       to_dory(g.tensor(l.inputs[static_cast<size_t>(k)]).dtype)};
    };
    const dory_pad pad{e.pad.top, e.pad.left, e.pad.bottom, e.pad.right};
    const void* records = l1p(BufferRole::RequantParams);
    int32_t* psum = reinterpret_cast<int32_t*>(l1p(BufferRole::PartialSums));

    if (const auto* cv = l.as<Conv2d>()) {
      dory_conv_args a{};
      a.in = in_tile(0);
      a.out = out_tile;
      a.pad = pad;
      a.kh = static_cast<int32_t>(geo.kh);
      a.kw = static_cast<int32_t>(geo.kw);
      a.stride_h = static_cast<int32_t>(geo.stride_h);
      a.stride_w = static_cast<int32_t>(geo.stride_w);
      a.weights = reinterpret_cast<const int8_t*>(l1p(BufferRole::Weights));
      a.bias = reinterpret_cast<const int32_t*>(l1p(BufferRole::Bias));
      a.input_zero_point = cv->input_zero_point;
      a.has_requant = cv->requant.has_value();
      if (cv->requant) a.rq = rq_args(*cv->requant, records);
      a.psum = psum;
      a.first = ti.ci == 0;
      a.last = e.last_c_in;
      a.scratch = l1p(BufferRole::Scratch);
      if (const L1Buffer* ib = lay.find(BufferRole::Scratch)) a.scratch_bytes = static_cast<uint32_t>(ib->bytes_per_copy);
      a.split = cfg.split;
      run_on_cluster(fn.conv, a);
    } else if (const auto* fc = l.as<FullyConnected>()) {
      dory_fc_args a{};
      a.in = in_tile(0);
      a.out = out_tile;
      a.weights = reinterpret_cast<const int8_t*>(l1p(BufferRole::Weights));
      a.bias = reinterpret_cast<const int32_t*>(l1p(BufferRole::Bias));
      a.input_zero_point = fc->input_zero_point;
      a.has_requant = fc->requant.has_value();
      if (fc->requant) a.rq = rq_args(*fc->requant, records);
      a.psum = psum;
      a.first = ti.ci == 0;
      a.last = e.last_c_in;
      a.split = cfg.split;
      run_on_cluster(fn.fc, a);
    } else if (const auto* mp = l.as<MaxPool>()) {
      dory_maxpool_args a{};
      a.in = in_tile(0);
      a.out = out_tile;
      a.pad = pad;
      a.kh = mp->win.kh;
      a.kw = mp->win.kw;
      a.stride_h = mp->win.stride_h;
      a.stride_w = mp->win.stride_w;
      a.has_pad_value = mp->pad_value.has_value();
      a.pad_value = mp->pad_value.value_or(0);
      a.split = cfg.split;
      run_on_cluster(fn.maxpool, a);
    } else if (const auto* ap = l.as<AveragePool>()) {
      dory_avgpool_args a{};
      a.in = in_tile(0);
      a.out = out_tile;
      a.pad = pad;
      a.kh = ap->win.kh;
      a.kw = ap->win.kw;
      a.stride_h = ap->win.stride_h;
      a.stride_w = ap->win.stride_w;
      a.input_zero_point = ap->input_zero_point;
      a.pad_value = ap->pad_value;
      a.count_include_pad = ap->count_include_pad;
      a.rq = rq_args(ap->requant, records);
      a.count_div = count_div.data();
      a.count_div_first = count_first;
      a.count_div_len = static_cast<int32_t>(count_div.size());
      a.split = cfg.split;
      run_on_cluster(fn.avgpool, a);
    } else if (const auto* ad = l.as<Add>()) {
      dory_add_args a{};
      a.n_operands = static_cast<int32_t>(ad->operands.size());
      for (size_t k = 0; k < ad->operands.size(); ++k) {
        a.op[k].in = in_tile(static_cast<int>(k));
        a.op[k].zero_point = ad->operands[k].zero_point;
        a.op[k].mul = ad->operands[k].mul;
        a.op[k].add = ad->operands[k].add;
        a.op[k].div = op_div[k];
      }
      a.rq = rq_args(ad->requant, nullptr);
      a.out = out_tile;
      a.split = cfg.split;
      run_on_cluster(fn.add, a);
    } else if (const auto* rz = l.as<Requantize>()) {
      dory_requantize_args a{};
      a.in = in_tile(0);
      a.out = out_tile;
      a.input_zero_point = rz->input_zero_point;
      a.rq = rq_args(rz->requant, records);
      a.split = cfg.split;
      run_on_cluster(fn.requantize, a);
    }

    for (auto [gb, ge] : gaps)
      for (size_t k = gb; k < ge && failure.empty(); ++k)
        if (l1[k] != canary(k))
          failure = fmt::format("tile {} (co {} h {} w {} ci {}): the kernel wrote outside its L1 buffers, at L1+{}", i,
                                ti.co, ti.h, ti.w, ti.ci, k);
    if (!failure.empty() || !e.last_c_in) continue;
    for (const TileTransfer& tr : tile_stores(geo, cfg.shape, i)) dory_dma_wait(start_transfer(tr));
  }
  std::vector<int32_t> got(static_cast<size_t>(yt.elements()));
  for (size_t k = 0; k < got.size(); ++k) got[k] = unpack(l2 + out_blob.off, yt.dtype, k);
  dory_host_shutdown();
  if (!failure.empty()) return failure;

  const std::vector<int32_t>& want = ref.values[l.output];
  int64_t mismatches = 0, first = -1;
  for (size_t k = 0; k < want.size(); ++k)
    if (got[k] != want[k]) {
      if (first < 0) first = static_cast<int64_t>(k);
      ++mismatches;
    }
  if (mismatches == 0) return "";
  const int64_t ch = first % geo.c_out, px = first / geo.c_out, oh = px / geo.w_out, ow = px % geo.w_out;
  return fmt::format(
      "{} of {} outputs differ; first at (h {}, w {}, c {}) in tile (co {}, h {}, w {}): expected {}, "
      "got {}",
      mismatches, want.size(), oh, ow, ch, ch / cfg.shape.c_out, oh / cfg.shape.h_out, ow / cfg.shape.w_out,
      want[static_cast<size_t>(first)], got[static_cast<size_t>(first)]);
}

}  // namespace dory::ktest
