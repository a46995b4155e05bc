// The emulator's kernel launch, reached from the launch helper (kernels/cuda/launch.cuh) in the EMU build: converts
// the arguments to the kernel's parameter types as a triple-chevron launch would, checks the pointer arguments,
// and runs the grid on the CPU (kernels/cuda/emu/scheduler.cpp) before returning. Errors throw
// std::runtime_error naming the kernel.
#pragma once

#include <cstddef>
#include <memory>
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

// Queues a grid on launch.stream (kernels/cuda/emu/internal.h submit): runs it now, or records it while the stream
// captures a CUDA graph; `params` keeps the launch's arguments alive for the graph's replays, and `check` checks
// the pointer arguments each time the grid runs. A refused capture sets the last error (the launch helper's
// cudaGetLastError reports it).
void submit_grid(const GridLaunch& launch, std::shared_ptr<const void> params, void (*check)(const char*, const void*));

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
  // On the heap: a CUDA graph that records the launch replays it with these very arguments (frozen, as on a GPU).
  auto params = std::make_shared<const Params>(std::forward<Args>(args)...);
  const auto check = [](const char* name, const void* p) {
    detail::check_pointer_arguments(name, *static_cast<const Params*>(p),
                                    std::make_index_sequence<std::tuple_size_v<Params>>{});
  };
  detail::submit_grid({kernel_name, reinterpret_cast<const void*>(Kernel), grid, block, shared_bytes, stream,
                       params.get(), [](const void* p) { std::apply(Kernel, *static_cast<const Params*>(p)); }},
                      params, check);
}

}  // namespace gan::emu
