// Modules: objects that own named parameters and buffers and map a tensor to a tensor, as torch.nn.Module does.
// Names are PyTorch's ("net.0.weight", "bn.running_mean", "bn.num_batches_tracked"), so state dicts and
// checkpoints line up with PyTorch models of the same structure.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "engine/tensor.h"

namespace gan::nn {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

class Module {
 public:
  virtual ~Module() = default;
  virtual Tensor forward(const Tensor& x) = 0;
  Tensor operator()(const Tensor& x) { return forward(x); }
  // Short description for printing model summaries, e.g. "Conv2d(3, 64, kernel_size=4, stride=2, padding=1)".
  virtual std::string describe() const = 0;

  NamedTensors named_parameters() const;  // recursive, dotted names
  NamedTensors named_buffers() const;
  std::vector<Tensor> parameters() const;
  // Parameters then buffers, in registration order: what a checkpoint stores.
  NamedTensors state_dict() const;
  // Copies values into the registered tensors. With strict, a missing or unexpected name is an error listing all of
  // them; a shape mismatch is always an error naming the tensor and both shapes.
  void load_state_dict(const NamedTensors& state, bool strict = true);

  void train(bool on = true);
  void eval() { train(false); }
  bool is_training() const { return training_; }
  void zero_grad();
  int64_t parameter_count() const;
  // The module tree, one line per module, indented (like printing a torch module).
  std::string summary() const;

  const std::vector<std::pair<std::string, std::shared_ptr<Module>>>& children() const { return children_; }

  // ---- parametrizations (torch.nn.utils.parametrize; defined in engine/nn/parametrize.cpp) ----
  // This module's own parameter `name` (not a child's); an error listing the names when there is none.
  Tensor own_parameter(const std::string& name) const;
  // Makes parameter `name` computed: the tensor moves to "parametrizations.<name>.original" and `parametrization`
  // becomes the child "parametrizations.<name>.0" (".1", ... for further ones, applied in order), PyTorch's
  // names, so state dicts and checkpoints interoperate. forward() reads the value through parametrized().
  void register_parametrization(const std::string& name, std::shared_ptr<Module> parametrization);
  bool is_parametrized(const std::string& name) const;
  // What forward() uses for parameter `name`: the parametrizations applied to the original (running their
  // forward, e.g. spectral norm's power iteration in training mode) when registered, else `plain`.
  Tensor parametrized(const std::string& name, const Tensor& plain);

 protected:
  Tensor register_parameter(const std::string& name, Tensor t);
  Tensor register_buffer(const std::string& name, Tensor t);
  template <typename M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> m) {
    children_.emplace_back(name, m);
    return m;
  }
  // Replaces the tensor behind a registered parameter/buffer name (e.g. re-initialization with a new shape).
  Tensor& parameter_slot(const std::string& name);

 private:
  void collect(const std::string& prefix, bool params, bool buffers, NamedTensors& out) const;
  void summary_into(std::string& out, const std::string& name, int depth) const;

  NamedTensors params_;
  NamedTensors buffers_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
  bool training_ = true;
};

}  // namespace gan::nn
