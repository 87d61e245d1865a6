// deploy_fuzz: differential fuzzing of the whole deployment path, one random layer at a time.
//
// Each case: a random layer of one kind (conv, pointwise, depthwise, fc, max/avg pool, add, requantize; kernels
// 1-7 incl. non-square, strides 1-3, asymmetric padding (sometimes as large as the kernel or larger: windows and
// whole tiles of padding only), channels 1-300, maps 1-96; random element types and
// requantizations: tests/kernels/kernel_harness.h) on a random target (gap8, pulp-open, gap9), a random L1
// budget between the smallest feasible one and the whole layer, and a random objective (model, dory, fill) ->
// deploy (plans, memory plan, descriptors, static schedule check) -> emit the C application -> compile it with
// the system C compiler -> run it on the host platform with 1 and with 8 cores (random DMA completion delays,
// including the adversarial "complete only when waited for") -> every element of every layer compared with the
// reference executor by the application itself. On the pulp-open target (it has an L3), half the cases stream
// every layer's constants from L3 in output-channel blocks (about 1..16 blocks; the host's L3 engine with a random
// completion delay); --l3 makes every case such a case (pulp-open, a conv, pointwise, depthwise or fc layer); with
// --platform gvsoc, --l3 streams every such layer's constants from the HyperRAM in 1..8 blocks.
// Each run makes two passes from a poisoned L2: the tiled one, then the L2-direct one (app
// --mode both: every layer one kernel call on its operands in L2, no DMA), both checked.
// --platform qemu instead cross-compiles every case for rv32imc (the rv32 runtime built once into an archive) and
// runs it once under qemu-riscv32 (Linux user mode: fast; one core, DMA completing when waited for).
//
// --platform gvsoc ("proof of bits" on the PULP-open virtual platform): every case is deployed for the pulp-open
// target (8 cores, MCHAN DMA; the Xpulpv2 kernels for uint8 activations, the portable C kernels otherwise) with
// its own random L1 budget (smallest feasible .. the whole layer, within the TCDM the runtime leaves) and objective,
// and runs as a PULP-open ELF on GVSoC in both passes (tiled, L2-direct). To amortize GVSoC's start-up, consecutive
// cases share one ELF: their graphs side by side as one network of independent subgraphs (layers and tensors
// prefixed "c<K>_"), each layer planned with its own case's budget and objective (DeployOptions::layer_options),
// packed while the estimated L2 image (program, constants, every activation tensor, checks) and the modeled cycles
// fit (an ELF the deployment still refuses for L2 is split in two). The application checks every layer of every
// case, in both passes, against the reference executor (a CRC-32 of its output); a failing case is run again alone
// with full goldens (its first differing element). A case is drawn again (within its own random stream) while it
// does not fit the platform: an L1 minimum above the TCDM, an L2 image or modeled cycles above a case's share.
// 40 % of the cases are drawn until every input of their layer is uint8 (the Xpulpv2 kernels); the rest keep the
// generator's types. Needs GVSOC_INSTALL and the RISC-V toolchain: without them the program exits 77 (skipped;
// ctest's SKIP_RETURN_CODE), or 1 under CI=true.
//
//   deploy_fuzz [--cases N] [--seed S] [--case K] [--jobs J] [--sanitize none|address|thread] [--work DIR]
//               [--platform host|qemu|gvsoc] [--batch F-L] [--check crc|full] [--l3]
//
// Case K of seed S is fully determined by (S, K): a failure prints the line that replays it alone
// (`deploy_fuzz --seed S --case K --work DIR` keeps its application in DIR for debugging); on gvsoc also the line
// that replays its whole ELF (`--batch F-L`: cases F to L in one ELF). --sanitize compiles the runtime and every
// application with AddressSanitizer+UndefinedBehaviorSanitizer or ThreadSanitizer. --check full (gvsoc): full
// goldens instead of CRCs (more L2 per case). Exit status 0 when every case passed, 1 otherwise.
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "codegen/app.h"
#include "codegen/l2_image.h"
#include "kernels/kernel_harness.h"
#include "target/target.h"
#include "tiler/l3_plan.h"
#include "tiler/search.h"

namespace fs = std::filesystem;
using namespace dory;
using namespace dory::ktest;

namespace {

struct Options {
  int cases = 100;
  uint64_t seed = 1;
  int only_case = -1;
  int jobs = 2;
  std::string sanitize = "none";
  std::string work;
  std::string platform = "host";
  int batch_first = -1, batch_last = -1;  // gvsoc: exactly these cases in one ELF
  std::string check = "crc";              // gvsoc: the application's checks
  bool verbose = false;                   // gvsoc: every layer's line (tiles, modeled and executed cycles)
  bool l3 = false;  // host, gvsoc: every case on pulp-open, a MAC layer, its constants streamed from L3
};

std::string sanitize_flags(const std::string& s) {
  if (s == "address") return "-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer";
  if (s == "thread") return "-fsanitize=thread";
  return "";
}

int run_shell(const std::string& cmd, std::string* out = nullptr) {
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  if (!p) return -1;
  char buf[4096];
  size_t n;
  std::string o;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) o.append(buf, n);
  const int st = pclose(p);
  if (out) *out = o;
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

// Compiles the runtime once with the fuzzing flags into work/libruntime.a.
std::string build_runtime(const fs::path& work, const std::string& flags) {
  const fs::path rt = runtime_source_dir();
  const fs::path obj = work / "runtime-obj";
  fs::create_directories(obj);
  // The host platform's runtime and every portable kernel, as the registry lists them.
  const RuntimeRegistry& reg = runtime_registry();
  std::vector<std::string> files = reg.platform("host")->sources;
  for (const RegistryKernel& k : reg.kernels)
    if (k.isa == "c" && std::find(files.begin(), files.end(), k.source) == files.end()) files.push_back(k.source);
  std::vector<fs::path> srcs;
  for (const std::string& f : files) srcs.push_back(rt / f);
  std::string objs;
  for (const fs::path& s : srcs) {
    const fs::path o = obj / (fs::relative(s, rt).string() + ".o");
    fs::create_directories(o.parent_path());
    std::string out;
    const std::string cmd = fmt::format("cc -O2 -g -std=c99 {} -I{} -c {} -o {}", flags, (rt / "include").string(),
                                        s.string(), o.string());
    if (run_shell(cmd, &out) != 0) {
      std::fprintf(stderr, "deploy_fuzz: cannot compile the runtime:\n%s\n%s\n", cmd.c_str(), out.c_str());
      std::exit(1);
    }
    objs += " " + o.string();
  }
  const fs::path lib = work / "libruntime.a";
  fs::remove(lib);
  if (run_shell(fmt::format("ar rcs {}{}", lib.string(), objs)) != 0) {
    std::fprintf(stderr, "deploy_fuzz: ar failed\n");
    std::exit(1);
  }
  return lib.string();
}

constexpr int64_t kMaxTiles = 3000;

const Family kFamilies[] = {Family::Conv,    Family::Pointwise, Family::Depthwise, Family::Fc,
                            Family::MaxPool, Family::AvgPool,   Family::Add,       Family::Requantize};

struct CaseResult {
  bool ok = true;
  std::string report;
  int64_t tiles = 0;
  bool multi_tile = false;
  int64_t l2_direct = 0, l2_direct_fallback = 0;  // layers the L2-direct pass runs from L2 / runs tiled
  int64_t big_pad_layers = 0;     // layers whose padding reaches the kernel on some side
  int64_t padding_only_tiles = 0;  // tiles whose windows all lie in the padding (nothing loaded)
  int64_t l3_layers = 0, l3_tiles = 0;  // layers streaming their constants from L3, and their L3 tiles (blocks)
};

struct Shared {
  std::vector<Target> targets;
  std::string runtime_lib, include_dir, flags;
  fs::path work;
  Options opt;
};

// What one deployed layer covers (the coverage summary).
void account_layer(const DeployedLayer& dl, int64_t app_l1_bytes, CaseResult& res) {
  if (dl.l3) {
    ++res.l3_layers;
    res.l3_tiles += dl.l3->plan.counts.total();
  }
  res.tiles += dl.plan.counts.total();
  res.multi_tile |= dl.plan.counts.total() > 1;
  const dory_layer d = dl.descriptor();
  if (d.pad.top >= d.kh || d.pad.bottom >= d.kh || d.pad.left >= d.kw || d.pad.right >= d.kw) ++res.big_pad_layers;
  for (int32_t t = 0; t < dory_layer_tile_total(&d); ++t) {
    dory_tile_extent e;
    dory_layer_tile_extent(&d, t, &e);
    if (e.h_in == 0 || e.w_in == 0) ++res.padding_only_tiles;
  }
  if (dory_layer_l2_direct_supported(&d, static_cast<uint32_t>(app_l1_bytes), nullptr))
    ++res.l2_direct;
  else
    ++res.l2_direct_fallback;
}

CaseResult run_case(const Shared& sh, int k) {
  CaseResult res;
  const uint64_t case_seed = splitmix64(sh.opt.seed * 0x100000001B3ull + static_cast<uint64_t>(k));
  Rng r(case_seed);
  const Family fam = kFamilies[sh.opt.l3 ? k % 4 : k % 8];  // --l3: the families with constants
  LayerCase c = random_case(fam, r);
  const Target& target = sh.targets[static_cast<size_t>(r.uniform(0, static_cast<int64_t>(sh.targets.size()) - 1))];
  const Objective obj = r.pick(std::vector<Objective>{Objective::Model, Objective::Dory, Objective::Fill});
  // L1 budgets from the smallest feasible to the whole layer (every layer of the case must fit).
  int64_t lo = 0, hi = 0;
  for (const Layer& l : c.g.layers) {
    if (!needs_l1_plan(l)) continue;
    auto geo = layer_geometry(c.g, l);
    if (!geo.ok()) {
      res.ok = false;
      res.report = "layer_geometry: " + geo.error().str();
      return res;
    }
    lo = std::max(lo, minimal_l1_layout(*geo, target, obj).l1_bytes);
    hi = std::max(hi, l1_layout_bytes(*geo, whole_layer_shape(*geo), Buffering::none(), target));
  }
  hi = std::max(hi, lo);
  int64_t budget;
  const double u = r.real(0, 1);
  if (u < 0.15)
    budget = lo;
  else if (u < 0.25)
    budget = hi;
  else  // log-uniform in between
    budget = static_cast<int64_t>(std::exp(r.real(std::log(static_cast<double>(lo)), std::log(static_cast<double>(hi)))));
  budget = std::clamp(budget, lo, hi);
  const int64_t budget0 = budget;
  std::string what = fmt::format("{} | target {} | L1 {} B (feasible {}..{}) | objective {}", c.desc,
                                       target.name, budget, lo, hi, objective_name(obj));
  const std::string replay = fmt::format("replay: deploy_fuzz --seed {} --case {} --work DIR{}{}", sh.opt.seed, k,
                                         sh.opt.sanitize != "none" ? " --sanitize " + sh.opt.sanitize : "",
                                         sh.opt.platform != "host" ? " --platform " + sh.opt.platform : "");
  auto fail = [&](const std::string& why) {
    res.ok = false;
    res.report = fmt::format("FAIL case {}: {}\n  {}\n  {}", k, what, why, replay);
    return res;
  };

  const fs::path dir = sh.work / fmt::format("case-{}", k);
  DeployOptions dopt;
  dopt.l1_budget_bytes = budget;
  dopt.objective = obj;
  dopt.l2_budget_bytes = int64_t{1} << 26;  // the fuzz tests tiling, not L2 capacity (the host arena takes any)
  // L3 (host platform, a target with an L3: pulp-open): on half of those cases every layer with constants streams
  // them from L3 in output-channel blocks, its L2 staging capped so that there are about 1..16 blocks (drawn from
  // a stream of its own: the other cases are the ones they were before L3). The host's L3 engine then gets a
  // random completion delay too.
  Rng r3(splitmix64(case_seed ^ 0x4C33u));
  std::string l3_delay;
  if (sh.opt.platform == "host" && target.l3 && (r3.uniform(0, 1) == 0 || sh.opt.l3)) {
    int64_t cap = 0;
    for (const Layer& l : c.g.layers) {
      if (!needs_l1_plan(l)) continue;
      auto geo = layer_geometry(c.g, l);
      if (!geo.ok() || geo->weight_bytes() + geo->c_out * geo->bias_bytes_per_cout == 0) continue;
      dopt.force_weights_l3.push_back(l.name);
      L3Residency res3;
      res3.input_in_l3.assign(static_cast<size_t>(geo->num_inputs()), false);
      res3.weights_in_l3 = true;
      const int64_t blocks = r3.uniform(1, 16);
      const int64_t c_blk = std::max<int64_t>(1, (geo->c_out + blocks - 1) / blocks);
      cap = std::max(cap, plan_l2_staging(*geo, res3, {c_blk, geo->h_out}, target.l2.alignment_bytes).total_bytes() +
                              16);
    }
    if (!dopt.force_weights_l3.empty()) {
      dopt.l3_staging_cap_bytes = cap;
      l3_delay = r3.pick(std::vector<std::string>{"wait", "0", "20"});
      what += fmt::format(" | L3: constants of {} streamed, staging cap {} B, L3 delay {}",
                          fmt::join(dopt.force_weights_l3, ", "), cap, l3_delay);
    }
  }
  EmitOptions eo;
  eo.copy_runtime = false;
  eo.network_name = fmt::format("fuzz case {}", k);
  // A budget near the smallest feasible one can cut a large layer into hundreds of thousands of tiles (each a
  // few DMA jobs): grow it until the case has at most kMaxTiles tiles, so that a case takes well under a second.
  Expected<GeneratedApp> app = make_error("unreached", "", "");
  for (int grow = 0;; ++grow) {
    dopt.l1_budget_bytes = budget;
    app = generate_application(c.g, target, dopt, c.inputs, dir.string(), eo);
    if (!app) return fail("generate_application: " + app.error().str());
    int64_t n = 0;
    for (const DeployedLayer& dl : app->deployment.layers) n += dl.plan.counts.total();
    if (n <= kMaxTiles || budget >= hi || grow > 40) break;
    budget = std::min(hi, budget + budget / 2 + 1);
  }
  if (budget != budget0) what += fmt::format(" (L1 grown to {} B: at most {} tiles)", budget, kMaxTiles);
  for (const DeployedLayer& dl : app->deployment.layers) account_layer(dl, app->deployment.l1_bytes, res);
  if (sh.opt.platform == "qemu") {
    QemuBuildOptions qb;
    qb.prebuilt_runtime_lib = sh.runtime_lib;
    qb.runtime_include_dir = sh.include_dir;
    qb.app_mode = "both";
    if (Status s = build_qemu_app(dir.string(), QemuMode::User, qb); !s.ok()) return fail(s.error().str());
    auto run = run_qemu_app(dir.string(), QemuMode::User, 300);
    if (!run) return fail(run.error().str());
    if (!run->passed()) return fail(fmt::format("qemu-user: exit {}\n{}", run->exit_code, run->output));
    if (sh.opt.work.empty() || sh.opt.only_case < 0) fs::remove_all(dir);
    return res;
  }
  HostBuildOptions b;
  b.cflags = "-O1 -g";
  b.prebuilt_runtime_lib = sh.runtime_lib;
  b.runtime_include_dir = sh.include_dir;
  if (!sh.flags.empty()) b.extra_flags = {sh.flags};
  if (Status s = build_host_app(dir.string(), b); !s.ok()) return fail(s.error().str());
  const std::vector<std::string> delays = {"wait", "0", "20"};
  for (int cores : {1, 8}) {
    const std::string delay = r.pick(delays);
    std::vector<std::string> env = {"DORY_HOST_DMA_DELAY_US=" + delay};
    if (!l3_delay.empty()) env.push_back("DORY_HOST_L3_DELAY_US=" + l3_delay);
    auto run = run_host_app(dir.string(), {"--cores", std::to_string(cores), "--quiet", "--mode", "both"}, env, 300);
    if (!run) return fail(run.error().str());
    if (!run->passed())
      return fail(fmt::format("{} cores, DMA delay {}: exit {}\n{}", cores, delay, run->exit_code, run->output));
  }
  if (sh.opt.work.empty() || sh.opt.only_case < 0) fs::remove_all(dir);
  return res;
}

// ---- --platform gvsoc: many cases per PULP-open ELF -----------------------------------------------------------

constexpr int kGvMaxCasesPerElf = 16;
constexpr int64_t kGvMaxTiles = 200;          // per case (GVSoC time: ~10-20 k cycles per tile of small tiles)
constexpr int64_t kGvCaseDataBytes = 96 * 1024;  // a case's share of L2: constants, activations, checks, descriptors
constexpr double kGvCaseCycles = 3e6;          // a case's estimated cycles (gv_tiled_cycles...), both passes
constexpr double kGvElfCycles = 20e6;          // an ELF's (GVSoC: ~2-3 M cycles per second)
constexpr double kGvL2Fill = 0.92;             // of the L2 the image may take (estimates: the deployment decides)
constexpr double kGvU8Share = 0.4;             // cases drawn until every input of their layer is uint8

// One case drawn for the pulp-open target, with what packing it needs to know.
struct GvCase {
  int k = -1;
  bool ok = true;
  std::string report;  // a failure while drawing (a deployment error other than a layer not fitting)
  LayerCase c;
  Objective obj = Objective::Model;
  int64_t budget = 0;
  std::string what;    // description, target, budget, objective
  int draws = 0;       // cases drawn until this one fit
  bool u8 = false;     // every input of the layer under test is uint8
  bool wide = false;   // a 64-bit requantization
  // Estimates from a deployment of the case alone (codegen/l2_image.h)
  int64_t runtime_bytes = 0;               // the platform's base image
  std::map<std::string, int64_t> kernels;  // kernel -> code bytes
  int64_t data_bytes = 0;  // constants + every activation tensor (8-aligned, no reuse) + checks + layer records
  double cycles = 0;       // estimated GVSoC cycles: tiled + L2-direct pass (gv_tiled_cycles, gv_l2_direct_cycles)
};

std::string gv_replay(const Options& o, int k) {
  return fmt::format("deploy_fuzz --platform gvsoc --seed {} --case {} --work DIR{}", o.seed, k,
                     o.check != "crc" ? " --check " + o.check : "");
}
std::string gv_batch_replay(const Options& o, int first, int last) {
  return fmt::format("deploy_fuzz --platform gvsoc --seed {} --batch {}-{} --work DIR{}", o.seed, first, last,
                     o.check != "crc" ? " --check " + o.check : "");
}

int64_t align8(int64_t n) { return (n + 7) / 8 * 8; }

// What GVSoC will execute of a layer (cluster cycles), for packing: the cost model's cycles, with every tile's fixed
// cost raised to what GVSoC executes (measured on fuzz layers: ~10-20 k cycles per tile of small tiles, whatever
// the kernel; targets/pulp-open.json prices 10,000 for the Xpulpv2 kernels, a few hundred for the portable ones),
// and the L2-direct pass (up to 15 x its model on small layers).
constexpr double kGvTileCycles = 12000;
double gv_tiled_cycles(const DeployedLayer& dl, const Target& target) {
  const KernelImpl& k = dl.plan.geometry.kernel(target);
  const double modeled_call =
      is_mac_family(kernel_op_family(k.kernel->op)) ? k.mac.call_cycles : k.elementwise.call_cycles;
  return dl.plan.cost.total_cycles +
         std::max(0.0, kGvTileCycles - modeled_call) * static_cast<double>(dl.plan.counts.total());
}
double gv_l2_direct_cycles(const dory_layer& d) { return 3.0 * static_cast<double>(d.l2_direct_modeled_cycles) + 20000; }

GvCase draw_gvsoc_case(const Shared& sh, int k) {
  GvCase gc;
  gc.k = k;
  const uint64_t case_seed = splitmix64(sh.opt.seed * 0x100000001B3ull + static_cast<uint64_t>(k));
  Rng r(case_seed);
  const Family fam = kFamilies[sh.opt.l3 ? k % 4 : k % 8];  // --l3: the families with constants
  const Target& target = sh.targets.front();
  const int64_t l1_max = target.usable_bytes(MemLevel::L1);
  const bool want_u8 = r.chance(kGvU8Share);
  for (int attempt = 0; attempt < 1000; ++attempt) {
    ++gc.draws;
    LayerCase c = random_case(fam, r);
    const Layer* lut = nullptr;
    for (const Layer& l : c.g.layers)
      if (l.name == c.layer) lut = &l;
    if (!lut) continue;
    bool u8 = true;
    for (TensorId t : lut->inputs) u8 &= c.g.tensor(t).dtype == DType::UInt8;
    if (want_u8 && !u8 && attempt < 900) continue;
    const Objective obj = r.pick(std::vector<Objective>{Objective::Model, Objective::Dory, Objective::Fill});
    int64_t lo = 0, hi = 0;
    bool geometry_ok = true;
    for (const Layer& l : c.g.layers) {
      if (!needs_l1_plan(l)) continue;
      auto geo = layer_geometry(c.g, l);
      if (!geo.ok()) {
        gc.ok = false;
        gc.report = fmt::format("FAIL case {}: {}\n  layer_geometry: {}\n  replay: {}", k, c.desc, geo.error().str(),
                                gv_replay(sh.opt, k));
        return gc;
      }
      lo = std::max(lo, minimal_l1_layout(*geo, target, obj).l1_bytes);
      hi = std::max(hi, l1_layout_bytes(*geo, whole_layer_shape(*geo), Buffering::none(), target));
      geometry_ok &= lo <= l1_max;
    }
    if (!geometry_ok) continue;  // not even the smallest tiling fits the TCDM the runtime leaves: draw again
    hi = std::clamp(hi, lo, l1_max);
    int64_t budget;
    const double u = r.real(0, 1);
    if (u < 0.15)
      budget = lo;
    else if (u < 0.25)
      budget = hi;
    else
      budget = static_cast<int64_t>(
          std::exp(r.real(std::log(static_cast<double>(lo)), std::log(static_cast<double>(hi)))));
    budget = std::clamp(budget, lo, hi);
    const int64_t budget0 = budget;
    DeployOptions dopt;
    dopt.l3 = L3Mode::Off;  // GVSoC cases stay in L2 (a case too large for it is drawn again)
    dopt.objective = obj;
    dopt.platform = AppPlatform::PulpOpen;
    dopt.check = sh.opt.check == "full" ? CheckMode::Full : CheckMode::Crc;
    Expected<Deployment> dep = make_error("unreached", "", "");
    for (int grow = 0;; ++grow) {
      dopt.l1_budget_bytes = budget;
      dep = deploy(c.g, target, dopt);
      if (!dep) break;
      int64_t n = 0;
      for (const DeployedLayer& dl : dep->layers) n += dl.plan.counts.total();
      if (n <= kGvMaxTiles || budget >= hi || grow > 40) break;
      budget = std::min(hi, budget + budget / 2 + 1);
    }
    std::string what = fmt::format("{} | target pulp-open | L1 {} B (feasible {}..{}) | objective {}", c.desc, budget,
                                   lo, hi, objective_name(obj));
    if (budget != budget0) what += fmt::format(" (L1 grown from {} B: at most {} tiles)", budget0, kGvMaxTiles);
    if (!dep) {
      if (dep.error().code == "l2-overflow") continue;  // larger than the chip's L2: draw again
      gc.ok = false;
      gc.report =
          fmt::format("FAIL case {}: {}\n  deploy: {}\n  replay: {}", k, what, dep.error().str(), gv_replay(sh.opt, k));
      return gc;
    }
    const L2Image im = l2_image(*dep);
    int64_t act = 0;
    for (const Tensor& t : dep->graph.tensors) act += align8(t.bytes());
    const int64_t data = im.layers + im.checks + im.constants + act;
    double cycles = 0;
    for (const DeployedLayer& dl : dep->layers) {
      const double tiled = gv_tiled_cycles(dl, target);
      const dory_layer d = dl.descriptor();
      cycles += tiled + (dory_layer_l2_direct_supported(&d, static_cast<uint32_t>(budget), nullptr)
                             ? gv_l2_direct_cycles(d)
                             : tiled);
    }
    if (data > kGvCaseDataBytes || cycles > kGvCaseCycles) continue;  // more than a case's share: draw again
    gc.c = std::move(c);
    gc.obj = obj;
    gc.budget = budget;
    gc.what = what;
    gc.u8 = u8;
    gc.wide = gc.c.desc.find("(64-bit)") != std::string::npos;
    gc.runtime_bytes = im.runtime;
    for (const L2ImageKernel& kk : im.kernels) gc.kernels[kk.name] = kk.code_bytes;
    gc.data_bytes = data;
    gc.cycles = cycles;
    return gc;
  }
  gc.ok = false;
  gc.report = fmt::format("FAIL case {}: no {} layer fitting pulp-open in {} draws\n  replay: {}", k,
                          family_name(fam), gc.draws, gv_replay(sh.opt, k));
  return gc;
}

// The cases' graphs side by side: one network of independent subgraphs, every layer and tensor of case K prefixed
// "c<K>_" (each layer is checked on its own by the application; the prefix says whose it is).
Graph merge_cases(const std::vector<const GvCase*>& cs, std::vector<std::vector<int32_t>>& inputs) {
  Graph m;
  for (const GvCase* gc : cs) {
    const Graph& g = gc->c.g;
    const std::string prefix = fmt::format("c{}_", gc->k);
    const TensorId off = static_cast<TensorId>(m.tensors.size());
    for (Tensor t : g.tensors) {
      t.name = prefix + t.name;
      m.tensors.push_back(std::move(t));
    }
    for (Layer l : g.layers) {
      l.name = prefix + l.name;
      for (TensorId& t : l.inputs) t += off;
      l.output += off;
      m.layers.push_back(std::move(l));
    }
    for (TensorId t : g.inputs) m.inputs.push_back(t + off);
    for (TensorId t : g.outputs) m.outputs.push_back(t + off);
    m.dialect = g.dialect;
    inputs.insert(inputs.end(), gc->c.inputs.begin(), gc->c.inputs.end());
  }
  return m;
}

// The case a layer of a merged network belongs to ("c<K>_..."), or -1.
int case_of_layer(const std::string& name) {
  if (name.size() < 3 || name[0] != 'c') return -1;
  const size_t us = name.find('_');
  if (us == std::string::npos || us == 1) return -1;
  for (size_t i = 1; i < us; ++i)
    if (name[i] < '0' || name[i] > '9') return -1;
  return std::atoi(name.c_str() + 1);
}

struct GvElfResult {
  std::map<int, CaseResult> cases;  // by case index: coverage and verdict
  std::vector<std::string> failures;  // reports (one per failing case, or one for the whole ELF)
  std::map<int, std::string> details;  // per failing case: what failed (pass, layer, the application's lines)
  std::map<std::string, int64_t> kernels;  // layers per kernel
  int64_t layers = 0, elfs = 0, splits = 0, cycles = 0;
  std::string verbose;  // --verbose: every layer's line
  double generate_s = 0, build_s = 0, run_s = 0;  // wall time: deploy + reference + emit, compile, link + GVSoC
  void add(GvElfResult&& o) {
    verbose += o.verbose;
    generate_s += o.generate_s;
    build_s += o.build_s;
    run_s += o.run_s;
    for (auto& [k, r] : o.cases) cases[k] = std::move(r);
    for (auto& f : o.failures) failures.push_back(std::move(f));
    for (auto& [k, d] : o.details) details[k] += d;
    for (auto& [n, c] : o.kernels) kernels[n] += c;
    layers += o.layers;
    elfs += o.elfs;
    splits += o.splits;
    cycles += o.cycles;
  }
};

// The lines of `output` that mention layer `index` of a pass as mismatching.
std::string mismatch_lines(const std::string& output, const std::string& prefix, int index) {
  std::string out;
  std::istringstream in(output);
  std::string line;
  const std::string want = fmt::format("MISMATCH {}layer {} ", prefix, index);
  while (std::getline(in, line))
    if (line.rfind(want, 0) == 0) out += "\n    " + line;
  return out;
}

std::string tail_lines(const std::string& s, int n) {
  std::vector<std::string> lines;
  std::istringstream in(s);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  std::string out;
  for (size_t i = lines.size() > static_cast<size_t>(n) ? lines.size() - static_cast<size_t>(n) : 0; i < lines.size(); ++i)
    out += (out.empty() ? "    " : "\n    ") + lines[i];
  return out;
}

// Deploys, builds and runs the cases as one PULP-open ELF in `dir`; an ELF the deployment refuses for L2 is split
// in two. `alone_full`: a failing case of several is run again alone with full goldens (its first differing
// element).
GvElfResult run_gvsoc_elf(const Shared& sh, const std::vector<const GvCase*>& cs, const fs::path& dir,
                          CheckMode check, bool alone_full, std::atomic<int>& reruns) {
  GvElfResult res;
  const Target& target = sh.targets.front();
  const int first = cs.front()->k, last = cs.back()->k;
  std::map<int, const GvCase*> by_k;
  for (const GvCase* gc : cs) by_k[gc->k] = gc;
  std::vector<std::vector<int32_t>> inputs;
  Graph m = merge_cases(cs, inputs);
  if (Status st = check_graph(m); !st.ok()) {
    res.failures.push_back(fmt::format("FAIL cases {}-{}: the merged network does not check: {}\n  replay: {}", first,
                                       last, st.error().str(), gv_batch_replay(sh.opt, first, last)));
    return res;
  }
  DeployOptions dopt;
  dopt.platform = AppPlatform::PulpOpen;
  dopt.check = check;
  // An ELF too large for L2 is split. --l3: every layer with constants streams them from the HyperRAM in about
  // 1..8 output-channel blocks (the staging cap from a stream of each case's own).
  dopt.l3 = sh.opt.l3 ? L3Mode::Auto : L3Mode::Off;
  for (const GvCase* gc : cs) {
    dopt.l1_budget_bytes = std::max(dopt.l1_budget_bytes, gc->budget);
    for (const Layer& l : gc->c.g.layers)
      if (needs_l1_plan(l)) dopt.layer_options[fmt::format("c{}_{}", gc->k, l.name)] = {gc->budget, gc->obj};
    if (!sh.opt.l3) continue;
    Rng r3(splitmix64(splitmix64(sh.opt.seed * 0x100000001B3ull + static_cast<uint64_t>(gc->k)) ^ 0x4C33u));
    for (const Layer& l : gc->c.g.layers) {
      if (!needs_l1_plan(l)) continue;
      auto geo = layer_geometry(gc->c.g, l);
      if (!geo.ok() || geo->weight_bytes() + geo->c_out * geo->bias_bytes_per_cout == 0) continue;
      dopt.force_weights_l3.push_back(fmt::format("c{}_{}", gc->k, l.name));
      L3Residency res3;
      res3.input_in_l3.assign(static_cast<size_t>(geo->num_inputs()), false);
      res3.weights_in_l3 = true;
      const int64_t blocks = r3.uniform(1, 8);
      const int64_t c_blk = std::max<int64_t>(1, (geo->c_out + blocks - 1) / blocks);
      dopt.l3_staging_cap_bytes =
          std::max(dopt.l3_staging_cap_bytes,
                   plan_l2_staging(*geo, res3, {c_blk, geo->h_out}, target.l2.alignment_bytes).total_bytes() + 16);
    }
  }
  EmitOptions eo;
  eo.copy_runtime = false;
  eo.network_name = fmt::format("fuzz cases {}-{}", first, last);
  const auto g0 = std::chrono::steady_clock::now();
  Expected<GeneratedApp> app = generate_application(m, target, dopt, inputs, dir.string(), eo);
  res.generate_s += std::chrono::duration<double>(std::chrono::steady_clock::now() - g0).count();
  if (!app && app.error().code == "l2-overflow" && cs.size() > 1) {
    const size_t half = cs.size() / 2;
    res = run_gvsoc_elf(sh, {cs.begin(), cs.begin() + static_cast<std::ptrdiff_t>(half)}, dir, check, alone_full,
                        reruns);
    res.add(run_gvsoc_elf(sh, {cs.begin() + static_cast<std::ptrdiff_t>(half), cs.end()}, dir, check, alone_full,
                          reruns));
    ++res.splits;
    return res;
  }
  std::string all_what;
  for (const GvCase* gc : cs) all_what += fmt::format("\n  case {}: {}", gc->k, gc->what);
  if (!app) {
    res.failures.push_back(fmt::format("FAIL cases {}-{}: generate_application: {}{}\n  replay: {}", first, last,
                                       app.error().str(), all_what, gv_batch_replay(sh.opt, first, last)));
    return res;
  }
  ++res.elfs;
  const Deployment& dep = app->deployment;
  res.layers += static_cast<int64_t>(dep.layers.size());
  for (const DeployedLayer& dl : dep.layers) {
    const std::string& name = dep.graph.layers[static_cast<size_t>(dl.layer_index)].name;
    const int k = case_of_layer(name);
    account_layer(dl, dep.l1_bytes, res.cases[k]);
    ++res.kernels[dl.kernel(target).name];
  }
  AppRunOptions ro;
  ro.platform = AppPlatform::PulpOpen;
  ro.mode = "both";
  ro.qemu_build.prebuilt_runtime_lib = sh.runtime_lib;
  ro.qemu_build.runtime_include_dir = sh.include_dir;
  ro.timeout_s = 900;
  const auto b0 = std::chrono::steady_clock::now();
  if (Status built = build_pulp_open_app(app->dir, ro.qemu_build); !built.ok()) {
    res.failures.push_back(fmt::format("FAIL cases {}-{}: {}{}\n  replay: {}", first, last, built.error().str(),
                                       all_what, gv_batch_replay(sh.opt, first, last)));
    for (const GvCase* gc : cs) res.cases[gc->k].ok = false;
    return res;
  }
  res.build_s += std::chrono::duration<double>(std::chrono::steady_clock::now() - b0).count();
  const auto r0 = std::chrono::steady_clock::now();
  // run_application builds again (make: nothing to do but the link), checks the linked L2 image against the
  // prediction, and runs the ELF on GVSoC.
  Expected<HostRunResult> run = run_application(*app, ro);
  res.run_s += std::chrono::duration<double>(std::chrono::steady_clock::now() - r0).count();
  if (!run) {
    std::string detail;
    if (run.error().code == "l2-image-underestimated")  // dory's prediction, part by part
      detail = "\n  the L2 map deploy predicted:\n" + render_l2_image(l2_image(dep));
    res.failures.push_back(fmt::format("FAIL cases {}-{}: {}{}{}\n  replay: {}", first, last, run.error().str(),
                                       detail, all_what, gv_batch_replay(sh.opt, first, last)));
    for (const GvCase* gc : cs) res.cases[gc->k].ok = false;
    return res;
  }
  // Every layer of both passes: a line each, in order; a missing line is where the application stopped.
  std::map<int, std::string> why;  // case -> what failed
  const int n = static_cast<int>(dep.layers.size());
  // A layer as it ran: tiled (its plan), or in the L2-direct pass one kernel call on its operands in L2.
  auto describe_layer = [&](int i, bool direct) {
    const DeployedLayer& dl = dep.layers[static_cast<size_t>(i)];
    const Layer& l = dep.graph.layers[static_cast<size_t>(dl.layer_index)];
    const std::string how =
        direct ? std::string("one call on its operands in L2")
               : fmt::format("{} tile{}, tile c_out {} h {} w {} c_in {}, double buffered {}{}{}", dl.plan.counts.total(),
                             dl.plan.counts.total() == 1 ? "" : "s", dl.plan.shape.c_out, dl.plan.shape.h_out,
                             dl.plan.shape.w_out, dl.plan.shape.c_in, dl.plan.buffering.input ? "i" : "-",
                             dl.plan.buffering.weights ? "w" : "-", dl.plan.buffering.output ? "o" : "-");
    return fmt::format("layer {} '{}' ({}, kernel {}, {})", i, l.name, layer_kind_name(dep.graph, l),
                       dl.kernel(target).name, how);
  };
  bool stopped = false;
  for (int pass = 0; pass < 2 && !stopped; ++pass) {
    const std::vector<HostLayerResult>& lines = pass == 0 ? run->layers : run->l2_direct_layers;
    const std::string prefix = pass == 0 ? "" : "l2direct ";
    const char* pass_name = pass == 0 ? "tiled pass" : "L2-direct pass";
    for (const HostLayerResult& L : lines) {
      if (L.cycles > 0) res.cycles += L.cycles;
      if (sh.opt.verbose)
        res.verbose += fmt::format("    {}layer {} {} tiles {} modeled {} cycles {} {}{}\n", prefix, L.index, L.name,
                                   L.tiles, L.modeled_cycles, L.cycles, L.ok ? "ok" : "MISMATCH",
                                   L.fallback ? " fallback" : "");
      if (L.ok) continue;
      const int k = case_of_layer(L.name);
      why[k] += fmt::format("\n  {}: {} MISMATCH{}{}", pass_name, describe_layer(L.index, pass == 1 && !L.fallback),
                            L.fallback ? " (ran tiled: fallback)" : "", mismatch_lines(run->output, prefix, L.index));
    }
    if (static_cast<int>(lines.size()) < n) {
      stopped = true;
      const int i = static_cast<int>(lines.size());
      const int k = case_of_layer(dep.graph.layers[static_cast<size_t>(dep.layers[static_cast<size_t>(i)].layer_index)].name);
      why[k] += fmt::format("\n  {}: the application stopped (exit status {}) in {}; its last lines:\n{}", pass_name,
                            run->exit_code, describe_layer(i, pass == 1), tail_lines(run->output, 6));
    }
  }
  if (why.empty() && !run->passed()) {
    res.failures.push_back(fmt::format("FAIL cases {}-{}: exit status {}, every layer line ok; output:\n{}{}\n  replay: {}",
                                       first, last, run->exit_code, tail_lines(run->output, 10), all_what,
                                       gv_batch_replay(sh.opt, first, last)));
    for (const GvCase* gc : cs) res.cases[gc->k].ok = false;
    return res;
  }
  for (auto& [k, w] : why) {
    res.cases[k].ok = false;
    res.details[k] = w;
    const GvCase* gc = by_k.count(k) ? by_k[k] : nullptr;
    std::string rep = fmt::format("FAIL case {} (seed {}, in the ELF of cases {}-{}): {}{}", k, sh.opt.seed, first,
                                  last, gc ? gc->what : std::string("?"), w);
    if (gc && alone_full && reruns++ < 4) {
      // Alone, with full goldens: whether the case fails without its neighbours, and its first differing element.
      GvElfResult alone = run_gvsoc_elf(sh, {gc}, dir.parent_path() / fmt::format("alone-{}", k), CheckMode::Full,
                                        false, reruns);
      if (alone.failures.empty())
        rep += "\n  alone, with full goldens: passes (it fails only beside the other cases of its ELF)";
      else if (alone.details.count(k))
        rep += "\n  alone, with full goldens:" + alone.details[k];
      else
        rep += "\n  alone, with full goldens: " + alone.failures.front();
    }
    rep += fmt::format("\n  replay: {}\n  its ELF: {}", gv_replay(sh.opt, k), gv_batch_replay(sh.opt, first, last));
    res.failures.push_back(rep);
  }
  return res;
}

int run_gvsoc(const Shared& sh, const std::vector<int>& cases) {
  const auto t0 = std::chrono::steady_clock::now();
  const Target& target = sh.targets.front();
  std::mutex io;
  const bool tty = isatty(fileno(stderr)) != 0;
  // 1. Draw every case (each from its own stream).
  std::vector<GvCase> drawn(cases.size());
  {
    std::atomic<size_t> next{0};
    auto worker = [&]() {
      for (size_t i; (i = next++) < cases.size();) drawn[i] = draw_gvsoc_case(sh, cases[i]);
    };
    std::vector<std::thread> pool;
    for (int j = 0; j < sh.opt.jobs; ++j) pool.emplace_back(worker);
    for (auto& t : pool) t.join();
  }
  const double draw_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  // 2. Pack consecutive cases into ELFs.
  int failures = 0;
  std::vector<std::vector<const GvCase*>> elfs;
  const bool one_elf = sh.opt.batch_first >= 0;
  const double l2 = static_cast<double>(target.usable_bytes(MemLevel::L2)) * kGvL2Fill;
  std::vector<const GvCase*> cur;
  std::map<std::string, int64_t> cur_kernels;
  int64_t cur_data = 0;
  double cur_cycles = 0;
  auto image_with = [&](const GvCase& gc) {
    std::map<std::string, int64_t> ks = cur_kernels;
    ks.insert(gc.kernels.begin(), gc.kernels.end());
    int64_t code = 0;
    for (const auto& [n, b] : ks) code += b;
    return static_cast<double>(gc.runtime_bytes + code + cur_data + gc.data_bytes);
  };
  for (const GvCase& gc : drawn) {
    if (!gc.ok) {
      ++failures;
      std::printf("%s\n", gc.report.c_str());
      continue;
    }
    if (!cur.empty() && !one_elf &&
        (static_cast<int>(cur.size()) >= kGvMaxCasesPerElf || image_with(gc) > l2 ||
         cur_cycles + gc.cycles > kGvElfCycles)) {
      elfs.push_back(std::move(cur));
      cur.clear();
      cur_kernels.clear();
      cur_data = 0;
      cur_cycles = 0;
    }
    cur.push_back(&gc);
    cur_kernels.insert(gc.kernels.begin(), gc.kernels.end());
    cur_data += gc.data_bytes;
    cur_cycles += gc.cycles;
  }
  if (!cur.empty()) elfs.push_back(std::move(cur));
  std::printf("deploy_fuzz: %zu cases drawn in %.1f s, packed into %zu PULP-open ELFs\n", cases.size(), draw_s,
              elfs.size());
  std::fflush(stdout);
  // 3. Deploy, build and run each ELF on GVSoC.
  GvElfResult total;
  std::atomic<size_t> next{0};
  std::atomic<int> reruns{0}, done{0};
  const CheckMode check = sh.opt.check == "full" ? CheckMode::Full : CheckMode::Crc;
  auto worker = [&]() {
    for (size_t i; (i = next++) < elfs.size();) {
      const auto e0 = std::chrono::steady_clock::now();
      const fs::path dir = sh.work / fmt::format("elf-{}-{}", elfs[i].front()->k, elfs[i].back()->k);
      GvElfResult r = run_gvsoc_elf(sh, elfs[i], dir / "app", check, elfs[i].size() > 1 || check != CheckMode::Full,
                                    reruns);
      const bool keep = !sh.opt.work.empty() && (sh.opt.only_case >= 0 || one_elf);
      if (!keep) fs::remove_all(dir);
      const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - e0).count();
      std::lock_guard<std::mutex> lock(io);
      double est = 0;
      for (const GvCase* gc : elfs[i]) est += gc->cycles;
      std::printf("  ELF of cases %d-%d: %zu cases, %lld layers%s, %lld cycles executed (%.0f estimated), %s, %.1f s "
                  "(generate %.1f, compile %.1f, link and GVSoC %.1f)\n",
                  elfs[i].front()->k, elfs[i].back()->k, elfs[i].size(), static_cast<long long>(r.layers),
                  r.splits ? fmt::format(" (split in {} ELFs for L2)", r.elfs).c_str() : "",
                  static_cast<long long>(r.cycles), est, r.failures.empty() ? "ok" : "FAILED", secs, r.generate_s,
                  r.build_s, r.run_s);
      if (sh.opt.verbose) std::printf("%s", r.verbose.c_str());
      for (const std::string& f : r.failures) std::printf("%s\n", f.c_str());
      std::fflush(stdout);
      total.add(std::move(r));
      const int d = ++done;
      if (tty) std::fprintf(stderr, "\rdeploy_fuzz: %d/%zu ELFs", d, elfs.size());
    }
  };
  std::vector<std::thread> pool;
  for (int j = 0; j < sh.opt.jobs; ++j) pool.emplace_back(worker);
  for (auto& t : pool) t.join();
  if (tty) std::fputs("\n", stderr);
  failures += static_cast<int>(total.failures.size());
  // Coverage.
  int64_t tiles = 0, multi = 0, direct = 0, fallback = 0, big_pad = 0, pad_only = 0, u8 = 0, wide = 0, ran = 0;
  int64_t l3_layers = 0, l3_tiles = 0;
  std::map<std::string, int64_t> fam;
  for (const GvCase& gc : drawn) {
    if (!gc.ok) continue;
    auto it = total.cases.find(gc.k);
    if (it == total.cases.end()) continue;
    const CaseResult& r = it->second;
    ++ran;
    tiles += r.tiles;
    multi += r.multi_tile;
    direct += r.l2_direct;
    fallback += r.l2_direct_fallback;
    big_pad += r.big_pad_layers;
    pad_only += r.padding_only_tiles;
    u8 += gc.u8;
    wide += gc.wide;
    ++fam[family_name(kFamilies[sh.opt.l3 ? gc.k % 4 : gc.k % 8])];
    l3_layers += r.l3_layers;
    l3_tiles += r.l3_tiles;
  }
  int64_t xp_layers = 0, c_layers = 0;
  std::string kernels;
  for (const auto& [n, c] : total.kernels) {
    (n.find("__xpulpv2") != std::string::npos ? xp_layers : c_layers) += c;
    kernels += fmt::format("{}{} {}", kernels.empty() ? "" : ", ", n, c);
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf(
      "deploy_fuzz: %zu cases (%lld run: %lld with uint8 inputs, %lld with a 64-bit requantization), %d failed; %lld "
      "PULP-open ELFs (%lld split for L2), %lld layers checked in both passes (%lld on Xpulpv2 kernels, %lld on "
      "portable ones); %lld tiles, %lld cases with several tiles; %lld layers with padding as large as the kernel, "
      "%lld tiles of padding only; L2-direct pass: %lld layers from L2, %lld run tiled; %lld cluster cycles "
      "executed on GVSoC; %.0f s\n",
      cases.size(), static_cast<long long>(ran), static_cast<long long>(u8), static_cast<long long>(wide), failures,
      static_cast<long long>(total.elfs), static_cast<long long>(total.splits), static_cast<long long>(total.layers),
      static_cast<long long>(xp_layers), static_cast<long long>(c_layers), static_cast<long long>(tiles),
      static_cast<long long>(multi), static_cast<long long>(big_pad), static_cast<long long>(pad_only),
      static_cast<long long>(direct), static_cast<long long>(fallback), static_cast<long long>(total.cycles), secs);
  std::string families;
  for (const auto& [n, c] : fam) families += fmt::format("{}{} {}", families.empty() ? "" : ", ", n, c);
  std::printf("deploy_fuzz: cases per family: %s\n", families.c_str());
  std::printf("deploy_fuzz: layers per kernel: %s\n", kernels.c_str());
  if (sh.opt.l3)
    std::printf("deploy_fuzz: L3: %lld layers streaming their constants from the HyperRAM, %lld L3 tiles\n",
                static_cast<long long>(l3_layers), static_cast<long long>(l3_tiles));
  return failures ? 1 : 0;
}

int usage() {
  std::fprintf(stderr,
               "usage: deploy_fuzz [--cases N] [--seed S] [--case K] [--jobs J] [--sanitize none|address|thread] "
               "[--work DIR] [--platform host|qemu|gvsoc] [--batch F-L] [--check crc|full] [--l3]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  Options opt;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (a == "--cases") opt.cases = std::atoi(next().c_str());
    else if (a == "--seed") opt.seed = std::strtoull(next().c_str(), nullptr, 0);
    else if (a == "--case") opt.only_case = std::atoi(next().c_str());
    else if (a == "--jobs") opt.jobs = std::max(1, std::atoi(next().c_str()));
    else if (a == "--sanitize") opt.sanitize = next();
    else if (a == "--work") opt.work = next();
    else if (a == "--platform") opt.platform = next();
    else if (a == "--check") opt.check = next();
    else if (a == "--verbose") opt.verbose = true;
    else if (a == "--l3") opt.l3 = true;
    else if (a == "--batch") {
      const std::string b = next();
      if (std::sscanf(b.c_str(), "%d-%d", &opt.batch_first, &opt.batch_last) != 2 || opt.batch_first < 0 ||
          opt.batch_last < opt.batch_first)
        return usage();
    } else return usage();
  }
  if (opt.sanitize != "none" && opt.sanitize != "address" && opt.sanitize != "thread") return usage();
  if (opt.platform != "host" && opt.platform != "qemu" && opt.platform != "gvsoc") return usage();
  if (opt.check != "crc" && opt.check != "full") return usage();
  if (opt.platform != "host" && opt.sanitize != "none") {
    std::fprintf(stderr, "deploy_fuzz: --sanitize applies to the host platform only\n");
    return 2;
  }
  if (opt.platform != "gvsoc" && (opt.batch_first >= 0 || opt.check != "crc")) {
    std::fprintf(stderr, "deploy_fuzz: --batch and --check apply to the gvsoc platform only\n");
    return 2;
  }
  if (opt.platform == "gvsoc") {
    // GVSoC is not part of dory (tests/util/platforms.h): without it (or the cross toolchain its ELFs need) the run
    // is skipped (77: ctest's SKIP_RETURN_CODE), except under CI=true, where that is a failure.
    Status usable = riscv_toolchain_available();
    if (Expected<std::string> g = gvsoc_install(); !g.ok()) usable = g.error();
    if (!usable.ok()) {
      const char* ci = std::getenv("CI");
      const bool in_ci = ci && std::string(ci) == "true";
      std::fprintf(stderr, "deploy_fuzz: %s GVSoC platform: %s\n",
                   in_ci ? "CI=true and no usable" : "skipped: no usable", usable.error().str().c_str());
      return in_ci ? 1 : 77;
    }
  }
  if (opt.platform == "qemu") {
    if (Status t = qemu_toolchain_available(QemuMode::User); !t.ok()) {
      std::fprintf(stderr, "deploy_fuzz: %s\n", t.error().str().c_str());
      return 1;
    }
  }
  Shared sh;
  sh.opt = opt;
  if (opt.l3 && opt.platform == "qemu") {
    std::fprintf(stderr, "deploy_fuzz: --l3 applies to the host and gvsoc platforms\n");
    return usage();
  }
  for (const char* t : opt.platform == "gvsoc" || opt.l3 ? std::vector<const char*>{"pulp-open"}
                                                         : std::vector<const char*>{"gap8", "pulp-open", "gap9"}) {
    auto target = find_target(t);
    if (!target) {
      std::fprintf(stderr, "%s\n", target.error().str().c_str());
      return 1;
    }
    sh.targets.push_back(*target);
  }
  bool temp_work = opt.work.empty();
  if (temp_work) {
    std::string tmpl = (fs::temp_directory_path() / "dory-fuzz-XXXXXX").string();
    if (!mkdtemp(tmpl.data())) return 1;
    sh.work = tmpl;
  } else {
    sh.work = opt.work;
    fs::create_directories(sh.work);
  }
  sh.flags = sanitize_flags(opt.sanitize);
  sh.include_dir = (fs::path(runtime_source_dir()) / "include").string();
  if (opt.platform == "qemu") {
    auto lib = build_qemu_runtime(sh.work.string(), QemuMode::User);
    if (!lib) {
      std::fprintf(stderr, "deploy_fuzz: cannot build the rv32 runtime:\n%s\n", lib.error().str().c_str());
      return 1;
    }
    sh.runtime_lib = *lib;
  } else if (opt.platform == "gvsoc") {
    auto rt = build_pulp_open_runtime(sh.work.string());
    if (!rt) {
      std::fprintf(stderr, "deploy_fuzz: cannot build the pulp-open runtime:\n%s\n", rt.error().str().c_str());
      return 1;
    }
    sh.runtime_lib = rt->lib;
  } else {
    sh.runtime_lib = build_runtime(sh.work, sh.flags);
  }

  std::vector<int> cases;
  if (opt.only_case >= 0)
    cases.push_back(opt.only_case);
  else if (opt.batch_first >= 0)
    for (int k = opt.batch_first; k <= opt.batch_last; ++k) cases.push_back(k);
  else
    for (int k = 0; k < opt.cases; ++k) cases.push_back(k);
  if (opt.platform == "gvsoc") {
    std::printf("deploy_fuzz: %zu cases, seed %llu, %d jobs, platform gvsoc (pulp-open target, PULP-open ELFs of up to "
                "%d cases on GVSoC, tiled and L2-direct passes, 8 cores)\n",
                cases.size(), static_cast<unsigned long long>(opt.seed), opt.jobs, kGvMaxCasesPerElf);
    std::fflush(stdout);
    const int rc = run_gvsoc(sh, cases);
    if (temp_work) fs::remove_all(sh.work);
    return rc;
  }
  if (opt.platform == "qemu")
    std::printf("deploy_fuzz: %zu cases, seed %llu, %d jobs, platform qemu (each case: rv32imc under qemu-riscv32, tiled and L2-direct passes, "
                "1 core)\n",
                cases.size(), static_cast<unsigned long long>(opt.seed), opt.jobs);
  else
    std::printf("deploy_fuzz: %zu cases, seed %llu, %d jobs, sanitize %s (each case: 1 and 8 cores, tiled and L2-direct passes)\n", cases.size(),
                static_cast<unsigned long long>(opt.seed), opt.jobs, opt.sanitize.c_str());
  std::fflush(stdout);
  std::atomic<size_t> next{0};
  std::atomic<int> failures{0}, done{0};
  std::atomic<int64_t> tiles{0}, multi{0}, direct{0}, fallback{0}, big_pad{0}, pad_only{0}, l3_layers{0}, l3_tiles{0};
  std::mutex io;
  const bool tty = isatty(fileno(stderr)) != 0;
  const auto t0 = std::chrono::steady_clock::now();
  auto worker = [&]() {
    for (size_t i; (i = next++) < cases.size();) {
      CaseResult r = run_case(sh, cases[i]);
      std::lock_guard<std::mutex> lock(io);
      tiles += r.tiles;
      multi += r.multi_tile ? 1 : 0;
      direct += r.l2_direct;
      fallback += r.l2_direct_fallback;
      big_pad += r.big_pad_layers;
      pad_only += r.padding_only_tiles;
      l3_layers += r.l3_layers;
      l3_tiles += r.l3_tiles;
      const int d = ++done;
      if (!r.ok) {
        ++failures;
        std::printf("%s\n", r.report.c_str());
        std::fflush(stdout);
      }
      if (tty) std::fprintf(stderr, "\rdeploy_fuzz: %d/%zu cases, %d failed", d, cases.size(), failures.load());
    }
  };
  std::vector<std::thread> pool;
  for (int j = 0; j < opt.jobs; ++j) pool.emplace_back(worker);
  for (auto& t : pool) t.join();
  if (tty) std::fputs("\n", stderr);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("deploy_fuzz: %d cases, %d failed; %lld tiles, %lld cases with several tiles; %lld layers with padding "
              "as large as the kernel, %lld tiles of padding only; L2-direct pass: %lld layers from L2, %lld run "
              "tiled (im2col scratch > L1); L3: %lld layers streaming their constants, %lld L3 tiles; %.0f s\n",
              done.load(), failures.load(), static_cast<long long>(tiles.load()), static_cast<long long>(multi.load()),
              static_cast<long long>(big_pad.load()), static_cast<long long>(pad_only.load()),
              static_cast<long long>(direct.load()), static_cast<long long>(fallback.load()),
              static_cast<long long>(l3_layers.load()), static_cast<long long>(l3_tiles.load()), secs);
  if (temp_work) fs::remove_all(sh.work);
  return failures ? 1 : 0;
}
