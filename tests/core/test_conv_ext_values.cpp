// The convolution family with dilation, groups (depthwise too) and per-axis stride and padding, on random
// geometries against a naive seven-loop reference written here: conv2d and its weight gradient directly,
// conv_transpose2d through the adjoint identity <conv2d(x, w), y> = <x, conv_transpose2d(y, w)>, float32 against
// float64, the groups = 1 / dilation = 1 path against the general one (a grouped conv is its groups' convs side by
// side), and the errors for arguments PyTorch refuses.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "engine/autograd.h"
#include "engine/nn/functional.h"
#include "engine/ops.h"
#include "engine/rng.h"

namespace {

using gan::DType;
using gan::Generator;
using gan::Tensor;
namespace F = gan::nn::functional;

struct Geometry {
  int64_t N, Cin, H, W, Cout, kh, kw, sh, sw, ph, pw, dh, dw, groups;
  int64_t Ho() const { return (H + 2 * ph - dh * (kh - 1) - 1) / sh + 1; }
  int64_t Wo() const { return (W + 2 * pw - dw * (kw - 1) - 1) / sw + 1; }
  F::Conv2dArgs args() const {
    return {.stride = {sh, sw}, .padding = {ph, pw}, .dilation = {dh, dw}, .groups = groups};
  }
  std::string str() const {
    return "x [" + std::to_string(N) + ", " + std::to_string(Cin) + ", " + std::to_string(H) + ", " +
           std::to_string(W) + "], w [" + std::to_string(Cout) + ", " + std::to_string(Cin / groups) + ", " +
           std::to_string(kh) + ", " + std::to_string(kw) + "], stride " + std::to_string(sh) + "x" +
           std::to_string(sw) + ", padding " + std::to_string(ph) + "x" + std::to_string(pw) + ", dilation " +
           std::to_string(dh) + "x" + std::to_string(dw) + ", groups " + std::to_string(groups);
  }
};

// Calls f(y index, w index, x index) for every product w[co, c, i, j] x[n, g Cin/G + c, oh sh - ph + i dh,
// ow sw - pw + j dw] that y[n, co, oh, ow] sums (g = co / (Cout/G)), taps in the padding left out.
template <typename F>
void for_each_product(const Geometry& g, F f) {
  const int64_t Ho = g.Ho(), Wo = g.Wo(), cg = g.Cin / g.groups, og = g.Cout / g.groups;
  for (int64_t n = 0; n < g.N; ++n)
    for (int64_t co = 0; co < g.Cout; ++co)
      for (int64_t oh = 0; oh < Ho; ++oh)
        for (int64_t ow = 0; ow < Wo; ++ow)
          for (int64_t c = 0; c < cg; ++c)
            for (int64_t i = 0; i < g.kh; ++i)
              for (int64_t j = 0; j < g.kw; ++j) {
                const int64_t ih = oh * g.sh - g.ph + i * g.dh, iw = ow * g.sw - g.pw + j * g.dw;
                if (ih < 0 || ih >= g.H || iw < 0 || iw >= g.W) continue;
                const int64_t ci = (co / og) * cg + c;
                f(((n * g.Cout + co) * Ho + oh) * Wo + ow, ((co * cg + c) * g.kh + i) * g.kw + j,
                  ((n * g.Cin + ci) * g.H + ih) * g.W + iw);
              }
}

std::vector<double> ref_conv2d(const Geometry& g, const std::vector<double>& x, const std::vector<double>& w) {
  std::vector<double> y(g.N * g.Cout * g.Ho() * g.Wo(), 0.0);
  for_each_product(g, [&](int64_t yi, int64_t wi, int64_t xi) { y[yi] += w[wi] * x[xi]; });
  return y;
}

// dL/dw for L = <gy, conv2d(x, w)>.
std::vector<double> ref_weight_grad(const Geometry& g, const std::vector<double>& x, const std::vector<double>& gy) {
  std::vector<double> gw(g.Cout * (g.Cin / g.groups) * g.kh * g.kw, 0.0);
  for_each_product(g, [&](int64_t yi, int64_t wi, int64_t xi) { gw[wi] += gy[yi] * x[xi]; });
  return gw;
}

double max_rel_diff(const std::vector<double>& a, const std::vector<double>& b) {
  double scale = 1.0, diff = 0.0;
  for (size_t i = 0; i < a.size(); ++i) {
    scale = std::max(scale, std::abs(b[i]));
    diff = std::max(diff, std::abs(a[i] - b[i]));
  }
  return diff / scale;
}

// Random geometries whose dilated kernel fits the padded input.
std::vector<Geometry> random_geometries(int count, uint32_t seed) {
  std::mt19937 rng(seed);
  auto u = [&](int lo, int hi) { return static_cast<int64_t>(std::uniform_int_distribution<int>(lo, hi)(rng)); };
  std::vector<Geometry> out;
  while (static_cast<int>(out.size()) < count) {
    Geometry g{};
    g.groups = u(0, 2) == 0 ? 1 : u(1, 4);
    const bool depthwise = u(0, 3) == 0;
    g.Cin = depthwise ? g.groups : g.groups * u(1, 3);
    g.Cout = g.groups * u(1, 3);
    g.N = u(1, 3), g.kh = u(1, 4), g.kw = u(1, 4), g.sh = u(1, 3), g.sw = u(1, 3);
    g.ph = u(0, 2), g.pw = u(0, 2), g.dh = u(1, 3), g.dw = u(1, 3);
    g.H = std::max<int64_t>(1, g.dh * (g.kh - 1) + 1 - 2 * g.ph) + u(0, 6);
    g.W = std::max<int64_t>(1, g.dw * (g.kw - 1) + 1 - 2 * g.pw) + u(0, 6);
    if (g.Ho() >= 1 && g.Wo() >= 1) out.push_back(g);
  }
  return out;
}

TEST(ConvExtValues, RandomGeometriesMatchTheReference) {
  Generator gen(41);
  for (const Geometry& g : random_geometries(60, 2025)) {
    SCOPED_TRACE(g.str());
    Tensor x = gan::randn({g.N, g.Cin, g.H, g.W}, DType::Float64, &gen);
    Tensor w = gan::randn({g.Cout, g.Cin / g.groups, g.kh, g.kw}, DType::Float64, &gen);
    x.requires_grad_(true);
    w.requires_grad_(true);
    const Tensor y = F::conv2d(x, w, Tensor(), g.args());
    ASSERT_EQ(y.shape(), (gan::Shape{g.N, g.Cout, g.Ho(), g.Wo()}));
    const std::vector<double> xv = x.to_vector<double>(), wv = w.to_vector<double>();
    EXPECT_LT(max_rel_diff(y.to_vector<double>(), ref_conv2d(g, xv, wv)), 1e-13) << "conv2d";

    const Tensor gy = gan::randn(y.shape(), DType::Float64, &gen);
    const std::vector<Tensor> grads = gan::grad({y}, {x, w}, {gy});
    EXPECT_LT(max_rel_diff(grads[1].to_vector<double>(), ref_weight_grad(g, xv, gy.to_vector<double>())), 1e-13)
        << "weight gradient";
    // The input gradient is conv_transpose2d (with the output padding that lands on H x W): the adjoint identity.
    const double lhs = gan::sum(y.detach() * gy).item(), rhs = gan::sum(x.detach() * grads[0]).item();
    EXPECT_NEAR(lhs, rhs, 1e-11 * (1.0 + std::abs(lhs))) << "<conv2d(x, w), gy> = <x, conv_transpose2d(gy, w)>";

    // float32 follows float64.
    const Tensor y32 = F::conv2d(x.detach().to(DType::Float32), w.detach().to(DType::Float32), Tensor(), g.args());
    EXPECT_LT(max_rel_diff(y32.to_vector<double>(), y.to_vector<double>()), 1e-5) << "float32";
  }
}

// A grouped conv is its groups' convs side by side (through the groups = 1 path).
TEST(ConvExtValues, GroupedConvIsItsGroupsSideBySide) {
  Generator gen(42);
  const int64_t G = 3;
  const Tensor x = gan::randn({2, 6, 7, 5}, DType::Float64, &gen), w = gan::randn({9, 2, 3, 2}, DType::Float64, &gen);
  const Tensor b = gan::randn({9}, DType::Float64, &gen);
  const F::Conv2dArgs grouped{.stride = {2, 1}, .padding = {1, 2}, .dilation = {1, 2}, .groups = G};
  F::Conv2dArgs single = grouped;
  single.groups = 1;
  const Tensor y = F::conv2d(x, w, b, grouped);
  std::vector<Tensor> parts;
  for (int64_t g = 0; g < G; ++g)
    parts.push_back(F::conv2d(gan::narrow(x, 1, 2 * g, 2), gan::narrow(w, 0, 3 * g, 3), gan::narrow(b, 0, 3 * g, 3),
                              single));
  EXPECT_LT(max_rel_diff(y.to_vector<double>(), gan::concat(parts, 1).to_vector<double>()), 1e-14);

  // The transposed conv likewise: weight [Cin, Cout / G, kh, kw], groups along both channel dims.
  const Tensor xt = gan::randn({2, 6, 3, 4}, DType::Float64, &gen), wt = gan::randn({6, 2, 3, 3}, DType::Float64, &gen);
  const F::Conv2dArgs tgrouped{.stride = 2, .padding = 1, .output_padding = {1, 0}, .groups = G};
  F::Conv2dArgs tsingle = tgrouped;
  tsingle.groups = 1;
  const Tensor yt = F::conv_transpose2d(xt, wt, Tensor(), tgrouped);
  std::vector<Tensor> tparts;
  for (int64_t g = 0; g < G; ++g)
    tparts.push_back(F::conv_transpose2d(gan::narrow(xt, 1, 2 * g, 2), gan::narrow(wt, 0, 2 * g, 2), Tensor(), tsingle));
  EXPECT_LT(max_rel_diff(yt.to_vector<double>(), gan::concat(tparts, 1).to_vector<double>()), 1e-14);
}

}  // namespace
