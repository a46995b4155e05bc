// Shared plumbing of the reducing CUDA kernels (batch norm, fused losses): deterministic block reductions and a
// small per-device scratch area for partial sums. Include only from .cu files.
//
// Determinism: every reduction here adds in an order fixed by the launch shape (warp shuffles in a fixed tree,
// then the warps' sums in warp order), never by timing, and no float atomics touch a result. Multi-block
// reductions write one partial per block; the last block to finish (found with an integer atomic counter, which
// orders nothing in the sum) adds the partials in block order. Launch shapes depend only on the problem shape,
// so a result is bit-identical from run to run and on any GPU.
//
// Scratch: one grow-only device buffer per device for partials, and one array of counters that is all zeros
// between kernels (each last block resets its counter). Both are used in stream order on kernels::cuda::stream(),
// so a later call may reuse them as soon as it is queued; the engine drives a device from one host thread.
// Growing waits for the stream (the old buffer may still be in use), which happens a handful of times per process.
#pragma once

#include <cuda_runtime.h>

#include <algorithm>
#include <cstddef>
#include <memory>
#include <mutex>
#include <vector>

#include "kernels/cuda/allocator.h"
#include "kernels/cuda/check.h"
#include "kernels/cuda/runtime.h"
#include "kernels/cuda/sync_count.h"
#include "kernels/cuda_query.h"

namespace gan::kernels::cuda::detail {

// ---- device side ----

__device__ __forceinline__ double warp_sum(double v) {
  for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_down_sync(0xffffffffu, v, offset);
  return v;  // lane 0 holds the warp's sum
}

// Sum of v over the block, returned to every thread. THREADS is a multiple of 32, at most 1024.
template <int THREADS>
__device__ __forceinline__ double block_sum(double v) {
  static_assert(THREADS % 32 == 0 && THREADS <= 1024, "block_sum: THREADS must be a multiple of 32, <= 1024");
  constexpr int kWarps = THREADS / 32;
  __shared__ double warp_sums[kWarps];
  __shared__ double total;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  v = warp_sum(v);
  if (lane == 0) warp_sums[warp] = v;
  __syncthreads();
  if (warp == 0) {
    double w = lane < kWarps ? warp_sums[lane] : 0.0;
    w = warp_sum(w);
    if (lane == 0) total = w;
  }
  __syncthreads();
  const double result = total;
  __syncthreads();  // the shared slots may be reused by the next call
  return result;
}

// Called by every thread of a block after thread 0 has written the block's partial: true in every thread of
// the last block of `group` to get here (one counter per group, `blocks` blocks per group). That block then reads
// the others' partials (with __ldcg, past L1) and must call release_counter() when done.
__device__ __forceinline__ bool last_block_of_group(unsigned* counters, int64_t group, unsigned blocks) {
  __shared__ bool is_last;
  __syncthreads();  // thread 0's partial write is issued before the fence below
  if (threadIdx.x == 0) {
    __threadfence();  // make this block's partial visible device-wide before counting it
    const unsigned done = atomicAdd(&counters[group], 1u);
    is_last = done + 1 == blocks;
  }
  __syncthreads();
  if (is_last) __threadfence();  // acquire: later reads see every other block's partial
  return is_last;
}

__device__ __forceinline__ void release_counter(unsigned* counters, int64_t group) {
  if (threadIdx.x == 0) counters[group] = 0u;  // the counters are all zero between kernels
}

// ---- host side: per-device scratch ----

struct Scratch {
  std::mutex mu;
  void* work = nullptr;
  size_t work_bytes = 0;
  unsigned* counters = nullptr;
  size_t counter_count = 0;
};

inline Scratch& scratch_of_current_device() {
  static auto* all = [] {
    auto* v = new std::vector<std::unique_ptr<Scratch>>();  // never freed: see runtime.cu on static teardown
    const int count = cuda_device_count();
    for (int i = 0; i < count; ++i) v->push_back(std::make_unique<Scratch>());
    return v;
  }();
  const int dev = current_device();
  return *(*all).at(static_cast<size_t>(dev));
}

// Device scratch of at least `bytes` bytes (256-byte aligned), valid until the next call that grows it.
inline void* scratch_workspace(size_t bytes) {
  Scratch& s = scratch_of_current_device();
  std::lock_guard<std::mutex> lock(s.mu);
  if (bytes > s.work_bytes) {
    const size_t old = s.work_bytes;
    count_host_sync(SyncReason::kScratchGrow);
    GAN_CUDA_CHECK(cudaStreamSynchronize(stream()));  // queued kernels may still read the old buffer
    if (s.work) {
      count_host_sync(SyncReason::kCudaFree);
      GAN_CUDA_CHECK(cudaFree(s.work));
    }
    s.work = nullptr;
    s.work_bytes = 0;
    const size_t want = std::max({bytes, size_t{1} << 16, 2 * old});
    GAN_CUDA_CHECK(cudaMalloc(&s.work, want));
    count_device_malloc(want);
    s.work_bytes = want;
  }
  return s.work;
}

// `count` zeroed counters for last_block_of_group().
inline unsigned* scratch_counters(size_t count) {
  Scratch& s = scratch_of_current_device();
  std::lock_guard<std::mutex> lock(s.mu);
  if (count > s.counter_count) {
    const size_t old = s.counter_count;
    count_host_sync(SyncReason::kScratchGrow);
    GAN_CUDA_CHECK(cudaStreamSynchronize(stream()));
    if (s.counters) {
      count_host_sync(SyncReason::kCudaFree);
      GAN_CUDA_CHECK(cudaFree(s.counters));
    }
    s.counters = nullptr;
    s.counter_count = 0;
    const size_t want = std::max<size_t>({count, 1024, 2 * old});
    GAN_CUDA_CHECK(cudaMalloc(reinterpret_cast<void**>(&s.counters), want * sizeof(unsigned)));
    count_device_malloc(want * sizeof(unsigned));
    // On the device's stream: every kernel runs there, and a non-blocking stream does not wait for work on the
    // legacy default stream (cudaMemset), so the first kernel could read counters not yet zeroed.
    GAN_CUDA_CHECK(cudaMemsetAsync(s.counters, 0, want * sizeof(unsigned), stream()));
    s.counter_count = want;
  }
  return s.counters;
}

}  // namespace gan::kernels::cuda::detail
