// log_softmax and cross_entropy, composed from engine ops (so both have double backward).
#include <stdexcept>
#include <string>

#include "engine/nn/functional.h"
#include "engine/ops/op_helpers.h"

namespace gan::nn::functional {

// log_softmax(x) = x - logsumexp(x), logsumexp(x) = m + log(sum(exp(x - m))) with m = max(x) detached: the
// value does not depend on m, so treating it as a constant is exact, and exp never overflows.
Tensor log_softmax(const Tensor& x, int64_t dim) {
  const char* name = "log_softmax";
  detail::check_floating(name, x);
  if (x.dim() == 0) return mul(x, 0.0);  // a single element: log(1) = 0, gradient 0
  dim = wrap_dim(name, dim, x.dim(), x.shape());
  if (x.shape()[dim] == 0) return x;
  const Tensor m = max(x.detach(), dim, true);
  const Tensor shifted = sub(x, m);
  return sub(shifted, log(sum(exp(shifted), {dim}, true)));
}

// logits [N, C] (or [N, C, d1, ...]), targets int64 [N] (or [N, d1, ...]): -log_softmax at the targets, reduced.
Tensor cross_entropy(const Tensor& logits, const Tensor& targets, Reduction reduction) {
  const char* name = "cross_entropy";
  detail::check_floating(name, logits);
  detail::check_defined(name, targets, "targets");
  detail::check_same_device(name, logits, targets);
  if (logits.dim() < 2)
    throw std::invalid_argument("cross_entropy: logits must be [N, C] (or [N, C, d1, ...]), got " +
                                detail::describe(logits));
  if (targets.dtype() != DType::Int64)
    throw std::invalid_argument("cross_entropy: targets must be int64 class indices, got " +
                                detail::describe(targets));
  Shape expected = logits.shape();
  expected.erase(expected.begin() + 1);
  if (targets.shape() != expected)
    throw std::invalid_argument("cross_entropy: targets of shape " + shape_str(targets.shape()) +
                                " do not match logits of shape " + shape_str(logits.shape()) + "; expected " +
                                shape_str(expected));
  const int64_t C = logits.shape()[1];
  const Tensor t = targets.detach().contiguous();
  const Tensor t_host = detail::to_host(t);  // validated on the host: a bad target must not reach a kernel
  const int64_t* p = t_host.data<int64_t>();
  for (int64_t i = 0; i < t.numel(); ++i)
    if (p[i] < 0 || p[i] >= C)
      throw std::out_of_range("cross_entropy: target " + std::to_string(p[i]) + " (at flat position " +
                              std::to_string(i) + ") is out of range for " + std::to_string(C) +
                              " classes; expected 0 <= target < " + std::to_string(C));
  if (t.numel() == 0) throw std::invalid_argument("cross_entropy: empty batch " + shape_str(logits.shape()));
  const Tensor picked = gather_along(log_softmax(logits, 1), 1, t);
  switch (reduction) {
    case Reduction::Sum: return neg(sum(picked));
    case Reduction::None: return neg(picked);
    case Reduction::Mean: break;
  }
  return neg(mean(picked));
}

}  // namespace gan::nn::functional
