// Test helper: builds small ONNX models in memory with the protobuf API, so tests can exercise the frontends
// on exactly the pattern they claim to handle (and on broken variants of it) without committed binaries.
#pragma once

#include <onnx/onnx_pb.h>

#include <string>
#include <vector>

namespace dory::testing {

class OnnxBuilder {
 public:
  explicit OnnxBuilder(int64_t opset = 13) {
    model_.set_ir_version(7);
    model_.set_producer_name("dory-tests");
    auto* op = model_.add_opset_import();
    op->set_domain("");
    op->set_version(opset);
  }

  // A graph input of element type `type` (onnx::TensorProto::FLOAT, UINT8, ...) and the given shape.
  OnnxBuilder& input(const std::string& name, std::vector<int64_t> shape, int type = onnx::TensorProto::FLOAT) {
    value_info(model_.mutable_graph()->add_input(), name, shape, type);
    return *this;
  }
  OnnxBuilder& output(const std::string& name, std::vector<int64_t> shape = {}, int type = onnx::TensorProto::FLOAT) {
    value_info(model_.mutable_graph()->add_output(), name, shape, type);
    return *this;
  }
  // A float initializer (float_data) of the given shape and values.
  OnnxBuilder& init(const std::string& name, std::vector<int64_t> shape, const std::vector<float>& values) {
    auto* t = model_.mutable_graph()->add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::FLOAT);
    for (int64_t d : shape) t->add_dims(d);
    for (float v : values) t->add_float_data(v);
    return *this;
  }
  // An integer initializer of element type `type` (INT8, UINT8, INT32, INT64) stored in int32_data/int64_data.
  OnnxBuilder& init_int(const std::string& name, std::vector<int64_t> shape, const std::vector<int64_t>& values,
                        int type) {
    auto* t = model_.mutable_graph()->add_initializer();
    t->set_name(name);
    t->set_data_type(type);
    for (int64_t d : shape) t->add_dims(d);
    for (int64_t v : values) {
      if (type == onnx::TensorProto::INT64) t->add_int64_data(v);
      else t->add_int32_data(static_cast<int32_t>(v));
    }
    return *this;
  }
  onnx::NodeProto& node(const std::string& op, std::vector<std::string> inputs, std::vector<std::string> outputs,
                        const std::string& name = "") {
    auto* n = model_.mutable_graph()->add_node();
    n->set_op_type(op);
    n->set_name(name);
    for (auto& i : inputs) n->add_input(i);
    for (auto& o : outputs) n->add_output(o);
    return *n;
  }
  static void attr(onnx::NodeProto& n, const std::string& name, std::vector<int64_t> ints) {
    auto* a = n.add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::INTS);
    for (int64_t v : ints) a->add_ints(v);
  }
  static void attr(onnx::NodeProto& n, const std::string& name, int64_t v) {
    auto* a = n.add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::INT);
    a->set_i(v);
  }
  static void attr_f(onnx::NodeProto& n, const std::string& name, float v) {
    auto* a = n.add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::FLOAT);
    a->set_f(v);
  }
  onnx::ModelProto& proto() { return model_; }
  std::string bytes() const { return model_.SerializeAsString(); }

 private:
  static void value_info(onnx::ValueInfoProto* vi, const std::string& name, const std::vector<int64_t>& shape,
                         int type) {
    vi->set_name(name);
    auto* tt = vi->mutable_type()->mutable_tensor_type();
    tt->set_elem_type(type);
    auto* s = tt->mutable_shape();
    for (int64_t d : shape) s->add_dim()->set_dim_value(d);
  }
  onnx::ModelProto model_;
};

}  // namespace dory::testing
