// CUDA twin of kernels/cpu/gemm.cpp (contract in kernels/gemm.h): cuBLAS, loaded on first use
// (kernels/cuda/cublas_api.h).
//
// Row-major to column-major. cuBLAS is column-major; a row-major matrix X with row stride ldx is, read column-
// major with leading dimension ldx, X^T. So row-major C = op(A) op(B) is column-major C^T = op(B)^T op(A)^T: call
// cuBLAS with the operands swapped (B first), the transposes kept as they are, and the dimensions N, M, K.
//
// Handles: one per device, created on first use, bound to that device's stream (kernels/cuda/runtime.h) before
// every call, and guarded by a mutex (a handle must not be reconfigured from two threads at once). They are
// never destroyed: at static-destruction time the CUDA context may already be gone.
//
// Precision: float GEMMs follow the process-wide math mode (kernels/math_mode.h: float_math): TF32 tensor-core
// math (CUBLAS_TF32_TENSOR_OP_MATH, relative errors ~1e-3), true FP32 (CUBLAS_DEFAULT_MATH, which never uses TF32
// for sgemm), or BF16 (cublasGemmEx on the FP32 data with CUBLAS_COMPUTE_32F_FAST_16BF: cuBLAS may round the
// operands to bf16, FP32 accumulation; it may also choose TF32, which is more precise, so a bf16 error bound holds
// either way). The handle's mode is set before every call, so a change takes effect at the next GEMM. Double GEMMs
// are unaffected.
#include "kernels/gemm.h"

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <mutex>
#include <vector>

#include "kernels/cuda/check.h"
#include "kernels/cuda/cublas_api.h"
#include "kernels/cuda/runtime.h"
#include "kernels/math_mode.h"

namespace gan::kernels::cuda {
namespace {

std::mutex& handle_mutex() {
  static std::mutex mu;
  return mu;
}

// The current device's handle; call with handle_mutex() held.
cublasHandle_t handle_locked() {
  static std::vector<cublasHandle_t> handles;
  const int dev = current_device();
  if (dev >= static_cast<int>(handles.size())) handles.resize(static_cast<size_t>(dev) + 1, nullptr);
  if (handles[dev] == nullptr) {
    cublasHandle_t h = nullptr;
    GAN_CUBLAS_CHECK(cublas().create(&h));
    handles[dev] = h;
  }
  GAN_CUBLAS_CHECK(cublas().set_stream(handles[dev], stream()));
  // BF16 calls name their compute type; the handle's mode then matters only to the legacy sgemm.
  GAN_CUBLAS_CHECK(
      cublas().set_math_mode(handles[dev], tf32_enabled() ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH));
  return handles[dev];
}

cublasOperation_t op(bool trans) { return trans ? CUBLAS_OP_T : CUBLAS_OP_N; }

// With K == 0 nothing is read from A or B (C = beta C), but a row-major caller may pass leading dimensions
// (K, or 0) below cuBLAS's minimums for the swapped call; raise them to those minimums, which read nothing.
void fix_empty_k(bool ta, bool tb, int64_t M, int64_t N, int64_t K, int64_t& lda, int64_t& ldb) {
  if (K != 0) return;
  const int64_t min_lda = ta ? M : 1, min_ldb = tb ? 1 : N;
  if (lda < min_lda) lda = min_lda;
  if (ldb < min_ldb) ldb = min_ldb;
}

}  // namespace

template <>
void gemm<float>(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
                 const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  if (M == 0 || N == 0) return;
  fix_empty_k(ta, tb, M, N, K, lda, ldb);
  std::lock_guard<std::mutex> lock(handle_mutex());
  if (float_math() == FloatMath::Bf16) {
    GAN_CUBLAS_CHECK(cublas().gemm_ex_64(handle_locked(), op(tb), op(ta), N, M, K, &alpha, B, CUDA_R_32F, ldb, A,
                                         CUDA_R_32F, lda, &beta, C, CUDA_R_32F, ldc, CUBLAS_COMPUTE_32F_FAST_16BF,
                                         CUBLAS_GEMM_DEFAULT));
    return;
  }
  GAN_CUBLAS_CHECK(cublas().sgemm_64(handle_locked(), op(tb), op(ta), N, M, K, &alpha, B, ldb, A, lda, &beta, C, ldc));
}

template <>
void gemm<double>(bool ta, bool tb, int64_t M, int64_t N, int64_t K, double alpha, const double* A, int64_t lda,
                  const double* B, int64_t ldb, double beta, double* C, int64_t ldc) {
  if (M == 0 || N == 0) return;
  fix_empty_k(ta, tb, M, N, K, lda, ldb);
  std::lock_guard<std::mutex> lock(handle_mutex());
  GAN_CUBLAS_CHECK(cublas().dgemm_64(handle_locked(), op(tb), op(ta), N, M, K, &alpha, B, ldb, A, lda, &beta, C, ldc));
}

}  // namespace gan::kernels::cuda
