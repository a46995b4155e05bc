// Op-table entries for the convolution family (engine/nn/conv.cpp): gradcheck, gradgradcheck and the accumulation
// check for conv2d, conv_transpose2d and conv2d_weight_grad. Tensors stay tiny so the double-backward checks are
// fast; the cases cover stride 1 and 2, padding 0/1/2, odd and non-square inputs and kernels, bias or none, batch 1
// and 2, output_padding, and dilation, groups (depthwise too) and per-axis stride, padding and output padding.
#include "engine/nn/functional.h"
#include "op_table.h"

namespace gan::testing {
namespace {

namespace F = gan::nn::functional;
using Inputs = std::vector<Tensor>;

// Uniform inputs of the given shapes.
std::function<Inputs(Generator&)> shapes(std::vector<Shape> list) {
  return [list](Generator& g) {
    Inputs in;
    for (const Shape& s : list) in.push_back(uniform_input(g, s));
    return in;
  };
}

// The bias when the case lists one (x, w, bias), else none (x, w).
Tensor bias_of(const Inputs& x) { return x.size() > 2 ? x[2] : Tensor(); }

F::Conv2dArgs args(int64_t stride, int64_t padding, int64_t output_padding = 0) {
  F::Conv2dArgs a;
  a.stride = stride;
  a.padding = padding;
  a.output_padding = output_padding;
  return a;
}

static const OpCaseRegistrar conv_cases([](std::vector<OpCase>& t) {
  auto conv = [](F::Conv2dArgs a) {
    return [a](const Inputs& x) { return F::conv2d(x[0], x[1], bias_of(x), a); };
  };
  auto convt = [](F::Conv2dArgs a) {
    return [a](const Inputs& x) { return F::conv_transpose2d(x[0], x[1], bias_of(x), a); };
  };
  auto wgrad = [](int64_t kh, int64_t kw, F::Conv2dArgs a) {
    return [kh, kw, a](const Inputs& x) { return F::conv2d_weight_grad(x[0], x[1], kh, kw, a); };
  };

  // ---- conv2d: x [N, Cin, H, W], w [Cout, Cin, kh, kw], bias [Cout] ----
  t.push_back({"conv2d/s1_p0_bias", shapes({{1, 2, 4, 4}, {3, 2, 3, 3}, {3}}), conv(args(1, 0))});
  t.push_back({"conv2d/s1_p1_nobias_batch2", shapes({{2, 2, 4, 3}, {2, 2, 3, 3}}), conv(args(1, 1))});
  t.push_back({"conv2d/s2_p1_odd_5x7", shapes({{1, 2, 5, 7}, {2, 2, 3, 3}, {2}}), conv(args(2, 1))});
  // kh != kw and (H + 2p - k) % s differs between height and width: the input gradient needs a transposed conv
  // with a different output padding per axis.
  t.push_back({"conv2d/s2_p1_nonsquare_kernel", shapes({{2, 1, 5, 7}, {2, 1, 3, 4}, {2}}), conv(args(2, 1))});
  t.push_back({"conv2d/s1_p2_nonsquare_kernel", shapes({{1, 2, 3, 4}, {2, 2, 2, 3}}), conv(args(1, 2))});
  t.push_back({"conv2d/s2_p0_k1", shapes({{2, 3, 5, 4}, {2, 3, 1, 1}, {2}}), conv(args(2, 0))});
  t.push_back({"conv2d/dcgan_k4_s2_p1", shapes({{1, 2, 6, 6}, {2, 2, 4, 4}}), conv(args(2, 1))});

  // ---- conv_transpose2d: x [N, Cin, H, W], w [Cin, Cout, kh, kw], bias [Cout] ----
  t.push_back({"conv_transpose2d/s1_p0_bias", shapes({{1, 2, 3, 3}, {2, 3, 3, 3}, {3}}), convt(args(1, 0))});
  t.push_back({"conv_transpose2d/s2_p1_nobias_batch2", shapes({{2, 2, 3, 2}, {2, 2, 3, 3}}), convt(args(2, 1))});
  t.push_back({"conv_transpose2d/s2_p1_outpad1", shapes({{1, 2, 3, 4}, {2, 2, 3, 3}, {2}}), convt(args(2, 1, 1))});
  t.push_back({"conv_transpose2d/s2_p2_nonsquare_outpad1", shapes({{2, 1, 3, 4}, {1, 2, 4, 3}, {2}}),
               convt(args(2, 2, 1))});
  t.push_back({"conv_transpose2d/dcgan_k4_s2_p1", shapes({{1, 3, 2, 2}, {3, 2, 4, 4}, {2}}), convt(args(2, 1))});
  t.push_back({"conv_transpose2d/dcgan_first_1x1_k4", shapes({{2, 3, 1, 1}, {3, 2, 4, 4}}), convt(args(1, 0))});

  // ---- conv2d_weight_grad: x [N, Cin, H, W], grad_out [N, Cout, Ho, Wo] -> [Cout, Cin, kh, kw] ----
  t.push_back({"conv2d_weight_grad/s1_p0", shapes({{1, 2, 4, 4}, {1, 3, 2, 2}}), wgrad(3, 3, args(1, 0))});
  t.push_back({"conv2d_weight_grad/s2_p1_odd_batch2", shapes({{2, 1, 5, 7}, {2, 2, 3, 4}}), wgrad(3, 3, args(2, 1))});
  t.push_back({"conv2d_weight_grad/s2_p1_nonsquare", shapes({{1, 2, 5, 7}, {1, 2, 3, 3}}), wgrad(3, 4, args(2, 1))});
  t.push_back({"conv2d_weight_grad/s1_p2", shapes({{1, 1, 3, 3}, {1, 2, 4, 5}}), wgrad(4, 3, args(1, 2))});

  // ---- dilation, groups (depthwise too), per-axis stride, padding and output padding ----
  // Every case goes through all three ops: gradcheck differentiates conv2d into conv_transpose2d and
  // conv2d_weight_grad, and gradgradcheck differentiates those again, with the same stride, padding, dilation and
  // groups.
  using F::Size2;
  auto ext = [](Size2 s, Size2 p, Size2 d, int64_t g, Size2 op = 0) {
    return F::Conv2dArgs{.stride = s, .padding = p, .output_padding = op, .dilation = d, .groups = g};
  };
  t.push_back({"conv2d/dilation2_p2_bias", shapes({{1, 2, 6, 5}, {3, 2, 3, 3}, {3}}), conv(ext(1, 2, 2, 1))});
  t.push_back({"conv2d/dilation_2x3_stride2", shapes({{2, 1, 7, 8}, {2, 1, 2, 2}}), conv(ext(2, 1, {2, 3}, 1))});
  t.push_back({"conv2d/stride_2x1_padding_0x2", shapes({{1, 2, 6, 3}, {2, 2, 3, 2}, {2}}), conv(ext({2, 1}, {0, 2}, 1, 1))});
  t.push_back({"conv2d/groups2", shapes({{2, 4, 4, 4}, {6, 2, 3, 3}, {6}}), conv(ext(1, 1, 1, 2))});
  t.push_back({"conv2d/groups3_stride2_dilation2", shapes({{1, 3, 7, 6}, {3, 1, 2, 3}}), conv(ext(2, 1, 2, 3))});
  t.push_back({"conv2d/depthwise", shapes({{2, 3, 5, 5}, {3, 1, 3, 3}, {3}}), conv(ext(1, 1, 1, 3))});
  t.push_back({"conv2d/depthwise_multiplier2_s2", shapes({{1, 2, 6, 5}, {4, 1, 3, 3}}), conv(ext(2, 1, 1, 2))});
  t.push_back({"conv_transpose2d/dilation2", shapes({{1, 2, 3, 3}, {2, 2, 3, 3}, {2}}), convt(ext(1, 1, 2, 1))});
  t.push_back({"conv_transpose2d/groups2_s2_outpad1", shapes({{2, 4, 3, 2}, {4, 3, 3, 3}, {6}}),
               convt(ext(2, 1, 1, 2, 1))});
  t.push_back({"conv_transpose2d/per_axis_outpad_1x0", shapes({{1, 2, 2, 3}, {2, 1, 3, 2}}),
               convt(ext({2, 3}, {1, 0}, 1, 1, {1, 0}))});
  // output_padding below the dilation but not the stride: the input gradient is a conv cut at the input's size.
  t.push_back({"conv_transpose2d/outpad_below_dilation", shapes({{1, 1, 3, 3}, {1, 2, 2, 2}, {2}}),
               convt(ext(1, 0, 2, 1, 1))});
  t.push_back({"conv_transpose2d/depthwise", shapes({{1, 3, 3, 3}, {3, 1, 3, 3}}), convt(ext(2, 1, 1, 3))});
  t.push_back({"conv2d_weight_grad/groups2_dilation2", shapes({{1, 4, 6, 6}, {1, 2, 6, 2}}),
               wgrad(2, 3, ext(1, {1, 0}, {2, 2}, 2))});
  t.push_back({"conv2d_weight_grad/depthwise_stride_2x1", shapes({{2, 3, 5, 4}, {2, 3, 2, 2}}),
               wgrad(3, 3, ext({2, 1}, 0, 1, 3))});

  // ---- composites as in a WGAN-GP critic and a DCGAN generator ----
  t.push_back({"conv2d/critic_leaky_relu_stack", shapes({{2, 1, 6, 6}, {2, 1, 4, 4}, {2}, {1, 2, 3, 3}}),
               [](const Inputs& x) {
                 const Tensor h = leaky_relu(F::conv2d(x[0], x[1], x[2], args(2, 1)), 0.2);
                 return F::conv2d(h, x[3], Tensor(), args(1, 0));
               }});
  t.push_back({"conv_transpose2d/generator_tanh_stack", shapes({{1, 2, 1, 1}, {2, 2, 4, 4}, {2, 1, 4, 4}, {1}}),
               [](const Inputs& x) {
                 const Tensor h = F::conv_transpose2d(x[0], x[1], Tensor(), args(1, 0));
                 return tanh(F::conv_transpose2d(h, x[2], x[3], args(2, 1)));
               }});
});

}  // namespace
}  // namespace gan::testing
