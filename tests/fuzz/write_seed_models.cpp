// Writes the exporters' pattern models (tests/util/exporter_models.h) into a directory, as seeds of the ONNX
// loader fuzzer (scripts/fuzz.sh): its mutations then start from what onnxruntime, PyTorch and Brevitas write
// (requantized Pads, QOperator Pads, padding as large as the kernel, QCDQ Clips).
//   write_seed_models DIR
#include <cstdio>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "../util/exporter_models.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: write_seed_models DIR\n");
    return 2;
  }
  using namespace dory::testing;
  const std::vector<std::pair<std::string, std::string>> models = {
      {"ort_qdq_dscnn", ort_qdq_dscnn()},          {"ort_qdq_dscnn_rescaled_pad", ort_qdq_dscnn(true)},
      {"ort_qoperator_dscnn", ort_qoperator_dscnn()}, {"torch_big_padding_qdq", torch_big_padding_qdq()},
      {"big_padding_integer", big_padding_integer()}, {"brevitas_qcdq", brevitas_qcdq()}};
  for (const auto& [name, bytes] : models) {
    const std::string path = std::string(argv[1]) + "/" + name + ".onnx";
    std::ofstream f(path, std::ios::binary);
    f << bytes;
    if (!f) {
      std::fprintf(stderr, "write_seed_models: cannot write %s\n", path.c_str());
      return 1;
    }
  }
  return 0;
}
