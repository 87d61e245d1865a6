/* bench/gvsoc: the bare-metal kernel harness for PULP-open under GVSoC (README.md beside this file).
 *
 * main.c (on the fabric controller) runs, per build mode: the ISA self-test (isa_selftest.c, always first), the
 * differential mode (diff.c: random layers, every xpulpv2 kernel against its portable twin, canaries) or the
 * benchmark mode (bench.c: MAC/cycle per family and shape on 8 and 1 cores). This header: the PRNG, the L1 arena
 * with canaries, and running a kernel as a cluster task.
 */
#ifndef DORY_BENCH_GVSOC_HARNESS_H
#define DORY_BENCH_GVSOC_HARNESS_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "dory/hal_pulp_open.h"
#include "dory/kernels.h"

/* ---- PRNG: splitmix64 (deterministic from the seed) -------------------------------------------------------- */

typedef struct {
  uint64_t s;
} rng_t;

static inline uint64_t rng_next(rng_t *r) {
  uint64_t z = (r->s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}
static inline uint32_t rng_u32(rng_t *r) { return (uint32_t)(rng_next(r) >> 32); }
/* Uniform in [lo, hi] (hi - lo < 2^32). */
static inline int64_t rng_range(rng_t *r, int64_t lo, int64_t hi) {
  const uint64_t span = (uint64_t)(hi - lo) + 1u;
  return lo + (int64_t)(span ? rng_next(r) % span : rng_next(r));
}
static inline int rng_chance(rng_t *r, int percent) { return (int)(rng_u32(r) % 100u) < percent; }

/* ---- the L1 arena: buffers separated by canary gaps ---------------------------------------------------------- */

#define H_L1_BYTES 35000u
#define H_GAP 8u         /* canary bytes between buffers */
#define H_MAX_BUFS 24
#define H_CHECK_TAIL 512u /* canary bytes checked after the last buffer (the rest of the arena is not written) */

typedef struct {
  uint8_t *p;
  uint32_t bytes;
  uint8_t writable; /* out, psum, scratch: the kernel may write them; others must keep their bytes */
  uint32_t hash;
} h_buf;

typedef struct {
  uint8_t *base;
  uint32_t used;
  uint8_t canary;
  h_buf bufs[H_MAX_BUFS];
  int n;
  int overflow; /* an allocation did not fit */
} h_arena;

extern uint8_t h_l1[H_L1_BYTES];

/* Starts a fresh arena filled with the canary byte (keep one value per run: a new value refills all of L1). */
void h_arena_reset(h_arena *A, uint8_t canary);
/* A 4-byte aligned buffer of n bytes after a canary gap (NULL and A->overflow set when it does not fit; n = 0 gives
 * a valid pointer to an empty buffer). */
void *h_alloc(h_arena *A, uint32_t n, int writable);
/* Hashes the read-only buffers (call after filling them). */
void h_seal(h_arena *A);
/* Returns "" if every canary byte (the gaps, and H_CHECK_TAIL bytes after the last buffer) and every read-only
 * buffer is intact, else a description of the first damage. */
const char *h_check(const h_arena *A);
uint32_t h_hash(const void *p, uint32_t n);

/* ---- running a kernel --------------------------------------------------------------------------------------- */

typedef void (*h_kernel_fn)(const void *args);

/* Runs fn(args) on `cores` cluster cores (dory_pulp_set_cores) with a copy of the args_bytes of args in TCDM (where
 * the executor has them), and returns the task's cycles (the slowest core). */
#define H_MAX_ARGS_BYTES 512u
uint32_t h_run(h_kernel_fn fn, const void *args, uint32_t args_bytes, int cores);

/* ---- the modes (main.c) -------------------------------------------------------------------------------------- */

int isa_selftest(uint32_t seed);                                         /* isa_selftest.c */
int diff_mode(uint32_t seed, int cases_per_family, uint32_t family_mask); /* diff.c */
int bench_mode(uint32_t family_mask);                                    /* bench.c */

#endif /* DORY_BENCH_GVSOC_HARNESS_H */
