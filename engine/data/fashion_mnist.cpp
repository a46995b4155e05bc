// Fashion-MNIST (Xiao, Rasul, Vollgraf 2017) from Debian's dataset-fashion-mnist package: four gzip'd IDX files,
// 60000 training and 10000 test images, 28x28 gray, white clothes on black, 10 classes.
//
// Model sizes: 28 is native; 29..32 pad the image centred with black (32 is the classic LeNet/DCGAN-32 choice: it
// keeps every pixel exact, and the border is background anyway); larger sizes (64) resize bilinearly, so the
// garment fills the frame as it does at 28; smaller ones area-downscale.
#include <filesystem>
#include <stdexcept>

#include "engine/data/builtin.h"
#include "engine/data/idx.h"

namespace gan::data::builtin {

namespace {

constexpr const char* kSystemDir = "/usr/share/datasets/fashion-mnist";
constexpr const char* kInstall = "apt-get install dataset-fashion-mnist";
constexpr int64_t kNative = 28;
constexpr int64_t kPadUpTo = 32;
constexpr int64_t kMaxExamples = 10'000'000;  // labels per file: 7.8 GB of images, far above the real 60000

const std::vector<std::string>& class_names() {
  static const std::vector<std::string> names = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                                 "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
  return names;
}

// $GAN_DATA_DIR/fashion-mnist when it exists (a copy elsewhere), else the Debian package's folder.
std::string find_dir() {
  const std::filesystem::path local = std::filesystem::path(data_root()) / "fashion-mnist";
  std::error_code ec;
  if (std::filesystem::is_directory(local, ec)) return local.string();
  return kSystemDir;
}

}  // namespace

std::unique_ptr<Dataset> open_fashion_mnist(const DatasetOptions& options) {
  const std::string dir = find_dir();
  const std::string prefix = options.train_split ? "train" : "t10k";
  const std::string images_path = dir + "/" + prefix + "-images-idx3-ubyte.gz";
  const std::string labels_path = dir + "/" + prefix + "-labels-idx1-ubyte.gz";
  for (const std::string& p : {images_path, labels_path}) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(p, ec))
      throw std::runtime_error("fashion-mnist: '" + p + "' not found; install it with: " + kInstall +
                               " (or run scripts/setup.sh)");
  }
  // Labels first: they are small, and their count bounds what the images file may announce.
  IdxArray labels = read_idx(labels_path, kMaxExamples);
  const int64_t count_bound = labels.dims.empty() ? 0 : labels.dims[0];
  IdxArray images = read_idx(images_path, count_bound * kNative * kNative);
  if (images.dims.size() != 3 || images.dims[1] != kNative || images.dims[2] != kNative)
    throw std::runtime_error("fashion-mnist: '" + images_path + "' holds an array of " +
                             std::to_string(images.dims.size()) + " dimensions, not N x 28 x 28 images");
  if (labels.dims.size() != 1 || labels.dims[0] != images.dims[0])
    throw std::runtime_error("fashion-mnist: '" + labels_path + "' does not hold one label per image of '" +
                             images_path + "' (" + std::to_string(images.dims[0]) + " images)");
  std::vector<int64_t> label_values(labels.data.size());
  for (size_t i = 0; i < labels.data.size(); ++i) {
    if (labels.data[i] >= class_names().size())
      throw std::runtime_error("fashion-mnist: '" + labels_path + "': label " + std::to_string(labels.data[i]) +
                               " of example " + std::to_string(i) + " is not a class in [0, 10)");
    label_values[i] = labels.data[i];
  }
  DataSpec spec;
  spec.kind = ExampleKind::Image;
  spec.channels = 1;
  spec.image_size = options.image_size > 0 ? options.image_size : kNative;
  spec.num_classes = static_cast<int64_t>(class_names().size());
  spec.class_names = class_names();
  const int64_t count = images.dims[0];
  return std::make_unique<ImageArrayDataset>(std::string("fashion-mnist ") + (options.train_split ? "train" : "test"),
                                             std::move(images.data), std::move(label_values), count, kNative,
                                             kPadUpTo, std::move(spec), dir);
}

}  // namespace gan::data::builtin
