// Error checks for CUDA runtime and cuBLAS calls. Include only from .cu files (or sources built with CUDA).
// Kernel launches are checked by the launch helper (kernels/cuda/launch.cuh).
//
// Every failing call throws std::runtime_error naming the statement, file:line and the library's error string.
// We never exit() or abort() from the library: the caller (a test, the trainer) decides what a failure means,
// and a test harness can report it instead of dying.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <cstdlib>
#include <stdexcept>
#include <string>

#include "kernels/cuda/cublas_api.h"

namespace gan::kernels::detail {

[[noreturn]] inline void throw_cuda_error(cudaError_t err, const char* stmt, const char* file, int line) {
  throw std::runtime_error(std::string("CUDA error: ") + stmt + " failed at " + file + ":" + std::to_string(line) +
                           ": " + cudaGetErrorName(err) + ": " + cudaGetErrorString(err));
}

[[noreturn]] inline void throw_cublas_error(cublasStatus_t status, const char* stmt, const char* file, int line) {
  throw std::runtime_error(std::string("cuBLAS error: ") + stmt + " failed at " + file + ":" +
                           std::to_string(line) + ": " + ::gan::kernels::cuda::cublas().status_string(status));
}

// GAN_CUDA_SYNC=1 makes every launch (kernels/cuda/launch.cuh) synchronize, so an asynchronous fault (bad address,
// trap) is reported at the launch that caused it rather than at some later call. Read once: getenv on every launch
// would cost time on a hot path, and the setting is for a whole debugging run anyway.
inline bool sync_after_launch() {
  static const bool enabled = [] {
    const char* v = std::getenv("GAN_CUDA_SYNC");
    return v != nullptr && std::string(v) == "1";
  }();
  return enabled;
}

}  // namespace gan::kernels::detail

// Wraps a call returning cudaError_t.
#define GAN_CUDA_CHECK(stmt)                                                              \
  do {                                                                                    \
    const cudaError_t gan_cuda_err_ = (stmt);                                             \
    if (gan_cuda_err_ != cudaSuccess)                                                     \
      ::gan::kernels::detail::throw_cuda_error(gan_cuda_err_, #stmt, __FILE__, __LINE__); \
  } while (0)

// Wraps a call returning cublasStatus_t.
#define GAN_CUBLAS_CHECK(stmt)                                                                 \
  do {                                                                                         \
    const cublasStatus_t gan_cublas_status_ = (stmt);                                          \
    if (gan_cublas_status_ != CUBLAS_STATUS_SUCCESS)                                           \
      ::gan::kernels::detail::throw_cublas_error(gan_cublas_status_, #stmt, __FILE__, __LINE__); \
  } while (0)
