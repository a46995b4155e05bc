// Batch normalization over [N, C, S] (NCHW with S = H * W; S = 1 for [N, C]), fused with the activation that
// follows it. Per channel c, over the M = N * S values x[n, c, s]:
//
//   mean_c    = (1/M) sum x                       var_c = (1/M) sum (x - mean_c)^2   (biased, used to normalize)
//   inv_std_c = 1 / sqrt(var_c + eps)
//   xhat      = (x - mean_c) inv_std_c
//   z         = w_c xhat + b_c                    (w = 1, b = 0 without affine)
//   y         = act(z)                            act: identity, relu (max(z, 0)), leaky_relu (z > 0 ? z : slope z)
//
// Running statistics (training only, when given), as PyTorch:
//   running_mean = (1 - momentum) running_mean + momentum mean_c
//   running_var  = (1 - momentum) running_var  + momentum var_c M / (M - 1)      (unbiased)
// Eval mode normalizes with the running statistics instead: mean_c = running_mean, inv_std_c = 1/sqrt(rv + eps).
//
// Backward, one channel at a time, given dy. The activation's derivative is recovered from the output:
// act'(z) = 1 where y > 0, else 0 (relu) or slope (leaky_relu; needs slope >= 0 so that y > 0 <=> z > 0).
//   gz       = dy act'(z)
//   db_c     = sum gz                              dw_c = sum gz xhat
//   training (through the batch statistics):  dx = w_c inv_std_c (gz - db_c / M - xhat dw_c / M)
//   eval     (statistics are constants):      dx = w_c inv_std_c gz
//
// Recomputing y (engine/nn/batch_norm.cpp frees a training forward's output and computes it again in backward):
// the training forward can hand out the per-channel statistics it normalized with, in double ([C][2]: mean,
// inv_std), and batch_norm_apply computes y from them with the forward's own arithmetic: the same bits.
//
// Reductions accumulate in double in a fixed order that depends only on the shape (never on the thread
// count), so results are bit-identical from run to run. Variance uses two passes (mean, then squared
// deviations), which stays accurate when |mean| >> std. All arrays are contiguous; x, y, dy, dx are [N, C, S];
// per-channel arrays are [C]. Optional arrays (weight, bias, running stats, grad outputs) may be null.
#pragma once

#include <cstdint>

#include "kernels/bfloat16.h"

namespace gan::kernels {

struct BatchNormShape {
  int64_t N = 0, C = 0, S = 1;  // batch, channels, spatial size (H * W)
};

enum class BnActivation { Identity, ReLU, LeakyReLU };

struct BnActivationParams {
  BnActivation kind = BnActivation::Identity;
  double slope = 0.0;  // LeakyReLU only, >= 0
};

namespace cpu {

// Training forward: batch statistics, normalized + affine + activation output, saved mean and inv_std ([C],
// for the backward), and the running-statistics update when running_mean/running_var are not null.
// Needs M = N * S > 1 when the running statistics are updated (the unbiased variance divides by M - 1).
// `stats` (may be null) receives the statistics y was computed with, [C][2] doubles (mean, inv_std).
template <typename T>
void batch_norm_forward_train(const T* x, BatchNormShape shape, const T* weight, const T* bias, double eps,
                              BnActivationParams act, T* y, T* save_mean, T* save_inv_std, T* running_mean,
                              T* running_var, double momentum, double* stats = nullptr);

// y = act(w xhat + b) with the statistics a training forward handed out: bit-identical to that forward's y.
template <typename T>
void batch_norm_apply(const T* x, BatchNormShape shape, const double* stats, const T* weight, const T* bias,
                      BnActivationParams act, T* y);

// Eval forward: normalizes with the running statistics. save_mean/save_inv_std (may be null) receive the
// statistics used, in the form the backward takes.
template <typename T>
void batch_norm_forward_eval(const T* x, BatchNormShape shape, const T* running_mean, const T* running_var,
                             const T* weight, const T* bias, double eps, BnActivationParams act, T* y,
                             T* save_mean, T* save_inv_std);

// Backward for either mode (`training` picks the formula for dx). y is the forward output (for the activation
// mask); mean/inv_std are what the forward saved. grad_x, grad_weight, grad_bias may each be null (not wanted).
template <typename T>
void batch_norm_backward(const T* grad_y, const T* x, const T* y, BatchNormShape shape, const T* mean,
                         const T* inv_std, const T* weight, bool training, BnActivationParams act, T* grad_x,
                         T* grad_weight, T* grad_bias);
// The same for float with x and y stored as bfloat16 (the activations the bf16 math mode saves,
// engine/saved_activation.h): read and converted exactly, so the result equals the float call's on the same values.
void batch_norm_backward(const float* grad_y, const bfloat16* x, const bfloat16* y, BatchNormShape shape,
                         const float* mean, const float* inv_std, const float* weight, bool training,
                         BnActivationParams act, float* grad_x, float* grad_weight, float* grad_bias);

// num_batches_tracked += 1, in place (one int64; BatchNorm counts its training forwards). One launch on CUDA: the
// count stays on the device, so a training step never reads it back (kernels/cuda/sync_count.h) and a CUDA graph
// replay advances it.
void batch_norm_count_batch(int64_t* num_batches_tracked);

}  // namespace cpu

// CUDA twin: same contract, device pointers, launched on kernels::cuda::stream() (kernels/cuda/runtime.h).
// Defined in kernels/cuda/batch_norm.cu, built only with the CUDA backend.
namespace cuda {

// Training forward: batch statistics, normalized + affine + activation output, saved mean and inv_std ([C],
// for the backward), and the running-statistics update when running_mean/running_var are not null.
// Needs M = N * S > 1 when the running statistics are updated (the unbiased variance divides by M - 1).
// `stats` (may be null) receives the statistics y was computed with, [C][2] doubles (mean, inv_std).
template <typename T>
void batch_norm_forward_train(const T* x, BatchNormShape shape, const T* weight, const T* bias, double eps,
                              BnActivationParams act, T* y, T* save_mean, T* save_inv_std, T* running_mean,
                              T* running_var, double momentum, double* stats = nullptr);

// y = act(w xhat + b) with the statistics a training forward handed out: bit-identical to that forward's y.
template <typename T>
void batch_norm_apply(const T* x, BatchNormShape shape, const double* stats, const T* weight, const T* bias,
                      BnActivationParams act, T* y);

// Eval forward: normalizes with the running statistics. save_mean/save_inv_std (may be null) receive the
// statistics used, in the form the backward takes.
template <typename T>
void batch_norm_forward_eval(const T* x, BatchNormShape shape, const T* running_mean, const T* running_var,
                             const T* weight, const T* bias, double eps, BnActivationParams act, T* y,
                             T* save_mean, T* save_inv_std);

// Backward for either mode (`training` picks the formula for dx). y is the forward output (for the activation
// mask); mean/inv_std are what the forward saved. grad_x, grad_weight, grad_bias may each be null (not wanted).
template <typename T>
void batch_norm_backward(const T* grad_y, const T* x, const T* y, BatchNormShape shape, const T* mean,
                         const T* inv_std, const T* weight, bool training, BnActivationParams act, T* grad_x,
                         T* grad_weight, T* grad_bias);
void batch_norm_backward(const float* grad_y, const bfloat16* x, const bfloat16* y, BatchNormShape shape,
                         const float* mean, const float* inv_std, const float* weight, bool training,
                         BnActivationParams act, float* grad_x, float* grad_weight, float* grad_bias);

// num_batches_tracked += 1 on the device, one single-thread launch.
void batch_norm_count_batch(int64_t* num_batches_tracked);

}  // namespace cuda
}  // namespace gan::kernels
