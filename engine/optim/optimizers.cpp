// SGD, Adam, AdamW, RMSprop: option checks as in PyTorch, state slots, and the hand-off of every parameter with a
// gradient to one fused kernel call per parameter group, device and dtype.
#include "engine/optim/optimizers.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <stdexcept>
#include <string>
#include <type_traits>

#include "engine/ops/dispatch.h"
#include "kernels/cuda/graph.h"
#include "kernels/cuda/runtime.h"
#include "kernels/optim.h"

namespace gan::optim {

namespace {

// Kernel slots grouped by device and dtype: one fused kernel call per group (a multi-tensor launch on a GPU).
template <template <typename> class Slot>
struct SlotLists {
  struct Group {
    Device device;
    std::vector<Slot<float>> f32;
    std::vector<Slot<double>> f64;
  };
  std::vector<Group> groups;  // in order of first appearance

  template <typename T>
  std::vector<Slot<T>>& of(const Device& device) {
    auto it = std::find_if(groups.begin(), groups.end(), [&](const Group& g) { return g.device == device; });
    if (it == groups.end()) it = groups.insert(groups.end(), Group{device, {}, {}});
    if constexpr (std::is_same_v<T, float>) return it->f32;
    else return it->f64;
  }

  // run(device, slots, count) once per non-empty list; run is a generic lambda (slots is Slot<float>* or
  // Slot<double>*).
  template <typename Run>
  void for_each(Run run) {
    for (Group& g : groups) {
      if (!g.f32.empty()) run(g.device, g.f32.data(), static_cast<int64_t>(g.f32.size()));
      if (!g.f64.empty()) run(g.device, g.f64.data(), static_cast<int64_t>(g.f64.size()));
    }
  }
};

void check_non_negative(const std::string& opt, const char* what, double v) {
  if (!(v >= 0.0)) throw std::invalid_argument(opt + ": invalid " + what + " value " + std::to_string(v));
}

void check_betas(const std::string& opt, double beta1, double beta2) {
  if (!(beta1 >= 0.0 && beta1 < 1.0))
    throw std::invalid_argument(opt + ": invalid beta parameter at index 0: " + std::to_string(beta1));
  if (!(beta2 >= 0.0 && beta2 < 1.0))
    throw std::invalid_argument(opt + ": invalid beta parameter at index 1: " + std::to_string(beta2));
}

using SlotFn = std::function<Tensor(size_t, const std::string&)>;

template <typename Options>
std::vector<ParamGroup<Options>> one_group(NamedTensors params, const Options& o) {
  return {ParamGroup<Options>{std::move(params), o}};
}

// Bias corrections of step t, in double, as the fused kernels compute them from AdamSlot::step.
void adam_bias(double lr, double beta1, double beta2, int64_t t, double* out) {
  out[0] = lr / (1.0 - std::pow(beta1, static_cast<double>(t)));
  out[1] = std::sqrt(1.0 - std::pow(beta2, static_cast<double>(t)));
}

// Adam's step count and hence its bias corrections change at every step, so a CUDA graph cannot take them as
// kernel arguments: while capturing, each step() reads them from its own graph buffer (2 doubles per parameter;
// an optimizer may step several times in one graph: WGAN's critic), which the host fills before each replay from
// the step counts the replay's Optimizer hook has just advanced and the group's current learning rate. Computed on
// the host like the eager path's, so replays and eager steps update bit for bit alike (a device-side pow could
// differ in the last bit). Returns the buffer; `work` order.
double* graph_bias(const std::vector<Optimizer::Work>& work, const SlotFn& slot, std::function<double()> lr,
                   double beta1, double beta2) {
  std::vector<Tensor> steps;  // the "step" slot of each parameter in `work`
  for (const Optimizer::Work& w : work) steps.push_back(slot(w.index, "step"));
  auto* buffer = static_cast<double*>(kernels::cuda::graph_buffer(2 * sizeof(double) * std::max<size_t>(work.size(), 1)));
  kernels::cuda::CaptureHooks hooks;
  hooks.before_replay = [buffer, steps, lr = std::move(lr), beta1, beta2] {
    std::vector<double> values(2 * steps.size());
    const double rate = lr();
    for (size_t j = 0; j < steps.size(); ++j) adam_bias(rate, beta1, beta2, *steps[j].data<int64_t>(), &values[2 * j]);
    kernels::cuda::memcpy_h2d(buffer, values.data(), values.size() * sizeof(double));
  };
  kernels::cuda::add_capture_hooks(std::move(hooks));
  return buffer;
}

// One Adam-family step (Adam, or AdamW when `decoupled`) over a group's work: the moments and the per-parameter
// step count (advanced here) handed to the fused kernel. slot(i, name) is the optimizer's state accessor.
void adam_family_update(const char* name, bool decoupled, const std::vector<Optimizer::Work>& work,
                        const SlotFn& slot, const kernels::AdamHyper& h, std::function<double()> lr) {
  const bool graph = kernels::cuda::capturing();
  double* device_bias = graph ? graph_bias(work, slot, std::move(lr), h.beta1, h.beta2) : nullptr;
  size_t j = 0;  // the parameter's place in `work`
  SlotLists<kernels::AdamSlot> lists;
  for (const Optimizer::Work& w : work) {
    GAN_DISPATCH_FLOATING(w.param.dtype(), name, [&] {
      kernels::AdamSlot<scalar_t> s;
      s.param = w.param.data<scalar_t>();
      s.grad = w.grad.data<scalar_t>();
      s.numel = w.param.numel();
      s.exp_avg = slot(w.index, "exp_avg").data<scalar_t>();
      s.exp_avg_sq = slot(w.index, "exp_avg_sq").data<scalar_t>();
      int64_t& step = *slot(w.index, "step").data<int64_t>();
      s.step = ++step;
      if (device_bias != nullptr && w.param.device().is_cuda()) s.device_bias = device_bias + 2 * j;
      lists.of<scalar_t>(w.param.device()).push_back(s);
    });
    ++j;
  }
  lists.for_each([&](const Device& device, auto* slots, int64_t count) {
    using T = std::remove_const_t<std::remove_pointer_t<decltype(slots->param)>>;
    if (decoupled) GAN_KERNEL(device, name, adamw_step<T>, slots, count, h);
    else GAN_KERNEL(device, name, adam_step<T>, slots, count, h);
  });
}

}  // namespace

void check_options(const std::string& opt, const SGDOptions& o) {
  check_non_negative(opt, "learning rate", o.lr);
  check_non_negative(opt, "momentum", o.momentum);
  check_non_negative(opt, "weight_decay", o.weight_decay);
  if (o.nesterov && (o.momentum <= 0.0 || o.dampening != 0.0))
    throw std::invalid_argument(opt + ": Nesterov momentum requires a momentum and zero dampening");
}

void check_options(const std::string& opt, const AdamOptions& o) {
  check_non_negative(opt, "learning rate", o.lr);
  check_non_negative(opt, "epsilon", o.eps);
  check_betas(opt, o.beta1, o.beta2);
  check_non_negative(opt, "weight_decay", o.weight_decay);
}

void check_options(const std::string& opt, const AdamWOptions& o) {
  check_options(opt, AdamOptions{o.lr, o.beta1, o.beta2, o.eps, o.weight_decay});
}

void check_options(const std::string& opt, const RMSpropOptions& o) {
  check_non_negative(opt, "learning rate", o.lr);
  check_non_negative(opt, "epsilon", o.eps);
  check_non_negative(opt, "momentum", o.momentum);
  check_non_negative(opt, "weight_decay", o.weight_decay);
  check_non_negative(opt, "alpha", o.alpha);
}

// ---- SGD ----

SGD::SGD(NamedTensors params, SGDOptions o) : SGD(one_group(std::move(params), o)) {}
SGD::SGD(std::vector<ParamGroup<SGDOptions>> groups) : OptimizerWithGroups("SGD", std::move(groups)) {}

std::vector<std::string> SGD::slot_names(size_t group) const {
  if (options(group).momentum != 0.0) return {"momentum_buffer"};
  return {};
}

void SGD::update(size_t group, const std::vector<Work>& work) {
  const SGDOptions& o = options(group);
  const kernels::SgdHyper h{o.lr, o.momentum, o.dampening, o.weight_decay, o.nesterov};
  SlotLists<kernels::SgdSlot> lists;
  for (const Work& w : work) {
    GAN_DISPATCH_FLOATING(w.param.dtype(), "SGD", [&] {
      kernels::SgdSlot<scalar_t> s;
      s.param = w.param.data<scalar_t>();
      s.grad = w.grad.data<scalar_t>();
      s.numel = w.param.numel();
      if (h.momentum != 0.0) {
        s.first_step = !has_state(w.index);  // PyTorch: buf = clone(g) when the buffer does not exist yet
        s.momentum_buffer = slot(w.index, "momentum_buffer").data<scalar_t>();
      }
      lists.of<scalar_t>(w.param.device()).push_back(s);
    });
  }
  lists.for_each([&](const Device& device, auto* slots, int64_t count) {
    using T = std::remove_const_t<std::remove_pointer_t<decltype(slots->param)>>;
    GAN_KERNEL(device, "SGD", sgd_step<T>, slots, count, h);
  });
}

// ---- Adam ----

Adam::Adam(NamedTensors params, AdamOptions o) : Adam(one_group(std::move(params), o)) {}
Adam::Adam(std::vector<ParamGroup<AdamOptions>> groups) : OptimizerWithGroups("Adam", std::move(groups)) {}

std::vector<std::string> Adam::slot_names(size_t) const { return {"exp_avg", "exp_avg_sq", "step"}; }

void Adam::update(size_t group, const std::vector<Work>& work) {
  const AdamOptions& o = options(group);
  const kernels::AdamHyper h{o.lr, o.beta1, o.beta2, o.eps, o.weight_decay};
  adam_family_update(
      "Adam", false, work, [this](size_t i, const std::string& n) { return slot(i, n); }, h,
      [this, group] { return options(group).lr; });
}

// ---- AdamW ----

AdamW::AdamW(NamedTensors params, AdamWOptions o) : AdamW(one_group(std::move(params), o)) {}
AdamW::AdamW(std::vector<ParamGroup<AdamWOptions>> groups) : OptimizerWithGroups("AdamW", std::move(groups)) {}

std::vector<std::string> AdamW::slot_names(size_t) const { return {"exp_avg", "exp_avg_sq", "step"}; }

void AdamW::update(size_t group, const std::vector<Work>& work) {
  const AdamWOptions& o = options(group);
  const kernels::AdamHyper h{o.lr, o.beta1, o.beta2, o.eps, o.weight_decay};
  adam_family_update(
      "AdamW", true, work, [this](size_t i, const std::string& n) { return slot(i, n); }, h,
      [this, group] { return options(group).lr; });
}

// ---- RMSprop ----

RMSprop::RMSprop(NamedTensors params, RMSpropOptions o) : RMSprop(one_group(std::move(params), o)) {}
RMSprop::RMSprop(std::vector<ParamGroup<RMSpropOptions>> groups)
    : OptimizerWithGroups("RMSprop", std::move(groups)) {}

std::vector<std::string> RMSprop::slot_names(size_t group) const {
  std::vector<std::string> names = {"square_avg", "step"};
  if (options(group).momentum > 0.0) names.push_back("momentum_buffer");
  if (options(group).centered) names.push_back("grad_avg");
  return names;
}

void RMSprop::update(size_t group, const std::vector<Work>& work) {
  const RMSpropOptions& o = options(group);
  const kernels::RmspropHyper h{o.lr, o.alpha, o.eps, o.weight_decay, o.momentum, o.centered};
  SlotLists<kernels::RmspropSlot> lists;
  for (const Work& w : work) {
    GAN_DISPATCH_FLOATING(w.param.dtype(), "RMSprop", [&] {
      kernels::RmspropSlot<scalar_t> s;
      s.param = w.param.data<scalar_t>();
      s.grad = w.grad.data<scalar_t>();
      s.numel = w.param.numel();
      s.square_avg = slot(w.index, "square_avg").data<scalar_t>();
      if (h.momentum > 0.0) s.momentum_buffer = slot(w.index, "momentum_buffer").data<scalar_t>();
      if (h.centered) s.grad_avg = slot(w.index, "grad_avg").data<scalar_t>();
      ++*slot(w.index, "step").data<int64_t>();
      lists.of<scalar_t>(w.param.device()).push_back(s);
    });
  }
  lists.for_each([&](const Device& device, auto* slots, int64_t count) {
    using T = std::remove_const_t<std::remove_pointer_t<decltype(slots->param)>>;
    GAN_KERNEL(device, "RMSprop", rmsprop_step<T>, slots, count, h);
  });
}

}  // namespace gan::optim
