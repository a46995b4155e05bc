// CUDA twin of kernels/cpu/reduce.cpp (contract in kernels/reduce.h).
//
// Determinism: no float atomics anywhere. Every output is formed by a fixed summation order that depends only on
// the shapes, never on the GPU, the grid size or timing, so reruns (and resumes on another GPU) are
// bit-identical. Sums accumulate in double for float and double inputs, like the CPU.
//
// sum picks one of two plans from the shapes:
//   thread per output: each thread walks its output's reduced elements in row-major order, exactly the CPU's
//     order, so the result is bit-identical to the CPU's single-chunk path. Used when there is little to
//     reduce per output (<= 32 elements) or for column sums (the kept innermost dim has stride 1, so a warp
//     reads 32 neighbouring elements per step) with many outputs.
//   block per (output, chunk): the reduced range is cut into a fixed number of chunks (from the sizes only);
//     each 256-thread block sums its chunk (thread t takes elements t, t+256, ...; a fixed shared-memory tree
//     combines the threads), and a second kernel adds each output's chunk sums in chunk order. Used for
//     everything else: row sums, sums over all elements, per-channel sums over N*H*W.
//   Both differ from the CPU (which sums sequentially, or in 64 chunks for few outputs) only by the rounding of
//   the double accumulation order, far below float precision and at the 1e-16 level relative in double.
// max_along: one thread per output, scanning r in order exactly like the CPU (first occurrence of the maximum,
//   the first NaN wins); rows of >= 128 elements with inner == 1 (argmax over classes) use a warp per row whose
//   lanes scan interleaved slices and combine with the same rule, which yields the same index and value.
// gather_along / scatter_add_along: one thread per (o, i). The scatter needs no atomics: (o, i) writes only
//   out[o, idx[o, i], i], and distinct (o, i) never share a target.
#include "kernels/reduce.h"

#include <cuda_runtime.h>

#include <cstdint>
#include <stdexcept>
#include <string>

#include "kernels/cuda/allocator.h"
#include "kernels/cuda/check.h"
#include "kernels/cuda/launch.cuh"
#include "kernels/cuda/runtime.h"
#include "kernels/cuda/strided_loops.cuh"

namespace gan::kernels::cuda {
namespace {

using detail::Coalesced;
using detail::kThreads;
using detail::Strided;

// ---- sum ------------------------------------------------------------------------------------------------

// Element offsets of reduced elements r0, r0 + 1, ... walked as an odometer over the (coalesced) reduced dims:
// no division per element after the first.
template <typename T, typename I>
__device__ __forceinline__ double sum_sequential(const T* base, const Strided<1, I>& red, I r0, I count) {
  if (count <= 0) return 0.0;
  double acc = 0.0;
  if (red.ndim <= 1) {
    const I stride = red.ndim == 0 ? I(0) : red.strides[0][0];
    for (I r = r0; r < r0 + count; ++r) acc += static_cast<double>(base[r * stride]);
    return acc;
  }
  I idx[kMaxDims] = {};
  I off = 0;
  {
    I rem = r0;
    for (int d = red.ndim - 1; d >= 0; --d) {
      idx[d] = d == 0 ? rem : rem % red.shape[d];
      rem = d == 0 ? I(0) : rem / red.shape[d];
      off += idx[d] * red.strides[0][d];
    }
  }
  const int last = red.ndim - 1;
  for (I n = 0; n < count; ++n) {
    acc += static_cast<double>(base[off]);
    // advance the odometer
    int d = last;
    ++idx[d];
    off += red.strides[0][d];
    while (d > 0 && idx[d] == red.shape[d]) {
      off -= idx[d] * red.strides[0][d];
      idx[d] = 0;
      --d;
      ++idx[d];
      off += red.strides[0][d];
    }
  }
  return acc;
}

template <typename T, typename I>
__global__ void sum_thread_per_output(const T* in, T* out, int64_t n_out, I n_red, Strided<1, I> kept,
                                      Strided<1, I> red) {
  const int64_t step = int64_t{gridDim.x} * blockDim.x;
  for (int64_t k = int64_t{blockIdx.x} * blockDim.x + threadIdx.x; k < n_out; k += step) {
    I off[1];
    kept.offsets(static_cast<I>(k), off);
    out[k] = static_cast<T>(sum_sequential(in + off[0], red, I(0), n_red));
  }
}

// Block b handles output b / chunks, chunk b % chunks. chunks == 1 writes T straight to out; otherwise the chunk
// sum goes to partial[b] (double) for sum_chunks.
template <typename T, typename I>
__global__ void __launch_bounds__(kThreads) sum_block_per_output(const T* in, T* out, double* partial,
                                                                  int64_t n_blocks, int64_t chunks, I n_red,
                                                                  Strided<1, I> kept, Strided<1, I> red) {
  __shared__ double sh[kThreads];
  const int t = threadIdx.x;
  for (int64_t b = blockIdx.x; b < n_blocks; b += gridDim.x) {  // uniform across the block
    const int64_t k = b / chunks, c = b % chunks;
    const I r0 = static_cast<I>(static_cast<int64_t>(n_red) * c / chunks);
    const I r1 = static_cast<I>(static_cast<int64_t>(n_red) * (c + 1) / chunks);
    I koff[1];
    kept.offsets(static_cast<I>(k), koff);
    const T* base = in + koff[0];
    double acc = 0.0;
    for (I r = r0 + t; r < r1; r += kThreads) {
      I roff[1];
      red.offsets(r, roff);
      acc += static_cast<double>(base[roff[0]]);
    }
    sh[t] = acc;
    __syncthreads();
#pragma unroll
    for (int s = kThreads / 2; s > 0; s >>= 1) {
      if (t < s) sh[t] += sh[t + s];
      __syncthreads();
    }
    if (t == 0) {
      if (partial == nullptr)
        out[k] = static_cast<T>(sh[0]);
      else
        partial[b] = sh[0];
    }
    __syncthreads();  // sh is reused by the next b
  }
}

template <typename T>
__global__ void sum_chunks(const double* partial, T* out, int64_t n_out, int64_t chunks) {
  const int64_t step = int64_t{gridDim.x} * blockDim.x;
  for (int64_t k = int64_t{blockIdx.x} * blockDim.x + threadIdx.x; k < n_out; k += step) {
    double acc = 0.0;
    for (int64_t c = 0; c < chunks; ++c) acc += partial[k * chunks + c];
    out[k] = static_cast<T>(acc);
  }
}

// Chunks per output for the block plan: about 16K elements per block, at most 1024 chunks, and no more than
// ~4096 blocks in all. From the sizes only, so the summation order is the same on every GPU.
int64_t sum_chunk_count(int64_t n_out, int64_t n_red) {
  constexpr int64_t kPerBlock = 16384, kMaxChunks = 1024, kMaxBlocks = 4096;
  int64_t chunks = (n_red + kPerBlock - 1) / kPerBlock;
  const int64_t cap = n_out >= kMaxBlocks ? 1 : kMaxBlocks / n_out;
  if (chunks > cap) chunks = cap;
  if (chunks > kMaxChunks) chunks = kMaxChunks;
  return chunks < 1 ? 1 : chunks;
}

// Scratch memory from the caching allocator, freed when the launcher returns: the stream orders the free after
// the kernels that use it (kernels/cuda/allocator.h).
struct Scratch {
  void* ptr = nullptr;
  explicit Scratch(size_t bytes) : ptr(device_alloc(bytes)) {}
  ~Scratch() { device_free(ptr); }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
};

template <typename T, typename I>
void launch_sum(const T* in, const Coalesced<1>& kc, const Coalesced<1>& rc, T* out, int64_t n_out,
                int64_t n_red) {
  cudaStream_t st = stream();
  const Strided<1, I> kept = kc.as<I>(), red = rc.as<I>();
  const bool kept_unit = kc.ndim > 0 && kc.strides[0][kc.ndim - 1] == 1;
  const bool red_unit = rc.ndim > 0 && rc.strides[0][rc.ndim - 1] == 1;
  const bool column_sums = kept_unit && !red_unit && n_out >= 1024;
  if (n_red <= 32 || column_sums) {
    launch<sum_thread_per_output<T, I>>(detail::grid_for(n_out), kThreads, 0, st, in, out, n_out, static_cast<I>(n_red),
                                        kept, red);
    return;
  }
  const int64_t chunks = sum_chunk_count(n_out, n_red);
  const int64_t n_blocks = n_out * chunks;
  const unsigned grid = static_cast<unsigned>(n_blocks < (int64_t{1} << 20) ? n_blocks : (int64_t{1} << 20));
  if (chunks == 1) {
    launch<sum_block_per_output<T, I>>(grid, kThreads, 0, st, in, out, nullptr, n_blocks, 1, static_cast<I>(n_red),
                                       kept, red);
    return;
  }
  Scratch partial(static_cast<size_t>(n_blocks) * sizeof(double));
  double* p = static_cast<double*>(partial.ptr);
  launch<sum_block_per_output<T, I>>(grid, kThreads, 0, st, in, out, p, n_blocks, chunks, static_cast<I>(n_red), kept,
                                     red);
  launch<sum_chunks<T>>(detail::grid_for(n_out), kThreads, 0, st, p, out, n_out, chunks);
}

// ---- max_along and friends --------------------------------------------------------------------------------

// The CPU's rule: keep the first maximum; a NaN replaces anything and then stops the scan.
template <typename T>
__device__ __forceinline__ void scan_max(const T* p, int64_t stride, int64_t r_begin, int64_t r_end, int64_t r_step,
                                         T& best, int64_t& arg) {
  for (int64_t r = r_begin; r < r_end && !isnan(best); r += r_step) {
    const T v = p[r * stride];
    if (v > best || isnan(v)) {
      best = v;
      arg = r;
    }
  }
}

template <typename T>
__global__ void max_along_thread(const T* x, int64_t outer, int64_t R, int64_t inner, T* values,
                                 int64_t* indices) {
  const int64_t n = outer * inner;
  const int64_t step = int64_t{gridDim.x} * blockDim.x;
  for (int64_t k = int64_t{blockIdx.x} * blockDim.x + threadIdx.x; k < n; k += step) {
    const int64_t o = k / inner, i = k - o * inner;
    const T* p = x + o * R * inner + i;
    T best = p[0];
    int64_t arg = 0;
    scan_max(p, inner, 1, R, 1, best, arg);
    values[k] = best;
    indices[k] = arg;
  }
}

// inner == 1: one warp per row. Lane l scans r = l, l + 32, ...; the lanes' (value, index) pairs combine by the
// same rule (a NaN beats a number, the larger value wins, ties and NaN pairs go to the smaller index), which
// picks the first NaN if there is one and else the first occurrence of the maximum, as the sequential scan does.
template <typename T>
__global__ void max_along_warp(const T* x, int64_t outer, int64_t R, T* values, int64_t* indices) {
  const int lane = threadIdx.x & 31;
  const int64_t warps_per_block = blockDim.x / 32;
  const int64_t step = int64_t{gridDim.x} * warps_per_block;
  for (int64_t o = int64_t{blockIdx.x} * warps_per_block + threadIdx.x / 32; o < outer; o += step) {
    const T* p = x + o * R;
    T best = p[lane];  // R >= 32 on this path
    int64_t arg = lane;
    scan_max(p, 1, lane + 32, R, 32, best, arg);
#pragma unroll
    for (int s = 16; s > 0; s >>= 1) {
      const T ov = __shfl_down_sync(0xffffffffu, best, s);
      const int64_t oa = __shfl_down_sync(0xffffffffu, arg, s);
      const bool bn = isnan(best), on = isnan(ov);
      bool take;
      if (bn || on)
        take = on && (!bn || oa < arg);
      else
        take = ov > best || (ov == best && oa < arg);
      if (take) {
        best = ov;
        arg = oa;
      }
    }
    if (lane == 0) {
      values[o] = best;
      indices[o] = arg;
    }
  }
}

template <typename T>
__global__ void gather_along_kernel(const T* x, const int64_t* idx, int64_t outer, int64_t R, int64_t inner,
                                    T* out) {
  const int64_t n = outer * inner;
  const int64_t step = int64_t{gridDim.x} * blockDim.x;
  for (int64_t k = int64_t{blockIdx.x} * blockDim.x + threadIdx.x; k < n; k += step) {
    const int64_t o = k / inner, i = k - o * inner;
    out[k] = x[(o * R + idx[k]) * inner + i];
  }
}

template <typename T>
__global__ void scatter_add_along_kernel(const T* src, const int64_t* idx, int64_t outer, int64_t R,
                                         int64_t inner, T* out) {
  const int64_t n = outer * inner;
  const int64_t step = int64_t{gridDim.x} * blockDim.x;
  for (int64_t k = int64_t{blockIdx.x} * blockDim.x + threadIdx.x; k < n; k += step) {
    const int64_t o = k / inner, i = k - o * inner;
    out[(o * R + idx[k]) * inner + i] += src[k];  // (o, i) -> (o, idx, i) is one-to-one: no race
  }
}

}  // namespace

template <typename T>
void sum(const T* in, const Layout& kept, const Layout& red, T* out) {
  const int64_t n_out = kept.numel();
  if (n_out == 0) return;
  const int64_t n_red = red.numel();
  if (n_red == 0) {  // empty sums are 0 (all-zero bytes are 0.0 in IEEE float and double)
    GAN_CUDA_CHECK(cudaMemsetAsync(out, 0, static_cast<size_t>(n_out) * sizeof(T), stream()));
    return;
  }
  const Layout* kl[1] = {&kept};
  const Layout* rl[1] = {&red};
  const Coalesced<1> kc(kl), rc(rl);
  // 32-bit index math when the counts and the combined offset range stay below 2^31.
  constexpr int64_t kLimit = int64_t{1} << 31;
  int64_t reach = 0;
  for (const Coalesced<1>* c : {&kc, &rc})
    for (int d = 0; d < c->ndim; ++d)
      reach += (c->strides[0][d] < 0 ? -c->strides[0][d] : c->strides[0][d]) * (c->shape[d] - 1);
  if (n_out < kLimit && n_red < kLimit && reach < kLimit)
    launch_sum<T, int32_t>(in, kc, rc, out, n_out, n_red);
  else
    launch_sum<T, int64_t>(in, kc, rc, out, n_out, n_red);
}

template <typename T>
void max_along(const T* x, int64_t outer, int64_t R, int64_t inner, T* values, int64_t* indices) {
  if (outer == 0 || inner == 0) return;
  if (R <= 0)
    throw std::invalid_argument("cuda::max_along: reduced length must be positive, got " + std::to_string(R));
  cudaStream_t st = stream();
  if (inner == 1 && R >= 128) {
    launch<max_along_warp<T>>(detail::grid_for(outer * 32), kThreads, 0, st, x, outer, R, values, indices);
  } else {
    launch<max_along_thread<T>>(detail::grid_for(outer * inner), kThreads, 0, st, x, outer, R, inner, values, indices);
  }
}

template <typename T>
void gather_along(const T* x, const int64_t* idx, int64_t outer, int64_t R, int64_t inner, T* out) {
  if (outer * inner == 0) return;
  launch<gather_along_kernel<T>>(detail::grid_for(outer * inner), kThreads, 0, stream(), x, idx, outer, R, inner, out);
}

template <typename T>
void scatter_add_along(const T* src, const int64_t* idx, int64_t outer, int64_t R, int64_t inner, T* out) {
  if (outer * inner == 0) return;
  launch<scatter_add_along_kernel<T>>(detail::grid_for(outer * inner), kThreads, 0, stream(), src, idx, outer, R, inner,
                                      out);
}

#define GAN_INSTANTIATE(T)                                                                                  \
  template void sum<T>(const T*, const Layout&, const Layout&, T*);                                         \
  template void max_along<T>(const T*, int64_t, int64_t, int64_t, T*, int64_t*);                            \
  template void gather_along<T>(const T*, const int64_t*, int64_t, int64_t, int64_t, T*);                   \
  template void scatter_add_along<T>(const T*, const int64_t*, int64_t, int64_t, int64_t, T*);
GAN_INSTANTIATE(float)
GAN_INSTANTIATE(double)
#undef GAN_INSTANTIATE

}  // namespace gan::kernels::cuda
