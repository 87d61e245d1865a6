/* The executor of dory/l3.h on a platform: the two-level schedule (l3_schedule.c) driven by the HAL's L3 engine,
 * each sub-layer run on the cluster by the ordinary executor (dory_layer_start/join, the L3 transfers issued
 * between them). Runs in the main program. */
#include <stddef.h>
#include <string.h>

#include "dory/hal.h"
#include "dory/l3.h"
#include "dory/layer.h"

/* The wait to skip in the next layer run (dory_l3_inject_skip_wait) and the waits counted so far. */
typedef struct {
  int32_t skip, waits;
  const dory_l3_layer *next; /* the layer whose part ahead is done while the last sub-layer runs (NULL: none) */
  dory_l3_ahead *next_ahead;
} l3_run_ctx;

static int32_t g_l3_skip_wait = -1;

void dory_l3_inject_skip_wait(int32_t wait_index) { g_l3_skip_wait = wait_index; }

static dory_dma_job hal_l3_start(void *ctx, const dory_l3_desc *desc, const dory_l3_transfer *x) {
  (void)ctx;
  (void)x;
  return dory_l3_start(desc);
}

static void hal_l3_wait(void *ctx, dory_dma_job job) {
  l3_run_ctx *c = (l3_run_ctx *)ctx;
  if (c && c->waits++ == c->skip) return;
  dory_l3_wait(job);
}

/* kept: the tile's template is the previous tile's (l3_schedule.c), whose descriptor the cores hold: the main
 * program stores the new L2 offsets into their copy instead of the cores taking the whole descriptor. */
static void hal_start_sub(void *ctx, const dory_l3_layer *L, int32_t t, const dory_layer *sub, int kept) {
  (void)ctx;
  (void)L;
  (void)t;
  if (kept)
    dory_layer_start_moved(sub);
  else
    dory_layer_start(sub);
}

static void hal_join_sub(void *ctx) {
  (void)ctx;
  dory_layer_join();
}

static void hal_after_last_load(void *ctx) {
  l3_run_ctx *c = (l3_run_ctx *)ctx;
  dory_l3_layer_ahead(c->next, c->next_ahead);
}

static dory_l3_ops hal_ops(void) {
  dory_l3_ops ops;
  ops.ctx = NULL;
  ops.l3_start = hal_l3_start;
  ops.l3_wait = hal_l3_wait;
  ops.start_sub = hal_start_sub;
  ops.join_sub = hal_join_sub;
  ops.after_last_load = NULL;
  return ops;
}

void dory_l3_layer_run(const dory_l3_layer *L, const dory_l3_ahead *mine, const dory_l3_layer *next,
                       dory_l3_ahead *next_ahead) {
  dory_l3_ops ops = hal_ops();
  l3_run_ctx c;
  const int ready = mine && mine->L == L;
  if (mine && !ready) dory_panic("dory_l3_layer_run: the part done ahead was done for another layer");
  if (next && next_ahead == mine) dory_panic("dory_l3_layer_run: the next layer's part ahead would overwrite this one's");
  c.skip = g_l3_skip_wait;
  c.waits = 0;
  c.next = next;
  c.next_ahead = next_ahead;
  if (next) {
    next_ahead->L = NULL; /* until done */
    ops.after_last_load = hal_after_last_load;
  }
  g_l3_skip_wait = -1;
  ops.ctx = &c;
  dory_l3_schedule(L, (uint8_t *)dory_l2_base(), &ops, ready && L->prefetch_weights ? &mine->pf : NULL,
                   ready ? &mine->first : NULL);
}

void dory_l3_layer_ahead(const dory_l3_layer *L, dory_l3_ahead *a) {
  const dory_l3_ops ops = hal_ops();
  dory_l3_prefetch_issue(L, (uint8_t *)dory_l2_base(), &ops, &a->pf);
  dory_l3_sub_layer(L, 0, &a->first);
  a->L = L;
}

void dory_l3_read(void *dst, uint32_t l3, uint32_t n, uint8_t *bounce, uint32_t bounce_bytes) {
  const uint32_t chunk = bounce_bytes & ~3u;
  uint8_t *out = (uint8_t *)dst;
  if (chunk < 8) dory_panic("dory_l3_read: the bounce buffer must hold at least 8 bytes");
  while (n > 0) {
    /* an L3 -> L2 transfer writes whole words: leave room for the rounding */
    const uint32_t m = n < chunk - 4 ? n : chunk - 4;
    dory_l3_desc d;
    d.l2 = bounce;
    d.l3 = l3;
    d.bytes = m;
    d.dir = DORY_L3_TO_L2;
    dory_l3_wait(dory_l3_start(&d));
    memcpy(out, bounce, m);
    out += m;
    l3 += m;
    n -= m;
  }
}

void dory_l3_write(uint32_t l3, const void *src, uint32_t n, uint8_t *bounce, uint32_t bounce_bytes) {
  const uint8_t *in = (const uint8_t *)src;
  if (bounce_bytes < 8) dory_panic("dory_l3_write: the bounce buffer must hold at least 8 bytes");
  while (n > 0) {
    const uint32_t m = n < bounce_bytes ? n : bounce_bytes;
    dory_l3_desc d;
    memcpy(bounce, in, m);
    d.l2 = bounce;
    d.l3 = l3;
    d.bytes = m;
    d.dir = DORY_L2_TO_L3;
    dory_l3_wait(dory_l3_start(&d));
    in += m;
    l3 += m;
    n -= m;
  }
}
