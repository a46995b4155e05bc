// batch_norm with a fused activation: the op around kernels/batch_norm.h. A plain backward runs the fused one-pass
// kernel. A backward with create_graph (grad mode is on inside a backward only then) must be differentiable again
// (a gradient penalty, WGAN-GP or R1, through a critic with layer_norm or batch norm, as PyTorch allows): without a
// fused activation in training it runs the fused kernel recorded with its own backward (batch_norm_grads.h);
// otherwise it builds the same gradient from ops of x, weight and bias, batch statistics included.
#include <stdexcept>
#include <string>

#include "engine/nn/batch_norm_grads.h"
#include "engine/nn/functional.h"
#include "engine/ops/dispatch.h"
#include "engine/ops/op_helpers.h"
#include "engine/saved_activation.h"
#include "kernels/batch_norm.h"

namespace gan::nn::functional {

namespace {

// A per-channel tensor (weight, bias, running stats): [C], the input's dtype and device.
void check_channel_param(const Tensor& t, const char* what, const Tensor& x, int64_t C) {
  if (!t.defined()) return;
  if (t.dim() != 1 || t.shape()[0] != C)
    throw std::invalid_argument(std::string("batch_norm: ") + what + " of shape " + shape_str(t.shape()) +
                                " does not match input of shape " + shape_str(x.shape()) + " with " +
                                std::to_string(C) + " channels; expected [" + std::to_string(C) + "]");
  if (t.dtype() != x.dtype())
    throw std::invalid_argument(std::string("batch_norm: ") + what + " is " + detail::describe(t) +
                                " but the input is " + detail::describe(x) + "; convert one with .to(dtype)");
  detail::check_same_device("batch_norm", x, t);
}

kernels::BnActivationParams to_kernel(const ActivationArgs& a) {
  switch (a.kind) {
    case Activation::Identity: return {kernels::BnActivation::Identity, 0.0};
    case Activation::ReLU: return {kernels::BnActivation::ReLU, 0.0};
    case Activation::LeakyReLU:
      if (!(a.negative_slope >= 0.0))
        throw std::invalid_argument("batch_norm: fused LeakyReLU needs negative_slope >= 0 (the backward recovers "
                                    "the activation mask from the output), got " +
                                    std::to_string(a.negative_slope) + "; apply leaky_relu separately");
      return {kernels::BnActivation::LeakyReLU, a.negative_slope};
  }
  throw std::invalid_argument("batch_norm: unknown activation");
}

bool wants(const Tensor& t) { return t.defined() && t.requires_grad(); }

// The ops form of the backward (kernels/batch_norm.h gives the maths). Per-channel tensors broadcast as
// [1, C, 1, ...]; the statistics are recomputed from x in training (so their dependence on x is differentiated) and
// are the saved constants in eval.
std::vector<Tensor> backward_by_ops(const Tensor& g, const Tensor& x, const Tensor& weight, const Tensor& bias,
                                    const Tensor& save_mean, const Tensor& save_inv_std, bool training, double eps,
                                    const kernels::BnActivationParams& act) {
  std::vector<int64_t> dims = {0};
  Shape channel_shape(static_cast<size_t>(x.dim()), 1);
  channel_shape[1] = x.shape()[1];
  for (int64_t d = 2; d < x.dim(); ++d) dims.push_back(d);
  const auto per_channel = [&](const Tensor& t) { return reshape(t, channel_shape); };
  Tensor xhat, inv_std;
  if (training) {
    const Tensor centered = sub(x, mean(x, dims, true));
    inv_std = pow(add(mean(mul(centered, centered), dims, true), eps), -0.5);
    xhat = mul(centered, inv_std);
  } else {
    inv_std = per_channel(save_inv_std);
    xhat = mul(sub(x, per_channel(save_mean)), inv_std);
  }
  Tensor gz = g;
  if (act.kind != kernels::BnActivation::Identity) {
    // The activation's derivative at z = w xhat + b, as relu's / leaky_relu's own backward op (it keeps the edge to z).
    Tensor z = weight.defined() ? mul(xhat, per_channel(weight)) : xhat;
    if (bias.defined()) z = add(z, per_channel(bias));
    gz = leaky_relu_backward(g, z, act.kind == kernels::BnActivation::ReLU ? 0.0 : act.slope);
  }
  Tensor gx, gw, gb;
  if (wants(bias)) gb = sum(gz, dims);
  if (wants(weight)) gw = sum(mul(gz, xhat), dims);
  if (wants(x)) {
    Tensor scaled = gz;
    if (training)  // through the batch statistics: gz - mean(gz) - xhat mean(gz xhat)
      scaled = sub(sub(gz, mean(gz, dims, true)), mul(xhat, mean(mul(gz, xhat), dims, true)));
    const Tensor w_inv_std = weight.defined() ? mul(per_channel(weight), inv_std) : inv_std;
    gx = mul(scaled, w_inv_std);
  }
  return {gx, gw, gb};
}

}  // namespace

Tensor batch_norm(const Tensor& x, const Tensor& running_mean, const Tensor& running_var, const Tensor& weight,
                  const Tensor& bias, bool training, double momentum, double eps, ActivationArgs activation) {
  const char* name = "batch_norm";
  detail::check_floating(name, x);
  if (x.dim() < 2)
    throw std::invalid_argument("batch_norm: expected an input of shape [N, C] or [N, C, H, W], got " +
                                detail::describe(x));
  const int64_t N = x.shape()[0], C = x.shape()[1];
  int64_t S = 1;
  for (int64_t d = 2; d < x.dim(); ++d) S *= x.shape()[d];
  check_channel_param(weight, "weight", x, C);
  check_channel_param(bias, "bias", x, C);
  check_channel_param(running_mean, "running_mean", x, C);
  check_channel_param(running_var, "running_var", x, C);
  if (running_mean.defined() != running_var.defined())
    throw std::invalid_argument(std::string("batch_norm: running_mean is ") +
                                (running_mean.defined() ? "defined" : "undefined") + " but running_var is " +
                                (running_var.defined() ? "defined" : "undefined") + "; pass both or neither");
  for (const Tensor* t : {&running_mean, &running_var})
    if (t->defined() && !t->is_contiguous())
      throw std::invalid_argument("batch_norm: running statistics must be contiguous (they are updated in place)");
  if (!training && !running_mean.defined())
    throw std::invalid_argument("batch_norm: eval mode (training=false) needs running_mean and running_var");
  if (training && N * S <= 1)
    throw std::invalid_argument("batch_norm: expected more than 1 value per channel when training, got input of "
                                "shape " + shape_str(x.shape()));
  if (!(eps >= 0.0)) throw std::invalid_argument("batch_norm: eps must be >= 0, got " + std::to_string(eps));
  const kernels::BnActivationParams act = to_kernel(activation);

  const Tensor xc = x.detach().contiguous();
  const Tensor wc = weight.defined() ? weight.detach().contiguous() : Tensor();
  const Tensor bc = bias.defined() ? bias.detach().contiguous() : Tensor();
  const kernels::BatchNormShape shape{N, C, S};
  Tensor y = empty(x.shape(), x.dtype(), x.device());
  Tensor save_mean = empty({C}, x.dtype(), x.device());
  Tensor save_inv_std = empty({C}, x.dtype(), x.device());
  const bool recording = needs_grad({x, weight, bias});
  // A recorded training forward hands out the statistics it normalized with, so that y can be computed again
  // in backward instead of being kept (engine/saved_activation.h: Recomputation).
  const bool recompute = recording && training && recomputes_saved_activations();
  const Tensor stats = recompute ? empty({C, 2}, DType::Float64, x.device()) : Tensor();
  GAN_DISPATCH_FLOATING(x.dtype(), name, [&] {
    const scalar_t* pw = wc.defined() ? wc.data<scalar_t>() : nullptr;
    const scalar_t* pb = bc.defined() ? bc.data<scalar_t>() : nullptr;
    if (training) {
      GAN_KERNEL(x.device(), name, batch_norm_forward_train<scalar_t>, xc.data<scalar_t>(), shape, pw, pb, eps, act,
                 y.data<scalar_t>(), save_mean.data<scalar_t>(), save_inv_std.data<scalar_t>(),
                 running_mean.defined() ? running_mean.data<scalar_t>() : nullptr,
                 running_var.defined() ? running_var.data<scalar_t>() : nullptr, momentum,
                 stats.defined() ? stats.data<double>() : nullptr);
    } else {
      GAN_KERNEL(x.device(), name, batch_norm_forward_eval<scalar_t>, xc.data<scalar_t>(), shape,
                 running_mean.data<scalar_t>(), running_var.data<scalar_t>(), pw, pb, eps, act, y.data<scalar_t>(),
                 save_mean.data<scalar_t>(), save_inv_std.data<scalar_t>());
    }
  });

  const bool want_x = wants(x), want_w = wants(weight), want_b = wants(bias);
  // The backward reads x, and y for its activation's sign. y is computed again from x and the statistics when
  // recompute; otherwise in the bf16 math mode y is kept as bf16 in place of the node's saved output. x is kept
  // (as bf16 in the bf16 mode when it is a conv output) (engine/saved_activation.h).
  const SavedActivation saved_x = recording ? SavedActivation(x, SavedUse::Values) : SavedActivation();
  // y again from x's values (contiguous, no history) and the statistics: the forward's arithmetic, the same bits.
  const auto apply_to = [stats, wc, bc, shape, act](const Tensor& xv) {
    Tensor out = empty(xv.shape(), xv.dtype(), xv.device());
    GAN_DISPATCH_FLOATING(xv.dtype(), "batch_norm (recomputed in backward)", [&] {
      GAN_KERNEL(xv.device(), "batch_norm_apply", batch_norm_apply<scalar_t>, xv.data<scalar_t>(), shape,
                 stats.data<double>(), wc.defined() ? wc.data<scalar_t>() : nullptr,
                 bc.defined() ? bc.data<scalar_t>() : nullptr, act, out.data<scalar_t>());
    });
    return out;
  };
  if (recompute)
    y.impl()->recompute = std::make_shared<const Recomputation>(
        Recomputation{[saved_x, apply_to] { return apply_to(saved_x.unpack().detach().contiguous()); }});
  // y is read for the activation's mask only: identity has none, and the kernel is then given x in its place.
  const bool identity = act.kind == kernels::BnActivation::Identity;
  SavedActivation saved_y;
  if (recording && !recompute && !identity && y.dtype() == DType::Float32 && packs_saved_activations()) {
    saved_y = SavedActivation(y, SavedUse::Sign);
    if (!saved_y.is_packed()) saved_y = {};  // the node saves y instead (a capture of y itself would be a cycle)
  }
  return record(
      name, {x, weight, bias}, y,
      [saved_x, saved_y, recompute, apply_to, weight, bias, wc, save_mean, save_inv_std, shape, training, eps, act,
       want_x, want_w, want_b, identity](const Tensor& g_in, const Tensor& out) {
        if (grad_enabled()) {  // create_graph: a gradient that is differentiated again
          if (training && identity)  // the fused kernel, recorded with its own backward (batch_norm_grads.h)
            return batch_norm_training_grads(g_in, saved_x.unpack(), weight, save_mean, save_inv_std, eps, shape,
                                             want_x, want_w, want_b);
          return backward_by_ops(g_in, saved_x.unpack(), weight, bias, save_mean, save_inv_std, training, eps, act);
        }
        const Tensor g = g_in.detach().contiguous();
        Tensor gx = want_x ? empty(g.shape(), g.dtype(), g.device()) : Tensor();
        Tensor gw = want_w ? empty({shape.C}, g.dtype(), g.device()) : Tensor();
        Tensor gb = want_b ? empty({shape.C}, g.dtype(), g.device()) : Tensor();
        if (saved_x.is_packed() && (saved_y.is_packed() || identity)) {  // the bf16 copies (no float32 copy)
          const Tensor xb = saved_x.packed(), yb = identity ? xb : saved_y.packed();
          GAN_KERNEL(g.device(), "batch_norm_backward", batch_norm_backward, g.data<float>(), xb.data<bfloat16>(),
                     yb.data<bfloat16>(), shape, save_mean.data<float>(), save_inv_std.data<float>(),
                     wc.defined() ? wc.data<float>() : nullptr, training, act,
                     gx.defined() ? gx.data<float>() : nullptr, gw.defined() ? gw.data<float>() : nullptr,
                     gb.defined() ? gb.data<float>() : nullptr);
          return std::vector<Tensor>{gx, gw, gb};
        }
        const Tensor xc = saved_x.unpack().detach().contiguous();
        const Tensor yc = identity            ? xc
                          : recompute         ? apply_to(xc)  // from the x just unpacked, not a second copy
                          : saved_y.defined() ? saved_y.unpack().detach().contiguous()
                                              : out.detach().contiguous();
        GAN_DISPATCH_FLOATING(xc.dtype(), "batch_norm_backward", [&] {
          GAN_KERNEL(xc.device(), "batch_norm_backward", batch_norm_backward<scalar_t>, g.data<scalar_t>(),
                     xc.data<scalar_t>(), yc.data<scalar_t>(), shape, save_mean.data<scalar_t>(),
                     save_inv_std.data<scalar_t>(), wc.defined() ? wc.data<scalar_t>() : nullptr, training, act,
                     gx.defined() ? gx.data<scalar_t>() : nullptr, gw.defined() ? gw.data<scalar_t>() : nullptr,
                     gb.defined() ? gb.data<scalar_t>() : nullptr);
        });
        return std::vector<Tensor>{gx, gw, gb};
      },
      {.save_output = !identity && !saved_y.defined() && !recompute});
}

}  // namespace gan::nn::functional
