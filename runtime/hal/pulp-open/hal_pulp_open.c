/* The PULP-open platform of dory/hal.h: start of the cluster, fork/join, the software barrier, MCHAN DMA, the
 * performance counters. Semantics: dory/hal_pulp_open.h. Every register and sequence comes from
 * docs/pulp-open-facts.md (shared docs); where the facts are silent the comment says so and what was chosen. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "dory/hal_pulp_open.h"

#include "../dma_check.h"
#include "mchan_split.h"

/* ---- registers (facts) --------------------------------------------------------------------------------------- */

#define CLUSTER_FETCH_ENABLE 0x10200008u  /* write 0xFF: the 8 cores start at their boot addresses */
#define CLUSTER_BOOT_ADDR(i) (0x10200040u + 4u * (uint32_t)(i))
#define CLUSTER_ICACHE_CTRL 0x10201400u   /* write 0xFFFFFFFF: enable (off at reset; every fetch would go to L2) */
#define MCHAN_FC 0x10201800u              /* the FC's DMA channel */
#define MCHAN_CORE 0x10204400u            /* the calling cluster core's own channel (per-core alias) */
#define MCHAN_CMD 0x0u                    /* read: a transfer id; write: the command's words */
#define MCHAN_STATUS 0x4u                 /* bit id: transfer id busy; write 1 << id: free the id */
#define MCHAN_TO_L1 (1u << 17)            /* direction L2 -> L1 (clear: L1 -> L2) */
#define MCHAN_INCREMENTAL (1u << 18)
#define MCHAN_2D (1u << 19)               /* mchan v7: two more words, line bytes and L2 line stride */
#define MCHAN_QUEUE_DEPTH 2u              /* commands a core may have in the engine (its queue is 2 deep) */

static inline void reg_write(uint32_t addr, uint32_t v) { *(volatile uint32_t *)(uintptr_t)addr = v; }
static inline uint32_t reg_read(uint32_t addr) { return *(volatile uint32_t *)(uintptr_t)addr; }
static inline void fence(void) { __asm__ volatile("fence" ::: "memory"); }
static inline uint32_t hart_id(void) {
  uint32_t h;
  __asm__ volatile("csrr %0, mhartid" : "=r"(h));
  return h;
}

/* ---- errors ------------------------------------------------------------------------------------------------ */

#if defined(__GNUC__)
__attribute__((noreturn, cold, noinline, format(printf, 1, 2))) /* cold: its callers' failure paths leave the hot code */
#endif
static void pulp_fail(const char *fmt, ...) {
  va_list ap;
  printf("dory pulp-open HAL: ");
  va_start(ap, fmt);
  vprintf(fmt, ap);
  va_end(ap);
  printf("\n");
  dory_pulp_exit(1);
}

void dory_panic(const char *msg) {
  printf("dory runtime: %s\n", msg);
  dory_pulp_exit(1);
}

/* ---- state ------------------------------------------------------------------------------------------------- */

/* Shared by the FC and the cluster, in TCDM (link.ld .dory_tcdm; zeroed by the FC before the cores start). */
typedef struct {
  volatile uint32_t gen;                        /* the generation of the task the FC published last */
  volatile uint32_t cores;                      /* cores that run tasks (dory_pulp_set_cores), 1..8 */
  dory_task_fn volatile fn;
  void *volatile arg;
  volatile uint32_t done[DORY_PULP_CORES];      /* per core: the last generation it finished (the join) */
  volatile uint32_t epoch[DORY_PULP_CORES];     /* per core: barriers it reached (only that core writes it) */
  volatile uint32_t cycles[DORY_PULP_CORES];    /* per core: the counters of its last task */
  volatile uint32_t instructions[DORY_PULP_CORES];
  volatile uint32_t overflow;                   /* 1 + a core that found its stack guard overwritten after a task */
} cluster_ctrl;

/* One DMA job: the commands still to push and those in the engine. */
typedef struct {
  dory_dma_job id;
  uint32_t in_engine;
  dory_mchan_iter pending;
} dma_job;

/* Used by whoever issues DMA (core 0 in a task, the FC outside); in TCDM, close to core 0. */
typedef struct {
  dma_job slots[DORY_DMA_MAX_OUTSTANDING];      /* the jobs in flight, where they were issued */
  uint8_t order[DORY_DMA_MAX_OUTSTANDING];      /* their slots in issue order (a wait removes one byte, not a job) */
  uint32_t n_jobs;
  uint32_t hw_id[MCHAN_QUEUE_DEPTH];            /* the commands in the engine: transfer id, job */
  dory_dma_job hw_job[MCHAN_QUEUE_DEPTH];
  uint32_t n_hw;
  uint32_t n_pending;                           /* jobs in flight with commands not pushed yet */
  dory_dma_job next_id;                         /* ids start at 1 */
} dma_state;

#define TCDM_DATA __attribute__((section(".dory_tcdm")))
static cluster_ctrl g_ctrl TCDM_DATA;
static dma_state g_dma TCDM_DATA;

/* The arenas as dory_pulp_init set them, next to core 0 (the FC's copy in g is in L2: ~16 cycles per load from a
 * cluster core, and validate reads them for every transfer). */
static struct {
  uint8_t *l1, *l2;
  uint32_t l1_size, l2_size;
} g_arena TCDM_DATA;

/* The j-th job in flight, in issue order. */
static dma_job *job_at(uint32_t j) { return &g_dma.slots[g_dma.order[j]]; }

/* The FC's (in L2; the cluster only reads the arenas). */
static struct {
  int initialized;
  uint8_t *l1, *l2;
  uint32_t l1_size, l2_size;
  uint32_t gen;
  int running; /* a task started and not joined */
  dory_pulp_counters acc;
  uint32_t mcycle_last, mcycle_high;
} g;

/* link.ld */
extern char __dory_l1_start[], __dory_l1_end[], __dory_cluster_stacks_start[], __dory_cluster_stacks_end[];
extern char __dory_l2_region_end[];
void dory_pulp_cluster_entry(void); /* crt0.S */

static void require_init(const char *what) {
  if (!g.initialized) pulp_fail("%s called before dory_pulp_init", what);
}

/* A cluster core runs only after dory_pulp_init started it: the check of g (in L2, ~16 cycles per load from a
 * cluster core) is needed on the FC only. */
static int on_cluster(void);
static void require_init_fc(const char *what) {
  if (!on_cluster()) require_init(what);
}

/* Whether the caller is a cluster core (its stack is in TCDM), i.e. inside a task: between tasks the cores only
 * run the dispatch loop. Independent of how the FC's mhartid looks (the facts give only the cluster's). */
static int on_cluster(void) {
  uintptr_t sp;
  __asm__ volatile("mv %0, sp" : "=r"(sp));
  return sp > (uintptr_t)__dory_cluster_stacks_start && sp <= (uintptr_t)__dory_cluster_stacks_end;
}

/* ---- cluster ----------------------------------------------------------------------------------------------- */

static void counters_start(void) {
  __asm__ volatile("csrw 0xCC0, %0" : : "r"(3u)); /* PCER: count cycles and instructions */
  __asm__ volatile("csrw 0x780, zero");           /* cycles */
  __asm__ volatile("csrw 0x781, zero");           /* instructions */
  __asm__ volatile("csrw 0xCC1, %0" : : "r"(1u)); /* PCMR: start */
}

static void counters_stop(uint32_t *cycles, uint32_t *instructions) {
  uint32_t c, n;
  __asm__ volatile("csrw 0xCC1, zero"); /* PCMR: stop */
  __asm__ volatile("csrr %0, 0x780" : "=r"(c));
  __asm__ volatile("csrr %0, 0x781" : "=r"(n));
  *cycles = c;
  *instructions = n;
}

/* Stack guards: the lowest DORY_STACK_GUARD_WORDS words of each cluster core's stack slot hold a pattern the FC
 * writes before the cores start. A core that reached them used (nearly) all of its __dory_cluster_stack_bytes: the
 * next bytes down are the neighbouring core's stack (or, for core 0, the runtime's TCDM data), so the run stops with
 * a message instead of failing later at a corrupted return address. Each core checks its own guard after every task
 * (16 loads from TCDM, 1 cycle each) and reports a broken one in g_ctrl.overflow, which the FC reads after the join:
 * the FC checking all 8 guards itself took ~2,800 cycles a task (128 loads across the SoC interconnect), paid
 * between every two sub-layers of a layer that streams from L3. */
#define DORY_STACK_GUARD_WORDS 16u
#define DORY_STACK_GUARD 0x57AC6A4Du
extern char __dory_cluster_stack_bytes[];

static volatile uint32_t *stack_guard(uint32_t core) {
  return (volatile uint32_t *)(__dory_cluster_stacks_start + (uintptr_t)core * (uintptr_t)__dory_cluster_stack_bytes);
}

static int stack_guard_intact(uint32_t core) {
  const volatile uint32_t *g = stack_guard(core);
  uint32_t w, bad = 0;
  for (w = 0; w < DORY_STACK_GUARD_WORDS; ++w) bad |= g[w] ^ DORY_STACK_GUARD;
  return bad == 0;
}

/* On the FC, after the join. */
static void check_stack_guards(void) {
  const uint32_t o = g_ctrl.overflow;
  if (o != 0)
    pulp_fail("cluster core %lu used more than %lu of its %lu B stack (link.ld __dory_cluster_stack_bytes): it "
              "may have overwritten its neighbour's; raise the stack size and lower the L1 budget (--l1) to keep "
              "the TCDM within 64 kB",
              (unsigned long)(o - 1u), (unsigned long)((uintptr_t)__dory_cluster_stack_bytes - 4u * DORY_STACK_GUARD_WORDS),
              (unsigned long)(uintptr_t)__dory_cluster_stack_bytes);
}

/* Every cluster core, from crt0.S, forever: wait for a new task, run it between the counters, report done. The
 * wait spins on a TCDM word (1-cycle loads); the facts give no event to sleep on. */
void dory_pulp_cluster_main(uint32_t core);
void dory_pulp_cluster_main(uint32_t core) {
  uint32_t seen = 0;
  for (;;) {
    uint32_t gen, cycles, instructions;
    dory_task_fn fn;
    void *arg;
    while ((gen = g_ctrl.gen) == seen) {
    }
    fence();
    fn = g_ctrl.fn;
    arg = g_ctrl.arg;
    if (core < g_ctrl.cores) {
      counters_start();
      fn(arg);
      counters_stop(&cycles, &instructions);
      if (!stack_guard_intact(core)) g_ctrl.overflow = core + 1u;
    } else { /* not one of the task's cores (dory_pulp_set_cores): only report done */
      cycles = 0;
      instructions = 0;
    }
    g_ctrl.cycles[core] = cycles;
    g_ctrl.instructions[core] = instructions;
    fence(); /* everything the task wrote, then done */
    g_ctrl.done[core] = gen;
    seen = gen;
  }
}

/* The FC starts the cores once: icache first (facts: before the cores start), then boot addresses, fetch enable. */
static void cluster_start(void) {
  int i;
  uint32_t w;
  for (i = 0; i < DORY_PULP_CORES; ++i)
    for (w = 0; w < DORY_STACK_GUARD_WORDS; ++w) stack_guard((uint32_t)i)[w] = DORY_STACK_GUARD;
  memset((void *)&g_ctrl, 0, sizeof g_ctrl);
  g_ctrl.cores = DORY_PULP_CORES;
  memset(&g_dma, 0, sizeof g_dma);
  g_dma.next_id = 1;
  fence();
  reg_write(CLUSTER_ICACHE_CTRL, 0xFFFFFFFFu);
  for (i = 0; i < DORY_PULP_CORES; ++i)
    reg_write(CLUSTER_BOOT_ADDR(i), (uint32_t)(uintptr_t)&dory_pulp_cluster_entry);
  reg_write(CLUSTER_FETCH_ENABLE, 0xFFu);
}

void dory_cluster_start(dory_task_fn fn, void *arg) {
  uint32_t gen;
  require_init("dory_cluster_start");
  if (on_cluster()) pulp_fail("dory_cluster_start called from inside a cluster task (no nesting)");
  if (g.running) pulp_fail("dory_cluster_start while the previous task was not joined (dory_cluster_join)");
  if (g_dma.n_jobs > 0)
    pulp_fail("dory_cluster_start with %lu DMA job(s) of the main program in flight (the first is job %lu); "
              "wait for them first",
              (unsigned long)g_dma.n_jobs, (unsigned long)job_at(0)->id);
  gen = g.gen + 1u == 0u ? 1u : g.gen + 1u; /* never 0: the cores start having seen 0 */
  g.gen = gen;
  g.running = 1;
  g_ctrl.fn = fn;
  g_ctrl.arg = arg;
  fence(); /* the task and everything the caller wrote, then the generation */
  g_ctrl.gen = gen;
}

void dory_cluster_join(void) {
  const uint32_t gen = g.gen;
  uint32_t i, longest = 0;
  uint64_t instructions = 0;
  if (!g.running) pulp_fail("dory_cluster_join without a task started (dory_cluster_start)");
  for (i = 0; i < DORY_PULP_CORES; ++i)
    while (g_ctrl.done[i] != gen) {
    }
  fence();
  for (i = 0; i < DORY_PULP_CORES; ++i) {
    if (g_ctrl.cycles[i] > longest) longest = g_ctrl.cycles[i];
    instructions += g_ctrl.instructions[i];
  }
  g.acc.cycles += longest;
  g.acc.instructions += instructions;
  g.acc.tasks++;
  g.running = 0;
  check_stack_guards();
  if (g_dma.n_jobs > 0)
    pulp_fail("a cluster task returned with %lu DMA job(s) never waited for (the first is job %lu)",
              (unsigned long)g_dma.n_jobs, (unsigned long)job_at(0)->id);
}

void dory_cluster_run(dory_task_fn fn, void *arg) {
  dory_cluster_start(fn, arg);
  dory_cluster_join();
}

int dory_core_id(void) { return on_cluster() ? (int)(hart_id() & 0x1fu) : 0; }
int dory_core_count(void) { return (int)g_ctrl.cores; }

void dory_pulp_set_cores(int n) {
  int i;
  require_init("dory_pulp_set_cores");
  if (on_cluster()) pulp_fail("dory_pulp_set_cores called from inside a cluster task");
  if (n < 1 || n > DORY_PULP_CORES) pulp_fail("dory_pulp_set_cores(%d): the cluster has 1 to %d cores", n, DORY_PULP_CORES);
  g_ctrl.cores = (uint32_t)n;
  /* No task runs, so no core is inside dory_barrier: restart every core's epoch together (a core that sat out
   * tasks with barriers would otherwise lag behind the others forever). */
  for (i = 0; i < DORY_PULP_CORES; ++i) g_ctrl.epoch[i] = 0;
  fence();
}

/* Core c announces barrier number e by writing e to its own epoch word, then waits until every core's word is
 * >= e (modulo 2^32). A core cannot be two barriers ahead: passing e + 1 needs every word >= e + 1. */
void dory_barrier(void) {
  uint32_t me, e, j;
  if (!on_cluster()) return;
  me = hart_id() & 0x1fu;
  fence(); /* this core's writes before the announcement */
  e = g_ctrl.epoch[me] + 1u;
  g_ctrl.epoch[me] = e;
  for (j = 0; j < g_ctrl.cores; ++j)
    while ((int32_t)(g_ctrl.epoch[j] - e) < 0) {
    }
  fence();
}

/* ---- DMA --------------------------------------------------------------------------------------------------- */

#if defined(__GNUC__)
__attribute__((noreturn, cold, noinline))
#endif
static void not_core0(const char *what) {
  pulp_fail("%s called on core %lu: only core 0 issues and waits for DMA", what, (unsigned long)(hart_id() & 0x1fu));
}

/* The DMA channel of the caller, after the checks every DMA call makes: initialized (on the FC; a cluster core runs
 * only after dory_pulp_init), and on the cluster only core 0 issues and waits. */
static uint32_t dma_channel(const char *what) {
  if (on_cluster()) {
    if ((hart_id() & 0x1fu) != 0) not_core0(what);
    return MCHAN_CORE;
  }
  require_init(what);
  if (g.running) pulp_fail("%s from the main program while a cluster task runs (between dory_cluster_start and join)", what);
  return MCHAN_FC;
}

#if defined(__GNUC__)
__attribute__((noinline, cold)) /* the explanation of a bad transfer: out of the issue path */
#endif
static void validate_fully(dory_dma_job id, const dory_dma_desc *d) {
  char msg[256];
  if (dory_dma_check(d, (unsigned long)id, g.l1, g.l1_size, g.l2, g.l2_size, msg, sizeof msg)) pulp_fail("%s", msg);
}

static void validate(dory_dma_job id, const dory_dma_desc *d) {
  if (!dory_dma_quick_valid(d, g_arena.l1, g_arena.l1_size, g_arena.l2, g_arena.l2_size)) validate_fully(id, d);
}

static uint32_t job_index(dory_dma_job id) {
  uint32_t i;
  for (i = 0; i < g_dma.n_jobs && job_at(i)->id != id; ++i) {
  }
  return i;
}

/* Retires the engine's finished commands and frees their transfer ids. The facts say to poll STATUS bit id and
 * to free the id by writing 1 << id; not measured, assumed here (MCHAN's convention): the bit reads 1 from the
 * id's allocation (the read of CMD) until the transfer is complete, and 0 after. */
static void dma_retire(uint32_t ch) {
  uint32_t status, k = 0;
  if (g_dma.n_hw == 0) return;
  status = reg_read(ch + MCHAN_STATUS);
  while (k < g_dma.n_hw) {
    uint32_t j;
    if (status & (1u << g_dma.hw_id[k])) {
      ++k;
      continue;
    }
    reg_write(ch + MCHAN_STATUS, 1u << g_dma.hw_id[k]);
    j = job_index(g_dma.hw_job[k]);
    if (j == g_dma.n_jobs) pulp_fail("internal error: an MCHAN command of job %lu, which is not in flight",
                                     (unsigned long)g_dma.hw_job[k]);
    job_at(j)->in_engine--;
    g_dma.n_hw--;
    g_dma.hw_id[k] = g_dma.hw_id[g_dma.n_hw];
    g_dma.hw_job[k] = g_dma.hw_job[g_dma.n_hw];
  }
}

/* One command: take a transfer id, push the words (facts: command, TCDM address, L2 address; 2-D: line bytes and
 * L2 stride too). The length field sits below bit 17; commands are at most DORY_MCHAN_MAX_CMD_BYTES. */
static void dma_push(uint32_t ch, const dory_mchan_cmd *c, uint8_t to_l1, dory_dma_job job) {
  const uint32_t id = reg_read(ch + MCHAN_CMD);
  if (id >= 32u) pulp_fail("MCHAN gave transfer id %lu (expected a bit of STATUS)", (unsigned long)id);
  reg_write(ch + MCHAN_CMD,
            c->bytes | MCHAN_INCREMENTAL | (to_l1 ? MCHAN_TO_L1 : 0u) | (c->line_bytes ? MCHAN_2D : 0u));
  reg_write(ch + MCHAN_CMD, (uint32_t)c->l1);
  reg_write(ch + MCHAN_CMD, (uint32_t)c->l2);
  if (c->line_bytes) {
    reg_write(ch + MCHAN_CMD, c->line_bytes);
    reg_write(ch + MCHAN_CMD, c->l2_stride);
  }
  g_dma.hw_id[g_dma.n_hw] = id;
  g_dma.hw_job[g_dma.n_hw] = job;
  g_dma.n_hw++;
}

/* Pushes pending commands, oldest job first, while the engine has room. */
static void dma_feed(uint32_t ch) {
  uint32_t j;
  for (j = 0; j < g_dma.n_jobs && g_dma.n_pending > 0 && g_dma.n_hw < MCHAN_QUEUE_DEPTH; ++j) {
    dma_job *J = job_at(j);
    dory_mchan_cmd c;
    if (J->pending.plane >= J->pending.planes) continue; /* every command pushed (dory_mchan_iter_more, inline) */
    while (g_dma.n_hw < MCHAN_QUEUE_DEPTH && dory_mchan_iter_next(&J->pending, &c)) {
      dma_push(ch, &c, J->pending.to_l1, J->id);
      J->in_engine++;
    }
    if (J->pending.plane >= J->pending.planes) g_dma.n_pending--;
  }
}

#if defined(__GNUC__)
__attribute__((noreturn, cold, noinline))
#endif
static void too_many_jobs(dory_dma_job id) {
  pulp_fail("DMA job %lu: %lu jobs are already in flight (the limit); the oldest is job %lu: a missing "
            "dory_dma_wait?",
            (unsigned long)id, (unsigned long)g_dma.n_jobs, (unsigned long)job_at(0)->id);
}

dory_dma_job dory_dma_start(const dory_dma_desc *desc) {
  const uint32_t ch = dma_channel("dory_dma_start");
  const dory_dma_job id = g_dma.next_id;
  dma_job *J;
  uint32_t used = 0, slot = 0, k;
  validate(id, desc);
  if (g_dma.n_jobs >= DORY_DMA_MAX_OUTSTANDING) too_many_jobs(id);
  g_dma.next_id = id + 1u == 0u ? 1u : id + 1u;
  /* a free slot: one that no job in flight holds */
  for (k = 0; k < g_dma.n_jobs; ++k) used |= 1u << g_dma.order[k];
  while (used & (1u << slot)) ++slot;
  g_dma.order[g_dma.n_jobs++] = (uint8_t)slot;
  J = &g_dma.slots[slot];
  J->id = id;
  J->in_engine = 0;
  /* The engine's finished commands are retired only when its queue looks full (a command counted in it that has
   * finished only delays the next push); the waits retire them too. */
  if (g_dma.n_hw >= MCHAN_QUEUE_DEPTH) dma_retire(ch);
  {
    dory_mchan_cmd c;
    if (g_dma.n_pending == 0 && g_dma.n_hw < MCHAN_QUEUE_DEPTH && dory_mchan_one_command(desc, &c)) {
      /* the common case: one command, pushed now (no job before it has commands left) */
      J->pending.plane = J->pending.planes = 1; /* nothing left to push */
      J->pending.to_l1 = desc->dir == DORY_DMA_L2_TO_L1;
      dma_push(ch, &c, J->pending.to_l1, id);
      J->in_engine = 1;
      return id;
    }
  }
  dory_mchan_iter_init(&J->pending, desc);
  g_dma.n_pending++;
  dma_feed(ch);
  return id;
}

/* Removes the i-th job in flight, keeping the issue order of the others (their slots stay where they are). */
static void jobs_remove(uint32_t i) {
  for (; i + 1u < g_dma.n_jobs; ++i) g_dma.order[i] = g_dma.order[i + 1u];
  g_dma.n_jobs--;
}

void dory_dma_wait(dory_dma_job job) {
  const uint32_t ch = dma_channel("dory_dma_wait");
  uint32_t i = job_index(job);
  if (i == g_dma.n_jobs) {
    if (job == 0 || job >= g_dma.next_id)
      pulp_fail("dory_dma_wait(%lu): no such job (the last job issued is %lu)", (unsigned long)job,
                (unsigned long)(g_dma.next_id - 1u));
    pulp_fail("dory_dma_wait(%lu): the job was already waited for (each job is waited for exactly once)",
              (unsigned long)job);
  }
  while (job_at(i)->pending.plane < job_at(i)->pending.planes || job_at(i)->in_engine > 0) { /* iter_more, inline */
    dma_retire(ch);
    if (g_dma.n_pending > 0) dma_feed(ch);
  }
  jobs_remove(i);
}

/* One 1-D command outside the job table (its id is polled and freed here): nothing else may be in the engine. */
void dory_copy_near(void *dst, const void *src, uint32_t bytes) {
  const uint32_t ch = dma_channel("dory_copy_near");
  uint32_t id;
  if (bytes == 0) return;
  if (g_dma.n_jobs > 0 || g_dma.n_hw > 0 || bytes > DORY_MCHAN_MAX_CMD_BYTES) {
    memcpy(dst, src, bytes);
    return;
  }
  id = reg_read(ch + MCHAN_CMD);
  if (id >= 32u) pulp_fail("MCHAN gave transfer id %lu (expected a bit of STATUS)", (unsigned long)id);
  reg_write(ch + MCHAN_CMD, bytes | MCHAN_INCREMENTAL | MCHAN_TO_L1);
  reg_write(ch + MCHAN_CMD, (uint32_t)(uintptr_t)dst);
  reg_write(ch + MCHAN_CMD, (uint32_t)(uintptr_t)src);
  while (reg_read(ch + MCHAN_STATUS) & (1u << id)) {
  }
  reg_write(ch + MCHAN_STATUS, 1u << id);
}

/* ---- memory, time ------------------------------------------------------------------------------------------ */

void *dory_l1_base(void) {
  require_init_fc("dory_l1_base");
  return g_arena.l1;
}
uint32_t dory_l1_size(void) { return g.initialized ? g.l1_size : 0; }
void *dory_l2_base(void) {
  require_init_fc("dory_l2_base");
  return g_arena.l2;
}
uint32_t dory_l2_size(void) { return g.initialized ? g.l2_size : 0; }

/* FC: mcycle (CSR 0xB00, facts), extended to 64 bits here (call at least once every 2^32 cycles); mcycleh is not
 * in the facts. A cluster core: its performance counter's cycles since its task started. */
uint64_t dory_cycles(void) {
  uint32_t now;
  if (on_cluster()) {
    __asm__ volatile("csrr %0, 0x780" : "=r"(now));
    return now;
  }
  __asm__ volatile("csrr %0, 0xB00" : "=r"(now));
  if (now < g.mcycle_last) g.mcycle_high++;
  g.mcycle_last = now;
  return ((uint64_t)g.mcycle_high << 32) | now;
}

dory_pulp_counters dory_pulp_take_counters(void) {
  const dory_pulp_counters c = g.acc;
  memset(&g.acc, 0, sizeof g.acc);
  return c;
}

/* ---- platform control -------------------------------------------------------------------------------------- */

void dory_pulp_init(void *l1, uint32_t l1_bytes, void *l2, uint32_t l2_bytes, uint32_t l2_loaded) {
  const uintptr_t a1 = (uintptr_t)l1, a2 = (uintptr_t)l2;
  if (g.initialized) pulp_fail("dory_pulp_init called twice");
  if (on_cluster()) pulp_fail("dory_pulp_init called on a cluster core");
  if (l1_bytes == 0 || a1 < (uintptr_t)__dory_l1_start || a1 > (uintptr_t)__dory_l1_end ||
      l1_bytes > (uintptr_t)__dory_l1_end - a1)
    pulp_fail("dory_pulp_init: the L1 arena [%p, +%lu B) is not inside the TCDM's L1 section [%p, %p) (link.ld)", l1,
              (unsigned long)l1_bytes, (void *)__dory_l1_start, (void *)__dory_l1_end);
  if (l2_bytes == 0 || a2 < DORY_PULP_L2_BASE || a2 > (uintptr_t)__dory_l2_region_end ||
      l2_bytes > (uintptr_t)__dory_l2_region_end - a2)
    pulp_fail("dory_pulp_init: the L2 arena [%p, +%lu B) is not inside the image's L2 region [%p, %p) (link.ld)", l2,
              (unsigned long)l2_bytes, (void *)DORY_PULP_L2_BASE, (void *)__dory_l2_region_end);
  memset(&g, 0, sizeof g);
  g.l1 = (uint8_t *)l1;
  g.l2 = (uint8_t *)l2;
  g.l1_size = l1_bytes;
  g.l2_size = l2_bytes;
  g_arena.l1 = g.l1;
  g_arena.l2 = g.l2;
  g_arena.l1_size = l1_bytes;
  g_arena.l2_size = l2_bytes;
  memset(g.l1, 0xA5, l1_bytes);
  if (l2_loaded > l2_bytes) pulp_fail("dory_pulp_init: %lu loaded bytes in an L2 arena of %lu", (unsigned long)l2_loaded,
                                      (unsigned long)l2_bytes);
  memset((uint8_t *)g.l2 + l2_loaded, 0xA5, l2_bytes - l2_loaded);
  cluster_start();
  g.initialized = 1;
}

void dory_pulp_shutdown(void) {
  require_init("dory_pulp_shutdown");
  if (g_dma.n_jobs > 0)
    pulp_fail("shutdown with %lu DMA job(s) never waited for (the first is job %lu)", (unsigned long)g_dma.n_jobs,
              (unsigned long)job_at(0)->id);
}
