// Fused optimizer updates, PyTorch's rules (torch.optim, single-tensor path, maximize=False). Each call takes a
// list of parameter slots — one per parameter tensor, all of one dtype — and updates every parameter and its
// state in place in one pass over its elements (read param, grad, state; write param, state), so the CUDA twin
// can be one multi-tensor launch. All arrays of a slot are contiguous with `numel` elements; state arrays a rule
// does not use may be null. g below is the gradient after L2 weight decay: g = grad + weight_decay * p.
//
// SGD (lr, momentum mu, dampening tau, weight_decay, nesterov):
//   if mu != 0:  b = g on the slot's first step (first_step), else b = mu b + (1 - tau) g
//                g = nesterov ? g + mu b : b
//   p -= lr g
// Adam (lr, beta1, beta2, eps, weight_decay), t = the slot's step count after this step (>= 1):
//   m = m + (1 - beta1) (g - m)          (PyTorch's lerp)
//   v = beta2 v + (1 - beta2) g^2
//   p -= lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
// AdamW (lr, beta1, beta2, eps, weight_decay), PyTorch 1.13's order of operations, g = grad (no L2 term):
//   p = p (1 - lr weight_decay)           (decoupled weight decay, first)
//   m = beta1 m + (1 - beta1) g
//   v = beta2 v + (1 - beta2) g^2
//   p -= lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
// RMSprop (lr, alpha, eps, weight_decay, momentum mu, centered):
//   s = alpha s + (1 - alpha) g^2
//   centered: a = a + (1 - alpha) (g - a);  d = sqrt(s - a^2) + eps;  else d = sqrt(s) + eps
//   mu > 0: b = mu b + g / d;  p -= lr b          else p -= lr g / d
// clamp_inplace (WGAN weight clipping): x = min(max(x, lo), hi).
#pragma once

#include <cstdint>

namespace gan::kernels {

struct SgdHyper {
  double lr = 1e-3;
  double momentum = 0.0;
  double dampening = 0.0;
  double weight_decay = 0.0;
  bool nesterov = false;
};
template <typename T>
struct SgdSlot {
  T* param = nullptr;
  const T* grad = nullptr;
  T* momentum_buffer = nullptr;  // needed when momentum != 0
  int64_t numel = 0;
  bool first_step = false;       // the momentum buffer is uninitialized: set it to g
};

struct AdamHyper {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;
};
template <typename T>
struct AdamSlot {
  T* param = nullptr;
  const T* grad = nullptr;
  T* exp_avg = nullptr;
  T* exp_avg_sq = nullptr;
  int64_t numel = 0;
  int64_t step = 1;  // this parameter's step count, already incremented (bias correction is per parameter)
  // CUDA graphs only (null otherwise; the CPU twin ignores it): device memory holding {lr / (1 - beta1^t),
  // sqrt(1 - beta2^t)} in double, read when the kernel runs instead of the values computed from `step` at the call,
  // which a captured kernel would replay frozen. The optimizer uploads them before each replay, computed on the
  // host exactly as from `step` (engine/optim/optimizers.cpp), so a replay updates bit for bit as an eager step.
  const double* device_bias = nullptr;
};

struct RmspropHyper {
  double lr = 1e-2;
  double alpha = 0.99;
  double eps = 1e-8;
  double weight_decay = 0.0;
  double momentum = 0.0;
  bool centered = false;
};
template <typename T>
struct RmspropSlot {
  T* param = nullptr;
  const T* grad = nullptr;
  T* square_avg = nullptr;
  T* grad_avg = nullptr;         // needed when centered
  T* momentum_buffer = nullptr;  // needed when momentum > 0
  int64_t numel = 0;
};

namespace cpu {

template <typename T>
void sgd_step(const SgdSlot<T>* slots, int64_t count, const SgdHyper& h);

template <typename T>
void adam_step(const AdamSlot<T>* slots, int64_t count, const AdamHyper& h);

// AdamHyper's weight_decay is the decoupled one here.
template <typename T>
void adamw_step(const AdamSlot<T>* slots, int64_t count, const AdamHyper& h);

template <typename T>
void rmsprop_step(const RmspropSlot<T>* slots, int64_t count, const RmspropHyper& h);

template <typename T>
void clamp_inplace(T* x, int64_t n, double lo, double hi);

}  // namespace cpu

// CUDA twin: same contract, device pointers, launched on kernels::cuda::stream() (kernels/cuda/runtime.h).
// Defined in kernels/cuda/optim.cu, built only with the CUDA backend.
namespace cuda {

template <typename T>
void sgd_step(const SgdSlot<T>* slots, int64_t count, const SgdHyper& h);

template <typename T>
void adam_step(const AdamSlot<T>* slots, int64_t count, const AdamHyper& h);

// AdamHyper's weight_decay is the decoupled one here.
template <typename T>
void adamw_step(const AdamSlot<T>* slots, int64_t count, const AdamHyper& h);

template <typename T>
void rmsprop_step(const RmspropSlot<T>* slots, int64_t count, const RmspropHyper& h);

template <typename T>
void clamp_inplace(T* x, int64_t n, double lo, double hi);

}  // namespace cuda
}  // namespace gan::kernels
