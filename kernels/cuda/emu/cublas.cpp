// cuBLAS on the emulated device (include/cublas_v2.h): column-major GEMMs computed by the row-major CPU GEMM.
// A column-major m x n matrix with leading dimension ld is the row-major n x m matrix with row stride ld, so
// C = op(A) op(B) column-major is C^T = op(B)^T op(A)^T row-major: the CPU GEMM gets B first, with the same
// transpose flags.
#include <cublas_v2.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/cuda/emu/internal.h"
#include "kernels/cuda/emu/memory.h"
#include "kernels/cuda/emu/tensor_core.h"
#include "kernels/gemm.h"

struct cublasContext {
  cudaStream_t stream = nullptr;
  cublasMath_t math = CUBLAS_DEFAULT_MATH;
};

namespace {

// Elements a column-major rows x cols matrix with leading dimension ld spans.
int64_t span(int64_t rows, int64_t cols, int64_t ld) { return rows == 0 || cols == 0 ? 0 : (cols - 1) * ld + rows; }

// How the float operands reach the multiplier: as they are, rounded to TF32 or rounded to bf16.
enum class Operands { Fp32, Tf32, Bf16 };

// A column-major rows x cols matrix rounded by `round`, packed with leading dimension `rows`.
std::vector<float> rounded_copy(const float* m, int64_t rows, int64_t cols, int64_t ld, float (*round)(float)) {
  std::vector<float> out(static_cast<size_t>(rows * cols));
  for (int64_t c = 0; c < cols; ++c)
    for (int64_t r = 0; r < rows; ++r) out[static_cast<size_t>(c * rows + r)] = round(m[c * ld + r]);
  return out;
}

template <typename T>
cublasStatus_t gemm(const char* name, cublasHandle_t h, cublasOperation_t transa, cublasOperation_t transb, int64_t m,
                    int64_t n, int64_t k, const T* alpha, const T* A, int64_t lda, const T* B, int64_t ldb,
                    const T* beta, T* C, int64_t ldc, Operands operands) {
  if (h == nullptr) return CUBLAS_STATUS_NOT_INITIALIZED;
  if (m < 0 || n < 0 || k < 0 || transa == CUBLAS_OP_C || transb == CUBLAS_OP_C) return CUBLAS_STATUS_INVALID_VALUE;
  const bool ta = transa == CUBLAS_OP_T, tb = transb == CUBLAS_OP_T;
  const int64_t a_rows = ta ? k : m, a_cols = ta ? m : k, b_rows = tb ? n : k, b_cols = tb ? k : n;
  if (lda < std::max<int64_t>(1, a_rows) || ldb < std::max<int64_t>(1, b_rows) || ldc < std::max<int64_t>(1, m))
    return CUBLAS_STATUS_INVALID_VALUE;
  if (m == 0 || n == 0) return CUBLAS_STATUS_SUCCESS;
  // Recorded, not run, while the handle's stream captures a CUDA graph: the scalars are read now (host pointer
  // mode), the matrices when the work runs.
  const T a_scale = *alpha, b_scale = *beta;
  const std::string call = name;
  const cudaError_t err = gan::emu::detail::submit(name, h->stream, [=](cudaStream_t) {
    // The operands must be device memory, and the matrices must fit their buffers.
    if (k > 0) {
      gan::emu::memory::check_device_range(call + " operand A", A, sizeof(T) * span(a_rows, a_cols, lda));
      gan::emu::memory::check_device_range(call + " operand B", B, sizeof(T) * span(b_rows, b_cols, ldb));
    }
    gan::emu::memory::check_device_range(call + " operand C", C, sizeof(T) * span(m, n, ldc));
    gan::emu::memory::Access access;
    if constexpr (sizeof(T) == 4) {
      if (operands != Operands::Fp32 && k > 0) {
        float (*round)(float) = operands == Operands::Tf32 ? gan::emu::tf32_round : gan::kernels::bf16_round;
        const std::vector<float> a = rounded_copy(A, a_rows, a_cols, lda, round);
        const std::vector<float> b = rounded_copy(B, b_rows, b_cols, ldb, round);
        gan::kernels::cpu::gemm<float>(tb, ta, n, m, k, a_scale, b.data(), b_rows, a.data(), a_rows, b_scale, C, ldc);
        return;
      }
    }
    gan::kernels::cpu::gemm<T>(tb, ta, n, m, k, a_scale, B, ldb, A, lda, b_scale, C, ldc);
  });
  return err == cudaSuccess ? CUBLAS_STATUS_SUCCESS : CUBLAS_STATUS_EXECUTION_FAILED;
}

}  // namespace

// Handles live in a registry rather than as bare `new` objects: a process may keep its handle until exit (as
// kernels/cuda/gemm.cu does, one per device), which LeakSanitizer would otherwise report as a leak.
namespace {
std::mutex g_handles_mu;
std::vector<std::unique_ptr<cublasContext>>& handle_registry() {
  static auto* handles = new std::vector<std::unique_ptr<cublasContext>>();  // never destroyed: used until exit
  return *handles;
}
}  // namespace

cublasStatus_t cublasCreate(cublasHandle_t* handle) {
  std::lock_guard<std::mutex> lock(g_handles_mu);
  handle_registry().push_back(std::make_unique<cublasContext>());
  *handle = handle_registry().back().get();
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasDestroy(cublasHandle_t handle) {
  std::lock_guard<std::mutex> lock(g_handles_mu);
  auto& handles = handle_registry();
  const auto it = std::find_if(handles.begin(), handles.end(), [&](const auto& h) { return h.get() == handle; });
  if (it == handles.end()) return CUBLAS_STATUS_NOT_INITIALIZED;
  handles.erase(it);
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSetStream(cublasHandle_t handle, cudaStream_t stream) {
  if (handle == nullptr) return CUBLAS_STATUS_NOT_INITIALIZED;
  handle->stream = stream;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasGetStream(cublasHandle_t handle, cudaStream_t* stream) {
  if (handle == nullptr) return CUBLAS_STATUS_NOT_INITIALIZED;
  *stream = handle->stream;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSetMathMode(cublasHandle_t handle, cublasMath_t mode) {
  if (handle == nullptr) return CUBLAS_STATUS_NOT_INITIALIZED;
  handle->math = mode;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasGetMathMode(cublasHandle_t handle, cublasMath_t* mode) {
  if (handle == nullptr) return CUBLAS_STATUS_NOT_INITIALIZED;
  *mode = handle->math;
  return CUBLAS_STATUS_SUCCESS;
}

const char* cublasGetStatusName(cublasStatus_t status) {
  switch (status) {
    case CUBLAS_STATUS_SUCCESS: return "CUBLAS_STATUS_SUCCESS";
    case CUBLAS_STATUS_NOT_INITIALIZED: return "CUBLAS_STATUS_NOT_INITIALIZED";
    case CUBLAS_STATUS_ALLOC_FAILED: return "CUBLAS_STATUS_ALLOC_FAILED";
    case CUBLAS_STATUS_INVALID_VALUE: return "CUBLAS_STATUS_INVALID_VALUE";
    case CUBLAS_STATUS_ARCH_MISMATCH: return "CUBLAS_STATUS_ARCH_MISMATCH";
    case CUBLAS_STATUS_MAPPING_ERROR: return "CUBLAS_STATUS_MAPPING_ERROR";
    case CUBLAS_STATUS_EXECUTION_FAILED: return "CUBLAS_STATUS_EXECUTION_FAILED";
    case CUBLAS_STATUS_INTERNAL_ERROR: return "CUBLAS_STATUS_INTERNAL_ERROR";
    case CUBLAS_STATUS_NOT_SUPPORTED: return "CUBLAS_STATUS_NOT_SUPPORTED";
  }
  return "CUBLAS_STATUS_UNKNOWN";
}

const char* cublasGetStatusString(cublasStatus_t status) { return cublasGetStatusName(status); }

cublasStatus_t cublasSgemm_64(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb, int64_t m,
                              int64_t n, int64_t k, const float* alpha, const float* A, int64_t lda, const float* B,
                              int64_t ldb, const float* beta, float* C, int64_t ldc) {
  const Operands operands =
      handle != nullptr && handle->math == CUBLAS_TF32_TENSOR_OP_MATH ? Operands::Tf32 : Operands::Fp32;
  return gemm<float>("cublasSgemm_64", handle, transa, transb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc,
                     operands);
}

cublasStatus_t cublasDgemm_64(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb, int64_t m,
                              int64_t n, int64_t k, const double* alpha, const double* A, int64_t lda,
                              const double* B, int64_t ldb, const double* beta, double* C, int64_t ldc) {
  return gemm<double>("cublasDgemm_64", handle, transa, transb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc,
                      Operands::Fp32);
}

cublasStatus_t cublasGemmEx_64(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb, int64_t m,
                               int64_t n, int64_t k, const void* alpha, const void* A, cudaDataType Atype,
                               int64_t lda, const void* B, cudaDataType Btype, int64_t ldb, const void* beta, void* C,
                               cudaDataType Ctype, int64_t ldc, cublasComputeType_t computeType,
                               cublasGemmAlgo_t algo) {
  if (handle == nullptr) return CUBLAS_STATUS_NOT_INITIALIZED;
  if (Atype != CUDA_R_32F || Btype != CUDA_R_32F || Ctype != CUDA_R_32F ||
      (algo != CUBLAS_GEMM_DEFAULT && algo != CUBLAS_GEMM_DEFAULT_TENSOR_OP))
    return CUBLAS_STATUS_NOT_SUPPORTED;
  Operands operands;
  switch (computeType) {
    case CUBLAS_COMPUTE_32F:
      operands = handle->math == CUBLAS_TF32_TENSOR_OP_MATH ? Operands::Tf32 : Operands::Fp32;
      break;
    case CUBLAS_COMPUTE_32F_PEDANTIC: operands = Operands::Fp32; break;
    case CUBLAS_COMPUTE_32F_FAST_TF32: operands = Operands::Tf32; break;
    case CUBLAS_COMPUTE_32F_FAST_16BF: operands = Operands::Bf16; break;
    default: return CUBLAS_STATUS_NOT_SUPPORTED;
  }
  return gemm<float>("cublasGemmEx_64", handle, transa, transb, m, n, k, static_cast<const float*>(alpha),
                     static_cast<const float*>(A), lda, static_cast<const float*>(B), ldb,
                     static_cast<const float*>(beta), static_cast<float*>(C), ldc, operands);
}
