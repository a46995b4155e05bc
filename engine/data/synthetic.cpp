// "synthetic": a tiny labelled image set for tests and smoke runs, made from the seed, no files needed. Gray
// images of one white shape on black: 0 square, 1 disc, 2 triangle (pointing up), the class cycling with the
// index; centre and size drawn per example. Default 256 images of 16x16; DatasetOptions.image_size draws them at
// another size directly (no resampling), with 4x4 supersampled edges.
#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "engine/data/builtin.h"
#include "engine/rng.h"

namespace gan::data::builtin {

namespace {

constexpr int64_t kDefaultCount = 256;
constexpr int64_t kDefaultSize = 16;
constexpr uint64_t kStream = 0x53594e54;  // "SYNT"

class SyntheticDataset : public Dataset {
 public:
  SyntheticDataset(int64_t count, int64_t size, uint64_t seed) : seed_(seed) {
    spec_.kind = ExampleKind::Image;
    spec_.channels = 1;
    spec_.image_size = size;
    spec_.num_classes = 3;
    spec_.class_names = {"square", "disc", "triangle"};
    params_.resize(static_cast<size_t>(3 * count));
    Generator gen(seed, kStream);
    gen.fill_uniform<float>(params_.data(), 3 * count);
  }

  int64_t size() const override { return static_cast<int64_t>(params_.size() / 3); }
  const DataSpec& spec() const override { return spec_; }
  int64_t get(int64_t i, float* out) const override {
    if (i < 0 || i >= size())
      throw std::out_of_range("synthetic: example " + std::to_string(i) + " out of range [0, " +
                              std::to_string(size()) + ")");
    const int64_t S = spec_.image_size, shape = i % 3;
    const float* p = params_.data() + 3 * i;
    const double cx = (0.38 + 0.24 * p[0]) * S, cy = (0.38 + 0.24 * p[1]) * S, r = (0.2 + 0.1 * p[2]) * S;
    auto inside = [&](double x, double y) {
      const double dx = x - cx, dy = y - cy;
      switch (shape) {
        case 0: return std::abs(dx) <= 0.85 * r && std::abs(dy) <= 0.85 * r;
        case 1: return dx * dx + dy * dy <= r * r;
        default: return dy >= -r && dy <= r && std::abs(dx) <= (dy + r) * 0.577;  // apex up, ~60 degrees
      }
    };
    constexpr int kSub = 4;
    for (int64_t y = 0; y < S; ++y)
      for (int64_t x = 0; x < S; ++x) {
        int hits = 0;
        for (int sy = 0; sy < kSub; ++sy)
          for (int sx = 0; sx < kSub; ++sx) hits += inside(x + (sx + 0.5) / kSub, y + (sy + 0.5) / kSub);
        out[y * S + x] = -1.f + 2.f * static_cast<float>(hits) / (kSub * kSub);
      }
    return shape;
  }
  std::string describe() const override {
    return "synthetic: " + std::to_string(size()) + " images 1x" + std::to_string(spec_.image_size) + "x" +
           std::to_string(spec_.image_size) + " of 3 shapes (square, disc, triangle), drawn from seed " +
           std::to_string(seed_);
  }

 private:
  uint64_t seed_;
  DataSpec spec_;
  std::vector<float> params_;  // 3 uniforms per example: centre x, centre y, size
};

}  // namespace

std::unique_ptr<Dataset> open_synthetic(const DatasetOptions& options) {
  const int64_t size = options.image_size > 0 ? options.image_size : kDefaultSize;
  if (size < 4) throw std::invalid_argument("synthetic: image size " + std::to_string(size) + " is too small (>= 4)");
  return std::make_unique<SyntheticDataset>(options.size > 0 ? options.size : kDefaultCount, size, options.seed);
}

}  // namespace gan::data::builtin
