// The networks the GVSoC benchmarks run, by name: the bundled example ("fmnist"), the CIFAR-10 CNN ("cifar10"),
// ResNet-8 ("resnet8": dory netgen resnet8), MobileNetV1-0.25 at 64x64 with 10 classes ("mobilenet_v1": the
// tests' small MobileNet), or any ONNX file by path. Shared by gvsoc_eval and fit_cost_model so that both
// measure the same graphs.
#pragma once

#include <filesystem>
#include <string>

#include "ir/graph.h"
#include "onnx/frontend.h"
#include "testnets/testnets.h"
#include "util/diagnostic.h"

namespace dory::bench {

struct Network {
  std::string name, label, command_path;  // command_path: what a user passes to dory for the same graph
  Graph graph;
};

inline Expected<Network> load_network(const std::string& name) {
  Network n;
  n.name = name;
  if (name == "fmnist" || name == "cifar10") {
    n.command_path = name == "fmnist" ? "models/fmnist/fmnist_int.onnx" : "models/cifar10/cifar10_cnn.onnx";
    n.label = std::filesystem::path(n.command_path).filename().string();
    DORY_TRY(n.graph, import_onnx(std::string(DORY_SOURCE_DIR) + "/" + n.command_path, {}));
  } else if (name == "resnet8") {
    n.command_path = "resnet8.onnx";  // dory netgen resnet8 -o resnet8.onnx
    n.label = "resnet8.onnx";
    DORY_TRY(n.graph, import_onnx_bytes(make_resnet8_onnx({}), "resnet8.onnx"));
  } else if (name == "mobilenet_v1") {
    MobileNetOptions mo;
    mo.width = 0.25;
    mo.resolution = 64;
    mo.classes = 10;
    n.command_path = "mobilenet_v1_0.25_64.onnx";  // the tests' MobileNetV1-0.25, 64x64, 10 classes
    n.label = n.command_path;
    DORY_TRY(n.graph, import_onnx_bytes(make_mobilenet_v1_onnx(mo), n.label));
  } else {
    n.command_path = name;
    n.label = std::filesystem::path(name).filename().string();
    DORY_TRY(n.graph, import_onnx(name, {}));
  }
  return n;
}

}  // namespace dory::bench
