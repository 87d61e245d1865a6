// The kernels compute exactly what the reference executor computes, for every element, on random layers of every
// kind run tile by tile over random tilings (border tiles with asymmetric padding, input channels tiled into
// int32 partial sums), on 1 and on 8 cores, with every activation type.
//
// Each case is a random layer (kernels 1-7 incl. non-square, strides 1-3, asymmetric padding, channels 1-300
// incl. primes, spatial 1-32, uint8/int8/uint16/int16/int32 inputs and outputs, per-channel and per-tensor
// requantization on the 32- and 64-bit paths, floor and truncation, power-of-two and other divisors), run twice
// (1 core, then 8 cores) with a random tile shape, work split, im2col pixel block and DMA completion mode each.
// The seed is printed; a failure names its case, and DORY_TEST_SEED=<seed> DORY_TEST_CASE=<case> replays it.
// DORY_TEST_SCALE scales the case counts (CI's sanitizer jobs use a fraction).
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <map>
#include <set>

#include "kernels/kernel_harness.h"
#include "tiler/geometry.h"

namespace dory::ktest {
namespace {

const Target& gap8() {
  static const Target t = [] {
    auto r = find_target("gap8");
    if (!r.ok()) {
      ADD_FAILURE() << r.error().str();
      return Target{};
    }
    return *r;
  }();
  return t;
}

// The case being run, printed if a kernel panics (dory_panic aborts the process).
std::string current_case;

void on_abort(int) {
  if (!current_case.empty()) std::fprintf(stderr, "\n[ kernels  ] aborted while running %s\n", current_case.c_str());
  std::signal(SIGABRT, SIG_DFL);
  std::raise(SIGABRT);
}

struct Summary {
  int cases = 0, runs = 0;
  std::map<std::string, int> kernels;   // runs per registry kernel
  RunStats stats;
  std::map<std::string, int> features;  // how many cases had each feature
  int64_t outputs = 0, saturated = 0;   // reference outputs, and those equal to a clamp bound
};

// What a case exercises, for the coverage line and its checks.
std::set<std::string> case_features(const LayerCase& c, const Layer& l) {
  std::set<std::string> f;
  for (TensorId t : l.inputs) f.insert(std::string("in:") + dtype_name(c.g.tensor(t).dtype));
  f.insert(std::string("out:") + dtype_name(c.g.tensor(l.output).dtype));
  const Requant* rq = nullptr;
  const Window* w = nullptr;
  int32_t zp = 0;
  if (const auto* x = l.as<Conv2d>()) {
    rq = x->requant ? &*x->requant : nullptr;
    w = &x->win;
    zp = x->input_zero_point;
    if (!x->requant) f.insert("raw-int32");
  } else if (const auto* x = l.as<FullyConnected>()) {
    rq = x->requant ? &*x->requant : nullptr;
    zp = x->input_zero_point;
    if (!x->requant) f.insert("raw-int32");
  } else if (const auto* x = l.as<MaxPool>()) {
    w = &x->win;
    if (x->pad_value && x->win.pad.any()) f.insert("pad-value");
  } else if (const auto* x = l.as<AveragePool>()) {
    rq = &x->requant;
    w = &x->win;
    zp = x->input_zero_point;
    f.insert(x->global ? "global" : (x->count_include_pad ? "count-include-pad" : "in-bounds-count"));
  } else if (const auto* x = l.as<Add>()) {
    rq = &x->requant;
    f.insert(fmt::format("operands:{}", x->operands.size()));
  } else if (const auto* x = l.as<Requantize>()) {
    rq = &x->requant;
    zp = x->input_zero_point;
  }
  if (zp != 0) f.insert("input-zp");
  if (rq) {
    f.insert(rq->wide ? "rq-64bit" : "rq-32bit");
    if (rq->mul.size() > 1 || rq->add.size() > 1) f.insert("rq-per-channel");
    if (rq->rounding == Rounding::TowardZero) f.insert("rq-trunc");
    if (rq->divisor & (rq->divisor - 1)) f.insert("rq-divisor-not-pow2");
  }
  if (w) {
    if (w->kh != w->kw) f.insert("non-square");
    if (w->stride_h > 1 || w->stride_w > 1) f.insert("stride>1");
    if (w->pad.top != w->pad.bottom || w->pad.left != w->pad.right) f.insert("asymmetric-pad");
    if (w->pad.top >= w->kh || w->pad.bottom >= w->kh || w->pad.left >= w->kw || w->pad.right >= w->kw)
      f.insert("pad>=kernel");
  }
  return f;
}

// The registry op a family of the harness tests.
const char* op_of(Family f) {
  switch (f) {
    case Family::Conv: return "conv";
    case Family::Pointwise: return "pointwise";
    case Family::Depthwise: return "depthwise";
    case Family::Fc: return "fc";
    case Family::MaxPool: return "maxpool";
    case Family::AvgPool: return "avgpool";
    case Family::Add: return "add";
    case Family::Requantize: return "requantize";
  }
  return "?";
}

void run_family(Family f, int n_cases) {
  const uint64_t seed = base_seed();
  const auto only = only_case();
  n_cases = scaled_cases(n_cases);
  std::printf("[ kernels  ] %s: %d cases x {1, 8} cores, seed %llu (replay: DORY_TEST_SEED=%llu DORY_TEST_CASE=<n>)\n",
              family_name(f), n_cases, static_cast<unsigned long long>(seed), static_cast<unsigned long long>(seed));
  std::signal(SIGABRT, on_abort);
  const auto t0 = std::chrono::steady_clock::now();
  Summary sum;
  int failures = 0;
  for (int i = 0; i < n_cases && failures < 5; ++i) {
    if (only && *only != i) continue;
    Rng r(splitmix64(seed ^ (static_cast<uint64_t>(f) << 48) ^ static_cast<uint64_t>(i)));
    LayerCase c = random_case(f, r);
    if (c.g.layers.empty()) return;
    auto ref = run_reference(c.g, c.inputs);
    ASSERT_TRUE(ref.ok()) << ref.error().str();
    const Layer* l = nullptr;
    for (const Layer& x : c.g.layers)
      if (x.name == c.layer) l = &x;
    auto geo = layer_geometry(c.g, *l);
    ASSERT_TRUE(geo.ok()) << geo.error().str() << "\n  case: " << c.desc;
    ++sum.cases;
    for (const std::string& s : case_features(c, *l)) sum.features[s]++;
    {  // how many outputs sit at the clamp bounds (a test whose outputs all saturate proves little)
      const Requant* rq = nullptr;
      if (const auto* x = l->as<Conv2d>()) rq = x->requant ? &*x->requant : nullptr;
      if (const auto* x = l->as<FullyConnected>()) rq = x->requant ? &*x->requant : nullptr;
      if (const auto* x = l->as<AveragePool>()) rq = &x->requant;
      if (const auto* x = l->as<Add>()) rq = &x->requant;
      if (const auto* x = l->as<Requantize>()) rq = &x->requant;
      for (int32_t v : ref->values[l->output]) {
        ++sum.outputs;
        if (rq && (v == rq->lo || v == rq->hi)) ++sum.saturated;
      }
    }
    current_case = fmt::format("{} case {} ({})\n  replay: DORY_TEST_SEED={} DORY_TEST_CASE={}", family_name(f), i,
                               c.desc, seed, i);
    for (int cores : {1, 8}) {
      const RunConfig cfg = random_config(r, *geo, cores);
      const std::string err = run_tiled(c, *ref, gap8(), cfg, &sum.stats);
      ++sum.runs;
      ++sum.kernels[cfg.kernel];
      if (!err.empty()) {
        ++failures;
        ADD_FAILURE() << family_name(f) << " case " << i << ": " << err << "\n  layer: " << c.desc
                      << "\n  run: " << cfg.str() << "\n  replay: DORY_TEST_SEED=" << seed << " DORY_TEST_CASE=" << i;
      }
    }
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("[ kernels  ] %s: %d cases, %d runs, %lld tiles (%lld with padding, %lld of padding only, %lld into "
              "partial sums), %.2f s\n",
              family_name(f), sum.cases, sum.runs, static_cast<long long>(sum.stats.tiles),
              static_cast<long long>(sum.stats.padded_tiles), static_cast<long long>(sum.stats.padding_only_tiles),
              static_cast<long long>(sum.stats.partial_tiles), secs);
  std::string cov;
  for (const auto& [k, n] : sum.features) cov += fmt::format(" {}={}", k, n);
  std::printf("[ kernels  ] %s coverage:%s; outputs at a clamp bound: %.1f %%\n", family_name(f), cov.c_str(),
              sum.outputs ? 100.0 * static_cast<double>(sum.saturated) / static_cast<double>(sum.outputs) : 0.0);
  std::string ks;
  for (const auto& [k, n] : sum.kernels) ks += fmt::format(" {}={}", k, n);
  std::printf("[ kernels  ] %s runs per kernel:%s\n", family_name(f), ks.c_str());
  current_case.clear();
  // At full scale every family sees every activation type as input, and both requantization paths.
  if (only || scaled_cases(1000) < 1000) return;
  for (const char* t : {"in:uint8", "in:int8", "in:uint16", "in:int16", "in:int32"})
    EXPECT_GT(sum.features[t], 0) << family_name(f) << " never ran with " << t;
  if (f != Family::MaxPool) {
    EXPECT_GT(sum.features["rq-32bit"], 0) << family_name(f);
    EXPECT_GT(sum.features["rq-64bit"], 0) << family_name(f);
  }
  // Every portable kernel the registry has for this family ran, often enough to mean something.
  for (const RegistryKernel& k : runtime_registry().kernels) {
    if (k.isa == "c" && kernel_op_name(k.op) == std::string(op_of(f))) {
      EXPECT_GE(sum.kernels[k.name], 20) << k.name << " is registered but barely tested";
    }
  }
  // The windowed families with padding see padding as large as the kernel, and tiles made of padding only.
  if (f == Family::Conv || f == Family::Depthwise || f == Family::MaxPool || f == Family::AvgPool) {
    EXPECT_GT(sum.features["pad>=kernel"], 0) << family_name(f);
    EXPECT_GT(sum.stats.padding_only_tiles, 0) << family_name(f) << " never ran a tile of padding only";
  }
}

TEST(KernelDiff, ConvMatchesTheReference) { run_family(Family::Conv, 500); }
TEST(KernelDiff, PointwiseMatchesTheReference) { run_family(Family::Pointwise, 250); }
TEST(KernelDiff, DepthwiseMatchesTheReference) { run_family(Family::Depthwise, 300); }
TEST(KernelDiff, FullyConnectedMatchesTheReference) { run_family(Family::Fc, 250); }
TEST(KernelDiff, MaxPoolMatchesTheReference) { run_family(Family::MaxPool, 250); }
TEST(KernelDiff, AveragePoolMatchesTheReference) { run_family(Family::AvgPool, 300); }
TEST(KernelDiff, ResidualAddMatchesTheReference) { run_family(Family::Add, 250); }
TEST(KernelDiff, RequantizeMatchesTheReference) { run_family(Family::Requantize, 200); }

// The harness itself must be able to fail: a kernel given the wrong zero point is caught.
TEST(KernelDiff, TheHarnessDetectsAWrongResult) {
  Rng r(7);
  LayerCase c;
  do c = random_case(Family::Conv, r);
  while (std::get<Conv2d>(c.g.layers.back().op).input_zero_point != 0 ||
         c.g.tensor(c.g.layers.back().output).elements() < 4);
  auto ref = run_reference(c.g, c.inputs);
  ASSERT_TRUE(ref.ok());
  // Corrupt the reference's answer for one element: run_tiled must report exactly that element.
  ReferenceResult bad = *ref;
  bad.values[c.g.layers.back().output][3] ^= 1;
  auto geo = layer_geometry(c.g, c.g.layers.back());
  ASSERT_TRUE(geo.ok());
  RunConfig cfg = random_config(r, *geo, 8);
  const std::string err = run_tiled(c, bad, gap8(), cfg, nullptr);
  EXPECT_NE(err.find("1 of "), std::string::npos) << err;
}

}  // namespace
}  // namespace dory::ktest
