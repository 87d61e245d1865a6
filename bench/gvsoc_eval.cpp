// The DORY paper's evaluation executed on PULP-open under GVSoC (dory eval --platform gvsoc, eval/execute.h), as
// the paper's two exhibits:
//   Table 1 analog   per network, every mode executed at the target's L1 budget: cycles, latency, MAC/cycle/core,
//                    speedup over L2-direct, overhead over L1-resident on all, conv and FC layers, the model's
//                    cycles and error, and the executor's cycle split of the DORY (model) run;
//   Figure 3 analog  per network, MAC/cycle of the DORY modes (model, dory, fill) executed against the L1
//                    budget (tiled runs only), next to the model's.
// Measured numbers, not a test: the tables go to docs/results.md with the command printed above them. Every layer
// of every run is checked bit for bit against the reference executor (an error stops the benchmark).
//
//   gvsoc_eval [--network fmnist|resnet8|cifar10|FILE.onnx]... [--l1 B,B,...] [--no-sweep] [--svg-dir DIR]
//              [--target T]
// Defaults: the example network, ResNet-8 and the CIFAR-10 CNN, pulp-open, L1 sweep 8k,12k,16k,24k,35000. Needs
// GVSOC_INSTALL and the RISC-V toolchain (scripts/install-deps.sh --riscv --gvsoc).
#include <fmt/format.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "codegen/host_run.h"
#include "bench_networks.h"
#include "eval/execute.h"
#include "eval/model_error.h"
#include "onnx/frontend.h"
#include "report/eval_report.h"
#include "report/svg_plot.h"
#include "report/text_table.h"
#include "testnets/testnets.h"
#include "util/byte_size.h"

namespace {

using namespace dory;

using bench::Network;

std::string pct(double f) { return fmt::format("{:+.1f}%", 100 * f); }
std::string cyc(double c) { return format_bytes_grouped(static_cast<int64_t>(std::llround(c))); }

bool is_conv(KernelFamily f) {
  return f == KernelFamily::Conv || f == KernelFamily::Pointwise || f == KernelFamily::Depthwise;
}

// Sums of a mode's executed cycles (and its L1-resident reference) over the layers a predicate keeps.
struct Sum {
  int64_t cycles = 0, resident = 0;
  int layers = 0, compute_only = 0;
};
template <class Keep>
Sum sum(const NetworkEval& e, EvalMode m, Keep&& keep) {
  Sum s;
  for (size_t i = 0; i < e.layers.size(); ++i) {
    if (!keep(e.layers[i])) continue;
    const ExecutedLayer& x = e.executed->layers[i];
    if (!x.run(m).ran || !x.run(EvalMode::L1Resident).ran) continue;
    s.cycles += x.run(m).cycles;
    s.resident += x.run(EvalMode::L1Resident).cycles;
    s.compute_only += x.run(EvalMode::L1Resident).compute_only;
    ++s.layers;
  }
  return s;
}

std::string overhead(const Sum& s) {
  if (s.layers == 0 || s.resident <= 0) return "-";
  std::string t = pct(static_cast<double>(s.cycles) / static_cast<double>(s.resident) - 1);
  if (s.compute_only) t += fmt::format(" ({} c-o)", s.compute_only);
  return t;
}

TextTable table1(const NetworkEval& e) {
  TextTable t;
  t.header = {"mode",        "cycles",           "ms",           "MAC/cycle/core",        "speedup vs L2-direct",
              "vs L1-res: all", "vs L1-res: conv", "vs L1-res: FC", "modeled cycles", "model error"};
  t.right_aligned = {false, true, true, true, true, true, true, true, true, true};
  auto all = [](const LayerEval&) { return true; };
  auto conv = [](const LayerEval& l) { return is_conv(l.family); };
  auto fc = [](const LayerEval& l) { return l.family == KernelFamily::Fc; };
  const int64_t l2 = sum(e, EvalMode::L2Direct, all).cycles;
  for (EvalMode m : kAllEvalModes) {
    const Sum s = sum(e, m, all);
    if (s.layers == 0) continue;
    double modeled = 0;
    for (const ExecutedLayer& x : e.executed->layers) modeled += x.run(m).modeled_cycles;
    const double c = static_cast<double>(s.cycles);
    const bool ref = m == EvalMode::L1Resident;
    t.add({eval_mode_title(m), cyc(c), fmt::format("{:.3f}", latency_ms(e, c)),
           fmt::format("{:.3f}", macs_per_cycle(e.total_macs, c) / static_cast<double>(e.cores)),
           m == EvalMode::L2Direct ? "" : fmt::format("{:.2f}x", static_cast<double>(l2) / c),
           ref ? "" : overhead(s), ref ? "" : overhead(sum(e, m, conv)), ref ? "" : overhead(sum(e, m, fc)),
           cyc(modeled), pct(modeled / c - 1)});
  }
  return t;
}

struct SweepPoint {
  int64_t l1 = 0;
  std::array<double, kNumEvalModes> executed{}, modeled{};  // MAC/cycle of the whole cluster (NaN: not run)
  std::string failure;
};

int run(int argc, char** argv) {
  std::vector<std::string> names;
  std::vector<int64_t> budgets = {8 * 1024, 12 * 1024, 16 * 1024, 24 * 1024, 35000};
  bool sweep = true;
  std::string svg_dir, target_name = "pulp-open";
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--network" && i + 1 < argc) {
      names.push_back(argv[++i]);
    } else if (a == "--l1" && i + 1 < argc) {
      budgets.clear();
      std::string list = argv[++i];
      for (size_t at = 0; at <= list.size();) {
        const size_t comma = std::min(list.find(',', at), list.size());
        auto b = parse_byte_size(list.substr(at, comma - at), "--l1");
        if (!b) {
          std::fprintf(stderr, "%s\n", b.error().str().c_str());
          return 1;
        }
        budgets.push_back(*b);
        at = comma + 1;
      }
    } else if (a == "--no-sweep") {
      sweep = false;
    } else if (a == "--svg-dir" && i + 1 < argc) {
      svg_dir = argv[++i];
    } else if (a == "--target" && i + 1 < argc) {
      target_name = argv[++i];
    } else {
      std::fprintf(stderr,
                   "usage: gvsoc_eval [--network fmnist|resnet8|cifar10|FILE.onnx]... [--l1 B,B,...] [--no-sweep] "
                   "[--svg-dir DIR] [--target T]\n");
      return 1;
    }
  }
  if (names.empty()) names = {"fmnist", "resnet8", "cifar10"};
  auto target = find_target(target_name);
  if (!target) {
    std::fprintf(stderr, "%s\n", target.error().str().c_str());
    return 1;
  }
  std::string cmdline;
  for (int i = 0; i < argc; ++i) cmdline += (i ? " " : "") + std::string(argv[i]);
  std::printf("`%s` (%s, GVSoC from $GVSOC_INSTALL)\n", cmdline.c_str(), target->name.c_str());

  // One runtime for every run of the benchmark.
  char tmpl[] = "/tmp/dory-gvsoc-bench-XXXXXX";
  if (!mkdtemp(tmpl)) return 1;
  const std::string work = tmpl;
  std::fprintf(stderr, "compiling the PULP-open runtime ...\n");
  auto runtime = build_pulp_open_runtime(work + "/runtime");
  if (!runtime) {
    std::fprintf(stderr, "%s\n", runtime.error().str().c_str());
    return 1;
  }
  int failures = 0;
  for (const std::string& name : names) {
    auto net = bench::load_network(name);
    if (!net) {
      std::fprintf(stderr, "%s\n", net.error().str().c_str());
      return 1;
    }
    ExecuteOptions xo;
    xo.runtime = &*runtime;
    xo.progress = [&](const std::string& s) { std::fprintf(stderr, "%s: %s ...\n", name.c_str(), s.c_str()); };
    std::printf("\n### %s on %s\n\n", net->label.c_str(), target->name.c_str());
    std::printf("`dory eval %s --target %s --platform gvsoc --markdown`\n\n", net->command_path.c_str(),
                target->name.c_str());
    auto e = evaluate_network(net->graph, *target, {}, net->label);
    if (!e) {
      std::printf("not evaluated: %s\n", e.error().str().c_str());
      ++failures;
      continue;
    }
    auto x = execute_on_gvsoc(net->graph, *target, *e, xo);
    if (!x) {
      std::printf("not executed: %s\n", x.error().str().c_str());
      ++failures;
      continue;
    }
    e->executed = std::move(*x);
    std::printf(
        "Table 1 analog (executed; L1 budget %s B; \"c-o\": layers whose L1-resident time is compute-only):\n\n",
        format_bytes_grouped(e->l1_budget_bytes).c_str());
    std::printf("%s\n", render_markdown(table1(*e)).c_str());
    std::printf("Per layer, executed (Figure 3 analog at this budget):\n\n%s\n",
                render_markdown(eval_executed_side_by_side_table(*e)).c_str());
    std::printf("The model's error:\n\n%s\n", render_markdown(eval_model_error_table(*e)).c_str());
    std::printf("The DORY (model) run's cycle split (core 0):\n\n%s\n",
                render_markdown(eval_cycle_split_table(*e)).c_str());
    std::printf("Objective check:\n\n%s\n", render_markdown(eval_objective_check_table(*e)).c_str());
    std::printf("%s\n", executed_cycles_legend(*e).c_str());
    if (!sweep) continue;

    // Figure 3 analog: the DORY modes against the L1 budget.
    std::vector<SweepPoint> points;
    ExecuteOptions so = xo;
    so.cycle_split = false;
    so.modes = {false, false, true, true, true};
    for (int64_t l1 : budgets) {
      SweepPoint p;
      p.l1 = l1;
      p.executed.fill(std::nan(""));
      p.modeled.fill(std::nan(""));
      EvalOptions eo;
      eo.l1_budget_bytes = l1;
      auto se = evaluate_network(net->graph, *target, eo, net->label);
      if (se) {
        auto sx = execute_on_gvsoc(net->graph, *target, *se, so);
        if (sx) {
          for (EvalMode m : {EvalMode::Model, EvalMode::Dory, EvalMode::Fill}) {
            int64_t c = 0;
            double mc = 0;
            for (const ExecutedLayer& l : sx->layers) {
              c += l.run(m).cycles;
              mc += l.run(m).modeled_cycles;
            }
            p.executed[mode_index(m)] = macs_per_cycle(se->total_macs, static_cast<double>(c));
            p.modeled[mode_index(m)] = macs_per_cycle(se->total_macs, mc);
          }
        } else {
          p.failure = sx.error().code;
        }
      } else {
        p.failure = se.error().code;
      }
      points.push_back(p);
    }
    std::printf("Figure 3 analog: MAC/cycle (8 cores) of the network against the L1 budget, executed (modeled):\n\n");
    TextTable t;
    t.header = {"L1 B", "model", "dory", "fill", "note"};
    t.right_aligned = {true, true, true, true, false};
    for (const SweepPoint& p : points) {
      std::vector<std::string> row{format_bytes_grouped(p.l1)};
      for (EvalMode m : {EvalMode::Model, EvalMode::Dory, EvalMode::Fill}) {
        const double v = p.executed[mode_index(m)], mv = p.modeled[mode_index(m)];
        row.push_back(std::isnan(v) ? "-" : fmt::format("{:.3f} ({:.2f})", v, mv));
      }
      row.push_back(p.failure);
      t.add(std::move(row));
    }
    std::printf("%s\n", render_markdown(t).c_str());
    if (!svg_dir.empty()) {
      LinePlot plot;
      plot.title = fmt::format("{} on {} (GVSoC): MAC/cycle against the L1 budget, executed", net->label, target->name);
      plot.subtitle = "every layer of every run checked bit for bit against the reference executor";
      plot.x.label = "L1 budget (kB)";
      plot.y.label = "MAC/cycle (8 cores)";
      plot.y.include_zero = true;
      const std::vector<std::string>& pal = plot_palette();
      int k = 0;
      for (EvalMode m : {EvalMode::Model, EvalMode::Dory, EvalMode::Fill}) {
        PlotSeries s{std::string(eval_mode_title(m)) + " executed", {}, {}, pal[static_cast<size_t>(k)], true};
        for (const SweepPoint& p : points) {
          s.x.push_back(static_cast<double>(p.l1) / 1024.0);
          s.y.push_back(p.executed[mode_index(m)]);
        }
        plot.series.push_back(s);
        ++k;
      }
      const std::string file = svg_dir + "/" + name + "_gvsoc_l1_sweep.svg";
      std::ofstream(file) << render_svg(plot);
      std::printf("![%s](%s)\n\n", plot.title.c_str(), file.c_str());
    }
  }
  std::error_code ec;
  std::filesystem::remove_all(work, ec);
  return failures ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) { return run(argc, argv); }
