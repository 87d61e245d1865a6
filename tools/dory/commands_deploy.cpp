// `dory deploy` and `dory run`: generate the C application of a network, and build, run and check it.
//
//   dory deploy MODEL.onnx --target T -o APP [--l1 BYTES] [--l2 BYTES] [--objective model|dory|fill]
//               [--input FILE ...] [--seed N] [--platform host|qemu|pulp-open|gvsoc] [--l3 auto|off]
//       writes APP/ (network.c/h, goldens, main.c, Makefile, CMakeLists.txt, runtime/) after proving the
//       schedule of every layer; prints the per-layer table. Build and run with `make -C APP run`.
//       --platform pulp-open (or gvsoc, the same): the Makefile builds APP/app-pulp-open.elf for PULP-open (8
//       cluster cores, MCHAN, the Xpulpv2 kernels) and `make run` runs it on GVSoC ($GVSOC_INSTALL); refused
//       (deploy-platform-mismatch) unless the target has 8 cores and an L1 that fits PULP-open's 64 kB TCDM with
//       the runtime's stacks.
//   dory run MODEL.onnx [--target gap8] [--l1 BYTES] [--l2 BYTES] [--objective ...] [--cores N] [-o APP]
//               [--input FILE ...] [--seed N] [--platform host|qemu|gvsoc] [--mode tiled|l2-direct|both]
//       deploys (into APP, default a temporary directory), builds with the system C compiler ($CC), runs on the
//       host platform and checks every layer against the reference executor; prints the per-layer table.
//       --platform qemu: cross-compiles for rv32imc instead and runs under qemu-system-riscv32 with -icount
//       (one core; the table gets every layer's retired instructions). --platform gvsoc (or pulp-open): builds the
//       PULP-open ELF and runs it on the GVSoC virtual platform from $GVSOC_INSTALL (8 cluster cores; the table
//       gets every layer's executed cluster cycles and instructions); without GVSoC, gvsoc-missing says how to
//       get it. --platform also sets the default goal of the Makefile `dory deploy` writes.
//       --mode l2-direct|both: the app (also) runs every layer as one kernel call on its operands in L2 without
//       DMA (the paper's "L2 fetching" baseline), each layer checked too; the table gets L2-direct columns.
//   --check crc|full|none (both): how the application checks each layer against the reference executor: a CRC-32
//       of its output (the default: 4 bytes per layer), every element (the first that differs is reported; for
//       debugging), or not at all (dory deploy only, for production).
//   --l3 auto|off (both): auto (the default) streams from the target's L3 (memplan/l3_memplan.h) the weights and
//       feature maps that do not fit L2; off refuses such a network (l2-overflow).
// Exit codes: 0 ok; 1 bad flags, model or target, or a mismatch; 2 infeasible (L1 or L2 too small); 3 internal.
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>

#include "codegen/app.h"
#include "commands.h"
#include "reference/tensor_io.h"
#include "report/run_report.h"
#include "tiler/objective.h"
#include "util/byte_size.h"

namespace dory::cli {
namespace {

struct DeployArgs {
  ModelOptions model;
  std::string target = "gap8";
  std::string out;
  std::string l1, l2;
  std::string objective = "model";
  std::vector<std::string> inputs;
  uint64_t seed = 1;
  int cores = 0;
  bool keep = false;
  bool markdown = false;
  std::string timeline;
  std::string platform = "host";
  std::string check = "crc";
  std::string mode = "tiled";  // dory run
  std::string l3 = "auto";
};

Expected<CheckMode> parse_check(const std::string& c) {
  if (c == "crc") return CheckMode::Crc;
  if (c == "full") return CheckMode::Full;
  if (c == "none") return CheckMode::None;
  return make_error("cli-bad-check", "--check", fmt::format("unknown check mode '{}'", c),
                    "use crc (a CRC-32 of every layer's output, the default), full (every element: the first that "
                    "differs is reported) or none (no check, for production)");
}

Expected<AppPlatform> parse_platform(const std::string& p) {
  if (p == "host") return AppPlatform::Host;
  if (p == "qemu") return AppPlatform::Qemu;
  if (p == "pulp-open" || p == "gvsoc") return AppPlatform::PulpOpen;
  return make_error("cli-bad-platform", "--platform", fmt::format("unknown platform '{}'", p),
                    "use host (this machine, threads), qemu (rv32imc under QEMU) or gvsoc (the PULP-open ELF on the "
                    "GVSoC virtual platform; pulp-open is the same)");
}

Status write_timeline(const DeployArgs& a, const Deployment& dep) {
  if (a.timeline.empty()) return ok_status();
  std::ofstream f(a.timeline, std::ios::binary);
  if (f) f << deployment_timeline_csv(dep);
  if (!f) return make_error("io-write", fmt::format("file '{}'", a.timeline), "cannot be written");
  return ok_status();
}

Expected<GeneratedApp> generate(const DeployArgs& a, const std::string& dir) {
  DORY_TRY(Target target, find_target(a.target));
  DORY_TRY(Graph graph, import_onnx(a.model.model, a.model.import_options()));
  DeployOptions o;
  if (!a.l1.empty()) {
    DORY_TRY(o.l1_budget_bytes, parse_byte_size(a.l1, "--l1"));
  }
  if (!a.l2.empty()) {
    DORY_TRY(o.l2_budget_bytes, parse_byte_size(a.l2, "--l2"));
  }
  auto obj = parse_objective(a.objective);
  if (!obj)
    return make_error("cli-bad-objective", "--objective", fmt::format("unknown objective '{}'", a.objective),
                      "use model (minimize modeled latency), dory (DORY's heuristic) or fill (largest tiles)");
  o.objective = *obj;
  DORY_TRY(o.check, parse_check(a.check));
  if (a.l3 == "auto")
    o.l3 = L3Mode::Auto;
  else if (a.l3 == "off")
    o.l3 = L3Mode::Off;
  else
    return make_error("cli-bad-l3", "--l3", fmt::format("unknown L3 mode '{}'", a.l3),
                      "use auto (stream from the target's L3 what does not fit L2, the default) or off (L2 only: a "
                      "network that does not fit is refused)");
  std::vector<std::vector<int32_t>> inputs;
  if (!a.inputs.empty()) {
    if (a.inputs.size() != graph.inputs.size())
      return make_error("cli-input-count", "--input",
                        fmt::format("the model has {} input(s); {} --input file(s) were given", graph.inputs.size(),
                                    a.inputs.size()),
                        "give one --input FILE (.npy or .bin) per model input, in order, or none for random inputs");
    for (size_t i = 0; i < a.inputs.size(); ++i) {
      DORY_TRY(std::vector<int32_t> v, load_graph_input(graph, i, a.inputs[i]));
      inputs.push_back(std::move(v));
    }
  }
  EmitOptions e;
  e.network_name = std::filesystem::path(a.model.model).stem().string();
  DORY_TRY(o.platform, parse_platform(a.platform));
  return generate_application(graph, target, o, std::move(inputs), dir, e, a.seed);
}

int run_deploy(const DeployArgs& a) {
  auto app = generate(a, a.out);
  if (!app) return report(app.error());
  if (Status w = write_timeline(a, app->deployment); !w) return report(w.error());
  std::fputs(render_deployment(app->deployment, app->check, nullptr, a.markdown).c_str(), stdout);
  if (a.platform == "pulp-open" || a.platform == "gvsoc")
    std::printf("\nwrote %s (build the PULP-open ELF: make -C %s pulp-open; run it on GVSoC: make -C %s gvsoc "
                "GVSOC_INSTALL=<your GVSoC install>)\n",
                a.out.c_str(), a.out.c_str(), a.out.c_str());
  else
    std::printf("\nwrote %s (build and check on this machine: make -C %s run)\n", a.out.c_str(), a.out.c_str());
  return 0;
}

int run_run(const DeployArgs& a) {
  if (a.check == "none")
    return report(make_error("cli-bad-check", "--check none",
                             "dory run checks every layer against the reference executor; an application without "
                             "goldens has nothing to check",
                             "use --check crc (the default) or full here; --check none is for dory deploy"));
  if (app_mode_bits(a.mode) == 0 || a.mode == "l1-resident")  // (l1-resident: dory eval --platform gvsoc)
    return report(make_error("cli-bad-mode", "--mode", fmt::format("unknown execution mode '{}'", a.mode),
                             "use tiled (DORY's tiles, the default), l2-direct (operands in L2, no DMA) or both"));
  if (auto p = parse_platform(a.platform); p && *p == AppPlatform::PulpOpen) {
    if (auto g = gvsoc_install(); !g) return report(g.error());  // before deploying: say at once what is missing
    if (a.cores > 0 && a.cores != 8)
      return report(make_error("cli-bad-cores", "--cores",
                               fmt::format("{} cores: the PULP-open cluster has 8", a.cores), "drop --cores"));
  }
  std::string dir = a.out;
  bool temporary = false;
  if (dir.empty()) {
    std::string tmpl = (std::filesystem::temp_directory_path() / "dory-run-XXXXXX").string();
    if (!mkdtemp(tmpl.data())) return report(make_error("io-write", "temporary directory", "mkdtemp failed"));
    dir = tmpl;
    temporary = !a.keep;
  }
  auto cleanup = [&] {
    if (temporary) std::filesystem::remove_all(dir);
  };
  const bool tty = isatty(fileno(stderr)) != 0;
  if (tty) std::fprintf(stderr, "deploying into %s ...\n", dir.c_str());
  auto app = generate(a, dir);
  if (!app) {
    cleanup();
    return report(app.error());
  }
  if (Status w = write_timeline(a, app->deployment); !w) {
    cleanup();
    return report(w.error());
  }
  AppRunOptions ro;
  ro.cores = a.cores;
  ro.mode = a.mode;
  ro.platform = *parse_platform(a.platform);  // generate() checked it
  if (ro.platform == AppPlatform::Qemu) {
    if (a.cores > 1) {
      cleanup();
      return report(make_error("cli-bad-cores", "--cores",
                               fmt::format("{} cores: the qemu platform has one core", a.cores),
                               "drop --cores, or use --platform host for the multi-core host platform"));
    }
    if (Status t = qemu_toolchain_available(QemuMode::System); !t) {
      cleanup();
      return report(t.error());
    }
  }
  if (tty)
    std::fprintf(stderr, "%s\n",
                 ro.platform == AppPlatform::Qemu       ? "building for rv32imc and running under qemu-system-riscv32 "
                                                          "(-icount shift=0) ..."
                 : ro.platform == AppPlatform::PulpOpen ? "building the PULP-open ELF and running it on GVSoC ..."
                                                        : "building and running on the host platform ...");
  auto r = run_application(*app, ro);
  if (!r) {
    cleanup();
    return report(r.error());
  }
  std::fputs(render_deployment(app->deployment, app->check, &*r, a.markdown).c_str(), stdout);
  int rc = 0;
  if (!r->passed()) {
    std::fprintf(stderr, "error: the application did not reproduce the reference (exit status %d)\n%s\n",
                 r->exit_code, r->first_mismatch.empty() ? r->output.c_str() : r->first_mismatch.c_str());
    std::fprintf(stderr, "the generated application is kept in %s\n", dir.c_str());
    return 1;
  }
  const std::string passes = a.mode == "both" ? "tiled and L2-direct passes, " : a.mode == "l2-direct" ? "L2-direct, " : "";
  if (ro.platform == AppPlatform::Qemu) {
    int64_t instructions = 0;
    for (const HostLayerResult& l : r->layers) instructions += std::max<int64_t>(l.instructions, 0);
    for (const HostLayerResult& l : r->l2_direct_layers) instructions += std::max<int64_t>(l.instructions, 0);
    std::printf("every layer of %zu matches the reference executor bit for bit (%srv32imc under qemu-system, 1 "
                "core, %lld instructions)\n",
                app->deployment.layers.size(), passes.c_str(), static_cast<long long>(instructions));
    cleanup();
    return rc;
  }
  if (ro.platform == AppPlatform::PulpOpen) {
    int64_t cycles = 0;
    for (const HostLayerResult& l : r->layers) cycles += std::max<int64_t>(l.cycles, 0);
    std::printf("every layer of %zu matches the reference executor bit for bit (%sPULP-open on GVSoC, 8 cluster "
                "cores, %lld cluster cycles in the tiled layers)\n",
                app->deployment.layers.size(), passes.c_str(), static_cast<long long>(cycles));
    cleanup();
    return rc;
  }
  std::printf("every layer of %zu matches the reference executor bit for bit (%s%d cores)\n",
              app->deployment.layers.size(), passes.c_str(),
              a.cores > 0 ? a.cores : static_cast<int>(app->deployment.target.cores));
  cleanup();
  return rc;
}

void add_common(CLI::App* cmd, DeployArgs& a) {
  add_model_options(*cmd, a.model);
  cmd->add_option("--target", a.target, "target name (targets/NAME.json) or path to a target file")
      ->capture_default_str();
  cmd->add_option("--l1", a.l1, "L1 budget in bytes: 36700, 36k, 64KiB (default: the target's usable L1)");
  cmd->add_option("--l2", a.l2, "L2 budget in bytes (default: the target's usable L2)");
  cmd->add_option("--l3", a.l3,
                  "auto: weights and feature maps that do not fit L2 stream from the target's L3 (two-level tiling); "
                  "off: L2 only")
      ->capture_default_str();
  cmd->add_option("--objective", a.objective, "tiling objective: model, dory or fill")->capture_default_str();
  cmd->add_option("--input", a.inputs, "input .npy or .bin per model input (default: seeded random inputs)");
  cmd->add_option("--seed", a.seed, "seed of the random inputs")->capture_default_str();
  cmd->add_flag("--markdown", a.markdown, "print the table as markdown");
  cmd->add_option("--check", a.check,
                  "how the application checks each layer: crc (a CRC-32 of its output), full (every element; reports "
                  "the first that differs) or none (dory deploy only: no goldens)")
      ->capture_default_str();
  cmd->add_option("--timeline", a.timeline, "write the modeled DMA/compute timeline of every tile as CSV to FILE");
  cmd->add_option("--platform", a.platform,
                  "host (this machine), qemu (rv32imc under QEMU: needs scripts/install-deps.sh --riscv) or gvsoc "
                  "(= pulp-open: the PULP-open ELF, run on the GVSoC virtual platform from $GVSOC_INSTALL)")
      ->capture_default_str();
}

}  // namespace

std::function<int()> add_deploy_command(CLI::App& app) {
  auto args = std::make_shared<DeployArgs>();
  CLI::App* cmd = app.add_subcommand("deploy", "generate the C application of a network (tiled, double-buffered)");
  add_common(cmd, *args);
  cmd->add_option("-o,--out", args->out, "output directory")->required();
  return [args]() { return run_deploy(*args); };
}

std::function<int()> add_run_command(CLI::App& app) {
  auto args = std::make_shared<DeployArgs>();
  CLI::App* cmd = app.add_subcommand("run", "deploy, build, run on the host platform and check every layer");
  add_common(cmd, *args);
  cmd->add_option("-o,--out", args->out, "keep the generated application in this directory");
  cmd->add_option("--cores", args->cores, "cores (threads) of the host platform (default: the target's)");
  cmd->add_option("--mode", args->mode,
                  "what the app runs, each layer checked: tiled (DORY), l2-direct (every layer on its operands in "
                  "L2, no DMA: the paper's baseline) or both")
      ->capture_default_str();
  return [args]() { return run_run(*args); };
}

}  // namespace dory::cli
