// gradcheck must catch wrong gradients: these tests feed it ops with deliberately broken backward rules, in each
// of its modes (full Jacobian, per-element vector-Jacobian, random directions), and check it says where.
#include <gtest/gtest.h>

#include "engine/gradcheck.h"
#include "engine/ops.h"
#include "engine/rng.h"

namespace gan {
namespace {

// cube(x) = x^3 with a backward rule chosen by the test.
enum class CubeGrad { Correct, Wrong, Detached };

Tensor cube(const Tensor& x, CubeGrad mode) {
  NoGradGuard guard;  // compute the value without recording pow
  Tensor y = pow(x.detach(), 3.0);
  GradModeGuard on(true);
  return record("test_cube", {x}, y, [x, mode](const Tensor& g, const Tensor&) {
    switch (mode) {
      case CubeGrad::Correct: return std::vector<Tensor>{g * pow(x, 2.0) * 3.0};
      case CubeGrad::Wrong: return std::vector<Tensor>{g * pow(x, 2.0) * 2.9};
      case CubeGrad::Detached: return std::vector<Tensor>{g * pow(x.detach(), 2.0) * 3.0};
    }
    return std::vector<Tensor>{};
  });
}

Tensor input(const Shape& s, uint64_t seed) {
  Generator g(seed);
  Tensor t = rand(s, DType::Float64, &g, -1.0, 1.0);
  t.requires_grad_(true);
  return t;
}

TEST(GradcheckSelf, AcceptsCorrectGradientInEveryMode) {
  for (const Shape& s : {Shape{3}, Shape{40, 5}, Shape{30, 30}}) {
    const GradcheckResult r = gradcheck([](const std::vector<Tensor>& x) { return cube(x[0], CubeGrad::Correct); },
                                        {input(s, 1)});
    EXPECT_TRUE(r.ok) << shape_str(s) << ": " << r.message;
  }
}

TEST(GradcheckSelf, RejectsWrongGradientInEveryMode) {
  // [3]: full Jacobian; [40, 5]: per-element vector-Jacobian; [30, 30]: random directions.
  for (const Shape& s : {Shape{3}, Shape{40, 5}, Shape{30, 30}}) {
    const GradcheckResult r = gradcheck([](const std::vector<Tensor>& x) { return cube(x[0], CubeGrad::Wrong); },
                                        {input(s, 2)});
    EXPECT_FALSE(r.ok) << shape_str(s);
    EXPECT_NE(r.message.find("mismatch"), std::string::npos) << r.message;
  }
}

TEST(GradgradcheckSelf, RejectsBackwardThatIsNotDifferentiable) {
  auto f = [](const std::vector<Tensor>& x) { return cube(x[0], CubeGrad::Detached); };
  EXPECT_TRUE(gradcheck(f, {input({4}, 3)}).ok);  // first order is right...
  const GradcheckResult r = gradgradcheck(f, {input({4}, 3)});
  EXPECT_FALSE(r.ok);  // ...but the detached backward loses d/dx of the gradient
}

TEST(GradgradcheckSelf, AcceptsDifferentiableBackward) {
  const GradcheckResult r =
      gradgradcheck([](const std::vector<Tensor>& x) { return cube(x[0], CubeGrad::Correct); }, {input({4}, 4)});
  EXPECT_TRUE(r.ok) << r.message;
}

TEST(GradcheckSelf, RequiresFloat64) {
  Tensor x = rand({3}, DType::Float32);
  x.requires_grad_(true);
  EXPECT_THROW(gradcheck([](const std::vector<Tensor>& v) { return exp(v[0]); }, {x}), std::invalid_argument);
}

TEST(GradcheckSelf, ConstantInputsAreNotDifferentiated) {
  Tensor c = rand({3}, DType::Float64);  // no requires_grad: held constant
  const GradcheckResult r =
      gradcheck([](const std::vector<Tensor>& v) { return v[0] * v[1]; }, {input({3}, 5), c});
  EXPECT_TRUE(r.ok) << r.message;
}

TEST(GradcheckSelf, MessageNamesInputAndElement) {
  const GradcheckResult r = gradcheck(
      [](const std::vector<Tensor>& x) { return x[0] + cube(x[1], CubeGrad::Wrong); }, {input({2}, 6), input({2}, 7)});
  ASSERT_FALSE(r.ok);
  EXPECT_NE(r.message.find("input 1"), std::string::npos) << r.message;
}

}  // namespace
}  // namespace gan
