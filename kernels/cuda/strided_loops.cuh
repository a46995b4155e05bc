// Launch helpers shared by the element-wise and reduction kernels: grid sizing for grid-stride loops, and
// strided n-d indexing with the dims coalesced on the host and 32-bit index math when everything fits.
//
// Indexing. A thread holds a linear index into the (row-major) output shape and turns it into one element offset
// per operand by peeling dims off from the innermost one. That costs a division per dim, so the host first
// drops size-1 dims and merges neighbours that are contiguous for every operand (shape [64, 32, 8] with strides
// [256, 8, 1] becomes one dim of 16384): a contiguous or simply broadcast operand ends up with one or two dims.
// Divisions in 32 bits are several times cheaper than in 64, so the kernels are instantiated for both and the
// 64-bit version is used only when the element count or some operand's offset range reaches 2^31.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>
#include <stdexcept>
#include <string>

#include "kernels/strided.h"

namespace gan::kernels::cuda::detail {

constexpr int kThreads = 256;

// Blocks for a grid-stride loop over `work` items of `threads` threads each. Capped so huge tensors reuse
// threads (grid-stride) instead of launching millions of tiny blocks; 2^16 blocks of 256 threads fill any
// current GPU many times over.
inline unsigned grid_for(int64_t work, int threads = kThreads) {
  constexpr int64_t kMaxBlocks = int64_t{1} << 16;
  const int64_t blocks = (work + threads - 1) / threads;
  return static_cast<unsigned>(blocks < 1 ? 1 : (blocks > kMaxBlocks ? kMaxBlocks : blocks));
}

inline std::string layout_shape_str(const Layout& l) {
  std::string s = "[";
  for (int d = 0; d < l.ndim; ++d) s += (d ? ", " : "") + std::to_string(l.shape[d]);
  return s + "]";
}

// The kernels' contract: every operand is described over the one shared shape (broadcast = stride 0).
inline void check_same_shape(const char* op, const Layout& a, const Layout& b) {
  bool same = a.ndim == b.ndim;
  for (int d = 0; same && d < a.ndim; ++d) same = a.shape[d] == b.shape[d];
  if (!same)
    throw std::invalid_argument(std::string("cuda::") + op + ": operand layouts must share one shape, got " +
                                layout_shape_str(a) + " and " + layout_shape_str(b));
}

// N operands over one shape, dims coalesced; I is the index type the device code computes in.
template <int N, typename I>
struct Strided {
  int ndim = 0;
  I shape[kMaxDims] = {};
  I strides[N][kMaxDims] = {};

  // Offsets of the element at row-major linear index `i` (i < numel).
  __device__ __forceinline__ void offsets(I i, I (&off)[N]) const {
#pragma unroll
    for (int k = 0; k < N; ++k) off[k] = 0;
#pragma unroll
    for (int d = kMaxDims - 1; d >= 0; --d) {
      if (d == 0) {  // the outermost index is what is left (i < numel): no division
#pragma unroll
        for (int k = 0; k < N; ++k) off[k] += i * strides[k][0];
      } else if (d < ndim) {
        const I q = i / shape[d];
        const I r = i - q * shape[d];
#pragma unroll
        for (int k = 0; k < N; ++k) off[k] += r * strides[k][d];
        i = q;
      }
    }
  }
};

// Host side: drops size-1 dims and merges dims d, d+1 when every operand has strides[d] = strides[d+1] *
// shape[d+1]. All layouts must have layouts[0]'s shape (checked by the callers).
template <int N>
struct Coalesced {
  int ndim = 0;
  int64_t shape[kMaxDims] = {};
  int64_t strides[N][kMaxDims] = {};

  explicit Coalesced(const Layout* const (&layouts)[N]) {
    const Layout& ref = *layouts[0];
    for (int d = 0; d < ref.ndim; ++d) {
      if (ref.shape[d] == 1) continue;
      bool merge = ndim > 0;
      for (int k = 0; merge && k < N; ++k) merge = strides[k][ndim - 1] == layouts[k]->strides[d] * ref.shape[d];
      if (merge) {
        shape[ndim - 1] *= ref.shape[d];
        for (int k = 0; k < N; ++k) strides[k][ndim - 1] = layouts[k]->strides[d];
      } else {
        shape[ndim] = ref.shape[d];
        for (int k = 0; k < N; ++k) strides[k][ndim] = layouts[k]->strides[d];
        ++ndim;
      }
    }
  }

  int64_t numel() const {
    int64_t n = 1;
    for (int d = 0; d < ndim; ++d) n *= shape[d];
    return n;
  }

  // True when the element count and every operand's offsets (of either sign) stay below 2^31.
  bool fits_int32() const {
    constexpr int64_t kLimit = int64_t{1} << 31;
    if (numel() >= kLimit) return false;
    for (int k = 0; k < N; ++k) {
      int64_t reach = 0;
      for (int d = 0; d < ndim; ++d) reach += (strides[k][d] < 0 ? -strides[k][d] : strides[k][d]) * (shape[d] - 1);
      if (reach >= kLimit) return false;
    }
    return true;
  }

  template <typename I>
  Strided<N, I> as() const {
    Strided<N, I> s;
    s.ndim = ndim;
    for (int d = 0; d < ndim; ++d) {
      s.shape[d] = static_cast<I>(shape[d]);
      for (int k = 0; k < N; ++k) s.strides[k][d] = static_cast<I>(strides[k][d]);
    }
    return s;
  }
};

// 16-byte aligned pack of V elements of T, for 128-bit loads and stores.
template <typename T, int V>
struct alignas(sizeof(T) * V) Pack {
  T v[V];
};

inline bool aligned16(const void* p) { return (reinterpret_cast<uintptr_t>(p) & 15u) == 0; }

}  // namespace gan::kernels::cuda::detail
