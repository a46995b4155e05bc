// CUDA twin of kernels/cpu/losses.cpp (maths and contract in kernels/losses.h).
//
// One kernel per loss: a fixed grid (a function of n only) sweeps the elements with a grid-stride loop, writes
// the gradients and accumulates the loss terms in double per thread; the block sums them in a fixed tree, and the
// last block to finish adds the block partials in block order (kernels/cuda/reduce_scratch.cuh). The scalar
// sum is copied back to the host (memcpy_d2h waits for it), where it is scaled in double exactly as the CPU twin
// does. The per-element maths is the CPU twin's, in T.
#include "kernels/losses.h"

#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numbers>

#include "kernels/cuda/check.h"
#include "kernels/cuda/launch.cuh"
#include "kernels/cuda/reduce_scratch.cuh"
#include "kernels/cuda/runtime.h"

namespace gan::kernels::cuda {
namespace {

constexpr int kThreads = 256;
constexpr int64_t kMaxBlocks = 1024;
constexpr int64_t kItemsPerThread = 4;  // per grid sweep, before the grid size caps

unsigned blocks_for(int64_t units) {
  const int64_t b = (units + kThreads * kItemsPerThread - 1) / (kThreads * kItemsPerThread);
  return static_cast<unsigned>(std::clamp<int64_t>(b, 1, kMaxBlocks));
}

// Scratch: [results: kSlots doubles, padded][partials: kSlots * kMaxBlocks doubles]; one counter per slot.
constexpr int kSlots = 2;
constexpr size_t kResultBytes = 256;

struct Reduction {
  double* partials;  // kMaxBlocks doubles for this slot
  unsigned* counter;
  double* result;
};

struct ReductionScratch {
  Reduction slot[kSlots];
  double* results;
};

ReductionScratch reduction_scratch() {
  char* ws = static_cast<char*>(detail::scratch_workspace(kResultBytes + kSlots * kMaxBlocks * sizeof(double)));
  unsigned* counters = detail::scratch_counters(kSlots);
  ReductionScratch r{};
  r.results = reinterpret_cast<double*>(ws);
  for (int s = 0; s < kSlots; ++s)
    r.slot[s] = {reinterpret_cast<double*>(ws + kResultBytes) + s * kMaxBlocks, counters + s, r.results + s};
  return r;
}

// Every thread of every block calls this with its partial sum; *red.result receives the grid's sum.
__device__ __forceinline__ void grid_sum(double acc, const Reduction& red) {
  acc = detail::block_sum<kThreads>(acc);
  if (threadIdx.x == 0) red.partials[blockIdx.x] = acc;
  if (!detail::last_block_of_group(red.counter, 0, gridDim.x)) return;
  double total = 0.0;
  for (unsigned b = threadIdx.x; b < gridDim.x; b += kThreads) total += __ldcg(&red.partials[b]);
  total = detail::block_sum<kThreads>(total);
  if (threadIdx.x == 0) *red.result = total;
  detail::release_counter(red.counter, 0);
}

template <typename T>
__device__ __forceinline__ T stable_sigmoid(T x) {
  if (x >= T(0)) return T(1) / (T(1) + exp(-x));
  const T e = exp(x);
  return e / (T(1) + e);
}

template <typename T>
__global__ void __launch_bounds__(kThreads)
    bce_kernel(const T* __restrict__ x, const T* __restrict__ t, int64_t n, T inv_n, T* __restrict__ grad_x,
               T* __restrict__ grad_t, Reduction red) {
  double acc = 0.0;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * kThreads) {
    const T xi = x[i], ti = t[i];
    const T relu = xi > T(0) ? xi : T(0);
    acc += static_cast<double>(relu - xi * ti + log1p(exp(-fabs(xi))));
    if (grad_x) grad_x[i] = (stable_sigmoid(xi) - ti) * inv_n;
    if (grad_t) grad_t[i] = -xi * inv_n;
  }
  grid_sum(acc, red);
}

template <typename T>
__global__ void __launch_bounds__(kThreads)
    mse_kernel(const T* __restrict__ x, const T* __restrict__ t, int64_t n, T two_inv_n, T* __restrict__ grad_x,
               T* __restrict__ grad_t, Reduction red) {
  double acc = 0.0;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * kThreads) {
    const T d = x[i] - t[i];
    acc += static_cast<double>(d * d);
    if (grad_x) grad_x[i] = d * two_inv_n;
    if (grad_t) grad_t[i] = -d * two_inv_n;
  }
  grid_sum(acc, red);
}

// Gaussian NLL, one thread per variance group (small groups).
template <typename T>
__global__ void __launch_bounds__(kThreads)
    gaussian_nll_thread_kernel(const T* __restrict__ x, const T* __restrict__ t, const T* __restrict__ var,
                               int64_t groups, int64_t group, T inv_n, T eps, T* __restrict__ grad_x,
                               T* __restrict__ grad_t, T* __restrict__ grad_var, Reduction red) {
  double acc = 0.0;
  for (int64_t m = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x; m < groups;
       m += static_cast<int64_t>(gridDim.x) * kThreads) {
    const T vm = var[m];
    const T v = vm > eps ? vm : eps;  // std::max(var, eps): the clamp is invisible to autograd
    const T inv_v = T(1) / v;
    const T log_v = log(v);
    double gv = 0.0;
    for (int64_t i = m * group; i < (m + 1) * group; ++i) {
      const T d = x[i] - t[i];
      const T d2_v = d * d * inv_v;
      acc += static_cast<double>(T(0.5) * (log_v + d2_v));
      if (grad_x) grad_x[i] = d * inv_v * inv_n;
      if (grad_t) grad_t[i] = -d * inv_v * inv_n;
      if (grad_var) gv += static_cast<double>(T(0.5) * (inv_v - d2_v * inv_v) * inv_n);
    }
    if (grad_var) grad_var[m] = static_cast<T>(gv);
  }
  grid_sum(acc, red);
}

// Gaussian NLL, one warp per variance group (groups of 32 or more: coalesced reads, a warp-tree sum for dvar).
template <typename T>
__global__ void __launch_bounds__(kThreads)
    gaussian_nll_warp_kernel(const T* __restrict__ x, const T* __restrict__ t, const T* __restrict__ var,
                             int64_t groups, int64_t group, T inv_n, T eps, T* __restrict__ grad_x,
                             T* __restrict__ grad_t, T* __restrict__ grad_var, Reduction red) {
  constexpr int kWarps = kThreads / 32;
  const int lane = threadIdx.x & 31;
  double acc = 0.0;
  for (int64_t m = static_cast<int64_t>(blockIdx.x) * kWarps + (threadIdx.x >> 5); m < groups;
       m += static_cast<int64_t>(gridDim.x) * kWarps) {
    const T vm = var[m];
    const T v = vm > eps ? vm : eps;
    const T inv_v = T(1) / v;
    const T log_v = log(v);
    double gv = 0.0;
    for (int64_t i = m * group + lane; i < (m + 1) * group; i += 32) {
      const T d = x[i] - t[i];
      const T d2_v = d * d * inv_v;
      acc += static_cast<double>(T(0.5) * (log_v + d2_v));
      if (grad_x) grad_x[i] = d * inv_v * inv_n;
      if (grad_t) grad_t[i] = -d * inv_v * inv_n;
      if (grad_var) gv += static_cast<double>(T(0.5) * (inv_v - d2_v * inv_v) * inv_n);
    }
    if (grad_var) {
      gv = detail::warp_sum(gv);
      if (lane == 0) grad_var[m] = static_cast<T>(gv);
    }
  }
  grid_sum(acc, red);
}

template <typename T>
__global__ void __launch_bounds__(kThreads)
    kl_normal_kernel(const T* __restrict__ mu, const T* __restrict__ logvar, int64_t n, T inv_b,
                     T* __restrict__ grad_mu, T* __restrict__ grad_logvar, Reduction red) {
  double acc = 0.0;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * kThreads) {
    const T m = mu[i], lv = logvar[i];
    const T e = exp(lv);
    acc += static_cast<double>(T(-0.5) * (T(1) + lv - m * m - e));
    if (grad_mu) grad_mu[i] = m * inv_b;
    if (grad_logvar) grad_logvar[i] = T(0.5) * (e - T(1)) * inv_b;
  }
  grid_sum(acc, red);
}

template <typename T>
__global__ void __launch_bounds__(kThreads) sum_kernel(const T* __restrict__ p, int64_t n, Reduction red) {
  double acc = 0.0;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * kThreads)
    acc += static_cast<double>(p[i]);
  grid_sum(acc, red);
}

// The sums of the first `count` slots, on the host (waits for the stream).
void fetch_results(const ReductionScratch& r, double* out, int count) {
  memcpy_d2h(out, r.results, sizeof(double) * static_cast<size_t>(count));
}

}  // namespace

template <typename T>
T bce_with_logits(const T* x, const T* t, int64_t n, T* grad_x, T* grad_t) {
  if (n <= 0) return static_cast<T>(0.0 / static_cast<double>(n));  // as the CPU twin: 0 / 0
  const T inv_n = static_cast<T>(1.0 / static_cast<double>(n));
  const ReductionScratch r = reduction_scratch();
  launch<bce_kernel<T>>(blocks_for(n), kThreads, 0, stream(), x, t, n, inv_n, grad_x, grad_t, r.slot[0]);
  double total = 0.0;
  fetch_results(r, &total, 1);
  return static_cast<T>(total / static_cast<double>(n));
}

template <typename T>
T mse(const T* x, const T* t, int64_t n, T* grad_x, T* grad_t) {
  if (n <= 0) return static_cast<T>(0.0 / static_cast<double>(n));
  const T two_inv_n = static_cast<T>(2.0 / static_cast<double>(n));
  const ReductionScratch r = reduction_scratch();
  launch<mse_kernel<T>>(blocks_for(n), kThreads, 0, stream(), x, t, n, two_inv_n, grad_x, grad_t, r.slot[0]);
  double total = 0.0;
  fetch_results(r, &total, 1);
  return static_cast<T>(total / static_cast<double>(n));
}

template <typename T>
T gaussian_nll(const T* x, const T* t, const T* var, int64_t n, int64_t group, bool full, double eps, T* grad_x,
               T* grad_t, T* grad_var) {
  if (n <= 0 || group <= 0) return static_cast<T>(0.0 / static_cast<double>(n));
  const T inv_n = static_cast<T>(1.0 / static_cast<double>(n));
  const T eps_t = static_cast<T>(eps);
  const int64_t groups = n / group;
  const ReductionScratch r = reduction_scratch();
  if (group >= 32) {
    constexpr int64_t kWarps = kThreads / 32;
    const unsigned blocks = static_cast<unsigned>(std::clamp<int64_t>((groups + kWarps - 1) / kWarps, 1, kMaxBlocks));
    launch<gaussian_nll_warp_kernel<T>>(blocks, kThreads, 0, stream(), x, t, var, groups, group, inv_n, eps_t, grad_x,
                                        grad_t, grad_var, r.slot[0]);
  } else {
    launch<gaussian_nll_thread_kernel<T>>(blocks_for(groups), kThreads, 0, stream(), x, t, var, groups, group, inv_n,
                                          eps_t, grad_x, grad_t, grad_var, r.slot[0]);
  }
  double total = 0.0;
  fetch_results(r, &total, 1);
  double loss = total / static_cast<double>(n);
  if (full) loss += 0.5 * std::log(2.0 * std::numbers::pi);
  return static_cast<T>(loss);
}

template <typename T>
T kl_normal(const T* mu, const T* logvar, int64_t n, int64_t batch, T* grad_mu, T* grad_logvar) {
  if (n <= 0) return static_cast<T>(0.0 / static_cast<double>(batch));
  const T inv_b = static_cast<T>(1.0 / static_cast<double>(batch));
  const ReductionScratch r = reduction_scratch();
  launch<kl_normal_kernel<T>>(blocks_for(n), kThreads, 0, stream(), mu, logvar, n, inv_b, grad_mu, grad_logvar,
                              r.slot[0]);
  double total = 0.0;
  fetch_results(r, &total, 1);
  return static_cast<T>(total / static_cast<double>(batch));
}

template <typename T>
T wasserstein(const T* real, int64_t n_real, const T* fake, int64_t n_fake) {
  const bool has_real = real && n_real > 0, has_fake = fake && n_fake > 0;
  if (!has_real && !has_fake) return T(0);
  const ReductionScratch r = reduction_scratch();
  if (has_fake) {
    launch<sum_kernel<T>>(blocks_for(n_fake), kThreads, 0, stream(), fake, n_fake, r.slot[0]);
  }
  if (has_real) {
    launch<sum_kernel<T>>(blocks_for(n_real), kThreads, 0, stream(), real, n_real, r.slot[1]);
  }
  double sums[kSlots] = {0.0, 0.0};
  fetch_results(r, sums, kSlots);
  const double mean_fake = has_fake ? sums[0] / static_cast<double>(n_fake) : 0.0;
  const double mean_real = has_real ? sums[1] / static_cast<double>(n_real) : 0.0;
  return static_cast<T>(mean_fake - mean_real);
}

#define GAN_INSTANTIATE(T)                                                                                    \
  template T bce_with_logits<T>(const T*, const T*, int64_t, T*, T*);                                         \
  template T mse<T>(const T*, const T*, int64_t, T*, T*);                                                     \
  template T gaussian_nll<T>(const T*, const T*, const T*, int64_t, int64_t, bool, double, T*, T*, T*);       \
  template T kl_normal<T>(const T*, const T*, int64_t, int64_t, T*, T*);                                      \
  template T wasserstein<T>(const T*, int64_t, const T*, int64_t);
GAN_INSTANTIATE(float)
GAN_INSTANTIATE(double)
#undef GAN_INSTANTIATE

}  // namespace gan::kernels::cuda
