#include "util/diagnostic.h"

#include <fmt/format.h>

namespace dory {

std::string Diagnostic::str() const {
  std::string s = fmt::format("error[{}]: ", code);
  if (!location.empty()) s += location + ": ";
  s += message;
  if (!hint.empty()) s += "\n  hint: " + hint;
  return s;
}

Diagnostic make_error(std::string code, std::string location, std::string message, std::string hint) {
  return Diagnostic{std::move(code), std::move(location), std::move(message), std::move(hint), Severity::Error};
}

Diagnostic make_internal_error(std::string code, std::string location, std::string message, std::string hint) {
  return Diagnostic{std::move(code), std::move(location), std::move(message), std::move(hint), Severity::Internal};
}

void internal_error(const char* file, int line, const std::string& what) {
  std::fprintf(stderr, "internal error (a bug in dory, please report it): %s\n  at %s:%d\n", what.c_str(), file,
               line);
  std::exit(3);
}

}  // namespace dory
