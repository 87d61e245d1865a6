/* Random kernel calls for the differential mode (diff.c): one generator per family, each filling an argument
 * struct whose buffers live in the harness's L1 arena, with values that meet the preconditions of dory/kernels.h
 * and dory/requant.h (accumulator and requantization ranges bounded from the worst case, not from the data). */
#ifndef DORY_BENCH_GVSOC_CASES_H
#define DORY_BENCH_GVSOC_CASES_H

#include "harness.h"

enum { F_CONV, F_POINTWISE, F_DEPTHWISE, F_FC, F_MAXPOOL, F_AVGPOOL, F_ADD, F_REQUANTIZE, F_COUNT };
extern const char *const family_names[F_COUNT];

/* One generated call: the args (one of the structs), the buffers the kernels write, and a description. */
typedef struct {
  int family;
  int cores;
  union {
    dory_conv_args conv;
    dory_fc_args fc;
    dory_maxpool_args maxpool;
    dory_avgpool_args avgpool;
    dory_add_args add;
    dory_requantize_args requantize;
  } u;
  void *out;
  uint32_t out_bytes;
  uint8_t out_type;
  int32_t out_h, out_w, out_c;
  int32_t *psum;
  uint32_t psum_bytes;
  char desc[400];
  uint32_t features; /* F_* bits for the coverage summary */
} kcase;

/* Feature bits (coverage). */
enum {
  CF_ZP = 1u << 0,          /* input zero point != 0 */
  CF_PSUM = 1u << 1,        /* first/last not both 1 */
  CF_RAW32 = 1u << 2,       /* has_requant = 0 (int32 out) */
  CF_OUT8 = 1u << 3,        /* u8/s8 out */
  CF_OUT16 = 1u << 4,       /* 16-bit out */
  CF_WIDE = 1u << 5,        /* 64-bit requant */
  CF_PERCH = 1u << 6,       /* per-channel parameters */
  CF_NONPOW2 = 1u << 7,     /* divisor not a power of two */
  CF_TRUNC = 1u << 8,       /* truncating rounding */
  CF_CH_REM = 1u << 9,      /* channels % 4 != 0 */
  CF_ODDW = 1u << 10,       /* odd output width */
  CF_BIGPAD = 1u << 11,     /* padding >= kernel size somewhere */
  CF_STRIDE = 1u << 12,     /* stride > 1 */
  CF_SPLITCH = 1u << 13,    /* channel split */
  CF_8CORES = 1u << 14,
  CF_1CORE = 1u << 15,
  CF_FAST = 1u << 16,       /* the fast requantization's conditions hold (32-bit, 2^s, floor, 8-bit out) */
  CF_FAST_MAXMIN = 1u << 17, /* ... with first && last: the asm clamps with p.max/p.min (lo != 0) */
  CF_FAST_CLIPU = 1u << 18,  /* ... lo == 0, zero point != 0 */
  CF_FAST_NOZP = 1u << 19,   /* ... lo == 0, zero point 0 */
  CF_FAST64 = 1u << 20,      /* the 64-bit fast requantization's conditions (2^s, floor, m 2^max(0, 32-s) in int32) */
  CF_SPLITAUTO = 1u << 21,   /* DORY_SPLIT_AUTO */
  CF_DW_PAIRS = 1u << 22,    /* depthwise 3x3, stride 1, width % 4 == 0, >= 2 rows, clipu: the two-row asm's shapes */
  CF_COUNT_BITS = 23
};
extern const char *const feature_names[CF_COUNT_BITS];

/* Generates a random call of family f into the arena (reset by the caller). Returns 0 if it did not fit (the
 * caller retries). */
int gen_case(rng_t *r, h_arena *A, int f, kcase *k);

#endif /* DORY_BENCH_GVSOC_CASES_H */
