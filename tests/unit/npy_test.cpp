// util/npy: .npy round trips for every dtype, the header variants numpy writes, and malformed files that must be
// diagnosed (never crash).
#include "util/npy.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <bit>
#include <cstring>
#include <filesystem>
#include <limits>

namespace dory {
namespace {

// An .npy image built by hand: `dict` is the header dict literal, `data` the raw element bytes.
std::string make_npy(const std::string& dict, const std::string& data, int major = 1) {
  std::string header = dict;
  const size_t preamble = major == 1 ? 10 : 12;
  while ((preamble + header.size() + 1) % 64) header += ' ';
  header += '\n';
  std::string out("\x93NUMPY", 6);
  out += static_cast<char>(major);
  out += '\0';
  const size_t n = header.size();
  out += static_cast<char>(n & 0xff);
  out += static_cast<char>((n >> 8) & 0xff);
  if (major != 1) {
    out += static_cast<char>((n >> 16) & 0xff);
    out += static_cast<char>((n >> 24) & 0xff);
  }
  return out + header + data;
}

std::string be32(uint32_t v) {
  std::string s;
  for (int b = 3; b >= 0; --b) s += static_cast<char>((v >> (8 * b)) & 0xff);
  return s;
}
std::string le64(uint64_t v) {
  std::string s;
  for (int b = 0; b < 8; ++b) s += static_cast<char>((v >> (8 * b)) & 0xff);
  return s;
}

struct DTypeCase {
  NpyDType dtype;
  std::vector<int64_t> values;  // includes the type's extremes
};

TEST(NpyTest, IntegerDtypesRoundTripExactlyIncludingTheirExtremes) {
  const std::vector<DTypeCase> cases = {
      {NpyDType::UInt8, {0, 1, 127, 128, 255, 42}},
      {NpyDType::Int8, {-128, -1, 0, 1, 127, 5}},
      {NpyDType::UInt16, {0, 255, 256, 65535, 1000, 7}},
      {NpyDType::Int16, {-32768, -1, 0, 1, 32767, -300}},
      {NpyDType::UInt32, {0, 1, 65536, 4294967295LL, 2147483648LL, 9}},
      {NpyDType::Int32, {std::numeric_limits<int32_t>::min(), -1, 0, 1, std::numeric_limits<int32_t>::max(), 77}},
      {NpyDType::Int64, {std::numeric_limits<int64_t>::min(), -1, 0, 1, std::numeric_limits<int64_t>::max(), 3}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(npy_dtype_name(c.dtype));
    auto bytes = encode_npy(c.dtype, {2, 3}, c.values);
    ASSERT_TRUE(bytes.ok()) << bytes.error().str();
    EXPECT_EQ(bytes->size() % 64, (c.values.size() * npy_dtype_bytes(c.dtype)) % 64) << "header not 64-aligned";
    auto a = decode_npy(*bytes, "mem");
    ASSERT_TRUE(a.ok()) << a.error().str();
    EXPECT_EQ(a->dtype, c.dtype);
    EXPECT_EQ(a->shape, (std::vector<int64_t>{2, 3}));
    EXPECT_EQ(a->int_values, c.values);
    ASSERT_EQ(a->values.size(), c.values.size());
    for (size_t i = 0; i < c.values.size(); ++i) EXPECT_EQ(a->values[i], static_cast<double>(c.values[i]));
    auto ints = npy_integer_values(*a, "mem");
    ASSERT_TRUE(ints.ok());
    EXPECT_EQ(*ints, c.values);
  }
}

TEST(NpyTest, Float32RoundTripsBitExactly) {
  const std::vector<float> v = {0.0f, -0.0f, 1.5f, -3.25f, 1e-30f, 3.4e38f, 255.0f};
  auto a = decode_npy(encode_npy_float32({7}, v), "mem");
  ASSERT_TRUE(a.ok()) << a.error().str();
  EXPECT_EQ(a->dtype, NpyDType::Float32);
  EXPECT_EQ(a->shape, (std::vector<int64_t>{7}));
  EXPECT_TRUE(a->int_values.empty());
  for (size_t i = 0; i < v.size(); ++i)
    EXPECT_EQ(std::bit_cast<uint32_t>(static_cast<float>(a->values[i])), std::bit_cast<uint32_t>(v[i]));
}

TEST(NpyTest, WritesTheHeaderNumpyWrites) {
  auto bytes = encode_npy(NpyDType::Int16, {3}, {1, 2, 3});
  ASSERT_TRUE(bytes.ok());
  EXPECT_EQ(bytes->substr(0, 8), std::string("\x93NUMPY\x01\x00", 8));
  EXPECT_NE(bytes->find("{'descr': '<i2', 'fortran_order': False, 'shape': (3,), }"), std::string::npos);
  EXPECT_EQ((*bytes)[127], '\n');  // 10-byte preamble + header padded to 128
  EXPECT_EQ(bytes->size(), 128u + 6u);
}

TEST(NpyTest, ScalarAndEmptyShapes) {
  auto scalar = decode_npy(encode_npy(NpyDType::Int32, {}, {-7}).value(), "mem");
  ASSERT_TRUE(scalar.ok()) << scalar.error().str();
  EXPECT_TRUE(scalar->shape.empty());
  EXPECT_EQ(scalar->int_values, (std::vector<int64_t>{-7}));
  auto empty = decode_npy(encode_npy(NpyDType::UInt8, {0, 4}, {}).value(), "mem");
  ASSERT_TRUE(empty.ok()) << empty.error().str();
  EXPECT_EQ(empty->elements(), 0);
}

TEST(NpyTest, ReadsBigEndianIntegersAndFloats) {
  auto i4 = decode_npy(make_npy("{'descr': '>i4', 'fortran_order': False, 'shape': (2,), }",
                                be32(0x01020304u) + be32(0xfffffffeu)),
                       "mem");
  ASSERT_TRUE(i4.ok()) << i4.error().str();
  EXPECT_EQ(i4->int_values, (std::vector<int64_t>{0x01020304, -2}));

  auto f4 = decode_npy(make_npy("{'descr': '>f4', 'fortran_order': False, 'shape': (1,), }",
                                be32(std::bit_cast<uint32_t>(-2.5f))),
                       "mem");
  ASSERT_TRUE(f4.ok()) << f4.error().str();
  EXPECT_EQ(f4->values, (std::vector<double>{-2.5}));

  auto u2 = decode_npy(make_npy("{'descr': '>u2', 'fortran_order': False, 'shape': (1,), }", std::string("\xff\x01", 2)),
                       "mem");
  ASSERT_TRUE(u2.ok()) << u2.error().str();
  EXPECT_EQ(u2->int_values, (std::vector<int64_t>{0xff01}));
}

TEST(NpyTest, ReadsFloat64AndVersions2And3) {
  const std::string data = le64(std::bit_cast<uint64_t>(12.0)) + le64(std::bit_cast<uint64_t>(-0.5));
  for (int major : {1, 2, 3}) {
    SCOPED_TRACE(major);
    // Old writers used "L" suffixes and other key orders; accept both.
    auto a = decode_npy(make_npy("{'shape': (1L, 2L), 'fortran_order': False, 'descr': '<f8'}", data, major), "mem");
    ASSERT_TRUE(a.ok()) << a.error().str();
    EXPECT_EQ(a->dtype, NpyDType::Float64);
    EXPECT_EQ(a->shape, (std::vector<int64_t>{1, 2}));
    EXPECT_EQ(a->values, (std::vector<double>{12.0, -0.5}));
  }
}

TEST(NpyTest, FortranOrderIsRejectedWithAHint) {
  auto a = decode_npy(make_npy("{'descr': '<i4', 'fortran_order': True, 'shape': (2, 2), }", std::string(16, '\0')),
                      "x.npy");
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.error().code, "npy-fortran-order");
  EXPECT_NE(a.error().location.find("x.npy"), std::string::npos);
  EXPECT_NE(a.error().hint.find("ascontiguousarray"), std::string::npos);
}

TEST(NpyTest, EveryTruncationOfAValidFileIsDiagnosed) {
  const std::string full = encode_npy(NpyDType::Int32, {2, 3}, {1, 2, 3, 4, 5, 6}).value();
  for (size_t len = 0; len < full.size(); ++len) {
    auto a = decode_npy(full.substr(0, len), "cut.npy");
    ASSERT_FALSE(a.ok()) << "prefix of " << len << " bytes was accepted";
    EXPECT_EQ(a.error().code.rfind("npy-", 0), 0u) << a.error().code;
  }
  EXPECT_EQ(decode_npy(full.substr(0, 40), "cut.npy").error().code, "npy-truncated");  // inside the header
  auto data_cut = decode_npy(full.substr(0, full.size() - 1), "cut.npy");
  EXPECT_EQ(data_cut.error().code, "npy-truncated");
  EXPECT_NE(data_cut.error().message.find("needs 24 data bytes, the file has 23"), std::string::npos)
      << data_cut.error().message;
}

TEST(NpyTest, MalformedFilesAreDiagnosedByCode) {
  EXPECT_EQ(decode_npy("hello world", "f").error().code, "npy-bad-magic");
  EXPECT_EQ(decode_npy(std::string("\x93NUMPY\x04\x00", 8) + std::string(60, ' '), "f").error().code,
            "npy-bad-version");
  EXPECT_EQ(decode_npy(make_npy("{'descr': '<i4', 'fortran_order': False, 'shape': (2,", ""), "f").error().code,
            "npy-bad-header");
  EXPECT_EQ(decode_npy(make_npy("{'descr': '<i4', 'shape': (1,), }", std::string(4, '\0')), "f").error().code,
            "npy-bad-header");
  EXPECT_EQ(decode_npy(make_npy("{'descr': '<c8', 'fortran_order': False, 'shape': (1,), }", std::string(8, '\0')), "f")
                .error()
                .code,
            "npy-unsupported-dtype");
  EXPECT_EQ(decode_npy(make_npy("{'descr': [('a', '<i4')], 'fortran_order': False, 'shape': (1,), }",
                                std::string(4, '\0')),
                       "f")
                .error()
                .code,
            "npy-bad-header");
  // A huge shape must not make the reader allocate: it is checked against the bytes present.
  EXPECT_EQ(decode_npy(make_npy("{'descr': '<i4', 'fortran_order': False, 'shape': (4611686018427387904, 8), }", ""),
                       "f")
                .error()
                .code,
            "npy-bad-shape");
  EXPECT_EQ(decode_npy(make_npy("{'descr': '<i4', 'fortran_order': False, 'shape': (100000000000,), }", ""), "f")
                .error()
                .code,
            "npy-truncated");
  EXPECT_EQ(decode_npy(encode_npy(NpyDType::UInt8, {2}, {1, 2}).value() + "x", "f").error().code, "npy-trailing-data");
}

TEST(NpyTest, IntegerConversionNamesTheFirstNonIntegerElement) {
  const std::vector<float> v = {1, 2, 3, 4, 5, 6.5f, 7, 8.25f};
  auto a = decode_npy(encode_npy_float32({1, 2, 2, 2}, v), "in.npy");
  ASSERT_TRUE(a.ok());
  auto ints = npy_integer_values(*a, "in.npy");
  ASSERT_FALSE(ints.ok());
  EXPECT_EQ(ints.error().code, "npy-not-integer");
  EXPECT_NE(ints.error().message.find("element (0, 1, 0, 1) (flat index 5) is 6.5"), std::string::npos)
      << ints.error().message;

  auto whole = decode_npy(encode_npy_float32({3}, {-4.0f, 0.0f, 255.0f}), "in.npy");
  ASSERT_TRUE(whole.ok());
  EXPECT_EQ(npy_integer_values(*whole, "in.npy").value(), (std::vector<int64_t>{-4, 0, 255}));

  auto nan = decode_npy(encode_npy_float32({1}, {std::numeric_limits<float>::quiet_NaN()}), "in.npy");
  EXPECT_FALSE(npy_integer_values(*nan, "in.npy").ok());
}

TEST(NpyTest, WritingAValueOutsideTheDtypeIsAnError) {
  auto bytes = encode_npy(NpyDType::UInt8, {2}, {255, 256});
  ASSERT_FALSE(bytes.ok());
  EXPECT_EQ(bytes.error().code, "npy-value-range");
  EXPECT_NE(bytes.error().message.find("element 1 is 256"), std::string::npos);
}

TEST(NpyTest, FilesRoundTripAndRawDumpsAreCheckedForSize) {
  const auto dir = std::filesystem::temp_directory_path() / ("dory_npy_test_" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "a.npy").string();
  ASSERT_TRUE(write_npy(path, NpyDType::Int8, {1, 4}, {-1, 2, -3, 4}).ok());
  auto a = read_npy(path);
  ASSERT_TRUE(a.ok()) << a.error().str();
  EXPECT_EQ(a->int_values, (std::vector<int64_t>{-1, 2, -3, 4}));

  const std::string fpath = (dir / "f.npy").string();
  ASSERT_TRUE(write_npy_float32(fpath, {2}, {0.25f, 8.0f}).ok());
  EXPECT_EQ(read_npy(fpath)->values, (std::vector<double>{0.25, 8.0}));

  EXPECT_EQ(read_npy((dir / "missing.npy").string()).error().code, "io-read");

  auto raw = decode_raw(std::string("\x01\x00\xff\xff", 4), NpyDType::Int16, {1, 2}, "x.bin");
  ASSERT_TRUE(raw.ok()) << raw.error().str();
  EXPECT_EQ(raw->int_values, (std::vector<int64_t>{1, -1}));
  auto short_raw = decode_raw(std::string(3, '\0'), NpyDType::Int16, {1, 2}, "x.bin");
  ASSERT_FALSE(short_raw.ok());
  EXPECT_EQ(short_raw.error().code, "npy-raw-size");
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace dory
