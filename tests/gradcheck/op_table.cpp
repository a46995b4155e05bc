#include "op_table.h"

namespace gan::testing {

Tensor uniform_input(Generator& g, const Shape& shape, double lo, double hi) {
  Tensor t = rand(shape, DType::Float64, &g, lo, hi);
  t.requires_grad_(true);
  return t;
}

Tensor positive_input(Generator& g, const Shape& shape) { return uniform_input(g, shape, 0.5, 2.0); }

Tensor away_from_zero(Generator& g, const Shape& shape) {
  Tensor mag = rand(shape, DType::Float64, &g, 0.1, 1.0);
  Tensor sgn = sign(rand(shape, DType::Float64, &g, -1.0, 1.0));
  Tensor t = mul(mag, sgn).detach();
  t.requires_grad_(true);
  return t;
}

Tensor constant_input(Generator& g, const Shape& shape) { return rand(shape, DType::Float64, &g, -1.0, 1.0); }

namespace {

using Inputs = std::vector<Tensor>;

// Shorthands for entries whose inputs are independent uniform tensors of the given shapes.
std::function<Inputs(Generator&)> uniform_of(std::vector<Shape> shapes) {
  return [shapes](Generator& g) {
    Inputs in;
    for (const Shape& s : shapes) in.push_back(uniform_input(g, s));
    return in;
  };
}

std::vector<OpCase> build() {
  std::vector<OpCase> t;
  auto add_case = [&t](std::string name, std::function<Inputs(Generator&)> make,
                       std::function<Tensor(const Inputs&)> fn, bool dbl = true) {
    t.push_back({std::move(name), std::move(make), std::move(fn), dbl});
  };

  // ---- binary element-wise, same shape and broadcast ----
  add_case("add/same", uniform_of({{2, 3}, {2, 3}}), [](const Inputs& x) { return add(x[0], x[1]); });
  add_case("add/broadcast", uniform_of({{2, 3}, {3}}), [](const Inputs& x) { return add(x[0], x[1]); });
  add_case("add/broadcast_both", uniform_of({{2, 1, 3}, {4, 1}}), [](const Inputs& x) { return x[0] + x[1]; });
  add_case("sub/broadcast", uniform_of({{3, 1}, {1, 4}}), [](const Inputs& x) { return sub(x[0], x[1]); });
  add_case("mul/same", uniform_of({{2, 3}, {2, 3}}), [](const Inputs& x) { return mul(x[0], x[1]); });
  add_case("mul/broadcast", uniform_of({{2, 3, 2}, {3, 1}}), [](const Inputs& x) { return mul(x[0], x[1]); });
  add_case("mul/self", uniform_of({{5}}), [](const Inputs& x) { return mul(x[0], x[0]); });
  add_case("mul/constant", [](Generator& g) { return Inputs{uniform_input(g, {4}), constant_input(g, {4})}; },
           [](const Inputs& x) { return mul(x[0], x[1]); });
  add_case("div/same", [](Generator& g) { return Inputs{uniform_input(g, {2, 3}), positive_input(g, {2, 3})}; },
           [](const Inputs& x) { return div(x[0], x[1]); });
  add_case("div/broadcast", [](Generator& g) { return Inputs{uniform_input(g, {2, 3}), positive_input(g, {1, 3})}; },
           [](const Inputs& x) { return div(x[0], x[1]); });
  auto separated = [](Generator& g) {
    // b = a + (+-)[0.1, 1]: the two never tie, so maximum/minimum are smooth at the test point.
    Tensor a = uniform_input(g, {3, 4});
    Tensor b = add(a.detach(), away_from_zero(g, {3, 4}).detach()).detach();
    b.requires_grad_(true);
    return Inputs{a, b};
  };
  add_case("maximum/same", separated, [](const Inputs& x) { return maximum(x[0], x[1]); });
  add_case("minimum/same", separated, [](const Inputs& x) { return minimum(x[0], x[1]); });
  add_case("where/broadcast",
           [](Generator& g) {
             return Inputs{gt(constant_input(g, {3, 4}), 0.0), uniform_input(g, {3, 4}), uniform_input(g, {4})};
           },
           [](const Inputs& x) { return where(x[0], x[1], x[2]); });

  // ---- with a scalar ----
  add_case("add_scalar", uniform_of({{3, 2}}), [](const Inputs& x) { return x[0] + 1.5; });
  add_case("sub_scalar", uniform_of({{3, 2}}), [](const Inputs& x) { return x[0] - 0.5; });
  add_case("rsub_scalar", uniform_of({{3, 2}}), [](const Inputs& x) { return 2.0 - x[0]; });
  add_case("mul_scalar", uniform_of({{3, 2}}), [](const Inputs& x) { return x[0] * -3.0; });
  add_case("div_scalar", uniform_of({{3, 2}}), [](const Inputs& x) { return x[0] / 4.0; });
  add_case("rdiv_scalar", [](Generator& g) { return Inputs{positive_input(g, {3, 2})}; },
           [](const Inputs& x) { return 2.0 / x[0]; });

  // ---- unary ----
  add_case("neg", uniform_of({{2, 3}}), [](const Inputs& x) { return neg(x[0]); });
  add_case("exp", uniform_of({{2, 3}}), [](const Inputs& x) { return exp(x[0]); });
  add_case("log", [](Generator& g) { return Inputs{positive_input(g, {2, 3})}; },
           [](const Inputs& x) { return log(x[0]); });
  add_case("sqrt", [](Generator& g) { return Inputs{positive_input(g, {2, 3})}; },
           [](const Inputs& x) { return sqrt(x[0]); });
  add_case("pow/square", uniform_of({{2, 3}}), [](const Inputs& x) { return pow(x[0], 2.0); });
  add_case("pow/cube", uniform_of({{2, 3}}), [](const Inputs& x) { return pow(x[0], 3.0); });
  add_case("pow/fractional", [](Generator& g) { return Inputs{positive_input(g, {2, 3})}; },
           [](const Inputs& x) { return pow(x[0], 1.5); });
  add_case("pow/negative", [](Generator& g) { return Inputs{positive_input(g, {2, 3})}; },
           [](const Inputs& x) { return pow(x[0], -2.0); });
  add_case("abs", [](Generator& g) { return Inputs{away_from_zero(g, {2, 3})}; },
           [](const Inputs& x) { return abs(x[0]); });
  add_case("clamp", [](Generator& g) { return Inputs{away_from_zero(g, {3, 4})}; },
           // bounds at +-0.05 sit inside the gap away_from_zero leaves around 0: no input is on a kink.
           [](const Inputs& x) { return clamp(x[0], -0.05, 0.05) + clamp(x[0], -2.0, 0.05); });

  // ---- activations ----
  add_case("relu", [](Generator& g) { return Inputs{away_from_zero(g, {3, 4})}; },
           [](const Inputs& x) { return relu(x[0]); });
  add_case("leaky_relu", [](Generator& g) { return Inputs{away_from_zero(g, {3, 4})}; },
           [](const Inputs& x) { return leaky_relu(x[0], 0.2); });
  // The backward rules as ops of (g, x): derivative w.r.t. x zero, w.r.t. g the same mask.
  auto grad_and_kinked = [](Generator& g) { return Inputs{uniform_input(g, {3, 4}), away_from_zero(g, {3, 4})}; };
  add_case("leaky_relu_backward", grad_and_kinked,
           [](const Inputs& x) { return leaky_relu_backward(x[0], x[1], 0.2); });
  add_case("leaky_relu_backward/relu", grad_and_kinked,
           [](const Inputs& x) { return leaky_relu_backward(x[0], x[1], 0.0); });
  add_case("abs_backward", grad_and_kinked, [](const Inputs& x) { return abs_backward(x[0], x[1]); });
  add_case("tanh", uniform_of({{3, 4}}), [](const Inputs& x) { return tanh(x[0]); });
  add_case("sigmoid", uniform_of({{3, 4}}), [](const Inputs& x) { return sigmoid(x[0]); });
  add_case("softplus", [](Generator& g) { return Inputs{uniform_input(g, {3, 4}, -3.0, 3.0)}; },
           [](const Inputs& x) { return softplus(x[0]); });

  // ---- reductions ----
  add_case("sum/all", uniform_of({{2, 3, 2}}), [](const Inputs& x) { return sum(x[0]); });
  add_case("sum/dims", uniform_of({{2, 3, 4}}), [](const Inputs& x) { return sum(x[0], {0, 2}); });
  add_case("sum/keepdim", uniform_of({{2, 3, 4}}), [](const Inputs& x) { return sum(x[0], {-1}, true); });
  add_case("mean/all", uniform_of({{3, 5}}), [](const Inputs& x) { return mean(x[0]); });
  add_case("mean/dims", uniform_of({{2, 3, 4}}), [](const Inputs& x) { return mean(x[0], {1}, true); });
  add_case("var/unbiased", uniform_of({{3, 5}}), [](const Inputs& x) { return var(x[0], {1}, true); });
  add_case("var/biased_keepdim", uniform_of({{2, 3, 4}}), [](const Inputs& x) { return var(x[0], {0, 2}, false, true); });
  add_case("var/all", uniform_of({{4, 3}}), [](const Inputs& x) { return var(x[0]); });
  add_case("max/dim", uniform_of({{3, 5}}), [](const Inputs& x) { return max(x[0], 1); });
  add_case("max/dim0_keepdim", uniform_of({{4, 3}}), [](const Inputs& x) { return max(x[0], 0, true); });
  add_case("max/all", uniform_of({{3, 4}}), [](const Inputs& x) { return max(x[0]); });

  // ---- linear algebra ----
  add_case("matmul/2d", uniform_of({{3, 4}, {4, 2}}), [](const Inputs& x) { return matmul(x[0], x[1]); });
  add_case("matmul/transposed", uniform_of({{4, 3}, {2, 4}}),
           [](const Inputs& x) { return matmul(x[0].t(), x[1].t()); });
  add_case("matmul/batched", uniform_of({{2, 3, 4}, {2, 4, 2}}), [](const Inputs& x) { return matmul(x[0], x[1]); });
  add_case("matmul/batched_2d", uniform_of({{2, 3, 4}, {4, 2}}), [](const Inputs& x) { return matmul(x[0], x[1]); });

  // ---- shape and views ----
  add_case("reshape", uniform_of({{2, 6}}), [](const Inputs& x) { return reshape(x[0], {3, -1}) * 2.0; });
  add_case("reshape/noncontiguous", uniform_of({{3, 4}}), [](const Inputs& x) { return reshape(x[0].t(), {2, 6}); });
  add_case("flatten", uniform_of({{2, 3, 2}}), [](const Inputs& x) { return flatten(x[0], 1); });
  add_case("narrow", uniform_of({{4, 5}}), [](const Inputs& x) { return narrow(x[0], 1, 1, 3); });
  add_case("slice/step", uniform_of({{7, 3}}), [](const Inputs& x) { return slice(x[0], 0, 1, 7, 2); });
  add_case("permute", uniform_of({{2, 3, 4}}), [](const Inputs& x) { return permute(x[0], {2, 0, 1}); });
  add_case("transpose", uniform_of({{2, 3}}), [](const Inputs& x) { return transpose(x[0], 0, 1) * 3.0; });
  add_case("unsqueeze", uniform_of({{2, 3}}), [](const Inputs& x) { return unsqueeze(x[0], 1) * 2.0; });
  add_case("squeeze", uniform_of({{2, 1, 3}}), [](const Inputs& x) { return squeeze(x[0]) * 2.0; });
  add_case("squeeze/dim", uniform_of({{2, 1, 3}}), [](const Inputs& x) { return squeeze(x[0], 1) * 2.0; });
  add_case("expand", uniform_of({{3, 1}}), [](const Inputs& x) { return expand(x[0], {2, 3, 4}); });
  add_case("contiguous", uniform_of({{3, 4}}), [](const Inputs& x) { return contiguous(x[0].t()); });
  add_case("clone", uniform_of({{3, 4}}), [](const Inputs& x) { return clone(x[0]); });
  add_case("concat/dim0", uniform_of({{2, 3}, {1, 3}, {3, 3}}),
           [](const Inputs& x) { return concat({x[0], x[1], x[2]}, 0); });
  add_case("concat/channels", uniform_of({{2, 3, 2, 2}, {2, 1, 2, 2}}),
           [](const Inputs& x) { return concat({x[0], x[1]}, 1); });
  add_case("stack", uniform_of({{2, 3}, {2, 3}}), [](const Inputs& x) { return stack({x[0], x[1]}, 1); });
  add_case("gather_along",
           [](Generator& g) { return Inputs{uniform_input(g, {3, 4}), from_vector<int64_t>({0, 3, 1}, {3})}; },
           [](const Inputs& x) { return gather_along(x[0], 1, x[1]); });
  add_case("scatter_along",
           [](Generator& g) { return Inputs{uniform_input(g, {3}), from_vector<int64_t>({0, 3, 1}, {3})}; },
           [](const Inputs& x) { return scatter_along(x[0], 1, x[1], {3, 4}); });

  // ---- a composite, as in a critic: leaky_relu(x W + b) summed with a norm ----
  add_case("composite/mlp", uniform_of({{3, 4}, {4, 2}, {2}}), [](const Inputs& x) {
    Tensor h = leaky_relu(matmul(x[0], x[1]) + x[2], 0.2);
    return sqrt(sum(h * h, {1}) + 1e-3);
  });
  return t;
}

std::vector<std::function<void(std::vector<OpCase>&)>>& registered_adders() {
  static std::vector<std::function<void(std::vector<OpCase>&)>> adders;
  return adders;
}

}  // namespace

OpCaseRegistrar::OpCaseRegistrar(std::function<void(std::vector<OpCase>&)> add) {
  registered_adders().push_back(std::move(add));
}

const std::vector<OpCase>& op_table() {
  static const std::vector<OpCase> table = [] {
    std::vector<OpCase> t = build();
    for (const auto& add : registered_adders()) add(t);
    return t;
  }();
  return table;
}

}  // namespace gan::testing
