// The three dialect importers behind import_onnx() (onnx/frontend.h). Each takes a loaded OnnxModel and returns
// a Graph that has NOT yet been through check_graph() (import_onnx runs it). Each lives in its own file:
//   integer_deployable.cpp  float tensors holding integers (NEMO, QuantLab, DORY's examples, dory's own export)
//   qdq.cpp                 QuantizeLinear/DequantizeLinear around float ops (torch.onnx.export, onnxruntime)
//   qoperator.cpp           QLinearConv, QLinearMatMul, ConvInteger, MatMulInteger (+ Q/DQ at the edges)
#pragma once

#include "onnx/frontend.h"
#include "onnx/onnx_model.h"

namespace dory::onnxfe {

Expected<Graph> import_integer_deployable(const OnnxModel& model, const ImportOptions& options);
Expected<Graph> import_qdq(const OnnxModel& model, const ImportOptions& options);
Expected<Graph> import_qoperator(const OnnxModel& model, const ImportOptions& options);

}  // namespace dory::onnxfe
