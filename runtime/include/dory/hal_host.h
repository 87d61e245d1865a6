/* dory/hal_host.h - the host platform of dory/hal.h (runtime/hal/host): what only the host has.
 *
 * The host runs a generated application on x86 (or any POSIX machine) so that it fails where the chip would
 * fail, and loudly:
 *   - L1 and L2 are fixed arenas of the target's exact sizes (dory_host_init), each between two guard zones of
 *     DORY_HOST_GUARD_BYTES filled with a known pattern. A DMA whose source or destination leaves its arena
 *     (or lies in the wrong one) aborts before copying, naming the job and the addresses relative to the arena.
 *     The guards are verified at every dory_dma_wait, after every dory_cluster_run and at dory_host_shutdown; a
 *     changed guard byte aborts naming the arena and the offset.
 *   - Cores are POSIX threads (core 0 is the thread that calls dory_cluster_run) with a real barrier.
 *   - The DMA engine is a separate thread that performs the jobs in issue order, each no earlier than the
 *     completion delay after it was issued (waiting does not make it faster); dory_dma_wait blocks until its
 *     job is done. A missing wait therefore shows up as stale data, and under ThreadSanitizer as a data race
 *     between the engine's copy and the read. With DORY_HOST_DMA_UNTIL_WAIT a job is performed only when a wait
 *     needs it (then it and every job issued before it): the most adversarial setting, and deterministic.
 *   - Misuse aborts with a message: DMA issued by a core other than 0, a wait for a job that is not in flight
 *     (never issued, or already waited for), more than the outstanding-job limit in flight, or jobs still in
 *     flight at shutdown.
 *   - L3 (dory_host_init_l3): a third guarded arena behind an engine thread of its own that is slow on purpose:
 *     a job completes a latency after the engine has moved its bytes at a limited bandwidth, jobs one after the
 *     other (DORY_HOST_L3_DELAY_US, DORY_HOST_L3_PS_PER_BYTE; "wait" as for the L1 engine), so a missing wait or an
 *     L3 transfer overlapping a computation shows. An L3 -> L2 job writes whole words, as PULP's uDMA does: the
 *     bytes after its end up to the next multiple of 4 get garbage. L3 transfers from a cluster task, an L2 side
 *     outside the L2 arena or not 4-byte aligned (L3 -> L2), an L3 side outside L3, more than
 *     DORY_L3_MAX_OUTSTANDING in flight, a wait for a job not in flight, or jobs left at shutdown abort.
 * Every message starts with "dory host HAL: ".
 *
 * Environment (read by dory_host_init): DORY_HOST_DMA_DELAY_US sets the completion delay in microseconds
 * ("wait" for DORY_HOST_DMA_UNTIL_WAIT); default DORY_HOST_DMA_DEFAULT_DELAY_US. Read by dory_host_init_l3:
 * DORY_HOST_L3_DELAY_US (default DORY_HOST_L3_DEFAULT_DELAY_US, or "wait") and DORY_HOST_L3_PS_PER_BYTE
 * (picoseconds per byte, default DORY_HOST_L3_DEFAULT_PS_PER_BYTE).
 */
#ifndef DORY_HAL_HOST_H
#define DORY_HAL_HOST_H

#include <stdint.h>

#include "dory/hal.h"

#ifdef __cplusplus
extern "C" {
#endif

#define DORY_HOST_MAX_CORES 64
#define DORY_HOST_GUARD_BYTES 4096u
#define DORY_HOST_DMA_UNTIL_WAIT 0xFFFFFFFFu
#define DORY_HOST_DMA_DEFAULT_DELAY_US 0u
#define DORY_HOST_L3_DEFAULT_DELAY_US 20u      /* the L3 engine: a latency per job ... */
#define DORY_HOST_L3_DEFAULT_PS_PER_BYTE 2000u /* ... and 2 ns per byte (500 MB/s) */

/* Creates the arenas (l1_bytes, l2_bytes >= 1) and the cores (1 <= cores <= DORY_HOST_MAX_CORES). The arenas are
 * filled with 0xA5 (uninitialized memory is not zero on the chip either). Aborts if already initialized. */
void dory_host_init(uint32_t l1_bytes, uint32_t l2_bytes, int cores);

/* Gives the platform an L3 arena of l3_bytes (>= 1) behind its own engine (after dory_host_init, once). Without it,
 * dory_l3_size() is 0 and every L3 transfer aborts. */
void dory_host_init_l3(uint32_t l3_bytes);

/* The L3 engine's timing for jobs issued from now on: a latency in microseconds (or DORY_HOST_DMA_UNTIL_WAIT) and
 * picoseconds per byte. */
void dory_host_set_l3_timing(uint32_t delay_us, uint32_t ps_per_byte);

/* Verifies the guards and that no DMA job is in flight, then stops the threads and frees the arenas. */
void dory_host_shutdown(void);

/* Completion delay of jobs issued from now on, in microseconds, or DORY_HOST_DMA_UNTIL_WAIT. */
void dory_host_set_dma_delay_us(uint32_t delay_us);

/* Limit of jobs in flight before dory_dma_start aborts (default DORY_DMA_MAX_OUTSTANDING; at most 1024). */
void dory_host_set_max_outstanding(uint32_t jobs);

/* Verifies all four guard zones now (aborts on a changed byte). */
void dory_host_check_guards(void);

/* Statistics since dory_host_init. */
typedef struct {
  uint64_t jobs;        /* DMA jobs issued */
  uint64_t bytes;       /* bytes they moved */
  uint64_t tasks;       /* dory_cluster_run calls */
  uint64_t l3_jobs;     /* L3 jobs issued */
  uint64_t l3_bytes;    /* bytes they moved */
} dory_host_stats;
dory_host_stats dory_host_get_stats(void);

#ifdef __cplusplus
}
#endif

#endif /* DORY_HAL_HOST_H */
