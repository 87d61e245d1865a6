// The differential harness of the kernel tests: random one-layer graphs, the reference executor, and a minimal
// tile-by-tile executor that runs the C kernels on the host HAL as the generated code will: the tiler's tile
// geometry (tiler/tile.h), the tiler's L1 buffer sizes (tiler/l1_layout.h) with canary bytes between the buffers,
// the tiler's transfers of every tile (tiler/transfers.h: tile_loads, tile_stores) as 1-D/2-D/3-D DMA jobs, the
// kernel run on 1 or 8 cores, then every output element compared with the reference.
#pragma once

#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "dory/kernels.h"
#include "ir/graph.h"
#include "reference/executor.h"
#include "target/target.h"
#include "tiler/tile.h"

namespace dory::ktest {

// ---- randomness ---------------------------------------------------------------------------------------------

uint64_t splitmix64(uint64_t x);

struct Rng {
  std::mt19937_64 g;
  explicit Rng(uint64_t seed) : g(seed) {}
  int64_t uniform(int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(g); }
  double real(double lo, double hi) { return std::uniform_real_distribution<double>(lo, hi)(g); }
  bool chance(double p) { return real(0, 1) < p; }
  template <class T>
  const T& pick(const std::vector<T>& v) {
    return v[static_cast<size_t>(uniform(0, static_cast<int64_t>(v.size()) - 1))];
  }
};

// Settings from the environment: DORY_TEST_SEED (base seed), DORY_TEST_CASE (run only this case index),
// DORY_TEST_SCALE (multiplies the case counts, e.g. 0.1 under sanitizers).
uint64_t base_seed();
std::optional<int> only_case();
int scaled_cases(int n);

// ---- cases --------------------------------------------------------------------------------------------------

enum class Family { Conv, Pointwise, Depthwise, Fc, MaxPool, AvgPool, Add, Requantize };
const char* family_name(Family f);

struct LayerCase {
  Graph g;
  std::string layer;                         // name of the layer under test (the last one)
  std::vector<std::vector<int32_t>> inputs;  // graph inputs, ONNX order
  std::string desc;                          // one line: kind, shapes, types, requantization
};

// A random layer of the family that passes check_graph (sizes bounded so that a case takes milliseconds).
LayerCase random_case(Family f, Rng& r);

// ---- running ------------------------------------------------------------------------------------------------

struct RunConfig {
  TileShape shape;
  int cores = 1;
  std::string kernel;   // the registry kernel under test (a portable one that takes the layer's types)
  uint8_t split = DORY_SPLIT_ROWS;
  bool dma_until_wait = false;
  std::string str() const;
};

// A random tiling, work split and DMA mode, and one of the registry's portable kernels for the layer (its op, its
// input types), uniformly.
RunConfig random_config(Rng& r, const LayerGeometry& g, int cores);

// The registry's portable kernels that can run layer g (its op, every input's type), in registry order.
std::vector<const RegistryKernel*> portable_kernels_for(const LayerGeometry& g);

// `base` with `kernel` first in its family's list (its rates copied from the family's first entry): the target
// whose plans (L1 layout, scratch) are made for that kernel.
Target with_kernel(const Target& base, const RegistryKernel& kernel);

// The function of a portable registry kernel (the generated table of the host runtime), or all-null.
dory_kernel_fn portable_kernel(const std::string& name);

// What one tiled run did (for the coverage summary).
struct RunStats {
  int64_t tiles = 0;
  int64_t padded_tiles = 0;   // tiles with some padding
  int64_t padding_only_tiles = 0;  // tiles whose windows all lie in the padding (an empty input box)
  int64_t partial_tiles = 0;  // tiles accumulating into partial sums (input channels tiled)
};

// Runs the layer tile by tile on the host HAL; returns "" when every output element equals the reference,
// else a description of the first mismatch (or of the kernel writing outside its buffers).
std::string run_tiled(const LayerCase& c, const ReferenceResult& ref, const Target& target, const RunConfig& cfg,
                      RunStats* stats);

}  // namespace dory::ktest
