// What `gan eval` and `gan train --eval-every N` share: finding the Fashion-MNIST classifier (models/classifier.h),
// turning a model's samples into its 28 x 28 inputs, and the test split's features that generated ones are
// measured against. `gan train --eval-every N` logs the Frechet distance of a few samples (1000 by default)
// every N steps to RUN/fd.jsonl, with the same classifier and the same real side as `gan eval`; fewer samples
// make it cheap (about a second on a CPU) but biased upward, so it tracks progress within a run and is not
// comparable with `gan eval`'s 10000-sample figure.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "apps/catalog.h"
#include "apps/run_config.h"
#include "engine/device.h"
#include "engine/image/image.h"
#include "engine/rng.h"
#include "models/classifier.h"
#include "models/metrics.h"
#include "models/model.h"

namespace gan::apps {

// The classifier file: `flag` (--classifier PATH), which must exist, so that a mistyped path fails at once
// instead of starting minutes of classifier training aimed at it; or, when empty, the cache
// (models::default_classifier_path(), trained there on first use), whose folder must be writable when the file
// is missing. Throws UsageError saying what to do.
std::string resolve_classifier(const std::string& flag);

// "" when the classifier can measure this run's samples (Fashion-MNIST, one channel), else why not.
std::string unmeasurable_reason(const RunConfig& run);

// One image [side, side] in [-1, 1] -> the classifier's 28 x 28, quantized to the 256 levels a PNG holds (so a run
// and a folder of its PNGs measure alike): as is at 28; the centre at 32 (Fashion-MNIST at 32 is the 28-pixel
// image with a 2-pixel black border); resampled otherwise.
void to_classifier_input(const float* src, int64_t side, float* dst);

// "" for an image of one sample; for a sample grid (tiles of 28, 32 or 64 px in rows and columns, separated and
// framed by lines of one colour, as `gan sample` and torchvision's save_image write them) a description such as
// "8 x 8 tiles of 28 px". `gan eval --samples` refuses grids: each would count as one blurry sample.
std::string sample_grid_layout(const image::Image8& img);

// n samples of a trained model from its prior, drawn with `gen` in chunks (10000 never sit in memory at once):
// the model's sample grids, less infogan's continuous-code sweeps (one shared noise draw, codes beyond the
// training range). Calls fn(images, i, condition) for each sample, image i of a chunk's images [N, C, S, S] on the
// CPU; condition is the class asked for (cgan), the categorical code (infogan) or -1. `gan sample --format
// png-dir` and the Frechet distance both draw through it, so a folder of PNGs and its run measure alike.
void for_each_sample(models::GanModel& model, const std::string& model_name, int64_t n, Generator& gen,
                     const std::function<void(const Tensor& images, int64_t i, int64_t condition)>& fn);

// n samples of a trained model as classifier inputs (for_each_sample with Generator(seed, 0)).
struct Generated {
  std::vector<float> pixels;        // [n, 1, 28, 28] in [-1, 1]
  std::vector<int64_t> conditions;  // cgan: the class asked for; infogan: the categorical code; else empty
  int64_t count = 0;
};
Generated generate_for_classifier(models::GanModel& model, const RunConfig& run, int64_t n, uint64_t seed);

// The classifier and the features of the Fashion-MNIST test split (10000 images), computed once.
struct ClassifierReference {
  models::LoadedClassifier classifier;
  std::string path;
  Tensor real_features;  // [n_test, 128]
  models::metrics::FeatureStats real_stats;
  int64_t n_test = 0;
};
// Loads (or trains, at `path`, with progress to `log`) the classifier and extracts the test features. Throws
// UsageError when the Fashion-MNIST test split cannot be opened.
std::shared_ptr<ClassifierReference> load_reference(const std::string& path, const Catalog& catalog, Device device,
                                                    std::ostream* log);

// For the trainer (Trainer::set_evaluator): the Frechet distance of n samples (fixed seed) against the test split,
// as {"fd": ..., "n": n}.
std::function<nlohmann::ordered_json(models::GanModel&)> fd_evaluator(std::shared_ptr<ClassifierReference> ref,
                                                                      const RunConfig& run, int64_t n);

}  // namespace gan::apps
