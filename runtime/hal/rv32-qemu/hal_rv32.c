/* The rv32 QEMU platform of dory/hal.h: one core, the application's arenas, DMA as deferred CPU copies with the
 * contract's checks, minstret/instret as the cycle counter. Semantics: dory/hal_rv32.h. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "dory/hal_rv32.h"

#include "../dma_check.h"

/* ---- errors ------------------------------------------------------------------------------------------------ */

#if defined(__GNUC__)
__attribute__((noreturn, format(printf, 1, 2)))
#endif
static void rv32_fail(const char *fmt, ...) {
  va_list ap;
  printf("dory rv32 HAL: ");
  va_start(ap, fmt);
  vprintf(fmt, ap);
  va_end(ap);
  printf("\n");
  dory_rv32_exit(1);
}

void dory_panic(const char *msg) {
  printf("dory runtime: %s\n", msg);
  dory_rv32_exit(1);
}

/* ---- state ------------------------------------------------------------------------------------------------- */

typedef struct {
  dory_dma_desc desc;
  dory_dma_job id;
} job_rec;

static struct {
  int initialized;
  uint8_t *l1, *l2;
  uint32_t l1_size, l2_size;
  int in_task;
  int started; /* dory_cluster_start ran a task that was not joined yet */
  /* DMA: the jobs issued and not yet performed, in issue order (ids increase), and the jobs issued and not yet
   * waited for. A wait performs every queued job up to its own, so both hold at most the in-flight limit. */
  job_rec queue[DORY_DMA_MAX_OUTSTANDING];
  uint32_t q_count;
  dory_dma_job outstanding[DORY_DMA_MAX_OUTSTANDING];
  uint32_t n_outstanding;
  dory_dma_job next_id; /* ids start at 1 */
  uint64_t dma_instructions; /* retired performing the copies (system mode) */
  /* L3 (dory_rv32_init_l3): an array, jobs queued and performed at a wait like the DMA's */
  uint8_t *l3;
  uint32_t l3_size;
  dory_l3_desc l3_queue[DORY_L3_MAX_OUTSTANDING];
  dory_dma_job l3_queue_id[DORY_L3_MAX_OUTSTANDING];
  uint32_t l3_q_count;
  dory_dma_job l3_outstanding[DORY_L3_MAX_OUTSTANDING];
  uint32_t l3_n_outstanding;
  dory_dma_job l3_next_id;
} g;

static void require_init(const char *what) {
  if (!g.initialized) rv32_fail("%s called before dory_rv32_init", what);
}

/* ---- cluster ----------------------------------------------------------------------------------------------- */

void dory_cluster_run(dory_task_fn fn, void *arg) {
  require_init("dory_cluster_run");
  if (g.started) rv32_fail("dory_cluster_run while a started task was not joined (dory_cluster_join)");
  if (g.in_task) rv32_fail("dory_cluster_run called from inside a cluster task (no nesting)");
  g.in_task = 1;
  fn(arg);
  g.in_task = 0;
}

/* One core: the task runs to its end inside dory_cluster_start (dory/hal.h). */
void dory_cluster_start(dory_task_fn fn, void *arg) {
  if (g.started) rv32_fail("dory_cluster_start while the previous task was not joined (dory_cluster_join)");
  dory_cluster_run(fn, arg);
  g.started = 1;
}

void dory_cluster_join(void) {
  if (!g.started) rv32_fail("dory_cluster_join without a task started (dory_cluster_start)");
  g.started = 0;
}

int dory_core_id(void) { return 0; }
int dory_core_count(void) { return 1; }
void dory_barrier(void) {}

/* ---- DMA --------------------------------------------------------------------------------------------------- */

static void validate(dory_dma_job id, const dory_dma_desc *d) {
  char msg[256];
  if (dory_dma_check(d, (unsigned long)id, g.l1, g.l1_size, g.l2, g.l2_size, msg, sizeof msg)) rv32_fail("%s", msg);
}

static void perform(const dory_dma_desc *d) {
  uint32_t p, r;
  for (p = 0; p < d->planes; ++p)
    for (r = 0; r < d->rows; ++r)
      memcpy((uint8_t *)d->dst + p * d->dst_plane_stride + r * d->dst_row_stride,
             (const uint8_t *)d->src + p * d->src_plane_stride + r * d->src_row_stride, d->row_bytes);
}

dory_dma_job dory_dma_start(const dory_dma_desc *desc) {
  dory_dma_job id;
  require_init("dory_dma_start");
  id = g.next_id;
  validate(id, desc);
  if (g.n_outstanding >= DORY_DMA_MAX_OUTSTANDING)
    rv32_fail("DMA job %lu: %lu jobs are already in flight (the limit); the oldest is job %lu: a missing "
              "dory_dma_wait?",
              (unsigned long)id, (unsigned long)g.n_outstanding, (unsigned long)g.outstanding[0]);
  g.next_id++;
  if (g.next_id == 0) g.next_id = 1;
  g.queue[g.q_count].desc = *desc;
  g.queue[g.q_count].id = id;
  g.q_count++;
  g.outstanding[g.n_outstanding++] = id;
  return id;
}

void dory_dma_wait(dory_dma_job job) {
  uint32_t i, k;
  require_init("dory_dma_wait");
  for (i = 0; i < g.n_outstanding && g.outstanding[i] != job; ++i) {
  }
  if (i == g.n_outstanding) {
    if (job == 0 || job >= g.next_id)
      rv32_fail("dory_dma_wait(%lu): no such job (the last job issued is %lu)", (unsigned long)job,
                (unsigned long)(g.next_id - 1));
    rv32_fail("dory_dma_wait(%lu): the job was already waited for (each job is waited for exactly once)",
              (unsigned long)job);
  }
  memmove(&g.outstanding[i], &g.outstanding[i + 1], (g.n_outstanding - i - 1) * sizeof g.outstanding[0]);
  g.n_outstanding--;
  /* Perform every queued job issued up to this one, in issue order (the queue is ordered by id). */
  {
#if defined(DORY_RV32_SYSTEM)
    const uint64_t t0 = dory_rv32_instret();
#endif
    for (k = 0; k < g.q_count && g.queue[k].id <= job; ++k) perform(&g.queue[k].desc);
#if defined(DORY_RV32_SYSTEM)
    g.dma_instructions += dory_rv32_instret() - t0;
#endif
  }
  if (k > 0) {
    memmove(&g.queue[0], &g.queue[k], (g.q_count - k) * sizeof g.queue[0]);
    g.q_count -= k;
  }
}

/* ---- L3 ---------------------------------------------------------------------------------------------------- */

void dory_rv32_init_l3(void *l3, uint32_t l3_bytes) {
  require_init("dory_rv32_init_l3");
  if (!l3 || l3_bytes == 0) rv32_fail("dory_rv32_init_l3: the L3 arena must be >= 1 B");
  g.l3 = (uint8_t *)l3;
  g.l3_size = l3_bytes;
  memset(g.l3, 0xA5, l3_bytes);
  g.l3_next_id = 1;
}

uint32_t dory_l3_size(void) { return g.l3_size; }

static uint32_t l3_l2_extent(const dory_l3_desc *d) {
  return d->dir == DORY_L3_TO_L2 ? (d->bytes + 3u) & ~3u : d->bytes;
}

static void l3_perform(const dory_l3_desc *d) {
  uint32_t i;
  if (d->dir == DORY_L3_TO_L2) {
    memcpy(d->l2, g.l3 + d->l3, d->bytes);
    for (i = d->bytes; i < l3_l2_extent(d); ++i) ((uint8_t *)d->l2)[i] = (uint8_t)(0x5Au ^ i); /* whole words */
  } else {
    memcpy(g.l3 + d->l3, d->l2, d->bytes);
  }
}

dory_dma_job dory_l3_start(const dory_l3_desc *d) {
  dory_dma_job id;
  const uint8_t *l2 = (const uint8_t *)d->l2;
  require_init("dory_l3_start");
  if (!g.l3) rv32_fail("dory_l3_start: this application has no L3");
  if (g.in_task) rv32_fail("dory_l3_start called inside a cluster task: only the main program issues L3 transfers");
  id = g.l3_next_id;
  if ((d->dir != DORY_L3_TO_L2 && d->dir != DORY_L2_TO_L3) || d->bytes == 0)
    rv32_fail("L3 job %lu: invalid direction %u or 0 bytes", (unsigned long)id, (unsigned)d->dir);
  if ((uint64_t)d->l3 + d->bytes > g.l3_size)
    rv32_fail("L3 job %lu: L3 [%lu, +%lu) leaves the L3 arena of %lu B", (unsigned long)id, (unsigned long)d->l3,
              (unsigned long)d->bytes, (unsigned long)g.l3_size);
  if (!dory_dma_inside(g.l2, g.l2_size, l2, l3_l2_extent(d)))
    rv32_fail("L3 job %lu: the L2 side [L2+%ld, +%lu) is not inside the L2 arena of %lu B", (unsigned long)id,
              (long)(l2 - g.l2), (unsigned long)l3_l2_extent(d), (unsigned long)g.l2_size);
  if ((uintptr_t)(l2 - g.l2) & 3u)
    rv32_fail("L3 job %lu: the L2 side L2+%ld is not 4-byte aligned", (unsigned long)id, (long)(l2 - g.l2));
  if (g.l3_n_outstanding >= DORY_L3_MAX_OUTSTANDING)
    rv32_fail("L3 job %lu: %lu jobs are already in flight (the limit): a missing dory_l3_wait?", (unsigned long)id,
              (unsigned long)g.l3_n_outstanding);
  g.l3_next_id++;
  if (g.l3_next_id == 0) g.l3_next_id = 1;
  g.l3_queue[g.l3_q_count] = *d;
  g.l3_queue_id[g.l3_q_count] = id;
  g.l3_q_count++;
  g.l3_outstanding[g.l3_n_outstanding++] = id;
  return id;
}

void dory_l3_wait(dory_dma_job job) {
  uint32_t i, k;
  require_init("dory_l3_wait");
  for (i = 0; i < g.l3_n_outstanding && g.l3_outstanding[i] != job; ++i) {
  }
  if (i == g.l3_n_outstanding) rv32_fail("dory_l3_wait(%lu): the L3 job is not in flight", (unsigned long)job);
  memmove(&g.l3_outstanding[i], &g.l3_outstanding[i + 1], (g.l3_n_outstanding - i - 1) * sizeof g.l3_outstanding[0]);
  g.l3_n_outstanding--;
  {
#if defined(DORY_RV32_SYSTEM)
    const uint64_t t0 = dory_rv32_instret();
#endif
    for (k = 0; k < g.l3_q_count && g.l3_queue_id[k] <= job; ++k) l3_perform(&g.l3_queue[k]);
#if defined(DORY_RV32_SYSTEM)
    g.dma_instructions += dory_rv32_instret() - t0;
#endif
  }
  if (k > 0) {
    memmove(&g.l3_queue[0], &g.l3_queue[k], (g.l3_q_count - k) * sizeof g.l3_queue[0]);
    memmove(&g.l3_queue_id[0], &g.l3_queue_id[k], (g.l3_q_count - k) * sizeof g.l3_queue_id[0]);
    g.l3_q_count -= k;
  }
}

/* ---- memory, time ------------------------------------------------------------------------------------------ */

void *dory_l1_base(void) {
  require_init("dory_l1_base");
  return g.l1;
}
uint32_t dory_l1_size(void) { return g.initialized ? g.l1_size : 0; }
void *dory_l2_base(void) {
  require_init("dory_l2_base");
  return g.l2;
}
uint32_t dory_l2_size(void) { return g.initialized ? g.l2_size : 0; }

uint64_t dory_rv32_instret(void) {
  uint32_t hi, lo, hi2;
  do {
#if defined(DORY_RV32_SYSTEM)
    __asm__ volatile("csrr %0, minstreth" : "=r"(hi));
    __asm__ volatile("csrr %0, minstret" : "=r"(lo));
    __asm__ volatile("csrr %0, minstreth" : "=r"(hi2));
#else
    __asm__ volatile("csrr %0, instreth" : "=r"(hi));
    __asm__ volatile("csrr %0, instret" : "=r"(lo));
    __asm__ volatile("csrr %0, instreth" : "=r"(hi2));
#endif
  } while (hi != hi2);
  return ((uint64_t)hi << 32) | lo;
}

uint64_t dory_cycles(void) { return dory_rv32_instret(); }

uint64_t dory_rv32_dma_instructions(void) { return g.dma_instructions; }

/* ---- platform control -------------------------------------------------------------------------------------- */

void dory_rv32_init(void *l1, uint32_t l1_bytes, void *l2, uint32_t l2_bytes, uint32_t l2_loaded) {
  if (g.initialized) rv32_fail("dory_rv32_init called twice");
  if (!l1 || !l2 || l1_bytes == 0 || l2_bytes == 0)
    rv32_fail("dory_rv32_init: arenas must be >= 1 B (L1 %lu, L2 %lu)", (unsigned long)l1_bytes,
              (unsigned long)l2_bytes);
  memset(&g, 0, sizeof g);
  g.l1 = (uint8_t *)l1;
  g.l2 = (uint8_t *)l2;
  g.l1_size = l1_bytes;
  g.l2_size = l2_bytes;
  memset(g.l1, 0xA5, l1_bytes);
  if (l2_loaded > l2_bytes) rv32_fail("dory_rv32_init: %lu loaded bytes in an L2 arena of %lu", (unsigned long)l2_loaded,
                                      (unsigned long)l2_bytes);
  memset((uint8_t *)g.l2 + l2_loaded, 0xA5, l2_bytes - l2_loaded);
  g.next_id = 1;
  g.initialized = 1;
}

void dory_rv32_shutdown(void) {
  require_init("dory_rv32_shutdown");
  if (g.n_outstanding > 0)
    rv32_fail("shutdown with %lu DMA job(s) never waited for (the first is job %lu)", (unsigned long)g.n_outstanding,
              (unsigned long)g.outstanding[0]);
  if (g.l3_n_outstanding > 0)
    rv32_fail("shutdown with %lu L3 job(s) never waited for", (unsigned long)g.l3_n_outstanding);
}

const char *dory_rv32_platform_name(void) {
#if defined(DORY_RV32_SYSTEM)
  return "qemu-system";
#else
  return "qemu-user";
#endif
}

void dory_copy_near(void *dst, const void *src, uint32_t bytes) { memcpy(dst, src, bytes); }
