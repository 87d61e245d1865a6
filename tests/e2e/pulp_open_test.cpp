// The PULP-open platform (runtime/hal/pulp-open): the Fashion-MNIST example deployed for target pulp-open with
// `dory deploy --platform pulp-open`, built with the generated Makefile's `pulp-open` target (Debian's
// riscv64-unknown-elf-gcc and picolibc, the platform's crt0.S and link.ld), and the ELF inspected with
// riscv64-unknown-elf-readelf/nm/objdump against the memory map of docs/pulp-open-facts.md:
//   - a 32-bit RISC-V executable for rv32imc (ilp32), entry point _start in L2;
//   - every loadable segment inside the usable L2 window [0x1c008000, 0x1c080000), none touching the TCDM (the
//     loader writes only L2; the FC initializes the TCDM);
//   - every allocated section inside the L2 window or the TCDM [0x10000000, 0x10010000); code and data in L2;
//   - the L1 arena at 0x10000000, of the deployment's L1 budget, no larger than the TCDM, and the runtime's TCDM
//     (control words, DMA state, 8 stacks) after it within kPulpOpenRuntimeTcdmBytes and the TCDM;
//   - the cluster entry exists, reads mhartid, and the counters and the MCHAN/cluster-control code are linked.
// Nothing here executes the ELF: that needs GVSoC, which is not available (docs/deploy.md "PULP-open").
// Also: the output parser reads the platform's per-layer lines. Skips when the cross toolchain is missing
// (scripts/install-deps.sh --riscv; CI installs it).
#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "../util/run_cli.h"
#include "codegen/emit_c.h"
#include "codegen/host_run.h"
#include "../util/temp_dir.h"

namespace dory {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

constexpr uint64_t kL2Lo = 0x1c008000u, kL2Hi = 0x1c080000u;      // usable L2 (facts)
constexpr uint64_t kTcdmLo = 0x10000000u, kTcdmHi = 0x10010000u;  // 64 kB TCDM (facts, target pulp-open)

int sh(const std::string& cmd, std::string& out) {
  out.clear();
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  if (!p) return -1;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  const int st = pclose(p);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

std::string tool(const std::string& name) {
  const char* cc = std::getenv("DORY_RV32_CC");
  std::string prefix = "riscv64-unknown-elf-";
  if (cc && *cc) {
    const std::string c = cc;
    if (c.size() > 3 && c.compare(c.size() - 3, 3, "gcc") == 0) prefix = c.substr(0, c.size() - 3);
  }
  return prefix + name;
}

struct Section {
  std::string name, type, flags;
  uint64_t addr = 0, size = 0;
};
struct Segment {
  std::string type;
  uint64_t vaddr = 0, filesz = 0, memsz = 0;
};
struct Symbol {
  uint64_t addr = 0, size = 0;
  char kind = '?';
};

std::vector<Section> sections(const std::string& text) {
  // "  [ 1] .text             PROGBITS        1c008000 001000 029cd8 00  AX  0   0 256"
  static const std::regex re(
      R"(\[\s*\d+\]\s+(\S+)\s+(\S+)\s+([0-9a-f]+)\s+[0-9a-f]+\s+([0-9a-f]+)\s+[0-9a-f]+\s+([A-Za-z]*)\s+\d+)");
  std::vector<Section> out;
  std::istringstream in(text);
  std::string line;
  std::smatch m;
  while (std::getline(in, line))
    if (std::regex_search(line, m, re))
      out.push_back({m[1], m[2], m[5], std::stoull(m[3], nullptr, 16), std::stoull(m[4], nullptr, 16)});
  return out;
}

std::vector<Segment> segments(const std::string& text) {
  // "  LOAD           0x001000 0x1c008000 0x1c008000 0x48fe4 0x5f000 RWE 0x1000"
  static const std::regex re(
      R"(^\s+([A-Z_]+)\s+0x[0-9a-f]+\s+0x([0-9a-f]+)\s+0x[0-9a-f]+\s+0x([0-9a-f]+)\s+0x([0-9a-f]+))");
  std::vector<Segment> out;
  std::istringstream in(text);
  std::string line;
  std::smatch m;
  while (std::getline(in, line))
    if (std::regex_search(line, m, re))
      out.push_back(
          {m[1], std::stoull(m[2], nullptr, 16), std::stoull(m[3], nullptr, 16), std::stoull(m[4], nullptr, 16)});
  return out;
}

std::map<std::string, Symbol> symbols(const std::string& nm_output) {
  // nm -S: "10000000 000088b8 b l1_arena" or, without a size, "00000e00 A __dory_cluster_stack_bytes"
  std::map<std::string, Symbol> out;
  std::istringstream in(nm_output);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream f(line);
    std::vector<std::string> w;
    for (std::string x; f >> x;) w.push_back(x);
    Symbol s;
    if (w.size() == 4) {
      s = {std::stoull(w[0], nullptr, 16), std::stoull(w[1], nullptr, 16), w[2][0]};
    } else if (w.size() == 3) {
      s = {std::stoull(w[0], nullptr, 16), 0, w[1][0]};
    } else {
      continue;
    }
    out[w.back()] = s;
  }
  return out;
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

// The built application: each check below inspects it (one build per test process: ctest runs every test alone).
struct Built {
  std::string app, elf;
  std::string run(const std::string& what) const {
    std::string out;
    EXPECT_EQ(sh(tool(what) + " " + elf, out), 0) << what << "\n" << out;
    return out;
  }
};

void check_IsARv32imcExecutableEnteringAtStartInL2(const Built& b) {
  const std::string h = b.run("readelf -h");
  EXPECT_TRUE(contains(h, "ELF32")) << h;
  EXPECT_TRUE(contains(h, "RISC-V")) << h;
  EXPECT_TRUE(contains(h, "EXEC")) << h;
  EXPECT_TRUE(contains(h, "RVC, soft-float ABI")) << h;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(h, m, std::regex(R"(Entry point address:\s+0x([0-9a-f]+))"))) << h;
  const uint64_t entry = std::stoull(m[1], nullptr, 16);
  EXPECT_GE(entry, kL2Lo);
  EXPECT_LT(entry, kL2Hi);
  const auto syms = symbols(b.run("nm -S"));
  ASSERT_TRUE(syms.count("_start"));
  EXPECT_EQ(syms.at("_start").addr, entry);
  // rv32imc: the ISA string of the attributes (zicsr for csrr); linked against the rv32im/ilp32 multilib (a 64-bit
  // libgcc would not link).
  const std::string a = b.run("readelf -A");
  EXPECT_TRUE(std::regex_search(a, std::regex(R"(Tag_RISCV_arch: "rv32i2p\d_m2p\d_c2p\d)"))) << a;
}

void check_LoadableSegmentsAreInsideTheUsableL2AndNoneTouchesTheTcdm(const Built& b) {
  const auto segs = segments(b.run("readelf -lW"));
  int loads = 0;
  for (const Segment& s : segs) {
    if (s.type != "LOAD") continue;
    ++loads;
    SCOPED_TRACE(::testing::Message() << "segment at 0x" << std::hex << s.vaddr << " memsz 0x" << s.memsz);
    EXPECT_GE(s.vaddr, kL2Lo);
    EXPECT_LE(s.vaddr + s.memsz, kL2Hi);
    EXPECT_LE(s.filesz, s.memsz);
  }
  EXPECT_EQ(loads, 2) << "the program, and the application's L2 area (constants loaded, activations not)";
}

void check_EverySectionFitsL2OrTheTcdmAndCodeAndDataAreInL2(const Built& b) {
  const auto secs = sections(b.run("readelf -SW"));
  std::map<std::string, Section> by_name;
  for (const Section& s : secs) {
    by_name[s.name] = s;
    if (s.flags.find('A') == std::string::npos || s.size == 0) continue;  // not allocated, or empty
    SCOPED_TRACE(s.name);
    const bool in_l2 = s.addr >= kL2Lo && s.addr + s.size <= kL2Hi;
    const bool in_tcdm = s.addr >= kTcdmLo && s.addr + s.size <= kTcdmHi;
    EXPECT_TRUE(in_l2 || in_tcdm) << std::hex << "0x" << s.addr << " + 0x" << s.size;
    if (in_tcdm) {
      EXPECT_EQ(s.type, "NOBITS") << "the loader must not write the TCDM";
    }
  }
  for (const char* name : {".text", ".rodata", ".data", ".bss", ".stack"}) {
    ASSERT_TRUE(by_name.count(name)) << name;
    const Section& s = by_name.at(name);
    EXPECT_GE(s.addr, kL2Lo) << name;
    EXPECT_LE(s.addr + s.size, kL2Hi) << name;
  }
  for (const char* name : {".dory_l1", ".dory_tcdm", ".dory_stacks"}) {
    ASSERT_TRUE(by_name.count(name)) << name;
    EXPECT_GE(by_name.at(name).addr, kTcdmLo) << name;
    EXPECT_LE(by_name.at(name).addr + by_name.at(name).size, kTcdmHi) << name;
  }
  EXPECT_EQ(by_name.at(".dory_l1").addr, kTcdmLo);
}

void check_TheL1ArenaStartsTheTcdmAndTheRuntimeFitsAfterIt(const Built& b) {
  const auto syms = symbols(b.run("nm -S"));
  ASSERT_TRUE(syms.count("l1_arena"));
  const Symbol& l1 = syms.at("l1_arena");
  EXPECT_EQ(l1.addr, kTcdmLo);
  EXPECT_GT(l1.size, 0u);
  EXPECT_LE(l1.size, kTcdmHi - kTcdmLo);
  // The deployment's L1 budget: the target's L1 minus its reservation (targets/pulp-open.json: 65,536 - 30,536).
  EXPECT_EQ(l1.size, 35000u);
  std::ifstream nh(b.app + "/network.h");
  std::stringstream ss;
  ss << nh.rdbuf();
  EXPECT_TRUE(contains(ss.str(), "#define DORY_NETWORK_L1_BYTES 35000u")) << ss.str();
  for (const char* s : {"__dory_l1_end", "__dory_cluster_stacks_start", "__dory_cluster_stacks_end", "g_ctrl", "g_dma"})
    ASSERT_TRUE(syms.count(s)) << s;
  const uint64_t l1_end = syms.at("__dory_l1_end").addr, stacks_end = syms.at("__dory_cluster_stacks_end").addr;
  EXPECT_EQ(l1_end, kTcdmLo + l1.size);
  EXPECT_LE(stacks_end, kTcdmHi);
  EXPECT_LE(stacks_end - l1_end, static_cast<uint64_t>(kPulpOpenRuntimeTcdmBytes))
      << "the runtime's TCDM grew past what dory deploy --platform pulp-open reserves (emit_c.h)";
  EXPECT_EQ(stacks_end - syms.at("__dory_cluster_stacks_start").addr, 8u * syms.at("__dory_cluster_stack_bytes").addr);
  for (const char* s : {"g_ctrl", "g_dma"}) {  // the cluster's control words and the DMA state: in the TCDM
    EXPECT_GE(syms.at(s).addr, l1_end) << s;
    EXPECT_LT(syms.at(s).addr, syms.at("__dory_cluster_stacks_start").addr) << s;
  }
  // The application's L2 area is in L2: the constants where the loader puts them, the activations right after.
  ASSERT_TRUE(syms.count("dory_network_constants"));
  ASSERT_TRUE(syms.count("l2_activations"));
  const Symbol& c = syms.at("dory_network_constants");
  const Symbol& act = syms.at("l2_activations");
  EXPECT_GE(c.addr, kL2Lo);
  EXPECT_EQ(c.addr + c.size, act.addr) << "the activations must follow the constants (main.c checks it too)";
  EXPECT_LE(act.addr + act.size, kL2Hi);
  // ... and the constants are in the image once: the program's other data sections together are smaller than
  // them, so they cannot hold a second copy (a copied-in arena in .bss or the bytes again in .rodata).
  uint64_t other = 0;
  for (const Section& s : sections(b.run("readelf -SW")))
    if (s.name == ".rodata" || s.name == ".data" || s.name == ".bss") other += s.size;
  EXPECT_LT(other, c.size) << ".rodata + .data + .bss";
}

void check_TheClusterEntryAndTheDriversAreLinked(const Built& b) {
  const auto syms = symbols(b.run("nm -S"));
  for (const char* s :
       {"dory_pulp_cluster_entry", "dory_pulp_cluster_main", "dory_pulp_trap_entry", "dory_pulp_semihost",
        "dory_cluster_start", "dory_cluster_join", "dory_barrier", "dory_dma_start", "dory_dma_wait",
        "dory_mchan_iter_next", "main"}) {
    ASSERT_TRUE(syms.count(s)) << s;
    EXPECT_EQ(syms.at(s).kind, 'T') << s;
    EXPECT_GE(syms.at(s).addr, kL2Lo) << s;
    EXPECT_LT(syms.at(s).addr, kL2Hi) << s;
  }
  EXPECT_EQ(syms.at("dory_pulp_trap_entry").addr % 256, 0u);
  std::string out;
  ASSERT_EQ(sh(tool("objdump") + " -d --no-show-raw-insn " + b.elf, out), 0) << out;
  const size_t entry = out.find("<dory_pulp_cluster_entry>:");
  ASSERT_NE(entry, std::string::npos);
  const std::string body = out.substr(entry, out.find("\n\n", entry) - entry);
  EXPECT_TRUE(contains(body, "csrr\ta0,mhartid")) << body;
  EXPECT_TRUE(contains(body, "dory_pulp_cluster_main")) << body;
  // The performance counters (PCER 0xcc0, PCMR 0xcc1, cycles 0x780, instructions 0x781).
  for (const char* s : {"csrw\t0xcc0,", "csrw\t0xcc1,", ",0x780\n", ",0x781\n"}) EXPECT_TRUE(contains(out, s)) << s;
}

void check_TheMakefileDocumentsTheGvsocCommandAndMakesTheElfTheDefault(const Built& b) {
  std::ifstream f(b.app + "/Makefile");
  std::stringstream ss;
  ss << f.rdbuf();
  for (const char* s :
       {"all: app-pulp-open.elf", "run: gvsoc",
        "gvsoc --target=pulp-open --work-dir=$(abspath $(GVSOC_WORK)) --binary $(abspath app-pulp-open.elf) image flash "
        "run",
        "-DDORY_PLATFORM_PULP_OPEN -DDORY_ISA_XPULPV2", "$(RUNTIME_DIR)/hal/pulp-open/link.ld",
        "-march=rv32imc -mabi=ilp32"})
    EXPECT_TRUE(contains(ss.str(), s)) << s << "\n" << ss.str();
  for (const char* f2 : {"runtime/hal/pulp-open/crt0.S", "runtime/hal/pulp-open/link.ld",
                         "runtime/hal/pulp-open/hal_pulp_open.c", "runtime/hal/pulp-open/io_pulp_open.c",
                         "runtime/hal/pulp-open/mchan_split.c", "runtime/include/dory/hal_pulp_open.h"})
    EXPECT_TRUE(fs::exists(fs::path(b.app) / f2)) << f2;
}

TEST(PulpOpen, TheFmnistExampleBuildsIntoAnElfThatFitsPulpOpensMemoryMap) {
  if (Status s = riscv_toolchain_available(); !s.ok()) GTEST_SKIP() << "no RISC-V cross toolchain: " << s.error().str();
  TempDir dir("pulp-open");
  Built b;
  b.app = (dir.path / "app").string();
  const std::string model = std::string(DORY_SOURCE_DIR) + "/models/fmnist/fmnist_int.onnx";
  const dory::testing::CliResult d =
      dory::testing::run_cli("deploy " + model + " --target pulp-open --platform pulp-open -o " + b.app);
  ASSERT_EQ(d.status, 0) << d.output;
  EXPECT_TRUE(contains(d.output, "make -C " + b.app + " pulp-open")) << d.output;
  const char* cc = std::getenv("DORY_RV32_CC");
  std::string out;
  ASSERT_EQ(sh("make -j1 -C " + b.app + " pulp-open" + (cc && *cc ? std::string(" RV32_CC=") + cc : ""), out), 0)
      << out;
  b.elf = b.app + "/" + pulp_open_elf_name();
  ASSERT_TRUE(fs::exists(b.elf));
  struct Check {
    const char* claim;
    void (*fn)(const Built&);
  };
  const Check checks[] = {
      {"IsARv32imcExecutableEnteringAtStartInL2", check_IsARv32imcExecutableEnteringAtStartInL2},
      {"LoadableSegmentsAreInsideTheUsableL2AndNoneTouchesTheTcdm",
       check_LoadableSegmentsAreInsideTheUsableL2AndNoneTouchesTheTcdm},
      {"EverySectionFitsL2OrTheTcdmAndCodeAndDataAreInL2", check_EverySectionFitsL2OrTheTcdmAndCodeAndDataAreInL2},
      {"TheL1ArenaStartsTheTcdmAndTheRuntimeFitsAfterIt", check_TheL1ArenaStartsTheTcdmAndTheRuntimeFitsAfterIt},
      {"TheClusterEntryAndTheDriversAreLinked", check_TheClusterEntryAndTheDriversAreLinked},
      {"TheMakefileDocumentsTheGvsocCommandAndMakesTheElfTheDefault",
       check_TheMakefileDocumentsTheGvsocCommandAndMakesTheElfTheDefault},
  };
  for (const Check& c : checks) {
    SCOPED_TRACE(c.claim);
    c.fn(b);
  }
}

// The per-layer lines of every platform, as main.c prints them, through the parser dory run uses.
TEST(PulpOpenOutput, TheParserReadsInstructionsAndCyclesAndTheOlderFormats) {
  HostRunResult r;
  r.output =
      "dory app: 2 layers, 8 cores, L1 35000 B, L2 80000 B (pulp-open platform)\n"
      "layer 0 conv_0 tiles 4 modeled 1200 instructions 98765 cycles 4321 elapsed 5012 ok 0\n"
      "layer 1 fc 1 tiles 1 modeled 300 instructions 555 cycles 99 MISMATCH 3\n"
      "RESULT MISMATCH layers 2 mismatching 1 modeled_cycles 1500 instructions 99320 cycles 4420\n";
  parse_app_output(r);
  ASSERT_EQ(r.layers.size(), 2u);
  EXPECT_EQ(r.layers[0].name, "conv_0");
  EXPECT_EQ(r.layers[0].tiles, 4);
  EXPECT_EQ(r.layers[0].instructions, 98765);
  EXPECT_EQ(r.layers[0].cycles, 4321);
  EXPECT_EQ(r.layers[0].elapsed, 5012);
  EXPECT_TRUE(r.layers[0].ok);
  EXPECT_EQ(r.layers[1].name, "fc 1");
  EXPECT_EQ(r.layers[1].cycles, 99);
  EXPECT_EQ(r.layers[1].elapsed, -1);  // an older line without it
  EXPECT_FALSE(r.layers[1].ok);
  EXPECT_EQ(r.layers[1].mismatches, 3);
  EXPECT_FALSE(r.result_ok);

  HostRunResult q;
  q.output =
      "layer 0 c tiles 2 modeled 10 instructions 77 ok 0\n"
      "layer 1 d tiles 3 modeled 11 host_us 12.5 MISMATCH 2\n"
      "RESULT ok layers 2 mismatching 0 modeled_cycles 21\n";
  parse_app_output(q);
  ASSERT_EQ(q.layers.size(), 2u);
  EXPECT_EQ(q.layers[0].instructions, 77);
  EXPECT_EQ(q.layers[0].cycles, -1);
  EXPECT_TRUE(q.layers[0].ok);
  EXPECT_DOUBLE_EQ(q.layers[1].host_us, 12.5);
  EXPECT_EQ(q.layers[1].mismatches, 2);
  EXPECT_TRUE(q.result_ok);
}

}  // namespace
}  // namespace dory
