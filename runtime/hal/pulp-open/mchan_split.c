/* Splitting a dory_dma_desc into MCHAN commands: the rules are in mchan_split.h. */
#include "mchan_split.h"

void dory_mchan_iter_init(dory_mchan_iter *it, const dory_dma_desc *d) {
  int changed = 1;
  it->to_l1 = d->dir == DORY_DMA_L2_TO_L1;
  it->l1 = (uintptr_t)(it->to_l1 ? d->dst : d->src);
  it->l2 = (uintptr_t)(it->to_l1 ? d->src : d->dst);
  it->row_bytes = d->row_bytes;
  it->rows = d->rows;
  it->planes = d->planes;
  it->l1_row_stride = it->to_l1 ? d->dst_row_stride : d->src_row_stride;
  it->l1_plane_stride = it->to_l1 ? d->dst_plane_stride : d->src_plane_stride;
  it->l2_row_stride = it->to_l1 ? d->src_row_stride : d->dst_row_stride;
  it->l2_plane_stride = it->to_l1 ? d->src_plane_stride : d->dst_plane_stride;
  it->plane = it->row = it->offset = 0;

  /* Rule 1. Products in 64 bits: a merge only happens when the result describes the same bytes. */
  while (changed) {
    changed = 0;
    if (it->planes == 1) { /* unused plane strides: continue the rows */
      it->l1_plane_stride = it->rows * it->l1_row_stride;
      it->l2_plane_stride = it->rows * it->l2_row_stride;
    }
    if (it->rows == 1) { /* unused row strides: dense */
      it->l1_row_stride = it->l2_row_stride = it->row_bytes;
    }
    if (it->rows == 1 && it->planes > 1) { /* one row per plane: the planes are the rows */
      it->rows = it->planes;
      it->planes = 1;
      it->l1_row_stride = it->l1_plane_stride;
      it->l2_row_stride = it->l2_plane_stride;
      changed = 1;
    } else if (it->planes > 1 && (uint64_t)it->l1_plane_stride == (uint64_t)it->rows * it->l1_row_stride &&
               (uint64_t)it->l2_plane_stride == (uint64_t)it->rows * it->l2_row_stride &&
               (uint64_t)it->rows * it->planes <= 0xFFFFFFFFu) { /* planes continue the rows */
      it->rows *= it->planes;
      it->planes = 1;
      changed = 1;
    }
    if (it->rows > 1 && it->l1_row_stride == it->row_bytes && it->l2_row_stride == it->row_bytes &&
        (uint64_t)it->row_bytes * it->rows <= 0xFFFFFFFFu) { /* rows contiguous on both sides: one row */
      it->row_bytes *= it->rows;
      it->rows = 1;
      changed = 1;
    }
  }
}

int dory_mchan_iter_more(const dory_mchan_iter *it) { return it->plane < it->planes; }

int dory_mchan_iter_next(dory_mchan_iter *it, dory_mchan_cmd *cmd) {
  uint32_t lines = 1;
  if (!dory_mchan_iter_more(it)) return 0;
  cmd->l1 = it->l1 + (uintptr_t)it->plane * it->l1_plane_stride + (uintptr_t)it->row * it->l1_row_stride +
            it->offset;
  cmd->l2 = it->l2 + (uintptr_t)it->plane * it->l2_plane_stride + (uintptr_t)it->row * it->l2_row_stride +
            it->offset;
  cmd->line_bytes = 0;
  cmd->l2_stride = 0;
  if (it->row_bytes > DORY_MCHAN_MAX_CMD_BYTES) { /* a) a long row, in pieces */
    const uint32_t left = it->row_bytes - it->offset;
    cmd->bytes = left < DORY_MCHAN_MAX_CMD_BYTES ? left : DORY_MCHAN_MAX_CMD_BYTES;
    it->offset += cmd->bytes;
    if (it->offset < it->row_bytes) return 1;
    it->offset = 0;
  } else {
    if (it->l1_row_stride == it->row_bytes && it->l2_row_stride >= it->row_bytes &&
        it->l2_row_stride <= DORY_MCHAN_MAX_STRIDE) { /* b) as many lines as one 2-D command takes */
      const uint32_t fit = DORY_MCHAN_MAX_CMD_BYTES / it->row_bytes, left = it->rows - it->row;
      lines = left < fit ? left : fit;
    }
    cmd->bytes = lines * it->row_bytes; /* c) or one row */
    if (lines > 1) {
      cmd->line_bytes = it->row_bytes;
      cmd->l2_stride = it->l2_row_stride;
    }
  }
  it->row += lines;
  if (it->row == it->rows) {
    it->row = 0;
    it->plane++;
  }
  return 1;
}
