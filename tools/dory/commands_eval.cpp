// `dory eval`: a network's modeled cost under the execution modes of the DORY paper's evaluation, per layer and
// in total (eval/eval.h): L1-resident, L2-direct, and DORY's tiling under the objectives model, dory and fill.
//
//   dory eval MODEL.onnx --target T [--l1 BYTES] [--markdown] [--json] [--report FILE.html]
//             [--gantt-layer NAME] [--gantt-tiles N] [--l2-scratch l1|l2] [--platform host|qemu|gvsoc|pulp-open]
//             [--max-model-error PCT] [--max-layer-error PCT] [--model-error-modes M,M,...] [--app-dir DIR]
//             [--no-cycle-split]
// --platform qemu also executes the L2-direct and DORY (model) modes: the network deployed as planned, run on
// rv32imc under qemu-system with -icount in both passes, every layer checked, retired instructions reported.
// --platform gvsoc (= pulp-open) executes every mode on PULP-open under GVSoC ($GVSOC_INSTALL): cluster cycles
// per layer and mode next to the model's, the model's error, the executor's cycle split of the tiled runs, and
// whether the `model` tilings are the fastest (eval/execute.h, eval/model_error.h). The default, host, executes
// nothing (everything is modeled). The modes price every operand in L2; on a target with L3, a network larger than
// L2 also gets its deployment's L3 level (report/l3_report.h: what streams, its L3 tiles, bytes and bound).
// --max-model-error PCT / --max-layer-error PCT (with gvsoc): after the report, exit 1 (eval-model-error) when the
// mean absolute per-layer error of some executed mode exceeds PCT percent, or its worst layer does (CI's bound);
// --model-error-modes restricts the bound to the modes named (default: every mode that ran).
// Sizes: 36700, 36k, 64KiB, 1M (k = 1024 B). Exit codes: 0 ok; 1 bad flags, model or target, an unknown
// --gantt-layer, a report that cannot be written, a missing platform, the model's error above the bound; 2 a
// layer has no tiling at the budget under some objective; 3 internal error. Progress goes to stderr when it is a
// terminal.
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <unistd.h>

#include "codegen/host_run.h"
#include "commands.h"
#include "eval/eval.h"
#include "eval/execute.h"
#include "eval/model_error.h"
#include "report/eval_report.h"
#include "report/html_report.h"
#include "report/l3_report.h"
#include "util/byte_size.h"

namespace dory::cli {
namespace {

struct EvalArgs {
  ModelOptions model;
  std::string target;
  std::string l1;
  std::string report;
  std::string gantt_layer;
  int64_t gantt_tiles = 8;
  std::string l2_scratch = "l1";
  bool json = false;
  bool markdown = false;
  std::string platform = "host";
  double max_model_error_pct = -1;
  double max_layer_error_pct = -1;
  std::vector<std::string> model_error_modes;
  std::string app_dir;
  bool no_cycle_split = false;
};

int run_eval(const EvalArgs& args) {
  auto target = find_target(args.target);
  if (!target) return report(target.error());
  auto graph = import_onnx(args.model.model, args.model.import_options());
  if (!graph) return report(graph.error());
  EvalOptions opts;
  if (!args.l1.empty()) {
    auto b = parse_byte_size(args.l1, "--l1");
    if (!b) return report(b.error());
    opts.l1_budget_bytes = *b;
    if (*b > target->usable_bytes(MemLevel::L1))
      std::fprintf(stderr, "note: the L1 budget %s B is more than %s's usable L1 (%s B): a what-if evaluation\n",
                   format_bytes_grouped(*b).c_str(), target->name.c_str(),
                   format_bytes_grouped(target->usable_bytes(MemLevel::L1)).c_str());
  }
  opts.l2_scratch = args.l2_scratch == "l2" ? L2Scratch::L2 : L2Scratch::L1;
  if (isatty(fileno(stderr)) != 0)
    opts.progress = [](size_t done, size_t total) {
      std::fprintf(stderr, "\reval: planned %zu/%zu layer-objectives", done, total);
      if (done == total) std::fputs("\r\033[K", stderr);
      std::fflush(stderr);
    };
  const std::string label = std::filesystem::path(args.model.model).filename().string();
  const bool gvsoc = args.platform == "gvsoc" || args.platform == "pulp-open";
  if ((args.max_model_error_pct >= 0 || args.max_layer_error_pct >= 0) && !gvsoc)
    return report(make_error("eval-not-executed", "--max-model-error",
                             "the model's error needs executed cycles, and --platform " + args.platform +
                                 " executes none",
                             "add --platform gvsoc (PULP-open on the GVSoC virtual platform)"));
  if (gvsoc) {  // before planning: say at once what is missing
    if (auto g = gvsoc_install(); !g) return report(g.error());
  }
  auto e = evaluate_network(*graph, *target, opts, label);
  if (!e) return report(e.error());
  if (args.platform == "qemu" || gvsoc) {
    ExecuteOptions xo;
    xo.work_dir = args.app_dir;
    xo.cycle_split = !args.no_cycle_split;
    if (isatty(fileno(stderr)) != 0)
      xo.progress = [](const std::string& step) { std::fprintf(stderr, "eval: %s ...\n", step.c_str()); };
    auto x = gvsoc ? execute_on_gvsoc(*graph, *target, *e, xo) : execute_on_qemu(*graph, *target, *e, xo);
    if (!x) return report(x.error());
    e->executed = std::move(*x);
  }

  if (!args.report.empty()) {
    HtmlReportOptions ho;
    ho.gantt_layer = args.gantt_layer;
    ho.gantt_tiles = args.gantt_tiles;
    auto html = render_html_report(*graph, *target, *e, ho);
    if (!html) return report(html.error());
    std::ofstream f(args.report, std::ios::binary);
    if (f) f << *html;
    if (!f) return report(make_error("io-write", fmt::format("file '{}'", args.report), "cannot be written"));
  } else if (!args.gantt_layer.empty()) {
    auto idx = gantt_layer_index(*e, args.gantt_layer);  // a typo is an error even without --report
    if (!idx) return report(idx.error());
  }
  // The modes above price every operand in L2; a network larger than L2 deploys with its L3 level.
  const std::optional<Deployment> l3 = l3_level_or_note(*graph, *target, e->l1_budget_bytes, Objective::Model);
  std::string out;
  if (args.json) {
    nlohmann::json j = eval_to_json(*e);
    if (l3) j["l3"] = l3_level_to_json(*l3);
    out = j.dump(2) + "\n";
  } else {
    out = render_eval_text(*e, args.markdown);
    if (l3)
      out += "\nThe network does not fit L2: the modes above price every operand in L2; deployed (objective model), "
             "these layers stream from L3:\n" +
             render_l3_level(*l3, args.markdown);
  }
  std::fputs(out.c_str(), stdout);
  if (!args.report.empty() && !args.json) std::fprintf(stdout, "wrote %s\n", args.report.c_str());
  std::fflush(stdout);
  if (args.max_model_error_pct >= 0 || args.max_layer_error_pct >= 0) {
    std::vector<EvalMode> modes;
    for (const std::string& name : args.model_error_modes)
      for (EvalMode m : kAllEvalModes)
        if (name == eval_mode_name(m)) modes.push_back(m);
    const Status bound =
        check_model_error(*e, args.max_model_error_pct / 100.0,
                          args.max_layer_error_pct >= 0 ? args.max_layer_error_pct / 100.0 : -1.0, modes);
    if (!bound) return report(bound.error());
  }
  return 0;
}

}  // namespace

std::function<int()> add_eval_command(CLI::App& app) {
  auto args = std::make_shared<EvalArgs>();
  CLI::App* cmd = app.add_subcommand(
      "eval", "modeled latency, MAC/cycle and energy per layer and for the network: L1-resident, L2-direct, DORY");
  add_model_options(*cmd, args->model);
  cmd->add_option("--target", args->target, "target name (targets/NAME.json) or path to a target file")->required();
  cmd->add_option("--l1", args->l1, "L1 budget in bytes: 36700, 36k, 64KiB (default: the target's usable L1)");
  cmd->add_flag("--json", args->json, "print JSON instead of tables");
  cmd->add_flag("--markdown", args->markdown, "print the tables as markdown");
  cmd->add_option("--report", args->report,
                  "write a self-contained HTML report (tables, L1 maps, L2 occupancy, DMA/compute Gantt chart, "
                  "MAC/cycle chart) to FILE");
  cmd->add_option("--gantt-layer", args->gantt_layer,
                  "the layer of the report's Gantt chart (default: the one with the most tiles)");
  cmd->add_option("--gantt-tiles", args->gantt_tiles, "tiles shown in the Gantt chart")
      ->check(CLI::Range(int64_t{1}, int64_t{1000000}))
      ->capture_default_str();
  cmd->add_option("--l2-scratch", args->l2_scratch,
                  "L2-direct mode: where the kernels' im2col workspace is (l1: the kernel's scratch in L1, as "
                  "PULP-NN; l2: a what-if with every operand word from L2)")
      ->check(CLI::IsMember({"l1", "l2"}))
      ->capture_default_str();
  cmd->add_option("--platform", args->platform,
                  "host: everything modeled; qemu: also run the L2-direct and DORY passes on rv32imc under "
                  "qemu-system (every layer checked, retired instructions; needs scripts/install-deps.sh --riscv); "
                  "gvsoc (= pulp-open): run every mode on PULP-open under GVSoC from $GVSOC_INSTALL (every layer "
                  "checked, cluster cycles next to the model's, the executor's cycle split)")
      ->check(CLI::IsMember({"host", "qemu", "gvsoc", "pulp-open"}))
      ->capture_default_str();
  cmd->add_option("--max-model-error", args->max_model_error_pct,
                  "with --platform gvsoc: exit 1 (eval-model-error) when the mean absolute per-layer error of the "
                  "model against the executed cycles exceeds PCT percent in some mode (CI's bound)")
      ->check(CLI::Range(0.0, 1e9));
  cmd->add_option("--max-layer-error", args->max_layer_error_pct,
                  "with --platform gvsoc: exit 1 (eval-model-error) when some layer's error exceeds PCT percent in "
                  "some mode")
      ->check(CLI::Range(0.0, 1e9));
  cmd->add_option("--model-error-modes", args->model_error_modes,
                  "with --max-model-error / --max-layer-error: the modes the bound applies to (default: every mode "
                  "that ran)")
      ->delimiter(',')
      ->check(CLI::IsMember({"l1-resident", "l2-direct", "dory-model", "dory-dory", "dory-fill"}));
  cmd->add_option("--app-dir", args->app_dir,
                  "with --platform qemu or gvsoc: keep the generated applications in DIR (one subdirectory per run)");
  cmd->add_flag("--no-cycle-split", args->no_cycle_split,
                "with --platform gvsoc: build the tiled runs without the executor's cycle split (no lap reads)");
  return [args]() { return run_eval(*args); };
}

}  // namespace dory::cli
