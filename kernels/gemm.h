// Dense matrix multiply, row-major: C[M, N] = alpha * op(A)[M, K] * op(B)[K, N] + beta * C, where op(X) is X or
// X^T. lda/ldb/ldc are the row strides (in elements) of A, B and C as stored. The CPU version is OpenBLAS's
// sgemm/dgemm, the CUDA version cuBLAS; float GEMMs on both follow the math mode (kernels/math_mode.h).
#pragma once

#include <cstdint>

namespace gan::kernels::cpu {

template <typename T>
void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t lda,
          const T* B, int64_t ldb, T beta, T* C, int64_t ldc);

}  // namespace gan::kernels::cpu

// CUDA twin: same contract, device pointers, launched on kernels::cuda::stream() (kernels/cuda/runtime.h).
// Defined in kernels/cuda/gemm.cu, built only with the CUDA backend.
namespace gan::kernels::cuda {

template <typename T>
void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t lda,
          const T* B, int64_t ldb, T beta, T* C, int64_t ldc);

}  // namespace gan::kernels::cuda
