// Gradient penalties on a discriminator's input gradient, built on autograd's create_graph (so the penalty can be
// backpropagated into the discriminator's parameters, as in Mescheder et al. 2018 and StyleGAN2):
//
//   R1 (real data x):  gamma / 2 * E_x[ ||grad_x D(x)||^2 ]
//   R2 (fake data x):  the same expression on generated samples
//
// E is the mean over the batch (dim 0) and ||.||^2 the sum of squares over every other dim, StyleGAN2's
// r1_penalty = grad.square().sum([1, 2, 3]) * (gamma / 2), averaged over the batch.
#pragma once

#include <functional>

#include "engine/ops.h"

namespace gan::nn::functional {

using Discriminator = std::function<Tensor(const Tensor&)>;

// gamma / 2 * mean_n sum_{other dims} (d sum(scores) / d inputs)^2, where `scores` were computed from `inputs`
// (which must require grad; [N, ...]). Differentiable (create_graph): backward reaches the parameters that
// produced `scores`, and `inputs` too when they came from a generator.
Tensor squared_gradient_penalty(const Tensor& scores, const Tensor& inputs, double gamma);

// R1: D evaluated on a detached, grad-requiring copy of `real`; the penalty's graph reaches D's parameters only.
Tensor r1_penalty(const Discriminator& D, const Tensor& real, double gamma);
// R2: the same on `fake` samples (detached: a penalty on D, not a loss for G).
Tensor r2_penalty(const Discriminator& D, const Tensor& fake, double gamma);

}  // namespace gan::nn::functional
