#include "ir/graph.h"

#include <fmt/format.h>

#include <map>
#include <queue>

namespace dory {

int Graph::producer(TensorId id) const {
  for (size_t i = 0; i < layers.size(); ++i)
    if (layers[i].output == id) return static_cast<int>(i);
  return -1;
}

std::vector<int> Graph::consumers(TensorId id) const {
  std::vector<int> out;
  for (size_t i = 0; i < layers.size(); ++i)
    for (TensorId in : layers[i].inputs)
      if (in == id) {
        out.push_back(static_cast<int>(i));
        break;
      }
  return out;
}

int64_t window_out(int64_t in, int32_t k, int32_t stride, int32_t pad_before, int32_t pad_after) {
  int64_t span = in + pad_before + pad_after - k;
  if (span < 0 || stride <= 0) return 0;
  return span / stride + 1;
}

bool axis_has_padding_only_window(int64_t in, int32_t k, int32_t stride, int32_t pad_before, int32_t pad_after) {
  const int64_t n = window_out(in, k, stride, pad_before, pad_after);
  if (n <= 0) return false;
  // Windows start at o*stride - pad_before: the first one ends before the input when pad_before >= k, the last
  // one starts at or after its end; any window between them reads input if these two do.
  return pad_before >= k || (n - 1) * stride - pad_before >= in;
}

bool has_padding_only_window(const Window& w, int64_t h, int64_t width) {
  return axis_has_padding_only_window(h, w.kh, w.stride_h, w.pad.top, w.pad.bottom) ||
         axis_has_padding_only_window(width, w.kw, w.stride_w, w.pad.left, w.pad.right);
}

Status sort_topologically(Graph& g) {
  const size_t n = g.layers.size();
  std::vector<int> producer_of(g.tensors.size(), -1);
  for (size_t i = 0; i < n; ++i) {
    TensorId out = g.layers[i].output;
    DORY_CHECK(out >= 0 && static_cast<size_t>(out) < g.tensors.size(), "layer output out of range");
    if (producer_of[out] != -1)
      return make_error("ir-multiple-producers", fmt::format("tensor '{}'", g.tensor(out).name),
                        fmt::format("is produced by both '{}' and '{}'", g.layers[producer_of[out]].name,
                                    g.layers[i].name));
    producer_of[out] = static_cast<int>(i);
  }
  std::vector<int> indegree(n, 0);
  std::vector<std::vector<int>> succ(n);
  for (size_t i = 0; i < n; ++i)
    for (TensorId in : g.layers[i].inputs) {
      int p = producer_of.at(in);
      if (p < 0) {
        bool is_input = false;
        for (TensorId gi : g.inputs) is_input |= gi == in;
        if (!is_input)
          return make_error("ir-undefined-tensor", fmt::format("layer '{}'", g.layers[i].name),
                            fmt::format("reads tensor '{}', which no layer produces and is not a graph input",
                                        g.tensor(in).name));
        continue;
      }
      succ[p].push_back(static_cast<int>(i));
      ++indegree[i];
    }
  // Kahn's algorithm with a min-heap on the current index: ties keep the existing order (deterministic).
  std::priority_queue<int, std::vector<int>, std::greater<>> ready;
  for (size_t i = 0; i < n; ++i)
    if (indegree[i] == 0) ready.push(static_cast<int>(i));
  std::vector<int> order;
  while (!ready.empty()) {
    int i = ready.top();
    ready.pop();
    order.push_back(i);
    for (int s : succ[i])
      if (--indegree[s] == 0) ready.push(s);
  }
  if (order.size() != n)
    return make_error("ir-cycle", "graph", "the layers form a cycle; a network must be a DAG");
  std::vector<Layer> sorted;
  sorted.reserve(n);
  for (int i : order) sorted.push_back(std::move(g.layers[i]));
  g.layers = std::move(sorted);
  return ok_status();
}

TensorId storage_owner(const Graph& g, TensorId id) {
  for (;;) {
    int p = g.producer(id);
    if (p < 0 || !g.layers[p].as<View>()) return id;
    id = g.layers[p].inputs.at(0);
  }
}

std::vector<int> first_concat_readers(const Graph& g) {
  std::vector<int> first(g.tensors.size(), -1);
  for (size_t i = 0; i < g.layers.size(); ++i)
    if (g.layers[i].as<Concat>())
      for (TensorId t : g.layers[i].inputs)
        if (first.at(static_cast<size_t>(t)) < 0) first[static_cast<size_t>(t)] = static_cast<int>(i);
  return first;
}

ChannelSlice concat_slice(const Graph& g, const std::vector<int>& first_concat, TensorId t) {
  ChannelSlice s{t, g.tensor(t).channels(), 0};
  for (size_t depth = 0; first_concat.at(static_cast<size_t>(s.storage)) >= 0; ++depth) {
    DORY_CHECK(depth <= g.layers.size(), "concat_slice: Concats form a cycle");  // outputs come later: no cycle
    const Layer& l = g.layers[static_cast<size_t>(first_concat[static_cast<size_t>(s.storage)])];
    for (TensorId in : l.inputs) {  // the channels before the first occurrence
      if (in == s.storage) break;
      s.first_channel += g.tensor(in).channels();
    }
    s.storage = l.output;
    s.pixel_channels = g.tensor(l.output).channels();
  }
  return s;
}

std::vector<Lifetime> tensor_lifetimes(const Graph& g) {
  std::vector<Lifetime> life(g.tensors.size());
  const int end = static_cast<int>(g.layers.size());
  for (size_t i = 0; i < g.layers.size(); ++i) {
    const Layer& l = g.layers[i];
    life[l.output].first = static_cast<int>(i);
    if (life[l.output].last < static_cast<int>(i)) life[l.output].last = static_cast<int>(i);
  }
  for (TensorId in : g.inputs) life[in].first = -1;
  for (size_t i = 0; i < g.layers.size(); ++i)
    for (TensorId in : g.layers[i].inputs) life[in].last = std::max(life[in].last, static_cast<int>(i));
  for (TensorId out : g.outputs) life[out].last = end;
  // Views alias storage: the owner lives as long as any of its views.
  for (size_t t = 0; t < g.tensors.size(); ++t) {
    TensorId owner = storage_owner(g, static_cast<TensorId>(t));
    if (owner != static_cast<TensorId>(t)) life[owner].last = std::max(life[owner].last, life[t].last);
  }
  return life;
}

int64_t peak_live_activation_bytes(const Graph& g, int64_t alignment) {
  DORY_CHECK(alignment >= 1, "peak_live_activation_bytes: alignment must be >= 1");
  std::vector<Lifetime> life = tensor_lifetimes(g);
  int64_t peak = 0;
  for (int step = -1; step < static_cast<int>(g.layers.size()); ++step) {
    int64_t live = 0;
    for (size_t t = 0; t < g.tensors.size(); ++t) {
      if (storage_owner(g, static_cast<TensorId>(t)) != static_cast<TensorId>(t)) continue;  // views are free
      // A tensor occupies memory from the start of its producer's step to the end of its last use.
      if (life[t].first <= step && step <= life[t].last)
        live += (g.tensors[t].bytes() + alignment - 1) / alignment * alignment;
    }
    peak = std::max(peak, live);
  }
  return peak;
}

ConvKind conv_kind(const Graph& g, const Layer& l) {
  const Conv2d& c = std::get<Conv2d>(l.op);
  if (c.groups > 1) return ConvKind::Depthwise;
  if (c.win.kh == 1 && c.win.kw == 1 && !c.win.pad.any()) return ConvKind::Pointwise;
  return ConvKind::Standard;
}

std::string layer_kind_name(const Graph& g, const Layer& l) {
  struct Visitor {
    const Graph& g;
    const Layer& l;
    std::string operator()(const Conv2d&) const {
      switch (conv_kind(g, l)) {
        case ConvKind::Depthwise: return "depthwise";
        case ConvKind::Pointwise: return "pointwise";
        default: return "conv";
      }
    }
    std::string operator()(const FullyConnected&) const { return "fc"; }
    std::string operator()(const MaxPool&) const { return "maxpool"; }
    std::string operator()(const AveragePool& p) const { return p.global ? "globalavgpool" : "avgpool"; }
    std::string operator()(const Add&) const { return "add"; }
    std::string operator()(const Concat&) const { return "concat"; }
    std::string operator()(const Requantize&) const { return "requant"; }
    std::string operator()(const View&) const { return "view"; }
  };
  return std::visit(Visitor{g, l}, l.op);
}

int64_t layer_macs(const Graph& g, const Layer& l) {
  const Tensor& out = g.tensor(l.output);
  if (const auto* c = l.as<Conv2d>()) {
    int64_t cin_per_group = g.tensor(l.inputs[0]).channels() / c->groups;
    return out.elements() * c->win.kh * c->win.kw * cin_per_group;
  }
  if (const auto* fc = l.as<FullyConnected>()) return static_cast<int64_t>(fc->weights.size());
  return 0;
}

int64_t layer_weight_bytes(const Graph& g, const Layer& l) {
  auto rq_bytes = [](const std::optional<Requant>& rq) -> int64_t {
    if (!rq) return 0;
    int64_t per = rq->wide ? 8 : 4;
    return per * static_cast<int64_t>(rq->mul.size() + rq->add.size());
  };
  if (const auto* c = l.as<Conv2d>())
    return static_cast<int64_t>(c->weights.size()) + 4 * static_cast<int64_t>(c->bias.size()) +
           rq_bytes(c->requant);
  if (const auto* fc = l.as<FullyConnected>())
    return static_cast<int64_t>(fc->weights.size()) + 4 * static_cast<int64_t>(fc->bias.size()) +
           rq_bytes(fc->requant);
  if (const auto* r = l.as<Requantize>()) return rq_bytes(r->requant);
  return 0;
}

Status check_graph(Graph& g) {
  DORY_TRY_STATUS(sort_topologically(g));
  DORY_TRY_STATUS(check_shapes(g));
  DORY_TRY_STATUS(analyze_ranges(g));
  return ok_status();
}

}  // namespace dory
