/* bench/gvsoc main (fabric controller): the platform, the ISA self-test, then the differential or the benchmark
 * mode (compile-time: -DBENCH_MODE=1 diff, 2 bench; -DBENCH_SEED, -DBENCH_CASES, -DBENCH_FAMILIES a bit mask of
 * cases.h's families). Exit status 0 when everything passed (run.sh prints the output). */
#include "cases.h"

#ifndef BENCH_MODE
#define BENCH_MODE 1
#endif
#ifndef BENCH_SEED
#define BENCH_SEED 1
#endif
#ifndef BENCH_CASES
#define BENCH_CASES 40
#endif
#ifndef BENCH_FAMILIES
#define BENCH_FAMILIES 0xFF
#endif


static uint8_t g_l2_arena[64];

int main(void) {
  int rc;
  dory_pulp_init(h_l1, H_L1_BYTES, g_l2_arena, sizeof g_l2_arena, 0);
  rc = isa_selftest(BENCH_SEED);
  if (rc == 0) rc = BENCH_MODE == 2 ? bench_mode(BENCH_FAMILIES) : diff_mode(BENCH_SEED, BENCH_CASES, BENCH_FAMILIES);
  dory_pulp_shutdown();
  return rc;
}
