#include "reference/dory_golden.h"

#include <fmt/format.h>

#include <cctype>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <regex>

#include "ir/layout.h"
#include "util/byte_size.h"
#include "util/npy.h"

namespace dory {
namespace {

namespace fs = std::filesystem;

std::string trim(const std::string& s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return s.substr(b, e - b);
}

// Splits a value line into its tokens: values are separated by ',' or blanks; a trailing '\' continues the line.
std::vector<std::string> value_tokens(const std::string& line) {
  std::vector<std::string> tokens;
  std::string cur;
  for (char ch : line) {
    if (ch == ',' || ch == '\\' || std::isspace(static_cast<unsigned char>(ch))) {
      if (!cur.empty()) tokens.push_back(std::move(cur));
      cur.clear();
    } else {
      cur += ch;
    }
  }
  if (!cur.empty()) tokens.push_back(std::move(cur));
  return tokens;
}

// Parses a decimal that must hold an integer ("36.000", "-3277"); nullopt otherwise.
std::optional<int64_t> parse_integer_token(const std::string& tok) {
  const char* begin = tok.c_str();
  char* end = nullptr;
  const double v = std::strtod(begin, &end);
  if (end == begin || *end != '\0' || !std::isfinite(v) || v != std::floor(v) || std::fabs(v) > 9.0e15)
    return std::nullopt;
  return static_cast<int64_t>(v);
}

bool is_value_line(const std::string& line) {
  const auto tokens = value_tokens(line);
  if (tokens.empty()) return false;
  for (const auto& t : tokens) {
    const char* b = t.c_str();
    char* e = nullptr;
    std::strtod(b, &e);
    if (e == b || *e != '\0') return false;
  }
  return true;
}

// "# relu1 (shape [48, 80, 32]),\" -> name "relu1", shape {48, 80, 32}.
void parse_header(const std::string& line, DoryGoldenFile& f) {
  std::string s = trim(line);
  if (!s.empty() && s[0] == '#') s = trim(s.substr(1));
  const size_t paren = s.find("(shape");
  if (paren == std::string::npos) {
    while (!s.empty() && (s.back() == ',' || s.back() == '\\' || std::isspace(static_cast<unsigned char>(s.back()))))
      s.pop_back();
    f.name = s;
    return;
  }
  f.name = trim(s.substr(0, paren));
  const size_t open = s.find('[', paren), close = s.find(']', paren);
  if (open == std::string::npos || close == std::string::npos || close < open) return;
  std::vector<int64_t> shape;
  for (const auto& tok : value_tokens(s.substr(open + 1, close - open - 1))) {
    auto v = parse_integer_token(tok);
    if (!v) return;
    shape.push_back(*v);
  }
  f.header_shape = std::move(shape);
}

struct Dims {
  bool map = false;  // a [1, C, H, W] feature map with distinct HWC and CHW orders
  int64_t C = 1, H = 1, W = 1;
};

Dims dims_of(const Tensor& t) {
  Dims d;
  if (t.shape.size() == 4 && t.shape[0] == 1) {
    d.C = t.shape[1], d.H = t.shape[2], d.W = t.shape[3];
    d.map = d.C > 1 && d.H * d.W > 1;
  } else {
    d.C = t.elements();
  }
  return d;
}

// ONNX (CHW) order -> HWC order.
std::vector<int32_t> chw_to_hwc(const std::vector<int32_t>& chw, const Dims& d) {
  std::vector<int32_t> hwc(chw.size());
  for (int64_t i = 0; i < static_cast<int64_t>(chw.size()); ++i)
    hwc[static_cast<size_t>(chw_to_hwc_index(i, d.C, d.H, d.W))] = chw[static_cast<size_t>(i)];
  return hwc;
}

GoldenMismatch locate(int64_t k, GoldenOrder order, const Dims& d) {
  GoldenMismatch m;
  m.index = k;
  if (order == GoldenOrder::CHW) {
    m.c = k / (d.H * d.W), m.h = (k / d.W) % d.H, m.w = k % d.W;
  } else {  // HWC, or Flat (where both orders coincide, so HWC coordinates are right)
    m.h = k / (d.W * d.C), m.w = (k / d.C) % d.W, m.c = k % d.C;
  }
  return m;
}

// Compares a golden with a tensor's ONNX-order values in HWC then CHW order; fills status/order/first_mismatch.
void compare(const DoryGoldenFile& golden, const Tensor& t, const std::vector<int32_t>& onnx, GoldenFileResult& r) {
  const Dims d = dims_of(t);
  struct Attempt {
    GoldenOrder order;
    int64_t differing = 0;
    std::optional<GoldenMismatch> first;
  };
  auto attempt = [&](GoldenOrder order, const std::vector<int32_t>& actual) {
    Attempt a{order, 0, std::nullopt};
    for (size_t k = 0; k < actual.size(); ++k)
      if (actual[k] != golden.values[k]) {
        if (!a.first) {
          a.first = locate(static_cast<int64_t>(k), order, d);
          a.first->expected = golden.values[k];
          a.first->actual = actual[k];
        }
        ++a.differing;
      }
    return a;
  };
  Attempt best = attempt(d.map ? GoldenOrder::HWC : GoldenOrder::Flat, d.map ? chw_to_hwc(onnx, d) : onnx);
  if (best.differing && d.map) {
    Attempt chw = attempt(GoldenOrder::CHW, onnx);
    if (chw.differing < best.differing) best = chw;
  }
  r.order = best.order;
  r.status = best.differing ? GoldenStatus::Mismatch : GoldenStatus::Match;
  if (best.first) {
    r.first_mismatch = best.first;
    r.first_mismatch->differing = best.differing;
  }
}

std::string grouped(int64_t v) { return format_bytes_grouped(v); }

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + ("'" + v[i] + "'");
  return s;
}

}  // namespace

const char* golden_order_name(GoldenOrder o) {
  switch (o) {
    case GoldenOrder::HWC: return "HWC";
    case GoldenOrder::CHW: return "CHW";
    case GoldenOrder::Flat: return "flat";
  }
  return "?";
}

const char* golden_status_name(GoldenStatus s) {
  switch (s) {
    case GoldenStatus::Match: return "match";
    case GoldenStatus::Mismatch: return "MISMATCH";
    case GoldenStatus::NoLayer: return "NO LAYER";
    case GoldenStatus::HostTail: return "host tail";
  }
  return "?";
}

bool DoryGoldenReport::ok() const { return failures() == 0; }

int DoryGoldenReport::failures() const {
  int n = 0;
  for (const auto& f : files) n += f.status == GoldenStatus::Mismatch || f.status == GoldenStatus::NoLayer;
  return n;
}

Expected<DoryGoldenFile> parse_dory_golden(const std::string& text, const std::string& origin) {
  DoryGoldenFile f;
  size_t pos = 0;
  int line_no = 0;
  bool seen_content = false;
  while (pos <= text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string::npos) nl = text.size();
    std::string line = text.substr(pos, nl - pos);
    pos = nl + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const std::string t = trim(line);
    if (t.empty() || t == "\\") continue;
    if (!seen_content) {
      seen_content = true;
      if (!is_value_line(t)) {
        parse_header(t, f);
        continue;
      }
    }
    if (t[0] == '#') continue;  // a comment
    for (const std::string& tok : value_tokens(t)) {
      auto v = parse_integer_token(tok);
      if (!v)
        return make_error("golden-parse", fmt::format("file '{}', line {}", origin, line_no),
                          fmt::format("'{}' is not an integer value; DORY golden files hold one integer per line "
                                      "(e.g. \"36.000,\")",
                                      tok));
      f.values.push_back(*v);
    }
  }
  return f;
}

Expected<DoryGoldenFile> read_dory_golden(const std::string& path) {
  DORY_TRY(std::string text, read_file_bytes(path));
  return parse_dory_golden(text, path);
}

Expected<std::vector<int32_t>> read_dory_golden_input(const Graph& g, const std::string& dir,
                                                      const DoryGoldenOptions& options) {
  const std::string path = (fs::path(dir) / "input.txt").string();
  if (g.inputs.size() != 1)
    return make_error("golden-input", fmt::format("file '{}'", path),
                      fmt::format("DORY goldens describe a network with one input; this one has {}", g.inputs.size()));
  if (!fs::exists(path))
    return make_error("golden-input", fmt::format("directory '{}'", dir), "has no input.txt",
                      "the golden directory must hold DORY's input.txt and out_layer{i}.txt files");
  DORY_TRY(DoryGoldenFile f, read_dory_golden(path));
  const Tensor& t = g.tensor(g.inputs[0]);
  if (static_cast<int64_t>(f.values.size()) != t.elements())
    return make_error("golden-input", fmt::format("file '{}'", path),
                      fmt::format("has {} values; input '{}' of shape {} has {} elements", f.values.size(), t.name,
                                  shape_str(t.shape), t.elements()));
  for (size_t i = 0; i < f.values.size(); ++i)
    if (!t.range.contains(f.values[i]))
      return make_error("golden-input", fmt::format("file '{}'", path),
                        fmt::format("value {} is {}, outside the range [{}, {}] of input '{}' ({})", i, f.values[i],
                                    t.range.lo, t.range.hi, t.name, dtype_name(t.dtype)),
                        "for a signed input use --input-type int8");
  const Dims d = dims_of(t);
  std::vector<int32_t> onnx(f.values.size());
  for (size_t i = 0; i < f.values.size(); ++i) {
    // Element i of the file, in HWC order, is ONNX element (c, h, w).
    const int64_t k = static_cast<int64_t>(i);
    const int64_t dst = options.input_order == GoldenOrder::HWC && d.map
                            ? (k % d.C) * d.H * d.W + k / d.C
                            : k;
    onnx[static_cast<size_t>(dst)] = static_cast<int32_t>(f.values[i]);
  }
  return onnx;
}

Expected<DoryGoldenReport> check_dory_goldens(const Graph& g, const ReferenceResult& result, const std::string& dir) {
  DoryGoldenReport report;
  report.dir = dir;
  // The golden layer files present, by index.
  std::map<int, std::string> layer_files;
  std::error_code ec;
  fs::directory_iterator it(dir, ec);
  if (ec)
    return make_error("golden-dir", fmt::format("directory '{}'", dir), fmt::format("cannot be read: {}", ec.message()));
  static const std::regex kLayerFile(R"(out_layer(\d+)\.txt)");
  for (const auto& entry : it) {
    std::smatch m;
    const std::string name = entry.path().filename().string();
    if (std::regex_match(name, m, kLayerFile)) layer_files[std::stoi(m[1].str())] = entry.path().string();
  }
  const bool has_output = fs::exists(fs::path(dir) / "output.txt");
  if (layer_files.empty() && !has_output)
    return make_error("golden-dir", fmt::format("directory '{}'", dir), "holds no out_layer{i}.txt or output.txt");
  int expect = 0;
  for (const auto& [i, path] : layer_files) {
    if (i != expect)
      return make_error("golden-dir", fmt::format("directory '{}'", dir),
                        fmt::format("has out_layer{}.txt but no out_layer{}.txt; DORY numbers its layers "
                                    "consecutively from 0",
                                    i, expect));
    ++expect;
  }

  std::vector<int> candidates;  // layers DORY would have a golden for: everything but views
  for (size_t i = 0; i < g.layers.size(); ++i)
    if (!g.layers[i].as<View>()) candidates.push_back(static_cast<int>(i));
  size_t cursor = 0;
  for (const auto& [i, path] : layer_files) {
    DORY_TRY(DoryGoldenFile golden, read_dory_golden(path));
    GoldenFileResult r;
    r.file = fs::path(path).filename().string();
    r.header = golden.name;
    r.elements = static_cast<int64_t>(golden.values.size());
    size_t j = cursor;
    while (j < candidates.size() && g.tensor(g.layers[candidates[j]].output).elements() != r.elements) ++j;
    if (j == candidates.size()) {
      r.status = GoldenStatus::NoLayer;
      r.note = cursor < candidates.size()
                   ? fmt::format("no remaining layer has {} output elements (the next, '{}', has {})", r.elements,
                                 g.layers[candidates[cursor]].name,
                                 g.tensor(g.layers[candidates[cursor]].output).elements())
                   : fmt::format("no layer is left to compare its {} values with", r.elements);
      report.files.push_back(std::move(r));
      continue;
    }
    std::vector<std::string> passed;
    for (size_t k = cursor; k < j; ++k) {
      passed.push_back(g.layers[candidates[k]].name);
      report.unchecked_layers.push_back(g.layers[candidates[k]].name);
    }
    if (!passed.empty())
      r.note = fmt::format("passed over {} (element counts differ from the golden's)", join(passed));
    const Layer& l = g.layers[candidates[j]];
    r.layer = l.name;
    r.tensor = g.tensor(l.output).name;
    compare(golden, g.tensor(l.output), to_onnx_order(g.tensor(l.output), result.values.at(l.output)), r);
    report.files.push_back(std::move(r));
    cursor = j + 1;
  }
  for (size_t k = cursor; k < candidates.size(); ++k) report.unchecked_layers.push_back(g.layers[candidates[k]].name);

  if (has_output && !g.outputs.empty()) {
    const std::string path = (fs::path(dir) / "output.txt").string();
    DORY_TRY(DoryGoldenFile golden, read_dory_golden(path));
    GoldenFileResult r;
    r.file = "output.txt";
    r.header = golden.name;
    r.elements = static_cast<int64_t>(golden.values.size());
    const TensorId out = g.outputs[0];
    const Tensor& t = g.tensor(out);
    r.tensor = t.name;
    const int p = g.producer(out);
    r.layer = p >= 0 ? g.layers[p].name : t.name;
    if (t.elements() != r.elements) {
      r.status = GoldenStatus::NoLayer;
      r.note = fmt::format("the graph's output '{}' has {} elements, the file {}", t.name, t.elements(), r.elements);
    } else {
      compare(golden, t, to_onnx_order(t, result.values.at(out)), r);
    }
    if (r.status != GoldenStatus::Match && !g.notes.empty()) {
      r.status = GoldenStatus::HostTail;
      std::string notes;
      for (const auto& n : g.notes) notes += (notes.empty() ? "" : "; ") + n;
      r.note = (r.note.empty() ? "" : r.note + "; ") +
               fmt::format("not a failure: the ONNX model's final output includes work left to the host ({})", notes);
    }
    report.files.push_back(std::move(r));
  }
  return report;
}

Expected<DoryGoldenReport> run_dory_golden_check(const Graph& g, const std::string& dir,
                                                 const DoryGoldenOptions& options) {
  DORY_TRY(std::vector<int32_t> input, read_dory_golden_input(g, dir, options));
  DORY_TRY(ReferenceResult result, run_reference(g, {input}));
  return check_dory_goldens(g, result, dir);
}

std::string render_dory_golden_report(const DoryGoldenReport& r) {
  size_t w_file = 4, w_layer = 5, w_n = 6, w_order = 5;
  for (const auto& f : r.files) {
    w_file = std::max(w_file, f.file.size());
    w_layer = std::max(w_layer, f.layer.size() + 2);
    w_n = std::max(w_n, grouped(f.elements).size());
    w_order = std::max(w_order, std::string(golden_order_name(f.order)).size());
  }
  std::string out = fmt::format("DORY goldens in {}\n", r.dir);
  out += fmt::format("  {:<{}}  {:<{}}  {:>{}}  {:<{}}  {}\n", "file", w_file, "layer", w_layer, "values", w_n,
                     "order", w_order, "result");
  const GoldenFileResult* first_bad = nullptr;
  for (const auto& f : r.files) {
    const std::string layer = f.layer.empty() ? "-" : "'" + f.layer + "'";
    std::string result = golden_status_name(f.status);
    if (f.first_mismatch && f.status != GoldenStatus::Match)
      result += fmt::format(": {} of {} values differ", grouped(f.first_mismatch->differing), grouped(f.elements));
    if (!f.note.empty()) result += " (" + f.note + ")";
    out += fmt::format("  {:<{}}  {:<{}}  {:>{}}  {:<{}}  {}\n", f.file, w_file, layer, w_layer, grouped(f.elements),
                       w_n, f.status == GoldenStatus::NoLayer ? "-" : golden_order_name(f.order), w_order, result);
    if (!first_bad && (f.status == GoldenStatus::Mismatch || f.status == GoldenStatus::NoLayer)) first_bad = &f;
  }
  if (!r.unchecked_layers.empty())
    out += fmt::format("layers without a golden: {}\n", join(r.unchecked_layers));
  if (first_bad) {
    if (first_bad->first_mismatch) {
      const GoldenMismatch& m = *first_bad->first_mismatch;
      out += fmt::format("first mismatch: layer '{}' (tensor '{}'), {}, element {} (h {}, w {}, c {}; {} order): "
                         "golden {}, dory {}\n",
                         first_bad->layer, first_bad->tensor, first_bad->file, m.index, m.h, m.w, m.c,
                         golden_order_name(first_bad->order), m.expected, m.actual);
    } else {
      out += fmt::format("first failure: {}: {}\n", first_bad->file, first_bad->note);
    }
  }
  const int n = static_cast<int>(r.files.size());
  int host_tail = 0;
  for (const auto& f : r.files) host_tail += f.status == GoldenStatus::HostTail;
  if (r.ok())
    out += host_tail ? fmt::format("{} of {} golden files agree, {} not comparable (host tail)\n", n - host_tail, n,
                                   host_tail)
                     : fmt::format("all {} golden files agree\n", n);
  else
    out += fmt::format("{} of {} golden files disagree\n", r.failures(), n);
  return out;
}

}  // namespace dory
