/* dory/hal_rv32.h - the rv32 QEMU platform of dory/hal.h (runtime/hal/rv32-qemu): what only it has.
 *
 * A single rv32imc core, built with Debian's riscv64-unknown-elf-gcc and picolibc, started by the platform's own
 * crt0.S and laid out by its own link.ld. Two ways to run, chosen when compiling (exactly one define):
 *   DORY_RV32_SYSTEM  bare metal under `qemu-system-riscv32 -M virt -bios none`: console and exit through
 *                     semihosting (SYS_WRITE0, SYS_EXIT_EXTENDED), a trap handler that prints mcause/mepc/mtval
 *                     and exits with status 128 + mcause, dory_cycles() = minstret (retired instructions; exact
 *                     and repeatable with `-icount shift=0`).
 *   DORY_RV32_USER    a Linux user-mode program under `qemu-riscv32`: console and exit through the Linux write
 *                     (64) and exit (93) system calls; a trap is a signal (the emulator dies of SIGILL/SIGSEGV);
 *                     dory_cycles() = the user `instret` counter, which qemu-user does not count exactly (it
 *                     returns a host time stamp): use system mode to measure.
 *
 * The platform:
 *   - one core: dory_cluster_run calls the task once on core 0; dory_barrier returns at once.
 *   - L1 and L2 are the two arenas the application passes to dory_rv32_init (static arrays of the network's exact
 *     sizes in the generated main.c), filled with 0xA5 (not zero: neither is the chip's memory).
 *   - DMA is a copy made by the CPU, but asynchronous in the contract's sense: dory_dma_start validates the
 *     descriptor (both sides inside their arenas, destination rows disjoint) and queues the job; the copy is
 *     made only when a dory_dma_wait needs it (then that job and every job issued before it, in issue order),
 *     so a missing wait always reads stale data, deterministically. A wait for a job not in flight (never
 *     issued, or already waited for), more than DORY_DMA_MAX_OUTSTANDING jobs in flight, or jobs still in
 *     flight at dory_rv32_shutdown stop the program with a message starting "dory rv32 HAL: " and status 1.
 *   - dory_panic prints "dory runtime: MSG" and exits with status 1.
 *
 * C99, no dependencies beyond picolibc's stdio (printf goes to the console).
 */
#ifndef DORY_HAL_RV32_H
#define DORY_HAL_RV32_H

#include <stdint.h>

#include "dory/hal.h"

#ifdef __cplusplus
extern "C" {
#endif

#if defined(DORY_RV32_SYSTEM) == defined(DORY_RV32_USER)
#error "define exactly one of DORY_RV32_SYSTEM (qemu-system, semihosting) and DORY_RV32_USER (qemu-riscv32)"
#endif

/* Gives the platform its arenas (each >= 1 byte, 8-byte aligned) and fills them with 0xA5, except the first
 * l2_loaded bytes of l2 (data the loader put there: the network's constants). Call once, first. */
void dory_rv32_init(void *l1, uint32_t l1_bytes, void *l2, uint32_t l2_bytes, uint32_t l2_loaded);

/* Verifies that every DMA job was waited for (stops the program otherwise). */
void dory_rv32_shutdown(void);

/* "qemu-system" or "qemu-user". */
const char *dory_rv32_platform_name(void);

/* The retired-instruction counter (system: minstret; user: instret as qemu-user reports it). */
uint64_t dory_rv32_instret(void);

/* Instructions retired so far copying the DMA jobs' bytes (this platform emulates the DMA engine with the core:
 * a chip's engine would move them without the core), cumulative; 0 under qemu-user. A layer's instructions minus
 * the growth of this counter are the core's own work. */
uint64_t dory_rv32_dma_instructions(void);

/* ---- the I/O shim (io_rv32.c) ---------------------------------------------------------------------------- */

/* Writes n bytes to the console (stdout and stderr are the same stream; printf goes through it too). */
void dory_rv32_write(const char *s, uint32_t n);
/* Flushes the console and stops the program with this status (exit() of picolibc ends here as well). */
#if defined(__GNUC__)
__attribute__((noreturn))
#endif
void dory_rv32_exit(int status);

#ifdef __cplusplus
}
#endif

#endif /* DORY_HAL_RV32_H */
