#include "kernels/elementwise.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "kernels/cpu/loops.h"

namespace gan::kernels {

const char* unary_op_name(UnaryOp op) {
  switch (op) {
    case UnaryOp::Neg: return "neg";
    case UnaryOp::Exp: return "exp";
    case UnaryOp::Log: return "log";
    case UnaryOp::Sqrt: return "sqrt";
    case UnaryOp::Abs: return "abs";
    case UnaryOp::Sign: return "sign";
    case UnaryOp::Relu: return "relu";
    case UnaryOp::LeakyRelu: return "leaky_relu";
    case UnaryOp::Tanh: return "tanh";
    case UnaryOp::Sigmoid: return "sigmoid";
    case UnaryOp::Softplus: return "softplus";
    case UnaryOp::Pow: return "pow";
    case UnaryOp::Clamp: return "clamp";
    case UnaryOp::AddScalar: return "add_scalar";
    case UnaryOp::MulScalar: return "mul_scalar";
    case UnaryOp::GtScalar: return "gt_scalar";
    case UnaryOp::GeScalar: return "ge_scalar";
    case UnaryOp::LtScalar: return "lt_scalar";
    case UnaryOp::LeScalar: return "le_scalar";
    case UnaryOp::Fill: return "fill";
  }
  return "unknown_unary";
}

const char* binary_op_name(BinaryOp op) {
  switch (op) {
    case BinaryOp::Add: return "add";
    case BinaryOp::Sub: return "sub";
    case BinaryOp::Mul: return "mul";
    case BinaryOp::Div: return "div";
    case BinaryOp::Maximum: return "maximum";
    case BinaryOp::Minimum: return "minimum";
    case BinaryOp::Gt: return "gt";
    case BinaryOp::Ge: return "ge";
    case BinaryOp::Lt: return "lt";
    case BinaryOp::Le: return "le";
    case BinaryOp::Eq: return "eq";
  }
  return "unknown_binary";
}

namespace cpu {
namespace {

template <typename T, typename F>
void map_unary(const T* in, const Layout& il, T* out, const Layout& ol, F f) {
  if (il.is_contiguous() && ol.is_contiguous()) {
    const int64_t n = ol.numel();
#pragma omp parallel for schedule(static) if (n > kParallelGrain)
    for (int64_t i = 0; i < n; ++i) out[i] = f(in[i]);
    return;
  }
  const int64_t is = il.inner_stride(), os = ol.inner_stride();
  detail::for_each_row(ol, [&](int64_t r, int64_t inner) {
    const T* src = in + il.row_offset(r);
    T* dst = out + ol.row_offset(r);
    for (int64_t i = 0; i < inner; ++i) dst[i * os] = f(src[i * is]);
  });
}

template <typename T, typename F>
void map_binary(const T* a, const Layout& al, const T* b, const Layout& bl, T* out, const Layout& ol, F f) {
  if (al.is_contiguous() && bl.is_contiguous() && ol.is_contiguous()) {
    const int64_t n = ol.numel();
#pragma omp parallel for schedule(static) if (n > kParallelGrain)
    for (int64_t i = 0; i < n; ++i) out[i] = f(a[i], b[i]);
    return;
  }
  const int64_t as = al.inner_stride(), bs = bl.inner_stride(), os = ol.inner_stride();
  detail::for_each_row(ol, [&](int64_t r, int64_t inner) {
    const T* pa = a + al.row_offset(r);
    const T* pb = b + bl.row_offset(r);
    T* po = out + ol.row_offset(r);
    for (int64_t i = 0; i < inner; ++i) po[i * os] = f(pa[i * as], pb[i * bs]);
  });
}

template <typename T>
T stable_softplus(T x) {
  // log(1 + e^x) = max(x, 0) + log1p(e^-|x|): no overflow for large x, no cancellation for very negative x.
  return std::max(x, T(0)) + std::log1p(std::exp(-std::abs(x)));
}

template <typename T>
T stable_sigmoid(T x) {
  if (x >= T(0)) return T(1) / (T(1) + std::exp(-x));
  const T e = std::exp(x);
  return e / (T(1) + e);
}

}  // namespace

template <typename T>
void unary(UnaryOp op, UnaryParams p, const T* in, const Layout& il, T* out, const Layout& ol) {
  const T p0 = static_cast<T>(p.p0), p1 = static_cast<T>(p.p1);
  switch (op) {
    case UnaryOp::Neg: return map_unary(in, il, out, ol, [](T x) { return -x; });
    case UnaryOp::Exp: return map_unary(in, il, out, ol, [](T x) { return std::exp(x); });
    case UnaryOp::Log: return map_unary(in, il, out, ol, [](T x) { return std::log(x); });
    case UnaryOp::Sqrt: return map_unary(in, il, out, ol, [](T x) { return std::sqrt(x); });
    case UnaryOp::Abs: return map_unary(in, il, out, ol, [](T x) { return std::abs(x); });
    case UnaryOp::Sign:
      return map_unary(in, il, out, ol, [](T x) { return T((x > T(0)) - (x < T(0))); });
    case UnaryOp::Relu: return map_unary(in, il, out, ol, [](T x) { return x > T(0) ? x : T(0); });
    case UnaryOp::LeakyRelu:
      return map_unary(in, il, out, ol, [p0](T x) { return x > T(0) ? x : x * p0; });
    case UnaryOp::Tanh: return map_unary(in, il, out, ol, [](T x) { return std::tanh(x); });
    case UnaryOp::Sigmoid: return map_unary(in, il, out, ol, [](T x) { return stable_sigmoid(x); });
    case UnaryOp::Softplus: return map_unary(in, il, out, ol, [](T x) { return stable_softplus(x); });
    case UnaryOp::Pow:
      if (p.p0 == 2.0) return map_unary(in, il, out, ol, [](T x) { return x * x; });
      return map_unary(in, il, out, ol, [p0](T x) { return std::pow(x, p0); });
    case UnaryOp::Clamp:
      return map_unary(in, il, out, ol, [p0, p1](T x) { return std::min(std::max(x, p0), p1); });
    case UnaryOp::AddScalar: return map_unary(in, il, out, ol, [p0](T x) { return x + p0; });
    case UnaryOp::MulScalar: return map_unary(in, il, out, ol, [p0](T x) { return x * p0; });
    case UnaryOp::GtScalar: return map_unary(in, il, out, ol, [p0](T x) { return T(x > p0); });
    case UnaryOp::GeScalar: return map_unary(in, il, out, ol, [p0](T x) { return T(x >= p0); });
    case UnaryOp::LtScalar: return map_unary(in, il, out, ol, [p0](T x) { return T(x < p0); });
    case UnaryOp::LeScalar: return map_unary(in, il, out, ol, [p0](T x) { return T(x <= p0); });
    case UnaryOp::Fill: return map_unary(in, il, out, ol, [p0](T) { return p0; });
  }
  throw std::invalid_argument(std::string("cpu::unary: unknown op ") + unary_op_name(op));
}

template <typename T>
void binary(BinaryOp op, const T* a, const Layout& al, const T* b, const Layout& bl, T* out, const Layout& ol) {
  switch (op) {
    case BinaryOp::Add: return map_binary(a, al, b, bl, out, ol, [](T x, T y) { return x + y; });
    case BinaryOp::Sub: return map_binary(a, al, b, bl, out, ol, [](T x, T y) { return x - y; });
    case BinaryOp::Mul: return map_binary(a, al, b, bl, out, ol, [](T x, T y) { return x * y; });
    case BinaryOp::Div: return map_binary(a, al, b, bl, out, ol, [](T x, T y) { return x / y; });
    case BinaryOp::Maximum:
      return map_binary(a, al, b, bl, out, ol, [](T x, T y) { return std::isnan(x) || x > y ? x : y; });
    case BinaryOp::Minimum:
      return map_binary(a, al, b, bl, out, ol, [](T x, T y) { return std::isnan(x) || x < y ? x : y; });
    case BinaryOp::Gt: return map_binary(a, al, b, bl, out, ol, [](T x, T y) { return T(x > y); });
    case BinaryOp::Ge: return map_binary(a, al, b, bl, out, ol, [](T x, T y) { return T(x >= y); });
    case BinaryOp::Lt: return map_binary(a, al, b, bl, out, ol, [](T x, T y) { return T(x < y); });
    case BinaryOp::Le: return map_binary(a, al, b, bl, out, ol, [](T x, T y) { return T(x <= y); });
    case BinaryOp::Eq: return map_binary(a, al, b, bl, out, ol, [](T x, T y) { return T(x == y); });
  }
  throw std::invalid_argument(std::string("cpu::binary: unknown op ") + binary_op_name(op));
}

template <typename T>
void where(const T* c, const Layout& cl, const T* a, const Layout& al, const T* b, const Layout& bl, T* out,
           const Layout& ol) {
  const int64_t cs = cl.inner_stride(), as = al.inner_stride(), bs = bl.inner_stride(), os = ol.inner_stride();
  detail::for_each_row(ol, [&](int64_t r, int64_t inner) {
    const T* pc = c + cl.row_offset(r);
    const T* pa = a + al.row_offset(r);
    const T* pb = b + bl.row_offset(r);
    T* po = out + ol.row_offset(r);
    for (int64_t i = 0; i < inner; ++i) po[i * os] = pc[i * cs] != T(0) ? pa[i * as] : pb[i * bs];
  });
}

template <typename S, typename D>
void copy(const S* src, const Layout& sl, D* dst, const Layout& dl) {
  if (sl.is_contiguous() && dl.is_contiguous()) {
    const int64_t n = dl.numel();
#pragma omp parallel for schedule(static) if (n > kParallelGrain)
    for (int64_t i = 0; i < n; ++i) dst[i] = static_cast<D>(src[i]);
    return;
  }
  const int64_t ss = sl.inner_stride(), ds = dl.inner_stride();
  detail::for_each_row(dl, [&](int64_t r, int64_t inner) {
    const S* ps = src + sl.row_offset(r);
    D* pd = dst + dl.row_offset(r);
    for (int64_t i = 0; i < inner; ++i) pd[i * ds] = static_cast<D>(ps[i * ss]);
  });
}

namespace {
template <typename T, typename X>
void leaky_relu_backward_impl(const T* g, const X* x, double slope, T* out, int64_t n) {
  const T s = static_cast<T>(slope);
  const bool zero = slope == 0.0;
#pragma omp parallel for schedule(static) if (n > kParallelGrain)
  for (int64_t i = 0; i < n; ++i) out[i] = static_cast<T>(x[i]) > T(0) ? g[i] : (zero ? T(0) : g[i] * s);
}
}  // namespace

void leaky_relu_backward(const float* g, const float* x, double slope, float* out, int64_t n) {
  leaky_relu_backward_impl(g, x, slope, out, n);
}
void leaky_relu_backward(const double* g, const double* x, double slope, double* out, int64_t n) {
  leaky_relu_backward_impl(g, x, slope, out, n);
}
void leaky_relu_backward(const float* g, const bfloat16* x, double slope, float* out, int64_t n) {
  leaky_relu_backward_impl(g, x, slope, out, n);
}

#define GAN_INSTANTIATE_FLOATING(T)                                                                         \
  template void unary<T>(UnaryOp, UnaryParams, const T*, const Layout&, T*, const Layout&);                 \
  template void binary<T>(BinaryOp, const T*, const Layout&, const T*, const Layout&, T*, const Layout&);    \
  template void where<T>(const T*, const Layout&, const T*, const Layout&, const T*, const Layout&, T*,     \
                         const Layout&);
GAN_INSTANTIATE_FLOATING(float)
GAN_INSTANTIATE_FLOATING(double)
#undef GAN_INSTANTIATE_FLOATING

#define GAN_INSTANTIATE_COPY(S, D) template void copy<S, D>(const S*, const Layout&, D*, const Layout&);
#define GAN_INSTANTIATE_COPY_FROM(S) \
  GAN_INSTANTIATE_COPY(S, float) GAN_INSTANTIATE_COPY(S, double) GAN_INSTANTIATE_COPY(S, int64_t)
GAN_INSTANTIATE_COPY_FROM(float)
GAN_INSTANTIATE_COPY_FROM(double)
GAN_INSTANTIATE_COPY_FROM(int64_t)
// bfloat16 converts to and from the floating types only (kernels/bfloat16.h).
GAN_INSTANTIATE_COPY(bfloat16, bfloat16)
GAN_INSTANTIATE_COPY(bfloat16, float) GAN_INSTANTIATE_COPY(float, bfloat16)
GAN_INSTANTIATE_COPY(bfloat16, double) GAN_INSTANTIATE_COPY(double, bfloat16)
#undef GAN_INSTANTIATE_COPY_FROM
#undef GAN_INSTANTIATE_COPY

}  // namespace cpu
}  // namespace gan::kernels
