// Building and running a generated application on this machine: what `dory run` and the tests do after
// emit_application.
//
// Host platform: build_host_app compiles APP/*.c with the runtime (the copy in APP/runtime, or a prebuilt runtime
// library and its headers) into APP/app with the system C compiler ($CC, default cc). run_host_app runs it with
// arguments, captures its output and parses the per-layer lines and the RESULT line that main.c prints
// (app_main.h).
//
// RISC-V under QEMU (runtime/hal/rv32-qemu, dory/hal_rv32.h): build_qemu_app cross-compiles the same sources for
// rv32imc with Debian's riscv64-unknown-elf-gcc and picolibc, with the platform's crt0.S and link.ld, into
// APP/app-rv32.elf (QemuMode::System) or APP/app-rv32-user.elf (QemuMode::User); run_qemu_app runs it under
// qemu-system-riscv32 (bare metal, semihosting, -icount shift=0: per-layer retired instructions, exact and
// repeatable) or qemu-riscv32 (Linux user mode: fast, no instruction counts), under a timeout, and parses the
// same lines into the same HostRunResult (HostLayerResult::instructions instead of host_us).
//
// PULP-open (runtime/hal/pulp-open, dory/hal_pulp_open.h): the generated Makefile's `pulp-open` target builds
// APP/app-pulp-open.elf with the same cross toolchain and pulp_open_compile_flags(); dory does not run it (that
// needs GVSoC: gvsoc_run_command()). Its per-layer lines carry "instructions N cycles N", which the parser
// reads too (HostLayerResult::cycles).
#pragma once

#include <array>
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

// The executor's own cycle split of a tiled layer (runtime dory/layer.h, printed by main.c when built with
// DORY_CYCLE_SPLIT): per core (core 0 first), the cycles in each category, in the order of
// cycle_split_category_name: compute, dma_wait, dma_issue, barrier, other. Units: the platform's dory_cycles().
inline constexpr size_t kCycleSplitCategories = 5;
const char* cycle_split_category_name(size_t k);  // "compute", "dma_wait", "dma_issue", "barrier", "other"
struct CycleSplitCounts {
  std::vector<std::array<int64_t, kCycleSplitCategories>> per_core;
  int64_t core_total(size_t core) const {
    int64_t t = 0;
    for (int64_t v : per_core.at(core)) t += v;
    return t;
  }
};

struct HostLayerResult {
  int index = -1;
  std::string name;
  int64_t tiles = 0;
  uint64_t modeled_cycles = 0;
  double host_us = 0;          // host platform: measured time of the layer
  int64_t instructions = -1;   // qemu-system: retired instructions of the layer (-1: not counted)
                               // pulp-open: instructions of the 8 cluster cores over the layer's task, summed
  int64_t dma_instructions = -1;  // qemu-system: of `instructions`, those copying DMA jobs (the rv32 platform
                                  // emulates the engine with the core; a chip's DMA would not retire them)
  int64_t cycles = -1;         // pulp-open: cycles of the slowest cluster core over the task (-1: not given)
  int64_t elapsed = -1;        // pulp-open: the main program's cycles over the layer (the fabric controller's:
                               // the fork, the descriptor, the join and, streaming from L3, its transfers and waits)
  int64_t compute = -1;        // l1-resident pass: the timed computation phases (dory_cycles() units)
  int64_t l3_elapsed = -1;     // a layer streaming from L3: the main program's dory_cycles() over the whole layer,
                               // its L3 transfers and waits included (pulp-open: fabric-controller cycles; host: ns)
  int64_t l3_bytes = -1;       // and the bytes its two-level schedule moved between L3 and L2 (the plan's)
  CycleSplitCounts split;      // tiled pass of a DORY_CYCLE_SPLIT build: the executor's split (else empty)
  bool fallback = false;       // l2-direct pass: the layer could not run so and ran tiled
  bool ok = false;
  int64_t mismatches = 0;
};

struct HostRunResult {
  int exit_code = -1;                  // the process's status; 128 + signal when it died of a signal
  std::string output;                  // stdout and stderr, interleaved
  std::vector<HostLayerResult> layers; // parsed from the output: the tiled pass
  std::vector<HostLayerResult> l2_direct_layers;  // the l2-direct pass (app --mode l2-direct|both)
  std::vector<HostLayerResult> l1_resident_layers;  // the l1-resident pass (app --mode l1-resident)
  bool result_ok = false;              // the RESULT line says ok
  int64_t l2_image_bytes = -1;         // pulp-open: the bytes of L2 the linked image reaches (-1: not measured)
  std::string first_mismatch;          // the first MISMATCH line, if any
  std::string command;                 // what was run
  bool passed() const { return exit_code == 0 && result_ok; }
};

// Parses r.output as main.c prints it (app_main.cpp) into r.layers, r.result_ok and r.first_mismatch: the lines
//   layer <i> <name> tiles <n> modeled <c> host_us <t> <ok|MISMATCH> <count>                    (host)
//   layer <i> <name> tiles <n> modeled <c> instructions <n> [dma_instructions <n>] <ok|MISMATCH> <count> (rv32)
//   layer <i> <name> tiles <n> modeled <c> instructions <n> cycles <n> elapsed <n> <ok|MISMATCH> <count>
//                                                                                                (pulp-open)
//   l2direct layer ... (the same, for the l2-direct pass; " fallback" at the end of a layer that ran tiled)
//   l1res layer ... compute <n> <ok|MISMATCH> <count>   (the l1-resident pass)
//   l3 layer <i> <name> elapsed <n> l3_bytes <n> l3_tiles <n>   (after a layer that streams from L3; l2direct
//                                                       l3 layer ... in the l2-direct pass)
//   split layer <i> cores <n> compute <n values> dma_wait <...> dma_issue <...> barrier <...> other <...>
//                                                       (after a tiled layer's line, DORY_CYCLE_SPLIT builds)
//   RESULT <ok|MISMATCH> ...   and the first line starting "MISMATCH ".
void parse_app_output(HostRunResult& r);

// main.c's DORY_APP_MODE for a mode name: "tiled" 1, "l2-direct" 2, "both" 3, "l1-resident" 4; 0 for anything
// else.
int app_mode_bits(const std::string& mode);

// Runs APP/app with `args` (and optional environment assignments "NAME=value"), with a timeout in seconds.
Expected<HostRunResult> run_host_app(const std::string& app_dir, const std::vector<std::string>& args,
                                     const std::vector<std::string>& env = {}, int timeout_s = 600);

// ---- RISC-V under QEMU ----------------------------------------------------------------------------------------

enum class QemuMode { User, System };
const char* qemu_mode_name(QemuMode mode);  // "qemu-user", "qemu-system"

// The ELF of a mode inside APP/: "app-rv32-user.elf" or "app-rv32.elf".
std::string qemu_elf_name(QemuMode mode);

// The emulator and its options, without the ELF (the compile and link flags of every platform are
// runtime/registry.json's: the generated Makefile has them).
std::string qemu_run_command(QemuMode mode);

// PULP-open: the ELF's name in APP/, and GVSoC's launcher with its target, without the options and steps:
// "gvsoc --target=pulp-open" (run as `... --work-dir=DIR --binary ELF image flash run`).
std::string pulp_open_elf_name();  // "app-pulp-open.elf"
// The `--flash-content` layout that puts `file` (a path) into the HyperFlash of GVSoC's pulp-open board as the only
// file of a readfs partition at flash offset 0 (where dory_pulp_l3_load_file looks for it).
std::string gvsoc_flash_content(const std::string& file);
std::string gvsoc_run_command();

struct QemuBuildOptions {
  std::string cc;                      // empty: $DORY_RV32_CC, else "riscv64-unknown-elf-gcc"
  std::string cflags = "-O2";
  std::string prebuilt_runtime_lib;    // non-empty: link this archive (build_qemu_runtime, same mode)
  std::string runtime_include_dir;     // with prebuilt_runtime_lib: the runtime's include directory
  std::string runtime_dir;             // with prebuilt_runtime_lib: the runtime (for link.ld); empty: dory's
  std::string app_mode = "tiled";      // the passes main.c runs (no arguments on rv32): tiled, l2-direct, both,
                                       // l1-resident
  bool cycle_split = false;            // compile with DORY_CYCLE_SPLIT (EXTRA_CFLAGS): the tiled pass prints the
                                       // executor's cycle split of every layer
};

// Whether the cross compiler, picolibc and the emulator of `mode` are installed; the error
// ("qemu-toolchain-missing") names the missing program and the Debian package, and scripts/install-deps.sh --riscv.
Status qemu_toolchain_available(QemuMode mode, const QemuBuildOptions& options = {});
// The same for the cross compiler and picolibc alone (what the pulp-open ELF needs).
Status riscv_toolchain_available(const QemuBuildOptions& options = {});

// Compiles the rv32 runtime (kernels, executor, trace, the rv32-qemu platform and crt0) of `runtime_dir` (empty:
// dory's, runtime_source_dir()) for `mode` into OUT_DIR/libdory-rv32-{user,system}.a; returns its path.
Expected<std::string> build_qemu_runtime(const std::string& out_dir, QemuMode mode,
                                         const QemuBuildOptions& options = {}, const std::string& runtime_dir = "");

// The PULP-open runtime compiled once, to link into several applications (QemuBuildOptions::prebuilt_runtime_lib,
// runtime_include_dir, runtime_dir): the platform's sources and every kernel its cores run (registry.json), as
// OUT_DIR/libdory-pulp-open.a, and the same with the executor built with DORY_CYCLE_SPLIT as
// OUT_DIR/libdory-pulp-open-split.a (an application linking it must be built with cycle_split too).
struct PulpOpenRuntime {
  std::string lib, split_lib;
  std::string runtime_dir, include_dir;
};
Expected<PulpOpenRuntime> build_pulp_open_runtime(const std::string& out_dir, const QemuBuildOptions& options = {},
                                                  const std::string& runtime_dir = "");

// Compiles APP/ for `mode` into APP/qemu_elf_name(mode) (objects in APP/obj-rv32[-user]/). A compiler or linker
// failure is "app-build-failed" quoting the output; a missing tool is "qemu-toolchain-missing".
Status build_qemu_app(const std::string& app_dir, QemuMode mode, const QemuBuildOptions& options = {});

// Runs APP/qemu_elf_name(mode) under the emulator with a timeout in seconds (killed after it: exit 137).
Expected<HostRunResult> run_qemu_app(const std::string& app_dir, QemuMode mode, int timeout_s = 600);

// ---- PULP-open on GVSoC -----------------------------------------------------------------------------------------

// Builds APP/app-pulp-open.elf with the application's Makefile (QemuBuildOptions: cross compiler, flags, passes,
// prebuilt runtime); "app-build-failed" quotes the output.
Status build_pulp_open_app(const std::string& app_dir, const QemuBuildOptions& options = {});

// GVSoC, the PULP virtual platform, is not part of dory: $GVSOC_INSTALL names an install with the pulp-open
// target. Returns its absolute path, or "gvsoc-missing" saying what is missing (the variable, bin/gvsoc, or the
// Python modules of its launcher) and how to get it.
Expected<std::string> gvsoc_install();

// Runs APP/app-pulp-open.elf on GVSoC (a private temporary work directory; Debian's python3 first in PATH) with a
// timeout in seconds, and parses its per-layer lines (cluster cycles and instructions) into a HostRunResult whose
// exit_code is the status the application printed.
Expected<HostRunResult> run_gvsoc_app(const std::string& app_dir, int timeout_s = 600);

}  // namespace dory
