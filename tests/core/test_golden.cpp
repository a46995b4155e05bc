// Golden tests: the engine against values PyTorch computed once (tests/golden/make_golden.py, run with Debian's
// python3-torch 1.13, float32, CPU; the data files under tests/golden/data/ are committed, so this test needs
// neither Python nor torch).
//
//   conv        conv2d / conv_transpose2d forward and the gradients w.r.t. input, weight and bias
//   batchnorm   BatchNorm2d train (two steps, running stats), eval, BatchNorm1d; BN + ReLU / LeakyReLU(0.2),
//               fused into the engine's batch norm and unfused, against PyTorch's unfused modules
//   losses      bce_with_logits (hard, soft targets), mse, gaussian_nll, kl_normal, cross_entropy, log_softmax,
//               Wasserstein critic / generator: values and gradients
//   optim       SGD (Nesterov + weight decay, plain), Adam (weight decay), RMSprop (momentum): 3 steps fed the
//               same fixed gradients
//   dcgan_tiny  two full DCGAN iterations (nz 16, 8 channels, 32x32, batch 4, Adam): losses, iteration-1
//               gradients and final parameters and buffers, with the batch-norm activation fused and unfused
//
// Tolerances (float32 against float32, different summation orders): a tensor passes when
//   max |engine - torch| <= tol * (1 + max |torch|),
// tol stated per comparison with its reason. A failure names the tensor, the max difference and the element.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "core/golden_util.h"
#include "engine/autograd.h"
#include "engine/nn/functional.h"
#include "engine/nn/layers.h"
#include "engine/ops.h"
#include "engine/optim/optimizers.h"
#include "engine/safetensors.h"
#include "models/dcgan.h"

namespace {

using gan::DType;
using gan::Shape;
using gan::Tensor;
namespace F = gan::nn::functional;
namespace nn = gan::nn;
using gan::testing::golden;
using gan::testing::golden_with_prefix;

// ---- tolerances ----
// One op in float32: results differ from PyTorch's only by rounding in a different summation order (a conv output
// sums <= 64 products, a weight gradient <= 126, batch norm reduces over <= 100 elements): a few float32 ulps of
// the largest magnitudes involved, far below 1e-5 relative.
constexpr double kOpTol = 1e-5;
// Batch-norm gradients: dx = (w / sigma) (g - mean(g) - xhat mean(g xhat)) subtracts two reductions from g, so
// the rounding of those sums (100 elements) is amplified by 1/sigma (sigma ~ 0.7 here); still a few ulps.
constexpr double kBnGradTol = 2e-5;
// Optimizer updates: element-wise maths, 3 steps, in float32 on both sides (PyTorch's and the engine's order of
// operations differ, e.g. Adam's bias corrections, sqrt(v)/sqrt(1 - beta2^t)): a few ulps per step.
constexpr double kOptimTol = 1e-6;
// The tiny DCGAN's forward values at iteration 1 (before any update): a chain of 8 convs and 5 batch norms;
// rounding differences grow through the batch norms' 1/sigma, still well below 1e-5 relative.
constexpr double kDcganForwardTol = 1e-5;
// Its gradients at iteration 1: the backward through the same chain, reductions over up to 4096 elements
// (observed: <= 7e-7 relative, so 2e-5 leaves a wide margin for another BLAS or compiler).
constexpr double kDcganGradTol = 2e-5;
// After Adam steps (iteration 2's values, iteration 1's G step, which runs after D's update, and the final
// parameters and running stats): Adam divides the first moment by sqrt(second moment), so an element whose
// gradient is tiny compared to its rounding error can move by a visibly different amount (up to ~lr = 2e-4 per
// step, whatever the gradient's size). Observed <= 4e-7 relative here; 2e-5 keeps a wide margin and still
// catches an update rule that is off by a fraction of lr (a bound of 1e-4 would hide an lr-sized error in the
// batch-norm weights, whose max |ref| is ~1).
constexpr double kDcganTrainTol = 2e-5;

Tensor leaf(const Tensor& t) { return gan::testing::golden_leaf(t); }

// ===============================================================================================================
// conv
// ===============================================================================================================
class GoldenConv : public ::testing::TestWithParam<std::string> {};

TEST_P(GoldenConv, ForwardAndGradients) {
  const auto& f = golden("conv.safetensors");
  const std::string c = GetParam();
  const std::vector<int64_t> args = f.at(c + ".args").to_vector<int64_t>();  // stride, pad, out_pad, bias, transposed
  const F::Conv2dArgs a{.stride = args[0], .padding = args[1], .output_padding = args[2]};
  const bool has_bias = args[3] != 0, transposed = args[4] != 0;
  Tensor x = leaf(f.at(c + ".x")), w = leaf(f.at(c + ".w"));
  Tensor b = has_bias ? leaf(f.at(c + ".b")) : Tensor();
  Tensor y = transposed ? F::conv_transpose2d(x, w, b, a) : F::conv2d(x, w, b, a);
  EXPECT_GOLDEN(c + ".y", y, f.at(c + ".y"), kOpTol);
  y.backward(f.at(c + ".grad_y"));
  EXPECT_GOLDEN(c + ".grad_x", x.grad(), f.at(c + ".grad_x"), kOpTol);
  EXPECT_GOLDEN(c + ".grad_w", w.grad(), f.at(c + ".grad_w"), kOpTol);
  if (has_bias) {
    EXPECT_GOLDEN(c + ".grad_b", b.grad(), f.at(c + ".grad_b"), kOpTol);
  }
}

// c1: conv2d odd sizes s2 p1 + bias; c2: k4 s2 p1 no bias; t1: transposed s2 p1 op1 + bias; t2: transposed 1x1->4x4.
INSTANTIATE_TEST_SUITE_P(Cases, GoldenConv, ::testing::Values("c1", "c2", "t1", "t2"),
                         [](const auto& info) { return info.param; });

// ===============================================================================================================
// batch norm
// ===============================================================================================================
void set_affine(nn::BatchNorm& bn, const Tensor& w, const Tensor& b) {
  gan::NoGradGuard no_grad;
  gan::copy_(bn.weight, w);
  gan::copy_(bn.bias, b);
}

TEST(GoldenBatchNorm, BatchNorm2dTwoTrainStepsThenEval) {
  const auto& f = golden("batchnorm.safetensors");
  nn::BatchNorm2d bn(3);
  set_affine(bn, f.at("bn2d.weight"), f.at("bn2d.bias"));
  bn.train();
  Tensor y1 = bn(f.at("bn2d.x1"));
  EXPECT_GOLDEN("bn2d.y1", y1, f.at("bn2d.y1"), kOpTol);
  EXPECT_GOLDEN("bn2d.running_mean1", bn.running_mean, f.at("bn2d.running_mean1"), kOpTol);
  EXPECT_GOLDEN("bn2d.running_var1", bn.running_var, f.at("bn2d.running_var1"), kOpTol);

  Tensor x2 = leaf(f.at("bn2d.x2"));
  Tensor y2 = bn(x2);
  EXPECT_GOLDEN("bn2d.y2", y2, f.at("bn2d.y2"), kOpTol);
  EXPECT_GOLDEN("bn2d.running_mean2", bn.running_mean, f.at("bn2d.running_mean2"), kOpTol);
  EXPECT_GOLDEN("bn2d.running_var2", bn.running_var, f.at("bn2d.running_var2"), kOpTol);
  EXPECT_EQ(bn.num_batches_tracked.item(), f.at("bn2d.num_batches_tracked").item());
  y2.backward(f.at("bn2d.grad_y2"));
  EXPECT_GOLDEN("bn2d.grad_x2", x2.grad(), f.at("bn2d.grad_x2"), kBnGradTol);
  EXPECT_GOLDEN("bn2d.grad_weight", bn.weight.grad(), f.at("bn2d.grad_weight"), kBnGradTol);
  EXPECT_GOLDEN("bn2d.grad_bias", bn.bias.grad(), f.at("bn2d.grad_bias"), kBnGradTol);

  bn.eval();
  gan::NoGradGuard no_grad;
  EXPECT_GOLDEN("bn2d.y3_eval", bn(f.at("bn2d.x3")), f.at("bn2d.y3_eval"), kOpTol);
  EXPECT_EQ(bn.num_batches_tracked.item(), 2.0) << "eval must not count batches";
}

// BN followed by ReLU / LeakyReLU(0.2): the engine's fused batch norm and its unfused BatchNorm2d + activation
// module, both against PyTorch's unfused modules.
struct BnActCase {
  std::string act;  // "relu" or "lrelu"
  bool fused;
};

class GoldenBatchNormActivation : public ::testing::TestWithParam<BnActCase> {};

TEST_P(GoldenBatchNormActivation, OneTrainStep) {
  const auto& f = golden("batchnorm.safetensors");
  const BnActCase c = GetParam();
  const F::ActivationArgs act = c.act == "relu" ? F::ActivationArgs{F::Activation::ReLU}
                                                : F::ActivationArgs{F::Activation::LeakyReLU, 0.2};
  nn::BatchNorm2d bn(3, 1e-5, 0.1, true, true, c.fused ? act : F::ActivationArgs{});
  set_affine(bn, f.at("bn2d.weight"), f.at("bn2d.bias"));
  bn.train();
  Tensor x = leaf(f.at("bn2d.x1"));
  Tensor y = bn(x);
  if (!c.fused) y = c.act == "relu" ? gan::relu(y) : gan::leaky_relu(y, 0.2);
  const std::string p = "bn2d_" + c.act;
  EXPECT_GOLDEN(p + ".y", y, f.at(p + ".y"), kOpTol);
  EXPECT_GOLDEN(p + ".running_mean", bn.running_mean, f.at(p + ".running_mean"), kOpTol);
  EXPECT_GOLDEN(p + ".running_var", bn.running_var, f.at(p + ".running_var"), kOpTol);
  y.backward(f.at(p + ".grad_y"));
  EXPECT_GOLDEN(p + ".grad_x", x.grad(), f.at(p + ".grad_x"), kBnGradTol);
  EXPECT_GOLDEN(p + ".grad_weight", bn.weight.grad(), f.at(p + ".grad_weight"), kBnGradTol);
  EXPECT_GOLDEN(p + ".grad_bias", bn.bias.grad(), f.at(p + ".grad_bias"), kBnGradTol);
}

INSTANTIATE_TEST_SUITE_P(Cases, GoldenBatchNormActivation,
                         ::testing::Values(BnActCase{"relu", true}, BnActCase{"relu", false},
                                           BnActCase{"lrelu", true}, BnActCase{"lrelu", false}),
                         [](const auto& info) {
                           return info.param.act + (info.param.fused ? "_fused" : "_unfused");
                         });

TEST(GoldenBatchNorm, BatchNorm1dOneTrainStep) {
  const auto& f = golden("batchnorm.safetensors");
  nn::BatchNorm1d bn(4);
  set_affine(bn, f.at("bn1d.weight"), f.at("bn1d.bias"));
  bn.train();
  Tensor x = leaf(f.at("bn1d.x"));
  Tensor y = bn(x);
  EXPECT_GOLDEN("bn1d.y", y, f.at("bn1d.y"), kOpTol);
  EXPECT_GOLDEN("bn1d.running_mean", bn.running_mean, f.at("bn1d.running_mean"), kOpTol);
  EXPECT_GOLDEN("bn1d.running_var", bn.running_var, f.at("bn1d.running_var"), kOpTol);
  y.backward(f.at("bn1d.grad_y"));
  EXPECT_GOLDEN("bn1d.grad_x", x.grad(), f.at("bn1d.grad_x"), kBnGradTol);
  EXPECT_GOLDEN("bn1d.grad_weight", bn.weight.grad(), f.at("bn1d.grad_weight"), kBnGradTol);
  EXPECT_GOLDEN("bn1d.grad_bias", bn.bias.grad(), f.at("bn1d.grad_bias"), kBnGradTol);
}

// ===============================================================================================================
// losses (single fused ops or short op chains on <= 35 elements: kOpTol)
// ===============================================================================================================
TEST(GoldenLosses, BceWithLogitsHardTargets) {
  const auto& f = golden("losses.safetensors");
  Tensor x = leaf(f.at("bce_hard.logits"));
  Tensor v = F::bce_with_logits(x, f.at("bce_hard.targets"));
  EXPECT_GOLDEN("bce_hard.value", v, f.at("bce_hard.value"), kOpTol);
  v.backward();
  EXPECT_GOLDEN("bce_hard.grad_logits", x.grad(), f.at("bce_hard.grad_logits"), kOpTol);
}

TEST(GoldenLosses, BceWithLogitsSoftTargets) {
  const auto& f = golden("losses.safetensors");
  Tensor x = leaf(f.at("bce_soft.logits")), t = leaf(f.at("bce_soft.targets"));
  Tensor v = F::bce_with_logits(x, t);
  EXPECT_GOLDEN("bce_soft.value", v, f.at("bce_soft.value"), kOpTol);
  v.backward();
  EXPECT_GOLDEN("bce_soft.grad_logits", x.grad(), f.at("bce_soft.grad_logits"), kOpTol);
  EXPECT_GOLDEN("bce_soft.grad_targets", t.grad(), f.at("bce_soft.grad_targets"), kOpTol);
}

TEST(GoldenLosses, Mse) {
  const auto& f = golden("losses.safetensors");
  Tensor x = leaf(f.at("mse.x")), t = leaf(f.at("mse.target"));
  Tensor v = F::mse_loss(x, t);
  EXPECT_GOLDEN("mse.value", v, f.at("mse.value"), kOpTol);
  v.backward();
  EXPECT_GOLDEN("mse.grad_x", x.grad(), f.at("mse.grad_x"), kOpTol);
  EXPECT_GOLDEN("mse.grad_target", t.grad(), f.at("mse.grad_target"), kOpTol);
}

TEST(GoldenLosses, GaussianNll) {
  const auto& f = golden("losses.safetensors");
  Tensor x = leaf(f.at("gnll.input")), t = leaf(f.at("gnll.target")), var = leaf(f.at("gnll.var"));
  Tensor v = F::gaussian_nll_loss(x, t, var, /*full=*/false, /*eps=*/1e-6);
  EXPECT_GOLDEN("gnll.value", v, f.at("gnll.value"), kOpTol);
  v.backward();
  EXPECT_GOLDEN("gnll.grad_input", x.grad(), f.at("gnll.grad_input"), kOpTol);
  EXPECT_GOLDEN("gnll.grad_target", t.grad(), f.at("gnll.grad_target"), kOpTol);
  EXPECT_GOLDEN("gnll.grad_var", var.grad(), f.at("gnll.grad_var"), kOpTol);
}

TEST(GoldenLosses, KlNormal) {
  const auto& f = golden("losses.safetensors");
  Tensor mu = leaf(f.at("kl.mu")), logvar = leaf(f.at("kl.logvar"));
  Tensor v = F::kl_normal(mu, logvar);
  EXPECT_GOLDEN("kl.value", v, f.at("kl.value"), kOpTol);
  v.backward();
  EXPECT_GOLDEN("kl.grad_mu", mu.grad(), f.at("kl.grad_mu"), kOpTol);
  EXPECT_GOLDEN("kl.grad_logvar", logvar.grad(), f.at("kl.grad_logvar"), kOpTol);
}

TEST(GoldenLosses, CrossEntropy) {
  const auto& f = golden("losses.safetensors");
  Tensor x = leaf(f.at("ce.logits"));
  Tensor v = F::cross_entropy(x, f.at("ce.targets"));
  EXPECT_GOLDEN("ce.value", v, f.at("ce.value"), kOpTol);
  v.backward();
  EXPECT_GOLDEN("ce.grad_logits", x.grad(), f.at("ce.grad_logits"), kOpTol);
}

TEST(GoldenLosses, LogSoftmax) {
  const auto& f = golden("losses.safetensors");
  Tensor x = leaf(f.at("log_softmax.x"));
  Tensor y = F::log_softmax(x, 1);
  EXPECT_GOLDEN("log_softmax.y", y, f.at("log_softmax.y"), kOpTol);
  y.backward(f.at("log_softmax.grad_y"));
  EXPECT_GOLDEN("log_softmax.grad_x", x.grad(), f.at("log_softmax.grad_x"), kOpTol);
}

TEST(GoldenLosses, Wasserstein) {
  const auto& f = golden("losses.safetensors");
  Tensor real = leaf(f.at("wgan.real")), fake = leaf(f.at("wgan.fake"));
  Tensor critic = F::wasserstein_critic_loss(real, fake);
  EXPECT_GOLDEN("wgan.critic_value", critic, f.at("wgan.critic_value"), kOpTol);
  critic.backward();
  EXPECT_GOLDEN("wgan.critic_grad_real", real.grad(), f.at("wgan.critic_grad_real"), kOpTol);
  EXPECT_GOLDEN("wgan.critic_grad_fake", fake.grad(), f.at("wgan.critic_grad_fake"), kOpTol);

  Tensor fake2 = leaf(f.at("wgan.fake"));
  Tensor gen = F::wasserstein_generator_loss(fake2);
  EXPECT_GOLDEN("wgan.generator_value", gen, f.at("wgan.generator_value"), kOpTol);
  gen.backward();
  EXPECT_GOLDEN("wgan.generator_grad_fake", fake2.grad(), f.at("wgan.generator_grad_fake"), kOpTol);
}

// ===============================================================================================================
// optimizers
// ===============================================================================================================
template <typename Opt, typename Options>
void run_optimizer(const std::string& name, Options options) {
  const auto& f = golden("optim.safetensors");
  Tensor p = leaf(f.at("param0"));
  Opt opt(gan::optim::NamedTensors{{"p", p}}, options);
  for (int k = 1; k <= 3; ++k) {
    opt.zero_grad();
    p.set_grad(f.at("grad" + std::to_string(k)).clone());
    opt.step();
    const std::string step = name + ".step" + std::to_string(k);
    EXPECT_GOLDEN(step, p, f.at(step), kOptimTol);
  }
}

TEST(GoldenOptim, SgdNesterovWeightDecay) {
  run_optimizer<gan::optim::SGD>("sgd_nesterov",
                                 gan::optim::SGDOptions{.lr = 0.1, .momentum = 0.9, .weight_decay = 1e-2,
                                                        .nesterov = true});
}

TEST(GoldenOptim, SgdPlain) { run_optimizer<gan::optim::SGD>("sgd", gan::optim::SGDOptions{.lr = 0.1}); }

TEST(GoldenOptim, AdamWeightDecay) {
  run_optimizer<gan::optim::Adam>(
      "adam", gan::optim::AdamOptions{.lr = 1e-2, .beta1 = 0.5, .beta2 = 0.999, .weight_decay = 1e-2});
}

TEST(GoldenOptim, RmspropMomentum) {
  run_optimizer<gan::optim::RMSprop>("rmsprop",
                                     gan::optim::RMSpropOptions{.lr = 1e-2, .alpha = 0.99, .momentum = 0.9});
}

// ===============================================================================================================
// tiny DCGAN, two training iterations
// ===============================================================================================================

// Every entry of `model_tensors` against "<prefix><name>" in the file (which must hold exactly those names).
void expect_all(const gan::NamedTensors& f, const std::string& prefix, const nn::NamedTensors& model_tensors,
                double tol, bool grads) {
  const nn::NamedTensors ref = golden_with_prefix(f, prefix);
  ASSERT_EQ(ref.size(), model_tensors.size()) << prefix << ": the golden file and the model list different tensors";
  for (const auto& [name, t] : model_tensors) {
    const std::string key = prefix + name;
    ASSERT_TRUE(f.contains(key)) << "no golden tensor " << key;
    EXPECT_GOLDEN(key, grads ? t.grad() : t, f.at(key), tol);
  }
}

class GoldenDcgan : public ::testing::TestWithParam<bool> {};

TEST_P(GoldenDcgan, TwoIterations) {
  const auto& f = golden("dcgan_tiny.safetensors");
  gan::models::DcganConfig cfg;
  cfg.nz = 16;
  cfg.ngf = 8;
  cfg.ndf = 8;
  cfg.nc = 1;
  cfg.image_size = 32;
  cfg.fuse_bn_activation = GetParam();
  auto G = gan::models::dcgan_generator(cfg);
  auto D = gan::models::dcgan_discriminator(cfg);
  G->load_state_dict(golden_with_prefix(f, "init.G."));
  D->load_state_dict(golden_with_prefix(f, "init.D."));
  G->train();
  D->train();
  gan::optim::Adam optD(D->named_parameters(), {.lr = 2e-4, .beta1 = 0.5, .beta2 = 0.999});
  gan::optim::Adam optG(G->named_parameters(), {.lr = 2e-4, .beta1 = 0.5, .beta2 = 0.999});

  const Tensor& real = f.at("real");
  const int64_t batch = real.size(0);
  const Tensor ones = gan::ones({batch}), zeros = gan::zeros({batch});
  auto d_logits = [&](const Tensor& x) { return (*D)(x).reshape({batch}); };

  for (int it = 1; it <= 2; ++it) {
    const std::string p = "iter" + std::to_string(it) + ".";
    // Iteration 1 runs on the initial weights: forward tolerance; iteration 2 after one Adam step.
    const double tol = it == 1 ? kDcganForwardTol : kDcganTrainTol;
    // D step.
    optD.zero_grad();
    Tensor out_real = d_logits(real);
    Tensor loss_real = F::bce_with_logits(out_real, ones);
    Tensor fake = (*G)(f.at(p + "z"));
    Tensor out_fake = d_logits(fake.detach());
    Tensor loss_fake = F::bce_with_logits(out_fake, zeros);
    gan::add(loss_real, loss_fake).backward();
    EXPECT_GOLDEN(p + "D_real", out_real, f.at(p + "D_real"), tol);
    EXPECT_GOLDEN(p + "fake", fake, f.at(p + "fake"), tol);
    EXPECT_GOLDEN(p + "D_fake", out_fake, f.at(p + "D_fake"), tol);
    EXPECT_GOLDEN(p + "loss_real", loss_real, f.at(p + "loss_real"), tol);
    EXPECT_GOLDEN(p + "loss_fake", loss_fake, f.at(p + "loss_fake"), tol);
    if (it == 1) expect_all(f, "iter1.D.grad.", D->named_parameters(), kDcganGradTol, true);
    optD.step();
    // G step.
    optG.zero_grad();
    Tensor out_g = d_logits(fake);
    Tensor loss_g = F::bce_with_logits(out_g, ones);
    loss_g.backward();
    // D has taken a step here: iteration 1's values already depend on an update.
    EXPECT_GOLDEN(p + "D_fake_for_G", out_g, f.at(p + "D_fake_for_G"), kDcganTrainTol);
    EXPECT_GOLDEN(p + "loss_G", loss_g, f.at(p + "loss_G"), kDcganTrainTol);
    if (it == 1) expect_all(f, "iter1.G.grad.", G->named_parameters(), kDcganTrainTol, true);
    optG.step();
  }
  expect_all(f, "final.G.", G->state_dict(), kDcganTrainTol, false);
  expect_all(f, "final.D.", D->state_dict(), kDcganTrainTol, false);
}

INSTANTIATE_TEST_SUITE_P(BatchNormActivation, GoldenDcgan, ::testing::Values(true, false),
                         [](const auto& info) { return info.param ? std::string("fused") : std::string("unfused"); });

}  // namespace
