/* The harness's L1 arena with canaries and its task runner (harness.h). */
#include "harness.h"

uint8_t h_l1[H_L1_BYTES] DORY_PULP_L1_SECTION;

uint32_t h_hash(const void *p, uint32_t n) {
  const uint8_t *b = (const uint8_t *)p;
  uint32_t h = 2166136261u, i;
  for (i = 0; i < n; ++i) h = (h ^ b[i]) * 16777619u;
  return h;
}

/* Bytes of the arena that may differ from the canary: everything up to the farthest any case used (plus its
 * checked tail). A reset with a new canary value fills the whole arena; later ones only that prefix (the FC
 * reaches L1 slowly). */
static uint32_t g_dirty = H_L1_BYTES;
static int g_canary = -1;

void h_arena_reset(h_arena *A, uint8_t canary) {
  A->base = h_l1;
  A->used = 0;
  A->canary = canary;
  A->n = 0;
  A->overflow = 0;
  if (canary != g_canary) { /* a new canary value: the whole arena */
    g_dirty = H_L1_BYTES;
    g_canary = canary;
  }
  memset(h_l1, canary, g_dirty);
  if (g_dirty == H_L1_BYTES) g_dirty = 0;
}

void *h_alloc(h_arena *A, uint32_t n, int writable) {
  const uint32_t start = (A->used + H_GAP + 7u) & ~7u; /* 8: some buffers hold structs with 64-bit members */
  if (A->n >= H_MAX_BUFS || start + n + H_GAP > H_L1_BYTES) {
    A->overflow = 1;
    return 0;
  }
  A->bufs[A->n].p = A->base + start;
  A->bufs[A->n].bytes = n;
  A->bufs[A->n].writable = (uint8_t)writable;
  A->bufs[A->n].hash = 0;
  A->n++;
  A->used = start + n;
  if (A->used + H_CHECK_TAIL > g_dirty) g_dirty = A->used + H_CHECK_TAIL > H_L1_BYTES ? H_L1_BYTES : A->used + H_CHECK_TAIL;
  return A->base + start;
}

void h_seal(h_arena *A) {
  int i;
  for (i = 0; i < A->n; ++i)
    if (!A->bufs[i].writable) A->bufs[i].hash = h_hash(A->bufs[i].p, A->bufs[i].bytes);
}

const char *h_check(const h_arena *A) {
  static char msg[128];
  uint32_t off = 0;
  int i;
  const uint32_t tail = A->used + H_CHECK_TAIL > H_L1_BYTES ? H_L1_BYTES : A->used + H_CHECK_TAIL;
  for (i = 0; i <= A->n; ++i) {
    const uint32_t end = i < A->n ? (uint32_t)(A->bufs[i].p - A->base) : tail;
    uint32_t j;
    for (j = off; j < end; ++j)
      if (A->base[j] != A->canary) {
        snprintf(msg, sizeof msg, "canary byte at arena offset %lu overwritten (0x%02x), %s buffer %d",
                 (unsigned long)j, A->base[j], i < A->n ? "before" : "after the last", i);
        return msg;
      }
    if (i < A->n) {
      if (!A->bufs[i].writable && h_hash(A->bufs[i].p, A->bufs[i].bytes) != A->bufs[i].hash) {
        snprintf(msg, sizeof msg, "read-only buffer %d (%lu bytes) modified", i, (unsigned long)A->bufs[i].bytes);
        return msg;
      }
      off = end + A->bufs[i].bytes;
    }
  }
  return "";
}

typedef struct {
  h_kernel_fn fn;
  const void *args;
} h_task;

/* The args in TCDM, as the executor has them (it builds them on each core's stack in compute_on): the FC copies
 * them here before the task, so the kernels never read them from the harness's L2 variables. */
static uint32_t g_args_l1[H_MAX_ARGS_BYTES / 4] DORY_PULP_L1_SECTION;
static h_task g_task_l1 DORY_PULP_L1_SECTION;

static void h_task_entry(void *p) {
  const h_task *t = (const h_task *)p;
  t->fn(t->args);
}

uint32_t h_run(h_kernel_fn fn, const void *args, uint32_t args_bytes, int cores) {
  dory_pulp_counters c;
  if (args_bytes > H_MAX_ARGS_BYTES) {
    printf("harness: args of %lu bytes (the limit is %u)\n", (unsigned long)args_bytes, H_MAX_ARGS_BYTES);
    dory_pulp_exit(1);
  }
  memcpy(g_args_l1, args, args_bytes);
  g_task_l1.fn = fn;
  g_task_l1.args = g_args_l1;
  dory_pulp_set_cores(cores);
  (void)dory_pulp_take_counters();
  dory_cluster_run(h_task_entry, &g_task_l1);
  c = dory_pulp_take_counters();
  return (uint32_t)c.cycles;
}
