// The fused losses of engine/nn/functional.h. Each runs one kernel (kernels/losses.h) that writes the reduced loss
// (or, for reduction 'none', the per-element terms) and the gradient of the loss w.r.t. every input that wants one.
//
// The recorded backward has two ways to the same derivative. A plain backward (no create_graph) scales the
// buffers the kernel saved by the incoming gradient: one multiply per input, the training hot path. A backward
// with create_graph (grad mode is on inside a backward only then) evaluates the derivative as ops of the inputs
// instead, PyTorch's derivative formula for the loss, so the gradient is recorded and can be differentiated again
// (a gradient penalty taken on a loss, R1 through a BCE discriminator). Reduction 'none' always takes the ops: its
// incoming gradient is a tensor, not a scalar that could scale a saved buffer.
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

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

bool wants(const Tensor& t) { return t.defined() && t.requires_grad(); }

// The kernels' divisor (kernels/losses.h): the element count (or the batch) for 'mean', 1 otherwise.
double divisor_for(Reduction reduction, int64_t mean_over) {
  return reduction == Reduction::Mean ? static_cast<double>(mean_over) : 1.0;
}

// Where the kernel writes the per-element terms: a buffer shaped like `like` for 'none', else nothing.
Tensor terms_buffer(Reduction reduction, const Tensor& like) {
  return reduction == Reduction::None ? empty(like.shape(), like.dtype(), like.device()) : Tensor();
}

// The loss output: the terms for 'none', else the reduced value as a 0-d tensor on `like`'s device. On the CPU the
// kernel returns the value; on a GPU the kernel's _to twin (kernels/losses.h) writes it into a 0-d device tensor,
// so the host never waits for a loss (for 'none' too: the unused sum also stays on the device).
template <typename T>
Tensor loss_out(T value, const Tensor& terms, const Tensor& like) {
  return terms.defined() ? terms : full({}, static_cast<double>(value), like.dtype(), like.device());
}

template <typename T, typename WriteFn>
Tensor device_loss_out(const Tensor& terms, const Tensor& like, WriteFn write) {
  Tensor out = empty({}, like.dtype(), like.device());
  write(out.data<T>());
  return terms.defined() ? terms : out;
}

// GAN_LOSS_OUT(terms, like, name, kernel, args...): the loss output of kernels::{cpu,cuda}::kernel(args...) (inside
// GAN_DISPATCH_FLOATING, which names scalar_t).
#if defined(GAN_WITH_CUDA)
#define GAN_LOSS_OUT(TERMS, LIKE, NAME, FN, ...)                                                                   \
  ((LIKE).device().is_cuda()                                                                                       \
       ? device_loss_out<scalar_t>((TERMS), (LIKE),                                                                \
                                   [&](scalar_t* result_) {                                                        \
                                     ::gan::kernels::cuda::DeviceGuard guard_((LIKE).device().index);              \
                                     ::gan::kernels::cuda::FN##_to<scalar_t>(result_, __VA_ARGS__);                \
                                   })                                                                              \
       : loss_out(::gan::kernels::cpu::FN<scalar_t>(__VA_ARGS__), (TERMS), (LIKE)))
#else
#define GAN_LOSS_OUT(TERMS, LIKE, NAME, FN, ...)                                                                   \
  ((LIKE).device().is_cuda() ? throw ::gan::detail::no_cuda_error(NAME, (LIKE).device())                          \
                             : loss_out(::gan::kernels::cpu::FN<scalar_t>(__VA_ARGS__), (TERMS), (LIKE)))
#endif

// The derivative of a loss as ops of its inputs, given the incoming gradient already divided by the divisor.
using OpsBackward = std::function<std::vector<Tensor>(const Tensor& g_scaled)>;

// The backward of a fused loss (see the top of the file): the saved buffers times g, or by_ops(g / divisor).
BackwardFn fused_backward(std::vector<Tensor> saved, double divisor, OpsBackward by_ops) {
  return [saved = std::move(saved), divisor, by_ops = std::move(by_ops)](const Tensor& g, const Tensor&) {
    if (grad_enabled() || saved.empty()) return by_ops(divisor == 1.0 ? g : mul(g, 1.0 / divisor));
    std::vector<Tensor> out;
    out.reserve(saved.size());
    for (const Tensor& s : saved) out.push_back(s.defined() ? mul(s, g) : Tensor());
    return out;
  };
}

// The saved gradient buffers: one per input for 'mean' and 'sum', none for 'none'.
std::vector<Tensor> saved_for(Reduction reduction, std::vector<Tensor> buffers) {
  return reduction == Reduction::None ? std::vector<Tensor>{} : std::move(buffers);
}
Tensor grad_buffer(Reduction reduction, const Tensor& t) {
  return reduction == Reduction::None ? Tensor() : grad_buffer(t);
}

// A two-batch loss (critic: real and fake scores) with reduction 'none' is element-wise over both batches.
void check_pairable(const char* op, Reduction reduction, const Tensor& real, const Tensor& fake) {
  if (reduction == Reduction::None && real.shape() != fake.shape())
    throw std::invalid_argument(std::string(op) + ": reduction 'none' pairs real and fake scores element by element, "
                                "but real_scores has shape " + shape_str(real.shape()) + " and fake_scores " +
                                shape_str(fake.shape()) + "; use 'mean' or 'sum' for batches of different shapes");
}

}  // namespace

const char* reduction_name(Reduction reduction) {
  switch (reduction) {
    case Reduction::Mean: return "mean";
    case Reduction::Sum: return "sum";
    case Reduction::None: return "none";
  }
  return "?";
}

Tensor bce_with_logits(const Tensor& logits, const Tensor& targets, Reduction reduction) {
  const char* name = "bce_with_logits";
  check_input(name, logits, "logits");
  check_input(name, targets, "targets");
  check_compatible(name, logits, targets);
  check_same_shape(name, "logits", logits, "targets", targets);
  const Tensor x = data_of(logits), t = data_of(targets);
  const double div = divisor_for(reduction, x.numel());
  Tensor gx = grad_buffer(reduction, logits), gt = grad_buffer(reduction, targets);
  const Tensor terms = terms_buffer(reduction, x);
  Tensor out;
  GAN_DISPATCH_FLOATING(x.dtype(), name, [&] {
    out = GAN_LOSS_OUT(terms, x, name, bce_with_logits, x.data<scalar_t>(), t.data<scalar_t>(), x.numel(), div,
                       ptr_or_null<scalar_t>(terms), ptr_or_null<scalar_t>(gx), ptr_or_null<scalar_t>(gt));
  });
  // d/dx = sigmoid(x) - t, d/dt = -x.
  return record(name, {logits, targets}, out,
                fused_backward(saved_for(reduction, {gx, gt}), div, [logits, targets](const Tensor& g) {
                  return std::vector<Tensor>{wants(logits) ? mul(g, sub(sigmoid(logits), targets)) : Tensor(),
                                             wants(targets) ? mul(g, neg(logits)) : Tensor()};
                }));
}

Tensor mse_loss(const Tensor& input, const Tensor& target, Reduction reduction) {
  const char* name = "mse_loss";
  check_input(name, input, "input");
  check_input(name, target, "target");
  check_compatible(name, input, target);
  check_same_shape(name, "input", input, "target", target);
  const Tensor x = data_of(input), t = data_of(target);
  const double div = divisor_for(reduction, x.numel());
  Tensor gx = grad_buffer(reduction, input), gt = grad_buffer(reduction, target);
  const Tensor terms = terms_buffer(reduction, x);
  Tensor out;
  GAN_DISPATCH_FLOATING(x.dtype(), name, [&] {
    out = GAN_LOSS_OUT(terms, x, name, mse, x.data<scalar_t>(), t.data<scalar_t>(), x.numel(), div,
                       ptr_or_null<scalar_t>(terms), ptr_or_null<scalar_t>(gx), ptr_or_null<scalar_t>(gt));
  });
  // d/dx = 2 (x - t) = -d/dt.
  return record(name, {input, target}, out,
                fused_backward(saved_for(reduction, {gx, gt}), div, [input, target](const Tensor& g) {
                  const Tensor gx2 = mul(mul(g, sub(input, target)), 2.0);
                  return std::vector<Tensor>{wants(input) ? gx2 : Tensor(), wants(target) ? neg(gx2) : Tensor()};
                }));
}

Tensor gaussian_nll_loss(const Tensor& input, const Tensor& target, const Tensor& var, bool full, double eps,
                         Reduction reduction) {
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
  Shape var_rows = input.shape();  // var as [..., 1] when homoscedastic
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
    var_rows = lead1;
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
  const double div = divisor_for(reduction, x.numel());
  Tensor gx = grad_buffer(reduction, input), gt = grad_buffer(reduction, target), gv = grad_buffer(reduction, var);
  const Tensor terms = terms_buffer(reduction, x);
  Tensor out;
  GAN_DISPATCH_FLOATING(x.dtype(), name, [&] {
    out = GAN_LOSS_OUT(terms, x, name, gaussian_nll, x.data<scalar_t>(), t.data<scalar_t>(), v.data<scalar_t>(),
                       x.numel(), group, full, eps, div, ptr_or_null<scalar_t>(terms), ptr_or_null<scalar_t>(gx),
                       ptr_or_null<scalar_t>(gt), ptr_or_null<scalar_t>(gv));
  });
  // With v = max(var, eps) (broadcast over each group) and d = x - t: d/dx = d / v = -d/dt and
  // d/dv = 0.5 (1 / v - d^2 / v^2), summed over each group.
  return record(name, {input, target, var}, out,
                fused_backward(saved_for(reduction, {gx, gt, gv}), div,
                               [input, target, var, var_rows, eps](const Tensor& g) {
                                 // PyTorch clamps a clone of var in place under no_grad: the value is clamped,
                                 // the derivative is var's. Adding the (constant) clamp correction does the same.
                                 Tensor shift;
                                 {
                                   NoGradGuard no_grad;
                                   const Tensor vd = var.detach();
                                   shift = sub(clamp(vd, eps), vd);
                                 }
                                 Tensor v_full = add(var, shift);
                                 if (var.shape() != input.shape())
                                   v_full = expand(reshape(v_full, var_rows), input.shape());
                                 const Tensor inv_v = pow(v_full, -1.0);
                                 const Tensor d = sub(input, target);
                                 const Tensor gd = mul(g, mul(d, inv_v));
                                 Tensor g_var;
                                 if (wants(var)) {
                                   const Tensor per_elem =
                                       mul(mul(g, sub(inv_v, mul(mul(d, d), mul(inv_v, inv_v)))), 0.5);
                                   g_var = reshape(sum_to(per_elem, var_rows), var.shape());
                                 }
                                 return std::vector<Tensor>{wants(input) ? gd : Tensor(),
                                                            wants(target) ? neg(gd) : Tensor(), g_var};
                               }));
}

Tensor kl_normal(const Tensor& mu, const Tensor& logvar, Reduction reduction) {
  const char* name = "kl_normal";
  check_input(name, mu, "mu");
  check_input(name, logvar, "logvar");
  check_compatible(name, mu, logvar);
  check_same_shape(name, "mu", mu, "logvar", logvar);
  if (mu.dim() < 1)
    throw std::invalid_argument(std::string(name) + ": mu of shape " + shape_str(mu.shape()) +
                                " needs a leading batch dim");
  const Tensor m = data_of(mu), lv = data_of(logvar);
  const double div = divisor_for(reduction, mu.size(0));
  Tensor gm = grad_buffer(reduction, mu), glv = grad_buffer(reduction, logvar);
  const Tensor terms = terms_buffer(reduction, m);
  Tensor out;
  GAN_DISPATCH_FLOATING(m.dtype(), name, [&] {
    out = GAN_LOSS_OUT(terms, m, name, kl_normal, m.data<scalar_t>(), lv.data<scalar_t>(), m.numel(), div,
                       ptr_or_null<scalar_t>(terms), ptr_or_null<scalar_t>(gm), ptr_or_null<scalar_t>(glv));
  });
  // d/dmu = mu, d/dlogvar = 0.5 (exp(logvar) - 1).
  return record(name, {mu, logvar}, out,
                fused_backward(saved_for(reduction, {gm, glv}), div, [mu, logvar](const Tensor& g) {
                  return std::vector<Tensor>{wants(mu) ? mul(g, mu) : Tensor(),
                                             wants(logvar) ? mul(mul(g, sub(exp(logvar), 1.0)), 0.5) : Tensor()};
                }));
}

// ---- Wasserstein: the kernel computes the value; the backward is ops (a constant times g), so it is
// differentiable again and the critic loss can sit inside a WGAN-GP double-backward graph. Reduction 'none' is
// the element-wise terms themselves, as ops. ----

namespace {

// -mean(fake) (or -sum): shared by the Wasserstein and hinge generator losses, which are the same loss.
Tensor negated_mean(const char* name, const Tensor& fake_scores, Reduction reduction) {
  check_input(name, fake_scores, "fake_scores");
  if (reduction == Reduction::None) return neg(fake_scores);
  const Tensor f = data_of(fake_scores);
  const double div = divisor_for(reduction, f.numel());
  Tensor out;
  GAN_DISPATCH_FLOATING(f.dtype(), name, [&] {
    // -mean(fake): the fakes take the place of the real scores in mean(fake) - mean(real).
    out = GAN_LOSS_OUT(Tensor(), f, name, wasserstein, f.data<scalar_t>(), f.numel(), div,
                       static_cast<const scalar_t*>(nullptr), int64_t{0}, 1.0);
  });
  return record(name, {fake_scores}, out, [sf = f.shape(), div](const Tensor& g, const Tensor&) {
    return std::vector<Tensor>{expand(mul(g, -1.0 / div), sf)};
  });
}

}  // namespace

Tensor wasserstein_critic_loss(const Tensor& real_scores, const Tensor& fake_scores, Reduction reduction) {
  const char* name = "wasserstein_critic_loss";
  check_input(name, real_scores, "real_scores");
  check_input(name, fake_scores, "fake_scores");
  check_compatible(name, real_scores, fake_scores);
  check_pairable(name, reduction, real_scores, fake_scores);
  if (reduction == Reduction::None) return sub(fake_scores, real_scores);
  // real and fake batches may differ in size: each term is its own mean.
  const Tensor r = data_of(real_scores), f = data_of(fake_scores);
  const double div_r = divisor_for(reduction, r.numel()), div_f = divisor_for(reduction, f.numel());
  Tensor out;
  GAN_DISPATCH_FLOATING(r.dtype(), name, [&] {
    out = GAN_LOSS_OUT(Tensor(), r, name, wasserstein, r.data<scalar_t>(), r.numel(), div_r, f.data<scalar_t>(),
                       f.numel(), div_f);
  });
  return record(name, {real_scores, fake_scores}, out,
                [sr = r.shape(), sf = f.shape(), div_r, div_f](const Tensor& g, const Tensor&) {
                  return std::vector<Tensor>{expand(mul(g, -1.0 / div_r), sr), expand(mul(g, 1.0 / div_f), sf)};
                });
}

Tensor wasserstein_generator_loss(const Tensor& fake_scores, Reduction reduction) {
  return negated_mean("wasserstein_generator_loss", fake_scores, reduction);
}

// ---- hinge (SNGAN, BigGAN): mean(relu(1 - real)) + mean(relu(1 + fake)) for the critic, -mean(fake) for the
// generator. The fused kernel writes the value and the 0 / +-1/N gradients; with create_graph the gradient is
// relu's backward as ops of (g, 1 -+ scores), which keeps the edge to the scores (zero second derivative), as
// PyTorch's relu(1 - real).mean() does. ----

Tensor hinge_critic_loss(const Tensor& real_scores, const Tensor& fake_scores, Reduction reduction) {
  const char* name = "hinge_critic_loss";
  check_input(name, real_scores, "real_scores");
  check_input(name, fake_scores, "fake_scores");
  check_compatible(name, real_scores, fake_scores);
  check_pairable(name, reduction, real_scores, fake_scores);
  if (reduction == Reduction::None) return add(relu(rsub(real_scores, 1.0)), relu(add(fake_scores, 1.0)));
  const Tensor r = data_of(real_scores), f = data_of(fake_scores);
  const double div_r = divisor_for(reduction, r.numel()), div_f = divisor_for(reduction, f.numel());
  Tensor gr = grad_buffer(real_scores), gf = grad_buffer(fake_scores);
  Tensor out;
  GAN_DISPATCH_FLOATING(r.dtype(), name, [&] {
    const Tensor real_term = GAN_LOSS_OUT(Tensor(), r, name, hinge, r.data<scalar_t>(), r.numel(), -1.0, div_r,
                                          static_cast<scalar_t*>(nullptr), ptr_or_null<scalar_t>(gr));
    const Tensor fake_term = GAN_LOSS_OUT(Tensor(), f, name, hinge, f.data<scalar_t>(), f.numel(), 1.0, div_f,
                                          static_cast<scalar_t*>(nullptr), ptr_or_null<scalar_t>(gf));
    // The two terms added in double, then rounded once to the loss's dtype (on the device when they are there).
    out = add(real_term.to(DType::Float64), fake_term.to(DType::Float64)).to(r.dtype());
  });
  // The ops backward takes g unscaled (divisor 1) and applies each batch's own divisor.
  return record(name, {real_scores, fake_scores}, out,
                fused_backward({gr, gf}, 1.0, [real_scores, fake_scores, div_r, div_f](const Tensor& g) {
                  Tensor g_real, g_fake;
                  if (wants(real_scores))
                    g_real = neg(leaky_relu_backward(expand(mul(g, 1.0 / div_r), real_scores.shape()),
                                                     rsub(real_scores, 1.0), 0.0));
                  if (wants(fake_scores))
                    g_fake = leaky_relu_backward(expand(mul(g, 1.0 / div_f), fake_scores.shape()),
                                                 add(fake_scores, 1.0), 0.0);
                  return std::vector<Tensor>{g_real, g_fake};
                }));
}

Tensor hinge_generator_loss(const Tensor& fake_scores, Reduction reduction) {
  return negated_mean("hinge_generator_loss", fake_scores, reduction);
}

}  // namespace gan::nn::functional
