// Datasets: a size, a spec (what one example looks like) and random access to examples, plus the registry that
// opens one by name ("fashion-mnist", "pokemon", "folder:PATH", "ring8", "grid25", "synthetic").
//
// Images are float CHW in [-1, 1] (the tanh range generators produce), square, resized to the size the model
// asks for; 2-D toy data ("points") are float [point_dim]. Labels are class indices, -1 when the set has none.
//
// The sets (list_datasets() says the same in one line each; each file's top comment says more):
//   fashion-mnist  Debian's dataset-fashion-mnist (IDX, engine/data/idx.h); 28x28 gray, 10 classes; sizes up to 32
//                  pad with black (exact pixels), larger ones resize            engine/data/fashion_mnist.cpp
//   pokemon        1524 RGB 64x64 images made by scripts/fetch-pokemon.sh       engine/data/folder.cpp
//   folder:PATH    PNG/JPEG under PATH, centre-cropped, resized (default 64), gray if all are gray
//   ring8, grid25  2-D Gaussian mixtures with their centres as reference_points()  engine/data/mixtures.cpp
//   synthetic      256 16x16 gray shapes in 3 classes, for tests               engine/data/synthetic.cpp
// Fetched data lives under $GAN_DATA_DIR (default ~/.cache/gan-engine); $GAN_DATA_DIR/fashion-mnist, when it
// exists, is read instead of the package's /usr/share/datasets/fashion-mnist.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/tensor.h"

namespace gan::data {

enum class ExampleKind { Image, Points };

// What one example looks like; models size their networks from it.
struct DataSpec {
  ExampleKind kind = ExampleKind::Image;
  int64_t channels = 1;    // images: 1 (gray) or 3 (RGB)
  int64_t image_size = 0;  // images: side length S of the [C, S, S] example
  int64_t point_dim = 0;   // points: coordinates per example
  int64_t num_classes = 0; // 0: unlabeled
  std::vector<std::string> class_names;  // empty or num_classes entries

  int64_t example_numel() const { return kind == ExampleKind::Image ? channels * image_size * image_size : point_dim; }
};

// Upper bounds of DatasetOptions (open_dataset refuses more; `gan` holds its flags and config.json to the same):
// images of up to 512 x 512, generated sets of up to a million examples (ten times the mixtures' default).
constexpr int64_t kMaxImageSize = 512;
constexpr int64_t kMaxGeneratedSize = 1'000'000;

struct DatasetOptions {
  int64_t image_size = 0;  // 0: the set's native size (folders: 64); else resize (area/bilinear) to S x S
  bool train_split = true; // sets with a test split (fashion-mnist) pick it with false
  uint64_t seed = 0;       // generated sets (ring8, grid25, synthetic) draw from it
  int64_t size = 0;        // generated sets: number of examples (0: the set's default)
};

class Dataset {
 public:
  virtual ~Dataset() = default;
  virtual int64_t size() const = 0;
  virtual const DataSpec& spec() const = 0;
  // Writes example i (0 <= i < size()) into out[spec().example_numel()] and returns its label (-1 if none).
  // Thread-safe: the loader's prefetch thread calls it.
  virtual int64_t get(int64_t i, float* out) const = 0;
  // One line: name, count, shape, where it came from.
  virtual std::string describe() const = 0;
  // Points that plots draw behind samples: for the Gaussian mixtures (ring8, grid25) their centres, a float CPU
  // tensor [modes, point_dim]; undefined for sets that have none (engine/image/plots.h draws it).
  virtual Tensor reference_points() const { return Tensor(); }
};

struct DatasetInfo {
  std::string name;         // what --data accepts ("folder:PATH" is listed as "folder:PATH")
  std::string description;  // one line, including how to install/fetch it when it is not there
};

// The first `limit` examples of `dataset` (all of them when it has no more), in the data set's own order: a fixed,
// reproducible subset for data-efficiency experiments (`gan train --data-limit N`). Its describe() says so.
std::unique_ptr<Dataset> first_examples(std::unique_ptr<Dataset> dataset, int64_t limit);

// Every dataset name open_dataset accepts, for `gan datasets`.
const std::vector<DatasetInfo>& list_datasets();

// Opens a dataset by name. Throws std::runtime_error on an unknown name (listing the known ones), on missing
// files (saying which command installs or fetches them) and on corrupt data (naming the file and the problem).
std::unique_ptr<Dataset> open_dataset(const std::string& name, const DatasetOptions& options);

}  // namespace gan::data
