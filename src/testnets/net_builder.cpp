#include "testnets/net_builder.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "util/diagnostic.h"

namespace dory::testnets {
namespace {

constexpr double kOutMean = 64, kOutStd = 40;  // target statistics of a requantized uint8 activation
constexpr double kResidualScale = 0.6;
constexpr int kResidualShift = 10;

void set_tensor_type(onnx::ValueInfoProto* v, const std::string& name, const std::vector<int64_t>& dims) {
  v->set_name(name);
  auto* tt = v->mutable_type()->mutable_tensor_type();
  tt->set_elem_type(onnx::TensorProto::FLOAT);
  for (int64_t d : dims) tt->mutable_shape()->add_dim()->set_dim_value(d);
}

void attr_ints(onnx::NodeProto& n, const std::string& name, std::vector<int64_t> v) {
  auto* a = n.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INTS);
  for (int64_t x : v) a->add_ints(x);
}

void attr_int(onnx::NodeProto& n, const std::string& name, int64_t v) {
  auto* a = n.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INT);
  a->set_i(v);
}

int64_t conv_out(int64_t in, int k, int stride, int pad) { return (in + 2 * pad - k) / stride + 1; }

}  // namespace

uint64_t Rng::next() {
  uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

int64_t Rng::uniform(int64_t lo, int64_t hi) {
  const uint64_t span = static_cast<uint64_t>(hi - lo) + 1;
  return lo + static_cast<int64_t>(next() % span);
}

NetBuilder::NetBuilder(std::string graph_name, uint64_t seed) : rng_(seed) {
  model_.set_ir_version(7);
  model_.set_producer_name("dory-testnets");
  model_.set_producer_version(DORY_VERSION);
  auto* op = model_.add_opset_import();
  op->set_domain("");
  op->set_version(13);
  model_.mutable_graph()->set_name(std::move(graph_name));
  model_.set_doc_string(
      fmt::format("synthetic integer-deployable network, seed {}: random weights, not trained", seed));
  scalar("clip_lo", 0);
  scalar("clip_hi", 255);
}

std::string NetBuilder::init(const std::string& name, const std::vector<int64_t>& dims,
                             const std::vector<float>& values) {
  auto* t = model_.mutable_graph()->add_initializer();
  t->set_name(name);
  t->set_data_type(onnx::TensorProto::FLOAT);
  for (int64_t d : dims) t->add_dims(d);
  std::string raw(values.size() * sizeof(float), '\0');
  std::memcpy(raw.data(), values.data(), raw.size());  // little-endian hosts only, as the loader
  t->set_raw_data(std::move(raw));
  return name;
}

std::string NetBuilder::scalar(const std::string& name, double value) {
  return init(name, {}, {static_cast<float>(value)});
}

onnx::NodeProto& NetBuilder::node(const std::string& op, std::vector<std::string> inputs, const std::string& output,
                                  const std::string& name) {
  auto* n = model_.mutable_graph()->add_node();
  n->set_op_type(op);
  n->set_name(name);
  for (auto& i : inputs) n->add_input(i);
  n->add_output(output);
  return *n;
}

std::string NetBuilder::input(const std::string& name, int64_t c, int64_t h, int64_t w) {
  set_tensor_type(model_.mutable_graph()->add_input(), name, {1, c, h, w});
  shapes_[name] = {c, h, w};
  stats_[name] = {127.5, 255.0 * 257.0 / 12.0};  // uniform on 0..255
  return name;
}

std::string NetBuilder::requantize(const std::string& acc, const std::string& name, const std::vector<double>& acc_std,
                                   bool flat) {
  const size_t c = acc_std.size();
  std::vector<double> scale(c);
  double max_scale = 0;
  for (size_t i = 0; i < c; ++i) {
    scale[i] = kOutStd / std::max(acc_std[i], 1.0);
    max_scale = std::max(max_scale, scale[i]);
  }
  // d such that the largest m = round(scale * 2^d) has 16 bits.
  int d = 0;
  while (d < 60 && max_scale * std::ldexp(1.0, d) < 32768.0) ++d;
  std::vector<float> m(c);
  for (size_t i = 0; i < c; ++i) m[i] = static_cast<float>(std::max(1.0, std::round(scale[i] * std::ldexp(1.0, d))));
  std::vector<int64_t> dims =
      flat ? std::vector<int64_t>{static_cast<int64_t>(c)} : std::vector<int64_t>{static_cast<int64_t>(c), 1, 1};
  init(name + ".m", dims, m);
  scalar(name + ".round", d > 0 ? std::ldexp(1.0, d - 1) : 0);
  scalar(name + ".div", std::ldexp(1.0, d));
  node("Mul", {acc, name + ".m"}, name + ".scaled", name + "_mul");
  node("Add", {name + ".scaled", name + ".round"}, name + ".rounded", name + "_add");
  node("Div", {name + ".rounded", name + ".div"}, name + ".shifted", name + "_div");
  node("Floor", {name + ".shifted"}, name + ".floor", name + "_floor");
  node("Clip", {name + ".floor", "clip_lo", "clip_hi"}, name, name + "_clip");
  stats_[name] = {kOutMean, kOutStd * kOutStd};
  return name;
}

std::string NetBuilder::conv(const std::string& x, const std::string& name, int64_t c_out, int k, int stride,
                             bool depthwise) {
  const Shape in = shapes_.at(x);
  const Stats xs = stats_.at(x);
  if (depthwise) c_out = in.c;
  const int pad = k / 2;
  const Shape out{c_out, conv_out(in.h, k, stride, pad), conv_out(in.w, k, stride, pad)};
  const int64_t c_in_per_group = depthwise ? 1 : in.c;
  const int64_t per_out = c_in_per_group * k * k;
  std::vector<float> w(static_cast<size_t>(c_out * per_out));
  std::vector<float> bias(static_cast<size_t>(c_out));
  std::vector<double> stdev(static_cast<size_t>(c_out));
  for (int64_t co = 0; co < c_out; ++co) {
    double sum = 0, sum_sq = 0;
    for (int64_t j = 0; j < per_out; ++j) {
      const int64_t v = rng_.uniform(-63, 63) + rng_.uniform(-63, 63);
      w[static_cast<size_t>(co * per_out + j)] = static_cast<float>(v);
      sum += static_cast<double>(v);
      sum_sq += static_cast<double>(v * v);
    }
    const double acc_mean = xs.mean * sum, acc_std = std::sqrt(xs.var * sum_sq);
    // bias: center the requantized output at kOutMean.
    const double s = kOutStd / std::max(acc_std, 1.0);
    const double b = std::round(kOutMean / s - acc_mean);
    bias[static_cast<size_t>(co)] = static_cast<float>(b);
    stdev[static_cast<size_t>(co)] = acc_std;
  }
  init(name + ".weight", {c_out, c_in_per_group, k, k}, w);
  init(name + ".bias", {c_out}, bias);
  auto& n = node("Conv", {x, name + ".weight", name + ".bias"}, name + ".acc", name + "_conv");
  attr_ints(n, "kernel_shape", {k, k});
  attr_ints(n, "strides", {stride, stride});
  attr_ints(n, "pads", {pad, pad, pad, pad});
  attr_int(n, "group", depthwise ? in.c : 1);
  weight_bytes_ += c_out * per_out;
  macs_ += out.c * out.h * out.w * per_out;
  shapes_[name] = out;
  return requantize(name + ".acc", name, stdev, false);
}

std::string NetBuilder::maxpool(const std::string& x, const std::string& name, int k, int stride) {
  const Shape in = shapes_.at(x);
  auto& n = node("MaxPool", {x}, name, name);
  attr_ints(n, "kernel_shape", {k, k});
  attr_ints(n, "strides", {stride, stride});
  shapes_[name] = {in.c, conv_out(in.h, k, stride, 0), conv_out(in.w, k, stride, 0)};
  stats_[name] = stats_.at(x);
  return name;
}

std::string NetBuilder::global_avgpool(const std::string& x, const std::string& name) {
  node("GlobalAveragePool", {x}, name + ".mean", name + "_gap");
  node("Floor", {name + ".mean"}, name, name + "_floor");
  shapes_[name] = {shapes_.at(x).c, 1, 1};
  stats_[name] = stats_.at(x);
  return name;
}

std::string NetBuilder::flatten(const std::string& x, const std::string& name) {
  const Shape in = shapes_.at(x);
  attr_int(node("Flatten", {x}, name, name), "axis", 1);
  shapes_[name] = {in.c * in.h * in.w, 1, 1, true};
  stats_[name] = stats_.at(x);
  return name;
}

std::string NetBuilder::fc(const std::string& x, const std::string& name, int64_t n_out, bool requantize_output) {
  const int64_t k = shapes_.at(x).c;
  const Stats xs = stats_.at(x);
  std::vector<float> w(static_cast<size_t>(n_out * k)), bias(static_cast<size_t>(n_out));
  std::vector<double> stdev(static_cast<size_t>(n_out));
  for (int64_t o = 0; o < n_out; ++o) {
    double sum = 0, sum_sq = 0;
    for (int64_t j = 0; j < k; ++j) {
      const int64_t v = rng_.uniform(-63, 63) + rng_.uniform(-63, 63);
      w[static_cast<size_t>(o * k + j)] = static_cast<float>(v);
      sum += static_cast<double>(v);
      sum_sq += static_cast<double>(v * v);
    }
    const double acc_mean = xs.mean * sum, acc_std = std::sqrt(xs.var * sum_sq);
    const double s = kOutStd / std::max(acc_std, 1.0);
    const double b =
        requantize_output ? std::round(kOutMean / s - acc_mean) : static_cast<double>(rng_.uniform(-1000, 1000));
    bias[static_cast<size_t>(o)] = static_cast<float>(b);
    stdev[static_cast<size_t>(o)] = acc_std;
  }
  init(name + ".weight", {n_out, k}, w);
  init(name + ".bias", {n_out}, bias);
  const std::string acc = requantize_output ? name + ".acc" : name;
  attr_int(node("Gemm", {x, name + ".weight", name + ".bias"}, acc, name + "_gemm"), "transB", 1);
  weight_bytes_ += n_out * k;
  macs_ += n_out * k;
  shapes_[name] = {n_out, 1, 1, true};
  if (!requantize_output) {
    stats_[name] = {0, 1};
    return name;
  }
  return requantize(acc, name, stdev, true);
}

std::string NetBuilder::residual_add(const std::string& x1, const std::string& x2, const std::string& name) {
  const Shape a = shapes_.at(x1), b = shapes_.at(x2);
  DORY_CHECK(a.c == b.c && a.h == b.h && a.w == b.w, "testnets: residual add of different shapes");
  const double m = std::round(kResidualScale * std::ldexp(1.0, kResidualShift));
  scalar(name + ".m1", m);
  scalar(name + ".m2", m);
  scalar(name + ".round", std::ldexp(1.0, kResidualShift - 1));
  scalar(name + ".div", std::ldexp(1.0, kResidualShift));
  node("Mul", {x1, name + ".m1"}, name + ".s1", name + "_mul1");
  node("Mul", {x2, name + ".m2"}, name + ".s2", name + "_mul2");
  node("Add", {name + ".s1", name + ".s2"}, name + ".sum", name + "_add");
  node("Add", {name + ".sum", name + ".round"}, name + ".rounded", name + "_round");
  node("Div", {name + ".rounded", name + ".div"}, name + ".shifted", name + "_div");
  node("Floor", {name + ".shifted"}, name + ".floor", name + "_floor");
  node("Clip", {name + ".floor", "clip_lo", "clip_hi"}, name, name + "_clip");
  shapes_[name] = a;
  const Stats s1 = stats_.at(x1), s2 = stats_.at(x2);
  stats_[name] = {kResidualScale * (s1.mean + s2.mean), kResidualScale * kResidualScale * (s1.var + s2.var)};
  return name;
}

std::string NetBuilder::finish(const std::string& value) {
  const Shape s = shapes_.at(value);
  set_tensor_type(model_.mutable_graph()->add_output(), value,
                  s.flat ? std::vector<int64_t>{1, s.c} : std::vector<int64_t>{1, s.c, s.h, s.w});
  std::string bytes;
  DORY_CHECK(model_.SerializeToString(&bytes), "testnets: protobuf serialization failed");
  return bytes;
}

}  // namespace dory::testnets
