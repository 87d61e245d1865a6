// `dory deploy` and `dory run`: the application and table on success; exit 2 with the tiler's or the memory
// plan's explanation when L1 or L2 is too small; exit 1 for bad flags and inputs.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "../util/run_cli.h"
#include "../util/temp_dir.h"

namespace dory {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;
using testing::CliResult;
using testing::run_cli;

const std::string kModel = std::string(DORY_SOURCE_DIR) + "/models/fmnist/fmnist_int.onnx";
const std::string kInput = std::string(DORY_SOURCE_DIR) + "/models/fmnist/golden/img0/input.npy";

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

TEST(DeployCli, WritesTheApplicationAndItsTableAndTheTimeline) {
  TempDir d("deploy-cli");
  const std::string app = (d.path / "app").string(), csv = (d.path / "t.csv").string();
  const CliResult r = run_cli("deploy " + kModel + " --target gap8 --l1 16k -o " + app + " --timeline " + csv);
  EXPECT_EQ(r.status, 0) << r.output;
  for (const char* s : {"schedule checked", "pw3_conv", "lower bound", "modeled cycles", "make -C"})
    EXPECT_TRUE(contains(r.output, s)) << s << "\n" << r.output;
  for (const char* f : {"network.c", "network.h", "goldens.c", "main.c", "Makefile", "CMakeLists.txt",
                        "runtime/include/dory/layer.h", "runtime/executor/executor.c", "runtime/hal/host/hal_host.c"})
    EXPECT_TRUE(fs::exists(fs::path(app) / f)) << f;
  std::ifstream t(csv);
  std::string header;
  std::getline(t, header);
  EXPECT_EQ(header, "layer,name,tile,kind,buffer,bytes,start_cycles,end_cycles");
}

TEST(DeployCli, RunBuildsRunsAndChecksEveryLayer) {
  const CliResult r = run_cli("run " + kModel + " --target gap8 --l1 16k --cores 3 --input " + kInput);
  EXPECT_EQ(r.status, 0) << r.output;
  for (const char* s : {"every layer of 10 matches", "host us", "check", "fc"})
    EXPECT_TRUE(contains(r.output, s)) << s << "\n" << r.output;
}

TEST(DeployCli, RunInBothModesChecksTheL2DirectPassToo) {
  const CliResult r = run_cli("run " + kModel + " --target gap8 --cores 2 --mode both --input " + kInput);
  EXPECT_EQ(r.status, 0) << r.output;
  for (const char* s : {"tiled and L2-direct passes", "L2-direct modeled", "L2-direct host us", "L2-direct check"})
    EXPECT_TRUE(contains(r.output, s)) << s << "\n" << r.output;
  EXPECT_FALSE(contains(r.output, "(ran tiled)")) << r.output;  // every map of fmnist is dense
}

TEST(DeployCli, AnUnknownModeExitsOneBeforeDeploying) {
  const CliResult r = run_cli("run " + kModel + " --mode sideways");
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_TRUE(contains(r.output, "cli-bad-mode")) << r.output;
  EXPECT_TRUE(contains(r.output, "'sideways'")) << r.output;
  EXPECT_FALSE(contains(r.output, "schedule checked")) << r.output;
}

TEST(DeployCli, AnL1AlignmentBelowFourBytesIsRefusedNamingTheField) {
  TempDir d("deploy-cli");
  std::ifstream in(std::string(DORY_SOURCE_DIR) + "/targets/gap8.json");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::string from = "\"access_cycles\": 1, \"alignment_bytes\": 4";
  const size_t at = text.find(from);
  ASSERT_NE(at, std::string::npos);
  text.replace(at, from.size(), "\"access_cycles\": 1, \"alignment_bytes\": 2");
  const fs::path target = d.path / "gap8-align2.json";
  std::ofstream(target) << text;
  // The tiler plans such a target; the generated code cannot run on it.
  EXPECT_EQ(run_cli("tile " + kModel + " --target " + target.string()).status, 0);
  const CliResult r = run_cli("deploy " + kModel + " --target " + target.string() + " -o " + (d.path / "a").string());
  EXPECT_EQ(r.status, 1) << r.output;
  for (const char* s : {"deploy-l1-alignment", "memories.L1.alignment_bytes", "L1 alignment 2 B", "4 or more"})
    EXPECT_TRUE(contains(r.output, s)) << s << "\n" << r.output;
}

TEST(DeployCli, TileAndEvalOnATargetWithL3WhoseDeploymentFailsStillReportAndSayWhyTheL3LevelIsMissing) {
  // pulp-open has an L3, so tile and eval ask for the deployment's L3 level; with an L1 alignment of 2 the
  // deployment is refused, which must not take away the L2 -> L1 report they promise.
  TempDir d("deploy-cli");
  std::ifstream in(std::string(DORY_SOURCE_DIR) + "/targets/pulp-open.json");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::string from = "\"access_cycles\": 1, \"alignment_bytes\": 4";
  const size_t at = text.find(from);
  ASSERT_NE(at, std::string::npos);
  text.replace(at, from.size(), "\"access_cycles\": 1, \"alignment_bytes\": 2");
  const fs::path target = d.path / "pulp-open-align2.json";
  std::ofstream(target) << text;
  for (const char* cmd : {"tile ", "eval "}) {
    const CliResult r = run_cli(cmd + kModel + " --target " + target.string());
    EXPECT_EQ(r.status, 0) << cmd << r.output;
    for (const char* s : {"pw3_conv", "the L3 level is not shown", "deploy-l1-alignment"})
      EXPECT_TRUE(contains(r.output, s)) << cmd << s << "\n" << r.output;
  }
}

TEST(DeployCli, AnUnwritableOutputDirectoryIsAClearError) {
  TempDir d("deploy-cli");
  const fs::path file = d.path / "a-file";
  std::ofstream(file) << "not a directory";
  const CliResult r = run_cli("deploy " + kModel + " --target gap8 -o " + (file / "app").string());
  EXPECT_EQ(r.status, 1) << r.output;
  for (const char* s : {"deploy-write", "a-file", "cannot create the directory", "choose another -o"})
    EXPECT_TRUE(contains(r.output, s)) << s << "\n" << r.output;
}

TEST(DeployCli, AnL1TooSmallExitsTwoNamingTheLayer) {
  TempDir d("deploy-cli");
  const CliResult r = run_cli("deploy " + kModel + " --target gap8 --l1 100 -o " + (d.path / "a").string());
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_TRUE(contains(r.output, "tiler-infeasible")) << r.output;
}

TEST(DeployCli, AnL2TooSmallExitsTwoNamingTheLayerWhereItOverflows) {
  TempDir d("deploy-cli");
  const CliResult r = run_cli("deploy " + kModel + " --target gap8 --l2 70k -o " + (d.path / "a").string());
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_TRUE(contains(r.output, "l2-overflow")) << r.output;
  EXPECT_TRUE(contains(r.output, "layer '")) << r.output;
}

TEST(DeployCli, ANetworkThatDoesNotFitEvenL3ExitsTwoNamingTheLayerAndTheSizes) {
  TempDir d("deploy-cli-l3");
  const std::string model = (d.path / "mbn.onnx").string();
  ASSERT_EQ(run_cli("netgen mobilenet_v1_1.0_128 -o " + model).status, 0);
  // pulp-open with 1 MiB of HyperRAM: the network's 4.2 MB of weights cannot stream from it
  std::ifstream in(std::string(DORY_SOURCE_DIR) + "/targets/pulp-open.json");
  std::string json((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::string l3 = "\"L3\": {\"size_bytes\": 8388608";
  ASSERT_NE(json.find(l3), std::string::npos);
  json.replace(json.find(l3), l3.size(), "\"L3\": {\"size_bytes\": 1048576");
  const std::string target = (d.path / "small-l3.json").string();
  std::ofstream(target) << json;
  const CliResult r = run_cli("deploy " + model + " --target " + target + " -o " + (d.path / "a").string());
  EXPECT_EQ(r.status, 2) << r.output;
  for (const char* s : {"l3-overflow", "layer '", "1,048,576 B", "fc_gemm"})
    EXPECT_TRUE(contains(r.output, s)) << s << "\n" << r.output;
  EXPECT_FALSE(fs::exists(d.path / "a" / "network.c"));
  // a bad --l3 mode is a usage error
  const CliResult bad = run_cli("deploy " + kModel + " --l3 sometimes -o " + (d.path / "b").string());
  EXPECT_EQ(bad.status, 1) << bad.output;
  EXPECT_TRUE(contains(bad.output, "cli-bad-l3")) << bad.output;
}

TEST(DeployCli, BadFlagsAndInputsExitOne) {
  TempDir d("deploy-cli");
  const std::string out = " -o " + (d.path / "a").string();
  CliResult r = run_cli("deploy " + kModel + " --objective fastest" + out);
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_TRUE(contains(r.output, "cli-bad-objective")) << r.output;
  r = run_cli("deploy " + kModel + " --input " + kInput + " --input " + kInput + out);
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_TRUE(contains(r.output, "cli-input-count")) << r.output;
  r = run_cli("deploy " + kModel + " --target nosuchchip" + out);
  EXPECT_EQ(r.status, 1) << r.output;
  r = run_cli("deploy " + kModel);  // no -o
  EXPECT_EQ(r.status, 1) << r.output;
}

}  // namespace
}  // namespace dory
