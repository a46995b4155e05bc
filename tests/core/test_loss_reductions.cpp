// Loss reductions ('mean', 'sum', 'none', PyTorch's reduction=) and the hinge loss: 'none' gives the per-element
// terms in the input's shape, their sum is 'sum' and their mean 'mean' (the batch mean for kl_normal); the hinge
// critic and generator losses against hand-computed values; clear errors for unpairable batches.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <stdexcept>
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
using R = F::Reduction;

struct ReducedLoss {
  std::string name;
  std::function<Tensor(R)> fn;
  double mean_divisor;  // what 'mean' divides the sum by
  gan::Shape terms_shape;
};

std::vector<ReducedLoss> losses(DType dtype) {
  Generator gen(21);
  const Tensor x = gan::randn({3, 4}, dtype, &gen), t = gan::rand({3, 4}, dtype, &gen);
  const Tensor var = gan::rand({3}, dtype, &gen, 0.5, 2.0), mu = gan::randn({2, 5}, dtype, &gen);
  const Tensor lv = gan::randn({2, 5}, dtype, &gen), labels = gan::from_vector<int64_t>({3, 0, 2}, {3});
  return {
      {"bce_with_logits", [=](R r) { return F::bce_with_logits(x, t, r); }, 12, {3, 4}},
      {"mse_loss", [=](R r) { return F::mse_loss(x, t, r); }, 12, {3, 4}},
      {"gaussian_nll_loss", [=](R r) { return F::gaussian_nll_loss(x, t, var, false, 1e-6, r); }, 12, {3, 4}},
      {"gaussian_nll_loss/full", [=](R r) { return F::gaussian_nll_loss(x, t, var, true, 1e-6, r); }, 12, {3, 4}},
      {"kl_normal", [=](R r) { return F::kl_normal(mu, lv, r); }, 2, {2, 5}},
      {"cross_entropy", [=](R r) { return F::cross_entropy(x, labels, r); }, 3, {3}},
      {"wasserstein_critic_loss", [=](R r) { return F::wasserstein_critic_loss(x, t, r); }, 12, {3, 4}},
      {"wasserstein_generator_loss", [=](R r) { return F::wasserstein_generator_loss(x, r); }, 12, {3, 4}},
      {"hinge_critic_loss", [=](R r) { return F::hinge_critic_loss(x, t * 2.0 - 1.0, r); }, 12, {3, 4}},
      {"hinge_generator_loss", [=](R r) { return F::hinge_generator_loss(x, r); }, 12, {3, 4}},
  };
}

TEST(LossReduction, NoneGivesTheTermsWhoseSumAndMeanAreTheOtherReductions) {
  for (DType dtype : {DType::Float64, DType::Float32}) {
    const double tol = dtype == DType::Float64 ? 1e-13 : 1e-5;
    for (const ReducedLoss& l : losses(dtype)) {
      SCOPED_TRACE(l.name + (dtype == DType::Float64 ? " float64" : " float32"));
      const Tensor terms = l.fn(R::None), total = l.fn(R::Sum), mean = l.fn(R::Mean);
      ASSERT_EQ(terms.shape(), l.terms_shape);
      EXPECT_EQ(total.dim(), 0);
      EXPECT_EQ(mean.dim(), 0);
      const double s = gan::sum(terms.to(DType::Float64)).item();
      EXPECT_NEAR(total.item(), s, tol * (1.0 + std::abs(s)));
      EXPECT_NEAR(mean.item(), s / l.mean_divisor, tol * (1.0 + std::abs(s)));
    }
  }
}

// The gradient of every reduction is the gradient of the terms, reduced the same way.
TEST(LossReduction, GradientsFollowTheReduction) {
  Generator gen(22);
  Tensor x = gan::randn({4, 3}, DType::Float64, &gen), t = gan::rand({4, 3}, DType::Float64, &gen);
  x.requires_grad_(true);
  const Tensor v = gan::randn({4, 3}, DType::Float64, &gen);
  const Tensor g_none = gan::grad({F::bce_with_logits(x, t, R::None)}, {x}, {v})[0];
  const Tensor g_sum = gan::grad({F::bce_with_logits(x, t, R::Sum)}, {x})[0];
  const Tensor g_mean = gan::grad({F::bce_with_logits(x, t, R::Mean)}, {x})[0];
  const std::vector<double> gn = g_none.to_vector<double>(), gs = g_sum.to_vector<double>(),
                            gm = g_mean.to_vector<double>(), vv = v.to_vector<double>();
  for (size_t i = 0; i < gn.size(); ++i) {
    EXPECT_NEAR(gn[i], gs[i] * vv[i], 1e-15);
    EXPECT_NEAR(gm[i], gs[i] / 12.0, 1e-15);
  }
}

TEST(HingeLoss, ValuesAndGradientsByHand) {
  // real {2, 0.5, -1}: relu(1 - r) = {0, 0.5, 2}, mean 5/6; fake {-3, 0, 0.25, 1}: relu(1 + f) = {0, 1, 1.25, 2},
  // mean 17/16. d/dreal = -[r < 1] / 3, d/dfake = [f > -1] / 4.
  Tensor real = gan::from_vector<double>({2.0, 0.5, -1.0}, {3});
  Tensor fake = gan::from_vector<double>({-3.0, 0.0, 0.25, 1.0}, {4, 1});
  real.requires_grad_(true);
  fake.requires_grad_(true);
  const Tensor loss = F::hinge_critic_loss(real, fake);
  EXPECT_NEAR(loss.item(), 5.0 / 6.0 + 17.0 / 16.0, 1e-15);
  const std::vector<Tensor> g = gan::grad({loss}, {real, fake});
  EXPECT_EQ(g[0].to_vector<double>(), (std::vector<double>{0.0, -1.0 / 3.0, -1.0 / 3.0}));
  EXPECT_EQ(g[1].to_vector<double>(), (std::vector<double>{0.0, 0.25, 0.25, 0.25}));
  EXPECT_NEAR(F::hinge_critic_loss(real, fake, R::Sum).item(), 2.5 + 4.25, 1e-15);
  // Generator: -mean(fake) = -(-1.75) / 4.
  const Tensor lg = F::hinge_generator_loss(fake);
  EXPECT_NEAR(lg.item(), 1.75 / 4.0, 1e-15);
  EXPECT_EQ(gan::grad({lg}, {fake})[0].to_vector<double>(), std::vector<double>(4, -0.25));
}

TEST(HingeLoss, FloatMatchesDouble) {
  Generator gen(23);
  const Tensor r = gan::randn({64, 1}, DType::Float64, &gen) * 2.0, f = gan::randn({48, 1}, DType::Float64, &gen);
  const double d = F::hinge_critic_loss(r, f).item();
  const double s = F::hinge_critic_loss(r.to(DType::Float32), f.to(DType::Float32)).item();
  EXPECT_NEAR(s, d, 1e-6 * (1.0 + std::abs(d)));
}

TEST(LossReduction, NoneNeedsPairableBatches) {
  const Tensor a = gan::zeros({3, 1}), b = gan::zeros({4, 1});
  for (const auto& call : std::vector<std::function<void()>>{
           [&] { F::wasserstein_critic_loss(a, b, R::None); }, [&] { F::hinge_critic_loss(a, b, R::None); }}) {
    try {
      call();
      ADD_FAILURE() << "unpairable batches with reduction 'none' did not throw";
    } catch (const std::invalid_argument& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find("'none'"), std::string::npos) << what;
      EXPECT_NE(what.find("[3, 1]"), std::string::npos) << what;
      EXPECT_NE(what.find("[4, 1]"), std::string::npos) << what;
    }
  }
  // Different batch sizes are fine with 'mean' and 'sum'.
  EXPECT_NO_THROW(F::hinge_critic_loss(a, b, R::Sum));
  EXPECT_STREQ(F::reduction_name(R::None), "none");
}

}  // namespace
