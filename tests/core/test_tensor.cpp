// Tensor basics: creation, dtypes, strides, random fills, dtype conversion, views sharing storage, contiguous
// copies, element access, printing, and the error messages users see for common mistakes.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <functional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "engine/autograd.h"
#include "engine/ops.h"
#include "engine/rng.h"
#include "engine/tensor.h"

namespace {

using gan::DType;
using gan::Shape;
using gan::Tensor;

// Runs f, expects it to throw E, and returns the message (empty, with a failure recorded, otherwise).
template <typename E = std::exception>
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

Tensor f32(const std::vector<float>& v, const Shape& s) { return gan::from_vector<float>(v, s); }
Tensor f64(const std::vector<double>& v, const Shape& s) { return gan::from_vector<double>(v, s); }

// ---- creation -----------------------------------------------------------------------------------------------

TEST(TensorCreation, EmptyHasShapeDtypeContiguousStrides) {
  Tensor t = gan::empty({2, 3, 4});
  EXPECT_TRUE(t.defined());
  EXPECT_EQ(t.shape(), (Shape{2, 3, 4}));
  EXPECT_EQ(t.strides(), (Shape{12, 4, 1}));
  EXPECT_EQ(t.dim(), 3);
  EXPECT_EQ(t.numel(), 24);
  EXPECT_EQ(t.size(1), 3);
  EXPECT_EQ(t.size(-1), 4);
  EXPECT_EQ(t.dtype(), DType::Float32);
  EXPECT_TRUE(t.device().is_cpu());
  EXPECT_TRUE(t.is_contiguous());
  EXPECT_EQ(t.offset(), 0);
  EXPECT_TRUE(t.is_leaf());
  EXPECT_FALSE(t.requires_grad());

  Tensor d = gan::empty({5}, DType::Float64);
  EXPECT_EQ(d.dtype(), DType::Float64);
  EXPECT_EQ(d.storage()->nbytes(), 5u * 8u);
}

TEST(TensorCreation, UndefinedTensorThrowsOnMetadata) {
  Tensor t;
  EXPECT_FALSE(t.defined());
  EXPECT_THROW(t.shape(), std::logic_error);
  EXPECT_EQ(t.str(), "tensor(undefined)");
}

TEST(TensorCreation, NegativeDimensionRejected) {
  const std::string msg = error_of<std::invalid_argument>([] { gan::empty({2, -1}); });
  EXPECT_CONTAINS(msg, "[2, -1]");
}

TEST(TensorCreation, ZerosOnesFull) {
  EXPECT_EQ(gan::zeros({2, 2}).to_vector<float>(), (std::vector<float>{0, 0, 0, 0}));
  EXPECT_EQ(gan::ones({3}, DType::Float64).to_vector<double>(), (std::vector<double>{1, 1, 1}));
  Tensor f = gan::full({2, 3}, 2.5);
  EXPECT_EQ(f.shape(), (Shape{2, 3}));
  EXPECT_EQ(f.to_vector<float>(), std::vector<float>(6, 2.5f));
  Tensor like = gan::full_like(gan::empty({4}, DType::Float64), -1.0);
  EXPECT_EQ(like.dtype(), DType::Float64);
  EXPECT_EQ(like.to_vector<double>(), std::vector<double>(4, -1.0));
  EXPECT_EQ(gan::zeros_like(like).to_vector<double>(), std::vector<double>(4, 0.0));
  EXPECT_EQ(gan::ones_like(like).to_vector<double>(), std::vector<double>(4, 1.0));
}

TEST(TensorCreation, Int64FullZerosOnes) {
  // Multi-dim int64 fills go through the strided copy path of fill_.
  EXPECT_EQ(gan::full({2, 3}, 7.0, DType::Int64).to_vector<int64_t>(), std::vector<int64_t>(6, 7));
  EXPECT_EQ(gan::zeros({2, 2, 2}, DType::Int64).to_vector<int64_t>(), std::vector<int64_t>(8, 0));
  EXPECT_EQ(gan::ones({4}, DType::Int64).to_vector<int64_t>(), std::vector<int64_t>(4, 1));
  EXPECT_EQ(gan::full({}, -3.0, DType::Int64).item(), -3.0);
}

TEST(TensorCreation, FillStridedView) {
  Tensor base = gan::zeros({3, 4}, DType::Int64);
  gan::fill_(base.narrow(1, 1, 2), 5.0);
  EXPECT_EQ(base.to_vector<int64_t>(), (std::vector<int64_t>{0, 5, 5, 0, 0, 5, 5, 0, 0, 5, 5, 0}));
  Tensor fbase = gan::zeros({2, 3});
  gan::fill_(fbase.t().narrow(0, 2, 1), 1.5);
  EXPECT_EQ(fbase.to_vector<float>(), (std::vector<float>{0, 0, 1.5f, 0, 0, 1.5f}));
}

TEST(TensorCreation, Arange) {
  Tensor a = gan::arange(5);
  EXPECT_EQ(a.shape(), (Shape{5}));
  EXPECT_EQ(a.dtype(), DType::Float32);
  EXPECT_EQ(a.to_vector<float>(), (std::vector<float>{0, 1, 2, 3, 4}));
  EXPECT_EQ(gan::arange(1, 2, 0.25, DType::Float64).to_vector<double>(), (std::vector<double>{1, 1.25, 1.5, 1.75}));
  EXPECT_EQ(gan::arange(5, 0, -2, DType::Int64).to_vector<int64_t>(), (std::vector<int64_t>{5, 3, 1}));
  EXPECT_EQ(gan::arange(3, 3).numel(), 0);
  EXPECT_EQ(gan::arange(3, 1).numel(), 0);
  EXPECT_THROW(gan::arange(0, 1, 0), std::invalid_argument);
}

TEST(TensorCreation, ScalarTensor) {
  Tensor s = gan::scalar_tensor(3.5, DType::Float64);
  EXPECT_EQ(s.dim(), 0);
  EXPECT_EQ(s.shape(), Shape{});
  EXPECT_EQ(s.numel(), 1);
  EXPECT_EQ(s.item(), 3.5);
  EXPECT_TRUE(s.is_contiguous());
  EXPECT_EQ(s.to_vector<double>(), std::vector<double>{3.5});
}

TEST(TensorCreation, FromVectorAllDtypes) {
  Tensor a = f32({1, 2, 3, 4, 5, 6}, {2, 3});
  EXPECT_EQ(a.dtype(), DType::Float32);
  EXPECT_EQ(a.data<float>()[4], 5.0f);
  Tensor b = f64({0.5, -0.25}, {2});
  EXPECT_EQ(b.dtype(), DType::Float64);
  EXPECT_EQ(b.to_vector<double>(), (std::vector<double>{0.5, -0.25}));
  Tensor c = gan::from_vector<int64_t>({7, 8, 9}, {3, 1});
  EXPECT_EQ(c.dtype(), DType::Int64);
  EXPECT_EQ(c.strides(), (Shape{1, 1}));
  EXPECT_EQ(c.to_vector<int64_t>(), (std::vector<int64_t>{7, 8, 9}));
  // The data pointer must match the dtype.
  EXPECT_CONTAINS(error_of<std::invalid_argument>([&] { a.data<double>(); }), "float64");
  // The number of values must fill the shape.
  const std::string msg = error_of<std::invalid_argument>([] { gan::from_vector<float>({1, 2, 3}, {2, 2}); });
  EXPECT_CONTAINS(msg, "[2, 2]");
  EXPECT_CONTAINS(msg, "3 values");
}

TEST(TensorCreation, CopyingATensorAliases) {
  Tensor a = gan::zeros({3});
  Tensor b = a;
  EXPECT_TRUE(a.same(b));
  gan::fill_(b, 4.0);
  EXPECT_EQ(a.to_vector<float>(), std::vector<float>(3, 4.0f));
  Tensor c = a.clone();
  EXPECT_FALSE(c.storage() == a.storage());
  gan::fill_(c, 1.0);
  EXPECT_EQ(a.to_vector<float>(), std::vector<float>(3, 4.0f));
}

// ---- random -------------------------------------------------------------------------------------------------

TEST(TensorRandom, SameSeedSameValues) {
  gan::Generator g1(1234), g2(1234), g3(999);
  const std::vector<float> a = gan::rand({100}, DType::Float32, &g1).to_vector<float>();
  const std::vector<float> b = gan::rand({100}, DType::Float32, &g2).to_vector<float>();
  const std::vector<float> c = gan::rand({100}, DType::Float32, &g3).to_vector<float>();
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  // The next draw continues the stream: different from the first, equal across equal generators.
  const std::vector<float> a2 = gan::rand({100}, DType::Float32, &g1).to_vector<float>();
  EXPECT_NE(a, a2);
  EXPECT_EQ(a2, gan::rand({100}, DType::Float32, &g2).to_vector<float>());

  gan::Generator n1(7), n2(7);
  EXPECT_EQ(gan::randn({3, 5}, DType::Float64, &n1).to_vector<double>(),
            gan::randn({3, 5}, DType::Float64, &n2).to_vector<double>());
}

TEST(TensorRandom, RestoringStateReplays) {
  gan::Generator g(42);
  const auto state = g.state();
  const std::vector<double> first = gan::randn({17}, DType::Float64, &g).to_vector<double>();
  g.set_state(state);
  EXPECT_EQ(first, gan::randn({17}, DType::Float64, &g).to_vector<double>());
}

TEST(TensorRandom, UniformInRangeWithPlausibleMean) {
  gan::Generator g(5);
  const std::vector<double> v = gan::rand({4000}, DType::Float64, &g, -2.0, 3.0).to_vector<double>();
  double mean = 0.0, lo = 1e9, hi = -1e9;
  for (double x : v) {
    mean += x;
    lo = std::min(lo, x);
    hi = std::max(hi, x);
  }
  mean /= static_cast<double>(v.size());
  EXPECT_GE(lo, -2.0);
  EXPECT_LT(hi, 3.0);
  EXPECT_LT(lo, -1.9);  // covers the range
  EXPECT_GT(hi, 2.9);
  EXPECT_NEAR(mean, 0.5, 0.1);  // sd of the mean = 5/sqrt(12*4000) ~ 0.023

  const std::vector<float> u = gan::rand({1000}, DType::Float32, &g).to_vector<float>();
  for (float x : u) {
    ASSERT_GE(x, 0.0f);
    ASSERT_LT(x, 1.0f);
  }
}

TEST(TensorRandom, NormalMoments) {
  gan::Generator g(11);
  const std::vector<float> v = gan::randn({8000}, DType::Float32, &g, 1.0, 2.0).to_vector<float>();
  double m = 0, m2 = 0;
  for (float x : v) m += x;
  m /= static_cast<double>(v.size());
  for (float x : v) m2 += (x - m) * (x - m);
  m2 /= static_cast<double>(v.size() - 1);
  EXPECT_NEAR(m, 1.0, 0.1);             // sd of the mean ~ 0.022
  EXPECT_NEAR(std::sqrt(m2), 2.0, 0.1);  // sd of the sd ~ 0.016
}

TEST(TensorRandom, IntegerDtypeRejected) {
  gan::Generator g(0);
  EXPECT_CONTAINS(error_of<std::invalid_argument>([&] { gan::rand({2}, DType::Int64, &g); }), "int64");
}

// ---- dtype conversion ---------------------------------------------------------------------------------------

TEST(TensorDtype, ConvertRoundTrip) {
  Tensor a = f32({1.5f, -2.25f, 3.0f}, {3});
  Tensor d = a.to(DType::Float64);
  EXPECT_EQ(d.dtype(), DType::Float64);
  EXPECT_EQ(d.to_vector<double>(), (std::vector<double>{1.5, -2.25, 3.0}));
  Tensor back = d.to(DType::Float32);
  EXPECT_EQ(back.dtype(), DType::Float32);
  EXPECT_EQ(back.to_vector<float>(), (std::vector<float>{1.5f, -2.25f, 3.0f}));
  // Same dtype: no copy.
  EXPECT_TRUE(a.to(DType::Float32).same(a));
}

TEST(TensorDtype, ToInt64TruncatesTowardZeroAndBack) {
  Tensor a = f64({2.7, -2.7, 0.2, 5.0}, {2, 2});
  Tensor i = a.to(DType::Int64);
  EXPECT_EQ(i.dtype(), DType::Int64);
  EXPECT_EQ(i.shape(), (Shape{2, 2}));
  EXPECT_EQ(i.to_vector<int64_t>(), (std::vector<int64_t>{2, -2, 0, 5}));
  Tensor f = i.to(DType::Float32);
  EXPECT_EQ(f.to_vector<float>(), (std::vector<float>{2, -2, 0, 5}));
}

TEST(TensorDtype, ConvertNonContiguous) {
  Tensor a = f32({1, 2, 3, 4, 5, 6}, {2, 3}).t();
  Tensor d = a.to(DType::Float64);
  EXPECT_EQ(d.shape(), (Shape{3, 2}));
  EXPECT_EQ(d.to_vector<double>(), (std::vector<double>{1, 4, 2, 5, 3, 6}));
}

TEST(TensorDtype, ToVectorConverts) {
  Tensor a = f64({1.25, 2.75}, {2});
  EXPECT_EQ(a.to_vector<float>(), (std::vector<float>{1.25f, 2.75f}));
  EXPECT_EQ(a.to_vector<int64_t>(), (std::vector<int64_t>{1, 2}));
}

// ---- views --------------------------------------------------------------------------------------------------

TEST(TensorViews, ReshapeOfContiguousIsAView) {
  Tensor base = gan::arange(6);
  Tensor v = base.reshape({2, 3});
  EXPECT_EQ(v.shape(), (Shape{2, 3}));
  EXPECT_EQ(v.strides(), (Shape{3, 1}));
  EXPECT_EQ(v.storage(), base.storage());
  gan::fill_(v.narrow(0, 1, 1), -1.0);
  EXPECT_EQ(base.to_vector<float>(), (std::vector<float>{0, 1, 2, -1, -1, -1}));
  gan::copy_(v.narrow(1, 0, 1), f32({10, 20}, {2, 1}));
  EXPECT_EQ(base.to_vector<float>(), (std::vector<float>{10, 1, 2, 20, -1, -1}));
  // view() does the same; -1 infers a dim.
  Tensor w = base.view({3, -1});
  EXPECT_EQ(w.shape(), (Shape{3, 2}));
  EXPECT_EQ(w.storage(), base.storage());
  EXPECT_EQ(base.reshape({-1, 1, 2}).shape(), (Shape{3, 1, 2}));
  EXPECT_EQ(base.flatten().shape(), (Shape{6}));
  EXPECT_EQ(gan::zeros({2, 3, 4, 5}).flatten(1, 2).shape(), (Shape{2, 12, 5}));
}

TEST(TensorViews, NarrowAndSliceWithStep) {
  Tensor base = gan::arange(20, DType::Float64).reshape({4, 5});
  Tensor n = base.narrow(1, 1, 3);
  EXPECT_EQ(n.shape(), (Shape{4, 3}));
  EXPECT_EQ(n.strides(), (Shape{5, 1}));
  EXPECT_EQ(n.offset(), 1);
  EXPECT_FALSE(n.is_contiguous());
  EXPECT_EQ(n.to_vector<double>(), (std::vector<double>{1, 2, 3, 6, 7, 8, 11, 12, 13, 16, 17, 18}));
  EXPECT_EQ(base.narrow(0, -1, 1).to_vector<double>(), (std::vector<double>{15, 16, 17, 18, 19}));

  Tensor s = gan::slice(base, 1, 0, 5, 2);
  EXPECT_EQ(s.shape(), (Shape{4, 3}));
  EXPECT_EQ(s.strides(), (Shape{5, 2}));
  EXPECT_EQ(s.to_vector<double>(), (std::vector<double>{0, 2, 4, 5, 7, 9, 10, 12, 14, 15, 17, 19}));
  Tensor s2 = gan::slice(base, 0, 1, 100, 2);  // end clamped
  EXPECT_EQ(s2.shape(), (Shape{2, 5}));
  EXPECT_EQ(s2.offset(), 5);
  EXPECT_EQ(s2.to_vector<double>(), (std::vector<double>{5, 6, 7, 8, 9, 15, 16, 17, 18, 19}));
  EXPECT_EQ(gan::slice(base, 1, -2, 5).to_vector<double>(), (std::vector<double>{3, 4, 8, 9, 13, 14, 18, 19}));
  EXPECT_EQ(gan::slice(base, 1, 3, 1).shape(), (Shape{4, 0}));
  EXPECT_THROW(gan::slice(base, 1, 0, 5, 0), std::invalid_argument);

  // Writing through a stepped slice writes the right elements of the base.
  gan::fill_(gan::slice(s, 0, 1, 4, 2), 0.5);  // rows 1 and 3 of s, every other column
  const std::vector<double> v = base.to_vector<double>();
  EXPECT_EQ(v[5], 0.5);
  EXPECT_EQ(v[6], 6);
  EXPECT_EQ(v[7], 0.5);
  EXPECT_EQ(v[9], 0.5);
  EXPECT_EQ(v[15], 0.5);
  EXPECT_EQ(v[19], 0.5);
  EXPECT_EQ(v[10], 10);
}

TEST(TensorViews, PermuteAndTransposeStrides) {
  Tensor x = gan::arange(24).reshape({2, 3, 4});
  Tensor p = x.permute({2, 0, 1});
  EXPECT_EQ(p.shape(), (Shape{4, 2, 3}));
  EXPECT_EQ(p.strides(), (Shape{1, 12, 4}));
  EXPECT_EQ(p.storage(), x.storage());
  EXPECT_FALSE(p.is_contiguous());
  // p[i, j, k] = x[j, k, i] = 12 j + 4 k + i
  const std::vector<float> pv = p.to_vector<float>();
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 2; ++j)
      for (int k = 0; k < 3; ++k) EXPECT_EQ(pv[i * 6 + j * 3 + k], 12 * j + 4 * k + i);
  Tensor t = x.transpose(0, -1);
  EXPECT_EQ(t.shape(), (Shape{4, 3, 2}));
  EXPECT_EQ(t.strides(), (Shape{1, 4, 12}));
  Tensor m = gan::arange(6).reshape({2, 3}).t();
  EXPECT_EQ(m.shape(), (Shape{3, 2}));
  EXPECT_EQ(m.strides(), (Shape{1, 3}));
  EXPECT_THROW(x.t(), std::invalid_argument);
  EXPECT_THROW(x.permute({0, 0, 1}), std::invalid_argument);
  EXPECT_THROW(x.permute({0, 1}), std::invalid_argument);
}

TEST(TensorViews, UnsqueezeAndSqueeze) {
  Tensor x = gan::arange(6).reshape({2, 3});
  Tensor u0 = x.unsqueeze(0);
  EXPECT_EQ(u0.shape(), (Shape{1, 2, 3}));
  EXPECT_EQ(u0.storage(), x.storage());
  Tensor u1 = x.unsqueeze(1);
  EXPECT_EQ(u1.shape(), (Shape{2, 1, 3}));
  EXPECT_TRUE(u1.is_contiguous());
  Tensor ue = x.unsqueeze(-1);
  EXPECT_EQ(ue.shape(), (Shape{2, 3, 1}));
  EXPECT_EQ(ue.to_vector<float>(), x.to_vector<float>());
  Tensor y = gan::zeros({1, 3, 1, 2});
  EXPECT_EQ(y.squeeze().shape(), (Shape{3, 2}));
  EXPECT_EQ(y.squeeze(2).shape(), (Shape{1, 3, 2}));
  EXPECT_EQ(y.squeeze(-4).shape(), (Shape{3, 1, 2}));
  EXPECT_EQ(y.squeeze(1).shape(), (Shape{1, 3, 1, 2}));  // not size 1: unchanged
  EXPECT_EQ(gan::scalar_tensor(2).unsqueeze(0).shape(), (Shape{1}));
}

TEST(TensorViews, ExpandUsesStrideZero) {
  Tensor x = f32({1, 2, 3}, {3, 1});
  Tensor e = x.expand({2, 3, 4});
  EXPECT_EQ(e.shape(), (Shape{2, 3, 4}));
  EXPECT_EQ(e.strides(), (Shape{0, 1, 0}));
  EXPECT_EQ(e.storage(), x.storage());
  const std::vector<float> v = e.to_vector<float>();
  for (int b = 0; b < 2; ++b)
    for (int i = 0; i < 3; ++i)
      for (int j = 0; j < 4; ++j) EXPECT_EQ(v[b * 12 + i * 4 + j], static_cast<float>(i + 1));
  EXPECT_EQ(x.expand({-1, 2}).shape(), (Shape{3, 2}));
  // Writes to the base show through every broadcast copy.
  gan::fill_(x.narrow(0, 0, 1), 9.0);
  EXPECT_EQ(e.to_vector<float>()[23 - 11], 9.0f);  // [1, 0, 0]
  const std::string msg = error_of<std::invalid_argument>([&] { x.expand({4, 2}); });
  EXPECT_CONTAINS(msg, "[3, 1]");
  EXPECT_CONTAINS(msg, "[4, 2]");
  // Negative sizes other than -1 ("keep") are rejected, also for size-1 dims and new leading dims.
  EXPECT_CONTAINS(error_of<std::invalid_argument>([&] { x.expand({3, -2}); }), "[3, -2]");
  EXPECT_THROW(x.expand({-1, 3, 1}), std::invalid_argument);
  // Expanding a size-1 dim to 0 is allowed (an empty broadcast).
  EXPECT_EQ(x.expand({3, 0}).numel(), 0);
}

TEST(TensorViews, ContiguousOfTransposed) {
  Tensor x = gan::arange(6, DType::Float64).reshape({2, 3});
  Tensor t = x.t();
  EXPECT_FALSE(t.is_contiguous());
  Tensor c = t.contiguous();
  EXPECT_TRUE(c.is_contiguous());
  EXPECT_EQ(c.strides(), (Shape{2, 1}));
  EXPECT_NE(c.storage(), x.storage());
  EXPECT_EQ(std::vector<double>(c.data<double>(), c.data<double>() + 6), (std::vector<double>{0, 3, 1, 4, 2, 5}));
  // Already contiguous: the same tensor back.
  EXPECT_TRUE(x.contiguous().same(x));
}

TEST(TensorViews, ReshapeOfNonContiguousCopies) {
  Tensor x = gan::arange(6).reshape({2, 3});
  Tensor r = x.t().reshape({6});
  EXPECT_NE(r.storage(), x.storage());
  EXPECT_EQ(r.to_vector<float>(), (std::vector<float>{0, 3, 1, 4, 2, 5}));
  Tensor r2 = gan::slice(gan::arange(12).reshape({3, 4}), 1, 0, 4, 2).reshape({2, 3});
  EXPECT_EQ(r2.to_vector<float>(), (std::vector<float>{0, 2, 4, 6, 8, 10}));
  // view() refuses, naming the shape.
  const std::string msg = error_of<std::invalid_argument>([&] { x.t().view({6}); });
  EXPECT_CONTAINS(msg, "view");
  EXPECT_CONTAINS(msg, "[3, 2]");
}

TEST(TensorViews, CopyIntoStridedViewConvertsDtype) {
  Tensor dst = gan::zeros({2, 3}, DType::Float64);
  gan::copy_(dst.t(), gan::from_vector<int64_t>({1, 2, 3, 4, 5, 6}, {3, 2}));
  EXPECT_EQ(dst.to_vector<double>(), (std::vector<double>{1, 3, 5, 2, 4, 6}));
  const std::string msg = error_of<std::invalid_argument>([&] { gan::copy_(dst, gan::zeros({3, 2})); });
  EXPECT_CONTAINS(msg, "[3, 2]");
  EXPECT_CONTAINS(msg, "[2, 3]");
}

// ---- element access -----------------------------------------------------------------------------------------

TEST(TensorAccess, ItemAndToVector) {
  EXPECT_EQ(gan::full({1, 1}, 4.5).item(), 4.5);
  EXPECT_EQ(gan::from_vector<int64_t>({-9}, {1}).item(), -9.0);
  Tensor x = gan::arange(12, DType::Float64).reshape({3, 4});
  EXPECT_EQ(x.narrow(0, 2, 1).narrow(1, 3, 1).item(), 11.0);  // offset respected
  EXPECT_EQ(gan::slice(x, 1, 1, 4, 2).to_vector<double>(), (std::vector<double>{1, 3, 5, 7, 9, 11}));
  EXPECT_TRUE(gan::zeros({0, 3}).to_vector<float>().empty());
}

TEST(TensorAccess, ItemOnManyElementsThrows) {
  const std::string msg = error_of<std::invalid_argument>([] { gan::zeros({2, 3}).item(); });
  EXPECT_CONTAINS(msg, "item");
  EXPECT_CONTAINS(msg, "[2, 3]");
  EXPECT_CONTAINS(msg, "6 elements");
}

// ---- printing -----------------------------------------------------------------------------------------------

TEST(TensorPrint, ValuesAndDtype) {
  const std::string s = f32({1, 2.5f, -3, 0}, {2, 2}).str();
  EXPECT_CONTAINS(s, "tensor(");
  EXPECT_CONTAINS(s, "1.0000");
  EXPECT_CONTAINS(s, "2.5000");
  EXPECT_CONTAINS(s, "-3.0000");
  EXPECT_CONTAINS(s, "dtype=float32");
  EXPECT_EQ(s.find("grad_fn"), std::string::npos);
  EXPECT_EQ(gan::scalar_tensor(2, DType::Float64).str(), "tensor(2.0000, dtype=float64)");
  EXPECT_EQ(gan::arange(3, DType::Int64).str(), "tensor([0, 1, 2], dtype=int64)");
  EXPECT_EQ(f32({1, 2}, {2}).str(), "tensor([1.0000, 2.0000], dtype=float32)");
  std::ostringstream os;
  os << gan::ones({1});
  EXPECT_EQ(os.str(), "tensor([1.0000], dtype=float32)");
}

TEST(TensorPrint, NestedRowsInRowMajorOrder) {
  const std::string s = gan::arange(6).reshape({2, 3}).t().str();  // [[0, 3], [1, 4], [2, 5]]
  const size_t p0 = s.find("0.0000"), p3 = s.find("3.0000"), p1 = s.find("1.0000"), p5 = s.find("5.0000");
  ASSERT_NE(p5, std::string::npos);
  EXPECT_LT(p0, p3);
  EXPECT_LT(p3, p1);
  EXPECT_LT(p1, p5);
  EXPECT_EQ(s.substr(0, 9), "tensor([[");
}

TEST(TensorPrint, ScientificForWideRange) {
  const std::string s = f64({1e-6, 1.0}, {2}).str();
  EXPECT_CONTAINS(s, "e-06");
}

TEST(TensorPrint, AutogradInfo) {
  Tensor x = gan::ones({2});
  x.requires_grad_();
  EXPECT_CONTAINS(x.str(), "requires_grad=true");
  Tensor y = gan::mul(x, 2.0);
  EXPECT_CONTAINS(y.str(), "grad_fn=<mul_scalar>");
  EXPECT_CONTAINS(y.str(), "2.0000");
  EXPECT_CONTAINS(gan::add(x, x).str(), "grad_fn=<add>");
}

TEST(TensorPrint, SummarizesLargeTensors) {
  const std::string s = gan::arange(2000).str();
  EXPECT_CONTAINS(s, "...");
  EXPECT_CONTAINS(s, "0.0000, 1.0000, 2.0000, ...");
  EXPECT_CONTAINS(s, "1997.0000, 1998.0000, 1999.0000]");
  EXPECT_EQ(s.find("1000.0000"), std::string::npos);
  EXPECT_LT(s.size(), 200u);
  const std::string m = gan::arange(2000).reshape({40, 50}).str();
  EXPECT_CONTAINS(m, "...");
  EXPECT_LT(m.size(), 2000u);
  // Small tensors are printed whole.
  EXPECT_EQ(gan::arange(10).str().find("..."), std::string::npos);
}

// ---- error messages -----------------------------------------------------------------------------------------

TEST(TensorErrors, BroadcastMismatchNamesOpAndShapes) {
  const std::string msg = error_of<std::invalid_argument>([] { gan::add(gan::zeros({2, 3}), gan::zeros({4})); });
  EXPECT_CONTAINS(msg, "add");
  EXPECT_CONTAINS(msg, "[2, 3]");
  EXPECT_CONTAINS(msg, "[4]");
  const std::string m2 = error_of<std::invalid_argument>([] { gan::mul(gan::zeros({5, 2}), gan::zeros({3, 1})); });
  EXPECT_CONTAINS(m2, "mul");
  EXPECT_CONTAINS(m2, "[5, 2]");
  EXPECT_CONTAINS(m2, "[3, 1]");
}

TEST(TensorErrors, DtypeMismatchNamesBothDtypes) {
  const std::string msg = error_of<std::invalid_argument>(
      [] { gan::add(gan::zeros({2}), gan::zeros({2}, DType::Float64)); });
  EXPECT_CONTAINS(msg, "add");
  EXPECT_CONTAINS(msg, "float32");
  EXPECT_CONTAINS(msg, "float64");
  const std::string m2 = error_of<std::invalid_argument>(
      [] { gan::matmul(gan::zeros({2, 2}, DType::Float64), gan::zeros({2, 2})); });
  EXPECT_CONTAINS(m2, "float32");
  EXPECT_CONTAINS(m2, "float64");
  // Integer tensors are not accepted by floating ops.
  EXPECT_CONTAINS(error_of<std::invalid_argument>([] { gan::exp(gan::zeros({2}, DType::Int64)); }), "int64");
}

TEST(TensorErrors, WrapDimOutOfRangeNamesOpAndShape) {
  const std::string msg = error_of<std::out_of_range>([] { gan::sum(gan::zeros({2, 3}), {2}); });
  EXPECT_CONTAINS(msg, "sum");
  EXPECT_CONTAINS(msg, "[2, 3]");
  EXPECT_CONTAINS(msg, "dim 2");
  const std::string m2 = error_of<std::out_of_range>([] { gan::zeros({4}).transpose(0, -3); });
  EXPECT_CONTAINS(m2, "transpose");
  EXPECT_CONTAINS(m2, "[4]");
  EXPECT_CONTAINS(error_of<std::out_of_range>([] { gan::zeros({2, 2}).size(5); }), "size");
  EXPECT_CONTAINS(error_of<std::out_of_range>([] { gan::zeros({2, 2}).unsqueeze(4); }), "unsqueeze");
  EXPECT_CONTAINS(error_of<std::out_of_range>([] { gan::max(gan::zeros({2, 2}), -3); }), "max");
}

TEST(TensorErrors, MatmulInnerSizeMismatchNamesShapes) {
  const std::string msg = error_of<std::invalid_argument>([] { gan::matmul(gan::zeros({2, 3}), gan::zeros({4, 5})); });
  EXPECT_CONTAINS(msg, "matmul");
  EXPECT_CONTAINS(msg, "[2, 3]");
  EXPECT_CONTAINS(msg, "[4, 5]");
  const std::string m2 =
      error_of<std::invalid_argument>([] { gan::matmul(gan::zeros({2, 2, 3}), gan::zeros({3, 3, 1})); });
  EXPECT_CONTAINS(m2, "[2, 2, 3]");
  EXPECT_CONTAINS(m2, "[3, 3, 1]");
  EXPECT_CONTAINS(error_of<std::invalid_argument>([] { gan::matmul(gan::zeros({3}), gan::zeros({3, 1})); }),
                  "[3]");
}

TEST(TensorErrors, ReshapeWithBadSize) {
  const std::string msg = error_of<std::invalid_argument>([] { gan::zeros({2, 3}).reshape({4, 2}); });
  EXPECT_CONTAINS(msg, "reshape");
  EXPECT_CONTAINS(msg, "[4, 2]");
  EXPECT_CONTAINS(msg, "[2, 3]");
  EXPECT_CONTAINS(error_of<std::invalid_argument>([] { gan::zeros({2, 3}).reshape({4, -1}); }), "[4, -1]");
  EXPECT_CONTAINS(error_of<std::invalid_argument>([] { gan::zeros({2, 3}).reshape({-1, -1}); }), "-1");
}

TEST(TensorErrors, NarrowOutOfBounds) {
  const std::string msg = error_of<std::out_of_range>([] { gan::zeros({2, 5}).narrow(1, 3, 3); });
  EXPECT_CONTAINS(msg, "narrow");
  EXPECT_CONTAINS(msg, "[3, 6)");
  EXPECT_CONTAINS(msg, "[2, 5]");
  EXPECT_THROW(gan::zeros({2, 5}).narrow(0, -3, 1), std::out_of_range);
  EXPECT_THROW(gan::zeros({2, 5}).narrow(0, 0, -1), std::out_of_range);
  EXPECT_THROW(gan::zeros({2, 5}).narrow(2, 0, 1), std::out_of_range);
}

TEST(TensorErrors, RequiresGradOnIntegerTensor) {
  Tensor i = gan::zeros({2}, DType::Int64);
  EXPECT_CONTAINS(error_of<std::invalid_argument>([&] { i.requires_grad_(); }), "int64");
}

}  // namespace
