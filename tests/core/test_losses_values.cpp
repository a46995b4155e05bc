// Values of the fused losses (engine/nn/losses.cpp): against the formulas written out directly here, in float32
// and float64; hand-computed numbers; stability at logits +-100; PyTorch's gaussian_nll clamp semantics; shape
// errors; determinism across thread counts; double backward through fused and Wasserstein losses.
#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>
#include <numbers>
#include <stdexcept>
#include <string>
#include <vector>

#include "engine/nn/functional.h"
#include "engine/ops.h"
#include "engine/rng.h"

namespace {

using gan::DType;
using gan::Generator;
using gan::Tensor;
namespace F = gan::nn::functional;

std::vector<double> vals(const Tensor& t) { return t.to_vector<double>(); }

Tensor leaf(const std::vector<double>& v, const gan::Shape& shape, DType dtype = DType::Float64) {
  Tensor t = gan::from_vector<double>(v, shape).to(dtype);
  t.requires_grad_(true);
  return t;
}

Tensor random_leaf(Generator& g, const gan::Shape& shape, DType dtype, double lo, double hi) {
  Tensor t = gan::rand(shape, dtype, &g, lo, hi);
  t.requires_grad_(true);
  return t;
}

// Relative-or-absolute closeness: |a - b| <= tol * max(1, |b|).
void expect_close(const std::vector<double>& got, const std::vector<double>& want, double tol,
                  const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < got.size(); ++i)
    EXPECT_LE(std::abs(got[i] - want[i]), tol * std::max(1.0, std::abs(want[i])))
        << what << " element " << i << ": got " << got[i] << ", want " << want[i];
}

double tol_for(DType d) { return d == DType::Float32 ? 2e-6 : 1e-13; }

class LossValues : public ::testing::TestWithParam<DType> {};

// ---- against direct formulas (computed in double from the same inputs) ----

TEST_P(LossValues, BceWithLogitsMatchesFormula) {
  const DType dt = GetParam();
  Generator g(11);
  Tensor x = random_leaf(g, {7, 5}, dt, -6.0, 6.0), t = random_leaf(g, {7, 5}, dt, 0.0, 1.0);
  Tensor loss = F::bce_with_logits(x, t);
  EXPECT_EQ(loss.dtype(), dt);
  EXPECT_EQ(loss.dim(), 0);
  loss.backward();
  const auto xv = vals(x), tv = vals(t);
  const double n = static_cast<double>(xv.size());
  double want = 0.0;
  std::vector<double> gx, gt;
  for (size_t i = 0; i < xv.size(); ++i) {
    const double sig = 1.0 / (1.0 + std::exp(-xv[i]));
    want += -(tv[i] * std::log(sig) + (1.0 - tv[i]) * std::log(1.0 - sig));  // the textbook form
    gx.push_back((sig - tv[i]) / n);
    gt.push_back(-xv[i] / n);
  }
  expect_close({loss.item()}, {want / n}, tol_for(dt) * 10, "loss");
  expect_close(vals(x.grad()), gx, tol_for(dt), "dL/dlogits");
  expect_close(vals(t.grad()), gt, tol_for(dt), "dL/dtargets");
}

TEST_P(LossValues, MseMatchesFormula) {
  const DType dt = GetParam();
  Generator g(12);
  Tensor x = random_leaf(g, {4, 3, 2}, dt, -2.0, 2.0), t = random_leaf(g, {4, 3, 2}, dt, -2.0, 2.0);
  Tensor loss = F::mse_loss(x, t);
  loss.backward();
  const auto xv = vals(x), tv = vals(t);
  const double n = static_cast<double>(xv.size());
  double want = 0.0;
  std::vector<double> gx, gt;
  for (size_t i = 0; i < xv.size(); ++i) {
    const double d = xv[i] - tv[i];
    want += d * d;
    gx.push_back(2.0 * d / n);
    gt.push_back(-2.0 * d / n);
  }
  expect_close({loss.item()}, {want / n}, tol_for(dt) * 10, "loss");
  expect_close(vals(x.grad()), gx, tol_for(dt), "dL/dinput");
  expect_close(vals(t.grad()), gt, tol_for(dt), "dL/dtarget");
}

TEST_P(LossValues, GaussianNllMatchesFormula) {
  const DType dt = GetParam();
  for (const bool homoscedastic : {false, true}) {
    for (const bool full : {false, true}) {
      Generator g(13);
      Tensor x = random_leaf(g, {3, 4}, dt, -2.0, 2.0), t = random_leaf(g, {3, 4}, dt, -2.0, 2.0);
      Tensor var = random_leaf(g, homoscedastic ? gan::Shape{3} : gan::Shape{3, 4}, dt, 0.2, 3.0);
      Tensor loss = F::gaussian_nll_loss(x, t, var, full);
      loss.backward();
      const auto xv = vals(x), tv = vals(t), vv = vals(var);
      const double n = 12.0;
      double want = 0.0;
      std::vector<double> gx, gt, gv(vv.size(), 0.0);
      for (size_t i = 0; i < xv.size(); ++i) {
        const size_t m = homoscedastic ? i / 4 : i;
        const double v = vv[m], d = xv[i] - tv[i];
        want += 0.5 * (std::log(v) + d * d / v) + (full ? 0.5 * std::log(2.0 * std::numbers::pi) : 0.0);
        gx.push_back(d / v / n);
        gt.push_back(-d / v / n);
        gv[m] += 0.5 * (1.0 / v - d * d / (v * v)) / n;
      }
      const std::string what = std::string(homoscedastic ? "homoscedastic" : "heteroscedastic") + (full ? " full" : "");
      expect_close({loss.item()}, {want / n}, tol_for(dt) * 10, what + " loss");
      expect_close(vals(x.grad()), gx, tol_for(dt), what + " dL/dinput");
      expect_close(vals(t.grad()), gt, tol_for(dt), what + " dL/dtarget");
      expect_close(vals(var.grad()), gv, tol_for(dt) * 10, what + " dL/dvar");
    }
  }
}

TEST_P(LossValues, KlNormalMatchesFormula) {
  const DType dt = GetParam();
  Generator g(14);
  Tensor mu = random_leaf(g, {5, 2, 3}, dt, -2.0, 2.0), lv = random_leaf(g, {5, 2, 3}, dt, -3.0, 2.0);
  Tensor loss = F::kl_normal(mu, lv);
  loss.backward();
  const auto m = vals(mu), l = vals(lv);
  const double batch = 5.0;
  double want = 0.0;
  std::vector<double> gm, gl;
  for (size_t i = 0; i < m.size(); ++i) {
    want += -0.5 * (1.0 + l[i] - m[i] * m[i] - std::exp(l[i]));
    gm.push_back(m[i] / batch);
    gl.push_back(0.5 * (std::exp(l[i]) - 1.0) / batch);
  }
  expect_close({loss.item()}, {want / batch}, tol_for(dt) * 10, "loss");
  expect_close(vals(mu.grad()), gm, tol_for(dt), "dL/dmu");
  expect_close(vals(lv.grad()), gl, tol_for(dt), "dL/dlogvar");
}

TEST_P(LossValues, WassersteinMatchesFormula) {
  const DType dt = GetParam();
  Generator g(15);
  Tensor real = random_leaf(g, {6, 1}, dt, -3.0, 3.0), fake = random_leaf(g, {4, 1}, dt, -3.0, 3.0);
  Tensor critic = F::wasserstein_critic_loss(real, fake);
  critic.backward();
  double mr = 0.0, mf = 0.0;
  for (double v : vals(real)) mr += v / 6.0;
  for (double v : vals(fake)) mf += v / 4.0;
  expect_close({critic.item()}, {mf - mr}, tol_for(dt) * 10, "critic loss");
  expect_close(vals(real.grad()), std::vector<double>(6, -1.0 / 6.0), tol_for(dt), "dL/dreal");
  expect_close(vals(fake.grad()), std::vector<double>(4, 0.25), tol_for(dt), "dL/dfake");

  fake.set_grad(Tensor());
  Tensor gen = F::wasserstein_generator_loss(fake);
  gen.backward();
  expect_close({gen.item()}, {-mf}, tol_for(dt) * 10, "generator loss");
  expect_close(vals(fake.grad()), std::vector<double>(4, -0.25), tol_for(dt), "dG/dfake");
}

INSTANTIATE_TEST_SUITE_P(Dtypes, LossValues, ::testing::Values(DType::Float32, DType::Float64),
                         [](const auto& info) { return std::string(gan::dtype_name(info.param)); });

// ---- hand-computed numbers ----

TEST(LossExact, BceAtZeroAndLog3) {
  Tensor x = leaf({0.0, 0.0}, {2}), t = leaf({1.0, 0.0}, {2});
  Tensor loss = F::bce_with_logits(x, t);
  loss.backward();
  EXPECT_NEAR(loss.item(), std::numbers::ln2, 1e-15);  // log(1 + e^0) whatever the target
  expect_close(vals(x.grad()), {-0.25, 0.25}, 1e-15, "dL/dx = (sigmoid(0) - t) / 2");
  expect_close(vals(t.grad()), {0.0, 0.0}, 1e-15, "dL/dt = -x / 2");

  // x = ln 3, t = 1: log(1 + e^-x) = log(4/3); sigmoid(ln 3) = 3/4.
  Tensor x2 = leaf({std::log(3.0)}, {1}), t2 = leaf({1.0}, {1});
  Tensor l2 = F::bce_with_logits(x2, t2);
  l2.backward();
  EXPECT_NEAR(l2.item(), std::log(4.0 / 3.0), 1e-15);
  EXPECT_NEAR(x2.grad().item(), -0.25, 1e-15);
  EXPECT_NEAR(t2.grad().item(), -std::log(3.0), 1e-15);
}

TEST(LossExact, MseWassersteinKl) {
  Tensor x = leaf({1.0, 2.0, 3.0}, {3}), t = leaf({0.0, 0.0, 0.0}, {3});
  Tensor mse = F::mse_loss(x, t);
  mse.backward();
  EXPECT_NEAR(mse.item(), 14.0 / 3.0, 1e-15);
  expect_close(vals(x.grad()), {2.0 / 3.0, 4.0 / 3.0, 2.0}, 1e-15, "mse dL/dx");

  Tensor real = leaf({1.0, 2.0, 3.0}, {3, 1}), fake = leaf({-1.0, 1.0}, {2, 1});
  EXPECT_EQ(F::wasserstein_critic_loss(real, fake).item(), -2.0);
  EXPECT_EQ(F::wasserstein_generator_loss(leaf({1.0, 2.0, 3.0, 4.0}, {4})).item(), -2.5);

  // One row: mu = (1, 0), logvar = (0, ln 2): 0.5 + 0.5 (1 - ln 2) = 1 - ln2 / 2.
  Tensor mu = leaf({1.0, 0.0}, {1, 2}), lv = leaf({0.0, std::numbers::ln2}, {1, 2});
  Tensor kl = F::kl_normal(mu, lv);
  kl.backward();
  EXPECT_NEAR(kl.item(), 1.0 - 0.5 * std::numbers::ln2, 1e-15);
  expect_close(vals(mu.grad()), {1.0, 0.0}, 1e-15, "kl dL/dmu");
  expect_close(vals(lv.grad()), {0.0, 0.5}, 1e-15, "kl dL/dlogvar");
  EXPECT_EQ(F::kl_normal(gan::zeros({3, 2}), gan::zeros({3, 2})).item(), 0.0);
}

TEST(LossExact, GaussianNll) {
  // x = 1, t = 3, var = 2: 0.5 (ln 2 + 4 / 2); d/dx = -1, d/dt = 1, d/dvar = 0.5 (1/2 - 4/4) = -0.25.
  Tensor x = leaf({1.0}, {1}), t = leaf({3.0}, {1}), v = leaf({2.0}, {1});
  Tensor loss = F::gaussian_nll_loss(x, t, v);
  loss.backward();
  EXPECT_NEAR(loss.item(), 0.5 * (std::numbers::ln2 + 2.0), 1e-15);
  EXPECT_NEAR(x.grad().item(), -1.0, 1e-15);
  EXPECT_NEAR(t.grad().item(), 1.0, 1e-15);
  EXPECT_NEAR(v.grad().item(), -0.25, 1e-15);
  EXPECT_NEAR(F::gaussian_nll_loss(x, t, v, /*full=*/true).item(),
              0.5 * (std::numbers::ln2 + 2.0) + 0.5 * std::log(2.0 * std::numbers::pi), 1e-15);
}

TEST(LossExact, GaussianNllClampIsInvisibleToAutograd) {
  // var = 0.25 below eps = 0.5: the loss uses 0.5, and (as PyTorch, which clamps under no_grad) the gradient
  // w.r.t. var is the unclamped formula's at 0.5: 0.5 (1/0.5 - 1/0.25) = -1, not 0.
  Tensor x = leaf({1.0}, {1}), t = leaf({0.0}, {1}), v = leaf({0.25}, {1});
  Tensor loss = F::gaussian_nll_loss(x, t, v, false, /*eps=*/0.5);
  loss.backward();
  EXPECT_NEAR(loss.item(), 0.5 * (std::log(0.5) + 2.0), 1e-15);
  EXPECT_NEAR(x.grad().item(), 2.0, 1e-15);
  EXPECT_NEAR(v.grad().item(), -1.0, 1e-15);
  // The default eps keeps a zero variance finite.
  Tensor zero_var = F::gaussian_nll_loss(gan::ones({2}), gan::ones({2}), gan::zeros({2}));
  EXPECT_NEAR(zero_var.item(), 0.5 * std::log(1e-6), 1e-6);
}

// ---- stability ----

TEST(LossStability, BceAtLogitsPlusMinus100) {
  for (const DType dt : {DType::Float32, DType::Float64}) {
    // (x, t): two confident right answers, two confident wrong ones.
    Tensor x = leaf({100.0, -100.0, 100.0, -100.0}, {4}, dt), t = leaf({1.0, 0.0, 0.0, 1.0}, {4}, dt);
    Tensor loss = F::bce_with_logits(x, t);
    loss.backward();
    const std::string name = gan::dtype_name(dt);
    ASSERT_TRUE(std::isfinite(loss.item())) << name;
    EXPECT_NEAR(loss.item(), 200.0 / 4.0, 1e-5) << name;  // the right answers cost ~e^-100 each
    const auto gx = vals(x.grad());
    for (double v : gx) ASSERT_TRUE(std::isfinite(v)) << name;
    expect_close(gx, {0.0, 0.0, 0.25, -0.25}, 1e-7, name + " dL/dx");
    // Per element, the confident right answer: log1p(e^-100) = 3.72e-44 (a float32 denormal, still not 0 or NaN).
    Tensor one = F::bce_with_logits(leaf({100.0}, {1}, dt), leaf({1.0}, {1}, dt));
    EXPECT_GE(one.item(), 0.0) << name;
    EXPECT_LT(one.item(), 1e-40) << name;
  }
}

// ---- errors ----

TEST(LossErrors, ShapeMismatchNamesLossAndShapes) {
  auto expect_msg = [](auto fn, const std::string& loss) {
    try {
      fn();
      ADD_FAILURE() << loss << ": no exception";
    } catch (const std::invalid_argument& e) {
      const std::string m = e.what();
      EXPECT_NE(m.find(loss), std::string::npos) << m;
      EXPECT_NE(m.find("[4, 1]"), std::string::npos) << m;
      EXPECT_NE(m.find("[4]"), std::string::npos) << m;
    }
  };
  const Tensor a = gan::zeros({4, 1}), b = gan::zeros({4});
  expect_msg([&] { F::bce_with_logits(a, b); }, "bce_with_logits");
  expect_msg([&] { F::mse_loss(a, b); }, "mse_loss");
  expect_msg([&] { F::kl_normal(a, b); }, "kl_normal");
  expect_msg([&] { F::gaussian_nll_loss(a, b, gan::ones({4, 1})); }, "gaussian_nll_loss");
  expect_msg([&] { F::gaussian_nll_loss(b, b, gan::ones({4, 1})); }, "gaussian_nll_loss");
}

TEST(LossErrors, OtherInvalidInputs) {
  EXPECT_THROW(F::gaussian_nll_loss(gan::ones({3}), gan::ones({3}), gan::full({3}, -1.0)), std::invalid_argument);
  EXPECT_THROW(F::gaussian_nll_loss(gan::ones({2, 3}), gan::ones({2, 3}), gan::ones({3})), std::invalid_argument);
  EXPECT_THROW(F::mse_loss(gan::ones({3}), gan::ones({3}, DType::Float64)), std::invalid_argument);
  EXPECT_THROW(F::bce_with_logits(gan::zeros({0}), gan::zeros({0})), std::invalid_argument);
  EXPECT_THROW(F::kl_normal(gan::zeros({}), gan::zeros({})), std::invalid_argument);
  EXPECT_THROW(F::wasserstein_generator_loss(gan::zeros({2}, DType::Int64)), std::invalid_argument);
}

// ---- behaviour ----

TEST(LossBehaviour, NoGraphWithoutGradOrUnderNoGrad) {
  Tensor x = leaf({0.5, -0.5}, {2}), t = gan::ones({2}, DType::Float64);
  EXPECT_FALSE(F::bce_with_logits(x.detach(), t).requires_grad());
  gan::NoGradGuard no_grad;
  EXPECT_FALSE(F::bce_with_logits(x, t).requires_grad());
  EXPECT_FALSE(F::wasserstein_critic_loss(x, x).requires_grad());
}

TEST(LossBehaviour, DeterministicAcrossThreadCounts) {
  Generator g(99);
  const int64_t n = (1 << 20) + 123;
  Tensor x = gan::randn({n}, DType::Float32, &g), t = gan::rand({n}, DType::Float32, &g);
  Tensor v = gan::rand({n}, DType::Float32, &g, 0.1, 2.0);
  const int saved = omp_get_max_threads();
  std::vector<std::vector<double>> runs;
  for (const int threads : {1, 2, 5}) {
    omp_set_num_threads(threads);
    runs.push_back({F::bce_with_logits(x, t).item(), F::mse_loss(x, t).item(), F::gaussian_nll_loss(x, t, v).item(),
                    F::kl_normal(x.reshape({-1, 1}), t.reshape({-1, 1})).item(),
                    F::wasserstein_critic_loss(x, t).item()});
  }
  omp_set_num_threads(saved);
  EXPECT_EQ(runs[0], runs[1]);
  EXPECT_EQ(runs[0], runs[2]);
}

TEST(LossBehaviour, FusedLossDoubleBackwardByHand) {
  // L = mean(bce(x^2, 1)) = mean(softplus(-x^2)): dL/dx_i = (s_i - 1) 2 x_i / N with s = sigmoid(x^2), and
  // d(sum dL/dx)/dx_i = (4 x_i^2 s_i (1 - s_i) + 2 (s_i - 1)) / N.
  const std::vector<double> xv = {0.3, -0.7, 1.2};
  Tensor x = leaf(xv, {3}), t = gan::ones({3}, DType::Float64);
  Tensor loss = F::bce_with_logits(x * x, t);
  const Tensor gx = gan::grad({loss}, {x}, {}, /*create_graph=*/true)[0];
  const Tensor hx = gan::grad({gx.sum()}, {x})[0];
  std::vector<double> want_g, want_h;
  for (double v : xv) {
    const double s = 1.0 / (1.0 + std::exp(-v * v));
    want_g.push_back((s - 1.0) * 2.0 * v / 3.0);
    want_h.push_back((4.0 * v * v * s * (1.0 - s) + 2.0 * (s - 1.0)) / 3.0);
  }
  expect_close(vals(gx), want_g, 1e-14, "dL/dx");
  expect_close(vals(hx), want_h, 1e-14, "d(sum dL/dx)/dx");
}

TEST(LossBehaviour, WassersteinCriticLossWithGradientPenalty) {
  // A WGAN-GP critic step on D(x) = tanh(x w): L = W(real, fake) + lambda (|dD/dx| - 1)^2 at an interpolate.
  // Differentiating L w.r.t. w goes through the backward of D (double backward) and must match finite differences.
  Tensor real = gan::from_vector<double>({0.5, -1.0, 2.0, 0.3}, {2, 2});
  Tensor fake = gan::from_vector<double>({-0.2, 0.4, 1.1, -0.6}, {2, 2});
  auto critic_loss = [&](const Tensor& w) {
    auto D = [&](const Tensor& in) { return gan::tanh(gan::matmul(in, w)); };
    Tensor xi = (real * 0.3 + fake * 0.7).detach();
    xi.requires_grad_(true);
    const Tensor gx = gan::grad({D(xi).sum()}, {xi}, {}, /*create_graph=*/true)[0];
    const Tensor norm = gan::sqrt(gan::sum(gx * gx, {1}) + 1e-12);
    return F::wasserstein_critic_loss(D(real), D(fake)) + 10.0 * gan::mean(gan::pow(norm - 1.0, 2.0));
  };
  Tensor w = leaf({0.7, -0.4}, {2, 1});
  critic_loss(w).backward();
  const auto analytic = vals(w.grad());
  const auto wv = vals(w);
  for (size_t i = 0; i < wv.size(); ++i) {
    const double h = 1e-6;
    auto at = [&](double delta) {
      std::vector<double> p = wv;
      p[i] += delta;
      return critic_loss(leaf(p, {2, 1})).item();
    };
    EXPECT_NEAR(analytic[i], (at(h) - at(-h)) / (2 * h), 1e-6) << "dL/dw[" << i << "]";
  }
}

TEST(LossBehaviour, AcceptsNonContiguousInputs) {
  Tensor x = gan::from_vector<double>({1.0, 2.0, 3.0, 4.0, 5.0, 6.0}, {2, 3});
  Tensor t = gan::from_vector<double>({0.0, 1.0, 0.0, 1.0, 0.0, 1.0}, {3, 2});
  EXPECT_DOUBLE_EQ(F::mse_loss(x.t(), t).item(), F::mse_loss(x.t().contiguous(), t).item());
  EXPECT_DOUBLE_EQ(F::bce_with_logits(x.t(), t).item(), F::bce_with_logits(x.t().contiguous(), t).item());
}

}  // namespace
