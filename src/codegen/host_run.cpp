#include "codegen/host_run.h"

#include <fmt/format.h>

#include <fstream>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <sstream>

#include "codegen/emit_c.h"
#include "target/kernel_registry.h"

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

// Runs an application's command and parses what it printed.
HostRunResult run_and_parse(const std::string& cmd) {
  HostRunResult r;
  r.command = cmd;
  r.exit_code = run_capture(cmd, r.output);
  parse_app_output(r);
  return r;
}

}  // namespace

const char* cycle_split_category_name(size_t k) {
  static const char* const names[kCycleSplitCategories] = {"compute", "dma_wait", "dma_issue", "barrier", "other"};
  return k < kCycleSplitCategories ? names[k] : "?";
}

int app_mode_bits(const std::string& mode) {
  if (mode == "tiled") return 1;
  if (mode == "l2-direct") return 2;
  if (mode == "both") return 3;
  if (mode == "l1-resident") return 4;
  return 0;
}

namespace {

// "<i> <name> tiles <n> modeled <c> <measure pairs: host_us t | instructions n [dma_instructions n] [cycles n]
//  [elapsed n]>
//  <ok|MISMATCH> <count> [fallback]"
bool parse_layer_line(const std::string& rest, HostLayerResult& L) {
  const size_t t = rest.rfind(" tiles ");
  if (t == std::string::npos) return false;
  std::istringstream head(rest.substr(0, t));
  head >> L.index;
  std::getline(head >> std::ws, L.name);
  std::istringstream tail(rest.substr(t));
  std::string kw, status, extra;
  tail >> kw >> L.tiles >> kw >> L.modeled_cycles;
  // the platform's measures as "key value" pairs, up to the status
  while (tail >> status && status != "ok" && status != "MISMATCH" && status != "unchecked") {
    if (status == "instructions")
      tail >> L.instructions;
    else if (status == "dma_instructions")
      tail >> L.dma_instructions;
    else if (status == "cycles")
      tail >> L.cycles;
    else if (status == "elapsed")
      tail >> L.elapsed;
    else if (status == "host_us")
      tail >> L.host_us;
    else if (status == "compute")
      tail >> L.compute;
    else
      tail >> extra;  // a measure this parser does not know
  }
  tail >> L.mismatches;
  L.ok = status == "ok";
  if (tail >> extra) L.fallback = extra == "fallback";
  return true;
}

// "<i> cores <n> compute <n values> dma_wait <...> dma_issue <...> barrier <...> other <...>"
bool parse_split_line(const std::string& rest, int& index, CycleSplitCounts& split) {
  std::istringstream in(rest);
  std::string kw;
  size_t cores = 0;
  if (!(in >> index >> kw >> cores) || kw != "cores" || cores == 0) return false;
  split.per_core.assign(cores, {});
  for (size_t k = 0; k < kCycleSplitCategories; ++k) {
    if (!(in >> kw) || kw != cycle_split_category_name(k)) return false;
    for (size_t c = 0; c < cores; ++c)
      if (!(in >> split.per_core[c][k])) return false;
  }
  return true;
}

}  // namespace

void parse_app_output(HostRunResult& r) {
  std::istringstream in(r.output);
  std::string line;
  const std::string direct_prefix = "l2direct layer ", resident_prefix = "l1res layer ", split_prefix = "split layer ";
  while (std::getline(in, line)) {
    HostLayerResult L;
    if (line.rfind("layer ", 0) == 0) {
      if (parse_layer_line(line.substr(6), L)) r.layers.push_back(L);
    } else if (line.rfind(direct_prefix, 0) == 0) {
      if (parse_layer_line(line.substr(direct_prefix.size()), L)) r.l2_direct_layers.push_back(L);
    } else if (line.rfind(resident_prefix, 0) == 0) {
      if (parse_layer_line(line.substr(resident_prefix.size()), L)) r.l1_resident_layers.push_back(L);
    } else if (line.rfind("l3 layer ", 0) == 0 || line.rfind("l2direct l3 layer ", 0) == 0) {
      // follows its layer's line
      std::vector<HostLayerResult>& v = line[0] == 'l' && line[1] == '3' ? r.layers : r.l2_direct_layers;
      std::istringstream f(line.substr(line.find("layer ") + 6));
      int index = -1;
      std::string name, k1, k2;
      int64_t elapsed = -1, bytes = -1;
      if (f >> index >> name >> k1 >> elapsed >> k2 >> bytes && k1 == "elapsed" && k2 == "l3_bytes" && !v.empty() &&
          v.back().index == index) {
        v.back().l3_elapsed = elapsed;
        v.back().l3_bytes = bytes;
      }
    } else if (line.rfind(split_prefix, 0) == 0) {
      int index = -1;
      CycleSplitCounts split;
      // the split follows its layer's line
      if (parse_split_line(line.substr(split_prefix.size()), index, split) && !r.layers.empty() &&
          r.layers.back().index == index)
        r.layers.back().split = std::move(split);
    } else if (line.rfind("RESULT ", 0) == 0) {
      r.result_ok = line.rfind("RESULT ok", 0) == 0;
    } else if (line.rfind("MISMATCH ", 0) == 0 && r.first_mismatch.empty()) {
      r.first_mismatch = line;
    }
  }
}

namespace {

// Runs `make -C app_dir -B <goal> VAR=value...` (the application's own Makefile: what a user builds is what runs);
// a failure is "app-build-failed" quoting make's output.
Status run_make(const std::string& app_dir, const std::string& goal, const std::vector<std::string>& vars,
                const std::string& hint) {
  std::string cmd = fmt::format("make -s -B -j2 -C {} {}", quote(app_dir), goal);
  for (const std::string& v : vars) cmd.append(" ").append(quote(v));
  std::string out;
  const int rc = run_capture(cmd, out);
  if (rc != 0)
    return make_error("app-build-failed", app_dir,
                      fmt::format("building {} failed (status {}):\n{}\ncommand: {}", goal, rc, out, cmd), hint);
  return ok_status();
}

// RUNTIME_DIR for an include directory ".../runtime/include".
std::string runtime_dir_of_include(const std::string& include_dir) {
  return fs::absolute(fs::path(include_dir)).parent_path().string();
}

}  // namespace

Status build_host_app(const std::string& app_dir, const HostBuildOptions& o) {
  std::string cc = o.cc;
  if (cc.empty()) {
    const char* e = std::getenv("CC");
    cc = e && *e ? e : "cc";
  }
  std::string extra;
  for (const std::string& f : o.extra_flags) extra += (extra.empty() ? "" : " ") + f;
  std::vector<std::string> vars = {"CC=" + cc, "CFLAGS=" + o.cflags, "EXTRA_CFLAGS=" + extra};
  if (!o.prebuilt_runtime_lib.empty()) {
    vars.push_back("RUNTIME_LIB=" + fs::absolute(o.prebuilt_runtime_lib).string());
    vars.push_back("RUNTIME_DIR=" + runtime_dir_of_include(o.runtime_include_dir));
  }
  return run_make(app_dir, "app", vars, "set CC to a working C99 compiler; if the error is in generated code, report a bug");
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
  return run_and_parse(cmd);
}

// ---- RISC-V under QEMU ----------------------------------------------------------------------------------------

namespace {

const char* const kInstallHint =
    "install the RISC-V toolchain and QEMU: scripts/install-deps.sh --riscv (as root), or apt-get install "
    "gcc-riscv64-unknown-elf picolibc-riscv64-unknown-elf qemu-user qemu-system-misc";

// The full path of an executable: `name` itself when it contains a '/', else searched in $PATH; empty if none.
std::string find_program(const std::string& name) {
  if (name.find('/') != std::string::npos) return access(name.c_str(), X_OK) == 0 ? name : "";
  const char* path = std::getenv("PATH");
  std::istringstream dirs(path ? path : "/usr/bin:/bin");
  std::string d;
  while (std::getline(dirs, d, ':')) {
    const fs::path p = fs::path(d.empty() ? "." : d) / name;
    if (access(p.c_str(), X_OK) == 0) return p.string();
  }
  return "";
}

std::string rv32_cc(const QemuBuildOptions& o) {
  if (!o.cc.empty()) return o.cc;
  const char* e = std::getenv("DORY_RV32_CC");
  return e && *e ? e : "riscv64-unknown-elf-gcc";
}

// The archiver of the cross toolchain (the host's ar may not know rv32 ELF symbols).
std::string rv32_ar(const std::string& cc) {
  const std::string suffix = "gcc";
  if (cc.size() >= suffix.size() && cc.compare(cc.size() - suffix.size(), suffix.size(), suffix) == 0)
    return cc.substr(0, cc.size() - suffix.size()) + "ar";
  return "riscv64-unknown-elf-ar";
}

const char* qemu_program(QemuMode mode) {
  return mode == QemuMode::System ? "qemu-system-riscv32" : "qemu-riscv32";
}

// Compiles `srcs` (absolute paths) into `obj_dir` (emptied first) with one compiler call.
Status compile_rv32(const std::string& cc, const std::string& cflags, const RuntimePlatform& platform,
                    const std::vector<std::string>& include_dirs, const std::vector<fs::path>& srcs,
                    const fs::path& obj_dir, const std::string& what) {
  std::error_code ec;
  fs::remove_all(obj_dir, ec);
  fs::create_directories(obj_dir, ec);
  if (ec) return make_error("app-build-failed", obj_dir.string(), "cannot create the object directory");
  // Run in obj_dir (gcc -c puts each object there); the compiler by its full path, the sources absolute.
  const std::string cc_path = find_program(cc);
  std::string cmd = fmt::format("cd {} && {} {} {} -std=c99 -ffunction-sections -fdata-sections",
                                quote(obj_dir.string()), quote(cc_path.empty() ? cc : cc_path), cflags,
                                platform.compile_flags);
  for (const std::string& d : include_dirs) cmd += " -I" + quote(d);
  cmd += " -c";
  for (const fs::path& s : srcs) cmd += " " + quote(s.string());
  std::string out;
  const int rc = run_capture(cmd, out);
  if (rc != 0)
    return make_error("app-build-failed", what,
                      fmt::format("the RISC-V cross compiler failed (status {}):\n{}\ncommand: {}", rc, out, cmd),
                      "if the error is in generated code or the runtime, report a bug");
  return ok_status();
}

const RuntimePlatform& qemu_platform(QemuMode mode) {
  return *runtime_registry().platform(mode == QemuMode::System ? "qemu-system" : "qemu-user");
}

// The rv32 runtime of a runtime directory for a platform: its own sources and every kernel its cores run
// (registry.json: the portable ones, and on pulp-open the Xpulpv2 ones too), each once.
std::vector<fs::path> rv32_runtime_sources(const fs::path& rt, const RuntimePlatform& platform) {
  std::vector<std::string> files = platform.sources;
  for (const RegistryKernel& k : runtime_registry().kernels)
    if (platform.runs(k.isa) && std::find(files.begin(), files.end(), k.source) == files.end())
      files.push_back(k.source);
  std::vector<fs::path> srcs;
  for (const std::string& f : files) srcs.push_back(rt / f);
  return srcs;
}

}  // namespace

const char* qemu_mode_name(QemuMode mode) { return mode == QemuMode::System ? "qemu-system" : "qemu-user"; }

std::string qemu_elf_name(QemuMode mode) { return mode == QemuMode::System ? "app-rv32.elf" : "app-rv32-user.elf"; }

std::string qemu_run_command(QemuMode mode) {
  if (mode == QemuMode::User) return "qemu-riscv32";
  // -icount shift=0: one instruction per virtual nanosecond, so minstret counts retired instructions exactly;
  // sleep=off: the absolute counter repeats too (with sleep on, its start-up value varied between runs).
  return "qemu-system-riscv32 -M virt -bios none -m 256M -display none -monitor none -serial none "
         "-semihosting-config enable=on,target=native,chardev=sh0 -chardev stdio,id=sh0 -icount shift=0,sleep=off";
}

std::string pulp_open_elf_name() { return "app-pulp-open.elf"; }

std::string gvsoc_run_command() { return "gvsoc --target=pulp-open"; }

std::string gvsoc_flash_content(const std::string& file) {
  return fmt::format(R"({{"sections": [{{"name": "readfs", "template": "readfs", "properties": {{"files": ["{}"]}}}}]}})",
                     file);
}

Status qemu_toolchain_available(QemuMode mode, const QemuBuildOptions& o) {
  DORY_TRY_STATUS(riscv_toolchain_available(o));
  if (find_program(qemu_program(mode)).empty())
    return make_error("qemu-toolchain-missing", qemu_program(mode),
                      fmt::format("the emulator is not installed (Debian package {})",
                                  mode == QemuMode::System ? "qemu-system-misc" : "qemu-user"),
                      kInstallHint);
  return ok_status();
}

Status riscv_toolchain_available(const QemuBuildOptions& o) {
  const std::string cc = rv32_cc(o);
  const std::string cc_path = find_program(cc);
  if (cc_path.empty())
    return make_error("qemu-toolchain-missing", cc,
                      "the RISC-V cross compiler is not installed (Debian package gcc-riscv64-unknown-elf)",
                      kInstallHint);
  std::string out;
  run_capture(quote(cc_path) + " -print-file-name=picolibc.specs", out);
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  if (out.find('/') == std::string::npos || !fs::exists(out))
    return make_error("qemu-toolchain-missing", "picolibc.specs",
                      fmt::format("{} finds no picolibc (Debian package picolibc-riscv64-unknown-elf)", cc),
                      kInstallHint);
  return ok_status();
}

namespace {

// Archives every object of `obj` into `lib` with the cross toolchain's archiver.
Status archive_rv32(const std::string& cc, const fs::path& obj, const fs::path& lib) {
  std::error_code ec;
  fs::remove(lib, ec);
  std::string cmd = fmt::format("{} rcs {}", rv32_ar(cc), quote(lib.string()));
  for (const auto& e : fs::directory_iterator(obj))
    if (e.path().extension() == ".o") cmd += " " + quote(e.path().string());
  std::string out;
  if (run_capture(cmd, out) != 0)
    return make_error("app-build-failed", lib.string(), fmt::format("the archiver failed:\n{}\ncommand: {}", out, cmd));
  return ok_status();
}

}  // namespace

Expected<std::string> build_qemu_runtime(const std::string& out_dir, QemuMode mode, const QemuBuildOptions& o,
                                         const std::string& runtime_dir) {
  DORY_TRY_STATUS(qemu_toolchain_available(mode, o));
  const fs::path rt = fs::absolute(runtime_dir.empty() ? fs::path(runtime_source_dir()) : fs::path(runtime_dir));
  const std::string tag = mode == QemuMode::System ? "system" : "user";
  const fs::path obj = fs::absolute(fs::path(out_dir) / ("runtime-rv32-" + tag));
  const std::string cc = rv32_cc(o);
  const RuntimePlatform& platform = qemu_platform(mode);
  DORY_TRY_STATUS(compile_rv32(cc, o.cflags, platform, {(rt / "include").string()},
                               rv32_runtime_sources(rt, platform), obj, rt.string()));
  const fs::path lib = fs::path(out_dir) / ("libdory-rv32-" + tag + ".a");
  DORY_TRY_STATUS(archive_rv32(cc, obj, lib));
  return lib.string();
}

namespace {

// OUT (removed first) <- the objects of obj_dirs (a later directory's object replaces an earlier one's of the same
// name), with the cross archiver of cc.
Status archive_objects(const std::string& cc, const fs::path& lib, const std::vector<fs::path>& obj_dirs) {
  std::map<std::string, fs::path> objects;
  for (const fs::path& d : obj_dirs)
    for (const auto& e : fs::directory_iterator(d))
      if (e.path().extension() == ".o") objects[e.path().filename().string()] = e.path();
  std::error_code ec;
  fs::remove(lib, ec);
  std::string cmd = fmt::format("{} rcs {}", rv32_ar(cc), quote(lib.string()));
  for (const auto& [name, path] : objects) cmd += " " + quote(path.string());
  std::string out;
  if (run_capture(cmd, out) != 0)
    return make_error("app-build-failed", lib.string(), fmt::format("the archiver failed:\n{}\ncommand: {}", out, cmd));
  return ok_status();
}

}  // namespace

Expected<PulpOpenRuntime> build_pulp_open_runtime(const std::string& out_dir, const QemuBuildOptions& o,
                                                  const std::string& runtime_dir) {
  DORY_TRY_STATUS(riscv_toolchain_available(o));
  const fs::path rt = fs::absolute(runtime_dir.empty() ? fs::path(runtime_source_dir()) : fs::path(runtime_dir));
  const RuntimePlatform& platform = *runtime_registry().platform("pulp-open");
  const std::string cc = rv32_cc(o);
  const std::vector<std::string> includes = {(rt / "include").string()};
  // One compiler call per source directory, each into a directory of its own, the objects then named after their
  // source's path (kernels/scratch.c and kernels/xpulpv2/scratch.c share a file name: kernels_scratch.o and
  // kernels_xpulpv2_scratch.o).
  auto object_name = [&](const fs::path& src) {
    std::string n = fs::relative(src, rt).replace_extension(".o").generic_string();
    std::replace(n.begin(), n.end(), '/', '_');
    return n;
  };
  auto compile_into = [&](const std::string& cflags, const std::vector<fs::path>& srcs, const fs::path& obj) -> Status {
    std::map<fs::path, std::vector<fs::path>> by_dir;
    for (const fs::path& src : srcs) by_dir[src.parent_path()].push_back(src);
    std::error_code ec;
    fs::remove_all(obj, ec);
    fs::create_directories(obj, ec);
    int n = 0;
    for (const auto& [dir, list] : by_dir) {
      const fs::path sub = obj / fmt::format("d{}", n++);
      DORY_TRY_STATUS(compile_rv32(cc, cflags, platform, includes, list, sub, rt.string()));
      for (const fs::path& src : list)
        fs::rename(sub / src.filename().replace_extension(".o"), obj / object_name(src), ec);
      fs::remove_all(sub, ec);
    }
    return ok_status();
  };
  const fs::path obj = fs::absolute(fs::path(out_dir) / "runtime-pulp-open");
  DORY_TRY_STATUS(compile_into(o.cflags, rv32_runtime_sources(rt, platform), obj));
  PulpOpenRuntime r;
  r.lib = (fs::absolute(fs::path(out_dir)) / "libdory-pulp-open.a").string();
  DORY_TRY_STATUS(archive_objects(cc, r.lib, {obj}));
  // The same runtime with the executor's cycle split: only executor.c reads DORY_CYCLE_SPLIT; its object replaces
  // the plain one (same name).
  const fs::path split_obj = fs::absolute(fs::path(out_dir) / "runtime-pulp-open-split");
  DORY_TRY_STATUS(compile_into(o.cflags + " -DDORY_CYCLE_SPLIT", {rt / "executor" / "executor.c"}, split_obj));
  r.split_lib = (fs::absolute(fs::path(out_dir)) / "libdory-pulp-open-split.a").string();
  DORY_TRY_STATUS(archive_objects(cc, r.split_lib, {obj, split_obj}));
  r.runtime_dir = rt.string();
  r.include_dir = (rt / "include").string();
  return r;
}

namespace {

// make variables of a cross build: the compiler, flags, the passes, a prebuilt runtime.
Expected<std::vector<std::string>> cross_vars(const QemuBuildOptions& o) {
  const int bits = app_mode_bits(o.app_mode);
  if (bits == 0)
    return make_error("cli-bad-mode", o.app_mode, "unknown execution mode",
                      "use tiled, l2-direct, both or l1-resident");
  const std::string cc = rv32_cc(o);
  const std::string cc_path = find_program(cc);
  std::vector<std::string> vars = {"RV32_CC=" + (cc_path.empty() ? cc : cc_path), "RV32_CFLAGS=" + o.cflags,
                                   "MODE=" + o.app_mode};
  if (o.cycle_split) vars.push_back("EXTRA_CFLAGS=-DDORY_CYCLE_SPLIT");
  if (!o.prebuilt_runtime_lib.empty()) {
    const fs::path rt = fs::absolute(o.runtime_dir.empty() ? fs::path(runtime_source_dir()) : fs::path(o.runtime_dir));
    vars.push_back("RUNTIME_LIB=" + fs::absolute(o.prebuilt_runtime_lib).string());
    vars.push_back("RUNTIME_DIR=" + rt.string());
  }
  return vars;
}

}  // namespace

Status build_qemu_app(const std::string& app_dir, QemuMode mode, const QemuBuildOptions& o) {
  DORY_TRY_STATUS(qemu_toolchain_available(mode, o));
  DORY_TRY(std::vector<std::string> vars, cross_vars(o));
  return run_make(app_dir, qemu_elf_name(mode), vars,
                  "a network larger than the platform's 256 MiB RAM does not link (region `RAM' overflowed)");
}

Status build_pulp_open_app(const std::string& app_dir, const QemuBuildOptions& o) {
  DORY_TRY_STATUS(riscv_toolchain_available(o));
  DORY_TRY(std::vector<std::string> vars, cross_vars(o));
  return run_make(app_dir, pulp_open_elf_name(), vars, "if the error is in generated code or the runtime, report a bug");
}

Expected<HostRunResult> run_qemu_app(const std::string& app_dir, QemuMode mode, int timeout_s) {
  const fs::path elf = fs::path(app_dir) / qemu_elf_name(mode);
  if (!fs::exists(elf))
    return make_error("app-missing", elf.string(), "the rv32 application was not built", "run build_qemu_app first");
  if (find_program(qemu_program(mode)).empty())
    return make_error("qemu-toolchain-missing", qemu_program(mode),
                      fmt::format("the emulator is not installed (Debian package {})",
                                  mode == QemuMode::System ? "qemu-system-misc" : "qemu-user"),
                      kInstallHint);
  std::string cmd = fmt::format("timeout -s KILL {} {} ", timeout_s, qemu_run_command(mode));
  cmd += mode == QemuMode::System ? "-kernel " + quote(elf.string()) + " </dev/null" : quote(elf.string());
  return run_and_parse(cmd);
}

// ---- PULP-open on GVSoC ----------------------------------------------------------------------------------------

namespace {

const char* const kGvsocHint =
    "GVSoC is the PULP virtual platform (github.com/gvsoc/gvsoc, built for the pulp-open target); set GVSOC_INSTALL "
    "to its install directory (dory's CI and developers have it at ../shared/tools/gvsoc/install), and install "
    "the Python modules its launcher needs: scripts/install-deps.sh --gvsoc";

}  // namespace

Expected<std::string> gvsoc_install() {
  const char* e = std::getenv("GVSOC_INSTALL");
  if (!e || !*e)
    return make_error("gvsoc-missing", "GVSOC_INSTALL", "the environment variable is not set", kGvsocHint);
  const fs::path bin = fs::path(e) / "bin" / "gvsoc";
  if (access(bin.c_str(), X_OK) != 0)
    return make_error("gvsoc-missing", bin.string(), "GVSOC_INSTALL has no executable bin/gvsoc", kGvsocHint);
  std::string out;
  const int rc = run_capture(
      "/usr/bin/python3 -c 'import elftools, pexpect, prettytable, psutil, rich, six, typing_extensions'", out);
  if (rc != 0)
    return make_error("gvsoc-missing", "/usr/bin/python3",
                      "Debian's python3 lacks modules GVSoC's launcher imports:\n" + out,
                      "scripts/install-deps.sh --gvsoc (as root)");
  return fs::absolute(e).string();
}

Expected<HostRunResult> run_gvsoc_app(const std::string& app_dir, int timeout_s) {
  DORY_TRY(std::string install, gvsoc_install());
  const fs::path elf = fs::absolute(fs::path(app_dir) / pulp_open_elf_name());
  if (!fs::exists(elf))
    return make_error("app-missing", elf.string(), "the PULP-open ELF was not built", "run build_pulp_open_app first");
  // GVSoC writes a 64 MiB flash image and its configuration into its work directory: a private temporary one.
  std::string tmpl = (fs::temp_directory_path() / "dory-gvsoc-XXXXXX").string();
  if (!mkdtemp(tmpl.data()))
    return make_error("app-run-failed", tmpl, "cannot create GVSoC's work directory", "check /tmp");
  const std::string wd = tmpl;
  // A network with L3 constants: they go to the HyperFlash image (docs/deploy.md "L3").
  std::string flash;
  const fs::path l3_bin = fs::absolute(fs::path(app_dir) / "l3_constants.bin");
  if (fs::exists(l3_bin)) {
    const std::string json = wd + "/flash.json";
    std::ofstream(json) << gvsoc_flash_content(l3_bin.string());
    flash = "--flash-content=" + quote(json + "@hyperflash") + " ";
  }
  // PATH: GVSoC's launcher is Python and must find Debian's python3 (with the modules above) before any other.
  const std::string cmd = fmt::format(
      "cd {wd} && timeout -s KILL {t} env PATH={bin}:/usr/bin:/bin {gvsoc} --work-dir={wd} --binary {elf} {flash}image "
      "flash run </dev/null",
      fmt::arg("wd", quote(wd)), fmt::arg("t", timeout_s), fmt::arg("bin", quote(install + "/bin")),
      fmt::arg("gvsoc", gvsoc_run_command()), fmt::arg("elf", quote(elf.string())), fmt::arg("flash", flash));
  HostRunResult r;
  r.command = cmd;
  r.exit_code = run_capture(cmd, r.output);
  std::error_code ec;
  fs::remove_all(wd, ec);
  // The platform reports only pass or fail: the application prints its status before exiting.
  const std::string marker = "dory pulp-open: exit status ";
  if (const size_t at = r.output.rfind(marker); at != std::string::npos)
    r.exit_code = std::atoi(r.output.c_str() + at + marker.size());
  parse_app_output(r);
  return r;
}

}  // namespace dory
