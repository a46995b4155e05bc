// The index maths of kernels/resample.h, one axis at a time, shared by the CPU kernels and the CUDA kernels (host
// and device functions) so both read the same inputs with the same weights, rounded the same way. The formulas
// are PyTorch 1.13's (aten/src/ATen/native/UpSample.h: nearest_idx, area_pixel_compute_scale,
// compute_source_index_and_lambda; pooling_shape.h), restated in kernels/resample.h.
#pragma once

#include <math.h>

#include <cstdint>

#include "kernels/resample.h"

#ifdef __CUDACC__
#define GAN_RESAMPLE_FN __host__ __device__ inline
#else
#define GAN_RESAMPLE_FN inline
#endif

namespace gan::kernels::resample {

// ---- nearest ----

// The input index output o reads along an axis of `in` -> `out` elements (scale: the user's factor or <= 0).
GAN_RESAMPLE_FN int64_t nearest_src(int64_t o, int64_t in, int64_t out, double scale) {
  const float s = scale > 0.0 ? static_cast<float>(1.0 / scale) : static_cast<float>(in) / static_cast<float>(out);
  const int64_t src = static_cast<int64_t>(floorf(static_cast<float>(o) * s));
  return src < in - 1 ? src : in - 1;
}

// ---- bilinear ----

// One output index's two taps: input indices i0 <= i1 (equal at the last input) and their weights.
template <typename T>
struct Taps {
  int64_t i0, i1;
  T l0, l1;
};

template <typename T>
GAN_RESAMPLE_FN T bilinear_ratio(int64_t in, int64_t out, bool align_corners, double scale) {
  if (align_corners) return out > 1 ? static_cast<T>(in - 1) / static_cast<T>(out - 1) : T(0);
  return scale > 0.0 ? static_cast<T>(1.0 / scale) : static_cast<T>(in) / static_cast<T>(out);
}

template <typename T>
GAN_RESAMPLE_FN Taps<T> bilinear_taps(int64_t o, int64_t in, int64_t out, T ratio, bool align_corners) {
  if (out == in) return {o, o, T(1), T(0)};
  T real;
  if (align_corners) {
    real = ratio * static_cast<T>(o);
  } else {
    // PyTorch: scale * (dst_index + 0.5) - 0.5 with a double (dst_index + 0.5), then stored in T.
    const T r = static_cast<T>(static_cast<double>(ratio) * (static_cast<double>(o) + 0.5) - 0.5);
    real = r < T(0) ? T(0) : r;
  }
  int64_t i0 = static_cast<int64_t>(floor(static_cast<double>(real)));
  if (i0 > in - 1) i0 = in - 1;
  T l1 = real - static_cast<T>(i0);
  l1 = l1 < T(0) ? T(0) : (l1 > T(1) ? T(1) : l1);
  const int64_t i1 = i0 + (i0 < in - 1 ? 1 : 0);
  return {i0, i1, T(1) - l1, l1};
}

// ---- average pooling ----

// a / b rounded towards minus infinity (b > 0).
GAN_RESAMPLE_FN int64_t floor_div(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

// Window of output o along an axis: [lo, hi) clipped to the input, and the padded size PyTorch counts with
// count_include_pad.
struct Window {
  int64_t lo, hi, padded;
};

GAN_RESAMPLE_FN Window pool_window(int64_t o, int64_t in, int64_t k, int64_t s, int64_t p) {
  int64_t lo = o * s - p;
  int64_t hi = lo + k < in + p ? lo + k : in + p;
  const int64_t padded = hi - lo;
  lo = lo > 0 ? lo : 0;
  hi = hi < in ? hi : in;
  return {lo, hi, padded};
}

// The outputs whose window holds input i: [first, last] (empty when first > last).
GAN_RESAMPLE_FN void pool_outputs_of(int64_t i, int64_t out, int64_t k, int64_t s, int64_t p, int64_t& first,
                                     int64_t& last) {
  first = floor_div(i + p - k, s) + 1;
  last = floor_div(i + p, s);
  if (first < 0) first = 0;
  if (last > out - 1) last = out - 1;
}

// The divisor of output (oh, ow).
GAN_RESAMPLE_FN int64_t pool_divisor(const Window& h, const Window& w, const ResampleParams& p) {
  if (p.divisor_override > 0) return p.divisor_override;
  return p.count_include_pad ? h.padded * w.padded : (h.hi - h.lo) * (w.hi - w.lo);
}

// ---- adjoint ranges ----

// The first o in [0, n) with f(o) >= target for a non-decreasing f (n when there is none).
template <typename F>
GAN_RESAMPLE_FN int64_t first_at_least(int64_t n, int64_t target, F f) {
  int64_t lo = 0, hi = n;
  while (lo < hi) {
    const int64_t mid = lo + (hi - lo) / 2;
    if (f(mid) >= target) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

// The outputs that read input i along one axis, [first, end): nearest reads src(o) == i; bilinear reads i through
// i0 or i1, i.e. i1(o) >= i and i0(o) <= i. Both maps are non-decreasing, so the set is one range.
GAN_RESAMPLE_FN void nearest_outputs_of(int64_t i, int64_t in, int64_t out, double scale, int64_t& first,
                                        int64_t& end) {
  first = first_at_least(out, i, [&](int64_t o) { return nearest_src(o, in, out, scale); });
  end = first;
  while (end < out && nearest_src(end, in, out, scale) == i) ++end;
}

template <typename T>
GAN_RESAMPLE_FN void bilinear_outputs_of(int64_t i, int64_t in, int64_t out, T ratio, bool align_corners,
                                         int64_t& first, int64_t& end) {
  first = first_at_least(out, i, [&](int64_t o) { return bilinear_taps<T>(o, in, out, ratio, align_corners).i1; });
  end = first;
  while (end < out && bilinear_taps<T>(end, in, out, ratio, align_corners).i0 <= i) ++end;
}

}  // namespace gan::kernels::resample
