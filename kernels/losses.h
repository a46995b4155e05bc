// Fused losses: one pass over the inputs writes the (mean-reduced) loss and, where the caller passes a buffer, the
// gradient of that loss w.r.t. each input. The engine op saves those buffers and its backward scales them by the
// incoming scalar gradient. All inputs are contiguous arrays of n elements (the engine broadcasts nothing here,
// except gaussian_nll's var, shared by `group` consecutive elements). N = n below.
//
// bce_with_logits(x, t):  L = 1/N sum_i [ max(x_i, 0) - x_i t_i + log1p(exp(-|x_i|)) ]   (soft targets allowed)
//                         dL/dx_i = (sigmoid(x_i) - t_i) / N            dL/dt_i = -x_i / N
// mse(x, t):              L = 1/N sum_i (x_i - t_i)^2
//                         dL/dx_i = 2 (x_i - t_i) / N                   dL/dt_i = -dL/dx_i
// gaussian_nll(x, t, var) (PyTorch's: var is clamped at eps outside autograd, so its gradient is that of the
//                         unclamped formula evaluated at the clamped value). v_i = max(var_{i/group}, eps),
//                         d_i = x_i - t_i:
//                         L = 1/N sum_i 0.5 [ log v_i + d_i^2 / v_i ]  (+ 0.5 log(2 pi) when full)
//                         dL/dx_i = d_i / (v_i N)   dL/dt_i = -dL/dx_i
//                         dL/dvar_m = sum_{i in group m} 0.5 (1 / v_i - d_i^2 / v_i^2) / N
// kl_normal(mu, logvar) over [B, rest...]: L = 1/B sum_i -0.5 (1 + lv_i - mu_i^2 - exp(lv_i))
//                         dL/dmu_i = mu_i / B                           dL/dlv_i = 0.5 (exp(lv_i) - 1) / B
// wasserstein(real, fake): L = 1/Nf sum fake - 1/Nr sum real; either array may be absent (its term is zero), so
//                         the generator's loss -mean(fake) is wasserstein(fake, nullptr): its fakes are scored
//                         as the critic scores real data. The gradient is the constant -1/Nr (real) and +1/Nf
//                         (fake), so no buffer is written: the engine op builds it from ops, which keeps the
//                         WGAN-GP critic loss differentiable twice.
//
// Sums accumulate in double over fixed-size chunks combined in order, so the loss is bit-identical whatever the
// number of threads. Every gradient pointer may be null (no gradient wanted for that input).
#pragma once

#include <cstdint>

namespace gan::kernels::cpu {

template <typename T>
T bce_with_logits(const T* x, const T* t, int64_t n, T* grad_x, T* grad_t);

template <typename T>
T mse(const T* x, const T* t, int64_t n, T* grad_x, T* grad_t);

// var holds n / group entries; element i uses var[i / group].
template <typename T>
T gaussian_nll(const T* x, const T* t, const T* var, int64_t n, int64_t group, bool full, double eps, T* grad_x,
               T* grad_t, T* grad_var);

// n elements over a batch of `batch` rows.
template <typename T>
T kl_normal(const T* mu, const T* logvar, int64_t n, int64_t batch, T* grad_mu, T* grad_logvar);

// mean(fake) - mean(real); a null array contributes zero.
template <typename T>
T wasserstein(const T* real, int64_t n_real, const T* fake, int64_t n_fake);

}  // namespace gan::kernels::cpu

// CUDA twin: same contract, device pointers, launched on kernels::cuda::stream() (kernels/cuda/runtime.h).
// Defined in kernels/cuda/losses.cu, built only with the CUDA backend.
namespace gan::kernels::cuda {

template <typename T>
T bce_with_logits(const T* x, const T* t, int64_t n, T* grad_x, T* grad_t);

template <typename T>
T mse(const T* x, const T* t, int64_t n, T* grad_x, T* grad_t);

// var holds n / group entries; element i uses var[i / group].
template <typename T>
T gaussian_nll(const T* x, const T* t, const T* var, int64_t n, int64_t group, bool full, double eps, T* grad_x,
               T* grad_t, T* grad_var);

// n elements over a batch of `batch` rows.
template <typename T>
T kl_normal(const T* mu, const T* logvar, int64_t n, int64_t batch, T* grad_mu, T* grad_logvar);

// mean(fake) - mean(real); a null array contributes zero.
template <typename T>
T wasserstein(const T* real, int64_t n_real, const T* fake, int64_t n_fake);

}  // namespace gan::kernels::cuda
