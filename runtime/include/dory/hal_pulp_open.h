/* dory/hal_pulp_open.h - the PULP-open platform of dory/hal.h (runtime/hal/pulp-open): what only it has.
 *
 * PULP-open as modelled by the GVSoC virtual platform (docs/pulp-open-facts.md, shared docs; docs/deploy.md
 * "PULP-open"): a fabric controller (FC) running main, and a cluster of 8 rv32imc cores sharing 64 kB of TCDM
 * (L1) with the MCHAN DMA. Built with Debian's riscv64-unknown-elf-gcc and picolibc, started by the platform's own
 * crt0.S and laid out by its own link.ld (code and data in L2 from 0x1c008000, the L1 arena at 0x10000000).
 *
 * The platform:
 *   - dory_pulp_init (on the FC, first) enables the cluster's instruction cache, starts the 8 cluster cores once
 *     (boot address registers, fetch enable), and keeps them in a dispatch loop. dory_cluster_run publishes the
 *     task in TCDM; every core runs it on its own TCDM stack, then writes its done flag, which the FC polls (the
 *     join). dory_barrier is a software barrier over one epoch word per core in TCDM (no atomics).
 *     dory_core_id() = mhartid & 0x1f on a cluster core, 0 on the FC; dory_core_count() = 8 (or fewer after
 *     dory_pulp_set_cores).
 *   - DMA is MCHAN, issued by cluster core 0 through its per-core channel (by the FC through the FC channel when
 *     called outside a task). A job is split into 1-D/2-D commands (mchan_split.h) under one dory job id; at most
 *     2 commands are in the engine at a time (the per-core command queue is 2 deep); the rest are pushed when core
 *     0 next starts or waits for a job. A wait polls the engine's status and frees the transfer ids. No job may
 *     be in flight across dory_cluster_run (started and waited for in the same task, or both outside).
 *   - Every cluster task is measured with the cores' performance counters (cycles and instructions, PCER/PCMR):
 *     dory_pulp_take_counters. dory_cycles() is the FC's mcycle (on a cluster core: its cycles since its task
 *     started).
 *   - Console: semihosting SYS_WRITEC (stdout and printf); exit: the status is printed ("dory pulp-open: exit
 *     status N"), then SYS_EXIT with 0x20026 (status 0) or 0x20023 (any other), since the platform reports only
 *     pass or fail. A trap prints its cause and exits with 128 + mcause (reported as a failure).
 *   - Misuse (a DMA outside the arenas, a wait for a job not in flight, more than DORY_DMA_MAX_OUTSTANDING jobs,
 *     DMA from another core than 0, a nested dory_cluster_run) prints a line starting "dory pulp-open HAL: " and
 *     exits with status 1; dory_panic prints "dory runtime: MSG" and exits with status 1.
 *
 * Built with -DDORY_PLATFORM_PULP_OPEN. C99, no dependencies beyond picolibc's stdio.
 */
#ifndef DORY_HAL_PULP_OPEN_H
#define DORY_HAL_PULP_OPEN_H

#include <stdint.h>

#include "dory/hal.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The memory map (facts). */
#define DORY_PULP_TCDM_BASE 0x10000000u
#define DORY_PULP_TCDM_BYTES 0x10000u  /* 64 kB */
#define DORY_PULP_L2_BASE 0x1c000000u
#define DORY_PULP_L2_BYTES 0x80000u    /* 512 kB; programs are loaded from 0x1c008000 (link.ld) */
#define DORY_PULP_CORES 8

/* Puts a static array into the L1 arena section at the start of the TCDM (link.ld). */
#define DORY_PULP_L1_SECTION __attribute__((section(".dory_l1"), aligned(16)))

/* Gives the platform its arenas (l1 inside TCDM, l2 inside L2, each >= 1 byte), fills them with 0xA5 (not zero:
 * neither is the chip's memory) except the first l2_loaded bytes of l2 (data the loader put there: the network's
 * constants), and starts the cluster. Call once, first, on the FC. */
void dory_pulp_init(void *l1, uint32_t l1_bytes, void *l2, uint32_t l2_bytes, uint32_t l2_loaded);

/* Verifies that every DMA job was waited for (stops the program otherwise). */
void dory_pulp_shutdown(void);

/* ---- L3: the board's HyperRAM through the uDMA (hal/pulp-open/l3_hyper.c) ---------------------------------- */

/* Enables the uDMA's HyperBus channel and gives dory the first l3_bytes (<= 8 MB) of the HyperRAM as L3. Once, on
 * the FC, after dory_pulp_init. dory_l3_start/wait then move bytes between L2 and HyperRAM (dory/hal.h). */
void dory_pulp_init_l3(uint32_t l3_bytes);
/* Verifies that every L3 job was waited for. */
void dory_pulp_shutdown_l3(void);
/* Copies the file `name` of the readfs partition at the start of the HyperFlash (how the build puts the network's
 * L3 constants in the flash image: `--flash-content`, docs/deploy.md) to L3 offset l3, through `bounce` (an L2
 * buffer inside the L2 arena, 4-byte aligned, >= 64 B). Returns 0, -1 when the flash holds no readfs partition,
 * -2 when the file is not in it, -3 when its size is not `bytes`. */
int dory_pulp_l3_load_file(const char *name, uint32_t l3, uint32_t bytes, uint8_t *bounce, uint32_t bounce_bytes);

/* Runs the following tasks on cluster cores 0 .. n-1 only (1 <= n <= 8; 8 after dory_pulp_init): dory_core_count()
 * returns n, dory_cluster_run calls the task on those cores (the others only report done and count 0 cycles),
 * dory_barrier synchronizes them (the barrier epochs restart at every call). For measurements on fewer cores
 * (bench/gvsoc). Call it on the FC, between tasks (from a cluster core it fails). */
void dory_pulp_set_cores(int n);

/* The cluster's performance counters over the tasks run since the previous call (then reset): `cycles` sums, over
 * the tasks, the largest cycle count of any core in the task; `instructions` sums every core's instructions.
 * Each core counts from just before it calls the task function to just after it returns (32-bit counters per
 * task). */
typedef struct {
  uint64_t cycles;
  uint64_t instructions;
  uint32_t tasks;
} dory_pulp_counters;
dory_pulp_counters dory_pulp_take_counters(void);

/* ---- the I/O shim (io_pulp_open.c) ------------------------------------------------------------------------ */

/* Writes n bytes to the console (semihosting SYS_WRITEC, one call per byte). */
void dory_pulp_write(const char *s, uint32_t n);
/* Prints "dory pulp-open: exit status N" and stops the platform (exit() of picolibc ends here as well). */
#if defined(__GNUC__)
__attribute__((noreturn))
#endif
void dory_pulp_exit(int status);

#ifdef __cplusplus
}
#endif

#endif /* DORY_HAL_PULP_OPEN_H */
