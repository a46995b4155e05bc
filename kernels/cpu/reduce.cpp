#include "kernels/reduce.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/cpu/loops.h"

namespace gan::kernels::cpu {
namespace {

// Sum of the reduced elements of one output, rows [r0, r1) of the reduced layout.
template <typename T>
double sum_rows(const T* base, const Layout& red, int64_t r0, int64_t r1) {
  const int64_t inner = red.inner_size(), stride = red.inner_stride();
  double acc = 0.0;
  for (int64_t r = r0; r < r1; ++r) {
    const T* p = base + red.row_offset(r);
    for (int64_t i = 0; i < inner; ++i) acc += static_cast<double>(p[i * stride]);
  }
  return acc;
}

// Fixed chunk count for reductions with few outputs: the partial sums are combined in the same order whatever the
// thread count, so results are reproducible.
constexpr int64_t kChunks = 64;

}  // namespace

template <typename T>
void sum(const T* in, const Layout& kept, const Layout& red, T* out) {
  const int64_t n_out = kept.numel();
  const int64_t inner = red.inner_size();
  const int64_t red_rows = inner == 0 ? 0 : red.numel() / inner;
  if (n_out == 0) return;
  const bool few_outputs = n_out < 16 && red_rows >= kChunks && red.numel() > kParallelGrain;
  if (!few_outputs) {
    const int64_t kept_inner = kept.inner_size();
#pragma omp parallel for schedule(static) if (n_out * red.numel() > kParallelGrain && n_out > 1)
    for (int64_t k = 0; k < n_out; ++k) {
      const int64_t off = kept.row_offset(k / kept_inner) + (k % kept_inner) * kept.inner_stride();
      out[k] = static_cast<T>(sum_rows(in + off, red, 0, red_rows));
    }
    return;
  }
  const int64_t kept_inner = kept.inner_size();
  for (int64_t k = 0; k < n_out; ++k) {
    const int64_t off = kept.row_offset(k / kept_inner) + (k % kept_inner) * kept.inner_stride();
    double partial[kChunks];
#pragma omp parallel for schedule(static)
    for (int64_t c = 0; c < kChunks; ++c) {
      const int64_t r0 = red_rows * c / kChunks, r1 = red_rows * (c + 1) / kChunks;
      partial[c] = sum_rows(in + off, red, r0, r1);
    }
    double acc = 0.0;
    for (int64_t c = 0; c < kChunks; ++c) acc += partial[c];
    out[k] = static_cast<T>(acc);
  }
}

template <typename T>
void max_along(const T* x, int64_t outer, int64_t R, int64_t inner, T* values, int64_t* indices) {
#pragma omp parallel for schedule(static) if (outer * R * inner > kParallelGrain && outer > 1)
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t i = 0; i < inner; ++i) {
      const T* p = x + o * R * inner + i;
      T best = p[0];
      int64_t arg = 0;
      for (int64_t r = 1; r < R && !std::isnan(best); ++r) {
        const T v = p[r * inner];
        if (v > best || std::isnan(v)) {
          best = v;
          arg = r;
        }
      }
      values[o * inner + i] = best;
      indices[o * inner + i] = arg;
    }
  }
}

template <typename T>
void gather_along(const T* x, const int64_t* idx, int64_t outer, int64_t R, int64_t inner, T* out) {
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < inner; ++i) out[o * inner + i] = x[(o * R + idx[o * inner + i]) * inner + i];
}

template <typename T>
void scatter_add_along(const T* src, const int64_t* idx, int64_t outer, int64_t R, int64_t inner, T* out) {
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < inner; ++i) out[(o * R + idx[o * inner + i]) * inner + i] += src[o * inner + i];
}

#define GAN_INSTANTIATE(T)                                                                                  \
  template void sum<T>(const T*, const Layout&, const Layout&, T*);                                         \
  template void max_along<T>(const T*, int64_t, int64_t, int64_t, T*, int64_t*);                            \
  template void gather_along<T>(const T*, const int64_t*, int64_t, int64_t, int64_t, T*);                   \
  template void scatter_add_along<T>(const T*, const int64_t*, int64_t, int64_t, int64_t, T*);
GAN_INSTANTIATE(float)
GAN_INSTANTIATE(double)
#undef GAN_INSTANTIATE

}  // namespace gan::kernels::cpu
