// CPU reference for kernels/resample.h: per-axis index tables computed once per call (resample_index.h), then
// one pass per plane, planes split across threads. Every output element is written by one thread, in an order
// that depends only on the shape, so results do not depend on the thread count.
#include "kernels/resample.h"

#include <vector>

#include "kernels/resample_index.h"
#include "kernels/strided.h"

namespace gan::kernels::cpu {
namespace {

namespace R = resample;

template <typename F>
void for_planes(const ResampleShape& s, int64_t work_per_plane, F body) {
#pragma omp parallel for schedule(static) if (s.planes * work_per_plane > kParallelGrain && s.planes > 1)
  for (int64_t p = 0; p < s.planes; ++p) body(p);
}

// One axis of an upsampling map, tabulated: each output's taps, and each input's range of outputs [first, end).
template <typename T>
struct AxisTable {
  std::vector<R::Taps<T>> taps;            // per output (nearest: i0 = i1 = src, l0 = 1, l1 = 0)
  std::vector<int64_t> first, end;         // per input
};

template <typename T>
AxisTable<T> axis_table(const ResampleParams& p, int64_t in, int64_t out, double scale) {
  AxisTable<T> t;
  t.taps.resize(static_cast<size_t>(out));
  t.first.resize(static_cast<size_t>(in));
  t.end.resize(static_cast<size_t>(in));
  if (p.kind == ResampleKind::Nearest) {
    for (int64_t o = 0; o < out; ++o) {
      const int64_t src = R::nearest_src(o, in, out, scale);
      t.taps[o] = {src, src, T(1), T(0)};
    }
    for (int64_t i = 0; i < in; ++i) R::nearest_outputs_of(i, in, out, scale, t.first[i], t.end[i]);
  } else {
    const T ratio = R::bilinear_ratio<T>(in, out, p.align_corners, scale);
    for (int64_t o = 0; o < out; ++o) t.taps[o] = R::bilinear_taps<T>(o, in, out, ratio, p.align_corners);
    for (int64_t i = 0; i < in; ++i)
      R::bilinear_outputs_of<T>(i, in, out, ratio, p.align_corners, t.first[i], t.end[i]);
  }
  return t;
}

template <typename T>
void upsample_forward(const ResampleShape& s, const ResampleParams& p, const T* x, T* y) {
  const AxisTable<T> th = axis_table<T>(p, s.H, s.Ho, p.scale_h), tw = axis_table<T>(p, s.W, s.Wo, p.scale_w);
  const bool nearest = p.kind == ResampleKind::Nearest;
  for_planes(s, s.Ho * s.Wo, [&](int64_t plane) {
    const T* xp = x + plane * s.H * s.W;
    T* yp = y + plane * s.Ho * s.Wo;
    for (int64_t oh = 0; oh < s.Ho; ++oh) {
      const R::Taps<T>& h = th.taps[oh];
      const T* r0 = xp + h.i0 * s.W;
      const T* r1 = xp + h.i1 * s.W;
      for (int64_t ow = 0; ow < s.Wo; ++ow) {
        const R::Taps<T>& w = tw.taps[ow];
        if (nearest) {
          yp[oh * s.Wo + ow] = r0[w.i0];
        } else {
          const T t0 = r0[w.i0] * w.l0 + r0[w.i1] * w.l1;
          const T t1 = r1[w.i0] * w.l0 + r1[w.i1] * w.l1;
          yp[oh * s.Wo + ow] = t0 * h.l0 + t1 * h.l1;
        }
      }
    }
  });
}

// gx[h, w] gathers, in increasing (oh, ow), every tap of an output that lands on (h, w): the same sequence of
// additions PyTorch's backward scatters into that element.
template <typename T>
void upsample_adjoint(const ResampleShape& s, const ResampleParams& p, const T* gy, T* gx) {
  const AxisTable<T> th = axis_table<T>(p, s.H, s.Ho, p.scale_h), tw = axis_table<T>(p, s.W, s.Wo, p.scale_w);
  const bool nearest = p.kind == ResampleKind::Nearest;
  for_planes(s, s.Ho * s.Wo, [&](int64_t plane) {
    const T* gp = gy + plane * s.Ho * s.Wo;
    T* xp = gx + plane * s.H * s.W;
    for (int64_t h = 0; h < s.H; ++h) {
      for (int64_t w = 0; w < s.W; ++w) {
        T acc = T(0);
        for (int64_t oh = th.first[h]; oh < th.end[h]; ++oh) {
          const R::Taps<T>& a = th.taps[oh];
          for (int64_t ow = tw.first[w]; ow < tw.end[w]; ++ow) {
            const T g = gp[oh * s.Wo + ow];
            if (nearest) {
              acc += g;
              continue;
            }
            const R::Taps<T>& b = tw.taps[ow];
            if (a.i0 == h && b.i0 == w) acc += a.l0 * b.l0 * g;
            if (a.i0 == h && b.i1 == w) acc += a.l0 * b.l1 * g;
            if (a.i1 == h && b.i0 == w) acc += a.l1 * b.l0 * g;
            if (a.i1 == h && b.i1 == w) acc += a.l1 * b.l1 * g;
          }
        }
        xp[h * s.W + w] = acc;
      }
    }
  });
}

template <typename T>
void pool_forward(const ResampleShape& s, const ResampleParams& p, const T* x, T* y) {
  for_planes(s, s.Ho * s.Wo * p.kh * p.kw, [&](int64_t plane) {
    const T* xp = x + plane * s.H * s.W;
    T* yp = y + plane * s.Ho * s.Wo;
    for (int64_t oh = 0; oh < s.Ho; ++oh) {
      const R::Window wh = R::pool_window(oh, s.H, p.kh, p.sh, p.ph);
      for (int64_t ow = 0; ow < s.Wo; ++ow) {
        const R::Window ww = R::pool_window(ow, s.W, p.kw, p.sw, p.pw);
        if (wh.lo >= wh.hi || ww.lo >= ww.hi) {
          yp[oh * s.Wo + ow] = T(0);
          continue;
        }
        T sum = T(0);
        for (int64_t h = wh.lo; h < wh.hi; ++h)
          for (int64_t w = ww.lo; w < ww.hi; ++w) sum += xp[h * s.W + w];
        yp[oh * s.Wo + ow] = sum / static_cast<T>(R::pool_divisor(wh, ww, p));
      }
    }
  });
}

template <typename T>
void pool_adjoint(const ResampleShape& s, const ResampleParams& p, const T* gy, T* gx) {
  for_planes(s, s.Ho * s.Wo * p.kh * p.kw, [&](int64_t plane) {
    const T* gp = gy + plane * s.Ho * s.Wo;
    T* xp = gx + plane * s.H * s.W;
    for (int64_t h = 0; h < s.H; ++h) {
      int64_t oh0, oh1;
      R::pool_outputs_of(h, s.Ho, p.kh, p.sh, p.ph, oh0, oh1);
      for (int64_t w = 0; w < s.W; ++w) {
        int64_t ow0, ow1;
        R::pool_outputs_of(w, s.Wo, p.kw, p.sw, p.pw, ow0, ow1);
        T acc = T(0);
        for (int64_t oh = oh0; oh <= oh1; ++oh) {
          const R::Window wh = R::pool_window(oh, s.H, p.kh, p.sh, p.ph);
          for (int64_t ow = ow0; ow <= ow1; ++ow) {
            const R::Window ww = R::pool_window(ow, s.W, p.kw, p.sw, p.pw);
            acc += gp[oh * s.Wo + ow] / static_cast<T>(R::pool_divisor(wh, ww, p));
          }
        }
        xp[h * s.W + w] = acc;
      }
    }
  });
}

}  // namespace

template <typename T>
void resample_forward(const ResampleShape& s, const ResampleParams& p, const T* x, T* y) {
  if (p.kind == ResampleKind::AvgPool) pool_forward(s, p, x, y);
  else upsample_forward(s, p, x, y);
}

template <typename T>
void resample_adjoint(const ResampleShape& s, const ResampleParams& p, const T* gy, T* gx) {
  if (p.kind == ResampleKind::AvgPool) pool_adjoint(s, p, gy, gx);
  else upsample_adjoint(s, p, gy, gx);
}

#define GAN_INSTANTIATE(T)                                                                          \
  template void resample_forward<T>(const ResampleShape&, const ResampleParams&, const T*, T*);     \
  template void resample_adjoint<T>(const ResampleShape&, const ResampleParams&, const T*, T*);
GAN_INSTANTIATE(float)
GAN_INSTANTIATE(double)
#undef GAN_INSTANTIATE

}  // namespace gan::kernels::cpu
