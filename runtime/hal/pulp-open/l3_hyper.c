/* L3 of the PULP-open platform (dory/hal.h "L3", dory/hal_pulp_open.h): the board's HyperRAM (HyperBus chip select
 * 0) through the uDMA's HyperBus channel, driven by the fabric controller; and the copy of a file of the HyperFlash
 * (chip select 1, a readfs partition at flash offset 0) into HyperRAM at boot.
 *
 * Where every register and behaviour comes from: GVSoC's uDMA v3 and HyperBus v3 models (gvsoc-pulp
 * pulp/udma/udma_v3_impl.cpp, pulp/udma/hyper/udma_hyper_v3.cpp, pulp/udma/archi/udma_hyper_v3.h,
 * pulp/chips/pulp_open/udma.json and soc.json) and the HyperRAM/HyperFlash device models (gvsoc-core
 * models/devices/hyperbus/), read and then measured with a bare-metal probe (docs/targets.md "pulp-open: L3"):
 *   - the uDMA is at 0x1A102000; its clock-gating register (offset 0) enables peripheral 8, the HyperBus, whose
 *     registers start at 0x1A102000 + 0x80 + 8 * 0x80 = 0x1A102480: 8 transfer ids ("channels") of 0x80 bytes
 *     each, then the common registers at +0x400;
 *   - a transfer: the L2 address and size in RX_SADDR/RX_SIZE (read, L3 -> L2) or TX_SADDR/TX_SIZE (write), the
 *     external address in HYPER_ADDR, the HyperBus command in CA_SETUP (bit 2: read; bit 0: linear burst), no 2-D
 *     (TWD_ACT, TWD_ACT_L2 = 0), then the channel enable (bit 4) in RX_CFG/TX_CFG enqueues it on its transfer id
 *     (8 deep); the chip select is the common MEM_SEL at enqueue (0 HyperRAM, 1 HyperFlash);
 *   - STATUS of a transfer id holds the number of its enqueued transfers not yet finished in bits 1..8 (bit 0:
 *     busy); transfers of one id complete in order, so a job is done when as many transfers have finished as
 *     had been pushed up to its last one;
 *   - the RX side writes L2 in whole 32-bit words, also past the end of a transfer whose size is not a multiple
 *     of 4 (measured: the bytes up to the next word are overwritten), and writes the last word one uDMA cycle
 *     after the count drops (assumed harmless: the FC's next register read takes longer);
 *   - timing (measured, FC cycles = cluster cycles in this model): L3 -> L2 about 127 + n cycles, L2 -> L3 about
 *     125 + 1.25 n, of which ~90 are this driver's register writes; 2-D rows cost ~20 cycles each (chip select,
 *     6 command bytes, latency 2 x 6, deselect).
 * Commands are at most DORY_HYPER_MAX_CMD_BYTES (a multiple of 4, so the pieces of a read stay word-aligned in
 * L2); a job's commands beyond the 8 the transfer id queues are pushed when the FC next starts or waits for a job.
 * The L2 side must be 4-byte aligned in both directions (the TX side reads L2 in words too). */
#include <stdio.h>
#include <string.h>

#include "dory/hal_pulp_open.h"

#define UDMA_BASE 0x1A102000u
#define UDMA_CG (UDMA_BASE + 0x0u)
#define UDMA_HYPER_PERIPH 8u
#define HYPER_BASE (UDMA_BASE + 0x80u + 0x80u * UDMA_HYPER_PERIPH)
#define HYPER_ID 0u /* the transfer id dory uses */
#define HYPER_CH (HYPER_BASE + 0x80u * HYPER_ID)
#define HYPER_COMMON (HYPER_BASE + 0x400u)
#define REG_RX_SADDR 0x00u
#define REG_RX_SIZE 0x04u
#define REG_RX_CFG 0x08u
#define REG_TX_SADDR 0x0Cu
#define REG_TX_SIZE 0x10u
#define REG_TX_CFG 0x14u
#define REG_CA_SETUP 0x18u
#define REG_HYPER_ADDR 0x1Cu
#define REG_STATUS 0x24u
#define REG_TWD_ACT 0x28u
#define REG_TWD_ACT_L2 0x34u
#define COMMON_PAGE_BOUND 0x00u
#define COMMON_LATENCY 0x04u
#define COMMON_LATENCY_ADD 0x08u
#define COMMON_MEM_SEL 0x20u
#define CFG_EN (1u << 4)
#define CA_READ 0x5u  /* read, memory space, linear burst */
#define CA_WRITE 0x1u /* write, memory space, linear burst */
#define HYPER_QUEUE_DEPTH 8u
#define DORY_HYPER_MAX_CMD_BYTES 65532u
#define HYPERRAM_BYTES 0x800000u /* the board's HyperRAM (gvsoc-core hyperram.py: 8 MB) */

static inline void reg_write(uint32_t addr, uint32_t v) { *(volatile uint32_t *)(uintptr_t)addr = v; }
static inline uint32_t reg_read(uint32_t addr) { return *(volatile uint32_t *)(uintptr_t)addr; }

#if defined(__GNUC__)
__attribute__((noreturn))
#endif
static void l3_fail(const char *msg, unsigned long a, unsigned long b) {
  printf("dory pulp-open HAL: ");
  printf(msg, a, b);
  printf("\n");
  dory_pulp_exit(1);
}

typedef struct {
  dory_dma_job id;
  uint32_t l2, l3, left; /* what is still to push */
  uint8_t dir, cs;
  uint32_t last_seq;     /* the sequence number of its last pushed command (valid when left == 0) */
} hyper_job;

static struct {
  int initialized;
  uint32_t size;
  hyper_job jobs[DORY_L3_MAX_OUTSTANDING];
  uint32_t n_jobs;
  dory_dma_job next_id;
  uint32_t pushed;   /* commands pushed since init */
} h;

/* Commands of transfer id HYPER_ID finished so far. */
static uint32_t finished(void) {
  const uint32_t pending = (reg_read(HYPER_CH + REG_STATUS) >> 1) & 0xFFu;
  return h.pushed - pending;
}

static void push_command(hyper_job *J) {
  const uint32_t n = J->left < DORY_HYPER_MAX_CMD_BYTES ? J->left : DORY_HYPER_MAX_CMD_BYTES;
  reg_write(HYPER_COMMON + COMMON_MEM_SEL, J->cs);
  if (J->dir == DORY_L3_TO_L2) {
    reg_write(HYPER_CH + REG_RX_SADDR, J->l2);
    reg_write(HYPER_CH + REG_RX_SIZE, n);
  } else {
    reg_write(HYPER_CH + REG_TX_SADDR, J->l2);
    reg_write(HYPER_CH + REG_TX_SIZE, n);
  }
  reg_write(HYPER_CH + REG_HYPER_ADDR, J->l3);
  reg_write(HYPER_CH + REG_CA_SETUP, J->dir == DORY_L3_TO_L2 ? CA_READ : CA_WRITE);
  reg_write(HYPER_CH + (J->dir == DORY_L3_TO_L2 ? REG_RX_CFG : REG_TX_CFG), CFG_EN);
  h.pushed++;
  J->l2 += n;
  J->l3 += n;
  J->left -= n;
  if (J->left == 0) J->last_seq = h.pushed;
}

/* Pushes pending commands, oldest job first, while the transfer id's queue has room; fin: finished(). */
static void feed_from(uint32_t fin) {
  uint32_t j, in_queue = h.pushed - fin;
  for (j = 0; j < h.n_jobs; ++j)
    while (h.jobs[j].left > 0 && in_queue < HYPER_QUEUE_DEPTH) {
      push_command(&h.jobs[j]);
      ++in_queue;
    }
}

static void feed(void) { feed_from(finished()); }

static int on_fc(void) {
  uintptr_t sp;
  __asm__ volatile("mv %0, sp" : "=r"(sp));
  return !(sp >= DORY_PULP_TCDM_BASE && sp < DORY_PULP_TCDM_BASE + DORY_PULP_TCDM_BYTES);
}

void dory_pulp_init_l3(uint32_t l3_bytes) {
  if (h.initialized) l3_fail("dory_pulp_init_l3 called twice%s", 0, 0);
  if (l3_bytes == 0 || l3_bytes > HYPERRAM_BYTES)
    l3_fail("dory_pulp_init_l3: %lu B of L3; the board's HyperRAM has %lu B", l3_bytes, HYPERRAM_BYTES);
  memset(&h, 0, sizeof h);
  reg_write(UDMA_CG, reg_read(UDMA_CG) | (1u << UDMA_HYPER_PERIPH));
  reg_write(HYPER_COMMON + COMMON_PAGE_BOUND, 4u); /* no page boundary */
  reg_write(HYPER_COMMON + COMMON_LATENCY, 6u);    /* the HyperRAM's initial latency (6 clocks) ... */
  reg_write(HYPER_COMMON + COMMON_LATENCY_ADD, 1u); /* ... doubled, as the S27KS0641 in fixed latency mode */
  reg_write(HYPER_CH + REG_TWD_ACT, 0u);
  reg_write(HYPER_CH + REG_TWD_ACT_L2, 0u);
  h.size = l3_bytes;
  h.next_id = 1;
  h.pushed = 0; /* and STATUS counts 0 pending after reset */
  h.initialized = 1;
}

uint32_t dory_l3_size(void) { return h.initialized ? h.size : 0u; }

static dory_dma_job start(uint32_t l2, uint32_t l3, uint32_t bytes, uint8_t dir, uint8_t cs) {
  hyper_job *J;
  dory_dma_job id = h.next_id;
  if (h.n_jobs >= DORY_L3_MAX_OUTSTANDING)
    l3_fail("L3 job %lu: %lu jobs are already in flight (the limit): a missing dory_l3_wait?", id, h.n_jobs);
  h.next_id = id + 1u == 0u ? 1u : id + 1u;
  J = &h.jobs[h.n_jobs++];
  J->id = id;
  J->l2 = l2;
  J->l3 = l3;
  J->left = bytes;
  J->dir = dir;
  J->cs = cs;
  J->last_seq = 0;
  feed();
  return id;
}

dory_dma_job dory_l3_start(const dory_l3_desc *d) {
  const uint32_t l2 = (uint32_t)(uintptr_t)d->l2;
  const uint32_t l2_base = (uint32_t)(uintptr_t)dory_l2_base();
  const uint32_t extent = d->dir == DORY_L3_TO_L2 ? (d->bytes + 3u) & ~3u : d->bytes;
  if (!h.initialized) l3_fail("dory_l3_start: this application has no L3 (dory_pulp_init_l3)%s", 0, 0);
  if (!on_fc()) l3_fail("dory_l3_start called on a cluster core: only the fabric controller issues L3 transfers%s", 0, 0);
  if ((d->dir != DORY_L3_TO_L2 && d->dir != DORY_L2_TO_L3) || d->bytes == 0)
    l3_fail("L3 transfer: direction %lu, %lu B (a direction and >= 1 B)", d->dir, d->bytes);
  if ((uint64_t)d->l3 + d->bytes > h.size)
    l3_fail("L3 transfer: L3 offset %lu + %lu B leaves L3", d->l3, d->bytes);
  if (l2 < l2_base || (uint64_t)l2 + extent > (uint64_t)l2_base + dory_l2_size())
    l3_fail("L3 transfer: the L2 side 0x%lx (+%lu B) is not inside the L2 arena", l2, extent);
  if (l2 & 3u) l3_fail("L3 transfer: the L2 side 0x%lx is not 4-byte aligned (%lu)", l2, d->bytes);
  return start(l2, d->l3, d->bytes, d->dir, 0);
}

static uint32_t job_index(dory_dma_job id) {
  uint32_t i;
  for (i = 0; i < h.n_jobs && h.jobs[i].id != id; ++i) {
  }
  return i;
}

void dory_l3_wait(dory_dma_job job) {
  const uint32_t i = job_index(job);
  uint32_t k;
  hyper_job *J;
  if (!h.initialized) l3_fail("dory_l3_wait: this application has no L3%s", 0, 0);
  if (i == h.n_jobs) l3_fail("dory_l3_wait(%lu): the L3 job is not in flight (never issued, or waited for)%s", job, 0);
  J = &h.jobs[i];
  for (;;) {
    /* one read of the (slow, peripheral) status register per round */
    const uint32_t fin = finished();
    if (J->left == 0 && (int32_t)(fin - J->last_seq) >= 0) break;
    feed_from(fin);
  }
  /* the later jobs move up by one (struct copies: libc's memmove cost the FC ~900 cycles a wait, from L2 code) */
  for (k = i; k + 1u < h.n_jobs; ++k) h.jobs[k] = h.jobs[k + 1u];
  h.n_jobs--;
}

void dory_pulp_shutdown_l3(void) {
  if (h.initialized && h.n_jobs > 0)
    l3_fail("shutdown with %lu L3 job(s) never waited for (the first is job %lu)", h.n_jobs, h.jobs[0].id);
}

/* ---- the HyperFlash: a readfs partition at offset 0 (gapylib fs/readfs.py, the layout `--flash-content`
 * gives: {u64 fs_size, u32 nb_files}, per file {u32 offset from the partition, u32 size, u32 name_len, name with
 * its 0}, then the files) ---------------------------------------------------------------------------------------- */

static void flash_read(uint32_t flash, uint8_t *l2, uint32_t bytes) {
  if (h.n_jobs > 0) l3_fail("flash read with %lu L3 job(s) in flight%s", h.n_jobs, 0);
  dory_l3_wait(start((uint32_t)(uintptr_t)l2, flash, bytes, DORY_L3_TO_L2, 1));
}

static uint32_t le32(const uint8_t *p) {
  return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

int dory_pulp_l3_load_file(const char *name, uint32_t l3, uint32_t bytes, uint8_t *bounce, uint32_t bounce_bytes) {
  uint32_t headers, files, k, at, offset = 0, size = 0, done;
  int found = 0;
  const uint32_t chunk = (bounce_bytes & ~3u) - 4u;
  if (!h.initialized) l3_fail("dory_pulp_l3_load_file: no L3 (dory_pulp_init_l3 first)%s", 0, 0);
  if (((uintptr_t)bounce & 3u) || bounce_bytes < 64u)
    l3_fail("dory_pulp_l3_load_file: the bounce buffer must be 4-byte aligned and >= 64 B (%lu B)%s", bounce_bytes,
            0);
  flash_read(0, bounce, 12);
  headers = le32(bounce);
  files = le32(bounce + 8);
  if (headers < 12u || headers > bounce_bytes - 4u) return -1; /* no readfs there, or too many files to read */
  flash_read(0, bounce, headers);
  for (k = 0, at = 12; k < files && at + 12u <= headers; ++k) {
    const uint32_t len = le32(bounce + at + 8);
    if (at + 12u + len > headers) return -1;
    if (strncmp((const char *)bounce + at + 12, name, len) == 0 && strlen(name) + 1u == len) {
      offset = le32(bounce + at);
      size = le32(bounce + at + 4);
      found = 1;
      break;
    }
    at += 12u + len;
  }
  if (!found) return -2;
  if (size != bytes) return -3;
  for (done = 0; done < bytes;) {
    const uint32_t n = bytes - done < chunk ? bytes - done : chunk;
    flash_read(offset + done, bounce, n);
    dory_l3_wait(dory_l3_start(&(dory_l3_desc){bounce, l3 + done, n, DORY_L2_TO_L3}));
    done += n;
  }
  return 0;
}
