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
// reference executor by the application itself. Each run makes two passes from a poisoned L2: the tiled one, then
// the L2-direct one (app --mode both: every layer one kernel call on its operands in L2, no DMA), both checked.
// --platform qemu instead cross-compiles every case for rv32imc (the rv32 runtime built once into an archive) and
// runs it once under qemu-riscv32 (Linux user mode: fast; one core, DMA completing when waited for).
//
//   deploy_fuzz [--cases N] [--seed S] [--case K] [--jobs J] [--sanitize none|address|thread] [--work DIR]
//               [--platform host|qemu]
//
// Case K of seed S is fully determined by (S, K): a failure prints the line that replays it alone
// (`deploy_fuzz --seed S --case K --work DIR` keeps its application in DIR for debugging). --sanitize compiles
// the runtime and every application with AddressSanitizer+UndefinedBehaviorSanitizer or ThreadSanitizer.
// Exit status 0 when every case passed, 1 otherwise.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "codegen/app.h"
#include "kernels/kernel_harness.h"
#include "target/target.h"
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
};

struct Shared {
  std::vector<Target> targets;
  std::string runtime_lib, include_dir, flags;
  fs::path work;
  Options opt;
};

CaseResult run_case(const Shared& sh, int k) {
  CaseResult res;
  const uint64_t case_seed = splitmix64(sh.opt.seed * 0x100000001B3ull + static_cast<uint64_t>(k));
  Rng r(case_seed);
  const Family fam = kFamilies[k % 8];
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
  for (const DeployedLayer& dl : app->deployment.layers) {
    res.tiles += dl.plan.counts.total();
    res.multi_tile |= dl.plan.counts.total() > 1;
    const dory_layer d = dl.descriptor();
    if (d.pad.top >= d.kh || d.pad.bottom >= d.kh || d.pad.left >= d.kw || d.pad.right >= d.kw) ++res.big_pad_layers;
    for (int32_t t = 0; t < dory_layer_tile_total(&d); ++t) {
      dory_tile_extent e;
      dory_layer_tile_extent(&d, t, &e);
      if (e.h_in == 0 || e.w_in == 0) ++res.padding_only_tiles;
    }
    if (dory_layer_l2_direct_supported(&d, static_cast<uint32_t>(app->deployment.l1_bytes), nullptr))
      ++res.l2_direct;
    else
      ++res.l2_direct_fallback;
  }
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
    auto run = run_host_app(dir.string(), {"--cores", std::to_string(cores), "--quiet", "--mode", "both"},
                            {"DORY_HOST_DMA_DELAY_US=" + delay}, 300);
    if (!run) return fail(run.error().str());
    if (!run->passed())
      return fail(fmt::format("{} cores, DMA delay {}: exit {}\n{}", cores, delay, run->exit_code, run->output));
  }
  if (sh.opt.work.empty() || sh.opt.only_case < 0) fs::remove_all(dir);
  return res;
}

int usage() {
  std::fprintf(stderr,
               "usage: deploy_fuzz [--cases N] [--seed S] [--case K] [--jobs J] [--sanitize none|address|thread] "
               "[--work DIR] [--platform host|qemu]\n");
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
    else return usage();
  }
  if (opt.sanitize != "none" && opt.sanitize != "address" && opt.sanitize != "thread") return usage();
  if (opt.platform != "host" && opt.platform != "qemu") return usage();
  if (opt.platform == "qemu" && opt.sanitize != "none") {
    std::fprintf(stderr, "deploy_fuzz: --sanitize applies to the host platform only\n");
    return 2;
  }
  if (opt.platform == "qemu") {
    if (Status t = qemu_toolchain_available(QemuMode::User); !t.ok()) {
      std::fprintf(stderr, "deploy_fuzz: %s\n", t.error().str().c_str());
      return 1;
    }
  }
  Shared sh;
  sh.opt = opt;
  for (const char* t : {"gap8", "pulp-open", "gap9"}) {
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
  } else {
    sh.runtime_lib = build_runtime(sh.work, sh.flags);
  }

  std::vector<int> cases;
  if (opt.only_case >= 0)
    cases.push_back(opt.only_case);
  else
    for (int k = 0; k < opt.cases; ++k) cases.push_back(k);
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
  std::atomic<int64_t> tiles{0}, multi{0}, direct{0}, fallback{0}, big_pad{0}, pad_only{0};
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
              "tiled (im2col scratch > L1); %.0f s\n",
              done.load(), failures.load(), static_cast<long long>(tiles.load()), static_cast<long long>(multi.load()),
              static_cast<long long>(big_pad.load()), static_cast<long long>(pad_only.load()),
              static_cast<long long>(direct.load()), static_cast<long long>(fallback.load()), secs);
  if (temp_work) fs::remove_all(sh.work);
  return failures ? 1 : 0;
}
