#include "kernels/index.h"

#include <algorithm>
#include <cstring>

#include "kernels/strided.h"

namespace gan::kernels::cpu {

template <typename T>
void gather_rows(const T* table, int64_t row_len, const int64_t* idx, int64_t n, T* out) {
  if (row_len == 0) return;
#pragma omp parallel for schedule(static) if (n * row_len > kParallelGrain && n > 1)
  for (int64_t i = 0; i < n; ++i)
    std::memcpy(out + i * row_len, table + idx[i] * row_len, static_cast<size_t>(row_len) * sizeof(T));
}

template <typename T>
void index_add_rows(const T* src, const int64_t* idx, int64_t n, int64_t row_len, T* out) {
  if (row_len == 0 || n == 0) return;
  // Columns are split into a fixed number of blocks; each block walks the indices in order, so the sum into
  // every output element is formed in the same order on any number of threads.
  constexpr int64_t kBlock = 64;
  const int64_t blocks = (row_len + kBlock - 1) / kBlock;
#pragma omp parallel for schedule(static) if (n * row_len > kParallelGrain && blocks > 1)
  for (int64_t b = 0; b < blocks; ++b) {
    const int64_t c0 = b * kBlock, c1 = std::min(row_len, c0 + kBlock);
    for (int64_t i = 0; i < n; ++i) {
      const T* s = src + i * row_len;
      T* o = out + idx[i] * row_len;
      for (int64_t c = c0; c < c1; ++c) o[c] += s[c];
    }
  }
}

template <typename T>
void one_hot(const int64_t* labels, int64_t n, int64_t k, T* out) {
  for (int64_t i = 0; i < n; ++i)
    for (int64_t c = 0; c < k; ++c) out[i * k + c] = labels[i] == c ? T(1) : T(0);
}

#define GAN_INSTANTIATE(T)                                                          \
  template void gather_rows<T>(const T*, int64_t, const int64_t*, int64_t, T*);     \
  template void index_add_rows<T>(const T*, const int64_t*, int64_t, int64_t, T*);
GAN_INSTANTIATE(float)
GAN_INSTANTIATE(double)
#undef GAN_INSTANTIATE
template void one_hot<float>(const int64_t*, int64_t, int64_t, float*);
template void one_hot<double>(const int64_t*, int64_t, int64_t, double*);
template void one_hot<int64_t>(const int64_t*, int64_t, int64_t, int64_t*);

}  // namespace gan::kernels::cpu
