// `dory run --platform qemu` and `dory deploy --platform qemu`: a missing cross compiler is named with its Debian
// package and the install command (exit 1); bad --platform / --cores values exit 1; with the toolchain installed,
// the run verifies every layer and shows the instruction counts.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "../util/run_cli.h"
#include "codegen/host_run.h"
#include "../util/temp_dir.h"

namespace dory {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;
using testing::CliResult;
using testing::run_cli;

const std::string kModel = std::string(DORY_SOURCE_DIR) + "/models/fmnist/fmnist_int.onnx";

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

TEST(QemuCli, AMissingCrossCompilerIsNamedWithItsPackageAndTheInstallCommand) {
  setenv("DORY_RV32_CC", "/nonexistent/riscv64-unknown-elf-gcc", 1);
  const CliResult r = run_cli("run " + kModel + " --platform qemu");
  unsetenv("DORY_RV32_CC");
  EXPECT_EQ(r.status, 1) << r.output;
  for (const char* s : {"qemu-toolchain-missing", "gcc-riscv64-unknown-elf", "scripts/install-deps.sh --riscv"})
    EXPECT_TRUE(contains(r.output, s)) << s << "\n" << r.output;
}

TEST(QemuCli, AnUnknownPlatformOrSeveralCoresOnQemuExitOne) {
  CliResult r = run_cli("run " + kModel + " --platform fpga");
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_TRUE(contains(r.output, "cli-bad-platform")) << r.output;
  r = run_cli("run " + kModel + " --platform qemu --cores 8");
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_TRUE(contains(r.output, "cli-bad-cores")) << r.output;
}

TEST(QemuCli, DeployForQemuMakesTheRv32BuildTheMakefilesDefault) {
  TempDir d("qemu-cli");
  const std::string app = (d.path / "app").string();
  const CliResult r = run_cli("deploy " + kModel + " --platform qemu -o " + app);
  EXPECT_EQ(r.status, 0) << r.output;
  std::ifstream f(fs::path(app) / "Makefile");
  std::stringstream ss;
  ss << f.rdbuf();
  for (const char* s : {"all: app-rv32.elf app-rv32-user.elf", "run: qemu-system", "-icount shift=0",
                        "-march=rv32imc_zicsr", "link.ld"})
    EXPECT_TRUE(contains(ss.str(), s)) << s << "\n" << ss.str();
  for (const char* f2 : {"runtime/hal/rv32-qemu/crt0.S", "runtime/hal/rv32-qemu/link.ld",
                         "runtime/hal/rv32-qemu/hal_rv32.c", "runtime/hal/rv32-qemu/io_rv32.c",
                         "runtime/include/dory/hal_rv32.h"})
    EXPECT_TRUE(fs::exists(fs::path(app) / f2)) << f2;
}

TEST(QemuCli, RunOnQemuChecksEveryLayerAndShowsInstructions) {
  if (Status s = qemu_toolchain_available(QemuMode::System); !s.ok())
    GTEST_SKIP() << "no RISC-V toolchain/QEMU: " << s.error().str();
  const CliResult r = run_cli("run " + kModel + " --platform qemu --l1 16k");
  EXPECT_EQ(r.status, 0) << r.output;
  for (const char* s : {"instructions", "every layer of 10 matches", "qemu-system", "fc"})
    EXPECT_TRUE(contains(r.output, s)) << s << "\n" << r.output;
}

}  // namespace
}  // namespace dory
