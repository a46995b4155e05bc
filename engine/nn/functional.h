// Neural-network functions (PyTorch's torch.nn.functional, same names, arguments and semantics), differentiable
// through the engine's autograd. Layout is NCHW. Ops marked [2nd] support double backward (they can sit inside a
// WGAN-GP critic); the fused losses and batch norm compute their gradient in one pass and do not.
#pragma once

#include <cstdint>
#include <vector>

#include "engine/ops.h"
#include "engine/rng.h"

namespace gan::nn::functional {

// ---- convolution family (one implicit-GEMM/im2col kernel family; transposed conv is the adjoint) ----
struct Conv2dArgs {
  int64_t stride = 1;
  int64_t padding = 0;
  int64_t output_padding = 0;  // transposed conv only: extra rows/cols on the bottom/right of the output
};

// [2nd] x [N, Cin, H, W], weight [Cout, Cin, kh, kw], bias [Cout] or undefined -> [N, Cout, Ho, Wo],
// Ho = (H + 2p - kh) / s + 1.
Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor(), Conv2dArgs args = {});
// [2nd] x [N, Cin, H, W], weight [Cin, Cout, kh, kw] (PyTorch's layout), bias [Cout] -> [N, Cout, Ho, Wo],
// Ho = (H - 1) s - 2p + kh + output_padding. Equal to the gradient of conv2d w.r.t. its input.
Tensor conv_transpose2d(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor(), Conv2dArgs args = {});
// [2nd] The gradient of conv2d w.r.t. its weight: x [N, Cin, H, W], grad_out [N, Cout, Ho, Wo] -> [Cout, Cin, kh, kw].
Tensor conv2d_weight_grad(const Tensor& x, const Tensor& grad_out, int64_t kh, int64_t kw, Conv2dArgs args);

// ---- dense ----
// [2nd] x [..., in], weight [out, in], bias [out] or undefined -> [..., out].
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor());
// indices (int64, any shape), weight [num, dim] -> [..., dim]; gradient flows to weight only.
Tensor embedding(const Tensor& indices, const Tensor& weight);
// labels (int64 [N...]) -> [N..., num_classes] of 0/1 in dtype; not differentiable.
Tensor one_hot(const Tensor& labels, int64_t num_classes, DType dtype = DType::Float32);

// ---- normalization ----
enum class Activation { Identity, ReLU, LeakyReLU };
struct ActivationArgs {
  Activation kind = Activation::Identity;
  double negative_slope = 0.2;  // LeakyReLU only
};
// x [N, C] or [N, C, H, W]. training: normalize with batch statistics (biased variance) and update the running
// statistics in place (running = (1 - momentum) running + momentum batch, unbiased variance for running_var);
// eval: normalize with the running statistics. weight/bias [C] may be undefined (no affine); running stats may be
// undefined in training (track_running_stats=False). The activation is fused into the same pass.
Tensor batch_norm(const Tensor& x, const Tensor& running_mean, const Tensor& running_var, const Tensor& weight,
                  const Tensor& bias, bool training, double momentum = 0.1, double eps = 1e-5,
                  ActivationArgs activation = {});
// [2nd] Normalizes over the trailing dims given by normalized_shape; weight/bias of that shape or undefined.
Tensor layer_norm(const Tensor& x, const Shape& normalized_shape, const Tensor& weight = Tensor(),
                  const Tensor& bias = Tensor(), double eps = 1e-5);
// Zeroes elements with probability p and scales the rest by 1/(1-p) in training; identity otherwise. The mask
// comes from the engine's Philox generator (the default one when gen is null).
Tensor dropout(const Tensor& x, double p = 0.5, bool training = true, Generator* gen = nullptr);

// ---- classification ----
// [2nd] log(softmax(x)) along dim, computed stably (max subtracted).
Tensor log_softmax(const Tensor& x, int64_t dim);
// logits [N, C], targets int64 [N] -> mean over N of -log_softmax(logits)[n, target[n]].
Tensor cross_entropy(const Tensor& logits, const Tensor& targets);

// ---- fused losses: value and gradient in one pass; mean reduction ----
// mean(max(x, 0) - x * t + log(1 + exp(-|x|))); targets may be soft (label smoothing).
Tensor bce_with_logits(const Tensor& logits, const Tensor& targets);
// Critic: mean(fake) - mean(real). Generator: -mean(fake).
Tensor wasserstein_critic_loss(const Tensor& real_scores, const Tensor& fake_scores);
Tensor wasserstein_generator_loss(const Tensor& fake_scores);
// mean((x - target)^2), LSGAN.
Tensor mse_loss(const Tensor& x, const Tensor& target);
// PyTorch's gaussian_nll_loss: mean(0.5 (log(max(var, eps)) + (x - target)^2 / max(var, eps))) (+ 0.5 log(2 pi)
// when full). InfoGAN's continuous codes.
Tensor gaussian_nll_loss(const Tensor& x, const Tensor& target, const Tensor& var, bool full = false,
                         double eps = 1e-6);
// VAE: KL(N(mu, exp(logvar)) || N(0, 1)) summed over all dims but the first, averaged over the first (batch).
Tensor kl_normal(const Tensor& mu, const Tensor& logvar);

}  // namespace gan::nn::functional

// More of torch.nn.functional, one family per header: resampling (interpolate, avg_pool2d), instance and
// conditional batch norm, gradient penalties (R1/R2). Spectral normalization: engine/nn/spectral_norm.h.
#include "engine/nn/norms.h"
#include "engine/nn/penalties.h"
#include "engine/nn/resample.h"
