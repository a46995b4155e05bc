// CPU convolution: im2col / col2im around one OpenBLAS GEMM per batch chunk and group (see kernels/conv.h for the
// maths).
#include "kernels/conv.h"

#include <algorithm>
#include <cstring>
#include <memory>
#include <type_traits>

#include "kernels/gemm.h"
#include "kernels/math_mode.h"
#include "kernels/strided.h"

namespace gan::kernels::cpu {
namespace {

// The column buffer holds at most this many elements (4 MiB of float) unless a single image needs more: enough
// columns for an efficient GEMM, small enough to stay in the last-level cache between im2col and the GEMM
// (measured on the DCGAN-32 layers, 2 cores: ~8% faster than 16 MiB; 2 MiB was no better).
constexpr int64_t kColBudget = int64_t(1) << 20;

// Output columns [lo, hi) whose input column ow s - p + tap falls inside [0, W) (tap = j d: the dilated offset of
// kernel column j).
struct ValidRange {
  int64_t lo, hi;
};
inline ValidRange valid_range(int64_t out_size, int64_t in_size, int64_t stride, int64_t pad, int64_t tap) {
  const int64_t first = pad - tap;  // ow s >= p - tap
  int64_t lo = first <= 0 ? 0 : (first + stride - 1) / stride;
  const int64_t last = in_size - 1 + pad - tap;  // ow s <= W - 1 + p - tap
  int64_t hi = last < 0 ? 0 : last / stride + 1;
  lo = std::min(lo, out_size);
  hi = std::clamp(hi, lo, out_size);
  return {lo, hi};
}

// dst[k] = src[k * stride] for k < n, with the common strides as their own loops (the compiler vectorizes them).
template <typename T>
inline void strided_copy(T* dst, const T* src, int64_t n, int64_t stride) {
  if (stride == 1) {
    for (int64_t k = 0; k < n; ++k) dst[k] = src[k];
  } else if (stride == 2) {
    for (int64_t k = 0; k < n; ++k) dst[k] = src[2 * k];
  } else {
    for (int64_t k = 0; k < n; ++k) dst[k] = src[k * stride];
  }
}

// dst[k * stride] += src[k] for k < n.
template <typename T>
inline void strided_add(T* dst, const T* src, int64_t n, int64_t stride) {
  if (stride == 1) {
    for (int64_t k = 0; k < n; ++k) dst[k] += src[k];
  } else if (stride == 2) {
    for (int64_t k = 0; k < n; ++k) dst[2 * k] += src[k];
  } else {
    for (int64_t k = 0; k < n; ++k) dst[k * stride] += src[k];
  }
}

// col rows (ci, i, j) for one image channel xc [H, W]: row r starts at col + r * ld and holds Ho * Wo values.
// Output rows oh in rh and columns ow in rw read inside the image; a col row with any padding in its window is
// zeroed first with one memset (cheaper than many short fills), then its inside part is copied.
template <typename T>
void im2col_channel(const Conv2dShape& s, const T* xc, T* col, int64_t ld) {
  for (int64_t i = 0; i < s.kh; ++i) {
    const ValidRange rh = valid_range(s.Ho, s.H, s.stride_h, s.pad_h, i * s.dil_h);
    for (int64_t j = 0; j < s.kw; ++j) {
      T* row = col + (i * s.kw + j) * ld;
      const ValidRange rw = valid_range(s.Wo, s.W, s.stride_w, s.pad_w, j * s.dil_w);
      if (rh.lo > 0 || rh.hi < s.Ho || rw.lo > 0 || rw.hi < s.Wo)
        std::memset(static_cast<void*>(row), 0, sizeof(T) * static_cast<size_t>(s.Ho * s.Wo));
      const int64_t n = rw.hi - rw.lo;
      if (n <= 0) continue;
      for (int64_t oh = rh.lo; oh < rh.hi; ++oh) {
        const int64_t ih = oh * s.stride_h - s.pad_h + i * s.dil_h;
        const int64_t iw = rw.lo * s.stride_w - s.pad_w + j * s.dil_w;
        strided_copy(row + oh * s.Wo + rw.lo, xc + ih * s.W + iw, n, s.stride_w);
      }
    }
  }
}

// The adjoint of im2col_channel: adds every column entry back into the image channel xc [H, W] (pre-filled).
template <typename T>
void col2im_channel(const Conv2dShape& s, const T* col, int64_t ld, T* xc) {
  for (int64_t i = 0; i < s.kh; ++i) {
    const ValidRange rh = valid_range(s.Ho, s.H, s.stride_h, s.pad_h, i * s.dil_h);
    for (int64_t j = 0; j < s.kw; ++j) {
      const T* row = col + (i * s.kw + j) * ld;
      const ValidRange rw = valid_range(s.Wo, s.W, s.stride_w, s.pad_w, j * s.dil_w);
      const int64_t n = rw.hi - rw.lo;
      if (n <= 0) continue;
      for (int64_t oh = rh.lo; oh < rh.hi; ++oh) {
        const int64_t ih = oh * s.stride_h - s.pad_h + i * s.dil_h;
        const int64_t iw = rw.lo * s.stride_w - s.pad_w + j * s.dil_w;
        strided_add(xc + ih * s.W + iw, row + oh * s.Wo + rw.lo, n, s.stride_w);
      }
    }
  }
}

// Images [n0, n0 + nb) of x lowered into col [K, nb L] (leading dimension ld = nb L).
template <typename T>
void im2col_chunk(const Conv2dShape& s, const T* x, int64_t n0, int64_t nb, T* col) {
  const int64_t L = s.Ho * s.Wo, ld = nb * L, KK = s.kh * s.kw, plane = s.H * s.W;
  const int64_t pairs = nb * s.Cin;
#pragma omp parallel for schedule(static) if (pairs > 1 && pairs * KK * L > kParallelGrain)
  for (int64_t q = 0; q < pairs; ++q) {
    const int64_t b = q / s.Cin, ci = q % s.Cin;
    im2col_channel(s, x + ((n0 + b) * s.Cin + ci) * plane, col + ci * KK * ld + b * L, ld);
  }
}

// col [K, nb L] summed into images [n0, n0 + nb) of gx, each channel first set to bias[ci] (or 0).
template <typename T>
void col2im_chunk(const Conv2dShape& s, const T* col, const T* bias, int64_t n0, int64_t nb, T* gx) {
  const int64_t L = s.Ho * s.Wo, ld = nb * L, KK = s.kh * s.kw, plane = s.H * s.W;
  const int64_t pairs = nb * s.Cin;
#pragma omp parallel for schedule(static) if (pairs > 1 && pairs * KK * L > kParallelGrain)
  for (int64_t q = 0; q < pairs; ++q) {
    const int64_t b = q / s.Cin, ci = q % s.Cin;
    T* xc = gx + ((n0 + b) * s.Cin + ci) * plane;
    std::fill(xc, xc + plane, bias ? bias[ci] : T(0));
    col2im_channel(s, col + ci * KK * ld + b * L, ld, xc);
  }
}

// [nb, C, L] (images n0.. of an NCHW tensor) <-> [C, nb L].
template <typename T>
void gather_chunk(const T* src, int64_t C, int64_t L, int64_t n0, int64_t nb, T* dst) {
  const int64_t ld = nb * L, pairs = nb * C;
#pragma omp parallel for schedule(static) if (pairs > 1 && pairs * L > kParallelGrain)
  for (int64_t q = 0; q < pairs; ++q) {
    const int64_t b = q / C, c = q % C;
    std::memcpy(dst + c * ld + b * L, src + ((n0 + b) * C + c) * L, sizeof(T) * L);
  }
}

// dst images n0.. [nb, C, L] = src [C, nb L] + bias[c] (bias may be null).
template <typename T>
void scatter_chunk(const T* src, const T* bias, int64_t C, int64_t L, int64_t n0, int64_t nb, T* dst) {
  const int64_t ld = nb * L, pairs = nb * C;
#pragma omp parallel for schedule(static) if (pairs > 1 && pairs * L > kParallelGrain)
  for (int64_t q = 0; q < pairs; ++q) {
    const int64_t b = q / C, c = q % C;
    const T* ps = src + c * ld + b * L;
    T* pd = dst + ((n0 + b) * C + c) * L;
    const T bc = bias ? bias[c] : T(0);
    for (int64_t l = 0; l < L; ++l) pd[l] = ps[l] + bc;
  }
}

// Images per chunk: as many as fit the column budget, at least one.
int64_t chunk_images(const Conv2dShape& s) {
  const int64_t per_image = std::max<int64_t>(1, s.Cin * s.kh * s.kw * s.Ho * s.Wo);
  return std::clamp<int64_t>(kColBudget / per_image, 1, std::max<int64_t>(s.N, 1));
}

template <typename T>
std::unique_ptr<T[]> uninitialized(int64_t n) {
  return std::unique_ptr<T[]>(new T[static_cast<size_t>(std::max<int64_t>(n, 1))]);
}

// The per-group GEMM dimensions: Cout / G output channels, K / G = (Cin / G) kh kw reduction rows of col.
struct GroupDims {
  int64_t cout, k;
};
GroupDims group_dims(const Conv2dShape& s) {
  return {s.Cout / s.groups, s.Cin / s.groups * s.kh * s.kw};
}

template <typename T>
void conv2d_forward_unrounded(const Conv2dShape& s, const T* x, const T* w, const T* bias, T* y) {
  const int64_t K = s.Cin * s.kh * s.kw, L = s.Ho * s.Wo;
  if (s.N == 0 || s.Cout == 0 || L == 0) return;
  if (K == 0) {  // no input channels: the output is the bias
    for (int64_t n = 0; n < s.N; ++n)
      for (int64_t c = 0; c < s.Cout; ++c)
        std::fill(y + (n * s.Cout + c) * L, y + (n * s.Cout + c + 1) * L, bias ? bias[c] : T(0));
    return;
  }
  const GroupDims gd = group_dims(s);
  const int64_t nb_max = chunk_images(s);
  // One allocation: the column buffer, then (when a chunk holds several images) the [Cout, nb L] GEMM result.
  const int64_t col_size = K * nb_max * L, tmp_size = nb_max > 1 ? s.Cout * nb_max * L : 0;
  auto buf = uninitialized<T>(col_size + tmp_size);
  T* col = buf.get();
  T* tmp = col + col_size;
  for (int64_t n0 = 0; n0 < s.N; n0 += nb_max) {
    const int64_t nb = std::min(nb_max, s.N - n0), ld = nb * L;
    im2col_chunk(s, x, n0, nb, col);
    // A single image writes its [Cout, L] result in place; a chunk goes through tmp [Cout, nb L].
    T* dst = nb == 1 ? y + n0 * s.Cout * L : tmp;
    for (int64_t g = 0; g < s.groups; ++g)
      gemm<T>(false, false, gd.cout, ld, gd.k, T(1), w + g * gd.cout * gd.k, gd.k, col + g * gd.k * ld, ld, T(0),
              dst + g * gd.cout * ld, ld);
    if (nb == 1) {
      if (bias)
        for (int64_t c = 0; c < s.Cout; ++c)
          for (int64_t l = 0; l < L; ++l) dst[c * L + l] += bias[c];
    } else {
      scatter_chunk(tmp, bias, s.Cout, L, n0, nb, y);
    }
  }
}

template <typename T>
void conv2d_backward_data_unrounded(const Conv2dShape& s, const T* gy, const T* w, const T* bias, T* gx) {
  const int64_t K = s.Cin * s.kh * s.kw, L = s.Ho * s.Wo, plane = s.H * s.W;
  if (s.N == 0 || s.Cin == 0 || plane == 0) return;
  if (s.Cout == 0 || L == 0) {  // nothing flows back: gx is the bias
    for (int64_t n = 0; n < s.N; ++n)
      for (int64_t c = 0; c < s.Cin; ++c)
        std::fill(gx + (n * s.Cin + c) * plane, gx + (n * s.Cin + c + 1) * plane, bias ? bias[c] : T(0));
    return;
  }
  const GroupDims gd = group_dims(s);
  const int64_t nb_max = chunk_images(s);
  const int64_t col_size = K * nb_max * L, g_size = nb_max > 1 ? s.Cout * nb_max * L : 0;
  auto buf = uninitialized<T>(col_size + g_size);
  T* col = buf.get();
  T* g = col + col_size;
  for (int64_t n0 = 0; n0 < s.N; n0 += nb_max) {
    const int64_t nb = std::min(nb_max, s.N - n0), ld = nb * L;
    const T* gchunk = gy + n0 * s.Cout * L;  // a single image is already [Cout, L]
    if (nb > 1) {
      gather_chunk(gy, s.Cout, L, n0, nb, g);
      gchunk = g;
    }
    for (int64_t grp = 0; grp < s.groups; ++grp)
      gemm<T>(true, false, gd.k, ld, gd.cout, T(1), w + grp * gd.cout * gd.k, gd.k, gchunk + grp * gd.cout * ld, ld,
              T(0), col + grp * gd.k * ld, ld);
    col2im_chunk(s, col, bias, n0, nb, gx);
  }
}

template <typename T>
void conv2d_backward_weight_unrounded(const Conv2dShape& s, const T* x, const T* gy, T* gw) {
  const int64_t K = s.Cin * s.kh * s.kw, L = s.Ho * s.Wo;
  if (s.Cout == 0 || K == 0) return;
  const GroupDims gd = group_dims(s);
  if (s.N == 0 || L == 0) {
    std::fill(gw, gw + s.Cout * gd.k, T(0));
    return;
  }
  const int64_t nb_max = chunk_images(s);
  const int64_t col_size = K * nb_max * L, g_size = nb_max > 1 ? s.Cout * nb_max * L : 0;
  auto buf = uninitialized<T>(col_size + g_size);
  T* col = buf.get();
  T* g = col + col_size;
  for (int64_t n0 = 0; n0 < s.N; n0 += nb_max) {
    const int64_t nb = std::min(nb_max, s.N - n0), ld = nb * L;
    im2col_chunk(s, x, n0, nb, col);
    const T* gchunk = gy + n0 * s.Cout * L;
    if (nb > 1) {
      gather_chunk(gy, s.Cout, L, n0, nb, g);
      gchunk = g;
    }
    // gW_g[Cout/G, K/G] (+)= G_g[Cout/G, nb L] * col_g^T: the first chunk overwrites, the rest accumulate.
    for (int64_t grp = 0; grp < s.groups; ++grp)
      gemm<T>(false, true, gd.cout, gd.k, ld, T(1), gchunk + grp * gd.cout * ld, ld, col + grp * gd.k * ld, ld,
              n0 == 0 ? T(0) : T(1), gw + grp * gd.cout * gd.k, gd.k);
  }
}

// In the bf16 math mode a float conv's output is rounded to bf16 as a whole, after the bias and after every chunk
// (backward weight) or overlap (col2im) has been summed, as the CUDA twin's epilogues round (kernels/conv.h).
template <typename T>
void round_output(T* out, int64_t n) {
  if constexpr (std::is_same_v<T, float>) {
    if (float_math() != FloatMath::Bf16) return;
#pragma omp parallel for schedule(static) if (n > (int64_t(1) << 16))
    for (int64_t i = 0; i < n; ++i) out[i] = bf16_round(out[i]);
  }
}

}  // namespace

template <typename T>
void conv2d_forward(const Conv2dShape& s, const T* x, const T* w, const T* bias, T* y) {
  conv2d_forward_unrounded(s, x, w, bias, y);
  round_output(y, s.N * s.Cout * s.Ho * s.Wo);
}

template <typename T>
void conv2d_backward_data(const Conv2dShape& s, const T* gy, const T* w, const T* bias, T* gx) {
  conv2d_backward_data_unrounded(s, gy, w, bias, gx);
  round_output(gx, s.N * s.Cin * s.H * s.W);
}

template <typename T>
void conv2d_backward_weight(const Conv2dShape& s, const T* x, const T* gy, T* gw) {
  conv2d_backward_weight_unrounded(s, x, gy, gw);
  round_output(gw, s.Cout * (s.Cin / std::max<int64_t>(s.groups, 1)) * s.kh * s.kw);
}

#define GAN_INSTANTIATE_CONV(T)                                                                   \
  template void conv2d_forward<T>(const Conv2dShape&, const T*, const T*, const T*, T*);          \
  template void conv2d_backward_data<T>(const Conv2dShape&, const T*, const T*, const T*, T*);    \
  template void conv2d_backward_weight<T>(const Conv2dShape&, const T*, const T*, T*);
GAN_INSTANTIATE_CONV(float)
GAN_INSTANTIATE_CONV(double)
#undef GAN_INSTANTIATE_CONV

}  // namespace gan::kernels::cpu
