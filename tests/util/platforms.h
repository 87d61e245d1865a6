// Test helpers for the tests that need tools dory does not ship: the RISC-V cross toolchain (Debian packages,
// which CI installs) and GVSoC (GVSOC_INSTALL, which CI sets). Without them a test skips saying why, except under
// CI=true, where a missing tool is a failure: CI must not pass by skipping. And a shell runner for the tests that
// build generated applications.
#pragma once

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>

#include "codegen/host_run.h"

namespace dory::testing {

inline bool in_ci() {
  const char* ci = std::getenv("CI");
  return ci && std::string(ci) == "true";
}

// Runs `cmd` in a shell; returns its exit status and its stdout and stderr, interleaved.
inline std::pair<int, std::string> shell(const std::string& cmd) {
  std::string out;
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  char buf[4096];
  size_t n;
  while (p && (n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  const int st = p ? pclose(p) : -1;
  return {WIFEXITED(st) ? WEXITSTATUS(st) : -1, out};
}

}  // namespace dory::testing

// Skip (or, under CI=true, fail) the current test when the RISC-V cross toolchain is missing.
#define DORY_SKIP_WITHOUT_RISCV()                                                                         \
  do {                                                                                                    \
    if (::dory::Status tc = ::dory::riscv_toolchain_available(); !tc.ok()) {                              \
      if (::dory::testing::in_ci()) FAIL() << "CI=true and the RISC-V toolchain is missing: " << tc.error().str(); \
      GTEST_SKIP() << "no RISC-V cross toolchain: " << tc.error().str();                                  \
    }                                                                                                     \
  } while (0)

// ... when GVSoC (or the toolchain its ELFs need) is missing.
#define DORY_SKIP_WITHOUT_GVSOC()                                                                         \
  do {                                                                                                    \
    if (::dory::Expected<std::string> g = ::dory::gvsoc_install(); !g.ok()) {                             \
      if (::dory::testing::in_ci()) FAIL() << "CI=true and GVSoC is not usable: " << g.error().str();     \
      GTEST_SKIP() << "no GVSoC (set GVSOC_INSTALL): " << g.error().str();                                \
    }                                                                                                     \
    DORY_SKIP_WITHOUT_RISCV();                                                                            \
  } while (0)
