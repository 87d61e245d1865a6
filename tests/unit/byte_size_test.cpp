// util/byte_size: sizes and sweep ranges as typed on the command line.
#include "util/byte_size.h"

#include <gtest/gtest.h>

namespace dory {
namespace {

int64_t size(const char* s) {
  Expected<int64_t> v = parse_byte_size(s, "--l1");
  EXPECT_TRUE(v.ok()) << s << ": " << (v.ok() ? "" : v.error().str());
  return v.ok() ? *v : -1;
}

TEST(ByteSize, AcceptsBytesAndBinaryKAndMSuffixesInAnyCase) {
  EXPECT_EQ(size("36700"), 36700);
  EXPECT_EQ(size("36k"), 36 * 1024);
  EXPECT_EQ(size("36K"), 36 * 1024);
  EXPECT_EQ(size("64KiB"), 65536);
  EXPECT_EQ(size("64kB"), 65536);
  EXPECT_EQ(size("1M"), 1 << 20);
  EXPECT_EQ(size("1.5k"), 1536);
  EXPECT_EQ(size("100b"), 100);
}

TEST(ByteSize, RejectsWhatIsNotASizeWithTheFlagNamed) {
  for (const char* bad : {"", "k", "-5", "36q", "0.3", "1.2.3k", "36 k", "2T"}) {
    Expected<int64_t> v = parse_byte_size(bad, "--l1");
    ASSERT_FALSE(v.ok()) << bad;
    EXPECT_EQ(v.error().code, "cli-bad-size");
    EXPECT_EQ(v.error().location, "--l1");
  }
}

TEST(SizeRange, LinearStepsIncludeBothEnds) {
  Expected<std::vector<int64_t>> r = parse_size_range("8k:16k:2k", "--l1");
  ASSERT_TRUE(r.ok()) << r.error().str();
  EXPECT_EQ(*r, (std::vector<int64_t>{8192, 10240, 12288, 14336, 16384}));
  r = parse_size_range("8k:15k:4k", "--l1");  // HI is always a point
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, (std::vector<int64_t>{8192, 12288, 15360}));
}

TEST(SizeRange, GeometricStepsMultiply) {
  Expected<std::vector<int64_t>> r = parse_size_range("8k:128k:x2", "--l1");
  ASSERT_TRUE(r.ok()) << r.error().str();
  EXPECT_EQ(*r, (std::vector<int64_t>{8192, 16384, 32768, 65536, 131072}));
}

TEST(SizeRange, WithoutAStepUsesFourKOrThePowerOfTwoProgression) {
  Expected<std::vector<int64_t>> r = parse_size_range("8k:128k", "--l1");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->size(), 31u);  // 8k, 12k, ..., 128k
  EXPECT_EQ(r->front(), 8192);
  EXPECT_EQ(r->back(), 131072);
  r = parse_size_range("6k:20k", "--l1");  // LO, then the multiples of 4k
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, (std::vector<int64_t>{6144, 8192, 12288, 16384, 20480}));
  r = parse_size_range("128:128k", "--l1");  // wider than 16x: powers of two and their midpoints
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->size(), 21u);
  EXPECT_EQ((*r)[0], 128);
  EXPECT_EQ((*r)[1], 192);
  EXPECT_EQ((*r)[2], 256);
  EXPECT_EQ(r->back(), 131072);
  r = parse_size_range("1000:5000", "--l1");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, (std::vector<int64_t>{1000, 4096, 5000}));
}

TEST(SizeRange, RejectsReversedEmptyAndMalformedRanges) {
  for (const char* bad : {"128k:8k", "8k", "8k:16k:0", "8k:16k:x1", "8k:16k:xq", "0:8k", "a:b", "1:2:3:4"}) {
    Expected<std::vector<int64_t>> r = parse_size_range(bad, "--l1");
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_TRUE(r.error().code == "cli-bad-range" || r.error().code == "cli-bad-size") << r.error().str();
  }
}

TEST(FormatKibShort, UsesWholeKibWhenExact) {
  EXPECT_EQ(format_kib_short(512), "512");
  EXPECT_EQ(format_kib_short(65536), "64k");
  EXPECT_EQ(format_kib_short(1536), "1.5k");
  EXPECT_EQ(format_kib_short(36700), "35.8k");
  EXPECT_EQ(format_kib_short(1 << 20), "1M");
}

TEST(FormatBytes, GroupsThousandsAndRoundsHintsUpToWholeKib) {
  EXPECT_EQ(format_bytes_grouped(70144), "70,144");
  EXPECT_EQ(format_bytes_grouped(999), "999");
  EXPECT_EQ(format_bytes_grouped(1000000), "1,000,000");
  EXPECT_EQ(format_bytes_grouped(-1234), "-1,234");
  EXPECT_EQ(format_kib_ceil(70144), "69k");
  EXPECT_EQ(format_kib_ceil(1024), "1k");
  EXPECT_GE(*parse_byte_size(format_kib_ceil(70144), "--l1"), 70144);  // a hint pasted back is never short
}

}  // namespace
}  // namespace dory
