// The differentiable operations. Each runs its kernel (kernels/) and, when an input requires grad, records a
// backward rule written with these same ops, so gradients of gradients work.
//
// Semantics follow PyTorch: broadcasting for binary ops, dims may be negative, reductions take a list of dims and
// keepdim. Operands of a binary op must share dtype and device (no implicit promotion: call .to(dtype)).
#pragma once

#include <concepts>
#include <limits>
#include <vector>

#include "engine/autograd.h"
#include "engine/tensor.h"

namespace gan {

// ---- element-wise, binary (broadcasting) ----
Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);
Tensor maximum(const Tensor& a, const Tensor& b);  // gradient goes to the larger input (a on ties)
Tensor minimum(const Tensor& a, const Tensor& b);  // gradient goes to the smaller input (a on ties)
// cond != 0 ? a : b; cond is not differentiated.
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b);

// ---- element-wise with a scalar ----
Tensor add(const Tensor& a, double s);
Tensor mul(const Tensor& a, double s);
Tensor sub(const Tensor& a, double s);
Tensor rsub(const Tensor& a, double s);  // s - a
Tensor div(const Tensor& a, double s);
Tensor rdiv(const Tensor& a, double s);  // s / a

// ---- element-wise, unary ----
Tensor neg(const Tensor& x);
Tensor exp(const Tensor& x);
Tensor log(const Tensor& x);
Tensor sqrt(const Tensor& x);
Tensor pow(const Tensor& x, double exponent);
Tensor abs(const Tensor& x);
Tensor clamp(const Tensor& x, double lo = -std::numeric_limits<double>::infinity(),
             double hi = std::numeric_limits<double>::infinity());

// ---- activations ----
Tensor relu(const Tensor& x);
Tensor leaky_relu(const Tensor& x, double negative_slope = 0.01);
Tensor tanh(const Tensor& x);
Tensor sigmoid(const Tensor& x);
Tensor softplus(const Tensor& x);
// The backward rules of relu (slope 0), leaky_relu and abs as ops of (g, x): g where x > 0 and slope g elsewhere;
// g sign(x). Their derivative w.r.t. x is zero but the edge to x is kept, as PyTorch keeps it: a gradient taken
// with create_graph through them still depends on x (Hessian-vector products give zeros, not an error).
Tensor leaky_relu_backward(const Tensor& g, const Tensor& x, double negative_slope);
Tensor abs_backward(const Tensor& g, const Tensor& x);

// ---- comparisons and masks (not differentiable; 1/0 in the input's dtype) ----
Tensor gt(const Tensor& a, const Tensor& b);
Tensor ge(const Tensor& a, const Tensor& b);
Tensor lt(const Tensor& a, const Tensor& b);
Tensor le(const Tensor& a, const Tensor& b);
Tensor eq(const Tensor& a, const Tensor& b);
Tensor gt(const Tensor& a, double s);
Tensor ge(const Tensor& a, double s);
Tensor lt(const Tensor& a, double s);
Tensor le(const Tensor& a, double s);
Tensor sign(const Tensor& x);

// ---- reductions ----
Tensor sum(const Tensor& x);  // all elements -> scalar
Tensor sum(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim = false);
Tensor mean(const Tensor& x);
Tensor mean(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim = false);
// Variance over dims; unbiased divides by N - 1 (Bessel), else by N.
Tensor var(const Tensor& x, const std::vector<int64_t>& dims, bool unbiased = true, bool keepdim = false);
// Over all elements. The `unbiased` overload takes exactly a bool (a template cannot be deduced from a braced list),
// so var(x, {1}) means dim 1 and var(x, {}) all dims, unbiased, instead of converting the list to `unbiased`.
Tensor var(const Tensor& x);
template <std::same_as<bool> Bool>
Tensor var(const Tensor& x, Bool unbiased) {
  return var(x, std::vector<int64_t>{}, unbiased, false);
}
Tensor max(const Tensor& x);  // all elements -> scalar
Tensor max(const Tensor& x, int64_t dim, bool keepdim = false);
Tensor argmax(const Tensor& x, int64_t dim, bool keepdim = false);  // int64, not differentiable
// Sums a broadcast gradient back to `shape` (the adjoint of expand).
Tensor sum_to(const Tensor& x, const Shape& shape);

// ---- index helpers along one dim (x viewed as [outer, R, inner]), used by max and future ops ----
// out[..., i, ...] = x[..., index[..., i, ...], ...] with index one element shorter (size 1 or squeezed) on dim.
Tensor gather_along(const Tensor& x, int64_t dim, const Tensor& index);
// The adjoint: a tensor of `shape` holding src at the indexed positions, zeros elsewhere.
Tensor scatter_along(const Tensor& src, int64_t dim, const Tensor& index, const Shape& shape);

// ---- shape and views ----
Tensor reshape(const Tensor& x, const Shape& shape);  // a view when x is contiguous, else a copy; one -1 allowed
Tensor view(const Tensor& x, const Shape& shape);     // like reshape, but x must be contiguous
Tensor flatten(const Tensor& x, int64_t start_dim = 0, int64_t end_dim = -1);
Tensor narrow(const Tensor& x, int64_t dim, int64_t start, int64_t length);
Tensor slice(const Tensor& x, int64_t dim, int64_t start, int64_t end, int64_t step = 1);
Tensor permute(const Tensor& x, const std::vector<int64_t>& dims);
Tensor transpose(const Tensor& x, int64_t d0, int64_t d1);
Tensor unsqueeze(const Tensor& x, int64_t dim);
Tensor squeeze(const Tensor& x);  // all size-1 dims
Tensor squeeze(const Tensor& x, int64_t dim);
Tensor expand(const Tensor& x, const Shape& shape);  // broadcast view, stride 0 on expanded dims
Tensor contiguous(const Tensor& x);
Tensor clone(const Tensor& x);
Tensor to_dtype(const Tensor& x, DType dtype);
Tensor to_device(const Tensor& x, Device device);
Tensor concat(const std::vector<Tensor>& xs, int64_t dim);
Tensor stack(const std::vector<Tensor>& xs, int64_t dim);
// The adjoint of slice(): zeros of `shape` with g placed at the slice.
Tensor slice_backward(const Tensor& g, const Shape& shape, int64_t dim, int64_t start, int64_t step);

// ---- linear algebra ----
// [M, K] x [K, N]; batched [B, M, K] x [B, K, N] or [B, M, K] x [K, N]. OpenBLAS on the CPU.
Tensor matmul(const Tensor& a, const Tensor& b);

// ---- operators ----
inline Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
inline Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
inline Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
inline Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
inline Tensor operator-(const Tensor& a) { return neg(a); }
inline Tensor operator+(const Tensor& a, double s) { return add(a, s); }
inline Tensor operator+(double s, const Tensor& a) { return add(a, s); }
inline Tensor operator-(const Tensor& a, double s) { return sub(a, s); }
inline Tensor operator-(double s, const Tensor& a) { return rsub(a, s); }
inline Tensor operator*(const Tensor& a, double s) { return mul(a, s); }
inline Tensor operator*(double s, const Tensor& a) { return mul(a, s); }
inline Tensor operator/(const Tensor& a, double s) { return div(a, s); }
inline Tensor operator/(double s, const Tensor& a) { return rdiv(a, s); }

}  // namespace gan
