// concat and stack: copy each input into its slot of a new tensor; the gradient of each input is its slice.
#include <stdexcept>

#include "engine/ops.h"
#include "engine/ops/op_helpers.h"

namespace gan {

Tensor concat(const std::vector<Tensor>& xs, int64_t dim) {
  const char* name = "concat";
  if (xs.empty()) throw std::invalid_argument("concat: needs at least one tensor");
  for (const Tensor& x : xs) detail::check_defined(name, x);
  const Tensor& first = xs[0];
  if (first.dim() == 0) throw std::invalid_argument("concat: 0-dim tensors cannot be concatenated; unsqueeze them");
  dim = wrap_dim(name, dim, first.dim(), first.shape());
  Shape shape = first.shape();
  shape[dim] = 0;
  for (size_t i = 0; i < xs.size(); ++i) {
    const Tensor& x = xs[i];
    detail::check_same_dtype(name, first, x);
    detail::check_same_device(name, first, x);
    bool ok = x.dim() == first.dim();
    for (int64_t d = 0; ok && d < x.dim(); ++d) ok = d == dim || x.shape()[d] == first.shape()[d];
    if (!ok)
      throw std::invalid_argument("concat: tensor " + std::to_string(i) + " of shape " + shape_str(x.shape()) +
                                  " does not match tensor 0 of shape " + shape_str(first.shape()) +
                                  " outside dim " + std::to_string(dim));
    shape[dim] += x.shape()[dim];
  }
  Tensor out = empty(shape, first.dtype(), first.device());
  std::vector<int64_t> sizes;
  {
    NoGradGuard no_grad;
    int64_t offset = 0;
    for (const Tensor& x : xs) {
      copy_(narrow(out, dim, offset, x.shape()[dim]), x);
      offset += x.shape()[dim];
      sizes.push_back(x.shape()[dim]);
    }
  }
  return record(name, xs, out, [dim, sizes](const Tensor& g, const Tensor&) {
    std::vector<Tensor> grads;
    int64_t offset = 0;
    for (int64_t n : sizes) {
      grads.push_back(narrow(g, dim, offset, n));
      offset += n;
    }
    return grads;
  });
}

Tensor stack(const std::vector<Tensor>& xs, int64_t dim) {
  if (xs.empty()) throw std::invalid_argument("stack: needs at least one tensor");
  detail::check_defined("stack", xs[0]);
  const int64_t d = wrap_dim("stack", dim, xs[0].dim() + 1, xs[0].shape());
  std::vector<Tensor> parts;
  for (size_t i = 0; i < xs.size(); ++i) {
    if (xs[i].shape() != xs[0].shape())
      throw std::invalid_argument("stack: tensor " + std::to_string(i) + " of shape " + shape_str(xs[i].shape()) +
                                  " differs from tensor 0 of shape " + shape_str(xs[0].shape()));
    parts.push_back(unsqueeze(xs[i], d));
  }
  return concat(parts, d);
}

}  // namespace gan
