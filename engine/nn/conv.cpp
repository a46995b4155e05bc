// The convolution family as differentiable ops: conv2d, conv_transpose2d and conv2d_weight_grad, each running one
// kernel of kernels/conv.h (the CPU or the CUDA twin, by the tensors' device). Their backward rules are written
// with each other, so the family is closed under differentiation and any number of backward passes works (WGAN-GP's
// critic):
//
//   y = conv2d(x, w, b)              dx = conv_transpose2d(g, w)        dw = conv2d_weight_grad(x, g)   db = sum(g)
//   y = conv_transpose2d(x, w, b)    dx = conv2d(g, w)                  dw = conv2d_weight_grad(g, x)   db = sum(g)
//   y = conv2d_weight_grad(x, g)     dx = conv_transpose2d(g, gy)       dg = conv2d(x, gy)
//
// (sum over N, H, W; gy is the gradient w.r.t. the weight-gradient output; every call with the same stride,
// padding, dilation and groups.) With A_w the linear map x -> conv2d(x, w), conv_transpose2d(., w) is A_w^T, and
// conv2d_weight_grad(x, g) is d<g, A_w x>/dw; the rows above follow from <g, A_w x> = <A_w^T g, x> and from that
// form being bilinear in (x, g). Groups and dilation change none of this: each group is its own such pair.
//
// Sizes: a conv from H to Ho has a transposed conv from Ho back to H, whose output padding (per axis)
// H - ((Ho - 1) s - 2p + d (k - 1) + 1) is what the stride's rounding lost; the internal ops below take it per axis.
// The other way round, a transposed conv with output_padding >= stride (allowed while it is below the dilation)
// maps Hi to a size H whose conv output would be larger than Hi: its input gradient is that conv cut at Hi, so the
// internal conv2d takes an explicit output size no larger than the formula's.
#include <algorithm>
#include <stdexcept>
#include <string>

#include "engine/nn/functional.h"
#include "engine/ops/op_helpers.h"
#include "engine/saved_activation.h"
#include "kernels/conv.h"

namespace gan::nn::functional {

std::string to_string(const Size2& s) {
  if (s.h == s.w) return std::to_string(s.h);
  std::string out = "(";  // appended piece by piece: GCC 12 warns (-Wrestrict, falsely) on "(" + std::string
  out += std::to_string(s.h);
  out += ", ";
  out += std::to_string(s.w);
  out += ")";
  return out;
}

namespace {

// One call's parameters, per axis. out_pad is the transposed conv's output padding; out_h/out_w an explicit conv
// output size (-1: the formula's).
struct ConvParams {
  Size2 stride = 1, pad = 0, dil = 1, out_pad = 0;
  int64_t groups = 1;
  int64_t out_h = -1, out_w = -1;
};

ConvParams params_of(const Conv2dArgs& a) { return {a.stride, a.padding, a.dilation, a.output_padding, a.groups}; }

std::string params_str(const ConvParams& p) {
  std::string s = "stride " + to_string(p.stride) + ", padding " + to_string(p.pad);
  if (!(p.dil == Size2(1))) s += ", dilation " + to_string(p.dil);
  if (p.groups != 1) s += ", groups " + std::to_string(p.groups);
  if (!(p.out_pad == Size2(0))) s += ", output_padding " + to_string(p.out_pad);
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

// Which inputs of a conv (input, weight, bias) get a gradient, fixed when the op is recorded.
struct Wanted {
  bool x, weight, bias;
  Wanted(const Tensor& x_, const Tensor& w_, const Tensor& b_) : x(wants(x_)), weight(wants(w_)), bias(wants(b_)) {}
};

// The conv's input as its backward needs it: only the weight gradient reads it, as an operand the bf16 math mode
// rounds to bf16 anyway, so nothing is kept when the weight wants no gradient (or nothing is recorded), and it is
// kept as bf16 in that mode.
SavedActivation saved_input(const Wanted& want, const Tensor& x, const Tensor& weight) {
  return want.weight ? save_for_backward({x, weight}, x, SavedUse::Bf16Operand) : SavedActivation();
}

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
  if (p.stride.h < 1 || p.stride.w < 1) fail(op, "stride must be >= 1", call);
  if (p.pad.h < 0 || p.pad.w < 0) fail(op, "padding must be >= 0", call);
  if (p.dil.h < 1 || p.dil.w < 1) fail(op, "dilation must be >= 1", call);
  if (p.out_pad.h < 0 || p.out_pad.w < 0) fail(op, "output_padding must be >= 0", call);
  if (p.groups < 1) fail(op, "groups must be >= 1", call);
  if (bias.defined()) {
    detail::check_floating(op, bias);
    detail::check_same_dtype(op, a, bias);
    detail::check_same_device(op, a, bias);
  }
}

// channels % groups == 0, with an error naming which channels.
void check_divisible(const char* op, const char* what, int64_t channels, const ConvParams& p,
                     const std::string& call) {
  if (channels % p.groups != 0)
    fail(op, std::string(what) + " (" + std::to_string(channels) + ") must be divisible by groups (" +
                 std::to_string(p.groups) + ")",
         call);
}

// The conv output size along one axis, or a clear error when the (dilated) kernel does not fit.
int64_t conv_out_size(const char* op, const char* axis, int64_t in, int64_t k, int64_t s, int64_t pad, int64_t dil,
                      const std::string& call) {
  if (k < 1) fail(op, std::string("kernel ") + axis + " must be >= 1", call);
  const int64_t span = dil * (k - 1) + 1;
  if (span > in + 2 * pad)
    fail(op, std::string("kernel ") + axis + " " + std::to_string(k) +
                 (dil > 1 ? " (dilated: " + std::to_string(span) + ")" : std::string()) +
                 " is larger than the padded input " + axis + " " + std::to_string(in + 2 * pad),
         call);
  return kernels::conv_out_size(in, k, s, pad, dil);
}

// The transposed conv's output padding that makes Ho land on H: H - ((Ho - 1) s - 2p + d (k - 1) + 1).
int64_t implied_out_pad(int64_t H, int64_t Ho, int64_t k, int64_t s, int64_t pad, int64_t dil) {
  return H - ((Ho - 1) * s - 2 * pad + dil * (k - 1) + 1);
}

// A conv output size given explicitly (the input gradient of a transposed conv): no larger than the formula's and
// no smaller than the largest output padding a transposed conv may have allows.
void check_out_size(const char* op, const char* axis, int64_t given, int64_t formula, int64_t in, int64_t k,
                    int64_t s, int64_t pad, int64_t dil, const std::string& call) {
  const int64_t op_pad = implied_out_pad(in, given, k, s, pad, dil);
  if (given < 1 || given > formula || op_pad >= std::max(s, dil))
    fail(op, std::string("output ") + axis + " " + std::to_string(given) + " does not fit input " + axis + " " +
                 std::to_string(in) + " (expected " + std::to_string(formula) + ")",
         call);
}

kernels::Conv2dShape make_shape(int64_t N, int64_t Cin, int64_t H, int64_t W, int64_t Cout, int64_t kh, int64_t kw,
                                int64_t Ho, int64_t Wo, const ConvParams& p) {
  kernels::Conv2dShape s;
  s.N = N, s.Cin = Cin, s.H = H, s.W = W, s.Cout = Cout, s.kh = kh, s.kw = kw;
  s.stride_h = p.stride.h, s.stride_w = p.stride.w, s.pad_h = p.pad.h, s.pad_w = p.pad.w;
  s.dil_h = p.dil.h, s.dil_w = p.dil.w, s.groups = p.groups, s.Ho = Ho, s.Wo = Wo;
  return s;
}

// p for a transposed conv from [Ho, Wo] back to [H, W] (the inverse of a conv from [H, W] to [Ho, Wo]).
ConvParams transpose_params_for(int64_t H, int64_t W, int64_t Ho, int64_t Wo, int64_t kh, int64_t kw,
                                const ConvParams& p) {
  ConvParams t = p;
  t.out_h = t.out_w = -1;
  t.out_pad = {implied_out_pad(H, Ho, kh, p.stride.h, p.pad.h, p.dil.h),
               implied_out_pad(W, Wo, kw, p.stride.w, p.pad.w, p.dil.w)};
  return t;
}

// p for a conv with an explicit output size (and no output padding).
ConvParams conv_params_to(int64_t Ho, int64_t Wo, const ConvParams& p) {
  ConvParams c = p;
  c.out_pad = 0;
  c.out_h = Ho, c.out_w = Wo;
  return c;
}

Tensor conv_transpose2d_impl(const Tensor& x, const Tensor& weight, const Tensor& bias, const ConvParams& p);
Tensor conv2d_weight_grad_impl(const Tensor& x, const Tensor& g, int64_t kh, int64_t kw, const ConvParams& p);

Tensor conv2d_impl(const Tensor& x, const Tensor& weight, const Tensor& bias, const ConvParams& p) {
  const char* op = "conv2d";
  check_common(op, "input", x, "weight", weight, bias, p);
  const std::string call = call_str("input", x, "weight", weight, bias, p);
  if (!(p.out_pad == Size2(0))) fail(op, "output_padding applies to conv_transpose2d only", call);
  const int64_t N = x.size(0), Cin = x.size(1), H = x.size(2), W = x.size(3);
  const int64_t Cout = weight.size(0), kh = weight.size(2), kw = weight.size(3);
  check_divisible(op, "input channels", Cin, p, call);
  check_divisible(op, "output channels (weight.size(0))", Cout, p, call);
  if (weight.size(1) != Cin / p.groups)
    fail(op,
         "input has " + std::to_string(Cin) + " channels, so weight [Cout, Cin / groups, kh, kw] needs " +
             std::to_string(Cin / p.groups) + " in dim 1, not " + std::to_string(weight.size(1)),
         call);
  if (bias.defined() && (bias.dim() != 1 || bias.size(0) != Cout))
    fail(op, "bias must be [" + std::to_string(Cout) + "] (one per output channel)", call);
  int64_t Ho = conv_out_size(op, "height", H, kh, p.stride.h, p.pad.h, p.dil.h, call);
  int64_t Wo = conv_out_size(op, "width", W, kw, p.stride.w, p.pad.w, p.dil.w, call);
  if (p.out_h >= 0) {
    check_out_size(op, "height", p.out_h, Ho, H, kh, p.stride.h, p.pad.h, p.dil.h, call);
    check_out_size(op, "width", p.out_w, Wo, W, kw, p.stride.w, p.pad.w, p.dil.w, call);
    Ho = p.out_h, Wo = p.out_w;
  }

  const Tensor xc = x.detach().contiguous(), wc = weight.detach().contiguous();
  const Tensor bc = bias.defined() ? bias.detach().contiguous() : Tensor();
  Tensor out = empty({N, Cout, Ho, Wo}, x.dtype(), x.device());
  const kernels::Conv2dShape s = make_shape(N, Cin, H, W, Cout, kh, kw, Ho, Wo, p);
  GAN_DISPATCH_FLOATING(x.dtype(), op, [&] {
    GAN_KERNEL(x.device(), op, conv2d_forward<scalar_t>, s, xc.data<scalar_t>(), wc.data<scalar_t>(),
               bc.defined() ? bc.data<scalar_t>() : nullptr, out.data<scalar_t>());
  });
  mark_bf16_values(out);  // rounded to bf16 in the bf16 math mode (kernels/conv.h)
  const Wanted want(x, weight, bias);
  const SavedActivation saved_x = saved_input(want, x, weight);
  return record(op, {x, weight, bias}, out,
                [saved_x, weight, want, p, H, W, Ho, Wo, kh, kw](const Tensor& g, const Tensor&) {
                  Tensor gx, gw, gb;
                  if (want.x)
                    gx = conv_transpose2d_impl(g, weight, Tensor(), transpose_params_for(H, W, Ho, Wo, kh, kw, p));
                  if (want.weight) gw = conv2d_weight_grad_impl(saved_x.unpack(), g, kh, kw, p);
                  if (want.bias) gb = sum(g, {0, 2, 3});
                  return std::vector<Tensor>{gx, gw, gb};
                });
}

Tensor conv_transpose2d_impl(const Tensor& x, const Tensor& weight, const Tensor& bias, const ConvParams& p) {
  const char* op = "conv_transpose2d";
  check_common(op, "input", x, "weight", weight, bias, p);
  const std::string call = call_str("input", x, "weight", weight, bias, p);
  if (p.out_pad.h >= std::max(p.stride.h, p.dil.h) || p.out_pad.w >= std::max(p.stride.w, p.dil.w))
    fail(op, "output_padding must be smaller than either stride or dilation", call);
  const int64_t N = x.size(0), Cin = x.size(1), Hi = x.size(2), Wi = x.size(3);
  const int64_t kh = weight.size(2), kw = weight.size(3);
  check_divisible(op, "input channels", Cin, p, call);
  if (weight.size(0) != Cin)
    fail(op,
         "input has " + std::to_string(Cin) + " channels but weight [Cin, Cout / groups, kh, kw] expects " +
             std::to_string(weight.size(0)),
         call);
  const int64_t Cout = weight.size(1) * p.groups;
  if (kh < 1 || kw < 1) fail(op, "kernel size must be >= 1", call);
  if (bias.defined() && (bias.dim() != 1 || bias.size(0) != Cout))
    fail(op, "bias must be [" + std::to_string(Cout) + "] (one per output channel)", call);
  const int64_t Ho = (Hi - 1) * p.stride.h - 2 * p.pad.h + p.dil.h * (kh - 1) + p.out_pad.h + 1;
  const int64_t Wo = (Wi - 1) * p.stride.w - 2 * p.pad.w + p.dil.w * (kw - 1) + p.out_pad.w + 1;
  if (Hi < 1 || Wi < 1 || Ho < 1 || Wo < 1)
    fail(op,
         "output size " + std::to_string(Ho) + "x" + std::to_string(Wo) +
             " is not positive (Ho = (H - 1) stride - 2 padding + dilation (kh - 1) + output_padding + 1)",
         call);

  const Tensor xc = x.detach().contiguous(), wc = weight.detach().contiguous();
  const Tensor bc = bias.defined() ? bias.detach().contiguous() : Tensor();
  Tensor out = empty({N, Cout, Ho, Wo}, x.dtype(), x.device());
  // The adjoint of a conv from `out` ([N, Cout, Ho, Wo]) to `x` ([N, Cin, Hi, Wi]) with weight
  // [Cin, Cout / groups, kh, kw].
  const kernels::Conv2dShape s = make_shape(N, Cout, Ho, Wo, Cin, kh, kw, Hi, Wi, p);
  GAN_DISPATCH_FLOATING(x.dtype(), op, [&] {
    GAN_KERNEL(x.device(), op, conv2d_backward_data<scalar_t>, s, xc.data<scalar_t>(), wc.data<scalar_t>(),
               bc.defined() ? bc.data<scalar_t>() : nullptr, out.data<scalar_t>());
  });
  mark_bf16_values(out);  // rounded to bf16 in the bf16 math mode (kernels/conv.h)
  const Wanted want(x, weight, bias);
  const SavedActivation saved_x = saved_input(want, x, weight);
  return record(op, {x, weight, bias}, out, [saved_x, weight, want, p, Hi, Wi, kh, kw](const Tensor& g, const Tensor&) {
    const ConvParams cp = conv_params_to(Hi, Wi, p);
    Tensor gx, gw, gb;
    if (want.x) gx = conv2d_impl(g, weight, Tensor(), cp);
    if (want.weight) gw = conv2d_weight_grad_impl(g, saved_x.unpack(), kh, kw, cp);
    if (want.bias) gb = sum(g, {0, 2, 3});
    return std::vector<Tensor>{gx, gw, gb};
  });
}

Tensor conv2d_weight_grad_impl(const Tensor& x, const Tensor& g, int64_t kh, int64_t kw, const ConvParams& p) {
  const char* op = "conv2d_weight_grad";
  check_common(op, "input", x, "grad_out", g, Tensor(), p);
  const std::string call =
      call_str("input", x, "grad_out", g, Tensor(), p) + ", kernel " + std::to_string(kh) + "x" + std::to_string(kw);
  const int64_t N = x.size(0), Cin = x.size(1), H = x.size(2), W = x.size(3);
  const int64_t Cout = g.size(1), Ho = g.size(2), Wo = g.size(3);
  if (g.size(0) != N) fail(op, "input and grad_out have different batch sizes", call);
  check_divisible(op, "input channels", Cin, p, call);
  check_divisible(op, "grad_out channels", Cout, p, call);
  const int64_t Ho_formula = conv_out_size(op, "height", H, kh, p.stride.h, p.pad.h, p.dil.h, call);
  const int64_t Wo_formula = conv_out_size(op, "width", W, kw, p.stride.w, p.pad.w, p.dil.w, call);
  check_out_size(op, "height", Ho, Ho_formula, H, kh, p.stride.h, p.pad.h, p.dil.h, call);
  check_out_size(op, "width", Wo, Wo_formula, W, kw, p.stride.w, p.pad.w, p.dil.w, call);

  const Tensor xc = x.detach().contiguous(), gc = g.detach().contiguous();
  Tensor out = empty({Cout, Cin / p.groups, kh, kw}, x.dtype(), x.device());
  const kernels::Conv2dShape s = make_shape(N, Cin, H, W, Cout, kh, kw, Ho, Wo, p);
  GAN_DISPATCH_FLOATING(x.dtype(), op, [&] {
    GAN_KERNEL(x.device(), op, conv2d_backward_weight<scalar_t>, s, xc.data<scalar_t>(), gc.data<scalar_t>(),
               out.data<scalar_t>());
  });
  mark_bf16_values(out);  // rounded to bf16 in the bf16 math mode (kernels/conv.h)
  return record(op, {x, g}, out, [x, g, p, H, W, Ho, Wo, kh, kw](const Tensor& gg, const Tensor&) {
    // <gg, dW(x, g)> = <conv2d(x, gg), g>: differentiate that bilinear form in x and in g.
    Tensor gx, gg_out;
    if (wants(x)) gx = conv_transpose2d_impl(g, gg, Tensor(), transpose_params_for(H, W, Ho, Wo, kh, kw, p));
    if (wants(g)) gg_out = conv2d_impl(x, gg, Tensor(), conv_params_to(Ho, Wo, p));
    return std::vector<Tensor>{gx, gg_out};
  });
}

}  // namespace

Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias, Conv2dArgs args) {
  return conv2d_impl(x, weight, bias, params_of(args));
}

Tensor conv_transpose2d(const Tensor& x, const Tensor& weight, const Tensor& bias, Conv2dArgs args) {
  return conv_transpose2d_impl(x, weight, bias, params_of(args));
}

Tensor conv2d_weight_grad(const Tensor& x, const Tensor& grad_out, int64_t kh, int64_t kw, Conv2dArgs args) {
  // output_padding plays no part: the shapes of x and grad_out fix everything (so the args of a transposed conv
  // can be passed unchanged when computing its weight gradient as conv2d_weight_grad(grad, input)).
  ConvParams p = params_of(args);
  p.out_pad = 0;
  return conv2d_weight_grad_impl(x, grad_out, kh, kw, p);
}

}  // namespace gan::nn::functional
