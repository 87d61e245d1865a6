// Networks larger than L2 through L3 (issue 15), end to end on the host platform: deployed for the stock pulp-open
// target (512 kB L2 beside the program image, its HyperRAM as L3), compiled, and run with the host's L3 arena
// behind its own engine (slow on purpose: a latency per job and a limited bandwidth; or completing only when
// waited for), every layer checked against the reference executor by the application. The three networks of the
// issue (dory netgen's MobileNetV1-1.0-128, MobileNetV1-0.25-128, MobileNetV2-0.35-96), a small network with its
// constants and feature maps forced into L3 with small staging (bands and blocks), ResNet-8 with a residual Add
// reading both operands from L3, and the faults the schedule checker and the platform must catch: a skipped L3
// wait, a corrupted two-level descriptor.
// On GVSoC (skipped without it, failed under CI=true): the same networks and the forced ones as PULP-open ELFs, L3
// being the board's HyperRAM through the uDMA, the L3 constants put in the HyperFlash image by the build.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "codegen/app.h"
#include "codegen/schedule_check.h"
#include "eval/l3_overhead.h"
#include "report/run_report.h"
#include "onnx/frontend.h"
#include "target/target.h"
#include "testnets/testnets.h"
#include "../util/platforms.h"
#include "../util/temp_dir.h"
#include "../util/test_networks.h"

namespace dory {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

HostBuildOptions prebuilt() {
  HostBuildOptions b;
  b.cflags = "-O1";
  b.prebuilt_runtime_lib = DORY_RUNTIME_LIB;
  b.runtime_include_dir = std::string(DORY_SOURCE_DIR) + "/runtime/include";
  const std::string san = DORY_APP_SANITIZE_FLAGS;
  if (!san.empty()) b.extra_flags = {san};
  return b;
}

Graph netgen(const std::string& name) {
  Expected<std::string> bytes = make_test_network(name);
  EXPECT_TRUE(bytes.ok()) << (bytes.ok() ? "" : bytes.error().str());
  if (!bytes.ok()) return {};
  Expected<Graph> g = import_onnx_bytes(*bytes, name);
  EXPECT_TRUE(g.ok()) << (g.ok() ? "" : g.error().str());
  return g.ok() ? std::move(*g) : Graph{};
}

Expected<GeneratedApp> generate(const Graph& g, const DeployOptions& o, const std::string& dir) {
  EmitOptions e;
  e.copy_runtime = o.platform == AppPlatform::PulpOpen;  // the host builds link the prebuilt runtime
  return generate_application(g, find_target("pulp-open").value(), o, {}, dir, e, 5);
}

HostRunResult run(const GeneratedApp& app, int cores, std::vector<std::string> extra = {},
                  std::vector<std::string> env = {}) {
  AppRunOptions ro;
  ro.cores = cores;
  ro.build = prebuilt();
  ro.extra_args = std::move(extra);
  ro.env = std::move(env);
  Expected<HostRunResult> r = run_application(app, ro);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().str());
  return r.ok() ? *r : HostRunResult{};
}

// The "l3 layer <i> <name> elapsed <ns> l3_bytes <n> l3_tiles <n>" lines of a run: bytes by layer index.
std::map<int, int64_t> l3_lines(const std::string& output) {
  std::map<int, int64_t> out;
  const std::regex re(R"(^l3 layer (\d+) \S+ elapsed \d+ l3_bytes (\d+) l3_tiles \d+)");
  std::istringstream in(output);
  std::string line;
  while (std::getline(in, line)) {
    std::smatch m;
    if (std::regex_search(line, m, re)) out[std::stoi(m[1])] = std::stoll(m[2]);
  }
  return out;
}

class L3Network : public ::testing::TestWithParam<std::string> {};

TEST_P(L3Network, DeploysWithTheStockL2AndRunsBitExactOnTheHostBehindTheSlowL3Engine) {
  const Graph g = netgen(GetParam());
  ASSERT_FALSE(g.layers.empty());
  TempDir dir(GetParam());
  // refused without L3 (it does not fit the 512 kB L2 beside its program) ...
  DeployOptions off;
  off.l3 = L3Mode::Off;
  const Expected<GeneratedApp> refused = generate(g, off, (dir.path / "off").string());
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, "l2-overflow");
  // ... deployed with it: the L2 plan within the target's L2 less the image, the rest in L3
  const Expected<GeneratedApp> app = generate(g, {}, dir.path.string());
  ASSERT_TRUE(app.ok()) << app.error().str();
  const Deployment& dep = app->deployment;
  ASSERT_TRUE(dep.uses_l3);
  EXPECT_GT(dep.l3_bytes(), 0);
  EXPECT_LE(dep.l3_bytes(), dep.target.usable_bytes(MemLevel::L3));
  EXPECT_LE(dep.memory.total_bytes, dep.target.usable_bytes(MemLevel::L2));
  std::map<int, int64_t> expected_l3;
  for (size_t i = 0; i < dep.layers.size(); ++i)
    if (dep.layers[i].l3) expected_l3[static_cast<int>(i)] = dep.layers[i].l3->plan.cost.l3_bytes;
  ASSERT_FALSE(expected_l3.empty());
  // the default L3 engine (a latency per job, 2 ns per byte), 8 cores
  const HostRunResult r = run(*app, 8);
  EXPECT_TRUE(r.passed()) << r.first_mismatch << "\n" << r.output.substr(0, 4000);
  EXPECT_EQ(r.layers.size(), dep.layers.size());
  EXPECT_EQ(l3_lines(r.output), expected_l3) << "every streaming layer ran its two-level schedule, moving the "
                                                "bytes the plan says";
  // both engines completing only when waited for, one core
  const HostRunResult w = run(*app, 1, {"--quiet"}, {"DORY_HOST_DMA_DELAY_US=wait", "DORY_HOST_L3_DELAY_US=wait"});
  EXPECT_TRUE(w.passed()) << w.first_mismatch << "\n" << w.output.substr(0, 4000);
}

INSTANTIATE_TEST_SUITE_P(Issue15, L3Network,
                         ::testing::Values("mobilenet_v1_0.25_128", "mobilenet_v2_0.35_96", "mobilenet_v1_1.0_128"),
                         [](const auto& info) {
                           std::string n = info.param;
                           std::replace(n.begin(), n.end(), '.', '_');
                           return n;
                         });

// The small MobileNetV1 (0.25, 64x64) with the constants of its pointwise layers and the outputs of two layers in L3,
// staging capped so that the L3 tiles are row bands and channel blocks.
DeployOptions forced(const Graph& g) {
  DeployOptions o;
  for (const Layer& l : g.layers)
    if (l.name.rfind("pw", 0) == 0) o.force_weights_l3.push_back(l.name);
  for (const char* layer : {"dw2_conv", "pw3_conv"})
    for (const Layer& l : g.layers)
      if (l.name == layer) o.force_tensors_l3.push_back(g.tensor(l.output).name);
  o.l3_staging_cap_bytes = 6 * 1024;
  return o;
}

TEST(L3Forced, ForcedConstantsAndFeatureMapsRunBitExactInBandsAndBlocks) {
  const Graph g = testing::load_test_network("mobilenet_v1");
  TempDir dir("l3-forced");
  DeployOptions o = forced(g);
  ASSERT_EQ(o.force_tensors_l3.size(), 2u);
  const Expected<GeneratedApp> app = generate(g, o, dir.path.string());
  ASSERT_TRUE(app.ok()) << app.error().str();
  const Deployment& dep = app->deployment;
  bool bands = false, blocks = false, maps_in = false, maps_out = false, prefetch = false;
  for (const DeployedLayer& dl : dep.layers) {
    if (!dl.l3) continue;
    bands |= dl.l3->plan.counts.bands > 1;
    blocks |= dl.l3->plan.counts.blocks > 1;
    prefetch |= dl.l3->plan.prefetch_weights;
    for (bool in : dl.l3->plan.residency.input_in_l3) maps_in |= in;
    maps_out |= dl.l3->plan.residency.output_in_l3;
  }
  EXPECT_TRUE(bands && blocks && maps_in && maps_out) << "the case covers bands, blocks, maps loaded and stored";
  EXPECT_TRUE(prefetch) << "and a weight block prefetched across layers";
  for (int cores : {1, 8})
    for (const char* delay : {"wait", "0", "50"}) {
      SCOPED_TRACE(::testing::Message() << cores << " cores, L3 delay " << delay);
      const HostRunResult r = run(*app, cores, {"--quiet"}, {std::string("DORY_HOST_L3_DELAY_US=") + delay});
      EXPECT_TRUE(r.passed()) << r.first_mismatch << "\n" << r.output.substr(0, 4000);
    }
}

// ResNet-8 (tests/util/test_networks.h) with both inputs and the output of its first residual Add in L3: the Add
// (tied channels: row bands only) loads two maps in bands, its producers store theirs, and the next stage reads it.
DeployOptions forced_residual(const Graph& g) {
  DeployOptions o;
  for (const Layer& l : g.layers) {
    if (!l.as<Add>() || l.inputs.size() != 2) continue;
    for (TensorId t : l.inputs) o.force_tensors_l3.push_back(g.tensor(t).name);
    o.force_tensors_l3.push_back(g.tensor(l.output).name);
    break;
  }
  o.l3_staging_cap_bytes = 12 * 1024;
  return o;
}

TEST(L3Forced, AResidualAddReadsBothOperandsFromL3InRowBands) {
  const Graph g = testing::load_test_network("resnet8");
  TempDir dir("l3-residual");
  const DeployOptions o = forced_residual(g);
  ASSERT_EQ(o.force_tensors_l3.size(), 3u);
  const Expected<GeneratedApp> app = generate(g, o, dir.path.string());
  ASSERT_TRUE(app.ok()) << app.error().str();
  bool add_from_l3 = false;
  for (const DeployedLayer& dl : app->deployment.layers) {
    if (!dl.l3 || dl.l3->plan.residency.input_in_l3.size() != 2) continue;
    const L3Plan& lp = dl.l3->plan;
    add_from_l3 = lp.residency.input_in_l3[0] && lp.residency.input_in_l3[1] && lp.residency.output_in_l3 &&
                  lp.counts.bands > 1 && lp.counts.blocks == 1;
  }
  EXPECT_TRUE(add_from_l3) << "the Add streams both operands and its output in several row bands";
  for (int cores : {1, 8})
    for (const char* delay : {"wait", "20"}) {
      SCOPED_TRACE(::testing::Message() << cores << " cores, L3 delay " << delay);
      const HostRunResult r = run(*app, cores, {"--quiet"}, {std::string("DORY_HOST_L3_DELAY_US=") + delay});
      EXPECT_TRUE(r.passed()) << r.first_mismatch << "\n" << r.output.substr(0, 4000);
    }
}

TEST(L3Faults, ASkippedL3WaitIsCaughtByTheCheckerAndByTheHostPlatform) {
  const Graph g = testing::load_test_network("mobilenet_v1");
  TempDir dir("l3-skip");
  const Expected<GeneratedApp> app = generate(g, forced(g), dir.path.string());
  ASSERT_TRUE(app.ok()) << app.error().str();
  const Deployment& dep = app->deployment;
  // a layer that loads a map band from L3 and streams its constants
  size_t L = dep.layers.size();
  for (size_t i = 0; i < dep.layers.size() && L == dep.layers.size(); ++i)
    if (dep.layers[i].l3 && dep.layers[i].l3->plan.residency.input_in_l3[0]) L = i;
  ASSERT_LT(L, dep.layers.size());
  std::vector<dory_layer> subs;
  const dory_l3_layer x = dep.layers[L].l3_descriptor(subs);
  EXPECT_TRUE(check_l3_layer_schedule(dep, L, x).ok());
  for (int k : {0, 1, 2}) {
    ScheduleCheckOptions so;
    so.skip_l3_wait = k;
    EXPECT_FALSE(check_l3_layer_schedule(dep, L, x, so).ok()) << "the checker misses skipped L3 wait " << k;
    // the L3 engine completes a job only when it is waited for: the skipped job's data is not there when the
    // sub-layer reads it (a mismatch), or the job is still in flight at shutdown (the platform aborts)
    const HostRunResult r = run(*app, 8, {"--skip-wait", std::to_string(L) + ":" + std::to_string(k)},
                                {"DORY_HOST_L3_DELAY_US=wait"});
    EXPECT_FALSE(r.passed()) << "skipping L3 wait " << k << " of layer " << L << " went unnoticed:\n" << r.output;
    EXPECT_TRUE(r.output.find("MISMATCH") != std::string::npos || r.output.find("dory host HAL") != std::string::npos)
        << r.output;
  }
  EXPECT_TRUE(run(*app, 8, {"--quiet"}, {"DORY_HOST_L3_DELAY_US=wait"}).passed());
}

TEST(L3Faults, ACorruptedTwoLevelDescriptorIsRejectedByTheChecker) {
  const Graph g = testing::load_test_network("mobilenet_v1");
  TempDir dir("l3-corrupt");
  const Expected<GeneratedApp> app = generate(g, forced(g), dir.path.string());
  ASSERT_TRUE(app.ok()) << app.error().str();
  const Deployment& dep = app->deployment;
  size_t checked = 0;
  for (size_t i = 0; i < dep.layers.size(); ++i) {
    if (!dep.layers[i].l3) continue;
    std::vector<dory_layer> subs;
    const dory_l3_layer good = dep.layers[i].l3_descriptor(subs);
    ASSERT_TRUE(check_l3_layer_schedule(dep, i, good).ok());
    dory_l3_layer bad = good;
    if (bad.weights_where == DORY_IN_L3) {
      bad.weights += 4;  // the weights read from 4 bytes further in L3
      EXPECT_FALSE(check_l3_layer_schedule(dep, i, bad).ok()) << dep.layers[i].plan.layer;
      bad = good;
      bad.stage_weights.offset[0] += 8;  // a staging copy moved onto its neighbour
      EXPECT_FALSE(check_l3_layer_schedule(dep, i, bad).ok()) << dep.layers[i].plan.layer;
    }
    bad = good;
    bad.tile_h += 1;  // bands that are not the plan's
    EXPECT_FALSE(check_l3_layer_schedule(dep, i, bad).ok()) << dep.layers[i].plan.layer;
    ++checked;
  }
  EXPECT_GT(checked, 0u);
}

// The main program issues tile t+1's loads while sub-layer t computes: a plan (and descriptor) whose two weight
// copies are one would load the next block onto the bytes the running sub-layer reads. Plan and descriptor agree,
// so only the check of the jobs started beside a running sub-layer can see it.
TEST(L3Faults, ALoadOntoTheRunningSubLayersStagingIsRejectedByTheChecker) {
  const Graph g = testing::load_test_network("mobilenet_v1");
  TempDir dir("l3-overlap");
  const Expected<GeneratedApp> app = generate(g, forced(g), dir.path.string());
  ASSERT_TRUE(app.ok()) << app.error().str();
  size_t checked = 0;
  for (size_t i = 0; i < app->deployment.layers.size(); ++i) {
    const DeployedLayer& dl = app->deployment.layers[i];
    if (!dl.l3 || dl.l3->plan.counts.blocks < 2) continue;
    Deployment dep = app->deployment;
    std::vector<dory_layer> subs;
    dory_l3_layer bad = dep.layers[i].l3_descriptor(subs);
    bool merged = false;
    for (L3StagingBuffer& b : dep.layers[i].l3->plan.staging.buffers)
      if (b.role == L3StagingRole::Weights && b.copies.size() == 2) {
        b.copies[1] = b.copies[0];
        bad.stage_weights.offset[1] = bad.stage_weights.offset[0];
        merged = true;
      }
    if (!merged) continue;
    const Status st = check_l3_layer_schedule(dep, i, bad);
    ASSERT_FALSE(st.ok()) << dl.plan.layer;
    EXPECT_NE(st.error().message.find("runs and reads"), std::string::npos) << st.error().str();
    ++checked;
  }
  EXPECT_GT(checked, 0u);
}

// A sub-layer that runs "kept" (the cores reuse the previous sub-layer's descriptor; only the L2 offsets are
// stored) must be of the previous tile's template and equal to it beyond the L2 offsets. Only a bug of the C
// schedule can break that, so the checker's own fault injection plays the bug: a first tile reported kept, a kept
// tile whose descriptor changed a field, a tile of another template reported kept.
TEST(L3Faults, AKeptSubLayerThatIsNotItsTemplateIsRejectedByTheChecker) {
  const Graph g = testing::load_test_network("mobilenet_v1");
  TempDir dir("l3-kept");
  const Expected<GeneratedApp> app = generate(g, forced(g), dir.path.string());
  ASSERT_TRUE(app.ok()) << app.error().str();
  const Deployment& dep = app->deployment;
  size_t kept_checked = 0, other_checked = 0;
  for (size_t i = 0; i < dep.layers.size(); ++i) {
    if (!dep.layers[i].l3) continue;
    std::vector<dory_layer> subs;
    const dory_l3_layer x = dep.layers[i].l3_descriptor(subs);
    ASSERT_TRUE(check_l3_layer_schedule(dep, i, x).ok()) << dep.layers[i].plan.layer;
    const std::string& name = dep.layers[i].plan.layer;
    ScheduleCheckOptions first;
    first.force_kept_l3_tile = 0;
    Status st = check_l3_layer_schedule(dep, i, x, first);
    ASSERT_FALSE(st.ok()) << name;
    EXPECT_NE(st.error().message.find("runs as the previous sub-layer moved"), std::string::npos) << st.error().str();
    const int32_t total = dep.layers[i].l3->plan.counts.total();
    for (int32_t t = 1; t < total; ++t) {
      ScheduleCheckOptions o;
      if (dory_l3_sub_template(&x, t) == dory_l3_sub_template(&x, t - 1)) {
        if (kept_checked > 0) continue;
        o.alter_l3_sub_tile = t;  // the schedule keeps tile t's descriptor: a changed field must be seen
        st = check_l3_layer_schedule(dep, i, x, o);
        ASSERT_FALSE(st.ok()) << name << " tile " << t;
        EXPECT_NE(st.error().message.find("differs from template"), std::string::npos) << st.error().str();
        ++kept_checked;
      } else {
        if (other_checked > 0) continue;
        o.force_kept_l3_tile = t;  // a tile of another template than the previous one reported kept
        st = check_l3_layer_schedule(dep, i, x, o);
        ASSERT_FALSE(st.ok()) << name << " tile " << t;
        EXPECT_NE(st.error().message.find("but its template is"), std::string::npos) << st.error().str();
        ++other_checked;
      }
    }
  }
  EXPECT_GT(kept_checked, 0u) << "no L3 layer keeps a sub-layer's descriptor";
  EXPECT_GT(other_checked, 0u) << "no L3 layer changes template between tiles";
}

// ---- GVSoC: L3 is the HyperRAM behind the uDMA ----

HostRunResult build_and_run_gvsoc(const GeneratedApp& app) {
  QemuBuildOptions qb;
  Status b = build_pulp_open_app(app.dir, qb);
  EXPECT_TRUE(b.ok()) << (b.ok() ? "" : b.error().str());
  if (!b.ok()) return HostRunResult{};
  Expected<HostRunResult> r = run_gvsoc_app(app.dir, 1200);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().str());
  return r.ok() ? *r : HostRunResult{};
}

// Every layer matched; every streaming layer ran its two-level schedule (the bytes are the plan's, the fabric
// controller's cycles over it are counted).
void expect_l3_run(const GeneratedApp& app, const HostRunResult& r) {
  EXPECT_TRUE(r.passed()) << r.first_mismatch << "\n" << r.output.substr(0, 4000);
  ASSERT_EQ(r.layers.size(), app.deployment.layers.size()) << r.output.substr(0, 4000);
  int streaming = 0;
  for (size_t i = 0; i < r.layers.size(); ++i) {
    const DeployedLayer& dl = app.deployment.layers[i];
    SCOPED_TRACE(r.layers[i].name);
    EXPECT_TRUE(r.layers[i].ok);
    if (!dl.l3) {
      EXPECT_EQ(r.layers[i].l3_elapsed, -1);
      continue;
    }
    ++streaming;
    EXPECT_EQ(r.layers[i].l3_bytes, dl.l3->plan.cost.l3_bytes);
    if (r.layers[i].elapsed >= 0) {
      EXPECT_EQ(r.layers[i].elapsed, r.layers[i].l3_elapsed);  // one clock, one span
    }
    EXPECT_GT(r.layers[i].l3_elapsed, r.layers[i].cycles) << "the layer's whole time includes its cluster tasks";
  }
  EXPECT_GT(streaming, 0);
  // The run table's model error of a streaming layer compares its two-level modeled cycles (the table's modeled
  // column) with the fabric controller's cycles over the layer (it once used the L2->L1 plan's cycles alone).
  bool cycled = false;
  for (const HostLayerResult& x : r.layers) cycled |= x.cycles >= 0;
  if (!cycled) return;
  std::istringstream table(render_deployment(app.deployment, ScheduleCheckStats{}, &r));
  std::vector<std::string> lines;
  for (std::string line; std::getline(table, line);) lines.push_back(line);
  for (size_t i = 0; i < r.layers.size(); ++i) {
    const DeployedLayer& dl = app.deployment.layers[i];
    if (!dl.l3 || r.layers[i].l3_elapsed <= 0) continue;
    const double modeled = dl.l3->plan.cost.total_cycles - dl.l3->hidden_cycles;
    const std::string error =
        fmt::format(" {:+.1f}%", 100 * (modeled / static_cast<double>(r.layers[i].l3_elapsed) - 1));
    const std::regex row("^ *" + std::to_string(i) + " +" + r.layers[i].name + " ");
    bool found = false;
    for (const std::string& line : lines)
      if (std::regex_search(line, row)) {
        found = true;
        EXPECT_NE(line.find(error), std::string::npos) << "expected" << error << " in\n" << line;
      }
    EXPECT_TRUE(found) << r.layers[i].name;
  }
}

class L3GvsocNetwork : public ::testing::TestWithParam<std::string> {};

TEST_P(L3GvsocNetwork, RunsBitExactOnPulpOpenWithItsConstantsInHyperRam) {
  DORY_SKIP_WITHOUT_GVSOC();
  const Graph g = netgen(GetParam());
  TempDir dir("l3-gvsoc");
  DeployOptions o;
  o.platform = AppPlatform::PulpOpen;
  const Expected<GeneratedApp> app = generate(g, o, (dir.path / "app").string());
  ASSERT_TRUE(app.ok()) << app.error().str();
  ASSERT_TRUE(app->deployment.uses_l3);
  expect_l3_run(*app, build_and_run_gvsoc(*app));
}

INSTANTIATE_TEST_SUITE_P(Issue15, L3GvsocNetwork,
                         ::testing::Values("mobilenet_v1_0.25_128", "mobilenet_v2_0.35_96", "mobilenet_v1_1.0_128"),
                         [](const auto& info) {
                           std::string n = info.param;
                           std::replace(n.begin(), n.end(), '.', '_');
                           return n;
                         });

TEST(L3Gvsoc, ForcedFeatureMapsAndConstantsRunBitExactThroughTheUdma) {
  DORY_SKIP_WITHOUT_GVSOC();
  for (const char* net : {"mobilenet_v1", "resnet8"}) {
    SCOPED_TRACE(net);
    const Graph g = testing::load_test_network(net);
    TempDir dir("l3-gvsoc-forced");
    DeployOptions o = std::string(net) == "resnet8" ? forced_residual(g) : forced(g);
    o.platform = AppPlatform::PulpOpen;
    const Expected<GeneratedApp> app = generate(g, o, (dir.path / "app").string());
    ASSERT_TRUE(app.ok()) << app.error().str();
    expect_l3_run(*app, build_and_run_gvsoc(*app));
  }
}

// eval/l3_overhead.h: each streaming layer is run again alone with every operand in L2 (GVSoC's model L2), both runs
// checked bit for bit; the rows are the deployment's streaming layers with both times.
TEST(L3Gvsoc, OverheadTimesEachStreamingLayerInTheNetworkAndAloneInL2) {
  DORY_SKIP_WITHOUT_GVSOC();
  const Graph g = testing::load_test_network("mobilenet_v1");
  const Target target = find_target("pulp-open").value();
  L3OverheadOptions o;
  o.force_weights_l3 = {"pw2_conv", "pw13_conv"};
  Expected<L3OverheadResult> r = measure_l3_overhead(g, target, o);
  ASSERT_TRUE(r.ok()) << r.error().str();
  ASSERT_EQ(r->layers.size(), 2u);
  int64_t streaming_cycles = 0;
  for (size_t k = 0; k < 2; ++k) {
    const L3OverheadLayer& x = r->layers[k];
    SCOPED_TRACE(x.name);
    EXPECT_EQ(x.name, o.force_weights_l3[k]);
    EXPECT_GT(x.l3_bytes, 0);
    EXPECT_GT(x.l3_tiles, 0);
    EXPECT_GT(x.l3_engine_cycles, 0);
    EXPECT_GT(x.l2_resident, 0);
    EXPECT_GE(x.l2_resident_tiles, 1);
    // streaming the constants through L2 staging never makes the layer faster than having them in L2
    EXPECT_GT(x.executed, x.l2_resident);
    streaming_cycles += x.executed;
  }
  EXPECT_GT(r->network_cycles, streaming_cycles);
  EXPECT_EQ(r->deployed_layers, static_cast<int>(std::count_if(g.layers.begin(), g.layers.end(),
                                                               [](const Layer& l) { return !l.as<View>(); })));

  L3OverheadOptions fits;
  Expected<L3OverheadResult> none = measure_l3_overhead(g, target, fits);
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error().code, "l3-overhead-no-l3");
  EXPECT_NE(none.error().str().find("no layer streams from L3"), std::string::npos) << none.error().str();
  fits.reference_l2_bytes = target.l2.size_bytes;
  Expected<L3OverheadResult> small = measure_l3_overhead(g, target, fits);
  ASSERT_FALSE(small.ok());
  EXPECT_EQ(small.error().code, "l3-overhead-reference-l2");
  EXPECT_NE(small.error().str().find(fmt::format("{} B is no larger than the target's L2", target.l2.size_bytes)),
            std::string::npos)
      << small.error().str();
}

}  // namespace
}  // namespace dory
