// Golden tests for the GAN-field ops: the engine against PyTorch 1.13 (tests/golden/data/gan_ops.safetensors,
// written by make_gan_ops in tests/golden/make_golden.py; float32, CPU).
//
//   spectral norm   Linear, Conv2d, ConvTranspose2d: PyTorch's state dict loaded strictly by name, two training
//                   forwards (power iteration), the gradients of the first, the updated u/v, an eval forward
//   R1 / R2         the penalty and its gradients w.r.t. the critic's parameters, MLP (leaky_relu) and conv critic
//   interpolate     nearest (x2, sizes, fractional scale factors, downsampling), bilinear (align_corners both ways,
//                   scale factors, downsampling, output size 1): output and input gradient; 48 random
//                   configurations of interpolate and avg_pool2d in float64
//   avg_pool2d      kernel/stride/padding, count_include_pad, ceil_mode, rectangular, divisor_override
//   instance norm   defaults; affine + running stats (train step, eval)
//   conditional BN  per-class gain/bias from an embedding over a non-affine batch norm
//   optimizers      AdamW (custom and default settings), and two parameter groups with different settings for
//                   AdamW, Adam, SGD and RMSprop: three steps fed fixed gradients
#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/golden_util.h"
#include "engine/autograd.h"
#include "engine/nn/functional.h"
#include "engine/nn/gan_layers.h"
#include "engine/nn/layers.h"
#include "engine/nn/parametrize.h"
#include "engine/nn/spectral_norm.h"
#include "engine/ops.h"
#include "engine/optim/optimizers.h"

namespace {

using gan::DType;
using gan::Tensor;
namespace F = gan::nn::functional;
namespace nn = gan::nn;
namespace optim = gan::optim;
using gan::testing::golden;
using gan::testing::golden_with_prefix;

Tensor leaf(const Tensor& t) { return gan::testing::golden_leaf(t); }

// ---- tolerances (reasons as in test_golden.cpp) ----
// One op or a short chain in float32: a few ulps of the largest magnitudes from a different summation order.
constexpr double kOpTol = 1e-5;
// Batch-norm-style gradients (instance norm, conditional BN): two reductions subtracted, amplified by 1/sigma.
constexpr double kNormGradTol = 2e-5;
// Spectral norm: sigma comes from a power iteration (normalizations of mat-vec products) and divides the whole
// weight, so the output carries the rounding of those reductions as well; still a few ulps.
constexpr double kSpectralTol = 2e-5;
// R1's gradients are third-order chains (forward, input gradient, its derivative w.r.t. the parameters).
constexpr double kPenaltyTol = 2e-5;
// Optimizer updates: element-wise, 3 steps, float32 on both sides (PyTorch may fuse a multiply-add).
constexpr double kOptimTol = 1e-6;
// Resampling in float64: sums of at most a few dozen terms, so a few double ulps.
constexpr double kFloat64Tol = 1e-12;

const gan::NamedTensors& data() { return golden("gan_ops.safetensors"); }
const Tensor& at(const std::string& name) { return data().at(name); }

// A gradient PyTorch reports as zeros may be undefined here (no path from the output).
Tensor grad_or_zeros(const Tensor& t) { return t.grad().defined() ? t.grad() : gan::zeros_like(t); }

// ===============================================================================================================
// spectral norm
// ===============================================================================================================
class GoldenSpectralNorm : public ::testing::TestWithParam<std::string> {};

TEST_P(GoldenSpectralNorm, TrainStepsGradientsStateAndEval) {
  const std::string c = GetParam();
  std::shared_ptr<nn::Module> m;
  Tensor weight, bias;
  if (c == "sn_linear") {
    auto l = std::make_shared<nn::Linear>(5, 4);
    m = l, weight = l->weight, bias = l->bias;
  } else if (c == "sn_conv") {
    auto l = std::make_shared<nn::Conv2d>(3, 4, 3, 1, 1);
    m = l, weight = l->weight, bias = l->bias;
  } else {
    auto l = std::make_shared<nn::ConvTranspose2d>(4, 3, 4, 2, 1);
    m = l, weight = l->weight, bias = l->bias;
  }
  const int64_t iters = at(c + ".iters").to_vector<int64_t>()[0];
  nn::spectral_norm(*m, "weight", {.n_power_iterations = iters});
  // PyTorch's state dict, by PyTorch's names, strictly: the checkpoint layouts agree.
  std::vector<std::string> names;
  for (const auto& [n, t] : m->state_dict()) names.push_back(n);
  EXPECT_EQ(names, (std::vector<std::string>{"bias", "parametrizations.weight.original", "parametrizations.weight.0._u",
                                             "parametrizations.weight.0._v"}));
  m->load_state_dict(golden_with_prefix(data(), c + ".init."));
  auto sn = std::dynamic_pointer_cast<nn::SpectralNorm>(nn::parametrization_of(*m, "weight"));
  ASSERT_NE(sn, nullptr);
  EXPECT_EQ(sn->dim, c == "sn_convt" ? 1 : 0);

  m->train();
  Tensor x1 = leaf(at(c + ".x1"));
  Tensor y1 = m->forward(x1);
  EXPECT_GOLDEN(c + ".y1", y1, at(c + ".y1"), kSpectralTol);
  EXPECT_GOLDEN(c + ".u1", sn->u, at(c + ".u1"), kSpectralTol);
  EXPECT_GOLDEN(c + ".v1", sn->v, at(c + ".v1"), kSpectralTol);
  y1.backward(at(c + ".grad_y1"));
  EXPECT_GOLDEN(c + ".grad_x1", x1.grad(), at(c + ".grad_x1"), kSpectralTol);
  EXPECT_GOLDEN(c + ".grad_original", weight.grad(), at(c + ".grad_original"), kSpectralTol);
  EXPECT_GOLDEN(c + ".grad_bias", bias.grad(), at(c + ".grad_bias"), kSpectralTol);
  EXPECT_GOLDEN(c + ".y2", m->forward(at(c + ".x2")), at(c + ".y2"), kSpectralTol);

  m->eval();
  gan::NoGradGuard no_grad;
  EXPECT_GOLDEN(c + ".y3_eval", m->forward(at(c + ".x3")), at(c + ".y3_eval"), kSpectralTol);
  EXPECT_GOLDEN(c + ".weight_eval", m->parametrized("weight", weight), at(c + ".weight_eval"), kSpectralTol);
  EXPECT_GOLDEN(c + ".u3 (eval leaves u alone)", sn->u, at(c + ".u3"), kSpectralTol);
}

INSTANTIATE_TEST_SUITE_P(Layers, GoldenSpectralNorm, ::testing::Values("sn_linear", "sn_conv", "sn_convt"),
                         [](const auto& info) { return info.param; });

// ===============================================================================================================
// R1 / R2
// ===============================================================================================================
class GoldenPenalty : public ::testing::TestWithParam<std::string> {};

TEST_P(GoldenPenalty, ValueAndCriticGradients) {
  const std::string c = GetParam();
  auto D = std::make_shared<nn::Sequential>();
  if (c == "r1_mlp") {
    D->add(std::make_shared<nn::Linear>(6, 8));
    D->add(std::make_shared<nn::LeakyReLU>(0.2));
    D->add(std::make_shared<nn::Linear>(8, 1));
  } else {
    D->add(std::make_shared<nn::Conv2d>(2, 3, 3, 1, 1));
    D->add(std::make_shared<nn::Tanh>());
    D->add(std::make_shared<nn::Flatten>());
    D->add(std::make_shared<nn::Linear>(48, 1));
  }
  D->load_state_dict(golden_with_prefix(data(), c + ".D."));
  const double gamma = at("r1.gamma").item();
  const F::Discriminator critic = [&](const Tensor& x) { return D->forward(x); };
  for (const std::string which : {"real", "fake"}) {
    const std::string p = c + "." + which;
    const Tensor x = at(p + ".x");
    D->zero_grad();
    Tensor penalty = which == "real" ? F::r1_penalty(critic, x, gamma) : F::r2_penalty(critic, x, gamma);
    EXPECT_GOLDEN(p + ".penalty", penalty, at(p + ".penalty"), kPenaltyTol);
    penalty.backward();
    for (const auto& [name, t] : D->named_parameters())
      EXPECT_GOLDEN(p + ".grad." + name, grad_or_zeros(t), at(p + ".grad." + name), kPenaltyTol);
  }
}

INSTANTIATE_TEST_SUITE_P(Critics, GoldenPenalty, ::testing::Values("r1_mlp", "r1_conv"),
                         [](const auto& info) { return info.param; });

// ===============================================================================================================
// interpolate and avg_pool2d
// ===============================================================================================================
// Runs y = op(x) from a golden x, checks y and the input gradient of <grad_y, y>.
void check_linear_map(const std::string& prefix, const Tensor& x0, const std::function<Tensor(const Tensor&)>& op,
                      double tol = kOpTol) {
  Tensor x = leaf(x0);
  Tensor y = op(x);
  EXPECT_GOLDEN(prefix + ".y", y, at(prefix + ".y"), tol);
  y.backward(at(prefix + ".grad_y"));
  EXPECT_GOLDEN(prefix + ".grad_x", x.grad(), at(prefix + ".grad_x"), tol);
}

TEST(GoldenInterpolate, NearestAndBilinear) {
  using M = F::InterpolateMode;
  const std::vector<std::pair<std::string, F::InterpolateArgs>> cases = {
      {"nearest_x2", {.scale_factor = {2, 2}}},
      {"nearest_size", {.size = {7, 9}}},
      {"nearest_scale", {.scale_factor = {1.5, 2.25}}},
      {"nearest_down", {.size = {3, 2}}},
      {"bilinear_x2", {.scale_factor = {2, 2}, .mode = M::Bilinear}},
      {"bilinear_align", {.size = {7, 9}, .mode = M::Bilinear, .align_corners = true}},
      {"bilinear_scale", {.scale_factor = {1.7, 0.8}, .mode = M::Bilinear}},
      {"bilinear_down", {.size = {3, 3}, .mode = M::Bilinear}},
      {"bilinear_align_one", {.size = {1, 6}, .mode = M::Bilinear, .align_corners = true}},
  };
  for (const auto& [name, args] : cases)
    check_linear_map("interp." + name, at("interp.x"), [&](const Tensor& x) { return F::interpolate(x, args); });
}

// A scale factor that is not exactly 1 or 2 but gives out == in or out == 2 in: PyTorch's NCHW forward reads
// floor(o / factor) (its backward does not, and is not the adjoint there): the forward is compared.
TEST(GoldenInterpolate, NearestFactorThatRoundsToTheSameOrDoubleSize) {
  EXPECT_GOLDEN("interp_edge.y", F::interpolate(at("interp_edge.x"), {.scale_factor = {1.1, 2.1}}),
                at("interp_edge.y"), kOpTol);
}

// 48 random configurations of interpolate and avg_pool2d in float64 (the file's metadata lists them).
TEST(GoldenResample, RandomConfigurationsFloat64) {
  const nlohmann::json cases = nlohmann::json::parse(data().metadata.at("fuzz"));
  ASSERT_EQ(cases.size(), 48u);
  for (size_t i = 0; i < cases.size(); ++i) {
    const nlohmann::json& c = cases[i];
    SCOPED_TRACE(c.dump());
    const std::string kind = c.at("kind");
    std::function<Tensor(const Tensor&)> op;
    if (kind == "pool") {
      const nlohmann::json& divisor = c["divisor_override"];  // null: none
      const F::AvgPool2dArgs a{.kernel_size = {c["kernel_size"][0], c["kernel_size"][1]},
                               .stride = {c["stride"][0], c["stride"][1]},
                               .padding = {c["padding"][0], c["padding"][1]},
                               .ceil_mode = c["ceil_mode"],
                               .count_include_pad = c["count_include_pad"],
                               .divisor_override = divisor.is_null() ? 0 : divisor.get<int64_t>()};
      op = [a](const Tensor& x) { return F::avg_pool2d(x, a); };
    } else {
      F::InterpolateArgs a;
      a.mode = kind == "bilinear" ? F::InterpolateMode::Bilinear : F::InterpolateMode::Nearest;
      a.align_corners = c.value("align_corners", false);
      if (c.contains("size")) a.size = {c["size"][0], c["size"][1]};
      else a.scale_factor = {c["scale_factor"][0], c["scale_factor"][1]};
      op = [a](const Tensor& x) { return F::interpolate(x, a); };
    }
    check_linear_map("fuzz." + std::to_string(i), at("fuzz." + std::to_string(i) + ".x"), op, kFloat64Tol);
  }
}

TEST(GoldenAvgPool, KernelStridePaddingModes) {
  const std::vector<std::pair<std::string, F::AvgPool2dArgs>> cases = {
      {"k2", {.kernel_size = {2, 2}}},
      {"k3s2p1", {.kernel_size = {3, 3}, .stride = {2, 2}, .padding = {1, 1}}},
      {"k3s2p1_nopad", {.kernel_size = {3, 3}, .stride = {2, 2}, .padding = {1, 1}, .count_include_pad = false}},
      {"k3s2p1_ceil", {.kernel_size = {3, 3}, .stride = {2, 2}, .padding = {1, 1}, .ceil_mode = true}},
      {"k3s2_ceil_nopad",
       {.kernel_size = {3, 3}, .stride = {2, 2}, .padding = {1, 1}, .ceil_mode = true, .count_include_pad = false}},
      {"rect", {.kernel_size = {3, 2}, .stride = {2, 1}, .padding = {1, 0}}},
      {"divisor", {.kernel_size = {3, 3}, .stride = {2, 2}, .padding = {1, 1}, .divisor_override = 5}},
  };
  for (const auto& [name, args] : cases)
    check_linear_map("pool." + name, at("pool.x"), [&](const Tensor& x) { return F::avg_pool2d(x, args); });
}

// ===============================================================================================================
// instance norm, conditional batch norm
// ===============================================================================================================
TEST(GoldenInstanceNorm, DefaultsNoAffineNoRunningStats) {
  nn::InstanceNorm2d m(3);
  EXPECT_TRUE(m.state_dict().empty());
  Tensor x = leaf(at("inorm.x"));
  Tensor y = m.forward(x);
  EXPECT_GOLDEN("inorm.y", y, at("inorm.y"), kOpTol);
  y.backward(at("inorm.grad_y"));
  EXPECT_GOLDEN("inorm.grad_x", x.grad(), at("inorm.grad_x"), kNormGradTol);
}

TEST(GoldenInstanceNorm, AffineWithRunningStats) {
  nn::InstanceNorm2d m(3, 1e-5, 0.1, /*affine=*/true, /*track_running_stats=*/true);
  {
    gan::NoGradGuard no_grad;
    gan::copy_(m.weight, at("inorm_affine.weight"));
    gan::copy_(m.bias, at("inorm_affine.bias"));
  }
  Tensor x = leaf(at("inorm_affine.x"));
  Tensor y = m.forward(x);
  EXPECT_GOLDEN("inorm_affine.y", y, at("inorm_affine.y"), kOpTol);
  y.backward(at("inorm_affine.grad_y"));
  EXPECT_GOLDEN("inorm_affine.grad_x", x.grad(), at("inorm_affine.grad_x"), kNormGradTol);
  EXPECT_GOLDEN("inorm_affine.grad_weight", m.weight.grad(), at("inorm_affine.grad_weight"), kNormGradTol);
  EXPECT_GOLDEN("inorm_affine.grad_bias", m.bias.grad(), at("inorm_affine.grad_bias"), kNormGradTol);
  EXPECT_GOLDEN("inorm_affine.running_mean", m.running_mean, at("inorm_affine.running_mean"), kOpTol);
  EXPECT_GOLDEN("inorm_affine.running_var", m.running_var, at("inorm_affine.running_var"), kOpTol);
  EXPECT_EQ(m.num_batches_tracked.item(), 0.0);  // PyTorch's InstanceNorm leaves it at 0
  m.eval();
  EXPECT_GOLDEN("inorm_affine.y3_eval", m.forward(at("inorm_affine.x3")), at("inorm_affine.y3_eval"), kOpTol);
}

TEST(GoldenConditionalBatchNorm, TrainStepThenEval) {
  nn::ConditionalBatchNorm2d m(3, 4);
  m.load_state_dict({{"embed.weight", at("cbn.embed.weight")},
                     {"bn.running_mean", gan::zeros({3})},
                     {"bn.running_var", gan::ones({3})},
                     {"bn.num_batches_tracked", gan::zeros({}, DType::Int64)}});
  Tensor x = leaf(at("cbn.x"));
  const Tensor labels = at("cbn.labels");
  Tensor y = m.forward(x, labels);
  EXPECT_GOLDEN("cbn.y", y, at("cbn.y"), kOpTol);
  y.backward(at("cbn.grad_y"));
  EXPECT_GOLDEN("cbn.grad_x", x.grad(), at("cbn.grad_x"), kNormGradTol);
  EXPECT_GOLDEN("cbn.grad_embed", m.embed->weight.grad(), at("cbn.grad_embed"), kNormGradTol);
  EXPECT_GOLDEN("cbn.running_mean", m.bn->running_mean, at("cbn.running_mean"), kOpTol);
  EXPECT_GOLDEN("cbn.running_var", m.bn->running_var, at("cbn.running_var"), kOpTol);
  m.eval();
  EXPECT_GOLDEN("cbn.y3_eval", m.forward(at("cbn.x3"), labels), at("cbn.y3_eval"), kOpTol);
}

// ===============================================================================================================
// optimizers
// ===============================================================================================================
// Three steps of `opt` on parameters a [3, 4] and b [5] fed the golden gradients; each step against PyTorch.
void run_steps(const std::string& name, optim::Optimizer& opt, const Tensor& a, const Tensor& b) {
  for (int k = 1; k <= 3; ++k) {
    const std::string s = std::to_string(k);
    opt.zero_grad();
    a.set_grad(at("opt.grad_a" + s).clone());
    b.set_grad(at("opt.grad_b" + s).clone());
    opt.step();
    EXPECT_GOLDEN("opt." + name + ".a" + s, a, at("opt." + name + ".a" + s), kOptimTol);
    EXPECT_GOLDEN("opt." + name + ".b" + s, b, at("opt." + name + ".b" + s), kOptimTol);
  }
}

struct Params {
  Tensor a = leaf(at("opt.a0")), b = leaf(at("opt.b0"));
  optim::NamedTensors both() const { return {{"a", a}, {"b", b}}; }
  optim::NamedTensors only_a() const { return {{"a", a}}; }
  optim::NamedTensors only_b() const { return {{"b", b}}; }
};

TEST(GoldenOptimGanOps, AdamW) {
  Params p;
  optim::AdamW opt(p.both(), {.lr = 1e-2, .beta1 = 0.8, .beta2 = 0.99, .weight_decay = 0.1});
  run_steps("adamw", opt, p.a, p.b);
}

TEST(GoldenOptimGanOps, AdamWDefaults) {
  Params p;
  optim::AdamW opt(p.both());
  run_steps("adamw_default", opt, p.a, p.b);
}

TEST(GoldenOptimGanOps, AdamWGroups) {
  Params p;
  optim::AdamW opt({{p.only_a(), {.lr = 1e-2, .weight_decay = 0.05}},
                    {p.only_b(), {.lr = 3e-2, .beta1 = 0.5, .beta2 = 0.9, .eps = 1e-6, .weight_decay = 0.0}}});
  run_steps("adamw_groups", opt, p.a, p.b);
}

TEST(GoldenOptimGanOps, AdamGroups) {
  Params p;
  optim::Adam opt({{p.only_a(), {.lr = 1e-2, .beta1 = 0.5}}, {p.only_b(), {.lr = 2e-3, .weight_decay = 0.1}}});
  run_steps("adam_groups", opt, p.a, p.b);
}

TEST(GoldenOptimGanOps, SgdGroups) {
  Params p;
  optim::SGD opt({{p.only_a(), {.lr = 0.1, .momentum = 0.9, .nesterov = true}},
                  {p.only_b(), {.lr = 0.05, .weight_decay = 1e-2}}});
  run_steps("sgd_groups", opt, p.a, p.b);
}

TEST(GoldenOptimGanOps, RmspropGroups) {
  Params p;
  optim::RMSprop opt({{p.only_a(), {.lr = 1e-2, .momentum = 0.9}},
                      {p.only_b(), {.lr = 3e-3, .alpha = 0.9, .centered = true}}});
  run_steps("rmsprop_groups", opt, p.a, p.b);
}

}  // namespace
