#include "target/target.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

namespace dory {

const char* mem_level_name(MemLevel level) {
  switch (level) {
    case MemLevel::L1: return "L1";
    case MemLevel::L2: return "L2";
    case MemLevel::L3: return "L3";
  }
  return "?";
}

const char* work_split_name(WorkSplit s) {
  return s == WorkSplit::Rows ? "rows" : s == WorkSplit::Channels ? "channels" : "auto";
}

CallSplit call_split(WorkSplit s, int64_t cores, int64_t h, int64_t c) {
  const auto ceil_div = [](int64_t a, int64_t b) { return (a + b - 1) / b; };
  if (s == WorkSplit::Auto) {
    const int64_t q = 4 * ceil_div(ceil_div(c, cores), 4);
    if (h < cores && q * h < c) return {WorkSplit::Channels, q};
    s = WorkSplit::Rows;
  }
  return {s, ceil_div(s == WorkSplit::Rows ? h : c, cores)};
}

const char* kernel_family_name(KernelFamily f) {
  switch (f) {
    case KernelFamily::Conv: return "conv";
    case KernelFamily::Pointwise: return "pointwise";
    case KernelFamily::Depthwise: return "depthwise";
    case KernelFamily::Fc: return "fc";
    case KernelFamily::Pool: return "pool";
    case KernelFamily::Add: return "add";
  }
  return "?";
}

bool is_mac_family(KernelFamily f) { return f != KernelFamily::Pool && f != KernelFamily::Add; }

double DmaEngine::bandwidth(MemLevel src, MemLevel dst) const {
  if (src == from && dst == to) return bandwidth_bytes_per_cycle;
  DORY_CHECK(src == to && dst == from, fmt::format("DMA engine '{}' does not connect {} and {}", name,
                                                   mem_level_name(src), mem_level_name(dst)));
  return reverse_bandwidth_bytes_per_cycle;
}

double EnergyParams::pj_per_byte(MemLevel level) const {
  switch (level) {
    case MemLevel::L1: return l1_pj_per_byte;
    case MemLevel::L2: return l2_pj_per_byte;
    case MemLevel::L3:
      DORY_CHECK(l3_pj_per_byte.has_value(), "L3 energy asked of a target without L3");
      return *l3_pj_per_byte;
  }
  return 0;
}

const MemorySpec& Target::memory(MemLevel level) const {
  switch (level) {
    case MemLevel::L1: return l1;
    case MemLevel::L2: return l2;
    case MemLevel::L3: break;
  }
  DORY_CHECK(l3.has_value(), fmt::format("target '{}' has no L3", name));
  return *l3;
}

const DmaEngine* Target::dma_between(MemLevel a, MemLevel b) const {
  for (const DmaEngine& e : dma)
    if (e.connects(a, b)) return &e;
  return nullptr;
}

KernelFamily kernel_op_family(KernelOp op) {
  switch (op) {
    case KernelOp::Conv: return KernelFamily::Conv;
    case KernelOp::Pointwise: return KernelFamily::Pointwise;
    case KernelOp::Depthwise: return KernelFamily::Depthwise;
    case KernelOp::Fc: return KernelFamily::Fc;
    case KernelOp::MaxPool:
    case KernelOp::AvgPool: return KernelFamily::Pool;
    case KernelOp::Add:
    case KernelOp::Requantize: return KernelFamily::Add;
  }
  return KernelFamily::Conv;
}

const std::vector<KernelImpl>& KernelParams::family(KernelFamily f) const {
  switch (f) {
    case KernelFamily::Conv: return conv;
    case KernelFamily::Pointwise: return pointwise;
    case KernelFamily::Depthwise: return depthwise;
    case KernelFamily::Fc: return fc;
    case KernelFamily::Pool: return pool;
    case KernelFamily::Add: return add;
  }
  return conv;
}

std::vector<KernelImpl>& KernelParams::family(KernelFamily f) {
  return const_cast<std::vector<KernelImpl>&>(static_cast<const KernelParams&>(*this).family(f));
}

const KernelImpl* KernelParams::find(const std::string& registry_name) const {
  for (KernelFamily f : kAllKernelFamilies)
    for (const KernelImpl& k : family(f))
      if (k.name() == registry_name) return &k;
  return nullptr;
}

KernelImpl* KernelParams::find(const std::string& registry_name) {
  return const_cast<KernelImpl*>(static_cast<const KernelParams&>(*this).find(registry_name));
}

namespace {

bool takes_all(const RegistryKernel& k, const std::vector<DType>& types) {
  return std::all_of(types.begin(), types.end(), [&](DType t) { return k.takes(t); });
}

}  // namespace

const KernelImpl& Target::kernel_for(const KernelQuery& q) const {
  for (const KernelImpl& k : kernels.family(kernel_op_family(q.op)))
    if (k.kernel->op == q.op && takes_all(*k.kernel, q.inputs)) return k;
  internal_error(__FILE__, __LINE__,
                 fmt::format("target '{}' has no kernel for op '{}' (validation should have refused it)", name,
                             kernel_op_name(q.op)));
}

namespace {

using json = nlohmann::json;
namespace fs = std::filesystem;

constexpr int64_t kNoLimit = std::numeric_limits<int64_t>::max();

// ---- diagnostics -----------------------------------------------------------------------------------------------

// Everything an error needs to say where it is: the file (origin) and the field path inside it.
struct Ctx {
  std::string origin;
  Diagnostic error(std::string code, const std::string& path, std::string message, std::string hint = {}) const {
    return make_error(std::move(code), path.empty() ? origin : origin + ": " + path, std::move(message),
                      std::move(hint));
  }
};

std::string join_path(const std::string& parent, const std::string& key) {
  return parent.empty() ? key : parent + "." + key;
}

std::string json_type_name(const json& v) {
  switch (v.type()) {
    case json::value_t::null: return "null";
    case json::value_t::boolean: return "a boolean";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned: return "an integer";
    case json::value_t::number_float: return "a number with a fraction or exponent";
    case json::value_t::string: return "a string";
    case json::value_t::array: return "an array";
    case json::value_t::object: return "an object";
    default: return "an unsupported value";
  }
}

std::string value_text(const json& v) {
  std::string s = v.dump();
  if (s.size() > 48) s = s.substr(0, 45) + "...";
  return s;
}

std::string quoted_list(const std::vector<std::string>& names) {
  std::string s;
  for (size_t i = 0; i < names.size(); ++i) s += (i ? ", " : "") + ("'" + names[i] + "'");
  return s;
}

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t up = row[j];
      const bool same = std::tolower(static_cast<unsigned char>(a[i - 1])) ==
                        std::tolower(static_cast<unsigned char>(b[j - 1]));
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (same ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

// "did you mean 'size_bytes'?" when one allowed name is close to `key`, else empty.
std::string did_you_mean(const std::string& key, const std::vector<std::string>& allowed) {
  std::string best;
  size_t best_d = std::numeric_limits<size_t>::max();
  for (const std::string& a : allowed) {
    const size_t d = edit_distance(key, a);
    if (d < best_d) best_d = d, best = a;
  }
  if (best.empty() || best_d > std::max<size_t>(2, key.size() / 3)) return {};
  return fmt::format("did you mean '{}'?", best);
}

// ---- reading one JSON object -----------------------------------------------------------------------------------

enum class Sign { Positive, NonNegative };

// A JSON object at a field path, with typed, range-checked accessors that produce located diagnostics.
class Obj {
 public:
  Obj(const Ctx& ctx, const json& j, std::string path) : ctx_(&ctx), j_(&j), path_(std::move(path)) {}

  const std::string& path() const { return path_; }
  std::string path(const std::string& key) const { return join_path(path_, key); }
  bool has(const std::string& key) const { return j_->contains(key); }

  // Every key must be one of `allowed` (typos must not be silently ignored).
  Status check_keys(const std::vector<std::string>& allowed, const std::string& what) const {
    for (const auto& [key, value] : j_->items()) {
      if (std::find(allowed.begin(), allowed.end(), key) != allowed.end()) continue;
      return ctx_->error("target-unknown-field", path(key),
                         fmt::format("unknown field '{}'; {} has the fields {}", key, what, quoted_list(allowed)),
                         did_you_mean(key, allowed));
    }
    return ok_status();
  }

  Expected<const json*> require(const std::string& key, const std::string& why = {}) const {
    auto it = j_->find(key);
    if (it == j_->end())
      return ctx_->error("target-missing-field", path(key),
                         why.empty() ? "required field is missing" : "required field is missing: " + why,
                         "see docs/targets.md for the fields of a target description");
    return &*it;
  }

  Diagnostic type_error(const std::string& key, const json& v, const std::string& expected) const {
    return ctx_->error("target-type", path(key),
                       fmt::format("expected {}, got {} ({})", expected, json_type_name(v), value_text(v)));
  }

  // An integer >= min; `rule` says what it is, e.g. "a positive number of bytes".
  Expected<int64_t> integer(const std::string& key, int64_t min, const std::string& rule) const {
    DORY_TRY(const json* v, require(key));
    return integer_value(key, *v, min, rule);
  }
  Expected<int64_t> integer_or(const std::string& key, int64_t fallback, int64_t min,
                               const std::string& rule) const {
    if (!has(key)) return fallback;
    return integer(key, min, rule);
  }
  Expected<int64_t> integer_value(const std::string& key, const json& v, int64_t min,
                                  const std::string& rule) const {
    if (!v.is_number_integer()) return type_error(key, v, "an integer");
    if (v.is_number_unsigned() && v.get<uint64_t>() > static_cast<uint64_t>(kNoLimit))
      return ctx_->error("target-value", path(key), fmt::format("got {}, which is too large", value_text(v)));
    const int64_t x = v.get<int64_t>();
    if (x < min) return ctx_->error("target-value", path(key), fmt::format("got {}; must be {}", x, rule));
    return x;
  }

  // A finite number, > 0 or >= 0.
  Expected<double> number(const std::string& key, Sign sign, const std::string& rule) const {
    DORY_TRY(const json* v, require(key));
    if (!v->is_number()) return type_error(key, *v, "a number");
    const double x = v->get<double>();
    const bool ok = std::isfinite(x) && (sign == Sign::Positive ? x > 0 : x >= 0);
    if (!ok) return ctx_->error("target-value", path(key), fmt::format("got {}; must be {}", value_text(*v), rule));
    return x;
  }

  Expected<std::string> string(const std::string& key) const {
    DORY_TRY(const json* v, require(key));
    if (!v->is_string()) return type_error(key, *v, "a string");
    return v->get<std::string>();
  }

  Expected<Obj> object(const std::string& key, const std::string& why = {}) const {
    DORY_TRY(const json* v, require(key, why));
    if (!v->is_object()) return type_error(key, *v, "an object");
    return Obj(*ctx_, *v, path(key));
  }

  Expected<const json*> array(const std::string& key) const {
    DORY_TRY(const json* v, require(key));
    if (!v->is_array()) return type_error(key, *v, "an array");
    return v;
  }

  const Ctx& ctx() const { return *ctx_; }

 private:
  const Ctx* ctx_;
  const json* j_;
  std::string path_;
};

Expected<MemLevel> level_value(const Obj& o, const std::string& key) {
  DORY_TRY(std::string s, o.string(key));
  if (s == "L1") return MemLevel::L1;
  if (s == "L2") return MemLevel::L2;
  if (s == "L3") return MemLevel::L3;
  return o.ctx().error("target-value", o.path(key),
                       fmt::format("got \"{}\"; must be one of \"L1\", \"L2\", \"L3\"", s));
}

Expected<WorkSplit> split_value(const Obj& o) {
  DORY_TRY(std::string s, o.string("split"));
  if (s == "rows") return WorkSplit::Rows;
  if (s == "channels") return WorkSplit::Channels;
  if (s == "auto") return WorkSplit::Auto;
  return o.ctx().error("target-value", o.path("split"),
                       fmt::format("got \"{}\"; must be \"rows\" (output rows shared among the cores), "
                                   "\"channels\" (output channels shared among the cores) or \"auto\" (rows, "
                                   "or channels when a tile has fewer rows than cores and they share better)",
                                   s));
}

bool is_power_of_two(int64_t x) { return x > 0 && (x & (x - 1)) == 0; }

// ---- sections --------------------------------------------------------------------------------------------------

Expected<MemorySpec> parse_memory(const Obj& o, bool l2 = false) {
  std::vector<std::string> keys = {"size_bytes", "reserved_bytes", "access_cycles", "alignment_bytes"};
  if (l2) keys.push_back("program_image");
  DORY_TRY_STATUS(o.check_keys(keys, l2 ? "L2" : "a memory level"));
  MemorySpec m;
  DORY_TRY(m.size_bytes, o.integer("size_bytes", 1, "a positive number of bytes"));
  DORY_TRY(m.reserved_bytes, o.integer("reserved_bytes", 0, "a non-negative number of bytes"));
  DORY_TRY(m.access_cycles, o.integer("access_cycles", 1, "at least 1 (the latency of one core load, in cycles)"));
  DORY_TRY(m.alignment_bytes, o.integer("alignment_bytes", 1, "a positive power of two"));
  if (!is_power_of_two(m.alignment_bytes))
    return o.ctx().error("target-value", o.path("alignment_bytes"),
                         fmt::format("got {}; must be a power of two (1, 2, 4, 8, ...)", m.alignment_bytes));
  if (m.reserved_bytes >= m.size_bytes)
    return o.ctx().error(
        "target-inconsistent", o.path("reserved_bytes"),
        fmt::format("reserved_bytes is {} but size_bytes is {}: nothing would be left for dory's buffers "
                    "(rule: reserved_bytes < size_bytes)",
                    m.reserved_bytes, m.size_bytes));
  if (l2 && o.has("program_image")) {
    DORY_TRY(m.program_image, o.string("program_image"));
    const RuntimePlatform* p = runtime_registry().platform(m.program_image);
    if (!p || !p->image)
      return o.ctx().error("target-value", o.path("program_image"),
                           fmt::format("got \"{}\"; must be a runtime platform whose program image dory can account "
                                       "for (runtime/registry.json: {})",
                                       m.program_image, "\"pulp-open\""),
                           "remove the field to have reserved_bytes cover the program");
  }
  return m;
}

const std::vector<std::string> kDmaKeys = {"name",
                                           "from",
                                           "to",
                                           "bandwidth_bytes_per_cycle",
                                           "reverse_bandwidth_bytes_per_cycle",
                                           "setup_cycles",
                                           "row_cycles",
                                           "issue_cycles",
                                           "transfer_cycles",
                                           "max_outstanding",
                                           "max_dims",
                                           "max_row_bytes",
                                           "max_rows",
                                           "max_transfer_bytes",
                                           "max_stride_bytes",
                                           "strided_memory"};

Expected<DmaEngine> parse_dma(const Obj& o, const Target& t) {
  DORY_TRY_STATUS(o.check_keys(kDmaKeys, "a DMA engine"));
  DmaEngine e;
  DORY_TRY(e.name, o.string("name"));
  if (e.name.empty()) return o.ctx().error("target-value", o.path("name"), "got \"\"; must be a non-empty name");
  DORY_TRY(e.from, level_value(o, "from"));
  DORY_TRY(e.to, level_value(o, "to"));
  for (const char* key : {"from", "to"}) {
    const MemLevel l = std::string(key) == "from" ? e.from : e.to;
    if (!t.has(l))
      return o.ctx().error("target-inconsistent", o.path(key),
                           fmt::format("DMA engine '{}' connects {}, but memories has no {} (rule: a DMA engine "
                                       "connects two memory levels that exist)",
                                       e.name, mem_level_name(l), mem_level_name(l)),
                           "describe the memory under memories, or remove the engine");
  }
  if (e.from == e.to)
    return o.ctx().error("target-inconsistent", o.path("to"),
                         fmt::format("DMA engine '{}' goes from {} to itself (rule: from and to differ)", e.name,
                                     mem_level_name(e.from)));
  const std::string bw_rule = "> 0 (bytes per cycle)";
  DORY_TRY(e.bandwidth_bytes_per_cycle, o.number("bandwidth_bytes_per_cycle", Sign::Positive, bw_rule));
  e.reverse_bandwidth_bytes_per_cycle = e.bandwidth_bytes_per_cycle;
  if (o.has("reverse_bandwidth_bytes_per_cycle")) {
    DORY_TRY(e.reverse_bandwidth_bytes_per_cycle,
             o.number("reverse_bandwidth_bytes_per_cycle", Sign::Positive, bw_rule));
  }
  const std::string cycles_rule = ">= 0 (cycles)";
  DORY_TRY(e.setup_cycles, o.number("setup_cycles", Sign::NonNegative, cycles_rule));
  DORY_TRY(e.row_cycles, o.number("row_cycles", Sign::NonNegative, cycles_rule));
  DORY_TRY(e.issue_cycles, o.number("issue_cycles", Sign::NonNegative, cycles_rule));
  if (o.has("transfer_cycles")) {
    DORY_TRY(e.transfer_cycles, o.number("transfer_cycles", Sign::NonNegative, cycles_rule));
  }
  DORY_TRY(e.max_outstanding, o.integer("max_outstanding", 1, "at least 1 (transfers in flight)"));
  DORY_TRY(e.max_dims, o.integer("max_dims", 1, "1, 2 or 3"));
  if (e.max_dims > 3)
    return o.ctx().error("target-value", o.path("max_dims"), fmt::format("got {}; must be 1, 2 or 3", e.max_dims));
  DORY_TRY(e.max_row_bytes, o.integer("max_row_bytes", 1, "a positive number of bytes"));
  DORY_TRY(e.max_rows, o.integer("max_rows", 1, "at least 1"));
  if (e.max_dims == 1 && e.max_rows != 1)
    return o.ctx().error("target-inconsistent", o.path("max_rows"),
                         fmt::format("max_rows is {} but max_dims is 1: a 1-D engine moves one row per command "
                                     "(rule: max_rows == 1 when max_dims == 1)",
                                     e.max_rows));
  const int64_t product =
      e.max_row_bytes > kNoLimit / e.max_rows ? kNoLimit : e.max_row_bytes * e.max_rows;  // saturating
  DORY_TRY(e.max_transfer_bytes, o.integer_or("max_transfer_bytes", product, 1, "a positive number of bytes"));
  DORY_TRY(e.max_stride_bytes, o.integer_or("max_stride_bytes", kNoLimit, 1, "a positive number of bytes"));
  if (o.has("strided_memory")) {
    DORY_TRY(MemLevel s, level_value(o, "strided_memory"));
    if (s != e.from && s != e.to)
      return o.ctx().error("target-inconsistent", o.path("strided_memory"),
                           fmt::format("DMA engine '{}' connects {} and {}, so its strided side cannot be {}", e.name,
                                       mem_level_name(e.from), mem_level_name(e.to), mem_level_name(s)));
    e.strided_memory = s;
  }
  return e;
}

// The impl field of a kernel entry: one registry name or a list of them (sharing the entry's rates).
Expected<std::vector<const RegistryKernel*>> impl_value(const Obj& o, KernelFamily family) {
  DORY_TRY(const json* v, o.require("impl", "the registry kernel(s) this entry prices (runtime/registry.json)"));
  std::vector<std::string> names;
  if (v->is_string()) {
    names.push_back(v->get<std::string>());
  } else if (v->is_array() && !v->empty() && std::all_of(v->begin(), v->end(), [](const json& e) { return e.is_string(); })) {
    for (const json& e : *v) names.push_back(e.get<std::string>());
  } else {
    return o.type_error("impl", *v, "a kernel name or a non-empty array of kernel names");
  }
  const RuntimeRegistry& reg = runtime_registry();
  std::vector<const RegistryKernel*> out;
  for (const std::string& n : names) {
    const RegistryKernel* k = reg.find(n);
    if (!k) {
      std::vector<std::string> known;
      for (const RegistryKernel& r : reg.kernels)
        if (kernel_op_family(r.op) == family) known.push_back(r.name);
      return o.ctx().error("target-unknown-kernel", o.path("impl"),
                           fmt::format("'{}' is not a kernel of dory's runtime; the {} kernels are {}", n,
                                       kernel_family_name(family), quoted_list(known)),
                           did_you_mean(n, known));
    }
    if (kernel_op_family(k->op) != family)
      return o.ctx().error("target-inconsistent", o.path("impl"),
                           fmt::format("'{}' computes {}, not a '{}' kernel (rule: a family lists its own kernels)", n,
                                       kernel_op_name(k->op), kernel_family_name(family)));
    out.push_back(k);
  }
  return out;
}

Expected<MacKernelParams> parse_mac_kernel(const Obj& o) {
  DORY_TRY_STATUS(o.check_keys({"impl", "macs_per_cycle", "call_cycles", "row_cycles", "im2col_cycles_per_byte",
                                "pixel_cycles", "channel_cycles", "output_cycles", "output_cycles_wide",
                                "output_cycles_partial", "executor_tile_cycles", "split"},
                               "a MAC kernel entry"));
  MacKernelParams k;
  DORY_TRY(k.macs_per_cycle, o.number("macs_per_cycle", Sign::Positive, "> 0 (MACs per cycle per core)"));
  DORY_TRY(k.call_cycles, o.number("call_cycles", Sign::NonNegative, ">= 0 (cycles)"));
  DORY_TRY(k.row_cycles, o.number("row_cycles", Sign::NonNegative, ">= 0 (cycles)"));
  DORY_TRY(k.im2col_cycles_per_byte,
           o.number("im2col_cycles_per_byte", Sign::NonNegative, ">= 0 (cycles per byte of the window patch)"));
  // The per-pixel and per-output terms are optional (0); a 64-bit requantization costs what a 32-bit one does
  // unless said otherwise.
  if (o.has("pixel_cycles")) {
    DORY_TRY(k.pixel_cycles, o.number("pixel_cycles", Sign::NonNegative, ">= 0 (cycles per output pixel)"));
  }
  if (o.has("channel_cycles")) {
    DORY_TRY(k.channel_cycles, o.number("channel_cycles", Sign::NonNegative, ">= 0 (cycles per output channel)"));
  }
  if (o.has("output_cycles")) {
    DORY_TRY(k.output_cycles, o.number("output_cycles", Sign::NonNegative, ">= 0 (cycles per output value)"));
  }
  k.output_cycles_wide = k.output_cycles;
  if (o.has("output_cycles_wide")) {
    DORY_TRY(k.output_cycles_wide,
             o.number("output_cycles_wide", Sign::NonNegative, ">= 0 (cycles per output value)"));
  }
  k.output_cycles_partial = std::max(k.output_cycles, k.output_cycles_wide);
  if (o.has("output_cycles_partial")) {
    DORY_TRY(k.output_cycles_partial,
             o.number("output_cycles_partial", Sign::NonNegative, ">= 0 (cycles per output value)"));
  }
  DORY_TRY(k.split, split_value(o));
  return k;
}

Expected<ElementwiseKernelParams> parse_elementwise_kernel(const Obj& o) {
  DORY_TRY_STATUS(o.check_keys({"impl", "elements_per_cycle", "call_cycles", "row_cycles", "output_cycles",
                                "executor_tile_cycles", "split"},
                               "an element-wise kernel entry"));
  ElementwiseKernelParams k;
  DORY_TRY(k.elements_per_cycle,
           o.number("elements_per_cycle", Sign::Positive, "> 0 (elements per cycle per core)"));
  DORY_TRY(k.call_cycles, o.number("call_cycles", Sign::NonNegative, ">= 0 (cycles)"));
  DORY_TRY(k.row_cycles, o.number("row_cycles", Sign::NonNegative, ">= 0 (cycles)"));
  if (o.has("output_cycles")) {
    DORY_TRY(k.output_cycles, o.number("output_cycles", Sign::NonNegative, ">= 0 (cycles per output value)"));
  }
  DORY_TRY(k.split, split_value(o));
  return k;
}

// One family: an entry object or an array of them, in order of preference.
Expected<std::vector<KernelImpl>> parse_family(const Obj& kernels, KernelFamily f) {
  const std::string key = kernel_family_name(f);
  DORY_TRY(const json* v, kernels.require(key, "every target defines the kernel families 'conv', 'pointwise', "
                                               "'depthwise', 'fc', 'pool' and 'add'"));
  std::vector<std::pair<const json*, std::string>> entries;
  if (v->is_object()) {
    entries.emplace_back(v, kernels.path(key));
  } else if (v->is_array() && !v->empty()) {
    for (size_t i = 0; i < v->size(); ++i) entries.emplace_back(&(*v)[i], fmt::format("{}[{}]", kernels.path(key), i));
  } else {
    return kernels.type_error(key, *v, "a kernel entry or a non-empty array of them");
  }
  std::vector<KernelImpl> out;
  for (const auto& [ej, path] : entries) {
    if (!ej->is_object())
      return kernels.ctx().error("target-type", path,
                                 fmt::format("expected an object, got {} ({})", json_type_name(*ej), value_text(*ej)));
    const Obj eo(kernels.ctx(), *ej, path);
    KernelImpl proto;
    if (is_mac_family(f)) {
      DORY_TRY(proto.mac, parse_mac_kernel(eo));
    } else {
      DORY_TRY(proto.elementwise, parse_elementwise_kernel(eo));
    }
    if (eo.has("executor_tile_cycles")) {
      DORY_TRY(proto.executor_tile_cycles,
               eo.number("executor_tile_cycles", Sign::NonNegative, ">= 0 (cycles per tile of the executor)"));
    }
    DORY_TRY(std::vector<const RegistryKernel*> impls, impl_value(eo, f));
    for (const RegistryKernel* k : impls) {
      if (is_mac_family(f) && k->peak_macs_per_cycle && proto.mac.macs_per_cycle > *k->peak_macs_per_cycle)
        return kernels.ctx().error(
            "target-value", eo.path("macs_per_cycle"),
            fmt::format("{} MACs per cycle per core for '{}' exceeds its inner loop's bound of {} (rule: no target "
                        "claims a rate its kernel cannot reach; runtime/registry.json peak_macs_per_cycle)",
                        proto.mac.macs_per_cycle, k->name, *k->peak_macs_per_cycle),
            "measure the kernel (bench/fit_cost_model) and give at most the bound");
      KernelImpl impl = proto;
      impl.kernel = k;
      impl.mac.channel_block = k->channel_block;
      impl.mac.pixel_block = k->pixel_block;
      out.push_back(impl);
    }
  }
  // Total: every op of the family has an entry that takes every activation type.
  for (KernelOp op : kAllKernelOps) {
    if (kernel_op_family(op) != f) continue;
    const bool covered = std::any_of(out.begin(), out.end(), [&](const KernelImpl& k) {
      return k.kernel->op == op && k.kernel->takes_any();
    });
    if (!covered) {
      std::vector<std::string> any;
      for (const RegistryKernel& r : runtime_registry().kernels)
        if (r.op == op && r.takes_any()) any.push_back(r.name);
      return kernels.ctx().error(
          "target-inconsistent", kernels.path(key),
          fmt::format("no kernel of '{}' computes {} for every activation type (rule: each op of a family has a "
                      "kernel taking \"any\" input type, after the specialised ones)",
                      key, kernel_op_name(op)),
          fmt::format("add an entry with impl {}", quoted_list(any)));
    }
  }
  return out;
}

Status parse_kernels(const Obj& o, KernelParams& k) {
  std::vector<std::string> families;
  for (KernelFamily f : kAllKernelFamilies) families.push_back(kernel_family_name(f));
  DORY_TRY_STATUS(o.check_keys(families, "kernels"));
  DORY_TRY(k.conv, parse_family(o, KernelFamily::Conv));
  DORY_TRY(k.pointwise, parse_family(o, KernelFamily::Pointwise));
  DORY_TRY(k.depthwise, parse_family(o, KernelFamily::Depthwise));
  DORY_TRY(k.fc, parse_family(o, KernelFamily::Fc));
  DORY_TRY(k.pool, parse_family(o, KernelFamily::Pool));
  DORY_TRY(k.add, parse_family(o, KernelFamily::Add));
  return ok_status();
}

Expected<EnergyParams> parse_energy(const Obj& o, bool has_l3) {
  DORY_TRY_STATUS(o.check_keys({"core_active_pj_per_cycle", "cluster_idle_pj_per_cycle", "l1_pj_per_byte",
                                "l2_pj_per_byte", "l3_pj_per_byte"},
                               "energy"));
  EnergyParams e;
  const std::string rule = ">= 0 (picojoules)";
  DORY_TRY(e.core_active_pj_per_cycle, o.number("core_active_pj_per_cycle", Sign::NonNegative, rule));
  DORY_TRY(e.cluster_idle_pj_per_cycle, o.number("cluster_idle_pj_per_cycle", Sign::NonNegative, rule));
  DORY_TRY(e.l1_pj_per_byte, o.number("l1_pj_per_byte", Sign::NonNegative, rule));
  DORY_TRY(e.l2_pj_per_byte, o.number("l2_pj_per_byte", Sign::NonNegative, rule));
  if (has_l3) {
    DORY_TRY(const json* unused, o.require("l3_pj_per_byte", "memories has an L3"));
    (void)unused;
    DORY_TRY(e.l3_pj_per_byte, o.number("l3_pj_per_byte", Sign::NonNegative, rule));
  } else if (o.has("l3_pj_per_byte")) {
    return o.ctx().error("target-inconsistent", o.path("l3_pj_per_byte"),
                         "l3_pj_per_byte is given but memories has no L3 (rule: present exactly when L3 is)");
  }
  return e;
}

Expected<ExecutorParams> parse_executor(const Obj& o) {
  DORY_TRY_STATUS(o.check_keys({"layer_cycles", "tile_cycles"}, "executor"));
  ExecutorParams e;
  const std::string rule = ">= 0 (cycles)";
  if (o.has("layer_cycles")) {
    DORY_TRY(e.layer_cycles, o.number("layer_cycles", Sign::NonNegative, rule));
  }
  if (o.has("tile_cycles")) {
    DORY_TRY(e.tile_cycles, o.number("tile_cycles", Sign::NonNegative, rule));
  }
  return e;
}

bool valid_name(const std::string& s) {
  if (s.empty() || s.size() > 64) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
  });
}

// ---- JSON text -------------------------------------------------------------------------------------------------

// Finds the first duplicate key while nlohmann parses (it would silently keep the last one), with its path.
class DuplicateKeyFinder {
 public:
  bool on_event(json::parse_event_t event, const json& parsed) {
    switch (event) {
      case json::parse_event_t::object_start:
      case json::parse_event_t::array_start:
        element_started();
        stack_.push_back(Frame{event == json::parse_event_t::object_start, {}, {}, -1});
        break;
      case json::parse_event_t::object_end:
      case json::parse_event_t::array_end:
        if (!stack_.empty()) stack_.pop_back();
        break;
      case json::parse_event_t::key: {
        Frame& f = stack_.back();
        f.key = parsed.get<std::string>();
        if (!f.keys.insert(f.key).second && !found_) found_ = path();
        break;
      }
      case json::parse_event_t::value: element_started(); break;
    }
    return true;
  }
  const std::optional<std::string>& duplicate() const { return found_; }

 private:
  struct Frame {
    bool is_object;
    std::set<std::string> keys;
    std::string key;  // objects: the key being read
    int64_t index;    // arrays: the element being read
  };
  void element_started() {
    if (!stack_.empty() && !stack_.back().is_object) ++stack_.back().index;
  }
  std::string path() const {
    std::string p;
    for (const Frame& f : stack_) {
      if (f.is_object)
        p = join_path(p, f.key);
      else
        p += fmt::format("[{}]", f.index);
    }
    return p;
  }
  std::vector<Frame> stack_;
  std::optional<std::string> found_;
};

Diagnostic parse_error_diagnostic(const Ctx& ctx, const std::string& text, const json::parse_error& e) {
  // e.byte is the 1-based position of the character where parsing failed.
  const size_t pos = std::min<size_t>(e.byte == 0 ? 0 : e.byte - 1, text.size());
  size_t line = 1, line_start = 0;
  for (size_t i = 0; i < pos; ++i)
    if (text[i] == '\n') ++line, line_start = i + 1;
  const size_t column = pos - line_start + 1;
  std::string what = e.what();
  // nlohmann: "[json.exception.parse_error.101] parse error at line 3, column 7: syntax error while ..."
  if (size_t c = what.find("column "); c != std::string::npos)
    if (size_t colon = what.find(": ", c); colon != std::string::npos) what = what.substr(colon + 2);
  // "...; last read: '<token so far>'": a long string token would swamp the message; keep its end.
  const std::string marker = "last read: '";
  if (size_t lr = what.find(marker); lr != std::string::npos) {
    const size_t start = lr + marker.size();
    const size_t end = what.rfind('\'');
    if (end != std::string::npos && end > start && end - start > 40)
      what = what.substr(0, start) + "..." + what.substr(end - 37);
  }
  return make_error("target-parse", fmt::format("{}:{}:{}", ctx.origin, line, column),
                    "not valid JSON: " + what,
                    "a target description is one JSON object (comments allowed); see docs/targets.md");
}

// ---- the whole target ------------------------------------------------------------------------------------------

const std::vector<std::string> kTopKeys = {"schema", "name",    "description", "sources", "clock_hz",
                                           "cores",  "memories", "dma",        "kernels", "executor",
                                           "energy"};

Expected<Target> parse_root(const Ctx& ctx, const json& root) {
  if (!root.is_object())
    return ctx.error("target-type", "",
                     fmt::format("expected a JSON object at the top level, got {}", json_type_name(root)));
  const Obj top(ctx, root, "");
  DORY_TRY_STATUS(top.check_keys(kTopKeys, "a target description"));

  Target t;
  t.origin = ctx.origin;
  DORY_TRY(std::string schema, top.string("schema"));
  if (schema == "dory-target/1")
    return ctx.error("target-schema", "schema",
                     fmt::format("schema \"{}\" is no longer read; this dory reads \"{}\": each kernel family now "
                                 "lists the runtime kernels it uses (\"impl\", from runtime/registry.json) with their "
                                 "rates, and register blocking comes from the registry (drop channel_block and "
                                 "pixel_block)",
                                 schema, kTargetSchema),
                     "convert the kernels section as docs/targets.md \"Kernels\" shows (targets/gap8.json is an "
                     "example)");
  if (schema != kTargetSchema)
    return ctx.error("target-schema", "schema",
                     fmt::format("unsupported schema \"{}\"; this dory reads \"{}\"", schema, kTargetSchema),
                     "convert the file to the current schema (docs/targets.md)");
  DORY_TRY(t.name, top.string("name"));
  if (!valid_name(t.name))
    return ctx.error("target-value", "name",
                     fmt::format("got \"{}\"; must be 1 to 64 letters, digits, '-', '_' or '.'", t.name));
  if (top.has("description")) {
    DORY_TRY(t.description, top.string("description"));
  }
  {
    DORY_TRY(const json* sources, top.array("sources"));
    if (sources->empty())
      return ctx.error("target-value", "sources", "is empty; must say where the numbers come from");
    for (size_t i = 0; i < sources->size(); ++i) {
      const json& s = (*sources)[i];
      const std::string key = fmt::format("sources[{}]", i);
      if (!s.is_string() || s.get<std::string>().empty())
        return ctx.error("target-type", key,
                         fmt::format("expected a non-empty string, got {} ({})", json_type_name(s), value_text(s)));
      t.sources.push_back(s.get<std::string>());
    }
  }
  DORY_TRY(t.clock_hz, top.integer("clock_hz", 1, "a positive frequency in Hz"));
  DORY_TRY(t.cores, top.integer("cores", 1, "at least 1 (cores that run the kernels)"));
  if (t.cores > 1024)
    return ctx.error("target-value", "cores", fmt::format("got {}; must be at most 1024", t.cores));

  // memories
  {
    DORY_TRY(Obj mo, top.object("memories"));
    DORY_TRY_STATUS(mo.check_keys({"L1", "L2", "L3"}, "memories"));
    DORY_TRY(Obj l1, mo.object("L1", "every target has an L1 (the cores' scratchpad)"));
    DORY_TRY(t.l1, parse_memory(l1));
    DORY_TRY(Obj l2, mo.object("L2", "every target has an L2 (where the network lives)"));
    DORY_TRY(t.l2, parse_memory(l2, true));
    if (mo.has("L3")) {
      DORY_TRY(Obj l3, mo.object("L3"));
      DORY_TRY(t.l3, parse_memory(l3));
    }
    if (t.l1.size_bytes > t.l2.size_bytes)
      return ctx.error("target-inconsistent", "memories.L1.size_bytes",
                       fmt::format("L1 ({} B) is larger than L2 ({} B) (rule: L1.size_bytes <= L2.size_bytes <= "
                                   "L3.size_bytes)",
                                   t.l1.size_bytes, t.l2.size_bytes));
    if (t.l3 && t.l2.size_bytes > t.l3->size_bytes)
      return ctx.error("target-inconsistent", "memories.L2.size_bytes",
                       fmt::format("L2 ({} B) is larger than L3 ({} B) (rule: L1.size_bytes <= L2.size_bytes <= "
                                   "L3.size_bytes)",
                                   t.l2.size_bytes, t.l3->size_bytes));
  }

  // dma
  {
    DORY_TRY(const json* engines, top.array("dma"));
    if (engines->empty())
      return ctx.error("target-value", "dma", "is empty; at least one engine (between L1 and L2) is required");
    for (size_t i = 0; i < engines->size(); ++i) {
      const std::string key = fmt::format("dma[{}]", i);
      const json& ej = (*engines)[i];
      if (!ej.is_object())
        return ctx.error("target-type", key,
                         fmt::format("expected an object, got {} ({})", json_type_name(ej), value_text(ej)));
      DORY_TRY(DmaEngine e, parse_dma(Obj(ctx, ej, key), t));
      for (const DmaEngine& other : t.dma) {
        if (other.name == e.name)
          return ctx.error("target-inconsistent", key + ".name",
                           fmt::format("two DMA engines are named '{}' (rule: names are unique)", e.name));
        if (other.connects(e.from, e.to))
          return ctx.error("target-inconsistent", key,
                           fmt::format("DMA engines '{}' and '{}' both connect {} and {} (rule: at most one engine "
                                       "per pair of memories; each engine works in both directions)",
                                       other.name, e.name, mem_level_name(e.from), mem_level_name(e.to)));
      }
      t.dma.push_back(std::move(e));
    }
    if (!t.dma_between(MemLevel::L1, MemLevel::L2))
      return ctx.error("target-inconsistent", "dma",
                       "no DMA engine connects L1 and L2 (rule: the tiler needs an L2<->L1 engine)");
    if (t.l3 && !t.dma_between(MemLevel::L3, MemLevel::L2) && !t.dma_between(MemLevel::L3, MemLevel::L1))
      return ctx.error("target-inconsistent", "dma",
                       "memories has an L3 but no DMA engine reaches it (rule: L3 is connected to L2 or L1)");
  }

  {
    DORY_TRY(Obj ko, top.object("kernels"));
    DORY_TRY_STATUS(parse_kernels(ko, t.kernels));
  }
  if (top.has("executor")) {  // optional: a runtime with no executor cost beside its kernels and DMA commands
    DORY_TRY(Obj xo, top.object("executor"));
    DORY_TRY(t.executor, parse_executor(xo));
  }
  {
    DORY_TRY(Obj eo, top.object("energy"));
    DORY_TRY(t.energy, parse_energy(eo, t.l3.has_value()));
  }
  return t;
}

// The directory of the running executable, or empty.
std::string executable_dir() {
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (ec) return {};
  return exe.parent_path().string();
}

}  // namespace

Expected<Target> parse_target(const std::string& json_text, const std::string& origin) {
  const Ctx ctx{origin};
  DuplicateKeyFinder dups;
  json root;
  try {
    root = json::parse(
        json_text, [&dups](int, json::parse_event_t ev, json& parsed) { return dups.on_event(ev, parsed); },
        /*allow_exceptions=*/true, /*ignore_comments=*/true);
  } catch (const json::parse_error& e) {
    return parse_error_diagnostic(ctx, json_text, e);
  } catch (const json::exception& e) {
    return make_error("target-parse", origin, fmt::format("not valid JSON: {}", e.what()));
  }
  if (dups.duplicate())
    return ctx.error("target-duplicate-field", *dups.duplicate(),
                     "appears twice in the same object (a JSON reader would silently keep only one)");
  return parse_root(ctx, root);
}

Expected<Target> load_target(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f)
    return make_error("io-read", fmt::format("file '{}'", path), "cannot be opened for reading",
                      "give the path of a target JSON file, or a target name such as 'gap8'");
  std::ostringstream ss;
  ss << f.rdbuf();
  if (f.bad()) return make_error("io-read", fmt::format("file '{}'", path), "could not be read");
  return parse_target(ss.str(), path);
}

std::vector<std::string> target_search_dirs() {
  std::vector<std::string> dirs;
  if (const char* env = std::getenv("DORY_TARGETS_DIR"); env && *env) {
    std::string s = env;
    size_t start = 0;
    while (start <= s.size()) {
      const size_t colon = s.find(':', start);
      const std::string d = s.substr(start, colon == std::string::npos ? std::string::npos : colon - start);
      if (!d.empty()) dirs.push_back(d);
      if (colon == std::string::npos) break;
      start = colon + 1;
    }
  }
#ifdef DORY_SOURCE_DIR
  dirs.push_back(std::string(DORY_SOURCE_DIR) + "/targets");
#endif
  if (const std::string exe = executable_dir(); !exe.empty())
    dirs.push_back((fs::path(exe) / ".." / "share" / "dory" / "targets").lexically_normal().string());
  return dirs;
}

std::vector<std::string> available_targets() {
  std::set<std::string> names;
  for (const std::string& d : target_search_dirs()) {
    std::error_code ec;
    for (fs::directory_iterator it(d, ec), end; !ec && it != end; it.increment(ec))
      if (it->path().extension() == ".json" && it->is_regular_file(ec)) names.insert(it->path().stem().string());
  }
  return {names.begin(), names.end()};
}

Expected<Target> find_target(const std::string& name_or_path) {
  const std::string& s = name_or_path;
  const bool is_path = s.find('/') != std::string::npos || (s.size() >= 5 && s.ends_with(".json"));
  if (is_path) return load_target(s);
  const std::vector<std::string> dirs = target_search_dirs();
  if (valid_name(s)) {
    for (const std::string& d : dirs) {
      const fs::path p = fs::path(d) / (s + ".json");
      std::error_code ec;
      if (fs::is_regular_file(p, ec)) return load_target(p.string());
    }
  }
  const std::vector<std::string> available = available_targets();
  std::string searched;
  for (const std::string& d : dirs) searched += (searched.empty() ? "" : ", ") + d;
  return make_error("target-not-found", fmt::format("target '{}'", s),
                    fmt::format("no such target (looked for {}.json in {}); available targets: {}", s, searched,
                                available.empty() ? std::string("none found") : quoted_list(available)),
                    "pass one of the available names, or the path of a target JSON file (docs/targets.md)");
}

std::string target_to_json(const Target& t) {
  using ojson = nlohmann::ordered_json;
  auto memory = [](const MemorySpec& m) {
    ojson j{{"size_bytes", m.size_bytes},
            {"reserved_bytes", m.reserved_bytes},
            {"access_cycles", m.access_cycles},
            {"alignment_bytes", m.alignment_bytes}};
    if (!m.program_image.empty()) j["program_image"] = m.program_image;
    return j;
  };
  auto family = [](KernelFamily f, const std::vector<KernelImpl>& impls) {
    ojson list = ojson::array();
    for (const KernelImpl& k : impls) {
      ojson e;
      if (is_mac_family(f))
        e = ojson{{"impl", k.name()},
                  {"macs_per_cycle", k.mac.macs_per_cycle},
                  {"call_cycles", k.mac.call_cycles},
                  {"row_cycles", k.mac.row_cycles},
                  {"im2col_cycles_per_byte", k.mac.im2col_cycles_per_byte},
                  {"pixel_cycles", k.mac.pixel_cycles},
                  {"channel_cycles", k.mac.channel_cycles},
                  {"output_cycles", k.mac.output_cycles},
                  {"output_cycles_wide", k.mac.output_cycles_wide},
                  {"output_cycles_partial", k.mac.output_cycles_partial}};
      else
        e = ojson{{"impl", k.name()},
                  {"elements_per_cycle", k.elementwise.elements_per_cycle},
                  {"call_cycles", k.elementwise.call_cycles},
                  {"row_cycles", k.elementwise.row_cycles},
                  {"output_cycles", k.elementwise.output_cycles}};
      if (k.executor_tile_cycles) e["executor_tile_cycles"] = *k.executor_tile_cycles;
      e["split"] = work_split_name(k.split());
      list.push_back(std::move(e));
    }
    return list;
  };
  ojson j;
  j["schema"] = kTargetSchema;
  j["name"] = t.name;
  j["description"] = t.description;
  j["sources"] = t.sources;
  j["clock_hz"] = t.clock_hz;
  j["cores"] = t.cores;
  j["memories"]["L1"] = memory(t.l1);
  j["memories"]["L2"] = memory(t.l2);
  if (t.l3) j["memories"]["L3"] = memory(*t.l3);
  j["dma"] = ojson::array();
  for (const DmaEngine& e : t.dma) {
    ojson d{{"name", e.name},
            {"from", mem_level_name(e.from)},
            {"to", mem_level_name(e.to)},
            {"bandwidth_bytes_per_cycle", e.bandwidth_bytes_per_cycle},
            {"reverse_bandwidth_bytes_per_cycle", e.reverse_bandwidth_bytes_per_cycle},
            {"setup_cycles", e.setup_cycles},
            {"row_cycles", e.row_cycles},
            {"issue_cycles", e.issue_cycles},
            {"transfer_cycles", e.transfer_cycles},
            {"max_outstanding", e.max_outstanding},
            {"max_dims", e.max_dims},
            {"max_row_bytes", e.max_row_bytes},
            {"max_rows", e.max_rows},
            {"max_transfer_bytes", e.max_transfer_bytes}};
    if (e.max_stride_bytes != kNoLimit) d["max_stride_bytes"] = e.max_stride_bytes;
    if (e.strided_memory) d["strided_memory"] = mem_level_name(*e.strided_memory);
    j["dma"].push_back(std::move(d));
  }
  for (KernelFamily f : kAllKernelFamilies) j["kernels"][kernel_family_name(f)] = family(f, t.kernels.family(f));
  j["executor"] = ojson{{"layer_cycles", t.executor.layer_cycles}, {"tile_cycles", t.executor.tile_cycles}};
  j["energy"] = ojson{{"core_active_pj_per_cycle", t.energy.core_active_pj_per_cycle},
                      {"cluster_idle_pj_per_cycle", t.energy.cluster_idle_pj_per_cycle},
                      {"l1_pj_per_byte", t.energy.l1_pj_per_byte},
                      {"l2_pj_per_byte", t.energy.l2_pj_per_byte}};
  if (t.energy.l3_pj_per_byte) j["energy"]["l3_pj_per_byte"] = *t.energy.l3_pj_per_byte;
  return j.dump(2) + "\n";
}

}  // namespace dory
