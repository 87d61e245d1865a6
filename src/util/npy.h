// NumPy .npy files: reading and writing the arrays dory exchanges with Python (inputs, outputs, layer dumps),
// and raw little-endian `.bin` dumps.
//
// Format (numpy.lib.format): the magic "\x93NUMPY", a major.minor version (1.0: 2-byte header length; 2.0 and
// 3.0: 4-byte header length; 3.0 allows UTF-8 in the header), then a Python dict literal
//   {'descr': '<i4', 'fortran_order': False, 'shape': (1, 3, 32, 32), }
// padded with spaces and ended by '\n', then the elements in C (row-major) order.
//
// Read: versions 1.0/2.0/3.0; byte orders '<', '>', '|' and '=' (native); element types uint8, int8, uint16,
// int16, uint32, int32, int64, float32, float64. Rejected with a Diagnostic (codes "npy-..."), never a crash:
// a bad magic or version, an unparsable header, structured or unsupported dtypes, fortran_order True, negative
// or overflowing shapes, and data shorter or longer than the header promises. Every element is returned as a
// double (exact for every integer below 2^53) and, for integer dtypes, also as an exact int64.
// Write: version 1.0 (2.0 when the header needs it), little endian, C order; the integer dtypes and float32.
// A shape of {} is a scalar (one element).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "util/diagnostic.h"

namespace dory {

enum class NpyDType { UInt8, Int8, UInt16, Int16, UInt32, Int32, Int64, Float32, Float64 };

const char* npy_dtype_name(NpyDType t);  // NumPy's names: "uint8", ..., "float64"
int npy_dtype_bytes(NpyDType t);
bool npy_dtype_is_integer(NpyDType t);
// The dtype named by NumPy's name ("int8", "float32", ...), or nullopt.
std::optional<NpyDType> npy_dtype_from_name(const std::string& name);

struct NpyArray {
  NpyDType dtype = NpyDType::Float32;
  std::vector<int64_t> shape;      // {} for a scalar
  std::vector<double> values;      // every element, C order
  std::vector<int64_t> int_values; // integer dtypes: every element, exact; empty for float dtypes

  int64_t elements() const;
};

// Parses an .npy image held in memory; `origin` (usually the path) names the file in diagnostics.
Expected<NpyArray> decode_npy(const std::string& bytes, const std::string& origin);
Expected<NpyArray> read_npy(const std::string& path);

// The elements as exact integers. Float arrays must hold only finite integral values; the first element that
// is not is reported with its flat index and its index along every dimension ("npy-not-integer").
Expected<std::vector<int64_t>> npy_integer_values(const NpyArray& a, const std::string& origin);

// Serializes integer values as `dtype` (an integer dtype; every value must fit it, else "npy-value-range").
Expected<std::string> encode_npy(NpyDType dtype, const std::vector<int64_t>& shape,
                                 const std::vector<int64_t>& values);
std::string encode_npy_float32(const std::vector<int64_t>& shape, const std::vector<float>& values);
Status write_npy(const std::string& path, NpyDType dtype, const std::vector<int64_t>& shape,
                 const std::vector<int64_t>& values);
Status write_npy_float32(const std::string& path, const std::vector<int64_t>& shape,
                         const std::vector<float>& values);

// A raw dump: exactly elements(shape) values of `dtype`, little endian, C order, no header. The result is an
// NpyArray of that shape so that callers treat both formats alike.
Expected<NpyArray> decode_raw(const std::string& bytes, NpyDType dtype, const std::vector<int64_t>& shape,
                              const std::string& origin);
Expected<NpyArray> read_raw(const std::string& path, NpyDType dtype, const std::vector<int64_t>& shape);

// Whole-file I/O shared by the readers and writers here ("io-read" / "io-write" diagnostics).
Expected<std::string> read_file_bytes(const std::string& path);
Status write_file_bytes(const std::string& path, const std::string& bytes);

}  // namespace dory
