#include "engine/tensor.h"

#include <unistd.h>

#include <cmath>
#include <cstring>
#include <iomanip>
#include <ostream>
#include <sstream>
#include <stdexcept>
#include <type_traits>

#include "engine/autograd.h"
#include "engine/checked.h"
#include "engine/ops.h"
#include "engine/ops/op_helpers.h"
#include "engine/rng.h"
#include "kernels/cuda/runtime.h"
#include "kernels/elementwise.h"
#include "kernels/random.h"

namespace gan {

// ---- Tensor: metadata ----
TensorImpl* Tensor::checked() const {
  if (!impl_) throw std::logic_error("Tensor: operation on an undefined tensor");
  return impl_.get();
}

int64_t Tensor::size(int64_t d) const { return shape()[wrap_dim("size", d, dim(), shape())]; }

bool Tensor::is_contiguous() const {
  int64_t expected = 1;
  for (int64_t d = dim() - 1; d >= 0; --d) {
    if (shape()[d] != 1 && strides()[d] != expected) return false;
    expected *= shape()[d];
  }
  return true;
}

void* Tensor::raw_data() const {
  return static_cast<char*>(storage()->data()) + offset() * static_cast<int64_t>(dtype_size(dtype()));
}

template <typename T>
T* Tensor::data() const {
  if (dtype() != dtype_of<T>())
    throw std::invalid_argument(std::string("Tensor::data: requested ") + dtype_name(dtype_of<T>()) +
                                " pointer from a " + detail::describe(*this) + " tensor");
  return static_cast<T*>(raw_data());
}
template float* Tensor::data<float>() const;
template double* Tensor::data<double>() const;
template int64_t* Tensor::data<int64_t>() const;
template bfloat16* Tensor::data<bfloat16>() const;

// ---- Tensor: autograd ----
Tensor& Tensor::requires_grad_(bool value) {
  if (!is_leaf())
    throw std::logic_error("requires_grad_: only leaf tensors can be marked; this tensor of shape " +
                           shape_str(shape()) + " was produced by '" + grad_fn()->name() +
                           "' (use detach() to make a leaf)");
  if (value && !is_floating(dtype()))
    throw std::invalid_argument(std::string("requires_grad_: only floating tensors can require grad, not ") +
                                dtype_name(dtype()));
  checked()->requires_grad = value;
  return *this;
}

Tensor Tensor::grad() const { return Tensor(checked()->grad); }

void Tensor::set_grad(const Tensor& g) const {
  if (g.defined() && g.shape() != shape())
    throw std::invalid_argument("set_grad: gradient of shape " + shape_str(g.shape()) +
                                " does not match the tensor's shape " + shape_str(shape()));
  checked()->grad = g.impl_ptr();
}

Tensor Tensor::detach() const {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = storage();
  impl->shape = shape();
  impl->strides = strides();
  impl->offset = offset();
  impl->dtype = dtype();
  return Tensor(std::move(impl));
}

void Tensor::backward(const Tensor& gradient, bool retain_graph, bool create_graph) const {
  gan::backward({*this}, {gradient}, retain_graph, create_graph);
}

// ---- Tensor: data access ----
Tensor Tensor::contiguous() const { return gan::contiguous(*this); }
Tensor Tensor::clone() const { return gan::clone(*this); }
Tensor Tensor::to(DType t) const { return gan::to_dtype(*this, t); }
Tensor Tensor::to(Device d) const { return gan::to_device(*this, d); }

double Tensor::item() const {
  if (numel() != 1)
    throw std::invalid_argument("item: tensor of shape " + shape_str(shape()) + " has " +
                                std::to_string(numel()) + " elements, expected exactly one");
  const Tensor host = detail::to_host(*this);
  return GAN_DISPATCH_STORAGE(dtype(), "item", [&] { return static_cast<double>(*host.data<scalar_t>()); });
}

template <typename T>
std::vector<T> Tensor::to_vector() const {
  if (!device().is_cpu()) return detail::to_host(*this).to_vector<T>();
  std::vector<T> out(static_cast<size_t>(numel()));
  kernels::Layout dst;
  dst.ndim = static_cast<int>(dim());
  const Shape st = contiguous_strides(shape());
  for (int d = 0; d < dst.ndim; ++d) {
    dst.shape[d] = shape()[d];
    dst.strides[d] = st[d];
  }
  GAN_DISPATCH_STORAGE(dtype(), "to_vector", [&] {
    if constexpr (std::is_same_v<scalar_t, bfloat16> && std::is_same_v<T, int64_t>)
      throw std::invalid_argument("to_vector: a bfloat16 tensor reads as float or double, not int64");
    else
      kernels::cpu::copy<scalar_t, T>(data<scalar_t>(), detail::layout_of(*this), out.data(), dst);
  });
  return out;
}
template std::vector<float> Tensor::to_vector<float>() const;
template std::vector<double> Tensor::to_vector<double>() const;
template std::vector<int64_t> Tensor::to_vector<int64_t>() const;

// ---- printing ----
namespace {

// Prints like PyTorch: nested brackets, 4 decimals (scientific when the range calls for it), and "..." past
// 1000 elements, keeping the first and last 3 of every dim.
void print_rec(std::ostream& os, const std::vector<double>& v, const Shape& shape, const Shape& strides, size_t dim,
               int64_t base, bool summarize, bool integral, bool sci, int indent) {
  if (dim == shape.size()) {
    const double x = v[base];
    if (integral) os << static_cast<int64_t>(x);
    else if (sci) os << std::scientific << std::setprecision(4) << x << std::defaultfloat;
    else os << std::fixed << std::setprecision(4) << x << std::defaultfloat;
    return;
  }
  os << '[';
  const int64_t n = shape[dim];
  for (int64_t i = 0; i < n; ++i) {
    if (summarize && n > 6 && i == 3) {
      os << "...";
      i = n - 4;
      if (dim + 1 < shape.size()) os << ",\n" << std::string(indent + 1, ' ');
      else os << ", ";
      continue;
    }
    print_rec(os, v, shape, strides, dim + 1, base + i * strides[dim], summarize, integral, sci, indent + 1);
    if (i + 1 < n) {
      os << ',';
      if (dim + 1 < shape.size()) os << std::string(shape.size() - dim - 1, '\n') << std::string(indent + 1, ' ');
      else os << ' ';
    }
  }
  os << ']';
}

}  // namespace

std::string Tensor::str() const {
  if (!defined()) return "tensor(undefined)";
  std::ostringstream os;
  const std::vector<double> v = to_vector<double>();
  const bool integral = dtype() == DType::Int64;
  double lo = INFINITY, hi = 0;
  for (double x : v)
    if (std::isfinite(x) && x != 0) {
      lo = std::min(lo, std::abs(x));
      hi = std::max(hi, std::abs(x));
    }
  const bool sci = !integral && hi > 0 && (hi >= 1e8 || lo < 1e-4 || hi / lo > 1e5);
  os << "tensor(";
  print_rec(os, v, shape(), contiguous_strides(shape()), 0, 0, numel() > 1000, integral, sci, 7);
  os << ", dtype=" << dtype_name(dtype());
  if (!device().is_cpu()) os << ", device=" << device().str();
  if (grad_fn()) os << ", grad_fn=<" << grad_fn()->name() << ">";
  else if (requires_grad()) os << ", requires_grad=true";
  os << ")";
  return os.str();
}

std::ostream& operator<<(std::ostream& os, const Tensor& t) { return os << t.str(); }

// ---- sugar ----
Tensor Tensor::reshape(const Shape& s) const { return gan::reshape(*this, s); }
Tensor Tensor::view(const Shape& s) const { return gan::view(*this, s); }
Tensor Tensor::flatten(int64_t s, int64_t e) const { return gan::flatten(*this, s, e); }
Tensor Tensor::narrow(int64_t d, int64_t s, int64_t l) const { return gan::narrow(*this, d, s, l); }
Tensor Tensor::permute(const std::vector<int64_t>& d) const { return gan::permute(*this, d); }
Tensor Tensor::transpose(int64_t a, int64_t b) const { return gan::transpose(*this, a, b); }
Tensor Tensor::t() const {
  if (dim() != 2) throw std::invalid_argument("t: expected a 2-D tensor, got shape " + shape_str(shape()));
  return gan::transpose(*this, 0, 1);
}
Tensor Tensor::unsqueeze(int64_t d) const { return gan::unsqueeze(*this, d); }
Tensor Tensor::squeeze() const { return gan::squeeze(*this); }
Tensor Tensor::squeeze(int64_t d) const { return gan::squeeze(*this, d); }
Tensor Tensor::expand(const Shape& s) const { return gan::expand(*this, s); }
Tensor Tensor::sum() const { return gan::sum(*this); }
Tensor Tensor::sum(const std::vector<int64_t>& d, bool k) const { return gan::sum(*this, d, k); }
Tensor Tensor::mean() const { return gan::mean(*this); }
Tensor Tensor::mean(const std::vector<int64_t>& d, bool k) const { return gan::mean(*this, d, k); }
Tensor Tensor::pow(double e) const { return gan::pow(*this, e); }
Tensor Tensor::exp() const { return gan::exp(*this); }
Tensor Tensor::log() const { return gan::log(*this); }
Tensor Tensor::sqrt() const { return gan::sqrt(*this); }
Tensor Tensor::abs() const { return gan::abs(*this); }
Tensor Tensor::matmul(const Tensor& o) const { return gan::matmul(*this, o); }

// ---- creation ----
Tensor empty(const Shape& shape, DType dtype, Device device) {
  for (int64_t d : shape)
    if (d < 0) throw std::invalid_argument("empty: negative dimension in shape " + shape_str(shape));
  // Shapes can come from flags and files: the size is computed with overflow checks, and running out of memory
  // says how much was asked for and for what, instead of a bare std::bad_alloc.
  const std::string what = std::string("a ") + dtype_name(dtype) + " tensor of shape " + shape_str(shape);
  int64_t nbytes = 0;
  try {
    nbytes = checked_mul(shape_numel_checked(shape, what), static_cast<int64_t>(dtype_size(dtype)), what);
  } catch (const RangeError&) {
    throw OutOfMemory("cannot allocate " + what + ": its size in bytes does not fit in 64 bits");
  }
  // More than the machine's memory cannot be meant (and a sanitizer would abort on the request instead of failing).
  static const int64_t physical = static_cast<int64_t>(::sysconf(_SC_PHYS_PAGES)) * ::sysconf(_SC_PAGESIZE);
  if (device.is_cpu() && physical > 0 && nbytes > physical)
    throw OutOfMemory("cannot allocate " + format_bytes(nbytes) + " for " + what + ": more than this machine's " +
                      format_bytes(physical) + " of memory");
  auto impl = std::make_shared<TensorImpl>();
  try {
    impl->storage = std::make_shared<Storage>(static_cast<size_t>(nbytes), device);
  } catch (const OutOfMemory&) {
    throw;
  } catch (const std::bad_alloc&) {
    throw OutOfMemory("out of memory: cannot allocate " + format_bytes(nbytes) + " for " + what);
  }
  impl->shape = shape;
  impl->strides = contiguous_strides(shape);
  impl->dtype = dtype;
  return Tensor(std::move(impl));
}

namespace {

// dst = static_cast<D>(src) over a shared shape, both on `device`: the strided copy kernel of that device.
template <typename S, typename D>
void copy_kernel(const Device& device, const S* src, const kernels::Layout& sl, D* dst, const kernels::Layout& dl) {
#if defined(GAN_WITH_CUDA) && GAN_WITH_CUDA
  if (device.is_cuda()) {
    kernels::cuda::DeviceGuard guard(device.index);
    kernels::cuda::copy<S, D>(src, sl, dst, dl);
    return;
  }
#endif
  if (device.is_cuda()) throw detail::no_cuda_error("copy_", device);
  kernels::cpu::copy<S, D>(src, sl, dst, dl);
}

// Moves `bytes` contiguous bytes between devices (at least one of them a GPU).
void transfer(void* dst, const Device& dd, const void* src, const Device& sd, size_t bytes) {
  namespace kc = kernels::cuda;
  if (sd.is_cpu()) {
    kc::DeviceGuard guard(dd.index);
    kc::memcpy_h2d(dst, src, bytes);
  } else if (dd.is_cpu()) {
    kc::DeviceGuard guard(sd.index);
    kc::memcpy_d2h(dst, src, bytes);
  } else {
    kc::memcpy_peer(dst, dd.index, src, sd.index, bytes);
  }
}

// Facts about a tensor's values (engine/saved_activation.h) that a write makes false: it no longer holds bf16
// values, and its op's recomputation no longer gives them.
void written_over(const Tensor& dst) {
  dst.impl()->bf16_values = false;
  dst.impl()->recompute.reset();
}

}  // namespace

void fill_(const Tensor& dst, double value) {
  detail::check_defined("fill_", dst);
  written_over(dst);
  if (dst.numel() == 0) return;
  const kernels::Layout l = detail::layout_of(dst);
  GAN_DISPATCH_ALL(dst.dtype(), "fill_", [&] {
    if constexpr (std::is_same_v<scalar_t, int64_t>) {
      // The one value broadcast to dst's shape (stride 0 everywhere) through the copy kernel; a GPU reads it
      // from device memory, so it is uploaded first.
      const int64_t v = static_cast<int64_t>(value);
      kernels::Layout src = l;
      for (int d = 0; d < src.ndim; ++d) src.strides[d] = 0;
      if (dst.device().is_cpu()) {
        kernels::cpu::copy<int64_t, int64_t>(&v, src, dst.data<int64_t>(), l);
      } else {
        const Tensor one = from_buffer(&v, {}, DType::Int64, dst.device());
        copy_kernel<int64_t, int64_t>(dst.device(), one.data<int64_t>(), src, dst.data<int64_t>(), l);
      }
    } else {
      scalar_t* p = dst.data<scalar_t>();
      GAN_KERNEL(dst.device(), "fill_", unary<scalar_t>, kernels::UnaryOp::Fill, kernels::UnaryParams{value, 0}, p,
                 l, p, l);
    }
  });
}

Tensor full(const Shape& shape, double value, DType dtype, Device device) {
  Tensor t = empty(shape, dtype, device);
  fill_(t, value);
  return t;
}
Tensor zeros(const Shape& shape, DType dtype, Device device) { return full(shape, 0.0, dtype, device); }
Tensor ones(const Shape& shape, DType dtype, Device device) { return full(shape, 1.0, dtype, device); }
Tensor scalar_tensor(double value, DType dtype, Device device) { return full({}, value, dtype, device); }
Tensor empty_like(const Tensor& t) { return empty(t.shape(), t.dtype(), t.device()); }
Tensor zeros_like(const Tensor& t) { return zeros(t.shape(), t.dtype(), t.device()); }
Tensor ones_like(const Tensor& t) { return ones(t.shape(), t.dtype(), t.device()); }
Tensor full_like(const Tensor& t, double v) { return full(t.shape(), v, t.dtype(), t.device()); }

Tensor arange(double end, DType dtype, Device device) { return arange(0.0, end, 1.0, dtype, device); }
Tensor arange(double start, double end, double step, DType dtype, Device device) {
  if (step == 0) throw std::invalid_argument("arange: step must be non-zero");
  const double n = std::ceil((end - start) / step);
  const int64_t count = n > 0 ? static_cast<int64_t>(n) : 0;
  Tensor t = empty({count}, dtype);  // computed on the host (a one-off), then moved
  GAN_DISPATCH_ALL(dtype, "arange", [&] {
    scalar_t* p = t.data<scalar_t>();
    for (int64_t i = 0; i < count; ++i) p[i] = static_cast<scalar_t>(start + static_cast<double>(i) * step);
  });
  return device.is_cpu() ? t : t.to(device);
}

Tensor rand(const Shape& shape, DType dtype, Generator* gen, double lo, double hi, Device device) {
  Generator& g = gen ? *gen : default_generator();
  Tensor t = empty(shape, dtype, device);
  GAN_DISPATCH_FLOATING(dtype, "rand", [&] {
    g.fill_uniform<scalar_t>(t.data<scalar_t>(), t.numel(), static_cast<scalar_t>(lo), static_cast<scalar_t>(hi),
                             device);
  });
  return t;
}

Tensor randn(const Shape& shape, DType dtype, Generator* gen, double mean, double stddev, Device device) {
  Generator& g = gen ? *gen : default_generator();
  Tensor t = empty(shape, dtype, device);
  GAN_DISPATCH_FLOATING(dtype, "randn", [&] {
    g.fill_normal<scalar_t>(t.data<scalar_t>(), t.numel(), static_cast<scalar_t>(mean),
                            static_cast<scalar_t>(stddev), device);
  });
  return t;
}

template <typename T>
Tensor from_vector(const std::vector<T>& values, const Shape& shape, Device device) {
  if (static_cast<int64_t>(values.size()) != shape_numel(shape))
    throw std::invalid_argument("from_vector: " + std::to_string(values.size()) + " values do not fill shape " +
                                shape_str(shape) + " (" + std::to_string(shape_numel(shape)) + " elements)");
  return from_buffer(values.data(), shape, dtype_of<T>(), device);
}
template Tensor from_vector<float>(const std::vector<float>&, const Shape&, Device);
template Tensor from_vector<double>(const std::vector<double>&, const Shape&, Device);
template Tensor from_vector<int64_t>(const std::vector<int64_t>&, const Shape&, Device);

Tensor from_buffer(const void* data, const Shape& shape, DType dtype, Device device) {
  Tensor t = empty(shape, dtype, device);
  const size_t bytes = static_cast<size_t>(t.numel()) * dtype_size(dtype);
  if (bytes == 0) return t;
  if (device.is_cpu()) std::memcpy(t.raw_data(), data, bytes);
  else transfer(t.raw_data(), device, data, Device::cpu(), bytes);
  return t;
}

void copy_(const Tensor& dst, const Tensor& src) {
  detail::check_defined("copy_", dst, "destination");
  detail::check_defined("copy_", src, "source");
  if (dst.shape() != src.shape())
    throw std::invalid_argument("copy_: source shape " + shape_str(src.shape()) + " does not match destination " +
                                shape_str(dst.shape()));
  written_over(dst);
  if (dst.numel() == 0) return;
  const Device dd = dst.device(), sd = src.device();
  if (dd == sd) {
    // One device: the strided copy kernel converts dtype and layout in one pass.
    const kernels::Layout sl = detail::layout_of(src), dl = detail::layout_of(dst);
    GAN_DISPATCH_STORAGE(src.dtype(), "copy_", [&] {
      using S = scalar_t;
      GAN_DISPATCH_STORAGE(dst.dtype(), "copy_", [&] {
        using D = scalar_t;
        constexpr bool bf16_int = (std::is_same_v<S, bfloat16> && std::is_same_v<D, int64_t>) ||
                                  (std::is_same_v<S, int64_t> && std::is_same_v<D, bfloat16>);
        if constexpr (bf16_int)
          throw std::invalid_argument(std::string("copy_: no conversion from ") + dtype_name(src.dtype()) + " to " +
                                      dtype_name(dst.dtype()) + "; go through float32");
        else
          copy_kernel<S, D>(dd, src.data<S>(), sl, dst.data<D>(), dl);
      });
    });
    return;
  }
  // Across devices only contiguous bytes travel: pack src on its own device into a contiguous tensor of dst's
  // dtype (unless it already is one), move the bytes straight into dst when dst is contiguous (else into a
  // contiguous tensor on dst's device), then scatter into dst's strides there. Strided views, broadcasts and
  // dtype changes thus cost one kernel on each side at most, never an element-by-element transfer.
  const Tensor s = src.detach();
  Tensor packed = s;
  if (!s.is_contiguous() || s.dtype() != dst.dtype()) {
    packed = empty(s.shape(), dst.dtype(), sd);
    copy_(packed, s);
  }
  const bool direct = dst.is_contiguous();
  const Tensor landing = direct ? dst : empty(dst.shape(), dst.dtype(), dd);
  transfer(landing.raw_data(), dd, packed.raw_data(), sd, static_cast<size_t>(dst.numel()) * dtype_size(dst.dtype()));
  if (!direct) copy_(dst, landing);
}

}  // namespace gan
