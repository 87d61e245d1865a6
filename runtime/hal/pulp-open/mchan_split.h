/* mchan_split.h - how the pulp-open platform turns one dory_dma_desc (dory/hal.h) into MCHAN commands.
 *
 * Portable C99 without hardware access: the platform (hal_pulp_open.c) runs it on cluster core 0, dory's tests
 * (tests/kernels/mchan_split_test.cpp) on the host.
 *
 * MCHAN, the cluster DMA (the shared docs/pulp-open-facts.md), copies between L2 and the cluster's TCDM (L1).
 * One command is
 *   1-D  `bytes` contiguous bytes on both sides;
 *   2-D  `bytes` = lines x `line_bytes`, contiguous on the TCDM side and, on the L2 side, lines starting
 *        `l2_stride` bytes apart (mchan v7 strides the L2 side only).
 * Limits the facts do not give, chosen conservatively: the length sits below the command word's flags (bit 17
 * up), so it has at most 17 bits, and the widths of the 2-D line and stride words are not given; all three are
 * taken as 16 bits: DORY_MCHAN_MAX_CMD_BYTES bytes per command (so also per line) and DORY_MCHAN_MAX_STRIDE bytes
 * of L2 line stride (targets/pulp-open.json assumes the same for lines and strides). Also not in the facts: a
 * 2-D stride smaller than the line (lines overlapping in L2); such rows go as 1-D commands.
 *
 * The rules, for a descriptor of `planes` x `rows` x `row_bytes` (every count >= 1):
 *   1. Normalize: a stride whose count is 1 is ignored; planes that continue the rows on both sides (plane stride
 *      = rows x row stride) become more rows; rows contiguous on both sides (row stride = row_bytes) become one
 *      longer row; a single row of several planes is rows of the plane stride; repeated until nothing changes.
 *   2. Then plane by plane (the engine has no third dimension), row by row:
 *      a) rows longer than DORY_MCHAN_MAX_CMD_BYTES: each row as 1-D commands of that many bytes (the last one
 *         shorter);
 *      b) rows whose TCDM side is dense (row stride = row_bytes) and whose L2 stride is in [row_bytes,
 *         DORY_MCHAN_MAX_STRIDE]: 2-D commands of up to floor(DORY_MCHAN_MAX_CMD_BYTES / row_bytes) lines (a
 *         group of one line is a 1-D command);
 *      c) otherwise one 1-D command per row.
 * The commands cover every byte of the descriptor exactly once, in the descriptor's order (plane, row, byte). The
 * executor's descriptors (dense on the L1 side) need at most one command per plane while a plane fits one command
 * (dory's L1 budgets on PULP-open keep them far below 65,535 B): a 1-D or 2-D transfer is one command.
 * Checked by tests/kernels/mchan_split_test.cpp (hand-computed cases, random descriptors, every transfer of a
 * deployed network).
 */
#ifndef DORY_MCHAN_SPLIT_H
#define DORY_MCHAN_SPLIT_H

#include <stdint.h>

#include "dory/hal.h"

#ifdef __cplusplus
extern "C" {
#endif

#ifndef DORY_MCHAN_MAX_CMD_BYTES
#define DORY_MCHAN_MAX_CMD_BYTES 65535u
#endif
#ifndef DORY_MCHAN_MAX_STRIDE
#define DORY_MCHAN_MAX_STRIDE 65535u
#endif

/* One MCHAN command (addresses as integers: the platform pushes them as 32-bit words). */
typedef struct {
  uintptr_t l1;         /* first TCDM byte */
  uintptr_t l2;         /* first L2 byte */
  uint32_t bytes;       /* bytes moved, 1 .. DORY_MCHAN_MAX_CMD_BYTES */
  uint32_t line_bytes;  /* 2-D: bytes per line (bytes is a multiple, >= 2 lines); 0: 1-D */
  uint32_t l2_stride;   /* 2-D: L2 line start to start, line_bytes .. DORY_MCHAN_MAX_STRIDE; 0: 1-D */
} dory_mchan_cmd;

/* The commands of one descriptor, produced one at a time (no storage per command). */
typedef struct {
  uintptr_t l1, l2;               /* bases */
  uint32_t row_bytes, rows, planes;
  uint32_t l1_row_stride, l1_plane_stride, l2_row_stride, l2_plane_stride;
  uint32_t plane, row, offset;    /* the next command starts here (offset: inside a long row) */
  uint8_t to_l1;                  /* 1: L2 -> L1 */
} dory_mchan_iter;

/* Normalizes `d` (rule 1) into `it`. The descriptor must be valid (counts >= 1, direction known). */
void dory_mchan_iter_init(dory_mchan_iter *it, const dory_dma_desc *d);

/* Whether commands remain. */
int dory_mchan_iter_more(const dory_mchan_iter *it);

/* Writes the next command and returns 1, or returns 0 when every command was produced. */
int dory_mchan_iter_next(dory_mchan_iter *it, dory_mchan_cmd *cmd);

/* The fast path of the platform's DMA start: when the rules above give a descriptor exactly one command, that
 * command, without the iterator. Recognized: dense on the TCDM side, its rows (or planes of one row, or planes
 * that continue the rows) at one L2 stride in [row_bytes, DORY_MCHAN_MAX_STRIDE] (or contiguous), at most
 * DORY_MCHAN_MAX_CMD_BYTES in all, counts and row bytes below 2^16 (no product overflows): every transfer of a
 * layer that fits L1 whole, and most of a tiled one's. Returns 1 with *c (the iterator's only command), or 0 (the
 * descriptor may still be one command; the iterator decides). The descriptor must be valid. Checked against the
 * iterator by tests/kernels/mchan_split_test.cpp. */
static inline int dory_mchan_one_command(const dory_dma_desc *d, dory_mchan_cmd *c) {
  const int to_l1 = d->dir == DORY_DMA_L2_TO_L1;
  const uint32_t rb = d->row_bytes, rows = d->rows, planes = d->planes;
  const uint32_t l1_rs = to_l1 ? d->dst_row_stride : d->src_row_stride;
  const uint32_t l1_ps = to_l1 ? d->dst_plane_stride : d->src_plane_stride;
  const uint32_t l2_rs = to_l1 ? d->src_row_stride : d->dst_row_stride;
  const uint32_t l2_ps = to_l1 ? d->src_plane_stride : d->dst_plane_stride;
  uint32_t n = rows, stride = l2_rs; /* the L2 side as n rows of rb bytes, stride apart */
  uint64_t bytes;
  if (((rb | rows | planes) >> 16) != 0 || (rows > 1 && l1_rs != rb)) return 0;
  if (planes > 1) {
    if (l1_ps != rows * rb) return 0;
    if (rows == 1) {
      n = planes;
      stride = l2_ps;
    } else {
      if (l2_ps != rows * l2_rs) return 0;
      n = rows * planes;
    }
  }
  bytes = (uint64_t)n * rb;
  if (bytes > DORY_MCHAN_MAX_CMD_BYTES) return 0;
  c->l1 = (uintptr_t)(to_l1 ? d->dst : d->src);
  c->l2 = (uintptr_t)(to_l1 ? d->src : d->dst);
  c->bytes = (uint32_t)bytes;
  c->line_bytes = 0;
  c->l2_stride = 0;
  if (n == 1 || stride == rb) return 1; /* 1-D */
  if (stride < rb || stride > DORY_MCHAN_MAX_STRIDE) return 0;
  c->line_bytes = rb; /* 2-D */
  c->l2_stride = stride;
  return 1;
}

#ifdef __cplusplus
}
#endif

#endif /* DORY_MCHAN_SPLIT_H */
