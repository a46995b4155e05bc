// CUDA build of kernels/cuda_query.h: asks the CUDA runtime.
#include "kernels/cuda_query.h"

#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

#include "kernels/cuda/check.h"

namespace gan::kernels {

namespace {

// Errors that mean "this machine has no usable GPU" rather than "something went wrong": a CUDA build run on a
// CPU-only machine, in a container without the driver mounted, or with a driver too old for this toolkit.
bool means_no_usable_device(cudaError_t err) {
  switch (err) {
    case cudaErrorNoDevice:                    // driver loaded, no device
    case cudaErrorInsufficientDriver:          // no driver (libcuda.so absent) or older than the runtime
    case cudaErrorStubLibrary:                 // linked against the toolkit's stub libcuda, not a real driver
    case cudaErrorSystemDriverMismatch:        // kernel module and user-space driver differ
    case cudaErrorCompatNotSupportedOnDevice:  // forward-compatibility package on a device that lacks it
    case cudaErrorDevicesUnavailable:          // all devices busy (exclusive-process mode)
    case cudaErrorInitializationError:         // driver present but failed to initialize
      return true;
    default:
      return false;
  }
}

}  // namespace

bool cuda_compiled() { return true; }

int cuda_device_count() {
  int count = 0;
  const cudaError_t err = cudaGetDeviceCount(&count);
  if (err == cudaSuccess) return count;
  // The runtime also records the error as the "last error"; clear it, or the next launch check would
  // report this stale failure against an unrelated kernel.
  (void)cudaGetLastError();
  if (means_no_usable_device(err)) return 0;
  detail::throw_cuda_error(err, "cudaGetDeviceCount(&count)", __FILE__, __LINE__);
}

std::string cuda_device_name(int index) {
  const int count = cuda_device_count();
  if (index < 0 || index >= count)
    throw std::out_of_range("cuda_device_name: device index " + std::to_string(index) + " out of range [0, " +
                            std::to_string(count) + ")");
  cudaDeviceProp prop{};
  GAN_CUDA_CHECK(cudaGetDeviceProperties(&prop, index));
  return std::string(prop.name);
}

}  // namespace gan::kernels
