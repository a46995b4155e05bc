// Op-table entries for gan::nn::functional: linear, embedding, batch_norm (fused activations, train/eval, [N, C],
// no affine), layer_norm, dropout, log_softmax, cross_entropy.
#include <vector>

#include "engine/nn/functional.h"
#include "op_table.h"

namespace gan::testing {
namespace {

namespace F = gan::nn::functional;
using Inputs = std::vector<Tensor>;

Tensor leaf(const Tensor& t) {
  Tensor l = t.detach();
  l.requires_grad_(true);
  return l;
}

// Batch-norm input [N, C, ...] whose normalized values stay away from 0, so fused ReLU/LeakyReLU are smooth at the
// test point: each channel's values come in pairs mean_c +- d with d in [0.3, 1.5], so the batch mean is mean_c
// and |x - mean| / std >= 0.3 / 1.5 = 0.2 for every element. N * (spatial size) must be even.
Tensor bn_input(Generator& g, const Shape& shape) {
  const int64_t N = shape[0], C = shape[1];
  int64_t S = 1;
  for (size_t d = 2; d < shape.size(); ++d) S *= shape[d];
  const std::vector<double> means = rand({C}, DType::Float64, &g, -1.0, 1.0).to_vector<double>();
  const std::vector<double> d = rand({N * C * S / 2}, DType::Float64, &g, 0.3, 1.5).to_vector<double>();
  std::vector<double> v(static_cast<size_t>(N * C * S));
  size_t next = 0;
  for (int64_t c = 0; c < C; ++c) {
    for (int64_t m = 0; m < N * S; m += 2) {  // m-th value of channel c: sample m / S, position m % S
      const double dd = d[next++];
      v[static_cast<size_t>(((m / S) * C + c) * S + m % S)] = means[static_cast<size_t>(c)] + dd;
      v[static_cast<size_t>((((m + 1) / S) * C + c) * S + (m + 1) % S)] = means[static_cast<size_t>(c)] - dd;
    }
  }
  return leaf(from_vector<double>(v, shape));
}

// |w| in [0.5, 1.5] with random sign.
Tensor bn_weight(Generator& g, int64_t C) {
  return leaf(mul(rand({C}, DType::Float64, &g, 0.5, 1.5), sign(rand({C}, DType::Float64, &g, -1.0, 1.0))));
}

Tensor bn_train(const Inputs& x, F::ActivationArgs act) {
  // Fresh running stats every evaluation: they are updated in place and are not inputs. In x's dtype and on x's
  // device, so the gpu suite can run the entry in float32 on both devices.
  const int64_t C = x[0].shape()[1];
  Tensor rm = zeros({C}, x[0].dtype(), x[0].device()), rv = ones({C}, x[0].dtype(), x[0].device());
  return F::batch_norm(x[0], rm, rv, x.size() > 1 ? x[1] : Tensor(), x.size() > 2 ? x[2] : Tensor(), true, 0.1,
                       1e-5, act);
}

const OpCaseRegistrar nn_cases([](std::vector<OpCase>& t) {
  auto add_case = [&t](std::string name, std::function<Inputs(Generator&)> make,
                       std::function<Tensor(const Inputs&)> fn, bool dbl = true) {
    t.push_back({std::move(name), std::move(make), std::move(fn), dbl});
  };
  auto uniform_of = [](std::vector<Shape> shapes) {
    return [shapes](Generator& g) {
      Inputs in;
      for (const Shape& s : shapes) in.push_back(uniform_input(g, s));
      return in;
    };
  };

  // ---- linear ----
  add_case("linear/2d", uniform_of({{3, 4}, {2, 4}, {2}}), [](const Inputs& x) { return F::linear(x[0], x[1], x[2]); });
  add_case("linear/batched", uniform_of({{2, 3, 4}, {5, 4}, {5}}),
           [](const Inputs& x) { return F::linear(x[0], x[1], x[2]); });
  add_case("linear/no_bias", uniform_of({{3, 4}, {2, 4}}), [](const Inputs& x) { return F::linear(x[0], x[1]); });

  // ---- embedding: repeated indices exercise the index-add ----
  add_case("embedding",
           [](Generator& g) {
             return Inputs{from_vector<int64_t>({1, 3, 1, 0, 3, 3}, {2, 3}), uniform_input(g, {4, 3})};
           },
           [](const Inputs& x) { return F::embedding(x[0], x[1]); });

  // ---- batch_norm (fused first backward; with create_graph, ops: double backward) ----
  using F::Activation;
  add_case("batch_norm/train_identity",
           [](Generator& g) { return Inputs{uniform_input(g, {2, 3, 2, 2}), bn_weight(g, 3), uniform_input(g, {3})}; },
           [](const Inputs& x) { return bn_train(x, {Activation::Identity}); }, true);
  add_case("batch_norm/train_relu",
           [](Generator& g) {
             return Inputs{bn_input(g, {2, 3, 2, 2}), bn_weight(g, 3), uniform_input(g, {3}, -0.05, 0.05)};
           },
           [](const Inputs& x) { return bn_train(x, {Activation::ReLU}); }, true);
  add_case("batch_norm/train_leaky",
           [](Generator& g) {
             return Inputs{bn_input(g, {2, 3, 2, 2}), bn_weight(g, 3), uniform_input(g, {3}, -0.05, 0.05)};
           },
           [](const Inputs& x) { return bn_train(x, {Activation::LeakyReLU, 0.2}); }, true);
  add_case("batch_norm/2d",
           [](Generator& g) { return Inputs{bn_input(g, {6, 3}), bn_weight(g, 3), uniform_input(g, {3}, -0.05, 0.05)}; },
           [](const Inputs& x) { return bn_train(x, {Activation::LeakyReLU, 0.1}); }, true);
  add_case("batch_norm/no_affine", [](Generator& g) { return Inputs{bn_input(g, {4, 2, 3})}; },
           [](const Inputs& x) { return bn_train(x, {Activation::ReLU}); }, true);
  add_case("batch_norm/eval",
           // running_mean 0, running_var in [0.5, 1.5]: |x| >= 0.1 keeps |w xhat| >= 0.04 > |b|, away from the kink.
           [](Generator& g) {
             return Inputs{away_from_zero(g, {2, 3, 2, 2}), bn_weight(g, 3), uniform_input(g, {3}, -0.01, 0.01)};
           },
           [](const Inputs& x) {
             Tensor rm = zeros({3}, x[0].dtype(), x[0].device());
             Tensor rv = from_vector<double>({0.5, 1.0, 1.5}, {3}).to(x[0].dtype()).to(x[0].device());
             return F::batch_norm(x[0], rm, rv, x[1], x[2], false, 0.1, 1e-5, {Activation::LeakyReLU, 0.1});
           },
           true);

  add_case("batch_norm/train_no_running_stats",
           [](Generator& g) { return Inputs{uniform_input(g, {3, 2, 2}), bn_weight(g, 2)}; },
           [](const Inputs& x) {
             return F::batch_norm(x[0], Tensor(), Tensor(), x[1], Tensor(), true, 0.1, 1e-5, {Activation::Identity});
           });
  add_case("batch_norm/eval_relu_no_affine", [](Generator& g) { return Inputs{away_from_zero(g, {3, 2})}; },
           [](const Inputs& x) {
             Tensor rm = zeros({2}, x[0].dtype(), x[0].device());
             Tensor rv = from_vector<double>({0.8, 1.3}, {2}).to(x[0].dtype()).to(x[0].device());
             return F::batch_norm(x[0], rm, rv, Tensor(), Tensor(), false, 0.1, 1e-5, {Activation::ReLU});
           });
  // A WGAN-GP-style penalty term through a critic with batch norm: the op differentiated inside a critic.
  add_case("batch_norm/critic_stack",
           [](Generator& g) { return Inputs{uniform_input(g, {4, 3}), uniform_input(g, {3, 2}), bn_weight(g, 2)}; },
           [](const Inputs& x) {
             const Tensor h = bn_train({matmul(x[0], x[1]), x[2], Tensor()}, {Activation::Identity});
             return tanh(h) * 0.5;
           });

  // ---- layer_norm ----
  add_case("layer_norm/affine", uniform_of({{3, 4}, {4}, {4}}),
           [](const Inputs& x) { return F::layer_norm(x[0], {4}, x[1], x[2]); });
  add_case("layer_norm/2d_no_affine", uniform_of({{2, 3, 4}}),
           [](const Inputs& x) { return F::layer_norm(x[0], {3, 4}); });

  // ---- dropout: a fixed generator inside fn, so every evaluation draws the same mask ----
  add_case("dropout", uniform_of({{4, 5}}), [](const Inputs& x) {
    Generator gen(1234);
    return F::dropout(x[0], 0.4, true, &gen);
  });

  // ---- log_softmax / cross_entropy ----
  add_case("log_softmax/dim1", uniform_of({{3, 5}}), [](const Inputs& x) { return F::log_softmax(x[0], 1); });
  add_case("log_softmax/dim0", uniform_of({{4, 3}}), [](const Inputs& x) { return F::log_softmax(x[0], 0); });
  add_case("log_softmax/shifted", uniform_of({{2, 4}}),
           [](const Inputs& x) { return F::log_softmax(x[0] * 3.0 + 50.0, -1); });
  add_case("cross_entropy",
           [](Generator& g) { return Inputs{uniform_input(g, {4, 3}, -2.0, 2.0), from_vector<int64_t>({0, 2, 1, 2}, {4})}; },
           [](const Inputs& x) { return F::cross_entropy(x[0], x[1]); });
  add_case("cross_entropy/sum",
           [](Generator& g) { return Inputs{uniform_input(g, {3, 4}, -2.0, 2.0), from_vector<int64_t>({3, 0, 1}, {3})}; },
           [](const Inputs& x) { return F::cross_entropy(x[0], x[1], F::Reduction::Sum); });
  add_case("cross_entropy/none",
           [](Generator& g) { return Inputs{uniform_input(g, {3, 4}, -2.0, 2.0), from_vector<int64_t>({1, 3, 0}, {3})}; },
           [](const Inputs& x) { return F::cross_entropy(x[0], x[1], F::Reduction::None); });
  add_case("cross_entropy/spatial",
           [](Generator& g) { return Inputs{uniform_input(g, {2, 3, 2}), from_vector<int64_t>({1, 0, 2, 2}, {2, 2})}; },
           [](const Inputs& x) { return F::cross_entropy(x[0], x[1]); });
});

}  // namespace
}  // namespace gan::testing
