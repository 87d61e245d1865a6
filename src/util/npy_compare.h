// Comparing two directories of .npy tensors element by element (e.g. dory's --dump-dir against goldens).
//
// Every .npy file of the *expected* directory must exist in the *actual* directory with the same shape, the same
// dtype and exactly equal values (no tolerance: dory is bit-exact). Files only in the actual directory are listed
// but are not failures.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "util/diagnostic.h"

namespace dory {

struct NpyFileComparison {
  std::string file;
  enum class Status { Match, Missing, ShapeMismatch, DTypeMismatch, ValueMismatch } status = Status::Match;
  int64_t elements = 0;
  int64_t differing = 0;          // ValueMismatch: number of differing elements
  int64_t first_index = -1;       // ValueMismatch: flat index (C order) of the first difference
  double expected = 0, actual = 0;
  std::string detail;             // shapes or dtypes for the *Mismatch statuses
};

struct NpyDirComparison {
  std::vector<NpyFileComparison> files;  // sorted by name
  std::vector<std::string> extra;        // files only in the actual directory
  bool ok() const;
};

Expected<NpyDirComparison> compare_npy_dirs(const std::string& actual_dir, const std::string& expected_dir);
std::string render_npy_dir_comparison(const NpyDirComparison& c);

}  // namespace dory
