// Neural-network functions (PyTorch's torch.nn.functional, same names, arguments and semantics), differentiable
// through the engine's autograd. Layout is NCHW. Ops marked [2nd] support double backward (they can sit inside a
// WGAN-GP critic or a gradient penalty).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine/ops.h"
#include "engine/rng.h"

namespace gan::nn::functional {

// ---- convolution family (one implicit-GEMM/im2col kernel family; transposed conv is the adjoint) ----
// A per-axis pair (height, width); one integer means both axes, as PyTorch's int-or-tuple arguments.
struct Size2 {
  int64_t h = 0, w = 0;
  constexpr Size2(int64_t both = 0) : h(both), w(both) {}  // implicit, so that `.stride = 2` reads as in PyTorch
  constexpr Size2(int64_t height, int64_t width) : h(height), w(width) {}
  bool operator==(const Size2&) const = default;
};
std::string to_string(const Size2& s);  // "2" or "(2, 1)"

// PyTorch's convolution arguments, in its order. Designated initializers name them: {.stride = 2, .padding = 1}.
struct Conv2dArgs {
  Size2 stride = 1;
  Size2 padding = 0;         // zeros on both sides of each axis
  Size2 output_padding = 0;  // transposed conv only: extra rows/cols on the bottom/right of the output
  Size2 dilation = 1;        // spacing of the kernel taps
  int64_t groups = 1;        // channels split into independent groups (groups = channels: depthwise)
};

// [2nd] x [N, Cin, H, W], weight [Cout, Cin / groups, kh, kw], bias [Cout] or undefined -> [N, Cout, Ho, Wo],
// Ho = (H + 2 padding - dilation (kh - 1) - 1) / stride + 1 (per axis).
Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor(), Conv2dArgs args = {});
// [2nd] x [N, Cin, H, W], weight [Cin, Cout / groups, kh, kw] (PyTorch's layout), bias [Cout] -> [N, Cout, Ho, Wo],
// Ho = (H - 1) stride - 2 padding + dilation (kh - 1) + output_padding + 1, with output_padding smaller than the
// stride or the dilation (per axis). Equal to the gradient of conv2d w.r.t. its input.
Tensor conv_transpose2d(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor(), Conv2dArgs args = {});
// [2nd] The gradient of conv2d w.r.t. its weight: x [N, Cin, H, W], grad_out [N, Cout, Ho, Wo] ->
// [Cout, Cin / groups, kh, kw]. grad_out may also be a transposed conv's input (Ho smaller than conv2d's, as its
// output_padding implies), so a transposed conv's weight gradient is conv2d_weight_grad(grad, input) with its args.
Tensor conv2d_weight_grad(const Tensor& x, const Tensor& grad_out, int64_t kh, int64_t kw, Conv2dArgs args);

// ---- dense ----
// [2nd] x [..., in], weight [out, in], bias [out] or undefined -> [..., out].
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor());
// indices (int64, any shape), weight [num, dim] -> [..., dim]; gradient flows to weight only.
Tensor embedding(const Tensor& indices, const Tensor& weight);
// labels (int64 [N...]) -> [N..., num_classes] of 0/1 in dtype, on the labels' device; not differentiable.
// num_classes < 0 infers it as one more than the largest label (PyTorch's -1). Labels on the CPU are checked
// (0 <= label < num_classes, else std::out_of_range naming the label). Labels on a CUDA device are not read back
// (that would make the host wait for the device in every training step, and no CUDA graph could hold the step):
// one launch, and a label outside [0, num_classes) gives an all-zero row. Check them where they are host data
// (data::Loader checks every batch against its dataset's classes). Inferring num_classes on a device reads the
// labels back.
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
// undefined in training (track_running_stats=False). The activation is fused into the same pass. [2nd] The first
// backward is one fused kernel; with create_graph it is built from ops (batch statistics differentiated too).
Tensor batch_norm(const Tensor& x, const Tensor& running_mean, const Tensor& running_var, const Tensor& weight,
                  const Tensor& bias, bool training, double momentum = 0.1, double eps = 1e-5,
                  ActivationArgs activation = {});
// [2nd] Normalizes over the trailing dims given by normalized_shape; weight/bias of that shape or undefined.
Tensor layer_norm(const Tensor& x, const Shape& normalized_shape, const Tensor& weight = Tensor(),
                  const Tensor& bias = Tensor(), double eps = 1e-5);
// Zeroes elements with probability p and scales the rest by 1/(1-p) in training; identity otherwise. The mask
// comes from the engine's Philox generator (the default one when gen is null).
Tensor dropout(const Tensor& x, double p = 0.5, bool training = true, Generator* gen = nullptr);

// ---- losses: how they reduce ----
// PyTorch's reduction=: the mean of the per-element terms (the default), their sum, or none (the terms themselves,
// in the input's shape).
enum class Reduction { Mean, Sum, None };
const char* reduction_name(Reduction reduction);  // "mean", "sum", "none"

// ---- classification ----
// [2nd] log(softmax(x)) along dim, computed stably (max subtracted).
Tensor log_softmax(const Tensor& x, int64_t dim);
// [2nd] logits [N, C] (or [N, C, d1, ...]), targets int64 [N] (or [N, d1, ...]) -> mean over the targets of
// -log_softmax(logits)[n, target[n]] (sum, or the terms in the targets' shape, by reduction).
Tensor cross_entropy(const Tensor& logits, const Tensor& targets, Reduction reduction = Reduction::Mean);

// ---- fused losses: the value and the gradient in one kernel pass; double backward through ops of the inputs ----
// [2nd] max(x, 0) - x * t + log(1 + exp(-|x|)), reduced; targets may be soft (label smoothing).
Tensor bce_with_logits(const Tensor& logits, const Tensor& targets, Reduction reduction = Reduction::Mean);
// [2nd] Critic: mean(fake) - mean(real) (each batch its own mean; 'sum': sum(fake) - sum(real); 'none': fake - real
// element-wise, same shapes). Generator: -mean(fake).
Tensor wasserstein_critic_loss(const Tensor& real_scores, const Tensor& fake_scores,
                               Reduction reduction = Reduction::Mean);
Tensor wasserstein_generator_loss(const Tensor& fake_scores, Reduction reduction = Reduction::Mean);
// [2nd] Hinge loss (Lim & Ye 2017; SNGAN, BigGAN). Critic: mean(relu(1 - real)) + mean(relu(1 + fake)) (reductions
// as the Wasserstein critic's). Generator: -mean(fake).
Tensor hinge_critic_loss(const Tensor& real_scores, const Tensor& fake_scores, Reduction reduction = Reduction::Mean);
Tensor hinge_generator_loss(const Tensor& fake_scores, Reduction reduction = Reduction::Mean);
// [2nd] (x - target)^2, reduced; LSGAN.
Tensor mse_loss(const Tensor& x, const Tensor& target, Reduction reduction = Reduction::Mean);
// [2nd] PyTorch's gaussian_nll_loss: 0.5 (log(max(var, eps)) + (x - target)^2 / max(var, eps)) (+ 0.5 log(2 pi)
// when full), reduced. InfoGAN's continuous codes.
Tensor gaussian_nll_loss(const Tensor& x, const Tensor& target, const Tensor& var, bool full = false,
                         double eps = 1e-6, Reduction reduction = Reduction::Mean);
// [2nd] VAE: KL(N(mu, exp(logvar)) || N(0, 1)). 'mean' sums over all dims but the first and averages over the
// first (the batch; PyTorch's 'batchmean'), 'sum' sums everything, 'none' gives the per-element terms.
Tensor kl_normal(const Tensor& mu, const Tensor& logvar, Reduction reduction = Reduction::Mean);

}  // namespace gan::nn::functional

// More of torch.nn.functional, one family per header: resampling (interpolate, avg_pool2d), instance and
// conditional batch norm, gradient penalties (R1/R2). Spectral normalization: engine/nn/spectral_norm.h.
#include "engine/nn/norms.h"
#include "engine/nn/penalties.h"
#include "engine/nn/resample.h"
