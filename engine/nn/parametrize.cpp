#include "engine/nn/parametrize.h"

#include <stdexcept>

namespace gan::nn {

namespace {
constexpr const char* kDictName = "parametrizations";
}  // namespace

// ---- ModuleDict ----
std::shared_ptr<Module> ModuleDict::find(const std::string& name) const {
  for (const auto& [n, m] : children())
    if (n == name) return m;
  return nullptr;
}

Tensor ModuleDict::forward(const Tensor&) {
  throw std::logic_error("ModuleDict: a container of modules has no forward; call one of its children");
}

// ---- ParametrizationList ----
ParametrizationList::ParametrizationList(Tensor t, std::shared_ptr<Module> first) {
  original = register_parameter("original", std::move(t));
  append(std::move(first));
}

void ParametrizationList::append(std::shared_ptr<Module> p) {
  if (!p) throw std::invalid_argument("register_parametrization: the parametrization is a null module");
  register_module(std::to_string(count_++), std::move(p));
}

Tensor ParametrizationList::forward(const Tensor& x) {
  Tensor v = x;
  for (const auto& [name, p] : children()) v = p->forward(v);
  return v;
}

std::shared_ptr<Module> parametrization_of(const Module& module, const std::string& name, size_t index) {
  for (const auto& [n, m] : module.children())
    if (n == kDictName)
      if (auto dict = std::dynamic_pointer_cast<ModuleDict>(m))
        if (auto list = dict->find(name); list && index < list->children().size())
          return list->children()[index].second;
  return nullptr;
}

// ---- Module's side ----
Tensor Module::own_parameter(const std::string& name) const {
  std::string names;
  for (const auto& [n, t] : params_) {
    if (n == name && t.defined()) return t;
    if (t.defined()) names += (names.empty() ? "" : ", ") + n;
  }
  throw std::invalid_argument(describe() + ": no parameter named '" + name + "' (its own parameters: " +
                              (names.empty() ? "none" : names) + ")");
}

void Module::register_parametrization(const std::string& name, std::shared_ptr<Module> parametrization) {
  std::shared_ptr<ModuleDict> dict;
  for (const auto& [n, m] : children_)
    if (n == kDictName) dict = std::dynamic_pointer_cast<ModuleDict>(m);
  if (dict) {
    if (auto list = std::dynamic_pointer_cast<ParametrizationList>(dict->find(name))) {
      list->append(std::move(parametrization));  // a second parametrization of the same tensor: applied after
      return;
    }
  }
  const Tensor original = own_parameter(name);
  if (!dict) dict = register_module(kDictName, std::make_shared<ModuleDict>());
  dict->insert(name, std::make_shared<ParametrizationList>(original, std::move(parametrization)));
  for (auto it = params_.begin(); it != params_.end(); ++it)
    if (it->first == name) {
      params_.erase(it);
      break;
    }
}

bool Module::is_parametrized(const std::string& name) const {
  for (const auto& [n, m] : children_)
    if (n == kDictName)
      if (auto dict = std::dynamic_pointer_cast<ModuleDict>(m)) return dict->find(name) != nullptr;
  return false;
}

Tensor Module::parametrized(const std::string& name, const Tensor& plain) {
  for (const auto& [n, m] : children_)
    if (n == kDictName)
      if (auto dict = std::dynamic_pointer_cast<ModuleDict>(m))
        if (auto list = std::dynamic_pointer_cast<ParametrizationList>(dict->find(name))) return list->value();
  return plain;
}

}  // namespace gan::nn
