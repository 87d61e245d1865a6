#include "memplan/memplan.h"

#include <fmt/format.h>

#include <algorithm>
#include <limits>
#include <numeric>

#include "util/byte_size.h"

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

// What a class holds, for messages: its owner tensor, or the extra buffer's name.
std::string class_name(const Graph& g, const std::vector<ExtraBuffer>& extras, const StorageClass& c) {
  if (c.extra >= 0) return extras.at(static_cast<size_t>(c.extra)).name;
  return g.tensor(c.owner).name;
}

std::string steps_text(const Lifetime& l) {
  return l.first == l.last ? std::to_string(l.first) : fmt::format("{}..{}", l.first, l.last);
}

// ---- placement strategies -------------------------------------------------------------------------------------

// For each class, the other classes live at a common step, ascending; O(classes^2), once for all strategies.
std::vector<std::vector<int>> time_conflicts(const std::vector<StorageClass>& classes) {
  std::vector<std::vector<int>> out(classes.size());
  for (size_t i = 0; i < classes.size(); ++i)
    for (size_t j = i + 1; j < classes.size(); ++j)
      if (overlaps_in_time(classes[i].life, classes[j].life)) {
        out[i].push_back(static_cast<int>(j));
        out[j].push_back(static_cast<int>(i));
      }
  return out;
}

enum class Order {
  Size,      // decreasing size; ties: earlier first step, then lower owner id (TFLite Micro's greedy planner)
  FirstUse,  // by first step, then last step, then owner: a chain in chain order
  LastUse,   // backwards in time: by decreasing last step, then first step (longer first), then owner
  Area,      // decreasing aligned size x steps live; ties as Size
  Breadth,   // steps by decreasing live bytes (ties: earlier), at each its unplaced classes by Size
};
enum class Fit {
  Lowest,    // first fit: the lowest offset that fits
  Best,      // the smallest gap between placed classes that fits (ties: the lowest), else above them all
  TwoEnds,   // the lowest offset; or, when the conflicting class placed last lies mostly in the lower half of
             // [0, lower bound), the highest offset that ends at or below the lower bound (if any)
};
struct Strategy {
  const char* name;
  Order order;
  Fit fit;
};
// The fixed order of trial; the first with the smallest peak wins.
constexpr Strategy kStrategies[] = {
    {"size/first-fit", Order::Size, Fit::Lowest},
    {"size/best-fit", Order::Size, Fit::Best},
    {"size/two-ends", Order::Size, Fit::TwoEnds},
    {"first-use/first-fit", Order::FirstUse, Fit::Lowest},
    {"first-use/best-fit", Order::FirstUse, Fit::Best},
    {"first-use/two-ends", Order::FirstUse, Fit::TwoEnds},
    {"last-use/first-fit", Order::LastUse, Fit::Lowest},
    {"last-use/best-fit", Order::LastUse, Fit::Best},
    {"last-use/two-ends", Order::LastUse, Fit::TwoEnds},
    {"area/first-fit", Order::Area, Fit::Lowest},
    {"area/best-fit", Order::Area, Fit::Best},
    {"area/two-ends", Order::Area, Fit::TwoEnds},
    {"breadth/first-fit", Order::Breadth, Fit::Lowest},
    {"breadth/best-fit", Order::Breadth, Fit::Best},
    {"breadth/two-ends", Order::Breadth, Fit::TwoEnds},
};

std::vector<size_t> placement_order(const std::vector<StorageClass>& classes, const std::vector<int64_t>& live,
                                    Order order) {
  std::vector<size_t> idx(classes.size());
  std::iota(idx.begin(), idx.end(), 0);
  auto by_size = [&](size_t i, size_t j) {
    const StorageClass& a = classes[i];
    const StorageClass& b = classes[j];
    if (a.bytes != b.bytes) return a.bytes > b.bytes;
    if (a.life.first != b.life.first) return a.life.first < b.life.first;
    return a.owner < b.owner;
  };
  switch (order) {
    case Order::Size: std::sort(idx.begin(), idx.end(), by_size); break;
    case Order::FirstUse:
      std::sort(idx.begin(), idx.end(), [&](size_t i, size_t j) {
        const StorageClass& a = classes[i];
        const StorageClass& b = classes[j];
        if (a.life.first != b.life.first) return a.life.first < b.life.first;
        if (a.life.last != b.life.last) return a.life.last < b.life.last;
        return a.owner < b.owner;
      });
      break;
    case Order::LastUse:
      std::sort(idx.begin(), idx.end(), [&](size_t i, size_t j) {
        const StorageClass& a = classes[i];
        const StorageClass& b = classes[j];
        if (a.life.last != b.life.last) return a.life.last > b.life.last;
        if (a.life.first != b.life.first) return a.life.first < b.life.first;
        return a.owner < b.owner;
      });
      break;
    case Order::Area:
      std::sort(idx.begin(), idx.end(), [&](size_t i, size_t j) {
        auto area = [&](const StorageClass& c) { return c.aligned_bytes * (c.life.last - c.life.first + 1); };
        const int64_t x = area(classes[i]), y = area(classes[j]);
        return x != y ? x > y : by_size(i, j);
      });
      break;
    case Order::Breadth: {
      std::vector<int> steps(live.size());
      std::iota(steps.begin(), steps.end(), 0);
      std::stable_sort(steps.begin(), steps.end(), [&](int a, int b) { return live[a] > live[b]; });
      std::vector<size_t> sized = idx;
      std::sort(sized.begin(), sized.end(), by_size);
      std::vector<char> taken(classes.size(), 0);
      idx.clear();
      for (int s : steps)
        for (size_t i : sized)
          if (!taken[i] && classes[i].life.first <= s && s <= classes[i].life.last) {
            taken[i] = 1;
            idx.push_back(i);
          }
      break;
    }
  }
  return idx;
}

struct Placement {
  std::vector<int64_t> offset;  // per class, relative to activation_start
  int64_t peak = 0;             // max over classes of offset + aligned size
};

// Places the classes in `order`. Every offset and size is a multiple of the alignment, and so is `ceiling` (the
// lower bound, a sum of aligned sizes), so every candidate offset below is aligned.
Placement place(const std::vector<StorageClass>& classes, const std::vector<std::vector<int>>& conflicts,
                const std::vector<size_t>& order, Fit fit, int64_t ceiling) {
  constexpr int64_t kOpen = std::numeric_limits<int64_t>::max();
  Placement r;
  r.offset.assign(classes.size(), -1);
  std::vector<int> rank(classes.size(), -1);  // placement position of each placed class
  std::vector<std::pair<int64_t, int64_t>> busy;  // [from, to) of placed conflicting classes
  std::vector<std::pair<int64_t, int64_t>> gaps;  // free [from, to) between them; the last one is open
  for (size_t k = 0; k < order.size(); ++k) {
    const size_t i = order[k];
    const int64_t size = classes[i].aligned_bytes;
    busy.clear();
    int latest = -1;  // the conflicting class placed last
    for (int j : conflicts[i])
      if (rank[j] >= 0 && classes[j].aligned_bytes > 0) {
        busy.emplace_back(r.offset[j], r.offset[j] + classes[j].aligned_bytes);
        if (latest < 0 || rank[j] > rank[latest]) latest = j;
      }
    std::sort(busy.begin(), busy.end());
    gaps.clear();
    int64_t cursor = 0;
    for (const auto& [from, to] : busy) {
      if (from > cursor) gaps.emplace_back(cursor, from);
      cursor = std::max(cursor, to);
    }
    gaps.emplace_back(cursor, kOpen);
    int64_t offset = -1;
    if (size == 0) {
      offset = 0;
    } else {
      if (fit == Fit::Best) {
        int64_t best_len = kOpen;
        for (const auto& [from, to] : gaps)
          if (to != kOpen && to - from >= size && to - from < best_len) {
            best_len = to - from;
            offset = from;
          }
      } else if (fit == Fit::TwoEnds && latest >= 0 &&
                 2 * r.offset[latest] + classes[latest].aligned_bytes < ceiling) {  // the latest is low: go high
        for (const auto& [from, to] : gaps) {
          const int64_t top = std::min(to, ceiling) - size;
          if (top >= from) offset = top;  // gaps ascend: the last one that fits is the highest
        }
      }
      if (offset < 0)  // first fit
        for (const auto& [from, to] : gaps)
          if (to - from >= size) {
            offset = from;
            break;
          }
    }
    r.offset[i] = offset;
    rank[i] = static_cast<int>(k);
    r.peak = std::max(r.peak, offset + size);
  }
  return r;
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
        list += fmt::format("{}'{}' {} B", i ? ", " : "", class_name(g, p.extras, *live[i]),
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
    const std::string location = holds_input ? fmt::format("graph input '{}'", class_name(g, p.extras, *worst))
                                             : step_location(g, worst->life.first);
    d = make_error(
        "l2-overflow", location,
        fmt::format("at most {} B of activations are live at any step, which with {} B of constants fits the {} B "
                    "of L2, but the placement ({}, the best strategy tried) needs {} B ({}): '{}' ({} B, live at steps "
                    "{}) ends at {} B",
                    grouped(p.lower_bound_bytes), grouped(p.reserved_bytes), grouped(cap), p.strategy,
                    grouped(p.total_bytes), parts,
                    class_name(g, p.extras, *worst), grouped(worst->aligned_bytes), steps_text(worst->life),
                    grouped(worst->end())),
        fmt::format("a target with at least {} B of L2 (the placements are greedy heuristics; no placement of these "
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
  DORY_CHECK(opt.strategy.empty() || std::any_of(std::begin(kStrategies), std::end(kStrategies),
                                                  [&](const Strategy& s) { return opt.strategy == s.name; }),
             fmt::format("memplan: unknown placement strategy '{}'", opt.strategy));
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

  // Storage classes: Views alias their input; a feature map lives in the slice of its first Concat reader
  // (ir/graph.h, concat_slice), unless a View writes it (then it stays with the View's source).
  UnionFind uf(n);
  // Each tensor gets at most one edge to the tensor whose storage it uses, so a class is a tree with one root.
  std::vector<char> aliased(n, 0);
  for (const Layer& l : g.layers)
    if (l.as<View>()) {
      uf.unite(l.output, l.inputs.at(0));
      aliased[l.output] = 1;
    }
  const std::vector<int> first_concat = first_concat_readers(g);
  for (size_t t = 0; t < n; ++t)
    if (first_concat[t] >= 0 && !aliased[t] && g.tensors[t].is_feature_map()) {
      uf.unite(static_cast<int>(t), g.layers[static_cast<size_t>(first_concat[t])].output);
      aliased[t] = 1;
    }

  MemoryPlan p;
  p.alignment = opt.alignment;
  p.reserved_bytes = opt.reserved_bytes;
  p.activation_start = align_up(opt.reserved_bytes, opt.alignment);
  p.l2_capacity_bytes = opt.l2_capacity_bytes;
  p.num_steps = f.num_steps;
  p.tensor_class.assign(n, -1);
  p.tensor_offset.assign(n, -1);

  DORY_CHECK(opt.excluded.empty() || opt.excluded.size() == n,
             fmt::format("memplan: {} exclusion flags for {} tensors", opt.excluded.size(), n));
  p.excluded = opt.excluded;
  auto excluded = [&](size_t t) { return !opt.excluded.empty() && opt.excluded[t]; };
  std::vector<int> class_of_root(n, -1);
  for (size_t t = 0; t < n; ++t) {
    const TensorId id = static_cast<TensorId>(t);
    if (!f.used(id)) continue;
    DORY_CHECK(excluded(t) == excluded(static_cast<size_t>(uf.find(static_cast<int>(t)))),
               fmt::format("memplan: '{}' is excluded from the level but not all of its storage is",
                           g.tensors[t].name));
    if (excluded(t)) continue;
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
  p.extras = opt.extras;
  for (size_t e = 0; e < opt.extras.size(); ++e) {
    const ExtraBuffer& x = opt.extras[e];
    DORY_CHECK(x.bytes >= 0 && x.life.first >= 0 && x.life.first <= x.life.last && x.life.last < f.num_steps,
               fmt::format("memplan: extra buffer '{}' of {} B live at steps {}..{} of {}", x.name, x.bytes,
                           x.life.first, x.life.last, f.num_steps));
    StorageClass c;
    c.extra = static_cast<int>(e);
    c.bytes = x.bytes;
    c.aligned_bytes = align_up(x.bytes, opt.alignment);
    c.life = x.life;
    p.classes.push_back(c);
  }
  std::sort(p.classes.begin(), p.classes.end(), [](const StorageClass& a, const StorageClass& b) {
    if (a.life.first != b.life.first) return a.life.first < b.life.first;
    return a.owner != b.owner ? a.owner < b.owner : a.extra < b.extra;
  });

  p.live_bytes_per_step.assign(static_cast<size_t>(p.num_steps), 0);
  for (const StorageClass& c : p.classes)
    for (int s = c.life.first; s <= c.life.last; ++s) p.live_bytes_per_step[s] += c.aligned_bytes;
  p.lower_bound_bytes = *std::max_element(p.live_bytes_per_step.begin(), p.live_bytes_per_step.end());
  p.extra_offset.assign(opt.extras.size(), -1);

  // Placement: every strategy, keeping the first with the smallest peak (offsets relative to activation_start).
  const std::vector<std::vector<int>> conflicts = time_conflicts(p.classes);
  Placement best;
  bool chosen = false;
  for (const Strategy& s : kStrategies) {
    if (!opt.strategy.empty() && opt.strategy != s.name) continue;
    Placement cand = place(p.classes, conflicts, placement_order(p.classes, p.live_bytes_per_step, s.order), s.fit,
                           p.lower_bound_bytes);
    if (!chosen || cand.peak < best.peak) {
      chosen = true;
      best = std::move(cand);
      p.strategy = s.name;
      if (best.peak == p.lower_bound_bytes) break;  // optimal: no strategy can do better
    }
  }

  int64_t end = p.activation_start;
  for (size_t i = 0; i < p.classes.size(); ++i) {
    StorageClass& c = p.classes[i];
    c.offset = p.activation_start + best.offset[i];
    end = std::max(end, c.end());
    if (c.extra >= 0) p.extra_offset[static_cast<size_t>(c.extra)] = c.offset;
    for (TensorId t : c.members) {
      p.tensor_class[t] = static_cast<int>(i);
      p.tensor_offset[t] = c.offset;
    }
  }
  p.activation_bytes = end - p.activation_start;
  p.total_bytes = end;

  const Status check = check_memory_plan(g, p);
  DORY_CHECK(check.ok(), check.ok() ? "" : "memplan: the plan fails its own check: " + check.error().str());
  if (p.l2_capacity_bytes > 0 && p.total_bytes > p.l2_capacity_bytes) return overflow_diagnostic(g, p, f);
  return p;
}

std::vector<std::string> memory_plan_strategies() {
  std::vector<std::string> out;
  for (const Strategy& s : kStrategies) out.emplace_back(s.name);
  return out;
}

Status check_memory_plan(const Graph& g, const MemoryPlan& p) {
  auto fail = [](std::string message) {
    return make_internal_error("memplan-invalid", "L2 memory plan", std::move(message),
                      "this is a bug in dory (the planner's output breaks an invariant); please report it");
  };
  auto name = [&](TensorId t) { return fmt::format("'{}'", g.tensor(t).name); };
  auto cname = [&](const StorageClass& c) {
    return c.extra >= 0 && static_cast<size_t>(c.extra) < p.extras.size()
               ? fmt::format("extra buffer '{}'", p.extras[static_cast<size_t>(c.extra)].name)
               : name(c.owner);
  };
  const GraphFacts f = graph_facts(g);
  const size_t n = g.tensors.size();
  if (!p.excluded.empty() && p.excluded.size() != n)
    return fail(fmt::format("{} exclusion flags for {} tensors", p.excluded.size(), n));
  if (p.extra_offset.size() != p.extras.size())
    return fail(fmt::format("{} extra offsets for {} extra buffers", p.extra_offset.size(), p.extras.size()));
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
    if (!f.used(id) || p.is_excluded(id)) {
      if (c != -1 || p.tensor_offset[t] != -1)
        return fail(fmt::format("{} tensor {} has storage", f.used(id) ? "excluded" : "unused", name(id)));
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
  std::vector<int> extra_seen(p.extras.size(), 0);
  for (size_t i = 0; i < p.classes.size(); ++i) {
    const StorageClass& c = p.classes[i];
    if (c.extra >= 0) {
      if (static_cast<size_t>(c.extra) >= p.extras.size() || !c.members.empty() || c.owner != -1)
        return fail(fmt::format("storage class {} names extra buffer {} of {}, or has members", i, c.extra,
                                p.extras.size()));
      const ExtraBuffer& x = p.extras[static_cast<size_t>(c.extra)];
      extra_seen[static_cast<size_t>(c.extra)]++;
      if (c.bytes != x.bytes || c.aligned_bytes != align_up(c.bytes, p.alignment) || c.life.first != x.life.first || c.life.last != x.life.last)
        return fail(fmt::format("{} has {} B live at {}, the buffer {} B at {}", cname(c), c.bytes,
                                steps_text(c.life), x.bytes, steps_text(x.life)));
      if (c.offset % p.alignment != 0 || c.offset < p.activation_start || c.end() > p.total_bytes ||
          p.extra_offset[static_cast<size_t>(c.extra)] != c.offset)
        return fail(fmt::format("{} at [{}, {}) is misaligned or outside the activations [{}, {}), or not at its "
                                "extra offset {}",
                                cname(c), c.offset, c.end(), p.activation_start, p.total_bytes,
                                p.extra_offset[static_cast<size_t>(c.extra)]));
      if (c.life.first < 0 || c.life.first > c.life.last || c.life.last >= f.num_steps)
        return fail(fmt::format("{} has lifetime {}..{} outside 0..{}", cname(c), c.life.first, c.life.last,
                                f.num_steps - 1));
      end = std::max(end, c.end());
      continue;
    }
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
                                cname(a), a.offset, a.offset + a.bytes, steps_text(a.life), cname(b),
                                b.offset, b.offset + b.bytes, steps_text(b.life), step));
      }
    }

  for (size_t e = 0; e < extra_seen.size(); ++e)
    if (extra_seen[e] != 1)
      return fail(fmt::format("extra buffer '{}' has {} storage classes", p.extras[e].name, extra_seen[e]));
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

// ---- concat storage ---------------------------------------------------------------------------------------------

namespace {

std::string channels_text(int64_t first, int64_t count) { return fmt::format("[{}, {})", first, first + count); }

}  // namespace

Status check_concat_storage(const Graph& g) {
  const GraphFacts f = graph_facts(g);
  const std::vector<int> first_concat = first_concat_readers(g);  // where Concat inputs live: ir/graph.h
  auto name = [&](TensorId t) { return fmt::format("'{}'", g.tensor(t).name); };
  auto writer = [&](TensorId t) -> std::string {  // "'conv_a'" for a computing producer, else empty
    const int p = f.producer[t];
    if (p < 0 || g.layers[p].as<View>() || g.layers[p].as<Concat>()) return {};
    return fmt::format("'{}'", g.layers[p].name);
  };
  for (size_t i = 0; i < g.layers.size(); ++i) {
    const Layer& l = g.layers[i];
    if (!l.as<Concat>()) continue;
    const std::string location = fmt::format("layer '{}'", l.name);
    auto fail = [&](std::string message, std::string hint) {
      return make_error("deploy-unsupported-concat", location, std::move(message), std::move(hint));
    };
    int64_t channel = 0;  // first channel of inputs[k] in l.output
    for (size_t k = 0; k < l.inputs.size(); channel += g.tensor(l.inputs[k]).channels(), ++k) {
      const TensorId t = l.inputs[k];
      const Tensor& x = g.tensor(t);
      const std::string own_slice = fmt::format("channels {} of {}", channels_text(channel, x.channels()),
                                                name(l.output));
      const std::string copy_hint =
          writer(t).empty()
              ? fmt::format("feed {} to one Concat, once: reuse the Concat output that already holds it, or "
                            "concatenate a copy computed by a layer of its own",
                            name(t))
              : fmt::format("feed {} to one Concat, once: reuse the Concat output that already holds it, or "
                            "concatenate a copy computed by a layer of its own (e.g. a duplicate of {})",
                            name(t), writer(t));
      const auto dup = std::find(l.inputs.begin(), l.inputs.begin() + static_cast<std::ptrdiff_t>(k), t);
      if (dup != l.inputs.begin() + static_cast<std::ptrdiff_t>(k)) {
        return fail(fmt::format("input {} {} is also input {} of this Concat: dory stores a Concat input in place, "
                                "written once by its producer into the slice of its first occurrence, so {} would "
                                "never be written (dory has no copy layer)",
                                k + 1, name(t), dup - l.inputs.begin() + 1, own_slice),
                    copy_hint);
      }
      if (first_concat[t] != static_cast<int>(i)) {
        const Layer& first = g.layers[static_cast<size_t>(first_concat[t])];
        return fail(fmt::format("input {} {} is also an input of the earlier Concat '{}': dory stores a Concat input "
                                "in place, written once by its producer into the slice of its first Concat, so {} "
                                "would never be written (dory has no copy layer)",
                                k + 1, name(t), first.name, own_slice),
                    copy_hint);
      }
      const int producer = f.producer[t];
      if (producer >= 0 && g.layers[producer].as<View>()) {
        const TensorId src = g.layers[producer].inputs.at(0);
        const std::string src_writer =
            f.producer[src] >= 0 ? fmt::format("'{}' writes", g.layers[f.producer[src]].name) : "the host copies";
        return fail(fmt::format("input {} {} is the output of the view '{}' of {}: a view (Reshape, Flatten) moves "
                                "no data, so the values stay where {} {}, and nothing would write {}",
                                k + 1, name(t), g.layers[producer].name, name(src), src_writer, name(src),
                                own_slice),
                    "concatenate the output of a layer that computes it, not a view of it: drop a Reshape that "
                    "keeps the shape, or turn Gemm + Reshape to [1,N,1,1] into a 1x1 Conv on [1,K,1,1]");
      }
      const Tensor& out = g.tensor(l.output);
      if (dtype_bytes(x.dtype) != dtype_bytes(out.dtype)) {
        return fail(fmt::format("input {} {} is {} but the Concat output {} is {}: its producer writes {}-byte "
                                "elements into a slice of {}-byte elements",
                                k + 1, name(t), dtype_name(x.dtype), name(l.output), dtype_name(out.dtype),
                                dtype_bytes(x.dtype), dtype_bytes(out.dtype)),
                    "a Concat copies values unchanged, so its inputs need the output's element type: clamp every "
                    "input to the same range (e.g. the same Clip or Relu), so that dory stores them in one type");
      }
      const ChannelSlice s = concat_slice(g, first_concat, t);
      // A dense reader or writer at the storage's offset finds the tensor where its slice is when the slice starts
      // there and is the whole pixel (or the map a single pixel).
      if (s.first_channel == 0 && (s.pixel_channels == x.channels() || x.height() * x.width() == 1)) continue;
      const std::string where =
          fmt::format("{} lives at channels {} of {} ({} channels per pixel)", name(t),
                      channels_text(s.first_channel, x.channels()), name(s.storage), s.pixel_channels);
      if (f.is_input[t])
        return fail(fmt::format("input {} {} is a graph input, which the host copies into L2 as a dense tensor, "
                                "but {}",
                                k + 1, name(t), where),
                    fmt::format("concatenate layer outputs only: concatenate on the host (one graph input), or "
                                "concatenate the output of a layer that reads {} instead of {} itself",
                                name(t), name(t)));
      if (f.is_output[t])
        return fail(fmt::format("input {} {} is a graph output, which the host copies out of L2 as a dense tensor, "
                                "but {}",
                                k + 1, name(t), where),
                    writer(t).empty()
                        ? "make the graph output a tensor that no Concat reads (e.g. the Concat's output)"
                        : fmt::format("make the graph output a tensor that no Concat reads: the Concat's output, "
                                      "or a copy computed by a layer of its own (e.g. a duplicate of {})",
                                      writer(t)));
      for (const Layer& reader : g.layers) {
        if (std::find(reader.inputs.begin(), reader.inputs.end(), t) == reader.inputs.end()) continue;
        if (reader.as<View>())
          return fail(fmt::format("input {} {} is read through the view '{}' ({}), whose readers expect a dense "
                                  "tensor, but {}",
                                  k + 1, name(t), reader.name, name(reader.output), where),
                      writer(t).empty()
                          ? "apply the view to the Concat's output, not to one of its inputs"
                          : fmt::format("apply the view to the Concat's output, or to a copy computed by a layer "
                                        "of its own (e.g. a duplicate of {})",
                                        writer(t)));
        if (reader.as<FullyConnected>())
          return fail(fmt::format("input {} {} is also read by the fully connected layer '{}', which reads its "
                                  "input as a dense tensor, but {}",
                                  k + 1, name(t), reader.name, where),
                      writer(t).empty()
                          ? "let the fully connected layer read the Concat's output, not one of its inputs"
                          : fmt::format("let the fully connected layer read the Concat's output, or a copy "
                                        "computed by a layer of its own (e.g. a duplicate of {})",
                                        writer(t)));
      }
    }
  }
  return ok_status();
}

Lifetime tensor_own_steps(const Graph& g, TensorId t) { return graph_facts(g).own_lifetime(t); }

}  // namespace dory
