// `dory reference MODEL.onnx --input FILE ...`: runs the bit-exact reference executor on one input.
//
//   --input FILE              .npy (ONNX order; float arrays are quantized when the model quantizes a float input)
//                             or raw .bin (the input's integer dtype); once per graph input
//   --output FILE             the final output as .npy (ONNX order, integer dtype; float32 with --dequantize);
//                             once per graph output. Without it, a summary and the top values are printed.
//   --dump-dir DIR            one .npy per layer output, named after the ONNX tensor, plus index.json
//   --check-dory-goldens DIR  input from DIR/input.txt; compares every layer with DIR/out_layer{i}.txt; exit 1 on
//                             any mismatch
#include <fmt/format.h>

#include <cstdio>
#include <memory>

#include "commands.h"
#include "ir/edge.h"
#include "reference/dory_golden.h"
#include "reference/tensor_io.h"

namespace dory::cli {
namespace {

struct Args {
  ModelOptions model;
  std::vector<std::string> inputs;
  std::vector<std::string> outputs;
  std::string dump_dir;
  std::string golden_dir;
  std::string golden_input_order = "hwc";
  bool dequantize = false;
  size_t top = 5;
};

void print_summary(const Graph& g, const ReferenceResult& r, const Args& args) {
  for (size_t i = 0; i < g.outputs.size(); ++i) {
    const Tensor& t = g.tensor(g.outputs[i]);
    const std::vector<int32_t> v = tensor_onnx_values(g, r, g.outputs[i]);
    const bool dq = args.dequantize && i < g.output_dequant.size() && g.output_dequant[i];
    std::vector<float> f;
    if (dq) f = dequantize_edge(*g.output_dequant[i], t.shape, v);
    std::string line = fmt::format("output '{}' {} {}:", t.name, shape_str(t.shape), dtype_name(t.dtype));
    for (const IndexedValue& x : top_values(v, args.top)) {
      line += fmt::format(" [{}]={}", x.index, x.value);
      if (dq) line += fmt::format(" ({:g})", f[static_cast<size_t>(x.index)]);
    }
    std::printf("%s%s\n", line.c_str(), v.size() > args.top ? fmt::format(" (top {} of {})", args.top, v.size()).c_str() : "");
  }
}

int run(const Args& args) {
  auto graph = import_onnx(args.model.model, args.model.import_options());
  if (!graph) return report(graph.error());
  const Graph& g = *graph;

  std::vector<std::vector<int32_t>> inputs;
  if (!args.golden_dir.empty()) {
    DoryGoldenOptions opts;
    opts.input_order = args.golden_input_order == "chw" ? GoldenOrder::CHW : GoldenOrder::HWC;
    auto in = read_dory_golden_input(g, args.golden_dir, opts);
    if (!in) return report(in.error());
    inputs.push_back(std::move(*in));
  } else {
    if (args.inputs.size() != g.inputs.size())
      return report(make_error("cli-input-count", "--input",
                               fmt::format("the model has {} input(s); {} --input file(s) were given", g.inputs.size(),
                                           args.inputs.size()),
                               "give one --input FILE (.npy or .bin) per model input, in order, or "
                               "--check-dory-goldens DIR"));
    for (size_t i = 0; i < args.inputs.size(); ++i) {
      auto in = load_graph_input(g, i, args.inputs[i]);
      if (!in) return report(in.error());
      inputs.push_back(std::move(*in));
    }
  }
  if (!args.outputs.empty() && args.outputs.size() != g.outputs.size())
    return report(make_error("cli-output-count", "--output",
                             fmt::format("the model has {} output(s); {} --output file(s) were given",
                                         g.outputs.size(), args.outputs.size())));

  auto result = run_reference(g, inputs);
  if (!result) return report(result.error());

  if (!args.dump_dir.empty()) {
    auto dumped = dump_layer_outputs(g, *result, args.dump_dir);
    if (!dumped) return report(dumped.error());
    std::fprintf(stderr, "wrote %zu layer outputs to %s\n", dumped->size(), args.dump_dir.c_str());
  }
  for (size_t i = 0; i < args.outputs.size(); ++i) {
    Status s = args.dequantize ? save_output_dequantized_npy(g, *result, i, args.outputs[i])
                               : save_tensor_npy(g, *result, g.outputs[i], args.outputs[i]);
    if (!s) return report(s.error());
  }

  if (!args.golden_dir.empty()) {
    auto check = check_dory_goldens(g, *result, args.golden_dir);
    if (!check) return report(check.error());
    std::fputs(render_dory_golden_report(*check).c_str(), stdout);
    if (!check->ok())
      return report(make_error("golden-mismatch", fmt::format("directory '{}'", args.golden_dir),
                               fmt::format("{} of {} golden files disagree with dory's reference", check->failures(),
                                           check->files.size()),
                               "the first mismatch is shown above; --dump-dir writes every layer's output"));
    return 0;
  }
  if (args.outputs.empty()) print_summary(g, *result, args);
  return 0;
}

}  // namespace

std::function<int()> add_reference_command(CLI::App& app) {
  auto args = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand("reference", "run the bit-exact integer reference on an input");
  add_model_options(*cmd, args->model);
  auto* input = cmd->add_option("--input", args->inputs,
                                "input as .npy (NCHW, as in the ONNX model) or raw .bin (the input's integer type); "
                                "once per model input")
                    ->check(CLI::ExistingFile);
  cmd->add_option("--output", args->outputs, "write the final output as .npy (once per model output)");
  cmd->add_option("--dump-dir", args->dump_dir, "write every layer's output as .npy into this directory");
  cmd->add_flag("--dequantize", args->dequantize,
                "write (and print) outputs dequantized to float32, as the model's DequantizeLinear would");
  auto* golden = cmd->add_option("--check-dory-goldens", args->golden_dir,
                                 "check against DORY's golden files in DIR (input.txt, out_layer{i}.txt)")
                     ->check(CLI::ExistingDirectory);
  cmd->add_option("--golden-input-order", args->golden_input_order, "element order of the golden input.txt")
      ->check(CLI::IsMember({"hwc", "chw"}))
      ->default_str("hwc");
  cmd->add_option("--top", args->top, "how many of the largest output values to print")->default_str("5");
  input->excludes(golden);
  return [args]() { return run(*args); };
}

}  // namespace dory::cli
