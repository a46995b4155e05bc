#include "engine/nn/gan_layers.h"

#include <sstream>
#include <stdexcept>

#include "engine/autograd.h"
#include "engine/nn/init.h"

namespace gan::nn {

namespace F = functional;

namespace {
// "2" or "(3, 2)". (A stream, not string concatenation: GCC 12 warns falsely with -Wrestrict on "(" + to_string.)
std::string pair_str(int64_t a, int64_t b) {
  std::ostringstream os;
  if (a == b) os << a;
  else os << "(" << a << ", " << b << ")";
  return os.str();
}
}  // namespace

// ---- Upsample ----
Upsample::Upsample(double s, F::InterpolateMode mode, bool align_corners)
    : args{.scale_factor = {s, s}, .mode = mode, .align_corners = align_corners} {}

std::string Upsample::describe() const {
  std::ostringstream os;
  os << "Upsample(";
  if (args.size[0] != 0) os << "size=" << pair_str(args.size[0], args.size[1]);
  else if (args.scale_factor[0] == args.scale_factor[1]) os << "scale_factor=" << args.scale_factor[0];
  else os << "scale_factor=(" << args.scale_factor[0] << ", " << args.scale_factor[1] << ")";
  os << ", mode=" << (args.mode == F::InterpolateMode::Bilinear ? "bilinear" : "nearest");
  if (args.align_corners) os << ", align_corners=true";
  os << ")";
  return os.str();
}

// ---- AvgPool2d ----
AvgPool2d::AvgPool2d(int64_t k, int64_t stride, int64_t padding)
    : args{.kernel_size = {k, k}, .stride = {stride, stride}, .padding = {padding, padding}} {}

std::string AvgPool2d::describe() const {
  const int64_t sh = args.stride[0] ? args.stride[0] : args.kernel_size[0];
  const int64_t sw = args.stride[1] ? args.stride[1] : args.kernel_size[1];
  std::string s = "AvgPool2d(kernel_size=" + pair_str(args.kernel_size[0], args.kernel_size[1]) +
                  ", stride=" + pair_str(sh, sw) + ", padding=" + pair_str(args.padding[0], args.padding[1]);
  if (args.ceil_mode) s += ", ceil_mode=true";
  if (!args.count_include_pad) s += ", count_include_pad=false";
  if (args.divisor_override) s += ", divisor_override=" + std::to_string(args.divisor_override);
  return s + ")";
}

// ---- InstanceNorm2d ----
InstanceNorm2d::InstanceNorm2d(int64_t n, double eps, double momentum, bool affine, bool track, DType dtype)
    : num_features(n), eps(eps), momentum(momentum) {
  if (n <= 0) throw std::invalid_argument("InstanceNorm2d: num_features must be positive, got " + std::to_string(n));
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

Tensor InstanceNorm2d::forward(const Tensor& x) {
  if (x.dim() != 4 || x.size(1) != num_features)
    throw std::invalid_argument("InstanceNorm2d(" + std::to_string(num_features) + "): expected input [N, " +
                                std::to_string(num_features) + ", H, W], got " + shape_str(x.shape()));
  // PyTorch's InstanceNorm never advances num_batches_tracked (it is in the state dict only): neither do we.
  const bool use_input_stats = is_training() || !running_mean.defined();
  return F::instance_norm(x, running_mean, running_var, weight, bias, use_input_stats, momentum, eps);
}

std::string InstanceNorm2d::describe() const {
  std::ostringstream os;
  os << "InstanceNorm2d(" << num_features << ", eps=" << eps << ", momentum=" << momentum
     << ", affine=" << (weight.defined() ? "true" : "false")
     << ", track_running_stats=" << (running_mean.defined() ? "true" : "false") << ")";
  return os.str();
}

// ---- ConditionalBatchNorm2d ----
ConditionalBatchNorm2d::ConditionalBatchNorm2d(int64_t n, int64_t classes, double eps, double momentum, DType dtype)
    : num_features(n), num_classes(classes) {
  if (n <= 0 || classes <= 0)
    throw std::invalid_argument("ConditionalBatchNorm2d: num_features and num_classes must be positive, got " +
                                std::to_string(n) + " and " + std::to_string(classes));
  bn = register_module("bn", std::make_shared<BatchNorm2d>(n, eps, momentum, /*affine=*/false, true,
                                                           F::ActivationArgs{}, dtype));
  embed = register_module("embed", std::make_shared<Embedding>(classes, 2 * n, dtype));
  NoGradGuard no_grad;
  init::normal_(embed->weight.narrow(1, 0, n), 1.0, 0.02);
  fill_(embed->weight.narrow(1, n, n), 0.0);
}

Tensor ConditionalBatchNorm2d::forward(const Tensor& x, const Tensor& labels) {
  if (x.dim() != 4 || x.size(1) != num_features)
    throw std::invalid_argument("ConditionalBatchNorm2d(" + std::to_string(num_features) + "): expected input [N, " +
                                std::to_string(num_features) + ", H, W], got " + shape_str(x.shape()));
  if (!labels.defined() || labels.dim() != 1 || labels.size(0) != x.size(0))
    throw std::invalid_argument("ConditionalBatchNorm2d: labels must be int64 [" + std::to_string(x.size(0)) +
                                "] (one class per sample), got " +
                                (labels.defined() ? shape_str(labels.shape()) : std::string("none")));
  const Tensor xhat = bn->forward(x);
  const Tensor e = embed->forward(labels);  // [N, 2C]
  const int64_t n = num_features;
  const Tensor gain = reshape(narrow(e, 1, 0, n), {x.size(0), n, 1, 1});
  const Tensor shift = reshape(narrow(e, 1, n, n), {x.size(0), n, 1, 1});
  return add(mul(xhat, gain), shift);
}

Tensor ConditionalBatchNorm2d::forward(const Tensor&) {
  throw std::invalid_argument("ConditionalBatchNorm2d: forward needs the class labels: call forward(x, labels)");
}

std::string ConditionalBatchNorm2d::describe() const {
  return "ConditionalBatchNorm2d(" + std::to_string(num_features) + ", num_classes=" + std::to_string(num_classes) +
         ")";
}

}  // namespace gan::nn
