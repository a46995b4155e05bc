// Op-table entries for the fused losses (engine/nn/losses.cpp). Their backward scales a gradient buffer written by
// the forward kernel, so they take no part in double backward — except the Wasserstein losses, which a WGAN-GP
// critic differentiates twice. gaussian_nll_loss is checked with variances above eps only: below it PyTorch's
// clamp makes the true derivative w.r.t. var zero while the gradient flows as if unclamped (tested by value in
// tests/core/test_losses_values.cpp).
#include "engine/nn/functional.h"
#include "op_table.h"

namespace gan::testing {
namespace {

namespace F = gan::nn::functional;
using Inputs = std::vector<Tensor>;

Tensor hard_targets(Generator& g, const Shape& shape) { return gt(rand(shape, DType::Float64, &g), 0.5); }

const OpCaseRegistrar loss_cases([](std::vector<OpCase>& t) {
  auto add_case = [&t](std::string name, std::function<Inputs(Generator&)> make,
                       std::function<Tensor(const Inputs&)> fn, bool dbl) {
    t.push_back({std::move(name), std::move(make), std::move(fn), dbl});
  };

  // ---- bce_with_logits ----
  add_case("bce_with_logits/hard_targets",
           [](Generator& g) { return Inputs{uniform_input(g, {4, 1}, -3.0, 3.0), hard_targets(g, {4, 1})}; },
           [](const Inputs& x) { return F::bce_with_logits(x[0], x[1]); }, false);
  add_case("bce_with_logits/soft_targets",
           [](Generator& g) { return Inputs{uniform_input(g, {3, 4}, -3.0, 3.0), uniform_input(g, {3, 4}, 0.0, 1.0)}; },
           [](const Inputs& x) { return F::bce_with_logits(x[0], x[1]); }, false);
  add_case("bce_with_logits/large_logits",
           [](Generator& g) {
             return Inputs{uniform_input(g, {2, 5}, -12.0, 12.0), uniform_input(g, {2, 5}, 0.0, 1.0)};
           },
           [](const Inputs& x) { return F::bce_with_logits(x[0], x[1]); }, false);
  add_case("bce_with_logits/nchw_transposed",
           [](Generator& g) {
             return Inputs{uniform_input(g, {2, 1, 3, 2}), uniform_input(g, {2, 1, 2, 3}, 0.0, 1.0)};
           },
           [](const Inputs& x) { return F::bce_with_logits(x[0], x[1].transpose(2, 3)); }, false);

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

  // ---- mse_loss ----
  add_case("mse_loss", [](Generator& g) { return Inputs{uniform_input(g, {3, 4}), uniform_input(g, {3, 4})}; },
           [](const Inputs& x) { return F::mse_loss(x[0], x[1]); }, false);
  add_case("mse_loss/constant_target",
           [](Generator& g) { return Inputs{uniform_input(g, {2, 3, 2}), constant_input(g, {2, 3, 2})}; },
           [](const Inputs& x) { return F::mse_loss(x[0], x[1]); }, false);

  // ---- gaussian_nll_loss ----
  add_case("gaussian_nll_loss/heteroscedastic",
           [](Generator& g) {
             return Inputs{uniform_input(g, {3, 2}), uniform_input(g, {3, 2}), positive_input(g, {3, 2})};
           },
           [](const Inputs& x) { return F::gaussian_nll_loss(x[0], x[1], x[2]); }, false);
  add_case("gaussian_nll_loss/homoscedastic",
           [](Generator& g) {
             return Inputs{uniform_input(g, {4, 3}), uniform_input(g, {4, 3}), positive_input(g, {4})};
           },
           [](const Inputs& x) { return F::gaussian_nll_loss(x[0], x[1], x[2]); }, false);
  add_case("gaussian_nll_loss/homoscedastic_keepdim",
           [](Generator& g) {
             return Inputs{uniform_input(g, {2, 2, 3}), constant_input(g, {2, 2, 3}), positive_input(g, {2, 2, 1})};
           },
           [](const Inputs& x) { return F::gaussian_nll_loss(x[0], x[1], x[2]); }, false);
  add_case("gaussian_nll_loss/full",
           [](Generator& g) { return Inputs{uniform_input(g, {5}), uniform_input(g, {5}), positive_input(g, {5})}; },
           [](const Inputs& x) { return F::gaussian_nll_loss(x[0], x[1], x[2], /*full=*/true, 1e-3); }, false);

  // ---- kl_normal ----
  add_case("kl_normal", [](Generator& g) { return Inputs{uniform_input(g, {3, 4}), uniform_input(g, {3, 4})}; },
           [](const Inputs& x) { return F::kl_normal(x[0], x[1]); }, false);
  add_case("kl_normal/4d",
           [](Generator& g) {
             return Inputs{uniform_input(g, {2, 2, 1, 3}), uniform_input(g, {2, 2, 1, 3}, -2.0, 1.0)};
           },
           [](const Inputs& x) { return F::kl_normal(x[0], x[1]); }, false);
});

}  // namespace
}  // namespace gan::testing
