// The runtime registry (runtime/registry.json, src/target/kernel_registry.h) is true of the runtime: every kernel
// it lists is declared in dory/kernels.h with its op's argument struct, every portable one is compiled into the host
// runtime (the generated kernel table links it), every source and platform file exists, twins are what they claim;
// and a malformed registry is refused with the field named.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <regex>
#include <sstream>

#include "codegen/emit_c.h"
#include "kernels/kernel_harness.h"
#include "target/kernel_registry.h"
#include "target/target.h"

namespace dory {
namespace {

namespace fs = std::filesystem;

std::string read_text(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

const char* args_struct(KernelOp op) {
  switch (op) {
    case KernelOp::Conv:
    case KernelOp::Pointwise:
    case KernelOp::Depthwise: return "dory_conv_args";
    case KernelOp::Fc: return "dory_fc_args";
    case KernelOp::MaxPool: return "dory_maxpool_args";
    case KernelOp::AvgPool: return "dory_avgpool_args";
    case KernelOp::Add: return "dory_add_args";
    case KernelOp::Requantize: return "dory_requantize_args";
  }
  return "?";
}

TEST(Registry, EveryKernelIsDeclaredWithItsOpsArgumentsAndDefinedInItsSource) {
  const fs::path rt = runtime_source_dir();
  const std::string header = read_text(rt / "include" / "dory" / "kernels.h");
  const RuntimeRegistry& reg = runtime_registry();
  ASSERT_GE(reg.kernels.size(), 8u);
  for (const RegistryKernel& k : reg.kernels) {
    SCOPED_TRACE(k.name);
    EXPECT_NE(header.find("void " + k.name + "(const " + args_struct(k.op) + " *a);"), std::string::npos)
        << "not declared in dory/kernels.h";
    ASSERT_TRUE(fs::exists(rt / k.source)) << k.source;
    const std::string src = read_text(rt / k.source);
    EXPECT_TRUE(src.find(k.name + "(") != std::string::npos || src.find(k.name + ",") != std::string::npos)
        << k.source << " does not define it";
    if (!k.scratch.empty()) {
      EXPECT_NE(k.scratch_fn, nullptr);
      EXPECT_NE(header.find("uint32_t " + k.scratch + "(const dory_kernel_shape *s);"), std::string::npos)
          << "scratch function not declared";
    }
  }
}

// The tiler's invariant on scratch functions (tiler/l1_layout.h): each grows with every field of the shape, except
// that c_in's residue mod 4 may change the formula; within one residue class it grows with c_in too. Checked on
// random shapes by growing one field at a time.
TEST(Registry, EveryScratchFunctionGrowsWithTheShapeWithinAResidueClassOfCIn) {
  std::mt19937 rng(7);
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  for (const RegistryKernel& k : runtime_registry().kernels) {
    if (k.scratch.empty()) continue;
    SCOPED_TRACE(k.name);
    for (int it = 0; it < 3000; ++it) {
      dory_kernel_shape s{};
      s.cores = pick(1, 8);
      s.c_in = pick(1, 80);
      s.c_out = pick(1, 80);
      s.h_out = pick(1, 40);
      s.w_out = pick(1, 40);
      s.kh = pick(1, 5);
      s.kw = pick(1, 5);
      s.stride_h = pick(1, 3);
      s.stride_w = pick(1, 3);
      s.h_in = (s.h_out - 1) * s.stride_h + s.kh;
      s.w_in = (s.w_out - 1) * s.stride_w + s.kw;
      s.pad = {pick(0, 2), pick(0, 2), pick(0, 2), pick(0, 2)};
      s.in_type = DORY_UINT8;
      const uint32_t base = k.scratch_bytes(s);
      dory_kernel_shape t = s;
      const int field = pick(0, 4);
      int32_t* f = field == 0 ? &t.c_in : field == 1 ? &t.c_out : field == 2 ? &t.h_out : field == 3 ? &t.w_out : &t.cores;
      *f += field == 0 ? 4 * pick(1, 4) : pick(1, 9);
      t.h_in = (t.h_out - 1) * t.stride_h + t.kh;
      t.w_in = (t.w_out - 1) * t.stride_w + t.kw;
      EXPECT_GE(k.scratch_bytes(t), base) << "field " << field << " grown from c_in " << s.c_in << " c_out " << s.c_out
                                          << " h " << s.h_out << " w " << s.w_out << " cores " << s.cores;
    }
  }
}

TEST(Registry, EveryPortableKernelIsInTheHostRuntimeAndEveryTwinIsPortable) {
  const RuntimeRegistry& reg = runtime_registry();
  for (const RegistryKernel& k : reg.kernels) {
    SCOPED_TRACE(k.name);
    if (k.isa == "c") {
      EXPECT_NE(ktest::portable_kernel(k.name).conv, nullptr) << "not in the host runtime's kernel table";
      EXPECT_TRUE(k.twin.empty());
    } else {
      const RegistryKernel* t = reg.find(k.twin);
      ASSERT_NE(t, nullptr);
      EXPECT_EQ(t->isa, "c");
      EXPECT_EQ(t->op, k.op);
      EXPECT_EQ(t->input_types, k.input_types);
    }
  }
}

TEST(Registry, EveryPlatformsSourcesExistAndItsKernelsResolve) {
  const fs::path rt = runtime_source_dir();
  const RuntimeRegistry& reg = runtime_registry();
  for (const char* name : {"host", "qemu-system", "qemu-user", "pulp-open"}) {
    const RuntimePlatform* p = reg.platform(name);
    ASSERT_NE(p, nullptr) << name;
    for (const std::string& s : p->sources) EXPECT_TRUE(fs::exists(rt / s)) << name << ": " << s;
    if (!p->linker_script.empty()) {
      EXPECT_TRUE(fs::exists(rt / p->linker_script)) << name;
    }
    for (const RegistryKernel& k : reg.kernels) EXPECT_TRUE(p->runs(reg.on_platform(k, *p).isa)) << name << k.name;
  }
  for (const std::string& s : reg.scratch_sources) EXPECT_TRUE(fs::exists(rt / s)) << s;
  // The host runs portable C only; PULP-open's cluster cores have Xpulpv2.
  EXPECT_EQ(reg.platform("host")->isa, std::vector<std::string>{"c"});
  EXPECT_TRUE(reg.platform("pulp-open")->runs("xpulpv2"));
}

TEST(Registry, EveryShippedTargetNamesRegisteredKernelsThatCoverEveryType) {
  // A target that names a kernel the runtime lacks does not load (target-unknown-kernel); one that leaves a type
  // without a kernel neither (target-inconsistent). So loading proves it; the query below shows it.
  for (const std::string& name : available_targets()) {
    Expected<Target> t = find_target(name);
    ASSERT_TRUE(t.ok()) << t.error().str();
    for (KernelOp op : kAllKernelOps)
      for (DType d : {DType::UInt8, DType::Int8, DType::UInt16, DType::Int16, DType::Int32}) {
        const KernelImpl& k = t->kernel_for({op, {d}});
        EXPECT_EQ(k.kernel->op, op);
        EXPECT_TRUE(k.kernel->takes(d)) << name << " " << k.name();
        EXPECT_EQ(runtime_registry().find(k.name()), k.kernel);
      }
  }
}

// A minimal valid registry text with one replacement applied.
std::string registry_text(const std::string& kernels) {
  return R"({"schema": "dory-runtime-registry/1", "scratch_sources": [],
    "platforms": {"host": {"isa": ["c"], "sources": ["a.c"], "compile_flags": "", "link_flags": ""},
                  "chip": {"isa": ["c", "fancy"], "sources": ["b.c"], "compile_flags": "", "link_flags": ""}},
    "kernels": )" + kernels + "}";
}

void expect_registry_error(const std::string& kernels, const std::string& where, const std::string& what) {
  Expected<RuntimeRegistry> r = parse_runtime_registry(registry_text(kernels), "reg.json");
  ASSERT_FALSE(r.ok()) << kernels;
  EXPECT_EQ(r.error().code, "registry-invalid");
  EXPECT_EQ(r.error().location, "reg.json: " + where) << r.error().str();
  EXPECT_NE(r.error().message.find(what), std::string::npos) << r.error().str();
}

TEST(Registry, AMalformedRegistryNamesTheField) {
  const std::string ok = R"({"name": "k_c", "op": "conv", "isa": "c", "input_types": "any", "source": "k.c"})";
  ASSERT_TRUE(parse_runtime_registry(registry_text("[" + ok + "]"), "reg.json").ok());
  expect_registry_error("[" + ok + "," + ok + "]", "kernels[1].name", "listed twice");
  expect_registry_error(R"([{"name": "k", "op": "gemm", "isa": "c", "input_types": "any", "source": "k.c"}])",
                        "kernels[0].op", "unknown op");
  expect_registry_error(R"([{"name": "k", "op": "conv", "isa": "avx", "input_types": "any", "source": "k.c"}])",
                        "kernels[0].isa", "no platform runs");
  expect_registry_error(R"([{"name": "k", "op": "conv", "isa": "c", "input_types": ["uint4"], "source": "k.c"}])",
                        "kernels[0].input_types", "unknown type");
  expect_registry_error(R"([{"name": "k", "op": "conv", "isa": "c", "input_types": "any", "source": "../k.c"}])",
                        "kernels[0].source", "inside runtime/");
  expect_registry_error(R"([{"name": "k", "op": "conv", "isa": "c", "input_types": "any", "source": "k.c",
                             "scratch": "no_such_fn"}])",
                        "kernels[0].scratch", "not a scratch function");
  expect_registry_error(R"([{"name": "k", "op": "conv", "isa": "fancy", "input_types": "any", "source": "k.c"}])",
                        "kernels[0].twin", "names its portable twin");
  expect_registry_error("[" + ok + R"(, {"name": "f", "op": "conv", "isa": "fancy", "input_types": ["uint8"],
                             "source": "f.c", "twin": "k_c"}])",
                        "kernels[1].twin", "same op, input types");
  expect_registry_error(R"([{"name": "k", "op": "conv", "isa": "c", "input_types": "any", "source": "k.c",
                             "speed": 3}])",
                        "kernels[0].speed", "unknown field");
  expect_registry_error(R"([{"name": "k", "op": "conv", "isa": "c", "input_types": "any", "source": "k.c",
                             "peak_macs_per_cycle": 0}])",
                        "kernels[0].peak_macs_per_cycle", "a number > 0");
  expect_registry_error(R"([{"name": "k", "op": "maxpool", "isa": "c", "input_types": "any", "source": "k.c",
                             "peak_macs_per_cycle": 2}])",
                        "kernels[0].peak_macs_per_cycle", "only MAC kernels");
  expect_registry_error(R"([{"name": "k", "op": "conv", "isa": "c", "input_types": "any", "source": "k.c",
                             "row_pairs": 1}])",
                        "kernels[0].row_pairs", "true or false");
  expect_registry_error(R"([{"name": "k", "op": "depthwise", "isa": "c", "input_types": "any", "source": "k.c",
                             "row_pairs": true}])",
                        "kernels[0].row_pairs", "only conv and pointwise");
  expect_registry_error(R"([{"name": "k", "op": "conv", "isa": "c", "input_types": "any", "source": "k.c",
                             "pixel_block": 3, "row_pairs": true}])",
                        "kernels[0].row_pairs", "even pixel_block");
}

TEST(Registry, TheXpulpMacKernelsStateTheirInnerLoopBound) {
  // The counts of the asm's inner loops (each kernel's header comment): 4x4 conv/pointwise 64 MACs per 24
  // instructions, depthwise 3x3 72 per 36 cycles (the two-row loop: 32 instructions, 4 of them misaligned loads of
  // 2 cycles), fc 32 per 17; every shipped target stays within them (parse_target).
  const RuntimeRegistry& r = runtime_registry();
  const auto peak = [&](const char* n) { return r.find(n)->peak_macs_per_cycle.value_or(0); };
  EXPECT_NEAR(peak("dory_conv_u8s8_4x4__xpulpv2"), 64.0 / 24, 1e-6);
  EXPECT_NEAR(peak("dory_pointwise_u8s8_4x4__xpulpv2"), 64.0 / 24, 1e-6);
  EXPECT_NEAR(peak("dory_depthwise_u8s8_1x4__xpulpv2"), 72.0 / 36, 1e-6);
  EXPECT_NEAR(peak("dory_fc_u8s8_8x1__xpulpv2"), 32.0 / 17, 1e-6);
}

}  // namespace
}  // namespace dory
