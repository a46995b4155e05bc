// Double backward end to end: the WGAN-GP gradient penalty (Gulrajani et al. 2017) on a tiny conv critic
// (conv, leaky_relu, linear; no batch norm). The penalty differentiates the critic w.r.t. its input with
// create_graph, so d(penalty)/d(weights) runs backward through a backward pass; finite differences in float64
// check it.
#include <gtest/gtest.h>

#include "engine/gradcheck.h"
#include "engine/nn/functional.h"

namespace gan {
namespace {

namespace F = nn::functional;

// inputs: conv weight [2,1,3,3], conv bias [2], linear weight [1,18], linear bias [1], real, fake [B,1,5,5],
// per-sample mixing eps [B,1,1,1].
Tensor penalty(const std::vector<Tensor>& in) {
  const Tensor &w1 = in[0], &b1 = in[1], &w2 = in[2], &b2 = in[3], &real = in[4], &fake = in[5], &eps = in[6];
  auto critic = [&](const Tensor& x) {
    Tensor h = leaky_relu(F::conv2d(x, w1, b1, {.stride = 2, .padding = 1}), 0.2);
    return F::linear(flatten(h, 1), w2, b2);
  };
  Tensor x_hat = (eps * real + (1.0 - eps) * fake).detach();
  x_hat.requires_grad_(true);
  Tensor scores = critic(x_hat);
  Tensor g = grad({scores}, {x_hat}, {ones_like(scores)}, /*create_graph=*/true)[0];
  Tensor norm = sqrt(sum(g * g, {1, 2, 3}) + 1e-12);
  return mean(pow(norm - 1.0, 2.0)) * 10.0;  // lambda = 10
}

std::vector<Tensor> make_inputs(uint64_t seed, int64_t batch) {
  Generator gen(seed);
  auto param = [&](const Shape& s) {
    Tensor t = randn(s, DType::Float64, &gen, 0.0, 0.5);
    t.requires_grad_(true);
    return t;
  };
  Tensor w1 = param({2, 1, 3, 3}), b1 = param({2}), w2 = param({1, 18}), b2 = param({1});
  Tensor real = rand({batch, 1, 5, 5}, DType::Float64, &gen, -1.0, 1.0);
  Tensor fake = rand({batch, 1, 5, 5}, DType::Float64, &gen, -1.0, 1.0);
  Tensor eps = rand({batch, 1, 1, 1}, DType::Float64, &gen);
  return {w1, b1, w2, b2, real, fake, eps};
}

TEST(WganGpPenalty, GradientWrtCriticWeightsMatchesFiniteDifferences) {
  for (uint64_t seed : {1u, 2u, 3u}) {
    const GradcheckResult r = gradcheck(penalty, make_inputs(seed, 3));
    EXPECT_TRUE(r.ok) << "seed " << seed << ": " << r.message;
  }
}

TEST(WganGpPenalty, PenaltyGradientIsNonZero) {
  // Guards against a check that passes because everything is zero.
  std::vector<Tensor> in = make_inputs(4, 2);
  Tensor p = penalty(in);
  std::vector<Tensor> g = grad({p}, {in[0], in[2]});
  double total = 0.0;
  for (const Tensor& t : g)
    for (double v : t.to_vector<double>()) total += std::abs(v);
  EXPECT_GT(p.item(), 0.0);
  EXPECT_GT(total, 1e-6);
}

}  // namespace
}  // namespace gan
