/* dory/crc32.h - THE checksum of a layer's output: CRC-32 as zlib and IEEE 802.3 define it (reflected polynomial
 * 0xEDB88320, initial value and final XOR 0xFFFFFFFF; the CRC of "123456789" is 0xCBF43926).
 *
 * The compiler computes the expected CRC of every layer from the reference executor's values and the generated
 * application recomputes it from the layer's output in L2; both compile this header, so they cannot disagree.
 * The bytes of a layer's output are its elements in dense HWC order (h, w, c; channels innermost), each in its
 * element type's little-endian bytes.
 *
 * Half-byte table (16 words, 64 bytes of read-only data): two lookups per byte, a few instructions each; small
 * enough for any L2, fast enough to check every layer of a network in a fraction of its inference time.
 * C99, no dependencies. */
#ifndef DORY_CRC32_H
#define DORY_CRC32_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The running state of a CRC: start from dory_crc32_begin(), feed bytes, read dory_crc32_end(). */
static inline uint32_t dory_crc32_begin(void) { return 0xFFFFFFFFu; }

static inline uint32_t dory_crc32_byte(uint32_t state, uint8_t byte) {
  static const uint32_t nibble[16] = {0x00000000u, 0x1DB71064u, 0x3B6E20C8u, 0x26D930ACu, 0x76DC4190u, 0x6B6B51F4u,
                                      0x4DB26158u, 0x5005713Cu, 0xEDB88320u, 0xF00F9344u, 0xD6D6A3E8u, 0xCB61B38Cu,
                                      0x9B64C2B0u, 0x86D3D2D4u, 0xA00AE278u, 0xBDBDF21Cu};
  state ^= byte;
  state = (state >> 4) ^ nibble[state & 15u];
  state = (state >> 4) ^ nibble[state & 15u];
  return state;
}

static inline uint32_t dory_crc32_bytes(uint32_t state, const uint8_t *p, size_t n) {
  size_t i;
  for (i = 0; i < n; ++i) state = dory_crc32_byte(state, p[i]);
  return state;
}

static inline uint32_t dory_crc32_end(uint32_t state) { return state ^ 0xFFFFFFFFu; }

#ifdef __cplusplus
}
#endif

#endif /* DORY_CRC32_H */
