#include "engine/ops/op_helpers.h"

#include <stdexcept>

namespace gan::detail {

kernels::Layout layout_of(const Tensor& t) {
  kernels::Layout l;
  if (t.dim() > kernels::kMaxDims)
    throw std::invalid_argument("tensor of shape " + shape_str(t.shape()) + " has more than " +
                                std::to_string(kernels::kMaxDims) + " dims, the kernels' limit");
  l.ndim = static_cast<int>(t.dim());
  for (int d = 0; d < l.ndim; ++d) {
    l.shape[d] = t.shape()[d];
    l.strides[d] = t.strides()[d];
  }
  return l;
}

kernels::Layout layout_of(const Tensor& t, const Shape& to) {
  if (static_cast<int64_t>(to.size()) > kernels::kMaxDims)
    throw std::invalid_argument("shape " + shape_str(to) + " has more than " + std::to_string(kernels::kMaxDims) +
                                " dims, the kernels' limit");
  kernels::Layout l;
  l.ndim = static_cast<int>(to.size());
  const int64_t lead = static_cast<int64_t>(to.size()) - t.dim();
  for (int d = 0; d < l.ndim; ++d) {
    l.shape[d] = to[d];
    const int64_t sd = d - lead;
    l.strides[d] = (sd < 0 || t.shape()[sd] == 1) ? 0 : t.strides()[sd];
  }
  return l;
}

void check_defined(const char* op, const Tensor& t, const char* what) {
  if (!t.defined()) throw std::invalid_argument(std::string(op) + ": " + what + " is an undefined tensor");
}

void check_floating(const char* op, const Tensor& t) {
  check_defined(op, t);
  if (!is_floating(t.dtype())) throw_unsupported_dtype(op, t.dtype());
}

void check_same_dtype(const char* op, const Tensor& a, const Tensor& b) {
  if (a.dtype() != b.dtype())
    throw std::invalid_argument(std::string(op) + ": dtype mismatch between " + describe(a) + " and " +
                                describe(b) + "; convert one with .to(dtype)");
}

void check_same_device(const char* op, const Tensor& a, const Tensor& b) {
  if (a.device() != b.device())
    throw std::invalid_argument(std::string(op) + ": device mismatch between " + describe(a) + " and " +
                                describe(b));
}

void check_cpu(const char* op, const Tensor& t) {
  if (!t.device().is_cpu())
    throw std::runtime_error(std::string(op) + ": " + describe(t) + " is not supported yet (CPU only)");
}

Tensor to_host(const Tensor& t) { return t.device().is_cpu() ? t : t.detach().to(Device::cpu()); }

std::string describe(const Tensor& t) {
  return std::string(dtype_name(t.dtype())) + shape_str(t.shape()) + " on " + t.device().str();
}

}  // namespace gan::detail
