// The running block's dynamic shared memory (the bytes a launch asks for in its third argument) as T*, in both
// builds: nvcc's `extern __shared__` array, or the emulator's per-block buffer (GAN_CUDA=EMU; an extern __shared__
// declaration has no C++ equivalent). 16-byte aligned. More than 48 KiB needs cudaFuncSetAttribute(kernel,
// cudaFuncAttributeMaxDynamicSharedMemorySize, bytes) before the launch, on a GPU and in the emulator alike.
#pragma once

#include <cuda_runtime.h>

namespace gan::kernels::cuda {

template <typename T>
__device__ __forceinline__ T* dynamic_shared() {
#if defined(GAN_CUDA_EMU)
  return static_cast<T*>(::gan::emu::detail::dynamic_shared_memory());
#else
  extern __shared__ __align__(16) unsigned char gan_dynamic_shared[];
  return reinterpret_cast<T*>(gan_dynamic_shared);
#endif
}

}  // namespace gan::kernels::cuda
