// The report of `dory eval` (eval/eval.h): a network's modeled cost under every execution mode, per layer and in
// total, as aligned text, markdown or JSON.
//
// Side-by-side table: one row per layer (and the network), the modes as columns: cycles, then MAC/cycle of the
// whole cluster (the paper's Figure 3 analog); note "L1-res: bound" as below.
// Per-layer table: one row per (layer, mode), the rows of a layer together, then the network's rows. Columns:
//   cycles        modeled cycles of the layer in that mode (cluster clock)
//   MAC/cyc       MACs / cycles, whole cluster ('-' for pool and add layers, which have no MACs)
//   /core         MAC/cyc / cores
//   vs L1         cycles / L1-resident cycles - 1 (the overhead of not having everything in L1)
//   vs L2         L2-direct cycles / cycles (the speedup over executing from L2)
//   ms            cycles at the target's clock
//   uJ            energy (eval.h energy_of, docs/targets.md "Energy")
//   source        "modeled" for every number of the row (nothing here is executed)
//   note          l1-resident: "bound" when the whole layer does not fit the L1 budget (the number is the
//                 compute-only lower bound); l2-direct: "port" when the L2 port bandwidth, not the load latency,
//                 limits; DORY modes: the tile count.
// Network table (the paper's Table 1 analog): per mode latency (ms), energy (uJ), MAC/cycle, MAC/cycle/core, the
// overhead vs L1-resident, the speedup and the energy ratio vs L2-direct.
// Executed table (only after `dory eval --platform qemu`): eval_executed_table.
// Executed cycles (only after `dory eval --platform gvsoc`): the eval_executed_*, eval_model_*, eval_cycle_split
// and eval_objective_check tables below; every column says whether it is executed or modeled.
#pragma once

#include <string>

#include <nlohmann/json_fwd.hpp>

#include "eval/eval.h"
#include "report/text_table.h"

namespace dory {

// The header, the side-by-side table, the per-layer table, the network table and a legend.
std::string render_eval_text(const NetworkEval& e, bool markdown = false);

// The two tables as rows of strings (the text, markdown and HTML reports render these same rows). In both, the
// column "source" says where the row's numbers come from.
TextTable eval_side_by_side_table(const NetworkEval& e);
TextTable eval_layer_table(const NetworkEval& e);
TextTable eval_network_table(const NetworkEval& e);
// The executed counts (e.executed, eval/execute.h), one row per layer and the network: L2-direct instructions,
// DORY (model) instructions, of which DMA copies, DORY core instructions (without the copies a chip's DMA engine
// makes), the L2-direct / DORY-core ratio; source "executed". Requires e.executed.
TextTable eval_executed_table(const NetworkEval& e);
// The paragraph that says what the executed table measures (platform, passes, what is not measured).
std::string executed_legend(const NetworkEval& e);

// ---- executed cycles (e.executed with ExecutedMeasure::Cycles: dory eval --platform gvsoc) ----
// Per layer (and the network) the executed cycles and MAC/cycle of every mode side by side (Figure 3 analog,
// executed); notes: "compute-only" (L1-resident of a layer that does not fit L1 whole), "fallback" (L2-direct ran
// tiled), "same plans" (an objective whose plans are dory-model's).
TextTable eval_executed_side_by_side_table(const NetworkEval& e);
// One row per (layer, mode) and the network's rows: executed cycles, the model's cycles for what ran, the error
// (modeled / executed - 1), executed and modeled MAC/cycle, tiles, note.
TextTable eval_model_vs_executed_table(const NetworkEval& e);
// The network per mode (Table 1 analog, executed): executed cycles, ms, MAC/cycle, MAC/cycle/core, overhead vs
// L1-resident and speedup vs L2-direct (both executed), the modeled cycles and the error.
TextTable eval_executed_network_table(const NetworkEval& e);
// Per mode: layers compared, mean absolute and mean signed per-layer error, the worst layer and its error, the
// network's error (eval/model_error.h).
TextTable eval_model_error_table(const NetworkEval& e);
// The executor's cycle split of the dory-model tiling, per layer: the executed cycles (slowest core) without and
// with the split's reads, core 0's compute, DMA wait, DMA issue, barrier and bookkeeping cycles and their sum, the
// DMA's exposed share, the spread of compute over the cores, and the model's compute, issue and DMA stall.
// Requires e.executed->cycle_split.
TextTable eval_cycle_split_table(const NetworkEval& e);
// Per layer: the executed cycles of the three objectives' tilings ("(=)": the same tiling as model's, not
// compared), the model's tiling against the best other tiling, and whether it loses (beyond kObjectiveTolerance:
// eval/model_error.h objective_losses).
TextTable eval_objective_check_table(const NetworkEval& e);
// What the executed-cycles tables measure: the platform, the runs, the kernels, what "compute-only" means.
std::string executed_cycles_legend(const NetworkEval& e);

// Stable keys: model, target, clock_hz, cores, l1_budget_bytes, l1_usable_bytes, l2_scratch, source, modes (names),
// layers[] {index, name, kind, family, macs, fits_l1, whole_layer_l1_bytes, l2_port_bound, modes {<mode name>:
// metrics}}, network {macs, layers_exceeding_l1, modes {<mode name>: metrics}}; metrics: cycles, macs_per_cycle,
// macs_per_cycle_per_core, overhead_vs_l1_resident, speedup_vs_l2_direct, latency_ms, energy_uj, energy_pj
// {idle, active, dma, core_l2}, active_core_cycles, dma_bytes, core_l2_bytes, stall_cycles, tiles, source;
// with e.executed also executed {platform, source "executed", measure "instructions"|"cycles", ...}:
//   instructions (qemu): layers[] {index, name, l2_direct_instructions, tiled_instructions,
//     tiled_dma_instructions, tiled_core_instructions, l2_direct_fallback}, network {the sums};
//   cycles (gvsoc): cycle_split, layers[] {index, name, kernel, modes {<mode name>: run}, split (null, or
//     {objective "model", cores[] {compute, dma_wait, dma_issue, barrier, other, total}, instrumented_cycles,
//     modeled {compute, issue, stall}})},
//     network {modes {<mode name>: {cycles, modeled_cycles, error, macs_per_cycle, macs_per_cycle_per_core,
//     layers}}}, model_error[] {mode, layers, mean_abs, mean_signed, worst_abs, worst_error, worst_layer,
//     network_error}, objective_losses[] {index, name, model_cycles, best_cycles, best, loss}; run: ran, cycles,
//     instructions, tiles, modeled_cycles, error, macs_per_cycle, fallback, compute_only, reused, source.
nlohmann::json eval_to_json(const NetworkEval& e);

}  // namespace dory
