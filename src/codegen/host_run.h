// Building and running a generated application on this machine (the host platform): what `dory run` and the
// tests do after emit_application.
//
// build_host_app compiles APP/*.c with the runtime (the copy in APP/runtime, or a prebuilt runtime library and
// its headers) into APP/app with the system C compiler ($CC, default cc). run_host_app runs it with arguments,
// captures its output and parses the per-layer lines and the RESULT line that main.c prints (app_main.h).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "util/diagnostic.h"

namespace dory {

struct HostBuildOptions {
  std::string cc;                      // empty: $CC, else "cc"
  std::string cflags = "-O2";
  std::string prebuilt_runtime_lib;    // non-empty: link this archive instead of compiling APP/runtime
  std::string runtime_include_dir;     // with prebuilt_runtime_lib: the runtime's include directory
  std::vector<std::string> extra_flags;  // e.g. sanitizers
};

// Compiles APP/app. A compiler failure is an error "app-build-failed" quoting the compiler's output.
Status build_host_app(const std::string& app_dir, const HostBuildOptions& options = {});

struct HostLayerResult {
  int index = -1;
  std::string name;
  int64_t tiles = 0;
  uint64_t modeled_cycles = 0;
  double host_us = 0;
  bool ok = false;
  int64_t mismatches = 0;
};

struct HostRunResult {
  int exit_code = -1;                  // the process's status; 128 + signal when it died of a signal
  std::string output;                  // stdout and stderr, interleaved
  std::vector<HostLayerResult> layers; // parsed from the output
  bool result_ok = false;              // the RESULT line says ok
  std::string first_mismatch;          // the first MISMATCH line, if any
  bool passed() const { return exit_code == 0 && result_ok; }
};

// Runs APP/app with `args` (and optional environment assignments "NAME=value"), with a timeout in seconds.
Expected<HostRunResult> run_host_app(const std::string& app_dir, const std::vector<std::string>& args,
                                     const std::vector<std::string>& env = {}, int timeout_s = 600);

}  // namespace dory
