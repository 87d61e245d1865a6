/* crt0.S - start-up code of the rv32 QEMU platform (dory/hal_rv32.h), with link.ld.
 *
 * _start: global pointer, stack, zeroes .bss (which includes the .tbss block), points tp at the TLS block
 * (picolibc keeps errno in thread-local storage), installs the trap vector (DORY_RV32_SYSTEM), calls
 * main(0, NULL) and exit() with its status. Symbols come from link.ld.
 * dory_rv32_trap_entry (DORY_RV32_SYSTEM): every trap (the platform enables no interrupts) goes to
 * dory_rv32_trap(mcause, mepc, mtval) in io_rv32.c, which reports it and exits with 128 + mcause.
 * dory_rv32_semihost (DORY_RV32_SYSTEM): a semihosting call, a0 = operation, a1 = argument; returns a0. The
 * three-instruction sequence must be uncompressed and within one page (aligned to 16 bytes here).
 */
#if defined(DORY_RV32_SYSTEM) == defined(DORY_RV32_USER)
#error "define exactly one of DORY_RV32_SYSTEM and DORY_RV32_USER"
#endif

  .section .text.init, "ax", @progbits
  .globl _start
  .type _start, @function
_start:
  .option push
  .option norelax
  la gp, __global_pointer$
  .option pop
  la sp, __stack_top
#if defined(DORY_RV32_SYSTEM)
  la t0, dory_rv32_trap_entry
  csrw mtvec, t0
#endif
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

#if defined(DORY_RV32_SYSTEM)
  .section .text.init, "ax", @progbits
  .balign 4
  .globl dory_rv32_trap_entry
  .type dory_rv32_trap_entry, @function
dory_rv32_trap_entry:
  /* The trap never returns: a fresh stack of its own, then report and exit. */
  la sp, __stack_top
  csrr a0, mcause
  csrr a1, mepc
  csrr a2, mtval
  call dory_rv32_trap
4:
  j 4b
  .size dory_rv32_trap_entry, . - dory_rv32_trap_entry

  .text
  .balign 16
  .globl dory_rv32_semihost
  .type dory_rv32_semihost, @function
dory_rv32_semihost:
  .option push
  .option norvc
  slli zero, zero, 0x1f
  ebreak
  srai zero, zero, 0x7
  .option pop
  ret
  .size dory_rv32_semihost, . - dory_rv32_semihost
#endif
