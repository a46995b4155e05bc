// Op-table entries for the fused losses (engine/nn/losses.cpp), every reduction ('mean', 'sum', 'none'). All of
// them support double backward: their first backward scales buffers the kernel wrote, but under create_graph it
// is built from ops, which gradgradcheck differentiates. gaussian_nll_loss is checked with variances above eps
// only: below it PyTorch's clamp makes the true derivative w.r.t. var zero while the gradient flows as if
// unclamped (tested by value in tests/core/test_losses_values.cpp). The hinge loss is checked away from its kinks
// (real = 1, fake = -1), where its second derivative is zero.
#include "engine/nn/functional.h"
#include "op_table.h"

namespace gan::testing {
namespace {

namespace F = gan::nn::functional;
using Inputs = std::vector<Tensor>;

Tensor hard_targets(Generator& g, const Shape& shape) { return gt(rand(shape, DType::Float64, &g), 0.5); }

// Scores at least 0.1 away from `kink` (within 1 of it), requiring grad.
Tensor away_from(Generator& g, const Shape& shape, double kink) {
  Tensor t = add(away_from_zero(g, shape).detach(), kink).detach();
  t.requires_grad_(true);
  return t;
}

constexpr F::Reduction kSum = F::Reduction::Sum;
constexpr F::Reduction kNone = F::Reduction::None;

const OpCaseRegistrar loss_cases([](std::vector<OpCase>& t) {
  auto add_case = [&t](std::string name, std::function<Inputs(Generator&)> make,
                       std::function<Tensor(const Inputs&)> fn, bool dbl) {
    t.push_back({std::move(name), std::move(make), std::move(fn), dbl});
  };

  // ---- bce_with_logits ----
  add_case("bce_with_logits/hard_targets",
           [](Generator& g) { return Inputs{uniform_input(g, {4, 1}, -3.0, 3.0), hard_targets(g, {4, 1})}; },
           [](const Inputs& x) { return F::bce_with_logits(x[0], x[1]); }, true);
  add_case("bce_with_logits/soft_targets",
           [](Generator& g) { return Inputs{uniform_input(g, {3, 4}, -3.0, 3.0), uniform_input(g, {3, 4}, 0.0, 1.0)}; },
           [](const Inputs& x) { return F::bce_with_logits(x[0], x[1]); }, true);
  add_case("bce_with_logits/large_logits",
           [](Generator& g) {
             return Inputs{uniform_input(g, {2, 5}, -12.0, 12.0), uniform_input(g, {2, 5}, 0.0, 1.0)};
           },
           [](const Inputs& x) { return F::bce_with_logits(x[0], x[1]); }, true);
  add_case("bce_with_logits/nchw_transposed",
           [](Generator& g) {
             return Inputs{uniform_input(g, {2, 1, 3, 2}), uniform_input(g, {2, 1, 2, 3}, 0.0, 1.0)};
           },
           [](const Inputs& x) { return F::bce_with_logits(x[0], x[1].transpose(2, 3)); }, true);

  add_case("bce_with_logits/sum",
           [](Generator& g) { return Inputs{uniform_input(g, {3, 2}, -3.0, 3.0), uniform_input(g, {3, 2}, 0.0, 1.0)}; },
           [](const Inputs& x) { return F::bce_with_logits(x[0], x[1], kSum); }, true);
  add_case("bce_with_logits/none",
           [](Generator& g) { return Inputs{uniform_input(g, {2, 3}, -3.0, 3.0), uniform_input(g, {2, 3}, 0.0, 1.0)}; },
           [](const Inputs& x) { return F::bce_with_logits(x[0], x[1], kNone); }, true);
  // Through a small discriminator: the second derivative w.r.t. its weights is not trivially zero (R1's case).
  add_case("bce_with_logits/discriminator",
           [](Generator& g) { return Inputs{uniform_input(g, {3, 2}), uniform_input(g, {2, 1}), hard_targets(g, {3, 1})}; },
           [](const Inputs& x) { return F::bce_with_logits(matmul(tanh(x[0]), x[1]) * 2.0, x[2]); }, true);

  // ---- Wasserstein (double backward: the WGAN-GP critic loss is differentiated with its penalty) ----
  add_case("wasserstein_critic_loss",
           [](Generator& g) { return Inputs{uniform_input(g, {4, 1}), uniform_input(g, {4, 1})}; },
           [](const Inputs& x) { return F::wasserstein_critic_loss(x[0], x[1]); }, true);
  add_case("wasserstein_critic_loss/unequal_batches",
           [](Generator& g) { return Inputs{uniform_input(g, {5}), uniform_input(g, {3, 1})}; },
           [](const Inputs& x) { return F::wasserstein_critic_loss(x[0], x[1]); }, true);
  // Scores from a small critic, so the second derivative is not trivially zero.
  add_case("wasserstein_critic_loss/critic",
           [](Generator& g) {
             return Inputs{uniform_input(g, {3, 2}), uniform_input(g, {3, 2}), uniform_input(g, {2, 1})};
           },
           [](const Inputs& x) {
             return F::wasserstein_critic_loss(tanh(matmul(x[0], x[2])), tanh(matmul(x[1], x[2])));
           },
           true);
  add_case("wasserstein_generator_loss", [](Generator& g) { return Inputs{uniform_input(g, {5, 1})}; },
           [](const Inputs& x) { return F::wasserstein_generator_loss(x[0]); }, true);
  add_case("wasserstein_generator_loss/critic",
           [](Generator& g) { return Inputs{uniform_input(g, {4, 3}), uniform_input(g, {3, 1})}; },
           [](const Inputs& x) { return F::wasserstein_generator_loss(sigmoid(matmul(x[0], x[1])) * x[0].sum()); },
           true);

  add_case("wasserstein_critic_loss/sum",
           [](Generator& g) { return Inputs{uniform_input(g, {5}), uniform_input(g, {3, 1})}; },
           [](const Inputs& x) { return F::wasserstein_critic_loss(x[0], x[1], kSum); }, true);
  add_case("wasserstein_critic_loss/none",
           [](Generator& g) { return Inputs{uniform_input(g, {4, 1}), uniform_input(g, {4, 1})}; },
           [](const Inputs& x) { return F::wasserstein_critic_loss(x[0], x[1], kNone); }, true);
  add_case("wasserstein_generator_loss/sum", [](Generator& g) { return Inputs{uniform_input(g, {2, 3})}; },
           [](const Inputs& x) { return F::wasserstein_generator_loss(x[0], kSum); }, true);
  add_case("wasserstein_generator_loss/none", [](Generator& g) { return Inputs{uniform_input(g, {4, 1})}; },
           [](const Inputs& x) { return F::wasserstein_generator_loss(x[0], kNone); }, true);

  // ---- hinge: real scores on both sides of 1, fake ones on both sides of -1 ----
  add_case("hinge_critic_loss",
           [](Generator& g) { return Inputs{away_from(g, {6, 1}, 1.0), away_from(g, {6, 1}, -1.0)}; },
           [](const Inputs& x) { return F::hinge_critic_loss(x[0], x[1]); }, true);
  add_case("hinge_critic_loss/unequal_batches",
           [](Generator& g) { return Inputs{away_from(g, {5}, 1.0), away_from(g, {3, 1}, -1.0)}; },
           [](const Inputs& x) { return F::hinge_critic_loss(x[0], x[1]); }, true);
  add_case("hinge_critic_loss/sum",
           [](Generator& g) { return Inputs{away_from(g, {4}, 1.0), away_from(g, {4}, -1.0)}; },
           [](const Inputs& x) { return F::hinge_critic_loss(x[0], x[1], kSum); }, true);
  add_case("hinge_critic_loss/none",
           [](Generator& g) { return Inputs{away_from(g, {2, 3}, 1.0), away_from(g, {2, 3}, -1.0)}; },
           [](const Inputs& x) { return F::hinge_critic_loss(x[0], x[1], kNone); }, true);
  // Scores from a small critic (the SNGAN critic with a penalty): weights x[2] shared by both batches.
  add_case("hinge_critic_loss/critic",
           [](Generator& g) {
             return Inputs{uniform_input(g, {4, 2}), uniform_input(g, {4, 2}), uniform_input(g, {2, 1})};
           },
           [](const Inputs& x) {
             return F::hinge_critic_loss(tanh(matmul(x[0], x[2])) * 3.0, tanh(matmul(x[1], x[2])) * 3.0);
           },
           true);
  add_case("hinge_generator_loss", [](Generator& g) { return Inputs{uniform_input(g, {5, 1})}; },
           [](const Inputs& x) { return F::hinge_generator_loss(x[0]); }, true);
  add_case("hinge_generator_loss/sum", [](Generator& g) { return Inputs{uniform_input(g, {3})}; },
           [](const Inputs& x) { return F::hinge_generator_loss(x[0], kSum); }, true);

  // ---- mse_loss ----
  add_case("mse_loss", [](Generator& g) { return Inputs{uniform_input(g, {3, 4}), uniform_input(g, {3, 4})}; },
           [](const Inputs& x) { return F::mse_loss(x[0], x[1]); }, true);
  add_case("mse_loss/constant_target",
           [](Generator& g) { return Inputs{uniform_input(g, {2, 3, 2}), constant_input(g, {2, 3, 2})}; },
           [](const Inputs& x) { return F::mse_loss(x[0], x[1]); }, true);

  add_case("mse_loss/sum", [](Generator& g) { return Inputs{uniform_input(g, {3, 2}), uniform_input(g, {3, 2})}; },
           [](const Inputs& x) { return F::mse_loss(x[0], x[1], kSum); }, true);
  add_case("mse_loss/none", [](Generator& g) { return Inputs{uniform_input(g, {2, 3}), uniform_input(g, {2, 3})}; },
           [](const Inputs& x) { return F::mse_loss(x[0], x[1], kNone); }, true);

  // ---- gaussian_nll_loss ----
  add_case("gaussian_nll_loss/heteroscedastic",
           [](Generator& g) {
             return Inputs{uniform_input(g, {3, 2}), uniform_input(g, {3, 2}), positive_input(g, {3, 2})};
           },
           [](const Inputs& x) { return F::gaussian_nll_loss(x[0], x[1], x[2]); }, true);
  add_case("gaussian_nll_loss/homoscedastic",
           [](Generator& g) {
             return Inputs{uniform_input(g, {4, 3}), uniform_input(g, {4, 3}), positive_input(g, {4})};
           },
           [](const Inputs& x) { return F::gaussian_nll_loss(x[0], x[1], x[2]); }, true);
  add_case("gaussian_nll_loss/homoscedastic_keepdim",
           [](Generator& g) {
             return Inputs{uniform_input(g, {2, 2, 3}), constant_input(g, {2, 2, 3}), positive_input(g, {2, 2, 1})};
           },
           [](const Inputs& x) { return F::gaussian_nll_loss(x[0], x[1], x[2]); }, true);
  add_case("gaussian_nll_loss/full",
           [](Generator& g) { return Inputs{uniform_input(g, {5}), uniform_input(g, {5}), positive_input(g, {5})}; },
           [](const Inputs& x) { return F::gaussian_nll_loss(x[0], x[1], x[2], /*full=*/true, 1e-3); }, true);

  add_case("gaussian_nll_loss/sum_homoscedastic",
           [](Generator& g) {
             return Inputs{uniform_input(g, {3, 2}), uniform_input(g, {3, 2}), positive_input(g, {3})};
           },
           [](const Inputs& x) { return F::gaussian_nll_loss(x[0], x[1], x[2], true, 1e-6, kSum); }, true);
  add_case("gaussian_nll_loss/none_homoscedastic",
           [](Generator& g) {
             return Inputs{uniform_input(g, {2, 3}), uniform_input(g, {2, 3}), positive_input(g, {2, 1})};
           },
           [](const Inputs& x) { return F::gaussian_nll_loss(x[0], x[1], x[2], false, 1e-6, kNone); }, true);
  add_case("gaussian_nll_loss/none",
           [](Generator& g) { return Inputs{uniform_input(g, {4}), uniform_input(g, {4}), positive_input(g, {4})}; },
           [](const Inputs& x) { return F::gaussian_nll_loss(x[0], x[1], x[2], true, 1e-6, kNone); }, true);

  // ---- kl_normal ----
  add_case("kl_normal", [](Generator& g) { return Inputs{uniform_input(g, {3, 4}), uniform_input(g, {3, 4})}; },
           [](const Inputs& x) { return F::kl_normal(x[0], x[1]); }, true);
  add_case("kl_normal/4d",
           [](Generator& g) {
             return Inputs{uniform_input(g, {2, 2, 1, 3}), uniform_input(g, {2, 2, 1, 3}, -2.0, 1.0)};
           },
           [](const Inputs& x) { return F::kl_normal(x[0], x[1]); }, true);
  add_case("kl_normal/sum", [](Generator& g) { return Inputs{uniform_input(g, {2, 3}), uniform_input(g, {2, 3})}; },
           [](const Inputs& x) { return F::kl_normal(x[0], x[1], kSum); }, true);
  add_case("kl_normal/none", [](Generator& g) { return Inputs{uniform_input(g, {3, 2}), uniform_input(g, {3, 2})}; },
           [](const Inputs& x) { return F::kl_normal(x[0], x[1], kNone); }, true);
});

}  // namespace
}  // namespace gan::testing
