// Parametrizations, as torch.nn.utils.parametrize: a module's parameter becomes a function of a stored tensor.
//
//   m.register_parametrization("weight", std::make_shared<SpectralNorm>(m.own_parameter("weight")));
//
// moves the parameter to m's child "parametrizations" (a ModuleDict) -> "weight" (a ParametrizationList holding the
// tensor as the parameter "original" and the parametrizations as children "0", "1", ...). The module's state dict
// then reads, as PyTorch writes it:
//
//   bias, parametrizations.weight.original, parametrizations.weight.0._u, parametrizations.weight.0._v
//
// The layer's member (Linear::weight, ...) keeps pointing at the original tensor, so initializers and device moves
// act on it; forward() asks Module::parametrized("weight", weight) for the value to use, which runs the
// parametrizations on every call, as PyTorch does on every attribute access (no caching).
#pragma once

#include <memory>
#include <string>

#include "engine/nn/module.h"

namespace gan::nn {

// Named children and nothing else (torch.nn.ModuleDict); it has no forward of its own.
class ModuleDict : public Module {
 public:
  void insert(const std::string& name, std::shared_ptr<Module> m) { register_module(name, std::move(m)); }
  std::shared_ptr<Module> find(const std::string& name) const;
  Tensor forward(const Tensor&) override;  // throws: a ModuleDict is a container
  std::string describe() const override { return "ModuleDict"; }
};

// The parametrizations of one tensor: forward(original) applies children "0", "1", ... in order.
class ParametrizationList : public Module {
 public:
  ParametrizationList(Tensor original, std::shared_ptr<Module> first);
  void append(std::shared_ptr<Module> p);
  // The parametrized value: the chain applied to `original`.
  Tensor value() { return forward(original); }
  Tensor forward(const Tensor& x) override;
  std::string describe() const override { return "ParametrizationList"; }
  Tensor original;

 private:
  int count_ = 0;
};

// The index-th parametrization registered on `module`'s tensor `name` (e.g. the SpectralNorm holding u and v), or
// null when there is none.
std::shared_ptr<Module> parametrization_of(const Module& module, const std::string& name, size_t index = 0);

}  // namespace gan::nn
