// Convolution with dilation, groups (depthwise too), per-axis stride, padding and output padding against PyTorch
// 1.13 (tests/golden/data/conv_ext.safetensors, float64, written by tests/golden/make_golden.py): conv2d and
// conv_transpose2d forward, the gradients of <grad_y, y> w.r.t. input, weight and bias, the gradient w.r.t. input
// and weight of a WGAN-GP-style penalty sum((d<grad_y, tanh(y)>/dx)^2) (double backward through the conv family),
// and the Conv2d / ConvTranspose2d modules built with PyTorch's arguments (their weight shapes and outputs).
//
// Tolerance: float64 on both sides, so the differences are summation-order rounding (sums of <= 100 products,
// ~1e-15 relative): 1e-10 (1 + max |ref|).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/golden_util.h"
#include "engine/autograd.h"
#include "engine/nn/functional.h"
#include "engine/nn/layers.h"
#include "engine/ops.h"

namespace {

using gan::Tensor;
using gan::testing::golden;
using gan::testing::golden_leaf;
namespace F = gan::nn::functional;
namespace nn = gan::nn;

constexpr double kTol = 1e-10;
const char* const kFile = "conv_ext.safetensors";

class ConvExtGolden : public ::testing::TestWithParam<std::string> {};

TEST_P(ConvExtGolden, ForwardGradientsAndPenaltyGradientMatchPyTorch) {
  const std::string c = GetParam();
  const auto& f = golden(kFile);
  // [stride_h, stride_w, pad_h, pad_w, output_padding_h, output_padding_w, dilation_h, dilation_w, groups,
  //  has_bias, transposed]
  const std::vector<int64_t> a = f.at(c + ".args").to_vector<int64_t>();
  ASSERT_EQ(a.size(), 11u);
  const bool has_bias = a[9] != 0, transposed = a[10] != 0;
  const F::Conv2dArgs args{.stride = {a[0], a[1]}, .padding = {a[2], a[3]}, .output_padding = {a[4], a[5]},
                           .dilation = {a[6], a[7]}, .groups = a[8]};
  Tensor x = golden_leaf(f.at(c + ".x")), w = golden_leaf(f.at(c + ".w"));
  Tensor b = has_bias ? golden_leaf(f.at(c + ".b")) : Tensor();
  auto op = [&](const Tensor& in) {
    return transposed ? F::conv_transpose2d(in, w, b, args) : F::conv2d(in, w, b, args);
  };
  const Tensor y = op(x);
  EXPECT_GOLDEN(c + ".y", y, f.at(c + ".y"), kTol);

  std::vector<Tensor> wrt = {x, w};
  if (has_bias) wrt.push_back(b);
  const std::vector<Tensor> g = gan::grad({y}, wrt, {f.at(c + ".grad_y")});
  EXPECT_GOLDEN(c + ".grad_x", g[0], f.at(c + ".grad_x"), kTol);
  EXPECT_GOLDEN(c + ".grad_w", g[1], f.at(c + ".grad_w"), kTol);
  if (has_bias) {
    EXPECT_GOLDEN(c + ".grad_b", g[2], f.at(c + ".grad_b"), kTol);
  }

  const Tensor gx = gan::grad({gan::tanh(op(x))}, {x}, {f.at(c + ".grad_y")}, /*create_graph=*/true)[0];
  const std::vector<Tensor> pen = gan::grad({gan::sum(gx * gx)}, {x, w});
  EXPECT_GOLDEN(c + ".penalty_grad_x", pen[0], f.at(c + ".penalty_grad_x"), kTol);
  EXPECT_GOLDEN(c + ".penalty_grad_w", pen[1], f.at(c + ".penalty_grad_w"), kTol);
}

INSTANTIATE_TEST_SUITE_P(Cases, ConvExtGolden,
                         ::testing::Values("dil2", "axes", "groups2", "depthwise", "t_groups2", "t_axes",
                                           "t_depthwise", "t_outpad_dil"),
                         [](const ::testing::TestParamInfo<std::string>& info) { return info.param; });

// nn.Conv2d(4, 6, (3, 2), stride=(2, 1), padding=1, dilation=(1, 2), groups=2) and
// nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1, groups=2): the same parameter shapes as
// PyTorch's modules, and with PyTorch's parameters the same outputs.
TEST(ConvExtGoldenModules, Conv2dAndConvTranspose2dWithGroupsMatchPyTorch) {
  const auto& f = golden(kFile);
  const Tensor x = f.at("module_conv.x");
  nn::Conv2d conv(4, 6, {3, 2}, {.stride = {2, 1}, .padding = 1, .dilation = {1, 2}, .groups = 2}, true,
                  gan::DType::Float64);
  ASSERT_EQ(conv.weight.shape(), f.at("module_conv.weight").shape());
  ASSERT_EQ(conv.bias.shape(), f.at("module_conv.bias").shape());
  gan::copy_(conv.weight, f.at("module_conv.weight"));
  gan::copy_(conv.bias, f.at("module_conv.bias"));
  EXPECT_GOLDEN("Conv2d output", conv.forward(x), f.at("module_conv.y"), kTol);
  EXPECT_EQ(conv.describe(), "Conv2d(4, 6, kernel_size=(3, 2), stride=(2, 1), padding=1, dilation=(1, 2), groups=2)");

  nn::ConvTranspose2d tconv(4, 6, 3, {.stride = 2, .padding = 1, .output_padding = 1, .groups = 2}, true,
                            gan::DType::Float64);
  ASSERT_EQ(tconv.weight.shape(), f.at("module_tconv.weight").shape());
  gan::copy_(tconv.weight, f.at("module_tconv.weight"));
  gan::copy_(tconv.bias, f.at("module_tconv.bias"));
  EXPECT_GOLDEN("ConvTranspose2d output", tconv.forward(x), f.at("module_tconv.y"), kTol);
}

}  // namespace
