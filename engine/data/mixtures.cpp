// 2-D Gaussian mixtures for watching mode collapse (the set's centres are its reference_points(), which scatter
// plots draw as rings):
//   ring8:  8 modes evenly spaced on a circle of radius 2, std 0.02 (Metz et al., "Unrolled Generative
//           Adversarial Networks", 2016, section 3.1).
//   grid25: 25 modes on the 5x5 grid {-4, -2, 0, 2, 4}^2, std 0.05 (the grid experiment of VEEGAN, Srivastava et
//           al. 2017, and PacGAN, Lin et al. 2018, that later papers pair with the ring).
// Each example picks a mode uniformly (its label) and adds isotropic noise; all drawn up front from the engine's
// Philox generator keyed by the seed, so a seed names the data exactly. Default 100000 examples.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numbers>
#include <stdexcept>

#include "engine/data/builtin.h"
#include "engine/rng.h"

namespace gan::data::builtin {

namespace {

constexpr int64_t kDefaultCount = 100000;
constexpr uint64_t kStream = 0x4d495854;  // "MIXT": keeps these draws apart from the seed's other uses

class MixtureDataset : public Dataset {
 public:
  MixtureDataset(std::string name, std::vector<float> centres, double stddev, int64_t count, uint64_t seed,
                 std::string origin)
      : name_(std::move(name)), centres_(std::move(centres)), stddev_(stddev), seed_(seed), origin_(std::move(origin)) {
    const int64_t modes = static_cast<int64_t>(centres_.size() / 2);
    spec_.kind = ExampleKind::Points;
    spec_.point_dim = 2;
    spec_.channels = 0;
    spec_.num_classes = modes;
    Generator gen(seed, kStream);
    std::vector<float> u(static_cast<size_t>(count));
    gen.fill_uniform<float>(u.data(), count);
    points_.resize(static_cast<size_t>(2 * count));
    gen.fill_normal<float>(points_.data(), 2 * count, 0.f, static_cast<float>(stddev));
    labels_.resize(static_cast<size_t>(count));
    for (int64_t i = 0; i < count; ++i) {
      const int64_t m = std::min<int64_t>(modes - 1, static_cast<int64_t>(u[static_cast<size_t>(i)] * modes));
      labels_[static_cast<size_t>(i)] = m;
      points_[static_cast<size_t>(2 * i)] += centres_[static_cast<size_t>(2 * m)];
      points_[static_cast<size_t>(2 * i + 1)] += centres_[static_cast<size_t>(2 * m + 1)];
    }
  }

  int64_t size() const override { return static_cast<int64_t>(labels_.size()); }
  const DataSpec& spec() const override { return spec_; }
  int64_t get(int64_t i, float* out) const override {
    if (i < 0 || i >= size())
      throw std::out_of_range(name_ + ": example " + std::to_string(i) + " out of range [0, " + std::to_string(size()) + ")");
    out[0] = points_[static_cast<size_t>(2 * i)];
    out[1] = points_[static_cast<size_t>(2 * i + 1)];
    return labels_[static_cast<size_t>(i)];
  }
  std::string describe() const override {
    char std_text[32];
    std::snprintf(std_text, sizeof std_text, "%g", stddev_);
    return name_ + ": " + std::to_string(size()) + " 2-D points, " + std::to_string(spec_.num_classes) +
           " Gaussian modes (std " + std_text + "), " + origin_ + ", drawn from seed " + std::to_string(seed_);
  }
  Tensor reference_points() const override {
    return from_vector<float>(centres_, {static_cast<int64_t>(centres_.size() / 2), 2});
  }

 private:
  std::string name_;
  std::vector<float> centres_;
  double stddev_;
  uint64_t seed_;
  std::string origin_;
  DataSpec spec_;
  std::vector<float> points_;
  std::vector<int64_t> labels_;
};

}  // namespace

std::unique_ptr<Dataset> open_mixture(const std::string& name, const DatasetOptions& options) {
  const int64_t count = options.size > 0 ? options.size : kDefaultCount;
  std::vector<float> centres;
  if (name == "ring8") {
    for (int k = 0; k < 8; ++k) {
      const double a = 2 * std::numbers::pi * k / 8;
      centres.push_back(static_cast<float>(2 * std::cos(a)));
      centres.push_back(static_cast<float>(2 * std::sin(a)));
    }
    return std::make_unique<MixtureDataset>(name, std::move(centres), 0.02, count, options.seed,
                                            "on a circle of radius 2");
  }
  if (name == "grid25") {
    for (int i = -2; i <= 2; ++i)
      for (int j = -2; j <= 2; ++j) {
        centres.push_back(static_cast<float>(2 * i));
        centres.push_back(static_cast<float>(2 * j));
      }
    return std::make_unique<MixtureDataset>(name, std::move(centres), 0.05, count, options.seed,
                                            "on the grid {-4,-2,0,2,4}^2");
  }
  throw std::invalid_argument("open_mixture: unknown mixture '" + name + "' (ring8, grid25)");
}

}  // namespace gan::data::builtin
