// The dory CLI's subcommands. Each registers its flags on the CLI11 app and runs as a sequence of library calls;
// a command returns the process exit code: 0 ok, 1 user or model error, 2 infeasible, 3 internal error.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "codegen/deployment.h"
#include "onnx/frontend.h"
#include "util/diagnostic.h"

namespace dory::cli {

// Flags every command that loads a model shares (--dialect, --input-type).
struct ModelOptions {
  std::string model;
  std::string dialect = "auto";
  std::string input_type = "uint8";
  bool allow_asymmetric_weights = false;
  ImportOptions import_options() const;  // the flags as the frontend takes them (valid after parsing)
};
void add_model_options(CLI::App& cmd, ModelOptions& opts);

// Prints a diagnostic to stderr and returns its exit code.
int report(const Diagnostic& d);

// For the reports that price every operand in L2 (tile, eval): the deployment when some operand streams from L3
// (report/l3_report.h l3_deployment), else nothing. When the two-level plan itself fails, a note with its
// diagnostic goes to stderr and nothing is returned: the L2 -> L1 report, what these commands promise, stands.
std::optional<Deployment> l3_level_or_note(const Graph& g, const Target& target, int64_t l1_budget_bytes,
                                           Objective objective);

// Each returns the action to run once parsing succeeded.
std::function<int()> add_inspect_command(CLI::App& app);
std::function<int()> add_reference_command(CLI::App& app);
std::function<int()> add_compare_command(CLI::App& app);
std::function<int()> add_tile_command(CLI::App& app);
std::function<int()> add_sweep_command(CLI::App& app);
std::function<int()> add_netgen_command(CLI::App& app);
std::function<int()> add_deploy_command(CLI::App& app);
std::function<int()> add_run_command(CLI::App& app);
std::function<int()> add_eval_command(CLI::App& app);

}  // namespace dory::cli
