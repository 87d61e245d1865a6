// Reading ONNX's node test data (libonnx-testdata): serialized TensorProtos as exact values. Test-only helper.
#pragma once

#include <onnx/onnx_pb.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#ifndef DORY_ONNX_TESTDATA
#define DORY_ONNX_TESTDATA "/usr/share/libonnx-testdata/data/node"
#endif

namespace dory::testdata {

struct Values {
  int32_t type = 0;
  std::vector<int64_t> shape;
  std::vector<double> v;  // exact for float32 and every integer type used here
  bool is_float() const { return type == onnx::TensorProto::FLOAT || type == onnx::TensorProto::DOUBLE; }
};

template <class T>
void read_raw(const std::string& raw, std::vector<double>& out) {
  const size_t n = raw.size() / sizeof(T);
  out.resize(n);
  for (size_t i = 0; i < n; ++i) {
    T x;
    std::memcpy(&x, raw.data() + i * sizeof(T), sizeof(T));
    out[i] = static_cast<double>(x);
  }
}

inline Values values_of(const onnx::TensorProto& t) {
  Values r;
  r.type = t.data_type();
  r.shape.assign(t.dims().begin(), t.dims().end());
  using TP = onnx::TensorProto;
  if (t.has_raw_data()) {
    const std::string& raw = t.raw_data();
    switch (t.data_type()) {
      case TP::FLOAT: read_raw<float>(raw, r.v); break;
      case TP::DOUBLE: read_raw<double>(raw, r.v); break;
      case TP::UINT8: read_raw<uint8_t>(raw, r.v); break;
      case TP::INT8: read_raw<int8_t>(raw, r.v); break;
      case TP::UINT16: read_raw<uint16_t>(raw, r.v); break;
      case TP::INT16: read_raw<int16_t>(raw, r.v); break;
      case TP::INT32: read_raw<int32_t>(raw, r.v); break;
      case TP::INT64: read_raw<int64_t>(raw, r.v); break;
      default: break;
    }
  } else {
    for (float f : t.float_data()) r.v.push_back(f);
    for (double d : t.double_data()) r.v.push_back(d);
    for (int32_t i : t.int32_data()) r.v.push_back(i);
    for (int64_t i : t.int64_data()) r.v.push_back(static_cast<double>(i));
  }
  return r;
}

inline bool read_tensor(const std::filesystem::path& p, onnx::TensorProto& t) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return f && t.ParseFromString(ss.str());
}

// Input or output `k` of a case's test_data_set_0 (`kind` is "input" or "output").
inline Values case_tensor(const std::string& case_name, const char* kind, int k) {
  onnx::TensorProto t;
  read_tensor(std::filesystem::path(DORY_ONNX_TESTDATA) / case_name / "test_data_set_0" /
                  (std::string(kind) + "_" + std::to_string(k) + ".pb"),
              t);
  return values_of(t);
}

}  // namespace dory::testdata
