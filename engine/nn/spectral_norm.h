// Spectral normalization (Miyato et al. 2018) with the semantics of PyTorch's
// torch.nn.utils.parametrizations.spectral_norm (1.13):
//
//   W_mat = W with `dim` moved to the front, flattened to [h, w]       (dim: 0, or 1 for ConvTranspose2d)
//   training mode, on every forward, n_power_iterations times (no graph, u and v updated in place):
//       u = normalize(W_mat v),  v = normalize(W_mat^T u)              normalize(a) = a / max(||a||, eps)
//   sigma = u . (W_mat v)   with u, v constants (copies), so the gradient flows through W_mat only
//   W_sn  = W / sigma                                                  (a 1-D W: W / max(||W||, eps))
//
// u [h] and v [w] are buffers "_u" and "_v", drawn from N(0, 1), normalized and refined by 15 power iterations
// when the parametrization is created; eval mode uses them as they are. Registered on a layer, the state dict
// holds PyTorch's names ("parametrizations.weight.original", "parametrizations.weight.0._u", "..._v"), so
// checkpoints carry u and v and load into (and from) PyTorch models with the same structure.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "engine/nn/module.h"
#include "engine/ops.h"
#include "engine/rng.h"

namespace gan::nn {

namespace functional {

// [2nd] a / max(||a||_2, eps) over all elements (PyTorch's F.normalize of a vector).
Tensor normalize(const Tensor& a, double eps = 1e-12);
// W with `dim` moved to the front, flattened to [W.size(dim), rest] (a view when possible; differentiable).
Tensor weight_to_matrix(const Tensor& weight, int64_t dim);
// [2nd] W / (u . (W_mat v)): the spectrally normalized weight for given singular-vector estimates u [h], v [w]
// (held constant: no gradient flows to them).
Tensor spectral_normalize(const Tensor& weight, const Tensor& u, const Tensor& v, int64_t dim = 0);
// n steps of the power method on W_mat [h, w], updating u [h] and v [w] in place, outside autograd.
void power_iteration_(const Tensor& weight_mat, const Tensor& u, const Tensor& v, int64_t n, double eps = 1e-12);

}  // namespace functional

struct SpectralNormOptions {
  int64_t n_power_iterations = 1;
  double eps = 1e-12;
  int64_t dim = -100;        // the output dim; -100: PyTorch's default (1 for ConvTranspose2d, else 0)
  Generator* gen = nullptr;  // draws u and v (the default generator when null)
};

// The parametrization module (PyTorch's _SpectralNorm): forward(W) = W_sn, with the power iteration in training.
class SpectralNorm : public Module {
 public:
  SpectralNorm(const Tensor& weight, int64_t n_power_iterations = 1, int64_t dim = 0, double eps = 1e-12,
               Generator* gen = nullptr);
  Tensor forward(const Tensor& weight) override;
  std::string describe() const override;
  Tensor u, v;  // the buffers "_u" [h] and "_v" [w] (undefined for a 1-D weight)
  int64_t n_power_iterations, dim;
  double eps;
};

// Applies spectral normalization to `module`'s parameter `name` (its own, e.g. Linear, Conv2d or
// ConvTranspose2d's "weight") and returns the module.
Module& spectral_norm(Module& module, const std::string& name = "weight", SpectralNormOptions options = {});
template <typename M>
std::shared_ptr<M> spectral_norm(std::shared_ptr<M> module, const std::string& name = "weight",
                                 SpectralNormOptions options = {}) {
  spectral_norm(static_cast<Module&>(*module), name, options);
  return module;
}

}  // namespace gan::nn
