// single_layer_graph (ir/subgraph.h).
#include "ir/subgraph.h"

#include <fmt/format.h>

#include <map>

namespace dory {

Expected<Graph> single_layer_graph(const Graph& g, int layer_index) {
  if (layer_index < 0 || static_cast<size_t>(layer_index) >= g.layers.size())
    return make_error("ir-bad-layer-index", fmt::format("layer index {}", layer_index),
                      fmt::format("the graph has {} layers", g.layers.size()), "give an index in [0, layers)");
  const Layer& src = g.layers[static_cast<size_t>(layer_index)];
  if (src.as<View>())
    return make_error("ir-view-alone", fmt::format("layer '{}'", src.name),
                      "is a View: it moves no data, so it has nothing to run alone", "extract the layer it feeds");
  Graph out;
  out.dialect = g.dialect;
  Layer l = src;
  std::map<TensorId, TensorId> renamed;  // a tensor read twice (x + x) stays one input
  for (TensorId& t : l.inputs) {
    auto [it, fresh] = renamed.try_emplace(t, -1);
    if (fresh) {
      it->second = out.add_tensor(g.tensor(t));
      out.inputs.push_back(it->second);
    }
    t = it->second;
  }
  l.output = out.add_tensor(g.tensor(src.output));
  out.outputs.push_back(l.output);
  out.layers.push_back(std::move(l));
  out.input_quant.assign(out.inputs.size(), std::nullopt);
  out.output_dequant.assign(out.outputs.size(), std::nullopt);
  DORY_TRY_STATUS(check_shapes(out));
  return out;
}

}  // namespace dory
