// The HTML report of `dory eval --report FILE.html`: one self-contained page (inline CSS and SVG; no external
// resource, no JavaScript library, no network access) that a browser shows offline.
//
// Sections, each an element with a stable id (the tests look them up):
//   #summary          model, target, L1 budget, and that every number is modeled
//   #network-summary  table #network-table: the network under every mode (the paper's Table 1 analog)
//   #layers           table #side-by-side-table: per layer the modes' cycles and MAC/cycle side by side, and
//                     table #eval-table: one row per (layer, mode) with every metric, as `dory eval` prints them
//   #mac-chart        grouped bars: MAC/cycle of every MAC layer (and the network) per mode (Figure 3 analog)
//   #l1-maps          per planned layer an SVG #l1-map-<layer index>: the L1 layout (l1_layout.h) under each DORY
//                     objective, one horizontal bar per objective spanning the L1 budget, one segment per buffer
//                     copy at its offset, labelled, with the sizes written under the bar
//   #l2-occupancy     SVG #l2-map: the static L2 plan of the activations (memplan.h, planned as the code
//                     generator does it: constants first) as a memory map, steps (layers) on x, addresses on y,
//                     one rectangle per storage class over its live steps, and live_bytes_per_step as a line
//   #executed         (after `dory eval --platform qemu`) table #executed-table of retired instructions; (after
//                     `--platform gvsoc`) tables #executed-network-table, #model-error-table,
//                     #executed-side-by-side-table, #model-vs-executed-table, #cycle-split-table,
//                     #objective-check-table and the SVG #executed-mac-chart (executed bars, modeled ticks)
//   #gantt            SVG #gantt-chart: the modeled DMA-in / compute / DMA-out events (layer_timeline) of the
//                     first tiles of one layer under the `model` objective
// Every number is labelled modeled or executed (class "modeled"/"executed", data-source=...; per column where a
// table puts both side by side: TextTable::column_source). All text is escaped. A tiny inline
// script records script errors of the page into the attribute data-errors of <html> and sets data-loaded="1"
// once the page has been parsed, so a headless browser's DOM dump shows whether it loaded cleanly.
#pragma once

#include <cstdint>
#include <string>

#include "eval/eval.h"
#include "ir/graph.h"
#include "target/target.h"
#include "util/diagnostic.h"

namespace dory {

struct HtmlReportOptions {
  std::string gantt_layer;  // the layer of the Gantt chart; empty: the layer with the most tiles (model)
  int64_t gantt_tiles = 8;  // tiles (slots) shown, >= 1
};

// The page. Fails with "cli-unknown-layer" (exit code 1; the message lists the layers) when gantt_layer names no
// planned layer.
Expected<std::string> render_html_report(const Graph& g, const Target& target, const NetworkEval& e,
                                         const HtmlReportOptions& options = {});

// The index (in NetworkEval::layers) of the Gantt chart's layer: gantt_layer by name, else the layer with the
// most tiles under the model objective (the first of equals).
Expected<size_t> gantt_layer_index(const NetworkEval& e, const std::string& gantt_layer);

}  // namespace dory
