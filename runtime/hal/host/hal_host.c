/* The host platform of dory/hal.h: arenas with guard zones, cores as POSIX threads, an asynchronous DMA engine
 * thread. Semantics and the checks it makes: dory/hal_host.h. */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dory/hal_host.h"

#include "../dma_check.h"

/* ---- errors ------------------------------------------------------------------------------------------------ */

#if defined(__GNUC__)
__attribute__((noreturn, format(printf, 1, 2)))
#endif
static void host_fail(const char *fmt, ...) {
  va_list ap;
  fputs("dory host HAL: ", stderr);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  fflush(stderr);
  abort();
}

void dory_panic(const char *msg) {
  fprintf(stderr, "dory runtime: %s\n", msg);
  fflush(stderr);
  abort();
}

/* ---- arenas ------------------------------------------------------------------------------------------------ */

typedef struct {
  const char *name;        /* "L1", "L2" */
  unsigned char *block;    /* guard | arena | guard */
  unsigned char *base;     /* block + DORY_HOST_GUARD_BYTES */
  uint32_t size;
} arena;

static unsigned char guard_byte(uint32_t i) { return (unsigned char)(0xC3u ^ (i * 0x9Du) ^ (i >> 8)); }

static void arena_create(arena *a, const char *name, uint32_t size) {
  uint32_t i;
  a->name = name;
  a->size = size;
  a->block = (unsigned char *)malloc((size_t)size + 2u * DORY_HOST_GUARD_BYTES);
  if (!a->block) host_fail("cannot allocate the %s arena (%u B)", name, size);
  a->base = a->block + DORY_HOST_GUARD_BYTES;
  memset(a->base, 0xA5, size);
  for (i = 0; i < DORY_HOST_GUARD_BYTES; ++i) {
    a->block[i] = guard_byte(i);
    a->base[size + i] = guard_byte(DORY_HOST_GUARD_BYTES + i);
  }
}

static void arena_check(const arena *a, const char *when) {
  uint32_t i;
  for (i = 0; i < DORY_HOST_GUARD_BYTES; ++i)
    if (a->block[i] != guard_byte(i))
      host_fail("%s: the guard zone before the %s arena was overwritten at %s-%u (found 0x%02x, expected 0x%02x): "
                "something wrote %u B before the arena's start",
                when, a->name, a->name, DORY_HOST_GUARD_BYTES - i, a->block[i], guard_byte(i),
                DORY_HOST_GUARD_BYTES - i);
  for (i = 0; i < DORY_HOST_GUARD_BYTES; ++i)
    if (a->base[a->size + i] != guard_byte(DORY_HOST_GUARD_BYTES + i))
      host_fail("%s: the guard zone after the %s arena was overwritten at %s+%u (found 0x%02x, expected 0x%02x): "
                "something wrote %u B past the arena's end (%u B)",
                when, a->name, a->name, a->size + i, a->base[a->size + i], guard_byte(DORY_HOST_GUARD_BYTES + i),
                i + 1, a->size);
}

/* Where p lies relative to arena a: writes "L1+123", "L1-5" (before), or an absolute address when far away. */
static void arena_where(const arena *a, const unsigned char *p, char *buf, size_t n) {
  const unsigned char *lo = a->block, *hi = a->base + a->size + DORY_HOST_GUARD_BYTES;
  if (p >= a->base && p <= a->base + a->size)
    snprintf(buf, n, "%s+%lu", a->name, (unsigned long)(p - a->base));
  else if (p >= lo && p < a->base)
    snprintf(buf, n, "%s-%lu", a->name, (unsigned long)(a->base - p));
  else if (p > a->base + a->size && p <= hi)
    snprintf(buf, n, "%s+%lu", a->name, (unsigned long)(p - a->base));
  else
    snprintf(buf, n, "%p", (const void *)p);
}

/* ---- global state ------------------------------------------------------------------------------------------ */

#define MAX_JOBS_LIMIT 1024u

typedef struct {
  dory_dma_desc desc;
  dory_dma_job id;
  uint64_t ready_ns; /* not performed before this time (UINT64_MAX: only when waited for) */
} job_rec;

typedef struct {
  dory_l3_desc desc;
  dory_dma_job id;
  uint64_t ready_ns; /* as job_rec */
} l3_rec;

static struct {
  int initialized;
  arena l1, l2;
  uint64_t t0_ns;
  dory_host_stats stats;

  /* cluster */
  int cores;
  pthread_t workers[DORY_HOST_MAX_CORES];
  pthread_mutex_t mu;
  pthread_cond_t cv_start, cv_done;
  uint64_t generation;
  int pending;
  int quit;
  dory_task_fn fn;
  void *arg;
  pthread_barrier_t barrier;
  int in_run;
  int started; /* dory_cluster_start ran a task that was not joined yet */

  /* DMA engine */
  pthread_t engine;
  pthread_mutex_t dma_mu;
  pthread_cond_t dma_cv_engine; /* new job, wait request or quit */
  pthread_cond_t dma_cv_done;   /* a job completed */
  job_rec queue[MAX_JOBS_LIMIT];
  uint32_t q_head, q_count;
  dory_dma_job next_id;         /* ids start at 1 */
  dory_dma_job done_upto;       /* all jobs with id <= done_upto are complete (FIFO) */
  dory_dma_job requested_upto;  /* a waiter needs every job up to here */
  int dma_quit;
  uint32_t delay_us;
  uint32_t max_outstanding;
  dory_dma_job outstanding[MAX_JOBS_LIMIT]; /* issued, not yet waited for */
  uint32_t n_outstanding;

  /* L3 and its engine (dory_host_init_l3): a FIFO like the L1 engine's, with a latency per job and a bandwidth */
  arena l3;
  int has_l3;
  pthread_t l3_engine;
  pthread_mutex_t l3_mu;
  pthread_cond_t l3_cv_engine, l3_cv_done;
  l3_rec l3_queue[DORY_L3_MAX_OUTSTANDING];
  uint32_t l3_head, l3_count;
  dory_dma_job l3_next_id, l3_done_upto, l3_requested_upto;
  uint64_t l3_busy_until_ns; /* when the engine finishes the jobs issued so far (its bandwidth is serial) */
  int l3_quit;
  uint32_t l3_delay_us, l3_ps_per_byte;
  dory_dma_job l3_outstanding[DORY_L3_MAX_OUTSTANDING];
  uint32_t l3_n_outstanding;
} g;

static __thread int t_core_id = 0;
static __thread int t_in_task = 0;
static __thread int t_is_worker = 0;

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void l3_check_guards(const char *when) {
  if (g.has_l3) arena_check(&g.l3, when);
}

static void require_init(const char *what) {
  if (!g.initialized) host_fail("%s called before dory_host_init", what);
}

/* ---- cluster ----------------------------------------------------------------------------------------------- */

static void *worker_main(void *p) {
  int id = (int)(intptr_t)p;
  uint64_t seen = 0;
  t_core_id = id;
  t_is_worker = 1;
  for (;;) {
    dory_task_fn fn;
    void *arg;
    pthread_mutex_lock(&g.mu);
    while (g.generation == seen && !g.quit) pthread_cond_wait(&g.cv_start, &g.mu);
    if (g.quit) {
      pthread_mutex_unlock(&g.mu);
      return NULL;
    }
    seen = g.generation;
    fn = g.fn;
    arg = g.arg;
    pthread_mutex_unlock(&g.mu);
    t_in_task = 1;
    fn(arg);
    t_in_task = 0;
    pthread_mutex_lock(&g.mu);
    if (--g.pending == 0) pthread_cond_signal(&g.cv_done);
    pthread_mutex_unlock(&g.mu);
  }
}

/* The main program is core 0 here: the task runs to its end inside dory_cluster_start (dory/hal.h). */
void dory_cluster_start(dory_task_fn fn, void *arg) {
  if (g.started) host_fail("dory_cluster_start while the previous task was not joined (dory_cluster_join)");
  dory_cluster_run(fn, arg);
  g.started = 1;
}

void dory_cluster_join(void) {
  if (!g.started) host_fail("dory_cluster_join without a task started (dory_cluster_start)");
  g.started = 0;
}

void dory_cluster_run(dory_task_fn fn, void *arg) {
  require_init("dory_cluster_run");
  if (g.started) host_fail("dory_cluster_run while a started task was not joined (dory_cluster_join)");
  if (t_in_task || t_is_worker) host_fail("dory_cluster_run called from inside a cluster task (no nesting)");
  if (g.in_run) host_fail("dory_cluster_run called while another run is in progress (from another thread?)");
  g.in_run = 1;
  pthread_mutex_lock(&g.mu);
  g.fn = fn;
  g.arg = arg;
  g.pending = g.cores - 1;
  g.generation++;
  g.stats.tasks++;
  pthread_cond_broadcast(&g.cv_start);
  pthread_mutex_unlock(&g.mu);

  t_core_id = 0;
  t_in_task = 1;
  fn(arg);
  t_in_task = 0;

  pthread_mutex_lock(&g.mu);
  while (g.pending > 0) pthread_cond_wait(&g.cv_done, &g.mu);
  pthread_mutex_unlock(&g.mu);
  g.in_run = 0;
  arena_check(&g.l1, "after a cluster task");
  arena_check(&g.l2, "after a cluster task");
  l3_check_guards("after a cluster task");
}

int dory_core_id(void) { return t_in_task ? t_core_id : 0; }

int dory_core_count(void) { return g.initialized ? g.cores : 1; }

void dory_barrier(void) {
  if (!t_in_task || g.cores == 1) return;
  pthread_barrier_wait(&g.barrier);
}

/* ---- DMA --------------------------------------------------------------------------------------------------- */

static const char *dir_name(uint8_t dir) { return dory_dma_dir_name(dir); }

static void check_side(dory_dma_job id, const dory_dma_desc *d, const char *side, const arena *want,
                       const arena *other, const unsigned char *p, uint64_t extent) {
  char where[64], end[64], shape[96];
  const unsigned char *b = want->base;
  snprintf(shape, sizeof shape, "%u plane(s) x %u row(s) x %u B", d->planes, d->rows, d->row_bytes);
  if (p >= b && p <= b + want->size && extent <= (uint64_t)(b + want->size - p)) return;
  arena_where(want, p, where, sizeof where);
  if (p >= other->block && p < other->base + other->size + DORY_HOST_GUARD_BYTES) {
    arena_where(other, p, where, sizeof where);
    host_fail("DMA job %u (%s, %s): the %s starts at %s, in the %s arena, but a %s transfer's %s must be in %s "
              "(wrong direction?)",
              id, dir_name(d->dir), shape, side, where, other->name, dir_name(d->dir), side, want->name);
  }
  if (p >= b && p <= b + want->size) {
    snprintf(end, sizeof end, "%s+%llu", want->name, (unsigned long long)((uint64_t)(p - b) + extent));
    host_fail("DMA job %u (%s, %s): the %s [%s, %s) leaves the %s arena of %u B: its last %llu B are past the end "
              "(in the guard zone or beyond)",
              id, dir_name(d->dir), shape, side, where, end, want->name, want->size,
              (unsigned long long)((uint64_t)(p - b) + extent - want->size));
  }
  if (p >= want->block && p < b)
    host_fail("DMA job %u (%s, %s): the %s starts at %s, %lu B before the %s arena (in its guard zone)", id,
              dir_name(d->dir), shape, side, where, (unsigned long)(b - p), want->name);
  host_fail("DMA job %u (%s, %s): the %s %p is not in the %s arena [%p, %p) (%u B)", id, dir_name(d->dir), shape,
            side, (const void *)p, want->name, (const void *)b, (const void *)(b + want->size), want->size);
}

static void validate(dory_dma_job id, const dory_dma_desc *d) {
  const arena *src_arena, *dst_arena;
  char msg[256];
  if (dory_dma_check_shape(d, (unsigned long)id, msg, sizeof msg)) host_fail("%s", msg);
  src_arena = d->dir == DORY_DMA_L2_TO_L1 ? &g.l2 : &g.l1;
  dst_arena = d->dir == DORY_DMA_L2_TO_L1 ? &g.l1 : &g.l2;
  check_side(id, d, "source", src_arena, dst_arena, (const unsigned char *)d->src,
             dory_dma_box_extent(d->row_bytes, d->rows, d->planes, d->src_row_stride, d->src_plane_stride));
  check_side(id, d, "destination", dst_arena, src_arena, (const unsigned char *)d->dst,
             dory_dma_box_extent(d->row_bytes, d->rows, d->planes, d->dst_row_stride, d->dst_plane_stride));
}

static void perform(const dory_dma_desc *d) {
  uint32_t p, r;
  for (p = 0; p < d->planes; ++p)
    for (r = 0; r < d->rows; ++r)
      memcpy((unsigned char *)d->dst + (size_t)p * d->dst_plane_stride + (size_t)r * d->dst_row_stride,
             (const unsigned char *)d->src + (size_t)p * d->src_plane_stride + (size_t)r * d->src_row_stride,
             d->row_bytes);
}

static void *engine_main(void *unused) {
  (void)unused;
  pthread_mutex_lock(&g.dma_mu);
  for (;;) {
    job_rec job;
    while (g.q_count == 0 && !g.dma_quit) pthread_cond_wait(&g.dma_cv_engine, &g.dma_mu);
    if (g.q_count == 0) break; /* quit with an empty queue */
    job = g.queue[g.q_head];
    /* Not before its ready time (a wait does not make the copy faster); a job issued with
     * DORY_HOST_DMA_UNTIL_WAIT only when a waiter needs it (or at shutdown). */
    for (;;) {
      uint64_t t;
      if (g.dma_quit) break;
      if (job.ready_ns == UINT64_MAX) {
        if (g.requested_upto >= job.id) break;
        pthread_cond_wait(&g.dma_cv_engine, &g.dma_mu);
        continue;
      }
      t = now_ns();
      if (t >= job.ready_ns) break;
      {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        t = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec + (job.ready_ns - t);
        ts.tv_sec = (time_t)(t / 1000000000u);
        ts.tv_nsec = (long)(t % 1000000000u);
        pthread_cond_timedwait(&g.dma_cv_engine, &g.dma_mu, &ts);
      }
    }
    pthread_mutex_unlock(&g.dma_mu);
    perform(&job.desc);
    pthread_mutex_lock(&g.dma_mu);
    g.q_head = (g.q_head + 1) % MAX_JOBS_LIMIT;
    g.q_count--;
    g.done_upto = job.id;
    pthread_cond_broadcast(&g.dma_cv_done);
  }
  pthread_mutex_unlock(&g.dma_mu);
  return NULL;
}

static void require_core0(const char *what) {
  if ((t_in_task && t_core_id != 0) || (!t_in_task && t_is_worker))
    host_fail("%s called on core %d: only core 0 issues and waits for DMA", what, t_core_id);
}

dory_dma_job dory_dma_start(const dory_dma_desc *desc) {
  dory_dma_job id;
  job_rec *rec;
  require_init("dory_dma_start");
  require_core0("dory_dma_start");
  pthread_mutex_lock(&g.dma_mu);
  id = g.next_id;
  validate(id, desc);
  if (g.n_outstanding >= g.max_outstanding)
    host_fail("DMA job %u (%s): %u jobs are already in flight (the limit); the oldest is job %u: a missing "
              "dory_dma_wait?",
              id, dir_name(desc->dir), g.n_outstanding, g.outstanding[0]);
  g.next_id++;
  if (g.next_id == 0) g.next_id = 1;
  rec = &g.queue[(g.q_head + g.q_count) % MAX_JOBS_LIMIT];
  rec->desc = *desc;
  rec->id = id;
  rec->ready_ns = g.delay_us == DORY_HOST_DMA_UNTIL_WAIT ? UINT64_MAX : now_ns() + (uint64_t)g.delay_us * 1000u;
  g.q_count++;
  g.outstanding[g.n_outstanding++] = id;
  g.stats.jobs++;
  g.stats.bytes += (uint64_t)desc->row_bytes * desc->rows * desc->planes;
  pthread_cond_signal(&g.dma_cv_engine);
  pthread_mutex_unlock(&g.dma_mu);
  return id;
}

void dory_dma_wait(dory_dma_job job) {
  uint32_t i;
  require_init("dory_dma_wait");
  require_core0("dory_dma_wait");
  pthread_mutex_lock(&g.dma_mu);
  for (i = 0; i < g.n_outstanding && g.outstanding[i] != job; ++i) {
  }
  if (i == g.n_outstanding) {
    if (job == 0 || job >= g.next_id)
      host_fail("dory_dma_wait(%u): no such job (the last job issued is %u)", job, g.next_id - 1);
    host_fail("dory_dma_wait(%u): the job was already waited for (each job is waited for exactly once)", job);
  }
  memmove(&g.outstanding[i], &g.outstanding[i + 1], (g.n_outstanding - i - 1) * sizeof g.outstanding[0]);
  g.n_outstanding--;
  if (g.requested_upto < job) g.requested_upto = job;
  pthread_cond_signal(&g.dma_cv_engine);
  while (g.done_upto < job) pthread_cond_wait(&g.dma_cv_done, &g.dma_mu);
  pthread_mutex_unlock(&g.dma_mu);
  arena_check(&g.l1, "at a DMA wait");
  arena_check(&g.l2, "at a DMA wait");
}

/* ---- L3 ---------------------------------------------------------------------------------------------------- */

/* The bytes an L3 -> L2 job writes: whole 32-bit words (dory/hal.h). */
static uint32_t l3_l2_extent(const dory_l3_desc *d) {
  return d->dir == DORY_L3_TO_L2 ? (d->bytes + 3u) & ~3u : d->bytes;
}

static void l3_perform(const dory_l3_desc *d) {
  unsigned char *l3 = g.l3.base + d->l3;
  uint32_t i;
  if (d->dir == DORY_L3_TO_L2) {
    memcpy(d->l2, l3, d->bytes);
    /* the rest of the last word: what the chip's uDMA leaves there is not the L2 bytes that were there */
    for (i = d->bytes; i < l3_l2_extent(d); ++i) ((unsigned char *)d->l2)[i] = (unsigned char)(0x5Au ^ i);
  } else {
    memcpy(l3, d->l2, d->bytes);
  }
}

static void *l3_engine_main(void *unused) {
  (void)unused;
  pthread_mutex_lock(&g.l3_mu);
  for (;;) {
    l3_rec job;
    while (g.l3_count == 0 && !g.l3_quit) pthread_cond_wait(&g.l3_cv_engine, &g.l3_mu);
    if (g.l3_count == 0) break;
    job = g.l3_queue[g.l3_head];
    for (;;) {
      uint64_t t;
      if (g.l3_quit) break;
      if (job.ready_ns == UINT64_MAX) {
        if (g.l3_requested_upto >= job.id) break;
        pthread_cond_wait(&g.l3_cv_engine, &g.l3_mu);
        continue;
      }
      t = now_ns();
      if (t >= job.ready_ns) break;
      {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        t = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec + (job.ready_ns - t);
        ts.tv_sec = (time_t)(t / 1000000000u);
        ts.tv_nsec = (long)(t % 1000000000u);
        pthread_cond_timedwait(&g.l3_cv_engine, &g.l3_mu, &ts);
      }
    }
    pthread_mutex_unlock(&g.l3_mu);
    l3_perform(&job.desc);
    pthread_mutex_lock(&g.l3_mu);
    g.l3_head = (g.l3_head + 1) % DORY_L3_MAX_OUTSTANDING;
    g.l3_count--;
    g.l3_done_upto = job.id;
    pthread_cond_broadcast(&g.l3_cv_done);
  }
  pthread_mutex_unlock(&g.l3_mu);
  return NULL;
}

static void require_main(const char *what) {
  if (t_in_task || t_is_worker)
    host_fail("%s called inside a cluster task (core %d): only the main program issues and waits for L3 transfers",
              what, t_core_id);
}

static unsigned long env_ulong(const char *name, unsigned long dflt, unsigned long wait_value) {
  const char *s = getenv(name);
  char *end = NULL;
  unsigned long v;
  if (!s || !*s) return dflt;
  if (strcmp(s, "wait") == 0) return wait_value;
  errno = 0;
  v = strtoul(s, &end, 10);
  if (errno || *end || v >= 0xFFFFFFFFul)
    host_fail("%s='%s': expected an integer%s", name, s, wait_value ? " or 'wait'" : "");
  return v;
}

void dory_host_init_l3(uint32_t l3_bytes) {
  require_init("dory_host_init_l3");
  if (g.has_l3) host_fail("dory_host_init_l3 called twice");
  if (l3_bytes == 0) host_fail("dory_host_init_l3: the L3 arena must be >= 1 B");
  arena_create(&g.l3, "L3", l3_bytes);
  g.l3_next_id = 1;
  g.l3_delay_us = (uint32_t)env_ulong("DORY_HOST_L3_DELAY_US", DORY_HOST_L3_DEFAULT_DELAY_US, DORY_HOST_DMA_UNTIL_WAIT);
  g.l3_ps_per_byte = (uint32_t)env_ulong("DORY_HOST_L3_PS_PER_BYTE", DORY_HOST_L3_DEFAULT_PS_PER_BYTE, 0);
  pthread_mutex_init(&g.l3_mu, NULL);
  pthread_cond_init(&g.l3_cv_engine, NULL);
  pthread_cond_init(&g.l3_cv_done, NULL);
  g.has_l3 = 1;
  if (pthread_create(&g.l3_engine, NULL, l3_engine_main, NULL) != 0) host_fail("cannot start the L3 engine thread");
}

void dory_host_set_l3_timing(uint32_t delay_us, uint32_t ps_per_byte) {
  require_init("dory_host_set_l3_timing");
  if (!g.has_l3) host_fail("dory_host_set_l3_timing: no L3 (dory_host_init_l3 first)");
  pthread_mutex_lock(&g.l3_mu);
  g.l3_delay_us = delay_us;
  g.l3_ps_per_byte = ps_per_byte;
  pthread_mutex_unlock(&g.l3_mu);
}

uint32_t dory_l3_size(void) { return g.initialized && g.has_l3 ? g.l3.size : 0u; }

dory_dma_job dory_l3_start(const dory_l3_desc *d) {
  dory_dma_job id;
  l3_rec *rec;
  const unsigned char *l2 = (const unsigned char *)d->l2;
  char where[64];
  uint64_t t;
  require_init("dory_l3_start");
  require_main("dory_l3_start");
  if (!g.has_l3) host_fail("dory_l3_start: this application has no L3 (dory_host_init_l3 was not called)");
  pthread_mutex_lock(&g.l3_mu);
  id = g.l3_next_id;
  if (d->dir != DORY_L3_TO_L2 && d->dir != DORY_L2_TO_L3) host_fail("L3 job %u: invalid direction %u", id, d->dir);
  if (d->bytes == 0) host_fail("L3 job %u: empty transfer (0 B)", id);
  if ((uint64_t)d->l3 + d->bytes > g.l3.size)
    host_fail("L3 job %u (%s, %u B): L3 [%u, %llu) leaves the L3 arena of %u B", id,
              d->dir == DORY_L3_TO_L2 ? "L3->L2" : "L2->L3", d->bytes, d->l3, (unsigned long long)d->l3 + d->bytes,
              g.l3.size);
  if (!dory_dma_inside(g.l2.base, g.l2.size, l2, l3_l2_extent(d))) {
    arena_where(&g.l2, l2, where, sizeof where);
    host_fail("L3 job %u (%s, %u B%s): the L2 side [%s, +%u) is not inside the L2 arena of %u B", id,
              d->dir == DORY_L3_TO_L2 ? "L3->L2" : "L2->L3", d->bytes,
              d->dir == DORY_L3_TO_L2 ? ", written as whole 32-bit words" : "", where, l3_l2_extent(d), g.l2.size);
  }
  if ((size_t)(l2 - g.l2.base) & 3u) {
    arena_where(&g.l2, l2, where, sizeof where);
    host_fail("L3 job %u (%s, %u B): the L2 side %s is not 4-byte aligned (the engine moves whole words)", id,
              d->dir == DORY_L3_TO_L2 ? "L3->L2" : "L2->L3", d->bytes, where);
  }
  if (g.l3_n_outstanding >= DORY_L3_MAX_OUTSTANDING)
    host_fail("L3 job %u: %u jobs are already in flight (the limit); the oldest is job %u: a missing dory_l3_wait?",
              id, g.l3_n_outstanding, g.l3_outstanding[0]);
  g.l3_next_id++;
  if (g.l3_next_id == 0) g.l3_next_id = 1;
  rec = &g.l3_queue[(g.l3_head + g.l3_count) % DORY_L3_MAX_OUTSTANDING];
  rec->desc = *d;
  rec->id = id;
  t = now_ns();
  if (g.l3_delay_us == DORY_HOST_DMA_UNTIL_WAIT) {
    rec->ready_ns = UINT64_MAX;
  } else {
    /* a latency per job, then the bytes at the engine's bandwidth, one job after the other */
    const uint64_t start = g.l3_busy_until_ns > t ? g.l3_busy_until_ns : t;
    g.l3_busy_until_ns = start + (uint64_t)d->bytes * g.l3_ps_per_byte / 1000u;
    rec->ready_ns = g.l3_busy_until_ns + (uint64_t)g.l3_delay_us * 1000u;
  }
  g.l3_count++;
  g.l3_outstanding[g.l3_n_outstanding++] = id;
  g.stats.l3_jobs++;
  g.stats.l3_bytes += d->bytes;
  pthread_cond_signal(&g.l3_cv_engine);
  pthread_mutex_unlock(&g.l3_mu);
  return id;
}

void dory_l3_wait(dory_dma_job job) {
  uint32_t i;
  require_init("dory_l3_wait");
  require_main("dory_l3_wait");
  if (!g.has_l3) host_fail("dory_l3_wait: this application has no L3");
  pthread_mutex_lock(&g.l3_mu);
  for (i = 0; i < g.l3_n_outstanding && g.l3_outstanding[i] != job; ++i) {
  }
  if (i == g.l3_n_outstanding) {
    if (job == 0 || job >= g.l3_next_id)
      host_fail("dory_l3_wait(%u): no such L3 job (the last issued is %u)", job, g.l3_next_id - 1);
    host_fail("dory_l3_wait(%u): the L3 job was already waited for (each job is waited for exactly once)", job);
  }
  memmove(&g.l3_outstanding[i], &g.l3_outstanding[i + 1], (g.l3_n_outstanding - i - 1) * sizeof g.l3_outstanding[0]);
  g.l3_n_outstanding--;
  if (g.l3_requested_upto < job) g.l3_requested_upto = job;
  pthread_cond_signal(&g.l3_cv_engine);
  while (g.l3_done_upto < job) pthread_cond_wait(&g.l3_cv_done, &g.l3_mu);
  pthread_mutex_unlock(&g.l3_mu);
  arena_check(&g.l2, "at an L3 wait");
  l3_check_guards("at an L3 wait");
}

static void l3_shutdown(void) {
  if (!g.has_l3) return;
  pthread_mutex_lock(&g.l3_mu);
  if (g.l3_n_outstanding > 0) {
    dory_dma_job first = g.l3_outstanding[0];
    uint32_t n = g.l3_n_outstanding;
    pthread_mutex_unlock(&g.l3_mu);
    host_fail("shutdown with %u L3 job(s) never waited for (the first is job %u)", n, first);
  }
  g.l3_quit = 1;
  pthread_cond_signal(&g.l3_cv_engine);
  pthread_mutex_unlock(&g.l3_mu);
  pthread_join(g.l3_engine, NULL);
  arena_check(&g.l3, "at shutdown");
  pthread_cond_destroy(&g.l3_cv_engine);
  pthread_cond_destroy(&g.l3_cv_done);
  pthread_mutex_destroy(&g.l3_mu);
  free(g.l3.block);
}

/* ---- memory, time ------------------------------------------------------------------------------------------ */

void *dory_l1_base(void) {
  require_init("dory_l1_base");
  return g.l1.base;
}
uint32_t dory_l1_size(void) { return g.initialized ? g.l1.size : 0; }
void *dory_l2_base(void) {
  require_init("dory_l2_base");
  return g.l2.base;
}
uint32_t dory_l2_size(void) { return g.initialized ? g.l2.size : 0; }

uint64_t dory_cycles(void) { return g.initialized ? now_ns() - g.t0_ns : 0; }

/* ---- host control ------------------------------------------------------------------------------------------ */

static uint32_t parse_delay_env(void) {
  const char *s = getenv("DORY_HOST_DMA_DELAY_US");
  char *end = NULL;
  unsigned long v;
  if (!s || !*s) return DORY_HOST_DMA_DEFAULT_DELAY_US;
  if (strcmp(s, "wait") == 0) return DORY_HOST_DMA_UNTIL_WAIT;
  errno = 0;
  v = strtoul(s, &end, 10);
  if (errno || *end || v >= DORY_HOST_DMA_UNTIL_WAIT)
    host_fail("DORY_HOST_DMA_DELAY_US='%s': expected microseconds (an integer) or 'wait'", s);
  return (uint32_t)v;
}

void dory_host_init(uint32_t l1_bytes, uint32_t l2_bytes, int cores) {
  int i;
  if (g.initialized) host_fail("dory_host_init called twice (call dory_host_shutdown first)");
  if (l1_bytes == 0 || l2_bytes == 0) host_fail("dory_host_init: arena sizes must be >= 1 B (L1 %u, L2 %u)",
                                                l1_bytes, l2_bytes);
  if (cores < 1 || cores > DORY_HOST_MAX_CORES)
    host_fail("dory_host_init: %d cores; the host supports 1 to %d", cores, DORY_HOST_MAX_CORES);
  memset(&g, 0, sizeof g);
  arena_create(&g.l1, "L1", l1_bytes);
  arena_create(&g.l2, "L2", l2_bytes);
  g.t0_ns = now_ns();
  g.cores = cores;
  g.next_id = 1;
  g.delay_us = parse_delay_env();
  g.max_outstanding = DORY_DMA_MAX_OUTSTANDING;
  pthread_mutex_init(&g.mu, NULL);
  pthread_cond_init(&g.cv_start, NULL);
  pthread_cond_init(&g.cv_done, NULL);
  pthread_barrier_init(&g.barrier, NULL, (unsigned)cores);
  pthread_mutex_init(&g.dma_mu, NULL);
  pthread_cond_init(&g.dma_cv_engine, NULL);
  pthread_cond_init(&g.dma_cv_done, NULL);
  g.initialized = 1;
  for (i = 1; i < cores; ++i)
    if (pthread_create(&g.workers[i], NULL, worker_main, (void *)(intptr_t)i) != 0)
      host_fail("cannot start core %d (pthread_create failed)", i);
  if (pthread_create(&g.engine, NULL, engine_main, NULL) != 0) host_fail("cannot start the DMA engine thread");
}

void dory_host_shutdown(void) {
  int i;
  require_init("dory_host_shutdown");
  if (t_in_task || t_is_worker) host_fail("dory_host_shutdown called from inside a cluster task");
  l3_shutdown();
  pthread_mutex_lock(&g.dma_mu);
  if (g.n_outstanding > 0) {
    dory_dma_job first = g.outstanding[0];
    uint32_t n = g.n_outstanding;
    pthread_mutex_unlock(&g.dma_mu);
    host_fail("shutdown with %u DMA job(s) never waited for (the first is job %u)", n, first);
  }
  g.dma_quit = 1;
  pthread_cond_signal(&g.dma_cv_engine);
  pthread_mutex_unlock(&g.dma_mu);
  pthread_join(g.engine, NULL);

  pthread_mutex_lock(&g.mu);
  g.quit = 1;
  pthread_cond_broadcast(&g.cv_start);
  pthread_mutex_unlock(&g.mu);
  for (i = 1; i < g.cores; ++i) pthread_join(g.workers[i], NULL);

  arena_check(&g.l1, "at shutdown");
  arena_check(&g.l2, "at shutdown");
  pthread_barrier_destroy(&g.barrier);
  pthread_cond_destroy(&g.cv_start);
  pthread_cond_destroy(&g.cv_done);
  pthread_mutex_destroy(&g.mu);
  pthread_cond_destroy(&g.dma_cv_engine);
  pthread_cond_destroy(&g.dma_cv_done);
  pthread_mutex_destroy(&g.dma_mu);
  free(g.l1.block);
  free(g.l2.block);
  memset(&g, 0, sizeof g);
}

void dory_host_set_dma_delay_us(uint32_t delay_us) {
  require_init("dory_host_set_dma_delay_us");
  pthread_mutex_lock(&g.dma_mu);
  g.delay_us = delay_us;
  pthread_mutex_unlock(&g.dma_mu);
}

void dory_host_set_max_outstanding(uint32_t jobs) {
  require_init("dory_host_set_max_outstanding");
  if (jobs < 1 || jobs > MAX_JOBS_LIMIT)
    host_fail("dory_host_set_max_outstanding(%u): the limit must be in [1, %u]", jobs, MAX_JOBS_LIMIT);
  pthread_mutex_lock(&g.dma_mu);
  g.max_outstanding = jobs;
  pthread_mutex_unlock(&g.dma_mu);
}

void dory_host_check_guards(void) {
  require_init("dory_host_check_guards");
  arena_check(&g.l1, "on request");
  arena_check(&g.l2, "on request");
  l3_check_guards("on request");
}

dory_host_stats dory_host_get_stats(void) {
  dory_host_stats s;
  pthread_mutex_lock(&g.dma_mu);
  s = g.stats;
  pthread_mutex_unlock(&g.dma_mu);
  return s;
}

void dory_copy_near(void *dst, const void *src, uint32_t bytes) { memcpy(dst, src, bytes); }
