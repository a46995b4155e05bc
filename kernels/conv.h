// 2-D convolution, NCHW, with per-axis stride, zero padding and dilation, and groups: one kernel family for conv
// forward, conv backward-data (= transposed-conv forward) and conv backward-weight.
//
// Shapes are always given from the convolution's point of view:
//   x  [N, Cin, H, W]           conv input        (for a transposed conv: its OUTPUT)
//   w  [Cout, Cin / G, kh, kw]  weight            (for a transposed conv: PyTorch's [Cin_t, Cout_t / G, kh, kw],
//                                                  the same memory)
//   y  [N, Cout, Ho, Wo]        conv output       (for a transposed conv: its INPUT)
// with G groups (Cin and Cout multiples of G; output channel co sees the Cin / G input channels of its group
// g = co / (Cout / G); G = Cin = Cout is a depthwise conv), stride (sh, sw), zero padding (ph, pw) and dilation
// (dh, dw) per axis, and Ho = (H + 2 ph - dh (kh - 1) - 1) / sh + 1 (Wo likewise). A transposed conv's
// output_padding only shows up as a larger H (H = (Ho - 1) sh - 2 ph + dh (kh - 1) + output_padding + 1); the rows it
// adds receive no contribution except the bias. (PyTorch allows output_padding up to max(stride, dilation) - 1;
// past the stride, H yields a larger conv output than the transposed conv's input, so Ho may be smaller than the
// formula: the missing output rows simply take no part.)
//
// With ci = g Cin/G + c (c the channel within the group) and oh sh - ph + i dh the input row of tap i:
//   forward         y[n, co, oh, ow]  = b[co] + sum_{c, i, j} w[co, c, i, j] * x[n, ci, oh sh - ph + i dh, ow sw - pw + j dw]
//   backward data   gx[n, ci, h, w']  = b[ci] + sum_{co in group, oh, ow, i, j : oh sh - ph + i dh = h, ow sw - pw + j dw = w'}
//                                               w[co, c, i, j] * gy[n, co, oh, ow]            (the adjoint, A^T gy)
//   backward weight gw[co, c, i, j]   = sum_{n, oh, ow} gy[n, co, oh, ow] * x[n, ci, oh sh - ph + i dh, ow sw - pw + j dw]
// where x outside [0, H) x [0, W) reads as zero.
//
// How (CPU): im2col lowers x to col[K, L] with K = Cin kh kw (row k = (ci, i, j)) and L = Ho Wo (column l = (oh, ow)),
// col[(ci, i, j), (oh, ow)] = x[ci, oh sh - ph + i dh, ow sw - pw + j dw]. Group g owns the K / G consecutive rows of
// its channels, so each group is one GEMM on its slice (one GEMM in all when G = 1, the common case). Several images
// sit side by side in one col buffer ([K, nb L]) so one GEMM serves a chunk of the batch:
//   forward         Y_g[Cout/G, nb L]  = W_g[Cout/G, K/G] * col_g[K/G, nb L]      then scatter to NCHW (+ bias)
//   backward data   col_g[K/G, nb L]   = W_g^T * Gy_g[Cout/G, nb L]              then col2im (sums overlaps; no zero-insertion)
//   backward weight gW_g[Cout/G, K/G] += Gy_g[Cout/G, nb L] * col_g^T            accumulated over the batch chunks
// The chunk size nb bounds the column buffer, which each call allocates once. Results do not depend on the thread
// count (im2col/col2im split work by (image, channel), each writing its own outputs).
//
// All pointers are to contiguous row-major arrays. Outputs are overwritten, never accumulated into. bias may be
// null (no bias). The CUDA twin takes the same arguments.
//
// In the bf16 math mode (kernels/math_mode.h) a float conv also rounds its output to bf16 (nearest even), after the
// bias and the whole sum: a bf16 conv's result, as PyTorch's autocast gives (its conv outputs are bf16 tensors).
// The activations a training step saves for its backward pass are then bf16 values, which
// engine/saved_activation.h keeps as bfloat16 without changing any gradient.
#pragma once

#include <cstdint>

namespace gan::kernels {

struct Conv2dShape {
  int64_t N = 0, Cin = 0, H = 0, W = 0;  // conv input
  int64_t Cout = 0, kh = 0, kw = 0;      // weight [Cout, Cin / groups, kh, kw]
  int64_t stride_h = 1, stride_w = 1;
  int64_t pad_h = 0, pad_w = 0;
  int64_t dil_h = 1, dil_w = 1;
  int64_t groups = 1;
  int64_t Ho = 0, Wo = 0;                // conv output; conv_out_size(...) or, for a transposed conv, at most that
};

// The conv output size along one axis: (in + 2 pad - dil (k - 1) - 1) / stride + 1 (may be <= 0: no output).
constexpr int64_t conv_out_size(int64_t in, int64_t k, int64_t stride, int64_t pad, int64_t dil) {
  const int64_t span = in + 2 * pad - dil * (k - 1) - 1;
  return span < 0 ? 0 : span / stride + 1;
}

}  // namespace gan::kernels

namespace gan::kernels::cpu {

// y [N, Cout, Ho, Wo] = conv(x [N, Cin, H, W], w [Cout, Cin / G, kh, kw]) + bias [Cout] (bias may be null).
template <typename T>
void conv2d_forward(const Conv2dShape& s, const T* x, const T* w, const T* bias, T* y);

// gx [N, Cin, H, W] = conv^T(gy [N, Cout, Ho, Wo], w [Cout, Cin / G, kh, kw]) + bias [Cin] (bias may be null).
// This is the transposed convolution's forward pass.
template <typename T>
void conv2d_backward_data(const Conv2dShape& s, const T* gy, const T* w, const T* bias, T* gx);

// gw [Cout, Cin / G, kh, kw] = sum over the batch of gy [N, Cout, Ho, Wo] correlated with x [N, Cin, H, W].
template <typename T>
void conv2d_backward_weight(const Conv2dShape& s, const T* x, const T* gy, T* gw);

}  // namespace gan::kernels::cpu

// CUDA twin: same contract, device pointers, launched on kernels::cuda::stream() (kernels/cuda/runtime.h).
// Defined in kernels/cuda/conv.cu, built only with the CUDA backend.
namespace gan::kernels::cuda {

// y [N, Cout, Ho, Wo] = conv(x [N, Cin, H, W], w [Cout, Cin / G, kh, kw]) + bias [Cout] (bias may be null).
template <typename T>
void conv2d_forward(const Conv2dShape& s, const T* x, const T* w, const T* bias, T* y);

// gx [N, Cin, H, W] = conv^T(gy [N, Cout, Ho, Wo], w [Cout, Cin / G, kh, kw]) + bias [Cin] (bias may be null).
// This is the transposed convolution's forward pass.
template <typename T>
void conv2d_backward_data(const Conv2dShape& s, const T* gy, const T* w, const T* bias, T* gx);

// gw [Cout, Cin / G, kh, kw] = sum over the batch of gy [N, Cout, Ho, Wo] correlated with x [N, Cin, H, W].
template <typename T>
void conv2d_backward_weight(const Conv2dShape& s, const T* x, const T* gy, T* gw);

}  // namespace gan::kernels::cuda
