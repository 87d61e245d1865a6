// What lives in L2 is what the budget counts (codegen/l2_image.h): on pulp-open, whose L2 holds the program image,
// dory deploy's prediction of the image is never below what the linker places, nor far above it; a network at the
// edge of the budget links, one byte less of L2 is refused before any build (l2-overflow, exit 2); and the
// registry's code sizes are upper bounds of the kernels as compiled for the platform (their code and their files'
// read-only data).
//
// Needs the RISC-V cross toolchain (skips without it, fails under CI=true, which installs it).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "codegen/app.h"
#include "codegen/l2_image.h"
#include "target/kernel_registry.h"
#include "target/target.h"
#include "../util/platforms.h"
#include "../util/run_cli.h"
#include "../util/temp_dir.h"
#include "../util/test_networks.h"

namespace dory {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

using testing::shell;

Target pulp_open_with_l2(int64_t l2_bytes) {
  Target t = find_target("pulp-open").value();
  t.l2.size_bytes = l2_bytes;
  return t;
}

Expected<GeneratedApp> generate(const Graph& g, const Target& t, CheckMode check, const std::string& dir) {
  DeployOptions o;
  o.platform = AppPlatform::PulpOpen;
  o.check = check;
  o.l3 = L3Mode::Off;  // these tests are about what L2 holds: a network that does not fit is refused, not streamed
  return generate_application(g, t, o, {}, dir, EmitOptions{}, 5);
}

TEST(L2Image, ThePredictionHoldsWhatTheLinkerPlacesAndIsNotFarAbove) {
  DORY_SKIP_WITHOUT_RISCV();
  const Target t = find_target("pulp-open").value();
  // Every check mode on the example; the default (crc) on two larger networks (each build takes seconds).
  const std::vector<std::pair<const char*, CheckMode>> cases = {
      {"fmnist", CheckMode::Crc}, {"fmnist", CheckMode::Full}, {"fmnist", CheckMode::None},
      {"cifar10", CheckMode::Crc}, {"mobilenet_v1", CheckMode::Crc}};
  for (const auto& [net, check] : cases) {
    const Graph g = testing::load_test_network(net);
    {
      SCOPED_TRACE(std::string(net) + " check " + check_mode_name(check));
      TempDir dir(std::string("l2-image-") + net);
      Expected<GeneratedApp> app = generate(g, t, check, (dir.path / "app").string());
      if (!app.ok()) {  // only full goldens may make a network too large
        EXPECT_EQ(check, CheckMode::Full) << app.error().str();
        EXPECT_EQ(app.error().code, "l2-overflow") << app.error().str();
        continue;
      }
      ASSERT_TRUE(build_pulp_open_app(app->dir).ok());
      const L2Image m = l2_image(app->deployment);
      Expected<L2Placement> placed =
          read_l2_placement(app->dir + "/app-pulp-open.elf", kPulpOpenL2Base, t.l2.size_bytes);
      ASSERT_TRUE(placed.ok()) << placed.error().str();
      EXPECT_GE(m.used(), placed->end) << render_l2_image(m);
      // Not far above: 10 kB (the kernels' bounds count their files' read-only data, and a twin two kernels link,
      // e.g. the 1x1 conv of the conv and pointwise Xpulpv2 kernels, once per kernel: fmnist is ~8.5 kB above).
      EXPECT_LE(m.used() - placed->end, 10 * 1024) << "the estimate is loose\n" << render_l2_image(m);
      // The exact parts are exact: the constants' and the activations' sections.
      std::map<std::string, int64_t> bytes;
      for (const L2Section& s : placed->sections) bytes[s.name] = s.bytes;
      EXPECT_EQ(bytes[".dory_l2_constants"], m.constants);
      EXPECT_EQ(bytes[".dory_l2_arena"], m.activations);
    }
  }
}

TEST(L2Image, ANetworkAtTheEdgeLinksAndOneByteLessIsRefusedBeforeAnyBuild) {
  DORY_SKIP_WITHOUT_RISCV();
  const Graph g = testing::load_test_network("cifar10");
  // The smallest L2 the prediction allows: the stock one minus its free bytes.
  TempDir probe("l2-edge-probe");
  Expected<GeneratedApp> stock = generate(g, find_target("pulp-open").value(), CheckMode::Crc, probe.path.string());
  ASSERT_TRUE(stock.ok()) << stock.error().str();
  const int64_t edge = l2_image(stock->deployment).used();
  ASSERT_GT(edge, 0);

  TempDir at("l2-edge");
  Expected<GeneratedApp> fits = generate(g, pulp_open_with_l2(edge), CheckMode::Crc, (at.path / "app").string());
  ASSERT_TRUE(fits.ok()) << fits.error().str();
  EXPECT_EQ(l2_image(fits->deployment).free(), 0);
  const Status built = build_pulp_open_app(fits->dir);
  EXPECT_TRUE(built.ok()) << (built.ok() ? "" : built.error().str());

  TempDir below("l2-edge-below");
  Expected<GeneratedApp> over = generate(g, pulp_open_with_l2(edge - 8), CheckMode::Crc, below.path.string());
  ASSERT_FALSE(over.ok());
  EXPECT_EQ(over.error().code, "l2-overflow");
  EXPECT_EQ(over.error().exit_code(), 2);
  for (const char* s : {"L2 also holds the program", "L2 map", "kernels", "constants", "activations"})
    EXPECT_NE(over.error().message.find(s), std::string::npos) << s << "\n" << over.error().str();
  EXPECT_NE(over.error().hint.find("--check none"), std::string::npos) << over.error().str();
  EXPECT_FALSE(fs::exists(below.path / "network.c")) << "refused before writing anything";
}

TEST(L2Image, TheCliRefusesAnOverfullNetworkWithExitTwoAndTheMapWithoutL3AndStreamsItWithL3) {
  TempDir dir("l2-cli");
  const std::string model = dir.path.string() + "/mbn.onnx";
  ASSERT_EQ(testing::run_cli("netgen mobilenet_v1_0.25_128 -o " + model).status, 0);
  const testing::CliResult r = testing::run_cli("deploy " + model + " --target pulp-open --platform pulp-open --l3 off -o " +
                                                dir.path.string() + "/app");
  EXPECT_EQ(r.status, 2) << r.output;
  for (const char* s : {"l2-overflow", "L2 map", "program image is in L2", "free"})
    EXPECT_NE(r.output.find(s), std::string::npos) << s << "\n" << r.output;
  // the default (--l3 auto): its largest constants stream from the HyperRAM, and the report says so
  const testing::CliResult l3 =
      testing::run_cli("deploy " + model + " --target pulp-open --platform pulp-open -o " + dir.path.string() + "/app3");
  EXPECT_EQ(l3.status, 0) << l3.output;
  for (const char* s : {"layer(s) stream from L3", "moved between L3 and L2", "L3 (tiles: bands x blocks)", "w: 1 x"})
    EXPECT_NE(l3.output.find(s), std::string::npos) << s << "\n" << l3.output;
  EXPECT_TRUE(std::filesystem::exists(dir.path / "app3" / "l3_constants.bin"));
}

TEST(L2Image, TileAndEvalShowTheL3LevelOfANetworkLargerThanL2AndNoneOfOneThatFits) {
  TempDir dir("l3-tile");
  const std::string model = dir.path.string() + "/mbn.onnx";
  ASSERT_EQ(testing::run_cli("netgen mobilenet_v1_0.25_128 -o " + model).status, 0);
  const testing::CliResult t = testing::run_cli("tile " + model + " --target pulp-open");
  EXPECT_EQ(t.status, 0) << t.output;
  for (const char* s : {"does not fit L2", "layer(s) stream from L3", "constants of 'fc_gemm'", "L2 staging B",
                        "L3 engine cycles", "as if in L2", "fc_gemm", "w: 1 x"})
    EXPECT_NE(t.output.find(s), std::string::npos) << s << "\n" << t.output;
  const testing::CliResult j = testing::run_cli("tile " + model + " --target pulp-open --json");
  ASSERT_EQ(j.status, 0) << j.output;
  const nlohmann::json doc = nlohmann::json::parse(j.output);
  ASSERT_TRUE(doc.contains("l3") && doc["l3"].is_object()) << j.output.substr(0, 400);
  bool fc = false;
  for (const auto& l : doc["l3"]["layers"]) {
    fc |= l["layer"] == "fc_gemm";
    EXPECT_GT(l["l3_bytes"].get<int64_t>(), 0);
    EXPECT_GT(l["staging_bytes"].get<int64_t>(), 0);
    EXPECT_GE(l["bands"].get<int64_t>() * l["blocks"].get<int64_t>(), 1);
  }
  EXPECT_TRUE(fc) << doc["l3"].dump();
  EXPECT_EQ(doc["l3"]["l3_constant_bytes"].get<int64_t>(), doc["l3"]["l3_traffic_bytes"].get<int64_t>())
      << "constants only in L3: every byte streams once per inference";
  // dory eval: its modes price every operand in L2, and it says which layers deploy from L3
  const testing::CliResult e = testing::run_cli("eval " + model + " --target pulp-open");
  EXPECT_EQ(e.status, 0) << e.output;
  for (const char* s : {"does not fit L2", "stream from L3", "fc_gemm", "as if in L2"})
    EXPECT_NE(e.output.find(s), std::string::npos) << s << "\n" << e.output;
  // a network that fits L2: no L3 section
  const testing::CliResult small =
      testing::run_cli("tile " + std::string(DORY_SOURCE_DIR) + "/models/fmnist/fmnist_int.onnx --target pulp-open");
  EXPECT_EQ(small.status, 0) << small.output;
  EXPECT_EQ(small.output.find("stream from L3"), std::string::npos) << small.output;
}

TEST(L2Image, TheRegistrysCodeSizesBoundTheKernelsAsCompiled) {
  DORY_SKIP_WITHOUT_RISCV();
  const RuntimeRegistry& reg = runtime_registry();
  const fs::path rt = runtime_source_dir();
  TempDir dir("l2-code");
  for (const RuntimePlatform& p : reg.platforms) {
    if (!p.image) continue;
    // Each source once, compiled as the platform's builds compile it; then every function's size, its read-only
    // data (jump tables, strings, constant tables: L2 too, beside the code), and which registry kernels each source
    // calls (a kernel that falls back to another links it too).
    std::map<std::string, int64_t> fn_bytes, file_helpers, file_rodata;
    std::map<std::string, std::string> file_of;
    std::map<std::string, std::vector<std::string>> calls;  // source -> the registry kernels it references
    for (const RegistryKernel& k0 : reg.kernels) {
      const RegistryKernel& k = k0.isa == "c" || p.runs(k0.isa) ? k0 : reg.on_platform(k0, p);
      if (file_helpers.count(k.source)) continue;
      const fs::path obj = dir.path / (fs::path(k.source).stem().string() + ".o");
      auto [rc, out] = shell("riscv64-unknown-elf-gcc -O2 -std=c99 -ffunction-sections -fdata-sections " + p.compile_flags +
                          " -I" + (rt / "include").string() + " -c " + (rt / k.source).string() + " -o " + obj.string());
      ASSERT_EQ(rc, 0) << out;
      std::tie(rc, out) = shell("riscv64-unknown-elf-nm -S " + obj.string());
      ASSERT_EQ(rc, 0) << out;
      std::istringstream in(out);
      std::string line;
      file_helpers[k.source] = 0;
      while (std::getline(in, line)) {
        std::smatch m;
        if (!std::regex_match(line, m, std::regex(R"([0-9a-f]+ ([0-9a-f]+) ([Tt]) (\S+))"))) continue;
        const int64_t size = std::stoll(m[1].str(), nullptr, 16);
        if (m[2] == "T") fn_bytes[m[3]] = size, file_of[m[3]] = k.source;
        else file_helpers[k.source] += size;
      }
      std::tie(rc, out) = shell("riscv64-unknown-elf-size -A " + obj.string());
      ASSERT_EQ(rc, 0) << out;
      std::istringstream sections(out);
      file_rodata[k.source] = 0;
      while (std::getline(sections, line)) {
        std::smatch m;
        if (std::regex_match(line, m, std::regex(R"((\.s?rodata\S*)\s+(\d+)\s+\d+\s*)")))
          file_rodata[k.source] += std::stoll(m[2].str());
      }
      std::tie(rc, out) = shell("riscv64-unknown-elf-nm -u " + obj.string());
      std::istringstream undef(out);
      while (std::getline(undef, line)) {
        std::smatch m;
        if (std::regex_match(line, m, std::regex(R"(\s*U (\S+))")) && reg.find(m[1])) calls[k.source].push_back(m[1]);
      }
    }
    for (const RegistryKernel& k0 : reg.kernels) {
      const RegistryKernel& k = reg.on_platform(k0, p);
      SCOPED_TRACE(p.name + " " + k.name);
      ASSERT_TRUE(fn_bytes.count(k.name)) << "not compiled from " << k.source;
      int64_t measured = fn_bytes[k.name] + file_helpers[k.source] + file_rodata[k.source];
      std::set<std::string> files = {k.source};
      for (const std::string& callee : calls[k.source]) {
        ASSERT_TRUE(fn_bytes.count(callee)) << callee << " is called but was not compiled";
        measured += fn_bytes[callee] + file_helpers[file_of[callee]];
        if (files.insert(file_of[callee]).second) measured += file_rodata[file_of[callee]];
        if (file_of[callee] != k.source) {  // another file's kernel: it must be listed, or the builds would not link
          EXPECT_NE(std::find(k.links.begin(), k.links.end(), callee), k.links.end())
              << k.name << " calls " << callee << ": runtime/registry.json must list it in \"links\"";
        }
      }
      const int64_t registered = k.code_bytes.at(p.name);
      EXPECT_GE(registered, measured) << "runtime/registry.json code_bytes is below the compiled kernel";
      EXPECT_LE(registered, measured + measured / 4 + 256) << "runtime/registry.json code_bytes is far above it";
    }
  }
}

}  // namespace
}  // namespace dory
