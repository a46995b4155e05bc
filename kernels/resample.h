// Resampling of NCHW images: nearest and bilinear upsampling (PyTorch's upsample_nearest2d and
// upsample_bilinear2d) and average pooling (avg_pool2d), each with its adjoint. Every op is linear in x and acts on
// P = N * C independent planes [H, W] -> [Ho, Wo] (contiguous), so it is a matrix A per plane:
//
//   forward   y[p] = A x[p]          [H, W]   -> [Ho, Wo]
//   adjoint   gx[p] = A^T gy[p]      [Ho, Wo] -> [H, W]     (the gradient w.r.t. x; its own adjoint is forward)
//
// Nearest (PyTorch's legacy "nearest", not "nearest-exact"), per axis, in float as its NCHW kernel computes it:
//   src(o) = min(floor(o * s), in - 1)            s = (float)(1 / scale) if a scale factor was given, else
//                                                 (float)in / out
// (PyTorch 1.13's backward, and its channels-last forward, which it also takes for C = 1, first return o when
// out == in and o >> 1 when out == 2 in. That differs only for a scale factor that is not exactly 1 or 2 but
// gives such a size, e.g. 2 -> 2 with factor 1.1: there PyTorch's gradient is not the adjoint of its forward. We
// keep the NCHW forward and its true adjoint.)
//   y[oh, ow] = x[src_h(oh), src_w(ow)]
// Bilinear, per axis, in T (float or double, PyTorch's opmath type):
//   align_corners:  s = (in - 1) / (out - 1) (0 when out == 1),  real(o) = s o
//   else:           s = 1 / scale or in / out,                   real(o) = max(s (o + 0.5) - 0.5, 0)  (in double,
//                                                                then rounded to T)
//   i0 = min(floor(real), in - 1),  i1 = i0 + (i0 < in - 1),  l1 = clamp(real - i0, 0, 1),  l0 = 1 - l1
//   y[oh, ow] = l0h (l0w x[i0h, i0w] + l1w x[i0h, i1w]) + l1h (l0w x[i1h, i0w] + l1w x[i1h, i1w])
// Average pooling (kernel k, stride s, padding p per axis; ceil_mode only changes Ho, Wo), as PyTorch's CPU kernel:
//   h0 = oh s - p,  h1 = min(h0 + k, H + p),  pool = (h1 - h0)(w1 - w0),  then clip h0, h1 (and w0, w1) to the image
//   y[oh, ow] = (sum_{h0 <= h < h1, w0 <= w < w1} x[h, w]) / d,   d = divisor_override, or pool (count_include_pad),
//   or (h1 - h0)(w1 - w0) after clipping; an empty clipped window gives 0.
//
// Every source-index map above is non-decreasing in the output index, so the outputs that read one input row
// (column) form a contiguous range: the adjoints gather over that range (no atomics, no scatter), in increasing
// output index, identically on the CPU and the GPU. The index maths lives in resample_index.h, shared by both.
// Outputs are overwritten. All arrays are contiguous.
#pragma once

#include <cstdint>

namespace gan::kernels {

enum class ResampleKind { Nearest, Bilinear, AvgPool };

struct ResampleShape {
  int64_t planes = 0;  // N * C
  int64_t H = 0, W = 0;    // input plane
  int64_t Ho = 0, Wo = 0;  // output plane
};

struct ResampleParams {
  ResampleKind kind = ResampleKind::Nearest;
  // Upsampling: PyTorch's `scales` (the user's scale factor per axis), <= 0 when an output size was given.
  double scale_h = 0.0, scale_w = 0.0;
  bool align_corners = false;  // bilinear only
  // Average pooling.
  int64_t kh = 1, kw = 1, sh = 1, sw = 1, ph = 0, pw = 0;
  bool count_include_pad = true;
  int64_t divisor_override = 0;  // 0: none
};

}  // namespace gan::kernels

namespace gan::kernels::cpu {

// y [planes, Ho, Wo] = A x [planes, H, W]
template <typename T>
void resample_forward(const ResampleShape& s, const ResampleParams& p, const T* x, T* y);

// gx [planes, H, W] = A^T gy [planes, Ho, Wo]
template <typename T>
void resample_adjoint(const ResampleShape& s, const ResampleParams& p, const T* gy, T* gx);

}  // namespace gan::kernels::cpu

// CUDA twin: same contract, device pointers, launched on kernels::cuda::stream() (kernels/cuda/runtime.h).
// Defined in kernels/cuda/resample.cu, built only with the CUDA backend.
namespace gan::kernels::cuda {

template <typename T>
void resample_forward(const ResampleShape& s, const ResampleParams& p, const T* x, T* y);

template <typename T>
void resample_adjoint(const ResampleShape& s, const ResampleParams& p, const T* gy, T* gx);

}  // namespace gan::kernels::cuda
