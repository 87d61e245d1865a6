#include "codegen/host_run.h"

#include <fmt/format.h>
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <sstream>

namespace dory {

namespace fs = std::filesystem;

namespace {

std::string quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// Runs a shell command, capturing stdout+stderr; returns the exit status (128 + signal when killed).
int run_capture(const std::string& cmd, std::string& out) {
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  if (!p) return -1;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  const int st = pclose(p);
  if (st == -1) return -1;
  if (WIFEXITED(st)) return WEXITSTATUS(st);
  if (WIFSIGNALED(st)) return 128 + WTERMSIG(st);
  return -1;
}

}  // namespace

Status build_host_app(const std::string& app_dir, const HostBuildOptions& o) {
  const fs::path dir(app_dir);
  std::string cc = o.cc;
  if (cc.empty()) {
    const char* e = std::getenv("CC");
    cc = e && *e ? e : "cc";
  }
  std::string cmd = fmt::format("{} {} -std=c99 -I{}", cc, o.cflags, quote(dir.string()));
  for (const std::string& f : o.extra_flags) cmd += " " + f;
  std::vector<std::string> srcs = {"main.c", "network.c", "goldens.c"};
  if (o.prebuilt_runtime_lib.empty()) {
    cmd += " -I" + quote((dir / "runtime" / "include").string());
    for (const auto& e : fs::directory_iterator(dir / "runtime" / "kernels"))
      if (e.path().extension() == ".c") srcs.push_back(fs::relative(e.path(), dir).string());
    for (const char* s : {"runtime/executor/schedule.c", "runtime/executor/executor.c", "runtime/hal/trace.c",
                          "runtime/hal/host/hal_host.c"})
      srcs.push_back(s);
  } else {
    cmd += " -I" + quote(o.runtime_include_dir);
  }
  for (const std::string& s : srcs) cmd += " " + quote((dir / s).string());
  if (!o.prebuilt_runtime_lib.empty()) cmd += " " + quote(o.prebuilt_runtime_lib);
  cmd += " -o " + quote((dir / "app").string()) + " -lpthread";
  std::string out;
  const int rc = run_capture(cmd, out);
  if (rc != 0)
    return make_error("app-build-failed", app_dir,
                      fmt::format("the C compiler failed (status {}):\n{}\ncommand: {}", rc, out, cmd),
                      "set CC to a working C99 compiler; if the error is in generated code, report a bug");
  return ok_status();
}

Expected<HostRunResult> run_host_app(const std::string& app_dir, const std::vector<std::string>& args,
                                     const std::vector<std::string>& env, int timeout_s) {
  const fs::path app = fs::path(app_dir) / "app";
  if (!fs::exists(app))
    return make_error("app-missing", app.string(), "the application was not built", "run build_host_app first");
  std::string cmd = env.empty() ? "" : "env ";
  for (const std::string& e : env) cmd += quote(e) + " ";
  cmd += fmt::format("timeout -s KILL {} {}", timeout_s, quote(app.string()));
  for (const std::string& a : args) cmd += " " + quote(a);
  HostRunResult r;
  r.exit_code = run_capture(cmd, r.output);
  std::istringstream in(r.output);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("layer ", 0) == 0) {
      // layer <i> <name> tiles <n> modeled <c> host_us <t> <ok|MISMATCH> <count>
      const size_t t = line.rfind(" tiles ");
      if (t == std::string::npos) continue;
      HostLayerResult L;
      std::istringstream head(line.substr(6, t - 6));
      head >> L.index;
      std::getline(head >> std::ws, L.name);
      std::istringstream tail(line.substr(t));
      std::string kw, status;
      tail >> kw >> L.tiles >> kw >> L.modeled_cycles >> kw >> L.host_us >> status >> L.mismatches;
      L.ok = status == "ok";
      r.layers.push_back(L);
    } else if (line.rfind("RESULT ", 0) == 0) {
      r.result_ok = line.rfind("RESULT ok", 0) == 0;
    } else if (line.rfind("MISMATCH ", 0) == 0 && r.first_mismatch.empty()) {
      r.first_mismatch = line;
    }
  }
  return r;
}

}  // namespace dory
