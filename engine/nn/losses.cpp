// The fused losses of engine/nn/functional.h. Each runs one kernel (kernels/losses.h) that writes the loss and the
// gradient of the loss w.r.t. every input that wants one; the recorded backward scales those saved buffers by the
// incoming scalar gradient. That backward is not written in differentiable ops of the inputs, so these losses do
// not support double backward — except the Wasserstein losses, whose gradient is a constant (+-1/N) built from
// ops, so the WGAN-GP critic loss can be differentiated together with its gradient penalty.
#include <stdexcept>
#include <string>

#include "engine/nn/functional.h"
#include "engine/ops/dispatch.h"
#include "engine/ops/op_helpers.h"
#include "kernels/losses.h"

namespace gan::nn::functional {

namespace {

void check_input(const char* op, const Tensor& t, const char* what) {
  detail::check_defined(op, t, what);
  detail::check_floating(op, t);
  if (t.numel() == 0)
    throw std::invalid_argument(std::string(op) + ": " + what + " of shape " + shape_str(t.shape()) +
                                " is empty; a mean over zero elements is undefined");
}

void check_same_shape(const char* op, const char* a_name, const Tensor& a, const char* b_name, const Tensor& b) {
  if (a.shape() != b.shape())
    throw std::invalid_argument(std::string(op) + ": " + a_name + " of shape " + shape_str(a.shape()) + " and " +
                                b_name + " of shape " + shape_str(b.shape()) + " must have the same shape");
}

void check_compatible(const char* op, const Tensor& a, const Tensor& b) {
  detail::check_same_dtype(op, a, b);
  detail::check_same_device(op, a, b);
}

// The kernel's view of an input: its data, contiguous, outside autograd.
Tensor data_of(const Tensor& t) { return t.detach().contiguous(); }

// A gradient buffer for t when the op will be recorded and t wants a gradient; else undefined.
Tensor grad_buffer(const Tensor& t) { return needs_grad({t}) ? empty(t.shape(), t.dtype(), t.device()) : Tensor(); }

template <typename T>
T* ptr_or_null(const Tensor& t) {
  return t.defined() ? t.data<T>() : nullptr;
}

// The backward of a fused loss: each saved dL/dinput times the incoming scalar gradient.
BackwardFn scale_saved(std::vector<Tensor> saved) {
  return [saved = std::move(saved)](const Tensor& g, const Tensor&) {
    std::vector<Tensor> out;
    out.reserve(saved.size());
    for (const Tensor& s : saved) out.push_back(s.defined() ? mul(s, g) : Tensor());
    return out;
  };
}

// The loss value as a 0-d tensor on `device`. The kernels return it to the host (the CUDA twins reduce on the
// device and copy the scalar back), so a CUDA loss is one small upload away from its tensor.
template <typename T>
Tensor scalar_out(T value, DType dtype, const Device& device) {
  return full({}, static_cast<double>(value), dtype, device);
}

constexpr RecordOptions kFused{.save_output = false, .supports_double_backward = false};

}  // namespace

Tensor bce_with_logits(const Tensor& logits, const Tensor& targets) {
  const char* name = "bce_with_logits";
  check_input(name, logits, "logits");
  check_input(name, targets, "targets");
  check_compatible(name, logits, targets);
  check_same_shape(name, "logits", logits, "targets", targets);
  const Tensor x = data_of(logits), t = data_of(targets);
  Tensor gx = grad_buffer(logits), gt = grad_buffer(targets);
  Tensor out;
  GAN_DISPATCH_FLOATING(x.dtype(), name, [&] {
    out = scalar_out(GAN_KERNEL(x.device(), name, bce_with_logits<scalar_t>, x.data<scalar_t>(), t.data<scalar_t>(),
                                x.numel(), ptr_or_null<scalar_t>(gx), ptr_or_null<scalar_t>(gt)),
                     x.dtype(), x.device());
  });
  return record(name, {logits, targets}, out, scale_saved({gx, gt}), kFused);
}

Tensor mse_loss(const Tensor& input, const Tensor& target) {
  const char* name = "mse_loss";
  check_input(name, input, "input");
  check_input(name, target, "target");
  check_compatible(name, input, target);
  check_same_shape(name, "input", input, "target", target);
  const Tensor x = data_of(input), t = data_of(target);
  Tensor gx = grad_buffer(input), gt = grad_buffer(target);
  Tensor out;
  GAN_DISPATCH_FLOATING(x.dtype(), name, [&] {
    out = scalar_out(GAN_KERNEL(x.device(), name, mse<scalar_t>, x.data<scalar_t>(), t.data<scalar_t>(), x.numel(),
                                ptr_or_null<scalar_t>(gx), ptr_or_null<scalar_t>(gt)),
                     x.dtype(), x.device());
  });
  return record(name, {input, target}, out, scale_saved({gx, gt}), kFused);
}

Tensor gaussian_nll_loss(const Tensor& input, const Tensor& target, const Tensor& var, bool full, double eps) {
  const char* name = "gaussian_nll_loss";
  check_input(name, input, "input");
  check_input(name, target, "target");
  check_input(name, var, "var");
  check_compatible(name, input, target);
  check_compatible(name, input, var);
  check_same_shape(name, "input", input, "target", target);
  // PyTorch's shapes for var: the input's (heteroscedastic), or one variance per row of the last dim
  // (homoscedastic): the input's shape without its last dim, or with a last dim of 1.
  int64_t group = 1;
  if (var.shape() != input.shape()) {
    const Shape& s = input.shape();
    const Shape lead = s.empty() ? Shape{} : Shape(s.begin(), s.end() - 1);
    Shape lead1 = lead;
    lead1.push_back(1);
    if (s.empty() || (var.shape() != lead && var.shape() != lead1))
      throw std::invalid_argument(std::string(name) + ": var of shape " + shape_str(var.shape()) +
                                  " does not fit input of shape " + shape_str(s) +
                                  " (expected the input's shape, or it without its last dim, or with a last dim of 1)");
    group = s.back();
  }
  if (eps < 0.0)
    throw std::invalid_argument(std::string(name) + ": eps must be non-negative, got " + std::to_string(eps));
  {
    // As PyTorch: a negative variance is an error, not clamped (one reduction over var, outside autograd).
    NoGradGuard no_grad;
    if (sum(lt(var, 0.0)).item() > 0.0)
      throw std::invalid_argument(std::string(name) + ": var has negative entries");
  }
  const Tensor x = data_of(input), t = data_of(target), v = data_of(var);
  Tensor gx = grad_buffer(input), gt = grad_buffer(target), gv = grad_buffer(var);
  Tensor out;
  GAN_DISPATCH_FLOATING(x.dtype(), name, [&] {
    out = scalar_out(GAN_KERNEL(x.device(), name, gaussian_nll<scalar_t>, x.data<scalar_t>(), t.data<scalar_t>(),
                                v.data<scalar_t>(), x.numel(), group, full, eps, ptr_or_null<scalar_t>(gx),
                                ptr_or_null<scalar_t>(gt), ptr_or_null<scalar_t>(gv)),
                     x.dtype(), x.device());
  });
  return record(name, {input, target, var}, out, scale_saved({gx, gt, gv}), kFused);
}

Tensor kl_normal(const Tensor& mu, const Tensor& logvar) {
  const char* name = "kl_normal";
  check_input(name, mu, "mu");
  check_input(name, logvar, "logvar");
  check_compatible(name, mu, logvar);
  check_same_shape(name, "mu", mu, "logvar", logvar);
  if (mu.dim() < 1)
    throw std::invalid_argument(std::string(name) + ": mu of shape " + shape_str(mu.shape()) +
                                " needs a leading batch dim");
  const Tensor m = data_of(mu), lv = data_of(logvar);
  Tensor gm = grad_buffer(mu), glv = grad_buffer(logvar);
  Tensor out;
  GAN_DISPATCH_FLOATING(m.dtype(), name, [&] {
    out = scalar_out(GAN_KERNEL(m.device(), name, kl_normal<scalar_t>, m.data<scalar_t>(), lv.data<scalar_t>(),
                                m.numel(), mu.size(0), ptr_or_null<scalar_t>(gm), ptr_or_null<scalar_t>(glv)),
                     m.dtype(), m.device());
  });
  return record(name, {mu, logvar}, out, scale_saved({gm, glv}), kFused);
}

// ---- Wasserstein: the kernel computes the value; the backward is ops (a constant times g), so it is
// differentiable again and the critic loss can sit inside a WGAN-GP double-backward graph. ----

Tensor wasserstein_critic_loss(const Tensor& real_scores, const Tensor& fake_scores) {
  const char* name = "wasserstein_critic_loss";
  check_input(name, real_scores, "real_scores");
  check_input(name, fake_scores, "fake_scores");
  check_compatible(name, real_scores, fake_scores);
  // real and fake batches may differ in size: each term is its own mean.
  const Tensor r = data_of(real_scores), f = data_of(fake_scores);
  Tensor out;
  GAN_DISPATCH_FLOATING(r.dtype(), name, [&] {
    out = scalar_out(GAN_KERNEL(r.device(), name, wasserstein<scalar_t>, r.data<scalar_t>(), r.numel(),
                                f.data<scalar_t>(), f.numel()),
                     r.dtype(), r.device());
  });
  return record(name, {real_scores, fake_scores}, out,
                [sr = r.shape(), sf = f.shape(), nr = r.numel(), nf = f.numel()](const Tensor& g, const Tensor&) {
                  return std::vector<Tensor>{expand(mul(g, -1.0 / static_cast<double>(nr)), sr),
                                             expand(mul(g, 1.0 / static_cast<double>(nf)), sf)};
                });
}

Tensor wasserstein_generator_loss(const Tensor& fake_scores) {
  const char* name = "wasserstein_generator_loss";
  check_input(name, fake_scores, "fake_scores");
  const Tensor f = data_of(fake_scores);
  Tensor out;
  GAN_DISPATCH_FLOATING(f.dtype(), name, [&] {
    // -mean(fake): the fakes take the place of the real scores in mean(fake) - mean(real).
    out = scalar_out(GAN_KERNEL(f.device(), name, wasserstein<scalar_t>, f.data<scalar_t>(), f.numel(),
                                static_cast<const scalar_t*>(nullptr), int64_t{0}),
                     f.dtype(), f.device());
  });
  return record(name, {fake_scores}, out, [sf = f.shape(), nf = f.numel()](const Tensor& g, const Tensor&) {
    return std::vector<Tensor>{expand(mul(g, -1.0 / static_cast<double>(nf)), sf)};
  });
}

}  // namespace gan::nn::functional
