// A layer on its own: the graph of one layer of a network, for measuring that layer alone (eval/l3_overhead.h
// runs each layer that streams from L3 again with every operand in L2).
//
// The extracted graph has the layer (its parameters and constants as they are), its distinct input tensors as the
// graph's inputs, in the layer's order, and its output as the graph's only output. Every tensor keeps what the
// whole graph proved of it (Tensor::range, derived dtypes, Requant::wide): re-running analyze_ranges would widen
// the inputs to their whole dtype and could change a requantization's width, so the layer would not be the one
// the network runs. The extracted graph is therefore valid only for inputs the whole network can produce (its
// reference values of those tensors), which is what it is for. No float edges (input_quant, output_dequant are
// nullopt). Shapes are checked again (check_shapes).
#pragma once

#include "ir/graph.h"
#include "util/diagnostic.h"

namespace dory {

// Fails with "ir-bad-layer-index" for an index outside g.layers, "ir-view-alone" for a View (it moves no data
// and has nothing to measure).
Expected<Graph> single_layer_graph(const Graph& g, int layer_index);

}  // namespace dory
