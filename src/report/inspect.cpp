#include "report/inspect.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>

#include "util/byte_size.h"

namespace dory {
namespace {

InspectTensor describe(const Tensor& t) {
  InspectTensor d;
  d.name = t.name;
  d.shape = t.shape;
  d.dtype = dtype_name(t.dtype);
  d.range = t.range;
  d.zero_point = t.zero_point;
  d.scale = t.scale;
  d.layout = layout_name(t.layout);
  d.bytes = t.bytes();
  return d;
}

std::string operand_summary(const AddOperand& op, size_t i) {
  std::string x = op.zero_point ? fmt::format("(x{} - {})", i, op.zero_point) : fmt::format("x{}", i);
  std::string s = op.mul != 1 ? fmt::format("{}*{}", x, op.mul) : x;
  if (op.add) s += fmt::format(" + {}", op.add);
  if (op.divisor != 1)
    s = fmt::format("{}(({}) / {})", op.rounding == Rounding::Floor ? "floor" : "trunc", s, op.divisor);
  return s;
}

std::string requant_text(const Layer& l) {
  if (const auto* c = l.as<Conv2d>())
    return c->requant ? requant_summary(*c->requant) : "none: raw int32 accumulator";
  if (const auto* fc = l.as<FullyConnected>())
    return fc->requant ? requant_summary(*fc->requant) : "none: raw int32 accumulator";
  if (const auto* ap = l.as<AveragePool>())
    return fmt::format("acc = window mean ({}); {}", ap->count_include_pad ? "count includes padding" : "count "
                       "excludes padding", requant_summary(ap->requant));
  if (const auto* add = l.as<Add>()) {
    std::string terms;
    for (size_t i = 0; i < add->operands.size(); ++i)
      terms += (i ? " + " : "") + operand_summary(add->operands[i], i);
    return fmt::format("acc = {}; {}", terms, requant_summary(add->requant));
  }
  if (const auto* rq = l.as<Requantize>())
    return fmt::format("acc = x - {}; {}", rq->input_zero_point, requant_summary(rq->requant));
  return {};
}

// 1234567 -> "1,234,567".
std::string grouped(int64_t v) { return format_bytes_grouped(v); }

std::string window_text(const InspectLayer& l) {
  if (l.global_pool) return "global";
  if (!l.window) return "-";
  const Window& w = *l.window;
  std::string s = fmt::format("{}x{}", w.kh, w.kw);
  s += w.stride_h == w.stride_w ? fmt::format(" s{}", w.stride_h) : fmt::format(" s{}x{}", w.stride_h, w.stride_w);
  const Padding& p = w.pad;
  if (p.any())
    s += (p.top == p.left && p.left == p.bottom && p.bottom == p.right)
             ? fmt::format(" p{}", p.top)
             : fmt::format(" p{},{},{},{}", p.top, p.left, p.bottom, p.right);
  if (l.groups > 1) s += fmt::format(" g{}", l.groups);
  return s;
}

std::string range_text(const ValueRange& r) { return fmt::format("[{}, {}]", r.lo, r.hi); }

// Renders rows as columns padded to their widest cell; `right[i]` right-aligns column i. The last column is
// not padded.
std::string table(const std::vector<std::vector<std::string>>& rows, const std::vector<bool>& right) {
  std::vector<size_t> width(right.size(), 0);
  for (const auto& row : rows)
    for (size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      if (i) line += "  ";
      const bool last = i + 1 == row.size();
      if (right[i]) line += fmt::format("{:>{}}", row[i], width[i]);
      else line += last ? row[i] : fmt::format("{:<{}}", row[i], width[i]);
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + "\n";
  }
  return out;
}

std::string edge_text(const EdgeQuant& q) {
  if (q.scale.size() == 1) return fmt::format("scale {}, zero point {}", q.scale[0], q.zero_point[0]);
  return fmt::format("{} per-axis scales along axis {}", q.scale.size(), q.axis);
}

std::string tensor_line(const InspectTensor& t) {
  std::string s = fmt::format("'{}' {} {} {} ({} B, {})", t.name, shape_str(t.shape), t.dtype, range_text(t.range),
                              grouped(t.bytes), t.layout);
  if (t.zero_point) s += fmt::format(", zero point {}", t.zero_point);
  if (t.scale) s += fmt::format(", scale {}", *t.scale);
  return s;
}

nlohmann::json tensor_json(const InspectTensor& t) {
  nlohmann::json j = {{"name", t.name},
                      {"shape", t.shape},
                      {"dtype", t.dtype},
                      {"range", {t.range.lo, t.range.hi}},
                      {"zero_point", t.zero_point},
                      {"layout", t.layout},
                      {"bytes", t.bytes}};
  j["scale"] = t.scale ? nlohmann::json(*t.scale) : nlohmann::json(nullptr);
  if (t.edge)
    j["float_edge"] = {{"scale", t.edge->scale},
                       {"zero_point", t.edge->zero_point},
                       {"axis", t.edge->axis},
                       {"dtype", dtype_name(t.edge->dtype)}};
  return j;
}

}  // namespace

InspectReport inspect(const Graph& g) {
  InspectReport r;
  r.dialect = g.dialect;
  r.notes = g.notes;
  for (size_t i = 0; i < g.inputs.size(); ++i) {
    InspectTensor t = describe(g.tensor(g.inputs[i]));
    if (i < g.input_quant.size()) t.edge = g.input_quant[i];
    r.inputs.push_back(std::move(t));
  }
  for (size_t i = 0; i < g.outputs.size(); ++i) {
    InspectTensor t = describe(g.tensor(g.outputs[i]));
    if (i < g.output_dequant.size()) t.edge = g.output_dequant[i];
    r.outputs.push_back(std::move(t));
  }
  for (size_t i = 0; i < g.layers.size(); ++i) {
    const Layer& l = g.layers[i];
    InspectLayer d;
    d.index = static_cast<int>(i);
    d.name = l.name;
    d.kind = layer_kind_name(g, l);
    d.onnx_nodes = l.onnx_nodes;
    for (TensorId in : l.inputs) {
      d.inputs.push_back(describe(g.tensor(in)));
      d.activation_bytes_in += g.tensor(in).bytes();
    }
    d.output = describe(g.tensor(l.output));
    d.activation_bytes_out = g.tensor(l.output).bytes();
    if (const auto* c = l.as<Conv2d>()) {
      d.window = c->win;
      d.groups = c->groups;
    } else if (const auto* mp = l.as<MaxPool>()) {
      d.window = mp->win;
    } else if (const auto* ap = l.as<AveragePool>()) {
      d.window = ap->win;
      d.global_pool = ap->global;
    }
    d.macs = layer_macs(g, l);
    d.weight_bytes = layer_weight_bytes(g, l);
    d.requant = requant_text(l);
    r.total_macs += d.macs;
    r.total_weight_bytes += d.weight_bytes;
    r.layers.push_back(std::move(d));
  }
  r.peak_live_activation_bytes = peak_live_activation_bytes(g);
  return r;
}

std::string render_inspect_text(const InspectReport& r) {
  std::string out = fmt::format("dialect: {}; {} layers, {} input(s), {} output(s)\n\n",
                                r.dialect.empty() ? "(not set)" : r.dialect, r.layers.size(), r.inputs.size(),
                                r.outputs.size());
  std::vector<std::vector<std::string>> rows;
  rows.push_back({"#", "layer", "kind", "input", "output", "window", "MACs", "weight B", "act in B", "act out B",
                  "out dtype", "out range"});
  for (const InspectLayer& l : r.layers) {
    std::string in;
    for (size_t i = 0; i < l.inputs.size(); ++i) in += (i ? " + " : "") + shape_str(l.inputs[i].shape);
    rows.push_back({std::to_string(l.index), l.name, l.kind, in, shape_str(l.output.shape), window_text(l),
                    grouped(l.macs), grouped(l.weight_bytes), grouped(l.activation_bytes_in),
                    grouped(l.activation_bytes_out), l.output.dtype, range_text(l.output.range)});
  }
  rows.push_back({"", "total", "", "", "", "", grouped(r.total_macs), grouped(r.total_weight_bytes), "", "", "", ""});
  out += table(rows, {true, false, false, false, false, false, true, true, true, true, false, false});

  out += fmt::format("\npeak live activations: {} B\n", grouped(r.peak_live_activation_bytes));
  bool any_requant = false;
  for (const InspectLayer& l : r.layers) any_requant |= !l.requant.empty();
  if (any_requant) {
    out += "\nrequantization (y from the int32 accumulator acc):\n";
    for (const InspectLayer& l : r.layers)
      if (!l.requant.empty()) out += fmt::format("  {:>3} {}: {}\n", l.index, l.name, l.requant);
  }
  out += "\ninputs:\n";
  for (const InspectTensor& t : r.inputs) {
    out += "  " + tensor_line(t) + "\n";
    if (t.edge) out += fmt::format("      float in ONNX, quantized on the host: {}\n", edge_text(*t.edge));
  }
  out += "outputs:\n";
  for (const InspectTensor& t : r.outputs) {
    out += "  " + tensor_line(t) + "\n";
    if (t.edge) out += fmt::format("      dequantized to float in ONNX: {}\n", edge_text(*t.edge));
  }
  if (!r.notes.empty()) {
    out += "notes:\n";
    for (const std::string& n : r.notes) out += "  - " + n + "\n";
  }
  return out;
}

nlohmann::json inspect_to_json(const InspectReport& r) {
  nlohmann::json layers = nlohmann::json::array();
  for (const InspectLayer& l : r.layers) {
    nlohmann::json j = {{"index", l.index},
                        {"name", l.name},
                        {"kind", l.kind},
                        {"onnx_nodes", l.onnx_nodes},
                        {"output", tensor_json(l.output)},
                        {"macs", l.macs},
                        {"weight_bytes", l.weight_bytes},
                        {"activation_bytes_in", l.activation_bytes_in},
                        {"activation_bytes_out", l.activation_bytes_out}};
    j["inputs"] = nlohmann::json::array();
    for (const InspectTensor& t : l.inputs) j["inputs"].push_back(tensor_json(t));
    if (l.window) {
      const Window& w = *l.window;
      j["window"] = {{"kernel", {w.kh, w.kw}},
                     {"stride", {w.stride_h, w.stride_w}},
                     {"pads", {w.pad.top, w.pad.left, w.pad.bottom, w.pad.right}},
                     {"global", l.global_pool}};
      j["groups"] = l.groups;
    }
    j["requant"] = l.requant.empty() ? nlohmann::json(nullptr) : nlohmann::json(l.requant);
    layers.push_back(std::move(j));
  }
  nlohmann::json inputs = nlohmann::json::array(), outputs = nlohmann::json::array();
  for (const InspectTensor& t : r.inputs) inputs.push_back(tensor_json(t));
  for (const InspectTensor& t : r.outputs) outputs.push_back(tensor_json(t));
  return {{"dialect", r.dialect},
          {"notes", r.notes},
          {"inputs", inputs},
          {"outputs", outputs},
          {"layers", layers},
          {"totals",
           {{"macs", r.total_macs},
            {"weight_bytes", r.total_weight_bytes},
            {"peak_live_activation_bytes", r.peak_live_activation_bytes}}}};
}

}  // namespace dory
