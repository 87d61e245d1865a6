// The reference executor: runs an IR Graph on integer inputs and returns the value of every tensor.
//
// This is the oracle every other part of dory is tested against. It implements the semantics stated in
// ir/layers.h with plain loops and no tiling; requantization goes through runtime/include/dory/requant.h, the
// very functions the generated kernels call (the 32-bit variant where the range analysis marked it safe, the
// 64-bit one elsewhere; both agree wherever the 32-bit one is allowed). Values are held as int32 in each
// tensor's storage order (HWC for feature maps); inputs and dumps use ONNX order (see ir/layout.h).
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "ir/graph.h"

namespace dory {

struct ReferenceResult {
  std::vector<std::vector<int32_t>> values;  // per TensorId, in storage order
};

// `inputs[i]` holds graph input i in ONNX order. Values outside the input's dtype are an error.
Expected<ReferenceResult> run_reference(const Graph& g, const std::vector<std::vector<int32_t>>& inputs);

// A reusable executor for many runs of the same graph (benchmarks, accuracy evaluation): same results.
// Weights are narrowed and divisors precomputed once, at construction. `g` must outlive the executor.
class ReferenceExecutor {
 public:
  explicit ReferenceExecutor(const Graph& g);
  ~ReferenceExecutor();
  ReferenceExecutor(const ReferenceExecutor&) = delete;
  ReferenceExecutor& operator=(const ReferenceExecutor&) = delete;
  Expected<ReferenceResult> run(const std::vector<std::vector<int32_t>>& inputs);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace dory
