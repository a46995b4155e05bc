// The layers of the GAN zoo, with PyTorch's constructor arguments, parameter names, defaults and initialization.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "engine/nn/functional.h"
#include "engine/nn/module.h"

namespace gan::nn {

class Linear : public Module {
 public:
  Linear(int64_t in_features, int64_t out_features, bool bias = true, DType dtype = DType::Float32);
  Tensor forward(const Tensor& x) override;
  std::string describe() const override;
  Tensor weight, bias;  // [out, in], [out]
  int64_t in_features, out_features;
};

// weight [out, in / groups, kh, kw], bias [out]. The first constructor is the common square-kernel form; the second
// takes every argument of PyTorch's Conv2d: Conv2d(3, 64, {3, 3}, {.stride = 2, .padding = 1, .groups = 1}).
class Conv2d : public Module {
 public:
  Conv2d(int64_t in_channels, int64_t out_channels, int64_t kernel_size, int64_t stride = 1, int64_t padding = 0,
         bool bias = true, DType dtype = DType::Float32);
  Conv2d(int64_t in_channels, int64_t out_channels, functional::Size2 kernel_size, functional::Conv2dArgs args,
         bool bias = true, DType dtype = DType::Float32);
  Tensor forward(const Tensor& x) override;
  std::string describe() const override;
  Tensor weight, bias;  // [out, in / groups, kh, kw], [out]
  int64_t in_channels, out_channels;
  functional::Size2 kernel_size;
  functional::Conv2dArgs args;
};

// weight [in, out / groups, kh, kw] (PyTorch's layout), bias [out]. The second constructor takes every argument of
// PyTorch's ConvTranspose2d (stride, padding, output_padding, dilation, groups) through Conv2dArgs.
class ConvTranspose2d : public Module {
 public:
  ConvTranspose2d(int64_t in_channels, int64_t out_channels, int64_t kernel_size, int64_t stride = 1,
                  int64_t padding = 0, int64_t output_padding = 0, bool bias = true, DType dtype = DType::Float32);
  ConvTranspose2d(int64_t in_channels, int64_t out_channels, functional::Size2 kernel_size,
                  functional::Conv2dArgs args, bool bias = true, DType dtype = DType::Float32);
  Tensor forward(const Tensor& x) override;
  std::string describe() const override;
  Tensor weight, bias;  // [in, out / groups, kh, kw], [out]
  int64_t in_channels, out_channels;
  functional::Size2 kernel_size;
  functional::Conv2dArgs args;
};

// BatchNorm1d ([N, C]) and BatchNorm2d ([N, C, H, W]) share this; the activation that follows may be fused in.
class BatchNorm : public Module {
 public:
  BatchNorm(int64_t num_features, int expected_dims, double eps = 1e-5, double momentum = 0.1, bool affine = true,
            bool track_running_stats = true, functional::ActivationArgs activation = {},
            DType dtype = DType::Float32);
  Tensor forward(const Tensor& x) override;
  std::string describe() const override;
  Tensor weight, bias, running_mean, running_var, num_batches_tracked;
  int64_t num_features;
  int expected_dims;
  double eps, momentum;
  functional::ActivationArgs activation;
};

class BatchNorm1d : public BatchNorm {
 public:
  explicit BatchNorm1d(int64_t num_features, double eps = 1e-5, double momentum = 0.1, bool affine = true,
                       bool track_running_stats = true, functional::ActivationArgs activation = {},
                       DType dtype = DType::Float32)
      : BatchNorm(num_features, 2, eps, momentum, affine, track_running_stats, activation, dtype) {}
};

class BatchNorm2d : public BatchNorm {
 public:
  explicit BatchNorm2d(int64_t num_features, double eps = 1e-5, double momentum = 0.1, bool affine = true,
                       bool track_running_stats = true, functional::ActivationArgs activation = {},
                       DType dtype = DType::Float32)
      : BatchNorm(num_features, 4, eps, momentum, affine, track_running_stats, activation, dtype) {}
};

class LayerNorm : public Module {
 public:
  explicit LayerNorm(Shape normalized_shape, double eps = 1e-5, bool elementwise_affine = true,
                     DType dtype = DType::Float32);
  Tensor forward(const Tensor& x) override;
  std::string describe() const override;
  Tensor weight, bias;
  Shape normalized_shape;
  double eps;
};

class Embedding : public Module {
 public:
  Embedding(int64_t num_embeddings, int64_t embedding_dim, DType dtype = DType::Float32);
  Tensor forward(const Tensor& indices) override;
  std::string describe() const override;
  Tensor weight;  // [num, dim], N(0, 1) as in PyTorch
};

class Dropout : public Module {
 public:
  explicit Dropout(double p = 0.5) : p(p) {}
  Tensor forward(const Tensor& x) override { return functional::dropout(x, p, is_training()); }
  std::string describe() const override;
  double p;
};

class ReLU : public Module {
 public:
  Tensor forward(const Tensor& x) override { return relu(x); }
  std::string describe() const override { return "ReLU()"; }
};

class LeakyReLU : public Module {
 public:
  explicit LeakyReLU(double negative_slope = 0.01) : negative_slope(negative_slope) {}
  Tensor forward(const Tensor& x) override { return leaky_relu(x, negative_slope); }
  std::string describe() const override;
  double negative_slope;
};

class Tanh : public Module {
 public:
  Tensor forward(const Tensor& x) override { return tanh(x); }
  std::string describe() const override { return "Tanh()"; }
};

class Sigmoid : public Module {
 public:
  Tensor forward(const Tensor& x) override { return sigmoid(x); }
  std::string describe() const override { return "Sigmoid()"; }
};

// Flattens every dim after the first (torch.nn.Flatten's default).
class Flatten : public Module {
 public:
  Tensor forward(const Tensor& x) override { return flatten(x, 1); }
  std::string describe() const override { return "Flatten()"; }
};

// Reshapes [N, ...] to [N, shape...] (e.g. a linear layer's output to an image).
class Unflatten : public Module {
 public:
  explicit Unflatten(Shape shape) : shape(std::move(shape)) {}
  Tensor forward(const Tensor& x) override;
  std::string describe() const override;
  Shape shape;
};

// Children are named "0", "1", ... as in torch.nn.Sequential.
class Sequential : public Module {
 public:
  Sequential() = default;
  explicit Sequential(std::vector<std::shared_ptr<Module>> modules);
  template <typename M>
  std::shared_ptr<M> add(std::shared_ptr<M> m) {
    layers_.push_back(m);
    return register_module(std::to_string(layers_.size() - 1), std::move(m));
  }
  Tensor forward(const Tensor& x) override;
  std::string describe() const override { return "Sequential"; }
  size_t size() const { return layers_.size(); }
  Module& operator[](size_t i) { return *layers_.at(i); }

 private:
  std::vector<std::shared_ptr<Module>> layers_;
};

}  // namespace gan::nn
