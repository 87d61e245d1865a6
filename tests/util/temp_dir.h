// Test helper: a fresh directory under the system's temporary directory, removed with everything in it when the
// object goes out of scope. The tag names the test in the directory's name (dory-TAG-XXXXXX) for debugging.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <string>

namespace dory::testing {

struct TempDir {
  std::filesystem::path path;
  explicit TempDir(const std::string& tag = "test") {
    std::string t = (std::filesystem::temp_directory_path() / ("dory-" + tag + "-XXXXXX")).string();
    EXPECT_NE(mkdtemp(t.data()), nullptr) << t;
    path = t;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
};

}  // namespace dory::testing
