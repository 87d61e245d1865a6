// `dory tile` and `dory sweep`: the tiler's plans for a network, and its modeled latency against the L1 budget.
//
//   dory tile MODEL.onnx --target T [--l1 BYTES] [--objective model|dory|fill|all] [--json] [--markdown]
//       per-layer tiles, L1 use, DMA bytes, modeled cycles, MAC/cycle and overhead vs L1-resident execution;
//       --objective all: the three objectives side by side. --l1 defaults to the target's usable L1. On a target
//       with L3, a network that does not fit L2 also gets its deployment's L3 level (report/l3_report.h).
//   dory sweep MODEL.onnx --target T [--l1 LO:HI[:STEP]] [--objective LIST|all] [--svg FILE] [--json]
//       [--markdown]   modeled network latency at each budget (default 8k:128k), and an SVG plot.
// Sizes: 36700, 36k, 64KiB, 1M (k = 1024 B); see util/byte_size.h.
// Exit codes: 0 ok; 1 bad flags, model or target; 2 a layer has no tiling at the budget (tile), or at no budget
// of the sweep (sweep); 3 internal error.
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <unistd.h>

#include "codegen/deployment.h"
#include "commands.h"
#include "report/l3_report.h"
#include "report/tile_report.h"
#include "util/byte_size.h"

namespace dory::cli {
namespace {

struct Loaded {
  Graph graph;
  Target target;
  std::string label;  // the model's file name
};

Expected<Loaded> load(const ModelOptions& model, const std::string& target_name) {
  DORY_TRY(Target target, find_target(target_name));
  DORY_TRY(Graph graph, import_onnx(model.model, model.import_options()));
  return Loaded{std::move(graph), std::move(target), std::filesystem::path(model.model).filename().string()};
}

// "model", "dory,fill", "all" -> objectives, in the order given (all: model, dory, fill).
Expected<std::vector<Objective>> parse_objectives(const std::string& text) {
  if (text == "all") return std::vector<Objective>{Objective::Model, Objective::Dory, Objective::Fill};
  std::vector<Objective> out;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t comma = text.find(',', start);
    const std::string name = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    auto o = parse_objective(name);
    if (!o)
      return make_error("cli-bad-objective", "--objective", fmt::format("unknown objective '{}'", name),
                        "use model (minimize modeled latency), dory (DORY's heuristic), fill (largest tiles), a "
                        "comma-separated list of them, or all");
    if (std::find(out.begin(), out.end(), *o) == out.end()) out.push_back(*o);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

void note_hypothetical(const Target& t, int64_t budget) {
  if (budget > t.usable_bytes(MemLevel::L1))
    std::fprintf(stderr, "note: the L1 budget %s B is more than %s's usable L1 (%s B): a what-if plan\n",
                 format_bytes_grouped(budget).c_str(), t.name.c_str(),
                 format_bytes_grouped(t.usable_bytes(MemLevel::L1)).c_str());
}

Status write_file(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary);
  if (f) f << text;
  if (!f) return make_error("io-write", fmt::format("file '{}'", path), "cannot be written");
  return ok_status();
}

struct TileArgs {
  ModelOptions model;
  std::string target;
  std::string l1;
  std::string objective = "model";
  bool json = false;
  bool markdown = false;
};

int run_tile(const TileArgs& args) {
  auto objectives = parse_objectives(args.objective);
  if (!objectives) return report(objectives.error());
  auto loaded = load(args.model, args.target);
  if (!loaded) return report(loaded.error());
  const Target& target = loaded->target;
  int64_t budget = target.usable_bytes(MemLevel::L1);
  if (!args.l1.empty()) {
    auto b = parse_byte_size(args.l1, "--l1");
    if (!b) return report(b.error());
    budget = *b;
  }
  note_hypothetical(target, budget);
  std::vector<TileReport> reports;
  for (Objective o : *objectives) {
    auto r = tile_network(loaded->graph, target, budget, o, loaded->label);
    if (!r) return report(r.error());
    reports.push_back(std::move(*r));
  }
  // The L3 level: on a target with L3, the deployment's two-level plan (what dory deploy would stream), for the
  // first objective; nothing when the network fits L2.
  std::optional<Deployment> dep = l3_level_or_note(loaded->graph, target, budget, objectives->front());
  std::string out;
  if (args.json) {
    nlohmann::json j = reports.size() == 1 ? tile_report_to_json(reports[0]) : objective_comparison_to_json(reports);
    if (dep) j["l3"] = l3_level_to_json(*dep);
    out = j.dump(2) + "\n";
  } else {
    out = reports.size() == 1 ? render_tile_text(reports[0], args.markdown)
                              : render_objective_comparison(reports, args.markdown);
    if (dep)
      out += fmt::format("\nThe network does not fit L2 ({} B usable, less the program image where it is in L2): "
                         "the L3 level of its deployment (objective {}):\n",
                         format_bytes_grouped(target.usable_bytes(MemLevel::L2)), objective_name(objectives->front())) +
             render_l3_level(*dep, args.markdown);
  }
  std::fputs(out.c_str(), stdout);
  return 0;
}

struct SweepArgs {
  ModelOptions model;
  std::string target;
  std::string l1 = "8k:128k";
  std::string objective = "model";
  std::string svg;
  bool json = false;
  bool markdown = false;
};

int run_sweep(const SweepArgs& args) {
  auto objectives = parse_objectives(args.objective);
  if (!objectives) return report(objectives.error());
  auto points = parse_size_range(args.l1, "--l1");
  if (!points) return report(points.error());
  auto loaded = load(args.model, args.target);
  if (!loaded) return report(loaded.error());

  const bool tty = isatty(fileno(stderr)) != 0;
  SweepProgress progress;
  if (tty)
    progress = [](size_t done, size_t total) {
      std::fprintf(stderr, "\rsweep: %zu/%zu points", done, total);
      if (done == total) std::fputs("\r\033[K", stderr);
      std::fflush(stderr);
    };
  auto s = sweep(loaded->graph, loaded->target, *objectives, *points, loaded->label, progress);
  if (!s) return report(s.error());

  if (!args.svg.empty()) {
    Status w = write_file(args.svg, render_sweep_svg(*s));
    if (!w) return report(w.error());
  }
  const std::string out = args.json ? sweep_to_json(*s).dump(2) + "\n" : render_sweep_text(*s, args.markdown);
  std::fputs(out.c_str(), stdout);
  if (!args.svg.empty() && !args.json) std::fprintf(stdout, "wrote %s\n", args.svg.c_str());

  // Nothing feasible anywhere: explain the largest budget's failure, exit 2.
  bool any = false;
  for (const SweepSeries& se : s->series)
    for (const SweepPoint& p : se.points) any |= p.feasible;
  if (!any) {
    Expected<TileReport> r =
        tile_network(loaded->graph, loaded->target, points->back(), s->series[0].objective, loaded->label);
    if (!r) return report(r.error());
    std::fprintf(stderr,
                 "internal error (a bug in dory, please report it): the sweep found no feasible budget, "
                 "but the tiler plans the network at %s B\n",
                 format_bytes_grouped(points->back()).c_str());
    return 3;
  }
  return 0;
}

}  // namespace

std::function<int()> add_tile_command(CLI::App& app) {
  auto args = std::make_shared<TileArgs>();
  CLI::App* cmd = app.add_subcommand("tile", "per-layer L2->L1 tiling of a model: tiles, L1 use, DMA, modeled cycles");
  add_model_options(*cmd, args->model);
  cmd->add_option("--target", args->target, "target name (targets/NAME.json) or path to a target file")->required();
  cmd->add_option("--l1", args->l1, "L1 budget in bytes: 36700, 36k, 64KiB (default: the target's usable L1)");
  cmd->add_option("--objective", args->objective,
                  "model (minimize modeled latency), dory (DORY's heuristic), fill (largest tiles), or all")
      ->capture_default_str();
  cmd->add_flag("--json", args->json, "print JSON instead of a table");
  cmd->add_flag("--markdown", args->markdown, "print the table as markdown");
  return [args]() { return run_tile(*args); };
}

std::function<int()> add_sweep_command(CLI::App& app) {
  auto args = std::make_shared<SweepArgs>();
  CLI::App* cmd = app.add_subcommand("sweep", "modeled network latency against the L1 budget (table and SVG plot)");
  add_model_options(*cmd, args->model);
  cmd->add_option("--target", args->target, "target name (targets/NAME.json) or path to a target file")->required();
  cmd->add_option("--l1", args->l1,
                  "budgets LO:HI[:STEP]; STEP a size (linear) or xF (geometric); default: multiples of 4k when "
                  "HI <= 16 LO, else powers of two and their midpoints (128:128k -> 128, 192, 256, 384, ...)")
      ->capture_default_str();
  cmd->add_option("--objective", args->objective, "objectives: model, dory, fill, a comma-separated list, or all")
      ->capture_default_str();
  cmd->add_option("--svg", args->svg, "write the plot as SVG to FILE");
  cmd->add_flag("--json", args->json, "print JSON instead of a table");
  cmd->add_flag("--markdown", args->markdown, "print the table as markdown");
  return [args]() { return run_sweep(*args); };
}

}  // namespace dory::cli
