// The convolution family as differentiable ops: conv2d, conv_transpose2d and conv2d_weight_grad, each running one
// kernel of kernels/conv.h (the CPU or the CUDA twin, by the tensors' device). Their backward rules are written
// with each other, so the family is closed under differentiation and any number of backward passes works (WGAN-GP's
// critic):
//
//   y = conv2d(x, w, b)              dx = conv_transpose2d(g, w)        dw = conv2d_weight_grad(x, g)   db = sum(g)
//   y = conv_transpose2d(x, w, b)    dx = conv2d(g, w)                  dw = conv2d_weight_grad(g, x)   db = sum(g)
//   y = conv2d_weight_grad(x, g)     dx = conv_transpose2d(g, gy)       dg = conv2d(x, gy)
//
// (sum over N, H, W; gy is the gradient w.r.t. the weight-gradient output.) With A_w the linear map x -> conv2d(x, w),
// conv_transpose2d(., w) is A_w^T, and conv2d_weight_grad(x, g) is d<g, A_w x>/dw; the rows above follow from
// <g, A_w x> = <A_w^T g, x> and from that form being bilinear in (x, g).
//
// When conv2d's input size does not hit the stride exactly ((H + 2p - kh) % s != 0), its gradient needs a
// transposed conv with output_padding that can differ between height and width; the internal op below takes both,
// the public conv_transpose2d one symmetric value, as in PyTorch's functional API.
#include <stdexcept>
#include <string>

#include "engine/nn/functional.h"
#include "engine/ops/op_helpers.h"
#include "kernels/conv.h"

namespace gan::nn::functional {

namespace {

// Stride, padding and per-axis output padding of one call.
struct ConvParams {
  int64_t stride = 1;
  int64_t pad = 0;
  int64_t out_pad_h = 0;
  int64_t out_pad_w = 0;
};

std::string params_str(const ConvParams& p) {
  std::string s = "stride " + std::to_string(p.stride) + ", padding " + std::to_string(p.pad);
  if (p.out_pad_h != 0 || p.out_pad_w != 0)
    s += p.out_pad_h == p.out_pad_w ? ", output_padding " + std::to_string(p.out_pad_h)
                                    : ", output_padding (" + std::to_string(p.out_pad_h) + ", " +
                                          std::to_string(p.out_pad_w) + ")";
  return s;
}

// "input [2, 3, 5, 5], weight [4, 3, 3, 3], bias [4] (stride 1, padding 0)": every shape of the call.
std::string call_str(const char* a_name, const Tensor& a, const char* b_name, const Tensor& b, const Tensor& bias,
                     const ConvParams& p) {
  std::string s = std::string(a_name) + " " + shape_str(a.shape()) + ", " + b_name + " " + shape_str(b.shape());
  if (bias.defined()) s += ", bias " + shape_str(bias.shape());
  return s + " (" + params_str(p) + ")";
}

[[noreturn]] void fail(const char* op, const std::string& what, const std::string& call) {
  throw std::invalid_argument(std::string(op) + ": " + what + "; got " + call);
}

bool wants(const Tensor& t) { return t.defined() && t.requires_grad(); }

// dtype, device, 4-D and parameter checks shared by the three ops.
void check_common(const char* op, const char* a_name, const Tensor& a, const char* b_name, const Tensor& b,
                  const Tensor& bias, const ConvParams& p) {
  detail::check_defined(op, a, a_name);
  detail::check_defined(op, b, b_name);
  detail::check_floating(op, a);
  detail::check_floating(op, b);
  detail::check_same_dtype(op, a, b);
  detail::check_same_device(op, a, b);
  const std::string call = call_str(a_name, a, b_name, b, bias, p);
  if (a.dim() != 4) fail(op, std::string(a_name) + " must be 4-D [N, C, H, W]", call);
  if (b.dim() != 4) fail(op, std::string(b_name) + " must be 4-D", call);
  if (p.stride < 1) fail(op, "stride must be >= 1", call);
  if (p.pad < 0) fail(op, "padding must be >= 0", call);
  if (p.out_pad_h < 0 || p.out_pad_w < 0) fail(op, "output_padding must be >= 0", call);
  if (bias.defined()) {
    detail::check_floating(op, bias);
    detail::check_same_dtype(op, a, bias);
    detail::check_same_device(op, a, bias);
  }
}

// The conv output size along one axis, or a clear error when the kernel does not fit.
int64_t conv_out_size(const char* op, const char* axis, int64_t in, int64_t k, const ConvParams& p,
                      const std::string& call) {
  if (k < 1) fail(op, std::string("kernel ") + axis + " must be >= 1", call);
  if (k > in + 2 * p.pad)
    fail(op, std::string("kernel ") + axis + " " + std::to_string(k) + " is larger than the padded input " + axis +
                 " " + std::to_string(in + 2 * p.pad),
         call);
  return (in + 2 * p.pad - k) / p.stride + 1;
}

kernels::Conv2dShape make_shape(int64_t N, int64_t Cin, int64_t H, int64_t W, int64_t Cout, int64_t kh, int64_t kw,
                                int64_t Ho, int64_t Wo, const ConvParams& p) {
  kernels::Conv2dShape s;
  s.N = N, s.Cin = Cin, s.H = H, s.W = W, s.Cout = Cout, s.kh = kh, s.kw = kw;
  s.stride = p.stride, s.pad = p.pad, s.Ho = Ho, s.Wo = Wo;
  return s;
}

// The output padding that makes a transposed conv from [Ho, Wo] land on [H, W] (the inverse of conv_out_size).
ConvParams transpose_params_for(int64_t H, int64_t W, int64_t kh, int64_t kw, const ConvParams& p) {
  ConvParams t{p.stride, p.pad, 0, 0};
  t.out_pad_h = (H + 2 * p.pad - kh) % p.stride;
  t.out_pad_w = (W + 2 * p.pad - kw) % p.stride;
  return t;
}

Tensor conv_transpose2d_impl(const Tensor& x, const Tensor& weight, const Tensor& bias, const ConvParams& p);
Tensor conv2d_weight_grad_impl(const Tensor& x, const Tensor& g, int64_t kh, int64_t kw, const ConvParams& p);

Tensor conv2d_impl(const Tensor& x, const Tensor& weight, const Tensor& bias, const ConvParams& p) {
  const char* op = "conv2d";
  check_common(op, "input", x, "weight", weight, bias, p);
  const std::string call = call_str("input", x, "weight", weight, bias, p);
  if (p.out_pad_h != 0 || p.out_pad_w != 0) fail(op, "output_padding applies to conv_transpose2d only", call);
  const int64_t N = x.size(0), Cin = x.size(1), H = x.size(2), W = x.size(3);
  const int64_t Cout = weight.size(0), kh = weight.size(2), kw = weight.size(3);
  if (weight.size(1) != Cin)
    fail(op,
         "input has " + std::to_string(Cin) + " channels but weight [Cout, Cin, kh, kw] expects " +
             std::to_string(weight.size(1)),
         call);
  if (bias.defined() && (bias.dim() != 1 || bias.size(0) != Cout))
    fail(op, "bias must be [" + std::to_string(Cout) + "] (one per output channel)", call);
  const int64_t Ho = conv_out_size(op, "height", H, kh, p, call);
  const int64_t Wo = conv_out_size(op, "width", W, kw, p, call);

  const Tensor xc = x.detach().contiguous(), wc = weight.detach().contiguous();
  const Tensor bc = bias.defined() ? bias.detach().contiguous() : Tensor();
  Tensor out = empty({N, Cout, Ho, Wo}, x.dtype(), x.device());
  const kernels::Conv2dShape s = make_shape(N, Cin, H, W, Cout, kh, kw, Ho, Wo, p);
  GAN_DISPATCH_FLOATING(x.dtype(), op, [&] {
    GAN_KERNEL(x.device(), op, conv2d_forward<scalar_t>, s, xc.data<scalar_t>(), wc.data<scalar_t>(),
               bc.defined() ? bc.data<scalar_t>() : nullptr, out.data<scalar_t>());
  });
  return record(op, {x, weight, bias}, out, [x, weight, bias, p, H, W, kh, kw](const Tensor& g, const Tensor&) {
    Tensor gx, gw, gb;
    if (wants(x)) gx = conv_transpose2d_impl(g, weight, Tensor(), transpose_params_for(H, W, kh, kw, p));
    if (wants(weight)) gw = conv2d_weight_grad_impl(x, g, kh, kw, p);
    if (wants(bias)) gb = sum(g, {0, 2, 3});
    return std::vector<Tensor>{gx, gw, gb};
  });
}

Tensor conv_transpose2d_impl(const Tensor& x, const Tensor& weight, const Tensor& bias, const ConvParams& p) {
  const char* op = "conv_transpose2d";
  check_common(op, "input", x, "weight", weight, bias, p);
  const std::string call = call_str("input", x, "weight", weight, bias, p);
  if (p.out_pad_h >= p.stride || p.out_pad_w >= p.stride)
    fail(op, "output_padding must be smaller than stride", call);
  const int64_t N = x.size(0), Cin = x.size(1), Hi = x.size(2), Wi = x.size(3);
  const int64_t Cout = weight.size(1), kh = weight.size(2), kw = weight.size(3);
  if (weight.size(0) != Cin)
    fail(op,
         "input has " + std::to_string(Cin) + " channels but weight [Cin, Cout, kh, kw] expects " +
             std::to_string(weight.size(0)),
         call);
  if (kh < 1 || kw < 1) fail(op, "kernel size must be >= 1", call);
  if (bias.defined() && (bias.dim() != 1 || bias.size(0) != Cout))
    fail(op, "bias must be [" + std::to_string(Cout) + "] (one per output channel)", call);
  const int64_t Ho = (Hi - 1) * p.stride - 2 * p.pad + kh + p.out_pad_h;
  const int64_t Wo = (Wi - 1) * p.stride - 2 * p.pad + kw + p.out_pad_w;
  if (Hi < 1 || Wi < 1 || Ho < 1 || Wo < 1)
    fail(op,
         "output size " + std::to_string(Ho) + "x" + std::to_string(Wo) +
             " is not positive (Ho = (H - 1) stride - 2 padding + kh + output_padding)",
         call);

  const Tensor xc = x.detach().contiguous(), wc = weight.detach().contiguous();
  const Tensor bc = bias.defined() ? bias.detach().contiguous() : Tensor();
  Tensor out = empty({N, Cout, Ho, Wo}, x.dtype(), x.device());
  // The adjoint of a conv from `out` ([N, Cout, Ho, Wo]) to `x` ([N, Cin, Hi, Wi]) with weight [Cin, Cout, kh, kw].
  const kernels::Conv2dShape s = make_shape(N, Cout, Ho, Wo, Cin, kh, kw, Hi, Wi, p);
  GAN_DISPATCH_FLOATING(x.dtype(), op, [&] {
    GAN_KERNEL(x.device(), op, conv2d_backward_data<scalar_t>, s, xc.data<scalar_t>(), wc.data<scalar_t>(),
               bc.defined() ? bc.data<scalar_t>() : nullptr, out.data<scalar_t>());
  });
  return record(op, {x, weight, bias}, out, [x, weight, bias, p, kh, kw](const Tensor& g, const Tensor&) {
    const ConvParams cp{p.stride, p.pad, 0, 0};
    Tensor gx, gw, gb;
    if (wants(x)) gx = conv2d_impl(g, weight, Tensor(), cp);
    if (wants(weight)) gw = conv2d_weight_grad_impl(g, x, kh, kw, cp);
    if (wants(bias)) gb = sum(g, {0, 2, 3});
    return std::vector<Tensor>{gx, gw, gb};
  });
}

Tensor conv2d_weight_grad_impl(const Tensor& x, const Tensor& g, int64_t kh, int64_t kw, const ConvParams& p) {
  const char* op = "conv2d_weight_grad";
  check_common(op, "input", x, "grad_out", g, Tensor(), p);
  const std::string call =
      call_str("input", x, "grad_out", g, Tensor(), p) + ", kernel " + std::to_string(kh) + "x" + std::to_string(kw);
  const int64_t N = x.size(0), Cin = x.size(1), H = x.size(2), W = x.size(3);
  const int64_t Cout = g.size(1);
  if (g.size(0) != N) fail(op, "input and grad_out have different batch sizes", call);
  const int64_t Ho = conv_out_size(op, "height", H, kh, p, call);
  const int64_t Wo = conv_out_size(op, "width", W, kw, p, call);
  if (g.size(2) != Ho || g.size(3) != Wo)
    fail(op, "grad_out must be " + std::to_string(Ho) + "x" + std::to_string(Wo) + " (the conv output size)", call);

  const Tensor xc = x.detach().contiguous(), gc = g.detach().contiguous();
  Tensor out = empty({Cout, Cin, kh, kw}, x.dtype(), x.device());
  const kernels::Conv2dShape s = make_shape(N, Cin, H, W, Cout, kh, kw, Ho, Wo, p);
  GAN_DISPATCH_FLOATING(x.dtype(), op, [&] {
    GAN_KERNEL(x.device(), op, conv2d_backward_weight<scalar_t>, s, xc.data<scalar_t>(), gc.data<scalar_t>(),
               out.data<scalar_t>());
  });
  return record(op, {x, g}, out, [x, g, p, H, W, kh, kw](const Tensor& gg, const Tensor&) {
    // <gg, dW(x, g)> = <conv2d(x, gg), g>: differentiate that bilinear form in x and in g.
    Tensor gx, gg_out;
    if (wants(x)) gx = conv_transpose2d_impl(g, gg, Tensor(), transpose_params_for(H, W, kh, kw, p));
    if (wants(g)) gg_out = conv2d_impl(x, gg, Tensor(), p);
    return std::vector<Tensor>{gx, gg_out};
  });
}

}  // namespace

Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias, Conv2dArgs args) {
  return conv2d_impl(x, weight, bias, {args.stride, args.padding, args.output_padding, args.output_padding});
}

Tensor conv_transpose2d(const Tensor& x, const Tensor& weight, const Tensor& bias, Conv2dArgs args) {
  return conv_transpose2d_impl(x, weight, bias, {args.stride, args.padding, args.output_padding, args.output_padding});
}

Tensor conv2d_weight_grad(const Tensor& x, const Tensor& grad_out, int64_t kh, int64_t kw, Conv2dArgs args) {
  // output_padding plays no part: the shapes of x and grad_out fix everything (so the args of a transposed conv
  // can be passed unchanged when computing its weight gradient as conv2d_weight_grad(grad, input)).
  return conv2d_weight_grad_impl(x, grad_out, kh, kw, {args.stride, args.padding, 0, 0});
}

}  // namespace gan::nn::functional
