// Forward values of every op in engine/ops.h against hand-computed expectations, in float32 and float64:
// broadcasting, scalar operands, non-contiguous inputs (transposed, stepped slices, expanded), reductions over
// several dims, mean/var against a two-pass computation, max/argmax (first occurrence on ties), concat/stack,
// matmul in all supported forms against a naive triple loop, and the numerically delicate activations.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "engine/ops.h"
#include "engine/rng.h"
#include "engine/tensor.h"

namespace {

using gan::DType;
using gan::Shape;
using gan::Tensor;

template <typename T>
class OpsValues : public ::testing::Test {
 protected:
  static constexpr DType kDtype = gan::dtype_of<T>();
  // Relative tolerance: a few ulps of the type (results go through float32 rounding at each step).
  static constexpr double kTol = std::is_same_v<T, float> ? 2e-6 : 1e-13;

  static Tensor make(const std::vector<double>& values, const Shape& shape) {
    return gan::from_vector<double>(values, shape).to(kDtype);
  }
  static Tensor scalar(double v) { return gan::scalar_tensor(v, kDtype); }

  // Asserts shape, dtype and every value (NaN matches NaN; infinities must match exactly).
  static void expect_values(const Tensor& t, const Shape& shape, const std::vector<double>& expected,
                            double tol = kTol) {
    ASSERT_TRUE(t.defined());
    ASSERT_EQ(t.shape(), shape);
    ASSERT_EQ(t.dtype(), kDtype);
    const std::vector<double> v = t.to_vector<double>();
    ASSERT_EQ(v.size(), expected.size());
    for (size_t i = 0; i < v.size(); ++i) {
      if (std::isnan(expected[i])) {
        EXPECT_TRUE(std::isnan(v[i])) << "at " << i;
      } else if (std::isinf(expected[i])) {
        EXPECT_EQ(v[i], expected[i]) << "at " << i;
      } else {
        EXPECT_NEAR(v[i], expected[i], tol * std::max(1.0, std::abs(expected[i]))) << "at " << i;
      }
    }
  }
};

using FloatTypes = ::testing::Types<float, double>;
TYPED_TEST_SUITE(OpsValues, FloatTypes);

// Same as above but for int64 results (argmax).
void expect_indices(const Tensor& t, const Shape& shape, const std::vector<int64_t>& expected) {
  ASSERT_EQ(t.dtype(), DType::Int64);
  ASSERT_EQ(t.shape(), shape);
  EXPECT_EQ(t.to_vector<int64_t>(), expected);
}

// Applies f to every element of a host vector.
template <typename F>
std::vector<double> map(const std::vector<double>& v, F f) {
  std::vector<double> out(v.size());
  for (size_t i = 0; i < v.size(); ++i) out[i] = f(v[i]);
  return out;
}

// ---- binary element-wise ------------------------------------------------------------------------------------

TYPED_TEST(OpsValues, BinarySameShape) {
  Tensor a = this->make({1, -2, 3, 4.5, 0, -6}, {2, 3});
  Tensor b = this->make({2, 4, -1, 1.5, 3, -3}, {2, 3});
  this->expect_values(gan::add(a, b), {2, 3}, {3, 2, 2, 6, 3, -9});
  this->expect_values(gan::sub(a, b), {2, 3}, {-1, -6, 4, 3, -3, -3});
  this->expect_values(gan::mul(a, b), {2, 3}, {2, -8, -3, 6.75, 0, 18});
  this->expect_values(gan::div(a, b), {2, 3}, {0.5, -0.5, -3, 3, 0, 2});
  this->expect_values(gan::maximum(a, b), {2, 3}, {2, 4, 3, 4.5, 3, -3});
  this->expect_values(gan::minimum(a, b), {2, 3}, {1, -2, -1, 1.5, 0, -6});
  // Operators are the same ops.
  this->expect_values(a + b, {2, 3}, {3, 2, 2, 6, 3, -9});
  this->expect_values(a - b, {2, 3}, {-1, -6, 4, 3, -3, -3});
  this->expect_values(a * b, {2, 3}, {2, -8, -3, 6.75, 0, 18});
  this->expect_values(a / b, {2, 3}, {0.5, -0.5, -3, 3, 0, 2});
  this->expect_values(-a, {2, 3}, {-1, 2, -3, -4.5, 0, 6});
}

TYPED_TEST(OpsValues, DivisionByZeroFollowsIeee) {
  Tensor a = this->make({1, -1, 0}, {3});
  const double inf = std::numeric_limits<double>::infinity();
  this->expect_values(gan::div(a, this->make({0, 0, 0}, {3})), {3}, {inf, -inf, std::nan("")});
}

TYPED_TEST(OpsValues, BroadcastRowVector) {
  Tensor a = this->make({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor b = this->make({10, 20, 30}, {3});
  this->expect_values(gan::add(a, b), {2, 3}, {11, 22, 33, 14, 25, 36});
  this->expect_values(gan::sub(b, a), {2, 3}, {9, 18, 27, 6, 15, 24});
  this->expect_values(gan::div(a, b), {2, 3}, {0.1, 0.1, 0.1, 0.4, 0.25, 0.2});
}

TYPED_TEST(OpsValues, BroadcastOuter) {
  Tensor col = this->make({1, 2}, {2, 1});
  Tensor row = this->make({3, 4, 5}, {1, 3});
  this->expect_values(gan::mul(col, row), {2, 3}, {3, 4, 5, 6, 8, 10});
  this->expect_values(gan::add(row, col), {2, 3}, {4, 5, 6, 5, 6, 7});
  this->expect_values(gan::maximum(col, this->make({0, 1.5, 3}, {3})), {2, 3}, {1, 1.5, 3, 2, 2, 3});
  // Leading dims are added: [2, 1] with [4, 1, 3] -> [4, 2, 3].
  Tensor c = gan::add(col, gan::zeros({4, 1, 3}, this->kDtype));
  this->expect_values(c, {4, 2, 3}, {1, 1, 1, 2, 2, 2, 1, 1, 1, 2, 2, 2, 1, 1, 1, 2, 2, 2, 1, 1, 1, 2, 2, 2});
}

TYPED_TEST(OpsValues, ScalarTensorOperands) {
  Tensor a = this->make({1, 2, 3, 4}, {2, 2});
  Tensor s = this->scalar(2);
  this->expect_values(gan::mul(a, s), {2, 2}, {2, 4, 6, 8});
  this->expect_values(gan::sub(s, a), {2, 2}, {1, 0, -1, -2});
  this->expect_values(gan::div(s, a), {2, 2}, {2, 1, 2.0 / 3.0, 0.5});
  this->expect_values(gan::add(s, this->scalar(0.5)), {}, {2.5});
}

TYPED_TEST(OpsValues, ScalarVariants) {
  Tensor a = this->make({1, -2, 4}, {3});
  this->expect_values(gan::add(a, 1.5), {3}, {2.5, -0.5, 5.5});
  this->expect_values(gan::sub(a, 1.5), {3}, {-0.5, -3.5, 2.5});
  this->expect_values(gan::rsub(a, 1.5), {3}, {0.5, 3.5, -2.5});
  this->expect_values(gan::mul(a, -3.0), {3}, {-3, 6, -12});
  this->expect_values(gan::div(a, 4.0), {3}, {0.25, -0.5, 1});
  this->expect_values(gan::div(a, 3.0), {3}, {1.0 / 3, -2.0 / 3, 4.0 / 3}, 4 * this->kTol);
  this->expect_values(gan::rdiv(a, 2.0), {3}, {2, -1, 0.5});
  this->expect_values(a + 1.0, {3}, {2, -1, 5});
  this->expect_values(1.0 + a, {3}, {2, -1, 5});
  this->expect_values(a - 1.0, {3}, {0, -3, 3});
  this->expect_values(1.0 - a, {3}, {0, 3, -3});
  this->expect_values(a * 2.0, {3}, {2, -4, 8});
  this->expect_values(2.0 * a, {3}, {2, -4, 8});
  this->expect_values(a / 2.0, {3}, {0.5, -1, 2});
  this->expect_values(8.0 / a, {3}, {8, -4, 2});
}

TYPED_TEST(OpsValues, NonContiguousOperands) {
  Tensor base = this->make({0, 1, 2, 3, 4, 5}, {2, 3});
  Tensor t = base.t();  // [[0, 3], [1, 4], [2, 5]]
  Tensor other = this->make({10, 20, 30, 40, 50, 60}, {3, 2});
  this->expect_values(gan::add(t, other), {3, 2}, {10, 23, 31, 44, 52, 65});
  this->expect_values(gan::mul(other, t), {3, 2}, {0, 60, 30, 160, 100, 300});
  // Stepped slice: columns 0 and 2 of a [2, 4] -> [[0, 2], [4, 6]].
  Tensor wide = this->make({0, 1, 2, 3, 4, 5, 6, 7}, {2, 4});
  Tensor stepped = gan::slice(wide, 1, 0, 4, 2);
  this->expect_values(gan::sub(stepped, this->make({1, 1, 1, 1}, {2, 2})), {2, 2}, {-1, 1, 3, 5});
  this->expect_values(gan::exp(stepped), {2, 2}, map({0, 2, 4, 6}, [](double x) { return std::exp(x); }),
                      4 * this->kTol);
  // Expanded operand (stride 0), both sides non-contiguous.
  Tensor e = this->make({1, 2}, {2, 1}).expand({2, 2});
  this->expect_values(gan::mul(e, stepped), {2, 2}, {0, 2, 8, 12});
  this->expect_values(gan::add(stepped.t(), e), {2, 2}, {1, 5, 4, 8});
  // Transposed with a broadcast.
  this->expect_values(gan::add(t, this->make({100, 200}, {2})), {3, 2}, {100, 203, 101, 204, 102, 205});
  // Unary on a transposed input.
  this->expect_values(gan::neg(t), {3, 2}, {-0.0, -3, -1, -4, -2, -5});
}

TYPED_TEST(OpsValues, OutputIsFreshAndContiguous) {
  Tensor a = this->make({1, 2, 3, 4}, {2, 2}).t();
  Tensor out = gan::add(a, 0.0);
  EXPECT_TRUE(out.is_contiguous());
  EXPECT_NE(out.storage(), a.storage());
}

TYPED_TEST(OpsValues, MaximumMinimumNaNPropagates) {
  const double nan = std::nan("");
  Tensor a = this->make({nan, 1, 2}, {3});
  Tensor b = this->make({0, nan, 3}, {3});
  this->expect_values(gan::maximum(a, b), {3}, {nan, nan, 3});
  this->expect_values(gan::minimum(a, b), {3}, {nan, nan, 2});
}

TYPED_TEST(OpsValues, Where) {
  Tensor cond = this->make({1, 0, 0, 1, 1, 0}, {2, 3});
  Tensor a = this->make({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor b = this->make({-1, -2, -3, -4, -5, -6}, {2, 3});
  this->expect_values(gan::where(cond, a, b), {2, 3}, {1, -2, -3, 4, 5, -6});
  // Broadcast cond [3] and scalar b.
  this->expect_values(gan::where(this->make({0, 1, 0}, {3}), a, this->scalar(9)), {2, 3}, {9, 2, 9, 9, 5, 9});
  // Broadcast a and b against a [2, 1] cond.
  this->expect_values(gan::where(this->make({1, 0}, {2, 1}), this->make({7, 8}, {2}), this->scalar(0)), {2, 2},
                      {7, 8, 0, 0});
  // A cond of another dtype (int64 labels, comparison masks) is accepted; any non-zero counts as true.
  Tensor icond = gan::from_vector<int64_t>({0, 3, -1}, {3});
  this->expect_values(gan::where(icond, this->make({1, 2, 3}, {3}), this->make({4, 5, 6}, {3})), {3}, {4, 2, 3});
  // Comparison masks plug in directly.
  this->expect_values(gan::where(gan::gt(a, 3.0), a, this->scalar(0)), {2, 3}, {0, 0, 0, 4, 5, 6});
  // Non-contiguous cond.
  this->expect_values(gan::where(cond.t(), a.t(), b.t()), {3, 2}, {1, 4, -2, 5, -3, -6});
}

// ---- unary --------------------------------------------------------------------------------------------------

TYPED_TEST(OpsValues, UnaryMath) {
  const std::vector<double> xs = {0.5, 1, 2, 4};
  Tensor x = this->make(xs, {2, 2});
  const double tol = 4 * this->kTol;
  this->expect_values(gan::exp(x), {2, 2}, map(xs, [](double v) { return std::exp(v); }), tol);
  this->expect_values(gan::log(x), {2, 2}, map(xs, [](double v) { return std::log(v); }), tol);
  this->expect_values(gan::sqrt(x), {2, 2}, {std::sqrt(0.5), 1, std::sqrt(2.0), 2}, tol);
  this->expect_values(gan::pow(x, 2.0), {2, 2}, {0.25, 1, 4, 16});
  this->expect_values(gan::pow(x, 3.0), {2, 2}, {0.125, 1, 8, 64}, tol);
  this->expect_values(gan::pow(x, -1.0), {2, 2}, {2, 1, 0.5, 0.25}, tol);
  this->expect_values(gan::pow(x, 0.5), {2, 2}, {std::sqrt(0.5), 1, std::sqrt(2.0), 2}, tol);
  this->expect_values(gan::pow(x, 0.0), {2, 2}, {1, 1, 1, 1});
  this->expect_values(x.exp(), {2, 2}, map(xs, [](double v) { return std::exp(v); }), tol);
  this->expect_values(x.log(), {2, 2}, map(xs, [](double v) { return std::log(v); }), tol);
  this->expect_values(x.sqrt(), {2, 2}, {std::sqrt(0.5), 1, std::sqrt(2.0), 2}, tol);
  this->expect_values(x.pow(2), {2, 2}, {0.25, 1, 4, 16});
  // Edge values.
  const double inf = std::numeric_limits<double>::infinity();
  this->expect_values(gan::log(this->make({0, -1}, {2})), {2}, {-inf, std::nan("")});
  this->expect_values(gan::sqrt(this->make({0, -1}, {2})), {2}, {0, std::nan("")});
  this->expect_values(gan::exp(this->make({-inf, 0}, {2})), {2}, {0, 1});
}

TYPED_TEST(OpsValues, AbsSignNeg) {
  Tensor x = this->make({-2.5, 0, 3, -0.0}, {4});
  this->expect_values(gan::abs(x), {4}, {2.5, 0, 3, 0});
  this->expect_values(x.abs(), {4}, {2.5, 0, 3, 0});
  this->expect_values(gan::sign(x), {4}, {-1, 0, 1, 0});
  this->expect_values(gan::neg(x), {4}, {2.5, 0, -3, 0});
}

TYPED_TEST(OpsValues, Clamp) {
  Tensor x = this->make({-3, -1, 0, 0.5, 2, 7}, {2, 3});
  this->expect_values(gan::clamp(x, -1, 1), {2, 3}, {-1, -1, 0, 0.5, 1, 1});
  this->expect_values(gan::clamp(x, 0.0), {2, 3}, {0, 0, 0, 0.5, 2, 7});
  this->expect_values(gan::clamp(x, -std::numeric_limits<double>::infinity(), 1.0), {2, 3}, {-3, -1, 0, 0.5, 1, 1});
  this->expect_values(gan::clamp(x, 2, 2), {2, 3}, {2, 2, 2, 2, 2, 2});
  EXPECT_THROW(gan::clamp(x, 1, -1), std::invalid_argument);
}

// ---- activations --------------------------------------------------------------------------------------------

TYPED_TEST(OpsValues, ReluAndLeakyRelu) {
  Tensor x = this->make({-2, -0.5, 0, 0.5, 3}, {5});
  this->expect_values(gan::relu(x), {5}, {0, 0, 0, 0.5, 3});
  this->expect_values(gan::leaky_relu(x), {5}, {-0.02, -0.005, 0, 0.5, 3});
  this->expect_values(gan::leaky_relu(x, 0.2), {5}, {-0.4, -0.1, 0, 0.5, 3});
  this->expect_values(gan::leaky_relu(x, 1.0), {5}, {-2, -0.5, 0, 0.5, 3});
  this->expect_values(gan::leaky_relu(x, 0.0), {5}, {0, 0, 0, 0.5, 3});
}

TYPED_TEST(OpsValues, TanhSigmoidSoftplus) {
  const std::vector<double> xs = {-3, -0.5, 0, 0.5, 3};
  Tensor x = this->make(xs, {5});
  const double tol = 8 * this->kTol;
  this->expect_values(gan::tanh(x), {5}, map(xs, [](double v) { return std::tanh(v); }), tol);
  this->expect_values(gan::sigmoid(x), {5}, map(xs, [](double v) { return 1.0 / (1.0 + std::exp(-v)); }), tol);
  this->expect_values(gan::softplus(x), {5}, map(xs, [](double v) { return std::log1p(std::exp(v)); }), tol);
  this->expect_values(gan::sigmoid(this->scalar(0)), {}, {0.5});
  this->expect_values(gan::softplus(this->scalar(0)), {}, {std::log(2.0)}, tol);
}

TYPED_TEST(OpsValues, ActivationsStableAtExtremes) {
  Tensor x = this->make({-100, 100, -1000, 1000}, {4});
  const std::vector<double> sp = gan::softplus(x).to_vector<double>();
  const std::vector<double> sg = gan::sigmoid(x).to_vector<double>();
  const std::vector<double> th = gan::tanh(x).to_vector<double>();
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_TRUE(std::isfinite(sp[i])) << i;
    EXPECT_TRUE(std::isfinite(sg[i])) << i;
    EXPECT_TRUE(std::isfinite(th[i])) << i;
  }
  // softplus(x) -> 0 for x -> -inf (but stays >= 0), -> x for x -> +inf.
  EXPECT_GE(sp[0], 0.0);
  EXPECT_LT(sp[0], 1e-40);
  const double tiny_tol = std::is_same_v<TypeParam, float> ? 1e-44 : 1e-55;  // float: exp(-100) is subnormal
  EXPECT_NEAR(sp[0], std::exp(-100.0), tiny_tol);
  EXPECT_EQ(sp[1], 100.0);
  EXPECT_EQ(sp[2], 0.0);
  EXPECT_EQ(sp[3], 1000.0);
  // sigmoid(x) -> 0 / 1, never NaN from inf/inf.
  EXPECT_GE(sg[0], 0.0);
  EXPECT_LT(sg[0], 1e-40);
  EXPECT_EQ(sg[1], 1.0);
  EXPECT_EQ(sg[2], 0.0);
  EXPECT_EQ(sg[3], 1.0);
  EXPECT_EQ(th[0], -1.0);
  EXPECT_EQ(th[1], 1.0);
  // Moderately large inputs keep full relative precision on the small side (no 1 - 1 cancellation).
  const double s30 = gan::sigmoid(this->scalar(-30)).item();
  EXPECT_NEAR(s30, 1.0 / (1.0 + std::exp(30.0)), 1e-5 * s30);
  const double sp30 = gan::softplus(this->scalar(-30)).item();
  EXPECT_NEAR(sp30, std::log1p(std::exp(-30.0)), 1e-5 * sp30);
}

// ---- comparisons --------------------------------------------------------------------------------------------

TYPED_TEST(OpsValues, Comparisons) {
  Tensor a = this->make({1, 2, 3, 4}, {4});
  Tensor b = this->make({2, 2, 2, 5}, {4});
  this->expect_values(gan::gt(a, b), {4}, {0, 0, 1, 0});
  this->expect_values(gan::ge(a, b), {4}, {0, 1, 1, 0});
  this->expect_values(gan::lt(a, b), {4}, {1, 0, 0, 1});
  this->expect_values(gan::le(a, b), {4}, {1, 1, 0, 1});
  this->expect_values(gan::eq(a, b), {4}, {0, 1, 0, 0});
  this->expect_values(gan::gt(a, 2.0), {4}, {0, 0, 1, 1});
  this->expect_values(gan::ge(a, 2.0), {4}, {0, 1, 1, 1});
  this->expect_values(gan::lt(a, 2.0), {4}, {1, 0, 0, 0});
  this->expect_values(gan::le(a, 2.0), {4}, {1, 1, 0, 0});
  // Broadcasting and NaN (every comparison with NaN is false).
  Tensor col = this->make({1.5, std::nan("")}, {2, 1});
  this->expect_values(gan::gt(a, col), {2, 4}, {0, 1, 1, 1, 0, 0, 0, 0});
  this->expect_values(gan::eq(col, col), {2, 1}, {1, 0});
  // Comparisons do not record a graph.
  Tensor x = this->make({1, 2}, {2});
  x.requires_grad_();
  EXPECT_FALSE(gan::gt(x, 1.5).requires_grad());
  EXPECT_FALSE(gan::eq(x, x).requires_grad());
  EXPECT_FALSE(gan::sign(x).requires_grad());
}

// ---- reductions ---------------------------------------------------------------------------------------------

TYPED_TEST(OpsValues, SumAll) {
  Tensor x = this->make({1, 2, 3, 4, 5, 6}, {2, 3});
  this->expect_values(gan::sum(x), {}, {21});
  this->expect_values(x.sum(), {}, {21});
  this->expect_values(gan::sum(x.t()), {}, {21});
  this->expect_values(gan::sum(this->scalar(4)), {}, {4});
  this->expect_values(gan::sum(gan::zeros({0, 3}, this->kDtype)), {}, {0});
  this->expect_values(gan::sum(gan::zeros({0, 3}, this->kDtype), {0}), {3}, {0, 0, 0});
  // A large sum accumulates in double: 100000 * 0.1 without float drift.
  const double big = gan::sum(gan::full({100000}, 0.1, this->kDtype)).item();
  EXPECT_NEAR(big, 100000 * static_cast<double>(static_cast<TypeParam>(0.1)), 1e-6 * big);
}

TYPED_TEST(OpsValues, SumOverDims) {
  // x[i, j, k] = 12 i + 4 j + k, shape [2, 3, 4]
  std::vector<double> v(24);
  for (int i = 0; i < 24; ++i) v[i] = i;
  Tensor x = this->make(v, {2, 3, 4});
  this->expect_values(gan::sum(x, {0}), {3, 4}, {12, 14, 16, 18, 20, 22, 24, 26, 28, 30, 32, 34});
  this->expect_values(gan::sum(x, {1}), {2, 4}, {12, 15, 18, 21, 48, 51, 54, 57});
  this->expect_values(gan::sum(x, {-1}), {2, 3}, {6, 22, 38, 54, 70, 86});
  this->expect_values(gan::sum(x, {0, 2}), {3}, {60, 92, 124});
  this->expect_values(gan::sum(x, {2, 0}), {3}, {60, 92, 124});  // order does not matter
  this->expect_values(gan::sum(x, {0, 2}, true), {1, 3, 1}, {60, 92, 124});
  this->expect_values(gan::sum(x, {1, 2}, true), {2, 1, 1}, {66, 210});
  this->expect_values(gan::sum(x, {0, 1, 2}), {}, {276});
  this->expect_values(gan::sum(x, {}, true), {1, 1, 1}, {276});
  this->expect_values(x.sum({1}, true), {2, 1, 4}, {12, 15, 18, 21, 48, 51, 54, 57});
  // Non-contiguous input: permuted to [4, 2, 3], summed over the middle dim.
  Tensor p = x.permute({2, 0, 1});
  this->expect_values(gan::sum(p, {1}), {4, 3}, {12, 20, 28, 14, 22, 30, 16, 24, 32, 18, 26, 34});
  // Expanded input: stride-0 dims count every copy.
  Tensor e = this->make({1, 2}, {2, 1}).expand({2, 5});
  this->expect_values(gan::sum(e, {1}), {2}, {5, 10});
  this->expect_values(gan::sum(e), {}, {15});
  EXPECT_THROW(gan::sum(x, {0, 0}), std::invalid_argument);
  EXPECT_THROW(gan::sum(x, {3}), std::out_of_range);
}

TYPED_TEST(OpsValues, MeanOverDims) {
  std::vector<double> v(24);
  for (int i = 0; i < 24; ++i) v[i] = i;
  Tensor x = this->make(v, {2, 3, 4});
  this->expect_values(gan::mean(x), {}, {11.5});
  this->expect_values(x.mean(), {}, {11.5});
  this->expect_values(gan::mean(x, {0, 2}), {3}, {7.5, 11.5, 15.5});
  this->expect_values(gan::mean(x, {1}, true), {2, 1, 4}, {4, 5, 6, 7, 16, 17, 18, 19});
  this->expect_values(x.mean({-1}), {2, 3}, {1.5, 5.5, 9.5, 13.5, 17.5, 21.5});
  this->expect_values(gan::mean(x.transpose(0, 2), {2}), {4, 3}, {6, 10, 14, 7, 11, 15, 8, 12, 16, 9, 13, 17});
  EXPECT_THROW(gan::mean(gan::zeros({0}, this->kDtype)), std::invalid_argument);
}

TYPED_TEST(OpsValues, VarMatchesTwoPass) {
  gan::Generator g(3);
  Tensor x = gan::randn({3, 4, 5}, this->kDtype, &g, 2.0, 3.0);
  const std::vector<double> v = x.to_vector<double>();
  auto idx = [](int i, int j, int k) { return (i * 4 + j) * 5 + k; };
  const double tol = std::is_same_v<TypeParam, float> ? 1e-5 : 1e-12;
  for (bool unbiased : {true, false}) {
    // Over dims {0, 2}: one value per j.
    std::vector<double> expected(4);
    for (int j = 0; j < 4; ++j) {
      double m = 0;
      for (int i = 0; i < 3; ++i)
        for (int k = 0; k < 5; ++k) m += v[idx(i, j, k)];
      m /= 15;
      double ss = 0;
      for (int i = 0; i < 3; ++i)
        for (int k = 0; k < 5; ++k) ss += (v[idx(i, j, k)] - m) * (v[idx(i, j, k)] - m);
      expected[j] = ss / (unbiased ? 14 : 15);
    }
    this->expect_values(gan::var(x, {0, 2}, unbiased), {4}, expected, tol);
    this->expect_values(gan::var(x, {2, 0}, unbiased, true), {1, 4, 1}, expected, tol);
    // Over everything.
    double m = 0;
    for (double a : v) m += a;
    m /= 60;
    double ss = 0;
    for (double a : v) ss += (a - m) * (a - m);
    this->expect_values(gan::var(x, unbiased), {}, {ss / (unbiased ? 59 : 60)}, tol);
  }
  // Hand-computed: [1, 2, 3, 4] has mean 2.5, squared deviations sum to 5.
  Tensor small = this->make({1, 2, 3, 4}, {4});
  this->expect_values(gan::var(small), {}, {5.0 / 3.0}, 4 * this->kTol);
  this->expect_values(gan::var(small, false), {}, {1.25});
  this->expect_values(gan::var(this->make({1, 2, 3, 5}, {2, 2}), {1}, false), {2}, {0.25, 1});
  // Two-argument forms: a braced dim list is a dim list (not `unbiased`), {} means every dim, unbiased.
  this->expect_values(gan::var(this->make({1, 2, 3, 5}, {2, 2}), {1}), {2}, {0.5, 2});
  this->expect_values(gan::var(this->make({1, 2, 3, 5}, {2, 2}), {0}), {2}, {2, 4.5});
  this->expect_values(gan::var(small, {}), {}, {5.0 / 3.0}, 4 * this->kTol);
  this->expect_values(gan::var(small, true), {}, {5.0 / 3.0}, 4 * this->kTol);
  // Unbiased variance of one element is undefined: an error, not a silent division by zero.
  EXPECT_THROW(gan::var(this->make({1}, {1})), std::invalid_argument);
  this->expect_values(gan::var(this->make({1}, {1}), false), {}, {0});
}

TYPED_TEST(OpsValues, VarIsTranslationInvariant) {
  // A two-pass var keeps precision for data far from zero (a one-pass E[x^2] - E[x]^2 would not).
  Tensor x = this->make({1000, 1001, 1002, 1003}, {4});
  this->expect_values(gan::var(x, false), {}, {1.25}, std::is_same_v<TypeParam, float> ? 1e-5 : 1e-12);
}

TYPED_TEST(OpsValues, MaxAndArgmaxAlongDims) {
  Tensor x = this->make({1, 5, 3, 7, 2, 4, 8, 0, 6}, {3, 3});
  this->expect_values(gan::max(x, 0), {3}, {8, 5, 6});
  expect_indices(gan::argmax(x, 0), {3}, {2, 0, 2});
  this->expect_values(gan::max(x, 1), {3}, {5, 7, 8});
  expect_indices(gan::argmax(x, 1), {3}, {1, 0, 0});
  this->expect_values(gan::max(x, -1, true), {3, 1}, {5, 7, 8});
  expect_indices(gan::argmax(x, -1, true), {3, 1}, {1, 0, 0});
  this->expect_values(gan::max(x), {}, {8});
  // 3-D, middle dim, on a transposed (non-contiguous) input.
  std::vector<double> v(24);
  for (int i = 0; i < 24; ++i) v[i] = (i * 7) % 24;  // a permutation of 0..23
  Tensor y = this->make(v, {2, 3, 4});
  Tensor yt = y.transpose(1, 2);  // [2, 4, 3]: yt[a, b, c] = y[a, c, b]
  std::vector<double> want_v;
  std::vector<int64_t> want_i;
  for (int a = 0; a < 2; ++a)
    for (int c = 0; c < 3; ++c) {
      double best = -1;
      int64_t arg = -1;
      for (int b = 0; b < 4; ++b)
        if (v[(a * 3 + c) * 4 + b] > best) {
          best = v[(a * 3 + c) * 4 + b];
          arg = b;
        }
      want_v.push_back(best);
      want_i.push_back(arg);
    }
  this->expect_values(gan::max(yt, 1), {2, 3}, want_v);
  expect_indices(gan::argmax(yt, 1), {2, 3}, want_i);
  // A 0-dim input.
  this->expect_values(gan::max(this->scalar(3), 0), {}, {3});
  expect_indices(gan::argmax(this->scalar(3), 0), {}, {0});
  EXPECT_THROW(gan::max(gan::zeros({2, 0}, this->kDtype), 1), std::invalid_argument);
}

TYPED_TEST(OpsValues, ArgmaxFirstOccurrenceOnTies) {
  Tensor x = this->make({2, 5, 5, 1, 3, 3, 3, 3}, {2, 4});
  expect_indices(gan::argmax(x, 1), {2}, {1, 0});
  this->expect_values(gan::max(x, 1), {2}, {5, 3});
  Tensor y = this->make({1, 1, 1, 1}, {2, 2});
  expect_indices(gan::argmax(y, 0), {2}, {0, 0});
  // NaN wins, as in PyTorch.
  Tensor z = this->make({1, std::nan(""), 3}, {3});
  expect_indices(gan::argmax(z, 0), {}, {1});
  EXPECT_TRUE(std::isnan(gan::max(z).item()));
  // -inf everywhere still picks the first.
  const double ninf = -std::numeric_limits<double>::infinity();
  expect_indices(gan::argmax(this->make({ninf, ninf}, {2}), 0), {}, {0});
}

TYPED_TEST(OpsValues, SumTo) {
  Tensor g = this->make({1, 2, 3, 4, 5, 6}, {2, 3});
  this->expect_values(gan::sum_to(g, {3}), {3}, {5, 7, 9});
  this->expect_values(gan::sum_to(g, {2, 1}), {2, 1}, {6, 15});
  this->expect_values(gan::sum_to(g, {1, 3}), {1, 3}, {5, 7, 9});
  this->expect_values(gan::sum_to(g, {}), {}, {21});
  EXPECT_TRUE(gan::sum_to(g, {2, 3}).same(g));
  EXPECT_THROW(gan::sum_to(g, {2}), std::invalid_argument);
  EXPECT_THROW(gan::sum_to(g, {4, 2, 3, 1}), std::invalid_argument);
}

TYPED_TEST(OpsValues, GatherAndScatterAlong) {
  Tensor x = this->make({10, 11, 12, 20, 21, 22}, {2, 3});
  Tensor idx = gan::from_vector<int64_t>({2, 0}, {2});
  this->expect_values(gan::gather_along(x, 1, idx), {2}, {12, 20});
  Tensor idx0 = gan::from_vector<int64_t>({1, 0, 1}, {3});
  this->expect_values(gan::gather_along(x, 0, idx0), {3}, {20, 11, 22});
  this->expect_values(gan::scatter_along(this->make({5, 6}, {2}), 1, idx, {2, 3}), {2, 3}, {0, 0, 5, 6, 0, 0});
  this->expect_values(gan::scatter_along(this->make({1, 2, 3}, {3}), 0, idx0, {2, 3}), {2, 3}, {0, 2, 0, 1, 0, 3});
  EXPECT_THROW(gan::gather_along(x, 1, gan::from_vector<int64_t>({3, 0}, {2})), std::out_of_range);
  EXPECT_THROW(gan::gather_along(x, 1, gan::from_vector<int64_t>({0, 0, 0}, {3})), std::invalid_argument);
}

// ---- shape ops ----------------------------------------------------------------------------------------------

TYPED_TEST(OpsValues, ViewOpsValues) {
  Tensor x = this->make({0, 1, 2, 3, 4, 5}, {2, 3});
  this->expect_values(gan::reshape(x, {3, 2}), {3, 2}, {0, 1, 2, 3, 4, 5});
  this->expect_values(gan::view(x, {6}), {6}, {0, 1, 2, 3, 4, 5});
  this->expect_values(gan::flatten(x), {6}, {0, 1, 2, 3, 4, 5});
  this->expect_values(gan::flatten(this->scalar(2)), {1}, {2});
  this->expect_values(gan::narrow(x, 1, 1, 2), {2, 2}, {1, 2, 4, 5});
  this->expect_values(gan::slice(x, 1, 0, 3, 2), {2, 2}, {0, 2, 3, 5});
  this->expect_values(gan::permute(x, {1, 0}), {3, 2}, {0, 3, 1, 4, 2, 5});
  this->expect_values(gan::transpose(x, 0, 1), {3, 2}, {0, 3, 1, 4, 2, 5});
  this->expect_values(gan::unsqueeze(x, 1), {2, 1, 3}, {0, 1, 2, 3, 4, 5});
  this->expect_values(gan::squeeze(gan::unsqueeze(x, 0)), {2, 3}, {0, 1, 2, 3, 4, 5});
  this->expect_values(gan::squeeze(gan::unsqueeze(x, 2), 2), {2, 3}, {0, 1, 2, 3, 4, 5});
  this->expect_values(gan::expand(this->make({1, 2}, {2, 1}), {2, 3}), {2, 3}, {1, 1, 1, 2, 2, 2});
  this->expect_values(gan::expand(this->make({1, 2}, {2}), {2, 2}), {2, 2}, {1, 2, 1, 2});
  this->expect_values(gan::contiguous(x.t()), {3, 2}, {0, 3, 1, 4, 2, 5});
  Tensor c = gan::clone(x);
  EXPECT_NE(c.storage(), x.storage());
  this->expect_values(c, {2, 3}, {0, 1, 2, 3, 4, 5});
  this->expect_values(gan::clone(x.t()), {3, 2}, {0, 3, 1, 4, 2, 5});
  EXPECT_TRUE(gan::clone(x.t()).is_contiguous());
  Tensor other = gan::to_dtype(x, this->kDtype == DType::Float32 ? DType::Float64 : DType::Float32);
  EXPECT_EQ(other.to_vector<double>(), (std::vector<double>{0, 1, 2, 3, 4, 5}));
  this->expect_values(gan::to_dtype(other, this->kDtype), {2, 3}, {0, 1, 2, 3, 4, 5});
}

TYPED_TEST(OpsValues, SliceBackwardPlacesValues) {
  Tensor g = this->make({1, 2, 3, 4}, {2, 2});
  this->expect_values(gan::slice_backward(g, {2, 5}, 1, 1, 2), {2, 5}, {0, 1, 0, 2, 0, 0, 3, 0, 4, 0});
  this->expect_values(gan::slice_backward(g, {3, 2}, 0, 1, 1), {3, 2}, {0, 0, 1, 2, 3, 4});
}

TYPED_TEST(OpsValues, ConcatAlongDims) {
  Tensor a = this->make({1, 2, 3, 4}, {2, 2});
  Tensor b = this->make({5, 6}, {1, 2});
  Tensor c = this->make({7, 8, 9, 10, 11, 12}, {2, 3});
  this->expect_values(gan::concat({a, b}, 0), {3, 2}, {1, 2, 3, 4, 5, 6});
  this->expect_values(gan::concat({a, c}, 1), {2, 5}, {1, 2, 7, 8, 9, 3, 4, 10, 11, 12});
  this->expect_values(gan::concat({a, c, a}, -1), {2, 7}, {1, 2, 7, 8, 9, 1, 2, 3, 4, 10, 11, 12, 3, 4});
  this->expect_values(gan::concat({a}, 0), {2, 2}, {1, 2, 3, 4});
  // Non-contiguous inputs.
  this->expect_values(gan::concat({a.t(), b}, 0), {3, 2}, {1, 3, 2, 4, 5, 6});
  // 3-D along the middle dim.
  Tensor p = this->make({1, 2, 3, 4}, {2, 1, 2});
  Tensor q = this->make({5, 6, 7, 8, 9, 10, 11, 12}, {2, 2, 2});
  this->expect_values(gan::concat({p, q}, 1), {2, 3, 2}, {1, 2, 5, 6, 7, 8, 3, 4, 9, 10, 11, 12});
  // Mismatches name the shapes.
  try {
    gan::concat({a, c}, 0);
    ADD_FAILURE() << "no throw";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("[2, 3]"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("[2, 2]"), std::string::npos) << e.what();
  }
  EXPECT_THROW(gan::concat({}, 0), std::invalid_argument);
  EXPECT_THROW(gan::concat({a, gan::zeros({1, 2}, DType::Int64)}, 0), std::invalid_argument);
}

TYPED_TEST(OpsValues, StackAlongDims) {
  Tensor a = this->make({1, 2, 3}, {3});
  Tensor b = this->make({4, 5, 6}, {3});
  this->expect_values(gan::stack({a, b}, 0), {2, 3}, {1, 2, 3, 4, 5, 6});
  this->expect_values(gan::stack({a, b}, 1), {3, 2}, {1, 4, 2, 5, 3, 6});
  this->expect_values(gan::stack({a, b}, -1), {3, 2}, {1, 4, 2, 5, 3, 6});
  Tensor m = this->make({1, 2, 3, 4}, {2, 2});
  this->expect_values(gan::stack({m, m.t()}, 1), {2, 2, 2}, {1, 2, 1, 3, 3, 4, 2, 4});
  this->expect_values(gan::stack({this->scalar(1), this->scalar(2)}, 0), {2}, {1, 2});
  EXPECT_THROW(gan::stack({a, m}, 0), std::invalid_argument);
}

// ---- matmul -------------------------------------------------------------------------------------------------

// Naive [M, K] x [K, N] on row-major host data.
std::vector<double> naive_mm(const std::vector<double>& a, const std::vector<double>& b, int64_t M, int64_t K,
                             int64_t N) {
  std::vector<double> c(static_cast<size_t>(M * N), 0.0);
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j)
      for (int64_t k = 0; k < K; ++k) c[i * N + j] += a[i * K + k] * b[k * N + j];
  return c;
}

TYPED_TEST(OpsValues, Matmul2DHandComputed) {
  Tensor a = this->make({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor b = this->make({7, 8, 9, 10, 11, 12}, {3, 2});
  this->expect_values(gan::matmul(a, b), {2, 2}, {58, 64, 139, 154});
  this->expect_values(a.matmul(b), {2, 2}, {58, 64, 139, 154});
  this->expect_values(gan::matmul(b, a), {3, 3}, {39, 54, 69, 49, 68, 87, 59, 82, 105});
  // [1, K] x [K, 1] and outer product [M, 1] x [1, N].
  this->expect_values(gan::matmul(this->make({1, 2, 3}, {1, 3}), this->make({4, 5, 6}, {3, 1})), {1, 1}, {32});
  this->expect_values(gan::matmul(this->make({1, 2}, {2, 1}), this->make({3, 4, 5}, {1, 3})), {2, 3},
                      {3, 4, 5, 6, 8, 10});
}

TYPED_TEST(OpsValues, MatmulTransposedAndStridedOperands) {
  gan::Generator g(17);
  const int64_t M = 5, K = 7, N = 4;
  Tensor a = gan::randn({M, K}, this->kDtype, &g);
  Tensor b = gan::randn({K, N}, this->kDtype, &g);
  const std::vector<double> want = naive_mm(a.to_vector<double>(), b.to_vector<double>(), M, K, N);
  const double tol = std::is_same_v<TypeParam, float> ? 1e-5 : 1e-12;
  this->expect_values(gan::matmul(a, b), {M, N}, want, tol);
  // The same matrices stored transposed: a = at^T with at contiguous [K, M], likewise b.
  Tensor at = a.t().contiguous().t();
  Tensor bt = b.t().contiguous().t();
  EXPECT_FALSE(at.is_contiguous());
  EXPECT_FALSE(bt.is_contiguous());
  this->expect_values(gan::matmul(at, b), {M, N}, want, tol);
  this->expect_values(gan::matmul(a, bt), {M, N}, want, tol);
  this->expect_values(gan::matmul(at, bt), {M, N}, want, tol);
  // A row slice with a leading dim larger than K (narrowed columns of a wider matrix).
  Tensor wide = gan::randn({M, K + 3}, this->kDtype, &g);
  Tensor an = wide.narrow(1, 2, K);
  this->expect_values(gan::matmul(an, b), {M, N}, naive_mm(an.to_vector<double>(), b.to_vector<double>(), M, K, N),
                      tol);
  // Stepped slices (inner stride 2) and an expanded operand cannot be handed to GEMM directly: copied, same answer.
  Tensor stepped = gan::slice(gan::randn({M, 2 * K}, this->kDtype, &g), 1, 0, 2 * K, 2);
  this->expect_values(gan::matmul(stepped, b), {M, N},
                      naive_mm(stepped.to_vector<double>(), b.to_vector<double>(), M, K, N), tol);
  Tensor ex = gan::randn({1, K}, this->kDtype, &g).expand({M, K});
  this->expect_values(gan::matmul(ex, b), {M, N}, naive_mm(ex.to_vector<double>(), b.to_vector<double>(), M, K, N),
                      tol);
  Tensor excol = gan::randn({K, 1}, this->kDtype, &g).expand({K, N});
  this->expect_values(gan::matmul(a, excol), {M, N},
                      naive_mm(a.to_vector<double>(), excol.to_vector<double>(), M, K, N), tol);
}

TYPED_TEST(OpsValues, MatmulBatched) {
  gan::Generator g(23);
  const int64_t B = 3, M = 4, K = 5, N = 2;
  Tensor a = gan::randn({B, M, K}, this->kDtype, &g);
  Tensor b = gan::randn({B, K, N}, this->kDtype, &g);
  const std::vector<double> av = a.to_vector<double>(), bv = b.to_vector<double>();
  std::vector<double> want;
  for (int64_t i = 0; i < B; ++i) {
    const std::vector<double> ai(av.begin() + i * M * K, av.begin() + (i + 1) * M * K);
    const std::vector<double> bi(bv.begin() + i * K * N, bv.begin() + (i + 1) * K * N);
    const std::vector<double> ci = naive_mm(ai, bi, M, K, N);
    want.insert(want.end(), ci.begin(), ci.end());
  }
  const double tol = std::is_same_v<TypeParam, float> ? 1e-5 : 1e-12;
  this->expect_values(gan::matmul(a, b), {B, M, N}, want, tol);
  // Transposed within each batch.
  Tensor at = a.transpose(1, 2).contiguous().transpose(1, 2);
  Tensor bt = b.transpose(1, 2).contiguous().transpose(1, 2);
  this->expect_values(gan::matmul(at, bt), {B, M, N}, want, tol);
  // Batch-major permutation: a stored as [M, B, K] and permuted back to [B, M, K].
  Tensor ap = a.permute({1, 0, 2}).contiguous().permute({1, 0, 2});
  this->expect_values(gan::matmul(ap, b), {B, M, N}, want, tol);
  // Expanded batch (stride 0): every batch uses the same matrix.
  Tensor a1 = gan::randn({1, M, K}, this->kDtype, &g);
  Tensor ae = a1.expand({B, M, K});
  std::vector<double> want_e;
  for (int64_t i = 0; i < B; ++i) {
    const std::vector<double> bi(bv.begin() + i * K * N, bv.begin() + (i + 1) * K * N);
    const std::vector<double> ci = naive_mm(a1.to_vector<double>(), bi, M, K, N);
    want_e.insert(want_e.end(), ci.begin(), ci.end());
  }
  this->expect_values(gan::matmul(ae, b), {B, M, N}, want_e, tol);
}

TYPED_TEST(OpsValues, MatmulBatchedTimes2D) {
  gan::Generator g(29);
  const int64_t B = 2, M = 3, K = 4, N = 5;
  Tensor a = gan::randn({B, M, K}, this->kDtype, &g);
  Tensor w = gan::randn({K, N}, this->kDtype, &g);
  const std::vector<double> av = a.to_vector<double>(), wv = w.to_vector<double>();
  std::vector<double> want;
  for (int64_t i = 0; i < B; ++i) {
    const std::vector<double> ai(av.begin() + i * M * K, av.begin() + (i + 1) * M * K);
    const std::vector<double> ci = naive_mm(ai, wv, M, K, N);
    want.insert(want.end(), ci.begin(), ci.end());
  }
  const double tol = std::is_same_v<TypeParam, float> ? 1e-5 : 1e-12;
  this->expect_values(gan::matmul(a, w), {B, M, N}, want, tol);
  this->expect_values(gan::matmul(a, w.t().contiguous().t()), {B, M, N}, want, tol);
  this->expect_values(gan::matmul(a.transpose(1, 2).contiguous().transpose(1, 2), w), {B, M, N}, want, tol);
  // [K, N] x [B, M, K] is not supported: a clear error.
  EXPECT_THROW(gan::matmul(w, a), std::invalid_argument);
}

TYPED_TEST(OpsValues, MatmulEmptyInnerDim) {
  Tensor a = gan::zeros({2, 0}, this->kDtype);
  Tensor b = gan::zeros({0, 3}, this->kDtype);
  // An empty sum is zero; the output must not be left uninitialized.
  this->expect_values(gan::matmul(a, b), {2, 3}, {0, 0, 0, 0, 0, 0});
}

}  // namespace
