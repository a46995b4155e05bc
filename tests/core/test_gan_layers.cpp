// The GAN-field layers beyond their golden values (test_golden_gan_ops.cpp) and op-table checks
// (tests/gradcheck/op_table_gan.cpp): spectral norm's behaviour as a parametrization (state, training vs eval,
// convergence, two forwards before one backward, checkpoints), R1/R2 against finite differences, the layers'
// modules and every argument error.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "engine/autograd.h"
#include "engine/nn/functional.h"
#include "engine/nn/gan_layers.h"
#include "engine/nn/layers.h"
#include "engine/nn/parametrize.h"
#include "engine/nn/spectral_norm.h"
#include "engine/ops.h"
#include "engine/optim/optimizers.h"
#include "engine/safetensors.h"

namespace {

using gan::DType;
using gan::Generator;
using gan::Tensor;
namespace F = gan::nn::functional;
namespace nn = gan::nn;

std::vector<std::string> names_of(const nn::NamedTensors& ts) {
  std::vector<std::string> out;
  for (const auto& [n, t] : ts) out.push_back(n);
  return out;
}

nn::SpectralNorm& sn_of(nn::Module& m) {
  auto sn = std::dynamic_pointer_cast<nn::SpectralNorm>(nn::parametrization_of(m, "weight"));
  if (!sn) throw std::logic_error("no SpectralNorm at parametrizations.weight.0");
  return *sn;
}

// The message of the std::invalid_argument `fn` throws ("" if none).
template <typename Fn>
std::string error_of(Fn fn) {
  try {
    fn();
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "";
}

// ---- spectral norm ----

TEST(SpectralNorm, ParametrizationMovesTheWeightAndKeepsPyTorchNames) {
  auto conv = nn::spectral_norm(std::make_shared<nn::Conv2d>(2, 3, 3, 1, 1));
  EXPECT_TRUE(conv->is_parametrized("weight"));
  EXPECT_FALSE(conv->is_parametrized("bias"));
  EXPECT_EQ(names_of(conv->named_parameters()),
            (std::vector<std::string>{"bias", "parametrizations.weight.original"}));
  EXPECT_EQ(names_of(conv->named_buffers()),
            (std::vector<std::string>{"parametrizations.weight.0._u", "parametrizations.weight.0._v"}));
  EXPECT_TRUE(conv->parameters()[1].same(conv->weight));  // the layer's member is the original
  const nn::SpectralNorm& sn = sn_of(*conv);
  EXPECT_EQ(sn.u.shape(), (gan::Shape{3}));       // dim 0: output channels
  EXPECT_EQ(sn.v.shape(), (gan::Shape{2 * 3 * 3}));
  EXPECT_NEAR(gan::sum(sn.u * sn.u).item(), 1.0, 1e-6);

  auto convt = nn::spectral_norm(std::make_shared<nn::ConvTranspose2d>(2, 5, 4, 2, 1));
  EXPECT_EQ(sn_of(*convt).dim, 1);  // ConvTranspose2d's output dim, PyTorch's default
  EXPECT_EQ(sn_of(*convt).u.shape(), (gan::Shape{5}));
  auto lin = nn::spectral_norm(std::make_shared<nn::Linear>(4, 3), "weight", {.n_power_iterations = 3, .dim = 1});
  EXPECT_EQ(sn_of(*lin).u.shape(), (gan::Shape{4}));
  EXPECT_NE(conv->summary().find("SpectralNorm(n_power_iterations=1, dim=0"), std::string::npos) << conv->summary();

  nn::Linear plain(3, 2);
  EXPECT_NE(error_of([&] { nn::spectral_norm(plain, "weights"); }).find("no parameter named 'weights'"),
            std::string::npos);
  EXPECT_NE(error_of([&] { nn::spectral_norm(plain, "weight", {.n_power_iterations = 0}); }).find("positive"),
            std::string::npos);
  EXPECT_NE(error_of([&] { nn::spectral_norm(plain, "weight", {.dim = 2}); }).find("out of range"), std::string::npos);
}

TEST(SpectralNorm, SigmaConvergesToTheLargestSingularValue) {
  // W = diag(3, -2, 0.5) rotated by a permutation: singular values 3, 2, 0.5.
  nn::Linear lin(3, 3, /*bias=*/false, DType::Float64);
  {
    gan::NoGradGuard no_grad;
    gan::copy_(lin.weight, gan::from_vector<double>({0, -2, 0, 0, 0, 0.5, 3, 0, 0}, {3, 3}));
  }
  nn::spectral_norm(lin, "weight", {.n_power_iterations = 5});
  lin.train();
  for (int i = 0; i < 10; ++i) (void)lin.forward(gan::zeros({1, 3}, DType::Float64));
  const Tensor w_sn = lin.parametrized("weight", lin.weight);
  // W / sigma with sigma -> 3: the largest entry becomes 1.
  EXPECT_NEAR(gan::max(gan::abs(w_sn)).item(), 1.0, 1e-10);
  EXPECT_NEAR(gan::max(gan::abs(lin.weight)).item(), 3.0, 0.0);  // the original is untouched
}

TEST(SpectralNorm, PowerIterationRunsInTrainingOnly) {
  Generator gen(3);
  auto lin = nn::spectral_norm(std::make_shared<nn::Linear>(6, 4, true, DType::Float64), "weight", {.gen = &gen});
  nn::SpectralNorm& sn = sn_of(*lin);
  const Tensor x = gan::randn({2, 6}, DType::Float64, &gen);
  lin->eval();
  const std::vector<double> u0 = sn.u.to_vector<double>();
  (void)lin->forward(x);
  EXPECT_EQ(sn.u.to_vector<double>(), u0);
  // Perturb the weight so the estimate is no longer a fixed point, then train: u moves.
  {
    gan::NoGradGuard no_grad;
    gan::copy_(lin->weight, lin->weight + gan::randn({4, 6}, DType::Float64, &gen));
  }
  lin->train();
  (void)lin->forward(x);
  EXPECT_NE(sn.u.to_vector<double>(), u0);
}

// D(real) and D(fake) both run (each updating u, v in place) before one backward, as in every GAN step: the
// gradient must be that of the two forwards with the u, v each one used.
TEST(SpectralNorm, TwoForwardsBeforeOneBackward) {
  Generator gen(4);
  auto lin = nn::spectral_norm(std::make_shared<nn::Linear>(5, 3, true, DType::Float64), "weight", {.gen = &gen});
  nn::SpectralNorm& sn = sn_of(*lin);
  const Tensor a = gan::randn({2, 5}, DType::Float64, &gen), b = gan::randn({2, 5}, DType::Float64, &gen);
  lin->train();
  const Tensor u1 = sn.u.clone(), v1 = sn.v.clone();
  Tensor ya = lin->forward(a);  // power iteration: u, v -> (u2, v2), used for ya
  const Tensor u2 = sn.u.clone(), v2 = sn.v.clone();
  Tensor yb = lin->forward(b);  // -> (u3, v3), used for yb
  const Tensor u3 = sn.u.clone(), v3 = sn.v.clone();
  gan::sum(ya * ya - yb).backward();
  // Reference: the same forwards through the functional form with the recorded vectors.
  Tensor w = lin->weight.detach().clone();
  w.requires_grad_(true);
  const Tensor ra = F::linear(a, F::spectral_normalize(w, u2, v2), lin->bias.detach());
  const Tensor rb = F::linear(b, F::spectral_normalize(w, u3, v3), lin->bias.detach());
  gan::sum(ra * ra - rb).backward();
  const std::vector<double> got = lin->weight.grad().to_vector<double>(), want = w.grad().to_vector<double>();
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-12);
  EXPECT_NE(u1.to_vector<double>(), u2.to_vector<double>());
}

TEST(SpectralNorm, CheckpointCarriesUAndVAndOptimizersSeeTheOriginal) {
  Generator g1(1), g2(2);
  auto a = nn::spectral_norm(std::make_shared<nn::Conv2d>(2, 3, 3), "weight", {.gen = &g1});
  auto b = nn::spectral_norm(std::make_shared<nn::Conv2d>(2, 3, 3), "weight", {.gen = &g2});
  a->train();
  (void)a->forward(gan::randn({1, 2, 5, 5}));
  const std::string path = (std::filesystem::temp_directory_path() / "gan_sn_checkpoint.safetensors").string();
  gan::save_safetensors(path, a->state_dict());
  b->load_state_dict(gan::load_safetensors(path).tensors);
  std::filesystem::remove(path);
  EXPECT_EQ(sn_of(*b).u.to_vector<float>(), sn_of(*a).u.to_vector<float>());
  EXPECT_EQ(sn_of(*b).v.to_vector<float>(), sn_of(*a).v.to_vector<float>());
  a->eval();
  b->eval();
  const Tensor x = gan::randn({2, 2, 4, 4});
  EXPECT_EQ(a->forward(x).to_vector<float>(), b->forward(x).to_vector<float>());

  gan::optim::Adam opt(a->named_parameters());
  EXPECT_EQ(opt.params()[1].first, "parametrizations.weight.original");
}

TEST(SpectralNorm, VectorWeightIsNormalized) {
  const Tensor w = gan::from_vector<double>({3.0, 4.0}, {2});
  EXPECT_EQ(F::normalize(w).to_vector<double>(), (std::vector<double>{0.6, 0.8}));
  EXPECT_EQ(F::normalize(gan::zeros({3}, DType::Float64)).to_vector<double>(), (std::vector<double>{0, 0, 0}));
  EXPECT_NE(error_of([] {
              (void)F::spectral_normalize(gan::ones({3, 2}), gan::ones({2}), gan::ones({2}));
            }).find("u of shape [2] and v of shape [2] do not match the weight matrix of shape [3, 2]"),
            std::string::npos);
}

// ---- R1 / R2 against finite differences ----

TEST(GradientPenalty, R1MatchesFiniteDifferencesOfTheCritic) {
  Generator gen(11);
  nn::Sequential D({std::make_shared<nn::Linear>(3, 4, true, DType::Float64), std::make_shared<nn::Tanh>(),
                    std::make_shared<nn::Linear>(4, 1, true, DType::Float64)});
  const Tensor x = gan::randn({5, 3}, DType::Float64, &gen);
  const double gamma = 7.0;
  const Tensor r1 = F::r1_penalty([&](const Tensor& v) { return D.forward(v); }, x, gamma);
  // gamma / 2 * mean_n ||dD(x_n)/dx_n||^2 with central differences of D, sample by sample.
  gan::NoGradGuard no_grad;
  std::vector<double> xv = x.to_vector<double>();
  double total = 0.0;
  const double h = 1e-6;
  for (int64_t n = 0; n < 5; ++n) {
    for (int64_t k = 0; k < 3; ++k) {
      std::vector<double> plus = xv, minus = xv;
      plus[n * 3 + k] += h;
      minus[n * 3 + k] -= h;
      const double dp = D.forward(gan::from_vector<double>(plus, {5, 3})).to_vector<double>()[n];
      const double dm = D.forward(gan::from_vector<double>(minus, {5, 3})).to_vector<double>()[n];
      const double d = (dp - dm) / (2 * h);
      total += d * d;
    }
  }
  EXPECT_NEAR(r1.item(), gamma / 2 * total / 5, 1e-7 * (1 + r1.item()));
  EXPECT_FALSE(x.requires_grad());  // the caller's tensor is left alone
}

TEST(GradientPenalty, R2ReachesTheCriticNotTheGenerator) {
  Generator gen(12);
  nn::Linear G(2, 3, true, DType::Float64), D(3, 1, true, DType::Float64);
  const Tensor fake = G.forward(gan::randn({4, 2}, DType::Float64, &gen));
  // A linear critic: grad_x D = w for every sample, so R2 = gamma / 2 ||w||^2 and d R2 / dw = gamma w.
  Tensor r2 = F::r2_penalty([&](const Tensor& v) { return D.forward(v); }, fake, 3.0);
  const std::vector<double> w = D.weight.to_vector<double>();
  double sq = 0.0;
  for (double v : w) sq += v * v;
  EXPECT_NEAR(r2.item(), 1.5 * sq, 1e-14);
  r2.backward();
  const std::vector<double> gw = D.weight.grad().to_vector<double>();
  for (size_t i = 0; i < w.size(); ++i) EXPECT_NEAR(gw[i], 3.0 * w[i], 1e-14);
  EXPECT_FALSE(G.weight.grad().defined());  // the samples were detached: no gradient reaches the generator
  EXPECT_FALSE(D.bias.grad().defined());    // the penalty does not depend on the bias
}

TEST(GradientPenalty, Errors) {
  nn::Linear D(3, 1, true, DType::Float64);
  const Tensor x = gan::randn({2, 3}, DType::Float64);
  EXPECT_NE(error_of([&] { (void)F::squared_gradient_penalty(D.forward(x), x, 1.0); }).find("do not require grad"),
            std::string::npos);
  Tensor leaf = x.detach();
  leaf.requires_grad_(true);
  EXPECT_NE(error_of([&] { (void)F::squared_gradient_penalty(gan::ones({2}), leaf, 1.0); }).find("do not depend"),
            std::string::npos);
  EXPECT_NE(error_of([&] { (void)F::r1_penalty(F::Discriminator(), x, 1.0); }).find("no discriminator"),
            std::string::npos);
}

// ---- layers ----

TEST(GanLayers, UpsampleAndAvgPoolModules) {
  nn::Upsample up(2.0);
  EXPECT_EQ(up.describe(), "Upsample(scale_factor=2, mode=nearest)");
  EXPECT_EQ(up.forward(gan::ones({1, 2, 3, 4})).shape(), (gan::Shape{1, 2, 6, 8}));
  nn::Upsample bl(F::InterpolateArgs{.size = {5, 7}, .mode = F::InterpolateMode::Bilinear, .align_corners = true});
  EXPECT_EQ(bl.describe(), "Upsample(size=(5, 7), mode=bilinear, align_corners=true)");
  EXPECT_EQ(bl.forward(gan::ones({2, 1, 3, 3})).shape(), (gan::Shape{2, 1, 5, 7}));
  // A constant image stays constant under every interpolation.
  for (double v : bl.forward(gan::full({1, 1, 3, 3}, 2.5)).to_vector<double>()) EXPECT_NEAR(v, 2.5, 1e-6);
  nn::AvgPool2d pool(2);
  EXPECT_EQ(pool.describe(), "AvgPool2d(kernel_size=2, stride=2, padding=0)");
  EXPECT_EQ(pool.forward(gan::ones({1, 1, 5, 4})).shape(), (gan::Shape{1, 1, 2, 2}));
  EXPECT_EQ(pool.forward(gan::from_vector<float>({1, 2, 3, 4}, {1, 1, 2, 2})).item(), 2.5);
  EXPECT_TRUE(up.state_dict().empty());
  EXPECT_TRUE(pool.state_dict().empty());
}

TEST(GanLayers, ResampleErrorsNameTheOpAndTheShapes) {
  const Tensor x = gan::ones({1, 2, 4, 4});
  auto interp = [&](F::InterpolateArgs a) { return error_of([&] { (void)F::interpolate(x, a); }); };
  EXPECT_NE(interp({}).find("upsample_nearest2d: give exactly one of size and scale_factor (got neither)"),
            std::string::npos);
  EXPECT_NE(interp({.size = {2, 2}, .scale_factor = {2, 2}}).find("(got both)"), std::string::npos);
  EXPECT_NE(interp({.size = {2, 2}, .align_corners = true}).find("align_corners can only be set with bilinear"),
            std::string::npos);
  EXPECT_NE(interp({.size = {0, 2}, .mode = F::InterpolateMode::Bilinear})
                .find("upsample_bilinear2d: output size (0, 2)"),
            std::string::npos);
  EXPECT_NE(interp({.scale_factor = {0.1, 1}}).find("gives an empty output (0, 4)"), std::string::npos);
  EXPECT_NE(interp({.scale_factor = {-1, 1}}).find("must be positive"), std::string::npos);
  EXPECT_NE(error_of([] { (void)F::upsample_nearest(gan::ones({2, 4, 4}), 2.0); }).find("expected a 4-D input"),
            std::string::npos);
  auto pool = [&](F::AvgPool2dArgs a) { return error_of([&] { (void)F::avg_pool2d(x, a); }); };
  EXPECT_NE(pool({.kernel_size = {2, 2}, .padding = {2, 0}}).find("padding should be at most half of the kernel size"),
            std::string::npos);
  EXPECT_NE(pool({.kernel_size = {5, 5}}).find("avg_pool2d: output size (0, 0) is too small (input [1, 2, 4, 4], "
                                                "kernel_size (5, 5)"),
            std::string::npos);
  EXPECT_NE(pool({.kernel_size = {0, 2}}).find("kernel size must be positive"), std::string::npos);
  EXPECT_NE(pool({.kernel_size = {2, 2}, .divisor_override = -1}).find("divisor_override"), std::string::npos);
  EXPECT_NE(error_of([] { (void)F::avg_pool2d(gan::ones({1, 1, 2, 2}, DType::Int64), {}); }).find("avg_pool2d"),
            std::string::npos);
}

TEST(GanLayers, InstanceNorm2d) {
  nn::InstanceNorm2d plain(3);
  EXPECT_EQ(plain.describe(), "InstanceNorm2d(3, eps=1e-05, momentum=0.1, affine=false, track_running_stats=false)");
  // Each (n, c) slice comes out with mean 0 and (biased) variance ~1.
  const Tensor y = plain.forward(gan::randn({2, 3, 4, 5}, DType::Float64));
  for (double m : gan::mean(y, {2, 3}).to_vector<double>()) EXPECT_NEAR(m, 0.0, 1e-12);
  for (double v : gan::var(y, {2, 3}, false).to_vector<double>()) EXPECT_NEAR(v, 1.0, 1e-4);
  plain.eval();  // without running stats, eval still uses the input's statistics
  EXPECT_NO_THROW((void)plain.forward(gan::randn({1, 3, 2, 2})));
  nn::InstanceNorm2d tracked(2, 1e-5, 0.1, true, true);
  EXPECT_EQ(names_of(tracked.state_dict()),
            (std::vector<std::string>{"weight", "bias", "running_mean", "running_var", "num_batches_tracked"}));
  EXPECT_NE(error_of([&] { (void)plain.forward(gan::ones({2, 4, 3, 3})); }).find("expected input [N, 3, H, W]"),
            std::string::npos);
  EXPECT_NE(error_of([] { (void)F::instance_norm(gan::ones({2, 3, 1, 1})); }).find("more than 1 spatial element"),
            std::string::npos);
  EXPECT_NE(error_of([] { (void)F::instance_norm(gan::ones({2, 3, 4}), gan::Tensor(), gan::Tensor(), gan::ones({2})); })
                .find("weight of shape [2] does not match input of shape [2, 3, 4]"),
            std::string::npos);
  EXPECT_NE(error_of([] { (void)F::instance_norm(gan::ones({2, 3, 4}), {}, {}, {}, {}, false); }).find("running_mean"),
            std::string::npos);
}

TEST(GanLayers, ConditionalBatchNorm2d) {
  nn::ConditionalBatchNorm2d cbn(3, 5);
  EXPECT_EQ(names_of(cbn.state_dict()),
            (std::vector<std::string>{"embed.weight", "bn.running_mean", "bn.running_var", "bn.num_batches_tracked"}));
  // Gains start near 1, biases at 0 (so the layer starts as a plain batch norm).
  const Tensor gains = cbn.embed->weight.narrow(1, 0, 3), biases = cbn.embed->weight.narrow(1, 3, 3);
  EXPECT_NEAR(gan::mean(gains).item(), 1.0, 0.05);
  EXPECT_EQ(gan::max(gan::abs(biases)).item(), 0.0);
  const Tensor x = gan::randn({4, 3, 2, 2});
  const Tensor labels = gan::from_vector<int64_t>({0, 4, 2, 2}, {4});
  EXPECT_EQ(cbn.forward(x, labels).shape(), x.shape());
  EXPECT_NE(error_of([&] { (void)cbn.forward(x); }).find("forward needs the class labels"), std::string::npos);
  EXPECT_NE(error_of([&] { (void)cbn.forward(x, gan::from_vector<int64_t>({0, 1}, {2})); })
                .find("labels must be int64 [4]"),
            std::string::npos);
  EXPECT_NE(error_of([&] {
              (void)F::conditional_batch_norm(x, gan::ones({4, 2}), gan::ones({4, 3}), {}, {}, true);
            }).find("gain of shape [4, 2] does not match input of shape [4, 3, 2, 2]"),
            std::string::npos);
}

TEST(Parametrize, RegistersUnderPyTorchsNamesAndChains) {
  // Two parametrizations of one tensor apply in order: (W * 2) then normalize.
  struct Double : nn::Module {
    Tensor forward(const Tensor& w) override { return w * 2.0; }
    std::string describe() const override { return "Double"; }
  };
  nn::Linear lin(2, 2, false, DType::Float64);
  lin.register_parametrization("weight", std::make_shared<Double>());
  lin.register_parametrization("weight", std::make_shared<Double>());
  EXPECT_EQ(names_of(lin.named_parameters()), (std::vector<std::string>{"parametrizations.weight.original"}));
  const std::vector<double> w = lin.weight.to_vector<double>();
  const std::vector<double> p = lin.parametrized("weight", lin.weight).to_vector<double>();
  for (size_t i = 0; i < w.size(); ++i) EXPECT_EQ(p[i], 4.0 * w[i]);
  EXPECT_NE(error_of([&] { lin.register_parametrization("bias", std::make_shared<Double>()); })
                .find("no parameter named 'bias'"),
            std::string::npos);
  nn::ModuleDict dict;
  EXPECT_THROW((void)dict.forward(Tensor()), std::logic_error);
}

}  // namespace
