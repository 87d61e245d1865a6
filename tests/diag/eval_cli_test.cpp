// `dory eval` exit codes and output: 0 with the per-layer and network tables (text, markdown, JSON) and the HTML
// report, 2 with the tiler's explanation when no tiling fits, 1 for an unknown target, a bad size, an unknown
// --gantt-layer or --l2-scratch, and a report that cannot be written.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "../util/run_cli.h"

namespace dory {
namespace {

namespace fs = std::filesystem;

using testing::CliResult;
using testing::run_cli;

const std::string kModel = std::string(DORY_SOURCE_DIR) + "/models/cifar10/cifar10_cnn.onnx";

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

TEST(EvalCli, PrintsEveryModePerLayerAndTheNetworkAndExitsZero) {
  const CliResult r = run_cli("eval " + kModel + " --target gap8");
  EXPECT_EQ(r.status, 0) << r.output;
  for (const char* s : {"cifar10_cnn.onnx on gap8", "conv2_conv", "l1-resident", "l2-direct", "dory-model", "dory-dory",
                        "dory-fill", "MAC/cyc", "/core", "modeled", "bound: needs", "L2-direct", "DORY model",
                        "latency ms", "energy uJ", "speedup vs L2-direct", "1,035,523"})
    EXPECT_TRUE(contains(r.output, s)) << s << "\n" << r.output;
  EXPECT_FALSE(contains(r.output, "\r")) << "progress is for terminals only";
}

TEST(EvalCli, MarkdownAndJson) {
  CliResult r = run_cli("eval " + kModel + " --target gap8 --markdown");
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "| l2-direct")) << r.output;
  r = run_cli("eval " + kModel + " --target gap8 --l1 20k --json");
  EXPECT_EQ(r.status, 0) << r.output;
  const nlohmann::json j = nlohmann::json::parse(r.output);
  EXPECT_EQ(j["l1_budget_bytes"], 20480);
  EXPECT_EQ(j["source"], "modeled");
  EXPECT_EQ(j["layers"].size(), 9u);
  for (const char* m : {"l1-resident", "l2-direct", "dory-model", "dory-dory", "dory-fill"})
    EXPECT_GT(j["network"]["modes"][m]["cycles"].get<double>(), 0) << m;
}

TEST(EvalCli, WritesTheHtmlReport) {
  const fs::path html = fs::temp_directory_path() / "dory_eval_cli_test.html";
  fs::remove(html);
  const CliResult r = run_cli("eval " + kModel + " --target gap8 --report " + html.string() +
                              " --gantt-layer conv3_conv --gantt-tiles 4");
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "wrote " + html.string())) << r.output;
  std::ifstream f(html);
  std::stringstream ss;
  ss << f.rdbuf();
  for (const char* id : {"eval-table", "network-table", "mac-chart", "l1-maps", "l2-map", "gantt-chart"})
    EXPECT_TRUE(contains(ss.str(), std::string("id=\"") + id + "\"")) << id;
  EXPECT_TRUE(contains(ss.str(), "conv3_conv (conv), objective model: the first 4 of"));
  fs::remove(html);
}

TEST(EvalCli, AnImpossiblySmallL1ExitsTwoWithTheLayerAndTheSmallestBudget) {
  const CliResult r = run_cli("eval " + kModel + " --target gap8 --l1 64");
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_TRUE(contains(r.output, "error[tiler-infeasible]")) << r.output;
  EXPECT_TRUE(contains(r.output, "conv1")) << r.output;
  EXPECT_TRUE(contains(r.output, "hint: --l1")) << r.output;
}

TEST(EvalCli, UserErrorsExitOne) {
  CliResult r = run_cli("eval " + kModel + " --target gap42");
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_TRUE(contains(r.output, "target-not-found")) << r.output;
  r = run_cli("eval " + kModel + " --target gap8 --l1 36q");
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_TRUE(contains(r.output, "cli-bad-size")) << r.output;
  r = run_cli("eval " + kModel + " --target gap8 --gantt-layer conv9");
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_TRUE(contains(r.output, "error[cli-unknown-layer]")) << r.output;
  EXPECT_TRUE(contains(r.output, "conv9")) << r.output;
  EXPECT_TRUE(contains(r.output, "hint: use one of: conv1_conv")) << r.output;
  r = run_cli("eval " + kModel + " --target gap8 --l2-scratch l3");
  EXPECT_EQ(r.status, 1) << r.output;
  r = run_cli("eval " + kModel + " --target gap8 --report /nonexistent-dir/r.html");
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_TRUE(contains(r.output, "io-write")) << r.output;
  r = run_cli("eval " + kModel);  // --target is required
  EXPECT_EQ(r.status, 1) << r.output;
}

}  // namespace
}  // namespace dory
