// Evaluates networks on the 10,000-image Fashion-MNIST test set with the reference executor, on one core:
// top-1 accuracy and wall time per model. Usage:
//   fmnist_eval [--data DIR] [--limit N] MODEL.onnx [MODEL.onnx ...]
// DIR defaults to Debian's dataset-fashion-mnist (/usr/share/datasets/fashion-mnist). The integer input is the
// raw uint8 pixel for both dialects (the QDQ model quantizes pixel/255 with scale 1/255 and zero point 0, so
// its quantized input is the pixel itself; models/fmnist/README.md). Prediction = first index of the maximum.
#include <zlib.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "onnx/frontend.h"
#include "reference/executor.h"

namespace {

std::vector<uint8_t> read_gz(const std::string& path) {
  gzFile f = gzopen(path.c_str(), "rb");
  if (!f) return {};
  std::vector<uint8_t> out;
  uint8_t buf[1 << 16];
  int n;
  while ((n = gzread(f, buf, sizeof buf)) > 0) out.insert(out.end(), buf, buf + n);
  gzclose(f);
  return out;
}

uint32_t be32(const uint8_t* p) { return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3]; }

}  // namespace

int main(int argc, char** argv) {
  std::string data = "/usr/share/datasets/fashion-mnist";
  size_t limit = 10000;
  std::vector<std::string> models;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--data" && i + 1 < argc) data = argv[++i];
    else if (a == "--limit" && i + 1 < argc) limit = std::stoul(argv[++i]);
    else models.push_back(a);
  }
  const std::vector<uint8_t> images = read_gz(data + "/t10k-images-idx3-ubyte.gz");
  const std::vector<uint8_t> labels = read_gz(data + "/t10k-labels-idx1-ubyte.gz");
  if (images.size() < 16 || labels.size() < 8 || be32(images.data()) != 2051 || be32(labels.data()) != 2049) {
    std::fprintf(stderr, "error: cannot read the Fashion-MNIST test set from %s (install dataset-fashion-mnist)\n",
                 data.c_str());
    return 1;
  }
  const size_t count = std::min<size_t>(be32(images.data() + 4), limit);
  const size_t pixels = size_t{be32(images.data() + 8)} * be32(images.data() + 12);
  std::printf("| model | dialect | images | top-1 | wall time (1 core) | per image |\n|---|---|---|---|---|---|\n");
  for (const std::string& path : models) {
    dory::Expected<dory::Graph> g = dory::import_onnx(path);
    if (!g.ok()) {
      std::fprintf(stderr, "%s\n", g.error().str().c_str());
      return 1;
    }
    dory::ReferenceExecutor ex(*g);
    const dory::TensorId out = g->outputs.at(0);
    size_t correct = 0;
    std::vector<std::vector<int32_t>> in(1, std::vector<int32_t>(pixels));
    const auto t0 = std::chrono::steady_clock::now();
    for (size_t k = 0; k < count; ++k) {
      const uint8_t* px = images.data() + 16 + k * pixels;
      for (size_t p = 0; p < pixels; ++p) in[0][p] = px[p];
      dory::Expected<dory::ReferenceResult> r = ex.run(in);
      if (!r.ok()) {
        std::fprintf(stderr, "%s\n", r.error().str().c_str());
        return 1;
      }
      const std::vector<int32_t>& logits = r->values[static_cast<size_t>(out)];
      size_t best = 0;
      for (size_t c = 1; c < logits.size(); ++c)
        if (logits[c] > logits[best]) best = c;
      correct += best == labels[8 + k];
    }
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("| %s | %s | %zu | %.2f %% | %.2f s | %.0f us |\n", path.c_str(), g->dialect.c_str(), count,
                100.0 * static_cast<double>(correct) / static_cast<double>(count), secs, 1e6 * secs / count);
  }
  return 0;
}
