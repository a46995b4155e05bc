#include "kernels/optim.h"

#include <algorithm>
#include <cmath>

#include "kernels/strided.h"

namespace gan::kernels::cpu {
namespace {

// PyTorch's lerp: start + w (end - start), computed from the nearer end for accuracy.
template <typename T>
T lerp(T start, T end, T w) {
  return std::abs(w) < T(0.5) ? start + w * (end - start) : end - (end - start) * (T(1) - w);
}

// Runs body(i) for every element of a slot, split across threads when large enough.
template <typename F>
void for_elements(int64_t n, F body) {
#pragma omp parallel for schedule(static) if (n > kParallelGrain)
  for (int64_t i = 0; i < n; ++i) body(i);
}

}  // namespace

template <typename T>
void sgd_step(const SgdSlot<T>* slots, int64_t count, const SgdHyper& h) {
  const T lr = static_cast<T>(h.lr), wd = static_cast<T>(h.weight_decay), mu = static_cast<T>(h.momentum);
  const T keep = static_cast<T>(1.0 - h.dampening);
  const bool use_wd = h.weight_decay != 0.0, use_momentum = h.momentum != 0.0;
  for (int64_t s = 0; s < count; ++s) {
    const SgdSlot<T>& slot = slots[s];
    T* p = slot.param;
    const T* grad = slot.grad;
    T* buf = slot.momentum_buffer;
    const bool first = slot.first_step;
    for_elements(slot.numel, [&](int64_t i) {
      T g = grad[i];
      if (use_wd) g = g + wd * p[i];
      if (use_momentum) {
        const T b = first ? g : buf[i] * mu + keep * g;
        buf[i] = b;
        g = h.nesterov ? g + mu * b : b;
      }
      p[i] = p[i] + (-lr) * g;
    });
  }
}

template <typename T>
void adam_step(const AdamSlot<T>* slots, int64_t count, const AdamHyper& h) {
  const T b1w = static_cast<T>(1.0 - h.beta1), b2 = static_cast<T>(h.beta2), b2w = static_cast<T>(1.0 - h.beta2);
  const T wd = static_cast<T>(h.weight_decay), eps = static_cast<T>(h.eps);
  const bool use_wd = h.weight_decay != 0.0;
  for (int64_t s = 0; s < count; ++s) {
    const AdamSlot<T>& slot = slots[s];
    // Bias corrections in double, as PyTorch computes them from Python floats.
    const double t = static_cast<double>(slot.step);
    const double bc1 = 1.0 - std::pow(h.beta1, t);
    const double bc2 = 1.0 - std::pow(h.beta2, t);
    const T step_size = static_cast<T>(h.lr / bc1);
    const T bc2_sqrt = static_cast<T>(std::sqrt(bc2));
    T* p = slot.param;
    const T* grad = slot.grad;
    T* m = slot.exp_avg;
    T* v = slot.exp_avg_sq;
    for_elements(slot.numel, [&](int64_t i) {
      T g = grad[i];
      if (use_wd) g = g + wd * p[i];
      const T mi = lerp(m[i], g, b1w);
      const T vi = v[i] * b2 + b2w * (g * g);
      m[i] = mi;
      v[i] = vi;
      const T denom = std::sqrt(vi) / bc2_sqrt + eps;
      p[i] = p[i] + (-step_size) * (mi / denom);
    });
  }
}

template <typename T>
void adamw_step(const AdamSlot<T>* slots, int64_t count, const AdamHyper& h) {
  const T b1 = static_cast<T>(h.beta1), b1w = static_cast<T>(1.0 - h.beta1);
  const T b2 = static_cast<T>(h.beta2), b2w = static_cast<T>(1.0 - h.beta2);
  const T decay = static_cast<T>(1.0 - h.lr * h.weight_decay), eps = static_cast<T>(h.eps);
  for (int64_t s = 0; s < count; ++s) {
    const AdamSlot<T>& slot = slots[s];
    const double t = static_cast<double>(slot.step);
    const T step_size = static_cast<T>(h.lr / (1.0 - std::pow(h.beta1, t)));
    const T bc2_sqrt = static_cast<T>(std::sqrt(1.0 - std::pow(h.beta2, t)));
    T* p = slot.param;
    const T* grad = slot.grad;
    T* m = slot.exp_avg;
    T* v = slot.exp_avg_sq;
    for_elements(slot.numel, [&](int64_t i) {
      const T g = grad[i];
      const T pi = p[i] * decay;                      // param.mul_(1 - lr * weight_decay)
      const T mi = m[i] * b1 + b1w * g;               // exp_avg.mul_(beta1).add_(grad, alpha=1 - beta1)
      const T vi = v[i] * b2 + b2w * g * g;           // exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
      m[i] = mi;
      v[i] = vi;
      const T denom = std::sqrt(vi) / bc2_sqrt + eps;  // (exp_avg_sq.sqrt() / bias_correction2_sqrt).add_(eps)
      p[i] = pi + (-step_size) * (mi / denom);        // param.addcdiv_(exp_avg, denom, value=-step_size)
    });
  }
}

template <typename T>
void rmsprop_step(const RmspropSlot<T>* slots, int64_t count, const RmspropHyper& h) {
  const T lr = static_cast<T>(h.lr), alpha = static_cast<T>(h.alpha), aw = static_cast<T>(1.0 - h.alpha);
  const T wd = static_cast<T>(h.weight_decay), eps = static_cast<T>(h.eps), mu = static_cast<T>(h.momentum);
  const bool use_wd = h.weight_decay != 0.0, use_momentum = h.momentum > 0.0;
  for (int64_t s = 0; s < count; ++s) {
    const RmspropSlot<T>& slot = slots[s];
    T* p = slot.param;
    const T* grad = slot.grad;
    T* sq = slot.square_avg;
    T* ga = slot.grad_avg;
    T* buf = slot.momentum_buffer;
    for_elements(slot.numel, [&](int64_t i) {
      T g = grad[i];
      if (use_wd) g = g + wd * p[i];
      const T si = sq[i] * alpha + aw * (g * g);
      sq[i] = si;
      T avg;
      if (h.centered) {
        const T ai = lerp(ga[i], g, aw);
        ga[i] = ai;
        avg = std::sqrt(si + T(-1) * (ai * ai)) + eps;
      } else {
        avg = std::sqrt(si) + eps;
      }
      if (use_momentum) {
        const T b = buf[i] * mu + g / avg;
        buf[i] = b;
        p[i] = p[i] + (-lr) * b;
      } else {
        p[i] = p[i] + (-lr) * (g / avg);
      }
    });
  }
}

template <typename T>
void clamp_inplace(T* x, int64_t n, double lo, double hi) {
  const T l = static_cast<T>(lo), u = static_cast<T>(hi);
  for_elements(n, [&](int64_t i) { x[i] = std::min(std::max(x[i], l), u); });
}

#define GAN_INSTANTIATE(T)                                                          \
  template void sgd_step<T>(const SgdSlot<T>*, int64_t, const SgdHyper&);           \
  template void adam_step<T>(const AdamSlot<T>*, int64_t, const AdamHyper&);        \
  template void adamw_step<T>(const AdamSlot<T>*, int64_t, const AdamHyper&);       \
  template void rmsprop_step<T>(const RmspropSlot<T>*, int64_t, const RmspropHyper&); \
  template void clamp_inplace<T>(T*, int64_t, double, double);
GAN_INSTANTIATE(float)
GAN_INSTANTIATE(double)
#undef GAN_INSTANTIATE

}  // namespace gan::kernels::cpu
