#include "eval/model_error.h"

#include <algorithm>

#include <fmt/format.h>

#include <cmath>

namespace dory {

std::vector<ModeErrorSummary> model_error_summary(const NetworkEval& e) {
  DORY_CHECK(e.executed && e.executed->measure == ExecutedMeasure::Cycles,
             "model_error_summary without executed cycles");
  std::vector<ModeErrorSummary> out;
  for (EvalMode m : kAllEvalModes) {
    ModeErrorSummary s;
    s.mode = m;
    double sum_abs = 0, sum = 0;
    for (size_t i = 0; i < e.executed->layers.size() && i < e.layers.size(); ++i) {
      const ExecutedRun& r = e.executed->layers[i].run(m);
      if (!r.ran || r.fallback || r.cycles <= 0) continue;
      const double err = r.error();
      ++s.layers;
      sum_abs += std::abs(err);
      sum += err;
      s.executed_cycles += r.cycles;
      s.modeled_cycles += r.modeled_cycles;
      if (s.worst_layer.empty() || std::abs(err) > s.worst_abs) {
        s.worst_abs = std::abs(err);
        s.worst_error = err;
        s.worst_layer = e.layers[i].layer;
      }
    }
    if (s.layers == 0) continue;
    s.mean_abs = sum_abs / s.layers;
    s.mean_signed = sum / s.layers;
    out.push_back(std::move(s));
  }
  return out;
}

bool same_layer_tiling(const NetworkEval& e, size_t i, Objective o) {
  const std::vector<TilePlan>&a = e.plans_of(Objective::Model), &b = e.plans_of(o);
  if (i >= a.size() || i >= b.size()) return false;
  return a[i].shape == b[i].shape && a[i].buffering == b[i].buffering;
}

std::vector<ObjectiveLoss> objective_losses(const NetworkEval& e, double tolerance) {
  DORY_CHECK(e.executed && e.executed->measure == ExecutedMeasure::Cycles, "objective_losses without executed cycles");
  std::vector<ObjectiveLoss> out;
  for (size_t i = 0; i < e.executed->layers.size() && i < e.layers.size(); ++i) {
    const ExecutedLayer& x = e.executed->layers[i];
    const ExecutedRun& m = x.run(EvalMode::Model);
    if (!m.ran || m.cycles <= 0) continue;
    ObjectiveLoss l;
    l.layer_index = e.layers[i].layer_index;
    l.layer = e.layers[i].layer;
    l.model_cycles = m.cycles;
    for (EvalMode o : {EvalMode::Dory, EvalMode::Fill}) {
      const ExecutedRun& r = x.run(o);
      if (same_layer_tiling(e, i, eval_mode_objective(o))) continue;  // the same tiling: the difference is noise
      if (r.ran && r.cycles > 0 && (l.best_cycles == 0 || r.cycles < l.best_cycles)) {
        l.best_cycles = r.cycles;
        l.best = o;
      }
    }
    if (l.best_cycles > 0 && l.loss() > tolerance) out.push_back(std::move(l));
  }
  return out;
}

Status check_model_error(const NetworkEval& e, double max_mean_abs, double max_worst_abs,
                         const std::vector<EvalMode>& modes) {
  if (!e.executed || e.executed->measure != ExecutedMeasure::Cycles)
    return make_error("eval-not-executed", "--max-model-error",
                      "the model's error needs executed cycles, and this evaluation executed none",
                      "add --platform gvsoc (PULP-open on the GVSoC virtual platform)");
  std::string failures;
  for (const ModeErrorSummary& s : model_error_summary(e)) {
    if (!modes.empty() && std::find(modes.begin(), modes.end(), s.mode) == modes.end()) continue;
    if (max_mean_abs >= 0 && s.mean_abs > max_mean_abs)
      failures += fmt::format("{}{}: mean absolute per-layer error {:.1f} % over {} layers exceeds {:.1f} %",
                              failures.empty() ? "" : "; ", eval_mode_name(s.mode), 100 * s.mean_abs, s.layers,
                              100 * max_mean_abs);
    if (max_worst_abs >= 0 && s.worst_abs > max_worst_abs)
      failures += fmt::format("{}{}: layer '{}' is off by {:+.1f} %, more than {:.1f} %", failures.empty() ? "" : "; ",
                              eval_mode_name(s.mode), s.worst_layer, 100 * s.worst_error, 100 * max_worst_abs);
  }
  if (failures.empty()) return ok_status();
  return make_error("eval-model-error", fmt::format("{} on {}", e.model, e.target),
                    fmt::format("the cost model is off from what executed on {}: {}", e.executed->platform, failures),
                    "calibrate the target's cost model (docs/cost-model.md) against these executed cycles, or "
                    "raise the bound");
}

}  // namespace dory
