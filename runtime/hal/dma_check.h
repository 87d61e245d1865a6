/* dma_check.h - the checks of dory/hal.h's DMA contract that every platform makes before it starts a job
 * (internal to the HALs: runtime/hal/{host,rv32-qemu,pulp-open}).
 *
 * A descriptor is valid when its direction is one of the two, every count (planes, rows, row bytes) is >= 1, the
 * destination's rows and planes do not overlap (strides at least a row / a plane apart), and each side's strided
 * box lies inside the arena its direction names (source in L2 and destination in L1 for L2->L1, the reverse for
 * L1->L2). The extent of a box is the offset one past its last byte:
 *   (planes - 1) * plane_stride + (rows - 1) * row_stride + row_bytes.
 * Header-only (static inline) so that each platform's build lists stay as they are; C99, no allocation. */
#ifndef DORY_HAL_DMA_CHECK_H
#define DORY_HAL_DMA_CHECK_H

#include <stdint.h>
#include <stdio.h>

#include "dory/hal.h"

static inline uint64_t dory_dma_box_extent(uint32_t row_bytes, uint32_t rows, uint32_t planes, uint32_t row_stride,
                                           uint32_t plane_stride) {
  return (uint64_t)(planes - 1) * plane_stride + (uint64_t)(rows - 1) * row_stride + row_bytes;
}

static inline int dory_dma_inside(const uint8_t *base, uint32_t size, const uint8_t *p, uint64_t extent) {
  return p >= base && p <= base + size && extent <= (uint64_t)(base + size - p);
}

static inline const char *dory_dma_dir_name(uint8_t dir) { return dir == DORY_DMA_L2_TO_L1 ? "L2->L1" : "L1->L2"; }

/* The shape checks (direction, counts, destination overlap). Returns NULL when they pass, else msg holding the
 * reason ("DMA job N ...: ..."). */
static inline const char *dory_dma_check_shape(const dory_dma_desc *d, unsigned long job, char *msg, size_t n) {
  if (d->dir != DORY_DMA_L2_TO_L1 && d->dir != DORY_DMA_L1_TO_L2) {
    snprintf(msg, n, "DMA job %lu: invalid direction %u", job, (unsigned)d->dir);
    return msg;
  }
  if (d->row_bytes == 0 || d->rows == 0 || d->planes == 0) {
    snprintf(msg, n, "DMA job %lu (%s): empty transfer (%lu plane(s) x %lu row(s) x %lu B); every count must be >= 1",
             job, dory_dma_dir_name(d->dir), (unsigned long)d->planes, (unsigned long)d->rows,
             (unsigned long)d->row_bytes);
    return msg;
  }
  if (d->rows > 1 && d->dst_row_stride < d->row_bytes) {
    snprintf(msg, n, "DMA job %lu (%s): destination rows overlap (row stride %lu < row bytes %lu)", job,
             dory_dma_dir_name(d->dir), (unsigned long)d->dst_row_stride, (unsigned long)d->row_bytes);
    return msg;
  }
  if (d->planes > 1 && d->dst_plane_stride < dory_dma_box_extent(d->row_bytes, d->rows, 1, d->dst_row_stride, 0)) {
    snprintf(msg, n, "DMA job %lu (%s): destination planes overlap (plane stride %lu < plane extent %llu)", job,
             dory_dma_dir_name(d->dir), (unsigned long)d->dst_plane_stride,
             (unsigned long long)dory_dma_box_extent(d->row_bytes, d->rows, 1, d->dst_row_stride, 0));
    return msg;
  }
  return NULL;
}

/* 1 when d passes every check of dory_dma_check below, shown in 32-bit arithmetic for the common descriptor (rows,
 * planes, row bytes and every stride below 2^16, so that no product overflows and every sum is compared against
 * the room left instead of being formed); 0 when it fails one or is not of that kind (the caller then runs
 * dory_dma_check, which decides and explains). Cheap on rv32: no 64-bit products, no calls. A box's extent is
 * checked as (rows - 1) * row_stride + row_bytes <= room and (planes - 1) * plane_stride <= room - that. */
static inline int dory_dma_quick_valid(const dory_dma_desc *d, const uint8_t *l1, uint32_t l1_size, const uint8_t *l2,
                                       uint32_t l2_size) {
  const int to_l1 = d->dir == DORY_DMA_L2_TO_L1;
  const uintptr_t sb = (uintptr_t)(to_l1 ? l2 : l1), db = (uintptr_t)(to_l1 ? l1 : l2);
  const uint32_t ss = to_l1 ? l2_size : l1_size, ds = to_l1 ? l1_size : l2_size;
  const uintptr_t s = (uintptr_t)d->src, t = (uintptr_t)d->dst;
  uint32_t se, de, sp = 0, dp = 0;
  if ((d->dir != DORY_DMA_L2_TO_L1 && d->dir != DORY_DMA_L1_TO_L2) || d->planes == 0 || d->rows == 0 ||
      d->row_bytes == 0 || ((d->rows | d->row_bytes | d->src_row_stride | d->dst_row_stride) >> 16) != 0 ||
      (d->rows > 1 && d->dst_row_stride < d->row_bytes))
    return 0;
  se = (d->rows - 1u) * d->src_row_stride + d->row_bytes; /* < 2^32 */
  de = (d->rows - 1u) * d->dst_row_stride + d->row_bytes;
  if (d->planes > 1) {
    if (((d->planes | d->src_plane_stride | d->dst_plane_stride) >> 16) != 0 || d->dst_plane_stride < de) return 0;
    sp = (d->planes - 1u) * d->src_plane_stride; /* < 2^32 */
    dp = (d->planes - 1u) * d->dst_plane_stride;
  }
  return s >= sb && s - sb <= ss && se <= ss - (uint32_t)(s - sb) && sp <= ss - (uint32_t)(s - sb) - se && t >= db &&
         t - db <= ds && de <= ds - (uint32_t)(t - db) && dp <= ds - (uint32_t)(t - db) - de;
}

/* Every check against arenas L1 [l1, +l1_size) and L2 [l2, +l2_size). Returns NULL when the job is valid, else
 * msg with the reason (the shape's, or which side leaves which arena). */
static inline const char *dory_dma_check(const dory_dma_desc *d, unsigned long job, const uint8_t *l1,
                                         uint32_t l1_size, const uint8_t *l2, uint32_t l2_size, char *msg, size_t n) {
  const int to_l1 = d->dir == DORY_DMA_L2_TO_L1;
  const uint8_t *src_base = to_l1 ? l2 : l1, *dst_base = to_l1 ? l1 : l2;
  const uint32_t src_size = to_l1 ? l2_size : l1_size, dst_size = to_l1 ? l1_size : l2_size;
  uint64_t src_extent, dst_extent;
  if (dory_dma_check_shape(d, job, msg, n)) return msg;
  src_extent = dory_dma_box_extent(d->row_bytes, d->rows, d->planes, d->src_row_stride, d->src_plane_stride);
  dst_extent = dory_dma_box_extent(d->row_bytes, d->rows, d->planes, d->dst_row_stride, d->dst_plane_stride);
  if (!dory_dma_inside(src_base, src_size, (const uint8_t *)d->src, src_extent)) {
    snprintf(msg, n, "DMA job %lu (%s): the source [%p, +%lu B) is not inside the %s arena [%p, +%lu B)", job,
             dory_dma_dir_name(d->dir), d->src, (unsigned long)src_extent, to_l1 ? "L2" : "L1", (const void *)src_base,
             (unsigned long)src_size);
    return msg;
  }
  if (!dory_dma_inside(dst_base, dst_size, (const uint8_t *)d->dst, dst_extent)) {
    snprintf(msg, n, "DMA job %lu (%s): the destination [%p, +%lu B) is not inside the %s arena [%p, +%lu B)", job,
             dory_dma_dir_name(d->dir), d->dst, (unsigned long)dst_extent, to_l1 ? "L1" : "L2",
             (const void *)dst_base, (unsigned long)dst_size);
    return msg;
  }
  return NULL;
}

#endif /* DORY_HAL_DMA_CHECK_H */
