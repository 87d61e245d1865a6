// The L2 memory plan (memplan/memplan.h) for people: a text summary of where every activation lives.
#pragma once

#include <string>

#include "ir/graph.h"
#include "memplan/memplan.h"

namespace dory {

// The placement strategy, peak vs lower bound, constants, total (and capacity), then one row per tensor in
// schedule order: written at step ("in" for a graph input), name, bytes, L2 offset, its own live steps
// (tensor_own_steps), and the owner for aliases.
std::string memory_plan_summary(const Graph& g, const MemoryPlan& plan);

}  // namespace dory
