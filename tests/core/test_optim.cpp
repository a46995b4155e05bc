// Optimizers (engine/optim): three steps on a small quadratic against PyTorch's documented algorithms written out
// below in float64; hand-computed first steps; zero_grad; state names, save and load; parameters without a
// gradient; weight clipping.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "engine/ops.h"
#include "engine/optim/optimizer.h"
#include "engine/optim/optimizers.h"

namespace {

using gan::DType;
using gan::Tensor;
using gan::optim::Adam;
using gan::optim::NamedTensors;
using gan::optim::Optimizer;
using gan::optim::RMSprop;
using gan::optim::SGD;

// ---- reference algorithms (torch.optim docs, maximize=False), one element at a time ----
// A reference step: p -= update(g), keeping its own state across calls.
using RefStep = std::function<void(std::vector<double>& p, const std::vector<double>& g)>;

RefStep sgd_ref(double lr, double momentum, double dampening, double wd, bool nesterov) {
  auto b = std::make_shared<std::vector<double>>();
  return [=](std::vector<double>& p, const std::vector<double>& grad) {
    const bool first = b->empty();
    if (first) b->resize(p.size());
    for (size_t i = 0; i < p.size(); ++i) {
      double g = grad[i];
      if (wd != 0) g += wd * p[i];                                          // g_t <- g_t + lambda theta_{t-1}
      if (momentum != 0) {
        (*b)[i] = first ? g : momentum * (*b)[i] + (1 - dampening) * g;    // b_t
        g = nesterov ? g + momentum * (*b)[i] : (*b)[i];
      }
      p[i] -= lr * g;                                                       // theta_t <- theta_{t-1} - gamma g_t
    }
  };
}

RefStep adam_ref(double lr, double beta1, double beta2, double eps, double wd) {
  auto m = std::make_shared<std::vector<double>>(), v = std::make_shared<std::vector<double>>();
  auto t = std::make_shared<int>(0);
  return [=](std::vector<double>& p, const std::vector<double>& grad) {
    if (m->empty()) m->resize(p.size()), v->resize(p.size());
    ++*t;
    for (size_t i = 0; i < p.size(); ++i) {
      double g = grad[i];
      if (wd != 0) g += wd * p[i];
      (*m)[i] = beta1 * (*m)[i] + (1 - beta1) * g;
      (*v)[i] = beta2 * (*v)[i] + (1 - beta2) * g * g;
      const double m_hat = (*m)[i] / (1 - std::pow(beta1, *t));
      const double v_hat = (*v)[i] / (1 - std::pow(beta2, *t));
      p[i] -= lr * m_hat / (std::sqrt(v_hat) + eps);
    }
  };
}

RefStep rmsprop_ref(double lr, double alpha, double eps, double wd, double momentum, bool centered) {
  auto v = std::make_shared<std::vector<double>>(), gavg = std::make_shared<std::vector<double>>(),
       b = std::make_shared<std::vector<double>>();
  return [=](std::vector<double>& p, const std::vector<double>& grad) {
    if (v->empty()) v->resize(p.size()), gavg->resize(p.size()), b->resize(p.size());
    for (size_t i = 0; i < p.size(); ++i) {
      double g = grad[i];
      if (wd != 0) g += wd * p[i];
      (*v)[i] = alpha * (*v)[i] + (1 - alpha) * g * g;
      double vt = (*v)[i];
      if (centered) {
        (*gavg)[i] = alpha * (*gavg)[i] + (1 - alpha) * g;
        vt -= (*gavg)[i] * (*gavg)[i];
      }
      if (momentum > 0) {
        (*b)[i] = momentum * (*b)[i] + g / (std::sqrt(vt) + eps);
        p[i] -= lr * (*b)[i];
      } else {
        p[i] -= lr * g / (std::sqrt(vt) + eps);
      }
    }
  };
}

// ---- the quadratic: f(p) = sum(0.5 a p^2 + c p), gradient a p + c, over two parameters ----
const std::vector<double> kW0 = {1.0, -2.0, 0.5, 3.0}, kB0 = {-0.7, 0.25, 1.5};
const std::vector<double> kA = {1.0, 2.0, 0.5, 4.0, 1.5, 0.3, 2.5}, kC = {0.3, -0.2, 0.1, 1.0, -1.0, 0.0, 0.6};

struct Model {
  Tensor w, b;
  NamedTensors named() const { return {{"G.net.0.weight", w}, {"G.net.0.bias", b}}; }
};

Model make_model(DType dt) {
  Model m{gan::from_vector<double>(kW0, {2, 2}).to(dt), gan::from_vector<double>(kB0, {3}).to(dt)};
  m.w.requires_grad_(true);
  m.b.requires_grad_(true);
  return m;
}

void backprop_quadratic(const Model& m) {
  const DType dt = m.w.dtype();
  const Tensor a = gan::from_vector<double>(kA, {7}).to(dt), c = gan::from_vector<double>(kC, {7}).to(dt);
  const Tensor p = gan::concat({m.w.reshape({4}), m.b}, 0);
  gan::sum(p * p * a * 0.5 + c * p).backward();
}

std::vector<double> values_of(const Model& m) {
  std::vector<double> v = m.w.to_vector<double>();
  for (double x : m.b.to_vector<double>()) v.push_back(x);
  return v;
}

std::vector<double> quadratic_grad(const std::vector<double>& p) {
  std::vector<double> g(p.size());
  for (size_t i = 0; i < p.size(); ++i) g[i] = kA[i] * p[i] + kC[i];
  return g;
}

struct OptCase {
  std::string name;
  std::function<std::unique_ptr<Optimizer>(NamedTensors)> make;
  std::function<RefStep()> ref;
};

std::vector<OptCase> cases() {
  using gan::optim::AdamOptions;
  using gan::optim::RMSpropOptions;
  using gan::optim::SGDOptions;
  return {
      {"sgd_plain", [](NamedTensors p) { return std::make_unique<SGD>(p, SGDOptions{.lr = 0.1}); },
       [] { return sgd_ref(0.1, 0, 0, 0, false); }},
      {"sgd_momentum", [](NamedTensors p) { return std::make_unique<SGD>(p, SGDOptions{.lr = 0.05, .momentum = 0.9}); },
       [] { return sgd_ref(0.05, 0.9, 0, 0, false); }},
      {"sgd_momentum_dampening",
       [](NamedTensors p) {
         return std::make_unique<SGD>(p, SGDOptions{.lr = 0.05, .momentum = 0.9, .dampening = 0.3});
       },
       [] { return sgd_ref(0.05, 0.9, 0.3, 0, false); }},
      {"sgd_nesterov",
       [](NamedTensors p) {
         return std::make_unique<SGD>(p, SGDOptions{.lr = 0.05, .momentum = 0.8, .nesterov = true});
       },
       [] { return sgd_ref(0.05, 0.8, 0, 0, true); }},
      {"sgd_weight_decay_momentum",
       [](NamedTensors p) {
         return std::make_unique<SGD>(p, SGDOptions{.lr = 0.05, .momentum = 0.5, .weight_decay = 0.1});
       },
       [] { return sgd_ref(0.05, 0.5, 0, 0.1, false); }},
      {"adam_defaults", [](NamedTensors p) { return std::make_unique<Adam>(p); },
       [] { return adam_ref(1e-3, 0.9, 0.999, 1e-8, 0); }},
      {"adam_dcgan", [](NamedTensors p) { return std::make_unique<Adam>(p, AdamOptions{.lr = 0.1, .beta1 = 0.5}); },
       [] { return adam_ref(0.1, 0.5, 0.999, 1e-8, 0); }},
      {"adam_weight_decay",
       [](NamedTensors p) {
         return std::make_unique<Adam>(
             p, AdamOptions{.lr = 0.05, .beta1 = 0.8, .beta2 = 0.9, .eps = 1e-3, .weight_decay = 0.2});
       },
       [] { return adam_ref(0.05, 0.8, 0.9, 1e-3, 0.2); }},
      {"rmsprop_defaults", [](NamedTensors p) { return std::make_unique<RMSprop>(p); },
       [] { return rmsprop_ref(1e-2, 0.99, 1e-8, 0, 0, false); }},
      {"rmsprop_wgan", [](NamedTensors p) { return std::make_unique<RMSprop>(p, RMSpropOptions{.lr = 5e-5}); },
       [] { return rmsprop_ref(5e-5, 0.99, 1e-8, 0, 0, false); }},
      {"rmsprop_momentum_weight_decay",
       [](NamedTensors p) {
         return std::make_unique<RMSprop>(
             p, RMSpropOptions{.lr = 0.02, .alpha = 0.9, .weight_decay = 0.1, .momentum = 0.7});
       },
       [] { return rmsprop_ref(0.02, 0.9, 1e-8, 0.1, 0.7, false); }},
      {"rmsprop_centered_momentum",
       [](NamedTensors p) {
         return std::make_unique<RMSprop>(
             p, RMSpropOptions{.lr = 0.01, .alpha = 0.8, .eps = 1e-4, .momentum = 0.5, .centered = true});
       },
       [] { return rmsprop_ref(0.01, 0.8, 1e-4, 0, 0.5, true); }},
  };
}

class OptimizerSteps : public ::testing::TestWithParam<OptCase> {};

TEST_P(OptimizerSteps, ThreeStepsMatchPyTorchAlgorithmFloat64) {
  const OptCase& c = GetParam();
  Model m = make_model(DType::Float64);
  auto opt = c.make(m.named());
  RefStep ref = c.ref();
  std::vector<double> p = values_of(m);
  for (int step = 1; step <= 3; ++step) {
    opt->zero_grad();
    backprop_quadratic(m);
    opt->step();
    ref(p, quadratic_grad(p));
    const std::vector<double> got = values_of(m);
    for (size_t i = 0; i < p.size(); ++i)
      EXPECT_NEAR(got[i], p[i], 1e-12 * std::max(1.0, std::abs(p[i])))
          << c.name << " step " << step << " element " << i;
  }
  EXPECT_EQ(opt->steps(), 3);
  EXPECT_TRUE(m.w.is_leaf());
  EXPECT_TRUE(m.w.requires_grad());
}

TEST_P(OptimizerSteps, Float32FollowsTheFloat64Reference) {
  const OptCase& c = GetParam();
  Model m = make_model(DType::Float32);
  auto opt = c.make(m.named());
  RefStep ref = c.ref();
  std::vector<double> p = values_of(m);
  for (int step = 1; step <= 3; ++step) {
    opt->zero_grad();
    backprop_quadratic(m);
    opt->step();
    ref(p, quadratic_grad(p));
  }
  EXPECT_EQ(m.w.dtype(), DType::Float32);
  const std::vector<double> got = values_of(m);
  for (size_t i = 0; i < p.size(); ++i)
    EXPECT_NEAR(got[i], p[i], 2e-6 * std::max(1.0, std::abs(p[i]))) << c.name << " element " << i;
}

INSTANTIATE_TEST_SUITE_P(All, OptimizerSteps, ::testing::ValuesIn(cases()),
                         [](const auto& info) { return info.param.name; });

// ---- hand-computed first steps: p = 1, grad = 2 ----

Tensor param_with_grad(double value, double grad) {
  Tensor p = gan::full({1}, value, DType::Float64);
  p.requires_grad_(true);
  p.set_grad(gan::full({1}, grad, DType::Float64));
  return p;
}

TEST(OptimizerExact, FirstSteps) {
  {
    Tensor p = param_with_grad(1.0, 2.0);
    SGD opt({{"p", p}}, {.lr = 0.1});
    opt.step();
    EXPECT_NEAR(p.item(), 0.8, 1e-15);  // 1 - 0.1 * 2
  }
  {
    // Adam's first step is lr * m_hat / (sqrt(v_hat) + eps) = lr * 2 / (2 + 1e-8).
    Tensor p = param_with_grad(1.0, 2.0);
    Adam opt({{"p", p}}, {.lr = 0.1});
    opt.step();
    EXPECT_NEAR(p.item(), 1.0 - 0.1 * 2.0 / (2.0 + 1e-8), 1e-15);
  }
  {
    // RMSprop: v = 0.01 * 4 = 0.04, p = 1 - 0.01 * 2 / (0.2 + 1e-8).
    Tensor p = param_with_grad(1.0, 2.0);
    RMSprop opt({{"p", p}});
    opt.step();
    EXPECT_NEAR(p.item(), 1.0 - 0.02 / (0.2 + 1e-8), 1e-15);
  }
  {
    // SGD momentum 0.9, the same grad twice: b1 = 2, b2 = 0.9 * 2 + 2 = 3.8; p = 1 - 0.1 (2 + 3.8) = 0.42.
    Tensor p = param_with_grad(1.0, 2.0);
    SGD opt({{"p", p}}, {.lr = 0.1, .momentum = 0.9});
    opt.step();
    p.set_grad(gan::full({1}, 2.0, DType::Float64));
    opt.step();
    EXPECT_NEAR(p.item(), 0.42, 1e-15);
    EXPECT_NEAR(opt.state()[0].second.item(), 3.8, 1e-15);
  }
}

// ---- bookkeeping ----

TEST(Optimizer, ZeroGradSetsGradsToUndefined) {
  Model m = make_model(DType::Float64);
  Adam opt(m.named());
  backprop_quadratic(m);
  ASSERT_TRUE(m.w.grad().defined());
  opt.zero_grad();
  EXPECT_FALSE(m.w.grad().defined());
  EXPECT_FALSE(m.b.grad().defined());
  // With no gradients, step() changes nothing and creates no state, but still counts.
  opt.step();
  EXPECT_EQ(values_of(m), values_of(make_model(DType::Float64)));
  EXPECT_EQ(opt.state().size(), 1u + opt.group_settings(0).size());  // "step" and the group's settings
  EXPECT_EQ(opt.steps(), 1);
}

// The per-parameter slots and "step"; the "param_groups.*" settings are tested in test_optim_groups.cpp.
std::vector<std::string> state_names(const Optimizer& opt) {
  std::vector<std::string> names;
  for (const auto& [name, t] : opt.state())
    if (name.rfind("param_groups.", 0) != 0) names.push_back(name);
  return names;
}

TEST(Optimizer, StateNames) {
  using V = std::vector<std::string>;
  {
    Model m = make_model(DType::Float64);
    Adam opt(m.named());
    EXPECT_EQ(state_names(opt), V{"step"});  // nothing before the first update
    backprop_quadratic(m);
    opt.step();
    EXPECT_EQ(state_names(opt), (V{"G.net.0.weight.exp_avg", "G.net.0.weight.exp_avg_sq", "G.net.0.weight.step",
                                   "G.net.0.bias.exp_avg", "G.net.0.bias.exp_avg_sq", "G.net.0.bias.step", "step"}));
    const NamedTensors s = opt.state();
    EXPECT_EQ(s[0].second.shape(), (gan::Shape{2, 2}));
    EXPECT_EQ(s[2].second.dtype(), DType::Int64);
    EXPECT_EQ(s[2].second.item(), 1.0);
    EXPECT_EQ(s.back().second.item(), 1.0);
  }
  {
    Model m = make_model(DType::Float64);
    SGD plain(m.named(), {.lr = 0.1});
    SGD momentum(m.named(), {.lr = 0.1, .momentum = 0.9});
    backprop_quadratic(m);
    plain.step();
    momentum.step();
    EXPECT_EQ(state_names(plain), V{"step"});
    EXPECT_EQ(state_names(momentum), (V{"G.net.0.weight.momentum_buffer", "G.net.0.bias.momentum_buffer", "step"}));
  }
  {
    Model m = make_model(DType::Float64);
    RMSprop opt(m.named(), {.momentum = 0.9, .centered = true});
    backprop_quadratic(m);
    opt.step();
    EXPECT_EQ(state_names(opt),
              (V{"G.net.0.weight.square_avg", "G.net.0.weight.step", "G.net.0.weight.momentum_buffer",
                 "G.net.0.weight.grad_avg", "G.net.0.bias.square_avg", "G.net.0.bias.step",
                 "G.net.0.bias.momentum_buffer", "G.net.0.bias.grad_avg", "step"}));
  }
}

TEST(Optimizer, SkipsParametersWithoutGrad) {
  // Step 1: only w has a gradient. Step 2: both. Adam's bias correction is per parameter, so b's second-call
  // update is a first step (as in PyTorch, whose per-parameter 'step' only advances when the parameter updates).
  Model m = make_model(DType::Float64);
  Adam opt(m.named(), {.lr = 0.1});
  RefStep ref_w = adam_ref(0.1, 0.9, 0.999, 1e-8, 0), ref_b = adam_ref(0.1, 0.9, 0.999, 1e-8, 0);
  std::vector<double> pw = kW0, pb = kB0;
  auto grads = [](const std::vector<double>& p, size_t off) {
    std::vector<double> g(p.size());
    for (size_t i = 0; i < p.size(); ++i) g[i] = kA[off + i] * p[i] + kC[off + i];
    return g;
  };

  backprop_quadratic(m);
  m.b.set_grad(Tensor());
  opt.step();
  ref_w(pw, grads(pw, 0));
  EXPECT_EQ(m.b.to_vector<double>(), kB0);
  EXPECT_EQ(state_names(opt), (std::vector<std::string>{"G.net.0.weight.exp_avg", "G.net.0.weight.exp_avg_sq",
                                                        "G.net.0.weight.step", "step"}));

  opt.zero_grad();
  backprop_quadratic(m);
  opt.step();
  ref_w(pw, grads(pw, 0));
  ref_b(pb, grads(pb, 4));
  const auto w = m.w.to_vector<double>(), b = m.b.to_vector<double>();
  for (size_t i = 0; i < w.size(); ++i) EXPECT_NEAR(w[i], pw[i], 1e-12);
  for (size_t i = 0; i < b.size(); ++i) EXPECT_NEAR(b[i], pb[i], 1e-12);
  const NamedTensors s = opt.state();
  EXPECT_EQ(s[2].first, "G.net.0.weight.step");
  EXPECT_EQ(s[2].second.item(), 2.0);
  EXPECT_EQ(s[5].first, "G.net.0.bias.step");
  EXPECT_EQ(s[5].second.item(), 1.0);
}

TEST(Optimizer, LoadStateResumesExactly) {
  for (int kind = 0; kind < 3; ++kind) {
    auto make = [kind](NamedTensors p) -> std::unique_ptr<Optimizer> {
      if (kind == 0) return std::make_unique<Adam>(p, gan::optim::AdamOptions{.lr = 0.05});
      if (kind == 1) return std::make_unique<SGD>(p, gan::optim::SGDOptions{.lr = 0.05, .momentum = 0.9});
      return std::make_unique<RMSprop>(p, gan::optim::RMSpropOptions{.momentum = 0.5, .centered = true});
    };
    Model a = make_model(DType::Float64);
    auto opt_a = make(a.named());
    for (int i = 0; i < 2; ++i) {
      opt_a->zero_grad();
      backprop_quadratic(a);
      opt_a->step();
    }
    // A checkpoint: parameter values and optimizer state, copied.
    NamedTensors saved;
    for (const auto& [name, t] : opt_a->state()) saved.emplace_back(name, t.clone());
    Model b = make_model(DType::Float64);
    gan::copy_(b.w.detach(), a.w);
    gan::copy_(b.b.detach(), a.b);
    auto opt_b = make(b.named());
    opt_b->load_state(saved);
    EXPECT_EQ(opt_b->steps(), 2);
    for (Model* m : {&a, &b}) {
      Optimizer* o = m == &a ? opt_a.get() : opt_b.get();
      o->zero_grad();
      backprop_quadratic(*m);
      o->step();
    }
    EXPECT_EQ(values_of(a), values_of(b)) << "optimizer kind " << kind;
  }
}

TEST(Optimizer, LoadStateRejectsBadEntries) {
  Model m = make_model(DType::Float64);
  Adam opt(m.named());
  backprop_quadratic(m);
  opt.step();
  const NamedTensors good = opt.state();
  auto with = [&](std::function<void(NamedTensors&)> edit) {
    NamedTensors s = good;
    edit(s);
    return s;
  };
  EXPECT_NO_THROW(opt.load_state(good));
  EXPECT_THROW(opt.load_state(with([](NamedTensors& s) { s.emplace_back("G.net.1.weight.exp_avg", gan::zeros({2})); })),
               std::invalid_argument);
  EXPECT_THROW(opt.load_state(with([](NamedTensors& s) { s[0].second = gan::zeros({4}, DType::Float64); })),
               std::invalid_argument);
  EXPECT_THROW(opt.load_state(with([](NamedTensors& s) { s.erase(s.begin() + 1); })), std::invalid_argument);
  EXPECT_THROW(opt.load_state(with([](NamedTensors& s) { s.pop_back(); })), std::invalid_argument);  // "step"
  EXPECT_THROW(opt.load_state(with([](NamedTensors& s) { s[0].first = "G.net.0.weight.momentum_buffer"; })),
               std::invalid_argument);
  // A failed load leaves the state as it was.
  EXPECT_EQ(opt.state().size(), good.size());
  // Loading float32 state into float64 parameters converts it.
  NamedTensors f32 = good;
  f32[0].second = good[0].second.to(DType::Float32);
  opt.load_state(f32);
  EXPECT_EQ(opt.state()[0].second.dtype(), DType::Float64);
}

TEST(Optimizer, OptionAndParameterChecks) {
  Model m = make_model(DType::Float64);
  EXPECT_THROW(SGD(m.named(), {.lr = 0.1, .nesterov = true}), std::invalid_argument);
  EXPECT_THROW(SGD(m.named(), {.lr = 0.1, .momentum = 0.9, .dampening = 0.1, .nesterov = true}), std::invalid_argument);
  EXPECT_THROW(SGD(m.named(), {.lr = -1.0}), std::invalid_argument);
  EXPECT_THROW(Adam(m.named(), {.beta1 = 1.0}), std::invalid_argument);
  EXPECT_THROW(Adam(m.named(), {.eps = -1.0}), std::invalid_argument);
  EXPECT_THROW(RMSprop(m.named(), {.alpha = -0.5}), std::invalid_argument);
  EXPECT_THROW(Adam({{"w", m.w}, {"w", m.b}}), std::invalid_argument);          // duplicate name
  EXPECT_THROW(Adam({{"w", m.w}, {"v", m.w}}), std::invalid_argument);          // same tensor twice
  EXPECT_THROW(Adam({{"w", m.w * 2.0}}), std::invalid_argument);                // not a leaf
  EXPECT_THROW(Adam({{"i", gan::zeros({2}, DType::Int64)}}), std::invalid_argument);
  Adam opt(m.named());
  EXPECT_EQ(opt.lr(), 1e-3);
  opt.set_lr(0.5);
  EXPECT_EQ(opt.lr(), 0.5);
  EXPECT_THROW(opt.set_lr(-0.1), std::invalid_argument);
}

TEST(Optimizer, DefaultsArePyTorchs) {
  Model m = make_model(DType::Float64);
  const Adam adam(m.named());
  EXPECT_EQ(adam.options().lr, 1e-3);
  EXPECT_EQ(adam.options().beta1, 0.9);
  EXPECT_EQ(adam.options().beta2, 0.999);
  EXPECT_EQ(adam.options().eps, 1e-8);
  EXPECT_EQ(adam.options().weight_decay, 0.0);
  const RMSprop rms(m.named());
  EXPECT_EQ(rms.options().lr, 1e-2);
  EXPECT_EQ(rms.options().alpha, 0.99);
  EXPECT_EQ(rms.options().eps, 1e-8);
  EXPECT_EQ(rms.options().momentum, 0.0);
  EXPECT_FALSE(rms.options().centered);
  const SGD sgd(m.named());
  EXPECT_EQ(sgd.options().momentum, 0.0);
  EXPECT_EQ(sgd.options().dampening, 0.0);
  EXPECT_FALSE(sgd.options().nesterov);
}

TEST(Optimizer, SetLrTakesEffect) {
  Tensor p = param_with_grad(1.0, 2.0);
  SGD opt({{"p", p}}, {.lr = 0.1});
  opt.set_lr(0.25);
  opt.step();
  EXPECT_NEAR(p.item(), 0.5, 1e-15);
}

TEST(Optimizer, StepRecordsNoGraphAndMixesDtypes) {
  Tensor w32 = gan::full({3}, 1.0, DType::Float32), w64 = gan::full({2}, 1.0, DType::Float64);
  w32.requires_grad_(true);
  w64.requires_grad_(true);
  SGD opt({{"a", w32}, {"b", w64}}, {.lr = 0.5});
  (gan::sum(w32 * w32) + gan::sum(w64).to(DType::Float32)).backward();
  opt.step();
  EXPECT_EQ(w32.to_vector<double>(), (std::vector<double>{0.0, 0.0, 0.0}));  // 1 - 0.5 * 2
  EXPECT_EQ(w64.to_vector<double>(), (std::vector<double>{0.5, 0.5}));       // 1 - 0.5 * 1
  EXPECT_TRUE(w32.is_leaf());
  EXPECT_FALSE(w32.grad().requires_grad());
}

TEST(Optimizer, NonContiguousParameter) {
  // A transposed leaf: the update must land in the parameter's own storage.
  Tensor base = gan::from_vector<double>({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor p = base.t();
  p.requires_grad_(true);
  p.set_grad(gan::ones({3, 2}, DType::Float64));
  SGD opt({{"p", p}}, {.lr = 1.0});
  opt.step();
  EXPECT_EQ(base.to_vector<double>(), (std::vector<double>{0, 1, 2, 3, 4, 5}));
}

// ---- weight clipping ----

TEST(ClipWeights, ClampsInPlace) {
  Tensor w = gan::from_vector<double>({-0.5, -0.01, 0.0, 0.005, 0.02, 3.0}, {2, 3});
  Tensor b = gan::from_vector<float>({0.1f, -0.1f}, {2});
  w.requires_grad_(true);
  b.requires_grad_(true);
  const void* storage = w.raw_data();
  gan::optim::clip_weights_(NamedTensors{{"w", w}, {"b", b}}, 0.01);
  EXPECT_EQ(w.raw_data(), storage);
  EXPECT_EQ(w.to_vector<double>(), (std::vector<double>{-0.01, -0.01, 0.0, 0.005, 0.01, 0.01}));
  EXPECT_EQ(b.to_vector<float>(), (std::vector<float>{0.01f, -0.01f}));
  EXPECT_TRUE(w.is_leaf());

  Tensor base = gan::from_vector<double>({-2, -1, 0, 1, 2, 3}, {2, 3});
  gan::optim::clip_weights_(std::vector<Tensor>{base.t()}, 1.5);
  EXPECT_EQ(base.to_vector<double>(), (std::vector<double>{-1.5, -1, 0, 1, 1.5, 1.5}));
  EXPECT_THROW(gan::optim::clip_weights_(std::vector<Tensor>{base}, -1.0), std::invalid_argument);
}

}  // namespace
