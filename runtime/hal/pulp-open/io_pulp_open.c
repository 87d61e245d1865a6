/* The I/O shim of the PULP-open platform (dory/hal_pulp_open.h): picolibc's stdout/stderr/stdin, _exit, and the
 * trap report, over semihosting as GVSoC implements it (facts): SYS_WRITEC (0x03, the argument points to one
 * character) and SYS_EXIT (0x18); SYS_EXIT_EXTENDED is not implemented, so the exit status cannot be passed: it
 * is printed, then SYS_EXIT reports 0x20026 (ADP_Stopped_ApplicationExit: success) for status 0 and 0x20023
 * (ADP_Stopped_RunTimeErrorUnknown: failure) otherwise. The reason goes in the argument register itself, as
 * semihosting specifies for 32-bit targets (the facts name the codes, not how they are passed). Cluster cores may
 * print too (facts); the console is not buffered, so lines of concurrent writers could interleave (only the FC
 * prints, except a failing core's last words). */
#include <stdint.h>
#include <stdio.h>

#include "dory/hal_pulp_open.h"

enum { SYS_WRITEC = 0x03, SYS_EXIT = 0x18 };
#define ADP_STOPPED_APPLICATION_EXIT 0x20026u
#define ADP_STOPPED_RUNTIME_ERROR 0x20023u

/* crt0.S: the semihosting call (a0 = operation, a1 = argument). */
long dory_pulp_semihost(long op, const void *arg);

static void console_putc(char c) {
  volatile char ch = c; /* in memory: SYS_WRITEC reads the character through its address */
  dory_pulp_semihost(SYS_WRITEC, (const void *)&ch);
}

void dory_pulp_write(const char *s, uint32_t n) {
  uint32_t i;
  for (i = 0; i < n; ++i) console_putc(s[i]);
}

static void write_str(const char *s) {
  while (*s) console_putc(*s++);
}

/* Unsigned decimal or hexadecimal, without stdio (also usable on a failing path). */
static void write_uint(uint32_t v, unsigned base) {
  char buf[12];
  int n = 0;
  do {
    const uint32_t d = v % base;
    buf[n++] = (char)(d < 10 ? '0' + d : 'a' + d - 10);
    v /= base;
  } while (v);
  while (n > 0) console_putc(buf[--n]);
}

void dory_pulp_exit(int status) {
  write_str("dory pulp-open: exit status ");
  if (status < 0) {
    console_putc('-');
    write_uint(0u - (uint32_t)status, 10);
  } else {
    write_uint((uint32_t)status, 10);
  }
  console_putc('\n');
  dory_pulp_semihost(SYS_EXIT, (const void *)(uintptr_t)(status == 0 ? ADP_STOPPED_APPLICATION_EXIT
                                                                      : ADP_STOPPED_RUNTIME_ERROR));
  for (;;) {
  }
}

/* ---- picolibc ---------------------------------------------------------------------------------------------- */

static int stream_put(char c, FILE *f) {
  (void)f;
  console_putc(c);
  return (unsigned char)c;
}

static FILE g_console = FDEV_SETUP_STREAM(stream_put, NULL, NULL, _FDEV_SETUP_WRITE);

FILE *const stdin = &g_console;
FILE *const stdout = &g_console;
FILE *const stderr = &g_console;

void _exit(int status);
void _exit(int status) { dory_pulp_exit(status); }

/* ---- traps (crt0.S) ---------------------------------------------------------------------------------------- */

void dory_pulp_trap(uint32_t mcause, uint32_t mepc);
void dory_pulp_trap(uint32_t mcause, uint32_t mepc) {
  uint32_t hart;
  const uint32_t code = mcause & 0x7Fu;
  __asm__ volatile("csrr %0, mhartid" : "=r"(hart));
  write_str("dory pulp-open: trap: mcause 0x");
  write_uint(mcause, 16);
  write_str(" at mepc 0x");
  write_uint(mepc, 16);
  write_str(" on hart 0x");
  write_uint(hart, 16);
  write_str(code == 2 ? " (illegal instruction)\n" : "\n");
  dory_pulp_exit((int)(128u + code));
}
