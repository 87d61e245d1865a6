// The HTML report of `dory eval` opened in a real browser: headless Chromium loads the report of the CIFAR-10
// example (models/cifar10) from a file:// URL with no network, runs its two inline scripts, and dumps the DOM.
// Claims: the page loads without a script or console error (the report's own recorder leaves no data-errors
// attribute, its end-of-page marker ran, Chromium's log has no "Uncaught"/console line), and the parsed DOM has
// the tables, the L1 maps, the L2 occupancy map, the Gantt chart and the MAC/cycle chart. A page with a script
// error is checked the same way first, to show that the check can fail.
//
// Needs Chromium (Debian package `chromium`, installed by scripts/install-deps.sh). Without it the test is
// skipped with a message, except under CI (CI set in the environment), where a missing browser is a failure.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "../util/handcount_target.h"
#include "../util/run_cli.h"
#include "eval/eval.h"
#include "onnx/frontend.h"
#include "target/target.h"

namespace dory {
namespace {

// The DORY (model) network cycles of the CIFAR-10 CNN on the hand-count gap8 (handcount_target.h, the target the
// CLI is given below), as the table prints them (from the library).
std::string model_network_cycles_text() {
  const Expected<Graph> g = import_onnx(std::string(DORY_SOURCE_DIR) + "/models/cifar10/cifar10_cnn.onnx", {});
  const Expected<NetworkEval> e = evaluate_network(*g, test::handcount_gap8(), {}, "cifar10_cnn.onnx");
  return format_bytes_grouped(std::llround(e->total(EvalMode::Model).cycles));
}

namespace fs = std::filesystem;

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

std::string read_file(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// $DORY_CHROMIUM, else chromium or chromium-browser on PATH; empty if none.
std::string find_chromium() {
  if (const char* env = std::getenv("DORY_CHROMIUM"); env && *env) return env;
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path ? path : "/usr/bin:/bin");
  std::string dir;
  while (std::getline(dirs, dir, ':'))
    for (const char* name : {"chromium", "chromium-browser"}) {
      const fs::path p = fs::path(dir) / name;
      if (access(p.c_str(), X_OK) == 0) return p.string();
    }
  return "";
}

struct BrowserRun {
  int status = -1;
  std::string dom;  // --dump-dom (stdout)
  std::string log;  // Chromium's log (stderr)
};

BrowserRun open_headless(const std::string& chromium, const fs::path& html, const fs::path& work) {
  const fs::path profile = work / "profile", dom = work / "dom.html", log = work / "chromium.log";
  fs::create_directories(profile);
  const std::string cmd = "timeout 180 " + chromium +
                          " --headless --disable-gpu --no-sandbox --no-first-run --disable-extensions"
                          " --enable-logging=stderr --v=0 --virtual-time-budget=5000 --user-data-dir=" +
                          profile.string() + " --dump-dom file://" + html.string() + " > " + dom.string() + " 2> " +
                          log.string();
  BrowserRun r;
  const int st = std::system(cmd.c_str());
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  r.dom = read_file(dom);
  r.log = read_file(log);
  return r;
}

// The lines of Chromium's log that report a page's script or console output.
std::string console_lines(const std::string& log) {
  std::stringstream in(log);
  std::string line, out;
  while (std::getline(in, line))
    if (contains(line, "CONSOLE") || contains(line, "Uncaught")) out += line + "\n";
  return out;
}

class ReportInBrowser : public ::testing::Test {
 protected:
  void SetUp() override {
    chromium_ = find_chromium();
    if (chromium_.empty()) {
      if (std::getenv("CI")) FAIL() << "chromium is not installed; CI must install it (scripts/install-deps.sh)";
      GTEST_SKIP() << "chromium is not installed (Debian package `chromium`, installed by scripts/install-deps.sh): "
                      "the HTML report is not checked in a browser";
    }
    work_ = fs::temp_directory_path() / ("dory_report_browser_" + std::to_string(getpid()) + "_" +
                                         ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(work_);
    fs::create_directories(work_);
  }
  void TearDown() override {
    if (!work_.empty() && !HasFailure()) fs::remove_all(work_);
  }
  std::string chromium_;
  fs::path work_;
};

TEST_F(ReportInBrowser, APageWithAScriptErrorIsDetected) {
  const fs::path html = work_ / "broken.html";
  std::ofstream(html) << "<!DOCTYPE html><html><head><script>window.addEventListener('error',function(ev){"
                         "document.documentElement.setAttribute('data-errors',ev.message);},true);</script></head>"
                         "<body><p id=\"x\">x</p><script>no_such_function();</script></body></html>\n";
  const BrowserRun r = open_headless(chromium_, html, work_);
  ASSERT_EQ(r.status, 0) << r.log;
  EXPECT_TRUE(contains(r.dom, "id=\"x\"")) << r.dom;
  EXPECT_TRUE(contains(r.dom, "data-errors=")) << r.dom;
  EXPECT_TRUE(contains(r.log, "Uncaught") || contains(r.log, "CONSOLE")) << r.log;
}

TEST_F(ReportInBrowser, TheCifar10ReportLoadsWithoutErrorsAndShowsEverySection) {
  const fs::path html = work_ / "cifar10_gap8.html";
  const std::string model = std::string(DORY_SOURCE_DIR) + "/models/cifar10/cifar10_cnn.onnx";
  const testing::CliResult gen = testing::run_cli("eval " + model + " --target " + test::handcount_gap8_file() +
                                                       " --report " + html.string());  // hand-count rates
  ASSERT_EQ(gen.status, 0) << gen.output;

  const BrowserRun r = open_headless(chromium_, html, work_);
  ASSERT_EQ(r.status, 0) << r.log;
  ASSERT_FALSE(r.dom.empty()) << r.log;
  EXPECT_TRUE(contains(r.dom, "data-loaded=\"1\"")) << "the end-of-page script did not run\n" << r.log;
  EXPECT_FALSE(contains(r.dom, "data-errors=")) << r.dom.substr(0, 400);
  EXPECT_EQ(console_lines(r.log), "");
  for (const char* id :
       {"summary", "network-table", "side-by-side-table", "eval-table", "mac-chart", "mac-chart-svg", "l1-maps",
        "l1-map-0", "l1-map-1", "l1-map-9", "l2-occupancy", "l2-map", "l2-live-bytes", "gantt", "gantt-chart"})
    EXPECT_TRUE(contains(r.dom, std::string("id=\"") + id + "\"")) << id;
  // The browser parsed the charts into elements (the serializer writes them back): bars, buffers, events.
  EXPECT_TRUE(contains(r.dom, "class=\"bar modeled\""));
  EXPECT_TRUE(contains(r.dom, "class=\"l1-buffer\""));
  EXPECT_TRUE(contains(r.dom, "class=\"l2-class\""));
  EXPECT_TRUE(contains(r.dom, "data-kind=\"compute\""));
  EXPECT_TRUE(contains(r.dom, ">" + model_network_cycles_text() + "<"));  // DORY (model) network cycles in the table
}

}  // namespace
}  // namespace dory
