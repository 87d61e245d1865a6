// The L2 map of a generated application, for a target whose L2 holds the program (memories.L2.program_image, a
// runtime platform of the registry: pulp-open). On such a chip the program image IS in L2: code, read-only data,
// data, the main stack and heap, the checks, then the application's area (constants, then activations). dory
// accounts for every byte of it before any build, so a network that does not fit is refused (deploy, exit 2)
// rather than failing to link, and checks the prediction against what the linker placed after a build.
//
//   L2 = reserved (target: what lies outside the image, e.g. a boot area)
//      + runtime      the registry's base cost of the platform's image (runtime, libc, main, glue, stacks, heap)
//      + kernels      the registry's code_bytes of each kernel the network uses there (an upper bound: each kernel
//                     with the static helpers of its file)
//      + layers       the registry's per-layer cost (descriptor, name, tables, check records) x layers, plus the
//                     average-pooling divisor tables (exact)
//      + checks       the goldens main.c carries: the inputs, and a CRC-32 per layer or every layer's output (exact)
//      + constants    exact (memplan/constant_layout.h)
//      + activations  exact (the memory plan)
//      + free
// The first four are the program; the estimates are upper bounds by construction and by test
// (tests/e2e/l2_image_test.cpp: never below the linker's placement).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "codegen/deployment.h"
#include "util/diagnostic.h"

namespace dory {

struct L2ImageKernel {
  std::string name;   // the kernel the platform runs (a twin where the cores lack the ISA)
  int64_t code_bytes = 0;
};

struct L2Image {
  std::string platform;                // the registry platform whose image it is
  int64_t l2_bytes = 0;                // the target's L2
  int64_t reserved = 0;                // outside the image
  int64_t runtime = 0;                 // estimate
  std::vector<L2ImageKernel> kernels;  // estimate, each kernel once
  int64_t layers = 0;                  // estimate (descriptors) + exact (divisor tables)
  int64_t checks = 0;                  // exact
  int64_t constants = 0, activations = 0;  // exact

  int64_t kernel_bytes() const;
  int64_t program() const { return runtime + kernel_bytes() + layers + checks; }
  int64_t used() const { return reserved + program() + constants + activations; }
  int64_t free() const { return l2_bytes - used(); }
};

// The program's part of the image (runtime, kernels, layers, checks) of a network planned with `plans` for
// `target`, checked as `check` says: what deploy subtracts from L2 before planning the activations. The target must
// have an L2 program image.
L2Image program_image(const Graph& g, const std::vector<TilePlan>& plans, const Target& target, CheckMode check);

// The whole map of a deployment on a target with an L2 program image (program_image + constants + activations).
L2Image l2_image(const Deployment& dep);

// What the linker placed in L2, read from the ELF's section headers: every allocated section inside [l2_base,
// l2_base + l2_bytes), and the end of the last one (offset from l2_base).
struct L2Section {
  std::string name;
  int64_t address = 0, bytes = 0;
};
struct L2Placement {
  std::vector<L2Section> sections;
  int64_t end = 0;  // bytes of L2 the image reaches, from its base
};
Expected<L2Placement> read_l2_placement(const std::string& elf_path, int64_t l2_base, int64_t l2_bytes);

// The pulp-open platform's L2 base address (the memory map, dory/hal_pulp_open.h).
inline constexpr int64_t kPulpOpenL2Base = 0x1c000000;

// Text for reports: the map part by part with sizes and shares, "estimated"/"exact" labels, and the free bytes.
std::string render_l2_image(const L2Image& m);

}  // namespace dory
