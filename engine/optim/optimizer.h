// Optimizers: PyTorch's torch.optim update rules and defaults, with parameter groups and named, checkpointable
// state. The update maths lives in fused kernels (kernels/optim.h); this layer owns the parameters, their groups,
// their state and the bookkeeping.
//
//   Adam opt(G.named_parameters(), {.lr = 2e-4, .beta1 = 0.5});            // one group
//   Adam opt({{body, {.lr = 2e-4, .beta1 = 0.5}}, {head, {.lr = 1e-3}}});  // a group per ParamGroup{params, options}
//   opt.zero_grad();            // .grad = undefined (PyTorch 2's set_to_none)
//   loss.backward();
//   opt.step();                 // parameters without a .grad are skipped, their state untouched
//
// Every group has all of the optimizer's settings (lr, betas, weight decay, momentum, ...), as PyTorch's
// param_groups do once their defaults are filled in. State is named "<param name>.<slot>" ("G.net.0.weight.exp_avg"),
// "param_groups.<g>.<setting>" (float64 scalars, every setting of every group: a checkpoint restores a changed
// learning rate too) and "step", the number of step() calls. Slots are created on a parameter's first update, as
// in PyTorch, so a parameter that never had a gradient has none. state() returns the live tensors (clone them for
// a snapshot); load_state() replaces the whole state with copies of the given tensors, after checking every name,
// shape, slot and setting. A state without "param_groups.*" entries (written before groups existed) keeps the
// current settings.
//
// CUDA graphs (kernels/cuda/graph.h): a step() captured in a graph leaves the host counters (steps(), the "step"
// slots) where they were, and each replay advances them as an eager step would; state slots cannot be created
// inside a capture (run one eager step first). Adam's bias corrections are read from device memory the host fills
// before each replay (optimizers.cpp), with the group's current learning rate; the other settings are frozen at
// capture. Replacing the state (load_state) after a capture needs a new capture.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "engine/tensor.h"

namespace gan::optim {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;
// A group's settings by name, in a fixed order; booleans as 0 / 1.
using Settings = std::vector<std::pair<std::string, double>>;

class Optimizer {
 public:
  // One NamedTensors per parameter group (the groups' settings live in the subclass).
  Optimizer(std::string name, std::vector<NamedTensors> groups);
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  // Sets every parameter's .grad to undefined.
  void zero_grad();
  // One update of every parameter that has a .grad, without recording a graph.
  void step();

  NamedTensors state() const;
  void load_state(const NamedTensors& state);

  double lr() const { return lr(0); }  // group 0's (the only group unless groups were given)
  double lr(size_t group) const;
  void set_lr(double lr);  // every group's
  void set_lr(size_t group, double lr);
  // Every group's settings (what state() saves under "param_groups.<g>.").
  virtual Settings group_settings(size_t group) const = 0;

  const NamedTensors& params() const { return params_; }  // every group's, in group order
  size_t group_count() const { return group_sizes_.size(); }
  size_t group_of(size_t param_index) const { return param_group_.at(param_index); }
  int64_t steps() const { return steps_; }  // step() calls so far (restored by load_state)
  const std::string& name() const { return name_; }

  // One parameter to update: its index in params(), a contiguous tensor holding its data (the parameter itself
  // when contiguous, else a copy written back after update()) and its gradient, contiguous, same shape and dtype.
  struct Work {
    size_t index;
    Tensor param;
    Tensor grad;
  };

 protected:
  // Replaces group g's settings (the names group_settings lists, in any order); throws std::invalid_argument on a
  // missing name or an invalid value, leaving the settings unchanged.
  virtual void set_group_settings(size_t group, const Settings& settings) = 0;
  // The state slots of a parameter of `group`, in the order state() lists them ("step" = per-parameter step
  // count, an int64 scalar; the others are tensors shaped like the parameter).
  virtual std::vector<std::string> slot_names(size_t group) const = 0;
  // Called once per group that has parameters with gradients.
  virtual void update(size_t group, const std::vector<Work>& work) = 0;

  bool has_state(size_t i) const { return !state_[i].empty(); }
  // The slot tensor of parameter i; created (zeros like the parameter, or a 0 step count) if absent.
  Tensor slot(size_t i, const std::string& slot_name);
  // Throws std::invalid_argument prefixed with the optimizer's name.
  [[noreturn]] void fail(const std::string& what) const;

 private:
  std::string name_;
  NamedTensors params_;
  std::vector<size_t> param_group_;  // per parameter
  std::vector<size_t> group_sizes_;
  std::vector<std::map<std::string, Tensor>> state_;  // per parameter: slot name -> tensor
  int64_t steps_ = 0;

  void load_slots(const NamedTensors& state);
};

// Parameters that share settings (one entry of PyTorch's param_groups).
template <typename Options>
struct ParamGroup {
  NamedTensors params;
  Options options;
};

// The settings half of an optimizer with options struct `Options`. Each Options type provides, in namespace
// gan::optim (found by argument-dependent lookup):
//   void visit_settings(Options& o, F f)               f(name, field) for every field (double& or bool&)
//   void check_options(const std::string& optimizer, const Options& o)   throws std::invalid_argument
template <typename Options>
class OptimizerWithGroups : public Optimizer {
 public:
  const Options& options(size_t group = 0) const { return options_.at(group); }
  // Replaces a group's options after checking them.
  void set_options(size_t group, const Options& o) {
    check_options(name(), o);
    options_.at(group) = o;
  }

  Settings group_settings(size_t group) const override {
    Options o = options_.at(group);
    Settings s;
    visit_settings(o, [&](const char* n, auto& field) { s.emplace_back(n, static_cast<double>(field)); });
    return s;
  }

 protected:
  OptimizerWithGroups(std::string name, std::vector<ParamGroup<Options>> groups)
      : Optimizer(name, params_of(groups)) {
    for (const ParamGroup<Options>& g : groups) {
      check_options(name, g.options);
      options_.push_back(g.options);
    }
  }

  void set_group_settings(size_t group, const Settings& settings) override {
    Options o = options_.at(group);
    visit_settings(o, [&](const char* n, auto& field) {
      for (const auto& [key, value] : settings)
        if (key == n) {
          field = static_cast<std::remove_reference_t<decltype(field)>>(value);
          return;
        }
      fail(std::string("settings of parameter group ") + std::to_string(group) + " lack '" + n + "'");
    });
    set_options(group, o);
  }

  std::vector<Options> options_;

 private:
  static std::vector<NamedTensors> params_of(const std::vector<ParamGroup<Options>>& groups) {
    std::vector<NamedTensors> out;
    for (const ParamGroup<Options>& g : groups) out.push_back(g.params);
    return out;
  }
};

// WGAN weight clipping: clamps every parameter in place to [-c, c], outside autograd.
void clip_weights_(const NamedTensors& params, double c);
void clip_weights_(const std::vector<Tensor>& params, double c);

}  // namespace gan::optim
