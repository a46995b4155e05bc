// SGD, Adam, AdamW and RMSprop with PyTorch's update rules and defaults (the maths is in kernels/optim.h). Options
// are aggregates, so call sites read like PyTorch's keyword arguments: Adam(params, {.lr = 2e-4, .beta1 = 0.5}).
// Each optimizer also takes parameter groups, each with its own options (engine/optim/optimizer.h):
// Adam({{body, {.lr = 2e-4}}, {head, {.lr = 1e-3}}}).
#pragma once

#include <concepts>
#include <string>
#include <vector>

#include "engine/optim/optimizer.h"

namespace gan::optim {

// torch.optim.SGD. State: "<param>.momentum_buffer" when the parameter's group has momentum != 0.
struct SGDOptions {
  double lr = 1e-3;  // PyTorch >= 2.3's default; earlier versions required it
  double momentum = 0.0;
  double dampening = 0.0;
  double weight_decay = 0.0;  // L2: added to the gradient
  bool nesterov = false;      // needs momentum > 0 and dampening == 0
};

// torch.optim.Adam (amsgrad=False). State: "<param>.exp_avg", "<param>.exp_avg_sq", "<param>.step".
struct AdamOptions {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;  // L2 added to the gradient (Adam, not AdamW)
};

// torch.optim.AdamW (amsgrad=False): Adam with decoupled weight decay, p <- p (1 - lr weight_decay) before the
// Adam step, in PyTorch 1.13's order of operations. State as Adam's.
struct AdamWOptions {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 1e-2;  // decoupled (PyTorch's default)
};

// torch.optim.RMSprop. State: "<param>.square_avg", "<param>.step", plus "<param>.momentum_buffer" when the group
// has momentum > 0 and "<param>.grad_avg" when it is centered.
struct RMSpropOptions {
  double lr = 1e-2;
  double alpha = 0.99;
  double eps = 1e-8;
  double weight_decay = 0.0;
  double momentum = 0.0;
  bool centered = false;
};

// ---- settings of each options type (names as in PyTorch's param_groups, betas split in two) ----
template <typename F>
void visit_settings(SGDOptions& o, F f) {
  f("lr", o.lr);
  f("momentum", o.momentum);
  f("dampening", o.dampening);
  f("weight_decay", o.weight_decay);
  f("nesterov", o.nesterov);
}
template <typename O, typename F>
  requires std::same_as<O, AdamOptions> || std::same_as<O, AdamWOptions>
void visit_settings(O& o, F f) {
  f("lr", o.lr);
  f("beta1", o.beta1);
  f("beta2", o.beta2);
  f("eps", o.eps);
  f("weight_decay", o.weight_decay);
}
template <typename F>
void visit_settings(RMSpropOptions& o, F f) {
  f("lr", o.lr);
  f("alpha", o.alpha);
  f("eps", o.eps);
  f("weight_decay", o.weight_decay);
  f("momentum", o.momentum);
  f("centered", o.centered);
}
// PyTorch's argument checks; throw std::invalid_argument prefixed with the optimizer's name.
void check_options(const std::string& optimizer, const SGDOptions& o);
void check_options(const std::string& optimizer, const AdamOptions& o);
void check_options(const std::string& optimizer, const AdamWOptions& o);
void check_options(const std::string& optimizer, const RMSpropOptions& o);

class SGD : public OptimizerWithGroups<SGDOptions> {
 public:
  explicit SGD(NamedTensors params, SGDOptions options = {});
  explicit SGD(std::vector<ParamGroup<SGDOptions>> groups);

 protected:
  std::vector<std::string> slot_names(size_t group) const override;
  void update(size_t group, const std::vector<Work>& work) override;
};

class Adam : public OptimizerWithGroups<AdamOptions> {
 public:
  explicit Adam(NamedTensors params, AdamOptions options = {});
  explicit Adam(std::vector<ParamGroup<AdamOptions>> groups);

 protected:
  std::vector<std::string> slot_names(size_t group) const override;
  void update(size_t group, const std::vector<Work>& work) override;
};

class AdamW : public OptimizerWithGroups<AdamWOptions> {
 public:
  explicit AdamW(NamedTensors params, AdamWOptions options = {});
  explicit AdamW(std::vector<ParamGroup<AdamWOptions>> groups);

 protected:
  std::vector<std::string> slot_names(size_t group) const override;
  void update(size_t group, const std::vector<Work>& work) override;
};

class RMSprop : public OptimizerWithGroups<RMSpropOptions> {
 public:
  explicit RMSprop(NamedTensors params, RMSpropOptions options = {});
  explicit RMSprop(std::vector<ParamGroup<RMSpropOptions>> groups);

 protected:
  std::vector<std::string> slot_names(size_t group) const override;
  void update(size_t group, const std::vector<Work>& work) override;
};

}  // namespace gan::optim
