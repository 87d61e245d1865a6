// Diagnostic and Expected<T>: how dory reports what went wrong, as values.
//
// A Diagnostic is written for the user: a stable code (documented in docs/errors.md), the location (ONNX node
// name and op type, tensor, layer or file field), what failed with the value and the rule, and a hint saying
// what to do. Library code never exits or throws for bad input; it returns Expected<T>. Bugs in dory itself go
// through DORY_CHECK (internal error, abort), except where a checker of dory's own output reports what it found
// as a value, for its tests and its callers (memplan-invalid, schedule-invalid): a Diagnostic of severity
// Internal (make_internal_error), which the CLI still exits on with code 3.
//
// Exit codes (tools/dory): 0 ok, 1 user or model error, 2 infeasible (explained), 3 internal error.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>
#include <variant>

namespace dory {

enum class Severity { Error, Infeasible, Internal };

struct Diagnostic {
  std::string code;      // stable identifier, e.g. "onnx-unsupported-op"
  std::string location;  // e.g. "node 'conv_7' (Conv)", "tensor 'x'", "targets/gap8.json: l1.size"
  std::string message;   // what failed, with the offending value and the rule
  std::string hint;      // what to do about it (may be empty)
  Severity severity = Severity::Error;

  std::string str() const;  // "error[code]: location: message\n  hint: ..."
  int exit_code() const {
    switch (severity) {
      case Severity::Error: return 1;
      case Severity::Infeasible: return 2;
      case Severity::Internal: return 3;
    }
    return 3;
  }
};

Diagnostic make_error(std::string code, std::string location, std::string message, std::string hint = {});
// A bug in dory found by a checker of its own output (severity Internal, exit code 3).
Diagnostic make_internal_error(std::string code, std::string location, std::string message, std::string hint = {});

template <class T>
class [[nodiscard]] Expected {
 public:
  Expected(T value) : v_(std::move(value)) {}                // NOLINT: implicit by design
  Expected(Diagnostic error) : v_(std::move(error)) {}       // NOLINT
  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  const Diagnostic& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Diagnostic> v_;
};

// Expected<void>.
struct Ok {};
using Status = Expected<Ok>;
inline Status ok_status() { return Ok{}; }

[[noreturn]] void internal_error(const char* file, int line, const std::string& what);

}  // namespace dory

// Propagation: DORY_TRY(auto x, f()) declares x from f()'s value or returns its error.
#define DORY_CONCAT_INNER(a, b) a##b
#define DORY_CONCAT(a, b) DORY_CONCAT_INNER(a, b)
#define DORY_TRY_IMPL(tmp, decl, expr) \
  auto tmp = (expr);                   \
  if (!tmp.ok()) return tmp.error();   \
  decl = std::move(tmp).value()
#define DORY_TRY(decl, expr) DORY_TRY_IMPL(DORY_CONCAT(dory_try_, __LINE__), decl, expr)
#define DORY_TRY_STATUS(expr)                                    \
  do {                                                           \
    auto dory_status_ = (expr);                                  \
    if (!dory_status_.ok()) return dory_status_.error();         \
  } while (0)
// Internal invariant: a failure is a bug in dory, never the user's fault.
#define DORY_CHECK(cond, what)                                        \
  do {                                                                \
    if (!(cond)) ::dory::internal_error(__FILE__, __LINE__, (what)); \
  } while (0)
