#include "memplan/memplan.h"

#include <fmt/format.h>

#include <algorithm>
#include <numeric>

#include "report/text_table.h"
#include "tiler/plan.h"

namespace dory {

namespace {

int64_t align_up(int64_t v, int64_t a) { return (v + a - 1) / a * a; }

std::string grouped(int64_t bytes) { return format_bytes_grouped(bytes); }

// What the planner and the checker need to know about each tensor, from one pass over the layers.
struct GraphFacts {
  int num_steps = 1;               // max(1, layers)
  std::vector<int> producer;       // per tensor: the layer writing it, -1 for none
  std::vector<int> last_read;      // per tensor: the last layer reading it, -1 for none
  std::vector<char> is_input, is_output;

  bool used(TensorId t) const { return producer[t] >= 0 || last_read[t] >= 0 || is_input[t] || is_output[t]; }
  // The steps during which `t` itself must hold its value (see the header): inclusive.
  Lifetime own_lifetime(TensorId t) const {
    Lifetime l;
    l.first = is_input[t] ? 0 : producer[t];
    l.last = std::max(l.first, last_read[t]);
    if (is_output[t]) l.last = num_steps - 1;
    return l;
  }
};

GraphFacts graph_facts(const Graph& g) {
  GraphFacts f;
  const size_t n = g.tensors.size();
  f.num_steps = std::max<int>(1, static_cast<int>(g.layers.size()));
  f.producer.assign(n, -1);
  f.last_read.assign(n, -1);
  f.is_input.assign(n, 0);
  f.is_output.assign(n, 0);
  auto in_range = [&](TensorId t) { return t >= 0 && static_cast<size_t>(t) < n; };
  for (TensorId t : g.inputs) {
    DORY_CHECK(in_range(t), "memplan: graph input out of range");
    f.is_input[t] = 1;
  }
  for (TensorId t : g.outputs) {
    DORY_CHECK(in_range(t), "memplan: graph output out of range");
    f.is_output[t] = 1;
  }
  for (size_t i = 0; i < g.layers.size(); ++i) {
    const Layer& l = g.layers[i];
    DORY_CHECK(in_range(l.output), fmt::format("memplan: layer '{}' output out of range", l.name));
    f.producer[l.output] = static_cast<int>(i);
    for (TensorId t : l.inputs) {
      DORY_CHECK(in_range(t), fmt::format("memplan: layer '{}' input out of range", l.name));
      f.last_read[t] = static_cast<int>(i);
    }
  }
  return f;
}

struct UnionFind {
  std::vector<int> parent;
  explicit UnionFind(size_t n) : parent(n) { std::iota(parent.begin(), parent.end(), 0); }
  int find(int x) {
    while (parent[x] != x) x = parent[x] = parent[parent[x]];
    return x;
  }
  void unite(int a, int b) { parent[find(a)] = find(b); }
};

bool overlaps_in_time(const Lifetime& a, const Lifetime& b) { return a.first <= b.last && b.first <= a.last; }

std::string step_location(const Graph& g, int step) {
  if (step < 0 || static_cast<size_t>(step) >= g.layers.size()) return "graph";
  const Layer& l = g.layers[static_cast<size_t>(step)];
  return fmt::format("layer '{}' ({})", l.name, layer_kind_name(g, l));
}

std::string steps_text(const Lifetime& l) {
  return l.first == l.last ? std::to_string(l.first) : fmt::format("{}..{}", l.first, l.last);
}

// The l2-overflow diagnostic for a complete plan whose total_bytes exceeds the capacity.
Diagnostic overflow_diagnostic(const Graph& g, const MemoryPlan& p, const GraphFacts& f) {
  const int64_t cap = p.l2_capacity_bytes;
  const std::string parts = fmt::format("{} B of constants + {} B of activations", grouped(p.reserved_bytes),
                                        grouped(p.activation_bytes));
  Diagnostic d;
  if (p.reserved_bytes > cap) {
    d = make_error("l2-overflow", "graph",
                   fmt::format("the constants (weights, biases, requantization parameters) alone need {} B, more "
                               "than the {} B of L2 (the whole plan needs {} B: {})",
                               grouped(p.reserved_bytes), grouped(cap), grouped(p.total_bytes), parts),
                   fmt::format("a target with at least {} B of L2, or a smaller network: the weights alone take {} B",
                               grouped(p.total_bytes), grouped(p.reserved_bytes)));
  } else if (auto it = std::find_if(p.live_bytes_per_step.begin(), p.live_bytes_per_step.end(),
                                    [&](int64_t live) { return p.activation_start + live > cap; });
             it != p.live_bytes_per_step.end()) {
    const int step = static_cast<int>(it - p.live_bytes_per_step.begin());
    std::vector<const StorageClass*> live;
    for (const StorageClass& c : p.classes)
      if (c.life.first <= step && step <= c.life.last) live.push_back(&c);
    std::stable_sort(live.begin(), live.end(), [](const StorageClass* a, const StorageClass* b) {
      return a->aligned_bytes > b->aligned_bytes;
    });
    std::string list;
    int64_t rest_bytes = 0;
    for (size_t i = 0; i < live.size(); ++i) {
      if (i < 4) {
        list += fmt::format("{}'{}' {} B", i ? ", " : "", g.tensor(live[i]->owner).name,
                            grouped(live[i]->aligned_bytes));
      } else {
        rest_bytes += live[i]->aligned_bytes;
      }
    }
    if (live.size() > 4) list += fmt::format(" and {} more ({} B)", live.size() - 4, grouped(rest_bytes));
    const std::string name = static_cast<size_t>(step) < g.layers.size() ? g.layers[step].name : "";
    d = make_error(
        "l2-overflow", step_location(g, step),
        fmt::format("L2 overflows at step {} of {}: the {} tensor{} live then need{} {} B ({}); with {} B of "
                    "constants that is {} B, more than the {} B of L2",
                    step, p.num_steps, live.size(), live.size() == 1 ? "" : "s", live.size() == 1 ? "s" : "",
                    grouped(*it), list, grouped(p.reserved_bytes), grouped(p.activation_start + *it), grouped(cap)),
        fmt::format("a target with at least {} B of L2 ({}), or fewer or smaller channels{}{}",
                    grouped(p.total_bytes), parts,
                    name.empty() ? std::string() : fmt::format(" in the layers around '{}'", name),
                    p.reserved_bytes > 0 ? fmt::format("; the weights alone take {} B", grouped(p.reserved_bytes))
                                         : std::string()));
  } else {
    // Even the lower bound fits at every step: only the (heuristic) placement does not. Name the earliest class
    // that ends beyond the capacity.
    const StorageClass* worst = nullptr;
    for (const StorageClass& c : p.classes)  // ordered by first step, then owner
      if (c.end() > cap) {
        worst = &c;
        break;
      }
    DORY_CHECK(worst != nullptr, "memplan: a plan over capacity has no class beyond it");
    bool holds_input = false;
    for (TensorId t : worst->members) holds_input |= f.is_input[t] != 0;
    const std::string location = holds_input ? fmt::format("graph input '{}'", g.tensor(worst->owner).name)
                                             : step_location(g, worst->life.first);
    d = make_error(
        "l2-overflow", location,
        fmt::format("at most {} B of activations are live at any step, which with {} B of constants fits the {} B "
                    "of L2, but the placement needs {} B ({}): '{}' ({} B, live at steps {}) ends at {} B",
                    grouped(p.lower_bound_bytes), grouped(p.reserved_bytes), grouped(cap), grouped(p.total_bytes),
                    parts,
                    g.tensor(worst->owner).name, grouped(worst->aligned_bytes), steps_text(worst->life),
                    grouped(worst->end())),
        fmt::format("a target with at least {} B of L2 (the placement is a greedy heuristic; no placement of these "
                    "lifetimes needs less than {} B)",
                    grouped(p.total_bytes), grouped(p.activation_start + p.lower_bound_bytes)));
  }
  d.severity = Severity::Infeasible;
  return d;
}

}  // namespace

const StorageClass* MemoryPlan::class_of(TensorId t) const {
  if (t < 0 || static_cast<size_t>(t) >= tensor_class.size() || tensor_class[t] < 0) return nullptr;
  return &classes.at(static_cast<size_t>(tensor_class[t]));
}

Expected<MemoryPlan> plan_memory(const Graph& g, const MemoryPlanOptions& opt) {
  DORY_CHECK(opt.alignment >= 1 && opt.reserved_bytes >= 0 && opt.l2_capacity_bytes >= 0,
             fmt::format("memplan: bad options (alignment {}, reserved {}, capacity {})", opt.alignment,
                         opt.reserved_bytes, opt.l2_capacity_bytes));
  const GraphFacts f = graph_facts(g);
  const size_t n = g.tensors.size();
  for (size_t i = 0; i < g.layers.size(); ++i)
    for (TensorId t : g.layers[i].inputs)
      DORY_CHECK(f.is_input[t] || (f.producer[t] >= 0 && f.producer[t] < static_cast<int>(i)),
                 fmt::format("memplan: layer '{}' reads '{}' before it is written (graph not sorted/checked)",
                             g.layers[i].name, g.tensor(t).name));
  for (TensorId t : g.outputs)
    DORY_CHECK(f.is_input[t] || f.producer[t] >= 0,
               fmt::format("memplan: graph output '{}' is never written", g.tensor(t).name));

  // Storage classes: Views alias their input; a feature map lives in the slice of its first Concat consumer.
  UnionFind uf(n);
  // Each tensor gets at most one edge to the tensor whose storage it uses, so a class is a tree with one root.
  std::vector<char> aliased(n, 0);
  for (const Layer& l : g.layers) {  // in layer order: the first Concat reading a tensor is met first
    if (l.as<View>()) {
      uf.unite(l.output, l.inputs.at(0));
      aliased[l.output] = 1;
    } else if (l.as<Concat>()) {
      for (TensorId t : l.inputs) {
        const bool view = f.producer[t] >= 0 && g.layers[f.producer[t]].as<View>();
        if (!aliased[t] && !view && g.tensor(t).is_feature_map()) {
          uf.unite(t, l.output);
          aliased[t] = 1;
        }
      }
    }
  }

  MemoryPlan p;
  p.alignment = opt.alignment;
  p.reserved_bytes = opt.reserved_bytes;
  p.activation_start = align_up(opt.reserved_bytes, opt.alignment);
  p.l2_capacity_bytes = opt.l2_capacity_bytes;
  p.num_steps = f.num_steps;
  p.tensor_class.assign(n, -1);
  p.tensor_offset.assign(n, -1);

  std::vector<int> class_of_root(n, -1);
  for (size_t t = 0; t < n; ++t) {
    const TensorId id = static_cast<TensorId>(t);
    if (!f.used(id)) continue;
    const int root = uf.find(static_cast<int>(t));
    if (class_of_root[root] < 0) {
      class_of_root[root] = static_cast<int>(p.classes.size());
      StorageClass c;
      c.life = f.own_lifetime(id);
      p.classes.push_back(c);
    }
    StorageClass& c = p.classes[class_of_root[root]];
    c.members.push_back(id);
    const Lifetime own = f.own_lifetime(id);
    c.life.first = std::min(c.life.first, own.first);
    c.life.last = std::max(c.life.last, own.last);
    if (!aliased[t]) {  // the root: the member no relation maps further
      DORY_CHECK(c.owner < 0, fmt::format("memplan: '{}' and '{}' both own one storage", g.tensor(c.owner).name,
                                          g.tensors[t].name));
      c.owner = id;
    }
  }
  for (StorageClass& c : p.classes) {
    DORY_CHECK(c.owner >= 0, fmt::format("memplan: the storage of '{}' has no owner (alias cycle)",
                                         g.tensor(c.members.front()).name));
    c.bytes = g.tensor(c.owner).bytes();
    c.aligned_bytes = align_up(c.bytes, opt.alignment);
  }
  std::sort(p.classes.begin(), p.classes.end(), [](const StorageClass& a, const StorageClass& b) {
    return a.life.first != b.life.first ? a.life.first < b.life.first : a.owner < b.owner;
  });

  // Greedy placement, offsets relative to activation_start.
  std::vector<size_t> order(p.classes.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](size_t i, size_t j) {
    const StorageClass& a = p.classes[i];
    const StorageClass& b = p.classes[j];
    if (a.bytes != b.bytes) return a.bytes > b.bytes;
    if (a.life.first != b.life.first) return a.life.first < b.life.first;
    return a.owner < b.owner;
  });
  std::vector<const StorageClass*> placed, conflicts;
  for (size_t i : order) {
    StorageClass& c = p.classes[i];
    conflicts.clear();
    for (const StorageClass* q : placed)
      if (overlaps_in_time(q->life, c.life) && q->aligned_bytes > 0) conflicts.push_back(q);
    std::sort(conflicts.begin(), conflicts.end(),
              [](const StorageClass* a, const StorageClass* b) { return a->offset < b->offset; });
    int64_t offset = 0;  // relative; every placed offset and size is a multiple of the alignment
    for (const StorageClass* q : conflicts) {
      const int64_t q_rel = q->offset - p.activation_start;
      if (offset + c.aligned_bytes <= q_rel) break;  // fits in the gap before q
      offset = std::max(offset, q_rel + q->aligned_bytes);
    }
    c.offset = p.activation_start + offset;
    placed.push_back(&c);
  }

  p.live_bytes_per_step.assign(static_cast<size_t>(p.num_steps), 0);
  int64_t end = p.activation_start;
  for (size_t i = 0; i < p.classes.size(); ++i) {
    const StorageClass& c = p.classes[i];
    for (int s = c.life.first; s <= c.life.last; ++s) p.live_bytes_per_step[s] += c.aligned_bytes;
    end = std::max(end, c.end());
    for (TensorId t : c.members) {
      p.tensor_class[t] = static_cast<int>(i);
      p.tensor_offset[t] = c.offset;
    }
  }
  p.lower_bound_bytes = *std::max_element(p.live_bytes_per_step.begin(), p.live_bytes_per_step.end());
  p.activation_bytes = end - p.activation_start;
  p.total_bytes = end;

  const Status check = check_memory_plan(g, p);
  DORY_CHECK(check.ok(), check.ok() ? "" : "memplan: the plan fails its own check: " + check.error().str());
  if (p.l2_capacity_bytes > 0 && p.total_bytes > p.l2_capacity_bytes) return overflow_diagnostic(g, p, f);
  return p;
}

Status check_memory_plan(const Graph& g, const MemoryPlan& p) {
  auto fail = [](std::string message) {
    return make_error("memplan-invalid", "L2 memory plan", std::move(message),
                      "this is a bug in dory (the planner's output breaks an invariant); please report it");
  };
  auto name = [&](TensorId t) { return fmt::format("'{}'", g.tensor(t).name); };
  const GraphFacts f = graph_facts(g);
  const size_t n = g.tensors.size();
  if (p.alignment < 1) return fail(fmt::format("alignment {} < 1", p.alignment));
  if (p.num_steps != f.num_steps)
    return fail(fmt::format("{} steps, the graph has {} layers", p.num_steps, g.layers.size()));
  if (p.tensor_class.size() != n || p.tensor_offset.size() != n)
    return fail(fmt::format("per-tensor tables have {} and {} entries for {} tensors", p.tensor_class.size(),
                            p.tensor_offset.size(), n));
  if (p.live_bytes_per_step.size() != static_cast<size_t>(f.num_steps))
    return fail(fmt::format("live_bytes_per_step has {} entries for {} steps", p.live_bytes_per_step.size(),
                            f.num_steps));
  if (p.reserved_bytes < 0 || p.activation_start != align_up(p.reserved_bytes, p.alignment))
    return fail(fmt::format("activations start at {}, constants take {} B at alignment {}", p.activation_start,
                            p.reserved_bytes, p.alignment));
  if (p.total_bytes != p.activation_start + p.activation_bytes)
    return fail(fmt::format("total {} B is not activation start {} + activations {} B", p.total_bytes,
                            p.activation_start, p.activation_bytes));

  // Aliases the graph allows: every View and every Concat input (a superset of what the planner unites).
  UnionFind allowed(n);
  for (const Layer& l : g.layers)
    if (l.as<View>() || l.as<Concat>())
      for (TensorId t : l.inputs) allowed.unite(t, l.output);

  for (size_t t = 0; t < n; ++t) {
    const TensorId id = static_cast<TensorId>(t);
    const int c = p.tensor_class[t];
    if (!f.used(id)) {
      if (c != -1 || p.tensor_offset[t] != -1) return fail(fmt::format("unused tensor {} has storage", name(id)));
      continue;
    }
    if (c < 0 || static_cast<size_t>(c) >= p.classes.size())
      return fail(fmt::format("tensor {} has no storage class", name(id)));
    const StorageClass& sc = p.classes[c];
    if (p.tensor_offset[t] != sc.offset)
      return fail(fmt::format("tensor {} is at offset {}, its storage ({}) at {}", name(id), p.tensor_offset[t],
                              name(sc.owner), sc.offset));
    if (!std::binary_search(sc.members.begin(), sc.members.end(), id))
      return fail(fmt::format("tensor {} is not a member of its storage class ({})", name(id), name(sc.owner)));
  }

  int64_t end = p.activation_start;
  for (size_t i = 0; i < p.classes.size(); ++i) {
    const StorageClass& c = p.classes[i];
    if (c.members.empty()) return fail(fmt::format("storage class {} has no members", i));
    if (!std::is_sorted(c.members.begin(), c.members.end()) ||
        std::adjacent_find(c.members.begin(), c.members.end()) != c.members.end())
      return fail(fmt::format("the members of {}'s storage are not sorted and unique", name(c.owner)));
    if (c.owner < 0 || static_cast<size_t>(c.owner) >= n ||
        !std::binary_search(c.members.begin(), c.members.end(), c.owner))
      return fail(fmt::format("storage class {} has an owner outside its members", i));
    if (c.bytes != g.tensor(c.owner).bytes() || c.aligned_bytes != align_up(c.bytes, p.alignment))
      return fail(fmt::format("storage of {} has {} B ({} aligned), the tensor {} B", name(c.owner), c.bytes,
                              c.aligned_bytes, g.tensor(c.owner).bytes()));
    if (c.offset % p.alignment != 0 || c.offset < p.activation_start || c.end() > p.total_bytes)
      return fail(fmt::format("storage of {} at [{}, {}) is misaligned (alignment {}) or outside the activations "
                              "[{}, {})",
                              name(c.owner), c.offset, c.end(), p.alignment, p.activation_start, p.total_bytes));
    if (c.life.first < 0 || c.life.first > c.life.last || c.life.last >= f.num_steps)
      return fail(fmt::format("storage of {} has lifetime {}..{} outside 0..{}", name(c.owner), c.life.first,
                              c.life.last, f.num_steps - 1));
    for (TensorId t : c.members) {
      if (p.tensor_class[t] != static_cast<int>(i))
        return fail(fmt::format("{} is listed in the storage of {} but mapped elsewhere", name(t), name(c.owner)));
      if (allowed.find(t) != allowed.find(c.owner))
        return fail(fmt::format("{} shares the storage of {}, but the graph relates them by no View or Concat",
                                name(t), name(c.owner)));
      if (g.tensor(t).bytes() > c.bytes)
        return fail(fmt::format("{} ({} B) does not fit the storage of {} ({} B)", name(t), g.tensor(t).bytes(),
                                name(c.owner), c.bytes));
      const Lifetime own = f.own_lifetime(t);
      if (own.first < c.life.first || own.last > c.life.last)
        return fail(fmt::format("{} is live at steps {}, its storage ({}) only at {}", name(t), steps_text(own),
                                name(c.owner), steps_text(c.life)));
    }
    end = std::max(end, c.end());
  }
  // No two classes live at a common step share a byte.
  for (size_t i = 0; i < p.classes.size(); ++i)
    for (size_t j = i + 1; j < p.classes.size(); ++j) {
      const StorageClass& a = p.classes[i];
      const StorageClass& b = p.classes[j];
      if (!overlaps_in_time(a.life, b.life) || a.bytes == 0 || b.bytes == 0) continue;
      if (a.offset < b.offset + b.bytes && b.offset < a.offset + a.bytes) {
        const int step = std::max(a.life.first, b.life.first);
        return fail(fmt::format("{} at [{}, {}) (steps {}) and {} at [{}, {}) (steps {}) overlap in L2 while both "
                                "are live at step {}",
                                name(a.owner), a.offset, a.offset + a.bytes, steps_text(a.life), name(b.owner),
                                b.offset, b.offset + b.bytes, steps_text(b.life), step));
      }
    }

  if (end != p.total_bytes)
    return fail(fmt::format("activations end at {}, the plan says {}", end, p.total_bytes));
  std::vector<int64_t> live(static_cast<size_t>(f.num_steps), 0);
  for (const StorageClass& c : p.classes)
    for (int s = c.life.first; s <= c.life.last; ++s) live[s] += c.aligned_bytes;
  if (live != p.live_bytes_per_step) return fail("live_bytes_per_step differs from the classes' lifetimes");
  const int64_t bound = *std::max_element(live.begin(), live.end());
  if (p.lower_bound_bytes != bound || p.activation_bytes < bound)
    return fail(fmt::format("lower bound {} B (recomputed {} B), activations {} B", p.lower_bound_bytes, bound,
                            p.activation_bytes));
  return ok_status();
}

std::string memory_plan_summary(const Graph& g, const MemoryPlan& p) {
  const GraphFacts f = graph_facts(g);
  int used = 0;
  for (size_t t = 0; t < g.tensors.size(); ++t) used += p.tensor_class[t] >= 0 ? 1 : 0;
  std::string out = fmt::format("L2 memory plan: {} tensors in {} storage classes over {} steps, alignment {} B\n",
                                used, p.classes.size(), p.num_steps, p.alignment);
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
  auto written = [&](TensorId t) { return f.is_input[t] ? -1 : f.producer[t]; };
  std::stable_sort(rows.begin(), rows.end(), [&](TensorId a, TensorId b) { return written(a) < written(b); });
  TextTable t;
  t.header = {"step", "tensor", "bytes", "offset", "live", "storage"};
  t.right_aligned = {true, false, true, true, false, false};
  for (TensorId id : rows) {
    const StorageClass& c = *p.class_of(id);
    t.add({written(id) < 0 ? "in" : std::to_string(written(id)), g.tensor(id).name, grouped(g.tensor(id).bytes()),
           grouped(p.tensor_offset[id]), steps_text(f.own_lifetime(id)),
           c.owner == id ? (c.members.size() > 1 ? fmt::format("owns, live {}", steps_text(c.life)) : std::string())
                         : fmt::format("in '{}'", g.tensor(c.owner).name)});
  }
  out += render_text(t);
  return out;
}

}  // namespace dory
