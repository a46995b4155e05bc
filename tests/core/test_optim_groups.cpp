// Parameter groups (each with its own settings) for every optimizer, their checkpointed settings, and AdamW against
// its documented algorithm in float64. (PyTorch's values for AdamW and grouped settings: test_golden_gan_ops.cpp.)
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/ops.h"
#include "engine/optim/optimizers.h"

namespace {

using gan::DType;
using gan::Tensor;
using namespace gan::optim;

Tensor param(std::vector<double> values) {
  const int64_t n = static_cast<int64_t>(values.size());
  Tensor t = gan::from_vector<double>(values, {n});
  t.requires_grad_(true);
  return t;
}

// f = sum(0.5 c p^2 + p) over every parameter: gradient c p + 1, different per element.
void backprop(const std::vector<Tensor>& ps) {
  Tensor total = gan::zeros({}, DType::Float64);
  for (const Tensor& p : ps) {
    const Tensor c = gan::arange(1.0, 1.0 + static_cast<double>(p.numel()), 1.0, DType::Float64);
    total = total + gan::sum(p * p * c * 0.5 + p);
  }
  total.backward();
}

struct Pair {
  Tensor a = param({1.0, -2.0, 0.5}), b = param({0.3, -0.7});
};

// Two groups of one optimizer must update exactly as two optimizers, one per group, with those settings.
template <typename Opt, typename Options>
void expect_groups_match_separate(const Options& oa, const Options& ob, const char* what) {
  Pair grouped, separate;
  Opt g({{{{"a", grouped.a}}, oa}, {{{"b", grouped.b}}, ob}});
  Opt sa({{"a", separate.a}}, oa), sb({{"b", separate.b}}, ob);
  for (int step = 0; step < 3; ++step) {
    g.zero_grad();
    sa.zero_grad();
    sb.zero_grad();
    backprop({grouped.a, grouped.b});
    backprop({separate.a, separate.b});
    g.step();
    sa.step();
    sb.step();
    EXPECT_EQ(grouped.a.to_vector<double>(), separate.a.to_vector<double>()) << what << " step " << step;
    EXPECT_EQ(grouped.b.to_vector<double>(), separate.b.to_vector<double>()) << what << " step " << step;
  }
  EXPECT_EQ(g.group_count(), 2u);
  EXPECT_EQ(g.group_of(0), 0u);
  EXPECT_EQ(g.group_of(1), 1u);
  EXPECT_EQ(g.lr(1), ob.lr);
}

TEST(OptimizerGroups, EachGroupUpdatesWithItsOwnSettings) {
  expect_groups_match_separate<SGD>(SGDOptions{.lr = 0.1, .momentum = 0.9, .nesterov = true},
                                    SGDOptions{.lr = 0.05, .weight_decay = 0.1}, "SGD");
  expect_groups_match_separate<Adam>(AdamOptions{.lr = 0.1, .beta1 = 0.5},
                                     AdamOptions{.lr = 0.01, .beta2 = 0.9, .eps = 1e-4, .weight_decay = 0.2}, "Adam");
  expect_groups_match_separate<AdamW>(AdamWOptions{.lr = 0.1},
                                      AdamWOptions{.lr = 0.02, .beta1 = 0.7, .weight_decay = 0.0}, "AdamW");
  expect_groups_match_separate<RMSprop>(RMSpropOptions{.lr = 0.01, .momentum = 0.5, .centered = true},
                                        RMSpropOptions{.lr = 0.03, .alpha = 0.9}, "RMSprop");
}

TEST(OptimizerGroups, SlotsFollowTheGroupsSettings) {
  Pair p;
  SGD opt({{{{"a", p.a}}, {.lr = 0.1, .momentum = 0.9}}, {{{"b", p.b}}, {.lr = 0.1}}});
  backprop({p.a, p.b});
  opt.step();
  std::vector<std::string> names;
  for (const auto& [n, t] : opt.state()) names.push_back(n);
  EXPECT_EQ(names, (std::vector<std::string>{"a.momentum_buffer", "param_groups.0.lr", "param_groups.0.momentum",
                                             "param_groups.0.dampening", "param_groups.0.weight_decay",
                                             "param_groups.0.nesterov", "param_groups.1.lr", "param_groups.1.momentum",
                                             "param_groups.1.dampening", "param_groups.1.weight_decay",
                                             "param_groups.1.nesterov", "step"}));
  const NamedTensors s = opt.state();
  EXPECT_EQ(s[1].second.dtype(), DType::Float64);
  EXPECT_EQ(s[1].second.item(), 0.1);
  EXPECT_EQ(s[2].second.item(), 0.9);
  EXPECT_EQ(s[7].second.item(), 0.0);
}

TEST(OptimizerGroups, LearningRatePerGroupAndForAll) {
  Pair p;
  Adam opt({{{{"a", p.a}}, {.lr = 0.1}}, {{{"b", p.b}}, {.lr = 0.2}}});
  EXPECT_EQ(opt.lr(), 0.1);
  EXPECT_EQ(opt.lr(1), 0.2);
  opt.set_lr(1, 0.5);
  EXPECT_EQ(opt.lr(0), 0.1);
  EXPECT_EQ(opt.lr(1), 0.5);
  EXPECT_EQ(opt.options(1).lr, 0.5);
  opt.set_lr(0.25);
  EXPECT_EQ(opt.lr(0), 0.25);
  EXPECT_EQ(opt.lr(1), 0.25);
  EXPECT_THROW(opt.set_lr(2, 0.1), std::invalid_argument);
  EXPECT_THROW((void)opt.lr(2), std::invalid_argument);
  EXPECT_THROW(opt.set_lr(1, -1.0), std::invalid_argument);
  EXPECT_THROW(opt.set_options(0, {.beta1 = 1.5}), std::invalid_argument);
  EXPECT_EQ(opt.options(0).beta1, 0.9);
}

TEST(OptimizerGroups, ConstructionChecks) {
  Pair p;
  EXPECT_THROW(Adam(std::vector<ParamGroup<AdamOptions>>{}), std::invalid_argument);
  // A parameter in two groups, and a bad setting in the second group.
  EXPECT_THROW(Adam({{{{"a", p.a}}, {}}, {{{"a2", p.a}}, {}}}), std::invalid_argument);
  EXPECT_THROW(SGD({{{{"a", p.a}}, {.lr = 0.1}}, {{{"b", p.b}}, {.lr = 0.1, .nesterov = true}}}),
               std::invalid_argument);
}

// Two steps, a checkpoint, a fresh optimizer with other settings loads it: it continues with the saved settings.
TEST(OptimizerGroups, CheckpointRestoresSettings) {
  auto make = [](const Pair& p, double lr_b) {
    return std::make_unique<RMSprop>(std::vector<ParamGroup<RMSpropOptions>>{
        {{{"a", p.a}}, {.lr = 0.01, .momentum = 0.5}}, {{{"b", p.b}}, {.lr = lr_b, .centered = true}}});
  };
  Pair pa, pb;
  auto a = make(pa, 0.02);
  a->set_lr(1, 0.07);  // a schedule changed it: the checkpoint must carry the change
  for (int i = 0; i < 2; ++i) {
    a->zero_grad();
    backprop({pa.a, pa.b});
    a->step();
  }
  NamedTensors saved;
  for (const auto& [n, t] : a->state()) saved.emplace_back(n, t.clone());
  gan::copy_(pb.a.detach(), pa.a);
  gan::copy_(pb.b.detach(), pa.b);
  auto b = make(pb, 0.9);
  b->load_state(saved);
  EXPECT_EQ(b->lr(1), 0.07);
  EXPECT_TRUE(b->options(1).centered);
  for (auto* o : {a.get(), b.get()}) {
    Pair& p = o == a.get() ? pa : pb;
    o->zero_grad();
    backprop({p.a, p.b});
    o->step();
  }
  EXPECT_EQ(pa.a.to_vector<double>(), pb.a.to_vector<double>());
  EXPECT_EQ(pa.b.to_vector<double>(), pb.b.to_vector<double>());
}

TEST(OptimizerGroups, StateWithoutGroupSettingsKeepsTheCurrentOnes) {
  // A checkpoint written before optimizers had groups: slots and "step" only.
  Pair p;
  Adam a({{"a", p.a}, {"b", p.b}}, {.lr = 0.1});
  backprop({p.a, p.b});
  a.step();
  NamedTensors old;
  for (const auto& [n, t] : a.state())
    if (n.rfind("param_groups.", 0) != 0) old.emplace_back(n, t.clone());
  Adam b({{"a", p.a}, {"b", p.b}}, {.lr = 0.3});
  b.load_state(old);
  EXPECT_EQ(b.lr(), 0.3);
  EXPECT_EQ(b.steps(), 1);
}

TEST(OptimizerGroups, LoadStateRejectsBadSettingsAndKeepsTheOldOnes) {
  Pair p;
  RMSprop opt({{{{"a", p.a}}, {.lr = 0.01}}, {{{"b", p.b}}, {.lr = 0.02}}});
  backprop({p.a, p.b});
  opt.step();
  const NamedTensors good = opt.state();
  auto with = [&](const std::function<void(NamedTensors&)>& edit) {
    NamedTensors s;
    for (const auto& [n, t] : good) s.emplace_back(n, t.clone());
    edit(s);
    return s;
  };
  auto set = [](NamedTensors& s, const std::string& name, double v) {
    for (auto& [n, t] : s)
      if (n == name) t = gan::scalar_tensor(v, DType::Float64);
  };
  EXPECT_NO_THROW(opt.load_state(good));
  EXPECT_THROW(opt.load_state(with([](NamedTensors& s) {
                 s.emplace_back("param_groups.2.lr", gan::scalar_tensor(0.1, DType::Float64));
               })),
               std::invalid_argument);
  EXPECT_THROW(opt.load_state(with([](NamedTensors& s) {
                 s.emplace_back("param_groups.0.betas", gan::scalar_tensor(0.1, DType::Float64));
               })),
               std::invalid_argument);
  EXPECT_THROW(opt.load_state(with([&](NamedTensors& s) { set(s, "param_groups.1.lr", -1.0); })),
               std::invalid_argument);
  // Only some settings of a group.
  EXPECT_THROW(opt.load_state(with([](NamedTensors& s) {
                 std::erase_if(s, [](const auto& e) { return e.first == "param_groups.1.alpha"; });
               })),
               std::invalid_argument);
  // Settings that need slots the state lacks (centered needs grad_avg).
  EXPECT_THROW(opt.load_state(with([&](NamedTensors& s) {
                 set(s, "param_groups.0.centered", 1.0);
                 set(s, "param_groups.0.lr", 0.5);
               })),
               std::invalid_argument);
  EXPECT_EQ(opt.lr(0), 0.01);
  EXPECT_FALSE(opt.options(0).centered);
  EXPECT_EQ(opt.lr(1), 0.02);
}

// ---- AdamW: torch.optim.AdamW's documented algorithm, float64 ----
TEST(AdamW, ThreeStepsMatchTheAlgorithmFloat64) {
  const double lr = 0.05, b1 = 0.8, b2 = 0.95, eps = 1e-6, wd = 0.3;
  Tensor p = param({1.0, -2.0, 0.5, 3.0});
  AdamW opt({{"p", p}}, {.lr = lr, .beta1 = b1, .beta2 = b2, .eps = eps, .weight_decay = wd});
  std::vector<double> ref = p.to_vector<double>(), m(ref.size()), v(ref.size());
  for (int t = 1; t <= 3; ++t) {
    opt.zero_grad();
    backprop({p});
    opt.step();
    for (size_t i = 0; i < ref.size(); ++i) {
      const double g = static_cast<double>(i + 1) * ref[i] + 1.0;  // gradient at the old parameter
      ref[i] *= 1.0 - lr * wd;
      m[i] = b1 * m[i] + (1 - b1) * g;
      v[i] = b2 * v[i] + (1 - b2) * g * g;
      const double m_hat = m[i] / (1 - std::pow(b1, t)), v_hat = v[i] / (1 - std::pow(b2, t));
      ref[i] -= lr * m_hat / (std::sqrt(v_hat) + eps);
    }
    const std::vector<double> got = p.to_vector<double>();
    for (size_t i = 0; i < ref.size(); ++i) EXPECT_NEAR(got[i], ref[i], 1e-12) << "step " << t << " element " << i;
  }
  std::vector<std::string> names;
  for (const auto& [n, t] : opt.state()) names.push_back(n);
  EXPECT_EQ(names, (std::vector<std::string>{"p.exp_avg", "p.exp_avg_sq", "p.step", "param_groups.0.lr",
                                             "param_groups.0.beta1", "param_groups.0.beta2", "param_groups.0.eps",
                                             "param_groups.0.weight_decay", "step"}));
}

TEST(AdamW, DefaultsArePyTorchsAndWithoutDecayItIsAdam) {
  Tensor p = param({1.0, 2.0});
  const AdamW d({{"p", p}});
  EXPECT_EQ(d.options().lr, 1e-3);
  EXPECT_EQ(d.options().beta1, 0.9);
  EXPECT_EQ(d.options().beta2, 0.999);
  EXPECT_EQ(d.options().eps, 1e-8);
  EXPECT_EQ(d.options().weight_decay, 1e-2);
  EXPECT_THROW(AdamW({{"p", p}}, {.beta2 = 1.0}), std::invalid_argument);
  EXPECT_THROW(AdamW({{"p", p}}, {.weight_decay = -0.1}), std::invalid_argument);

  Tensor q = param({1.0, -2.0, 0.5}), r = param({1.0, -2.0, 0.5});
  AdamW w({{"q", q}}, {.lr = 0.1, .weight_decay = 0.0});
  Adam a({{"r", r}}, {.lr = 0.1});
  for (int i = 0; i < 3; ++i) {
    w.zero_grad();
    a.zero_grad();
    backprop({q});
    backprop({r});
    w.step();
    a.step();
  }
  const std::vector<double> wq = q.to_vector<double>(), ar = r.to_vector<double>();
  for (size_t i = 0; i < wq.size(); ++i) EXPECT_NEAR(wq[i], ar[i], 1e-14);
}

TEST(AdamW, Float32FollowsFloat64) {
  Tensor p64 = param({1.0, -2.0, 0.5, 3.0});
  Tensor p32 = p64.detach().to(DType::Float32);
  p32.requires_grad_(true);
  AdamW o64({{"p", p64}}, {.lr = 0.05, .weight_decay = 0.1}), o32({{"p", p32}}, {.lr = 0.05, .weight_decay = 0.1});
  for (int i = 0; i < 3; ++i) {
    o64.zero_grad();
    o32.zero_grad();
    backprop({p64});
    backprop({p32.to(DType::Float64)});  // the same gradient, rounded to float32 on its way back
    o64.step();
    o32.step();
  }
  const std::vector<double> a = p64.to_vector<double>(), b = p32.to_vector<double>();
  for (size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(b[i], a[i], 2e-6 * std::max(1.0, std::abs(a[i])));
}

}  // namespace
