// libFuzzer target: arbitrary bytes as an ONNX model. The loader, constant folding, the three importers, the
// IR checks and (for small graphs) the reference executor must never crash, hang, leak or hit UB: bad input is
// a Diagnostic. An internal error (DORY_CHECK) exits, which libFuzzer reports as a finding too.
#include <cstddef>
#include <cstdint>
#include <string>

#include "onnx/frontend.h"
#include "reference/executor.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  dory::Expected<dory::Graph> g = dory::import_onnx_bytes(bytes, "fuzz-input");
  if (!g.ok()) {
    (void)g.error().str();
    return 0;
  }
  int64_t macs = 0, elements = 0;
  for (const dory::Layer& l : g->layers) macs += dory::layer_macs(*g, l);
  for (const dory::Tensor& t : g->tensors) elements += t.elements();
  if (macs > 20'000'000 || elements > 4'000'000) return 0;  // keep each run fast
  std::vector<std::vector<int32_t>> inputs;
  for (dory::TensorId id : g->inputs) {
    const dory::Tensor& t = g->tensor(id);
    inputs.emplace_back(static_cast<size_t>(t.elements()), static_cast<int32_t>(t.range.hi));
  }
  (void)dory::run_reference(*g, inputs);
  return 0;
}
