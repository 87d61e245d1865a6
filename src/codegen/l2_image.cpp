#include "codegen/l2_image.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <iterator>

#include "util/byte_size.h"

namespace dory {

namespace {

// sizeof(dory_requant_divisor) on rv32 (uint64 d, magic; 3 bytes; uint32 d, magic; 3 bytes: 40 with alignment).
constexpr int64_t kDivisorBytes = 40;

const RuntimePlatform& image_platform(const Target& target) {
  const RuntimePlatform* p = runtime_registry().platform(target.l2.program_image);
  DORY_CHECK(p && p->image, fmt::format("target '{}' has no L2 program image", target.name));
  return *p;
}

}  // namespace

int64_t L2Image::kernel_bytes() const {
  int64_t n = 0;
  for (const L2ImageKernel& k : kernels) n += k.code_bytes;
  return n;
}

L2Image program_image(const Graph& g, const std::vector<TilePlan>& plans, const Target& target, CheckMode check) {
  const RuntimeRegistry& reg = runtime_registry();
  const RuntimePlatform& p = image_platform(target);
  L2Image m;
  m.platform = p.name;
  m.l2_bytes = target.l2.size_bytes;
  m.reserved = target.l2.reserved_bytes;
  m.runtime = p.image->base_bytes;
  for (const TilePlan& plan : plans) {
    const RegistryKernel& k = reg.on_platform(*plan.geometry.kernel(target).kernel, p);
    if (std::none_of(m.kernels.begin(), m.kernels.end(), [&](const L2ImageKernel& x) { return x.name == k.name; }))
      m.kernels.push_back({k.name, k.code_bytes.at(p.name)});
    m.layers += p.image->layer_bytes;
    // average pooling: its table of divisors (codegen/deployment.cpp: every count a window can have)
    const Layer& l = g.layers[static_cast<size_t>(plan.layer_index)];
    if (const auto* ap = l.as<AveragePool>()) {
      const int64_t kk = static_cast<int64_t>(ap->win.kh) * ap->win.kw;
      const int64_t first = (ap->count_include_pad || !ap->win.pad.any()) ? kk : 1;
      m.layers += (kk - first + 1) * kDivisorBytes;
    }
  }
  // The goldens (codegen/emit_c.cpp goldens_c): each input and output as bytes plus a terminating byte, the
  // tables of pointers, CRCs and places.
  for (TensorId t : g.inputs) m.checks += g.tensor(t).elements() * dtype_bytes(g.tensor(t).dtype) + 1 + 4;
  const int64_t layers = static_cast<int64_t>(plans.size());
  if (check == CheckMode::Crc) m.checks += layers * (4 + 8);
  if (check == CheckMode::Full) {
    m.checks += layers * (4 + 8);
    for (const TilePlan& plan : plans) m.checks += plan.geometry.output_bytes() + 1;
  }
  return m;
}

L2Image l2_image(const Deployment& dep) {
  std::vector<TilePlan> plans;
  for (const DeployedLayer& l : dep.layers) plans.push_back(l.plan);
  L2Image m = program_image(dep.graph, plans, dep.target, dep.options.check);
  m.constants = static_cast<int64_t>(dep.constants.size());
  m.activations = dep.l2_bytes() - m.constants;
  return m;
}

Expected<L2Placement> read_l2_placement(const std::string& elf_path, int64_t l2_base, int64_t l2_bytes) {
  std::ifstream f(elf_path, std::ios::binary);
  const std::vector<uint8_t> b((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  auto bad = [&](const std::string& why) {
    return make_error("elf-read", elf_path, "cannot read the section headers: " + why,
                      "the file should be the ELF32 the application's Makefile built");
  };
  auto u16 = [&](size_t o) { return static_cast<uint32_t>(b[o] | (b[o + 1] << 8)); };
  auto u32 = [&](size_t o) {
    return static_cast<uint32_t>(b[o]) | (static_cast<uint32_t>(b[o + 1]) << 8) |
           (static_cast<uint32_t>(b[o + 2]) << 16) | (static_cast<uint32_t>(b[o + 3]) << 24);
  };
  if (b.size() < 52 || std::memcmp(b.data(), "\x7f" "ELF", 4) != 0) return bad("not an ELF file");
  if (b[4] != 1 || b[5] != 1) return bad("not a little-endian ELF32 file");
  const size_t shoff = u32(32), shentsize = u16(46), shnum = u16(48), shstrndx = u16(50);
  if (shentsize < 40 || shoff + shnum * shentsize > b.size() || shstrndx >= shnum) return bad("truncated");
  const size_t strtab = u32(shoff + shstrndx * shentsize + 16);
  L2Placement p;
  for (size_t i = 0; i < shnum; ++i) {
    const size_t h = shoff + i * shentsize;
    const uint32_t flags = u32(h + 8), addr = u32(h + 12), size = u32(h + 20);
    if (!(flags & 2u) || size == 0) continue;  // SHF_ALLOC
    if (addr < l2_base || addr >= l2_base + l2_bytes) continue;
    std::string name;
    for (size_t c = strtab + u32(h); c < b.size() && b[c]; ++c) name += static_cast<char>(b[c]);
    p.sections.push_back({name, addr, size});
    p.end = std::max<int64_t>(p.end, static_cast<int64_t>(addr) + size - l2_base);
  }
  std::sort(p.sections.begin(), p.sections.end(),
            [](const L2Section& a, const L2Section& c) { return a.address < c.address; });
  return p;
}

std::string render_l2_image(const L2Image& m) {
  auto row = [&](const std::string& what, int64_t bytes, const char* how) {
    return fmt::format("  {:<34} {:>11} B  {:5.1f} %  {}\n", what, format_bytes_grouped(bytes),
                       100.0 * static_cast<double>(bytes) / static_cast<double>(m.l2_bytes), how);
  };
  std::string s = fmt::format("L2 map ({} B; the {} program image is in L2):\n", format_bytes_grouped(m.l2_bytes),
                              m.platform);
  s += row("reserved (outside the image)", m.reserved, "target");
  s += row("runtime, libc, main, stacks", m.runtime, "estimated (registry)");
  s += row(fmt::format("kernels ({})", m.kernels.size()), m.kernel_bytes(), "estimated (registry)");
  for (const L2ImageKernel& k : m.kernels) s += fmt::format("    {:<32} {:>11} B\n", k.name, format_bytes_grouped(k.code_bytes));
  s += row("layer descriptors", m.layers, "estimated (registry)");
  s += row("checks (inputs, goldens)", m.checks, "exact");
  s += row("constants", m.constants, "exact");
  s += row("activations", m.activations, "exact");
  s += row("free", m.free(), m.free() >= 0 ? "" : "OVER");
  return s;
}

}  // namespace dory
