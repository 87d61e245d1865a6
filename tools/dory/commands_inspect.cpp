// `dory inspect MODEL.onnx [--json]`: the per-layer cost table of a model as dory imports it.
#include <nlohmann/json.hpp>

#include <cstdio>
#include <memory>

#include "commands.h"
#include "report/inspect.h"

namespace dory::cli {

std::function<int()> add_inspect_command(CLI::App& app) {
  struct Args {
    ModelOptions model;
    bool json = false;
  };
  auto args = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand("inspect", "per-layer shapes, MACs, weight and activation bytes of a model");
  add_model_options(*cmd, args->model);
  cmd->add_flag("--json", args->json, "print JSON instead of a table");
  return [args]() -> int {
    auto graph = import_onnx(args->model.model, args->model.import_options());
    if (!graph) return report(graph.error());
    const InspectReport r = inspect(*graph);
    const std::string text = args->json ? inspect_to_json(r).dump(2) + "\n" : render_inspect_text(r);
    std::fputs(text.c_str(), stdout);
    return 0;
  };
}

}  // namespace dory::cli
