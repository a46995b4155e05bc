// Values of the convolution family against naive direct loops written here: conv2d, conv_transpose2d and
// conv2d_weight_grad in float64 (tight) and float32 (tolerance), on random shapes with strides, padding, odd and
// non-square sizes; the adjoint identity <conv2d(x, w), y> = <x, conv_transpose2d(y, w)>; the DCGAN shapes; the
// batch-chunked GEMM path against the one-image path; autograd gradients against the references; and the shape errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "engine/nn/functional.h"
#include "engine/nn/layers.h"
#include "engine/rng.h"

namespace {

using gan::DType;
using gan::Generator;
using gan::Shape;
using gan::Tensor;
namespace F = gan::nn::functional;

// ---- naive references (double, contiguous NCHW) ----
struct Geometry {
  int64_t N, Cin, H, W, Cout, kh, kw, stride, pad;
  int64_t Ho() const { return (H + 2 * pad - kh) / stride + 1; }
  int64_t Wo() const { return (W + 2 * pad - kw) / stride + 1; }
};

// y[n, co, oh, ow] = b[co] + sum_{ci, i, j} w[co, ci, i, j] x[n, ci, oh s - p + i, ow s - p + j]: seven loops.
std::vector<double> ref_conv2d(const Geometry& g, const std::vector<double>& x, const std::vector<double>& w,
                               const std::vector<double>& b) {
  const int64_t Ho = g.Ho(), Wo = g.Wo();
  std::vector<double> y(g.N * g.Cout * Ho * Wo, 0.0);
  for (int64_t n = 0; n < g.N; ++n)
    for (int64_t co = 0; co < g.Cout; ++co)
      for (int64_t oh = 0; oh < Ho; ++oh)
        for (int64_t ow = 0; ow < Wo; ++ow) {
          double acc = b.empty() ? 0.0 : b[co];
          for (int64_t ci = 0; ci < g.Cin; ++ci)
            for (int64_t i = 0; i < g.kh; ++i)
              for (int64_t j = 0; j < g.kw; ++j) {
                const int64_t ih = oh * g.stride - g.pad + i, iw = ow * g.stride - g.pad + j;
                if (ih < 0 || ih >= g.H || iw < 0 || iw >= g.W) continue;
                acc += w[((co * g.Cin + ci) * g.kh + i) * g.kw + j] * x[((n * g.Cin + ci) * g.H + ih) * g.W + iw];
              }
          y[((n * g.Cout + co) * Ho + oh) * Wo + ow] = acc;
        }
  return y;
}

// Transposed conv written as a scatter: every input pixel adds w * x to the output pixels it reaches.
// x [N, Cin, Hi, Wi], w [Cin, Cout, kh, kw] -> [N, Cout, Ho, Wo], Ho = (Hi - 1) s - 2p + kh + op.
std::vector<double> ref_conv_transpose2d(int64_t N, int64_t Cin, int64_t Hi, int64_t Wi, int64_t Cout, int64_t kh,
                                         int64_t kw, int64_t s, int64_t p, int64_t op, const std::vector<double>& x,
                                         const std::vector<double>& w, const std::vector<double>& b) {
  const int64_t Ho = (Hi - 1) * s - 2 * p + kh + op, Wo = (Wi - 1) * s - 2 * p + kw + op;
  std::vector<double> y(N * Cout * Ho * Wo, 0.0);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t co = 0; co < Cout; ++co)
      for (int64_t k = 0; k < Ho * Wo; ++k) y[(n * Cout + co) * Ho * Wo + k] = b.empty() ? 0.0 : b[co];
  for (int64_t n = 0; n < N; ++n)
    for (int64_t ci = 0; ci < Cin; ++ci)
      for (int64_t hi = 0; hi < Hi; ++hi)
        for (int64_t wi = 0; wi < Wi; ++wi)
          for (int64_t co = 0; co < Cout; ++co)
            for (int64_t i = 0; i < kh; ++i)
              for (int64_t j = 0; j < kw; ++j) {
                const int64_t oh = hi * s - p + i, ow = wi * s - p + j;
                if (oh < 0 || oh >= Ho || ow < 0 || ow >= Wo) continue;
                y[((n * Cout + co) * Ho + oh) * Wo + ow] +=
                    x[((n * Cin + ci) * Hi + hi) * Wi + wi] * w[((ci * Cout + co) * kh + i) * kw + j];
              }
  return y;
}

// gw[co, ci, i, j] = sum_{n, oh, ow} g[n, co, oh, ow] x[n, ci, oh s - p + i, ow s - p + j].
std::vector<double> ref_weight_grad(const Geometry& g, const std::vector<double>& x, const std::vector<double>& gy) {
  const int64_t Ho = g.Ho(), Wo = g.Wo();
  std::vector<double> gw(g.Cout * g.Cin * g.kh * g.kw, 0.0);
  for (int64_t co = 0; co < g.Cout; ++co)
    for (int64_t ci = 0; ci < g.Cin; ++ci)
      for (int64_t i = 0; i < g.kh; ++i)
        for (int64_t j = 0; j < g.kw; ++j) {
          double acc = 0.0;
          for (int64_t n = 0; n < g.N; ++n)
            for (int64_t oh = 0; oh < Ho; ++oh)
              for (int64_t ow = 0; ow < Wo; ++ow) {
                const int64_t ih = oh * g.stride - g.pad + i, iw = ow * g.stride - g.pad + j;
                if (ih < 0 || ih >= g.H || iw < 0 || iw >= g.W) continue;
                acc += gy[((n * g.Cout + co) * Ho + oh) * Wo + ow] * x[((n * g.Cin + ci) * g.H + ih) * g.W + iw];
              }
          gw[((co * g.Cin + ci) * g.kh + i) * g.kw + j] = acc;
        }
  return gw;
}

// ---- helpers ----
double tolerance(DType dt) { return dt == DType::Float64 ? 1e-11 : 2e-5; }

// |got - want| <= tol * (1 + |want|) element-wise, with the first failure reported.
void expect_close(const Tensor& got, const std::vector<double>& want, double tol, const std::string& what) {
  const std::vector<double> g = got.to_vector<double>();
  ASSERT_EQ(g.size(), want.size()) << what;
  for (size_t i = 0; i < g.size(); ++i)
    ASSERT_NEAR(g[i], want[i], tol * (1.0 + std::abs(want[i]))) << what << ": element " << i;
}

Tensor random(const Shape& s, DType dt, Generator& gen) { return gan::rand(s, dt, &gen, -1.0, 1.0); }

F::Conv2dArgs args(int64_t stride, int64_t padding, int64_t output_padding = 0) {
  F::Conv2dArgs a;
  a.stride = stride;
  a.padding = padding;
  a.output_padding = output_padding;
  return a;
}

std::string describe(const Geometry& g) {
  // Appended piece by piece: GCC 12 warns (-Wrestrict, a false positive) on "literal" + std::to_string(...).
  std::string s;
  for (const auto& [label, v] : {std::pair<const char*, int64_t>{"N", g.N}, {" Cin", g.Cin}, {" H", g.H}, {" W", g.W},
                                 {" Cout", g.Cout}, {" kh", g.kh}, {" kw", g.kw}, {" s", g.stride}, {" p", g.pad}}) {
    s += label;
    s += std::to_string(v);
  }
  return s;
}

// Hand-picked geometries (strides, paddings, odd and non-square sizes) plus random ones.
std::vector<Geometry> geometries() {
  std::vector<Geometry> gs = {
      {1, 1, 5, 5, 1, 3, 3, 1, 0},  {2, 3, 5, 7, 4, 3, 3, 2, 1},  {2, 2, 7, 5, 3, 3, 4, 2, 1},
      {1, 3, 6, 6, 2, 4, 4, 2, 1},  {3, 2, 4, 5, 2, 1, 1, 1, 0},  {2, 2, 5, 5, 3, 2, 3, 1, 2},
      {1, 4, 9, 8, 5, 5, 3, 3, 2},  {2, 1, 3, 3, 2, 5, 5, 1, 2},  {1, 2, 8, 8, 3, 4, 4, 2, 1},
  };
  std::mt19937 rng(1234);
  auto pick = [&rng](int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); };
  while (gs.size() < 30) {
    Geometry g{pick(1, 3), pick(1, 4), pick(1, 9), pick(1, 9), pick(1, 4), pick(1, 5), pick(1, 5), pick(1, 3),
               pick(0, 2)};
    if (g.kh > g.H + 2 * g.pad || g.kw > g.W + 2 * g.pad) continue;
    gs.push_back(g);
  }
  return gs;
}

class ConvValues : public ::testing::TestWithParam<DType> {};

TEST_P(ConvValues, Conv2dMatchesDirectLoops) {
  const DType dt = GetParam();
  Generator gen(11);
  for (const Geometry& g : geometries()) {
    for (bool with_bias : {true, false}) {
      const Tensor x = random({g.N, g.Cin, g.H, g.W}, dt, gen), w = random({g.Cout, g.Cin, g.kh, g.kw}, dt, gen);
      const Tensor b = with_bias ? random({g.Cout}, dt, gen) : Tensor();
      const Tensor y = F::conv2d(x, w, b, args(g.stride, g.pad));
      ASSERT_EQ(y.shape(), (Shape{g.N, g.Cout, g.Ho(), g.Wo()})) << describe(g);
      expect_close(y,
                   ref_conv2d(g, x.to_vector<double>(), w.to_vector<double>(),
                              with_bias ? b.to_vector<double>() : std::vector<double>{}),
                   tolerance(dt), "conv2d " + describe(g));
    }
  }
}

TEST_P(ConvValues, ConvTranspose2dMatchesDirectLoops) {
  const DType dt = GetParam();
  Generator gen(12);
  for (const Geometry& g : geometries()) {
    // Read g as a transposed conv from [Hi, Wi] = [H, W] with weight [Cin, Cout, kh, kw].
    for (int64_t op = 0; op < g.stride; ++op) {
      const int64_t Ho = (g.H - 1) * g.stride - 2 * g.pad + g.kh + op;
      const int64_t Wo = (g.W - 1) * g.stride - 2 * g.pad + g.kw + op;
      if (Ho < 1 || Wo < 1) continue;
      const bool with_bias = op % 2 == 0;
      const Tensor x = random({g.N, g.Cin, g.H, g.W}, dt, gen), w = random({g.Cin, g.Cout, g.kh, g.kw}, dt, gen);
      const Tensor b = with_bias ? random({g.Cout}, dt, gen) : Tensor();
      const Tensor y = F::conv_transpose2d(x, w, b, args(g.stride, g.pad, op));
      ASSERT_EQ(y.shape(), (Shape{g.N, g.Cout, Ho, Wo})) << describe(g);
      expect_close(y,
                   ref_conv_transpose2d(g.N, g.Cin, g.H, g.W, g.Cout, g.kh, g.kw, g.stride, g.pad, op,
                                        x.to_vector<double>(), w.to_vector<double>(),
                                        with_bias ? b.to_vector<double>() : std::vector<double>{}),
                   tolerance(dt), "conv_transpose2d op" + std::to_string(op) + " " + describe(g));
    }
  }
}

TEST_P(ConvValues, WeightGradMatchesDirectLoops) {
  const DType dt = GetParam();
  Generator gen(13);
  for (const Geometry& g : geometries()) {
    const Tensor x = random({g.N, g.Cin, g.H, g.W}, dt, gen);
    const Tensor gy = random({g.N, g.Cout, g.Ho(), g.Wo()}, dt, gen);
    const Tensor gw = F::conv2d_weight_grad(x, gy, g.kh, g.kw, args(g.stride, g.pad));
    ASSERT_EQ(gw.shape(), (Shape{g.Cout, g.Cin, g.kh, g.kw})) << describe(g);
    expect_close(gw, ref_weight_grad(g, x.to_vector<double>(), gy.to_vector<double>()), tolerance(dt),
                 "conv2d_weight_grad " + describe(g));
  }
}

// backward() through conv2d gives the reference input, weight and bias gradients (the input gradient being the
// transposed conv of the reference, with per-axis output padding when the sizes do not hit the stride).
TEST_P(ConvValues, AutogradMatchesReferences) {
  const DType dt = GetParam();
  Generator gen(14);
  for (const Geometry& g : geometries()) {
    Tensor x = random({g.N, g.Cin, g.H, g.W}, dt, gen), w = random({g.Cout, g.Cin, g.kh, g.kw}, dt, gen);
    Tensor b = random({g.Cout}, dt, gen);
    x.requires_grad_(true);
    w.requires_grad_(true);
    b.requires_grad_(true);
    const Tensor gy = random({g.N, g.Cout, g.Ho(), g.Wo()}, dt, gen);
    F::conv2d(x, w, b, args(g.stride, g.pad)).backward(gy);
    const std::vector<double> gyv = gy.to_vector<double>();
    expect_close(w.grad(), ref_weight_grad(g, x.to_vector<double>(), gyv), tolerance(dt), "dw " + describe(g));
    // dx is the scatter reference of a transposed conv from gy, the weight [Cout, Cin, kh, kw] read as a transposed
    // conv weight [Cin_t = Cout, Cout_t = Cin, kh, kw].
    const int64_t op_h = (g.H + 2 * g.pad - g.kh) % g.stride, op_w = (g.W + 2 * g.pad - g.kw) % g.stride;
    std::vector<double> dx_ref;
    if (op_h == op_w) {
      dx_ref = ref_conv_transpose2d(g.N, g.Cout, g.Ho(), g.Wo(), g.Cin, g.kh, g.kw, g.stride, g.pad, op_h, gyv,
                                    w.to_vector<double>(), {});
    } else {
      // Per-axis padding: compute with the larger one and crop.
      const int64_t op = std::max(op_h, op_w);
      const std::vector<double> big = ref_conv_transpose2d(g.N, g.Cout, g.Ho(), g.Wo(), g.Cin, g.kh, g.kw, g.stride,
                                                           g.pad, op, gyv, w.to_vector<double>(), {});
      const int64_t Hb = (g.Ho() - 1) * g.stride - 2 * g.pad + g.kh + op;
      const int64_t Wb = (g.Wo() - 1) * g.stride - 2 * g.pad + g.kw + op;
      for (int64_t nc = 0; nc < g.N * g.Cin; ++nc)
        for (int64_t h = 0; h < g.H; ++h)
          for (int64_t c = 0; c < g.W; ++c) dx_ref.push_back(big[(nc * Hb + h) * Wb + c]);
    }
    expect_close(x.grad(), dx_ref, tolerance(dt), "dx " + describe(g));
    std::vector<double> db(g.Cout, 0.0);
    for (int64_t n = 0; n < g.N; ++n)
      for (int64_t co = 0; co < g.Cout; ++co)
        for (int64_t k = 0; k < g.Ho() * g.Wo(); ++k) db[co] += gyv[(n * g.Cout + co) * g.Ho() * g.Wo() + k];
    expect_close(b.grad(), db, tolerance(dt), "db " + describe(g));
  }
}

// conv_transpose2d(., w) is the adjoint of conv2d(., w): <conv2d(x, w), y> == <x, conv_transpose2d(y, w)>.
TEST_P(ConvValues, TransposeIsTheAdjoint) {
  const DType dt = GetParam();
  Generator gen(15);
  for (const Geometry& g : geometries()) {
    const int64_t op_h = (g.H + 2 * g.pad - g.kh) % g.stride, op_w = (g.W + 2 * g.pad - g.kw) % g.stride;
    if (op_h != op_w) continue;  // the public conv_transpose2d takes one output_padding
    const Tensor x = random({g.N, g.Cin, g.H, g.W}, dt, gen), w = random({g.Cout, g.Cin, g.kh, g.kw}, dt, gen);
    const Tensor y = random({g.N, g.Cout, g.Ho(), g.Wo()}, dt, gen);
    const Tensor ax = F::conv2d(x, w, Tensor(), args(g.stride, g.pad));
    const Tensor aty = F::conv_transpose2d(y, w, Tensor(), args(g.stride, g.pad, op_h));
    ASSERT_EQ(aty.shape(), x.shape()) << describe(g);
    const double lhs = gan::sum(gan::mul(ax, y)).item(), rhs = gan::sum(gan::mul(x, aty)).item();
    EXPECT_NEAR(lhs, rhs, (dt == DType::Float64 ? 1e-11 : 1e-4) * (1.0 + std::abs(lhs))) << describe(g);
  }
}

// DCGAN generator shapes: 1x1 -> 4x4 (k4 s1 p0), then 4x4 -> 8x8 (k4 s2 p1); the discriminator goes back down.
TEST_P(ConvValues, DcganShapes) {
  const DType dt = GetParam();
  Generator gen(16);
  const Tensor z = random({2, 16, 1, 1}, dt, gen), w1 = random({16, 8, 4, 4}, dt, gen);
  const Tensor h1 = F::conv_transpose2d(z, w1, Tensor(), args(1, 0));
  ASSERT_EQ(h1.shape(), (Shape{2, 8, 4, 4}));
  // On a 1x1 input the first layer is a matmul: h1[n, co, i, j] = sum_ci z[n, ci] w1[ci, co, i, j].
  const Tensor mm = gan::matmul(gan::reshape(z, {2, 16}), gan::reshape(w1, {16, 8 * 16}));
  expect_close(h1, mm.to_vector<double>(), tolerance(dt), "generator first layer");

  const Tensor w2 = random({8, 4, 4, 4}, dt, gen), b2 = random({4}, dt, gen);
  const Tensor h2 = F::conv_transpose2d(h1, w2, b2, args(2, 1));
  ASSERT_EQ(h2.shape(), (Shape{2, 4, 8, 8}));
  expect_close(h2,
               ref_conv_transpose2d(2, 8, 4, 4, 4, 4, 4, 2, 1, 0, h1.to_vector<double>(), w2.to_vector<double>(),
                                    b2.to_vector<double>()),
               tolerance(dt), "generator 4x4 -> 8x8");

  const Tensor wd = random({5, 4, 4, 4}, dt, gen);
  const Tensor d = F::conv2d(h2, wd, Tensor(), args(2, 1));
  ASSERT_EQ(d.shape(), (Shape{2, 5, 4, 4}));
  expect_close(d, ref_conv2d({2, 4, 8, 8, 5, 4, 4, 2, 1}, h2.to_vector<double>(), wd.to_vector<double>(), {}),
               tolerance(dt), "discriminator 8x8 -> 4x4");
}

// A batch large enough to split the column buffer into several GEMM chunks (28 images, then 2; gather/scatter and
// the OpenMP loops run) gives the same results as the one-image path, which the direct loops above validate.
TEST_P(ConvValues, ChunkedBatchMatchesPerImage) {
  const DType dt = GetParam();
  Generator gen(17);
  const int64_t N = 30;  // 16 * 3 * 3 rows x 32 * 32 columns per image: 28 images fit the column budget
  const Tensor x = random({N, 16, 32, 32}, dt, gen), w = random({4, 16, 3, 3}, dt, gen), b = random({4}, dt, gen);
  const Tensor bt = random({16}, dt, gen);  // the transposed conv's bias: one per output (= conv input) channel
  const Tensor gy = random({N, 4, 32, 32}, dt, gen);
  const Tensor y = F::conv2d(x, w, b, args(1, 1));
  const Tensor gx = F::conv_transpose2d(gy, w, bt, args(1, 1));
  const Tensor gw = F::conv2d_weight_grad(x, gy, 3, 3, args(1, 1));
  std::vector<Tensor> ys, gxs;
  Tensor gw_sum = gan::zeros({4, 16, 3, 3}, dt);
  for (int64_t n = 0; n < N; ++n) {
    const Tensor xn = gan::narrow(x, 0, n, 1), gyn = gan::narrow(gy, 0, n, 1);
    ys.push_back(F::conv2d(xn, w, b, args(1, 1)));
    gxs.push_back(F::conv_transpose2d(gyn, w, bt, args(1, 1)));
    gw_sum = gan::add(gw_sum, F::conv2d_weight_grad(xn, gyn, 3, 3, args(1, 1)));
  }
  const double tol = dt == DType::Float64 ? 1e-12 : 1e-5;
  expect_close(y, gan::concat(ys, 0).to_vector<double>(), tol, "conv2d");
  expect_close(gx, gan::concat(gxs, 0).to_vector<double>(), tol, "conv_transpose2d");
  // The weight gradient sums 30 * 1024 products per entry: allow for the different summation order.
  expect_close(gw, gw_sum.to_vector<double>(), dt == DType::Float64 ? 1e-10 : 2e-3, "conv2d_weight_grad");
}

// Strided (non-contiguous) inputs are read correctly.
TEST_P(ConvValues, NonContiguousInputs) {
  const DType dt = GetParam();
  Generator gen(18);
  const Tensor xt = random({2, 3, 7, 5}, dt, gen);
  const Tensor x = gan::transpose(xt, 2, 3);  // [2, 3, 5, 7], not contiguous
  const Tensor w = random({4, 3, 3, 3}, dt, gen);
  const Geometry g{2, 3, 5, 7, 4, 3, 3, 2, 1};
  expect_close(F::conv2d(x, w, Tensor(), args(2, 1)), ref_conv2d(g, x.to_vector<double>(), w.to_vector<double>(), {}),
               tolerance(dt), "conv2d on a transposed view");
}

INSTANTIATE_TEST_SUITE_P(Dtypes, ConvValues, ::testing::Values(DType::Float64, DType::Float32),
                         [](const ::testing::TestParamInfo<DType>& info) {
                           return std::string(gan::dtype_name(info.param));
                         });

// ---- errors name the op and every shape ----
template <typename Fn>
std::string error_of(Fn&& fn) {
  try {
    fn();
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "(no exception)";
}

void expect_mentions(const std::string& msg, const std::vector<std::string>& parts) {
  for (const std::string& p : parts) EXPECT_NE(msg.find(p), std::string::npos) << "'" << p << "' not in: " << msg;
}

TEST(ConvErrors, Conv2dChannelMismatch) {
  const std::string m = error_of([] { F::conv2d(gan::zeros({1, 3, 5, 5}), gan::zeros({4, 2, 3, 3})); });
  expect_mentions(m, {"conv2d:", "[1, 3, 5, 5]", "[4, 2, 3, 3]", "channels"});
}

TEST(ConvErrors, Conv2dKernelLargerThanPaddedInput) {
  const std::string m = error_of([] { F::conv2d(gan::zeros({1, 1, 2, 3}), gan::zeros({1, 1, 5, 5}), {}, args(1, 1)); });
  expect_mentions(m, {"conv2d:", "[1, 1, 2, 3]", "[1, 1, 5, 5]", "larger than the padded input", "padding 1"});
}

TEST(ConvErrors, Conv2dBiasOfWrongSize) {
  const std::string m =
      error_of([] { F::conv2d(gan::zeros({1, 2, 5, 5}), gan::zeros({4, 2, 3, 3}), gan::zeros({3})); });
  expect_mentions(m, {"conv2d:", "bias", "[1, 2, 5, 5]", "[4, 2, 3, 3]", "[3]"});
}

TEST(ConvErrors, Conv2dNot4D) {
  expect_mentions(error_of([] { F::conv2d(gan::zeros({2, 5, 5}), gan::zeros({4, 2, 3, 3})); }),
                  {"conv2d:", "4-D", "[2, 5, 5]", "[4, 2, 3, 3]"});
  expect_mentions(error_of([] { F::conv2d(gan::zeros({1, 2, 5, 5}), gan::zeros({4, 2, 3})); }),
                  {"conv2d:", "4-D", "[1, 2, 5, 5]", "[4, 2, 3]"});
}

TEST(ConvErrors, Conv2dBadArgs) {
  expect_mentions(error_of([] { F::conv2d(gan::zeros({1, 1, 5, 5}), gan::zeros({1, 1, 3, 3}), {}, args(0, 0)); }),
                  {"conv2d:", "stride", "[1, 1, 5, 5]"});
  expect_mentions(error_of([] { F::conv2d(gan::zeros({1, 1, 5, 5}), gan::zeros({1, 1, 3, 3}), {}, args(1, -1)); }),
                  {"conv2d:", "padding", "[1, 1, 5, 5]"});
  expect_mentions(error_of([] { F::conv2d(gan::zeros({1, 1, 5, 5}), gan::zeros({1, 1, 3, 3}), {}, args(2, 0, 1)); }),
                  {"conv2d:", "output_padding"});
}

TEST(ConvErrors, Conv2dDtypeMismatch) {
  expect_mentions(error_of([] { F::conv2d(gan::zeros({1, 1, 5, 5}), gan::zeros({1, 1, 3, 3}, DType::Float64)); }),
                  {"conv2d", "float32[1, 1, 5, 5]", "float64[1, 1, 3, 3]"});
}

TEST(ConvErrors, ConvTransposeOutputPaddingNotBelowStride) {
  const std::string m =
      error_of([] { F::conv_transpose2d(gan::zeros({1, 2, 4, 4}), gan::zeros({2, 3, 4, 4}), {}, args(2, 1, 2)); });
  expect_mentions(m, {"conv_transpose2d:", "output_padding", "stride", "[1, 2, 4, 4]", "[2, 3, 4, 4]"});
}

TEST(ConvErrors, ConvTransposeChannelMismatchAndBias) {
  expect_mentions(error_of([] { F::conv_transpose2d(gan::zeros({1, 2, 4, 4}), gan::zeros({3, 2, 4, 4})); }),
                  {"conv_transpose2d:", "channels", "[1, 2, 4, 4]", "[3, 2, 4, 4]"});
  expect_mentions(
      error_of([] { F::conv_transpose2d(gan::zeros({1, 2, 4, 4}), gan::zeros({2, 3, 4, 4}), gan::zeros({2})); }),
      {"conv_transpose2d:", "bias", "[2]", "[2, 3, 4, 4]"});
}

TEST(ConvErrors, ConvTransposeNonPositiveOutput) {
  const std::string m =
      error_of([] { F::conv_transpose2d(gan::zeros({1, 1, 1, 1}), gan::zeros({1, 1, 1, 1}), {}, args(1, 1)); });
  expect_mentions(m, {"conv_transpose2d:", "output size", "[1, 1, 1, 1]"});
}

TEST(ConvErrors, WeightGradShapeMismatch) {
  expect_mentions(
      error_of([] { F::conv2d_weight_grad(gan::zeros({1, 2, 5, 5}), gan::zeros({1, 3, 4, 4}), 3, 3, args(1, 0)); }),
      {"conv2d_weight_grad:", "grad_out", "3x3", "[1, 2, 5, 5]", "[1, 3, 4, 4]"});
  expect_mentions(
      error_of([] { F::conv2d_weight_grad(gan::zeros({2, 2, 5, 5}), gan::zeros({1, 3, 3, 3}), 3, 3, args(1, 0)); }),
      {"conv2d_weight_grad:", "batch", "[2, 2, 5, 5]", "[1, 3, 3, 3]"});
}

// Dilation, groups and per-axis arguments: what PyTorch refuses, refused with every argument named.
TEST(ConvErrors, DilationGroupsAndPerAxisArguments) {
  const Tensor x = gan::zeros({1, 4, 6, 6});
  expect_mentions(error_of([&] { F::conv2d(x, gan::zeros({3, 2, 3, 3}), {}, {.groups = 2}); }),
                  {"conv2d:", "output channels", "divisible by groups (2)", "groups 2"});
  expect_mentions(error_of([&] { F::conv2d(x, gan::zeros({6, 4, 3, 3}), {}, {.groups = 3}); }),
                  {"conv2d:", "input channels (4)", "divisible by groups (3)"});
  expect_mentions(error_of([&] { F::conv2d(x, gan::zeros({4, 4, 3, 3}), {}, {.groups = 2}); }),
                  {"conv2d:", "needs 2 in dim 1, not 4", "[4, 4, 3, 3]"});
  expect_mentions(error_of([&] { F::conv2d(x, gan::zeros({4, 4, 3, 3}), {}, {.dilation = {1, 0}}); }),
                  {"conv2d:", "dilation must be >= 1"});
  expect_mentions(error_of([&] { F::conv2d(x, gan::zeros({4, 4, 3, 3}), {}, {.dilation = 3}); }),
                  {"conv2d:", "kernel height 3 (dilated: 7) is larger than the padded input height 6", "dilation 3"});
  expect_mentions(error_of([&] { F::conv2d(x, gan::zeros({4, 4, 3, 3}), {}, {.groups = 0}); }),
                  {"conv2d:", "groups must be >= 1"});
  // output_padding must be below the stride or the dilation, per axis.
  expect_mentions(error_of([&] {
                    F::conv_transpose2d(x, gan::zeros({4, 1, 3, 3}), {},
                                        {.stride = {2, 1}, .output_padding = {1, 1}, .dilation = 1});
                  }),
                  {"conv_transpose2d:", "output_padding must be smaller than either stride or dilation",
                   "output_padding 1", "stride (2, 1)"});
  EXPECT_NO_THROW(F::conv_transpose2d(x, gan::zeros({4, 1, 3, 3}), {},
                                      {.stride = {2, 1}, .output_padding = {1, 1}, .dilation = {1, 2}}));
  expect_mentions(error_of([&] { F::conv_transpose2d(x, gan::zeros({4, 1, 3, 3}), {}, {.groups = 3}); }),
                  {"conv_transpose2d:", "input channels (4)", "divisible by groups (3)"});
  expect_mentions(error_of([] { gan::nn::Conv2d(4, 6, {3, 3}, {.groups = 4}); }),
                  {"Conv2d: invalid arguments", "groups=4", "divisible by groups"});
  expect_mentions(error_of([] { gan::nn::ConvTranspose2d(4, 6, 3, {.stride = 2, .output_padding = 2}); }),
                  {"ConvTranspose2d: invalid arguments", "output_padding=2"});
}

}  // namespace
