// CUDA twin of kernels/cpu/resample.cpp (contract in kernels/resample.h).
//
// One thread per output element (forward) or per input element (adjoint), grid-stride. The index maths is the
// CPU's, from kernels/resample_index.h (host and device functions), so both read the same taps with the same
// weights; the adjoint gathers over each input's contiguous range of outputs (found by binary search on the
// non-decreasing source-index map, or in closed form for pooling) in the CPU's order, so no atomics are needed and
// results do not depend on the launch. Products and sums are written as in the CPU twin, and this file is compiled
// with -fmad=false (kernels/CMakeLists.txt), so results are bit-identical to the CPU's.
#include "kernels/resample.h"

#include <cuda_runtime.h>

#include <cstdint>

#include "kernels/cuda/check.h"
#include "kernels/cuda/launch.cuh"
#include "kernels/cuda/runtime.h"
#include "kernels/cuda/strided_loops.cuh"
#include "kernels/resample_index.h"

namespace gan::kernels::cuda {
namespace {

namespace R = resample;
using detail::kThreads;

// Taps of output o along one axis (nearest: one tap of weight 1).
template <typename T>
__device__ __forceinline__ R::Taps<T> taps_of(const ResampleParams& p, int64_t o, int64_t in, int64_t out,
                                               double scale, T ratio) {
  if (p.kind == ResampleKind::Nearest) {
    const int64_t src = R::nearest_src(o, in, out, scale);
    return {src, src, T(1), T(0)};
  }
  return R::bilinear_taps<T>(o, in, out, ratio, p.align_corners);
}

// The outputs [first, end) that read input i along one axis.
template <typename T>
__device__ __forceinline__ void outputs_of(const ResampleParams& p, int64_t i, int64_t in, int64_t out, double scale,
                                           T ratio, int64_t& first, int64_t& end) {
  if (p.kind == ResampleKind::Nearest) R::nearest_outputs_of(i, in, out, scale, first, end);
  else R::bilinear_outputs_of<T>(i, in, out, ratio, p.align_corners, first, end);
}

template <typename T>
__global__ void upsample_forward_kernel(ResampleShape s, ResampleParams p, T ratio_h, T ratio_w,
                                        const T* __restrict__ x, T* __restrict__ y) {
  const int64_t total = s.planes * s.Ho * s.Wo;
  for (int64_t k = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; k < total;
       k += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t ow = k % s.Wo, oh = (k / s.Wo) % s.Ho, plane = k / (s.Wo * s.Ho);
    const R::Taps<T> h = taps_of<T>(p, oh, s.H, s.Ho, p.scale_h, ratio_h);
    const R::Taps<T> w = taps_of<T>(p, ow, s.W, s.Wo, p.scale_w, ratio_w);
    const T* r0 = x + (plane * s.H + h.i0) * s.W;
    const T* r1 = x + (plane * s.H + h.i1) * s.W;
    if (p.kind == ResampleKind::Nearest) {
      y[k] = r0[w.i0];
    } else {
      const T t0 = r0[w.i0] * w.l0 + r0[w.i1] * w.l1;
      const T t1 = r1[w.i0] * w.l0 + r1[w.i1] * w.l1;
      y[k] = t0 * h.l0 + t1 * h.l1;
    }
  }
}

template <typename T>
__global__ void upsample_adjoint_kernel(ResampleShape s, ResampleParams p, T ratio_h, T ratio_w,
                                        const T* __restrict__ gy, T* __restrict__ gx) {
  const int64_t total = s.planes * s.H * s.W;
  const bool nearest = p.kind == ResampleKind::Nearest;
  for (int64_t k = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; k < total;
       k += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t w = k % s.W, h = (k / s.W) % s.H, plane = k / (s.W * s.H);
    int64_t oh0, oh1, ow0, ow1;
    outputs_of<T>(p, h, s.H, s.Ho, p.scale_h, ratio_h, oh0, oh1);
    outputs_of<T>(p, w, s.W, s.Wo, p.scale_w, ratio_w, ow0, ow1);
    const T* gp = gy + plane * s.Ho * s.Wo;
    T acc = T(0);
    for (int64_t oh = oh0; oh < oh1; ++oh) {
      const R::Taps<T> a = taps_of<T>(p, oh, s.H, s.Ho, p.scale_h, ratio_h);
      for (int64_t ow = ow0; ow < ow1; ++ow) {
        const T g = gp[oh * s.Wo + ow];
        if (nearest) {
          acc += g;
          continue;
        }
        const R::Taps<T> b = taps_of<T>(p, ow, s.W, s.Wo, p.scale_w, ratio_w);
        if (a.i0 == h && b.i0 == w) acc += a.l0 * b.l0 * g;
        if (a.i0 == h && b.i1 == w) acc += a.l0 * b.l1 * g;
        if (a.i1 == h && b.i0 == w) acc += a.l1 * b.l0 * g;
        if (a.i1 == h && b.i1 == w) acc += a.l1 * b.l1 * g;
      }
    }
    gx[k] = acc;
  }
}

template <typename T>
__global__ void pool_forward_kernel(ResampleShape s, ResampleParams p, const T* __restrict__ x, T* __restrict__ y) {
  const int64_t total = s.planes * s.Ho * s.Wo;
  for (int64_t k = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; k < total;
       k += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t ow = k % s.Wo, oh = (k / s.Wo) % s.Ho, plane = k / (s.Wo * s.Ho);
    const R::Window wh = R::pool_window(oh, s.H, p.kh, p.sh, p.ph);
    const R::Window ww = R::pool_window(ow, s.W, p.kw, p.sw, p.pw);
    if (wh.lo >= wh.hi || ww.lo >= ww.hi) {
      y[k] = T(0);
      continue;
    }
    const T* xp = x + plane * s.H * s.W;
    T sum = T(0);
    for (int64_t h = wh.lo; h < wh.hi; ++h)
      for (int64_t w = ww.lo; w < ww.hi; ++w) sum += xp[h * s.W + w];
    y[k] = sum / static_cast<T>(R::pool_divisor(wh, ww, p));
  }
}

template <typename T>
__global__ void pool_adjoint_kernel(ResampleShape s, ResampleParams p, const T* __restrict__ gy, T* __restrict__ gx) {
  const int64_t total = s.planes * s.H * s.W;
  for (int64_t k = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; k < total;
       k += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t w = k % s.W, h = (k / s.W) % s.H, plane = k / (s.W * s.H);
    int64_t oh0, oh1, ow0, ow1;
    R::pool_outputs_of(h, s.Ho, p.kh, p.sh, p.ph, oh0, oh1);
    R::pool_outputs_of(w, s.Wo, p.kw, p.sw, p.pw, ow0, ow1);
    const T* gp = gy + plane * s.Ho * s.Wo;
    T acc = T(0);
    for (int64_t oh = oh0; oh <= oh1; ++oh) {
      const R::Window wh = R::pool_window(oh, s.H, p.kh, p.sh, p.ph);
      for (int64_t ow = ow0; ow <= ow1; ++ow) {
        const R::Window ww = R::pool_window(ow, s.W, p.kw, p.sw, p.pw);
        acc += gp[oh * s.Wo + ow] / static_cast<T>(R::pool_divisor(wh, ww, p));
      }
    }
    gx[k] = acc;
  }
}

template <typename T>
T ratio_of(const ResampleParams& p, int64_t in, int64_t out, double scale) {
  return p.kind == ResampleKind::Bilinear ? R::bilinear_ratio<T>(in, out, p.align_corners, scale) : T(0);
}

}  // namespace

template <typename T>
void resample_forward(const ResampleShape& s, const ResampleParams& p, const T* x, T* y) {
  const int64_t total = s.planes * s.Ho * s.Wo;
  if (total == 0) return;
  if (p.kind == ResampleKind::AvgPool) {
    launch<pool_forward_kernel<T>>(detail::grid_for(total), kThreads, 0, stream(), s, p, x, y);
  } else {
    launch<upsample_forward_kernel<T>>(detail::grid_for(total), kThreads, 0, stream(), s, p,
                                       ratio_of<T>(p, s.H, s.Ho, p.scale_h), ratio_of<T>(p, s.W, s.Wo, p.scale_w), x,
                                       y);
  }
}

template <typename T>
void resample_adjoint(const ResampleShape& s, const ResampleParams& p, const T* gy, T* gx) {
  const int64_t total = s.planes * s.H * s.W;
  if (total == 0) return;
  if (p.kind == ResampleKind::AvgPool) {
    launch<pool_adjoint_kernel<T>>(detail::grid_for(total), kThreads, 0, stream(), s, p, gy, gx);
  } else {
    launch<upsample_adjoint_kernel<T>>(detail::grid_for(total), kThreads, 0, stream(), s, p,
                                       ratio_of<T>(p, s.H, s.Ho, p.scale_h), ratio_of<T>(p, s.W, s.Wo, p.scale_w), gy,
                                       gx);
  }
}

#define GAN_INSTANTIATE(T)                                                                          \
  template void resample_forward<T>(const ResampleShape&, const ResampleParams&, const T*, T*);     \
  template void resample_adjoint<T>(const ResampleShape&, const ResampleParams&, const T*, T*);
GAN_INSTANTIATE(float)
GAN_INSTANTIATE(double)
#undef GAN_INSTANTIATE

}  // namespace gan::kernels::cuda
