#include "engine/optim/optimizer.h"

#include <algorithm>
#include <stdexcept>
#include <unordered_map>
#include <unordered_set>

#include "engine/autograd.h"
#include "engine/ops.h"
#include "engine/ops/dispatch.h"
#include "engine/ops/op_helpers.h"
#include "kernels/optim.h"

namespace gan::optim {

namespace {

// "G.net.0.weight.exp_avg" -> ("G.net.0.weight", "exp_avg"); parameter names may contain dots, slots do not.
std::pair<std::string, std::string> split_state_name(const std::string& key) {
  const size_t dot = key.rfind('.');
  if (dot == std::string::npos || dot == 0 || dot + 1 == key.size()) return {"", ""};
  return {key.substr(0, dot), key.substr(dot + 1)};
}

// Step counts live on the host whatever the parameters' device: the host computes Adam's bias corrections.
Tensor step_count_tensor(int64_t value) {
  Tensor t = zeros({}, DType::Int64, Device::cpu());
  *t.data<int64_t>() = value;
  return t;
}

int64_t step_count_of(const Tensor& t) { return static_cast<int64_t>(t.detach().to(DType::Int64).item()); }

}  // namespace

Optimizer::Optimizer(std::string name, NamedTensors params, double lr)
    : name_(std::move(name)), params_(std::move(params)), lr_(lr) {
  if (!(lr >= 0.0)) fail("invalid learning rate " + std::to_string(lr));
  std::unordered_set<std::string> names;
  std::unordered_set<const TensorImpl*> tensors;
  for (const auto& [pname, p] : params_) {
    if (!p.defined()) fail("parameter '" + pname + "' is an undefined tensor");
    if (!is_floating(p.dtype()))
      fail("parameter '" + pname + "' has dtype " + dtype_name(p.dtype()) +
           "; only float32 and float64 can be optimized");
    if (!p.is_leaf()) fail("parameter '" + pname + "' is not a leaf tensor; cannot optimize a computed tensor");
    if (!names.insert(pname).second) fail("parameter name '" + pname + "' appears twice");
    if (!tensors.insert(p.impl()).second) fail("parameter '" + pname + "' is the same tensor as an earlier one");
  }
  state_.resize(params_.size());
}

void Optimizer::fail(const std::string& what) const { throw std::invalid_argument(name_ + ": " + what); }

void Optimizer::set_lr(double lr) {
  if (!(lr >= 0.0)) fail("invalid learning rate " + std::to_string(lr));
  lr_ = lr;
}

void Optimizer::zero_grad() {
  for (const auto& [pname, p] : params_) p.set_grad(Tensor());
}

void Optimizer::step() {
  NoGradGuard no_grad;
  std::vector<Work> work;
  for (size_t i = 0; i < params_.size(); ++i) {
    const auto& [pname, p] = params_[i];
    const Tensor g = p.grad();
    if (!g.defined()) continue;  // no gradient: skipped, as in PyTorch
    if (g.shape() != p.shape() || g.dtype() != p.dtype() || g.device() != p.device())
      fail("gradient " + detail::describe(g) + " of parameter '" + pname + "' does not match the parameter " +
           detail::describe(p));
    work.push_back({i, p.is_contiguous() ? p.detach() : p.detach().contiguous(), g.detach().contiguous()});
  }
  update(work);
  for (const Work& w : work) {
    const Tensor& p = params_[w.index].second;
    if (!p.is_contiguous()) copy_(p.detach(), w.param);
  }
  ++steps_;
}

Tensor Optimizer::slot(size_t i, const std::string& slot_name) {
  auto& slots = state_[i];
  auto it = slots.find(slot_name);
  if (it != slots.end()) return it->second;
  Tensor t = slot_name == "step" ? step_count_tensor(0) : zeros_like(params_[i].second.detach());
  slots.emplace(slot_name, t);
  return t;
}

NamedTensors Optimizer::state() const {
  NamedTensors out;
  const std::vector<std::string> names = slot_names();
  for (size_t i = 0; i < params_.size(); ++i)
    for (const std::string& s : names)
      if (auto it = state_[i].find(s); it != state_[i].end()) out.emplace_back(params_[i].first + "." + s, it->second);
  out.emplace_back("step", step_count_tensor(steps_));
  return out;
}

void Optimizer::load_state(const NamedTensors& state) {
  NoGradGuard no_grad;
  std::unordered_map<std::string, size_t> index;
  for (size_t i = 0; i < params_.size(); ++i) index.emplace(params_[i].first, i);
  const std::vector<std::string> names = slot_names();
  std::vector<std::map<std::string, Tensor>> loaded(params_.size());
  int64_t steps = 0;
  bool have_steps = false;
  for (const auto& [key, t] : state) {
    if (!t.defined()) fail("state entry '" + key + "' is an undefined tensor");
    if (key == "step") {
      if (t.numel() != 1) fail("state entry 'step' must hold one value, got shape " + shape_str(t.shape()));
      steps = step_count_of(t);
      have_steps = true;
      continue;
    }
    const auto [pname, sname] = split_state_name(key);
    auto pit = index.find(pname);
    if (pit == index.end() || std::find(names.begin(), names.end(), sname) == names.end())
      fail("unexpected state entry '" + key + "' (no parameter '" + pname + "' with a '" + sname + "' slot)");
    const Tensor& p = params_[pit->second].second;
    Tensor value;
    if (sname == "step") {
      if (t.numel() != 1) fail("state entry '" + key + "' must hold one value, got shape " + shape_str(t.shape()));
      value = step_count_tensor(step_count_of(t));
    } else {
      if (t.shape() != p.shape())
        fail("state entry '" + key + "' has shape " + shape_str(t.shape()) + " but parameter '" + pname +
             "' has shape " + shape_str(p.shape()));
      if (!is_floating(t.dtype())) fail("state entry '" + key + "' has non-floating dtype " + dtype_name(t.dtype()));
      value = empty(p.shape(), p.dtype(), p.device());
      copy_(value, t.detach());
    }
    if (!loaded[pit->second].emplace(sname, value).second) fail("state entry '" + key + "' appears twice");
  }
  // A parameter has either no state (never updated) or all of its slots.
  for (size_t i = 0; i < params_.size(); ++i) {
    if (loaded[i].empty()) continue;
    for (const std::string& s : names)
      if (!loaded[i].count(s))
        fail("state of parameter '" + params_[i].first + "' lacks its '" + s + "' entry");
  }
  if (!have_steps) fail("state lacks the 'step' entry");
  state_ = std::move(loaded);
  steps_ = steps;
}

// ---- weight clipping ----

void clip_weights_(const std::vector<Tensor>& params, double c) {
  if (!(c >= 0.0)) throw std::invalid_argument("clip_weights_: the clip value must be >= 0, got " + std::to_string(c));
  NoGradGuard no_grad;
  for (const Tensor& p : params) {
    detail::check_floating("clip_weights_", p);
    const Tensor work = p.is_contiguous() ? p.detach() : p.detach().contiguous();
    GAN_DISPATCH_FLOATING(work.dtype(), "clip_weights_", [&] {
      GAN_KERNEL(work.device(), "clip_weights_", clamp_inplace<scalar_t>, work.data<scalar_t>(), work.numel(), -c, c);
    });
    if (!p.is_contiguous()) copy_(p.detach(), work);
  }
}

void clip_weights_(const NamedTensors& params, double c) {
  std::vector<Tensor> ts;
  ts.reserve(params.size());
  for (const auto& [name, p] : params) ts.push_back(p);
  clip_weights_(ts, c);
}

}  // namespace gan::optim
