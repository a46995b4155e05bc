// CPU-only build of kernels/cuda_query.h: no CUDA backend, so no devices. In a CUDA build
// kernels/cuda/cuda_query.cu provides these instead and this file compiles to nothing.
#ifndef GAN_WITH_CUDA

#include <stdexcept>
#include <string>

#include "kernels/cuda_query.h"

namespace gan::kernels {

bool cuda_compiled() { return false; }

int cuda_device_count() { return 0; }

std::string cuda_device_name(int index) {
  throw std::out_of_range("cuda_device_name: device index " + std::to_string(index) +
                          " out of range: this build has no CUDA backend (configured with GAN_CUDA=OFF or "
                          "without a CUDA toolkit)");
}

}  // namespace gan::kernels

#endif  // GAN_WITH_CUDA
