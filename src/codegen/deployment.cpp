#include "codegen/deployment.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <optional>

#include "codegen/l2_image.h"
#include "memplan/constant_layout.h"
#include "tiler/geometry.h"
#include "tiler/l2_direct.h"

namespace dory {

std::vector<uint8_t> pack_values(const std::vector<int32_t>& v, DType t) {
  const size_t eb = static_cast<size_t>(dtype_bytes(t));
  std::vector<uint8_t> out(v.size() * eb);
  for (size_t i = 0; i < v.size(); ++i) {
    const uint32_t x = static_cast<uint32_t>(v[i]);
    for (size_t b = 0; b < eb; ++b) out[i * eb + b] = static_cast<uint8_t>(x >> (8 * b));  // little endian
  }
  return out;
}

int32_t unpack_value(const uint8_t* p, DType t, size_t i) {
  switch (t) {
    case DType::UInt8: return p[i];
    case DType::Int8: return static_cast<int8_t>(p[i]);
    case DType::UInt16: return static_cast<uint16_t>(p[2 * i] | (p[2 * i + 1] << 8));
    case DType::Int16: return static_cast<int16_t>(p[2 * i] | (p[2 * i + 1] << 8));
    case DType::Int32: {
      uint32_t x = 0;
      for (int b = 0; b < 4; ++b) x |= static_cast<uint32_t>(p[4 * i + static_cast<size_t>(b)]) << (8 * b);
      return static_cast<int32_t>(x);
    }
  }
  return 0;
}

const char* app_platform_name(AppPlatform p) {
  switch (p) {
    case AppPlatform::Qemu: return "qemu";
    case AppPlatform::PulpOpen: return "pulp-open";
    default: return "host";
  }
}

const char* check_mode_name(CheckMode m) {
  switch (m) {
    case CheckMode::Full: return "full";
    case CheckMode::None: return "none";
    default: return "crc";
  }
}

namespace {

template <class T>
void append_le(std::vector<uint8_t>& out, T v) {
  using U = std::make_unsigned_t<T>;
  const U x = static_cast<U>(v);
  for (size_t b = 0; b < sizeof(T); ++b) out.push_back(static_cast<uint8_t>(x >> (8 * b)));
}


uint8_t split_of(const KernelImpl& k) {
  return k.split() == WorkSplit::Rows ? DORY_SPLIT_ROWS : k.split() == WorkSplit::Channels ? DORY_SPLIT_CHANNELS : DORY_SPLIT_AUTO;
}

uint32_t u32(int64_t v, const char* what, const std::string& layer) {
  DORY_CHECK(v >= 0 && v <= std::numeric_limits<uint32_t>::max(),
             fmt::format("layer '{}': {} = {} does not fit the runtime's 32-bit descriptor", layer, what, v));
  return static_cast<uint32_t>(v);
}
int32_t i32(int64_t v, const char* what, const std::string& layer) {
  DORY_CHECK(v >= std::numeric_limits<int32_t>::min() && v <= std::numeric_limits<int32_t>::max(),
             fmt::format("layer '{}': {} = {} does not fit the runtime's 32-bit descriptor", layer, what, v));
  return static_cast<int32_t>(v);
}

dory_l1_buffer l1_buffer(const L1Layout& lay, BufferRole role, int operand, const std::string& layer) {
  dory_l1_buffer b{};
  if (const L1Buffer* x = lay.find(role, operand)) {
    b.copies = static_cast<uint8_t>(x->copies);
    b.bytes = u32(x->bytes_per_copy, "L1 buffer bytes", layer);
    for (int c = 0; c < x->copies; ++c)
      b.offset[c] = u32(x->offsets[static_cast<size_t>(c)], "L1 offset", layer);
    if (x->copies == 1) b.offset[1] = b.offset[0];
  }
  return b;
}

dory_layer_kind layer_kind(const Graph& g, const Layer& l, KernelFamily f) {
  if (l.as<Conv2d>()) {
    switch (f) {
      case KernelFamily::Pointwise: return DORY_LAYER_POINTWISE;
      case KernelFamily::Depthwise: return DORY_LAYER_DEPTHWISE;
      default: return DORY_LAYER_CONV;
    }
  }
  if (l.as<FullyConnected>()) return DORY_LAYER_FC;
  if (l.as<MaxPool>()) return DORY_LAYER_MAXPOOL;
  if (l.as<AveragePool>()) return DORY_LAYER_AVGPOOL;
  if (l.as<Add>()) return DORY_LAYER_ADD;
  (void)g;
  return DORY_LAYER_REQUANTIZE;
}

}  // namespace

const Requant* layer_requant(const Layer& l) {
  if (const auto* c = l.as<Conv2d>()) return c->requant ? &*c->requant : nullptr;
  if (const auto* f = l.as<FullyConnected>()) return f->requant ? &*f->requant : nullptr;
  if (const auto* a = l.as<AveragePool>()) return &a->requant;
  if (const auto* q = l.as<Requantize>()) return &q->requant;
  if (const auto* a = l.as<Add>()) return &a->requant;
  return nullptr;
}

std::vector<uint8_t> requant_records(const Requant& rq, int64_t channels) {
  std::vector<uint8_t> out;
  const bool pm = rq.mul.size() > 1, pa = rq.add.size() > 1;
  if (!pm && !pa) return out;
  for (int64_t c = 0; c < channels; ++c) {
    if (rq.wide) {
      if (pm) append_le<int64_t>(out, rq.mul_at(c));
      if (pa) append_le<int64_t>(out, rq.add_at(c));
    } else {
      if (pm) append_le<int32_t>(out, static_cast<int32_t>(rq.mul_at(c)));
      if (pa) append_le<int32_t>(out, static_cast<int32_t>(rq.add_at(c)));
    }
  }
  return out;
}

dory_requant_divisor requant_divisor(const Requant& rq, uint64_t count) {
  dory_requant_divisor d{};
  d.d64 = rq.make_divisor(count);
  if (!rq.wide) {
    const int rc =
        dory_divisor32_make(static_cast<uint32_t>(rq.divisor * count),
                            rq.rounding == Rounding::Floor ? DORY_ROUND_FLOOR : DORY_ROUND_TOWARD_ZERO, &d.d32);
    DORY_CHECK(rc == 0, "32-bit divisor out of range on a requantization the range analysis proved narrow");
  }
  return d;
}

dory_requant_args requant_args(const Requant& rq) {
  dory_requant_args a{};
  a.mul_per_channel = rq.mul.size() > 1;
  a.add_per_channel = rq.add.size() > 1;
  a.channel_params = nullptr;
  a.mul = rq.mul[0];
  a.add = rq.add[0];
  a.div = requant_divisor(rq, 1);
  a.zero_point = rq.zero_point;
  a.lo = rq.lo;
  a.hi = rq.hi;
  a.wide = rq.wide;
  return a;
}

dory_layer DeployedLayer::descriptor() const {
  dory_layer d = desc;
  d.name = plan.layer.c_str();
  d.count_div = count_div.empty() ? nullptr : count_div.data();
  return d;
}

dory_l3_layer DeployedLayer::l3_descriptor(std::vector<dory_layer>& subs) const {
  DORY_CHECK(l3.has_value(), fmt::format("layer '{}' does not stream from L3", plan.layer));
  dory_l3_layer x = l3->desc;
  x.name = plan.layer.c_str();
  subs = l3->subs;
  for (size_t i = 0; i < subs.size(); ++i) {
    subs[i].name = l3->sub_names[i].c_str();
    subs[i].count_div = count_div.empty() ? nullptr : count_div.data();
  }
  x.subs = subs.data();
  x.band_class = l3->band_class.data();
  return x;
}

int64_t Deployment::tensor_l2_offset(TensorId t) const {
  DORY_CHECK(!tensor_in_l3(t), fmt::format("tensor '{}' is in L3, not L2", graph.tensor(t).name));
  return memory.tensor_offset.at(static_cast<size_t>(t));
}

int64_t Deployment::tensor_offset(TensorId t) const {
  return tensor_in_l3(t) ? two_level.l3.tensor_offset.at(static_cast<size_t>(t)) : tensor_l2_offset(t);
}

namespace {

// Writes a part of a layer's constants where the constant layout (memplan/constant_layout.h) puts it; returns its
// offset. The bytes must be exactly the part the layout sized from the layer's geometry.
int64_t write_constant(std::vector<uint8_t>& constants, const ConstantPart& part, const std::vector<uint8_t>& bytes,
                       const char* what, const std::string& layer) {
  DORY_CHECK(static_cast<int64_t>(bytes.size()) == part.bytes,
             fmt::format("layer '{}': {} B of {}, the constant layout has {} B", layer, bytes.size(), what,
                         part.bytes));
  if (part.bytes > 0) std::copy(bytes.begin(), bytes.end(), constants.begin() + part.offset);
  return part.offset;
}

// Every field of a layer's descriptor for plan p (whose geometry may be an L3 tile's: memplan/l3_memplan.h) except
// the L2 offsets (maps, constants), which the caller sets.
void fill_layer_fields(const Deployment& dep, const Layer& l, const TilePlan& p, dory_layer& d,
                       std::vector<dory_requant_divisor>& count_div) {
  const Graph& g = dep.graph;
  const LayerGeometry& geo = p.geometry;
  const std::string& n = l.name;
  d = dory_layer{};
  d.kind = static_cast<uint8_t>(layer_kind(g, l, geo.family));
  d.c_in = i32(geo.c_in, "c_in", n);
  d.h_in = i32(geo.h_in, "h_in", n);
  d.w_in = i32(geo.w_in, "w_in", n);
  d.c_out = i32(geo.c_out, "c_out", n);
  d.h_out = i32(geo.h_out, "h_out", n);
  d.w_out = i32(geo.w_out, "w_out", n);
  d.kh = i32(geo.kh, "kh", n);
  d.kw = i32(geo.kw, "kw", n);
  d.stride_h = i32(geo.stride_h, "stride_h", n);
  d.stride_w = i32(geo.stride_w, "stride_w", n);
  d.pad = dory_pad{geo.pad.top, geo.pad.left, geo.pad.bottom, geo.pad.right};
  d.channels_tied = geo.channels_tied;

  d.n_inputs = geo.num_inputs();
  DORY_CHECK(d.n_inputs >= 1 && d.n_inputs <= DORY_LAYER_MAX_INPUTS,
             fmt::format("layer '{}': {} inputs (the runtime takes 1 to {})", n, d.n_inputs, DORY_LAYER_MAX_INPUTS));
  for (int k = 0; k < d.n_inputs; ++k) {
    const TensorId t = l.inputs[static_cast<size_t>(k)];
    const DType dt = g.tensor(t).dtype;
    d.in[k].type = runtime_dtype(dt);
    d.in[k].pixel_stride = i32(geo.in_stride(k), "input pixel stride", n);
  }
  const DType out_dt = g.tensor(l.output).dtype;
  d.out.type = runtime_dtype(out_dt);
  d.out.pixel_stride = i32(geo.out_stride(), "output pixel stride", n);
  d.weight_bytes_per_cout = u32(geo.weight_bytes_per_cout(geo.c_in), "weight bytes", n);
  d.bias_bytes_per_cout = u32(geo.bias_bytes_per_cout, "bias bytes", n);
  d.rq_bytes_per_cout = u32(geo.requant_bytes_per_cout, "requant bytes", n);

  d.tile_c_out = i32(p.shape.c_out, "tile c_out", n);
  d.tile_h = i32(p.shape.h_out, "tile h", n);
  d.tile_w = i32(p.shape.w_out, "tile w", n);
  d.tile_c_in = i32(p.shape.c_in, "tile c_in", n);
  d.db_input = p.buffering.input;
  d.db_weights = p.buffering.weights;
  d.db_output = p.buffering.output;
  for (int k = 0; k < d.n_inputs; ++k) d.l1_in[k] = l1_buffer(p.layout, BufferRole::Input, k, n);
  d.l1_weights = l1_buffer(p.layout, BufferRole::Weights, 0, n);
  d.l1_bias = l1_buffer(p.layout, BufferRole::Bias, 0, n);
  d.l1_requant = l1_buffer(p.layout, BufferRole::RequantParams, 0, n);
  d.l1_out = l1_buffer(p.layout, BufferRole::Output, 0, n);
  d.l1_psum = l1_buffer(p.layout, BufferRole::PartialSums, 0, n);
  d.l1_scratch = l1_buffer(p.layout, BufferRole::Scratch, 0, n);

  const Target& t = dep.target;
  d.split = split_of(geo.kernel(t));
  if (const Requant* rq = layer_requant(l)) d.rq = requant_args(*rq);
  count_div.clear();
  if (const auto* c = l.as<Conv2d>()) {
    d.input_zero_point = c->input_zero_point;
    d.has_requant = c->requant.has_value();
  } else if (const auto* f = l.as<FullyConnected>()) {
    d.input_zero_point = f->input_zero_point;
    d.has_requant = f->requant.has_value();
  } else if (const auto* mp = l.as<MaxPool>()) {
    d.has_pad_value = mp->pad_value.has_value();
    d.pad_value = mp->pad_value.value_or(0);
  } else if (const auto* ap = l.as<AveragePool>()) {
    d.input_zero_point = ap->input_zero_point;
    d.pad_value = ap->pad_value;
    d.count_include_pad = ap->count_include_pad;
    d.has_requant = 1;
    const int64_t kk = static_cast<int64_t>(ap->win.kh) * ap->win.kw;
    const int64_t first = (ap->count_include_pad || !ap->win.pad.any()) ? kk : 1;
    for (int64_t cnt = first; cnt <= kk; ++cnt)
      count_div.push_back(requant_divisor(ap->requant, static_cast<uint64_t>(cnt)));
    d.count_div_first = i32(first, "count_div_first", n);
    d.count_div_len = i32(static_cast<int64_t>(count_div.size()), "count_div_len", n);
  } else if (const auto* ad = l.as<Add>()) {
    d.has_requant = 1;
    for (size_t k = 0; k < ad->operands.size(); ++k) {
      const AddOperand& o = ad->operands[k];
      dory_add_operand& op = d.add_op[k];
      op.zero_point = o.zero_point;
      op.mul = o.mul;
      op.add = o.add;
      dory_divisor_make(o.divisor, o.rounding == Rounding::Floor ? DORY_ROUND_FLOOR : DORY_ROUND_TOWARD_ZERO,
                        &op.div);
    }
  } else if (const auto* q = l.as<Requantize>()) {
    d.input_zero_point = q->input_zero_point;
    d.has_requant = 1;
  }
  d.l2_direct_scratch_bytes = u32(l2_direct_scratch_bytes(t, geo), "L2-direct im2col bytes", n);
  d.modeled_cycles = static_cast<uint64_t>(p.cost.total_cycles + 0.5);
  d.l2_direct_modeled_cycles = static_cast<uint64_t>(l2_direct_call(t, geo).cycles + 0.5);
  d.macs = static_cast<uint64_t>(geo.macs());
}


// The check buffer main.c reads tensors in L3 through (deploy reserves it in L2 when some layer uses L3).
constexpr int64_t kCheckBounceBytes = 512;

// The L2-only memory plan of `dep` (every constant and activation in L2), with the L2 map in the diagnostic where
// the program image is in L2 too.
Expected<MemoryPlan> l2_only(const Deployment& dep, const std::vector<TilePlan>& plans, const ConstantLayout& constants,
                             const MemoryPlanOptions& mo, const std::optional<L2Image>& image, int64_t check_savings,
                             const DeployOptions& options) {
  (void)plans;
  const Target& target = dep.target;
  const bool l3_hint = options.l3 != L3Mode::Off;
  const std::string l3_text =
      l2_l3_engine(target) ? (l3_hint ? "" : "; or --l3 auto (stream from the target's L3)")
                           : "; or a target with an L3 (e.g. pulp-open: its HyperRAM), where dory streams what L2 "
                             "cannot hold";
  if (image && mo.l2_capacity_bytes < mo.reserved_bytes && (options.l2_budget_bytes <= 0 ||
                                                            options.platform == AppPlatform::PulpOpen)) {
    L2Image full = *image;
    full.constants = mo.reserved_bytes;
    Diagnostic d = make_error(
        "l2-overflow", "graph",
        fmt::format("on {}, L2 holds the program image too: {} B of program and {} B of constants leave no room "
                    "for the activations in its {} B\n{}",
                    target.name, format_bytes_grouped(image->reserved + image->program()),
                    format_bytes_grouped(mo.reserved_bytes), format_bytes_grouped(target.l2.size_bytes),
                    render_l2_image(full)),
        fmt::format("a target with a larger L2, a smaller network{}{}",
                    check_savings > 0 ? fmt::format(", --check crc or none ({} B fewer of goldens)",
                                                    format_bytes_grouped(check_savings))
                                      : std::string(),
                    l3_text));
    d.severity = Severity::Infeasible;
    return d;
  }
  Expected<MemoryPlan> planned = plan_memory(dep.graph, mo);
  if (!planned.ok() && planned.error().code == "l2-overflow") {
    Diagnostic d = planned.error();
    if (image) {
      // Say where L2 went: the program image is part of it on this chip.
      L2Image full = *image;
      full.constants = mo.reserved_bytes;
      d.message += fmt::format(
          " (on {}, L2 also holds the program: {} B of the {} B; the network gets {} B)\n{}", target.name,
          format_bytes_grouped(image->reserved + image->program()), format_bytes_grouped(target.l2.size_bytes),
          format_bytes_grouped(mo.l2_capacity_bytes), render_l2_image(full));
      d.hint += check_savings > 0 ? fmt::format("; or --check none (no goldens in the image: {} B fewer{})",
                                                format_bytes_grouped(check_savings),
                                                options.check == CheckMode::Full
                                                    ? "; --check crc keeps a CRC per layer for less"
                                                    : "")
                                  : std::string();
    }
    d.hint += l3_text;
    return d;
  }
  (void)constants;
  return planned;
}

// Moves the plans into dep.layers and writes every layer's constants into the level its layout puts them in: L2
// (dep.constants) or, with l3 given, L3 (dep.l3_constants); a layer's parts are all in one of them.
void write_constants(Deployment& dep, std::vector<TilePlan>& plans, const ConstantLayout& l2,
                     const ConstantLayout* l3) {
  dep.constants.assign(static_cast<size_t>(l2.bytes), 0);
  if (l3) dep.l3_constants.assign(static_cast<size_t>(l3->bytes), 0);
  for (size_t i = 0; i < plans.size(); ++i) {
    TilePlan& p = plans[i];
    const bool in_l3 = l3 && (l3->layers[i].weights.offset >= 0 || l3->layers[i].bias.offset >= 0 ||
                              l3->layers[i].requant.offset >= 0);
    const LayerConstants& place = in_l3 ? l3->layers[i] : l2.layers[i];
    std::vector<uint8_t>& image = in_l3 ? dep.l3_constants : dep.constants;
    DeployedLayer dl;
    dl.layer_index = p.layer_index;
    const Layer& l = dep.graph.layers[static_cast<size_t>(p.layer_index)];
    auto write = [&](const ConstantPart& part, const std::vector<uint8_t>& bytes, const char* what) {
      return write_constant(image, part, bytes, what, l.name);
    };
    if (const auto* c = l.as<Conv2d>()) {
      dl.weights_offset = write(place.weights, pack_values(c->weights, DType::Int8), "weights");
      dl.bias_offset = write(place.bias, pack_values(c->bias, DType::Int32), "bias");
    } else if (const auto* f = l.as<FullyConnected>()) {
      dl.weights_offset = write(place.weights, pack_values(f->weights, DType::Int8), "weights");
      dl.bias_offset = write(place.bias, pack_values(f->bias, DType::Int32), "bias");
    }
    if (p.geometry.requant_bytes_per_cout > 0) {
      const Requant* rq = layer_requant(l);
      DORY_CHECK(rq, "per-channel requant bytes without a requantization");
      dl.requant_offset = write(place.requant, requant_records(*rq, p.geometry.c_out), "requantization records");
    }
    DORY_CHECK(dl.weights_offset == place.weights.offset && dl.bias_offset == place.bias.offset &&
                   dl.requant_offset == place.requant.offset,
               fmt::format("layer '{}': constants the layout has but the layer does not write", l.name));
    dep.l1_peak_bytes = std::max(dep.l1_peak_bytes, p.layout.total_bytes);
    dl.plan = std::move(p);
    dep.layers.push_back(std::move(dl));
  }
}

// The ordinary descriptor of an L2 layer.
void fill_descriptor(const Deployment& dep, DeployedLayer& dl) {
  const Graph& g = dep.graph;
  const Layer& l = g.layers[static_cast<size_t>(dl.layer_index)];
  const LayerGeometry& geo = dl.plan.geometry;
  const std::string& n = l.name;
  dory_layer& d = dl.desc;
  fill_layer_fields(dep, l, dl.plan, d, dl.count_div);
  for (int k = 0; k < d.n_inputs; ++k) {
    const TensorId t = l.inputs[static_cast<size_t>(k)];
    d.in[k].l2_offset =
        u32(dep.tensor_l2_offset(t) + geo.in_offset(k) * dtype_bytes(g.tensor(t).dtype), "input L2 offset", n);
  }
  d.out.l2_offset = u32(dep.tensor_l2_offset(l.output) + geo.out_channel_offset * dtype_bytes(g.tensor(l.output).dtype),
                        "output L2 offset", n);
  d.weights_l2 = dl.weights_offset >= 0 ? u32(dl.weights_offset, "weights offset", n) : 0;
  d.bias_l2 = dl.bias_offset >= 0 ? u32(dl.bias_offset, "bias offset", n) : 0;
  d.requant_l2 = dl.requant_offset >= 0 ? u32(dl.requant_offset, "requant offset", n) : 0;
}

dory_l2_stage stage_c(const L3StagingBuffer* b, const StagingPlacement& place, const std::string& n) {
  dory_l2_stage st{};
  if (!b) return st;
  st.bytes = u32(b->bytes_per_copy, "staging bytes", n);
  st.copies = static_cast<uint8_t>(b->copies.size());
  for (size_t c = 0; c < b->copies.size(); ++c) {
    const int64_t base = place.part_offset[b->copies[c].part];
    DORY_CHECK(base >= 0, fmt::format("layer '{}': a staging copy in an unplaced part", n));
    st.offset[c] = u32(base + b->copies[c].offset, "staging offset", n);
  }
  if (st.copies == 1) st.offset[1] = st.offset[0];
  return st;
}

// The descriptors of a layer that streams from L3: the whole-layer descriptor (for reports and checks), the
// sub-layer templates, the two-level descriptor.
void fill_l3_descriptor(const Deployment& dep, DeployedLayer& dl, size_t plan_index) {
  const Graph& g = dep.graph;
  const Layer& l = g.layers[static_cast<size_t>(dl.layer_index)];
  const std::string& n = l.name;
  DeployedLayer::L3Part& part = *dl.l3;
  const L3Plan& lp = part.plan;
  const LayerGeometry& geo = lp.geometry;
  const StagingPlacement& place = dep.two_level.staging.at(plan_index);
  // the whole layer: its shape, output type and model; no L1 buffers (each L3 tile has its own)
  fill_layer_fields(dep, l, dl.plan, dl.desc, dl.count_div);
  dory_layer& w = dl.desc;
  w.tile_c_out = i32(lp.shape.c_out, "L3 block", n);
  w.tile_h = i32(lp.shape.h_out, "L3 band", n);
  w.tile_w = w.w_out;
  w.tile_c_in = w.c_in;
  w.db_input = w.db_weights = w.db_output = 0;
  for (int k = 0; k < DORY_LAYER_MAX_INPUTS; ++k) w.l1_in[k] = dory_l1_buffer{};
  w.l1_weights = w.l1_bias = w.l1_requant = w.l1_out = w.l1_psum = w.l1_scratch = dory_l1_buffer{};
  w.l2_direct_scratch_bytes = 0;
  w.modeled_cycles = static_cast<uint64_t>(lp.cost.total_cycles - part.hidden_cycles + 0.5);
  if (!dep.tensor_in_l3(l.output))
    w.out.l2_offset = u32(dep.tensor_l2_offset(l.output) + geo.out_channel_offset * dtype_bytes(g.tensor(l.output).dtype),
                          "output L2 offset", n);
  // the sub-layers: each class's L1 plan, offsets set per tile by the schedule
  part.subs.clear();
  part.sub_names.clear();
  for (const TilePlan& sp : lp.subs) {
    dory_layer d;
    std::vector<dory_requant_divisor> unused;
    fill_layer_fields(dep, l, sp, d, unused);
    part.subs.push_back(d);
    part.sub_names.push_back(sp.layer);
  }
  part.band_class.assign(lp.band_class.begin(), lp.band_class.end());
  // the two-level descriptor
  dory_l3_layer& x = part.desc;
  x = dory_l3_layer{};
  x.c_in = i32(geo.c_in, "c_in", n);
  x.h_in = i32(geo.h_in, "h_in", n);
  x.w_in = i32(geo.w_in, "w_in", n);
  x.c_out = i32(geo.c_out, "c_out", n);
  x.h_out = i32(geo.h_out, "h_out", n);
  x.w_out = i32(geo.w_out, "w_out", n);
  x.kh = i32(geo.kh, "kh", n);
  x.stride_h = i32(geo.stride_h, "stride_h", n);
  x.pad_top = geo.pad.top;
  x.channels_tied = geo.channels_tied;
  x.n_inputs = geo.num_inputs();
  for (int k = 0; k < x.n_inputs; ++k) {
    const TensorId t = l.inputs[static_cast<size_t>(k)];
    const int64_t eb = dtype_bytes(g.tensor(t).dtype);
    x.in_elem_bytes[k] = static_cast<uint8_t>(eb);
    if (dep.tensor_in_l3(t)) {
      x.in_where[k] = DORY_IN_L3;
      x.in_offset[k] = u32(dep.tensor_offset(t), "input L3 offset", n);
      x.in_pixel_stride[k] = i32(geo.c_in, "input pixel stride", n);
    } else {
      x.in_where[k] = DORY_IN_L2;
      x.in_offset[k] = u32(dep.tensor_l2_offset(t) + geo.in_offset(k) * eb, "input L2 offset", n);
      x.in_pixel_stride[k] = i32(geo.in_stride(k), "input pixel stride", n);
    }
  }
  x.out_elem_bytes = static_cast<uint8_t>(dtype_bytes(g.tensor(l.output).dtype));
  if (dep.tensor_in_l3(l.output)) {
    x.out_where = DORY_IN_L3;
    x.out_offset = u32(dep.tensor_offset(l.output), "output L3 offset", n);
    x.out_pixel_stride = i32(geo.c_out, "output pixel stride", n);
  } else {
    x.out_where = DORY_IN_L2;
    x.out_offset = u32(dep.tensor_l2_offset(l.output) + geo.out_channel_offset * x.out_elem_bytes, "output L2 offset", n);
    x.out_pixel_stride = i32(geo.out_stride(), "output pixel stride", n);
  }
  x.weights_where = lp.residency.weights_in_l3 ? DORY_IN_L3 : DORY_IN_L2;
  x.weights = dl.weights_offset >= 0 ? u32(dl.weights_offset, "weights offset", n) : 0;
  x.bias = dl.bias_offset >= 0 ? u32(dl.bias_offset, "bias offset", n) : 0;
  x.requant = dl.requant_offset >= 0 ? u32(dl.requant_offset, "requant offset", n) : 0;
  x.weight_bytes_per_cout = u32(geo.weight_bytes_per_cout(geo.c_in), "weight bytes", n);
  x.bias_bytes_per_cout = u32(geo.bias_bytes_per_cout, "bias bytes", n);
  x.rq_bytes_per_cout = u32(geo.requant_bytes_per_cout, "requant bytes", n);
  x.tile_c_out = i32(lp.shape.c_out, "L3 block", n);
  x.tile_h = i32(lp.shape.h_out, "L3 band", n);
  for (int k = 0; k < x.n_inputs; ++k) x.stage_in[k] = stage_c(lp.staging.find(L3StagingRole::Input, k), place, n);
  x.stage_weights = stage_c(lp.staging.find(L3StagingRole::Weights), place, n);
  x.stage_bias = stage_c(lp.staging.find(L3StagingRole::Bias), place, n);
  x.stage_requant = stage_c(lp.staging.find(L3StagingRole::RequantParams), place, n);
  x.stage_out = stage_c(lp.staging.find(L3StagingRole::Output), place, n);
  x.n_band_classes = i32(static_cast<int64_t>(lp.subs.size()) / lp.block_classes, "band classes", n);
  x.n_block_classes = lp.block_classes;
  x.prefetch_weights = lp.prefetch_weights;
  x.modeled_cycles = w.modeled_cycles;
  x.l3_bytes = static_cast<uint64_t>(lp.cost.l3_bytes);
}
}  // namespace

Expected<Deployment> deploy(const Graph& g, const Target& target, const DeployOptions& options) {
  Deployment dep;
  dep.graph = g;
  dep.target = target;
  dep.options = options;
  dep.l1_bytes = options.l1_budget_bytes > 0 ? options.l1_budget_bytes : target.usable_bytes(MemLevel::L1);
  // The kernels read int32 biases and partial sums, and int64 requantization records as 32-bit words, from L1
  // buffers that start at multiples of the L1 alignment.
  if (target.l1.alignment_bytes < 4)
    return make_error("deploy-l1-alignment", fmt::format("target '{}': memories.L1.alignment_bytes", target.name),
                      fmt::format("L1 alignment {} B; the generated code needs L1 buffers aligned to at least 4 B (its "
                                  "kernels load 32-bit biases, partial sums and requantization words from L1)",
                                  target.l1.alignment_bytes),
                      "set alignment_bytes of L1 to 4 or more in the target file (every PULP L1 is word-addressed)");
  // Concatenation inputs are produced into their slice of the output: refuse what the code could not honor.
  DORY_TRY_STATUS(check_concat_storage(dep.graph));
  std::vector<TilePlan> plans = options.plans;
  if (plans.empty() && options.layer_options.empty()) {
    DORY_TRY(plans, plan_network(dep.graph, target, dep.l1_bytes, options.objective));
  } else if (!plans.empty()) {  // the caller's plans (eval's L1-resident deployment): one per layer that needs one, within the budget
    size_t k = 0;
    for (size_t i = 0; i < dep.graph.layers.size(); ++i) {
      if (!needs_l1_plan(dep.graph.layers[i])) continue;
      DORY_CHECK(k < plans.size() && plans[k].layer_index == static_cast<int>(i) &&
                     plans[k].layout.total_bytes <= dep.l1_bytes,
                 fmt::format("deploy: the given plans do not match layer '{}' or exceed the L1 budget",
                             dep.graph.layers[i].name));
      ++k;
    }
    DORY_CHECK(k == plans.size(), "deploy: more plans given than layers that need one");
  } else if (!options.layer_options.empty()) {  // per-layer budgets and objectives (deploy_fuzz's packed ELFs)
    plans.clear();
    for (const auto& [name, lo] : options.layer_options) {
      const auto it = std::find_if(dep.graph.layers.begin(), dep.graph.layers.end(),
                                   [&](const Layer& l) { return l.name == name; });
      if (it == dep.graph.layers.end() || !needs_l1_plan(*it))
        return make_error("deploy-layer-options", fmt::format("layer '{}'", name),
                          it == dep.graph.layers.end() ? "per-layer options name a layer the graph does not have"
                                                       : "per-layer options name a layer that is not tiled in L1",
                          "name a conv, fc, pool, add or requantize layer of the graph");
      if (lo.l1_budget_bytes < 0 || lo.l1_budget_bytes > dep.l1_bytes)
        return make_error("deploy-layer-options", fmt::format("layer '{}'", name),
                          fmt::format("a layer's L1 budget of {} B; the deployment's is {} B",
                                      format_bytes_grouped(lo.l1_budget_bytes), format_bytes_grouped(dep.l1_bytes)),
                          "give a layer at most the deployment's L1 budget (0: the deployment's)");
    }
    for (const Layer& l : dep.graph.layers) {
      if (!needs_l1_plan(l)) continue;
      int64_t budget = dep.l1_bytes;
      Objective objective = options.objective;
      if (const auto it = options.layer_options.find(l.name); it != options.layer_options.end()) {
        if (it->second.l1_budget_bytes > 0) budget = it->second.l1_budget_bytes;
        if (it->second.objective) objective = *it->second.objective;
      }
      DORY_TRY(TilePlan p, plan_layer(dep.graph, l, target, budget, objective));
      plans.push_back(std::move(p));
    }
  }

  // A target whose L2 holds the program image: the program's bytes are not the network's (codegen/l2_image.h).
  std::optional<L2Image> image;
  int64_t check_savings = 0;  // what --check none would free
  if (!target.l2.program_image.empty()) {
    image = program_image(dep.graph, plans, target, options.check);
    check_savings = image->checks - program_image(dep.graph, plans, target, CheckMode::None).checks;
  }
  // Two levels (memplan/l3_memplan.h) when forced or when L2 alone does not hold the network.
  const bool forced = !options.force_weights_l3.empty() || !options.force_tensors_l3.empty();
  MemoryPlanOptions mo;
  mo.l2_capacity_bytes = options.l2_budget_bytes > 0 ? options.l2_budget_bytes : target.usable_bytes(MemLevel::L2);
  // The program image shares the chip's L2 unless an explicit budget is given for a platform that does not build
  // the chip's image (the host's simulated L2 takes any budget; tests use that to fuzz tiling alone).
  const bool image_counts = image && (options.l2_budget_bytes <= 0 || options.platform == AppPlatform::PulpOpen);
  if (image_counts) mo.l2_capacity_bytes = std::min(mo.l2_capacity_bytes, target.usable_bytes(MemLevel::L2) - image->program());
  mo.alignment = std::max<int64_t>(8, target.l2.alignment_bytes);
  std::optional<Diagnostic> plain_error;
  if (!forced) {
    const ConstantLayout constants = layout_constants(plans);
    mo.reserved_bytes = constants.bytes;
    Expected<MemoryPlan> planned = l2_only(dep, plans, constants, mo, image, check_savings, options);
    if (planned.ok() || planned.error().code != "l2-overflow" || options.l3 == L3Mode::Off ||
        l2_l3_engine(target) == nullptr) {
      DORY_TRY(MemoryPlan mem, std::move(planned));
      write_constants(dep, plans, constants, nullptr);
      dep.memory = std::move(mem);
      for (DeployedLayer& dl : dep.layers) fill_descriptor(dep, dl);
      return dep;
    }
    plain_error = planned.error();
  }
  if (l2_l3_engine(target) == nullptr)
    return make_error("l3-unavailable", fmt::format("target '{}'", target.name),
                      "the deployment forces operands into L3, but the target has no L3 (or no engine between L2 and L3)",
                      "deploy to a target with memories.L3 and an L2-L3 engine (e.g. pulp-open), or force nothing");
  TwoLevelOptions to;
  to.mode = options.l3;
  to.l1_budget_bytes = dep.l1_bytes;
  to.objective = options.objective;
  to.l2_alignment = mo.alignment;
  to.force_weights_l3 = options.force_weights_l3;
  to.force_tensors_l3 = options.force_tensors_l3;
  to.staging_cap_bytes = options.l3_staging_cap_bytes;
  to.prefetch = options.l3_prefetch;
  to.check_bounce_bytes = options.check == CheckMode::None ? 0 : kCheckBounceBytes;
  to.l2_capacity_bytes = mo.l2_capacity_bytes;
  // The program grows with the L3 descriptors; on a chip whose L2 holds it, plan again with what is left.
  for (int attempt = 0;; ++attempt) {
    Expected<TwoLevelPlan> tl = plan_two_levels(dep.graph, plans, target, to);
    if (!tl.ok()) {
      Diagnostic d = tl.error();
      if (plain_error && d.code == "l2-overflow") d.message += " (" + plain_error->message + ")";
      return d;
    }
    if (image_counts) {
      int64_t descriptors = 0;
      for (size_t i = 0; i < plans.size(); ++i)
        if (tl->tilings[i]) descriptors += 1 + static_cast<int64_t>(tl->tilings[i]->subs.size());
      const L2Image with = program_image(dep.graph, plans, target, options.check, descriptors);
      const int64_t capacity = std::min<int64_t>(options.l2_budget_bytes > 0 ? options.l2_budget_bytes
                                                                             : target.usable_bytes(MemLevel::L2),
                                                 target.usable_bytes(MemLevel::L2) - with.program());
      if (tl->l2.total_bytes > capacity) {
        DORY_CHECK(attempt < 4, "deploy: the L2 plan with L3 does not settle beside the program image");
        to.l2_capacity_bytes = capacity;
        continue;
      }
    }
    dep.two_level = std::move(*tl);
    break;
  }
  dep.uses_l3 = dep.two_level.uses_l3;
  dep.memory = dep.two_level.l2;
  if (dep.two_level.check_bounce_extra >= 0) {
    dep.check_bounce_offset = dep.memory.extra_offset.at(static_cast<size_t>(dep.two_level.check_bounce_extra));
    dep.check_bounce_bytes = dep.memory.extras.at(static_cast<size_t>(dep.two_level.check_bounce_extra)).bytes;
  }
  write_constants(dep, plans, dep.two_level.l2_constants, &dep.two_level.l3_constants);
  for (size_t i = 0; i < dep.layers.size(); ++i) {
    DeployedLayer& dl = dep.layers[i];
    if (!dep.two_level.tilings[i]) {
      fill_descriptor(dep, dl);
      continue;
    }
    dl.l3.emplace();
    dl.l3->plan = *dep.two_level.tilings[i];
    // the prologue part a prefetch hides: at most the previous layer's modeled time
    if (dl.l3->plan.prefetch_weights && i > 0) {
      const DeployedLayer& prev = dep.layers[i - 1];
      const double before = prev.l3 ? prev.l3->plan.cost.total_cycles - prev.l3->hidden_cycles
                                    : prev.plan.cost.total_cycles;
      dl.l3->hidden_cycles = std::min(dl.l3->plan.cost.prefetchable_cycles, before);
    }
    fill_l3_descriptor(dep, dl, i);
  }
  return dep;
}

}  // namespace dory
