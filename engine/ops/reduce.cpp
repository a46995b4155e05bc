// Reductions: sum (the kernel), mean and var (composed from sum, so their gradients come for free), max along a
// dim (backward scatters into the argmax positions), and sum_to, the adjoint of broadcasting.
#include <algorithm>
#include <stdexcept>

#include "engine/ops.h"
#include "engine/ops/op_helpers.h"
#include "kernels/reduce.h"

namespace gan {

namespace {

// Wrapped, sorted, de-duplicated dims; an empty list means every dim (as in PyTorch).
std::vector<int64_t> normalize_dims(const char* op, const Tensor& x, const std::vector<int64_t>& dims) {
  std::vector<int64_t> out;
  if (dims.empty()) {
    for (int64_t d = 0; d < x.dim(); ++d) out.push_back(d);
    return out;
  }
  for (int64_t d : dims) out.push_back(wrap_dim(op, d, x.dim(), x.shape()));
  std::sort(out.begin(), out.end());
  if (std::adjacent_find(out.begin(), out.end()) != out.end())
    throw std::invalid_argument(std::string(op) + ": a dim appears twice in the reduction dims for shape " +
                                shape_str(x.shape()));
  return out;
}

Shape reduced_shape(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  Shape out;
  for (int64_t d = 0; d < x.dim(); ++d) {
    const bool reduced = std::binary_search(dims.begin(), dims.end(), d);
    if (!reduced) out.push_back(x.shape()[d]);
    else if (keepdim) out.push_back(1);
  }
  return out;
}

}  // namespace

Tensor sum(const Tensor& x) { return sum(x, {}, false); }

Tensor sum(const Tensor& x, const std::vector<int64_t>& dims_in, bool keepdim) {
  const char* name = "sum";
  detail::check_floating(name, x);
  const std::vector<int64_t> dims = normalize_dims(name, x, dims_in);
  kernels::Layout kept, red;
  for (int64_t d = 0; d < x.dim(); ++d) {
    kernels::Layout& l = std::binary_search(dims.begin(), dims.end(), d) ? red : kept;
    l.shape[l.ndim] = x.shape()[d];
    l.strides[l.ndim] = x.strides()[d];
    ++l.ndim;
  }
  Tensor out = empty(reduced_shape(x, dims, keepdim), x.dtype(), x.device());
  GAN_DISPATCH_FLOATING(x.dtype(), name, [&] {
    GAN_KERNEL(x.device(), name, sum<scalar_t>, x.data<scalar_t>(), kept, red, out.data<scalar_t>());
  });
  return record(name, {x}, out, [shape = x.shape(), dims](const Tensor& g, const Tensor&) {
    // Put the reduced dims back as size 1, then broadcast.
    Shape keep = shape;
    for (int64_t d : dims) keep[d] = 1;
    return std::vector<Tensor>{expand(reshape(g, keep), shape)};
  });
}

Tensor mean(const Tensor& x) { return mean(x, {}, false); }

Tensor mean(const Tensor& x, const std::vector<int64_t>& dims_in, bool keepdim) {
  detail::check_floating("mean", x);
  const std::vector<int64_t> dims = normalize_dims("mean", x, dims_in);
  int64_t count = 1;
  for (int64_t d : dims) count *= x.shape()[d];
  if (count == 0) throw std::invalid_argument("mean: reducing over zero elements of shape " + shape_str(x.shape()));
  return mul(sum(x, dims, keepdim), 1.0 / static_cast<double>(count));
}

Tensor var(const Tensor& x, const std::vector<int64_t>& dims_in, bool unbiased, bool keepdim) {
  detail::check_floating("var", x);
  const std::vector<int64_t> dims = normalize_dims("var", x, dims_in);
  int64_t count = 1;
  for (int64_t d : dims) count *= x.shape()[d];
  const int64_t denom = count - (unbiased ? 1 : 0);
  if (denom <= 0)
    throw std::invalid_argument("var: " + std::to_string(count) + " element(s) per reduction of shape " +
                                shape_str(x.shape()) + " are too few for " + (unbiased ? "unbiased" : "biased") +
                                " variance");
  const Tensor centered = sub(x, mean(x, dims, true));
  return mul(sum(mul(centered, centered), dims, keepdim), 1.0 / static_cast<double>(denom));
}

Tensor var(const Tensor& x) { return var(x, std::vector<int64_t>{}, true, false); }

// ---- max along a dim ----
namespace {

struct MaxResult {
  Tensor values, indices;  // both with the dim removed (keepdim=false)
};

MaxResult max_impl(const char* name, const Tensor& x_in, int64_t dim) {
  detail::check_floating(name, x_in);
  dim = wrap_dim(name, dim, x_in.dim(), x_in.shape());
  if (x_in.dim() > 0 && x_in.shape()[dim] == 0)
    throw std::invalid_argument(std::string(name) + ": cannot reduce an empty dim " + std::to_string(dim) +
                                " of shape " + shape_str(x_in.shape()));
  const Tensor x = x_in.detach().contiguous();
  int64_t outer = 1, inner = 1;
  const int64_t R = x.dim() == 0 ? 1 : x.shape()[dim];
  for (int64_t d = 0; d < dim; ++d) outer *= x.shape()[d];
  for (int64_t d = dim + 1; d < x.dim(); ++d) inner *= x.shape()[d];
  Shape out_shape = x.shape();
  if (x.dim() > 0) out_shape.erase(out_shape.begin() + dim);
  MaxResult r{empty(out_shape, x.dtype(), x.device()), empty(out_shape, DType::Int64, x.device())};
  GAN_DISPATCH_FLOATING(x.dtype(), name, [&] {
    GAN_KERNEL(x.device(), name, max_along<scalar_t>, x.data<scalar_t>(), outer, R, inner,
               r.values.data<scalar_t>(), r.indices.data<int64_t>());
  });
  return r;
}

}  // namespace

Tensor max(const Tensor& x, int64_t dim, bool keepdim) {
  MaxResult r = max_impl("max", x, dim);
  const int64_t d = wrap_dim("max", dim, x.dim(), x.shape());
  Tensor values = record("max", {x}, r.values, [d, idx = r.indices, shape = x.shape()](const Tensor& g, const Tensor&) {
    return std::vector<Tensor>{scatter_along(g, d, idx, shape)};
  });
  return keepdim && x.dim() > 0 ? unsqueeze(values, d) : values;
}

Tensor max(const Tensor& x) { return max(reshape(x, {-1}), 0, false); }

Tensor argmax(const Tensor& x, int64_t dim, bool keepdim) {
  MaxResult r = max_impl("argmax", x, dim);
  return keepdim && x.dim() > 0 ? unsqueeze(r.indices, wrap_dim("argmax", dim, x.dim(), x.shape())) : r.indices;
}

// ---- gather / scatter along a dim ----
namespace {

void outer_inner(const Shape& shape, int64_t dim, int64_t& outer, int64_t& R, int64_t& inner) {
  outer = 1;
  inner = 1;
  R = shape.empty() ? 1 : shape[dim];
  for (int64_t d = 0; d < dim; ++d) outer *= shape[d];
  for (int64_t d = dim + 1; d < static_cast<int64_t>(shape.size()); ++d) inner *= shape[d];
}

void check_index(const char* name, const Tensor& index, const Tensor& x, int64_t outer, int64_t R,
                 int64_t inner) {
  if (index.dtype() != DType::Int64)
    throw std::invalid_argument(std::string(name) + ": index must be int64, got " + dtype_name(index.dtype()));
  if (index.numel() != outer * inner)
    throw std::invalid_argument(std::string(name) + ": index of shape " + shape_str(index.shape()) + " has " +
                                std::to_string(index.numel()) + " elements, expected " +
                                std::to_string(outer * inner));
  detail::check_same_device(name, x, index);
  // Validated on the host, so a bad index is an exception here rather than an out-of-bounds access in a kernel.
  const Tensor idx = detail::to_host(index).contiguous();
  const int64_t* p = idx.data<int64_t>();
  for (int64_t i = 0; i < idx.numel(); ++i)
    if (p[i] < 0 || p[i] >= R)
      throw std::out_of_range(std::string(name) + ": index " + std::to_string(p[i]) + " out of range for size " +
                              std::to_string(R));
}

}  // namespace

Tensor gather_along(const Tensor& x_in, int64_t dim, const Tensor& index) {
  const char* name = "gather_along";
  detail::check_floating(name, x_in);
  detail::check_defined(name, index, "index");
  dim = wrap_dim(name, dim, x_in.dim(), x_in.shape());
  int64_t outer, R, inner;
  outer_inner(x_in.shape(), dim, outer, R, inner);
  check_index(name, index, x_in, outer, R, inner);
  const Tensor x = x_in.detach().contiguous();
  const Tensor idx = index.contiguous();
  Shape out_shape = x.shape();
  if (x.dim() > 0) out_shape.erase(out_shape.begin() + dim);
  Tensor out = empty(out_shape, x.dtype(), x.device());
  GAN_DISPATCH_FLOATING(x.dtype(), name, [&] {
    GAN_KERNEL(x.device(), name, gather_along<scalar_t>, x.data<scalar_t>(), idx.data<int64_t>(), outer, R, inner,
               out.data<scalar_t>());
  });
  return record(name, {x_in}, out, [dim, idx, shape = x_in.shape()](const Tensor& g, const Tensor&) {
    return std::vector<Tensor>{scatter_along(g, dim, idx, shape)};
  });
}

Tensor scatter_along(const Tensor& src_in, int64_t dim, const Tensor& index, const Shape& shape) {
  const char* name = "scatter_along";
  detail::check_floating(name, src_in);
  detail::check_defined(name, index, "index");
  dim = wrap_dim(name, dim, static_cast<int64_t>(shape.size()), shape);
  int64_t outer, R, inner;
  outer_inner(shape, dim, outer, R, inner);
  check_index(name, index, src_in, outer, R, inner);
  if (src_in.numel() != outer * inner)
    throw std::invalid_argument(std::string(name) + ": source of shape " + shape_str(src_in.shape()) +
                                " does not match index of shape " + shape_str(index.shape()));
  const Tensor src = src_in.detach().contiguous();
  const Tensor idx = index.contiguous();
  Tensor out = zeros(shape, src.dtype(), src.device());
  GAN_DISPATCH_FLOATING(src.dtype(), name, [&] {
    GAN_KERNEL(src.device(), name, scatter_add_along<scalar_t>, src.data<scalar_t>(), idx.data<int64_t>(), outer, R,
               inner, out.data<scalar_t>());
  });
  return record(name, {src_in}, out, [dim, idx, src_shape = src_in.shape()](const Tensor& g, const Tensor&) {
    return std::vector<Tensor>{reshape(gather_along(g, dim, idx), src_shape)};
  });
}

Tensor sum_to(const Tensor& x, const Shape& shape) {
  if (x.shape() == shape) return x;
  const int64_t lead = x.dim() - static_cast<int64_t>(shape.size());
  if (lead < 0)
    throw std::invalid_argument("sum_to: cannot reduce shape " + shape_str(x.shape()) + " to larger shape " +
                                shape_str(shape));
  std::vector<int64_t> dims;
  for (int64_t d = 0; d < x.dim(); ++d) {
    if (d < lead) dims.push_back(d);
    else if (shape[d - lead] == 1 && x.shape()[d] != 1) dims.push_back(d);
    else if (shape[d - lead] != x.shape()[d])
      throw std::invalid_argument("sum_to: shape " + shape_str(x.shape()) + " is not a broadcast of " +
                                  shape_str(shape));
  }
  if (dims.empty()) return reshape(x, shape);
  return reshape(sum(x, dims, true), shape);
}

}  // namespace gan
