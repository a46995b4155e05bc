#include "engine/nn/spectral_norm.h"

#include <sstream>
#include <stdexcept>

#include "engine/autograd.h"
#include "engine/nn/layers.h"
#include "engine/ops/op_helpers.h"

namespace gan::nn {

namespace functional {

Tensor normalize(const Tensor& a, double eps) {
  detail::check_floating("normalize", a);
  return div(a, clamp(sqrt(sum(mul(a, a))), eps));
}

Tensor weight_to_matrix(const Tensor& weight, int64_t dim) {
  if (weight.dim() < 2)
    throw std::invalid_argument("spectral_norm: a weight of shape " + shape_str(weight.shape()) +
                                " has no matrix form (needs >= 2 dims)");
  if (dim < 0 || dim >= weight.dim())
    throw std::invalid_argument("spectral_norm: dim " + std::to_string(dim) +
                                " is out of range for a weight of shape " + shape_str(weight.shape()));
  Tensor w = weight;
  if (dim != 0) {
    std::vector<int64_t> order = {dim};
    for (int64_t d = 0; d < weight.dim(); ++d)
      if (d != dim) order.push_back(d);
    w = permute(w, order);
  }
  return reshape(w, {w.size(0), -1});
}

namespace {
// W_mat [h, w] times a vector [w] -> [h].
Tensor mv(const Tensor& m, const Tensor& x) { return reshape(matmul(m, reshape(x, {x.numel(), 1})), {m.size(0)}); }

void check_vectors(const Tensor& mat, const Tensor& u, const Tensor& v) {
  detail::check_defined("spectral_norm", u, "u");
  detail::check_defined("spectral_norm", v, "v");
  if (u.dim() != 1 || v.dim() != 1 || u.size(0) != mat.size(0) || v.size(0) != mat.size(1))
    throw std::invalid_argument("spectral_norm: u of shape " + shape_str(u.shape()) + " and v of shape " +
                                shape_str(v.shape()) + " do not match the weight matrix of shape " +
                                shape_str(mat.shape()) + " (expected u [" + std::to_string(mat.size(0)) + "], v [" +
                                std::to_string(mat.size(1)) + "])");
  detail::check_same_dtype("spectral_norm", mat, u);
  detail::check_same_dtype("spectral_norm", mat, v);
  detail::check_same_device("spectral_norm", mat, u);
  detail::check_same_device("spectral_norm", mat, v);
}
}  // namespace

Tensor spectral_normalize(const Tensor& weight, const Tensor& u, const Tensor& v, int64_t dim) {
  detail::check_floating("spectral_norm", weight);
  if (weight.dim() == 1) return normalize(weight);
  const Tensor mat = weight_to_matrix(weight, dim);
  check_vectors(mat, u, v);
  const Tensor sigma = sum(mul(u.detach(), mv(mat, v.detach())));
  return div(weight, sigma);
}

void power_iteration_(const Tensor& weight_mat, const Tensor& u, const Tensor& v, int64_t n, double eps) {
  check_vectors(weight_mat, u, v);
  NoGradGuard no_grad;
  const Tensor m = weight_mat.detach();
  for (int64_t i = 0; i < n; ++i) {
    copy_(u, normalize(mv(m, v), eps));
    copy_(v, normalize(mv(transpose(m, 0, 1), u), eps));
  }
}

}  // namespace functional

namespace F = functional;

SpectralNorm::SpectralNorm(const Tensor& weight, int64_t n, int64_t d, double e, Generator* gen)
    : n_power_iterations(n), dim(d), eps(e) {
  detail::check_floating("spectral_norm", weight);
  const int64_t nd = weight.dim();
  if (dim < -nd || dim >= nd)
    throw std::invalid_argument("spectral_norm: dim " + std::to_string(dim) + " is out of range [" +
                                std::to_string(-nd) + ", " + std::to_string(nd - 1) + "] for a weight of shape " +
                                shape_str(weight.shape()));
  if (n_power_iterations <= 0)
    throw std::invalid_argument("spectral_norm: expected n_power_iterations to be positive, got " +
                                std::to_string(n_power_iterations));
  if (!(eps > 0.0)) throw std::invalid_argument("spectral_norm: eps must be positive, got " + std::to_string(eps));
  if (dim < 0) dim += nd;
  if (nd == 1) return;  // a vector is normalized exactly; no singular vectors to track
  NoGradGuard no_grad;
  const Tensor mat = F::weight_to_matrix(weight.detach(), dim);
  Generator& g = gen ? *gen : default_generator();
  u = register_buffer("_u", F::normalize(randn({mat.size(0)}, weight.dtype(), &g, 0.0, 1.0, weight.device()), eps));
  v = register_buffer("_v", F::normalize(randn({mat.size(1)}, weight.dtype(), &g, 0.0, 1.0, weight.device()), eps));
  F::power_iteration_(mat, u, v, 15, eps);  // start from a good estimate, as PyTorch
}

Tensor SpectralNorm::forward(const Tensor& weight) {
  if (weight.dim() == 1) return F::normalize(weight, eps);
  if (is_training()) F::power_iteration_(F::weight_to_matrix(weight.detach(), dim), u, v, n_power_iterations, eps);
  // Copies, so a later forward's in-place update cannot reach a graph that is still to be differentiated (two
  // forwards before one backward: D(real) and D(fake)).
  return F::spectral_normalize(weight, u.clone(), v.clone(), dim);
}

std::string SpectralNorm::describe() const {
  std::ostringstream os;
  os << "SpectralNorm(n_power_iterations=" << n_power_iterations << ", dim=" << dim << ", eps=" << eps << ")";
  return os.str();
}

Module& spectral_norm(Module& module, const std::string& name, SpectralNormOptions o) {
  const Tensor weight = module.is_parametrized(name) ? module.parametrized(name, Tensor()) : module.own_parameter(name);
  const int64_t dim = o.dim != -100 ? o.dim : (dynamic_cast<ConvTranspose2d*>(&module) ? 1 : 0);
  module.register_parametrization(
      name, std::make_shared<SpectralNorm>(weight.detach(), o.n_power_iterations, dim, o.eps, o.gen));
  return module;
}

}  // namespace gan::nn
