// Fused losses: one pass over the inputs writes the reduced loss and, where the caller passes a buffer, the
// gradient of that loss w.r.t. each input. The engine op saves those buffers and its backward scales them by the
// incoming scalar gradient. All inputs are contiguous arrays of n elements (the engine broadcasts nothing here,
// except gaussian_nll's var, shared by `group` consecutive elements).
//
// Reduction: every kernel takes a `divisor` and returns (sum of the per-element terms l_i) / divisor; the gradients
// it writes are dl_i/dinput / divisor. divisor = n gives PyTorch's reduction='mean' (the batch size for kl_normal,
// whose mean is over the batch), divisor = 1 'sum'. For reduction='none' the caller passes `terms` (n elements,
// null otherwise), which receives the l_i themselves, and usually no gradient buffers.
//
// bce_with_logits(x, t):  l_i = max(x_i, 0) - x_i t_i + log1p(exp(-|x_i|))          (soft targets allowed)
//                         dl_i/dx_i = sigmoid(x_i) - t_i                         dl_i/dt_i = -x_i
// mse(x, t):              l_i = (x_i - t_i)^2
//                         dl_i/dx_i = 2 (x_i - t_i)                              dl_i/dt_i = -dl_i/dx_i
// gaussian_nll(x, t, var) (PyTorch's: var is clamped at eps outside autograd, so its gradient is that of the
//                         unclamped formula evaluated at the clamped value). v_i = max(var_{i/group}, eps),
//                         d_i = x_i - t_i:
//                         l_i = 0.5 [ log v_i + d_i^2 / v_i ]  (+ 0.5 log(2 pi) when full)
//                         dl_i/dx_i = d_i / v_i   dl_i/dt_i = -dl_i/dx_i
//                         grad_var_m = sum_{i in group m} 0.5 (1 / v_i - d_i^2 / v_i^2) / divisor
// kl_normal(mu, logvar):  l_i = -0.5 (1 + lv_i - mu_i^2 - exp(lv_i))
//                         dl_i/dmu_i = mu_i                                      dl_i/dlv_i = 0.5 (exp(lv_i) - 1)
// wasserstein(real, fake): sum fake / div_fake - sum real / div_real; either array may be absent (its term is
//                         zero), so the generator's loss -mean(fake) is wasserstein(fake, nullptr): its fakes are
//                         scored as the critic scores real data. The gradient is the constant -1/div_real (real)
//                         and +1/div_fake (fake), so no buffer is written: the engine op builds it from ops.
// hinge(p, sign):         l_i = max(0, 1 + sign p_i), sign = -1 for real scores, +1 for fake ones (the GAN hinge
//                         critic loss is hinge(real, -1) / n_real + hinge(fake, +1) / n_fake)
//                         dl_i/dp_i = sign where 1 + sign p_i > 0, else 0
//
// Sums accumulate in double over fixed-size chunks combined in order, so the loss is bit-identical whatever the
// number of threads. Every gradient pointer may be null (no gradient wanted for that input).
#pragma once

#include <cstdint>

namespace gan::kernels::cpu {

template <typename T>
T bce_with_logits(const T* x, const T* t, int64_t n, double divisor, T* terms, T* grad_x, T* grad_t);

template <typename T>
T mse(const T* x, const T* t, int64_t n, double divisor, T* terms, T* grad_x, T* grad_t);

// var holds n / group entries; element i uses var[i / group].
template <typename T>
T gaussian_nll(const T* x, const T* t, const T* var, int64_t n, int64_t group, bool full, double eps, double divisor,
               T* terms, T* grad_x, T* grad_t, T* grad_var);

template <typename T>
T kl_normal(const T* mu, const T* logvar, int64_t n, double divisor, T* terms, T* grad_mu, T* grad_logvar);

// sum(fake) / div_fake - sum(real) / div_real; a null array contributes zero.
template <typename T>
T wasserstein(const T* real, int64_t n_real, double div_real, const T* fake, int64_t n_fake, double div_fake);

// sum max(0, 1 + sign p) / divisor; sign is -1 or +1.
template <typename T>
T hinge(const T* p, int64_t n, double sign, double divisor, T* terms, T* grad);

}  // namespace gan::kernels::cpu

// CUDA twin: same contract, device pointers, launched on kernels::cuda::stream() (kernels/cuda/runtime.h).
// Defined in kernels/cuda/losses.cu, built only with the CUDA backend.
namespace gan::kernels::cuda {

template <typename T>
T bce_with_logits(const T* x, const T* t, int64_t n, double divisor, T* terms, T* grad_x, T* grad_t);

template <typename T>
T mse(const T* x, const T* t, int64_t n, double divisor, T* terms, T* grad_x, T* grad_t);

// var holds n / group entries; element i uses var[i / group].
template <typename T>
T gaussian_nll(const T* x, const T* t, const T* var, int64_t n, int64_t group, bool full, double eps, double divisor,
               T* terms, T* grad_x, T* grad_t, T* grad_var);

template <typename T>
T kl_normal(const T* mu, const T* logvar, int64_t n, double divisor, T* terms, T* grad_mu, T* grad_logvar);

// sum(fake) / div_fake - sum(real) / div_real; a null array contributes zero.
template <typename T>
T wasserstein(const T* real, int64_t n_real, double div_real, const T* fake, int64_t n_fake, double div_fake);

// sum max(0, 1 + sign p) / divisor; sign is -1 or +1.
template <typename T>
T hinge(const T* p, int64_t n, double sign, double divisor, T* terms, T* grad);

// The same losses with the reduced value left on the device: `result` (one T of device memory) receives exactly
// the value the twin above returns, written by a kernel queued on the stream; the host does not wait. The engine
// uses these, so a loss is a device tensor and a training step never waits to read one (kernels/cuda/sync_count.h).
template <typename T>
void bce_with_logits_to(T* result, const T* x, const T* t, int64_t n, double divisor, T* terms, T* grad_x, T* grad_t);
template <typename T>
void mse_to(T* result, const T* x, const T* t, int64_t n, double divisor, T* terms, T* grad_x, T* grad_t);
template <typename T>
void gaussian_nll_to(T* result, const T* x, const T* t, const T* var, int64_t n, int64_t group, bool full, double eps,
                     double divisor, T* terms, T* grad_x, T* grad_t, T* grad_var);
template <typename T>
void kl_normal_to(T* result, const T* mu, const T* logvar, int64_t n, double divisor, T* terms, T* grad_mu,
                  T* grad_logvar);
template <typename T>
void wasserstein_to(T* result, const T* real, int64_t n_real, double div_real, const T* fake, int64_t n_fake,
                    double div_fake);
template <typename T>
void hinge_to(T* result, const T* p, int64_t n, double sign, double divisor, T* terms, T* grad);

}  // namespace gan::kernels::cuda
