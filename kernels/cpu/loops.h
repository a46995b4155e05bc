// Row loops shared by the CPU kernels: every n-d element-wise loop is "for each row, for each element of the
// innermost dim", with the row's starting offsets computed once per row and the inner loop a plain strided one.
// Rows are split across threads with OpenMP when the work is large enough to pay for it.
#pragma once

#include <cstdint>

#include "kernels/strided.h"

namespace gan::kernels::cpu::detail {

// f(out_offset, in_offsets..., count, out_stride, in_strides...) is called once per row.
template <typename RowFn>
void for_each_row(const Layout& out, RowFn&& row_fn) {
  const int64_t inner = out.inner_size();
  if (inner == 0) return;
  const int64_t rows = out.numel() / inner;
  const int64_t total = rows * inner;
#pragma omp parallel for schedule(static) if (total > kParallelGrain && rows > 1)
  for (int64_t r = 0; r < rows; ++r) row_fn(r, inner);
}

}  // namespace gan::kernels::cpu::detail
