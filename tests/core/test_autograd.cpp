// Autograd: backward into .grad, accumulation, retain_graph, grad() (unused inputs, non-leaf targets), grad mode,
// detach, create_graph (second derivatives), an op without double backward, views and joins in the graph, max's
// routing to the argmax, broadcast reduction, and deep graphs (no recursion in backward or in freeing the graph).
// Values are hand-derived; float64 throughout so comparisons can be tight.
#include <gtest/gtest.h>
#include <pthread.h>

#include <cmath>
#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "engine/autograd.h"
#include "engine/ops.h"
#include "engine/tensor.h"

namespace {

using gan::DType;
using gan::Shape;
using gan::Tensor;

Tensor leaf(const std::vector<double>& v, const Shape& s) {
  Tensor t = gan::from_vector<double>(v, s);
  t.requires_grad_();
  return t;
}
Tensor constant(const std::vector<double>& v, const Shape& s) { return gan::from_vector<double>(v, s); }

void expect_tensor(const Tensor& t, const Shape& shape, const std::vector<double>& expected, double tol = 1e-12) {
  ASSERT_TRUE(t.defined());
  ASSERT_EQ(t.shape(), shape);
  const std::vector<double> v = t.to_vector<double>();
  ASSERT_EQ(v.size(), expected.size());
  for (size_t i = 0; i < v.size(); ++i)
    EXPECT_NEAR(v[i], expected[i], tol * std::max(1.0, std::abs(expected[i]))) << "at " << i;
}

template <typename E>
std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "threw the wrong exception type: " << e.what();
    return e.what();
  }
  ADD_FAILURE() << "did not throw";
  return {};
}

#define EXPECT_CONTAINS(haystack, needle) \
  EXPECT_NE(std::string(haystack).find(needle), std::string::npos) << "'" << (haystack) << "' lacks '" << (needle) << "'"

// ---- basics -------------------------------------------------------------------------------------------------

TEST(Autograd, RecordsOnlyWhenNeeded) {
  Tensor x = leaf({1, 2}, {2});
  Tensor c = constant({3, 4}, {2});
  EXPECT_TRUE(x.is_leaf());
  EXPECT_TRUE(x.requires_grad());
  EXPECT_FALSE(x.grad().defined());
  Tensor y = gan::mul(x, c);
  EXPECT_FALSE(y.is_leaf());
  EXPECT_TRUE(y.requires_grad());
  ASSERT_TRUE(y.grad_fn());
  EXPECT_EQ(y.grad_fn()->name(), "mul");
  Tensor z = gan::mul(c, c);
  EXPECT_FALSE(z.requires_grad());
  EXPECT_TRUE(z.is_leaf());
  // Views of a leaf are not leaves and do not change the leaf.
  Tensor v = x.reshape({2, 1});
  EXPECT_FALSE(v.is_leaf());
  EXPECT_TRUE(x.is_leaf());
  EXPECT_EQ(x.shape(), (Shape{2}));
}

TEST(Autograd, BackwardSmallExpression) {
  // L = sum(x * w + exp(x) - x^2 / w)
  // dL/dx = w + exp(x) - 2x / w;  dL/dw = x + x^2 / w^2
  const std::vector<double> xv = {0.5, -1, 2}, wv = {2, -0.5, 4};
  Tensor x = leaf(xv, {3});
  Tensor w = leaf(wv, {3});
  Tensor loss = gan::sum(x * w + gan::exp(x) - gan::div(gan::pow(x, 2.0), w));
  EXPECT_EQ(loss.shape(), Shape{});
  loss.backward();
  std::vector<double> gx, gw;
  for (int i = 0; i < 3; ++i) {
    gx.push_back(wv[i] + std::exp(xv[i]) - 2 * xv[i] / wv[i]);
    gw.push_back(xv[i] + xv[i] * xv[i] / (wv[i] * wv[i]));
  }
  expect_tensor(x.grad(), {3}, gx);
  expect_tensor(w.grad(), {3}, gw);
  // The gradient is a plain tensor (no history) of the leaf's dtype.
  EXPECT_FALSE(x.grad().requires_grad());
  EXPECT_EQ(x.grad().dtype(), DType::Float64);
}

TEST(Autograd, ChainOfUnaryOps) {
  // L = sum(log(sigmoid(x)) + tanh(x) * sqrt(x) + softplus(x))
  const std::vector<double> xv = {0.3, 1.7};
  Tensor x = leaf(xv, {2});
  gan::sum(gan::log(gan::sigmoid(x)) + gan::tanh(x) * gan::sqrt(x) + gan::softplus(x)).backward();
  std::vector<double> want;
  for (double v : xv) {
    const double s = 1 / (1 + std::exp(-v)), t = std::tanh(v);
    want.push_back((1 - s) + (1 - t * t) * std::sqrt(v) + t / (2 * std::sqrt(v)) + s);
  }
  expect_tensor(x.grad(), {2}, want);
}

TEST(Autograd, ScalarArithmeticGradients) {
  // L = sum(3 - 2/x + x/4 + (x - 1) * 5)  =>  dL/dx = 2/x^2 + 1/4 + 5
  Tensor x = leaf({1, 2, -4}, {3});
  gan::sum(3.0 - 2.0 / x + x / 4.0 + (x - 1.0) * 5.0).backward();
  expect_tensor(x.grad(), {3}, {2 + 5.25, 0.5 + 5.25, 0.125 + 5.25});
}

TEST(Autograd, SameTensorTwiceGivesTwoX) {
  Tensor x = leaf({1.5, -2, 3}, {3});
  gan::sum(x * x).backward();
  expect_tensor(x.grad(), {3}, {3, -4, 6});
  // And through two branches that meet again: L = sum(exp(x) * x)  =>  exp(x) (1 + x)
  Tensor y = leaf({0.5}, {1});
  gan::sum(gan::exp(y) * y).backward();
  expect_tensor(y.grad(), {1}, {std::exp(0.5) * 1.5});
}

TEST(Autograd, ConstantInputsGetNoGradient) {
  Tensor x = leaf({1, 2}, {2});
  Tensor c = constant({3, 4}, {2});
  gan::sum(x * c).backward();
  expect_tensor(x.grad(), {2}, {3, 4});
  EXPECT_FALSE(c.grad().defined());
}

// ---- accumulation and retain_graph --------------------------------------------------------------------------

TEST(Autograd, AccumulatesAcrossBackwardCalls) {
  Tensor x = leaf({1, 2}, {2});
  Tensor loss = gan::sum(x * x * x);  // 3x^2
  loss.backward(Tensor(), /*retain_graph=*/true);
  expect_tensor(x.grad(), {2}, {3, 12});
  loss.backward();  // the graph was retained: runs again and adds
  expect_tensor(x.grad(), {2}, {6, 24});
  // A new graph also adds into the existing .grad.
  gan::sum(x * 10.0).backward();
  expect_tensor(x.grad(), {2}, {16, 34});
  // Resetting .grad starts over.
  x.set_grad(Tensor());
  gan::sum(x).backward();
  expect_tensor(x.grad(), {2}, {1, 1});
}

TEST(Autograd, PrefilledGradIsAddedTo) {
  Tensor x = leaf({1, 2}, {2});
  Tensor pre = constant({100, 200}, {2});
  x.set_grad(pre);
  gan::sum(x * 3.0).backward();
  expect_tensor(x.grad(), {2}, {103, 203});
  // The tensor we prefilled with is not modified in place.
  expect_tensor(pre, {2}, {100, 200});
  EXPECT_THROW(x.set_grad(constant({1, 2, 3}, {3})), std::invalid_argument);
}

TEST(Autograd, GradIsNotAliasedWithGraphTensors) {
  Tensor x = leaf({1, 2}, {2});
  Tensor g = constant({5, 6}, {2});
  gan::add(x, 0.0).backward(g);  // add's backward passes g through unchanged
  expect_tensor(x.grad(), {2}, {5, 6});
  // Zeroing .grad in place must not touch the gradient the caller passed in.
  gan::fill_(x.grad(), 0.0);
  expect_tensor(g, {2}, {5, 6});
}

TEST(Autograd, SecondBackwardWithoutRetainGraphThrows) {
  Tensor x = leaf({1, 2}, {2});
  Tensor loss = gan::sum(gan::exp(x) * x);
  loss.backward();
  const std::string msg = error_of<std::runtime_error>([&] { loss.backward(); });
  EXPECT_CONTAINS(msg, "second time");
  EXPECT_CONTAINS(msg, "retain_graph");
  // Even an op that saved nothing (add) refuses, so the behaviour does not depend on which ops are in the graph.
  Tensor y = leaf({1}, {1});
  Tensor l2 = gan::sum(gan::add(y, y));
  l2.backward();
  EXPECT_CONTAINS(error_of<std::runtime_error>([&] { l2.backward(); }), "second time");
}

TEST(Autograd, BackwardOnNonScalarNeedsGradient) {
  Tensor x = leaf({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor y = x * 2.0;
  const std::string msg = error_of<std::invalid_argument>([&] { y.backward(); });
  EXPECT_CONTAINS(msg, "[2, 3]");
  EXPECT_CONTAINS(msg, "scalar");
  // With an explicit gradient it works: d(sum(g * 2x))/dx = 2g.
  y.backward(constant({1, 0, -1, 2, 0.5, 3}, {2, 3}));
  expect_tensor(x.grad(), {2, 3}, {2, 0, -2, 4, 1, 6});
  // A gradient of the wrong shape names both shapes.
  const std::string m2 = error_of<std::invalid_argument>([&] { (x * 2.0).backward(constant({1, 2, 3}, {3})); });
  EXPECT_CONTAINS(m2, "[3]");
  EXPECT_CONTAINS(m2, "[2, 3]");
  // A one-element non-0-dim output is fine without a gradient.
  Tensor z = leaf({3}, {1, 1});
  (z * z).backward();
  expect_tensor(z.grad(), {1, 1}, {6});
}

TEST(Autograd, BackwardOnTensorWithoutGraphThrows) {
  Tensor c = constant({1}, {1});
  EXPECT_CONTAINS(error_of<std::invalid_argument>([&] { c.backward(); }), "does not require grad");
}

TEST(Autograd, MultipleOutputsBackward) {
  Tensor x = leaf({1, 2}, {2});
  Tensor a = gan::sum(x * x);    // 2x
  Tensor b = gan::sum(x * 3.0);  // 3
  gan::backward({a, b});
  expect_tensor(x.grad(), {2}, {5, 7});
}

// ---- grad() -------------------------------------------------------------------------------------------------

TEST(Autograd, GradReturnsWithoutTouchingDotGrad) {
  Tensor x = leaf({1, 2}, {2});
  Tensor w = leaf({3, -1}, {2});
  Tensor loss = gan::sum(x * x * w);
  std::vector<Tensor> g = gan::grad({loss}, {x, w});
  ASSERT_EQ(g.size(), 2u);
  expect_tensor(g[0], {2}, {6, -4});  // 2 x w
  expect_tensor(g[1], {2}, {1, 4});   // x^2
  EXPECT_FALSE(x.grad().defined());
  EXPECT_FALSE(w.grad().defined());
  EXPECT_FALSE(g[0].requires_grad());  // no create_graph: plain values
  // Only one input asked for: fine too (the other is not needed).
  Tensor l2 = gan::sum(x * w);
  expect_tensor(gan::grad({l2}, {w})[0], {2}, {1, 2});
  EXPECT_FALSE(x.grad().defined());
}

TEST(Autograd, GradWithGradOutputs) {
  Tensor x = leaf({1, 2, 3}, {3});
  Tensor y = gan::pow(x, 2.0);
  expect_tensor(gan::grad({y}, {x}, {constant({1, 10, 100}, {3})})[0], {3}, {2, 40, 600});
}

TEST(Autograd, GradWithUnusedInput) {
  Tensor x = leaf({1, 2}, {2});
  Tensor unused = leaf({5}, {1});
  Tensor loss = gan::sum(x * 2.0);
  const std::string msg = error_of<std::invalid_argument>([&] { gan::grad({loss}, {x, unused}, {}, false, false); });
  EXPECT_CONTAINS(msg, "input 1");
  EXPECT_CONTAINS(msg, "allow_unused");
  Tensor loss2 = gan::sum(x * 2.0);
  std::vector<Tensor> g = gan::grad({loss2}, {x, unused}, {}, false, /*allow_unused=*/true);
  ASSERT_EQ(g.size(), 2u);
  expect_tensor(g[0], {2}, {2, 2});
  EXPECT_FALSE(g[1].defined());
  // An input that does not require grad at all is an error either way.
  EXPECT_CONTAINS(error_of<std::invalid_argument>(
                      [&] { gan::grad({gan::sum(x * 2.0)}, {constant({1}, {1})}, {}, false, true); }),
                  "does not require grad");
}

TEST(Autograd, GradWithRespectToIntermediate) {
  Tensor x = leaf({1, -2}, {2});
  Tensor h = x * 3.0;  // a non-leaf
  Tensor loss = gan::sum(h * h + h);
  std::vector<Tensor> g = gan::grad({loss}, {h, x}, {}, /*retain_graph=*/false, false, false);
  expect_tensor(g[0], {2}, {2 * 3 + 1, 2 * -6 + 1});  // 2h + 1
  expect_tensor(g[1], {2}, {3 * 7, 3 * -11});         // 3 (2h + 1)
  EXPECT_FALSE(x.grad().defined());
  // The intermediate alone: the part of the graph below it does not run (and x.grad stays empty).
  Tensor h2 = gan::exp(x);
  Tensor l2 = gan::sum(h2 * 2.0);
  expect_tensor(gan::grad({l2}, {h2})[0], {2}, {2, 2});
  EXPECT_FALSE(x.grad().defined());
  // The output itself.
  Tensor l3 = gan::sum(x * 1.0);
  expect_tensor(gan::grad({l3}, {l3})[0], {}, {1});
}

TEST(Autograd, GradRetainGraphDefaultsToCreateGraph) {
  Tensor x = leaf({2}, {1});
  Tensor loss = gan::sum(gan::exp(x));
  gan::grad({loss}, {x});
  EXPECT_CONTAINS(error_of<std::runtime_error>([&] { gan::grad({loss}, {x}); }), "retain_graph");
  Tensor loss2 = gan::sum(gan::exp(x));
  gan::grad({loss2}, {x}, {}, /*retain_graph=*/true, false, false);
  expect_tensor(gan::grad({loss2}, {x})[0], {1}, {std::exp(2.0)});
}

// ---- grad mode, detach, requires_grad_ ----------------------------------------------------------------------

TEST(Autograd, NoGradGuard) {
  Tensor x = leaf({1, 2}, {2});
  EXPECT_TRUE(gan::grad_enabled());
  {
    gan::NoGradGuard no_grad;
    EXPECT_FALSE(gan::grad_enabled());
    Tensor y = gan::exp(x * 2.0);
    EXPECT_FALSE(y.requires_grad());
    EXPECT_TRUE(y.is_leaf());
    expect_tensor(y, {2}, {std::exp(2.0), std::exp(4.0)});
    Tensor v = x.reshape({2, 1});  // views too
    EXPECT_FALSE(v.requires_grad());
    {
      gan::GradModeGuard enable(true);
      EXPECT_TRUE(gan::grad_enabled());
      EXPECT_TRUE((x * 2.0).requires_grad());
    }
    EXPECT_FALSE(gan::grad_enabled());
  }
  EXPECT_TRUE(gan::grad_enabled());
  EXPECT_TRUE((x * 2.0).requires_grad());
}

TEST(Autograd, GradModeRestoredAfterException) {
  try {
    gan::NoGradGuard no_grad;
    throw std::runtime_error("boom");
  } catch (const std::runtime_error&) {
  }
  EXPECT_TRUE(gan::grad_enabled());
  // A backward that throws also restores grad mode.
  Tensor x = leaf({1}, {1});
  Tensor l = gan::sum(gan::exp(x));
  l.backward();
  EXPECT_THROW(l.backward(), std::runtime_error);
  EXPECT_TRUE(gan::grad_enabled());
}

TEST(Autograd, DetachCutsTheGraph) {
  Tensor x = leaf({1, 2, 3}, {3});
  Tensor d = x.detach();
  EXPECT_FALSE(d.requires_grad());
  EXPECT_TRUE(d.is_leaf());
  EXPECT_EQ(d.storage(), x.storage());  // same data
  // L = sum(detach(x) * x): the detached factor is a constant, so dL/dx = x (not 2x).
  gan::sum(d * x).backward();
  expect_tensor(x.grad(), {3}, {1, 2, 3});
  // Detaching an intermediate stops the gradient at that point.
  Tensor y = leaf({2}, {1});
  Tensor h = gan::exp(y);
  gan::sum(h.detach() * y + h).backward();
  expect_tensor(y.grad(), {1}, {2 * std::exp(2.0)});
}

TEST(Autograd, RequiresGradOnNonLeafThrows) {
  Tensor x = leaf({1}, {1});
  Tensor y = gan::exp(x);
  const std::string msg = error_of<std::logic_error>([&] { y.requires_grad_(); });
  EXPECT_CONTAINS(msg, "leaf");
  EXPECT_CONTAINS(msg, "exp");
  EXPECT_CONTAINS(msg, "detach");
  // A detached copy can be marked.
  Tensor z = y.detach();
  z.requires_grad_();
  EXPECT_TRUE(z.requires_grad());
  EXPECT_TRUE(z.is_leaf());
  // Unmarking a leaf.
  z.requires_grad_(false);
  EXPECT_FALSE(z.requires_grad());
}

// ---- higher order -------------------------------------------------------------------------------------------

TEST(Autograd, SecondDerivativeOfCube) {
  const std::vector<double> xv = {-1, 0.5, 2};
  Tensor x = leaf(xv, {3});
  Tensor y = gan::sum(gan::pow(x, 3.0));
  Tensor g = gan::grad({y}, {x}, {}, /*create_graph=*/true)[0];  // 3x^2
  expect_tensor(g, {3}, {3, 0.75, 12});
  EXPECT_TRUE(g.requires_grad());
  Tensor gg = gan::grad({gan::sum(g)}, {x})[0];  // 6x
  expect_tensor(gg, {3}, {-6, 3, 12});
  // Third derivative is 6 everywhere.
  Tensor g1 = gan::grad({gan::sum(gan::pow(x, 3.0))}, {x}, {}, true)[0];
  Tensor g2 = gan::grad({gan::sum(g1)}, {x}, {}, true)[0];
  expect_tensor(gan::grad({gan::sum(g2)}, {x})[0], {3}, {6, 6, 6});
}

TEST(Autograd, SecondDerivativeThroughSavedOutput) {
  // exp saves its output; the re-attached output must carry its history: d2/dx2 exp(x) = exp(x).
  Tensor x = leaf({0.5, -1}, {2});
  Tensor g = gan::grad({gan::sum(gan::exp(x))}, {x}, {}, true)[0];
  expect_tensor(gan::grad({gan::sum(g)}, {x})[0], {2}, {std::exp(0.5), std::exp(-1.0)});
  // sigmoid: s' = s(1 - s), s'' = s(1 - s)(1 - 2s).
  Tensor y = leaf({0.3}, {1});
  Tensor gs = gan::grad({gan::sum(gan::sigmoid(y))}, {y}, {}, true)[0];
  const double s = 1 / (1 + std::exp(-0.3));
  expect_tensor(gan::grad({gan::sum(gs)}, {y})[0], {1}, {s * (1 - s) * (1 - 2 * s)});
}

TEST(Autograd, BackwardWithCreateGraphMakesDifferentiableGrad) {
  Tensor x = leaf({2}, {1});
  gan::sum(gan::pow(x, 3.0)).backward(Tensor(), false, /*create_graph=*/true);
  Tensor g = x.grad();  // 3x^2 = 12, with history
  expect_tensor(g, {1}, {12});
  ASSERT_TRUE(g.requires_grad());
  x.set_grad(Tensor());
  gan::sum(g).backward();  // d(3x^2)/dx = 6x
  expect_tensor(x.grad(), {1}, {12});
}

TEST(Autograd, GradientPenaltyStyle) {
  // P = sum((dD/dx)^2) with D = sum(tanh(w * x)); dD/dx = w (1 - t^2), t = tanh(w x).
  // dP/dw = 2 w (1 - t^2)^2 - 4 w^2 x t (1 - t^2)^2.
  const std::vector<double> xv = {0.3, -0.7}, wv = {1.5, 0.8};
  Tensor x = leaf(xv, {2});
  Tensor w = leaf(wv, {2});
  Tensor d = gan::sum(gan::tanh(w * x));
  Tensor gx = gan::grad({d}, {x}, {}, true)[0];
  gan::sum(gx * gx).backward();
  std::vector<double> want;
  for (int i = 0; i < 2; ++i) {
    const double t = std::tanh(wv[i] * xv[i]), u = 1 - t * t;
    want.push_back(2 * wv[i] * u * u - 4 * wv[i] * wv[i] * xv[i] * t * u * u);
  }
  expect_tensor(w.grad(), {2}, want);
}

// A test op: y = x^2 with the backward g * 2x, optionally declared without double backward.
Tensor test_square(const Tensor& x, bool double_backward) {
  Tensor out;
  {
    gan::NoGradGuard no_grad;
    out = gan::mul(x.detach(), x.detach());
  }
  return gan::record(
      "test_square", {x}, out,
      [x](const Tensor& g, const Tensor&) { return std::vector<Tensor>{gan::mul(g, gan::mul(x, 2.0))}; },
      gan::RecordOptions{.supports_double_backward = double_backward});
}

TEST(Autograd, CustomOpWithoutDoubleBackward) {
  Tensor x = leaf({1, -3}, {2});
  Tensor y = test_square(x, false);
  ASSERT_TRUE(y.grad_fn());
  EXPECT_EQ(y.grad_fn()->name(), "test_square");
  EXPECT_FALSE(y.grad_fn()->supports_double_backward());
  expect_tensor(y, {2}, {1, 9});
  // First order works, through backward() and grad().
  gan::sum(y).backward();
  expect_tensor(x.grad(), {2}, {2, -6});
  expect_tensor(gan::grad({gan::sum(test_square(x, false))}, {x})[0], {2}, {2, -6});
  // With create_graph the first-order gradient is still right...
  Tensor g = gan::grad({gan::sum(test_square(x, false))}, {x}, {}, /*create_graph=*/true)[0];
  expect_tensor(g, {2}, {2, -6});
  // ...but differentiating it again is an error naming the op.
  const std::string msg = error_of<std::runtime_error>([&] { gan::grad({gan::sum(g)}, {x}); });
  EXPECT_CONTAINS(msg, "test_square");
  EXPECT_CONTAINS(msg, "double backward");
  // The same via backward(create_graph=true) then backward of .grad.
  Tensor z = leaf({2}, {1});
  gan::sum(test_square(z, false)).backward(Tensor(), false, true);
  Tensor zg = z.grad();
  z.set_grad(Tensor());
  EXPECT_CONTAINS(error_of<std::runtime_error>([&] { gan::sum(zg).backward(); }), "test_square");
  // Declared with double backward, the same op differentiates twice: d2/dx2 x^2 = 2.
  Tensor g2 = gan::grad({gan::sum(test_square(x, true))}, {x}, {}, true)[0];
  expect_tensor(gan::grad({gan::sum(g2)}, {x})[0], {2}, {2, 2});
}

TEST(Autograd, NonDoubleBackwardOpOffThePathIsFine) {
  // The gradient w.r.t. w does not flow through test_square's backward, so a second derivative w.r.t. w is
  // allowed when test_square only appears on a branch that is not differentiated twice.
  Tensor x = leaf({1.5}, {1});
  Tensor w = leaf({2}, {1});
  Tensor y = gan::sum(test_square(x, false) + gan::pow(w, 3.0));
  Tensor gw = gan::grad({y}, {w}, {}, true)[0];  // 3 w^2
  expect_tensor(gw, {1}, {12});
  expect_tensor(gan::grad({gan::sum(gw)}, {w})[0], {1}, {12});  // 6 w
}

// ---- views and joins in the graph ---------------------------------------------------------------------------

TEST(AutogradViews, Narrow) {
  Tensor x = leaf({1, 2, 3, 4, 5, 6}, {2, 3});
  gan::sum(x.narrow(1, 1, 2) * constant({10, 20, 30, 40}, {2, 2})).backward();
  expect_tensor(x.grad(), {2, 3}, {0, 10, 20, 0, 30, 40});
}

TEST(AutogradViews, SliceWithStep) {
  Tensor x = leaf({0, 1, 2, 3, 4, 5, 6}, {7});
  gan::sum(gan::slice(x, 0, 1, 7, 3) * constant({2, 5}, {2})).backward();  // elements 1 and 4
  expect_tensor(x.grad(), {7}, {0, 2, 0, 0, 5, 0, 0});
}

TEST(AutogradViews, PermuteAndTranspose) {
  std::vector<double> v(24), w(24);
  for (int i = 0; i < 24; ++i) {
    v[i] = i;
    w[i] = 100 + i;
  }
  Tensor x = leaf(v, {2, 3, 4});
  Tensor wt = constant(w, {4, 2, 3});
  gan::sum(x.permute({2, 0, 1}) * wt).backward();
  // x.grad[i, j, k] = wt[k, i, j]
  std::vector<double> want(24);
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 3; ++j)
      for (int k = 0; k < 4; ++k) want[(i * 3 + j) * 4 + k] = w[(k * 2 + i) * 3 + j];
  expect_tensor(x.grad(), {2, 3, 4}, want);

  Tensor m = leaf({1, 2, 3, 4, 5, 6}, {2, 3});
  gan::sum(m.t() * constant({1, 2, 3, 4, 5, 6}, {3, 2})).backward();
  expect_tensor(m.grad(), {2, 3}, {1, 3, 5, 2, 4, 6});
}

TEST(AutogradViews, Expand) {
  Tensor x = leaf({1, 2, 3}, {3, 1});
  gan::sum(x.expand({2, 3, 4}) * constant(std::vector<double>(24, 0.5), {2, 3, 4})).backward();
  expect_tensor(x.grad(), {3, 1}, {4, 4, 4});  // 8 copies * 0.5
  Tensor y = leaf({1, 2}, {2});
  std::vector<double> w = {1, 2, 3, 4, 5, 6};
  gan::sum(y.expand({3, 2}) * constant(w, {3, 2})).backward();
  expect_tensor(y.grad(), {2}, {9, 12});
}

TEST(AutogradViews, ReshapeSqueezeUnsqueezeFlatten) {
  Tensor x = leaf({1, 2, 3, 4, 5, 6}, {2, 3});
  gan::sum(x.reshape({3, 2}) * constant({1, 2, 3, 4, 5, 6}, {3, 2})).backward();
  expect_tensor(x.grad(), {2, 3}, {1, 2, 3, 4, 5, 6});
  x.set_grad(Tensor());
  gan::sum(x.unsqueeze(1).squeeze().flatten() * constant({6, 5, 4, 3, 2, 1}, {6})).backward();
  expect_tensor(x.grad(), {2, 3}, {6, 5, 4, 3, 2, 1});
  x.set_grad(Tensor());
  // Reshape of a non-contiguous view (goes through a copy).
  gan::sum(x.t().reshape({6}) * constant({1, 2, 3, 4, 5, 6}, {6})).backward();
  // x.t() flattened = [x00, x10, x01, x11, x02, x12]
  expect_tensor(x.grad(), {2, 3}, {1, 3, 5, 2, 4, 6});
}

TEST(AutogradViews, ViewChainMixed) {
  // narrow -> transpose -> expand -> reshape, with a sum over the expanded dim.
  Tensor x = leaf({1, 2, 3, 4, 5, 6, 7, 8}, {2, 4});
  Tensor v = x.narrow(1, 1, 2).t();  // [2, 2] = [[x01, x11], [x02, x12]]
  Tensor e = v.unsqueeze(0).expand({3, 2, 2}).reshape({12});
  std::vector<double> w(12);
  for (int i = 0; i < 12; ++i) w[i] = i;
  gan::sum(e * constant(w, {12})).backward();
  // e[b*4 + r*2 + c] = v[r, c]; dv[r, c] = sum_b w[b*4 + r*2 + c] = 3 * (r*2 + c) + 12 + 0 + ... = 3(2r + c) + 12
  // v[0,0]=x01 -> 12, v[0,1]=x11 -> 15, v[1,0]=x02 -> 18, v[1,1]=x12 -> 21
  expect_tensor(x.grad(), {2, 4}, {0, 12, 18, 0, 0, 15, 21, 0});
}

TEST(AutogradJoins, ConcatSplitsGradient) {
  Tensor a = leaf({1, 2, 3, 4}, {2, 2});
  Tensor b = leaf({5, 6}, {2, 1});
  Tensor c = gan::concat({a, b}, 1);  // [2, 3]
  gan::sum(c * constant({10, 20, 30, 40, 50, 60}, {2, 3})).backward();
  expect_tensor(a.grad(), {2, 2}, {10, 20, 40, 50});
  expect_tensor(b.grad(), {2, 1}, {30, 60});
  // Along dim 0, with a constant in the middle and the same tensor twice.
  Tensor p = leaf({1, 2}, {1, 2});
  Tensor k = constant({0, 0}, {1, 2});
  gan::sum(gan::concat({p, k, p}, 0) * constant({1, 2, 3, 4, 5, 6}, {3, 2})).backward();
  expect_tensor(p.grad(), {1, 2}, {6, 8});
}

TEST(AutogradJoins, StackSplitsGradient) {
  Tensor a = leaf({1, 2}, {2});
  Tensor b = leaf({3, 4}, {2});
  gan::sum(gan::stack({a, b}, 1) * constant({1, 2, 3, 4}, {2, 2})).backward();  // [[a0, b0], [a1, b1]]
  expect_tensor(a.grad(), {2}, {1, 3});
  expect_tensor(b.grad(), {2}, {2, 4});
}

// ---- reductions ---------------------------------------------------------------------------------------------

TEST(AutogradReduce, MaxAlongDimRoutesToArgmax) {
  Tensor x = leaf({1, 5, 3, 7, 2, 7}, {2, 3});
  gan::sum(gan::max(x, 1) * constant({10, 20}, {2})).backward();
  // Row 0: max at 1; row 1: tie between 0 and 2, the first occurrence gets it all.
  expect_tensor(x.grad(), {2, 3}, {0, 10, 0, 20, 0, 0});
  x.set_grad(Tensor());
  gan::sum(gan::max(x, 0, true) * constant({1, 2, 3}, {1, 3})).backward();
  expect_tensor(x.grad(), {2, 3}, {0, 2, 0, 1, 0, 3});  // column maxima in rows 1, 0, 1
  x.set_grad(Tensor());
  gan::max(x).backward();  // global max 7: first occurrence, flat index 3
  expect_tensor(x.grad(), {2, 3}, {0, 0, 0, 1, 0, 0});
}

TEST(AutogradReduce, MaxOfTransposedInput) {
  Tensor x = leaf({1, 9, 4, 2}, {2, 2});
  gan::sum(gan::max(x.t(), 1)).backward();  // x.t() = [[1, 4], [9, 2]]: maxima x10=4, x01=9
  expect_tensor(x.grad(), {2, 2}, {0, 1, 1, 0});
}

TEST(AutogradReduce, SumMeanVar) {
  Tensor x = leaf({1, 2, 3, 4, 5, 6}, {2, 3});
  gan::sum(gan::sum(x, {1}) * constant({2, 3}, {2})).backward();
  expect_tensor(x.grad(), {2, 3}, {2, 2, 2, 3, 3, 3});
  x.set_grad(Tensor());
  gan::sum(gan::mean(x, {0}, true) * constant({1, 2, 3}, {1, 3})).backward();
  expect_tensor(x.grad(), {2, 3}, {0.5, 1, 1.5, 0.5, 1, 1.5});
  x.set_grad(Tensor());
  // d var/dx_i = 2 (x_i - mean) / (N - 1); row means 2 and 5, N = 3.
  gan::sum(gan::var(x, {1})).backward();
  expect_tensor(x.grad(), {2, 3}, {-1, 0, 1, -1, 0, 1});
}

TEST(AutogradReduce, BroadcastAddSumsOverBroadcastDims) {
  Tensor a = leaf({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor b = leaf({10, 20, 30}, {3});
  Tensor s = gan::from_vector<double>({0.5}, {});
  s.requires_grad_();
  Tensor c2 = leaf({1, 2}, {2, 1});
  const std::vector<double> w = {1, 2, 3, 4, 5, 6};
  gan::sum((a + b + c2 + s) * constant(w, {2, 3})).backward();
  expect_tensor(a.grad(), {2, 3}, w);
  expect_tensor(b.grad(), {3}, {5, 7, 9});
  expect_tensor(c2.grad(), {2, 1}, {6, 15});
  expect_tensor(s.grad(), {}, {21});
  // mul and sub broadcast the same way.
  Tensor p = leaf({2, 3}, {2, 1});
  Tensor q = leaf({1, 10, 100}, {1, 3});
  gan::sum(p * q - q).backward();
  expect_tensor(p.grad(), {2, 1}, {111, 111});
  expect_tensor(q.grad(), {1, 3}, {3, 3, 3});  // (2 + 3) - 2 copies
}

TEST(AutogradReduce, MatmulGradients) {
  // L = sum(A B) => dA = 1 B^T (row sums of B), dB = A^T 1 (column sums of A).
  Tensor a = leaf({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor b = leaf({1, 0, 0, 1, 2, 2}, {3, 2});
  gan::sum(gan::matmul(a, b)).backward();
  expect_tensor(a.grad(), {2, 3}, {1, 1, 4, 1, 1, 4});
  expect_tensor(b.grad(), {3, 2}, {5, 5, 7, 7, 9, 9});
  // Batched x 2-D: the shared matrix's gradient sums over the batch.
  Tensor ab = leaf({1, 2, 3, 4, 5, 6, 7, 8}, {2, 2, 2});
  Tensor w = leaf({1, 2, 3, 4}, {2, 2});
  gan::sum(gan::matmul(ab, w)).backward();
  expect_tensor(w.grad(), {2, 2}, {16, 16, 20, 20});
  expect_tensor(ab.grad(), {2, 2, 2}, {3, 7, 3, 7, 3, 7, 3, 7});
}

TEST(AutogradReduce, WhereAndClampRouting) {
  Tensor a = leaf({1, 2, 3}, {3});
  Tensor b = leaf({4, 5, 6}, {3});
  gan::sum(gan::where(constant({1, 0, 1}, {3}), a, b) * constant({1, 2, 3}, {3})).backward();
  expect_tensor(a.grad(), {3}, {1, 0, 3});
  expect_tensor(b.grad(), {3}, {0, 2, 0});
  Tensor x = leaf({-2, 0.5, 3}, {3});
  gan::sum(gan::clamp(x, -1, 1) + gan::relu(x) + gan::leaky_relu(x, 0.1)).backward();
  expect_tensor(x.grad(), {3}, {0 + 0 + 0.1, 1 + 1 + 1, 0 + 1 + 1});
}

// ---- deep graphs --------------------------------------------------------------------------------------------

// Runs f on a thread with a small stack (512 KiB), so that anything recursing once per graph level fails at a
// modest depth instead of hiding behind the main thread's 8 MiB.
void run_with_small_stack(const std::function<void()>& f) {
  pthread_attr_t attr;
  ASSERT_EQ(pthread_attr_init(&attr), 0);
  ASSERT_EQ(pthread_attr_setstacksize(&attr, 512 * 1024), 0);
  pthread_t thread;
  auto trampoline = [](void* arg) -> void* {
    (*static_cast<const std::function<void()>*>(arg))();
    return nullptr;
  };
  ASSERT_EQ(pthread_create(&thread, &attr, trampoline, const_cast<std::function<void()>*>(&f)), 0);
  pthread_join(thread, nullptr);
  pthread_attr_destroy(&attr);
}

TEST(AutogradDeep, LongChainOfAddsBackward) {
  double grad = 0.0;
  bool ok = false;
  run_with_small_stack([&] {
    Tensor x = leaf({1.0}, {1});
    Tensor y = x;
    for (int i = 0; i < 1000; ++i) y = gan::add(y, x);
    gan::sum(y).backward();
    grad = x.grad().item();
    ok = true;
  });
  ASSERT_TRUE(ok);
  EXPECT_EQ(grad, 1001.0);
}

TEST(AutogradDeep, DeepGraphIsFreedWithoutRecursion) {
  // 5000 levels of mul (whose closure captures its inputs) and add; freeing the graph, with or without a
  // backward pass before, must not recurse once per level.
  bool ok = false;
  double grad = 0.0;
  run_with_small_stack([&] {
    Tensor x = leaf({1.0}, {1});
    {
      Tensor y = x;
      for (int i = 0; i < 2500; ++i) y = gan::add(gan::mul(y, 1.0), x);
      gan::sum(y).backward();
      grad = x.grad().item();
    }  // graph freed after backward
    {
      Tensor y = x;
      for (int i = 0; i < 2500; ++i) y = gan::mul(gan::add(y, x), x);
    }  // graph freed without backward
    ok = true;
  });
  ASSERT_TRUE(ok);
  EXPECT_EQ(grad, 2501.0);
}

// ---- what a node keeps alive ------------------------------------------------------------------------------

// relu and leaky_relu with slope >= 0 read the sign of their output in backward, so their input is freed once the
// caller drops it (the memory a training step keeps between forward and backward); a negative slope flips signs,
// so that node keeps its input. Gradients are the same either way, including at 0 (slope there, as PyTorch).
TEST(AutogradSaved, ReluAndLeakyReluKeepTheirOutputNotTheirInput) {
  struct Case {
    const char* name;
    std::function<Tensor(const Tensor&)> f;
    double slope;
    bool input_freed;
  };
  const std::vector<Case> cases = {
      {"relu", [](const Tensor& x) { return gan::relu(x); }, 0.0, true},
      {"leaky_relu 0.2", [](const Tensor& x) { return gan::leaky_relu(x, 0.2); }, 0.2, true},
      {"leaky_relu 0", [](const Tensor& x) { return gan::leaky_relu(x, 0.0); }, 0.0, true},
      {"leaky_relu -0.5", [](const Tensor& x) { return gan::leaky_relu(x, -0.5); }, -0.5, false},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    Tensor w = leaf({-2, -0.5, 0, 0.5, 3}, {5});
    std::weak_ptr<gan::Storage> input_storage;
    Tensor y;
    {
      const Tensor x = gan::mul(w, 2.0);  // a non-leaf: only the graph could keep it
      input_storage = x.storage();
      y = c.f(x);
    }
    EXPECT_EQ(input_storage.expired(), c.input_freed);
    gan::sum(y).backward();
    const double s = c.slope;
    expect_tensor(w.grad(), {5}, {2 * s, 2 * s, 2 * s, 2, 2});
  }
}

// mul keeps each factor only for the other's gradient: x times a constant mask lets x go; x times a weight that
// requires grad keeps it.
TEST(AutogradSaved, MulKeepsEachFactorOnlyForTheOthersGradient) {
  for (const bool weight_wants_grad : {false, true}) {
    SCOPED_TRACE(weight_wants_grad ? "times a weight" : "times a constant");
    Tensor w = leaf({1, -2, 3}, {3});
    Tensor m = constant({0.5, 2, -1}, {3});
    if (weight_wants_grad) m.requires_grad_();
    std::weak_ptr<gan::Storage> input_storage;
    Tensor y;
    {
      const Tensor x = gan::mul(w, 2.0);
      input_storage = x.storage();
      y = gan::mul(x, m);
    }
    EXPECT_EQ(input_storage.expired(), !weight_wants_grad);
    gan::sum(y).backward();
    expect_tensor(w.grad(), {3}, {1, 4, -2});
    if (weight_wants_grad) expect_tensor(m.grad(), {3}, {2, -4, 6});
  }
}
}  // namespace
