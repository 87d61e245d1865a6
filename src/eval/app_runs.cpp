// WorkDir and run_checked (eval/app_runs.h).
#include "eval/app_runs.h"

#include <fmt/format.h>
#include <stdlib.h>

namespace dory {

Expected<WorkDir> WorkDir::make(const std::string& dir) {
  WorkDir w;
  if (!dir.empty()) {
    w.path_ = dir;
    return w;
  }
  std::string tmpl = (std::filesystem::temp_directory_path() / "dory-eval-XXXXXX").string();
  if (!mkdtemp(tmpl.data())) return make_error("io-write", "temporary directory", "mkdtemp failed");
  w.path_ = tmpl;
  w.temporary_ = true;
  return w;
}

WorkDir::~WorkDir() {
  std::error_code ec;
  if (temporary_) std::filesystem::remove_all(path_, ec);
}

Expected<HostRunResult> run_checked(const GeneratedApp& app, const AppRunOptions& ro, const std::string& what,
                                    const std::string& keep_hint) {
  DORY_TRY(HostRunResult r, run_application(app, ro));
  const size_t n = app.deployment.layers.size();
  const int bits = app_mode_bits(ro.mode);
  const bool complete = ((bits & 1) == 0 || r.layers.size() == n) &&
                        ((bits & 2) == 0 || r.l2_direct_layers.size() == n) &&
                        ((bits & 4) == 0 || r.l1_resident_layers.size() == n);
  if (!r.passed() || !complete)
    return make_error("eval-execution-mismatch", app.dir,
                      fmt::format("the application did not reproduce the reference executor {} (exit status {}): {}",
                                  what, r.exit_code, r.first_mismatch.empty() ? r.output : r.first_mismatch),
                      "this is a bug in dory: report it with the model; " + keep_hint);
  return r;
}

Expected<PulpOpenRuntime> pulp_open_runtime_for(const PulpOpenRuntime* given, const std::string& dir,
                                                const std::function<void(const std::string&)>& progress) {
  if (given) return *given;
  if (progress) progress("compiling the PULP-open runtime");
  return build_pulp_open_runtime(dir);
}

AppRunOptions gvsoc_run_options(const PulpOpenRuntime& runtime, int timeout_s) {
  AppRunOptions ro;
  ro.platform = AppPlatform::PulpOpen;
  ro.timeout_s = timeout_s;
  ro.qemu_build.prebuilt_runtime_lib = runtime.lib;
  ro.qemu_build.runtime_include_dir = runtime.include_dir;
  ro.qemu_build.runtime_dir = runtime.runtime_dir;
  return ro;
}

}  // namespace dory
