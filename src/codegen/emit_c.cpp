#include "codegen/emit_c.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "codegen/app_main.h"
#include "dory/crc32.h"
#include "codegen/host_run.h"

namespace dory {

namespace fs = std::filesystem;

std::string runtime_source_dir() {
  if (const char* e = std::getenv("DORY_RUNTIME_DIR"); e && *e) return e;
  const fs::path src = fs::path(DORY_SOURCE_DIR) / "runtime";
  if (fs::exists(src / "include" / "dory" / "layer.h")) return src.string();
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    const fs::path inst = exe.parent_path() / ".." / "share" / "dory" / "runtime";
    if (fs::exists(inst)) return inst.lexically_normal().string();
  }
  return src.string();
}

Status check_platform(const Target& target, int64_t l1_bytes, AppPlatform platform) {
  if (platform != AppPlatform::PulpOpen) return ok_status();
  const std::string hint =
      "deploy with --target pulp-open (8 cores, 64 kB L1), or choose --platform host or qemu for this target";
  if (target.cores != kPulpOpenCores)
    return make_error("deploy-platform-mismatch", target.origin + ": cores",
                      fmt::format("target '{}' has {} core(s); the pulp-open platform runs every layer on the {} "
                                  "cores of PULP-open's cluster",
                                  target.name, target.cores, kPulpOpenCores),
                      hint);
  if (target.l1.size_bytes > kPulpOpenTcdmBytes)
    return make_error("deploy-platform-mismatch", target.origin + ": memories.L1.size_bytes",
                      fmt::format("target '{}' has an L1 of {} B; PULP-open's TCDM (L1) has {} B", target.name,
                                  format_bytes_grouped(target.l1.size_bytes), format_bytes_grouped(kPulpOpenTcdmBytes)),
                      hint);
  if (l1_bytes + kPulpOpenRuntimeTcdmBytes > kPulpOpenTcdmBytes)
    return make_error("deploy-platform-mismatch", "--l1",
                      fmt::format("an L1 budget of {} B and the {} B the pulp-open runtime keeps in TCDM (8 core "
                                  "stacks, control words, DMA state) exceed PULP-open's {} B of TCDM",
                                  format_bytes_grouped(l1_bytes), format_bytes_grouped(kPulpOpenRuntimeTcdmBytes),
                                  format_bytes_grouped(kPulpOpenTcdmBytes)),
                      fmt::format("--l1 {} or less", kPulpOpenTcdmBytes - kPulpOpenRuntimeTcdmBytes));
  return ok_status();
}

namespace {

const char* kind_enum(uint8_t k) {
  static const char* names[] = {"DORY_LAYER_CONV",    "DORY_LAYER_POINTWISE", "DORY_LAYER_DEPTHWISE",
                                "DORY_LAYER_FC",      "DORY_LAYER_MAXPOOL",   "DORY_LAYER_AVGPOOL",
                                "DORY_LAYER_ADD",     "DORY_LAYER_REQUANTIZE"};
  return k < 8 ? names[k] : "?";
}
const char* dtype_enum(uint8_t t) {
  static const char* names[] = {"DORY_UINT8", "DORY_INT8", "DORY_UINT16", "DORY_INT16", "DORY_INT32"};
  return t < 5 ? names[t] : "?";
}

std::string c_string(const std::string& s) {
  std::string out = "\"";
  for (char ch : s) {
    if (ch == '"' || ch == '\\') out += '\\';
    if (static_cast<unsigned char>(ch) < 0x20) {
      out += fmt::format("\\{:03o}", static_cast<unsigned char>(ch));
      continue;
    }
    out += ch;
  }
  return out + "\"";
}

// Integer literals that are valid C for the full range of their types.
std::string i64_lit(int64_t v) {
  if (v == INT64_MIN) return "(-INT64_C(9223372036854775807) - 1)";
  return fmt::format("INT64_C({})", v);
}
std::string u64_lit(uint64_t v) { return fmt::format("UINT64_C({})", v); }
std::string i32_lit(int32_t v) { return v == INT32_MIN ? "(-2147483647 - 1)" : fmt::format("{}", v); }

const char* div_method_enum(uint8_t m) {
  return m == DORY_DIV_SHIFT ? "DORY_DIV_SHIFT" : m == DORY_DIV_MAGIC ? "DORY_DIV_MAGIC" : "DORY_DIV_MAGIC_ADD";
}
const char* rounding_enum(uint8_t r) { return r == DORY_ROUND_FLOOR ? "DORY_ROUND_FLOOR" : "DORY_ROUND_TOWARD_ZERO"; }

std::string divisor_c(const dory_divisor& d) {
  return fmt::format("{{.d = {}, .magic = {}, .shift = {}, .method = {}, .rounding = {}}}", u64_lit(d.d),
                     u64_lit(d.magic), d.shift, div_method_enum(d.method), rounding_enum(d.rounding));
}
std::string divisor32_c(const dory_divisor32& d) {
  return fmt::format("{{.d = {}u, .magic = {}u, .shift = {}, .method = {}, .rounding = {}}}", d.d, d.magic, d.shift,
                     div_method_enum(d.method), rounding_enum(d.rounding));
}
std::string rq_divisor_c(const dory_requant_divisor& d) {
  return fmt::format("{{.d64 = {}, .d32 = {}}}", divisor_c(d.d64), divisor32_c(d.d32));
}
std::string l1_c(const dory_l1_buffer& b) {
  if (!b.copies) return "{.copies = 0}";
  return fmt::format("{{.offset = {{{}u, {}u}}, .bytes = {}u, .copies = {}}}", b.offset[0], b.offset[1], b.bytes,
                     b.copies);
}
std::string map_c(const dory_l2_map& m) {
  return fmt::format("{{.l2_offset = {}u, .pixel_stride = {}, .type = {}}}", m.l2_offset, m.pixel_stride,
                     dtype_enum(m.type));
}

// The member of dory_kernel_fn that holds a kernel of this layer kind.
const char* kernel_member(uint8_t kind) {
  switch (kind) {
    case DORY_LAYER_FC: return "fc";
    case DORY_LAYER_MAXPOOL: return "maxpool";
    case DORY_LAYER_AVGPOOL: return "avgpool";
    case DORY_LAYER_ADD: return "add";
    case DORY_LAYER_REQUANTIZE: return "requantize";
    default: return "conv";
  }
}

// A registry kernel in C: its name, or DORY_KERNEL_<ISA>(name, twin) for a kernel of a special ISA.
std::string kernel_c(const RegistryKernel& k) {
  if (k.isa == "c") return k.name;
  std::string isa = k.isa;
  std::transform(isa.begin(), isa.end(), isa.begin(), [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return fmt::format("DORY_KERNEL_{}({}, {})", isa, k.name, k.twin);
}

// A C identifier from a layer name: letters, digits and '_' kept, everything else '_'.
std::string c_identifier(const std::string& name) {
  std::string s;
  for (char c : name) s += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  return s;
}

// What the deployment was made with, for the banner of network.c.
std::string options_banner(const Deployment& dep) {
  const DeployOptions& o = dep.options;
  return fmt::format("target {} ({}), L1 budget {} B, L2 budget {}, objective {}, check {}, platform {}",
                     dep.target.name, dep.target.origin, format_bytes_grouped(dep.l1_bytes),
                     o.l2_budget_bytes > 0 ? format_bytes_grouped(o.l2_budget_bytes) + " B" : std::string("the target's"),
                     objective_name(o.objective), check_mode_name(o.check), app_platform_name(o.platform));
}

std::string bytes_c(const uint8_t* p, size_t n) {
  std::string s;
  s.reserve(n * 5 + n / 16 * 4);
  for (size_t i = 0; i < n; ++i) {
    if (i % 24 == 0) s += "\n  ";
    s += fmt::format("{},", p[i]);
  }
  return s;
}

std::string layer_comment(const Deployment& dep, size_t i) {
  const DeployedLayer& dl = dep.layers[i];
  const TilePlan& p = dl.plan;
  const LayerGeometry& g = p.geometry;
  const Layer& l = dep.graph.layers[static_cast<size_t>(dl.layer_index)];
  std::string s = fmt::format("/* layer {}: '{}' ({}, kernel family {})\n", i, l.name, layer_kind_name(dep.graph, l),
                              kernel_family_name(g.family));
  s += fmt::format(" *   input  {} x {} x {} (HWC)", g.h_in, g.w_in, g.c_in);
  if (g.kh > 1 || g.kw > 1 || g.stride_h > 1 || g.stride_w > 1 || g.pad.any())
    s += fmt::format(", window {}x{} stride {}x{} pad t{} l{} b{} r{}", g.kh, g.kw, g.stride_h, g.stride_w, g.pad.top,
                     g.pad.left, g.pad.bottom, g.pad.right);
  s += fmt::format("\n *   output {} x {} x {}, {} MAC\n", g.h_out, g.w_out, g.c_out, format_bytes_grouped(g.macs()));
  if (const Requant* rq = layer_requant(l)) s += fmt::format(" *   requantization {}\n", requant_summary(*rq));
  const RegistryKernel& k = dl.kernel(dep.target);
  s += fmt::format(" *   kernel {} ({} x {} blocking{}{})\n", k.name, k.channel_block, k.pixel_block,
                   k.scratch.empty() ? "" : fmt::format(", scratch {} B", format_bytes_grouped(
                                                                             p.layout.find(BufferRole::Scratch)
                                                                                 ? p.layout.find(BufferRole::Scratch)->bytes_per_copy
                                                                                 : 0)),
                   k.isa == "c" ? "" : fmt::format("; portable twin {} off {}", k.twin, k.isa));
  std::string db;
  for (const auto& [on, what] : {std::pair{p.buffering.input, "input"}, std::pair{p.buffering.weights, "weights"},
                                 std::pair{p.buffering.output, "output"}})
    if (on) db += (db.empty() ? "" : ", ") + std::string(what);
  s += fmt::format(" *   tiles  c_out {} x h {} x w {} x c_in {} = {} tiles ({} x {} x {} x {}), double buffered: {}\n",
                   p.shape.c_out, p.shape.h_out, p.shape.w_out, p.shape.c_in, p.counts.total(), p.counts.c_out,
                   p.counts.h, p.counts.w, p.counts.c_in, db.empty() ? "none" : db);
  s += fmt::format(" *   L1     {} of {} B ({} objective)\n", format_bytes_grouped(p.layout.total_bytes),
                   format_bytes_grouped(p.l1_budget_bytes), objective_name(p.objective));
  s += fmt::format(" *   model  {} cycles, {:.2f} MAC/cycle, {:+.1f} % vs all data in L1 ({} cycles)\n */\n",
                   format_bytes_grouped(static_cast<int64_t>(p.cost.total_cycles + 0.5)), p.macs_per_cycle(),
                   100 * p.overhead_vs_l1(), format_bytes_grouped(static_cast<int64_t>(p.cost.l1_resident_cycles + 0.5)));
  if (dl.l3) {
    const L3Plan& lp = dl.l3->plan;
    s.insert(s.size() - 4,
             fmt::format(" *   L3     streams from L3 (its {}): {} L3 tiles, {} B of L3 traffic, model {} cycles{} (the "
                         "line above: all of it in L2); L2-direct: runs as in the tiled pass\n",
                         [&] {
                           std::string w;
                           if (lp.residency.weights_in_l3) w += "constants";
                           for (size_t k = 0; k < lp.residency.input_in_l3.size(); ++k)
                             if (lp.residency.input_in_l3[k]) w += (w.empty() ? "" : ", ") + fmt::format("input {}", k);
                           if (lp.residency.output_in_l3) w += (w.empty() ? "" : ", ") + std::string("output");
                           return w;
                         }(),
                         lp.counts.total(), format_bytes_grouped(lp.cost.l3_bytes),
                         format_bytes_grouped(static_cast<int64_t>(lp.cost.total_cycles - dl.l3->hidden_cycles + 0.5)),
                         lp.cost.l3_bound() ? ", L3-bound" : ""));
    return s;
  }
  const dory_layer d = dl.descriptor();
  const char* why = nullptr;
  const bool direct = dory_layer_l2_direct_supported(&d, static_cast<uint32_t>(dep.l1_bytes), &why) != 0;
  s.insert(s.size() - 4, direct ? fmt::format(" *   L2-direct (app --mode l2-direct) {} cycles modeled{}\n",
                                              format_bytes_grouped(static_cast<int64_t>(d.l2_direct_modeled_cycles)),
                                              d.l2_direct_scratch_bytes
                                                  ? fmt::format(", im2col scratch {} B in L1",
                                                                format_bytes_grouped(d.l2_direct_scratch_bytes))
                                                  : std::string())
                                : fmt::format(" *   L2-direct: runs tiled ({})\n", why));
  return s;
}

Status write_file(const fs::path& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary);
  if (!f) return make_error("deploy-write", path.string(), "cannot open the file for writing", "check the directory");
  f << text;
  f.close();
  if (!f) return make_error("deploy-write", path.string(), "write failed", "check free space");
  return ok_status();
}


}  // namespace

namespace {

// A dory_layer as a C initializer. named: its constants' L2 offsets as offsetof the constants struct's members
// (an L2 layer); else as numbers. l3_symbol: what its `l3` points at (empty: NULL).
std::string descriptor_c(const Deployment& dep, size_t index, const dory_layer& d, bool named,
                         const std::string& count_div_symbol, const std::string& l3_symbol) {
  std::string s = "{\n";
  auto f = [&](const std::string& field, const std::string& value) { s += fmt::format("  .{} = {},\n", field, value); };
  f("name", c_string(d.name));
  f("kind", kind_enum(d.kind));
  f("c_in", fmt::format("{}", d.c_in));
  f("h_in", fmt::format("{}", d.h_in));
  f("w_in", fmt::format("{}", d.w_in));
  f("c_out", fmt::format("{}", d.c_out));
  f("h_out", fmt::format("{}", d.h_out));
  f("w_out", fmt::format("{}", d.w_out));
  f("kh", fmt::format("{}", d.kh));
  f("kw", fmt::format("{}", d.kw));
  f("stride_h", fmt::format("{}", d.stride_h));
  f("stride_w", fmt::format("{}", d.stride_w));
  f("pad", fmt::format("{{.top = {}, .left = {}, .bottom = {}, .right = {}}}", d.pad.top, d.pad.left, d.pad.bottom,
                       d.pad.right));
  f("channels_tied", fmt::format("{}", d.channels_tied));
  f("n_inputs", fmt::format("{}", d.n_inputs));
  std::string ins;
  for (int k = 0; k < d.n_inputs; ++k) ins += (k ? ", " : "") + map_c(d.in[k]);
  f("in", "{" + ins + "}");
  f("out", map_c(d.out));
  // The constants by name (network.c's struct; offsetof is the planned offset, checked there).
  const DeployedLayer& dl = dep.layers[index];
  const std::string member =
      fmt::format("l{}_{}", index, c_identifier(dep.graph.layers[static_cast<size_t>(dl.layer_index)].name));
  auto constant = [&](int64_t offset, uint32_t value, const char* part) {
    return named && offset >= 0 ? fmt::format("offsetof(struct dory_network_constants_s, {}_{})", member, part)
                                : fmt::format("{}u", value);
  };
  f("weights_l2", constant(dl.weights_offset, d.weights_l2, "weights"));
  f("bias_l2", constant(dl.bias_offset, d.bias_l2, "bias"));
  f("requant_l2", constant(dl.requant_offset, d.requant_l2, "requant"));
  f("weight_bytes_per_cout", fmt::format("{}u", d.weight_bytes_per_cout));
  f("bias_bytes_per_cout", fmt::format("{}u", d.bias_bytes_per_cout));
  f("rq_bytes_per_cout", fmt::format("{}u", d.rq_bytes_per_cout));
  f("tile_c_out", fmt::format("{}", d.tile_c_out));
  f("tile_h", fmt::format("{}", d.tile_h));
  f("tile_w", fmt::format("{}", d.tile_w));
  f("tile_c_in", fmt::format("{}", d.tile_c_in));
  f("db_input", fmt::format("{}", d.db_input));
  f("db_weights", fmt::format("{}", d.db_weights));
  f("db_output", fmt::format("{}", d.db_output));
  std::string l1in;
  for (int k = 0; k < d.n_inputs; ++k) l1in += (k ? ", " : "") + l1_c(d.l1_in[k]);
  f("l1_in", "{" + l1in + "}");
  f("l1_weights", l1_c(d.l1_weights));
  f("l1_bias", l1_c(d.l1_bias));
  f("l1_requant", l1_c(d.l1_requant));
  f("l1_out", l1_c(d.l1_out));
  f("l1_psum", l1_c(d.l1_psum));
  f("l1_scratch", l1_c(d.l1_scratch));
  f("input_zero_point", i32_lit(d.input_zero_point));
  f("has_requant", fmt::format("{}", d.has_requant));
  const dory_requant_args& r = d.rq;
  f("rq", fmt::format("{{\n    .mul = {}, .add = {},\n    .div = {},\n    .zero_point = {}, .lo = {}, .hi = {}, "
                      ".wide = {}, .mul_per_channel = {}, .add_per_channel = {}}}",
                      i64_lit(r.mul), i64_lit(r.add), rq_divisor_c(r.div), i32_lit(r.zero_point), i32_lit(r.lo),
                      i32_lit(r.hi), r.wide, r.mul_per_channel, r.add_per_channel));
  f("has_pad_value", fmt::format("{}", d.has_pad_value));
  f("pad_value", i32_lit(d.pad_value));
  f("count_include_pad", fmt::format("{}", d.count_include_pad));
  f("count_div", d.count_div ? count_div_symbol : "NULL");
  f("count_div_first", fmt::format("{}", d.count_div_first));
  f("count_div_len", fmt::format("{}", d.count_div_len));
  if (d.kind == DORY_LAYER_ADD) {
    std::string ops;
    for (int k = 0; k < d.n_inputs; ++k) {
      const dory_add_operand& o = d.add_op[k];
      ops += fmt::format("{}\n    {{.zero_point = {}, .mul = {}, .add = {}, .div = {}}}", k ? "," : "",
                         i32_lit(o.zero_point), i64_lit(o.mul), i64_lit(o.add), divisor_c(o.div));
    }
    f("add_op", "{" + ops + "}");
  }
  f("split", d.split == DORY_SPLIT_ROWS       ? "DORY_SPLIT_ROWS"
             : d.split == DORY_SPLIT_CHANNELS ? "DORY_SPLIT_CHANNELS"
                                              : "DORY_SPLIT_AUTO");
  f("kernel", fmt::format("{{.{} = {}}}", kernel_member(d.kind), kernel_c(dep.layers[index].kernel(dep.target))));
  f("l2_direct_scratch_bytes", fmt::format("{}u", d.l2_direct_scratch_bytes));
  f("l3", l3_symbol.empty() ? "NULL" : "&" + l3_symbol);
  f("modeled_cycles", u64_lit(d.modeled_cycles));
  f("l2_direct_modeled_cycles", u64_lit(d.l2_direct_modeled_cycles));
  f("macs", u64_lit(d.macs));
  s += "}";
  return s;
}

std::string stage_c(const dory_l2_stage& st) {
  if (!st.copies) return "{.copies = 0}";
  return fmt::format("{{.offset = {{{}u, {}u}}, .bytes = {}u, .copies = {}}}", st.offset[0], st.offset[1], st.bytes,
                     st.copies);
}

// The two-level parts of L3 layer `index`: its band classes, its sub-layer templates and its dory_l3_layer.
std::string l3_layer_c(const Deployment& dep, size_t index, const std::string& count_div_symbol) {
  const DeployedLayer& dl = dep.layers[index];
  std::vector<dory_layer> subs;
  const dory_l3_layer x = dl.l3_descriptor(subs);
  const L3Plan& lp = dl.l3->plan;
  const std::string name = fmt::format("layer_{}", index);
  std::string s = fmt::format(
      "/* layer {} streams from L3: {} band(s) of {} output rows x {} block(s) of {} channels; {} B of L2 staging; "
      "{} B moved between L3 and L2{}\n */\n",
      index, lp.counts.bands, lp.shape.h_out, lp.counts.blocks, lp.shape.c_out,
      format_bytes_grouped(lp.staging.total_bytes()), format_bytes_grouped(lp.cost.l3_bytes),
      lp.prefetch_weights ? "; its first weight block is prefetched while the previous layer runs" : "");
  s += fmt::format("static const uint8_t {}_band_class[{}] = {{", name, dl.l3->band_class.size());
  for (size_t b = 0; b < dl.l3->band_class.size(); ++b) s += fmt::format("{}{}", b ? ", " : "", dl.l3->band_class[b]);
  s += "};\n";
  s += fmt::format("static const dory_layer {}_subs[{}] = {{\n", name, subs.size());
  for (size_t k = 0; k < subs.size(); ++k) {
    const TilePlan& sp = lp.subs[k];
    s += fmt::format("/* sub-layer class {}: '{}', tiles c_out {} x h {} x w {} x c_in {}, L1 {} B, model {} cycles */\n",
                     k, sp.layer, sp.shape.c_out, sp.shape.h_out, sp.shape.w_out, sp.shape.c_in,
                     format_bytes_grouped(sp.layout.total_bytes),
                     format_bytes_grouped(static_cast<int64_t>(sp.cost.total_cycles + 0.5)));
    s += descriptor_c(dep, index, subs[k], false, count_div_symbol, "") + ",\n";
  }
  s += "};\n";
  std::string ins, where, offs, strides, ebs, stage_in;
  for (int k = 0; k < x.n_inputs; ++k) {
    where += fmt::format("{}{}", k ? ", " : "", x.in_where[k] == DORY_IN_L3 ? "DORY_IN_L3" : "DORY_IN_L2");
    offs += fmt::format("{}{}u", k ? ", " : "", x.in_offset[k]);
    strides += fmt::format("{}{}", k ? ", " : "", x.in_pixel_stride[k]);
    ebs += fmt::format("{}{}", k ? ", " : "", x.in_elem_bytes[k]);
    stage_in += (k ? ", " : "") + stage_c(x.stage_in[k]);
  }
  const std::string member =
      fmt::format("l{}_{}", index, c_identifier(dep.graph.layers[static_cast<size_t>(dl.layer_index)].name));
  auto constant = [&](int64_t offset, uint32_t value, const char* part) {
    return !dl.constants_in_l3() && offset >= 0
               ? fmt::format("offsetof(struct dory_network_constants_s, {}_{})", member, part)
               : fmt::format("{}u", value);
  };
  s += fmt::format("static const dory_l3_layer {}_l3 = {{\n", name);
  auto f = [&](const std::string& field, const std::string& value) { s += fmt::format("  .{} = {},\n", field, value); };
  f("name", c_string(x.name));
  f("c_in", fmt::format("{}", x.c_in));
  f("h_in", fmt::format("{}", x.h_in));
  f("w_in", fmt::format("{}", x.w_in));
  f("c_out", fmt::format("{}", x.c_out));
  f("h_out", fmt::format("{}", x.h_out));
  f("w_out", fmt::format("{}", x.w_out));
  f("kh", fmt::format("{}", x.kh));
  f("stride_h", fmt::format("{}", x.stride_h));
  f("pad_top", fmt::format("{}", x.pad_top));
  f("channels_tied", fmt::format("{}", x.channels_tied));
  f("n_inputs", fmt::format("{}", x.n_inputs));
  f("in_where", "{" + where + "}");
  f("in_offset", "{" + offs + "}");
  f("in_pixel_stride", "{" + strides + "}");
  f("in_elem_bytes", "{" + ebs + "}");
  f("out_where", x.out_where == DORY_IN_L3 ? "DORY_IN_L3" : "DORY_IN_L2");
  f("out_offset", fmt::format("{}u", x.out_offset));
  f("out_pixel_stride", fmt::format("{}", x.out_pixel_stride));
  f("out_elem_bytes", fmt::format("{}", x.out_elem_bytes));
  f("weights_where", x.weights_where == DORY_IN_L3 ? "DORY_IN_L3" : "DORY_IN_L2");
  f("weights", constant(dl.weights_offset, x.weights, "weights"));
  f("bias", constant(dl.bias_offset, x.bias, "bias"));
  f("requant", constant(dl.requant_offset, x.requant, "requant"));
  f("weight_bytes_per_cout", fmt::format("{}u", x.weight_bytes_per_cout));
  f("bias_bytes_per_cout", fmt::format("{}u", x.bias_bytes_per_cout));
  f("rq_bytes_per_cout", fmt::format("{}u", x.rq_bytes_per_cout));
  f("tile_c_out", fmt::format("{}", x.tile_c_out));
  f("tile_h", fmt::format("{}", x.tile_h));
  f("stage_in", "{" + stage_in + "}");
  f("stage_weights", stage_c(x.stage_weights));
  f("stage_bias", stage_c(x.stage_bias));
  f("stage_requant", stage_c(x.stage_requant));
  f("stage_out", stage_c(x.stage_out));
  f("n_band_classes", fmt::format("{}", x.n_band_classes));
  f("n_block_classes", fmt::format("{}", x.n_block_classes));
  f("band_class", name + "_band_class");
  f("subs", name + "_subs");
  f("prefetch_weights", fmt::format("{}", x.prefetch_weights));
  f("modeled_cycles", u64_lit(x.modeled_cycles));
  f("l3_bytes", u64_lit(x.l3_bytes));
  s += "};\n";
  return s;
}

}  // namespace

std::string layer_descriptor_c(const Deployment& dep, size_t index, const std::string& count_div_symbol) {
  const DeployedLayer& dl = dep.layers[index];
  return descriptor_c(dep, index, dl.descriptor(), !dl.l3.has_value(), count_div_symbol,
                      dl.l3 ? fmt::format("layer_{}_l3", index) : std::string());
}

namespace {

struct IoTensor {
  std::string name;
  int64_t offset, bytes;
  std::string symbol;
};

std::string io_table(const Deployment& dep, const std::vector<TensorId>& ids) {
  std::string s;
  for (TensorId t : ids) {
    const Tensor& x = dep.graph.tensor(t);
    s += fmt::format("  {{.name = {}, .l2_offset = {}u, .bytes = {}u, .type = {}}},\n", c_string(x.name),
                     dep.tensor_l2_offset(t), x.elements() * dtype_bytes(x.dtype), dtype_enum(runtime_dtype(x.dtype)));
  }
  return s;
}

std::string network_h(const Deployment& dep, const std::string& name) {
  std::string s = fmt::format(R"(/* network.h - the deployed network '{}' (generated by dory {}; do not edit).
 *
 * Target {}: {} cores, L1 {} B used by dory (plans need at most {} B), L2 {} B ({} B constants + {} B activations,
 * lower bound {} B).
 */
#ifndef DORY_NETWORK_H
#define DORY_NETWORK_H

#include <stdint.h>

#include "dory/l3.h"
#include "dory/layer.h"

#define DORY_NETWORK_LAYERS {}
#define DORY_NETWORK_CORES {}
#define DORY_NETWORK_L1_BYTES {}u          /* the L1 the plans were made for */
#define DORY_NETWORK_L1_REQUIRED {}u       /* the largest L1 layout of any layer */
#define DORY_NETWORK_L2_BYTES {}u          /* constants + activations, from dory_l2_base() */
#define DORY_NETWORK_CONSTANT_BYTES {}u    /* the constants: the first bytes of L2 */
#define DORY_NETWORK_ACTIVATION_BYTES {}u  /* the activations of the memory plan, after the constants */
#define DORY_NETWORK_INPUTS {}
#define DORY_NETWORK_OUTPUTS {}
#define DORY_NETWORK_MODELED_CYCLES UINT64_C({})
/* L3 (dory/l3.h): the bytes used in L3 (its constants first, then the activations that live there; 0: the network
 * uses no L3), and the L2 buffer main.c checks L3 tensors through (offset from dory_l2_base(), bytes) */
#define DORY_NETWORK_L3_BYTES {}u
#define DORY_NETWORK_L3_CONSTANT_BYTES {}u
#define DORY_NETWORK_CHECK_BOUNCE_OFFSET {}u
#define DORY_NETWORK_CHECK_BOUNCE_BYTES {}u

typedef struct {{
  const char *name;
  uint32_t l2_offset;  /* from dory_l2_base() */
  uint32_t bytes;
  uint8_t type;        /* dory_dtype */
}} dory_network_tensor;

extern const dory_layer *const dory_network_layers[DORY_NETWORK_LAYERS];
extern const dory_network_tensor dory_network_inputs[DORY_NETWORK_INPUTS];
extern const dory_network_tensor dory_network_outputs[DORY_NETWORK_OUTPUTS];

/* The constants (weights, biases, requantization records) of every layer, named per layer in network.c: one object
 * of DORY_NETWORK_CONSTANT_BYTES bytes in the memory plan's layout, the first bytes of L2. Where the program image is
 * in L2 (pulp-open, rv32) it is placed (DORY_L2_CONSTANTS, dory/hal.h) right before the activations' arena, so the
 * application's L2 begins with it where the loader put it: the constants are in L2 once. */
extern const struct dory_network_constants_s dory_network_constants;

/* Makes the first DORY_NETWORK_CONSTANT_BYTES of L2 the constants: nothing to do where L2 begins with
 * dory_network_constants; a copy into the platform's L2 elsewhere (the host's simulated L2). */
void dory_network_load_constants(void);
/* Runs layer i (0 <= i < DORY_NETWORK_LAYERS) on the cluster. */
void dory_network_run_layer(int i);
/* Copies the inputs into L2, runs every layer, copies the outputs out (buffers of the tensors' bytes, in storage
 * order: feature maps HWC, channels innermost). */
void dory_network_run(const void *const inputs[], void *const outputs[]);

#endif /* DORY_NETWORK_H */
)",
                              name, DORY_VERSION, dep.target.name, dep.target.cores, dep.l1_bytes, dep.l1_peak_bytes,
                              dep.l2_bytes(), dep.memory.reserved_bytes, dep.memory.activation_bytes,
                              dep.memory.lower_bound_bytes, dep.layers.size(), dep.target.cores, dep.l1_bytes,
                              dep.l1_peak_bytes, dep.l2_bytes(), dep.constants.size(),
                              dep.l2_bytes() - static_cast<int64_t>(dep.constants.size()), dep.graph.inputs.size(),
                              dep.graph.outputs.size(), [&] {
                                uint64_t c = 0;
                                for (size_t i = 0; i < dep.layers.size(); ++i) c += dep.layers[i].descriptor().modeled_cycles;
                                return c;
                              }(),
                              dep.l3_bytes(), dep.uses_l3 ? dep.l3_constants.size() : 0,
                              std::max<int64_t>(0, dep.check_bounce_offset), dep.check_bounce_bytes);
  return s;
}

namespace {

// Values of `bytes` read as little-endian elements of `elem_bytes` (1, 4 or 8; signed), as C literals.
std::string values_c(const uint8_t* p, size_t n, int elem_bytes) {
  std::string s;
  const size_t count = n / static_cast<size_t>(elem_bytes);
  const size_t per_line = elem_bytes == 1 ? 24 : elem_bytes == 4 ? 10 : 4;
  for (size_t i = 0; i < count; ++i) {
    if (i % per_line == 0) s += "\n    ";
    uint64_t u = 0;
    for (int b = 0; b < elem_bytes; ++b) u |= static_cast<uint64_t>(p[i * static_cast<size_t>(elem_bytes) + static_cast<size_t>(b)]) << (8 * b);
    if (elem_bytes == 1) s += fmt::format("{},", static_cast<int8_t>(u));
    else if (elem_bytes == 4) s += i32_lit(static_cast<int32_t>(u)) + ",";
    else s += i64_lit(static_cast<int64_t>(u)) + ",";
  }
  return s;
}

// One named member of the constants struct.
struct ConstantMember {
  std::string name;      // C identifier
  int64_t offset = 0;    // from the start of L2
  int64_t bytes = 0;
  int elem_bytes = 1;    // 1 int8, 4 int32, 8 int64
  std::string shape;     // for the comment
};

std::vector<ConstantMember> constant_members(const Deployment& dep) {
  std::vector<ConstantMember> m;
  for (size_t i = 0; i < dep.layers.size(); ++i) {
    const DeployedLayer& dl = dep.layers[i];
    const LayerGeometry& g = dl.plan.geometry;
    const Layer& l = dep.graph.layers[static_cast<size_t>(dl.layer_index)];
    const std::string base = fmt::format("l{}_{}", i, c_identifier(l.name));
    if (dl.constants_in_l3()) continue;  // in L3 (network.c's L3 image), not in this struct
    if (dl.weights_offset >= 0)
      m.push_back({base + "_weights", dl.weights_offset, g.weight_bytes(), 1,
                   g.family == KernelFamily::Depthwise ? fmt::format("[{}][{}][{}]", g.c_out, g.kh, g.kw)
                   : g.family == KernelFamily::Fc      ? fmt::format("[{}][{}]", g.c_out, g.c_in)
                                                       : fmt::format("[{}][{}][{}][{}]", g.c_out, g.kh, g.kw, g.c_in)});
    if (dl.bias_offset >= 0) m.push_back({base + "_bias", dl.bias_offset, 4 * g.c_out, 4, fmt::format("[{}]", g.c_out)});
    if (dl.requant_offset >= 0) {
      const Requant* rq = layer_requant(l);
      const int eb = rq && rq->wide ? 8 : 4;
      const int64_t bytes = g.requant_bytes_per_cout * g.c_out;
      m.push_back({base + "_requant", dl.requant_offset, bytes, eb,
                   fmt::format("[{}][{}] {} records, mul first", g.c_out, g.requant_bytes_per_cout / eb,
                               eb == 8 ? "int64" : "int32")});
    }
  }
  return m;
}

const char* elem_type_c(int elem_bytes) { return elem_bytes == 1 ? "int8_t" : elem_bytes == 4 ? "int32_t" : "int64_t"; }

// The constants as one struct with a named member per layer part, its layout checked against the memory plan's.
std::string constants_c(const Deployment& dep) {
  const std::vector<ConstantMember> members = constant_members(dep);
  const int64_t total = static_cast<int64_t>(dep.constants.size());
  std::string type = fmt::format(
      "/* The constants of every layer in the memory plan's layout: L2 [0, {}). Each member at its planned offset\n"
      " * (the checks below fail to compile otherwise); padding members keep every part 8-byte aligned. */\n"
      "struct dory_network_constants_s {{\n",
      format_bytes_grouped(total));
  std::string init = "DORY_L2_CONSTANTS const struct dory_network_constants_s dory_network_constants = {\n";
  std::string checks;
  int64_t at = 0;
  int pad = 0;
  auto padding = [&](int64_t to) {
    if (to <= at) return;
    type += fmt::format("  uint8_t pad{}[{}];\n", pad++, to - at);
    at = to;
  };
  for (const ConstantMember& c : members) {
    padding(c.offset);
    type += fmt::format("  {} {}[{}];  /* {}, {} B at L2 {} */\n", elem_type_c(c.elem_bytes), c.name,
                        c.bytes / c.elem_bytes, c.shape, format_bytes_grouped(c.bytes), format_bytes_grouped(c.offset));
    init += fmt::format("  .{} = {{{}\n  }},\n", c.name,
                        values_c(dep.constants.data() + c.offset, static_cast<size_t>(c.bytes), c.elem_bytes));
    checks += fmt::format(
        "typedef char dory_check_{}[offsetof(struct dory_network_constants_s, {}) == {}u ? 1 : -1];\n", c.name,
        c.name, c.offset);
    at = c.offset + c.bytes;
  }
  if (members.empty()) type += "  uint8_t none[8];  /* no layer has constants: 8 zero bytes */\n", at = 8;
  padding(total);
  type += "};\n";
  init += "};\n";
  checks += "typedef char dory_check_constant_bytes[sizeof(struct dory_network_constants_s) == "
            "DORY_NETWORK_CONSTANT_BYTES ? 1 : -1];\n";
  return type + init + checks + "\n";
}

}  // namespace

std::string network_c(const Deployment& dep, const std::string& name) {
  std::string s = fmt::format(R"(/* network.c - the deployed network '{}' (generated by dory {}; do not edit).
 *
 * Every layer is a constant descriptor (dory/layer.h) run by the runtime's double-buffered executor: L2 offsets
 * are from dory_l2_base() (the constants at 0, named per layer below, then the activations of the static memory
 * plan), L1 offsets from dory_l1_base() (the tiler's layout). Modeled cycles are the cost model's for target {}.
 *
 * Made with: {}
 */
#include <stddef.h>
#include <string.h>

#include "dory/hal.h"
#include "dory/l3.h"
#include "dory/layer.h"
#include "network.h"

)",
                              name, DORY_VERSION, dep.target.name, options_banner(dep));
  if (dep.uses_l3)
    s += fmt::format(R"(/* The constants that live in L3 ({} B, l3_constants.bin beside this file): on PULP-open the build puts the file in
 * the HyperFlash image (the Makefile's `gvsoc` goal: a readfs partition) and dory_network_load_constants copies it
 * to HyperRAM; elsewhere it is linked in (.incbin) and copied into the platform's L3. */
#if defined(DORY_PLATFORM_PULP_OPEN)
#include "dory/hal_pulp_open.h"
#else
__asm__(".section .rodata\n.balign 8\n.globl dory_network_l3_constants\ndory_network_l3_constants:\n"
        ".incbin \"l3_constants.bin\"\n.previous\n");
extern const uint8_t dory_network_l3_constants[];
#endif

)",
                     format_bytes_grouped(static_cast<int64_t>(dep.l3_constants.size())));
  s += constants_c(dep);
  for (size_t i = 0; i < dep.layers.size(); ++i) {
    const DeployedLayer& dl = dep.layers[i];
    const std::string cd = fmt::format("layer_{}_count_div", i);
    if (!dl.count_div.empty()) {
      s += fmt::format("/* average pooling: the divisors of D * count for count = {} .. {} */\n",
                       dl.desc.count_div_first, dl.desc.count_div_first + static_cast<int>(dl.count_div.size()) - 1);
      s += fmt::format("static const dory_requant_divisor {}[{}] = {{\n", cd, dl.count_div.size());
      for (const auto& d : dl.count_div) s += "  " + rq_divisor_c(d) + ",\n";
      s += "};\n\n";
    }
    if (dl.l3) s += l3_layer_c(dep, i, cd);
    s += layer_comment(dep, i);
    s += fmt::format("static const dory_layer layer_{} = {};\n\n", i, layer_descriptor_c(dep, i, cd));
  }
  s += "const dory_layer *const dory_network_layers[DORY_NETWORK_LAYERS] = {";
  for (size_t i = 0; i < dep.layers.size(); ++i) s += fmt::format("{}&layer_{}", i ? ", " : "", i);
  s += "};\n\n";
  s += "const dory_network_tensor dory_network_inputs[DORY_NETWORK_INPUTS] = {\n" + io_table(dep, dep.graph.inputs) +
       "};\n";
  s += "const dory_network_tensor dory_network_outputs[DORY_NETWORK_OUTPUTS] = {\n" +
       io_table(dep, dep.graph.outputs) + "};\n\n";
  if (!dep.uses_l3) {
    s += R"(void dory_network_load_constants(void) {
  uint8_t *l2 = (uint8_t *)dory_l2_base();
  if (dory_l2_size() < DORY_NETWORK_L2_BYTES) dory_panic("network: L2 is smaller than the memory plan");
  if (l2 != (const uint8_t *)&dory_network_constants) memcpy(l2, &dory_network_constants, DORY_NETWORK_CONSTANT_BYTES);
}

void dory_network_run_layer(int i) {
  if (dory_l1_size() < DORY_NETWORK_L1_REQUIRED) dory_panic("network: L1 is smaller than the tile plans need");
  dory_layer_run(dory_network_layers[i]);
}
)";
  } else {
    s += R"c(/* The L2 constants as on every platform; then L3: its constants (from the flash image on PULP-open, from the linked
 * copy elsewhere), and its activations poisoned (0xA5) so that no stale value of an earlier pass can pass a check.
 * L2's activation area, poisoned again afterwards, is the way through (main.c runs this before the inputs). */
void dory_network_load_constants(void) {
  uint8_t *l2 = (uint8_t *)dory_l2_base();
  uint8_t *bounce = l2 + DORY_NETWORK_CONSTANT_BYTES;
  const uint32_t bounce_bytes = DORY_NETWORK_ACTIVATION_BYTES;
  uint32_t at;
  if (dory_l2_size() < DORY_NETWORK_L2_BYTES) dory_panic("network: L2 is smaller than the memory plan");
  if (dory_l3_size() < DORY_NETWORK_L3_BYTES) dory_panic("network: L3 is smaller than the memory plan");
  if (l2 != (const uint8_t *)&dory_network_constants) memcpy(l2, &dory_network_constants, DORY_NETWORK_CONSTANT_BYTES);
#if defined(DORY_PLATFORM_PULP_OPEN)
  if (dory_pulp_l3_load_file("l3_constants.bin", 0, DORY_NETWORK_L3_CONSTANT_BYTES, bounce, bounce_bytes) != 0)
    dory_panic("network: l3_constants.bin is not in the flash image (run with the Makefile's gvsoc goal, which puts "
               "it there with --flash-content)");
#else
  dory_l3_write(0, dory_network_l3_constants, DORY_NETWORK_L3_CONSTANT_BYTES, bounce, bounce_bytes);
#endif
  memset(bounce, 0xA5, bounce_bytes);
  for (at = DORY_NETWORK_L3_CONSTANT_BYTES; at < DORY_NETWORK_L3_BYTES;) {
    const uint32_t n = DORY_NETWORK_L3_BYTES - at < bounce_bytes ? DORY_NETWORK_L3_BYTES - at : bounce_bytes;
    dory_l3_write(at, bounce, n, bounce, bounce_bytes);
    at += n;
  }
}

/* Layer i on the cluster; a layer that streams from L3 by its two-level schedule. While layer i runs, the main
 * program does the next layer's part ahead when that layer streams (dory_l3_ahead): the prefetch of its first
 * weight block when it prefetches (its staging copy is reserved over both layers by the memory plan) and its first
 * sub-layer's descriptor, while the cluster computes (after an L3 layer's own last load, so that the L3 engine
 * serves that first). Layer i's part ahead is g_ahead[i & 1]. */
static dory_l3_ahead g_ahead[2];
static int g_ahead_layer = -1;

void dory_network_run_layer(int i) {
  const dory_layer *L = dory_network_layers[i];
  const dory_l3_layer *next = i + 1 < DORY_NETWORK_LAYERS ? dory_network_layers[i + 1]->l3 : NULL;
  if (dory_l1_size() < DORY_NETWORK_L1_REQUIRED) dory_panic("network: L1 is smaller than the tile plans need");
  if (g_ahead_layer >= 0 && g_ahead_layer != i) dory_panic("network: a prefetch for a layer that did not run next");
  if (L->l3) {
    dory_l3_layer_run(L->l3, g_ahead_layer == i ? &g_ahead[i & 1] : NULL, next, &g_ahead[(i + 1) & 1]);
  } else {
    dory_layer_start(L);
    if (next) dory_l3_layer_ahead(next, &g_ahead[(i + 1) & 1]);
    dory_layer_join();
  }
  g_ahead_layer = next ? i + 1 : -1;
}
)c";
  }
  s += R"(
void dory_network_run(const void *const inputs[], void *const outputs[]) {
  uint8_t *l2 = (uint8_t *)dory_l2_base();
  int i;
  for (i = 0; i < DORY_NETWORK_INPUTS; ++i)
    memcpy(l2 + dory_network_inputs[i].l2_offset, inputs[i], dory_network_inputs[i].bytes);
  for (i = 0; i < DORY_NETWORK_LAYERS; ++i) dory_network_run_layer(i);
  for (i = 0; i < DORY_NETWORK_OUTPUTS; ++i)
    memcpy(outputs[i], l2 + dory_network_outputs[i].l2_offset, dory_network_outputs[i].bytes);
}
)";
  return s;
}

// The expected CRC-32 of a layer's output (dory/crc32.h): its elements' bytes in dense HWC order.
uint32_t output_crc32(const std::vector<uint8_t>& packed) {
  return dory_crc32_end(dory_crc32_bytes(dory_crc32_begin(), packed.data(), packed.size()));
}

std::string goldens_c(const Deployment& dep, const ReferenceResult& ref) {
  const CheckMode mode = dep.options.check;
  std::string s = fmt::format(R"(/* goldens.c - what the deployed network is checked against (generated by dory; check mode "{}").
 * The inputs in their storage layout{}. */
#include "goldens.h"

)",
                              check_mode_name(mode),
                              mode == CheckMode::Full  ? "; each layer's expected output dense in HWC order (h, w, c)"
                              : mode == CheckMode::Crc ? "; each layer's expected CRC-32 (dory/crc32.h) of its output's "
                                                         "bytes in dense HWC order"
                                                       : "");
  for (size_t i = 0; i < dep.graph.inputs.size(); ++i) {
    // The reference's values are in storage order (HWC for feature maps), as the network reads its input.
    const TensorId id = dep.graph.inputs[i];
    const std::vector<uint8_t> b = pack_values(ref.values.at(static_cast<size_t>(id)), dep.graph.tensor(id).dtype);
    s += fmt::format("static const uint8_t input_{}[{}] = {{{}\n  0}};\n", i, b.size() + 1, bytes_c(b.data(), b.size()));
  }
  s += "const uint8_t *const dory_golden_inputs[DORY_NETWORK_INPUTS] = {";
  for (size_t i = 0; i < dep.graph.inputs.size(); ++i) s += fmt::format("{}input_{}", i ? ", " : "", i);
  s += "};\n\n";
  if (mode == CheckMode::None) return s;
  std::string crcs;
  for (size_t i = 0; i < dep.layers.size(); ++i) {
    const Layer& l = dep.graph.layers[static_cast<size_t>(dep.layers[i].layer_index)];
    const Tensor& y = dep.graph.tensor(l.output);
    const std::vector<uint8_t> b = pack_values(ref.values.at(static_cast<size_t>(l.output)), y.dtype);
    if (mode == CheckMode::Full)
      s += fmt::format("/* '{}' output '{}' */\nstatic const uint8_t golden_{}[{}] = {{{}\n  0}};\n", l.name, y.name, i,
                       b.size() + 1, bytes_c(b.data(), b.size()));
    crcs += fmt::format("  0x{:08x}u, /* {} '{}' */\n", output_crc32(b), i, l.name);
  }
  if (mode == CheckMode::Full) {
    s += "const uint8_t *const dory_golden_outputs[DORY_NETWORK_LAYERS] = {";
    for (size_t i = 0; i < dep.layers.size(); ++i) s += fmt::format("{}golden_{}", i ? ", " : "", i);
    s += "};\n\n";
  } else {
    s += "const uint32_t dory_golden_crc32[DORY_NETWORK_LAYERS] = {\n" + crcs + "};\n\n";
  }
  // Where each output must be, from the memory plan itself (not from the descriptors: a corrupted descriptor
  // that stores elsewhere is caught here).
  s += "/* per layer: {offset of the output's first element (in L2, or in L3 when in_l3), channels per stored pixel} "
       "from the memory plan */\n";
  s += "const dory_golden_place dory_golden_places[DORY_NETWORK_LAYERS] = {\n";
  for (size_t i = 0; i < dep.layers.size(); ++i) {
    const Layer& l = dep.graph.layers[static_cast<size_t>(dep.layers[i].layer_index)];
    const LayerGeometry& geo = dep.layers[i].plan.geometry;
    const bool in_l3 = dep.tensor_in_l3(l.output);
    const int64_t off = in_l3 ? dep.tensor_offset(l.output)
                              : dep.tensor_l2_offset(l.output) +
                                    geo.out_channel_offset * dtype_bytes(dep.graph.tensor(l.output).dtype);
    s += fmt::format("  {{.l2_offset = {}u, .pixel_stride = {}, .in_l3 = {}}},\n", off, geo.out_stride(), in_l3 ? 1 : 0);
  }
  s += "};\n";
  return s;
}

std::string goldens_h(CheckMode mode) {
  return fmt::format(R"(/* goldens.h - what the deployed network is checked against (generated by dory). */
#ifndef DORY_GOLDENS_H
#define DORY_GOLDENS_H

#include <stdint.h>

#include "network.h"

/* How main.c checks each layer: DORY_CHECK_CRC (a CRC-32 of its output), DORY_CHECK_FULL (every element),
 * DORY_CHECK_NONE (not at all). */
#define DORY_CHECK_NONE 0
#define DORY_CHECK_CRC 1
#define DORY_CHECK_FULL 2
#define DORY_GOLDEN_CHECK {}

/* Graph inputs in storage order, as bytes of their dtype. */
extern const uint8_t *const dory_golden_inputs[DORY_NETWORK_INPUTS];
#if DORY_GOLDEN_CHECK == DORY_CHECK_FULL
/* Per layer: its output, dense HWC (h_out x w_out x c_out of the layer's descriptor), bytes of its dtype. */
extern const uint8_t *const dory_golden_outputs[DORY_NETWORK_LAYERS];
#elif DORY_GOLDEN_CHECK == DORY_CHECK_CRC
/* Per layer: the CRC-32 (dory/crc32.h) of its output's bytes, dense HWC. */
extern const uint32_t dory_golden_crc32[DORY_NETWORK_LAYERS];
#endif
#if DORY_GOLDEN_CHECK != DORY_CHECK_NONE
/* Per layer: where the memory plan puts its output (independent of the descriptors): in L2, or in L3 (in_l3: then
 * l2_offset is its offset in L3, and the map is dense). */
typedef struct {{
  uint32_t l2_offset;
  int32_t pixel_stride;
  uint8_t in_l3;
}} dory_golden_place;
extern const dory_golden_place dory_golden_places[DORY_NETWORK_LAYERS];
#endif

#endif
)",
                     mode == CheckMode::Full ? "DORY_CHECK_FULL" : mode == CheckMode::Crc ? "DORY_CHECK_CRC"
                                                                                          : "DORY_CHECK_NONE");
}

// The registry kernels the deployment's layers run (each once, in layer order).
std::vector<std::string> used_kernels(const Deployment& dep) {
  std::vector<std::string> names;
  for (const DeployedLayer& l : dep.layers) {
    const std::string& n = l.kernel(dep.target).name;
    if (std::find(names.begin(), names.end(), n) == names.end()) names.push_back(n);
  }
  return names;
}

// "$(RUNTIME_DIR)/a.c $(RUNTIME_DIR)/b.c ..." wrapped at 100 columns with `newline` (" \\\n  " for make).
std::string make_list(const std::vector<std::string>& files, const std::string& prefix,
                      const std::string& newline = " \\\n  ") {
  std::string s;
  size_t col = 0;
  for (const std::string& f : files) {
    const std::string item = prefix + f;
    if (col > 0 && col + item.size() > 100) {
      s += newline;
      col = 2;
    } else if (col > 0) {
      s += " ";
      ++col;
    }
    s += item;
    col += item.size();
  }
  return s;
}

// The platform's runtime sources and the sources of the kernels the network uses there (registry.json).
std::vector<std::string> platform_runtime(const Deployment& dep, const RuntimePlatform& p) {
  const RuntimeRegistry& reg = runtime_registry();
  std::vector<std::string> files = p.sources;
  for (const std::string& k : reg.kernel_sources(used_kernels(dep), p))
    if (std::find(files.begin(), files.end(), k) == files.end()) files.push_back(k);
  return files;
}

std::string makefile(const Deployment& dep, AppPlatform platform) {
  const bool qemu = platform == AppPlatform::Qemu, pulp = platform == AppPlatform::PulpOpen;
  const RuntimeRegistry& reg = runtime_registry();
  const RuntimePlatform& host = *reg.platform("host");
  std::string s = fmt::format(R"(# Builds and runs the application (generated by dory; emitted for the {platform} platform).
#   make               {default_what}
#   make run           build and run {run_what}; exit status 0 only when every layer matches
#   make app           the host application ./app (system C compiler, runtime/hal/host); make run-host runs it
#                      (it takes --cores N, default: the target's, and --quiet)
#   make qemu-user     app-rv32-user.elf (rv32imc, runtime/hal/rv32-qemu), run under qemu-riscv32 (Linux user mode)
#   make qemu-system   app-rv32.elf, run bare metal under qemu-system-riscv32 -M virt -bios none (semihosting) with
#                      -icount shift=0: every layer's retired instructions, exact and repeatable
#   make pulp-open     app-pulp-open.elf for PULP-open (runtime/hal/pulp-open): main on the fabric controller,
#                      every layer on the 8 cluster cores with MCHAN DMA and the Xpulpv2 kernels; code and data in
#                      L2 from 0x1c008000, L1 in the TCDM at 0x10000000
#   make gvsoc         runs app-pulp-open.elf on the GVSoC virtual platform from $(GVSOC_INSTALL) (a GVSoC install
#                      for the pulp-open target; docs/deploy.md "PULP-open"): a line per layer with the cluster's
#                      cycles and instructions; the platform reports only pass/fail, so the status is printed last
# RISC-V needs Debian's gcc-riscv64-unknown-elf, picolibc-riscv64-unknown-elf, qemu-user and qemu-system-misc
# (dory: scripts/install-deps.sh --riscv; pulp-open needs only the first two; GVSoC's launcher needs
# scripts/install-deps.sh --gvsoc). The QEMU runs are killed after QEMU_TIMEOUT seconds.
# MODE: the passes main.c runs, each checked layer by layer: tiled (DORY, the default), l2-direct (every layer one
# kernel call on its operands in L2, no DMA: the paper's baseline), both, or l1-resident (each tile's computation
# timed alone, its operands loaded before). The host app also takes --mode; after changing MODE for an ELF,
# `make clean`.
# Every source list below comes from runtime/registry.json: each platform's runtime, and the kernels this network
# uses ({kernels}), an Xpulpv2 kernel replaced by its portable twin where the cores have no Xpulpv2.
# RUNTIME_DIR: where the runtime is (default: the copy in runtime/); RUNTIME_LIB: link this prebuilt archive of the
# platform's runtime instead of compiling it (dory's tests); EXTRA_CFLAGS: added to every compilation.
MODE ?= tiled
MODE_BITS = $(if $(filter both,$(MODE)),3,$(if $(filter l2-direct,$(MODE)),2,$(if $(filter l1-resident,$(MODE)),4,1)))
RUNTIME_DIR ?= runtime
RUNTIME_LIB ?=
CFLAGS ?= -O2
EXTRA_CFLAGS ?=
APP_CFLAGS = -std=c99 -I$(RUNTIME_DIR)/include -I. -DDORY_APP_MODE=$(MODE_BITS) -ffunction-sections -fdata-sections
APP_SRCS = main.c network.c goldens.c
HDRS = $(wildcard *.h $(RUNTIME_DIR)/include/dory/*.h $(RUNTIME_DIR)/kernels/*.h $(RUNTIME_DIR)/kernels/*/*.h)

HOST_RUNTIME = {host_runtime}
HOST_LIBS = {host_link}

RV32_CC ?= riscv64-unknown-elf-gcc
RV32_CFLAGS ?= -O2
QEMU_TIMEOUT ?= 600
QEMU_USER = {qemu_user}
QEMU_SYSTEM = {qemu_system}
GVSOC_INSTALL ?=
GVSOC_WORK ?= gvsoc-work
)",
                              fmt::arg("platform", app_platform_name(platform)),
                              fmt::arg("default_what", qemu   ? "both rv32 ELFs (app-rv32.elf, app-rv32-user.elf)"
                                                       : pulp ? "the PULP-open ELF (app-pulp-open.elf)"
                                                              : "./app"),
                              fmt::arg("run_what", qemu   ? "under qemu-system (make qemu-system)"
                                                   : pulp ? "on GVSoC (make gvsoc)"
                                                          : "on the host (./app)"),
                              fmt::arg("kernels", fmt::format("{}", fmt::join(used_kernels(dep), ", "))),
                              fmt::arg("host_runtime", make_list(platform_runtime(dep, host), "$(RUNTIME_DIR)/")),
                              fmt::arg("host_link", host.link_flags),
                              fmt::arg("qemu_user", qemu_run_command(QemuMode::User)),
                              fmt::arg("qemu_system", qemu_run_command(QemuMode::System)));
  // One block per cross platform: its runtime, flags, objects and ELF.
  struct Cross {
    const char* platform;
    const char* var;
    const char* obj;
    const char* elf;
  };
  const Cross cross[] = {{"qemu-system", "RV32", "obj-rv32", "app-rv32.elf"},
                         {"qemu-user", "RV32_USER", "obj-rv32-user", "app-rv32-user.elf"},
                         {"pulp-open", "PULP", "obj-pulp-open", "app-pulp-open.elf"}};
  for (const Cross& c : cross) {
    const RuntimePlatform& p = *reg.platform(c.platform);
    s += fmt::format(R"(
# {platform}
{var}_RUNTIME = {runtime}
{var}_FLAGS = {compile}
{var}_LDFLAGS = {link}{image} -T $(RUNTIME_DIR)/{ld}
{var}_OBJS = $(addprefix {obj}/,$(addsuffix .o,$(basename $(APP_SRCS) $(if $(RUNTIME_LIB),,$({var}_RUNTIME)))))
{obj}/%.o: %.c $(HDRS)
	@mkdir -p $(@D)
	$(RV32_CC) $(RV32_CFLAGS) $(EXTRA_CFLAGS) $({var}_FLAGS) $(APP_CFLAGS) -c $< -o $@
{obj}/%.o: %.S
	@mkdir -p $(@D)
	$(RV32_CC) $({var}_FLAGS) -c $< -o $@
{elf}: $({var}_OBJS) $(RUNTIME_DIR)/{ld}
	$(RV32_CC) $({var}_LDFLAGS) -o $@ $({var}_OBJS) $(RUNTIME_LIB)
)",
                     fmt::arg("platform", c.platform), fmt::arg("var", c.var),
                     fmt::arg("runtime", make_list(platform_runtime(dep, p), "$(RUNTIME_DIR)/")),
                     fmt::arg("compile", p.compile_flags), fmt::arg("link", p.link_flags),
                     fmt::arg("ld", p.linker_script), fmt::arg("obj", c.obj), fmt::arg("elf", c.elf),
                     // the image may take exactly the L2 dory deploy accounted for (codegen/l2_image.h)
                     fmt::arg("image", dep.target.l2.program_image == c.platform
                                           ? fmt::format(" -Wl,--defsym=__dory_l2_image_bytes={}",
                                                         dep.target.usable_bytes(MemLevel::L2))
                                           : std::string()));
  }
  s += fmt::format(R"(
all: {default_goal}

app: $(APP_SRCS) $(if $(RUNTIME_LIB),$(RUNTIME_LIB),$(HOST_RUNTIME)) $(HDRS)
	$(CC) $(CFLAGS) $(EXTRA_CFLAGS) $(APP_CFLAGS) -o $@ $(APP_SRCS) $(if $(RUNTIME_LIB),$(RUNTIME_LIB),$(HOST_RUNTIME)) \
	  $(HOST_LIBS)

run-host: app
	./app

qemu-user: app-rv32-user.elf
	timeout -s KILL $(QEMU_TIMEOUT) $(QEMU_USER) app-rv32-user.elf </dev/null

qemu-system: app-rv32.elf
	timeout -s KILL $(QEMU_TIMEOUT) $(QEMU_SYSTEM) -kernel app-rv32.elf </dev/null

pulp-open: app-pulp-open.elf

gvsoc: app-pulp-open.elf
	$(if $(GVSOC_INSTALL),,$(error set GVSOC_INSTALL to a GVSoC install with the pulp-open target (docs/deploy.md "PULP-open")))
	@mkdir -p $(GVSOC_WORK)
	{flash_json}PATH="$(GVSOC_INSTALL)/bin:/usr/bin:/bin" {gvsoc} --work-dir=$(abspath $(GVSOC_WORK)) --binary $(abspath app-pulp-open.elf) {flash_arg}image flash run

run: {run_goal}

clean:
	rm -rf app app-rv32.elf app-rv32-user.elf app-pulp-open.elf obj-rv32 obj-rv32-user obj-pulp-open $(GVSOC_WORK)

.PHONY: all run run-host qemu-user qemu-system pulp-open gvsoc clean
)",
                   fmt::arg("default_goal", qemu   ? "app-rv32.elf app-rv32-user.elf"
                                            : pulp ? "app-pulp-open.elf"
                                                   : "app"),
                   fmt::arg("gvsoc", gvsoc_run_command()),
                   // the L3 constants go to the HyperFlash image: a readfs partition at flash offset 0
                   fmt::arg("flash_json", dep.uses_l3 ? "printf '%s' '" + gvsoc_flash_content("$(CURDIR)/l3_constants.bin") +
                                                            "' > $(abspath $(GVSOC_WORK))/flash.json\n\t"
                                                      : std::string()),
                   fmt::arg("flash_arg", dep.uses_l3 ? "--flash-content=$(abspath $(GVSOC_WORK))/flash.json@hyperflash " : ""),
                   fmt::arg("run_goal", qemu ? "qemu-system" : pulp ? "gvsoc" : "run-host"));
  return s;
}

std::string cmakelists(const Deployment& dep) {
  const RuntimePlatform& host = *runtime_registry().platform("host");
  return fmt::format(R"(# Builds the application for the host platform (generated by dory): cmake -B build && cmake --build build
# (the rv32 builds for QEMU and the PULP-open ELF: the Makefile). The runtime sources: the host platform's and the
# kernels this network uses, from runtime/registry.json.
cmake_minimum_required(VERSION 3.16)
project(dory_app C)
set(CMAKE_C_STANDARD 99)
find_package(Threads REQUIRED)
add_executable(app main.c network.c goldens.c
  {sources})
target_include_directories(app PRIVATE runtime/include ${{CMAKE_CURRENT_SOURCE_DIR}})
# network.c links l3_constants.bin with .incbin (when the network uses L3): the assembler looks for it here
target_compile_options(app PRIVATE -Wa,-I${{CMAKE_CURRENT_SOURCE_DIR}})
target_link_libraries(app PRIVATE Threads::Threads)
)",
                     fmt::arg("sources", make_list(platform_runtime(dep, host), "runtime/", "\n  ")));
}

Status copy_runtime(const fs::path& dst) {
  const fs::path src = runtime_source_dir();
  std::error_code ec;
  for (const char* sub : {"include", "kernels", "executor", "hal"}) {
    fs::remove_all(dst / sub, ec);
    fs::create_directories(dst / sub, ec);
    fs::copy(src / sub, dst / sub, fs::copy_options::recursive | fs::copy_options::overwrite_existing, ec);
    if (ec)
      return make_error("deploy-write", (dst / sub).string(),
                        fmt::format("cannot copy the runtime from {}: {}", (src / sub).string(), ec.message()),
                        "set DORY_RUNTIME_DIR to dory's runtime/ directory");
  }
  return ok_status();
}

}  // namespace

Status emit_application(const Deployment& dep, const std::vector<std::vector<int32_t>>& inputs,
                        const ReferenceResult& ref, const std::string& dir, const EmitOptions& options) {
  DORY_TRY_STATUS(check_platform(dep.target, dep.l1_bytes, dep.options.platform));
  const fs::path root(dir);
  std::error_code ec;
  fs::create_directories(root, ec);
  if (ec)
    return make_error("deploy-write", dir, fmt::format("cannot create the directory: {}", ec.message()),
                      "choose another -o directory");
  DORY_CHECK(inputs.size() == dep.graph.inputs.size(), "emit_application: wrong number of inputs");
  DORY_TRY_STATUS(write_file(root / "network.h", network_h(dep, options.network_name)));
  DORY_TRY_STATUS(write_file(root / "network.c", network_c(dep, options.network_name)));
  DORY_TRY_STATUS(write_file(root / "goldens.h", goldens_h(dep.options.check)));
  DORY_TRY_STATUS(write_file(root / "goldens.c", goldens_c(dep, ref)));
  DORY_TRY_STATUS(write_file(root / "main.c", app_main_c()));
  DORY_TRY_STATUS(write_file(root / "Makefile", makefile(dep, dep.options.platform)));
  DORY_TRY_STATUS(write_file(root / "CMakeLists.txt", cmakelists(dep)));
  if (dep.uses_l3)
    DORY_TRY_STATUS(write_file(root / "l3_constants.bin",
                               std::string(dep.l3_constants.begin(), dep.l3_constants.end())));
  if (options.copy_runtime) DORY_TRY_STATUS(copy_runtime(root / "runtime"));
  return ok_status();
}

}  // namespace dory
