// Element-wise kernels: out = f(a), out = f(a, b), out = cond ? a : b, and strided copy with dtype conversion.
//
// All operands share one logical shape (the broadcast output shape); inputs come as strided layouts (stride 0 on
// broadcast dims), the output as a strided layout too (usually contiguous). Scalar parameters travel in
// UnaryParams: leaky_relu's slope, pow's exponent, clamp's bounds, the scalar of add/mul/compare-with-scalar.
#pragma once

#include <cstdint>

#include "kernels/bfloat16.h"
#include "kernels/strided.h"

namespace gan::kernels {

enum class UnaryOp {
  Neg, Exp, Log, Sqrt, Abs, Sign,
  Relu, LeakyRelu,   // p0 = negative slope
  Tanh, Sigmoid,
  Softplus,          // log(1 + exp(x)), evaluated stably
  Pow,               // x ^ p0
  Clamp,             // min(max(x, p0), p1)
  AddScalar,         // x + p0
  MulScalar,         // x * p0
  GtScalar, GeScalar, LtScalar, LeScalar,  // 1 where the comparison with p0 holds, else 0
  Fill,              // p0 (ignores x; used to fill strided views)
};

struct UnaryParams {
  double p0 = 0.0;
  double p1 = 0.0;
};

enum class BinaryOp { Add, Sub, Mul, Div, Maximum, Minimum, Gt, Ge, Lt, Le, Eq };

const char* unary_op_name(UnaryOp op);
const char* binary_op_name(BinaryOp op);

namespace cpu {

template <typename T>
void unary(UnaryOp op, UnaryParams params, const T* in, const Layout& in_layout, T* out,
           const Layout& out_layout);

template <typename T>
void binary(BinaryOp op, const T* a, const Layout& a_layout, const T* b, const Layout& b_layout, T* out,
            const Layout& out_layout);

// out = cond != 0 ? a : b
template <typename T>
void where(const T* cond, const Layout& cond_layout, const T* a, const Layout& a_layout, const T* b,
           const Layout& b_layout, T* out, const Layout& out_layout);

// dst = static_cast<D>(src), element by element over a shared shape. S and D: float, double, int64_t, or
// bfloat16 with float, double or itself (round to nearest even into bfloat16, exact out of it).
template <typename S, typename D>
void copy(const S* src, const Layout& src_layout, D* dst, const Layout& dst_layout);

// out = x > 0 ? g : g * slope, and 0 where x <= 0 when slope == 0 even for a NaN or infinite g (PyTorch's
// threshold_backward and leaky_relu_backward): relu's and leaky_relu's input gradient in one pass. x may be the
// bfloat16 copy the bf16 math mode saves of a float input (engine/saved_activation.h). Contiguous, n elements.
void leaky_relu_backward(const float* g, const float* x, double slope, float* out, int64_t n);
void leaky_relu_backward(const double* g, const double* x, double slope, double* out, int64_t n);
void leaky_relu_backward(const float* g, const bfloat16* x, double slope, float* out, int64_t n);

}  // namespace cpu

// CUDA twin: same contract, device pointers, launched on kernels::cuda::stream() (kernels/cuda/runtime.h).
// Defined in kernels/cuda/elementwise.cu, built only with the CUDA backend.
namespace cuda {

template <typename T>
void unary(UnaryOp op, UnaryParams params, const T* in, const Layout& in_layout, T* out,
           const Layout& out_layout);

template <typename T>
void binary(BinaryOp op, const T* a, const Layout& a_layout, const T* b, const Layout& b_layout, T* out,
            const Layout& out_layout);

// out = cond != 0 ? a : b
template <typename T>
void where(const T* cond, const Layout& cond_layout, const T* a, const Layout& a_layout, const T* b,
           const Layout& b_layout, T* out, const Layout& out_layout);

// dst = static_cast<D>(src), element by element over a shared shape.
template <typename S, typename D>
void copy(const S* src, const Layout& src_layout, D* dst, const Layout& dst_layout);

void leaky_relu_backward(const float* g, const float* x, double slope, float* out, int64_t n);
void leaky_relu_backward(const double* g, const double* x, double slope, double* out, int64_t n);
void leaky_relu_backward(const float* g, const bfloat16* x, double slope, float* out, int64_t n);

}  // namespace cuda
}  // namespace gan::kernels
