#include "engine/nn/penalties.h"

#include <stdexcept>
#include <string>

#include "engine/ops/op_helpers.h"

namespace gan::nn::functional {

Tensor squared_gradient_penalty(const Tensor& scores, const Tensor& inputs, double gamma) {
  const char* op = "squared_gradient_penalty";
  detail::check_floating(op, scores);
  detail::check_floating(op, inputs);
  if (inputs.dim() < 1)
    throw std::invalid_argument(std::string(op) + ": inputs must be [N, ...] (a batch), got " +
                                detail::describe(inputs));
  if (!inputs.requires_grad())
    throw std::invalid_argument(std::string(op) + ": inputs " + detail::describe(inputs) +
                                " do not require grad; compute the scores from a tensor that does (r1_penalty does "
                                "that for you)");
  if (!scores.requires_grad())
    throw std::invalid_argument(std::string(op) + ": scores " + detail::describe(scores) +
                                " do not depend on anything that requires grad; were they computed from inputs?");
  // d sum(scores) / d inputs, recorded so the penalty can be differentiated again.
  const Tensor g = grad({sum(scores)}, {inputs}, {}, /*create_graph=*/true)[0];
  std::vector<int64_t> rest;
  for (int64_t d = 1; d < g.dim(); ++d) rest.push_back(d);
  const Tensor per_sample = rest.empty() ? mul(g, g) : sum(mul(g, g), rest);
  return mul(mean(per_sample), 0.5 * gamma);
}

namespace {
Tensor penalty_on(const char* what, const Discriminator& D, const Tensor& x, double gamma) {
  if (!D) throw std::invalid_argument(std::string(what) + ": no discriminator given");
  detail::check_floating(what, x);
  Tensor leaf = x.detach();
  leaf.requires_grad_(true);
  return squared_gradient_penalty(D(leaf), leaf, gamma);
}
}  // namespace

Tensor r1_penalty(const Discriminator& D, const Tensor& real, double gamma) {
  return penalty_on("r1_penalty", D, real, gamma);
}

Tensor r2_penalty(const Discriminator& D, const Tensor& fake, double gamma) {
  return penalty_on("r2_penalty", D, fake, gamma);
}

}  // namespace gan::nn::functional
