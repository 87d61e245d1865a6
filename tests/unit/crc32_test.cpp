// dory/crc32.h is zlib's CRC-32: the check value of the standard, and random buffers of every length against zlib
// itself (an independent implementation), incremental or not.
#include "dory/crc32.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <random>
#include <string>
#include <vector>

namespace dory {
namespace {

uint32_t crc_of(const uint8_t* p, size_t n) { return dory_crc32_end(dory_crc32_bytes(dory_crc32_begin(), p, n)); }

TEST(Crc32, TheStandardCheckValue) {
  const std::string s = "123456789";
  EXPECT_EQ(crc_of(reinterpret_cast<const uint8_t*>(s.data()), s.size()), 0xCBF43926u);
  EXPECT_EQ(crc_of(nullptr, 0), 0u);
}

TEST(Crc32, AgreesWithZlibOnRandomBuffersFedInPieces) {
  std::mt19937 rng(11);
  for (size_t n : {1u, 2u, 3u, 15u, 16u, 17u, 255u, 4096u, 12345u}) {
    std::vector<uint8_t> b(n);
    for (uint8_t& x : b) x = static_cast<uint8_t>(rng());
    const uLong z = crc32(crc32(0L, Z_NULL, 0), b.data(), static_cast<uInt>(n));
    EXPECT_EQ(crc_of(b.data(), n), static_cast<uint32_t>(z)) << n;
    uint32_t st = dory_crc32_begin();  // as main.c feeds it: pixel by pixel
    for (size_t i = 0; i < n; i += 7) st = dory_crc32_bytes(st, b.data() + i, std::min<size_t>(7, n - i));
    EXPECT_EQ(dory_crc32_end(st), static_cast<uint32_t>(z)) << n;
    b[n / 2] ^= 1;  // one flipped bit changes it
    EXPECT_NE(crc_of(b.data(), n), static_cast<uint32_t>(z)) << n;
  }
}

}  // namespace
}  // namespace dory
