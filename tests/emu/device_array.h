// A typed device buffer for the emulator's own tests: zero-filled, or a copy of a host vector; download() reads it
// back. Freed at scope end.
#pragma once

#include <cstddef>
#include <vector>

#include "kernels/cuda/check.h"
#include "kernels/cuda/runtime.h"

namespace gan::testing {

template <typename T>
struct DeviceArray {
  explicit DeviceArray(size_t count) : n(count) {
    GAN_CUDA_CHECK(cudaMalloc(&ptr, n * sizeof(T)));
    GAN_CUDA_CHECK(cudaMemsetAsync(ptr, 0, n * sizeof(T), kernels::cuda::stream()));
  }
  explicit DeviceArray(const std::vector<T>& host) : DeviceArray(host.size()) {
    kernels::cuda::memcpy_h2d(ptr, host.data(), n * sizeof(T));
  }
  ~DeviceArray() { (void)cudaFree(ptr); }
  DeviceArray(const DeviceArray&) = delete;
  DeviceArray& operator=(const DeviceArray&) = delete;
  std::vector<T> download() const {
    std::vector<T> host(n);
    kernels::cuda::memcpy_d2h(host.data(), ptr, n * sizeof(T));
    return host;
  }
  size_t n;
  T* ptr = nullptr;
};

}  // namespace gan::testing
