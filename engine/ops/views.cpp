// Views share storage and only change shape, strides and offset; their backward rules map the gradient back to
// the input's geometry (reshape back, inverse permute, sum_to for expand, slice_backward for slices).
#include <algorithm>
#include <stdexcept>

#include "engine/ops.h"
#include "engine/ops/op_helpers.h"

namespace gan {

namespace {

Tensor make_view(const Tensor& x, Shape shape, Shape strides, int64_t offset) {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = x.storage();
  impl->shape = std::move(shape);
  impl->strides = std::move(strides);
  impl->offset = offset;
  impl->dtype = x.dtype();
  return Tensor(std::move(impl));
}

Shape infer_shape(const char* op, const Tensor& x, const Shape& shape) {
  Shape out = shape;
  int64_t known = 1, infer = -1;
  for (size_t i = 0; i < out.size(); ++i) {
    if (out[i] == -1) {
      if (infer >= 0) throw std::invalid_argument(std::string(op) + ": only one dim can be -1 in " + shape_str(shape));
      infer = static_cast<int64_t>(i);
    } else if (out[i] < 0) {
      throw std::invalid_argument(std::string(op) + ": invalid size in " + shape_str(shape));
    } else {
      known *= out[i];
    }
  }
  if (infer >= 0) {
    if (known == 0 || x.numel() % known != 0)
      throw std::invalid_argument(std::string(op) + ": shape " + shape_str(shape) + " is invalid for input of shape " +
                                  shape_str(x.shape()));
    out[infer] = x.numel() / known;
  }
  if (shape_numel(out) != x.numel())
    throw std::invalid_argument(std::string(op) + ": shape " + shape_str(shape) + " is invalid for input of shape " +
                                shape_str(x.shape()) + " (" + std::to_string(x.numel()) + " elements)");
  return out;
}

// Gradient of every shape-only view (reshape, squeeze, unsqueeze, flatten): reshape back.
BackwardFn reshape_back(const Shape& shape) {
  return [shape](const Tensor& g, const Tensor&) { return std::vector<Tensor>{reshape(g, shape)}; };
}

}  // namespace

Tensor reshape(const Tensor& x, const Shape& shape) {
  detail::check_defined("reshape", x);
  const Shape s = infer_shape("reshape", x, shape);
  if (s == x.shape()) return x;
  const Tensor base = x.is_contiguous() ? x : contiguous(x);
  Tensor out = make_view(base, s, contiguous_strides(s), base.offset());
  return record("reshape", {base}, out, reshape_back(base.shape()));
}

Tensor view(const Tensor& x, const Shape& shape) {
  detail::check_defined("view", x);
  if (!x.is_contiguous())
    throw std::invalid_argument("view: tensor of shape " + shape_str(x.shape()) +
                                " is not contiguous; use reshape() or call contiguous() first");
  return reshape(x, shape);
}

Tensor flatten(const Tensor& x, int64_t start, int64_t end) {
  if (x.dim() == 0) return reshape(x, {1});
  start = wrap_dim("flatten", start, x.dim(), x.shape());
  end = wrap_dim("flatten", end, x.dim(), x.shape());
  if (start > end) throw std::invalid_argument("flatten: start_dim must not come after end_dim");
  Shape s(x.shape().begin(), x.shape().begin() + start);
  int64_t n = 1;
  for (int64_t d = start; d <= end; ++d) n *= x.shape()[d];
  s.push_back(n);
  s.insert(s.end(), x.shape().begin() + end + 1, x.shape().end());
  return reshape(x, s);
}

Tensor slice(const Tensor& x, int64_t dim, int64_t start, int64_t end, int64_t step) {
  const char* name = "slice";
  detail::check_defined(name, x);
  if (x.dim() == 0) throw std::invalid_argument("slice: cannot slice a 0-dim tensor");
  dim = wrap_dim(name, dim, x.dim(), x.shape());
  if (step <= 0) throw std::invalid_argument("slice: step must be positive, got " + std::to_string(step));
  const int64_t n = x.shape()[dim];
  auto clampi = [n](int64_t i) { return std::clamp<int64_t>(i < 0 ? i + n : i, 0, n); };
  start = clampi(start);
  end = std::max(clampi(end), start);
  Shape shape = x.shape(), strides = x.strides();
  shape[dim] = (end - start + step - 1) / step;
  strides[dim] *= step;
  Tensor out = make_view(x, shape, strides, x.offset() + start * x.strides()[dim]);
  return record(name, {x}, out, [s = x.shape(), dim, start, step](const Tensor& g, const Tensor&) {
    return std::vector<Tensor>{slice_backward(g, s, dim, start, step)};
  });
}

Tensor narrow(const Tensor& x, int64_t dim, int64_t start, int64_t length) {
  detail::check_defined("narrow", x);
  if (x.dim() == 0) throw std::invalid_argument("narrow: cannot narrow a 0-dim tensor");
  const int64_t d = wrap_dim("narrow", dim, x.dim(), x.shape());
  const int64_t n = x.shape()[d];
  if (start < 0) start += n;
  if (start < 0 || length < 0 || start + length > n)
    throw std::out_of_range("narrow: range [" + std::to_string(start) + ", " + std::to_string(start + length) +
                            ") is out of bounds for dim " + std::to_string(d) + " of shape " +
                            shape_str(x.shape()));
  return slice(x, d, start, start + length, 1);
}

Tensor slice_backward(const Tensor& g, const Shape& shape, int64_t dim, int64_t start, int64_t step) {
  Tensor out = zeros(shape, g.dtype(), g.device());
  Tensor target;
  {
    NoGradGuard no_grad;
    target = slice(out, dim, start, start + (g.shape()[dim] - 1) * step + 1, step);
  }
  copy_(target, g);
  return record("slice_backward", {g}, out, [dim, start, step, len = g.shape()[dim]](const Tensor& gg, const Tensor&) {
    return std::vector<Tensor>{slice(gg, dim, start, start + (len - 1) * step + 1, step)};
  });
}

Tensor permute(const Tensor& x, const std::vector<int64_t>& dims) {
  const char* name = "permute";
  detail::check_defined(name, x);
  if (static_cast<int64_t>(dims.size()) != x.dim())
    throw std::invalid_argument("permute: " + std::to_string(dims.size()) + " dims given for shape " +
                                shape_str(x.shape()));
  std::vector<int64_t> perm(dims.size()), inverse(dims.size(), -1);
  Shape shape(dims.size()), strides(dims.size());
  for (size_t i = 0; i < dims.size(); ++i) {
    perm[i] = wrap_dim(name, dims[i], x.dim(), x.shape());
    if (inverse[perm[i]] != -1)
      throw std::invalid_argument("permute: dim " + std::to_string(perm[i]) + " repeated for shape " +
                                  shape_str(x.shape()));
    inverse[perm[i]] = static_cast<int64_t>(i);
    shape[i] = x.shape()[perm[i]];
    strides[i] = x.strides()[perm[i]];
  }
  Tensor out = make_view(x, shape, strides, x.offset());
  return record(name, {x}, out, [inverse](const Tensor& g, const Tensor&) {
    return std::vector<Tensor>{permute(g, inverse)};
  });
}

Tensor transpose(const Tensor& x, int64_t d0, int64_t d1) {
  detail::check_defined("transpose", x);
  std::vector<int64_t> perm(x.dim());
  for (int64_t i = 0; i < x.dim(); ++i) perm[i] = i;
  std::swap(perm[wrap_dim("transpose", d0, x.dim(), x.shape())], perm[wrap_dim("transpose", d1, x.dim(), x.shape())]);
  return permute(x, perm);
}

Tensor unsqueeze(const Tensor& x, int64_t dim) {
  detail::check_defined("unsqueeze", x);
  const int64_t d = wrap_dim("unsqueeze", dim, x.dim() + 1, x.shape());
  Shape shape = x.shape(), strides = x.strides();
  const int64_t stride = d < x.dim() ? x.strides()[d] * x.shape()[d] : 1;
  shape.insert(shape.begin() + d, 1);
  strides.insert(strides.begin() + d, stride);
  return record("unsqueeze", {x}, make_view(x, shape, strides, x.offset()), reshape_back(x.shape()));
}

Tensor squeeze(const Tensor& x) {
  detail::check_defined("squeeze", x);
  Shape shape, strides;
  for (int64_t d = 0; d < x.dim(); ++d)
    if (x.shape()[d] != 1) {
      shape.push_back(x.shape()[d]);
      strides.push_back(x.strides()[d]);
    }
  return record("squeeze", {x}, make_view(x, shape, strides, x.offset()), reshape_back(x.shape()));
}

Tensor squeeze(const Tensor& x, int64_t dim) {
  detail::check_defined("squeeze", x);
  if (x.dim() == 0) return x;
  const int64_t d = wrap_dim("squeeze", dim, x.dim(), x.shape());
  if (x.shape()[d] != 1) return x;
  Shape shape = x.shape(), strides = x.strides();
  shape.erase(shape.begin() + d);
  strides.erase(strides.begin() + d);
  return record("squeeze", {x}, make_view(x, shape, strides, x.offset()), reshape_back(x.shape()));
}

Tensor expand(const Tensor& x, const Shape& shape_in) {
  detail::check_defined("expand", x);
  const int64_t n = static_cast<int64_t>(shape_in.size());
  if (n < x.dim())
    throw std::invalid_argument("expand: target " + shape_str(shape_in) + " has fewer dims than shape " +
                                shape_str(x.shape()));
  Shape shape(n), strides(n);
  const int64_t lead = n - x.dim();
  for (int64_t d = 0; d < n; ++d) {
    const int64_t src = d - lead;
    const int64_t want = shape_in[d];
    if (src < 0) {
      if (want < 0) throw std::invalid_argument("expand: -1 is not allowed for new leading dims in " + shape_str(shape_in));
      shape[d] = want;
      strides[d] = 0;
    } else if (want == -1 || want == x.shape()[src]) {
      shape[d] = x.shape()[src];
      strides[d] = x.strides()[src];
    } else if (x.shape()[src] == 1 && want >= 0) {
      shape[d] = want;
      strides[d] = 0;
    } else {
      throw std::invalid_argument("expand: shape " + shape_str(x.shape()) + " cannot be expanded to " +
                                  shape_str(shape_in) + " (dim " + std::to_string(d) + ")");
    }
  }
  if (shape == x.shape()) return x;
  return record("expand", {x}, make_view(x, shape, strides, x.offset()),
                [s = x.shape()](const Tensor& g, const Tensor&) { return std::vector<Tensor>{sum_to(g, s)}; });
}

Tensor clone(const Tensor& x) {
  detail::check_defined("clone", x);
  Tensor out = empty(x.shape(), x.dtype(), x.device());
  copy_(out, x);
  return record("clone", {x}, out, [](const Tensor& g, const Tensor&) { return std::vector<Tensor>{g}; });
}

Tensor contiguous(const Tensor& x) {
  detail::check_defined("contiguous", x);
  return x.is_contiguous() ? x : clone(x);
}

Tensor to_dtype(const Tensor& x, DType dtype) {
  detail::check_defined("to", x);
  if (x.dtype() == dtype) return x;
  if (dtype == DType::BFloat16 && needs_grad({x}))
    throw std::invalid_argument("to(bfloat16): the tensor of shape " + shape_str(x.shape()) +
                                " requires grad, but bfloat16 is a storage type no op differentiates through; "
                                "convert x.detach() (or set the bf16 math mode: --precision bf16)");
  Tensor out = empty(x.shape(), dtype, x.device());
  copy_(out, x);
  if (!is_floating(dtype)) return out;
  return record("to", {x}, out, [from = x.dtype()](const Tensor& g, const Tensor&) {
    return std::vector<Tensor>{to_dtype(g, from)};
  });
}

Tensor to_device(const Tensor& x, Device device) {
  detail::check_defined("to", x);
  if (x.device() == device) return x;
  Tensor out = empty(x.shape(), x.dtype(), device);
  copy_(out, x);  // copy_ moves data between devices
  if (!is_floating(x.dtype())) return out;
  return record("to_device", {x}, out, [from = x.device()](const Tensor& g, const Tensor&) {
    return std::vector<Tensor>{to_device(g, from)};
  });
}

}  // namespace gan
