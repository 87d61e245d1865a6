// `dory eval` exit codes and output: 0 with the per-layer and network tables (text, markdown, JSON) and the HTML
// report, 2 with the tiler's explanation when no tiling fits, 1 for an unknown target, a bad size, an unknown
// --gantt-layer or --l2-scratch, and a report that cannot be written.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "../util/handcount_target.h"
#include "../util/run_cli.h"
#include "eval/eval.h"
#include "onnx/frontend.h"
#include "target/target.h"

namespace dory {
namespace {

// The DORY (model) network cycles of the CIFAR-10 CNN on the hand-count gap8 (handcount_target.h, the target the
// CLI is given below), as the table prints them (from the library).
std::string model_network_cycles_text() {
  const Expected<Graph> g = import_onnx(std::string(DORY_SOURCE_DIR) + "/models/cifar10/cifar10_cnn.onnx", {});
  const Expected<NetworkEval> e = evaluate_network(*g, test::handcount_gap8(), {}, "cifar10_cnn.onnx");
  return format_bytes_grouped(std::llround(e->total(EvalMode::Model).cycles));
}

namespace fs = std::filesystem;

using testing::CliResult;
using testing::run_cli;

const std::string kModel = std::string(DORY_SOURCE_DIR) + "/models/cifar10/cifar10_cnn.onnx";

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

TEST(EvalCli, PrintsEveryModePerLayerAndTheNetworkAndExitsZero) {
  // gap8 with the hand counts' kernel rates (handcount_target.h): the network's cycles are those eval_test and
  // html_report_test check through the library
  const CliResult r = run_cli("eval " + kModel + " --target " + test::handcount_gap8_file());
  EXPECT_EQ(r.status, 0) << r.output;
  for (const char* s : {"cifar10_cnn.onnx on gap8", "conv2_conv", "l1-resident", "l2-direct", "dory-model", "dory-dory",
                        "dory-fill", "MAC/cyc", "/core", "modeled", "bound: needs", "L2-direct", "DORY model",
                        "latency ms", "energy uJ", "speedup vs L2-direct"})
    EXPECT_TRUE(contains(r.output, s)) << s << "\n" << r.output;
  EXPECT_TRUE(contains(r.output, model_network_cycles_text())) << r.output;
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
  // --gantt-tiles 4: the chart shows min(4, the layer's tiles) tiles
  std::smatch m;
  const std::string page = ss.str();
  ASSERT_TRUE(std::regex_search(page, m, std::regex(R"(conv3_conv \(conv\), objective model: the first (\d+) of (\d+) tiles)")));
  EXPECT_EQ(std::stoi(m[1].str()), std::min(4, std::stoi(m[2].str())));
  fs::remove(html);
}

TEST(EvalCli, AnImpossiblySmallL1ExitsTwoWithTheLayerAndTheSmallestBudget) {
  const CliResult r = run_cli("eval " + kModel + " --target gap8 --l1 64");
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_TRUE(contains(r.output, "error[tiler-infeasible]")) << r.output;
  EXPECT_TRUE(contains(r.output, "conv1")) << r.output;
  EXPECT_TRUE(contains(r.output, "hint: --l1")) << r.output;
}

TEST(EvalCli, OnQemuTheL2DirectAndDoryPassesRunAndReportTheirInstructions) {
  if (std::system("command -v qemu-system-riscv32 >/dev/null 2>&1 && command -v riscv64-unknown-elf-gcc "
                  ">/dev/null 2>&1") != 0) {
    if (std::getenv("CI")) FAIL() << "CI installs the RISC-V toolchain (scripts/install-deps.sh --riscv)";
    GTEST_SKIP() << "no RISC-V toolchain/QEMU";
  }
  const fs::path html = fs::temp_directory_path() / "dory-eval-cli-executed.html";
  const CliResult r = run_cli("eval " + kModel + " --target gap8 --platform qemu --json --report " + html.string());
  ASSERT_EQ(r.status, 0) << r.output;
  const nlohmann::json j = nlohmann::json::parse(r.output.substr(r.output.find('{')));
  ASSERT_TRUE(j.contains("executed")) << r.output;
  const nlohmann::json& x = j["executed"];
  EXPECT_EQ(x["source"], "executed");
  EXPECT_NE(x["platform"].get<std::string>().find("qemu-system"), std::string::npos);
  ASSERT_EQ(x["layers"].size(), j["layers"].size());
  int64_t l2 = 0, tiled = 0, dma = 0;
  for (size_t i = 0; i < x["layers"].size(); ++i) {
    const nlohmann::json& l = x["layers"][i];
    SCOPED_TRACE(l["name"].get<std::string>());
    EXPECT_EQ(l["index"], j["layers"][i]["index"]);
    EXPECT_GT(l["l2_direct_instructions"].get<int64_t>(), 0);
    EXPECT_GT(l["tiled_dma_instructions"].get<int64_t>(), 0) << "every layer loads something";
    EXPECT_EQ(l["tiled_core_instructions"].get<int64_t>(),
              l["tiled_instructions"].get<int64_t>() - l["tiled_dma_instructions"].get<int64_t>());
    EXPECT_FALSE(l["l2_direct_fallback"].get<bool>());
    l2 += l["l2_direct_instructions"].get<int64_t>();
    tiled += l["tiled_instructions"].get<int64_t>();
    dma += l["tiled_dma_instructions"].get<int64_t>();
  }
  EXPECT_EQ(x["network"]["l2_direct_instructions"].get<int64_t>(), l2);
  EXPECT_EQ(x["network"]["tiled_instructions"].get<int64_t>(), tiled);
  EXPECT_EQ(x["network"]["tiled_dma_instructions"].get<int64_t>(), dma);
  // The same kernels do the same arithmetic in both passes; tiling adds per-tile calls and DMA programming only.
  EXPECT_GT(tiled - dma, l2 * 99 / 100);
  EXPECT_LT(tiled - dma, l2 * 11 / 10);
  std::ifstream f(html);
  std::stringstream text;
  text << f.rdbuf();
  for (const char* s : {"id=\"executed\"", "executed-table", "of which DMA copies", "qemu-system-riscv32",
                        "data-source=\"executed\""})
    EXPECT_TRUE(contains(text.str(), s)) << s;
  fs::remove(html);
}

TEST(EvalCli, GvsocWithoutAnInstallSaysWhatIsMissingAndAnUnknownPlatformIsRefused) {
  for (const char* platform : {"gvsoc", "pulp-open"}) {
    CliResult r = run_cli("eval " + kModel + " --target pulp-open --platform " + platform, "env -u GVSOC_INSTALL");
    EXPECT_EQ(r.status, 1) << r.output;
    EXPECT_TRUE(contains(r.output, "error[gvsoc-missing]")) << r.output;
    EXPECT_TRUE(contains(r.output, "GVSOC_INSTALL")) << r.output;
  }
  CliResult r = run_cli("eval " + kModel + " --target gap8 --platform fpga");
  EXPECT_EQ(r.status, 1) << r.output;
}

TEST(EvalCli, TheModelErrorBoundNeedsExecutedCycles) {
  for (const char* flags : {"--max-model-error 10", "--max-layer-error 25", "--platform qemu --max-model-error 10"}) {
    const CliResult r = run_cli("eval " + kModel + " --target gap8 " + flags);
    EXPECT_EQ(r.status, 1) << flags << "\n" << r.output;
    EXPECT_TRUE(contains(r.output, "error[eval-not-executed]")) << flags << "\n" << r.output;
    EXPECT_TRUE(contains(r.output, "--platform gvsoc")) << flags << "\n" << r.output;
  }
  const CliResult r = run_cli("eval " + kModel + " --target gap8 --max-model-error -5");
  EXPECT_EQ(r.status, 1) << r.output;  // CLI11's range check
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
