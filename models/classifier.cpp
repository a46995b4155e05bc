#include "models/classifier.h"

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <random>
#include <sstream>
#include <stdexcept>

#include "engine/autograd.h"
#include "engine/checked.h"
#include "engine/data/builtin.h"
#include "engine/data/dataset.h"
#include "engine/data/loader.h"
#include "engine/nn/init.h"
#include "engine/optim/optimizers.h"
#include "engine/rng.h"
#include "engine/safetensors.h"
#include "models/common.h"

namespace gan::models {

namespace F = nn::functional;

std::string ClassifierSettings::describe() const {
  std::ostringstream s;
  s << "arch=v1 epochs=" << epochs << " batch=" << batch << " lr=" << lr << " seed=" << seed
    << " flip=" << (flip ? 1 : 0);
  return s.str();
}

std::string ClassifierSettings::hash() const {
  uint64_t h = 1469598103934665603ull;  // FNV-1a 64
  for (unsigned char c : describe()) {
    h ^= c;
    h *= 1099511628211ull;
  }
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

FashionClassifier::FashionClassifier(uint64_t seed) {
  const F::ActivationArgs relu{F::Activation::ReLU};
  body_ = register_module("body", std::make_shared<nn::Sequential>());
  body_->add(std::make_shared<nn::Conv2d>(1, 32, 5, 2, 2));
  body_->add(std::make_shared<nn::BatchNorm2d>(32, 1e-5, 0.1, true, true, relu));
  body_->add(std::make_shared<nn::Conv2d>(32, 64, 5, 2, 2));
  body_->add(std::make_shared<nn::BatchNorm2d>(64, 1e-5, 0.1, true, true, relu));
  body_->add(std::make_shared<nn::Flatten>());
  body_->add(std::make_shared<nn::Linear>(64 * 7 * 7, kFeatures));
  body_->add(std::make_shared<nn::BatchNorm1d>(kFeatures, 1e-5, 0.1, true, true, relu));
  dropout_ = register_module("dropout", std::make_shared<nn::Dropout>(0.3));
  head_ = register_module("head", std::make_shared<nn::Linear>(kFeatures, kClasses));
  // PyTorch's default initialization, drawn from our own seed so the weights do not depend on what else used the
  // process-wide generator.
  Generator gen(seed, 7);
  for (auto& [name, t] : named_parameters()) {
    if (name.ends_with(".weight") && t.dim() > 1) nn::init::default_weight_(t, &gen);
  }
  for (auto& [name, t] : named_parameters()) {
    if (name.ends_with(".bias") && !name.starts_with("body.1") && !name.starts_with("body.3") &&
        !name.starts_with("body.6")) {  // batch-norm biases stay 0
      const std::string wname = name.substr(0, name.size() - 4) + "weight";
      for (auto& [n2, w] : named_parameters())
        if (n2 == wname) nn::init::default_bias_(t, nn::init::fan_in(w), &gen);
    }
  }
}

Tensor FashionClassifier::features(const Tensor& x) {
  if (x.dim() != 4 || x.size(1) != 1 || x.size(2) != kImageSize || x.size(3) != kImageSize)
    throw std::invalid_argument("FashionClassifier: expected images [N, 1, 28, 28], got " +
                                shape_str(x.shape()));
  return body_->forward(x);
}

Tensor FashionClassifier::forward(const Tensor& x) { return head_->forward(dropout_->forward(features(x))); }

FashionClassifier::Output FashionClassifier::evaluate(const Tensor& images, int64_t batch) {
  if (images.dim() != 4 || images.size(1) != 1 || images.size(2) != kImageSize || images.size(3) != kImageSize)
    throw std::invalid_argument("FashionClassifier::evaluate: expected images [N, 1, 28, 28], got " +
                                shape_str(images.shape()));
  const bool was_training = is_training();
  eval();
  NoGradGuard no_grad;
  const Device device = head_->weight.device();
  const int64_t n = images.size(0);
  Output out;
  out.features = empty({n, kFeatures});
  out.predictions.resize(static_cast<size_t>(n));
  for (int64_t i0 = 0; i0 < n; i0 += batch) {
    const int64_t b = std::min(batch, n - i0);
    const Tensor x = images.narrow(0, i0, b).contiguous().to(device);
    const Tensor f = features(x);
    const Tensor labels = argmax(head_->forward(f), 1).to(Device::cpu());
    const Tensor fc = f.to(Device::cpu()).contiguous();
    std::copy(fc.data<float>(), fc.data<float>() + b * kFeatures, out.features.data<float>() + i0 * kFeatures);
    const int64_t* l = labels.contiguous().data<int64_t>();
    std::copy(l, l + b, out.predictions.begin() + i0);
  }
  train(was_training);
  return out;
}

namespace {

std::unique_ptr<data::Dataset> open_fmnist(bool train_split) {
  data::DatasetOptions o;
  o.image_size = FashionClassifier::kImageSize;
  o.train_split = train_split;
  return data::open_dataset("fashion-mnist", o);
}

// Mirrors image i of x [B, 1, S, S] (CPU, contiguous) left-right.
void flip_row_major(float* img, int64_t s) {
  for (int64_t r = 0; r < s; ++r) std::reverse(img + r * s, img + (r + 1) * s);
}

}  // namespace

std::shared_ptr<FashionClassifier> train_classifier(const ClassifierSettings& st, Device device, std::ostream* log) {
  const auto dataset = open_fmnist(true);
  auto net = std::make_shared<FashionClassifier>(st.seed);
  module_to(*net, device);
  net->train();
  optim::Adam opt(net->named_parameters(), {.lr = st.lr});
  data::Loader loader(*dataset, st.batch, st.seed, Device::cpu());
  Generator dropout_gen(st.seed, 11);
  std::mt19937_64 flips(st.seed);
  const int64_t s = FashionClassifier::kImageSize;
  for (int64_t epoch = 0; epoch < st.epochs; ++epoch) {
    opt.set_lr(st.lr * (epoch == 0 ? 1.0 : std::pow(0.5, static_cast<double>(epoch))));
    const auto t0 = std::chrono::steady_clock::now();
    double loss_sum = 0;
    int64_t correct = 0, seen = 0;
    for (int64_t step = 0; step < loader.batches_per_epoch(); ++step) {
      data::Batch b = loader.next();
      Tensor x = b.examples.contiguous();
      if (st.flip) {
        x = x.clone();
        for (int64_t i = 0; i < x.size(0); ++i)
          if (flips() & 1) flip_row_major(x.data<float>() + i * s * s, s);
      }
      x = x.to(device);
      const Tensor y = b.labels.to(device);
      const Tensor logits = net->forward(x);
      const Tensor loss = F::cross_entropy(logits, y);
      opt.zero_grad();
      loss.backward();
      opt.step();
      loss_sum += loss.item();
      const auto pred = argmax(logits.detach(), 1).to_vector<int64_t>();
      const auto truth = b.labels.to_vector<int64_t>();
      for (size_t i = 0; i < pred.size(); ++i) correct += pred[i] == truth[i];
      seen += static_cast<int64_t>(pred.size());
    }
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (log)
      *log << "classifier epoch " << epoch + 1 << "/" << st.epochs << ": loss "
           << loss_sum / static_cast<double>(loader.batches_per_epoch()) << ", train accuracy "
           << static_cast<double>(correct) / static_cast<double>(seen) << ", " << secs << " s" << std::endl;
  }
  net->eval();
  return net;
}

double classifier_test_accuracy(FashionClassifier& net) {
  const auto test = open_fmnist(false);
  const int64_t n = test->size(), numel = test->spec().example_numel();
  Tensor images = empty({n, 1, FashionClassifier::kImageSize, FashionClassifier::kImageSize});
  std::vector<int64_t> labels(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) labels[i] = test->get(i, images.data<float>() + i * numel);
  const auto out = net.evaluate(images);
  int64_t correct = 0;
  for (int64_t i = 0; i < n; ++i) correct += out.predictions[i] == labels[i];
  return static_cast<double>(correct) / static_cast<double>(n);
}

std::string default_classifier_path() {
  return (std::filesystem::path(data::builtin::data_root()) / "classifier-fmnist.safetensors").string();
}

LoadedClassifier load_or_train_classifier(const std::string& path, const ClassifierSettings& settings, Device device,
                                          std::ostream* log) {
  LoadedClassifier result;
  const std::string hash = settings.hash();
  if (std::filesystem::exists(path)) {
    try {
      const gan::NamedTensors file = load_safetensors(path);
      const auto it = file.metadata.find("settings_hash");
      if (it != file.metadata.end() && it->second == hash) {
        auto net = std::make_shared<FashionClassifier>(settings.seed);
        net->load_state_dict(file.tensors);
        module_to(*net, device);
        net->eval();
        result.net = net;
        const auto acc = file.metadata.find("test_accuracy");
        result.test_accuracy =
            acc == file.metadata.end() ? 0.0 : parse_real(acc->second, "metadata test_accuracy", 0.0, 1.0);
      } else if (log) {
        *log << "classifier at " << path << " was trained with other settings; training a new one" << std::endl;
      }
    } catch (const std::exception& e) {
      if (log) *log << "cannot use the classifier at " << path << " (" << e.what() << "); training a new one"
                    << std::endl;
    }
  }
  if (!result.net) {
    if (log) *log << "training the Fashion-MNIST classifier (" << settings.describe() << ") -> " << path << std::endl;
    const auto t0 = std::chrono::steady_clock::now();
    result.net = train_classifier(settings, device, log);
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    result.test_accuracy = classifier_test_accuracy(*result.net);
    result.trained_now = true;
    if (log) *log << "classifier test accuracy " << result.test_accuracy << " (trained in " << secs << " s)"
                  << std::endl;
    std::filesystem::path p(path);
    if (p.has_parent_path()) std::filesystem::create_directories(p.parent_path());
    std::vector<std::pair<std::string, Tensor>> tensors;
    for (auto& [name, t] : result.net->state_dict()) tensors.emplace_back(name, t.to(Device::cpu()));
    save_safetensors(path, tensors,
                     {{"settings_hash", hash},
                      {"settings", settings.describe()},
                      {"test_accuracy", std::to_string(result.test_accuracy)},
                      {"train_seconds", std::to_string(secs)}});
  }
  return result;
}

}  // namespace gan::models
