// CUDA twin of kernels/cpu/random.cpp (contract in kernels/random.h): one thread per Philox block, running the
// very per-block maps of kernels/philox.h that the CPU runs, so every value is bit-identical to the CPU's for the
// same (seed, stream, offset): uniforms and normals, float and double (philox.h, "CPU/GPU identity", says why
// that holds for the normals too). As a second guard against fused multiply-adds the file is compiled with
// -fmad=false (kernels/CMakeLists.txt); the maps already spell every multiply-add as an explicit fma.
#include "kernels/random.h"

#include <cuda_runtime.h>

#include <cstdint>

#include "kernels/cuda/check.h"
#include "kernels/cuda/launch.cuh"
#include "kernels/cuda/runtime.h"
#include "kernels/cuda/strided_loops.cuh"

namespace gan::kernels::cuda {
namespace {

using detail::kThreads;
using detail::Pack;

// Block b fills out[b * PER, b * PER + PER); the last block may be partial. A block's PER outputs are 16 bytes
// (4 floats or 2 doubles), stored as one 128-bit store when `out` is 16-byte aligned.
// The first block is offset, plus *base when base is not null: a fill captured in a CUDA graph reads its
// generator's offset from device memory when it runs (kernels/random.h, "Inside a CUDA graph").
template <typename T, bool kNormal, bool kAligned>
__global__ void philox_fill(T* out, int64_t n, int64_t nblocks, uint64_t seed, uint64_t stream_id,
                            const uint64_t* base, uint64_t offset, T a, T b) {
  constexpr int PER = kNormal ? philox_per_block_normal<T>() : philox_per_block_uniform<T>();
  static_assert(PER * sizeof(T) == 16, "one Philox block fills 16 bytes");
  if (base != nullptr) offset += *base;
  const int64_t step = int64_t{gridDim.x} * blockDim.x;
  for (int64_t blk = int64_t{blockIdx.x} * blockDim.x + threadIdx.x; blk < nblocks; blk += step) {
    const Philox4x32 r = philox_block(seed, stream_id, offset + static_cast<uint64_t>(blk));
    Pack<T, PER> tmp;
    if constexpr (kNormal)
      normal_from_block(r, a, b, tmp.v);
    else
      uniform_from_block(r, a, b, tmp.v);
    const int64_t base = blk * PER;
    if (kAligned && base + PER <= n) {
      reinterpret_cast<Pack<T, PER>*>(out)[blk] = tmp;
    } else {
      const int64_t count = n - base < PER ? n - base : PER;
      for (int64_t j = 0; j < count; ++j) out[base + j] = tmp.v[j];
    }
  }
}

template <typename T, bool kNormal>
void launch_fill(T* out, int64_t n, uint64_t seed, uint64_t stream_id, const uint64_t* base, uint64_t offset, T a,
                 T b) {
  if (n <= 0) return;
  const int64_t nblocks = static_cast<int64_t>(kNormal ? philox_blocks_normal<T>(n) : philox_blocks_uniform<T>(n));
  const unsigned grid = detail::grid_for(nblocks);
  if (detail::aligned16(out))
    launch<philox_fill<T, kNormal, true>>(grid, kThreads, 0, stream(), out, n, nblocks, seed, stream_id, base, offset,
                                          a, b);
  else
    launch<philox_fill<T, kNormal, false>>(grid, kThreads, 0, stream(), out, n, nblocks, seed, stream_id, base,
                                           offset, a, b);
}

__global__ void advance_offset_kernel(uint64_t* base, uint64_t blocks) {
  if (blockIdx.x == 0 && threadIdx.x == 0) *base += blocks;
}

}  // namespace

template <typename T>
void uniform(T* out, int64_t n, uint64_t seed, uint64_t stream_id, uint64_t offset, T lo, T hi) {
  launch_fill<T, false>(out, n, seed, stream_id, nullptr, offset, lo, hi);
}

template <typename T>
void normal(T* out, int64_t n, uint64_t seed, uint64_t stream_id, uint64_t offset, T mean, T stddev) {
  launch_fill<T, true>(out, n, seed, stream_id, nullptr, offset, mean, stddev);
}

template <typename T>
void uniform_at(T* out, int64_t n, uint64_t seed, uint64_t stream_id, const uint64_t* base, uint64_t offset, T lo,
                T hi) {
  launch_fill<T, false>(out, n, seed, stream_id, base, offset, lo, hi);
}

template <typename T>
void normal_at(T* out, int64_t n, uint64_t seed, uint64_t stream_id, const uint64_t* base, uint64_t offset, T mean,
               T stddev) {
  launch_fill<T, true>(out, n, seed, stream_id, base, offset, mean, stddev);
}

void advance_offset(uint64_t* base, uint64_t blocks) { launch<advance_offset_kernel>(1, 1, 0, stream(), base, blocks); }

template void uniform_at<float>(float*, int64_t, uint64_t, uint64_t, const uint64_t*, uint64_t, float, float);
template void uniform_at<double>(double*, int64_t, uint64_t, uint64_t, const uint64_t*, uint64_t, double, double);
template void normal_at<float>(float*, int64_t, uint64_t, uint64_t, const uint64_t*, uint64_t, float, float);
template void normal_at<double>(double*, int64_t, uint64_t, uint64_t, const uint64_t*, uint64_t, double, double);

template void uniform<float>(float*, int64_t, uint64_t, uint64_t, uint64_t, float, float);
template void uniform<double>(double*, int64_t, uint64_t, uint64_t, uint64_t, double, double);
template void normal<float>(float*, int64_t, uint64_t, uint64_t, uint64_t, float, float);
template void normal<double>(double*, int64_t, uint64_t, uint64_t, uint64_t, double, double);

}  // namespace gan::kernels::cuda
