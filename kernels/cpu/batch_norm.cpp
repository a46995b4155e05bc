// CPU batch norm (see kernels/batch_norm.h for the maths).
//
// Speed: the per-channel reductions keep 8 partial sums in double (element i goes to partial i mod 8, and the
// partials are added in a fixed tree), so the loops vectorize instead of waiting on one long chain of dependent
// additions; the order still depends only on the shape. The element-wise passes run in T with per-channel
// coefficients computed once in double, in PyTorch's form: y = act(x alpha + beta) with alpha = w inv_std and
// beta = b - mean alpha; the activation is a template parameter, so the fused activation costs one select per
// element and is cheaper than a separate activation pass.
#include "kernels/batch_norm.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/strided.h"

namespace gan::kernels::cpu {
namespace {

// A channel's M = N * S values are N contiguous runs of S (one per sample). Large problems split each channel's
// runs into a fixed number of chunks (a function of the shape only) reduced in parallel; the chunk partials are
// then added in chunk order. The result is therefore the same on any number of threads.
constexpr int64_t kMaxChunks = 32;

int64_t chunks_for(const BatchNormShape& s) {
  const int64_t total = s.N * s.C * s.S;
  if (total <= kParallelGrain) return 1;
  return std::max<int64_t>(1, std::min(s.N, kMaxChunks));
}

// out[c * K + j] = sum over the channel's chunks of the K partial sums f(c, n0, n1, partial) writes.
template <int K, typename F>
void reduce_channels(const BatchNormShape& s, F f, std::vector<double>& out) {
  const int64_t chunks = chunks_for(s);
  const int64_t work = s.C * chunks;
  std::vector<double> partial(static_cast<size_t>(work * K), 0.0);
#pragma omp parallel for schedule(static) if (s.N * s.C * s.S > kParallelGrain && work > 1)
  for (int64_t w = 0; w < work; ++w) {
    const int64_t c = w / chunks, k = w % chunks;
    const int64_t n0 = s.N * k / chunks, n1 = s.N * (k + 1) / chunks;
    f(c, n0, n1, &partial[static_cast<size_t>(w * K)]);
  }
  out.assign(static_cast<size_t>(s.C * K), 0.0);
  for (int64_t c = 0; c < s.C; ++c)
    for (int j = 0; j < K; ++j) {
      double acc = 0.0;
      for (int64_t k = 0; k < chunks; ++k) acc += partial[static_cast<size_t>((c * chunks + k) * K + j)];
      out[static_cast<size_t>(c * K + j)] = acc;
    }
}

// Adds f(i) for i < n into 8 partial sums p (element i into p[i mod 8]): independent chains the compiler turns
// into vector additions.
constexpr int kLanes = 8;
template <typename F>
inline void accumulate8(int64_t n, double* p, F f) {
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int k = 0; k < kLanes; ++k) p[k] += f(i + k);
  for (int k = 0; i < n; ++i, ++k) p[k] += f(i);
}
inline double total8(const double* p) { return ((p[0] + p[1]) + (p[2] + p[3])) + ((p[4] + p[5]) + (p[6] + p[7])); }

template <BnActivation A, typename T>
inline T activate(T z, T slope) {
  if constexpr (A == BnActivation::ReLU) return z > T(0) ? z : T(0);
  else if constexpr (A == BnActivation::LeakyReLU) return z > T(0) ? z : z * slope;
  else return z;
}

// act'(z) recovered from y = act(z).
template <BnActivation A, typename T>
inline T activation_slope(T y, T slope) {
  if constexpr (A == BnActivation::ReLU) return y > T(0) ? T(1) : T(0);
  else if constexpr (A == BnActivation::LeakyReLU) return y > T(0) ? T(1) : slope;
  else return T(1);
}

// Calls f.template operator()<A>() for the activation kind at run time.
template <typename F>
void with_activation(BnActivation kind, F&& f) {
  switch (kind) {
    case BnActivation::Identity: f.template operator()<BnActivation::Identity>(); return;
    case BnActivation::ReLU: f.template operator()<BnActivation::ReLU>(); return;
    case BnActivation::LeakyReLU: f.template operator()<BnActivation::LeakyReLU>(); return;
  }
}

// y[n, c, :] = act(x alpha_c + beta_c) with alpha_c = w_c inv_std_c and beta_c = b_c - mean_c alpha_c.
template <typename T>
void normalize(const T* x, const BatchNormShape& s, const std::vector<double>& mean,
               const std::vector<double>& inv_std, const T* weight, const T* bias, const BnActivationParams& act,
               T* y) {
  std::vector<T> alpha(static_cast<size_t>(s.C)), beta(static_cast<size_t>(s.C));
  for (int64_t c = 0; c < s.C; ++c) {
    const size_t k = static_cast<size_t>(c);
    const double a = (weight ? static_cast<double>(weight[c]) : 1.0) * inv_std[k];
    alpha[k] = static_cast<T>(a);
    beta[k] = static_cast<T>((bias ? static_cast<double>(bias[c]) : 0.0) - mean[k] * a);
  }
  const T slope = static_cast<T>(act.slope);
  const int64_t rows = s.N * s.C;
  with_activation(act.kind, [&]<BnActivation A>() {
#pragma omp parallel for schedule(static) if (rows * s.S > kParallelGrain && rows > 1)
    for (int64_t r = 0; r < rows; ++r) {
      const size_t c = static_cast<size_t>(r % s.C);
      const T a = alpha[c], b = beta[c];
      const T* px = x + r * s.S;
      T* py = y + r * s.S;
      for (int64_t i = 0; i < s.S; ++i) py[i] = activate<A>(px[i] * a + b, slope);
    }
  });
}

}  // namespace

template <typename T>
void batch_norm_forward_train(const T* x, BatchNormShape s, const T* weight, const T* bias, double eps,
                              BnActivationParams act, T* y, T* save_mean, T* save_inv_std, T* running_mean,
                              T* running_var, double momentum, double* stats) {
  const int64_t M = s.N * s.S;
  const double inv_m = M > 0 ? 1.0 / static_cast<double>(M) : 0.0;
  // Pass 1: mean.
  std::vector<double> mean;
  reduce_channels<1>(
      s,
      [&](int64_t c, int64_t n0, int64_t n1, double* acc) {
        double p[kLanes] = {};
        for (int64_t n = n0; n < n1; ++n) {
          const T* px = x + (n * s.C + c) * s.S;
          accumulate8(s.S, p, [px](int64_t i) { return static_cast<double>(px[i]); });
        }
        acc[0] = total8(p);
      },
      mean);
  for (double& m : mean) m *= inv_m;
  // Pass 2: biased variance from squared deviations.
  std::vector<double> var;
  reduce_channels<1>(
      s,
      [&](int64_t c, int64_t n0, int64_t n1, double* acc) {
        const double m = mean[static_cast<size_t>(c)];
        double p[kLanes] = {};
        for (int64_t n = n0; n < n1; ++n) {
          const T* px = x + (n * s.C + c) * s.S;
          accumulate8(s.S, p, [px, m](int64_t i) {
            const double d = static_cast<double>(px[i]) - m;
            return d * d;
          });
        }
        acc[0] = total8(p);
      },
      var);
  std::vector<double> inv_std(static_cast<size_t>(s.C));
  for (int64_t c = 0; c < s.C; ++c) {
    const size_t k = static_cast<size_t>(c);
    var[k] *= inv_m;
    inv_std[k] = 1.0 / std::sqrt(var[k] + eps);
    if (save_mean) save_mean[c] = static_cast<T>(mean[k]);
    if (save_inv_std) save_inv_std[c] = static_cast<T>(inv_std[k]);
    if (stats) {
      stats[2 * c] = mean[k];
      stats[2 * c + 1] = inv_std[k];
    }
    if (running_mean)
      running_mean[c] = static_cast<T>((1.0 - momentum) * static_cast<double>(running_mean[c]) + momentum * mean[k]);
    if (running_var) {
      const double unbiased = M > 1 ? var[k] * static_cast<double>(M) / static_cast<double>(M - 1) : var[k];
      running_var[c] = static_cast<T>((1.0 - momentum) * static_cast<double>(running_var[c]) + momentum * unbiased);
    }
  }
  // Pass 3: normalized output with affine and activation.
  normalize(x, s, mean, inv_std, weight, bias, act, y);
}

template <typename T>
void batch_norm_apply(const T* x, BatchNormShape s, const double* stats, const T* weight, const T* bias,
                      BnActivationParams act, T* y) {
  std::vector<double> mean(static_cast<size_t>(s.C)), inv_std(static_cast<size_t>(s.C));
  for (size_t k = 0; k < mean.size(); ++k) {
    mean[k] = stats[2 * k];
    inv_std[k] = stats[2 * k + 1];
  }
  normalize(x, s, mean, inv_std, weight, bias, act, y);
}

template <typename T>
void batch_norm_forward_eval(const T* x, BatchNormShape s, const T* running_mean, const T* running_var,
                             const T* weight, const T* bias, double eps, BnActivationParams act, T* y,
                             T* save_mean, T* save_inv_std) {
  std::vector<double> mean(static_cast<size_t>(s.C)), inv_std(static_cast<size_t>(s.C));
  for (int64_t c = 0; c < s.C; ++c) {
    const size_t k = static_cast<size_t>(c);
    mean[k] = static_cast<double>(running_mean[c]);
    inv_std[k] = 1.0 / std::sqrt(static_cast<double>(running_var[c]) + eps);
    if (save_mean) save_mean[c] = static_cast<T>(mean[k]);
    if (save_inv_std) save_inv_std[c] = static_cast<T>(inv_std[k]);
  }
  normalize(x, s, mean, inv_std, weight, bias, act, y);
}

namespace {

// The backward with x and y stored as S (T, or bfloat16 for float: values converted exactly on reading).
template <typename T, typename S>
void backward_impl(const T* grad_y, const S* x, const S* y, BatchNormShape s, const T* mean_in, const T* inv_std_in,
                   const T* weight, bool training, BnActivationParams act, T* grad_x, T* grad_weight, T* grad_bias) {
  const int64_t M = s.N * s.S;
  const T slope = static_cast<T>(act.slope);
  with_activation(act.kind, [&]<BnActivation A>() {
    // Reduction: per channel, sum gz and sum gz (x - mean); dw = the latter times inv_std.
    std::vector<double> sums;
    reduce_channels<2>(
        s,
        [&](int64_t c, int64_t n0, int64_t n1, double* acc) {
          const double m = static_cast<double>(mean_in[c]);
          double pg[kLanes] = {}, pgx[kLanes] = {};
          for (int64_t n = n0; n < n1; ++n) {
            const int64_t off = (n * s.C + c) * s.S;
            const T* gy = grad_y + off;
            const S *px = x + off, *py = y + off;
            // Two passes over the run: each vectorizes; one loop with both sums does not (GCC 12).
            accumulate8(s.S, pg, [=](int64_t i) {
              return static_cast<double>(gy[i] * activation_slope<A>(static_cast<T>(py[i]), slope));
            });
            accumulate8(s.S, pgx, [=](int64_t i) {
              return static_cast<double>(gy[i] * activation_slope<A>(static_cast<T>(py[i]), slope)) *
                     (static_cast<double>(static_cast<T>(px[i])) - m);
            });
          }
          acc[0] = total8(pg);
          acc[1] = total8(pgx) * static_cast<double>(inv_std_in[c]);
        },
        sums);
    for (int64_t c = 0; c < s.C; ++c) {
      if (grad_bias) grad_bias[c] = static_cast<T>(sums[static_cast<size_t>(2 * c)]);
      if (grad_weight) grad_weight[c] = static_cast<T>(sums[static_cast<size_t>(2 * c + 1)]);
    }
    if (!grad_x) return;
    // dx = a (gz - db/M - xhat dw/M) = gz k_g + (x - mean) k_x + k_0, with a = w inv_std, k_g = a,
    // k_x = -a inv_std dw/M, k_0 = -a db/M (k_x = k_0 = 0 in eval mode).
    const double inv_m = M > 0 ? 1.0 / static_cast<double>(M) : 0.0;
    std::vector<T> kg(static_cast<size_t>(s.C)), kx(kg.size()), k0(kg.size()), mt(kg.size());
    for (int64_t c = 0; c < s.C; ++c) {
      const size_t k = static_cast<size_t>(c);
      const double is = static_cast<double>(inv_std_in[c]);
      const double a = (weight ? static_cast<double>(weight[c]) : 1.0) * is;
      kg[k] = static_cast<T>(a);
      kx[k] = training ? static_cast<T>(-a * is * sums[2 * k + 1] * inv_m) : T(0);
      k0[k] = training ? static_cast<T>(-a * sums[2 * k] * inv_m) : T(0);
      mt[k] = mean_in[c];
    }
    const int64_t rows = s.N * s.C;
#pragma omp parallel for schedule(static) if (rows * s.S > kParallelGrain && rows > 1)
    for (int64_t r = 0; r < rows; ++r) {
      const size_t c = static_cast<size_t>(r % s.C);
      const T g = kg[c], xk = kx[c], b = k0[c], m = mt[c];
      const int64_t off = r * s.S;
      const T* gy = grad_y + off;
      const S *px = x + off, *py = y + off;
      T* gx = grad_x + off;
      for (int64_t i = 0; i < s.S; ++i)
        gx[i] = gy[i] * activation_slope<A>(static_cast<T>(py[i]), slope) * g + (static_cast<T>(px[i]) - m) * xk + b;
    }
  });
}

}  // namespace

template <typename T>
void batch_norm_backward(const T* grad_y, const T* x, const T* y, BatchNormShape s, const T* mean_in,
                         const T* inv_std_in, const T* weight, bool training, BnActivationParams act, T* grad_x,
                         T* grad_weight, T* grad_bias) {
  backward_impl(grad_y, x, y, s, mean_in, inv_std_in, weight, training, act, grad_x, grad_weight, grad_bias);
}

void batch_norm_backward(const float* grad_y, const bfloat16* x, const bfloat16* y, BatchNormShape s,
                         const float* mean_in, const float* inv_std_in, const float* weight, bool training,
                         BnActivationParams act, float* grad_x, float* grad_weight, float* grad_bias) {
  backward_impl(grad_y, x, y, s, mean_in, inv_std_in, weight, training, act, grad_x, grad_weight, grad_bias);
}

void batch_norm_count_batch(int64_t* num_batches_tracked) { ++*num_batches_tracked; }

#define GAN_INSTANTIATE(T)                                                                                      \
  template void batch_norm_forward_train<T>(const T*, BatchNormShape, const T*, const T*, double,             \
                                            BnActivationParams, T*, T*, T*, T*, T*, double, double*);         \
  template void batch_norm_apply<T>(const T*, BatchNormShape, const double*, const T*, const T*,              \
                                    BnActivationParams, T*);                                                    \
  template void batch_norm_forward_eval<T>(const T*, BatchNormShape, const T*, const T*, const T*, const T*,  \
                                           double, BnActivationParams, T*, T*, T*);                            \
  template void batch_norm_backward<T>(const T*, const T*, const T*, BatchNormShape, const T*, const T*,       \
                                       const T*, bool, BnActivationParams, T*, T*, T*);
GAN_INSTANTIATE(float)
GAN_INSTANTIATE(double)
#undef GAN_INSTANTIATE

}  // namespace gan::kernels::cpu
