// CPU reference for the Philox random fills (kernels/random.h). Each Philox block is independent, so
// the loop over blocks parallelizes with no shared state; the per-block maps come from philox.h and are
// the same code the CUDA kernels run.
#include "kernels/random.h"

namespace gan::kernels::cpu {
namespace {

// Below this many elements, thread start-up costs more than the fill (a block is ~100 integer ops).
constexpr int64_t kParallelThreshold = int64_t{1} << 15;

// Fills out[0, n) block by block; `map(block, tmp)` writes the block's PER outputs into tmp. Full blocks
// are written through tmp as well (the compiler keeps tmp in registers); the last, partial block is
// truncated, which is why a draw's length is rounded up to whole blocks by the Generator.
template <int PER, typename T, typename Map>
void fill_blocks(T* out, int64_t n, uint64_t seed, uint64_t stream, uint64_t offset, Map map) {
  if (n <= 0) return;
  const int64_t nblocks = (n + PER - 1) / PER;
#pragma omp parallel for schedule(static) if (n > kParallelThreshold)
  for (int64_t b = 0; b < nblocks; ++b) {
    const Philox4x32 r = philox_block(seed, stream, offset + static_cast<uint64_t>(b));
    T tmp[PER];
    map(r, tmp);
    const int64_t base = b * PER;
    const int64_t count = (n - base < PER) ? (n - base) : PER;
    for (int64_t j = 0; j < count; ++j) out[base + j] = tmp[j];
  }
}

}  // namespace

template <typename T>
void uniform(T* out, int64_t n, uint64_t seed, uint64_t stream, uint64_t offset, T lo, T hi) {
  constexpr int per = philox_per_block_uniform<T>();
  fill_blocks<per>(out, n, seed, stream, offset,
                   [lo, hi](const Philox4x32& r, T* tmp) { uniform_from_block(r, lo, hi, tmp); });
}

template <typename T>
void normal(T* out, int64_t n, uint64_t seed, uint64_t stream, uint64_t offset, T mean, T stddev) {
  constexpr int per = philox_per_block_normal<T>();
  fill_blocks<per>(out, n, seed, stream, offset,
                   [mean, stddev](const Philox4x32& r, T* tmp) { normal_from_block(r, mean, stddev, tmp); });
}

template void uniform<float>(float*, int64_t, uint64_t, uint64_t, uint64_t, float, float);
template void uniform<double>(double*, int64_t, uint64_t, uint64_t, uint64_t, double, double);
template void normal<float>(float*, int64_t, uint64_t, uint64_t, uint64_t, float, float);
template void normal<double>(double*, int64_t, uint64_t, uint64_t, uint64_t, double, double);

}  // namespace gan::kernels::cpu
