/* bench/gvsoc/dma_probe: the timing of pulp-open's cluster DMA (MCHAN, runtime/hal/pulp-open/hal_pulp_open.c)
 * measured on GVSoC from cluster core 0, through dory's own HAL calls (dory_dma_start / dory_dma_wait), so the
 * numbers are what the executor's tiles get.
 *
 * For each direction, line size (1 .. 512 B) and line count (1 .. 64): one 2-D transfer of `lines` lines of
 * `line_bytes` bytes, contiguous in L1 and `2 * line_bytes` apart in L2 (the shape of a tile's rows or pixels
 * inside a larger map; one line is a 1-D command), timed from dory_dma_start to the return of dory_dma_wait (the
 * minimum of 3). A least-squares fit over all of them gives
 *     cycles = latency + lines * line_cycles + bytes / bandwidth
 * the terms of targets/pulp-open.json's cluster_dma entry (setup_cycles + issue_cycles + transfer_cycles:
 * latency; row_cycles: line_cycles; bandwidth_bytes_per_cycle, reverse_bandwidth_bytes_per_cycle). Every transfer is
 * checked: the bytes that arrive must be the bytes sent, and the L2 gaps between lines must stay untouched (a
 * timing over a transfer that moved nothing, or the wrong bytes, would be meaningless). Exit status 0 when every
 * check passed; the table goes to stdout (bench/gvsoc/run.sh dma prints it; docs/results.md records it). */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "dory/hal.h"
#include "dory/hal_pulp_open.h"

#define PROBE_MAX_LINE 512u
#define PROBE_MAX_LINES 64u
#define PROBE_L1_BYTES (PROBE_MAX_LINE * PROBE_MAX_LINES)
#define PROBE_L2_BYTES (2u * PROBE_L1_BYTES)

static uint8_t g_l1[PROBE_L1_BYTES] DORY_PULP_L1_SECTION;
static uint8_t g_l2[PROBE_L2_BYTES + 2u * PROBE_L1_BYTES] __attribute__((aligned(4)));

static const uint32_t k_line_bytes[] = {16, 32, 64, 128, 256, 512};
static const uint32_t k_lines[] = {1, 4, 16, 64};
enum { NB = sizeof k_line_bytes / sizeof k_line_bytes[0], NL = sizeof k_lines / sizeof k_lines[0] };

static const uint32_t k_planes[] = {1, 2, 4, 8, 16, 32};
enum { NP = sizeof k_planes / sizeof k_planes[0] };
#define PROBE_PLANE_LINES 4u
#define PROBE_PLANE_LINE_BYTES 16u

typedef struct {
  uint32_t cycles[2][NB][NL];
  uint32_t plane_cycles[2][NP]; /* 3-D boxes: planes x 4 lines x 16 B, one MCHAN command per plane */ /* [dir: 0 L2->L1, 1 L1->L2][line size][line count], the minimum of 3 */
  uint32_t issue_min;         /* dory_dma_start's own cycles, the least seen */
  int fails;
} probe_result;

static uint32_t cycles32(void) { return (uint32_t)dory_cycles(); }

static void fill(uint8_t *p, uint32_t n, uint32_t seed) {
  uint32_t i, x = seed * 2654435761u + 1u;
  for (i = 0; i < n; ++i) {
    x = x * 1103515245u + 12345u;
    p[i] = (uint8_t)(x >> 16);
  }
}

/* One strided transfer between the L2 region at l2 (lines 2 * b apart) and L1 (dense); returns its cycles. */
static uint32_t one(uint8_t to_l1, uint8_t *l2, uint32_t b, uint32_t n, uint32_t *issue) {
  const dory_dma_desc d = to_l1 ? dory_dma_3d(g_l1, b, b * n, l2, 2u * b, 2u * b * n, b, n, 1, DORY_DMA_L2_TO_L1)
                                : dory_dma_3d(l2, 2u * b, 2u * b * n, g_l1, b, b * n, b, n, 1, DORY_DMA_L1_TO_L2);
  uint32_t t0, t1, t2;
  dory_dma_job j;
  t0 = cycles32();
  j = dory_dma_start(&d);
  t1 = cycles32();
  dory_dma_wait(j);
  t2 = cycles32();
  *issue = t1 - t0;
  return t2 - t0;
}

/* Checks line by line: L1 holds what L2's lines hold, and the gaps between L2's lines hold `gap`. */
static int check(const uint8_t *l2, uint32_t b, uint32_t n, uint8_t gap) {
  uint32_t i, k;
  for (i = 0; i < n; ++i) {
    if (memcmp(g_l1 + i * b, l2 + 2u * i * b, b) != 0) return 0;
    for (k = 0; k < b; ++k)
      if (l2[2u * i * b + b + k] != gap) return 0;
  }
  return 1;
}

/* A box of `planes` planes of PROBE_PLANE_LINES lines of PROBE_PLANE_LINE_BYTES bytes: lines 2 x 16 B apart in L2,
 * planes 4 x that apart (so neither merges: one 2-D command per plane), dense in L1. */
static uint32_t box(uint8_t to_l1, uint8_t *l2, uint32_t planes) {
  const uint32_t b = PROBE_PLANE_LINE_BYTES, n = PROBE_PLANE_LINES, rs = 2u * b, ps = 4u * rs * n;
  const dory_dma_desc d = to_l1 ? dory_dma_3d(g_l1, b, b * n, l2, rs, ps, b, n, planes, DORY_DMA_L2_TO_L1)
                                : dory_dma_3d(l2, rs, ps, g_l1, b, b * n, b, n, planes, DORY_DMA_L1_TO_L2);
  uint32_t t0 = cycles32();
  dory_dma_wait(dory_dma_start(&d));
  return cycles32() - t0;
}

static int box_ok(const uint8_t *l2, uint32_t planes) {
  const uint32_t b = PROBE_PLANE_LINE_BYTES, n = PROBE_PLANE_LINES;
  uint32_t p, i;
  for (p = 0; p < planes; ++p)
    for (i = 0; i < n; ++i)
      if (memcmp(g_l1 + (p * n + i) * b, l2 + p * 8u * b * n + 2u * i * b, b) != 0) return 0;
  return 1;
}

static void probe_task(void *arg) {
  probe_result *r = (probe_result *)arg;
  int s, l, rep, dir;
  if (dory_core_id() != 0) return; /* the executor's DMA comes from core 0; the others idle */
  r->issue_min = 0xFFFFFFFFu;
  for (s = 0; s < NB; ++s)
    for (l = 0; l < NL; ++l)
      for (dir = 0; dir < 2; ++dir) {
        const uint32_t b = k_line_bytes[s], n = k_lines[l];
        uint32_t best = 0xFFFFFFFFu;
        for (rep = 0; rep < 3; ++rep) {
          uint32_t iss, t;
          const uint32_t seed = (uint32_t)(((s * NL + l) * 2 + dir) * 3 + rep);
          if (dir == 0) { /* L2 -> L1: the lines from a filled L2 region, gaps 0x5A */
            uint32_t i;
            memset(g_l2, 0x5A, 2u * b * n);
            for (i = 0; i < n; ++i) fill(g_l2 + 2u * i * b, b, seed + i);
            memset(g_l1, 0xA5, b * n);
            t = one(1, g_l2, b, n, &iss);
          } else { /* L1 -> L2: the lines into a cleared L2 region whose gaps must stay 0x5A */
            fill(g_l1, b * n, seed);
            memset(g_l2, 0x5A, 2u * b * n);
            t = one(0, g_l2, b, n, &iss);
          }
          if (!check(g_l2, b, n, 0x5A)) {
            printf("FAIL: %s of %lu lines of %lu B moved the wrong bytes\n", dir == 0 ? "L2->L1" : "L1->L2",
                   (unsigned long)n, (unsigned long)b);
            r->fails++;
          }
          if (t < best) best = t;
          if (iss < r->issue_min) r->issue_min = iss;
        }
        r->cycles[dir][s][l] = best;
      }
  for (s = 0; s < NP; ++s)
    for (dir = 0; dir < 2; ++dir) {
      const uint32_t planes = k_planes[s], span = planes * 8u * PROBE_PLANE_LINE_BYTES * PROBE_PLANE_LINES;
      uint32_t best = 0xFFFFFFFFu;
      for (rep = 0; rep < 3; ++rep) {
        uint32_t t;
        fill(g_l2, span, (uint32_t)(1000 + s * 6 + dir * 3 + rep));
        fill(g_l1, planes * PROBE_PLANE_LINE_BYTES * PROBE_PLANE_LINES, (uint32_t)(2000 + s * 6 + rep));
        t = box((uint8_t)(dir == 0), g_l2, planes);
        if (!box_ok(g_l2, planes)) {
          printf("FAIL: a box of %lu planes moved the wrong bytes\n", (unsigned long)planes);
          r->fails++;
        }
        if (t < best) best = t;
      }
      r->plane_cycles[dir][s] = best;
    }
}

/* Least squares y = a + lines * r + bytes * c over the k points (normal equations, 3 x 3, Cramer's rule). */
static void fit3(const double *x1, const double *x2, const double *y, int k, double out[3]) {
  double m[3][3] = {{0}}, v[3] = {0}, det, t[3][3];
  int i, j, c;
  for (i = 0; i < k; ++i) {
    const double row[3] = {1.0, x1[i], x2[i]};
    for (j = 0; j < 3; ++j) {
      v[j] += row[j] * y[i];
      for (c = 0; c < 3; ++c) m[j][c] += row[j] * row[c];
    }
  }
#define DET3(a)                                                                                                    \
  ((a)[0][0] * ((a)[1][1] * (a)[2][2] - (a)[1][2] * (a)[2][1]) -                                                  \
   (a)[0][1] * ((a)[1][0] * (a)[2][2] - (a)[1][2] * (a)[2][0]) + (a)[0][2] * ((a)[1][0] * (a)[2][1] - (a)[1][1] * (a)[2][0]))
  det = DET3(m);
  for (c = 0; c < 3; ++c) {
    memcpy(t, m, sizeof t);
    for (j = 0; j < 3; ++j) t[j][c] = v[j];
    out[c] = DET3(t) / det;
  }
#undef DET3
}

int main(void) {
  static probe_result r;
  double x1[NB * NL], x2[NB * NL], y[NB * NL], f[2][3];
  int s, l, dir;
  dory_pulp_init(g_l1, sizeof g_l1, g_l2, sizeof g_l2, 0);
  dory_cluster_run(probe_task, &r);
  printf("cluster DMA probe: pulp-open MCHAN through dory_dma_start/wait on cluster core 0; lines contiguous in L1, "
         "2 x line bytes apart in L2\n");
  printf("| line B | lines | L2->L1 cycles | L1->L2 cycles | L2->L1 B/cycle | L1->L2 B/cycle |\n"
         "|--:|--:|--:|--:|--:|--:|\n");
  for (s = 0; s < NB; ++s)
    for (l = 0; l < NL; ++l) {
      const uint32_t b = k_line_bytes[s], n = k_lines[l];
      printf("| %lu | %lu | %lu | %lu | %.2f | %.2f |\n", (unsigned long)b, (unsigned long)n,
             (unsigned long)r.cycles[0][s][l], (unsigned long)r.cycles[1][s][l], (double)(b * n) / r.cycles[0][s][l],
             (double)(b * n) / r.cycles[1][s][l]);
    }
  for (dir = 0; dir < 2; ++dir) {
    int k = 0;
    for (s = 0; s < NB; ++s)
      for (l = 0; l < NL; ++l, ++k) {
        x1[k] = (double)k_lines[l];
        x2[k] = (double)(k_line_bytes[s] * k_lines[l]);
        y[k] = (double)r.cycles[dir][s][l];
      }
    fit3(x1, x2, y, k, f[dir]);
  }
  printf("\nfit over every transfer (cycles = latency + lines * line_cycles + bytes / bandwidth):\n");
  printf("  L2 -> L1: latency %.1f (of which dory_dma_start %lu), line %.2f cycles, bandwidth %.3f B/cycle\n", f[0][0],
         (unsigned long)r.issue_min, f[0][1], 1.0 / f[0][2]);
  printf("  L1 -> L2: latency %.1f, line %.2f cycles, bandwidth %.3f B/cycle\n", f[1][0], f[1][1], 1.0 / f[1][2]);
  {
    double g[2][2];
    printf("\nboxes of P planes x %u lines x %u B (one MCHAN command per plane; the queue holds 2):\n",
           (unsigned)PROBE_PLANE_LINES, (unsigned)PROBE_PLANE_LINE_BYTES);
    printf("| planes | L2->L1 cycles | L1->L2 cycles |\n|--:|--:|--:|\n");
    for (s = 0; s < NP; ++s)
      printf("| %lu | %lu | %lu |\n", (unsigned long)k_planes[s], (unsigned long)r.plane_cycles[0][s],
             (unsigned long)r.plane_cycles[1][s]);
    for (dir = 0; dir < 2; ++dir) {
      /* a line through the boxes: latency + planes * per-command cycles (64 B per plane: the bytes are 8 cycles) */
      double sn = 0, sy = 0, snn = 0, sny = 0;
      for (s = 0; s < NP; ++s) {
        const double x = (double)k_planes[s], yv = (double)r.plane_cycles[dir][s];
        sn += x;
        sy += yv;
        snn += x * x;
        sny += x * yv;
      }
      g[dir][1] = (NP * sny - sn * sy) / (NP * snn - sn * sn);
      g[dir][0] = (sy - g[dir][1] * sn) / NP;
    }
    printf("  a line through them: L2->L1 %.1f + %.1f per command, L1->L2 %.1f + %.1f per command\n", g[0][0], g[0][1],
           g[1][0], g[1][1]);
    printf("dmaprobe_commands in_per_command %.2f out_per_command %.2f\n", g[0][1], g[1][1]);
  }
  printf("dmaprobe in_latency %.1f in_line %.3f in_bw %.4f out_latency %.1f out_line %.3f out_bw %.4f issue %lu\n",
         f[0][0], f[0][1], 1.0 / f[0][2], f[1][0], f[1][1], 1.0 / f[1][2], (unsigned long)r.issue_min);
  dory_pulp_shutdown();
  if (r.fails) printf("DMA probe: %d transfers moved the wrong bytes\n", r.fails);
  return r.fails ? 1 : 0;
}
