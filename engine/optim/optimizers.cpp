// SGD, Adam, RMSprop: option checks as in PyTorch, state slots, and the hand-off of every parameter with a gradient
// to one fused kernel call per device and dtype.
#include "engine/optim/optimizers.h"

#include <algorithm>
#include <cmath>
#include <type_traits>

#include "engine/ops/dispatch.h"
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

}  // namespace

// ---- SGD ----

SGD::SGD(NamedTensors params, SGDOptions o) : Optimizer("SGD", std::move(params), o.lr), options_(o) {
  check_non_negative(name(), "momentum", o.momentum);
  check_non_negative(name(), "weight_decay", o.weight_decay);
  if (o.nesterov && (o.momentum <= 0.0 || o.dampening != 0.0))
    fail("Nesterov momentum requires a momentum and zero dampening");
}

std::vector<std::string> SGD::slot_names() const {
  if (options_.momentum != 0.0) return {"momentum_buffer"};
  return {};
}

void SGD::update(const std::vector<Work>& work) {
  kernels::SgdHyper h{lr(), options_.momentum, options_.dampening, options_.weight_decay, options_.nesterov};
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

Adam::Adam(NamedTensors params, AdamOptions o) : Optimizer("Adam", std::move(params), o.lr), options_(o) {
  check_non_negative(name(), "epsilon", o.eps);
  if (!(o.beta1 >= 0.0 && o.beta1 < 1.0)) fail("invalid beta parameter at index 0: " + std::to_string(o.beta1));
  if (!(o.beta2 >= 0.0 && o.beta2 < 1.0)) fail("invalid beta parameter at index 1: " + std::to_string(o.beta2));
  check_non_negative(name(), "weight_decay", o.weight_decay);
}

std::vector<std::string> Adam::slot_names() const { return {"exp_avg", "exp_avg_sq", "step"}; }

void Adam::update(const std::vector<Work>& work) {
  kernels::AdamHyper h{lr(), options_.beta1, options_.beta2, options_.eps, options_.weight_decay};
  SlotLists<kernels::AdamSlot> lists;
  for (const Work& w : work) {
    GAN_DISPATCH_FLOATING(w.param.dtype(), "Adam", [&] {
      kernels::AdamSlot<scalar_t> s;
      s.param = w.param.data<scalar_t>();
      s.grad = w.grad.data<scalar_t>();
      s.numel = w.param.numel();
      s.exp_avg = slot(w.index, "exp_avg").data<scalar_t>();
      s.exp_avg_sq = slot(w.index, "exp_avg_sq").data<scalar_t>();
      int64_t& step = *slot(w.index, "step").data<int64_t>();
      s.step = ++step;
      lists.of<scalar_t>(w.param.device()).push_back(s);
    });
  }
  lists.for_each([&](const Device& device, auto* slots, int64_t count) {
    using T = std::remove_const_t<std::remove_pointer_t<decltype(slots->param)>>;
    GAN_KERNEL(device, "Adam", adam_step<T>, slots, count, h);
  });
}

// ---- RMSprop ----

RMSprop::RMSprop(NamedTensors params, RMSpropOptions o)
    : Optimizer("RMSprop", std::move(params), o.lr), options_(o) {
  check_non_negative(name(), "epsilon", o.eps);
  check_non_negative(name(), "momentum", o.momentum);
  check_non_negative(name(), "weight_decay", o.weight_decay);
  check_non_negative(name(), "alpha", o.alpha);
}

std::vector<std::string> RMSprop::slot_names() const {
  std::vector<std::string> names = {"square_avg", "step"};
  if (options_.momentum > 0.0) names.push_back("momentum_buffer");
  if (options_.centered) names.push_back("grad_avg");
  return names;
}

void RMSprop::update(const std::vector<Work>& work) {
  kernels::RmspropHyper h{lr(), options_.alpha, options_.eps, options_.weight_decay, options_.momentum,
                          options_.centered};
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
