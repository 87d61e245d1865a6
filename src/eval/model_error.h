// The model against what ran: for an evaluation whose network was executed with cycle counts (`dory eval
// --platform gvsoc`, eval/execute.h), the error of the model per layer and mode, its summary per mode, the check
// that the `model` objective's tilings are the fastest when executed, and the CI bound on the error.
//
// Error of a layer in a mode: modeled / executed - 1 (ExecutedRun::error; +0.10 = the model predicts 10 % more
// cycles than ran, -0.50 = half of them). The modeled number is the model's for exactly what ran
// (ExecutedRun::modeled_cycles). Layers that did not run the mode as such are left out of that mode's summary:
// an L2-direct fallback (the layer ran tiled in that pass). Compute-only L1-resident layers are compared with the
// model's compute-only cycles of the same tiles, so they count.
//
// The "objective is right when executed" check (issue 14, section 3): for every layer, the tiling of `model` must
// execute no slower than those of `dory` and `fill`, beyond a tolerance (1 %); where it does, the model misjudged
// that layer.
#pragma once

#include <string>
#include <vector>

#include "eval/eval.h"
#include "util/diagnostic.h"

namespace dory {

struct ModeErrorSummary {
  EvalMode mode = EvalMode::Model;
  int layers = 0;                 // layers compared (ran, not a fallback)
  double mean_abs = 0;            // mean over those layers of |error| (the MAPE, as a fraction)
  double mean_signed = 0;         // mean of the signed errors (a model that is off by a constant factor shows it)
  double worst_abs = 0;           // the largest |error|
  std::string worst_layer;        // its layer
  double worst_error = 0;         // its signed error
  int64_t executed_cycles = 0;    // the network: sum over the compared layers
  double modeled_cycles = 0;      // the model's sum over the same layers
  double network_error() const {  // the network's error: modeled / executed - 1 over those layers
    return executed_cycles > 0 ? modeled_cycles / static_cast<double>(executed_cycles) - 1 : 0;
  }
};

// One summary per mode that ran (in kAllEvalModes order). Requires e.executed with ExecutedMeasure::Cycles.
std::vector<ModeErrorSummary> model_error_summary(const NetworkEval& e);

// Whether objective o tiles layer e.layers[i] as `model` does (same tile shape and buffering).
bool same_layer_tiling(const NetworkEval& e, size_t i, Objective o);

// Layers whose `model` tiling executes slower than the best of `dory` and `fill` by more than `tolerance`. An
// objective that tiles the layer as `model` does is not compared (its run differs only by where the code and data
// landed in another build: GVSoC's cycles move by a few percent with placement).
struct ObjectiveLoss {
  int layer_index = -1;
  std::string layer;
  int64_t model_cycles = 0;   // executed, objective model
  int64_t best_cycles = 0;    // executed, the faster of dory and fill
  EvalMode best = EvalMode::Dory;
  double loss() const {       // model / best - 1
    return best_cycles > 0 ? static_cast<double>(model_cycles) / static_cast<double>(best_cycles) - 1 : 0;
  }
};
inline constexpr double kObjectiveTolerance = 0.01;
std::vector<ObjectiveLoss> objective_losses(const NetworkEval& e, double tolerance = kObjectiveTolerance);

// The CI bound: an error "eval-model-error" (exit code 1) naming every mode (of `modes`; empty: every mode that
// ran) whose mean absolute per-layer error exceeds max_mean_abs (a fraction; < 0: not checked), or whose worst
// layer exceeds max_worst_abs (< 0: not checked), with the numbers; ok otherwise. Requires e.executed with cycles
// ("eval-not-executed" otherwise).
Status check_model_error(const NetworkEval& e, double max_mean_abs, double max_worst_abs = -1,
                         const std::vector<EvalMode>& modes = {});

}  // namespace dory
