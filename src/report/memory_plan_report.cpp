#include "report/memory_plan_report.h"

#include <fmt/format.h>

#include <algorithm>
#include <vector>

#include "report/text_table.h"
#include "util/byte_size.h"

namespace dory {

namespace {

std::string grouped(int64_t bytes) { return format_bytes_grouped(bytes); }

std::string steps_text(const Lifetime& l) {
  return l.first == l.last ? std::to_string(l.first) : fmt::format("{}..{}", l.first, l.last);
}

}  // namespace

std::string memory_plan_summary(const Graph& g, const MemoryPlan& p) {
  int used = 0;
  for (size_t t = 0; t < g.tensors.size(); ++t) used += p.tensor_class[t] >= 0 ? 1 : 0;
  std::string out = fmt::format(
      "L2 memory plan: {} tensors in {} storage classes over {} steps, alignment {} B, placement {}\n", used,
      p.classes.size(), p.num_steps, p.alignment, p.strategy.empty() ? "-" : p.strategy);
  TextTable head;
  head.header = {"region", "L2 [from, to)", "bytes", ""};
  head.right_aligned = {false, false, true, false};
  head.add({"constants", fmt::format("[0, {})", grouped(p.reserved_bytes)), grouped(p.reserved_bytes) + " B", ""});
  std::string quality = "(= lower bound: optimal)";
  if (p.activation_bytes != p.lower_bound_bytes)
    quality = fmt::format("(lower bound {} B, +{:.1f}%)", grouped(p.lower_bound_bytes),
                          100.0 * static_cast<double>(p.activation_bytes - p.lower_bound_bytes) /
                              static_cast<double>(p.lower_bound_bytes));
  head.add({"activations", fmt::format("[{}, {})", grouped(p.activation_start), grouped(p.total_bytes)),
            grouped(p.activation_bytes) + " B", "peak " + quality});
  head.add({"total", "", grouped(p.total_bytes) + " B",
            p.l2_capacity_bytes > 0 ? fmt::format("of {} B L2", grouped(p.l2_capacity_bytes)) : std::string()});
  out += render_text(head) + "\n";

  std::vector<TensorId> rows;
  for (size_t t = 0; t < g.tensors.size(); ++t)
    if (p.tensor_class[t] >= 0) rows.push_back(static_cast<TensorId>(t));
  auto written = [&](TensorId t) { return g.producer(t); };  // -1: a graph input, written by the host
  std::stable_sort(rows.begin(), rows.end(), [&](TensorId a, TensorId b) { return written(a) < written(b); });
  TextTable t;
  t.header = {"step", "tensor", "bytes", "offset", "live", "storage"};
  t.right_aligned = {true, false, true, true, false, false};
  for (TensorId id : rows) {
    const StorageClass& c = *p.class_of(id);
    t.add({written(id) < 0 ? "in" : std::to_string(written(id)), g.tensor(id).name, grouped(g.tensor(id).bytes()),
           grouped(p.tensor_offset[id]), steps_text(tensor_own_steps(g, id)),
           c.owner == id ? (c.members.size() > 1 ? fmt::format("owns, live {}", steps_text(c.life)) : std::string())
                         : fmt::format("in '{}'", g.tensor(c.owner).name)});
  }
  out += render_text(t);
  return out;
}

}  // namespace dory
