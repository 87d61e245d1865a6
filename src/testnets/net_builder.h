// NetBuilder: writes integer-deployable ONNX networks (the dialect of NEMO, DORY's examples and dory's
// Fashion-MNIST export) with synthetic, deterministic parameters, for benchmarks and tests.
//
// Every value is a float32 ONNX tensor holding integers. Activations are uint8 with zero point 0; the graph
// input is [1, C, H, W] (float, uint8 values). Each layer is spelled out as the frontend expects it:
//   conv / fc  Conv(W, B) or Gemm(transB=1) -> Mul(m[c]) -> Add(2^(d-1)) -> Div(2^d) -> Floor -> Clip(0, 255)
//              (per-output-channel m, one d per layer: y = clamp(floor((acc*m + 2^(d-1)) / 2^d), 0, 255)),
//              or, for a final classifier, the raw int32 accumulator (no requantization).
//   residual   Mul(x1, m1), Mul(x2, m2) -> Add -> Add(2^(d-1)) -> Div(2^d) -> Floor -> Clip(0, 255)
//   pooling    MaxPool; GlobalAveragePool -> Floor
//   flatten    Flatten(axis 1)
// Padding is symmetric k/2 ONNX pads (so a stride-2 layer on an even map has effective asymmetric padding).
//
// Parameters (random, from one seeded generator, bit-for-bit the same on every platform): weights int8 from a
// triangular distribution on [-126, 126]; per output channel, m and the bias are chosen so that the output of a
// layer fed with inputs of the tracked mean and variance has mean ~64 and standard deviation ~40 (plausible,
// mostly unsaturated uint8 activations), with d chosen so the largest m has 16 bits. A residual add scales both
// operands by ~0.6. These are not trained networks: their values mean nothing, their shapes and integer
// patterns are real.
#pragma once

#include <onnx/onnx_pb.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace dory::testnets {

// SplitMix64: a tiny generator whose output is defined by its arithmetic alone (std distributions are not
// portable across standard libraries, so none are used).
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t next();
  // Uniform integer in [lo, hi] (inclusive; the tiny modulo bias is irrelevant here).
  int64_t uniform(int64_t lo, int64_t hi);

 private:
  uint64_t state_;
};

class NetBuilder {
 public:
  struct Shape {
    int64_t c = 1, h = 1, w = 1;  // h = w = 1 for flat values
    bool flat = false;            // a [1, c] value (after Flatten or Gemm), else [1, c, h, w]
  };

  NetBuilder(std::string graph_name, uint64_t seed);

  // The graph input [1, c, h, w] (float, uint8 values). Returns the value name.
  std::string input(const std::string& name, int64_t c, int64_t h, int64_t w);
  // k x k convolution, pads k/2, requantized to uint8. depthwise: groups = channels (c_out = c_in).
  std::string conv(const std::string& x, const std::string& name, int64_t c_out, int k, int stride,
                   bool depthwise = false);
  std::string depthwise(const std::string& x, const std::string& name, int k, int stride) {
    return conv(x, name, shape(x).c, k, stride, true);
  }
  std::string maxpool(const std::string& x, const std::string& name, int k, int stride);
  std::string global_avgpool(const std::string& x, const std::string& name);
  std::string flatten(const std::string& x, const std::string& name);
  // Fully connected on a flat [1, K] value. requantize = false: the output is the raw int32 accumulator.
  std::string fc(const std::string& x, const std::string& name, int64_t n, bool requantize);
  // y = requant(x1*m1 + x2*m2): both inputs must have the same shape.
  std::string residual_add(const std::string& x1, const std::string& x2, const std::string& name);

  // Declares `value` the graph output and returns the serialized model.
  std::string finish(const std::string& value);

  const Shape& shape(const std::string& value) const { return shapes_.at(value); }
  int64_t weight_bytes() const { return weight_bytes_; }  // int8 weights of all layers (no bias, no requant)
  int64_t macs() const { return macs_; }

 private:
  struct Stats {
    double mean = 64, var = 1600;  // of the values of an activation (estimates, for choosing requant params)
  };
  std::string requantize(const std::string& acc, const std::string& name, const std::vector<double>& acc_std,
                         bool flat);
  std::string init(const std::string& name, const std::vector<int64_t>& dims, const std::vector<float>& values);
  std::string scalar(const std::string& name, double value);
  onnx::NodeProto& node(const std::string& op, std::vector<std::string> inputs, const std::string& output,
                        const std::string& name);

  onnx::ModelProto model_;
  Rng rng_;
  std::map<std::string, Shape> shapes_;
  std::map<std::string, Stats> stats_;
  int64_t weight_bytes_ = 0;
  int64_t macs_ = 0;
};

}  // namespace dory::testnets
