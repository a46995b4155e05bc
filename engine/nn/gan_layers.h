// Layers of GAN generators and discriminators beyond the DCGAN set, with PyTorch's names, defaults and state:
// Upsample, AvgPool2d, InstanceNorm2d and ConditionalBatchNorm2d. (Spectral normalization is a parametrization of
// an existing layer: engine/nn/spectral_norm.h.)
#pragma once

#include <memory>
#include <string>

#include "engine/nn/layers.h"
#include "engine/nn/norms.h"
#include "engine/nn/resample.h"

namespace gan::nn {

// torch.nn.Upsample: interpolate() with fixed arguments.
class Upsample : public Module {
 public:
  explicit Upsample(functional::InterpolateArgs args) : args(args) {}
  // Upsample(scale_factor=s, mode=...) on both axes.
  Upsample(double scale_factor, functional::InterpolateMode mode = functional::InterpolateMode::Nearest,
           bool align_corners = false);
  Tensor forward(const Tensor& x) override { return functional::interpolate(x, args); }
  std::string describe() const override;
  functional::InterpolateArgs args;
};

// torch.nn.AvgPool2d.
class AvgPool2d : public Module {
 public:
  explicit AvgPool2d(functional::AvgPool2dArgs args) : args(args) {}
  // AvgPool2d(kernel_size=k, stride=s) (stride 0: k), square.
  explicit AvgPool2d(int64_t kernel_size, int64_t stride = 0, int64_t padding = 0);
  Tensor forward(const Tensor& x) override { return functional::avg_pool2d(x, args); }
  std::string describe() const override;
  functional::AvgPool2dArgs args;
};

// torch.nn.InstanceNorm2d: affine=false and track_running_stats=false by default, as PyTorch. With running stats,
// training updates them and eval normalizes with them ("running_mean", "running_var", and "num_batches_tracked",
// which PyTorch keeps at 0 for instance norm).
class InstanceNorm2d : public Module {
 public:
  explicit InstanceNorm2d(int64_t num_features, double eps = 1e-5, double momentum = 0.1, bool affine = false,
                          bool track_running_stats = false, DType dtype = DType::Float32);
  Tensor forward(const Tensor& x) override;
  std::string describe() const override;
  Tensor weight, bias, running_mean, running_var, num_batches_tracked;
  int64_t num_features;
  double eps, momentum;
};

// Class-conditional batch norm: a BatchNorm2d without affine ("bn.running_mean", ...) followed by a per-class gain
// and bias read from one embedding ("embed.weight" [num_classes, 2 C]: gains in the first C columns, initialized
// N(1, 0.02), biases in the last C, zeros), the layout of the common PyTorch ConditionalBatchNorm2d (cGANs with
// projection discriminator, SNGAN). forward(x, labels) with int64 labels [N]; forward(x) alone is an error.
class ConditionalBatchNorm2d : public Module {
 public:
  ConditionalBatchNorm2d(int64_t num_features, int64_t num_classes, double eps = 1e-5, double momentum = 0.1,
                         DType dtype = DType::Float32);
  Tensor forward(const Tensor& x, const Tensor& labels);
  Tensor forward(const Tensor& x) override;  // throws: the labels are needed
  std::string describe() const override;
  std::shared_ptr<BatchNorm2d> bn;
  std::shared_ptr<Embedding> embed;
  int64_t num_features, num_classes;
};

}  // namespace gan::nn
