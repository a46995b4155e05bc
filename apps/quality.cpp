#include "apps/quality.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>

#include "apps/run_dir.h"
#include "engine/image/image.h"
#include "engine/rng.h"

namespace gan::apps {

namespace {

constexpr int64_t kSide = models::FashionClassifier::kImageSize;  // 28
constexpr int64_t kChunk = 500;                                    // samples per sample() call

// Can a file be created in `dir` (made if missing)? The reason when not.
std::string unwritable(const fs::path& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return ec.message();
  const fs::path probe = dir / (".write-test." + std::to_string(::getpid()));
  const int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return std::strerror(errno);
  ::close(fd);
  ::unlink(probe.c_str());
  return "";
}

}  // namespace

std::string resolve_classifier(const std::string& flag) {
  if (!flag.empty()) {
    std::error_code ec;
    if (!fs::is_regular_file(flag, ec))
      throw UsageError("--classifier: no file at " + flag + "; omit --classifier to use the cached classifier (" +
                       models::default_classifier_path() + ", trained there on first use)");
    return flag;
  }
  const std::string path = models::default_classifier_path();
  std::error_code ec;
  if (!fs::exists(path, ec)) {
    const std::string why = unwritable(fs::path(path).parent_path());
    if (!why.empty())
      throw UsageError("the classifier must be trained once and cached at " + path + ", but its folder is not "
                       "writable (" + why + "); set GAN_DATA_DIR to a writable folder or pass --classifier FILE");
  }
  return path;
}

std::string unmeasurable_reason(const RunConfig& run) {
  if (run.data != "fashion-mnist" || run.spec.kind != data::ExampleKind::Image || run.spec.channels != 1)
    return "the classifier knows Fashion-MNIST only, and this run trains on '" + run.data + "'";
  return "";
}

void to_classifier_input(const float* src, int64_t side, float* dst) {
  if (side == kSide) {
    std::copy(src, src + kSide * kSide, dst);
  } else if (side == 32) {
    for (int64_t y = 0; y < kSide; ++y)
      std::copy(src + (y + 2) * 32 + 2, src + (y + 2) * 32 + 2 + kSide, dst + y * kSide);
  } else {
    image::resize_chw(src, 1, side, side, dst, kSide, kSide);
  }
  for (int64_t p = 0; p < kSide * kSide; ++p)
    dst[p] = std::round(std::clamp((dst[p] + 1.0f) * 127.5f, 0.0f, 255.0f)) / 127.5f - 1.0f;
}

std::string sample_grid_layout(const image::Image8& img) {
  const auto uniform_rows = [&](int64_t y0, int64_t pad) {
    const uint8_t v = img.pixels[static_cast<size_t>(y0 * img.width * img.channels)];
    for (int64_t y = y0; y < y0 + pad; ++y)
      for (int64_t x = 0; x < img.width * img.channels; ++x)
        if (img.pixels[static_cast<size_t>(y * img.width * img.channels + x)] != v) return false;
    return true;
  };
  const auto uniform_cols = [&](int64_t x0, int64_t pad) {
    const uint8_t v = img.pixels[static_cast<size_t>(x0 * img.channels)];
    for (int64_t y = 0; y < img.height; ++y)
      for (int64_t x = x0; x < x0 + pad; ++x)
        for (int64_t c = 0; c < img.channels; ++c)
          if (img.pixels[static_cast<size_t>((y * img.width + x) * img.channels + c)] != v) return false;
    return true;
  };
  for (const int64_t tile : {28, 32, 64})
    for (int64_t pad = 1; pad <= 4; ++pad) {
      if ((img.width - pad) % (tile + pad) != 0 || (img.height - pad) % (tile + pad) != 0) continue;
      const int64_t cols = (img.width - pad) / (tile + pad), rows = (img.height - pad) / (tile + pad);
      if (cols < 1 || rows < 1 || cols * rows < 2) continue;
      bool lines = true;
      for (int64_t r = 0; r <= rows && lines; ++r) lines = uniform_rows(r * (tile + pad), pad);
      for (int64_t c = 0; c <= cols && lines; ++c) lines = uniform_cols(c * (tile + pad), pad);
      if (lines)
        return std::to_string(rows) + " x " + std::to_string(cols) + " tiles of " + std::to_string(tile) + " px";
    }
  return "";
}

void for_each_sample(models::GanModel& model, const std::string& model_name, int64_t n, Generator& gen,
                     const std::function<void(const Tensor& images, int64_t i, int64_t condition)>& fn) {
  const bool cgan = model_name == "cgan", infogan = model_name == "infogan";
  int64_t done = 0;
  while (done < n) {
    const models::SampleGrid grid = model.sample(std::min(kChunk, n - done), gen);
    const Tensor images = grid.images.to(Device::cpu()).contiguous();
    const int64_t before = done;
    for (int64_t i = 0; i < images.size(0) && done < n; ++i) {
      const int64_t row = grid.cols > 0 ? i / grid.cols : 0;
      int64_t condition = -1;
      if (cgan) {
        condition = row % 10;  // one row per class (models/cgan.cpp)
      } else if (infogan) {
        // Rows "cat r" hold code r with fresh noise per column; the continuous-code sweeps share one noise draw
        // and leave the training range, so they are left out.
        const std::string label = row < static_cast<int64_t>(grid.row_labels.size()) ? grid.row_labels[row] : "";
        if (label.rfind("cat ", 0) != 0) continue;
        condition = std::stoll(label.substr(4));
      }
      fn(images, i, condition);
      ++done;
    }
    if (done == before)  // a grid with no usable rows would otherwise loop forever
      throw std::runtime_error("model " + model_name + " sampled a grid with no rows to use (labels: " +
                               std::to_string(grid.row_labels.size()) + ")");
  }
}

Generated generate_for_classifier(models::GanModel& model, const RunConfig& c, int64_t n, uint64_t seed) {
  Generated g;
  const bool conditional = c.model == "cgan" || c.model == "infogan";
  const int64_t side = c.spec.image_size, per = side * side;
  g.pixels.resize(static_cast<size_t>(n * kSide * kSide));
  Generator gen(seed, 0);
  for_each_sample(model, c.model, n, gen, [&](const Tensor& images, int64_t i, int64_t condition) {
    if (images.dim() != 4 || images.size(1) != 1 || images.size(2) != side)
      throw std::runtime_error("model " + c.model + " sampled " + shape_str(images.shape()) + ", expected [N, 1, " +
                               std::to_string(side) + ", " + std::to_string(side) + "]");
    to_classifier_input(images.data<float>() + i * per, side, g.pixels.data() + g.count * kSide * kSide);
    if (conditional) g.conditions.push_back(condition);
    ++g.count;
  });
  return g;
}

std::shared_ptr<ClassifierReference> load_reference(const std::string& path, const Catalog& catalog, Device device,
                                                    std::ostream* log) {
  auto ref = std::make_shared<ClassifierReference>();
  ref->path = path;
  std::unique_ptr<data::Dataset> test;
  try {
    test = catalog.open_dataset("fashion-mnist", data::DatasetOptions{kSide, false, 0, 0});
  } catch (const std::exception& e) {
    throw UsageError(std::string("measuring samples needs the Fashion-MNIST test split: ") + e.what());
  }
  try {
    ref->classifier = models::load_or_train_classifier(path, models::ClassifierSettings{}, device, log);
  } catch (const std::exception& e) {
    throw std::runtime_error(std::string("cannot load or train the Fashion-MNIST classifier: ") + e.what());
  }
  ref->n_test = test->size();
  Tensor real = empty({ref->n_test, 1, kSide, kSide});
  for (int64_t i = 0; i < ref->n_test; ++i) test->get(i, real.data<float>() + i * kSide * kSide);
  ref->real_features = ref->classifier.net->evaluate(real).features;
  ref->real_stats = models::metrics::feature_stats(ref->real_features.data<float>(), ref->n_test,
                                                   models::FashionClassifier::kFeatures);
  return ref;
}

std::function<nlohmann::ordered_json(models::GanModel&)> fd_evaluator(std::shared_ptr<ClassifierReference> ref,
                                                                      const RunConfig& run, int64_t n) {
  return [ref, run, n](models::GanModel& model) {
    const auto t0 = std::chrono::steady_clock::now();
    const Generated g = generate_for_classifier(model, run, n, /*seed=*/0);
    const auto out = ref->classifier.net->evaluate(from_vector(g.pixels, {g.count, 1, kSide, kSide}));
    const double fd = models::metrics::frechet_distance(
        ref->real_stats,
        models::metrics::feature_stats(out.features.data<float>(), g.count, models::FashionClassifier::kFeatures));
    nlohmann::ordered_json line;
    line["fd"] = std::round(fd * 1e4) / 1e4;
    line["n"] = g.count;
    line["seconds"] =
        std::round(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() * 1e3) / 1e3;
    return line;
  };
}

}  // namespace gan::apps
