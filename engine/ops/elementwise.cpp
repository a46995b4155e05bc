// Element-wise ops and their backward rules. Each backward is written with the ops of this file, so it can be
// differentiated again; broadcasting is undone with sum_to.
#include <stdexcept>
#include <string>

#include "engine/ops.h"
#include "engine/ops/op_helpers.h"
#include "engine/saved_activation.h"
#include "kernels/elementwise.h"

namespace gan {

using kernels::BinaryOp;
using kernels::UnaryOp;
using kernels::UnaryParams;

namespace {

Tensor run_unary(const char* name, UnaryOp op, const Tensor& x, UnaryParams p = {}) {
  detail::check_floating(name, x);
  Tensor out = empty(x.shape(), x.dtype(), x.device());
  GAN_DISPATCH_FLOATING(x.dtype(), name, [&] {
    GAN_KERNEL(x.device(), name, unary<scalar_t>, op, p, x.data<scalar_t>(), detail::layout_of(x),
               out.data<scalar_t>(), detail::layout_of(out));
  });
  return out;
}

Tensor run_binary(const char* name, BinaryOp op, const Tensor& a, const Tensor& b) {
  detail::check_floating(name, a);
  detail::check_floating(name, b);
  detail::check_same_dtype(name, a, b);
  detail::check_same_device(name, a, b);
  const Shape shape = broadcast_shapes(name, a.shape(), b.shape());
  Tensor out = empty(shape, a.dtype(), a.device());
  GAN_DISPATCH_FLOATING(a.dtype(), name, [&] {
    GAN_KERNEL(a.device(), name, binary<scalar_t>, op, a.data<scalar_t>(), detail::layout_of(a, shape),
               b.data<scalar_t>(), detail::layout_of(b, shape), out.data<scalar_t>(), detail::layout_of(out));
  });
  return out;
}

// The gradient for input `x` only if it wants one: skips work for constants.
bool wants(const Tensor& x) { return x.defined() && x.requires_grad(); }

}  // namespace

// ---- binary ----
Tensor add(const Tensor& a, const Tensor& b) {
  return record("add", {a, b}, run_binary("add", BinaryOp::Add, a, b),
                [sa = a.shape(), sb = b.shape()](const Tensor& g, const Tensor&) {
                  return std::vector<Tensor>{sum_to(g, sa), sum_to(g, sb)};
                });
}

Tensor sub(const Tensor& a, const Tensor& b) {
  return record("sub", {a, b}, run_binary("sub", BinaryOp::Sub, a, b),
                [sa = a.shape(), sb = b.shape()](const Tensor& g, const Tensor&) {
                  return std::vector<Tensor>{sum_to(g, sa), sum_to(neg(g), sb)};
                });
}

Tensor mul(const Tensor& a, const Tensor& b) {
  // Each factor is kept only for the other's gradient (a constant mask times x keeps the mask, not x), and as its
  // Recomputation when it has one (layer_norm's affine on batch norm's output; engine/saved_activation.h).
  const bool want_a = wants(a), want_b = wants(b);
  const SavedActivation kept_a = want_b ? SavedActivation::kept(a) : SavedActivation();
  const SavedActivation kept_b = want_a ? SavedActivation::kept(b) : SavedActivation();
  return record("mul", {a, b}, run_binary("mul", BinaryOp::Mul, a, b),
                [kept_a, kept_b, want_a, want_b, shape_a = a.shape(), shape_b = b.shape()](const Tensor& g,
                                                                                           const Tensor&) {
                  return std::vector<Tensor>{want_a ? sum_to(mul(g, kept_b.unpack()), shape_a) : Tensor(),
                                             want_b ? sum_to(mul(g, kept_a.unpack()), shape_b) : Tensor()};
                });
}

Tensor div(const Tensor& a, const Tensor& b) {
  return record("div", {a, b}, run_binary("div", BinaryOp::Div, a, b), [a, b](const Tensor& g, const Tensor&) {
    // d(a/b)/da = 1/b, d(a/b)/db = -a/b^2
    return std::vector<Tensor>{wants(a) ? sum_to(div(g, b), a.shape()) : Tensor(),
                               wants(b) ? sum_to(neg(div(mul(g, a), mul(b, b))), b.shape()) : Tensor()};
  });
}

Tensor maximum(const Tensor& a, const Tensor& b) {
  return record("maximum", {a, b}, run_binary("maximum", BinaryOp::Maximum, a, b),
                [a, b](const Tensor& g, const Tensor&) {
                  const Tensor pick_a = ge(a, b);
                  return std::vector<Tensor>{sum_to(mul(g, pick_a), a.shape()),
                                             sum_to(mul(g, rsub(pick_a, 1.0)), b.shape())};
                });
}

Tensor minimum(const Tensor& a, const Tensor& b) {
  return record("minimum", {a, b}, run_binary("minimum", BinaryOp::Minimum, a, b),
                [a, b](const Tensor& g, const Tensor&) {
                  const Tensor pick_a = le(a, b);
                  return std::vector<Tensor>{sum_to(mul(g, pick_a), a.shape()),
                                             sum_to(mul(g, rsub(pick_a, 1.0)), b.shape())};
                });
}

Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) {
  const char* name = "where";
  detail::check_floating(name, a);
  detail::check_same_dtype(name, a, b);
  detail::check_same_device(name, a, b);
  detail::check_defined(name, cond, "cond");
  detail::check_same_device(name, cond, a);
  const Tensor c = cond.dtype() == a.dtype() ? cond : cond.detach().to(a.dtype());
  const Shape shape = broadcast_shapes(name, broadcast_shapes(name, c.shape(), a.shape()), b.shape());
  Tensor out = empty(shape, a.dtype(), a.device());
  GAN_DISPATCH_FLOATING(a.dtype(), name, [&] {
    GAN_KERNEL(a.device(), name, where<scalar_t>, c.data<scalar_t>(), detail::layout_of(c, shape),
               a.data<scalar_t>(), detail::layout_of(a, shape), b.data<scalar_t>(), detail::layout_of(b, shape),
               out.data<scalar_t>(), detail::layout_of(out));
  });
  return record(name, {a, b}, out, [c = c.detach(), sa = a.shape(), sb = b.shape()](const Tensor& g, const Tensor&) {
    const Tensor zero = zeros({}, g.dtype(), g.device());
    return std::vector<Tensor>{sum_to(where(c, g, zero), sa), sum_to(where(c, zero, g), sb)};
  });
}

// ---- with a scalar ----
Tensor add(const Tensor& a, double s) {
  return record("add_scalar", {a}, run_unary("add_scalar", UnaryOp::AddScalar, a, {s, 0}),
                [](const Tensor& g, const Tensor&) { return std::vector<Tensor>{g}; });
}
Tensor sub(const Tensor& a, double s) { return add(a, -s); }
Tensor mul(const Tensor& a, double s) {
  return record("mul_scalar", {a}, run_unary("mul_scalar", UnaryOp::MulScalar, a, {s, 0}),
                [s](const Tensor& g, const Tensor&) { return std::vector<Tensor>{mul(g, s)}; });
}
Tensor rsub(const Tensor& a, double s) { return add(neg(a), s); }
Tensor div(const Tensor& a, double s) { return mul(a, 1.0 / s); }
Tensor rdiv(const Tensor& a, double s) { return mul(pow(a, -1.0), s); }

// ---- unary ----
Tensor neg(const Tensor& x) {
  return record("neg", {x}, run_unary("neg", UnaryOp::Neg, x),
                [](const Tensor& g, const Tensor&) { return std::vector<Tensor>{neg(g)}; });
}

Tensor exp(const Tensor& x) {
  return record(
      "exp", {x}, run_unary("exp", UnaryOp::Exp, x),
      [](const Tensor& g, const Tensor& out) { return std::vector<Tensor>{mul(g, out)}; }, {.save_output = true});
}

Tensor log(const Tensor& x) {
  return record("log", {x}, run_unary("log", UnaryOp::Log, x),
                [x](const Tensor& g, const Tensor&) { return std::vector<Tensor>{div(g, x)}; });
}

Tensor sqrt(const Tensor& x) {
  return record(
      "sqrt", {x}, run_unary("sqrt", UnaryOp::Sqrt, x),
      [](const Tensor& g, const Tensor& out) { return std::vector<Tensor>{div(g, mul(out, 2.0))}; },
      {.save_output = true});
}

Tensor pow(const Tensor& x, double p) {
  return record("pow", {x}, run_unary("pow", UnaryOp::Pow, x, {p, 0}), [x, p](const Tensor& g, const Tensor&) {
    if (p == 0.0) return std::vector<Tensor>{zeros_like(g)};
    if (p == 1.0) return std::vector<Tensor>{g};
    return std::vector<Tensor>{mul(g, mul(pow(x, p - 1.0), p))};
  });
}

Tensor abs(const Tensor& x) {
  return record("abs", {x}, run_unary("abs", UnaryOp::Abs, x),
                [x](const Tensor& g, const Tensor&) { return std::vector<Tensor>{abs_backward(g, x)}; });
}

Tensor clamp(const Tensor& x, double lo, double hi) {
  if (lo > hi)
    throw std::invalid_argument("clamp: lower bound " + std::to_string(lo) + " exceeds upper bound " +
                                std::to_string(hi));
  return record("clamp", {x}, run_unary("clamp", UnaryOp::Clamp, x, {lo, hi}),
                [x, lo, hi](const Tensor& g, const Tensor&) {
                  return std::vector<Tensor>{mul(g, mul(ge(x, lo), le(x, hi)))};
                });
}

// ---- activations ----
namespace {

// g where x > 0, else g slope (0 for slope 0, whatever g is): one kernel, no history. x: g's dtype, or the
// bfloat16 copy of a float32 input.
Tensor leaky_relu_grad_values(const Tensor& g, const Tensor& x, double slope) {
  const char* name = "leaky_relu_backward";
  detail::check_same_device(name, g, x);
  const Tensor gc = g.detach().contiguous(), xc = x.detach().contiguous();
  Tensor out = empty(g.shape(), g.dtype(), g.device());
  const int64_t n = g.numel();
  if (x.dtype() == DType::BFloat16 && g.dtype() == DType::Float32) {
    GAN_KERNEL(g.device(), name, leaky_relu_backward, gc.data<float>(), xc.data<bfloat16>(), slope,
               out.data<float>(), n);
    return out;
  }
  detail::check_same_dtype(name, g, x);
  GAN_DISPATCH_FLOATING(g.dtype(), name, [&] {
    GAN_KERNEL(g.device(), name, leaky_relu_backward, gc.data<scalar_t>(), xc.data<scalar_t>(), slope,
               out.data<scalar_t>(), n);
  });
  return out;
}

// relu's and leaky_relu's backward: reads x for its sign only, so x is kept as bf16 in the bf16 math mode
// (engine/saved_activation.h), and a plain backward reads that copy directly.
BackwardFn leaky_relu_grad_fn(const Tensor& x, double slope) {
  return [saved = save_for_backward({x}, x, SavedUse::Sign), slope](const Tensor& g, const Tensor&) {
    if (saved.is_packed() && !grad_enabled())
      return std::vector<Tensor>{leaky_relu_grad_values(g, saved.packed(), slope)};
    return std::vector<Tensor>{leaky_relu_backward(g, saved.unpack(), slope)};
  };
}

// Records relu or leaky_relu, y = act(x). For slope >= 0, y > 0 exactly where x > 0, so the backward can read y's
// sign instead of x's: the node keeps y, which the next layer keeps anyway (a conv saves its input), and x is
// freed once the forward no longer needs it: one activation-sized tensor less per layer between forward and
// backward (32 MiB for DCGAN-64's first discriminator layer at batch 128). PyTorch's in-place ReLU/LeakyReLU keep
// the output the same way. The double-backward graph keeps its (zero) edge through y and this node to x.
Tensor record_sign_activation(const char* name, const Tensor& x, Tensor y, double slope) {
  if (slope < 0.0) return record(name, {x}, std::move(y), leaky_relu_grad_fn(x, slope));
  const SavedActivation saved = save_for_backward({x}, y, SavedUse::Sign);
  if (!saved.is_packed())
    return record(
        name, {x}, std::move(y),
        [slope](const Tensor& g, const Tensor& out) {
          return std::vector<Tensor>{leaky_relu_backward(g, out, slope)};
        },
        {.save_output = true});
  // The bf16 mode: the node keeps y's bf16 copy (shared with the next conv's). y had no history when it was
  // packed; a differentiable backward re-attaches it from a weak pointer to this node (a strong one would be a
  // cycle), which is alive while it runs.
  auto self = std::make_shared<std::weak_ptr<Node>>();
  Tensor out = record(name, {x}, std::move(y), [saved, self, slope](const Tensor& g, const Tensor&) {
    if (!grad_enabled()) return std::vector<Tensor>{leaky_relu_grad_values(g, saved.packed(), slope)};
    Tensor y_values = saved.unpack();
    y_values.impl()->grad_fn = self->lock();
    return std::vector<Tensor>{leaky_relu_backward(g, y_values, slope)};
  });
  *self = out.grad_fn();
  return out;
}

}  // namespace

Tensor relu(const Tensor& x) { return record_sign_activation("relu", x, run_unary("relu", UnaryOp::Relu, x), 0.0); }

Tensor leaky_relu(const Tensor& x, double slope) {
  return record_sign_activation("leaky_relu", x, run_unary("leaky_relu", UnaryOp::LeakyRelu, x, {slope, 0}), slope);
}

// ---- backward rules that keep their edge to the input ----
// The derivatives of relu, leaky_relu and abs are piecewise constant in x: g times a mask (0/1, slope/1) or a sign.
// Computing that product from a detached mask would give a gradient with no edge to x, so a second-order graph
// would lose x: grad(penalty, {b}) through a critic would call a bias "unused" and a Hessian-vector product through
// relu alone would find nothing that requires grad. PyTorch records these products as ops of (g, x)
// (threshold_backward, leaky_relu_backward, sgn) whose derivative w.r.t. x is zero; so do we, and both answer zeros.
namespace {

template <typename F>
Tensor masked_product(const char* name, const Tensor& g, const Tensor& x, F product) {
  detail::check_same_device(name, g, x);
  if (g.shape() != x.shape())
    throw std::invalid_argument(std::string(name) + ": gradient of shape " + shape_str(g.shape()) +
                                " does not match input of shape " + shape_str(x.shape()));
  Tensor out;
  {
    NoGradGuard no_grad;
    out = product(g.detach(), x.detach());
  }
  return record(name, {g, x}, out, [name, x, product](const Tensor& gg, const Tensor&) {
    return std::vector<Tensor>{masked_product(name, gg, x, product), wants(x) ? zeros_like(x) : Tensor()};
  });
}

}  // namespace

Tensor leaky_relu_backward(const Tensor& g, const Tensor& x, double slope) {
  // A select, not a product with the mask: a NaN or Inf gradient at an inactive input gives 0 (or slope g), as in
  // PyTorch. One fused kernel (leaky_relu_grad_values) rather than a mask, a product and a select.
  return masked_product("leaky_relu_backward", g, x, [slope](const Tensor& gd, const Tensor& xd) {
    return leaky_relu_grad_values(gd, xd, slope);
  });
}

Tensor abs_backward(const Tensor& g, const Tensor& x) {
  return masked_product("abs_backward", g, x, [](const Tensor& gd, const Tensor& xd) { return mul(gd, sign(xd)); });
}

// d tanh(x) = 1 - tanh(x)^2, from the saved output; or, where x holds bf16 values (a conv output in the bf16 math
// mode: the generator's last layer), from x kept as bf16 and tanh recomputed, the same values in half the bytes
// (engine/saved_activation.h).
Tensor tanh(const Tensor& x) {
  Tensor y = run_unary("tanh", UnaryOp::Tanh, x);
  const SavedActivation saved = save_for_backward({x}, x, SavedUse::Values);
  if (saved.is_packed())
    return record("tanh", {x}, y, [saved](const Tensor& g, const Tensor&) {
      const Tensor out = tanh(saved.unpack());
      return std::vector<Tensor>{mul(g, rsub(mul(out, out), 1.0))};
    });
  return record(
      "tanh", {x}, y,
      [](const Tensor& g, const Tensor& out) { return std::vector<Tensor>{mul(g, rsub(mul(out, out), 1.0))}; },
      {.save_output = true});
}

Tensor sigmoid(const Tensor& x) {
  return record(
      "sigmoid", {x}, run_unary("sigmoid", UnaryOp::Sigmoid, x),
      [](const Tensor& g, const Tensor& out) { return std::vector<Tensor>{mul(g, mul(out, rsub(out, 1.0)))}; },
      {.save_output = true});
}

Tensor softplus(const Tensor& x) {
  return record("softplus", {x}, run_unary("softplus", UnaryOp::Softplus, x),
                [x](const Tensor& g, const Tensor&) { return std::vector<Tensor>{mul(g, sigmoid(x))}; });
}

// ---- comparisons (no gradient) ----
Tensor gt(const Tensor& a, const Tensor& b) { return run_binary("gt", BinaryOp::Gt, a.detach(), b.detach()); }
Tensor ge(const Tensor& a, const Tensor& b) { return run_binary("ge", BinaryOp::Ge, a.detach(), b.detach()); }
Tensor lt(const Tensor& a, const Tensor& b) { return run_binary("lt", BinaryOp::Lt, a.detach(), b.detach()); }
Tensor le(const Tensor& a, const Tensor& b) { return run_binary("le", BinaryOp::Le, a.detach(), b.detach()); }
Tensor eq(const Tensor& a, const Tensor& b) { return run_binary("eq", BinaryOp::Eq, a.detach(), b.detach()); }
Tensor gt(const Tensor& a, double s) { return run_unary("gt", UnaryOp::GtScalar, a.detach(), {s, 0}); }
Tensor ge(const Tensor& a, double s) { return run_unary("ge", UnaryOp::GeScalar, a.detach(), {s, 0}); }
Tensor lt(const Tensor& a, double s) { return run_unary("lt", UnaryOp::LtScalar, a.detach(), {s, 0}); }
Tensor le(const Tensor& a, double s) { return run_unary("le", UnaryOp::LeScalar, a.detach(), {s, 0}); }
Tensor sign(const Tensor& x) { return run_unary("sign", UnaryOp::Sign, x.detach()); }

}  // namespace gan
