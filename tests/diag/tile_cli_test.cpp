// `dory tile`, `dory sweep` and `dory netgen` exit codes and diagnostics: 0 with a table, 2 with the tiler's
// explanation when no tiling fits, 1 for an unknown target, a bad size or objective, 1 for an unknown network.
#include <gtest/gtest.h>

#include "../util/run_cli.h"
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace dory {
namespace {

namespace fs = std::filesystem;

using testing::CliResult;
using testing::run_cli;

const std::string kModel = std::string(DORY_SOURCE_DIR) + "/models/fmnist/fmnist_int.onnx";

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

TEST(TileCli, PrintsThePlanTableAndExitsZero) {
  const CliResult r = run_cli("tile " + kModel + " --target gap8");
  EXPECT_EQ(r.status, 0) << r.output;
  for (const char* s : {"fmnist_int.onnx on gap8", "pw3_conv", "36,700", "MAC/cyc", "latency"})
    EXPECT_TRUE(contains(r.output, s)) << s << "\n" << r.output;
}

TEST(TileCli, AcceptsKibSuffixesEveryObjectiveAndJson) {
  CliResult r = run_cli("tile " + kModel + " --target gap8 --l1 16KiB --objective all");
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "16,384")) << r.output;
  EXPECT_TRUE(contains(r.output, "worst/best")) << r.output;
  r = run_cli("tile " + kModel + " --target gap8 --l1 20k --objective fill --json");
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "\"l1_budget_bytes\": 20480")) << r.output;
  EXPECT_TRUE(contains(r.output, "\"objective\": \"fill\"")) << r.output;
}

TEST(TileCli, AnImpossiblySmallL1ExitsTwoWithTheLayerAndTheSmallestBudget) {
  const CliResult r = run_cli("tile " + kModel + " --target gap8 --l1 64");
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_TRUE(contains(r.output, "error[tiler-infeasible]")) << r.output;
  EXPECT_TRUE(contains(r.output, "conv1")) << r.output;
  EXPECT_TRUE(contains(r.output, "hint: --l1")) << r.output;
}

TEST(TileCli, AnUnknownTargetExitsOneAndListsTheTargets) {
  const CliResult r = run_cli("tile " + kModel + " --target gap42");
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_TRUE(contains(r.output, "target-not-found")) << r.output;
  EXPECT_TRUE(contains(r.output, "gap8")) << r.output;
}

TEST(TileCli, BadSizesAndObjectivesExitOne) {
  CliResult r = run_cli("tile " + kModel + " --target gap8 --l1 36q");
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_TRUE(contains(r.output, "cli-bad-size")) << r.output;
  r = run_cli("tile " + kModel + " --target gap8 --objective fastest");
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_TRUE(contains(r.output, "cli-bad-objective")) << r.output;
  r = run_cli("tile " + kModel);  // --target is required
  EXPECT_EQ(r.status, 1) << r.output;
}

TEST(SweepCli, PrintsTheTableWritesTheSvgAndExitsZero) {
  const fs::path svg = fs::temp_directory_path() / "dory_sweep_cli_test.svg";
  fs::remove(svg);
  const CliResult r =
      run_cli("sweep " + kModel + " --target gap8 --l1 8k:32k:8k --objective model,dory --svg " + svg.string());
  EXPECT_EQ(r.status, 0) << r.output;
  for (const char* s : {"8k", "16k", "24k", "32k", "model ms", "dory ms", "smallest L1"})
    EXPECT_TRUE(contains(r.output, s)) << s << "\n" << r.output;
  std::ifstream f(svg);
  std::stringstream ss;
  ss << f.rdbuf();
  EXPECT_TRUE(contains(ss.str(), "<svg")) << "no SVG written";
  EXPECT_TRUE(contains(ss.str(), "L1 budget (kB")) << ss.str();
  fs::remove(svg);
}

TEST(SweepCli, ARangeWhereNothingFitsExitsTwoAndAnUnknownTargetOne) {
  CliResult r = run_cli("sweep " + kModel + " --target gap8 --l1 16:64:16");
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_TRUE(contains(r.output, "infeasible")) << r.output;
  EXPECT_TRUE(contains(r.output, "error[tiler-infeasible]")) << r.output;
  r = run_cli("sweep " + kModel + " --target nowhere --l1 8k:16k");
  EXPECT_EQ(r.status, 1) << r.output;
  r = run_cli("sweep " + kModel + " --target gap8 --l1 16k:8k");
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_TRUE(contains(r.output, "cli-bad-range")) << r.output;
}

TEST(NetgenCli, WritesAModelThatTileReadsAndRejectsUnknownNames) {
  const fs::path out = fs::temp_directory_path() / "dory_netgen_cli_test.onnx";
  CliResult r = run_cli("netgen cifar10_cnn -o " + out.string());
  EXPECT_EQ(r.status, 0) << r.output;
  r = run_cli("tile " + out.string() + " --target gap8");
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "conv4")) << r.output;
  fs::remove(out);
  r = run_cli("netgen lenet -o " + out.string());
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_TRUE(contains(r.output, "netgen-unknown-network")) << r.output;
  r = run_cli("netgen --list");
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "mobilenet_v2")) << r.output;
}

}  // namespace
}  // namespace dory
