#include "engine/optim/optimizer.h"

#include <algorithm>
#include <memory>
#include <stdexcept>
#include <unordered_map>
#include <unordered_set>

#include "engine/autograd.h"
#include "engine/ops.h"
#include "engine/ops/dispatch.h"
#include "engine/ops/op_helpers.h"
#include "kernels/cuda/graph.h"
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

// State entries "param_groups.<g>.<setting>".
constexpr const char* kGroupPrefix = "param_groups.";

}  // namespace

Optimizer::Optimizer(std::string name, std::vector<NamedTensors> groups) : name_(std::move(name)) {
  if (groups.empty()) fail("no parameter groups given");
  std::unordered_set<std::string> names;
  std::unordered_set<const TensorImpl*> tensors;
  for (size_t g = 0; g < groups.size(); ++g) {
    for (const auto& [pname, p] : groups[g]) {
      if (!p.defined()) fail("parameter '" + pname + "' is an undefined tensor");
      if (!is_floating(p.dtype()))
        fail("parameter '" + pname + "' has dtype " + dtype_name(p.dtype()) +
             "; only float32 and float64 can be optimized");
      if (!p.is_leaf()) fail("parameter '" + pname + "' is not a leaf tensor; cannot optimize a computed tensor");
      if (!names.insert(pname).second) fail("parameter name '" + pname + "' appears twice");
      if (!tensors.insert(p.impl()).second) fail("parameter '" + pname + "' is the same tensor as an earlier one");
      params_.emplace_back(pname, p);
      param_group_.push_back(g);
    }
    group_sizes_.push_back(groups[g].size());
  }
  state_.resize(params_.size());
}

void Optimizer::fail(const std::string& what) const { throw std::invalid_argument(name_ + ": " + what); }

double Optimizer::lr(size_t group) const {
  if (group >= group_count())
    fail("no parameter group " + std::to_string(group) + " (there are " + std::to_string(group_count()) + ")");
  for (const auto& [key, value] : group_settings(group))
    if (key == "lr") return value;
  fail("parameter group " + std::to_string(group) + " has no learning rate");
}

void Optimizer::set_lr(size_t group, double lr) {
  if (!(lr >= 0.0)) fail("invalid learning rate " + std::to_string(lr));
  if (group >= group_count())
    fail("no parameter group " + std::to_string(group) + " (there are " + std::to_string(group_count()) + ")");
  Settings s = group_settings(group);
  for (auto& [key, value] : s)
    if (key == "lr") value = lr;
  set_group_settings(group, s);
}

void Optimizer::set_lr(double lr) {
  if (!(lr >= 0.0)) fail("invalid learning rate " + std::to_string(lr));
  for (size_t g = 0; g < group_count(); ++g) set_lr(g, lr);
}

void Optimizer::zero_grad() {
  for (const auto& [pname, p] : params_) p.set_grad(Tensor());
}

namespace {

// Host counters one captured step() advances: the optimizer's step count and each updated parameter's "step" slot.
// The capture runs nothing, so it puts them back; each replay advances them as the eager step would have.
struct CapturedCounts {
  struct Slot {
    int64_t* count;  // a parameter's "step" slot
    int64_t before;  // its value before the captured step
    int64_t change;  // what the step added to it
  };
  std::vector<Slot> slots;
  bool stepped = false;  // the captured step() got to its end
};

}  // namespace

void Optimizer::step() {
  NoGradGuard no_grad;
  // While a CUDA graph captures (kernels/cuda/graph.h): host counters are frozen out of the graph's kernels, so
  // they are kept right here (hooks registered before update(), whose own hooks, run after these at a replay, may
  // read the advanced counts: Adam's bias corrections).
  std::shared_ptr<CapturedCounts> counts;
  if (kernels::cuda::capturing()) {
    counts = std::make_shared<CapturedCounts>();
    kernels::cuda::CaptureHooks hooks;
    // Undone by difference at the end (several captured steps of one optimizer each take back their own), and
    // to the value before at an abort (on_abort hooks run last-added first, so the first step's wins).
    hooks.at_end = [this, counts] {
      for (const CapturedCounts::Slot& s : counts->slots) *s.count -= s.change;
      --steps_;
    };
    hooks.on_abort = [this, counts] {
      for (const CapturedCounts::Slot& s : counts->slots) *s.count = s.before;
      if (counts->stepped) --steps_;
    };
    hooks.before_replay = [this, counts] {
      for (const CapturedCounts::Slot& s : counts->slots) *s.count += s.change;
      ++steps_;
    };
    kernels::cuda::add_capture_hooks(std::move(hooks));
  }
  std::vector<std::vector<Work>> work(group_count());
  for (size_t i = 0; i < params_.size(); ++i) {
    const auto& [pname, p] = params_[i];
    const Tensor g = p.grad();
    if (!g.defined()) continue;  // no gradient: skipped, as in PyTorch
    if (g.shape() != p.shape() || g.dtype() != p.dtype() || g.device() != p.device())
      fail("gradient " + detail::describe(g) + " of parameter '" + pname + "' does not match the parameter " +
           detail::describe(p));
    work[param_group_[i]].push_back(
        {i, p.is_contiguous() ? p.detach() : p.detach().contiguous(), g.detach().contiguous()});
  }
  if (counts)
    for (const std::vector<Work>& group : work)
      for (const Work& w : group)
        if (auto it = state_[w.index].find("step"); it != state_[w.index].end())
          counts->slots.push_back({it->second.data<int64_t>(), *it->second.data<int64_t>(), 0});
  for (size_t g = 0; g < work.size(); ++g)
    if (!work[g].empty()) update(g, work[g]);
  if (counts)
    for (CapturedCounts::Slot& s : counts->slots) s.change = *s.count - s.before;
  for (const std::vector<Work>& group : work)
    for (const Work& w : group) {
      const Tensor& p = params_[w.index].second;
      if (!p.is_contiguous()) copy_(p.detach(), w.param);
    }
  ++steps_;
  if (counts) counts->stepped = true;
}

Tensor Optimizer::slot(size_t i, const std::string& slot_name) {
  auto& slots = state_[i];
  auto it = slots.find(slot_name);
  if (it != slots.end()) return it->second;
  // Created inside a CUDA graph capture, the zeros would be written again at every replay (and a first step's
  // special case frozen): refuse, so the caller captures after an eager step.
  if (kernels::cuda::capturing())
    fail("state '" + slot_name + "' of parameter '" + params_[i].first +
         "' would be created while capturing a CUDA graph; run one eager step before capturing");
  Tensor t = slot_name == "step" ? step_count_tensor(0) : zeros_like(params_[i].second.detach());
  slots.emplace(slot_name, t);
  return t;
}

NamedTensors Optimizer::state() const {
  NamedTensors out;
  for (size_t i = 0; i < params_.size(); ++i)
    for (const std::string& s : slot_names(param_group_[i]))
      if (auto it = state_[i].find(s); it != state_[i].end()) out.emplace_back(params_[i].first + "." + s, it->second);
  for (size_t g = 0; g < group_count(); ++g)
    for (const auto& [key, value] : group_settings(g))
      out.emplace_back(std::string(kGroupPrefix) + std::to_string(g) + "." + key, scalar_tensor(value, DType::Float64));
  out.emplace_back("step", step_count_tensor(steps_));
  return out;
}

void Optimizer::load_state(const NamedTensors& state) {
  NoGradGuard no_grad;
  // Group settings first: they decide which slots a parameter has (momentum buffers, centered averages).
  std::vector<Settings> loaded_settings(group_count());
  bool have_settings = false;
  for (const auto& [key, t] : state) {
    if (key.rfind(kGroupPrefix, 0) != 0) continue;
    const std::string rest = key.substr(std::string(kGroupPrefix).size());
    const size_t dot = rest.find('.');
    size_t g = 0;
    bool numeric = dot != std::string::npos && dot > 0 && dot <= 9;
    for (size_t k = 0; numeric && k < dot; ++k) numeric = rest[k] >= '0' && rest[k] <= '9';
    if (numeric) g = std::stoul(rest.substr(0, dot));
    if (!numeric || g >= group_count())
      fail("unexpected state entry '" + key + "' (this optimizer has " + std::to_string(group_count()) +
           " parameter group(s))");
    const std::string setting = rest.substr(dot + 1);
    const Settings known = group_settings(g);
    if (std::none_of(known.begin(), known.end(), [&](const auto& kv) { return kv.first == setting; }))
      fail("unexpected state entry '" + key + "' (no setting '" + setting + "')");
    if (!t.defined() || t.numel() != 1) fail("state entry '" + key + "' must hold one value");
    for (const auto& kv : loaded_settings[g])
      if (kv.first == setting) fail("state entry '" + key + "' appears twice");
    loaded_settings[g].emplace_back(setting, t.detach().to(DType::Float64).item());
    have_settings = true;
  }
  std::vector<Settings> previous;
  for (size_t g = 0; g < group_count(); ++g) previous.push_back(group_settings(g));
  if (have_settings) {
    try {
      for (size_t g = 0; g < group_count(); ++g) set_group_settings(g, loaded_settings[g]);
    } catch (...) {
      for (size_t g = 0; g < group_count(); ++g) set_group_settings(g, previous[g]);
      throw;
    }
  }
  try {
    load_slots(state);
  } catch (...) {
    for (size_t g = 0; g < group_count(); ++g) set_group_settings(g, previous[g]);
    throw;
  }
}

void Optimizer::load_slots(const NamedTensors& state) {
  std::unordered_map<std::string, size_t> index;
  for (size_t i = 0; i < params_.size(); ++i) index.emplace(params_[i].first, i);
  std::vector<std::map<std::string, Tensor>> loaded(params_.size());
  int64_t steps = 0;
  bool have_steps = false;
  for (const auto& [key, t] : state) {
    if (key.rfind(kGroupPrefix, 0) == 0) continue;  // settings: load_state took them
    if (!t.defined()) fail("state entry '" + key + "' is an undefined tensor");
    if (key == "step") {
      if (t.numel() != 1) fail("state entry 'step' must hold one value, got shape " + shape_str(t.shape()));
      steps = step_count_of(t);
      have_steps = true;
      continue;
    }
    const auto [pname, sname] = split_state_name(key);
    auto pit = index.find(pname);
    const std::vector<std::string> names =
        pit == index.end() ? std::vector<std::string>{} : slot_names(param_group_[pit->second]);
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
    for (const std::string& s : slot_names(param_group_[i]))
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
