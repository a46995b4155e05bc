// Random fills driven by Philox4x32-10 (kernels/philox.h documents the generator and the counter layout).
//
//   uniform: out[i] ~ U[lo, hi)                 i = 0..n-1
//   normal : out[i] ~ N(mean, stddev^2)         (Box-Muller)
//
// A fill is keyed by (seed, stream) and starts at Philox block `offset`; element i depends only on
// (seed, stream, offset, i), never on the thread count or the device, and the fill consumes
// philox_blocks_uniform<T>(n) / philox_blocks_normal<T>(n) blocks. Callers that keep drawing from one
// stream (gan::Generator) advance their offset by exactly that many blocks per fill.
#pragma once

#include <cstdint>
#include <type_traits>

#include "kernels/philox.h"

namespace gan::kernels {

// GAN_HOST_DEVICE so CUDA kernels can size their grids with the same helpers.
// Outputs one Philox block yields for each draw kind (float: 4 words -> 4 values; double: 2 x 64 bits).
template <typename T>
GAN_HOST_DEVICE constexpr int philox_per_block_uniform() {
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>, "float or double");
  return std::is_same_v<T, float> ? kPhiloxFloatUniformPerBlock : kPhiloxDoubleUniformPerBlock;
}

template <typename T>
GAN_HOST_DEVICE constexpr int philox_per_block_normal() {
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>, "float or double");
  return std::is_same_v<T, float> ? kPhiloxFloatNormalPerBlock : kPhiloxDoubleNormalPerBlock;
}

// Blocks consumed by a draw of n elements: ceil(n / per_block); 0 for n <= 0.
template <typename T>
GAN_HOST_DEVICE constexpr uint64_t philox_blocks_uniform(int64_t n) {
  constexpr int64_t per = philox_per_block_uniform<T>();
  return n <= 0 ? 0 : static_cast<uint64_t>((n + per - 1) / per);
}

template <typename T>
GAN_HOST_DEVICE constexpr uint64_t philox_blocks_normal(int64_t n) {
  constexpr int64_t per = philox_per_block_normal<T>();
  return n <= 0 ? 0 : static_cast<uint64_t>((n + per - 1) / per);
}

namespace cpu {

// Host buffers, contiguous. Instantiated for float and double. OpenMP over Philox blocks for large n.
template <typename T>
void uniform(T* out, int64_t n, uint64_t seed, uint64_t stream, uint64_t offset, T lo, T hi);

template <typename T>
void normal(T* out, int64_t n, uint64_t seed, uint64_t stream, uint64_t offset, T mean, T stddev);

}  // namespace cpu

// CUDA twin: same contract, device pointers, launched on kernels::cuda::stream() (kernels/cuda/runtime.h).
// Defined in kernels/cuda/random.cu, built only with the CUDA backend.
namespace cuda {

// Device buffers, contiguous; bit-identical to the CPU fills for the same (seed, stream, offset).
template <typename T>
void uniform(T* out, int64_t n, uint64_t seed, uint64_t stream, uint64_t offset, T lo, T hi);

template <typename T>
void normal(T* out, int64_t n, uint64_t seed, uint64_t stream, uint64_t offset, T mean, T stddev);

// Inside a CUDA graph: a captured kernel's arguments are frozen, so a fill that must draw new numbers at each
// replay takes its first block as *base + offset, base being a device word that the generator owns and the graph
// advances (advance_offset: *base += blocks, one thread, queued as the graph's last work). offset is then the
// fill's place within the graph's draws. Same numbers as uniform/normal at offset *base + offset.
template <typename T>
void uniform_at(T* out, int64_t n, uint64_t seed, uint64_t stream, const uint64_t* base, uint64_t offset, T lo, T hi);

template <typename T>
void normal_at(T* out, int64_t n, uint64_t seed, uint64_t stream, const uint64_t* base, uint64_t offset, T mean,
               T stddev);

void advance_offset(uint64_t* base, uint64_t blocks);

}  // namespace cuda
}  // namespace gan::kernels
