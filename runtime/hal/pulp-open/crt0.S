/* crt0.S - start-up code of the PULP-open platform (dory/hal_pulp_open.h), with link.ld.
 *
 * _start (the ELF entry: the GVSoC loader boots the fabric controller here): global pointer, the FC's stack in
 * L2, the trap vector, zeroes .bss (which includes the .tbss block), points tp at the TLS block (picolibc keeps
 * errno in thread-local storage), calls main(0, NULL) and exit() with its status.
 *
 * dory_pulp_cluster_entry: where every cluster core starts (hal_pulp_open.c writes this address into the boot
 * address registers before the fetch enable). Global pointer, tp (the FC's TLS block: cluster code does not use
 * errno; sharing it is harmless), core id = mhartid & 0x1f, its own stack in TCDM ([start + id*size, +size) of
 * link.ld's .dory_stacks, growing down from the end), the trap vector, then dory_pulp_cluster_main(id), which
 * never returns. A core id >= 8 (not expected) parks in a loop instead of using another core's stack.
 *
 * dory_pulp_trap_entry: every exception (the platform enables no interrupt) goes to dory_pulp_trap(mcause, mepc)
 * in io_pulp_open.c, which reports it and exits. The facts do not cover traps: the vector is 256-byte aligned and
 * written in direct mode, which also works where mtvec only has a vectored mode (exceptions enter at its base);
 * only mcause and mepc are read (mtval may be unimplemented). The handler keeps the stack it trapped on.
 *
 * dory_pulp_semihost: a semihosting call, a0 = operation, a1 = argument; returns a0. The RISC-V semihosting
 * sequence must be uncompressed and within one page (aligned to 16 bytes here).
 */

  .section .text.init, "ax", @progbits
  .globl _start
  .type _start, @function
_start:
  .option push
  .option norelax
  la gp, __global_pointer$
  .option pop
  la sp, __dory_fc_stack_top
  la t0, dory_pulp_trap_entry
  csrw mtvec, t0
  la t0, __bss_start
  la t1, __bss_end
1:
  bgeu t0, t1, 2f
  sw zero, 0(t0)
  addi t0, t0, 4
  j 1b
2:
  la tp, __tls_base
  li a0, 0
  li a1, 0
  call main
  call exit
3:
  j 3b
  .size _start, . - _start

  .text
  .balign 4
  .globl dory_pulp_cluster_entry
  .type dory_pulp_cluster_entry, @function
dory_pulp_cluster_entry:
  .option push
  .option norelax
  la gp, __global_pointer$
  .option pop
  la tp, __tls_base
  csrr a0, mhartid
  andi a0, a0, 0x1f
  la t0, __dory_cluster_cores
  bgeu a0, t0, 5f
  la t0, __dory_cluster_stack_bytes
  addi t1, a0, 1
  mul t0, t0, t1
  la sp, __dory_cluster_stacks_start
  add sp, sp, t0
  la t0, dory_pulp_trap_entry
  csrw mtvec, t0
  call dory_pulp_cluster_main
5:
  j 5b
  .size dory_pulp_cluster_entry, . - dory_pulp_cluster_entry

  .balign 256
  .globl dory_pulp_trap_entry
  .type dory_pulp_trap_entry, @function
dory_pulp_trap_entry:
  csrr a0, mcause
  csrr a1, mepc
  call dory_pulp_trap
4:
  j 4b
  .size dory_pulp_trap_entry, . - dory_pulp_trap_entry

  .balign 16
  .globl dory_pulp_semihost
  .type dory_pulp_semihost, @function
dory_pulp_semihost:
  .option push
  .option norvc
  slli zero, zero, 0x1f
  ebreak
  srai zero, zero, 0x7
  .option pop
  ret
  .size dory_pulp_semihost, . - dory_pulp_semihost
