#include "util/npy.h"

#include <fmt/format.h>

#include <bit>
#include <cctype>
#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <sstream>

namespace dory {
namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicLen = 6;
constexpr size_t kAlign = 64;  // numpy pads the preamble + header to a multiple of 64 bytes

std::string where(const std::string& origin) { return fmt::format("file '{}'", origin); }

Diagnostic npy_error(const std::string& origin, std::string code, std::string message, std::string hint = {}) {
  return make_error(std::move(code), where(origin), std::move(message), std::move(hint));
}

// ---- the header: a Python dict literal --------------------------------------------------------------------

// A value of the header dict: a string, a boolean or a tuple of non-negative integers.
struct PyValue {
  enum Kind { String, Bool, Tuple } kind = String;
  std::string str;
  bool boolean = false;
  std::vector<int64_t> tuple;
};

// Recursive-descent parser for the subset of Python literals numpy writes into .npy headers.
class HeaderParser {
 public:
  explicit HeaderParser(const std::string& s) : s_(s) {}

  // Parses "{key: value, ...}" into (key, value) pairs; returns false and sets error() on malformed input.
  bool parse_dict(std::vector<std::pair<std::string, PyValue>>& out) {
    skip_ws();
    if (!eat('{')) return fail("expected '{'");
    for (;;) {
      skip_ws();
      if (eat('}')) break;
      std::string key;
      if (!parse_string(key)) return false;
      skip_ws();
      if (!eat(':')) return fail("expected ':' after key '" + key + "'");
      skip_ws();
      PyValue v;
      if (!parse_value(v)) return false;
      out.emplace_back(std::move(key), std::move(v));
      skip_ws();
      if (eat(',')) continue;
      skip_ws();
      if (eat('}')) break;
      return fail("expected ',' or '}'");
    }
    skip_ws();
    if (pos_ != s_.size()) return fail("unexpected text after the dict");
    return true;
  }
  const std::string& error() const { return error_; }

 private:
  bool fail(std::string what) {
    if (error_.empty()) error_ = fmt::format("{} at header offset {}", what, pos_);
    return false;
  }
  void skip_ws() {
    while (pos_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[pos_]))) ++pos_;
  }
  bool eat(char c) {
    if (pos_ < s_.size() && s_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  bool starts_with(const char* word) const { return s_.compare(pos_, std::strlen(word), word) == 0; }

  bool parse_string(std::string& out) {
    if (pos_ >= s_.size() || (s_[pos_] != '\'' && s_[pos_] != '"')) return fail("expected a quoted string");
    const char q = s_[pos_++];
    while (pos_ < s_.size() && s_[pos_] != q) {
      if (s_[pos_] == '\\') return fail("escape sequences are not supported in .npy headers");
      out += s_[pos_++];
    }
    if (!eat(q)) return fail("unterminated string");
    return true;
  }
  bool parse_int(int64_t& out) {
    const size_t start = pos_;
    int64_t v = 0;
    while (pos_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[pos_]))) {
      const int d = s_[pos_++] - '0';
      if (v > (std::numeric_limits<int64_t>::max() - d) / 10) return fail("shape dimension too large");
      v = v * 10 + d;
    }
    if (pos_ == start) return fail("expected a non-negative integer");
    eat('L');  // Python 2 long suffix, as in files written by old numpy versions
    out = v;
    return true;
  }
  bool parse_value(PyValue& v) {
    if (pos_ < s_.size() && (s_[pos_] == '\'' || s_[pos_] == '"')) {
      v.kind = PyValue::String;
      return parse_string(v.str);
    }
    if (starts_with("True")) {
      pos_ += 4;
      v.kind = PyValue::Bool;
      v.boolean = true;
      return true;
    }
    if (starts_with("False")) {
      pos_ += 5;
      v.kind = PyValue::Bool;
      v.boolean = false;
      return true;
    }
    if (eat('(') || eat('[')) {
      const char close = s_[pos_ - 1] == '(' ? ')' : ']';
      v.kind = PyValue::Tuple;
      for (;;) {
        skip_ws();
        if (eat(close)) return true;
        int64_t d = 0;
        if (!parse_int(d)) return false;
        v.tuple.push_back(d);
        skip_ws();
        if (eat(',')) continue;
        skip_ws();
        if (eat(close)) return true;
        return fail("expected ',' or the end of the shape tuple");
      }
    }
    return fail("expected a string, True, False or a tuple (structured dtypes are not supported)");
  }

  const std::string& s_;
  size_t pos_ = 0;
  std::string error_;
};

enum class ByteOrder { Little, Big };

bool parse_descr(const std::string& descr, NpyDType& dtype, ByteOrder& order) {
  if (descr.size() < 2) return false;
  size_t i = 0;
  order = std::endian::native == std::endian::big ? ByteOrder::Big : ByteOrder::Little;
  switch (descr[0]) {
    case '<': order = ByteOrder::Little, i = 1; break;
    case '>': order = ByteOrder::Big, i = 1; break;
    case '|':
    case '=': i = 1; break;
    default: break;
  }
  const std::string t = descr.substr(i);
  static const std::pair<const char*, NpyDType> kTypes[] = {
      {"u1", NpyDType::UInt8},  {"i1", NpyDType::Int8},   {"u2", NpyDType::UInt16},
      {"i2", NpyDType::Int16},  {"u4", NpyDType::UInt32}, {"i4", NpyDType::Int32},
      {"i8", NpyDType::Int64},  {"f4", NpyDType::Float32}, {"f8", NpyDType::Float64}};
  for (const auto& [code, dt] : kTypes)
    if (t == code) {
      dtype = dt;
      return true;
    }
  return false;
}

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string s = "(";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  if (shape.size() == 1) s += ",";
  return s + ")";
}

// Number of elements of `shape`, or nullopt when the product exceeds `limit` (so that a malformed header
// cannot make us allocate or overflow).
std::optional<int64_t> checked_elements(const std::vector<int64_t>& shape, int64_t limit) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0) return std::nullopt;
    if (d == 0) return 0;
  }
  for (int64_t d : shape) {
    if (n > limit / d) return std::nullopt;
    n *= d;
  }
  return n;
}

// Element i of the byte buffer `p` (already bounds-checked) as a raw unsigned integer of `bytes` bytes.
uint64_t load_bits(const unsigned char* p, int bytes, ByteOrder order) {
  uint64_t v = 0;
  if (order == ByteOrder::Little)
    for (int b = bytes - 1; b >= 0; --b) v = (v << 8) | p[b];
  else
    for (int b = 0; b < bytes; ++b) v = (v << 8) | p[b];
  return v;
}

void store_le(std::string& out, uint64_t bits, int bytes) {
  for (int b = 0; b < bytes; ++b) out += static_cast<char>((bits >> (8 * b)) & 0xff);
}

// Converts the raw elements to values (and exact integers for integer dtypes).
void decode_elements(const unsigned char* p, int64_t n, NpyDType dtype, ByteOrder order, NpyArray& a) {
  const int size = npy_dtype_bytes(dtype);
  a.values.resize(static_cast<size_t>(n));
  if (npy_dtype_is_integer(dtype)) a.int_values.resize(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    const uint64_t bits = load_bits(p + i * size, size, order);
    int64_t iv = 0;
    double dv = 0;
    switch (dtype) {
      case NpyDType::UInt8: iv = static_cast<uint8_t>(bits); break;
      case NpyDType::Int8: iv = static_cast<int8_t>(static_cast<uint8_t>(bits)); break;
      case NpyDType::UInt16: iv = static_cast<uint16_t>(bits); break;
      case NpyDType::Int16: iv = static_cast<int16_t>(static_cast<uint16_t>(bits)); break;
      case NpyDType::UInt32: iv = static_cast<uint32_t>(bits); break;
      case NpyDType::Int32: iv = static_cast<int32_t>(static_cast<uint32_t>(bits)); break;
      case NpyDType::Int64: iv = static_cast<int64_t>(bits); break;
      case NpyDType::Float32: dv = std::bit_cast<float>(static_cast<uint32_t>(bits)); break;
      case NpyDType::Float64: dv = std::bit_cast<double>(bits); break;
    }
    if (npy_dtype_is_integer(dtype)) {
      a.int_values[static_cast<size_t>(i)] = iv;
      dv = static_cast<double>(iv);
    }
    a.values[static_cast<size_t>(i)] = dv;
  }
}

std::string index_text(const std::vector<int64_t>& shape, int64_t flat) {
  if (shape.size() <= 1) return fmt::format("{}", flat);
  std::vector<int64_t> idx(shape.size());
  for (size_t d = shape.size(); d-- > 0;) {
    idx[d] = flat % shape[d];
    flat /= shape[d];
  }
  std::string s = "(";
  for (size_t d = 0; d < idx.size(); ++d) s += (d ? ", " : "") + std::to_string(idx[d]);
  return s + ")";
}

std::string encode_with_header(NpyDType dtype, const std::vector<int64_t>& shape, const std::string& data) {
  const char* descr = nullptr;
  switch (dtype) {
    case NpyDType::UInt8: descr = "|u1"; break;
    case NpyDType::Int8: descr = "|i1"; break;
    case NpyDType::UInt16: descr = "<u2"; break;
    case NpyDType::Int16: descr = "<i2"; break;
    case NpyDType::UInt32: descr = "<u4"; break;
    case NpyDType::Int32: descr = "<i4"; break;
    case NpyDType::Int64: descr = "<i8"; break;
    case NpyDType::Float32: descr = "<f4"; break;
    case NpyDType::Float64: descr = "<f8"; break;
  }
  std::string dict = fmt::format("{{'descr': '{}', 'fortran_order': False, 'shape': {}, }}", descr, shape_text(shape));
  // Version 1.0 stores the header length in 2 bytes; 2.0 in 4 (only for enormous shapes).
  const bool v2 = dict.size() + 1 + kMagicLen + 4 > 65535;
  const size_t preamble = kMagicLen + 2 + (v2 ? 4 : 2);
  size_t total = preamble + dict.size() + 1;
  const size_t padded = (total + kAlign - 1) / kAlign * kAlign;
  dict.append(padded - total, ' ');
  dict += '\n';
  std::string out(kMagic, kMagicLen);
  out += static_cast<char>(v2 ? 2 : 1);
  out += static_cast<char>(0);
  store_le(out, dict.size(), v2 ? 4 : 2);
  out += dict;
  out += data;
  return out;
}

}  // namespace

const char* npy_dtype_name(NpyDType t) {
  switch (t) {
    case NpyDType::UInt8: return "uint8";
    case NpyDType::Int8: return "int8";
    case NpyDType::UInt16: return "uint16";
    case NpyDType::Int16: return "int16";
    case NpyDType::UInt32: return "uint32";
    case NpyDType::Int32: return "int32";
    case NpyDType::Int64: return "int64";
    case NpyDType::Float32: return "float32";
    case NpyDType::Float64: return "float64";
  }
  return "?";
}

int npy_dtype_bytes(NpyDType t) {
  switch (t) {
    case NpyDType::UInt8:
    case NpyDType::Int8: return 1;
    case NpyDType::UInt16:
    case NpyDType::Int16: return 2;
    case NpyDType::UInt32:
    case NpyDType::Int32:
    case NpyDType::Float32: return 4;
    case NpyDType::Int64:
    case NpyDType::Float64: return 8;
  }
  return 0;
}

bool npy_dtype_is_integer(NpyDType t) { return t != NpyDType::Float32 && t != NpyDType::Float64; }

std::optional<NpyDType> npy_dtype_from_name(const std::string& name) {
  for (NpyDType t : {NpyDType::UInt8, NpyDType::Int8, NpyDType::UInt16, NpyDType::Int16, NpyDType::UInt32,
                     NpyDType::Int32, NpyDType::Int64, NpyDType::Float32, NpyDType::Float64})
    if (name == npy_dtype_name(t)) return t;
  return std::nullopt;
}

int64_t NpyArray::elements() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

Expected<NpyArray> decode_npy(const std::string& bytes, const std::string& origin) {
  if (bytes.size() < kMagicLen || bytes.compare(0, kMagicLen, kMagic, kMagicLen) != 0)
    return npy_error(origin, "npy-bad-magic", "is not a NumPy .npy file (it does not start with \"\\x93NUMPY\")",
                     "write the array with numpy.save(); raw dumps must be named *.bin");
  if (bytes.size() < kMagicLen + 2)
    return npy_error(origin, "npy-truncated", "ends inside the format version");
  const int major = static_cast<unsigned char>(bytes[kMagicLen]);
  const int minor = static_cast<unsigned char>(bytes[kMagicLen + 1]);
  if (major < 1 || major > 3 || minor != 0)
    return npy_error(origin, "npy-bad-version",
                     fmt::format("has .npy format version {}.{}; dory reads 1.0, 2.0 and 3.0", major, minor));
  const size_t len_bytes = major == 1 ? 2 : 4;
  const size_t preamble = kMagicLen + 2 + len_bytes;
  if (bytes.size() < preamble) return npy_error(origin, "npy-truncated", "ends inside the header length");
  const auto* u = reinterpret_cast<const unsigned char*>(bytes.data());
  const uint64_t header_len = load_bits(u + kMagicLen + 2, static_cast<int>(len_bytes), ByteOrder::Little);
  if (header_len > bytes.size() - preamble)
    return npy_error(origin, "npy-truncated",
                     fmt::format("declares a {}-byte header but only {} bytes follow", header_len,
                                 bytes.size() - preamble));
  const std::string header = bytes.substr(preamble, header_len);

  std::vector<std::pair<std::string, PyValue>> dict;
  HeaderParser parser(header);
  if (!parser.parse_dict(dict))
    return npy_error(origin, "npy-bad-header", fmt::format("has a malformed header: {}", parser.error()));
  const PyValue *descr = nullptr, *fortran = nullptr, *shape = nullptr;
  for (const auto& [k, v] : dict) {
    if (k == "descr") descr = &v;
    else if (k == "fortran_order") fortran = &v;
    else if (k == "shape") shape = &v;
  }
  if (!descr || !fortran || !shape || descr->kind != PyValue::String || fortran->kind != PyValue::Bool ||
      shape->kind != PyValue::Tuple)
    return npy_error(origin, "npy-bad-header",
                     "header must have 'descr' (a string), 'fortran_order' (True/False) and 'shape' (a tuple)");
  NpyArray a;
  ByteOrder order{};
  if (!parse_descr(descr->str, a.dtype, order))
    return npy_error(origin, "npy-unsupported-dtype",
                     fmt::format("has element type '{}'; dory reads uint8, int8, uint16, int16, uint32, int32, "
                                 "int64, float32 and float64",
                                 descr->str),
                     "convert the array first, e.g. a.astype(numpy.int32)");
  if (fortran->boolean)
    return npy_error(origin, "npy-fortran-order", "is stored in Fortran (column-major) order; dory reads C order",
                     "save numpy.ascontiguousarray(a) instead");
  a.shape = shape->tuple;
  const size_t data_bytes = bytes.size() - preamble - header_len;
  const int item = npy_dtype_bytes(a.dtype);
  const auto n = checked_elements(a.shape, std::numeric_limits<int64_t>::max() / item);
  if (!n)
    return npy_error(origin, "npy-bad-shape", fmt::format("has shape {}, too large to be real", shape_text(a.shape)));
  const uint64_t need = static_cast<uint64_t>(*n) * static_cast<uint64_t>(item);
  if (data_bytes < need)
    return npy_error(origin, "npy-truncated",
                     fmt::format("is truncated: shape {} of {} needs {} data bytes, the file has {}",
                                 shape_text(a.shape), npy_dtype_name(a.dtype), need, data_bytes));
  if (data_bytes > need)
    return npy_error(origin, "npy-trailing-data",
                     fmt::format("has {} bytes after the {} data bytes of shape {} ({}); it is not a single array",
                                 data_bytes - need, need, shape_text(a.shape), npy_dtype_name(a.dtype)),
                     "save one array per file with numpy.save()");
  decode_elements(u + preamble + header_len, *n, a.dtype, order, a);
  return a;
}

Expected<std::string> read_file_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return make_error("io-read", fmt::format("file '{}'", path), "cannot be opened for reading");
  std::ostringstream ss;
  ss << f.rdbuf();
  if (f.bad()) return make_error("io-read", fmt::format("file '{}'", path), "could not be read");
  return ss.str();
}

Status write_file_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  if (!f) return make_error("io-write", fmt::format("file '{}'", path), "cannot be opened for writing");
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  f.close();
  if (!f) return make_error("io-write", fmt::format("file '{}'", path), "could not be written completely");
  return ok_status();
}

Expected<NpyArray> read_npy(const std::string& path) {
  DORY_TRY(std::string bytes, read_file_bytes(path));
  return decode_npy(bytes, path);
}

Expected<std::vector<int64_t>> npy_integer_values(const NpyArray& a, const std::string& origin) {
  if (npy_dtype_is_integer(a.dtype)) return a.int_values;
  std::vector<int64_t> out(a.values.size());
  constexpr double kTwo63 = 9223372036854775808.0;
  for (size_t i = 0; i < a.values.size(); ++i) {
    const double v = a.values[i];
    if (!std::isfinite(v) || v != std::floor(v) || v < -kTwo63 || v >= kTwo63)
      return npy_error(origin, "npy-not-integer",
                       fmt::format("element {} (flat index {}) is {}, not an integer; this {} array must hold "
                                   "integer values",
                                   index_text(a.shape, static_cast<int64_t>(i)), i, v, npy_dtype_name(a.dtype)),
                       "pass the quantized integer values (e.g. raw pixels), not normalized floats");
    out[i] = static_cast<int64_t>(v);
  }
  return out;
}

Expected<std::string> encode_npy(NpyDType dtype, const std::vector<int64_t>& shape,
                                 const std::vector<int64_t>& values) {
  DORY_CHECK(npy_dtype_is_integer(dtype), "encode_npy takes an integer dtype");
  const auto n = checked_elements(shape, std::numeric_limits<int64_t>::max());
  DORY_CHECK(n && *n == static_cast<int64_t>(values.size()), "npy shape does not match the value count");
  int64_t lo = 0, hi = 0;
  switch (dtype) {
    case NpyDType::UInt8: lo = 0, hi = 255; break;
    case NpyDType::Int8: lo = -128, hi = 127; break;
    case NpyDType::UInt16: lo = 0, hi = 65535; break;
    case NpyDType::Int16: lo = -32768, hi = 32767; break;
    case NpyDType::UInt32: lo = 0, hi = 4294967295LL; break;
    case NpyDType::Int32: lo = std::numeric_limits<int32_t>::min(), hi = std::numeric_limits<int32_t>::max(); break;
    default: lo = std::numeric_limits<int64_t>::min(), hi = std::numeric_limits<int64_t>::max(); break;
  }
  const int item = npy_dtype_bytes(dtype);
  std::string data;
  data.reserve(values.size() * static_cast<size_t>(item));
  for (size_t i = 0; i < values.size(); ++i) {
    if (values[i] < lo || values[i] > hi)
      return make_error("npy-value-range", "npy output",
                        fmt::format("element {} is {}, which does not fit {} [{}, {}]", i, values[i],
                                    npy_dtype_name(dtype), lo, hi));
    store_le(data, static_cast<uint64_t>(values[i]), item);
  }
  return encode_with_header(dtype, shape, data);
}

std::string encode_npy_float32(const std::vector<int64_t>& shape, const std::vector<float>& values) {
  const auto n = checked_elements(shape, std::numeric_limits<int64_t>::max());
  DORY_CHECK(n && *n == static_cast<int64_t>(values.size()), "npy shape does not match the value count");
  std::string data;
  data.reserve(values.size() * 4);
  for (float v : values) store_le(data, std::bit_cast<uint32_t>(v), 4);
  return encode_with_header(NpyDType::Float32, shape, data);
}

Status write_npy(const std::string& path, NpyDType dtype, const std::vector<int64_t>& shape,
                 const std::vector<int64_t>& values) {
  auto bytes = encode_npy(dtype, shape, values);
  if (!bytes) {
    Diagnostic d = bytes.error();
    d.location = fmt::format("file '{}'", path);
    return d;
  }
  return write_file_bytes(path, *bytes);
}

Status write_npy_float32(const std::string& path, const std::vector<int64_t>& shape,
                         const std::vector<float>& values) {
  return write_file_bytes(path, encode_npy_float32(shape, values));
}

Expected<NpyArray> decode_raw(const std::string& bytes, NpyDType dtype, const std::vector<int64_t>& shape,
                              const std::string& origin) {
  const int item = npy_dtype_bytes(dtype);
  const auto n = checked_elements(shape, std::numeric_limits<int64_t>::max() / item);
  DORY_CHECK(n.has_value(), "raw input shape overflows");
  const uint64_t need = static_cast<uint64_t>(*n) * static_cast<uint64_t>(item);
  if (bytes.size() != need)
    return npy_error(origin, "npy-raw-size",
                     fmt::format("has {} bytes; a raw {} array of shape {} has exactly {} ({} bytes per element, "
                                 "little endian, C order)",
                                 bytes.size(), npy_dtype_name(dtype), shape_text(shape), need, item),
                     bytes.size() >= kMagicLen && bytes.compare(0, kMagicLen, kMagic, kMagicLen) == 0
                         ? "this is an .npy file: name it *.npy"
                         : "");
  NpyArray a;
  a.dtype = dtype;
  a.shape = shape;
  decode_elements(reinterpret_cast<const unsigned char*>(bytes.data()), *n, dtype, ByteOrder::Little, a);
  return a;
}

Expected<NpyArray> read_raw(const std::string& path, NpyDType dtype, const std::vector<int64_t>& shape) {
  DORY_TRY(std::string bytes, read_file_bytes(path));
  return decode_raw(bytes, dtype, shape, path);
}

}  // namespace dory
