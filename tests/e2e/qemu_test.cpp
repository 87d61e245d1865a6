// Whole networks on the rv32 QEMU platform (runtime/hal/rv32-qemu): deploy -> C application -> Debian's
// riscv64-unknown-elf-gcc + picolibc with the platform's own crt0.S, link.ld and I/O shim -> qemu-system-riscv32
// (bare metal, semihosting, -icount shift=0) and qemu-riscv32 (Linux user mode) -> every element of every layer
// compared with the reference executor by the application itself. Networks as in deploy_test.cpp (the bundled
// Fashion-MNIST example, MobileNetV1-0.25-style, ResNet-8-style) at 32 kB of L1.
//
// Also: the per-layer instruction counts are > 0 and identical across runs and rebuilds; a trap (an illegal
// instruction planted in main.c) exits with 128 + mcause, a hang is killed by the timeout, and a skipped DMA wait
// or a DMA outside its arena is caught on this platform too (its DMA completes only when waited for).
//
// The tests skip with the reason when the cross toolchain or QEMU is missing (scripts/install-deps.sh --riscv;
// CI installs them, so they run there).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <regex>
#include <sstream>

#include "codegen/app.h"
#include "onnx/frontend.h"
#include "target/target.h"
#include "testnets/testnets.h"
#include "../util/temp_dir.h"
#include "../util/test_networks.h"

namespace dory {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

#define SKIP_WITHOUT_QEMU(mode)                                          \
  do {                                                                   \
    if (Status qemu_ok = qemu_toolchain_available(mode); !qemu_ok.ok())  \
      GTEST_SKIP() << "no RISC-V toolchain/QEMU: " << qemu_ok.error().str(); \
  } while (0)

Graph load_network(const std::string& name) { return testing::load_test_network(name); }

// FNV-1a over the paths and bytes of every file of the runtime and the compiler flags: the key of the cached rv32
// archives.
uint64_t runtime_fingerprint(const fs::path& rt, const std::string& flags) {
  std::vector<fs::path> files;
  for (const auto& e : fs::recursive_directory_iterator(rt))
    if (e.is_regular_file()) files.push_back(e.path());
  std::sort(files.begin(), files.end());
  uint64_t h = 1469598103934665603ull;
  auto mix = [&](const std::string& bytes) {
    for (unsigned char c : bytes) h = (h ^ c) * 1099511628211ull;
  };
  mix(flags);
  for (const fs::path& f : files) {
    mix(fs::relative(f, rt).string());
    std::ifstream in(f, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    mix(ss.str());
  }
  return h;
}

// The rv32 runtime of each mode, compiled once (conv.c alone takes seconds) and cached in the build tree across
// test processes (ctest runs each test in its own), keyed by the runtime's contents; concurrent builders each
// build into a private directory and rename the identical result into place.
QemuBuildOptions prebuilt(QemuMode mode) {
  static std::map<QemuMode, std::string> libs;
  const fs::path rt = fs::path(DORY_SOURCE_DIR) / "runtime";
  if (!libs.count(mode)) {
    const RuntimePlatform& platform =
        *runtime_registry().platform(mode == QemuMode::System ? "qemu-system" : "qemu-user");
    const uint64_t fp = runtime_fingerprint(rt, QemuBuildOptions{}.cflags + " " + platform.compile_flags);
    char key[32];
    std::snprintf(key, sizeof key, "%016llx", static_cast<unsigned long long>(fp));
    const fs::path cache = fs::path(DORY_TEST_CACHE_DIR) / (std::string("rv32-runtime-") + key);
    const fs::path lib = cache / (std::string("libdory-rv32-") + qemu_mode_name(mode) + ".a");
    if (!fs::exists(lib)) {
      fs::create_directories(cache);
      TempDir tmp("runtime");
      Expected<std::string> built = build_qemu_runtime(tmp.path.string(), mode);
      EXPECT_TRUE(built.ok()) << (built.ok() ? "" : built.error().str());
      if (built.ok()) {
        const fs::path mine = cache / (lib.filename().string() + "." + tmp.path.filename().string());
        fs::copy_file(*built, mine);
        fs::rename(mine, lib);
      }
    }
    libs[mode] = lib.string();
  }
  QemuBuildOptions b;
  b.prebuilt_runtime_lib = libs[mode];
  b.runtime_include_dir = (rt / "include").string();
  b.runtime_dir = rt.string();
  return b;
}

GeneratedApp generate(const Graph& g, int64_t l1, const std::string& dir) {
  DeployOptions o;
  o.l1_budget_bytes = l1;
  EmitOptions e;
  e.copy_runtime = false;
  o.platform = AppPlatform::Qemu;
  Expected<GeneratedApp> app = generate_application(g, find_target("gap8").value(), o, {}, dir, e, 3);
  EXPECT_TRUE(app.ok()) << (app.ok() ? "" : app.error().str());
  return app.ok() ? std::move(*app) : GeneratedApp{};
}

HostRunResult build_and_run(const GeneratedApp& app, QemuMode mode, int timeout_s = 300,
                            const std::string& app_mode = "tiled") {
  QemuBuildOptions qb = prebuilt(mode);
  qb.app_mode = app_mode;
  Status b = build_qemu_app(app.dir, mode, qb);
  EXPECT_TRUE(b.ok()) << (b.ok() ? "" : b.error().str());
  if (!b.ok()) return HostRunResult{};
  Expected<HostRunResult> r = run_qemu_app(app.dir, mode, timeout_s);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().str());
  return r.ok() ? *r : HostRunResult{};
}

// Every layer ran, matched, and reports the plan's tiles and modeled cycles.
void expect_every_layer(const GeneratedApp& app, const HostRunResult& r, bool counted) {
  EXPECT_TRUE(r.passed()) << r.command << "\n" << r.output;
  ASSERT_EQ(r.layers.size(), app.deployment.layers.size()) << r.output;
  for (size_t i = 0; i < r.layers.size(); ++i) {
    SCOPED_TRACE(r.layers[i].name);
    EXPECT_TRUE(r.layers[i].ok);
    EXPECT_EQ(r.layers[i].tiles, app.deployment.layers[i].plan.counts.total());
    EXPECT_EQ(r.layers[i].modeled_cycles,
              static_cast<uint64_t>(app.deployment.layers[i].plan.cost.total_cycles + 0.5));
    if (counted)
      EXPECT_GT(r.layers[i].instructions, 0);
    else
      EXPECT_EQ(r.layers[i].instructions, -1) << "qemu-user counts no instructions";
  }
}

class QemuNetwork : public ::testing::TestWithParam<std::string> {};

TEST_P(QemuNetwork, EveryLayerIsBitExactUnderQemuSystemAt32kB) {
  SKIP_WITHOUT_QEMU(QemuMode::System);
  const std::string name = GetParam();
  const Graph g = load_network(name);
  TempDir dir(name);
  const GeneratedApp app = generate(g, 32 * 1024, dir.path.string());
  ASSERT_FALSE(app.deployment.layers.empty());
  int64_t tiles = 0;
  for (const DeployedLayer& dl : app.deployment.layers) tiles += dl.plan.counts.total();
  EXPECT_GT(tiles, static_cast<int64_t>(app.deployment.layers.size())) << "32 kB tiles these networks";
  const HostRunResult r = build_and_run(app, QemuMode::System, 300, "both");
  expect_every_layer(app, r, true);
  EXPECT_NE(r.output.find("(qemu-system platform), mode both"), std::string::npos) << r.output;
  // The L2-direct pass: every layer one kernel call on its operands in L2, checked, its instructions counted.
  ASSERT_EQ(r.l2_direct_layers.size(), app.deployment.layers.size()) << r.output;
  for (size_t i = 0; i < r.l2_direct_layers.size(); ++i) {
    const HostLayerResult& x = r.l2_direct_layers[i];
    SCOPED_TRACE(x.name);
    EXPECT_TRUE(x.ok);
    EXPECT_FALSE(x.fallback);
    EXPECT_EQ(x.tiles, 1);
    EXPECT_EQ(x.modeled_cycles, app.deployment.layers[i].descriptor().l2_direct_modeled_cycles);
    EXPECT_GT(x.instructions, 0);
  }
}

INSTANTIATE_TEST_SUITE_P(Networks, QemuNetwork, ::testing::Values("fmnist", "mobilenet_v1", "resnet8"),
                         [](const auto& info) { return info.param; });

TEST(QemuUser, FmnistIsBitExactUnderQemuUserMode) {
  SKIP_WITHOUT_QEMU(QemuMode::User);
  TempDir dir("user");
  const GeneratedApp app = generate(load_network("fmnist"), 32 * 1024, dir.path.string());
  const HostRunResult r = build_and_run(app, QemuMode::User);
  expect_every_layer(app, r, false);
  EXPECT_NE(r.output.find("(qemu-user platform)"), std::string::npos) << r.output;
}

TEST(QemuInstructions, CountsAreIdenticalAcrossRunsAndRebuilds) {
  SKIP_WITHOUT_QEMU(QemuMode::System);
  TempDir dir("determinism");
  const GeneratedApp app = generate(load_network("fmnist"), 32 * 1024, dir.path.string());
  const HostRunResult a = build_and_run(app, QemuMode::System);
  Expected<HostRunResult> b = run_qemu_app(app.dir, QemuMode::System, 300);
  ASSERT_TRUE(b.ok()) << b.error().str();
  const HostRunResult c = build_and_run(app, QemuMode::System);  // objects rebuilt from scratch
  ASSERT_TRUE(a.passed() && b->passed() && c.passed()) << a.output << b->output << c.output;
  ASSERT_EQ(a.layers.size(), app.deployment.layers.size());
  ASSERT_EQ(b->layers.size(), a.layers.size());
  ASSERT_EQ(c.layers.size(), a.layers.size());
  for (size_t i = 0; i < a.layers.size(); ++i) {
    SCOPED_TRACE(a.layers[i].name);
    EXPECT_GT(a.layers[i].instructions, 0);
    EXPECT_EQ(a.layers[i].instructions, b->layers[i].instructions);
    EXPECT_EQ(a.layers[i].instructions, c.layers[i].instructions);
  }
}

// ---- faults ----

std::string read_text(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Plants `code` in main.c just before layer `layer` runs.
void plant_in_main(const fs::path& dir, int layer, const std::string& code) {
  std::string text = read_text(dir / "main.c");
  const std::string call = "    dory_network_run_layer(i);\n";
  const size_t at = text.find(call);
  ASSERT_NE(at, std::string::npos);
  text.insert(at, "    if (i == " + std::to_string(layer) + ") { " + code + " }\n");
  std::ofstream(dir / "main.c") << text;
}

// Replaces the first match of `pattern` in the descriptor of layer L in network.c.
void corrupt_network_c(const fs::path& dir, size_t L, const std::string& pattern, const std::string& replacement) {
  std::string text = read_text(dir / "network.c");
  const std::string head = "static const dory_layer layer_" + std::to_string(L) + " = {";
  const size_t at = text.find(head);
  ASSERT_NE(at, std::string::npos);
  const size_t end = text.find("\n};", at);
  std::string body = text.substr(at, end - at);
  const std::string fixed =
      std::regex_replace(body, std::regex(pattern), replacement, std::regex_constants::format_first_only);
  ASSERT_NE(fixed, body) << "pattern " << pattern << " not found";
  text.replace(at, end - at, fixed);
  std::ofstream(dir / "network.c") << text;
}

// The first layer with several tiles (so that there are waits between computations).
size_t tiled_layer(const GeneratedApp& app) {
  for (size_t i = 0; i < app.deployment.layers.size(); ++i)
    if (app.deployment.layers[i].plan.counts.total() > 2) return i;
  ADD_FAILURE() << "no tiled layer";
  return 0;
}

TEST(QemuFaults, AnIllegalInstructionTrapsAndExitsWith128PlusMcause) {
  SKIP_WITHOUT_QEMU(QemuMode::System);
  SKIP_WITHOUT_QEMU(QemuMode::User);
  TempDir dir("trap");
  const GeneratedApp app = generate(load_network("fmnist"), 32 * 1024, dir.path.string());
  plant_in_main(dir.path, 1, "__asm__ volatile(\".word 0\");");  // all-zero: an illegal instruction
  const HostRunResult r = build_and_run(app, QemuMode::System, 60);
  EXPECT_EQ(r.exit_code, 128 + 2) << "mcause 2: illegal instruction\n" << r.output;
  EXPECT_NE(r.output.find("dory rv32: trap: illegal instruction (mcause 0x00000002)"), std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("layer 0 "), std::string::npos) << "the layer before the trap ran: " << r.output;
  EXPECT_EQ(r.output.find("RESULT"), std::string::npos) << r.output;
  // In user mode the emulator dies of SIGILL (128 + 4).
  const HostRunResult u = build_and_run(app, QemuMode::User, 60);
  EXPECT_EQ(u.exit_code, 128 + 4) << u.output;
}

TEST(QemuFaults, AHangIsKilledByTheTimeout) {
  SKIP_WITHOUT_QEMU(QemuMode::System);
  TempDir dir("hang");
  const GeneratedApp app = generate(load_network("fmnist"), 32 * 1024, dir.path.string());
  plant_in_main(dir.path, 0, "for (;;) { __asm__ volatile(\"\"); }");
  const HostRunResult r = build_and_run(app, QemuMode::System, 2);
  EXPECT_EQ(r.exit_code, 128 + 9) << "killed by timeout -s KILL\n" << r.output;
  EXPECT_FALSE(r.passed());
}

TEST(QemuFaults, ASkippedDmaWaitIsCaught) {
  SKIP_WITHOUT_QEMU(QemuMode::System);
  TempDir dir("skipwait");
  const Graph g = load_network("fmnist");
  // The platform copies only when a wait needs it: a skipped wait leaves stale bytes (the 0xA5 fill or the
  // previous tile) or a job in flight at shutdown.
  for (int k : {0, 1}) {
    const GeneratedApp app = generate(g, 12 * 1024, dir.path.string());  // a fresh main.c each time
    const size_t L = tiled_layer(app);
    SCOPED_TRACE(::testing::Message() << "wait " << k << " of layer " << L);
    plant_in_main(dir.path, static_cast<int>(L), "dory_layer_inject_skip_wait(" + std::to_string(k) + ");");
    const HostRunResult r = build_and_run(app, QemuMode::System, 60);
    EXPECT_NE(r.exit_code, 0) << r.output;
    EXPECT_FALSE(r.passed());
    EXPECT_TRUE(r.output.find("MISMATCH layer " + std::to_string(L)) != std::string::npos ||
                r.output.find("dory rv32 HAL: ") != std::string::npos)
        << r.output;
  }
}

TEST(QemuFaults, ADmaOutsideItsArenaIsCaught) {
  SKIP_WITHOUT_QEMU(QemuMode::System);
  TempDir dir("arena");
  const GeneratedApp app = generate(load_network("fmnist"), 16 * 1024, dir.path.string());
  const size_t L = tiled_layer(app);
  // The output stored past the end of L2.
  corrupt_network_c(dir.path, L, R"(\.out = \{\.l2_offset = (\d+)u)",
                    ".out = {.l2_offset = " + std::to_string(app.deployment.l2_bytes() + 64) + "u");
  const HostRunResult r = build_and_run(app, QemuMode::System, 60);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("is not inside the L2 arena"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace dory
