// See batch_norm_grads.h. The maths, per channel over its M values, with xhat = (x - mean) s, s = 1/sqrt(var + eps):
//   dx  = w s (gz - a - xhat b),  a = mean(gz), b = mean(gz xhat)
//   dw  = sum(gz xhat) = M b,     db = sum(gz)
// Second derivatives, for upstream gradients Gx (of dx), Gw (of dw), Gb (of db); means over the channel's values:
//   from Gx:  d gz = w s (Gx - mean(Gx) - xhat mean(Gx xhat))
//             d x  = -w s^2 [xhat (mean(Gx gz) - a mean(Gx) - b mean(Gx xhat)) + mean(Gx xhat) (gz - a - xhat b)
//                            + b (Gx - mean(Gx) - xhat mean(Gx xhat))]
//             d w  = s sum(Gx (gz - a - xhat b))
//   from Gw:  d gz = Gw xhat,  d x = Gw s (gz - a - xhat b)
//   from Gb:  d gz = Gb
// (using d xhat_i / d x_j = s (delta_ij - 1/M) - s xhat_i xhat_j / M and d s / d x_j = -s^2 xhat_j / M). The
// statistics are recomputed from x by ops there, so third derivatives follow by differentiating those ops.
// gradcheck's gradgradcheck of batch_norm and layer_norm checks all of it (tests/gradcheck/op_table_nn.cpp).
#include "engine/nn/batch_norm_grads.h"

#include "engine/autograd.h"
#include "engine/ops.h"
#include "engine/ops/dispatch.h"

namespace gan::nn::functional {

namespace {

// The channel's statistics and normalized values, from x by ops (differentiable), and the per-channel reductions.
struct Normalized {
  std::vector<int64_t> dims;  // every dim but the channels'
  Shape channel_shape;        // [1, C, 1, ...]
  Tensor xhat, s;

  explicit Normalized(const Tensor& x, double eps) : channel_shape(static_cast<size_t>(x.dim()), 1) {
    dims.push_back(0);
    for (int64_t d = 2; d < x.dim(); ++d) dims.push_back(d);
    channel_shape[1] = x.shape()[1];
    const Tensor centered = sub(x, mean(x, dims, true));
    s = pow(add(mean(mul(centered, centered), dims, true), eps), -0.5);
    xhat = mul(centered, s);
  }
  Tensor mean_of(const Tensor& t) const { return mean(t, dims, true); }
  Tensor per_channel(const Tensor& t) const { return reshape(t, channel_shape); }
};

// gz - a - xhat b: the gradient through the batch statistics, before the factor w s.
Tensor centered_grad(const Normalized& n, const Tensor& gz, const Tensor& a, const Tensor& b) {
  return sub(sub(gz, a), mul(n.xhat, b));
}

std::vector<Tensor> dx_second(const Tensor& G, const Tensor& gz, const Tensor& x, const Tensor& weight, double eps,
                              bool want_gz, bool want_x, bool want_w) {
  const Normalized n(x, eps);
  const Tensor a = n.mean_of(gz), b = n.mean_of(mul(gz, n.xhat));
  const Tensor mG = n.mean_of(G), mGx = n.mean_of(mul(G, n.xhat));
  const Tensor w = weight.defined() ? n.per_channel(weight) : Tensor();
  const auto times_w = [&](const Tensor& t) { return w.defined() ? mul(t, w) : t; };
  const Tensor G_through = centered_grad(n, G, mG, mGx);  // G - mean(G) - xhat mean(G xhat)
  Tensor d_gz, d_x, d_w;
  if (want_gz) d_gz = times_w(mul(G_through, n.s));
  if (want_x || want_w) {
    const Tensor gz_through = centered_grad(n, gz, a, b);
    if (want_x) {
      const Tensor mGgz = n.mean_of(mul(G, gz));
      const Tensor first = mul(n.xhat, sub(sub(mGgz, mul(a, mG)), mul(b, mGx)));
      const Tensor bracket = add(add(first, mul(mGx, gz_through)), mul(b, G_through));
      d_x = times_w(neg(mul(bracket, mul(n.s, n.s))));
    }
    if (want_w) d_w = sum(mul(n.s, mul(G, gz_through)), n.dims);
  }
  return {d_gz, d_x, d_w};
}

std::vector<Tensor> dw_second(const Tensor& G, const Tensor& gz, const Tensor& x, double eps, bool want_gz,
                              bool want_x) {
  const Normalized n(x, eps);
  const Tensor Gc = n.per_channel(G);
  Tensor d_gz, d_x;
  if (want_gz) d_gz = mul(n.xhat, Gc);
  if (want_x) {
    const Tensor a = n.mean_of(gz), b = n.mean_of(mul(gz, n.xhat));
    d_x = mul(mul(centered_grad(n, gz, a, b), n.s), Gc);
  }
  return {d_gz, d_x};
}

bool wants(const Tensor& t) { return t.defined() && t.requires_grad(); }

}  // namespace

std::vector<Tensor> batch_norm_training_grads(const Tensor& gz, const Tensor& x, const Tensor& weight,
                                              const Tensor& save_mean, const Tensor& save_inv_std, double eps,
                                              const kernels::BatchNormShape& shape, bool want_x, bool want_weight,
                                              bool want_bias) {
  const Tensor gc = gz.detach().contiguous(), xc = x.detach().contiguous();
  const Tensor wc = weight.defined() ? weight.detach().contiguous() : Tensor();
  Tensor gx = want_x ? empty(gc.shape(), gc.dtype(), gc.device()) : Tensor();
  Tensor gw = want_weight ? empty({shape.C}, gc.dtype(), gc.device()) : Tensor();
  Tensor gb = want_bias ? empty({shape.C}, gc.dtype(), gc.device()) : Tensor();
  GAN_DISPATCH_FLOATING(xc.dtype(), "batch_norm_backward", [&] {
    // No activation here, so the kernel's y (read for the activation's mask only) may be x.
    GAN_KERNEL(xc.device(), "batch_norm_backward", batch_norm_backward<scalar_t>, gc.data<scalar_t>(),
               xc.data<scalar_t>(), xc.data<scalar_t>(), shape, save_mean.data<scalar_t>(),
               save_inv_std.data<scalar_t>(), wc.defined() ? wc.data<scalar_t>() : nullptr, /*training=*/true,
               kernels::BnActivationParams{}, gx.defined() ? gx.data<scalar_t>() : nullptr,
               gw.defined() ? gw.data<scalar_t>() : nullptr, gb.defined() ? gb.data<scalar_t>() : nullptr);
  });
  const bool wx = wants(x), wg = wants(gz), ww = wants(weight);
  if (gx.defined())
    gx = record("batch_norm_backward_input", {gz, x, weight}, gx,
                [gz, x, weight, eps, wg, wx, ww](const Tensor& G, const Tensor&) {
                  return dx_second(G, gz, x, weight, eps, wg, wx, ww);
                });
  if (gw.defined())
    gw = record("batch_norm_backward_weight", {gz, x}, gw, [gz, x, eps, wg, wx](const Tensor& G, const Tensor&) {
      return dw_second(G, gz, x, eps, wg, wx);
    });
  if (gb.defined()) {
    const Shape gz_shape = gz.shape();
    gb = record("batch_norm_backward_bias", {gz}, gb, [gz_shape](const Tensor& G, const Tensor&) {
      Shape channel_shape(gz_shape.size(), 1);
      channel_shape[1] = gz_shape[1];
      return std::vector<Tensor>{add(zeros(gz_shape, G.dtype(), G.device()), reshape(G, channel_shape))};
    });
  }
  return {gx, gw, gb};
}

}  // namespace gan::nn::functional
