// Reductions.
//
// sum:        out[k] = sum_r in[k, r], where k runs over the kept dims and r over the reduced dims of a strided
//             input (two layouts over the same buffer: kept dims and reduced dims, each with the input's strides).
//             Accumulates in double and in a fixed number of chunks, so the result does not depend on the number
//             of threads (bit-identical reruns and resumes).
// max_along:  x viewed as [outer, R, inner] (contiguous): values[o, i] = max_r x[o, r, i], indices = argmax
//             (first occurrence; NaN wins, as in PyTorch).
// gather_along / scatter_add_along: the index pair used by max's backward:
//             gather:  out[o, i] = x[o, idx[o, i], i]
//             scatter: out[o, idx[o, i], i] += src[o, i]   (out must be zeroed by the caller)
#pragma once

#include <cstdint>

#include "kernels/strided.h"

namespace gan::kernels::cpu {

template <typename T>
void sum(const T* in, const Layout& kept, const Layout& reduced, T* out);

template <typename T>
void max_along(const T* x, int64_t outer, int64_t R, int64_t inner, T* values, int64_t* indices);

template <typename T>
void gather_along(const T* x, const int64_t* idx, int64_t outer, int64_t R, int64_t inner, T* out);

template <typename T>
void scatter_add_along(const T* src, const int64_t* idx, int64_t outer, int64_t R, int64_t inner, T* out);

}  // namespace gan::kernels::cpu

// CUDA twin: same contract, device pointers, launched on kernels::cuda::stream() (kernels/cuda/runtime.h).
// Defined in kernels/cuda/reduce.cu, built only with the CUDA backend.
namespace gan::kernels::cuda {

template <typename T>
void sum(const T* in, const Layout& kept, const Layout& reduced, T* out);

template <typename T>
void max_along(const T* x, int64_t outer, int64_t R, int64_t inner, T* values, int64_t* indices);

template <typename T>
void gather_along(const T* x, const int64_t* idx, int64_t outer, int64_t R, int64_t inner, T* out);

template <typename T>
void scatter_add_along(const T* src, const int64_t* idx, int64_t outer, int64_t R, int64_t inner, T* out);

}  // namespace gan::kernels::cuda
