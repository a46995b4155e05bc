#include "engine/nn/norms.h"

#include <stdexcept>
#include <string>

#include "engine/autograd.h"
#include "engine/nn/functional.h"
#include "engine/ops/op_helpers.h"

namespace gan::nn::functional {

namespace {

// [C] -> [1, C, 1, ...] to broadcast against x [N, C, *spatial].
Tensor per_channel(const Tensor& t, int64_t dims) {
  Shape s(static_cast<size_t>(dims), 1);
  s[1] = t.numel();
  return reshape(t, s);
}

// [N, C] -> [N, C, 1, ...].
Tensor per_sample_channel(const Tensor& t, int64_t dims) {
  Shape s(static_cast<size_t>(dims), 1);
  s[0] = t.size(0);
  s[1] = t.size(1);
  return reshape(t, s);
}

void check_channel_vector(const char* op, const char* what, const Tensor& t, const Tensor& x) {
  if (!t.defined()) return;
  const int64_t C = x.size(1);
  if (t.dim() != 1 || t.size(0) != C)
    throw std::invalid_argument(std::string(op) + ": " + what + " of shape " + shape_str(t.shape()) +
                                " does not match input of shape " + shape_str(x.shape()) + "; expected [" +
                                std::to_string(C) + "]");
  detail::check_same_dtype(op, x, t);
  detail::check_same_device(op, x, t);
}

}  // namespace

Tensor instance_norm(const Tensor& x, const Tensor& running_mean, const Tensor& running_var, const Tensor& weight,
                     const Tensor& bias, bool use_input_stats, double momentum, double eps) {
  const char* op = "instance_norm";
  detail::check_floating(op, x);
  if (x.dim() < 3)
    throw std::invalid_argument(std::string(op) + ": expected an input [N, C, *spatial] with at least one spatial "
                                "dim, got " + detail::describe(x));
  check_channel_vector(op, "weight", weight, x);
  check_channel_vector(op, "bias", bias, x);
  check_channel_vector(op, "running_mean", running_mean, x);
  check_channel_vector(op, "running_var", running_var, x);
  if (running_mean.defined() != running_var.defined())
    throw std::invalid_argument(std::string(op) + ": pass both running_mean and running_var, or neither");
  if (!(eps >= 0.0)) throw std::invalid_argument(std::string(op) + ": eps must be >= 0, got " + std::to_string(eps));
  std::vector<int64_t> spatial;
  int64_t S = 1;
  for (int64_t d = 2; d < x.dim(); ++d) {
    spatial.push_back(d);
    S *= x.size(d);
  }
  Tensor y;
  if (use_input_stats) {
    if (S <= 1)
      throw std::invalid_argument(std::string(op) + ": expected more than 1 spatial element when using the input's "
                                  "statistics, got input of shape " + shape_str(x.shape()));
    const Tensor centered = sub(x, mean(x, spatial, true));
    const Tensor var_b = mean(mul(centered, centered), spatial, true);
    y = mul(centered, pow(add(var_b, eps), -0.5));
    if (running_mean.defined()) {
      NoGradGuard no_grad;
      const Tensor xd = x.detach();
      const Tensor batch_mean = mean(mean(xd, spatial), {0});          // [C]
      const Tensor batch_var = mean(var(xd, spatial, true), {0});      // unbiased per slice, averaged over n
      copy_(running_mean, add(mul(running_mean, 1.0 - momentum), mul(batch_mean, momentum)));
      copy_(running_var, add(mul(running_var, 1.0 - momentum), mul(batch_var, momentum)));
    }
  } else {
    if (!running_mean.defined())
      throw std::invalid_argument(std::string(op) + ": use_input_stats=false needs running_mean and running_var");
    const int64_t n = x.dim();
    y = mul(sub(x, per_channel(running_mean.detach(), n)), pow(add(per_channel(running_var.detach(), n), eps), -0.5));
  }
  if (weight.defined()) y = mul(y, per_channel(weight, x.dim()));
  if (bias.defined()) y = add(y, per_channel(bias, x.dim()));
  return y;
}

Tensor conditional_batch_norm(const Tensor& x, const Tensor& gain, const Tensor& bias, const Tensor& running_mean,
                              const Tensor& running_var, bool training, double momentum, double eps) {
  const char* op = "conditional_batch_norm";
  detail::check_floating(op, x);
  if (x.dim() < 2)
    throw std::invalid_argument(std::string(op) + ": expected an input [N, C, ...], got " + detail::describe(x));
  for (const auto& [t, what] : {std::pair{&gain, "gain"}, std::pair{&bias, "bias"}}) {
    detail::check_defined(op, *t, what);
    if (t->dim() != 2 || t->size(0) != x.size(0) || t->size(1) != x.size(1))
      throw std::invalid_argument(std::string(op) + ": " + what + " of shape " + shape_str(t->shape()) +
                                  " does not match input of shape " + shape_str(x.shape()) + "; expected [" +
                                  std::to_string(x.size(0)) + ", " + std::to_string(x.size(1)) +
                                  "] (per sample, per channel)");
    detail::check_same_dtype(op, x, *t);
    detail::check_same_device(op, x, *t);
  }
  const Tensor xhat = batch_norm(x, running_mean, running_var, Tensor(), Tensor(), training, momentum, eps);
  return add(mul(xhat, per_sample_channel(gain, x.dim())), per_sample_channel(bias, x.dim()));
}

}  // namespace gan::nn::functional
