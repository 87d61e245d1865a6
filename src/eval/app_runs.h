// What every executed evaluation does with an application: a work directory (the caller's or a temporary one),
// and a run that must reproduce the reference executor on every layer of every pass it makes. Shared by
// eval/execute.cpp (the evaluation modes) and eval/l3_overhead.cpp (L3 against L2, layer by layer).
#pragma once

#include <filesystem>
#include <functional>
#include <string>

#include "codegen/app.h"
#include "util/diagnostic.h"

namespace dory {

// The caller's work directory, or a temporary one removed with this object.
class WorkDir {
 public:
  static Expected<WorkDir> make(const std::string& dir);
  WorkDir() = default;
  WorkDir(WorkDir&& o) noexcept : path_(std::move(o.path_)), temporary_(o.temporary_) { o.temporary_ = false; }
  WorkDir& operator=(WorkDir&&) = delete;
  ~WorkDir();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  bool temporary_ = false;
};

// Builds and runs `app`; every layer of every pass the mode runs must match the reference.
Expected<HostRunResult> run_checked(const GeneratedApp& app, const AppRunOptions& ro, const std::string& what,
                                    const std::string& keep_hint);

// The PULP-open runtime the runs link: `given` (shared by several evaluations), or compiled into `dir` (progress
// says so first).
Expected<PulpOpenRuntime> pulp_open_runtime_for(const PulpOpenRuntime* given, const std::string& dir,
                                                const std::function<void(const std::string&)>& progress);
// The options of a run of a PULP-open application on GVSoC linking `runtime`.
AppRunOptions gvsoc_run_options(const PulpOpenRuntime& runtime, int timeout_s);

}  // namespace dory
