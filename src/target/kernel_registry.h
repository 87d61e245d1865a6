// The runtime registry (runtime/registry.json) as the compiler sees it: every kernel the runtime has (what it
// computes, the activation types it takes, its register blocking, its ISA, its L1 scratch, its source, its
// portable twin) and every platform the runtime builds for (sources, ISAs, compiler and linker flags).
//
// One list, read by everything that builds or prices runtime code: kernel selection (Target::kernel_for: a target
// names the registry kernels it uses per family, with its measured rates), the cost model (blocking), the L1
// layout (scratch: the registry names a pure C function of the runtime, linked into the compiler, so the bytes the
// tiler reserves are the bytes the kernel asks for), the code generator (the kernel of every layer, the generated
// Makefile/CMakeLists.txt) and dory run's builds (host, QEMU, PULP-open); runtime/CMakeLists.txt reads the same
// file. The JSON is embedded into the compiler at build time (it is always the runtime this compiler was built
// with), parsed and validated once; a malformed registry is dory's own bug (an internal error naming the field).
//
// Invariants of a valid registry: names unique and C identifiers; every kernel has a known op and ISA, a source
// under runtime/, blocking >= 1; a kernel of ISA other than "c" names a twin of ISA "c", same op, same accepted
// types, same blocking and same scratch; every scratch name resolves to a function linked into the compiler;
// every platform lists ISA "c" (every twin runs everywhere).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "dory/kernels.h"
#include "ir/dtype.h"
#include "util/diagnostic.h"

namespace dory {

// What a kernel computes: the runtime's layer kinds (dory_layer_kind, same order).
enum class KernelOp { Conv, Pointwise, Depthwise, Fc, MaxPool, AvgPool, Add, Requantize };
inline constexpr KernelOp kAllKernelOps[] = {KernelOp::Conv,    KernelOp::Pointwise, KernelOp::Depthwise,
                                             KernelOp::Fc,      KernelOp::MaxPool,   KernelOp::AvgPool,
                                             KernelOp::Add,     KernelOp::Requantize};
const char* kernel_op_name(KernelOp op);  // the registry's "op": "conv", "pointwise", ..., "maxpool", "requantize"

using ScratchFn = uint32_t (*)(const dory_kernel_shape*);

struct RegistryKernel {
  std::string name;            // the C symbol
  KernelOp op = KernelOp::Conv;
  std::string isa;             // "c" (portable), "xpulpv2", ...
  std::optional<std::vector<DType>> input_types;  // the activation types of every input it takes; nullopt: all
  int64_t channel_block = 1;   // output channels computed together
  int64_t pixel_block = 1;     // output pixels computed together
  // Input-channel tiles the kernel runs on its fast path: a multiple of c_in_grain (the xpulpv2 conv/pointwise read
  // windows in place only when c_in % 4 == 0). The tiler tiles c_in in multiples of it (or below it, when nothing
  // larger fits); the whole c_in is always allowed.
  int64_t c_in_grain = 1;
  // Conv and pointwise: the kernel computes its pixels as horizontally adjacent pairs of one output row whenever it
  // reads its input in place (conv: c_in a multiple of c_in_grain; pointwise: off its stride-1 fast path, which
  // blocks consecutive pixels), an odd row's last pixel recomputed with its left neighbour, and its blocks take
  // pixel_block / 2 pairs across rows: a row of W pixels costs 2 * ceil(W / 2) pixel slots (cost_model.h).
  bool row_pairs = false;
  // MAC kernels, optional: the most MACs per cycle one core can compute in this kernel, its inner loop's bound
  // (MACs per block over the stall-free instructions of the loop body, counted in its asm). No target may claim a
  // faster macs_per_cycle for it (parse_target), and the calibration fits within it (bench/fit_cost_model).
  std::optional<double> peak_macs_per_cycle;
  std::string scratch;         // the runtime function giving its L1 scratch bytes, or empty (none)
  ScratchFn scratch_fn = nullptr;
  std::string source;          // relative to runtime/
  std::string twin;            // ISA != "c": the portable kernel computing the same bits
  std::map<std::string, int64_t> code_bytes;  // per image platform: its code with its file's helpers and what it
                                              // links (an upper bound)
  std::vector<std::string> links;  // registry kernels it calls (its fallbacks): built and linked with it

  bool takes(DType input) const;
  bool takes_any() const { return !input_types.has_value(); }
  // Bytes of L1 scratch for calls up to `shape` (0 when the kernel needs none).
  int64_t scratch_bytes(const dory_kernel_shape& shape) const;
};

// What a platform's program image costs in its memory beyond the kernels, the constants and the activations (for
// targets whose L2 holds it: memories.L2.program_image; codegen/l2_image.h). Measured on builds of this runtime;
// tests/e2e/l2_image_test.cpp checks that predictions never fall below what the linker places.
struct ImageCosts {
  int64_t base_bytes = 0;   // the runtime, libc, main and the network's glue code; data, heap, the main stack
  int64_t layer_bytes = 0;  // per layer: its descriptor, name, tables and check records (excluding goldens)
  // an application with layers that stream from L3: the L3 runtime (schedule, executor, the HyperRAM driver and
  // flash loader) and main's L3 checks; each of its sub-layer templates and L3 descriptors costs layer_bytes
  int64_t l3_base_bytes = 0;
};

struct RuntimePlatform {
  std::string name;                  // "host", "qemu-system", "qemu-user", "pulp-open"
  std::vector<std::string> isa;      // the ISAs its cores execute ("c" always)
  std::vector<std::string> sources;  // the runtime's own sources (executor, HAL, start-up), relative to runtime/
  std::string compile_flags, link_flags;
  std::string linker_script;         // relative to runtime/; empty for the host
  std::optional<ImageCosts> image;   // the platform can hold a target's L2 image (every kernel has code_bytes here)

  bool runs(const std::string& kernel_isa) const;
};

struct RuntimeRegistry {
  std::vector<RegistryKernel> kernels;
  std::vector<RuntimePlatform> platforms;
  std::vector<std::string> scratch_sources;  // the scratch functions' sources, linked into the compiler itself

  const RegistryKernel* find(const std::string& name) const;  // nullptr when unknown
  const RuntimePlatform* platform(const std::string& name) const;
  // The kernel that runs `k` on `p`: k itself when p's cores execute k's ISA, else its portable twin.
  const RegistryKernel& on_platform(const RegistryKernel& k, const RuntimePlatform& p) const;
  // The sources of the kernels `names` as built for `p` and of the kernels they link (each once, in registry order).
  std::vector<std::string> kernel_sources(const std::vector<std::string>& names, const RuntimePlatform& p) const;
};

// The runtime's element type (dory_dtype: DORY_UINT8 ...) of an IR dtype.
uint8_t runtime_dtype(DType t);

// The registry this compiler was built with (runtime/registry.json, embedded), parsed and validated on first use.
const RuntimeRegistry& runtime_registry();

// Parses and validates a registry text (`origin` names it in diagnostics: "<origin>: kernels[3].twin").
Expected<RuntimeRegistry> parse_runtime_registry(const std::string& json_text, const std::string& origin);

}  // namespace dory
