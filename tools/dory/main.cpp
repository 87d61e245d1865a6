// dory CLI: parses flags and calls the library. Subcommands live in tools/dory/commands_*.cpp.
//
// Exit codes: 0 ok, 1 user or model error (including bad flags), 2 infeasible (explained), 3 internal error.
#include <cstdio>
#include <exception>
#include <functional>
#include <map>

#include "commands.h"
#include "report/l3_report.h"

namespace dory::cli {

const std::map<std::string, Dialect> kDialects = {{"auto", Dialect::Auto},
                                                  {"integer-deployable", Dialect::IntegerDeployable},
                                                  {"qdq", Dialect::Qdq},
                                                  {"qoperator", Dialect::QOperator}};
const std::map<std::string, DType> kInputTypes = {{"uint8", DType::UInt8}, {"int8", DType::Int8}};

void add_model_options(CLI::App& cmd, ModelOptions& opts) {
  cmd.add_option("model", opts.model, "the ONNX model")->required()->check(CLI::ExistingFile);
  cmd.add_option("--dialect", opts.dialect, "the ONNX dialect (auto: detected from the operators)")
      ->check(CLI::IsMember({"auto", "integer-deployable", "qdq", "qoperator"}))
      ->capture_default_str();
  cmd.add_option("--input-type", opts.input_type, "integer type of the float inputs of integer-deployable models")
      ->check(CLI::IsMember({"uint8", "int8"}))
      ->capture_default_str();
  cmd.add_flag("--allow-asymmetric-weights", opts.allow_asymmetric_weights,
               "fold non-zero weight zero points into the weights (reference evaluation; not deployable as int8)");
}

ImportOptions ModelOptions::import_options() const {
  ImportOptions o;
  o.dialect = kDialects.at(dialect);
  o.input_dtype = kInputTypes.at(input_type);
  o.allow_asymmetric_weights = allow_asymmetric_weights;
  return o;
}

int report(const Diagnostic& d) {
  std::fprintf(stderr, "%s\n", d.str().c_str());
  return d.exit_code();
}

std::optional<Deployment> l3_level_or_note(const Graph& g, const Target& target, int64_t l1_budget_bytes,
                                           Objective objective) {
  Expected<std::optional<Deployment>> d = l3_deployment(g, target, l1_budget_bytes, objective);
  if (d) return std::move(*d);
  std::fprintf(stderr, "note: the L3 level is not shown, its deployment failed:\n%s\n", d.error().str().c_str());
  return std::nullopt;
}

}  // namespace dory::cli

int main(int argc, char** argv) {
  using namespace dory::cli;
  CLI::App app{"dory: deploys int8-quantized ONNX networks onto PULP/GAP microcontrollers", "dory"};
  app.set_version_flag("--version", std::string("dory ") + DORY_VERSION);
  app.require_subcommand(1);
  std::function<int()> inspect = add_inspect_command(app);
  std::function<int()> reference = add_reference_command(app);
  std::function<int()> compare = add_compare_command(app);
  std::function<int()> tile = add_tile_command(app);
  std::function<int()> sweep = add_sweep_command(app);
  std::function<int()> netgen = add_netgen_command(app);
  std::function<int()> deploy = add_deploy_command(app);
  std::function<int()> run = add_run_command(app);
  std::function<int()> eval = add_eval_command(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);  // prints help, version or the error
    return rc == 0 ? 0 : 1;
  }
  try {
    if (app.got_subcommand("inspect")) return inspect();
    if (app.got_subcommand("reference")) return reference();
    if (app.got_subcommand("compare")) return compare();
    if (app.got_subcommand("tile")) return tile();
    if (app.got_subcommand("sweep")) return sweep();
    if (app.got_subcommand("netgen")) return netgen();
    if (app.got_subcommand("deploy")) return deploy();
    if (app.got_subcommand("run")) return run();
    if (app.got_subcommand("eval")) return eval();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "internal error (a bug in dory, please report it): %s\n", e.what());
    return 3;
  }
  return 1;
}
