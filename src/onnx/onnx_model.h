// OnnxModel: a parsed, validated ONNX graph, the common input of the three dialect importers.
//
// load_onnx_model() parses the protobuf (truncated or malformed files are diagnosed, never crash), checks the
// structure (every node input is defined, names are unique producers, tensors have as many values as their
// shape says, no external data), converts every initializer and Constant node into a ConstTensor, and orders
// the nodes topologically (ONNX requires it; real exports do not always comply).
//
// Constant evaluation (eval_constant_node) folds a node whose inputs are all constants — Constant, Identity,
// Cast, ConstantOfShape, Shape (of a tensor with known shape), Gather, Unsqueeze, Squeeze, Concat, Reshape,
// Flatten, Transpose, Slice, Mul, Add, Sub, Div, Floor, Neg, Relu, Clip, Pad — exactly (int64 for integer types,
// double for floats, with float32 rounding where ONNX computes in float32). Importers call it as they walk the
// graph, so Shape/Gather/Unsqueeze/Concat chains around a Reshape fold with the shapes dory itself computed.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "util/diagnostic.h"

namespace onnx {
class NodeProto;
class AttributeProto;
}  // namespace onnx

namespace dory::onnxfe {

// ONNX TensorProto data types used here.
enum ElemType : int32_t {
  kUndefined = 0, kFloat = 1, kUInt8 = 2, kInt8 = 3, kUInt16 = 4, kInt16 = 5, kInt32 = 6, kInt64 = 7,
  kString = 8, kBool = 9, kFloat16 = 10, kDouble = 11, kUInt32 = 12, kUInt64 = 13,
};
const char* elem_type_name(int32_t t);
bool is_integer_type(int32_t t);

// A constant tensor. Values are held as double (exact for float32/float64 and integers up to 2^53) and, when
// every value is an integer, also as int64 (exact for all integer types).
struct ConstTensor {
  int32_t elem_type = kFloat;
  std::vector<int64_t> shape;
  std::vector<double> f;
  std::vector<int64_t> i;  // filled iff all values are integers
  bool integral = true;

  int64_t size() const { return static_cast<int64_t>(f.size()); }
  bool is_scalar() const { return f.size() == 1; }
  static ConstTensor from_ints(int32_t type, std::vector<int64_t> shape, std::vector<int64_t> values);
  static ConstTensor from_doubles(int32_t type, std::vector<int64_t> shape, std::vector<double> values);
};

struct Attribute {
  std::string name;
  int32_t type = 0;  // onnx::AttributeProto type
  int64_t i = 0;
  double f = 0;
  std::string s;
  std::vector<int64_t> ints;
  std::vector<double> floats;
  std::optional<ConstTensor> t;
};

struct Node {
  int index = 0;  // position in the file
  std::string name;
  std::string op_type;
  std::string domain;
  std::vector<std::string> inputs;  // "" for an omitted optional input
  std::vector<std::string> outputs;
  std::vector<Attribute> attributes;

  const Attribute* attr(const std::string& n) const;
  std::optional<int64_t> attr_int(const std::string& n) const;
  std::optional<double> attr_float(const std::string& n) const;
  std::optional<std::string> attr_string(const std::string& n) const;
  std::optional<std::vector<int64_t>> attr_ints(const std::string& n) const;
  // "node 'conv1' (Conv)", or "node #5 (Conv)" when unnamed: for diagnostics.
  std::string label() const;
};

struct ValueInfo {
  std::string name;
  int32_t elem_type = kUndefined;
  std::vector<int64_t> shape;  // -1 for a symbolic or unknown dimension
  bool has_shape = false;
};

struct OnnxModel {
  std::string origin;  // file path, for messages
  int64_t opset = 0;   // default-domain opset
  std::string producer;
  std::vector<Node> nodes;  // topologically ordered
  std::map<std::string, ConstTensor> constants;  // initializers and Constant node outputs
  std::vector<ValueInfo> inputs;                 // graph inputs that are not initializers
  std::vector<ValueInfo> outputs;
  std::map<std::string, ValueInfo> value_info;   // shapes the exporter recorded, if any

  // Indices (into `nodes`) of the nodes reading `value`.
  std::vector<int> consumers(const std::string& value) const;
  bool is_graph_output(const std::string& value) const;
};

Expected<OnnxModel> load_onnx_model(const std::string& path);
Expected<OnnxModel> load_onnx_model_bytes(const std::string& bytes, const std::string& origin);

// Whether eval_constant_node can fold this op type.
bool is_foldable_op(const std::string& op_type);
// Evaluates `node` given its inputs (nullptr for an omitted optional input). `input_shapes` gives the shape of
// non-constant inputs (only Shape uses it). Returns the outputs, or a diagnostic naming the node.
Expected<std::vector<ConstTensor>> eval_constant_node(const Node& node, const std::vector<const ConstTensor*>& in,
                                                      const std::vector<std::vector<int64_t>>& input_shapes,
                                                      int64_t opset);

}  // namespace dory::onnxfe
