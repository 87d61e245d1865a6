/* The harness on the host (run.sh model): the xpulpv2 kernels' drivers with the C models of their asm blocks
 * (-DDORY_XP_HOST_MODEL, xpulp.h), the cores of a task run one after the other (kernels never synchronize, so
 * this is one valid interleaving), then the differential mode as on GVSoC. Checks the drivers' logic (blocks,
 * patches, paths, splits) on many cases in seconds; the asm blocks themselves are checked on GVSoC. */
#include <stdlib.h>

#include "cases.h"

static int g_cores = 8, g_id = -1;

int dory_core_id(void) { return g_id < 0 ? 0 : g_id; }
int dory_core_count(void) { return g_cores; }
void dory_barrier(void) {}
void dory_panic(const char *msg) {
  printf("dory runtime: %s\n", msg);
  exit(1);
}
void dory_pulp_set_cores(int n) { g_cores = n; }
void dory_pulp_exit(int status) { exit(status); }
dory_pulp_counters dory_pulp_take_counters(void) {
  dory_pulp_counters c;
  memset(&c, 0, sizeof c);
  return c;
}
void dory_cluster_run(dory_task_fn fn, void *arg) {
  /* reverse order: a core reading what a later core writes would show up */
  for (g_id = g_cores - 1; g_id >= 0; --g_id) fn(arg);
  g_id = -1;
}


int main(int argc, char **argv) {
  const uint32_t seed = argc > 1 ? (uint32_t)strtoul(argv[1], 0, 0) : 1u;
  const int cases = argc > 2 ? atoi(argv[2]) : 2000;
  const uint32_t mask = argc > 3 ? (uint32_t)strtoul(argv[3], 0, 0) : 0xFFu;
  return diff_mode(seed, cases, mask);
}
