#include "util/npy_compare.h"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <set>

#include "util/npy.h"

namespace fs = std::filesystem;

namespace dory {

bool NpyDirComparison::ok() const {
  return std::all_of(files.begin(), files.end(),
                     [](const NpyFileComparison& f) { return f.status == NpyFileComparison::Status::Match; });
}

namespace {

std::set<std::string> npy_files(const fs::path& dir) {
  std::set<std::string> out;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_regular_file() && e.path().extension() == ".npy") out.insert(e.path().filename().string());
  return out;
}

}  // namespace

Expected<NpyDirComparison> compare_npy_dirs(const std::string& actual_dir, const std::string& expected_dir) {
  for (const std::string& d : {actual_dir, expected_dir})
    if (!fs::is_directory(d)) return make_error("io-open", d, "is not a directory");
  const std::set<std::string> expected = npy_files(expected_dir), actual = npy_files(actual_dir);
  if (expected.empty()) return make_error("compare-empty", expected_dir, "contains no .npy files");
  NpyDirComparison out;
  for (const std::string& f : expected) {
    NpyFileComparison c;
    c.file = f;
    if (!actual.count(f)) {
      c.status = NpyFileComparison::Status::Missing;
      out.files.push_back(c);
      continue;
    }
    DORY_TRY(NpyArray e, read_npy((fs::path(expected_dir) / f).string()));
    DORY_TRY(NpyArray a, read_npy((fs::path(actual_dir) / f).string()));
    c.elements = e.elements();
    if (a.shape != e.shape) {
      c.status = NpyFileComparison::Status::ShapeMismatch;
      c.detail = fmt::format("shape [{}] vs expected [{}]", fmt::join(a.shape, ","), fmt::join(e.shape, ","));
    } else if (a.dtype != e.dtype) {
      c.status = NpyFileComparison::Status::DTypeMismatch;
      c.detail = fmt::format("dtype {} vs expected {}", npy_dtype_name(a.dtype), npy_dtype_name(e.dtype));
    } else {
      for (size_t k = 0; k < e.values.size(); ++k) {
        const bool differ = e.int_values.empty() ? a.values[k] != e.values[k] : a.int_values[k] != e.int_values[k];
        if (!differ) continue;
        if (c.differing++ == 0) {
          c.first_index = static_cast<int64_t>(k);
          c.expected = e.values[k];
          c.actual = a.values[k];
        }
      }
      if (c.differing) c.status = NpyFileComparison::Status::ValueMismatch;
    }
    out.files.push_back(c);
  }
  for (const std::string& f : actual)
    if (!expected.count(f)) out.extra.push_back(f);
  return out;
}

std::string render_npy_dir_comparison(const NpyDirComparison& c) {
  std::string s;
  int bad = 0;
  for (const NpyFileComparison& f : c.files) {
    using S = NpyFileComparison::Status;
    switch (f.status) {
      case S::Match: s += fmt::format("  match     {} ({} elements)\n", f.file, f.elements); break;
      case S::Missing: s += fmt::format("  MISSING   {}\n", f.file); break;
      case S::ShapeMismatch:
      case S::DTypeMismatch: s += fmt::format("  MISMATCH  {}: {}\n", f.file, f.detail); break;
      case S::ValueMismatch:
        s += fmt::format("  MISMATCH  {}: {} of {} elements differ; first at flat index {}: expected {}, got {}\n",
                         f.file, f.differing, f.elements, f.first_index, f.expected, f.actual);
        break;
    }
    bad += f.status != S::Match;
  }
  for (const std::string& f : c.extra) s += fmt::format("  (only in the compared directory: {})\n", f);
  s += bad ? fmt::format("{} of {} files differ\n", bad, c.files.size())
           : fmt::format("all {} files match exactly\n", c.files.size());
  return s;
}

}  // namespace dory
