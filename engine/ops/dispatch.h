// Device dispatch for the engine's ops: one call site picks the CPU or the CUDA twin of a kernel.
//
// Every kernel family is declared twice with the same signature in its kernels/<family>.h header:
// kernels::cpu::f (host pointers) and kernels::cuda::f (device pointers, launched on kernels::cuda::stream()).
// An op writes
//
//   GAN_KERNEL(x.device(), "conv2d", conv2d_forward<scalar_t>, shape, x_ptr, w_ptr, b_ptr, y_ptr);
//
// and gets the CPU kernel for CPU tensors and the CUDA kernel for CUDA tensors. In a build without CUDA, a CUDA
// tensor cannot exist (Storage refuses to allocate one), but the macro still names the op in a clear error rather
// than silently running host code on a device pointer. The callee's name may carry template arguments; it must
// not contain a top-level comma (wrap such a name in a using-alias).
#pragma once

#include <stdexcept>
#include <string>

#include "engine/device.h"
#include "kernels/cuda/runtime.h"

namespace gan::detail {

// A throw-expression (not a call) in the conditional below, so the macro works for kernels returning a value too.
inline std::runtime_error no_cuda_error(const char* op, const Device& device) {
  return std::runtime_error(std::string(op) + ": a tensor on " + device.str() +
                            " but this build has no CUDA backend; rebuild with -DGAN_CUDA=ON or use the CPU");
}

}  // namespace gan::detail

#if defined(GAN_WITH_CUDA) && GAN_WITH_CUDA
// The CUDA branch makes the tensor's device current for the call (a temporary DeviceGuard lives until the end of
// the full expression), so the kernel runs on that device's stream (kernels/cuda/runtime.h).
#define GAN_KERNEL(DEVICE, OPNAME, FN, ...)                                                     \
  ((DEVICE).is_cuda() ? (::gan::kernels::cuda::DeviceGuard((DEVICE).index), ::gan::kernels::cuda::FN(__VA_ARGS__)) \
                      : ::gan::kernels::cpu::FN(__VA_ARGS__))
#else
#define GAN_KERNEL(DEVICE, OPNAME, FN, ...)                                                     \
  ((DEVICE).is_cuda() ? throw ::gan::detail::no_cuda_error(OPNAME, DEVICE) : ::gan::kernels::cpu::FN(__VA_ARGS__))
#endif
