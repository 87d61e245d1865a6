// ONNX -> IR: the entry point of all three frontends.
//
// import_onnx() parses the file (malformed or truncated files are diagnosed, never crash), folds constants
// (Constant, Cast, ConstantOfShape, Identity, Shape/Gather/Unsqueeze/Concat chains, all-zero Pad, arithmetic on
// constants), detects the dialect and hands the folded model to its importer:
//   - QOperator           if any QLinearConv, QLinearMatMul, ConvInteger or MatMulInteger is present;
//   - QDQ                 else if any QuantizeLinear/DequantizeLinear is present;
//   - integer-deployable  otherwise (float tensors holding integers: NEMO, QuantLab, DORY's own examples).
// The result has passed check_graph(): topologically sorted, shapes consistent, value ranges proven.
#pragma once

#include <optional>
#include <string>

#include "ir/graph.h"

namespace dory {

enum class Dialect { Auto, IntegerDeployable, Qdq, QOperator };
const char* dialect_name(Dialect d);

struct ImportOptions {
  Dialect dialect = Dialect::Auto;
  // Integer-deployable graphs carry float inputs that hold integers; this is their integer type.
  DType input_dtype = DType::UInt8;
  // Weights with a non-zero zero point (asymmetric, e.g. uint8 with zp 128) are rejected by default: dory
  // deploys symmetric int8 weights. With this set, the importers fold w - zp into the IR's int32 weights, which
  // the reference executor evaluates exactly (ONNX's own QLinear test data need it); deployment still requires
  // the folded weights to fit int8.
  bool allow_asymmetric_weights = false;
};

Expected<Graph> import_onnx(const std::string& path, const ImportOptions& options = {});
Expected<Graph> import_onnx_bytes(const std::string& bytes, const std::string& origin,
                                  const ImportOptions& options = {});

}  // namespace dory
