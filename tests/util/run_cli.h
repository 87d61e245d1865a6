// Test helper: runs the dory CLI (DORY_CLI_PATH, set by tests/CMakeLists.txt) and captures its exit status and
// combined stdout/stderr, for tests that check what a user sees.
#pragma once

#include <sys/wait.h>

#include <cstdio>
#include <string>

namespace dory::testing {

struct CliResult {
  int status = -1;     // the exit code, or -1 if the process did not exit normally
  std::string output;  // stdout and stderr
};

// `env_prefix`: an `env` command line put before the CLI, e.g. "env -u GVSOC_INSTALL".
inline CliResult run_cli(const std::string& args, const std::string& env_prefix = "") {
  CliResult r;
  FILE* p = popen((env_prefix + (env_prefix.empty() ? "" : " ") + std::string(DORY_CLI_PATH) + " " + args + " 2>&1").c_str(), "r");
  if (!p) return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.output.append(buf, n);
  const int st = pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

}  // namespace dory::testing
