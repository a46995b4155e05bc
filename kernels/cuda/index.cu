// CUDA twin of kernels/cpu/index.cpp (contract in kernels/index.h).
//
// gather_rows: one thread per output element (rows are contiguous, so a warp copies 32 neighbouring values).
// index_add_rows: deterministic without atomics, and bit-identical to the CPU. Thread (g, c) owns column c of
//   every output row whose index is congruent to g modulo G, walks i = 0..n-1 in order and adds src[i, c] when
//   idx[i] % G == g. Each output element thus has exactly one writer, which adds its contributions in increasing
//   i in T, just like the CPU loop. G (1..32) multiplies the parallelism beyond the row length when rows are
//   short; the price is that every thread reads all n indices (broadcast loads, cheap next to the adds).
#include "kernels/index.h"

#include <cuda_runtime.h>

#include <cstdint>

#include "kernels/cuda/check.h"
#include "kernels/cuda/launch.cuh"
#include "kernels/cuda/runtime.h"
#include "kernels/cuda/strided_loops.cuh"

namespace gan::kernels::cuda {
namespace {

using detail::kThreads;

template <typename T, typename I>
__global__ void gather_rows_kernel(const T* table, I row_len, const int64_t* idx, I total, T* out) {
  const I step = static_cast<I>(gridDim.x) * blockDim.x;
  for (I k = static_cast<I>(blockIdx.x) * blockDim.x + threadIdx.x; k < total; k += step) {
    const I i = k / row_len, c = k - i * row_len;
    out[k] = table[static_cast<int64_t>(idx[i]) * row_len + c];
  }
}

template <typename T>
__global__ void index_add_rows_kernel(const T* src, const int64_t* idx, int64_t n, int64_t row_len, int64_t groups,
                                      T* out) {
  const int64_t c = int64_t{blockIdx.x} * blockDim.x + threadIdx.x;
  const int64_t g = blockIdx.y;
  if (c >= row_len) return;
  for (int64_t i = 0; i < n; ++i) {
    const int64_t row = idx[i];
    if (row % groups == g) out[row * row_len + c] += src[i * row_len + c];
  }
}

// One thread per output element: out[k] = (labels[k / classes] == k % classes).
template <typename T>
__global__ void one_hot_kernel(const int64_t* labels, int64_t classes, int64_t total, T* out) {
  const int64_t step = int64_t{gridDim.x} * blockDim.x;
  for (int64_t k = int64_t{blockIdx.x} * blockDim.x + threadIdx.x; k < total; k += step) {
    const int64_t i = k / classes;
    out[k] = labels[i] == k - i * classes ? T(1) : T(0);
  }
}

}  // namespace

template <typename T>
void gather_rows(const T* table, int64_t row_len, const int64_t* idx, int64_t n, T* out) {
  const int64_t total = n * row_len;
  if (total == 0) return;
  cudaStream_t st = stream();
  // int64_t loop counters are safe for any size; 32-bit ones need total + grid size < 2^31.
  if (total < (int64_t{1} << 30))
    launch<gather_rows_kernel<T, int32_t>>(detail::grid_for(total), kThreads, 0, st, table,
                                           static_cast<int32_t>(row_len), idx, static_cast<int32_t>(total), out);
  else
    launch<gather_rows_kernel<T, int64_t>>(detail::grid_for(total), kThreads, 0, st, table, row_len, idx, total, out);
}

template <typename T>
void index_add_rows(const T* src, const int64_t* idx, int64_t n, int64_t row_len, T* out) {
  if (row_len == 0 || n == 0) return;
  // Enough groups for ~8K threads when rows are short, at most 32 and at most n. Any G gives the same result.
  int64_t groups = (8192 + row_len - 1) / row_len;
  if (groups > 32) groups = 32;
  if (groups > n) groups = n;
  const dim3 grid(static_cast<unsigned>((row_len + kThreads - 1) / kThreads), static_cast<unsigned>(groups));
  launch<index_add_rows_kernel<T>>(grid, kThreads, 0, stream(), src, idx, n, row_len, groups, out);
}

template <typename T>
void one_hot(const int64_t* labels, int64_t n, int64_t k, T* out) {
  const int64_t total = n * k;
  if (total == 0) return;
  launch<one_hot_kernel<T>>(detail::grid_for(total), kThreads, 0, stream(), labels, k, total, out);
}

#define GAN_INSTANTIATE(T)                                                          \
  template void gather_rows<T>(const T*, int64_t, const int64_t*, int64_t, T*);     \
  template void index_add_rows<T>(const T*, const int64_t*, int64_t, int64_t, T*);
GAN_INSTANTIATE(float)
GAN_INSTANTIATE(double)
#undef GAN_INSTANTIATE
template void one_hot<float>(const int64_t*, int64_t, int64_t, float*);
template void one_hot<double>(const int64_t*, int64_t, int64_t, double*);
template void one_hot<int64_t>(const int64_t*, int64_t, int64_t, int64_t*);

}  // namespace gan::kernels::cuda
