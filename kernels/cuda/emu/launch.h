// The emulator's kernel launch, reached from the launch helper (kernels/cuda/launch.cuh) in the EMU build: converts
// the arguments to the kernel's parameter types as a triple-chevron launch would, checks the pointer arguments,
// and runs the grid on the CPU (kernels/cuda/emu/scheduler.cpp) before returning. Errors throw
// std::runtime_error naming the kernel.
#pragma once

#include <cstddef>
#include <tuple>
#include <type_traits>
#include <utility>

#include "kernels/cuda/emu/runtime_api.h"

namespace gan::emu {

namespace detail {

struct GridLaunch {
  const char* kernel_name;
  const void* kernel;  // its address: the key of cudaFuncSetAttribute
  dim3 grid, block;
  size_t shared_bytes;  // dynamic shared memory per block
  cudaStream_t stream;
  const void* params;                // the kernel's parameters, converted
  void (*run)(const void* params);   // runs the kernel body as the current CUDA thread
};

// Runs every block of the grid; throws std::runtime_error on a bad configuration or an error in a kernel.
void run_grid(const GridLaunch& launch);

// Pointer argument `index` of a kernel must be null, device memory that is allocated, or pinned host memory.
void check_pointer_argument(const char* kernel_name, size_t index, const void* ptr);

template <typename Kernel>
struct KernelParams;
template <typename... P>
struct KernelParams<void (*)(P...)> {
  using type = std::tuple<P...>;
};

template <typename Params, size_t... I>
void check_pointer_arguments(const char* kernel_name, const Params& params, std::index_sequence<I...>) {
  const auto check = [&](size_t index, const auto& value) {
    if constexpr (std::is_pointer_v<std::decay_t<decltype(value)>>)
      check_pointer_argument(kernel_name, index, static_cast<const void*>(value));
  };
  (check(I, std::get<I>(params)), ...);
}

}  // namespace detail

template <auto Kernel, typename... Args>
void launch(const char* kernel_name, dim3 grid, dim3 block, size_t shared_bytes, cudaStream_t stream,
            Args&&... args) {
  using Params = typename detail::KernelParams<decltype(Kernel)>::type;
  static_assert(std::tuple_size_v<Params> == sizeof...(Args), "a kernel launch with the wrong number of arguments");
  const Params params = Params(std::forward<Args>(args)...);
  detail::check_pointer_arguments(kernel_name, params, std::make_index_sequence<std::tuple_size_v<Params>>{});
  detail::run_grid({kernel_name, reinterpret_cast<const void*>(Kernel), grid, block, shared_bytes, stream, &params,
                    [](const void* p) { std::apply(Kernel, *static_cast<const Params*>(p)); }});
}

}  // namespace gan::emu
