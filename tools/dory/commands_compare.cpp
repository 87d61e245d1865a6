// dory compare ACTUAL_DIR EXPECTED_DIR: every .npy of EXPECTED_DIR must be in ACTUAL_DIR, bit-exactly equal.
#include <cstdio>

#include "commands.h"
#include "util/npy_compare.h"

namespace dory::cli {

std::function<int()> add_compare_command(CLI::App& app) {
  auto dirs = std::make_shared<std::pair<std::string, std::string>>();
  CLI::App* cmd = app.add_subcommand("compare", "compare two directories of .npy tensors element by element");
  cmd->add_option("actual", dirs->first, "directory to check (e.g. a --dump-dir)")->required();
  cmd->add_option("expected", dirs->second, "directory of expected tensors (e.g. goldens)")->required();
  return [dirs]() {
    Expected<NpyDirComparison> c = compare_npy_dirs(dirs->first, dirs->second);
    if (!c.ok()) return report(c.error());
    std::printf("%s", render_npy_dir_comparison(*c).c_str());
    return c->ok() ? 0 : 1;
  };
}

}  // namespace dory::cli
