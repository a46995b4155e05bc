#include "engine/nn/module.h"

#include <map>
#include <stdexcept>

#include "engine/autograd.h"

namespace gan::nn {

Tensor Module::register_parameter(const std::string& name, Tensor t) {
  if (t.defined()) t.requires_grad_(true);
  params_.emplace_back(name, t);
  return t;
}

Tensor Module::register_buffer(const std::string& name, Tensor t) {
  buffers_.emplace_back(name, t);
  return t;
}

Tensor& Module::parameter_slot(const std::string& name) {
  for (auto& [n, t] : params_)
    if (n == name) return t;
  throw std::invalid_argument("Module: no parameter named '" + name + "'");
}

void Module::collect(const std::string& prefix, bool params, bool buffers, NamedTensors& out) const {
  if (params)
    for (const auto& [n, t] : params_)
      if (t.defined()) out.emplace_back(prefix + n, t);
  if (buffers)
    for (const auto& [n, t] : buffers_)
      if (t.defined()) out.emplace_back(prefix + n, t);
  for (const auto& [n, m] : children_) m->collect(prefix + n + ".", params, buffers, out);
}

NamedTensors Module::named_parameters() const {
  NamedTensors out;
  collect("", true, false, out);
  return out;
}

NamedTensors Module::named_buffers() const {
  NamedTensors out;
  collect("", false, true, out);
  return out;
}

std::vector<Tensor> Module::parameters() const {
  std::vector<Tensor> out;
  for (auto& [n, t] : named_parameters()) out.push_back(t);
  return out;
}

NamedTensors Module::state_dict() const {
  NamedTensors out = named_parameters();
  for (auto& nt : named_buffers()) out.push_back(nt);
  return out;
}

void Module::load_state_dict(const NamedTensors& state, bool strict) {
  std::map<std::string, Tensor> given(state.begin(), state.end());
  std::vector<std::string> missing, mismatched;
  NoGradGuard no_grad;
  for (auto& [name, target] : state_dict()) {
    auto it = given.find(name);
    if (it == given.end()) {
      missing.push_back(name);
      continue;
    }
    if (it->second.shape() != target.shape()) {
      mismatched.push_back(name + " (checkpoint " + shape_str(it->second.shape()) + ", model " +
                           shape_str(target.shape()) + ")");
    } else {
      copy_(target, it->second);
    }
    given.erase(it);
  }
  std::string problems;
  auto list = [&problems](const char* what, const std::vector<std::string>& names) {
    if (names.empty()) return;
    problems += std::string(problems.empty() ? "" : "; ") + what + ": ";
    for (size_t i = 0; i < names.size(); ++i) problems += (i ? ", " : "") + names[i];
  };
  std::vector<std::string> unexpected;
  for (auto& [n, t] : given) unexpected.push_back(n);
  list("shape mismatch", mismatched);
  if (strict) {
    list("missing", missing);
    list("unexpected", unexpected);
  }
  if (!problems.empty()) throw std::invalid_argument("load_state_dict: " + problems);
}

void Module::train(bool on) {
  training_ = on;
  for (auto& [n, m] : children_) m->train(on);
}

void Module::zero_grad() {
  for (Tensor& t : parameters()) t.set_grad(Tensor());
}

int64_t Module::parameter_count() const {
  int64_t n = 0;
  for (const Tensor& t : parameters()) n += t.numel();
  return n;
}

void Module::summary_into(std::string& out, const std::string& name, int depth) const {
  out += std::string(2 * depth, ' ') + (name.empty() ? "" : "(" + name + "): ") + describe() + "\n";
  for (const auto& [n, m] : children_) m->summary_into(out, n, depth + 1);
}

std::string Module::summary() const {
  std::string out;
  summary_into(out, "", 0);
  return out;
}

}  // namespace gan::nn
