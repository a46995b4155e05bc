// Optimizers: PyTorch's torch.optim update rules and defaults (one parameter group), with named, checkpointable
// state. The update maths lives in fused kernels (kernels/optim.h); this layer owns the parameters, their state
// and the bookkeeping.
//
//   Adam opt(G.named_parameters(), {.lr = 2e-4, .beta1 = 0.5});
//   opt.zero_grad();            // .grad = undefined (PyTorch 2's set_to_none)
//   loss.backward();
//   opt.step();                 // parameters without a .grad are skipped, their state untouched
//
// State is named "<param name>.<slot>" ("G.net.0.weight.exp_avg") plus "step", the number of step() calls.
// Slots are created on a parameter's first update, as in PyTorch, so a parameter that never had a gradient has
// none. state() returns the live tensors (clone them for a snapshot); load_state() replaces the whole state with
// copies of the given tensors, after checking every name, shape and slot.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "engine/tensor.h"

namespace gan::optim {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

class Optimizer {
 public:
  Optimizer(std::string name, NamedTensors params, double lr);
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  // Sets every parameter's .grad to undefined.
  void zero_grad();
  // One update of every parameter that has a .grad, without recording a graph.
  void step();

  NamedTensors state() const;
  void load_state(const NamedTensors& state);

  double lr() const { return lr_; }
  void set_lr(double lr);
  const NamedTensors& params() const { return params_; }
  int64_t steps() const { return steps_; }  // step() calls so far (restored by load_state)
  const std::string& name() const { return name_; }

 protected:
  // The state slots each updated parameter gets, in the order state() lists them ("step" = per-parameter step
  // count, an int64 scalar; the others are tensors shaped like the parameter).
  virtual std::vector<std::string> slot_names() const = 0;
  // One parameter to update: its index in params(), a contiguous tensor holding its data (the parameter itself
  // when contiguous, else a copy written back after update()) and its gradient, contiguous, same shape and dtype.
  struct Work {
    size_t index;
    Tensor param;
    Tensor grad;
  };
  virtual void update(const std::vector<Work>& work) = 0;

  bool has_state(size_t i) const { return !state_[i].empty(); }
  // The slot tensor of parameter i; created (zeros like the parameter, or a 0 step count) if absent.
  Tensor slot(size_t i, const std::string& slot_name);
  // Throws std::invalid_argument prefixed with the optimizer's name.
  [[noreturn]] void fail(const std::string& what) const;

 private:
  std::string name_;
  NamedTensors params_;
  std::vector<std::map<std::string, Tensor>> state_;  // per parameter: slot name -> tensor
  double lr_;
  int64_t steps_ = 0;
};

// WGAN weight clipping: clamps every parameter in place to [-c, c], outside autograd.
void clip_weights_(const NamedTensors& params, double c);
void clip_weights_(const std::vector<Tensor>& params, double c);

}  // namespace gan::optim
