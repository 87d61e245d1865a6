// Small helpers for building IR graphs by hand in unit tests (header-only; not a test file itself).
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "ir/graph.h"
#include "ir/layout.h"
#include "reference/executor.h"

namespace dory::test {

// A tensor stored as the kernels store it: rank-4 feature maps HWC, everything else row-major. Its type is not
// declared (analyze_ranges derives it) unless `declared` is set.
inline Tensor make_tensor(std::string name, std::vector<int64_t> shape, DType dt = DType::UInt8, int32_t zp = 0,
                          bool declared = false) {
  Tensor t;
  t.name = std::move(name);
  t.shape = std::move(shape);
  t.dtype = dt;
  t.dtype_declared = declared;
  t.zero_point = zp;
  t.range = dtype_range(dt);
  t.layout = t.shape.size() == 4 ? Layout::HWC : Layout::RowMajor;
  return t;
}

inline Requant requant(std::vector<int64_t> mul, std::vector<int64_t> add, uint64_t divisor, int32_t zp = 0,
                       int32_t lo = INT32_MIN, int32_t hi = INT32_MAX, Rounding r = Rounding::Floor) {
  Requant rq;
  rq.mul = std::move(mul);
  rq.add = std::move(add);
  rq.divisor = divisor;
  rq.zero_point = zp;
  rq.lo = lo;
  rq.hi = hi;
  rq.rounding = r;
  return rq;
}

inline Window window(int32_t kh, int32_t kw, int32_t sh = 1, int32_t sw = 1, Padding pad = {}) {
  Window w;
  w.kh = kh;
  w.kw = kw;
  w.stride_h = sh;
  w.stride_w = sw;
  w.pad = pad;
  return w;
}

struct GraphBuilder {
  Graph g;

  TensorId input(std::string name, std::vector<int64_t> shape, DType dt = DType::UInt8, int32_t zp = 0) {
    TensorId id = g.add_tensor(make_tensor(std::move(name), std::move(shape), dt, zp));
    g.inputs.push_back(id);
    return id;
  }
  TensorId tensor(std::string name, std::vector<int64_t> shape, DType dt = DType::UInt8, int32_t zp = 0) {
    return g.add_tensor(make_tensor(std::move(name), std::move(shape), dt, zp));
  }
  // A [1, C*H*W] view of the HWC map `src` (Flatten): storage order stays HWC.
  TensorId flatten(std::string name, TensorId src) {
    const Tensor& s = g.tensor(src);
    Tensor t = make_tensor(std::move(name), {1, s.channels() * s.height() * s.width()}, s.dtype, s.zero_point);
    t.layout = Layout::FlattenedHWC;
    t.hwc_source = {s.channels(), s.height(), s.width()};
    TensorId id = g.add_tensor(std::move(t));
    layer("flatten_" + g.tensor(src).name, View{}, {src}, id);
    return id;
  }
  // Returns the layer's index at the time of insertion.
  int layer(std::string name, LayerOp op, std::vector<TensorId> inputs, TensorId output) {
    Layer l;
    l.name = std::move(name);
    l.op = std::move(op);
    l.inputs = std::move(inputs);
    l.output = output;
    g.layers.push_back(std::move(l));
    return static_cast<int>(g.layers.size()) - 1;
  }
  void output(TensorId t) { g.outputs.push_back(t); }
  const Layer& named(const std::string& name) const {
    for (const Layer& l : g.layers)
      if (l.name == name) return l;
    ADD_FAILURE() << "no layer named " << name;
    return g.layers.front();
  }
};

inline Conv2d conv(Window w, std::vector<int32_t> weights, std::vector<int32_t> bias, int32_t zp = 0,
                   std::optional<Requant> rq = std::nullopt, int32_t groups = 1) {
  Conv2d c;
  c.win = w;
  c.groups = groups;
  c.weights = std::move(weights);
  c.bias = std::move(bias);
  c.input_zero_point = zp;
  c.requant = std::move(rq);
  return c;
}

// gtest-friendly check of a failed Status/Expected: the code, and substrings the location/message must name.
template <class E>
::testing::AssertionResult fails_with(const E& result, const std::string& code,
                                      const std::vector<std::string>& mentions = {}) {
  if (result.ok()) return ::testing::AssertionFailure() << "succeeded; expected error " << code;
  const Diagnostic& d = result.error();
  if (d.code != code) return ::testing::AssertionFailure() << "error " << d.str() << "; expected code " << code;
  for (const std::string& m : mentions)
    if (d.str().find(m) == std::string::npos)
      return ::testing::AssertionFailure() << "error '" << d.str() << "' does not mention '" << m << "'";
  return ::testing::AssertionSuccess();
}

inline std::string describe(const Status& s) { return s.ok() ? "ok" : s.error().str(); }

// Runs the reference on inputs given in ONNX order; returns every tensor's value in ONNX order.
inline Expected<std::vector<std::vector<int32_t>>> run_onnx_order(const Graph& g,
                                                                   const std::vector<std::vector<int32_t>>& inputs) {
  auto r = run_reference(g, inputs);
  if (!r.ok()) return r.error();
  std::vector<std::vector<int32_t>> out(g.tensors.size());
  for (size_t t = 0; t < g.tensors.size(); ++t)
    if (!r->values[t].empty()) out[t] = to_onnx_order(g.tensors[t], r->values[t]);
  return out;
}

}  // namespace dory::test
