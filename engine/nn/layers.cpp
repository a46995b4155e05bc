#include "engine/nn/layers.h"

#include <algorithm>
#include <sstream>
#include <stdexcept>

#include "engine/autograd.h"
#include "engine/nn/conv_observer.h"
#include "engine/nn/init.h"
#include "engine/ops/dispatch.h"
#include "kernels/batch_norm.h"

namespace gan::nn {

namespace F = functional;

namespace {
std::string fmt(double v) {
  std::ostringstream os;
  os << v;
  return os.str();
}
}  // namespace

// ---- Linear ----
Linear::Linear(int64_t in, int64_t out, bool with_bias, DType dtype) : in_features(in), out_features(out) {
  if (in <= 0 || out <= 0)
    throw std::invalid_argument("Linear: features must be positive, got in=" + std::to_string(in) +
                                " out=" + std::to_string(out));
  weight = register_parameter("weight", empty({out, in}, dtype));
  init::default_weight_(weight);
  if (with_bias) {
    bias = register_parameter("bias", empty({out}, dtype));
    init::default_bias_(bias, in);
  }
}
Tensor Linear::forward(const Tensor& x) { return F::linear(x, parametrized("weight", weight), bias); }
std::string Linear::describe() const {
  return "Linear(in_features=" + std::to_string(in_features) + ", out_features=" + std::to_string(out_features) +
         ", bias=" + (bias.defined() ? "true" : "false") + ")";
}

// ---- Conv2d / ConvTranspose2d ----
namespace {

// PyTorch's argument checks, naming the module and every argument.
void check_conv_args(const char* module, int64_t in, int64_t out, F::Size2 k, const F::Conv2dArgs& a,
                     bool transposed) {
  const F::Size2 op = a.output_padding;
  const bool ok = in > 0 && out > 0 && k.h > 0 && k.w > 0 && a.stride.h > 0 && a.stride.w > 0 && a.padding.h >= 0 &&
                  a.padding.w >= 0 && a.dilation.h > 0 && a.dilation.w > 0 && a.groups > 0 &&
                  in % a.groups == 0 && out % a.groups == 0 && op.h >= 0 && op.w >= 0 &&
                  (transposed ? op.h < std::max(a.stride.h, a.dilation.h) && op.w < std::max(a.stride.w, a.dilation.w)
                              : op == F::Size2(0));
  if (!ok)
    throw std::invalid_argument(
        std::string(module) + ": invalid arguments in=" + std::to_string(in) + " out=" + std::to_string(out) +
        " kernel_size=" + F::to_string(k) + " stride=" + F::to_string(a.stride) + " padding=" +
        F::to_string(a.padding) + " dilation=" + F::to_string(a.dilation) + " groups=" + std::to_string(a.groups) +
        (transposed ? " output_padding=" + F::to_string(op) + " (output_padding must be smaller than stride or "
                                                              "dilation)"
                    : std::string()) +
        " (sizes positive, padding >= 0, in and out channels divisible by groups)");
}

std::string conv_args_str(F::Size2 k, const F::Conv2dArgs& a, bool transposed, bool has_bias) {
  std::string s = ", kernel_size=" + F::to_string(k) + ", stride=" + F::to_string(a.stride) +
                  ", padding=" + F::to_string(a.padding);
  if (transposed && !(a.output_padding == F::Size2(0))) s += ", output_padding=" + F::to_string(a.output_padding);
  if (!(a.dilation == F::Size2(1))) s += ", dilation=" + F::to_string(a.dilation);
  if (a.groups != 1) s += ", groups=" + std::to_string(a.groups);
  return s + (has_bias ? "" : ", bias=false") + ")";
}

}  // namespace

Conv2d::Conv2d(int64_t in, int64_t out, int64_t k, int64_t stride, int64_t padding, bool with_bias, DType dtype)
    : Conv2d(in, out, F::Size2(k), F::Conv2dArgs{.stride = stride, .padding = padding}, with_bias, dtype) {}

Conv2d::Conv2d(int64_t in, int64_t out, F::Size2 k, F::Conv2dArgs a, bool with_bias, DType dtype)
    : in_channels(in), out_channels(out), kernel_size(k), args(a) {
  check_conv_args("Conv2d", in, out, k, a, false);
  weight = register_parameter("weight", empty({out, in / a.groups, k.h, k.w}, dtype));
  init::default_weight_(weight);
  if (with_bias) {
    bias = register_parameter("bias", empty({out}, dtype));
    init::default_bias_(bias, init::fan_in(weight));
  }
}
namespace {
// Tells the conv observer (engine/nn/conv_observer.h), if any, what a conv module just ran.
void observe(const Module& layer, bool transposed, const Tensor& x, const Tensor& w, const Tensor& y,
             const F::Conv2dArgs& args) {
  if (!conv_observed()) return;
  notify_conv({&layer, transposed, x.shape(), w.shape(), y.shape(), args, static_cast<int64_t>(dtype_size(x.dtype()))});
}
}  // namespace

Tensor Conv2d::forward(const Tensor& x) {
  const Tensor w = parametrized("weight", weight);
  Tensor y = F::conv2d(x, w, bias, args);
  observe(*this, false, x, w, y, args);
  return y;
}
std::string Conv2d::describe() const {
  return "Conv2d(" + std::to_string(in_channels) + ", " + std::to_string(out_channels) +
         conv_args_str(kernel_size, args, false, bias.defined());
}

ConvTranspose2d::ConvTranspose2d(int64_t in, int64_t out, int64_t k, int64_t stride, int64_t padding,
                                 int64_t output_padding, bool with_bias, DType dtype)
    : ConvTranspose2d(in, out, F::Size2(k),
                      F::Conv2dArgs{.stride = stride, .padding = padding, .output_padding = output_padding}, with_bias,
                      dtype) {}

ConvTranspose2d::ConvTranspose2d(int64_t in, int64_t out, F::Size2 k, F::Conv2dArgs a, bool with_bias, DType dtype)
    : in_channels(in), out_channels(out), kernel_size(k), args(a) {
  check_conv_args("ConvTranspose2d", in, out, k, a, true);
  weight = register_parameter("weight", empty({in, out / a.groups, k.h, k.w}, dtype));
  init::default_weight_(weight);
  if (with_bias) {
    bias = register_parameter("bias", empty({out}, dtype));
    init::default_bias_(bias, init::fan_in(weight));
  }
}
Tensor ConvTranspose2d::forward(const Tensor& x) {
  const Tensor w = parametrized("weight", weight);
  Tensor y = F::conv_transpose2d(x, w, bias, args);
  observe(*this, true, x, w, y, args);
  return y;
}
std::string ConvTranspose2d::describe() const {
  return "ConvTranspose2d(" + std::to_string(in_channels) + ", " + std::to_string(out_channels) +
         conv_args_str(kernel_size, args, true, bias.defined());
}

// ---- BatchNorm ----
BatchNorm::BatchNorm(int64_t n, int dims, double eps, double momentum, bool affine, bool track,
                     F::ActivationArgs act, DType dtype)
    : num_features(n), expected_dims(dims), eps(eps), momentum(momentum), activation(act) {
  if (n <= 0) throw std::invalid_argument("BatchNorm: num_features must be positive, got " + std::to_string(n));
  if (affine) {
    weight = register_parameter("weight", ones({n}, dtype));
    bias = register_parameter("bias", zeros({n}, dtype));
  }
  if (track) {
    running_mean = register_buffer("running_mean", zeros({n}, dtype));
    running_var = register_buffer("running_var", ones({n}, dtype));
    num_batches_tracked = register_buffer("num_batches_tracked", zeros({}, DType::Int64));
  }
}

Tensor BatchNorm::forward(const Tensor& x) {
  const char* name = expected_dims == 2 ? "BatchNorm1d" : "BatchNorm2d";
  if (x.dim() != expected_dims || x.shape()[1] != num_features)
    throw std::invalid_argument(std::string(name) + "(" + std::to_string(num_features) + "): expected input [N, " +
                                std::to_string(num_features) + (expected_dims == 4 ? ", H, W]" : "]") +
                                ", got " + shape_str(x.shape()));
  const bool use_batch_stats = is_training() || !running_mean.defined();
  if (is_training() && num_batches_tracked.defined()) {
    // Counted where the count lives, one kernel: on a device, reading it back would make every training forward
    // wait for the GPU (kernels/cuda/sync_count.h), and a CUDA graph replay advances it as the eager step does.
    GAN_KERNEL(num_batches_tracked.device(), name, batch_norm_count_batch, num_batches_tracked.data<int64_t>());
  }
  return F::batch_norm(x, running_mean, running_var, weight, bias, use_batch_stats,
                       momentum, eps, activation);
}

std::string BatchNorm::describe() const {
  std::string s = std::string(expected_dims == 2 ? "BatchNorm1d(" : "BatchNorm2d(") + std::to_string(num_features) +
                  ", eps=" + fmt(eps) + ", momentum=" + fmt(momentum);
  if (activation.kind == F::Activation::ReLU) s += ", fused=ReLU";
  if (activation.kind == F::Activation::LeakyReLU) s += ", fused=LeakyReLU(" + fmt(activation.negative_slope) + ")";
  return s + ")";
}

// ---- LayerNorm ----
LayerNorm::LayerNorm(Shape shape, double eps, bool affine, DType dtype) : normalized_shape(std::move(shape)), eps(eps) {
  if (affine) {
    weight = register_parameter("weight", ones(normalized_shape, dtype));
    bias = register_parameter("bias", zeros(normalized_shape, dtype));
  }
}
Tensor LayerNorm::forward(const Tensor& x) { return F::layer_norm(x, normalized_shape, weight, bias, eps); }
std::string LayerNorm::describe() const { return "LayerNorm(" + shape_str(normalized_shape) + ", eps=" + fmt(eps) + ")"; }

// ---- Embedding ----
Embedding::Embedding(int64_t num, int64_t dim, DType dtype) {
  weight = register_parameter("weight", empty({num, dim}, dtype));
  init::normal_(weight, 0.0, 1.0);
}
Tensor Embedding::forward(const Tensor& indices) { return F::embedding(indices, weight); }
std::string Embedding::describe() const {
  return "Embedding(" + std::to_string(weight.shape()[0]) + ", " + std::to_string(weight.shape()[1]) + ")";
}

std::string Dropout::describe() const { return "Dropout(p=" + fmt(p) + ")"; }
std::string LeakyReLU::describe() const { return "LeakyReLU(negative_slope=" + fmt(negative_slope) + ")"; }

// ---- Unflatten ----
Tensor Unflatten::forward(const Tensor& x) {
  Shape s = {x.shape()[0]};
  s.insert(s.end(), shape.begin(), shape.end());
  return reshape(x, s);
}
std::string Unflatten::describe() const { return "Unflatten(" + shape_str(shape) + ")"; }

// ---- Sequential ----
Sequential::Sequential(std::vector<std::shared_ptr<Module>> modules) {
  for (auto& m : modules) add(std::move(m));
}

Tensor Sequential::forward(const Tensor& x) {
  Tensor h = x;
  for (auto& m : layers_) h = m->forward(h);
  return h;
}

}  // namespace gan::nn
