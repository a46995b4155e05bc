// 2-D convolution, NCHW, groups = 1, no dilation: one kernel family for conv forward, conv backward-data
// (= transposed-conv forward) and conv backward-weight.
//
// Shapes are always given from the convolution's point of view:
//   x  [N, Cin, H, W]       conv input        (for a transposed conv: its OUTPUT)
//   w  [Cout, Cin, kh, kw]  weight            (for a transposed conv: PyTorch's [Cin_t, Cout_t, kh, kw], same memory)
//   y  [N, Cout, Ho, Wo]    conv output       (for a transposed conv: its INPUT)
// with a symmetric integer stride s and zero padding p, and Ho = (H + 2p - kh) / s + 1 (same for Wo). A transposed
// conv's output_padding only shows up as a larger H (H = (Ho - 1) s - 2p + kh + output_padding); the rows it adds
// receive no contribution except the bias.
//
//   forward         y[n, co, oh, ow]  = b[co] + sum_{ci, i, j} w[co, ci, i, j] * x[n, ci, oh s - p + i, ow s - p + j]
//   backward data   gx[n, ci, h, w']  = b[ci] + sum_{co, oh, ow, i, j : oh s - p + i = h, ow s - p + j = w'}
//                                               w[co, ci, i, j] * gy[n, co, oh, ow]           (the adjoint, A^T gy)
//   backward weight gw[co, ci, i, j]  = sum_{n, oh, ow} gy[n, co, oh, ow] * x[n, ci, oh s - p + i, ow s - p + j]
// where x outside [0, H) x [0, W) reads as zero.
//
// How (CPU): im2col lowers x to col[K, L] with K = Cin kh kw (row k = (ci, i, j)) and L = Ho Wo (column l = (oh, ow)),
// col[(ci, i, j), (oh, ow)] = x[ci, oh s - p + i, ow s - p + j]. Several images sit side by side in one col buffer
// ([K, nb L]) so one GEMM serves a chunk of the batch:
//   forward         Y[Cout, nb L]  = W[Cout, K] * col[K, nb L]               then scatter to NCHW (+ bias)
//   backward data   col[K, nb L]   = W^T[K, Cout] * Gy[Cout, nb L]           then col2im (sums overlaps; no zero-insertion)
//   backward weight gW[Cout, K]   += Gy[Cout, nb L] * col^T[nb L, K]         accumulated over the batch chunks
// The chunk size nb bounds the column buffer, which each call allocates once. Results do not depend on the thread
// count (im2col/col2im split work by (image, channel), each writing its own outputs).
//
// All pointers are to contiguous row-major arrays. Outputs are overwritten, never accumulated into. bias may be
// null (no bias). The CUDA twin will take the same arguments.
#pragma once

#include <cstdint>

namespace gan::kernels {

struct Conv2dShape {
  int64_t N = 0, Cin = 0, H = 0, W = 0;  // conv input
  int64_t Cout = 0, kh = 0, kw = 0;      // weight [Cout, Cin, kh, kw]
  int64_t stride = 1, pad = 0;
  int64_t Ho = 0, Wo = 0;                // conv output; must equal (H + 2 pad - kh) / stride + 1
};

}  // namespace gan::kernels

namespace gan::kernels::cpu {

// y [N, Cout, Ho, Wo] = conv(x [N, Cin, H, W], w [Cout, Cin, kh, kw]) + bias [Cout] (bias may be null).
template <typename T>
void conv2d_forward(const Conv2dShape& s, const T* x, const T* w, const T* bias, T* y);

// gx [N, Cin, H, W] = conv^T(gy [N, Cout, Ho, Wo], w [Cout, Cin, kh, kw]) + bias [Cin] (bias may be null).
// This is the transposed convolution's forward pass.
template <typename T>
void conv2d_backward_data(const Conv2dShape& s, const T* gy, const T* w, const T* bias, T* gx);

// gw [Cout, Cin, kh, kw] = sum over the batch of gy [N, Cout, Ho, Wo] correlated with x [N, Cin, H, W].
template <typename T>
void conv2d_backward_weight(const Conv2dShape& s, const T* x, const T* gy, T* gw);

}  // namespace gan::kernels::cpu

// CUDA twin: same contract, device pointers, launched on kernels::cuda::stream() (kernels/cuda/runtime.h).
// Defined in kernels/cuda/conv.cu, built only with the CUDA backend.
namespace gan::kernels::cuda {

// y [N, Cout, Ho, Wo] = conv(x [N, Cin, H, W], w [Cout, Cin, kh, kw]) + bias [Cout] (bias may be null).
template <typename T>
void conv2d_forward(const Conv2dShape& s, const T* x, const T* w, const T* bias, T* y);

// gx [N, Cin, H, W] = conv^T(gy [N, Cout, Ho, Wo], w [Cout, Cin, kh, kw]) + bias [Cin] (bias may be null).
// This is the transposed convolution's forward pass.
template <typename T>
void conv2d_backward_data(const Conv2dShape& s, const T* gy, const T* w, const T* bias, T* gx);

// gw [Cout, Cin, kh, kw] = sum over the batch of gy [N, Cout, Ho, Wo] correlated with x [N, Cin, H, W].
template <typename T>
void conv2d_backward_weight(const Conv2dShape& s, const T* x, const T* gy, T* gw);

}  // namespace gan::kernels::cuda
