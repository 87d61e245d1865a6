// docs/errors.md documents every diagnostic code dory can emit: the codes written in src/ and tools/ are collected
// from the source text, and each must appear on the page as `code` (in backquotes). A new code without its line
// on the page fails here, naming the code and the file that writes it.
//
// Where a code is written: as the first string argument of a function whose name ends in "error" (make_error,
// make_internal_error, and the loaders' wrappers: model_error(origin, "onnx-parse", ...), npy_error(...),
// ctx.error("target-type", ...)), possibly after one plain argument; or as a constant named k...Code
// (kCode = "schedule-invalid"). Write new codes the same way.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>

namespace dory {
namespace {

namespace fs = std::filesystem;

std::string read_text(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// The diagnostic codes a source text writes (the rule above).
std::set<std::string> codes_written(const std::string& source) {
  static const std::regex call(R"re((\w*error)\(\s*(?:[A-Za-z_][\w.]*\s*,\s*)?"([a-z][a-z0-9]*(?:-[a-z0-9]+)+)")re");
  static const std::regex constant(R"re(\bk\w*Code\s*=\s*"([a-z][a-z0-9]*(?:-[a-z0-9]+)+)")re");
  std::set<std::string> out;
  for (std::sregex_iterator it(source.begin(), source.end(), call), end; it != end; ++it) out.insert((*it)[2]);
  for (std::sregex_iterator it(source.begin(), source.end(), constant), end; it != end; ++it) out.insert((*it)[1]);
  return out;
}

TEST(ErrorsDoc, TheCodeRuleFindsCodesWhereDoryWritesThemAndNothingElse) {
  EXPECT_EQ(codes_written(R"(return make_error("onnx-parse", origin, "empty");)"),
            (std::set<std::string>{"onnx-parse"}));
  EXPECT_EQ(codes_written("return make_internal_error(\n        \"memplan-invalid\", where, m);"),
            (std::set<std::string>{"memplan-invalid"}));
  EXPECT_EQ(codes_written(R"(model_error(origin, "onnx-cycle", "a cycle"); ctx.error("target-type", path, m);)"),
            (std::set<std::string>{"onnx-cycle", "target-type"}));
  EXPECT_EQ(codes_written(R"(constexpr const char* kCode = "schedule-invalid";)"),
            (std::set<std::string>{"schedule-invalid"}));
  // Names that look like codes but are not written as one: modes, platforms, file names, messages.
  EXPECT_TRUE(codes_written(R"(return "l2-direct"; platform = "pulp-open"; fmt::format("dory-model {}", x);)")
                  .empty());
  EXPECT_TRUE(codes_written(R"(make_error(code, where, "see l2-overflow");)").empty());
}

TEST(ErrorsDoc, EveryCodeWrittenInSrcAndToolsIsDocumented) {
  const fs::path root(DORY_SOURCE_DIR);
  const std::string doc = read_text(root / "docs" / "errors.md");
  ASSERT_FALSE(doc.empty()) << "cannot read docs/errors.md";
  std::map<std::string, std::string> written;  // code -> the first file writing it
  for (const char* dir : {"src", "tools"})
    for (const fs::directory_entry& e : fs::recursive_directory_iterator(root / dir)) {
      const std::string ext = e.path().extension().string();
      if (!e.is_regular_file() || (ext != ".cpp" && ext != ".h")) continue;
      for (const std::string& code : codes_written(read_text(e.path())))
        written.emplace(code, fs::relative(e.path(), root).string());
    }
  // The sources write codes of every stage (a guard against a rule that silently finds nothing).
  for (const char* known : {"io-open", "onnx-unsupported-op", "ir-accumulator-overflow", "target-parse",
                            "tiler-infeasible", "l2-overflow", "memplan-invalid", "schedule-invalid"})
    EXPECT_TRUE(written.count(known)) << "the code rule no longer finds '" << known << "'";
  for (const auto& [code, file] : written)
    EXPECT_NE(doc.find("`" + code + "`"), std::string::npos)
        << "error code '" << code << "' (written in " << file << ") is missing from docs/errors.md";
}

}  // namespace
}  // namespace dory
