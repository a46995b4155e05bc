// CUDA twin of kernels/cpu/elementwise.cpp (contract in kernels/elementwise.h).
//
// Two paths per op, both grid-stride loops:
//   contiguous: every operand contiguous over the shared shape (the common case: fresh tensors of one shape).
//               Flat index; when all pointers are 16-byte aligned, 128-bit packs (4 floats / 2 doubles) per
//               load and store, the ragged tail element by element.
//   strided:    anything else (transposed, sliced, broadcast with stride 0): dims coalesced on the host, one
//               offset per operand from the linear index (kernels/cuda/strided_loops.cuh), 32-bit index math
//               unless the element count or an offset range reaches 2^31.
// The maths is the CPU twins' formula for formula (the same NaN behaviour in relu, clamp, maximum, sign...);
// transcendental functions come from CUDA's libdevice, which rounds the last ulp differently from glibc, so
// exp/log/tanh/pow/softplus/sigmoid results may differ from the CPU by an ulp or two. Everything else
// (arithmetic, comparisons, selects, copies) is bit-identical.
#include "kernels/elementwise.h"

#include <cuda_runtime.h>

#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <stdexcept>
#include <string>

#include "kernels/cuda/check.h"
#include "kernels/cuda/launch.cuh"
#include "kernels/cuda/runtime.h"
#include "kernels/cuda/strided_loops.cuh"

namespace gan::kernels::cuda {
namespace {

using detail::Coalesced;
using detail::kThreads;
using detail::Pack;
using detail::Strided;

// ---- op functors (device), one per UnaryOp / BinaryOp ---------------------------------------------------


template <typename T>
__device__ __forceinline__ T stable_sigmoid(T x) {
  if (x >= T(0)) return T(1) / (T(1) + exp(-x));
  const T e = exp(x);
  return e / (T(1) + e);
}

// std::max(a, b) / std::min(a, b) exactly as the CPU's <algorithm> evaluates them (NaN handling included):
// max returns a unless a < b, min returns a unless b < a.
template <typename T>
__device__ __forceinline__ T std_max(T a, T b) { return (a < b) ? b : a; }
template <typename T>
__device__ __forceinline__ T std_min(T a, T b) { return (b < a) ? b : a; }

template <typename T>
__device__ __forceinline__ T stable_softplus(T x) {
  // log(1 + e^x) = max(x, 0) + log1p(e^-|x|): no overflow for large x, no cancellation for very negative x.
  return std_max(x, T(0)) + log1p(exp(-fabs(x)));
}

#define GAN_UNARY_FUNCTOR(NAME, EXPR)                            \
  template <typename T>                                          \
  struct NAME {                                                  \
    T p0, p1;                                                    \
    __device__ __forceinline__ T operator()(T x) const { return EXPR; } \
  };
GAN_UNARY_FUNCTOR(NegOp, -x)
GAN_UNARY_FUNCTOR(ExpOp, exp(x))
GAN_UNARY_FUNCTOR(LogOp, log(x))
GAN_UNARY_FUNCTOR(SqrtOp, sqrt(x))
GAN_UNARY_FUNCTOR(AbsOp, fabs(x))
GAN_UNARY_FUNCTOR(SignOp, T(int(x > T(0)) - int(x < T(0))))
GAN_UNARY_FUNCTOR(ReluOp, x > T(0) ? x : T(0))
GAN_UNARY_FUNCTOR(LeakyReluOp, x > T(0) ? x : x * p0)
GAN_UNARY_FUNCTOR(TanhOp, tanh(x))
GAN_UNARY_FUNCTOR(SigmoidOp, stable_sigmoid(x))
GAN_UNARY_FUNCTOR(SoftplusOp, stable_softplus(x))
GAN_UNARY_FUNCTOR(SquareOp, x * x)
GAN_UNARY_FUNCTOR(PowOp, pow(x, p0))
GAN_UNARY_FUNCTOR(ClampOp, std_min(std_max(x, p0), p1))
GAN_UNARY_FUNCTOR(AddScalarOp, x + p0)
GAN_UNARY_FUNCTOR(MulScalarOp, x * p0)
GAN_UNARY_FUNCTOR(GtScalarOp, T(x > p0))
GAN_UNARY_FUNCTOR(GeScalarOp, T(x >= p0))
GAN_UNARY_FUNCTOR(LtScalarOp, T(x < p0))
GAN_UNARY_FUNCTOR(LeScalarOp, T(x <= p0))
#undef GAN_UNARY_FUNCTOR

#define GAN_BINARY_FUNCTOR(NAME, EXPR)                                 \
  template <typename T>                                                \
  struct NAME {                                                        \
    __device__ __forceinline__ T operator()(T x, T y) const { return EXPR; } \
  };
GAN_BINARY_FUNCTOR(AddOp, x + y)
GAN_BINARY_FUNCTOR(SubOp, x - y)
GAN_BINARY_FUNCTOR(MulOp, x * y)
GAN_BINARY_FUNCTOR(DivOp, x / y)
GAN_BINARY_FUNCTOR(MaximumOp, isnan(x) || x > y ? x : y)
GAN_BINARY_FUNCTOR(MinimumOp, isnan(x) || x < y ? x : y)
GAN_BINARY_FUNCTOR(GtOp, T(x > y))
GAN_BINARY_FUNCTOR(GeOp, T(x >= y))
GAN_BINARY_FUNCTOR(LtOp, T(x < y))
GAN_BINARY_FUNCTOR(LeOp, T(x <= y))
GAN_BINARY_FUNCTOR(EqOp, T(x == y))
#undef GAN_BINARY_FUNCTOR

template <typename T>
struct FillOp {  // ignores its input: fill reads nothing
  T value;
};

// ---- kernels --------------------------------------------------------------------------------------------
// One kernel template per arity (unary, binary, where, copy) and path. No __restrict__: in-place calls
// (out == in, out == a) are part of the contract, and each element is read and written by one thread.

// Vector width for 128-bit packs of T.
template <typename T>
constexpr int vec_width() {
  return sizeof(T) >= 16 ? 1 : static_cast<int>(16 / sizeof(T));
}

template <typename T, typename F, int V>
__global__ void unary_contig(const T* in, T* out, int64_t n, F f) {
  const int64_t tid = int64_t{blockIdx.x} * blockDim.x + threadIdx.x;
  const int64_t step = int64_t{gridDim.x} * blockDim.x;
  const int64_t nvec = V > 1 ? n / V : 0;
  if constexpr (V > 1) {
    const auto* src = reinterpret_cast<const Pack<T, V>*>(in);
    auto* dst = reinterpret_cast<Pack<T, V>*>(out);
    for (int64_t i = tid; i < nvec; i += step) {
      Pack<T, V> p = src[i];
#pragma unroll
      for (int j = 0; j < V; ++j) p.v[j] = f(p.v[j]);
      dst[i] = p;
    }
  }
  for (int64_t i = nvec * V + tid; i < n; i += step) out[i] = f(in[i]);
}

template <typename T, typename F, typename I>
__global__ void unary_strided(const T* in, T* out, int64_t n, Strided<2, I> s, F f) {
  const int64_t step = int64_t{gridDim.x} * blockDim.x;
  for (int64_t i = int64_t{blockIdx.x} * blockDim.x + threadIdx.x; i < n; i += step) {
    I off[2];
    s.offsets(static_cast<I>(i), off);
    out[off[0]] = f(in[off[1]]);
  }
}

template <typename T, int V>
__global__ void fill_contig(T* out, int64_t n, T value) {
  const int64_t tid = int64_t{blockIdx.x} * blockDim.x + threadIdx.x;
  const int64_t step = int64_t{gridDim.x} * blockDim.x;
  const int64_t nvec = V > 1 ? n / V : 0;
  if constexpr (V > 1) {
    Pack<T, V> p;
#pragma unroll
    for (int j = 0; j < V; ++j) p.v[j] = value;
    auto* dst = reinterpret_cast<Pack<T, V>*>(out);
    for (int64_t i = tid; i < nvec; i += step) dst[i] = p;
  }
  for (int64_t i = nvec * V + tid; i < n; i += step) out[i] = value;
}

template <typename T, typename I>
__global__ void fill_strided(T* out, int64_t n, Strided<1, I> s, T value) {
  const int64_t step = int64_t{gridDim.x} * blockDim.x;
  for (int64_t i = int64_t{blockIdx.x} * blockDim.x + threadIdx.x; i < n; i += step) {
    I off[1];
    s.offsets(static_cast<I>(i), off);
    out[off[0]] = value;
  }
}

template <typename T, typename F, int V>
__global__ void binary_contig(const T* a, const T* b, T* out, int64_t n,
                              F f) {
  const int64_t tid = int64_t{blockIdx.x} * blockDim.x + threadIdx.x;
  const int64_t step = int64_t{gridDim.x} * blockDim.x;
  const int64_t nvec = V > 1 ? n / V : 0;
  if constexpr (V > 1) {
    const auto* pa = reinterpret_cast<const Pack<T, V>*>(a);
    const auto* pb = reinterpret_cast<const Pack<T, V>*>(b);
    auto* po = reinterpret_cast<Pack<T, V>*>(out);
    for (int64_t i = tid; i < nvec; i += step) {
      const Pack<T, V> x = pa[i], y = pb[i];
      Pack<T, V> z;
#pragma unroll
      for (int j = 0; j < V; ++j) z.v[j] = f(x.v[j], y.v[j]);
      po[i] = z;
    }
  }
  for (int64_t i = nvec * V + tid; i < n; i += step) out[i] = f(a[i], b[i]);
}

template <typename T, typename F, typename I>
__global__ void binary_strided(const T* a, const T* b, T* out, int64_t n,
                               Strided<3, I> s, F f) {
  const int64_t step = int64_t{gridDim.x} * blockDim.x;
  for (int64_t i = int64_t{blockIdx.x} * blockDim.x + threadIdx.x; i < n; i += step) {
    I off[3];
    s.offsets(static_cast<I>(i), off);
    out[off[0]] = f(a[off[1]], b[off[2]]);
  }
}

template <typename T, typename I>
__global__ void where_strided(const T* c, const T* a, const T* b,
                              T* out, int64_t n, Strided<4, I> s) {
  const int64_t step = int64_t{gridDim.x} * blockDim.x;
  for (int64_t i = int64_t{blockIdx.x} * blockDim.x + threadIdx.x; i < n; i += step) {
    I off[4];
    s.offsets(static_cast<I>(i), off);
    out[off[0]] = c[off[1]] != T(0) ? a[off[2]] : b[off[3]];
  }
}

template <typename S, typename D, int V>
__global__ void copy_contig(const S* src, D* dst, int64_t n) {
  const int64_t tid = int64_t{blockIdx.x} * blockDim.x + threadIdx.x;
  const int64_t step = int64_t{gridDim.x} * blockDim.x;
  const int64_t nvec = V > 1 ? n / V : 0;
  if constexpr (V > 1) {
    const auto* ps = reinterpret_cast<const Pack<S, V>*>(src);
    auto* pd = reinterpret_cast<Pack<D, V>*>(dst);
    for (int64_t i = tid; i < nvec; i += step) {
      const Pack<S, V> x = ps[i];
      Pack<D, V> y;
#pragma unroll
      for (int j = 0; j < V; ++j) y.v[j] = static_cast<D>(x.v[j]);
      pd[i] = y;
    }
  }
  for (int64_t i = nvec * V + tid; i < n; i += step) dst[i] = static_cast<D>(src[i]);
}

template <typename S, typename D, typename I>
__global__ void copy_strided(const S* src, D* dst, int64_t n, Strided<2, I> s) {
  const int64_t step = int64_t{gridDim.x} * blockDim.x;
  for (int64_t i = int64_t{blockIdx.x} * blockDim.x + threadIdx.x; i < n; i += step) {
    I off[2];
    s.offsets(static_cast<I>(i), off);
    dst[off[0]] = static_cast<D>(src[off[1]]);
  }
}

// ---- launchers ------------------------------------------------------------------------------------------

bool all_contiguous(std::initializer_list<const Layout*> layouts) {
  for (const Layout* l : layouts)
    if (!l->is_contiguous()) return false;
  return true;
}

bool all_aligned(std::initializer_list<const void*> ptrs) {
  for (const void* p : ptrs)
    if (!detail::aligned16(p)) return false;
  return true;
}

template <typename T, typename F>
void launch_unary(const T* in, const Layout& il, T* out, const Layout& ol, F f) {
  const int64_t n = ol.numel();
  if (n == 0) return;
  cudaStream_t st = stream();
  constexpr int V = vec_width<T>();
  if (all_contiguous({&il, &ol})) {
    if (all_aligned({in, out}))
      launch<unary_contig<T, F, V>>(detail::grid_for(n / V + 1), kThreads, 0, st, in, out, n, f);
    else
      launch<unary_contig<T, F, 1>>(detail::grid_for(n), kThreads, 0, st, in, out, n, f);
    return;
  }
  const Layout* ls[2] = {&ol, &il};
  const Coalesced<2> c(ls);
  if (c.fits_int32())
    launch<unary_strided<T, F, int32_t>>(detail::grid_for(n), kThreads, 0, st, in, out, n, c.as<int32_t>(), f);
  else
    launch<unary_strided<T, F, int64_t>>(detail::grid_for(n), kThreads, 0, st, in, out, n, c.as<int64_t>(), f);
}

template <typename T>
void launch_fill(T* out, const Layout& ol, T value) {
  const int64_t n = ol.numel();
  if (n == 0) return;
  cudaStream_t st = stream();
  constexpr int V = vec_width<T>();
  if (ol.is_contiguous()) {
    if (detail::aligned16(out))
      launch<fill_contig<T, V>>(detail::grid_for(n / V + 1), kThreads, 0, st, out, n, value);
    else
      launch<fill_contig<T, 1>>(detail::grid_for(n), kThreads, 0, st, out, n, value);
    return;
  }
  const Layout* ls[1] = {&ol};
  const Coalesced<1> c(ls);
  if (c.fits_int32())
    launch<fill_strided<T, int32_t>>(detail::grid_for(n), kThreads, 0, st, out, n, c.as<int32_t>(), value);
  else
    launch<fill_strided<T, int64_t>>(detail::grid_for(n), kThreads, 0, st, out, n, c.as<int64_t>(), value);
}

template <typename T, typename F>
void launch_binary(const T* a, const Layout& al, const T* b, const Layout& bl, T* out, const Layout& ol, F f) {
  const int64_t n = ol.numel();
  if (n == 0) return;
  cudaStream_t st = stream();
  constexpr int V = vec_width<T>();
  if (all_contiguous({&al, &bl, &ol})) {
    if (all_aligned({a, b, out}))
      launch<binary_contig<T, F, V>>(detail::grid_for(n / V + 1), kThreads, 0, st, a, b, out, n, f);
    else
      launch<binary_contig<T, F, 1>>(detail::grid_for(n), kThreads, 0, st, a, b, out, n, f);
    return;
  }
  const Layout* ls[3] = {&ol, &al, &bl};
  const Coalesced<3> c(ls);
  if (c.fits_int32())
    launch<binary_strided<T, F, int32_t>>(detail::grid_for(n), kThreads, 0, st, a, b, out, n, c.as<int32_t>(), f);
  else
    launch<binary_strided<T, F, int64_t>>(detail::grid_for(n), kThreads, 0, st, a, b, out, n, c.as<int64_t>(), f);
}

}  // namespace

template <typename T>
void unary(UnaryOp op, UnaryParams p, const T* in, const Layout& il, T* out, const Layout& ol) {
  detail::check_same_shape(unary_op_name(op), ol, il);
  const T p0 = static_cast<T>(p.p0), p1 = static_cast<T>(p.p1);
  switch (op) {
    case UnaryOp::Neg: return launch_unary(in, il, out, ol, NegOp<T>{p0, p1});
    case UnaryOp::Exp: return launch_unary(in, il, out, ol, ExpOp<T>{p0, p1});
    case UnaryOp::Log: return launch_unary(in, il, out, ol, LogOp<T>{p0, p1});
    case UnaryOp::Sqrt: return launch_unary(in, il, out, ol, SqrtOp<T>{p0, p1});
    case UnaryOp::Abs: return launch_unary(in, il, out, ol, AbsOp<T>{p0, p1});
    case UnaryOp::Sign: return launch_unary(in, il, out, ol, SignOp<T>{p0, p1});
    case UnaryOp::Relu: return launch_unary(in, il, out, ol, ReluOp<T>{p0, p1});
    case UnaryOp::LeakyRelu: return launch_unary(in, il, out, ol, LeakyReluOp<T>{p0, p1});
    case UnaryOp::Tanh: return launch_unary(in, il, out, ol, TanhOp<T>{p0, p1});
    case UnaryOp::Sigmoid: return launch_unary(in, il, out, ol, SigmoidOp<T>{p0, p1});
    case UnaryOp::Softplus: return launch_unary(in, il, out, ol, SoftplusOp<T>{p0, p1});
    case UnaryOp::Pow:
      // x^2 as one multiply, exactly like the CPU (pow(x, 2) could differ in the last ulp).
      if (p.p0 == 2.0) return launch_unary(in, il, out, ol, SquareOp<T>{p0, p1});
      return launch_unary(in, il, out, ol, PowOp<T>{p0, p1});
    case UnaryOp::Clamp: return launch_unary(in, il, out, ol, ClampOp<T>{p0, p1});
    case UnaryOp::AddScalar: return launch_unary(in, il, out, ol, AddScalarOp<T>{p0, p1});
    case UnaryOp::MulScalar: return launch_unary(in, il, out, ol, MulScalarOp<T>{p0, p1});
    case UnaryOp::GtScalar: return launch_unary(in, il, out, ol, GtScalarOp<T>{p0, p1});
    case UnaryOp::GeScalar: return launch_unary(in, il, out, ol, GeScalarOp<T>{p0, p1});
    case UnaryOp::LtScalar: return launch_unary(in, il, out, ol, LtScalarOp<T>{p0, p1});
    case UnaryOp::LeScalar: return launch_unary(in, il, out, ol, LeScalarOp<T>{p0, p1});
    case UnaryOp::Fill: return launch_fill(out, ol, p0);
  }
  throw std::invalid_argument(std::string("cuda::unary: unknown op ") + unary_op_name(op));
}

template <typename T>
void binary(BinaryOp op, const T* a, const Layout& al, const T* b, const Layout& bl, T* out, const Layout& ol) {
  detail::check_same_shape(binary_op_name(op), ol, al);
  detail::check_same_shape(binary_op_name(op), ol, bl);
  switch (op) {
    case BinaryOp::Add: return launch_binary(a, al, b, bl, out, ol, AddOp<T>{});
    case BinaryOp::Sub: return launch_binary(a, al, b, bl, out, ol, SubOp<T>{});
    case BinaryOp::Mul: return launch_binary(a, al, b, bl, out, ol, MulOp<T>{});
    case BinaryOp::Div: return launch_binary(a, al, b, bl, out, ol, DivOp<T>{});
    case BinaryOp::Maximum: return launch_binary(a, al, b, bl, out, ol, MaximumOp<T>{});
    case BinaryOp::Minimum: return launch_binary(a, al, b, bl, out, ol, MinimumOp<T>{});
    case BinaryOp::Gt: return launch_binary(a, al, b, bl, out, ol, GtOp<T>{});
    case BinaryOp::Ge: return launch_binary(a, al, b, bl, out, ol, GeOp<T>{});
    case BinaryOp::Lt: return launch_binary(a, al, b, bl, out, ol, LtOp<T>{});
    case BinaryOp::Le: return launch_binary(a, al, b, bl, out, ol, LeOp<T>{});
    case BinaryOp::Eq: return launch_binary(a, al, b, bl, out, ol, EqOp<T>{});
  }
  throw std::invalid_argument(std::string("cuda::binary: unknown op ") + binary_op_name(op));
}

template <typename T>
void where(const T* c, const Layout& cl, const T* a, const Layout& al, const T* b, const Layout& bl, T* out,
           const Layout& ol) {
  detail::check_same_shape("where", ol, cl);
  detail::check_same_shape("where", ol, al);
  detail::check_same_shape("where", ol, bl);
  const int64_t n = ol.numel();
  if (n == 0) return;
  // One strided kernel serves both cases: for contiguous operands the coalescing collapses everything to a
  // single dim, so the index math is one division.
  const Layout* ls[4] = {&ol, &cl, &al, &bl};
  const Coalesced<4> co(ls);
  cudaStream_t st = stream();
  if (co.fits_int32())
    launch<where_strided<T, int32_t>>(detail::grid_for(n), kThreads, 0, st, c, a, b, out, n, co.as<int32_t>());
  else
    launch<where_strided<T, int64_t>>(detail::grid_for(n), kThreads, 0, st, c, a, b, out, n, co.as<int64_t>());
}

template <typename S, typename D>
void copy(const S* src, const Layout& sl, D* dst, const Layout& dl) {
  detail::check_same_shape("copy", dl, sl);
  const int64_t n = dl.numel();
  if (n == 0) return;
  cudaStream_t st = stream();
  // Packs of as many elements as 16 bytes of the wider type hold; both pointers must be 16-byte aligned.
  constexpr int V = static_cast<int>(16 / (sizeof(S) > sizeof(D) ? sizeof(S) : sizeof(D)));
  if (sl.is_contiguous() && dl.is_contiguous()) {
    if (all_aligned({src, dst}))
      launch<copy_contig<S, D, V>>(detail::grid_for(n / V + 1), kThreads, 0, st, src, dst, n);
    else
      launch<copy_contig<S, D, 1>>(detail::grid_for(n), kThreads, 0, st, src, dst, n);
    return;
  }
  const Layout* ls[2] = {&dl, &sl};
  const Coalesced<2> c(ls);
  if (c.fits_int32())
    launch<copy_strided<S, D, int32_t>>(detail::grid_for(n), kThreads, 0, st, src, dst, n, c.as<int32_t>());
  else
    launch<copy_strided<S, D, int64_t>>(detail::grid_for(n), kThreads, 0, st, src, dst, n, c.as<int64_t>());
}

template <typename T, typename X>
__global__ void leaky_relu_backward_kernel(const T* __restrict__ g, const X* __restrict__ x, T slope, bool zero,
                                           T* __restrict__ out, int64_t n) {
  const int64_t step = int64_t{gridDim.x} * blockDim.x;
  for (int64_t i = int64_t{blockIdx.x} * blockDim.x + threadIdx.x; i < n; i += step)
    out[i] = static_cast<T>(x[i]) > T(0) ? g[i] : (zero ? T(0) : g[i] * slope);
}

template <typename T, typename X>
void launch_leaky_relu_backward(const T* g, const X* x, double slope, T* out, int64_t n) {
  if (n == 0) return;
  launch<leaky_relu_backward_kernel<T, X>>(detail::grid_for(n), kThreads, 0, stream(), g, x, static_cast<T>(slope),
                                           slope == 0.0, out, n);
}

void leaky_relu_backward(const float* g, const float* x, double slope, float* out, int64_t n) {
  launch_leaky_relu_backward(g, x, slope, out, n);
}
void leaky_relu_backward(const double* g, const double* x, double slope, double* out, int64_t n) {
  launch_leaky_relu_backward(g, x, slope, out, n);
}
void leaky_relu_backward(const float* g, const bfloat16* x, double slope, float* out, int64_t n) {
  launch_leaky_relu_backward(g, x, slope, out, n);
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

}  // namespace gan::kernels::cuda
