// CUDA twin of kernels/cpu/losses.cpp (maths and contract in kernels/losses.h).
//
// One kernel per loss: a fixed grid (a function of n only) sweeps the elements with a grid-stride loop, writes
// the gradients and accumulates the loss terms in double per thread; the block sums them in a fixed tree, and the
// last block to finish adds the block partials in block order (kernels/cuda/reduce_scratch.cuh). The scalar
// sum is scaled in double exactly as the CPU twin does: on the host after a copy back (the value-returning twins;
// memcpy_d2h waits for it) or by a one-thread kernel into device memory (the _to twins, which never wait). The
// per-element maths is the CPU twin's, in T.
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
    bce_kernel(const T* __restrict__ x, const T* __restrict__ t, int64_t n, T inv_d, T* __restrict__ terms,
               T* __restrict__ grad_x, T* __restrict__ grad_t, Reduction red) {
  double acc = 0.0;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * kThreads) {
    const T xi = x[i], ti = t[i];
    const T relu = xi > T(0) ? xi : T(0);
    const T l = relu - xi * ti + log1p(exp(-fabs(xi)));
    acc += static_cast<double>(l);
    if (terms) terms[i] = l;
    if (grad_x) grad_x[i] = (stable_sigmoid(xi) - ti) * inv_d;
    if (grad_t) grad_t[i] = -xi * inv_d;
  }
  grid_sum(acc, red);
}

template <typename T>
__global__ void __launch_bounds__(kThreads)
    mse_kernel(const T* __restrict__ x, const T* __restrict__ t, int64_t n, T two_inv_d, T* __restrict__ terms,
               T* __restrict__ grad_x, T* __restrict__ grad_t, Reduction red) {
  double acc = 0.0;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * kThreads) {
    const T d = x[i] - t[i];
    acc += static_cast<double>(d * d);
    if (terms) terms[i] = d * d;
    if (grad_x) grad_x[i] = d * two_inv_d;
    if (grad_t) grad_t[i] = -d * two_inv_d;
  }
  grid_sum(acc, red);
}

// Gaussian NLL's arguments (one struct keeps the two kernels' launches short).
template <typename T>
struct GnllArgs {
  const T* x;
  const T* t;
  const T* var;
  int64_t groups, group;
  T inv_d, eps, c;  // 1 / divisor, the variance clamp, the per-term constant of `full`
  T* terms;
  T* grad_x;
  T* grad_t;
  T* grad_var;
};

// Elements first, first + step, ... of variance group m: writes their terms and gradients, adds their loss terms to
// acc and returns their part of dL/dvar_m.
template <typename T>
__device__ __forceinline__ double gnll_elements(const GnllArgs<T>& a, int64_t m, int64_t first, int64_t step,
                                                double& acc) {
  const T vm = a.var[m];
  const T v = vm > a.eps ? vm : a.eps;  // std::max(var, eps): the clamp is invisible to autograd
  const T inv_v = T(1) / v;
  const T log_v = log(v);
  double gv = 0.0;
  for (int64_t i = m * a.group + first; i < (m + 1) * a.group; i += step) {
    const T d = a.x[i] - a.t[i];
    const T d2_v = d * d * inv_v;
    const T l = T(0.5) * (log_v + d2_v);
    acc += static_cast<double>(l);
    if (a.terms) a.terms[i] = l + a.c;
    if (a.grad_x) a.grad_x[i] = d * inv_v * a.inv_d;
    if (a.grad_t) a.grad_t[i] = -d * inv_v * a.inv_d;
    if (a.grad_var) gv += static_cast<double>(T(0.5) * (inv_v - d2_v * inv_v) * a.inv_d);
  }
  return gv;
}

// Gaussian NLL, one thread per variance group (small groups).
template <typename T>
__global__ void __launch_bounds__(kThreads) gaussian_nll_thread_kernel(GnllArgs<T> a, Reduction red) {
  double acc = 0.0;
  for (int64_t m = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x; m < a.groups;
       m += static_cast<int64_t>(gridDim.x) * kThreads) {
    const double gv = gnll_elements(a, m, 0, 1, acc);
    if (a.grad_var) a.grad_var[m] = static_cast<T>(gv);
  }
  grid_sum(acc, red);
}

// Gaussian NLL, one warp per variance group (groups of 32 or more: coalesced reads, a warp-tree sum for dvar).
template <typename T>
__global__ void __launch_bounds__(kThreads) gaussian_nll_warp_kernel(GnllArgs<T> a, Reduction red) {
  constexpr int kWarps = kThreads / 32;
  const int lane = threadIdx.x & 31;
  double acc = 0.0;
  for (int64_t m = static_cast<int64_t>(blockIdx.x) * kWarps + (threadIdx.x >> 5); m < a.groups;
       m += static_cast<int64_t>(gridDim.x) * kWarps) {
    double gv = gnll_elements(a, m, lane, 32, acc);
    if (a.grad_var) {
      gv = detail::warp_sum(gv);
      if (lane == 0) a.grad_var[m] = static_cast<T>(gv);
    }
  }
  grid_sum(acc, red);
}

template <typename T>
__global__ void __launch_bounds__(kThreads)
    kl_normal_kernel(const T* __restrict__ mu, const T* __restrict__ logvar, int64_t n, T inv_d,
                     T* __restrict__ terms, T* __restrict__ grad_mu, T* __restrict__ grad_logvar, Reduction red) {
  double acc = 0.0;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * kThreads) {
    const T m = mu[i], lv = logvar[i];
    const T e = exp(lv);
    const T l = T(-0.5) * (T(1) + lv - m * m - e);
    acc += static_cast<double>(l);
    if (terms) terms[i] = l;
    if (grad_mu) grad_mu[i] = m * inv_d;
    if (grad_logvar) grad_logvar[i] = T(0.5) * (e - T(1)) * inv_d;
  }
  grid_sum(acc, red);
}

// Hinge terms max(0, 1 + sign p) and their gradient sign [1 + sign p > 0] / divisor.
template <typename T>
__global__ void __launch_bounds__(kThreads)
    hinge_kernel(const T* __restrict__ p, int64_t n, T sign, T g_active, T* __restrict__ terms,
                 T* __restrict__ grad, Reduction red) {
  double acc = 0.0;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * kThreads) {
    const T margin = T(1) + sign * p[i];
    const T l = margin > T(0) ? margin : T(0);
    acc += static_cast<double>(l);
    if (terms) terms[i] = l;
    if (grad) grad[i] = margin > T(0) ? g_active : T(0);
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

// How a loss's value follows from its reduction slots, in double, exactly as the CPU twin forms it. The host
// (the value-returning twins: one copy back, which waits) and finish_kernel (the _to twins: the value stays on the
// device, no wait) run the same code, so both give the same bits.
struct Finish {
  enum Mode { kConstant, kQuotient, kQuotientPlus, kDifference } mode = kConstant;
  double div0 = 1, div1 = 1;  // kQuotient*: slot 0 / div0; kDifference: slot 0 / div0 - slot 1 / div1
  double add = 0;             // kConstant: the value; kQuotientPlus: added to the quotient
  bool use0 = true, use1 = true;  // kDifference: a term whose array was absent is 0
  int slots = 1;              // reduction slots the value reads
};

__host__ __device__ inline double finish_value(const double* sums, const Finish& f) {
  switch (f.mode) {
    case Finish::kConstant: return f.add;
    case Finish::kQuotient: return sums[0] / f.div0;
    case Finish::kQuotientPlus: return sums[0] / f.div0 + f.add;
    case Finish::kDifference: {
      const double a = f.use0 ? sums[0] / f.div0 : 0.0;
      const double b = f.use1 ? sums[1] / f.div1 : 0.0;
      return a - b;
    }
  }
  return 0.0;
}

template <typename T>
__global__ void finish_kernel(const double* __restrict__ sums, Finish f, T* __restrict__ out) {
  if (blockIdx.x == 0 && threadIdx.x == 0) *out = static_cast<T>(finish_value(sums, f));
}

// The value on the host (copies the slots back: waits for the stream).
template <typename T>
T finish_on_host(const ReductionScratch& r, const Finish& f) {
  double sums[kSlots] = {0.0, 0.0};
  if (f.mode != Finish::kConstant) memcpy_d2h(sums, r.results, sizeof(double) * static_cast<size_t>(f.slots));
  return static_cast<T>(finish_value(sums, f));
}

// The value into *out on the device, queued behind the reduction: the host does not wait.
template <typename T>
void finish_on_device(const ReductionScratch& r, const Finish& f, T* out) {
  launch<finish_kernel<T>>(1, 1, 0, stream(), r.results, f, out);
}

Finish quotient(double divisor) { return {.mode = Finish::kQuotient, .div0 = divisor}; }
Finish constant(double value) { return {.mode = Finish::kConstant, .add = value}; }

// ---- the launches of each loss; the value follows from the returned Finish ----

template <typename T>
Finish launch_bce_with_logits(const ReductionScratch& r, const T* x, const T* t, int64_t n, double divisor, T* terms,
                              T* grad_x, T* grad_t) {
  if (n <= 0) return constant(0.0 / divisor);  // as the CPU twin: a sum of nothing
  const T inv_d = static_cast<T>(1.0 / divisor);
  launch<bce_kernel<T>>(blocks_for(n), kThreads, 0, stream(), x, t, n, inv_d, terms, grad_x, grad_t, r.slot[0]);
  return quotient(divisor);
}

template <typename T>
Finish launch_mse(const ReductionScratch& r, const T* x, const T* t, int64_t n, double divisor, T* terms, T* grad_x,
                  T* grad_t) {
  if (n <= 0) return constant(0.0 / divisor);
  const T two_inv_d = static_cast<T>(2.0 / divisor);
  launch<mse_kernel<T>>(blocks_for(n), kThreads, 0, stream(), x, t, n, two_inv_d, terms, grad_x, grad_t, r.slot[0]);
  return quotient(divisor);
}

template <typename T>
Finish launch_gaussian_nll(const ReductionScratch& r, const T* x, const T* t, const T* var, int64_t n, int64_t group,
                           bool full, double eps, double divisor, T* terms, T* grad_x, T* grad_t, T* grad_var) {
  if (n <= 0 || group <= 0) return constant(0.0 / divisor);
  const T inv_d = static_cast<T>(1.0 / divisor);
  const T eps_t = static_cast<T>(eps);
  const double log_2pi_half = 0.5 * std::log(2.0 * std::numbers::pi);
  const T c = full ? static_cast<T>(log_2pi_half) : T(0);
  const int64_t groups = n / group;
  const GnllArgs<T> args{x, t, var, groups, group, inv_d, eps_t, c, terms, grad_x, grad_t, grad_var};
  if (group >= 32) {
    constexpr int64_t kWarps = kThreads / 32;
    const unsigned blocks = static_cast<unsigned>(std::clamp<int64_t>((groups + kWarps - 1) / kWarps, 1, kMaxBlocks));
    launch<gaussian_nll_warp_kernel<T>>(blocks, kThreads, 0, stream(), args, r.slot[0]);
  } else {
    launch<gaussian_nll_thread_kernel<T>>(blocks_for(groups), kThreads, 0, stream(), args, r.slot[0]);
  }
  if (!full) return quotient(divisor);
  return {.mode = Finish::kQuotientPlus, .div0 = divisor, .add = log_2pi_half * (static_cast<double>(n) / divisor)};
}

template <typename T>
Finish launch_kl_normal(const ReductionScratch& r, const T* mu, const T* logvar, int64_t n, double divisor, T* terms,
                        T* grad_mu, T* grad_logvar) {
  if (n <= 0) return constant(0.0 / divisor);
  const T inv_d = static_cast<T>(1.0 / divisor);
  launch<kl_normal_kernel<T>>(blocks_for(n), kThreads, 0, stream(), mu, logvar, n, inv_d, terms, grad_mu,
                              grad_logvar, r.slot[0]);
  return quotient(divisor);
}

template <typename T>
Finish launch_wasserstein(const ReductionScratch& r, const T* real, int64_t n_real, double div_real, const T* fake,
                          int64_t n_fake, double div_fake) {
  const bool has_real = real && n_real > 0, has_fake = fake && n_fake > 0;
  if (!has_real && !has_fake) return constant(0.0);
  if (has_fake) launch<sum_kernel<T>>(blocks_for(n_fake), kThreads, 0, stream(), fake, n_fake, r.slot[0]);
  if (has_real) launch<sum_kernel<T>>(blocks_for(n_real), kThreads, 0, stream(), real, n_real, r.slot[1]);
  return {.mode = Finish::kDifference, .div0 = div_fake, .div1 = div_real, .use0 = has_fake, .use1 = has_real,
          .slots = kSlots};
}

template <typename T>
Finish launch_hinge(const ReductionScratch& r, const T* p, int64_t n, double sign, double divisor, T* terms, T* grad) {
  if (n <= 0) return constant(0.0 / divisor);
  launch<hinge_kernel<T>>(blocks_for(n), kThreads, 0, stream(), p, n, static_cast<T>(sign),
                          static_cast<T>(sign / divisor), terms, grad, r.slot[0]);
  return quotient(divisor);
}

}  // namespace

// Each loss twice: returning the value (waits for it) and writing it to device memory (no wait).
#define GAN_LOSS_PAIR(NAME, PARAMS, ARGS)                                      \
  template <typename T>                                                        \
  T NAME PARAMS {                                                              \
    const ReductionScratch r = reduction_scratch();                            \
    return finish_on_host<T>(r, launch_##NAME<T> ARGS);                        \
  }                                                                            \
  template <typename T>                                                        \
  void NAME##_to(T* result, GAN_UNPAREN PARAMS) {                              \
    const ReductionScratch r = reduction_scratch();                            \
    finish_on_device<T>(r, launch_##NAME<T> ARGS, result);                     \
  }
#define GAN_UNPAREN(...) __VA_ARGS__

GAN_LOSS_PAIR(bce_with_logits, (const T* x, const T* t, int64_t n, double divisor, T* terms, T* grad_x, T* grad_t),
              (r, x, t, n, divisor, terms, grad_x, grad_t))
GAN_LOSS_PAIR(mse, (const T* x, const T* t, int64_t n, double divisor, T* terms, T* grad_x, T* grad_t),
              (r, x, t, n, divisor, terms, grad_x, grad_t))
GAN_LOSS_PAIR(gaussian_nll,
              (const T* x, const T* t, const T* var, int64_t n, int64_t group, bool full, double eps, double divisor,
               T* terms, T* grad_x, T* grad_t, T* grad_var),
              (r, x, t, var, n, group, full, eps, divisor, terms, grad_x, grad_t, grad_var))
GAN_LOSS_PAIR(kl_normal, (const T* mu, const T* logvar, int64_t n, double divisor, T* terms, T* grad_mu,
                          T* grad_logvar),
              (r, mu, logvar, n, divisor, terms, grad_mu, grad_logvar))
GAN_LOSS_PAIR(wasserstein, (const T* real, int64_t n_real, double div_real, const T* fake, int64_t n_fake,
                            double div_fake),
              (r, real, n_real, div_real, fake, n_fake, div_fake))
GAN_LOSS_PAIR(hinge, (const T* p, int64_t n, double sign, double divisor, T* terms, T* grad),
              (r, p, n, sign, divisor, terms, grad))
#undef GAN_LOSS_PAIR
#undef GAN_UNPAREN

#define GAN_INSTANTIATE(T)                                                                                      \
  template T bce_with_logits<T>(const T*, const T*, int64_t, double, T*, T*, T*);                               \
  template T mse<T>(const T*, const T*, int64_t, double, T*, T*, T*);                                           \
  template T gaussian_nll<T>(const T*, const T*, const T*, int64_t, int64_t, bool, double, double, T*, T*, T*,  \
                             T*);                                                                               \
  template T kl_normal<T>(const T*, const T*, int64_t, double, T*, T*, T*);                                     \
  template T wasserstein<T>(const T*, int64_t, double, const T*, int64_t, double);                              \
  template T hinge<T>(const T*, int64_t, double, double, T*, T*);                                              \
  template void bce_with_logits_to<T>(T*, const T*, const T*, int64_t, double, T*, T*, T*);                     \
  template void mse_to<T>(T*, const T*, const T*, int64_t, double, T*, T*, T*);                                 \
  template void gaussian_nll_to<T>(T*, const T*, const T*, const T*, int64_t, int64_t, bool, double, double, T*, \
                                   T*, T*, T*);                                                                 \
  template void kl_normal_to<T>(T*, const T*, const T*, int64_t, double, T*, T*, T*);                           \
  template void wasserstein_to<T>(T*, const T*, int64_t, double, const T*, int64_t, double);                    \
  template void hinge_to<T>(T*, const T*, int64_t, double, double, T*, T*);
GAN_INSTANTIATE(float)
GAN_INSTANTIATE(double)
#undef GAN_INSTANTIATE

}  // namespace gan::kernels::cuda
