// Finite-difference gradient checks, the heart of the test suite (and usable by anyone adding an op).
//
// gradcheck(f, inputs): compares the analytic gradients autograd computes for f with central differences
// (f(x + eps) - f(x - eps)) / 2 eps, in float64, at PyTorch's tolerances: |analytic - numeric| <= atol + rtol *
// |numeric|. Small problems get the full Jacobian (one backward per output element, two evaluations per input
// element); larger ones a random vector-Jacobian product v^T J checked element by element, and for large inputs
// random directions u: v^T J u against (v^T f(x + eps u) - v^T f(x - eps u)) / 2 eps.
//
// gradgradcheck(f, inputs): the same check on the function (x, v) -> d<v, f(x)>/dx computed with
// create_graph=true, i.e. on the backward pass itself: this is what double backward (WGAN-GP) relies on.
//
// Inputs that require grad are differentiated; the others are held constant. All inputs must be float64.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "engine/tensor.h"

namespace gan {

struct GradcheckOptions {
  double eps = 1e-6;
  double atol = 1e-5;
  double rtol = 1e-3;
  int64_t full_jacobian_limit = 4096;  // use the full Jacobian when inputs x outputs elements stay below this
  int64_t elementwise_limit = 512;     // else check v^T J per input element while inputs have at most this many
  int projections = 8;                 // else check v^T J u along this many random directions
  uint64_t seed = 20240611;
};

struct GradcheckResult {
  bool ok = true;
  std::string message;  // what differed, where: input, element, analytic and numeric values
  explicit operator bool() const { return ok; }
};

using TensorFn = std::function<Tensor(const std::vector<Tensor>&)>;
using TensorsFn = std::function<std::vector<Tensor>(const std::vector<Tensor>&)>;

GradcheckResult gradcheck(const TensorFn& f, const std::vector<Tensor>& inputs, const GradcheckOptions& opt = {});
GradcheckResult gradcheck(const TensorsFn& f, const std::vector<Tensor>& inputs, const GradcheckOptions& opt = {});
GradcheckResult gradgradcheck(const TensorFn& f, const std::vector<Tensor>& inputs,
                              const GradcheckOptions& opt = {});
GradcheckResult gradgradcheck(const TensorsFn& f, const std::vector<Tensor>& inputs,
                              const GradcheckOptions& opt = {});

}  // namespace gan
