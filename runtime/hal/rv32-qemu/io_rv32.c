/* The I/O shim of the rv32 QEMU platform (dory/hal_rv32.h): picolibc's stdout/stderr/stdin, _exit, and the trap
 * report. The console is line buffered here (one emulator exit per line, not per character).
 *   DORY_RV32_SYSTEM  semihosting: SYS_WRITE0 (0x04) writes a NUL-terminated string, SYS_EXIT_EXTENDED (0x20)
 *                     stops QEMU with the status (ADP_Stopped_ApplicationExit, subcode = status).
 *   DORY_RV32_USER    Linux system calls of qemu-riscv32: write (a7 = 64) to fd 1, exit (a7 = 93). */
#include <stdint.h>
#include <stdio.h>

#include "dory/hal_rv32.h"

#define CONSOLE_BUFFER 256

static char g_line[CONSOLE_BUFFER + 1]; /* + 1: SYS_WRITE0's terminating NUL */
static uint32_t g_line_len;

#if defined(DORY_RV32_SYSTEM)

enum { SYS_WRITE0 = 0x04, SYS_EXIT_EXTENDED = 0x20 };
#define ADP_STOPPED_APPLICATION_EXIT 0x20026u

/* crt0.S: the semihosting call (a0 = operation, a1 = argument). */
long dory_rv32_semihost(long op, const void *arg);

/* s is NUL-terminated (console_putc drops NULs: SYS_WRITE0 cannot carry them). */
static void console_out(const char *s, uint32_t n) {
  (void)n;
  dory_rv32_semihost(SYS_WRITE0, s);
}

static void platform_exit(int status) {
  uint32_t block[2];
  block[0] = ADP_STOPPED_APPLICATION_EXIT;
  block[1] = (uint32_t)status;
  dory_rv32_semihost(SYS_EXIT_EXTENDED, block);
}

#else /* DORY_RV32_USER */

static long linux_syscall3(long nr, long a0, long a1, long a2) {
  register long r_a0 __asm__("a0") = a0;
  register long r_a1 __asm__("a1") = a1;
  register long r_a2 __asm__("a2") = a2;
  register long r_a7 __asm__("a7") = nr;
  __asm__ volatile("ecall" : "+r"(r_a0) : "r"(r_a1), "r"(r_a2), "r"(r_a7) : "memory");
  return r_a0;
}

static void console_out(const char *s, uint32_t n) {
  while (n > 0) {
    long w = linux_syscall3(64, 1, (long)s, (long)n);
    if (w <= 0) return;
    s += w;
    n -= (uint32_t)w;
  }
}

static void platform_exit(int status) { linux_syscall3(93, status, 0, 0); }

#endif

static void console_flush(void) {
  if (g_line_len == 0) return;
  g_line[g_line_len] = '\0';
  console_out(g_line, g_line_len);
  g_line_len = 0;
}

static void console_putc(char c) {
#if defined(DORY_RV32_SYSTEM)
  if (c == '\0') return; /* SYS_WRITE0 cannot carry a NUL */
#endif
  g_line[g_line_len++] = c;
  if (c == '\n' || g_line_len == CONSOLE_BUFFER) console_flush();
}

void dory_rv32_write(const char *s, uint32_t n) {
  uint32_t i;
  for (i = 0; i < n; ++i) console_putc(s[i]);
}

void dory_rv32_exit(int status) {
  console_flush();
  platform_exit(status);
  for (;;) {
  }
}

/* ---- picolibc ---------------------------------------------------------------------------------------------- */

static int stream_put(char c, FILE *f) {
  (void)f;
  console_putc(c);
  return (unsigned char)c;
}

static int stream_flush(FILE *f) {
  (void)f;
  console_flush();
  return 0;
}

static FILE g_console = FDEV_SETUP_STREAM(stream_put, NULL, stream_flush, _FDEV_SETUP_WRITE);

FILE *const stdin = &g_console;
FILE *const stdout = &g_console;
FILE *const stderr = &g_console;

void _exit(int status);
void _exit(int status) { dory_rv32_exit(status); }

/* ---- traps (crt0.S, DORY_RV32_SYSTEM) ---------------------------------------------------------------------- */

#if defined(DORY_RV32_SYSTEM)
void dory_rv32_trap(uint32_t mcause, uint32_t mepc, uint32_t mtval);
void dory_rv32_trap(uint32_t mcause, uint32_t mepc, uint32_t mtval) {
  static const char *const names[] = {"instruction address misaligned", "instruction access fault",
                                      "illegal instruction", "breakpoint", "load address misaligned",
                                      "load access fault", "store address misaligned", "store access fault",
                                      "environment call from U-mode", "environment call from S-mode", "reserved",
                                      "environment call from M-mode"};
  const uint32_t code = mcause & 0x7FFFFFFFu;
  const int interrupt = (mcause >> 31) != 0;
  printf("dory rv32: trap: %s (mcause 0x%08lx) at mepc 0x%08lx, mtval 0x%08lx; exit status %lu\n",
         interrupt ? "interrupt" : code < 12 ? names[code] : "exception", (unsigned long)mcause,
         (unsigned long)mepc, (unsigned long)mtval, (unsigned long)(128u + (code & 0x7Fu)));
  dory_rv32_exit((int)(128u + (code & 0x7Fu)));
}
#endif
