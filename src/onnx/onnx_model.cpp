#include "onnx/onnx_model.h"

#include <fmt/format.h>
#include <onnx/onnx_pb.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>

namespace dory::onnxfe {
namespace {

constexpr int64_t kMaxElements = int64_t{1} << 31;  // 2 G elements: far beyond any MCU network

Diagnostic model_error(const std::string& origin, std::string code, std::string msg, std::string hint = {}) {
  return make_error(std::move(code), origin, std::move(msg), std::move(hint));
}

template <class T>
T read_le(const char* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));  // ONNX raw_data is little-endian, as is every host dory runs on
  return v;
}

float half_to_float(uint16_t h) {
  const uint32_t sign = (h >> 15) & 1, exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
  float v;
  if (exp == 0) v = std::ldexp(static_cast<float>(mant), -24);
  else if (exp == 31) v = mant ? std::numeric_limits<float>::quiet_NaN() : std::numeric_limits<float>::infinity();
  else v = std::ldexp(static_cast<float>(mant | 0x400), static_cast<int>(exp) - 25);
  return sign ? -v : v;
}

int elem_size(int32_t t) {
  switch (t) {
    case kUInt8: case kInt8: case kBool: return 1;
    case kUInt16: case kInt16: case kFloat16: return 2;
    case kFloat: case kInt32: case kUInt32: return 4;
    case kInt64: case kDouble: case kUInt64: return 8;
    default: return 0;
  }
}

void finish(ConstTensor& c) {
  c.integral = true;
  c.i.clear();
  for (double v : c.f)
    if (!std::isfinite(v) || std::floor(v) != v || std::fabs(v) > 9.2e18) {
      c.integral = false;
      break;
    }
  if (c.integral) {
    c.i.reserve(c.f.size());
    for (double v : c.f) c.i.push_back(static_cast<int64_t>(v));
  }
}

}  // namespace

const char* elem_type_name(int32_t t) {
  switch (t) {
    case kFloat: return "float32";
    case kUInt8: return "uint8";
    case kInt8: return "int8";
    case kUInt16: return "uint16";
    case kInt16: return "int16";
    case kInt32: return "int32";
    case kInt64: return "int64";
    case kString: return "string";
    case kBool: return "bool";
    case kFloat16: return "float16";
    case kDouble: return "float64";
    case kUInt32: return "uint32";
    case kUInt64: return "uint64";
    default: return "undefined";
  }
}

bool is_integer_type(int32_t t) {
  return t == kUInt8 || t == kInt8 || t == kUInt16 || t == kInt16 || t == kInt32 || t == kInt64 || t == kBool ||
         t == kUInt32 || t == kUInt64;
}

ConstTensor ConstTensor::from_ints(int32_t type, std::vector<int64_t> shape, std::vector<int64_t> values) {
  ConstTensor c;
  c.elem_type = type;
  c.shape = std::move(shape);
  c.f.assign(values.begin(), values.end());
  c.i = std::move(values);
  c.integral = true;
  return c;
}

ConstTensor ConstTensor::from_doubles(int32_t type, std::vector<int64_t> shape, std::vector<double> values) {
  ConstTensor c;
  c.elem_type = type;
  c.shape = std::move(shape);
  c.f = std::move(values);
  finish(c);
  return c;
}

const Attribute* Node::attr(const std::string& n) const {
  for (const Attribute& a : attributes)
    if (a.name == n) return &a;
  return nullptr;
}
std::optional<int64_t> Node::attr_int(const std::string& n) const {
  const Attribute* a = attr(n);
  if (!a || a->type != onnx::AttributeProto::INT) return std::nullopt;
  return a->i;
}
std::optional<double> Node::attr_float(const std::string& n) const {
  const Attribute* a = attr(n);
  if (!a) return std::nullopt;
  if (a->type == onnx::AttributeProto::FLOAT) return a->f;
  if (a->type == onnx::AttributeProto::INT) return static_cast<double>(a->i);
  return std::nullopt;
}
std::optional<std::string> Node::attr_string(const std::string& n) const {
  const Attribute* a = attr(n);
  if (!a || a->type != onnx::AttributeProto::STRING) return std::nullopt;
  return a->s;
}
std::optional<std::vector<int64_t>> Node::attr_ints(const std::string& n) const {
  const Attribute* a = attr(n);
  if (!a || a->type != onnx::AttributeProto::INTS) return std::nullopt;
  return a->ints;
}
std::string Node::label() const {
  if (name.empty()) return fmt::format("node #{} ({})", index, op_type);
  return fmt::format("node '{}' ({})", name, op_type);
}

std::vector<int> OnnxModel::consumers(const std::string& value) const {
  std::vector<int> out;
  for (size_t n = 0; n < nodes.size(); ++n)
    for (const std::string& in : nodes[n].inputs)
      if (in == value) {
        out.push_back(static_cast<int>(n));
        break;
      }
  return out;
}

bool OnnxModel::is_graph_output(const std::string& value) const {
  for (const ValueInfo& o : outputs)
    if (o.name == value) return true;
  return false;
}

namespace {

Expected<ConstTensor> convert_tensor(const onnx::TensorProto& t, const std::string& where) {
  ConstTensor c;
  c.elem_type = t.data_type();
  int64_t n = 1;
  for (int64_t d : t.dims()) {
    if (d < 0 || (d > 0 && n > kMaxElements / d))
      return make_error("onnx-bad-tensor", where, fmt::format("has an invalid dimension {}", d));
    n *= d;
    c.shape.push_back(d);
  }
  if (t.has_data_location() && t.data_location() == onnx::TensorProto::EXTERNAL)
    return make_error("onnx-external-data", where, "stores its values in an external file, which dory does not read",
                      "re-save the model with all tensors inside the .onnx file (onnx.save without "
                      "save_as_external_data)");
  const int32_t type = t.data_type();
  const int es = elem_size(type);
  if (es == 0)
    return make_error("onnx-unsupported-dtype", where,
                      fmt::format("has element type {} ({}); dory reads integer and float tensors",
                                  elem_type_name(type), type));
  if (t.has_raw_data()) {
    const std::string& raw = t.raw_data();
    if (static_cast<int64_t>(raw.size()) != n * es)
      return make_error("onnx-bad-tensor", where,
                        fmt::format("holds {} bytes of raw data, its shape needs {} x {} bytes", raw.size(), n, es));
    c.f.resize(static_cast<size_t>(n));
    const char* p = raw.data();
    for (int64_t k = 0; k < n; ++k, p += es) {
      double v = 0;
      switch (type) {
        case kFloat: v = read_le<float>(p); break;
        case kDouble: v = read_le<double>(p); break;
        case kFloat16: v = half_to_float(read_le<uint16_t>(p)); break;
        case kUInt8: v = read_le<uint8_t>(p); break;
        case kBool: v = read_le<uint8_t>(p) != 0; break;
        case kInt8: v = read_le<int8_t>(p); break;
        case kUInt16: v = read_le<uint16_t>(p); break;
        case kInt16: v = read_le<int16_t>(p); break;
        case kInt32: v = read_le<int32_t>(p); break;
        case kUInt32: v = read_le<uint32_t>(p); break;
        case kInt64: v = static_cast<double>(read_le<int64_t>(p)); break;
        case kUInt64: v = static_cast<double>(read_le<uint64_t>(p)); break;
      }
      c.f[static_cast<size_t>(k)] = v;
    }
    if (type == kInt64 || type == kUInt64) {  // keep 64-bit integers exact
      c.i.resize(static_cast<size_t>(n));
      const char* q = raw.data();
      for (int64_t k = 0; k < n; ++k, q += 8)
        c.i[static_cast<size_t>(k)] = type == kInt64 ? read_le<int64_t>(q) : static_cast<int64_t>(read_le<uint64_t>(q));
      c.integral = true;
      return c;
    }
  } else {
    const int64_t have = t.float_data_size() + t.double_data_size() + t.int64_data_size() + t.uint64_data_size() +
                         t.int32_data_size();
    if (have != n)
      return make_error("onnx-bad-tensor", where,
                        fmt::format("holds {} values, its shape {} needs {}", have, fmt::join(c.shape, "x"), n));
    c.f.resize(static_cast<size_t>(n));
    auto mismatch = [&](int64_t have) {
      return make_error("onnx-bad-tensor", where,
                        fmt::format("holds {} values, its shape {} needs {}", have, fmt::join(c.shape, "x"), n));
    };
    switch (type) {
      case kFloat:
        if (t.float_data_size() != n) return mismatch(t.float_data_size());
        for (int64_t k = 0; k < n; ++k) c.f[static_cast<size_t>(k)] = t.float_data(static_cast<int>(k));
        break;
      case kDouble:
        if (t.double_data_size() != n) return mismatch(t.double_data_size());
        for (int64_t k = 0; k < n; ++k) c.f[static_cast<size_t>(k)] = t.double_data(static_cast<int>(k));
        break;
      case kInt64:
        if (t.int64_data_size() != n) return mismatch(t.int64_data_size());
        c.i.resize(static_cast<size_t>(n));
        for (int64_t k = 0; k < n; ++k) {
          c.i[static_cast<size_t>(k)] = t.int64_data(static_cast<int>(k));
          c.f[static_cast<size_t>(k)] = static_cast<double>(c.i[static_cast<size_t>(k)]);
        }
        c.integral = true;
        return c;
      case kUInt32:
      case kUInt64:
        if (t.uint64_data_size() != n) return mismatch(t.uint64_data_size());
        for (int64_t k = 0; k < n; ++k) c.f[static_cast<size_t>(k)] = static_cast<double>(t.uint64_data(static_cast<int>(k)));
        break;
      case kFloat16:
        if (t.int32_data_size() != n) return mismatch(t.int32_data_size());
        for (int64_t k = 0; k < n; ++k)
          c.f[static_cast<size_t>(k)] = half_to_float(static_cast<uint16_t>(t.int32_data(static_cast<int>(k))));
        break;
      default:  // int8, uint8, int16, uint16, int32, bool live in int32_data
        if (t.int32_data_size() != n) return mismatch(t.int32_data_size());
        for (int64_t k = 0; k < n; ++k) c.f[static_cast<size_t>(k)] = t.int32_data(static_cast<int>(k));
        break;
    }
  }
  finish(c);
  return c;
}

Expected<Attribute> convert_attribute(const onnx::AttributeProto& a, const std::string& where) {
  Attribute out;
  out.name = a.name();
  out.type = a.type();
  // Old exporters leave `type` unset: infer it from the populated field.
  if (out.type == onnx::AttributeProto::UNDEFINED) {
    if (a.ints_size()) out.type = onnx::AttributeProto::INTS;
    else if (a.floats_size()) out.type = onnx::AttributeProto::FLOATS;
    else if (a.has_t()) out.type = onnx::AttributeProto::TENSOR;
    else if (a.has_s()) out.type = onnx::AttributeProto::STRING;
    else if (a.has_f()) out.type = onnx::AttributeProto::FLOAT;
    else if (a.has_i()) out.type = onnx::AttributeProto::INT;
  }
  out.i = a.i();
  out.f = a.f();
  out.s = a.s();
  out.ints.assign(a.ints().begin(), a.ints().end());
  for (float f : a.floats()) out.floats.push_back(f);
  if (a.has_t()) {
    DORY_TRY(ConstTensor t, convert_tensor(a.t(), where + fmt::format(", attribute '{}'", a.name())));
    out.t = std::move(t);
  }
  return out;
}

ValueInfo convert_value_info(const onnx::ValueInfoProto& v) {
  ValueInfo out;
  out.name = v.name();
  if (v.has_type() && v.type().has_tensor_type()) {
    const auto& tt = v.type().tensor_type();
    out.elem_type = tt.elem_type();
    if (tt.has_shape()) {
      out.has_shape = true;
      for (const auto& d : tt.shape().dim()) out.shape.push_back(d.has_dim_value() ? d.dim_value() : -1);
    }
  }
  return out;
}

}  // namespace

Expected<OnnxModel> load_onnx_model_bytes(const std::string& bytes, const std::string& origin) {
  onnx::ModelProto proto;
  if (bytes.empty())
    return model_error(origin, "onnx-parse", "the file is empty", "pass an .onnx model file");
  if (!proto.ParseFromString(bytes))
    return model_error(origin, "onnx-parse",
                       fmt::format("is not a valid ONNX model: the protobuf does not parse ({} bytes; truncated or not "
                                   "an ONNX file)",
                                   bytes.size()),
                       "re-export the model; check that the download or copy completed");
  if (!proto.has_graph() || proto.graph().node_size() == 0)
    return model_error(origin, "onnx-empty-graph", "contains no graph nodes (is this an ONNX model?)");
  OnnxModel m;
  m.origin = origin;
  m.producer = proto.producer_name();
  for (const auto& op : proto.opset_import())
    if (op.domain().empty() || op.domain() == "ai.onnx") m.opset = op.version();
  if (m.opset == 0 && proto.opset_import_size() == 0) m.opset = 1;
  const onnx::GraphProto& g = proto.graph();

  std::set<std::string> defined;
  for (const auto& init : g.initializer()) {
    if (init.name().empty()) return model_error(origin, "onnx-bad-tensor", "has an initializer without a name");
    DORY_TRY(ConstTensor c, convert_tensor(init, fmt::format("initializer '{}'", init.name())));
    m.constants[init.name()] = std::move(c);
    defined.insert(init.name());
  }
  for (const auto& in : g.input()) {
    if (m.constants.count(in.name())) continue;  // old exporters list initializers as inputs too
    m.inputs.push_back(convert_value_info(in));
    defined.insert(in.name());
  }
  for (const auto& out : g.output()) m.outputs.push_back(convert_value_info(out));
  for (const auto& vi : g.value_info()) m.value_info[vi.name()] = convert_value_info(vi);

  std::vector<Node> nodes;
  std::map<std::string, int> producer;
  for (int k = 0; k < g.node_size(); ++k) {
    const onnx::NodeProto& np = g.node(k);
    Node n;
    n.index = k;
    n.name = np.name();
    n.op_type = np.op_type();
    n.domain = np.domain();
    n.inputs.assign(np.input().begin(), np.input().end());
    n.outputs.assign(np.output().begin(), np.output().end());
    if (n.op_type.empty()) return model_error(origin, "onnx-bad-node", fmt::format("node #{} has no op_type", k));
    for (const auto& a : np.attribute()) {
      DORY_TRY(Attribute attr, convert_attribute(a, n.label()));
      n.attributes.push_back(std::move(attr));
    }
    for (const std::string& o : n.outputs) {
      if (o.empty()) continue;
      if (producer.count(o) || m.constants.count(o) || defined.count(o))
        return model_error(origin, "onnx-bad-node",
                           fmt::format("{} writes '{}', which is already defined", n.label(), o),
                           "every ONNX tensor must have a single producer");
      producer[o] = static_cast<int>(nodes.size());
    }
    nodes.push_back(std::move(n));
  }
  // Every input must be defined somewhere; order the nodes topologically (stable).
  std::vector<int> indeg(nodes.size(), 0);
  std::vector<std::vector<int>> succ(nodes.size());
  for (size_t k = 0; k < nodes.size(); ++k)
    for (const std::string& in : nodes[k].inputs) {
      if (in.empty() || defined.count(in)) continue;
      auto it = producer.find(in);
      if (it == producer.end())
        return model_error(origin, "onnx-undefined-input",
                           fmt::format("{} reads '{}', which is neither a graph input, an initializer nor the output "
                                       "of a node",
                                       nodes[k].label(), in));
      succ[static_cast<size_t>(it->second)].push_back(static_cast<int>(k));
      ++indeg[k];
    }
  std::vector<int> ready, order;
  for (size_t k = 0; k < nodes.size(); ++k)
    if (!indeg[k]) ready.push_back(static_cast<int>(k));
  while (!ready.empty()) {
    auto it = std::min_element(ready.begin(), ready.end());
    int k = *it;
    ready.erase(it);
    order.push_back(k);
    for (int s : succ[static_cast<size_t>(k)])
      if (--indeg[static_cast<size_t>(s)] == 0) ready.push_back(s);
  }
  if (order.size() != nodes.size())
    return model_error(origin, "onnx-cycle", "the graph has a cycle; ONNX graphs must be acyclic");
  for (int k : order) m.nodes.push_back(std::move(nodes[static_cast<size_t>(k)]));
  for (const ValueInfo& o : m.outputs)
    if (!producer.count(o.name) && !defined.count(o.name))
      return model_error(origin, "onnx-undefined-output", fmt::format("graph output '{}' is never produced", o.name));
  if (m.inputs.empty())
    return model_error(origin, "onnx-no-input", "has no graph input (every tensor is a constant)");
  return m;
}

Expected<OnnxModel> load_onnx_model(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return make_error("io-open", path, "cannot be opened", "check the path");
  std::stringstream ss;
  ss << f.rdbuf();
  return load_onnx_model_bytes(ss.str(), path);
}

}  // namespace dory::onnxfe
