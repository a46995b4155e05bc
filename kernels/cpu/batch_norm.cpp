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

inline double activate(double z, const BnActivationParams& act) {
  switch (act.kind) {
    case BnActivation::Identity: return z;
    case BnActivation::ReLU: return z > 0.0 ? z : 0.0;
    case BnActivation::LeakyReLU: return z > 0.0 ? z : z * act.slope;
  }
  return z;
}

// act'(z) recovered from y = act(z).
inline double activation_slope(double y, const BnActivationParams& act) {
  switch (act.kind) {
    case BnActivation::Identity: return 1.0;
    case BnActivation::ReLU: return y > 0.0 ? 1.0 : 0.0;
    case BnActivation::LeakyReLU: return y > 0.0 ? 1.0 : act.slope;
  }
  return 1.0;
}

// y[n, c, :] = act((x - mean_c) * w_c * inv_std_c + b_c), evaluated in double.
template <typename T>
void normalize(const T* x, const BatchNormShape& s, const std::vector<double>& mean,
               const std::vector<double>& inv_std, const T* weight, const T* bias, const BnActivationParams& act,
               T* y) {
  const int64_t rows = s.N * s.C;
#pragma omp parallel for schedule(static) if (rows * s.S > kParallelGrain && rows > 1)
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t c = r % s.C;
    const double m = mean[static_cast<size_t>(c)];
    const double scale = (weight ? static_cast<double>(weight[c]) : 1.0) * inv_std[static_cast<size_t>(c)];
    const double shift = bias ? static_cast<double>(bias[c]) : 0.0;
    const T* px = x + r * s.S;
    T* py = y + r * s.S;
    for (int64_t i = 0; i < s.S; ++i)
      py[i] = static_cast<T>(activate((static_cast<double>(px[i]) - m) * scale + shift, act));
  }
}

}  // namespace

template <typename T>
void batch_norm_forward_train(const T* x, BatchNormShape s, const T* weight, const T* bias, double eps,
                              BnActivationParams act, T* y, T* save_mean, T* save_inv_std, T* running_mean,
                              T* running_var, double momentum) {
  const int64_t M = s.N * s.S;
  const double inv_m = M > 0 ? 1.0 / static_cast<double>(M) : 0.0;
  // Pass 1: mean.
  std::vector<double> mean;
  reduce_channels<1>(
      s,
      [&](int64_t c, int64_t n0, int64_t n1, double* acc) {
        double a = 0.0;
        for (int64_t n = n0; n < n1; ++n) {
          const T* p = x + (n * s.C + c) * s.S;
          for (int64_t i = 0; i < s.S; ++i) a += static_cast<double>(p[i]);
        }
        acc[0] = a;
      },
      mean);
  for (double& m : mean) m *= inv_m;
  // Pass 2: biased variance from squared deviations.
  std::vector<double> var;
  reduce_channels<1>(
      s,
      [&](int64_t c, int64_t n0, int64_t n1, double* acc) {
        const double m = mean[static_cast<size_t>(c)];
        double a = 0.0;
        for (int64_t n = n0; n < n1; ++n) {
          const T* p = x + (n * s.C + c) * s.S;
          for (int64_t i = 0; i < s.S; ++i) {
            const double d = static_cast<double>(p[i]) - m;
            a += d * d;
          }
        }
        acc[0] = a;
      },
      var);
  std::vector<double> inv_std(static_cast<size_t>(s.C));
  for (int64_t c = 0; c < s.C; ++c) {
    const size_t k = static_cast<size_t>(c);
    var[k] *= inv_m;
    inv_std[k] = 1.0 / std::sqrt(var[k] + eps);
    if (save_mean) save_mean[c] = static_cast<T>(mean[k]);
    if (save_inv_std) save_inv_std[c] = static_cast<T>(inv_std[k]);
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

template <typename T>
void batch_norm_backward(const T* grad_y, const T* x, const T* y, BatchNormShape s, const T* mean_in,
                         const T* inv_std_in, const T* weight, bool training, BnActivationParams act, T* grad_x,
                         T* grad_weight, T* grad_bias) {
  const int64_t M = s.N * s.S;
  // Reduction: per channel, sum gz and sum gz * xhat.
  std::vector<double> sums;
  reduce_channels<2>(
      s,
      [&](int64_t c, int64_t n0, int64_t n1, double* acc) {
        const double m = static_cast<double>(mean_in[c]), is = static_cast<double>(inv_std_in[c]);
        double sg = 0.0, sgx = 0.0;
        for (int64_t n = n0; n < n1; ++n) {
          const int64_t off = (n * s.C + c) * s.S;
          for (int64_t i = 0; i < s.S; ++i) {
            const double gz = static_cast<double>(grad_y[off + i]) * activation_slope(static_cast<double>(y[off + i]), act);
            sg += gz;
            sgx += gz * (static_cast<double>(x[off + i]) - m) * is;
          }
        }
        acc[0] = sg;
        acc[1] = sgx;
      },
      sums);
  for (int64_t c = 0; c < s.C; ++c) {
    if (grad_bias) grad_bias[c] = static_cast<T>(sums[static_cast<size_t>(2 * c)]);
    if (grad_weight) grad_weight[c] = static_cast<T>(sums[static_cast<size_t>(2 * c + 1)]);
  }
  if (!grad_x) return;
  const double inv_m = M > 0 ? 1.0 / static_cast<double>(M) : 0.0;
  const int64_t rows = s.N * s.C;
#pragma omp parallel for schedule(static) if (rows * s.S > kParallelGrain && rows > 1)
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t c = r % s.C;
    const double m = static_cast<double>(mean_in[c]), is = static_cast<double>(inv_std_in[c]);
    const double a = (weight ? static_cast<double>(weight[c]) : 1.0) * is;
    const double db_m = training ? sums[static_cast<size_t>(2 * c)] * inv_m : 0.0;
    const double dw_m = training ? sums[static_cast<size_t>(2 * c + 1)] * inv_m : 0.0;
    const int64_t off = r * s.S;
    for (int64_t i = 0; i < s.S; ++i) {
      const double gz = static_cast<double>(grad_y[off + i]) * activation_slope(static_cast<double>(y[off + i]), act);
      const double xhat = (static_cast<double>(x[off + i]) - m) * is;
      grad_x[off + i] = static_cast<T>(a * (gz - db_m - xhat * dw_m));
    }
  }
}

#define GAN_INSTANTIATE(T)                                                                                      \
  template void batch_norm_forward_train<T>(const T*, BatchNormShape, const T*, const T*, double,             \
                                            BnActivationParams, T*, T*, T*, T*, T*, double);                  \
  template void batch_norm_forward_eval<T>(const T*, BatchNormShape, const T*, const T*, const T*, const T*,  \
                                           double, BnActivationParams, T*, T*, T*);                            \
  template void batch_norm_backward<T>(const T*, const T*, const T*, BatchNormShape, const T*, const T*,       \
                                       const T*, bool, BnActivationParams, T*, T*, T*);
GAN_INSTANTIATE(float)
GAN_INSTANTIATE(double)
#undef GAN_INSTANTIATE

}  // namespace gan::kernels::cpu
