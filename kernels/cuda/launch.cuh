// The one way a kernel is launched: launch<kernel>(grid, block, shared_bytes, stream, args...) instead of
// kernel<<<grid, block, shared_bytes, stream>>>(args...). Include only from .cu files.
//
// It launches (the triple-chevron launch), checks the launch (a bad configuration or too many resources throws
// std::runtime_error naming the kernel, the grid, the block and the error; with GAN_CUDA_SYNC=1 it also waits for
// the kernel and reports a fault it raised), and counts it (kernels/cuda/launch_count.h). Arguments convert to the
// kernel's parameter types as they would in a triple-chevron launch.
//
// Why one helper: a launch without its error check is an error that surfaces, if ever, at some unrelated later
// call; counting needs one place; and the emulator build (GAN_CUDA=EMU) replaces the launch in this one place: it
// runs the grid on the CPU (kernels/cuda/emu/launch.h) and throws when a kernel fails one of its checks.
#pragma once

#include <cuda_runtime.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <utility>

#include "kernels/cuda/check.h"
#include "kernels/cuda/launch_count.h"
#include "kernels/cuda/sync_count.h"
#if defined(GAN_CUDA_EMU)
#include "kernels/cuda/emu/launch.h"
#endif

namespace gan::kernels::cuda {

namespace detail {

// One per kernel (per template instantiation), registered at its first launch and never freed.
struct KernelCounter {
  const char* name;  // readable kernel name, namespaces stripped
  std::atomic<uint64_t> launches{0};
};

// The counter of the kernel named in `pretty_function` (the __PRETTY_FUNCTION__ of kernel_counter<K> below).
KernelCounter& register_kernel(const char* pretty_function);

void count_launch(KernelCounter& kernel);

[[noreturn]] void throw_launch_error(cudaError_t err, const char* when, const KernelCounter& kernel, dim3 grid,
                                     dim3 block, size_t shared_bytes);

template <auto Kernel>
KernelCounter& kernel_counter() {
  static KernelCounter& counter = register_kernel(__PRETTY_FUNCTION__);
  return counter;
}

}  // namespace detail

template <auto Kernel, typename... Args>
void launch(dim3 grid, dim3 block, size_t shared_bytes, cudaStream_t stream, Args&&... args) {
  detail::KernelCounter& kernel = detail::kernel_counter<Kernel>();
  detail::count_launch(kernel);
#if defined(GAN_CUDA_EMU)
  ::gan::emu::launch<Kernel>(kernel.name, grid, block, shared_bytes, stream, std::forward<Args>(args)...);
#else
  Kernel<<<grid, block, shared_bytes, stream>>>(std::forward<Args>(args)...);
#endif
  // A launch returns nothing: ask for its error (bad configuration, too many resources).
  cudaError_t err = cudaGetLastError();
  if (err != cudaSuccess) detail::throw_launch_error(err, "launch", kernel, grid, block, shared_bytes);
  if (::gan::kernels::detail::sync_after_launch()) {
    detail::count_host_sync(detail::SyncReason::kDebugSyncAfterLaunch);
    err = cudaDeviceSynchronize();
    if (err != cudaSuccess)
      detail::throw_launch_error(err, "run (GAN_CUDA_SYNC=1)", kernel, grid, block, shared_bytes);
  }
}

}  // namespace gan::kernels::cuda
