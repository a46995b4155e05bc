#include "engine/nn/init.h"

#include <cmath>
#include <stdexcept>

#include "engine/autograd.h"
#include "engine/nn/layers.h"

namespace gan::nn::init {

void uniform_(const Tensor& t, double lo, double hi, Generator* gen) {
  NoGradGuard no_grad;
  copy_(t, rand(t.shape(), t.dtype(), gen, lo, hi));
}

void normal_(const Tensor& t, double mean, double stddev, Generator* gen) {
  NoGradGuard no_grad;
  copy_(t, randn(t.shape(), t.dtype(), gen, mean, stddev));
}

void constant_(const Tensor& t, double value) { fill_(t, value); }

int64_t fan_in(const Tensor& w) {
  if (w.dim() < 2)
    throw std::invalid_argument("fan_in: weight of shape " + shape_str(w.shape()) + " has fewer than 2 dims");
  int64_t receptive = 1;
  for (int64_t d = 2; d < w.dim(); ++d) receptive *= w.shape()[d];
  return w.shape()[1] * receptive;
}

void default_weight_(const Tensor& w, Generator* gen) {
  const double bound = 1.0 / std::sqrt(static_cast<double>(fan_in(w)));
  uniform_(w, -bound, bound, gen);
}

void default_bias_(const Tensor& b, int64_t fan, Generator* gen) {
  const double bound = fan > 0 ? 1.0 / std::sqrt(static_cast<double>(fan)) : 0.0;
  uniform_(b, -bound, bound, gen);
}

void dcgan_(Module& m, Generator* gen) {
  if (auto* c = dynamic_cast<Conv2d*>(&m)) normal_(c->weight, 0.0, 0.02, gen);
  if (auto* c = dynamic_cast<ConvTranspose2d*>(&m)) normal_(c->weight, 0.0, 0.02, gen);
  if (auto* bn = dynamic_cast<BatchNorm*>(&m); bn && bn->weight.defined()) {
    normal_(bn->weight, 1.0, 0.02, gen);
    constant_(bn->bias, 0.0);
  }
  for (auto& [name, child] : m.children()) dcgan_(*child, gen);
}

}  // namespace gan::nn::init
