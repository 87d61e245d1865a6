// `dory netgen NAME -o FILE.onnx [--seed N]`, `dory netgen --list`: writes a synthetic integer-deployable
// network (src/testnets: MobileNetV1/V2, ResNet-8, a CIFAR-10 CNN) with seeded random weights.
#include <fmt/format.h>

#include <cstdio>
#include <fstream>
#include <memory>

#include "commands.h"
#include "testnets/testnets.h"

namespace dory::cli {

std::function<int()> add_netgen_command(CLI::App& app) {
  struct Args {
    std::string name;
    std::string output;
    uint64_t seed = 1;
    bool list = false;
  };
  auto args = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand("netgen", "write a synthetic int8 network (random weights) as ONNX");
  cmd->add_option("name", args->name,
                  "network: mobilenet_v1[_ALPHA_RES], mobilenet_v2[_ALPHA_RES], resnet8, cifar10_cnn");
  cmd->add_option("-o,--output", args->output, "the ONNX file to write");
  cmd->add_option("--seed", args->seed, "seed of the weight generator")->capture_default_str();
  cmd->add_flag("--list", args->list, "list the networks");
  return [args]() -> int {
    if (args->list) {
      for (const TestNetworkInfo& n : test_network_list())
        std::printf("%-14s %s\n", n.name.c_str(), n.description.c_str());
      return 0;
    }
    if (args->name.empty() || args->output.empty())
      return report(make_error("cli-missing-argument", "netgen", "needs a network NAME and -o FILE.onnx",
                               "dory netgen --list shows the networks"));
    auto bytes = make_test_network(args->name, args->seed);
    if (!bytes) return report(bytes.error());
    std::ofstream f(args->output, std::ios::binary);
    if (f) f << *bytes;
    if (!f) return report(make_error("io-write", fmt::format("file '{}'", args->output), "cannot be written"));
    std::fprintf(stderr, "wrote %s (%s, seed %llu, %zu bytes)\n", args->output.c_str(), args->name.c_str(),
                 static_cast<unsigned long long>(args->seed), bytes->size());
    return 0;
  };
}

}  // namespace dory::cli
