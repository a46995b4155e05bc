// layer_norm (batch norm's fused kernels on a transposed view, plus the affine as ops; double backward through batch
// norm's ops-form backward) and dropout (a constant Philox mask times x).
#include <cmath>
#include <stdexcept>
#include <string>
#include <utility>

#include "engine/nn/functional.h"
#include "engine/ops/op_helpers.h"

namespace gan::nn::functional {

// ---- layer_norm ----
Tensor layer_norm(const Tensor& x, const Shape& normalized_shape, const Tensor& weight, const Tensor& bias,
                  double eps) {
  const char* name = "layer_norm";
  detail::check_floating(name, x);
  const int64_t k = static_cast<int64_t>(normalized_shape.size());
  bool match = k >= 1 && k <= x.dim();
  for (int64_t i = 0; match && i < k; ++i) match = x.shape()[x.dim() - k + i] == normalized_shape[i];
  if (!match)
    throw std::invalid_argument("layer_norm: normalized_shape " + shape_str(normalized_shape) +
                                " does not match the trailing dims of input of shape " + shape_str(x.shape()));
  for (const auto& [t, what] : {std::pair{&weight, "weight"}, std::pair{&bias, "bias"}})
    if (t->defined() && t->shape() != normalized_shape)
      throw std::invalid_argument(std::string("layer_norm: ") + what + " of shape " + shape_str(t->shape()) +
                                  " does not match normalized_shape " + shape_str(normalized_shape));
  if (!(eps >= 0.0)) throw std::invalid_argument("layer_norm: eps must be >= 0, got " + std::to_string(eps));
  // y = (x - mean) / sqrt(var + eps), biased variance, over the trailing dims; then the affine.
  int64_t D = 1;
  for (const int64_t d : normalized_shape) D *= d;
  const int64_t R = D > 0 ? x.numel() / D : 0;
  Tensor y;
  if (D > 1 && R > 0) {
    // Row r's statistics over its D values are batch norm's per-channel statistics of the [1, R, D] view (channel r,
    // one run of D values): batch norm's fused kernels (two passes forward, two backward, double accumulation,
    // deterministic) instead of nine ops, with its ops-form backward under create_graph (WGAN-GP's penalty).
    // The affine applies to batch norm's output itself, not a view of it, so that mul keeps that output's
    // Recomputation rather than its values (engine/saved_activation.h).
    Tensor rows = batch_norm(reshape(x, {1, R, D}), Tensor(), Tensor(), Tensor(), Tensor(), /*training=*/true,
                             /*momentum=*/0.0, eps);
    if (weight.defined()) rows = mul(rows, reshape(weight, {D}));
    if (bias.defined()) rows = add(rows, reshape(bias, {D}));
    return reshape(rows, x.shape());
  } else {  // a single value per row (batch norm needs two) or an empty input
    std::vector<int64_t> dims;
    for (int64_t i = x.dim() - k; i < x.dim(); ++i) dims.push_back(i);
    const Tensor centered = sub(x, mean(x, dims, true));
    const Tensor var_b = mean(mul(centered, centered), dims, true);
    y = mul(centered, pow(add(var_b, eps), -0.5));
  }
  if (weight.defined()) y = mul(y, weight);
  if (bias.defined()) y = add(y, bias);
  return y;
}

// ---- dropout ----
Tensor dropout(const Tensor& x, double p, bool training, Generator* gen) {
  const char* name = "dropout";
  detail::check_floating(name, x);
  if (!(p >= 0.0 && p <= 1.0))
    throw std::invalid_argument("dropout: probability has to be between 0 and 1, but got " + std::to_string(p));
  if (!training || p == 0.0) return x;
  if (p == 1.0) return mul(x, 0.0);
  Generator& g = gen ? *gen : default_generator();
  // mask = (u < 1 - p) / (1 - p) with u ~ U[0, 1): keeps an element with probability 1 - p. Both constants are
  // rounded to x's dtype first, so the mask is the same on every device and in every dtype's own arithmetic. The
  // uniforms are the same on the CPU and the GPU (engine/rng.h), hence so is the mask.
  Tensor mask;
  {
    NoGradGuard no_grad;
    const Tensor u = rand(x.shape(), x.dtype(), &g, 0.0, 1.0, x.device());
    const auto [keep, scale] = GAN_DISPATCH_FLOATING(x.dtype(), name, [&] {
      return std::pair<double, double>{static_cast<scalar_t>(1.0 - p), static_cast<scalar_t>(1.0 / (1.0 - p))};
    });
    mask = mul(lt(u, keep), scale);
  }
  return mul(x, mask);
}

}  // namespace gan::nn::functional
