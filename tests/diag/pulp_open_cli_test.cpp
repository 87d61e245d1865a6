// `dory deploy --platform pulp-open` and `dory run --platform pulp-open`: a target the PULP-open cluster cannot
// hold (not 8 cores, an L1 larger than its 64 kB TCDM, or a budget that leaves the runtime's stacks no room) is
// refused with deploy-platform-mismatch naming the field, the values and the rule, before anything is written
// (exit 1); `dory run` without a GVSoC install stops with gvsoc-missing and says how to get one.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "../util/run_cli.h"
#include "../util/temp_dir.h"

namespace dory {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;
using testing::CliResult;
using testing::run_cli;

const std::string kModel = std::string(DORY_SOURCE_DIR) + "/models/fmnist/fmnist_int.onnx";

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

// targets/pulp-open.json with one field's value replaced, written to dir/name.
std::string pulp_open_variant(const fs::path& dir, const std::string& name, const std::string& pattern,
                              const std::string& replacement) {
  std::ifstream in(std::string(DORY_SOURCE_DIR) + "/targets/pulp-open.json");
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string text = std::regex_replace(ss.str(), std::regex(pattern), replacement);
  EXPECT_NE(text, ss.str()) << pattern;
  const fs::path p = dir / name;
  std::ofstream(p) << text;
  return p.string();
}

TEST(PulpOpenCli, ATargetWithoutEightCoresIsRefusedNamingTheCores) {
  TempDir d("pulp-cli");
  const std::string target = pulp_open_variant(d.path, "four-cores.json", R"("cores": 8)", R"("cores": 4)");
  const CliResult r =
      run_cli("deploy " + kModel + " --target " + target + " --platform pulp-open -o " + (d.path / "app").string());
  EXPECT_EQ(r.status, 1) << r.output;
  for (const char* s : {"deploy-platform-mismatch", "four-cores.json: cores", "has 4 core(s)", "8 cores",
                        "hint: deploy with --target pulp-open"})
    EXPECT_TRUE(contains(r.output, s)) << s << "\n" << r.output;
  EXPECT_FALSE(fs::exists(d.path / "app")) << "nothing is written";
}

TEST(PulpOpenCli, ATargetWithAnL1LargerThanTheTcdmIsRefusedNamingBothSizes) {
  TempDir d("pulp-cli");
  const CliResult r =
      run_cli("deploy " + kModel + " --target gap9 --platform pulp-open -o " + (d.path / "app").string());
  EXPECT_EQ(r.status, 1) << r.output;
  for (const char* s :
       {"deploy-platform-mismatch", "memories.L1.size_bytes", "an L1 of 131,072 B", "TCDM (L1) has 65,536 B"})
    EXPECT_TRUE(contains(r.output, s)) << s << "\n" << r.output;
  EXPECT_FALSE(fs::exists(d.path / "app"));
}

TEST(PulpOpenCli, AnL1BudgetLeavingTheRuntimeNoTcdmIsRefusedWithTheLargestBudgetThatFits) {
  TempDir d("pulp-cli");
  // --l1 60k on pulp-open, and gap8's default budget (36,700 B): both leave less than the runtime's 30,536 B.
  for (const std::string args : {"--target pulp-open --l1 60k", "--target gap8"}) {
    SCOPED_TRACE(args);
    const CliResult r =
        run_cli("deploy " + kModel + " " + args + " --platform pulp-open -o " + (d.path / "app").string());
    EXPECT_EQ(r.status, 1) << r.output;
    for (const char* s : {"deploy-platform-mismatch", "--l1", "30,536 B the pulp-open runtime keeps in TCDM",
                          "65,536 B of TCDM", "hint: --l1 35000 or less"})
      EXPECT_TRUE(contains(r.output, s)) << s << "\n" << r.output;
  }
  // The largest budget the hint names is accepted.
  const CliResult ok =
      run_cli("deploy " + kModel + " --target gap8 --l1 35000 --platform pulp-open -o " + (d.path / "app").string());
  EXPECT_EQ(ok.status, 0) << ok.output;
}

TEST(PulpOpenCli, RunOnGvsocWithoutGvsocSaysHowToGetIt) {
  for (const char* platform : {"gvsoc", "pulp-open"}) {
    const CliResult r =
        run_cli(std::string("run ") + kModel + " --target pulp-open --platform " + platform, "env -u GVSOC_INSTALL");
    EXPECT_EQ(r.status, 1) << r.output;
    for (const char* s : {"gvsoc-missing", "GVSOC_INSTALL", "not set", "scripts/install-deps.sh --gvsoc"})
      EXPECT_TRUE(contains(r.output, s)) << s << "\n" << r.output;
  }
  const CliResult bad = run_cli("run " + kModel + " --target pulp-open --platform gvsoc",
                                "env GVSOC_INSTALL=/nonexistent/gvsoc");
  EXPECT_EQ(bad.status, 1) << bad.output;
  EXPECT_TRUE(contains(bad.output, "/nonexistent/gvsoc/bin/gvsoc")) << bad.output;
}

}  // namespace
}  // namespace dory
