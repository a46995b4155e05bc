// Resampling (PyTorch's F.interpolate for 2-D images, modes "nearest" and "bilinear", and F.avg_pool2d), NCHW, as
// differentiable ops over kernels/resample.h. Each is linear in x, so its backward is the kernel's adjoint and the
// adjoint's backward is the op again: any number of backward passes works ([2nd] in functional.h's terms).
#pragma once

#include <array>
#include <cstdint>

#include "engine/ops.h"

namespace gan::nn::functional {

enum class InterpolateMode { Nearest, Bilinear };

// Give either `size` (the output [Ho, Wo]) or `scale_factor` (per axis; output = floor(input * factor)), as in
// PyTorch; with a scale factor, the sampling positions use 1 / factor exactly as PyTorch's default
// (recompute_scale_factor=None) does.
struct InterpolateArgs {
  std::array<int64_t, 2> size = {0, 0};          // {0, 0}: not given
  std::array<double, 2> scale_factor = {0.0, 0.0};  // {0, 0}: not given
  InterpolateMode mode = InterpolateMode::Nearest;
  bool align_corners = false;  // bilinear only (PyTorch refuses it for nearest)
};

// [2nd] x [N, C, H, W] -> [N, C, Ho, Wo].
Tensor interpolate(const Tensor& x, const InterpolateArgs& args);
// Shorthands: an integer-free scale factor on both axes.
Tensor upsample_nearest(const Tensor& x, double scale_factor);
Tensor upsample_bilinear(const Tensor& x, double scale_factor, bool align_corners = false);

// PyTorch's avg_pool2d. stride {0, 0} means the kernel size; padding at most half the kernel.
struct AvgPool2dArgs {
  std::array<int64_t, 2> kernel_size = {2, 2};
  std::array<int64_t, 2> stride = {0, 0};
  std::array<int64_t, 2> padding = {0, 0};
  bool ceil_mode = false;
  bool count_include_pad = true;
  int64_t divisor_override = 0;  // 0: none
};

// [2nd] x [N, C, H, W] -> [N, C, Ho, Wo], Ho = floor((H + 2 p - k) / s) + 1 (ceil with ceil_mode, as long as the
// last window starts inside the input or its left padding).
Tensor avg_pool2d(const Tensor& x, const AvgPool2dArgs& args);

}  // namespace gan::nn::functional
