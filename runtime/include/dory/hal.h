/* dory/hal.h - the hardware abstraction layer every platform implements (hal/host, hal/rv32-qemu, hal/pulp-open).
 *
 * The generated executor and the kernels call only what is declared here, so the same C runs on every platform.
 * C99, no dependencies. Sizes and strides are in bytes.
 *
 * Cluster
 * -------
 *   dory_cluster_run(fn, arg) runs fn(arg) once on every core of the cluster (core ids 0 .. dory_core_count()-1)
 *   and returns when all of them have returned. It is called from the main program (on PULP: the fabric
 *   controller), never from inside a task (no nesting). Everything the caller wrote before the call is visible
 *   to every core; everything the cores wrote is visible to the caller after it returns.
 *   dory_cluster_start(fn, arg) then dory_cluster_join() is dory_cluster_run(fn, arg) in two halves: between them
 *   the main program may work beside the cluster (on PULP: the fabric controller issues L3 transfers while the
 *   cores compute), touching no memory the task uses and calling no cluster or DMA function but the L3 ones. A
 *   platform whose main program is itself a cluster core (host: core 0 is the calling thread; rv32: the only core)
 *   runs the task to its end inside dory_cluster_start. Every start is joined exactly once before the next.
 *   dory_barrier() blocks until every core of the running task has reached it; writes a core made before the
 *   barrier are visible to every core after it. All cores must call it the same number of times. Outside a
 *   task it returns at once.
 *   dory_core_id() is the calling core's id inside a task, 0 outside (the main program counts as core 0).
 *
 * DMA
 * ---
 *   One engine copies between L2 and L1 asynchronously. A transfer is a box of `planes` planes of `rows` rows of
 *   `row_bytes` contiguous bytes; row r of plane p starts at p*plane_stride + r*row_stride from the base pointer,
 *   on each side with its own strides (a stride is ignored when its count is 1). 1-D: rows = planes = 1;
 *   2-D: planes = 1. Destination rows must not overlap each other.
 *   - Only core 0 issues DMA (dory_dma_start, dory_dma_wait): inside a task, core 0; outside, the main program.
 *   - dory_dma_start returns at once with a job id; the copy happens later. The bytes of the source must have
 *     been written before the call (by another core: before a dory_barrier() that precedes it).
 *   - dory_dma_wait(job) returns when that job's bytes are in the destination. Until then the destination holds
 *     unspecified bytes (old ones, new ones or a mix) and the source must not be modified. Other cores may read
 *     the destination after a dory_barrier() that follows the wait.
 *   - Every job is waited for exactly once. Jobs may complete in any order (the host completes them in issue
 *     order, but nothing may rely on it). A platform may limit the jobs in flight (issued, not yet waited for):
 *     DORY_DMA_MAX_OUTSTANDING is the limit every platform supports.
 *   A platform whose engine strides only one side (PULP's MCHAN: the L2 side) splits a descriptor into several
 *   commands under one job id; the host accepts any strides.
 *
 * Memory
 * ------
 *   dory_l1_base()/dory_l1_size(): the L1 area dory may use (the cluster's scratchpad, minus what the platform
 *   reserves). dory_l2_base()/dory_l2_size(): the L2 area holding dory's tensors, weights and buffers. Both are
 *   fixed for the life of the program; the generated code places its buffers at static offsets from the bases.
 *
 * Time
 * ----
 *   dory_cycles() is a free-running counter of the platform's cycles (host: nanoseconds since dory_host_init;
 *   rv32-qemu: retired instructions, minstret; pulp-open: the fabric controller's mcycle).
 *   Modeled cycles (the cost model's) are not the platform's: they go to the trace (dory/trace.h).
 *
 * Errors
 * ------
 *   dory_panic(msg) reports a broken runtime invariant (a kernel given inconsistent arguments, an executor bug)
 *   and stops the program with a failure status; it never returns.
 */
#ifndef DORY_HAL_H
#define DORY_HAL_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- cluster ----------------------------------------------------------------------------------------------- */

typedef void (*dory_task_fn)(void *arg);

void dory_cluster_run(dory_task_fn fn, void *arg);
void dory_cluster_start(dory_task_fn fn, void *arg);
void dory_cluster_join(void);
int dory_core_id(void);
int dory_core_count(void);
void dory_barrier(void);

/* ---- DMA --------------------------------------------------------------------------------------------------- */

enum { DORY_DMA_L2_TO_L1 = 0, DORY_DMA_L1_TO_L2 = 1 };

/* Jobs in flight (issued, not waited for) every platform supports. */
#define DORY_DMA_MAX_OUTSTANDING 16

typedef struct {
  void *dst;
  const void *src;
  uint32_t row_bytes;        /* contiguous bytes per row, >= 1 */
  uint32_t rows;             /* rows per plane, >= 1 */
  uint32_t planes;           /* planes, >= 1 */
  uint32_t src_row_stride;   /* start to start, bytes */
  uint32_t src_plane_stride;
  uint32_t dst_row_stride;
  uint32_t dst_plane_stride;
  uint8_t dir;               /* DORY_DMA_L2_TO_L1 or DORY_DMA_L1_TO_L2 */
} dory_dma_desc;

typedef uint32_t dory_dma_job;

dory_dma_job dory_dma_start(const dory_dma_desc *desc);
void dory_dma_wait(dory_dma_job job);

/* A blocking copy of the runtime's own data (outside the arenas: a layer's descriptor in the image or on the main
 * program's stack) into the cores' memory, by whoever issues DMA (inside a task, core 0), with no job in flight.
 * PULP-open: one MCHAN command (the ~800 B of a descriptor in ~100 cycles, where the 8 cores' own loads from L2
 * queue at the cluster's port for ~1,500); elsewhere memcpy. */
void dory_copy_near(void *dst, const void *src, uint32_t bytes);

/* Descriptor builders (dense on the side not given strides). */
static inline dory_dma_desc dory_dma_1d(void *dst, const void *src, uint32_t bytes, uint8_t dir) {
  dory_dma_desc d;
  d.dst = dst;
  d.src = src;
  d.row_bytes = bytes;
  d.rows = 1;
  d.planes = 1;
  d.src_row_stride = d.dst_row_stride = bytes;
  d.src_plane_stride = d.dst_plane_stride = bytes;
  d.dir = dir;
  return d;
}

/* rows x row_bytes, strided by src_row_stride / dst_row_stride. */
static inline dory_dma_desc dory_dma_2d(void *dst, uint32_t dst_row_stride, const void *src, uint32_t src_row_stride,
                                        uint32_t row_bytes, uint32_t rows, uint8_t dir) {
  dory_dma_desc d = dory_dma_1d(dst, src, row_bytes, dir);
  d.rows = rows;
  d.src_row_stride = src_row_stride;
  d.dst_row_stride = dst_row_stride;
  d.src_plane_stride = src_row_stride * rows;
  d.dst_plane_stride = dst_row_stride * rows;
  return d;
}

/* planes x rows x row_bytes. */
static inline dory_dma_desc dory_dma_3d(void *dst, uint32_t dst_row_stride, uint32_t dst_plane_stride,
                                        const void *src, uint32_t src_row_stride, uint32_t src_plane_stride,
                                        uint32_t row_bytes, uint32_t rows, uint32_t planes, uint8_t dir) {
  dory_dma_desc d = dory_dma_2d(dst, dst_row_stride, src, src_row_stride, row_bytes, rows, dir);
  d.planes = planes;
  d.src_plane_stride = src_plane_stride;
  d.dst_plane_stride = dst_plane_stride;
  return d;
}

/* ---- L3: the external memory (HyperRAM) behind its own engine ---------------------------------------------- *
 *
 * A platform with an L3 has a second engine between L2 and L3 (on PULP the uDMA's HyperBus channel; on the host
 * a thread that is slow on purpose). L3 need not be memory-mapped: it is addressed by byte offsets in
 * [0, dory_l3_size()), never by pointers. Transfers are 1-D (`bytes` contiguous bytes on both sides).
 *   - Only the main program (on PULP: the fabric controller) issues and waits for L3 transfers, never a cluster
 *     task: the L3 level of the schedule runs between cluster tasks, and its transfers overlap them.
 *   - dory_l3_start returns at once with a job id; dory_l3_wait(job) returns when its bytes are in the
 *     destination. Until then the destination holds unspecified bytes and the source must not be modified.
 *     Every job is waited for exactly once; at most DORY_L3_MAX_OUTSTANDING are in flight.
 *   - The L2 side is 4-byte aligned (the uDMA moves whole 32-bit words). An L3 -> L2 transfer writes whole words:
 *     the bytes from l2 + bytes up to the next multiple of 4 may be overwritten with anything. The compiler's
 *     staging buffers reserve that slack; the host platform writes garbage there, so a layout that forgets it
 *     fails on the host too. An L2 -> L3 transfer writes exactly `bytes` bytes.
 * A platform without an L3 has dory_l3_size() == 0 and stops the program on any L3 transfer. */
enum { DORY_L3_TO_L2 = 0, DORY_L2_TO_L3 = 1 };

/* L3 jobs in flight every platform with an L3 supports. */
#define DORY_L3_MAX_OUTSTANDING 8

typedef struct {
  void *l2;        /* the L2 side, 4-byte aligned */
  uint32_t l3;     /* byte offset in L3 */
  uint32_t bytes;  /* >= 1 */
  uint8_t dir;     /* DORY_L3_TO_L2 or DORY_L2_TO_L3 */
} dory_l3_desc;

dory_dma_job dory_l3_start(const dory_l3_desc *desc);
void dory_l3_wait(dory_dma_job job);
uint32_t dory_l3_size(void);

/* ---- memory, time, errors ---------------------------------------------------------------------------------- */

/* Where the network's constants and activations go in the application (the generated network.c and main.c).
 * On platforms whose program image is in L2 (pulp-open, rv32) the constants stay where the loader put them:
 * link.ld places the section .dory_l2_constants and right after it the activations' arena .dory_l2_arena, and
 * the application's L2 area begins with the constants. On the host the constants are ordinary read-only data,
 * copied into the simulated L2. */
#if defined(DORY_PLATFORM_PULP_OPEN) || defined(DORY_PLATFORM_RV32)
#define DORY_L2_CONSTANTS __attribute__((section(".dory_l2_constants"), aligned(8)))
#define DORY_L2_ARENA __attribute__((section(".dory_l2_arena"), aligned(8)))
#else
#define DORY_L2_CONSTANTS
#define DORY_L2_ARENA __attribute__((aligned(8)))
#endif

/* Data the cluster's cores read all the time (the running layer's descriptor): in TCDM on pulp-open (1-cycle
 * loads instead of L2's 16; link.ld .dory_tcdm, inside the runtime's TCDM share), ordinary data elsewhere. */
#if defined(DORY_PLATFORM_PULP_OPEN)
#define DORY_CLUSTER_DATA __attribute__((section(".dory_tcdm")))
#else
#define DORY_CLUSTER_DATA
#endif

void *dory_l1_base(void);
uint32_t dory_l1_size(void);
void *dory_l2_base(void);
uint32_t dory_l2_size(void);

uint64_t dory_cycles(void);

#if defined(__GNUC__)
__attribute__((noreturn))
#endif
void dory_panic(const char *msg);

#ifdef __cplusplus
}
#endif

#endif /* DORY_HAL_H */
