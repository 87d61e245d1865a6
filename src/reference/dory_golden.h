// DORY golden files: reading the text dumps DORY's flow ships with its examples, and checking dory's reference
// executor against them layer by layer.
//
// File format (see dory-examples/README.md): an optional first line naming the tensor, e.g.
//   # relu1 (shape [48, 80, 32]),          (some exports omit the '#' or end the line with '\')
// then the values, one per line: "36.000,", "0,\" or "-3277,". Values are integers written as decimals; any
// other text is an error naming the line. The header is advisory: it is recorded but never trusted (some
// exports repeat the first layer's shape in every file).
//
// The golden check (the order DORY's flow uses):
//   1. dir/input.txt is the network's single input, in HWC order [H, W, C] for a [1, C, H, W] input (options can
//      say CHW); it is converted to ONNX order and
//   2. run through the reference executor (run_dory_golden_check; check_dory_goldens takes a result already run);
//   3. dir/out_layer{i}.txt, i = 0, 1, ... (consecutive), are matched in order to the graph's layers that are not
//      Views (Flatten/Reshape are not DORY layers). A golden is paired with the next such layer whose output has
//      as many elements as the file has values; layers passed over are reported as unchecked, and so are the
//      trailing layers after the last golden (DORY leaves those to the host). Values are compared in HWC order
//      first, then CHW (real goldens use both); a file matches if one order matches every element. On a mismatch
//      the order with fewer differing elements is reported, with the first differing element: its index in the
//      file, its (h, w, c) coordinates, the expected (golden) and actual (dory) values.
//   4. dir/output.txt, if present, is compared with the graph's first output. When it differs and the graph
//      left a tail of the ONNX model to the host (Graph::notes), the file is reported as host-tail, not as a
//      failure: DORY's output.txt includes post-processing such as a Sigmoid that dory does not compute.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "ir/graph.h"
#include "reference/executor.h"
#include "util/diagnostic.h"

namespace dory {

struct DoryGoldenFile {
  std::string name;                                  // from the header; empty if there is none
  std::optional<std::vector<int64_t>> header_shape;  // as written in the header (advisory only)
  std::vector<int64_t> values;                       // in file order
};

// `origin` names the file in diagnostics ("golden-parse", with the line number).
Expected<DoryGoldenFile> parse_dory_golden(const std::string& text, const std::string& origin);
Expected<DoryGoldenFile> read_dory_golden(const std::string& path);

enum class GoldenOrder { HWC, CHW, Flat };  // Flat: both orders coincide (vectors, C == 1, or H*W == 1)
const char* golden_order_name(GoldenOrder o);

enum class GoldenStatus {
  Match,
  Mismatch,   // a layer with the right element count exists but its values differ
  NoLayer,    // no remaining layer (or output) has as many elements as the file
  HostTail,   // output.txt differs, and the graph leaves part of the ONNX model to the host
};
const char* golden_status_name(GoldenStatus s);

struct GoldenMismatch {
  int64_t index = 0;  // element index in the golden file
  int64_t h = 0, w = 0, c = 0;
  int64_t expected = 0;  // golden
  int64_t actual = 0;    // dory's reference
  int64_t differing = 0; // number of differing elements in the reported order
};

struct GoldenFileResult {
  std::string file;     // e.g. "out_layer3.txt"
  std::string header;   // the name the golden's header gives
  std::string layer;    // the IR layer compared with (empty for NoLayer; the output tensor for output.txt)
  std::string tensor;   // the layer's output tensor
  int64_t elements = 0; // values in the file
  GoldenStatus status = GoldenStatus::Match;
  GoldenOrder order = GoldenOrder::Flat;  // the order that matched, or the closer one on a mismatch
  std::optional<GoldenMismatch> first_mismatch;
  std::string note;     // extra explanation (skipped layers, host tail)
};

struct DoryGoldenReport {
  std::string dir;
  std::vector<GoldenFileResult> files;        // out_layer0.txt, ..., then output.txt if present
  std::vector<std::string> unchecked_layers;  // non-View layers that no golden was compared with
  bool ok() const;                            // no Mismatch and no NoLayer
  int failures() const;
};

struct DoryGoldenOptions {
  GoldenOrder input_order = GoldenOrder::HWC;  // order of input.txt for a [1, C, H, W] input
};

// Reads dir/input.txt as the graph's (single) input, in ONNX order.
Expected<std::vector<int32_t>> read_dory_golden_input(const Graph& g, const std::string& dir,
                                                      const DoryGoldenOptions& options = {});
// Compares the goldens in `dir` with a reference result (step 3 and 4 above).
Expected<DoryGoldenReport> check_dory_goldens(const Graph& g, const ReferenceResult& result, const std::string& dir);
// Steps 1-4: reads the input, runs the reference, compares.
Expected<DoryGoldenReport> run_dory_golden_check(const Graph& g, const std::string& dir,
                                                 const DoryGoldenOptions& options = {});

// One line per golden file, the first mismatch spelled out, then the unchecked layers and a verdict.
std::string render_dory_golden_report(const DoryGoldenReport& r);

}  // namespace dory
