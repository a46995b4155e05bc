// Strided layouts: how the kernels see an n-d array.
//
// An element at multi-index (i0, ..., i{n-1}) lives at base[sum_k i_k * strides[k]] (strides in elements, not
// bytes). A broadcast input is the same array with stride 0 along the broadcast dims, so one loop serves plain,
// transposed, sliced and broadcast operands without copies.
#pragma once

#include <cstdint>

namespace gan::kernels {

constexpr int kMaxDims = 8;

struct Layout {
  int ndim = 0;
  int64_t shape[kMaxDims] = {};
  int64_t strides[kMaxDims] = {};

  int64_t numel() const {
    int64_t n = 1;
    for (int d = 0; d < ndim; ++d) n *= shape[d];
    return n;
  }
  // Length and stride of the innermost dim (1 and 0 for a scalar), the unit every loop runs over.
  int64_t inner_size() const { return ndim == 0 ? 1 : shape[ndim - 1]; }
  int64_t inner_stride() const { return ndim == 0 ? 0 : strides[ndim - 1]; }
  // Element offset of the first element of row `row`, rows being all dims but the last, in row-major order.
  int64_t row_offset(int64_t row) const {
    int64_t off = 0;
    for (int d = ndim - 2; d >= 0; --d) {
      const int64_t i = row % shape[d];
      row /= shape[d];
      off += i * strides[d];
    }
    return off;
  }
  bool is_contiguous() const {
    int64_t expected = 1;
    for (int d = ndim - 1; d >= 0; --d) {
      if (shape[d] != 1 && strides[d] != expected) return false;
      expected *= shape[d];
    }
    return true;
  }
};

// Work below this many elements stays on one thread: spawning costs more than it saves.
constexpr int64_t kParallelGrain = 1 << 15;

}  // namespace gan::kernels
