// Dense layers: linear (matmul + bias, composed from engine ops), embedding (a row gather whose weight gradient is
// an index-add, each the other's adjoint, so both orders of differentiation work), one_hot (not differentiable).
#include <algorithm>
#include <stdexcept>
#include <string>

#include "engine/nn/functional.h"
#include "engine/ops/op_helpers.h"
#include "kernels/index.h"

namespace gan::nn::functional {

// ---- linear ----
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  detail::check_defined("linear", x, "input");
  detail::check_defined("linear", weight, "weight");
  if (weight.dim() != 2)
    throw std::invalid_argument("linear: weight must be [out_features, in_features], got shape " +
                                shape_str(weight.shape()));
  const int64_t out_f = weight.shape()[0], in_f = weight.shape()[1];
  if (x.dim() < 1 || x.shape().back() != in_f)
    throw std::invalid_argument("linear: input of shape " + shape_str(x.shape()) + " does not match weight of shape " +
                                shape_str(weight.shape()) + " (expected the last dim to be " + std::to_string(in_f) +
                                ")");
  if (bias.defined() && (bias.dim() != 1 || bias.shape()[0] != out_f))
    throw std::invalid_argument("linear: bias of shape " + shape_str(bias.shape()) + " does not match weight of shape " +
                                shape_str(weight.shape()) + " (expected [" + std::to_string(out_f) + "])");
  // [..., in] -> [rows, in] -> [rows, out] -> [..., out]
  Shape out_shape = x.shape();
  out_shape.back() = out_f;
  const Tensor x2 = x.dim() == 2 ? x : reshape(x, {-1, in_f});
  Tensor y = matmul(x2, transpose(weight, 0, 1));
  if (bias.defined()) y = add(y, bias);
  return x.dim() == 2 ? y : reshape(y, out_shape);
}

// ---- embedding ----
namespace {

void check_indices(const char* name, const Tensor& indices, int64_t num_rows, const Tensor& weight) {
  if (indices.dtype() != DType::Int64)
    throw std::invalid_argument(std::string(name) + ": indices must be int64, got " + detail::describe(indices));
  // Validated on the host, so a bad index is an exception here rather than an out-of-bounds read in a kernel.
  const Tensor idx = detail::to_host(indices).contiguous();
  const int64_t* p = idx.data<int64_t>();
  for (int64_t i = 0; i < idx.numel(); ++i)
    if (p[i] < 0 || p[i] >= num_rows)
      throw std::out_of_range(std::string(name) + ": index " + std::to_string(p[i]) + " (at flat position " +
                              std::to_string(i) + ") is out of range for weight " + detail::describe(weight) +
                              " with " + std::to_string(num_rows) + " rows; expected 0 <= index < " +
                              std::to_string(num_rows));
}

Tensor index_add_rows(const Tensor& src, const Tensor& idx, int64_t num_rows);

// out[i, :] = table[idx[i], :] for a validated, contiguous int64 idx; table [num_rows, D] -> [numel(idx), D].
Tensor gather_rows(const Tensor& table_in, const Tensor& idx) {
  const char* name = "embedding";
  const Tensor table = table_in.detach().contiguous();
  const int64_t num_rows = table.shape()[0], D = table.shape()[1], n = idx.numel();
  Tensor out = empty({n, D}, table.dtype(), table.device());
  GAN_DISPATCH_FLOATING(table.dtype(), name, [&] {
    GAN_KERNEL(table.device(), name, gather_rows<scalar_t>, table.data<scalar_t>(), D, idx.data<int64_t>(), n,
               out.data<scalar_t>());
  });
  return record(name, {table_in}, out, [idx, num_rows](const Tensor& g, const Tensor&) {
    return std::vector<Tensor>{index_add_rows(g, idx, num_rows)};
  });
}

// The adjoint: out[idx[i], :] += src[i, :], src [numel(idx), D] -> [num_rows, D].
Tensor index_add_rows(const Tensor& src_in, const Tensor& idx, int64_t num_rows) {
  const char* name = "embedding_backward";
  detail::check_floating(name, src_in);
  const Tensor src = src_in.detach().contiguous();
  const int64_t n = idx.numel(), D = src.shape()[1];
  Tensor out = zeros({num_rows, D}, src.dtype(), src.device());
  GAN_DISPATCH_FLOATING(src.dtype(), name, [&] {
    GAN_KERNEL(src.device(), name, index_add_rows<scalar_t>, src.data<scalar_t>(), idx.data<int64_t>(), n, D,
               out.data<scalar_t>());
  });
  return record(name, {src_in}, out,
                [idx](const Tensor& g, const Tensor&) { return std::vector<Tensor>{gather_rows(g, idx)}; });
}

}  // namespace

Tensor embedding(const Tensor& indices, const Tensor& weight) {
  const char* name = "embedding";
  detail::check_defined(name, indices, "indices");
  detail::check_floating(name, weight);
  detail::check_same_device(name, weight, indices);
  if (weight.dim() != 2)
    throw std::invalid_argument("embedding: weight must be [num_embeddings, embedding_dim], got " +
                                detail::describe(weight));
  const int64_t num_rows = weight.shape()[0], D = weight.shape()[1];
  check_indices(name, indices, num_rows, weight);
  const Tensor idx = indices.detach().contiguous();
  Shape out_shape = indices.shape();
  out_shape.push_back(D);
  return reshape(gather_rows(weight, reshape(idx, {-1})), out_shape);
}

// ---- one_hot ----
Tensor one_hot(const Tensor& labels, int64_t num_classes, DType dtype) {
  const char* name = "one_hot";
  detail::check_defined(name, labels, "labels");
  if (labels.dtype() != DType::Int64)
    throw std::invalid_argument("one_hot: labels must be int64, got " + detail::describe(labels));
  const Tensor lab = labels.detach().contiguous();
  const int64_t n = lab.numel();
  // Checked (and num_classes inferred) on the host only where the labels are there anyway, or where the inferred
  // size needs them: on a device, reading them back would make the host wait (see the header).
  if (lab.device().is_cpu() || num_classes < 0) {
    const Tensor host = detail::to_host(lab);
    const int64_t* p = host.data<int64_t>();
    if (num_classes < 0) {  // as PyTorch's num_classes=-1: one more than the largest label
      if (n == 0) throw std::invalid_argument("one_hot: cannot infer num_classes from empty labels");
      num_classes = 0;
      for (int64_t i = 0; i < n; ++i) num_classes = std::max(num_classes, p[i] + 1);
    }
    for (int64_t i = 0; i < n; ++i)
      if (p[i] < 0 || p[i] >= num_classes)
        throw std::out_of_range("one_hot: label " + std::to_string(p[i]) + " (at flat position " + std::to_string(i) +
                                ") is out of range for num_classes " + std::to_string(num_classes) +
                                "; expected 0 <= label < " + std::to_string(num_classes));
  }
  Shape out_shape = labels.shape();
  out_shape.push_back(num_classes);
  Tensor out = empty(out_shape, dtype, lab.device());
  GAN_DISPATCH_ALL(dtype, name, [&] {
    GAN_KERNEL(lab.device(), name, one_hot<scalar_t>, lab.data<int64_t>(), n, num_classes, out.data<scalar_t>());
  });
  return out;
}

}  // namespace gan::nn::functional
