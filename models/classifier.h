// The Fashion-MNIST classifier behind `gan eval`. No Inception weights can be fetched here, so quality is measured
// with our own small CNN: its penultimate features (128 after ReLU) stand in for Inception's pool features in the
// Frechet distance and precision/recall, and its predicted classes score cgan (accuracy on class-conditioned
// samples) and infogan (NMI between the categorical code and the class). models/metrics.h holds the maths.
//
//   x [N, 1, 28, 28] in [-1, 1] (the datasets' and generators' range)
//   body: Conv2d(1, 32, 5, stride 2, pad 2) -> BN+ReLU   [N, 32, 14, 14]
//         Conv2d(32, 64, 5, stride 2, pad 2) -> BN+ReLU  [N, 64, 7, 7]
//         Flatten -> Linear(3136, 128) -> BN+ReLU         [N, 128]  = features
//   head: Dropout(0.3) -> Linear(128, 10)                 logits
// Strided convolutions replace pooling (the engine has none); the net costs ~3 M multiply-adds per image, so a
// few epochs train on two CPU cores in minutes.
//
// The weights live in one safetensors file (default $GAN_DATA_DIR or ~/.cache/gan-engine/classifier-fmnist
// .safetensors) whose metadata holds a hash of the training settings (architecture version included):
// load_or_train_classifier loads it when the hash matches and otherwise trains and saves a new one.
#pragma once

#include <cstdint>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "engine/device.h"
#include "engine/nn/layers.h"
#include "engine/tensor.h"

namespace gan::models {

struct ClassifierSettings {
  int64_t epochs = 6;
  int64_t batch = 128;
  double lr = 2e-3;       // Adam; halved after each epoch past the first
  uint64_t seed = 0;      // weights, dropout and data order
  bool flip = true;       // random horizontal flips of half of each batch (clothes are left-right symmetric)
  // "arch=v1 epochs=6 batch=128 ...": what the hash covers.
  std::string describe() const;
  // 16 hex digits, FNV-1a of describe().
  std::string hash() const;
};

class FashionClassifier : public nn::Module {
 public:
  static constexpr int64_t kFeatures = 128;
  static constexpr int64_t kClasses = 10;
  static constexpr int64_t kImageSize = 28;

  explicit FashionClassifier(uint64_t seed = 0);
  Tensor forward(const Tensor& x) override;  // logits [N, 10]
  Tensor features(const Tensor& x);          // [N, 128]
  std::string describe() const override { return "FashionClassifier"; }

  // Eval mode, no grad, in batches: features [N, 128] (float, CPU) and the predicted class of each image.
  // images: [N, 1, 28, 28] on any device (moved batch by batch to the parameters' device). Throws
  // std::invalid_argument naming the shape when it is not that.
  struct Output {
    Tensor features;
    std::vector<int64_t> predictions;
  };
  Output evaluate(const Tensor& images, int64_t batch = 500);

 private:
  std::shared_ptr<nn::Sequential> body_;
  std::shared_ptr<nn::Dropout> dropout_;
  std::shared_ptr<nn::Linear> head_;
};

// Trains a fresh classifier on the Fashion-MNIST training split (28 px) on `device`; progress (one line per
// epoch: loss, train accuracy, seconds) goes to `log` when given.
std::shared_ptr<FashionClassifier> train_classifier(const ClassifierSettings& settings, Device device,
                                                    std::ostream* log);
// Fraction of the Fashion-MNIST test split (10000 images) classified correctly.
double classifier_test_accuracy(FashionClassifier& net);

// $GAN_DATA_DIR/classifier-fmnist.safetensors (default dir ~/.cache/gan-engine).
std::string default_classifier_path();

struct LoadedClassifier {
  std::shared_ptr<FashionClassifier> net;  // in eval mode, on the requested device
  double test_accuracy = 0;                // as recorded when it was trained
  bool trained_now = false;                // false: loaded from the file
};
// Loads `path` when it exists and its "settings_hash" metadata matches settings.hash(); otherwise trains one,
// measures its test accuracy and saves it there (metadata: settings_hash, settings, test_accuracy,
// train_seconds). A file that cannot be read is retrained over, with a line to `log`.
LoadedClassifier load_or_train_classifier(const std::string& path, const ClassifierSettings& settings,
                                          Device device, std::ostream* log);

}  // namespace gan::models
