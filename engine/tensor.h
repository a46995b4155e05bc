// Tensor: a handle to shared storage plus shape, strides, offset, dtype and device, and the autograd metadata
// (requires_grad, .grad, the node that produced it). Copying a Tensor copies the handle, not the data: like
// PyTorch, `Tensor b = a;` aliases. Views (reshape of contiguous data, narrow, permute, expand...) share storage.
//
// The differentiable operations live in engine/ops.h as free functions; the methods here are thin sugar over them.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

#include "engine/device.h"
#include "engine/dtype.h"
#include "engine/shape.h"
#include "engine/storage.h"

namespace gan {

class Node;
class Generator;
struct Recomputation;

struct TensorImpl {
  std::shared_ptr<Storage> storage;
  Shape shape;
  Shape strides;
  int64_t offset = 0;  // in elements
  DType dtype = DType::Float32;

  // Autograd metadata.
  bool requires_grad = false;               // for leaves; non-leaves require grad iff they have a grad_fn
  std::shared_ptr<TensorImpl> grad;         // accumulated by backward() on leaves
  std::shared_ptr<Node> grad_fn;            // the op that produced this tensor (non-leaves)
  std::weak_ptr<Node> grad_accumulator;     // the leaf's AccumulateGrad node, shared by all graphs using it
  // The bfloat16 copy saved for backward passes (engine/saved_activation.h), while some node keeps it.
  std::weak_ptr<TensorImpl> saved_bf16;
  // Every element is a bf16 value (a float32 conv output in the bf16 math mode): a bf16 copy of it is exact.
  bool bf16_values = false;
  // How to compute this tensor's values again from what its op keeps anyway (batch norm's output), so that ops
  // saving it for backward keep this instead of the values (engine/saved_activation.h). Reset by writes.
  std::shared_ptr<const Recomputation> recompute;
};

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  bool defined() const { return impl_ != nullptr; }
  TensorImpl* impl() const { return impl_.get(); }
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }
  bool same(const Tensor& other) const { return impl_ == other.impl_; }

  // ---- metadata ----
  const Shape& shape() const { return checked()->shape; }
  const Shape& strides() const { return checked()->strides; }
  int64_t offset() const { return checked()->offset; }
  int64_t dim() const { return static_cast<int64_t>(shape().size()); }
  int64_t size(int64_t d) const;
  int64_t numel() const { return shape_numel(shape()); }
  DType dtype() const { return checked()->dtype; }
  Device device() const { return checked()->storage->device(); }
  bool is_contiguous() const;
  const std::shared_ptr<Storage>& storage() const { return checked()->storage; }

  // Pointer to element [0, ..., 0]; T must match the dtype.
  template <typename T>
  T* data() const;
  void* raw_data() const;

  // ---- autograd ----
  bool requires_grad() const { return checked()->requires_grad || checked()->grad_fn != nullptr; }
  // Marks a leaf as a parameter/input whose gradient backward() should accumulate. Floating dtypes only.
  Tensor& requires_grad_(bool value = true);
  bool is_leaf() const { return checked()->grad_fn == nullptr; }
  const std::shared_ptr<Node>& grad_fn() const { return checked()->grad_fn; }
  Tensor grad() const;
  void set_grad(const Tensor& g) const;
  // Same data, no history: the result is a leaf that does not require grad.
  Tensor detach() const;
  // Backpropagates from this tensor (a scalar unless `gradient` is given) into the .grad of every leaf.
  void backward(const Tensor& gradient = Tensor(), bool retain_graph = false, bool create_graph = false) const;

  // ---- data access ----
  Tensor contiguous() const;
  Tensor clone() const;
  Tensor to(DType dtype) const;
  // A copy on `device` (this tensor itself when already there). Differentiable: the gradient flows back to the
  // source device.
  Tensor to(Device device) const;
  double item() const;  // the value of a one-element tensor
  template <typename T>
  std::vector<T> to_vector() const;  // all elements in row-major order, converted to T
  std::string str() const;

  // ---- sugar over engine/ops.h ----
  Tensor reshape(const Shape& shape) const;
  Tensor view(const Shape& shape) const;
  Tensor flatten(int64_t start_dim = 0, int64_t end_dim = -1) const;
  Tensor narrow(int64_t dim, int64_t start, int64_t length) const;
  Tensor permute(const std::vector<int64_t>& dims) const;
  Tensor transpose(int64_t d0, int64_t d1) const;
  Tensor t() const;
  Tensor unsqueeze(int64_t dim) const;
  Tensor squeeze() const;
  Tensor squeeze(int64_t dim) const;
  Tensor expand(const Shape& shape) const;
  Tensor sum() const;
  Tensor sum(const std::vector<int64_t>& dims, bool keepdim = false) const;
  Tensor mean() const;
  Tensor mean(const std::vector<int64_t>& dims, bool keepdim = false) const;
  Tensor pow(double exponent) const;
  Tensor exp() const;
  Tensor log() const;
  Tensor sqrt() const;
  Tensor abs() const;
  Tensor matmul(const Tensor& other) const;

 private:
  TensorImpl* checked() const;
  std::shared_ptr<TensorImpl> impl_;
};

std::ostream& operator<<(std::ostream& os, const Tensor& t);

// ---- creation (CPU unless a device is given) ----
Tensor empty(const Shape& shape, DType dtype = DType::Float32, Device device = Device::cpu());
Tensor zeros(const Shape& shape, DType dtype = DType::Float32, Device device = Device::cpu());
Tensor ones(const Shape& shape, DType dtype = DType::Float32, Device device = Device::cpu());
Tensor full(const Shape& shape, double value, DType dtype = DType::Float32, Device device = Device::cpu());
Tensor scalar_tensor(double value, DType dtype = DType::Float32, Device device = Device::cpu());
Tensor zeros_like(const Tensor& t);
Tensor ones_like(const Tensor& t);
Tensor full_like(const Tensor& t, double value);
Tensor empty_like(const Tensor& t);
Tensor arange(double end, DType dtype = DType::Float32, Device device = Device::cpu());
Tensor arange(double start, double end, double step = 1.0, DType dtype = DType::Float32,
              Device device = Device::cpu());
// Uniform in [lo, hi) and normal(mean, std) from the engine's Philox generator (the default one if null). The
// numbers depend only on the generator's state, not on the device: a CUDA tensor gets the same bits as a CPU one.
Tensor rand(const Shape& shape, DType dtype = DType::Float32, Generator* gen = nullptr, double lo = 0.0,
            double hi = 1.0, Device device = Device::cpu());
Tensor randn(const Shape& shape, DType dtype = DType::Float32, Generator* gen = nullptr, double mean = 0.0,
             double stddev = 1.0, Device device = Device::cpu());
// Copies a host buffer (row-major) into a new tensor on `device`. To a GPU from pageable memory the upload goes
// through a pinned staging buffer and the call returns once `data` may be reused; from pinned memory
// (kernels::cuda::pinned_alloc) it is asynchronous on the device's stream: keep `data` unchanged until that
// stream has run past it (kernels::cuda::synchronize()).
template <typename T>
Tensor from_vector(const std::vector<T>& values, const Shape& shape, Device device = Device::cpu());
Tensor from_buffer(const void* data, const Shape& shape, DType dtype, Device device = Device::cpu());

// Copies src into dst element-wise (shapes must match; dtypes and devices may differ). dst may be a strided view.
void copy_(const Tensor& dst, const Tensor& src);
// Fills a tensor (or a strided view) with a value, in place, outside autograd.
void fill_(const Tensor& dst, double value);

}  // namespace gan
