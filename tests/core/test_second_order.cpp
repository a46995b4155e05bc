// Second order through the ops that sit inside a critic or a loss, against PyTorch 1.13
// (tests/golden/data/second_order.safetensors, float64, written by tests/golden/make_golden.py):
//
//   - Hessian-vector products through the fused losses (every reduction), the hinge and Wasserstein critic losses
//     on a small critic's scores, batch norm (train / eval, fused identity / ReLU / LeakyReLU) and cross entropy:
//     the loss, its gradient taken with create_graph, and d<gradient, v>/dinput for a random v;
//   - which ops keep the edge to their input in a gradient taken with create_graph (relu, leaky_relu, abs do, so a
//     Hessian-vector product through them alone is zero and a penalty's gradient w.r.t. a bias behind them is
//     zero; clamp, maximum, minimum, where and max do not, and PyTorch and the engine both refuse);
//   - the two ways the engine computes a fused op's first gradient (the fused kernel's buffers, or ops under
//     create_graph) agree, in float64 and float32.
//
// Tolerance against PyTorch: float64 on both sides, so differences are summation-order rounding (~1e-15 relative;
// batch norm divides by sigma and subtracts means, a few ulps more): 1e-10 (1 + max |ref|) leaves room for
// another BLAS or compiler and still catches any wrong term.
#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/golden_util.h"
#include "engine/autograd.h"
#include "engine/nn/functional.h"
#include "engine/ops.h"
#include "engine/rng.h"

namespace {

using gan::DType;
using gan::Generator;
using gan::Tensor;
using gan::testing::golden;
namespace F = gan::nn::functional;

constexpr double kTol = 1e-10;
const char* const kFile = "second_order.safetensors";

using Named = std::map<std::string, Tensor>;
using CaseFn = std::function<Tensor(const Named& in, const Named& constant)>;

Tensor critic_scores(const Tensor& x, const Tensor& w) { return gan::tanh(gan::matmul(x, w)) * 3.0; }

Tensor weighted(const Tensor& terms, const Named& c) { return gan::sum(terms * c.at("w")); }

Tensor bn(const Named& in, F::ActivationArgs act, bool training, const Tensor& rm = Tensor(),
          const Tensor& rv = Tensor()) {
  return F::batch_norm(in.at("x"), rm, rv, in.at("weight"), in.at("bias"), training, 0.1, 1e-5, act);
}

// The engine's side of every case of make_golden.py's make_second_order().
const std::map<std::string, CaseFn>& cases() {
  using R = F::Reduction;
  using A = F::Activation;
  static const std::map<std::string, CaseFn> table = {
      {"bce_mean", [](const Named& i, const Named&) { return F::bce_with_logits(i.at("x"), i.at("t")); }},
      {"bce_sum", [](const Named& i, const Named&) { return F::bce_with_logits(i.at("x"), i.at("t"), R::Sum); }},
      {"bce_none",
       [](const Named& i, const Named& c) { return weighted(F::bce_with_logits(i.at("x"), i.at("t"), R::None), c); }},
      {"mse_mean", [](const Named& i, const Named&) { return F::mse_loss(i.at("x"), i.at("t")); }},
      {"mse_sum", [](const Named& i, const Named&) { return F::mse_loss(i.at("x"), i.at("t"), R::Sum); }},
      {"mse_none", [](const Named& i, const Named& c) { return weighted(F::mse_loss(i.at("x"), i.at("t"), R::None), c); }},
      {"gnll_mean",
       [](const Named& i, const Named&) { return F::gaussian_nll_loss(i.at("x"), i.at("t"), i.at("var")); }},
      {"gnll_sum_full",
       [](const Named& i, const Named&) {
         return F::gaussian_nll_loss(i.at("x"), i.at("t"), i.at("var"), true, 1e-6, R::Sum);
       }},
      {"gnll_none",
       [](const Named& i, const Named& c) {
         return weighted(F::gaussian_nll_loss(i.at("x"), i.at("t"), i.at("var"), false, 1e-6, R::None), c);
       }},
      {"kl_mean", [](const Named& i, const Named&) { return F::kl_normal(i.at("mu"), i.at("lv")); }},
      {"kl_sum", [](const Named& i, const Named&) { return F::kl_normal(i.at("mu"), i.at("lv"), R::Sum); }},
      {"kl_none", [](const Named& i, const Named& c) { return weighted(F::kl_normal(i.at("mu"), i.at("lv"), R::None), c); }},
      {"hinge_mean",
       [](const Named& i, const Named&) {
         return F::hinge_critic_loss(critic_scores(i.at("xr"), i.at("w")), critic_scores(i.at("xf"), i.at("w")));
       }},
      {"hinge_sum",
       [](const Named& i, const Named&) {
         return F::hinge_critic_loss(critic_scores(i.at("xr"), i.at("w")), critic_scores(i.at("xf"), i.at("w")),
                                     R::Sum);
       }},
      {"wasserstein_mean",
       [](const Named& i, const Named&) {
         return F::wasserstein_critic_loss(critic_scores(i.at("xr"), i.at("w")), critic_scores(i.at("xf"), i.at("w")));
       }},
      {"hinge_generator",
       [](const Named& i, const Named&) { return F::hinge_generator_loss(critic_scores(i.at("xf"), i.at("w"))); }},
      {"bn_train_identity",
       [](const Named& i, const Named& c) { return gan::sum(bn(i, {A::Identity}, true) * c.at("c")); }},
      {"bn_train_relu", [](const Named& i, const Named& c) { return gan::sum(bn(i, {A::ReLU}, true) * c.at("c")); }},
      {"bn_train_leaky",
       [](const Named& i, const Named& c) { return gan::sum(bn(i, {A::LeakyReLU, 0.2}, true) * c.at("c")); }},
      {"bn_eval_leaky",
       [](const Named& i, const Named& c) {
         return gan::sum(bn(i, {A::LeakyReLU, 0.2}, false, c.at("rm").clone(), c.at("rv").clone()) * c.at("c"));
       }},
      {"bn1d_train_relu", [](const Named& i, const Named& c) { return gan::sum(bn(i, {A::ReLU}, true) * c.at("c")); }},
      {"ce_sum", [](const Named& i, const Named& c) { return F::cross_entropy(i.at("x"), c.at("t"), R::Sum); }},
  };
  return table;
}

// The tensors of one case under `<case>.<part>.`, by key.
Named part_of(const std::string& name, const std::string& part) {
  const std::string prefix = name + "." + part + ".";
  Named out;
  for (const auto& [key, t] : golden(kFile).tensors)
    if (key.rfind(prefix, 0) == 0) out[key.substr(prefix.size())] = t;
  return out;
}

class SecondOrderGolden : public ::testing::TestWithParam<std::string> {};

TEST_P(SecondOrderGolden, LossGradientAndHessianVectorProductMatchPyTorch) {
  const std::string name = GetParam();
  const Named ref_in = part_of(name, "in"), v = part_of(name, "v"), ref_grad = part_of(name, "grad"),
              ref_hvp = part_of(name, "hvp"), constants = part_of(name, "const");
  ASSERT_FALSE(ref_in.empty()) << name << ": no inputs in " << kFile;
  Named in;
  std::vector<std::string> keys;
  std::vector<Tensor> leaves;
  for (const auto& [k, t] : ref_in) {
    const Tensor l = gan::testing::golden_leaf(t);
    in[k] = l;
    keys.push_back(k);
    leaves.push_back(l);
  }
  const Tensor loss = cases().at(name)(in, constants);
  EXPECT_GOLDEN(name + " loss", loss, golden(kFile).at(name + ".loss"), kTol);
  const std::vector<Tensor> grads = gan::grad({loss}, leaves, {}, /*create_graph=*/true);
  Tensor dot = gan::zeros({}, DType::Float64);
  for (size_t j = 0; j < keys.size(); ++j) {
    EXPECT_GOLDEN(name + " grad " + keys[j], grads[j], ref_grad.at(keys[j]), kTol);
    dot = dot + gan::sum(grads[j] * v.at(keys[j]));
  }
  // allow_unused: an input whose gradient does not depend on any input has no second derivative (PyTorch: None,
  // stored as zeros).
  const std::vector<Tensor> hvp = gan::grad({dot}, leaves, {}, false, false, /*allow_unused=*/true);
  for (size_t j = 0; j < keys.size(); ++j) {
    const Tensor got = hvp[j].defined() ? hvp[j] : gan::zeros_like(leaves[j].detach());
    EXPECT_GOLDEN(name + " hvp " + keys[j], got, ref_hvp.at(keys[j]), kTol);
  }
}

std::vector<std::string> case_names() {
  std::vector<std::string> names;
  for (const auto& [name, fn] : cases()) names.push_back(name);
  return names;
}

INSTANTIATE_TEST_SUITE_P(Cases, SecondOrderGolden, ::testing::ValuesIn(case_names()),
                         [](const ::testing::TestParamInfo<std::string>& info) { return info.param; });

// Every case the generator wrote has an engine side here, and the other way round.
TEST(SecondOrderGoldenFile, EveryCaseIsChecked) {
  for (const auto& [key, t] : golden(kFile).tensors) {
    if (key.rfind("semantics.", 0) == 0) continue;
    const std::string name = key.substr(0, key.find('.'));
    EXPECT_TRUE(cases().count(name)) << "case '" << name << "' of " << kFile << " has no engine function here";
  }
}

// ---- which ops keep the edge to their input ----

bool pytorch_flag(const std::string& key) { return golden(kFile).at("semantics." + key).item() != 0.0; }

const Tensor& other_operand() {
  static const Tensor y = [] {
    Generator gen(3);
    return gan::randn({5}, DType::Float64, &gen);
  }();
  return y;
}

const std::map<std::string, std::function<Tensor(const Tensor&)>>& semantic_ops() {
  static const std::map<std::string, std::function<Tensor(const Tensor&)>> ops = {
      {"relu", [](const Tensor& x) { return gan::relu(x); }},
      {"leaky_relu", [](const Tensor& x) { return gan::leaky_relu(x, 0.2); }},
      {"abs", [](const Tensor& x) { return gan::abs(x); }},
      {"clamp", [](const Tensor& x) { return gan::clamp(x, -0.5, 0.5); }},
      {"maximum", [](const Tensor& x) { return gan::maximum(x, other_operand()); }},
      {"minimum", [](const Tensor& x) { return gan::minimum(x, other_operand()); }},
      {"where", [](const Tensor& x) { return gan::where(gan::gt(other_operand(), 0.0), x, -x); }},
      {"max_dim", [](const Tensor& x) { return gan::max(gan::reshape(x, {1, 5}), 1); }},
      {"max_all", [](const Tensor& x) { return gan::max(x); }},
  };
  return ops;
}

// grad(grad(f(x).sum(), x, create_graph), x, ones): zeros where PyTorch gives zeros, an error where it raises.
TEST(SecondOrderSemantics, HessianVectorProductThroughOneOpMatchesPyTorch) {
  Generator gen(11);
  for (const auto& [name, f] : semantic_ops()) {
    SCOPED_TRACE(name);
    Tensor x = gan::randn({5}, DType::Float64, &gen);
    x.requires_grad_(true);
    const Tensor g = gan::grad({gan::sum(f(x))}, {x}, {}, /*create_graph=*/true)[0];
    if (pytorch_flag(name + ".hvp")) {
      ASSERT_TRUE(g.requires_grad()) << "PyTorch records this gradient as depending on x; the engine does not";
      const Tensor h = gan::grad({g}, {x}, {gan::ones_like(g)})[0];
      for (double e : h.to_vector<double>()) EXPECT_EQ(e, 0.0);
    } else {
      EXPECT_FALSE(g.requires_grad()) << "PyTorch's gradient does not depend on x here; the engine's does";
      EXPECT_THROW(gan::grad({g}, {x}, {gan::ones_like(g)}), std::invalid_argument);
    }
  }
}

// A gradient penalty through f(x w1 + b1) w2: d penalty / d b1 is zero (PyTorch returns it) or b1 is unused (both
// refuse without allow_unused), as PyTorch decides per op.
TEST(SecondOrderSemantics, PenaltyGradientBehindAnActivationMatchesPyTorch) {
  Generator gen(12);
  for (const std::string name : {"relu", "leaky_relu", "abs", "clamp"}) {
    SCOPED_TRACE(name);
    const auto& f = semantic_ops().at(name);
    auto leaf = [&](const gan::Shape& s) {
      Tensor t = gan::randn(s, DType::Float64, &gen);
      t.requires_grad_(true);
      return t;
    };
    Tensor x = leaf({2, 3}), w1 = leaf({3, 4}), b1 = leaf({4}), w2 = leaf({4, 1});
    const Tensor d = gan::matmul(f(gan::matmul(x, w1) + b1), w2);
    const Tensor gx = gan::grad({d}, {x}, {gan::ones({2, 1}, DType::Float64)}, /*create_graph=*/true)[0];
    const Tensor penalty = gan::mean(gan::pow(gan::sum(gx * gx, {1}) - 1.0, 2.0));
    if (pytorch_flag(name + ".penalty")) {
      const std::vector<Tensor> gs = gan::grad({penalty}, {w1, b1, w2});
      for (double e : gs[1].to_vector<double>()) EXPECT_EQ(e, 0.0);
    } else {
      EXPECT_THROW(gan::grad({penalty}, {w1, b1, w2}), std::invalid_argument);
    }
  }
}

// ---- the fused buffers and the ops give the same first gradient ----

struct FusedCase {
  std::string name;
  std::vector<gan::Shape> shapes;  // inputs, all differentiated
  std::function<Tensor(const std::vector<Tensor>&)> fn;
};

std::vector<FusedCase> fused_cases() {
  using R = F::Reduction;
  using A = F::Activation;
  auto positive = [](const Tensor& t) { return gan::exp(t * 0.5); };  // a variance from a random input
  std::vector<FusedCase> c = {
      {"bce", {{3, 5}, {3, 5}}, [](const auto& x) { return F::bce_with_logits(x[0], gan::sigmoid(x[1])); }},
      {"bce_sum", {{7}, {7}}, [](const auto& x) { return F::bce_with_logits(x[0], gan::sigmoid(x[1]), R::Sum); }},
      {"mse", {{4, 3}, {4, 3}}, [](const auto& x) { return F::mse_loss(x[0], x[1]); }},
      {"mse_sum", {{5}, {5}}, [](const auto& x) { return F::mse_loss(x[0], x[1], R::Sum); }},
      {"gnll", {{4, 3}, {4, 3}, {4, 3}},
       [positive](const auto& x) { return F::gaussian_nll_loss(x[0], x[1], positive(x[2])); }},
      {"gnll_homoscedastic_sum", {{4, 3}, {4, 3}, {4}},
       [positive](const auto& x) { return F::gaussian_nll_loss(x[0], x[1], positive(x[2]), true, 1e-6, R::Sum); }},
      {"kl", {{3, 4}, {3, 4}}, [](const auto& x) { return F::kl_normal(x[0], x[1]); }},
      {"kl_sum", {{3, 4}, {3, 4}}, [](const auto& x) { return F::kl_normal(x[0], x[1], R::Sum); }},
      {"hinge", {{6, 1}, {5, 1}}, [](const auto& x) { return F::hinge_critic_loss(x[0] * 2.0, x[1] * 2.0); }},
      {"hinge_sum", {{6}, {6}}, [](const auto& x) { return F::hinge_critic_loss(x[0] * 2.0, x[1] * 2.0, R::Sum); }},
  };
  for (const auto& [label, act] : std::vector<std::pair<std::string, F::ActivationArgs>>{
           {"identity", {A::Identity}}, {"relu", {A::ReLU}}, {"leaky", {A::LeakyReLU, 0.2}}}) {
    c.push_back({"bn_train_" + label, {{4, 3, 2, 3}, {3}, {3}}, [act](const auto& x) {
                   return F::batch_norm(x[0], Tensor(), Tensor(), x[1], x[2], true, 0.1, 1e-5, act);
                 }});
    c.push_back({"bn_eval_" + label, {{4, 3, 5}, {3}, {3}}, [act](const auto& x) {
                   const Tensor rm = gan::full({3}, 0.1, x[0].dtype()), rv = gan::full({3}, 1.7, x[0].dtype());
                   return F::batch_norm(x[0], rm, rv, x[1], x[2], false, 0.1, 1e-5, act);
                 }});
  }
  return c;
}

TEST(FusedBackward, BuffersAndOpsGiveTheSameGradient) {
  for (DType dtype : {DType::Float64, DType::Float32}) {
    const double tol = dtype == DType::Float64 ? 1e-12 : 2e-5;
    for (const FusedCase& c : fused_cases()) {
      SCOPED_TRACE(c.name + (dtype == DType::Float64 ? " float64" : " float32"));
      Generator gen(std::hash<std::string>{}(c.name));
      std::vector<Tensor> xs;
      for (const gan::Shape& s : c.shapes) {
        Tensor t = gan::randn(s, dtype, &gen);
        t.requires_grad_(true);
        xs.push_back(t);
      }
      const Tensor out = c.fn(xs);
      const Tensor v = gan::randn(out.shape(), dtype, &gen);
      const std::vector<Tensor> fused = gan::grad({out}, xs, {v}, /*retain_graph=*/true, false, false);
      const std::vector<Tensor> by_ops = gan::grad({out}, xs, {v}, /*retain_graph=*/true, /*create_graph=*/true, false);
      // (A gradient that depends on no input, such as batch norm's d/dbias = sum(g), is not recorded: at least
      // one must be.)
      bool recorded = false;
      for (size_t i = 0; i < xs.size(); ++i) {
        EXPECT_FALSE(fused[i].requires_grad()) << "input " << i;
        recorded |= by_ops[i].requires_grad();
        EXPECT_GOLDEN("input " + std::to_string(i), by_ops[i], fused[i], tol);
      }
      EXPECT_TRUE(recorded) << "the create_graph gradient was not recorded";
    }
  }
}

}  // namespace
