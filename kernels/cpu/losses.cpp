#include "kernels/losses.h"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <vector>

#include "kernels/strided.h"

namespace gan::kernels::cpu {
namespace {

// Elements per chunk of a loss reduction. Fixed, so the partial sums and their order depend on n only.
constexpr int64_t kChunk = 4096;

// sum over chunks [c * chunk, min(count, (c + 1) * chunk)) of f(begin, end), each chunk's partial in double,
// combined in chunk order. `count` counts units (elements, or groups of elements for gaussian_nll).
template <typename F>
double chunked_sum(int64_t count, int64_t chunk, int64_t work, F f) {
  if (count <= 0) return 0.0;
  const int64_t chunks = (count + chunk - 1) / chunk;
  if (chunks == 1) return f(int64_t{0}, count);
  std::vector<double> partial(static_cast<size_t>(chunks));
#pragma omp parallel for schedule(static) if (work > kParallelGrain)
  for (int64_t c = 0; c < chunks; ++c) partial[c] = f(c * chunk, std::min(count, (c + 1) * chunk));
  double acc = 0.0;
  for (double p : partial) acc += p;
  return acc;
}

template <typename T>
T stable_sigmoid(T x) {
  if (x >= T(0)) return T(1) / (T(1) + std::exp(-x));
  const T e = std::exp(x);
  return e / (T(1) + e);
}

}  // namespace

template <typename T>
T bce_with_logits(const T* x, const T* t, int64_t n, double divisor, T* terms, T* grad_x, T* grad_t) {
  const T inv_d = static_cast<T>(1.0 / divisor);
  const double total = chunked_sum(n, kChunk, n, [&](int64_t i0, int64_t i1) {
    double acc = 0.0;
    for (int64_t i = i0; i < i1; ++i) {
      const T xi = x[i], ti = t[i];
      // max(x, 0) - x t + log(1 + e^-|x|): no overflow of exp for large |x|.
      const T l = std::max(xi, T(0)) - xi * ti + std::log1p(std::exp(-std::abs(xi)));
      acc += static_cast<double>(l);
      if (terms) terms[i] = l;
      if (grad_x) grad_x[i] = (stable_sigmoid(xi) - ti) * inv_d;
      if (grad_t) grad_t[i] = -xi * inv_d;
    }
    return acc;
  });
  return static_cast<T>(total / divisor);
}

template <typename T>
T mse(const T* x, const T* t, int64_t n, double divisor, T* terms, T* grad_x, T* grad_t) {
  const T two_inv_d = static_cast<T>(2.0 / divisor);
  const double total = chunked_sum(n, kChunk, n, [&](int64_t i0, int64_t i1) {
    double acc = 0.0;
    for (int64_t i = i0; i < i1; ++i) {
      const T d = x[i] - t[i];
      acc += static_cast<double>(d * d);
      if (terms) terms[i] = d * d;
      if (grad_x) grad_x[i] = d * two_inv_d;
      if (grad_t) grad_t[i] = -d * two_inv_d;
    }
    return acc;
  });
  return static_cast<T>(total / divisor);
}

template <typename T>
T gaussian_nll(const T* x, const T* t, const T* var, int64_t n, int64_t group, bool full, double eps, double divisor,
               T* terms, T* grad_x, T* grad_t, T* grad_var) {
  const T inv_d = static_cast<T>(1.0 / divisor);
  const T eps_t = static_cast<T>(eps);
  const double log_2pi_half = 0.5 * std::log(2.0 * std::numbers::pi);
  const T c = full ? static_cast<T>(log_2pi_half) : T(0);
  const int64_t groups = n / group;
  const int64_t groups_per_chunk = std::max<int64_t>(1, kChunk / group);
  const double total = chunked_sum(groups, groups_per_chunk, n, [&](int64_t m0, int64_t m1) {
    double acc = 0.0;
    for (int64_t m = m0; m < m1; ++m) {
      const T v = std::max(var[m], eps_t);  // the clamp is invisible to autograd, as in PyTorch
      const T inv_v = T(1) / v;
      const T log_v = std::log(v);
      double gv = 0.0;
      for (int64_t i = m * group; i < (m + 1) * group; ++i) {
        const T d = x[i] - t[i];
        const T d2_v = d * d * inv_v;
        const T l = T(0.5) * (log_v + d2_v);
        acc += static_cast<double>(l);
        if (terms) terms[i] = l + c;
        if (grad_x) grad_x[i] = d * inv_v * inv_d;
        if (grad_t) grad_t[i] = -d * inv_v * inv_d;
        if (grad_var) gv += static_cast<double>(T(0.5) * (inv_v - d2_v * inv_v) * inv_d);
      }
      if (grad_var) grad_var[m] = static_cast<T>(gv);
    }
    return acc;
  });
  // The constant of `full` once per element: n / divisor times (once for the mean).
  double loss = total / divisor;
  if (full) loss += log_2pi_half * (static_cast<double>(n) / divisor);
  return static_cast<T>(loss);
}

template <typename T>
T kl_normal(const T* mu, const T* logvar, int64_t n, double divisor, T* terms, T* grad_mu, T* grad_logvar) {
  const T inv_d = static_cast<T>(1.0 / divisor);
  const double total = chunked_sum(n, kChunk, n, [&](int64_t i0, int64_t i1) {
    double acc = 0.0;
    for (int64_t i = i0; i < i1; ++i) {
      const T m = mu[i], lv = logvar[i];
      const T e = std::exp(lv);
      const T l = T(-0.5) * (T(1) + lv - m * m - e);
      acc += static_cast<double>(l);
      if (terms) terms[i] = l;
      if (grad_mu) grad_mu[i] = m * inv_d;
      if (grad_logvar) grad_logvar[i] = T(0.5) * (e - T(1)) * inv_d;
    }
    return acc;
  });
  return static_cast<T>(total / divisor);
}

template <typename T>
T wasserstein(const T* real, int64_t n_real, double div_real, const T* fake, int64_t n_fake, double div_fake) {
  auto sum_of = [](const T* p, int64_t n) {
    if (!p || n == 0) return 0.0;
    return chunked_sum(n, kChunk, n, [p](int64_t i0, int64_t i1) {
      double acc = 0.0;
      for (int64_t i = i0; i < i1; ++i) acc += static_cast<double>(p[i]);
      return acc;
    });
  };
  const double f = fake && n_fake > 0 ? sum_of(fake, n_fake) / div_fake : 0.0;
  const double r = real && n_real > 0 ? sum_of(real, n_real) / div_real : 0.0;
  return static_cast<T>(f - r);
}

template <typename T>
T hinge(const T* p, int64_t n, double sign, double divisor, T* terms, T* grad) {
  const T s = static_cast<T>(sign);
  const T g_active = static_cast<T>(sign / divisor);
  const double total = chunked_sum(n, kChunk, n, [&](int64_t i0, int64_t i1) {
    double acc = 0.0;
    for (int64_t i = i0; i < i1; ++i) {
      const T margin = T(1) + s * p[i];
      const T l = margin > T(0) ? margin : T(0);
      acc += static_cast<double>(l);
      if (terms) terms[i] = l;
      if (grad) grad[i] = margin > T(0) ? g_active : T(0);
    }
    return acc;
  });
  return static_cast<T>(total / divisor);
}

#define GAN_INSTANTIATE(T)                                                                                      \
  template T bce_with_logits<T>(const T*, const T*, int64_t, double, T*, T*, T*);                               \
  template T mse<T>(const T*, const T*, int64_t, double, T*, T*, T*);                                           \
  template T gaussian_nll<T>(const T*, const T*, const T*, int64_t, int64_t, bool, double, double, T*, T*, T*,  \
                             T*);                                                                               \
  template T kl_normal<T>(const T*, const T*, int64_t, double, T*, T*, T*);                                     \
  template T wasserstein<T>(const T*, int64_t, double, const T*, int64_t, double);                              \
  template T hinge<T>(const T*, int64_t, double, double, T*, T*);
GAN_INSTANTIATE(float)
GAN_INSTANTIATE(double)
#undef GAN_INSTANTIATE

}  // namespace gan::kernels::cpu
