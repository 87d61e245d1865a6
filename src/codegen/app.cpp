#include "codegen/app.h"

#include <fmt/format.h>

#include "codegen/l2_image.h"
#include "reference/tensor_io.h"

namespace dory {

Expected<GeneratedApp> generate_application(const Graph& g, const Target& target, const DeployOptions& options,
                                            std::vector<std::vector<int32_t>> inputs, const std::string& dir,
                                            const EmitOptions& emit, uint64_t seed) {
  GeneratedApp app;
  app.dir = dir;
  // Before any work (emit_application checks again with the deployment's budget).
  const int64_t l1_budget =
      options.l1_budget_bytes > 0 ? options.l1_budget_bytes : target.usable_bytes(MemLevel::L1);
  DORY_TRY_STATUS(check_platform(target, l1_budget, options.platform));
  DORY_TRY(app.deployment, deploy(g, target, options));
  DORY_TRY_STATUS(check_schedule(app.deployment, {}, &app.check));
  app.inputs = inputs.empty() ? random_graph_inputs(app.deployment.graph, seed) : std::move(inputs);
  DORY_TRY(app.reference, run_reference(app.deployment.graph, app.inputs));
  DORY_TRY_STATUS(emit_application(app.deployment, app.inputs, app.reference, dir, emit));
  return app;
}

Expected<HostRunResult> run_application(const GeneratedApp& app, const AppRunOptions& options) {
  if (app_mode_bits(options.mode) == 0)
    return make_error("cli-bad-mode", options.mode, "unknown execution mode",
                      "use tiled, l2-direct, both or l1-resident");
  if (options.platform == AppPlatform::PulpOpen) {
    DORY_TRY(std::string install, gvsoc_install());  // before building: say at once what is missing
    (void)install;
    QemuBuildOptions qb = options.qemu_build;
    qb.app_mode = options.mode;
    DORY_TRY_STATUS(build_pulp_open_app(app.dir, qb));
    int64_t linked = -1;
    if (!app.deployment.target.l2.program_image.empty()) {
      // The prediction deploy planned L2 with must hold what the linker placed (codegen/l2_image.h).
      const L2Image predicted = l2_image(app.deployment);
      DORY_TRY(L2Placement placed, read_l2_placement(app.dir + "/" + pulp_open_elf_name(), kPulpOpenL2Base,
                                                     app.deployment.target.l2.size_bytes));
      linked = placed.end;
      if (placed.end > predicted.used()) {
        std::string secs;
        for (const L2Section& s : placed.sections) secs += fmt::format("\n  {} {} B", s.name, s.bytes);
        return make_internal_error(
            "l2-image-underestimated", app.dir,
            fmt::format("the linked image reaches {} B of L2, more than the {} B dory deploy predicted:{}", placed.end,
                        predicted.used(), secs),
            "runtime/registry.json's image costs or code_bytes are too small for this build: re-measure them "
            "(tests/e2e/l2_image_test.cpp) and report it");
      }
    }
    DORY_TRY(HostRunResult r, run_gvsoc_app(app.dir, options.timeout_s));
    r.l2_image_bytes = linked;
    return r;
  }
  if (options.platform == AppPlatform::Qemu) {
    QemuBuildOptions qb = options.qemu_build;
    qb.app_mode = options.mode;
    DORY_TRY_STATUS(build_qemu_app(app.dir, options.qemu_mode, qb));
    return run_qemu_app(app.dir, options.qemu_mode, options.timeout_s);
  }
  DORY_TRY_STATUS(build_host_app(app.dir, options.build));
  std::vector<std::string> args = {"--cores", std::to_string(options.cores > 0 ? options.cores
                                                                              : app.deployment.target.cores)};
  args.insert(args.end(), {"--mode", options.mode});
  args.insert(args.end(), options.extra_args.begin(), options.extra_args.end());
  return run_host_app(app.dir, args, options.env, options.timeout_s);
}

}  // namespace dory
