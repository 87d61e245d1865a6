/* bench/gvsoc/l3_probe: the timing of pulp-open's L3 (the board's HyperRAM through the uDMA's HyperBus channel,
 * runtime/hal/pulp-open/l3_hyper.c) measured on GVSoC, on the fabric controller, through dory's own HAL calls
 * (dory_l3_start / dory_l3_wait), so the numbers are what the executor's L3 schedule gets.
 *
 * For each direction and size n (4 B .. 64 kB): the cycles (FC mcycle = cluster cycles in this model) from
 * dory_l3_start to the return of dory_l3_wait of one transfer (the minimum of 3), the cycles dory_l3_start alone
 * takes (the driver's register writes: the issue cost), and the streaming rate of 8 transfers of 16 kB in flight
 * at once. A least-squares line through the single transfers gives latency + n / bandwidth: the figures
 * targets/pulp-open.json's hyperbus_udma entry takes (setup_cycles + issue_cycles, bandwidth_bytes_per_cycle,
 * reverse_bandwidth_bytes_per_cycle). Every transfer is checked: a pattern written to L3 and read back must be
 * the same bytes (a timing over a transfer that moved nothing would be meaningless). Exit status 0 when every
 * check passed; the table goes to stdout (bench/gvsoc/run.sh l3 prints it; docs/results.md records it). */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "dory/hal.h"
#include "dory/hal_pulp_open.h"

#define PROBE_MAX 65532u
#define PROBE_STREAM_BYTES 16384u
#define PROBE_STREAM_JOBS 8u

static uint8_t g_l1[64] DORY_PULP_L1_SECTION;
static uint8_t g_l2[2 * PROBE_MAX + 8] __attribute__((aligned(4)));

static uint32_t cycles32(void) { return (uint32_t)dory_cycles(); }

/* One transfer, timed from start to the end of its wait; *issue gets the start call's own cycles. */
static uint32_t one(uint8_t dir, void *l2, uint32_t l3, uint32_t n, uint32_t *issue) {
  dory_l3_desc d;
  dory_dma_job j;
  uint32_t t0, t1, t2;
  d.l2 = l2;
  d.l3 = l3;
  d.bytes = n;
  d.dir = dir;
  t0 = cycles32();
  j = dory_l3_start(&d);
  t1 = cycles32();
  dory_l3_wait(j);
  t2 = cycles32();
  *issue = t1 - t0;
  return t2 - t0;
}

static void fill(uint8_t *p, uint32_t n, uint32_t seed) {
  uint32_t i, x = seed * 2654435761u + 1u;
  for (i = 0; i < n; ++i) {
    x = x * 1103515245u + 12345u;
    p[i] = (uint8_t)(x >> 16);
  }
}

/* Least squares y = a + b n over k points. */
static void line(const double *n, const double *y, int k, double *a, double *b) {
  double sn = 0, sy = 0, snn = 0, sny = 0;
  int i;
  for (i = 0; i < k; ++i) {
    sn += n[i];
    sy += y[i];
    snn += n[i] * n[i];
    sny += n[i] * y[i];
  }
  *b = (k * sny - sn * sy) / (k * snn - sn * sn);
  *a = (sy - *b * sn) / k;
}

int main(void) {
  static const uint32_t sizes[] = {4, 64, 256, 1024, 4096, 16384, PROBE_MAX};
  enum { NS = sizeof sizes / sizeof sizes[0] };
  uint8_t *src = g_l2, *back = g_l2 + PROBE_MAX + 4;
  double ns[NS], y[2][NS], a[2], b[2];
  uint32_t issue_min[2] = {0xFFFFFFFFu, 0xFFFFFFFFu};
  int s, d, rep, fails = 0;
  dory_pulp_init(g_l1, sizeof g_l1, g_l2, sizeof g_l2, 0);
  dory_pulp_init_l3(1u << 20);
  printf("L3 probe: pulp-open HyperRAM through the uDMA HyperBus channel (dory_l3_start/wait on the FC)\n");
  printf("| bytes | L2->L3 cycles | L3->L2 cycles | L2->L3 B/cycle | L3->L2 B/cycle |\n|--:|--:|--:|--:|--:|\n");
  for (s = 0; s < NS; ++s) {
    const uint32_t n = sizes[s], l3 = 4096u * (uint32_t)s;
    uint32_t best[2] = {0xFFFFFFFFu, 0xFFFFFFFFu};
    for (rep = 0; rep < 3; ++rep) {
      uint32_t iss, t;
      fill(src, n, (uint32_t)(s * 3 + rep));
      memset(back, 0x5A, n + 4);
      t = one(DORY_L2_TO_L3, src, l3, n, &iss);
      if (t < best[1]) best[1] = t;
      if (iss < issue_min[1]) issue_min[1] = iss;
      t = one(DORY_L3_TO_L2, back, l3, n, &iss);
      if (t < best[0]) best[0] = t;
      if (iss < issue_min[0]) issue_min[0] = iss;
      if (memcmp(src, back, n) != 0) {
        printf("FAIL: %lu bytes read back from L3 differ from those written\n", (unsigned long)n);
        ++fails;
      }
    }
    ns[s] = (double)n;
    y[0][s] = (double)best[0];
    y[1][s] = (double)best[1];
    printf("| %lu | %lu | %lu | %.3f | %.3f |\n", (unsigned long)n, (unsigned long)best[1], (unsigned long)best[0],
           (double)n / best[1], (double)n / best[0]);
  }
  for (d = 0; d < 2; ++d) line(ns, y[d], NS, &a[d], &b[d]);
  {
    /* streaming: PROBE_STREAM_JOBS transfers in flight (the executor keeps the next blocks queued) */
    dory_dma_job jobs[PROBE_STREAM_JOBS];
    dory_l3_desc dd;
    uint32_t t0, t1, i;
    double rate[2];
    for (d = 0; d < 2; ++d) {
      t0 = cycles32();
      for (i = 0; i < PROBE_STREAM_JOBS; ++i) {
        dd.l2 = (d == 0 ? back : src) + (i % 4u) * PROBE_STREAM_BYTES;
        dd.l3 = 65536u + i * PROBE_STREAM_BYTES;
        dd.bytes = PROBE_STREAM_BYTES;
        dd.dir = d == 0 ? DORY_L3_TO_L2 : DORY_L2_TO_L3;
        jobs[i] = dory_l3_start(&dd);
      }
      for (i = 0; i < PROBE_STREAM_JOBS; ++i) dory_l3_wait(jobs[i]);
      t1 = cycles32();
      rate[d] = (double)(PROBE_STREAM_JOBS * PROBE_STREAM_BYTES) / (double)(t1 - t0);
    }
    printf("\nfit over the single transfers (cycles = latency + bytes / bandwidth):\n");
    printf("  L3 -> L2: latency %.1f cycles (of which dory_l3_start %lu), bandwidth %.4f B/cycle\n", a[0],
           (unsigned long)issue_min[0], 1.0 / b[0]);
    printf("  L2 -> L3: latency %.1f cycles (of which dory_l3_start %lu), bandwidth %.4f B/cycle\n", a[1],
           (unsigned long)issue_min[1], 1.0 / b[1]);
    printf("  streaming %u x %u B in flight: L3 -> L2 %.4f B/cycle, L2 -> L3 %.4f B/cycle\n",
           (unsigned)PROBE_STREAM_JOBS, (unsigned)PROBE_STREAM_BYTES, rate[0], rate[1]);
    printf("l3probe read_latency %.1f read_bw %.4f write_latency %.1f write_bw %.4f issue %lu stream_read %.4f "
           "stream_write %.4f\n",
           a[0], 1.0 / b[0], a[1], 1.0 / b[1], (unsigned long)issue_min[0], rate[0], rate[1]);
  }
  dory_pulp_shutdown_l3();
  dory_pulp_shutdown();
  if (fails) printf("L3 probe: %d transfers read back wrong\n", fails);
  return fails ? 1 : 0;
}
