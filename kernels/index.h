// Row indexing over a table [num_rows, row_len] (row-major, contiguous): the kernels behind embedding.
//
//   gather_rows:     out[i, :] = table[idx[i], :]              i = 0..n-1, out is [n, row_len]
//   index_add_rows:  out[idx[i], :] += src[i, :]               i = 0..n-1, out is [num_rows, row_len]
//
// index_add_rows is the adjoint of gather_rows (embedding's weight gradient: rows hit by the same index are
// summed). It adds into `out` (the caller zeroes it first) and is deterministic: every output element receives
// its contributions in increasing i, whatever the thread count (threads split the columns, never the indices).
// Indices are not checked here; the engine validates them (0 <= idx[i] < num_rows) before calling.
//
//   one_hot:         out[i, c] = (labels[i] == c) ? 1 : 0       i = 0..n-1, c = 0..k-1, out is [n, k]
//
// one_hot writes every element of out (no zero fill first). A label outside [0, k) gives an all-zero row: the
// engine checks labels on the host where they are host data; on a device it cannot without waiting for it.
#pragma once

#include <cstdint>

namespace gan::kernels::cpu {

template <typename T>
void gather_rows(const T* table, int64_t row_len, const int64_t* idx, int64_t n, T* out);

template <typename T>
void index_add_rows(const T* src, const int64_t* idx, int64_t n, int64_t row_len, T* out);

template <typename T>
void one_hot(const int64_t* labels, int64_t n, int64_t k, T* out);

}  // namespace gan::kernels::cpu

// CUDA twin: same contract, device pointers, launched on kernels::cuda::stream() (kernels/cuda/runtime.h).
// Defined in kernels/cuda/index.cu, built only with the CUDA backend.
namespace gan::kernels::cuda {

template <typename T>
void gather_rows(const T* table, int64_t row_len, const int64_t* idx, int64_t n, T* out);

template <typename T>
void index_add_rows(const T* src, const int64_t* idx, int64_t n, int64_t row_len, T* out);

template <typename T>
void one_hot(const int64_t* labels, int64_t n, int64_t k, T* out);

}  // namespace gan::kernels::cuda
