#include "onnx/frontend.h"

#include <fmt/format.h>

#include "onnx/dialects.h"

namespace dory {

const char* dialect_name(Dialect d) {
  switch (d) {
    case Dialect::Auto: return "auto";
    case Dialect::IntegerDeployable: return "integer-deployable";
    case Dialect::Qdq: return "qdq";
    case Dialect::QOperator: return "qoperator";
  }
  return "?";
}

namespace {

Dialect detect(const onnxfe::OnnxModel& m) {
  bool qdq = false;
  for (const onnxfe::Node& n : m.nodes) {
    if (n.op_type == "QLinearConv" || n.op_type == "QLinearMatMul" || n.op_type == "ConvInteger" ||
        n.op_type == "MatMulInteger")
      return Dialect::QOperator;
    qdq |= n.op_type == "QuantizeLinear" || n.op_type == "DequantizeLinear";
  }
  return qdq ? Dialect::Qdq : Dialect::IntegerDeployable;
}

Expected<Graph> import_model(const onnxfe::OnnxModel& m, const ImportOptions& options) {
  Dialect d = options.dialect == Dialect::Auto ? detect(m) : options.dialect;
  Expected<Graph> g = d == Dialect::QOperator ? onnxfe::import_qoperator(m, options)
                      : d == Dialect::Qdq     ? onnxfe::import_qdq(m, options)
                                              : onnxfe::import_integer_deployable(m, options);
  if (!g.ok()) return g;
  g->dialect = dialect_name(d);
  if (g->input_quant.size() < g->inputs.size()) g->input_quant.resize(g->inputs.size());
  if (g->output_dequant.size() < g->outputs.size()) g->output_dequant.resize(g->outputs.size());
  DORY_TRY_STATUS(check_graph(g.value()));
  return g;
}

}  // namespace

Expected<Graph> import_onnx(const std::string& path, const ImportOptions& options) {
  DORY_TRY(onnxfe::OnnxModel m, onnxfe::load_onnx_model(path));
  return import_model(m, options);
}

Expected<Graph> import_onnx_bytes(const std::string& bytes, const std::string& origin, const ImportOptions& options) {
  DORY_TRY(onnxfe::OnnxModel m, onnxfe::load_onnx_model_bytes(bytes, origin));
  return import_model(m, options);
}

}  // namespace dory
